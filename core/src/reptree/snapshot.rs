//! A tree's state as bytes, and back: what a reader of the tree sees (every vertex in
//! creation order with its parent, its properties in RepTree's order and its live
//! children in insertion order) and RepTree's state vector, without the history that
//! built them. Written beside the ops of an archive (format 3 of the SQLite archive)
//! so that opening a workspace reads state instead of replaying every op; checked
//! against a replay by `verify`.
//!
//! ```text
//! snapshot  = "SRT1" keys vertices peers
//! keys      = count str*                    property keys, in order of first use
//! vertices  = count vertex*
//! vertex    = str(id) parent count(props) (key-index str(raw JSON value))*
//!             count(children) index*        children: vertex indices
//! parent    = 0 (null) | 1 index (a vertex) | 2 str(id of no vertex)
//! peers     = count (str(peer) count(ranges) (start length)*)*   sorted by peer id
//! str       = count UTF-8 bytes
//! count, index, start, length: unsigned LEB128 (at most 10 bytes)
//! ```
//!
//! The encoding is canonical: a tree has exactly one snapshot, so a snapshot is
//! checked by comparing bytes. [`RepTree::from_snapshot`] reads untrusted bytes: every
//! count is bounded by the bytes left, every index by the vertices read, and the
//! children lists must agree with the parent links exactly (each vertex whose parent
//! is a vertex is listed once, by that parent, and nowhere else).

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use hashbrown::HashMap;

use super::names::Name;
use super::{RepTree, Val, NO_SLOT, V};
use crate::error::{Error, Result};

/// The first bytes of every snapshot.
pub const SNAPSHOT_MAGIC: &[u8; 4] = b"SRT1";

/// The most items reserved up front for a declared count; past it, lists grow as they
/// are read, so a count the bytes only claim reserves little.
const RESERVE: usize = 1 << 12;

/// A peer's op counters that RepTree counts as applied, as sorted, disjoint,
/// non-adjacent ranges `(first, last)` (RepTree's `getStateVector`).
pub type StateVector = Vec<(String, Vec<(u64, u64)>)>;

fn corrupt(reason: String) -> Error {
    Error::Corrupt {
        format: "tree snapshot",
        reason,
    }
}

/// Where a snapshot is encoded: bytes, or a count of them.
trait Out {
    fn bytes(&mut self, b: &[u8]);

    /// Unsigned LEB128.
    fn uint(&mut self, mut n: u64) {
        let mut buf = [0u8; 10];
        let mut len = 0;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                buf[len] = b;
                len += 1;
                break;
            }
            buf[len] = b | 0x80;
            len += 1;
        }
        self.bytes(&buf[..len]);
    }

    fn str(&mut self, s: &str) {
        self.uint(s.len() as u64);
        self.bytes(s.as_bytes());
    }
}

impl Out for Vec<u8> {
    fn bytes(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
}

/// Counts the bytes of a snapshot.
struct Count(usize);

impl Out for Count {
    fn bytes(&mut self, b: &[u8]) {
        self.0 += b.len();
    }
}

/// A cursor over untrusted snapshot bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn uint(&mut self) -> Result<u64> {
        let mut n = 0u64;
        for shift in (0..70).step_by(7) {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(corrupt(format!("cut at byte {}", self.pos)));
            };
            self.pos += 1;
            let part = u64::from(b & 0x7f);
            if shift == 63 && part > 1 || shift > 63 {
                return Err(corrupt(format!(
                    "a number over 64 bits at byte {}",
                    self.pos
                )));
            }
            n |= part << shift;
            if b & 0x80 == 0 {
                // Canonical: no trailing zero groups.
                if b == 0 && shift > 0 {
                    return Err(corrupt(format!(
                        "a number not in its shortest form at byte {}",
                        self.pos
                    )));
                }
                return Ok(n);
            }
        }
        Err(corrupt(format!(
            "a number over 64 bits at byte {}",
            self.pos
        )))
    }

    /// A count of items each at least `min_bytes` long: never more than the bytes left
    /// could hold, so nothing is reserved for a count the input cannot back.
    fn count(&mut self, min_bytes: usize, what: &str) -> Result<usize> {
        let n = self.uint()?;
        let left = (self.bytes.len() - self.pos) as u64;
        if n.saturating_mul(min_bytes as u64) > left {
            return Err(corrupt(format!(
                "{n} {what} declared at byte {} with {left} bytes left",
                self.pos
            )));
        }
        Ok(n as usize)
    }

    fn str(&mut self) -> Result<&'a str> {
        let n = self.count(1, "string bytes")?;
        let raw = &self.bytes[self.pos..self.pos + n];
        let s = core::str::from_utf8(raw)
            .map_err(|_| corrupt(format!("a string that is not UTF-8 at byte {}", self.pos)))?;
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| corrupt(format!("cut at byte {}", self.pos)))?;
        self.pos += 1;
        Ok(b)
    }
}

impl RepTree {
    /// RepTree's state vector: per peer, the counters of the ops it reported as
    /// applied (moves placed, property sets that won), as ranges; peers sorted by id.
    pub fn state_vector(&self) -> StateVector {
        if let Some(sv) = &self.frozen_state_vector {
            return sv.clone();
        }
        let mut by_peer: HashMap<Name, Vec<u64>> = HashMap::new();
        for op in self.ops.iter().filter(|o| o.reported) {
            by_peer.entry(op.peer).or_default().push(op.counter);
        }
        let mut out: StateVector = by_peer
            .into_iter()
            .map(|(peer, mut counters)| {
                counters.sort_unstable();
                let mut ranges: Vec<(u64, u64)> = Vec::new();
                for c in counters {
                    match ranges.last_mut() {
                        Some(r) if c <= r.1.saturating_add(1) => r.1 = r.1.max(c),
                        _ => ranges.push((c, c)),
                    }
                }
                (String::from(self.names.str(peer)), ranges)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The length of [`RepTree::snapshot`]'s bytes, counted without making them (a
    /// writer that keeps snapshots up to some size asks first).
    pub fn snapshot_len(&self) -> usize {
        let mut n = Count(0);
        self.encode(&mut n);
        n.0
    }

    /// The tree's state as bytes (see the module's documentation): the same tree
    /// always gives the same bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.snapshot_len());
        self.encode(&mut out);
        out
    }

    fn encode(&self, out: &mut impl Out) {
        out.bytes(SNAPSHOT_MAGIC);
        let mut keys: Vec<Name> = Vec::new();
        let mut key_index: HashMap<Name, u64> = HashMap::new();
        for v in &self.vertices {
            for (k, _) in &v.props {
                key_index.entry(*k).or_insert_with(|| {
                    keys.push(*k);
                    keys.len() as u64 - 1
                });
            }
        }
        out.uint(keys.len() as u64);
        for k in &keys {
            out.str(self.names.str(*k));
        }
        out.uint(self.vertices.len() as u64);
        for (i, v) in self.vertices.iter().enumerate() {
            out.str(self.names.str(v.id));
            match v.parent {
                None => out.bytes(&[0]),
                Some(p) => match self.vertex_index(p) {
                    Some(pi) => {
                        out.bytes(&[1]);
                        out.uint(pi as u64);
                    }
                    None => {
                        out.bytes(&[2]);
                        out.str(self.names.str(p));
                    }
                },
            }
            out.uint(v.props.len() as u64);
            for (k, value) in &v.props {
                out.uint(key_index.get(k).copied().unwrap_or(0));
                out.str(self.text(value));
            }
            out.uint(self.live_children(i).count() as u64);
            for c in self.live_children(i) {
                out.uint(c as u64);
            }
        }
        let sv = self.state_vector();
        out.uint(sv.len() as u64);
        for (peer, ranges) in &sv {
            out.str(peer);
            out.uint(ranges.len() as u64);
            for &(first, last) in ranges {
                out.uint(first);
                out.uint(last - first);
            }
        }
    }

    /// A tree read from [`RepTree::snapshot`]'s bytes: a read-only view that answers
    /// every question a replayed tree answers ([`RepTree::vertices`],
    /// [`RepTree::children`], [`RepTree::state_vector`], …) but holds no history, so
    /// ops applied to it later are ignored ([`RepTree::is_snapshot`]). Untrusted bytes
    /// give `Corrupt`, never a panic, and memory bounded by their length.
    pub fn from_snapshot(bytes: &[u8]) -> Result<RepTree> {
        // Value ranges are kept as u32 offsets into one text.
        if u32::try_from(bytes.len()).is_err() {
            return Err(corrupt("over 4 GiB".into()));
        }
        if bytes.get(..4) != Some(SNAPSHOT_MAGIC.as_slice()) {
            return Err(corrupt("it does not start with \"SRT1\"".into()));
        }
        let mut r = Reader { bytes, pos: 4 };
        let mut t = RepTree {
            walk_ancestors: true,
            frozen_state_vector: Some(Vec::new()),
            frozen_text: String::with_capacity(bytes.len()),
            ..RepTree::default()
        };
        let nkeys = r.count(1, "keys")?;
        let mut keys: Vec<Name> = Vec::with_capacity(nkeys.min(RESERVE));
        for _ in 0..nkeys {
            // The names are empty before the keys: a new key gets the next number.
            let k = t.snapshot_name(r.str()?)?;
            if k as usize != keys.len() {
                return Err(corrupt(format!("key {:?} listed twice", t.names.str(k))));
            }
            keys.push(k);
        }
        // Per key: the last vertex (+ 1) that used it, to refuse a repeated key.
        let mut used_by = vec![0usize; nkeys];
        // Keys are listed in order of first use: the next new one is `first_use`.
        let mut first_use = 0usize;
        // A vertex takes at least 4 bytes: id length, parent tag, two counts.
        let n = r.count(4, "vertices")?;
        // Reserved for what real trees hold; a count is only a claim.
        t.vertices.reserve(n.min(RESERVE));
        let mut kids_of: Vec<Vec<usize>> = Vec::with_capacity(n.min(RESERVE));
        let mut parent_index: Vec<(usize, usize)> = Vec::new();
        let mut parent_named: Vec<usize> = Vec::new();
        for i in 0..n {
            let id = t.snapshot_name(r.str()?)?;
            if t.vertex_index(id).is_some() {
                return Err(corrupt(format!("vertex {i} repeats an id")));
            }
            t.vertex_of[id as usize] = i as u32;
            let parent = match r.byte()? {
                0 => None,
                1 => {
                    let p = usize::try_from(r.uint()?).unwrap_or(usize::MAX);
                    if p >= n || p == i {
                        return Err(corrupt(format!("vertex {i} has parent {p} of {n}")));
                    }
                    parent_index.push((i, p));
                    None
                }
                2 => {
                    parent_named.push(i);
                    Some(t.snapshot_name(r.str()?)?)
                }
                b => return Err(corrupt(format!("parent tag {b} of vertex {i}"))),
            };
            let np = r.count(2, "properties")?;
            let mut props: Vec<(Name, Val)> = Vec::with_capacity(np.min(RESERVE));
            for _ in 0..np {
                let ki = usize::try_from(r.uint()?).unwrap_or(usize::MAX);
                if ki > first_use || ki >= keys.len() {
                    return Err(corrupt(format!("vertex {i} uses key {ki} out of order")));
                }
                first_use += usize::from(ki == first_use);
                let k = keys[ki];
                if used_by[ki] == i + 1 {
                    return Err(corrupt(format!("vertex {i} repeats a property key")));
                }
                used_by[ki] = i + 1;
                let value = r.str()?;
                let at = t.frozen_text.len() as u32;
                t.frozen_text.push_str(value);
                props.push((k, Val::At(at, value.len() as u32)));
            }
            let nk = r.count(1, "children")?;
            let mut kids = Vec::with_capacity(nk.min(RESERVE));
            for _ in 0..nk {
                let c = r.uint()?;
                kids.push(usize::try_from(c).unwrap_or(usize::MAX));
            }
            kids_of.push(kids);
            t.vertices.push(V {
                id,
                parent,
                props,
                children: Vec::new(),
            });
        }
        if first_use != keys.len() {
            return Err(corrupt("a key listed is never used".into()));
        }
        for (i, p) in parent_index {
            t.vertices[i].parent = Some(t.vertices[p].id);
        }
        for i in parent_named {
            if t.vertices[i]
                .parent
                .and_then(|p| t.vertex_index(p))
                .is_some()
            {
                return Err(corrupt(format!("vertex {i} names its parent vertex by id")));
            }
        }
        t.child_slot = vec![NO_SLOT; n];
        t.stale = vec![0; n];
        for (p, kids) in kids_of.into_iter().enumerate() {
            for (j, &c) in kids.iter().enumerate() {
                let listed_right = c < n
                    && t.child_slot[c] == NO_SLOT
                    && t.vertices[c].parent == Some(t.vertices[p].id);
                if !listed_right {
                    return Err(corrupt(format!(
                        "vertex {p} lists a child ({c}) that is not its own or is listed twice"
                    )));
                }
                t.child_slot[c] = j;
            }
            t.vertices[p].children = kids;
        }
        for (i, v) in t.vertices.iter().enumerate() {
            let parent_is_vertex = v.parent.and_then(|p| t.vertex_index(p)).is_some();
            if parent_is_vertex && t.child_slot[i] == NO_SLOT {
                return Err(corrupt(format!(
                    "vertex {i} is not among its parent's children"
                )));
            }
        }
        let peers = r.count(2, "peers")?;
        let mut sv: StateVector = Vec::with_capacity(peers.min(RESERVE));
        for _ in 0..peers {
            let peer = String::from(r.str()?);
            if sv.last().is_some_and(|(last, _)| *last >= peer) {
                return Err(corrupt(format!("state vector peer {peer:?} out of order")));
            }
            let nr = r.count(2, "ranges")?;
            if nr == 0 {
                return Err(corrupt(format!("state vector peer {peer:?} has no ranges")));
            }
            let mut ranges: Vec<(u64, u64)> = Vec::with_capacity(nr.min(RESERVE));
            for _ in 0..nr {
                let first = r.uint()?;
                let last = first
                    .checked_add(r.uint()?)
                    .ok_or_else(|| corrupt("a state vector range past 2⁶⁴".into()))?;
                if ranges
                    .last()
                    .is_some_and(|&(_, prev)| first <= prev.saturating_add(1))
                {
                    return Err(corrupt(format!(
                        "state vector ranges of {peer:?} out of order"
                    )));
                }
                ranges.push((first, last));
            }
            sv.push((peer, ranges));
        }
        if r.pos != bytes.len() {
            return Err(corrupt(format!(
                "{} bytes after the end",
                bytes.len() - r.pos
            )));
        }
        t.frozen_state_vector = Some(sv);
        Ok(t)
    }

    /// Whether this tree was read from a snapshot (a read-only view: ops applied to it
    /// are ignored). Such a tree answers cycle questions by walking
    /// ([`RepTree::uses_forest`] is false) and is never [`RepTree::overloaded`].
    pub fn is_snapshot(&self) -> bool {
        self.frozen_state_vector.is_some()
    }

    fn snapshot_name(&mut self, s: &str) -> Result<Name> {
        self.name(s)
            .ok_or_else(|| corrupt("more than 2³² distinct names".into()))
    }
}
