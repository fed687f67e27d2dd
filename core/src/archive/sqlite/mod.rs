//! The SQLite archive: one database file per workspace. This build writes format 3
//! and reads formats 1, 2 and 3 (an older archive converts to format 3 losslessly).
//!
//! ```text
//! PRAGMA application_id = 0x53494C41 ("SILA")   marks the file as ours
//! PRAGMA user_version   = 3                      the format version; newer is refused
//!
//! meta(key, value)              format_version, space_id, writer, source_format
//! spaces(id, name, …)           the space tree root's properties (last writer wins)
//! op_blocks(id, size, deflated, data)
//!                               the bytes of consecutive ops files of one tree, as Sila
//!                               wrote them, concatenated (about OPS_BLOCK_TARGET bytes,
//!                               one file alone if bigger), raw-deflated where that saves
//!                               space; `size` is the inflated length
//! op_files(tree_id, day, peer_id, kind, size, sha256, block, offset)
//!                               one row per ops file: its bytes are
//!                               op_blocks[block][offset .. offset + size]; sha256 is the
//!                               32-byte digest; the primary key (tree_id, day, peer_id,
//!                               kind) is the (tree, day) index of getOperations
//! files(hash, size, mime_type)  CAS blobs of files/static
//! mutable_files(uuid, size, sha256)  blobs of files/var
//! raw_files(path, size, sha256) sila.md, space.json, secrets (still encrypted), unknown files
//! file_chunks(path, seq, deflated, data)
//!                               content of files, mutable_files and raw_files in 1 MiB
//!                               chunks (raw, or raw-deflate where that saves space), so a
//!                               file of any size streams in and out in bounded memory
//! tree_snapshots(tree_id, size, deflated, data)
//!                               format 3: each tree as RepTree builds it from these ops
//!                               (`RepTree::snapshot`), raw-deflated; opening reads it
//!                               instead of replaying; `verify` replays and compares
//! ```
//!
//! Format 1 ([`SCHEMA_V1`]) stored ops one row per line (`tree_ops`, with an index by
//! clock): byte-exact too, but 2.4 times the size of the ops text. Format 2 keeps the
//! files' bytes, so nothing is re-encoded, and compresses runs of files of one tree
//! together: reading one day of a tree inflates one block of a few KiB. Format 3 is
//! format 2 with `tree_snapshots`. docs/FORMATS.md compares the layouts measured.
//!
//! The whole archive is written in one transaction; the host verifies it (read back,
//! every hash re-checked, `PRAGMA integrity_check`) before moving it into place.
//!
//! An archive is untrusted input: [`open_untrusted`] opens it read-only and immutable
//! (nothing is ever written beside it, not even a `-wal` or `-shm` file), with SQLite's
//! limits lowered and a bound on the work of every query ([`harden`]); and
//! [`SqliteSource::new`] compares the whole schema with the one of its version
//! ([`SCHEMA_V1`], [`SCHEMA_V2`], [`SCHEMA_V3`]) before running a single query on the tables, so no
//! SQL stored in the file (a generated column, a default, a view, a trigger, an index
//! expression) ever runs. Every declared size is checked while reading: a block
//! inflates to its declared size and no further, a file lies inside its block.

use rusqlite::ErrorCode;

use crate::error::{Error, Result};

mod blocks;
mod file_vfs;
mod guard;
mod listing;
pub mod ranges;
mod sink;
mod snapshots;
mod source;
mod vfs;

pub use file_vfs::FileDb;
pub use guard::{harden, open_untrusted, MAX_VALUE};
pub use sink::SqliteSink;
pub use snapshots::MAX_SNAPSHOT;
pub use source::SqliteSource;

/// `PRAGMA application_id` of our archives: "SILA" in ASCII.
pub const APPLICATION_ID: i32 = 0x5349_4C41;
/// The format version this build writes (`PRAGMA user_version`); it reads this one
/// and formats 1 and 2.
pub const FORMAT_VERSION: i64 = 3;
/// Ops bytes a block of format 2 gathers before it is closed: small enough that one
/// day of a tree inflates in microseconds, big enough to compress well.
pub const OPS_BLOCK_TARGET: usize = 16 << 10;
/// Size of a content chunk.
pub const CHUNK_SIZE: usize = 1 << 20;

pub(crate) const FORMAT: &str = "SQLite";

/// The schema of format version 1.
pub const SCHEMA_V1: &str = r#"
CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE spaces(
  id TEXT PRIMARY KEY NOT NULL, uri TEXT, name TEXT, created_at TEXT, user_id TEXT,
  ttabs_layout TEXT, theme TEXT, color_scheme TEXT, drafts TEXT);
CREATE TABLE op_files(
  id INTEGER PRIMARY KEY, tree_id TEXT NOT NULL, day TEXT NOT NULL, peer_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('m', 'p', 'legacy')),
  sha256 TEXT NOT NULL, size INTEGER NOT NULL, trailing_newline INTEGER NOT NULL,
  UNIQUE (tree_id, day, peer_id, kind));
CREATE TABLE tree_ops(
  file_id INTEGER NOT NULL REFERENCES op_files(id), seq INTEGER NOT NULL,
  clock INTEGER, peer_id TEXT NOT NULL, tree_id TEXT NOT NULL,
  kind TEXT CHECK (kind IN ('m', 'p')), target_id TEXT, parent_id TEXT, key TEXT, value TEXT,
  raw TEXT,
  PRIMARY KEY (file_id, seq)) WITHOUT ROWID;
CREATE INDEX tree_ops_by_clock ON tree_ops(tree_id, clock, peer_id);
CREATE TABLE files(hash TEXT PRIMARY KEY NOT NULL, size INTEGER NOT NULL, mime_type TEXT) WITHOUT ROWID;
CREATE TABLE mutable_files(uuid TEXT PRIMARY KEY NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE raw_files(path TEXT PRIMARY KEY NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE file_chunks(
  path TEXT NOT NULL, seq INTEGER NOT NULL, deflated INTEGER NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY (path, seq));
"#;

/// The tables of format 2, which format 3 keeps.
macro_rules! schema_v2_tables {
    () => {
        r#"
CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE spaces(
  id TEXT PRIMARY KEY NOT NULL, uri TEXT, name TEXT, created_at TEXT, user_id TEXT,
  ttabs_layout TEXT, theme TEXT, color_scheme TEXT, drafts TEXT);
CREATE TABLE op_blocks(
  id INTEGER PRIMARY KEY, size INTEGER NOT NULL, deflated INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE op_files(
  tree_id TEXT NOT NULL, day TEXT NOT NULL, peer_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('m', 'p', 'legacy')),
  size INTEGER NOT NULL, sha256 BLOB NOT NULL, block INTEGER NOT NULL, offset INTEGER NOT NULL,
  PRIMARY KEY (tree_id, day, peer_id, kind)) WITHOUT ROWID;
CREATE TABLE files(hash TEXT PRIMARY KEY NOT NULL, size INTEGER NOT NULL, mime_type TEXT) WITHOUT ROWID;
CREATE TABLE mutable_files(uuid TEXT PRIMARY KEY NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE raw_files(path TEXT PRIMARY KEY NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE file_chunks(
  path TEXT NOT NULL, seq INTEGER NOT NULL, deflated INTEGER NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY (path, seq));
"#
    };
}

/// The schema of format version 2.
pub const SCHEMA_V2: &str = schema_v2_tables!();

/// The schema of format version 3: format 2 and the trees' snapshots.
pub const SCHEMA_V3: &str = concat!(
    schema_v2_tables!(),
    r#"CREATE TABLE tree_snapshots(
  tree_id TEXT PRIMARY KEY NOT NULL, size INTEGER NOT NULL, deflated INTEGER NOT NULL,
  data BLOB NOT NULL);
"#
);

/// The schema of a format version this build reads.
pub fn schema_of_version(version: i64) -> Option<&'static str> {
    match version {
        1 => Some(SCHEMA_V1),
        2 => Some(SCHEMA_V2),
        3 => Some(SCHEMA_V3),
        _ => None,
    }
}

/// Maps an SQLite error to ours: "not a database" and "corrupt" become typed errors.
pub(crate) fn sql(e: rusqlite::Error) -> Error {
    if let rusqlite::Error::InvalidColumnType(..)
    | rusqlite::Error::FromSqlConversionFailure(..)
    | rusqlite::Error::IntegralValueOutOfRange(..)
    | rusqlite::Error::Utf8Error(..) = e
    {
        return Error::Corrupt {
            format: FORMAT,
            reason: e.to_string(),
        };
    }
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => Error::NotAnArchive {
            format: FORMAT,
            reason: "the file is not an SQLite database".into(),
        },
        Some(ErrorCode::DatabaseCorrupt) => Error::Corrupt {
            format: FORMAT,
            reason: e.to_string(),
        },
        Some(ErrorCode::TooBig) => Error::Corrupt {
            format: FORMAT,
            reason: format!(
                "a value or row is over the {MAX_VALUE}-byte limit of a SQLite archive ({e})"
            ),
        },
        Some(ErrorCode::OperationInterrupted) => Error::Corrupt {
            format: FORMAT,
            reason: "a query did more work than the archive's size allows (stopped)".into(),
        },
        _ => Error::Sqlite(e),
    }
}

pub(crate) trait SqlExt<T> {
    fn sql(self) -> Result<T>;
}

impl<T> SqlExt<T> for rusqlite::Result<T> {
    fn sql(self) -> Result<T> {
        self.map_err(sql)
    }
}

pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
