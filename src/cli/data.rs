//! `minqing run`, `ingest`, `sample`, `schema`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use minqing::config::PipelineConfig;
use minqing::pipeline::{self, Event, RunOptions};

use super::Term;

/// The pipeline `minqing run` uses when given neither a file nor `--input`.
pub const DEFAULT_PIPELINE: &str = "pipelines/sample.toml";

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Pipeline file (default: pipelines/sample.toml, the bundled sample).
    pub pipeline: Option<PathBuf>,
    /// Run the default pipeline on these files instead of a pipeline file.
    #[arg(long, num_args = 1.., conflicts_with = "pipeline")]
    pub input: Vec<PathBuf>,
    /// Output folder (default: the pipeline's `out`, else reports/<pipeline name>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Rebuild the store from these inputs only instead of upserting into the existing store.
    #[arg(long)]
    pub fresh: bool,
    /// Regroup every petition instead of grouping only the new ones onto the last grouping.
    #[arg(long)]
    pub regroup: bool,
    /// Show names, phone and ID numbers in the brief, charts and exports (masked by default).
    #[arg(long)]
    pub show_personal_data: bool,
    /// Group from the per-petition tagging a Spark job wrote into this folder (docs/spark.md)
    /// instead of tagging every petition here.
    #[arg(long)]
    pub tagged: Option<PathBuf>,
    /// Analyse the output folder's store as `minqing ingest` left it instead of importing the
    /// sources again (the Spark job's reduce); the pipeline or --input still give the settings.
    #[arg(long, conflicts_with = "fresh")]
    pub from_store: bool,
    /// Build no search index (the Spark job builds it as shards once this run has grouped:
    /// `minqing worker index`, `minqing worker shards`).
    #[arg(long)]
    pub no_index: bool,
    /// Have a distributed engine run a full grouping's leader and reassignment passes, one
    /// task per object partition, at most N (the Spark job's reduce, docs/spark.md): the
    /// partitions' files are written to OUT/objects/, the line `objects<TAB>DIR<TAB>COUNT`
    /// goes to stdout, and the run waits for the line `done` on stdin, once `minqing worker
    /// leader` has run on every file (any other line, or none, stops the run).
    #[arg(long, value_name = "N")]
    pub object_tasks: Option<usize>,
    /// Record each stage's peak memory in run.json (`stage_peak_mib`; `minqing bench` does).
    /// Linux measures it by resetting the process's peak-memory mark between stages, so a tool
    /// reading the mark from outside (`/usr/bin/time`) then sees only the last stage's peak;
    /// run.json's `peak_rss_mib` stays the whole run's.
    #[arg(long)]
    pub stage_peaks: bool,
}

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Import the sources of this pipeline file (with their column mappings) instead of --input.
    #[arg(conflicts_with_all = ["input", "id_prefix", "channel"])]
    pub pipeline: Option<PathBuf>,
    /// Files to import (CSV UTF-8/GBK, xlsx, JSONL, Parquet).
    #[arg(long, required_unless_present = "pipeline", num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Prefix every id with this (ids are often unique only within one export).
    #[arg(long)]
    pub id_prefix: Option<String>,
    /// Channel for files without a channel column: a code (see `minqing schema`) or a Chinese
    /// name such as 来信 or 12345.
    #[arg(long, value_parser = minqing::schema::Channel::parse_named)]
    pub channel: Option<minqing::schema::Channel>,
    /// Rebuild the store from these inputs only.
    #[arg(long)]
    pub fresh: bool,
    /// Keep about this many MiB of rows in memory while reading; the rest waits on disk in the
    /// output folder until the store is written (bounded memory for any input size).
    #[arg(long, default_value_t = minqing::pipeline::DEFAULT_SPILL_MB)]
    pub spill_mb: usize,
}

#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    /// Number of petitions.
    #[arg(long, default_value_t = 5000)]
    pub rows: usize,
    /// Random seed (same seed → byte-identical file).
    #[arg(long, default_value_t = 20191229)]
    pub seed: u64,
    /// Output file: .csv or .xlsx.
    #[arg(long)]
    pub out: PathBuf,
}

fn resolve(pipeline: Option<&Path>, input: &[PathBuf]) -> minqing::Result<PipelineConfig> {
    if !input.is_empty() {
        return Ok(PipelineConfig::ad_hoc(input));
    }
    let p = pipeline.unwrap_or(Path::new(DEFAULT_PIPELINE));
    if pipeline.is_none() && !p.exists() {
        return Err(minqing::Error::Usage(format!(
            "no pipeline given and `{DEFAULT_PIPELINE}` not found: run from the minqing folder, name a pipeline file, or use `--input FILE`"
        )));
    }
    PipelineConfig::load(p)
}

/// Draws a spinner per stage on stderr when it is a terminal and `--quiet` is off.
struct Bars {
    bar: Mutex<Option<ProgressBar>>,
    visible: bool,
    quiet: bool,
}

impl Bars {
    fn new(term: &Term) -> Bars {
        Bars {
            bar: Mutex::new(None),
            visible: !term.quiet && std::io::stderr().is_terminal(),
            quiet: term.quiet,
        }
    }

    fn event(&self, e: Event) {
        let mut slot = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            Event::Start(stage) => {
                let pb = ProgressBar::new_spinner();
                pb.set_draw_target(if self.visible {
                    ProgressDrawTarget::stderr()
                } else {
                    ProgressDrawTarget::hidden()
                });
                pb.set_style(
                    ProgressStyle::with_template("{spinner} {msg} {pos} rows {elapsed}").unwrap(),
                );
                pb.set_message(stage.name());
                *slot = Some(pb);
            }
            Event::Rows(n) => {
                if let Some(pb) = slot.as_ref() {
                    pb.inc(n);
                }
            }
            Event::Done(stage, line) => {
                if let Some(pb) = slot.take() {
                    pb.finish_and_clear();
                }
                if !self.quiet {
                    eprintln!("{:>8}  {line}", stage.name());
                }
            }
        }
    }
}

pub fn run(a: RunArgs, term: &Term) -> minqing::Result<()> {
    let cfg = resolve(a.pipeline.as_deref(), &a.input)?;
    let out_dir = cfg.out_dir(a.out.as_deref());
    let object_tasks = a.object_tasks.map(|n| {
        minqing::cluster::ObjectTasks::new(
            out_dir.join("objects"),
            n,
            std::sync::Arc::new(ask_engine),
        )
    });
    let opts = RunOptions {
        out_dir,
        fresh: a.fresh,
        regroup: a.regroup,
        show_personal_data: a.show_personal_data,
        spill_mb: None,
        tagged: a.tagged,
        object_tasks,
        from_store: a.from_store,
        no_index: a.no_index,
        stage_peaks: a.stage_peaks,
    };
    let bars = Bars::new(term);
    let summary = pipeline::run(&cfg, &opts, &|e| bars.event(e))?;
    finish(&summary, term);
    // The process ends here: what the run held is the system's to take back.
    summary.leave_to_exit();
    Ok(())
}

/// `run --object-tasks`: tells the engine on stdout where the object partitions' files are and
/// waits on stdin for it to have run their tasks.
fn ask_engine(dir: &std::path::Path, n: usize) -> minqing::Result<()> {
    use std::io::{BufRead, Write};
    let stdout = std::path::Path::new("<stdout>");
    let mut out = std::io::stdout().lock();
    writeln!(out, "objects\t{}\t{n}", dir.display())
        .and_then(|_| out.flush())
        .map_err(minqing::Error::io("write to", stdout))?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(minqing::Error::io("read", std::path::Path::new("<stdin>")))?;
    match line.trim_end() {
        "done" => Ok(()),
        other => Err(minqing::Error::Usage(format!(
            "the engine did not run the object partitions' tasks in {} (it answered {other:?})",
            dir.display()
        ))),
    }
}

pub fn ingest(a: IngestArgs, term: &Term) -> minqing::Result<()> {
    let cfg = match &a.pipeline {
        Some(p) => PipelineConfig::load(p)?,
        None => {
            let mut cfg = PipelineConfig::ad_hoc(&a.input);
            for s in &mut cfg.sources {
                s.id_prefix = a.id_prefix.clone();
                s.channel = a.channel;
            }
            cfg
        }
    };
    let opts = RunOptions {
        out_dir: a.out.clone(),
        fresh: a.fresh,
        regroup: false,
        show_personal_data: false,
        spill_mb: Some(a.spill_mb),
        tagged: None,
        object_tasks: None,
        from_store: false,
        no_index: false,
        stage_peaks: false,
    };
    let bars = Bars::new(term);
    let summary = pipeline::ingest_only(&cfg, &opts, &|e| bars.event(e))?;
    finish(&summary, term);
    Ok(())
}

/// Prints the summary (stderr) and the output folder (stdout, the data of this command).
fn finish(summary: &pipeline::RunSummary, term: &Term) {
    let c = &summary.report.counts;
    for s in &summary.report.inputs {
        for n in &s.notes {
            term.note(format!("note: {}: {n}", s.path));
        }
    }
    if c.rejected + c.duplicates > 0 {
        term.note(format!(
            "{} rows not stored: see `{}`",
            minqing::fmt::thousands(c.rejected + c.duplicates),
            summary.out_dir.join("rejects.csv").display()
        ));
    }
    println!("{}", summary.out_dir.display());
}

pub fn sample(a: SampleArgs, term: &Term) -> minqing::Result<()> {
    let opts = minqing::sample::Options {
        rows: a.rows,
        seed: a.seed,
        ..Default::default()
    };
    let t = std::time::Instant::now();
    let s = minqing::sample::write(&opts, &a.out)?;
    term.note(format!(
        "{} petitions ({} in {} case groups) from {} to {}, written in {:.1}s",
        minqing::fmt::thousands(s.rows as u64),
        minqing::fmt::thousands(s.grouped_rows as u64),
        s.groups,
        s.first_date,
        s.last_date,
        t.elapsed().as_secs_f64()
    ));
    println!("{}", a.out.display());
    Ok(())
}

pub fn schema() -> minqing::Result<()> {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# canonical petition record (required fields marked *)\n"
    );
    for s in minqing::schema::FIELDS {
        let _ = writeln!(
            out,
            "{}{}  [{}]\n    {}\n    accepted headers: {}\n",
            s.name,
            if s.required { " *" } else { "" },
            s.kind,
            s.meaning,
            s.aliases.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "source  [file:row]\n    set by minqing: the file and spreadsheet row each record came from\n\nextra  [JSON]\n    set by minqing: every column that maps to no field, kept verbatim"
    );
    print!("{out}");
    Ok(())
}
