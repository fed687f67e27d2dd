//! What the archive's two VFSes share: registering one beside the default VFS, and the
//! calls that are the same for both (no other file exists, no locks: one process, one
//! connection per file).

use std::ffi::{c_char, c_int, c_void, CStr};

use rusqlite::ffi;

use crate::error::{Error, Result};

/// The `xOpen` of a VFS.
pub(super) type XOpen = unsafe extern "C" fn(
    *mut ffi::sqlite3_vfs,
    ffi::sqlite3_filename,
    *mut ffi::sqlite3_file,
    c_int,
    *mut c_int,
) -> c_int;

/// Registers a VFS named `name` whose files take `file_size` bytes and open with
/// `x_open`; the rest (time, randomness, sleep) is the default VFS's. Called once per
/// VFS (under a `OnceLock`); SQLite keeps the pointer, so it is leaked.
pub(super) fn register(name: &'static CStr, file_size: usize, x_open: XOpen) -> Result<()> {
    // SAFETY: sqlite3_vfs_find(NULL) returns the default VFS (SQLite initialises
    // itself first), which lives as long as the process. Ours copies it and replaces
    // only the calls that name files.
    let rc = unsafe {
        let default = ffi::sqlite3_vfs_find(core::ptr::null());
        if default.is_null() {
            ffi::SQLITE_ERROR
        } else {
            let mut vfs: ffi::sqlite3_vfs = *default;
            vfs.szOsFile = c_int::try_from(file_size).unwrap_or(c_int::MAX);
            vfs.pNext = core::ptr::null_mut();
            vfs.zName = name.as_ptr();
            vfs.xOpen = Some(x_open);
            vfs.xDelete = Some(x_delete);
            vfs.xAccess = Some(x_access);
            vfs.xFullPathname = Some(x_full_pathname);
            ffi::sqlite3_vfs_register(Box::into_raw(Box::new(vfs)), 0)
        }
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(Error::Sqlite(rusqlite::Error::SqliteFailure(
            ffi::Error::new(rc),
            Some(format!("registering the VFS {name:?}")),
        )))
    }
}

unsafe extern "C" fn x_delete(_: *mut ffi::sqlite3_vfs, _: *const c_char, _: c_int) -> c_int {
    // Nothing is ever created beside a database (no journal: archives are written with
    // `journal_mode = OFF`, read immutable), so there is nothing to delete.
    ffi::SQLITE_IOERR_DELETE
}

unsafe extern "C" fn x_access(
    _: *mut ffi::sqlite3_vfs,
    _: *const c_char,
    _: c_int,
    out: *mut c_int,
) -> c_int {
    // No journal, WAL or other file exists beside the database.
    // SAFETY: SQLite passes a valid out pointer.
    unsafe { *out = 0 };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_full_pathname(
    _: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n_out: c_int,
    out: *mut c_char,
) -> c_int {
    // SAFETY: `name` is NUL-terminated; `out` has room for `n_out` bytes.
    unsafe {
        let bytes = CStr::from_ptr(name).to_bytes_with_nul();
        if bytes.len() > usize::try_from(n_out).unwrap_or(0) {
            return ffi::SQLITE_CANTOPEN;
        }
        core::ptr::copy_nonoverlapping(bytes.as_ptr().cast::<c_char>(), out, bytes.len());
    }
    ffi::SQLITE_OK
}

/// `xLock` and `xUnlock`: one connection per file, nothing to lock.
pub(super) unsafe extern "C" fn x_lock(_: *mut ffi::sqlite3_file, _: c_int) -> c_int {
    ffi::SQLITE_OK
}

/// `xCheckReservedLock`: nobody else holds one.
pub(super) unsafe extern "C" fn x_check_reserved_lock(
    _: *mut ffi::sqlite3_file,
    out: *mut c_int,
) -> c_int {
    // SAFETY: a valid out pointer from SQLite.
    unsafe { *out = 0 };
    ffi::SQLITE_OK
}

/// `xFileControl`: no control is known.
pub(super) unsafe extern "C" fn x_file_control(
    _: *mut ffi::sqlite3_file,
    _: c_int,
    _: *mut c_void,
) -> c_int {
    ffi::SQLITE_NOTFOUND
}

/// `xSectorSize`.
pub(super) unsafe extern "C" fn x_sector_size(_: *mut ffi::sqlite3_file) -> c_int {
    4096
}

/// The `(len, offset)` of a read or write, if both are in range.
pub(super) fn span(amount: c_int, offset: ffi::sqlite3_int64) -> Option<(usize, u64)> {
    Some((usize::try_from(amount).ok()?, u64::try_from(offset).ok()?))
}

/// The `register()` (once per process) and the `METHODS` table of a VFS whose file is
/// `$file` and whose own calls are the functions named; locks, file control and sector
/// size are the shared ones above. Both VFSes of the archive are declared with it.
macro_rules! declare_vfs {
    ($name:expr, $file:ty, open: $open:ident, close: $close:ident, read: $read:ident,
     write: $write:ident, truncate: $truncate:ident, sync: $sync:ident,
     size: $size:ident, characteristics: $chars:ident) => {
        /// Registers the VFS once per process.
        fn register() -> $crate::error::Result<()> {
            static DONE: std::sync::OnceLock<core::result::Result<(), String>> =
                std::sync::OnceLock::new();
            DONE.get_or_init(|| {
                super::vfs::register($name, core::mem::size_of::<$file>(), $open)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err($crate::error::Error::Backend)
        }

        static METHODS: rusqlite::ffi::sqlite3_io_methods = rusqlite::ffi::sqlite3_io_methods {
            iVersion: 1,
            xClose: Some($close),
            xRead: Some($read),
            xWrite: Some($write),
            xTruncate: Some($truncate),
            xSync: Some($sync),
            xFileSize: Some($size),
            xLock: Some(super::vfs::x_lock),
            xUnlock: Some(super::vfs::x_lock),
            xCheckReservedLock: Some(super::vfs::x_check_reserved_lock),
            xFileControl: Some(super::vfs::x_file_control),
            xSectorSize: Some(super::vfs::x_sector_size),
            xDeviceCharacteristics: Some($chars),
            xShmMap: None,
            xShmLock: None,
            xShmBarrier: None,
            xShmUnmap: None,
            xFetch: None,
            xUnfetch: None,
        };
    };
}
pub(super) use declare_vfs;
