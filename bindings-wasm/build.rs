//! Embeds the fixture workspaces for the wasm conformance tests (`tests/conformance.rs`
//! includes `$OUT_DIR/fixtures.rs`; the library itself never does, so nothing of this
//! reaches the package).
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            walk(root, &p, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            let rel = rel.to_string_lossy().replace('\\', "/");
            out.push((rel, p));
        }
    }
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let tests = manifest.join("../tests");
    let mut code = String::from(
        "/// One file: (path, bytes).\npub type File = (&'static str, &'static [u8]);\n/// (fixture name, files), every fixture of tests/.\npub const FIXTURES: &[(&str, &[File])] = &[\n",
    );
    for group in ["fixtures", "fixtures-edge"] {
        let dir = tests.join(group);
        println!("cargo:rerun-if-changed={}", dir.display());
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        let mut names: Vec<_> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .collect();
        names.sort_by_key(|e| e.path());
        for ws in names {
            let mut files = Vec::new();
            walk(&ws.path(), &ws.path(), &mut files);
            let _ = writeln!(code, "    ({:?}, &[", ws.file_name().to_string_lossy());
            for (rel, abs) in files {
                let _ = writeln!(
                    code,
                    "        ({rel:?}, include_bytes!({:?})),",
                    abs.display().to_string()
                );
            }
            code.push_str("    ]),\n");
        }
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_default()).join("fixtures.rs");
    if fs::read_to_string(&out).ok().as_deref() != Some(code.as_str()) {
        fs::write(&out, code).expect("writing OUT_DIR/fixtures.rs");
    }
}
