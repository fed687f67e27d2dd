//! The conformance suite of the storage engine, written once: every backend of
//! [`WorkspaceStore`] enters it with one line,
//!
//! ```ignore
//! sila_store_tests::store_conformance!(memory, || (MemoryStore::new(), ()));
//! ```
//!
//! which expands to one `#[tokio::test]` per check below, in a module named after the
//! backend (so the test output names the backend and counts its tests). The checks
//! run [`SpaceStorage`] over the store: placement as Sila places ops, dedup across
//! days, never gluing lines, day ranges, blobs with their hash checked, refusal of a
//! bad batch with nothing stored, and 300 random values stored as exactly the lines
//! Node's `JSON.stringify` gives. Plus the store's own contract (preconditions,
//! append, list, delete).

use sila_store_core::ids::{Day, Sha256Hex, TreeId};
use sila_store_core::layout::EntryKind;
use sila_store_core::ops::wire::WireOp;
use sila_store_core::reptree::TreeOp;
use sila_store_core::storage::SpaceStorage;
use sila_store_core::store::{Precondition, StoreError, WorkspaceStore};
use sila_store_core::Error;

use crate::tricky_json::{node_available, node_stringify, values};

/// The tree every check writes to.
pub const TREE: &str = "b3ee88fc46bb4ac1bd8012feac0a7d6c";
/// The peer every check writes as.
pub const PEER: &str = "0123456789abcdef0123456789abcdef";

fn tree() -> TreeId {
    TreeId::new(TREE).expect("tree id")
}

fn day(s: &str) -> Day {
    Day::parse(s).expect("day")
}

fn mv(counter: u64, target: &str, parent: Option<&str>) -> TreeOp {
    WireOp::mv(counter, PEER, target, parent)
        .to_tree_op()
        .expect("op")
}

fn set(counter: u64, target: &str, key: &str, value: &str) -> TreeOp {
    WireOp::set(counter, PEER, target, key, Some(value))
        .expect("value")
        .to_tree_op()
        .expect("op")
}

fn ops_path(d: &str, kind: &str) -> String {
    let (y, m, dd) = (&d[..4], &d[5..7], &d[8..10]);
    format!(
        "space-v1/ops/{}/{}/{y}/{m}/{dd}/{PEER}-{kind}.jsonl",
        &TREE[..2],
        &TREE[2..]
    )
}

async fn text<S: WorkspaceStore>(store: &S, path: &str) -> String {
    let (bytes, _) = store.read(path).await.expect("read").expect("exists");
    String::from_utf8(bytes).expect("utf-8")
}

async fn lines<S: WorkspaceStore>(
    engine: &SpaceStorage<S>,
    from: Option<&str>,
    to: Option<&str>,
) -> Vec<String> {
    engine
        .get_operations(&tree(), from.map(day), to.map(day))
        .await
        .expect("get_operations")
        .into_iter()
        .map(|o| o.line)
        .collect()
}

/// Moves and properties go to the peer's `-m`/`-p` file of the day, as Sila's lines.
pub async fn placement<S: WorkspaceStore>(store: S) {
    let engine = SpaceStorage::new(store);
    let written = engine
        .put_operations(
            &tree(),
            &[
                mv(1, "v1", None),
                set(2, "v1", "name", r#""Hello \u2028""#),
                set(3, "v1", "size", "null"),
                mv(4, "v2", Some("v1")),
            ],
            day("2026-03-20"),
        )
        .await
        .expect("put");
    assert_eq!(written.len(), 4);
    let store = engine.store();
    assert_eq!(
        text(store, &ops_path("2026-03-20", "m")).await,
        "[1,\"v1\",null]\n[4,\"v2\",\"v1\"]\n"
    );
    assert_eq!(
        text(store, &ops_path("2026-03-20", "p")).await,
        "[2,\"v1\",\"name\",\"Hello \u{2028}\"]\n[3,\"v1\",\"size\",null]\n"
    );
    assert_eq!(
        lines(&engine, None, None).await,
        [
            "[1,\"v1\",null]",
            "[4,\"v2\",\"v1\"]",
            "[2,\"v1\",\"name\",\"Hello \u{2028}\"]",
            "[3,\"v1\",\"size\",null]"
        ]
    );
}

/// An op stored on any day is not stored again, also by an engine that starts fresh
/// over the same store; a batch that repeats an id writes it once.
pub async fn dedup_across_days<S: WorkspaceStore>(store: S) {
    let engine = SpaceStorage::new(store);
    let ops = [mv(1, "v1", None), set(2, "v1", "k", "1")];
    engine
        .put_operations(&tree(), &ops, day("2026-03-20"))
        .await
        .expect("put");
    let again = engine
        .put_operations(&tree(), &ops, day("2026-03-21"))
        .await
        .expect("put again");
    assert!(again.is_empty(), "{again:?}");
    let store = engine.store();
    assert!(store
        .read(&ops_path("2026-03-21", "m"))
        .await
        .expect("read")
        .is_none());
    // A fresh engine reads the ids from the files.
    let fresh = SpaceStorage::new(ForwardStore(store));
    let written = fresh
        .put_operations(
            &tree(),
            &[mv(1, "v1", None), mv(5, "v5", None), mv(5, "v5", None)],
            day("2026-03-22"),
        )
        .await
        .expect("put fresh");
    assert_eq!(
        written.iter().map(|o| o.line.as_str()).collect::<Vec<_>>(),
        ["[5,\"v5\",null]"]
    );
    assert_eq!(
        text(store, &ops_path("2026-03-22", "m")).await,
        "[5,\"v5\",null]\n"
    );
}

/// A file without its last `\n` gets one before new lines: no op is glued to another.
pub async fn never_glues_lines<S: WorkspaceStore>(store: S) {
    let path = ops_path("2026-03-20", "m");
    store
        .write(&path, b"[1,\"v1\",null]".to_vec(), Precondition::IfAbsent)
        .await
        .expect("write");
    let engine = SpaceStorage::new(store);
    engine
        .put_operations(&tree(), &[mv(2, "v2", None)], day("2026-03-20"))
        .await
        .expect("put");
    assert_eq!(
        text(engine.store(), &path).await,
        "[1,\"v1\",null]\n[2,\"v2\",null]\n"
    );
    assert_eq!(
        lines(&engine, None, None).await,
        ["[1,\"v1\",null]", "[2,\"v2\",null]"]
    );
}

/// Day ranges select day folders, inclusive, in order.
pub async fn day_ranges<S: WorkspaceStore>(store: S) {
    let engine = SpaceStorage::new(store);
    for (c, d) in [(3, "2026-03-22"), (1, "2026-03-20"), (2, "2026-03-21")] {
        engine
            .put_operations(&tree(), &[mv(c, &format!("v{c}"), None)], day(d))
            .await
            .expect("put");
    }
    let l = |c: u64| format!("[{c},\"v{c}\",null]");
    assert_eq!(lines(&engine, None, None).await, [l(1), l(2), l(3)]);
    assert_eq!(lines(&engine, Some("2026-03-21"), None).await, [l(2), l(3)]);
    assert_eq!(lines(&engine, None, Some("2026-03-21")).await, [l(1), l(2)]);
    assert_eq!(
        lines(&engine, Some("2026-03-21"), Some("2026-03-21")).await,
        [l(2)]
    );
    assert!(lines(&engine, Some("2026-03-23"), None).await.is_empty());
    let other = TreeId::new("ffffffffffffffffffffffffffffffff").expect("tree");
    assert!(engine
        .get_operations(&other, None, None)
        .await
        .expect("other tree")
        .is_empty());
}

/// A batch with one op Sila could not read back is refused whole; nothing is stored.
pub async fn bad_batch_stores_nothing<S: WorkspaceStore>(store: S) {
    let engine = SpaceStorage::new(store);
    for bad in [
        set(2, "v1", "bad\"key", "1"),
        set(2, "v\\1", "k", "1"),
        mv(1 << 53, "v1", None),
    ] {
        let err = engine
            .put_operations(&tree(), &[mv(1, "v1", None), bad], day("2026-03-20"))
            .await
            .expect_err("refused");
        assert_eq!(err.code(), "InvalidArgument", "{err}");
    }
    assert!(WireOp::set(1, PEER, "v", "k", Some("{not json")).is_err());
    assert!(engine.store().list("").await.expect("list").is_empty());
    // And the refused ids are free to be stored later.
    assert_eq!(
        engine
            .put_operations(&tree(), &[mv(1, "v1", None)], day("2026-03-20"))
            .await
            .expect("put")
            .len(),
        1
    );
}

/// Blobs: stored once under their hash, read back checked; damage is reported.
pub async fn files<S: WorkspaceStore>(store: S) {
    let engine = SpaceStorage::new(store);
    let data = crate::incompressible(300_000, 7);
    let h = engine.put_file(data.clone()).await.expect("put");
    assert_eq!(h, Sha256Hex::of(&data));
    assert_eq!(engine.put_file(data.clone()).await.expect("again"), h);
    assert_eq!(engine.get_file(&h).await.expect("get"), data);
    let path = EntryKind::StaticFile(h.clone()).path();
    assert_eq!(
        engine
            .store()
            .list("space-v1/files/")
            .await
            .expect("list")
            .len(),
        1
    );
    engine
        .store()
        .write(&path, b"damaged".to_vec(), Precondition::None)
        .await
        .expect("damage");
    assert!(matches!(
        engine.get_file(&h).await,
        Err(Error::HashMismatch { .. })
    ));
    let missing = Sha256Hex::of(b"missing");
    assert!(matches!(
        engine.get_file(&missing).await,
        Err(Error::NotFound(_))
    ));
}

/// 300 random values (doubles, integer-like keys, `null`, nesting, U+2028, lone
/// surrogates) are stored as exactly the lines Node writes, and read back unchanged.
pub async fn values_as_javascript_writes_them<S: WorkspaceStore>(store: S) {
    if !node_available() {
        assert!(
            std::env::var_os("SILA_STORE_REQUIRE_ORACLE").is_none(),
            "node is required"
        );
        return;
    }
    let texts = values(0x300, 300);
    let node = node_stringify(&texts);
    let engine = SpaceStorage::new(store);
    let ops: Vec<TreeOp> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| set(i as u64 + 1, "v", "k", t))
        .collect();
    engine
        .put_operations(&tree(), &ops, day("2026-03-20"))
        .await
        .expect("put");
    let want: Vec<String> = node
        .iter()
        .enumerate()
        .map(|(i, v)| format!("[{},\"v\",\"k\",{}]", i + 1, v.as_deref().expect("valid")))
        .collect();
    assert_eq!(lines(&engine, None, None).await, want);
    // Read back as wire ops, every value is the text Node wrote.
    for (op, v) in engine
        .get_operations(&tree(), None, None)
        .await
        .expect("get")
        .iter()
        .zip(&node)
    {
        let t = sila_store_core::model::sila_tree_op(
            &op.line,
            sila_store_core::ops::OpsFileKind::Props,
            PEER,
        )
        .expect("op");
        let wire = WireOp::from_tree_op(&t).expect("wire");
        let v = v.as_deref().expect("valid");
        if sila_store_core::ops::OpLine::is_deletion_value(v) {
            assert!(wire.value.is_none());
        } else {
            assert_eq!(wire.value.as_deref().map(|r| r.get()), Some(v));
        }
    }
}

/// The store's own contract: preconditions, append, list by prefix, delete.
pub async fn store_contract<S: WorkspaceStore>(store: S) {
    let v1 = store
        .write("a/x", b"1".to_vec(), Precondition::IfAbsent)
        .await
        .expect("create");
    assert!(matches!(
        store
            .write("a/x", b"2".to_vec(), Precondition::IfAbsent)
            .await,
        Err(StoreError::PreconditionFailed(_))
    ));
    let v2 = store
        .write("a/x", b"2".to_vec(), Precondition::IfVersion(v1.clone()))
        .await
        .expect("update");
    assert_ne!(v1, v2);
    assert!(matches!(
        store
            .write("a/x", b"3".to_vec(), Precondition::IfVersion(v1))
            .await,
        Err(StoreError::PreconditionFailed(_))
    ));
    assert_eq!(text(&store, "a/x").await, "2");
    store.append("a/y", b"he").await.expect("append new");
    store.append("a/y", b"llo").await.expect("append");
    assert_eq!(text(&store, "a/y").await, "hello");
    assert_eq!(store.read_range("a/y", 1, 3).await.expect("range"), b"ell");
    assert_eq!(store.read_range("a/y", 4, 10).await.expect("range"), b"o");
    assert_eq!(store.size("a/y").await.expect("size"), Some(5));
    assert_eq!(store.size("a/z").await.expect("size"), None);
    store
        .write("b/z", b"".to_vec(), Precondition::None)
        .await
        .expect("write");
    let mut listed: Vec<String> = store
        .list("a/")
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.path)
        .collect();
    listed.sort();
    assert_eq!(listed, ["a/x", "a/y"]);
    assert_eq!(store.list("").await.expect("list all").len(), 3);
    for bad in ["../x", "/x", "a/../x", "a\\x"] {
        assert!(matches!(
            store.read(bad).await,
            Err(StoreError::InvalidPath { .. })
        ));
    }
    store
        .delete_many(&["a/x".to_string(), "a/nothing".to_string()])
        .await
        .expect("delete");
    assert!(store.read("a/x").await.expect("read").is_none());
    assert_eq!(store.list("a/").await.expect("list").len(), 1);
}

/// A store seen through a reference (a second engine over the same store).
pub struct ForwardStore<'a, S>(pub &'a S);

#[async_trait::async_trait]
impl<S: WorkspaceStore> WorkspaceStore for ForwardStore<'_, S> {
    async fn list(
        &self,
        prefix: &str,
    ) -> sila_store_core::store::StoreResult<Vec<sila_store_core::store::ObjectInfo>> {
        self.0.list(prefix).await
    }
    async fn read(
        &self,
        path: &str,
    ) -> sila_store_core::store::StoreResult<Option<(Vec<u8>, sila_store_core::store::Version)>>
    {
        self.0.read(path).await
    }
    async fn read_range(
        &self,
        path: &str,
        offset: u64,
        len: u64,
    ) -> sila_store_core::store::StoreResult<Vec<u8>> {
        self.0.read_range(path, offset, len).await
    }
    async fn size(&self, path: &str) -> sila_store_core::store::StoreResult<Option<u64>> {
        self.0.size(path).await
    }
    async fn write(
        &self,
        path: &str,
        bytes: Vec<u8>,
        condition: Precondition,
    ) -> sila_store_core::store::StoreResult<sila_store_core::store::Version> {
        self.0.write(path, bytes, condition).await
    }
    async fn append(&self, path: &str, bytes: &[u8]) -> sila_store_core::store::StoreResult<()> {
        self.0.append(path, bytes).await
    }
    async fn delete_many(&self, paths: &[String]) -> sila_store_core::store::StoreResult<()> {
        self.0.delete_many(paths).await
    }
}

/// Expands the suite for one backend: `store_conformance!(name, || (store, keep_alive))`.
#[macro_export]
macro_rules! store_conformance {
    ($backend:ident, $make:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $crate::store_conformance!(@tests $make;
                placement, dedup_across_days, never_glues_lines, day_ranges,
                bad_batch_stores_nothing, files, values_as_javascript_writes_them,
                store_contract);
        }
    };
    (@tests $make:expr; $($check:ident),*) => {
        $(
            #[tokio::test]
            async fn $check() {
                let (store, _keep) = ($make)();
                $crate::conformance::$check(store).await;
            }
        )*
    };
}
