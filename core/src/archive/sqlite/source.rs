//! Reading a SQLite archive: [`SqliteSource`]. Every read stops at the size the
//! archive declares for the file (ops files and chunked files alike), so rows beyond it
//! are never loaded.

use std::io::{self, Read};

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};

use super::blocks::{placement, placement_of, BlockCache};
use super::guard::{check_schema, fresh_query};
use super::listing::meta_row;
use super::{to_i64, SqlExt, APPLICATION_ID, CHUNK_SIZE, FORMAT, FORMAT_VERSION};
use crate::entries::{
    check_unique, push_operations, read_bounded, EntryMeta, EntrySource, Operation, Outline,
    SnapshotBytes, MAX_OPS_FILE,
};
use crate::error::{Error, Result};
use crate::ids::{Day, PeerId, Sha256Hex, TreeId};
use crate::layout::{EntryKind, OpsFileKey};
use crate::ops::{encode_line, OpLine, OpsFileKind};

/// The rows of one ops file (`?1`), in order, each with `n`, the bytes of its text
/// columns; a text column is loaded only if `n` is at most `?2` (the file's declared
/// size): `octet_length()` reads the record header, not the text. Walks the primary
/// key: no sort, no temporary table.
pub(crate) const OPS_ROWS: &str = "SELECT kind, clock, n,
   CASE WHEN n <= ?2 THEN target_id END, CASE WHEN n <= ?2 THEN parent_id END,
   CASE WHEN n <= ?2 THEN key END, CASE WHEN n <= ?2 THEN value END,
   CASE WHEN n <= ?2 THEN raw END
 FROM (SELECT *, coalesce(octet_length(target_id), 0)
   + coalesce(octet_length(parent_id), 0) + coalesce(octet_length(key), 0)
   + coalesce(octet_length(value), 0) + coalesce(octet_length(raw), 0) AS n
   FROM tree_ops WHERE file_id = ?1) ORDER BY seq";

/// Format 2: the ops files of tree `?1` from day `?2` to day `?3`, in primary-key
/// order (day, peer, kind): no sort.
pub(crate) const OPS_OF_TREE: &str = "SELECT day, peer_id, kind, size, block, offset
 FROM op_files WHERE tree_id = ?1 AND day >= ?2 AND day <= ?3";

/// One chunk (`?1` path, `?2` seq): whether deflated, its length, and its data if it is
/// at most `?3` bytes (a bigger one is not loaded).
pub(crate) const CHUNK_ROW: &str = "SELECT deflated, octet_length(data),
   CASE WHEN octet_length(data) <= ?3 THEN data END
 FROM file_chunks WHERE path = ?1 AND seq = ?2";

/// Reads a workspace from a database written by [`SqliteSink`](super::SqliteSink), in
/// format 1, 2 or 3. Open a file with [`open_untrusted`](super::open_untrusted) (or
/// [`harden`](super::harden) a connection) first.
pub struct SqliteSource<'c> {
    pub(super) conn: &'c Connection,
    version: i64,
    blocks: BlockCache,
}

fn corrupt(reason: String) -> Error {
    Error::Corrupt {
        format: FORMAT,
        reason,
    }
}

/// Text of a column that holds text or NULL, borrowed from the row.
fn text<'r>(v: ValueRef<'r>, column: &str) -> Result<Option<&'r str>> {
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Text(t) => std::str::from_utf8(t)
            .map(Some)
            .map_err(|_| corrupt(format!("tree_ops.{column} is not UTF-8"))),
        _ => Err(corrupt(format!("tree_ops.{column} is not text"))),
    }
}

impl<'c> SqliteSource<'c> {
    /// A source over a database this build is writing (the schema is its own).
    pub(crate) fn unchecked(conn: &'c Connection, version: i64) -> Self {
        SqliteSource {
            conn,
            version,
            blocks: BlockCache::default(),
        }
    }

    /// The format version of the archive (1, 2 or 3).
    pub fn version(&self) -> i64 {
        self.version
    }

    /// Checks that `conn` holds an archive of ours in a version this build reads, with
    /// exactly the schema of that version (see [`SCHEMA_V3`](super::SCHEMA_V3),
    /// [`SCHEMA_V2`](super::SCHEMA_V2) and [`SCHEMA_V1`](super::SCHEMA_V1)).
    pub fn new(conn: &'c Connection) -> Result<Self> {
        fresh_query();
        let app: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .sql()?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .sql()?;
        if app != APPLICATION_ID {
            return Err(Error::NotAnArchive {
                format: FORMAT,
                reason: format!("application_id is {app:#x}, not {APPLICATION_ID:#x} (\"SILA\")"),
            });
        }
        if !(1..=FORMAT_VERSION).contains(&version) {
            if version > FORMAT_VERSION {
                return Err(Error::UnsupportedVersion {
                    format: FORMAT,
                    found: version,
                    supported: FORMAT_VERSION,
                });
            }
            return Err(corrupt(format!(
                "user_version {version} is not a format version"
            )));
        }
        check_schema(conn, version)?;
        Ok(SqliteSource::unchecked(conn, version))
    }

    /// A value from the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        fresh_query();
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .sql()
    }

    /// The CAS blob `hash`, read up to its declared size (the caller checks the hash),
    /// or `None` if the archive has no such file. Reads only that file's rows.
    pub fn static_file(&mut self, hash: &Sha256Hex) -> Result<Option<Vec<u8>>> {
        fresh_query();
        let size: Option<i64> = self
            .conn
            .query_row(
                "SELECT size FROM files WHERE hash = ?1",
                [hash.as_str()],
                |r| r.get(0),
            )
            .optional()
            .sql()?;
        let Some(size) = size else {
            return Ok(None);
        };
        let path = EntryKind::StaticFile(hash.clone()).path();
        let entry = meta_row(path, size, Some(hash.as_str().to_string()))?;
        self.read_whole(&entry).map(Some)
    }

    /// The row of the ops file `key`: its id and whether it ends with a newline.
    fn ops_row(&self, key: &OpsFileKey) -> Result<(i64, bool)> {
        fresh_query();
        self.conn
            .query_row(
                "SELECT id, trailing_newline FROM op_files
                 WHERE tree_id = ?1 AND day = ?2 AND peer_id = ?3 AND kind = ?4",
                params![
                    key.tree.as_str(),
                    key.day.to_string(),
                    key.peer.as_str(),
                    key.kind.as_str()
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .sql()?
            .ok_or_else(|| corrupt(format!("no op_files row for {}", key.path())))
    }

    /// The bytes of an ops file, rebuilt from its rows; fails as soon as they pass the
    /// `declared` size (or [`MAX_OPS_FILE`]), before the next row is loaded. Each line
    /// is encoded straight from the row (no copy of a long value).
    fn ops_bytes(
        &self,
        file_id: i64,
        file_kind: OpsFileKind,
        trailing: bool,
        path: &str,
        declared: u64,
    ) -> Result<Vec<u8>> {
        let limit = declared.min(MAX_OPS_FILE);
        let too_big = |actual: u64| Error::SizeMismatch {
            path: path.to_string(),
            expected: declared,
            actual,
        };
        fresh_query();
        let mut st = self.conn.prepare_cached(OPS_ROWS).sql()?;
        let mut rows = st.query(params![file_id, to_i64(limit)]).sql()?;
        let mut out = String::new();
        let mut first = true;
        while let Some(r) = rows.next().sql()? {
            fresh_query();
            // What this line adds at least (its text columns), checked before they load.
            let n: i64 = r.get(2).sql()?;
            let least = u64::try_from(n).unwrap_or(0) + u64::from(!first);
            if out.len() as u64 + least > limit {
                return Err(too_big(out.len() as u64 + least));
            }
            let col = |i: usize, name: &str| text(r.get_ref(i).sql()?, name);
            let target = col(3, "target_id")?.unwrap_or_default();
            let parent = col(4, "parent_id")?;
            let key = col(5, "key")?.unwrap_or_default();
            let value = col(6, "value")?.unwrap_or_default();
            let raw = col(7, "raw")?;
            let counter = r
                .get::<_, Option<i64>>(1)
                .sql()?
                .and_then(|c| u64::try_from(c).ok())
                .unwrap_or(0);
            let kind: Option<String> = r.get(0).sql()?;
            let op = match (raw, kind.as_deref()) {
                (Some(raw), _) => OpLine::Raw(raw),
                (None, Some("m")) => OpLine::Move {
                    counter,
                    target,
                    parent,
                },
                (None, Some("p")) => OpLine::Prop {
                    counter,
                    target,
                    key,
                    value,
                },
                _ => {
                    return Err(corrupt(format!(
                        "tree_ops row of file {file_id} has neither kind nor raw"
                    )))
                }
            };
            if !first {
                out.push('\n');
            }
            first = false;
            encode_line(&op, file_kind, &mut out);
            if out.len() as u64 > limit {
                return Err(too_big(out.len() as u64));
            }
        }
        if trailing {
            out.push('\n');
        }
        Ok(out.into_bytes())
    }

    fn ops_file(&self, entry: &EntryMeta, key: &OpsFileKey) -> Result<Vec<u8>> {
        if self.version == 1 {
            let (id, trailing) = self.ops_row(key)?;
            return self.ops_bytes(id, key.kind, trailing, &entry.path, entry.size);
        }
        let place = placement(self.conn, key)?
            .ok_or_else(|| corrupt(format!("no op_files row for {}", key.path())))?;
        let block = self.blocks.get(self.conn, place.block)?;
        Ok(place.slice(&block, &entry.path)?.to_vec())
    }
}

impl EntrySource for SqliteSource<'_> {
    fn format(&self) -> &'static str {
        "sqlite"
    }

    fn entries(&mut self) -> Result<Vec<EntryMeta>> {
        let mut out = self.entries_but_ops()?;
        out.extend(self.ops_entries()?);
        out.sort_by(|a, b| a.path.cmp(&b.path));
        check_unique(&out)?;
        Ok(out)
    }

    fn outline(&mut self) -> Result<Outline> {
        self.outline_rows()
    }

    fn open<'s>(&'s mut self, entry: &EntryMeta) -> Result<Box<dyn Read + 's>> {
        match &entry.kind {
            EntryKind::OpsFile(key) => Ok(Box::new(io::Cursor::new(self.ops_file(entry, key)?))),
            _ => Ok(Box::new(ChunkReader {
                conn: self.conn,
                path: entry.path.clone(),
                declared: entry.size,
                read: 0,
                seq: 0,
                buf: Vec::new(),
                pos: 0,
                done: false,
            })),
        }
    }

    fn read_whole(&mut self, entry: &EntryMeta) -> Result<Vec<u8>> {
        match &entry.kind {
            EntryKind::OpsFile(key) => self.ops_file(entry, key),
            _ => read_bounded(self.open(entry)?, entry),
        }
    }

    fn check_container(&mut self) -> Result<Vec<String>> {
        fresh_query();
        let mut st = self.conn.prepare("PRAGMA integrity_check").sql()?;
        let rows: Vec<String> = st
            .query_map([], |r| r.get(0))
            .sql()?
            .collect::<rusqlite::Result<_>>()
            .sql()?;
        let mut problems: Vec<String> = rows
            .into_iter()
            .filter(|r| r != "ok")
            .map(|r| format!("integrity_check: {r}"))
            .collect();
        fresh_query();
        let orphans: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM (SELECT DISTINCT path FROM file_chunks) c
                 WHERE c.path NOT IN (SELECT path FROM raw_files)
                   AND c.path NOT LIKE 'space-v1/files/%'",
                [],
                |r| r.get(0),
            )
            .sql()?;
        if orphans > 0 {
            problems.push(format!("{orphans} chunked files belong to no entry"));
        }
        if self.version >= 2 {
            fresh_query();
            let unused: i64 = self
                .conn
                .query_row(
                    "SELECT count(*) FROM op_blocks WHERE id NOT IN (SELECT block FROM op_files)",
                    [],
                    |r| r.get(0),
                )
                .sql()?;
            if unused > 0 {
                problems.push(format!("{unused} ops blocks belong to no ops file"));
            }
        }
        if self.version >= 3 {
            let orphans = super::snapshots::orphans(self.conn)?;
            if orphans > 0 {
                problems.push(format!(
                    "{orphans} tree snapshots belong to no tree with ops"
                ));
            }
        }
        Ok(problems)
    }

    fn tree_snapshot_read(&mut self, tree: &TreeId) -> Result<Option<SnapshotBytes>> {
        if self.version < 3 {
            return Ok(None);
        }
        super::snapshots::read(self.conn, tree)
    }

    fn get_operations(
        &mut self,
        tree: &TreeId,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Vec<Operation>> {
        let from = from.map(|d| d.to_string()).unwrap_or_default();
        let to = to
            .map(|d| d.to_string())
            .unwrap_or_else(|| "9999-99-99".into());
        if self.version >= 2 {
            return self.operations_v2(tree, &from, &to);
        }
        fresh_query();
        let mut st = self
            .conn
            .prepare(
                "SELECT id, day, peer_id, kind, trailing_newline, size FROM op_files
                 WHERE tree_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day, peer_id, kind",
            )
            .sql()?;
        type FileRow = (i64, String, String, String, bool, i64);
        let files: Vec<FileRow> = st
            .query_map(params![tree.as_str(), from, to], |r| {
                fresh_query();
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .sql()?
            .collect::<rusqlite::Result<_>>()
            .sql()?;
        let mut out = Vec::new();
        for (id, day, peer, kind, trailing, size) in files {
            let kind = OpsFileKind::parse(&kind)
                .ok_or_else(|| corrupt(format!("op_files.kind {kind:?}")))?;
            let key = OpsFileKey {
                tree: tree.clone(),
                day: Day::parse(&day)?,
                peer: PeerId::new(&peer)?,
                kind,
            };
            let declared = u64::try_from(size).unwrap_or(0);
            let path = key.path();
            let bytes = self.ops_bytes(id, kind, trailing, &path, declared)?;
            push_operations(&key, &path, &bytes, &mut out)?;
        }
        Ok(out)
    }
}

impl SqliteSource<'_> {
    /// `get_operations` of format 2: the tree's files in the range, in primary-key
    /// order (day, peer, kind), each sliced out of its (inflated) block.
    fn operations_v2(&mut self, tree: &TreeId, from: &str, to: &str) -> Result<Vec<Operation>> {
        fresh_query();
        let mut st = self.conn.prepare_cached(OPS_OF_TREE).sql()?;
        type FileRow = (String, String, String, i64, i64, i64);
        let files: Vec<FileRow> = st
            .query_map(params![tree.as_str(), from, to], |r| {
                fresh_query();
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .sql()?
            .collect::<rusqlite::Result<_>>()
            .sql()?;
        let mut out = Vec::new();
        for (day, peer, kind, size, block, offset) in files {
            let key = ops_key(tree.clone(), &day, &peer, &kind)?;
            let path = key.path();
            let place = placement_of(size, block, offset, &path)?;
            if place.size > MAX_OPS_FILE {
                return Err(Error::SizeMismatch {
                    path,
                    expected: MAX_OPS_FILE,
                    actual: place.size,
                });
            }
            let bytes = self.blocks.get(self.conn, place.block)?;
            push_operations(&key, &path, place.slice(&bytes, &path)?, &mut out)?;
        }
        Ok(out)
    }
}

/// The key of an ops file from the text of its `op_files` row; a day or kind that is
/// not one is `Corrupt`, an unsafe peer id `InvalidId`.
pub(super) fn ops_key(tree: TreeId, day: &str, peer: &str, kind: &str) -> Result<OpsFileKey> {
    Ok(OpsFileKey {
        tree,
        day: Day::parse(day).map_err(|_| corrupt(format!("op_files.day {day:?} is not a date")))?,
        peer: PeerId::new(peer)?,
        kind: OpsFileKind::parse(kind).ok_or_else(|| corrupt(format!("op_files.kind {kind:?}")))?,
    })
}

/// The `sha256` column of a row: hex text in format 1, 32 bytes in format 2.
pub(super) fn sha_column(v: ValueRef<'_>, bytes: bool) -> Result<String> {
    match (v, bytes) {
        (ValueRef::Blob(b), true) if b.len() == 32 => Ok(crate::ids::hex(b)),
        (ValueRef::Text(t), false) => std::str::from_utf8(t)
            .map(str::to_string)
            .map_err(|_| corrupt("op_files.sha256 is not UTF-8".into())),
        _ => Err(corrupt("op_files.sha256 is not a SHA-256 digest".into())),
    }
}

/// Streams a chunked file out of `file_chunks`, one chunk in memory at a time, and
/// fails as soon as the chunks hold more than the file's declared size.
struct ChunkReader<'c> {
    conn: &'c Connection,
    path: String,
    declared: u64,
    read: u64,
    seq: i64,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl ChunkReader<'_> {
    fn next_chunk(&mut self) -> Result<bool> {
        fresh_query();
        // A chunk is at most CHUNK_SIZE bytes, deflated or not: a bigger one is not loaded.
        let row: Option<(bool, i64, Option<Vec<u8>>)> = self
            .conn
            .prepare_cached(CHUNK_ROW)
            .sql()?
            .query_row(params![self.path, self.seq, CHUNK_SIZE as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .sql()?;
        let Some((deflated, len, data)) = row else {
            return Ok(false);
        };
        let Some(data) = data else {
            return Err(corrupt(format!(
                "chunk {} of {} holds {len} bytes, more than a chunk",
                self.seq, self.path
            )));
        };
        // A chunk holds at most CHUNK_SIZE bytes, and never more than the file has left
        // (plus one, so an over-long file is noticed by whoever checks its size).
        let room = (CHUNK_SIZE as u64).min(self.declared.saturating_sub(self.read) + 1);
        self.buf = if deflated {
            let mut out = Vec::with_capacity(room as usize);
            flate2::read::DeflateDecoder::new(&data[..])
                .take(room)
                .read_to_end(&mut out)
                .map_err(|e| corrupt(format!("chunk {} of {}: {e}", self.seq, self.path)))?;
            out
        } else {
            data
        };
        if self.buf.len() as u64 > room {
            self.buf.truncate(room as usize);
        }
        self.read += self.buf.len() as u64;
        if self.read > self.declared {
            // Nothing after this chunk is read: the size check of the caller fails.
            self.done = true;
        }
        self.pos = 0;
        self.seq += 1;
        Ok(true)
    }
}

impl Read for ChunkReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.done || !self.next_chunk().map_err(Error::into_io)? {
                self.done = true;
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
