//! A sharded index: `index/shards.json` naming one tantivy index per shard folder
//! (`index/00000/`, …). The Spark job builds it (docs/spark.md): after the reduce has grouped,
//! each task indexes one row group of the store with `minqing worker index`, and
//! `minqing worker shards` checks the shards and installs them as the run's index in one rename.
//! Search fans out over the shards with the BM25 statistics of all of them (search.rs), so a
//! sharded index answers every search as one index holding the same petitions does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{build_with, open_index, read_payload, IndexSummary, SCHEMA_VERSION};
use crate::error::{Error, Result};
use crate::schema::Record;
use crate::tokenize::Tokenizer;

/// The layout file of a sharded index folder.
pub const LAYOUT_FILE: &str = "shards.json";

/// What `shards.json` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub schema: u32,
    /// Fingerprint of the tokenizer every shard was built with.
    pub tokenizer: String,
    /// [`groups_fingerprint`] of the group ids every shard carries.
    pub groups: String,
    /// Documents in all shards.
    pub docs: u64,
    /// Shard folders, relative to the index folder, in row-group order.
    pub shards: Vec<String>,
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

/// A fingerprint of the petitions' group ids (the crate's fixed hasher over the pairs in id
/// order): a shard indexed before the latest grouping would show other groups than the brief.
pub fn groups_fingerprint(group_of: &HashMap<&str, &str>) -> String {
    use std::hash::Hasher;
    let mut pairs: Vec<(&str, &str)> = group_of.iter().map(|(i, g)| (*i, *g)).collect();
    pairs.sort_unstable();
    let mut h = crate::fxhash::FxHasher::default();
    for (id, g) in pairs {
        h.write(id.as_bytes());
        h.write_u8(0xff);
        h.write(g.as_bytes());
        h.write_u8(0xfe);
    }
    format!("{:016x}", h.finish())
}

/// Builds the shard of `records` (one row group of the store) at `dir`, always afresh: an
/// index updated in place keeps deleted documents in its statistics until segments merge,
/// which would make the shards' scores depend on their history.
pub fn build_shard(
    dir: &Path,
    records: &[Record],
    tokenizer: &Tokenizer,
    group_of: &HashMap<&str, &str>,
) -> Result<IndexSummary> {
    super::refuse_foreign(dir)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(Error::io("remove", dir))?;
    }
    build_with(
        dir,
        records,
        tokenizer,
        group_of,
        Some(groups_fingerprint(group_of)),
    )
}

/// Checks the shards in `from` (built by `minqing worker index` from this run's store and
/// groups) and makes `from` the index folder `index_dir`: every shard of this schema, tokenizer
/// and grouping, and as many documents as the store holds. `from` is renamed, not copied (it
/// must be on the run folder's file system).
pub fn install(
    from: &Path,
    index_dir: &Path,
    tokenizer: &Tokenizer,
    group_of: &HashMap<&str, &str>,
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
    let groups = groups_fingerprint(group_of);
    let mut docs = 0u64;
    for n in &names {
        let dir = from.join(n);
        let index = open_index(&dir)?;
        let stale = |what: &str| {
            Err(Error::Usage(format!(
                "shard `{}` was built with {what} than this run's; run `minqing worker index` on it again",
                dir.display()
            )))
        };
        match read_payload(&index) {
            Some(p) if p.schema != SCHEMA_VERSION => return stale("another index schema"),
            Some(p) if p.tokenizer != tokenizer.fingerprint() => {
                return stale("another dictionary or stopwords")
            }
            Some(p) if p.groups.as_deref() != Some(groups.as_str()) => {
                return stale("other case groups")
            }
            Some(_) => {}
            None => return stale("no record of its settings"),
        }
        docs += index.reader()?.searcher().num_docs();
    }
    if docs != store_rows {
        return Err(Error::Usage(format!(
            "the shards in `{}` hold {docs} petitions, the store {store_rows}: a shard is missing or was built from another store",
            from.display()
        )));
    }
    let layout = Layout {
        schema: SCHEMA_VERSION,
        tokenizer: tokenizer.fingerprint().to_string(),
        groups,
        docs,
        shards: names,
    };
    crate::fsutil::write_atomic(
        &from.join(LAYOUT_FILE),
        &serde_json::to_vec_pretty(&layout)?,
    )?;
    crate::fsutil::replace_dir(from, index_dir)?;
    Ok(IndexSummary {
        docs,
        added: docs,
        rebuilt: replaces,
        shards: layout.shards.len() as u64,
        ..IndexSummary::default()
    })
}
