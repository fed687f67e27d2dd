//! Writing a SQLite archive: [`SqliteSink`].

use std::io::{self, Read};

use rusqlite::limits::Limit;
use rusqlite::{params, Connection};

use super::blocks::BlockWriter;
use super::{
    schema_of_version, to_i64, SqlExt, APPLICATION_ID, CHUNK_SIZE, FORMAT_VERSION, MAX_VALUE,
};
use crate::compress::{sniff_mime, worth_deflating};
use crate::entries::{read_all, Content, EntryMeta, EntrySink, HashingReader, MAX_OPS_FILE};
use crate::error::{Error, Result};
use crate::ids::Sha256Hex;
use crate::layout::{EntryKind, OpsFileKey};
use crate::ops::{parse_line, OpLine, OpsText};
use crate::space::{space_id_from_json, RootProps};

/// Writes a workspace into an empty database, in format [`FORMAT_VERSION`].
pub struct SqliteSink<'c> {
    conn: &'c Connection,
    space_id: Option<String>,
    source_format: String,
    open: bool,
    version: i64,
    blocks: BlockWriter,
}

impl<'c> SqliteSink<'c> {
    /// Creates the schema in `conn`, which must be empty, and opens the transaction
    /// that [`EntrySink::finish`] commits. `source_format` is recorded in `meta`.
    pub fn new(conn: &'c Connection, source_format: &str) -> Result<Self> {
        Self::with_version(conn, source_format, FORMAT_VERSION)
    }

    /// [`SqliteSink::new`] writing an older format version this build still reads
    /// (format 1: one row per ops line), for tests of readers and upgrades.
    #[doc(hidden)]
    pub fn with_version(conn: &'c Connection, source_format: &str, version: i64) -> Result<Self> {
        let schema = schema_of_version(version).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "SQLite archive format {version} is not one this build writes"
            ))
        })?;
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .sql()?;
        if tables != 0 {
            return Err(Error::AlreadyExists(
                "the target database is not empty".into(),
            ));
        }
        // What the reader accepts ([`MAX_VALUE`]) is all that may be written.
        conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE)
            .sql()?;
        // The file is a temporary one until verified and moved into place, so no
        // journal is needed: a crash leaves a file that is thrown away.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
             PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {version};
             BEGIN; {schema}"
        ))
        .sql()?;
        Ok(SqliteSink {
            conn,
            space_id: None,
            source_format: source_format.to_string(),
            open: true,
            version,
            blocks: BlockWriter::default(),
        })
    }

    fn put_ops(&mut self, key: &OpsFileKey, bytes: &[u8], text: &OpsText<'_>) -> Result<()> {
        if self.version == 1 {
            return self.put_ops_v1(key, bytes, text);
        }
        let sha = crate::sha256::Sha256::digest(bytes);
        self.blocks.add(self.conn, key, bytes, sha)
    }

    /// Format 1: one `tree_ops` row per line.
    fn put_ops_v1(&mut self, key: &OpsFileKey, bytes: &[u8], text: &OpsText<'_>) -> Result<()> {
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
                let d = super::blocks::deflate(chunk).map_err(|e| Error::io(path, e))?;
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
        self.blocks.flush(c)?;
        if self.version >= 3 {
            super::snapshots::write_all(c, self.version)?;
        }
        let mut meta = vec![
            ("format_version", self.version.to_string()),
            (
                "writer",
                concat!("sila-store ", env!("CARGO_PKG_VERSION")).to_string(),
            ),
            ("source_format", self.source_format.clone()),
        ];
        if let Some(id) = &self.space_id {
            meta.push(("space_id", id.clone()));
            let props = if self.version == 1 {
                root_props(c, id)?
            } else {
                root_props_v2(c, id)?
            };
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

/// [`root_props`] of format 2: from the lines of tree `tree`'s ops files, read back
/// from their blocks (property lines whose target is the tree's root).
fn root_props_v2(c: &Connection, tree: &str) -> Result<RootProps> {
    let mut props = RootProps::default();
    let Ok(id) = crate::ids::TreeId::new(tree) else {
        return Ok(props);
    };
    let mut source = super::SqliteSource::unchecked(c, 2);
    for op in crate::entries::EntrySource::get_operations(&mut source, &id, None, None)? {
        let Some(kind) = crate::ops::OpsFileKind::parse(&op.file_kind) else {
            continue;
        };
        if let OpLine::Prop {
            counter,
            target,
            key,
            value,
        } = parse_line(&op.line, kind)
        {
            if target == tree {
                props.apply(key, value, counter, &op.peer);
            }
        }
    }
    Ok(props)
}
