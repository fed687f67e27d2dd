//! An archive in one file the host opened ([`RandomAccess`]): read as a source,
//! written from one, converted to another file, all a page or an entry at a time, so
//! memory stays bounded whatever the archive's size (the largest entry is the most
//! held at once). The same checks as every conversion: each entry's size and hash as
//! it passes, then the written file read back and compared with the source.

use core::future::Future;
use std::io::BufWriter;

use futures_util::FutureExt;

use super::sqlite::{FileDb, SqliteSink, SqliteSource};
use super::zip::{ZipSink, ZipSource};
use crate::convert::{compare_source, copy_all};
use crate::entries::{EntrySink, EntrySource, Listing, Progress};
use crate::error::{Error, Result};
use crate::random_access::{require_empty, FileCursor, FileReader, RandomAccess};

/// Bytes buffered between a ZIP reader or writer and the host's file (one host call
/// per buffer, not per header field).
const BUFFER: usize = 256 << 10;

/// The format of an archive file from its first bytes: `"sqlite"` or `"zip"`.
pub fn format_of(file: &mut dyn RandomAccess) -> Result<&'static str> {
    let mut head = [0u8; 16];
    let n = file
        .read_at(&mut head, 0)
        .map_err(|e| Error::io("the source file", e))?;
    if n == 0 {
        return Err(Error::NotAnArchive {
            format: "SQLite or ZIP",
            reason: "the file is empty".into(),
        });
    }
    super::sniff(&head[..n]).ok_or_else(|| {
        Error::NotAWorkspace("the file is neither a SQLite archive nor a ZIP archive".into())
    })
}

/// Runs `f` on the archive in `file` (SQLite or ZIP, from its first bytes), read as
/// untrusted input.
pub fn with_source<T>(
    file: Box<dyn RandomAccess>,
    f: impl FnOnce(&mut dyn EntrySource) -> Result<T>,
) -> Result<T> {
    ready(with_source_async(file, async move |s| f(s)))
}

/// The output of `fut`, which never waits: the async forms over a closure that does not
/// await are how the synchronous ones run, so each is written once.
fn ready<T>(fut: impl Future<Output = Result<T>>) -> Result<T> {
    fut.now_or_never()
        .unwrap_or_else(|| Err(Error::Backend("synchronous archive work waited".into())))
}

/// [`with_source`] for work that awaits between entries (writing them to a store).
pub async fn with_source_async<T>(
    mut file: Box<dyn RandomAccess>,
    f: impl AsyncFnOnce(&mut dyn EntrySource) -> Result<T>,
) -> Result<T> {
    match format_of(&mut *file)? {
        "sqlite" => {
            let db = FileDb::open(file)?;
            let r = match SqliteSource::new(db.conn()?) {
                Ok(mut s) => f(&mut s).await,
                Err(e) => Err(e),
            };
            db.check(r)
        }
        _ => {
            let mut s = ZipSource::new(FileReader::new(file, BUFFER))?;
            f(&mut s).await
        }
    }
}

/// A host's file behind a write buffer.
type Buffered = BufWriter<FileCursor<Box<dyn RandomAccess>>>;

/// An archive being written into a host's file.
enum Writer {
    Sqlite(FileDb),
    Zip(Box<ZipSink<Buffered>>),
}

impl Writer {
    /// Starts an archive `to` (`"sqlite"` or `"zip"`) in `file`, which must be empty
    /// (nothing is ever replaced).
    fn new(mut file: Box<dyn RandomAccess>, to: &str) -> Result<Self> {
        match to {
            "sqlite" => Ok(Writer::Sqlite(FileDb::create(file)?)),
            "zip" => {
                require_empty(&mut *file)?;
                Ok(Writer::Zip(Box::new(ZipSink::new(
                    BufWriter::with_capacity(BUFFER, FileCursor::new(file)),
                ))))
            }
            other => Err(Error::InvalidArgument(format!(
                "{other:?} is not an archive format (sqlite or zip)"
            ))),
        }
    }

    /// Finishes the archive, makes it durable and hands the file back.
    fn finish(self) -> Result<Box<dyn RandomAccess>> {
        match self {
            Writer::Sqlite(db) => db.close(),
            Writer::Zip(sink) => {
                let mut file = sink
                    .into_inner()?
                    .into_inner()
                    .map_err(|e| Error::io("the destination file", e.into_error()))?
                    .into_inner();
                file.sync()
                    .map_err(|e| Error::io("the destination file", e))?;
                Ok(file)
            }
        }
    }
}

/// Writes an archive `to` (`"sqlite"` or `"zip"`) into `file`, which must be empty:
/// `f` puts the entries into the sink, which is then finished and the file made
/// durable. Returns what `f` returned and the file.
pub fn write_archive<T>(
    file: Box<dyn RandomAccess>,
    to: &str,
    source_format: &str,
    f: impl FnOnce(&mut dyn EntrySink) -> Result<T>,
) -> Result<(T, Box<dyn RandomAccess>)> {
    ready(write_archive_async(
        file,
        to,
        source_format,
        async move |s| f(s),
    ))
}

/// [`write_archive`] with entries that arrive asynchronously (read from a store).
pub async fn write_archive_async<T>(
    file: Box<dyn RandomAccess>,
    to: &str,
    source_format: &str,
    f: impl AsyncFnOnce(&mut dyn EntrySink) -> Result<T>,
) -> Result<(T, Box<dyn RandomAccess>)> {
    let mut w = Writer::new(file, to)?;
    let out = match &mut w {
        Writer::Sqlite(db) => {
            let r = match SqliteSink::new(db.conn()?, source_format) {
                Ok(mut s) => match f(&mut s).await {
                    Ok(out) => s.finish().map(|()| out),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            db.check(r)?
        }
        Writer::Zip(sink) => {
            let out = f(&mut **sink).await?;
            sink.finish()?;
            out
        }
    };
    Ok((out, w.finish()?))
}

/// Reads the archive in `file` back and checks it holds exactly `written`.
pub fn verify_written(
    file: Box<dyn RandomAccess>,
    written: &Listing,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<()> {
    with_source(file, |s| compare_source(written, s, progress))
}

/// Converts the archive in `src` to `to` (`"sqlite"` or `"zip"`) in `dst`, which must
/// be empty, and verifies the result. Returns the listing of the workspace.
pub fn convert_file(
    src: Box<dyn RandomAccess>,
    dst: Box<dyn RandomAccess>,
    to: &str,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Listing> {
    let (written, dst) = with_source(src, |source| {
        let format = source.format();
        write_archive(dst, to, format, |sink| copy_all(source, sink, progress))
    })?;
    verify_written(dst, &written, progress)?;
    Ok(written)
}
