//! One integration-test binary (linking polars and tantivy once) that drives the real CLI.

mod brief;
mod classify;
mod cluster;
mod common;
mod crash;
mod ingest;
mod paths;
mod privacy;
mod run;
mod search;
mod serve;
mod spark;
