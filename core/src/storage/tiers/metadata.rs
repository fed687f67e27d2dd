//! The metadata object of a space (the truth about its tier), its index of active
//! files, and the conditional object I/O every step uses.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::{TierHost, Tiers};
use crate::error::{Error, Result};
use crate::ids::{Sha256Hex, TreeId};
use crate::store::{Precondition, Version, WorkspaceStore};

/// Which tier holds a workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Plain files under `active/<spaceId>/`.
    Active,
    /// One SQLite archive under `archived/<spaceId>/<name>.db`.
    Archived,
}

/// The archive object of an archived workspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveInfo {
    /// Bytes.
    pub size: u64,
    /// SHA-256 of the database file.
    pub sha256: String,
    /// SQLite archive format version.
    pub format_version: i64,
    /// The object's name under `archived/<spaceId>/`, unique to the archive run that
    /// wrote it, so a run that loses the metadata race never overwrites the winner's
    /// archive. Empty (metadata written before names existed): `workspace.db`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// One active file in the index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Bytes.
    pub size: u64,
    /// SHA-256.
    pub sha256: String,
    /// The store's version of the object (S3: its ETag) when it held these bytes, if
    /// the writer knew it. A push that only appends to the file then writes it with
    /// one request, conditional on this version, instead of reading it first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl IndexEntry {
    /// The entry of these bytes.
    pub fn of(bytes: &[u8]) -> Self {
        IndexEntry {
            size: bytes.len() as u64,
            sha256: Sha256Hex::of(bytes).as_str().into(),
            version: None,
        }
    }

    /// The entry of a file of `size` bytes with this SHA-256 (hex).
    pub fn new(size: u64, sha256: &str) -> Self {
        IndexEntry {
            size,
            sha256: sha256.into(),
            version: None,
        }
    }

    /// This entry, noting that the object is at `version` while it holds these bytes.
    pub fn at(mut self, version: Version) -> Self {
        self.version = Some(version.0);
        self
    }

    /// Whether both describe the same bytes (whatever versions they name).
    pub fn same_bytes(&self, other: &IndexEntry) -> bool {
        self.size == other.size && self.sha256 == other.sha256
    }

    /// Whether `bytes` begin with the bytes this entry describes.
    pub fn is_prefix_of(&self, bytes: &[u8]) -> bool {
        usize::try_from(self.size)
            .ok()
            .and_then(|n| bytes.get(..n))
            .is_some_and(|head| Sha256Hex::of(head).as_str() == self.sha256)
    }

    /// Whether `bytes` are what the entry says.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        bytes.len() as u64 == self.size && Sha256Hex::of(bytes).as_str() == self.sha256
    }
}

/// `metadata/<spaceId>.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TierMetadata {
    /// Always `sila-store-tier`.
    pub format: String,
    /// Version of this metadata format (1).
    pub version: u32,
    /// The space.
    pub space_id: String,
    /// Where the workspace is.
    pub tier: Tier,
    /// Bumped on every change.
    pub generation: u64,
    /// Last push, sync or unarchive, Unix milliseconds.
    pub last_activity_ms: u64,
    /// The archive, when archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<ArchiveInfo>,
    /// Every active file, when active.
    #[serde(default)]
    pub files: BTreeMap<String, IndexEntry>,
    /// When archived and the active objects are still being deleted: since when (Unix
    /// ms). Unarchive waits for the deletion to finish (or takes it over after
    /// [`super::CLEANUP_LEASE_MS`]), so no deletion can remove freshly unarchived files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_since_ms: Option<u64>,
    /// The key segment of the current set of active objects
    /// (`active/<spaceId>/<epoch>/…`). Every unarchive uploads under a new epoch, so two
    /// unarchives racing never overwrite each other's or a later writer's files; the one
    /// whose metadata write wins names its epoch here, the other's objects are garbage
    /// (deleted by the next archive).
    #[serde(default)]
    pub epoch: String,
    /// When active: the name of the archive object the last unarchive came from, which
    /// it deletes after its metadata write; a run killed before that leaves it, and the
    /// next unarchive or archive deletes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leftover_archive: Option<String>,
}

impl TierMetadata {
    /// The metadata of a new, empty, active space.
    pub fn new(space_id: &str, now_ms: u64, epoch: String) -> Self {
        TierMetadata {
            format: "sila-store-tier".into(),
            version: 1,
            space_id: space_id.into(),
            tier: Tier::Active,
            generation: 0,
            last_activity_ms: now_ms,
            archive: None,
            files: BTreeMap::new(),
            cleanup_since_ms: None,
            epoch,
            leftover_archive: None,
        }
    }
}

/// What a tier operation did.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TierReport {
    /// The space.
    pub space_id: String,
    /// What happened, for a person.
    pub action: String,
    /// Files (or objects) moved.
    pub transferred: u64,
    /// Files already in place.
    pub skipped: u64,
    /// Bytes moved.
    pub bytes: u64,
    /// Requests made to the store (filled in by hosts that count them).
    pub requests: u64,
}

impl TierReport {
    pub(super) fn new(space_id: &str, action: &str) -> Self {
        TierReport {
            space_id: space_id.into(),
            action: action.into(),
            ..Default::default()
        }
    }
}

/// A space id is a tree id (the space tree's root).
pub fn valid_space_id(id: &str) -> Result<()> {
    TreeId::new(id).map(|_| ())
}

/// Refuses metadata this version did not write, or that names another space than the
/// object it was read from (every step would then act on that other space's objects).
pub fn check_metadata(meta: &TierMetadata, id: &str) -> Result<()> {
    let corrupt = |reason: String| Error::Corrupt {
        format: "tier metadata",
        reason: format!("metadata/{id}.json: {reason}"),
    };
    if meta.format != "sila-store-tier" {
        return Err(corrupt(format!(
            "format {:?}, not \"sila-store-tier\"",
            meta.format
        )));
    }
    if meta.version != 1 {
        return Err(Error::UnsupportedVersion {
            format: "tier metadata",
            found: i64::from(meta.version),
            supported: 1,
        });
    }
    if meta.space_id != id {
        return Err(corrupt(format!("it names space {:?}", meta.space_id)));
    }
    Ok(())
}

impl<S: WorkspaceStore, H: TierHost> Tiers<S, H> {
    /// The metadata of a space and its version, `None` if there is none.
    pub async fn read_metadata(&self, id: &str) -> Result<Option<(TierMetadata, Version)>> {
        valid_space_id(id)?;
        let Some((bytes, version)) = self.store.read(&Self::meta_key(id)).await? else {
            return Ok(None);
        };
        let meta: TierMetadata = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            format: "tier metadata",
            reason: format!("metadata/{id}.json: {e}"),
        })?;
        check_metadata(&meta, id)?;
        Ok(Some((meta, version)))
    }

    /// The metadata of a space that must exist.
    pub async fn require_metadata(&self, id: &str) -> Result<(TierMetadata, Version)> {
        self.read_metadata(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("space {id} in the store")))
    }

    /// Writes the metadata if it is still at `expected` (or absent, for `None`);
    /// [`Error::Conflict`] if another writer changed it.
    pub async fn write_metadata(
        &self,
        meta: &TierMetadata,
        expected: Option<&Version>,
    ) -> Result<()> {
        let body =
            serde_json::to_vec_pretty(meta).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        self.put_if(&Self::meta_key(&meta.space_id), body, expected)
            .await?;
        Ok(())
    }

    /// Writes `bytes` at `key` only if the object is still at `expected` (`None`: only
    /// if there is none); [`Error::Conflict`] if not. Returns the object's new version.
    pub async fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        expected: Option<&Version>,
    ) -> Result<Version> {
        let condition = match expected {
            None => Precondition::IfAbsent,
            Some(v) => Precondition::IfVersion(v.clone()),
        };
        Ok(self.store.write(key, bytes, condition).await?)
    }

    /// Whether the metadata of a space is no longer at `version`.
    pub async fn changed_since(&self, id: &str, version: Option<&Version>) -> Result<bool> {
        Ok(self.read_metadata(id).await?.map(|(_, v)| v).as_ref() != version)
    }

    /// Deletes one archive object of a space (gone already is fine).
    pub(super) async fn delete_archive(&self, id: &str, name: &str) -> Result<()> {
        self.store
            .delete_many(&[Self::archive_key(id, name)])
            .await?;
        Ok(())
    }

    /// The bytes at `key`; [`Error::NotFound`] if there are none.
    pub(super) async fn get_bytes(&self, key: &str) -> Result<Vec<u8>> {
        Ok(self
            .store
            .read(key)
            .await?
            .ok_or_else(|| Error::NotFound(key.to_string()))?
            .0)
    }

    /// A fresh metadata for space `id`.
    pub(super) fn fresh_metadata(&self, id: &str) -> TierMetadata {
        TierMetadata::new(id, self.host.now_ms(), self.host.new_epoch())
    }
}
