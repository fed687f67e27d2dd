//! Server tiers on object storage (PROPOSAL.md, ARCHITECTURE.md "Server tiers"). The
//! protocol (metadata, archive, unarchive, sync, files and ops on access) is the core's
//! [`sila_store_core::storage::Tiers`], run here over an [`ObjectWorkspaceStore`] with
//! the [`NativeHost`]; this module adds what needs a local folder (push, pull, open),
//! the sweep, and the store's configuration:
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

mod host;
mod metadata;
mod pull;
mod push;
pub mod store;
mod sweep;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStoreExt, PutPayload};
use sila_store_core::{Error, Result};

use crate::fs::PlainSource;
pub use host::NativeHost;
pub use metadata::{new_epoch, now_ms};
pub use sila_store_core::ops::wire::{WireOp, WireOpId};
pub use sila_store_core::storage::tiers::{
    valid_space_id, ArchiveInfo, IndexEntry, Tier, TierMetadata, TierReport, CLEANUP_LEASE_MS,
    CONCURRENCY, MAX_ATTEMPTS, ORPHAN_AGE_MS,
};
pub use store::{backend, Instrumented, Instruments, S3Options, TierStore};
pub use sweep::SweepItem;

/// The core's tiers as this host runs them.
pub type Engine =
    sila_store_core::storage::Tiers<crate::object_store_store::ObjectWorkspaceStore, NativeHost>;

/// A lock per key, for conditional writes of this process (see
/// [`crate::object_store_store::ObjectWorkspaceStore`]).
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
