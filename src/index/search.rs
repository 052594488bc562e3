//! Searching an index: hits with highlighted snippets, total, facets, weekly histogram; and
//! `similar`.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use serde::Serialize;
use tantivy::collector::{Collector, SegmentCollector, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentReader;
use tantivy::query::{
    AllQuery, Bm25StatisticsProvider, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query,
    RangeQuery, TermQuery,
};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, ReloadPolicy, Score, Searcher, TantivyDocument, Term,
};

use super::pages::{by_date, by_score, Global};
use super::query::{build_query, channel_query, parse_query, region_query, Atom, Clause};
use super::scope::Scope;
use super::{fields_of, open_index, read_payload, Fields};
use crate::error::{Error, Result};
use crate::fxhash::FastMap;
use crate::tokenize::{fold, Tokenizer};

/// How hits are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// BM25 (title matches count double; whole jieba words get a bonus).
    #[default]
    Relevance,
    /// Newest first.
    Date,
}

/// A search: the query plus the flag filters of `minqing search`.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: String,
    /// Received on or after this day.
    pub from: Option<NaiveDate>,
    /// Received on or before this day.
    pub to: Option<NaiveDate>,
    /// A region level name or a `/` path prefix.
    pub region: Option<String>,
    pub channel: Option<String>,
    pub category: Option<String>,
    pub status: Option<String>,
    /// Responsible unit, exact.
    pub unit: Option<String>,
    /// Case group id (`G0007`), exact.
    pub group: Option<String>,
    /// Only petitions this reader may see (hits, total, facets and weeks alike).
    pub scope: Option<Scope>,
    pub sort: Sort,
    pub limit: usize,
    pub offset: usize,
    /// Count hits by region / category / channel / status.
    pub facets: bool,
    /// Count hits by ISO week.
    pub by_week: bool,
    /// Snippet length in characters.
    pub snippet_chars: usize,
}

impl SearchRequest {
    pub fn new(query: impl Into<String>) -> SearchRequest {
        SearchRequest {
            query: query.into(),
            from: None,
            to: None,
            region: None,
            channel: None,
            category: None,
            status: None,
            unit: None,
            group: None,
            scope: None,
            sort: Sort::Relevance,
            limit: 20,
            offset: 0,
            facets: false,
            by_week: false,
            snippet_chars: 100,
        }
    }

    fn has_filters(&self) -> bool {
        self.from.is_some()
            || self.to.is_some()
            || self.region.is_some()
            || self.channel.is_some()
            || self.category.is_some()
            || self.status.is_some()
            || self.unit.is_some()
            || self.group.is_some()
    }
}

/// Text with highlighted spans, as character offsets `[start, end)` into `text`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Highlighted {
    pub text: String,
    pub marks: Vec<(usize, usize)>,
}

impl Highlighted {
    /// The text with every mark wrapped in `open` … `close` (no escaping).
    pub fn render(&self, open: &str, close: &str) -> String {
        self.render_with(open, close, |s, out| out.push_str(s))
    }

    /// HTML: text escaped, marks as `<mark>…</mark>`.
    pub fn html(&self) -> String {
        self.render_with("<mark>", "</mark>", crate::fmt::push_escaped)
    }

    fn render_with(&self, open: &str, close: &str, push: impl Fn(&str, &mut String)) -> String {
        let chars: Vec<char> = self.text.chars().collect();
        let mut out = String::with_capacity(self.text.len() + self.marks.len() * 8);
        let mut at = 0;
        let piece = |a: usize, b: usize| chars[a..b].iter().collect::<String>();
        for &(s, e) in &self.marks {
            let (s, e) = (s.clamp(at, chars.len()), e.min(chars.len()));
            if s >= e {
                continue;
            }
            push(&piece(at, s), &mut out);
            out.push_str(open);
            push(&piece(s, e), &mut out);
            out.push_str(close);
            at = e;
        }
        push(&piece(at, chars.len()), &mut out);
        out
    }
}

/// One search or similarity hit.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub id: String,
    /// BM25 score (relevance sort), or for `similar` the score relative to the petition's own
    /// score (1.0 = as similar as itself); `None` when sorted by date.
    pub score: Option<f32>,
    pub received_at: NaiveDateTime,
    pub channel: String,
    pub region: String,
    pub category: Option<String>,
    pub status: Option<String>,
    pub responsible_unit: Option<String>,
    pub group_id: Option<String>,
    pub title: Highlighted,
    pub snippet: Highlighted,
}

/// Hit counts by value, most frequent first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FacetCounts {
    /// By region, first two levels (`A市/A5区`).
    pub region: Vec<(String, u64)>,
    pub category: Vec<(String, u64)>,
    pub channel: Vec<(String, u64)>,
    pub status: Vec<(String, u64)>,
    /// By responsible unit.
    pub unit: Vec<(String, u64)>,
    /// By case group id ([`NONE_LABEL`]: in no group).
    pub group: Vec<(String, u64)>,
}

/// Hits in one ISO week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeekCount {
    /// `2019-W09`.
    pub week: String,
    /// The Monday.
    pub start: NaiveDate,
    pub count: u64,
}

/// The answer to a [`SearchRequest`].
#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    /// All matching documents.
    pub total: u64,
    /// The requested page.
    pub hits: Vec<Hit>,
    pub facets: Option<FacetCounts>,
    /// Every week from the first to the last hit, empty weeks included.
    pub weeks: Option<Vec<WeekCount>>,
}

/// Label of a missing facet value.
pub const NONE_LABEL: &str = "(none)";

/// An opened index: open once, search many times. A sharded index (the Spark job's, see
/// `shards.rs`) is searched shard by shard with the BM25 statistics of all shards together, and
/// the shards' pages are merged by score (ties by id) or by date: the same hits, scores and
/// counts as one index holding the same petitions.
pub struct IndexHandle {
    /// One reader per shard (one for a single index).
    readers: Vec<IndexReader>,
    fields: Fields,
    fingerprint: Option<String>,
    facet_dicts: FacetDicts,
    /// Where the index is, for errors.
    dir: std::path::PathBuf,
}

/// Opens one tantivy index for searching.
fn open_shard(dir: &Path) -> Result<(Index, IndexReader)> {
    let mut index = open_index(dir)?;
    let open_reader = |index: &Index| -> tantivy::Result<IndexReader> {
        index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
    };
    let reader = match open_reader(&index) {
        Ok(r) => r,
        // The folder is not writable (an archived run on a read-only share): tantivy's
        // reader could not create its lock file. Searching needs no lock there.
        Err(tantivy::TantivyError::LockFailure(..)) => {
            index = super::open_index_read_only(dir)?;
            open_reader(&index)?
        }
        Err(e) => return Err(e.into()),
    };
    Ok((index, reader))
}

impl IndexHandle {
    pub fn open(dir: &Path) -> Result<IndexHandle> {
        let (dirs, layout) = match super::shards::read_layout(dir)? {
            Some(l) => (super::shards::shard_dirs(dir, &l), Some(l)),
            None => (vec![dir.to_path_buf()], None),
        };
        let mut readers = Vec::with_capacity(dirs.len());
        let mut first: Option<(tantivy::schema::Schema, Option<String>)> = None;
        for d in &dirs {
            let (index, reader) = open_shard(d)?;
            let payload = read_payload(&index).map(|p| p.tokenizer);
            match &first {
                None => first = Some((index.schema(), payload)),
                Some((schema, tok)) => {
                    if index.schema() != *schema || payload != *tok {
                        return Err(Error::Corrupt {
                            path: d.clone(),
                            message: "this shard was built with another schema or tokenizer than the first".into(),
                        });
                    }
                }
            }
            readers.push(reader);
        }
        let Some((schema, payload)) = first else {
            return Err(Error::Corrupt {
                path: dir.to_path_buf(),
                message: "its shard list names no shard".into(),
            });
        };
        Ok(IndexHandle {
            readers,
            fields: fields_of(&schema)?,
            fingerprint: layout.map(|l| l.tokenizer).or(payload),
            facet_dicts: FacetDicts::default(),
            dir: dir.to_path_buf(),
        })
    }

    /// Number of live documents.
    pub fn num_docs(&self) -> u64 {
        self.readers.iter().map(|r| r.searcher().num_docs()).sum()
    }

    /// Shards searched (1 for one index).
    pub fn shards(&self) -> usize {
        self.readers.len()
    }

    /// Whether the index was built with this tokenizer (else ranking bonuses and `similar` may
    /// see other words than the index; matching itself does not depend on jieba).
    pub fn same_tokenizer(&self, tok: &Tokenizer) -> bool {
        self.fingerprint.as_deref() == Some(tok.fingerprint())
    }

    fn searchers(&self) -> Vec<Searcher> {
        self.readers.iter().map(IndexReader::searcher).collect()
    }

    /// Runs a search.
    pub fn search(&self, req: &SearchRequest, tok: &Tokenizer) -> Result<SearchResults> {
        let f = &self.fields;
        let clauses = parse_query(&req.query)?;
        if clauses.is_empty() && !req.has_filters() {
            return Err(Error::Query {
                query: req.query.clone(),
                message: "empty query (give words to search for, or at least one filter)".into(),
            });
        }
        let mut parts = build_query(f, &clauses, &req.query, tok)?;
        let filter = |q: Box<dyn Query>| {
            (
                Occur::Must,
                Box::new(ConstScoreQuery::new(q, 0.0)) as Box<dyn Query>,
            )
        };
        if req.from.is_some() || req.to.is_some() {
            let day = |d: NaiveDate| {
                Term::from_field_date(
                    f.received_at,
                    tantivy::DateTime::from_timestamp_secs(
                        d.and_hms_opt(0, 0, 0)
                            .unwrap_or_default()
                            .and_utc()
                            .timestamp(),
                    ),
                )
            };
            let lo = req
                .from
                .map_or(Bound::Unbounded, |d| Bound::Included(day(d)));
            let hi = req.to.map_or(Bound::Unbounded, |d| {
                Bound::Excluded(day(d + Duration::days(1)))
            });
            parts.push(filter(Box::new(RangeQuery::new(lo, hi))));
        }
        if let Some(r) = req.region.as_deref() {
            parts.push(filter(region_query(f, r)));
        }
        if let Some(c) = req.channel.as_deref() {
            parts.push(filter(channel_query(f, c, &req.query)?));
        }
        if let Some(q) = req.scope.as_ref().and_then(|s| s.query(f)) {
            parts.push(filter(q));
        }
        for (field, v) in [
            (f.category, &req.category),
            (f.status, &req.status),
            (f.unit, &req.unit),
            (f.group_id, &req.group),
        ] {
            if let Some(v) = v.as_deref() {
                parts.push(filter(Box::new(TermQuery::new(
                    Term::from_field_text(field, v),
                    IndexRecordOption::Basic,
                ))));
            }
        }
        if !parts.iter().any(|(o, _)| *o == Occur::Must) {
            parts.push((Occur::Must, Box::new(AllQuery)));
        }
        let query = BooleanQuery::new(parts);
        let searchers = self.searchers();
        // The collector reserves room for `limit` hits: never more than there are documents.
        let docs = (searchers.iter().map(|s| s.num_docs()).sum::<u64>() as usize).max(1);
        let (offset, limit) = (req.offset.min(docs), req.limit.clamp(1, docs));
        let stats = (req.facets || req.by_week).then(|| StatsCollector {
            facets: req.facets,
            weeks: req.by_week,
            dicts: self.facet_dicts.clone(),
        });
        // Ties are listed by id, never by where a document sits in the index: which segment
        // (or shard) holds a petition depends on the indexing threads, and the same search over
        // the same petitions must list them in the same order (two runs, or a Spark run).
        let (page, total, seg_stats) = match req.sort {
            Sort::Relevance => {
                let global = Global::new(&searchers);
                let (p, n, s) = by_score(&global, &query, offset, limit, true, stats)?;
                let p = p.into_iter().map(|(k, s, a)| (k, Some(s), a)).collect();
                (p, n, s)
            }
            Sort::Date => by_date(&searchers, &query, offset, limit, stats)?,
        };
        let marks = marked_terms(&clauses);
        let mut hits = Vec::new();
        if req.limit > 0 {
            for (k, score, addr) in page {
                hits.push(self.hit(&searchers[k], addr, score, &marks, req.snippet_chars)?);
            }
        }
        // equal scores inside the page: by id (the page's edges are settled above)
        by_score_then_id(&mut hits);
        let (facets, weeks) = match seg_stats {
            Some(s) => (
                req.facets.then(|| s.facet_counts()),
                req.by_week.then(|| s.week_counts()),
            ),
            None => (None, None),
        };
        Ok(SearchResults {
            total: total as u64,
            hits,
            facets,
            weeks,
        })
    }

    fn hit(
        &self,
        searcher: &tantivy::Searcher,
        addr: DocAddress,
        score: Option<Score>,
        marks: &[String],
        snippet_chars: usize,
    ) -> Result<Hit> {
        let f = &self.fields;
        let doc: TantivyDocument = searcher.doc(addr)?;
        let s = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let title = s(f.title).unwrap_or_default();
        let content = s(f.content).unwrap_or_default();
        let received_at = doc
            .get_first(f.received_at)
            .and_then(|v| v.as_datetime())
            .and_then(|d| chrono::DateTime::from_timestamp(d.into_timestamp_secs(), 0))
            .map(|d| d.naive_utc())
            .unwrap_or_default();
        let title_marks = find_marks(&title, marks);
        Ok(Hit {
            id: s(f.id).unwrap_or_default(),
            score,
            received_at,
            channel: s(f.channel).unwrap_or_default(),
            region: s(f.region_path).unwrap_or_default(),
            category: s(f.category),
            status: s(f.status),
            responsible_unit: s(f.unit),
            group_id: s(f.group_id),
            title: Highlighted {
                text: title,
                marks: title_marks,
            },
            snippet: snippet(&content, marks, snippet_chars),
        })
    }

    /// The most similar petitions received no later than `id` (itself excluded).
    ///
    /// Similarity: the petition's jieba words (title + content, stopwords and words of one or
    /// more than [`SIMILAR_MAX_WORD_CHARS`] characters dropped) are weighted by TF·IDF over the index; the top [`SIMILAR_TERMS`] become a
    /// BM25 OR-query over the `words` field, each term boosted by `1 + ln(tf)`. Scores are divided
    /// by the petition's own score under the same query, so 1.0 means "as close as itself".
    pub fn similar(&self, id: &str, limit: usize, tok: &Tokenizer) -> Result<Vec<Hit>> {
        self.similar_in(id, limit, tok, None)
    }

    /// [`IndexHandle::similar`] among the petitions `scope` admits.
    pub fn similar_in(
        &self,
        id: &str,
        limit: usize,
        tok: &Tokenizer,
        scope: Option<&Scope>,
    ) -> Result<Vec<Hit>> {
        let f = &self.fields;
        let searchers = self.searchers();
        let global = Global::new(&searchers);
        let id_term = Term::from_field_text(f.id, id);
        let mut found = None;
        for (k, searcher) in searchers.iter().enumerate() {
            let top = searcher.search(
                &TermQuery::new(id_term.clone(), IndexRecordOption::Basic),
                &TopDocs::with_limit(1).order_by_score(),
            )?;
            if let Some(&(_, addr)) = top.first() {
                found = Some((k, addr));
                break;
            }
        }
        let Some((shard, addr)) = found else {
            return Err(Error::Usage(format!(
                "no petition with id `{id}` in the index"
            )));
        };
        let searcher = &searchers[shard];
        let doc: TantivyDocument = searcher.doc(addr)?;
        let text = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let (title, content) = (text(f.title), text(f.content));
        let received = doc
            .get_first(f.received_at)
            .and_then(|v| v.as_datetime())
            .ok_or_else(|| Error::Corrupt {
                path: self.dir.clone(),
                message: format!("petition `{id}` has no date"),
            })?;
        let mut tf: HashMap<String, u32> = HashMap::new();
        for w in tok.words(&title).into_iter().chain(tok.words(&content)) {
            // One-character words carry little; very long ones are HMM run-ons (`临街门面长期油烟直排`)
            // that no other petition repeats.
            if (2..=SIMILAR_MAX_WORD_CHARS).contains(&w.chars().count()) {
                *tf.entry(w).or_default() += 1;
            }
        }
        let docs = searchers.iter().map(|s| s.num_docs()).sum::<u64>();
        let n = docs as f64;
        let mut weighted: Vec<(String, u32, f64)> = Vec::new();
        for (w, c) in tf {
            let df = global.doc_freq(&Term::from_field_text(f.words, &w))? as f64;
            if df == 0.0 {
                continue;
            }
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            weighted.push((w, c, c as f64 * idf));
        }
        weighted.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        weighted.truncate(SIMILAR_TERMS);
        if weighted.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let terms = || -> Box<dyn Query> {
            Box::new(BooleanQuery::new(
                weighted
                    .iter()
                    .map(|(w, c, _)| {
                        (
                            Occur::Should,
                            Box::new(BoostQuery::new(
                                Box::new(TermQuery::new(
                                    Term::from_field_text(f.words, w),
                                    IndexRecordOption::WithFreqs,
                                )),
                                1.0 + (*c as f32).ln(),
                            )) as Box<dyn Query>,
                        )
                    })
                    .collect(),
            ))
        };
        let own = searcher.search_with_statistics_provider(
            &BooleanQuery::new(vec![
                (Occur::Must, terms()),
                (
                    Occur::Must,
                    Box::new(ConstScoreQuery::new(
                        Box::new(TermQuery::new(id_term.clone(), IndexRecordOption::Basic)),
                        0.0,
                    )),
                ),
            ]),
            &TopDocs::with_limit(1).order_by_score(),
            &global,
        )?;
        let own_score = own.first().map_or(1.0, |(s, _)| *s).max(f32::EPSILON);
        let earlier = RangeQuery::new(
            Bound::Unbounded,
            Bound::Included(Term::from_field_date(f.received_at, received)),
        );
        let mut parts: Vec<(Occur, Box<dyn Query>)> = vec![
            (Occur::Must, terms()),
            (
                Occur::Must,
                Box::new(ConstScoreQuery::new(Box::new(earlier), 0.0)),
            ),
            (
                Occur::MustNot,
                Box::new(TermQuery::new(id_term, IndexRecordOption::Basic)),
            ),
        ];
        if let Some(q) = scope.and_then(|s| s.query(f)) {
            parts.push((Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0))));
        }
        let query = BooleanQuery::new(parts);
        let limit = limit.min(docs as usize).max(1);
        // ties by id, as in `search`
        // the same statistics (and their kept sums) as the words' weights and the own score
        let (top, _, _) = by_score(&global, &query, 0, limit, false, None)?;
        let marks: Vec<String> = weighted.iter().map(|(w, _, _)| w.clone()).collect();
        let mut hits = top
            .into_iter()
            .map(|(k, s, a)| self.hit(&searchers[k], a, Some(s / own_score), &marks, 100))
            .collect::<Result<Vec<_>>>()?;
        by_score_then_id(&mut hits);
        Ok(hits)
    }
}

/// Hits in descending score, equal scores by ascending id (a stable sort: hits without a score,
/// sorted by date, keep their order).
fn by_score_then_id(hits: &mut [Hit]) {
    hits.sort_by(|a, b| match (a.score, b.score) {
        (Some(x), Some(y)) => y.total_cmp(&x).then_with(|| a.id.cmp(&b.id)),
        _ => std::cmp::Ordering::Equal,
    });
}

/// Terms of a petition that make up its `similar` query.
pub const SIMILAR_TERMS: usize = 25;
/// Longest word (in characters) `similar` uses.
pub const SIMILAR_MAX_WORD_CHARS: usize = 6;

/// Searches the index in `dir` (opens it; use [`IndexHandle`] for many queries).
pub fn search(dir: &Path, req: &SearchRequest, tok: &Tokenizer) -> Result<SearchResults> {
    IndexHandle::open(dir)?.search(req, tok)
}

/// Most similar earlier petitions to `id` (see [`IndexHandle::similar`]).
pub fn similar(dir: &Path, id: &str, limit: usize, tok: &Tokenizer) -> Result<Vec<Hit>> {
    IndexHandle::open(dir)?.similar(id, limit, tok)
}

/// The texts a search highlights: every positive word or phrase of the query.
pub fn marked_terms(clauses: &[Clause]) -> Vec<String> {
    clauses
        .iter()
        .filter(|c| !c.negated)
        .flat_map(|c| c.alternatives.iter())
        .filter_map(|a| match a {
            Atom::Text { text, .. } => Some(text.clone()),
            Atom::Field { .. } => None,
        })
        .collect()
}

/// Every occurrence of every term in `text` (folded comparison), merged, as char offsets.
pub fn find_marks(text: &str, terms: &[String]) -> Vec<(usize, usize)> {
    let hay: Vec<char> = fold(text).chars().collect();
    let mut spans = Vec::new();
    for t in terms {
        let needle: Vec<char> = t.chars().collect();
        if needle.is_empty() || needle.len() > hay.len() {
            continue;
        }
        for i in 0..=hay.len() - needle.len() {
            if hay[i..i + needle.len()] == needle[..] {
                spans.push((i, i + needle.len()));
            }
        }
    }
    spans.sort();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// A window of about `width` characters of `text` holding the most marks, blanks collapsed,
/// `…` where cut, with the marks' offsets in the snippet.
pub fn snippet(text: &str, terms: &[String], width: usize) -> Highlighted {
    let chars: Vec<char> = text.chars().collect();
    let marks = find_marks(text, terms);
    let width = width.max(10);
    // Skip leading blanks so the window starts at the text.
    let first_text = chars.iter().position(|c| !c.is_whitespace()).unwrap_or(0);
    let mut start = first_text;
    if let Some(&(s0, _)) = marks.first() {
        let mut best = (0usize, s0);
        for (k, &(s, _)) in marks.iter().enumerate() {
            let n = marks[k..]
                .iter()
                .take_while(|&&(_, e)| e <= s + width)
                .count();
            if n > best.0 {
                best = (n, s);
            }
        }
        let lead = width / 5;
        start = best.1.saturating_sub(lead).max(first_text);
        // If the window would run past the end, pull it back.
        if start + width > chars.len() {
            start = chars
                .len()
                .saturating_sub(width)
                .max(first_text)
                .min(best.1);
        }
    }
    let end = (start + width).min(chars.len());
    let mut out = String::new();
    let mut out_len = 0usize;
    let mut map = vec![0usize; end - start + 1];
    if start > first_text {
        out.push('…');
        out_len += 1;
    }
    let mut last_blank = false;
    for (k, &c) in chars[start..end].iter().enumerate() {
        map[k] = out_len;
        if c.is_whitespace() {
            if !last_blank && out_len > 0 {
                out.push(' ');
                out_len += 1;
            }
            last_blank = true;
        } else {
            out.push(c);
            out_len += 1;
            last_blank = false;
        }
    }
    map[end - start] = out_len;
    if out.ends_with(' ') {
        out.pop();
        out_len -= 1;
    }
    let body_end = out_len;
    if end < chars.len() && chars[end..].iter().any(|c| !c.is_whitespace()) {
        out.push('…');
    }
    let marks = marks
        .into_iter()
        .filter(|&(s, e)| s < end && e > start)
        .map(|(s, e)| {
            (
                map[s.max(start) - start].min(body_end),
                map[e.min(end) - start].min(body_end),
            )
        })
        .filter(|(s, e)| s < e)
        .collect();
    Highlighted { text: out, marks }
}

/// Facet and week counts of all hits, from fast fields.
#[derive(Clone)]
pub(super) struct StatsCollector {
    facets: bool,
    weeks: bool,
    dicts: FacetDicts,
}

/// The facet columns' term dictionaries, per segment and column, decoded once per opened index:
/// counting maps term ordinals to names by indexing, where decoding the dictionary blocks again
/// on every search was most of a search with facets (31 of 32 ms at the median over 1M
/// petitions, with thousands of region paths and case groups to name).
type FacetDicts = Arc<Mutex<HashMap<(tantivy::index::SegmentId, usize), Arc<Vec<String>>>>>;

fn dictionary(col: &StrColumn) -> std::io::Result<Vec<String>> {
    let mut names = Vec::with_capacity(col.num_terms());
    let mut stream = col.dictionary().stream()?;
    while stream.advance() {
        names.push(String::from_utf8_lossy(stream.key()).into_owned());
    }
    Ok(names)
}

const FACET_COLUMNS: [&str; 6] = [
    "region_path",
    "category",
    "channel",
    "status",
    "responsible_unit",
    "group_id",
];

#[derive(Default)]
pub(super) struct Stats {
    facets: [HashMap<String, u64>; 6],
    /// Monday (days since CE) → hits.
    weeks: HashMap<i32, u64>,
}

pub(super) struct StatsSegment {
    columns: Vec<Option<StrColumn>>,
    /// Per column, its term names by ordinal.
    names: Vec<Arc<Vec<String>>>,
    /// Per column, hits per term ordinal; the last slot counts documents without a value.
    counts: Vec<Vec<u64>>,
    date: Option<Column<tantivy::DateTime>>,
    weeks: FastMap<i32, u64>,
}

impl Collector for StatsCollector {
    type Fruit = Stats;
    type Child = StatsSegment;

    fn for_segment(&self, _: u32, seg: &SegmentReader) -> tantivy::Result<StatsSegment> {
        let ff = seg.fast_fields();
        let mut columns = Vec::new();
        let mut names = Vec::new();
        let mut counts = Vec::new();
        if self.facets {
            for (k, name) in FACET_COLUMNS.iter().enumerate() {
                let col = ff.str(name)?;
                counts.push(vec![0; col.as_ref().map_or(0, |c| c.num_terms()) + 1]);
                let key = (seg.segment_id(), k);
                let cached = self
                    .dicts
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&key)
                    .cloned();
                let dict = match (cached, &col) {
                    (Some(d), _) => d,
                    (None, Some(c)) => {
                        let d = Arc::new(dictionary(c)?);
                        self.dicts
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(key, d.clone());
                        d
                    }
                    (None, None) => Arc::default(),
                };
                names.push(dict);
                columns.push(col);
            }
        }
        let date = if self.weeks {
            Some(ff.date("received_at")?)
        } else {
            None
        };
        Ok(StatsSegment {
            columns,
            names,
            counts,
            date,
            weeks: FastMap::default(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Stats>) -> tantivy::Result<Stats> {
        let mut out = Stats::default();
        for s in fruits {
            out.absorb(s);
        }
        Ok(out)
    }
}

impl SegmentCollector for StatsSegment {
    type Fruit = Stats;

    fn collect(&mut self, doc: DocId, _: Score) {
        for (col, counts) in self.columns.iter().zip(self.counts.iter_mut()) {
            let slot = col
                .as_ref()
                .and_then(|c| c.term_ords(doc).next())
                .map_or(counts.len() - 1, |o| o as usize);
            counts[slot] += 1;
        }
        if let Some(d) = self.date.as_ref().and_then(|c| c.first(doc)) {
            if let Some(day) = chrono::DateTime::from_timestamp(d.into_timestamp_secs(), 0) {
                let monday = crate::calendar::week_monday(day.date_naive());
                *self.weeks.entry(monday.num_days_from_ce()).or_default() += 1;
            }
        }
    }

    fn harvest(self) -> Stats {
        let mut out = Stats {
            weeks: self.weeks.into_iter().collect(),
            ..Stats::default()
        };
        for (k, (names, counts)) in self.names.iter().zip(self.counts).enumerate() {
            let none = counts.len() - 1;
            for (ord, n) in counts.into_iter().enumerate() {
                if n == 0 {
                    continue;
                }
                let name = if ord == none {
                    NONE_LABEL
                } else {
                    names.get(ord).map_or("", String::as_str)
                };
                let key = if FACET_COLUMNS[k] == "region_path" && ord != none {
                    name.split('/').take(2).collect::<Vec<_>>().join("/")
                } else {
                    name.to_string()
                };
                *out.facets[k].entry(key).or_default() += n;
            }
        }
        out
    }
}

impl Stats {
    /// Adds another segment's or shard's counts.
    pub(super) fn absorb(&mut self, s: Stats) {
        for (acc, m) in self.facets.iter_mut().zip(s.facets) {
            for (k, v) in m {
                *acc.entry(k).or_default() += v;
            }
        }
        for (k, v) in s.weeks {
            *self.weeks.entry(k).or_default() += v;
        }
    }

    fn facet_counts(&self) -> FacetCounts {
        let sorted = |m: &HashMap<String, u64>| {
            let mut v: Vec<(String, u64)> = m.iter().map(|(k, v)| (k.clone(), *v)).collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v
        };
        FacetCounts {
            region: sorted(&self.facets[0]),
            category: sorted(&self.facets[1]),
            channel: sorted(&self.facets[2]),
            status: sorted(&self.facets[3]),
            unit: sorted(&self.facets[4]),
            group: sorted(&self.facets[5]),
        }
    }

    fn week_counts(&self) -> Vec<WeekCount> {
        let (Some(&lo), Some(&hi)) = (self.weeks.keys().min(), self.weeks.keys().max()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut d = lo;
        while d <= hi {
            if let Some(start) = NaiveDate::from_num_days_from_ce_opt(d) {
                out.push(WeekCount {
                    week: crate::calendar::week_label(start),
                    start,
                    count: self.weeks.get(&d).copied().unwrap_or(0),
                });
            }
            d += 7;
        }
        out
    }
}
