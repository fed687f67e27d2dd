//! `syncWorkspace` for one tree: the client's ops the server lacks are stored as the
//! lines Sila writes (the core's op pipeline), the ops the client lacks returned.

use std::collections::{BTreeMap, BTreeSet};

use futures::FutureExt;
use sila_store_core::ids::{Day, PeerId, TreeId};
use sila_store_core::layout::OpsFileKey;
use sila_store_core::ops::{line_of, OpsText};
use sila_store_core::{Error, Result};

use super::*;

pub(super) type NewLines = BTreeMap<OpsFileKey, Vec<(String, (u64, String))>>;

impl TierStore {
    /// The seed's `syncWorkspace`: stores the ops of `tree` the server lacks (dedup by
    /// counter and peer) as lines appended to the peers' ops files of today's UTC day,
    /// and returns the ops the client lacks: those not in `client_ops` and, if given,
    /// not covered by the client's state vector (`{peer: [[start, end], …]}`).
    pub async fn sync_tree(
        &self,
        id: &str,
        tree: &TreeId,
        client_ops: &[WireOp],
        client_state: Option<&BTreeMap<String, Vec<[u64; 2]>>>,
    ) -> Result<Vec<WireOp>> {
        let day = Day::from_unix_seconds((now_ms() / 1000) as i64);
        let mut attempts = 0;
        'retry: loop {
            attempts += 1;
            if attempts > MAX_ATTEMPTS {
                return Err(Error::Conflict(format!(
                    "space {id} kept changing; gave up after {MAX_ATTEMPTS} attempts"
                )));
            }
            let (mut meta, version) = self.active_metadata(id).await?;
            // A file of the index that vanished was deleted by an archive that won:
            // start again from the metadata.
            let (server_ops, stale) = match self.tree_ops(id, &meta, tree).await {
                Ok(found) => found,
                Err(Error::NotFound(_)) => continue 'retry,
                Err(e) => return Err(e),
            };
            let known: BTreeSet<(u64, String)> = server_ops
                .iter()
                .map(|o| (o.id.counter, o.id.peer_id.clone()))
                .collect();
            // New ops, grouped into the file each belongs to.
            let mut new_lines: NewLines = BTreeMap::new();
            let mut seen = BTreeSet::new();
            for op in client_ops {
                let k = (op.id.counter, op.id.peer_id.clone());
                if known.contains(&k) || !seen.insert(k) || op.transient {
                    continue;
                }
                let (line, kind) = line_of(&op.to_tree_op()?)?;
                let key = OpsFileKey {
                    tree: tree.clone(),
                    day,
                    peer: PeerId::new(&op.id.peer_id)?,
                    kind,
                };
                new_lines
                    .entry(key)
                    .or_default()
                    .push((line, (op.id.counter, op.id.peer_id.clone())));
            }
            // Lines in a file whose index entry is older than the file (a writer
            // appended, then lost the metadata race) count as stored only once an
            // index naming them is written: an archive reads files by the index, and
            // one that read the older index could otherwise still win and drop them.
            let reindex = !stale.is_empty();
            for (rel, entry) in stale {
                meta.files.insert(rel, entry);
            }
            for (key, lines) in &new_lines {
                let rel = key.path();
                let obj = self.active_key(id, &meta.epoch, &rel);
                // Append to what the object holds now (even lines of a writer whose
                // index update has not landed), written only if it did not change
                // meanwhile.
                let current = self.get_versioned(&obj).await?;
                let (mut bytes, version) = match current {
                    Some((b, v)) => (b, Some(v)),
                    None => (Vec::new(), None),
                };
                let present: BTreeSet<(u64, String)> = OpsText::split(&bytes)
                    .map(|t| {
                        t.lines
                            .iter()
                            .filter_map(|l| {
                                sila_store_core::model::sila_tree_op(l, key.kind, key.peer.as_str())
                            })
                            .map(|o| (o.id.counter, o.id.peer))
                            .collect()
                    })
                    .unwrap_or_default();
                if !bytes.is_empty() && !bytes.ends_with(b"\n") {
                    bytes.push(b'\n');
                }
                for (l, op_id) in lines {
                    if !present.contains(op_id) {
                        bytes.extend_from_slice(l.as_bytes());
                        bytes.push(b'\n');
                    }
                }
                meta.files.insert(rel, IndexEntry::of(&bytes));
                match self.put_if(&obj, bytes, version.as_ref()).await {
                    Ok(()) => {}
                    Err(Error::Conflict(_)) => continue 'retry,
                    Err(e) => return Err(e),
                }
            }
            if !new_lines.is_empty() || reindex {
                meta.generation += 1;
                meta.last_activity_ms = now_ms();
                match self.write_metadata(&meta, version.as_ref()).await {
                    Ok(()) => {}
                    // Someone else wrote meanwhile (maybe to the same file): redo
                    // against their state; lines already there are deduplicated.
                    Err(Error::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
            let client_has: BTreeSet<(u64, &str)> = client_ops
                .iter()
                .map(|o| (o.id.counter, o.id.peer_id.as_str()))
                .collect();
            let covered = |o: &WireOp| {
                client_has.contains(&(o.id.counter, o.id.peer_id.as_str()))
                    || client_state.is_some_and(|sv| {
                        sv.get(&o.id.peer_id).is_some_and(|r| {
                            r.iter().any(|[a, b]| (*a..=*b).contains(&o.id.counter))
                        })
                    })
            };
            return Ok(server_ops.into_iter().filter(|o| !covered(o)).collect());
        }
    }

    /// Every op of a tree in the active tier, in `getOperations` order, and the files
    /// of the tree whose bytes no longer match the index (with what they hold now).
    pub(super) fn tree_ops<'a>(
        &'a self,
        id: &'a str,
        meta: &'a TierMetadata,
        tree: &'a TreeId,
    ) -> futures::future::BoxFuture<'a, Result<(Vec<WireOp>, StaleFiles)>> {
        async move {
            let mut out = Vec::new();
            let mut stale = Vec::new();
            let files = tree_files(meta, tree, None, None);
            for (key, rel) in files {
                let bytes = self
                    .get_bytes(&self.active_key(id, &meta.epoch, &rel))
                    .await?;
                let now = IndexEntry::of(&bytes);
                if meta.files.get(&rel) != Some(&now) {
                    stale.push((rel.clone(), now));
                }
                let text = OpsText::split(&bytes).map_err(|line| Error::InvalidUtf8 {
                    path: rel.clone(),
                    line,
                })?;
                for l in text.lines {
                    if let Some(op) =
                        sila_store_core::model::sila_tree_op(l, key.kind, key.peer.as_str())
                    {
                        out.push(WireOp::from_tree_op(&op)?);
                    }
                }
            }
            Ok((out, stale))
        }
        .boxed()
    }
}
