//! The plain layout on the native filesystem: a workspace folder read as entries and
//! written from them.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sila_store_core::entries::{
    check_unique, operations_of, Content, EntryMeta, EntrySink, EntrySource, Operation,
};
use sila_store_core::ids::{Day, TreeId};
use sila_store_core::layout::SPACE_DIR;
use sila_store_core::{Error, Result};

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| Error::io(path.display().to_string(), e)
}

/// A workspace folder (the folder holding `space-v1/`), read as entries.
pub struct PlainSource {
    root: PathBuf,
}

impl PlainSource {
    /// Opens the workspace at `root`. Like Sila, it also accepts the `space-v1`
    /// folder itself. An empty folder, or one without `space-v1/`, is refused.
    pub fn open(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            return Err(Error::NotAWorkspace(format!(
                "{} is not a folder",
                root.display()
            )));
        }
        if root.join(SPACE_DIR).is_dir() {
            return Ok(PlainSource {
                root: root.to_path_buf(),
            });
        }
        let named_space = root.file_name().and_then(|n| n.to_str()) == Some(SPACE_DIR);
        if let (true, Some(parent)) = (named_space, root.parent()) {
            return Ok(PlainSource {
                root: parent.to_path_buf(),
            });
        }
        Err(Error::NotAWorkspace(format!(
            "{} has no {SPACE_DIR}/ folder",
            root.display()
        )))
    }

    /// The workspace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn walk(&self, dir: &Path, rel: &str, out: &mut Vec<EntryMeta>) -> Result<()> {
        let mut items: Vec<fs::DirEntry> = fs::read_dir(dir)
            .map_err(io_err(dir))?
            .collect::<io::Result<_>>()
            .map_err(io_err(dir))?;
        items.sort_by_key(|e| e.file_name());
        for item in items {
            let name = item.file_name();
            let name = name.to_str().ok_or_else(|| Error::UnsafePath {
                path: format!("{rel}{}", name.to_string_lossy()),
                reason: "file name is not UTF-8",
            })?;
            let path = format!("{rel}{name}");
            let meta = fs::symlink_metadata(item.path()).map_err(io_err(&item.path()))?;
            if meta.file_type().is_symlink() {
                return Err(Error::UnsafePath {
                    path,
                    reason: "symbolic link",
                });
            }
            if meta.is_dir() {
                self.walk(&item.path(), &format!("{path}/"), out)?;
            } else if meta.is_file() {
                out.push(EntryMeta::new(&path, meta.len(), None)?);
            } else {
                return Err(Error::UnsafePath {
                    path,
                    reason: "not a regular file or folder",
                });
            }
        }
        Ok(())
    }
}

impl EntrySource for PlainSource {
    fn format(&self) -> &'static str {
        "plain"
    }

    fn entries(&mut self) -> Result<Vec<EntryMeta>> {
        let mut out = Vec::new();
        let root = self.root.clone();
        self.walk(&root, "", &mut out)?;
        out.sort_by(|a, b| a.path.cmp(&b.path));
        check_unique(&out)?;
        Ok(out)
    }

    /// Lists only the tree's own folder (`space-v1/ops/<t[0..2]>/<t[2..]>/`), as Sila's
    /// `loadAllTreeOps` does, instead of the whole workspace.
    fn get_operations(
        &mut self,
        tree: &TreeId,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Vec<Operation>> {
        let t = tree.as_str();
        let (a, b) = (t.get(..2).unwrap_or(t), t.get(2..).unwrap_or(""));
        let rel = format!("{SPACE_DIR}/ops/{a}/{b}/");
        let dir = self.root.join(&rel);
        let mut entries = Vec::new();
        if dir.is_dir() {
            self.walk(&dir, &rel, &mut entries)?;
        }
        operations_of(self, entries, tree, from, to)
    }

    fn open<'s>(&'s mut self, entry: &EntryMeta) -> Result<Box<dyn Read + 's>> {
        let p = self.root.join(&entry.path);
        Ok(Box::new(io::BufReader::with_capacity(
            1 << 16,
            File::open(&p).map_err(io_err(&p))?,
        )))
    }
}

/// Writes a workspace folder. The folder must not exist; every file is created new
/// and synced to disk.
pub struct PlainSink {
    root: PathBuf,
    dirs: std::collections::BTreeSet<PathBuf>,
}

impl PlainSink {
    /// Creates the (new) folder `root`.
    pub fn create(root: &Path) -> Result<Self> {
        fs::create_dir(root).map_err(io_err(root))?;
        Ok(PlainSink {
            root: root.to_path_buf(),
            dirs: Default::default(),
        })
    }
}

impl EntrySink for PlainSink {
    fn put(&mut self, entry: &EntryMeta, content: Content<'_>) -> Result<()> {
        // Checked when the entry was classified; checked again since fields are public.
        sila_store_core::layout::safe_relative_path(&entry.path)?;
        let p = self.root.join(&entry.path);
        if let Some(parent) = p.parent() {
            if !self.dirs.contains(parent) {
                fs::create_dir_all(parent).map_err(io_err(parent))?;
                let mut d = parent;
                while d != self.root && self.dirs.insert(d.to_path_buf()) {
                    d = d.parent().unwrap_or(&self.root);
                }
            }
        }
        let mut f = File::create_new(&p).map_err(io_err(&p))?;
        match content {
            Content::Ops { bytes, .. } => f.write_all(bytes).map_err(io_err(&p))?,
            Content::Stream(r) => {
                let mut w = io::BufWriter::with_capacity(1 << 16, &mut f);
                io::copy(r, &mut w).map_err(io_err(&p))?;
                w.flush().map_err(io_err(&p))?;
            }
        }
        f.sync_all().map_err(io_err(&p))?;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        // Deepest folders first, then the root.
        for d in self.dirs.iter().rev() {
            sync_dir(d)?;
        }
        sync_dir(&self.root)
    }
}

/// Syncs a folder's entries to disk (a no-op where folders cannot be opened).
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Moves `from` (a file or a folder) to `to` only if nothing is at `to`: an
/// `AlreadyExists` error otherwise, whatever appeared there meanwhile, and `from` is
/// left in place.
///
/// Linux: `renameat2(RENAME_NOREPLACE)`, atomic. Where the file system or the kernel
/// lacks it (and elsewhere): a file is hard-linked to `to` (which fails if `to` exists)
/// and then unlinked; a folder, or a file on a file system without hard links, first
/// claims `to` with an exclusive create (an empty folder, or an empty file) and is then
/// renamed over that claim. Something written into the claimed folder in between makes
/// the rename fail rather than be replaced.
pub fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    match renameat2_no_replace(from, to) {
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EINVAL | libc::ENOSYS | libc::ENOTSUP)
            ) => {}
        other => return other,
    }
    rename_no_replace_portable(from, to)
}

/// [`rename_no_replace`] without `renameat2`: a file is hard-linked to `to` and
/// unlinked; a folder (or a file where hard links fail) first claims `to` with an
/// exclusive create, then is renamed over the empty claim.
#[doc(hidden)]
pub fn rename_no_replace_portable(from: &Path, to: &Path) -> io::Result<()> {
    let is_dir = fs::symlink_metadata(from)?.is_dir();
    if !is_dir {
        match fs::hard_link(from, to) {
            Ok(()) => return fs::remove_file(from),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
            Err(_) => {}
        }
    }
    // Claim the name, then rename over the (empty) claim.
    if is_dir {
        fs::create_dir(to)?;
    } else {
        File::create_new(to)?;
    }
    fs::rename(from, to).inspect_err(|_| {
        let _ = if is_dir {
            fs::remove_dir(to)
        } else {
            fs::remove_file(to)
        };
    })
}

#[cfg(target_os = "linux")]
fn renameat2_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))
    };
    let (from, to) = (c(from)?, c(to)?);
    // SAFETY: both paths are NUL-terminated C strings that live across the call;
    // AT_FDCWD makes them relative to the working directory, as `fs::rename` does.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
