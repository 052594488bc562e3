//! index stage: a tantivy index of the store in `RUN_DIR/index/`, and the search behind
//! `minqing search` / `minqing similar`.
//!
//! # Indexing scheme (recall and precision)
//!
//! * `title` / `content` are indexed with [`CHAR_TOKENIZER`]: the [folded](crate::tokenize::fold)
//!   text as overlapping character **bigrams**, the bigram starting at character `i` at position
//!   `i` (the last character as a unigram). A query string `q` of `n ≥ 2` characters becomes a
//!   phrase of the bigrams starting at offsets `0, 2, 4, …, n-2`; these cover every character of
//!   `q` at its offset, so a document matches **iff its folded field contains `q` as a substring**
//!   — whatever jieba does with the text (`油烟` finds `油烟机`, `房产证` never matches
//!   `不动产权证`). A single character is a regex `c.?` over the bigram dictionary. Hit counts
//!   therefore equal substring counts, and a quoted phrase matches only the same characters
//!   adjacent and in order.
//! * `words` holds the jieba words of title and content (precise mode, stopwords dropped, the same
//!   [`Tokenizer::words`] clustering reads), with frequencies but no positions. It never decides
//!   whether a document matches: it adds a BM25 bonus when a query word is a whole jieba word of
//!   the document, and it is the vocabulary of [`similar`].
//! * Filters and facets read exact-term fast fields (`channel`, `category`, `status`,
//!   `responsible_unit`, `petitioner`, `region_path`, `group_id`), `region` is a hierarchical
//!   facet, `received_at` a fast date.
//!
//! # Consistency
//!
//! Each document carries a hash of everything indexed (incl. its group id); [`build`] deletes
//! and re-adds only changed ids, deletes vanished ids and commits once, so an interrupted build
//! leaves the previous commit searchable. The tokenizer fingerprint and the schema version are
//! the commit payload: a dictionary change re-indexes everything in one commit.

mod dir;
mod pages;
mod query;
mod scope;
mod search;
mod shards;

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tantivy::schema::{
    DateOptions, DateTimePrecision, FacetOptions, Field, IndexRecordOption, Schema,
    TextFieldIndexing, TextOptions, FAST, STORED, STRING,
};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer as TantivyTokenizer};
use tantivy::{Index, IndexWriter, TantivyDocument, Term};

use crate::error::{Error, Result};
use crate::fxhash::{FastMap, FastSet};
use crate::schema::Record;
use crate::tokenize::{fold_char, Tokenizer};

pub use query::{parse_query, Atom, Clause, QueryField};
pub use scope::{region_path_matches, Scope};
pub use search::{
    find_marks, marked_terms, search, similar, snippet, FacetCounts, Highlighted, Hit, IndexHandle,
    SearchRequest, SearchResults, Sort, WeekCount, NONE_LABEL, SIMILAR_TERMS,
};
pub use shards::{build_shard, install, shard_name, Built, Layout, LAYOUT_FILE};

/// Bump when the schema or the analysis of a field changes: the index is then rebuilt.
pub const SCHEMA_VERSION: u32 = 1;
/// Name of the character-bigram analyzer registered on every opened index.
pub const CHAR_TOKENIZER: &str = "minqing_bigram";
/// Name of the analyzer of the `words` field: splits at [`WORD_SEP`] (the words themselves come
/// from [`Tokenizer::words`], run in parallel before the documents reach tantivy).
pub const WORDS_TOKENIZER: &str = "minqing_words";
/// Separator of the pre-segmented words in the `words` field value.
pub const WORD_SEP: char = '\u{1F}';

/// What [`build`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSummary {
    /// Documents in the index after the build.
    pub docs: u64,
    pub added: u64,
    pub updated: u64,
    pub deleted: u64,
    pub unchanged: u64,
    /// An existing index was discarded and everything re-indexed (tokenizer fingerprint or
    /// schema version changed, or the old index could not be opened).
    pub rebuilt: bool,
    /// Shards of a sharded index (the Spark job's); 0 for one index.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shards: u64,
    /// Of those, shards the index they replaced already held (same petitions, same groups,
    /// same settings): a weekly Spark run re-indexes only the row groups that changed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub kept_shards: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The commit payload: what the index was built with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Payload {
    pub schema: u32,
    pub tokenizer: String,
    /// A shard's [`shards::groups_fingerprint`] of its own petitions (the run's own index has none: it
    /// is rebuilt with the groups in the same run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<String>,
    /// A shard's [`shards::rows_fingerprint`]: everything indexed for its petitions, their group ids
    /// included. A later build of the same row group with the same print reuses the shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<String>,
}

/// The schema's fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub id: Field,
    pub hash: Field,
    pub title: Field,
    pub content: Field,
    pub words: Field,
    pub received_at: Field,
    pub channel: Field,
    pub category: Field,
    pub status: Field,
    pub unit: Field,
    pub petitioner: Field,
    pub region: Field,
    pub region_path: Field,
    pub region_any: Field,
    pub headcount: Field,
    pub likes: Field,
    pub group_id: Field,
}

pub(crate) fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let bigrams = TextFieldIndexing::default()
        .set_tokenizer(CHAR_TOKENIZER)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let text = TextOptions::default()
        .set_indexing_options(bigrams)
        .set_stored();
    let words = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(WORDS_TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let exact = STRING | FAST | STORED;
    let fields = Fields {
        id: b.add_text_field("id", exact.clone()),
        hash: b.add_u64_field("hash", FAST),
        title: b.add_text_field("title", text.clone()),
        content: b.add_text_field("content", text),
        words: b.add_text_field("words", words),
        received_at: b.add_date_field(
            "received_at",
            DateOptions::default()
                .set_fast()
                .set_stored()
                .set_precision(DateTimePrecision::Seconds),
        ),
        channel: b.add_text_field("channel", exact.clone()),
        category: b.add_text_field("category", exact.clone()),
        status: b.add_text_field("status", exact.clone()),
        unit: b.add_text_field("responsible_unit", exact.clone()),
        petitioner: b.add_text_field("petitioner", STRING | FAST),
        region: b.add_facet_field("region", FacetOptions::default()),
        region_path: b.add_text_field("region_path", exact.clone()),
        region_any: b.add_text_field("region_any", STRING),
        headcount: b.add_u64_field("headcount", FAST | STORED),
        likes: b.add_u64_field("likes", FAST | STORED),
        group_id: b.add_text_field("group_id", exact),
    };
    (b.build(), fields)
}

pub(crate) fn fields_of(schema: &Schema) -> Result<Fields> {
    let f = |name: &str| schema.get_field(name).map_err(Error::from);
    Ok(Fields {
        id: f("id")?,
        hash: f("hash")?,
        title: f("title")?,
        content: f("content")?,
        words: f("words")?,
        received_at: f("received_at")?,
        channel: f("channel")?,
        category: f("category")?,
        status: f("status")?,
        unit: f("responsible_unit")?,
        petitioner: f("petitioner")?,
        region: f("region")?,
        region_path: f("region_path")?,
        region_any: f("region_any")?,
        headcount: f("headcount")?,
        likes: f("likes")?,
        group_id: f("group_id")?,
    })
}

/// Overlapping character bigrams of the folded text (see the module docs). Stateless.
#[derive(Debug, Clone, Default)]
pub struct BigramTokenizer;

/// Token stream of [`BigramTokenizer`].
pub struct BigramStream {
    chars: Vec<(usize, char)>,
    end: usize,
    next: usize,
    token: Token,
}

impl TantivyTokenizer for BigramTokenizer {
    type TokenStream<'a> = BigramStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> BigramStream {
        BigramStream {
            chars: text
                .char_indices()
                .map(|(b, c)| (b, fold_char(c)))
                .collect(),
            end: text.len(),
            next: 0,
            token: Token::default(),
        }
    }
}

impl TokenStream for BigramStream {
    fn advance(&mut self) -> bool {
        while self.next < self.chars.len() {
            let i = self.next;
            self.next += 1;
            let (from, c) = self.chars[i];
            let second = self.chars.get(i + 1).map(|&(_, c)| c);
            // Two blanks (or a trailing blank) can never be part of a query: skip, keep positions.
            if c == ' ' && second.is_none_or(|s| s == ' ') {
                continue;
            }
            self.token.text.clear();
            self.token.text.push(c);
            let to = match second {
                Some(s) => {
                    self.token.text.push(s);
                    self.chars.get(i + 2).map_or(self.end, |&(b, _)| b)
                }
                None => self.end,
            };
            self.token.offset_from = from;
            self.token.offset_to = to;
            self.token.position = i;
            self.token.position_length = 1;
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// Splits a [`WORD_SEP`]-joined list of words. Stateless.
#[derive(Debug, Clone, Default)]
pub struct SeparatedWords;

/// Token stream of [`SeparatedWords`].
pub struct SeparatedStream<'a> {
    text: &'a str,
    at: usize,
    token: Token,
}

impl TantivyTokenizer for SeparatedWords {
    type TokenStream<'a> = SeparatedStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> SeparatedStream<'a> {
        SeparatedStream {
            text,
            at: 0,
            token: Token {
                position: usize::MAX,
                ..Token::default()
            },
        }
    }
}

impl TokenStream for SeparatedStream<'_> {
    fn advance(&mut self) -> bool {
        while self.at < self.text.len() {
            let rest = &self.text[self.at..];
            let start = self.at;
            let len = rest.find(WORD_SEP).unwrap_or(rest.len());
            self.at += len
                + if len < rest.len() {
                    WORD_SEP.len_utf8()
                } else {
                    0
                };
            if len == 0 {
                continue;
            }
            self.token.text.clear();
            self.token.text.push_str(&rest[..len]);
            self.token.offset_from = start;
            self.token.offset_to = start + len;
            self.token.position = self.token.position.wrapping_add(1);
            self.token.position_length = 1;
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

fn register(index: &Index) {
    let m = index.tokenizers();
    m.register(CHAR_TOKENIZER, BigramTokenizer);
    m.register(WORDS_TOKENIZER, SeparatedWords);
}

/// Whether `dir` holds a search index: one tantivy index, or a sharded one.
pub fn exists(dir: &Path) -> bool {
    dir.join("meta.json").is_file() || dir.join(LAYOUT_FILE).is_file()
}

/// Opens an existing index with the analyzers registered.
pub(crate) fn open_index(dir: &Path) -> Result<Index> {
    if !dir.join("meta.json").is_file() {
        return Err(Error::Usage(format!(
            "no search index at `{}`",
            dir.display()
        )));
    }
    let index = Index::open_in_dir(dir)?;
    register(&index);
    Ok(index)
}

/// Opens an existing index for searching only, without lock files ([`dir::Dir::read_only`]).
pub(crate) fn open_index_read_only(dir: &Path) -> Result<Index> {
    let index = Index::open(folder(dir, dir::Dir::read_only)?)?;
    register(&index);
    Ok(index)
}

/// Opens an existing index to update it, its segments read into buffers rather than mapped
/// ([`dir::Dir::build`]).
fn open_index_to_build(dir: &Path) -> Result<Index> {
    let index = Index::open(build_dir(dir)?)?;
    register(&index);
    Ok(index)
}

fn build_dir(dir: &Path) -> Result<dir::Dir> {
    folder(dir, dir::Dir::build)
}

/// The index folder `dir` opened by `open` (one of [`dir::Dir`]'s uses), its error naming it.
fn folder(
    dir: &Path,
    open: fn(&Path) -> std::result::Result<dir::Dir, tantivy::directory::error::OpenDirectoryError>,
) -> Result<dir::Dir> {
    open(dir).map_err(|e| {
        Error::Usage(format!(
            "cannot open the search index at `{}`: {e}",
            dir.display()
        ))
    })
}

pub(crate) fn read_payload(index: &Index) -> Option<Payload> {
    let metas = index.load_metas().ok()?;
    serde_json::from_str(metas.payload.as_deref()?).ok()
}

/// FNV-1a 64 over everything that is indexed for a record, plus its group id.
fn doc_hash(r: &Record, group: Option<&str>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |s: &str| {
        for b in s.as_bytes().iter().chain(std::iter::once(&0xffu8)) {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(&r.id);
    eat(&r.received_at.and_utc().timestamp().to_string());
    eat(r.channel.code());
    eat(&r.title);
    eat(&r.content);
    for l in &r.region {
        eat(l.as_deref().unwrap_or("\u{0}"));
    }
    for o in [
        r.petitioner.as_deref(),
        r.category.as_deref(),
        r.responsible_unit.as_deref(),
        r.status.as_deref(),
    ] {
        eat(o.unwrap_or("\u{0}"));
    }
    eat(&r.headcount.to_string());
    eat(&r.likes.map_or("\u{0}".to_string(), |l| l.to_string()));
    eat(group.unwrap_or("\u{0}"));
    h
}

fn to_doc(
    f: &Fields,
    r: &Record,
    group: Option<&str>,
    hash: u64,
    tok: &Tokenizer,
) -> TantivyDocument {
    let mut d = TantivyDocument::default();
    d.add_text(f.id, &r.id);
    d.add_u64(f.hash, hash);
    d.add_text(f.title, &r.title);
    d.add_text(f.content, &r.content);
    let mut words = String::with_capacity(r.title.len() + r.content.len());
    for text in [&r.title, &r.content] {
        tok.for_each_word(text, |w| {
            if !w.contains(WORD_SEP) {
                words.push_str(w);
                words.push(WORD_SEP);
            }
        });
    }
    d.add_text(f.words, words);
    d.add_date(
        f.received_at,
        tantivy::DateTime::from_timestamp_secs(r.received_at.and_utc().timestamp()),
    );
    d.add_text(f.channel, r.channel.code());
    for (field, v) in [
        (f.category, r.category.as_deref()),
        (f.status, r.status.as_deref()),
        (f.unit, r.responsible_unit.as_deref()),
        (f.petitioner, r.petitioner.as_deref()),
    ] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            d.add_text(field, v);
        }
    }
    let levels: Vec<&str> = r.region.iter().flatten().map(|l| &**l).collect();
    if !levels.is_empty() {
        d.add_facet(
            f.region,
            tantivy::schema::Facet::from_path(levels.iter().copied()),
        );
        d.add_text(f.region_path, levels.join("/"));
        for l in &levels {
            d.add_text(f.region_any, l);
        }
    }
    d.add_u64(f.headcount, r.headcount as u64);
    if let Some(l) = r.likes {
        d.add_u64(f.likes, l as u64);
    }
    if let Some(g) = group.filter(|g| !g.is_empty()) {
        d.add_text(f.group_id, g);
    }
    d
}

/// Ids and hashes of the live documents, from fast fields (batch reads: per-document column
/// lookups are slow on large segments).
fn live_hashes(index: &Index, dir: &Path) -> Result<FastMap<String, u64>> {
    let reader = index.reader()?;
    let searcher = reader.searcher();
    let mut out = FastMap::default();
    let corrupt = |e: std::io::Error| Error::Corrupt {
        path: dir.to_path_buf(),
        message: format!("its id column cannot be read: {e}"),
    };
    for seg in searcher.segment_readers() {
        let ff = seg.fast_fields();
        let ids = ff.str("id")?.ok_or_else(|| Error::Corrupt {
            path: dir.to_path_buf(),
            message: "it has no `id` fast field".into(),
        })?;
        // The id dictionary in ordinal order, streamed once.
        let mut names: Vec<String> = Vec::with_capacity(ids.num_terms());
        let mut stream = ids.dictionary().stream().map_err(corrupt)?;
        while stream.advance() {
            names.push(String::from_utf8_lossy(stream.key()).into_owned());
        }
        let hashes = ff.u64("hash")?;
        let alive = seg.alive_bitset();
        let docs: Vec<u32> = (0..seg.max_doc())
            .filter(|&d| alive.is_none_or(|a| a.is_alive(d)))
            .collect();
        let mut ords = vec![None; docs.len()];
        let mut hs = vec![None; docs.len()];
        for ((d, o), h) in docs
            .chunks(4096)
            .zip(ords.chunks_mut(4096))
            .zip(hs.chunks_mut(4096))
        {
            ids.ords().first_vals(d, o);
            hashes.first_vals(d, h);
        }
        for (o, h) in ords.into_iter().zip(hs) {
            if let Some(name) = o.and_then(|o| names.get(o as usize)) {
                out.insert(name.clone(), h.unwrap_or(0));
            }
        }
    }
    Ok(out)
}

/// The index writer's memory per thread. At a million petitions on 2 cores 512 MB made the
/// index stage the run's peak (1.1 GB above the records and groups), for 38 s of indexing.
const INDEX_BUDGET_PER_THREAD: usize = 256_000_000;

fn writer(index: &Index) -> Result<IndexWriter> {
    // the run's thread setting (RAYON_NUM_THREADS, else the cores), at most 4 writers
    let threads = rayon::current_num_threads().clamp(1, 4);
    // A large budget per thread means few segments and few merges (the main indexing cost after
    // tokenizing), but it is held on top of the records and groups: 256 MB × at most 4 threads.
    Ok(index.writer_with_num_threads(threads, threads * INDEX_BUDGET_PER_THREAD)?)
}

/// Adds documents with their group ids, building them (jieba) in parallel chunks.
fn add_all(
    w: &IndexWriter,
    f: &Fields,
    recs: &[&Record],
    group_of: &GroupOf,
    tok: &Tokenizer,
) -> Result<()> {
    for chunk in recs.chunks(4096) {
        let groups = group_of.get_all(chunk.iter().map(|r| r.id.as_str()));
        let docs: Vec<TantivyDocument> = chunk
            .par_iter()
            .zip(groups)
            .map(|(r, g)| to_doc(f, r, g, doc_hash(r, g), tok))
            .collect();
        for d in docs {
            w.add_document(d)?;
        }
    }
    Ok(())
}

fn commit(mut w: IndexWriter, payload: &Payload) -> Result<()> {
    let mut pc = w.prepare_commit()?;
    pc.set_payload(&serde_json::to_string(payload)?);
    pc.commit()?;
    w.wait_merging_threads()?;
    Ok(())
}

/// A rebuild replaces the whole `dir`, so a folder there that minqing did not write (the user's
/// own files, another program's tantivy index) is refused rather than deleted. A minqing index
/// that is merely damaged or of an older schema is rebuilt.
pub fn refuse_foreign(dir: &Path) -> Result<()> {
    let foreign = if dir.join(LAYOUT_FILE).is_file() {
        // a sharded index (the Spark job's): ours, replaced whole by a rebuild
        false
    } else if exists(dir) {
        // Ours carry the payload (schema version, tokenizer fingerprint) in meta.json from the
        // first commit on; an unreadable meta.json is a damaged index, rebuilt.
        std::fs::read(dir.join("meta.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|meta| {
                meta.get("payload")
                    .and_then(|p| p.as_str())
                    .and_then(|p| serde_json::from_str::<Payload>(p).ok())
                    .is_none()
            })
    } else {
        std::fs::read_dir(dir).is_ok_and(|rd| {
            rd.flatten()
                .any(|e| !e.file_name().to_string_lossy().starts_with('.'))
        })
    };
    if foreign {
        return Err(Error::Usage(format!(
            "`{}` holds files that are not a minqing search index; move them away or choose another --out (minqing would replace the folder)",
            dir.display()
        )));
    }
    Ok(())
}

/// What the index stage indexes, and where.
pub struct Input<'a> {
    /// `RUN_DIR/index/`.
    pub index_dir: &'a Path,
    pub records: &'a [Record],
    /// The tokenizer the grouping used (its fingerprint is the index's commit payload).
    pub tokenizer: &'a Tokenizer,
    /// The case groups: every indexed petition carries its group id, so a regroup re-indexes
    /// the petitions whose group changed.
    pub groups: &'a crate::cluster::Groups,
}

/// The index stage: [`build`] with each petition's group id.
pub fn run(input: Input<'_>) -> Result<IndexSummary> {
    let group_of = GroupOf::of_groups(input.groups);
    build(input.index_dir, input.records, input.tokenizer, &group_of)
}

/// Each grouped petition's group id, by petition id (petitions in no group have none).
///
/// Looked up in the grouping's own rows, which are sorted by id ([`GroupOf::get_all`] walks
/// them beside ids in order): a table beside them was 66 MiB at a million petitions, held by
/// the index stage on top of the records, the groups and tantivy's writer — then the run's
/// peak (issue 18).
#[derive(Debug, Clone, Default)]
pub struct GroupOf<'a>(Lookup<'a>);

#[derive(Debug, Clone, Default)]
enum Lookup<'a> {
    #[default]
    Nothing,
    /// The grouping's rows, sorted by id.
    Members(&'a [crate::cluster::Member]),
    /// (id, group id) pairs, sorted by id.
    Pairs(&'a [(String, String)]),
    /// Pairs in no order (made where nothing is sorted; small).
    Map(HashMap<&'a str, &'a str>),
}

impl<'a> GroupOf<'a> {
    /// From a grouping (its rows are sorted by id; were they not, a table is made).
    pub fn of_groups(groups: &'a crate::cluster::Groups) -> GroupOf<'a> {
        let rows = &groups.members[..];
        if rows.is_sorted_by(|a, b| a.id < b.id) {
            return GroupOf(Lookup::Members(rows));
        }
        GroupOf(Lookup::Map(
            rows.iter()
                .filter(|m| m.group_id != crate::cluster::UNCLUSTERED)
                .map(|m| (m.id.as_str(), m.group_id.as_str()))
                .collect(),
        ))
    }

    /// From (id, group id) pairs, as `cluster::read_group_ids` reads them (sorted by id, as
    /// `groups/` writes them; were they not, a table is made).
    pub fn of_pairs(pairs: &'a [(String, String)]) -> GroupOf<'a> {
        if pairs.is_sorted_by(|a, b| a.0 < b.0) {
            return GroupOf(Lookup::Pairs(pairs));
        }
        GroupOf(Lookup::Map(
            pairs
                .iter()
                .map(|(i, g)| (i.as_str(), g.as_str()))
                .collect(),
        ))
    }

    /// The groups of `ids`, in their order. Ids in increasing order (the store's) are found by
    /// walking the sorted rows beside them: a binary search for each of a million ids touches
    /// ~20 rows apiece, scattered, and made the index stage 5 s slower at a million.
    pub fn get_all<'i>(&self, ids: impl Iterator<Item = &'i str>) -> Vec<Option<&'a str>> {
        match &self.0 {
            Lookup::Members(rows) => walk(rows, |m| m.id.as_str(), ids),
            Lookup::Pairs(pairs) => walk(pairs, |p| p.0.as_str(), ids),
            _ => return ids.map(|id| self.get(id)).collect(),
        }
        .into_iter()
        .map(|k| k.and_then(|k| self.group_at(k)))
        .collect()
    }

    /// The group of the `k`th of the sorted rows (none for the unclustered marker).
    fn group_at(&self, k: usize) -> Option<&'a str> {
        match &self.0 {
            Lookup::Members(rows) => {
                Some(rows[k].group_id.as_str()).filter(|g| *g != crate::cluster::UNCLUSTERED)
            }
            Lookup::Pairs(pairs) => Some(pairs[k].1.as_str()),
            _ => None,
        }
    }

    /// The group of petition `id`, if it is in one.
    pub fn get(&self, id: &str) -> Option<&'a str> {
        match &self.0 {
            Lookup::Nothing => None,
            Lookup::Members(rows) => rows
                .binary_search_by(|m| m.id.as_str().cmp(id))
                .ok()
                .and_then(|k| self.group_at(k)),
            Lookup::Pairs(pairs) => pairs
                .binary_search_by(|(i, _)| i.as_str().cmp(id))
                .ok()
                .and_then(|k| self.group_at(k)),
            Lookup::Map(m) => m.get(id).copied(),
        }
    }
}

/// The position of each of `ids` in `rows` (sorted by `key`), if there: from where the last id
/// was found, forward by doubling steps then halving (next door for ids that are dense in the
/// rows, a few steps for sparse ones); an id before the last starts a search from the start.
fn walk<'i, T>(
    rows: &[T],
    key: impl Fn(&T) -> &str,
    ids: impl Iterator<Item = &'i str>,
) -> Vec<Option<usize>> {
    let mut at = 0usize;
    let mut last: Option<&str> = None;
    ids.map(move |id| {
        if last.is_some_and(|l| id < l) {
            at = 0;
        }
        last = Some(id);
        // the first row at `at` or after whose key is not below `id`
        let mut step = 1usize;
        let mut lo = at;
        while lo + step <= rows.len() && key(&rows[lo + step - 1]) < id {
            lo += step;
            step *= 2;
        }
        let hi = (lo + step).min(rows.len());
        at = lo + rows[lo..hi].partition_point(|r| key(r) < id);
        (at < rows.len() && key(&rows[at]) == id).then_some(at)
    })
    .collect()
}

impl<'a> From<HashMap<&'a str, &'a str>> for GroupOf<'a> {
    fn from(m: HashMap<&'a str, &'a str>) -> Self {
        GroupOf(Lookup::Map(m))
    }
}

/// Brings `dir` (e.g. `run_dir/index`) in line with `records`: delete-then-add only changed ids
/// (per-document content hash incl. group id), delete ids no longer present, no-op when nothing
/// changed, full re-index when the tokenizer fingerprint or schema version differs. One commit,
/// so an interrupted build leaves the previous index searchable.
pub fn build(
    dir: &Path,
    records: &[Record],
    tokenizer: &Tokenizer,
    group_of: &GroupOf,
) -> Result<IndexSummary> {
    build_with(dir, records, tokenizer, group_of, None)
}

/// [`build`], with a shard's fingerprints (of its groups, of its rows) in the commit payload.
fn build_with(
    dir: &Path,
    records: &[Record],
    tokenizer: &Tokenizer,
    group_of: &GroupOf,
    shard: Option<shards::Prints>,
) -> Result<IndexSummary> {
    let (groups, rows) = match shard {
        Some(p) => (Some(p.groups), Some(p.rows)),
        None => (None, None),
    };
    let payload = Payload {
        schema: SCHEMA_VERSION,
        tokenizer: tokenizer.fingerprint().to_string(),
        groups,
        rows,
    };
    // Last record wins if an id repeats. The store never repeats ids and holds them in order,
    // which this checks in one pass: a full build then needs no set of the ids (32 MiB at a
    // million, held through the indexing); only records in another order and an update (for
    // the indexed ids that are gone) make one.
    let in_order = records.is_sorted_by(|a, b| a.id < b.id);
    let mut seen: FastSet<&str> = FastSet::default();
    let picked: Vec<&Record> = if in_order {
        records.iter().collect()
    } else {
        let mut picked = Vec::with_capacity(records.len());
        for r in records.iter().rev() {
            if seen.insert(r.id.as_str()) {
                picked.push(r);
            }
        }
        picked.reverse();
        picked
    };
    let mut summary = IndexSummary::default();

    refuse_foreign(dir)?;
    let existing = if exists(dir) {
        match open_index_to_build(dir) {
            Ok(ix) => match (read_payload(&ix), fields_of(&ix.schema())) {
                (Some(p), Ok(f)) if p.schema == SCHEMA_VERSION => Some((ix, f, p)),
                _ => None,
            },
            Err(_) => None,
        }
    } else {
        None
    };
    let Some((index, f, old)) = existing else {
        // Fresh, or an index of another schema version: build beside it, then swap folders.
        summary.rebuilt = exists(dir);
        let stage = crate::fsutil::staging_dir(dir)?;
        let (schema, f) = schema();
        let index = Index::create(
            build_dir(stage.path())?,
            schema,
            tantivy::IndexSettings::default(),
        )?;
        register(&index);
        let w = writer(&index)?;
        add_all(&w, &f, &picked, group_of, tokenizer)?;
        commit(w, &payload)?;
        drop(index);
        let staged = stage.keep();
        crate::fsutil::replace_dir(&staged, dir)?;
        summary.added = picked.len() as u64;
        summary.docs = picked.len() as u64;
        return Ok(summary);
    };

    if old.tokenizer != payload.tokenizer {
        // Dictionary or stopwords changed: everything is re-analysed, still one atomic commit.
        let w = writer(&index)?;
        w.delete_all_documents()?;
        add_all(&w, &f, &picked, group_of, tokenizer)?;
        commit(w, &payload)?;
        summary.rebuilt = true;
        summary.added = picked.len() as u64;
        summary.docs = picked.len() as u64;
        return Ok(summary);
    }

    let live = live_hashes(&index, dir)?;
    // hashing every text is most of a weekly run's index stage when little changed
    let groups = group_of.get_all(picked.iter().map(|r| r.id.as_str()));
    let hashes: Vec<u64> = picked
        .par_iter()
        .zip(groups)
        .map(|(r, g)| doc_hash(r, g))
        .collect();
    let mut changed: Vec<&Record> = Vec::new();
    for (&r, &h) in picked.iter().zip(&hashes) {
        match live.get(r.id.as_str()) {
            Some(&old) if old == h => summary.unchanged += 1,
            Some(_) => {
                summary.updated += 1;
                changed.push(r);
            }
            None => {
                summary.added += 1;
                changed.push(r);
            }
        }
    }
    if in_order {
        seen = picked.iter().map(|r| r.id.as_str()).collect();
    }
    let gone: Vec<&String> = live
        .keys()
        .filter(|id| !seen.contains(id.as_str()))
        .collect();
    summary.deleted = gone.len() as u64;
    summary.docs = picked.len() as u64;
    // (a shard's payload names its petitions: it is committed anew when they differ)
    if changed.is_empty() && gone.is_empty() && old == payload {
        return Ok(summary);
    }
    let w = writer(&index)?;
    for id in gone {
        w.delete_term(Term::from_field_text(f.id, id));
    }
    for r in &changed {
        if live.contains_key(r.id.as_str()) {
            w.delete_term(Term::from_field_text(f.id, &r.id));
        }
    }
    add_all(&w, &f, &changed, group_of, tokenizer)?;
    commit(w, &payload)?;
    Ok(summary)
}

#[cfg(test)]
mod tests;
