//! The native host of the core's tiers: the clock, epochs, tokio's sleep, and work
//! areas in temporary folders (archives built and opened with the same `convert` the
//! CLI uses).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sila_store_core::entries::{listing, Listing, Operation, Progress};
use sila_store_core::ids::{Day, TreeId};
use sila_store_core::layout::safe_relative_path;
use sila_store_core::storage::tiers::{TierHost, WorkArea};
use sila_store_core::{Error, Result};

use super::{new_epoch, now_ms, TempDir};
use crate::fs::PlainSource;
use crate::workspace::{convert, with_source, ConvertOptions};

/// Time, epochs and temporary folders of this process.
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeHost;

#[async_trait::async_trait]
impl TierHost for NativeHost {
    fn now_ms(&self) -> u64 {
        now_ms()
    }

    fn new_epoch(&self) -> String {
        new_epoch()
    }

    async fn sleep_ms(&self, ms: u64) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }

    fn work_area(&self) -> Result<Box<dyn WorkArea>> {
        let dir = TempDir::new("work")?;
        Ok(Box::new(TempWorkArea {
            plain: dir.0.join("plain"),
            db: dir.0.join("workspace.db"),
            _dir: dir,
        }))
    }
}

/// A temporary folder: `plain/` and `workspace.db`.
struct TempWorkArea {
    plain: PathBuf,
    db: PathBuf,
    _dir: TempDir,
}

/// Runs blocking work (SQLite, hashing a workspace) without stalling other tasks of a
/// multi-threaded runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(path.display().to_string(), e)
}

fn append(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(io(path))
}

fn read_at(path: &Path, offset: u64, len: u64) -> Result<Vec<u8>> {
    let mut f = File::open(path).map_err(io(path))?;
    f.seek(SeekFrom::Start(offset)).map_err(io(path))?;
    let mut out = Vec::new();
    f.take(len).read_to_end(&mut out).map_err(io(path))?;
    Ok(out)
}

impl WorkArea for TempWorkArea {
    fn append_plain(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        safe_relative_path(path)?;
        append(&self.plain.join(path), bytes)
    }

    fn build_archive(&mut self, progress: &mut dyn FnMut(Progress<'_>)) -> Result<(u64, i64)> {
        std::fs::create_dir_all(&self.plain).map_err(io(&self.plain))?;
        blocking(|| convert(&self.plain, &self.db, ConvertOptions::default(), progress))?;
        let size = std::fs::metadata(&self.db).map_err(io(&self.db))?.len();
        Ok((size, sila_store_core::archive::sqlite::FORMAT_VERSION))
    }

    fn append_archive(&mut self, bytes: &[u8]) -> Result<()> {
        append(&self.db, bytes)
    }

    fn read_archive(&mut self, offset: u64, len: u64) -> Result<Vec<u8>> {
        read_at(&self.db, offset, len)
    }

    fn extract_archive(&mut self, progress: &mut dyn FnMut(Progress<'_>)) -> Result<Listing> {
        blocking(|| {
            convert(&self.db, &self.plain, ConvertOptions::default(), progress)?;
            listing(&mut PlainSource::open(&self.plain)?, &mut |_| {})
        })
    }

    fn read_plain(&mut self, path: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        safe_relative_path(path)?;
        read_at(&self.plain.join(path), offset, len)
    }

    fn archive_operations(
        &mut self,
        tree: &TreeId,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Vec<Operation>> {
        blocking(|| with_source(&self.db, |s| s.get_operations(tree, from, to)))
    }
}
