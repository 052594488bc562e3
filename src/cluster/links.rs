//! Pair evidence: the small cases the centroid passes leave apart.
//!
//! The leader and merge passes compare a petition with *groups* of its own object. That finds
//! the large cases, but misses what a reader sees at once in a pair or a triple:
//! - **a repeat**: the same petitioner writing again about the same matter, often with a
//!   reworded title ([`Options::repeat_threshold`]); the same petitioner on another matter
//!   stays apart, because the comparison is on the words of the two petitions;
//! - **a rare shared name**: two titles that share a name fragment almost no other title
//!   carries (an estate, a training school, a lending platform, a parlour — often no
//!   suffix the object finder knows, or two spellings of it) and whose words agree
//!   ([`Options::rare_name_threshold`]), about one object (the same anchor, or names sharing a
//!   fragment few other names have: [`CommonGrams`]), and one of them names an object at all
//!   (two object-free titles share a theme's words, not a name). A fragment is three adjacent
//!   characters of a title, taken in any order (a name
//!   with two characters swapped keeps its fragments); it is rare in at most
//!   [`Options::rare_name_max_df`] titles, and a pair needs [`Options::rare_name_shared`] of
//!   them.
//!
//! A link joins two petitions left alone, or one left alone to the group of the other; it never
//! merges two groups (that is the merge pass's rule, with its checks on objects and names).
//! Links are taken most similar first, so the result does not depend on the input order.

use std::hash::Hasher;

use rayon::prelude::*;

use super::objects::suffix_class;
use super::vectors::{pack_chunks, Prepared};
use super::Options;
use crate::error::Result;
use crate::fxhash::{FastMap, FastSet, FxHasher};
use crate::packed::Packed;
use crate::schema::Record;
use crate::textfile::TextFile;
use crate::tokenize::is_letter_or_digit;

/// A petitioner's petitions are compared with their next this many (by time): enough for
/// every real repeater, bounded for a hotline's frequent callers.
const REPEAT_WINDOW: usize = 32;

/// The full grouping's step: candidate pairs over all petitions, those that hold, joined onto
/// the clusters of the leader and merge passes (`assign`: each petition's cluster; `keys`:
/// each cluster's anchor, grown by the clusters two lone petitions start). `file`: see
/// [`candidates`].
pub(super) fn apply(
    sorted: &[&Record],
    prep: &Prepared,
    assign: &mut [Option<(usize, f32)>],
    keys: &mut Vec<Option<u32>>,
    opts: &Options,
    file: Option<&TextFile>,
) -> Result<()> {
    let docs = &prep.docs;
    let pairs = candidates(sorted, &|_| true, opts, file)?;
    // a petition's object as the grouping resolved it (a name it could not resolve to one
    // object — a kind, a stray phrase of the letter — is none)
    let object = |i: usize| {
        let key = docs[i].key;
        (key, key.map(|k| prep.lex.anchors[k as usize].as_str()))
    };
    // the name as the title writes it (a name found only in the letter may be a stray phrase
    // of it)
    let titled = |i: usize| {
        let raw = prep.written(i).filter(|r| sorted[i].title.contains(r));
        (docs[i].key, raw)
    };
    let names = prep.lex.anchors.iter().map(String::as_str);
    let common = CommonGrams::of(names, opts.name_fragment_max_names);
    let compatible = |i: usize, j: usize| {
        one_object([
            objects(object(i), object(j), &common),
            objects(titled(i), titled(j), &common),
        ])
    };
    let held = holding(
        &pairs,
        // pairs lie all over the text file (`Packed::read`)
        &|i, j| cos(&docs[i].vec.read(), &docs[j].vec.read()),
        &compatible,
        &|i| docs[i].key.is_some(),
        opts,
    );
    // tens of millions at ten million petitions; the held ones are a fraction
    drop(pairs);
    // a name one letter alone carries may be a stray phrase of it
    let per_key = per_object(docs.iter().map(|d| d.key));
    let named = |i: usize| {
        let recurring = docs[i].key.is_some_and(|k| per_key[&k] >= 2);
        votes(titled(i).1.is_some(), object(i).1, recurring, opts)
    };
    let writer = |i: usize, j: usize| same_writer(sorted, i, j);
    let clash = clash_rule(&writer, &named, &compatible);
    let mut group: Vec<Option<usize>> = assign.iter().map(|a| a.map(|(c, _)| c)).collect();
    let mut sizes = vec![0usize; keys.len()];
    for g in group.iter().flatten() {
        sizes[*g] += 1;
    }
    let mut fresh = |i: usize| {
        keys.push(docs[i].key);
        keys.len() - 1
    };
    join(
        &held,
        &mut group,
        &mut sizes,
        &mut fresh,
        opts.link_merge_max,
        &|_| false,
        &clash,
    );
    for (a, g) in assign.iter_mut().zip(group) {
        *a = g.map(|g| (g, 0.0));
    }
    Ok(())
}

/// A candidate pair `(i, j, why)`, `i < j`, by the petitions' indices. `u32`s: 12 bytes, not
/// the 24 of two `usize`s, and a full grouping holds tens of millions of them at ten million
/// petitions (docs/scale.md).
pub(super) type Pair = (u32, u32, Why);

/// A pair that holds, `(i, j, similarity)`, `i < j` ([`holding`]; `u32`s as in [`Pair`]).
pub(super) type Link = (u32, u32, f32);

/// A petition's index as a [`Pair`] holds it.
fn small(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 2^32 petitions")
}

/// Why two petitions are a candidate pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Why {
    /// The same petitioner.
    Repeat,
    /// Rare title fragments in common.
    RareName,
    /// Most of the head of the letter in common: a copy, or the same letter sent again.
    Copy,
}

/// Characters of a letter's head read for copies, and the length of the shingles compared.
const COPY_HEAD: usize = 300;
const COPY_SHINGLE: usize = 5;
/// One shingle in this many is kept (chosen by its hash, so two copies keep the same ones).
const COPY_SAMPLE: u64 = 4;
/// A kept shingle in more letters than this is boilerplate (尊敬的领导…), not evidence.
const COPY_MAX_DF: u32 = 50;

/// The kept shingles of the head of a letter (letters, digits and Han characters only).
fn copy_shingles(content: &str) -> Vec<u64> {
    let chars: Vec<char> = content
        .chars()
        .filter(|&c| is_letter_or_digit(c))
        .take(COPY_HEAD)
        .collect();
    let mut out: Vec<u64> = chars
        .windows(COPY_SHINGLE)
        .map(|w| {
            let mut h = FxHasher::default();
            for c in w {
                h.write_u32(*c as u32);
            }
            h.finish()
        })
        .filter(|h| h % COPY_SAMPLE == 0)
        .collect();
    out.sort_unstable();
    out.dedup();
    out.shrink_to_fit();
    out
}

/// The distinct three-character fragments of a title: overlapping windows over each run of
/// letters, digits and Han characters (punctuation and spaces split runs), Latin letters folded
/// to lower case, hashed.
pub(super) fn title_grams(title: &str) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    let mut run: Vec<char> = Vec::new();
    let flush = |run: &mut Vec<char>, out: &mut Vec<u64>| {
        for w in run.windows(3) {
            // the window's characters in order of code point: a name with two characters
            // swapped (金桂园 / 桂金园) keeps its fragments
            let mut w = [w[0], w[1], w[2]];
            w.sort_unstable();
            let mut h = FxHasher::default();
            for c in w {
                h.write_u32(c as u32);
            }
            out.push(h.finish());
        }
        run.clear();
    };
    for c in title.chars() {
        if is_letter_or_digit(c) {
            run.push(c.to_ascii_lowercase());
        } else {
            flush(&mut run, &mut out);
        }
    }
    flush(&mut run, &mut out);
    out.sort_unstable();
    out.dedup();
    out.shrink_to_fit();
    out
}

/// Candidate pairs `(i, j, why)`, `i < j`, over id-sorted records; only pairs with at least one
/// petition for which `focus` holds (all of them in a full grouping, the new ones in a week's).
pub(super) fn candidates(
    sorted: &[&Record],
    focus: &(dyn Fn(usize) -> bool + Sync),
    opts: &Options,
    file: Option<&TextFile>,
) -> Result<Vec<Pair>> {
    // the same petitioner's pairs are found beside the text evidence (one core's work)
    let (repeats, evidence) = rayon::join(
        || repeat_pairs(sorted, focus),
        || text_pairs(sorted, focus, opts, file),
    );
    let evidence = evidence?;
    // one allocation of the sum: extending either list could double its capacity
    let mut out: Vec<Pair> = Vec::with_capacity(repeats.len() + evidence.len());
    out.extend(repeats);
    out.extend(evidence);
    // one entry per pair; a repeat is the stronger reason (it has the lower threshold)
    out.par_sort_unstable();
    out.dedup_by(|b, a| a.0 == b.0 && a.1 == b.1);
    Ok(out)
}

/// [`candidates`] of the same petitioner: each of their petitions with the next few of theirs.
fn repeat_pairs(sorted: &[&Record], focus: &(dyn Fn(usize) -> bool + Sync)) -> Vec<Pair> {
    let mut out: Vec<Pair> = Vec::new();
    let mut by_writer: FastMap<&str, Vec<usize>> = FastMap::default();
    for (i, r) in sorted.iter().enumerate() {
        if let Some(p) = writer(r) {
            by_writer.entry(p).or_default().push(i);
        }
    }
    for list in by_writer.values_mut().filter(|l| l.len() >= 2) {
        list.sort_by_key(|&i| (sorted[i].received_at, i));
        for (a, &i) in list.iter().enumerate() {
            for &j in list.iter().skip(a + 1).take(REPEAT_WINDOW) {
                if focus(i) || focus(j) {
                    out.push((small(i.min(j)), small(i.max(j)), Why::Repeat));
                }
            }
        }
    }
    out
}

/// [`candidates`] by the text: rare title fragments in common, and copies.
fn text_pairs(
    sorted: &[&Record],
    focus: &(dyn Fn(usize) -> bool + Sync),
    opts: &Options,
    file: Option<&TextFile>,
) -> Result<Vec<Pair>> {
    let mut out: Vec<Pair> = Vec::new();
    // ---- rare title fragments
    if opts.rare_name_shared > 0 && opts.rare_name_max_df >= 2 {
        let grams = features(sorted, |r| title_grams(&r.title), file)?;
        let need = opts.rare_name_shared as u32;
        out.extend(
            shared_pairs(&grams, opts.rare_name_max_df as u32, focus, &|_, _, n| {
                n >= need
            })
            .into_iter()
            .map(|(i, j, _)| (i, j, Why::RareName)),
        );
    }
    // ---- copies
    {
        let shingles = features(sorted, |r| copy_shingles(&r.content), file)?;
        out.extend(
            shared_pairs(&shingles, COPY_MAX_DF, focus, &|i, j, n| {
                let least = shingles[i as usize].len().min(shingles[j as usize].len()) as u32;
                n >= 3 && n * 10 >= least * 7
            })
            .into_iter()
            .map(|(i, j, _)| (i, j, Why::Copy)),
        );
    }
    Ok(out)
}

/// Each petition's hashed features, made on the thread pool and packed a chunk to a buffer, in
/// `file` when one is given (the run's text file, handed back to the kernel as it is read).
///
/// Why: a list per petition on the heap was the grouping's peak at ten million generated
/// petitions (the letters' heads, ~27 kept shingles each: 2.4 GB with the lists' own headers,
/// +3.4 GB of live heap over the step with the counts; docs/scale.md).
fn features(
    sorted: &[&Record],
    make: impl Fn(&Record) -> Vec<u64> + Sync,
    file: Option<&TextFile>,
) -> Result<Vec<Packed<u64>>> {
    pack_chunks(sorted.par_iter(), |r| make(r), file)
}

/// For sets of hashed features (one per petition, each sorted and distinct), the pairs
/// `(i, j, n)`, `i < j`, that share `n ≥ 1` features carried by at most `max_df` petitions, with
/// at least one side in `focus`, and that `keep` accepts; sorted. Each petition counts its own
/// later partners from the postings, in parallel, and only the kept pairs are collected: one
/// map of every pair (the earlier way) held 0.8 GiB at a million generated petitions, whose
/// stock sentences make many pairs share a shingle or two and few share a copy's worth.
fn shared_pairs<S: std::ops::Deref<Target = [u64]> + Sync>(
    sets: &[S],
    max_df: u32,
    focus: &(dyn Fn(usize) -> bool + Sync),
    keep: &(dyn Fn(u32, u32, u32) -> bool + Sync),
) -> Vec<(u32, u32, u32)> {
    // The features are dealt to one map per thread by value: each thread reads every set but
    // counts and posts only its own features, so the counting (one core's second at a million
    // petitions) runs on all cores. Which map a feature is in changes nothing else: each list
    // holds the petitions carrying it, in increasing order, whatever the number of threads.
    let parts = rayon::current_num_threads().max(1);
    let part =
        move |f: u64| ((f.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) % parts as u64) as usize;
    let postings: Vec<FastMap<u64, Vec<u32>>> = (0..parts)
        .into_par_iter()
        .with_max_len(1)
        .map(|p| {
            let mut df: FastMap<u64, u32> = FastMap::default();
            for &f in sets
                .iter()
                .flat_map(|s| s.iter())
                .filter(|&&f| part(f) == p)
            {
                *df.entry(f).or_insert(0) += 1;
            }
            let mut postings: FastMap<u64, Vec<u32>> = FastMap::default();
            for (i, fs) in sets.iter().enumerate() {
                for &f in fs.iter().filter(|&&f| part(f) == p) {
                    if (2..=max_df).contains(&df[&f]) {
                        postings.entry(f).or_default().push(i as u32);
                    }
                }
            }
            postings
        })
        .collect();
    sets.par_iter()
        .enumerate()
        .flat_map_iter(|(i, fs)| {
            let i = i as u32;
            let mut later: Vec<u32> = Vec::new();
            for f in fs.iter() {
                if let Some(list) = postings[part(*f)].get(f) {
                    let from = list.partition_point(|&j| j <= i);
                    later.extend(
                        list[from..]
                            .iter()
                            .filter(|&&j| focus(i as usize) || focus(j as usize)),
                    );
                }
            }
            later.sort_unstable();
            let mut out: Vec<(u32, u32, u32)> = Vec::new();
            for run in later.chunk_by(|a, b| a == b) {
                let (j, n) = (run[0], run.len() as u32);
                if keep(i, j, n) {
                    out.push((i, j, n));
                }
            }
            out
        })
        .collect()
}

/// The cosine of two L2-normalised sparse vectors (sorted by term).
pub(super) fn cos(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
    let (mut i, mut j, mut dot) = (0, 0, 0.0f32);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                dot += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    dot
}

/// What two petitions' object names say about whether they are about one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Objects {
    /// The same object (`key`), or names sharing a three-character fragment (锦绣江南 and
    /// 锦秀江南: two spellings of one estate).
    Same,
    /// Two names with nothing in common: two different estates' mahjong parlours are two
    /// cases however alike the words.
    Different,
    /// One side names none.
    Unknown,
}

/// The fragments of object names ([`title_grams`]) that say nothing about which object a name
/// is: those in more than [`Options::name_fragment_max_names`] of the names the data uses
/// (…妇幼保健院's 妇幼保 and 保健院, …花园小区's 花园小: the name of a kind, not of one object).
#[derive(Debug, Default)]
pub(super) struct CommonGrams(FastSet<u64>);

impl CommonGrams {
    /// From the data's object names (the lexicon's anchors), each counted once.
    pub(super) fn of<'a>(names: impl Iterator<Item = &'a str>, max_names: usize) -> CommonGrams {
        let mut n: FastMap<u64, u32> = FastMap::default();
        for name in names {
            for g in title_grams(name) {
                *n.entry(g).or_insert(0) += 1;
            }
        }
        CommonGrams(
            n.into_iter()
                .filter(|(_, c)| *c as usize > max_names)
                .map(|(g, _)| g)
                .collect(),
        )
    }
}

/// Compares two petitions' objects, each `(key, name)`; two names are one object's when they
/// share a fragment that is not `common` (two maternity hospitals share 妇幼保健院's).
pub(super) fn objects(
    a: (Option<u32>, Option<&str>),
    b: (Option<u32>, Option<&str>),
    common: &CommonGrams,
) -> Objects {
    match (a.1, b.1) {
        (Some(_), Some(_)) if a.0.is_some() && a.0 == b.0 => Objects::Same,
        (Some(x), Some(y)) => {
            let gy = title_grams(y);
            if title_grams(x)
                .iter()
                .any(|g| !common.0.contains(g) && gy.binary_search(g).is_ok())
            {
                Objects::Same
            } else {
                Objects::Different
            }
        }
        _ => Objects::Unknown,
    }
}

/// Whether two petitions can be about one object, from two readings of their objects (the one
/// the grouping resolved, the name written in the title): one reading says the same, or
/// neither says different.
pub(super) fn one_object(readings: [Objects; 2]) -> bool {
    readings.contains(&Objects::Same) || !readings.contains(&Objects::Different)
}

/// A petition's petitioner as the repeat pairs read it (trimmed; blank = unknown).
fn writer(r: &Record) -> Option<&str> {
    r.petitioner
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// Whether petitions `i` and `j` have one petitioner: their pair is a repeat candidate.
pub(super) fn same_writer(sorted: &[&Record], i: usize, j: usize) -> bool {
    writer(sorted[i]).is_some_and(|p| writer(sorted[j]) == Some(p))
}

/// The candidate pairs that hold: cosine at least the threshold of their reason, and for rare
/// shared fragments and copies about one object ([`one_object`] through `compatible`: one
/// letter copied by residents of two estates is two cases); a repeat is one petitioner's
/// matter, whatever object each letter happens to name first. A rare fragment holds only when
/// one of the two petitions names an object (`has_object`: the grouping resolved one): in two
/// titles that name none, what they share is a theme's phrase (退役军人, 独生子女, 油烟熏人),
/// and broad themes asked by different people stay apart unless they are copies. Sorted most
/// similar first (ties: by indices), the order [`join`] takes them in.
pub(super) fn holding(
    pairs: &[Pair],
    sim: &(dyn Fn(usize, usize) -> f32 + Sync),
    compatible: &(dyn Fn(usize, usize) -> bool + Sync),
    has_object: &(dyn Fn(usize) -> bool + Sync),
    opts: &Options,
) -> Vec<Link> {
    let mut out: Vec<Link> = pairs
        .par_iter()
        .filter(|&&(i, j, why)| {
            let (i, j) = (i as usize, j as usize);
            match why {
                Why::Repeat => true,
                // the cheap test first: `compatible` cuts both titles' names into fragments
                Why::RareName => (has_object(i) || has_object(j)) && compatible(i, j),
                Why::Copy => compatible(i, j),
            }
        })
        .filter_map(|&(i, j, why)| {
            let th = match why {
                Why::Repeat => opts.repeat_threshold,
                Why::RareName => opts.rare_name_threshold,
                Why::Copy => 0.0,
            } as f32;
            let s = sim(i as usize, j as usize);
            (s >= th).then_some((i, j, s))
        })
        .collect();
    out.par_sort_by(|a, b| b.2.total_cmp(&a.2).then((a.0, a.1).cmp(&(b.0, b.1))));
    out
}

/// How many petitions name each object (`keys`: each petition's), for [`votes`]' `recurring`.
pub(super) fn per_object(keys: impl Iterator<Item = Option<u32>>) -> FastMap<u32, u32> {
    let mut out: FastMap<u32, u32> = FastMap::default();
    for k in keys.flatten() {
        *out.entry(k).or_insert(0) += 1;
    }
    out
}

/// Whether a petition's object counts in [`clash_rule`]: a name its title writes, an object
/// other petitions name too (`recurring`), or a place its letter names (an estate, a road, a
/// village: where its matter is). A firm or a school one letter alone names may be mentioned in
/// passing (the platform's shareholders in a letter about the platform).
pub(super) fn votes(titled: bool, object: Option<&str>, recurring: bool, opts: &Options) -> bool {
    titled
        || object.is_some_and(|a| {
            recurring || matches!(suffix_class(a, &opts.extra_suffixes), Some(0 | 2 | 3))
        })
}

/// Whether a lone petition `lone`, linked to `partner`, may not join a cluster whose members
/// are `members`: it names an object that most of the members naming one contradict (`named`:
/// see [`votes`]). A link checks one pair; a cluster would otherwise take in one copied letter
/// per estate or village, each linked through a different member (or through a member that names nothing). Most, not
/// all: the names one object's petitions use vary (咸嘉新村西子园 / 西子园 / 咸嘉新村), and one
/// letter naming both is what ties them. A letter of the partner's own writer stays exempt, as
/// a repeat is in [`holding`]: one petitioner's matter, whatever object each letter names first.
pub(super) fn clash_rule<'a>(
    same_writer: &'a (dyn Fn(usize, usize) -> bool + Sync),
    named: &'a (dyn Fn(usize) -> bool + Sync),
    compatible: &'a (dyn Fn(usize, usize) -> bool + Sync),
) -> impl Fn(usize, usize, &[usize]) -> bool + 'a {
    move |lone: usize, partner: usize, members: &[usize]| {
        if same_writer(lone, partner) || !named(lone) {
            return false;
        }
        let (mut agree, mut differ) = (0usize, 0usize);
        for &m in members.iter().filter(|&&m| named(m)) {
            if compatible(lone, m) {
                agree += 1;
            } else {
                differ += 1;
            }
        }
        differ > agree
    }
}

/// Applies links to a grouping: `group[i]` is petition `i`'s cluster (a cluster of one member
/// counts as none) and `sizes` the clusters' sizes; `fresh(i)` makes a new cluster for a pair
/// of lone petitions. A link joins a lone petition to the other's cluster (two lone ones: the
/// first's, or a fresh one). Two clusters of two or more merge only when both hold at most
/// `merge_max` petitions and at least half of the pairs across them are links: two halves of
/// one small case, never a chain through one pair. A `fixed` petition never moves (a weekly
/// run keeps earlier members where they are); a lone petition never joins a cluster `clash`
/// (lone, partner, the cluster's members) refuses.
pub(super) fn join(
    links: &[Link],
    group: &mut [Option<usize>],
    sizes: &mut Vec<usize>,
    fresh: &mut dyn FnMut(usize) -> usize,
    merge_max: usize,
    fixed: &dyn Fn(usize) -> bool,
    clash: &dyn Fn(usize, usize, &[usize]) -> bool,
) -> usize {
    let linked: FastSet<(u32, u32)> = links.iter().map(|&(i, j, _)| (i, j)).collect();
    // members of the clusters links touch, built as they are needed
    let mut members: FastMap<usize, Vec<usize>> = FastMap::default();
    for (i, g) in group.iter().enumerate() {
        if let Some(g) = g {
            members.entry(*g).or_default().push(i);
        }
    }
    let mut joined = 0;
    let size_of = |g: Option<usize>, sizes: &[usize]| g.map_or(0, |g| sizes[g]);
    let put = |i: usize,
               g: usize,
               group: &mut [Option<usize>],
               sizes: &mut Vec<usize>,
               members: &mut FastMap<usize, Vec<usize>>| {
        if sizes.len() <= g {
            sizes.resize(g + 1, 0);
        }
        if let Some(old) = group[i] {
            sizes[old] -= 1;
            if let Some(m) = members.get_mut(&old) {
                m.retain(|&x| x != i);
            }
        }
        group[i] = Some(g);
        sizes[g] += 1;
        members.entry(g).or_default().push(i);
    };
    for &(i, j, _) in links {
        let (i, j) = (i as usize, j as usize);
        let (gi, gj) = (group[i], group[j]);
        if gi.is_some() && gi == gj {
            continue;
        }
        let (si, sj) = (size_of(gi, sizes), size_of(gj, sizes));
        if si >= 2 && sj >= 2 {
            let (Some(a), Some(b)) = (gi, gj) else {
                continue;
            };
            if si > merge_max || sj > merge_max {
                continue;
            }
            let (ma, mb) = (members[&a].clone(), members[&b].clone());
            let across = ma
                .iter()
                .flat_map(|&x| mb.iter().map(move |&y| (small(x.min(y)), small(x.max(y)))))
                .filter(|p| linked.contains(p))
                .count();
            if across * 2 < ma.len() * mb.len() {
                continue;
            }
            let (into, from) = (a.min(b), a.max(b));
            for x in members.remove(&from).unwrap_or_default() {
                put(x, into, group, sizes, &mut members);
            }
            joined += 1;
            continue;
        }
        let (lone, into) = match (si >= 2, sj >= 2) {
            (true, _) => (j, gi),
            (false, true) => (i, gj),
            (false, false) if fixed(j) => (i, gj),
            (false, false) => (j, gi),
        };
        if fixed(lone) || (into.is_none() && fixed(i)) {
            continue;
        }
        let partner = if lone == i { j } else { i };
        if let Some(g) = into {
            if members.get(&g).is_some_and(|m| clash(lone, partner, m)) {
                continue;
            }
        }
        let into = match into {
            Some(g) => g,
            None => {
                let g = fresh(i);
                put(i, g, group, sizes, &mut members);
                g
            }
        };
        put(lone, into, group, sizes, &mut members);
        joined += 1;
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grams_are_runs_of_three() {
        let g = title_grams("A市博雅琴行，退费");
        // A市博 市博雅 博雅琴 雅琴行 (退费 is too short)
        assert_eq!(g.len(), 4);
        assert_eq!(title_grams("a市博雅琴行"), title_grams("A市博雅琴行"));
        assert!(title_grams("退费").is_empty());
    }

    #[test]
    fn objects_agree_by_key_or_a_shared_fragment() {
        use Objects::*;
        let none = CommonGrams::default();
        assert_eq!(
            objects(
                (Some(1), Some("育才中学")),
                (Some(1), Some("育才中学校")),
                &none
            ),
            Same
        );
        assert_eq!(
            objects(
                (Some(1), Some("金桂花园")),
                (Some(2), Some("桂金花园")),
                &none
            ),
            Same
        );
        assert_eq!(
            objects(
                (Some(1), Some("柳岸花园")),
                (Some(2), Some("梧桐苑")),
                &none
            ),
            Different
        );
        assert_eq!(
            objects((Some(1), Some("育才中学")), (None, Some("实验中学")), &none),
            Different
        );
        assert_eq!(
            objects((Some(1), Some("育才中学")), (None, None), &none),
            Unknown
        );
        // four maternity hospitals: 妇幼保健院's fragments name the kind, not one of them
        let names = [
            "青石妇幼保健院",
            "白沙妇幼保健院",
            "红岭妇幼保健院",
            "金湾妇幼保健院",
        ];
        let common = CommonGrams::of(names.into_iter(), 3);
        let (a, b) = ((Some(1), Some(names[0])), (Some(2), Some(names[1])));
        assert_eq!(objects(a, b, &none), Same);
        assert_eq!(objects(a, b, &common), Different);
        // … while a short form of one of them still shares its own
        assert_eq!(objects(a, (Some(3), Some("青石妇幼")), &common), Same);
        assert!(one_object([Same, Different]) && one_object([Unknown, Unknown]));
        assert!(!one_object([Unknown, Different]));
    }

    /// 0–1 a copy, 2–3 rare shared names, 4–5 one petitioner's repeat.
    const PAIRS_OF_EACH_KIND: [Pair; 3] = [
        (0, 1, Why::Copy),
        (2, 3, Why::RareName),
        (4, 5, Why::Repeat),
    ];

    #[test]
    fn copies_and_rare_names_need_one_object_repeats_do_not() {
        let opts = Options::default();
        // 0–1 a copy, 2–3 rare names, 4–5 one petitioner: all about two different objects
        let pairs = PAIRS_OF_EACH_KIND;
        let held = holding(&pairs, &|_, _| 0.9, &|_, _| false, &|_| true, &opts);
        assert_eq!(held, vec![(4, 5, 0.9)]);
        let held = holding(&pairs, &|_, _| 0.9, &|_, _| true, &|_| true, &opts);
        assert_eq!(held.len(), 3);
    }

    #[test]
    fn a_rare_fragment_of_two_titles_naming_no_object_is_a_theme() {
        let opts = Options::default();
        // none names an object
        let pairs = PAIRS_OF_EACH_KIND;
        let held = holding(&pairs, &|_, _| 0.9, &|_, _| true, &|_| false, &opts);
        assert_eq!(held, vec![(0, 1, 0.9), (4, 5, 0.9)]);
        // one side naming an object is enough
        let held = holding(&pairs, &|_, _| 0.9, &|_, _| true, &|i| i == 3, &opts);
        assert_eq!(held.len(), 3);
    }

    proptest::proptest! {
        /// The per-petition pair count equals counting, for every pair of petitions, the features
        /// both carry among those at most `max_df` petitions carry (pairs sharing fewer than
        /// `least` left out by `keep`).
        #[test]
        fn shared_pairs_counts_rare_features(
            raw in proptest::collection::vec(proptest::collection::vec(0u64..12, 0..6), 0..14),
            max_df in 2u32..5,
            odd_only in proptest::bool::ANY,
            least in 1u32..3,
        ) {
            let sets: Vec<Vec<u64>> = raw
                .into_iter()
                .map(|mut v| {
                    v.sort_unstable();
                    v.dedup();
                    v
                })
                .collect();
            let focus = |i: usize| !odd_only || i % 2 == 1;
            let df = |f: u64| sets.iter().filter(|s| s.contains(&f)).count() as u32;
            let mut naive = Vec::new();
            for i in 0..sets.len() {
                for j in i + 1..sets.len() {
                    let n = sets[i]
                        .iter()
                        .filter(|f| sets[j].contains(f) && df(**f) <= max_df)
                        .count() as u32;
                    if n >= least && (focus(i) || focus(j)) {
                        naive.push((i as u32, j as u32, n));
                    }
                }
            }
            let keep = |_: u32, _: u32, n: u32| n >= least;
            // the features are dealt to one map per thread: any number of them counts the same
            for threads in [1, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let got = pool.install(|| shared_pairs(&sets, max_df, &focus, &keep));
                proptest::prop_assert_eq!(&got, &naive);
            }
        }
    }

    #[test]
    fn a_link_never_merges_two_groups() {
        // 0,1 in cluster 0; 2,3 in cluster 1; 4 alone in cluster 2; 5 in none
        let mut group = vec![Some(0), Some(0), Some(1), Some(1), Some(2), None];
        let mut sizes = vec![2, 2, 1];
        let mut next = 3;
        let mut fresh = |_: usize| {
            next += 1;
            next - 1
        };
        let links = [(0, 2, 0.9), (1, 4, 0.8), (4, 5, 0.7), (3, 5, 0.6)];
        let n = join(
            &links,
            &mut group,
            &mut sizes,
            &mut fresh,
            0,
            &|_| false,
            &|_, _, _| false,
        );
        // 0–2 skipped (two groups); 4 joins 1's group; 5 joins 4's (now group 0); 3–5 skipped
        assert_eq!(n, 2);
        assert_eq!(
            group,
            vec![Some(0), Some(0), Some(1), Some(1), Some(0), Some(0)]
        );
        assert_eq!(sizes, vec![4, 2, 0]);
    }

    #[test]
    fn a_fixed_petition_never_moves() {
        // 0 is an earlier member alone in its group 0 (fixed); 1 is new and alone
        let mut group = vec![Some(0), None];
        let mut sizes = vec![1];
        let mut fresh = |_: usize| unreachable!();
        let fixed = |i: usize| i == 0;
        assert_eq!(
            join(
                &[(0, 1, 0.9)],
                &mut group,
                &mut sizes,
                &mut fresh,
                0,
                &fixed,
                &|_, _, _| false
            ),
            1
        );
        assert_eq!(group, vec![Some(0), Some(0)]);
        // two fixed petitions in different groups: nothing moves
        let mut group = vec![Some(0), Some(1)];
        let mut sizes = vec![1, 1];
        assert_eq!(
            join(
                &[(0, 1, 0.9)],
                &mut group,
                &mut sizes,
                &mut fresh,
                0,
                &|_| true,
                &|_, _, _| false
            ),
            0
        );
    }

    #[test]
    fn a_cluster_takes_no_letter_whose_object_most_members_contradict() {
        // cluster 0 = {0, 1}, neither names an object; 2 names estate A, 3 estate B, 4 a
        // spelling of A, 5 estate B again but as its writer's repeat of 1
        let name = [None, None, Some('A'), Some('B'), Some('a'), Some('B')];
        let named = |i: usize| name[i].is_some();
        let compatible = |i: usize, j: usize| match (name[i], name[j]) {
            (Some(x), Some(y)) => x.eq_ignore_ascii_case(&y),
            _ => true,
        };
        let clash = clash_rule(&|i, j| (i, j) == (5, 1), &named, &compatible);
        let mut group = vec![Some(0), Some(0), None, None, None, None];
        let mut sizes = vec![2];
        let mut fresh = |_: usize| unreachable!();
        let links = [(0, 2, 0.9), (1, 3, 0.8), (1, 4, 0.7), (1, 5, 0.6)];
        let n = join(
            &links,
            &mut group,
            &mut sizes,
            &mut fresh,
            0,
            &|_| false,
            &clash,
        );
        assert_eq!(n, 3);
        assert_eq!(
            group,
            vec![Some(0), Some(0), Some(0), None, Some(0), Some(0)]
        );
    }

    #[test]
    fn places_a_letter_names_vote_and_a_firm_named_once_does_not() {
        let opts = Options::default();
        assert!(votes(true, None, false, &opts));
        assert!(votes(false, Some("丽景花园"), false, &opts));
        assert!(votes(false, Some("银杏路"), false, &opts));
        assert!(votes(false, Some("桃溪村"), false, &opts));
        assert!(!votes(false, Some("恒信投资公司"), false, &opts));
        assert!(votes(false, Some("恒信投资公司"), true, &opts));
        assert!(!votes(false, None, true, &opts));
    }

    #[test]
    fn two_lone_petitions_make_a_fresh_cluster() {
        let mut group = vec![None, None];
        let mut sizes = vec![];
        let mut fresh = |_: usize| 0;
        assert_eq!(
            join(
                &[(0, 1, 0.5)],
                &mut group,
                &mut sizes,
                &mut fresh,
                0,
                &|_| false,
                &|_, _, _| false
            ),
            1
        );
        assert_eq!(group, vec![Some(0), Some(0)]);
        assert_eq!(sizes, vec![2]);
    }

    #[test]
    fn small_halves_of_one_case_merge() {
        // {0,1} and {2,3}: three of the four pairs across are links → one case; {4,5} has one
        // link to 0 of four pairs → stays apart
        let mut group = vec![Some(0), Some(0), Some(1), Some(1), Some(2), Some(2)];
        let mut sizes = vec![2, 2, 2];
        let mut fresh = |_: usize| unreachable!();
        let links = [(0, 2, 0.9), (1, 2, 0.8), (0, 3, 0.7), (0, 4, 0.6)];
        assert_eq!(
            join(
                &links,
                &mut group,
                &mut sizes,
                &mut fresh,
                3,
                &|_| false,
                &|_, _, _| false
            ),
            1
        );
        assert_eq!(
            group,
            vec![Some(0), Some(0), Some(0), Some(0), Some(2), Some(2)]
        );
        // too big to merge by links
        let mut group = vec![Some(0), Some(0), Some(1), Some(1)];
        let mut sizes = vec![2, 2];
        assert_eq!(
            join(
                &[(0, 2, 0.9), (1, 3, 0.9), (0, 3, 0.9), (1, 2, 0.9)],
                &mut group,
                &mut sizes,
                &mut fresh,
                1,
                &|_| false,
                &|_, _, _| false
            ),
            0
        );
    }
}
