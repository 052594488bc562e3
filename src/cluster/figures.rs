//! Step 9 of the grouping: every group's figures — size, petitioners, headcount, weeks,
//! trend, regions, units, open/closed, heat, batch-resolution score and its reasons, the most
//! central petition — and every petition's member row.

use std::collections::{BTreeMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use rayon::prelude::*;

use crate::schema::Record;
use crate::tokenize::Tokenizer;

use super::labels::{key_terms, make_labels};
use super::merge::SparseCentroid;
use super::vectors::Lexicon;
use super::{Group, Groups, Id, Member, Options, Trend, UNCLUSTERED};

/// The Monday of the week a petition was received in.
pub(super) fn week_of(t: &NaiveDateTime) -> NaiveDate {
    crate::calendar::week_monday(t.date())
}

pub(super) fn counts_desc(items: impl Iterator<Item = String>) -> Vec<(String, usize)> {
    let mut m: BTreeMap<String, usize> = BTreeMap::new();
    for i in items {
        if !i.is_empty() {
            *m.entry(i).or_insert(0) += 1;
        }
    }
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

/// Counts a member's name for its group's object (`canon`): the names that contain the
/// canonical one (伊景园滨河苑 for 伊景园), of which the group displays the commonest.
pub(super) fn count_name(names: &mut BTreeMap<String, u32>, raw: Option<&str>, canon: &str) {
    if let Some(r) = raw.filter(|r| r.contains(canon)) {
        *names.entry(r.to_string()).or_insert(0) += 1;
    }
}

/// One group ready for its figures: id, members (indices into the id-sorted records), final
/// centroid, and the names its members use for its object with their counts.
pub(crate) struct Slot {
    pub(super) id: String,
    pub(super) members: Vec<usize>,
    pub(super) cent: SparseCentroid,
    pub(super) names: BTreeMap<String, u32>,
}

/// The grouping's words, as the figures read them: the vocabulary, which terms are person
/// names, the object names, and the tokenizer's dictionary (a label's grievance words must be
/// words a reader knows, not a fragment jieba guessed across a place name: 泉塘太暗).
pub(super) struct Vocabulary<'a> {
    pub(super) vocab: &'a [String],
    pub(super) person: &'a [bool],
    pub(super) anchors: &'a [String],
    pub(super) tokenizer: &'a Tokenizer,
}

impl<'a> Vocabulary<'a> {
    /// A grouping's lexicon (a full run's, or the one a weekly run keeps) with its tokenizer.
    pub(super) fn of(lex: &'a Lexicon, tokenizer: &'a Tokenizer) -> Self {
        Vocabulary {
            vocab: &lex.vocab,
            person: &lex.person,
            anchors: &lex.anchors,
            tokenizer,
        }
    }

    /// Whether `w` is a dictionary word (jieba's, or the office's own dictionaries).
    fn readable(&self, w: &str) -> bool {
        self.tokenizer.jieba().has_word(w)
    }
}

/// Every group's figures and every petition's member row, labels made unique, groups sorted
/// by heat. `sims[i]` is member `i`'s similarity to its group.
///
/// `drafts` are [`drafts`] of the same slots: after them the slots' centroids and names are
/// not read (a caller that has written them elsewhere may let them go first).
pub(super) fn assemble(
    sorted: &[&Record],
    slots: &[Slot],
    drafts: Vec<Draft>,
    sims: &[f32],
    words: &Vocabulary,
    last_id: u32,
    opts: &Options,
) -> Groups {
    let last_week = sorted.iter().map(|r| week_of(&r.received_at)).max();
    let seen = sample_texts(sorted, &drafts);
    let one = |((slot, draft), seen): ((&Slot, Draft), &Seen)| {
        figures(sorted, slot, draft, seen, sims, words, last_week, opts)
    };
    let figured: Vec<Figured> = slots.par_iter().zip(drafts).zip(&seen).map(one).collect();
    // Each petition's group (in `figured`'s order), similarity and repeat mark, and then its
    // row, made once in its place: the rows made as `Member`s per group and moved into a table
    // of every petition were ~150 bytes of each held twice at once, 1.3 GB at 10M petitions.
    let mut place: Vec<Option<(u32, f32, bool)>> = vec![None; sorted.len()];
    let mut groups: Vec<Group> = Vec::with_capacity(slots.len());
    let mut joins: Vec<Vec<bool>> = Vec::with_capacity(slots.len());
    for (k, (g, rows, j)) in figured.into_iter().enumerate() {
        for r in rows {
            place[r.i] = Some((k as u32, r.sim, r.repeat));
        }
        groups.push(g);
        joins.push(j);
    }
    let member_rows: Vec<Member> = place
        .into_par_iter()
        .zip(sorted)
        .map(|(p, r)| match p {
            Some((k, s, repeat)) => Member {
                id: r.id.as_str().into(),
                group_id: groups[k as usize].id.as_str().into(),
                similarity: (s as f64 * 1e4).round() / 1e4,
                is_repeat: repeat,
            },
            None => Member {
                id: r.id.as_str().into(),
                group_id: UNCLUSTERED.into(),
                similarity: 0.0,
                is_repeat: false,
            },
        })
        .collect();
    make_labels(&mut groups, &joins, opts.label_terms);
    groups.sort_by(|a, b| b.heat.total_cmp(&a.heat).then(a.id.cmp(&b.id)));
    Groups {
        groups,
        members: member_rows,
        last_id,
    }
}

/// A group, its members (record index, similarity, repeat: the key terms' order reads them),
/// and which of its key terms the members write right after the one before (see
/// `make_labels`).
pub(super) type Figured = (Group, Vec<Row>, Vec<bool>);

/// A member of a group before its [`Member`] row is made (by [`assemble`], in its place).
pub(super) struct Row {
    /// Index into the id-sorted records.
    pub(super) i: usize,
    /// Cosine similarity to the group's centroid.
    pub(super) sim: f32,
    /// The same petitioner already filed in this group earlier.
    pub(super) repeat: bool,
}

/// Members whose texts are read for a group's key terms (the first this many by time).
const SAMPLE: usize = 50;

/// Candidate key terms per group (at most 16: one bit each in [`Seen`]).
const CANDIDATES: usize = 12;

/// Each slot's [`Draft`], the part of the figures that reads its centroid and names.
pub(super) fn drafts(sorted: &[&Record], slots: &[Slot], words: &Vocabulary) -> Vec<Draft> {
    slots
        .par_iter()
        .map(|s| Draft::of(sorted, s, words))
        .collect()
}

/// What a group's figures need before its members' texts are read: its members by time, the
/// name it displays for its object, and its candidate key terms.
pub(super) struct Draft {
    ms: Vec<usize>,
    anchor: Option<String>,
    terms: Vec<String>,
}

impl Draft {
    fn of(sorted: &[&Record], slot: &Slot, words: &Vocabulary) -> Draft {
        let mut ms = slot.members.clone();
        ms.sort_by(|&a, &b| {
            sorted[a]
                .received_at
                .cmp(&sorted[b].received_at)
                .then(a.cmp(&b))
        });
        // display the name most members use (伊景园滨河苑 rather than the canonical 伊景园)
        let anchor = slot.cent.key.map(|k| {
            slot.names
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(n, _)| n.clone())
                .unwrap_or_else(|| words.anchors[k as usize].clone())
        });
        let mut terms = key_terms(
            &slot.cent,
            words.vocab,
            words.person,
            anchor.as_deref(),
            CANDIDATES,
        );
        terms.truncate(CANDIDATES);
        Draft { ms, anchor, terms }
    }
}

/// Which of a group's candidate terms (bit `k` = `terms[k]`) its sampled members write: in the
/// text, in the text as the brief masks it, and right after another one (`pairs[a]` bit `b`:
/// some text has `terms[a]` immediately followed by `terms[b]`).
#[derive(Default, Clone, Copy)]
pub(super) struct Seen {
    raw: u16,
    masked: u16,
    pairs: [u16; CANDIDATES],
}

impl Seen {
    fn add(&mut self, o: &Seen) {
        self.raw |= o.raw;
        self.masked |= o.masked;
        for (a, b) in self.pairs.iter_mut().zip(&o.pairs) {
            *a |= b;
        }
    }
}

/// Every group's [`Seen`], reading each sampled member's text once, in the records' order, on
/// all cores: the contents may be in a mapped file (`textfile`), where reading them group by
/// group, in no order, mapped nearly all of it (a read maps a whole folio of the page cache).
fn sample_texts(sorted: &[&Record], drafts: &[Draft]) -> Vec<Seen> {
    let mut sampled: Vec<(u32, u32)> = drafts
        .iter()
        .enumerate()
        .flat_map(|(g, d)| d.ms.iter().take(SAMPLE).map(move |&i| (i as u32, g as u32)))
        .collect();
    sampled.par_sort_unstable();
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    let mut from = 0;
    for k in 1..=sampled.len() {
        if k == sampled.len() || sampled[k].0 != sampled[from].0 {
            runs.push(from..k);
            from = k;
        }
    }
    let found: Vec<(u32, Seen)> = runs
        .par_iter()
        .flat_map_iter(|run| {
            let r = sorted[sampled[run.start].0 as usize];
            let raw = format!("{}\n{}", r.title, r.content);
            let masked = crate::mask::mask_text(&raw);
            sampled[run.clone()]
                .iter()
                .map(|&(_, g)| (g, seen_in(&drafts[g as usize].terms, &raw, &masked)))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut seen = vec![Seen::default(); drafts.len()];
    for (g, s) in found {
        seen[g as usize].add(&s);
    }
    seen
}

/// One text's [`Seen`] for `terms`.
fn seen_in(terms: &[String], raw: &str, masked: &str) -> Seen {
    let mut s = Seen::default();
    for (k, t) in terms.iter().enumerate() {
        if raw.contains(t.as_str()) {
            s.raw |= 1 << k;
        }
        if masked.contains(t.as_str()) {
            s.masked |= 1 << k;
        }
    }
    // a text with `a` right before `b` has both
    let both = |k: usize| s.raw & (1 << k) != 0;
    for a in (0..terms.len()).filter(|&a| both(a)) {
        for b in (0..terms.len()).filter(|&b| b != a && both(b)) {
            if raw.contains(&format!("{}{}", terms[a], terms[b])) {
                s.pairs[a] |= 1 << b;
            }
        }
    }
    s
}

/// One group's figures (size, people, trend, heat, lead unit, key terms…) and its members' rows.
#[allow(clippy::too_many_arguments)]
pub(super) fn figures(
    sorted: &[&Record],
    slot: &Slot,
    draft: Draft,
    written: &Seen,
    sims: &[f32],
    words: &Vocabulary,
    last_week: Option<NaiveDate>,
    opts: &Options,
) -> Figured {
    let gid = slot.id.clone();
    let Draft { ms, anchor, terms } = draft;
    let mut rows = Vec::with_capacity(ms.len());
    let mut seen: HashSet<&str> = HashSet::new();
    let mut people = 0usize;
    let mut best_rep: Option<(usize, f32)> = None;
    for &i in &ms {
        let r = sorted[i];
        let s = sims[i];
        let repeat = match r.petitioner.as_deref().filter(|p| !p.trim().is_empty()) {
            Some(p) => !seen.insert(p),
            None => false,
        };
        if !repeat {
            people += 1;
        }
        rows.push(Row { i, sim: s, repeat });
        if best_rep.is_none_or(|(bi, bs)| s > bs || (s == bs && i < bi)) {
            best_rep = Some((i, s));
        }
    }
    let recs: Vec<&Record> = ms.iter().map(|&i| sorted[i]).collect();
    let first_seen = recs.iter().map(|r| r.received_at).min().unwrap_or_default();
    let last_seen = recs.iter().map(|r| r.received_at).max().unwrap_or_default();
    let weekly: Vec<(NaiveDate, usize)> = counts_by_week(&recs);
    let trend = trend_of(&weekly, last_week, first_seen, opts.recent_weeks);
    let closed = recs.iter().filter(|r| r.is_closed()).count();
    let open = recs.len() - closed;
    let headcount: u64 = recs.iter().map(|r| r.headcount.max(1) as u64).sum();
    let likes: u64 = recs.iter().map(|r| r.likes.unwrap_or(0) as u64).sum();
    let units = counts_desc(
        recs.iter()
            .filter_map(|r| r.responsible_unit.as_deref().map(str::to_string)),
    );
    let regions = counts_desc(recs.iter().map(|r| r.region_path()));
    let recent = match last_week {
        Some(lw) => {
            let from = lw - chrono::Duration::weeks(opts.recent_weeks.max(1) - 1);
            recs.iter()
                .filter(|r| week_of(&r.received_at) >= from)
                .count() as f64
        }
        None => 0.0,
    };
    let heat = opts.heat_w_size * (1.0 + recs.len() as f64).ln()
        + opts.heat_w_people * (1.0 + people as f64).ln()
        + opts.heat_w_headcount * (1.0 + headcount as f64).ln()
        + opts.heat_w_recent * (1.0 + recent).ln()
        + opts.heat_w_likes * (1.0 + likes as f64).ln();
    let mut batch = 0.0;
    let mut reasons = Vec::new();
    if let Some(a) = &anchor {
        batch += opts.batch_w_anchor;
        reasons.push(format!("同一对象：{a}"));
    }
    if let Some((u, n)) = units.first() {
        if *n * 10 >= recs.len() * 6 {
            batch += opts.batch_w_unit;
            reasons.push(format!("{u} 承办 {n}/{} 件", recs.len()));
        }
    }
    if people >= 3 {
        batch += opts.batch_w_people;
        reasons.push(format!("{people} 名不同信访人"));
    }
    if open * 2 >= recs.len() {
        batch += opts.batch_w_open;
        reasons.push(format!("{open} 件未办结"));
    }
    let mut member_ids: Vec<Id> = recs.iter().map(|r| r.id.as_str().into()).collect();
    member_ids.sort();
    // a term that occurs only inside personal data (李四海 → 四海 after 本人…) is dropped: the
    // sampled members' texts are masked the way the brief masks them, and a term must survive it
    let bit = |bits: u16, k: usize| bits & (1 << k) != 0;
    let key_terms: Vec<String> = (0..terms.len())
        .filter(|&k| !bit(written.raw, k) || bit(written.masked, k))
        .map(|k| terms[k].clone())
        .collect();
    let key_terms = grievance_first(key_terms, &rows, sorted, words, opts.label_terms.max(1));
    // 搅拌站 + 噪音 is one phrase where members write 搅拌站噪音; 三角洲 + 公立, never written
    // together, would make a word nobody wrote
    let at = |t: &String| terms.iter().position(|x| x == t);
    let joins: Vec<bool> = key_terms
        .windows(2)
        .map(|w| match (at(&w[0]), at(&w[1])) {
            (Some(a), Some(b)) => bit(written.pairs[a], b),
            _ => false,
        })
        .collect();
    let group = Group {
        id: gid,
        label: String::new(),
        anchor,
        key_terms,
        size: recs.len(),
        distinct_petitioners: people,
        total_headcount: headcount,
        first_seen,
        last_seen,
        weeks_active: weekly.len(),
        trend,
        regions,
        units,
        open,
        closed,
        heat: (heat * 1000.0).round() / 1000.0,
        batch_score: (batch * 1000.0_f64).round() / 1000.0,
        batch_reasons: reasons,
        representative: best_rep
            .map(|(i, _)| sorted[i].id.to_string())
            .unwrap_or_default(),
        members: member_ids,
        weekly,
    };
    (group, rows, joins)
}

/// The key terms with the grievance first: the ones most of the members' titles use (a title
/// states the problem in a dozen words; a letter's words are many), `n` of them in the order
/// the title that holds most of them puts them (搅拌站 噪音 扰民 reads as the problem, 扰民
/// 搅拌站 does not); then the rest by weight, eight in all. Titles of the 50 members closest
/// to the centroid are read.
fn grievance_first(
    terms: Vec<String>,
    rows: &[Row],
    sorted: &[&Record],
    words: &Vocabulary,
    n: usize,
) -> Vec<String> {
    let mut central: Vec<&Row> = rows.iter().collect();
    central.sort_by(|a, b| b.sim.total_cmp(&a.sim).then(a.i.cmp(&b.i)));
    let titles: Vec<&str> = central
        .iter()
        .take(50)
        .map(|r| sorted[r.i].title.as_str())
        .filter(|t| !t.trim().is_empty())
        .collect();
    let need = titles.len().clamp(1, 2);
    let mut by_use: Vec<(usize, usize)> = terms
        .iter()
        .enumerate()
        .map(|(rank, t)| {
            (
                titles.iter().filter(|x| x.contains(t.as_str())).count(),
                rank,
            )
        })
        .filter(|(uses, rank)| *uses >= need && words.readable(&terms[*rank]))
        .collect();
    by_use.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut chosen: Vec<usize> = by_use.iter().take(n).map(|(_, rank)| *rank).collect();
    if let Some(title) = titles
        .iter()
        .enumerate()
        .max_by_key(|(k, t)| {
            let held = chosen
                .iter()
                .filter(|&&r| t.contains(terms[r].as_str()))
                .count();
            (held, std::cmp::Reverse(*k))
        })
        .map(|(_, t)| *t)
    {
        chosen.sort_by_key(|&r| (title.find(terms[r].as_str()).unwrap_or(usize::MAX), r));
    }
    let mut out: Vec<String> = chosen.iter().map(|&r| terms[r].clone()).collect();
    // then the rest by weight, dictionary words before guessed ones (a label takes its words
    // from the front)
    let mut rest: Vec<(usize, &String)> = terms
        .iter()
        .enumerate()
        .filter(|(r, _)| !chosen.contains(r))
        .collect();
    rest.sort_by_key(|(r, t)| (!words.readable(t), *r));
    out.extend(rest.into_iter().map(|(_, t)| t.clone()));
    out.truncate(8);
    out
}

pub(super) fn counts_by_week(recs: &[&Record]) -> Vec<(NaiveDate, usize)> {
    let mut m: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    for r in recs {
        *m.entry(week_of(&r.received_at)).or_insert(0) += 1;
    }
    m.into_iter().collect()
}

/// A group is new in the group tables when its first petition is in the data's last two weeks.
pub(super) const NEW_WEEKS: i64 = 2;

/// [`Trend::of_buckets`] over the weeks up to the data's last week, `w` weeks a window.
pub(super) fn trend_of(
    weekly: &[(NaiveDate, usize)],
    last_week: Option<NaiveDate>,
    first: NaiveDateTime,
    w: i64,
) -> Trend {
    let Some(lw) = last_week else {
        return Trend::Steady;
    };
    let window = w.max(1) as usize;
    let mut buckets = vec![0u64; 2 * window];
    for (d, n) in weekly {
        let back = (lw - *d).num_weeks();
        if let Some(b) = usize::try_from(back).ok().and_then(|k| buckets.get_mut(k)) {
            *b += *n as u64;
        }
    }
    let first_back = (lw - week_of(&first)).num_weeks();
    Trend::of_buckets(&buckets, first_back, NEW_WEEKS, window)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The grievance leads in dictionary words, in the order a title says it; a fragment jieba
    /// guessed (枫泾塘, in every title) is kept as a key term but never leads.
    #[test]
    fn grievance_leads_in_dictionary_words() {
        let tok = Tokenizer::new(&Default::default()).unwrap();
        assert!(!tok.jieba().has_word("枫泾塘"));
        let recs: Vec<Record> = ["枫泾塘路灯太暗", "枫泾塘一带路灯太暗", "枫泾塘路灯坏了"]
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut r = crate::store::tests::rec(&format!("R{i}"));
                r.title = (*t).into();
                r
            })
            .collect();
        let sorted: Vec<&Record> = recs.iter().collect();
        let rows: Vec<Row> = (0..recs.len())
            .map(|i| Row {
                i,
                sim: 0.5,
                repeat: false,
            })
            .collect();
        let words = Vocabulary {
            vocab: &[],
            person: &[],
            anchors: &[],
            tokenizer: &tok,
        };
        let terms: Vec<String> = ["枫泾塘", "太暗", "路灯", "安全"]
            .map(String::from)
            .to_vec();
        let out = grievance_first(terms, &rows, &sorted, &words, 2);
        assert_eq!(out, ["路灯", "太暗", "安全", "枫泾塘"]);
    }
}
