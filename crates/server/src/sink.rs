//! The storage engine as a [`SampleSink`] for every ingest path.
use std::sync::atomic::Ordering;

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
    created_before: u64,
}

impl BatchAppender for TsdbBatch {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), SampleRefusal> {
        if let Some(max) = self.max_series {
            if self.db.head().num_series() >= max && !self.db.head().contains(labels) {
                return Err(SampleRefusal::Rejected(format!(
                    "series limit of {max} reached (limits.max_series); new series are refused until old ones are removed"
                )));
            }
        }
        self.app.append(labels, t, v).map(|_| ()).map_err(|e| match e {
            AppendError::OutOfOrder => SampleRefusal::OutOfOrder,
            AppendError::DuplicateTimestamp => SampleRefusal::DuplicateTimestamp,
            AppendError::OutOfBounds => SampleRefusal::OutOfBounds,
            other => SampleRefusal::Rejected(other.to_string()),
        })
    }

    fn commit(self: Box<Self>) -> Result<u64, CommitError> {
        let this = *self;
        this.app.commit().map_err(|e| CommitError(e.to_string()))?;
        let created = this.db.head().counters.series_created.load(Ordering::Relaxed);
        Ok(created.saturating_sub(this.created_before))
    }
}

impl SampleSink for TsdbSink {
    fn appender(&self) -> Box<dyn BatchAppender> {
        Box::new(TsdbBatch {
            app: self.db.appender(),
            db: self.db.clone(),
            max_series: self.max_series,
            created_before: self.db.head().counters.series_created.load(Ordering::Relaxed),
        })
    }
}
