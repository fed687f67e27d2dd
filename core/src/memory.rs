//! A workspace held in memory: `path → bytes`. Useful for tests, for hosts that
//! already hold the files (a browser upload), and as the simplest backend.

use std::collections::BTreeMap;
use std::io::Read;

use crate::entries::{check_unique, Content, EntryMeta, EntrySink, EntrySource};
use crate::error::{Error, Result};

/// A workspace as a map from relative path to content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryWorkspace {
    /// Every file, by relative path.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl MemoryWorkspace {
    /// An empty workspace.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file.
    pub fn insert(&mut self, path: &str, bytes: impl Into<Vec<u8>>) -> &mut Self {
        self.files.insert(path.to_string(), bytes.into());
        self
    }
}

impl EntrySource for MemoryWorkspace {
    fn format(&self) -> &'static str {
        "memory"
    }

    fn entries(&mut self) -> Result<Vec<EntryMeta>> {
        let out = self
            .files
            .iter()
            .map(|(p, b)| EntryMeta::new(p, b.len() as u64, None))
            .collect::<Result<Vec<_>>>()?;
        check_unique(&out)?;
        Ok(out)
    }

    fn open<'s>(&'s mut self, entry: &EntryMeta) -> Result<Box<dyn Read + 's>> {
        let b = self
            .files
            .get(&entry.path)
            .ok_or_else(|| Error::NotFound(entry.path.clone()))?;
        Ok(Box::new(&b[..]))
    }
}

impl EntrySink for MemoryWorkspace {
    fn put(&mut self, entry: &EntryMeta, content: Content<'_>) -> Result<()> {
        let bytes = match content {
            Content::Ops { bytes, .. } => bytes.to_vec(),
            Content::Stream(r) => {
                let mut v =
                    Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0).min(1 << 26));
                r.read_to_end(&mut v)
                    .map_err(|e| Error::io(&entry.path, e))?;
                v
            }
        };
        if self.files.insert(entry.path.clone(), bytes).is_some() {
            return Err(Error::DuplicateEntry(entry.path.clone()));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}
