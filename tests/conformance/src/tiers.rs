//! The tier checks: the core's [`Tiers`] (archive, unarchive, sync, files and ops on
//! access) over a backend, with a host that can build archives. A crash is simulated by
//! [`Faulty`], a store whose calls fail from a chosen one on (the process died there);
//! concurrency by [`Interleaved`], a store that yields before every call so that
//! futures joined on one thread take turns at each store call.

use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicU64, Ordering};
use core::task::{Context, Poll};

use sila_store_core::ids::Sha256Hex;
use sila_store_core::ops::wire::WireOp;
use sila_store_core::storage::tiers::{Tier, TierHost, Tiers};
use sila_store_core::storage::StateVector;
use sila_store_core::store::{
    ObjectInfo, PartSource, Precondition, StoreError, StoreResult, Version, WorkspaceStore,
};
use sila_store_core::Error;

use super::{incompressible, tree, Checked, Ctx, Oracle, PEER, TREE};

/// The space every tier check uses.
const SPACE: &str = TREE;
/// A second writer's peer.
const PEER_B: &str = "fedcba9876543210fedcba9876543210";

/// A store whose calls fail from call number `fail_from` on (0: never), counting calls.
pub struct Faulty<S> {
    inner: S,
    calls: AtomicU64,
    fail_from: AtomicU64,
    bytes_read: AtomicU64,
}

impl<S> Faulty<S> {
    /// `inner`, not failing yet.
    pub fn new(inner: S) -> Self {
        Faulty {
            inner,
            calls: AtomicU64::new(0),
            fail_from: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
        }
    }

    /// Calls so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Bytes its reads (whole and ranges) returned so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::SeqCst)
    }

    fn counted<T>(&self, r: StoreResult<T>, len: impl Fn(&T) -> usize) -> StoreResult<T> {
        if let Ok(v) = &r {
            self.bytes_read.fetch_add(len(v) as u64, Ordering::SeqCst);
        }
        r
    }

    /// The `n`th call from now (1-based) and every later one fail; 0: none.
    pub fn fail_after(&self, n: u64) {
        let at = if n == 0 { 0 } else { self.calls() + n };
        self.fail_from.store(at, Ordering::SeqCst);
    }

    fn enter(&self, op: &'static str, path: &str) -> StoreResult<()> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let at = self.fail_from.load(Ordering::SeqCst);
        if at != 0 && n >= at {
            return Err(StoreError::backend(op, path, "injected failure"));
        }
        Ok(())
    }
}

/// Yields once (so joined futures take turns).
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A store that yields before every call.
pub struct Interleaved<S>(pub S);

macro_rules! forward_store {
    ($ty:ident, $before:expr) => {
        #[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
        #[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
        impl<S: WorkspaceStore> WorkspaceStore for $ty<S> {
            async fn list(&self, prefix: &str) -> StoreResult<Vec<ObjectInfo>> {
                $before(self, "list", prefix).await?;
                self.inner().list(prefix).await
            }
            async fn read(&self, path: &str) -> StoreResult<Option<(Vec<u8>, Version)>> {
                $before(self, "read", path).await?;
                let r = self.inner().read(path).await;
                self.counted(r, |v| v.as_ref().map_or(0, |(b, _)| b.len()))
            }
            async fn read_range(&self, path: &str, offset: u64, len: u64) -> StoreResult<Vec<u8>> {
                $before(self, "read", path).await?;
                let r = self.inner().read_range(path, offset, len).await;
                self.counted(r, Vec::len)
            }
            async fn size(&self, path: &str) -> StoreResult<Option<u64>> {
                $before(self, "size", path).await?;
                self.inner().size(path).await
            }
            async fn write(
                &self,
                path: &str,
                bytes: Vec<u8>,
                condition: Precondition,
            ) -> StoreResult<Version> {
                $before(self, "write", path).await?;
                self.inner().write(path, bytes, condition).await
            }
            async fn write_parts(
                &self,
                path: &str,
                parts: &mut dyn PartSource,
                condition: Precondition,
            ) -> StoreResult<Version> {
                $before(self, "write", path).await?;
                self.inner().write_parts(path, parts, condition).await
            }
            async fn append(&self, path: &str, bytes: &[u8]) -> StoreResult<()> {
                $before(self, "append", path).await?;
                self.inner().append(path, bytes).await
            }
            async fn delete_many(&self, paths: &[String]) -> StoreResult<()> {
                $before(self, "delete", "").await?;
                self.inner().delete_many(paths).await
            }
        }
    };
}

impl<S> Faulty<S> {
    fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S> Interleaved<S> {
    fn inner(&self) -> &S {
        &self.0
    }

    fn counted<T>(&self, r: StoreResult<T>, _: impl Fn(&T) -> usize) -> StoreResult<T> {
        r
    }
}

async fn faulty_enter<S>(s: &Faulty<S>, op: &'static str, path: &str) -> StoreResult<()> {
    s.enter(op, path)
}

async fn interleave<S>(_: &Interleaved<S>, _: &'static str, _: &str) -> StoreResult<()> {
    YieldNow(false).await;
    Ok(())
}

forward_store!(Faulty, faulty_enter);
forward_store!(Interleaved, interleave);

fn set_op(counter: u64, peer: &str, value: &str) -> Result<WireOp, String> {
    WireOp::set(counter, peer, "v1", "k", Some(value)).ctx("op")
}

/// The lines of the space tree, whichever tier holds it.
async fn all_lines<S: WorkspaceStore, H: TierHost>(t: &Tiers<S, H>) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = t
        .get_operations(SPACE, &tree(), None, None)
        .await
        .ctx("get_operations")?
        .into_iter()
        .map(|o| o.line)
        .collect();
    out.sort();
    Ok(out)
}

/// A space with ops from two peers, a move, and two files; returns its sorted lines
/// and the files' hashes.
async fn seed<S: WorkspaceStore, H: TierHost>(
    t: &Tiers<S, H>,
) -> Result<(Vec<String>, Vec<(Sha256Hex, Vec<u8>)>), String> {
    let mut ops = vec![WireOp::mv(1, PEER, "v1", None)];
    for c in 2..12 {
        ops.push(set_op(
            c,
            PEER,
            &format!("{{\"n\":{c},\"1\":[null,1e21]}}"),
        )?);
    }
    t.sync_tree(SPACE, &tree(), &ops, None).await.ctx("sync")?;
    t.sync_tree(SPACE, &tree(), &[set_op(1, PEER_B, "\"\\ud800\"")?], None)
        .await
        .ctx("sync b")?;
    let mut files = Vec::new();
    for (len, seed) in [(1_000, 1), (300_000, 2)] {
        let data = incompressible(len, seed);
        files.push((t.put_file(SPACE, data.clone()).await.ctx("put_file")?, data));
    }
    Ok((all_lines(t).await?, files))
}

async fn tier_of<S: WorkspaceStore, H: TierHost>(t: &Tiers<S, H>) -> Result<Tier, String> {
    Ok(t.require_metadata(SPACE).await.ctx("metadata")?.0.tier)
}

/// Archive and unarchive keep every op and file; ops are read from the archive
/// without unarchiving; a file read unarchives; a second run of either is a no-op.
pub async fn tiers_archive_unarchive<S: WorkspaceStore, H: TierHost>(store: S, host: H) -> Checked {
    let t = Tiers::new(store, host);
    let (lines, files) = seed(&t).await?;
    ensure_eq!(lines.len(), 12);
    t.archive(SPACE).await.ctx("archive")?;
    ensure_eq!(tier_of(&t).await?, Tier::Archived);
    ensure!(t.store().list("active/").await.ctx("list")?.is_empty());
    ensure_eq!(
        t.archive(SPACE).await.ctx("again")?.action,
        "already archived"
    );
    ensure_eq!(all_lines(&t).await?, lines);
    ensure_eq!(tier_of(&t).await?, Tier::Archived);
    t.unarchive(SPACE).await.ctx("unarchive")?;
    ensure_eq!(tier_of(&t).await?, Tier::Active);
    ensure!(t.store().list("archived/").await.ctx("list")?.is_empty());
    ensure_eq!(
        t.unarchive(SPACE).await.ctx("again")?.action,
        "already active"
    );
    ensure_eq!(all_lines(&t).await?, lines);
    t.archive(SPACE).await.ctx("archive")?;
    for (h, data) in &files {
        ensure!(&t.get_file(SPACE, h).await.ctx("get_file")? == data);
    }
    ensure_eq!(tier_of(&t).await?, Tier::Active);
    let missing = Sha256Hex::of(b"nothing");
    ensure!(matches!(
        t.get_file(SPACE, &missing).await,
        Err(Error::NotFound(_))
    ));
    Ok(())
}

/// A crash at every store call of an archive, then of an unarchive: the space stays
/// whole in the tier its metadata names after each, and a rerun finishes the job.
pub async fn tiers_crash_at_every_call<S: WorkspaceStore, H: TierHost + Clone>(
    store: S,
    host: H,
) -> Checked {
    let faulty = Faulty::new(store);
    let t = Tiers::new(&faulty, host.clone());
    let (lines, files) = seed(&t).await?;
    for archive in [true, false] {
        let mut n = 1;
        loop {
            faulty.fail_after(n);
            let r = if archive {
                t.archive(SPACE).await
            } else {
                t.unarchive(SPACE).await
            };
            faulty.fail_after(0);
            let want = if archive {
                Tier::Archived
            } else {
                Tier::Active
            };
            let done = r.is_ok();
            ensure_eq!(all_lines(&t).await?, lines, "after a crash at call {n}");
            if !done {
                // The rerun (another process) finishes the job.
                let again = if archive {
                    t.archive(SPACE).await
                } else {
                    t.unarchive(SPACE).await
                };
                again.ctx(&format!("rerun after a crash at call {n}"))?;
                ensure_eq!(all_lines(&t).await?, lines, "after the rerun of {n}");
            }
            ensure_eq!(tier_of(&t).await?, want, "after call {n}");
            // Back to where the next crash starts from.
            if archive {
                t.unarchive(SPACE).await.ctx("reset")?;
            } else {
                t.archive(SPACE).await.ctx("reset")?;
            }
            if done {
                break;
            }
            n += 1;
            ensure!(n < 500, "never finished");
        }
    }
    for (h, data) in &files {
        ensure!(&t.get_file(SPACE, h).await.ctx("get_file")? == data);
    }
    Ok(())
}

/// Two writers syncing and an archiver archiving at once, taking turns at every store
/// call: every op of both writers is stored once.
pub async fn tiers_two_writers_and_an_archiver<S: WorkspaceStore, H: TierHost + Clone>(
    store: S,
    host: H,
) -> Checked {
    let store = Interleaved(store);
    let (a, b, z) = (
        Tiers::new(&store, host.clone()),
        Tiers::new(&store, host.clone()),
        Tiers::new(&store, host),
    );
    seed(&a).await?;
    let archiver = async {
        for _ in 0..4 {
            match z.archive(SPACE).await {
                Ok(_) | Err(Error::Conflict(_)) => {}
                Err(e) => return Err(format!("archive: {e}")),
            }
        }
        Ok::<(), String>(())
    };
    let (ra, rb, rz) = futures_join3(write_ops(&a, PEER), write_ops(&b, PEER_B), archiver).await;
    ra?;
    rb?;
    rz?;
    let ops = a
        .get_operations(SPACE, &tree(), None, None)
        .await
        .ctx("get_operations")?;
    for peer in [PEER, PEER_B] {
        for c in 100..112 {
            let line = format!("[{c},\"v1\",\"k\",{c}]");
            let n = ops
                .iter()
                .filter(|o| o.peer == peer && o.line == line)
                .count();
            ensure_eq!(n, 1, "op {c} of {peer} stored once");
        }
    }
    Ok(())
}

/// Syncs ops 100..112 of `peer` one at a time, starting again on a conflict.
async fn write_ops<S: WorkspaceStore, H: TierHost>(t: &Tiers<S, H>, peer: &str) -> Checked {
    for c in 100..112 {
        let op = set_op(c, peer, &c.to_string())?;
        let mut tries = 0;
        loop {
            match t
                .sync_tree(SPACE, &tree(), core::slice::from_ref(&op), None)
                .await
            {
                Ok(_) => break,
                Err(Error::Conflict(_)) if tries < 20 => tries += 1,
                Err(e) => return Err(format!("sync {c}: {e}")),
            }
        }
    }
    Ok(())
}

/// Sync returns what the client lacks (not sent, not covered by its state vector),
/// stores what the server lacks once, keeps values as JavaScript writes them, and works
/// on an archived space (unarchived on access).
pub async fn tiers_sync_with_state_vectors<S: WorkspaceStore, H: TierHost>(
    store: S,
    host: H,
    oracle: Oracle,
) -> Checked {
    let t = Tiers::new(store, host);
    let values = super::tricky::values(41, 60);
    let ops: Vec<WireOp> = values
        .iter()
        .enumerate()
        .map(|(i, v)| set_op(i as u64 + 1, PEER, v))
        .collect::<Result<_, _>>()?;
    ensure!(t
        .sync_tree(SPACE, &tree(), &ops, None)
        .await
        .ctx("sync")?
        .is_empty());
    t.archive(SPACE).await.ctx("archive")?;
    // A client that has counters 1..=20 of PEER and sends one op of its own.
    let mut state = StateVector::new();
    state.insert(PEER.into(), vec![[1, 20]]);
    let mine = set_op(1, PEER_B, "true")?;
    let reply = t
        .sync_tree(SPACE, &tree(), core::slice::from_ref(&mine), Some(&state))
        .await
        .ctx("sync with state")?;
    ensure_eq!(tier_of(&t).await?, Tier::Active);
    let counters: Vec<u64> = reply.iter().map(|o| o.id.counter).collect();
    ensure_eq!(counters, (21..=values.len() as u64).collect::<Vec<_>>());
    // Sent again: stored once.
    t.sync_tree(SPACE, &tree(), &[mine], Some(&state))
        .await
        .ctx("again")?;
    ensure_eq!(all_lines(&t).await?.len(), values.len() + 1);
    // Every value comes back as JavaScript's JSON.stringify(JSON.parse(text)) gives it.
    let full = t.sync_tree(SPACE, &tree(), &[], None).await.ctx("all")?;
    let mut by_counter: Vec<(u64, String)> = full
        .iter()
        .filter(|o| o.id.peer_id == PEER)
        .map(|o| {
            (
                o.id.counter,
                o.value
                    .as_ref()
                    .map(|v| v.get().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    by_counter.sort();
    ensure_eq!(by_counter.len(), values.len());
    if let Some(expected) = oracle(&values) {
        for ((c, got), want) in by_counter.iter().zip(expected) {
            // `{}` and `[]` are how Sila's files write a deletion (SILA-FORMAT.md
            // §2.1): they come back as one (no value).
            let want = want.filter(|w| w != "{}" && w != "[]").unwrap_or_default();
            ensure_eq!(got, &want, "value of op {c}");
        }
    }
    Ok(())
}

/// Joins three futures on one thread, polling each in turn.
pub(crate) async fn futures_join3<A: Future, B: Future, C: Future>(
    a: A,
    b: B,
    c: C,
) -> (A::Output, B::Output, C::Output) {
    let (mut a, mut b, mut c) = (Box::pin(a), Box::pin(b), Box::pin(c));
    let (mut ra, mut rb, mut rc) = (None, None, None);
    core::future::poll_fn(move |cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if rc.is_none() {
            if let Poll::Ready(v) = c.as_mut().poll(cx) {
                rc = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() && rc.is_some() {
            match (ra.take(), rb.take(), rc.take()) {
                (Some(x), Some(y), Some(z)) => Poll::Ready((x, y, z)),
                _ => Poll::Pending,
            }
        } else {
            Poll::Pending
        }
    })
    .await
}
