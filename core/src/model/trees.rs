//! Trees rebuilt from a workspace's ops exactly as RepTree does ([`crate::reptree`]):
//! the op Sila's reader makes of each stored line, every tree or one, and the vertex
//! listing hosts get.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::entries::{EntryMeta, EntrySource, Outline, SnapshotBytes};
use crate::error::Result;
use crate::ids::TreeId;
use crate::layout::EntryKind;
use crate::ops::{parse_line, OpLine, OpsFileKind};
use crate::reptree::{OpId, OpKind, OpKindRef, RepTree, TreeOp, TreeOpRef};

/// Turns a stored line into the op Sila's reader makes of it (`opsParser.worker.ts`):
/// the file kind says move or property (legacy lines carry `"m"`/`"p"`); a leading
/// and a trailing `"` and all NULs are stripped before parsing; a property value that
/// is an empty object or array means "deleted". Lines Sila would skip give `None`.
pub fn sila_tree_op(line: &str, kind: OpsFileKind, peer: &str) -> Option<TreeOp> {
    match sila_op_ref(line, kind, peer) {
        Some(op) => Some(op.to_owned_op()),
        None => sila_op_slow(line, kind, peer),
    }
}

/// Applies the op Sila makes of a stored line ([`sila_tree_op`]) to `tree`; borrowed
/// (no allocation) when the line is in canonical form.
pub fn apply_sila_line(tree: &mut RepTree, line: &str, kind: OpsFileKind, peer: &str) {
    match sila_op_ref(line, kind, peer) {
        Some(op) => tree.apply_op_ref(op),
        None => {
            if let Some(op) = sila_op_slow(line, kind, peer) {
                tree.apply_op_ref(op.as_ref());
            }
        }
    }
}

/// [`sila_tree_op`]'s fast path: the line is in canonical form and its shape agrees
/// with the file; `None` otherwise (not: "Sila skips it").
fn sila_op_ref<'a>(line: &'a str, kind: OpsFileKind, peer: &'a str) -> Option<TreeOpRef<'a>> {
    match (parse_line(line, kind), kind) {
        (
            OpLine::Move {
                counter,
                target,
                parent,
            },
            OpsFileKind::Moves | OpsFileKind::Legacy,
        ) => Some(TreeOpRef {
            counter,
            peer,
            target,
            kind: OpKindRef::Move { parent },
        }),
        (
            OpLine::Prop {
                counter,
                target,
                key,
                value,
            },
            OpsFileKind::Props | OpsFileKind::Legacy,
        ) => Some(TreeOpRef {
            counter,
            peer,
            target,
            kind: OpKindRef::Set {
                key,
                value: (!OpLine::is_deletion_value(value)).then_some(value),
            },
        }),
        _ => None,
    }
}

/// [`sila_tree_op`] for a line that is not in canonical form: parsed as Sila parses it.
fn sila_op_slow(line: &str, kind: OpsFileKind, peer: &str) -> Option<TreeOp> {
    let id = |counter| OpId {
        counter,
        peer: peer.to_string(),
    };
    let prop_value = |raw: &str| (!OpLine::is_deletion_value(raw)).then(|| raw.to_string());
    if line.trim().is_empty() {
        return None;
    }
    let mut clean = line.strip_prefix('"').unwrap_or(line);
    clean = clean.strip_suffix('"').unwrap_or(clean);
    // Sila drops NUL characters before parsing; most lines hold none (no copy then).
    let clean: Cow<'_, str> = if clean.contains('\0') {
        Cow::Owned(clean.replace('\0', ""))
    } else {
        Cow::Borrowed(clean)
    };
    let arr: Vec<Box<RawValue>> = serde_json::from_str(&clean).ok()?;
    let get = |i: usize| arr.get(i).map(|r| r.get());
    let counter = |raw: Option<&str>| -> Option<u64> {
        let n: f64 = serde_json::from_str(raw?).ok()?;
        (n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_991.0).then_some(n as u64)
    };
    let string = |raw: Option<&str>| serde_json::from_str::<String>(raw?).ok();
    let mv = |c: Option<&str>, t: Option<&str>, p: Option<&str>| -> Option<TreeOp> {
        let parent = match p {
            None | Some("null") => None,
            Some(p) => Some(string(Some(p))?),
        };
        Some(TreeOp {
            id: id(counter(c)?),
            target: string(t)?,
            kind: OpKind::Move { parent },
        })
    };
    let set =
        |c: Option<&str>, t: Option<&str>, k: Option<&str>, v: Option<&str>| -> Option<TreeOp> {
            Some(TreeOp {
                id: id(counter(c)?),
                target: string(t)?,
                kind: OpKind::Set {
                    key: string(k)?,
                    value: v.and_then(prop_value),
                },
            })
        };
    match kind {
        OpsFileKind::Moves => mv(get(0), get(1), get(2)),
        OpsFileKind::Props => set(get(0), get(1), get(2), get(3)),
        OpsFileKind::Legacy => match (string(get(0)).as_deref(), arr.len()) {
            (Some("m"), 4) => mv(get(1), get(2), get(3)),
            (Some("p"), 5) => set(get(1), get(2), get(3), get(4)),
            _ => None,
        },
    }
}

/// Every tree of the workspace with ops, rebuilt from its ops in the order
/// `getOperations` returns them (day, peer, file kind, line): the replay, which is
/// the oracle of every snapshot. One pass: every ops file is read once, and its lines
/// are applied as they are, borrowed.
pub fn load_trees(source: &mut dyn EntrySource) -> Result<BTreeMap<String, RepTree>> {
    let entries = source.entries()?;
    replayed(source, &entries, false)
}

/// Every tree of the workspace with ops, as [`load_trees`] rebuilds it, read from the
/// snapshot the source keeps of it ([`EntrySource::tree_snapshot`]) where it keeps
/// one, replayed from its ops elsewhere. Trees read from snapshots are read-only views
/// ([`RepTree::is_snapshot`]).
pub fn open_trees(source: &mut dyn EntrySource) -> Result<BTreeMap<String, RepTree>> {
    let outline = source.outline()?;
    trees_of_outline(source, outline, true, false)
}

/// The trees of an outline ([`EntrySource::outline`]): from their snapshots where
/// `snapshots` is set and the source keeps one, the rest replayed from the ops files
/// the outline listed or, for an indexed source, that it lists now. With `frozen`, a
/// replayed tree is kept as the read-only view of its snapshot, as soon as it is
/// rebuilt: the state without the history, so a whole workspace held for reading
/// (`show`, `verify`) takes memory for what its trees hold, not for every op.
pub(crate) fn trees_of_outline(
    source: &mut dyn EntrySource,
    outline: Outline,
    snapshots: bool,
    frozen: bool,
) -> Result<BTreeMap<String, RepTree>> {
    let mut out = BTreeMap::new();
    let mut replay = std::collections::BTreeSet::new();
    if snapshots {
        out = from_snapshots(source, &outline.trees, &mut |tree| {
            replay.insert(tree);
        })?;
    } else {
        replay.extend(outline.trees.iter().map(TreeId::as_str));
    }
    if !replay.is_empty() {
        let listed = match outline.ops_files {
            Some(ops) => ops,
            None => source.entries()?,
        };
        let ops: Vec<EntryMeta> = listed
            .into_iter()
            .filter(
                |e| matches!(&e.kind, EntryKind::OpsFile(k) if replay.contains(k.tree.as_str())),
            )
            .collect();
        out.extend(replayed(source, &ops, frozen)?);
    }
    Ok(out)
}

/// The trees among `trees` whose snapshots the source keeps, read from them; each
/// other tree is handed to `missing`. Where the host has threads and more than one
/// core, the snapshots are read here and made (inflated) and decoded by one worker per
/// core (up to four), each taking the next one waiting; as many wait as there are
/// workers, so no more than two snapshots per worker are held undecoded. The first
/// error a worker meets stops the reading.
fn from_snapshots<'t>(
    source: &mut dyn EntrySource,
    trees: &'t [TreeId],
    missing: &mut dyn FnMut(&'t str),
) -> Result<BTreeMap<String, RepTree>> {
    #[cfg(not(target_family = "wasm"))]
    {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        if cores > 1 && trees.len() > 1 {
            return on_workers(source, trees, missing, cores);
        }
    }
    let mut out = BTreeMap::new();
    for tree in trees {
        match source.tree_snapshot_read(tree)? {
            Some(bytes) => {
                out.insert(tree.as_str().to_string(), decode(bytes)?);
            }
            None => missing(tree.as_str()),
        }
    }
    Ok(out)
}

/// A snapshot made and decoded.
fn decode(bytes: SnapshotBytes) -> Result<RepTree> {
    RepTree::from_snapshot(&bytes.bytes()?)
}

/// [`from_snapshots`] with `workers` threads decoding. A worker that stops (on an
/// error, or a panic) drops its share of the queue, and the stop flag ends the
/// reading; when every worker has stopped, the queue is gone and sending fails, so
/// the reader never waits for a worker that will not come.
#[cfg(not(target_family = "wasm"))]
fn on_workers<'t>(
    source: &mut dyn EntrySource,
    trees: &'t [TreeId],
    missing: &mut dyn FnMut(&'t str),
    workers: usize,
) -> Result<BTreeMap<String, RepTree>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc, Mutex};
    type Decoded = Result<Vec<(String, RepTree)>>;
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (send, receive) = mpsc::sync_channel::<(&str, SnapshotBytes)>(workers);
        let receive = Arc::new(Mutex::new(receive));
        let mut handles = Vec::new();
        for _ in 0..workers {
            let receive = Arc::clone(&receive);
            let stop = &stop;
            let work = move || -> Decoded {
                let mut out = Vec::new();
                loop {
                    // The lock is held only to take the next snapshot.
                    let next = match receive.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => break,
                    };
                    let Ok((tree, bytes)) = next else { break };
                    match decode(bytes) {
                        Ok(t) => out.push((tree.to_string(), t)),
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                    }
                }
                Ok(out)
            };
            // A thread that cannot be started leaves its share to the others.
            if let Ok(h) = std::thread::Builder::new().spawn_scoped(scope, work) {
                handles.push(h);
            }
        }
        drop(receive);
        let mut out = BTreeMap::new();
        let mut read = || -> Result<()> {
            for tree in trees {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Some(bytes) = source.tree_snapshot_read(tree)? else {
                    missing(tree.as_str());
                    continue;
                };
                if handles.is_empty() {
                    out.insert(tree.as_str().to_string(), decode(bytes)?);
                } else if send.send((tree.as_str(), bytes)).is_err() {
                    // Every worker stopped: joining them says why.
                    break;
                }
            }
            Ok(())
        };
        let read = read();
        drop(send);
        let mut failed = read.err();
        for h in handles {
            match h.join() {
                Ok(Ok(trees)) => out.extend(trees),
                Ok(Err(e)) => failed = failed.or(Some(e)),
                Err(_) => {
                    failed = failed.or(Some(crate::Error::Backend(
                        "a thread decoding snapshots panicked".into(),
                    )))
                }
            }
        }
        failed.map_or(Ok(out), Err)
    })
}

/// The trees of the ops files among `entries`, replayed (each kept `frozen`, see
/// [`trees_of_outline`]); `Corrupt` for a tree given up.
fn replayed(
    source: &mut dyn EntrySource,
    entries: &[EntryMeta],
    frozen: bool,
) -> Result<BTreeMap<String, RepTree>> {
    let mut out = BTreeMap::new();
    each_tree(source, entries, u64::MAX, &mut |tree, rt| {
        let mut rt = checked(tree, rt)?;
        if frozen {
            rt = RepTree::from_snapshot(&rt.snapshot())?;
        }
        out.insert(tree.to_string(), rt);
        Ok(())
    })?;
    Ok(out)
}

/// Rebuilds every tree with ops from its ops (as [`load_trees`] does) and hands each
/// to `f` with its id, one at a time, so that only one tree is held in memory. A tree
/// given up ([`RepTree::overloaded`]) is handed over too; a tree whose ops files
/// total more than `max_ops_bytes` is skipped (not read at all).
pub fn replay_each_tree(
    source: &mut dyn EntrySource,
    max_ops_bytes: u64,
    f: &mut dyn FnMut(&str, RepTree) -> Result<()>,
) -> Result<()> {
    let entries = source.entries()?;
    each_tree(source, &entries, max_ops_bytes, f)
}

/// The ops files among `entries` grouped by tree, in `getOperations` order; each tree
/// whose files total at most `max_ops_bytes` replayed and handed to `f`.
fn each_tree(
    source: &mut dyn EntrySource,
    entries: &[EntryMeta],
    max_ops_bytes: u64,
    f: &mut dyn FnMut(&str, RepTree) -> Result<()>,
) -> Result<()> {
    let mut files: Vec<(&crate::layout::OpsFileKey, &EntryMeta)> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::OpsFile(k) => Some((k, e)),
            _ => None,
        })
        .collect();
    files.sort_by(|a, b| {
        (&a.0.tree, a.0.day, &a.0.peer, a.0.kind.as_str()).cmp(&(
            &b.0.tree,
            b.0.day,
            &b.0.peer,
            b.0.kind.as_str(),
        ))
    });
    for group in files.chunk_by(|a, b| a.0.tree == b.0.tree) {
        let tree = &group[0].0.tree;
        let total = group
            .iter()
            .map(|(_, m)| m.size)
            .fold(0u64, u64::saturating_add);
        if total > max_ops_bytes {
            continue;
        }
        let mut rt = RepTree::default();
        for (key, meta) in group {
            if rt.overloaded() {
                break;
            }
            let bytes = source.read_whole(meta)?;
            let text =
                crate::ops::OpsText::split(&bytes).map_err(|line| crate::Error::InvalidUtf8 {
                    path: meta.path.clone(),
                    line,
                })?;
            for line in &text.lines {
                apply_sila_line(&mut rt, line, key.kind, key.peer.as_str());
            }
        }
        f(tree.as_str(), rt)?;
    }
    Ok(())
}

/// A tree rebuilt from its ops, or `Corrupt` if it had to be given up
/// ([`RepTree::overloaded`]).
fn checked(tree: &str, t: RepTree) -> Result<RepTree> {
    if t.overloaded() {
        return Err(crate::Error::Corrupt {
            format: "ops",
            reason: format!(
                "tree {tree}: its moves arrive so far out of order that rebuilding it would take more than {} undo and redo steps",
                crate::reptree::REPLAY_BUDGET
            ),
        });
    }
    Ok(t)
}

/// One tree rebuilt from its ops.
pub fn load_tree(source: &mut dyn EntrySource, tree: &TreeId) -> Result<RepTree> {
    let ops = source.get_operations(tree, None, None)?;
    let mut t = RepTree::default();
    for o in &ops {
        if let Some(kind) = OpsFileKind::parse(&o.file_kind) {
            apply_sila_line(&mut t, &o.line, kind, &o.peer);
        }
    }
    checked(tree.as_str(), t)
}

/// A vertex, for hosts: id, parent, properties as JSON text.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct VertexInfo {
    /// Vertex id.
    pub id: String,
    /// Parent id (`None` for a root or the null vertex).
    pub parent: Option<String>,
    /// Properties as `(key, raw JSON)` in RepTree's order.
    pub props: Vec<PropInfo>,
    /// Children ids, sorted as RepTree's `getChildren` sorts them.
    pub children: Vec<String>,
}

/// One property of a vertex.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PropInfo {
    /// Name.
    pub key: String,
    /// Raw JSON text.
    pub value: String,
}

/// Every vertex of a tree in creation order.
pub fn vertex_list(tree: &RepTree) -> Vec<VertexInfo> {
    tree.vertices()
        .map(|v| VertexInfo {
            id: v.id().to_string(),
            parent: v.parent().map(str::to_string),
            props: v
                .props()
                .map(|(k, val)| PropInfo {
                    key: k.to_string(),
                    value: val.to_string(),
                })
                .collect(),
            children: tree
                .children(v.id())
                .iter()
                .map(|c| c.id().to_string())
                .collect(),
        })
        .collect()
}
