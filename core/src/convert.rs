//! Conversion: every entry of a source into a sink, hashes checked on the way, and
//! the result compared with the source after it is read back.
//!
//! Hosts wrap this with their own "write to a temporary name, verify, move into
//! place" (the native filesystem backend does), so a failed conversion never leaves
//! a half-written destination and never touches the source.

use crate::entries::{transfer, Digest256, EntrySink, EntrySource, Listing, Progress};
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
            None => return Err(missing(path)),
            Some(a) => same(path, d, a)?,
        }
    }
    if let Some(extra) = actual.keys().find(|p| !expected.contains_key(*p)) {
        return Err(extra_entry(extra));
    }
    Ok(())
}

/// [`compare`] of `expected` with the [`listing`](crate::entries::listing) of `source`
/// (a destination read back, every entry checked as it passes), in one pass and
/// without the second listing in memory: the entries come sorted by path, as
/// `expected` is, and are matched as they are read.
pub fn compare_source(
    expected: &Listing,
    source: &mut dyn EntrySource,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<()> {
    let mut entries = source.entries()?;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let total = entries.iter().map(|e| e.size).sum();
    let mut want = expected.iter().peekable();
    let mut done = 0;
    for e in &entries {
        if let Some((p, _)) = want.peek().filter(|(p, _)| p.as_str() < e.path.as_str()) {
            return Err(missing(p));
        }
        let Some((_, d)) = want.next_if(|(p, _)| **p == e.path) else {
            return Err(extra_entry(&e.path));
        };
        same(&e.path, d, &transfer(source, e, None)?)?;
        done += e.size;
        progress(Progress {
            phase: "verifying",
            done,
            total,
        });
    }
    match want.next() {
        Some((p, _)) => Err(missing(p)),
        None => Ok(()),
    }
}

fn missing(path: &str) -> Error {
    Error::NotFound(format!("{path} is missing from the result"))
}

fn extra_entry(path: &str) -> Error {
    Error::DuplicateEntry(format!(
        "{path} appeared in the result but is not in the source"
    ))
}

/// `expected` against `actual` for one path: sizes, then hashes.
fn same(path: &str, expected: &Digest256, actual: &Digest256) -> Result<()> {
    if actual.size != expected.size {
        return Err(Error::SizeMismatch {
            path: path.to_string(),
            expected: expected.size,
            actual: actual.size,
        });
    }
    if actual.sha256 != expected.sha256 {
        return Err(Error::HashMismatch {
            path: path.to_string(),
            expected: expected.sha256.as_str().to_string(),
            actual: actual.sha256.as_str().to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entries::listing;
    use crate::memory::MemoryWorkspace;

    fn ws(files: &[(&str, &str)]) -> MemoryWorkspace {
        let mut w = MemoryWorkspace::new();
        for (p, b) in files {
            w.insert(p, b.as_bytes());
        }
        w
    }

    #[test]
    fn a_result_read_back_is_compared_in_one_pass_as_compare_would() {
        let base = [("a", "1"), ("b/c", "22"), ("d", "333")];
        let expected = listing(&mut ws(&base), &mut |_| {}).unwrap();
        type Files<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Files, Option<&str>); 6] = [
            (&base, None),
            (&[("b/c", "22"), ("d", "333")], Some("NotFound")),
            (&[("a", "1"), ("b/c", "22")], Some("NotFound")),
            (
                &[("a", "1"), ("b/c", "22"), ("c", "x"), ("d", "333")],
                Some("DuplicateEntry"),
            ),
            (
                &[("a", "1"), ("b/c", "2"), ("d", "333")],
                Some("SizeMismatch"),
            ),
            (
                &[("a", "1"), ("b/c", "23"), ("d", "333")],
                Some("HashMismatch"),
            ),
        ];
        for (files, want) in cases {
            let mut w = ws(files);
            let one_pass = compare_source(&expected, &mut w, &mut |_| {});
            let two = compare(&expected, &listing(&mut w, &mut |_| {}).unwrap());
            assert_eq!(one_pass.as_ref().err().map(Error::code), want, "{files:?}");
            assert_eq!(two.as_ref().err().map(Error::code), want, "{files:?}");
        }
    }
}
