//! Reading and writing one space on access: files by hash, ops by tree and day range
//! (from the active files or the archive).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{IndexEntry, Tier, TierHost, TierMetadata, Tiers, MAX_ATTEMPTS, READ_ATTEMPTS};
use crate::entries::{push_operations, select_ops_files, Operation};
use crate::error::{Error, Result};
use crate::ids::{Day, Sha256Hex, TreeId};
use crate::layout::{EntryKind, OpsFileKey};
use crate::store::{Precondition, Version, WorkspaceStore};

impl<S: WorkspaceStore, H: TierHost> Tiers<S, H> {
    /// The metadata of an active space (unarchiving it if archived; new if none).
    pub async fn active_metadata(&self, id: &str) -> Result<(TierMetadata, Option<Version>)> {
        for _ in 0..MAX_ATTEMPTS {
            match self.read_metadata(id).await? {
                None => return Ok((self.fresh_metadata(id), None)),
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

    /// Stores a CAS file in the active tier (unarchiving the space if needed) and
    /// returns its hash; a file already there is not uploaded again.
    pub async fn put_file(&self, id: &str, bytes: Vec<u8>) -> Result<Sha256Hex> {
        let hash = Sha256Hex::of(&bytes);
        let rel = EntryKind::StaticFile(hash.clone()).path();
        for _ in 0..MAX_ATTEMPTS {
            let (mut meta, version) = self.active_metadata(id).await?;
            if meta.files.contains_key(&rel) {
                return Ok(hash);
            }
            let key = Self::active_key(id, &meta.epoch, &rel);
            self.store
                .write(&key, bytes.clone(), Precondition::None)
                .await?;
            meta.files.insert(rel.clone(), IndexEntry::of(&bytes));
            meta.generation += 1;
            meta.last_activity_ms = self.host.now_ms();
            match self.write_metadata(&meta, version.as_ref()).await {
                Ok(()) => return Ok(hash),
                Err(Error::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict(format!(
            "space {id} kept changing; gave up after {MAX_ATTEMPTS} attempts"
        )))
    }

    /// The bytes of a CAS file (unarchiving the space if needed), checked against
    /// its hash.
    pub async fn get_file(&self, id: &str, hash: &Sha256Hex) -> Result<Vec<u8>> {
        let rel = EntryKind::StaticFile(hash.clone()).path();
        let mut attempt = 0;
        let bytes = loop {
            attempt += 1;
            let (meta, version) = self.active_metadata(id).await?;
            if !meta.files.contains_key(&rel) {
                return Err(Error::NotFound(format!("{rel} in space {id}")));
            }
            match self
                .get_bytes(&Self::active_key(id, &meta.epoch, &rel))
                .await
            {
                Ok(b) => break b,
                Err(e @ Error::NotFound(_)) => {
                    if attempt < READ_ATTEMPTS && self.changed_since(id, version.as_ref()).await? {
                        continue;
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        };
        let got = Sha256Hex::of(&bytes);
        if &got != hash {
            return Err(Error::HashMismatch {
                path: rel,
                expected: hash.as_str().into(),
                actual: got.as_str().into(),
            });
        }
        Ok(bytes)
    }

    /// The ops of a tree in a day range, from whichever tier holds the space: only
    /// that tree's ops files of those days from the active tier, or an indexed query
    /// of the archive. Reading does not change the tier.
    pub async fn get_operations(
        &self,
        id: &str,
        tree: &TreeId,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Vec<Operation>> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (meta, version) = self.require_metadata(id).await?;
            match self.operations_in(&meta, tree, from, to).await {
                Err(e @ (Error::NotFound(_) | Error::HashMismatch { .. })) => {
                    if attempt < READ_ATTEMPTS && self.changed_since(id, Some(&version)).await? {
                        continue;
                    }
                    return Err(e);
                }
                other => return other,
            }
        }
    }

    /// The ops of a tree in a day range, read as `meta` describes the space.
    async fn operations_in(
        &self,
        meta: &TierMetadata,
        tree: &TreeId,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Vec<Operation>> {
        let id = meta.space_id.as_str();
        if meta.tier == Tier::Archived {
            let info = meta.archive.as_ref().ok_or_else(|| Error::Corrupt {
                format: "tier metadata",
                reason: format!("metadata/{id}.json: archived without archive info"),
            })?;
            // An indexed query reading only the pages it needs.
            #[cfg(feature = "sqlite")]
            {
                let key = Self::archive_key(id, &info.name);
                let q = crate::storage::query_archive(&self.store, &key, info.size, |s| {
                    crate::entries::EntrySource::get_operations(s, tree, from, to)
                })
                .await?;
                return Ok(q.value);
            }
            #[cfg(not(feature = "sqlite"))]
            {
                let mut area = self.host.work_area()?;
                self.download_archive_into(id, info, &mut area).await?;
                return area.archive_operations(tree, from, to);
            }
        }
        let mut out = Vec::new();
        for (key, rel) in tree_files(meta, tree, from, to) {
            let bytes = self
                .get_bytes(&Self::active_key(id, &meta.epoch, &rel))
                .await?;
            // Lines appended but not yet indexed are not acknowledged: leave them out.
            let bytes = match meta.files.get(&rel) {
                Some(e) => indexed_part(&rel, e, bytes),
                None => bytes,
            };
            push_operations(&key, &rel, &bytes, &mut out)?;
        }
        Ok(out)
    }
}

/// The ops files of `tree` in the index, in days `from..=to`, in `getOperations`
/// order (day, peer, file kind).
pub fn tree_files(
    meta: &TierMetadata,
    tree: &TreeId,
    from: Option<Day>,
    to: Option<Day>,
) -> Vec<(OpsFileKey, String)> {
    let files = meta
        .files
        .keys()
        .filter_map(|p| match EntryKind::from_path(p) {
            Ok(EntryKind::OpsFile(k)) => Some((k, p.clone())),
            _ => None,
        });
    select_ops_files(files, tree, from, to)
}

/// What the index covers of an object: an ops file only grows, and a writer appends to
/// it before writing the index, so an ops file longer than its entry whose first
/// `size` bytes match the entry is the indexed file plus lines not yet acknowledged
/// (their writer's index update will fail or is still coming): the indexed part is
/// the file. Anything else comes back unchanged, to be checked against the entry.
pub fn indexed_part(path: &str, entry: &IndexEntry, mut bytes: Vec<u8>) -> Vec<u8> {
    let size = usize::try_from(entry.size).unwrap_or(usize::MAX);
    if bytes.len() > size
        && matches!(EntryKind::from_path(path), Ok(EntryKind::OpsFile(_)))
        && Sha256Hex::of(&bytes[..size]).as_str() == entry.sha256
    {
        bytes.truncate(size);
    }
    bytes
}
