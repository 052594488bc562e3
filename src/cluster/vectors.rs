//! Step 4 of the grouping: each petition's words (tagged once, title words counted
//! [`Options::title_weight`] times, anonymised region codes dropped), the vocabulary and IDF,
//! and its TF-IDF vector — without the names that name its object when it has one, so the
//! petitions of one object are compared on their grievance.

use std::borrow::Cow;
use std::sync::LazyLock;

use rayon::prelude::*;

use crate::error::Result;
use crate::fxhash::{FastMap, FastSet};
use crate::schema::Record;
use crate::textfile::TextFile;
use crate::tokenize::Tokenizer;

use super::fold::{resolve, Named, Resolved};
use super::objects::{
    anchors_in, char_len, lookup_known, normalise_anchor, pick_anchor, proper_tag, region_names,
};
use super::tagged::Taggings;
use super::Options;
use crate::packed::{Packed, Plain};

#[derive(Default)]
pub(super) struct Doc {
    pub(super) key: Option<u32>,
    pub(super) vec: Packed<(u32, f32)>,
    pub(super) top: Packed<u32>,
}

impl Doc {
    /// The doc with its vectors on the heap, read from the text file rather than its mapping
    /// ([`Packed::detached`]): for passes that read docs at random.
    pub(super) fn detached(&self) -> Doc {
        Doc {
            key: self.key,
            vec: self.vec.detached(),
            top: self.top.detached(),
        }
    }

    /// The docs `make` makes of `items`, in order, [`PACK_DOCS`] to a buffer ([`Packed`]): each
    /// chunk is made and packed on the thread pool, so the unpacked vectors of one chunk at a
    /// time are held beside the packed ones. With `file` (the run's text file) the buffers are
    /// written to it and read from its mapping.
    pub(super) fn pack_made<I: Send>(
        items: impl IndexedParallelIterator<Item = I>,
        make: impl Fn(I) -> Unpacked + Sync,
        file: Option<&TextFile>,
    ) -> Result<Vec<Doc>> {
        chunked(items, make, |parts| {
            let vecs = Packed::pack_all(parts.iter().map(|p| &p.1[..]), file)?;
            let tops = Packed::pack_all(parts.iter().map(|p| &p.2[..]), file)?;
            Ok(parts
                .iter()
                .zip(vecs.into_iter().zip(tops))
                .map(|(p, (vec, top))| Doc { key: p.0, vec, top })
                .collect())
        })
    }
}

/// What `make` makes of each of `items`, in order, [`PACK_DOCS`] to a buffer, as
/// [`Doc::pack_made`] packs the docs.
pub(super) fn pack_chunks<I: Send, T: Plain + Send + Sync>(
    items: impl IndexedParallelIterator<Item = I>,
    make: impl Fn(I) -> Vec<T> + Sync,
    file: Option<&TextFile>,
) -> Result<Vec<Packed<T>>> {
    chunked(items, make, |parts| {
        Packed::pack_all(parts.iter().map(|v| &v[..]), file)
    })
}

/// `make` over `items` on the thread pool, [`PACK_DOCS`] at a time, each chunk's results turned
/// into outputs by `pack`; the outputs in order, or the first error.
fn chunked<I: Send, U, O: Send>(
    items: impl IndexedParallelIterator<Item = I>,
    make: impl Fn(I) -> U + Sync,
    pack: impl Fn(Vec<U>) -> Result<Vec<O>> + Sync,
) -> Result<Vec<O>> {
    // The outputs are collected straight into one vector (a `Result` per chunk would collect
    // them into a second one first: 0.7 GiB of docs at ten million); a chunk that fails
    // leaves its error here and no outputs.
    let failed = std::sync::Mutex::new(None);
    let out = items
        .chunks(PACK_DOCS)
        .flat_map_iter(|chunk| {
            let parts: Vec<U> = chunk.into_iter().map(&make).collect();
            pack(parts).unwrap_or_else(|e| {
                let mut first = failed.lock().unwrap_or_else(|e| e.into_inner());
                first.get_or_insert(e);
                Vec::new()
            })
        })
        .collect();
    match failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// A [`Doc`] before [`Doc::pack_made`] packs it: key, vector, top terms.
type Unpacked = (Option<u32>, Vec<(u32, f32)>, Vec<u32>);

/// Docs per shared buffer: ~3.5 MiB of terms at a generated petition's ~29.
const PACK_DOCS: usize = 16_384;

/// Whether `w` has an upper-case letter; Han characters (most of the text) are caseless and
/// skip the Unicode case tables.
pub(super) fn has_upper(w: &str) -> bool {
    w.chars().any(|c| {
        c.is_ascii_uppercase() || (!c.is_ascii() && !crate::tokenize::is_han(c) && c.is_uppercase())
    })
}

/// A word the tokenizer keeps ([`crate::tokenize::is_content`]) that is more than one character,
/// unless it is a single Latin letter.
pub(super) fn content_word(w: &str) -> bool {
    crate::tokenize::is_content(w)
        && (char_len(w) != 1 || w.chars().all(|c| c.is_ascii_alphabetic()))
}

pub(super) struct Prepared {
    pub(super) docs: Vec<Doc>,
    /// Each petition's anchor as written (before normalisation), for display: an index into
    /// `lex.chosen`.
    written: Vec<Option<u32>>,
    pub(super) lex: Lexicon,
}

impl Prepared {
    /// Petition `i`'s anchor as written (before normalisation).
    pub(super) fn written(&self, i: usize) -> Option<&str> {
        self.written[i].map(|c| self.lex.chosen[c as usize].0.as_str())
    }
}

/// What a grouping learnt about the corpus's words and object names; a later week's petitions
/// are read with it (it is kept in the [`State`]).
pub(super) struct Lexicon {
    pub(super) vocab: Vec<String>,
    /// Per vocabulary term: its inverse document frequency.
    pub(super) idf: Vec<f32>,
    /// Per vocabulary term: whether it is a name (company, person, place).
    pub(super) proper: Vec<bool>,
    /// Per vocabulary term: whether it is a person's name.
    pub(super) person: Vec<bool>,
    /// Canonical object names; an anchor key indexes this.
    pub(super) anchors: Vec<String>,
    /// Every object name seen (chosen or mentioned), normalised, with the anchor it resolves to
    /// (`None`: a name that names no one object, see `generic` in [`prepare`]); sorted by name.
    pub(super) resolve: Vec<(String, Option<u32>)>,
    /// Chosen anchor names with their petition counts (what [`contained_known`] folds onto).
    pub(super) chosen: Vec<(String, u32)>,
    /// Corpus anchor names looked up again in raw text, with their petition counts.
    pub(super) known: Vec<(String, u32)>,
    /// (anchor, term) pairs where the term names the object rather than the grievance.
    pub(super) object_terms: Vec<(u32, u32)>,
}

/// One petition's tagging: (word, weight) merged and sorted by word, title anchors, content
/// anchors, words tagged as names, words tagged as person names.
pub(super) type Pass<'r> = (
    Vec<(Cow<'r, str>, f32)>,
    Vec<(String, u8)>,
    Vec<(String, u8)>,
    Vec<Cow<'r, str>>,
    Vec<Cow<'r, str>>,
);

/// Tags one petition's title and the head of its content once, and reads its words, names and
/// token-level anchors from the tags. Text with anonymised region codes is tagged a second
/// time without them for its words (see [`without_codes`]); its anchors come from the text as
/// written, whose codes mark where a name starts.
pub(super) fn tag_record<'r>(
    r: &'r Record,
    tok: &'r Tokenizer,
    opts: &Options,
    regions: &FastSet<String>,
) -> Pass<'r> {
    tag_text(&r.title, &r.content, tok, opts, regions)
}

/// [`tag_record`] of a title and content (what a `minqing worker tag` reads of a petition).
pub(super) fn tag_text<'r>(
    title: &'r str,
    content: &'r str,
    tok: &'r Tokenizer,
    opts: &Options,
    regions: &FastSet<String>,
) -> Pass<'r> {
    let content = match content.char_indices().nth(opts.max_content_chars) {
        Some((cut, _)) if opts.max_content_chars > 0 => &content[..cut],
        _ => content,
    };
    let (title_tags, content_tags) = (tok.tag_ref(title), tok.tag_ref(content));
    let ta = anchors_in(&title_tags, &opts.extra_suffixes, regions, tok);
    let ca = anchors_in(&content_tags, &opts.extra_suffixes, regions, tok);
    let (tf, proper, person) = match (without_codes(title), without_codes(content)) {
        (Cow::Borrowed(_), Cow::Borrowed(_)) => {
            read_tags(&title_tags, &content_tags, tok, opts, regions)
        }
        (title, content) => {
            let (tf, proper, person) = read_tags(
                &tok.tag_ref(&title),
                &tok.tag_ref(&content),
                tok,
                opts,
                regions,
            );
            let own = |v: Vec<Cow<str>>| -> Vec<Cow<'r, str>> {
                v.into_iter().map(|w| Cow::Owned(w.into_owned())).collect()
            };
            (
                tf.into_iter()
                    .map(|(w, c)| (Cow::Owned(w.into_owned()), c))
                    .collect(),
                own(proper),
                own(person),
            )
        }
    };
    (tf, ta, ca, proper, person)
}

/// One petition's words (merged, sorted), names and person names, from its tags.
pub(super) type Words<'t> = (
    Vec<(Cow<'t, str>, f32)>,
    Vec<Cow<'t, str>>,
    Vec<Cow<'t, str>>,
);

/// [`tag_record`]'s words, with the lifetime of the tagged text.
pub(super) fn read_tags<'t>(
    title_tags: &[(&'t str, &'t str)],
    content_tags: &[(&'t str, &'t str)],
    tok: &Tokenizer,
    opts: &Options,
    regions: &FastSet<String>,
) -> Words<'t> {
    let mut tf: Vec<(Cow<str>, f32)> = Vec::new();
    let mut proper: Vec<Cow<str>> = Vec::new();
    let mut person: Vec<Cow<str>> = Vec::new();
    for (tags, w) in [(title_tags, opts.title_weight as f32), (content_tags, 1.0)] {
        for &(word, tag) in tags.iter() {
            let word = word.trim();
            let word: Cow<str> = if has_upper(word) {
                Cow::Owned(word.to_lowercase())
            } else {
                Cow::Borrowed(word)
            };
            if content_word(&word) && !tok.is_stopword(&word) {
                if (proper_tag(tag) || !tok.jieba().has_word(&word))
                    && char_len(&word) >= 2
                    && !regions.contains(word.as_ref())
                {
                    proper.push(word.clone());
                }
                if tag.starts_with("nr") {
                    person.push(word.clone());
                }
                // one word for one thing, whatever the petitioner calls it
                let word = match SYNONYMS.get(word.as_ref()) {
                    Some(c) => Cow::Borrowed(*c),
                    None => word,
                };
                tf.push((word, w));
            }
        }
    }
    // one entry per word, weights summed (in word order, like a sorted map)
    tf.sort_by(|a, b| a.0.cmp(&b.0));
    let mut merged: Vec<(Cow<str>, f32)> = Vec::with_capacity(tf.len());
    for (word, w) in tf {
        match merged.last_mut() {
            Some(last) if last.0 == word => last.1 += w,
            _ => merged.push((word, w)),
        }
    }
    proper.sort_unstable();
    proper.dedup();
    person.sort_unstable();
    person.dedup();
    (merged, proper, person)
}

/// The text without anonymised region codes (`A市`, `A6区`, `K9县`: a Latin letter, up to two
/// digits, a level), each replaced by a comma. An export anonymised this way writes them before
/// nearly every name, and jieba glues the level to the next word (`A2区金桂园` → `区金` /
/// `桂园`), which breaks both the object's name and the words compared.
pub(super) fn without_codes(text: &str) -> Cow<'_, str> {
    let b = text.as_bytes();
    let is_code_at = |i: usize| -> Option<usize> {
        if !b[i].is_ascii_alphabetic() || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            return None;
        }
        let mut j = i + 1;
        while j < b.len() && j <= i + 2 && b[j].is_ascii_digit() {
            j += 1;
        }
        let rest = &text[j..];
        ["省", "市", "区", "县"]
            .iter()
            .find(|l| rest.starts_with(**l))
            .map(|l| j + l.len())
    };
    if !b.iter().any(u8::is_ascii_alphabetic) {
        return Cow::Borrowed(text);
    }
    let mut out: Option<String> = None;
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if let Some(end) = is_code_at(i) {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[last..i]);
            o.push('，');
            last = end;
            i = end;
        } else {
            i += 1;
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[last..]);
            Cow::Owned(o)
        }
    }
}

/// For each last character of a known name, the lengths of the known names ending in it,
/// longest first (the lookup in [`lookup_known`] tries only these).
pub(super) fn known_lens<'k>(known: impl Iterator<Item = &'k String>) -> FastMap<char, Vec<usize>> {
    let mut lens: FastMap<char, Vec<usize>> = FastMap::default();
    for name in known {
        if let Some(c) = name.chars().last() {
            let k = char_len(name);
            if (3..=12).contains(&k) {
                lens.entry(c).or_default().push(k);
            }
        }
    }
    for v in lens.values_mut() {
        v.sort_unstable_by(|a, b| b.cmp(a));
        v.dedup();
    }
    lens
}

/// One petition's chosen anchor and every object it names (normalised, sorted): the
/// token-level anchors plus the corpus's known names found again in the raw text.
pub(super) fn anchor_of(
    r: &Record,
    mut ta: Vec<(String, u8)>,
    mut ca: Vec<(String, u8)>,
    known: &FastMap<String, u32>,
    lens: &FastMap<char, Vec<usize>>,
    opts: &Options,
) -> (Option<String>, Vec<String>) {
    ta.extend(lookup_known(&r.title, known, lens, &opts.extra_suffixes));
    let head = match r.content.char_indices().nth(600) {
        Some((cut, _)) => &r.content[..cut],
        None => r.content.as_str(),
    };
    ca.extend(lookup_known(head, known, lens, &opts.extra_suffixes));
    let mut mentions: Vec<String> = ta
        .iter()
        .chain(ca.iter())
        .map(|(a, _)| normalise_anchor(a))
        .collect();
    mentions.sort_unstable();
    mentions.dedup();
    (pick_anchor(&ta, &ca, known), mentions)
}

/// A petition's vector from its (term, weight) pairs (sorted by term): the words that name its
/// object — `object_terms` of its anchor (sorted (anchor, term) pairs) and the `place` terms
/// (see [`place_terms`]) — dropped when anything else is left, L2-normalised, with its `k` top
/// terms.
pub(super) fn finish_doc(
    vec: Vec<(u32, f32)>,
    key: Option<u32>,
    object_terms: &[(u32, u32)],
    place: &[bool],
    k: usize,
) -> Doc {
    let (vec, top) = finish_vec(vec, key, object_terms, place, k);
    Doc {
        key,
        vec: vec.into(),
        top: top.into(),
    }
}

/// [`finish_doc`]'s vector and top terms.
fn finish_vec(
    mut vec: Vec<(u32, f32)>,
    key: Option<u32>,
    object_terms: &[(u32, u32)],
    place: &[bool],
    k: usize,
) -> (Vec<(u32, f32)>, Vec<u32>) {
    if let Some(key) = key {
        let names_object =
            |t: u32| place[t as usize] || object_terms.binary_search(&(key, t)).is_ok();
        let grievance: Vec<(u32, f32)> = vec
            .iter()
            .copied()
            .filter(|(t, _)| !names_object(*t))
            .collect();
        if !grievance.is_empty() {
            vec = grievance;
        }
    }
    let norm = vec.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vec.iter_mut().for_each(|(_, x)| *x /= norm);
    }
    let top = top_terms(&vec, k);
    (vec, top)
}

/// The `k` heaviest terms of a vector (ties: smaller term first).
pub(super) fn top_terms(vec: &[(u32, f32)], k: usize) -> Vec<u32> {
    let mut by_w = vec.to_vec();
    by_w.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    by_w.iter().take(k).map(|(t, _)| *t).collect()
}

pub(super) fn prepare<'r>(
    records: &[&'r Record],
    tok: &'r Tokenizer,
    opts: &Options,
    tagged: Option<&Taggings>,
    file: Option<&TextFile>,
) -> Result<Prepared> {
    let regions = region_names(records);
    // Pass A: words and token-level anchors, in chunks whose words are interned as they come,
    // so a million petitions never hold their word lists as strings all at once.
    let mut words = Interner::default();
    // The token-level anchors' names as ids too, not a string per anchor held through the
    // tagging (estimated ~1 GB at ten million petitions; the run's peak proved to be later,
    // in the mentions: docs/scale.md, fifteenth measurement).
    let mut anchor_text = Interner::default();
    let mut pass_a: Vec<Tagged> = Vec::with_capacity(records.len());
    let tag_chunk = |chunk: &[&'r Record]| -> Vec<Pass<'r>> {
        chunk
            .par_iter()
            .map(|r| match tagged.and_then(|t| t.get(r)) {
                Some(pass) => pass,
                None => tag_record(r, tok, opts, &regions),
            })
            .collect()
    };
    // Interning is sequential: chunk k is interned while chunk k+1 is tagged on the other cores.
    // Each chunk's word lists are packed into one buffer (in the run's text file when there is
    // one): a million of them, held until they are weighed, were the tagging's largest part.
    // The petitions per word (as a word, tagged as a name, as a person's name) and per anchor
    // name are counted as they are interned, so the name and person lists are not kept to the
    // unzip (two lists a petition; at ten million the peak did not move, being later).
    let mut counts = TagCounts::default();
    let intern = |raw: Vec<Pass<'r>>,
                  (words, anchor_text, counts): (&mut Interner, &mut Interner, &mut TagCounts),
                  pass_a: &mut Vec<Tagged>|
     -> Result<()> {
        let mut tfs: Vec<Vec<(u32, f32)>> = Vec::with_capacity(raw.len());
        let from = pass_a.len();
        for (tf, ta, ca, proper, person) in raw {
            let tf: Vec<(u32, f32)> = tf.into_iter().map(|(w, c)| (words.id(&w), c)).collect();
            for (w, _) in &tf {
                bump(&mut counts.df, *w);
            }
            tfs.push(tf);
            for w in proper {
                bump(&mut counts.proper_df, words.id(&w));
            }
            for w in person {
                bump(&mut counts.person_df, words.id(&w));
            }
            let mut ids = |v: Vec<(String, u8)>| -> Box<[(u32, u8)]> {
                v.iter().map(|(a, k)| (anchor_text.id(a), *k)).collect()
            };
            let (ta, ca) = (ids(ta), ids(ca));
            let mut seen: Vec<u32> = ta.iter().chain(ca.iter()).map(|(a, _)| *a).collect();
            seen.sort_unstable();
            seen.dedup();
            for a in seen {
                bump(&mut counts.anchors, a);
            }
            pass_a.push((Packed::default(), ta, ca));
        }
        let packed = Packed::pack_all(tfs.iter().map(|v| &v[..]), file)?;
        for (t, tf) in pass_a[from..].iter_mut().zip(packed) {
            t.0 = tf;
        }
        Ok(())
    };
    let mut tagged: Option<Vec<Pass>> = None;
    for chunk in records.chunks(PASS_CHUNK) {
        let (raw, interned) = rayon::join(
            || tag_chunk(chunk),
            || match tagged.take() {
                Some(prev) => intern(
                    prev,
                    (&mut words, &mut anchor_text, &mut counts),
                    &mut pass_a,
                ),
                None => Ok(()),
            },
        );
        interned?;
        tagged = Some(raw);
    }
    if let Some(prev) = tagged.take() {
        intern(
            prev,
            (&mut words, &mut anchor_text, &mut counts),
            &mut pass_a,
        )?;
    }
    let TagCounts {
        mut df,
        mut proper_df,
        mut person_df,
        mut anchors,
    } = counts;
    for v in [&mut df, &mut proper_df, &mut person_df] {
        v.resize(words.len(), 0);
    }
    anchors.resize(anchor_text.len(), 0);
    // Corpus anchor names (≥ 2 petitions): found again in raw text where jieba cut them apart
    // (是丽发 / 新城 → 丽发新城).
    let known: FastMap<String, u32> = anchors
        .iter()
        .zip(&anchor_text.text)
        .filter(|(n, _)| **n >= 2)
        .map(|(n, a)| (a.clone(), *n))
        .collect();
    drop(anchors);
    drop(anchor_text.index);
    let anchor_text = anchor_text.text;
    let lens = known_lens(known.keys());
    // Each petition's chosen name and mentions are made a chunk at a time and kept as ids into
    // one table of names (`Named`); its words go on to be weighed.
    let mut tfs: Vec<Packed<(u32, f32)>> = Vec::with_capacity(records.len());
    let mut named = Named::default();
    let mut pass_a = pass_a.into_iter();
    for chunk in records.chunks(PASS_CHUNK) {
        let (tf, anchors): (Vec<_>, Vec<_>) = pass_a
            .by_ref()
            .take(chunk.len())
            .map(|(tf, ta, ca)| (tf, (ta, ca)))
            .unzip();
        tfs.extend(tf);
        let picked: Vec<(Option<String>, Vec<String>)> = anchors
            .into_par_iter()
            .zip(chunk.par_iter())
            .map(|((ta, ca), r)| {
                // the strings again for this petition alone
                let text = |v: Box<[(u32, u8)]>| -> Vec<(String, u8)> {
                    v.iter()
                        .map(|&(a, k)| (anchor_text[a as usize].clone(), k))
                        .collect()
                };
                anchor_of(r, text(ta), text(ca), &known, &lens, opts)
            })
            .collect();
        for (chosen, mentions) in &picked {
            named.push(chosen.as_deref(), mentions);
        }
    }
    drop(anchor_text);
    let Resolved {
        keys,
        anchors: anchor_names,
        resolve,
        chosen,
        written,
    } = resolve(named, |w| words.df(w, &df), &opts.extra_suffixes);
    let mut known: Vec<(String, u32)> = known.into_iter().collect();
    known.sort_unstable();

    // the vocabulary: words in ≥ 2 petitions, in string order (term ids do not depend on the
    // order words were first seen)
    let mut vocab_ids: Vec<u32> = (0..words.len() as u32)
        .filter(|w| df[*w as usize] >= 2)
        .collect();
    vocab_ids.sort_by(|a, b| words.text[*a as usize].cmp(&words.text[*b as usize]));
    let vocab: Vec<String> = vocab_ids
        .iter()
        .map(|w| words.text[*w as usize].clone())
        .collect();
    // a word is a name (of a company, person, place) when jieba tags it so in most petitions
    let proper: Vec<bool> = vocab_ids
        .iter()
        .map(|w| proper_df[*w as usize] * 2 >= df[*w as usize])
        .collect();
    // a person's name (张三丰): never a key term or label, which leave the meeting room
    let person: Vec<bool> = vocab_ids
        .iter()
        .map(|w| person_df[*w as usize] * 2 >= df[*w as usize])
        .collect();
    let vocab_df: Vec<u32> = vocab_ids.iter().map(|w| df[*w as usize]).collect();
    let n = records.len() as f32;
    let idf: Vec<f32> = vocab_df
        .iter()
        .map(|&d| ((n + 1.0) / (d as f32 + 1.0)).ln() + 1.0)
        .collect();
    let mut term: Vec<Option<u32>> = vec![None; words.len()];
    for (i, w) in vocab_ids.iter().enumerate() {
        term[*w as usize] = Some(i as u32);
    }
    drop(words);
    let k = opts.candidate_terms.max(1);
    // the word lists are consumed as they are weighed: both at once held 0.3 GiB more at a
    // million petitions; the weighed vectors are packed a chunk at a time as the docs are
    let raw_vecs: Vec<Packed<(u32, f32)>> = pack_chunks(
        tfs.into_par_iter(),
        |tf| weigh(tf.iter().map(|&(w, c)| (term[w as usize], c)), &idf),
        file,
    )?;
    // Terms that name the object rather than the grievance: names (see `proper`) that in ≥ 80%
    // of their petitions come with one anchor (the estate's own name, its developer, its
    // property company). Anchored petitions are only ever compared with petitions of the same
    // anchor, where those terms say nothing — but they would make different problems at one
    // estate look alike. Only names: a grievance that one object alone has (a concrete plant
    // beside one estate) is what its petitions share, not what tells them apart.
    // (only names are counted: every term of every anchored petition took 0.3 GiB at a million)
    // (counted on one core: these keys are nearly all distinct, and counted in pieces on all
    // cores and merged they took 0.84 s against 0.45 s at 1M)
    let mut df_at: FastMap<(u32, u32), u32> = FastMap::default();
    for (v, key) in raw_vecs.iter().zip(&keys) {
        if let Some(key) = key {
            for (t, _) in v.iter().filter(|(t, _)| proper[*t as usize]) {
                *df_at.entry((*key, *t)).or_insert(0) += 1;
            }
        }
    }
    let mut object_terms: Vec<(u32, u32)> = df_at
        .into_iter()
        .filter(|((_, t), at)| *at >= 2 && *at * 5 >= vocab_df[*t as usize] * 4)
        .map(|(kt, _)| kt)
        .collect();
    object_terms.sort_unstable();
    let place = place_terms(&vocab, &regions);
    let docs = Doc::pack_made(
        raw_vecs.into_par_iter().zip(keys.par_iter()),
        |(vec, key)| {
            let (vec, top) = finish_vec(vec.to_vec(), *key, &object_terms, &place, k);
            (*key, vec, top)
        },
        file,
    )?;
    Ok(Prepared {
        written,
        docs,
        lex: Lexicon {
            vocab,
            idf,
            proper,
            person,
            anchors: anchor_names,
            resolve,
            chosen,
            known,
            object_terms,
        },
    })
}

/// Which vocabulary terms are the data's own region names (枣园街道, 凤城区). Like an object's
/// own names they are dropped from an anchored petition's vector: its letters all come from
/// the object's place, so the name says nothing about the grievance — a village's accounts
/// and its land compensation looked alike through the street they share.
pub(super) fn place_terms(vocab: &[String], regions: &FastSet<String>) -> Vec<bool> {
    vocab.iter().map(|w| regions.contains(w)).collect()
}

/// A petition's TF-IDF weights, sublinear TF: (vocabulary term or none, summed count) in, (term,
/// weight) sorted by term out; words outside the vocabulary are dropped.
pub(super) fn weigh(tf: impl Iterator<Item = (Option<u32>, f32)>, idf: &[f32]) -> Vec<(u32, f32)> {
    let mut v: Vec<(u32, f32)> = tf
        .filter_map(|(t, c)| t.map(|t| (t, (1.0 + c.ln()) * idf[t as usize])))
        .collect();
    v.sort_unstable_by_key(|x| x.0);
    v
}

/// One petition after tagging: (word id, weight) sorted by word, title anchors and content
/// anchors (ids of their names, with their kinds).
pub(super) type Tagged = (Packed<(u32, f32)>, Box<[(u32, u8)]>, Box<[(u32, u8)]>);

/// Petitions per word id (`df`: as a word, `proper_df`: tagged as a name, `person_df`: as a
/// person's name; a word twice in one list counts twice, as the lists were counted before)
/// and per anchor name id (each once a petition), counted as the tagging's words are interned.
#[derive(Default)]
struct TagCounts {
    df: Vec<u32>,
    proper_df: Vec<u32>,
    person_df: Vec<u32>,
    anchors: Vec<u32>,
}

/// Adds one at `i`, growing `v` as ids are handed out.
fn bump(v: &mut Vec<u32>, i: u32) {
    let i = i as usize;
    if v.len() <= i {
        v.resize(i + 1, 0);
    }
    v[i] += 1;
}

/// Everyday petition vocabulary that names one thing in several ways (`data/dict/synonyms.txt`):
/// each word counts as the first of its line, so 房本 and 不动产权证 petitions are seen to ask for
/// the same certificate.
pub(super) static SYNONYMS: LazyLock<FastMap<&'static str, &'static str>> = LazyLock::new(|| {
    include_str!("../../data/dict/synonyms.txt")
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| {
            let mut words = l.split_whitespace();
            let head = words.next().unwrap_or_default();
            words.map(move |w| (w, head))
        })
        .collect()
});

/// Petitions per chunk of the tagging pass (bounds the memory of not-yet-interned words).
pub(super) const PASS_CHUNK: usize = 20_000;

/// Words as dense ids, in order of first appearance.
#[derive(Default)]
pub(super) struct Interner {
    pub(super) index: FastMap<String, u32>,
    pub(super) text: Vec<String>,
}

impl Interner {
    pub(super) fn id(&mut self, w: &str) -> u32 {
        if let Some(&i) = self.index.get(w) {
            return i;
        }
        let i = self.text.len() as u32;
        self.text.push(w.to_string());
        self.index.insert(w.to_string(), i);
        i
    }
    pub(super) fn len(&self) -> usize {
        self.text.len()
    }
    /// Petitions containing `w` as a word.
    pub(super) fn df(&self, w: &str, df: &[u32]) -> u32 {
        self.index.get(w).map_or(0, |&i| df[i as usize])
    }
}
