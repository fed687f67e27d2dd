//! Bad input gets a typed error naming the problem, and nothing at the source or the
//! destination changes.

use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use sila_store_core::archive::sqlite::FORMAT_VERSION;
use sila_store_core::archive::zip::{Manifest, ManifestFile, MANIFEST_NAME};
use sila_store_core::ids::Sha256Hex;
use sila_store_core::{inspect, Error};
use sila_store_native::{convert, with_source, ConvertOptions};
use sila_store_tests::{copy_dir, fixtures_dir, snapshot, TempDir};
use zip::write::SimpleFileOptions;

fn rich() -> PathBuf {
    fixtures_dir().join("rich")
}

/// Converts `src` to `dst`, expects an error, and checks that neither path changed
/// and that no temporary file was left beside `dst`.
fn convert_fails(src: &Path, dst: &Path) -> Error {
    let before_src = snapshot(src);
    let before_dst = snapshot(dst);
    let parent = dst.parent().unwrap();
    let before_dir: Vec<_> = fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let err = convert(src, dst, ConvertOptions { force: true }, &mut |_| {})
        .expect_err("conversion should fail");
    assert_eq!(before_src, snapshot(src), "source changed");
    assert_eq!(before_dst, snapshot(dst), "destination changed");
    let mut after_dir: Vec<_> = fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut before_dir = before_dir;
    before_dir.sort();
    after_dir.sort();
    assert_eq!(before_dir, after_dir, "temporary files left behind");
    err
}

/// A destination that already holds a workspace, to show it survives.
fn existing_dst(t: &TempDir, name: &str) -> PathBuf {
    let dst = t.join(name);
    convert(
        &fixtures_dir().join("getting-started"),
        &dst,
        ConvertOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    dst
}

fn zip_with_manifest(entries: &[(&str, &[u8])], manifest: &[u8]) -> Vec<u8> {
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        w.start_file(*name, stored).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.start_file(MANIFEST_NAME, stored).unwrap();
    w.write_all(manifest).unwrap();
    w.finish().unwrap().into_inner()
}

fn zip_of(entries: &[(&str, &[u8])], manifest: &[(&str, u64, String)]) -> Vec<u8> {
    let m = Manifest {
        format: "sila-store-zip".into(),
        version: 1,
        space_id: None,
        writer: "test".into(),
        files: manifest
            .iter()
            .map(|(p, s, h)| ManifestFile {
                path: p.to_string(),
                size: *s,
                sha256: h.clone(),
            })
            .collect(),
    };
    zip_with_manifest(entries, &serde_json::to_vec(&m).unwrap())
}

fn sha(b: &[u8]) -> String {
    Sha256Hex::of(b).as_str().to_string()
}

#[test]
fn truncated_zip() {
    let t = TempDir::new();
    let z = existing_dst(&t, "w.zip");
    let bytes = fs::read(&z).unwrap();
    fs::write(t.join("cut.zip"), &bytes[..bytes.len() / 2]).unwrap();
    let dst = existing_dst(&t, "out.db");
    let e = convert_fails(&t.join("cut.zip"), &dst);
    assert!(
        matches!(e, Error::NotAnArchive { .. } | Error::Corrupt { .. }),
        "{e}"
    );
}

#[test]
fn corrupt_zip_entry() {
    let t = TempDir::new();
    let z = t.join("w.zip");
    convert(&rich(), &z, ConvertOptions::default(), &mut |_| {}).unwrap();
    let mut bytes = fs::read(&z).unwrap();
    // Flip bytes in the middle of the archive: inside the largest (stored) blob.
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5a;
    }
    fs::write(&z, &bytes).unwrap();
    let e = convert_fails(&z, &t.join("out"));
    assert!(
        matches!(
            e,
            Error::Corrupt { .. } | Error::HashMismatch { .. } | Error::SizeMismatch { .. }
        ),
        "{e}"
    );
    let report = with_source(&z, |s| Ok(inspect::verify(s, &mut |_| {}))).unwrap();
    assert!(!report.ok);
}

#[test]
fn zip_with_parent_or_absolute_paths() {
    let t = TempDir::new();
    for name in ["../x", "space-v1/../../x", "/etc/x", "a\\..\\x", "C:/x"] {
        let z = t.join("evil.zip");
        fs::write(&z, zip_of(&[(name, b"x")], &[(name, 1, sha(b"x"))])).unwrap();
        let e = convert_fails(&z, &t.join("out"));
        assert!(matches!(e, Error::UnsafePath { .. }), "{name}: {e}");
        assert!(!t.path().parent().unwrap().join("x").exists());
    }
}

#[test]
fn zip_entry_larger_than_manifest() {
    let t = TempDir::new();
    let body = vec![b'a'; 10_000];
    let z = t.join("big.zip");
    fs::write(
        &z,
        zip_of(&[("sila.md", &body)], &[("sila.md", 10, sha(&body[..10]))]),
    )
    .unwrap();
    let e = convert_fails(&z, &existing_dst(&t, "out"));
    assert!(matches!(e, Error::SizeMismatch { expected: 10, .. }), "{e}");
}

#[test]
fn zip_bomb_with_lying_headers() {
    // 64 MiB of zeros deflate to ~64 KiB; both the manifest and the ZIP headers claim
    // 16 bytes. Reading must stop at 17 bytes and say so.
    let t = TempDir::new();
    let body = vec![0u8; 64 << 20];
    let mut z = zip_of(&[("sila.md", &body)], &[("sila.md", 16, sha(&body[..16]))]);
    let real = (body.len() as u32).to_le_bytes();
    let fake = 16u32.to_le_bytes();
    // Patch the uncompressed size in the local header (offset 22) and in the central
    // directory header (offset 24) of the entry.
    assert_eq!(&z[0..4], b"PK\x03\x04");
    assert_eq!(z[22..26], real);
    z[22..26].copy_from_slice(&fake);
    let cd = z
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central directory");
    assert_eq!(z[cd + 24..cd + 28], real);
    z[cd + 24..cd + 28].copy_from_slice(&fake);
    let p = t.join("bomb.zip");
    fs::write(&p, &z).unwrap();
    let e = convert_fails(&p, &t.join("out.db"));
    assert!(
        matches!(e, Error::SizeMismatch { .. } | Error::Corrupt { .. }),
        "{e}"
    );
}

#[test]
fn zip_without_manifest_or_duplicates() {
    let t = TempDir::new();
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("sila.md", SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"hi").unwrap();
    let p = t.join("plain.zip");
    fs::write(&p, w.finish().unwrap().into_inner()).unwrap();
    let e = convert_fails(&p, &t.join("out"));
    assert!(matches!(e, Error::NotAnArchive { .. }), "{e}");

    let p = t.join("dup.zip");
    let m = [("sila.md", 1, sha(b"x"))];
    fs::write(
        &p,
        zip_of(&[("sila.md", b"x"), ("space-v1/../sila.md", b"x")], &m),
    )
    .unwrap();
    assert!(matches!(
        convert_fails(&p, &t.join("out")),
        Error::UnsafePath { .. }
    ));

    let p = t.join("extra.zip");
    fs::write(&p, zip_of(&[("sila.md", b"x"), ("other", b"y")], &m)).unwrap();
    assert!(matches!(
        convert_fails(&p, &t.join("out")),
        Error::Corrupt { .. }
    ));

    let p = t.join("future.zip");
    let future = br#"{"format":"sila-store-zip","version":7,"files":[]}"#;
    fs::write(&p, zip_with_manifest(&[], future)).unwrap();
    assert!(matches!(
        convert_fails(&p, &t.join("out")),
        Error::UnsupportedVersion { found: 7, .. }
    ));
}

#[test]
fn sqlite_that_is_not_ours() {
    let t = TempDir::new();
    let p = t.join("other.db");
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .unwrap();
    drop(c);
    let e = convert_fails(&p, &existing_dst(&t, "out.zip"));
    assert!(matches!(e, Error::NotAnArchive { .. }), "{e}");
    // Not a database at all, but named like one.
    let p = t.join("text.db");
    fs::write(
        &p,
        "hello, this is not SQLite, and it is long enough to have a header...",
    )
    .unwrap();
    let e = convert_fails(&p, &t.join("out2.zip"));
    assert!(matches!(e, Error::NotAnArchive { .. }), "{e}");
}

#[test]
fn sqlite_from_the_future() {
    let t = TempDir::new();
    let p = t.join("w.db");
    convert(&rich(), &p, ConvertOptions::default(), &mut |_| {}).unwrap();
    rusqlite::Connection::open(&p)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {}", FORMAT_VERSION + 1))
        .unwrap();
    let e = convert_fails(&p, &t.join("out"));
    assert!(
        matches!(
            e,
            Error::UnsupportedVersion {
                found,
                supported: FORMAT_VERSION,
                ..
            } if found == FORMAT_VERSION + 1
        ),
        "{e}"
    );
    assert!(e.to_string().contains("upgrade"), "{e}");
}

#[test]
fn truncated_sqlite() {
    let t = TempDir::new();
    let p = t.join("w.db");
    convert(&rich(), &p, ConvertOptions::default(), &mut |_| {}).unwrap();
    let bytes = fs::read(&p).unwrap();
    fs::write(&p, &bytes[..bytes.len() / 3]).unwrap();
    let e = convert_fails(&p, &existing_dst(&t, "out"));
    assert!(
        matches!(e, Error::Corrupt { .. } | Error::NotAnArchive { .. }),
        "{e}"
    );
    let report = with_source(&p, |s| Ok(inspect::verify(s, &mut |_| {})));
    assert!(report.map(|r| !r.ok).unwrap_or(true));
}

#[test]
fn sqlite_with_a_tampered_blob() {
    let t = TempDir::new();
    let p = t.join("w.db");
    convert(&rich(), &p, ConvertOptions::default(), &mut |_| {}).unwrap();
    let c = rusqlite::Connection::open(&p).unwrap();
    let n = c
        .execute(
            "UPDATE file_chunks SET data = CAST(X'00' || data AS BLOB) WHERE deflated = 0 AND path LIKE '%static%' AND seq = 0",
            [],
        )
        .unwrap();
    assert!(n > 0);
    drop(c);
    let e = convert_fails(&p, &t.join("out"));
    assert!(
        matches!(e, Error::SizeMismatch { .. } | Error::HashMismatch { .. }),
        "{e}"
    );
}

#[test]
fn static_file_whose_bytes_do_not_match_its_name() {
    let t = TempDir::new();
    let ws = t.join("ws");
    copy_dir(&rich(), &ws);
    let dir = ws.join("space-v1/files/static/sha256");
    let sub = fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let blob = fs::read_dir(&sub).unwrap().next().unwrap().unwrap().path();
    let mut bytes = fs::read(&blob).unwrap();
    bytes[0] ^= 1;
    fs::write(&blob, &bytes).unwrap();
    for dst in ["out.db", "out.zip", "out"] {
        let e = convert_fails(&ws, &t.join(dst));
        assert!(matches!(e, Error::HashMismatch { .. }), "{e}");
    }
    let report = with_source(&ws, |s| Ok(inspect::verify(s, &mut |_| {}))).unwrap();
    assert!(!report.ok);
    assert_eq!(report.errors[0].code, "HashMismatch");
}

#[test]
fn ops_file_with_a_bad_id() {
    let t = TempDir::new();
    let ws = t.join("ws");
    copy_dir(&rich(), &ws);
    let day = ws.join("space-v1/ops/b3/ee88fc46bb4ac1bd8012feac0a7d6c/2026/03/10");
    assert!(day.is_dir());
    fs::write(day.join("bad id!-m.jsonl"), "[1,\"0\",null]\n").unwrap();
    let e = convert_fails(&ws, &t.join("out.db"));
    assert!(
        matches!(
            e,
            Error::InvalidId {
                what: "peer id",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn non_utf8_ops_line() {
    let t = TempDir::new();
    let ws = t.join("ws");
    copy_dir(&rich(), &ws);
    let day = ws.join("space-v1/ops/b3/ee88fc46bb4ac1bd8012feac0a7d6c/2026/03/10");
    let file = fs::read_dir(&day).unwrap().next().unwrap().unwrap().path();
    let mut bytes = fs::read(&file).unwrap();
    bytes.extend_from_slice(b"[999,\"0\",\"k\",\"\xff\xfe\"]\n");
    fs::write(&file, &bytes).unwrap();
    for dst in ["out.db", "out.zip"] {
        let e = convert_fails(&ws, &t.join(dst));
        assert!(matches!(e, Error::InvalidUtf8 { .. }), "{e}");
        assert!(e.to_string().contains("line"), "{e}");
    }
}

#[test]
fn empty_folder_and_missing_paths() {
    let t = TempDir::new();
    fs::create_dir(t.join("empty")).unwrap();
    let e = convert_fails(&t.join("empty"), &t.join("out.db"));
    assert!(matches!(e, Error::NotAWorkspace(_)), "{e}");
    // An empty space-v1 folder is not a workspace either.
    fs::create_dir_all(t.join("hollow/space-v1")).unwrap();
    let e = convert_fails(&t.join("hollow"), &t.join("out.db"));
    assert!(matches!(e, Error::NotAWorkspace(_)), "{e}");
    // A missing source is NotFound, naming it.
    let e = convert_fails(&t.join("nope"), &t.join("out.db"));
    assert!(
        matches!(&e, Error::NotFound(p) if p.ends_with("nope")),
        "{e}"
    );
}

#[test]
fn existing_destination_needs_force() {
    let t = TempDir::new();
    let dst = existing_dst(&t, "out.db");
    let before = snapshot(&dst);
    let e = convert(&rich(), &dst, ConvertOptions::default(), &mut |_| {}).unwrap_err();
    assert!(matches!(e, Error::AlreadyExists(_)), "{e}");
    assert_eq!(before, snapshot(&dst));
    convert(&rich(), &dst, ConvertOptions { force: true }, &mut |_| {}).unwrap();
    assert_ne!(before, snapshot(&dst));
    let info = with_source(&dst, inspect::info).unwrap();
    assert_eq!(info.static_files, 7);
}

#[cfg(unix)]
#[test]
fn symlink_in_a_workspace_is_refused() {
    let t = TempDir::new();
    let ws = t.join("ws");
    copy_dir(&fixtures_dir().join("getting-started"), &ws);
    std::os::unix::fs::symlink("/etc/passwd", ws.join("space-v1/link")).unwrap();
    let e = convert_fails(&ws, &t.join("out.zip"));
    assert!(matches!(e, Error::UnsafePath { .. }), "{e}");
}

#[test]
fn destination_overlapping_the_source_is_refused() {
    let t = TempDir::new();
    let ws = t.join("ws");
    copy_dir(&fixtures_dir().join("getting-started"), &ws);
    for dst in [
        ws.clone(),
        ws.join("inside"),
        ws.join("inside.zip"),
        t.path().to_path_buf(),
    ] {
        let before = snapshot(&ws);
        let e = convert(&ws, &dst, ConvertOptions { force: true }, &mut |_| {}).unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument(_)),
            "{}: {e}",
            dst.display()
        );
        assert_eq!(before, snapshot(&ws));
    }
}
