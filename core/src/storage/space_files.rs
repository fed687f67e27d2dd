//! A store's workspace to and from one archive file the host opened (a SQLite or ZIP
//! archive in an OPFS file, a Node file, a native file): export and import a file at
//! a time, so memory holds one file of the workspace, never all of it.
//!
//! Both check every file as it passes (size, hash, CAS name, UTF-8 ops lines) and read
//! the result back before they report success. An import goes only into an empty
//! store, and a failed or cancelled one removes what it wrote; an export writes only
//! into an empty file, which the host throws away if it fails (the npm package writes
//! to a temporary name and renames it).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::tiers::transfer::hash_object;
use super::SpaceStorage;
use crate::archive::file::{verify_written, with_source_async, write_archive_async};
use futures_util::stream::{self, FuturesUnordered, StreamExt, TryStreamExt};

use crate::entries::{
    check_unique, transfer, Digest256, EntryMeta, EntrySource, Listing, Progress,
};
use crate::error::{Error, Result};
use crate::layout::EntryKind;
use crate::memory::MemoryWorkspace;
use crate::random_access::RandomAccess;
use crate::store::{Precondition, WorkspaceStore};

/// Store calls (reads ahead, writes) in flight at once: a browser's storage answers
/// each after a round trip to its own process, so one at a time leaves it idle.
const IN_FLIGHT: usize = 8;

/// What long work reports and how it is stopped.
pub struct Work<'a> {
    /// Called after each file.
    pub progress: &'a mut dyn FnMut(Progress<'_>),
    /// Asked before each file: `true` stops the work with [`Error::Cancelled`].
    pub cancelled: &'a dyn Fn() -> bool,
}

/// `Cancelled` if the caller asked to stop.
fn stop_if(cancelled: &dyn Fn() -> bool) -> Result<()> {
    if cancelled() {
        return Err(Error::Cancelled("stopped by the caller".into()));
    }
    Ok(())
}

impl<S: WorkspaceStore> SpaceStorage<S> {
    /// Writes the store's workspace (plain files) as an archive `to` (`"sqlite"` or
    /// `"zip"`) into `file`, which must be empty, and reads it back. Returns the
    /// workspace's listing.
    pub async fn export_to(
        &self,
        file: alloc::boxed::Box<dyn RandomAccess>,
        to: &str,
        work: Work<'_>,
    ) -> Result<Listing> {
        let _gate = self.gate.lock().await;
        if self.archive_size().await?.is_some() {
            return Err(Error::InvalidArgument(format!(
                "the workspace is archived ({}): unarchive it first, or copy that file",
                super::ARCHIVE_PATH
            )));
        }
        let listed: Vec<(String, Option<u64>)> = self.plain_files().await?.into_iter().collect();
        // Sizes the listing did not give, asked for a few at a time.
        let sizes: Vec<u64> = stream::iter(&listed)
            .map(|(path, size)| async move {
                Ok::<_, Error>(self.size_of(path, *size).await?.unwrap_or(0))
            })
            .buffered(IN_FLIGHT)
            .try_collect()
            .await?;
        let entries = listed
            .into_iter()
            .zip(sizes)
            .map(|((path, _), size)| EntryMeta::new(&path, size, None))
            .collect::<Result<Vec<_>>>()?;
        check_unique(&entries)?;
        if entries.is_empty() {
            return Err(Error::NotAWorkspace("the store holds no files".into()));
        }
        let total = entries.iter().map(|e| e.size).sum();
        let Work {
            progress,
            cancelled,
        } = work;
        let (written, file) = write_archive_async(file, to, "plain", async |sink| {
            let mut written = Listing::new();
            let mut done = 0;
            // The next files are read while one is written into the archive.
            let mut reads = stream::iter(&entries)
                .map(|e| async move { (e, self.store.read(&e.path).await) })
                .buffered(IN_FLIGHT);
            while let Some((e, read)) = reads.next().await {
                stop_if(cancelled)?;
                let (bytes, _) = read?.ok_or_else(|| {
                    Error::Conflict(format!("{} vanished while exporting", e.path))
                })?;
                let meta = EntryMeta::new(&e.path, bytes.len() as u64, None)?;
                let mut one = MemoryWorkspace::new();
                one.files.insert(e.path.clone(), bytes);
                let d = transfer(&mut one, &meta, Some(sink))?;
                done += d.size;
                progress(Progress {
                    phase: "converting",
                    done,
                    total,
                });
                written.insert(e.path.clone(), d);
            }
            Ok(written)
        })
        .await?;
        verify_written(file, &written, progress)?;
        Ok(written)
    }

    /// Writes the workspace of the archive in `file` (SQLite or ZIP) into the store as
    /// plain files, `space.json` first as Sila writes a workspace, then reads every
    /// file back. Nothing in the store is replaced: the store must be empty, or hold
    /// only files of this archive with its bytes (what an interrupted import wrote,
    /// which a rerun keeps and completes). If anything fails, or the work is
    /// cancelled, the files this call wrote are removed again.
    pub async fn import_from(
        &self,
        file: alloc::boxed::Box<dyn RandomAccess>,
        work: Work<'_>,
    ) -> Result<Listing> {
        let _gate = self.gate.lock().await;
        if self.archive_size().await?.is_some() {
            return Err(Error::AlreadyExists(format!(
                "the store holds an archived workspace ({}): import into an empty store",
                super::ARCHIVE_PATH
            )));
        }
        let present = self.plain_files().await?;
        let mut written: Vec<String> = Vec::new();
        let r = with_source_async(file, async |source| {
            self.import_entries(source, &present, work, &mut written)
                .await
        })
        .await;
        if r.is_err() {
            // Best effort: the error that stopped the import is the one to report,
            // and a rerun keeps whatever is left (it is the archive's).
            let _ = self.store.delete_many(&written).await;
        }
        r
    }

    async fn import_entries(
        &self,
        source: &mut dyn EntrySource,
        present: &BTreeMap<String, Option<u64>>,
        work: Work<'_>,
        written: &mut Vec<String>,
    ) -> Result<Listing> {
        let mut entries = source.entries()?;
        if entries.is_empty() {
            return Err(Error::NotAWorkspace("the archive holds no files".into()));
        }
        let paths: BTreeSet<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        if let Some(p) = present.keys().find(|p| !paths.contains(p.as_str())) {
            return Err(Error::AlreadyExists(format!(
                "the store holds {p}, which the archive does not: import into an empty store"
            )));
        }
        let space_json = EntryKind::SpaceJson.path();
        entries.sort_by_key(|e| e.path != space_json);
        let total = entries.iter().map(|e| e.size).sum();
        let mut done = 0;
        let mut listing = Listing::new();
        // Files are read from the archive one after the other; their writes (and
        // read-backs) run a few at a time.
        let mut pending = FuturesUnordered::new();
        let mut failed = None;
        for e in &entries {
            let d = match stop_if(work.cancelled).and_then(|()| {
                let mut one = MemoryWorkspace::new();
                transfer(source, e, Some(&mut one)).map(|d| (d, one))
            }) {
                Ok((d, mut one)) => {
                    let bytes = one.files.remove(&e.path).unwrap_or_default();
                    let there = present.contains_key(&e.path);
                    pending.push(self.put_imported(&e.path, bytes, d.clone(), there));
                    d
                }
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            };
            done += d.size;
            listing.insert(e.path.clone(), d);
            (work.progress)(Progress {
                phase: "converting",
                done,
                total,
            });
            while pending.len() >= IN_FLIGHT && failed.is_none() {
                if let Some((path, wrote, r)) = pending.next().await {
                    if wrote {
                        written.push(path);
                    }
                    failed = r.err();
                }
            }
            if failed.is_some() {
                break;
            }
        }
        while let Some((path, wrote, r)) = pending.next().await {
            if wrote {
                written.push(path);
            }
            if let Err(e) = r {
                failed.get_or_insert(e);
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(listing),
        }
    }

    /// Writes one imported file (unless the store holds it already) and reads it back:
    /// `(path, whether it was written, the outcome)`.
    async fn put_imported(
        &self,
        path: &str,
        bytes: Vec<u8>,
        d: Digest256,
        there: bool,
    ) -> (String, bool, Result<()>) {
        if !there {
            if let Err(e) = self.store.write(path, bytes, Precondition::IfAbsent).await {
                return (path.to_string(), false, Err(e.into()));
            }
        }
        let r = match hash_object(&self.store, path).await {
            Ok(Some((n, h))) if n == d.size && h == d.sha256 => Ok(()),
            Ok(_) if there => Err(Error::AlreadyExists(format!(
                "{path} is in the store with other bytes: nothing was replaced"
            ))),
            Ok(_) => Err(Error::Conflict(format!(
                "{path} is not what was written while importing"
            ))),
            Err(e) => Err(e),
        };
        (path.to_string(), !there, r)
    }
}
