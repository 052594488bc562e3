//! `minqing cluster`, `groups`, `group`, `eval` (being written).

use super::Term;

#[derive(Debug, clap::Args)]
pub struct ClusterArgs {}
#[derive(Debug, clap::Args)]
pub struct GroupsArgs {}
#[derive(Debug, clap::Args)]
pub struct GroupArgs {}
#[derive(Debug, clap::Args)]
pub struct EvalArgs {}

fn not_yet() -> minqing::Result<()> {
    Err(minqing::Error::Usage("not built yet".into()))
}
pub fn cluster(_a: ClusterArgs, _t: &Term) -> minqing::Result<()> {
    not_yet()
}
pub fn groups(_a: GroupsArgs, _t: &Term) -> minqing::Result<()> {
    not_yet()
}
pub fn group(_a: GroupArgs, _t: &Term) -> minqing::Result<()> {
    not_yet()
}
pub fn eval(_a: EvalArgs, _t: &Term) -> minqing::Result<()> {
    not_yet()
}
