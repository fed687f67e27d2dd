//! Server tiers over any [`WorkspaceStore`] (PROPOSAL.md, ARCHITECTURE.md "Server
//! tiers"), written once: the S3 tiers of `bindings-native`, and every other backend,
//! run this code.
//!
//! ```text
//! active/<spaceId>/<epoch>/sila.md, space-v1/…   the plain layout, one object a file
//! archived/<spaceId>/<name>.db                   the SQLite archive, one object
//! metadata/<spaceId>.json                        tier, generation, last activity,
//!                                                archive size + SHA-256, and the index
//!                                                (size + SHA-256) of every active file
//! ```
//!
//! The metadata object is the truth: readers use the tier it names and ignore leftovers
//! in the other. Every change of it is a conditional write (if-version, or if-absent
//! when creating it), so two servers never both win.
//!
//! Archive: download the active files (hashes checked against the index) into a work
//! area of the host → build the SQLite archive there (verified) → upload it in parts →
//! read it back and check size and SHA-256 → flip the metadata to `archived` → delete
//! the active objects. Unarchive is the mirror. A crash between any two steps (any
//! store call failing) leaves the workspace complete in the tier the metadata names;
//! running the command again finishes the job (and cleans up what a crash left in the
//! other tier).
//!
//! What needs the host (time, randomness for epochs, waiting, and a local place to
//! build or open an archive) comes through [`TierHost`]: the policy has no I/O of its
//! own beyond the store.

mod access;
mod archive;
mod metadata;
mod sync;
pub(crate) mod transfer;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::entries::{Listing, Operation, Progress};
use crate::error::Result;
use crate::ids::{Day, TreeId};
use crate::store::{SendOutsideWasm, SyncOutsideWasm, WorkspaceStore};

pub use access::{indexed_part, tree_files};
pub use archive::check_space_json;
pub use metadata::{
    check_metadata, valid_space_id, ArchiveInfo, IndexEntry, Tier, TierMetadata, TierReport,
};
pub use sync::merge_ops_bytes;

/// How many requests run at once when moving many files.
pub const CONCURRENCY: usize = 8;

/// Objects larger than this move in parts of this size (bounded memory for any size).
pub const PART: u64 = 16 << 20;

/// How long an archive's deletion of the active objects may take before another
/// process takes it over (the archiver is then presumed dead).
pub const CLEANUP_LEASE_MS: u64 = 30_000;

/// How many times an operation starts again after another writer changed the space.
pub const MAX_ATTEMPTS: u32 = 50;

/// An object the metadata does not name (an archive under `archived/<spaceId>/`, or
/// files under an epoch of `active/<spaceId>/` while the space is archived) and that is
/// older than this was left by a killed or losing run (a run checks its uploads right
/// after writing them, then writes the metadata); the next archive deletes it.
pub const ORPHAN_AGE_MS: u64 = 24 * 3_600_000;

/// Reads that fail because the tier changed under them (an archive or unarchive won
/// between reading the metadata and reading the object) start again this many times.
pub const READ_ATTEMPTS: u32 = 5;

/// An epoch from random bits: `e` and the low 40 bits in base 36 (8 digits at most:
/// object keys stay short, as some S3-compatible servers limit them).
pub fn epoch_of(bits: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n = bits & 0xff_ffff_ffff;
    let mut out = String::from("e");
    loop {
        out.push(DIGITS[(n % 36) as usize] as char);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out
}

/// What the tiers need from the host.
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
pub trait TierHost: SendOutsideWasm + SyncOutsideWasm {
    /// Unix milliseconds now.
    fn now_ms(&self) -> u64;

    /// A fresh, short key segment that concurrent writers do not share (an epoch of
    /// active files, the name of an archive).
    fn new_epoch(&self) -> String;

    /// Waits `ms` milliseconds.
    async fn sleep_ms(&self, ms: u64);

    /// A fresh, empty work area (removed when dropped).
    fn work_area(&self) -> Result<Box<dyn WorkArea>>;
}

/// A local place to build or open an archive: a temporary folder natively, memory in a
/// browser. Calls are synchronous (local I/O and SQLite); the store calls around them
/// are async.
pub trait WorkArea: SendOutsideWasm {
    /// Adds `bytes` to the end of the plain file `path` (created empty by the first
    /// call).
    fn append_plain(&mut self, path: &str, bytes: &[u8]) -> Result<()>;

    /// Builds the SQLite archive of the plain files written, verified against them,
    /// and returns its size and format version.
    fn build_archive(&mut self, progress: &mut dyn FnMut(Progress<'_>)) -> Result<(u64, i64)>;

    /// Adds `bytes` to the end of the archive (downloading one).
    fn append_archive(&mut self, bytes: &[u8]) -> Result<()>;

    /// `len` bytes of the archive from `offset`.
    fn read_archive(&mut self, offset: u64, len: u64) -> Result<Vec<u8>>;

    /// Extracts the archive into plain files (verified) and lists them.
    fn extract_archive(&mut self, progress: &mut dyn FnMut(Progress<'_>)) -> Result<Listing>;

    /// `len` bytes of the plain file `path` from `offset`.
    fn read_plain(&mut self, path: &str, offset: u64, len: u64) -> Result<Vec<u8>>;

    /// The ops of `tree` in days `from..=to`, queried from the archive.
    fn archive_operations(
        &mut self,
        tree: &TreeId,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Vec<Operation>>;
}

/// Many spaces in tiers in one store.
#[derive(Debug)]
pub struct Tiers<S, H> {
    store: S,
    host: H,
}

impl<S: WorkspaceStore, H: TierHost> Tiers<S, H> {
    /// The tiers kept in `store`, with `host` for time and work areas.
    pub fn new(store: S, host: H) -> Self {
        Tiers { store, host }
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The host.
    pub fn host(&self) -> &H {
        &self.host
    }

    /// `metadata/<id>.json`.
    pub fn meta_key(id: &str) -> String {
        format!("metadata/{id}.json")
    }

    /// The key of active file `rel` of space `id` in `epoch` (empty: metadata written
    /// before epochs existed, the files right under the id).
    pub fn active_key(id: &str, epoch: &str, rel: &str) -> String {
        if epoch.is_empty() {
            format!("active/{id}/{rel}")
        } else {
            format!("active/{id}/{epoch}/{rel}")
        }
    }

    /// The key of archive `name` of space `id` (empty: `workspace.db`).
    pub fn archive_key(id: &str, name: &str) -> String {
        let name = if name.is_empty() {
            "workspace.db"
        } else {
            name
        };
        format!("archived/{id}/{name}")
    }
}

impl<S: WorkspaceStore, H: TierHost> super::WorkspaceStorage for Tiers<S, H> {
    async fn put_operation(
        &self,
        space_id: &str,
        tree: &TreeId,
        op: &crate::reptree::TreeOp,
    ) -> Result<()> {
        let op = crate::ops::wire::WireOp::from_tree_op(op)?;
        let none = super::StateVector::new();
        self.sync_tree(space_id, tree, &[op], Some(&none))
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
        Tiers::get_operations(self, space_id, tree, from, to).await
    }

    async fn put_file(&self, space_id: &str, bytes: Vec<u8>) -> Result<crate::ids::Sha256Hex> {
        Tiers::put_file(self, space_id, bytes).await
    }

    async fn get_file(&self, space_id: &str, hash: &crate::ids::Sha256Hex) -> Result<Vec<u8>> {
        Tiers::get_file(self, space_id, hash).await
    }

    async fn workspace_format(&self, space_id: &str) -> Result<super::StorageFormat> {
        let (meta, _) = self.require_metadata(space_id).await?;
        Ok(match meta.tier {
            Tier::Active => super::StorageFormat::PlainFiles,
            Tier::Archived => super::StorageFormat::Sqlite,
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
        client_ops: &[crate::reptree::TreeOp],
        state: Option<&super::StateVector>,
    ) -> Result<Vec<crate::reptree::TreeOp>> {
        let wire: Vec<crate::ops::wire::WireOp> = client_ops
            .iter()
            .map(crate::ops::wire::WireOp::from_tree_op)
            .collect::<Result<_>>()?;
        self.sync_tree(space_id, tree, &wire, state)
            .await?
            .iter()
            .map(crate::ops::wire::WireOp::to_tree_op)
            .collect()
    }
}
