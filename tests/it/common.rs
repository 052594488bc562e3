//! Helpers: run the real binary, fixture paths, temp run folders.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The minqing binary, hermetic environment.
pub fn minqing() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_minqing"));
    cmd.env("NO_COLOR", "1").env_remove("RUST_LOG");
    cmd
}

/// Runs minqing with `args`, returning the output.
pub fn run(args: &[&str]) -> Output {
    minqing().args(args).output().expect("binary runs")
}

/// `minqing -q run --input INPUT --out OUT [extra…]`.
pub fn run_pipeline(input: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "-q",
        "run",
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `tests/fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// `../shared/realdata/<rel>` if present (tests that need it skip cleanly otherwise).
pub fn realdata(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/realdata")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} not present", p.display());
        None
    }
}

/// Reads `run.json` of a run folder, through the type minqing writes it with.
pub fn run_json(out: &Path) -> minqing::pipeline::RunReport {
    minqing::run_log::read(out).expect("a complete run.json")
}

/// Reads `rejects.csv` rows as (file, row, column, kind, id, reason).
pub fn rejects(out: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(out.join("rejects.csv")).expect("rejects.csv");
    r.records()
        .map(|x| x.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// `minqing sample --rows ROWS --seed SEED --out PATH` (a generated export with ground truth).
pub fn sample(path: &Path, rows: &str, seed: &str) {
    let o = run(&[
        "-q",
        "sample",
        "--rows",
        rows,
        "--seed",
        seed,
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A run folder of `rows` generated petitions (`minqing sample`, then `minqing run`) under `dir`.
pub fn sample_run(dir: &Path, rows: &str, seed: &str) -> PathBuf {
    let input = dir.join("p.csv");
    sample(&input, rows, seed);
    let out = dir.join("o");
    let o = run_pipeline(&input, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}
