//! Opening a workspace path in whatever format it is, and converting between paths
//! safely: write to a temporary name beside the destination, read it back and compare
//! every file's hash with the source, then move it into place.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;
use sila_store_core::archive::sqlite::{SqliteSink, SqliteSource};
use sila_store_core::archive::zip::{ZipSink, ZipSource};
use sila_store_core::convert::{compare, copy_all};
use sila_store_core::entries::{listing, EntrySource, Progress};
use sila_store_core::{Error, Result};

use crate::fs::{rename_no_replace, sync_dir, PlainSink, PlainSource};

/// The three workspace formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A workspace folder.
    Plain,
    /// A SQLite archive (`*.db`, `*.sqlite`).
    Sqlite,
    /// A ZIP archive (`*.zip`).
    Zip,
}

impl Format {
    /// `plain`, `sqlite` or `zip`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Plain => "plain",
            Format::Sqlite => "sqlite",
            Format::Zip => "zip",
        }
    }

    /// The format a destination path asks for: `*.db`, `*.sqlite`, `*.sqlite3` is
    /// SQLite, `*.zip` is ZIP, anything else a folder.
    pub fn for_destination(path: &Path) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("db" | "sqlite" | "sqlite3") => Format::Sqlite,
            Some("zip") => Format::Zip,
            _ => Format::Plain,
        }
    }

    /// The format a new destination asks for ([`Format::for_destination`]), refusing a
    /// name that ends in a file extension naming no format (`out.txt`, `ws.json`: a
    /// mistake, not a folder), unless it is an existing folder. A file extension here
    /// is 1–4 ASCII letters and digits with a letter; folder names such as
    /// `backup.2026-03-10`, `my.space` or `ws.zip-back` stay folders.
    pub fn for_new_destination(path: &Path) -> Result<Format> {
        let format = Format::for_destination(path);
        let file_like = |e: &str| {
            (1..=4).contains(&e.len())
                && e.bytes().all(|b| b.is_ascii_alphanumeric())
                && e.bytes().any(|b| b.is_ascii_alphabetic())
        };
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if format == Format::Plain && file_like(ext) && !path.is_dir() => {
                Err(Error::InvalidArgument(format!(
                    "{}: .{ext} names no format; DST is a folder (no extension, or a folder that exists), *.db, *.sqlite or *.sqlite3 (a SQLite archive) or *.zip (a ZIP archive)",
                    path.display()
                )))
            }
            _ => Ok(format),
        }
    }

    /// The format of an existing path: a folder is plain; a file is told by its first
    /// bytes (SQLite header, ZIP signature), else by its extension.
    pub fn detect(path: &Path) -> Result<Format> {
        let meta = fs::metadata(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::NotFound(path.display().to_string()),
            _ => Error::io(path.display().to_string(), e),
        })?;
        if meta.is_dir() {
            return Ok(Format::Plain);
        }
        let mut head = [0u8; 16];
        let n = File::open(path)
            .and_then(|mut f| f.read(&mut head))
            .map_err(|e| Error::io(path.display().to_string(), e))?;
        let head = &head[..n];
        if head.starts_with(b"SQLite format 3\0") {
            return Ok(Format::Sqlite);
        }
        if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            return Ok(Format::Zip);
        }
        match Format::for_destination(path) {
            Format::Sqlite => Ok(Format::Sqlite),
            Format::Zip => Ok(Format::Zip),
            Format::Plain => Err(Error::NotAWorkspace(format!(
                "{} is neither a folder, a SQLite archive nor a ZIP archive",
                path.display()
            ))),
        }
    }
}

/// Opens the workspace at `path` (any format) read-only and runs `f` on it.
pub fn with_source<T>(path: &Path, f: impl FnOnce(&mut dyn EntrySource) -> Result<T>) -> Result<T> {
    match Format::detect(path)? {
        Format::Plain => match archived_in_place(path) {
            Some(db) => with_source(&db, f),
            None => f(&mut PlainSource::open(path)?),
        },
        Format::Sqlite => {
            let conn = open_sqlite_read_only(path)?;
            f(&mut SqliteSource::new(&conn)?)
        }
        Format::Zip => {
            let file = File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
            f(&mut ZipSource::new(BufReader::with_capacity(
                1 << 16,
                file,
            ))?)
        }
    }
}

/// The archive of a folder whose workspace is archived in place (`Workspace.archive`,
/// the core's `SpaceStorage::archive`), if it holds one: while it exists, it is the
/// workspace (files beside it are what an interrupted run left).
pub fn archived_in_place(folder: &Path) -> Option<PathBuf> {
    let db = folder.join(sila_store_core::storage::ARCHIVE_PATH);
    db.is_file().then_some(db)
}

/// Opens a SQLite archive as untrusted input: read-only and immutable (nothing is
/// ever written beside it), limits lowered, work bounded
/// ([`sila_store_core::archive::sqlite::open_untrusted`]).
pub fn open_sqlite_read_only(path: &Path) -> Result<Connection> {
    sila_store_core::archive::sqlite::open_untrusted(path)
}

/// Options of [`convert`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ConvertOptions {
    /// Replace an existing destination.
    pub force: bool,
}

/// What a conversion did.
#[derive(Clone, Debug, serde::Serialize, uniffi::Record)]
#[serde(rename_all = "camelCase")]
pub struct ConvertReport {
    /// Source format (`plain`, `sqlite`, `zip`).
    pub from_format: String,
    /// Destination format.
    pub to_format: String,
    /// Files converted.
    pub files: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// Size of the result on disk (the archive file, or the folder's files).
    pub output_bytes: u64,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary path beside `dst` that is removed on drop unless kept.
struct TempPath {
    path: PathBuf,
    keep: bool,
}

impl TempPath {
    fn beside(dst: &Path, tag: &str) -> Result<Self> {
        let name = dst
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::InvalidArgument(format!("{} has no file name", dst.display())))?;
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dst.with_file_name(format!(
            ".{name}.sila-store-{tag}-{}-{n}",
            std::process::id()
        ));
        Ok(TempPath { path, keep: false })
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if !self.keep {
            let _ = remove_any(&self.path);
        }
    }
}

fn remove_any(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn disk_size(p: &Path) -> u64 {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::read_dir(p)
            .map(|rd| rd.flatten().map(|e| disk_size(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// Converts the workspace at `src` (any format) to `dst` (format from its name).
///
/// The result is written to a temporary name beside `dst`, read back in full and
/// compared file by file (size and SHA-256) with what was read from `src`, checked
/// for container integrity, and only then moved into place. `src` is only read.
/// On any error nothing exists at `dst` that did not before.
pub fn convert(
    src: &Path,
    dst: &Path,
    opts: ConvertOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<ConvertReport> {
    let from = Format::detect(src)?;
    let to = Format::for_new_destination(dst)?;
    check_apart(src, dst)?;
    let dst_exists = fs::symlink_metadata(dst).is_ok();
    if dst_exists && !opts.force {
        return Err(Error::AlreadyExists(dst.display().to_string()));
    }
    let tmp = TempPath::beside(dst, "tmp")?;
    let expected = with_source(src, |source| write_to(source, &tmp.path, to, progress))?;
    // Read the result back: every entry re-hashed and compared with the source.
    let actual = with_source(&tmp.path, |result| {
        let problems = result.check_container()?;
        if let Some(p) = problems.into_iter().next() {
            return Err(Error::Corrupt {
                format: "result",
                reason: p,
            });
        }
        listing(result, &mut |p| {
            progress(Progress {
                phase: "verifying",
                ..p
            })
        })
    })?;
    compare(&expected, &actual)?;
    replace(&tmp, dst, opts.force)?;
    let mut tmp = tmp;
    tmp.keep = true;
    Ok(ConvertReport {
        from_format: from.name().to_string(),
        to_format: to.name().to_string(),
        files: expected.len() as u64,
        bytes: expected.values().map(|d| d.size).sum(),
        output_bytes: disk_size(dst),
    })
}

/// Refuses a destination that is the source, lies inside it (writing there would
/// change the source) or contains it (replacing it would delete the source).
fn check_apart(src: &Path, dst: &Path) -> Result<()> {
    let src = src
        .canonicalize()
        .map_err(|e| Error::io(src.display().to_string(), e))?;
    // The destination may not exist yet: resolve its parent instead.
    let dst = match dst.canonicalize() {
        Ok(d) => d,
        Err(_) => match (dst.parent(), dst.file_name()) {
            (Some(p), Some(name)) => {
                let p = if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                };
                p.canonicalize()
                    .map_err(|e| Error::io(p.display().to_string(), e))?
                    .join(name)
            }
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "bad destination {}",
                    dst.display()
                )))
            }
        },
    };
    if src == dst || dst.starts_with(&src) || src.starts_with(&dst) {
        return Err(Error::InvalidArgument(format!(
            "{} and {} overlap: the destination may not be, contain or lie inside the source",
            src.display(),
            dst.display()
        )));
    }
    Ok(())
}

fn write_to(
    source: &mut dyn EntrySource,
    out: &Path,
    to: Format,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<sila_store_core::entries::Listing> {
    let io_err = |e| Error::io(out.display().to_string(), e);
    match to {
        Format::Plain => {
            let mut sink = PlainSink::create(out)?;
            copy_all(source, &mut sink, progress)
        }
        Format::Sqlite => {
            let listing = {
                let conn = Connection::open(out)?;
                let mut sink = SqliteSink::new(&conn, source.format())?;
                let l = copy_all(source, &mut sink, progress)?;
                drop(sink);
                conn.close().map_err(|(_, e)| Error::from(e))?;
                l
            };
            File::open(out).and_then(|f| f.sync_all()).map_err(io_err)?;
            Ok(listing)
        }
        Format::Zip => {
            let file = File::create_new(out).map_err(io_err)?;
            let mut sink = ZipSink::new(BufWriter::with_capacity(1 << 16, file));
            let l = copy_all(source, &mut sink, progress)?;
            let mut w = sink.into_inner()?;
            w.flush().map_err(io_err)?;
            w.get_ref().sync_all().map_err(io_err)?;
            Ok(l)
        }
    }
}

/// Moves `tmp` to `dst`. Without `force` nothing at `dst` is replaced, not even what
/// appeared there while converting (`AlreadyExists`, and `tmp` is deleted). With
/// `force` what is there is replaced (kept aside until the move is done).
fn replace(tmp: &TempPath, dst: &Path, force: bool) -> Result<()> {
    let err = |e| Error::io(dst.display().to_string(), e);
    if !force {
        rename_no_replace(&tmp.path, dst).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                Error::AlreadyExists(dst.display().to_string())
            } else {
                err(e)
            }
        })?;
    } else if fs::symlink_metadata(dst).is_ok() {
        let old = TempPath::beside(dst, "old")?;
        fs::rename(dst, &old.path).map_err(err)?;
        if let Err(e) = fs::rename(&tmp.path, dst) {
            let _ = fs::rename(&old.path, dst);
            let mut old = old;
            old.keep = true;
            return Err(err(e));
        }
        drop(old);
    } else {
        fs::rename(&tmp.path, dst).map_err(err)?;
    }
    if let Some(parent) = dst.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent)?;
    }
    Ok(())
}
