//! The seed's storage API (PROPOSAL.md `WorkspaceStorage`), one trait for every host
//! that keeps many workspaces: `putOperation`, `getOperations(treeId, dateRange)`,
//! `putFile`, `getFile`, `getWorkspaceFormat`, `convertToSQLite` (archive),
//! `convertToPlainFiles` (unarchive) and `syncWorkspace`.
//!
//! Methods are `async fn`s in the trait (no `Send` bound is promised, so the same trait
//! serves single-threaded wasm hosts); implementations live with the I/O they need
//! (the object-store tiers in `bindings-native`).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::entries::Operation;
use crate::error::Result;
use crate::ids::{Day, Sha256Hex, TreeId};
use crate::reptree::TreeOp;

/// How a stored workspace is kept right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageFormat {
    /// Plain files (the active tier).
    PlainFiles,
    /// One SQLite archive (the archived tier).
    Sqlite,
}

/// A client's state vector for one tree: for each peer, the inclusive counter ranges
/// it has (`{peerId: [[start, end], …]}`, SILA-FORMAT.md §7).
pub type StateVector = BTreeMap<String, Vec<[u64; 2]>>;

/// The storage API of the seed, for a host that keeps many workspaces by space id.
#[allow(async_fn_in_trait)]
pub trait WorkspaceStorage {
    /// Stores one op of `tree` (appended the way Sila appends: today's UTC day file of
    /// the op's peer); an op already stored (same counter and peer) is ignored.
    async fn put_operation(&self, space_id: &str, tree: &TreeId, op: &TreeOp) -> Result<()>;

    /// The ops of `tree` stored in day folders `from..=to`, as the exact lines Sila
    /// wrote.
    async fn get_operations(
        &self,
        space_id: &str,
        tree: &TreeId,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Vec<Operation>>;

    /// Stores a CAS file and returns its SHA-256.
    async fn put_file(&self, space_id: &str, bytes: Vec<u8>) -> Result<Sha256Hex>;

    /// The bytes of a CAS file, checked against its hash.
    async fn get_file(&self, space_id: &str, hash: &Sha256Hex) -> Result<Vec<u8>>;

    /// How the workspace is kept now.
    async fn workspace_format(&self, space_id: &str) -> Result<StorageFormat>;

    /// Keeps the workspace as one SQLite archive (archive it).
    async fn convert_to_sqlite(&self, space_id: &str) -> Result<()>;

    /// Keeps the workspace as plain files (unarchive it).
    async fn convert_to_plain(&self, space_id: &str) -> Result<()>;

    /// Stores the client's ops of `tree` that the server lacks and returns the ops the
    /// client lacks (not among `client_ops`, not covered by `state`).
    async fn sync_workspace(
        &self,
        space_id: &str,
        tree: &TreeId,
        client_ops: &[TreeOp],
        state: Option<&StateVector>,
    ) -> Result<Vec<TreeOp>>;
}

#[cfg(feature = "sqlite")]
pub mod archive_read;
mod space;
mod space_archive;
#[cfg(all(feature = "sqlite", feature = "zip"))]
mod space_files;
mod sync;
pub mod tiers;
#[cfg(feature = "sqlite")]
pub use archive_read::{query_archive, ArchiveQuery};
pub use space::SpaceStorage;
pub use space_archive::{ArchiveReport, ARCHIVE_PATH};
#[cfg(all(feature = "sqlite", feature = "zip"))]
pub use space_files::Work;
pub use sync::missing_for_client;
pub use tiers::Tiers;
