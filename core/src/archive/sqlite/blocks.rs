//! Ops blocks of format 2: consecutive ops files of one tree, their bytes as Sila
//! wrote them concatenated, raw-deflated where that saves space ([`BlockWriter`]);
//! and a block read back within its declared size ([`read_block`]).

use std::io::Write;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};

use super::guard::fresh_query;
use super::{to_i64, SqlExt, FORMAT, OPS_BLOCK_TARGET};
use crate::entries::MAX_OPS_FILE;
use crate::error::{Error, Result};
use crate::ids::TreeId;
use crate::layout::OpsFileKey;

/// Largest inflated block a reader accepts: one ops file of the largest size, or
/// files that together passed the target by less than one more file of that size.
pub(crate) const MAX_BLOCK: u64 = MAX_OPS_FILE + OPS_BLOCK_TARGET as u64;

/// Block `?1`: its inflated size, whether deflated, the stored length, and the data if
/// at most `?2` bytes (a bigger blob is not loaded).
pub(crate) const BLOCK_ROW: &str = "SELECT size, deflated, octet_length(data),
   CASE WHEN octet_length(data) <= ?2 THEN data END FROM op_blocks WHERE id = ?1";

/// Where ops file (`?1` tree, `?2` day, `?3` peer, `?4` kind) lies.
pub(crate) const PLACEMENT: &str = "SELECT size, block, offset FROM op_files
 WHERE tree_id = ?1 AND day = ?2 AND peer_id = ?3 AND kind = ?4";

fn corrupt(reason: String) -> Error {
    Error::Corrupt {
        format: FORMAT,
        reason,
    }
}

/// One file placed in the open block: its key, size, digest and offset.
struct Placed {
    key: OpsFileKey,
    size: u64,
    sha256: [u8; 32],
    offset: u64,
}

/// Gathers ops files into blocks and writes each block, then its files' rows.
#[derive(Default)]
pub(crate) struct BlockWriter {
    tree: Option<TreeId>,
    bytes: Vec<u8>,
    files: Vec<Placed>,
}

impl BlockWriter {
    /// Adds one ops file (`bytes`, whose SHA-256 is `sha256`); closes the open block
    /// first if the file belongs to another tree or would take it past the target.
    pub(crate) fn add(
        &mut self,
        conn: &Connection,
        key: &OpsFileKey,
        bytes: &[u8],
        sha256: [u8; 32],
    ) -> Result<()> {
        let other_tree = self.tree.as_ref().is_some_and(|t| *t != key.tree);
        if !self.files.is_empty()
            && (other_tree || self.bytes.len() + bytes.len() > OPS_BLOCK_TARGET)
        {
            self.flush(conn)?;
        }
        self.tree = Some(key.tree.clone());
        self.files.push(Placed {
            key: key.clone(),
            size: bytes.len() as u64,
            sha256,
            offset: self.bytes.len() as u64,
        });
        self.bytes.extend_from_slice(bytes);
        if self.bytes.len() >= OPS_BLOCK_TARGET {
            self.flush(conn)?;
        }
        Ok(())
    }

    /// Writes the open block, if any, and the rows of its files.
    pub(crate) fn flush(&mut self, conn: &Connection) -> Result<()> {
        if self.files.is_empty() {
            return Ok(());
        }
        let packed =
            deflate(&self.bytes).map_err(|e| corrupt(format!("deflating an ops block: {e}")))?;
        let deflated = packed.len() < self.bytes.len();
        let data: &[u8] = if deflated { &packed } else { &self.bytes };
        conn.prepare_cached("INSERT INTO op_blocks(size, deflated, data) VALUES (?1, ?2, ?3)")
            .sql()?
            .execute(params![to_i64(self.bytes.len() as u64), deflated, data])
            .sql()?;
        let block = conn.last_insert_rowid();
        let mut ins = conn
            .prepare_cached(
                "INSERT INTO op_files(tree_id, day, peer_id, kind, size, sha256, block, offset)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .sql()?;
        for f in self.files.drain(..) {
            ins.execute(params![
                f.key.tree.as_str(),
                f.key.day.to_string(),
                f.key.peer.as_str(),
                f.key.kind.as_str(),
                to_i64(f.size),
                &f.sha256[..],
                block,
                to_i64(f.offset)
            ])
            .sql()?;
        }
        self.bytes.clear();
        self.tree = None;
        Ok(())
    }
}

/// Raw deflate at the default level.
pub(crate) fn deflate(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data)?;
    enc.finish()
}

/// The inflated bytes of block `id`, which must be exactly its declared size, at most
/// [`MAX_BLOCK`]: a stored blob longer than that is not loaded, and inflating stops
/// one byte past the declared size.
pub(crate) fn read_block(conn: &Connection, id: i64) -> Result<Vec<u8>> {
    let what = format!("ops block {id}");
    read_stored(
        conn,
        BLOCK_ROW,
        params![id, to_i64(MAX_BLOCK)],
        &what,
        MAX_BLOCK,
    )?
    .ok_or_else(|| corrupt(format!("{what} is missing")))
}

/// The value (`what`) in the one row `sql` finds with `args`, whose columns are its
/// declared size, whether deflated, its stored length, and its data if at most `max`
/// bytes are stored (else NULL): read back through [`inflate_declared`]. `None` if
/// there is no row; `Corrupt` if the data is not a blob.
pub(crate) fn read_stored(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
    what: &str,
    max: u64,
) -> Result<Option<Vec<u8>>> {
    match read_stored_row(conn, sql, args, what)? {
        None => Ok(None),
        Some(row) => row.bytes(max).map(Some),
    }
}

/// A stored value's row as read ([`read_stored`] without the inflating).
pub(crate) struct StoredRow {
    what: String,
    size: i64,
    deflated: bool,
    stored: i64,
    data: Option<Vec<u8>>,
}

impl StoredRow {
    /// The value, inflated if deflated: exactly its declared size, at most `max`.
    pub(crate) fn bytes(self, max: u64) -> Result<Vec<u8>> {
        inflate_declared(
            &self.what,
            self.size,
            self.deflated,
            self.stored,
            self.data,
            max,
        )
    }
}

/// The row of [`read_stored`], not yet inflated.
pub(crate) fn read_stored_row(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
    what: &str,
) -> Result<Option<StoredRow>> {
    fresh_query();
    let mut st = conn.prepare_cached(sql).sql()?;
    let row = st
        .query_row(args, |r| {
            let data = match r.get_ref(3)? {
                ValueRef::Blob(b) => Some(Some(b.to_vec())),
                ValueRef::Null => Some(None),
                _ => None,
            };
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, i64>(2)?,
                data,
            ))
        })
        .optional()
        .sql()?;
    let Some((size, deflated, stored, data)) = row else {
        return Ok(None);
    };
    let data = data.ok_or_else(|| corrupt(format!("the data of {what} is not a blob")))?;
    Ok(Some(StoredRow {
        what: what.to_string(),
        size,
        deflated,
        stored,
        data,
    }))
}

thread_local! {
    /// One raw-inflate state per thread, reset for every value: a new state is a
    /// zeroed allocation of about 40 KiB, which cost more than inflating a small block.
    static INFLATE: std::cell::RefCell<flate2::Decompress> =
        std::cell::RefCell::new(flate2::Decompress::new(false));
}

/// Raw-inflates `data`, which must inflate to `size` bytes: no more than `size + 1`
/// bytes are ever produced or reserved, and nothing is reserved for a size the stored
/// bytes cannot give (deflate expands at most 1,032 to 1).
fn inflate_exact(what: &str, data: &[u8], size: u64) -> Result<Vec<u8>> {
    let most = (data.len() as u64)
        .saturating_mul(1032)
        .saturating_add(1024);
    if size > most {
        return Err(corrupt(format!(
            "{what} declares {size} bytes, more than its {} stored bytes can inflate to",
            data.len()
        )));
    }
    let want = usize::try_from(size + 1).map_err(|_| corrupt(format!("{what} is too big")))?;
    let mut out = Vec::with_capacity(want);
    INFLATE.with(|cell| -> Result<()> {
        let mut z = cell.borrow_mut();
        z.reset(false);
        let mut input = data;
        loop {
            let before_in = z.total_in();
            let before_out = out.len();
            let status = z
                .decompress_vec(input, &mut out, flate2::FlushDecompress::Finish)
                .map_err(|e| corrupt(format!("{what}: {e}")))?;
            let used = usize::try_from(z.total_in() - before_in).unwrap_or(input.len());
            input = &input[used.min(input.len())..];
            let stuck = used == 0 && out.len() == before_out;
            if status == flate2::Status::StreamEnd || out.len() >= want || stuck {
                return Ok(());
            }
        }
    })?;
    Ok(out)
}

/// A stored value (`what`) read back: `data` (none if the stored blob of `stored`
/// bytes was not loaded), inflated if `deflated`, must be exactly its declared `size`,
/// at most `max`. Inflating stops one byte past the declared size.
pub(crate) fn inflate_declared(
    what: &str,
    size: i64,
    deflated: bool,
    stored: i64,
    data: Option<Vec<u8>>,
    max: u64,
) -> Result<Vec<u8>> {
    let size = u64::try_from(size)
        .ok()
        .filter(|&s| s <= max)
        .ok_or_else(|| corrupt(format!("{what} declares {size} bytes")))?;
    let Some(data) = data else {
        return Err(corrupt(format!(
            "{what} stores {stored} bytes, more than it may"
        )));
    };
    let bytes = if deflated {
        inflate_exact(what, &data, size)?
    } else {
        data
    };
    if bytes.len() as u64 != size {
        return Err(corrupt(format!(
            "{what} holds {} bytes, not the {size} it declares",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// Where an ops file lies: its block and its range in it.
pub(crate) struct Placement {
    pub(crate) size: u64,
    pub(crate) block: i64,
    pub(crate) offset: u64,
}

impl Placement {
    /// The file's bytes in `block` (the bytes of block `self.block`); `Corrupt` if the
    /// range leaves the block.
    pub(crate) fn slice<'b>(&self, block: &'b [u8], path: &str) -> Result<&'b [u8]> {
        let end = self.offset.checked_add(self.size);
        match end {
            Some(end) if end <= block.len() as u64 => {
                Ok(&block[self.offset as usize..end as usize])
            }
            _ => Err(corrupt(format!(
                "{path} lies outside its ops block {} ({} bytes at {} of {})",
                self.block,
                self.size,
                self.offset,
                block.len()
            ))),
        }
    }
}

/// The placement of ops file `key`, if the archive has it.
pub(crate) fn placement(conn: &Connection, key: &OpsFileKey) -> Result<Option<Placement>> {
    fresh_query();
    let row: Option<(i64, i64, i64)> = conn
        .prepare_cached(PLACEMENT)
        .sql()?
        .query_row(
            params![
                key.tree.as_str(),
                key.day.to_string(),
                key.peer.as_str(),
                key.kind.as_str()
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .sql()?;
    row.map(|(size, block, offset)| placement_of(size, block, offset, &key.path()))
        .transpose()
}

/// A placement from its row's values, checked: sizes and offsets not negative.
pub(crate) fn placement_of(size: i64, block: i64, offset: i64, path: &str) -> Result<Placement> {
    match (u64::try_from(size), u64::try_from(offset)) {
        (Ok(size), Ok(offset)) => Ok(Placement {
            size,
            block,
            offset,
        }),
        _ => Err(corrupt(format!(
            "{path}: size {size} or offset {offset} is negative"
        ))),
    }
}

/// Inflated blocks bytes a [`BlockCache`] keeps: a tree read whole spans a few blocks of
/// [`super::OPS_BLOCK_TARGET`] bytes, so the next read of it inflates nothing.
pub(crate) const BLOCK_CACHE_BYTES: usize = 1 << 20;

/// The blocks read last, most recent first, up to [`BLOCK_CACHE_BYTES`] (the last one is
/// kept whatever its size): files read in path order are in block order, and a tree
/// read again (a chat opened twice) finds its blocks inflated.
#[derive(Default)]
pub(crate) struct BlockCache {
    recent: std::cell::RefCell<Vec<(i64, std::rc::Rc<Vec<u8>>)>>,
}

impl BlockCache {
    /// Block `id`, from the cache or read.
    pub(crate) fn get(&self, conn: &Connection, id: i64) -> Result<std::rc::Rc<Vec<u8>>> {
        let mut recent = self.recent.borrow_mut();
        if let Some(i) = recent.iter().position(|(cached, _)| *cached == id) {
            let hit = recent.remove(i);
            let bytes = std::rc::Rc::clone(&hit.1);
            recent.insert(0, hit);
            return Ok(bytes);
        }
        let bytes = std::rc::Rc::new(read_block(conn, id)?);
        recent.insert(0, (id, std::rc::Rc::clone(&bytes)));
        let mut kept = 0;
        let keep = recent
            .iter()
            .position(|(_, b)| {
                kept += b.len();
                kept > BLOCK_CACHE_BYTES
            })
            .map_or(recent.len(), |i| i.max(1));
        recent.truncate(keep);
        Ok(bytes)
    }
}
