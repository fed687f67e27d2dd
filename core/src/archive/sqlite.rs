//! The SQLite archive, format version 1: one database file per workspace.
//!
//! ```text
//! PRAGMA application_id = 0x53494C41 ("SILA")   marks the file as ours
//! PRAGMA user_version   = 1                      the format version; newer is refused
//!
//! meta(key, value)              format_version, space_id, writer, source_format
//! spaces(id, name, …)           the space tree root's properties (last writer wins)
//! op_files(id, tree_id, day, peer_id, kind, sha256, size, trailing_newline)
//!                               one row per ops file; UNIQUE(tree_id, day, peer_id, kind)
//!                               doubles as the (tree, day) index
//! tree_ops(file_id, seq, clock, peer_id, tree_id, kind, target_id, parent_id, key, value, raw)
//!                               one row per line, in file order (seq); `value` is the raw
//!                               JSON text; `raw` holds the whole line where the structured
//!                               form would not give back the same bytes (then the other
//!                               columns are NULL); index (tree_id, clock, peer_id)
//! files(hash, size, mime_type)  CAS blobs of files/static
//! mutable_files(uuid, size, sha256)  blobs of files/var
//! raw_files(path, size, sha256) sila.md, space.json, secrets (still encrypted), unknown files
//! file_chunks(path, seq, deflated, data)
//!                               content of files, mutable_files and raw_files in 1 MiB
//!                               chunks (raw, or raw-deflate where that saves space), so a
//!                               file of any size streams in and out in bounded memory
//! ```
//!
//! The whole archive is written in one transaction; the host verifies it (read back,
//! every hash re-checked, `PRAGMA integrity_check`) before moving it into place.

use std::io::{self, Read, Write};

use rusqlite::{params, Connection, ErrorCode, OptionalExtension};

use crate::compress::{sniff_mime, worth_deflating};
use crate::entries::{
    check_unique, read_all, Content, EntryMeta, EntrySink, EntrySource, HashingReader, Operation,
    MAX_OPS_FILE,
};
use crate::error::{Error, Result};
use crate::ids::{Day, MutableId, PeerId, Sha256Hex, TreeId};
use crate::layout::{EntryKind, OpsFileKey};
use crate::ops::{encode_line, parse_line, OpLine, OpsFileKind, OpsText};
use crate::space::{space_id_from_json, RootProps};

/// `PRAGMA application_id` of our archives: "SILA" in ASCII.
pub const APPLICATION_ID: i32 = 0x5349_4C41;
/// The format version this build writes and reads (`PRAGMA user_version`).
pub const FORMAT_VERSION: i64 = 1;
/// Size of a content chunk.
pub const CHUNK_SIZE: usize = 1 << 20;

const FORMAT: &str = "SQLite";

/// The schema of format version 1.
pub const SCHEMA_V1: &str = r#"
CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE spaces(
  id TEXT PRIMARY KEY NOT NULL, uri TEXT, name TEXT, created_at TEXT, user_id TEXT,
  ttabs_layout TEXT, theme TEXT, color_scheme TEXT, drafts TEXT);
CREATE TABLE op_files(
  id INTEGER PRIMARY KEY, tree_id TEXT NOT NULL, day TEXT NOT NULL, peer_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('m', 'p', 'legacy')),
  sha256 TEXT NOT NULL, size INTEGER NOT NULL, trailing_newline INTEGER NOT NULL,
  UNIQUE (tree_id, day, peer_id, kind));
CREATE TABLE tree_ops(
  file_id INTEGER NOT NULL REFERENCES op_files(id), seq INTEGER NOT NULL,
  clock INTEGER, peer_id TEXT NOT NULL, tree_id TEXT NOT NULL,
  kind TEXT CHECK (kind IN ('m', 'p')), target_id TEXT, parent_id TEXT, key TEXT, value TEXT,
  raw TEXT,
  PRIMARY KEY (file_id, seq)) WITHOUT ROWID;
CREATE INDEX tree_ops_by_clock ON tree_ops(tree_id, clock, peer_id);
CREATE TABLE files(hash TEXT PRIMARY KEY NOT NULL, size INTEGER NOT NULL, mime_type TEXT) WITHOUT ROWID;
CREATE TABLE mutable_files(uuid TEXT PRIMARY KEY NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE raw_files(path TEXT PRIMARY KEY NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE file_chunks(
  path TEXT NOT NULL, seq INTEGER NOT NULL, deflated INTEGER NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY (path, seq));
"#;

/// The tables of [`SCHEMA_V1`], which a reader requires.
const TABLES_V1: [&str; 8] = [
    "meta",
    "spaces",
    "op_files",
    "tree_ops",
    "files",
    "mutable_files",
    "raw_files",
    "file_chunks",
];

/// Maps an SQLite error to ours: "not a database" and "corrupt" become typed errors.
fn sql(e: rusqlite::Error) -> Error {
    if let rusqlite::Error::InvalidColumnType(..)
    | rusqlite::Error::FromSqlConversionFailure(..)
    | rusqlite::Error::IntegralValueOutOfRange(..)
    | rusqlite::Error::Utf8Error(..) = e
    {
        return Error::Corrupt {
            format: FORMAT,
            reason: e.to_string(),
        };
    }
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => Error::NotAnArchive {
            format: FORMAT,
            reason: "the file is not an SQLite database".into(),
        },
        Some(ErrorCode::DatabaseCorrupt) => Error::Corrupt {
            format: FORMAT,
            reason: e.to_string(),
        },
        _ => Error::Sqlite(e),
    }
}

trait SqlExt<T> {
    fn sql(self) -> Result<T>;
}

impl<T> SqlExt<T> for rusqlite::Result<T> {
    fn sql(self) -> Result<T> {
        self.map_err(sql)
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Writes a workspace into an empty database.
pub struct SqliteSink<'c> {
    conn: &'c Connection,
    space_id: Option<String>,
    source_format: String,
    open: bool,
}

impl<'c> SqliteSink<'c> {
    /// Creates the schema in `conn`, which must be empty, and opens the transaction
    /// that [`EntrySink::finish`] commits. `source_format` is recorded in `meta`.
    pub fn new(conn: &'c Connection, source_format: &str) -> Result<Self> {
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .sql()?;
        if tables != 0 {
            return Err(Error::AlreadyExists(
                "the target database is not empty".into(),
            ));
        }
        // The file is a temporary one until verified and moved into place, so no
        // journal is needed: a crash leaves a file that is thrown away.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
             PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {FORMAT_VERSION};
             BEGIN; {SCHEMA_V1}"
        ))
        .sql()?;
        Ok(SqliteSink {
            conn,
            space_id: None,
            source_format: source_format.to_string(),
            open: true,
        })
    }

    fn put_ops(&mut self, key: &OpsFileKey, bytes: &[u8], text: &OpsText<'_>) -> Result<()> {
        let c = self.conn;
        c.prepare_cached(
            "INSERT INTO op_files(tree_id, day, peer_id, kind, sha256, size, trailing_newline)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .sql()?
        .execute(params![
            key.tree.as_str(),
            key.day.to_string(),
            key.peer.as_str(),
            key.kind.as_str(),
            Sha256Hex::of(bytes).as_str(),
            to_i64(bytes.len() as u64),
            text.trailing_newline
        ])
        .sql()?;
        let file_id = c.last_insert_rowid();
        let mut ins = c
            .prepare_cached(
                "INSERT INTO tree_ops(file_id, seq, clock, peer_id, tree_id, kind, target_id,
                   parent_id, key, value, raw) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .sql()?;
        for (seq, line) in text.lines.iter().enumerate() {
            let (clock, kind, target, parent, k, value, raw) = match parse_line(line, key.kind) {
                OpLine::Move {
                    counter,
                    target,
                    parent,
                } => (
                    Some(to_i64(counter)),
                    Some("m"),
                    Some(target),
                    parent,
                    None,
                    None,
                    None,
                ),
                OpLine::Prop {
                    counter,
                    target,
                    key,
                    value,
                } => (
                    Some(to_i64(counter)),
                    Some("p"),
                    Some(target),
                    None,
                    Some(key),
                    Some(value),
                    None,
                ),
                OpLine::Raw(raw) => (None, None, None, None, None, None, Some(raw)),
            };
            ins.execute(params![
                file_id,
                seq as i64,
                clock,
                key.peer.as_str(),
                key.tree.as_str(),
                kind,
                target,
                parent,
                k,
                value,
                raw
            ])
            .sql()?;
        }
        Ok(())
    }

    /// Stores a stream in chunks under `path`; returns its size and hash.
    fn put_chunks(
        &mut self,
        path: &str,
        text: bool,
        r: &mut dyn Read,
    ) -> Result<(u64, Sha256Hex, Option<&'static str>)> {
        let mut hashing = HashingReader::new(r);
        let mut ins = self
            .conn
            .prepare_cached(
                "INSERT INTO file_chunks(path, seq, deflated, data) VALUES (?1, ?2, ?3, ?4)",
            )
            .sql()?;
        let mut buf = vec![0u8; CHUNK_SIZE];
        let mut deflate = None;
        let mut mime = None;
        let mut seq = 0i64;
        loop {
            let n = read_full(&mut hashing, &mut buf).map_err(|e| Error::io(path, e))?;
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            let try_deflate = *deflate.get_or_insert_with(|| {
                mime = sniff_mime(chunk);
                text || worth_deflating(chunk)
            });
            let deflated = if try_deflate {
                let d = deflate_bytes(chunk).map_err(|e| Error::io(path, e))?;
                (d.len() < n).then_some(d)
            } else {
                None
            };
            match &deflated {
                Some(d) => ins.execute(params![path, seq, true, d]),
                None => ins.execute(params![path, seq, false, chunk]),
            }
            .sql()?;
            seq += 1;
            if n < buf.len() {
                break;
            }
        }
        let d = hashing.finish();
        Ok((d.size, d.sha256, mime))
    }
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn deflate_bytes(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data)?;
    enc.finish()
}

impl EntrySink for SqliteSink<'_> {
    fn put(&mut self, entry: &EntryMeta, content: Content<'_>) -> Result<()> {
        match (&entry.kind, content) {
            (EntryKind::OpsFile(key), Content::Ops { bytes, text }) => {
                self.put_ops(key, bytes, text)
            }
            (EntryKind::OpsFile(key), Content::Stream(r)) => {
                let bytes = read_all(r.take(MAX_OPS_FILE), &entry.path)?;
                let text = OpsText::split(&bytes).map_err(|line| Error::InvalidUtf8 {
                    path: entry.path.clone(),
                    line,
                })?;
                self.put_ops(key, &bytes, &text)
            }
            (_, Content::Ops { bytes, .. }) => self.put(entry, Content::Stream(&mut &bytes[..])),
            (EntryKind::StaticFile(hash), Content::Stream(r)) => {
                let (size, _, mime) = self.put_chunks(&entry.path, false, r)?;
                self.conn
                    .execute(
                        "INSERT INTO files(hash, size, mime_type) VALUES (?1, ?2, ?3)",
                        params![hash.as_str(), to_i64(size), mime],
                    )
                    .sql()?;
                Ok(())
            }
            (EntryKind::MutableFile(uuid), Content::Stream(r)) => {
                let (size, sha, _) = self.put_chunks(&entry.path, false, r)?;
                self.conn
                    .execute(
                        "INSERT INTO mutable_files(uuid, size, sha256) VALUES (?1, ?2, ?3)",
                        params![uuid.as_str(), to_i64(size), sha.as_str()],
                    )
                    .sql()?;
                Ok(())
            }
            (kind, Content::Stream(r)) => {
                let (size, sha, _) = if matches!(kind, EntryKind::SpaceJson) {
                    // Small by nature; keep a copy to learn the space id.
                    let mut bytes = Vec::new();
                    r.take(1 << 20)
                        .read_to_end(&mut bytes)
                        .map_err(|e| Error::io(&entry.path, e))?;
                    self.space_id = space_id_from_json(&bytes);
                    self.put_chunks(&entry.path, true, &mut &bytes[..])?
                } else {
                    self.put_chunks(&entry.path, kind.is_text(), r)?
                };
                self.conn
                    .execute(
                        "INSERT INTO raw_files(path, size, sha256) VALUES (?1, ?2, ?3)",
                        params![entry.path, to_i64(size), sha.as_str()],
                    )
                    .sql()?;
                Ok(())
            }
        }
    }

    fn finish(&mut self) -> Result<()> {
        if !self.open {
            return Ok(());
        }
        let c = self.conn;
        let mut meta = vec![
            ("format_version", FORMAT_VERSION.to_string()),
            (
                "writer",
                concat!("sila-store ", env!("CARGO_PKG_VERSION")).to_string(),
            ),
            ("source_format", self.source_format.clone()),
        ];
        if let Some(id) = &self.space_id {
            meta.push(("space_id", id.clone()));
            let props = root_props(c, id)?;
            c.execute(
                "INSERT INTO spaces(id, name, created_at, theme, color_scheme) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    id,
                    props.string("name"),
                    props.string("_c"),
                    props.string("theme"),
                    props.string("colorScheme")
                ],
            )
            .sql()?;
        }
        for (k, v) in meta {
            c.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)",
                params![k, v],
            )
            .sql()?;
        }
        c.execute_batch("COMMIT").sql()?;
        self.open = false;
        Ok(())
    }
}

/// The root vertex properties of tree `tree` (last writer wins), from `tree_ops`.
fn root_props(c: &Connection, tree: &str) -> Result<RootProps> {
    let mut props = RootProps::default();
    let mut st = c
        .prepare(
            "SELECT key, value, clock, peer_id FROM tree_ops
             WHERE tree_id = ?1 AND target_id = ?1 AND kind = 'p'",
        )
        .sql()?;
    let rows = st
        .query_map([tree], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .sql()?;
    for row in rows {
        let (k, v, clock, peer) = row.sql()?;
        props.apply(&k, &v, u64::try_from(clock).unwrap_or(0), &peer);
    }
    Ok(props)
}

/// Reads a workspace from a database written by [`SqliteSink`].
pub struct SqliteSource<'c> {
    conn: &'c Connection,
}

impl<'c> SqliteSource<'c> {
    /// Checks that `conn` holds an archive of ours in a version this build reads.
    pub fn new(conn: &'c Connection) -> Result<Self> {
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
        if version != FORMAT_VERSION {
            if version > FORMAT_VERSION {
                return Err(Error::UnsupportedVersion {
                    format: FORMAT,
                    found: version,
                    supported: FORMAT_VERSION,
                });
            }
            return Err(Error::Corrupt {
                format: FORMAT,
                reason: format!("user_version {version} is not a format version"),
            });
        }
        for table in TABLES_V1 {
            let found: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .sql()?;
            if found == 0 {
                return Err(Error::Corrupt {
                    format: FORMAT,
                    reason: format!("table {table} is missing"),
                });
            }
        }
        Ok(SqliteSource { conn })
    }

    /// A value from the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .sql()
    }

    fn ops_bytes(&self, key: &OpsFileKey) -> Result<Vec<u8>> {
        let (file_id, trailing): (i64, bool) = self
            .conn
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
            .ok_or_else(|| Error::Corrupt {
                format: FORMAT,
                reason: format!("no op_files row for {}", key.path()),
            })?;
        let lines = self.ops_lines(file_id, key.kind)?;
        Ok(OpsText::join(&lines, trailing).into_bytes())
    }

    fn ops_lines(&self, file_id: i64, file_kind: OpsFileKind) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT kind, clock, target_id, parent_id, key, value, raw FROM tree_ops
                 WHERE file_id = ?1 ORDER BY seq",
            )
            .sql()?;
        let rows = st
            .query_map([file_id], |r| {
                let kind: Option<String> = r.get(0)?;
                let clock: Option<i64> = r.get(1)?;
                let target: Option<String> = r.get(2)?;
                let parent: Option<String> = r.get(3)?;
                let key: Option<String> = r.get(4)?;
                let value: Option<String> = r.get(5)?;
                let raw: Option<String> = r.get(6)?;
                Ok((kind, clock, target, parent, key, value, raw))
            })
            .sql()?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, clock, target, parent, key, value, raw) = row.sql()?;
            let counter = clock.and_then(|c| u64::try_from(c).ok()).unwrap_or(0);
            let target = target.unwrap_or_default();
            let op = match (raw.as_deref(), kind.as_deref()) {
                (Some(raw), _) => OpLine::Raw(raw),
                (None, Some("m")) => OpLine::Move {
                    counter,
                    target: &target,
                    parent: parent.as_deref(),
                },
                (None, Some("p")) => OpLine::Prop {
                    counter,
                    target: &target,
                    key: key.as_deref().unwrap_or_default(),
                    value: value.as_deref().unwrap_or_default(),
                },
                _ => {
                    return Err(Error::Corrupt {
                        format: FORMAT,
                        reason: format!("tree_ops row of file {file_id} has neither kind nor raw"),
                    })
                }
            };
            let mut line = String::new();
            encode_line(&op, file_kind, &mut line);
            out.push(line);
        }
        Ok(out)
    }
}

fn meta_row(path: String, size: i64, sha: Option<String>) -> Result<EntryMeta> {
    let sha256 = sha.map(|s| Sha256Hex::new(&s)).transpose()?;
    EntryMeta::new(&path, u64::try_from(size).unwrap_or(0), sha256)
}

impl EntrySource for SqliteSource<'_> {
    fn format(&self) -> &'static str {
        "sqlite"
    }

    fn entries(&mut self) -> Result<Vec<EntryMeta>> {
        let c = self.conn;
        let mut out = Vec::new();
        let mut st = c
            .prepare("SELECT path, size, sha256 FROM raw_files")
            .sql()?;
        for r in st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .sql()?
        {
            let (path, size, sha): (String, i64, String) = r.sql()?;
            out.push(meta_row(path, size, Some(sha))?);
        }
        let mut st = c
            .prepare("SELECT tree_id, day, peer_id, kind, size, sha256 FROM op_files")
            .sql()?;
        for r in st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .sql()?
        {
            let (tree, day, peer, kind, size, sha) = r.sql()?;
            let key = OpsFileKey {
                tree: TreeId::new(&tree)?,
                day: Day::parse(&day).map_err(|_| Error::Corrupt {
                    format: FORMAT,
                    reason: format!("op_files.day {day:?} is not a date"),
                })?,
                peer: PeerId::new(&peer)?,
                kind: OpsFileKind::parse(&kind).ok_or_else(|| Error::Corrupt {
                    format: FORMAT,
                    reason: format!("op_files.kind {kind:?}"),
                })?,
            };
            out.push(meta_row(key.path(), size, Some(sha))?);
        }
        let mut st = c.prepare("SELECT hash, size FROM files").sql()?;
        for r in st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).sql()? {
            let (hash, size): (String, i64) = r.sql()?;
            let h = Sha256Hex::new(&hash)?;
            out.push(meta_row(EntryKind::StaticFile(h).path(), size, Some(hash))?);
        }
        let mut st = c
            .prepare("SELECT uuid, size, sha256 FROM mutable_files")
            .sql()?;
        for r in st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .sql()?
        {
            let (uuid, size, sha): (String, i64, String) = r.sql()?;
            let u = MutableId::new(&uuid)?;
            out.push(meta_row(EntryKind::MutableFile(u).path(), size, Some(sha))?);
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        check_unique(&out)?;
        Ok(out)
    }

    fn open<'s>(&'s mut self, entry: &EntryMeta) -> Result<Box<dyn Read + 's>> {
        match &entry.kind {
            EntryKind::OpsFile(key) => Ok(Box::new(io::Cursor::new(self.ops_bytes(key)?))),
            _ => Ok(Box::new(ChunkReader {
                conn: self.conn,
                path: entry.path.clone(),
                seq: 0,
                buf: Vec::new(),
                pos: 0,
                done: false,
            })),
        }
    }

    fn check_container(&mut self) -> Result<Vec<String>> {
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
        Ok(problems)
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
        let mut st = self
            .conn
            .prepare(
                "SELECT id, day, peer_id, kind FROM op_files
                 WHERE tree_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day, peer_id, kind",
            )
            .sql()?;
        let files: Vec<(i64, String, String, String)> = st
            .query_map(params![tree.as_str(), from, to], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .sql()?
            .collect::<rusqlite::Result<_>>()
            .sql()?;
        let mut out = Vec::new();
        for (id, day, peer, kind) in files {
            let kind = OpsFileKind::parse(&kind).ok_or_else(|| Error::Corrupt {
                format: FORMAT,
                reason: format!("op_files.kind {kind:?}"),
            })?;
            let key = OpsFileKey {
                tree: tree.clone(),
                day: Day::parse(&day)?,
                peer: PeerId::new(&peer)?,
                kind,
            };
            for line in self.ops_lines(id, kind)? {
                out.push(Operation::new(&key, &line));
            }
        }
        Ok(out)
    }
}

/// Streams a chunked file out of `file_chunks`, one chunk in memory at a time.
struct ChunkReader<'c> {
    conn: &'c Connection,
    path: String,
    seq: i64,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl ChunkReader<'_> {
    fn next_chunk(&mut self) -> Result<bool> {
        let row: Option<(bool, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT deflated, data FROM file_chunks WHERE path = ?1 AND seq = ?2")
            .sql()?
            .query_row(params![self.path, self.seq], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .sql()?;
        let Some((deflated, data)) = row else {
            return Ok(false);
        };
        self.buf = if deflated {
            let mut out = Vec::with_capacity(CHUNK_SIZE);
            flate2::read::DeflateDecoder::new(&data[..])
                .take(CHUNK_SIZE as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| Error::Corrupt {
                    format: FORMAT,
                    reason: format!("chunk {} of {}: {e}", self.seq, self.path),
                })?;
            out
        } else {
            data
        };
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
