//! Sorted lists of series references per label pair, with the three set
//! operations queries need. Lists are plain sorted `Vec<u64>`: appends are
//! almost always at the end because refs grow monotonically.
use std::collections::HashMap;

use crate::symbols::Sym;

/// Postings of the head, keyed by interned label name then value.
#[derive(Default)]
pub struct MemPostings {
    by_name: HashMap<Sym, HashMap<Sym, Vec<u64>>>,
    all: Vec<u64>,
}

fn insert_sorted(list: &mut Vec<u64>, r: u64) {
    match list.last() {
        None => list.push(r),
        Some(&last) if last < r => list.push(r),
        _ => {
            if let Err(i) = list.binary_search(&r) {
                list.insert(i, r);
            }
        }
    }
}

fn remove_sorted(list: &mut Vec<u64>, r: u64) {
    if let Ok(i) = list.binary_search(&r) {
        list.remove(i);
    }
}

impl MemPostings {
    /// Adds series `r` under each of its label pairs.
    pub fn add(&mut self, r: u64, labels: &[(Sym, Sym)]) {
        insert_sorted(&mut self.all, r);
        for (n, v) in labels {
            insert_sorted(self.by_name.entry(*n).or_default().entry(*v).or_default(), r);
        }
    }

    /// Removes series `r` (garbage collection of series without data).
    pub fn delete(&mut self, r: u64, labels: &[(Sym, Sym)]) {
        remove_sorted(&mut self.all, r);
        for (n, v) in labels {
            if let Some(values) = self.by_name.get_mut(n) {
                if let Some(list) = values.get_mut(v) {
                    remove_sorted(list, r);
                    if list.is_empty() {
                        values.remove(v);
                    }
                }
                if values.is_empty() {
                    self.by_name.remove(n);
                }
            }
        }
    }

    /// Every series ref, sorted.
    pub fn all(&self) -> &[u64] {
        &self.all
    }

    /// The postings of one label pair.
    pub fn get(&self, name: Sym, value: Sym) -> &[u64] {
        self.by_name
            .get(&name)
            .and_then(|v| v.get(&value))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The values present for `name`, with their postings.
    pub fn values(&self, name: Sym) -> impl Iterator<Item = (Sym, &[u64])> {
        self.by_name
            .get(&name)
            .into_iter()
            .flat_map(|m| m.iter().map(|(v, l)| (*v, l.as_slice())))
    }

    /// Every label name present.
    pub fn names(&self) -> impl Iterator<Item = Sym> + '_ {
        self.by_name.keys().copied()
    }

    /// Number of distinct label pairs.
    pub fn num_pairs(&self) -> usize {
        self.by_name.values().map(|m| m.len()).sum()
    }

    /// Approximate heap bytes held by the index.
    pub fn memory_bytes(&self) -> usize {
        let lists: usize = self
            .by_name
            .values()
            .flat_map(|m| m.values())
            .map(|l| l.capacity() * 8 + 24 + 8)
            .sum();
        lists + self.all.capacity() * 8 + self.by_name.len() * 64
    }
}

/// The intersection of sorted lists.
pub fn intersect(mut lists: Vec<&[u64]>) -> Vec<u64> {
    if lists.is_empty() {
        return Vec::new();
    }
    lists.sort_by_key(|l| l.len());
    let mut out: Vec<u64> = lists[0].to_vec();
    for other in &lists[1..] {
        if out.is_empty() {
            break;
        }
        let mut j = 0;
        out.retain(|r| {
            // Galloping would help for very skewed sizes; linear merge is
            // enough while the smallest list drives the loop.
            while j < other.len() && other[j] < *r {
                j += 1;
            }
            j < other.len() && other[j] == *r
        });
    }
    out
}

/// The union of sorted lists.
pub fn merge(lists: Vec<&[u64]>) -> Vec<u64> {
    match lists.len() {
        0 => Vec::new(),
        1 => lists[0].to_vec(),
        _ => {
            let mut out: Vec<u64> = lists.iter().flat_map(|l| l.iter().copied()).collect();
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

/// `base` minus `remove`, both sorted.
pub fn without(base: Vec<u64>, remove: &[u64]) -> Vec<u64> {
    if remove.is_empty() {
        return base;
    }
    let mut j = 0;
    base.into_iter()
        .filter(|r| {
            while j < remove.len() && remove[j] < *r {
                j += 1;
            }
            !(j < remove.len() && remove[j] == *r)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        assert_eq!(intersect(vec![&[1, 3, 5, 7], &[3, 4, 5], &[0, 3, 5, 9]]), vec![3, 5]);
        assert_eq!(intersect(vec![&[1, 2], &[]]), Vec::<u64>::new());
        assert_eq!(merge(vec![&[1, 5], &[2, 5, 8], &[]]), vec![1, 2, 5, 8]);
        assert_eq!(without(vec![1, 2, 3, 4], &[2, 4, 6]), vec![1, 3]);
    }

    #[test]
    fn add_out_of_order_keeps_lists_sorted_and_delete_cleans_up() {
        let mut p = MemPostings::default();
        p.add(5, &[(0, 1)]);
        p.add(3, &[(0, 1), (2, 3)]);
        p.add(9, &[(0, 2)]);
        assert_eq!(p.get(0, 1), &[3, 5]);
        assert_eq!(p.all(), &[3, 5, 9]);
        p.delete(3, &[(0, 1), (2, 3)]);
        assert_eq!(p.get(0, 1), &[5]);
        assert_eq!(p.get(2, 3), &[] as &[u64]);
        assert_eq!(p.names().count(), 1);
        assert_eq!(p.num_pairs(), 2);
    }
}
