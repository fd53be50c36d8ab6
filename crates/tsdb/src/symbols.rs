//! Interned label strings: every distinct name or value is stored once and
//! series refer to it by a 4-byte id. This is what keeps per-series memory
//! small; the price is that symbols live until restart (documented in
//! ARCHITECTURE.md).
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

/// An interned string id.
pub type Sym = u32;

/// Strings by id, readable without a lock: segment `k` holds
/// `FIRST_SEGMENT << k` slots, each set once. Ids are handed out under the
/// `ids` lock, and a slot is filled before its id is published, so a reader
/// holding an id always finds its string. Every series lookup on the ingest
/// path resolves its labels here; a shared read lock there had every
/// appending thread bouncing one cache line.
struct Strings {
    segments: [OnceLock<Segment>; SEGMENTS],
}

/// A segment's slots.
type Segment = Box<[OnceLock<Arc<str>>]>;

const FIRST_SEGMENT: usize = 1024;
/// Enough segments for every `u32` id.
const SEGMENTS: usize = 23;

fn locate(id: Sym) -> (usize, usize) {
    let i = id as usize + FIRST_SEGMENT;
    let k = (usize::BITS - 1 - i.leading_zeros()) as usize - FIRST_SEGMENT.trailing_zeros() as usize;
    (k, i - (FIRST_SEGMENT << k))
}

impl Strings {
    fn get(&self, id: Sym) -> Option<&Arc<str>> {
        let (k, off) = locate(id);
        self.segments.get(k)?.get()?.get(off)?.get()
    }

    fn set(&self, id: Sym, s: Arc<str>) {
        let (k, off) = locate(id);
        let Some(segment) = self.segments.get(k) else { return };
        let seg = segment.get_or_init(|| (0..(FIRST_SEGMENT << k)).map(|_| OnceLock::new()).collect());
        let _ = seg[off].set(s);
    }
}

impl Default for Strings {
    fn default() -> Self {
        Strings {
            segments: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

/// Resolves ids to strings.
pub struct Resolver<'a>(&'a Strings);

impl<'a> Resolver<'a> {
    /// The string behind `id` (empty for an id never handed out).
    pub fn get(&self, id: Sym) -> &'a str {
        self.0.get(id).map(|s| &**s).unwrap_or("")
    }

    /// The string behind `id`, shared with the table: a reference-count
    /// increment, no copy.
    pub fn shared(&self, id: Sym) -> model::SharedStr {
        self.0.get(id).map(model::SharedStr::from).unwrap_or_default()
    }
}

/// A thread-safe, append-only string interner.
#[derive(Default)]
pub struct Symbols {
    ids: RwLock<HashMap<Arc<str>, Sym>>,
    strings: Strings,
}

impl Symbols {
    /// The id of `s`, interning it if new.
    pub fn intern(&self, s: &str) -> Sym {
        if let Some(id) = self.ids.read().get(s) {
            return *id;
        }
        let mut ids = self.ids.write();
        if let Some(id) = ids.get(s) {
            return *id;
        }
        let id = ids.len() as Sym;
        let arc: Arc<str> = Arc::from(s);
        // The string is in place before any reader can learn its id.
        self.strings.set(id, arc.clone());
        ids.insert(arc, id);
        id
    }

    /// The id of `s` if it was ever interned.
    pub fn lookup(&self, s: &str) -> Option<Sym> {
        self.ids.read().get(s).copied()
    }

    /// The string behind `id`.
    pub fn resolve(&self, id: Sym) -> Arc<str> {
        self.strings.get(id).cloned().unwrap_or_else(|| Arc::from(""))
    }

    /// Runs `f` with a resolver (lock-free; kept as a closure API so that
    /// callers need not change if the table's locking does).
    pub fn with_resolver<R>(&self, f: impl FnOnce(&Resolver<'_>) -> R) -> R {
        f(&Resolver(&self.strings))
    }

    /// Approximate heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        let ids = self.ids.read();
        ids.keys().map(|s| s.len() + 16 + 8 + 24 + 8).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once_and_resolves() {
        let s = Symbols::default();
        let a = s.intern("job");
        let b = s.intern("node");
        assert_ne!(a, b);
        assert_eq!(s.intern("job"), a);
        assert_eq!(&*s.resolve(b), "node");
        assert_eq!(s.lookup("nope"), None);
    }

    #[test]
    fn ids_across_segment_boundaries_resolve() {
        for (id, seg) in [
            (0, (0, 0)),
            (1023, (0, 1023)),
            (1024, (1, 0)),
            (3071, (1, 2047)),
            (3072, (2, 0)),
        ] {
            assert_eq!(locate(id), seg, "id {id}");
        }
        let s = Symbols::default();
        let ids: Vec<Sym> = (0..5000).map(|i| s.intern(&format!("v{i}"))).collect();
        s.with_resolver(|r| {
            for (i, id) in ids.iter().enumerate() {
                assert_eq!(r.get(*id), format!("v{i}"));
            }
        });
        assert_eq!(locate(u32::MAX).0, SEGMENTS - 1);
    }
}
