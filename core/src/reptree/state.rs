//! `TreeState.moveVertex` and the bookkeeping beside it: the parent links mirrored in
//! the link-cut forest, and children lists from which a child leaves lazily (stale
//! entries are counted and dropped once they are half of a list, so a fan-out
//! re-parented child by child stays linear). The order of every list is RepTree's.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::forest::Forest;
use super::{node, RepTree, VertexState, EMPTY_PARENT_NODE, NO_SLOT};

impl RepTree {
    /// `TreeState.moveVertex`: creates the vertex if new, sets its parent, removes it
    /// from the old parent's children (unless that parent id is falsy) and appends it
    /// to the new parent's (if that vertex exists).
    pub(super) fn state_move(&mut self, id: &str, new_parent: Option<String>) {
        let i = match self.index.get(id) {
            Some(&i) if self.vertices[i].parent == new_parent => return,
            Some(&i) => i,
            None => {
                let i = self.vertices.len();
                self.index.insert(id.to_string(), i);
                self.vertices.push(VertexState {
                    id: id.to_string(),
                    parent: None,
                    props: Vec::new(),
                    children: Vec::new(),
                });
                self.child_slot.push(NO_SLOT);
                self.stale.push(0);
                i
            }
        };
        let old = core::mem::replace(&mut self.vertices[i].parent, new_parent.clone());
        self.relink(i, new_parent.as_deref());
        let slot = core::mem::replace(&mut self.child_slot[i], NO_SLOT);
        if let Some(o) = old.filter(|p| !p.is_empty()) {
            if let (Some(&oi), true) = (self.index.get(&o), slot != NO_SLOT) {
                self.remove_child(oi);
            }
        }
        if let Some(&ni) = new_parent.as_ref().and_then(|np| self.index.get(np)) {
            self.child_slot[i] = self.vertices[ni].children.len();
            self.vertices[ni].children.push(id.to_string());
        }
    }

    /// Mirrors a new parent of vertex `i` in the forest; leaves the forest for walks
    /// if the link cannot be kept (a cycle, a parent that is not a vertex).
    fn relink(&mut self, i: usize, parent: Option<&str>) {
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
            Some("") => EMPTY_PARENT_NODE,
            Some(p) => match self.index.get(p) {
                Some(&pi) => node(pi),
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
        for (j, c) in kids.into_iter().enumerate() {
            let Some(&ci) = self.index.get(&c) else {
                continue;
            };
            let live = self.child_slot[ci] == j
                && self.vertices[ci].parent.as_deref() == Some(self.vertices[p].id.as_str());
            if live {
                self.child_slot[ci] = keep.len();
                keep.push(c);
            }
        }
        self.vertices[p].children = keep;
        self.stale[p] = 0;
    }
}
