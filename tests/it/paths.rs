//! Path safety: nothing a pipeline file says, and nothing found in the run folder, makes minqing
//! write outside `--out`. Inputs may be read from anywhere; outputs land in the run folder only.
//!
//! Each test keeps an `outside/` folder next to the run folder, points what it can at it, and
//! checks afterwards that `outside/` is byte-for-byte what it was.

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::common::*;

/// Every entry under `dir` (links not followed) → its bytes, its link target or `<dir>`.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let t = e.file_type().unwrap();
            if t.is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                out.insert(rel, format!("-> {}", target.display()).into_bytes());
            } else if t.is_dir() {
                out.insert(rel, b"<dir>".to_vec());
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Asserts `outside/` is as it was, naming what changed (not dumping every byte).
fn assert_untouched(before: &BTreeMap<String, Vec<u8>>, outside: &Path, what: &str) {
    let after = snapshot(outside);
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(
        changed.is_empty(),
        "{what}: changed outside --out: {changed:?}"
    );
}

/// A temp folder with a small generated export (`in.csv`, two months: the brief has a week to
/// show) and an `outside/` folder holding one file.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        sample(&dir.path().join("in.csv"), "400", "5");
        std::fs::create_dir_all(dir.path().join("outside")).unwrap();
        std::fs::write(dir.path().join("outside/keep.txt"), "outside\n").unwrap();
        Setup { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn input(&self) -> PathBuf {
        self.path("in.csv")
    }

    fn outside(&self) -> PathBuf {
        self.path("outside")
    }

    /// Writes a pipeline file at `rel`: the top-level `keys`, then one source, the input.
    fn pipeline(&self, rel: &str, keys: &str) -> PathBuf {
        let pipe = self.path(rel);
        let text = format!(
            "{keys}[[source]]\npath = {:?}\n",
            self.input().display().to_string()
        );
        std::fs::write(&pipe, text).unwrap();
        pipe
    }
}

/// One line on stderr, exit 1, naming `needle`.
fn assert_refused(o: &std::process::Output, needle: &str) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {e}");
    assert_eq!(e.trim().lines().count(), 1, "not one line: {e}");
    assert!(e.contains(needle), "does not name `{needle}`: {e}");
}

/// `out` in a pipeline file — with `..`, or absolute — does not move a run whose folder is given
/// with `--out`, and a run without `--out` goes to the `out` the file names, nowhere else.
#[test]
fn pipeline_out_key_cannot_redirect_cli_out() {
    let s = Setup::new();
    std::fs::create_dir_all(s.path("pipes")).unwrap();
    let before = snapshot(&s.outside());
    for (i, out_key) in [
        "../outside/escaped".to_string(),
        s.path("outside/escaped").display().to_string(),
        "../../../../../../../../../../../../../tmp/minqing-escaped".to_string(),
    ]
    .iter()
    .enumerate()
    {
        let pipe = s.pipeline(
            &format!("pipes/p{i}.toml"),
            &format!("name = \"t{i}\"\nout = {out_key:?}\n"),
        );
        let out = s.path(&format!("runs/r{i}"));
        let o = minqing()
            .args(["-q", "run", pipe.to_str().unwrap(), "--out"])
            .arg(&out)
            .current_dir(s.path("pipes"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(out.join("brief.html").is_file() && out.join("run.json").is_file());
        assert_untouched(
            &before,
            &s.outside(),
            &format!("out = {out_key} wrote outside --out"),
        );
        assert!(!s.path("pipes/reports").exists());
        assert!(!Path::new("/tmp/minqing-escaped").exists());
    }
    // Without --out, `out` (relative to the pipeline file) is the run folder.
    let pipe = s.pipeline("pipes/own.toml", "name = \"own\"\nout = \"../runs/own\"\n");
    let o = run(&["-q", "run", pipe.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(s.path("runs/own/brief.html").is_file());
    assert_untouched(&before, &s.outside(), "a run");
}

/// `name` names the default run folder `reports/<name>`, so it cannot be a path.
#[test]
fn pipeline_name_cannot_be_a_path() {
    let s = Setup::new();
    for name in ["../outside/x", "/tmp/minqing-x", "a/b", "..", ""] {
        let pipe = s.pipeline("p.toml", &format!("name = {name:?}\n"));
        let o = minqing()
            .args(["-q", "run", pipe.to_str().unwrap()])
            .current_dir(s.path(""))
            .output()
            .unwrap();
        assert_refused(&o, "`name`");
        assert!(!s.path("reports").exists() && !s.path("outside/x").exists());
    }
}

/// Every output file of a run pre-planted as a link to a file outside: the run replaces each
/// link with its own file and the files outside keep their bytes.
#[test]
fn links_at_output_file_names_are_replaced_not_written_through() {
    let s = Setup::new();
    let reference = s.path("ref");
    let o = run_pipeline(&s.input(), &reference, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let files: Vec<String> = snapshot(&reference)
        .into_iter()
        .filter(|(rel, v)| !rel.starts_with("index") && v != b"<dir>")
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        files.iter().any(|f| f == "brief.html") && files.iter().any(|f| f.starts_with("charts/"))
    );

    let out = s.path("out");
    for (i, rel) in files.iter().enumerate() {
        let target = s.outside().join(format!("target-{i}"));
        std::fs::write(&target, format!("outside {rel}\n")).unwrap();
        let link = out.join(rel);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        symlink(&target, &link).unwrap();
    }
    // A link to a file that does not exist yet, planted where a chart's temporary file was once
    // named: it must not be followed (nor the file created outside).
    symlink(
        s.outside().join("new-file"),
        out.join("charts/.minqing-tmp-weekly_channel.png"),
    )
    .unwrap();
    let before = snapshot(&s.outside());

    // The store is read before it is upserted: a link there to something that is not a store
    // is a clear error naming it (and nothing written); `--fresh` does not read it.
    let o = run_pipeline(&s.input(), &out, &[]);
    assert_refused(&o, "petitions.parquet");
    assert_untouched(&before, &s.outside(), "a refused run wrote through a link");
    let o = run_pipeline(&s.input(), &out, &["--fresh"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_untouched(&before, &s.outside(), "a run wrote through a link");
    for rel in &files {
        let m = std::fs::symlink_metadata(out.join(rel)).unwrap();
        assert!(m.is_file(), "{rel} is still a link");
    }

    // `minqing brief` re-renders charts and the brief into the same folder: same rule.
    for rel in files
        .iter()
        .filter(|f| f.starts_with("charts/") || f.starts_with("brief"))
    {
        let link = out.join(rel);
        std::fs::remove_file(&link).unwrap();
        symlink(s.outside().join("keep.txt"), &link).unwrap();
    }
    symlink(
        s.outside().join("new-file"),
        out.join("charts/.minqing-tmp-weekly_channel.png"),
    )
    .unwrap();
    let o = run(&["-q", "brief", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_untouched(&before, &s.outside(), "minqing brief wrote through a link");
}

/// An output folder (store, index, groups, charts) that is a link to a folder outside: every
/// command that writes there refuses with one line naming it, and writes nothing anywhere.
#[test]
fn linked_output_folders_are_refused() {
    let s = Setup::new();
    let good = s.path("good");
    let o = run_pipeline(&s.input(), &good, &[]);
    assert!(o.status.success(), "{}", stderr(&o));

    for sub in ["store", "index", "groups", "charts"] {
        let target = s.outside().join(sub);
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("keep.txt"), "outside\n").unwrap();
        let before = snapshot(&s.outside());

        // A fresh run folder holding only the link.
        let out = s.path(&format!("fresh-{sub}"));
        std::fs::create_dir_all(&out).unwrap();
        symlink(&target, out.join(sub)).unwrap();
        let o = run_pipeline(&s.input(), &out, &[]);
        assert_refused(&o, &format!("{sub}` is a symbolic link"));
        assert_eq!(
            snapshot(&out).len(),
            1,
            "the refused run wrote into its folder"
        );
        let o = run(&[
            "-q",
            "ingest",
            "--input",
            s.input().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_refused(&o, &format!("{sub}` is a symbolic link"));

        // An earlier run's folder where the sub-folder was swapped for the link.
        let out = s.path(&format!("swapped-{sub}"));
        copy_dir(&good, &out);
        std::fs::remove_dir_all(out.join(sub)).unwrap();
        symlink(&target, out.join(sub)).unwrap();
        let o = run_pipeline(&s.input(), &out, &[]);
        assert_refused(&o, &format!("{sub}` is a symbolic link"));
        for args in [
            vec!["brief", "--out", out.to_str().unwrap()],
            vec!["cluster", "--out", out.to_str().unwrap()],
        ] {
            assert_refused(&run(&args), &format!("{sub}` is a symbolic link"));
        }
        assert_untouched(
            &before,
            &s.outside(),
            &format!("something was written through `{sub}`"),
        );
    }
}

/// A link inside an existing index (where tantivy creates its lock files in place) is refused.
#[test]
fn links_inside_the_index_are_refused() {
    let s = Setup::new();
    let out = s.path("out");
    let o = run_pipeline(&s.input(), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = snapshot(&s.outside());
    for lock in [".tantivy-writer.lock", ".tantivy-meta.lock"] {
        let link = out.join("index").join(lock);
        let _ = std::fs::remove_file(&link);
        symlink(s.outside().join("lock"), &link).unwrap();
        let o = run_pipeline(&s.input(), &out, &[]);
        assert_refused(&o, lock);
        assert_untouched(&before, &s.outside(), "a run");
        std::fs::remove_file(&link).unwrap();
    }
    let o = run_pipeline(&s.input(), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// A folder at `index/` that minqing did not write (the user's own files) is refused before the
/// run writes anything, never replaced; an empty one is simply used.
#[test]
fn foreign_index_folder_is_refused_not_deleted() {
    let s = Setup::new();
    let out = s.path("run");
    std::fs::create_dir_all(out.join("index")).unwrap();
    std::fs::write(out.join("index/notes.txt"), "mine\n").unwrap();
    let o = run_pipeline(&s.input(), &out, &[]);
    assert_refused(&o, "not a minqing search index");
    assert_eq!(
        std::fs::read(out.join("index/notes.txt")).unwrap(),
        b"mine\n"
    );
    assert!(
        !out.join("store").exists(),
        "the refused run wrote its store"
    );
    std::fs::remove_file(out.join("index/notes.txt")).unwrap();
    let o = run_pipeline(&s.input(), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A second run over its own index is of course fine.
    let o = run_pipeline(&s.input(), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}
