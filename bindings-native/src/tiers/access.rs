//! Reading and writing one space on access: files by hash, ops by tree and day range
//! (from the active files or the downloaded archive).

use object_store::{ObjectStoreExt, PutPayload, UpdateVersion};
use sila_store_core::entries::Operation;
use sila_store_core::ids::{Day, Sha256Hex, TreeId};
use sila_store_core::layout::{EntryKind, OpsFileKey};
use sila_store_core::ops::OpsText;
use sila_store_core::{Error, Result};

use super::*;

impl TierStore {
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
            let key = self.active_key(id, &meta.epoch, &rel);
            self.store
                .put(&key, PutPayload::from(bytes.clone()))
                .await
                .map_err(backend)?;
            meta.files.insert(
                rel.clone(),
                IndexEntry {
                    size: bytes.len() as u64,
                    sha256: hash.as_str().into(),
                },
            );
            meta.generation += 1;
            meta.last_activity_ms = now_ms();
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
                .get_bytes(&self.active_key(id, &meta.epoch, &rel))
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
    /// of the downloaded archive. Reading does not change the tier.
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

    /// Whether the metadata of a space is no longer at `version`.
    pub(super) async fn changed_since(
        &self,
        id: &str,
        version: Option<&UpdateVersion>,
    ) -> Result<bool> {
        Ok(self.read_metadata(id).await?.map(|(_, v)| v).as_ref() != version)
    }

    /// The ops of a tree in a day range, read as `meta` describes the space.
    pub(super) async fn operations_in(
        &self,
        meta: &TierMetadata,
        tree: &TreeId,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Vec<Operation>> {
        let id = meta.space_id.as_str();
        if meta.tier == Tier::Archived {
            let work = TempDir::new("ops")?;
            let db = work.0.join("workspace.db");
            self.download_archive(meta, &db).await?;
            return tokio::task::block_in_place(|| {
                crate::workspace::with_source(&db, |s| s.get_operations(tree, from, to))
            });
        }
        let mut out = Vec::new();
        for (key, rel) in tree_files(meta, tree, from, to) {
            let bytes = self
                .get_bytes(&self.active_key(id, &meta.epoch, &rel))
                .await?;
            // Lines appended but not yet indexed are not acknowledged: leave them out.
            let bytes = match meta.files.get(&rel) {
                Some(e) => indexed_part(&rel, e, bytes),
                None => bytes,
            };
            let text = OpsText::split(&bytes).map_err(|line| Error::InvalidUtf8 {
                path: rel.clone(),
                line,
            })?;
            out.extend(text.lines.iter().map(|l| Operation::new(&key, l)));
        }
        Ok(out)
    }
}

/// The ops files of `tree` in the index, in days `from..=to`, in `getOperations`
/// order (day, peer, file kind).
pub(super) fn tree_files(
    meta: &TierMetadata,
    tree: &TreeId,
    from: Option<Day>,
    to: Option<Day>,
) -> Vec<(OpsFileKey, String)> {
    let mut files: Vec<(OpsFileKey, String)> = meta
        .files
        .keys()
        .filter_map(|p| match EntryKind::from_path(p) {
            Ok(EntryKind::OpsFile(k))
                if &k.tree == tree
                    && from.is_none_or(|f| k.day >= f)
                    && to.is_none_or(|t| k.day <= t) =>
            {
                Some((k, p.clone()))
            }
            _ => None,
        })
        .collect();
    files.sort_by(|a, b| {
        (a.0.day, &a.0.peer, a.0.kind.as_str()).cmp(&(b.0.day, &b.0.peer, b.0.kind.as_str()))
    });
    files
}
