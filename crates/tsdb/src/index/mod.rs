//! The in-memory inverted index: label name → value → sorted series refs.
mod postings;

pub use postings::{intersect, merge, without, MemPostings};
