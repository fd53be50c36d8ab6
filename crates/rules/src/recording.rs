//! Recording rules: the result of an expression stored under a new name.
use std::collections::{BTreeMap, HashSet};

use model::Labels;

/// A recording rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingRule {
    /// `record:`, the metric name written.
    pub name: String,
    /// `expr:`.
    pub expr: String,
    /// `labels:` (literal, not templates, as in Prometheus).
    pub labels: BTreeMap<String, String>,
}

impl RecordingRule {
    /// The series to write for an evaluation's result: each result series
    /// renamed to the rule's name, with the rule's labels set.
    pub fn eval(&self, result: Vec<(Labels, f64)>, limit: usize) -> Result<Vec<(Labels, f64)>, String> {
        let mut seen = HashSet::with_capacity(result.len());
        let mut out = Vec::with_capacity(result.len());
        for (series, value) in result {
            let mut b = series.to_builder();
            b.set(model::METRIC_NAME, self.name.clone());
            for (n, v) in &self.labels {
                b.set(n.clone(), v.clone());
            }
            let labels = b.build();
            if !seen.insert(labels.stable_hash()) {
                return Err("vector contains metrics with the same labelset after applying rule labels".into());
            }
            out.push((labels, value));
        }
        if limit > 0 && out.len() > limit {
            return Err(format!("exceeded limit of {limit} with {} series", out.len()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_sets_labels_and_refuses_collisions() {
        let r = RecordingRule {
            name: "job:up:sum".into(),
            expr: "sum by (job) (up)".into(),
            labels: BTreeMap::from([("team".to_string(), "web".to_string())]),
        };
        let out = r.eval(vec![(Labels::from_pairs([("job", "a")]), 3.0)], 0).unwrap();
        assert_eq!(
            out,
            vec![(
                Labels::from_pairs([("__name__", "job:up:sum"), ("job", "a"), ("team", "web")]),
                3.0
            )]
        );
        let clash = vec![
            (Labels::from_pairs([("__name__", "x"), ("job", "a")]), 1.0),
            (Labels::from_pairs([("__name__", "y"), ("job", "a")]), 2.0),
        ];
        assert!(r.eval(clash, 0).unwrap_err().contains("same labelset"));
        let many = vec![
            (Labels::from_pairs([("job", "a")]), 1.0),
            (Labels::from_pairs([("job", "b")]), 1.0),
        ];
        assert_eq!(r.eval(many, 1).unwrap_err(), "exceeded limit of 1 with 2 series");
    }
}
