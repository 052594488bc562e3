//! Step 5 of the grouping: the leader pass (single-pass centroid clustering within each object,
//! anchor-free petitions through an inverted index of top terms) and the reassignment of every
//! petition to its best final centroid.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::fxhash::FastMap;

use super::vectors::Doc;
use super::Options;

#[derive(Default, Clone)]
pub(super) struct Centroid {
    pub(super) key: Option<u32>,
    pub(super) sum: FastMap<u32, f32>,
    pub(super) norm2: f32,
    pub(super) size: usize,
}

impl Centroid {
    pub(super) fn add(&mut self, v: &[(u32, f32)]) {
        for (t, w) in v {
            let s = self.sum.entry(*t).or_insert(0.0);
            self.norm2 += 2.0 * *s * w + w * w;
            *s += w;
        }
        self.size += 1;
    }
    /// A centroid from a kept sum (sorted by term) of `size` vectors.
    pub(super) fn from_sum(key: Option<u32>, sum: &[(u32, f32)], size: usize) -> Self {
        Centroid {
            key,
            sum: sum.iter().copied().collect(),
            norm2: sum.iter().map(|(_, s)| s * s).sum(),
            size,
        }
    }
    pub(super) fn cos(&self, v: &[(u32, f32)]) -> f32 {
        if self.norm2 <= 0.0 {
            return 0.0;
        }
        let dot: f32 = v
            .iter()
            .filter_map(|(t, w)| self.sum.get(t).map(|s| s * w))
            .sum();
        dot / self.norm2.sqrt()
    }
    pub(super) fn top_terms(&self, k: usize) -> Vec<u32> {
        let mut v: Vec<(u32, f32)> = self.sum.iter().map(|(a, b)| (*a, *b)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.into_iter().take(k).map(|(t, _)| t).collect()
    }
}

/// Candidate lookup: clusters by anchor, anchor-free clusters by term postings.
#[derive(Default)]
pub(super) struct CandIndex {
    pub(super) by_key: FastMap<u32, Vec<usize>>,
    pub(super) by_term: FastMap<u32, Vec<usize>>,
}

/// An object-free petition is scored against the groups of at most this many of the latest
/// entries of each of its top terms' postings. Since object-free letters join only at a cosine
/// of 0.8 (`Options::unanchored_threshold`) most of them stay alone, the postings of common
/// words fill up with single letters, and with 400 scoring them was a fifth of the grouping at
/// 1M rows (1M rows, 2 cores: 76.6 → 66.3 s on the earlier generator's rows, 100.6 → 92.4 s on
/// today's); B-cubed on the generator's truth at 1M was the same (0.843 / 0.849 and 0.615 /
/// 0.617), and the dev key and the 5,000-row seeds 0–8 group exactly as with 400.
pub(super) const MAX_POSTING_SCAN: usize = 100;

impl CandIndex {
    pub(super) fn candidates(&self, d: &Doc, out: &mut Vec<usize>) {
        out.clear();
        match d.key {
            Some(k) => {
                if let Some(v) = self.by_key.get(&k) {
                    out.extend_from_slice(v);
                }
            }
            None => {
                for t in d.top.iter() {
                    if let Some(v) = self.by_term.get(t) {
                        let start = v.len().saturating_sub(MAX_POSTING_SCAN);
                        out.extend_from_slice(&v[start..]);
                    }
                }
                out.sort_unstable();
                // only the groups found under at least two of its top terms: it joins one
                // only at a cosine of 0.8 (`Options::unanchored_threshold`), which takes most
                // of its weight in common, and groups sharing one of its six heaviest words
                // were nearly all scored in vain — at 1M rows (the earlier generator's) the
                // reassignment scored 70.6M candidates for 235k object-free petitions, now
                // 25.2M, in 4.9 instead of 11.4 CPU-seconds; the dev key and the 5,000-row
                // seeds 0–8 group exactly as before. A petition with one top term keeps all.
                if d.top.len() >= 2 {
                    keep_repeated(out);
                } else {
                    out.dedup();
                }
            }
        }
    }
    pub(super) fn insert(&mut self, c: usize, key: Option<u32>, terms: &[u32]) {
        match key {
            Some(k) => self.by_key.entry(k).or_default().push(c),
            None => {
                for t in terms {
                    let p = self.by_term.entry(*t).or_default();
                    if p.last() != Some(&c) {
                        p.push(c);
                    }
                }
            }
        }
    }
}

/// Keeps one of each value that occurs at least twice in sorted `v`.
fn keep_repeated(v: &mut Vec<usize>) {
    let mut w = 0;
    let mut r = 0;
    while r < v.len() {
        let mut e = r + 1;
        while e < v.len() && v[e] == v[r] {
            e += 1;
        }
        if e - r >= 2 {
            v[w] = v[r];
            w += 1;
        }
        r = e;
    }
    v.truncate(w);
}

/// The candidate most similar to `d` (ties: the lower index), among those reaching `floor`
/// (the caller's threshold: a weaker one would be dropped anyway).
///
/// Most candidates share one word with the petition and are far below the floor, so each is
/// first scored over the petition's terms heaviest first and given up as soon as the part
/// still to come cannot lift it to the floor or to the best so far (the rest of a dot product
/// is at most the norm of the rest of the petition's vector, the centroid being of norm 1
/// after division). A candidate that stays in the race is scored again in the usual term
/// order, so the similarities are bit for bit those of the plain computation.
pub(super) fn best(
    cents: &[Centroid],
    cand: &[usize],
    d: &Doc,
    floor: f32,
) -> Option<(usize, f32)> {
    // the petition's terms heaviest first, and the norm of what follows each
    let mut heavy: Vec<(u32, f32)> = d.vec.to_vec();
    heavy.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut rest = vec![0.0f32; heavy.len() + 1];
    for i in (0..heavy.len()).rev() {
        rest[i] = rest[i + 1] + heavy[i].1 * heavy[i].1;
    }
    rest.iter_mut().for_each(|r| *r = r.sqrt());
    // a little slack for the rounding of the two summation orders
    const SLACK: f32 = 1e-4;
    let mut best: Option<(usize, f32)> = None;
    for &c in cand {
        let cent = &cents[c];
        if cent.key != d.key || cent.size == 0 || cent.norm2 <= 0.0 {
            continue;
        }
        let bar = best.map_or(floor, |(_, bs)| bs.max(floor)) - SLACK;
        let inv = 1.0 / cent.norm2.sqrt();
        let mut dot = 0.0f32;
        let mut hopeless = false;
        for (i, (t, w)) in heavy.iter().enumerate() {
            if let Some(s) = cent.sum.get(t) {
                dot += s * w;
            }
            if dot * inv + rest[i + 1] < bar {
                hopeless = true;
                break;
            }
        }
        if hopeless {
            continue;
        }
        let s = cent.cos(&d.vec);
        if s < floor {
            continue;
        }
        if best.is_none_or(|(bc, bs)| s > bs || (s == bs && c < bc)) {
            best = Some((c, s));
        }
    }
    best
}

/// No cluster, in the hints of [`leader`].
pub(super) const NO_HINT: u32 = u32::MAX;

/// Pass 1: leader clustering in id order. Returns the centroids, and each petition's pass-1
/// cluster ([`NO_HINT`]: none), which [`reassign`] scores first: it is usually the best, and a
/// high bar from the start lets [`best`] give up on the other candidates early.
pub(super) fn leader(docs: &[Doc], opts: &Options) -> (Vec<Centroid>, Vec<u32>) {
    // Petitions only meet groups of their own anchor (or, without one, anchor-free groups), so
    // each anchor is an independent run: they go in parallel, each in id order, and their
    // groups are concatenated in anchor order — the same result on any number of cores.
    let parts: Vec<Vec<usize>> = runs(docs).into_iter().map(|(_, ids)| ids).collect();
    // biggest first, so the long runs start early
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&p| std::cmp::Reverse(parts[p].len()));
    // one job per run: rayon splits a range in a few pieces up front and a piece nobody
    // steals runs on one core, so with the heavy runs at the front, the first piece (the
    // anchor-free run and the biggest anchors) used to finish on one core while the other
    // idled (3 of the leader's 7.4 s at 1M rows on 2 cores)
    let mut runs: Vec<(usize, Vec<Centroid>, Vec<u32>)> = order
        .into_par_iter()
        .with_max_len(1)
        .map(|p| {
            let (c, h) = leader_run(docs, &parts[p], opts);
            (p, c, h)
        })
        .collect();
    runs.sort_by_key(|r| r.0);
    let mut hints = vec![NO_HINT; docs.len()];
    let mut cents: Vec<Centroid> = Vec::new();
    for (p, c, h) in runs {
        let base = cents.len() as u32;
        for (&i, h) in parts[p].iter().zip(h) {
            if h != NO_HINT {
                hints[i] = base + h;
            }
        }
        cents.extend(c);
    }
    (cents, hints)
}

/// The anchors' runs of [`leader`] in the order it concatenates their groups in (anchor order,
/// anchor-free first), each its petitions in id order: also how `partitions` splits them.
pub(super) fn runs(docs: &[Doc]) -> Vec<(Option<u32>, Vec<usize>)> {
    let mut parts: BTreeMap<Option<u32>, Vec<usize>> = BTreeMap::new();
    for (i, d) in docs.iter().enumerate() {
        parts.entry(d.key).or_default().push(i);
    }
    parts.into_iter().collect()
}

/// Runs longer than this are scored in parallel blocks (see [`leader_run`]).
pub(super) const LEADER_BLOCK_FROM: usize = 20_000;
pub(super) const LEADER_BLOCK: usize = 256;

/// One leader run over `ids` (in order). Long runs (hundreds of thousands of petitions without
/// an anchor) score each block of [`LEADER_BLOCK`] petitions against the groups as they stood
/// at the block's start, in parallel, then apply the block in order, also checking the groups
/// the block itself started. Block boundaries are fixed, so the result does not depend on the
/// number of cores.
pub(super) fn leader_run(all: &[Doc], ids: &[usize], opts: &Options) -> (Vec<Centroid>, Vec<u32>) {
    let mut cents: Vec<Centroid> = Vec::new();
    // per petition of `ids`: the cluster it went to
    let mut went: Vec<u32> = Vec::with_capacity(ids.len());
    let mut idx = CandIndex::default();
    let block = if ids.len() >= LEADER_BLOCK_FROM {
        LEADER_BLOCK
    } else {
        1
    };
    for chunk in ids.chunks(block) {
        // An object's petitions lie all over the text file: their vectors are read from it,
        // not through its mapping (`Doc::detached`).
        let local: Vec<Doc> = if block > 1 {
            chunk.par_iter().map(|&i| all[i].detached()).collect()
        } else {
            vec![all[chunk[0]].detached()]
        };
        let scored: Vec<Option<(usize, f32)>> = if block > 1 {
            local
                .par_iter()
                .map(|d| {
                    let mut cand = Vec::new();
                    idx.candidates(d, &mut cand);
                    best(&cents, &cand, d, threshold(d, opts, 0) as f32)
                })
                .collect()
        } else {
            let mut cand = Vec::new();
            let d = &local[0];
            idx.candidates(d, &mut cand);
            vec![best(&cents, &cand, d, threshold(d, opts, 0) as f32)]
        };
        let fresh_from = cents.len();
        let mut fresh: Vec<usize> = Vec::new();
        for (d, scored) in local.iter().zip(scored) {
            if d.vec.is_empty() {
                went.push(NO_HINT);
                continue;
            }
            let th = threshold(d, opts, 0) as f32;
            // the groups this block started, which its scoring could not see: the best of
            // them replaces the scored one only when strictly better (ties: the earlier group)
            fresh.clear();
            fresh.extend(fresh_from..cents.len());
            let pick = match (scored, best(&cents, &fresh, d, th)) {
                (Some((c, s)), Some((_, fs))) if s >= fs => Some((c, s)),
                (scored, None) => scored,
                (_, f) => f,
            };
            match pick {
                Some((c, s)) if s >= th => {
                    cents[c].add(&d.vec);
                    if d.key.is_none() {
                        idx.insert(c, None, &d.top);
                    }
                    went.push(c as u32);
                }
                _ => {
                    let mut c = Centroid {
                        key: d.key,
                        ..Default::default()
                    };
                    c.add(&d.vec);
                    idx.insert(cents.len(), d.key, &d.top);
                    went.push(cents.len() as u32);
                    cents.push(c);
                }
            }
        }
    }
    (cents, went)
}

pub(super) fn threshold(d: &Doc, opts: &Options, step: usize) -> f64 {
    let base = if d.key.is_some() {
        opts.anchored_threshold
    } else {
        opts.unanchored_threshold
    };
    (base - opts.threshold_step * step as f64).max(opts.min_threshold.min(base))
}

/// Pass 2: assign each petition to its best final centroid; `None` = unclustered. `hints`
/// (empty: none) names a candidate to score first for each petition (see
/// [`leader`]); the result does not depend on them.
pub(super) fn reassign(
    docs: &[Doc],
    cents: &[Centroid],
    hints: &[u32],
    opts: &Options,
    step: usize,
    k: usize,
) -> Vec<Option<(usize, f32)>> {
    let mut idx = CandIndex::default();
    for (i, c) in cents.iter().enumerate() {
        if c.size >= 2 || opts.min_size <= 1 {
            idx.insert(i, c.key, &c.top_terms(k * 2));
        }
    }
    docs.par_iter()
        .enumerate()
        .map(|(i, d)| {
            if d.vec.is_empty() {
                return None;
            }
            let mut cand = Vec::new();
            idx.candidates(d, &mut cand);
            if let Some(at) = hints
                .get(i)
                .and_then(|&h| cand.iter().position(|&c| c as u32 == h))
            {
                cand[..=at].rotate_right(1);
            }
            let th = threshold(d, opts, step) as f32;
            best(cents, &cand, d, th)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{keep_repeated, CandIndex, Centroid};
    use crate::cluster::merge::SparseCentroid;
    use crate::cluster::vectors::Doc;

    /// A fixed centroid scores a vector exactly as the centroid it was summed in (the same
    /// products added in the same order), and its list is sorted by term.
    #[test]
    fn a_fixed_centroid_scores_as_the_centroid_it_was_made_from() {
        let vectors: Vec<Vec<(u32, f32)>> = (0..40u32)
            .map(|i| {
                (0..12u32)
                    .map(|k| ((i * 7 + k * 13) % 97, 0.1 + ((i + k) % 9) as f32 / 7.0))
                    .collect()
            })
            .collect();
        let mut c = Centroid {
            key: Some(3),
            ..Default::default()
        };
        for v in &vectors[..25] {
            c.add(v);
        }
        let fixed = SparseCentroid::from(c.clone());
        assert_eq!(fixed.key, Some(3));
        assert!(fixed.v.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(fixed.v.len(), c.sum.len());
        for v in &vectors {
            assert_eq!(fixed.cos_vec(v).to_bits(), c.cos(v).to_bits());
        }
        assert_eq!(SparseCentroid::default().cos_vec(&vectors[0]), 0.0);
    }

    #[test]
    fn keep_repeated_keeps_values_seen_twice_once() {
        let mut v = vec![1, 1, 2, 3, 3, 3, 4, 5, 5];
        keep_repeated(&mut v);
        assert_eq!(v, vec![1, 3, 5]);
        let mut none = vec![1, 2, 3];
        keep_repeated(&mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn candidates_of_an_object_free_petition_share_two_top_terms() {
        let mut idx = CandIndex::default();
        idx.insert(0, None, &[10, 11, 12]);
        idx.insert(1, None, &[10, 20]);
        idx.insert(2, None, &[11, 12]);
        idx.insert(3, Some(7), &[10, 11]);
        let doc = |top: Vec<u32>| Doc {
            key: None,
            vec: top.iter().map(|&t| (t, 0.5)).collect(),
            top: top.into(),
        };
        let mut out = Vec::new();
        // group 1 shares only term 10: not scored; the anchored group 3 never is
        idx.candidates(&doc(vec![10, 11, 12]), &mut out);
        assert_eq!(out, vec![0, 2]);
        // one top term: every group found under it
        idx.candidates(&doc(vec![10]), &mut out);
        assert_eq!(out, vec![0, 1]);
        // an anchored petition meets its anchor's groups whatever their words
        let anchored = Doc {
            key: Some(7),
            vec: vec![(99, 1.0)].into(),
            top: vec![99].into(),
        };
        idx.candidates(&anchored, &mut out);
        assert_eq!(out, vec![3]);
    }
}
