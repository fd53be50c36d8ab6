//! Where ingested samples go. Sources (scrape, remote write, push) take a
//! [`SampleSink`] rather than the storage engine itself, so each can be tested
//! alone with an in-memory sink and storage can change behind them.
use model::Labels;

/// Why one sample was refused by the sink; the rest of the batch goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SampleRefusal {
    /// Older than the newest sample of its series.
    #[error("out of order sample")]
    OutOfOrder,
    /// Same timestamp as the newest sample, different value.
    #[error("duplicate sample for timestamp")]
    DuplicateTimestamp,
    /// Older than the store accepts.
    #[error("out of bounds")]
    OutOfBounds,
    /// The series cannot be stored (bad labels, a series limit).
    #[error("{0}")]
    Rejected(String),
}

/// The batch could not be made durable; nothing of it was stored.
#[derive(Debug, Clone, thiserror::Error)]
#[error("storing samples failed: {0}")]
pub struct CommitError(pub String);

/// One batch of appends. Nothing is visible before `commit`; dropping the
/// appender without committing discards the batch. Used from one task.
pub trait BatchAppender: Send {
    /// Adds one sample.
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), SampleRefusal>;
    /// Adds one sample for borrowed labels, sorted by name, unique, without
    /// empty values. Sinks that can look series up without allocating
    /// override this; the default builds a [`Labels`].
    fn append_pairs(&mut self, pairs: &[(&str, &str)], t: i64, v: f64) -> Result<(), SampleRefusal> {
        self.append(&Labels::from_pairs(pairs.iter().copied()), t, v)
    }
    /// Makes the batch durable and visible; returns the number of series
    /// this batch created.
    fn commit(self: Box<Self>) -> Result<u64, CommitError>;
}

/// A source of appenders, shared by every ingest path.
pub trait SampleSink: Send + Sync + 'static {
    /// Starts a batch.
    fn appender(&self) -> Box<dyn BatchAppender>;
}
