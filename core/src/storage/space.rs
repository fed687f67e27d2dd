//! [`SpaceStorage`]: one workspace kept in a [`WorkspaceStore`], the storage behaviour
//! every host shares, written once.
//!
//! * **Placement as Sila places ops** (SILA-FORMAT.md §1, §2.1): each op becomes the
//!   exact line Sila writes ([`crate::ops::line_of`]), appended to
//!   `ops/<t[0..2]>/<t[2..]>/<YYYY>/<MM>/<DD>/<peer>-m|p.jsonl` of the day the caller
//!   names (Sila uses the UTC day of the write).
//! * **Dedup across days**: an op whose (peer, counter) is already stored for the tree,
//!   on any day, is not written again. The ids come from an index per tree, read from
//!   the tree's files once and then kept up to date by every write through this
//!   value (not a scan per call).
//! * **Never glue lines**: a file that does not end with `\n` (cut off by a crash, or
//!   written by another tool) gets one before the new lines, so no op is lost on read
//!   (Sila would glue the new line onto the last one and then skip both).
//! * **Blobs** are written once under their SHA-256 and checked against it on read.
//! * A batch with an op that cannot be written as a Sila line is refused as a whole
//!   ([`Error::InvalidArgument`]), before anything is stored.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::sync::{Mutex, PoisonError};

use crate::entries::{push_operations, select_ops_files, Operation};
use crate::error::{Error, Result};
use crate::ids::{Day, PeerId, Sha256Hex, TreeId};
use crate::layout::{tree_ops_dir, EntryKind, OpsFileKey};
use crate::model::sila_tree_op;
use crate::ops::{line_of, OpsText};
use crate::reptree::TreeOp;
use crate::store::{Precondition, StoreError, WorkspaceStore};

/// An op's id in the dedup index: (peer, counter).
type StoredId = (String, u64);

/// One workspace in a store (paths relative to the workspace root).
pub struct SpaceStorage<S> {
    pub(super) store: S,
    /// Per tree, the (peer, counter) of every op stored.
    index: Mutex<BTreeMap<TreeId, BTreeSet<StoredId>>>,
    /// With a host, the workspace can be archived in place ([`super::ARCHIVE_PATH`]):
    /// reads then come from the archive, and a write unarchives first.
    pub(super) host: Option<alloc::boxed::Box<dyn crate::storage::tiers::TierHost>>,
    /// Writes, archive and unarchive of this value take turns: an op appended while
    /// an archive reads the files would be deleted with them.
    pub(super) gate: futures_util::lock::Mutex<()>,
}

impl<S: WorkspaceStore> SpaceStorage<S> {
    /// The workspace kept in `store`.
    pub fn new(store: S) -> Self {
        SpaceStorage {
            store,
            index: Mutex::new(BTreeMap::new()),
            host: None,
            gate: futures_util::lock::Mutex::new(()),
        }
    }

    /// The workspace kept in `store`, archived in place with `host`'s work areas
    /// ([`SpaceStorage::archive`], [`SpaceStorage::unarchive`]).
    pub fn with_host(store: S, host: impl crate::storage::tiers::TierHost + 'static) -> Self {
        SpaceStorage {
            host: Some(alloc::boxed::Box::new(host)),
            ..Self::new(store)
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn index(&self) -> std::sync::MutexGuard<'_, BTreeMap<TreeId, BTreeSet<StoredId>>> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The ops files of `tree` in the store (any day).
    async fn tree_files(&self, tree: &TreeId) -> Result<Vec<(OpsFileKey, String)>> {
        let mut out = Vec::new();
        for obj in self.store.list(&tree_ops_dir(tree)).await? {
            if let EntryKind::OpsFile(key) = EntryKind::from_path(&obj.path)? {
                out.push((key, obj.path));
            }
        }
        Ok(out)
    }

    /// Reads the ids of `tree`'s stored ops into the index, once.
    async fn load_index(&self, tree: &TreeId) -> Result<()> {
        if self.index().contains_key(tree) {
            return Ok(());
        }
        let mut ids = BTreeSet::new();
        for (key, path) in self.tree_files(tree).await? {
            let Some((bytes, _)) = self.store.read(&path).await? else {
                continue;
            };
            let text = OpsText::split(&bytes).map_err(|line| Error::InvalidUtf8 {
                path: path.clone(),
                line,
            })?;
            for line in text.lines {
                if let Some(op) = sila_tree_op(line, key.kind, key.peer.as_str()) {
                    ids.insert((op.id.peer, op.id.counter));
                }
            }
        }
        // Another call may have loaded (and extended) it meanwhile: keep both.
        self.index().entry(tree.clone()).or_default().extend(ids);
        Ok(())
    }

    /// Stores the ops of `tree` not stored yet (on any day) as Sila would, in the day
    /// folder `day`, and returns the lines written. Ops of one batch that repeat an id
    /// are written once.
    pub async fn put_operations(
        &self,
        tree: &TreeId,
        ops: &[TreeOp],
        day: Day,
    ) -> Result<Vec<Operation>> {
        // Every line first: a batch that cannot be written is refused whole.
        let mut encoded = Vec::with_capacity(ops.len());
        for op in ops {
            let peer = PeerId::new(&op.id.peer)?;
            let (line, kind) = line_of(op)?;
            let key = OpsFileKey {
                tree: tree.clone(),
                day,
                peer,
                kind,
            };
            encoded.push((key, line, (op.id.peer.clone(), op.id.counter)));
        }
        let _gate = self.gate.lock().await;
        self.ensure_active().await?;
        self.load_index(tree).await?;
        // Claim the new ids (so a concurrent call in this process skips them), grouped
        // by file in the batch's order.
        let mut files: BTreeMap<OpsFileKey, Vec<(String, StoredId)>> = BTreeMap::new();
        {
            let mut index = self.index();
            let known = index.entry(tree.clone()).or_default();
            for (key, line, id) in encoded {
                if known.insert(id.clone()) {
                    files.entry(key).or_default().push((line, id));
                }
            }
        }
        let mut written = Vec::new();
        let mut failed = None;
        for (key, lines) in &files {
            if failed.is_some() {
                self.unclaim(tree, lines);
                continue;
            }
            match self.append_lines(key, lines).await {
                Ok(()) => written.extend(lines.iter().map(|(l, _)| Operation::new(key, l))),
                Err(e) => {
                    self.unclaim(tree, lines);
                    failed = Some(e);
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(written),
        }
    }

    fn unclaim(&self, tree: &TreeId, lines: &[(String, StoredId)]) {
        if let Some(known) = self.index().get_mut(tree) {
            for (_, id) in lines {
                known.remove(id);
            }
        }
    }

    /// Appends lines to one ops file, after a `\n` if the file does not end with one.
    async fn append_lines(&self, key: &OpsFileKey, lines: &[(String, StoredId)]) -> Result<()> {
        let path = key.path();
        let mut bytes = Vec::new();
        if let Some(size) = self.store.size(&path).await? {
            if size > 0 && self.store.read_range(&path, size - 1, 1).await? != b"\n" {
                bytes.push(b'\n');
            }
        }
        for (line, _) in lines {
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
        self.store.append(&path, &bytes).await?;
        Ok(())
    }

    /// The ops of `tree` stored in day folders `from..=to`, as the exact lines stored,
    /// in `getOperations` order (day, peer, file kind, line). Reads only that tree's
    /// files.
    pub async fn get_operations(
        &self,
        tree: &TreeId,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Vec<Operation>> {
        if let Some(ops) = self.archived_operations(tree, from, to).await? {
            return Ok(ops);
        }
        let mut out = Vec::new();
        for (key, path) in select_ops_files(self.tree_files(tree).await?, tree, from, to) {
            let Some((bytes, _)) = self.store.read(&path).await? else {
                continue;
            };
            push_operations(&key, &path, &bytes, &mut out)?;
        }
        Ok(out)
    }

    /// Stores a CAS blob under its SHA-256 (once: a blob already there is kept).
    pub async fn put_file(&self, bytes: Vec<u8>) -> Result<Sha256Hex> {
        let hash = Sha256Hex::of(&bytes);
        let path = EntryKind::StaticFile(hash.clone()).path();
        let _gate = self.gate.lock().await;
        self.ensure_active().await?;
        if self.store.size(&path).await?.is_none() {
            match self.store.write(&path, bytes, Precondition::IfAbsent).await {
                Ok(_) | Err(StoreError::PreconditionFailed(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(hash)
    }

    /// The bytes of a CAS blob, checked against its hash.
    pub async fn get_file(&self, hash: &Sha256Hex) -> Result<Vec<u8>> {
        let path = EntryKind::StaticFile(hash.clone()).path();
        let bytes = match self.archived_file(hash).await? {
            Some(b) => b,
            None => {
                self.store
                    .read(&path)
                    .await?
                    .ok_or_else(|| Error::NotFound(path.clone()))?
                    .0
            }
        };
        let actual = Sha256Hex::of(&bytes);
        if &actual != hash {
            return Err(Error::HashMismatch {
                path,
                expected: hash.as_str().to_string(),
                actual: actual.as_str().to_string(),
            });
        }
        Ok(bytes)
    }
}
