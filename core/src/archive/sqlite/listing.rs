//! Listing a SQLite archive's entries: every entry ([`EntrySource::entries`]), or
//! what opening it needs ([`EntrySource::outline`]: the blobs and raw files, and the
//! trees with ops, without a row per ops file).

use rusqlite::{Connection, OptionalExtension, Row};

use super::guard::fresh_query;
use super::source::{ops_key, sha_column};
use super::{SqlExt, SqliteSource};
use crate::entries::{check_unique, EntryMeta, Outline};
use crate::error::{Error, Result};
use crate::ids::{MutableId, Sha256Hex, TreeId};
use crate::layout::EntryKind;

/// Runs `sql` (no parameters) and hands each row, read by `read`, to `each`; the
/// query's work bound starts afresh for every row.
fn each_row<T>(
    c: &Connection,
    sql: &str,
    read: impl Fn(&Row<'_>) -> rusqlite::Result<T>,
    mut each: impl FnMut(T) -> Result<()>,
) -> Result<()> {
    fresh_query();
    let mut st = c.prepare(sql).sql()?;
    let mut rows = st.query([]).sql()?;
    while let Some(r) = rows.next().sql()? {
        fresh_query();
        each(read(r).sql()?)?;
    }
    Ok(())
}

impl SqliteSource<'_> {
    /// Every entry but the ops files, unsorted.
    pub(super) fn entries_but_ops(&mut self) -> Result<Vec<EntryMeta>> {
        let c = self.conn;
        let mut out = Vec::new();
        let three = |r: &Row<'_>| Ok((r.get(0)?, r.get(1)?, r.get(2)?));
        each_row(
            c,
            "SELECT path, size, sha256 FROM raw_files",
            three,
            |row| {
                let (path, size, sha): (String, i64, String) = row;
                out.push(meta_row(path, size, Some(sha))?);
                Ok(())
            },
        )?;
        let two = |r: &Row<'_>| Ok((r.get(0)?, r.get(1)?));
        each_row(c, "SELECT hash, size FROM files", two, |row| {
            let (hash, size): (String, i64) = row;
            let h = Sha256Hex::new(&hash)?;
            let sha = Some(h.as_str().to_string());
            out.push(meta_of(EntryKind::StaticFile(h), size, sha)?);
            Ok(())
        })?;
        let sql = "SELECT uuid, size, sha256 FROM mutable_files";
        each_row(c, sql, three, |row| {
            let (uuid, size, sha): (String, i64, String) = row;
            let u = MutableId::new(&uuid)?;
            out.push(meta_of(EntryKind::MutableFile(u), size, Some(sha))?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The ops files, unsorted.
    pub(super) fn ops_entries(&mut self) -> Result<Vec<EntryMeta>> {
        let v2 = self.version() >= 2;
        let mut out = Vec::new();
        let sql = "SELECT tree_id, day, peer_id, kind, size, sha256 FROM op_files";
        let read = |r: &Row<'_>| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                sha_column(r.get_ref(5)?, v2),
            ))
        };
        each_row(
            self.conn,
            sql,
            read,
            |(tree, day, peer, kind, size, sha)| {
                let sha = sha?;
                let key = ops_key(TreeId::new(&tree)?, &day, &peer, &kind)?;
                out.push(meta_of(EntryKind::OpsFile(key), size, Some(sha))?);
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// [`EntrySource::outline`]: the rows of every entry but the ops files, and the
    /// distinct trees of `op_files`.
    pub(super) fn outline_rows(&mut self) -> Result<Outline> {
        let mut entries = self.entries_but_ops()?;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        check_unique(&entries)?;
        // The distinct trees by seeking the primary key from one tree to the next: a
        // step per tree, not a row per ops file.
        let mut trees: Vec<TreeId> = Vec::new();
        let mut st = self
            .conn
            .prepare("SELECT tree_id FROM op_files WHERE tree_id > ?1 ORDER BY tree_id LIMIT 1")
            .sql()?;
        loop {
            fresh_query();
            let after = trees.last().map_or("", |t| t.as_str());
            let next: Option<String> = st.query_row([after], |r| r.get(0)).optional().sql()?;
            let Some(tree) = next else { break };
            // A damaged index could step back: each step must move forward (bytes
            // compare as the column's BINARY collation does), so the walk ends.
            if tree.as_str() <= after {
                return Err(Error::Corrupt {
                    format: super::FORMAT,
                    reason: format!("op_files is out of order at tree {tree:?}"),
                });
            }
            trees.push(TreeId::new(&tree)?);
        }
        Ok(Outline {
            entries,
            trees,
            ops_files: None,
        })
    }
}

/// [`meta_row`] of an entry whose kind is made from checked ids.
fn meta_of(kind: EntryKind, size: i64, sha: Option<String>) -> Result<EntryMeta> {
    let sha256 = sha.map(|s| Sha256Hex::new(&s)).transpose()?;
    Ok(EntryMeta::of_kind(
        kind,
        u64::try_from(size).unwrap_or(0),
        sha256,
    ))
}

pub(super) fn meta_row(path: String, size: i64, sha: Option<String>) -> Result<EntryMeta> {
    let sha256 = sha.map(|s| Sha256Hex::new(&s)).transpose()?;
    EntryMeta::new(&path, u64::try_from(size).unwrap_or(0), sha256)
}
