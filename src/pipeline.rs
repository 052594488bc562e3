//! Runs the stages in order. Read this file top to bottom to see what happens to a petition.
//!
//! The run folder (`--out DIR`, default `reports/<pipeline name>/`) holds `store/`, `rejects.csv`
//! and `run.json`, and later stages add `index/`, `groups/`, `charts/`, `brief.html`, `brief.md`.
//! Every file is written atomically; `run.json` is written last and is the only output that
//! carries timings and timestamps, so every other output is byte-identical across reruns.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::config::PipelineConfig;
use crate::error::Result;
use crate::ingest::{self, SourceSummary};
use crate::schema::Record;
use crate::store;
use crate::tokenize::Tokenizer;
use crate::{charts, cluster, index, report, trends};

/// One step of a run, in the order the steps execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Ingest,
    Store,
    Index,
    Cluster,
    Trends,
    Charts,
    Report,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Store => "store",
            Stage::Index => "index",
            Stage::Cluster => "cluster",
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
}

/// Default in-memory budget of `minqing ingest`, in MiB.
pub const DEFAULT_SPILL_MB: usize = 512;

/// Counts that reconcile: `read = accepted + rejected`, `accepted = stored_rows + duplicates`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestCounts {
    /// Data rows read from every input (blank rows excluded).
    pub read: u64,
    pub blank_rows: u64,
    pub rejected: u64,
    pub duplicates: u64,
    /// Distinct ids this run's inputs gave.
    pub stored_rows: u64,
    /// Of those: new to the store, changed, identical to what the store had.
    pub new: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Records in the store after the run (earlier runs' records included).
    pub store_total: u64,
}

impl IngestCounts {
    /// Whether every row is accounted for.
    pub fn reconciles(&self) -> bool {
        self.read == self.stored_rows + self.rejected + self.duplicates
            && self.stored_rows == self.new + self.updated + self.unchanged
    }

    /// One line for the terminal.
    pub fn line(&self) -> String {
        format!(
            "read {} rows: {} stored ({} new, {} updated, {} unchanged), {} rejected, {} duplicate ids; store holds {}",
            thousands(self.read),
            thousands(self.stored_rows),
            thousands(self.new),
            thousands(self.updated),
            thousands(self.unchanged),
            thousands(self.rejected),
            thousands(self.duplicates),
            thousands(self.store_total),
        )
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `run.json`: what ran, on what, how long each stage took.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub minqing_version: &'static str,
    pub pipeline: String,
    pub started_at: String,
    pub finished_at: String,
    pub inputs: Vec<SourceSummary>,
    pub counts: IngestCounts,
    /// Stage → seconds.
    pub stage_seconds: BTreeMap<String, f64>,
    /// Stage → its own counts and notes.
    pub stages: BTreeMap<String, serde_json::Value>,
    pub outputs: Vec<String>,
    /// Peak resident memory of the run, in MiB (Linux).
    pub peak_rss_mib: Option<f64>,
    /// What `minqing brief` needs to render another period the way this run did.
    pub brief: BriefSetup,
}

/// The options and method note of a run's brief, kept so `minqing brief` renders any other
/// period with the same parameters and the full method note.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BriefSetup {
    pub method: report::MethodNote,
    pub trends: trends::Options,
    pub charts: charts::Options,
    pub report: report::Options,
}

impl BriefSetup {
    /// The setup a run recorded in `RUN_DIR/run.json` (`None`: no run.json, or an older run's
    /// without one).
    pub fn read(run_dir: &Path) -> Option<BriefSetup> {
        let bytes = std::fs::read(run_dir.join("run.json")).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        serde_json::from_value(v.get("brief")?.clone()).ok()
    }
}

/// A brief rendered for one period.
pub struct Brief {
    pub period: trends::Period,
    /// Petitions received in the period.
    pub records_in_period: u64,
    pub charts: Vec<charts::Chart>,
    pub written: report::Written,
}

/// Renders the brief of `period` over `records` and `groups` the way a run renders its own:
/// trends, charts and report, written into `dest` (`brief.html`, `brief.md`, `charts/`).
/// `minqing brief` writes into the run folder; `minqing serve` into a scratch folder, for the
/// petitions a reader may see.
pub fn brief(
    dest: &Path,
    records: &[Record],
    groups: &cluster::Groups,
    setup: &BriefSetup,
    period: &trends::Period,
    show_personal_data: bool,
) -> Result<Brief> {
    let tr = trends::run(records, groups, period, &setup.trends)?;
    let charts = charts::run(&tr, &dest.join("charts"), &setup.charts, show_personal_data)?;
    let written = report::run(
        dest,
        records,
        groups,
        &tr,
        &charts,
        &setup.method,
        &setup.report,
        show_personal_data,
    )?;
    Ok(Brief {
        period: period.clone(),
        records_in_period: tr.records_in_period,
        charts,
        written,
    })
}

/// The result of importing into a run folder.
pub struct Imported {
    /// Seconds spent reading the inputs and merging (without `keep_records`: and writing) the
    /// store.
    pub read_seconds: f64,
    pub store_seconds: f64,
    /// With `keep_records`: the whole store, sorted by id, not yet written
    /// ([`store::write_kept`]).
    pub upserted: store::Upserted,
    pub counts: IngestCounts,
    pub sources: Vec<SourceSummary>,
}

/// Ingest stage plus store upsert: reads every source, writes `store/` and `rejects.csv`.
///
/// With `keep_records` the whole store comes back in memory for the analysis stages, and the
/// caller writes it ([`store::write_kept`]). Without it
/// (`minqing ingest`) the rows stream to the store through a bounded buffer that spills to disk
/// beyond `--spill-mb`, so an import's memory does not grow with the input file.
pub fn import(
    cfg: &PipelineConfig,
    opts: &RunOptions,
    progress: Progress,
    keep_records: bool,
) -> Result<Imported> {
    // Before anything is read or written, so a refused run folder is left exactly as it was.
    crate::fsutil::check_run_folder(&opts.out_dir)?;
    crate::fsutil::remove_stale_temps(&opts.out_dir);
    let t_read = Instant::now();
    progress(Event::Start(Stage::Ingest));
    let budget = if keep_records {
        usize::MAX
    } else {
        opts.spill_mb
            .unwrap_or(DEFAULT_SPILL_MB)
            .saturating_mul(1 << 20)
    };
    let mut spill = store::Spill::new(&opts.out_dir, budget);
    let mut rejects = Vec::new();
    let mut sources = Vec::new();
    for src in &cfg.sources {
        let mut sink = |batch: Vec<Record>| spill.push(batch);
        let (_, rj, summary) = ingest::read_source_with(
            src,
            &cfg.ingest,
            &|n| progress(Event::Rows(n)),
            Some(&mut sink),
        )?;
        rejects.extend(rj);
        sources.push(summary);
    }
    let rejected = rejects.len() as u64;
    let read: u64 = sources.iter().map(|s| s.rows_read).sum();
    let blank_rows: u64 = sources.iter().map(|s| s.blank_rows).sum();
    progress(Event::Done(
        Stage::Ingest,
        format!(
            "{} rows read{}",
            thousands(read),
            if spill.spilled() {
                " (spilled to disk beyond --spill-mb)"
            } else {
                ""
            }
        ),
    ));

    let read_seconds = t_read.elapsed().as_secs_f64();
    let t_store = Instant::now();
    progress(Event::Start(Stage::Store));
    let mut up = store::upsert(&opts.out_dir, spill, opts.fresh, keep_records)?;
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
    debug_assert!(counts.reconciles(), "{counts:?}");
    progress(Event::Done(Stage::Store, counts.line()));
    Ok(Imported {
        read_seconds,
        store_seconds: t_store.elapsed().as_secs_f64(),
        upserted: up,
        counts,
        sources,
    })
}

/// Everything a run did, for the terminal and `run.json`.
pub struct RunSummary {
    pub report: RunReport,
    pub out_dir: PathBuf,
}

/// Runs a whole pipeline into `opts.out_dir`.
pub fn run(cfg: &PipelineConfig, opts: &RunOptions, progress: Progress) -> Result<RunSummary> {
    let started = chrono::Local::now();
    let mut timer = Timer::default();
    // Refused before anything is written: the index stage would replace a folder it did not make
    // (after the link checks, which name the more basic problem).
    crate::fsutil::check_run_folder(&opts.out_dir)?;
    index::refuse_foreign(&opts.out_dir.join("index"))?;
    let imported = import(cfg, opts, progress, true)?;
    timer.set("ingest", imported.read_seconds);
    timer.set("store", imported.store_seconds);
    let mut stages: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    // The store is written while the records are grouped and indexed (both read the records
    // in memory, nothing reads the store file): its Parquet encoding fills the cores the
    // grouping's and indexing's sequential steps leave idle.
    let (analysed, written) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let t = Instant::now();
            store::write_kept(&opts.out_dir, &imported.upserted).map(|_| t.elapsed().as_secs_f64())
        });
        let analysed = analyse(cfg, opts, progress, &imported, &mut timer, &mut stages);
        let written = writer.join().unwrap_or_else(|_| {
            Err(crate::error::Error::Usage(
                "writing the store failed".into(),
            ))
        });
        (analysed, written)
    });
    analysed?;
    timer.set("store", imported.store_seconds + written?);
    let outputs = vec![
        rel(&opts.out_dir, &store::path(&opts.out_dir)),
        "rejects.csv".to_string(),
        "index/".to_string(),
        "groups/".to_string(),
        "charts/".to_string(),
        "brief.html".to_string(),
        "brief.md".to_string(),
    ];
    finish(cfg, opts, started, imported, timer, stages, outputs)
}

/// Everything after the import: group, index, and the brief of the latest complete period.
fn analyse(
    cfg: &PipelineConfig,
    opts: &RunOptions,
    progress: Progress,
    imported: &Imported,
    timer: &mut Timer,
    stages: &mut BTreeMap<String, serde_json::Value>,
) -> Result<()> {
    let records = &imported.upserted.records;

    // One tokenizer for the index and the grouping, so search and grouping see the same words.
    let tokenizer = Tokenizer::new(&cfg.tokenize)?;

    // Grouping runs before indexing so every indexed petition carries its group id.
    progress(Event::Start(Stage::Cluster));
    let t = Instant::now();
    let groups_dir = opts.out_dir.join("groups");
    // New petitions join last run's groups (whose ids stay) unless a full regroup is due.
    let grouped = cluster::update(
        records,
        &tokenizer,
        &cfg.cluster,
        &groups_dir,
        if opts.fresh {
            cluster::Regroup::FromScratch
        } else if opts.regroup {
            cluster::Regroup::Always
        } else {
            cluster::Regroup::IfDue
        },
    )?;
    let groups = grouped.groups;
    cluster::write(&groups_dir, &groups, records, opts.show_personal_data)?;
    grouped.state.write(&groups_dir)?;
    timer.add("cluster", t);
    let grouped_n = groups
        .members
        .iter()
        .filter(|m| m.group_id != cluster::UNCLUSTERED)
        .count();
    let how = match &grouped.mode {
        cluster::Mode::Incremental { new } => format!(
            "{} new petitions grouped onto the last grouping",
            thousands(*new as u64)
        ),
        cluster::Mode::Full(why) => format!("all regrouped: {why}"),
    };
    progress(Event::Done(
        Stage::Cluster,
        format!(
            "{} case groups holding {} of {} petitions ({how})",
            thousands(groups.groups.len() as u64),
            thousands(grouped_n as u64),
            thousands(records.len() as u64)
        ),
    ));
    stages.insert(
        "cluster".into(),
        serde_json::json!({
            "groups": groups.groups.len(),
            "grouped_petitions": grouped_n,
            "unclustered": records.len() - grouped_n,
            "mode": match &grouped.mode {
                cluster::Mode::Incremental { .. } => "incremental",
                cluster::Mode::Full(_) => "full",
            },
            "how": how,
        }),
    );

    progress(Event::Start(Stage::Index));
    let t = Instant::now();
    let group_of: HashMap<&str, &str> = groups
        .members
        .iter()
        .filter(|m| m.group_id != cluster::UNCLUSTERED)
        .map(|m| (m.id.as_str(), m.group_id.as_str()))
        .collect();
    let summary = index::build(&opts.out_dir.join("index"), records, &tokenizer, &group_of)?;
    timer.add("index", t);
    progress(Event::Done(
        Stage::Index,
        format!(
            "{} documents ({} added, {} updated, {} deleted, {} unchanged{})",
            thousands(summary.docs),
            thousands(summary.added),
            thousands(summary.updated),
            thousands(summary.deleted),
            thousands(summary.unchanged),
            if summary.rebuilt { ", rebuilt" } else { "" }
        ),
    ));
    stages.insert("index".into(), serde_json::to_value(&summary)?);

    // The brief covers the latest complete week (or month, `[report] period`) of the data.
    if let Some(period) = trends::latest_complete(records, &cfg.report.period) {
        progress(Event::Start(Stage::Trends));
        let t = Instant::now();
        let tr = trends::run(records, &groups, &period, &cfg.trends)?;
        timer.add("trends", t);
        progress(Event::Done(
            Stage::Trends,
            format!("period {}", period.label),
        ));

        progress(Event::Start(Stage::Charts));
        let t = Instant::now();
        let charts = charts::run(
            &tr,
            &opts.out_dir.join("charts"),
            &cfg.charts,
            opts.show_personal_data,
        )?;
        timer.add("charts", t);
        let pngs = charts.iter().filter(|c| c.png_path.is_some()).count();
        progress(Event::Done(
            Stage::Charts,
            if pngs > 0 || charts.is_empty() {
                format!("{} charts (SVG + PNG)", charts.len())
            } else {
                format!(
                    "{} charts (SVG only: no CJK font found for PNG; name one with [charts] font = \"…\")",
                    charts.len()
                )
            },
        ));

        progress(Event::Start(Stage::Report));
        let t = Instant::now();
        let method = method_note(cfg, imported);
        let written = report::run(
            &opts.out_dir,
            records,
            &groups,
            &tr,
            &charts,
            &method,
            &cfg.report,
            opts.show_personal_data,
        )?;
        timer.add("report", t);
        progress(Event::Done(
            Stage::Report,
            format!(
                "{} and {}",
                written.html.display(),
                written.markdown.display()
            ),
        ));
        stages.insert("report".into(), serde_json::json!({"period": period.label}));
    }

    Ok(())
}

/// Import only (`minqing ingest`): store, rejects and run.json.
pub fn ingest_only(
    cfg: &PipelineConfig,
    opts: &RunOptions,
    progress: Progress,
) -> Result<RunSummary> {
    let started = chrono::Local::now();
    let imported = import(cfg, opts, progress, false)?;
    let mut timer = Timer::default();
    timer.set("ingest", imported.read_seconds);
    timer.set("store", imported.store_seconds);
    let outputs = vec![
        "rejects.csv".into(),
        rel(&opts.out_dir, &store::path(&opts.out_dir)),
    ];
    finish(
        cfg,
        opts,
        started,
        imported,
        timer,
        BTreeMap::new(),
        outputs,
    )
}

/// Writes `run.json` (last, so it only appears once every other output is in place).
fn finish(
    cfg: &PipelineConfig,
    opts: &RunOptions,
    started: chrono::DateTime<chrono::Local>,
    imported: Imported,
    timer: Timer,
    stages: BTreeMap<String, serde_json::Value>,
    mut outputs: Vec<String>,
) -> Result<RunSummary> {
    outputs.sort();
    let brief = BriefSetup {
        method: method_note(cfg, &imported),
        trends: cfg.trends.clone(),
        charts: cfg.charts.clone(),
        report: cfg.report.clone(),
    };
    let report = RunReport {
        minqing_version: env!("CARGO_PKG_VERSION"),
        pipeline: cfg.name.clone(),
        started_at: started.to_rfc3339(),
        finished_at: chrono::Local::now().to_rfc3339(),
        inputs: imported.sources,
        counts: imported.counts,
        stage_seconds: timer.seconds,
        stages,
        outputs,
        peak_rss_mib: peak_mib(),
        brief,
    };
    write_run_json(&opts.out_dir, &report)?;
    Ok(RunSummary {
        report,
        out_dir: opts.out_dir.clone(),
    })
}

/// The method note at the end of the brief: what data, how much of it, which parameters.
pub fn method_note(cfg: &PipelineConfig, imported: &Imported) -> report::MethodNote {
    report::MethodNote {
        rows_read: imported.counts.read,
        rows_stored: imported.counts.store_total,
        rows_rejected: imported.counts.rejected,
        duplicates: imported.counts.duplicates,
        inputs: imported.sources.iter().map(|s| s.path.clone()).collect(),
        parameters: vec![
            ("cluster".into(), format!("{:?}", cfg.cluster)),
            ("trends".into(), format!("{:?}", cfg.trends)),
        ],
    }
}

fn peak_mib() -> Option<f64> {
    crate::bench::peak_rss_bytes().map(|b| (b as f64 / 1048576.0 * 10.0).round() / 10.0)
}

fn write_run_json(out_dir: &Path, report: &RunReport) -> Result<()> {
    let json = serde_json::to_vec_pretty(report)?;
    crate::fsutil::write_atomic(&out_dir.join("run.json"), &json)
}

fn rel(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}

#[derive(Default)]
struct Timer {
    seconds: BTreeMap<String, f64>,
}

impl Timer {
    fn add(&mut self, stage: &str, since: Instant) {
        self.set(stage, since.elapsed().as_secs_f64());
    }

    fn set(&mut self, stage: &str, s: f64) {
        self.seconds
            .insert(stage.to_string(), (s * 1000.0).round() / 1000.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
