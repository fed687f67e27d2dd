//! `TreeState.moveVertex` and the bookkeeping beside it: the parent links mirrored in
//! the link-cut forest, and children lists from which a child leaves lazily (stale
//! entries are counted and dropped once they are half of a list, so a fan-out
//! re-parented child by child stays linear). The order of every list is RepTree's.

use alloc::vec::Vec;

use super::forest::Forest;
use super::names::Name;
use super::{node, RepTree, EMPTY_PARENT_NODE, NO_SLOT, NO_VERTEX, V};

impl RepTree {
    /// `TreeState.moveVertex`: creates the vertex if new, sets its parent, removes it
    /// from the old parent's children (unless that parent id is falsy) and appends it
    /// to the new parent's (if that vertex exists).
    pub(super) fn state_move(&mut self, id: Name, new_parent: Option<Name>) {
        let i = match self.vertex_index(id) {
            Some(i) if self.vertices[i].parent == new_parent => return,
            Some(i) => i,
            None => {
                let i = self.vertices.len();
                if i >= NO_VERTEX as usize {
                    self.overloaded = true;
                    return;
                }
                self.vertex_of[id as usize] = i as u32;
                self.vertices.push(V {
                    id,
                    parent: None,
                    props: Vec::new(),
                    children: Vec::new(),
                });
                self.child_slot.push(NO_SLOT);
                self.stale.push(0);
                i
            }
        };
        let old = core::mem::replace(&mut self.vertices[i].parent, new_parent);
        self.relink(i, new_parent);
        let slot = core::mem::replace(&mut self.child_slot[i], NO_SLOT);
        if let Some(o) = old.filter(|&p| !self.names.str(p).is_empty()) {
            if let (Some(oi), true) = (self.vertex_index(o), slot != NO_SLOT) {
                self.remove_child(oi);
            }
        }
        if let Some(ni) = new_parent.and_then(|np| self.vertex_index(np)) {
            self.child_slot[i] = self.vertices[ni].children.len();
            self.vertices[ni].children.push(i);
        }
    }

    /// Mirrors a new parent of vertex `i` in the forest; leaves the forest for walks
    /// if the link cannot be kept (a cycle, a parent that is not a vertex).
    fn relink(&mut self, i: usize, parent: Option<Name>) {
        if self.walk_ancestors {
            return;
        }
        if i + 2 > u32::MAX as usize {
            self.leave_forest();
            return;
        }
        let x = node(i);
        self.forest.grow(x as usize);
        self.forest.cut(x);
        let p = match parent {
            None => return,
            Some(p) if self.names.str(p).is_empty() => EMPTY_PARENT_NODE,
            Some(p) => match self.vertex_index(p) {
                Some(pi) => node(pi),
                None => return self.leave_forest(),
            },
        };
        if p == x || self.forest.is_ancestor(x, p) {
            return self.leave_forest();
        }
        self.forest.link(x, p);
    }

    fn leave_forest(&mut self) {
        self.walk_ancestors = true;
        self.forest = Forest::default();
    }

    /// Vertex `p` lost its live child entry: counted, and the list compacted once
    /// half of it is stale (so removals cost O(1) amortised, in any order).
    fn remove_child(&mut self, p: usize) {
        self.stale[p] += 1;
        if self.stale[p] == 1 {
            self.dirty.push(p);
        }
        if self.stale[p] * 2 > self.vertices[p].children.len() {
            self.compact_children(p);
        }
    }

    /// Drops the stale entries of `p`'s children: an entry is live if its child still
    /// has `p` as parent and this entry as its slot. Order is kept.
    pub(super) fn compact_children(&mut self, p: usize) {
        if self.stale[p] == 0 {
            return;
        }
        let kids = core::mem::take(&mut self.vertices[p].children);
        let mut keep = Vec::with_capacity(kids.len() - self.stale[p].min(kids.len()));
        let pid = self.vertices[p].id;
        for (j, c) in kids.into_iter().enumerate() {
            let live = self.child_slot[c] == j && self.vertices[c].parent == Some(pid);
            if live {
                self.child_slot[c] = keep.len();
                keep.push(c);
            }
        }
        self.vertices[p].children = keep;
        self.stale[p] = 0;
    }
}
