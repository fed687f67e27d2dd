//! `archive` and `unarchive`, crash-safe (see the module docs of `tiers`), and the
//! cleanup of what a crashed or losing run left.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStoreExt, UpdateVersion};
use sila_store_core::entries::listing;
use sila_store_core::ids::Sha256Hex;
use sila_store_core::{Error, Result};

use super::*;
use crate::fs::PlainSource;
use crate::workspace::{convert, ConvertOptions};

impl TierStore {
    /// Metadata of an active space (unarchiving it if archived; new if none).
    pub(super) fn active_metadata<'a>(
        &'a self,
        id: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<(TierMetadata, Option<UpdateVersion>)>> {
        async move {
            for _ in 0..MAX_ATTEMPTS {
                match self.read_metadata(id).await? {
                    None => return Ok((TierMetadata::new(id), None)),
                    Some((m, v)) if m.tier == Tier::Active => return Ok((m, Some(v))),
                    Some(_) => match self.unarchive(id).await {
                        Ok(_) | Err(Error::Conflict(_)) => {}
                        Err(e) => return Err(e),
                    },
                }
            }
            Err(Error::Conflict(format!(
                "space {id} kept changing tiers; gave up after {MAX_ATTEMPTS} attempts"
            )))
        }
        .boxed()
    }

    /// Moves an active space to the archived tier (see the module docs for the
    /// steps). Running it again after a crash finishes the job.
    pub fn archive<'a>(
        &'a self,
        id: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<TierReport>> {
        async move {
            let start = self.instruments().requests();
            let (meta, version) = self.require_metadata(id).await?;
            let mut report = TierReport {
                space_id: id.into(),
                action: "archive".into(),
                ..Default::default()
            };
            if meta.tier == Tier::Archived {
                // Finish a crashed run: delete the active objects if its cleanup is
                // pending (only then: unarchives wait for the flag, so nothing new is
                // being uploaded there).
                if meta.cleanup_since_ms.is_some() {
                    report.transferred = self.finish_cleanup(id, &meta.epoch).await?;
                }
                report.action = "already archived".into();
                report.requests = self.instruments().requests() - start;
                return Ok(report);
            }
            let work = TempDir::new("archive")?;
            let plain = work.0.join("plain");
            match self.download_active(id, &meta, &plain).await {
                Ok(_) => {}
                Err(Error::HashMismatch { path, .. } | Error::NotFound(path)) => {
                    return Err(Error::Conflict(format!(
                        "{path} changed while archiving; nothing was archived, run again"
                    )))
                }
                Err(e) => return Err(e),
            }
            let db = work.0.join("workspace.db");
            tokio::task::block_in_place(|| {
                convert(&plain, &db, ConvertOptions::default(), &mut |_| {})
            })?;
            let bytes = tokio::fs::read(&db)
                .await
                .map_err(|e| Error::io(db.display().to_string(), e))?;
            let info = ArchiveInfo {
                size: bytes.len() as u64,
                sha256: Sha256Hex::of(&bytes).as_str().into(),
                format_version: sila_store_core::archive::sqlite::FORMAT_VERSION,
                name: format!("{}.db", new_epoch()),
            };
            let key = self.archive_key(id, &info.name);
            upload(&self.store, &key, bytes).await?;
            // Verify the upload: size and hash of what the store gives back.
            let back = self.get_bytes(&key).await?;
            if back.len() as u64 != info.size || Sha256Hex::of(&back).as_str() != info.sha256 {
                return Err(Error::HashMismatch {
                    path: key.to_string(),
                    expected: info.sha256,
                    actual: Sha256Hex::of(&back).as_str().into(),
                });
            }
            let mut next = meta.clone();
            next.tier = Tier::Archived;
            next.archive = Some(info.clone());
            next.files.clear();
            next.generation += 1;
            next.cleanup_since_ms = Some(now_ms());
            next.leftover_archive = None;
            if let Err(e) = self.write_metadata(&next, Some(&version)).await {
                // Did it land after all (a timeout, or a retried request answered
                // 412 after the first attempt was applied)? Ask the metadata.
                match self.read_metadata(id).await {
                    Ok(Some((m, _))) if m.archive.as_ref().is_some_and(|a| a.name == info.name) => {
                    }
                    Ok(_) => {
                        // Another writer won: our object is named nowhere; remove it
                        // (best effort: a leftover is deleted by a later archive).
                        let _ = self.delete_archive(id, &info.name).await;
                        return Err(e);
                    }
                    Err(_) => return Err(e),
                }
            }
            report.transferred = 1;
            report.bytes = info.size;
            report.skipped = self.finish_cleanup(id, &next.epoch).await?;
            if let Some(old) = &meta.leftover_archive {
                self.delete_archive(id, old).await?;
            }
            self.delete_old_objects(&self.key(&format!("archived/{id}")), Some(&key))
                .await?;
            report.requests = self.instruments().requests() - start;
            Ok(report)
        }
        .boxed()
    }

    /// Moves an archived space back to the active tier (the mirror of [`archive`]).
    ///
    /// [`archive`]: TierStore::archive
    pub fn unarchive<'a>(
        &'a self,
        id: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<TierReport>> {
        async move {
            let start = self.instruments().requests();
            let (meta, version) = self.require_metadata(id).await?;
            let mut report = TierReport {
                space_id: id.into(),
                action: "unarchive".into(),
                ..Default::default()
            };
            if meta.tier == Tier::Active {
                // Finish a crashed run: a leftover archive is deleted.
                if let Some(old) = &meta.leftover_archive {
                    self.delete_archive(id, old).await?;
                }
                report.action = "already active".into();
                report.requests = self.instruments().requests() - start;
                return Ok(report);
            }
            // An archive may still be deleting the active objects: wait for it, or
            // take the deletion over if it stalled, before uploading anything there.
            let (meta, version) = self.wait_for_cleanup(id, meta, version).await?;
            let work = TempDir::new("unarchive")?;
            let db = work.0.join("workspace.db");
            match self.download_archive(&meta, &db).await {
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
            let plain = work.0.join("plain");
            tokio::task::block_in_place(|| {
                convert(&db, &plain, ConvertOptions::default(), &mut |_| {})
            })?;
            pull::check_space_id(&plain, id)?;
            let mut source = PlainSource::open(&plain)?;
            let files = listing(&mut source, &mut |_| {})?;
            let epoch = new_epoch();
            let jobs: Vec<(PathBuf, ObjPath)> = files
                .keys()
                .map(|p| (plain.join(p), self.active_key(id, &epoch, p)))
                .collect();
            upload_files(&self.store, jobs).await?;
            // Verify the uploads: every file listed with its size.
            let prefix = self.key(&format!("active/{id}/{epoch}"));
            let listed: BTreeMap<String, u64> = self
                .list_keys(&prefix)
                .await?
                .into_iter()
                .map(|m| (m.location.to_string(), m.size))
                .collect();
            for (p, d) in &files {
                if listed.get(&self.active_key(id, &epoch, p).to_string()) != Some(&d.size) {
                    return Err(Error::Conflict(format!(
                        "{p} changed in the active tier while unarchiving; run again"
                    )));
                }
            }
            let archive_name = meta
                .archive
                .as_ref()
                .map(|a| a.name.clone())
                .unwrap_or_default();
            let mut next = meta.clone();
            next.tier = Tier::Active;
            next.archive = None;
            next.leftover_archive = Some(archive_name.clone());
            next.cleanup_since_ms = None;
            next.epoch = epoch.clone();
            next.files = files
                .iter()
                .map(|(p, d)| {
                    (
                        p.clone(),
                        IndexEntry {
                            size: d.size,
                            sha256: d.sha256.as_str().into(),
                        },
                    )
                })
                .collect();
            next.generation += 1;
            next.last_activity_ms = now_ms();
            if let Err(e) = self.write_metadata(&next, Some(&version)).await {
                // Did it land after all (see archive)? Ask the metadata.
                match self.read_metadata(id).await {
                    Ok(Some((m, _))) if m.tier == Tier::Active && m.epoch == epoch => {}
                    Ok(_) => {
                        // Another writer won: our epoch is garbage; remove it (best
                        // effort: a later archive deletes it once a day old).
                        let _ = self.delete_prefix(&prefix).await;
                        return Err(e);
                    }
                    Err(_) => return Err(e),
                }
            }
            report.transferred = files.len() as u64;
            report.bytes = files.values().map(|d| d.size).sum();
            self.delete_archive(id, &archive_name).await?;
            report.requests = self.instruments().requests() - start;
            Ok(report)
        }
        .boxed()
    }

    /// Deletes the active objects of an archived space and clears the cleanup flag.
    /// Only the archived epoch's objects: a cleanup running late (a stalled or retried
    /// request) must never touch the epoch an unarchive made live meanwhile. Objects of
    /// other epochs (left by losing or killed unarchives) go once a day old, while the
    /// metadata still says archived.
    pub(super) async fn finish_cleanup(&self, id: &str, epoch: &str) -> Result<u64> {
        let prefix = if epoch.is_empty() {
            // Metadata from before epochs existed: the files sit right under the id.
            format!("active/{id}")
        } else {
            format!("active/{id}/{epoch}")
        };
        let mut n = self.delete_prefix(&self.key(&prefix)).await?;
        if let Some((mut m, v)) = self.read_metadata(id).await? {
            if m.tier == Tier::Archived {
                n += self
                    .delete_old_objects(&self.key(&format!("active/{id}")), None)
                    .await?;
            }
            if m.tier == Tier::Archived && m.cleanup_since_ms.is_some() {
                m.cleanup_since_ms = None;
                match self.write_metadata(&m, Some(&v)).await {
                    Ok(()) | Err(Error::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(n)
    }

    /// Deletes the objects under `prefix` older than [`ORPHAN_AGE_MS`], except `keep`:
    /// what killed or losing runs left, which nothing names.
    pub(super) async fn delete_old_objects(
        &self,
        prefix: &ObjPath,
        keep: Option<&ObjPath>,
    ) -> Result<u64> {
        let cutoff = now_ms().saturating_sub(ORPHAN_AGE_MS);
        let mut n = 0;
        for o in self.list_keys(prefix).await? {
            let modified = o.last_modified.timestamp_millis().max(0) as u64;
            if Some(&o.location) != keep && modified < cutoff {
                match self.store.delete(&o.location).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => n += 1,
                    Err(e) => return Err(backend(e)),
                }
            }
        }
        Ok(n)
    }

    pub(super) async fn wait_for_cleanup(
        &self,
        id: &str,
        mut meta: TierMetadata,
        mut version: UpdateVersion,
    ) -> Result<(TierMetadata, UpdateVersion)> {
        while let Some(since) = meta.cleanup_since_ms {
            if now_ms().saturating_sub(since) > CLEANUP_LEASE_MS {
                self.finish_cleanup(id, &meta.epoch).await?;
            } else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
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

    pub(super) async fn delete_prefix(&self, prefix: &ObjPath) -> Result<u64> {
        let keys: Vec<ObjPath> = self
            .list_keys(prefix)
            .await?
            .into_iter()
            .map(|m| m.location)
            .collect();
        let n = keys.len() as u64;
        let store = Arc::clone(&self.store);
        futures::stream::iter(keys.into_iter().map(move |k| {
            let store = Arc::clone(&store);
            async move {
                match store.delete(&k).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(backend(e)),
                }
            }
        }))
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
        Ok(n)
    }
}
