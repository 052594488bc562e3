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
}

fn exe() -> minqing::Result<PathBuf> {
    std::env::current_exe().map_err(minqing::Error::io("locate", "minqing"))
}

fn child(args: &[&str]) -> minqing::Result<()> {
    let out = Command::new(exe()?)
        .args(args)
        .output()
        .map_err(minqing::Error::io("run", "minqing"))?;
    if !out.status.success() {
        return Err(minqing::Error::Usage(format!(
            "`minqing {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

pub fn bench(a: BenchArgs, term: &Term) -> minqing::Result<()> {
    std::fs::create_dir_all(&a.work).map_err(minqing::Error::io("create", &a.work))?;
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
        term.note("floor: read + one jieba pass on all cores …");
        let floor = minqing::bench::floor(&corpus)?;
        let out = a.work.join(format!("run-{n}"));
        // A full run means one from nothing: a previous bench's index and groups in the folder
        // would make the run incremental (an unchanged index is a no-op) and the figures wrong.
        if out.exists() {
            if !out.join("run.json").is_file() {
                return Err(minqing::Error::Usage(format!(
                    "`{}` is not a run folder of an earlier bench; move it away or choose another --work",
                    out.display()
                )));
            }
            std::fs::remove_dir_all(&out).map_err(minqing::Error::io("remove", &out))?;
        }
        term.note("full run …");
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
        let run: serde_json::Value = serde_json::from_slice(
            &std::fs::read(out.join("run.json"))
                .map_err(minqing::Error::io("read", out.join("run.json")))?,
        )?;
        let mut stages: Vec<(String, f64)> = run["stage_seconds"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(0.0)))
                    .collect()
            })
            .unwrap_or_default();
        stages.push(("whole run (process)".into(), wall));
        let sizes: Vec<(String, u64)> = ["store", "index", "groups", "charts"]
            .iter()
            .map(|d| (d.to_string(), dir_size(&out.join(d))))
            .collect();
        results.push(serde_json::json!({
            "rows": n,
            "corpus_bytes": bytes,
            "generate_seconds": generate_seconds,
            "floor": floor,
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
                "floor: {:.2} s (read {:.2} s + segment {:.2} s, {} tokens)",
                floor.seconds,
                floor.read_seconds,
                floor.segment_seconds,
                thousands(floor.tokens)
            );
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
