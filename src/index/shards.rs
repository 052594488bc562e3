//! A sharded index: `index/shards.json` naming one tantivy index per shard folder
//! (`index/00000/`, …). The Spark job builds it (docs/spark.md): after the reduce has grouped,
//! each task indexes one row group of the store with `minqing worker index`, and
//! `minqing worker shards` checks the shards and installs them as the run's index in one rename.
//! Search fans out over the shards with the BM25 statistics of all of them (search.rs), so a
//! sharded index answers every search as one index holding the same petitions does.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{build_with, open_index, read_payload, IndexSummary, SCHEMA_VERSION};
use crate::error::{Error, Result};
use crate::schema::Record;
use crate::tokenize::Tokenizer;

/// The layout file of a sharded index folder.
pub const LAYOUT_FILE: &str = "shards.json";

/// What [`build_shard`] did to a shard (its [`IndexSummary`]), beside tantivy's files in the
/// shard folder: the install adds them up, so that run.json counts what a weekly run added,
/// changed and kept. Never linked from an earlier shard (each build writes its own).
const BUILT_FILE: &str = "built.json";

/// What `shards.json` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub schema: u32,
    /// Fingerprint of the tokenizer every shard was built with.
    pub tokenizer: String,
    /// The shards' [`groups_fingerprint`]s together (the crate's fixed hasher over them in
    /// shard order): every petition's group id.
    pub groups: String,
    /// Documents in all shards.
    pub docs: u64,
    /// Shard folders, relative to the index folder, in row-group order.
    pub shards: Vec<String>,
    /// Each shard's rows fingerprint (its payload's), in the order of `shards`: what a later
    /// `minqing worker index` compares to reuse a shard whose row group did not change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<String>,
}

/// The layout of a sharded index folder; None when `dir` holds no `shards.json` (a single
/// index, or nothing).
pub(crate) fn read_layout(dir: &Path) -> Result<Option<Layout>> {
    let p = dir.join(LAYOUT_FILE);
    if !p.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(&p).map_err(Error::io("read", &p))?;
    let layout: Layout = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
        path: p.clone(),
        message: format!("not a shard list: {e}"),
    })?;
    if let Some(bad) = layout
        .shards
        .iter()
        .find(|s| !is_shard_name(s) || !dir.join(s).is_dir())
    {
        return Err(Error::Corrupt {
            path: p,
            message: format!("it names a shard `{bad}` that is not a shard folder beside it"),
        });
    }
    Ok(Some(layout))
}

/// The folders of a layout's shards.
pub(crate) fn shard_dirs(dir: &Path, layout: &Layout) -> Vec<PathBuf> {
    layout.shards.iter().map(|s| dir.join(s)).collect()
}

/// The folder name of the shard of row group `row_group` (five digits: sorts as it counts).
pub fn shard_name(row_group: usize) -> String {
    format!("{row_group:05}")
}

fn is_shard_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// What a shard's commit payload says about the petitions it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prints {
    /// [`groups_fingerprint`] of its petitions.
    pub groups: String,
    /// [`rows_fingerprint`] of its petitions.
    pub rows: String,
}

impl Prints {
    fn of(records: &[Record], group_of: &super::GroupOf) -> Prints {
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        Prints {
            groups: groups_fingerprint(&ids, group_of),
            rows: rows_fingerprint(records, group_of),
        }
    }
}

/// A fingerprint of the group ids of petitions `ids` (the crate's fixed hasher over each id
/// with its group or none, in id order): a shard indexed before the latest grouping would show
/// other groups than the brief. [`install`] checks it against the ids the shard holds.
pub(crate) fn groups_fingerprint(ids: &[&str], group_of: &super::GroupOf) -> String {
    use std::hash::Hasher;
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let groups = group_of.get_all(ids.iter().copied());
    let mut h = crate::fxhash::FxHasher::default();
    for (id, g) in ids.into_iter().zip(groups) {
        h.write(id.as_bytes());
        h.write_u8(0xff);
        if let Some(g) = g {
            h.write(g.as_bytes());
        }
        h.write_u8(0xfe);
    }
    format!("{:016x}", h.finish())
}

/// A fingerprint of everything a shard indexes for `records` — each petition's document hash
/// (its indexed fields and group id, as [`super::build`] compares them), in id order.
pub(crate) fn rows_fingerprint(records: &[Record], group_of: &super::GroupOf) -> String {
    use std::hash::Hasher;
    // (a row group's ids are in order: their groups are walked, not searched one by one)
    let groups = group_of.get_all(records.iter().map(|r| r.id.as_str()));
    let mut docs: Vec<(&str, u64)> = records
        .par_iter()
        .zip(groups)
        .map(|(r, g)| (r.id.as_str(), super::doc_hash(r, g)))
        .collect();
    docs.sort_unstable();
    docs.dedup_by(|a, b| a.0 == b.0);
    let mut h = crate::fxhash::FxHasher::default();
    h.write_u64(docs.len() as u64);
    for (_, d) in docs {
        h.write_u64(d);
    }
    format!("{:016x}", h.finish())
}

/// How [`build_shard`] made its shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Built {
    /// Indexed afresh.
    Indexed,
    /// Linked from this shard of the index being replaced: same petitions, groups and settings.
    Kept(PathBuf),
    /// Linked from this shard of the index being replaced, then brought in line with the row
    /// group in place (petitions added, changed, regrouped or gone; [`super::build`]'s update).
    Updated(PathBuf),
}

/// Builds the shard of `records` (one row group of the store) at `dir`.
///
/// When `previous` (the run's index, about to be replaced) is a sharded index of this schema
/// and tokenizer, the shard holding exactly these rows — else its shard of the same name (the
/// same row group last time) — is linked (a shard's files are never written after its build)
/// and updated in place as [`super::build`] updates the single-machine index: only petitions
/// whose text or group changed are indexed again. A weekly run regroups a few hundred old
/// petitions spread over every row group, so every shard changes a little; rebuilding them all
/// would re-index the whole store every week. Like the single-machine index, an updated shard
/// keeps its deleted documents in the BM25 statistics until its segments merge. Without a
/// previous shard, the shard is indexed afresh.
pub fn build_shard(
    dir: &Path,
    records: &[Record],
    tokenizer: &Tokenizer,
    group_of: &super::GroupOf,
    previous: Option<&Path>,
) -> Result<(IndexSummary, Built)> {
    super::refuse_foreign(dir)?;
    let prints = Prints::of(records, group_of);
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(Error::io("remove", dir))?;
    }
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    let earlier = previous.and_then(|p| earlier_shard(p, &prints, tokenizer, name.as_deref()));
    if let Some((from, same)) = earlier {
        let stage = crate::fsutil::staging_dir(dir)?;
        let n = records.len() as u64;
        let carried = link_files(&from, stage.path()).and_then(|()| {
            if same {
                // every segment file there and readable, as the install will read it
                let held = open_index(stage.path())?.reader()?.searcher().num_docs();
                Ok((held == n).then_some(IndexSummary {
                    docs: n,
                    unchanged: n,
                    ..IndexSummary::default()
                }))
            } else {
                build_with(
                    stage.path(),
                    records,
                    tokenizer,
                    group_of,
                    Some(prints.clone()),
                )
                .map(Some)
            }
        });
        // A shard of the last index that cannot be carried over (damaged, a file missing) is
        // no reason to fail the week: it is indexed afresh below, as without one.
        if let Ok(Some(summary)) = carried {
            write_built(stage.path(), &summary)?;
            crate::fsutil::replace_dir(&stage.keep(), dir)?;
            let built = if same {
                Built::Kept(from)
            } else {
                Built::Updated(from)
            };
            return Ok((summary, built));
        }
    }
    let summary = build_with(dir, records, tokenizer, group_of, Some(prints))?;
    write_built(dir, &summary)?;
    Ok((summary, Built::Indexed))
}

/// The shard of the sharded index `index_dir` to start from, and whether it holds exactly
/// `prints` (nothing to update): the one whose rows fingerprint is `prints.rows`, else the one
/// named `name`; only shards of this schema and tokenizer.
fn earlier_shard(
    index_dir: &Path,
    prints: &Prints,
    tokenizer: &Tokenizer,
    name: Option<&str>,
) -> Option<(PathBuf, bool)> {
    let layout = read_layout(index_dir).ok()??;
    if layout.schema != SCHEMA_VERSION || layout.tokenizer != tokenizer.fingerprint() {
        return None;
    }
    let k = layout
        .rows
        .iter()
        .position(|r| *r == prints.rows)
        .or_else(|| layout.shards.iter().position(|s| Some(s.as_str()) == name))?;
    let dir = index_dir.join(layout.shards.get(k)?);
    let p = read_payload(&open_index(&dir).ok()?)?;
    if p.schema != SCHEMA_VERSION || p.tokenizer != tokenizer.fingerprint() {
        return None;
    }
    let same = p.rows.as_ref() == Some(&prints.rows) && p.groups.as_ref() == Some(&prints.groups);
    Some((dir, same))
}

fn write_built(dir: &Path, summary: &IndexSummary) -> Result<()> {
    crate::fsutil::write_atomic(&dir.join(BUILT_FILE), &serde_json::to_vec(summary)?)
}

/// What [`build_shard`] recorded for the shard at `dir`; a shard without the record (built by
/// an earlier minqing) counts as indexed afresh.
fn read_built(dir: &Path, docs: u64) -> IndexSummary {
    std::fs::read(dir.join(BUILT_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<IndexSummary>(&b).ok())
        .filter(|s| s.docs == docs)
        .unwrap_or(IndexSummary {
            docs,
            added: docs,
            ..IndexSummary::default()
        })
}

/// Hard links (a copy where the file system cannot link) of the files of shard `from` in `to`.
fn link_files(from: &Path, to: &Path) -> Result<()> {
    for e in std::fs::read_dir(from).map_err(Error::io("read", from))? {
        let e = e.map_err(Error::io("read", from))?;
        let name = e.file_name();
        // tantivy's lock files belong to a writer, never to a shard at rest; the build record
        // is the new build's
        let n = name.to_string_lossy();
        if !e.path().is_file() || n.ends_with(".lock") || n == BUILT_FILE {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if std::fs::hard_link(&src, &dst).is_err() {
            std::fs::copy(&src, &dst).map_err(Error::io("copy", &src))?;
        }
    }
    Ok(())
}

/// Checks the shards in `from` (built by `minqing worker index` from this run's store and
/// groups) and makes `from` the index folder `index_dir`: every shard of this schema, tokenizer
/// and grouping, and as many documents as the store holds. `from` is renamed, not copied (it
/// must be on the run folder's file system).
pub fn install(
    from: &Path,
    index_dir: &Path,
    tokenizer: &Tokenizer,
    group_of: &super::GroupOf,
    store_rows: u64,
) -> Result<IndexSummary> {
    super::refuse_foreign(index_dir)?;
    let replaces = super::exists(index_dir);
    let mut names: Vec<String> = std::fs::read_dir(from)
        .map_err(Error::io("read", from))?
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| is_shard_name(n))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(Error::Usage(format!(
            "`{}` holds no shards (folders 00000, 00001, … written by `minqing worker index`)",
            from.display()
        )));
    }
    // shards whose rows the index being replaced held: re-used (or rebuilt the same)
    let before: HashSet<String> = match read_layout(index_dir) {
        Ok(Some(l)) => l.rows.into_iter().collect(),
        _ => HashSet::new(),
    };
    let mut docs = 0u64;
    let mut did = IndexSummary::default();
    let mut rows = Vec::with_capacity(names.len());
    let mut all_groups = crate::fxhash::FxHasher::default();
    for n in &names {
        let dir = from.join(n);
        let index = open_index(&dir)?;
        let stale = |what: &str| {
            Err(Error::Usage(format!(
                "shard `{}` was built with {what} than this run's; run `minqing worker index` on it again",
                dir.display()
            )))
        };
        let payload = match read_payload(&index) {
            Some(p) if p.schema != SCHEMA_VERSION => return stale("another index schema"),
            Some(p) if p.tokenizer != tokenizer.fingerprint() => {
                return stale("another dictionary or stopwords")
            }
            Some(p) => p,
            None => return stale("no record of its settings"),
        };
        // the group ids of the petitions it holds, as this run's grouping has them
        let held = super::live_hashes(&index, &dir)?;
        let ids: Vec<&str> = held.keys().map(String::as_str).collect();
        let groups = groups_fingerprint(&ids, group_of);
        let (Some(shard_groups), Some(shard_rows)) = (payload.groups, payload.rows) else {
            return stale("no record of its petitions");
        };
        if shard_groups != groups {
            return stale("other case groups");
        }
        std::hash::Hasher::write(&mut all_groups, groups.as_bytes());
        rows.push(shard_rows);
        docs += ids.len() as u64;
        let b = read_built(&dir, ids.len() as u64);
        did.added += b.added;
        did.updated += b.updated;
        did.deleted += b.deleted;
        did.unchanged += b.unchanged;
    }
    if docs != store_rows {
        return Err(Error::Usage(format!(
            "the shards in `{}` hold {docs} petitions, the store {store_rows}: a shard is missing or was built from another store",
            from.display()
        )));
    }
    let kept = rows.iter().filter(|r| before.contains(*r)).count() as u64;
    let layout = Layout {
        schema: SCHEMA_VERSION,
        tokenizer: tokenizer.fingerprint().to_string(),
        groups: format!("{:016x}", std::hash::Hasher::finish(&all_groups)),
        docs,
        shards: names,
        rows,
    };
    crate::fsutil::write_atomic(
        &from.join(LAYOUT_FILE),
        &serde_json::to_vec_pretty(&layout)?,
    )?;
    crate::fsutil::replace_dir(from, index_dir)?;
    Ok(IndexSummary {
        docs,
        // an index was there and no shard came from it
        rebuilt: replaces && did.added == docs,
        shards: layout.shards.len() as u64,
        kept_shards: kept,
        ..did
    })
}
