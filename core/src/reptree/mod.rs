//! Tree state rebuilt exactly as RepTree 0.9.0 builds it (`new RepTree(peer, ops)`),
//! SILA-FORMAT.md §5.
//!
//! This is a port of RepTree's `applyOps` path, quirks included, so that any host sees
//! the same tree Sila sees:
//!
//! * ops whose `counter@peer` is already known are skipped (a stashed op is not yet
//!   known, so a duplicate of it is stashed twice);
//! * move ops are kept sorted by OpId (counter, then peer); an op that arrives out of
//!   order undoes the later moves, is applied, and the later moves are redone; an op
//!   older than every move lands at index 1, as RepTree's `splice(targetIndex + 1)`
//!   puts it, and the first move is then not redone;
//! * a move is skipped when target = parent or when the parent is a descendant of the
//!   target; a move whose parent does not exist yet is stashed until it does;
//! * properties are last-writer-wins per `key@target`; a property of a vertex that
//!   does not exist yet is stashed until a move creates it; `None` deletes;
//! * a vertex's previous parent is remembered per op (RepTree keys it by the op's id
//!   object), only when the vertex existed when the op was applied;
//! * the root is the first vertex, in creation order, whose parent is null and whose
//!   id is not `"0"`;
//! * children keep RepTree's insertion order ([`RepTree::children_ids`]); sorted by
//!   `_c` in [`RepTree::children`].
//!
//! Peer ids are compared by bytes; RepTree uses `localeCompare`, which agrees for the
//! lowercase hex ids Sila generates (checked on 20,000 random pairs, SILA-FORMAT.md).
//! Differential tests against the real `reptree@0.9.0` are in `tests/`.
//!
//! Cost: unlike RepTree, no step walks a whole chain. The cycle check of a move asks a
//! link-cut forest ([`forest`]) that mirrors the parent links (O(log n) amortised; a
//! plain walk made a chain of n moves O(n²)), children leave a list lazily (a wide
//! fan-out re-parented child by child stays linear), and stashed moves are applied
//! from a work list, not by recursion. Replaying moves that arrive out of order (undo
//! the later moves, apply, redo them) is RepTree's algorithm and stays: a tree whose
//! ops would need more than [`REPLAY_BUDGET`] undo and redo steps is given up
//! ([`RepTree::overloaded`]) instead of keeping a reader busy for minutes.
//!
//! Every string a tree sees (vertex, parent and peer ids, property keys) is interned
//! once ([`names`]) and the replay works on numbers: ops are fixed-size records,
//! known op ids and property slots are hash sets of integer pairs, and a property
//! value is copied once, when it is applied. Ops can be applied borrowed
//! ([`TreeOpRef`], [`RepTree::apply_ops_ref`]), straight from the lines of an ops
//! file, with no allocation per op. Vertices are read through [`Vertex`] views.

mod apply;
mod forest;
mod js;
mod names;
mod snapshot;
mod state;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cmp::Ordering;

use forest::Forest;
use hashbrown::{HashMap, HashSet};
use js::json_string;
pub use js::{js_date_value, js_falsy, v8_sort};
use names::{Name, Names};
pub use snapshot::{StateVector, SNAPSHOT_MAGIC};

/// Undo and redo steps a tree may take to place moves that arrive out of order before
/// it is given up ([`RepTree::overloaded`]). Each out-of-order move replays the moves
/// newer than it, so real histories (peers whose concurrent moves interleave) need a
/// few per op; two peers with 1,000 concurrent moves each, fully interleaved, about
/// 10⁶. Two million steps take about 0.2 s (release build, measured on a replay of
/// 3,000 moves each older than all before it).
pub const REPLAY_BUDGET: u64 = 2_000_000;

/// Forest node of the `""` parent: RepTree's ancestor walk stops at a falsy parent,
/// but a parent id `""` still equals a target `""`.
const EMPTY_PARENT_NODE: u32 = 1;

/// Not an index into a parent's children.
const NO_SLOT: usize = usize::MAX;

/// Not a vertex (in [`RepTree`]'s name → vertex map).
const NO_VERTEX: u32 = u32::MAX;

/// The id of the null vertex, RepTree's trash.
pub const NULL_VERTEX_ID: &str = "0";

/// An op id: Lamport counter and peer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OpId {
    /// Lamport counter.
    pub counter: u64,
    /// Peer id.
    pub peer: String,
}

/// What an op does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Move `target` under `parent` (`None` = null: a root).
    Move {
        /// New parent.
        parent: Option<String>,
    },
    /// Set property `key`; `value` is raw JSON text, `None` deletes (undefined).
    Set {
        /// Property name.
        key: String,
        /// Raw JSON text of the value, or `None` for a deletion.
        value: Option<String>,
    },
}

/// One op as RepTree receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeOp {
    /// Its id.
    pub id: OpId,
    /// The vertex it concerns.
    pub target: String,
    /// Move or set.
    pub kind: OpKind,
}

impl TreeOp {
    /// The op borrowed, as [`RepTree::apply_ops_ref`] takes it.
    pub fn as_ref(&self) -> TreeOpRef<'_> {
        TreeOpRef {
            counter: self.id.counter,
            peer: &self.id.peer,
            target: &self.target,
            kind: match &self.kind {
                OpKind::Move { parent } => OpKindRef::Move {
                    parent: parent.as_deref(),
                },
                OpKind::Set { key, value } => OpKindRef::Set {
                    key,
                    value: value.as_deref(),
                },
            },
        }
    }
}

/// What a borrowed op does ([`OpKind`] without owned strings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKindRef<'a> {
    /// Move the target under `parent` (`None` = null: a root).
    Move {
        /// New parent.
        parent: Option<&'a str>,
    },
    /// Set property `key` to the raw JSON text `value`; `None` deletes.
    Set {
        /// Property name.
        key: &'a str,
        /// Raw JSON text of the value, or `None` for a deletion.
        value: Option<&'a str>,
    },
}

/// One op, borrowed: [`TreeOp`] without owned strings (e.g. the parts of a line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeOpRef<'a> {
    /// Lamport counter.
    pub counter: u64,
    /// Peer id.
    pub peer: &'a str,
    /// The vertex it concerns.
    pub target: &'a str,
    /// Move or set.
    pub kind: OpKindRef<'a>,
}

impl TreeOpRef<'_> {
    /// The op with owned strings.
    pub fn to_owned_op(&self) -> TreeOp {
        TreeOp {
            id: OpId {
                counter: self.counter,
                peer: self.peer.to_string(),
            },
            target: self.target.to_string(),
            kind: match self.kind {
                OpKindRef::Move { parent } => OpKind::Move {
                    parent: parent.map(str::to_string),
                },
                OpKindRef::Set { key, value } => OpKind::Set {
                    key: key.to_string(),
                    value: value.map(str::to_string),
                },
            },
        }
    }
}

/// A vertex as plain data: id, parent, properties in RepTree's order, children in
/// insertion order ([`Vertex::to_state`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VertexState {
    /// Vertex id.
    pub id: String,
    /// Parent id, `None` for null.
    pub parent: Option<String>,
    /// Properties in RepTree's order (new keys appended, replaced in place).
    pub props: Vec<(String, String)>,
    /// Children ids in insertion order.
    pub children: Vec<String>,
}

/// A vertex of a [`RepTree`], read in place.
#[derive(Clone, Copy)]
pub struct Vertex<'t> {
    tree: &'t RepTree,
    i: usize,
}

impl core::fmt::Debug for Vertex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&self.to_state(), f)
    }
}

impl<'t> Vertex<'t> {
    fn v(&self) -> &'t V {
        &self.tree.vertices[self.i]
    }

    /// Vertex id.
    pub fn id(&self) -> &'t str {
        self.tree.names.str(self.v().id)
    }

    /// Parent id, `None` for null.
    pub fn parent(&self) -> Option<&'t str> {
        let names = &self.tree.names;
        self.v().parent.map(|p| names.str(p))
    }

    /// The raw JSON text of a property.
    pub fn prop(&self, key: &str) -> Option<&'t str> {
        let t = self.tree;
        self.v()
            .props
            .iter()
            .find(|(k, _)| t.names.str(*k) == key)
            .map(|(_, v)| t.text(v))
    }

    /// Properties `(key, raw JSON)` in RepTree's order (new keys appended, replaced in
    /// place).
    pub fn props(&self) -> impl ExactSizeIterator<Item = (&'t str, &'t str)> + 't {
        let t = self.tree;
        self.v()
            .props
            .iter()
            .map(move |(k, v)| (t.names.str(*k), t.text(v)))
    }

    /// Children ids in insertion order (RepTree's `getChildrenIds`).
    pub fn children_ids(&self) -> impl Iterator<Item = &'t str> + 't {
        let t = self.tree;
        t.live_children(self.i)
            .map(move |c| t.names.str(t.vertices[c].id))
    }

    /// The children in insertion order, as views (no lookup by id).
    pub fn child_vertices(&self) -> impl Iterator<Item = Vertex<'t>> + 't {
        let t = self.tree;
        t.live_children(self.i).map(move |c| t.view(c))
    }

    /// The vertex as plain data.
    pub fn to_state(&self) -> VertexState {
        VertexState {
            id: self.id().to_string(),
            parent: self.parent().map(str::to_string),
            props: self
                .props()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            children: self.children_ids().map(str::to_string).collect(),
        }
    }
}

/// A vertex of the state: names, not strings.
#[derive(Clone, Debug)]
struct V {
    id: Name,
    parent: Option<Name>,
    /// Properties in RepTree's order.
    props: Vec<(Name, Val)>,
    /// Children (vertex indices) in insertion order; may hold stale entries while ops
    /// are applied ([`RepTree::compact_children`]).
    children: Vec<usize>,
}

/// A property value's raw JSON text: owned (set by an op), or a range of the tree's
/// `frozen_text` (read from a snapshot, so a snapshot's values take one allocation).
#[derive(Clone, Debug)]
enum Val {
    Own(String),
    At(u32, u32),
}

/// An op as the tree keeps it: a fixed-size record of names.
#[derive(Clone, Copy, Debug)]
struct Op {
    counter: u64,
    peer: Name,
    target: Name,
    /// `Some(parent)` for a move (`None` inside: null); `None` for a property set.
    mv: Option<Option<Name>>,
    /// Whether RepTree reported it as applied (a move placed, a property set that
    /// won): what its state vector counts.
    reported: bool,
}

/// Where RepTree keeps a property's winning op id: the string `key@target`. Pairs
/// whose parts hold no `@` cannot collide with any other and are kept as numbers; the
/// others are kept as their (interned) string, so they collide exactly as in RepTree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Slot {
    Pair(Name, Name),
    Joined(Name),
}

/// A tree built from ops, as RepTree 0.9.0 builds it.
#[derive(Clone, Debug, Default)]
pub struct RepTree {
    names: Names,
    /// Per name: whether it holds an `@` (see [`Slot`]).
    has_at: Vec<bool>,
    /// Per name: the vertex it names, or [`NO_VERTEX`].
    vertex_of: Vec<u32>,
    /// All ops received, by handle (RepTree's op objects).
    ops: Vec<Op>,
    /// Applied move ops (handles), sorted by OpId (with RepTree's quirks).
    move_ops: Vec<usize>,
    known_ops: HashSet<(u64, Name)>,
    prop_op_ids: HashMap<Slot, (u64, Name)>,
    /// Stashed moves by the parent they wait for.
    pending_moves: HashMap<Name, Vec<usize>>,
    /// Stashed property sets by target: handle, key and value.
    pending_props: HashMap<Name, Vec<(usize, Name, Option<String>)>>,
    /// Per op handle: the target's parent when the move was last tried, if it existed.
    parent_before_move: Vec<Option<Option<Name>>>,
    vertices: Vec<V>,
    /// The parent links as a link-cut forest (node = vertex index + 2), for the cycle
    /// check of moves.
    forest: Forest,
    /// Set if the parent links ever leave what the forest holds (a cycle, a parent
    /// that is not a vertex): cycle checks then walk, exactly as RepTree does.
    walk_ancestors: bool,
    /// Per vertex: the index of its live entry in its parent's `children`.
    child_slot: Vec<usize>,
    /// Per vertex: entries of its `children` whose child has left.
    stale: Vec<usize>,
    /// Vertices whose `children` hold stale entries.
    dirty: Vec<usize>,
    /// Undo and redo steps taken so far.
    replay_steps: u64,
    /// Set when placing a move would have exceeded [`REPLAY_BUDGET`] (or a tree held
    /// more than `u32::MAX` distinct names).
    overloaded: bool,
    /// The state vector of a tree read from a snapshot (which holds no ops); `None`
    /// for a tree built from ops.
    frozen_state_vector: Option<StateVector>,
    /// The property values of a tree read from a snapshot, one after another.
    frozen_text: String,
}

/// The forest node of vertex `i`.
fn node(i: usize) -> u32 {
    (i + 2) as u32
}

impl RepTree {
    /// Builds a tree from ops in arrival order (`new RepTree(peer, ops)`). Unlike
    /// RepTree, a tree without a root is returned too; see [`RepTree::root`].
    pub fn from_ops(ops: impl IntoIterator<Item = TreeOp>) -> Self {
        let mut t = RepTree::default();
        t.apply_ops(ops);
        t
    }

    /// [`RepTree::from_ops`] with every cycle check a walk up the parents, as RepTree
    /// does it: the reference the fuzz checks compare the link-cut forest with. O(n²)
    /// on deep chains; not for untrusted input.
    #[doc(hidden)]
    pub fn from_ops_walking(ops: impl IntoIterator<Item = TreeOp>) -> Self {
        let mut t = RepTree {
            walk_ancestors: true,
            ..RepTree::default()
        };
        t.apply_ops(ops);
        t
    }

    /// Whether cycle checks still go through the link-cut forest (they walk once the
    /// parent links hold something it cannot: a cycle, a parent that is no vertex).
    #[doc(hidden)]
    pub fn uses_forest(&self) -> bool {
        !self.walk_ancestors
    }

    /// Applies more ops (`merge`).
    pub fn apply_ops(&mut self, ops: impl IntoIterator<Item = TreeOp>) {
        for op in ops {
            if self.overloaded {
                break;
            }
            self.apply_op(op.as_ref());
        }
        self.compact_all();
    }

    /// Applies one op, borrowed: the same as [`RepTree::apply_ops_ref`] with that op
    /// alone, without tidying the children lists (a list a child left keeps a stale
    /// entry until the next [`RepTree::apply_ops`] or [`RepTree::apply_ops_ref`];
    /// readers skip it), so a stream of ops costs the same op by op as at once.
    pub fn apply_op_ref(&mut self, op: TreeOpRef<'_>) {
        if !self.overloaded {
            self.apply_op(op);
        }
    }

    /// Applies more ops, borrowed (`merge`): the same as [`RepTree::apply_ops`], with
    /// no allocation per op.
    pub fn apply_ops_ref<'a>(&mut self, ops: impl IntoIterator<Item = TreeOpRef<'a>>) {
        for op in ops {
            if self.overloaded {
                break;
            }
            self.apply_op(op);
        }
        self.compact_all();
    }

    fn compact_all(&mut self) {
        for p in core::mem::take(&mut self.dirty) {
            self.compact_children(p);
        }
    }

    /// Whether this tree was given up: placing its out-of-order moves would have taken
    /// more than [`REPLAY_BUDGET`] undo and redo steps. Its state is then incomplete.
    pub fn overloaded(&self) -> bool {
        self.overloaded
    }

    /// The children of vertex `p` in insertion order, without the entries of
    /// children that have left (an entry is live if its child still has `p` as parent
    /// and this entry as its slot).
    fn live_children(&self, p: usize) -> impl Iterator<Item = usize> + '_ {
        let pid = self.vertices[p].id;
        self.vertices[p]
            .children
            .iter()
            .enumerate()
            .filter(move |&(j, &c)| self.child_slot[c] == j && self.vertices[c].parent == Some(pid))
            .map(|(_, &c)| c)
    }

    /// The text of a property value.
    fn text<'t>(&'t self, v: &'t Val) -> &'t str {
        match v {
            Val::Own(s) => s,
            Val::At(start, len) => {
                let start = *start as usize;
                self.frozen_text
                    .get(start..start + *len as usize)
                    .unwrap_or_default()
            }
        }
    }

    fn view(&self, i: usize) -> Vertex<'_> {
        Vertex { tree: self, i }
    }

    /// The root: the first vertex, in creation order, with a null parent that is not
    /// the null vertex. RepTree refuses to build a tree without one.
    pub fn root(&self) -> Option<Vertex<'_>> {
        (0..self.vertices.len())
            .map(|i| self.view(i))
            .find(|v| v.parent().is_none() && v.id() != NULL_VERTEX_ID)
    }

    /// Every vertex, in creation order.
    pub fn vertices(&self) -> impl ExactSizeIterator<Item = Vertex<'_>> + '_ {
        (0..self.vertices.len()).map(|i| self.view(i))
    }

    /// The number of vertices.
    pub fn vertex_count(&self) -> usize {
        self.vertices.len()
    }

    /// Every vertex as plain data, in creation order.
    pub fn states(&self) -> Vec<VertexState> {
        self.vertices().map(|v| v.to_state()).collect()
    }

    fn index_of(&self, id: &str) -> Option<usize> {
        let n = self.names.find(id)?;
        self.vertex_index(n)
    }

    fn vertex_index(&self, n: Name) -> Option<usize> {
        match self.vertex_of.get(n as usize) {
            Some(&i) if i != NO_VERTEX => Some(i as usize),
            _ => None,
        }
    }

    /// A vertex by id.
    pub fn vertex(&self, id: &str) -> Option<Vertex<'_>> {
        self.index_of(id).map(|i| self.view(i))
    }

    /// Children ids in insertion order (RepTree's `getChildrenIds`); none for an
    /// unknown vertex.
    pub fn children_ids(&self, id: &str) -> Vec<&str> {
        self.vertex(id)
            .map(|v| v.children_ids().collect())
            .unwrap_or_default()
    }

    /// Children sorted by `_c` as RepTree's `getChildren` sorts them (V8's
    /// `Array.prototype.sort`, exact for fewer than 64 children and for any number
    /// when every child has a valid `_c`).
    pub fn children(&self, id: &str) -> Vec<Vertex<'_>> {
        let Some(i) = self.index_of(id) else {
            return Vec::new();
        };
        // Each child's time, read once: `None` without a truthy `_c`.
        let mut kids: Vec<(Vertex<'_>, Option<f64>)> = self
            .live_children(i)
            .map(|c| {
                let v = self.view(c);
                let time = v.prop("_c").filter(|raw| !js_falsy(raw)).map(js_date_value);
                (v, time)
            })
            .collect();
        // RepTree's comparator: a without `_c` → -1; b without `_c` → 1; else the
        // difference of the times (NaN for invalid dates).
        v8_sort(&mut kids, |a, b| match (a.1, b.1) {
            (None, _) => -1.0,
            (_, None) => 1.0,
            (Some(x), Some(y)) => x - y,
        });
        kids.into_iter().map(|(v, _)| v).collect()
    }

    /// The vertex at a `/`-separated path of `name`s from the root
    /// (`getVertexByPath`).
    pub fn vertex_by_path(&self, path: &str) -> Option<Vertex<'_>> {
        let mut v = self.root()?;
        let path = path.trim_matches('/');
        for part in path.split('/') {
            let want = json_string(part);
            v = self
                .children(v.id())
                .into_iter()
                .find(|c| c.prop("name") == Some(want.as_str()))?;
        }
        Some(v)
    }

    /// RepTree's OpId order: counter, then peer id (by bytes).
    fn cmp_ids(&self, a: (u64, Name), b: (u64, Name)) -> Ordering {
        a.0.cmp(&b.0).then_with(|| {
            if a.1 == b.1 {
                Ordering::Equal
            } else {
                self.names.str(a.1).cmp(self.names.str(b.1))
            }
        })
    }

    fn op_id(&self, h: usize) -> (u64, Name) {
        (self.ops[h].counter, self.ops[h].peer)
    }

    /// Whether op `h`'s id is greater than op `g`'s.
    fn greater(&self, h: usize, g: usize) -> bool {
        self.cmp_ids(self.op_id(h), self.op_id(g)) == Ordering::Greater
    }
}

#[cfg(test)]
mod tests;
