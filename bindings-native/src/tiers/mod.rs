//! Server tiers on object storage (PROPOSAL.md, ARCHITECTURE.md "Server tiers"):
//!
//! ```text
//! <prefix>/active/<spaceId>/sila.md, space-v1/…   the plain layout, one object a file
//! <prefix>/archived/<spaceId>/workspace.db        the SQLite archive, one object
//! <prefix>/metadata/<spaceId>.json                tier, generation, last activity,
//!                                                 archive size + SHA-256, and the index
//!                                                 (size + SHA-256) of every active file
//! ```
//!
//! The metadata object is the truth: readers use the tier it names and ignore leftovers
//! in the other. Every change of it is a conditional write (`If-Match` on its ETag, or
//! `If-None-Match: *` when creating it), so two servers never both win.
//!
//! Archive: download the active files (hashes checked against the index) → build the
//! SQLite archive locally (verified) → upload it → download it again and check size and
//! SHA-256 → flip the metadata to `archived` → delete the active objects. Unarchive is
//! the mirror. A crash between any two steps leaves the workspace complete in the tier
//! the metadata names; running the command again finishes the job (it also cleans up
//! what a crash left in the other tier).

mod pull;
pub mod store;
mod sweep;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};
use sila_store_core::entries::{listing, Operation};
use sila_store_core::ids::{Day, PeerId, Sha256Hex, TreeId};
use sila_store_core::layout::{EntryKind, OpsFileKey};
use sila_store_core::ops::{line_of, OpsText};
use sila_store_core::{Error, Result};

use crate::fs::PlainSource;
use crate::workspace::{convert, ConvertOptions};
pub use store::{backend, Instrumented, Instruments, S3Options, TierStore};
pub use sweep::SweepItem;

/// How many requests run at once when moving many files.
pub const CONCURRENCY: usize = 8;

/// How long an archive's deletion of the active objects may take before another
/// process takes it over (the archiver is then presumed dead).
pub const CLEANUP_LEASE_MS: u64 = 30_000;

/// How often an operation starts again after another writer changed the space.
pub const MAX_ATTEMPTS: u32 = 50;

/// An object the metadata does not name (an archive under `archived/<spaceId>/`, or
/// files under an epoch of `active/<spaceId>/` while the space is archived) and that is
/// older than this was left by a killed or losing run (a run checks its uploads right
/// after writing them, then writes the metadata); the next archive deletes it.
pub const ORPHAN_AGE_MS: u64 = 24 * 3_600_000;

/// Reads that fail because the tier changed under them (an archive or unarchive won
/// between reading the metadata and reading the object) start again this many times.
const READ_ATTEMPTS: u32 = 5;

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
    fn of(bytes: &[u8]) -> Self {
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
    fn new(space_id: &str) -> Self {
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
type StaleFiles = Vec<(String, IndexEntry)>;

fn valid_space_id(id: &str) -> Result<()> {
    TreeId::new(id).map(|_| ())
}

/// Refuses metadata this version did not write, or that names another space than the
/// object it was read from (every step would then act on that other space's objects).
fn check_metadata(meta: &TierMetadata, id: &str) -> Result<()> {
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
    fn meta_key(&self, id: &str) -> ObjPath {
        self.key(&format!("metadata/{id}.json"))
    }
    fn active_key(&self, id: &str, epoch: &str, rel: &str) -> ObjPath {
        if epoch.is_empty() {
            self.key(&format!("active/{id}/{rel}"))
        } else {
            self.key(&format!("active/{id}/{epoch}/{rel}"))
        }
    }
    fn archive_key(&self, id: &str, name: &str) -> ObjPath {
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
    async fn require_metadata(&self, id: &str) -> Result<(TierMetadata, UpdateVersion)> {
        self.read_metadata(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("space {id} in the store")))
    }

    /// Deletes one archive object of a space (gone already is fine).
    async fn delete_archive(&self, id: &str, name: &str) -> Result<()> {
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
    async fn get_versioned(&self, key: &ObjPath) -> Result<Option<(Vec<u8>, UpdateVersion)>> {
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

    async fn get_bytes(&self, key: &ObjPath) -> Result<Vec<u8>> {
        let r = self.store.get(key).await.map_err(backend)?;
        Ok(r.bytes().await.map_err(backend)?.to_vec())
    }

    async fn list_keys(&self, prefix: &ObjPath) -> Result<Vec<object_store::ObjectMeta>> {
        self.store
            .list(Some(prefix))
            .try_collect()
            .await
            .map_err(backend)
    }

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
                let key = self.active_key(&space_id, &meta.epoch, p);
                let path = root.join(p);
                let known = meta.files.contains_key(p);
                async move {
                    let local = tokio::fs::read(&path)
                        .await
                        .map_err(|e| Error::io(path.display().to_string(), e))?;
                    Ok::<_, Error>((p.clone(), self.merge_ops_object(&key, local, known).await?))
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
                meta.files.insert(
                    p.clone(),
                    IndexEntry {
                        size: *size,
                        sha256: sha256.clone(),
                    },
                );
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

    /// Writes a local ops file to `key` without losing a line the object holds: a new
    /// object is created only if there still is none, an existing one is merged with
    /// [`merge_ops_bytes`] and written only if it did not change meanwhile. Returns the
    /// index entry of what the object holds now.
    async fn merge_ops_object(
        &self,
        key: &ObjPath,
        local: Vec<u8>,
        in_index: bool,
    ) -> Result<IndexEntry> {
        // A file the index does not know is most likely new: one conditional create,
        // no read (it exists only if a writer's index update was lost).
        if !in_index {
            match self.put_if(key, local.clone(), None).await {
                Ok(()) => return Ok(IndexEntry::of(&local)),
                Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let (current, version) = self
            .get_versioned(key)
            .await?
            .ok_or_else(|| Error::Conflict(format!("{key} vanished while pushing")))?;
        let merged = merge_ops_bytes(&current, &local);
        if merged != current {
            self.put_if(key, merged.clone(), Some(&version)).await?;
        }
        Ok(IndexEntry::of(&merged))
    }

    /// Metadata of an active space (unarchiving it if archived; new if none).
    fn active_metadata<'a>(
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
    async fn finish_cleanup(&self, id: &str, epoch: &str) -> Result<u64> {
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
    async fn delete_old_objects(&self, prefix: &ObjPath, keep: Option<&ObjPath>) -> Result<u64> {
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

    async fn wait_for_cleanup(
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

    async fn delete_prefix(&self, prefix: &ObjPath) -> Result<u64> {
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

    /// The seed's `syncWorkspace`: stores the ops of `tree` the server lacks (dedup by
    /// counter and peer) as lines appended to the peers' ops files of today's UTC day,
    /// and returns the ops the client lacks: those not in `client_ops` and, if given,
    /// not covered by the client's state vector (`{peer: [[start, end], …]}`).
    pub async fn sync_tree(
        &self,
        id: &str,
        tree: &TreeId,
        client_ops: &[WireOp],
        client_state: Option<&BTreeMap<String, Vec<[u64; 2]>>>,
    ) -> Result<Vec<WireOp>> {
        let day = Day::from_unix_seconds((now_ms() / 1000) as i64);
        let mut attempts = 0;
        'retry: loop {
            attempts += 1;
            if attempts > MAX_ATTEMPTS {
                return Err(Error::Conflict(format!(
                    "space {id} kept changing; gave up after {MAX_ATTEMPTS} attempts"
                )));
            }
            let (mut meta, version) = self.active_metadata(id).await?;
            // A file of the index that vanished was deleted by an archive that won:
            // start again from the metadata.
            let (server_ops, stale) = match self.tree_ops(id, &meta, tree).await {
                Ok(found) => found,
                Err(Error::NotFound(_)) => continue 'retry,
                Err(e) => return Err(e),
            };
            let known: BTreeSet<(u64, String)> = server_ops
                .iter()
                .map(|o| (o.id.counter, o.id.peer_id.clone()))
                .collect();
            // New ops, grouped into the file each belongs to.
            let mut new_lines: NewLines = BTreeMap::new();
            let mut seen = BTreeSet::new();
            for op in client_ops {
                let k = (op.id.counter, op.id.peer_id.clone());
                if known.contains(&k) || !seen.insert(k) || op.transient {
                    continue;
                }
                let (line, kind) = line_of(&op.to_tree_op()?)?;
                let key = OpsFileKey {
                    tree: tree.clone(),
                    day,
                    peer: PeerId::new(&op.id.peer_id)?,
                    kind,
                };
                new_lines
                    .entry(key)
                    .or_default()
                    .push((line, (op.id.counter, op.id.peer_id.clone())));
            }
            // Lines in a file whose index entry is older than the file (a writer
            // appended, then lost the metadata race) count as stored only once an
            // index naming them is written: an archive reads files by the index, and
            // one that read the older index could otherwise still win and drop them.
            let reindex = !stale.is_empty();
            for (rel, entry) in stale {
                meta.files.insert(rel, entry);
            }
            for (key, lines) in &new_lines {
                let rel = key.path();
                let obj = self.active_key(id, &meta.epoch, &rel);
                // Append to what the object holds now (even lines of a writer whose
                // index update has not landed), written only if it did not change
                // meanwhile.
                let current = self.get_versioned(&obj).await?;
                let (mut bytes, version) = match current {
                    Some((b, v)) => (b, Some(v)),
                    None => (Vec::new(), None),
                };
                let present: BTreeSet<(u64, String)> = OpsText::split(&bytes)
                    .map(|t| {
                        t.lines
                            .iter()
                            .filter_map(|l| {
                                sila_store_core::model::sila_tree_op(l, key.kind, key.peer.as_str())
                            })
                            .map(|o| (o.id.counter, o.id.peer))
                            .collect()
                    })
                    .unwrap_or_default();
                if !bytes.is_empty() && !bytes.ends_with(b"\n") {
                    bytes.push(b'\n');
                }
                for (l, op_id) in lines {
                    if !present.contains(op_id) {
                        bytes.extend_from_slice(l.as_bytes());
                        bytes.push(b'\n');
                    }
                }
                meta.files.insert(rel, IndexEntry::of(&bytes));
                match self.put_if(&obj, bytes, version.as_ref()).await {
                    Ok(()) => {}
                    Err(Error::Conflict(_)) => continue 'retry,
                    Err(e) => return Err(e),
                }
            }
            if !new_lines.is_empty() || reindex {
                meta.generation += 1;
                meta.last_activity_ms = now_ms();
                match self.write_metadata(&meta, version.as_ref()).await {
                    Ok(()) => {}
                    // Someone else wrote meanwhile (maybe to the same file): redo
                    // against their state; lines already there are deduplicated.
                    Err(Error::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
            let client_has: BTreeSet<(u64, &str)> = client_ops
                .iter()
                .map(|o| (o.id.counter, o.id.peer_id.as_str()))
                .collect();
            let covered = |o: &WireOp| {
                client_has.contains(&(o.id.counter, o.id.peer_id.as_str()))
                    || client_state.is_some_and(|sv| {
                        sv.get(&o.id.peer_id).is_some_and(|r| {
                            r.iter().any(|[a, b]| (*a..=*b).contains(&o.id.counter))
                        })
                    })
            };
            return Ok(server_ops.into_iter().filter(|o| !covered(o)).collect());
        }
    }

    /// Every op of a tree in the active tier, in `getOperations` order, and the files
    /// of the tree whose bytes no longer match the index (with what they hold now).
    fn tree_ops<'a>(
        &'a self,
        id: &'a str,
        meta: &'a TierMetadata,
        tree: &'a TreeId,
    ) -> futures::future::BoxFuture<'a, Result<(Vec<WireOp>, StaleFiles)>> {
        async move {
            let mut out = Vec::new();
            let mut stale = Vec::new();
            let files = tree_files(meta, tree, None, None);
            for (key, rel) in files {
                let bytes = self
                    .get_bytes(&self.active_key(id, &meta.epoch, &rel))
                    .await?;
                let now = IndexEntry::of(&bytes);
                if meta.files.get(&rel) != Some(&now) {
                    stale.push((rel.clone(), now));
                }
                let text = OpsText::split(&bytes).map_err(|line| Error::InvalidUtf8 {
                    path: rel.clone(),
                    line,
                })?;
                for l in text.lines {
                    if let Some(op) =
                        sila_store_core::model::sila_tree_op(l, key.kind, key.peer.as_str())
                    {
                        out.push(WireOp::from_tree_op(&op)?);
                    }
                }
            }
            Ok((out, stale))
        }
        .boxed()
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
    async fn changed_since(&self, id: &str, version: Option<&UpdateVersion>) -> Result<bool> {
        Ok(self.read_metadata(id).await?.map(|(_, v)| v).as_ref() != version)
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
fn tree_files(
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

/// The lock of one object key, for conditional writes from this process.
/// A lock per key, for conditional writes of this process (see `put_if`).
pub(crate) fn key_lock(key: &str) -> Arc<tokio::sync::Mutex<()>> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let map = LOCKS.get_or_init(Default::default);
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() > 10_000 {
        map.retain(|_, l| Arc::strong_count(l) > 1);
    }
    Arc::clone(map.entry(key.to_string()).or_default())
}

/// Lines to append per ops file, each with the op id it carries.
type NewLines = BTreeMap<OpsFileKey, Vec<(String, (u64, String))>>;

pub use sila_store_core::ops::wire::{WireOp, WireOpId};

fn space_id_of(source: &mut PlainSource) -> Result<String> {
    let id = sila_store_core::entries::read_space_id(source)?.ok_or_else(|| {
        Error::NotAWorkspace("no space-v1/space.json with an id: cannot tell the space id".into())
    })?;
    valid_space_id(&id)?;
    Ok(id)
}

/// Uploads local files to keys, `CONCURRENCY` at a time.
async fn upload_files(store: &Arc<Instrumented>, jobs: Vec<(PathBuf, ObjPath)>) -> Result<()> {
    let store = Arc::clone(store);
    futures::stream::iter(jobs.into_iter().map(move |(path, key)| {
        let store = Arc::clone(&store);
        async move {
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| Error::io(path.display().to_string(), e))?;
            store
                .put(&key, PutPayload::from(bytes))
                .await
                .map_err(backend)?;
            Ok::<_, Error>(())
        }
    }))
    .buffer_unordered(CONCURRENCY)
    .try_collect::<Vec<()>>()
    .await?;
    Ok(())
}

async fn upload(store: &Arc<Instrumented>, key: &ObjPath, bytes: Vec<u8>) -> Result<()> {
    const PART: usize = 16 << 20;
    if bytes.len() <= PART {
        store
            .put(key, PutPayload::from(bytes))
            .await
            .map_err(backend)?;
        return Ok(());
    }
    let mut up = store.put_multipart(key).await.map_err(backend)?;
    for chunk in bytes.chunks(PART) {
        up.put_part(PutPayload::from(chunk.to_vec()))
            .await
            .map_err(backend)?;
    }
    up.complete().await.map_err(backend)?;
    Ok(())
}

async fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e| Error::io(path.display().to_string(), e);
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io)?;
    }
    let tmp = path.with_file_name(format!(
        ".{}.sila-store-part-{}-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        unique()
    ));
    tokio::fs::write(&tmp, bytes).await.map_err(io)?;
    let f = tokio::fs::File::open(&tmp).await.map_err(io)?;
    f.sync_all().await.map_err(io)?;
    tokio::fs::rename(&tmp, path).await.map_err(io)?;
    Ok(())
}

/// An ops file holding the lines of both: `local` if it only extends `current` (byte
/// for byte what the client has), `current` if it already holds all of `local`, else
/// `current` followed by the lines of `local` it lacks (compared as exact line text),
/// in `local`'s order.
fn merge_ops_bytes(current: &[u8], local: &[u8]) -> Vec<u8> {
    if local.starts_with(current) {
        return local.to_vec();
    }
    if current.starts_with(local) {
        return current.to_vec();
    }
    let lines = |b: &[u8]| -> Vec<Vec<u8>> {
        b.split(|&c| c == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    };
    let have: BTreeSet<Vec<u8>> = lines(current).into_iter().collect();
    let mut out = current.to_vec();
    for l in lines(local) {
        if !have.contains(&l) {
            if !out.is_empty() && !out.ends_with(b"\n") {
                out.push(b'\n');
            }
            out.extend_from_slice(&l);
            out.push(b'\n');
        }
    }
    out
}

/// What the index covers of an object: an ops file only grows, and a writer appends to
/// it before writing the index, so an ops file longer than its entry whose first
/// `size` bytes match the entry is the indexed file plus lines not yet acknowledged
/// (their writer's index update will fail or is still coming): the indexed part is
/// the file. Anything else comes back unchanged, to be checked against the entry.
fn indexed_part(path: &str, entry: &IndexEntry, mut bytes: Vec<u8>) -> Vec<u8> {
    let size = usize::try_from(entry.size).unwrap_or(usize::MAX);
    if bytes.len() > size
        && matches!(EntryKind::from_path(path), Ok(EntryKind::OpsFile(_)))
        && Sha256Hex::of(&bytes[..size]).as_str() == entry.sha256
    {
        bytes.truncate(size);
    }
    bytes
}

/// A unique number in this process, for temporary names.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A temporary folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Result<Self> {
        let p = std::env::temp_dir().join(format!(
            "sila-store-{tag}-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&p).map_err(|e| Error::io(p.display().to_string(), e))?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A temporary file beside `dir`, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(dir: &Path, name: &str) -> Result<Self> {
        let base = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(base).map_err(|e| Error::io(base.display().to_string(), e))?;
        Ok(TempFile(base.join(format!(
            ".sila-store-{name}-{}-{}",
            std::process::id(),
            unique()
        ))))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl sila_store_core::storage::WorkspaceStorage for TierStore {
    async fn put_operation(
        &self,
        space_id: &str,
        tree: &TreeId,
        op: &sila_store_core::reptree::TreeOp,
    ) -> Result<()> {
        self.sync_tree(
            space_id,
            tree,
            &[WireOp::from_tree_op(op)?],
            Some(&BTreeMap::new()),
        )
        .await
        .map(|_| ())
    }

    async fn get_operations(
        &self,
        space_id: &str,
        tree: &TreeId,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Vec<Operation>> {
        TierStore::get_operations(self, space_id, tree, from, to).await
    }

    async fn put_file(&self, space_id: &str, bytes: Vec<u8>) -> Result<Sha256Hex> {
        TierStore::put_file(self, space_id, bytes).await
    }

    async fn get_file(&self, space_id: &str, hash: &Sha256Hex) -> Result<Vec<u8>> {
        TierStore::get_file(self, space_id, hash).await
    }

    async fn workspace_format(
        &self,
        space_id: &str,
    ) -> Result<sila_store_core::storage::StorageFormat> {
        use sila_store_core::storage::StorageFormat;
        let (meta, _) = self.require_metadata(space_id).await?;
        Ok(match meta.tier {
            Tier::Active => StorageFormat::PlainFiles,
            Tier::Archived => StorageFormat::Sqlite,
        })
    }

    async fn convert_to_sqlite(&self, space_id: &str) -> Result<()> {
        self.archive(space_id).await.map(|_| ())
    }

    async fn convert_to_plain(&self, space_id: &str) -> Result<()> {
        self.unarchive(space_id).await.map(|_| ())
    }

    async fn sync_workspace(
        &self,
        space_id: &str,
        tree: &TreeId,
        client_ops: &[sila_store_core::reptree::TreeOp],
        state: Option<&sila_store_core::storage::StateVector>,
    ) -> Result<Vec<sila_store_core::reptree::TreeOp>> {
        let wire: Vec<WireOp> = client_ops
            .iter()
            .map(WireOp::from_tree_op)
            .collect::<Result<_>>()?;
        self.sync_tree(space_id, tree, &wire, state)
            .await?
            .iter()
            .map(WireOp::to_tree_op)
            .collect()
    }
}
