//! SQLite over a [`RandomAccess`] file the host opened: an OPFS file through its
//! `FileSystemSyncAccessHandle` in a browser worker, a file descriptor on Node, a
//! native file. So an archive of any size is written and read in place, a page at a
//! time, with SQLite's page cache as the only buffer (the archive is never held
//! whole in memory, as `serialize` would).
//!
//! The VFS knows only the files handed to it ([`FileDb::create`], [`FileDb::open`]) by
//! a name of its own; it opens no path, creates nothing beside the database (archives
//! are written with `journal_mode = OFF` and read `immutable=1`) and refuses any other
//! file SQLite asks for. An I/O error of the host's file is kept and reported with its
//! message in place of SQLite's bare `SQLITE_IOERR` ([`FileDb::check`]).

use std::collections::BTreeMap;
use std::ffi::{c_int, c_void, CStr, CString};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use rusqlite::{ffi, Connection, OpenFlags};

use super::{harden, vfs, SqlExt};
use crate::error::{Error, Result};
use crate::random_access::{require_empty, RandomAccess};

/// The VFS's name.
const VFS: &CStr = c"sila-store-file";

/// A host file behind the VFS, with the last error it gave.
struct Slot {
    file: Mutex<Box<dyn RandomAccess>>,
    error: Mutex<Option<io::Error>>,
    writable: bool,
}

impl Slot {
    /// Runs `f` on the file; an error is kept for [`FileDb::check`] and becomes `rc`.
    fn with(&self, rc: c_int, f: impl FnOnce(&mut dyn RandomAccess) -> io::Result<c_int>) -> c_int {
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        match f(&mut **file) {
            Ok(code) => code,
            Err(e) => {
                *self.error.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                rc
            }
        }
    }
}

/// Open files by name, for `xOpen`: the address of a [`Slot`] owned by its [`FileDb`].
static FILES: Mutex<BTreeMap<Vec<u8>, usize>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(0);

fn files() -> std::sync::MutexGuard<'static, BTreeMap<Vec<u8>, usize>> {
    FILES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A SQLite connection to a host's file.
pub struct FileDb {
    // Declared first: the connection closes before the slot it reads goes away.
    conn: Option<Connection>,
    name: CString,
    slot: Box<Slot>,
}

impl FileDb {
    /// A new database in `file`, which must be empty (nothing is ever replaced), open
    /// for writing: hand its connection to [`SqliteSink`](super::SqliteSink), then
    /// [`FileDb::close`] it.
    pub fn create(mut file: Box<dyn RandomAccess>) -> Result<FileDb> {
        require_empty(&mut *file)?;
        let db = FileDb::register_file(file, true)?;
        let conn = Connection::open_with_flags_and_vfs(
            db.uri(false)?,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            VFS,
        );
        db.connected(conn)
    }

    /// The archive in `file`, opened as untrusted input: read-only, immutable and
    /// [`harden`]ed, like [`open_untrusted`](super::open_untrusted) for a path.
    pub fn open(mut file: Box<dyn RandomAccess>) -> Result<FileDb> {
        let mut head = [0u8; 100];
        let n = file
            .read_at(&mut head, 0)
            .map_err(|e| Error::io("the archive file", e))?;
        if n == 0 {
            return Err(Error::NotAnArchive {
                format: super::FORMAT,
                reason: "the file is empty".into(),
            });
        }
        super::guard::check_head(&head[..n])?;
        let db = FileDb::register_file(file, false)?;
        let conn = Connection::open_with_flags_and_vfs(
            db.uri(true)?,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            VFS,
        );
        let mut db = db.connected(conn)?;
        let hardened = match db.conn.as_mut() {
            Some(conn) => harden(conn),
            None => Ok(()),
        };
        db.check(hardened)?;
        Ok(db)
    }

    fn register_file(file: Box<dyn RandomAccess>, writable: bool) -> Result<FileDb> {
        register()?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = CString::new(format!("sila-store-file-{n}"))
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let slot = Box::new(Slot {
            file: Mutex::new(file),
            error: Mutex::new(None),
            writable,
        });
        files().insert(name.as_bytes().to_vec(), &*slot as *const Slot as usize);
        Ok(FileDb {
            conn: None,
            name,
            slot,
        })
    }

    fn uri(&self, immutable: bool) -> Result<String> {
        let name = self
            .name
            .to_str()
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        Ok(if immutable {
            format!("file:{name}?immutable=1")
        } else {
            format!("file:{name}")
        })
    }

    fn connected(mut self, conn: rusqlite::Result<Connection>) -> Result<FileDb> {
        let conn = self.check(conn.sql())?;
        self.conn = Some(conn);
        Ok(self)
    }

    /// The connection.
    pub fn conn(&self) -> Result<&Connection> {
        self.conn
            .as_ref()
            .ok_or_else(|| Error::Backend("the database is closed".into()))
    }

    /// `result`, with a SQLite I/O error replaced by the host file's own error, if it
    /// gave one.
    pub fn check<T>(&self, result: Result<T>) -> Result<T> {
        let kept = self
            .slot
            .error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match (result, kept) {
            (Err(Error::Sqlite(_)), Some(e)) => Err(Error::io("the archive file", e)),
            (r, _) => r,
        }
    }

    /// Closes the connection, makes the file durable (when written) and hands it back.
    pub fn close(mut self) -> Result<Box<dyn RandomAccess>> {
        if let Some(conn) = self.conn.take() {
            let closed = conn.close().map_err(|(_, e)| Error::Sqlite(e));
            self.check(closed)?;
        }
        files().remove(self.name.as_bytes());
        let Slot { file, writable, .. } = *std::mem::replace(
            &mut self.slot,
            Box::new(Slot {
                file: Mutex::new(Box::new(Closed)),
                error: Mutex::new(None),
                writable: false,
            }),
        );
        let mut file = file.into_inner().unwrap_or_else(PoisonError::into_inner);
        if writable {
            file.sync().map_err(|e| Error::io("the archive file", e))?;
        }
        Ok(file)
    }
}

impl Drop for FileDb {
    fn drop(&mut self) {
        drop(self.conn.take());
        files().remove(self.name.as_bytes());
    }
}

/// What a closed [`FileDb`] leaves in its slot.
struct Closed;

impl RandomAccess for Closed {
    fn read_at(&mut self, _: &mut [u8], _: u64) -> io::Result<usize> {
        Err(io::ErrorKind::NotConnected.into())
    }
    fn write_at(&mut self, _: &[u8], _: u64) -> io::Result<()> {
        Err(io::ErrorKind::NotConnected.into())
    }
    fn size(&mut self) -> io::Result<u64> {
        Err(io::ErrorKind::NotConnected.into())
    }
    fn set_size(&mut self, _: u64) -> io::Result<()> {
        Err(io::ErrorKind::NotConnected.into())
    }
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The VFS's file: SQLite's header first, then the slot.
#[repr(C)]
struct VfsFile {
    base: ffi::sqlite3_file,
    slot: *const Slot,
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
    if name.is_null() || flags & ffi::SQLITE_OPEN_MAIN_DB == 0 {
        return ffi::SQLITE_CANTOPEN;
    }
    // SAFETY: a NUL-terminated file name from SQLite.
    let key = unsafe { CStr::from_ptr(name) }.to_bytes();
    let Some(&addr) = files().get(key) else {
        return ffi::SQLITE_CANTOPEN;
    };
    let slot = addr as *const Slot;
    // SAFETY: the slot is alive while it is registered (its FileDb closes the
    // connection before it unregisters and drops it).
    let writable = unsafe { (*slot).writable };
    if flags & ffi::SQLITE_OPEN_READWRITE != 0 && !writable {
        return ffi::SQLITE_CANTOPEN;
    }
    // SAFETY: as above.
    unsafe {
        (*f).slot = slot;
        (*f).base.pMethods = &METHODS;
        if !out_flags.is_null() {
            *out_flags = if writable {
                ffi::SQLITE_OPEN_READWRITE
            } else {
                ffi::SQLITE_OPEN_READONLY
            };
        }
    }
    ffi::SQLITE_OK
}

/// The slot behind an open VFS file.
unsafe fn slot<'a>(file: *mut ffi::sqlite3_file) -> &'a Slot {
    // SAFETY: set by x_open, valid until the FileDb that owns it is closed, which
    // closes the connection (and this file) first.
    unsafe { &*(*file.cast::<VfsFile>()).slot }
}

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: the file was opened by x_open.
    unsafe { (*file.cast::<VfsFile>()).slot = core::ptr::null() };
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
    unsafe { slot(file) }.with(ffi::SQLITE_IOERR_READ, |f| {
        let n = f.read_at(out, offset)?;
        if n < len {
            out[n..].fill(0);
            return Ok(ffi::SQLITE_IOERR_SHORT_READ);
        }
        Ok(ffi::SQLITE_OK)
    })
}

unsafe extern "C" fn x_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    let Some((len, offset)) = vfs::span(amount, offset) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    // SAFETY: SQLite hands a buffer of `amount` bytes.
    let bytes = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), len) };
    let slot = unsafe { slot(file) };
    if !slot.writable {
        return ffi::SQLITE_READONLY;
    }
    slot.with(ffi::SQLITE_IOERR_WRITE, |f| {
        f.write_at(bytes, offset)?;
        Ok(ffi::SQLITE_OK)
    })
}

unsafe extern "C" fn x_truncate(file: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    let slot = unsafe { slot(file) };
    let Ok(size) = u64::try_from(size) else {
        return ffi::SQLITE_IOERR_TRUNCATE;
    };
    if !slot.writable {
        return ffi::SQLITE_READONLY;
    }
    slot.with(ffi::SQLITE_IOERR_TRUNCATE, |f| {
        f.set_size(size)?;
        Ok(ffi::SQLITE_OK)
    })
}

unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, _: c_int) -> c_int {
    let slot = unsafe { slot(file) };
    if !slot.writable {
        return ffi::SQLITE_OK;
    }
    slot.with(ffi::SQLITE_IOERR_FSYNC, |f| {
        f.sync()?;
        Ok(ffi::SQLITE_OK)
    })
}

unsafe extern "C" fn x_file_size(
    file: *mut ffi::sqlite3_file,
    out: *mut ffi::sqlite3_int64,
) -> c_int {
    unsafe { slot(file) }.with(ffi::SQLITE_IOERR_FSTAT, |f| {
        let size = f.size()?;
        // SAFETY: a valid out pointer from SQLite.
        unsafe { *out = i64::try_from(size).unwrap_or(i64::MAX) };
        Ok(ffi::SQLITE_OK)
    })
}

unsafe extern "C" fn x_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    if unsafe { slot(file) }.writable {
        0
    } else {
        ffi::SQLITE_IOCAP_IMMUTABLE
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::archive::sqlite::{SqliteSink, SqliteSource};
    use crate::convert::copy_all;
    use crate::entries::{listing, EntrySource};
    use crate::memory::MemoryWorkspace;

    fn workspace() -> MemoryWorkspace {
        let mut ws = MemoryWorkspace::new();
        ws.insert(
            "space-v1/ops/ab/cdef/2024-01-02/p1.jsonl",
            b"[\"m\",1,\"p1\",\"x\",\"y\"]\n".to_vec(),
        );
        ws.insert("sila.md", b"# a space\n".to_vec());
        ws.insert("space.json", br#"{"id":"abcdef","name":"x"}"#.to_vec());
        let blob: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let hash = crate::ids::Sha256Hex::of(&blob);
        ws.insert(
            &format!(
                "files/static/{}/{}",
                &hash.as_str()[..2],
                &hash.as_str()[2..]
            ),
            blob,
        );
        ws
    }

    fn temp(name: &str) -> (std::path::PathBuf, std::fs::File) {
        let path = std::env::temp_dir().join(format!("sila-filedb-{}-{name}", std::process::id()));
        let file = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        (path, file)
    }

    #[test]
    fn an_archive_written_through_a_file_reads_back_whole() {
        let mut ws = workspace();
        let (path, file) = temp("rw");
        let db = FileDb::create(Box::new(file)).unwrap();
        let written = {
            let mut sink = SqliteSink::new(db.conn().unwrap(), "plain").unwrap();
            copy_all(&mut ws, &mut sink, &mut |_| {}).unwrap()
        };
        let file = db.close().unwrap();
        let db = FileDb::open(file).unwrap();
        let mut source = SqliteSource::new(db.conn().unwrap()).unwrap();
        assert_eq!(listing(&mut source, &mut |_| {}).unwrap(), written);
        assert!(source.check_container().unwrap().is_empty());
        drop(source);
        drop(db);
        // The same archive opens from its path as any other.
        let conn = crate::archive::sqlite::open_untrusted(&path).unwrap();
        let mut again = SqliteSource::new(&conn).unwrap();
        assert_eq!(listing(&mut again, &mut |_| {}).unwrap(), written);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn an_empty_or_cut_file_is_not_an_archive() {
        for bytes in [&b""[..], b"SQLite format 3\0 and then nothing"] {
            let Err(e) = FileDb::open(Box::new(bytes.to_vec())) else {
                panic!("{bytes:?} opened");
            };
            assert_eq!(e.code(), "NotAnArchive", "{e}");
        }
    }

    #[test]
    fn a_file_that_is_not_empty_is_never_written() {
        let (path, mut file) = temp("full");
        RandomAccess::write_at(&mut file, b"keep me", 0).unwrap();
        let Err(e) = FileDb::create(Box::new(file)) else {
            panic!("a full file was accepted");
        };
        assert_eq!(e.code(), "AlreadyExists");
        assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
        std::fs::remove_file(path).unwrap();
    }

    /// A file whose reads fail after `ok` calls.
    struct Failing {
        inner: std::fs::File,
        ok: usize,
    }

    impl RandomAccess for Failing {
        fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            if self.ok == 0 {
                return Err(io::Error::other("the disk went away"));
            }
            self.ok -= 1;
            RandomAccess::read_at(&mut self.inner, buf, offset)
        }
        fn write_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
            RandomAccess::write_at(&mut self.inner, buf, offset)
        }
        fn size(&mut self) -> io::Result<u64> {
            RandomAccess::size(&mut self.inner)
        }
        fn set_size(&mut self, len: u64) -> io::Result<()> {
            self.inner.set_size(len)
        }
        fn sync(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_host_file_error_is_reported_with_its_message() {
        let mut ws = workspace();
        let (path, file) = temp("fail");
        let db = FileDb::create(Box::new(file)).unwrap();
        {
            let mut sink = SqliteSink::new(db.conn().unwrap(), "plain").unwrap();
            copy_all(&mut ws, &mut sink, &mut |_| {}).unwrap();
        }
        drop(db);
        let inner = std::fs::File::open(&path).unwrap();
        let r = FileDb::open(Box::new(Failing { inner, ok: 5 })).and_then(|db| {
            let r = SqliteSource::new(db.conn()?)
                .and_then(|mut s| listing(&mut s, &mut |_| {}).map(|_| ()));
            db.check(r)
        });
        let e = r.unwrap_err();
        assert_eq!(e.code(), "Io", "{e}");
        assert!(e.to_string().contains("the disk went away"), "{e}");
        std::fs::remove_file(path).unwrap();
    }
}
