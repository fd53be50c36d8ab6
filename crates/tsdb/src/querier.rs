//! The read seam every consumer (APIs, PromQL, remote read) uses.
use model::{Labels, Matcher, Sample};

/// A failed read.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Persisted data could not be read.
    #[error("reading storage: {0}")]
    Storage(String),
    /// The query would load more than the allowed number of samples.
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,
}

/// One series and its samples within the querier's time range.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSamples {
    /// The series' labels.
    pub labels: Labels,
    /// Samples in time order, staleness markers included.
    pub samples: Vec<Sample>,
}

/// Reads series over the fixed time range the querier was created for.
///
/// Contract: results are sorted by label set; matchers follow Prometheus
/// semantics (a missing label matches as ""); a series is returned only when
/// it has data in the range.
pub trait Querier {
    /// Series matching all matchers, with their samples in range.
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<SeriesSamples>, QueryError>;
    /// Label sets of matching series, without samples.
    fn series(&self, matchers: &[Matcher]) -> Result<Vec<Labels>, QueryError>;
    /// Label names, sorted, of series matching the matchers (all when empty).
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, QueryError>;
    /// Values of `name`, sorted, among series matching the matchers.
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, QueryError>;
}
