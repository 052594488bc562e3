//! minqing (民情): petition and public-comment text → searchable index, homogeneous-case groups
//! and a weekly situation brief, offline, in one binary.
//!
//! ```text
//! ingest → store → cluster → index → trends → charts → report
//! ```
//!
//! Each stage is a module with the shape `run(Input, &Options) -> Output`; [`pipeline`] runs them
//! in that order and is the only place that does (`ingest` cleans cells with [`normalize`];
//! `cluster` and `index` share one [`tokenize::Tokenizer`]). The library knows nothing about the
//! terminal: progress is reported through [`pipeline::Progress`]. `ARCHITECTURE.md` maps the
//! modules, the data between them and the invariants every change keeps.

pub mod bench;
pub mod calendar;
pub mod charts;
pub mod classify;
pub mod cluster;
pub mod config;
pub mod error;
pub mod fmt;
pub mod fsutil;
mod fxhash;
pub mod grouplist;
pub mod index;
pub mod inferred;
pub mod ingest;
pub mod mask;
pub mod normalize;
mod packed;
pub mod pipeline;
pub mod region;
pub mod report;
pub mod route;
pub mod run_log;
pub mod sample;
pub mod schema;
pub mod serve;
pub mod store;
pub mod sys;
pub mod textfile;
pub mod tokenize;
pub mod trends;

pub use error::{Error, Result};
pub use schema::Record;

/// Helpers shared by the unit tests.
#[cfg(test)]
pub(crate) mod testutil {
    /// Cases per fuzz target: `MINQING_FUZZ_CASES` when set (long local runs), else `ci_default`,
    /// sized so that all importer and query-parser fuzzing together takes a minute or two of
    /// `cargo test --release` on a 2-core machine.
    pub fn fuzz_cases(ci_default: u32) -> u32 {
        std::env::var("MINQING_FUZZ_CASES")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(ci_default)
    }
}
