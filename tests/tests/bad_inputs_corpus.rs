//! The bad-input corpus, `tests/bad-inputs/`: one file per case, the expected error
//! code of each in `tests/bad-inputs/expected.txt` (see its README). Every case goes
//! through the real `sila-store` binary, under a memory cap (`ulimit -v`), as
//! `verify --json` (the expected code must be among the errors) and as `convert
//! --json` to the other formats (the error must be the expected code, the destination
//! must not exist afterwards, nothing may be left beside it, and the source must not
//! change). Cases expected `ok` are hostile but valid: they must verify and convert
//! losslessly, within the same memory cap.
//!
//! The archive cases were written by `write_bad_inputs` (ignored; it documents how each
//! was made and rewrites them with `--ignored`). Big cases (the ZIP bombs, the 100 MB
//! ops line) are small recipes (`*.recipe.json`) built at test time.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sila_store_core::archive::zip::{Manifest, ManifestFile, MANIFEST_NAME};
use sila_store_core::ids::Sha256Hex;
use sila_store_tests::{
    sha256_listing, sila_store_bin, tiny_sqlite, tiny_workspace, tiny_zip, TempDir,
};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

/// Memory cap of every `sila-store` run (virtual memory, KiB): 512 MiB, room for a
/// reader that holds a 100 MB ops file a few times over, and half of what any of the
/// bombs (1 GiB) would take if it were inflated whole.
const MEMORY_CAP_KIB: u64 = 512 << 10;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bad-inputs")
}

/// One line of `expected.txt`: the case file, the code `verify` must report and the
/// code `convert` must fail with (`ok`: a hostile but valid input).
struct Case {
    file: String,
    verify: String,
    convert: String,
}

fn cases() -> Vec<Case> {
    let text = fs::read_to_string(corpus_dir().join("expected.txt")).expect("expected.txt");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let file = parts.next().expect("file").to_string();
            let verify = parts.next().expect("code").to_string();
            let convert = parts.next().unwrap_or(&verify).to_string();
            Case {
                file,
                verify,
                convert,
            }
        })
        .collect()
}

/// Runs `sila-store ARGS --json` under the memory cap; returns the exit status's
/// success and the JSON it printed.
fn cli(args: &[&Path], words: &[&str]) -> (bool, serde_json::Value) {
    let bin = sila_store_bin();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {MEMORY_CAP_KIB} && exec \"$0\" \"$@\""))
        .arg(&bin);
    cmd.arg(words[0]);
    for a in args {
        cmd.arg(a);
    }
    cmd.args(&words[1..]).arg("--json");
    let out = cmd.output().expect("run sila-store");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "sila-store {words:?} {args:?} printed no JSON (killed by the memory cap?)\nstatus: {}\nstdout: {stdout}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), json)
}

/// Every path under `p` with its bytes' hash (or its link target), links not followed.
fn snapshot_nofollow(p: &Path) -> BTreeMap<Vec<u8>, String> {
    fn walk(p: &Path, rel: Vec<u8>, out: &mut BTreeMap<Vec<u8>, String>) {
        let m = fs::symlink_metadata(p).expect("metadata");
        if m.file_type().is_symlink() {
            let target = fs::read_link(p).expect("read_link");
            out.insert(rel, format!("-> {}", target.display()));
        } else if m.is_dir() {
            for e in fs::read_dir(p).expect("read_dir") {
                let e = e.expect("entry");
                let mut r = rel.clone();
                r.push(b'/');
                r.extend_from_slice(e.file_name().as_encoded_bytes());
                walk(&e.path(), r, out);
            }
            out.insert(rel, "dir".into());
        } else {
            let bytes = fs::read(p).expect("read");
            out.insert(rel, Sha256Hex::of(&bytes).as_str().to_string());
        }
    }
    let mut out = BTreeMap::new();
    walk(p, Vec::new(), &mut out);
    out
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Where a case is materialised: the file itself, or what its recipe builds.
fn materialise(case: &Case, t: &TempDir) -> PathBuf {
    let src = corpus_dir().join(&case.file);
    match case.file.strip_suffix(".recipe.json") {
        None => {
            let to = t.join(&case.file);
            fs::copy(&src, &to).expect("copy case");
            to
        }
        Some(name) => {
            let recipe: serde_json::Value =
                serde_json::from_slice(&fs::read(&src).expect("read recipe")).expect("recipe JSON");
            let to = t.join(name);
            build_recipe(&recipe, &to);
            to
        }
    }
}

fn format_of(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()) {
        Some("zip") => "zip",
        Some("db") => "sqlite",
        _ => "plain",
    }
}

#[test]
fn every_bad_input_gets_its_error_and_leaves_nothing_behind() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    // Every file of the folder is a case, and every case a file.
    let listed: Vec<&str> = cases.iter().map(|c| c.file.as_str()).collect();
    for name in names_in(&corpus_dir()) {
        if name != "expected.txt" && name != "README.md" {
            assert!(
                listed.contains(&name.as_str()),
                "{name} is not in expected.txt"
            );
        }
    }
    let mut failures = Vec::new();
    for case in &cases {
        eprintln!("case {} ({} / {})", case.file, case.verify, case.convert);
        if let Err(e) = run_case(case) {
            eprintln!("  FAILED: {e}");
            failures.push(format!("{}: {e}", case.file));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn run_case(case: &Case) -> Result<(), String> {
    let t = TempDir::new();
    let src = materialise(case, &t);
    let before = snapshot_nofollow(&src);
    let (ok, report) = cli(&[&src], &["verify"]);
    let codes: Vec<&str> = report["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["code"].as_str()).collect())
        .unwrap_or_default();
    if case.verify == "ok" {
        if !ok || !codes.is_empty() {
            return Err(format!("verify failed: {report}"));
        }
    } else if ok || !codes.contains(&case.verify.as_str()) {
        return Err(format!("verify gave {codes:?}, not {}", case.verify));
    }
    let out = t.join("out");
    fs::create_dir(&out).expect("mkdir");
    let dsts: Vec<PathBuf> = ["plain", "sqlite", "zip"]
        .into_iter()
        .filter(|f| *f != format_of(&src))
        .map(|f| match f {
            "plain" => out.join("dst"),
            "sqlite" => out.join("dst.db"),
            _ => out.join("dst.zip"),
        })
        .collect();
    for dst in &dsts {
        let (ok, result) = cli(&[&src, dst], &["convert"]);
        if case.convert == "ok" {
            if !ok {
                return Err(format!("convert to {} failed: {result}", dst.display()));
            }
            let (ok, r) = cli(&[dst], &["verify"]);
            if !ok {
                return Err(format!("{} does not verify: {r}", dst.display()));
            }
            // Lossless: back to a folder, the same bytes as the source.
            if src.is_dir() {
                let back = t.join("back");
                let (ok, r) = cli(&[dst, &back], &["convert"]);
                if !ok {
                    return Err(format!("convert back failed: {r}"));
                }
                if sha256_listing(&back) != sha256_listing(&src) {
                    return Err(format!("{} did not come back byte for byte", dst.display()));
                }
                fs::remove_dir_all(&back).expect("rm");
            }
            continue;
        }
        let code = result["error"]["code"].as_str().unwrap_or("(none)");
        if ok || code != case.convert {
            return Err(format!(
                "convert to {} gave {code}: {result}",
                dst.display()
            ));
        }
        if dst.exists() {
            return Err(format!("{} exists after a failed convert", dst.display()));
        }
        let left = names_in(&out);
        if !left.is_empty() {
            return Err(format!("left behind after a failed convert: {left:?}"));
        }
    }
    if snapshot_nofollow(&src) != before {
        return Err("the source changed".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Recipes: cases too big to keep as files, built at test time.

fn build_recipe(r: &serde_json::Value, to: &Path) {
    let num = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("recipe needs {k}"));
    match r["build"].as_str().expect("recipe needs build") {
        "plain" => build_plain(r, to),
        "zip-bomb" => fs::write(to, zip_bomb(num("inflated"), num("declared"))).expect("write"),
        "zip-manifest-bomb" => fs::write(to, zip_manifest_bomb(num("inflated"))).expect("write"),
        "sqlite-chunk-bomb" => fs::write(to, sqlite_chunk_bomb(num("inflated"))).expect("write"),
        other => panic!("unknown recipe {other}"),
    }
}

/// A folder: the tiny workspace (unless `"base": "none"`), then `files` (text),
/// `hex_files` (bytes), `big_files` (path → parts, each `text` or `hex` repeated
/// `times`), `dirs` (empty folders), `symlinks` (path → target) and `raw_names` (a
/// file whose name is the given bytes, in hex, under `dir`).
fn build_plain(r: &serde_json::Value, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    if r["base"].as_str() != Some("none") {
        for (p, b) in &tiny_workspace().files {
            write_at(to, p, b);
        }
    }
    let obj = |k: &str| r[k].as_object().cloned().unwrap_or_default();
    for (p, v) in obj("files") {
        write_at(to, &p, v.as_str().expect("text").as_bytes());
    }
    for (p, v) in obj("hex_files") {
        write_at(to, &p, &unhex(v.as_str().expect("hex")));
    }
    for (p, v) in obj("big_files") {
        let mut b = Vec::new();
        for part in v.as_array().expect("parts") {
            let unit = match (part["text"].as_str(), part["hex"].as_str()) {
                (Some(t), _) => t.as_bytes().to_vec(),
                (None, Some(h)) => unhex(h),
                _ => panic!("a part needs text or hex"),
            };
            for _ in 0..part["times"].as_u64().unwrap_or(1) {
                b.extend_from_slice(&unit);
            }
        }
        write_at(to, &p, &b);
    }
    for d in r["dirs"].as_array().cloned().unwrap_or_default() {
        fs::create_dir_all(to.join(d.as_str().expect("dir"))).expect("mkdir");
    }
    for (p, target) in obj("symlinks") {
        let at = to.join(&p);
        fs::create_dir_all(at.parent().expect("parent")).expect("mkdir");
        #[cfg(unix)]
        std::os::unix::fs::symlink(target.as_str().expect("target"), &at).expect("symlink");
    }
    for v in r["raw_names"].as_array().cloned().unwrap_or_default() {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let dir = to.join(v["dir"].as_str().expect("dir"));
            fs::create_dir_all(&dir).expect("mkdir");
            let name = unhex(v["name_hex"].as_str().expect("name_hex"));
            fs::write(dir.join(std::ffi::OsStr::from_bytes(&name)), b"x").expect("write");
        }
    }
}

fn write_at(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, bytes).expect("write");
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Writes `n` zero bytes into the ZIP entry being written, 1 MiB at a time.
fn write_zeros(w: &mut zip::ZipWriter<Cursor<Vec<u8>>>, n: u64) {
    let zeros = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(zeros.len() as u64) as usize;
        w.write_all(&zeros[..k]).expect("write");
        left -= k as u64;
    }
}

/// `inflated` zero bytes deflated as `sila.md`, with the local header, the central
/// directory and the manifest all declaring `declared` bytes.
fn zip_bomb(inflated: u64, declared: u64) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(false);
    w.start_file("sila.md", opts).expect("start");
    write_zeros(&mut w, inflated);
    let declared_bytes = vec![0u8; declared as usize];
    let manifest = manifest_json(&[("sila.md".into(), declared_bytes.clone())], 1);
    w.start_file(MANIFEST_NAME, SimpleFileOptions::default())
        .expect("start");
    w.write_all(&manifest).expect("write");
    let mut z = w.finish().expect("finish").into_inner();
    let real = u32::try_from(inflated)
        .expect("fits in a ZIP32 header")
        .to_le_bytes();
    let fake = u32::try_from(declared).expect("small").to_le_bytes();
    // The entry's uncompressed size: local header at 22, central directory header at 24.
    assert_eq!(z[22..26], real);
    z[22..26].copy_from_slice(&fake);
    let cd = find(&z, b"PK\x01\x02").expect("central directory");
    assert_eq!(z[cd + 24..cd + 28], real);
    z[cd + 24..cd + 28].copy_from_slice(&fake);
    z
}

/// A ZIP whose only entry is a manifest of `inflated` spaces (valid JSON whitespace),
/// deflated: the reader must stop at its size limit.
fn zip_manifest_bomb(inflated: u64) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file(MANIFEST_NAME, SimpleFileOptions::default().large_file(true))
        .expect("start");
    let spaces = vec![b' '; 1 << 20];
    let mut left = inflated;
    while left > 0 {
        let n = left.min(spaces.len() as u64) as usize;
        w.write_all(&spaces[..n]).expect("write");
        left -= n as u64;
    }
    w.finish().expect("finish").into_inner()
}

/// The tiny SQLite archive with `sila.md`'s one chunk replaced by a deflated run of
/// `inflated` zero bytes (its size in `raw_files` unchanged).
fn sqlite_chunk_bomb(inflated: u64) -> Vec<u8> {
    let t = TempDir::new();
    let p = t.join("bomb.db");
    fs::write(&p, tiny_sqlite()).expect("write");
    let data = deflated_zeros(inflated);
    let c = rusqlite::Connection::open(&p).expect("open");
    let n = c
        .execute(
            "UPDATE file_chunks SET deflated = 1, data = ?1 WHERE path = 'sila.md' AND seq = 0",
            [data],
        )
        .expect("update");
    assert_eq!(n, 1);
    drop(c);
    fs::read(&p).expect("read")
}

/// `n` zero bytes, raw-deflated (the compressed data of a deflated ZIP entry).
fn deflated_zeros(n: u64) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(true);
    w.start_file("zeros", opts).expect("start");
    write_zeros(&mut w, n);
    let z = w.finish().expect("finish").into_inner();
    let mut a = zip::ZipArchive::new(Cursor::new(z)).expect("open");
    let mut f = a.by_index_raw(0).expect("entry");
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut out).expect("read");
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------
// The generator of the archive cases.

fn manifest_json(files: &[(String, Vec<u8>)], version: i64) -> Vec<u8> {
    let m = Manifest {
        format: "sila-store-zip".into(),
        version,
        space_id: None,
        writer: "bad-inputs".into(),
        files: files
            .iter()
            .map(|(p, b)| ManifestFile {
                path: p.clone(),
                size: b.len() as u64,
                sha256: Sha256Hex::of(b).as_str().into(),
            })
            .collect(),
    };
    serde_json::to_vec_pretty(&m).expect("manifest")
}

/// How an entry is written.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    File,
    Symlink,
}

/// A ZIP of `entries` (stored) and, if given, a manifest.
fn zip_with(entries: &[(String, Vec<u8>, Kind)], manifest: Option<Vec<u8>>) -> Vec<u8> {
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes, kind) in entries {
        match kind {
            Kind::File => {
                w.start_file(name.as_str(), stored).expect("start");
                w.write_all(bytes).expect("write");
            }
            Kind::Symlink => {
                let target = String::from_utf8(bytes.clone()).expect("target");
                w.add_symlink(name.as_str(), target, stored)
                    .expect("symlink");
            }
        }
    }
    if let Some(m) = manifest {
        w.start_file(MANIFEST_NAME, stored).expect("start");
        w.write_all(&m).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

fn tiny_files() -> Vec<(String, Vec<u8>)> {
    tiny_workspace().files.into_iter().collect()
}

/// The tiny workspace's files plus `extra`, as a ZIP with a manifest listing
/// `listed` (every file, if `None`).
fn tiny_zip_plus(
    extra: &[(String, Vec<u8>, Kind)],
    listed: Option<&[(String, Vec<u8>)]>,
) -> Vec<u8> {
    let mut entries: Vec<(String, Vec<u8>, Kind)> = tiny_files()
        .into_iter()
        .map(|(p, b)| (p, b, Kind::File))
        .collect();
    entries.extend_from_slice(extra);
    let all: Vec<(String, Vec<u8>)> = entries
        .iter()
        .map(|(p, b, _)| (p.clone(), b.clone()))
        .collect();
    let manifest = manifest_json(listed.unwrap_or(&all), 1);
    zip_with(&entries, Some(manifest))
}

/// Replaces every occurrence of `from` by `to` (same length): names in the local
/// header and the central directory.
fn patch_all(mut bytes: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut n = 0;
    while let Some(i) = find(&bytes, from) {
        bytes[i..i + from.len()].copy_from_slice(to);
        n += 1;
    }
    assert!(n > 0, "nothing to patch");
    bytes
}

/// A copy of the tiny SQLite archive changed by `sql`.
fn tiny_sqlite_with(sql: &str) -> Vec<u8> {
    let t = TempDir::new();
    let p = t.join("w.db");
    fs::write(&p, tiny_sqlite()).expect("write");
    let c = rusqlite::Connection::open(&p).expect("open");
    c.execute_batch(sql).expect("change");
    drop(c);
    fs::read(&p).expect("read")
}

/// Offsets in the tiny ZIP: the first entry's data, the central directory, the end
/// record.
fn zip_offsets(z: &[u8]) -> (usize, usize, usize) {
    let name_len = u16::from_le_bytes([z[26], z[27]]) as usize;
    let extra_len = u16::from_le_bytes([z[28], z[29]]) as usize;
    let data = 30 + name_len + extra_len;
    let eocd = z.len() - 22;
    assert_eq!(&z[eocd..eocd + 4], b"PK\x05\x06");
    let cd = u32::from_le_bytes([z[eocd + 16], z[eocd + 17], z[eocd + 18], z[eocd + 19]]) as usize;
    (data, cd, eocd)
}

/// Writes the archive cases of `tests/bad-inputs/` (run with `cargo test -p
/// sila-store-tests --test bad_inputs_corpus -- --ignored write_bad_inputs`). The
/// recipes and `expected.txt` are written by hand.
#[test]
#[ignore]
fn write_bad_inputs() {
    let mut out: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let z = tiny_zip();
    let (data, cd, eocd) = zip_offsets(&z);
    // Truncated ZIPs at every interesting offset.
    out.insert("zip-truncated-empty.zip".into(), Vec::new());
    out.insert("zip-truncated-in-local-header.zip".into(), z[..20].to_vec());
    out.insert(
        "zip-truncated-in-first-entry.zip".into(),
        z[..data + 5].to_vec(),
    );
    out.insert(
        "zip-truncated-before-central-directory.zip".into(),
        z[..cd].to_vec(),
    );
    out.insert(
        "zip-truncated-in-central-directory.zip".into(),
        z[..cd + 30].to_vec(),
    );
    out.insert(
        "zip-truncated-in-end-record.zip".into(),
        z[..eocd + 12].to_vec(),
    );
    // Names that escape, or could.
    let x = |name: &str, bytes: &[u8], kind| (name.to_string(), bytes.to_vec(), kind);
    for (case, name) in [
        ("zip-slip-parent.zip", "../evil"),
        ("zip-slip-nested.zip", "space-v1/../../evil"),
        ("zip-slip-absolute.zip", "/tmp/sila-store-evil"),
        ("zip-slip-backslash.zip", "..\\evil"),
        ("zip-slip-drive.zip", "C:/evil"),
        ("zip-control-character-name.zip", "space-v1/a\u{7}b"),
    ] {
        out.insert(
            case.into(),
            tiny_zip_plus(&[x(name, b"evil", Kind::File)], None),
        );
    }
    out.insert(
        "zip-symlink.zip".into(),
        tiny_zip_plus(&[x("space-v1/link", b"/etc/passwd", Kind::Symlink)], None),
    );
    out.insert(
        "zip-non-utf8-name.zip".into(),
        patch_all(
            tiny_zip_plus(
                &[x("space-v1/nameXX", b"x", Kind::File)],
                Some(&tiny_files()),
            ),
            b"nameXX",
            b"name\xff\xfe",
        ),
    );
    let peer = |p: &str| {
        let t = sila_store_tests::fuzz_checks::FUZZ_SPACE_ID;
        format!("space-v1/ops/{}/{}/2026/01/02/{p}", &t[..2], &t[2..])
    };
    out.insert(
        "zip-peer-id-traversal.zip".into(),
        tiny_zip_plus(
            &[x(&peer("..-m.jsonl"), b"[1,\"0\",null]\n", Kind::File)],
            None,
        ),
    );
    out.insert(
        "zip-tree-id-with-dots.zip".into(),
        tiny_zip_plus(
            &[x(
                "space-v1/ops/a./.x/2026/01/02/p-m.jsonl",
                b"[1,\"0\",null]\n",
                Kind::File,
            )],
            None,
        ),
    );
    // Duplicates: in the central directory (names patched after writing), and in the
    // manifest.
    let mut files = tiny_files();
    let sila_md = files
        .iter()
        .find(|(p, _)| p == "sila.md")
        .expect("sila.md")
        .1
        .clone();
    out.insert(
        "zip-duplicate-entry.zip".into(),
        patch_all(
            tiny_zip_plus(&[x("sila.mX", b"other bytes", Kind::File)], Some(&files)),
            b"sila.mX",
            b"sila.md",
        ),
    );
    let mut twice = files.clone();
    twice.push(("sila.md".into(), sila_md.clone()));
    out.insert(
        "zip-duplicate-in-manifest.zip".into(),
        tiny_zip_plus(&[], Some(&twice)),
    );
    // Manifest problems.
    let entries: Vec<(String, Vec<u8>, Kind)> = files
        .iter()
        .map(|(p, b)| (p.clone(), b.clone(), Kind::File))
        .collect();
    out.insert("zip-no-manifest.zip".into(), zip_with(&entries, None));
    out.insert(
        "zip-future-version.zip".into(),
        zip_with(&entries, Some(manifest_json(&files, 2))),
    );
    out.insert(
        "zip-manifest-not-json.zip".into(),
        zip_with(&entries, Some(b"{\"format\":\"sila-store-zip\",".to_vec())),
    );
    // A changed byte in a stored manifest: its CRC no longer matches.
    let stored = zip_with(&entries, Some(manifest_json(&files, 1)));
    let at = find(&stored, b"\"writer\"").expect("manifest");
    let mut crc = stored.clone();
    crc[at - 1] = b'\t';
    out.insert("zip-manifest-crc-mismatch.zip".into(), crc);
    let mut lying = files.clone();
    lying
        .iter_mut()
        .find(|(p, _)| p == "sila.md")
        .expect("sila.md")
        .1 = vec![b'#'; sila_md.len()];
    out.insert(
        "zip-hash-mismatch.zip".into(),
        zip_with(&entries, Some(manifest_json(&lying, 1))),
    );
    let mut longer = files.clone();
    longer
        .iter_mut()
        .find(|(p, _)| p == "sila.md")
        .expect("sila.md")
        .1
        .push(b'\n');
    out.insert(
        "zip-size-mismatch.zip".into(),
        zip_with(&entries, Some(manifest_json(&longer, 1))),
    );
    out.insert(
        "zip-extra-entry.zip".into(),
        tiny_zip_plus(&[x("space-v1/extra", b"x", Kind::File)], Some(&files)),
    );
    let mut missing = files.clone();
    missing.push(("space-v1/missing".into(), b"x".to_vec()));
    out.insert(
        "zip-missing-entry.zip".into(),
        tiny_zip_plus(&[], Some(&missing)),
    );
    // Content problems.
    let ops = peer("aa11-m.jsonl");
    let bad_line = b"[1,\"0\",null]\n[2,\"\xff\",null]\n".to_vec();
    let with_bad_line: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(p, b)| {
            (
                p.clone(),
                if *p == ops {
                    bad_line.clone()
                } else {
                    b.clone()
                },
            )
        })
        .collect();
    let bad_entries: Vec<(String, Vec<u8>, Kind)> = with_bad_line
        .iter()
        .map(|(p, b)| (p.clone(), b.clone(), Kind::File))
        .collect();
    out.insert(
        "zip-non-utf8-ops-line.zip".into(),
        zip_with(&bad_entries, Some(manifest_json(&with_bad_line, 1))),
    );
    let cas = files
        .iter_mut()
        .find(|(p, _)| p.contains("static/sha256"))
        .expect("CAS blob");
    cas.1 = b"not hello".to_vec();
    let cas_entries: Vec<(String, Vec<u8>, Kind)> = files
        .iter()
        .map(|(p, b)| (p.clone(), b.clone(), Kind::File))
        .collect();
    out.insert(
        "zip-cas-name-mismatch.zip".into(),
        zip_with(&cas_entries, Some(manifest_json(&files, 1))),
    );
    // A flipped byte inside a deflated entry of an archive of ours (sila.md's data
    // follows its name in the local header; the entry has no extra field).
    let mut flipped = z.clone();
    let at = find(&z, b"sila.md").expect("sila.md") + "sila.md".len();
    flipped[at + 3] ^= 0x55;
    out.insert("zip-corrupt-deflate-data.zip".into(), flipped);

    // SQLite.
    let s = tiny_sqlite();
    let page = 512;
    out.insert("sqlite-truncated-empty.db".into(), Vec::new());
    out.insert("sqlite-truncated-in-header.db".into(), s[..50].to_vec());
    out.insert(
        "sqlite-truncated-after-first-page.db".into(),
        s[..page].to_vec(),
    );
    out.insert(
        "sqlite-truncated-half.db".into(),
        s[..(s.len() / page / 2) * page].to_vec(),
    );
    out.insert(
        "sqlite-truncated-last-page.db".into(),
        s[..s.len() - page].to_vec(),
    );
    out.insert(
        "sqlite-truncated-mid-page.db".into(),
        s[..s.len() - page / 2].to_vec(),
    );
    out.insert(
        "sqlite-not-a-database.db".into(),
        b"SQLite format 3\0 but then nothing at all of a database header, just text".to_vec(),
    );
    let mut wrong_app = s.clone();
    wrong_app[68..72].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    out.insert("sqlite-wrong-application-id.db".into(), wrong_app);
    let mut future = s.clone();
    future[60..64].copy_from_slice(&2u32.to_be_bytes());
    out.insert("sqlite-future-version.db".into(), future);
    let mut zero = s.clone();
    zero[60..64].copy_from_slice(&0u32.to_be_bytes());
    out.insert("sqlite-version-zero.db".into(), zero);
    out.insert("sqlite-not-ours.db".into(), {
        let t = TempDir::new();
        let p = t.join("x.db");
        let c = rusqlite::Connection::open(&p).expect("open");
        c.execute_batch("PRAGMA page_size = 512; CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .expect("create");
        drop(c);
        fs::read(&p).expect("read")
    });
    out.insert(
        "sqlite-missing-tables.db".into(),
        tiny_sqlite_with("DROP TABLE tree_ops; DROP TABLE op_files;"),
    );
    out.insert(
        "sqlite-missing-chunks.db".into(),
        tiny_sqlite_with("DELETE FROM file_chunks WHERE path = 'sila.md';"),
    );
    {
        // An invalid page type in the root page of tree_ops.
        let t = TempDir::new();
        let p = t.join("w.db");
        fs::write(&p, &s).expect("write");
        let root: i64 = rusqlite::Connection::open(&p)
            .expect("open")
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'tree_ops'",
                [],
                |r| r.get(0),
            )
            .expect("rootpage");
        let mut b = s.clone();
        let at = (usize::try_from(root).expect("page") - 1) * page;
        b[at] = 0x77;
        out.insert("sqlite-corrupt-page.db".into(), b);
        // A freelist trunk page number past the end of the file.
        let mut b = s.clone();
        b[32..36].copy_from_slice(&0x00ff_ffffu32.to_be_bytes());
        b[36..40].copy_from_slice(&1u32.to_be_bytes());
        out.insert("sqlite-corrupt-freelist.db".into(), b);
    }
    out.insert(
        "sqlite-hash-mismatch.db".into(),
        tiny_sqlite_with(
            "UPDATE raw_files SET sha256 = '0000000000000000000000000000000000000000000000000000000000000000' WHERE path = 'sila.md';",
        ),
    );
    out.insert(
        "sqlite-size-mismatch.db".into(),
        tiny_sqlite_with("UPDATE raw_files SET size = size + 1 WHERE path = 'sila.md';"),
    );
    out.insert(
        "sqlite-cas-content-changed.db".into(),
        tiny_sqlite_with(
            "UPDATE file_chunks SET deflated = 0, data = CAST('jello' AS BLOB) WHERE path LIKE 'space-v1/files/static/%';",
        ),
    );
    out.insert(
        "sqlite-ops-hash-mismatch.db".into(),
        tiny_sqlite_with(
            "UPDATE tree_ops SET clock = clock + 1 WHERE seq = 0 AND clock IS NOT NULL;",
        ),
    );
    out.insert(
        "sqlite-tree-id-traversal.db".into(),
        tiny_sqlite_with("UPDATE op_files SET tree_id = '../../../../tmp/evil' WHERE kind = 'm';"),
    );
    out.insert(
        "sqlite-peer-id-traversal.db".into(),
        tiny_sqlite_with("UPDATE op_files SET peer_id = '../evil' WHERE kind = 'm';"),
    );
    out.insert(
        "sqlite-hash-id-traversal.db".into(),
        tiny_sqlite_with("UPDATE files SET hash = '../../../../etc/passwd';"),
    );
    out.insert(
        "sqlite-mutable-id-traversal.db".into(),
        tiny_sqlite_with("UPDATE mutable_files SET uuid = '../../../../../../etc/pa';"),
    );
    out.insert(
        "sqlite-raw-path-traversal.db".into(),
        tiny_sqlite_with(
            "UPDATE raw_files SET path = '../../evil' WHERE path = '.DS_Store';
             UPDATE file_chunks SET path = '../../evil' WHERE path = '.DS_Store';",
        ),
    );
    out.insert(
        "sqlite-absolute-path.db".into(),
        tiny_sqlite_with(
            "UPDATE raw_files SET path = '/tmp/evil' WHERE path = '.DS_Store';
             UPDATE file_chunks SET path = '/tmp/evil' WHERE path = '.DS_Store';",
        ),
    );
    out.insert(
        "sqlite-duplicate-entry.db".into(),
        tiny_sqlite_with(
            "INSERT INTO raw_files(path, size, sha256) SELECT 'space-v1/files/static/sha256/2c/f24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824', size, sha256 FROM raw_files WHERE path = 'sila.md';",
        ),
    );
    out.insert(
        "sqlite-non-utf8-ops-line.db".into(),
        tiny_sqlite_with("UPDATE tree_ops SET raw = CAST(X'5b31ff5d' AS TEXT) WHERE seq = 0;"),
    );
    out.insert(
        "sqlite-bad-day.db".into(),
        tiny_sqlite_with("UPDATE op_files SET day = '2026-01-02/../../x' WHERE kind = 'm';"),
    );
    out.insert(
        "sqlite-ops-size-too-big.db".into(),
        tiny_sqlite_with("UPDATE op_files SET size = 1099511627776 WHERE kind = 'p';"),
    );
    out.insert(
        "sqlite-negative-size.db".into(),
        tiny_sqlite_with("UPDATE raw_files SET size = -5 WHERE path = 'sila.md';"),
    );
    out.insert(
        "sqlite-wrong-column-type.db".into(),
        tiny_sqlite_with("UPDATE raw_files SET size = 'big' WHERE path = 'sila.md';"),
    );

    let dir = corpus_dir();
    fs::create_dir_all(&dir).expect("mkdir");
    for (name, bytes) in out {
        fs::write(dir.join(name), bytes).expect("write case");
    }
}
