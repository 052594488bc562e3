//! Step 6 of the grouping: groups whose centroids are close merge when their objects agree and
//! their names do not clash; each merge is re-checked against the merged centroids.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::fxhash::FastMap;
use crate::schema::Record;

use super::leader::Centroid;
use super::vectors::Doc;
use super::Options;

/// Pass 3: merges groups whose centroids are close (cosine ≥ [`Options::merge_threshold`]) and
/// whose objects agree (the same anchor, or at most one side has one). Candidate pairs come from
/// shared top centroid terms; pairs are taken most similar first, and each merge is re-checked
/// against the *merged* centroids, so a chain A–B–C only forms when A and C are also close.
/// Returns each cluster's anchor after merging (a group without one takes its partner's).
pub(super) fn merge_groups(
    docs: &[Doc],
    assign: &mut [Option<(usize, f32)>],
    keys: &[Option<u32>],
    proper: &[bool],
    handling: &[(u32, u32)],
    opts: &Options,
) -> Vec<Option<u32>> {
    let n = keys.len();
    let low = opts.merge_threshold_same_office as f32;
    let same_office = |a: (u32, u32), b: (u32, u32)| a == b && (a.0 != 0 || a.1 != 0);
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (i, a) in assign.iter().enumerate() {
        if let Some((c, _)) = a {
            members[*c].push(i as u32);
        }
    }
    // each group's most common (category, unit), the smaller on a tie; 0 = not in the data.
    // Counted from its members' list: an ordered map of votes per first-pass cluster, most of
    // them single petitions, was ~0.2 KB each (a tree node) beside the centroids.
    let office: Vec<(u32, u32)> = members
        .par_iter()
        .map(|m| {
            let mut hs: Vec<(u32, u32)> = m.iter().map(|&i| handling[i as usize]).collect();
            hs.sort_unstable();
            let mut best = ((0, 0), 0usize);
            for run in hs.chunk_by(|a, b| a == b) {
                if run.len() > best.1 {
                    best = (run[0], run.len());
                }
            }
            best.0
        })
        .collect();
    let sizes: Vec<usize> = members.iter().map(Vec::len).collect();
    // Each group's term sums, its members' weights added in member order (a stable sort keeps
    // that order within a term). One map per group held 0.2 GiB more at a million petitions.
    let mut cents: Vec<SparseCentroid> = members
        .into_par_iter()
        .zip(keys)
        .map(|(m, k)| {
            let mut all: Vec<(u32, f32)> = m
                .iter()
                // a group's members lie all over the text file (`Packed::read`)
                .flat_map(|&i| docs[i as usize].vec.read())
                .collect();
            all.sort_by_key(|x| x.0);
            let mut sum: Vec<(u32, f32)> = Vec::new();
            for (t, w) in all {
                match sum.last_mut() {
                    Some(last) if last.0 == t => last.1 += w,
                    _ => sum.push((t, w)),
                }
            }
            sum.shrink_to_fit();
            SparseCentroid::new(*k, sum)
        })
        .collect();
    // The names among a group's top terms (宏达, 海纳): two groups that each have names, none
    // shared, are about different companies or places even when their wording agrees
    // (unpaid wages at two contractors).
    let names_of = |c: &SparseCentroid| c.names(proper);
    let mut names: Vec<Vec<u32>> = cents.par_iter().map(names_of).collect();
    let disjoint = names_disjoint;
    let live: Vec<usize> = (0..n).filter(|&c| sizes[c] > 0).collect();
    let tops: Vec<Vec<u32>> = live.par_iter().map(|&c| cents[c].top(MERGE_TOP)).collect();
    // `u32`s, as the pairs below: half the bytes of `usize`s over every live group's top terms
    let mut post: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (li, t) in tops.iter().enumerate() {
        for term in t {
            post.entry(*term).or_default().push(li as u32);
        }
    }
    let th = opts.merge_threshold as f32;
    let compatible = |a: Option<u32>, b: Option<u32>| a.is_none() || b.is_none() || a == b;
    let mut pairs: Vec<(f32, u32, u32)> = (0..live.len())
        .into_par_iter()
        .flat_map_iter(|li| {
            let mut cand: Vec<u32> = Vec::new();
            for term in &tops[li] {
                if let Some(p) = post.get(term) {
                    if p.len() <= MERGE_MAX_POSTING {
                        cand.extend(p.iter().copied().filter(|&o| o as usize > li));
                    }
                }
            }
            cand.sort_unstable();
            cand.dedup();
            let a = &cents[live[li]];
            cand.into_iter()
                .filter_map(|lo| {
                    let lo = lo as usize;
                    let b = &cents[live[lo]];
                    if !compatible(a.key, b.key) || disjoint(&names[live[li]], &names[live[lo]]) {
                        return None;
                    }
                    let s = a.cos(b);
                    let need = if a.key.is_some()
                        && a.key == b.key
                        && same_office(office[live[li]], office[live[lo]])
                    {
                        low
                    } else {
                        th
                    };
                    (s >= need).then_some((s, live[li] as u32, live[lo] as u32))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    // what found the pairs goes before they are taken
    drop((tops, post, live));
    pairs.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for (_, a, b) in pairs {
        let (ra, rb) = (root(&mut parent, a as usize), root(&mut parent, b as usize));
        if ra == rb
            || !compatible(cents[ra].key, cents[rb].key)
            || disjoint(&names[ra], &names[rb])
            || cents[ra].cos(&cents[rb])
                < if cents[ra].key.is_some()
                    && cents[ra].key == cents[rb].key
                    && same_office(office[ra], office[rb])
                {
                    low
                } else {
                    th
                }
        {
            continue;
        }
        // the smaller index survives: a canonical choice, independent of pair ties
        let (keep, gone) = if ra < rb { (ra, rb) } else { (rb, ra) };
        let g = std::mem::take(&mut cents[gone]);
        cents[keep].absorb(g);
        names[keep] = names_of(&cents[keep]);
        parent[gone] = keep;
    }
    for a in assign.iter_mut() {
        if let Some((c, s)) = a {
            *a = Some((root(&mut parent, *c), *s));
        }
    }
    cents.iter().map(|c| c.key).collect()
}

/// Top centroid terms through which the merge pass finds candidate pairs, and the longest
/// posting list it scans (a term in more groups' tops says nothing about any pair).
pub(super) const MERGE_TOP: usize = 8;
pub(super) const MERGE_MAX_POSTING: usize = 300;

/// How many top centroid terms are looked at for a group's names.
pub(super) const NAME_TOP: usize = 6;

/// Two groups whose top terms each carry names (sorted, [`SparseCentroid::names`]), none
/// shared, are about different companies or places.
pub(super) fn names_disjoint(a: &[u32], b: &[u32]) -> bool {
    !a.is_empty() && !b.is_empty() && !a.iter().any(|t| b.binary_search(t).is_ok())
}

/// Each record's (category, responsible unit) as small ids, 0 where the data has none.
pub(super) fn handling_ids(records: &[&Record]) -> Vec<(u32, u32)> {
    let mut ids: FastMap<&str, u32> = FastMap::default();
    let mut vocab: Vec<&str> = records
        .iter()
        .flat_map(|r| [r.category.as_deref(), r.responsible_unit.as_deref()])
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect();
    vocab.sort_unstable();
    vocab.dedup();
    for (i, v) in vocab.iter().enumerate() {
        ids.insert(v, i as u32 + 1);
    }
    let id = |s: Option<&str>| s.and_then(|s| ids.get(s).copied()).unwrap_or(0);
    records
        .iter()
        .map(|r| (id(r.category.as_deref()), id(r.responsible_unit.as_deref())))
        .collect()
}

/// A centroid as a term-sorted sum vector: merge-joins keep every float sum in one fixed order,
/// so results never depend on hash-map iteration.
#[derive(Default)]
pub(super) struct SparseCentroid {
    pub(super) key: Option<u32>,
    pub(super) v: Vec<(u32, f32)>,
    pub(super) norm: f32,
}

/// A group's final centroid, which no longer changes. Why not the [`Centroid`] it is summed
/// in: a hash map of a few hundred terms takes about twice the bytes of the sorted list (its
/// buckets at most 7/8 full, rounded up to a power of two, and a control byte each), and every
/// group's final centroid is held from the figures to the state (~1.6 GB for 400k groups at
/// 10M generated petitions). The norm is the root of the one summed as the vectors were added,
/// not summed again from the list ([`SparseCentroid::new`]), so cosines keep their bits.
impl From<Centroid> for SparseCentroid {
    fn from(c: Centroid) -> Self {
        let mut v: Vec<(u32, f32)> = c.sum.into_iter().collect();
        v.sort_unstable_by_key(|x| x.0);
        SparseCentroid {
            key: c.key,
            v,
            norm: c.norm2.sqrt(),
        }
    }
}

impl SparseCentroid {
    pub(super) fn new(key: Option<u32>, v: Vec<(u32, f32)>) -> Self {
        let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
        SparseCentroid { key, v, norm }
    }
    pub(super) fn cos(&self, o: &SparseCentroid) -> f32 {
        if self.norm <= 0.0 || o.norm <= 0.0 {
            return 0.0;
        }
        let (mut i, mut j, mut dot) = (0, 0, 0.0f32);
        while i < self.v.len() && j < o.v.len() {
            match self.v[i].0.cmp(&o.v[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    dot += self.v[i].1 * o.v[j].1;
                    i += 1;
                    j += 1;
                }
            }
        }
        dot / (self.norm * o.norm)
    }
    /// The cosine to one petition's vector: [`Centroid::cos`]'s products summed in the same
    /// order, so a group's final centroid scores its members to the same bits as the centroid
    /// it was summed in.
    pub(super) fn cos_vec(&self, v: &[(u32, f32)]) -> f32 {
        if self.norm <= 0.0 {
            return 0.0;
        }
        let dot: f32 = v
            .iter()
            .filter_map(|(t, w)| {
                let at = self.v.binary_search_by_key(t, |x| x.0).ok()?;
                Some(self.v[at].1 * w)
            })
            .sum();
        dot / self.norm
    }
    pub(super) fn absorb(&mut self, o: SparseCentroid) {
        let mut out = Vec::with_capacity(self.v.len() + o.v.len());
        let (mut i, mut j) = (0, 0);
        while i < self.v.len() || j < o.v.len() {
            if j >= o.v.len() || (i < self.v.len() && self.v[i].0 < o.v[j].0) {
                out.push(self.v[i]);
                i += 1;
            } else if i >= self.v.len() || o.v[j].0 < self.v[i].0 {
                out.push(o.v[j]);
                j += 1;
            } else {
                out.push((self.v[i].0, self.v[i].1 + o.v[j].1));
                i += 1;
                j += 1;
            }
        }
        *self = SparseCentroid::new(self.key.or(o.key), out);
    }
    /// The names among the top terms (sorted): see [`names_disjoint`].
    pub(super) fn names(&self, proper: &[bool]) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .top(NAME_TOP)
            .into_iter()
            .filter(|t| proper[*t as usize])
            .collect();
        v.sort_unstable();
        v
    }
    pub(super) fn top(&self, k: usize) -> Vec<u32> {
        self.by_weight()
            .into_iter()
            .take(k)
            .map(|(t, _)| t)
            .collect()
    }
    /// The terms, heaviest first (ties by term).
    pub(super) fn by_weight(&self) -> Vec<(u32, f32)> {
        let mut v = self.v.clone();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}
