//! The bad-input corpus, `tests/bad-inputs/`: one file per case, the expected error
//! code of each in `tests/bad-inputs/expected.txt` (see its README). Every case goes
//! through the real `sila-store` binary (`sila_store_tests::corpus::run`), under a
//! memory cap (`ulimit -v`) and a time limit, from a read-only folder, as `verify
//! --json` (the expected code must be among the errors), `info` and `show` (typed
//! errors only), and as `convert --json` to the other formats (the error must be the
//! expected code, the destination must not exist afterwards, nothing may be left
//! beside it, and the source and its folder must not change). Cases expected `ok` are hostile but valid: they must verify and convert
//! losslessly, within the same memory cap.
//!
//! The archive cases were written by `write_bad_inputs` (ignored; it documents how each
//! was made and rewrites them with `--ignored`). Big cases (the ZIP bombs, the 100 MB
//! ops line) are small recipes (`*.recipe.json`) built at test time.

use std::collections::BTreeMap;
use std::fs;

use sila_store_tests::corpus::edits::{
    manifest_json, patch_all, tiny_files, tiny_sqlite_with, tiny_zip_plus, zip_offsets, zip_with,
    Kind,
};
use sila_store_tests::corpus::recipes::find;
use sila_store_tests::corpus::run::{cases, corpus_dir, names_in, run_case, worst};
use sila_store_tests::{tiny_sqlite, tiny_zip, TempDir};

/// The cases run in [`SHARDS`] tests of their own, so that a parallel runner (`cargo
/// nextest`, what `scripts/test` uses) spreads them over the cores; `cargo test` runs
/// them on its test threads.
const SHARDS: usize = 4;

#[test]
fn every_case_file_is_listed() {
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
}

/// Runs every `SHARDS`-th case from `shard` on: each gets its error and leaves nothing
/// behind.
fn run_shard(shard: usize) {
    // BAD_INPUTS_ONLY=<text> runs only the cases whose file name contains it.
    let only = std::env::var("BAD_INPUTS_ONLY").unwrap_or_default();
    let mut failures = Vec::new();
    let all = cases();
    for case in all
        .iter()
        .skip(shard)
        .step_by(SHARDS)
        .filter(|c| c.file.contains(&only))
    {
        eprintln!("case {} ({} / {})", case.file, case.verify, case.convert);
        if let Err(e) = run_case(case) {
            eprintln!("  FAILED: {e}");
            failures.push(format!("{}: {e}", case.file));
        }
    }
    let w = worst();
    eprintln!(
        "worst time {:.2} s ({}); highest peak {} KiB ({})",
        w.time.0, w.time.1, w.memory.0, w.memory.1
    );
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_bad_input_gets_its_error_and_leaves_nothing_behind_0() {
    run_shard(0);
}
#[test]
fn every_bad_input_gets_its_error_and_leaves_nothing_behind_1() {
    run_shard(1);
}
#[test]
fn every_bad_input_gets_its_error_and_leaves_nothing_behind_2() {
    run_shard(2);
}
#[test]
fn every_bad_input_gets_its_error_and_leaves_nothing_behind_3() {
    run_shard(3);
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
    // Format 1's tables under a version no build writes yet.
    future[60..64].copy_from_slice(&99u32.to_be_bytes());
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
