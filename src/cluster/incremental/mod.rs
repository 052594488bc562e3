//! Weekly runs group only their new petitions onto the last grouping.
//!
//! A full grouping ([`run_full`]) keeps `groups/state.bin`: the vocabulary with its IDF, how
//! every object name seen resolves to an anchor, the terms that name an object rather than a
//! grievance, every group's centroid and the names its members use, each petition's group,
//! similarity and a fingerprint of its text, and the vectors of the unclustered petitions.
//!
//! The next run ([`update`]) then tags and vectorises only the petitions the store did not hold
//! before, with the kept vocabulary and IDF, and
//! 1. joins each to the most similar group of its own object (anchor-free petitions: of the
//!    anchor-free groups sharing a top term) when the cosine reaches the threshold — scored
//!    against the centroids as they stood, so the result does not depend on the new rows' order;
//! 2. runs the leader and reassignment passes over the rest together with the earlier
//!    unclustered petitions they could meet (same object, or a shared top term); a group found
//!    there that holds at least one new petition and `min_size` members gets a new id;
//! 3. recomputes every group's figures (trend, heat, status counts move every week) from the
//!    store's records.
//!
//! Earlier petitions never change group between full groupings, and groups do not merge: the
//! result depends on the order the weeks arrived in. A full regroup resets that and runs
//! whenever the state is missing or unreadable, the pipeline's grouping or tokenizer settings
//! changed, an earlier petition's text changed or left the store, the petitions added since the
//! last full grouping exceed [`Options::regroup_after`] of it, or `--regroup` / `--fresh` asks.

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;

mod state;

use super::figures::{assemble, count_name, Slot, Vocabulary};
use super::ids::{first_seen_order, GroupId};
use super::io::read_previous;
use super::leader::{best, leader, reassign, threshold, CandIndex, Centroid};
use super::links;
use super::merge::{names_disjoint, SparseCentroid, MERGE_MAX_POSTING, MERGE_TOP};
use super::objects::{contained_known, region_names};
use super::run_full;
use super::vectors::{
    anchor_of, finish_doc, known_lens, place_terms, tag_record, top_terms, weigh, Doc, Lexicon,
};
use super::{Groups, Options, Remote, Taggings};
use crate::error::Result;
use crate::fxhash::{FastMap, FastSet};
use crate::schema::Record;
use crate::textfile::TextFile;
use crate::tokenize::Tokenizer;
pub use state::State;
use state::{fingerprint, settings, KeptGroup, KeptMember, Loose, Weights, NO_GROUP};
pub(super) use state::{Dec, Enc};

/// The file in `groups/` that holds the [`State`].
pub const STATE_FILE: &str = "state.bin";

/// How a run grouped its records.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Everything regrouped, and why.
    Full(String),
    /// Only this many new petitions grouped onto the last grouping.
    Incremental { new: usize },
}

/// The result of [`update`].
pub struct Grouped {
    pub groups: Groups,
    /// The state for the next run, when it is still to be written: a full grouping writes its
    /// own into the groups folder before it makes its tables ([`State::write_full`]).
    pub state: Option<State>,
    pub mode: Mode,
}

/// How [`update`] may group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regroup {
    /// Only the new petitions, unless a full regroup is due (see the module documentation).
    IfDue,
    /// Every petition; groups keep their ids by member overlap (`--regroup`).
    Always,
    /// Every petition, ids from G0001 (`--fresh`: the store too is rebuilt from the inputs).
    FromScratch,
}

/// Groups `records` onto the state kept in `groups_dir` when `how` and the state allow (see
/// the module documentation), else every petition.
pub fn update(
    records: &[Record],
    tok: &Tokenizer,
    opts: &Options,
    groups_dir: &Path,
    how: Regroup,
    remote: Remote<'_>,
    texts: Option<&TextFile>,
) -> Result<Grouped> {
    let why = if how == Regroup::FromScratch {
        "the run starts afresh (--fresh)".to_string()
    } else if how == Regroup::Always {
        "a full regroup was asked for".to_string()
    } else if opts.regroup_after <= 0.0 {
        "[cluster] regroup_after = 0".to_string()
    } else {
        match State::read(groups_dir) {
            Ok(Some(state)) if state.settings == settings(opts, tok) => {
                match incremental(records, tok, opts, state, remote.tagged) {
                    Ok((groups, state, new)) => {
                        return Ok(Grouped {
                            groups,
                            state: Some(state),
                            mode: Mode::Incremental { new },
                        })
                    }
                    Err(why) => why,
                }
            }
            Ok(Some(_)) => "the pipeline's grouping or tokenizer settings changed".to_string(),
            Ok(None) => "no earlier grouping to add to".to_string(),
            Err(why) => why,
        }
    };
    // last run's groups keep their ids, unless the run starts afresh
    let previous = match how {
        Regroup::FromScratch => None,
        _ => read_previous(groups_dir).ok(),
    };
    let (groups, state) = run_full(
        records,
        tok,
        opts,
        previous.as_ref(),
        remote,
        texts,
        Some(groups_dir),
    )?;
    Ok(Grouped {
        groups,
        state,
        mode: Mode::Full(why),
    })
}

/// The incremental grouping; `Err` says why a full regroup is needed instead.
fn incremental(
    records: &[Record],
    tok: &Tokenizer,
    opts: &Options,
    mut st: State,
    tagged: Option<&Taggings>,
) -> std::result::Result<(Groups, State, usize), String> {
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    // Which records the state holds: both lists are sorted by id.
    let mut kept_of: Vec<Option<usize>> = vec![None; sorted.len()];
    let mut j = 0;
    for (i, r) in sorted.iter().enumerate() {
        if let Some(m) = st.members.get(j).filter(|m| m.id.as_str() < r.id.as_str()) {
            return Err(format!(
                "petition {} of the last grouping is no longer in the store",
                m.id
            ));
        }
        if st.members.get(j).is_some_and(|m| m.id == r.id) {
            kept_of[i] = Some(j);
            j += 1;
        }
    }
    if let Some(m) = st.members.get(j) {
        return Err(format!(
            "petition {} of the last grouping is no longer in the store",
            m.id
        ));
    }
    // every earlier text hashed: on both cores
    if let Some(i) = (0..sorted.len()).into_par_iter().find_first(|&i| {
        kept_of[i].is_some_and(|j| st.members[j].fingerprint != fingerprint(sorted[i]))
    }) {
        return Err(format!(
            "the text of petition {} changed since it was grouped",
            sorted[i].id
        ));
    }
    let new: Vec<usize> = (0..sorted.len())
        .filter(|&i| kept_of[i].is_none())
        .collect();
    let added = st.added + new.len() as u64;
    if added as f64 > opts.regroup_after * st.built as f64 {
        return Err(format!(
            "{added} petitions added since the last full grouping of {} (more than [cluster] regroup_after = {})",
            st.built, opts.regroup_after
        ));
    }
    let k = opts.candidate_terms.max(1);

    // ---- the new petitions' vectors, with the kept vocabulary, IDF and object names
    let regions = region_names(&sorted);
    let known: FastMap<String, u32> = st.lex.known.iter().cloned().collect();
    let lens = known_lens(known.keys());
    let vocab_id: FastMap<&str, u32> = st
        .lex
        .vocab
        .iter()
        .enumerate()
        .map(|(i, w)| (w.as_str(), i as u32))
        .collect();
    // Words outside the kept vocabulary come back as text (with whether jieba tagged them a
    // name, a person's name): a new week brings new words, and a rising issue is often nothing
    // but new words (a new programme, a new estate's developer).
    type NewWords = Vec<(String, f32, bool, bool)>;
    type Words = Vec<(Option<u32>, f32)>;
    let tagged: Vec<(Words, NewWords, Option<String>)> = new
        .par_iter()
        .map(|&i| {
            let r = sorted[i];
            let (tf, ta, ca, proper, person) = match tagged.and_then(|t| t.get(r)) {
                Some(pass) => pass,
                None => tag_record(r, tok, opts, &regions),
            };
            let mut known_words = Vec::with_capacity(tf.len());
            let mut new_words = Vec::new();
            for (w, c) in &tf {
                match vocab_id.get(w.as_ref()) {
                    Some(&t) => known_words.push((Some(t), *c)),
                    None => {
                        new_words.push((w.to_string(), *c, proper.contains(w), person.contains(w)))
                    }
                }
            }
            (
                known_words,
                new_words,
                anchor_of(r, ta, ca, &known, &lens, opts).0,
            )
        })
        .collect();
    drop(vocab_id);
    // A new word seen in ≥ 2 of the new petitions joins the vocabulary (the full grouping's
    // rule, counted over this week), with its IDF over everything grouped so far.
    let mut counts: BTreeMap<&str, (u32, u32, u32)> = BTreeMap::new(); // df, proper, person
    for (_, words, _) in &tagged {
        for (w, _, proper, person) in words {
            let e = counts.entry(w.as_str()).or_insert((0, 0, 0));
            e.0 += 1;
            e.1 += u32::from(*proper);
            e.2 += u32::from(*person);
        }
    }
    let total = (st.built + added) as f32;
    let mut new_term: FastMap<String, u32> = FastMap::default();
    for (w, (df, proper, person)) in counts {
        if df >= 2 {
            new_term.insert(w.to_string(), st.lex.vocab.len() as u32);
            st.lex.vocab.push(w.to_string());
            st.lex
                .idf
                .push(((total + 1.0) / (df as f32 + 1.0)).ln() + 1.0);
            st.lex.proper.push(proper * 2 >= df);
            st.lex.person.push(person * 2 >= df);
        }
    }
    let tagged: Vec<(Weights, Option<String>)> = tagged
        .into_iter()
        .map(|(mut words, fresh, a)| {
            words.extend(
                fresh
                    .into_iter()
                    .map(|(w, c, _, _)| (new_term.get(&w).copied(), c)),
            );
            (weigh(words.into_iter(), &st.lex.idf), a)
        })
        .collect();
    let chosen_freq: FastMap<&str, u32> = st
        .lex
        .chosen
        .iter()
        .map(|(n, c)| (n.as_str(), *c))
        .collect();
    let mut anchor_key: FastMap<String, u32> = st
        .lex
        .anchors
        .iter()
        .enumerate()
        .map(|(i, a)| (a.clone(), i as u32))
        .collect();
    let mut new_names: BTreeMap<String, Option<u32>> = BTreeMap::new();
    let mut raw: FastMap<usize, String> = FastMap::default();
    let place = place_terms(&st.lex.vocab, &regions);
    let mut docs: Vec<Doc> = Vec::with_capacity(new.len());
    for (&i, (v, a_raw)) in new.iter().zip(tagged) {
        let key = a_raw.as_deref().and_then(|a| {
            let known = |n: &str| -> Option<Option<u32>> {
                st.lex
                    .resolve
                    .binary_search_by(|(x, _)| x.as_str().cmp(n))
                    .ok()
                    .map(|p| st.lex.resolve[p].1)
                    .or_else(|| new_names.get(n).copied())
                    .or_else(|| anchor_key.get(n).map(|&k| Some(k)))
            };
            if let Some(k) = known(a) {
                return k;
            }
            // a variant of a known name (丽景花园三期 → 丽景花园)
            let folded = contained_known(a, &chosen_freq);
            let k = match known(&folded) {
                Some(k) if folded != a => k,
                _ => {
                    // an object no earlier petition named: a new anchor
                    let k = st.lex.anchors.len() as u32;
                    st.lex.anchors.push(a.to_string());
                    anchor_key.insert(a.to_string(), k);
                    Some(k)
                }
            };
            new_names.insert(a.to_string(), k);
            k
        });
        docs.push(finish_doc(v, key, &st.lex.object_terms, &place, k));
        if let Some(a) = a_raw {
            raw.insert(i, a);
        }
    }
    // every new petition's chosen name counts for next week's folding (before the leftovers
    // take theirs into the pool below)
    let mut chosen: BTreeMap<String, u32> =
        std::mem::take(&mut st.lex.chosen).into_iter().collect();
    for a in raw.values() {
        *chosen.entry(a.clone()).or_insert(0) += 1;
    }
    st.lex.chosen = chosen.into_iter().collect();

    // ---- 1. join the groups as they stood
    let mut sizes = vec![0usize; st.groups.len()];
    for m in &st.members {
        if m.group != NO_GROUP {
            sizes[m.group as usize] += 1;
        }
    }

    let mut cents: Vec<Centroid> = st
        .groups
        .iter()
        .zip(&sizes)
        .map(|(g, &size)| Centroid::from_sum(g.key, &g.sum, size))
        .collect();
    let mut idx = CandIndex::default();
    for (c, cent) in cents.iter().enumerate() {
        idx.insert(c, cent.key, &cent.top_terms(k * 2));
    }
    let joined: Vec<Option<usize>> = docs
        .par_iter()
        .map(|d| {
            if d.vec.is_empty() {
                return None;
            }
            let mut cand = Vec::new();
            idx.candidates(d, &mut cand);
            let th = threshold(d, opts, 0) as f32;
            best(&cents, &cand, d, th).map(|(c, _)| c)
        })
        .collect();
    // group of each record (index into `cents`, which grows by the new groups below)
    let mut group_of: Vec<Option<usize>> = kept_of
        .iter()
        .map(|j| {
            j.map(|j| st.members[j].group)
                .filter(|&g| g != NO_GROUP)
                .map(|g| g as usize)
        })
        .collect();
    for ((&i, d), c) in new.iter().zip(&docs).zip(&joined) {
        if let Some(c) = *c {
            cents[c].add(&d.vec);
            group_of[i] = Some(c);
            if let Some(key) = cents[c].key {
                count_name(
                    &mut st.groups[c].names,
                    raw.get(&i).map(String::as_str),
                    &st.lex.anchors[key as usize],
                );
            }
        }
    }

    // ---- 2. the rest, with the earlier unclustered petitions they could meet
    let left: Vec<usize> = (0..new.len())
        .filter(|&n| joined[n].is_none() && !docs[n].vec.is_empty())
        .collect();
    let left_keys: FastSet<u32> = left.iter().filter_map(|&n| docs[n].key).collect();
    let left_terms: FastSet<u32> = left
        .iter()
        .filter(|&&n| docs[n].key.is_none())
        .flat_map(|&n| docs[n].top.iter().copied())
        .collect();
    let record_of: Vec<usize> = {
        let mut v = vec![0; st.members.len()];
        for (i, j) in kept_of.iter().enumerate() {
            if let Some(j) = j {
                v[*j] = i;
            }
        }
        v
    };
    // (record, doc, raw name, new?) in record order
    let mut pool: Vec<(usize, Doc, Option<String>, bool)> = Vec::new();
    for l in std::mem::take(&mut st.loose) {
        // kept as it was: normalising again would move its floats by an ulp every week
        let d = Doc {
            key: l.key,
            top: top_terms(&l.vec, k).into(),
            vec: l.vec.into(),
        };
        let meets = match d.key {
            Some(key) => left_keys.contains(&key),
            None => d.top.iter().any(|t| left_terms.contains(t)),
        };
        let i = record_of[l.member as usize];
        if meets {
            pool.push((i, d, l.raw, false));
        } else {
            st.loose.push(Loose {
                member: i as u32,
                key: d.key,
                vec: d.vec.to_vec(),
                raw: l.raw,
            });
        }
    }
    let mut docs: Vec<Option<Doc>> = docs.into_iter().map(Some).collect();
    for &n in &left {
        let i = new[n];
        pool.push((i, docs[n].take().unwrap_or_default(), raw.remove(&i), true));
    }
    pool.sort_by_key(|p| p.0);
    let pool_docs: Vec<Doc> = pool.iter_mut().map(|p| std::mem::take(&mut p.1)).collect();
    let (pool_cents, hints) = leader(&pool_docs, opts);
    let pool_assign = reassign(&pool_docs, &pool_cents, &hints, opts, 0, k);
    let mut pool_members: Vec<Vec<usize>> = vec![Vec::new(); pool_cents.len()];
    for (p, a) in pool_assign.iter().enumerate() {
        if let Some((c, _)) = a {
            pool_members[*c].push(p);
        }
    }
    let min_size = opts.min_size.max(1);
    let found: Vec<usize> = (0..pool_cents.len())
        .filter(|&c| {
            pool_members[c].len() >= min_size && pool_members[c].iter().any(|&p| pool[p].3)
        })
        .collect();
    let found = first_seen_order(&sorted, found, |c| &pool_members[c]);
    // A group found here may be one that a full grouping's merge pass would have joined to an
    // existing group (the same case in other words, or its anchor-free half): the same rule
    // decides here, against the existing groups only.
    let into: Vec<Option<usize>> = {
        let cluster_cents: Vec<Centroid> = found
            .iter()
            .map(|&c| {
                let mut cent = Centroid {
                    key: pool_cents[c].key,
                    ..Default::default()
                };
                for &p in &pool_members[c] {
                    cent.add(&pool_docs[p].vec);
                }
                cent
            })
            .collect();
        let cluster_members: Vec<Vec<usize>> = found
            .iter()
            .map(|&c| pool_members[c].iter().map(|&p| pool[p].0).collect())
            .collect();
        merge_into_existing(
            &sorted,
            &cents,
            &group_of,
            &cluster_cents,
            &cluster_members,
            &st.lex.proper,
            opts,
        )
    };
    let mut in_found = vec![false; pool.len()];
    let mut found_slots: Vec<(usize, usize)> = Vec::new(); // (slot, pool cluster)
    for (c, into) in found.into_iter().zip(into) {
        let slot = match into {
            Some(slot) => slot,
            None => {
                st.last_id += 1;
                cents.push(Centroid {
                    key: pool_cents[c].key,
                    ..Default::default()
                });
                st.groups.push(KeptGroup {
                    id: GroupId(st.last_id).to_string(),
                    key: pool_cents[c].key,
                    sum: Vec::new(),
                    names: BTreeMap::new(),
                });
                cents.len() - 1
            }
        };
        for &p in &pool_members[c] {
            in_found[p] = true;
            cents[slot].add(&pool_docs[p].vec);
            group_of[pool[p].0] = Some(slot);
            if let Some(key) = cents[slot].key {
                count_name(
                    &mut st.groups[slot].names,
                    pool[p].2.as_deref(),
                    &st.lex.anchors[key as usize],
                );
            }
        }
        found_slots.push((slot, c));
    }
    // ---- 3. pair evidence touching a new petition (repeats, rare shared names, copies):
    // a new petition left alone joins its partner's group, or two lone ones start a group;
    // earlier members never move, and groups never merge.
    let linked: Vec<(usize, Vec<(u32, f32)>)> = {
        // (no file: `features` cannot fail on the heap)
        let pairs = links::candidates(&sorted, &|i| kept_of[i].is_none(), opts, None)
            .map_err(|e| e.to_string())?;
        // each petition of a pair: (key, vector, name as written)
        let mut seen: FastMap<usize, Read> = FastMap::default();
        for ((&i, d), j) in new.iter().zip(&docs).zip(&joined) {
            if let (Some(d), None) = (d, j) {
                seen.insert(i, (d.key, d.vec.to_vec(), raw.get(&i).cloned()));
            }
        }
        for (p, d) in pool.iter().zip(&pool_docs) {
            seen.insert(p.0, (d.key, d.vec.to_vec(), p.2.clone()));
        }
        // (the loose petitions not pooled above: already by record index)
        for l in &st.loose {
            seen.insert(l.member as usize, (l.key, l.vec.clone(), l.raw.clone()));
        }
        let mut missing: Vec<usize> = pairs
            .iter()
            .flat_map(|&(a, b, _)| [a as usize, b as usize])
            .filter(|i| !seen.contains_key(i))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        let again = revectorize(&sorted, &missing, tok, opts, &st.lex, &regions);
        seen.extend(missing.into_iter().zip(again));
        let object = |i: usize| {
            let key = seen[&i].0;
            (key, key.map(|k| st.lex.anchors[k as usize].as_str()))
        };
        let titled = |i: usize| {
            let raw = seen[&i]
                .2
                .as_deref()
                .filter(|r| sorted[i].title.contains(r));
            (seen[&i].0, raw)
        };
        let names = st.lex.anchors.iter().map(String::as_str);
        let common = links::CommonGrams::of(names, opts.name_fragment_max_names);
        let compatible = |a: usize, b: usize| {
            links::one_object([
                links::objects(object(a), object(b), &common),
                links::objects(titled(a), titled(b), &common),
            ])
        };
        let held = links::holding(
            &pairs,
            &|a, b| links::cos(&seen[&a].1, &seen[&b].1),
            &compatible,
            &|i| seen[&i].0.is_some(),
            opts,
        );
        // (earlier members in no pair have no entry in `seen`: they do not vote in `clash`)
        // an object recurs when a group has it or two petitions of the pairs name it
        let mut per_key = links::per_object(seen.values().map(|r| r.0));
        for k in cents.iter().filter_map(|c| c.key) {
            *per_key.entry(k).or_insert(0) += 2;
        }
        let named = |i: usize| {
            seen.contains_key(&i) && {
                let recurring = seen[&i].0.is_some_and(|k| per_key[&k] >= 2);
                links::votes(titled(i).1.is_some(), object(i).1, recurring, opts)
            }
        };
        let before = group_of.clone();
        let mut sizes = vec![0usize; cents.len()];
        for g in group_of.iter().flatten() {
            sizes[*g] += 1;
        }
        let mut fresh_slots: Vec<Option<u32>> = Vec::new();
        let base = cents.len();
        let mut fresh = |i: usize| {
            fresh_slots.push(seen[&i].0);
            base + fresh_slots.len() - 1
        };
        {
            let writer = |a: usize, b: usize| links::same_writer(&sorted, a, b);
            let clash = links::clash_rule(&writer, &named, &compatible);
            links::join(
                &held,
                &mut group_of,
                &mut sizes,
                &mut fresh,
                0,
                &|i| kept_of[i].is_some() && before[i].is_some(),
                &clash,
            );
        }
        for key in fresh_slots {
            st.last_id += 1;
            cents.push(Centroid {
                key,
                ..Default::default()
            });
            st.groups.push(KeptGroup {
                id: format!("G{:04}", st.last_id),
                key,
                sum: Vec::new(),
                names: BTreeMap::new(),
            });
        }
        let moved: Vec<usize> = (0..sorted.len())
            .filter(|&i| group_of[i] != before[i])
            .collect();
        moved
            .into_iter()
            .map(|i| {
                let (_, vec, name) = seen.remove(&i).unwrap_or_default();
                if let Some(slot) = group_of[i] {
                    cents[slot].add(&vec);
                    if let Some(key) = cents[slot].key {
                        count_name(
                            &mut st.groups[slot].names,
                            name.as_deref(),
                            &st.lex.anchors[key as usize],
                        );
                    }
                }
                (i, vec)
            })
            .collect()
    };
    let now_grouped: FastSet<usize> = linked.iter().map(|(i, _)| *i).collect();
    st.loose
        .retain(|l| !now_grouped.contains(&(l.member as usize)));
    // ---- similarities: kept for earlier members, to the final centroid for the rest
    let mut sims: Vec<f32> = vec![0.0; sorted.len()];
    for (i, j) in kept_of.iter().enumerate() {
        if let Some(j) = j {
            sims[i] = st.members[*j].similarity;
        }
    }
    for ((&i, d), c) in new.iter().zip(&docs).zip(&joined) {
        if let (Some(d), Some(c)) = (d, c) {
            sims[i] = cents[*c].cos(&d.vec);
        }
    }
    for (slot, c) in found_slots {
        for &p in &pool_members[c] {
            sims[pool[p].0] = cents[slot].cos(&pool_docs[p].vec);
        }
    }
    for (i, vec) in &linked {
        if let Some(slot) = group_of[*i] {
            sims[*i] = cents[slot].cos(vec);
        }
    }
    for ((p, d), found) in pool.into_iter().zip(pool_docs).zip(in_found) {
        if !found && !now_grouped.contains(&p.0) {
            st.loose.push(Loose {
                member: p.0 as u32,
                key: d.key,
                vec: d.vec.to_vec(),
                raw: p.2,
            });
        }
    }
    st.loose.sort_by_key(|l| l.member);

    // ---- figures of every group, then the state for next week
    let mut members_of: Vec<Vec<usize>> = vec![Vec::new(); cents.len()];
    for (i, g) in group_of.iter().enumerate() {
        if let Some(g) = g {
            members_of[*g].push(i);
        }
    }
    let slots: Vec<Slot> = st
        .groups
        .iter_mut()
        .zip(cents)
        .zip(members_of)
        .map(|((g, cent), members)| Slot {
            id: g.id.clone(),
            members,
            cent: cent.into(),
            names: std::mem::take(&mut g.names),
        })
        .collect();
    let words = Vocabulary::of(&st.lex, tok);
    let drafts = super::figures::drafts(&sorted, &slots, &words);
    let groups = assemble(&sorted, &slots, drafts, &sims, &words, st.last_id, opts);
    st.groups = slots.into_iter().map(KeptGroup::from).collect();
    let old_members = std::mem::take(&mut st.members);
    st.members = sorted
        .iter()
        .enumerate()
        .map(|(i, r)| KeptMember {
            id: r.id.to_string(),
            fingerprint: kept_of[i].map_or_else(|| fingerprint(r), |j| old_members[j].fingerprint),
            group: group_of[i].map_or(NO_GROUP, |g| g as u32),
            similarity: sims[i],
        })
        .collect();
    let mut resolve: Vec<(String, Option<u32>)> = std::mem::take(&mut st.lex.resolve);
    resolve.extend(new_names);
    resolve.sort_by(|a, b| a.0.cmp(&b.0));
    resolve.dedup_by(|a, b| a.0 == b.0);
    st.lex.resolve = resolve;
    st.added = added;
    Ok((groups, st, new.len()))
}

/// A petition as a week's pair evidence reads it: its object's key, its vector, its object's
/// name as written.
type Read = (Option<u32>, Vec<(u32, f32)>, Option<String>);

/// Earlier petitions' (key, vector, name as written), read again with the kept lexicon: a
/// week's pair evidence compares new petitions with earlier ones whose vectors the state does
/// not keep (members of groups). Words outside the vocabulary drop; a name no earlier grouping
/// resolved names no object.
fn revectorize(
    sorted: &[&Record],
    which: &[usize],
    tok: &Tokenizer,
    opts: &Options,
    lex: &Lexicon,
    regions: &FastSet<String>,
) -> Vec<Read> {
    if which.is_empty() {
        return Vec::new();
    }
    let place = place_terms(&lex.vocab, regions);
    let known: FastMap<String, u32> = lex.known.iter().cloned().collect();
    let lens = known_lens(known.keys());
    let vocab_id: FastMap<&str, u32> = lex
        .vocab
        .iter()
        .enumerate()
        .map(|(i, w)| (w.as_str(), i as u32))
        .collect();
    let k = opts.candidate_terms.max(1);
    which
        .par_iter()
        .map(|&i| {
            let r = sorted[i];
            let (tf, ta, ca, _, _) = tag_record(r, tok, opts, regions);
            let words = tf
                .iter()
                .map(|(w, c)| (vocab_id.get(w.as_ref()).copied(), *c));
            let v = weigh(words, &lex.idf);
            let raw = anchor_of(r, ta, ca, &known, &lens, opts).0;
            let key = raw.as_deref().and_then(|a| {
                lex.resolve
                    .binary_search_by(|(x, _)| x.as_str().cmp(a))
                    .ok()
                    .and_then(|p| lex.resolve[p].1)
            });
            let d = finish_doc(v, key, &lex.object_terms, &place, k);
            (d.key, d.vec.to_vec(), raw)
        })
        .collect()
}

/// For each newly found cluster (centroid, member records), the existing group a full
/// grouping's merge pass would have joined it to: objects compatible (the same anchor, or one
/// side without one), names not disjoint, centroid cosine at least [`Options::merge_threshold`]
/// ([`Options::merge_threshold_same_office`] at one object handled by one office); the most
/// similar such group.
fn merge_into_existing(
    sorted: &[&Record],
    cents: &[Centroid],
    group_of: &[Option<usize>],
    found: &[Centroid],
    found_members: &[Vec<usize>],
    proper: &[bool],
    opts: &Options,
) -> Vec<Option<usize>> {
    if found.is_empty() {
        return Vec::new();
    }
    let sparse = |c: &Centroid| {
        let mut v: Vec<(u32, f32)> = c.sum.iter().map(|(t, w)| (*t, *w)).collect();
        v.sort_unstable_by_key(|x| x.0);
        SparseCentroid::new(c.key, v)
    };
    let existing: Vec<SparseCentroid> = cents.par_iter().map(sparse).collect();
    let names_of = |c: &SparseCentroid| c.names(proper);
    let disjoint = names_disjoint;
    let mut post: FastMap<u32, Vec<usize>> = FastMap::default();
    let mut by_key: FastMap<u32, Vec<usize>> = FastMap::default();
    for (g, c) in existing.iter().enumerate() {
        for t in c.top(MERGE_TOP) {
            post.entry(t).or_default().push(g);
        }
        if let Some(k) = c.key {
            by_key.entry(k).or_default().push(g);
        }
    }
    // most common (category, unit) of some records; None when the data has neither
    let office = |recs: &mut dyn Iterator<Item = usize>| -> Option<(String, String)> {
        let mut votes: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for i in recs {
            let r = sorted[i];
            let cat = r.category.as_deref().map_or("", str::trim);
            let unit = r.responsible_unit.as_deref().map_or("", str::trim);
            *votes.entry((cat, unit)).or_insert(0) += 1;
        }
        votes
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|((c, u), _)| (c.to_string(), u.to_string()))
            .filter(|(c, u)| !c.is_empty() || !u.is_empty())
    };
    let compatible = |a: Option<u32>, b: Option<u32>| a.is_none() || b.is_none() || a == b;
    let mut members_of: Vec<Vec<usize>> = vec![Vec::new(); cents.len()];
    for (i, g) in group_of.iter().enumerate() {
        if let Some(g) = g {
            members_of[*g].push(i);
        }
    }
    found
        .iter()
        .zip(found_members)
        .map(|(c, members)| {
            let a = sparse(c);
            let mut cand: Vec<usize> = Vec::new();
            for t in a.top(MERGE_TOP) {
                if let Some(p) = post.get(&t).filter(|p| p.len() <= MERGE_MAX_POSTING) {
                    cand.extend(p);
                }
            }
            if let Some(v) = a.key.and_then(|k| by_key.get(&k)) {
                cand.extend(v);
            }
            cand.sort_unstable();
            cand.dedup();
            let names = names_of(&a);
            let mine = office(&mut members.iter().copied());
            let mut best: Option<(usize, f32)> = None;
            for g in cand {
                let b = &existing[g];
                if !compatible(a.key, b.key) || disjoint(&names, &names_of(b)) {
                    continue;
                }
                let s = a.cos(b);
                let same_office = a.key.is_some()
                    && a.key == b.key
                    && mine.is_some()
                    && mine == office(&mut members_of[g].iter().copied());
                let need = if same_office {
                    opts.merge_threshold_same_office
                } else {
                    opts.merge_threshold
                } as f32;
                if s >= need && best.is_none_or(|(_, bs)| s > bs) {
                    best = Some((g, s));
                }
            }
            best.map(|(g, _)| g)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every new petition's chosen object name counts towards next week's folding of
    /// variants, whether it joined a group or went to the leftover pool.
    #[test]
    fn every_new_chosen_name_is_counted() {
        let rows: Vec<Record> = crate::sample::generate(&crate::sample::Options {
            rows: 800,
            seed: 3,
            ..Default::default()
        })
        .map(|s| {
            let mut r = crate::store::tests::rec(&s.id);
            r.title = s.title.into();
            r.content = s.content.into();
            r
        })
        .collect();
        let tok = Tokenizer::new(&Default::default()).unwrap();
        let opts = Options {
            regroup_after: 1.0,
            ..Default::default()
        };
        let week1 = &rows[..600];
        let (_, state) =
            run_full(week1, &tok, &opts, None, Default::default(), None, None).unwrap();
        let state = state.unwrap();
        let before: u32 = state.lex.chosen.iter().map(|c| c.1).sum();
        // the new petitions' chosen names, read the way the incremental run reads them
        let known: FastMap<String, u32> = state.lex.known.iter().cloned().collect();
        let lens = known_lens(known.keys());
        let regions = region_names(&rows.iter().collect::<Vec<_>>());
        let named = rows[600..]
            .iter()
            .filter(|r| {
                let (_, ta, ca, _, _) = tag_record(r, &tok, &opts, &regions);
                anchor_of(r, ta, ca, &known, &lens, &opts).0.is_some()
            })
            .count() as u32;
        assert!(named > 0);
        let (groups, state, new) = incremental(&rows, &tok, &opts, state, None).unwrap();
        assert_eq!(new, 200);
        assert_eq!(groups.members.len(), rows.len());
        let after: u32 = state.lex.chosen.iter().map(|c| c.1).sum();
        assert_eq!(after - before, named);
    }
}
