//! `syncWorkspace` for one tree: the client's ops the server lacks are stored as the
//! lines Sila writes (the op pipeline of [`crate::ops`]), the ops the client lacks
//! returned; and the merge of an ops file pushed from a client.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{tree_files, IndexEntry, TierHost, TierMetadata, Tiers, MAX_ATTEMPTS};
use crate::error::{Error, Result};
use crate::ids::{Day, PeerId, TreeId};
use crate::layout::OpsFileKey;
use crate::model::sila_tree_op;
use crate::ops::wire::WireOp;
use crate::ops::{line_of, OpsText};
use crate::storage::StateVector;
use crate::store::{Version, WorkspaceStore};

/// Files whose bytes no longer match the index, with what they hold now.
type StaleFiles = Vec<(String, IndexEntry)>;

/// New lines per ops file, each with its op's (counter, peer).
type NewLines = BTreeMap<OpsFileKey, Vec<(String, (u64, String))>>;

impl<S: WorkspaceStore, H: TierHost> Tiers<S, H> {
    /// The seed's `syncWorkspace`: stores the ops of `tree` the server lacks (dedup by
    /// counter and peer) as lines appended to the peers' ops files of today's UTC day,
    /// and returns the ops the client lacks: those not in `client_ops` and, if given,
    /// not covered by the client's state vector (`{peer: [[start, end], …]}`).
    pub async fn sync_tree(
        &self,
        id: &str,
        tree: &TreeId,
        client_ops: &[WireOp],
        client_state: Option<&StateVector>,
    ) -> Result<Vec<WireOp>> {
        let day = Day::from_unix_seconds((self.host.now_ms() / 1000) as i64);
        // Every line first: a batch that cannot be written is refused whole.
        let mut new_lines: NewLines = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for op in client_ops {
            let k = (op.id.counter, op.id.peer_id.clone());
            if op.transient || !seen.insert(k.clone()) {
                continue;
            }
            let (line, kind) = line_of(&op.to_tree_op()?)?;
            let key = OpsFileKey {
                tree: tree.clone(),
                day,
                peer: PeerId::new(&op.id.peer_id)?,
                kind,
            };
            new_lines.entry(key).or_default().push((line, k));
        }
        for _ in 0..MAX_ATTEMPTS {
            let (mut meta, version) = self.active_metadata(id).await?;
            // A file of the index that vanished was deleted by an archive that won:
            // start again from the metadata.
            let (server_ops, stale) = match self.tree_ops(&meta, tree).await {
                Ok(found) => found,
                Err(Error::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let known: BTreeSet<(u64, &str)> = server_ops
                .iter()
                .map(|o| (o.id.counter, o.id.peer_id.as_str()))
                .collect();
            // Lines in a file whose index entry is older than the file (a writer
            // appended, then lost the metadata race) count as stored only once an
            // index naming them is written: an archive reads files by the index, and
            // one that read the older index could otherwise still win and drop them.
            let reindex = !stale.is_empty();
            for (rel, entry) in stale {
                meta.files.insert(rel, entry);
            }
            let mut wrote = false;
            let mut conflict = false;
            for (key, lines) in &new_lines {
                let lines: Vec<_> = lines
                    .iter()
                    .filter(|(_, (c, p))| !known.contains(&(*c, p.as_str())))
                    .collect();
                if lines.is_empty() {
                    continue;
                }
                match self.append_new_lines(&mut meta, key, &lines).await {
                    Ok(()) => wrote = true,
                    Err(Error::Conflict(_)) => {
                        conflict = true;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            if conflict {
                continue;
            }
            if wrote || reindex {
                meta.generation += 1;
                meta.last_activity_ms = self.host.now_ms();
                match self.write_metadata(&meta, version.as_ref()).await {
                    Ok(()) => {}
                    // Someone else wrote meanwhile (maybe to the same file): redo
                    // against their state; lines already there are deduplicated.
                    Err(Error::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
            return Ok(crate::storage::missing_for_client(
                server_ops,
                client_ops,
                client_state,
            ));
        }
        Err(Error::Conflict(format!(
            "space {id} kept changing; gave up after {MAX_ATTEMPTS} attempts"
        )))
    }

    /// Appends `lines` to what the object of `key` holds now (even lines of a writer
    /// whose index update has not landed: those are not written twice), written only
    /// if it did not change meanwhile; updates the index entry in `meta`.
    async fn append_new_lines(
        &self,
        meta: &mut TierMetadata,
        key: &OpsFileKey,
        lines: &[&(String, (u64, String))],
    ) -> Result<()> {
        let rel = key.path();
        let obj = Self::active_key(&meta.space_id, &meta.epoch, &rel);
        let (bytes, version) = match self.store.read(&obj).await? {
            Some((b, v)) => (b, Some(v)),
            None => (Vec::new(), None),
        };
        let bytes = with_new_lines(bytes, key, lines);
        let entry = IndexEntry::of(&bytes);
        let now = self.put_if(&obj, bytes, version.as_ref()).await?;
        meta.files.insert(rel, entry.at(now));
        Ok(())
    }

    /// Every op of a tree in the active tier, in `getOperations` order, and the files
    /// of the tree whose bytes no longer match the index (with what they hold now).
    async fn tree_ops(
        &self,
        meta: &TierMetadata,
        tree: &TreeId,
    ) -> Result<(Vec<WireOp>, StaleFiles)> {
        let mut out = Vec::new();
        let mut stale = Vec::new();
        for (key, rel) in tree_files(meta, tree, None, None) {
            let bytes = self
                .get_bytes(&Self::active_key(&meta.space_id, &meta.epoch, &rel))
                .await?;
            let now = IndexEntry::of(&bytes);
            if !meta.files.get(&rel).is_some_and(|e| e.same_bytes(&now)) {
                stale.push((rel.clone(), now));
            }
            let text = OpsText::split(&bytes).map_err(|line| Error::InvalidUtf8 {
                path: rel.clone(),
                line,
            })?;
            for l in text.lines {
                if let Some(op) = sila_tree_op(l, key.kind, key.peer.as_str()) {
                    out.push(WireOp::from_tree_op(&op)?);
                }
            }
        }
        Ok((out, stale))
    }

    /// Writes a client's ops file to `key` without losing a line the object holds, and
    /// returns the index entry of what the object holds now. `indexed`: what the index
    /// says the object holds, if it names it.
    ///
    /// * Not in the index (most likely a new file): one conditional create, no read.
    /// * `local` extends what the index says, and the index knows the object's
    ///   version: one write, conditional on that version (the object still holds
    ///   exactly those bytes, so `local` is the merge).
    /// * Otherwise, or when that condition fails (a writer changed the object since):
    ///   the object is read, merged with [`merge_ops_bytes`] and written only if it
    ///   did not change meanwhile.
    pub async fn merge_ops_object(
        &self,
        key: &str,
        local: Vec<u8>,
        indexed: Option<&IndexEntry>,
    ) -> Result<IndexEntry> {
        let expected = match indexed {
            None => None,
            Some(e) => match &e.version {
                Some(v) if e.is_prefix_of(&local) => Some(Version(v.clone())),
                _ => return self.read_and_merge(key, local).await,
            },
        };
        match self.put_if(key, local.clone(), expected.as_ref()).await {
            Ok(now) => Ok(IndexEntry::of(&local).at(now)),
            Err(Error::Conflict(_)) => self.read_and_merge(key, local).await,
            Err(e) => Err(e),
        }
    }

    /// The object at `key` merged with `local` (written if that changed it, only if it
    /// did not change meanwhile); the index entry of what it holds now.
    async fn read_and_merge(&self, key: &str, local: Vec<u8>) -> Result<IndexEntry> {
        let (current, version) = self
            .store
            .read(key)
            .await?
            .ok_or_else(|| Error::Conflict(format!("{key} vanished while pushing")))?;
        let merged = merge_ops_bytes(&current, &local);
        let now = if merged != current {
            self.put_if(key, merged.clone(), Some(&version)).await?
        } else {
            version
        };
        Ok(IndexEntry::of(&merged).at(now))
    }
}

/// `bytes` (an ops file of `key`) followed by those of `lines` whose ops it does not
/// hold yet.
fn with_new_lines(
    mut bytes: Vec<u8>,
    key: &OpsFileKey,
    lines: &[&(String, (u64, String))],
) -> Vec<u8> {
    let present: BTreeSet<(u64, String)> = OpsText::split(&bytes)
        .map(|t| {
            t.lines
                .iter()
                .filter_map(|l| sila_tree_op(l, key.kind, key.peer.as_str()))
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
    bytes
}

/// An ops file holding the lines of both: `local` if it only extends `current` (byte
/// for byte what the client has), `current` if it already holds all of `local`, else
/// `current` followed by the lines of `local` it lacks (compared as exact line text),
/// in `local`'s order.
pub fn merge_ops_bytes(current: &[u8], local: &[u8]) -> Vec<u8> {
    if local.starts_with(current) {
        return local.to_vec();
    }
    if current.starts_with(local) {
        return current.to_vec();
    }
    let lines = |b: &[u8]| -> Vec<Vec<u8>> {
        b.split(|&c| c == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    };
    let have: BTreeSet<Vec<u8>> = lines(current).into_iter().collect();
    let mut out = current.to_vec();
    for l in lines(local) {
        if !have.contains(&l) {
            if !out.is_empty() && !out.ends_with(b"\n") {
                out.push(b'\n');
            }
            out.extend_from_slice(&l);
            out.push(b'\n');
        }
    }
    out
}
