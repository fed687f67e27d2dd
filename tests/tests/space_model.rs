//! What `show` finds in every fixture: the chats and message counts Sila itself loads
//! (fixtures README), files, and the reference checks of `verify`, on every format.

use std::collections::BTreeSet;

use sila_store_core::inspect;
use sila_store_core::model::SpaceModel;
use sila_store_native::{convert, with_source, ConvertOptions};
use sila_store_tests::{all_fixtures, TempDir};

/// (fixture, chats listed, chats with ops, messages, reference warnings expected)
const EXPECTED: &[(&str, usize, usize, u64, &[&str])] = &[
    ("getting-started", 1, 0, 0, &["ChatTreeMissing"]),
    ("getting-started-complete", 1, 1, 4, &[]),
    ("citybean-coffee", 32, 31, 102, &["ChatTreeMissing"]),
    ("citybean-coffee-complete", 32, 32, 104, &[]),
    ("rich", 5, 5, 21, &["UnreferencedBlob"]),
    ("legacy", 2, 2, 13, &["UnreferencedBlob"]),
    (
        "citybean-coffee-wrong-space-id",
        32,
        31,
        102,
        &["ChatTreeMissing"],
    ),
];

#[test]
fn chats_and_messages_as_sila_loads_them_on_every_format() {
    for fx in all_fixtures() {
        let name = fx.file_name().unwrap().to_str().unwrap();
        let &(_, chats, with_ops, messages, warnings) = EXPECTED
            .iter()
            .find(|e| e.0 == name)
            .unwrap_or_else(|| panic!("no expectation for {name}"));
        let t = TempDir::new();
        for dst in ["w.db", "w.zip"] {
            convert(&fx, &t.join(dst), ConvertOptions::default(), &mut |_| {}).unwrap();
        }
        let mut summaries = Vec::new();
        for src in [fx.clone(), t.join("w.db"), t.join("w.zip")] {
            let s = with_source(&src, |s| Ok(SpaceModel::load(s)?.summary())).unwrap();
            assert_eq!(s.chats.len(), chats, "{name}");
            assert_eq!(
                s.chats.iter().filter(|c| c.has_ops).count(),
                with_ops,
                "{name}"
            );
            assert_eq!(s.messages, messages, "{name}");
            assert!(s.errors.is_empty(), "{name}: {:?}", s.errors);
            let codes: BTreeSet<&str> = s.warnings.iter().map(|w| w.code.as_str()).collect();
            assert_eq!(
                codes,
                warnings.iter().copied().collect(),
                "{name}: {:?}",
                s.warnings
            );
            assert!(s.name.is_some(), "{name}");
            summaries.push(s);
        }
        assert_eq!(summaries[0], summaries[1], "{name}: plain and SQLite agree");
        assert_eq!(summaries[0], summaries[2], "{name}: plain and ZIP agree");
        // verify reports the same reference problems, as warnings only.
        let report = with_source(&fx, |s| Ok(inspect::verify(s, &mut |_| {}))).unwrap();
        assert!(report.ok, "{name}");
        for w in warnings {
            assert!(report.warnings.iter().any(|p| p.code == *w), "{name}: {w}");
        }
    }
}

#[test]
fn rich_fixture_details() {
    let fx = sila_store_tests::fixtures_dir().join("rich");
    let model = with_source(&fx, SpaceModel::load).unwrap();
    let s = model.summary();
    assert_eq!(s.name.as_deref(), Some("Rich Fixture Workspace (renamed)"));
    // Files: CAS and mutable, in chat assets and the workspace's assets; all present.
    assert!(s.files.iter().all(|f| f.present), "{:?}", s.files);
    assert!(s.files.iter().any(|f| f.hash.is_some()));
    assert!(s.files.iter().any(|f| f.mutable_id.is_some()));
    // Every chat's main branch is a prefix-free chain of messages with roles.
    for c in &s.chats {
        let msgs = model.messages(&c.tree_id);
        assert_eq!(msgs.len() as u64, c.main_branch);
        assert!(c.main_branch <= c.messages);
        assert!(msgs.iter().all(|m| m.role.is_some()), "{}", c.tree_id);
    }
    // Attachments point at file vertices that exist.
    let attached: Vec<_> = s
        .chats
        .iter()
        .flat_map(|c| model.messages(&c.tree_id))
        .flat_map(|m| m.files)
        .collect();
    assert!(!attached.is_empty());
    for r in attached {
        assert!(model.trees[&r.tree].vertex(&r.vertex).is_some());
    }
}

#[test]
fn a_missing_blob_is_an_error() {
    let t = TempDir::new();
    let ws = t.join("ws");
    sila_store_tests::copy_dir(&sila_store_tests::fixtures_dir().join("rich"), &ws);
    let model = with_source(&ws, SpaceModel::load).unwrap();
    let f = model
        .files()
        .into_iter()
        .find(|f| f.hash.is_some())
        .unwrap();
    let h = f.hash.unwrap();
    std::fs::remove_file(ws.join(format!(
        "space-v1/files/static/sha256/{}/{}",
        &h[..2],
        &h[2..]
    )))
    .unwrap();
    let report = with_source(&ws, |s| Ok(inspect::verify(s, &mut |_| {}))).unwrap();
    assert!(!report.ok);
    assert_eq!(report.errors[0].code, "MissingBlob");
    assert!(report.errors[0].message.contains(&h));
}

/// Opening a format-3 archive reads its snapshots on every core: the model is the one
/// its ops rebuild, and one bad snapshot among many is a typed error, whichever thread
/// meets it.
#[test]
fn snapshots_read_on_every_core_give_the_replayed_model_or_corrupt() {
    let t = TempDir::new();
    let db = t.join("ws.db");
    sila_store_tests::write_sqlite_in(
        &sila_store_tests::fixtures_dir().join("citybean-coffee-complete"),
        &db,
        3,
    );
    let (opened, replayed) = with_source(&db, |s| {
        Ok((
            SpaceModel::load(s)?.summary(),
            SpaceModel::load_replayed(s)?.summary(),
        ))
    })
    .unwrap();
    assert_eq!(opened, replayed);
    let trees: Vec<String> = {
        let c = rusqlite::Connection::open(&db).unwrap();
        let mut st = c
            .prepare("SELECT tree_id FROM tree_snapshots ORDER BY tree_id")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(trees.len() > 8, "{} trees", trees.len());
    // One bad snapshot first, one in the middle, and every one bad (each worker stops
    // on its first, and the reader must not wait for them).
    let first = format!("tree_id = '{}'", trees[0]);
    let middle = format!("tree_id = '{}'", trees[trees.len() / 2]);
    for (i, (which, bad)) in [
        (first.as_str(), "X'00'"),
        (middle.as_str(), "X'5352543100'"),
        ("1", "X'00'"),
    ]
    .into_iter()
    .enumerate()
    {
        let broken = t.join(&format!("broken-{i}.db"));
        std::fs::copy(&db, &broken).unwrap();
        rusqlite::Connection::open(&broken)
            .unwrap()
            .execute(
                &format!(
                    "UPDATE tree_snapshots SET deflated = 0, data = {bad},
                     size = octet_length({bad}) WHERE {which}"
                ),
                [],
            )
            .unwrap();
        let err = with_source(&broken, |s| SpaceModel::load(s).map(|_| ())).unwrap_err();
        assert_eq!(err.code(), "Corrupt", "{i}: {err}");
    }
}
