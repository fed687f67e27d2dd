//! Workspaces Sila could leave behind that are not tidy: odd lines, files without a
//! trailing newline, empty files, unknown files, big blobs. All carried byte for byte.

use std::fs;

use sila_store_core::inspect;
use sila_store_native::with_source;
use sila_store_tests::{
    add_cas_file, copy_dir, fixtures_dir, incompressible, roundtrip_both_ways, sha256_listing,
    write_sqlite_v1, TempDir,
};

#[test]
fn odd_lines_and_files_survive() {
    let t = TempDir::new();
    let ws = t.join("ws");
    copy_dir(&fixtures_dir().join("getting-started"), &ws);
    let ops = ws.join("space-v1/ops/ab/cdef0123456789abcdef0123456789/2026/01/02");
    fs::create_dir_all(&ops).unwrap();
    // Every kind of line Sila might skip or a hand edit might leave.
    fs::write(
        ops.join("peer1-p.jsonl"),
        concat!(
            "[1,\"0\",\"_c\",\"2026-01-02T00:00:00.000Z\"]\n",
            "\n",
            "[2, \"0\", \"k\", 1]\n",
            "[3,\"0\",\"k\",1]\r\n",
            "not json at all\n",
            "\"[4,\\\"0\\\",\\\"k\\\",2]\"\n",
            "[5,\"0\",\"k\",{\"b\":1,\"a\":[1e+21,5e-7,-0,0.30000000000000004]}]\n",
            "[6,\"0\",\"k\",\"\u{2028}\u{2029}\\u0001 😀 中文\"]\n",
            "[7,\"0\",\"k\",{}]\n",
            "[8,\"0\",\"k\",[]]\n",
            "[9,\"0\",\"k\",null]\n",
            "\u{0}[10,\"0\",\"k\",true]\n",
            "[11,\"0\",\"k\",false]",
        ),
    )
    .unwrap();
    fs::write(ops.join("peer1-m.jsonl"), "").unwrap();
    fs::write(
        ops.join("peer2-m.jsonl"),
        "[1,\"0\",null]\n[3,\"x\",\"0\"]\n[2,\"x\",null]",
    )
    .unwrap();
    fs::write(
        ops.join("legacy-peer.jsonl"),
        "[\"m\",1,\"0\",null]\n[\"p\",2,\"0\",\"_c\",\"x\"]\n[\"q\",3]\n",
    )
    .unwrap();
    // Unknown files anywhere, empty ones, a non-hash name in the CAS folder.
    fs::write(ws.join(".DS_Store"), b"\0\x01binary").unwrap();
    fs::create_dir_all(ws.join("space-v1/files/static/sha256/zz")).unwrap();
    fs::write(
        ws.join("space-v1/files/static/sha256/zz/not-a-hash"),
        b"odd",
    )
    .unwrap();
    fs::write(ws.join("space-v1/empty"), b"").unwrap();
    fs::write(ws.join("space-v1/ops/README"), b"notes").unwrap();
    fs::create_dir_all(ws.join("space-v1/files/var/uuid/0f")).unwrap();
    fs::write(
        ws.join("space-v1/files/var/uuid/0f/8FAD5BD9CB469FA16570867728950E"),
        b"upper-case id",
    )
    .unwrap();
    roundtrip_both_ways(&ws, &t);
    let r = with_source(&t.join("a.db"), |s| Ok(inspect::verify(s, &mut |_| {}))).unwrap();
    assert!(r.ok, "{:?}", r.errors);
    assert!(
        r.warnings.iter().any(|w| w.code == "InvalidOpLine"),
        "{:?}",
        r.warnings
    );
    // Format 1 (one row per line) stored the odd lines raw, the tidy ones structured,
    // and gives every byte back.
    write_sqlite_v1(&ws, &t.join("v1.db"));
    sila_store_native::convert(
        &t.join("v1.db"),
        &t.join("v1"),
        Default::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(sha256_listing(&ws), sha256_listing(&t.join("v1")));
    let c = rusqlite::Connection::open(t.join("v1.db")).unwrap();
    let raw: i64 = c
        .query_row(
            "SELECT count(*) FROM tree_ops WHERE raw IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let structured: i64 = c
        .query_row(
            "SELECT count(*) FROM tree_ops WHERE raw IS NULL AND tree_id = 'abcdef0123456789abcdef0123456789'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        raw, 7,
        "blank, spaced, \\r, not json, quoted, NUL-prefixed, legacy q"
    );
    assert_eq!(structured, 7 + 3 + 2);
}

#[test]
fn large_blob_streams_through_every_format() {
    // 24 MiB of incompressible bytes in a mutable file and a CAS file: more than one
    // chunk, stored (not deflated), and read back in pieces.
    let t = TempDir::new();
    let ws = t.join("ws");
    copy_dir(&fixtures_dir().join("getting-started"), &ws);
    let big = incompressible(24 << 20, 0x9e3779b97f4a7c15);
    add_cas_file(&ws, &big);
    fs::create_dir_all(ws.join("space-v1/files/var/uuid/12")).unwrap();
    fs::write(
        ws.join("space-v1/files/var/uuid/12/3456789abcdef0123456789abcdef0"),
        &big[..(5 << 20) + 7],
    )
    .unwrap();
    roundtrip_both_ways(&ws, &t);
    let c = rusqlite::Connection::open(t.join("a.db")).unwrap();
    let (chunks, deflated): (i64, i64) = c
        .query_row(
            "SELECT count(*), sum(deflated) FROM file_chunks WHERE path LIKE '%static%'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((chunks, deflated), (24, 0));
}
