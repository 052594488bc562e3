//! `minqing search` and `minqing similar` (being written).

use super::Term;

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// The query.
    pub query: String,
}

#[derive(Debug, clap::Args)]
pub struct SimilarArgs {
    /// Petition id.
    pub id: String,
}

pub fn search(_a: SearchArgs, _t: &Term) -> minqing::Result<()> {
    Err(minqing::Error::Usage("`search` is not built yet".into()))
}

pub fn similar(_a: SimilarArgs, _t: &Term) -> minqing::Result<()> {
    Err(minqing::Error::Usage("`similar` is not built yet".into()))
}
