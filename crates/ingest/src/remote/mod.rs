//! Prometheus remote write (receiving) and the protobuf messages shared with
//! remote read.
pub mod proto;
mod write;

pub use write::{
    decode_write_request, ingest_write_request, WriteError, WriteLimits, WriteOutcome,
};
