//! A querier over the head and the blocks together: results from each
//! source are merged by label set, samples of the same series by time (at
//! equal timestamps the first source wins; sources are ordered oldest block
//! first, head last, and blocks never overlap the head's accepted range).
use std::collections::BTreeSet;

use model::{Labels, Matcher, Sample};

use crate::querier::{Querier, QueryError, SeriesSamples};

/// Merges any number of queriers.
pub struct MergeQuerier {
    sources: Vec<Box<dyn Querier + Send + Sync>>,
    max_samples: Option<usize>,
}

impl MergeQuerier {
    /// Merges `sources`; `max_samples` bounds what one select may load.
    pub fn new(sources: Vec<Box<dyn Querier + Send + Sync>>, max_samples: Option<usize>) -> Self {
        MergeQuerier { sources, max_samples }
    }
}

fn merge_samples(a: Vec<Sample>, b: Vec<Sample>) -> Vec<Sample> {
    if a.is_empty() {
        return b;
    }
    if b.is_empty() {
        return a;
    }
    if a.last().map(|s| s.t) < b.first().map(|s| s.t) {
        let mut a = a;
        a.extend(b);
        return a;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].t.cmp(&b[j].t) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Merges two label-sorted lists of series.
fn merge_series(a: Vec<SeriesSamples>, b: Vec<SeriesSamples>) -> Vec<SeriesSamples> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let mut ai = a.into_iter().peekable();
    let mut bi = b.into_iter().peekable();
    loop {
        let next = match (ai.peek(), bi.peek()) {
            (None, None) => break,
            (Some(_), None) => ai.next(),
            (None, Some(_)) => bi.next(),
            (Some(x), Some(y)) => match x.labels.cmp(&y.labels) {
                std::cmp::Ordering::Less => ai.next(),
                std::cmp::Ordering::Greater => bi.next(),
                std::cmp::Ordering::Equal => {
                    let (Some(x), Some(y)) = (ai.next(), bi.next()) else {
                        break;
                    };
                    Some(SeriesSamples {
                        labels: x.labels,
                        samples: merge_samples(x.samples, y.samples),
                    })
                }
            },
        };
        out.extend(next);
    }
    out
}

impl Querier for MergeQuerier {
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<SeriesSamples>, QueryError> {
        let mut acc: Vec<SeriesSamples> = Vec::new();
        let mut loaded = 0usize;
        for src in &self.sources {
            let part = src.select(matchers)?;
            loaded += part.iter().map(|s| s.samples.len()).sum::<usize>();
            if self.max_samples.is_some_and(|m| loaded > m) {
                return Err(QueryError::TooManySamples);
            }
            acc = merge_series(acc, part);
        }
        Ok(acc)
    }

    fn series(&self, matchers: &[Matcher]) -> Result<Vec<Labels>, QueryError> {
        let mut all = BTreeSet::new();
        for src in &self.sources {
            all.extend(src.series(matchers)?);
        }
        Ok(all.into_iter().collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        let mut all = BTreeSet::new();
        for src in &self.sources {
            all.extend(src.label_names(matchers)?);
        }
        Ok(all.into_iter().collect())
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        let mut all = BTreeSet::new();
        for src in &self.sources {
            all.extend(src.label_values(name, matchers)?);
        }
        Ok(all.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: i64, v: f64) -> Sample {
        Sample { t, v }
    }

    #[test]
    fn samples_merge_by_time_first_source_wins() {
        let a = vec![s(1, 1.0), s(3, 3.0), s(5, 5.0)];
        let b = vec![s(2, 20.0), s(3, 30.0), s(6, 60.0)];
        let m = merge_samples(a, b);
        assert_eq!(
            m.iter().map(|x| (x.t, x.v)).collect::<Vec<_>>(),
            vec![(1, 1.0), (2, 20.0), (3, 3.0), (5, 5.0), (6, 60.0)]
        );
        assert_eq!(merge_samples(vec![s(1, 1.0)], vec![s(2, 2.0)]).len(), 2);
    }

    #[test]
    fn series_merge_by_labels() {
        let l = |n: &str| Labels::from_pairs([("__name__", n)]);
        let a = vec![
            SeriesSamples {
                labels: l("a"),
                samples: vec![s(1, 1.0)],
            },
            SeriesSamples {
                labels: l("c"),
                samples: vec![s(1, 1.0)],
            },
        ];
        let b = vec![
            SeriesSamples {
                labels: l("b"),
                samples: vec![s(1, 1.0)],
            },
            SeriesSamples {
                labels: l("c"),
                samples: vec![s(2, 2.0)],
            },
        ];
        let m = merge_series(a, b);
        assert_eq!(m.len(), 3);
        assert_eq!(m[2].samples.len(), 2);
    }
}
