//! The core's tiers seen from [`TierStore`]: epochs and time of this process, object
//! keys under the store's prefix, and the protocol's calls, with the requests each
//! made.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt};
use sila_store_core::entries::Operation;
use sila_store_core::ids::{Day, Sha256Hex, TreeId};
use sila_store_core::store::Version;
use sila_store_core::Result;

use super::{backend, Engine, TierMetadata, TierReport, TierStore, WireOp};

/// A fresh epoch: short (object keys stay short: some S3-compatible servers limit
/// them), from time, process and a counter, so that concurrent writers differ.
pub fn new_epoch() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    use std::hash::BuildHasher;
    // Time, pid and counter alone repeat across containers (every process pid 1, every
    // CLI run counter 0): the per-process random keys of RandomState make them differ.
    let random = std::collections::hash_map::RandomState::new().hash_one(now_ms());
    let mut x = now_ms()
        ^ random
        ^ (u64::from(std::process::id()) << 32)
        ^ N.fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 29;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 32;
    sila_store_core::storage::tiers::epoch_of(x)
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl TierStore {
    pub(super) fn active_key(&self, id: &str, epoch: &str, rel: &str) -> ObjPath {
        self.key(&Engine::active_key(id, epoch, rel))
    }
    pub(super) fn archive_key(&self, id: &str, name: &str) -> ObjPath {
        self.key(&Engine::archive_key(id, name))
    }

    /// The metadata of a space and its version, `None` if there is none.
    pub async fn read_metadata(&self, id: &str) -> Result<Option<(TierMetadata, Version)>> {
        self.engine.read_metadata(id).await
    }

    /// The metadata of a space that must exist.
    pub(super) async fn require_metadata(&self, id: &str) -> Result<(TierMetadata, Version)> {
        self.engine.require_metadata(id).await
    }

    /// Writes the metadata if it is still at `expected` (or absent, for `None`).
    pub async fn write_metadata(
        &self,
        meta: &TierMetadata,
        expected: Option<&Version>,
    ) -> Result<()> {
        self.engine.write_metadata(meta, expected).await
    }

    /// Metadata of an active space (unarchiving it if archived; new if none).
    pub(super) async fn active_metadata(
        &self,
        id: &str,
    ) -> Result<(TierMetadata, Option<Version>)> {
        self.engine.active_metadata(id).await
    }

    /// `report` with the requests made since `start`.
    fn counted(&self, start: u64, mut report: TierReport) -> TierReport {
        report.requests = self.instruments().requests() - start;
        report
    }

    /// Moves an active space to the archived tier ([`sila_store_core::storage::Tiers::archive`]).
    pub async fn archive(&self, id: &str) -> Result<TierReport> {
        let start = self.instruments().requests();
        Ok(self.counted(start, self.engine.archive(id).await?))
    }

    /// Moves an archived space back to the active tier
    /// ([`sila_store_core::storage::Tiers::unarchive`]).
    pub async fn unarchive(&self, id: &str) -> Result<TierReport> {
        let start = self.instruments().requests();
        Ok(self.counted(start, self.engine.unarchive(id).await?))
    }

    /// Stores a CAS file in the active tier and returns its hash.
    pub async fn put_file(&self, id: &str, bytes: Vec<u8>) -> Result<Sha256Hex> {
        self.engine.put_file(id, bytes).await
    }

    /// The bytes of a CAS file, checked against its hash.
    pub async fn get_file(&self, id: &str, hash: &Sha256Hex) -> Result<Vec<u8>> {
        self.engine.get_file(id, hash).await
    }

    /// The ops of a tree in a day range, from whichever tier holds the space.
    pub async fn get_operations(
        &self,
        id: &str,
        tree: &TreeId,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Vec<Operation>> {
        self.engine.get_operations(id, tree, from, to).await
    }

    /// The seed's `syncWorkspace` for one tree
    /// ([`sila_store_core::storage::Tiers::sync_tree`]).
    pub async fn sync_tree(
        &self,
        id: &str,
        tree: &TreeId,
        client_ops: &[WireOp],
        client_state: Option<&BTreeMap<String, Vec<[u64; 2]>>>,
    ) -> Result<Vec<WireOp>> {
        self.engine
            .sync_tree(id, tree, client_ops, client_state)
            .await
    }

    pub(super) async fn get_bytes(&self, key: &ObjPath) -> Result<Vec<u8>> {
        let r = self.store.get(key).await.map_err(backend)?;
        Ok(r.bytes().await.map_err(backend)?.to_vec())
    }

    pub(super) async fn list_keys(
        &self,
        prefix: &ObjPath,
    ) -> Result<Vec<object_store::ObjectMeta>> {
        self.store
            .list(Some(prefix))
            .try_collect()
            .await
            .map_err(backend)
    }
}
