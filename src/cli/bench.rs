//! `minqing bench`: the whole-run benchmark on generated corpora, against the floor.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use minqing::pipeline::thousands;

use super::Term;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Corpus sizes to run (generated with `minqing sample`, cached in the work folder).
    #[arg(long, value_delimiter = ',', default_value = "100000")]
    pub rows: Vec<usize>,
    /// Generator seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Work folder for corpora and run outputs.
    #[arg(long, default_value = "reports/bench")]
    pub work: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also run the peer, the stack an analyst would otherwise use (pandas, jieba,
    /// scikit-learn TF-IDF + k-means, whoosh), on each corpus and print minqing's speed-up per
    /// stage and both groupings' quality. On first use it is installed from PyPI into a
    /// virtualenv in the work folder.
    #[arg(long)]
    pub peer: bool,
    /// Run the peer with this Python (which must have pandas, pyarrow, jieba, scikit-learn and
    /// whoosh) instead of the virtualenv, e.g. on a machine without PyPI access. Implies --peer.
    #[arg(long, value_name = "PYTHON")]
    pub peer_python: Option<PathBuf>,
    /// Also time a weekly incremental run: the corpus's newest N rows (the corpus is in time
    /// order) run onto a store already holding the rest, re-indexing, re-grouping with stable
    /// ids and rendering the brief; reported against the full run.
    #[arg(long, value_name = "N")]
    pub incremental: Option<usize>,
    /// Full runs per corpus; each stage and the whole run are reported as the median.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: usize,
    /// Instead: load `minqing serve` over each corpus's run folder with concurrent signed-in
    /// sessions (src/cli/serve_bench.rs).
    #[arg(long)]
    pub serve: bool,
    /// Concurrent sessions of --serve.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub sessions: usize,
    /// Seconds of load of --serve.
    #[arg(long, default_value_t = 30.0, value_name = "S")]
    pub seconds: f64,
    /// Mean pause of a --serve session between pages (a person reading), in ms; 0 = back to
    /// back.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    pub think_ms: u64,
}

/// Per stage, the median over the runs (each run lists the same stages in the same order; the
/// lower middle for an even count).
fn medians(samples: &[Vec<(String, f64)>]) -> Vec<(String, f64)> {
    let Some(first) = samples.first() else {
        return Vec::new();
    };
    first
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let mut v: Vec<f64> = samples
                .iter()
                .filter_map(|s| s.get(i).map(|x| x.1))
                .collect();
            v.sort_by(f64::total_cmp);
            (name.clone(), v[(v.len() - 1) / 2])
        })
        .collect()
}

/// The fixed query set of the search-latency benchmark (also read by the real-data index test).
const QUERIES: &str = include_str!("../../bench/queries.txt");
/// Timed rounds over the query set (after one untimed round that warms the caches).
const QUERY_ROUNDS: usize = 5;

/// Search latency on a run's index: every query of [`QUERIES`] as `minqing search` runs it (first
/// 20 hits with snippets, and the total count), [`QUERY_ROUNDS`] times.
fn query_latency(index_dir: &std::path::Path) -> minqing::Result<serde_json::Value> {
    let queries: Vec<&str> = QUERIES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    let tok = minqing::tokenize::Tokenizer::new(&Default::default())?;
    let handle = minqing::index::IndexHandle::open(index_dir)?;
    let mut ms: Vec<f64> = Vec::new();
    let mut hits = 0u64;
    for round in 0..=QUERY_ROUNDS {
        for q in &queries {
            let req = minqing::index::SearchRequest::new(*q);
            let t = Instant::now();
            let r = handle.search(&req, &tok)?;
            if round > 0 {
                ms.push(t.elapsed().as_secs_f64() * 1e3);
            } else {
                hits += r.total;
            }
        }
    }
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    Ok(serde_json::json!({
        "queries": queries.len(),
        "timed": ms.len(),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": ms.last().copied().unwrap_or(0.0),
        "hits": hits,
    }))
}

/// Floor passes per corpus; the median is the floor.
const FLOOR_PASSES: usize = 3;

/// The peer's script, built in so `minqing bench --peer` works outside the repository.
const PEER_PY: &str = include_str!("../../bench/peer/peer.py");
/// What the peer's virtualenv gets from PyPI.
const PEER_PACKAGES: &[&str] = &["pandas", "pyarrow", "jieba", "scikit-learn", "whoosh"];
/// Written into the virtualenv once the packages installed, so a half-finished install is
/// redone rather than used.
const PEER_READY: &str = ".minqing-peer-ready";

/// Runs `program args…` to its end, failing with the command line and the last lines it printed
/// on stderr; `hint` follows the error when the program cannot be started at all.
fn checked(
    program: &std::path::Path,
    args: &[&std::ffi::OsStr],
    hint: &str,
) -> minqing::Result<()> {
    let out = Command::new(program).args(args).output().map_err(|e| {
        minqing::Error::Usage(format!("cannot run `{}` ({e}){hint}", program.display()))
    })?;
    if !out.status.success() {
        return Err(minqing::Error::Usage(format!(
            "`{} {}` failed: {}",
            program.display(),
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            tail(&out.stderr)
        )));
    }
    Ok(())
}

/// What to do when the peer's set-up tools are missing.
const PYTHON_HINT: &str =
    " for the peer benchmark; install Python 3 with venv, or pass --peer-python";

/// The last lines of a child's error output, on one line.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

/// The Python that runs the peer: `--peer-python`, else the work folder's virtualenv (created
/// and filled from PyPI the first time).
fn peer_python(a: &BenchArgs, term: &Term) -> minqing::Result<PathBuf> {
    if let Some(p) = &a.peer_python {
        return Ok(p.clone());
    }
    let venv = a.work.join("peer-venv");
    let python = venv.join("bin").join("python");
    if !venv.join(PEER_READY).is_file() {
        term.note("installing the peer (pandas, jieba, scikit-learn, whoosh) from PyPI …");
        checked(
            std::path::Path::new("python3"),
            &["-m".as_ref(), "venv".as_ref(), venv.as_os_str()],
            PYTHON_HINT,
        )?;
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "-m".as_ref(),
            "pip".as_ref(),
            "install".as_ref(),
            "--quiet".as_ref(),
        ];
        args.extend(PEER_PACKAGES.iter().map(std::ffi::OsStr::new));
        checked(&python, &args, PYTHON_HINT)?;
        std::fs::write(venv.join(PEER_READY), PEER_PACKAGES.join("\n"))
            .map_err(minqing::Error::io("write", venv.join(PEER_READY)))?;
    }
    Ok(python)
}

/// The peer on one corpus, beside minqing's run of it in `run_dir`.
fn peer_run(
    python: &std::path::Path,
    work: &std::path::Path,
    corpus: &std::path::Path,
    n: usize,
    run_dir: &std::path::Path,
    minqing_stages: &[(String, f64)],
) -> minqing::Result<serde_json::Value> {
    let script = work.join("peer.py");
    std::fs::write(&script, PEER_PY).map_err(minqing::Error::io("write", &script))?;
    let dict = work.join("petition.dict");
    std::fs::write(&dict, minqing::tokenize::BUNDLED_DICT)
        .map_err(minqing::Error::io("write", &dict))?;
    let out_dir = work.join(format!("peer-{n}"));
    let t = Instant::now();
    let out = Command::new(python)
        .arg(&script)
        .arg(corpus)
        .arg(&out_dir)
        .arg(&dict)
        .output()
        .map_err(minqing::Error::io("run", python))?;
    let wall = t.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(minqing::Error::Usage(format!(
            "the peer failed on `{}`: {}",
            corpus.display(),
            tail(&out.stderr)
        )));
    }
    let report = out_dir.join("peer.json");
    let peer: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&report).map_err(minqing::Error::io("read", &report))?,
    )?;
    let secs = |k: &str| peer["seconds"][k].as_f64().unwrap_or(0.0);
    let ours = |ks: &[&str]| -> f64 {
        minqing_stages
            .iter()
            .filter(|(k, _)| ks.contains(&k.as_str()))
            .map(|(_, v)| v)
            .sum()
    };
    // Both groupings scored by the same scorer against the generator's truth.
    let records = minqing::store::read(run_dir)?;
    let truth = "truth_group";
    let theirs = minqing::cluster::eval(
        &records,
        &super::analyse::members_csv(&out_dir.join("peer_members.csv"))?,
        truth,
    )?;
    let mine = minqing::cluster::eval(
        &records,
        &minqing::cluster::read(&run_dir.join("groups"))?,
        truth,
    )?;
    let rows = [
        ("load + clean", secs("ingest"), ours(&["ingest", "store"])),
        (
            "segment + group",
            secs("tokenize") + secs("cluster"),
            ours(&["cluster"]),
        ),
        ("index", secs("index"), ours(&["index"])),
        ("whole (process)", wall, ours(&["whole run (process)"])),
    ];
    Ok(serde_json::json!({
        "stages": rows.iter().map(|(k, p, m)| serde_json::json!({
            "stage": k, "peer_seconds": p, "minqing_seconds": m, "minqing_faster": p / m.max(1e-9)
        })).collect::<Vec<_>>(),
        "peer_peak_rss_mib": peer["peak_rss_mib"],
        "peer_bcubed_f1": theirs.bcubed_f1,
        "minqing_bcubed_f1": mine.bcubed_f1,
        "peer_bcubed_precision": theirs.bcubed_precision,
        "peer_bcubed_recall": theirs.bcubed_recall,
    }))
}

fn exe() -> minqing::Result<PathBuf> {
    std::env::current_exe().map_err(minqing::Error::io("locate", "minqing"))
}

/// `minqing ARGS…` in a child process (a run is timed as a whole process).
fn child(args: &[&str]) -> minqing::Result<()> {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    checked(&exe()?, &args, "")
}

/// Splits `corpus` into its first rows and its last `newest` rows (two CSV files with the
/// header), once; cells are copied as they are.
fn split_corpus(
    corpus: &std::path::Path,
    newest: usize,
    base: &std::path::Path,
    new: &std::path::Path,
) -> minqing::Result<usize> {
    let bad = |e: csv::Error| minqing::Error::BadInput {
        path: corpus.to_path_buf(),
        message: e.to_string(),
    };
    let rows = {
        let mut r = csv::Reader::from_path(corpus).map_err(bad)?;
        r.byte_records().count()
    };
    if newest == 0 || newest >= rows {
        return Err(minqing::Error::Usage(format!(
            "--incremental {newest} must be between 1 and the corpus's {rows} rows minus one"
        )));
    }
    let mut r = csv::Reader::from_path(corpus).map_err(bad)?;
    let header = r.byte_headers().map_err(bad)?.clone();
    let write = |path: &std::path::Path, rows: &mut dyn Iterator<Item = csv::ByteRecord>| {
        minqing::fsutil::write_atomic_with(path, |f| {
            let mut w = csv::Writer::from_writer(f);
            w.write_byte_record(&header)?;
            for row in rows {
                w.write_byte_record(&row)?;
            }
            w.flush()?;
            Ok(())
        })
    };
    let mut records = r.byte_records().map_while(|x| x.ok());
    write(base, &mut records.by_ref().take(rows - newest))?;
    write(new, &mut records)?;
    Ok(rows)
}

/// The stages and figures a run folder's `run.json` reports.
fn stage_seconds(run: &serde_json::Value) -> Vec<(String, f64)> {
    run["stage_seconds"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(0.0)))
                .collect()
        })
        .unwrap_or_default()
}

fn read_run(out: &std::path::Path) -> minqing::Result<serde_json::Value> {
    Ok(serde_json::from_slice(
        &std::fs::read(out.join("run.json"))
            .map_err(minqing::Error::io("read", out.join("run.json")))?,
    )?)
}

/// Removes a run folder an earlier bench made; refuses any other folder.
fn clear_run_folder(out: &std::path::Path) -> minqing::Result<()> {
    if out.exists() {
        if !out.join("run.json").is_file() {
            return Err(minqing::Error::Usage(format!(
                "`{}` is not a run folder of an earlier bench; move it away or choose another --work",
                out.display()
            )));
        }
        std::fs::remove_dir_all(out).map_err(minqing::Error::io("remove", out))?;
    }
    Ok(())
}

/// The weekly incremental run on corpus `n`: the rest first (untimed), then the newest rows.
fn incremental_run(
    work: &std::path::Path,
    corpus: &std::path::Path,
    n: usize,
    newest: usize,
    full_wall: f64,
    term: &Term,
) -> minqing::Result<serde_json::Value> {
    let base = work.join(format!("corpus-{n}-base-{newest}.csv"));
    let new = work.join(format!("corpus-{n}-newest-{newest}.csv"));
    if !(base.is_file() && new.is_file()) {
        split_corpus(corpus, newest, &base, &new)?;
    }
    let out = work.join(format!("inc-{n}"));
    clear_run_folder(&out)?;
    term.note("incremental: the store before the week …");
    let path = |p: &std::path::Path| p.to_str().unwrap_or_default().to_string();
    child(&["-q", "run", "--input", &path(&base), "--out", &path(&out)])?;
    term.note("incremental: the week's rows …");
    let t = Instant::now();
    child(&["-q", "run", "--input", &path(&new), "--out", &path(&out)])?;
    let wall = t.elapsed().as_secs_f64();
    let run = read_run(&out)?;
    // The incremental grouping against a full grouping of the same store, on the generator's
    // truth: what grouping only the week's rows costs in quality.
    let records = minqing::store::read(&out)?;
    let score = |dir: &std::path::Path| -> minqing::Result<f64> {
        let groups = minqing::cluster::read(&dir.join("groups"))?;
        Ok(minqing::cluster::eval(&records, &groups, "truth_group")?.bcubed_f1)
    };
    let quality = serde_json::json!({
        "incremental_bcubed_f1": score(&out)?,
        "full_bcubed_f1": score(&work.join(format!("run-{n}")))?,
    });
    Ok(serde_json::json!({
        "grouping": run["stages"]["cluster"]["how"],
        "quality": quality,
        "new_rows": newest,
        "store_rows": run["counts"]["store_total"],
        "stored_new": run["counts"]["new"],
        "seconds": wall,
        "of_full_run": wall / full_wall.max(1e-9),
        "stages": stage_seconds(&run).into_iter().map(|(k, v)| serde_json::json!({"stage": k, "seconds": v})).collect::<Vec<_>>(),
        "index": run["stages"]["index"],
        "peak_rss_mib": run["peak_rss_mib"],
    }))
}

pub fn bench(a: BenchArgs, term: &Term) -> minqing::Result<()> {
    if a.serve {
        return super::serve_bench::bench(
            super::serve_bench::Load {
                work: &a.work,
                rows: &a.rows,
                seed: a.seed,
                sessions: a.sessions,
                seconds: a.seconds,
                think_ms: a.think_ms,
                json: a.json,
            },
            term,
        );
    }
    std::fs::create_dir_all(&a.work).map_err(minqing::Error::io("create", &a.work))?;
    // Set up before the first run, so a missing Python fails fast.
    let python = if a.peer || a.peer_python.is_some() {
        Some(peer_python(&a, term)?)
    } else {
        None
    };
    let mut results = Vec::new();
    for &n in &a.rows {
        let corpus = a.work.join(format!("corpus-{n}-{}.csv", a.seed));
        let mut generate_seconds = None;
        if !corpus.exists() {
            term.note(format!("generating {} rows …", thousands(n as u64)));
            let t = Instant::now();
            child(&[
                "-q",
                "sample",
                "--rows",
                &n.to_string(),
                "--seed",
                &a.seed.to_string(),
                "--out",
                corpus.to_str().unwrap_or_default(),
            ])?;
            generate_seconds = Some(t.elapsed().as_secs_f64());
        }
        let bytes = std::fs::metadata(&corpus).map(|m| m.len()).unwrap_or(0);
        term.note("floor: read + one jieba pass on all cores (median of 3) …");
        // The median of three: a single pass swings with the page cache (on a machine that
        // drops it, reading alone varied 1.4–3.2 s at 1M rows), and every ratio divides by it.
        let mut floors = (0..FLOOR_PASSES)
            .map(|_| minqing::bench::floor(&corpus))
            .collect::<minqing::Result<Vec<_>>>()?;
        floors.sort_by(|x, y| x.seconds.total_cmp(&y.seconds));
        let floor_samples: Vec<f64> = floors.iter().map(|f| f.seconds).collect();
        let floor = floors.swap_remove(FLOOR_PASSES / 2);
        let out = a.work.join(format!("run-{n}"));
        // Each full run starts from nothing: a previous run's index and groups in the folder
        // would make it incremental (an unchanged index is a no-op) and the figures wrong.
        let mut samples: Vec<Vec<(String, f64)>> = Vec::new();
        let mut run = serde_json::Value::Null;
        for i in 0..a.repeat.max(1) {
            clear_run_folder(&out)?;
            term.note(format!("full run {}/{} …", i + 1, a.repeat.max(1)));
            let t = Instant::now();
            child(&[
                "-q",
                "run",
                "--input",
                corpus.to_str().unwrap_or_default(),
                "--out",
                out.to_str().unwrap_or_default(),
            ])?;
            let wall = t.elapsed().as_secs_f64();
            run = read_run(&out)?;
            let mut stages = stage_seconds(&run);
            stages.push(("whole run (process)".into(), wall));
            samples.push(stages);
        }
        let stages = medians(&samples);
        let wall = stages.last().map_or(0.0, |s| s.1);
        let whole_samples: Vec<f64> = samples
            .iter()
            .filter_map(|s| s.last().map(|x| x.1))
            .collect();
        let sizes: Vec<(String, u64)> = ["store", "index", "groups", "charts"]
            .iter()
            .map(|d| (d.to_string(), dir_size(&out.join(d))))
            .collect();
        let peer = match &python {
            Some(py) => {
                term.note("peer …");
                Some(peer_run(py, &a.work, &corpus, n, &out, &stages)?)
            }
            None => None,
        };
        term.note("search latency …");
        let latency = query_latency(&out.join("index"))?;
        let incremental = match a.incremental {
            Some(k) => Some(incremental_run(&a.work, &corpus, n, k, wall, term)?),
            None => None,
        };
        results.push(serde_json::json!({
            "incremental": incremental,
            "query_latency": latency,
            "index_x_segment": stages.iter().find(|(k, _)| k == "index").map(|(_, v)| v / floor.segment_seconds.max(1e-9)),
            "peer": peer,
            "rows": n,
            "corpus_bytes": bytes,
            "generate_seconds": generate_seconds,
            "floor": floor,
            "floor_samples": floor_samples,
            "whole_run_samples": whole_samples,
            "stages": stages.iter().map(|(k, v)| serde_json::json!({
                "stage": k, "seconds": v, "x_floor": v / floor.seconds.max(1e-9),
                "rows_per_s": n as f64 / v.max(1e-9), "mb_per_s": bytes as f64 / 1e6 / v.max(1e-9)
            })).collect::<Vec<_>>(),
            "peak_rss_mib": run["peak_rss_mib"],
            "output_bytes": sizes.iter().map(|(k, v)| (k.clone(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
        }));
        if !a.json {
            println!(
                "## {} rows ({:.1} MB)",
                thousands(n as u64),
                bytes as f64 / 1e6
            );
            if let Some(g) = generate_seconds {
                println!("generator: {g:.1} s");
            }
            println!(
                "floor: {:.2} s (read {:.2} s + segment {:.2} s, {} tokens; median of {})",
                floor.seconds,
                floor.read_seconds,
                floor.segment_seconds,
                thousands(floor.tokens),
                floor_samples
                    .iter()
                    .map(|x| format!("{x:.2}"))
                    .collect::<Vec<_>>()
                    .join(" / ")
            );
            if whole_samples.len() > 1 {
                println!(
                    "median of {} full runs (whole: {} s)",
                    whole_samples.len(),
                    whole_samples
                        .iter()
                        .map(|x| format!("{x:.2}"))
                        .collect::<Vec<_>>()
                        .join(" / ")
                );
            }
            println!(
                "{:<22} {:>9} {:>8} {:>11} {:>8}",
                "stage", "seconds", "×floor", "rows/s", "MB/s"
            );
            for (k, v) in &stages {
                println!(
                    "{:<22} {:>9.2} {:>8.2} {:>11} {:>8.1}",
                    k,
                    v,
                    v / floor.seconds.max(1e-9),
                    thousands((n as f64 / v.max(1e-9)) as u64),
                    bytes as f64 / 1e6 / v.max(1e-9)
                );
            }
            println!("peak memory: {} MiB", run["peak_rss_mib"]);
            for (k, v) in &sizes {
                println!("{k}/: {:.1} MB", *v as f64 / 1e6);
            }
            if let Some((_, ix)) = stages.iter().find(|(k, _)| k == "index") {
                println!(
                    "index: {:.1}× the bare jieba pass alone (segment {:.2} s, same text, same cores)",
                    ix / floor.segment_seconds.max(1e-9),
                    floor.segment_seconds
                );
            }
            println!(
                "search: {} queries × {} rounds (20 hits with snippets + total), p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                latency["queries"],
                QUERY_ROUNDS,
                latency["p50_ms"].as_f64().unwrap_or(0.0),
                latency["p99_ms"].as_f64().unwrap_or(0.0),
                latency["max_ms"].as_f64().unwrap_or(0.0)
            );
            if let Some(inc) = &incremental {
                println!(
                    "weekly incremental ({} newest rows onto the other {}): {:.2} s = {:.0}% of the full run",
                    thousands(inc["new_rows"].as_u64().unwrap_or(0)),
                    thousands(n.saturating_sub(inc["new_rows"].as_u64().unwrap_or(0) as usize) as u64),
                    inc["seconds"].as_f64().unwrap_or(0.0),
                    100.0 * inc["of_full_run"].as_f64().unwrap_or(0.0)
                );
                println!(
                    "  grouping: {}; B-cubed F1 {:.3} (a full grouping of the same rows: {:.3})",
                    inc["grouping"].as_str().unwrap_or("?"),
                    inc["quality"]["incremental_bcubed_f1"]
                        .as_f64()
                        .unwrap_or(0.0),
                    inc["quality"]["full_bcubed_f1"].as_f64().unwrap_or(0.0)
                );
                let parts: Vec<String> = inc["stages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| {
                        format!(
                            "{} {:.2}",
                            s["stage"].as_str().unwrap_or_default(),
                            s["seconds"].as_f64().unwrap_or(0.0)
                        )
                    })
                    .collect();
                println!("  stages (s): {}", parts.join(", "));
            }
            if let Some(p) = &peer {
                println!("peer (pandas + jieba + scikit-learn + whoosh), same corpus:");
                println!(
                    "{:<22} {:>9} {:>10} {:>15}",
                    "stage", "peer s", "minqing s", "minqing faster"
                );
                for r in p["stages"].as_array().into_iter().flatten() {
                    println!(
                        "{:<22} {:>9.2} {:>10.2} {:>14.1}×",
                        r["stage"].as_str().unwrap_or_default(),
                        r["peer_seconds"].as_f64().unwrap_or(0.0),
                        r["minqing_seconds"].as_f64().unwrap_or(0.0),
                        r["minqing_faster"].as_f64().unwrap_or(0.0)
                    );
                }
                println!(
                    "peak memory: peer {:.0} MiB, minqing {} MiB",
                    p["peer_peak_rss_mib"].as_f64().unwrap_or(0.0),
                    run["peak_rss_mib"]
                );
                println!(
                    "B-cubed F1 against the generator's truth: peer {:.3}, minqing {:.3}",
                    p["peer_bcubed_f1"].as_f64().unwrap_or(0.0),
                    p["minqing_bcubed_f1"].as_f64().unwrap_or(0.0)
                );
            }
            println!();
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    Ok(())
}

fn dir_size(p: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                dir_size(&p)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_per_stage() {
        let run = |a: f64, b: f64| vec![("cluster".to_string(), a), ("index".to_string(), b)];
        let m = medians(&[run(3.0, 1.0), run(1.0, 5.0), run(2.0, 4.0)]);
        assert_eq!(m, vec![("cluster".into(), 2.0), ("index".into(), 4.0)]);
        // an even count takes the lower middle, a single run itself
        assert_eq!(medians(&[run(3.0, 1.0), run(1.0, 5.0)])[0].1, 1.0);
        assert_eq!(medians(&[run(7.0, 8.0)]), run(7.0, 8.0));
        assert!(medians(&[]).is_empty());
    }
}
