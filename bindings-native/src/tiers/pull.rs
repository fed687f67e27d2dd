//! Pulling a space into a local folder from whichever tier holds it.
//!
//! A pull writes only into a folder that is absent, empty, or a workspace of the same
//! space (its `space-v1/space.json` names the id); anything else is refused before a
//! byte is written, so a pull never overwrites or deletes files that are not the
//! space's. Files of the folder that the space does not have are kept. What is pulled
//! must be the space asked for: metadata naming another space, or a `space.json` with
//! another id, is `Corrupt` and nothing is written.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::path::Path as ObjPath;
use object_store::ObjectStoreExt;
use sila_store_core::entries::listing;
use sila_store_core::ids::Sha256Hex;
use sila_store_core::layout::{safe_relative_path, EntryKind};
use sila_store_core::storage::tiers::{check_space_json, indexed_part};
use sila_store_core::{Error, Result};

use super::{
    backend, unique, write_atomic, IndexEntry, Instrumented, TempFile, Tier, TierMetadata,
    TierReport, TierStore, CONCURRENCY,
};
use crate::fs::{rename_no_replace, PlainSource};
use crate::workspace::{convert, ConvertOptions};

/// Largest `space.json` read from a local folder to tell whose workspace it is.
const MAX_SPACE_JSON: u64 = 1 << 20;

/// What a pull writes into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// Nothing there yet.
    Absent,
    /// An empty folder.
    Empty,
    /// A workspace of this space.
    Workspace,
}

impl TierStore {
    /// Downloads a space into `dir`: absent, an empty folder, or a workspace of this
    /// space (anything else is refused with `InvalidArgument` and left alone). Only
    /// files missing or different locally are written, each checked against the index;
    /// files of `dir` the space does not have stay. An archived space is downloaded as
    /// its archive and converted beside `dir` first.
    pub async fn pull(&self, id: &str, dir: &Path) -> Result<TierReport> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.pull_once(id, dir).await {
                // The tier changed under us (archived or unarchived meanwhile).
                Err(Error::NotFound(_) | Error::HashMismatch { .. }) if attempts < 5 => continue,
                other => return other,
            }
        }
    }

    async fn pull_once(&self, id: &str, dir: &Path) -> Result<TierReport> {
        let start = self.instruments().requests();
        let (meta, _) = self.require_metadata(id).await?;
        let target = pull_target(dir, id)?;
        let mut report = TierReport {
            space_id: id.into(),
            action: "pull".into(),
            ..Default::default()
        };
        let (n, bytes, skipped) = match meta.tier {
            Tier::Archived => self.pull_archive(id, &meta, dir, target).await?,
            Tier::Active => self.download_active(id, &meta, dir).await?,
        };
        report.transferred = n;
        report.bytes = bytes;
        report.skipped = skipped;
        report.requests = self.instruments().requests() - start;
        Ok(report)
    }

    /// An archived space: the archive is downloaded and converted beside `dir`, its
    /// space id checked, then moved into place whole (no-replace) or, into a workspace
    /// of this space, merged file by file.
    async fn pull_archive(
        &self,
        id: &str,
        meta: &TierMetadata,
        dir: &Path,
        target: Target,
    ) -> Result<(u64, u64, u64)> {
        let db = TempFile::new(dir, "pull.db")?;
        self.download_archive(meta, &db.0).await?;
        let plain = Scratch::beside(dir, "pull")?;
        let r = tokio::task::block_in_place(|| {
            convert(&db.0, &plain.0, ConvertOptions::default(), &mut |_| {})
        })?;
        check_space_id(&plain.0, id)?;
        match target {
            Target::Workspace => merge_into(&plain.0, dir).await,
            Target::Absent | Target::Empty => {
                if target == Target::Empty {
                    std::fs::remove_dir(dir)
                        .map_err(|e| Error::io(dir.display().to_string(), e))?;
                }
                rename_no_replace(&plain.0, dir).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        not_ours(dir, id, "something appeared there while pulling")
                    } else {
                        Error::io(dir.display().to_string(), e)
                    }
                })?;
                Ok((r.files, r.bytes, 0))
            }
        }
    }

    /// Downloads the active files of a space into `dir` (created if missing): only
    /// files missing or different locally, each checked against the index. The
    /// space's `space.json`, if indexed, comes first and must name `id`.
    pub(super) fn download_active<'a>(
        &'a self,
        id: &'a str,
        meta: &'a TierMetadata,
        dir: &'a Path,
    ) -> futures::future::BoxFuture<'a, Result<(u64, u64, u64)>> {
        async move {
            let space_json = EntryKind::SpaceJson.path();
            let mut first = None;
            if let Some(e) = meta.files.get(&space_json) {
                let local = dir.join(&space_json);
                if !tokio::fs::read(&local).await.is_ok_and(|b| e.matches(&b)) {
                    let key = self.active_key(id, &meta.epoch, &space_json);
                    let bytes = fetch_checked(&self.store, &key, &space_json, e).await?;
                    check_space_json(&bytes, id)?;
                    write_atomic(&local, &bytes).await?;
                    first = Some(e.size);
                } else {
                    check_space_id(dir, id)?;
                }
            }
            let (n, bytes, skipped) = self.download_rest(id, meta, dir).await?;
            Ok(match first {
                // Written first, then found in place by the rest.
                Some(size) => (n + 1, bytes + size, skipped.saturating_sub(1)),
                None => (n, bytes, skipped),
            })
        }
        .boxed()
    }

    /// [`TierStore::download_active`] after `space.json`.
    async fn download_rest(
        &self,
        id: &str,
        meta: &TierMetadata,
        dir: &Path,
    ) -> Result<(u64, u64, u64)> {
        let mut todo = Vec::new();
        let mut skipped = 0;
        for (p, e) in &meta.files {
            safe_relative_path(p)?;
            let local = dir.join(p);
            let same = match tokio::fs::read(&local).await {
                Ok(b) => e.matches(&b),
                Err(_) => false,
            };
            if same {
                skipped += 1;
            } else {
                todo.push((p.clone(), e.clone()));
            }
        }
        let n = todo.len() as u64;
        let bytes = todo.iter().map(|t| t.1.size).sum();
        let jobs: Vec<(String, IndexEntry, ObjPath, PathBuf)> = todo
            .into_iter()
            .map(|(p, e)| {
                let key = self.active_key(id, &meta.epoch, &p);
                let path = dir.join(&p);
                (p, e, key, path)
            })
            .collect();
        let store = Arc::clone(&self.store);
        futures::stream::iter(jobs.into_iter().map(move |(p, e, key, path)| {
            let store = Arc::clone(&store);
            async move {
                let b = fetch_checked(&store, &key, &p, &e).await?;
                write_atomic(&path, &b).await
            }
        }))
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
        Ok((n, bytes, skipped))
    }

    /// Downloads the archive of an archived space to `to`, size and hash checked.
    pub(super) async fn download_archive(&self, meta: &TierMetadata, to: &Path) -> Result<()> {
        let info = meta.archive.as_ref().ok_or_else(|| Error::Corrupt {
            format: "tier metadata",
            reason: "archived without archive info".into(),
        })?;
        let key = self.archive_key(&meta.space_id, &info.name);
        let b = self.get_bytes(&key).await?;
        let got = Sha256Hex::of(&b);
        if b.len() as u64 != info.size || got.as_str() != info.sha256 {
            return Err(Error::HashMismatch {
                path: key.to_string(),
                expected: info.sha256.clone(),
                actual: got.as_str().into(),
            });
        }
        write_atomic(to, &b).await
    }

    /// Opens a space for use: unarchives it if archived ("unarchive on access"), then
    /// pulls its files into `dir`.
    pub async fn open_space(&self, id: &str, dir: &Path) -> Result<TierReport> {
        pull_target(dir, id)?;
        if let Some((m, _)) = self.read_metadata(id).await? {
            if m.tier == Tier::Archived {
                // Another server opening it at the same time may win: fine.
                match self.unarchive(id).await {
                    Ok(_) | Err(Error::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.pull(id, dir).await
    }
}

/// The object at `key` (the indexed part of an ops file), checked against its entry.
async fn fetch_checked(
    store: &Arc<Instrumented>,
    key: &ObjPath,
    path: &str,
    e: &IndexEntry,
) -> Result<Vec<u8>> {
    let b = store
        .get(key)
        .await
        .map_err(backend)?
        .bytes()
        .await
        .map_err(backend)?
        .to_vec();
    let b = indexed_part(path, e, b);
    if !e.matches(&b) {
        return Err(Error::HashMismatch {
            path: path.to_string(),
            expected: e.sha256.clone(),
            actual: Sha256Hex::of(&b).as_str().into(),
        });
    }
    Ok(b)
}

/// `Corrupt` unless the workspace folder `plain` is space `id` (a workspace without
/// `space.json` makes no claim).
pub(super) fn check_space_id(plain: &Path, id: &str) -> Result<()> {
    let p = plain.join(EntryKind::SpaceJson.path());
    match std::fs::read(&p) {
        Ok(b) => check_space_json(&b, id),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(p.display().to_string(), e)),
    }
}

/// What `dir` is for a pull of space `id`; `InvalidArgument` if a pull may not write
/// there (a file, a non-empty folder that is not a workspace of this space). A
/// workspace of the space: its `space.json` names it, or it has none but holds the
/// space tree's ops folder.
fn pull_target(dir: &Path, id: &str) -> Result<Target> {
    let io = |e| Error::io(dir.display().to_string(), e);
    let meta = match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Target::Absent),
        Err(e) => return Err(io(e)),
        Ok(m) => m,
    };
    if !meta.is_dir() {
        return Err(not_ours(dir, id, "it is not a folder"));
    }
    if std::fs::read_dir(dir).map_err(io)?.next().is_none() {
        return Ok(Target::Empty);
    }
    let p = dir.join(EntryKind::SpaceJson.path());
    let mut bytes = Vec::new();
    let read = std::fs::File::open(&p)
        .and_then(|f| f.take(MAX_SPACE_JSON).read_to_end(&mut bytes))
        .is_ok();
    match sila_store_core::space::space_id_from_json(&bytes).filter(|_| read) {
        Some(found) if found == id => Ok(Target::Workspace),
        Some(found) => Err(not_ours(
            dir,
            id,
            &format!("it is a workspace of space {found}"),
        )),
        // No space.json (a space only synced has none): the space tree's own ops
        // folder tells.
        None if !p.exists() && holds_space_tree(dir, id) => Ok(Target::Workspace),
        None => Err(not_ours(
            dir,
            id,
            "it is not empty and holds no workspace of this space",
        )),
    }
}

/// Whether `dir` holds the ops folder of the space tree (`layout::tree_ops_dir`).
fn holds_space_tree(dir: &Path, id: &str) -> bool {
    sila_store_core::ids::TreeId::new(id).is_ok_and(|tree| {
        dir.join(sila_store_core::layout::tree_ops_dir(&tree))
            .is_dir()
    })
}

fn not_ours(dir: &Path, id: &str, why: &str) -> Error {
    Error::InvalidArgument(format!(
        "will not pull space {id} into {}: {why}; pull into a new or empty folder, or into this space's own workspace",
        dir.display()
    ))
}

/// Copies every file of the workspace folder `from` that `dir` lacks or holds
/// different bytes of (`space.json` first); other files of `dir` stay.
async fn merge_into(from: &Path, dir: &Path) -> Result<(u64, u64, u64)> {
    let files = tokio::task::block_in_place(|| {
        let mut source = PlainSource::open(from)?;
        listing(&mut source, &mut |_| {})
    })?;
    let space_json = EntryKind::SpaceJson.path();
    let mut order: Vec<&String> = files.keys().filter(|p| **p == space_json).collect();
    order.extend(files.keys().filter(|p| **p != space_json));
    let (mut n, mut bytes, mut skipped) = (0, 0, 0);
    for p in order {
        safe_relative_path(p)?;
        let d = &files[p];
        let e = IndexEntry::new(d.size, d.sha256.as_str());
        let local = dir.join(p);
        if tokio::fs::read(&local).await.is_ok_and(|b| e.matches(&b)) {
            skipped += 1;
            continue;
        }
        let src = from.join(p);
        let b = tokio::fs::read(&src)
            .await
            .map_err(|err| Error::io(src.display().to_string(), err))?;
        write_atomic(&local, &b).await?;
        n += 1;
        bytes += d.size;
    }
    Ok((n, bytes, skipped))
}

/// A path beside `dir` for a folder or file in the making, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn beside(dir: &Path, tag: &str) -> Result<Self> {
        let base = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(base).map_err(|e| Error::io(base.display().to_string(), e))?;
        Ok(Scratch(base.join(format!(
            ".sila-store-{tag}-{}-{}",
            std::process::id(),
            unique()
        ))))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match std::fs::symlink_metadata(&self.0) {
            Ok(m) if m.is_dir() => {
                let _ = std::fs::remove_dir_all(&self.0);
            }
            Ok(_) => {
                let _ = std::fs::remove_file(&self.0);
            }
            Err(_) => {}
        }
    }
}
