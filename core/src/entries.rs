//! The one shape every format is read as and written from: a stream of entries.
//!
//! A plain folder, a SQLite archive and a ZIP archive are each an [`EntrySource`] and
//! an [`EntrySink`]; a conversion is "every entry of the source into the sink", with
//! hashes checked on the way ([`crate::convert`]). Nothing converts A to B directly.

use std::collections::BTreeMap;
use std::io::{self, Read};

use crate::error::{Error, Result};
use crate::ids::{Day, Sha256Hex, TreeId};
use crate::layout::{EntryKind, OpsFileKey};
use crate::ops::{parse_line, OpLine, OpsText};
use crate::sha256::Sha256;

/// One file of a workspace, as listed by a source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryMeta {
    /// Relative path (`/`-separated), from the workspace root.
    pub path: String,
    /// What the path is.
    pub kind: EntryKind,
    /// Size in bytes, as the source declares it.
    pub size: u64,
    /// The SHA-256 the source promises for the bytes (manifest, index), if it keeps one.
    pub sha256: Option<Sha256Hex>,
}

impl EntryMeta {
    /// Builds the meta of an entry whose kind is known (made from checked ids): its
    /// path is the kind's, with no classifying to do.
    pub fn of_kind(kind: EntryKind, size: u64, sha256: Option<Sha256Hex>) -> Self {
        EntryMeta {
            path: kind.path(),
            kind,
            size,
            sha256,
        }
    }

    /// Builds the meta of a path, classifying it.
    pub fn new(path: &str, size: u64, sha256: Option<Sha256Hex>) -> Result<Self> {
        Ok(EntryMeta {
            path: path.to_string(),
            kind: EntryKind::from_path(path)?,
            size,
            sha256,
        })
    }
}

/// What opening a workspace lists ([`EntrySource::outline`]).
#[derive(Debug, Default)]
pub struct Outline {
    /// Every entry but the ops files, sorted by path.
    pub entries: Vec<EntryMeta>,
    /// The trees that have ops, sorted.
    pub trees: Vec<TreeId>,
    /// The ops files, if listing the rest listed them anyway (none from an indexed
    /// source, which lists a tree's files when asked).
    pub ops_files: Option<Vec<EntryMeta>>,
}

/// A tree's snapshot as read from a source, whose bytes may still have to be made
/// (inflated): [`SnapshotBytes::bytes`] does that work, on any thread.
pub struct SnapshotBytes(Box<dyn FnOnce() -> Result<Vec<u8>> + Send>);

impl SnapshotBytes {
    /// Bytes `make` makes (and checks).
    pub fn deferred(make: impl FnOnce() -> Result<Vec<u8>> + Send + 'static) -> Self {
        Self(Box::new(make))
    }

    /// The snapshot's bytes.
    pub fn bytes(self) -> Result<Vec<u8>> {
        (self.0)()
    }
}

/// A workspace read as entries.
pub trait EntrySource {
    /// A short name of the format (`"plain"`, `"sqlite"`, `"zip"`).
    fn format(&self) -> &'static str;

    /// Every entry, sorted by path. Fails on unsafe or duplicate paths.
    fn entries(&mut self) -> Result<Vec<EntryMeta>>;

    /// Opens an entry's content as a stream (bounded memory for any size).
    fn open<'s>(&'s mut self, entry: &EntryMeta) -> Result<Box<dyn Read + 's>>;

    /// Reads a whole entry into memory (an ops file, a small file): at most
    /// `entry.size + 1` bytes, so a source that lies about a size cannot make us hold
    /// more (the caller checks the size). The default reads [`EntrySource::open`] into a
    /// buffer of the right size ([`read_bounded`]); a source that builds the bytes
    /// anyway (the SQLite archive joins rows into an ops file) hands them over as is.
    fn read_whole(&mut self, entry: &EntryMeta) -> Result<Vec<u8>> {
        read_bounded(self.open(entry)?, entry)
    }

    /// Checks of the container itself (SQLite `integrity_check`, ZIP manifest…),
    /// beyond what reading every entry checks. Problems are returned as messages.
    fn check_container(&mut self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// What opening a workspace needs listed: every entry but the ops files, and the
    /// trees with ops. The default splits [`EntrySource::entries`]; an indexed source
    /// lists just these (the SQLite archive: a few rows per blob, one per tree).
    fn outline(&mut self) -> Result<Outline> {
        let mut out = Outline::default();
        let mut ops = Vec::new();
        for e in self.entries()? {
            match &e.kind {
                EntryKind::OpsFile(k) => {
                    out.trees.push(k.tree.clone());
                    ops.push(e);
                }
                _ => out.entries.push(e),
            }
        }
        out.trees.sort();
        out.trees.dedup();
        out.ops_files = Some(ops);
        Ok(out)
    }

    /// The stored snapshot of `tree` ([`crate::reptree::RepTree::snapshot`]'s bytes),
    /// if the source keeps one (format 3 of the SQLite archive); untrusted like every
    /// other byte of the source. In two steps, so that the second can run on another
    /// thread: the read, here, and the work that makes the bytes from what was read
    /// (inflating), in the [`SnapshotBytes`]. The default keeps none.
    fn tree_snapshot_read(&mut self, tree: &TreeId) -> Result<Option<SnapshotBytes>> {
        let _ = tree;
        Ok(None)
    }

    /// [`EntrySource::tree_snapshot_read`] in one step: the snapshot's bytes.
    fn tree_snapshot(&mut self, tree: &TreeId) -> Result<Option<Vec<u8>>> {
        self.tree_snapshot_read(tree)?
            .map(SnapshotBytes::bytes)
            .transpose()
    }

    /// The ops of `tree` stored in day folders `from..=to` (both optional), in the
    /// order days, then peer, then file kind, then line; the seed's
    /// `getOperations(treeId, dateRange)`. The default reads the matching ops files;
    /// indexed formats override it.
    fn get_operations(
        &mut self,
        tree: &TreeId,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Vec<Operation>> {
        let entries = self.entries()?;
        operations_of(self, entries, tree, from, to)
    }
}

/// The body of [`EntrySource::get_operations`] over a given list of entries (a source
/// that can list one tree's folder alone passes just those).
pub fn operations_of<S: EntrySource + ?Sized>(
    source: &mut S,
    entries: Vec<EntryMeta>,
    tree: &TreeId,
    from: Option<Day>,
    to: Option<Day>,
) -> Result<Vec<Operation>> {
    let files = select_ops_files(
        entries.into_iter().filter_map(|e| match &e.kind {
            EntryKind::OpsFile(k) => Some((k.clone(), e)),
            _ => None,
        }),
        tree,
        from,
        to,
    );
    let mut out = Vec::new();
    for (key, meta) in files {
        let bytes = source.read_whole(&meta)?;
        push_operations(&key, &meta.path, &bytes, &mut out)?;
    }
    Ok(out)
}

/// The ops files of `tree` in day folders `from..=to`, in `getOperations` order (day,
/// peer, file kind).
pub fn select_ops_files<T>(
    files: impl IntoIterator<Item = (OpsFileKey, T)>,
    tree: &TreeId,
    from: Option<Day>,
    to: Option<Day>,
) -> Vec<(OpsFileKey, T)> {
    let mut out: Vec<(OpsFileKey, T)> = files
        .into_iter()
        .filter(|(k, _)| {
            &k.tree == tree && from.is_none_or(|f| k.day >= f) && to.is_none_or(|t| k.day <= t)
        })
        .collect();
    out.sort_by(|a, b| {
        (a.0.day, &a.0.peer, a.0.kind.as_str()).cmp(&(b.0.day, &b.0.peer, b.0.kind.as_str()))
    });
    out
}

/// Appends the lines of the ops file `key` (at `path`, holding `bytes`) to `out`.
pub fn push_operations(
    key: &OpsFileKey,
    path: &str,
    bytes: &[u8],
    out: &mut Vec<Operation>,
) -> Result<()> {
    let text = OpsText::split(bytes).map_err(|line| Error::InvalidUtf8 {
        path: path.to_string(),
        line,
    })?;
    // The key's text is made once per file, not once per line (a 1,000-op tree read
    // whole spent a tenth of its time formatting days).
    let (day, peer, file_kind) = (
        key.day.to_string(),
        key.peer.as_str().to_string(),
        key.kind.as_str().to_string(),
    );
    out.reserve(text.lines.len());
    out.extend(text.lines.into_iter().map(|line| Operation {
        day: day.clone(),
        peer: peer.clone(),
        file_kind: file_kind.clone(),
        line: line.to_string(),
    }));
    Ok(())
}

/// One op line as stored, with where it is stored: what `getOperations` returns.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// The day folder, `YYYY-MM-DD`.
    pub day: String,
    /// The peer (from the file name).
    pub peer: String,
    /// `m`, `p` or `legacy`: the file it is in.
    pub file_kind: String,
    /// The exact line text Sila wrote.
    pub line: String,
}

impl Operation {
    /// Wraps a line of the ops file `key`.
    pub fn new(key: &OpsFileKey, line: &str) -> Self {
        Operation {
            day: key.day.to_string(),
            peer: key.peer.as_str().to_string(),
            file_kind: key.kind.as_str().to_string(),
            line: line.to_string(),
        }
    }

    /// The line as a JSON object: `{day, peer, counter, target, parent}` for a move,
    /// `{day, peer, counter, target, key, value}` for a property (value as JSON;
    /// `{}`/`[]` deletions kept as written), `{day, peer, raw}` otherwise.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{json, Value};
        let kind = crate::ops::OpsFileKind::parse(&self.file_kind)
            .unwrap_or(crate::ops::OpsFileKind::Props);
        let mut v = match parse_line(&self.line, kind) {
            OpLine::Move {
                counter,
                target,
                parent,
            } => json!({"op": "move", "counter": counter, "target": target, "parent": parent}),
            OpLine::Prop {
                counter,
                target,
                key,
                value,
            } => {
                let value: Value = serde_json::from_str(value).unwrap_or(Value::Null);
                json!({"op": "set", "counter": counter, "target": target, "key": key, "value": value})
            }
            OpLine::Raw(raw) => json!({"op": "raw", "raw": raw}),
        };
        if let Value::Object(m) = &mut v {
            m.insert("day".into(), Value::String(self.day.clone()));
            m.insert("peer".into(), Value::String(self.peer.clone()));
        }
        v
    }
}

/// The content handed to a sink: an ops file already split into lines (it was read
/// whole and checked to be UTF-8), or a stream.
pub enum Content<'a> {
    /// An ops file: its bytes and their lines.
    Ops {
        /// The exact file bytes.
        bytes: &'a [u8],
        /// The same bytes split into lines.
        text: &'a OpsText<'a>,
    },
    /// Any other file, streamed.
    Stream(&'a mut dyn Read),
}

/// A workspace written from entries.
pub trait EntrySink {
    /// Writes one entry. `entry.size` is the exact number of bytes the content yields.
    fn put(&mut self, entry: &EntryMeta, content: Content<'_>) -> Result<()>;
    /// Finishes the workspace (commit, write the manifest, close).
    fn finish(&mut self) -> Result<()>;
}

/// What was read of one entry: its real size and hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest256 {
    /// Bytes read.
    pub size: u64,
    /// Their SHA-256.
    pub sha256: Sha256Hex,
}

/// The sorted `path → (size, sha256)` listing of a workspace: what `sha256sum` over
/// the plain folder gives, whatever the format.
pub type Listing = BTreeMap<String, Digest256>;

/// A reader that hashes and counts what passes through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
    /// Bytes read so far and their hash.
    pub fn finish(self) -> Digest256 {
        Digest256 {
            size: self.count,
            sha256: Sha256Hex::from_digest(&self.hasher.finalize()),
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Reads at most `entry.size + 1` bytes of `r` (an entry's content), refusing an entry
/// declared larger than [`MAX_OPS_FILE`]. The buffer grows to the declared size only
/// once the first 16 MiB have been read, so a lying size costs no memory, and a true
/// one no copy.
pub fn read_bounded(r: impl Read, entry: &EntryMeta) -> Result<Vec<u8>> {
    const FIRST: u64 = 16 << 20;
    refuse_oversized(entry)?;
    let want = entry.size + 1;
    let err = |e| Error::io(&entry.path, e);
    let oom = |_| Error::io(&entry.path, io::ErrorKind::OutOfMemory.into());
    let mut r = r.take(want);
    let mut v = Vec::new();
    v.try_reserve_exact(want.min(FIRST) as usize).map_err(oom)?;
    (&mut r).take(FIRST).read_to_end(&mut v).map_err(err)?;
    if v.len() as u64 == FIRST && want > FIRST {
        v.try_reserve_exact((want - FIRST) as usize).map_err(oom)?;
        r.read_to_end(&mut v).map_err(err)?;
    }
    Ok(v)
}

/// Refuses, by its declared size, an entry too big to be read whole ([`MAX_OPS_FILE`]).
fn refuse_oversized(entry: &EntryMeta) -> Result<()> {
    if entry.size > MAX_OPS_FILE {
        return Err(Error::SizeMismatch {
            path: entry.path.clone(),
            expected: MAX_OPS_FILE,
            actual: entry.size,
        });
    }
    Ok(())
}

/// Reads a whole (small) entry into memory, mapping I/O errors to `path`.
pub fn read_all(mut r: impl Read, path: &str) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    r.read_to_end(&mut v).map_err(|e| Error::io(path, e))?;
    Ok(v)
}

/// Checks what was read of `entry` against everything that promises its bytes: the
/// declared size, the source's hash, and for a CAS file its name.
pub fn check_digest(entry: &EntryMeta, got: &Digest256) -> Result<()> {
    if got.size != entry.size {
        return Err(Error::SizeMismatch {
            path: entry.path.clone(),
            expected: entry.size,
            actual: got.size,
        });
    }
    let promised = [
        entry.sha256.as_ref(),
        match &entry.kind {
            EntryKind::StaticFile(h) => Some(h),
            _ => None,
        },
    ];
    for expected in promised.into_iter().flatten() {
        if expected != &got.sha256 {
            return Err(Error::HashMismatch {
                path: entry.path.clone(),
                expected: expected.as_str().to_string(),
                actual: got.sha256.as_str().to_string(),
            });
        }
    }
    Ok(())
}

/// Finds the entry of `kind` and reads it whole (for small files and single blobs),
/// checked against everything that promises its bytes ([`check_digest`]); `None` if
/// the workspace has no such entry.
pub fn read_entry(source: &mut dyn EntrySource, kind: &EntryKind) -> Result<Option<Vec<u8>>> {
    let Some(entry) = source.entries()?.into_iter().find(|e| &e.kind == kind) else {
        return Ok(None);
    };
    let mut hashing = HashingReader::new(source.open(&entry)?.take(entry.size.saturating_add(1)));
    let bytes = read_all(&mut hashing, &entry.path)?;
    check_digest(&entry, &hashing.finish())?;
    Ok(Some(bytes))
}

/// The id in `space.json`; `None` without a `space.json` or without an id in it.
pub fn read_space_id(source: &mut dyn EntrySource) -> Result<Option<String>> {
    Ok(read_entry(source, &EntryKind::SpaceJson)?
        .and_then(|b| crate::space::space_id_from_json(&b)))
}

/// Largest ops file read whole into memory (ops files are one peer's day; anything
/// larger is refused rather than risking memory).
pub const MAX_OPS_FILE: u64 = 1 << 30;

/// Reads one entry from `source`, checks it ([`check_digest`], UTF-8 ops lines), and
/// hands it to `sink` (if any). Returns what was read. Reading is bounded by the
/// declared size plus one byte, so a lying archive cannot make us read more.
pub fn transfer(
    source: &mut dyn EntrySource,
    entry: &EntryMeta,
    sink: Option<&mut dyn EntrySink>,
) -> Result<Digest256> {
    let digest = if let EntryKind::OpsFile(_) = entry.kind {
        refuse_oversized(entry)?;
        let bytes = source.read_whole(entry)?;
        let digest = Digest256 {
            size: bytes.len() as u64,
            sha256: Sha256Hex::of(&bytes),
        };
        check_digest(entry, &digest)?;
        let text = OpsText::split(&bytes).map_err(|line| Error::InvalidUtf8 {
            path: entry.path.clone(),
            line,
        })?;
        if let Some(sink) = sink {
            sink.put(
                entry,
                Content::Ops {
                    bytes: &bytes,
                    text: &text,
                },
            )?;
        }
        digest
    } else {
        let reader = source.open(entry)?;
        let mut hashing = HashingReader::new(reader.take(entry.size.saturating_add(1)));
        match sink {
            Some(sink) => {
                sink.put(entry, Content::Stream(&mut hashing))?;
                // Drain whatever the sink left, so an over-long entry is noticed.
                io::copy(&mut hashing, &mut io::sink()).map_err(|e| Error::io(&entry.path, e))?;
            }
            None => {
                io::copy(&mut hashing, &mut io::sink()).map_err(|e| Error::io(&entry.path, e))?;
            }
        }
        let digest = hashing.finish();
        check_digest(entry, &digest)?;
        digest
    };
    Ok(digest)
}

/// Progress of long work: `done` of `total` bytes in `phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress<'a> {
    /// What is being done (`"reading"`, `"converting"`, `"verifying"`).
    pub phase: &'a str,
    /// Bytes done.
    pub done: u64,
    /// Bytes in all.
    pub total: u64,
}

/// Reads every entry of `source`, checks each, and returns the listing.
pub fn listing(
    source: &mut dyn EntrySource,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Listing> {
    let entries = source.entries()?;
    let total = entries.iter().map(|e| e.size).sum();
    let mut done = 0;
    let mut out = Listing::new();
    for e in &entries {
        let d = transfer(source, e, None)?;
        done += e.size;
        progress(Progress {
            phase: "verifying",
            done,
            total,
        });
        out.insert(e.path.clone(), d);
    }
    Ok(out)
}

/// Checks a sorted list of entries for what no folder can hold, so that every reader
/// refuses it up front (and `verify` reports it) rather than a later extraction: the
/// same path twice, and a path that is both a file and a folder (`sila.md` and
/// `sila.md/x`, at any depth).
pub fn check_unique(entries: &[EntryMeta]) -> Result<()> {
    for w in entries.windows(2) {
        if w[0].path == w[1].path {
            return Err(Error::DuplicateEntry(w[0].path.clone()));
        }
    }
    let files: std::collections::BTreeSet<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    for e in entries {
        let folders = e.path.match_indices('/').map(|(i, _)| &e.path[..i]);
        if let Some(file) = folders.into_iter().find(|f| files.contains(f)) {
            return Err(Error::DuplicateEntry(format!(
                "{file} is both a file and a folder (of {})",
                e.path
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryWorkspace;

    fn listing_of(paths: &[&str]) -> Result<Vec<EntryMeta>> {
        let mut w = MemoryWorkspace::new();
        for p in paths {
            w.insert(p, &b"x"[..]);
        }
        w.entries()
    }

    #[test]
    fn a_path_both_a_file_and_a_folder_is_refused() {
        for paths in [
            &["sila.md", "sila.md/x"][..],
            // Names that sort between the file and its "children".
            &["sila.md", "sila.md-x", "sila.md.bak", "sila.md/x"][..],
            &["space-v1/files", "space-v1/files/static/sha256/2c/ab"][..],
            &["space-v1", "space-v1/space.json"][..],
            &["a/b", "a/b/c/d/e"][..],
        ] {
            match listing_of(paths) {
                Err(Error::DuplicateEntry(m)) => assert!(m.contains("both a file and a folder")),
                other => panic!("{paths:?}: {other:?}"),
            }
        }
        // Siblings and look-alike prefixes are fine.
        assert!(listing_of(&["sila.md", "sila.mdx/y", "sila/md", "a/b", "a/bc/d"]).is_ok());
    }
}
