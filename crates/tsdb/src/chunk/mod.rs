//! Chunk encodings: the Gorilla/XOR float chunk, byte-compatible with
//! Prometheus's `tsdb/chunkenc` XOR chunks.
mod bstream;
mod xor;

pub use xor::{ChunkError, XorChunk, XorIter, MAX_SAMPLES_PER_CHUNK};
