//! Helpers of the benches: the workload, a lean HTTP client, and process
//! control with /proc readings. Shared by several benches, each of which uses
//! a different part, hence the dead-code allowance.
#![allow(dead_code)]
pub mod dataset;
pub mod http;
pub mod proc;
pub mod proto;
