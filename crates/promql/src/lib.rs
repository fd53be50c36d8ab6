//! `promql`: PromQL evaluation over the store's [`tsdb::Querier`], answering
//! exactly as Prometheus 2.42 does. Parsing is the `promql-parser` crate's;
//! this crate evaluates the AST over a grid of steps (an instant query is a
//! grid of one step), selecting each series' samples once for the whole
//! range rather than once per step.
#![warn(missing_docs)]

mod engine;
mod error;
mod eval;
pub mod functions;
mod queryable;
pub mod value;

pub use engine::{
    prepare, Engine, EngineOptions, Prepared, QueryOptions, QueryResult, QueryStats, ResultValue, Sample,
};
pub use error::QueryError;
pub use queryable::Queryable;
pub use value::{Point, RangeVector, Series, Steps, Value};
