//! What the fuzz targets check, one function per target. The fuzz crate (`fuzz/`)
//! includes this file by path, and `tests/fuzz_crashers.rs` runs every input kept in
//! `tests/fuzz-crashers/<target>/` and every seed in `fuzz/seeds/<target>/` through the
//! same function, so an input that once broke a decoder stays a regression test.
//!
//! Each function takes arbitrary bytes and must never panic. Bad input must give a
//! typed error; good input must survive a round trip:
//!
//! * `ops_line`: the first byte picks the file kind (moves, props, legacy), the rest is
//!   an ops file. Splitting and joining gives back the same bytes; every line encodes
//!   back to itself (`encode(decode(x)) == x`, structured or raw); Sila's reading rules
//!   and the RepTree rebuild run on it.
//! * `zip_reader` / `sqlite_reader`: the bytes are an archive file. If every entry reads
//!   back checked, the workspace is written to the other formats and read back
//!   unchanged, and our encoding is a fixed point: `encode(decode(e)) == e` for
//!   `e = encode(decode(x))` (a foreign archive, or one with odd compression, cannot
//!   come back byte for byte; one this build wrote does, as `tests/fuzz_crashers.rs`
//!   checks).
//! * `sqlite_schema`: a whole SQLite archive file and edits of its schema: the first two
//!   bytes (little endian) give the length of the edits, then the edits, then the file
//!   (the seed is the tiny archive). Each edit (separated by byte 1) replaces the SQL
//!   text of one `sqlite_schema` row, or adds an object (table, index, view, trigger),
//!   through `PRAGMA writable_schema`. Reading must never write beside the file, and if
//!   the reader accepts the archive, its schema is exactly the one this version writes
//!   (then the round trips of `sqlite_reader` apply).
//! * `manifest`: the bytes are a ZIP manifest; a valid one re-encodes to a fixed point.
//! * `reptree_ops`: the bytes are a recipe of tree ops, deep and wide: single moves
//!   and properties, chains of up to 256 moves (in order, reversed, 32 newest
//!   first), fan-outs re-parented child by child, moves that would close a cycle,
//!   duplicates, peers racing. The RepTree port must build the same tree with its
//!   link-cut forest as with RepTree's own walk up the parents, and never panic.
//! * `secrets`: the first byte picks decrypt-arbitrary-bytes or encrypt-then-decrypt of
//!   arbitrary names and values; a decrypted file re-encrypts (same key variant) to a
//!   fixed point.
//!
//! Memory: the fuzz script runs libFuzzer with `-malloc_limit_mb` and `-rss_limit_mb`,
//! so any allocation the input can inflate beyond the limits is a crash.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use sila_store_core::archive::sqlite::{SqliteSink, SqliteSource};
use sila_store_core::archive::zip::{Manifest, ZipSink, ZipSource};
use sila_store_core::convert::copy_all;
use sila_store_core::entries::{listing, EntrySource, Listing, Operation};
use sila_store_core::ids::{Day, PeerId, Sha256Hex, TreeId};
use sila_store_core::inspect;
use sila_store_core::layout::OpsFileKey;
use sila_store_core::memory::MemoryWorkspace;
use sila_store_core::model::{sila_tree_op, vertex_list};
use sila_store_core::ops::{encode_line, parse_line, OpLine, OpsFileKind, OpsText};
use sila_store_core::reptree::RepTree;
use sila_store_core::secrets::{self, KeyVariant};
use sila_store_core::Error;

/// The check of a fuzz target: panics on a failed property.
pub type Check = fn(&[u8]);

/// Every target: its name (the folder under `fuzz/seeds/` and `tests/fuzz-crashers/`)
/// and its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("ops_line", ops_line),
    ("zip_reader", zip_reader),
    ("sqlite_reader", sqlite_reader),
    ("sqlite_schema", sqlite_schema),
    ("manifest", manifest),
    ("secrets", secrets),
    ("reptree_ops", reptree_ops),
];

const KINDS: [OpsFileKind; 3] = [OpsFileKind::Moves, OpsFileKind::Props, OpsFileKind::Legacy];

/// The ops line codec and Sila's reading rules on an arbitrary ops file.
pub fn ops_line(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let kind = KINDS[usize::from(selector) % 3];
    let text = match OpsText::split(body) {
        Ok(t) => t,
        Err(line) => {
            // The error names the first line that is not UTF-8.
            let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
            let i = usize::try_from(line).expect("line number") - 1;
            assert!(
                std::str::from_utf8(lines[i]).is_err(),
                "line {line} is UTF-8"
            );
            assert!(lines[..i].iter().all(|l| std::str::from_utf8(l).is_ok()));
            return;
        }
    };
    assert_eq!(
        OpsText::join(&text.lines, text.trailing_newline).as_bytes(),
        body,
        "split/join changed the file"
    );
    let key = OpsFileKey {
        tree: TreeId::new("fuzztree").expect("tree id"),
        day: Day::parse("2026-01-02").expect("day"),
        peer: PeerId::new("fuzzpeer").expect("peer id"),
        kind,
    };
    let mut ops = Vec::new();
    for line in &text.lines {
        let op = parse_line(line, kind);
        let mut again = String::new();
        encode_line(&op, kind, &mut again);
        assert_eq!(&again, line, "encode(decode(line)) differs");
        match op {
            OpLine::Move {
                counter,
                target,
                parent,
            } => {
                assert!(counter < 1 << 53);
                assert!(plain(target) && parent.is_none_or(plain));
            }
            OpLine::Prop {
                counter,
                target,
                key,
                value,
            } => {
                assert!(counter < 1 << 53);
                assert!(plain(target) && plain(key));
                assert!(serde_json::from_str::<&serde_json::value::RawValue>(value).is_ok());
            }
            OpLine::Raw(_) => {}
        }
        let _ = Operation::new(&key, line).to_json();
        ops.extend(sila_tree_op(line, kind, "fuzzpeer"));
    }
    let tree = RepTree::from_ops(ops);
    let _ = vertex_list(&tree);
}

/// What a structured line's ids and keys must be: text Sila interpolates between
/// quotes without escaping.
fn plain(s: &str) -> bool {
    !s.contains(['"', '\\']) && !s.chars().any(|c| (c as u32) < 0x20)
}

/// Reads every entry of `source`, checked; `None` if the workspace is not valid.
fn read_valid(source: &mut dyn EntrySource) -> Option<Listing> {
    listing(source, &mut |_| {}).ok()
}

/// Everything a reader of any format offers, on a source that opened: none may panic.
fn exercise(source: &mut dyn EntrySource) {
    let _ = source.check_container();
    let _ = inspect::info(source);
    let _ = inspect::verify(source, &mut |_| {});
    if let Ok(entries) = source.entries() {
        let trees: std::collections::BTreeSet<TreeId> = entries
            .iter()
            .filter_map(|e| match &e.kind {
                sila_store_core::layout::EntryKind::OpsFile(k) => Some(k.tree.clone()),
                _ => None,
            })
            .collect();
        for t in trees.iter().take(4) {
            let _ = source.get_operations(t, None, None);
        }
    }
}

/// A valid workspace through the other formats: what comes back is what went in.
/// Every reader check on a source: no panic anywhere, and if it is a valid, non-empty
/// workspace, the same files through every format. Returns whether it was one.
fn decodes_and_round_trips(source: &mut dyn EntrySource) -> bool {
    exercise(source);
    match read_valid(source) {
        Some(expected) if !expected.is_empty() => {
            through_every_format(source, &expected);
            true
        }
        _ => false,
    }
}

fn through_every_format(source: &mut dyn EntrySource, expected: &Listing) {
    let mut memory = MemoryWorkspace::new();
    copy_all(source, &mut memory, &mut |_| {}).expect("a valid workspace copies");
    assert_eq!(
        &read_valid(&mut memory).expect("memory copy reads"),
        expected
    );
    let zip = to_zip(&mut memory);
    let mut z = ZipSource::new(Cursor::new(&zip[..])).expect("our ZIP opens");
    assert_eq!(&read_valid(&mut z).expect("our ZIP reads"), expected);
    let conn = to_sqlite(&mut memory);
    let mut s = SqliteSource::new(&conn).expect("our SQLite opens");
    assert_eq!(&read_valid(&mut s).expect("our SQLite reads"), expected);
    assert!(s.check_container().expect("integrity").is_empty());
}

fn to_zip(source: &mut dyn EntrySource) -> Vec<u8> {
    let mut sink = ZipSink::new(Cursor::new(Vec::new()));
    copy_all(source, &mut sink, &mut |_| {}).expect("write ZIP");
    sink.into_inner().expect("finish ZIP").into_inner()
}

fn to_sqlite(source: &mut dyn EntrySource) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open_in_memory().expect("in-memory SQLite");
    {
        let mut sink = SqliteSink::new(&conn, source.format()).expect("SQLite sink");
        copy_all(source, &mut sink, &mut |_| {}).expect("write SQLite");
    }
    conn
}

/// The ZIP reader on arbitrary bytes.
pub fn zip_reader(data: &[u8]) {
    let Ok(mut source) = ZipSource::new(Cursor::new(data)) else {
        return;
    };
    if !decodes_and_round_trips(&mut source) {
        return;
    }
    // Our encoding is a fixed point.
    let once = to_zip(&mut source);
    let twice = to_zip(&mut ZipSource::new(Cursor::new(&once[..])).expect("our ZIP opens"));
    assert!(once == twice, "ZIP re-encoding is not a fixed point");
}

static DB_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A database file of its own for this call, removed on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new(bytes: &[u8]) -> Self {
        let p = std::env::temp_dir().join(format!(
            "sila-store-fuzz-{}-{}.db",
            std::process::id(),
            DB_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&p, bytes).expect("write temporary database");
        TempDb(p)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

fn open_read_only(p: &std::path::Path) -> sila_store_core::Result<rusqlite::Connection> {
    // As the native host opens archives (`open_sqlite_read_only`): read-only, immutable,
    // limits lowered, work bounded.
    sila_store_core::archive::sqlite::open_untrusted(p)
}

/// The SQLite reader on arbitrary bytes, fed as a database file.
pub fn sqlite_reader(data: &[u8]) {
    let db = TempDb::new(data);
    let Ok(conn) = open_read_only(&db.0) else {
        return;
    };
    let Ok(mut source) = SqliteSource::new(&conn) else {
        return;
    };
    if !decodes_and_round_trips(&mut source) {
        return;
    }
    // Our encoding is a fixed point: the database bytes, written twice, are the same.
    let once = sqlite_file(&mut source);
    let db1 = TempDb::new(&once);
    let conn1 = open_read_only(&db1.0).expect("our SQLite opens");
    let twice = sqlite_file(&mut SqliteSource::new(&conn1).expect("our SQLite reads"));
    assert!(once == twice, "SQLite re-encoding is not a fixed point");
}

/// Files SQLite may put beside a database.
const SIDE_FILES: [&str; 3] = ["-journal", "-wal", "-shm"];

fn beside(db: &std::path::Path, suffix: &str) -> PathBuf {
    let mut p = db.to_path_buf().into_os_string();
    p.push(suffix);
    PathBuf::from(p)
}

/// `type, name, tbl_name, sql` of every object of a schema, in order.
fn schema_rows(conn: &rusqlite::Connection) -> Vec<(String, String, String, Option<String>)> {
    let mut st = conn
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name")
        .expect("schema query");
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("schema rows")
        .collect::<rusqlite::Result<_>>()
        .expect("schema rows")
}

/// Applies the schema edits of `sqlite_schema` to the database at `p` (writable), with
/// the statements fixed and the edits as parameters; errors are ignored (the edit
/// simply does not happen).
fn edit_schema(p: &std::path::Path, edits: &[u8]) {
    let Ok(mut conn) = rusqlite::Connection::open(p) else {
        return;
    };
    // Edits may make SQLite parse anything: bound it as a reader is bounded.
    if sila_store_core::archive::sqlite::harden(&mut conn).is_err() {
        return;
    }
    let _ = conn.execute_batch("PRAGMA writable_schema = ON");
    let text = String::from_utf8_lossy(edits);
    for (i, edit) in text.split('\u{1}').enumerate().take(8) {
        let mut chars = edit.chars();
        let Some(pick) = chars.next() else {
            continue;
        };
        let sql: String = chars.collect();
        let pick = pick as u32;
        let rowid = i64::from(pick % 16) + 1;
        let changed = conn
            .execute(
                "UPDATE sqlite_schema SET sql = ?1 WHERE rowid = ?2",
                rusqlite::params![sql, rowid],
            )
            .unwrap_or(0);
        if changed == 0 {
            let kind = ["table", "index", "view", "trigger"][(pick / 16 % 4) as usize];
            let _ = conn.execute(
                "INSERT INTO sqlite_schema(type, name, tbl_name, rootpage, sql)
                 VALUES (?1, ?2, 'meta', 0, ?3)",
                rusqlite::params![kind, format!("fuzz{i}"), sql],
            );
        }
    }
    drop(conn);
    for suffix in SIDE_FILES {
        let _ = std::fs::remove_file(beside(p, suffix));
    }
}

/// The SQLite reader on a whole archive file with edits of its schema.
pub fn sqlite_schema(data: &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let n = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (edits, file) = rest.split_at(n);
    let db = TempDb::new(file);
    edit_schema(&db.0, edits);
    let accepted = match open_read_only(&db.0) {
        Ok(conn) => match SqliteSource::new(&conn) {
            Ok(mut source) => {
                decodes_and_round_trips(&mut source);
                true
            }
            Err(_) => false,
        },
        Err(_) => false,
    };
    for suffix in SIDE_FILES {
        assert!(
            !beside(&db.0, suffix).exists(),
            "reading wrote {suffix} beside the archive"
        );
    }
    if accepted {
        let expected = {
            let mem = rusqlite::Connection::open_in_memory().expect("in-memory SQLite");
            mem.execute_batch(sila_store_core::archive::sqlite::SCHEMA_V1)
                .expect("schema");
            schema_rows(&mem)
        };
        let conn = open_read_only(&db.0).expect("opened before");
        assert_eq!(
            schema_rows(&conn),
            expected,
            "an archive with another schema was read"
        );
    }
}

/// Writes `source` as a SQLite archive file and returns its bytes.
fn sqlite_file(source: &mut dyn EntrySource) -> Vec<u8> {
    let out = TempDb::new(b"");
    let _ = std::fs::remove_file(&out.0);
    {
        let conn = rusqlite::Connection::open(&out.0).expect("create SQLite");
        let mut sink = SqliteSink::new(&conn, "sqlite").expect("SQLite sink");
        copy_all(source, &mut sink, &mut |_| {}).expect("write SQLite");
        drop(sink);
        conn.close().map_err(|(_, e)| e).expect("close SQLite");
    }
    std::fs::read(&out.0).expect("read SQLite")
}

/// The ZIP manifest parser on arbitrary bytes.
pub fn manifest(data: &[u8]) {
    let Ok(m) = Manifest::parse(data) else {
        return;
    };
    for f in &m.files {
        // What `ZipSource::entries` makes of each listed file.
        let _ = Sha256Hex::new(&f.sha256)
            .and_then(|h| sila_store_core::entries::EntryMeta::new(&f.path, f.size, Some(h)));
    }
    let once = serde_json::to_vec_pretty(&m).expect("encode manifest");
    let back = Manifest::parse(&once).expect("our manifest parses");
    assert_eq!(back, m, "manifest changed in a round trip");
    let twice = serde_json::to_vec_pretty(&back).expect("encode manifest");
    assert_eq!(once, twice, "manifest encoding is not a fixed point");
}

/// The space id the `secrets` target decrypts with (32 bytes: key variant A works).
pub const FUZZ_SPACE_ID: &str = "13e6fe9fcda64da2bd37cdf89a15a155";

/// The `secrets` file decoder on arbitrary bytes, and encrypt/decrypt of arbitrary
/// names and values.
pub fn secrets(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        let Ok((pairs, variant)) = secrets::decrypt(FUZZ_SPACE_ID, body) else {
            return;
        };
        let iv = [7u8; 12];
        let once = secrets::encrypt(FUZZ_SPACE_ID, &pairs, iv, variant).expect("re-encrypt");
        let (again, v2) = secrets::decrypt(FUZZ_SPACE_ID, once.as_bytes()).expect("decrypt");
        assert_eq!((&again, v2), (&pairs, variant));
        let twice = secrets::encrypt(FUZZ_SPACE_ID, &again, iv, v2).expect("re-encrypt");
        assert_eq!(once, twice, "secrets encoding is not a fixed point");
        return;
    }
    // Names and values separated by 0x01, the first field the space id.
    let text = String::from_utf8_lossy(body);
    let mut fields = text.split('\u{1}');
    let space_id = fields.next().unwrap_or_default();
    let rest: Vec<&str> = fields.collect();
    let pairs: Vec<(String, String)> = rest
        .chunks(2)
        .map(|c| {
            (
                c[0].to_string(),
                c.get(1).copied().unwrap_or("").to_string(),
            )
        })
        .collect();
    let iv = [selector; 12];
    for variant in [KeyVariant::RawSpaceId, KeyVariant::Sha256OfSpaceId] {
        match secrets::encrypt(space_id, &pairs, iv, variant) {
            Ok(file) => {
                let (back, v) = secrets::decrypt(space_id, file.as_bytes()).expect("decrypt");
                assert_eq!(back, pairs, "secrets changed in a round trip");
                // Key A is tried first; a 32-byte id decrypts a key-B file only with B.
                assert!(v == variant || space_id.len() == 32);
            }
            Err(e) => {
                assert!(matches!(e, Error::Secrets(_)));
                assert!(variant == KeyVariant::RawSpaceId && space_id.len() != 32);
            }
        }
    }
}

/// The inputs kept in a folder (`fuzz/seeds/<target>`, `tests/fuzz-crashers/<target>`),
/// by file name; empty if the folder does not exist.
pub fn inputs_in(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_file() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || name == "README.md" {
                    continue;
                }
                out.insert(name, std::fs::read(&p).expect("read input"));
            }
        }
    }
    out
}

/// Largest number of ops a `reptree_ops` recipe expands to (the walking reference is
/// O(n²) on chains).
const MAX_RECIPE_OPS: usize = 4_000;

/// The ops a `reptree_ops` recipe describes: 4-byte records `[kind, a, b, c]`.
pub fn recipe_ops(data: &[u8]) -> Vec<sila_store_core::reptree::TreeOp> {
    use sila_store_core::reptree::{OpId, OpKind, TreeOp};
    let mut ops: Vec<TreeOp> = Vec::new();
    let mut clock: u64 = 1;
    let pool = |i: u8| -> String { format!("v{}", i % 24) };
    let parent_of = |b: u8| -> Option<String> {
        match b {
            255 => None,
            254 => Some(String::new()),
            253 => Some("0".into()),
            _ => Some(format!("v{}", b % 24)),
        }
    };
    let peer = |k: u8| ["pa", "pb", "pc"][usize::from(k >> 3) % 3].to_string();
    let mv = |counter: u64, peer: String, target: String, parent: Option<String>| TreeOp {
        id: OpId { counter, peer },
        target,
        kind: OpKind::Move { parent },
    };
    for (n, r) in data.chunks_exact(4).enumerate() {
        if ops.len() >= MAX_RECIPE_OPS {
            break;
        }
        let (k, a, b, c) = (r[0], r[1], r[2], r[3]);
        // Counters: mostly ahead of everything, sometimes old (out of order).
        let mut counter = |c: u8| {
            clock += 1;
            if c < 160 {
                clock
            } else {
                u64::from(c - 160)
            }
        };
        match k % 6 {
            0 => {
                let id = counter(c);
                ops.push(mv(id, peer(k), pool(a), parent_of(b)));
            }
            1 => {
                let id = counter(c);
                ops.push(TreeOp {
                    id: OpId {
                        counter: id,
                        peer: peer(k),
                    },
                    target: pool(a),
                    kind: OpKind::Set {
                        key: ["name", "_c", "main", "x"][usize::from(b % 4)].into(),
                        value: (c % 5 != 0).then(|| c.to_string()),
                    },
                });
            }
            2 | 3 => {
                // A chain of new vertices under `b`, or a fan-out of new children of
                // `b` then moved one by one under `c`.
                // Newest first costs RepTree a replay of the whole list per move
                // (O(n²) by design, bounded by REPLAY_BUDGET): kept short there, so
                // the walking reference stays within the fuzzer's time limit.
                let len = if c & 1 == 0 {
                    1 + usize::from(a)
                } else {
                    1 + usize::from(a / 8)
                };
                let names: Vec<String> = (0..len).map(|i| format!("n{n}-{i}")).collect();
                let mut chain: Vec<TreeOp> = (0..len)
                    .map(|i| {
                        let parent = if k % 6 == 3 || i == 0 {
                            parent_of(b)
                        } else {
                            Some(names[i - 1].clone())
                        };
                        mv(0, peer(k), names[i].clone(), parent)
                    })
                    .collect();
                if k % 6 == 3 {
                    chain.extend(
                        names
                            .iter()
                            .map(|t| mv(0, peer(k), t.clone(), parent_of(c))),
                    );
                }
                // Counters in order or newest first; delivery in order or reversed.
                for (i, op) in chain.iter_mut().enumerate() {
                    op.id.counter = if c & 1 == 0 {
                        clock + 1 + i as u64
                    } else {
                        clock + (len * 2 - i) as u64
                    };
                }
                clock += (len * 2 + 1) as u64;
                if c & 2 != 0 {
                    chain.reverse();
                }
                // A move that would close a cycle: the first under the last.
                if c & 4 != 0 && len > 1 {
                    clock += 1;
                    chain.push(mv(
                        clock,
                        peer(k),
                        names[0].clone(),
                        Some(names[len - 1].clone()),
                    ));
                }
                ops.extend(chain);
            }
            4 => {
                if let Some(op) = ops.get(usize::from(a) % ops.len().max(1)).cloned() {
                    ops.push(op);
                }
            }
            _ => {
                // Racing peers: the same target moved by two peers with one counter.
                let id = counter(c);
                ops.push(mv(id, "pa".into(), pool(a), parent_of(b)));
                ops.push(mv(id, "pb".into(), pool(a), parent_of(c)));
            }
        }
    }
    ops.truncate(MAX_RECIPE_OPS);
    ops
}

/// The RepTree port on a deep and wide op set: the link-cut forest must give the
/// tree RepTree's walk gives.
pub fn reptree_ops(data: &[u8]) {
    let ops = recipe_ops(data);
    let fast = RepTree::from_ops(ops.clone());
    let slow = RepTree::from_ops_walking(ops);
    assert_eq!(fast.overloaded(), slow.overloaded(), "budget differs");
    assert_eq!(
        fast.states(),
        slow.states(),
        "the forest and the walk built different trees"
    );
    assert_eq!(fast.root().map(|r| r.id()), slow.root().map(|r| r.id()));
    let _ = vertex_list(&fast);
    // The tree's snapshot reads back as the same tree and the same bytes.
    let bytes = fast.snapshot();
    assert_eq!(fast.snapshot_len(), bytes.len(), "snapshot_len");
    let back = RepTree::from_snapshot(&bytes).expect("a snapshot of ours reads back");
    assert_eq!(back.states(), fast.states(), "the snapshot is another tree");
    assert_eq!(back.state_vector(), fast.state_vector());
    assert_eq!(
        back.snapshot(),
        bytes,
        "the snapshot read back gives other bytes"
    );
    // The input itself, and the snapshot with the input spliced in, as snapshot bytes:
    // refused or read, never a panic; whatever reads is canonical.
    let mut spliced = bytes.clone();
    if !spliced.is_empty() {
        let at = usize::from(data.first().copied().unwrap_or(0)) % spliced.len();
        spliced.splice(
            at..(at + data.len().min(4)).min(spliced.len()),
            data.iter().copied().take(8),
        );
    }
    for candidate in [data, &spliced[..]] {
        if let Ok(t) = RepTree::from_snapshot(candidate) {
            assert_eq!(t.snapshot(), candidate, "a snapshot read is not canonical");
            let _ = vertex_list(&t);
            let _ = t.root().map(|r| t.children(r.id()));
        }
    }
}
