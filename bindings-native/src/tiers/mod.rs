//! Server tiers on object storage (PROPOSAL.md, ARCHITECTURE.md "Server tiers"):
//!
//! ```text
//! <prefix>/active/<spaceId>/sila.md, space-v1/…   the plain layout, one object a file
//! <prefix>/archived/<spaceId>/workspace.db        the SQLite archive, one object
//! <prefix>/metadata/<spaceId>.json                tier, generation, last activity,
//!                                                 archive size + SHA-256, and the index
//!                                                 (size + SHA-256) of every active file
//! ```
//!
//! The metadata object is the truth: readers use the tier it names and ignore leftovers
//! in the other. Every change of it is a conditional write (`If-Match` on its ETag, or
//! `If-None-Match: *` when creating it), so two servers never both win.
//!
//! Archive: download the active files (hashes checked against the index) → build the
//! SQLite archive locally (verified) → upload it → download it again and check size and
//! SHA-256 → flip the metadata to `archived` → delete the active objects. Unarchive is
//! the mirror. A crash between any two steps leaves the workspace complete in the tier
//! the metadata names; running the command again finishes the job (it also cleans up
//! what a crash left in the other tier).

mod access;
mod archive;
mod metadata;
mod pull;
mod push;
pub mod store;
mod sweep;
mod sync;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStoreExt, PutPayload};
use sila_store_core::entries::Operation;
use sila_store_core::ids::{Day, Sha256Hex, TreeId};
use sila_store_core::layout::EntryKind;
use sila_store_core::{Error, Result};

use crate::fs::PlainSource;
use access::*;
use metadata::*;
pub use metadata::{new_epoch, now_ms, ArchiveInfo, IndexEntry, Tier, TierMetadata, TierReport};
pub use store::{backend, Instrumented, Instruments, S3Options, TierStore};
pub use sweep::SweepItem;

/// How many requests run at once when moving many files.
pub const CONCURRENCY: usize = 8;

/// How long an archive's deletion of the active objects may take before another
/// process takes it over (the archiver is then presumed dead).
pub const CLEANUP_LEASE_MS: u64 = 30_000;

/// How often an operation starts again after another writer changed the space.
pub const MAX_ATTEMPTS: u32 = 50;

/// An object the metadata does not name (an archive under `archived/<spaceId>/`, or
/// files under an epoch of `active/<spaceId>/` while the space is archived) and that is
/// older than this was left by a killed or losing run (a run checks its uploads right
/// after writing them, then writes the metadata); the next archive deletes it.
pub const ORPHAN_AGE_MS: u64 = 24 * 3_600_000;

/// Reads that fail because the tier changed under them (an archive or unarchive won
/// between reading the metadata and reading the object) start again this many times.
const READ_ATTEMPTS: u32 = 5;

/// The lock of one object key, for conditional writes from this process.
/// A lock per key, for conditional writes of this process (see `put_if`).
pub(crate) fn key_lock(key: &str) -> Arc<tokio::sync::Mutex<()>> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let map = LOCKS.get_or_init(Default::default);
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() > 10_000 {
        map.retain(|_, l| Arc::strong_count(l) > 1);
    }
    Arc::clone(map.entry(key.to_string()).or_default())
}

pub use sila_store_core::ops::wire::{WireOp, WireOpId};

fn space_id_of(source: &mut PlainSource) -> Result<String> {
    let id = sila_store_core::entries::read_space_id(source)?.ok_or_else(|| {
        Error::NotAWorkspace("no space-v1/space.json with an id: cannot tell the space id".into())
    })?;
    valid_space_id(&id)?;
    Ok(id)
}

/// Uploads local files to keys, `CONCURRENCY` at a time.
async fn upload_files(store: &Arc<Instrumented>, jobs: Vec<(PathBuf, ObjPath)>) -> Result<()> {
    let store = Arc::clone(store);
    futures::stream::iter(jobs.into_iter().map(move |(path, key)| {
        let store = Arc::clone(&store);
        async move {
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| Error::io(path.display().to_string(), e))?;
            store
                .put(&key, PutPayload::from(bytes))
                .await
                .map_err(backend)?;
            Ok::<_, Error>(())
        }
    }))
    .buffer_unordered(CONCURRENCY)
    .try_collect::<Vec<()>>()
    .await?;
    Ok(())
}

async fn upload(store: &Arc<Instrumented>, key: &ObjPath, bytes: Vec<u8>) -> Result<()> {
    const PART: usize = 16 << 20;
    if bytes.len() <= PART {
        store
            .put(key, PutPayload::from(bytes))
            .await
            .map_err(backend)?;
        return Ok(());
    }
    let mut up = store.put_multipart(key).await.map_err(backend)?;
    for chunk in bytes.chunks(PART) {
        up.put_part(PutPayload::from(chunk.to_vec()))
            .await
            .map_err(backend)?;
    }
    up.complete().await.map_err(backend)?;
    Ok(())
}

async fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e| Error::io(path.display().to_string(), e);
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io)?;
    }
    let tmp = path.with_file_name(format!(
        ".{}.sila-store-part-{}-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        unique()
    ));
    tokio::fs::write(&tmp, bytes).await.map_err(io)?;
    let f = tokio::fs::File::open(&tmp).await.map_err(io)?;
    f.sync_all().await.map_err(io)?;
    tokio::fs::rename(&tmp, path).await.map_err(io)?;
    Ok(())
}

/// An ops file holding the lines of both: `local` if it only extends `current` (byte
/// for byte what the client has), `current` if it already holds all of `local`, else
/// `current` followed by the lines of `local` it lacks (compared as exact line text),
/// in `local`'s order.
fn merge_ops_bytes(current: &[u8], local: &[u8]) -> Vec<u8> {
    if local.starts_with(current) {
        return local.to_vec();
    }
    if current.starts_with(local) {
        return current.to_vec();
    }
    let lines = |b: &[u8]| -> Vec<Vec<u8>> {
        b.split(|&c| c == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    };
    let have: BTreeSet<Vec<u8>> = lines(current).into_iter().collect();
    let mut out = current.to_vec();
    for l in lines(local) {
        if !have.contains(&l) {
            if !out.is_empty() && !out.ends_with(b"\n") {
                out.push(b'\n');
            }
            out.extend_from_slice(&l);
            out.push(b'\n');
        }
    }
    out
}

/// What the index covers of an object: an ops file only grows, and a writer appends to
/// it before writing the index, so an ops file longer than its entry whose first
/// `size` bytes match the entry is the indexed file plus lines not yet acknowledged
/// (their writer's index update will fail or is still coming): the indexed part is
/// the file. Anything else comes back unchanged, to be checked against the entry.
fn indexed_part(path: &str, entry: &IndexEntry, mut bytes: Vec<u8>) -> Vec<u8> {
    let size = usize::try_from(entry.size).unwrap_or(usize::MAX);
    if bytes.len() > size
        && matches!(EntryKind::from_path(path), Ok(EntryKind::OpsFile(_)))
        && Sha256Hex::of(&bytes[..size]).as_str() == entry.sha256
    {
        bytes.truncate(size);
    }
    bytes
}

/// A unique number in this process, for temporary names.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A temporary folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Result<Self> {
        let p = std::env::temp_dir().join(format!(
            "sila-store-{tag}-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&p).map_err(|e| Error::io(p.display().to_string(), e))?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A temporary file beside `dir`, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(dir: &Path, name: &str) -> Result<Self> {
        let base = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(base).map_err(|e| Error::io(base.display().to_string(), e))?;
        Ok(TempFile(base.join(format!(
            ".sila-store-{name}-{}-{}",
            std::process::id(),
            unique()
        ))))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl sila_store_core::storage::WorkspaceStorage for TierStore {
    async fn put_operation(
        &self,
        space_id: &str,
        tree: &TreeId,
        op: &sila_store_core::reptree::TreeOp,
    ) -> Result<()> {
        self.sync_tree(
            space_id,
            tree,
            &[WireOp::from_tree_op(op)?],
            Some(&BTreeMap::new()),
        )
        .await
        .map(|_| ())
    }

    async fn get_operations(
        &self,
        space_id: &str,
        tree: &TreeId,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Vec<Operation>> {
        TierStore::get_operations(self, space_id, tree, from, to).await
    }

    async fn put_file(&self, space_id: &str, bytes: Vec<u8>) -> Result<Sha256Hex> {
        TierStore::put_file(self, space_id, bytes).await
    }

    async fn get_file(&self, space_id: &str, hash: &Sha256Hex) -> Result<Vec<u8>> {
        TierStore::get_file(self, space_id, hash).await
    }

    async fn workspace_format(
        &self,
        space_id: &str,
    ) -> Result<sila_store_core::storage::StorageFormat> {
        use sila_store_core::storage::StorageFormat;
        let (meta, _) = self.require_metadata(space_id).await?;
        Ok(match meta.tier {
            Tier::Active => StorageFormat::PlainFiles,
            Tier::Archived => StorageFormat::Sqlite,
        })
    }

    async fn convert_to_sqlite(&self, space_id: &str) -> Result<()> {
        self.archive(space_id).await.map(|_| ())
    }

    async fn convert_to_plain(&self, space_id: &str) -> Result<()> {
        self.unarchive(space_id).await.map(|_| ())
    }

    async fn sync_workspace(
        &self,
        space_id: &str,
        tree: &TreeId,
        client_ops: &[sila_store_core::reptree::TreeOp],
        state: Option<&sila_store_core::storage::StateVector>,
    ) -> Result<Vec<sila_store_core::reptree::TreeOp>> {
        let wire: Vec<WireOp> = client_ops
            .iter()
            .map(WireOp::from_tree_op)
            .collect::<Result<_>>()?;
        self.sync_tree(space_id, tree, &wire, state)
            .await?
            .iter()
            .map(WireOp::to_tree_op)
            .collect()
    }
}
