//! Clap definitions and the terminal side of each subcommand. One file per command family.

use clap::{Parser, Subcommand};

mod analyse;
mod bench;
mod bench_spark;
mod brief;
mod classify;
mod data;
mod search;
mod serve;
mod serve_bench;
mod user;
mod worker;

/// minqing (民情): petitions and public comments → search, case groups, weekly brief. Offline.
#[derive(Debug, Parser)]
#[command(name = "minqing", version, about, long_about = None)]
pub struct Cli {
    /// No progress bars or summaries on stderr (errors are still printed).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a whole pipeline (default: pipelines/sample.toml on the bundled sample).
    Run(data::RunArgs),
    /// Import files into a store only (no index, groups or brief).
    Ingest(data::IngestArgs),
    /// Generate a synthetic petition export with ground truth (`truth_group`).
    Sample(data::SampleArgs),
    /// Print the canonical fields and every accepted column alias.
    Schema,
    /// Full-text search over a run's index.
    Search(search::SearchArgs),
    /// Most similar earlier petitions to a given one.
    Similar(search::SimilarArgs),
    /// (Re)build the homogeneous-case groups of a run.
    Cluster(analyse::ClusterArgs),
    /// List the homogeneous-case groups of a run.
    Groups(analyse::GroupsArgs),
    /// Show one group with its members, timeline and suggested lead unit.
    Group(analyse::GroupArgs),
    /// Score a run's groups against a ground-truth column.
    Eval(analyse::EvalArgs),
    /// Train or evaluate a category model from an office's labelled history.
    Classify(classify::ClassifyArgs),
    /// Render the weekly brief for a chosen period from an existing run.
    Brief(brief::BriefArgs),
    /// Benchmark the whole run on generated corpora against the floor (read + one jieba pass).
    Bench(bench::BenchArgs),
    /// Serve the web pages (search, petitions, case groups, briefs) over a run folder.
    Serve(serve::ServeArgs),
    /// Manage the accounts of `minqing serve`.
    User(user::UserArgs),
    /// Per-partition work for a distributed run on Apache Spark (docs/spark.md).
    Worker(worker::WorkerArgs),
}

/// The settings of a command that takes `--pipeline FILE` for its `[tokenize]` and `[cluster]`
/// settings only: the file's, else the built-in defaults (what `minqing run --input` uses).
fn settings_of(
    pipeline: Option<&std::path::Path>,
) -> minqing::Result<minqing::config::PipelineConfig> {
    match pipeline {
        Some(p) => minqing::config::PipelineConfig::load(p),
        None => Ok(minqing::config::PipelineConfig::ad_hoc(&[])),
    }
}

/// Shared terminal settings.
pub struct Term {
    pub quiet: bool,
}

impl Term {
    /// A message for the user on stderr (suppressed by `--quiet`).
    pub fn note(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }
}

pub fn dispatch(cli: Cli) -> minqing::Result<()> {
    let term = Term { quiet: cli.quiet };
    // The commands that make a run's tables on the thread pool (`alloc::Collector`); a search
    // or the web server does not start it.
    let _collector = matches!(
        cli.command,
        Command::Run(_)
            | Command::Ingest(_)
            | Command::Cluster(_)
            | Command::Brief(_)
            | Command::Classify(_)
            | Command::Worker(_)
    )
    .then(crate::alloc::Collector::start);
    match cli.command {
        Command::Run(a) => data::run(a, &term),
        Command::Ingest(a) => data::ingest(a, &term),
        Command::Sample(a) => data::sample(a, &term),
        Command::Schema => data::schema(),
        Command::Search(a) => search::search(a, &term),
        Command::Similar(a) => search::similar(a, &term),
        Command::Cluster(a) => analyse::cluster(a, &term),
        Command::Groups(a) => analyse::groups(a, &term),
        Command::Group(a) => analyse::group(a, &term),
        Command::Eval(a) => analyse::eval(a, &term),
        Command::Classify(a) => classify::classify(a, &term),
        Command::Brief(a) => brief::brief(a, &term),
        Command::Bench(a) => bench::bench(a, &term),
        Command::Serve(a) => serve::serve(a, &term),
        Command::User(a) => user::user(a, &term),
        Command::Worker(a) => worker::worker(a, &term),
    }
}

/// The error and its causes on one line, each cause once.
pub fn chain(err: &minqing::Error) -> String {
    err.chain()
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_valid() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
