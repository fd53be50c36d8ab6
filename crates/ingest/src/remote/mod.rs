//! Prometheus remote write (receiving) and the protobuf messages shared with
//! remote read.
pub mod proto;
mod wire;
mod write;

pub use write::{
    decode_write_request, decompress, ingest_write_body, ingest_write_request, WriteError, WriteLimits, WriteOutcome,
};
