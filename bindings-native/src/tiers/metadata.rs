//! The metadata object of a space (the truth about its tier), its index of active
//! files, and the keys and conditional object I/O every step uses.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};
use sila_store_core::ids::{Sha256Hex, TreeId};
use sila_store_core::{Error, Result};

use super::*;

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
}

impl IndexEntry {
    /// The entry of these bytes.
    pub(super) fn of(bytes: &[u8]) -> Self {
        IndexEntry {
            size: bytes.len() as u64,
            sha256: Sha256Hex::of(bytes).as_str().into(),
        }
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
    /// [`CLEANUP_LEASE_MS`]), so no deletion can remove freshly unarchived files.
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
    pub(super) fn new(space_id: &str) -> Self {
        TierMetadata {
            format: "sila-store-tier".into(),
            version: 1,
            space_id: space_id.into(),
            tier: Tier::Active,
            generation: 0,
            last_activity_ms: now_ms(),
            archive: None,
            files: BTreeMap::new(),
            cleanup_since_ms: None,
            epoch: new_epoch(),
            leftover_archive: None,
        }
    }
}

/// A fresh epoch: short (object keys stay short: some S3-compatible servers limit
/// them), from time, process and a counter, so that concurrent writers differ.
pub fn new_epoch() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    use std::hash::BuildHasher;
    // Time, pid and counter alone repeat across containers (every process pid 1, every
    // CLI run counter 0): the per-process random keys of RandomState make them differ.
    let random = std::collections::hash_map::RandomState::new().hash_one(now_ms());
    let mut x = now_ms()
        ^ random
        ^ (u64::from(std::process::id()) << 32)
        ^ N.fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 29;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 32;
    let mut n = x & 0xff_ffff_ffff; // 40 bits: 8 base-36 digits at most
    let mut out = String::from("e");
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    loop {
        out.push(DIGITS[(n % 36) as usize] as char);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
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
    /// Requests made to the store.
    pub requests: u64,
}

/// Files whose bytes no longer match the index, with what they hold now.
pub(super) type StaleFiles = Vec<(String, IndexEntry)>;

pub(super) fn valid_space_id(id: &str) -> Result<()> {
    TreeId::new(id).map(|_| ())
}

/// Refuses metadata this version did not write, or that names another space than the
/// object it was read from (every step would then act on that other space's objects).
pub(super) fn check_metadata(meta: &TierMetadata, id: &str) -> Result<()> {
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

impl TierStore {
    pub(super) fn meta_key(&self, id: &str) -> ObjPath {
        self.key(&format!("metadata/{id}.json"))
    }
    pub(super) fn active_key(&self, id: &str, epoch: &str, rel: &str) -> ObjPath {
        if epoch.is_empty() {
            self.key(&format!("active/{id}/{rel}"))
        } else {
            self.key(&format!("active/{id}/{epoch}/{rel}"))
        }
    }
    pub(super) fn archive_key(&self, id: &str, name: &str) -> ObjPath {
        let name = if name.is_empty() {
            "workspace.db"
        } else {
            name
        };
        self.key(&format!("archived/{id}/{name}"))
    }

    /// The metadata of a space and its version, `None` if there is none.
    pub async fn read_metadata(&self, id: &str) -> Result<Option<(TierMetadata, UpdateVersion)>> {
        valid_space_id(id)?;
        match self.store.get(&self.meta_key(id)).await {
            Ok(r) => {
                let version = UpdateVersion {
                    e_tag: r.meta.e_tag.clone(),
                    version: r.meta.version.clone(),
                };
                let bytes = r.bytes().await.map_err(backend)?;
                let meta: TierMetadata =
                    serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
                        format: "tier metadata",
                        reason: format!("metadata/{id}.json: {e}"),
                    })?;
                check_metadata(&meta, id)?;
                Ok(Some((meta, version)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    /// The metadata of a space that must exist.
    pub(super) async fn require_metadata(&self, id: &str) -> Result<(TierMetadata, UpdateVersion)> {
        self.read_metadata(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("space {id} in the store")))
    }

    /// Deletes one archive object of a space (gone already is fine).
    pub(super) async fn delete_archive(&self, id: &str, name: &str) -> Result<()> {
        match self.store.delete(&self.archive_key(id, name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }

    /// Writes the metadata if it is still at `expected` (or absent, for `None`).
    pub async fn write_metadata(
        &self,
        meta: &TierMetadata,
        expected: Option<&UpdateVersion>,
    ) -> Result<()> {
        let key = self.meta_key(&meta.space_id);
        let body =
            serde_json::to_vec_pretty(meta).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        self.put_if(&key, body, expected).await
    }

    /// Writes `bytes` at `key` only if the object is still at `expected` (`None`: only
    /// if there is none): `If-Match` / `If-None-Match: *`. A local folder has no
    /// conditional update: there the check and the write happen under a lock (safe
    /// between the writers of this process; several processes need S3).
    pub async fn put_if(
        &self,
        key: &ObjPath,
        bytes: Vec<u8>,
        expected: Option<&UpdateVersion>,
    ) -> Result<()> {
        // Conditional writes to one key from this process go one at a time: servers
        // whose check-and-write is not atomic (s3s-fs; a local folder, which has no
        // conditional update at all) then still see no race between our own writers.
        // Between processes, the store's own conditional write is what protects.
        let lock = key_lock(key.as_ref());
        let _guard = lock.lock().await;
        let mode = match expected {
            None => PutMode::Create,
            Some(v) => PutMode::Update(v.clone()),
        };
        if !self.native_cas {
            if let PutMode::Update(v) = &mode {
                let current = self.store.head(key).await.map_err(backend)?;
                if current.e_tag != v.e_tag {
                    return Err(Error::Conflict(format!("{key} changed")));
                }
            }
        }
        let mode = if self.native_cas || matches!(mode, PutMode::Create) {
            mode
        } else {
            PutMode::Overwrite
        };
        self.store
            .put_opts(key, PutPayload::from(bytes), PutOptions::from(mode))
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// An object's bytes and version, `None` if it does not exist.
    pub(super) async fn get_versioned(
        &self,
        key: &ObjPath,
    ) -> Result<Option<(Vec<u8>, UpdateVersion)>> {
        match self.store.get(key).await {
            Ok(r) => {
                let v = UpdateVersion {
                    e_tag: r.meta.e_tag.clone(),
                    version: r.meta.version.clone(),
                };
                Ok(Some((r.bytes().await.map_err(backend)?.to_vec(), v)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    pub(super) async fn get_bytes(&self, key: &ObjPath) -> Result<Vec<u8>> {
        let r = self.store.get(key).await.map_err(backend)?;
        Ok(r.bytes().await.map_err(backend)?.to_vec())
    }

    pub(super) async fn list_keys(
        &self,
        prefix: &ObjPath,
    ) -> Result<Vec<object_store::ObjectMeta>> {
        self.store
            .list(Some(prefix))
            .try_collect()
            .await
            .map_err(backend)
    }
}
