//! Crash safety: `minqing run` killed with SIGKILL at several points leaves the previous outputs
//! readable, and a rerun finishes with the same result as an uninterrupted run.

use std::path::Path;
use std::time::Duration;

use crate::common::*;

/// A CSV big enough that a run takes a noticeable time.
fn big_csv(path: &Path, rows: usize) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "编号,登记日期,标题,诉求内容,所属地区").unwrap();
    let estates = ["丽景花园", "金色家园", "滨河苑", "翠湖小区", "新城公寓"];
    let issues = [
        "房产证迟迟办不下来",
        "物业费上涨不合理",
        "夜间施工噪音扰民",
        "电梯经常故障",
        "小区停水三天",
    ];
    for i in 0..rows {
        let e = estates[i % estates.len()];
        let p = issues[(i / 7) % issues.len()];
        writeln!(
            f,
            "K{i:07},2019-{:02}-{:02} 10:00:00,{e}{p},我们是{e}的业主，{p}，已经反映过{}次，希望尽快处理。编号{i},江城市/临湖区/洞井街道",
            1 + i % 12,
            1 + i % 28,
            i % 9
        )
        .unwrap();
    }
}

/// Every output file that exists is complete: the store and the index open, CSV/JSON parse.
fn outputs_readable(out: &Path) -> usize {
    let n = minqing::store::read(out).expect("store readable").len();
    run_json(out);
    csv::Reader::from_path(out.join("rejects.csv"))
        .unwrap()
        .records()
        .for_each(|r| {
            r.expect("rejects.csv complete");
        });
    let tok = minqing::tokenize::Tokenizer::new(&Default::default()).unwrap();
    let req = minqing::index::SearchRequest::new("房产证");
    minqing::index::search(&out.join("index"), &req, &tok).expect("index readable");
    n
}

#[test]
fn sigkill_during_run_leaves_previous_outputs_usable() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.csv");
    big_csv(&input, 60_000);
    let out = dir.path().join("run");
    let args = [
        "-q",
        "run",
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let first = run(&args);
    assert!(first.status.success(), "{}", stderr(&first));
    let store_bytes = std::fs::read(out.join("store/petitions.parquet")).unwrap();
    assert_eq!(outputs_readable(&out), 60_000);

    // Kill a fresh run (--fresh rewrites everything) at increasing delays: during ingest, the
    // store write, indexing and after.
    for ms in [50u64, 200, 400, 700, 1000, 1500, 2500] {
        let mut child = minqing()
            .args(args)
            .arg("--fresh")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();
        assert_eq!(outputs_readable(&out), 60_000, "after a kill at {ms} ms");
        let leftovers: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| {
                !n.starts_with(".minqing-")
                    && ![
                        "store",
                        "index",
                        "rejects.csv",
                        "run.json",
                        "groups",
                        "charts",
                        "brief.html",
                        "brief.md",
                        "brief.docx",
                        "inferred.csv",
                    ]
                    .contains(&n.as_str())
            })
            .collect();
        assert!(
            leftovers.is_empty(),
            "unexpected files under final names: {leftovers:?}"
        );
    }
    let rerun = run(&args);
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    let stale = std::fs::read_dir(out.join("store"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".minqing-")
        })
        .count();
    assert_eq!(
        stale, 0,
        "a completed run clears what killed runs left behind"
    );
    assert_eq!(
        std::fs::read(out.join("store/petitions.parquet")).unwrap(),
        store_bytes
    );
    assert_eq!(outputs_readable(&out), 60_000);
}

/// A tmpfs mounted at `<dir>/mnt` for the life of the value (root, as in CI); None where
/// mounting is not allowed, and the test that needs it is skipped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let mnt = dir.join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let t = Tmpfs(mnt);
        if t.remount(&["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]) {
            Some(t)
        } else {
            eprintln!("cannot mount a tmpfs here: test skipped");
            None
        }
    }

    fn remount(&self, args: &[&str]) -> bool {
        std::process::Command::new("mount")
            .args(args)
            .arg(&self.0)
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A failed write: exit 1, one error line containing one of `words`.
fn one_line_error(o: &std::process::Output, words: &[&str]) {
    assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
    let err = stderr(o);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(words.iter().any(|w| err.contains(w)), "{err}");
}

/// The previous run's brief and run.json are byte-identical and its index still answers.
fn previous_run_intact(out: &Path, brief: &[u8], runjson: &[u8]) {
    assert_eq!(std::fs::read(out.join("brief.md")).unwrap(), brief);
    assert_eq!(std::fs::read(out.join("run.json")).unwrap(), runjson);
    let s = run(&[
        "search",
        "小区",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(
        s.status.success(),
        "search the previous run: {}",
        stderr(&s)
    );
}

/// A full output disk: one clear error naming the path, exit 1, and the previous outputs intact.
#[test]
fn full_disk_keeps_previous_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mnt) = Tmpfs::mount(dir.path(), "24m") else {
        return;
    };
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    sample(&a, "400", "1");
    sample(&b, "400", "2");
    let out = mnt.0.join("out");
    let o = run_pipeline(&a, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let brief = std::fs::read(out.join("brief.md")).unwrap();
    let runjson = std::fs::read(out.join("run.json")).unwrap();
    // fill the disk, leaving a few kilobytes
    let filler = mnt.0.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .and_then(|f| f.set_len(f.metadata()?.len().saturating_sub(8 * 1024)));
    one_line_error(&run_pipeline(&b, &out, &["--fresh"]), &["space", "空间"]);
    previous_run_intact(&out, &brief, &runjson);
}

/// A read-only output folder: one clear error line, exit 1, the previous outputs untouched and
/// still searchable (an archived run on a read-only share).
#[test]
fn read_only_output_keeps_previous_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mnt) = Tmpfs::mount(dir.path(), "64m") else {
        return;
    };
    let a = dir.path().join("a.csv");
    sample(&a, "400", "1");
    let out = mnt.0.join("out");
    let o = run_pipeline(&a, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let brief = std::fs::read(out.join("brief.md")).unwrap();
    let runjson = std::fs::read(out.join("run.json")).unwrap();
    assert!(mnt.remount(&["-o", "remount,ro"]), "remount read-only");
    let read_only = ["read-only", "Read-only", "只读"];
    one_line_error(&run_pipeline(&a, &out, &["--fresh"]), &read_only);
    let ingest = run(&[
        "-q",
        "ingest",
        "--input",
        a.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--spill-mb",
        "0",
    ]);
    one_line_error(&ingest, &read_only);
    previous_run_intact(&out, &brief, &runjson);
}
