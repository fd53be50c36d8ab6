//! The storage engine as a [`SampleSink`] for every ingest path.
use ingest::sink::{BatchAppender, CommitError, SampleRefusal, SampleSink};
use model::Labels;
use tsdb::{AppendError, Db, HeadAppender};

/// Appends into the head, enforcing an optional limit on the number of series.
pub struct TsdbSink {
    db: Db,
    max_series: Option<usize>,
}

impl TsdbSink {
    /// A sink over `db`; `max_series` caps the series in the head.
    pub fn new(db: Db, max_series: Option<usize>) -> Self {
        TsdbSink { db, max_series }
    }
}

struct TsdbBatch {
    app: HeadAppender,
    db: Db,
    max_series: Option<usize>,
}

fn refusal(e: AppendError) -> SampleRefusal {
    match e {
        AppendError::OutOfOrder => SampleRefusal::OutOfOrder,
        AppendError::DuplicateTimestamp => SampleRefusal::DuplicateTimestamp,
        AppendError::OutOfBounds => SampleRefusal::OutOfBounds,
        other => SampleRefusal::Rejected(other.to_string()),
    }
}

impl TsdbBatch {
    fn check_series_limit(&self, pairs: &[(&str, &str)]) -> Result<(), SampleRefusal> {
        if let Some(max) = self.max_series {
            if self.db.head().num_series() >= max && !self.db.head().contains_pairs(pairs) {
                return Err(SampleRefusal::Rejected(format!(
                    "series limit of {max} reached (limits.max_series); new series are refused until old ones are removed"
                )));
            }
        }
        Ok(())
    }
}

impl BatchAppender for TsdbBatch {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), SampleRefusal> {
        let pairs: Vec<(&str, &str)> = labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
        self.append_pairs(&pairs, t, v)
    }

    fn append_pairs(&mut self, pairs: &[(&str, &str)], t: i64, v: f64) -> Result<(), SampleRefusal> {
        self.check_series_limit(pairs)?;
        self.app.append_pairs(pairs, t, v).map(|_| ()).map_err(refusal)
    }

    fn commit(self: Box<Self>) -> Result<u64, CommitError> {
        let created = self.app.series_created();
        self.app.commit().map_err(|e| CommitError(e.to_string()))?;
        Ok(created)
    }
}

impl SampleSink for TsdbSink {
    fn appender(&self) -> Box<dyn BatchAppender> {
        Box::new(TsdbBatch {
            app: self.db.appender(),
            db: self.db.clone(),
            max_series: self.max_series,
        })
    }
}
