//! A link-cut forest (Sleator and Tarjan): the parent links of the tree state, kept
//! so that "is `a` an ancestor of `b`" costs O(log n) amortised instead of a walk up
//! the whole chain. RepTree checks it on every move; a walk makes a chain of n moves
//! cost O(n²).
//!
//! Nodes are numbers `1..`; `0` is "none". Each node has at most one parent; linking a
//! node under one of its own descendants is the caller's to refuse (see
//! [`Forest::root_of`]). No recursion: a chain of any depth costs no stack.

use alloc::vec::Vec;

/// Node number meaning "none".
const NIL: u32 = 0;

/// A forest of rooted trees with link, cut and ancestor queries.
#[derive(Clone, Debug, Default)]
pub(super) struct Forest {
    /// Splay-tree children (left: towards the root of the represented tree).
    ch: Vec<[u32; 2]>,
    /// Splay parent, or path parent when this node is the root of its splay tree.
    fa: Vec<u32>,
}

impl Forest {
    /// Makes room for nodes `1..=n`, each new node alone in its tree.
    pub(super) fn grow(&mut self, n: usize) {
        if self.fa.len() <= n {
            self.ch.resize(n + 1, [NIL; 2]);
            self.fa.resize(n + 1, NIL);
        }
    }

    fn is_splay_root(&self, x: u32) -> bool {
        let f = self.fa[x as usize];
        f == NIL || (self.ch[f as usize][0] != x && self.ch[f as usize][1] != x)
    }

    fn side(&self, x: u32) -> usize {
        usize::from(self.ch[self.fa[x as usize] as usize][1] == x)
    }

    fn rotate(&mut self, x: u32) {
        let y = self.fa[x as usize];
        let z = self.fa[y as usize];
        let k = self.side(x);
        if !self.is_splay_root(y) {
            let ky = self.side(y);
            self.ch[z as usize][ky] = x;
        }
        self.fa[x as usize] = z;
        let w = self.ch[x as usize][k ^ 1];
        self.ch[y as usize][k] = w;
        if w != NIL {
            self.fa[w as usize] = y;
        }
        self.ch[x as usize][k ^ 1] = y;
        self.fa[y as usize] = x;
    }

    fn splay(&mut self, x: u32) {
        while !self.is_splay_root(x) {
            let y = self.fa[x as usize];
            if !self.is_splay_root(y) {
                if self.side(x) == self.side(y) {
                    self.rotate(y);
                } else {
                    self.rotate(x);
                }
            }
            self.rotate(x);
        }
    }

    /// Makes the path from the root to `x` preferred; returns the last node where the
    /// walk joined that path (the lowest common ancestor with the previous access).
    fn access(&mut self, x: u32) -> u32 {
        let mut last = NIL;
        let mut y = x;
        while y != NIL {
            self.splay(y);
            self.ch[y as usize][1] = last;
            last = y;
            y = self.fa[y as usize];
        }
        self.splay(x);
        last
    }

    /// The root of the tree holding `x`.
    #[cfg(test)]
    fn root_of(&mut self, x: u32) -> u32 {
        self.access(x);
        let mut r = x;
        while self.ch[r as usize][0] != NIL {
            r = self.ch[r as usize][0];
        }
        self.splay(r);
        r
    }

    /// Detaches `x` (and its subtree) from its parent, if it has one.
    pub(super) fn cut(&mut self, x: u32) {
        self.access(x);
        let l = self.ch[x as usize][0];
        if l != NIL {
            self.fa[l as usize] = NIL;
            self.ch[x as usize][0] = NIL;
        }
    }

    /// Makes `parent` the parent of `x`, which must be the root of its tree (just
    /// [`Forest::cut`]) and not an ancestor of `parent`.
    pub(super) fn link(&mut self, x: u32, parent: u32) {
        self.access(x);
        self.fa[x as usize] = parent;
    }

    /// Whether `a` is a proper ancestor of `b`: after `access(b)` the splay tree of `b`
    /// holds exactly the path from the root to `b`; splaying `a` then brings `a` to its
    /// top if it is on that path, which leaves `b` (the old top) within two splay
    /// levels under it. Otherwise `b` stays the top of its own splay tree.
    pub(super) fn is_ancestor(&mut self, a: u32, b: u32) -> bool {
        if a == b {
            return false;
        }
        self.access(b);
        self.splay(a);
        let is_child =
            |f: &Forest, p: u32, c: u32| f.ch[p as usize][0] == c || f.ch[p as usize][1] == c;
        let p = self.fa[b as usize];
        if p == NIL || !is_child(self, p, b) {
            return false;
        }
        p == a || (self.fa[p as usize] == a && is_child(self, a, p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parent chains, walked: the reference the forest must agree with.
    fn walk_is_ancestor(parent: &[u32], a: u32, mut b: u32) -> bool {
        while parent[b as usize] != NIL {
            b = parent[b as usize];
            if b == a {
                return true;
            }
        }
        false
    }

    #[test]
    fn agrees_with_walking_the_parents() {
        let n = 60u32;
        let mut f = Forest::default();
        f.grow(n as usize);
        let mut parent = vec![NIL; n as usize + 1];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = |m: u32| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % u64::from(m)) as u32
        };
        for _ in 0..20_000 {
            let (c, p) = (rnd(n) + 1, rnd(n + 1));
            f.cut(c);
            parent[c as usize] = NIL;
            if p != NIL && f.root_of(p) != c {
                f.link(c, p);
                parent[c as usize] = p;
            }
            let (a, b) = (rnd(n) + 1, rnd(n) + 1);
            assert_eq!(f.is_ancestor(a, b), walk_is_ancestor(&parent, a, b));
        }
        // A chain 1 → 2 → … → n, queried end to end.
        let mut f = Forest::default();
        f.grow(n as usize);
        for c in 2..=n {
            f.link(c, c - 1);
        }
        assert!(f.is_ancestor(1, n));
        assert!(!f.is_ancestor(n, 1));
        assert_eq!(f.root_of(n), 1);
    }
}
