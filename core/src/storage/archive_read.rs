//! Queries on a SQLite archive kept in a store, reading only the pages they touch:
//! [`query_archive`] runs a query over a [`RangeFile`] block cache and fetches, with
//! one [`WorkspaceStore::read_range`] each, the blocks it asks for, until the query
//! runs through. One blob or one tree's ops come out of a 1 GB archive without
//! downloading it (the seed's `getFile` and `getOperations` on an archived workspace).
//!
//! The archive at `path` must not change during the query: archives are written once
//! under their name (in place: created if absent, removed by an unarchive; in the
//! tiers: a new name per run). A range that comes back short fails the query
//! ([`Error::Corrupt`]), and blobs are checked against their hash by the caller.

use crate::archive::sqlite::ranges::RangeFile;
use crate::archive::sqlite::SqliteSource;
use crate::error::Result;
use crate::store::WorkspaceStore;

/// What a query on an archive in a store gave, and what it read.
#[derive(Debug)]
pub struct ArchiveQuery<T> {
    /// The query's answer.
    pub value: T,
    /// Bytes read from the store.
    pub bytes_read: u64,
    /// Range reads made.
    pub reads: u64,
}

/// Runs `query` on the archive of `size` bytes at `path` in `store`, fetching only the
/// blocks it reads (see the module docs). `query` may run several times (on fresh
/// connections) and must not have side effects beyond its answer.
pub async fn query_archive<S, T>(
    store: &S,
    path: &str,
    size: u64,
    mut query: impl FnMut(&mut SqliteSource<'_>) -> Result<T>,
) -> Result<ArchiveQuery<T>>
where
    S: WorkspaceStore + ?Sized,
{
    let file = RangeFile::new(size)?;
    let mut reads = 0;
    loop {
        let answer = file
            .connect()
            .and_then(|conn| SqliteSource::new(&conn).and_then(|mut s| query(&mut s)));
        match file.wanted() {
            Some(fetch) => {
                drop(answer);
                let bytes = store.read_range(path, fetch.offset, fetch.len).await?;
                reads += 1;
                file.fill(fetch, bytes)?;
            }
            None => {
                return answer.map(|value| ArchiveQuery {
                    value,
                    bytes_read: file.fetched(),
                    reads,
                })
            }
        }
    }
}
