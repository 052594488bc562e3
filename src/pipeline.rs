//! The one place that runs the stages, in order. Read it top to bottom to see what happens to a
//! petition:
//!
//! | command | function | stages |
//! |---|---|---|
//! | `minqing run` | [`run`] | ingest → store → classify → region → cluster → index → trends → charts → report, then `run.json` |
//! | `minqing ingest` | [`ingest_only`] | ingest → store, then `run.json` |
//! | `minqing cluster` | [`regroup`] | cluster → index |
//! | `minqing brief` | [`brief`] | trends → charts → report (with the run's `inferred.csv`) |
//! | `minqing worker tag` | [`tag_partition`] | the cluster stage's per-petition tagging of one partition (a Spark map, `docs/spark.md`) |
//!
//! classify and region fill what the data leaves empty — a category from the model the pipeline
//! names, a region from the place names in the text — and the suggested lead unit is routed from
//! them ([`crate::route`]); all three go to `inferred.csv`, never into the store, and the brief
//! counts them marked as inferred.
//!
//! Grouping runs before indexing so every indexed petition carries its group id; a regroup
//! therefore re-indexes the petitions whose group changed, and search never shows a group the
//! grouping no longer has.
//!
//! Each stage has one shape, `stage::run(Input, &Options) -> Output` (without `Options` where a
//! stage has none; the cluster stage's entry is [`cluster::stage`], the store's
//! [`store::upsert`]); `Steps::step` times it, reports it to the terminal and keeps its counts
//! for `run.json`, so a stage call here is a few lines.
//!
//! The run folder (`--out DIR`, default `reports/<pipeline name>/`) holds `store/`, `rejects.csv`
//! and `run.json`, and later stages add `index/`, `groups/`, `charts/`, `brief.html`, `brief.md`.
//! Every file is written atomically; `run.json` is written last and is the only output that
//! carries timings and timestamps, so every other output is byte-identical across reruns.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::calendar::Period;
use crate::charts::Chart;
use crate::classify;
use crate::cluster::{self, Groups};
use crate::config::PipelineConfig;
use crate::error::{Error, Result};
use crate::fmt::thousands;
use crate::index::{self, IndexSummary};
use crate::inferred::Inferred;
use crate::ingest::{self, SourceSummary};
use crate::report::{self, MethodNote};
use crate::run_log::{self, ReportNote};
use crate::schema::Record;
use crate::store;
use crate::tokenize::Tokenizer;
use crate::{charts, trends};

pub use crate::run_log::{BriefSetup, IngestCounts, RunReport};
pub use steps::grouped_petitions;
use steps::{Charts, Steps};

mod steps;

/// One step of a run, in the order `minqing run` executes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Ingest,
    Store,
    Classify,
    Region,
    Cluster,
    Index,
    Trends,
    Charts,
    Report,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Store => "store",
            Stage::Classify => "classify",
            Stage::Region => "region",
            Stage::Cluster => "cluster",
            Stage::Index => "index",
            Stage::Trends => "trends",
            Stage::Charts => "charts",
            Stage::Report => "report",
        }
    }
}

/// What the library tells the terminal while it works.
#[derive(Debug, Clone)]
pub enum Event {
    /// A stage starts.
    Start(Stage),
    /// More rows were processed in the current stage.
    Rows(u64),
    /// A stage finished, with a one-line summary.
    Done(Stage, String),
}

/// Receives [`Event`]s; the binary draws progress bars from them.
pub type Progress<'a> = &'a (dyn Fn(Event) + Sync);

/// Options of a run that do not belong in the pipeline file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub out_dir: PathBuf,
    /// Rebuild the store from this run's inputs only, instead of upserting into the existing one.
    pub fresh: bool,
    /// Regroup every petition instead of grouping only the new ones onto the last grouping
    /// (`--fresh` regroups too).
    pub regroup: bool,
    /// Show personal data in the brief, charts and exports (explicit opt-in).
    pub show_personal_data: bool,
    /// `minqing ingest` keeps about this many MiB of rows in memory while reading (None:
    /// [`DEFAULT_SPILL_MB`]); beyond it rows wait on disk in the output folder until the store is
    /// written. `minqing run` keeps every row for the analysis and never spills.
    pub spill_mb: Option<usize>,
    /// A folder of the grouping's per-petition tagging made by a Spark map over this run
    /// folder's store (`docs/spark.md`), used instead of tagging here.
    pub tagged: Option<PathBuf>,
    /// A distributed engine's tasks that run a full grouping's leader and reassignment
    /// passes, one per object partition (docs/spark.md), instead of this process.
    pub object_tasks: Option<cluster::ObjectTasks>,
    /// Analyse the run folder's store as `minqing ingest` left it (with that import's counts
    /// from its run.json) instead of importing the sources again: the Spark job's reduce.
    pub from_store: bool,
    /// Build no search index: the Spark job's index map builds it as shards after this run has
    /// grouped (`minqing worker index`, installed by `minqing worker shards`).
    pub no_index: bool,
    /// Record each stage's peak memory in run.json ([`crate::sys::reset_stage_peak`]: the
    /// process's peak-memory mark is reset between stages, which tools outside then see).
    pub stage_peaks: bool,
}

/// Default in-memory budget of `minqing ingest`, in MiB.
pub const DEFAULT_SPILL_MB: usize = 512;

/// Everything a run did, for the terminal and `run.json`.
pub struct RunSummary {
    pub report: RunReport,
    pub out_dir: PathBuf,
    /// What the run kept in memory to its end (its records, groups, inferred values and
    /// tokenizer): freed with the summary, or left to the process's exit
    /// ([`RunSummary::leave_to_exit`]).
    held: Option<Held>,
}

/// A run's records, groups, inferred values and tokenizer, as they stood at its end.
struct Held {
    _records: Vec<Record>,
    _groups: Groups,
    _inferred: Inferred,
    _tokenizer: Tokenizer,
}

impl RunSummary {
    /// Ends the summary without freeing what the run held: for a process that exits next.
    /// Freeing a million records, their groups and jieba's dictionary one allocation at a
    /// time was the last 1.5 s of a `minqing run` at a million rows, on one core, for memory
    /// the system takes back at exit anyway.
    pub fn leave_to_exit(mut self) {
        std::mem::forget(self.held.take());
    }
}

// ---------------------------------------------------------------------------------------------
// The commands

/// `minqing run`: the whole pipeline into `opts.out_dir`.
pub fn run(cfg: &PipelineConfig, opts: &RunOptions, progress: Progress) -> Result<RunSummary> {
    // Refused before anything is written: the index stage would replace a folder it did not make
    // (after the link checks, which name the more basic problem).
    crate::fsutil::check_run_folder(&opts.out_dir)?;
    index::refuse_foreign(&opts.out_dir.join("index"))?;
    // --from-store's run.json, read before the text file below makes a missing folder.
    let stored = opts
        .from_store
        .then(|| ingest_report(&opts.out_dir))
        .transpose()?;
    // The rows' contents go to a file and are read from its mapping (issue 18: half of what the
    // records hold), kept from piling up in the process's memory while passes read them.
    let texts = std::sync::Arc::new(crate::textfile::TextFile::create_in(&opts.out_dir)?);
    texts.keep_trimmed(|| analyse_all(cfg, opts, progress, texts.clone(), stored))
}

/// [`run`] after its checks: import, or read the store that `stored` (`minqing ingest`'s
/// run.json) counts, the rows' contents into `texts`; then every stage after it.
fn analyse_all(
    cfg: &PipelineConfig,
    opts: &RunOptions,
    progress: Progress,
    texts: std::sync::Arc<crate::textfile::TextFile>,
    stored: Option<run_log::RunReport>,
) -> Result<RunSummary> {
    let started = chrono::Local::now();
    let mut steps = Steps::new(progress);
    steps.stage_peaks = opts.stage_peaks;
    let (mut imported, tokenizer) = with_tokenizer(cfg, || match stored {
        Some(report) => stored_import(&opts.out_dir, report, &texts),
        None => import(cfg, opts, &mut steps, Some(texts.clone())),
    })?;
    // The replies, source rows and unmapped columns go to the store's writer alone (no stage
    // reads them), which lets them go row group by row group.
    let cold = imported.upserted.take_cold();
    let upserted = &imported.upserted;
    // The store is written while the records are grouped and indexed (both read the records
    // in memory, nothing reads the store file): its Parquet encoding fills the cores the
    // grouping's and indexing's sequential steps leave idle.
    let (analysed, written) = std::thread::scope(|s| {
        let writer = s.spawn(move || {
            if opts.from_store {
                return Ok(0.0);
            }
            let t = Instant::now();
            store::write_kept(&opts.out_dir, upserted, cold).map(|_| t.elapsed().as_secs_f64())
        });
        let analysed = analyse(cfg, opts, &imported, &tokenizer, &texts, &mut steps);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("the store writer thread died".into())));
        (analysed, written)
    });
    let (groups, inferred) = analysed?;
    steps
        .timer
        .set(Stage::Store.name(), imported.store_seconds + written?);
    let records = std::mem::take(&mut imported.upserted.records);
    let outputs = [
        rel(&opts.out_dir, &store::path(&opts.out_dir)),
        "rejects.csv".to_string(),
        "index/".to_string(),
        "groups/".to_string(),
        "charts/".to_string(),
        crate::inferred::FILE.to_string(),
        "brief.html".to_string(),
        "brief.md".to_string(),
        "brief.docx".to_string(),
    ]
    .into_iter()
    .filter(|o| !(opts.no_index && o == "index/"))
    .collect();
    let mut summary = finish(cfg, opts, started, imported, steps, outputs)?;
    summary.held = Some(Held {
        _records: records,
        _groups: groups,
        _inferred: inferred,
        _tokenizer: tokenizer,
    });
    Ok(summary)
}

/// `first()`, with the pipeline's tokenizer built beside it: jieba's dictionary is 0.3 s of one
/// core, which reading the rows or the store leaves idle. `first`'s error comes first.
fn with_tokenizer<T>(
    cfg: &PipelineConfig,
    first: impl FnOnce() -> Result<T>,
) -> Result<(T, Tokenizer)> {
    let (done, tokenizer) = std::thread::scope(|s| {
        let tokenizer = s.spawn(|| Tokenizer::new(&cfg.tokenize));
        let done = first();
        let tokenizer = tokenizer
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("the tokenizer thread died".into())));
        (done, tokenizer)
    });
    Ok((done?, tokenizer?))
}

/// `minqing ingest`: import only (store, rejects and run.json).
pub fn ingest_only(
    cfg: &PipelineConfig,
    opts: &RunOptions,
    progress: Progress,
) -> Result<RunSummary> {
    let started = chrono::Local::now();
    let mut steps = Steps::new(progress);
    let imported = import(cfg, opts, &mut steps, None)?;
    let outputs = vec![
        "rejects.csv".into(),
        rel(&opts.out_dir, &store::path(&opts.out_dir)),
    ];
    finish(cfg, opts, started, imported, steps, outputs)
}

/// What [`regroup`] did.
pub struct Regrouped {
    pub records: usize,
    pub groups: Groups,
    /// None when the run folder has no index (`minqing ingest` made it): nothing to re-index.
    pub index: Option<IndexSummary>,
    /// Where the groups were written.
    pub groups_dir: PathBuf,
}

/// `minqing cluster`: regroups every petition of a run folder with `cfg`'s `[tokenize]` and
/// `[cluster]` settings (groups keep their ids by member overlap) and re-indexes the petitions
/// whose group changed, so search shows the new groups.
pub fn regroup(
    run_dir: &Path,
    cfg: &PipelineConfig,
    show_personal_data: bool,
    progress: Progress,
) -> Result<Regrouped> {
    crate::fsutil::check_run_folder(run_dir)?;
    index::refuse_foreign(&run_dir.join("index"))?;
    // Refused before the text file below makes a missing folder.
    store::existing(run_dir)?;
    // The store's contents and the grouping's vectors wait in a file, as in `minqing run`: on
    // the heap with the replies, a regroup held ~1.9 GiB at a million petitions.
    let texts = crate::textfile::TextFile::create_in(run_dir)?;
    texts.keep_trimmed(|| regroup_stored(run_dir, cfg, show_personal_data, progress, &texts))
}

/// [`regroup`] after its checks, the store's contents read from `texts`.
fn regroup_stored(
    run_dir: &Path,
    cfg: &PipelineConfig,
    show_personal_data: bool,
    progress: Progress,
    texts: &crate::textfile::TextFile,
) -> Result<Regrouped> {
    let (records, tokenizer) = with_tokenizer(cfg, || store::read_to(run_dir, texts))?;
    let mut steps = Steps::new(progress);
    let groups_dir = run_dir.join("groups");
    let grouped = steps.step(Stage::Cluster, || {
        let input = cluster::Input {
            records: &records,
            tokenizer: &tokenizer,
            groups_dir: &groups_dir,
            regroup: cluster::Regroup::Always,
            show_personal_data,
            tagged: None,
            objects: None,
            texts: Some(texts),
        };
        cluster::stage(input, &cfg.cluster)
    })?;
    let index = if index::exists(&run_dir.join("index")) {
        Some(index_step(
            run_dir,
            &records,
            &tokenizer,
            &grouped.groups,
            &mut steps,
        )?)
    } else {
        None
    };
    Ok(Regrouped {
        records: records.len(),
        groups: grouped.groups,
        index,
        groups_dir,
    })
}

/// `minqing worker tag`: the grouping's per-petition tagging of one partition (a Parquet file
/// of id, title and content) into a tagging file, with `cfg`'s `[tokenize]` and `[cluster]`
/// settings; `regions_file` lists the store's distinct region values, one per line. A Spark
/// map runs it on every partition of the store; `minqing run --tagged` groups from the output.
pub fn tag_partition(
    cfg: &PipelineConfig,
    input: &Path,
    output: &Path,
    regions_file: &Path,
) -> Result<cluster::TagSummary> {
    let text = std::fs::read_to_string(regions_file).map_err(Error::io("read", regions_file))?;
    let regions: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let tokenizer = Tokenizer::new(&cfg.tokenize)?;
    cluster::tag_file(input, output, &regions, &tokenizer, &cfg.cluster)
}

/// `minqing worker index`: the search-index shard of row group `row_group` of a run folder's
/// store, with the run's case groups and `cfg`'s `[tokenize]` settings, into `output`. The
/// Spark job runs it for every row group once the reduce has grouped; [`install_shards`] makes
/// the shards the run's index. The run's current index, when it is sharded (the last Spark
/// run's), lends its shard of the row group, updated in place ([`index::build_shard`]). The
/// group ids come from `group_ids` ([`split_group_ids`]: this row group's) or else from
/// `groups/members.csv` (every petition's: at 100M petitions, 3.5 GB read by every task).
pub fn index_shard(
    cfg: &PipelineConfig,
    run_dir: &Path,
    row_group: usize,
    output: &Path,
    group_ids: Option<&Path>,
) -> Result<(IndexSummary, index::Built)> {
    crate::fsutil::check_run_folder(run_dir)?;
    let store_file = store::path(run_dir);
    let ((records, pairs), tokenizer) = with_tokenizer(cfg, || {
        let records = store::read_row_group(&store_file, row_group)?;
        let pairs = match group_ids {
            Some(p) => cluster::read_group_id_file(p)?,
            None => cluster::read_group_ids(&run_dir.join("groups"))?,
        };
        Ok((records, pairs))
    })?;
    // the run's index (sharded by the last Spark run) lends the shards of unchanged row groups
    let previous = run_dir.join("index");
    index::build_shard(
        output,
        &records,
        &tokenizer,
        &index::GroupOf::of_pairs(&pairs),
        Some(&previous),
    )
}

/// `minqing worker group-ids`: the run's group ids split by the store's row groups, one CSV per
/// row group (`into/00000.csv`, …, the ids of that row group with their groups) for the Spark
/// job's index tasks; the number of files. Memory: the run's group ids and one row group's ids.
pub fn split_group_ids(run_dir: &Path, into: &Path) -> Result<usize> {
    use rayon::prelude::*;
    crate::fsutil::check_run_folder(run_dir)?;
    let store_file = store::path(run_dir);
    let pairs = cluster::read_group_ids(&run_dir.join("groups"))?;
    let group_of = index::GroupOf::of_pairs(&pairs);
    // each row group's (offset, rows), from one read of the file's metadata (at 1,000 row
    // groups, reading it again per row group would parse it 1,000 times); an empty store has
    // one empty row group, as its index has one empty shard
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for n in store::row_group_rows(&store_file)? {
        let at = spans.last().map_or(0, |(o, l)| o + l);
        spans.push((at, n));
    }
    if spans.is_empty() {
        spans.push((0, 0));
    }
    std::fs::create_dir_all(into).map_err(Error::io("create", into))?;
    spans
        .par_iter()
        .enumerate()
        .try_for_each(|(k, &(offset, len))| {
            let ids = store::read_ids_slice(&store_file, offset, len)?;
            let file = into.join(format!("{}.csv", index::shard_name(k)));
            // a row group's ids are in order: their groups are walked, not searched one by one
            let groups = group_of.get_all(ids.iter().map(String::as_str));
            let grouped = ids
                .iter()
                .zip(groups)
                .filter_map(|(id, g)| g.map(|g| (id.as_str(), g)));
            cluster::write_group_id_file(&file, grouped)
        })?;
    Ok(spans.len())
}

/// `minqing worker shards`: checks the shards `minqing worker index` wrote into `shards` (this
/// run's store, groups and tokenizer; every petition once) and installs them as the run
/// folder's index (`shards` is renamed into place), recorded in `run.json`.
pub fn install_shards(cfg: &PipelineConfig, run_dir: &Path, shards: &Path) -> Result<IndexSummary> {
    crate::fsutil::check_run_folder(run_dir)?;
    let store_file = store::path(run_dir);
    let ((pairs, rows), tokenizer) = with_tokenizer(cfg, || {
        let rows: usize = store::row_group_rows(&store_file)?.iter().sum();
        Ok((cluster::read_group_ids(&run_dir.join("groups"))?, rows))
    })?;
    let summary = index::install(
        shards,
        &run_dir.join("index"),
        &tokenizer,
        &index::GroupOf::of_pairs(&pairs),
        rows as u64,
    )?;
    let mut report = run_log::read(run_dir)?;
    report.stages.index = Some(summary.clone());
    if !report.outputs.iter().any(|o| o == "index/") {
        report.outputs.push("index/".into());
    }
    run_log::write(run_dir, &report)?;
    Ok(summary)
}

/// What [`brief`] renders besides the period.
#[derive(Debug, Clone, Default)]
pub struct BriefOptions {
    /// Show names, phone and id numbers unmasked (explicit opt-in).
    pub show_personal_data: bool,
}

/// What [`brief`] rendered.
pub struct Brief {
    pub period: Period,
    pub records_in_period: u64,
    pub charts: Vec<Chart>,
    pub written: report::Written,
    /// What the user should know about how it was rendered (an older run folder, no groups).
    pub notes: Vec<String>,
}

/// `minqing brief`: the brief of `period` (None: [`crate::calendar::default_period`] of the run's
/// `[report] period`) from a run folder, rendered with the options and method note the run
/// recorded, exactly as `minqing run` renders its own.
pub fn brief(
    run_dir: &Path,
    period: Option<Period>,
    opts: &BriefOptions,
    progress: Progress,
) -> Result<Brief> {
    crate::fsutil::check_run_folder(run_dir)?;
    // Refused before the text file below makes a missing folder.
    store::existing(run_dir)?;
    // The store's contents wait in a file, as in `minqing run` (at ten million petitions the
    // brief held 14.0 GiB with them on the heap).
    let texts = crate::textfile::TextFile::create_in(run_dir)?;
    texts.keep_trimmed(|| brief_stored(run_dir, period, opts, progress, &texts))
}

/// [`brief`] after its checks, the store's contents read from `texts`.
fn brief_stored(
    run_dir: &Path,
    period: Option<Period>,
    opts: &BriefOptions,
    progress: Progress,
    texts: &crate::textfile::TextFile,
) -> Result<Brief> {
    let records = store::read_to(run_dir, texts)?;
    let mut notes = Vec::new();
    // A folder without run.json (made by hand) or with a damaged one still gets a brief.
    let mut setup = match run_log::read(run_dir) {
        Ok(r) => r.brief,
        Err(e) => {
            notes.push(format!("{e}: the brief uses the default options"));
            BriefSetup::default()
        }
    };
    if setup.method.rows_stored == 0 {
        setup.method.rows_stored = records.len() as u64;
        setup.method.rows_read = records.len() as u64;
    }
    let groups_dir = run_dir.join("groups");
    let groups = if groups_dir.join("groups.json").exists() {
        cluster::read(&groups_dir)?
    } else {
        Groups::default()
    };
    if groups.members.is_empty() {
        notes.push("no groups/groups.json in the run: the brief has no case groups".into());
    }
    let period = setup
        .period(&records, period)
        .ok_or_else(|| Error::Usage("the store holds no records".into()))?;
    let inferred = Inferred::read(run_dir, &records)?;
    let what = Briefed {
        run_dir,
        records: &records,
        inferred: &inferred,
        groups: &groups,
        period: &period,
        setup: &setup,
        show_personal_data: opts.show_personal_data,
    };
    let mut b = brief_of(&what, progress)?;
    b.notes = notes;
    Ok(b)
}

/// A brief of given records and groups, written into `what.run_dir`: `minqing serve` renders
/// the part of a run a reader may see (all of it, or the petitions of their units) into a
/// scratch folder with it (never into the run folder, which a run may be writing), the same
/// way [`brief`] renders a run.
pub fn brief_of(what: &Briefed, progress: Progress) -> Result<Brief> {
    let mut steps = Steps::new(progress);
    let (trends, charts, written) = render_brief(what, &mut steps)?;
    Ok(Brief {
        records_in_period: trends.records_in_period,
        period: what.period.clone(),
        charts,
        written,
        notes: Vec::new(),
    })
}

/// What [`classify_train`] built.
pub struct Trained {
    pub model: crate::classify::Model,
    pub path: PathBuf,
}

/// Every record of `inputs` (each file as a source with default settings), for the category
/// commands: rejected rows are skipped, as an import would.
fn read_inputs(inputs: &[PathBuf]) -> Result<Vec<Record>> {
    let sources: Vec<ingest::Source> = inputs
        .iter()
        .map(|p| ingest::Source {
            path: p.clone(),
            ..Default::default()
        })
        .collect();
    let mut records = Vec::new();
    let mut sink = |batch: Vec<Record>| {
        records.extend(batch);
        Ok(())
    };
    let input = ingest::Input {
        sources: &sources,
        progress: &|_| {},
        sink: &mut sink,
    };
    ingest::run(input, &Default::default())?;
    Ok(records)
}

fn file_names(inputs: &[PathBuf]) -> Vec<String> {
    inputs
        .iter()
        .map(|p| {
            p.file_name()
                .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
        })
        .collect()
}

fn taxonomy(path: Option<&Path>) -> Result<Vec<classify::Labelled>> {
    path.map(classify::read_taxonomy)
        .transpose()
        .map(Option::unwrap_or_default)
}

/// `minqing classify train`: a category model from labelled exports (and an optional taxonomy),
/// written to `OUT/model.json`.
pub fn classify_train(
    inputs: &[PathBuf],
    taxonomy_file: Option<&Path>,
    out: &Path,
) -> Result<Trained> {
    let history = classify::History::from_records(&read_inputs(inputs)?);
    let tax = taxonomy(taxonomy_file)?;
    let tokenizer = classify::tokenizer()?;
    let model = classify::train(
        &history,
        &tax,
        file_names(inputs),
        &tokenizer,
        &Default::default(),
    )?;
    let path = model.save(out)?;
    Ok(Trained { model, path })
}

/// Per confidence threshold: (threshold, share of texts kept, accuracy of those kept).
pub type Coverage = Vec<(f64, f64, f64)>;

/// How [`classify_eval`] measures.
pub struct EvalSetup<'a> {
    pub inputs: &'a [PathBuf],
    /// Test on these files' texts (those the inputs do not hold) instead of cross-validating.
    pub test: &'a [PathBuf],
    pub taxonomy: Option<&'a Path>,
    pub folds: usize,
}

/// `minqing classify eval`: the method's scores, by stratified k-fold cross-validation over the
/// inputs or trained on the inputs and tested on `test`, with the confidence coverage.
pub fn classify_eval(setup: &EvalSetup) -> Result<(classify::eval::Scores, Coverage)> {
    let history = classify::History::from_records(&read_inputs(setup.inputs)?);
    let tax = taxonomy(setup.taxonomy)?;
    let tokenizer = classify::tokenizer()?;
    let c = classify::TrainOptions::default().c;
    let outcome = if setup.test.is_empty() {
        classify::eval::cross_validate(&history, &tax, &tokenizer, setup.folds, c)?
    } else {
        let test = classify::History::from_records(&read_inputs(setup.test)?);
        classify::eval::holdout(&history, &test, &tax, &tokenizer, c)?
    };
    let scale = outcome.fit_scale();
    let coverage = [0.3, 0.5, 0.7, 0.9]
        .into_iter()
        .map(|t| {
            let (share, acc) = outcome.coverage(scale, t);
            (t, share, acc)
        })
        .collect();
    Ok((outcome.scores(), coverage))
}

// ---------------------------------------------------------------------------------------------
// The steps

/// The result of importing into a run folder.
struct Imported {
    /// With `keep_records`: the whole store, sorted by id, not yet written
    /// ([`store::write_kept`]).
    upserted: store::Upserted,
    store_seconds: f64,
    counts: IngestCounts,
    sources: Vec<SourceSummary>,
}

/// Ingest plus store upsert: reads every source, writes `store/` and `rejects.csv`.
///
/// With `kept_texts` (the file the rows' contents go to) the whole store comes back in memory
/// for the analysis stages, and the caller writes it ([`store::write_kept`]). Without it
/// (`minqing ingest`) the rows stream to the store through a bounded buffer that spills to disk
/// beyond `--spill-mb`, so an import's memory does not grow with the input file.
fn import(
    cfg: &PipelineConfig,
    opts: &RunOptions,
    steps: &mut Steps,
    kept_texts: Option<std::sync::Arc<crate::textfile::TextFile>>,
) -> Result<Imported> {
    // Before anything is read or written, so a refused run folder is left exactly as it was.
    crate::fsutil::check_run_folder(&opts.out_dir)?;
    crate::fsutil::remove_stale_temps(&opts.out_dir);
    let mut spill = match &kept_texts {
        Some(texts) => store::Spill::new(&opts.out_dir, usize::MAX).texts_in(texts.clone()),
        None => {
            let budget = opts.spill_mb.unwrap_or(DEFAULT_SPILL_MB);
            store::Spill::new(&opts.out_dir, budget.saturating_mul(1 << 20))
        }
    };
    let keep_records = kept_texts.is_some();
    let progress = steps.progress;
    let Read { ingested, spill } = steps.step(Stage::Ingest, || {
        let input = ingest::Input {
            sources: &cfg.sources,
            progress: &|n| progress(Event::Rows(n)),
            sink: &mut |batch| spill.push(batch),
        };
        let ingested = ingest::run(input, &cfg.ingest)?;
        Ok(Read { ingested, spill })
    })?;
    let t_store = Instant::now();
    let fresh = opts.fresh;
    let (read, blank_rows) = (ingested.rows_read(), ingested.blank_rows());
    let mut rejects = ingested.rejects;
    let Stored { upserted, counts } = steps.step(Stage::Store, || {
        let mut up = store::upsert(&opts.out_dir, spill, fresh, keep_records)?;
        let rejected = rejects.len() as u64;
        let duplicates = up.duplicates.len() as u64;
        rejects.extend(std::mem::take(&mut up.duplicates));
        ingest::write_rejects(&opts.out_dir.join("rejects.csv"), &rejects)?;
        let counts = IngestCounts {
            read,
            blank_rows,
            rejected,
            duplicates,
            stored_rows: up.stored_rows,
            new: up.new,
            updated: up.updated,
            unchanged: up.unchanged,
            store_total: up.total,
        };
        // Nothing lost: a row neither stored nor rejected would be a fault of minqing's.
        if !counts.reconciles() {
            return Err(Error::Internal(format!(
                "the row counts do not reconcile: {counts:?}"
            )));
        }
        Ok(Stored {
            upserted: up,
            counts,
        })
    })?;
    Ok(Imported {
        upserted,
        store_seconds: t_store.elapsed().as_secs_f64(),
        counts,
        sources: ingested.sources,
    })
}

/// `minqing run --from-store`: the store `minqing ingest` wrote into the run folder, with that
/// import's counts and sources from its run.json, as if imported now (nothing is written to the
/// store or rejects.csv). A store that no longer holds what that run.json counted is refused.
/// `report` is that run.json ([`ingest_report`]); the contents are moved from the heap to
/// `texts`, as an import's are.
fn stored_import(
    out_dir: &Path,
    report: run_log::RunReport,
    texts: &crate::textfile::TextFile,
) -> Result<Imported> {
    let t = Instant::now();
    let records = store::read_to(out_dir, texts)?;
    let total = records.len() as u64;
    if report.counts.store_total != total {
        return Err(Error::Usage(format!(
            "`{}` holds {total} petitions, its run.json counts {}: import again (`minqing \
             ingest` or `minqing run` without --from-store)",
            store::path(out_dir).display(),
            report.counts.store_total
        )));
    }
    let c = &report.counts;
    let upserted = store::Upserted {
        batches: vec![records.len()],
        records,
        duplicates: Vec::new(),
        stored_rows: c.stored_rows,
        new: c.new,
        updated: c.updated,
        unchanged: c.unchanged,
        total,
    };
    Ok(Imported {
        upserted,
        store_seconds: t.elapsed().as_secs_f64(),
        counts: report.counts,
        sources: report.inputs,
    })
}

/// The run.json `minqing ingest` left in the folder `--from-store` analyses.
fn ingest_report(out_dir: &Path) -> Result<run_log::RunReport> {
    run_log::read(out_dir).map_err(|e| {
        Error::Usage(format!(
            "--from-store analyses what `minqing ingest --out {}` imported, and needs its \
             run.json: {e}",
            out_dir.display()
        ))
    })
}

/// What the ingest step read: the rejects and summaries, and the rows waiting for the store.
struct Read {
    ingested: ingest::Ingested,
    spill: store::Spill,
}

/// What the store step did.
struct Stored {
    upserted: store::Upserted,
    counts: IngestCounts,
}

/// Everything after the import: group, index, and the brief of the latest complete period.
fn analyse(
    cfg: &PipelineConfig,
    opts: &RunOptions,
    imported: &Imported,
    // One tokenizer for the index and the grouping, so search and grouping see the same words.
    tokenizer: &Tokenizer,
    // The run's text file, which the grouping keeps its term vectors in.
    texts: &crate::textfile::TextFile,
    steps: &mut Steps,
) -> Result<(Groups, Inferred)> {
    let records = &imported.upserted.records;
    let inferred = infer(cfg, records, steps)?;
    inferred.write(&opts.out_dir)?;
    let groups_dir = opts.out_dir.join("groups");
    // New petitions join last run's groups (whose ids stay) unless a full regroup is due.
    let regroup = if opts.fresh {
        cluster::Regroup::FromScratch
    } else if opts.regroup {
        cluster::Regroup::Always
    } else {
        cluster::Regroup::IfDue
    };
    let tagged = match &opts.tagged {
        Some(dir) => {
            let t = cluster::Taggings::read(dir)?;
            t.check(records, tokenizer, &cfg.cluster)?;
            Some(t)
        }
        None => None,
    };
    let grouped = steps.step(Stage::Cluster, || {
        let input = cluster::Input {
            records,
            tokenizer,
            groups_dir: &groups_dir,
            regroup,
            show_personal_data: opts.show_personal_data,
            tagged: tagged.as_ref(),
            objects: opts.object_tasks.as_ref(),
            texts: Some(texts),
        };
        cluster::stage(input, &cfg.cluster)
    })?;
    if !opts.no_index {
        index_step(&opts.out_dir, records, tokenizer, &grouped.groups, steps)?;
    }
    // The brief covers the latest complete week (or month, `[report] period`) of the data that
    // is not thin (calendar::default_period).
    let mut setup = brief_setup(cfg, imported, &inferred.notes);
    if let Some(period) = setup.period(records, None) {
        let what = Briefed {
            run_dir: &opts.out_dir,
            records,
            inferred: &inferred,
            groups: &grouped.groups,
            period: &period,
            setup: &setup,
            show_personal_data: opts.show_personal_data,
        };
        render_brief(&what, steps)?;
    }
    Ok((grouped.groups, inferred))
}

/// classify → region, and the units routed from them: what the brief counts where the data
/// has no category, region or unit.
fn infer(cfg: &PipelineConfig, records: &[Record], steps: &mut Steps) -> Result<Inferred> {
    let classified = steps.step(Stage::Classify, || {
        classify::run(classify::Input { records }, &cfg.classify)
    })?;
    let located = steps.step(Stage::Region, || {
        let input = crate::region::Input {
            records,
            dicts: &cfg.tokenize.dicts,
        };
        crate::region::run(input).map(|located| Located { located, records })
    })?;
    let mut inferred = Inferred::build(records, &classified, &located.located, &cfg.route);
    inferred.notes = inference_notes(cfg, &classified, &located);
    steps.inferred = inferred.notes.clone();
    Ok(inferred)
}

/// What the brief's method note says about the inferred values.
fn inference_notes(cfg: &PipelineConfig, c: &classify::Classified, l: &Located) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(m) = &c.model {
        let (confident, review) = c.counts();
        notes.push(format!(
            "问题分类（推断）：数据未标注类别的{}件由本单位历史分类数据训练的模型推断（训练数据{}件、{}类，交叉验证宏F1为{:.2}），置信度低于{}的{}件列为“{}”，推断值单独保存，不覆盖原始数据。",
            thousands((confident + review) as u64),
            thousands(m.documents as u64),
            m.per_class.len(),
            m.cv_macro_f1,
            c.min_confidence,
            thousands(review as u64),
            classify::NEEDS_REVIEW,
        ));
    }
    let (by, unknown) = l.located.counts(l.records);
    if by.iter().sum::<usize>() + unknown > 0 {
        notes.push(format!(
            "信访事项属地（推断）：数据未标注属地的信访件按标题和内容中的地名推断，细至街道乡镇{}件、区县{}件、市{}件，{}件未能推断；地名取自数据本身、全国行政区划（国家统计局2023）和本地词典，不作猜测。",
            thousands(by[2] as u64),
            thousands(by[1] as u64),
            thousands(by[0] as u64),
            thousands(unknown as u64),
        ));
    }
    if cfg.route.bundled || !cfg.route.rule.is_empty() {
        notes.push(
            "建议牵头单位：数据未载明责任单位的，按问题类别和属地依分派表推荐，仅供参考。".into(),
        );
    }
    notes
}

/// The region stage's output with the records it is about (for its summary line).
struct Located<'a> {
    located: crate::region::Located,
    records: &'a [Record],
}

/// The index stage over `records` with their groups, into `RUN_DIR/index/`.
fn index_step(
    run_dir: &Path,
    records: &[Record],
    tokenizer: &Tokenizer,
    groups: &Groups,
    steps: &mut Steps,
) -> Result<IndexSummary> {
    steps.step(Stage::Index, || {
        index::run(index::Input {
            index_dir: &run_dir.join("index"),
            records,
            tokenizer,
            groups,
        })
    })
}

/// What a brief is rendered from.
pub struct Briefed<'a> {
    /// Where `brief.html`, `brief.md`, `brief.docx` and `charts/` are written.
    pub run_dir: &'a Path,
    pub records: &'a [Record],
    /// What the run inferred for them (`inferred.csv`; [`Inferred::default`] for nothing).
    pub inferred: &'a Inferred,
    pub groups: &'a Groups,
    pub period: &'a Period,
    pub setup: &'a BriefSetup,
    pub show_personal_data: bool,
}

/// trends → charts → report for one period: `brief.html`, `brief.md` and `charts/`.
fn render_brief(
    b: &Briefed,
    steps: &mut Steps,
) -> Result<(trends::Trends, Vec<Chart>, report::Written)> {
    let trends = steps.step(Stage::Trends, || {
        let input = trends::Input {
            records: b.records,
            inferred: b.inferred,
            groups: b.groups,
            period: b.period,
        };
        trends::run(input, &b.setup.trends)
    })?;
    let charts = steps.step(Stage::Charts, || {
        let input = charts::Input {
            trends: &trends,
            charts_dir: &b.run_dir.join("charts"),
            show_personal_data: b.show_personal_data,
        };
        charts::run(input, &b.setup.charts).map(Charts)
    })?;
    let written = steps.step(Stage::Report, || {
        let input = report::Input {
            run_dir: b.run_dir,
            records: b.records,
            trends: &trends,
            charts: &charts.0,
            method: &b.setup.method,
            show_personal_data: b.show_personal_data,
        };
        report::run(input, &b.setup.report)
    })?;
    steps.notes.report = Some(ReportNote {
        period: b.period.label.clone(),
    });
    Ok((trends, charts.0, written))
}

/// The brief's options and method note, as `run.json` keeps them for `minqing brief`.
fn brief_setup(cfg: &PipelineConfig, imported: &Imported, inferred: &[String]) -> BriefSetup {
    BriefSetup {
        method: MethodNote {
            rows_read: imported.counts.read,
            rows_stored: imported.counts.store_total,
            rows_rejected: imported.counts.rejected,
            duplicates: imported.counts.duplicates,
            inputs: imported.sources.iter().map(|s| s.path.clone()).collect(),
            settings: MethodNote::settings(&cfg.cluster, &cfg.trends),
            inferred: inferred.to_vec(),
            period: None,
        },
        trends: cfg.trends.clone(),
        charts: cfg.charts.clone(),
        report: cfg.report.clone(),
    }
}

/// Writes `run.json` (last, so it only appears once every other output is in place).
fn finish(
    cfg: &PipelineConfig,
    opts: &RunOptions,
    started: chrono::DateTime<chrono::Local>,
    imported: Imported,
    steps: Steps,
    mut outputs: Vec<String>,
) -> Result<RunSummary> {
    outputs.sort();
    let report = RunReport {
        minqing_version: env!("CARGO_PKG_VERSION").to_string(),
        pipeline: cfg.name.clone(),
        started_at: started.to_rfc3339(),
        finished_at: chrono::Local::now().to_rfc3339(),
        brief: brief_setup(cfg, &imported, &steps.inferred),
        inputs: imported.sources,
        counts: imported.counts,
        stage_seconds: steps.timer.seconds,
        stages: steps.notes,
        outputs,
        peak_rss_mib: crate::sys::peak_rss_bytes().map(mib),
        stage_peak_mib: steps.peaks,
        threads: rayon::current_num_threads(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_seconds: crate::sys::cpu_seconds().map(|s| (s * 100.0).round() / 100.0),
    };
    run_log::write(&opts.out_dir, &report)?;
    Ok(RunSummary {
        report,
        out_dir: opts.out_dir.clone(),
        held: None,
    })
}

/// Bytes as MiB, to a tenth.
fn mib(bytes: u64) -> f64 {
    (bytes as f64 / 1048576.0 * 10.0).round() / 10.0
}

fn rel(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}
