//! Property-based round trips: arbitrary workspaces (random trees, days and peers; ops
//! files of every kind holding moves, property sets with every JSON value type —
//! unicode, escapes, raw U+2028, huge numbers, nested objects, `{}` and `[]`
//! deletions —, legacy tagged lines, lines kept raw, empty files, files without a
//! trailing newline; CAS and mutable blobs; `secrets`; unknown files) go through every
//! pair of formats and come back byte for byte.
//!
//! `every_pair_of_formats_in_memory` runs the codec itself (plain in memory, SQLite in
//! memory, ZIP in a buffer): 9 routes per workspace, and `getOperations` compared
//! between the indexed SQLite query and the plain files. `every_pair_of_formats_on_disk`
//! runs the native `convert` (temporary name, verify, rename) over real files, for
//! fewer workspaces. More cases: `SILA_STORE_PROPTEST_CASES=5000 cargo test --release
//! -p sila-store-tests --test properties`. A failing case is shrunk and its seed kept
//! in `tests/tests/properties.proptest-regressions`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Cursor;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use sila_store_core::archive::sqlite::{SqliteSink, SqliteSource};
use sila_store_core::archive::zip::{ZipSink, ZipSource};
use sila_store_core::convert::copy_all;
use sila_store_core::entries::EntrySource;
use sila_store_core::ids::{Sha256Hex, TreeId};
use sila_store_core::layout::{EntryKind, SILA_MD_TEXT};
use sila_store_core::memory::MemoryWorkspace;
use sila_store_native::{convert, ConvertOptions};
use sila_store_tests::{for_each_file, TempDir};

fn cases(default: u32) -> u32 {
    std::env::var("SILA_STORE_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------
// What a workspace is made of.

/// JSON text of any type, as `JSON.stringify` or a person might have written it.
fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::to_string(&f).expect("number")),
        prop::sample::select(vec![
            "1e+21",
            "-0",
            "0.30000000000000004",
            "5e-324",
            "1.7976931348623157e308",
            "123456789012345678901234567890",
            "1E400",
            "-1e-400",
            "9007199254740993",
        ])
        .prop_map(str::to_string),
        // Strings with every character, escaped as JSON.stringify does.
        any::<String>().prop_map(|s| serde_json::to_string(&s).expect("string")),
        // Strings with raw non-ASCII, U+2028/U+2029 and emoji left unescaped.
        "[^\"\\\\\\x00-\\x1f]{0,12}".prop_map(|s| format!("\"{s}\"")),
        Just("\"\u{2028}\u{2029} 😀 中文\"".to_string()),
        // Deletions.
        Just("{}".to_string()),
        Just("[]".to_string()),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(("[a-z_é]{0,6}", inner), 0..5).prop_map(|v| {
                let body: Vec<String> = v
                    .iter()
                    .map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).expect("key")))
                    .collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    })
}

/// A vertex id or key Sila would write between quotes (no escaping needed), or "0".
fn plain_id() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        "[0-9a-f]{32}",
        "[a-zA-Z0-9_ é中-]{0,8}",
    ]
}

fn counter() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..100, 0u64..(1 << 53), Just((1u64 << 53) - 1)]
}

/// One line of an ops file: canonical moves and property sets (legacy tagged ones
/// mostly in legacy files, current ones mostly in the others), and every kind of line
/// that is kept raw.
fn line(legacy: bool) -> impl Strategy<Value = String> {
    let parent = prop_oneof![
        Just("null".to_string()),
        plain_id().prop_map(|p| format!("\"{p}\""))
    ];
    let (current, tagged) = if legacy { (1, 8) } else { (8, 1) };
    prop_oneof![
        current => (counter(), plain_id(), parent.clone())
            .prop_map(|(c, t, p)| format!("[{c},\"{t}\",{p}]")),
        current => (counter(), plain_id(), plain_id(), json_value())
            .prop_map(|(c, t, k, v)| format!("[{c},\"{t}\",\"{k}\",{v}]")),
        tagged => (counter(), plain_id(), parent).prop_map(|(c, t, p)| format!("[\"m\",{c},\"{t}\",{p}]")),
        tagged => (counter(), plain_id(), plain_id(), json_value())
            .prop_map(|(c, t, k, v)| format!("[\"p\",{c},\"{t}\",\"{k}\",{v}]")),
        // Raw: odd spacing, \r, quoted lines, NULs, counters out of range or with a
        // leading zero, ids that need escaping, text that is not JSON at all.
        1 => Just(String::new()),
        1 => (counter(), plain_id()).prop_map(|(c, t)| format!("[{c}, \"{t}\", null]")),
        1 => (counter(), plain_id()).prop_map(|(c, t)| format!("[{c},\"{t}\",null]\r")),
        1 => (counter(), plain_id()).prop_map(|(c, t)| format!("\"[{c},\\\"{t}\\\",null]\"")),
        1 => (counter(), plain_id()).prop_map(|(c, t)| format!("\0[{c},\"{t}\",null]")),
        1 => ((1u64 << 53)..u64::MAX).prop_map(|c| format!("[{c},\"0\",null]")),
        1 => counter().prop_map(|c| format!("[0{c},\"0\",null]")),
        1 => any::<String>().prop_map(|t| format!("[1,{},null]", serde_json::to_string(&t).expect("id"))),
        1 => (plain_id(), json_value()).prop_map(|(k, v)| format!("[1,\"0\",\"{k}\", {v}]")),
        1 => "[^\n]{0,40}",
    ]
}

/// The bytes of an ops file: lines, with or without a trailing newline (none at all:
/// an empty file).
fn ops_file(legacy: bool) -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(line(legacy), 0..7), any::<bool>()).prop_map(|(lines, nl)| {
        let mut s = lines.join("\n");
        if nl && !lines.is_empty() {
            s.push('\n');
        }
        s.into_bytes()
    })
}

/// An ops file: its path (any tree, day folder and peer Sila's reader accepts) and
/// its bytes.
fn ops_file_at() -> impl Strategy<Value = (String, Vec<u8>)> {
    (
        "[a-z0-9]{3,12}",
        "[0-9]{4}",
        "[0-9]{2}",
        "[0-9]{2}",
        "[a-zA-Z0-9_-]{1,12}",
        prop::sample::select(vec!["-m.jsonl", "-p.jsonl", ".jsonl"]),
    )
        // A legacy `<peer>.jsonl` whose peer is `-m` or `-p` is `-m.jsonl` / `-p.jsonl`:
        // a new-style name with an empty peer, which the reader refuses (InvalidId).
        .prop_filter("no empty peer", |(_, _, _, _, peer, suffix)| {
            !(*suffix == ".jsonl" && (peer == "-m" || peer == "-p"))
        })
        .prop_flat_map(|(t, y, m, d, peer, suffix)| {
            let path = format!(
                "space-v1/ops/{}/{}/{y}/{m}/{d}/{peer}{suffix}",
                &t[..2],
                &t[2..]
            );
            (Just(path), ops_file(suffix == ".jsonl"))
        })
}

fn other_path() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ._é-]{1,10}"
            .prop_filter("not . or ..", |n| n != "." && n != "..")
            .prop_map(|n| format!("x-other/{n}")),
        Just(".DS_Store".to_string()),
        Just("space-v1/files/static/sha256/zz/not-a-hash".to_string()),
        Just("space-v1/ops/README".to_string()),
        Just("space-v1/ops/ab/cdef/2026/1/2/x-m.jsonl".to_string()),
    ]
}

/// A whole workspace, never without `space-v1/`.
fn workspace() -> impl Strategy<Value = MemoryWorkspace> {
    let bytes = |n| prop::collection::vec(any::<u8>(), 0..n);
    (
        prop::option::of(prop_oneof![
            Just(SILA_MD_TEXT.as_bytes().to_vec()),
            bytes(64)
        ]),
        prop::option::of("[a-z0-9]{3,12}"),
        prop::option::of(bytes(80)),
        prop::collection::vec(ops_file_at(), 0..8),
        prop::collection::vec(bytes(3000), 0..4),
        prop::collection::vec(("[0-9a-fA-F]{32}", bytes(200)), 0..3),
        prop::collection::vec((other_path(), bytes(100)), 0..3),
    )
        .prop_map(|(sila_md, space, secrets, ops, cas, mutable, other)| {
            let mut w = MemoryWorkspace::new();
            if let Some(b) = sila_md {
                w.insert("sila.md", b);
            }
            if let Some(id) = space {
                w.insert("space-v1/space.json", format!("{{\"id\":\"{id}\"}}"));
            }
            if let Some(b) = secrets {
                w.insert("space-v1/secrets", b);
            }
            for (p, b) in ops {
                w.insert(&p, b);
            }
            for b in cas {
                let h = Sha256Hex::of(&b);
                let h = h.as_str();
                w.insert(
                    &format!("space-v1/files/static/sha256/{}/{}", &h[..2], &h[2..]),
                    b,
                );
            }
            for (u, b) in mutable {
                w.insert(
                    &format!("space-v1/files/var/uuid/{}/{}", &u[..2], &u[2..]),
                    b,
                );
            }
            for (p, b) in other {
                w.insert(&p, b);
            }
            // A folder is a Sila workspace only with a `space-v1/` folder (the folder
            // reader refuses anything else): never generate one without.
            if !w.files.keys().any(|p| p.starts_with("space-v1/")) {
                w.insert("space-v1/space.json", "{\"id\":\"fallback\"}");
            }
            w
        })
}

// ---------------------------------------------------------------------------------
// The formats in memory.

#[derive(Clone, Copy, Debug)]
enum Fmt {
    Plain,
    Sqlite,
    Zip,
}

const FORMATS: [Fmt; 3] = [Fmt::Plain, Fmt::Sqlite, Fmt::Zip];

enum Stored {
    Plain(MemoryWorkspace),
    Sqlite(rusqlite::Connection),
    Zip(Vec<u8>),
}

fn store(source: &mut dyn EntrySource, to: Fmt) -> Stored {
    match to {
        Fmt::Plain => {
            let mut w = MemoryWorkspace::new();
            copy_all(source, &mut w, &mut |_| {}).expect("to plain");
            Stored::Plain(w)
        }
        Fmt::Sqlite => {
            let conn = rusqlite::Connection::open_in_memory().expect("SQLite");
            {
                let mut sink = SqliteSink::new(&conn, source.format()).expect("sink");
                copy_all(source, &mut sink, &mut |_| {}).expect("to SQLite");
            }
            Stored::Sqlite(conn)
        }
        Fmt::Zip => {
            let mut sink = ZipSink::new(Cursor::new(Vec::new()));
            copy_all(source, &mut sink, &mut |_| {}).expect("to ZIP");
            Stored::Zip(sink.into_inner().expect("finish").into_inner())
        }
    }
}

fn read<T>(stored: &mut Stored, f: impl FnOnce(&mut dyn EntrySource) -> T) -> T {
    match stored {
        Stored::Plain(w) => f(w),
        Stored::Sqlite(conn) => {
            let mut s = SqliteSource::new(conn).expect("open SQLite");
            assert_eq!(
                s.check_container().expect("integrity"),
                Vec::<String>::new()
            );
            f(&mut s)
        }
        Stored::Zip(bytes) => f(&mut ZipSource::new(Cursor::new(&bytes[..])).expect("open ZIP")),
    }
}

fn trees_of(w: &mut MemoryWorkspace) -> Vec<TreeId> {
    let mut trees: Vec<TreeId> = w
        .entries()
        .expect("entries")
        .into_iter()
        .filter_map(|e| match e.kind {
            EntryKind::OpsFile(k) => Some(k.tree),
            _ => None,
        })
        .collect();
    trees.dedup();
    trees
}

proptest! {
    #![proptest_config(config(cases(256)))]

    #[test]
    fn every_pair_of_formats_in_memory(mut ws in workspace()) {
        for a in FORMATS {
            let mut first = store(&mut ws, a);
            for b in FORMATS {
                let mut second = read(&mut first, |s| store(s, b));
                let back = read(&mut second, |s| match store(s, Fmt::Plain) {
                    Stored::Plain(w) => w,
                    _ => unreachable!(),
                });
                prop_assert!(back.files == ws.files, "plain → {a:?} → {b:?} → plain changed the workspace");
            }
            // getOperations: the same lines whatever the format (SQLite answers from its index).
            for tree in trees_of(&mut ws) {
                let want = ws.get_operations(&tree, None, None).expect("plain ops");
                let got = read(&mut first, |s| s.get_operations(&tree, None, None)).expect("ops");
                prop_assert_eq!(got, want, "getOperations on {:?}", a);
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// The native conversion over real files.

fn write_folder(w: &MemoryWorkspace, root: &Path) {
    for (p, b) in &w.files {
        let at = root.join(p);
        fs::create_dir_all(at.parent().expect("parent")).expect("mkdir");
        fs::write(at, b).expect("write");
    }
}

fn read_folder(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for_each_file(root, &mut |rel, p| {
        out.insert(rel, fs::read(p).expect("read"));
    });
    out
}

proptest! {
    #![proptest_config(config(cases(24)))]

    #[test]
    fn every_pair_of_formats_on_disk(ws in workspace()) {
        let t = TempDir::new();
        let src = t.join("src");
        write_folder(&ws, &src);
        let name = |f: Fmt, n: &str| match f {
            Fmt::Plain => t.join(n),
            Fmt::Sqlite => t.join(&format!("{n}.db")),
            Fmt::Zip => t.join(&format!("{n}.zip")),
        };
        let conv = |a: &Path, b: &Path| {
            convert(a, b, ConvertOptions::default(), &mut |_| {})
                .unwrap_or_else(|e| panic!("convert {} -> {}: {e}", a.display(), b.display()));
        };
        for a in FORMATS {
            for b in FORMATS {
                let first = name(a, &format!("a-{a:?}"));
                let second = name(b, &format!("b-{a:?}-{b:?}"));
                let back = t.join(&format!("back-{a:?}-{b:?}"));
                if !first.exists() {
                    conv(&src, &first);
                }
                conv(&first, &second);
                conv(&second, &back);
                prop_assert!(read_folder(&back) == ws.files, "{a:?} → {b:?} changed the workspace");
            }
        }
    }
}
