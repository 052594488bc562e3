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
    /// Build the search-index shard of one row group of a run folder's store, with the run's
    /// case groups (after `minqing run --no-index` has grouped). A shard of the run's current
    /// (sharded) index of this row group is linked and updated in place instead of rebuilt.
    Index {
        /// The run folder (its store and groups are read, nothing in it is written).
        #[arg(long)]
        run: PathBuf,
        /// Row group of the store, from 0.
        #[arg(long)]
        row_group: usize,
        /// Folder of the shards: this row group's shard is written (replaced) into its
        /// subfolder `00000`, `00001`, …; `minqing worker shards` installs the folder.
        #[arg(long)]
        shards: PathBuf,
        /// This row group's group ids (`minqing worker group-ids`), instead of reading every
        /// petition's from the run's groups/members.csv.
        #[arg(long, value_name = "CSV")]
        group_ids: Option<PathBuf>,
        /// Pipeline file whose `[tokenize]` settings to use (default: built-in defaults); the
        /// same as the run's.
        #[arg(long)]
        pipeline: Option<PathBuf>,
    },
    /// Run the grouping's leader and reassignment passes over one object partition (a file
    /// `minqing run --object-tasks` wrote) and write its result beside it.
    Leader {
        /// The partition file (`OUT/objects/NNNNN.part`).
        #[arg(long)]
        part: PathBuf,
        /// The result file to write (`OUT/objects/NNNNN.lead`, which the run reads).
        #[arg(long)]
        result: PathBuf,
    },
    /// Split the run's group ids by the store's row groups, one CSV per row group (`00000.csv`,
    /// …) for `minqing worker index --group-ids`: each index task then reads its row group's
    /// ids, not every petition's.
    GroupIds {
        /// The run folder (its store and groups are read, nothing in it is written).
        #[arg(long)]
        run: PathBuf,
        /// Folder to write the files into (created).
        #[arg(long)]
        into: PathBuf,
    },
    /// Check the shards `minqing worker index` wrote into a folder (one per row group, this
    /// run's groups and tokenizer) and make that folder the run's search index (it is moved).
    Shards {
        /// The run folder.
        #[arg(long)]
        run: PathBuf,
        /// Folder of shard folders 00000, 00001, …, on the run folder's file system.
        #[arg(long)]
        shards: PathBuf,
        /// Pipeline file whose `[tokenize]` settings the shards were built with.
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
        WorkerCommand::Leader { part, result } => {
            let t0 = std::time::Instant::now();
            let s = minqing::cluster::lead_partition(&part, &result)?;
            t.note(format!(
                "{} petitions of {} objects in {} clusters in {:.1}s",
                minqing::fmt::thousands(s.petitions as u64),
                minqing::fmt::thousands(s.runs as u64),
                minqing::fmt::thousands(s.clusters as u64),
                t0.elapsed().as_secs_f64()
            ));
            println!("{}", result.display());
            Ok(())
        }
        WorkerCommand::Index {
            run,
            row_group,
            shards,
            group_ids,
            pipeline,
        } => {
            let cfg = super::settings_of(pipeline.as_deref())?;
            let t0 = std::time::Instant::now();
            let output = shards.join(minqing::index::shard_name(row_group));
            let (s, built) = minqing::pipeline::index_shard(
                &cfg,
                &run,
                row_group,
                &output,
                group_ids.as_deref(),
            )?;
            let how = match built {
                minqing::index::Built::Indexed => "indexed".to_string(),
                minqing::index::Built::Kept(from) => format!(
                    "unchanged since the last index: its shard {} linked",
                    from.display()
                ),
                minqing::index::Built::Updated(from) => format!(
                    "in shard {} of the last index, updated ({} added, {} changed, {} gone)",
                    from.display(),
                    s.added,
                    s.updated,
                    s.deleted
                ),
            };
            t.note(format!(
                "{} petitions {how} in {:.1}s",
                minqing::fmt::thousands(s.docs),
                t0.elapsed().as_secs_f64()
            ));
            println!("{}", output.display());
            Ok(())
        }
        WorkerCommand::GroupIds { run, into } => {
            let n = minqing::pipeline::split_group_ids(&run, &into)?;
            t.note(format!(
                "the group ids of {n} row groups written to {}",
                into.display()
            ));
            println!("{}", into.display());
            Ok(())
        }
        WorkerCommand::Shards {
            run,
            shards,
            pipeline,
        } => {
            let cfg = super::settings_of(pipeline.as_deref())?;
            let s = minqing::pipeline::install_shards(&cfg, &run, &shards)?;
            let index = run.join("index");
            t.note(format!(
                "{} petitions in {} shards ({} unchanged since the last index) installed as {}",
                minqing::fmt::thousands(s.docs),
                s.shards,
                s.kept_shards,
                index.display()
            ));
            println!("{}", index.display());
            Ok(())
        }
    }
}
