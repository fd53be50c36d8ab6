//! Query failures, sorted into Prometheus's error types.

/// Why a query failed. `server` maps these to Prometheus's `errorType`s and
/// HTTP codes: `Parse`/`BadData` → 400 `bad_data`; `Execution` and
/// `TooManySamples` → 422 `execution`; `Timeout` → 503 `timeout`;
/// `Canceled` → 503 `canceled`; `Storage` → 500 `internal`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The expression does not parse; the message carries the position as
    /// Prometheus prints it (e.g. `1:5: parse error: unexpected "}"`).
    #[error("{0}")]
    Parse(String),
    /// The request is wrong otherwise (bad types, bad arguments, too many points).
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed at run time (e.g. many-to-many matching, duplicate series).
    #[error("{0}")]
    Execution(String),
    /// The query would load more samples than `max_samples` allows.
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,
    /// The query ran longer than the timeout.
    #[error("query timed out in {0}")]
    Timeout(String),
    /// The query was canceled (shutdown, client gone).
    #[error("query was canceled in {0}")]
    Canceled(String),
    /// Storage failed.
    #[error("{0}")]
    Storage(String),
}

impl From<tsdb::QueryError> for QueryError {
    fn from(e: tsdb::QueryError) -> Self {
        match e {
            tsdb::QueryError::TooManySamples => QueryError::TooManySamples,
            other => QueryError::Storage(other.to_string()),
        }
    }
}
