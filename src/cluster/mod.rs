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
//!    own region names (from the region column) and `A市`-style prefixes stripped. A name that is
//!    only kind words (英语培训中心) is no object; an organisation named with an everyday word
//!    that the corpus mostly uses on its own (人民医院) is none either. Title anchors win over
//!    content anchors; estates beat schools/companies beat roads/lines beat sites.
//! 3. **Variants folded** onto one name: containment (丽景花园小区二期 → 丽景花园), core (the name
//!    without its kind words: 恒通教育 / 恒通培训 / 恒通英语培训中心 are one trade name; 花语小区 is
//!    the dominant estate called 花语…), and **linking**: an object usually named together with a
//!    more frequent one (a contractor with the estate it builds) counts as that one — one hop.
//! 4. **Vectors**: sublinear TF × smoothed IDF over words seen in ≥ 2 petitions, L2-normalised.
//!    For anchored petitions the names that name the object (≥ 80% of their uses are with this
//!    anchor: the estate, its developer) are dropped, so petitions of one object are compared on
//!    their grievance and different problems at one estate stay apart.
//! 5. **Leader pass**: single-pass centroid clustering. A petition is only compared with groups of
//!    the *same anchor* (anchored petitions) or, without an anchor, with anchor-free groups found
//!    through an inverted index over each group's top terms. It joins the group whose *centroid*
//!    is most similar if the cosine reaches the threshold, else starts a group. A second pass
//!    reassigns every petition to its best final centroid. Membership always requires similarity
//!    to the centroid, so no hub can chain unrelated petitions; different anchors never merge.
//! 6. **Merge pass**: groups whose centroids are close ([`Options::merge_threshold`]) merge when
//!    their objects agree (same anchor, or one side has none) and their names do not clash (two
//!    groups whose top terms carry names — 宏达 vs 海纳 — none shared, stay apart). Each merge is
//!    re-checked against the merged centroids, so chains form only between close groups.
//! 7. Groups smaller than [`Options::min_size`] go to the unclustered bucket (`-`). If the
//!    unclustered share is above [`Options::target_unclustered_rate`], the thresholds are lowered
//!    step by step (never below [`Options::min_threshold`]) and pass 2 is repeated.
//! 8. **Labels**: anchor + the group's top distinguishing terms, made unique. **Heat** and
//!    **batch-resolution score**: see [`Options`].

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::LazyLock;

use chrono::{NaiveDate, NaiveDateTime};
use rayon::prelude::*;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fxhash::{FastMap, FastSet};
use crate::schema::Record;
use crate::tokenize::Tokenizer;

pub mod eval;
mod incremental;
mod links;
pub use eval::{eval, group_scores, EvalScores, GroupScores};
pub use incremental::{update, Grouped, Mode, Regroup, State, STATE_FILE};

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
}

/// The cluster stage: groups the records ([`update`]: only the new ones onto the last grouping
/// unless `regroup` or the data say otherwise), writes `groups/` ([`write`]) and the state the
/// next run groups onto. ([`run`] is the from-scratch grouping underneath.)
pub fn stage(input: Input<'_>, opts: &Options) -> Result<Grouped> {
    let grouped = update(
        input.records,
        input.tokenizer,
        opts,
        input.groups_dir,
        input.regroup,
    )?;
    write(
        input.groups_dir,
        &grouped.groups,
        input.records,
        input.show_personal_data,
    )?;
    grouped.state.write(input.groups_dir)?;
    Ok(grouped)
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
    /// Cosine to the group centroid needed to join a group when no anchor was found. Default 0.45.
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
            unanchored_threshold: 0.45,
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

/// A case group's number as users see it: `G0007`. Numbers are never reused (see
/// [`Groups::last_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(pub u32);

impl GroupId {
    /// Reads `G0007` back (None for anything else, [`UNCLUSTERED`] included).
    pub fn parse(id: &str) -> Option<GroupId> {
        id.strip_prefix('G')?.parse().ok().map(GroupId)
    }
}

impl std::fmt::Display for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "G{:04}", self.0)
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
    pub members: Vec<String>,
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

/// One petition's place in the grouping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    /// A group id or [`UNCLUSTERED`].
    pub group_id: String,
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

// ---------------------------------------------------------------------------------------------
// Anchors

/// Built-in object suffixes with their priority class (lower wins when a title names several).
const SUFFIXES: &[(&str, u8)] = &[
    ("小区", 0),
    ("花园", 0),
    ("家园", 0),
    ("新城", 0),
    ("公寓", 0),
    ("苑", 0),
    ("府", 0),
    ("园", 0),
    ("城", 0),
    ("湾", 0),
    ("庭", 0),
    ("居", 0),
    ("公馆", 0),
    ("大厦", 0),
    ("广场", 0),
    ("万境", 0),
    ("名都", 0),
    ("山庄", 0),
    ("雅居", 0),
    ("国际", 0),
    ("公司", 1),
    ("集团", 1),
    ("学校", 1),
    ("学院", 1),
    ("大学", 1),
    ("小学", 1),
    ("中学", 1),
    ("幼儿园", 1),
    ("医院", 1),
    ("银行", 1),
    ("酒店", 1),
    ("市场", 1),
    ("教育", 1),
    ("培训", 1),
    ("中心", 1),
    ("物业", 1),
    ("置业", 1),
    ("投资", 1),
    ("路", 2),
    ("大道", 2),
    ("街", 2),
    ("线", 2),
    ("高速", 2),
    ("大桥", 2),
    ("村", 3),
    ("社区", 3),
    ("厂", 3),
    ("站", 3),
    ("场", 3),
    ("矿", 3),
    ("项目", 3),
    // named policy programmes (人才新政, 人才购房补贴): one programme, one unit to settle it
    ("新政", 4),
    ("补贴", 4),
    ("补助", 4),
    ("津贴", 4),
];

/// Whole words that end with a suffix but name no object.
const GENERIC: &[&str] = &[
    "小区",
    "花园",
    "家园",
    "新城",
    "公寓",
    "公园",
    "校园",
    "园区",
    "城市",
    "县城",
    "城区",
    "全城",
    "进城",
    "公司",
    "物业公司",
    "开发公司",
    "集团",
    "学校",
    "学院",
    "大学",
    "小学",
    "中学",
    "幼儿园",
    "医院",
    "银行",
    "酒店",
    "市场",
    "道路",
    "马路",
    "公路",
    "线路",
    "路线",
    "网线",
    "电线",
    "一线",
    "在线",
    "热线",
    "专线",
    "主线",
    "沿线",
    "红线",
    "路口",
    "大道",
    "街道",
    "大街",
    "高速",
    "大桥",
    "农村",
    "乡村",
    "村",
    "社区",
    "厂",
    "工厂",
    "车站",
    "网站",
    "站",
    "场",
    "现场",
    "市场",
    "广场",
    "商场",
    "停车场",
    "项目",
    "工程项目",
    "大厦",
    "居",
    "城",
    "园",
    "苑",
    "府",
    "湾",
    "庭",
    "思路",
    "出路",
    "门路",
    "政府",
    "官方",
    "家庭",
    "法庭",
    "宅基地",
    "本村",
    "我村",
    "该村",
    "村组",
    "后路",
    "道",
    "路",
    "街",
    "线",
    "矿",
    "邻居",
    "民居",
    "定居",
    "移居",
    "高速公路",
    "本小区",
    "该小区",
    "我小区",
    "新小区",
    "老小区",
    "周边",
    "农场",
    "操场",
    "机场",
    "菜市场",
    "垃圾站",
    "加油站",
    "公交站",
    "地铁站",
    "工地",
    "国际",
    "新政",
    "补贴",
    "补助",
    "津贴",
    "工业园",
    "产业园",
    "物流园",
    "科技园",
    "动物园",
    "植物园",
    "教育",
    "培训",
    "中心",
    "物业",
    "置业",
    "投资",
];

/// Suffixes that also end ordinary phrases (义务教育, 职业培训, 服务中心, 加大投资): they make an
/// object only after a proper name (a place, organisation or person name, or a word jieba does
/// not know), as in 富源教育, 昌盛英语培训中心, 隆昌物业, 百川投资.
const WEAK_SUFFIXES: &[&str] = &["教育", "培训", "中心", "物业", "置业", "投资"];

/// One-character suffixes that jieba sometimes glues to the next word when it does not know the
/// name (沙坪 / 村征 / 地): such an unknown token is split after its first character.
const GLUED_SUFFIX_CHARS: &[char] = &[
    '村', '路', '站', '厂', '城', '苑', '园', '街', '线', '矿', '场', '府', '湾', '庭', '居',
];

fn proper_tag(tag: &str) -> bool {
    matches!(
        tag,
        "ns" | "nt" | "nz" | "nr" | "nrt" | "nrfg" | "x" | "eng" | "j" | "m"
    )
}

/// Names of the data's own regions (from the region column: cities, districts, counties,
/// streets, towns), with and without their level word (江城市 and 江城). They are where a petition
/// comes from, never the object it is about.
pub(crate) fn region_names(records: &[&Record]) -> FastSet<String> {
    let mut out = FastSet::default();
    for r in records {
        for name in r.region.iter().flatten() {
            for level in ["街道", "市", "区", "县", "州", "盟", "旗", "镇", "乡"] {
                if let Some(bare) = name.strip_suffix(level) {
                    out.insert(name.clone());
                    if char_len(bare) >= 2 {
                        out.insert(bare.to_string());
                    }
                    break;
                }
            }
        }
    }
    out
}

fn nounish(tag: &str) -> bool {
    matches!(
        tag,
        "ns" | "nt"
            | "nz"
            | "nr"
            | "nrt"
            | "nrfg"
            | "x"
            | "eng"
            | "m"
            | "j"
            | "n"
            | "nl"
            | "ng"
            | "s"
    )
}

static REGION_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[A-Za-z][0-9]*[省市区县]|[\p{Han}]{2,3}?[省市]|[A-Za-z0-9\p{Han}]{1,3}?[区县])+",
    )
    .unwrap()
});
static TRAILING_PHASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:[一二三四五六七八九十0-9]+期|[0-9A-Za-z]+栋|小区|项目)+$").unwrap()
});

fn suffix_class(word: &str, extra: &[String]) -> Option<u8> {
    if extra.iter().any(|s| word.ends_with(s.as_str())) {
        return Some(1);
    }
    // most words end in no suffix's last character: one binary search instead of 60 compares
    let last = word.chars().next_back()?;
    if SUFFIX_LAST.binary_search(&last).is_err() {
        return None;
    }
    SUFFIXES
        .iter()
        .filter(|(s, _)| word.ends_with(s))
        .map(|(_, c)| *c)
        .min()
}

/// Last characters of the built-in suffixes, sorted.
static SUFFIX_LAST: LazyLock<Vec<char>> = LazyLock::new(|| {
    let mut v: Vec<char> = SUFFIXES
        .iter()
        .filter_map(|(s, _)| s.chars().next_back())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
});

/// Two-character suffixes as (first, second, suffix).
static TWO_CHAR_SUFFIXES: LazyLock<Vec<(char, char, &'static str)>> = LazyLock::new(|| {
    SUFFIXES
        .iter()
        .filter_map(|(s, _)| {
            let mut cs = s.chars();
            match (cs.next(), cs.next(), cs.next()) {
                (Some(a), Some(b), None) => Some((a, b, *s)),
                _ => None,
            }
        })
        .collect()
});

static KIND_WORDS: LazyLock<FastSet<&'static str>> =
    LazyLock::new(|| GENERIC.iter().copied().collect());

/// Whether `w` is one of the [`GENERIC`] kind words.
fn is_kind_word(w: &str) -> bool {
    KIND_WORDS.contains(w)
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Anchors found in tagged text, each with its priority class, in text order.
fn anchors_in<S: AsRef<str>>(
    tags: &[(S, S)],
    extra: &[String],
    regions: &FastSet<String>,
    tok: &Tokenizer,
) -> Vec<(String, u8)> {
    let tags: Vec<(&str, &str)> = tags.iter().map(|(w, t)| (w.as_ref(), t.as_ref())).collect();
    let tags = &tags[..];
    // re-join a two-character suffix that jieba cut across two tokens (金 / 域名 / 都 → 金 + 域 +
    // 名都): without it the estate 金域名都 is never seen as one
    let rejoined: Vec<(String, String)>;
    let rejoined_view: Vec<(&str, &str)>;
    let tags = if (1..tags.len()).any(|i| split_suffix(tags[i - 1].0, tags[i].0).is_some()) {
        let mut out: Vec<(String, String)> = Vec::with_capacity(tags.len() + 2);
        let mut carry: Option<(String, String)> = None;
        for (i, (w, t)) in tags.iter().enumerate() {
            let (mut w, t) = carry
                .take()
                .unwrap_or_else(|| (w.to_string(), t.to_string()));
            if let Some(next) = tags.get(i + 1) {
                if let Some(suf) = split_suffix(&w, next.0) {
                    let c1 = suf.chars().next().unwrap_or_default();
                    w.truncate(w.len() - c1.len_utf8());
                    if !w.is_empty() {
                        out.push((w, t));
                    }
                    out.push((suf.to_string(), "n".to_string()));
                    let c2 = suf.chars().nth(1).unwrap_or_default();
                    carry = Some((next.0[c2.len_utf8()..].to_string(), next.1.to_string()));
                    continue;
                }
            }
            if !w.is_empty() {
                out.push((w, t));
            }
        }
        rejoined = out;
        rejoined_view = rejoined
            .iter()
            .map(|(w, t)| (w.as_str(), t.as_str()))
            .collect();
        &rejoined_view[..]
    } else {
        tags
    };
    // split unknown tokens that start with a one-character suffix (沙坪 + 村征 → 沙坪 + 村 + 征)
    let split: Vec<(&str, &str)>;
    let tags = if tags.iter().any(|(w, _)| glued(w, tok)) {
        split = tags
            .iter()
            .flat_map(|&(w, t)| {
                if glued(w, tok) {
                    let c = w.chars().next().unwrap_or_default().len_utf8();
                    vec![(&w[..c], "n"), (&w[c..], t)]
                } else {
                    vec![(w, t)]
                }
            })
            .collect();
        &split[..]
    } else {
        tags
    };
    // (first token, last token, class)
    let mut spans: Vec<(usize, usize, u8)> = Vec::new();
    for i in 0..tags.len() {
        let (w, t) = tags[i];
        let Some(class) = suffix_class(w, extra) else {
            continue;
        };
        // a kind word longer than the suffix (农村, 车站, 城市) heads no name: 农业农村局 is a bureau
        if is_kind_word(w) && !SUFFIXES.iter().any(|(x, _)| *x == w) {
            continue;
        }
        // a bare suffix token (村 tagged zg) is fine whatever its tag
        let bare_suffix = SUFFIXES.iter().any(|(x, _)| *x == w);
        if !bare_suffix && !nounish(t) && !matches!(t, "ng" | "vn" | "l" | "i") {
            continue;
        }
        let mut start = i;
        let mut len = char_len(w);
        while start > 0 && i - start < 4 {
            let (pw, pt) = tags[start - 1];
            if !nounish(pt) || len + char_len(pw) > 14 {
                break;
            }
            // generic words stop the extension unless they are themselves object heads (花园, 新城)
            if is_kind_word(pw) && suffix_class(pw, extra).is_none() {
                break;
            }
            start -= 1;
            len += char_len(pw);
        }
        // drop leading generic parts; require one specific part
        while start < i && is_kind_word(tags[start].0) {
            start += 1;
        }
        if (start..=i).all(|k| is_kind_word(tags[k].0)) {
            continue;
        }
        // a lone dictionary common noun naming a kind of site (搅拌站, 污水处理厂) is no object
        if start == i && class >= 2 && matches!(t, "n" | "vn" | "ng" | "l") {
            continue;
        }
        // organisations (and the weak suffixes) need a proper name before the type word:
        // 燃气公司, 公交公司, 建筑工程有限公司, 义务教育 name a kind, not one organisation
        if (class == 1 || WEAK_SUFFIXES.iter().any(|x| w.ends_with(x)))
            && !(start..i).any(|k| proper_tag(tags[k].1) || !tok.jieba().has_word(tags[k].0))
        {
            continue;
        }
        spans.push((start, i, class));
    }
    // merge nested and adjacent spans (伊景园 + 滨河苑 → 伊景园滨河苑)
    let mut merged: Vec<(usize, usize, u8)> = Vec::new();
    for s in spans {
        if let Some(last) = merged.last_mut() {
            if s.0 <= last.1 + 1 {
                last.0 = last.0.min(s.0);
                last.1 = s.1;
                last.2 = last.2.min(s.2);
                continue;
            }
        }
        merged.push(s);
    }
    merged
        .into_iter()
        .filter_map(|(a, b, c)| {
            let raw: String = tags[a..=b].iter().map(|(w, _)| *w).collect();
            clean_anchor(&raw, regions)
                .filter(|x| !(matches!(c, 2 | 3) && common_word(x, tok)))
                .map(|x| (x, c))
        })
        .collect()
}

/// The two-character suffix that `a` and `b` split between them (a ends with its first
/// character, b starts with its second).
fn split_suffix(a: &str, b: &str) -> Option<&'static str> {
    let last = a.chars().last()?;
    let first = b.chars().next()?;
    TWO_CHAR_SUFFIXES
        .iter()
        .find(|(a, b, _)| *a == last && *b == first)
        .map(|(_, _, s)| *s)
}

/// A road, line or site that is one everyday dictionary word (公交线路, 火车站, 高速公路) names a
/// kind, not one place; named ones are tagged as places (中山路 ns, 解放路 nz).
fn common_word(name: &str, tok: &Tokenizer) -> bool {
    let tags = tok.tag_ref(name);
    tags.len() == 1 && matches!(tags[0].1, "n" | "vn" | "l" | "ng")
}

fn glued(w: &str, tok: &Tokenizer) -> bool {
    let mut cs = w.chars();
    matches!(cs.next(), Some(c) if GLUED_SUFFIX_CHARS.contains(&c))
        && cs.next().is_some_and(|c| c > '\u{2e80}')
        && !tok.jieba().has_word(w)
}

/// Strips region prefixes and rejects generic names; `None` when nothing specific is left.
fn clean_anchor(raw: &str, regions: &FastSet<String>) -> Option<String> {
    let mut a = raw.trim().to_string();
    // leading names of the data's regions (江城鹅塘职业技术学院 → 鹅塘职业技术学院), longest first
    'strip: loop {
        let idx: Vec<usize> = a.char_indices().map(|(i, _)| i).skip(2).take(8).collect();
        for &e in idx.iter().rev() {
            // 望江 + 路小学 is the road 望江路, not the region 望江
            let glued_on = a[e..].starts_with(GLUED_SUFFIX_CHARS)
                || SUFFIXES.iter().any(|(x, _)| a[e..].starts_with(x));
            // 凤城 + 区人民医院: the bare name of 凤城区, whose level word must go with it
            let level_follows = a[e..].starts_with(['区', '县', '市', '镇', '乡', '省']);
            if regions.contains(&a[..e])
                && char_len(&a[e..]) >= 3
                && !glued_on
                && !level_follows
                && !kind_only(&a[e..])
            {
                a = a[e..].to_string();
                continue 'strip;
            }
        }
        break;
    }
    // a name that ends in a region's name is that region (投资人江城), not an object
    let ends: Vec<usize> = a.char_indices().map(|(i, _)| i).collect();
    if ends.iter().any(|&s| regions.contains(&a[s..])) {
        return None;
    }
    if let Some(m) = REGION_PREFIX.find(&a) {
        let rest = &a[m.end()..];
        if char_len(rest) >= 3 && !kind_only(rest) {
            a = rest.to_string();
        }
    }
    while let Some(rest) = a.strip_prefix(['市', '县', '省', '区']) {
        if char_len(rest) < 3 || kind_only(rest) {
            break;
        }
        a = rest.to_string();
    }
    if is_kind_word(a.as_str()) || (char_len(&a) < 3 && !BUS_LINE.is_match(&a)) {
        return None;
    }
    const BAD_END: &[&str] = &[
        "政府",
        "办事处",
        "有限公司",
        "有限责任公司",
        "股份公司",
        "分公司",
        "总公司",
        "网站",
        "我家",
        "居委会",
        "村委会",
    ];
    if BAD_END
        .iter()
        .any(|e| a == *e || a.ends_with(e) && char_len(&a) <= char_len(e) + 1)
    {
        return None;
    }
    if a.ends_with("政府") || a.ends_with("网站") || a.ends_with("热线") {
        return None;
    }
    // region names themselves are not objects
    if a.ends_with('市')
        || a.ends_with('区') && !a.ends_with("小区") && !a.ends_with("社区")
        || a.ends_with('县')
    {
        return None;
    }
    if a.chars().all(|c| c.is_ascii_alphanumeric()) || is_generic_name(&a, &[]) {
        return None;
    }
    Some(a)
}

/// Words that say what kind of school, hospital or office a name is (职业技术学院, 人民医院,
/// 第一中学): with its region (A市职业技术学院) such a name is one object, without it none.
const QUALIFIERS: &[&str] = &[
    "职业",
    "信息",
    "经济",
    "外国语",
    "师范",
    "医学",
    "人民",
    "第一",
    "第二",
    "第三",
    "中医",
    "妇幼",
    "实验",
    "理工",
    "科技",
    "工业",
    "商业",
    "财经",
    "财政",
    "农业",
    "交通",
    "技师",
    "保险",
    "化工",
    "卫生",
    "中心",
    "儿童",
    "保健",
    "公安",
    "城管",
    "国土",
    "税务",
];

/// A name that is only its kind (see [`QUALIFIERS`]); a region prefix in front of it stays.
fn kind_only(name: &str) -> bool {
    let core = strip_type_words(name, &[]);
    char_len(core) < 2 || TYPE_WORDS.contains(&core) || QUALIFIERS.contains(&core)
}

/// Numbered bus and metro lines (5路, K3路, 2号线): short, but objects.
static BUS_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z]?[0-9]+(?:路|号线|线)$").unwrap());

/// Normal form: trailing phase/building/小区 removed when something specific remains.
fn normalise_anchor(a: &str) -> String {
    let t = TRAILING_PHASE.replace(a, "").to_string();
    if char_len(&t) >= 3 {
        t
    } else {
        a.to_string()
    }
}

/// Known anchor names that occur in `text`: at every object suffix, the longest known name
/// ending there.
fn lookup_known(
    text: &str,
    known: &FastMap<String, u32>,
    lens: &FastMap<char, Vec<usize>>,
    extra: &[String],
) -> Vec<(String, u8)> {
    if known.is_empty() {
        return Vec::new();
    }
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    for e in 1..=chars.len() {
        // cheap filter: the character must end some suffix
        let last = chars[e - 1].1;
        // only the lengths of known names that end in this character, longest first
        let Some(ks) = lens.get(&last) else {
            continue;
        };
        let end = chars.get(e).map_or(text.len(), |c| c.0);
        let Some(class) = suffix_class(&text[..end], extra) else {
            continue;
        };
        for &k in ks.iter().filter(|&&k| k <= e) {
            let s = chars[e - k].0;
            let cand = &text[s..end];
            if known.contains_key(cand) {
                out.push((cand.to_string(), class));
                break;
            }
        }
    }
    out
}

/// The anchor of one petition. The title's best-class anchor (estates beat companies/schools beat
/// roads beat sites) unless the title only names a road or site and the content names a better
/// object twice or more (搅拌站 in the title, 丽发新城 throughout the text).
fn pick_anchor(
    title: &[(String, u8)],
    content: &[(String, u8)],
    known: &FastMap<String, u32>,
) -> Option<String> {
    let best_of = |v: &[(String, u8)]| -> Option<(String, u8, usize)> {
        let best = v.iter().map(|(_, c)| *c).min()?;
        let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for (pos, (a, c)) in v.iter().enumerate() {
            if *c == best {
                let e = counts.entry(normalise_anchor(a)).or_insert((0, pos));
                e.0 += 1;
            }
        }
        counts
            .into_iter()
            .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.1 .1.cmp(&a.1 .1)))
            .map(|(a, (n, _))| (a, best, n))
    };
    let t = title
        .iter()
        .map(|(_, c)| *c)
        .min()
        .and_then(|best| {
            // among the best class, the name most petitions use (then the first)
            let mut cands: Vec<(usize, &(String, u8))> = title
                .iter()
                .enumerate()
                .filter(|(_, (_, c))| *c == best)
                .collect();
            cands.sort_by(|a, b| {
                let fa = known.get(&a.1 .0).copied().unwrap_or(0);
                let fb = known.get(&b.1 .0).copied().unwrap_or(0);
                fb.cmp(&fa).then(a.0.cmp(&b.0))
            });
            cands.first().map(|x| x.1)
        })
        .map(|(a, c)| (normalise_anchor(a), *c));
    let c = best_of(content);
    match (t, c) {
        (Some((ta, tc)), Some((ca, cc, n))) => {
            if tc >= 1 && cc < tc && (n >= 2 || tc >= 3) && !ca.contains(&ta) {
                Some(ca)
            } else {
                Some(ta)
            }
        }
        (Some((ta, _)), None) => Some(ta),
        (None, Some((ca, _, _))) => Some(ca),
        (None, None) => None,
    }
}

/// Maps each anchor onto the most frequent known anchor (≥ 3 chars) it contains
/// (丽景花园二期 → 丽景花园; 武广新城伊景园滨河苑 → 伊景园 when that is the commoner name).
/// Prefix matches win over inner substrings; ties go to the longer, then the smaller name.
fn contained_known(a: &str, freq: &FastMap<&str, usize>) -> String {
    let idx: Vec<usize> = a
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(a.len()))
        .collect();
    let mut best: Option<(bool, usize, usize, &str)> = None;
    for (si, &s) in idx.iter().enumerate() {
        for &e in idx.iter().skip(si + 3) {
            let sub = &a[s..e];
            if sub.len() == a.len() {
                continue;
            }
            if let Some((k, &n)) = freq.get_key_value(sub) {
                // never onto a bare kind (英语培训中心, 生猪养殖场)
                if s != 0 && is_generic_name(sub, &[]) {
                    continue;
                }
                let cand = (s == 0, n, char_len(sub), *k);
                let better = match best {
                    None => true,
                    Some(b) => {
                        (cand.0, cand.1, cand.2) > (b.0, b.1, b.2)
                            || ((cand.0, cand.1, cand.2) == (b.0, b.1, b.2) && cand.3 < b.3)
                    }
                };
                if better {
                    best = Some(cand);
                }
            }
        }
    }
    best.map(|b| b.3.to_string())
        .unwrap_or_else(|| a.to_string())
}

/// The name every mention of an object is counted under: variants folded by containment
/// ([`contained_known`]) and by core ([`core_folds`]), over the petitions' chosen anchors
/// (their frequencies decide) and every other name mentioned.
fn name_map(
    chosen: &[Option<String>],
    mentions: &[Vec<String>],
    extra: &[String],
) -> HashMap<String, String> {
    let mut freq: FastMap<&str, usize> = FastMap::default();
    for a in chosen.iter().flatten() {
        *freq.entry(a.as_str()).or_insert(0) += 1;
    }
    let mut names: Vec<&str> = chosen
        .iter()
        .flatten()
        .map(String::as_str)
        .chain(mentions.iter().flatten().map(String::as_str))
        .collect();
    names.sort_unstable();
    names.dedup();
    let m1: HashMap<&str, String> = names
        .iter()
        .map(|n| (*n, contained_known(n, &freq)))
        .collect();
    let step1: Vec<Option<String>> = chosen
        .iter()
        .map(|a| a.as_deref().map(|a| m1[a].clone()))
        .collect();
    let fold = core_folds(&step1, extra);
    names
        .iter()
        .map(|n| {
            let c = &m1[n];
            (
                n.to_string(),
                fold.get(c).cloned().unwrap_or_else(|| c.clone()),
            )
        })
        .collect()
}

/// Words that say what kind of object a name is, not which one: stripped from the end of a name
/// to find its core (恒通英语培训中心 → 恒通, 博远生猪养殖场 → 博远), in addition to the object
/// suffixes themselves.
const TYPE_WORDS: &[&str] = &[
    "有限责任",
    "有限",
    "股份",
    "责任",
    "管理",
    "投资",
    "建筑",
    "工程",
    "建设",
    "置业",
    "地产",
    "房地产",
    "开发",
    "物业",
    "服务",
    "科技",
    "电子",
    "实业",
    "发展",
    "商贸",
    "贸易",
    "物流",
    "教育",
    "培训",
    "英语",
    "艺术",
    "体育",
    "职业",
    "技术",
    "专修",
    "养殖",
    "生猪",
    "食品",
    "混凝土",
    "搅拌",
    "商砼",
    "建材",
    "餐饮",
    "汽车",
    "小区",
    "住宅",
    "二期",
    "一期",
    "三期",
];

/// The core of an object name: the name without its trailing type words (`None` when fewer than
/// two characters are left).
fn core_of(name: &str, extra: &[String]) -> Option<String> {
    let a = strip_type_words(name, extra);
    (char_len(a) >= 2 && a != name).then(|| a.to_string())
}

/// A name that is only kind words (英语培训中心, 生猪养殖场, 建筑工程有限公司): no object.
/// Numbered lines (5路, K3路, 2号线) are objects.
fn is_generic_name(name: &str, extra: &[String]) -> bool {
    let core = strip_type_words(name, extra);
    (char_len(core) < 2 && !core.chars().any(|c| c.is_ascii_digit())) || TYPE_WORDS.contains(&core)
}

fn strip_type_words<'a>(name: &'a str, extra: &[String]) -> &'a str {
    // one object suffix (金湾村 → 金湾, not on to 金 through 湾), then any kind words
    let mut a = name;
    if let Some(t) = SUFFIXES
        .iter()
        .map(|(s, _)| *s)
        .chain(extra.iter().map(String::as_str))
        .filter(|t| a.ends_with(t) && char_len(a) > char_len(t))
        .max_by_key(|t| t.len())
    {
        a = &a[..a.len() - t.len()];
    }
    while let Some(t) = TYPE_WORDS
        .iter()
        .copied()
        .filter(|t| a.ends_with(t) && char_len(a) > char_len(t))
        .max_by_key(|t| t.len())
    {
        a = &a[..a.len() - t.len()];
    }
    a
}

/// Industries of the kind words, so 恒通教育 / 恒通培训 / 恒通英语培训中心 fold while 嘉禾物业 and
/// 嘉禾物流有限公司 (two companies sharing a trade name) do not.
const INDUSTRIES: &[&[&str]] = &[
    &[
        "教育", "培训", "英语", "艺术", "体育", "学校", "专修", "中心",
    ],
    &["物业", "服务"],
    &["置业", "地产", "房地产", "开发"],
    &["建筑", "工程", "建设"],
    &["投资", "管理", "理财"],
    &["养殖", "生猪", "养猪场", "养殖场", "场"],
    &["混凝土", "搅拌", "搅拌站", "商砼", "站"],
    &["物流"],
    &["商贸", "贸易"],
    &["科技", "电子"],
    &["餐饮", "食品"],
    &["汽车"],
];

fn industries(name: &str, core: &str) -> Vec<usize> {
    let tail = &name[core.len().min(name.len())..];
    INDUSTRIES
        .iter()
        .enumerate()
        .filter(|(_, words)| words.iter().any(|w| tail.contains(w)))
        .map(|(i, _)| i)
        .collect()
}

/// Folds the variants of one object's name onto one name, by core: 恒通教育 / 恒通培训 /
/// 恒通英语培训中心 are one organisation (same core, same industry or a bare 公司); 花语小区 is
/// 花语苑 when 花语苑 is the estate called 花语… that petitions name (≥ 80% of the mentions of
/// estates with that core). Estates keep their own type word (翡翠新城 and 翡翠华庭 are two
/// estates), so only a generic reference (…小区) folds.
fn core_folds(anchors: &[Option<String>], extra: &[String]) -> HashMap<String, String> {
    let mut freq: BTreeMap<&str, usize> = BTreeMap::new();
    for a in anchors.iter().flatten() {
        *freq.entry(a.as_str()).or_insert(0) += 1;
    }
    let mut by_core: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for name in freq.keys() {
        if let Some(c) = core_of(name, extra) {
            by_core.entry(c).or_default().push(name);
        }
    }
    let generic_estate = |n: &str| n.ends_with("小区") || n.ends_with("住宅");
    let is_estate = |n: &str| suffix_class(n, extra) == Some(0) && !generic_estate(n);
    let mut to: HashMap<String, String> = HashMap::new();
    for (core, names) in &by_core {
        // a core that is only a place (A市, 西地省) says where, not which: A市职业技术学院 and
        // A市教育局 are two bodies
        if names.len() < 2
            || REGION_PREFIX
                .find(core)
                .is_some_and(|m| m.end() == core.len())
        {
            continue;
        }
        let mut estates: Vec<&str> = names.iter().copied().filter(|n| is_estate(n)).collect();
        estates.sort_by(|a, b| freq[b].cmp(&freq[a]).then(a.cmp(b)));
        let estate_total: usize = estates.iter().map(|e| freq[e]).sum();
        if let Some(top) = estates.first() {
            // generic references go to the dominant estate, if there is one
            if freq[top] * 5 >= estate_total * 4 {
                for n in names.iter().filter(|n| generic_estate(n)) {
                    to.insert(n.to_string(), top.to_string());
                }
            }
        }
        // organisations: fold within an industry (or a bare 公司/集团) onto the most used name
        let orgs: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| suffix_class(n, extra) != Some(0))
            .collect();
        for (i, a) in orgs.iter().enumerate() {
            let ia = industries(a, core);
            let best = orgs
                .iter()
                .enumerate()
                .filter(|(j, b)| {
                    *j != i && {
                        let ib = industries(b, core);
                        ia.is_empty() || ib.is_empty() || ia.iter().any(|x| ib.contains(x))
                    }
                })
                .map(|(_, b)| *b)
                .chain(std::iter::once(*a))
                .max_by(|x, y| {
                    freq[x]
                        .cmp(&freq[y])
                        .then(y.len().cmp(&x.len()))
                        .then(y.cmp(x))
                });
            if let Some(b) = best.filter(|b| b != a) {
                to.insert(a.to_string(), b.to_string());
            }
        }
    }
    // one hop only (a → b, b → c becomes a → c when b moved)
    let snapshot = to.clone();
    for v in to.values_mut() {
        if let Some(w) = snapshot.get(v.as_str()) {
            *v = w.clone();
        }
    }
    to
}

/// The core of an organisation's or site's name, when the name is subject to the everyday-word
/// test (see `prepare`).
fn common_kind<'a>(name: &'a str, extra: &[String]) -> Option<&'a str> {
    let class = suffix_class(name, extra);
    let site = ["站", "厂", "场", "矿"].iter().any(|s| name.ends_with(s));
    if !(class == Some(1) || site) || BUS_LINE.is_match(name) {
        return None;
    }
    let core = strip_type_words(name, extra);
    // a regional body (A市职业技术学院, 西地省电子科技职业技术学院) is one object
    if REGION_PREFIX.find(core).is_some() {
        return None;
    }
    Some(core)
}

/// Links an object to the one it is usually named with: a contractor to the estate it builds
/// (宏达建筑工程有限公司 → 北辰家园), a railway company to the estate whose parking it sells
/// (广铁集团 → 伊景园滨河苑). Petitions about a case name one or the other, or both; the case is
/// one. B links to A when ≥ 30% (and ≥ 2) of the petitions naming B also name A, A is named by
/// more petitions, and A links to nothing itself (one hop: no chains of estates through a shared
/// contractor). Within the linked object the grievance still decides the group, so different
/// problems at the estate stay apart.
fn link_anchors(
    chosen: &[Option<String>],
    mentions: &[Vec<String>],
    names: &HashMap<String, String>,
) -> (Vec<Option<String>>, HashMap<String, String>) {
    let sets: Vec<Vec<&str>> = chosen
        .iter()
        .zip(mentions)
        .map(|(c, m)| {
            let mut v: Vec<&str> = m
                .iter()
                .filter_map(|x| names.get(x).map(String::as_str))
                .chain(c.as_deref())
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect();
    // counted in hash maps: every use below orders explicitly (or looks up)
    let mut n: FastMap<&str, usize> = FastMap::default();
    let mut pair: FastMap<(&str, &str), usize> = FastMap::default();
    for set in &sets {
        for (i, a) in set.iter().enumerate() {
            *n.entry(a).or_insert(0) += 1;
            for b in &set[i + 1..] {
                *pair.entry((a, b)).or_insert(0) += 1;
                *pair.entry((b, a)).or_insert(0) += 1;
            }
        }
    }
    let mut partners: FastMap<&str, Vec<(&str, usize)>> = FastMap::default();
    for ((a, b), c) in &pair {
        partners.entry(a).or_default().push((b, *c));
    }
    let mut order: Vec<(&str, usize)> = n.iter().map(|(a, c)| (*a, *c)).collect();
    order.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
    let mut parent: HashMap<&str, &str> = HashMap::new();
    // the names some other name links to (the values of `parent`), for a constant-time check
    let mut roots: FastSet<&str> = FastSet::default();
    for (b, nb) in order {
        let best = partners.get(b).and_then(|ps| {
            ps.iter()
                .filter(|(a, c)| {
                    *c >= 2 && c * 10 >= nb * 3 && n[a] > nb && !parent.contains_key(a)
                })
                .max_by(|x, y| x.1.cmp(&y.1).then(n[x.0].cmp(&n[y.0])).then(y.0.cmp(x.0)))
                .map(|(a, _)| *a)
        });
        if let Some(a) = best {
            // a name that others already link to stays a root
            if !roots.contains(b) {
                parent.insert(b, a);
                roots.insert(a);
            }
        }
    }
    let linked = chosen
        .iter()
        .map(|c| {
            c.as_deref()
                .map(|c| parent.get(c).copied().unwrap_or(c).to_string())
        })
        .collect();
    let parent = parent
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    (linked, parent)
}

// ---------------------------------------------------------------------------------------------
// Vectors

#[derive(Default)]
struct Doc {
    key: Option<u32>,
    vec: Vec<(u32, f32)>,
    top: Vec<u32>,
}

/// Whether `w` has an upper-case letter; Han characters (most of the text) are caseless and
/// skip the Unicode case tables.
fn has_upper(w: &str) -> bool {
    w.chars().any(|c| {
        c.is_ascii_uppercase() || (!c.is_ascii() && !crate::tokenize::is_han(c) && c.is_uppercase())
    })
}

/// A word the tokenizer keeps ([`crate::tokenize::is_content`]) that is more than one character,
/// unless it is a single Latin letter.
fn content_word(w: &str) -> bool {
    crate::tokenize::is_content(w)
        && (char_len(w) != 1 || w.chars().all(|c| c.is_ascii_alphabetic()))
}

struct Prepared {
    docs: Vec<Doc>,
    /// Each petition's anchor as written (before normalisation), for display.
    raw: Vec<Option<String>>,
    lex: Lexicon,
}

/// What a grouping learnt about the corpus's words and object names; a later week's petitions
/// are read with it (it is kept in the [`State`]).
struct Lexicon {
    vocab: Vec<String>,
    /// Per vocabulary term: its inverse document frequency.
    idf: Vec<f32>,
    /// Per vocabulary term: whether it is a name (company, person, place).
    proper: Vec<bool>,
    /// Per vocabulary term: whether it is a person's name.
    person: Vec<bool>,
    /// Canonical object names; an anchor key indexes this.
    anchors: Vec<String>,
    /// Every object name seen (chosen or mentioned), normalised, with the anchor it resolves to
    /// (`None`: a name that names no one object, see `generic` in [`prepare`]); sorted by name.
    resolve: Vec<(String, Option<u32>)>,
    /// Chosen anchor names with their petition counts (what [`contained_known`] folds onto).
    chosen: Vec<(String, u32)>,
    /// Corpus anchor names looked up again in raw text, with their petition counts.
    known: Vec<(String, u32)>,
    /// (anchor, term) pairs where the term names the object rather than the grievance.
    object_terms: Vec<(u32, u32)>,
}

/// One petition's tagging: (word, weight) merged and sorted by word, title anchors, content
/// anchors, words tagged as names, words tagged as person names.
type Pass<'r> = (
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
fn tag_record<'r>(
    r: &'r Record,
    tok: &'r Tokenizer,
    opts: &Options,
    regions: &FastSet<String>,
) -> Pass<'r> {
    let content = match r.content.char_indices().nth(opts.max_content_chars) {
        Some((cut, _)) if opts.max_content_chars > 0 => &r.content[..cut],
        _ => r.content.as_str(),
    };
    let (title_tags, content_tags) = (tok.tag_ref(&r.title), tok.tag_ref(content));
    let ta = anchors_in(&title_tags, &opts.extra_suffixes, regions, tok);
    let ca = anchors_in(&content_tags, &opts.extra_suffixes, regions, tok);
    let (tf, proper, person) = match (without_codes(&r.title), without_codes(content)) {
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
type Words<'t> = (
    Vec<(Cow<'t, str>, f32)>,
    Vec<Cow<'t, str>>,
    Vec<Cow<'t, str>>,
);

/// [`tag_record`]'s words, with the lifetime of the tagged text.
fn read_tags<'t>(
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
fn without_codes(text: &str) -> Cow<'_, str> {
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
fn known_lens<'k>(known: impl Iterator<Item = &'k String>) -> FastMap<char, Vec<usize>> {
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
fn anchor_of(
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
/// object dropped when anything else is left, L2-normalised, with its `k` top terms.
fn finish_doc(
    mut vec: Vec<(u32, f32)>,
    key: Option<u32>,
    object_term: impl Fn(u32, u32) -> bool,
    k: usize,
) -> Doc {
    if let Some(key) = key {
        let grievance: Vec<(u32, f32)> = vec
            .iter()
            .copied()
            .filter(|(t, _)| !object_term(key, *t))
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
    Doc { key, vec, top }
}

/// The `k` heaviest terms of a vector (ties: smaller term first).
fn top_terms(vec: &[(u32, f32)], k: usize) -> Vec<u32> {
    let mut by_w = vec.to_vec();
    by_w.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    by_w.iter().take(k).map(|(t, _)| *t).collect()
}

fn prepare<'r>(records: &[&'r Record], tok: &'r Tokenizer, opts: &Options) -> Prepared {
    let regions = region_names(records);
    // Pass A: words and token-level anchors, in chunks whose words are interned as they come,
    // so a million petitions never hold their word lists as strings all at once.
    let mut words = Interner::default();
    let mut pass_a: Vec<Tagged> = Vec::with_capacity(records.len());
    let tag_chunk = |chunk: &[&'r Record]| -> Vec<Pass<'r>> {
        chunk
            .par_iter()
            .map(|r| tag_record(r, tok, opts, &regions))
            .collect()
    };
    // Interning is sequential: chunk k is interned while chunk k+1 is tagged on the other cores.
    let intern = |raw: Vec<Pass<'r>>, words: &mut Interner, pass_a: &mut Vec<Tagged>| {
        for (tf, ta, ca, proper, person) in raw {
            let tf = tf.into_iter().map(|(w, c)| (words.id(&w), c)).collect();
            let proper = proper.into_iter().map(|w| words.id(&w)).collect();
            let person = person.into_iter().map(|w| words.id(&w)).collect();
            pass_a.push((tf, ta, ca, proper, person));
        }
    };
    let mut tagged: Option<Vec<Pass>> = None;
    for chunk in records.chunks(PASS_CHUNK) {
        let (raw, ()) = rayon::join(
            || tag_chunk(chunk),
            || {
                if let Some(prev) = tagged.take() {
                    intern(prev, &mut words, &mut pass_a);
                }
            },
        );
        tagged = Some(raw);
    }
    if let Some(prev) = tagged.take() {
        intern(prev, &mut words, &mut pass_a);
    }
    // Corpus anchor names (≥ 2 petitions): found again in raw text where jieba cut them apart
    // (是丽发 / 新城 → 丽发新城).
    let mut known: FastMap<String, u32> = FastMap::default();
    for (_, ta, ca, _, _) in &pass_a {
        let mut seen: Vec<&str> = ta
            .iter()
            .chain(ca.iter())
            .map(|(a, _)| a.as_str())
            .collect();
        seen.sort_unstable();
        seen.dedup();
        for a in seen {
            *known.entry(a.to_string()).or_insert(0) += 1;
        }
    }
    known.retain(|_, n| *n >= 2);
    let lens = known_lens(known.keys());
    let mut proper_df = vec![0u32; words.len()];
    let mut person_df = vec![0u32; words.len()];
    let mut df = vec![0u32; words.len()];
    for (tf, _, _, p, who) in &pass_a {
        for w in p {
            proper_df[*w as usize] += 1;
        }
        for w in who {
            person_df[*w as usize] += 1;
        }
        for (w, _) in tf {
            df[*w as usize] += 1;
        }
    }
    let per: Vec<Anchored> = pass_a
        .into_par_iter()
        .zip(records.par_iter())
        .map(|((tf, ta, ca, _, _), r)| {
            let (a, m) = anchor_of(r, ta, ca, &known, &lens, opts);
            (tf, a, m)
        })
        .collect();
    let mut tfs: Vec<Vec<(u32, f32)>> = Vec::with_capacity(per.len());
    let mut anchors_raw: Vec<Option<String>> = Vec::with_capacity(per.len());
    let mut mentions: Vec<Vec<String>> = Vec::with_capacity(per.len());
    for (tf, a, m) in per {
        tfs.push(tf);
        anchors_raw.push(a);
        mentions.push(m);
    }
    let mut names = name_map(&anchors_raw, &mentions, &opts.extra_suffixes);
    let all_names: Vec<String> = {
        let mut v: Vec<String> = names.keys().cloned().collect();
        v.sort_unstable();
        v
    };
    // An organisation or site whose name is a kind plus an everyday word (人民医院, 公交公司,
    // 火车站, 政务中心 — often what is left after a region prefix was stripped) names no one
    // object. Told apart from a trade name (富源教育, 利民置业) by use: the everyday word occurs
    // far more often on its own than in the name. Estates, roads and villages are exempt: they
    // are named with everyday words (海棠, 建设, 桃花) all the time.
    let mut name_df: HashMap<&str, u32> = HashMap::new();
    for m in &mentions {
        let mut seen: Vec<&str> = m
            .iter()
            .filter_map(|x| names.get(x))
            .map(String::as_str)
            .collect();
        seen.sort_unstable();
        seen.dedup();
        for x in seen {
            *name_df.entry(x).or_insert(0) += 1;
        }
    }
    let generic: HashSet<String> = name_df
        .iter()
        .filter(|(a, n)| {
            common_kind(a, &opts.extra_suffixes)
                .is_some_and(|core| words.df(core, &df) >= (3 * **n).max(10))
        })
        .map(|(a, _)| a.to_string())
        .collect();
    names.retain(|_, v| !generic.contains(v));
    let canon: Vec<Option<String>> = anchors_raw
        .iter()
        .map(|a| a.as_ref().and_then(|a| names.get(a).cloned()))
        .collect();
    let (canon, parent) = link_anchors(&canon, &mentions, &names);
    let mut anchor_names: Vec<String> = canon.iter().flatten().cloned().collect();
    anchor_names.sort();
    anchor_names.dedup();
    // Names only ever mentioned get a key too, after the chosen ones (whose keys stay as they
    // were): a later week's petition may choose them (kept for the incremental grouping).
    let mut mentioned: Vec<String> = names
        .values()
        .map(|c| parent.get(c).unwrap_or(c).clone())
        .filter(|c| anchor_names.binary_search(c).is_err())
        .collect();
    mentioned.sort();
    mentioned.dedup();
    anchor_names.extend(mentioned);
    let anchor_id: HashMap<&str, u32> = anchor_names
        .iter()
        .enumerate()
        .map(|(i, a)| (a.as_str(), i as u32))
        .collect();
    let resolve: Vec<(String, Option<u32>)> = all_names
        .into_iter()
        .map(|n| {
            let key = names
                .get(&n)
                .map(|c| anchor_id[parent.get(c).unwrap_or(c).as_str()]);
            (n, key)
        })
        .collect();
    let mut chosen: BTreeMap<&str, u32> = BTreeMap::new();
    for a in anchors_raw.iter().flatten() {
        *chosen.entry(a.as_str()).or_insert(0) += 1;
    }
    let chosen: Vec<(String, u32)> = chosen
        .into_iter()
        .map(|(a, n)| (a.to_string(), n))
        .collect();
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
    let keys: Vec<Option<u32>> = canon
        .iter()
        .map(|a| a.as_deref().map(|a| anchor_id[a]))
        .collect();
    let raw_vecs: Vec<Vec<(u32, f32)>> = tfs
        .par_iter()
        .map(|tf| weigh(tf.iter().map(|(w, c)| (term[*w as usize], *c)), &idf))
        .collect();
    // Terms that name the object rather than the grievance: names (see `proper`) that in ≥ 80%
    // of their petitions come with one anchor (the estate's own name, its developer, its
    // property company). Anchored petitions are only ever compared with petitions of the same
    // anchor, where those terms say nothing — but they would make different problems at one
    // estate look alike. Only names: a grievance that one object alone has (a concrete plant
    // beside one estate) is what its petitions share, not what tells them apart.
    let mut df_at: FastMap<(u32, u32), u32> = FastMap::default();
    for (v, key) in raw_vecs.iter().zip(&keys) {
        if let Some(key) = key {
            for (t, _) in v {
                *df_at.entry((*key, *t)).or_insert(0) += 1;
            }
        }
    }
    let mut object_terms: Vec<(u32, u32)> = df_at
        .into_iter()
        .filter(|((_, t), at)| {
            proper[*t as usize] && *at >= 2 && *at * 5 >= vocab_df[*t as usize] * 4
        })
        .map(|(kt, _)| kt)
        .collect();
    object_terms.sort_unstable();
    let docs = raw_vecs
        .into_par_iter()
        .zip(keys.par_iter())
        .map(|(vec, key)| {
            finish_doc(
                vec,
                *key,
                |a, t| object_terms.binary_search(&(a, t)).is_ok(),
                k,
            )
        })
        .collect();
    Prepared {
        raw: anchors_raw,
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
    }
}

/// A petition's TF-IDF weights, sublinear TF: (vocabulary term or none, summed count) in, (term,
/// weight) sorted by term out; words outside the vocabulary are dropped.
fn weigh(tf: impl Iterator<Item = (Option<u32>, f32)>, idf: &[f32]) -> Vec<(u32, f32)> {
    let mut v: Vec<(u32, f32)> = tf
        .filter_map(|(t, c)| t.map(|t| (t, (1.0 + c.ln()) * idf[t as usize])))
        .collect();
    v.sort_unstable_by_key(|x| x.0);
    v
}

/// One petition after tagging: (word id, weight) sorted by word, title anchors, content
/// anchors, ids of the words tagged as names.
type Tagged = (
    Vec<(u32, f32)>,
    Vec<(String, u8)>,
    Vec<(String, u8)>,
    Vec<u32>,
    Vec<u32>,
);

/// One petition's words, chosen anchor and every object it names.
type Anchored = (Vec<(u32, f32)>, Option<String>, Vec<String>);

/// Everyday petition vocabulary that names one thing in several ways (`data/dict/synonyms.txt`):
/// each word counts as the first of its line, so 房本 and 不动产权证 petitions are seen to ask for
/// the same certificate.
static SYNONYMS: LazyLock<FastMap<&'static str, &'static str>> = LazyLock::new(|| {
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
const PASS_CHUNK: usize = 20_000;

/// Words as dense ids, in order of first appearance.
#[derive(Default)]
struct Interner {
    index: FastMap<String, u32>,
    text: Vec<String>,
}

impl Interner {
    fn id(&mut self, w: &str) -> u32 {
        if let Some(&i) = self.index.get(w) {
            return i;
        }
        let i = self.text.len() as u32;
        self.text.push(w.to_string());
        self.index.insert(w.to_string(), i);
        i
    }
    fn len(&self) -> usize {
        self.text.len()
    }
    /// Petitions containing `w` as a word.
    fn df(&self, w: &str, df: &[u32]) -> u32 {
        self.index.get(w).map_or(0, |&i| df[i as usize])
    }
}

// ---------------------------------------------------------------------------------------------
// Centroid clustering

#[derive(Default, Clone)]
struct Centroid {
    key: Option<u32>,
    sum: FastMap<u32, f32>,
    norm2: f32,
    size: usize,
}

impl Centroid {
    fn add(&mut self, v: &[(u32, f32)]) {
        for (t, w) in v {
            let s = self.sum.entry(*t).or_insert(0.0);
            self.norm2 += 2.0 * *s * w + w * w;
            *s += w;
        }
        self.size += 1;
    }
    /// A centroid from a kept sum (sorted by term) of `size` vectors.
    fn from_sum(key: Option<u32>, sum: &[(u32, f32)], size: usize) -> Self {
        Centroid {
            key,
            sum: sum.iter().copied().collect(),
            norm2: sum.iter().map(|(_, s)| s * s).sum(),
            size,
        }
    }
    fn cos(&self, v: &[(u32, f32)]) -> f32 {
        if self.norm2 <= 0.0 {
            return 0.0;
        }
        let dot: f32 = v
            .iter()
            .filter_map(|(t, w)| self.sum.get(t).map(|s| s * w))
            .sum();
        dot / self.norm2.sqrt()
    }
    fn top_terms(&self, k: usize) -> Vec<u32> {
        let mut v: Vec<(u32, f32)> = self.sum.iter().map(|(a, b)| (*a, *b)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.into_iter().take(k).map(|(t, _)| t).collect()
    }
}

/// Candidate lookup: clusters by anchor, anchor-free clusters by term postings.
#[derive(Default)]
struct CandIndex {
    by_key: FastMap<u32, Vec<usize>>,
    by_term: FastMap<u32, Vec<usize>>,
}

const MAX_POSTING_SCAN: usize = 400;

impl CandIndex {
    fn candidates(&self, d: &Doc, out: &mut Vec<usize>) {
        out.clear();
        match d.key {
            Some(k) => {
                if let Some(v) = self.by_key.get(&k) {
                    out.extend_from_slice(v);
                }
            }
            None => {
                for t in &d.top {
                    if let Some(v) = self.by_term.get(t) {
                        let start = v.len().saturating_sub(MAX_POSTING_SCAN);
                        out.extend_from_slice(&v[start..]);
                    }
                }
                out.sort_unstable();
                out.dedup();
            }
        }
    }
    fn insert(&mut self, c: usize, key: Option<u32>, terms: &[u32]) {
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

fn best(cents: &[Centroid], cand: &[usize], d: &Doc) -> Option<(usize, f32)> {
    let mut best: Option<(usize, f32)> = None;
    for &c in cand {
        if cents[c].key != d.key || cents[c].size == 0 {
            continue;
        }
        let s = cents[c].cos(&d.vec);
        if best.is_none_or(|(bc, bs)| s > bs || (s == bs && c < bc)) {
            best = Some((c, s));
        }
    }
    best
}

/// Pass 1: leader clustering in id order. Returns the centroids.
fn leader(docs: &[Doc], opts: &Options) -> Vec<Centroid> {
    // Petitions only meet groups of their own anchor (or, without one, anchor-free groups), so
    // each anchor is an independent run: they go in parallel, each in id order, and their
    // groups are concatenated in anchor order — the same result on any number of cores.
    let mut parts: BTreeMap<Option<u32>, Vec<usize>> = BTreeMap::new();
    for (i, d) in docs.iter().enumerate() {
        parts.entry(d.key).or_default().push(i);
    }
    let mut parts: Vec<Vec<usize>> = parts.into_values().collect();
    // biggest first, so the long runs start early
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&p| std::cmp::Reverse(parts[p].len()));
    let mut runs: Vec<(usize, Vec<Centroid>)> = order
        .into_par_iter()
        .map(|p| (p, leader_run(docs, &parts[p], opts)))
        .collect();
    runs.sort_by_key(|r| r.0);
    parts.clear();
    runs.into_iter().flat_map(|(_, c)| c).collect()
}

/// Runs longer than this are scored in parallel blocks (see [`leader_run`]).
const LEADER_BLOCK_FROM: usize = 20_000;
const LEADER_BLOCK: usize = 256;

/// One leader run over `ids` (in order). Long runs (hundreds of thousands of petitions without
/// an anchor) score each block of [`LEADER_BLOCK`] petitions against the groups as they stood
/// at the block's start, in parallel, then apply the block in order, also checking the groups
/// the block itself started. Block boundaries are fixed, so the result does not depend on the
/// number of cores.
fn leader_run(all: &[Doc], ids: &[usize], opts: &Options) -> Vec<Centroid> {
    let mut cents: Vec<Centroid> = Vec::new();
    let mut idx = CandIndex::default();
    let block = if ids.len() >= LEADER_BLOCK_FROM {
        LEADER_BLOCK
    } else {
        1
    };
    for chunk in ids.chunks(block) {
        let scored: Vec<Option<(usize, f32)>> = if block > 1 {
            chunk
                .par_iter()
                .map(|&i| {
                    let d = &all[i];
                    let mut cand = Vec::new();
                    idx.candidates(d, &mut cand);
                    best(&cents, &cand, d)
                })
                .collect()
        } else {
            let mut cand = Vec::new();
            idx.candidates(&all[chunk[0]], &mut cand);
            vec![best(&cents, &cand, &all[chunk[0]])]
        };
        let fresh_from = cents.len();
        for (&i, scored) in chunk.iter().zip(scored) {
            let d = &all[i];
            if d.vec.is_empty() {
                continue;
            }
            let th = threshold(d, opts, 0) as f32;
            let mut pick = scored;
            for (c, cent) in cents.iter().enumerate().skip(fresh_from) {
                if cent.key == d.key {
                    let s = cent.cos(&d.vec);
                    if pick.is_none_or(|(_, bs)| s > bs) {
                        pick = Some((c, s));
                    }
                }
            }
            match pick {
                Some((c, s)) if s >= th => {
                    cents[c].add(&d.vec);
                    if d.key.is_none() {
                        idx.insert(c, None, &d.top);
                    }
                }
                _ => {
                    let mut c = Centroid {
                        key: d.key,
                        ..Default::default()
                    };
                    c.add(&d.vec);
                    idx.insert(cents.len(), d.key, &d.top);
                    cents.push(c);
                }
            }
        }
    }
    cents
}

fn threshold(d: &Doc, opts: &Options, step: usize) -> f64 {
    let base = if d.key.is_some() {
        opts.anchored_threshold
    } else {
        opts.unanchored_threshold
    };
    (base - opts.threshold_step * step as f64).max(opts.min_threshold.min(base))
}

/// Pass 2: assign each petition to its best final centroid; `None` = unclustered.
fn reassign(
    docs: &[Doc],
    cents: &[Centroid],
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
        .map(|d| {
            if d.vec.is_empty() {
                return None;
            }
            let mut cand = Vec::new();
            idx.candidates(d, &mut cand);
            let th = threshold(d, opts, step) as f32;
            best(cents, &cand, d).filter(|(_, s)| *s >= th)
        })
        .collect()
}

/// Pass 3: merges groups whose centroids are close (cosine ≥ [`Options::merge_threshold`]) and
/// whose objects agree (the same anchor, or at most one side has one). Candidate pairs come from
/// shared top centroid terms; pairs are taken most similar first, and each merge is re-checked
/// against the *merged* centroids, so a chain A–B–C only forms when A and C are also close.
/// Returns each cluster's anchor after merging (a group without one takes its partner's).
fn merge_groups(
    docs: &[Doc],
    assign: &mut [Option<(usize, f32)>],
    keys: &[Option<u32>],
    proper: &[bool],
    handling: &[(u32, u32)],
    opts: &Options,
) -> Vec<Option<u32>> {
    let n = keys.len();
    // each group's most common (category, unit); 0 = not in the data
    let mut votes: Vec<BTreeMap<(u32, u32), usize>> = vec![BTreeMap::new(); n];
    for (h, a) in handling.iter().zip(assign.iter()) {
        if let Some((c, _)) = a {
            *votes[*c].entry(*h).or_insert(0) += 1;
        }
    }
    let office: Vec<(u32, u32)> = votes
        .iter()
        .map(|v| {
            v.iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map_or((0, 0), |(k, _)| *k)
        })
        .collect();
    let low = opts.merge_threshold_same_office as f32;
    let same_office = |a: (u32, u32), b: (u32, u32)| a == b && (a.0 != 0 || a.1 != 0);
    let mut sums: Vec<BTreeMap<u32, f32>> = vec![BTreeMap::new(); n];
    let mut sizes = vec![0usize; n];
    for (d, a) in docs.iter().zip(assign.iter()) {
        if let Some((c, _)) = a {
            for (t, w) in &d.vec {
                *sums[*c].entry(*t).or_insert(0.0) += w;
            }
            sizes[*c] += 1;
        }
    }
    let mut cents: Vec<SparseCentroid> = sums
        .into_iter()
        .zip(keys)
        .map(|(m, k)| SparseCentroid::new(*k, m.into_iter().collect()))
        .collect();
    // The names among a group's top terms (宏达, 海纳): two groups that each have names, none
    // shared, are about different companies or places even when their wording agrees
    // (unpaid wages at two contractors).
    let names_of = |c: &SparseCentroid| c.names(proper);
    let mut names: Vec<Vec<u32>> = cents.iter().map(names_of).collect();
    let disjoint = names_disjoint;
    let live: Vec<usize> = (0..n).filter(|&c| sizes[c] > 0).collect();
    let tops: Vec<Vec<u32>> = live.iter().map(|&c| cents[c].top(MERGE_TOP)).collect();
    let mut post: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (li, t) in tops.iter().enumerate() {
        for term in t {
            post.entry(*term).or_default().push(li);
        }
    }
    let th = opts.merge_threshold as f32;
    let compatible = |a: Option<u32>, b: Option<u32>| a.is_none() || b.is_none() || a == b;
    let mut pairs: Vec<(f32, usize, usize)> = (0..live.len())
        .into_par_iter()
        .flat_map_iter(|li| {
            let mut cand: Vec<usize> = Vec::new();
            for term in &tops[li] {
                if let Some(p) = post.get(term) {
                    if p.len() <= MERGE_MAX_POSTING {
                        cand.extend(p.iter().copied().filter(|&o| o > li));
                    }
                }
            }
            cand.sort_unstable();
            cand.dedup();
            let a = &cents[live[li]];
            cand.into_iter()
                .filter_map(|lo| {
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
                    (s >= need).then_some((s, live[li], live[lo]))
                })
                .collect::<Vec<_>>()
        })
        .collect();
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
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
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
const MERGE_TOP: usize = 8;
const MERGE_MAX_POSTING: usize = 300;

/// How many top centroid terms are looked at for a group's names.
const NAME_TOP: usize = 6;

/// Two groups whose top terms each carry names (sorted, [`SparseCentroid::names`]), none
/// shared, are about different companies or places.
fn names_disjoint(a: &[u32], b: &[u32]) -> bool {
    !a.is_empty() && !b.is_empty() && !a.iter().any(|t| b.binary_search(t).is_ok())
}

/// Each record's (category, responsible unit) as small ids, 0 where the data has none.
fn handling_ids(records: &[&Record]) -> Vec<(u32, u32)> {
    let mut ids: HashMap<&str, u32> = HashMap::new();
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
struct SparseCentroid {
    key: Option<u32>,
    v: Vec<(u32, f32)>,
    norm: f32,
}

impl SparseCentroid {
    fn new(key: Option<u32>, v: Vec<(u32, f32)>) -> Self {
        let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
        SparseCentroid { key, v, norm }
    }
    fn cos(&self, o: &SparseCentroid) -> f32 {
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
    fn absorb(&mut self, o: SparseCentroid) {
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
    fn names(&self, proper: &[bool]) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .top(NAME_TOP)
            .into_iter()
            .filter(|t| proper[*t as usize])
            .collect();
        v.sort_unstable();
        v
    }
    fn top(&self, k: usize) -> Vec<u32> {
        let mut v = self.v.clone();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.into_iter().take(k).map(|(t, _)| t).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Run

/// The Monday of the week a petition was received in.
fn week_of(t: &NaiveDateTime) -> NaiveDate {
    crate::calendar::week_monday(t.date())
}

fn counts_desc(items: impl Iterator<Item = String>) -> Vec<(String, usize)> {
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

/// Groups the records from scratch. `previous` (last run's grouping) keeps group ids stable.
pub fn run(
    records: &[Record],
    tokenizer: &Tokenizer,
    opts: &Options,
    previous: Option<&Groups>,
) -> Result<Groups> {
    Ok(run_full(records, tokenizer, opts, previous).0)
}

/// [`run`], plus the state a later run groups its new petitions onto ([`update`]).
pub fn run_full(
    records: &[Record],
    tokenizer: &Tokenizer,
    opts: &Options,
    previous: Option<&Groups>,
) -> (Groups, State) {
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let prep = prepare(&sorted, tokenizer, opts);
    let docs = &prep.docs;
    let k = opts.candidate_terms.max(1);

    let cents = leader(docs, opts);
    let mut step = 0usize;
    let assign = loop {
        // final centroids from pass 1 membership, then reassignment
        let a = reassign(docs, &cents, opts, step, k);
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
    let handling = handling_ids(&sorted);
    let mut keys = merge_groups(docs, &mut assign, &keys, &prep.lex.proper, &handling, opts);
    // pair evidence: repeats and rare shared names the centroid passes left apart
    {
        let pairs = links::candidates(&sorted, &|_| true, opts);
        // a petition's object as the grouping resolved it (a name it could not resolve to one
        // object — a kind, a stray phrase of the letter — is none)
        let object = |i: usize| {
            let key = docs[i].key;
            (key, key.map(|k| prep.lex.anchors[k as usize].as_str()))
        };
        // the name as the title writes it (a name found only in the letter may be a stray
        // phrase of it)
        let titled = |i: usize| {
            let raw = prep.raw[i]
                .as_deref()
                .filter(|r| sorted[i].title.contains(r));
            (docs[i].key, raw)
        };
        let held = links::holding(
            &pairs,
            &|i, j| links::cos(&docs[i].vec, &docs[j].vec),
            &|i, j| {
                links::one_object([
                    links::objects(object(i), object(j)),
                    links::objects(titled(i), titled(j)),
                ])
            },
            opts,
        );
        let mut group: Vec<Option<usize>> = assign.iter().map(|a| a.map(|(c, _)| c)).collect();
        let mut sizes = vec![0usize; keys.len()];
        for g in group.iter().flatten() {
            sizes[*g] += 1;
        }
        let mut fresh = |i: usize| {
            keys.push(docs[i].key);
            keys.len() - 1
        };
        links::join(
            &held,
            &mut group,
            &mut sizes,
            &mut fresh,
            opts.link_merge_max,
            &|_| false,
        );
        for (a, g) in assign.iter_mut().zip(group) {
            *a = g.map(|g| (g, 0.0));
        }
    }
    // recompute centroids of the final membership for similarities and labels
    let mut finals: Vec<Centroid> = keys
        .iter()
        .map(|k| Centroid {
            key: *k,
            ..Default::default()
        })
        .collect();
    for (d, a) in docs.iter().zip(&assign) {
        if let Some((c, _)) = a {
            finals[*c].add(&d.vec);
        }
    }
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

    // ---- stable ids
    let prev_of: HashMap<&str, &str> = previous
        .map(|p| {
            p.members
                .iter()
                .filter(|m| m.group_id != UNCLUSTERED)
                .map(|m| (m.id.as_str(), m.group_id.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let prev_sizes: HashMap<&str, usize> = previous
        .map(|p| {
            p.groups
                .iter()
                .map(|g| (g.id.as_str(), g.members.len()))
                .collect()
        })
        .unwrap_or_default();
    let mut pairs: Vec<(usize, usize, String)> = Vec::new(); // (overlap, cluster pos, prev id)
    for (pos, &c) in clusters.iter().enumerate() {
        let mut ov: BTreeMap<&str, usize> = BTreeMap::new();
        for &i in &members_of[c] {
            if let Some(g) = prev_of.get(sorted[i].id.as_str()) {
                *ov.entry(g).or_insert(0) += 1;
            }
        }
        for (g, n) in ov {
            let ps = prev_sizes.get(g).copied().unwrap_or(n).max(1);
            if n * 10 >= ps * 3 || n * 2 >= members_of[c].len() {
                pairs.push((n, pos, g.to_string()));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut ids: Vec<Option<String>> = vec![None; clusters.len()];
    let mut used: HashSet<String> = HashSet::new();
    for (_, pos, g) in pairs {
        if ids[pos].is_none() && !used.contains(&g) {
            used.insert(g.clone());
            ids[pos] = Some(g);
        }
    }
    let mut last_id = previous
        .map(|p| {
            p.groups
                .iter()
                .filter_map(|g| GroupId::parse(&g.id).map(|n| n.0))
                .chain(std::iter::once(p.last_id))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    // new ids in order of first petition time, then smallest id
    let fresh: Vec<usize> = (0..clusters.len()).filter(|&p| ids[p].is_none()).collect();
    for p in first_seen_order(&sorted, fresh, |p| &members_of[clusters[p]]) {
        last_id += 1;
        ids[p] = Some(GroupId(last_id).to_string());
    }

    // ---- groups
    let slots: Vec<Slot> = clusters
        .iter()
        .zip(ids)
        .map(|(&c, id)| {
            let cent = std::mem::take(&mut finals[c]);
            // every name members use for the object, for display and for later weeks
            let mut names: BTreeMap<String, u32> = BTreeMap::new();
            if let Some(k) = cent.key {
                for &i in &members_of[c] {
                    count_name(
                        &mut names,
                        prep.raw[i].as_deref(),
                        &prep.lex.anchors[k as usize],
                    );
                }
            }
            Slot {
                id: id.unwrap_or_default(),
                members: std::mem::take(&mut members_of[c]),
                cent,
                names,
            }
        })
        .collect();
    let sim = |i: usize, slot: &Slot| slot.cent.cos(&docs[i].vec);
    let (groups, sims) = assemble(
        &sorted,
        &slots,
        &sim,
        &prep.lex.vocab,
        &prep.lex.person,
        &prep.lex.anchors,
        last_id,
        opts,
        false,
    );
    let state = State::after_full(&sorted, tokenizer, opts, prep, slots, &groups, sims);
    (groups, state)
}

/// Counts a member's name for its group's object (`canon`): the names that contain the
/// canonical one (伊景园滨河苑 for 伊景园), of which the group displays the commonest.
fn count_name(names: &mut BTreeMap<String, u32>, raw: Option<&str>, canon: &str) {
    if let Some(r) = raw.filter(|r| r.contains(canon)) {
        *names.entry(r.to_string()).or_insert(0) += 1;
    }
}

/// Cluster positions `ps` in the order new ids are handed out: by first petition time, then
/// smallest member index.
fn first_seen_order<'m>(
    sorted: &[&Record],
    mut ps: Vec<usize>,
    members: impl Fn(usize) -> &'m Vec<usize>,
) -> Vec<usize> {
    ps.sort_by_key(|&p| {
        let m = members(p);
        let first = m.iter().map(|&i| sorted[i].received_at).min();
        (first, m.iter().min().copied())
    });
    ps
}

/// One group ready for its figures: id, members (indices into the id-sorted records), final
/// centroid, and the names its members use for its object with their counts.
pub(crate) struct Slot {
    id: String,
    members: Vec<usize>,
    cent: Centroid,
    names: BTreeMap<String, u32>,
}

/// Every group's figures and every petition's member row, labels made unique, groups sorted
/// by heat. `sim(i, slot)` is member `i`'s similarity to its group.
#[allow(clippy::too_many_arguments)]
fn assemble(
    sorted: &[&Record],
    slots: &[Slot],
    sim: &(dyn Fn(usize, &Slot) -> f32 + Sync),
    vocab: &[String],
    person: &[bool],
    anchors: &[String],
    last_id: u32,
    opts: &Options,
    parallel: bool,
) -> (Groups, Vec<f32>) {
    let last_week = sorted.iter().map(|r| week_of(&r.received_at)).max();
    let mut member_rows: Vec<Member> = sorted
        .iter()
        .map(|r| Member {
            id: r.id.clone(),
            group_id: UNCLUSTERED.to_string(),
            similarity: 0.0,
            is_repeat: false,
        })
        .collect();
    let mut sims = vec![0.0f32; sorted.len()];
    let one = |slot: &Slot| figures(sorted, slot, sim, vocab, person, anchors, last_week, opts);
    // The full run keeps this sequential: on the thread pool it left the index stage that
    // follows 15% slower at 1M rows for no measurable gain here. An incremental run has
    // little else to do, and the figures are most of its grouping time.
    let figured: Vec<Figured> = if parallel {
        slots.par_iter().map(one).collect()
    } else {
        slots.iter().map(one).collect()
    };
    let mut groups: Vec<Group> = Vec::with_capacity(slots.len());
    for (g, rows) in figured {
        for (i, m, s) in rows {
            member_rows[i] = m;
            sims[i] = s;
        }
        groups.push(g);
    }
    make_labels(&mut groups, opts.label_terms);
    groups.sort_by(|a, b| b.heat.total_cmp(&a.heat).then(a.id.cmp(&b.id)));
    (
        Groups {
            groups,
            members: member_rows,
            last_id,
        },
        sims,
    )
}

/// A group with its members' rows (record index, row, similarity).
type Figured = (Group, Vec<(usize, Member, f32)>);

/// One group's figures (size, people, trend, heat, lead unit, key terms…) and its members' rows.
#[allow(clippy::too_many_arguments)]
fn figures(
    sorted: &[&Record],
    slot: &Slot,
    sim: &(dyn Fn(usize, &Slot) -> f32 + Sync),
    vocab: &[String],
    person: &[bool],
    anchors: &[String],
    last_week: Option<NaiveDate>,
    opts: &Options,
) -> Figured {
    let gid = slot.id.clone();
    let cent = &slot.cent;
    let mut ms = slot.members.clone();
    ms.sort_by(|&a, &b| {
        sorted[a]
            .received_at
            .cmp(&sorted[b].received_at)
            .then(a.cmp(&b))
    });
    let mut rows = Vec::with_capacity(ms.len());
    let mut seen: HashSet<&str> = HashSet::new();
    let mut people = 0usize;
    let mut best_rep: Option<(usize, f32)> = None;
    for &i in &ms {
        let r = sorted[i];
        let s = sim(i, slot);
        let repeat = match r.petitioner.as_deref().filter(|p| !p.trim().is_empty()) {
            Some(p) => !seen.insert(p),
            None => false,
        };
        if !repeat {
            people += 1;
        }
        rows.push((
            i,
            Member {
                id: r.id.clone(),
                group_id: gid.clone(),
                similarity: (s as f64 * 1e4).round() / 1e4,
                is_repeat: repeat,
            },
            s,
        ));
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
    let units = counts_desc(recs.iter().filter_map(|r| r.responsible_unit.clone()));
    let regions = counts_desc(recs.iter().map(|r| r.region_path()));
    // display the name most members use (伊景园滨河苑 rather than the canonical 伊景园)
    let anchor = cent.key.map(|k| {
        slot.names
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| anchors[k as usize].clone())
    });
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
    let mut member_ids: Vec<String> = recs.iter().map(|r| r.id.clone()).collect();
    member_ids.sort();
    let mut key_terms: Vec<String> = key_terms(cent, vocab, person, anchor.as_deref(), 12);
    // a term that occurs only inside personal data (李四海 → 四海 after 本人…) is dropped: the
    // members' texts are masked the way the brief masks them, and a term must survive it
    let sample: Vec<(String, String)> = recs
        .iter()
        .take(50)
        .map(|r| {
            let raw = format!("{}\n{}", r.title, r.content);
            let masked = crate::mask::mask_text(&raw);
            (raw, masked)
        })
        .collect();
    key_terms.retain(|t| {
        !sample.iter().any(|(raw, _)| raw.contains(t.as_str()))
            || sample.iter().any(|(_, masked)| masked.contains(t.as_str()))
    });
    key_terms.truncate(8);
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
            .map(|(i, _)| sorted[i].id.clone())
            .unwrap_or_default(),
        members: member_ids,
        weekly,
    };
    (group, rows)
}

fn counts_by_week(recs: &[&Record]) -> Vec<(NaiveDate, usize)> {
    let mut m: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    for r in recs {
        *m.entry(week_of(&r.received_at)).or_insert(0) += 1;
    }
    m.into_iter().collect()
}

/// A group is new in the group tables when its first petition is in the data's last two weeks.
const NEW_WEEKS: i64 = 2;

/// [`Trend::of_buckets`] over the weeks up to the data's last week, `w` weeks a window.
fn trend_of(
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

static PII_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"@|[a-z0-9-]\.(?:com|cn|net|org|gov|edu|io)\b|[0-9]{5,}").unwrap()
});

static REGIONISH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:[a-z][0-9]*[市区县]?|[a-z]+[0-9]*|[0-9a-z]+)$").unwrap());

/// Function-like words that say nothing about the grievance; never used in labels or key terms.
const LABEL_SKIP: &[&str] = &[
    "附近",
    "周边",
    "旁边",
    "存在",
    "有何",
    "加快",
    "何时",
    "放在",
    "最后",
    "自己",
    "要求",
    "问题",
    "情况",
    "相关",
    "进行",
    "没有",
    "关于",
    "反映",
    "投诉",
    "咨询",
    "建议",
    "希望",
    "请求",
    "领导",
    "政府",
    "部门",
    "有关部门",
    "相关部门",
    "解决",
    "处理",
    "一下",
    "现在",
    "目前",
    "已经",
    "还是",
    "为什么",
    "怎么",
    "如何",
    "是否",
    "能否",
    "可以",
    "不能",
    "一直",
    "至今",
    "严重",
    "非常",
    "居民",
    "业主",
    "市民",
    "群众",
    "我们",
    "大家",
    "地方",
    "具体",
    "为何",
    "什么",
    "何年何月",
    "偏偏",
];

fn key_terms(
    c: &Centroid,
    vocab: &[String],
    person: &[bool],
    anchor: Option<&str>,
    k: usize,
) -> Vec<String> {
    let mut v: Vec<(u32, f32)> = c.sum.iter().map(|(a, b)| (*a, *b)).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out: Vec<String> = Vec::new();
    for (t, _) in v {
        let w = &vocab[t as usize];
        // personal data never reaches a label: names, e-mail and web addresses, long numbers
        if person[t as usize] || PII_LIKE.is_match(w) {
            continue;
        }
        if REGIONISH.is_match(w) || w.ends_with('市') || (w.ends_with('区') && char_len(w) <= 3) {
            continue;
        }
        if w.starts_with(['市', '县', '省', '区'])
            || w.ends_with('省')
            || LABEL_SKIP.contains(&w.as_str())
        {
            continue;
        }
        if let Some(a) = anchor {
            let chars: Vec<char> = w.chars().collect();
            if a.contains(w.as_str())
                || w.contains(a)
                || chars
                    .windows(2)
                    .any(|b| a.contains(&b.iter().collect::<String>()))
            {
                continue;
            }
        }
        if out
            .iter()
            .any(|o| o.contains(w.as_str()) || w.contains(o.as_str()))
        {
            continue;
        }
        out.push(w.clone());
        if out.len() >= k {
            break;
        }
    }
    out
}

/// Labels: anchor + top terms; more terms (then the id) until unique.
fn make_labels(groups: &mut [Group], n: usize) {
    let base = |g: &Group, extra: usize| -> String {
        let want = n + extra + usize::from(g.anchor.is_none());
        let terms: Vec<&str> = g.key_terms.iter().take(want).map(String::as_str).collect();
        match &g.anchor {
            Some(a) if terms.is_empty() => a.clone(),
            Some(a) => format!("{a} {}", terms.join("")),
            None if terms.is_empty() => "未识别对象".to_string(),
            None => terms.join(" "),
        }
    };
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|&a, &b| groups[a].id.cmp(&groups[b].id));
    let mut taken: HashSet<String> = HashSet::new();
    for i in order {
        let mut extra = 0;
        let mut l = base(&groups[i], 0);
        while taken.contains(&l) && extra < 4 {
            extra += 1;
            l = base(&groups[i], extra);
        }
        if taken.contains(&l) {
            l = format!("{l}（{}）", groups[i].id);
        }
        taken.insert(l.clone());
        groups[i].label = l;
    }
}

// ---------------------------------------------------------------------------------------------
// Output

/// Writes `groups.csv`, `groups.xlsx`, `members.csv` and `groups.json` into `groups_dir`.
/// The representative petition's text is masked unless `show_personal_data`.
pub fn write(
    groups_dir: &Path,
    groups: &Groups,
    records: &[Record],
    show_personal_data: bool,
) -> Result<()> {
    let by_id: HashMap<&str, &Record> = records.iter().map(|r| (r.id.as_str(), r)).collect();
    let header = [
        "group_id",
        "label",
        "anchor",
        "key_terms",
        "size",
        "distinct_petitioners",
        "total_headcount",
        "first_seen",
        "last_seen",
        "weeks_active",
        "trend",
        "regions",
        "responsible_units",
        "lead_unit",
        "open",
        "closed",
        "heat",
        "batch_score",
        "batch_reasons",
        "representative_id",
        "representative_text",
    ];
    let rows: Vec<Vec<String>> = groups
        .groups
        .iter()
        .map(|g| {
            let rep = by_id
                .get(g.representative.as_str())
                .map(|r| {
                    let t: String = r.text().chars().take(300).collect();
                    crate::mask::text_for_output(
                        t.split_whitespace().collect::<Vec<_>>().join(" ").as_str(),
                        show_personal_data,
                    )
                })
                .unwrap_or_default();
            let list = |v: &[(String, usize)]| {
                v.iter()
                    .map(|(a, n)| format!("{a}({n})"))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            vec![
                g.id.clone(),
                g.label.clone(),
                g.anchor.clone().unwrap_or_default(),
                g.key_terms.join(" "),
                g.size.to_string(),
                g.distinct_petitioners.to_string(),
                g.total_headcount.to_string(),
                g.first_seen.format("%Y-%m-%d %H:%M:%S").to_string(),
                g.last_seen.format("%Y-%m-%d %H:%M:%S").to_string(),
                g.weeks_active.to_string(),
                g.trend.code().to_string(),
                list(&g.regions),
                list(&g.units),
                g.lead_unit().unwrap_or_default().to_string(),
                g.open.to_string(),
                g.closed.to_string(),
                format!("{:.3}", g.heat),
                format!("{:.3}", g.batch_score),
                g.batch_reasons.join("; "),
                g.representative.clone(),
                rep,
            ]
        })
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for r in &rows {
        w.write_record(r)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Usage(format!("csv: {e}")))?;
    crate::fsutil::write_atomic(&groups_dir.join("groups.csv"), &bytes)?;

    let mut wb = rust_xlsxwriter::Workbook::new();
    // A fixed creation time: the workbook must be byte-identical across reruns.
    let created = rust_xlsxwriter::ExcelDateTime::from_ymd(2020, 1, 1)?.and_hms(0, 0, 0)?;
    wb.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created));
    let ws = wb.add_worksheet();
    ws.set_name("同质化类案")?;
    let numeric = [4usize, 5, 6, 9, 14, 15, 16, 17];
    for (c, h) in header.iter().enumerate() {
        ws.write_string(0, c as u16, *h)?;
    }
    for (ri, r) in rows.iter().enumerate() {
        for (c, v) in r.iter().enumerate() {
            let row = ri as u32 + 1;
            match (numeric.contains(&c), v.parse::<f64>()) {
                (true, Ok(x)) => ws.write_number(row, c as u16, x)?,
                _ => ws.write_string(row, c as u16, v.as_str())?,
            };
        }
    }
    let xbytes = wb.save_to_buffer()?;
    crate::fsutil::write_atomic(&groups_dir.join("groups.xlsx"), &xbytes)?;

    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["id", "group_id", "similarity", "is_repeat"])?;
    for m in &groups.members {
        w.write_record([
            m.id.as_str(),
            m.group_id.as_str(),
            &format!("{:.4}", m.similarity),
            if m.is_repeat { "true" } else { "false" },
        ])?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Usage(format!("csv: {e}")))?;
    crate::fsutil::write_atomic(&groups_dir.join("members.csv"), &bytes)?;

    // Compact and streamed: at a million petitions the member list alone is 100+ MB, which
    // indentation would double (the file is for programs; groups.csv is for people).
    crate::fsutil::write_atomic_with(&groups_dir.join("groups.json"), |w| {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, w);
        serde_json::to_writer(&mut w, groups).map_err(std::io::Error::other)?;
        std::io::Write::flush(&mut w)
    })?;
    Ok(())
}

/// Reads `groups.json` back.
pub fn read(groups_dir: &Path) -> Result<Groups> {
    let p = groups_dir.join("groups.json");
    if !p.exists() {
        return Err(Error::Usage(format!(
            "no groups at `{}`: run `minqing cluster` first",
            p.display()
        )));
    }
    let bytes = std::fs::read(&p).map_err(Error::io("read", &p))?;
    Ok(serde_json::from_slice(&bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_leader_is_independent_of_cores() {
        // enough petitions without an anchor for the block-parallel path
        let mut x: u64 = 7;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u32
        };
        let docs: Vec<Doc> = (0..LEADER_BLOCK_FROM + 500)
            .map(|_| {
                let topic = next() % 40;
                let mut vec: Vec<(u32, f32)> = (0..4)
                    .map(|j| (topic * 10 + j, 1.0))
                    .chain((0..3).map(|_| (1000 + next() % 5000, 0.5)))
                    .collect();
                vec.sort_unstable_by_key(|v| v.0);
                vec.dedup_by_key(|v| v.0);
                let n = vec.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
                vec.iter_mut().for_each(|v| v.1 /= n);
                let top = vec.iter().take(6).map(|v| v.0).collect();
                Doc {
                    key: None,
                    vec,
                    top,
                }
            })
            .collect();
        let run = |threads: usize| -> Vec<(usize, Vec<u32>)> {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| leader(&docs, &Options::default()))
                .iter()
                .map(|c| (c.size, c.top_terms(4)))
                .collect()
        };
        let one = run(1);
        assert_eq!(one, run(3));
        // the 40 topics come out as groups, not as thousands of singletons
        assert!(
            one.iter().filter(|c| c.0 >= 100).count() >= 30,
            "{}",
            one.len()
        );
    }

    #[test]
    fn anchors_survive_jieba_cuts() {
        let tok = Tokenizer::new(&Default::default()).unwrap();
        let none = FastSet::default();
        let found = |text: &str| -> Vec<String> {
            anchors_in(&tok.tag(text), &[], &none, &tok)
                .into_iter()
                .map(|(a, _)| a)
                .collect()
        };
        // 金 / 域名 / 都: the suffix 名都 is cut across two words
        assert_eq!(found("金域名都B区电梯坏了没人修"), vec!["金域名都"]);
        // 秀峰 / 村 (tagged zg)
        assert!(found("我们是秀峰村的村民").contains(&"秀峰村".to_string()));
        // a bureau is no village
        assert!(found("转到了东岸区农业农村局").is_empty());
        // a named policy programme is an object; the bare kind is not
        assert!(found("我申请的人才购房补贴一直没有发放")
            .iter()
            .any(|a| a.ends_with("购房补贴")));
        assert!(found("补贴什么时候发").is_empty());
        assert!(found("A市公交线路太少").is_empty());
        assert!(found("保利香槟国际二期交房")
            .iter()
            .any(|x| x.contains("香槟国际")));
        assert_eq!(found("中山路晚上施工太吵"), vec!["中山路"]);
        assert_eq!(split_suffix("域名", "都是"), Some("名都"));
        assert_eq!(split_suffix("域名", "是"), None);
    }

    #[test]
    fn synonyms_name_one_thing() {
        assert_eq!(SYNONYMS.get("房本"), Some(&"房产证"));
        assert_eq!(SYNONYMS.get("物管费"), Some(&"物业费"));
        assert_eq!(SYNONYMS.get("房产证"), None); // the head word stays itself
    }

    #[test]
    fn cores_and_kinds() {
        assert_eq!(core_of("恒通英语培训中心", &[]).as_deref(), Some("恒通"));
        assert_eq!(core_of("金湾村", &[]).as_deref(), Some("金湾"));
        assert_eq!(core_of("博远生猪养殖场", &[]).as_deref(), Some("博远"));
        assert!(is_generic_name("英语培训中心", &[]));
        assert!(is_generic_name("建筑工程有限公司", &[]));
        assert!(!is_generic_name("5路", &[]));
        assert!(kind_only("职业技术学院"));
        assert!(!kind_only("鹅塘职业技术学院"));
        let none = FastSet::default();
        assert_eq!(
            clean_anchor("A市职业技术学院", &none).as_deref(),
            Some("A市职业技术学院")
        );
        assert_eq!(clean_anchor("5路", &none).as_deref(), Some("5路"));
    }

    #[test]
    fn linking_is_one_hop_and_needs_company() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        // 宏达 is named with 北辰家园 in 3 of its 4 petitions; 北辰家园 is named more often
        let chosen: Vec<Option<String>> = [
            "北辰家园",
            "北辰家园",
            "北辰家园",
            "北辰家园",
            "北辰家园",
            "宏达公司",
            "宏达公司",
            "宏达公司",
            "宏达公司",
            "海棠小区",
        ]
        .iter()
        .map(|x| Some(x.to_string()))
        .collect();
        let mentions = vec![
            s(&["北辰家园"]),
            s(&["北辰家园"]),
            s(&["北辰家园"]),
            s(&["北辰家园"]),
            s(&["北辰家园"]),
            s(&["宏达公司", "北辰家园"]),
            s(&["宏达公司", "北辰家园"]),
            s(&["宏达公司", "北辰家园"]),
            s(&["宏达公司"]),
            s(&["海棠小区", "宏达公司"]),
        ];
        let names: HashMap<String, String> = ["北辰家园", "宏达公司", "海棠小区"]
            .iter()
            .map(|x| (x.to_string(), x.to_string()))
            .collect();
        let linked = link_anchors(&chosen, &mentions, &names).0;
        assert_eq!(linked[6].as_deref(), Some("北辰家园"));
        // 海棠小区 is named with 宏达 once only: it stays itself
        assert_eq!(linked[9].as_deref(), Some("海棠小区"));
    }

    #[test]
    fn anchor_normalisation() {
        assert_eq!(normalise_anchor("丽景花园小区二期"), "丽景花园");
        let m = name_map(
            &[Some("丽景花园".into()), Some("丽景花园东区".into()), None],
            &[],
            &[],
        );
        assert_eq!(m["丽景花园东区"], "丽景花园");
        // generic references fold onto the dominant estate of that name; organisations of one
        // trade fold together, other trades of the same name do not
        let chosen: Vec<Option<String>> = [
            "花语苑",
            "花语苑",
            "花语苑",
            "花语苑",
            "花语苑",
            "花语小区",
            "恒通教育",
            "恒通教育",
            "恒通培训",
            "嘉禾物业",
            "嘉禾物业",
            "嘉禾物流有限公司",
        ]
        .iter()
        .map(|x| Some(x.to_string()))
        .collect();
        let m = name_map(&chosen, &[], &[]);
        assert_eq!(m["花语小区"], "花语苑");
        assert_eq!(m["恒通培训"], "恒通教育");
        assert_eq!(m["嘉禾物流有限公司"], "嘉禾物流有限公司");
        let none = FastSet::default();
        // a kind of school keeps its city: A市经济学院 is one college, 经济学院 none
        assert_eq!(
            clean_anchor("A市经济学院", &none).as_deref(),
            Some("A市经济学院")
        );
        assert_eq!(
            clean_anchor("A市鹅塘学院", &none).as_deref(),
            Some("鹅塘学院")
        );
        assert_eq!(
            clean_anchor("A3区丽发新城", &none).as_deref(),
            Some("丽发新城")
        );
        assert_eq!(clean_anchor("小区", &none), None);
        let regions: FastSet<String> = ["江城市", "江城"].map(String::from).into_iter().collect();
        assert_eq!(
            clean_anchor("江城鹅塘职业技术学院", &regions).as_deref(),
            Some("鹅塘职业技术学院")
        );
        assert_eq!(clean_anchor("投资人江城", &regions), None);
        let regions: FastSet<String> = ["凤城区", "凤城"].map(String::from).into_iter().collect();
        assert_eq!(
            clean_anchor("凤城区人民医院", &regions).as_deref(),
            Some("凤城区人民医院")
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Group members partition the store: every petition is listed once, in a group or as
        /// unclustered, every group's size is its member count, and the input order does not
        /// change the grouping.
        #[test]
        fn members_partition_the_store(
            picks in proptest::collection::vec((0usize..6, 0usize..5, 0usize..4), 1..40),
            rotate in 0usize..40,
        ) {
            use std::sync::LazyLock;
            static TOK: LazyLock<Tokenizer> =
                LazyLock::new(|| Tokenizer::new(&Default::default()).unwrap());
            let objects = ["丽景花园", "海棠小区", "宏达建筑公司", "中山路", "人才购房补贴", ""];
            let problems = ["房产证办不下来", "物业费乱收", "拖欠农民工工资", "晚上施工噪音扰民", "停水三天"];
            let records: Vec<Record> = picks
                .iter()
                .enumerate()
                .map(|(i, &(o, p, who))| {
                    let mut r = crate::store::tests::rec(&format!("R{i:03}"));
                    r.title = format!("{}{}", objects[o], problems[p]);
                    r.content = format!("反映{}的问题：{}，请尽快处理", objects[o], problems[p]);
                    r.petitioner = Some(format!("P{who}"));
                    r
                })
                .collect();
            let g = run(&records, &TOK, &Options::default(), None).unwrap();
            let mut ids: Vec<&str> = g.members.iter().map(|m| m.id.as_str()).collect();
            ids.dedup();
            proptest::prop_assert_eq!(ids.len(), records.len());
            proptest::prop_assert_eq!(g.members.len(), records.len());
            for grp in &g.groups {
                let n = g.members.iter().filter(|m| m.group_id == grp.id).count();
                proptest::prop_assert_eq!(n, grp.size);
            }
            let grouped: usize = g.groups.iter().map(|x| x.size).sum();
            let unclustered = g.members.iter().filter(|m| m.group_id == UNCLUSTERED).count();
            proptest::prop_assert_eq!(grouped + unclustered, records.len());
            let mut shuffled = records.clone();
            let k = rotate % shuffled.len();
            shuffled.rotate_left(k);
            let again = run(&shuffled, &TOK, &Options::default(), None).unwrap();
            proptest::prop_assert_eq!(
                serde_json::to_string(&again).unwrap(),
                serde_json::to_string(&g).unwrap()
            );
        }
    }
}
