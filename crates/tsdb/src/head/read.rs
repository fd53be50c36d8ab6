//! Reading the head: postings for matchers, then series and samples.
use std::collections::BTreeSet;
use std::sync::Arc;

use model::{Labels, Matcher};

use super::{Head, MemSeries};
use crate::index::{intersect, merge, without};
use crate::querier::{Querier, QueryError, SeriesSamples};

/// A read view of the head over `[mint, maxt]`.
pub struct HeadQuerier {
    head: Arc<Head>,
    mint: i64,
    maxt: i64,
}

impl HeadQuerier {
    pub(super) fn new(head: Arc<Head>, mint: i64, maxt: i64) -> Self {
        HeadQuerier { head, mint, maxt }
    }

    /// Series refs matching all `matchers`, following Prometheus's
    /// `PostingsForMatchers`: matchers that reject the empty value intersect
    /// their postings; those that accept it subtract the postings of the
    /// values they reject.
    pub(crate) fn postings_for_matchers(&self, matchers: &[Matcher]) -> Vec<u64> {
        let symbols = &self.head.symbols;
        let postings = self.head.postings.read();
        let mut include: Vec<Vec<u64>> = Vec::new();
        let mut exclude: Vec<Vec<u64>> = Vec::new();
        if matchers.iter().all(|m| m.matches_empty()) {
            include.push(postings.all().to_vec());
        }
        for m in matchers {
            let Some(name) = symbols.lookup(&m.name) else {
                // No series carries this label: it matches only if "" matches.
                if m.matches_empty() {
                    continue;
                }
                return Vec::new();
            };
            if m.matches_empty() {
                let rejected: Vec<&[u64]> = symbols.with_resolver(|resolve| {
                    postings
                        .values(name)
                        .filter(|(v, _)| !m.matches(resolve.get(*v)))
                        .map(|(_, l)| l)
                        .collect()
                });
                if !rejected.is_empty() {
                    exclude.push(merge(rejected));
                }
            } else {
                let lists: Vec<&[u64]> = match m.set_matches() {
                    Some(values) => values
                        .iter()
                        .filter_map(|v| symbols.lookup(v))
                        .map(|v| postings.get(name, v))
                        .filter(|l| !l.is_empty())
                        .collect(),
                    None => symbols.with_resolver(|resolve| {
                        postings
                            .values(name)
                            .filter(|(v, _)| m.matches(resolve.get(*v)))
                            .map(|(_, l)| l)
                            .collect()
                    }),
                };
                if lists.is_empty() {
                    return Vec::new();
                }
                include.push(merge(lists));
            }
        }
        let base = intersect(include.iter().map(Vec::as_slice).collect());
        exclude.iter().fold(base, |acc, ex| without(acc, ex))
    }

    fn matching_series(&self, matchers: &[Matcher]) -> Vec<Arc<MemSeries>> {
        self.postings_for_matchers(matchers)
            .into_iter()
            .filter_map(|r| self.head.series_by_ref(r))
            .filter(|s| s.data.lock().overlaps(self.mint, self.maxt))
            .collect()
    }
}

impl Querier for HeadQuerier {
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<SeriesSamples>, QueryError> {
        let mut out: Vec<SeriesSamples> = Vec::new();
        for s in self.matching_series(matchers) {
            let mut samples = Vec::new();
            s.data
                .lock()
                .samples_in(self.mint, self.maxt, self.head.chunk_files.as_ref(), &mut samples)
                .map_err(|e| QueryError::Storage(format!("reading a head chunk: {e}")))?;
            if !samples.is_empty() {
                out.push(SeriesSamples {
                    labels: self.head.labels_of(&s),
                    samples,
                });
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    fn series(&self, matchers: &[Matcher]) -> Result<Vec<Labels>, QueryError> {
        let mut out: Vec<Labels> = self
            .matching_series(matchers)
            .iter()
            .map(|s| self.head.labels_of(s))
            .collect();
        out.sort();
        Ok(out)
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        let mut names = BTreeSet::new();
        if matchers.is_empty() {
            let postings = self.head.postings.read();
            self.head.symbols.with_resolver(|resolve| {
                for n in postings.names() {
                    names.insert(resolve.get(n).to_string());
                }
            });
        } else {
            for s in self.matching_series(matchers) {
                self.head.symbols.with_resolver(|resolve| {
                    for (n, _) in s.labels.iter() {
                        names.insert(resolve.get(*n).to_string());
                    }
                });
            }
        }
        Ok(names.into_iter().collect())
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        let mut values = BTreeSet::new();
        let Some(name_sym) = self.head.symbols.lookup(name) else {
            return Ok(Vec::new());
        };
        if matchers.is_empty() {
            let postings = self.head.postings.read();
            self.head.symbols.with_resolver(|resolve| {
                for (v, _) in postings.values(name_sym) {
                    values.insert(resolve.get(v).to_string());
                }
            });
        } else {
            for s in self.matching_series(matchers) {
                if let Some((_, v)) = s.labels.iter().find(|(n, _)| *n == name_sym) {
                    values.insert(self.head.symbols.resolve(*v).to_string());
                }
            }
        }
        Ok(values.into_iter().collect())
    }
}
