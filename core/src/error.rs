//! The one error type of the core.
//!
//! Every variant names the problem and the place (a path, a line, a version), and
//! [`Error::code`] gives a stable, flat string a host can switch on (the wasm and
//! UniFFI bindings forward it unchanged).

use alloc::string::String;

/// A result with the core's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong reading, writing, converting or verifying a workspace.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An id (tree, peer, hash, mutable id) that is not well formed.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidId {
        /// Which kind of id.
        what: &'static str,
        /// The offending text.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A path that could escape the workspace (`..`, absolute, backslash, NUL, symlink…).
    #[error("unsafe path {path:?}: {reason}")]
    UnsafePath {
        /// The offending path, as found.
        path: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A line of an ops file that is not UTF-8.
    #[error("{path}: line {line} is not valid UTF-8")]
    InvalidUtf8 {
        /// The ops file.
        path: String,
        /// 1-based line number.
        line: u64,
    },
    /// Bytes whose SHA-256 is not the one their name, manifest or index promises.
    #[error("hash mismatch for {path}: expected {expected}, found {actual}")]
    HashMismatch {
        /// The file.
        path: String,
        /// The promised hash (lowercase hex).
        expected: String,
        /// The hash of the bytes actually read.
        actual: String,
    },
    /// A file whose length is not the one its manifest or index promises (e.g. a ZIP bomb).
    #[error("size mismatch for {path}: expected {expected} bytes, found {actual}")]
    SizeMismatch {
        /// The file.
        path: String,
        /// The promised size.
        expected: u64,
        /// The size actually read (a lower bound when reading stopped early).
        actual: u64,
    },
    /// An archive written by a newer (or unknown) version of the format.
    #[error("{format} archive has format version {found}, this build reads version {supported}: upgrade sila-store to open it")]
    UnsupportedVersion {
        /// `"SQLite"` or `"ZIP"`.
        format: &'static str,
        /// The version found.
        found: i64,
        /// The version this build reads.
        supported: i64,
    },
    /// A file that is not an archive of ours at all.
    #[error("not a sila-store {format} archive: {reason}")]
    NotAnArchive {
        /// `"SQLite"` or `"ZIP"`.
        format: &'static str,
        /// What was found instead.
        reason: String,
    },
    /// An archive of ours that is damaged (truncated, inconsistent, failed integrity check).
    #[error("corrupt {format} archive: {reason}")]
    Corrupt {
        /// `"SQLite"` or `"ZIP"`.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Input that is not a Sila workspace (e.g. an empty folder).
    #[error("not a Sila workspace: {0}")]
    NotAWorkspace(String),
    /// The same path twice in one workspace.
    #[error("duplicate entry {0:?}")]
    DuplicateEntry(String),
    /// Something asked for that does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A destination that exists and may not be overwritten.
    #[error("already exists: {0} (pass --force to replace it)")]
    AlreadyExists(String),
    /// The `secrets` file could not be decoded or decrypted.
    #[error("secrets: {0}")]
    Secrets(String),
    /// A storage backend (object store, browser storage) failed.
    #[error("storage backend: {0}")]
    Backend(String),
    /// Another writer changed the same thing first (a conditional write failed); the
    /// operation changed nothing and can be retried.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller cancelled the work (an `AbortSignal`); nothing it was writing was
    /// kept.
    #[error("cancelled: {0}")]
    Cancelled(String),
    /// Bad argument from the caller (e.g. a malformed date).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An I/O error, with the path it happened at.
    #[cfg(feature = "std")]
    #[error("I/O error at {path}: {source}")]
    Io {
        /// Where.
        path: String,
        /// What.
        #[source]
        source: std::io::Error,
    },
    /// An error from SQLite that is not one of the above.
    #[cfg(feature = "sqlite")]
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl Error {
    /// A stable, flat name for the variant (`"HashMismatch"`, `"UnsafePath"`, …) that
    /// hosts can switch on; it never changes for a variant.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidId { .. } => "InvalidId",
            Error::UnsafePath { .. } => "UnsafePath",
            Error::InvalidUtf8 { .. } => "InvalidUtf8",
            Error::HashMismatch { .. } => "HashMismatch",
            Error::SizeMismatch { .. } => "SizeMismatch",
            Error::UnsupportedVersion { .. } => "UnsupportedVersion",
            Error::NotAnArchive { .. } => "NotAnArchive",
            Error::Corrupt { .. } => "Corrupt",
            Error::NotAWorkspace(_) => "NotAWorkspace",
            Error::DuplicateEntry(_) => "DuplicateEntry",
            Error::NotFound(_) => "NotFound",
            Error::AlreadyExists(_) => "AlreadyExists",
            Error::Secrets(_) => "Secrets",
            Error::InvalidArgument(_) => "InvalidArgument",
            Error::Backend(_) => "Backend",
            Error::Conflict(_) => "Conflict",
            Error::Cancelled(_) => "Cancelled",
            #[cfg(feature = "std")]
            Error::Io { .. } => "Io",
            #[cfg(feature = "sqlite")]
            Error::Sqlite(_) => "Sqlite",
        }
    }

    /// Wraps an I/O error with the path it happened at. An I/O error that carries one
    /// of ours (raised inside a verifying reader) is unwrapped back to it.
    #[cfg(feature = "std")]
    pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        if source.get_ref().is_some_and(|e| e.is::<Error>()) {
            if let Some(Ok(inner)) = source.into_inner().map(|b| b.downcast::<Error>()) {
                return *inner;
            }
            return Error::InvalidArgument(String::from("internal: lost a wrapped error"));
        }
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps this error in an `std::io::Error`, so it can travel through `Read`/`Write`
    /// and come back out of [`Error::io`] unchanged.
    #[cfg(feature = "std")]
    pub fn into_io(self) -> std::io::Error {
        std::io::Error::other(self)
    }
}
