//! `run.json`: what a run did, on what, and how long each stage took; the only output with
//! timings and timestamps. Written last, so it appears only once every other output is in place,
//! and read back through the same types (`minqing brief`, `minqing bench`, the tests): a key
//! that is mistyped or missing is an error, never a silent zero.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fmt::thousands;
use crate::ingest::SourceSummary;
use crate::{charts, index, report, trends};

/// The file name in a run folder.
pub const FILE: &str = "run.json";

/// `run.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub minqing_version: String,
    pub pipeline: String,
    pub started_at: String,
    pub finished_at: String,
    pub inputs: Vec<SourceSummary>,
    pub counts: IngestCounts,
    /// Stage → seconds.
    pub stage_seconds: BTreeMap<String, f64>,
    /// What the analysis stages counted (absent for `minqing ingest`).
    pub stages: StageNotes,
    pub outputs: Vec<String>,
    /// Peak resident memory of the run, in MiB (Linux).
    pub peak_rss_mib: Option<f64>,
    /// Stage → the peak resident memory while it ran, in MiB (Linux; the store's writer and
    /// anything else running beside a stage counted in).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stage_peak_mib: BTreeMap<String, f64>,
    /// Worker threads the run's parallel stages used (the cores, or `RAYON_NUM_THREADS`); 0 in
    /// a run.json from before this was kept.
    #[serde(default)]
    pub threads: usize,
    /// Cores the run could use (its CPU affinity, e.g. under `taskset`); 0 in a run.json from
    /// before this was kept.
    #[serde(default)]
    pub cores: usize,
    /// CPU seconds the run used, all threads, up to writing this file (Linux); with the wall
    /// time, how many cores it kept busy. None in a run.json from before this was kept.
    #[serde(default)]
    pub cpu_seconds: Option<f64>,
    /// What `minqing brief` needs to render another period the way this run did.
    pub brief: BriefSetup,
}

/// Counts that reconcile: `read = accepted + rejected`, `accepted = stored_rows + duplicates`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// Each analysis stage's own counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StageNotes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterNote>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<index::IndexSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportNote>,
}

/// What the grouping did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterNote {
    pub groups: usize,
    pub grouped_petitions: usize,
    pub unclustered: usize,
    /// `incremental` (new petitions onto the last grouping) or `full`.
    pub mode: String,
    /// The same in words, with the reason for a full regroup.
    pub how: String,
    /// With `minqing run --tagged`: the petitions whose tagging came from the Spark map (the
    /// rest, changed or missing there, were tagged by the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tagged_by_map: Option<usize>,
    /// With `minqing run --object-tasks`: the tasks (object partitions) the full grouping's
    /// leader and reassignment passes ran as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_tasks: Option<usize>,
}

/// Which period the run's brief covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportNote {
    pub period: String,
}

/// The options and method note of a run's brief, kept so `minqing brief` renders any other
/// period with the same parameters and the full method note.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BriefSetup {
    pub method: report::MethodNote,
    pub trends: trends::Options,
    pub charts: charts::Options,
    pub report: report::Options,
}

impl BriefSetup {
    /// The period to brief: the one asked for, else the data's default
    /// ([`crate::calendar::default_period`]), whose note on passed-over periods goes into the
    /// method note; a period asked for never carries it. None: no records.
    pub fn period(
        &mut self,
        records: &[crate::schema::Record],
        asked: Option<crate::calendar::Period>,
    ) -> Option<crate::calendar::Period> {
        self.method.period = None;
        if asked.is_some() {
            return asked;
        }
        let d = crate::calendar::default_period(records, self.report.period)?;
        self.method.period = d.note();
        Some(d.period)
    }
}

/// Reads a run folder's `run.json`.
pub fn read(run_dir: &Path) -> Result<RunReport> {
    let p = run_dir.join(FILE);
    let bytes = std::fs::read(&p).map_err(Error::io("read", &p))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
        path: p,
        message: e.to_string(),
    })
}

/// Writes `run.json` atomically.
pub fn write(run_dir: &Path, report: &RunReport) -> Result<()> {
    let json = serde_json::to_vec_pretty(report)?;
    crate::fsutil::write_atomic(&run_dir.join(FILE), &json)
}

/// Seconds per stage, rounded to milliseconds.
#[derive(Debug, Default)]
pub struct Timer {
    pub seconds: BTreeMap<String, f64>,
}

impl Timer {
    /// Records the time since `since` for `stage`.
    pub fn add(&mut self, stage: &str, since: Instant) {
        self.set(stage, since.elapsed().as_secs_f64());
    }

    pub fn set(&mut self, stage: &str, s: f64) {
        self.seconds
            .insert(stage.to_string(), (s * 1000.0).round() / 1000.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mistyped_key_is_an_error_not_a_zero() {
        let dir = tempfile::tempdir().unwrap();
        let report = RunReport {
            minqing_version: "0".into(),
            pipeline: "p".into(),
            started_at: "s".into(),
            finished_at: "f".into(),
            inputs: Vec::new(),
            counts: IngestCounts {
                read: 3,
                ..Default::default()
            },
            stage_seconds: BTreeMap::new(),
            stages: StageNotes::default(),
            outputs: Vec::new(),
            peak_rss_mib: None,
            stage_peak_mib: BTreeMap::new(),
            threads: 1,
            cores: 1,
            cpu_seconds: None,
            brief: BriefSetup::default(),
        };
        write(dir.path(), &report).unwrap();
        assert_eq!(read(dir.path()).unwrap().counts.read, 3);
        let p = dir.path().join(FILE);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, text.replace("\"read\"", "\"raed\"")).unwrap();
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("run.json") && err.contains("read"), "{err}");
    }
}
