//! RepTree's `applyOps` path on interned names: moves placed in OpId order (undoing
//! and redoing the later ones), moves and properties stashed until their vertex
//! exists, properties last-writer-wins per `key@target`.

use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

use hashbrown::HashSet;

use super::names::Name;
use super::{
    node, Op, OpKindRef, RepTree, Slot, TreeOpRef, Val, EMPTY_PARENT_NODE, NO_VERTEX, REPLAY_BUDGET,
};

impl RepTree {
    /// The number of `s`, interned if new (with its per-name flags); `None`, and the
    /// tree given up, past `u32::MAX` names.
    pub(super) fn name(&mut self, s: &str) -> Option<Name> {
        let Some(n) = self.names.intern(s) else {
            self.overloaded = true;
            return None;
        };
        if n as usize == self.vertex_of.len() {
            self.vertex_of.push(NO_VERTEX);
            self.has_at.push(s.contains('@'));
        }
        Some(n)
    }

    /// `!x` in JavaScript for a parent id: null or the empty string.
    pub(super) fn falsy(&self, p: Option<Name>) -> bool {
        p.is_none_or(|n| self.names.str(n).is_empty())
    }

    fn has(&self, n: Name) -> bool {
        self.vertex_index(n).is_some()
    }

    /// One op of `applyOps`: skipped if its id is known, else kept and applied.
    pub(super) fn apply_op(&mut self, op: TreeOpRef<'_>) {
        if self.frozen_state_vector.is_some() {
            return;
        }
        let Some(peer) = self.name(op.peer) else {
            return;
        };
        if self.known_ops.contains(&(op.counter, peer)) {
            return;
        }
        let Some(target) = self.name(op.target) else {
            return;
        };
        match op.kind {
            OpKindRef::Move { parent } => {
                let parent = match parent {
                    None => None,
                    Some(p) => match self.name(p) {
                        Some(p) => Some(p),
                        None => return,
                    },
                };
                let h = self.ops.len();
                self.ops.push(Op {
                    counter: op.counter,
                    peer,
                    target,
                    mv: Some(parent),
                    reported: false,
                });
                self.apply_move(h);
            }
            OpKindRef::Set { key, value } => {
                let Some(key) = self.name(key) else {
                    return;
                };
                let h = self.ops.len();
                self.ops.push(Op {
                    counter: op.counter,
                    peer,
                    target,
                    mv: None,
                    reported: false,
                });
                self.apply_property(h, key, value);
            }
        }
    }

    /// `reportOpAsApplied` (`counted`: the op enters the state vector) or, for a
    /// property set that lost, the bare `knownOps.add`.
    fn report_applied(&mut self, h: usize, counted: bool) {
        let id = self.op_id(h);
        self.known_ops.insert(id);
        self.ops[h].reported |= counted;
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
                    if self.has(target) {
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
    fn apply_one_move(&mut self, h: usize) -> Option<Name> {
        let Op {
            target,
            mv: Some(parent),
            ..
        } = self.ops[h]
        else {
            return None;
        };
        if let Some(p) = parent {
            if !self.has(p) {
                self.pending_moves.entry(p).or_default().push(h);
                return None;
            }
        }
        let in_order = match self.move_ops.last() {
            None => true,
            Some(&last) => self.greater(h, last),
        };
        if in_order {
            self.move_ops.push(h);
            self.report_applied(h, true);
            self.try_to_move(h);
        } else {
            let mut target_index = self.move_ops.len();
            for i in (0..self.move_ops.len()).rev() {
                let m = self.move_ops[i];
                target_index = i;
                if self.greater(h, m) {
                    break;
                }
                if !self.take_replay_step() {
                    return None;
                }
                self.undo_move(m);
            }
            self.move_ops.insert(target_index + 1, h);
            self.report_applied(h, true);
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
        let Op {
            target,
            mv: Some(parent),
            ..
        } = self.ops[h]
        else {
            return;
        };
        let existed = match self.vertex_index(target) {
            Some(i) => {
                let before = self.vertices[i].parent;
                if self.parent_before_move.len() <= h {
                    self.parent_before_move.resize(h + 1, None);
                }
                self.parent_before_move[h] = Some(before);
                true
            }
            None => false,
        };
        if parent == Some(target) {
            return;
        }
        if let Some(p) = parent.filter(|&p| !self.names.str(p).is_empty()) {
            if self.is_ancestor(p, target) {
                return;
            }
        }
        self.state_move(target, parent);
        if !existed {
            if let Some(pending) = self.pending_props.remove(&target) {
                for (p, key, value) in pending {
                    self.apply_property(p, key, value.as_deref());
                }
            }
        }
    }

    fn undo_move(&mut self, h: usize) {
        let target = self.ops[h].target;
        if !self.has(target) {
            return;
        }
        let Some(prev) = self.parent_before_move.get(h).copied().flatten() else {
            return;
        };
        self.state_move(target, prev);
    }

    /// Whether `ancestor` is a proper ancestor of `child` (RepTree's `isAncestor`):
    /// whether some vertex on `child`'s chain of parents has the parent id `ancestor`.
    fn is_ancestor(&mut self, child: Name, ancestor: Name) -> bool {
        if self.walk_ancestors {
            return self.walk_is_ancestor(child, ancestor);
        }
        let Some(c) = self.vertex_index(child) else {
            return false;
        };
        let a = if self.names.str(ancestor).is_empty() {
            EMPTY_PARENT_NODE
        } else {
            match self.vertex_index(ancestor) {
                Some(a) => node(a),
                // No parent id names a missing vertex while the forest is used.
                None => return false,
            }
        };
        self.forest.is_ancestor(a, node(c))
    }

    /// [`RepTree::is_ancestor`] by walking the parents, as RepTree does.
    fn walk_is_ancestor(&self, child: Name, ancestor: Name) -> bool {
        let mut id = child;
        let mut visited = HashSet::new();
        while let Some(i) = self.vertex_index(id) {
            let parent = self.vertices[i].parent;
            if parent == Some(ancestor) {
                return true;
            }
            let Some(p) = parent.filter(|_| !self.falsy(parent)) else {
                return false;
            };
            if !visited.insert(id) {
                return false;
            }
            id = p;
        }
        false
    }

    /// Where RepTree keeps the winning op id of property `key` of `target`.
    fn slot(&mut self, key: Name, target: Name) -> Option<Slot> {
        if !self.has_at[key as usize] && !self.has_at[target as usize] {
            return Some(Slot::Pair(key, target));
        }
        let joined = format!("{}@{}", self.names.str(key), self.names.str(target));
        self.name(&joined).map(Slot::Joined)
    }

    /// `applyProperty`: stashed until the target exists, then last writer wins.
    fn apply_property(&mut self, h: usize, key: Name, value: Option<&str>) {
        let target = self.ops[h].target;
        let Some(i) = self.vertex_index(target) else {
            let value = value.map(str::to_string);
            self.pending_props
                .entry(target)
                .or_default()
                .push((h, key, value));
            return;
        };
        let Some(slot) = self.slot(key, target) else {
            return;
        };
        let id = self.op_id(h);
        let newer = match self.prop_op_ids.get(&slot) {
            None => true,
            Some(&prev) => self.cmp_ids(id, prev) == core::cmp::Ordering::Greater,
        };
        if newer {
            self.prop_op_ids.insert(slot, id);
            set_prop(&mut self.vertices[i].props, key, value);
        }
        self.report_applied(h, newer);
    }
}

/// Sets (or, for `None`, deletes) a property in RepTree's order: a new key is
/// appended, an existing one replaced in place.
fn set_prop(props: &mut Vec<(Name, Val)>, key: Name, value: Option<&str>) {
    match (props.iter().position(|(k, _)| *k == key), value) {
        (Some(i), Some(v)) => match &mut props[i].1 {
            Val::Own(s) => {
                s.clear();
                s.push_str(v);
            }
            other => *other = Val::Own(v.to_string()),
        },
        (Some(i), None) => {
            props.remove(i);
        }
        (None, Some(v)) => props.push((key, Val::Own(v.to_string()))),
        (None, None) => {}
    }
}
