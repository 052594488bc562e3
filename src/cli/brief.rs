//! `minqing brief` (being written).

use super::Term;

#[derive(Debug, clap::Args)]
pub struct BriefArgs {}

pub fn brief(_a: BriefArgs, _t: &Term) -> minqing::Result<()> {
    Err(minqing::Error::Usage("`brief` is not built yet".into()))
}
