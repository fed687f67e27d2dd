//! Conversion: every entry of a source into a sink, hashes checked on the way, and
//! the result compared with the source after it is read back.
//!
//! Hosts wrap this with their own "write to a temporary name, verify, move into
//! place" (the native filesystem backend does), so a failed conversion never leaves
//! a half-written destination and never touches the source.

use crate::entries::{transfer, EntrySink, EntrySource, Listing, Progress};
use crate::error::{Error, Result};

/// Copies every entry of `source` into `sink` and finishes the sink. Each entry is
/// checked as it passes (size, source hash, CAS name, UTF-8 ops lines). Returns the
/// listing of what was read.
pub fn copy_all(
    source: &mut dyn EntrySource,
    sink: &mut dyn EntrySink,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Listing> {
    let entries = source.entries()?;
    if entries.is_empty() {
        return Err(Error::NotAWorkspace("it holds no files".into()));
    }
    let total = entries.iter().map(|e| e.size).sum();
    let mut done = 0;
    let mut listing = Listing::new();
    for e in &entries {
        let d = transfer(source, e, Some(&mut *sink))?;
        done += d.size;
        progress(Progress {
            phase: "converting",
            done,
            total,
        });
        listing.insert(e.path.clone(), d);
    }
    sink.finish()?;
    Ok(listing)
}

/// Checks that `actual` (a destination read back) holds exactly the files of
/// `expected`, byte for byte.
pub fn compare(expected: &Listing, actual: &Listing) -> Result<()> {
    for (path, d) in expected {
        match actual.get(path) {
            None => {
                return Err(Error::NotFound(format!(
                    "{path} is missing from the result"
                )))
            }
            Some(a) if a.size != d.size => {
                return Err(Error::SizeMismatch {
                    path: path.clone(),
                    expected: d.size,
                    actual: a.size,
                })
            }
            Some(a) if a.sha256 != d.sha256 => {
                return Err(Error::HashMismatch {
                    path: path.clone(),
                    expected: d.sha256.as_str().to_string(),
                    actual: a.sha256.as_str().to_string(),
                })
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = actual.keys().find(|p| !expected.contains_key(*p)) {
        return Err(Error::DuplicateEntry(format!(
            "{extra} appeared in the result but is not in the source"
        )));
    }
    Ok(())
}
