//! Exposition formats.
