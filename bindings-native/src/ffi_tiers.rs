//! The seed's storage API for native apps and servers through UniFFI: `SpaceStore`,
//! many workspaces by space id in an object store (`s3://bucket/prefix` configured
//! by the `AWS_*` variables, `file:///path`, `memory://`), active as plain files or
//! archived as one SQLite object, with the crash-safe protocol of `docs/TIERS.md`.
//! Values of ops travel as JSON text in Sila's wire form and are stored as the line
//! `JSON.stringify` gives (the core's one op pipeline).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use sila_store_core::entries::Operation;
use sila_store_core::ids::{Day, Sha256Hex, TreeId};
use sila_store_core::ops::wire;
use sila_store_core::Error;

use crate::ffi::{Result, SilaStoreError};
use crate::tiers::{TierReport, TierStore};

fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| SilaStoreError::from(Error::Backend(format!("tokio runtime: {e}"))))
}

fn day_of(s: Option<String>) -> Result<Option<Day>> {
    Ok(s.as_deref().map(Day::parse).transpose()?)
}

/// What a tier move did: requests made and files moved.
#[derive(Clone, Debug, uniffi::Record)]
pub struct TierOutcome {
    /// The space.
    pub space_id: String,
    /// Requests made to the store.
    pub requests: u64,
    /// Files (or objects) moved.
    pub transferred: u64,
}

impl From<TierReport> for TierOutcome {
    fn from(r: TierReport) -> Self {
        TierOutcome {
            space_id: r.space_id,
            requests: r.requests,
            transferred: r.transferred,
        }
    }
}

/// Workspaces by space id in an object store (the server tiers).
#[derive(uniffi::Object)]
pub struct SpaceStore {
    tiers: TierStore,
}

#[uniffi::export]
impl SpaceStore {
    /// Opens `s3://bucket/prefix`, `file:///path` or `memory://prefix`.
    #[uniffi::constructor]
    pub fn open(url: String) -> Result<Arc<Self>> {
        Ok(Arc::new(SpaceStore {
            tiers: TierStore::open(&url)?,
        }))
    }

    /// Uploads the workspace folder `dir` to the active tier (incrementally).
    pub fn push(&self, dir: String) -> Result<TierOutcome> {
        Ok(runtime()?
            .block_on(self.tiers.push(Path::new(&dir)))?
            .into())
    }

    /// Writes the space to the folder `dir` (an absent or empty folder, or this space's
    /// workspace).
    pub fn pull(&self, space_id: String, dir: String) -> Result<TierOutcome> {
        Ok(runtime()?
            .block_on(self.tiers.pull(&space_id, Path::new(&dir)))?
            .into())
    }

    /// `plain` (active) or `sqlite` (archived).
    pub fn format(&self, space_id: String) -> Result<String> {
        use sila_store_core::storage::{StorageFormat, WorkspaceStorage};
        Ok(
            match runtime()?.block_on(self.tiers.engine.workspace_format(&space_id))? {
                StorageFormat::PlainFiles => "plain",
                StorageFormat::Sqlite => "sqlite",
            }
            .to_string(),
        )
    }

    /// Archives the space (one SQLite object), crash-safe.
    pub fn archive(&self, space_id: String) -> Result<TierOutcome> {
        Ok(runtime()?.block_on(self.tiers.archive(&space_id))?.into())
    }

    /// Unarchives the space (plain files again), crash-safe.
    pub fn unarchive(&self, space_id: String) -> Result<TierOutcome> {
        Ok(runtime()?.block_on(self.tiers.unarchive(&space_id))?.into())
    }

    /// The ops of `tree_id` in day folders `from..=to`, as the exact lines stored.
    pub fn get_operations(
        &self,
        space_id: String,
        tree_id: String,
        from: Option<String>,
        to: Option<String>,
    ) -> Result<Vec<Operation>> {
        let tree = TreeId::new(&tree_id)?;
        Ok(runtime()?.block_on(self.tiers.get_operations(
            &space_id,
            &tree,
            day_of(from)?,
            day_of(to)?,
        ))?)
    }

    /// The seed's `syncWorkspace` for one tree: stores the ops of `ops_json` (a JSON
    /// array of ops in Sila's wire form) the server lacks and returns, as such an
    /// array, the ops the client lacks (not sent, not covered by `state_vector_json`,
    /// `{peerId: [[start, end], …]}`).
    pub fn sync(
        &self,
        space_id: String,
        tree_id: String,
        ops_json: String,
        state_vector_json: Option<String>,
    ) -> Result<String> {
        let tree = TreeId::new(&tree_id)?;
        let ops = wire::from_json(&ops_json)?;
        let sv: Option<std::collections::BTreeMap<String, Vec<[u64; 2]>>> = state_vector_json
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| Error::InvalidArgument(format!("state vector: {e}")))?;
        let missing =
            runtime()?.block_on(self.tiers.sync_tree(&space_id, &tree, &ops, sv.as_ref()))?;
        Ok(wire::to_json(&missing)?)
    }

    /// Stores a CAS file in the space; returns its SHA-256.
    pub fn put_file(&self, space_id: String, bytes: Vec<u8>) -> Result<String> {
        Ok(runtime()?
            .block_on(self.tiers.put_file(&space_id, bytes))?
            .as_str()
            .to_string())
    }

    /// The bytes of a CAS file, checked against its hash.
    pub fn get_file(&self, space_id: String, hash: String) -> Result<Vec<u8>> {
        let h = Sha256Hex::new(&hash)?;
        Ok(runtime()?.block_on(self.tiers.get_file(&space_id, &h))?)
    }
}
