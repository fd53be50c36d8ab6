//! Where the engine reads series from.
use tsdb::Querier;

/// A source of queriers over a time range (the store, or anything that can
/// stand in for it in tests).
pub trait Queryable: Send + Sync + 'static {
    /// A querier over `[mint, maxt]` (milliseconds, inclusive).
    fn querier(&self, mint: i64, maxt: i64) -> Box<dyn Querier + Send + Sync>;
}

impl Queryable for tsdb::Db {
    fn querier(&self, mint: i64, maxt: i64) -> Box<dyn Querier + Send + Sync> {
        Box::new(tsdb::Db::querier(self, mint, maxt))
    }
}
