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

/// `AlreadyExists` unless `file` is empty: a new archive is written only into an empty
/// file, so nothing is ever replaced.
pub fn require_empty(file: &mut dyn RandomAccess) -> crate::Result<()> {
    let size = file
        .size()
        .map_err(|e| crate::Error::io("the destination file", e))?;
    if size != 0 {
        return Err(crate::Error::AlreadyExists(format!(
            "the destination file holds {size} bytes: a new archive is written only into an empty file"
        )));
    }
    Ok(())
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

/// A [`RandomAccess`] file read as `Read + Seek` through a window of `capacity` bytes
/// that survives seeks landing inside it: a ZIP reader seeks to every entry, and the
/// next entry usually starts where the last one ended, in the window already read (a
/// `BufReader` would drop its buffer at each seek and read it again).
#[derive(Debug)]
pub struct FileReader<F> {
    file: F,
    window: Vec<u8>,
    /// Where the window starts in the file.
    start: u64,
    pos: u64,
    capacity: usize,
}

impl<F: RandomAccess> FileReader<F> {
    /// A reader at the start of `file`.
    pub fn new(file: F, capacity: usize) -> Self {
        FileReader {
            file,
            window: Vec::new(),
            start: 0,
            pos: 0,
            capacity: capacity.max(1),
        }
    }
}

impl<F: RandomAccess> Read for FileReader<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let end = self.start + self.window.len() as u64;
        if self.pos < self.start || self.pos >= end {
            if buf.len() >= self.capacity {
                // Big reads go straight to the file.
                let n = self.file.read_at(buf, self.pos)?;
                self.pos += n as u64;
                return Ok(n);
            }
            self.window.resize(self.capacity, 0);
            let n = self.file.read_at(&mut self.window, self.pos)?;
            self.window.truncate(n);
            self.start = self.pos;
        }
        let from = (self.pos - self.start) as usize;
        let n = buf.len().min(self.window.len() - from);
        buf[..n].copy_from_slice(&self.window[from..from + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl<F: RandomAccess> Seek for FileReader<F> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let (base, delta) = match to {
            SeekFrom::Start(n) => (0, i128::from(n)),
            SeekFrom::End(d) => (self.file.size()?, i128::from(d)),
            SeekFrom::Current(d) => (self.pos, i128::from(d)),
        };
        self.pos = u64::try_from(i128::from(base) + delta).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )
        })?;
        Ok(self.pos)
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

    /// Counts the reads that reach the file.
    struct Counted(Vec<u8>, usize);

    impl RandomAccess for Counted {
        fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            self.1 += 1;
            self.0.read_at(buf, offset)
        }
        fn write_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
            self.0.write_at(buf, offset)
        }
        fn size(&mut self) -> io::Result<u64> {
            self.0.size()
        }
        fn set_size(&mut self, len: u64) -> io::Result<()> {
            self.0.set_size(len)
        }
        fn sync(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_reader_keeps_its_window_across_seeks_inside_it() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut r = FileReader::new(Counted(data.clone(), 0), 1000);
        let mut got = Vec::new();
        // Small reads with seeks forward inside the window, as a ZIP reader does.
        let mut at = 0u64;
        while at < 10_000 {
            r.seek(SeekFrom::Start(at)).unwrap();
            let mut b = [0u8; 30];
            let n = r.read(&mut b).unwrap();
            got.extend_from_slice(&b[..n]);
            at += n as u64;
        }
        assert_eq!(got, data);
        assert_eq!(r.file.1, 10, "one read per window");
        r.seek(SeekFrom::End(-5)).unwrap();
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, data[9_995..]);
        let mut big = vec![0u8; 5000];
        r.seek(SeekFrom::Start(100)).unwrap();
        r.read_exact(&mut big).unwrap();
        assert_eq!(big, data[100..5100]);
    }
}
