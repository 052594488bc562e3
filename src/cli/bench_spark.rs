//! `minqing bench --spark MASTER`: the Spark job (`pipelines/spark/minqing_spark.py`, built into
//! the binary so the bench runs from any folder) on each corpus, timed per step, and whether its
//! groups and brief are the single-machine run's, byte for byte.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::Term;

/// The job, as shipped in `pipelines/spark/`.
const JOB: &str = include_str!("../../pipelines/spark/minqing_spark.py");

/// What one Spark run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SparkRun {
    /// The master it ran on (`local[2]`, `spark://HOST:PORT`).
    pub master: String,
    /// spark-submit, start to end (process).
    pub wall_seconds: f64,
    /// The job's own steps (`spark.json`): import, spark_start, regions, map, reduce,
    /// group_ids, index_map, index_install.
    pub seconds: BTreeMap<String, f64>,
    /// Tasks of the map.
    pub partitions: u64,
    /// Petitions whose tagging the grouping took from the map.
    pub tagged_by_map: Option<usize>,
    /// Shards of the index the job's index map built.
    pub shards: u64,
    /// groups/ (csv, json, state) and the brief byte-identical to the single-machine run's.
    pub same_groups: bool,
    pub same_brief: bool,
    /// Every query of the search benchmark, by relevance and by date with facets and weeks,
    /// answered alike (hits, scores, snippets, counts) by the sharded index and the single
    /// run's.
    pub same_search: bool,
    /// Search latency on the sharded index (fanning out), as the bench measures the single run's.
    pub latency: super::bench::Latency,
    /// With `--incremental`: the weekly run of the job onto its own earlier run folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<SparkWeekly>,
}

/// The job's weekly run: the corpus without its newest rows first (untimed), then those rows,
/// against the single machine's weekly run of the same two files (`--incremental`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SparkWeekly {
    /// spark-submit of the week's rows, start to end.
    pub wall_seconds: f64,
    pub seconds: BTreeMap<String, f64>,
    /// Petitions the map tagged: the ones the last grouping lacked.
    pub tagged_by_map: Option<usize>,
    pub shards: u64,
    /// Shards linked from the earlier run's index (row groups whose petitions and groups did
    /// not change) instead of indexed again.
    pub shards_kept: u64,
    pub same_groups: bool,
    pub same_brief: bool,
}

/// The weekly input of `--incremental`: the earlier rows, the week's rows, and the single
/// machine's run folder after both.
pub struct Week<'a> {
    pub base: &'a Path,
    pub new: &'a Path,
    pub single: &'a Path,
}

/// Whether the indexes at `a` and `b` answer every query of the bench's set alike.
fn same_search(a: &Path, b: &Path) -> minqing::Result<bool> {
    use minqing::index::{IndexHandle, SearchRequest, Sort};
    let tok = minqing::tokenize::Tokenizer::new(&Default::default())?;
    let (x, y) = (IndexHandle::open(a)?, IndexHandle::open(b)?);
    for q in super::bench::queries() {
        for sort in [Sort::Relevance, Sort::Date] {
            let mut req = SearchRequest::new(q);
            req.sort = sort;
            req.facets = true;
            req.by_week = true;
            let (rx, ry) = (x.search(&req, &tok)?, y.search(&req, &tok)?);
            if serde_json::to_string(&rx)? != serde_json::to_string(&ry)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// A Python with pyspark and pyarrow: `--spark-python`, else the one `.ci/run` installs.
pub fn python(given: Option<&Path>) -> minqing::Result<PathBuf> {
    let py = match given {
        Some(p) => p.to_path_buf(),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/minqing-spark/bin/python"),
    };
    let ok = std::process::Command::new(&py)
        .args(["-c", "import pyspark, pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        return Err(minqing::Error::Usage(format!(
            "`{}` cannot import pyspark and pyarrow: install them (`python3 -m venv V && \
             V/bin/pip install pyspark==3.5.3 pyarrow`) and pass --spark-python V/bin/python",
            py.display()
        )));
    }
    Ok(py)
}

/// What the job wrote into `spark.json`.
#[derive(Deserialize)]
struct Report {
    partitions: u64,
    #[serde(default)]
    shards: u64,
    #[serde(default)]
    shards_kept: u64,
    seconds: BTreeMap<String, f64>,
}

/// One spark-submit of the job on `input` into `out`: its wall seconds and `spark.json`.
fn submit(
    python: &Path,
    master: &str,
    job: &Path,
    input: &Path,
    out: &Path,
) -> minqing::Result<(f64, Report)> {
    let home = std::process::Command::new(python)
        .args([
            "-c",
            "import os, pyspark; print(os.path.dirname(pyspark.__file__))",
        ])
        .output()
        .map_err(minqing::Error::io("run", python))?;
    let submit =
        PathBuf::from(String::from_utf8_lossy(&home.stdout).trim()).join("bin/spark-submit");
    let exe = std::env::current_exe().map_err(minqing::Error::io("locate", "minqing"))?;
    let t = Instant::now();
    let pyspark_conf = format!("spark.pyspark.python={}", python.display());
    let args: Vec<&std::ffi::OsStr> = [
        "--master".as_ref(),
        master.as_ref(),
        "--conf".as_ref(),
        "spark.ui.enabled=false".as_ref(),
        "--conf".as_ref(),
        pyspark_conf.as_ref(),
        job.as_os_str(),
        "--minqing".as_ref(),
        exe.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--input".as_ref(),
        input.as_os_str(),
    ]
    .to_vec();
    let env = [("PYSPARK_PYTHON", python.display().to_string())];
    super::bench::checked(&submit, &args, &env, " (pyspark's spark-submit)")?;
    let wall_seconds = t.elapsed().as_secs_f64();
    let p = out.join("spark.json");
    let text = std::fs::read_to_string(&p).map_err(minqing::Error::io("read", &p))?;
    Ok((wall_seconds, serde_json::from_str(&text)?))
}

/// Whether the files `files` of run folders `a` and `b` are byte-identical.
fn same_files(a: &Path, b: &Path, files: &[&str]) -> bool {
    files
        .iter()
        .all(|f| std::fs::read(a.join(f)).ok() == std::fs::read(b.join(f)).ok())
}

const GROUP_FILES: [&str; 4] = [
    "groups/groups.csv",
    "groups/members.csv",
    "groups/groups.json",
    "groups/state.bin",
];
const BRIEF_FILES: [&str; 2] = ["brief.md", "brief.html"];

/// A run folder emptied for a new run.
fn clear(out: &Path) -> minqing::Result<()> {
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(minqing::Error::io("remove", out))?;
    }
    Ok(())
}

/// Runs the job on `corpus` into `work/spark-N/` and compares it with the run folder `single`;
/// with `week`, also its weekly run into `work/spark-inc-N/`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    python: &Path,
    master: &str,
    work: &Path,
    corpus: &Path,
    n: usize,
    single: &Path,
    week: Option<Week>,
    term: &Term,
) -> minqing::Result<SparkRun> {
    let job = work.join("minqing_spark.py");
    minqing::fsutil::write_atomic(&job, JOB.as_bytes())?;
    let out = work.join(format!("spark-{n}"));
    clear(&out)?;
    term.note(format!("Spark run on {master} …"));
    let (wall_seconds, report) = submit(python, master, &job, corpus, &out)?;
    let run = minqing::run_log::read(&out)?;
    let weekly = match week {
        Some(w) => {
            let out = work.join(format!("spark-inc-{n}"));
            clear(&out)?;
            term.note("Spark weekly run: the store before the week …");
            submit(python, master, &job, w.base, &out)?;
            term.note("Spark weekly run: the week's rows …");
            let (wall_seconds, report) = submit(python, master, &job, w.new, &out)?;
            let run = minqing::run_log::read(&out)?;
            Some(SparkWeekly {
                wall_seconds,
                seconds: report.seconds,
                tagged_by_map: run.stages.cluster.and_then(|c| c.tagged_by_map),
                shards: report.shards,
                shards_kept: report.shards_kept,
                same_groups: same_files(w.single, &out, &GROUP_FILES),
                same_brief: same_files(w.single, &out, &BRIEF_FILES),
            })
        }
        None => None,
    };
    Ok(SparkRun {
        master: master.to_string(),
        wall_seconds,
        seconds: report.seconds,
        partitions: report.partitions,
        tagged_by_map: run.stages.cluster.and_then(|c| c.tagged_by_map),
        same_groups: same_files(single, &out, &GROUP_FILES),
        same_brief: same_files(single, &out, &BRIEF_FILES),
        shards: report.shards,
        same_search: same_search(&single.join("index"), &out.join("index"))?,
        latency: super::bench::query_latency(&out.join("index"))?,
        weekly,
    })
}

/// The job's steps in the order they run, with their seconds (`spark.json`).
fn steps(seconds: &BTreeMap<String, f64>) -> String {
    const STEPS: [&str; 9] = [
        "import",
        "spark_start",
        "regions",
        "map",
        "reduce",
        // within the reduce: its grouping's object partitions, one Spark task each
        "reduce_object_tasks",
        "group_ids",
        "index_map",
        "index_install",
    ];
    let steps: Vec<String> = STEPS
        .iter()
        .filter_map(|k| seconds.get(*k).map(|v| format!("{k} {v:.1} s")))
        .collect();
    steps.join(", ")
}

/// The table lines of a Spark run.
pub fn print(s: &SparkRun, single_wall: f64) {
    println!(
        "spark ({}): {:.1} s spark-submit ({:.2}x the single-machine run), map {} tasks",
        s.master,
        s.wall_seconds,
        s.wall_seconds / single_wall.max(1e-9),
        s.partitions
    );
    println!("  steps: {}", steps(&s.seconds));
    println!(
        "  tagged by the map: {}; groups {}, brief {} the single-machine run's",
        s.tagged_by_map
            .map_or_else(|| "?".into(), |n| minqing::fmt::thousands(n as u64)),
        if s.same_groups {
            "identical to"
        } else {
            "DIFFER from"
        },
        if s.same_brief {
            "identical to"
        } else {
            "DIFFERS from"
        },
    );
    println!(
        "  index: {} shards; search {} the single-machine run's; p50 {:.2} ms, p99 {:.2} ms over {} queries",
        s.shards,
        if s.same_search {
            "answers as"
        } else {
            "answers DIFFERENTLY from"
        },
        s.latency.p50_ms,
        s.latency.p99_ms,
        s.latency.queries
    );
    if let Some(w) = &s.weekly {
        println!(
            "  weekly run: {:.1} s spark-submit ({}); tagged by the map: {}; {} of {} shards kept from the last index; groups {}, brief {} the single machine's weekly run",
            w.wall_seconds,
            steps(&w.seconds),
            w.tagged_by_map
                .map_or_else(|| "?".into(), |n| minqing::fmt::thousands(n as u64)),
            w.shards_kept,
            w.shards,
            if w.same_groups { "identical to" } else { "DIFFER from" },
            if w.same_brief { "identical to" } else { "DIFFERS from" },
        );
    }
}
