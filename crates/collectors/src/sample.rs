//! Collected samples and the builder every collector writes them through, so
//! each series gets the collector's `job` and `instance` labels.
use model::{Labels, LabelsBuilder, METRIC_NAME};

/// One collected value: its full label set (`__name__`, `job`, `instance` and
/// the metric's own labels) and the value.
pub type Sample = (Labels, f64);

/// Samples of one collection, all labelled with one `job` and `instance`.
#[derive(Debug)]
pub(crate) struct Samples {
    job: &'static str,
    instance: String,
    out: Vec<Sample>,
}

impl Samples {
    pub fn new(job: &'static str, instance: impl Into<String>) -> Self {
        Samples {
            job,
            instance: instance.into(),
            out: Vec::new(),
        }
    }

    /// Adds `name{labels..., job, instance} value`. Empty label values are
    /// dropped (Prometheus reads `a=""` as no label `a`).
    pub fn push(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let mut b = LabelsBuilder::new();
        for (n, v) in labels {
            b.set(*n, *v);
        }
        // Set last so a metric label can never hide which collector wrote the series.
        b.set(METRIC_NAME, name);
        b.set("job", self.job);
        b.set("instance", self.instance.as_str());
        self.out.push((b.build(), value));
    }

    pub fn into_vec(self) -> Vec<Sample> {
        self.out
    }

    /// `(name{labels}, value)` without `job` and `instance`, for compact
    /// asserts in the collectors' tests.
    #[cfg(test)]
    pub fn into_compact(self) -> Vec<(String, f64)> {
        self.out
            .into_iter()
            .map(|(l, v)| {
                let mut b = l.to_builder();
                b.del("job").del("instance");
                (b.build().to_string(), v)
            })
            .collect()
    }
}

/// What one collection produced: its samples, and how each part of it went
/// (`Err` holds a message for the log; parts are e.g. `cpu`, `connection`).
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub samples: Vec<Sample>,
    pub parts: Vec<(String, Result<(), String>)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_carries_job_and_instance() {
        let mut s = Samples::new("node", "web1");
        s.push("node_load1", &[], 0.5);
        s.push(
            "node_cpu_seconds_total",
            &[("cpu", "0"), ("mode", "idle"), ("empty", "")],
            3.0,
        );
        let v = s.into_vec();
        assert_eq!(v[0].0.to_string(), "node_load1{instance=\"web1\", job=\"node\"}");
        assert_eq!(v[1].0.get("cpu"), Some("0"));
        assert_eq!(v[1].0.get("empty"), None);
        assert_eq!(v[1].0.get("job"), Some("node"));
        assert_eq!(v[1].1, 3.0);
    }
}
