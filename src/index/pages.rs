//! Which hits make a page, over one index or over the shards of a sharded one (`shards.rs`):
//! BM25 statistics of all shards, each shard's first hits by score (ties by id) or by date, and
//! the merge of the shards' pages with their totals and counts.

use std::collections::HashMap;
use std::sync::Mutex;

use rayon::prelude::*;
use tantivy::collector::sort_key::{SortBySimilarityScore, SortByStaticFastValue, SortByString};
use tantivy::collector::{Count, TopDocs};
use tantivy::columnar::StrColumn;
use tantivy::query::{Bm25StatisticsProvider, Query};
use tantivy::{DocAddress, Order, Score, Searcher, Term};

use super::search::{Stats, StatsCollector};
use crate::error::{Error, Result};

/// BM25 statistics summed over every shard's searcher: each shard scores its documents as one
/// index of all shards would. Each sum is taken once per search and kept: every shard's weight
/// asks for the same terms, which would otherwise cost shards × shards dictionary lookups.
pub(super) struct Global<'a> {
    searchers: &'a [Searcher],
    docs: Mutex<Option<u64>>,
    tokens: Mutex<HashMap<tantivy::schema::Field, u64>>,
    doc_freq: Mutex<HashMap<Term, u64>>,
}

impl<'a> Global<'a> {
    pub(super) fn new(searchers: &'a [Searcher]) -> Global<'a> {
        Global {
            searchers,
            docs: Mutex::default(),
            tokens: Mutex::default(),
            doc_freq: Mutex::default(),
        }
    }
}

/// The value kept under `key` in `memo`, else `sum()` (kept).
fn memo<K: std::hash::Hash + Eq + Clone>(
    memo: &Mutex<HashMap<K, u64>>,
    key: &K,
    sum: impl FnOnce() -> tantivy::Result<u64>,
) -> tantivy::Result<u64> {
    if let Some(v) = memo.lock().unwrap_or_else(|p| p.into_inner()).get(key) {
        return Ok(*v);
    }
    let v = sum()?;
    memo.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key.clone(), v);
    Ok(v)
}

impl Bm25StatisticsProvider for Global<'_> {
    fn total_num_tokens(&self, field: tantivy::schema::Field) -> tantivy::Result<u64> {
        memo(&self.tokens, &field, || {
            self.searchers
                .iter()
                .map(|s| Bm25StatisticsProvider::total_num_tokens(s, field))
                .sum()
        })
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        if docs.is_none() {
            *docs = Some(
                self.searchers
                    .iter()
                    .map(Bm25StatisticsProvider::total_num_docs)
                    .sum::<tantivy::Result<u64>>()?,
            );
        }
        Ok(docs.unwrap_or_default())
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        memo(&self.doc_freq, term, || {
            self.searchers.iter().map(|s| s.doc_freq(term)).sum()
        })
    }
}

/// One page of hits: shard, score (None when sorted by date) and address in the shard.
pub(super) type ShardPage = Vec<(usize, Option<Score>, DocAddress)>;
/// One page of hits by score: shard, score and address in the shard.
pub(super) type ScoredPage = Vec<(usize, Score, DocAddress)>;

/// The hits `offset..offset + limit` of `query` by score, ties by id, over every shard of
/// `global` (each scored with the statistics of all), with the number of matches when `count` and the facet
/// and week counts when `stats`. Each shard's first `offset + limit` hits in that order hold
/// the merged page's.
pub(super) fn by_score(
    global: &Global,
    query: &dyn Query,
    offset: usize,
    limit: usize,
    count: bool,
    stats: Option<StatsCollector>,
) -> Result<(ScoredPage, usize, Option<Stats>)> {
    let searchers = global.searchers;
    let shard = |searcher: &Searcher, offset: usize, limit: usize| {
        let docs = (searcher.num_docs() as usize).max(1);
        let top = TopDocs::with_limit(tie_room(offset + limit).min(docs)).order_by_score();
        // TopDocs alone prunes by block-max scores; beside a counting collector it cannot
        let (p, n, s) = if count || stats.is_some() {
            let collector = (top, count.then_some(Count), stats.clone());
            searcher.search_with_statistics_provider(query, &collector, global)?
        } else {
            let p = searcher.search_with_statistics_provider(query, &top, global)?;
            (p, None, None)
        };
        let page = settle_ties(searcher, query, global, p, offset, limit)?;
        Ok::<_, Error>((page, n.unwrap_or(0), s))
    };
    if let [searcher] = searchers {
        // one index: its own page, no ids to read unless scores tie across the page's edges
        let (page, n, s) = shard(searcher, offset, limit)?;
        return Ok((page.into_iter().map(|(s, a)| (0, s, a)).collect(), n, s));
    }
    let end = offset + limit;
    let parts = searchers
        .par_iter()
        .map(|searcher| shard(searcher, 0, end))
        .collect::<Result<Vec<_>>>()?;
    let (mut merged, total, all_stats) = gather(parts);
    // By score; the ids are read only when equal scores straddle an edge of the page (inside
    // it, the hits are put in id order once they have their ids), as in `settle_ties`.
    merged.sort_by(|x, y| y.0.total_cmp(&x.0));
    let straddles = |i: usize| i > 0 && i < merged.len() && merged[i - 1].0 == merged[i].0;
    if straddles(offset) || straddles(end) {
        let mut keyed = Vec::with_capacity(merged.len());
        for (k, searcher) in searchers.iter().enumerate() {
            let mine: Vec<_> = merged.iter().filter(|m| m.1 == k).collect();
            let ids = ids_of(searcher, mine.iter().map(|m| m.2))?;
            keyed.extend(
                mine.into_iter()
                    .zip(ids)
                    .map(|(&(s, k, a), id)| (s, id, k, a)),
            );
        }
        keyed.sort_by(|x, y| y.0.total_cmp(&x.0).then_with(|| x.1.cmp(&y.1)));
        merged = keyed.into_iter().map(|(s, _, k, a)| (s, k, a)).collect();
    }
    let page = merged
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(s, k, a)| (k, s, a))
        .collect();
    Ok((page, total, all_stats))
}

/// The hits `offset..offset + limit` of `query` newest first (ties by id, descending) over
/// every shard, with the number of matches and the facet and week counts when `stats`.
pub(super) fn by_date(
    searchers: &[Searcher],
    query: &dyn Query,
    offset: usize,
    limit: usize,
    stats: Option<StatsCollector>,
) -> Result<(ShardPage, usize, Option<Stats>)> {
    let shard = |searcher: &Searcher, offset: usize, limit: usize| {
        let by_date = TopDocs::with_limit(limit).and_offset(offset).order_by((
            (
                SortByStaticFastValue::<tantivy::DateTime>::for_field("received_at"),
                Order::Desc,
            ),
            (SortByString::for_field("id"), Order::Desc),
        ));
        searcher.search(query, &(by_date, Count, stats.clone()))
    };
    if let [searcher] = searchers {
        let (p, n, s) = shard(searcher, offset, limit)?;
        return Ok((p.into_iter().map(|(_, a)| (0, None, a)).collect(), n, s));
    }
    let parts = searchers
        .par_iter()
        .map(|searcher| shard(searcher, 0, offset + limit))
        .collect::<tantivy::Result<Vec<_>>>()?;
    let (mut merged, total, all_stats) = gather(parts);
    merged.sort_by(|x, y| y.0.cmp(&x.0));
    let page = merged
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, k, a)| (k, None, a))
        .collect();
    Ok((page, total, all_stats))
}

/// One shard's answer: its page (sort key, address), total and counts.
type ShardAnswer<K> = (Vec<(K, DocAddress)>, usize, Option<Stats>);
/// The shards' pages as one list of (sort key, shard, address), totals and counts added up.
type Gathered<K> = (Vec<(K, usize, DocAddress)>, usize, Option<Stats>);

/// Each shard's page, total and counts gathered (see [`Gathered`]).
fn gather<K>(parts: Vec<ShardAnswer<K>>) -> Gathered<K> {
    let mut merged = Vec::new();
    let (mut total, mut all_stats) = (0, None::<Stats>);
    for (k, (page, n, s)) in parts.into_iter().enumerate() {
        total += n;
        if let Some(s) = s {
            all_stats.get_or_insert_with(Stats::default).absorb(s);
        }
        merged.extend(page.into_iter().map(|(key, a)| (key, k, a)));
    }
    (merged, total, all_stats)
}

/// The ids of hits of one searcher, from the id fast field (one column per segment, opened
/// once: opening one per hit was most of the cost).
fn ids_of(searcher: &Searcher, addrs: impl Iterator<Item = DocAddress>) -> Result<Vec<String>> {
    let mut columns: Vec<Option<Option<StrColumn>>> = vec![None; searcher.segment_readers().len()];
    let mut out = Vec::new();
    for a in addrs {
        let slot = &mut columns[a.segment_ord as usize];
        if slot.is_none() {
            let reader = searcher.segment_reader(a.segment_ord);
            *slot = Some(reader.fast_fields().str("id")?);
        }
        let mut id = String::new();
        if let Some(Some(col)) = slot {
            if let Some(ord) = col.ords().first(a.doc_id) {
                col.ord_to_str(ord, &mut id)
                    .map_err(|e| Error::Internal(format!("the index's id column: {e}")))?;
            }
        }
        out.push(id);
    }
    Ok(out)
}

/// The hits `offset..offset + limit` by score with ties by id, from `top`: the fast top-k by
/// score (block-max pruning) of the first [`tie_room`]`(offset + limit)` hits. Equal scores inside the
/// page are put in id order by `search::by_score_then_id` once the hits have their ids. When equal
/// scores straddle an edge of the page, which of them belong on it would be up to the index's
/// layout: the top-k is widened until every hit tied with the page's lowest score is in, and
/// those are ordered by id (a few dozen copies of one text, typically). A tie wider than
/// [`TIE_WIDEN_MAX`] (a search by filters alone, where every hit scores the same) takes the page
/// with the id as a second key instead, which scores every match without pruning (three times
/// the p50 at 200k rows when used for every search).
fn settle_ties(
    searcher: &Searcher,
    query: &dyn Query,
    global: &Global,
    mut top: Vec<(Score, DocAddress)>,
    offset: usize,
    limit: usize,
) -> Result<Vec<(Score, DocAddress)>> {
    let end = (offset + limit).min(top.len());
    let straddles =
        |top: &[(Score, DocAddress)], i: usize| i > 0 && i < top.len() && top[i - 1].0 == top[i].0;
    if !(straddles(&top, offset) || straddles(&top, end)) {
        return Ok(top[offset.min(end)..end].to_vec());
    }
    let lowest = top[end - 1].0;
    let mut k = top.len();
    while top.len() == k && top[k - 1].0 == lowest {
        k *= 2;
        if k > TIE_WIDEN_MAX {
            let by_score_then_id = TopDocs::with_limit(limit).and_offset(offset).order_by((
                (SortBySimilarityScore, Order::Desc),
                (SortByString::for_field("id"), Order::Asc),
            ));
            let page =
                searcher.search_with_statistics_provider(query, &by_score_then_id, global)?;
            return Ok(page.into_iter().map(|((s, _), a)| (s, a)).collect());
        }
        top = searcher.search_with_statistics_provider(
            query,
            &TopDocs::with_limit(k).order_by_score(),
            global,
        )?;
    }
    let ids = ids_of(searcher, top.iter().map(|(_, a)| *a))?;
    let mut keyed: Vec<(Score, String, DocAddress)> = top
        .into_iter()
        .zip(ids)
        .map(|((s, a), id)| (s, id, a))
        .collect();
    keyed.sort_by(|x, y| y.0.total_cmp(&x.0).then_with(|| x.1.cmp(&y.1)));
    Ok(keyed[offset.min(end)..end]
        .iter()
        .map(|(s, _, a)| (*s, *a))
        .collect())
}

/// How many hits to take by score for a page ending at hit `end`: twice the page, so equal
/// scores across its end are usually all in without a second search (searching twice doubled
/// the p99 at 200k rows; a top-k twice as long costs little).
fn tie_room(end: usize) -> usize {
    2 * end + 1
}

/// Hits [`settle_ties`] reads ids for at most; beyond, it sorts with the id as second key.
pub(super) const TIE_WIDEN_MAX: usize = 4096;
