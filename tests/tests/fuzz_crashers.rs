//! Every input that once broke a fuzz target (`tests/fuzz-crashers/<target>/`) and
//! every seed of the fuzz corpus (`fuzz/seeds/<target>/`) runs through the target's
//! own check (`sila_store_tests::fuzz_checks`), so nothing found by fuzzing comes back.
//!
//! The seeds are written by `write_fuzz_seeds` (ignored; run it with `--ignored` after
//! a format change): a tiny workspace as ZIP and SQLite (512-byte pages, so the fuzzer
//! works on a few KiB), its manifest, ops files of every kind, `secrets` files, and
//! recipes of deep and wide tree op sets.

use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use sila_store_core::archive::zip::{ZipSink, ZipSource, MANIFEST_NAME};
use sila_store_core::convert::copy_all;
use sila_store_core::inspect;
use sila_store_core::secrets::{encrypt, KeyVariant};
use sila_store_tests::fuzz_checks::{inputs_in, FUZZ_SPACE_ID, TARGETS};
use sila_store_tests::{tiny_sqlite, tiny_workspace, tiny_zip};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn kept_crashers_and_seeds_pass_their_checks() {
    let mut ran = 0;
    for (target, check) in TARGETS {
        for dir in [
            repo().join("tests/fuzz-crashers").join(target),
            repo().join("fuzz/seeds").join(target),
        ] {
            for (name, bytes) in inputs_in(&dir) {
                eprintln!("{target}: {}", dir.join(&name).display());
                check(&bytes);
                ran += 1;
            }
        }
    }
    assert!(ran >= TARGETS.len(), "no seeds found under fuzz/seeds");
}

#[test]
fn every_target_has_seeds() {
    for (target, _) in TARGETS {
        let seeds = inputs_in(&repo().join("fuzz/seeds").join(target));
        assert!(!seeds.is_empty(), "fuzz/seeds/{target} is empty");
    }
}

#[test]
fn archive_seeds_are_valid_workspaces() {
    // So the fuzzer starts from inputs that reach the round trips, not only the errors.
    for seed in ["zip_reader/tiny.zip", "sqlite_reader/tiny.db"] {
        let p = repo().join("fuzz/seeds").join(seed);
        let report =
            sila_store_native::with_source(&p, |s| Ok(inspect::verify(s, &mut |_| {}))).unwrap();
        assert!(report.ok, "{seed}: {:?}", report.errors);
        assert_eq!(report.files_checked, 9, "{seed}");
    }
}

#[test]
fn the_zip_seed_written_by_this_build_comes_back_byte_for_byte() {
    // encode(decode(x)) == x for an archive this build wrote.
    let zip = tiny_zip();
    let mut source = ZipSource::new(Cursor::new(&zip[..])).unwrap();
    let mut sink = ZipSink::new(Cursor::new(Vec::new()));
    copy_all(&mut source, &mut sink, &mut |_| {}).unwrap();
    assert!(sink.into_inner().unwrap().into_inner() == zip);
}

/// Writes `fuzz/seeds/`: run with `cargo test -p sila-store-tests --test fuzz_crashers
/// -- --ignored write_fuzz_seeds`.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let seeds = repo().join("fuzz/seeds");
    let put = |target: &str, name: &str, bytes: &[u8]| {
        let d = seeds.join(target);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join(name), bytes).unwrap();
    };
    let zip = tiny_zip();
    put("zip_reader", "tiny.zip", &zip);
    put("sqlite_reader", "tiny.db", &tiny_sqlite());
    // sqlite_schema: edits (length, then `<row pick><SQL>` separated by byte 1), then
    // the file. Rows 1-16 of the tiny archive's sqlite_schema; a pick past them adds
    // an object (its type from pick / 16).
    let with_edits = |edits: &str| {
        let mut v = u16::try_from(edits.len()).unwrap().to_le_bytes().to_vec();
        v.extend_from_slice(edits.as_bytes());
        v.extend_from_slice(&tiny_sqlite());
        v
    };
    put("sqlite_schema", "tiny", &with_edits(""));
    put(
        "sqlite_schema",
        "generated-column",
        &with_edits("\u{2}CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value TEXT AS (hex(zeroblob(1000)))) WITHOUT ROWID"),
    );
    put(
        "sqlite_schema",
        "view-and-trigger",
        &with_edits("\u{3f}CREATE VIEW v AS SELECT 1\u{1}\u{2f}CREATE TRIGGER t AFTER INSERT ON meta BEGIN SELECT 1; END"),
    );
    let manifest = {
        let mut z = zip::ZipArchive::new(Cursor::new(&zip[..])).unwrap();
        let mut f = z.by_name(MANIFEST_NAME).unwrap();
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut v).unwrap();
        v
    };
    put("manifest", "tiny.json", &manifest);
    put(
        "manifest",
        "compact.json",
        br#"{"format":"sila-store-zip","version":1,"files":[{"path":"sila.md","size":1,"sha256":"0000000000000000000000000000000000000000000000000000000000000000"}]}"#,
    );
    let w = tiny_workspace();
    for (i, (path, bytes)) in w
        .files
        .iter()
        .filter(|(p, _)| p.ends_with(".jsonl"))
        .enumerate()
    {
        let kind = if path.ends_with("-m.jsonl") {
            0
        } else if path.ends_with("-p.jsonl") {
            1
        } else {
            2
        };
        let mut v = vec![kind];
        v.extend_from_slice(bytes);
        put("ops_line", &format!("tiny-{i}"), &v);
    }
    put(
        "ops_line",
        "odd",
        b"\x01[1,\"0\",\"k\",1e400]\n\"[2,\\\"0\\\",\\\"k\\\",2]\"\n\x00[3,\"0\",\"k\",\"\xe2\x80\xa8\"]\r\n\n[9007199254740991,\"0\",\"k\",-0]",
    );
    let mut secrets_a = vec![0u8];
    secrets_a.extend_from_slice(&w.files["space-v1/secrets"]);
    put("secrets", "variant-a", &secrets_a);
    let b = encrypt(
        FUZZ_SPACE_ID,
        &[("k".into(), "v \"☃\"".into())],
        [2; 12],
        KeyVariant::Sha256OfSpaceId,
    )
    .unwrap();
    let mut secrets_b = vec![0u8];
    secrets_b.extend_from_slice(b.as_bytes());
    put("secrets", "variant-b", &secrets_b);
    // Recipes of tree ops (see `recipe_ops`): a chain of 256 moves under the root; one
    // of 61 newest first and delivered in reverse; a chain with a move closing a cycle
    // and an old move; fan-outs re-parented one by one (in order, and newest first
    // reversed); a mix.
    for (name, recipe) in [
        ("chain", &[0, 0, 255, 1, 2, 255, 0, 0][..]),
        ("chain-newest-first-reversed", &[0, 0, 255, 1, 2, 60, 0, 3]),
        (
            "chain-with-cycle",
            &[0, 0, 255, 1, 2, 100, 0, 4, 0, 0, 5, 170],
        ),
        (
            "fanout-reparented",
            &[0, 0, 255, 1, 0, 1, 0, 2, 3, 200, 0, 0, 3, 60, 1, 3],
        ),
        (
            "mixed",
            &[
                0, 0, 255, 1, 1, 0, 0, 7, 0, 2, 0, 3, 0, 3, 2, 4, 5, 3, 253, 0, 4, 1, 0, 0, 0, 2,
                3, 200, 1, 3, 1, 9, 2, 20, 2, 6, 0, 0, 254, 9,
            ],
        ),
    ] {
        put("reptree_ops", name, recipe);
    }
    put(
        "secrets",
        "pairs",
        "\u{1}13e6fe9fcda64da2bd37cdf89a15a155\u{1}api-key\u{1}sk-\u{1}\u{1}\u{2028}".as_bytes(),
    );
}
