//! cluster stage: homogeneous-case groups (同质化类案).
//!
//! In: the store's records and the shared tokenizer. Out: [`Groups`] (and `DIR/groups/`).
//!
//! Algorithm (all steps deterministic: records are sorted by id first, no hash-map iteration
//! reaches the output):
//! 1. **Words**: title and content are POS-tagged once by the shared tokenizer; content words are
//!    the tokenizer's (stopwords dropped), title words count [`Options::title_weight`] times.
//! 2. **Object anchor**: the concrete object a petition is about, from tokens ending in an object
//!    suffix (…小区/花园/苑/家园/城/公司/学校/学院/小学/路/线/村/厂/站…, and 教育/培训/物业/置业/
//!    投资 after a proper name) extended backwards over proper-noun-like tokens, with the data's
//!    own region names (from the region column) and `A市`-style prefixes stripped. Shops and
//!    offices (…店/超市/大排档/棋牌室/所) need a trade or place name before them; a name jieba
//!    did not know (cut into single characters or made up whole: 汇卓超市, 冲竹村) is taken
//!    whole, while counts (好几个小区), locatives (楼下广场), people (村民) and, before an estate's
//!    own name, its road (桂湖路 金桂苑小区) end a name; 之 inside one (星河之城) is part of it. A
//!    name that is only kind words (英语培训中心, 社保所) is no object; an organisation named
//!    with an everyday word that the corpus mostly uses on its own (人民医院) is none either. Title anchors win over
//!    content anchors; estates beat schools/companies beat roads/lines beat sites.
//! 3. **Variants folded** onto one name: containment (丽景花园小区二期 → 丽景花园), core (the name
//!    without its kind words: 恒通教育 / 恒通培训 / 恒通英语培训中心 are one trade name; 花语小区 is
//!    the dominant estate called 花语…), and **linking**: an object usually named together with a
//!    more frequent one (a contractor with the estate it builds) counts as that one — one hop.
//! 4. **Vectors**: sublinear TF × smoothed IDF over words seen in ≥ 2 petitions, L2-normalised.
//!    For anchored petitions the names that name the object (≥ 80% of their uses are with this
//!    anchor: the estate, its developer) and the data's own region names are dropped, so
//!    petitions of one object are compared on their grievance and different problems at one
//!    estate stay apart.
//! 5. **Leader pass**: single-pass centroid clustering. A petition is only compared with groups of
//!    the *same anchor* (anchored petitions) or, without an anchor, with anchor-free groups found
//!    through an inverted index over each group's top terms. It joins the group whose *centroid*
//!    is most similar if the cosine reaches the threshold, else starts a group. A second pass
//!    reassigns every petition to its best final centroid. Membership always requires similarity
//!    to the centroid, so no hub can chain unrelated petitions; different anchors never merge.
//!    So both passes split by anchor: a distributed engine can run them, one task per object
//!    partition, with the same result (`partitions`, `minqing run --object-tasks`).
//! 6. **Merge pass**: groups whose centroids are close ([`Options::merge_threshold`]) merge when
//!    their objects agree (same anchor, or one side has none) and their names do not clash (two
//!    groups whose top terms carry names — 宏达 vs 海纳 — none shared, stay apart). Each merge is
//!    re-checked against the merged centroids, so chains form only between close groups.
//! 7. Groups smaller than [`Options::min_size`] go to the unclustered bucket (`-`). If the
//!    unclustered share is above [`Options::target_unclustered_rate`], the thresholds are lowered
//!    step by step (never below [`Options::min_threshold`]) and pass 2 is repeated.
//! 8. **Labels**: anchor + the group's top distinguishing terms, made unique. **Heat** and
//!    **batch-resolution score**: see [`Options`].

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::schema::Record;
use crate::textfile::TextFile;
use crate::tokenize::Tokenizer;

use figures::assemble;
use figures::count_name;
use figures::Slot;
use figures::Vocabulary;
use ids::Previous;
use leader::leader;
use leader::reassign;
use leader::Centroid;
use merge::handling_ids;
use merge::merge_groups;
use merge::SparseCentroid;
use vectors::prepare;

pub mod eval;
mod figures;
mod fold;
mod ids;
mod incremental;
mod io;
mod labels;
mod leader;
mod links;
mod merge;
mod objects;
mod partitions;
mod tagged;
#[cfg(test)]
mod tests;
mod vectors;
pub use eval::{eval, group_scores, EvalScores, GroupScores};
pub use ids::GroupId;
pub use incremental::{update, Grouped, Mode, Regroup, State, STATE_FILE};
pub use io::{read, read_group_id_file, read_group_ids, write, write_group_id_file};
pub use partitions::{lead_partition, ObjectTasks, RunTasks, TaskSummary};
pub use tagged::{tag_file, TagSummary, Taggings};

/// What the cluster stage groups, and where it writes.
pub struct Input<'a> {
    /// The store's records.
    pub records: &'a [Record],
    /// The tokenizer the index uses too, so search and grouping see the same words.
    pub tokenizer: &'a Tokenizer,
    /// `RUN_DIR/groups/`: last run's grouping is read from it, this run's written to it.
    pub groups_dir: &'a Path,
    pub regroup: Regroup,
    /// Leave the representative petitions' text unmasked in the exports.
    pub show_personal_data: bool,
    /// The petitions' tagging made by a Spark map (`minqing run --tagged`), used instead of
    /// tagging them here (all of them in a full grouping, the new ones in an incremental one).
    pub tagged: Option<&'a Taggings>,
    /// A distributed engine's tasks that run a full grouping's leader and reassignment
    /// passes, one per object partition (`partitions`), instead of this process.
    pub objects: Option<&'a ObjectTasks>,
    /// The run's text file (`minqing run`): the petitions' term vectors are kept in it, as
    /// their contents are, instead of on the heap (`packed`).
    pub texts: Option<&'a TextFile>,
}

/// The cluster stage: groups the records ([`update`]: only the new ones onto the last grouping
/// unless `regroup` or the data say otherwise), writes `groups/` ([`write`]) and the state the
/// next run groups onto. ([`run`] is the from-scratch grouping underneath.)
pub fn stage(input: Input<'_>, opts: &Options) -> Result<Output> {
    let grouped = update(
        input.records,
        input.tokenizer,
        opts,
        input.groups_dir,
        input.regroup,
        Remote {
            tagged: input.tagged,
            objects: input.objects,
        },
        input.texts,
    )?;
    // An incremental grouping's state is written beside the tables and let go of as soon as
    // it is written (a full grouping wrote its own before making its tables: `run_full`);
    // the tables are streamed row by row, so both at once add little.
    let state = grouped.state;
    let groups_dir = input.groups_dir;
    let (s, t) = rayon::join(
        move || state.map_or(Ok(()), |s| s.write(groups_dir)),
        || {
            write(
                groups_dir,
                &grouped.groups,
                input.records,
                input.show_personal_data,
            )
        },
    );
    s.and(t)?;
    Ok(Output {
        groups: grouped.groups,
        mode: grouped.mode,
        tagged_by_map: input.tagged.map(Taggings::used),
        object_tasks: input.objects.and_then(ObjectTasks::asked),
    })
}

/// The grouping's work that a distributed engine does (docs/spark.md).
#[derive(Clone, Copy, Default)]
pub struct Remote<'a> {
    /// The petitions' tagging made by a Spark map, used instead of tagging them here.
    pub tagged: Option<&'a Taggings>,
    /// A full grouping's leader and reassignment passes, one task per object partition.
    pub objects: Option<&'a ObjectTasks>,
}

/// What the cluster stage leaves the stages after it.
pub struct Output {
    pub groups: Groups,
    /// Whether only the new petitions were grouped, or all of them and why.
    pub mode: Mode,
    /// With a Spark map's tagging: how many petitions the grouping took it for.
    pub tagged_by_map: Option<usize>,
    /// With a distributed engine's object tasks: how many the full grouping asked for.
    pub object_tasks: Option<usize>,
}

/// `[cluster]` in a pipeline file. Every parameter has a default; unknown keys are an error.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// How many times a title word counts compared with a content word. Default 2.0.
    pub title_weight: f64,
    /// Cosine to the group centroid needed to join a group of the same object anchor. Default 0.3
    /// (petitions of one object are compared on their grievance words only, see `prepare`).
    pub anchored_threshold: f64,
    /// Cosine to the group centroid needed to join a group when no anchor was found. Default 0.8:
    /// without an object to tie them, only close wording makes letters one matter — at 0.45 one
    /// kind of complaint about many unnamed shops, taxis or offices became one group (measured
    /// on the generator, seeds 0–8, B-cubed 0.854 → 0.870; dev key 0.909 → 0.913 at 0.65). Since
    /// rare title fragments no longer link two object-free letters (see `links`), 0.75–0.85 keep
    /// every dev-key case 0.65 found and leave broad themes apart (generator B-cubed +0.01).
    pub unanchored_threshold: f64,
    /// Smallest group; smaller ones go to the unclustered bucket. Default 2.
    pub min_size: usize,
    /// Wanted share of unclustered petitions (0–1). When more are left over, thresholds are lowered
    /// by `threshold_step` (at most 4 times, never below `min_threshold`). Default 1.0 (= off).
    pub target_unclustered_rate: f64,
    /// Step for the adaptive thresholds. Default 0.05.
    pub threshold_step: f64,
    /// Lowest threshold the adaptation may reach. Default 0.15.
    pub min_threshold: f64,
    /// Only the first this many characters of the content are read (petitions name the object
    /// and the grievance early; caps the cost on very long letters, whose many words would
    /// drown the grievance the title names). 0 = all. Default 300.
    pub max_content_chars: usize,
    /// Top-weighted terms per petition used to find candidate groups without anchor. Default 6.
    pub candidate_terms: usize,
    /// Cosine between two group centroids above which the groups are merged (same object, or one
    /// side without an object). Centroids of grown groups are smoother than single petitions, so
    /// two halves of one case written in different words meet here. Default 0.35.
    pub merge_threshold: f64,
    /// The merge threshold for two groups at one object whose petitions have the same problem
    /// category and responsible unit (the most common of each): the unit that would settle them
    /// together already sees them as one kind of case. Default 0.3.
    pub merge_threshold_same_office: f64,
    /// Cosine between two petitions of the same petitioner (words of both, object names
    /// included) at which the later is a repeat on the same matter and joins the earlier's
    /// group (see `links`). Default 0.3.
    pub repeat_threshold: f64,
    /// A three-character title fragment found in at most this many titles is a rare name
    /// fragment (see `links`). Default 10.
    pub rare_name_max_df: usize,
    /// Rare name fragments two titles must share to be compared as one object. 0 = off.
    /// Default 1.
    pub rare_name_shared: usize,
    /// Cosine two petitions sharing rare name fragments need to be one case. Default 0.3.
    pub rare_name_threshold: f64,
    /// Two object names are one object's when they share a fragment that at most this many of
    /// the data's object names have; a fragment more names share names a kind (every
    /// …妇幼保健院 has 妇幼保 and 保健院), not one object (see `links`). Default 3.
    pub name_fragment_max_names: usize,
    /// Two groups of at most this many petitions merge when at least half of the pairs across
    /// them are repeats or rare-name links (see `links`). Default 4.
    pub link_merge_max: usize,
    /// Extra object suffixes (in addition to the built-in ones), e.g. `["社区", "大厦"]`.
    pub extra_suffixes: Vec<String>,
    /// Terms in a label after the anchor (anchor-free groups get one more). Default 2.
    pub label_terms: usize,
    /// Heat = w_size·ln(1+size) + w_people·ln(1+distinct petitioners) + w_headcount·ln(1+headcount)
    ///      + w_recent·ln(1+members in the last `recent_weeks` weeks) + w_likes·ln(1+likes).
    /// Default weights 1.0, 2.0, 0.5, 1.0, 0.3.
    pub heat_w_size: f64,
    pub heat_w_people: f64,
    pub heat_w_headcount: f64,
    pub heat_w_recent: f64,
    pub heat_w_likes: f64,
    /// Weeks counted as "recent" for heat and trend (relative to the data's last week). Default 4.
    pub recent_weeks: i64,
    /// Batch-resolution score (0–1) = Σ weight of each reason that holds:
    /// one concrete object (0.35), one unit handles ≥ 60% (0.25), ≥ 3 distinct petitioners (0.25),
    /// ≥ half still open (0.15). Default weights as listed.
    pub batch_w_anchor: f64,
    pub batch_w_unit: f64,
    pub batch_w_people: f64,
    pub batch_w_open: f64,
    /// A run groups only its new petitions onto the last grouping (`groups/state.bin`) while
    /// the petitions added since the last full grouping stay within this share of it; beyond
    /// it (and whenever earlier petitions' text or these settings changed) everything is
    /// regrouped. 0 = always regroup in full. Default 0.25.
    pub regroup_after: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            title_weight: 2.0,
            anchored_threshold: 0.3,
            unanchored_threshold: 0.8,
            min_size: 2,
            target_unclustered_rate: 1.0,
            threshold_step: 0.05,
            min_threshold: 0.15,
            max_content_chars: 300,
            candidate_terms: 6,
            merge_threshold: 0.35,
            merge_threshold_same_office: 0.3,
            repeat_threshold: 0.3,
            rare_name_max_df: 10,
            name_fragment_max_names: 3,
            rare_name_shared: 1,
            rare_name_threshold: 0.3,
            link_merge_max: 4,
            extra_suffixes: Vec::new(),
            label_terms: 2,
            heat_w_size: 1.0,
            heat_w_people: 2.0,
            heat_w_headcount: 0.5,
            heat_w_recent: 1.0,
            heat_w_likes: 0.3,
            recent_weeks: 4,
            batch_w_anchor: 0.35,
            batch_w_unit: 0.25,
            batch_w_people: 0.25,
            batch_w_open: 0.15,
            regroup_after: 0.25,
        }
    }
}

/// The id of the bucket of petitions in no group.
pub const UNCLUSTERED: &str = "-";

/// Trend of a group over the recent weeks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    New,
    Growing,
    Steady,
    Fading,
}

impl Trend {
    /// The one trend rule, for the group tables and the brief alike. `buckets[k]` = the group's
    /// petitions `k` periods before the latest (weeks in the group tables, the brief's periods
    /// in the brief); `first_back` = how many periods back its first petition is. New when that
    /// is within the last `new_periods`; else [`Trend::of_counts`] of the last `window` periods
    /// against the `window` before.
    pub fn of_buckets(buckets: &[u64], first_back: i64, new_periods: i64, window: usize) -> Trend {
        if (0..new_periods).contains(&first_back) {
            return Trend::New;
        }
        let window = window.max(1);
        let sum = |r: std::ops::Range<usize>| -> u64 { r.filter_map(|k| buckets.get(k)).sum() };
        Trend::of_counts(sum(0..window), sum(window..2 * window))
    }

    /// Growing when the recent window has ≥ 1.5× the prior one (and ≥ 2 more petitions),
    /// fading at ≤ 0.5×, steady otherwise (a group's newness is decided by the caller).
    pub fn of_counts(recent: u64, prior: u64) -> Trend {
        if recent * 2 >= prior * 3 && recent >= prior + 2 {
            Trend::Growing
        } else if recent * 2 <= prior {
            Trend::Fading
        } else {
            Trend::Steady
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Trend::New => "新出现",
            Trend::Growing => "上升",
            Trend::Steady => "平稳",
            Trend::Fading => "回落",
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Trend::New => "new",
            Trend::Growing => "growing",
            Trend::Steady => "steady",
            Trend::Fading => "fading",
        }
    }
}

/// One homogeneous-case group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Stable across weekly runs, e.g. `G0007`.
    pub id: String,
    /// Object + grievance in readable Chinese, unique across groups.
    pub label: String,
    /// The concrete object (estate, company, school, road…) when one was found.
    pub anchor: Option<String>,
    pub key_terms: Vec<String>,
    pub size: usize,
    pub distinct_petitioners: usize,
    pub total_headcount: u64,
    pub first_seen: NaiveDateTime,
    pub last_seen: NaiveDateTime,
    pub weeks_active: usize,
    pub trend: Trend,
    /// Region paths with counts, most frequent first.
    pub regions: Vec<(String, usize)>,
    /// Responsible units with counts, most frequent first.
    pub units: Vec<(String, usize)>,
    pub open: usize,
    pub closed: usize,
    pub heat: f64,
    pub batch_score: f64,
    pub batch_reasons: Vec<String>,
    /// Id of the most central petition.
    pub representative: String,
    /// Member petition ids, sorted.
    pub members: Vec<Id>,
    /// Members per week (Monday of the week, count), oldest first.
    #[serde(default)]
    pub weekly: Vec<(NaiveDate, usize)>,
}

impl Group {
    /// The unit that handles most of the group's petitions: the suggested lead unit.
    pub fn lead_unit(&self) -> Option<&str> {
        self.units.first().map(|(u, _)| u.as_str())
    }
}

/// A petition's or group's id in the grouping's rows ([`crate::schema::Id`]): the rows of ten
/// million petitions (two ids each, and each grouped petition's id again in its group's
/// `members`) are not ~30 million small heap strings held from the grouping to the run's end.
pub use crate::schema::Id;

/// One petition's place in the grouping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: Id,
    /// A group id or [`UNCLUSTERED`].
    pub group_id: Id,
    /// Similarity to the group's centroid (0 for unclustered).
    pub similarity: f64,
    /// The same petitioner already filed in this group earlier.
    pub is_repeat: bool,
}

/// The whole grouping of a store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Groups {
    /// Sorted by heat, descending, then id.
    pub groups: Vec<Group>,
    /// One per stored petition, sorted by id.
    pub members: Vec<Member>,
    /// Highest group number ever issued (ids are never reused, even for groups that vanished).
    #[serde(default)]
    pub last_id: u32,
}

/// Groups the records from scratch. `previous` (last run's grouping) keeps group ids stable.
pub fn run(
    records: &[Record],
    tokenizer: &Tokenizer,
    opts: &Options,
    previous: Option<&Groups>,
) -> Result<Groups> {
    let previous = previous.map(Previous::of);
    Ok(run_full(
        records,
        tokenizer,
        opts,
        previous.as_ref(),
        Remote::default(),
        None,
        None,
    )?
    .0)
}

/// [`run`], plus the state a later run groups its new petitions onto ([`update`]).
pub(crate) fn run_full(
    records: &[Record],
    tokenizer: &Tokenizer,
    opts: &Options,
    previous: Option<&Previous>,
    remote: Remote<'_>,
    texts: Option<&TextFile>,
    state_to: Option<&Path>,
) -> Result<(Groups, Option<State>)> {
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    // The whole texts hashed first, for the state, while the grouping holds least: a pass this
    // fast maps a run's whole text file in before its pages can be handed back (`textfile`).
    let prints = State::fingerprints(&sorted);
    let mut prep = prepare(&sorted, tokenizer, opts, remote.tagged, texts)?;
    let docs = &prep.docs;
    let k = opts.candidate_terms.max(1);

    // the category and unit of each petition (for the merge) are counted beside the leader
    // pass, whose long anchor-free run applies its blocks on one core
    let (passes, handling) = rayon::join(
        || match remote.objects {
            // by a distributed engine's tasks, one per object partition: the same result, and
            // step 0's reassignment with it
            Some(tasks) if !docs.is_empty() => {
                partitions::passes(docs, opts, tasks).map(|p| (p.cents, p.hints, Some(p.first)))
            }
            _ => {
                let (cents, hints) = leader(docs, opts);
                Ok((cents, hints, None))
            }
        },
        || handling_ids(&sorted),
    );
    let (cents, hints, mut first) = passes?;
    let mut step = 0usize;
    let assign = loop {
        // final centroids from pass 1 membership, then reassignment (the tasks' for step 0,
        // taken on the first round)
        let a = match first.take() {
            Some(a) => a,
            None => reassign(docs, &cents, &hints, opts, step, k),
        };
        let mut sizes = vec![0usize; cents.len()];
        for x in a.iter().flatten() {
            sizes[x.0] += 1;
        }
        let unclustered = a
            .iter()
            .filter(|x| x.is_none_or(|(c, _)| sizes[c] < opts.min_size.max(1)))
            .count();
        let rate = if docs.is_empty() {
            0.0
        } else {
            unclustered as f64 / docs.len() as f64
        };
        if rate <= opts.target_unclustered_rate || step >= 4 {
            break a;
        }
        step += 1;
    };
    let mut assign = assign;
    let keys: Vec<Option<u32>> = cents.iter().map(|c| c.key).collect();
    // one centroid per first-pass cluster, most of them single petitions: 0.2 GB at a million
    drop((cents, hints));
    let mut keys = merge_groups(docs, &mut assign, &keys, &prep.lex.proper, &handling, opts);
    drop(handling);
    // pair evidence: repeats, rare shared names and copies the centroid passes left apart
    links::apply(&sorted, &prep, &mut assign, &mut keys, opts, texts)?;
    let mut members_of: Vec<Vec<usize>> = vec![Vec::new(); keys.len()];
    for (i, a) in assign.iter().enumerate() {
        if let Some((c, _)) = a {
            members_of[*c].push(i);
        }
    }
    let min_size = opts.min_size.max(1);
    // clusters in a canonical order: by smallest member index (= smallest id)
    let mut clusters: Vec<usize> = (0..keys.len())
        .filter(|&c| members_of[c].len() >= min_size)
        .collect();
    clusters.sort_by_key(|&c| members_of[c][0]);
    // recompute centroids of the final membership for similarities and labels (of the groups
    // only: a cluster too small to be one needs none)
    let mut finals: Vec<SparseCentroid> = keys
        .par_iter()
        .zip(&members_of)
        .map(|(k, members)| {
            let mut c = Centroid {
                key: *k,
                ..Default::default()
            };
            if members.len() >= min_size {
                // a group's members lie all over the text file (`Packed::read`)
                for &i in members {
                    c.add(&docs[i].vec.read());
                }
            }
            SparseCentroid::from(c)
        })
        .collect();

    // ---- stable ids
    let (ids, last_id) = ids::stable(&sorted, &clusters, &members_of, previous);

    // ---- groups
    let mut slots: Vec<Slot> = clusters
        .iter()
        .zip(ids)
        .map(|(&c, id)| {
            let cent = std::mem::take(&mut finals[c]);
            // every name members use for the object, for display and for later weeks
            let mut names: BTreeMap<String, u32> = BTreeMap::new();
            if let Some(k) = cent.key {
                for &i in &members_of[c] {
                    count_name(&mut names, prep.written(i), &prep.lex.anchors[k as usize]);
                }
            }
            Slot {
                id,
                members: std::mem::take(&mut members_of[c]),
                cent,
                names,
            }
        })
        .collect();
    // What the slots were made from goes before the figures and the state are made beside
    // them: a list per cluster (most of them single petitions, whose lists stay), a centroid
    // per cluster, each petition's cluster.
    drop((members_of, finals, keys, assign, clusters));
    // Each member's similarity to its group, taken before the figures so that the members'
    // vectors and names can go: the state keeps those of the petitions in no group only, and
    // at a million rows the grouped ones were 170 MiB held through the figures and the state.
    //
    // Read in the petitions' order, the order their vectors lie in the text file: group by
    // group, each read was one of a group's members scattered over the file, and mapped the
    // kernel's fault-around (64 KiB) for a vector of ~0.2 KB, faster than the text file's
    // watcher hands pages back (`textfile`).
    const NONE: u32 = u32::MAX;
    let mut slot_of = vec![NONE; prep.docs.len()];
    for (k, s) in slots.iter().enumerate() {
        for &i in &s.members {
            slot_of[i] = k as u32;
        }
    }
    let sims: Vec<f32> = prep
        .docs
        .par_iter()
        .zip(&slot_of)
        .map(|(d, &k)| match k {
            NONE => 0.0,
            k => slots[k as usize].cent.cos_vec(&d.vec),
        })
        .collect();
    // the docs share buffers a few thousand at a time: the ungrouped ones are packed anew
    prep.docs = vectors::Doc::pack_made(
        std::mem::take(&mut prep.docs)
            .into_par_iter()
            .zip(slot_of.par_iter()),
        |(d, &k)| {
            if k != NONE {
                (d.key, Vec::new(), Vec::new())
            } else {
                (d.key, d.vec.to_vec(), d.top.to_vec())
            }
        },
        texts,
    )?;
    drop(slot_of);
    // The state for next week, written before the groups' tables are made (`write_full`), or
    // made to be returned.
    if let Some(dir) = state_to {
        State::write_full(
            dir, &sorted, &prints, tokenizer, opts, &prep, &slots, &sims, last_id,
        )?;
    }
    let words = Vocabulary::of(&prep.lex, tokenizer);
    let drafts = figures::drafts(&sorted, &slots, &words);
    if state_to.is_some() {
        // Written with the state: the centroids, names and ungrouped vectors are not read
        // again, and go before the groups' tables are made (~1 GB at 10M petitions).
        for s in &mut slots {
            s.cent = SparseCentroid::default();
            s.names = BTreeMap::new();
        }
        prep.docs = Vec::new();
    }
    let groups = assemble(&sorted, &slots, drafts, &sims, &words, last_id, opts);
    let state = state_to
        .is_none()
        .then(|| State::after_full(&sorted, prints, tokenizer, opts, prep, slots, &groups, sims));
    Ok((groups, state))
}
