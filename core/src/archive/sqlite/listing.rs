//! Listing a SQLite archive's entries: every entry ([`EntrySource::entries`]), or
//! what opening it needs ([`EntrySource::outline`]: the blobs and raw files, and the
//! trees with ops, without a row per ops file).

use super::guard::fresh_query;
use super::source::{ops_key, sha_column};
use super::{SqlExt, SqliteSource};
use crate::entries::{check_unique, EntryMeta, Outline};
use crate::error::Result;
use crate::ids::{MutableId, Sha256Hex, TreeId};
use crate::layout::EntryKind;

impl SqliteSource<'_> {
    /// Every entry but the ops files, unsorted.
    pub(super) fn entries_but_ops(&mut self) -> Result<Vec<EntryMeta>> {
        let c = self.conn;
        let mut out = Vec::new();
        fresh_query();
        let mut st = c
            .prepare("SELECT path, size, sha256 FROM raw_files")
            .sql()?;
        for r in st
            .query_map([], |r| {
                fresh_query();
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .sql()?
        {
            let (path, size, sha): (String, i64, String) = r.sql()?;
            out.push(meta_row(path, size, Some(sha))?);
        }
        fresh_query();
        let mut st = c.prepare("SELECT hash, size FROM files").sql()?;
        for r in st
            .query_map([], |r| {
                fresh_query();
                Ok((r.get(0)?, r.get(1)?))
            })
            .sql()?
        {
            let (hash, size): (String, i64) = r.sql()?;
            let h = Sha256Hex::new(&hash)?;
            out.push(meta_of(
                EntryKind::StaticFile(h.clone()),
                size,
                Some(h.as_str().into()),
            )?);
        }
        fresh_query();
        let mut st = c
            .prepare("SELECT uuid, size, sha256 FROM mutable_files")
            .sql()?;
        for r in st
            .query_map([], |r| {
                fresh_query();
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .sql()?
        {
            let (uuid, size, sha): (String, i64, String) = r.sql()?;
            let u = MutableId::new(&uuid)?;
            out.push(meta_of(EntryKind::MutableFile(u), size, Some(sha))?);
        }
        Ok(out)
    }

    /// The ops files, unsorted.
    pub(super) fn ops_entries(&mut self) -> Result<Vec<EntryMeta>> {
        let c = self.conn;
        let mut out = Vec::new();
        fresh_query();
        let mut st = c
            .prepare("SELECT tree_id, day, peer_id, kind, size, sha256 FROM op_files")
            .sql()?;
        let v2 = self.version() >= 2;
        for r in st
            .query_map([], |r| {
                fresh_query();
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    sha_column(r.get_ref(5)?, v2),
                ))
            })
            .sql()?
        {
            let (tree, day, peer, kind, size, sha) = r.sql()?;
            let sha = sha?;
            let key = ops_key(TreeId::new(&tree)?, &day, &peer, &kind)?;
            out.push(meta_of(EntryKind::OpsFile(key), size, Some(sha))?);
        }
        Ok(out)
    }

    /// [`EntrySource::outline`]: the rows of every entry but the ops files, and the
    /// distinct trees of `op_files` (its primary key: no sort).
    pub(super) fn outline_rows(&mut self) -> Result<Outline> {
        let mut entries = self.entries_but_ops()?;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        check_unique(&entries)?;
        fresh_query();
        let mut st = self
            .conn
            .prepare("SELECT DISTINCT tree_id FROM op_files ORDER BY tree_id")
            .sql()?;
        let mut trees = Vec::new();
        for r in st
            .query_map([], |r| {
                fresh_query();
                r.get::<_, String>(0)
            })
            .sql()?
        {
            trees.push(TreeId::new(&r.sql()?)?);
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
