//! The conformance suite of the storage engine, written once: every backend of
//! [`WorkspaceStore`], native or wasm, enters it with one line,
//!
//! ```ignore
//! sila_store_conformance::store_conformance!(#[tokio::test] memory, || (MemoryStore::new(), ()), node_oracle);
//! sila_store_conformance::store_conformance!(#[wasm_bindgen_test] js_memory, || (js_store(), ()), js_oracle);
//! ```
//!
//! which expands to one test per check below (with the given test attribute), in a
//! module named after the backend, so the test output names the backend and counts its
//! tests. The oracle is `JSON.stringify(JSON.parse(text))` of each text (Node natively,
//! the host's own JSON in wasm); `None` when it is not available here. The checks
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

/// What a check gives: `Err` with a message naming what did not hold (never a panic,
/// so a failing check cannot abort a wasm host).
pub type Checked = Result<(), String>;

macro_rules! ensure {
    ($c:expr $(,)?) => {
        if !$c {
            return Err(format!("line {}: {}", line!(), stringify!($c)));
        }
    };
    ($c:expr, $($m:tt)+) => {
        if !$c {
            return Err(format!("line {}: {}", line!(), format!($($m)+)));
        }
    };
}

macro_rules! ensure_eq {
    ($a:expr, $b:expr $(,)?) => {{
        let (a, b) = (&$a, &$b);
        if a != b {
            return Err(format!(
                "line {}: {} is {:?}, expected {:?}",
                line!(),
                stringify!($a),
                a,
                b
            ));
        }
    }};
    ($a:expr, $b:expr, $($m:tt)+) => {{
        let (a, b) = (&$a, &$b);
        if a != b {
            return Err(format!("line {}: {:?} != {:?}: {}", line!(), a, b, format!($($m)+)));
        }
    }};
}

/// `?` for results and options in checks, with what was expected.
trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T, E: core::fmt::Debug> Ctx<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e:?}"))
    }
}

impl<T> Ctx<T> for Option<T> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.ok_or_else(|| format!("{what}: nothing"))
    }
}

pub mod space_archive;
pub mod space_files;
pub use space_files::space_export_import;
pub mod tiers;
pub use space_archive::{space_archive_crash_at_every_call, space_archive_reads_by_range};
pub mod tricky;
pub use tiers::{
    tiers_archive_unarchive, tiers_crash_at_every_call, tiers_sync_with_state_vectors,
    tiers_two_writers_and_an_archiver,
};

use tricky::values;

/// `JSON.stringify(JSON.parse(text))` of each text (`None` where it throws), or `None`
/// when no JavaScript is at hand.
pub type Oracle = fn(&[String]) -> Option<Vec<Option<String>>>;

/// `len` incompressible bytes (xorshift64 from `seed`).
fn incompressible(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = tricky::Rng::new(seed);
    (0..len).map(|_| (rng.bits() >> 32) as u8).collect()
}

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

async fn text<S: WorkspaceStore>(store: &S, path: &str) -> Result<String, String> {
    let (bytes, _) = store.read(path).await.ctx("read")?.ctx(path)?;
    String::from_utf8(bytes).ctx("utf-8")
}

async fn lines<S: WorkspaceStore>(
    engine: &SpaceStorage<S>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<String>, String> {
    Ok(engine
        .get_operations(&tree(), from.map(day), to.map(day))
        .await
        .ctx("get_operations")?
        .into_iter()
        .map(|o| o.line)
        .collect())
}

/// Moves and properties go to the peer's `-m`/`-p` file of the day, as Sila's lines.
pub async fn placement<S: WorkspaceStore>(store: S, _oracle: Oracle) -> Checked {
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
        .ctx("put")?;
    ensure_eq!(written.len(), 4);
    let store = engine.store();
    ensure_eq!(
        text(store, &ops_path("2026-03-20", "m")).await?,
        "[1,\"v1\",null]\n[4,\"v2\",\"v1\"]\n"
    );
    ensure_eq!(
        text(store, &ops_path("2026-03-20", "p")).await?,
        "[2,\"v1\",\"name\",\"Hello \u{2028}\"]\n[3,\"v1\",\"size\",null]\n"
    );
    ensure_eq!(
        lines(&engine, None, None).await?,
        [
            "[1,\"v1\",null]",
            "[4,\"v2\",\"v1\"]",
            "[2,\"v1\",\"name\",\"Hello \u{2028}\"]",
            "[3,\"v1\",\"size\",null]"
        ]
    );
    Ok(())
}

/// An op stored on any day is not stored again, also by an engine that starts fresh
/// over the same store; a batch that repeats an id writes it once.
pub async fn dedup_across_days<S: WorkspaceStore>(store: S, _oracle: Oracle) -> Checked {
    let engine = SpaceStorage::new(store);
    let ops = [mv(1, "v1", None), set(2, "v1", "k", "1")];
    engine
        .put_operations(&tree(), &ops, day("2026-03-20"))
        .await
        .ctx("put")?;
    let again = engine
        .put_operations(&tree(), &ops, day("2026-03-21"))
        .await
        .ctx("put again")?;
    ensure!(again.is_empty(), "{again:?}");
    let store = engine.store();
    ensure!(store
        .read(&ops_path("2026-03-21", "m"))
        .await
        .ctx("read")?
        .is_none());
    // A fresh engine reads the ids from the files.
    let fresh = SpaceStorage::new(store);
    let written = fresh
        .put_operations(
            &tree(),
            &[mv(1, "v1", None), mv(5, "v5", None), mv(5, "v5", None)],
            day("2026-03-22"),
        )
        .await
        .ctx("put fresh")?;
    ensure_eq!(
        written.iter().map(|o| o.line.as_str()).collect::<Vec<_>>(),
        ["[5,\"v5\",null]"]
    );
    ensure_eq!(
        text(store, &ops_path("2026-03-22", "m")).await?,
        "[5,\"v5\",null]\n"
    );
    Ok(())
}

/// A file without its last `\n` gets one before new lines: no op is glued to another.
pub async fn never_glues_lines<S: WorkspaceStore>(store: S, _oracle: Oracle) -> Checked {
    let path = ops_path("2026-03-20", "m");
    store
        .write(&path, b"[1,\"v1\",null]".to_vec(), Precondition::IfAbsent)
        .await
        .ctx("write")?;
    let engine = SpaceStorage::new(store);
    engine
        .put_operations(&tree(), &[mv(2, "v2", None)], day("2026-03-20"))
        .await
        .ctx("put")?;
    ensure_eq!(
        text(engine.store(), &path).await?,
        "[1,\"v1\",null]\n[2,\"v2\",null]\n"
    );
    ensure_eq!(
        lines(&engine, None, None).await?,
        ["[1,\"v1\",null]", "[2,\"v2\",null]"]
    );
    Ok(())
}

/// Day ranges select day folders, inclusive, in order.
pub async fn day_ranges<S: WorkspaceStore>(store: S, _oracle: Oracle) -> Checked {
    let engine = SpaceStorage::new(store);
    for (c, d) in [(3, "2026-03-22"), (1, "2026-03-20"), (2, "2026-03-21")] {
        engine
            .put_operations(&tree(), &[mv(c, &format!("v{c}"), None)], day(d))
            .await
            .ctx("put")?;
    }
    let l = |c: u64| format!("[{c},\"v{c}\",null]");
    ensure_eq!(lines(&engine, None, None).await?, [l(1), l(2), l(3)]);
    ensure_eq!(
        lines(&engine, Some("2026-03-21"), None).await?,
        [l(2), l(3)]
    );
    ensure_eq!(
        lines(&engine, None, Some("2026-03-21")).await?,
        [l(1), l(2)]
    );
    ensure_eq!(
        lines(&engine, Some("2026-03-21"), Some("2026-03-21")).await?,
        [l(2)]
    );
    ensure!(lines(&engine, Some("2026-03-23"), None).await?.is_empty());
    let other = TreeId::new("ffffffffffffffffffffffffffffffff").ctx("tree")?;
    ensure!(engine
        .get_operations(&other, None, None)
        .await
        .ctx("other tree")?
        .is_empty());
    Ok(())
}

/// A batch with one op Sila could not read back is refused whole; nothing is stored.
pub async fn bad_batch_stores_nothing<S: WorkspaceStore>(store: S, _oracle: Oracle) -> Checked {
    let engine = SpaceStorage::new(store);
    for bad in [
        set(2, "v1", "bad\"key", "1"),
        set(2, "v\\1", "k", "1"),
        mv(1 << 53, "v1", None),
    ] {
        let err = engine
            .put_operations(&tree(), &[mv(1, "v1", None), bad], day("2026-03-20"))
            .await
            .err()
            .ctx("refused")?;
        ensure_eq!(err.code(), "InvalidArgument", "{err}");
    }
    ensure!(WireOp::set(1, PEER, "v", "k", Some("{not json")).is_err());
    ensure!(engine.store().list("").await.ctx("list")?.is_empty());
    // And the refused ids are free to be stored later.
    ensure_eq!(
        engine
            .put_operations(&tree(), &[mv(1, "v1", None)], day("2026-03-20"))
            .await
            .ctx("put")?
            .len(),
        1
    );
    Ok(())
}

/// Blobs: stored once under their hash, read back checked; damage is reported.
pub async fn files<S: WorkspaceStore>(store: S, _oracle: Oracle) -> Checked {
    let engine = SpaceStorage::new(store);
    let data = incompressible(300_000, 7);
    let h = engine.put_file(data.clone()).await.ctx("put")?;
    ensure_eq!(h, Sha256Hex::of(&data));
    ensure_eq!(engine.put_file(data.clone()).await.ctx("again")?, h);
    ensure_eq!(engine.get_file(&h).await.ctx("get")?, data);
    let path = EntryKind::StaticFile(h.clone()).path();
    ensure_eq!(
        engine
            .store()
            .list("space-v1/files/")
            .await
            .ctx("list")?
            .len(),
        1
    );
    engine
        .store()
        .write(&path, b"damaged".to_vec(), Precondition::None)
        .await
        .ctx("damage")?;
    ensure!(matches!(
        engine.get_file(&h).await,
        Err(Error::HashMismatch { .. })
    ));
    let missing = Sha256Hex::of(b"missing");
    ensure!(matches!(
        engine.get_file(&missing).await,
        Err(Error::NotFound(_))
    ));
    Ok(())
}

/// 300 random values (doubles, integer-like keys, `null`, nesting, U+2028, lone
/// surrogates) are stored as exactly the lines Node writes, and read back unchanged.
pub async fn values_as_javascript_writes_them<S: WorkspaceStore>(
    store: S,
    oracle: Oracle,
) -> Checked {
    let texts = values(0x300, 300);
    let Some(node) = oracle(&texts) else {
        return Ok(());
    };
    let engine = SpaceStorage::new(store);
    let ops: Vec<TreeOp> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| set(i as u64 + 1, "v", "k", t))
        .collect();
    engine
        .put_operations(&tree(), &ops, day("2026-03-20"))
        .await
        .ctx("put")?;
    let want = node
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let v = v.as_deref().ctx("a value the oracle accepts")?;
            Ok(format!("[{},\"v\",\"k\",{v}]", i + 1))
        })
        .collect::<Result<Vec<String>, String>>()?;
    let got = lines(&engine, None, None).await?;
    if let Some(i) = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i)) {
        return Err(format!(
            "{} lines stored, {} expected; the first that differs, #{i}: {:?}, expected {:?} (from the text {:?})",
            got.len(),
            want.len(),
            got.get(i),
            want.get(i),
            texts.get(i)
        ));
    }
    // Read back as wire ops, every value is the text Node wrote.
    for (op, v) in engine
        .get_operations(&tree(), None, None)
        .await
        .ctx("get")?
        .iter()
        .zip(&node)
    {
        let t = sila_store_core::model::sila_tree_op(
            &op.line,
            sila_store_core::ops::OpsFileKind::Props,
            PEER,
        )
        .ctx("op")?;
        let wire = WireOp::from_tree_op(&t).ctx("wire")?;
        let v = v.as_deref().ctx("valid")?;
        if sila_store_core::ops::OpLine::is_deletion_value(v) {
            ensure!(wire.value.is_none());
        } else {
            ensure_eq!(wire.value.as_deref().map(|r| r.get()), Some(v));
        }
    }
    Ok(())
}

/// The store's own contract: preconditions, append, list by prefix, delete.
pub async fn store_contract<S: WorkspaceStore>(store: S, _oracle: Oracle) -> Checked {
    let v1 = store
        .write("a/x", b"1".to_vec(), Precondition::IfAbsent)
        .await
        .ctx("create")?;
    ensure!(matches!(
        store
            .write("a/x", b"2".to_vec(), Precondition::IfAbsent)
            .await,
        Err(StoreError::PreconditionFailed(_))
    ));
    let v2 = store
        .write("a/x", b"2".to_vec(), Precondition::IfVersion(v1.clone()))
        .await
        .ctx("update")?;
    ensure!(v1 != v2);
    ensure!(matches!(
        store
            .write("a/x", b"3".to_vec(), Precondition::IfVersion(v1))
            .await,
        Err(StoreError::PreconditionFailed(_))
    ));
    ensure_eq!(text(&store, "a/x").await?, "2");
    store.append("a/y", b"he").await.ctx("append new")?;
    store.append("a/y", b"llo").await.ctx("append")?;
    ensure_eq!(text(&store, "a/y").await?, "hello");
    ensure_eq!(store.read_range("a/y", 1, 3).await.ctx("range")?, b"ell");
    ensure_eq!(store.read_range("a/y", 4, 10).await.ctx("range")?, b"o");
    ensure_eq!(store.size("a/y").await.ctx("size")?, Some(5));
    ensure_eq!(store.size("a/z").await.ctx("size")?, None);
    store
        .write("b/z", b"".to_vec(), Precondition::None)
        .await
        .ctx("write")?;
    let mut listed: Vec<String> = store
        .list("a/")
        .await
        .ctx("list")?
        .into_iter()
        .map(|o| o.path)
        .collect();
    listed.sort();
    ensure_eq!(listed, ["a/x", "a/y"]);
    ensure_eq!(store.list("").await.ctx("list all")?.len(), 3);
    for bad in ["../x", "/x", "a/../x", "a\\x"] {
        ensure!(matches!(
            store.read(bad).await,
            Err(StoreError::InvalidPath { .. })
        ));
    }
    store
        .delete_many(&["a/x".to_string(), "a/nothing".to_string()])
        .await
        .ctx("delete")?;
    ensure!(store.read("a/x").await.ctx("read")?.is_none());
    ensure_eq!(store.list("a/").await.ctx("list")?.len(), 1);
    Ok(())
}

/// Runs every check of the suite on fresh stores from `make` (one store per check),
/// in order: the check's name and what it gave. The same list as
/// [`store_conformance!`], for hosts that run the suite themselves (the npm package's
/// `checkStore`).
pub async fn run_all<S, F, Fut>(make: F, oracle: Oracle) -> Vec<(&'static str, Checked)>
where
    S: WorkspaceStore,
    F: Fn() -> Fut,
    Fut: core::future::Future<Output = Result<S, String>>,
{
    run_only(make, oracle, &|_| true).await
}

/// [`run_all`] for the checks whose name `only` accepts (a store that keeps only part
/// of the layout, such as Sila's IndexedDB schema, runs the checks that apply to it).
pub async fn run_only<S, F, Fut>(
    make: F,
    oracle: Oracle,
    only: &dyn Fn(&str) -> bool,
) -> Vec<(&'static str, Checked)>
where
    S: WorkspaceStore,
    F: Fn() -> Fut,
    Fut: core::future::Future<Output = Result<S, String>>,
{
    let mut out = Vec::new();
    macro_rules! run {
        ($($check:ident),*) => {
            $(
                if !only(stringify!($check)) {
                    // Not asked for.
                } else {
                let r = match make().await {
                    Ok(store) => $check(store, oracle).await,
                    Err(e) => Err(format!("no store: {e}")),
                };
                out.push((stringify!($check), r));
                }
            )*
        };
    }
    run!(
        placement,
        dedup_across_days,
        never_glues_lines,
        day_ranges,
        bad_batch_stores_nothing,
        files,
        values_as_javascript_writes_them,
        store_contract,
        space_export_import
    );
    out
}

/// Runs the tier checks on fresh stores from `make`, with `host` (one that builds
/// archives): the same list as [`store_conformance!`] with `tiers:`.
pub async fn run_tiers<S, F, Fut, H>(
    make: F,
    host: H,
    oracle: Oracle,
) -> Vec<(&'static str, Checked)>
where
    S: WorkspaceStore,
    F: Fn() -> Fut,
    Fut: core::future::Future<Output = Result<S, String>>,
    H: sila_store_core::storage::tiers::TierHost + Clone + 'static,
{
    let mut out = Vec::new();
    macro_rules! run {
        ($($check:ident),*) => {
            $(
                let r = match make().await {
                    Ok(store) => $check(store, host.clone()).await,
                    Err(e) => Err(format!("no store: {e}")),
                };
                out.push((stringify!($check), r));
            )*
        };
    }
    run!(
        tiers_archive_unarchive,
        tiers_crash_at_every_call,
        tiers_two_writers_and_an_archiver,
        space_archive_crash_at_every_call,
        space_archive_reads_by_range
    );
    let r = match make().await {
        Ok(store) => tiers_sync_with_state_vectors(store, host.clone(), oracle).await,
        Err(e) => Err(format!("no store: {e}")),
    };
    out.push(("tiers_sync_with_state_vectors", r));
    out
}

/// Expands the suite for one backend:
/// `store_conformance!(#[test_attribute] name, || (store, keep_alive), oracle)`.
#[macro_export]
macro_rules! store_conformance {
    (#[$attr:meta] $backend:ident, $make:expr, $oracle:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $crate::store_conformance!(@store #[$attr] $make, $oracle);
        }
    };
    // With a tier host (one that builds archives): the tier checks too.
    (#[$attr:meta] $backend:ident, $make:expr, $oracle:expr, tiers: $host:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $crate::store_conformance!(@store #[$attr] $make, $oracle);
            $crate::store_conformance!(@tiers #[$attr] $make, $host;
                tiers_archive_unarchive, tiers_crash_at_every_call,
                tiers_two_writers_and_an_archiver, space_archive_crash_at_every_call,
                space_archive_reads_by_range);
            #[$attr]
            async fn tiers_sync_with_state_vectors() {
                let (store, _keep) = ($make)();
                if let Err(e) = $crate::tiers_sync_with_state_vectors(store, $host, $oracle).await {
                    panic!("tiers_sync_with_state_vectors: {e}");
                }
            }
        }
    };
    // The same list as `run_all`.
    (@store #[$attr:meta] $make:expr, $oracle:expr) => {
        $crate::store_conformance!(@tests #[$attr] $make, $oracle;
            placement, dedup_across_days, never_glues_lines, day_ranges,
            bad_batch_stores_nothing, files, values_as_javascript_writes_them,
            store_contract, space_export_import);
    };
    (@tests #[$attr:meta] $make:expr, $oracle:expr; $($check:ident),*) => {
        $(
            #[$attr]
            async fn $check() {
                let (store, _keep) = ($make)();
                if let Err(e) = $crate::$check(store, $oracle).await {
                    panic!("{}: {e}", stringify!($check));
                }
            }
        )*
    };
    (@tiers #[$attr:meta] $make:expr, $host:expr; $($check:ident),*) => {
        $(
            #[$attr]
            async fn $check() {
                let (store, _keep) = ($make)();
                if let Err(e) = $crate::$check(store, $host).await {
                    panic!("{}: {e}", stringify!($check));
                }
            }
        )*
    };
}
