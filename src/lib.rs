//! minqing (民情): petition and public-comment text → searchable index, homogeneous-case groups
//! and a weekly situation brief, offline, in one binary.
//!
//! ```text
//! ingest → normalize → store → tokenize → index → cluster → trends → charts → report
//! ```
//!
//! Each stage is a module; [`pipeline`] runs them in order. The library knows nothing about the
//! terminal: progress is reported through [`pipeline::Progress`].

pub mod bench;
pub mod charts;
pub mod cluster;
pub mod config;
pub mod error;
pub mod fsutil;
pub mod index;
pub mod ingest;
pub mod mask;
pub mod normalize;
pub mod pipeline;
pub mod report;
pub mod sample;
pub mod schema;
pub mod store;
pub mod tokenize;
pub mod trends;

pub use error::{Error, Result};
pub use schema::Record;
