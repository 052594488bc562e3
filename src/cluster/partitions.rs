//! Steps 5's two passes (the leader pass and the reassignment, [`leader`] and [`reassign`]) run
//! as tasks of a distributed engine, one per **object partition** (docs/spark.md).
//!
//! A petition only ever meets groups of its own anchor (an anchor-free one only anchor-free
//! groups), so the petitions of one anchor are an independent run, and a set of anchors is an
//! independent partition of both passes. The grouping writes each partition's term vectors to
//! a file (`NNNNN.part`), hands the folder to the engine ([`ObjectTasks::run`]: `minqing worker
//! leader` on every file), and reads each task's centroids, pass-1 clusters and reassignment
//! back (`NNNNN.lead`). The anchors' runs are put together in anchor order, as [`leader`] puts
//! them together on one machine, so the result is the same bit for bit: the same centroids
//! (summed in the same order), the same clusters and the same similarities, whatever the number
//! of partitions. The steps that need every group at once (the merge, the pair evidence, the
//! figures) stay with the grouping.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fsutil::write_atomic_with;

use super::incremental::{Dec, Enc};
use super::leader::{leader, reassign, runs, Centroid, NO_HINT};
use super::vectors::Doc;
use super::Options;

/// Runs the object partitions' tasks: called with the folder of the partition files and
/// their number, returns once every task has written its result (or with the engine's error).
pub type RunTasks = dyn Fn(&Path, usize) -> Result<()> + Send + Sync;

/// How a full grouping has its leader and reassignment passes run by a distributed engine.
#[derive(Clone)]
pub struct ObjectTasks {
    /// The folder the partition files are written to and the results read from (created;
    /// the files are removed once read).
    dir: PathBuf,
    /// How many partitions (tasks) to make at most: the anchors are dealt out biggest first
    /// onto the least loaded partition; the anchor-free petitions are one run, in one of them.
    partitions: usize,
    run: Arc<RunTasks>,
    /// How many tasks the grouping asked for (0: none, an incremental grouping has no
    /// leader pass), for run.json.
    asked: Arc<AtomicUsize>,
}

impl ObjectTasks {
    pub fn new(dir: PathBuf, partitions: usize, run: Arc<RunTasks>) -> ObjectTasks {
        ObjectTasks {
            dir,
            partitions,
            run,
            asked: Arc::default(),
        }
    }

    /// How many tasks the grouping asked the engine for; `None` when it asked for none.
    pub fn asked(&self) -> Option<usize> {
        Some(self.asked.load(Ordering::Relaxed)).filter(|&n| n > 0)
    }
}

impl std::fmt::Debug for ObjectTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectTasks")
            .field("dir", &self.dir)
            .field("partitions", &self.partitions)
            .finish_non_exhaustive()
    }
}

/// Partition `p`'s input file in `dir` (the Spark job names it too: `%05d.part`).
fn part_file(dir: &Path, p: usize) -> PathBuf {
    dir.join(format!("{p:05}.part"))
}

/// Partition `p`'s result file in `dir` (`%05d.lead`).
fn result_file(dir: &Path, p: usize) -> PathBuf {
    dir.join(format!("{p:05}.lead"))
}

const PART_MAGIC: &[u8] = b"minqing-objects-part-1\n";
const RESULT_MAGIC: &[u8] = b"minqing-objects-lead-1\n";

/// What the two passes gave: as [`leader`] returns, plus the reassignment of threshold step 0.
pub(super) struct Passes {
    pub(super) cents: Vec<Centroid>,
    pub(super) hints: Vec<u32>,
    pub(super) first: Vec<Option<(usize, f32)>>,
}

/// Which partition each run goes to: biggest first onto the least loaded one (ties: the
/// lower partition, then the earlier run), so the long runs are spread and the result fixed.
fn deal(sizes: &[usize], partitions: usize) -> Vec<usize> {
    let n = partitions.clamp(1, sizes.len().max(1));
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&r| (Reverse(sizes[r]), r));
    // the partitions by (load, number), least first: a heap, as a cluster's many tasks times
    // an estate table's many objects would make a scan of every partition per run slow
    let mut least: BinaryHeap<Reverse<(usize, usize)>> = (0..n).map(|p| Reverse((0, p))).collect();
    let mut to = vec![0usize; sizes.len()];
    for r in order {
        if let Some(Reverse((load, p))) = least.pop() {
            to[r] = p;
            least.push(Reverse((load + sizes[r], p)));
        }
    }
    to
}

/// The settings the two passes read, written into each partition file so that a task needs
/// no pipeline file.
fn put_options(e: &mut Enc<'_>, o: &Options) {
    for x in [
        o.anchored_threshold,
        o.unanchored_threshold,
        o.threshold_step,
        o.min_threshold,
    ] {
        e.u64(x.to_bits());
    }
    e.u64(o.min_size as u64);
    e.u64(o.candidate_terms as u64);
}

fn get_options(d: &mut Dec<'_>) -> std::result::Result<Options, String> {
    let mut f = || d.u64().map(f64::from_bits);
    let (a, u, s, m) = (f()?, f()?, f()?, f()?);
    Ok(Options {
        anchored_threshold: a,
        unanchored_threshold: u,
        threshold_step: s,
        min_threshold: m,
        min_size: d.u64()? as usize,
        candidate_terms: d.u64()? as usize,
        ..Options::default()
    })
}

/// The leader pass and the reassignment of threshold step 0 over `docs`, by the tasks of
/// `tasks`: the same result as `leader(docs, opts)` and `reassign(…, 0, k)` here.
pub(super) fn passes(docs: &[Doc], opts: &Options, tasks: &ObjectTasks) -> Result<Passes> {
    let runs = runs(docs);
    let sizes: Vec<usize> = runs.iter().map(|r| r.1.len()).collect();
    let to = deal(&sizes, tasks.partitions);
    let n = to.iter().max().map_or(0, |m| m + 1);
    let mut of_part: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (r, &p) in to.iter().enumerate() {
        of_part[p].push(r);
    }
    let dir = &tasks.dir;
    std::fs::create_dir_all(dir).map_err(Error::io("create folder", dir))?;
    // A result left by an earlier run in this folder is never taken for this one's: each
    // partition file carries a token its task copies into its result.
    let token = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.as_nanos() as u64)
        ^ (std::process::id() as u64) << 32;
    of_part.par_iter().enumerate().try_for_each(|(p, mine)| {
        let path = part_file(dir, p);
        write_atomic_with(&path, |w| {
            let mut e = Enc::new(w);
            e.bytes(PART_MAGIC);
            e.u64(token);
            put_options(&mut e, opts);
            e.len(mine.len());
            for &r in mine {
                let (key, ids) = &runs[r];
                e.key(*key);
                e.len(ids.len());
                for &i in ids {
                    // read from the text file, not its mapping: one object's petitions lie
                    // all over it (`Doc::detached`)
                    let d = docs[i].detached();
                    e.pairs(&d.vec);
                    e.len(d.top.len());
                    for &t in d.top.iter() {
                        e.u32(t);
                    }
                }
            }
            e.finish()
        })
    })?;
    tasks.asked.store(n, Ordering::Relaxed);
    (tasks.run)(dir, n)?;

    // the runs' results, by run
    let mut got: Vec<Option<RunResult>> = (0..runs.len()).map(|_| None).collect();
    let read = of_part
        .par_iter()
        .enumerate()
        .map(|(p, mine)| {
            let path = result_file(dir, p);
            let bytes = std::fs::read(&path).map_err(Error::io("read", &path))?;
            let corrupt = |message: String| Error::Corrupt {
                path: path.clone(),
                message,
            };
            let mut d = Dec { b: &bytes, at: 0 };
            let head = d.take(RESULT_MAGIC.len()).map_err(corrupt)?;
            if head != RESULT_MAGIC || d.u64().map_err(corrupt)? != token {
                return Err(corrupt(format!(
                    "not the result of {} of this run",
                    part_file(dir, p).display()
                )));
            }
            let mut out = Vec::with_capacity(mine.len());
            let count = d.len(8).map_err(corrupt)?;
            if count != mine.len() {
                return Err(corrupt(format!(
                    "{count} runs, the partition has {}",
                    mine.len()
                )));
            }
            for &r in mine {
                let res = get_run(&mut d).map_err(corrupt)?;
                if res.key != runs[r].0 || res.went.len() != runs[r].1.len() {
                    return Err(corrupt("its runs are not the partition's".into()));
                }
                out.push((r, res));
            }
            let part = part_file(dir, p);
            std::fs::remove_file(&part).map_err(Error::io("remove", &part))?;
            std::fs::remove_file(&path).map_err(Error::io("remove", &path))?;
            Ok(out)
        })
        .collect::<Result<Vec<Vec<(usize, RunResult)>>>>()?;
    // the folder goes when empty (it is the caller's when it holds anything else)
    let _ = std::fs::remove_dir(dir);
    for (r, res) in read.into_iter().flatten() {
        got[r] = Some(res);
    }

    let mut cents: Vec<Centroid> = Vec::new();
    let mut hints = vec![NO_HINT; docs.len()];
    let mut first: Vec<Option<(usize, f32)>> = vec![None; docs.len()];
    for ((_, ids), res) in runs.iter().zip(got) {
        let Some(RunResult {
            cents: c,
            went,
            assign,
            ..
        }) = res
        else {
            return Err(Error::Internal("an object run has no result".into()));
        };
        // cluster numbers within the run (checked by `get_run`) after the earlier runs'
        let base = cents.len();
        for ((&i, h), a) in ids.iter().zip(went).zip(assign) {
            if h != NO_HINT {
                hints[i] = (base + h as usize) as u32;
            }
            first[i] = a.map(|(x, s)| (base + x as usize, s));
        }
        cents.extend(c);
    }
    Ok(Passes {
        cents,
        hints,
        first,
    })
}

/// One anchor's run as a task returns it: its centroids, each petition's pass-1 cluster and
/// its reassignment at step 0 (cluster numbers within the run).
struct RunResult {
    key: Option<u32>,
    cents: Vec<Centroid>,
    went: Vec<u32>,
    assign: Vec<Option<(u32, f32)>>,
}

fn get_run(d: &mut Dec<'_>) -> std::result::Result<RunResult, String> {
    let key = d.key()?;
    let n = d.len(12)?;
    let mut cents = Vec::with_capacity(n);
    for _ in 0..n {
        let norm2 = d.f32()?;
        let size = d.u64()? as usize;
        let sum = d.pairs()?;
        cents.push(Centroid {
            key,
            sum: sum.into_iter().collect(),
            norm2,
            size,
        });
    }
    let m = d.len(12)?;
    let mut went = Vec::with_capacity(m);
    let mut assign = Vec::with_capacity(m);
    // a cluster number the run does not have would be another run's cluster
    let cluster = |c: u32| {
        if c == NO_HINT || (c as usize) < n {
            Ok(c)
        } else {
            Err("a petition's cluster is not its run's".to_string())
        }
    };
    for _ in 0..m {
        went.push(cluster(d.u32()?)?);
        let c = cluster(d.u32()?)?;
        let s = d.f32()?;
        assign.push((c != NO_HINT).then_some((c, s)));
    }
    Ok(RunResult {
        key,
        cents,
        went,
        assign,
    })
}

/// What one task did (`minqing worker leader`).
pub struct TaskSummary {
    pub petitions: usize,
    pub runs: usize,
    pub clusters: usize,
}

/// One object partition's task: reads `part` (written by the grouping), runs the leader pass
/// and the reassignment of step 0 over its anchors' runs, and writes `result`.
pub fn lead_partition(part: &Path, result: &Path) -> Result<TaskSummary> {
    let bytes = std::fs::read(part).map_err(Error::io("read", part))?;
    let corrupt = |message: String| Error::Corrupt {
        path: part.to_path_buf(),
        message,
    };
    let mut d = Dec { b: &bytes, at: 0 };
    if d.take(PART_MAGIC.len()).map_err(corrupt)? != PART_MAGIC {
        return Err(corrupt(
            "not an object partition of this minqing version".into(),
        ));
    }
    let token = d.u64().map_err(corrupt)?;
    let opts = get_options(&mut d).map_err(corrupt)?;
    let nruns = d.len(8).map_err(corrupt)?;
    let mut docs: Vec<Doc> = Vec::new();
    let mut spans: Vec<(Option<u32>, usize)> = Vec::with_capacity(nruns);
    for _ in 0..nruns {
        let key = d.key().map_err(corrupt)?;
        let m = d.len(8).map_err(corrupt)?;
        for _ in 0..m {
            let vec = d.pairs().map_err(corrupt)?;
            let t = d.len(4).map_err(corrupt)?;
            let top = (0..t)
                .map(|_| d.u32())
                .collect::<std::result::Result<Vec<u32>, String>>();
            docs.push(Doc {
                key,
                vec: vec.into(),
                top: top.map_err(corrupt)?.into(),
            });
        }
        spans.push((key, m));
    }
    if spans.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(corrupt("its runs are not in anchor order".into()));
    }
    // The docs lie run after run in anchor order, so `leader` finds the same runs and
    // numbers their clusters run after run: run r's are those after the earlier runs'.
    let k = opts.candidate_terms.max(1);
    let (cents, hints) = leader(&docs, &opts);
    let assign = reassign(&docs, &cents, &hints, &opts, 0, k);
    let mut base = 0usize;
    let mut at = 0usize;
    let clusters = cents.len();
    write_atomic_with(result, |w| {
        let mut e = Enc::new(w);
        e.bytes(RESULT_MAGIC);
        e.u64(token);
        e.len(spans.len());
        for &(key, m) in &spans {
            let end = cents[base..]
                .iter()
                .position(|c| c.key != key)
                .map_or(cents.len(), |x| base + x);
            e.key(key);
            e.len(end - base);
            for c in &cents[base..end] {
                e.f32(c.norm2);
                e.u64(c.size as u64);
                let mut sum: Vec<(u32, f32)> = c.sum.iter().map(|(t, s)| (*t, *s)).collect();
                sum.sort_unstable_by_key(|x| x.0);
                e.pairs(&sum);
            }
            e.len(m);
            for i in at..at + m {
                let local = |c: usize| (c - base) as u32;
                e.u32(match hints[i] {
                    NO_HINT => NO_HINT,
                    h => local(h as usize),
                });
                match assign[i] {
                    Some((c, s)) => {
                        e.u32(local(c));
                        e.f32(s);
                    }
                    None => {
                        e.u32(NO_HINT);
                        e.f32(0.0);
                    }
                }
            }
            at += m;
            base = end;
        }
        e.finish()
    })?;
    Ok(TaskSummary {
        petitions: docs.len(),
        runs: spans.len(),
        clusters,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use std::path::Path;

    use super::{deal, lead_partition, part_file, result_file, ObjectTasks};
    use crate::cluster::{run_full, Groups, Options, Remote};
    use crate::error::Error;
    use crate::schema::Record;
    use crate::tokenize::Tokenizer;

    /// Every partition's task in this process, one after another, as an engine's tasks run.
    fn run_here(dir: &Path, n: usize) -> crate::error::Result<()> {
        for p in 0..n {
            lead_partition(&part_file(dir, p), &result_file(dir, p))?;
        }
        Ok(())
    }

    fn records() -> Vec<Record> {
        crate::sample::generate(&crate::sample::Options {
            rows: 1500,
            seed: 11,
            ..Default::default()
        })
        .map(|s| {
            let mut r = crate::store::tests::rec(&s.id);
            r.title = s.title.into();
            r.content = s.content.into();
            r.petitioner = Some(s.petitioner.into());
            r
        })
        .collect()
    }

    fn group(
        records: &[Record],
        opts: &Options,
        tasks: Option<&ObjectTasks>,
    ) -> crate::error::Result<Groups> {
        let tok = Tokenizer::new(&Default::default()).unwrap();
        let remote = Remote {
            tagged: None,
            objects: tasks,
        };
        Ok(run_full(records, &tok, opts, None, remote, None, None)?.0)
    }

    /// The passes run by tasks over any number of object partitions group exactly as one
    /// process does, also when the thresholds are lowered after the tasks' step.
    #[test]
    fn object_partitions_group_as_one_process_does() {
        let records = records();
        let dir = tempfile::tempdir().unwrap();
        for opts in [
            Options::default(),
            Options {
                target_unclustered_rate: 0.2,
                ..Options::default()
            },
        ] {
            let here = group(&records, &opts, None).unwrap();
            assert!(here.groups.len() > 20, "{} groups", here.groups.len());
            for partitions in [1, 3, 1000] {
                let made = Arc::new(AtomicUsize::new(0));
                let counted = made.clone();
                let tasks = ObjectTasks::new(
                    dir.path().join(format!("objects-{partitions}")),
                    partitions,
                    Arc::new(move |dir: &Path, n: usize| {
                        counted.fetch_add(n, Ordering::Relaxed);
                        run_here(dir, n)
                    }),
                );
                let spread = group(&records, &opts, Some(&tasks)).unwrap();
                assert_eq!(
                    serde_json::to_string(&spread).unwrap(),
                    serde_json::to_string(&here).unwrap(),
                    "{partitions} partitions"
                );
                assert!(!tasks.dir.exists(), "the partitions' files were removed");
                // as many tasks as asked for, or one per object when there are fewer
                let n = made.load(Ordering::Relaxed);
                assert_eq!(tasks.asked(), Some(n));
                assert!(
                    n == partitions || (partitions == 1000 && (20..1000).contains(&n)),
                    "{n}"
                );
            }
        }
    }

    /// A result that is not this run's (an earlier run's left in the folder, another run's
    /// task) is refused, naming the file.
    #[test]
    fn a_result_of_another_run_is_refused() {
        let records = records();
        let dir = tempfile::tempdir().unwrap();
        let tasks = ObjectTasks::new(
            dir.path().join("objects"),
            2,
            Arc::new(|dir: &Path, n: usize| {
                run_here(dir, n)?;
                let f = result_file(dir, 1);
                let mut b = std::fs::read(&f).unwrap();
                let at = super::RESULT_MAGIC.len();
                b[at] ^= 1;
                std::fs::write(&f, b).unwrap();
                Ok(())
            }),
        );
        let e = group(&records, &Options::default(), Some(&tasks)).unwrap_err();
        assert!(
            matches!(&e, Error::Corrupt { path, .. } if path.ends_with("00001.lead")),
            "{e}"
        );
        assert!(e.to_string().contains("not the result of"), "{e}");
    }

    #[test]
    fn runs_are_dealt_biggest_first_onto_the_least_loaded_partition() {
        // run 0 (the anchor-free run, say) alone; the others fill the second partition up
        assert_eq!(deal(&[10, 3, 4, 2, 1], 2), vec![0, 1, 1, 1, 1]);
        assert_eq!(deal(&[5, 5, 5], 2), vec![0, 1, 0]);
        // never more partitions than runs, never none
        assert_eq!(deal(&[1, 1], 8), vec![0, 1]);
        assert_eq!(deal(&[], 4), Vec::<usize>::new());
        assert_eq!(deal(&[7], 0), vec![0]);
    }
}
