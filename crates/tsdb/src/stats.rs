//! Cardinality statistics, the data behind `/api/v1/status/tsdb`.
use model::METRIC_NAME;

use crate::Db;

/// A name and a count, for top-N lists.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NameCount {
    /// The label name, metric name or `name=value` pair.
    pub name: String,
    /// The count.
    pub value: u64,
}

/// Head totals.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeadStats {
    /// Series in the head.
    pub num_series: u64,
    /// Distinct label pairs.
    pub num_label_pairs: u64,
    /// Chunks held.
    pub chunk_count: u64,
    /// Oldest sample, ms (0 when empty... Prometheus prints MaxInt64 then).
    pub min_time: i64,
    /// Newest sample, ms.
    pub max_time: i64,
}

/// The top-N cardinality lists Prometheus shows on its TSDB status page.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CardinalityStats {
    /// Totals.
    pub head_stats: HeadStats,
    /// Series per metric name.
    pub series_count_by_metric_name: Vec<NameCount>,
    /// Distinct values per label name.
    pub label_value_count_by_label_name: Vec<NameCount>,
    /// Bytes of values per label name.
    pub memory_in_bytes_by_label_name: Vec<NameCount>,
    /// Series per label pair.
    pub series_count_by_label_value_pair: Vec<NameCount>,
}

fn top(mut v: Vec<NameCount>, limit: usize) -> Vec<NameCount> {
    v.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.name.cmp(&b.name)));
    v.truncate(limit);
    v
}

impl Db {
    /// Cardinality statistics with top-`limit` lists.
    pub fn cardinality(&self, limit: usize) -> CardinalityStats {
        let head = self.head();
        let postings = head.postings.read();
        let mut by_metric = Vec::new();
        let mut value_counts = Vec::new();
        let mut memory = Vec::new();
        let mut pairs = Vec::new();
        head.symbols.with_resolver(|resolve| {
            for name in postings.names() {
                let n = resolve.get(name);
                let mut count = 0u64;
                let mut bytes = 0u64;
                for (v, list) in postings.values(name) {
                    let val = resolve.get(v);
                    count += 1;
                    bytes += val.len() as u64;
                    if n == METRIC_NAME {
                        by_metric.push(NameCount {
                            name: val.to_string(),
                            value: list.len() as u64,
                        });
                    }
                    pairs.push(NameCount {
                        name: format!("{n}={val}"),
                        value: list.len() as u64,
                    });
                }
                value_counts.push(NameCount {
                    name: n.to_string(),
                    value: count,
                });
                memory.push(NameCount {
                    name: n.to_string(),
                    value: bytes,
                });
            }
        });
        let num_label_pairs = postings.num_pairs() as u64;
        drop(postings);
        let chunk_count = head
            .all_series()
            .iter()
            .map(|s| s.data.lock().chunks.len() as u64)
            .sum();
        CardinalityStats {
            head_stats: HeadStats {
                num_series: head.num_series() as u64,
                num_label_pairs,
                chunk_count,
                min_time: head.min_time().unwrap_or(i64::MAX),
                max_time: head.max_time().unwrap_or(i64::MIN),
            },
            series_count_by_metric_name: top(by_metric, limit),
            label_value_count_by_label_name: top(value_counts, limit),
            memory_in_bytes_by_label_name: top(memory, limit),
            series_count_by_label_value_pair: top(pairs, limit),
        }
    }
}
