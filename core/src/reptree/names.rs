//! Interned strings: every vertex id, parent id, property key and peer id a tree sees
//! is stored once and named by a number, so the replay compares and hashes integers,
//! not strings, and allocates per distinct name, not per op.
//!
//! The table is hashbrown's with its default hasher (foldhash, seeded per table).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::hash::BuildHasher;

use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashTable};

/// A name: an index into [`Names`].
pub(super) type Name = u32;

/// The interned strings of one tree.
#[derive(Clone, Default)]
pub(super) struct Names {
    table: HashTable<Name>,
    list: Vec<Box<str>>,
    hasher: DefaultHashBuilder,
}

impl core::fmt::Debug for Names {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Names({})", self.list.len())
    }
}

impl Names {
    /// The number of `s`, interning it if new; `None` once `u32::MAX` names exist.
    pub(super) fn intern(&mut self, s: &str) -> Option<Name> {
        let Names {
            table,
            list,
            hasher,
        } = self;
        let h = hasher.hash_one(s);
        match table.entry(
            h,
            |&n| &*list[n as usize] == s,
            |&n| hasher.hash_one(&*list[n as usize]),
        ) {
            Entry::Occupied(e) => Some(*e.get()),
            Entry::Vacant(e) => {
                let n = Name::try_from(list.len()).ok().filter(|&n| n < Name::MAX)?;
                list.push(s.into());
                e.insert(n);
                Some(n)
            }
        }
    }

    /// The number of `s`, if interned.
    pub(super) fn find(&self, s: &str) -> Option<Name> {
        let h = self.hasher.hash_one(s);
        self.table
            .find(h, |&n| &*self.list[n as usize] == s)
            .copied()
    }

    /// The string of `n`.
    pub(super) fn str(&self, n: Name) -> &str {
        &self.list[n as usize]
    }
}
