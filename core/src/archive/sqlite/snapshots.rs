//! Tree snapshots of format 3: every tree as RepTree builds it from the archive's own
//! ops ([`crate::reptree::RepTree::snapshot`]), written when the archive is, so that
//! opening a workspace reads state instead of replaying its history. `verify`
//! rebuilds every tree and compares.

use rusqlite::{params, Connection};

use super::blocks::{deflate, read_stored_row};
use super::guard::fresh_query;
use super::{to_i64, SqlExt, SqliteSource};
use crate::entries::SnapshotBytes;
use crate::error::{Error, Result};
use crate::ids::TreeId;

/// Largest snapshot (its bytes before deflate) written or read, and the most ops bytes
/// a tree may have to get one: a tree with more is replayed from its ops when opened.
/// Writing the snapshots so holds at most one tree of that size in memory, beside the
/// block and the ops file being read.
pub const MAX_SNAPSHOT: u64 = 64 << 20;

/// Rebuilds every tree from the ops already written into `conn` (read back, in
/// `getOperations` order, one tree in memory at a time) and stores its snapshot. A
/// tree RepTree gives up on, whose ops or snapshot would pass [`MAX_SNAPSHOT`], gets
/// none.
pub(super) fn write_all(conn: &Connection, version: i64) -> Result<()> {
    let mut source = SqliteSource::unchecked(conn, version);
    let mut ins = conn
        .prepare(
            "INSERT INTO tree_snapshots(tree_id, size, deflated, data) VALUES (?1, ?2, ?3, ?4)",
        )
        .sql()?;
    crate::model::replay_each_tree(&mut source, MAX_SNAPSHOT, &mut |tree, rt| {
        if rt.overloaded() || rt.snapshot_len() as u64 > MAX_SNAPSHOT {
            return Ok(());
        }
        let bytes = rt.snapshot();
        let packed = deflate(&bytes).map_err(|e| Error::io("tree snapshot", e))?;
        let (deflated, data) = if packed.len() < bytes.len() {
            (true, packed)
        } else {
            (false, bytes.clone())
        };
        ins.execute(params![tree, to_i64(bytes.len() as u64), deflated, data])
            .sql()?;
        Ok(())
    })
}

/// The stored snapshot of `tree`, if the archive holds one: the row read here, its
/// data inflated by the [`SnapshotBytes`] to exactly its declared size, at most
/// [`MAX_SNAPSHOT`] (a longer stored blob is not loaded).
pub(super) fn read(conn: &Connection, tree: &TreeId) -> Result<Option<SnapshotBytes>> {
    let row = read_stored_row(
        conn,
        "SELECT size, deflated, octet_length(data),
           CASE WHEN octet_length(data) <= ?2 THEN data END
         FROM tree_snapshots WHERE tree_id = ?1",
        params![tree.as_str(), to_i64(MAX_SNAPSHOT)],
        &format!("the snapshot of tree {}", tree.as_str()),
    )?;
    Ok(row.map(|row| SnapshotBytes::deferred(move || row.bytes(MAX_SNAPSHOT))))
}

/// Snapshots of trees that have no ops in the archive (a container problem).
pub(super) fn orphans(conn: &Connection) -> Result<i64> {
    fresh_query();
    conn.query_row(
        "SELECT count(*) FROM tree_snapshots
         WHERE tree_id NOT IN (SELECT tree_id FROM op_files)",
        [],
        |r| r.get(0),
    )
    .sql()
}
