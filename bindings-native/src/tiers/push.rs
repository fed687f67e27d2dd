//! `push`: a workspace folder into the active tier, incrementally; ops files merged,
//! never overwritten.

use std::path::{Path, PathBuf};

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjPath;
use sila_store_core::entries::listing;
use sila_store_core::layout::EntryKind;
use sila_store_core::{Error, Result};

use super::*;
use crate::fs::PlainSource;

impl TierStore {
    /// Uploads a local workspace's active files; only files that are new or changed
    /// (by size and SHA-256 against the index) move. An archived space is unarchived
    /// first. Ops files are merged, never overwritten: lines a server wrote since (a
    /// sync) stay, and the local lines they lack are appended (a file the local copy
    /// only extends is written as it is, byte for byte). Other files are replaced: CAS
    /// files cannot differ, and for the rest the last writer wins, as in Sila.
    pub async fn push(&self, dir: &Path) -> Result<TierReport> {
        let start = self.instruments().requests();
        let mut source = PlainSource::open(dir)?;
        let space_id = space_id_of(&mut source)?;
        let local = listing(&mut source, &mut |_| {})?;
        let root = source.root().to_path_buf();
        let mut report = TierReport {
            space_id: space_id.clone(),
            action: "push".into(),
            ..Default::default()
        };
        for attempt in 1.. {
            if attempt > MAX_ATTEMPTS {
                return Err(Error::Conflict(format!(
                    "space {space_id} kept changing; gave up after {MAX_ATTEMPTS} attempts"
                )));
            }
            let (mut meta, version) = self.active_metadata(&space_id).await?;
            let todo: Vec<(String, u64, String)> = local
                .iter()
                .filter(|(p, d)| {
                    meta.files
                        .get(*p)
                        .is_none_or(|e| e.size != d.size || e.sha256 != d.sha256.as_str())
                })
                .map(|(p, d)| (p.clone(), d.size, d.sha256.as_str().to_string()))
                .collect();
            report.skipped = (local.len() - todo.len()) as u64;
            let (ops, others): (Vec<_>, Vec<_>) = todo.iter().partition(|(p, _, _)| {
                matches!(EntryKind::from_path(p), Ok(EntryKind::OpsFile(_)))
            });
            let jobs: Vec<(PathBuf, ObjPath)> = others
                .iter()
                .map(|(p, _, _)| (root.join(p), self.active_key(&space_id, &meta.epoch, p)))
                .collect();
            upload_files(&self.store, jobs).await?;
            let merged = futures::stream::iter(ops.iter().map(|(p, _, _)| {
                let key = Engine::active_key(&space_id, &meta.epoch, p);
                let path = root.join(p);
                let indexed = meta.files.get(p);
                async move {
                    let local = tokio::fs::read(&path)
                        .await
                        .map_err(|e| Error::io(path.display().to_string(), e))?;
                    Ok::<_, Error>((
                        p.clone(),
                        self.engine.merge_ops_object(&key, local, indexed).await?,
                    ))
                }
            }))
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<(String, IndexEntry)>>()
            .await;
            let merged = match merged {
                Ok(m) => m,
                // An ops file changed between our read and our write: start again.
                Err(Error::Conflict(_)) => continue,
                Err(e) => return Err(e),
            };
            report.transferred = todo.len() as u64;
            report.bytes = todo.iter().map(|t| t.1).sum();
            for (p, size, sha256) in others {
                meta.files.insert(p.clone(), IndexEntry::new(*size, sha256));
            }
            for (p, entry) in merged {
                meta.files.insert(p, entry);
            }
            meta.generation += 1;
            meta.last_activity_ms = now_ms();
            match self.write_metadata(&meta, version.as_ref()).await {
                Ok(()) => break,
                // Another writer changed the index meanwhile: merge again (our files
                // are uploaded; the next round only writes the index).
                Err(Error::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        report.requests = self.instruments().requests() - start;
        Ok(report)
    }
}
