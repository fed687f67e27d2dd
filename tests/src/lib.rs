//! Helpers of the conformance suite: fixtures, temporary folders, listings.
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

pub mod corpus;
pub mod fuzz_checks;
pub mod tricky_json;

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

/// `len` incompressible bytes (xorshift64 from `seed`), the same for the same seed.
pub fn incompressible(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// Adds `bytes` to the workspace folder `ws` as a CAS file; returns its hash.
pub fn add_cas_file(ws: &Path, bytes: &[u8]) -> sila_store_core::ids::Sha256Hex {
    let hash = sila_store_core::ids::Sha256Hex::of(bytes);
    let h = hash.as_str();
    let dir = ws.join(format!("space-v1/files/static/sha256/{}", &h[..2]));
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(dir.join(&h[2..]), bytes).expect("write");
    hash
}

/// Calls `f(relative path, path)` for every file under `root` (paths `/`-separated).
pub fn for_each_file(root: &Path, f: &mut dyn FnMut(String, &Path)) {
    fn walk(root: &Path, dir: &Path, f: &mut dyn FnMut(String, &Path)) {
        for e in fs::read_dir(dir).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(root, &p, f);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .expect("prefix")
                    .to_string_lossy()
                    .replace('\\', "/");
                f(rel, &p);
            }
        }
    }
    walk(root, root, f);
}

/// `path → sha256` of every file under `root`, sorted: what
/// `find . -type f | sort | xargs sha256sum` gives.
pub fn sha256_listing(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for_each_file(root, &mut |rel, p| {
        let bytes = fs::read(p).expect("read");
        out.insert(rel, sila_store_core::ids::hex(&Sha256::digest(&bytes)));
    });
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

/// Writes the workspace folder `ws` as a SQLite archive of format 1 (one row per ops
/// line), as builds before format 2 wrote it, at `out`.
pub fn write_sqlite_v1(ws: &Path, out: &Path) {
    write_sqlite_in(ws, out, 1);
}

/// The plain workspace `ws` as a SQLite archive of format `version` at `out`.
pub fn write_sqlite_in(ws: &Path, out: &Path, version: i64) {
    use sila_store_core::archive::sqlite::SqliteSink;
    let conn = rusqlite::Connection::open(out).expect("create SQLite");
    {
        let mut source = sila_store_native::fs::PlainSource::open(ws).expect("open folder");
        let mut sink = SqliteSink::with_version(&conn, "plain", version).expect("SQLite sink");
        sila_store_core::convert::copy_all(&mut source, &mut sink, &mut |_| {})
            .expect("write SQLite");
    }
    conn.close().map_err(|(_, e)| e).expect("close SQLite");
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

/// A small workspace with one of everything Sila writes (space tree, moves, props,
/// a legacy file, a line kept raw, a file without a trailing newline, a CAS blob, a
/// mutable blob, `secrets`, an unknown file): the seed of the fuzz corpus and the base
/// of the bad-input corpus.
pub fn tiny_workspace() -> sila_store_core::memory::MemoryWorkspace {
    let t = fuzz_checks::FUZZ_SPACE_ID;
    let ops = format!("space-v1/ops/{}/{}/2026/01/02", &t[..2], &t[2..]);
    let secrets = sila_store_core::secrets::encrypt(
        t,
        &[("api-key-openai".into(), "sk-123".into())],
        [1; 12],
        sila_store_core::secrets::KeyVariant::RawSpaceId,
    )
    .expect("encrypt");
    let mut w = sila_store_core::memory::MemoryWorkspace::new();
    w.insert("sila.md", sila_store_core::layout::SILA_MD_TEXT)
        .insert("space-v1/space.json", format!("{{\"id\":\"{t}\"}}"))
        .insert("space-v1/secrets", secrets)
        .insert(
            format!("{ops}/aa11-m.jsonl").as_str(),
            format!("[1,\"{t}\",null]\n[3,\"c0\",\"{t}\"]\n[4,\"c0\",\"0\"]\n"),
        )
        .insert(
            format!("{ops}/aa11-p.jsonl").as_str(),
            format!(
                "[2,\"{t}\",\"name\",\"Tiny \\u2028 ✓\"]\n[5,\"{t}\",\"version\",\"0\"]\n[6,\"c0\",\"k\",{{}}]\n [7, odd]"
            ),
        )
        .insert(
            format!("{ops}/bb22.jsonl").as_str(),
            "[\"m\",1,\"x0\",null]\n[\"p\",2,\"x0\",\"n\",[1,2.5e+21,null,true]]\n",
        )
        .insert(
            "space-v1/files/static/sha256/2c/f24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            "hello",
        )
        .insert(
            "space-v1/files/var/uuid/0f/8fad5bd9cb469fa16570867728950e",
            "mutable",
        )
        .insert(".DS_Store", &b"\0\x01"[..]);
    w
}

/// [`tiny_workspace`] as a ZIP archive, as this build writes it.
pub fn tiny_zip() -> Vec<u8> {
    use sila_store_core::archive::zip::ZipSink;
    let mut sink = ZipSink::new(std::io::Cursor::new(Vec::new()));
    sila_store_core::convert::copy_all(&mut tiny_workspace(), &mut sink, &mut |_| {})
        .expect("write ZIP");
    sink.into_inner().expect("finish ZIP").into_inner()
}

/// [`tiny_workspace`] as a SQLite archive of format 1 (one row per ops line: the rows
/// the bad-input corpus edits) with 512-byte pages (a few KiB, so fuzzing and
/// truncating it stays cheap; readers take any page size).
pub fn tiny_sqlite() -> Vec<u8> {
    tiny_sqlite_in(1)
}

/// [`tiny_sqlite`] in format 2 (ops files in blocks).
pub fn tiny_sqlite_v2() -> Vec<u8> {
    tiny_sqlite_in(2)
}

/// [`tiny_workspace`] as a SQLite archive of format `version`, 512-byte pages.
pub fn tiny_sqlite_in(version: i64) -> Vec<u8> {
    use sila_store_core::archive::sqlite::SqliteSink;
    let t = TempDir::new();
    let p = t.join("tiny.db");
    let conn = rusqlite::Connection::open(&p).expect("create SQLite");
    conn.execute_batch("PRAGMA page_size = 512")
        .expect("page size");
    {
        let mut sink = SqliteSink::with_version(&conn, "plain", version).expect("SQLite sink");
        sila_store_core::convert::copy_all(&mut tiny_workspace(), &mut sink, &mut |_| {})
            .expect("write SQLite");
    }
    conn.close().map_err(|(_, e)| e).expect("close SQLite");
    fs::read(&p).expect("read SQLite")
}

/// The `sila-store` binary built from this tree: `$SILA_STORE_BIN`, else
/// `target/<profile>/sila-store` beside this test executable (`cargo test
/// --workspace` and `./scripts/test` build it). Panics with what to run if it is
/// missing.
pub fn sila_store_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SILA_STORE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable");
    // target/<profile>/deps/<test> → target/<profile>/sila-store
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = profile_dir.join(format!("sila-store{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} not found: build the CLI first (cargo build -p sila-store-native --bin sila-store), \
         or run the whole workspace's tests (cargo test --workspace builds it), \
         or set SILA_STORE_BIN",
        bin.display()
    );
    bin
}

/// Every store the tier tests run against, each under a fresh prefix: in memory, a
/// local folder under `t` (`file://`), and a real S3-compatible server when
/// `SILA_STORE_S3` names one (`scripts/test` starts s3s-fs on 127.0.0.1 and sets it,
/// with the `AWS_*` variables; `SILA_STORE_REQUIRE_S3=1` makes its absence a failure).
pub fn tier_stores(t: &TempDir) -> Vec<(String, sila_store_native::tiers::TierStore)> {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let n = RUN.fetch_add(1, Ordering::SeqCst);
    let pid = std::process::id();
    // Short keys: s3s-fs keeps object metadata in a file named by the base64 of the
    // key, so keys longer than about 160 bytes fail there (real S3 allows 1,024).
    let mut urls = vec![
        format!("memory://t{pid}-{n}"),
        format!("file://{}", t.join(&format!("store-{n}")).display()),
    ];
    match std::env::var("SILA_STORE_S3") {
        Ok(s3) => urls.push(format!(
            "{}/{:x}-{n}",
            s3.trim_end_matches('/'),
            pid & 0xffff
        )),
        Err(_) if std::env::var_os("SILA_STORE_REQUIRE_S3").is_some() => {
            panic!("SILA_STORE_S3 is not set but SILA_STORE_REQUIRE_S3 is")
        }
        Err(_) => eprintln!("no SILA_STORE_S3: testing memory:// and file:// only"),
    }
    urls.into_iter()
        .map(|u| {
            let s = sila_store_native::tiers::TierStore::open(&u)
                .unwrap_or_else(|e| panic!("{u}: {e}"));
            (u, s)
        })
        .collect()
}
