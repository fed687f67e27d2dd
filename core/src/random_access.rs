//! A file the host opens and the core reads and writes at offsets, synchronously: the
//! shape of the browser's `FileSystemSyncAccessHandle` (OPFS, in a worker), of a Node
//! file descriptor and of a native file.
//!
//! Archives too big to hold in memory are read and written through one: a SQLite
//! archive through [`FileDb`](crate::archive::sqlite::FileDb) (a VFS over the file), a
//! ZIP archive through [`FileCursor`] (`Read + Write + Seek`).

use std::io::{self, Read, Seek, SeekFrom, Write};

/// A file read and written at offsets (`Send` natively; a JavaScript object in wasm).
pub trait RandomAccess: crate::store::SendOutsideWasm {
    /// Reads up to `buf.len()` bytes at `offset`; fewer only at the end of the file.
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `offset`, growing the file if needed.
    fn write_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// The file's length in bytes.
    fn size(&mut self) -> io::Result<u64>;
    /// Cuts or extends the file to `len` bytes.
    fn set_size(&mut self, len: u64) -> io::Result<()>;
    /// Makes what was written durable.
    fn sync(&mut self) -> io::Result<()>;
}

impl<T: RandomAccess + ?Sized> RandomAccess for Box<T> {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        (**self).read_at(buf, offset)
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        (**self).write_at(buf, offset)
    }
    fn size(&mut self) -> io::Result<u64> {
        (**self).size()
    }
    fn set_size(&mut self, len: u64) -> io::Result<()> {
        (**self).set_size(len)
    }
    fn sync(&mut self) -> io::Result<()> {
        (**self).sync()
    }
}

/// A file in memory (tests, small workspaces, hosts that hold the bytes anyway).
impl RandomAccess for Vec<u8> {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let from = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let n = buf.len().min(self.len() - from);
        buf[..n].copy_from_slice(&self[from..from + n]);
        Ok(n)
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        let at = usize::try_from(offset).map_err(|_| io::ErrorKind::OutOfMemory)?;
        let end = at
            .checked_add(buf.len())
            .ok_or(io::ErrorKind::OutOfMemory)?;
        if self.len() < end {
            self.resize(end, 0);
        }
        self[at..end].copy_from_slice(buf);
        Ok(())
    }
    fn size(&mut self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }
    fn set_size(&mut self, len: u64) -> io::Result<()> {
        self.resize(
            usize::try_from(len).map_err(|_| io::ErrorKind::OutOfMemory)?,
            0,
        );
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(unix)]
impl RandomAccess for std::fs::File {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match std::os::unix::fs::FileExt::read_at(self, &mut buf[done..], offset + done as u64)
            {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(self, buf, offset)
    }
    fn size(&mut self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
    fn set_size(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

/// A [`RandomAccess`] file as a stream with a position: `Read + Write + Seek`.
#[derive(Debug)]
pub struct FileCursor<F> {
    file: F,
    pos: u64,
}

impl<F: RandomAccess> FileCursor<F> {
    /// A cursor at the start of `file`.
    pub fn new(file: F) -> Self {
        FileCursor { file, pos: 0 }
    }

    /// The file back.
    pub fn into_inner(self) -> F {
        self.file
    }
}

impl<F: RandomAccess> Read for FileCursor<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<F: RandomAccess> Write for FileCursor<F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write_at(buf, self.pos)?;
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<F: RandomAccess> Seek for FileCursor<F> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let (base, delta) = match to {
            SeekFrom::Start(n) => (0, i128::from(n)),
            SeekFrom::End(d) => (self.file.size()?, i128::from(d)),
            SeekFrom::Current(d) => (self.pos, i128::from(d)),
        };
        let pos = u64::try_from(i128::from(base) + delta).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )
        })?;
        self.pos = pos;
        Ok(pos)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_writes_and_seeks_like_a_file() {
        let dir = std::env::temp_dir().join(format!("sila-ra-{}", std::process::id()));
        let mut c = FileCursor::new(
            std::fs::File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&dir)
                .unwrap(),
        );
        c.write_all(b"hello world").unwrap();
        assert_eq!(c.seek(SeekFrom::End(-5)).unwrap(), 6);
        let mut s = String::new();
        c.read_to_string(&mut s).unwrap();
        assert_eq!(s, "world");
        assert!(c.seek(SeekFrom::Current(-100)).is_err());
        c.seek(SeekFrom::Start(0)).unwrap();
        c.write_all(b"J").unwrap();
        let mut f = c.into_inner();
        let mut buf = [0u8; 32];
        assert_eq!(RandomAccess::read_at(&mut f, &mut buf, 0).unwrap(), 11);
        assert_eq!(&buf[..11], b"Jello world");
        std::fs::remove_file(dir).unwrap();
    }
}
