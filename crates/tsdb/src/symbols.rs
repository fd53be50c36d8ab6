//! Interned label strings: every distinct name or value is stored once and
//! series refer to it by a 4-byte id. This is what keeps per-series memory
//! small; the price is that symbols live until restart (documented in
//! ARCHITECTURE.md).
use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

/// An interned string id.
pub type Sym = u32;

#[derive(Default)]
struct Table {
    ids: HashMap<Arc<str>, Sym>,
    strings: Vec<Arc<str>>,
}

/// Resolves ids to strings while the symbol table is read-locked.
pub struct Resolver<'a>(&'a Table);

impl<'a> Resolver<'a> {
    /// The string behind `id`.
    pub fn get(&self, id: Sym) -> &'a str {
        &self.0.strings[id as usize]
    }
}

/// A thread-safe, append-only string interner.
#[derive(Default)]
pub struct Symbols {
    table: RwLock<Table>,
}

impl Symbols {
    /// The id of `s`, interning it if new.
    pub fn intern(&self, s: &str) -> Sym {
        if let Some(id) = self.table.read().ids.get(s) {
            return *id;
        }
        let mut t = self.table.write();
        if let Some(id) = t.ids.get(s) {
            return *id;
        }
        let id = t.strings.len() as Sym;
        let arc: Arc<str> = Arc::from(s);
        t.strings.push(arc.clone());
        t.ids.insert(arc, id);
        id
    }

    /// The id of `s` if it was ever interned.
    pub fn lookup(&self, s: &str) -> Option<Sym> {
        self.table.read().ids.get(s).copied()
    }

    /// The string behind `id`.
    pub fn resolve(&self, id: Sym) -> Arc<str> {
        self.table.read().strings[id as usize].clone()
    }

    /// Runs `f` with a resolver that holds the read lock once, for bulk reads.
    pub fn with_resolver<R>(&self, f: impl FnOnce(&Resolver<'_>) -> R) -> R {
        let t = self.table.read();
        f(&Resolver(&t))
    }

    /// Approximate heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        let t = self.table.read();
        t.strings.iter().map(|s| s.len() + 16 + 8 + 24).sum()
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
}
