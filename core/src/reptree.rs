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

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cmp::Ordering;

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
    parent_before_move: BTreeMap<usize, Option<String>>,
    vertices: Vec<VertexState>,
    index: BTreeMap<String, usize>,
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

    /// Applies more ops (`merge`).
    pub fn apply_ops(&mut self, ops: impl IntoIterator<Item = TreeOp>) {
        for op in ops {
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

    fn apply_move(&mut self, h: usize) {
        let (target, parent) = match &self.ops[h].kind {
            OpKind::Move { parent } => (self.ops[h].target.clone(), parent.clone()),
            OpKind::Set { .. } => return,
        };
        if let Some(p) = &parent {
            if !self.has(p) {
                self.pending_moves.entry(p.clone()).or_default().push(h);
                return;
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
                self.undo_move(m);
            }
            self.move_ops.insert(target_index + 1, h);
            self.report_applied(h);
            self.try_to_move(h);
            let mut i = target_index + 2;
            while i < self.move_ops.len() {
                let m = self.move_ops[i];
                self.try_to_move(m);
                i += 1;
            }
        }
        self.apply_pending_moves_for_parent(&target);
    }

    fn apply_pending_moves_for_parent(&mut self, parent: &str) {
        if !self.has(parent) {
            return;
        }
        if let Some(pending) = self.pending_moves.remove(parent) {
            for h in pending {
                self.apply_move(h);
            }
        }
    }

    fn try_to_move(&mut self, h: usize) {
        let target = self.ops[h].target.clone();
        let OpKind::Move { parent } = self.ops[h].kind.clone() else {
            return;
        };
        let existed = match self.vertex(&target) {
            Some(v) => {
                let before = v.parent.clone();
                self.parent_before_move.insert(h, before);
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
        let Some(prev) = self.parent_before_move.get(&h).cloned() else {
            return;
        };
        self.state_move(&target, prev);
    }

    /// Whether `ancestor` is a proper ancestor of `child` (RepTree's `isAncestor`).
    fn is_ancestor(&self, child: &str, ancestor: &str) -> bool {
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

    /// `TreeState.moveVertex`.
    fn state_move(&mut self, id: &str, new_parent: Option<String>) {
        let prev: Option<Option<String>> = self.vertex(id).map(|v| v.parent.clone());
        if prev.is_none() {
            self.index.insert(id.to_string(), self.vertices.len());
            self.vertices.push(VertexState {
                id: id.to_string(),
                parent: new_parent.clone(),
                props: Vec::new(),
                children: Vec::new(),
            });
        }
        if prev.as_ref() == Some(&new_parent) {
            return;
        }
        if let Some(v) = self.get_mut(id) {
            v.parent = new_parent.clone();
        }
        if let Some(old) = prev.as_ref().filter(|p| !falsy(p)).and_then(|p| p.clone()) {
            if let Some(o) = self.get_mut(&old) {
                o.children.retain(|c| c != id);
            }
        }
        if let Some(np) = new_parent {
            if let Some(n) = self.get_mut(&np) {
                n.children.push(id.to_string());
            }
        }
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

/// Whether a JSON value is falsy in JavaScript (`null`, `false`, `0`, `""`).
pub fn js_falsy(raw: &str) -> bool {
    match raw.trim() {
        "null" | "false" | "\"\"" => true,
        n => n.parse::<f64>().is_ok_and(|x| x == 0.0 || x.is_nan()),
    }
}

/// `JSON.stringify(s)` for the characters path names contain.
fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// `new Date(v).getTime()` for the raw JSON text of a `_c` value: ISO-8601 strings
/// (`YYYY-MM-DDTHH:MM:SS(.sss)Z`, `YYYY-MM-DD`) and numbers (milliseconds). Anything
/// else is NaN; JavaScript's `!value` (empty string, 0, false, null) counts as "no
/// `_c`" in RepTree's comparator, which [`RepTree::children`] handles before this.
pub fn js_date_value(raw: &str) -> f64 {
    let raw = raw.trim();
    if let Ok(n) = raw.parse::<f64>() {
        // TimeClip: out of range is NaN, else truncated to an integer.
        return if n.is_finite() && n.abs() <= 8.64e15 {
            (n as i64) as f64
        } else {
            f64::NAN
        };
    }
    let Ok(s) = serde_json::from_str::<String>(raw) else {
        return f64::NAN;
    };
    parse_iso_date(&s).unwrap_or(f64::NAN)
}

fn parse_iso_date(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let num = |r: core::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (mut h, mut mi, mut sec, mut ms) = (0, 0, 0, 0);
    if b.len() > 10 {
        if b.len() < 17 || b[10] != b'T' || b[13] != b':' || *b.last()? != b'Z' {
            return None;
        }
        h = num(11..13)?;
        mi = num(14..16)?;
        let rest = &s[16..s.len() - 1];
        if !rest.is_empty() {
            let rest = rest.strip_prefix(':')?;
            sec = num(16 + 1..16 + 3)?;
            let frac = &rest[2..];
            if !frac.is_empty() {
                let digits = frac.strip_prefix('.')?;
                if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                let mut v: i64 = 0;
                for (i, c) in digits.bytes().take(3).enumerate() {
                    v += i64::from(c - b'0') * [100, 10, 1][i];
                }
                ms = v;
            }
        }
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 24 || mi > 59 || sec > 59 {
        return None;
    }
    // days_from_civil (Howard Hinnant).
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((((days * 24 + h) * 60 + mi) * 60 + sec) as f64 * 1000.0 + ms as f64)
}

/// V8's `Array.prototype.sort` (TimSort) with a comparator that returns a number:
/// exact for fewer than 64 elements (one run, binary insertion); for longer arrays a
/// stable merge sort, which gives the same order whenever the comparator is
/// consistent.
pub fn v8_sort<T, F: Fn(&T, &T) -> f64>(v: &mut [T], cmp: F) {
    let n = v.len();
    if n < 2 {
        return;
    }
    let less = |a: &T, b: &T| cmp(a, b) < 0.0;
    if n >= 64 {
        v.sort_by(|a, b| {
            if less(a, b) {
                Ordering::Less
            } else if less(b, a) {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        });
        return;
    }
    // CountAndMakeRun: a strictly descending run is reversed; else an ascending run.
    let mut run = 2;
    if less(&v[1], &v[0]) {
        while run < n && less(&v[run], &v[run - 1]) {
            run += 1;
        }
        v[..run].reverse();
    } else {
        while run < n && !less(&v[run], &v[run - 1]) {
            run += 1;
        }
    }
    // BinaryInsertionSort of the rest.
    for start in run..n {
        let (mut left, mut right) = (0, start);
        while left < right {
            let mid = left + ((right - left) >> 1);
            if less(&v[start], &v[mid]) {
                right = mid;
            } else {
                left = mid + 1;
            }
        }
        v[left..=start].rotate_right(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mv(c: u64, p: &str, t: &str, parent: Option<&str>) -> TreeOp {
        TreeOp {
            id: OpId {
                counter: c,
                peer: p.into(),
            },
            target: t.into(),
            kind: OpKind::Move {
                parent: parent.map(Into::into),
            },
        }
    }

    fn set(c: u64, p: &str, t: &str, k: &str, v: Option<&str>) -> TreeOp {
        TreeOp {
            id: OpId {
                counter: c,
                peer: p.into(),
            },
            target: t.into(),
            kind: OpKind::Set {
                key: k.into(),
                value: v.map(Into::into),
            },
        }
    }

    #[test]
    fn concurrent_moves_higher_peer_wins_in_any_order() {
        let base = [
            mv(1, "pa", "0", None),
            mv(2, "pa", "r", None),
            mv(3, "pa", "a", Some("r")),
            mv(4, "pa", "b", Some("r")),
            mv(5, "pa", "x", Some("r")),
        ];
        let c1 = mv(7, "pa", "x", Some("a"));
        let c2 = mv(7, "pb", "x", Some("b"));
        for ops in [[c1.clone(), c2.clone()], [c2, c1]] {
            let t = RepTree::from_ops(base.iter().cloned().chain(ops));
            assert_eq!(t.vertex("x").unwrap().parent.as_deref(), Some("b"));
            assert_eq!(t.root().unwrap().id, "r");
        }
    }

    #[test]
    fn cycles_are_skipped_and_props_stashed() {
        let t = RepTree::from_ops([
            set(9, "p", "b", "name", Some("\"bee\"")),
            mv(1, "p", "r", None),
            mv(2, "p", "a", Some("r")),
            mv(3, "p", "b", Some("a")),
            mv(4, "p", "a", Some("b")),
        ]);
        assert_eq!(t.vertex("a").unwrap().parent.as_deref(), Some("r"));
        assert_eq!(t.vertex("b").unwrap().prop("name"), Some("\"bee\""));
        assert_eq!(t.vertex_by_path("a").map(|v| v.id.as_str()), None);
    }

    #[test]
    fn v8_sort_matches_insertion_semantics() {
        let mut v = vec![3, 1, 2];
        v8_sort(&mut v, |a, b| f64::from(*a) - f64::from(*b));
        assert_eq!(v, [1, 2, 3]);
        assert_eq!(
            js_date_value("\"2026-11-23T19:50:30.007Z\""),
            1_795_463_430_007.0
        );
        assert!(js_date_value("\"yesterday\"").is_nan());
    }
}
