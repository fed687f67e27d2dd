//! A store holding one workspace, archived in place: the workspace is either its plain
//! files or one SQLite archive at [`ARCHIVE_PATH`], written and read by
//! [`SpaceStorage`] with a host's work area ([`TierHost`]).
//!
//! **While the archive exists it is the workspace**: plain files beside it are what an
//! interrupted archive had not deleted yet, or an interrupted unarchive had written
//! already, and are replaced. So a crash (any store call failing) at any step leaves
//! the workspace whole, and running the step again finishes it:
//!
//! * archive: read every plain file into the work area → build the archive (verified
//!   against the files) → write it at [`ARCHIVE_PATH`] if there is none (one atomic
//!   write) → read it back → check that no plain file changed meanwhile (else the
//!   archive is removed again: [`Error::Conflict`]) → delete the plain files. A rerun
//!   that finds the archive deletes only plain files the archive holds byte for byte;
//! * unarchive: read the archive into the work area → extract it (verified) → write
//!   every file, delete plain files it does not have → read every file back (size and
//!   SHA-256) → delete the archive.
//!
//! Within one process, the writes, archives and unarchives of one [`SpaceStorage`] take
//! turns, so an op appended during an archive is not deleted with the plain files.
//! Two processes writing one store are not protected: one writer per store.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::tiers::transfer::{
    area_archive_parts, download_archive, download_plain, hash_object, upload_plain, verify_upload,
};
use super::tiers::{TierHost, WorkArea};
use super::{SpaceStorage, StorageFormat};
use crate::entries::{Listing, Operation, Progress};
use crate::error::{Error, Result};
use crate::ids::{Day, Sha256Hex, TreeId};
use crate::layout::EntryKind;
use crate::store::{Precondition, WorkspaceStore};

/// Where a store holding one workspace keeps it while archived.
pub const ARCHIVE_PATH: &str = "sila-store-archive.sqlite";

/// What an archive or unarchive did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
#[serde(rename_all = "camelCase")]
pub struct ArchiveReport {
    /// What happened, for a person.
    pub action: String,
    /// Files moved.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

impl<S: WorkspaceStore> SpaceStorage<S> {
    fn host(&self) -> Result<&dyn TierHost> {
        self.host.as_deref().ok_or_else(|| {
            Error::InvalidArgument("archiving needs a host with a work area (with_host)".into())
        })
    }

    /// The size of the archive, if the workspace is archived.
    pub async fn archive_size(&self) -> Result<Option<u64>> {
        Ok(self.store.size(ARCHIVE_PATH).await?)
    }

    /// How the workspace is kept (`None`: the store is empty).
    pub async fn format(&self) -> Result<Option<StorageFormat>> {
        if self.archive_size().await?.is_some() {
            return Ok(Some(StorageFormat::Sqlite));
        }
        Ok((!self.plain_files().await?.is_empty()).then_some(StorageFormat::PlainFiles))
    }

    /// Every plain file: path and size.
    pub(super) async fn plain_files(&self) -> Result<BTreeMap<String, Option<u64>>> {
        Ok(self
            .store
            .list("")
            .await?
            .into_iter()
            .filter(|o| o.path != ARCHIVE_PATH)
            .map(|o| (o.path, o.size))
            .collect())
    }

    /// The archive in a fresh work area.
    async fn archive_in_area(&self, size: u64) -> Result<alloc::boxed::Box<dyn WorkArea>> {
        let mut area = self.host()?.work_area()?;
        download_archive(&self.store, ARCHIVE_PATH, size, None, &mut area).await?;
        Ok(area)
    }

    /// Unarchives first if the workspace is archived and a host is set (before a
    /// write).
    pub(super) async fn ensure_active(&self) -> Result<()> {
        if self.host.is_some() && self.archive_size().await?.is_some() {
            self.unarchive_locked(&mut |_| {}).await?;
        }
        Ok(())
    }

    /// The ops of `tree` in days `from..=to` from the archive, if archived: an
    /// indexed query that reads only the archive's pages it needs (without SQLite in
    /// this build, the host's work area opens the whole archive).
    pub(super) async fn archived_operations(
        &self,
        tree: &TreeId,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Option<Vec<Operation>>> {
        let Some(size) = self.archive_size().await? else {
            return Ok(None);
        };
        #[cfg(feature = "sqlite")]
        {
            let q = super::query_archive(&self.store, ARCHIVE_PATH, size, |s| {
                crate::entries::EntrySource::get_operations(s, tree, from, to)
            })
            .await?;
            Ok(Some(q.value))
        }
        #[cfg(not(feature = "sqlite"))]
        {
            let mut area = self.archive_in_area(size).await?;
            area.archive_operations(tree, from, to).map(Some)
        }
    }

    /// A blob from the archive, if archived, reading only its pages and the index
    /// above them (without SQLite in this build, the host's work area extracts it).
    pub(super) async fn archived_file(&self, hash: &Sha256Hex) -> Result<Option<Vec<u8>>> {
        let Some(size) = self.archive_size().await? else {
            return Ok(None);
        };
        let path = EntryKind::StaticFile(hash.clone()).path();
        #[cfg(feature = "sqlite")]
        {
            let q = super::query_archive(&self.store, ARCHIVE_PATH, size, |s| s.static_file(hash))
                .await?;
            q.value.map(Some).ok_or(Error::NotFound(path))
        }
        #[cfg(not(feature = "sqlite"))]
        {
            let mut area = self.archive_in_area(size).await?;
            let files = area.extract_archive(&mut |_| {})?;
            let d = files
                .get(&path)
                .ok_or_else(|| Error::NotFound(path.clone()))?;
            area.read_plain(&path, 0, d.size).map(Some)
        }
    }

    /// Keeps the workspace as one SQLite archive (see the module docs); running it
    /// again after a crash finishes the job.
    pub async fn archive(&self, progress: &mut impl FnMut(Progress<'_>)) -> Result<ArchiveReport> {
        let _gate = self.gate.lock().await;
        self.archive_locked(progress).await
    }

    /// Keeps the workspace as plain files again (see the module docs); running it
    /// again after a crash finishes the job.
    pub async fn unarchive(
        &self,
        progress: &mut impl FnMut(Progress<'_>),
    ) -> Result<ArchiveReport> {
        let _gate = self.gate.lock().await;
        self.unarchive_locked(progress).await
    }

    async fn archive_locked(
        &self,
        progress: &mut impl FnMut(Progress<'_>),
    ) -> Result<ArchiveReport> {
        let host = self.host()?;
        let plain = self.plain_files().await?;
        if let Some(size) = self.archive_size().await? {
            // Finish a crashed run: what is left beside the archive goes, but only
            // files the archive holds byte for byte.
            let left: Vec<String> = plain.into_keys().collect();
            if !left.is_empty() {
                self.check_left_in_archive(size, &left).await?;
                self.store.delete_many(&left).await?;
            }
            return Ok(ArchiveReport {
                action: "already archived".into(),
                files: left.len() as u64,
                bytes: 0,
            });
        }
        if plain.is_empty() {
            return Err(Error::NotFound("a workspace in the store".into()));
        }
        let mut area = host.work_area()?;
        let mut read: BTreeMap<String, u64> = BTreeMap::new();
        for (path, listed) in &plain {
            let size = self
                .size_of(path, *listed)
                .await?
                .ok_or_else(|| Error::Conflict(format!("{path} vanished while archiving")))?;
            download_plain(&self.store, path, path, size, &mut area).await?;
            read.insert(path.clone(), size);
        }
        let (size, _) = area.build_archive(progress)?;
        {
            let mut parts = area_archive_parts(&mut area, size);
            self.store
                .write_parts(ARCHIVE_PATH, &mut parts, Precondition::IfAbsent)
                .await?;
        }
        // From here the archive is the workspace: it must be right, and nothing may
        // have been written beside it meanwhile; else it goes again.
        let checked = match verify_upload(&self.store, &mut area, ARCHIVE_PATH, size).await {
            Ok(_) => self.unchanged(&read).await,
            Err(e) => Err(e),
        };
        if let Err(e) = checked {
            self.store.delete_many(&[ARCHIVE_PATH.to_string()]).await?;
            return Err(e);
        }
        let paths: Vec<String> = read.keys().cloned().collect();
        self.store.delete_many(&paths).await?;
        Ok(ArchiveReport {
            action: "archive".into(),
            files: read.len() as u64,
            bytes: read.values().sum(),
        })
    }

    /// The size of `path`: as listed, or asked for when the listing has none.
    pub(super) async fn size_of(&self, path: &str, listed: Option<u64>) -> Result<Option<u64>> {
        match listed {
            Some(s) => Ok(Some(s)),
            None => Ok(self.store.size(path).await?),
        }
    }

    /// `Conflict` unless the plain files are still exactly the ones read (by size).
    async fn unchanged(&self, read: &BTreeMap<String, u64>) -> Result<()> {
        let now = self.plain_files().await?;
        let mut same = now.len() == read.len();
        for (p, s) in read {
            if !same {
                break;
            }
            same = match now.get(p) {
                Some(listed) => self.size_of(p, *listed).await? == Some(*s),
                None => false,
            };
        }
        if same {
            Ok(())
        } else {
            Err(Error::Conflict(
                "the workspace changed while archiving; nothing was archived, run again".into(),
            ))
        }
    }

    /// `Conflict` unless every file of `left` is in the archive (of `size` bytes) with
    /// the same bytes: only then may a rerun delete them.
    async fn check_left_in_archive(&self, size: u64, left: &[String]) -> Result<()> {
        let mut area = self.archive_in_area(size).await?;
        let files = area.extract_archive(&mut |_| {})?;
        for p in left {
            let want = files.get(p);
            let have = hash_object(&self.store, p).await?;
            let same = match (want, have) {
                (Some(d), Some((n, h))) => d.size == n && d.sha256 == h,
                (_, None) => true,
                (None, Some(_)) => false,
            };
            if !same {
                return Err(Error::Conflict(format!(
                    "{p} beside {ARCHIVE_PATH} is not the archive's copy: nothing deleted; unarchive, or remove one of them"
                )));
            }
        }
        Ok(())
    }

    async fn unarchive_locked(
        &self,
        progress: &mut impl FnMut(Progress<'_>),
    ) -> Result<ArchiveReport> {
        self.host()?;
        let Some(size) = self.archive_size().await? else {
            return Ok(ArchiveReport {
                action: "already plain".into(),
                ..Default::default()
            });
        };
        let mut area = self.archive_in_area(size).await?;
        let files: Listing = area.extract_archive(progress)?;
        let leftovers: Vec<String> = self
            .plain_files()
            .await?
            .into_keys()
            .filter(|p| !files.contains_key(p))
            .collect();
        self.store.delete_many(&leftovers).await?;
        // `space.json` first, as Sila writes a workspace.
        let space_json = EntryKind::SpaceJson.path();
        let (first, rest): (Listing, Listing) = files
            .clone()
            .into_iter()
            .partition(|(p, _)| *p == space_json);
        upload_plain(&self.store, &mut area, &first, ToString::to_string).await?;
        upload_plain(&self.store, &mut area, &rest, ToString::to_string).await?;
        drop(area);
        // Every file read back before the archive goes.
        for (p, d) in &files {
            match hash_object(&self.store, p).await? {
                Some((n, h)) if n == d.size && h == d.sha256 => {}
                _ => {
                    return Err(Error::Conflict(format!(
                        "{p} is not what was written while unarchiving; run again"
                    )))
                }
            }
        }
        self.store.delete_many(&[ARCHIVE_PATH.to_string()]).await?;
        Ok(ArchiveReport {
            action: "unarchive".into(),
            files: files.len() as u64,
            bytes: files.values().map(|d| d.size).sum(),
        })
    }
}
