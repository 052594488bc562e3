//! `minqing run` end to end: the same input in any row order gives byte-identical outputs
//! (everything but run.json, which holds timings, and the index, whose segment files carry
//! random ids but whose search results are compared instead).

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::*;

/// Every output file under `dir` except run.json and index/, by relative path.
fn outputs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if rel == "run.json" || rel.starts_with("index") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Writes the rows of `src` to `dst` in a shuffled (but fixed) order.
fn shuffle_csv(src: &Path, dst: &Path) {
    let mut r = csv::Reader::from_path(src).unwrap();
    let headers = r.headers().unwrap().clone();
    let mut rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    // A fixed permutation: reverse, then interleave halves.
    rows.reverse();
    let half = rows.len() / 2;
    let (a, b) = rows.split_at(half);
    let mut mixed = Vec::with_capacity(rows.len());
    for i in 0..half.max(b.len()) {
        if let Some(x) = b.get(i) {
            mixed.push(x.clone());
        }
        if let Some(x) = a.get(i) {
            mixed.push(x.clone());
        }
    }
    let mut w = csv::Writer::from_path(dst).unwrap();
    w.write_record(&headers).unwrap();
    for row in mixed {
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
}

#[test]
fn shuffled_input_gives_identical_outputs() {
    let dir = tempfile::tempdir().unwrap();
    // The same file name in two folders: the brief's method note names the input file.
    std::fs::create_dir_all(dir.path().join("x")).unwrap();
    std::fs::create_dir_all(dir.path().join("y")).unwrap();
    let a = dir.path().join("x/petitions.csv");
    let b = dir.path().join("y/petitions.csv");
    sample(&a, "600", "11");
    shuffle_csv(&a, &b);
    let go = |input: &Path, out: &Path| {
        let o = run(&[
            "-q",
            "run",
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o).trim(), out.to_str().unwrap());
    };
    let (oa, ob) = (dir.path().join("oa"), dir.path().join("ob"));
    go(&a, &oa);
    go(&b, &ob);
    let (fa, fb) = (outputs(&oa), outputs(&ob));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (k, v) in &fa {
        if k.ends_with("petitions.parquet") || k == "rejects.csv" {
            // `source` names the input file and row, which differ between a.csv and b.csv;
            // compare the records without it.
            continue;
        }
        assert!(v == &fb[k], "{k} differs between row orders");
    }
    let strip = |d: &Path| {
        minqing::store::read(d)
            .unwrap()
            .into_iter()
            .map(|mut r| {
                r.cold_mut().source = Default::default();
                r
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&oa), strip(&ob));
    // The same search over both indexes gives the same hits.
    let tok = minqing::tokenize::Tokenizer::new(&Default::default()).unwrap();
    let q = minqing::index::SearchRequest::new("小区");
    let ha = minqing::index::search(&oa.join("index"), &q, &tok).unwrap();
    let hb = minqing::index::search(&ob.join("index"), &q, &tok).unwrap();
    assert_eq!(ha.total, hb.total);
    let ids =
        |h: &minqing::index::SearchResults| h.hits.iter().map(|x| x.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&ha), ids(&hb));

    // Running again on the same input changes nothing.
    let before = outputs(&oa);
    go(&a, &oa);
    assert_eq!(before, outputs(&oa));
    assert_eq!(run_json(&oa).counts.unchanged, 600);
}

#[test]
fn run_without_pipeline_outside_the_repo_explains_itself() {
    let dir = tempfile::tempdir().unwrap();
    let o = minqing()
        .arg("run")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("pipelines/sample.toml"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unknown_pipeline_key_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(
        &p,
        "name = \"x\"\n[[source]]\npath = \"a.csv\"\nencodng = \"gbk\"\n",
    )
    .unwrap();
    let o = run(&["run", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("p.toml") && e.contains("encodng"), "{e}");
}

/// A mistyped value in a pipeline file stops the run before anything is read or written, with
/// one line naming the file, the line and key, and the values accepted (golden:
/// `tests/fixtures/errors/pipeline_typo.txt`).
#[test]
fn pipeline_typo_names_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("typo.toml"),
        "name = \"x\"\n\n[[source]]\npath = \"a.csv\"\nformat = \"xslx\"\n",
    )
    .unwrap();
    let o = minqing()
        .args(["run", "typo.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let golden =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/errors/pipeline_typo.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, stderr(&o)).unwrap();
    }
    assert_eq!(
        stderr(&o),
        std::fs::read_to_string(&golden).unwrap(),
        "UPDATE_GOLDEN=1 to refresh"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "wrote something"
    );
}

/// data/sample is exactly what the documented command produces.
#[test]
fn bundled_sample_is_regenerated_exactly() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["csv", "xlsx"] {
        let p = dir.path().join(format!("petitions.{ext}"));
        sample(&p, "5000", "20191229");
        let bundled =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("data/sample/petitions.{ext}"));
        assert!(
            std::fs::read(&p).unwrap() == std::fs::read(&bundled).unwrap(),
            "data/sample/petitions.{ext} is stale: regenerate it (see data/README.md)"
        );
    }
}

/// A JSON array of numbers.
fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// `minqing -q bench --rows 400 --work WORK EXTRA…` (a small corpus: the plumbing, not the speed).
fn bench400(work: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["-q", "bench", "--rows", "400", "--work", work];
    args.extend_from_slice(extra);
    run(&args)
}

/// `--threads 1,2` runs the whole pipeline with each thread count (the run reports the count it
/// used in run.json) and gives each stage's seconds and the speed-up over the first count.
#[test]
fn bench_times_each_thread_count() {
    let work = tempfile::tempdir().unwrap();
    let o = bench400(
        work.path().to_str().unwrap(),
        &["--json", "--threads", "1,2"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let scaling = report[0]["scaling"].as_array().unwrap();
    let threads: Vec<u64> = scaling
        .iter()
        .map(|t| t["threads"].as_u64().unwrap())
        .collect();
    assert_eq!(threads, vec![1, 2], "{report}");
    assert_eq!(scaling[0]["speedup"].as_f64().unwrap(), 1.0);
    // a one-thread run is a one-core run (the store writer, the CSV reader and tantivy's
    // writers run beside the thread pool), confined with taskset where the machine has more
    let have = std::thread::available_parallelism().unwrap().get();
    if have > 1 {
        assert_eq!(scaling[0]["cores"].as_u64(), Some(1), "{report}");
        assert_eq!(scaling[0]["cores_seen"].as_u64(), Some(1), "{report}");
    }
    let two = scaling[1]["cores_seen"].as_u64().unwrap() as usize;
    assert_eq!(two, have.min(2), "{report}");
    // the cores a run kept busy (its CPU seconds over its wall seconds) are some, and never
    // more than it was given: a run confined to one core cannot use more than one
    if cfg!(target_os = "linux") {
        for (t, cores) in scaling.iter().zip([1.0, two as f64]) {
            let busy = t["busy_cores"].as_f64().unwrap();
            assert!(busy > 0.0 && busy <= cores + 0.01, "{report}");
        }
    }
    for t in scaling {
        let stages: Vec<&str> = t["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["stage"].as_str().unwrap())
            .collect();
        assert!(stages.contains(&"cluster") && stages.last() == Some(&"whole run (process)"));
        let whole = t["stages"].as_array().unwrap().last().unwrap()["seconds"]
            .as_f64()
            .unwrap();
        let first = scaling[0]["stages"].as_array().unwrap().last().unwrap()["seconds"]
            .as_f64()
            .unwrap();
        assert!((t["speedup"].as_f64().unwrap() - first / whole).abs() < 1e-9);
    }
}

/// `minqing bench` measures a run from nothing every time: a second bench in the same work folder
/// must index and group everything again, not find the first bench's index up to date.
#[test]
fn bench_reruns_from_an_empty_run_folder() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path().to_str().unwrap();
    for _ in 0..2 {
        let o = bench400(w, &["--json", "--repeat", "3"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        // the floor is the median of three passes
        let samples = floats(&report[0]["floor_samples"]);
        assert_eq!(samples.len(), 3, "{report}");
        assert!(samples.windows(2).all(|w| w[0] <= w[1]), "{samples:?}");
        assert_eq!(report[0]["floor"]["seconds"].as_f64().unwrap(), samples[1]);
        assert_eq!(report[0]["floor"]["rows"], 400);
        // three full runs, each from nothing; the whole run is their median
        let mut whole = floats(&report[0]["whole_run_samples"]);
        assert_eq!(whole.len(), 3, "{report}");
        whole.sort_by(f64::total_cmp);
        let reported = report[0]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == "whole run (process)")
            .unwrap()["seconds"]
            .as_f64()
            .unwrap();
        assert_eq!(reported, whole[1]);
        // search latency over the fixed query set, which finds something in the corpus
        let lat = &report[0]["query_latency"];
        assert!(lat["queries"].as_u64().unwrap() >= 50, "{lat}");
        assert_eq!(lat["timed"], lat["queries"].as_u64().unwrap() * 5);
        assert!(lat["p50_ms"].as_f64().unwrap() <= lat["p99_ms"].as_f64().unwrap());
        assert!(lat["hits"].as_u64().unwrap() > 0, "{lat}");
        assert!(
            report[0]["index_x_segment"].as_f64().unwrap() > 0.0,
            "{report}"
        );
        let run = run_json(&work.path().join("run-400"));
        let index = run.stages.index.expect("the index stage ran");
        assert_eq!((index.added, index.unchanged), (400, 0), "{index:?}");
    }
    // a folder the bench did not make is never deleted
    let stranger = tempfile::tempdir().unwrap();
    std::fs::create_dir(stranger.path().join("run-400")).unwrap();
    std::fs::write(stranger.path().join("run-400/notes.txt"), "mine").unwrap();
    let o = bench400(stranger.path().to_str().unwrap(), &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a run folder"), "{}", stderr(&o));
    assert!(stranger.path().join("run-400/notes.txt").is_file());
}

/// Writes an executable stand-in for Python: `sh` running `body` with the peer's arguments
/// (`peer.py CORPUS WORK DICT`).
#[cfg(unix)]
fn fake_python(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\nset -e\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// `minqing bench --peer` runs the peer on the same corpus and reports minqing's speed-up per
/// stage from the peer's own timings, and both groupings scored against the truth. A stand-in
/// Python plays the peer here (the real one needs PyPI); it checks what it is given.
#[cfg(unix)]
#[test]
fn bench_puts_the_peer_side_by_side() {
    let work = tempfile::tempdir().unwrap();
    let py = fake_python(
        work.path(),
        "python",
        r#"grep -q MiniBatchKMeans "$1"
head -1 "$2" | grep -q truth_group
test -s "$4"
mkdir -p "$3"
printf '{"rows": 400, "seconds": {"ingest": 0.5, "tokenize": 1.0, "cluster": 2.0, "index": 4.0, "total": 7.5}, "peak_rss_mib": 321.0}' > "$3/peer.json"
printf 'id,group_id\n' > "$3/peer_members.csv""#,
    );
    let w = work.path().to_str().unwrap();
    let o = bench400(w, &["--json", "--peer-python", py.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let peer = &report[0]["peer"];
    let stage = |name: &str| {
        peer["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == name)
            .unwrap_or_else(|| panic!("no {name} in {peer}"))
            .clone()
    };
    let index = stage("index");
    assert_eq!(index["peer_seconds"], 4.0);
    let ours = index["minqing_seconds"].as_f64().unwrap();
    assert!(ours > 0.0);
    assert!((index["minqing_faster"].as_f64().unwrap() - 4.0 / ours).abs() < 1e-9);
    assert_eq!(stage("segment + group")["peer_seconds"], 3.0);
    assert!(stage("whole (process)")["peer_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(peer["peer_peak_rss_mib"], 321.0);
    // a peer that groups nothing has perfect B-cubed precision, and the recall of the petitions
    // that belong to no case (the generator's truth scores them too); its F1 is theirs. (Whether
    // minqing's B-cubed beats grouping nothing is a question of grouping quality, not of the
    // bench: today it does not on this truth, see `generated_truth_scores_over_seeds`.)
    let f = |k: &str| peer[k].as_f64().unwrap();
    assert_eq!(f("peer_bcubed_precision"), 1.0);
    let recall = f("peer_bcubed_recall");
    assert!(recall > 0.3 && recall < 1.0, "{peer}");
    assert!((f("peer_bcubed_f1") - 2.0 * recall / (1.0 + recall)).abs() < 1e-9);
    assert!(f("minqing_bcubed_f1") > 0.0 && f("minqing_bcubed_f1") < 1.0);
    // and finds no case at all, where minqing finds some
    assert_eq!(peer["peer_groups"]["found"], 0);
    assert!(peer["peer_groups"]["true_groups"].as_u64().unwrap() > 0);
    assert!(peer["minqing_groups"]["found"].as_u64().unwrap() > 0);
    assert_eq!(
        peer["minqing_groups"]["true_groups"],
        peer["peer_groups"]["true_groups"]
    );
    assert!(
        !work.path().join("peer-venv").exists(),
        "no install with --peer-python"
    );

    // a peer that cannot run says why, in one line
    let broken = fake_python(
        work.path(),
        "broken-python",
        "echo \"ModuleNotFoundError: No module named 'whoosh'\" >&2; exit 1",
    );
    let o = bench400(w, &["--peer-python", broken.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("the peer failed") && err.contains("whoosh"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// `minqing bench --incremental N` times the newest N rows of the corpus run onto a store of the
/// rest, against the full run: only those rows are new, the store ends with every row, and the
/// index adds exactly them.
#[test]
fn bench_times_a_weekly_incremental_run() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path().to_str().unwrap();
    let o = bench400(w, &["--json", "--incremental", "50"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let inc = &report[0]["incremental"];
    assert_eq!(inc["new_rows"], 50, "{inc}");
    assert_eq!(inc["stored_new"], 50, "{inc}");
    assert_eq!(inc["store_rows"], 400, "{inc}");
    assert_eq!(inc["index"]["added"], 50, "{inc}");
    assert!(inc["of_full_run"].as_f64().unwrap() > 0.0);
    // only the week's rows were grouped, onto the last grouping, at the full grouping's quality
    assert!(
        inc["grouping"]
            .as_str()
            .unwrap()
            .starts_with("50 new petitions grouped onto the last grouping"),
        "{inc}"
    );
    let f1 = |k: &str| inc["quality"][k].as_f64().unwrap();
    assert!(
        f1("incremental_bcubed_f1") > f1("full_bcubed_f1") - 0.05,
        "{inc}"
    );
    // `--regroup` regroups the whole store
    let inc_dir = work.path().join("inc-400");
    let o = run(&[
        "-q",
        "run",
        "--input",
        work.path()
            .join("corpus-400-newest-50.csv")
            .to_str()
            .unwrap(),
        "--out",
        inc_dir.to_str().unwrap(),
        "--regroup",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let c = run_json(&inc_dir)
        .stages
        .cluster
        .expect("the cluster stage ran");
    assert_eq!(c.mode, "full", "{c:?}");
    assert!(c.how.contains("asked for"), "{c:?}");
    // the split keeps every row once, the newest last
    let rows = |name: &str| {
        csv::Reader::from_path(work.path().join(name))
            .unwrap()
            .records()
            .map(|r| r.unwrap()[0].to_string())
            .collect::<Vec<_>>()
    };
    let all = rows("corpus-400-7.csv");
    let mut joined = rows("corpus-400-base-50.csv");
    joined.extend(rows("corpus-400-newest-50.csv"));
    assert_eq!(joined, all);
    let o = bench400(w, &["--incremental", "400"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--incremental 400"), "{}", stderr(&o));
}

/// `--stage-peaks` records each stage's peak memory in run.json, none above the run's; without
/// it run.json has none (the process's peak mark is left alone).
#[test]
fn stage_peaks_are_recorded_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("a.csv");
    sample(&input, "400", "3");
    let json = |out: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap()
    };
    let plain = dir.path().join("plain");
    let o = run_pipeline(&input, &plain, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(json(&plain).get("stage_peak_mib").is_none());
    let peaks = dir.path().join("peaks");
    let o = run_pipeline(&input, &peaks, &["--stage-peaks"]);
    assert!(o.status.success(), "{}", stderr(&o));
    if !cfg!(target_os = "linux") {
        return;
    }
    let r = json(&peaks);
    let whole = r["peak_rss_mib"].as_f64().unwrap();
    let by = r["stage_peak_mib"].as_object().expect("stage peaks");
    for stage in ["ingest", "store", "cluster", "index", "report"] {
        let v = by[stage].as_f64().unwrap();
        assert!(v > 0.0 && v <= whole + 0.1, "{stage}: {v} of {whole}");
    }
}
