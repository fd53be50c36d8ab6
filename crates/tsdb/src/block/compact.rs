//! Compaction: merging blocks into one.
use std::path::Path;
use std::sync::Arc;

use model::{Labels, Sample};

use super::meta::BlockMeta;
use super::reader::{Block, SeriesIter};
use super::writer::write_samples;
use super::BlockError;

/// Merges `blocks` into one new block of level `max(levels) + 1`; see
/// [`super::compact`].
pub(crate) fn compact(root: &Path, blocks: &[Arc<Block>]) -> Result<BlockMeta, BlockError> {
    if blocks.is_empty() {
        return Err(BlockError::InvalidInput("nothing to compact".into()));
    }
    let min_time = blocks.iter().map(|b| b.meta().min_time).min().unwrap_or(0);
    let max_time = blocks.iter().map(|b| b.meta().max_time).max().unwrap_or(0);
    let level = blocks
        .iter()
        .map(|b| b.meta().compaction.level)
        .max()
        .unwrap_or(0)
        .saturating_add(1);
    let sources: Vec<String> = blocks
        .iter()
        .flat_map(|b| b.meta().compaction.sources.iter().cloned())
        .collect();
    let merged = MergeIter::new(blocks.iter().map(|b| b.iter_series().peekable()).collect());
    write_samples(root, merged, min_time, max_time, level, sources)
}

/// Merges sorted series streams; series with equal labels have their
/// samples merged by time, the first stream winning at equal timestamps.
struct MergeIter {
    inputs: Vec<std::iter::Peekable<SeriesIter>>,
    failed: bool,
}

impl MergeIter {
    fn new(inputs: Vec<std::iter::Peekable<SeriesIter>>) -> Self {
        MergeIter { inputs, failed: false }
    }
}

/// Merges two time-sorted sample lists; `a` wins at equal timestamps.
pub(crate) fn merge_samples(a: Vec<Sample>, b: Vec<Sample>) -> Vec<Sample> {
    if b.is_empty() {
        return a;
    }
    if a.is_empty() {
        return b;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        match (i.peek(), j.peek()) {
            (Some(x), Some(y)) => {
                if x.t < y.t {
                    out.extend(i.next());
                } else if y.t < x.t {
                    out.extend(j.next());
                } else {
                    out.extend(i.next());
                    j.next();
                }
            }
            (Some(_), None) => out.extend(i.by_ref()),
            (None, Some(_)) => out.extend(j.by_ref()),
            (None, None) => return out,
        }
    }
}

impl Iterator for MergeIter {
    type Item = Result<(Labels, Vec<Sample>), BlockError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        // Surface the first error of any input.
        for input in &mut self.inputs {
            if let Some(Err(_)) = input.peek() {
                self.failed = true;
                return input.next();
            }
        }
        let min: Labels = self
            .inputs
            .iter_mut()
            .filter_map(|i| match i.peek() {
                Some(Ok((l, _))) => Some(l),
                _ => None,
            })
            .min()?
            .clone();
        let mut samples: Vec<Sample> = Vec::new();
        for input in &mut self.inputs {
            if matches!(input.peek(), Some(Ok((l, _))) if *l == min) {
                if let Some(Ok((_, s))) = input.next() {
                    samples = merge_samples(samples, s);
                }
            }
        }
        Some(Ok((min, samples)))
    }
}
