//! ingest: everything that brings samples in.
pub mod exposition;
pub mod push;
pub mod relabel;
pub mod remote;
pub mod scrape;
pub mod sink;
