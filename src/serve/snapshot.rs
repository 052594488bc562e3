//! The run folder as the pages see it: the store, the case groups and the index of the last
//! complete run, loaded together and swapped in one step. While a run writes the folder the
//! pages keep answering from the snapshot they hold (the store and groups are in memory; the
//! index reader holds its commit's segment files open, so a run's commit or rebuild cannot pull
//! them away); a poll notices when the folder's outputs have changed and settled, with no run
//! writing, and loads the new snapshot beside the old one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::NaiveDate;

use crate::cluster::{Group, Groups, UNCLUSTERED};
use crate::error::Result;
use crate::index::IndexHandle;
use crate::pipeline::BriefSetup;
use crate::schema::Record;

/// The files whose change means a run (or `minqing cluster`) has written new outputs.
const WATCHED: [&str; 4] = [
    "run.json",
    "store/petitions.parquet",
    "groups/groups.json",
    "index/meta.json",
];

/// Modification time and length of each watched file (None: absent).
pub type Stamps = Vec<Option<(SystemTime, u64)>>;

pub fn stamps(run_dir: &Path) -> Stamps {
    WATCHED
        .iter()
        .map(|f| {
            std::fs::metadata(run_dir.join(f))
                .ok()
                .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
        })
        .collect()
}

/// Whether a run is writing the folder: temporary files or staging folders of an unfinished
/// write, or a store (or rejects list) newer than `run.json`, which a run writes last.
pub fn run_in_progress(run_dir: &Path) -> bool {
    let mtime = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let run_json = mtime(run_dir.join("run.json"));
    let newer = |p: PathBuf| match (mtime(p), run_json) {
        (Some(t), Some(r)) => t > r,
        (Some(_), None) => true,
        _ => false,
    };
    if newer(crate::store::path(run_dir)) || newer(run_dir.join("rejects.csv")) {
        return true;
    }
    let is_temp =
        |name: &str| name.starts_with(".minqing-tmp-") || name.starts_with(".minqing-stage-");
    let mut dirs = vec![run_dir.to_path_buf()];
    dirs.extend(
        crate::fsutil::RUN_SUBFOLDERS
            .iter()
            .map(|d| run_dir.join(d)),
    );
    dirs.iter().any(|d| {
        std::fs::read_dir(d).is_ok_and(|rd| {
            rd.flatten()
                .any(|e| is_temp(&e.file_name().to_string_lossy()))
        })
    })
}

/// What `run.json` says about the run (read loosely: older and newer runs differ in detail).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunInfo {
    pub pipeline: String,
    pub started_at: String,
    pub finished_at: String,
    pub read: u64,
    pub stored: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub store_total: u64,
    pub seconds: f64,
}

impl RunInfo {
    fn read(run_dir: &Path) -> Option<RunInfo> {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run_dir.join("run.json")).ok()?).ok()?;
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let c = |k: &str| v["counts"][k].as_u64().unwrap_or(0);
        Some(RunInfo {
            pipeline: s("pipeline"),
            started_at: s("started_at"),
            finished_at: s("finished_at"),
            read: c("read"),
            stored: c("stored_rows"),
            rejected: c("rejected"),
            duplicates: c("duplicates"),
            store_total: c("store_total"),
            seconds: v["stage_seconds"]
                .as_object()
                .map_or(0.0, |m| m.values().filter_map(|x| x.as_f64()).sum()),
        })
    }
}

/// One row of `rejects.csv`, for the status page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RejectRow {
    pub file: String,
    pub row: String,
    pub column: String,
    pub kind: String,
    pub reason: String,
}

/// Rows of `rejects.csv` kept for the status page.
const REJECT_EXAMPLES: usize = 50;

/// Counts by kind and the first rows of `rejects.csv`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Rejects {
    pub rejected: u64,
    pub duplicates: u64,
    pub first: Vec<RejectRow>,
}

impl Rejects {
    fn read(run_dir: &Path) -> Rejects {
        let mut out = Rejects::default();
        let Ok(mut r) = csv::Reader::from_path(run_dir.join("rejects.csv")) else {
            return out;
        };
        for row in r.records().flatten() {
            let get = |i: usize| row.get(i).unwrap_or_default().to_string();
            if get(3) == "duplicate" {
                out.duplicates += 1;
            } else {
                out.rejected += 1;
            }
            if out.first.len() < REJECT_EXAMPLES {
                let file = get(0);
                // The file's name only: the server's own paths are nobody's business.
                let name = Path::new(&file)
                    .file_name()
                    .map_or(file.clone(), |n| n.to_string_lossy().into_owned());
                out.first.push(RejectRow {
                    file: name,
                    row: get(1),
                    column: get(2),
                    kind: get(3),
                    reason: crate::mask::mask_text(&get(5)),
                });
            }
        }
        out
    }
}

/// Everything the pages read, from one complete run.
pub struct Snapshot {
    /// Counts loads since the server started (caches key on it).
    pub generation: u64,
    pub stamps: Stamps,
    pub loaded_at: chrono::DateTime<chrono::Local>,
    pub run: Option<RunInfo>,
    pub rejects: Rejects,
    /// The store, sorted by id.
    pub records: Vec<Record>,
    pub groups: std::sync::Arc<Groups>,
    /// Per record, its group's position in `groups.groups` (`u32::MAX`: none).
    member_group: Vec<u32>,
    group_at: HashMap<String, usize>,
    /// Per group (as in `groups.groups`), its members' positions, oldest first: a group page
    /// of the largest group (21,000 members at 1M petitions) then reads 100 of them, instead of
    /// looking up and sorting all on every request.
    by_date: Vec<Vec<u32>>,
    /// Petitioner → record positions, oldest first.
    by_petitioner: HashMap<String, Vec<u32>>,
    pub index: Option<IndexHandle>,
    pub setup: Option<BriefSetup>,
    /// First and last day received.
    pub span: Option<(NaiveDate, NaiveDate)>,
}

impl Snapshot {
    /// Loads the folder's outputs (a folder without a run gives an empty snapshot, so the server
    /// can start before the first run and switch when it finishes).
    pub fn load(run_dir: &Path, generation: u64) -> Result<Snapshot> {
        let stamps = stamps(run_dir);
        let mut records = if crate::store::path(run_dir).exists() {
            // The contents, replies and source rows wait in an unnamed file in the run folder
            // (each piece keeps its part of it, and gives its disk back when the snapshot
            // goes), read through its mapping as pages are shown; on the heap where the folder
            // takes no file.
            match crate::textfile::TextFile::create_in(run_dir) {
                Ok(texts) => crate::store::read_whole_to(run_dir, &texts)?,
                Err(_) => crate::store::read(run_dir)?,
            }
        } else {
            Vec::new()
        };
        if !records.is_sorted_by(|a, b| a.id <= b.id) {
            records.sort_by(|a, b| a.id.cmp(&b.id));
        }
        let groups = if run_dir.join("groups/groups.json").exists() {
            crate::cluster::read(&run_dir.join("groups"))?
        } else {
            Groups::default()
        };
        let group_at: HashMap<String, usize> = groups
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id.clone(), i))
            .collect();
        let mut member_group = vec![u32::MAX; records.len()];
        for m in &groups.members {
            if m.group_id == UNCLUSTERED {
                continue;
            }
            if let (Ok(i), Some(&g)) = (
                records.binary_search_by(|r| r.id.as_str().cmp(&m.id)),
                group_at.get(m.group_id.as_str()),
            ) {
                member_group[i] = g as u32;
            }
        }
        let mut by_date: Vec<Vec<u32>> = vec![Vec::new(); groups.groups.len()];
        for (i, &g) in member_group.iter().enumerate() {
            if g != u32::MAX {
                by_date[g as usize].push(i as u32);
            }
        }
        for v in &mut by_date {
            v.sort_by_key(|&i| (records[i as usize].received_at, i));
        }
        let mut by_petitioner: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            if let Some(p) = r.petitioner.as_deref().filter(|p| !p.trim().is_empty()) {
                by_petitioner
                    .entry(p.to_string())
                    .or_default()
                    .push(i as u32);
            }
        }
        for v in by_petitioner.values_mut() {
            v.sort_by_key(|&i| (records[i as usize].received_at, i));
        }
        let index_dir = run_dir.join("index");
        let index = if crate::index::exists(&index_dir) {
            Some(IndexHandle::open(&index_dir)?)
        } else {
            None
        };
        let span = records.iter().map(|r| r.received_at.date()).fold(
            None,
            |acc: Option<(NaiveDate, NaiveDate)>, d| {
                Some(acc.map_or((d, d), |(lo, hi)| (lo.min(d), hi.max(d))))
            },
        );
        Ok(Snapshot {
            generation,
            stamps,
            loaded_at: chrono::Local::now(),
            run: RunInfo::read(run_dir),
            rejects: Rejects::read(run_dir),
            records,
            groups: std::sync::Arc::new(groups),
            member_group,
            group_at,
            by_date,
            by_petitioner,
            index,
            setup: crate::run_log::read(run_dir).ok().map(|r| r.brief),
            span,
        })
    }

    /// A petition's position in `records`.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.records
            .binary_search_by(|r| r.id.as_str().cmp(id))
            .ok()
    }

    pub fn record(&self, id: &str) -> Option<&Record> {
        self.position(id).map(|i| &self.records[i])
    }

    /// The case group of the record at `pos`.
    pub fn group_of(&self, pos: usize) -> Option<&Group> {
        match self.member_group.get(pos) {
            Some(&g) if g != u32::MAX => self.groups.groups.get(g as usize),
            _ => None,
        }
    }

    pub fn group(&self, id: &str) -> Option<&Group> {
        self.group_at.get(id).map(|&i| &self.groups.groups[i])
    }

    /// A group's members (positions in `records`), oldest first.
    pub fn members_by_date(&self, id: &str) -> &[u32] {
        self.group_at
            .get(id)
            .and_then(|&i| self.by_date.get(i))
            .map_or(&[], |v| v.as_slice())
    }

    /// The same petitioner's petitions (positions, oldest first).
    pub fn by_petitioner(&self, petitioner: &str) -> &[u32] {
        self.by_petitioner
            .get(petitioner)
            .map_or(&[], |v| v.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_in_progress_while_its_outputs_are_newer_than_run_json_or_half_written() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path();
        std::fs::create_dir_all(run.join("store")).unwrap();
        std::fs::write(run.join("store/petitions.parquet"), b"old").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(run.join("run.json"), b"{}").unwrap();
        assert!(!run_in_progress(run));
        let before = stamps(run);
        // A run has written its store, not yet its run.json.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(run.join("store/petitions.parquet"), b"new").unwrap();
        assert!(run_in_progress(run));
        assert_ne!(stamps(run), before);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(run.join("run.json"), b"{}").unwrap();
        assert!(!run_in_progress(run));
        // A file being written under a temporary name.
        std::fs::write(run.join("store/.minqing-tmp-abc"), b"").unwrap();
        assert!(run_in_progress(run));
    }

    #[test]
    fn an_empty_folder_loads_as_an_empty_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let s = Snapshot::load(dir.path(), 1).unwrap();
        assert!(s.records.is_empty() && s.index.is_none() && s.run.is_none());
        assert!(s.record("x").is_none() && s.group("G0001").is_none());
    }
}
