//! PromQL functions, one family per file. (Being written.)
