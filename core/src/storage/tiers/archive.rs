//! `archive` and `unarchive`, crash-safe (see the module docs of `tiers`), and the
//! cleanup of what a crashed or losing run left.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::{IndexEntry, Tier, TierHost, TierMetadata, TierReport, Tiers};
use super::{CLEANUP_LEASE_MS, ORPHAN_AGE_MS};
use crate::entries::Listing;
use crate::error::{Error, Result};
use crate::layout::EntryKind;
use crate::store::{ObjectInfo, Version, WorkspaceStore};

/// Keys per bulk delete of the cleanup (S3's `DeleteObjects` takes up to 1,000).
const DELETE_BATCH: usize = 1000;

impl<S: WorkspaceStore, H: TierHost> Tiers<S, H> {
    /// Moves an active space to the archived tier (see the module docs for the
    /// steps). Running it again after a crash finishes the job.
    pub async fn archive(&self, id: &str) -> Result<TierReport> {
        let (meta, version) = self.require_metadata(id).await?;
        let mut report = TierReport::new(id, "archive");
        if meta.tier == Tier::Archived {
            // Finish a crashed run: delete the active objects if its cleanup is pending
            // (only then: unarchives wait for the flag, so nothing new is being
            // uploaded there).
            if meta.cleanup_since_ms.is_some() {
                report.transferred = self.finish_cleanup(id, &meta.epoch, &[]).await?;
            }
            report.action = "already archived".into();
            return Ok(report);
        }
        let mut area = self.host.work_area()?;
        match self.download_active_into(&meta, &mut area).await {
            Ok(()) => {}
            Err(Error::HashMismatch { path, .. } | Error::NotFound(path)) => {
                return Err(Error::Conflict(format!(
                    "{path} changed while archiving; nothing was archived, run again"
                )))
            }
            Err(e) => return Err(e),
        }
        let (size, format_version) = area.build_archive(&mut |_| {})?;
        let name = format!("{}.db", self.host.new_epoch());
        let key = Self::archive_key(id, &name);
        let sha256 = self.upload_archive(&mut area, &key, size).await?;
        drop(area);
        let info = super::ArchiveInfo {
            size,
            sha256: sha256.as_str().into(),
            format_version,
            name,
        };
        // The index can be large (one entry a file): moved, not copied.
        let leftover = meta.leftover_archive.clone();
        let mut next = meta;
        next.tier = Tier::Archived;
        next.archive = Some(info.clone());
        // Kept for the cleanup: the objects to delete, without listing them.
        let indexed: Vec<String> = core::mem::take(&mut next.files).into_keys().collect();
        next.generation += 1;
        next.cleanup_since_ms = Some(self.host.now_ms());
        next.leftover_archive = None;
        if let Err(e) = self.write_metadata(&next, Some(&version)).await {
            // Did it land after all (a timeout, or a retried request answered 412
            // after the first attempt was applied)? Ask the metadata.
            match self.read_metadata(id).await {
                Ok(Some((m, _))) if m.archive.as_ref().is_some_and(|a| a.name == info.name) => {}
                // Another writer won (the metadata moved on without us): our object is
                // named nowhere and never will be; remove it (best effort: a leftover is
                // deleted by a later archive). While the metadata is still at the
                // version we wrote against, our write may yet land (a request in
                // flight): then the object stays, for the orphan cleanup.
                Ok(Some((_, v))) if v != version => {
                    let _ = self.delete_archive(id, &info.name).await;
                    return Err(e);
                }
                _ => return Err(e),
            }
        }
        report.transferred = 1;
        report.bytes = info.size;
        report.skipped = self.finish_cleanup(id, &next.epoch, &indexed).await?;
        if let Some(old) = &leftover {
            self.delete_archive(id, old).await?;
        }
        self.delete_old_objects(&format!("archived/{id}/"), Some(&key))
            .await?;
        Ok(report)
    }

    /// Moves an archived space back to the active tier (the mirror of
    /// [`Tiers::archive`]).
    pub async fn unarchive(&self, id: &str) -> Result<TierReport> {
        let (meta, version) = self.require_metadata(id).await?;
        let mut report = TierReport::new(id, "unarchive");
        if meta.tier == Tier::Active {
            // Finish a crashed run: a leftover archive is deleted.
            if let Some(old) = &meta.leftover_archive {
                self.delete_archive(id, old).await?;
            }
            report.action = "already active".into();
            return Ok(report);
        }
        // An archive may still be deleting the active objects: wait for it, or take
        // the deletion over if it stalled, before uploading anything there.
        let (meta, version) = self.wait_for_cleanup(id, meta, version).await?;
        let info = meta.archive.clone().ok_or_else(|| Error::Corrupt {
            format: "tier metadata",
            reason: format!("metadata/{id}.json: archived without archive info"),
        })?;
        let mut area = self.host.work_area()?;
        match self.download_archive_into(id, &info, &mut area).await {
            Ok(()) => {}
            // Another unarchive won meanwhile and deleted the archive: the tier
            // changed, which is a conflict, not a missing space.
            Err(e @ (Error::NotFound(_) | Error::HashMismatch { .. })) => {
                return match self.read_metadata(id).await? {
                    Some((_, v)) if v != version => Err(Error::Conflict(format!(
                        "space {id} changed tiers while unarchiving"
                    ))),
                    _ => Err(e),
                };
            }
            Err(e) => return Err(e),
        }
        let files = area.extract_archive(&mut |_| {})?;
        check_space_id(&mut area, &files, id)?;
        let epoch = self.host.new_epoch();
        let mut versions = self.upload_plain(&mut area, id, &epoch, &files).await?;
        drop(area);
        self.check_uploads(id, &epoch, &files).await?;
        let mut next = meta;
        next.tier = Tier::Active;
        next.archive = None;
        next.leftover_archive = Some(info.name.clone());
        next.cleanup_since_ms = None;
        next.epoch = epoch.clone();
        next.files = files
            .iter()
            .map(|(p, d)| {
                let e = IndexEntry::new(d.size, d.sha256.as_str());
                // Versions of ops files only (what a push appends to): the index
                // stays small.
                let e = match versions.remove(p) {
                    Some(v) if matches!(EntryKind::from_path(p), Ok(EntryKind::OpsFile(_))) => {
                        e.at(v)
                    }
                    _ => e,
                };
                (p.clone(), e)
            })
            .collect();
        next.generation += 1;
        next.last_activity_ms = self.host.now_ms();
        if let Err(e) = self.write_metadata(&next, Some(&version)).await {
            // Did it land after all (see archive)? Ask the metadata.
            match self.read_metadata(id).await {
                Ok(Some((m, _))) if m.tier == Tier::Active && m.epoch == epoch => {}
                // Another writer won: our epoch is garbage; remove it (best effort: a
                // later archive deletes it once a day old). Not while the metadata is
                // still at our version: our write may yet land (see archive).
                Ok(Some((_, v))) if v != version => {
                    let _ = self.delete_prefix(&format!("active/{id}/{epoch}/")).await;
                    return Err(e);
                }
                _ => return Err(e),
            }
        }
        report.transferred = files.len() as u64;
        report.bytes = files.values().map(|d| d.size).sum();
        self.delete_archive(id, &info.name).await?;
        Ok(report)
    }

    /// Every file of `files` is listed under the epoch with its size.
    async fn check_uploads(&self, id: &str, epoch: &str, files: &Listing) -> Result<()> {
        let listed: BTreeMap<String, Option<u64>> = self
            .store
            .list(&format!("active/{id}/{epoch}/"))
            .await?
            .into_iter()
            .map(|o| (o.path, o.size))
            .collect();
        for (p, d) in files {
            let key = Self::active_key(id, epoch, p);
            let size = match listed.get(&key) {
                Some(Some(s)) => Some(*s),
                Some(None) => self.store.size(&key).await?,
                None => None,
            };
            if size != Some(d.size) {
                return Err(Error::Conflict(format!(
                    "{p} changed in the active tier while unarchiving; run again"
                )));
            }
        }
        Ok(())
    }

    /// Deletes the active objects of an archived space and clears the cleanup flag.
    /// Only the archived epoch's objects: a cleanup running late (a stalled or retried
    /// request) must never touch the epoch an unarchive made live meanwhile. Objects of
    /// other epochs (left by losing or killed unarchives) go once a day old, while the
    /// metadata still says archived.
    ///
    /// `indexed`: the files the archived index named (relative paths), deleted first
    /// in bulk requests without listing them; one listing of `active/<id>/` then
    /// finds the rest (files the index did not name, and a crashed run's leftovers),
    /// and is short.
    pub async fn finish_cleanup(&self, id: &str, epoch: &str, indexed: &[String]) -> Result<u64> {
        let prefix = if epoch.is_empty() {
            // Metadata from before epochs existed: the files sit right under the id.
            format!("active/{id}/")
        } else {
            format!("active/{id}/{epoch}/")
        };
        for batch in indexed.chunks(DELETE_BATCH) {
            let keys: Vec<String> = batch
                .iter()
                .map(|rel| Self::active_key(id, epoch, rel))
                .collect();
            self.store.delete_many(&keys).await?;
        }
        let mut n = indexed.len() as u64;
        let listed = self.store.list(&format!("active/{id}/")).await?;
        let archived = match self.read_metadata(id).await? {
            Some((m, v)) if m.tier == Tier::Archived => Some((m, v)),
            _ => None,
        };
        let orphan = self.orphan_rule();
        let doomed: Vec<String> = listed
            .into_iter()
            .filter(|o| o.path.starts_with(&prefix) || (archived.is_some() && orphan(o)))
            .map(|o| o.path)
            .collect();
        self.store.delete_many(&doomed).await?;
        n += doomed.len() as u64;
        if let Some((mut m, v)) = archived {
            if m.cleanup_since_ms.is_some() {
                m.cleanup_since_ms = None;
                match self.write_metadata(&m, Some(&v)).await {
                    Ok(()) | Err(Error::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(n)
    }

    /// Whether a listed object is old enough ([`ORPHAN_AGE_MS`]) to be taken for what a
    /// killed or losing run left, as of now. An object whose store gives no time is not.
    fn orphan_rule(&self) -> impl Fn(&ObjectInfo) -> bool {
        let cutoff = self.host.now_ms().saturating_sub(ORPHAN_AGE_MS);
        move |o| o.modified_ms.is_some_and(|m| m < cutoff)
    }

    /// Deletes the objects under `prefix` older than [`ORPHAN_AGE_MS`], except `keep`:
    /// what killed or losing runs left, which nothing names. An object whose store
    /// gives no time is kept.
    pub(super) async fn delete_old_objects(&self, prefix: &str, keep: Option<&str>) -> Result<u64> {
        let orphan = self.orphan_rule();
        let old: Vec<String> = self
            .store
            .list(prefix)
            .await?
            .into_iter()
            .filter(|o| Some(o.path.as_str()) != keep && orphan(o))
            .map(|o| o.path)
            .collect();
        self.store.delete_many(&old).await?;
        Ok(old.len() as u64)
    }

    async fn wait_for_cleanup(
        &self,
        id: &str,
        mut meta: TierMetadata,
        mut version: Version,
    ) -> Result<(TierMetadata, Version)> {
        while let Some(since) = meta.cleanup_since_ms {
            if self.host.now_ms().saturating_sub(since) > CLEANUP_LEASE_MS {
                self.finish_cleanup(id, &meta.epoch, &[]).await?;
            } else {
                self.host.sleep_ms(50).await;
            }
            let (m, v) = self.require_metadata(id).await?;
            if m.tier != Tier::Archived {
                return Err(Error::Conflict(format!(
                    "space {id} was unarchived meanwhile"
                )));
            }
            meta = m;
            version = v;
        }
        Ok((meta, version))
    }

    /// Deletes every object under `prefix`; returns how many there were.
    pub(super) async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let keys: Vec<String> = self
            .store
            .list(prefix)
            .await?
            .into_iter()
            .map(|o| o.path)
            .collect();
        self.store.delete_many(&keys).await?;
        Ok(keys.len() as u64)
    }
}

/// `Corrupt` unless the extracted workspace is space `id` (a workspace without
/// `space.json` makes no claim).
pub(super) fn check_space_id(
    area: &mut alloc::boxed::Box<dyn super::WorkArea>,
    files: &Listing,
    id: &str,
) -> Result<()> {
    let path = EntryKind::SpaceJson.path();
    let Some(d) = files.get(&path) else {
        return Ok(());
    };
    let bytes = area.read_plain(&path, 0, d.size)?;
    check_space_json(&bytes, id)
}

/// `Corrupt` unless the `space.json` bytes name space `id`.
pub fn check_space_json(bytes: &[u8], id: &str) -> Result<()> {
    match crate::space::space_id_from_json(bytes) {
        Some(found) if found == id => Ok(()),
        found => Err(Error::Corrupt {
            format: "tier",
            reason: format!(
                "space {id} holds a space.json of {}: not pulled",
                found.map_or_else(|| "no readable id".to_string(), |f| format!("space {f}"))
            ),
        }),
    }
}
