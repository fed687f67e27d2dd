//! [`FsStore`]: a [`WorkspaceStore`] in a folder of the local filesystem.
//!
//! * Writes are atomic and durable: a unique hidden temporary file beside the target,
//!   written and `fsync`ed, then renamed over it (or, for [`Precondition::IfAbsent`],
//!   hard-linked to it, which fails if something is there: a no-replace create), and
//!   the folder `fsync`ed.
//! * Appends open the file in append mode and `fdatasync` it (a new file's folder is
//!   `fsync`ed too).
//! * Listing walks the folder under the prefix and reports regular files only (no
//!   symlinks, no temporary files of ours).
//! * Versions are the file's length and modification time: a
//!   [`Precondition::IfVersion`] write is checked and renamed under a lock of this
//!   process, so it is atomic between callers of one process, not between processes
//!   (as Sila's own writes to a folder are not).

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use sila_store_core::store::{
    check_path, ObjectInfo, PartSource, Precondition, StoreError, StoreResult, Version,
    WorkspaceStore,
};

/// The marker in the names of our temporary files (never listed).
const TMP_MARK: &str = ".sila-store-tmp-";

/// A folder holding a workspace (or many, under prefixes).
#[derive(Debug)]
pub struct FsStore {
    root: PathBuf,
    /// Serialises conditional writes within this process.
    conditional: Mutex<()>,
}

impl FsStore {
    /// The store rooted at `root` (created on the first write if missing).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsStore {
            root: root.into(),
            conditional: Mutex::new(()),
        }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn full(&self, path: &str) -> StoreResult<PathBuf> {
        check_path(path)?;
        Ok(self.root.join(path))
    }
}

fn backend<'a>(op: &'static str, path: &'a str) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |e| {
        if e.kind() == ErrorKind::NotFound {
            StoreError::NotFound(path.to_string())
        } else {
            StoreError::backend(op, path, e)
        }
    }
}

fn version_of(meta: &fs::Metadata) -> Version {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    // Every write is a new file (renamed or linked into place), so a new inode: with
    // it, two writes of one length in one mtime tick still differ. (Not ctime: linking
    // and unlinking the temporary name change it after the write.)
    #[cfg(unix)]
    let ino = {
        use std::os::unix::fs::MetadataExt;
        format!("-{}", meta.ino())
    };
    #[cfg(not(unix))]
    let ino = String::new();
    Version(format!("{}-{mtime}{ino}", meta.len()))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn temp_name(target: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(
        ".{name}{TMP_MARK}{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Removes the temporary file when dropped (after a failure or a hard link).
struct Temp(PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Whether a file (not a symlink, not a folder) is at `p`.
fn regular_meta(p: &Path) -> std::io::Result<Option<fs::Metadata>> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.file_type().is_file() => Ok(Some(m)),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn walk(dir: &Path, rel: &str, prefix: &str, out: &mut Vec<ObjectInfo>) -> std::io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.contains(TMP_MARK) {
            continue;
        }
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let ty = entry.file_type()?;
        if ty.is_dir() {
            if prefix.starts_with(&format!("{path}/")) || path.starts_with(prefix) {
                walk(&entry.path(), &path, prefix, out)?;
            }
        } else if ty.is_file() && path.starts_with(prefix) {
            let meta = entry.metadata()?;
            let modified_ms = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as u64);
            out.push(ObjectInfo {
                size: Some(meta.len()),
                modified_ms,
                path,
            });
        }
    }
    Ok(())
}

impl FsStore {
    /// Writes a temporary file with `fill`, syncs it, and puts it at `path` if
    /// `condition` holds (a reader sees the old or the new file, never a mix).
    fn write_with(
        &self,
        path: &str,
        condition: Precondition,
        fill: impl FnOnce(&mut File) -> std::io::Result<()>,
    ) -> StoreResult<Version> {
        let full = self.full(path)?;
        let dir = full.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir).map_err(backend("write", path))?;
        let tmp = Temp(temp_name(&full));
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp.0)
            .map_err(backend("write", path))?;
        fill(&mut f)
            .and_then(|()| f.sync_all())
            .map_err(backend("write", path))?;
        drop(f);
        match condition {
            Precondition::IfAbsent => match fs::hard_link(&tmp.0, &full) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    return Err(StoreError::PreconditionFailed(path.to_string()))
                }
                Err(e) => return Err(StoreError::backend("write", path, e)),
            },
            Precondition::None => fs::rename(&tmp.0, &full).map_err(backend("write", path))?,
            Precondition::IfVersion(want) => {
                let _guard = self
                    .conditional
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let have = regular_meta(&full)
                    .map_err(backend("write", path))?
                    .map(|m| version_of(&m));
                if have.as_ref() != Some(&want) {
                    return Err(StoreError::PreconditionFailed(path.to_string()));
                }
                fs::rename(&tmp.0, &full).map_err(backend("write", path))?;
            }
        }
        sync_dir(&dir).map_err(backend("write", path))?;
        let meta = fs::metadata(&full).map_err(backend("write", path))?;
        Ok(version_of(&meta))
    }
}

#[async_trait::async_trait]
impl WorkspaceStore for FsStore {
    async fn list(&self, prefix: &str) -> StoreResult<Vec<ObjectInfo>> {
        check_path(prefix)?;
        // Start at the deepest folder the prefix names.
        let start = prefix.rfind('/').map_or("", |i| &prefix[..i]);
        let mut out = Vec::new();
        walk(&self.root.join(start), start, prefix, &mut out)
            .map_err(|e| StoreError::backend("list", prefix, e))?;
        Ok(out)
    }

    async fn read(&self, path: &str) -> StoreResult<Option<(Vec<u8>, Version)>> {
        let full = self.full(path)?;
        let mut f = match File::open(&full) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::backend("read", path, e)),
        };
        let meta = f.metadata().map_err(backend("read", path))?;
        if !meta.is_file() {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        f.read_to_end(&mut bytes).map_err(backend("read", path))?;
        Ok(Some((bytes, version_of(&meta))))
    }

    async fn read_range(&self, path: &str, offset: u64, len: u64) -> StoreResult<Vec<u8>> {
        let full = self.full(path)?;
        let mut f = File::open(&full).map_err(backend("read", path))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(backend("read", path))?;
        let mut bytes = Vec::new();
        f.take(len)
            .read_to_end(&mut bytes)
            .map_err(backend("read", path))?;
        Ok(bytes)
    }

    async fn size(&self, path: &str) -> StoreResult<Option<u64>> {
        let full = self.full(path)?;
        Ok(regular_meta(&full)
            .map_err(backend("stat", path))?
            .map(|m| m.len()))
    }

    async fn write(
        &self,
        path: &str,
        bytes: Vec<u8>,
        condition: Precondition,
    ) -> StoreResult<Version> {
        self.write_with(path, condition, |f| f.write_all(&bytes))
    }

    async fn write_parts(
        &self,
        path: &str,
        parts: &mut dyn PartSource,
        condition: Precondition,
    ) -> StoreResult<Version> {
        self.write_with(path, condition, |f| {
            while let Some(p) = parts.next_part().map_err(std::io::Error::other)? {
                f.write_all(&p)?;
            }
            Ok(())
        })
    }

    async fn append(&self, path: &str, bytes: &[u8]) -> StoreResult<()> {
        let full = self.full(path)?;
        let dir = full.parent().unwrap_or(&self.root).to_path_buf();
        let existed = full.exists();
        if !existed {
            fs::create_dir_all(&dir).map_err(backend("append", path))?;
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&full)
            .map_err(backend("append", path))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_data())
            .map_err(backend("append", path))?;
        if !existed {
            sync_dir(&dir).map_err(backend("append", path))?;
        }
        Ok(())
    }

    async fn delete_many(&self, paths: &[String]) -> StoreResult<()> {
        for p in paths {
            let full = self.full(p)?;
            match fs::remove_file(&full) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::backend("delete", p, e)),
            }
        }
        Ok(())
    }
}
