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

/// Writes a workspace folder. The folder must not exist; every file is created new.
///
/// Files are written by a few worker threads while the caller reads the next entries
/// (a file up to [`BATCH_FILE`] is handed over whole, a bigger one is written by the
/// caller as it streams; at most [`QUEUE`] files wait, so memory stays bounded), and
/// made durable once, in [`EntrySink::finish`], not one `fsync` per file on the
/// critical path: on Linux one `syncfs` of the file system (data and metadata of
/// everything written), elsewhere an `fsync` of every file, then of every folder.
/// The caller moves the finished folder into place only after `finish` returned, so
/// the destination appears complete and durable, or not at all.
pub struct PlainSink {
    root: PathBuf,
    dirs: std::collections::BTreeSet<PathBuf>,
    /// Files written, for the `fsync` pass where `syncfs` is not available.
    #[cfg(not(target_os = "linux"))]
    files: Vec<PathBuf>,
    writers: Option<Writers>,
    /// Whether `finish` ran (no more files are taken).
    finished: bool,
}

/// Largest file handed to the writer threads whole.
pub const BATCH_FILE: usize = 4 << 20;
/// Files that may wait for a writer thread.
pub const QUEUE: usize = 16;
/// Stack of a writer thread: it only copies a buffer to a file.
const WRITER_STACK: usize = 128 << 10;

/// The writer threads and the first error one of them met.
struct Writers {
    jobs: Option<std::sync::mpsc::SyncSender<(PathBuf, Vec<u8>)>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    error: std::sync::Arc<std::sync::Mutex<Option<Error>>>,
}

impl Writers {
    /// Starts up to `n` writers. A thread that cannot be started (a process under an
    /// address-space or thread limit) is not an error: fewer writers, or none, and
    /// [`PlainSink`] writes the files itself.
    fn start(n: usize) -> Option<Self> {
        use std::sync::{mpsc, Arc, Mutex};
        let (tx, rx) = mpsc::sync_channel::<(PathBuf, Vec<u8>)>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let error: Arc<Mutex<Option<Error>>> = Arc::default();
        let mut threads = Vec::with_capacity(n);
        for _ in 0..n {
            let (rx, error) = (Arc::clone(&rx), Arc::clone(&error));
            let spawned = std::thread::Builder::new()
                .name("sila-store-writer".into())
                .stack_size(WRITER_STACK)
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((path, bytes)) = job else { return };
                    if let Err(e) = write_new(&path, &bytes) {
                        if let Ok(mut slot) = error.lock() {
                            slot.get_or_insert(e);
                        }
                    }
                });
            match spawned {
                Ok(t) => threads.push(t),
                Err(_) => break,
            }
        }
        if threads.is_empty() {
            return None;
        }
        Some(Writers {
            jobs: Some(tx),
            threads,
            error,
        })
    }

    /// The first error a writer met, if any (taken).
    fn failed(&self) -> Option<Error> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }

    fn send(&self, path: PathBuf, bytes: Vec<u8>) -> Result<()> {
        if let Some(e) = self.failed() {
            return Err(e);
        }
        let gone = || {
            Error::io(
                path.display().to_string(),
                io::Error::other("writer stopped"),
            )
        };
        match &self.jobs {
            Some(tx) => tx.send((path.clone(), bytes)).map_err(|_| gone()),
            None => Err(gone()),
        }
    }

    /// Waits for every queued file; the first error met, if any.
    fn join(mut self) -> Result<()> {
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        match self.failed() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Writers {
    fn drop(&mut self) {
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Address space below which [`PlainSink`] starts no writer threads.
const TIGHT_ADDRESS_SPACE: u64 = 1 << 30;

/// Whether the process runs under an address-space limit (`ulimit -v`) below
/// [`TIGHT_ADDRESS_SPACE`]. There every thread that allocates costs a malloc arena
/// of up to 64 MiB of address space (glibc), which the limit counts though it is
/// not memory: a few writer threads would leave the reader too little room.
#[cfg(unix)]
fn address_space_is_tight() -> bool {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the duration of the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } != 0 {
        return false;
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every unix
    let cur = lim.rlim_cur as u64;
    lim.rlim_cur != libc::RLIM_INFINITY && cur < TIGHT_ADDRESS_SPACE
}

/// Whether the process runs under a tight address-space limit (never, here).
#[cfg(not(unix))]
fn address_space_is_tight() -> bool {
    false
}

/// Creates `path` (which must not exist) holding `bytes`.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    File::create_new(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(io_err(path))
}

/// Reads `r` until `buf` holds `limit` bytes or `r` ends; whether it ended.
fn fill(r: &mut dyn Read, buf: &mut Vec<u8>, limit: usize) -> io::Result<bool> {
    let n = r.take(limit as u64 + 1).read_to_end(buf)?;
    Ok(n <= limit)
}

impl PlainSink {
    /// Creates the (new) folder `root`.
    pub fn create(root: &Path) -> Result<Self> {
        fs::create_dir(root).map_err(io_err(root))?;
        let threads = if address_space_is_tight() {
            0
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4))
        };
        Ok(PlainSink {
            root: root.to_path_buf(),
            dirs: Default::default(),
            #[cfg(not(target_os = "linux"))]
            files: Vec::new(),
            writers: Writers::start(threads),
            finished: false,
        })
    }

    /// Writes the new file `path` through a writer thread, or here when there is none.
    fn write(&self, path: PathBuf, bytes: Vec<u8>) -> Result<()> {
        match &self.writers {
            Some(w) => w.send(path, bytes),
            None => write_new(&path, &bytes),
        }
    }
}

impl EntrySink for PlainSink {
    fn put(&mut self, entry: &EntryMeta, content: Content<'_>) -> Result<()> {
        if self.finished {
            return Err(Error::InvalidArgument(
                "the folder is already finished".into(),
            ));
        }
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
        #[cfg(not(target_os = "linux"))]
        self.files.push(p.clone());
        match content {
            // A big ops file is written here rather than copied for a writer.
            Content::Ops { bytes, .. } if bytes.len() > BATCH_FILE => write_new(&p, bytes),
            Content::Ops { bytes, .. } => self.write(p, bytes.to_vec()),
            Content::Stream(r) => {
                let mut buf = Vec::new();
                if fill(r, &mut buf, BATCH_FILE).map_err(io_err(&p))? {
                    return self.write(p, buf);
                }
                // A big file: written here, as it streams.
                let mut f = File::create_new(&p).map_err(io_err(&p))?;
                f.write_all(&buf).map_err(io_err(&p))?;
                drop(buf);
                let mut w = io::BufWriter::with_capacity(1 << 20, &mut f);
                io::copy(r, &mut w).map_err(io_err(&p))?;
                w.flush().map_err(io_err(&p))
            }
        }
    }

    fn finish(&mut self) -> Result<()> {
        self.finished = true;
        if let Some(w) = self.writers.take() {
            w.join()?;
        }
        sync_tree(self)
    }
}

/// Makes everything a [`PlainSink`] wrote durable: one `syncfs` of the file system.
#[cfg(target_os = "linux")]
fn sync_tree(sink: &PlainSink) -> Result<()> {
    use std::os::fd::AsRawFd;
    let root = File::open(&sink.root).map_err(io_err(&sink.root))?;
    // SAFETY: `root` is an open file descriptor for the duration of the call.
    if unsafe { libc::syncfs(root.as_raw_fd()) } != 0 {
        return Err(io_err(&sink.root)(io::Error::last_os_error()));
    }
    Ok(())
}

/// Makes everything a [`PlainSink`] wrote durable: every file, then every folder
/// (deepest first), then the root.
#[cfg(not(target_os = "linux"))]
fn sync_tree(sink: &PlainSink) -> Result<()> {
    for f in &sink.files {
        File::open(f)
            .and_then(|f| f.sync_all())
            .map_err(io_err(f))?;
    }
    for d in sink.dirs.iter().rev() {
        sync_dir(d)?;
    }
    sync_dir(&sink.root)
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
