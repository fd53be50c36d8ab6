//! Rebuilding the head from the WAL at start-up.
use std::collections::HashMap;
use std::sync::Arc;

use super::{Head, MemSeries};
use crate::record::{self, Record};
use crate::wal::WalError;

/// What replay found.
#[derive(Debug, Default, Clone)]
pub struct ReplayOutcome {
    /// Series definitions read.
    pub series: u64,
    /// Samples restored.
    pub samples: u64,
    /// Samples for series that no record defined (dropped, counted).
    pub unknown_refs: u64,
    /// Samples refused as out of order or duplicate during replay.
    pub refused: u64,
    /// Records that failed to decode (skipped, counted).
    pub bad_records: u64,
    /// Samples skipped because a block already holds their time range.
    pub persisted_skipped: u64,
}

/// Feeds decoded WAL records into a head. Refs in the WAL are kept so that
/// later records keep pointing at the right series.
pub(crate) struct Replayer<'a> {
    head: &'a Head,
    by_wal_ref: HashMap<u64, Arc<MemSeries>>,
    pub outcome: ReplayOutcome,
}

impl<'a> Replayer<'a> {
    pub fn new(head: &'a Head) -> Self {
        Replayer {
            head,
            by_wal_ref: HashMap::new(),
            outcome: ReplayOutcome::default(),
        }
    }

    pub fn apply(&mut self, payload: &[u8]) -> Result<(), WalError> {
        let rec = match record::decode(payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "skipping undecodable WAL record");
                self.outcome.bad_records += 1;
                return Ok(());
            }
        };
        match rec {
            Record::Series(defs) => {
                for d in defs {
                    let (s, _) = self
                        .head
                        .get_or_create(&super::label_pairs(&d.labels), Some(d.series_ref));
                    s.mark_logged();
                    self.by_wal_ref.insert(d.series_ref, s);
                    self.outcome.series += 1;
                }
            }
            Record::Samples(samples) => {
                let range = self.head.opts.chunk_range_ms;
                let floor = self.head.min_valid_time.load(std::sync::atomic::Ordering::Relaxed);
                for rs in samples {
                    if rs.sample.t < floor {
                        // Already persisted in a block before the crash.
                        self.outcome.persisted_skipped += 1;
                        continue;
                    }
                    let Some(series) = self.by_wal_ref.get(&rs.series_ref) else {
                        self.outcome.unknown_refs += 1;
                        continue;
                    };
                    let mut data = series.data.lock();
                    match data.check(rs.sample.t, rs.sample.v) {
                        Ok(true) => {
                            data.append(rs.sample.t, rs.sample.v, range);
                            self.head.observe_time(rs.sample.t);
                            self.outcome.samples += 1;
                        }
                        Ok(false) => {}
                        Err(_) => self.outcome.refused += 1,
                    }
                }
            }
        }
        Ok(())
    }
}
