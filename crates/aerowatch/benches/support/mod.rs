//! Helpers of the `ingest` bench: the workload, a lean HTTP client, and
//! process control with /proc readings.
pub mod dataset;
pub mod http;
pub mod proc;
pub mod proto;
