//! `minqing worker`: the per-petition work a distributed engine runs on its own workers
//! (docs/spark.md). Messages on stderr; the output file's path on stdout.

use std::path::PathBuf;

use minqing::Result;

use super::Term;

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[command(subcommand)]
    pub command: WorkerCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum WorkerCommand {
    /// Tag one partition of petitions for the grouping (words, object names): what
    /// `minqing run --tagged DIR` reads instead of tagging every petition itself.
    Tag {
        /// Parquet file with string columns id, title and content (other columns are ignored).
        #[arg(long)]
        input: PathBuf,
        /// Tagging file to write (Parquet).
        #[arg(long)]
        output: PathBuf,
        /// Text file of the store's distinct region values, one per line (the tagging keeps
        /// region names apart from object names).
        #[arg(long)]
        regions: PathBuf,
        /// Pipeline file whose `[tokenize]` and `[cluster]` settings to use (default: built-in
        /// defaults, as `minqing run --input` uses); the run that reads the tagging must use
        /// the same.
        #[arg(long)]
        pipeline: Option<PathBuf>,
    },
}

pub fn worker(a: WorkerArgs, t: &Term) -> Result<()> {
    match a.command {
        WorkerCommand::Tag {
            input,
            output,
            regions,
            pipeline,
        } => {
            let cfg = super::settings_of(pipeline.as_deref())?;
            let t0 = std::time::Instant::now();
            let s = minqing::pipeline::tag_partition(&cfg, &input, &output, &regions)?;
            t.note(format!(
                "{} petitions tagged in {:.1}s",
                minqing::fmt::thousands(s.rows as u64),
                t0.elapsed().as_secs_f64()
            ));
            println!("{}", output.display());
            Ok(())
        }
    }
}
