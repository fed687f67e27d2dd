//! Reading an archive that is not local, fetching only the pages a query touches.
//!
//! SQLite reads a database through a VFS whose calls are synchronous, while a store's
//! reads are async. [`RangeFile`] is a read-only VFS file over a cache of fixed-size
//! blocks of the archive: a read of a cached block is served; a read of a block not
//! fetched yet fails (`SQLITE_IOERR_READ`) and records which block was wanted. The
//! caller ([`crate::storage`]) then fetches that block (and, when misses run
//! sequentially, the following ones, doubling up to a limit) with one range read and
//! runs its query again on a fresh connection. Every run gets further; the blocks a
//! query needs are fetched once.
//!
//! So reading one blob or one tree's ops from a 1 GB archive reads the pages of that
//! blob or those rows and of the b-tree levels above them, not the archive. The file is
//! opened read-only and immutable (no lock, no journal), and [`harden`](super::harden)ed
//! like any archive from elsewhere.

use std::collections::BTreeMap;
use std::ffi::{c_int, c_void, CStr, CString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{ffi, Connection, OpenFlags};

use super::{harden, vfs, SqlExt, FORMAT};
use crate::error::{Error, Result};

/// Bytes of one cached block.
pub const BLOCK: u64 = 64 << 10;
/// Most blocks fetched by one read (16 MiB), reached by doubling on sequential misses.
const MAX_RUN: u64 = 256;
/// The VFS's name.
const VFS: &CStr = c"sila-store-ranges";

/// What to fetch next: `len` bytes from `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fetch {
    /// Where the range starts.
    pub offset: u64,
    /// How many bytes.
    pub len: u64,
}

#[derive(Default)]
struct Blocks {
    cached: BTreeMap<u64, Vec<u8>>,
    /// The first block a read missed since the last fetch.
    missed: Option<u64>,
    /// The block after the last fetched run, and that run's length in blocks.
    last_end: u64,
    last_run: u64,
    fetched: u64,
}

/// An archive of `size` bytes seen through a block cache (see the module docs).
pub struct RangeFile {
    size: u64,
    name: CString,
    blocks: Mutex<Blocks>,
}

/// Open files by name, for the VFS's `xOpen`.
static FILES: Mutex<BTreeMap<Vec<u8>, std::sync::Weak<RangeFile>>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(0);

impl RangeFile {
    /// A cache for an archive of `size` bytes, nothing fetched yet.
    pub fn new(size: u64) -> Result<Arc<Self>> {
        if size < 512 {
            return Err(Error::NotAnArchive {
                format: FORMAT,
                reason: format!("{size} bytes is too short for an SQLite database"),
            });
        }
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = CString::new(format!("sila-store-range-{n}"))
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let file = Arc::new(RangeFile {
            size,
            name,
            blocks: Mutex::new(Blocks::default()),
        });
        files().insert(file.name.as_bytes().to_vec(), Arc::downgrade(&file));
        Ok(file)
    }

    fn blocks(&self) -> std::sync::MutexGuard<'_, Blocks> {
        self.blocks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh connection to the archive (read-only, immutable, hardened). It may fail
    /// for want of a block: see [`RangeFile::wanted`].
    pub fn connect(&self) -> Result<Connection> {
        register()?;
        let name = self
            .name
            .to_str()
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let mut conn = Connection::open_with_flags_and_vfs(
            format!("file:{name}?immutable=1"),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            VFS,
        )
        .sql()?;
        harden(&mut conn)?;
        Ok(conn)
    }

    /// The range to fetch after a run that failed, if it failed for want of a block
    /// (else `None`: the failure is the answer). Clears the record.
    pub fn wanted(&self) -> Option<Fetch> {
        let mut b = self.blocks();
        let first = b.missed.take()?;
        let run = if first == b.last_end {
            (b.last_run * 2).clamp(1, MAX_RUN)
        } else {
            1
        };
        let blocks = self.size.div_ceil(BLOCK);
        let mut n = 0;
        while n < run && first + n < blocks && !b.cached.contains_key(&(first + n)) {
            n += 1;
        }
        b.last_end = first + n;
        b.last_run = n;
        let offset = first * BLOCK;
        Some(Fetch {
            offset,
            len: (n * BLOCK).min(self.size - offset),
        })
    }

    /// Adds the bytes of `fetch` (all of them: a short read is an error).
    pub fn fill(&self, fetch: Fetch, bytes: Vec<u8>) -> Result<()> {
        if bytes.len() as u64 != fetch.len {
            return Err(Error::Corrupt {
                format: FORMAT,
                reason: format!(
                    "the archive gave {} bytes at {} where {} were asked: it changed or shrank",
                    bytes.len(),
                    fetch.offset,
                    fetch.len
                ),
            });
        }
        let mut b = self.blocks();
        b.fetched += fetch.len;
        let first = fetch.offset / BLOCK;
        for (i, chunk) in bytes.chunks(BLOCK as usize).enumerate() {
            b.cached.insert(first + i as u64, chunk.to_vec());
        }
        Ok(())
    }

    /// Bytes fetched so far.
    pub fn fetched(&self) -> u64 {
        self.blocks().fetched
    }

    /// Copies `out.len()` bytes from `offset`; `Err(true)` if a block is missing (and
    /// recorded), `Err(false)` for a read past the end (the rest zeroed).
    fn read(&self, out: &mut [u8], offset: u64) -> core::result::Result<(), bool> {
        let mut b = self.blocks();
        let mut done = 0usize;
        while done < out.len() {
            let at = offset + done as u64;
            if at >= self.size {
                out[done..].fill(0);
                return Err(false);
            }
            let block = at / BLOCK;
            let Some(data) = b.cached.get(&block) else {
                b.missed.get_or_insert(block);
                return Err(true);
            };
            let from = (at - block * BLOCK) as usize;
            let n = (data.len() - from.min(data.len())).min(out.len() - done);
            if n == 0 {
                out[done..].fill(0);
                return Err(false);
            }
            out[done..done + n].copy_from_slice(&data[from..from + n]);
            done += n;
        }
        Ok(())
    }
}

impl Drop for RangeFile {
    fn drop(&mut self) {
        files().remove(self.name.as_bytes());
    }
}

fn files() -> std::sync::MutexGuard<'static, BTreeMap<Vec<u8>, std::sync::Weak<RangeFile>>> {
    FILES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The VFS's file: SQLite's header first, then the archive.
#[repr(C)]
struct VfsFile {
    base: ffi::sqlite3_file,
    file: *const RangeFile,
}

vfs::declare_vfs!(VFS, VfsFile, open: x_open, close: x_close, read: x_read, write: x_write,
    truncate: x_truncate, sync: x_sync, size: x_file_size, characteristics: x_device_characteristics);

unsafe extern "C" fn x_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite hands szOsFile bytes at `file`; pMethods stays NULL on failure.
    let f = file.cast::<VfsFile>();
    unsafe { (*f).base.pMethods = core::ptr::null() };
    let main_read_only = flags & ffi::SQLITE_OPEN_MAIN_DB != 0
        && flags & (ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE) == 0;
    if name.is_null() || !main_read_only {
        return ffi::SQLITE_CANTOPEN;
    }
    // SAFETY: a NUL-terminated file name from SQLite.
    let key = unsafe { CStr::from_ptr(name) }.to_bytes();
    let Some(range) = files().get(key).and_then(std::sync::Weak::upgrade) else {
        return ffi::SQLITE_CANTOPEN;
    };
    // SAFETY: as above; the Arc is released in x_close.
    unsafe {
        (*f).file = Arc::into_raw(range);
        (*f).base.pMethods = &METHODS;
        if !out_flags.is_null() {
            *out_flags = ffi::SQLITE_OPEN_READONLY;
        }
    }
    ffi::SQLITE_OK
}

/// The archive behind an open VFS file.
unsafe fn range<'a>(file: *mut ffi::sqlite3_file) -> &'a RangeFile {
    // SAFETY: set by x_open, valid until x_close.
    unsafe { &*(*file.cast::<VfsFile>()).file }
}

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: the Arc taken in x_open, released once.
    unsafe {
        let f = file.cast::<VfsFile>();
        drop(Arc::from_raw((*f).file));
        (*f).file = core::ptr::null();
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    let Some((len, offset)) = vfs::span(amount, offset) else {
        return ffi::SQLITE_IOERR_READ;
    };
    // SAFETY: SQLite hands a buffer of `amount` bytes.
    let out = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
    match unsafe { range(file) }.read(out, offset) {
        Ok(()) => ffi::SQLITE_OK,
        Err(false) => ffi::SQLITE_IOERR_SHORT_READ,
        Err(true) => ffi::SQLITE_IOERR_READ,
    }
}

unsafe extern "C" fn x_write(
    _: *mut ffi::sqlite3_file,
    _: *const c_void,
    _: c_int,
    _: ffi::sqlite3_int64,
) -> c_int {
    ffi::SQLITE_READONLY
}

unsafe extern "C" fn x_truncate(_: *mut ffi::sqlite3_file, _: ffi::sqlite3_int64) -> c_int {
    ffi::SQLITE_READONLY
}

unsafe extern "C" fn x_sync(_: *mut ffi::sqlite3_file, _: c_int) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_file_size(
    file: *mut ffi::sqlite3_file,
    out: *mut ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: a valid out pointer from SQLite.
    unsafe { *out = i64::try_from(range(file).size).unwrap_or(i64::MAX) };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_device_characteristics(_: *mut ffi::sqlite3_file) -> c_int {
    ffi::SQLITE_IOCAP_IMMUTABLE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::sqlite::SqliteSource;
    use crate::entries::EntrySource;

    /// Runs `f` on the archive `bytes` through the block cache, fetching as asked.
    fn through_ranges<T>(
        bytes: &[u8],
        mut f: impl FnMut(&mut SqliteSource<'_>) -> Result<T>,
    ) -> (Result<T>, u64, usize) {
        let file = RangeFile::new(bytes.len() as u64).expect("file");
        let mut runs = 0;
        loop {
            runs += 1;
            let r = file
                .connect()
                .and_then(|c| SqliteSource::new(&c).and_then(|mut s| f(&mut s)));
            match file.wanted() {
                Some(w) => {
                    let end = (w.offset + w.len) as usize;
                    file.fill(w, bytes[w.offset as usize..end].to_vec())
                        .expect("fill");
                }
                None => return (r, file.fetched(), runs),
            }
        }
    }

    fn archive_with_blobs(n: usize, size: usize) -> (Vec<u8>, Vec<crate::ids::Sha256Hex>) {
        let mut mem = crate::memory::MemoryWorkspace::new();
        mem.insert("space-v1/space.json", br#"{"id":"s1"}"#.to_vec());
        let mut hashes = Vec::new();
        for i in 0..n {
            // Incompressible bytes (xorshift), so the archive is as big as the blobs.
            let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ i as u64;
            let blob: Vec<u8> = (0..size)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let h = crate::ids::Sha256Hex::of(&blob);
            mem.insert(
                &crate::layout::EntryKind::StaticFile(h.clone()).path(),
                blob,
            );
            hashes.push(h);
        }
        let dir = std::env::temp_dir().join(format!(
            "sila-ranges-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let db = dir.with_extension("db");
        {
            let conn = Connection::open(&db).expect("open");
            let mut sink = super::super::SqliteSink::new(&conn, "memory").expect("sink");
            crate::convert::copy_all(&mut mem, &mut sink, &mut |_| {}).expect("copy");
        }
        let bytes = std::fs::read(&db).expect("read");
        let _ = std::fs::remove_file(&db);
        (bytes, hashes)
    }

    #[test]
    fn one_blob_reads_little_of_the_archive() {
        let (bytes, hashes) = archive_with_blobs(40, 300_000);
        let want = &hashes[17];
        let (got, fetched, runs) = through_ranges(&bytes, |s| s.static_file(want));
        let got = got.expect("read").expect("present");
        assert_eq!(&crate::ids::Sha256Hex::of(&got), want);
        assert!(
            fetched < bytes.len() as u64 / 4,
            "{fetched} of {}",
            bytes.len()
        );
        assert!(runs < 40, "{runs} runs");
    }

    #[test]
    fn a_missing_blob_is_none_and_a_short_file_is_refused() {
        let (bytes, _) = archive_with_blobs(2, 1000);
        let absent = crate::ids::Sha256Hex::of(b"absent");
        let (got, _, _) = through_ranges(&bytes, |s| s.static_file(&absent));
        assert!(got.expect("query").is_none());
        assert!(matches!(
            RangeFile::new(100),
            Err(Error::NotAnArchive { .. })
        ));
        let (all, _, _) = through_ranges(&bytes, |s| s.entries());
        assert_eq!(all.expect("entries").len(), 3);
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_not_an_archive() {
        let junk = vec![7u8; 8192];
        let (got, _, _) = through_ranges(&junk, |s| s.entries());
        assert!(matches!(got, Err(Error::NotAnArchive { .. })), "{got:?}");
    }
}
