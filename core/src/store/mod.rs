//! The low-level storage a workspace is kept in: [`WorkspaceStore`], a few async calls
//! over `/`-separated relative paths (list a prefix, read whole or a range, write
//! atomically with an optional precondition, append, delete many). Backends implement
//! only this: [`MemoryStore`] here; the filesystem and object stores (S3, file,
//! memory through `object_store`) in `bindings-native`; one store over JS callbacks in
//! `bindings-wasm`. Everything a workspace *means* (placement of ops, dedup, blobs,
//! hashes) is written once above it, in [`crate::storage::SpaceStorage`].
//!
//! Futures are `Send` outside wasm only ([`SendOutsideWasm`], as matrix-sdk does), so
//! one trait serves threaded native hosts and single-threaded wasm hosts.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

mod memory;
pub use memory::MemoryStore;

/// `Send` where threads exist (not on wasm32).
#[cfg(not(target_arch = "wasm32"))]
pub trait SendOutsideWasm: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> SendOutsideWasm for T {}
/// `Send` where threads exist (not on wasm32).
#[cfg(target_arch = "wasm32")]
pub trait SendOutsideWasm {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> SendOutsideWasm for T {}

/// `Sync` where threads exist (not on wasm32).
#[cfg(not(target_arch = "wasm32"))]
pub trait SyncOutsideWasm: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> SyncOutsideWasm for T {}
/// `Sync` where threads exist (not on wasm32).
#[cfg(target_arch = "wasm32")]
pub trait SyncOutsideWasm {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> SyncOutsideWasm for T {}

/// An opaque version of a stored object (an ETag, a generation, a content hash):
/// equal versions mean equal content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version(pub String);

/// When a write may happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Always (replace whatever is there).
    None,
    /// Only if nothing is stored at the path.
    IfAbsent,
    /// Only if the object is still at this version.
    IfVersion(Version),
}

/// A stored object in a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its path, relative to the store's root.
    pub path: String,
    /// Its size in bytes, where the backend's listing tells it.
    pub size: Option<u64>,
    /// When it was last written (Unix milliseconds), where the backend tells it. The
    /// tiers delete what a killed run left only once it is old enough; an object
    /// without a time is never taken for such a leftover.
    pub modified_ms: Option<u64>,
}

/// The bytes of an object in parts, in order, for [`WorkspaceStore::write_parts`]: a
/// large object (an archive) written in bounded memory.
pub trait PartSource: SendOutsideWasm {
    /// The next part, or `None` after the last.
    fn next_part(&mut self) -> crate::Result<Option<Vec<u8>>>;
}

/// Takes the bytes of an object in pieces, in order, for
/// [`WorkspaceStore::read_into`]: a large object read in bounded memory.
pub trait PartSink: SendOutsideWasm {
    /// The next piece.
    fn take_part(&mut self, bytes: &[u8]) -> crate::Result<()>;
}

/// Largest piece the default [`WorkspaceStore::read_into`] reads at once.
pub const READ_PIECE: u64 = 16 << 20;

/// [`WorkspaceStore::read_into`] through [`WorkspaceStore::read_range`], [`READ_PIECE`]
/// bytes at a time (its default, for overrides that fall back to it).
pub async fn read_into_by_ranges<S: WorkspaceStore + ?Sized>(
    store: &S,
    path: &str,
    offset: u64,
    len: u64,
    sink: &mut dyn PartSink,
) -> crate::Result<u64> {
    let mut n = 0;
    while n < len {
        let piece = store
            .read_range(path, offset.saturating_add(n), READ_PIECE.min(len - n))
            .await?;
        if piece.is_empty() {
            break;
        }
        n += piece.len() as u64;
        sink.take_part(&piece)?;
    }
    Ok(n)
}

/// What a store call can fail with. Codes ([`StoreError::code`]) are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Nothing is stored at the path.
    #[error("not found: {0}")]
    NotFound(String),
    /// A write's precondition did not hold (something is there, or it changed).
    #[error("precondition failed for {0}: it exists or changed")]
    PreconditionFailed(String),
    /// A path the store refuses (not a safe relative path).
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The backend failed; the source is kept.
    #[error("{op} {path}: {source}")]
    Backend {
        /// The call (`read`, `write`, …).
        op: &'static str,
        /// The path.
        path: String,
        /// What the backend said.
        source: Box<dyn core::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// The stable code: `NotFound`, `PreconditionFailed`, `InvalidPath` or `Backend`.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound(_) => "NotFound",
            StoreError::PreconditionFailed(_) => "PreconditionFailed",
            StoreError::InvalidPath { .. } => "InvalidPath",
            StoreError::Backend { .. } => "Backend",
        }
    }

    /// A backend failure at `path`, keeping its source.
    pub fn backend(
        op: &'static str,
        path: &str,
        source: impl Into<Box<dyn core::error::Error + Send + Sync>>,
    ) -> Self {
        StoreError::Backend {
            op,
            path: path.to_string(),
            source: source.into(),
        }
    }
}

impl From<StoreError> for crate::Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(p) => crate::Error::NotFound(p),
            StoreError::PreconditionFailed(p) => {
                crate::Error::Conflict(alloc::format!("{p} exists or changed"))
            }
            StoreError::InvalidPath { path, .. } => crate::Error::UnsafePath {
                path,
                reason: "refused by the store",
            },
            e @ StoreError::Backend { .. } => crate::Error::Backend(e.to_string()),
        }
    }
}

/// A store result.
pub type StoreResult<T> = core::result::Result<T, StoreError>;

/// The part of `bytes` that [`WorkspaceStore::read_range`] gives: `len` bytes from
/// `offset`, fewer at the end, none past it.
pub fn byte_range(bytes: &[u8], offset: u64, len: u64) -> &[u8] {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let end = start
        .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
        .min(bytes.len());
    &bytes[start..end]
}

/// Checks a path before a store uses it: a safe relative path (see
/// [`crate::layout::safe_relative_path`]), or a folder prefix ending in `/`.
pub fn check_path(path: &str) -> StoreResult<()> {
    let p = path.strip_suffix('/').unwrap_or(path);
    if p.is_empty() {
        return Ok(());
    }
    crate::layout::safe_relative_path(p).map_err(|e| StoreError::InvalidPath {
        path: path.to_string(),
        reason: e.to_string(),
    })
}

/// The low-level storage of one workspace (or of a prefix holding many): paths are
/// relative and `/`-separated.
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
pub trait WorkspaceStore: SendOutsideWasm + SyncOutsideWasm {
    /// Every object whose path starts with `prefix` (`""` for all), in any order.
    async fn list(&self, prefix: &str) -> StoreResult<Vec<ObjectInfo>>;

    /// The object at `path` and its version, or `None`.
    async fn read(&self, path: &str) -> StoreResult<Option<(Vec<u8>, Version)>>;

    /// `len` bytes of the object at `path` from `offset` (fewer at its end): reading a
    /// large object piece by piece in bounded memory.
    async fn read_range(&self, path: &str, offset: u64, len: u64) -> StoreResult<Vec<u8>>;

    /// Up to `len` bytes of the object at `path` from `offset` (fewer at its end),
    /// handed to `sink` in order; returns how many. The default reads them with
    /// [`WorkspaceStore::read_range`], [`READ_PIECE`] at a time; a backend that
    /// streams a body (S3: one GET) overrides it, so a large object is one request
    /// and never sits in memory whole.
    async fn read_into(
        &self,
        path: &str,
        offset: u64,
        len: u64,
        sink: &mut dyn PartSink,
    ) -> crate::Result<u64> {
        read_into_by_ranges(self, path, offset, len, sink).await
    }

    /// The size of the object at `path`, or `None`.
    async fn size(&self, path: &str) -> StoreResult<Option<u64>>;

    /// Replaces the object at `path` with `bytes`, atomically (a reader sees the old
    /// or the new content, never a mix, also after a crash) if `condition` holds;
    /// else [`StoreError::PreconditionFailed`] and nothing changes.
    async fn write(
        &self,
        path: &str,
        bytes: Vec<u8>,
        condition: Precondition,
    ) -> StoreResult<Version>;

    /// Writes the object at `path` from `parts`, as [`WorkspaceStore::write`] does.
    /// The default joins the parts in memory; a backend that can take an object in
    /// pieces (a multipart upload, a temporary file) overrides it, so that a large
    /// object never sits in memory whole.
    async fn write_parts(
        &self,
        path: &str,
        parts: &mut dyn PartSource,
        condition: Precondition,
    ) -> StoreResult<Version> {
        let mut bytes = Vec::new();
        while let Some(p) = parts
            .next_part()
            .map_err(|e| StoreError::backend("write", path, e.to_string()))?
        {
            bytes.extend_from_slice(&p);
        }
        self.write(path, bytes, condition).await
    }

    /// Appends `bytes` to the object at `path` (creating it), durably. The default
    /// reads, merges and writes conditionally, retrying on a concurrent change; a
    /// backend with a real append overrides it.
    async fn append(&self, path: &str, bytes: &[u8]) -> StoreResult<()> {
        for _ in 0..64 {
            let (mut current, condition) = match self.read(path).await? {
                Some((b, v)) => (b, Precondition::IfVersion(v)),
                None => (Vec::new(), Precondition::IfAbsent),
            };
            current.extend_from_slice(bytes);
            match self.write(path, current, condition).await {
                Ok(_) => return Ok(()),
                Err(StoreError::PreconditionFailed(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::PreconditionFailed(path.to_string()))
    }

    /// Deletes the objects at `paths`; a path with nothing stored is not an error.
    async fn delete_many(&self, paths: &[String]) -> StoreResult<()>;
}

/// A store seen through a reference is the same store (so two engines, or an engine
/// and its caller, can share one).
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
impl<S: WorkspaceStore + ?Sized> WorkspaceStore for &S {
    async fn list(&self, prefix: &str) -> StoreResult<Vec<ObjectInfo>> {
        (**self).list(prefix).await
    }

    async fn read(&self, path: &str) -> StoreResult<Option<(Vec<u8>, Version)>> {
        (**self).read(path).await
    }

    async fn read_range(&self, path: &str, offset: u64, len: u64) -> StoreResult<Vec<u8>> {
        (**self).read_range(path, offset, len).await
    }

    async fn read_into(
        &self,
        path: &str,
        offset: u64,
        len: u64,
        sink: &mut dyn PartSink,
    ) -> crate::Result<u64> {
        (**self).read_into(path, offset, len, sink).await
    }

    async fn size(&self, path: &str) -> StoreResult<Option<u64>> {
        (**self).size(path).await
    }

    async fn write(
        &self,
        path: &str,
        bytes: Vec<u8>,
        condition: Precondition,
    ) -> StoreResult<Version> {
        (**self).write(path, bytes, condition).await
    }

    async fn write_parts(
        &self,
        path: &str,
        parts: &mut dyn PartSource,
        condition: Precondition,
    ) -> StoreResult<Version> {
        (**self).write_parts(path, parts, condition).await
    }

    async fn append(&self, path: &str, bytes: &[u8]) -> StoreResult<()> {
        (**self).append(path, bytes).await
    }

    async fn delete_many(&self, paths: &[String]) -> StoreResult<()> {
        (**self).delete_many(paths).await
    }
}
