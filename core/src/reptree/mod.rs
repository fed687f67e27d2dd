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

mod forest;
mod js;
mod state;

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cmp::Ordering;

use forest::Forest;
use js::json_string;
pub use js::{js_date_value, js_falsy, v8_sort};

/// Undo and redo steps a tree may take to place moves that arrive out of order before
/// it is given up ([`RepTree::overloaded`]). Each out-of-order move replays the moves
/// newer than it, so real histories (peers whose concurrent moves interleave) need a
/// few per op; two peers with 1,000 concurrent moves each, fully interleaved, about
/// 10⁶. Two million steps take about 1.5 s (release build, measured on a replay of
/// 3,000 moves each older than all before it).
pub const REPLAY_BUDGET: u64 = 2_000_000;

/// Forest node of the `""` parent: RepTree's ancestor walk stops at a falsy parent,
/// but a parent id `""` still equals a target `""`.
const EMPTY_PARENT_NODE: u32 = 1;

/// Not an index into a parent's children.
const NO_SLOT: usize = usize::MAX;

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

impl OpId {
    fn cmp_js(&self, other: &OpId) -> Ordering {
        self.counter
            .cmp(&other.counter)
            .then_with(|| self.peer.as_str().cmp(other.peer.as_str()))
    }

    fn greater(&self, other: &OpId) -> bool {
        self.cmp_js(other) == Ordering::Greater
    }

    fn key(&self) -> String {
        format!("{}@{}", self.counter, self.peer)
    }
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

/// A vertex: its parent, its properties in RepTree's order, its children in insertion
/// order.
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

impl VertexState {
    /// The raw JSON text of a property.
    pub fn prop(&self, key: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn set_prop(&mut self, key: &str, value: Option<&str>) {
        match (self.props.iter().position(|(k, _)| k == key), value) {
            (Some(i), Some(v)) => self.props[i].1 = v.to_string(),
            (Some(_), None) => self.props.retain(|(k, _)| k != key),
            (None, Some(v)) => self.props.push((key.to_string(), v.to_string())),
            (None, None) => {}
        }
    }
}

/// A tree built from ops, as RepTree 0.9.0 builds it.
#[derive(Clone, Debug, Default)]
pub struct RepTree {
    /// All ops received, by handle (RepTree's op objects).
    ops: Vec<TreeOp>,
    /// Applied move ops (handles), sorted by OpId (with RepTree's quirks).
    move_ops: Vec<usize>,
    known_ops: BTreeSet<String>,
    prop_op_ids: BTreeMap<String, OpId>,
    pending_moves: BTreeMap<String, Vec<usize>>,
    pending_props: BTreeMap<String, Vec<usize>>,
    /// Per op handle: the target's parent when the move was last tried, if it existed.
    parent_before_move: Vec<Option<Option<String>>>,
    vertices: Vec<VertexState>,
    index: BTreeMap<String, usize>,
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
    /// Set when placing a move would have exceeded [`REPLAY_BUDGET`].
    overloaded: bool,
}

/// The forest node of vertex `i`.
fn node(i: usize) -> u32 {
    (i + 2) as u32
}

/// `!x` in JavaScript for a parent id: null or empty string.
fn falsy(p: &Option<String>) -> bool {
    p.as_deref().is_none_or(str::is_empty)
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
            if self.known_ops.contains(&op.id.key()) {
                continue;
            }
            let h = self.ops.len();
            let is_move = matches!(op.kind, OpKind::Move { .. });
            self.ops.push(op);
            if is_move {
                self.apply_move(h);
            } else {
                self.apply_property(h);
            }
        }
        for p in core::mem::take(&mut self.dirty) {
            self.compact_children(p);
        }
    }

    /// Whether this tree was given up: placing its out-of-order moves would have taken
    /// more than [`REPLAY_BUDGET`] undo and redo steps. Its state is then incomplete.
    pub fn overloaded(&self) -> bool {
        self.overloaded
    }

    /// The root: the first vertex, in creation order, with a null parent that is not
    /// the null vertex. RepTree refuses to build a tree without one.
    pub fn root(&self) -> Option<&VertexState> {
        self.vertices
            .iter()
            .find(|v| v.parent.is_none() && v.id != NULL_VERTEX_ID)
    }

    /// Every vertex, in creation order.
    pub fn vertices(&self) -> &[VertexState] {
        &self.vertices
    }

    /// A vertex by id.
    pub fn vertex(&self, id: &str) -> Option<&VertexState> {
        self.index.get(id).map(|&i| &self.vertices[i])
    }

    /// Children ids in insertion order (RepTree's `getChildrenIds`).
    pub fn children_ids(&self, id: &str) -> &[String] {
        self.vertex(id)
            .map(|v| v.children.as_slice())
            .unwrap_or(&[])
    }

    /// Children sorted by `_c` as RepTree's `getChildren` sorts them (V8's
    /// `Array.prototype.sort`, exact for fewer than 64 children and for any number
    /// when every child has a valid `_c`).
    pub fn children(&self, id: &str) -> Vec<&VertexState> {
        let mut kids: Vec<&VertexState> = self
            .children_ids(id)
            .iter()
            .filter_map(|c| self.vertex(c))
            .collect();
        let time = |v: &VertexState| -> Option<f64> {
            v.prop("_c").filter(|raw| !js_falsy(raw)).map(js_date_value)
        };
        // RepTree's comparator: a without `_c` → -1; b without `_c` → 1; else the
        // difference of the times (NaN for invalid dates).
        let cmp = |a: &VertexState, b: &VertexState| -> f64 {
            match (time(a), time(b)) {
                (None, _) => -1.0,
                (_, None) => 1.0,
                (Some(x), Some(y)) => x - y,
            }
        };
        v8_sort(&mut kids, |a, b| cmp(a, b));
        kids
    }

    /// The vertex at a `/`-separated path of `name`s from the root
    /// (`getVertexByPath`).
    pub fn vertex_by_path(&self, path: &str) -> Option<&VertexState> {
        let mut v = self.root()?;
        let path = path.trim_matches('/');
        for part in path.split('/') {
            let want = json_string(part);
            v = self
                .children(&v.id)
                .into_iter()
                .find(|c| c.prop("name") == Some(want.as_str()))?;
        }
        Some(v)
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut VertexState> {
        match self.index.get(id) {
            Some(&i) => Some(&mut self.vertices[i]),
            None => None,
        }
    }

    fn has(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    fn report_applied(&mut self, h: usize) {
        let k = self.ops[h].id.key();
        self.known_ops.insert(k);
    }

    /// RepTree's `applyMove`, whose tail `applyPendingMovesForParent` recurses into
    /// the moves stashed for the target: here a stack of those lists, in the same
    /// (depth-first) order, so a chain of stashed moves costs no stack.
    fn apply_move(&mut self, h: usize) {
        let mut stack: Vec<(Vec<usize>, usize)> = Vec::new();
        let mut next = Some(h);
        loop {
            if let Some(h) = next.take() {
                if let Some(target) = self.apply_one_move(h) {
                    if self.has(&target) {
                        if let Some(pending) = self.pending_moves.remove(&target) {
                            stack.push((pending, 0));
                        }
                    }
                }
            }
            match stack.last_mut() {
                None => break,
                Some((list, i)) if *i < list.len() => {
                    next = Some(list[*i]);
                    *i += 1;
                }
                Some(_) => {
                    stack.pop();
                }
            }
        }
    }

    /// `applyMove` up to its tail: stashes the op if its parent is missing, else
    /// places it among the moves (undoing and redoing the later ones). Returns the
    /// target whose stashed moves come next, `None` if the op was stashed (or the tree
    /// given up).
    fn apply_one_move(&mut self, h: usize) -> Option<String> {
        let (target, parent) = match &self.ops[h].kind {
            OpKind::Move { parent } => (self.ops[h].target.clone(), parent.clone()),
            OpKind::Set { .. } => return None,
        };
        if let Some(p) = &parent {
            if !self.has(p) {
                self.pending_moves.entry(p.clone()).or_default().push(h);
                return None;
            }
        }
        let in_order = match self.move_ops.last() {
            None => true,
            Some(&last) => self.ops[h].id.greater(&self.ops[last].id),
        };
        if in_order {
            self.move_ops.push(h);
            self.report_applied(h);
            self.try_to_move(h);
        } else {
            let mut target_index = self.move_ops.len();
            for i in (0..self.move_ops.len()).rev() {
                let m = self.move_ops[i];
                target_index = i;
                if self.ops[h].id.greater(&self.ops[m].id) {
                    break;
                }
                if !self.take_replay_step() {
                    return None;
                }
                self.undo_move(m);
            }
            self.move_ops.insert(target_index + 1, h);
            self.report_applied(h);
            self.try_to_move(h);
            let mut i = target_index + 2;
            while i < self.move_ops.len() {
                let m = self.move_ops[i];
                if !self.take_replay_step() {
                    return None;
                }
                self.try_to_move(m);
                i += 1;
            }
        }
        Some(target)
    }

    /// Counts one undo or redo step; false (and the tree given up) past the budget.
    fn take_replay_step(&mut self) -> bool {
        self.replay_steps += 1;
        if self.replay_steps > REPLAY_BUDGET {
            self.overloaded = true;
        }
        !self.overloaded
    }

    fn try_to_move(&mut self, h: usize) {
        let target = self.ops[h].target.clone();
        let OpKind::Move { parent } = self.ops[h].kind.clone() else {
            return;
        };
        let existed = match self.vertex(&target) {
            Some(v) => {
                let before = v.parent.clone();
                if self.parent_before_move.len() <= h {
                    self.parent_before_move.resize(h + 1, None);
                }
                self.parent_before_move[h] = Some(before);
                true
            }
            None => false,
        };
        if parent.as_deref() == Some(target.as_str()) {
            return;
        }
        if let Some(p) = parent.as_deref().filter(|p| !p.is_empty()) {
            if self.is_ancestor(p, &target) {
                return;
            }
        }
        self.state_move(&target, parent);
        if !existed {
            if let Some(pending) = self.pending_props.remove(&target) {
                for p in pending {
                    self.apply_property(p);
                }
            }
        }
    }

    fn undo_move(&mut self, h: usize) {
        let target = self.ops[h].target.clone();
        if !self.has(&target) {
            return;
        }
        let Some(prev) = self.parent_before_move.get(h).cloned().flatten() else {
            return;
        };
        self.state_move(&target, prev);
    }

    /// Whether `ancestor` is a proper ancestor of `child` (RepTree's `isAncestor`):
    /// whether some vertex on `child`'s chain of parents has the parent id `ancestor`.
    fn is_ancestor(&mut self, child: &str, ancestor: &str) -> bool {
        if self.walk_ancestors {
            return self.walk_is_ancestor(child, ancestor);
        }
        let Some(&c) = self.index.get(child) else {
            return false;
        };
        let a = if ancestor.is_empty() {
            EMPTY_PARENT_NODE
        } else {
            match self.index.get(ancestor) {
                Some(&a) => node(a),
                // No parent id names a missing vertex while the forest is used.
                None => return false,
            }
        };
        self.forest.is_ancestor(a, node(c))
    }

    /// [`RepTree::is_ancestor`] by walking the parents, as RepTree does.
    fn walk_is_ancestor(&self, child: &str, ancestor: &str) -> bool {
        let mut id = child.to_string();
        let mut visited = BTreeSet::new();
        while let Some(v) = self.vertex(&id) {
            if v.parent.as_deref() == Some(ancestor) {
                return true;
            }
            if falsy(&v.parent) {
                return false;
            }
            if !visited.insert(id.clone()) {
                return false;
            }
            id = v.parent.clone().unwrap_or_default();
        }
        false
    }

    fn apply_property(&mut self, h: usize) {
        let target = self.ops[h].target.clone();
        if !self.has(&target) {
            self.pending_props.entry(target).or_default().push(h);
            return;
        }
        let OpKind::Set { key, value } = self.ops[h].kind.clone() else {
            return;
        };
        let slot = format!("{key}@{target}");
        let newer = match self.prop_op_ids.get(&slot) {
            None => true,
            Some(prev) => self.ops[h].id.greater(prev),
        };
        if newer {
            self.prop_op_ids.insert(slot, self.ops[h].id.clone());
            if let Some(v) = self.get_mut(&target) {
                v.set_prop(&key, value.as_deref());
            }
            self.report_applied(h);
        } else {
            let k = self.ops[h].id.key();
            self.known_ops.insert(k);
        }
    }
}

#[cfg(test)]
mod tests;
