//! `minqing run`, `ingest`, `sample`, `schema` (being written).

use super::Term;

#[derive(Debug, clap::Args)]
pub struct RunArgs {}
#[derive(Debug, clap::Args)]
pub struct IngestArgs {}
#[derive(Debug, clap::Args)]
pub struct SampleArgs {}

fn not_yet() -> minqing::Result<()> {
    Err(minqing::Error::Usage("not built yet".into()))
}
pub fn run(_a: RunArgs, _t: &Term) -> minqing::Result<()> {
    not_yet()
}
pub fn ingest(_a: IngestArgs, _t: &Term) -> minqing::Result<()> {
    not_yet()
}
pub fn sample(_a: SampleArgs, _t: &Term) -> minqing::Result<()> {
    not_yet()
}
pub fn schema() -> minqing::Result<()> {
    not_yet()
}
