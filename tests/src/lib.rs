//! Helpers of the conformance suite: fixtures, temporary folders, listings.
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

/// The folder holding the fixture folders copied from real Sila.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Every fixture: the ones in `fixtures/` and the broken-but-real ones in `fixtures-edge/`.
pub fn all_fixtures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["fixtures", "fixtures-edge"] {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut v: Vec<PathBuf> = fs::read_dir(&d)
            .expect("fixtures folder")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.is_dir())
            .collect();
        v.sort();
        out.extend(v);
    }
    assert!(out.len() >= 7, "fixtures missing: {out:?}");
    out
}

/// `path → sha256` of every file under `root`, sorted: what
/// `find . -type f | sort | xargs sha256sum` gives.
pub fn sha256_listing(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in fs::read_dir(dir).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .expect("prefix")
                    .to_string_lossy()
                    .replace('\\', "/");
                let bytes = fs::read(&p).expect("read");
                out.insert(rel, sila_store_core::ids::hex(&Sha256::digest(&bytes)));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The bytes of a file, or a folder's listing, to check that something did not change.
pub fn snapshot(path: &Path) -> Option<BTreeMap<String, String>> {
    if path.is_dir() {
        Some(sha256_listing(path))
    } else if path.exists() {
        let bytes = fs::read(path).expect("read");
        Some(BTreeMap::from([(
            String::new(),
            sila_store_core::ids::hex(&Sha256::digest(&bytes)),
        )]))
    } else {
        None
    }
}

/// Converts `ws` (a folder) plain → SQLite → ZIP → plain and plain → ZIP → SQLite →
/// plain inside `t` (`a.db`, `b.zip`, `c/`, `d.zip`, `e.db`, `f/`), and checks that
/// both results are byte for byte the original.
pub fn roundtrip_both_ways(ws: &Path, t: &TempDir) {
    let original = sha256_listing(ws);
    let conv = |a: &Path, b: &Path| {
        sila_store_native::convert(a, b, Default::default(), &mut |_| {})
            .unwrap_or_else(|e| panic!("convert {} -> {}: {e}", a.display(), b.display()));
    };
    for (first, second, out) in [("a.db", "b.zip", "c"), ("d.zip", "e.db", "f")] {
        conv(ws, &t.join(first));
        conv(&t.join(first), &t.join(second));
        conv(&t.join(second), &t.join(out));
        assert_eq!(
            original,
            sha256_listing(&t.join(out)),
            "{}: plain → {first} → {second} → plain",
            ws.display()
        );
    }
}

/// A temporary folder removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a new empty folder under the target directory's `tmp/`.
    pub fn new() -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir().join("sila-store-tests");
        let p = base.join(format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }
    /// A path inside it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Copies a folder recursively (fixtures are read-only; copies are writable).
pub fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).expect("mkdir");
    for e in fs::read_dir(src).expect("read_dir") {
        let p = e.expect("entry").path();
        let to = dst.join(p.file_name().expect("name"));
        if p.is_dir() {
            copy_dir(&p, &to);
        } else {
            fs::copy(&p, &to).expect("copy");
            let mut perm = fs::metadata(&to).expect("meta").permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            fs::set_permissions(&to, perm).expect("chmod");
        }
    }
}
