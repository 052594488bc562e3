//! One integration-test binary (linking polars and tantivy once) that drives the real CLI.

mod common;
mod crash;
mod ingest;
mod search;
