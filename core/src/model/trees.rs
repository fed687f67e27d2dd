//! Trees rebuilt from a workspace's ops exactly as RepTree does ([`crate::reptree`]):
//! the op Sila's reader makes of each stored line, every tree or one, and the vertex
//! listing hosts get.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::entries::EntrySource;
use crate::error::Result;
use crate::ids::TreeId;
use crate::layout::EntryKind;
use crate::ops::{parse_line, OpLine, OpsFileKind};
use crate::reptree::{OpId, OpKind, RepTree, TreeOp};

/// Turns a stored line into the op Sila's reader makes of it (`opsParser.worker.ts`):
/// the file kind says move or property (legacy lines carry `"m"`/`"p"`); a leading
/// and a trailing `"` and all NULs are stripped before parsing; a property value that
/// is an empty object or array means "deleted". Lines Sila would skip give `None`.
pub fn sila_tree_op(line: &str, kind: OpsFileKind, peer: &str) -> Option<TreeOp> {
    let id = |counter| OpId {
        counter,
        peer: peer.to_string(),
    };
    let prop_value = |raw: &str| (!OpLine::is_deletion_value(raw)).then(|| raw.to_string());
    // Fast path: the line is in canonical form and its shape agrees with the file.
    match (parse_line(line, kind), kind) {
        (
            OpLine::Move {
                counter,
                target,
                parent,
            },
            OpsFileKind::Moves | OpsFileKind::Legacy,
        ) => {
            return Some(TreeOp {
                id: id(counter),
                target: target.to_string(),
                kind: OpKind::Move {
                    parent: parent.map(str::to_string),
                },
            })
        }
        (
            OpLine::Prop {
                counter,
                target,
                key,
                value,
            },
            OpsFileKind::Props | OpsFileKind::Legacy,
        ) => {
            return Some(TreeOp {
                id: id(counter),
                target: target.to_string(),
                kind: OpKind::Set {
                    key: key.to_string(),
                    value: prop_value(value),
                },
            })
        }
        _ => {}
    }
    if line.trim().is_empty() {
        return None;
    }
    let mut clean = line.strip_prefix('"').unwrap_or(line);
    clean = clean.strip_suffix('"').unwrap_or(clean);
    let clean: String = clean.chars().filter(|c| *c != '\0').collect();
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
/// `getOperations` returns them (day, peer, file kind, line). One pass: every ops
/// file is read once.
pub fn load_trees(source: &mut dyn EntrySource) -> Result<BTreeMap<String, RepTree>> {
    let mut files: Vec<(crate::layout::OpsFileKey, crate::entries::EntryMeta)> = source
        .entries()?
        .into_iter()
        .filter_map(|e| match &e.kind {
            EntryKind::OpsFile(k) => Some((k.clone(), e)),
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
    let mut out: BTreeMap<String, RepTree> = BTreeMap::new();
    let mut current: Option<(String, Vec<TreeOp>)> = None;
    for (key, meta) in files {
        let tree = key.tree.as_str();
        if current.as_ref().is_some_and(|(t, _)| t != tree) {
            if let Some((t, ops)) = current.take() {
                let tree = rebuilt(&t, ops)?;
                out.insert(t, tree);
            }
        }
        let ops = &mut current
            .get_or_insert_with(|| (tree.to_string(), Vec::new()))
            .1;
        let bytes = source.read_whole(&meta)?;
        let text =
            crate::ops::OpsText::split(&bytes).map_err(|line| crate::Error::InvalidUtf8 {
                path: meta.path.clone(),
                line,
            })?;
        ops.extend(
            text.lines
                .iter()
                .filter_map(|l| sila_tree_op(l, key.kind, key.peer.as_str())),
        );
    }
    if let Some((t, ops)) = current {
        let tree = rebuilt(&t, ops)?;
        out.insert(t, tree);
    }
    Ok(out)
}

/// A tree rebuilt from its ops, or `Corrupt` if it had to be given up
/// ([`RepTree::overloaded`]).
fn rebuilt(tree: &str, ops: impl IntoIterator<Item = TreeOp>) -> Result<RepTree> {
    let t = RepTree::from_ops(ops);
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
    rebuilt(
        tree.as_str(),
        ops.iter().filter_map(|o| {
            let kind = OpsFileKind::parse(&o.file_kind)?;
            sila_tree_op(&o.line, kind, &o.peer)
        }),
    )
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
        .iter()
        .map(|v| VertexInfo {
            id: v.id.clone(),
            parent: v.parent.clone(),
            props: v
                .props
                .iter()
                .map(|(k, val)| PropInfo {
                    key: k.clone(),
                    value: val.clone(),
                })
                .collect(),
            children: tree.children(&v.id).iter().map(|c| c.id.clone()).collect(),
        })
        .collect()
}
