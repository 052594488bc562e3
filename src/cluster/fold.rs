//! Step 3 of the grouping: variants of one object's name folded onto one anchor — containment
//! (丽景花园小区二期 → 丽景花园), a common core within one trade, a generic name onto the
//! dominant estate of that core — and linking: an object usually named together with a more
//! frequent one (a contractor with the estate it builds) counts as that one, one hop.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use rayon::prelude::*;

use crate::fxhash::{count_par, FastMap, FastSet};

use super::objects::{
    char_len, contained_known, ending_in_last_char, kind_only, suffix_class, ByLastChar, BUS_LINE,
    REGION_PREFIX,
};
use super::vectors::Interner;

/// Every object name the petitions choose or mention, once, and per petition its chosen name
/// and the names it mentions as ids into that table.
///
/// Why ids: at ten million petitions the mentions as strings, and the lists of `&str` made
/// over them to fold and link the names, were the run's peak (8.4 GiB, the end of the
/// tagging: docs/scale.md, the fifteenth measurement).
#[derive(Default)]
pub(super) struct Named {
    pub(super) names: Interner,
    pub(super) chosen: Vec<Option<u32>>,
    mentions: Vec<u32>,
    /// Where each petition's mentions start in `mentions`, and where the last ends.
    at: Vec<usize>,
}

impl Named {
    /// Adds the next petition's chosen name and mentions.
    pub(super) fn push(&mut self, chosen: Option<&str>, mentions: &[String]) {
        if self.at.is_empty() {
            self.at.push(0);
        }
        let chosen = chosen.map(|c| self.names.id(c));
        self.chosen.push(chosen);
        for m in mentions {
            let id = self.names.id(m);
            self.mentions.push(id);
        }
        self.at.push(self.mentions.len());
    }

    /// Petition `i`'s mentions.
    pub(super) fn mentions(&self, i: usize) -> &[u32] {
        &self.mentions[self.at[i]..self.at[i + 1]]
    }

    /// How many petitions chose each name.
    pub(super) fn uses(&self) -> Vec<u32> {
        let mut uses = vec![0u32; self.names.len()];
        for &c in self.chosen.iter().flatten() {
            uses[c as usize] += 1;
        }
        uses
    }

    /// The text of name `id`.
    pub(super) fn text(&self, id: u32) -> &str {
        &self.names.text[id as usize]
    }
}

/// What the petitions' names resolve to ([`resolve`]).
pub(super) struct Resolved {
    /// Per petition: the key of its object (an index into `anchors`).
    pub(super) keys: Vec<Option<u32>>,
    /// The objects' names: those chosen by petitions, in name order, then those only ever
    /// mentioned (a later week's petition may choose them), in name order.
    pub(super) anchors: Vec<String>,
    /// Every name seen, in name order, with the key it resolves to (`None`: a name that names
    /// no one object).
    pub(super) resolve: Vec<(String, Option<u32>)>,
    /// The names petitions chose, in name order, with how many chose each.
    pub(super) chosen: Vec<(String, u32)>,
    /// Per petition: its chosen name as an index into `chosen`.
    pub(super) written: Vec<Option<u32>>,
}

/// Resolves each petition's chosen name to an object: variants folded ([`name_map`]), names
/// that name no one object dropped, objects linked to the one they are named with
/// ([`link_anchors`]). `word_df` is the petitions holding a word.
pub(super) fn resolve(
    named: Named,
    word_df: impl Fn(&str) -> u32 + Sync,
    extra: &[String],
) -> Resolved {
    let uses = named.uses();
    let folded = name_map(&uses, &named.names, extra);
    let n_names = named.names.len();
    // An organisation or site whose name is a kind plus an everyday word (人民医院, 公交公司,
    // 火车站, 政务中心 — often what is left after a region prefix was stripped) names no one
    // object. Told apart from a trade name (富源教育, 利民置业) by use: the everyday word occurs
    // far more often on its own than in the name. Estates, roads and villages are exempt: they
    // are named with everyday words (海棠, 建设, 桃花) all the time.
    let name_df = count_par(named.chosen.len(), |i| {
        names_of(named.mentions(i), |x| Some(folded[x as usize]), None)
    });
    let generic: FastSet<u32> = name_df
        .into_par_iter()
        .filter(|&(a, n)| {
            let a = named.text(a);
            // a kind with no place or name of its own (社保所, 第一中学) is none of the many
            kind_only(a)
                || common_kind(a, extra).is_some_and(|core| word_df(core) >= (3 * n).max(10))
        })
        .map(|(a, _)| a)
        .collect();
    let to: Vec<Option<u32>> = folded
        .iter()
        .map(|&f| (!generic.contains(&f)).then_some(f))
        .collect();
    drop((folded, generic));
    let canon: Vec<Option<u32>> = named
        .chosen
        .par_iter()
        .map(|c| c.and_then(|c| to[c as usize]))
        .collect();
    let (canon, parent) = link_anchors(&canon, &named, &to);
    let text = |id: u32| named.text(id);
    // every name in name order, sorted once: the lists below keep that order
    let mut order: Vec<u32> = (0..n_names as u32).collect();
    order.par_sort_unstable_by(|&a, &b| text(a).cmp(text(b)));
    // the chosen objects in name order, then those only mentioned
    let mut is_anchor = vec![false; n_names];
    for &c in canon.iter().flatten() {
        is_anchor[c as usize] = true;
    }
    let mut is_mentioned = vec![false; n_names];
    for &c in to.iter().flatten() {
        is_mentioned[*parent.get(&c).unwrap_or(&c) as usize] = true;
    }
    let mut anchor_ids: Vec<u32> = order
        .iter()
        .copied()
        .filter(|&c| is_anchor[c as usize])
        .collect();
    anchor_ids.extend(
        order
            .iter()
            .copied()
            .filter(|&c| is_mentioned[c as usize] && !is_anchor[c as usize]),
    );
    let mut key_of: Vec<Option<u32>> = vec![None; n_names];
    for (k, &a) in anchor_ids.iter().enumerate() {
        key_of[a as usize] = Some(k as u32);
    }
    let keys: Vec<Option<u32>> = canon
        .par_iter()
        .map(|c| c.and_then(|c| key_of[c as usize]))
        .collect();
    drop(canon);
    let resolve: Vec<(String, Option<u32>)> = order
        .par_iter()
        .map(|&n| {
            let key = to[n as usize].and_then(|c| key_of[*parent.get(&c).unwrap_or(&c) as usize]);
            (text(n).to_string(), key)
        })
        .collect();
    // each chosen name with its count, in name order, and each petition's as an index into them
    let mut at = vec![0u32; n_names];
    let mut chosen: Vec<(String, u32)> = Vec::new();
    for &n in order.iter().filter(|&&n| uses[n as usize] > 0) {
        at[n as usize] = chosen.len() as u32;
        chosen.push((text(n).to_string(), uses[n as usize]));
    }
    let written = named
        .chosen
        .par_iter()
        .map(|c| c.map(|c| at[c as usize]))
        .collect();
    Resolved {
        keys,
        anchors: anchor_ids.iter().map(|&a| text(a).to_string()).collect(),
        resolve,
        chosen,
        written,
    }
}

/// The name every mention of an object is counted under, per name of `names` (all of them
/// chosen or mentioned): variants folded by containment ([`contained_known`]) and by core
/// ([`core_folds`]), over the names the petitions chose: `uses`, how many chose each
/// ([`Named::uses`]), decides.
pub(super) fn name_map(uses: &[u32], names: &Interner, extra: &[String]) -> Vec<u32> {
    let text = &names.text;
    let freq: FastMap<&str, u32> = uses
        .iter()
        .zip(text)
        .filter(|(n, _)| **n > 0)
        .map(|(n, t)| (t.as_str(), *n))
        .collect();
    // both folds give a name of the table: a chosen name or the name itself
    let id = |name: &str| names.index[name];
    // Each name is looked up on its own (every substring of it against the chosen names), so
    // the lookups run on all cores.
    let m1: Vec<u32> = text
        .par_iter()
        .map(|n| id(&contained_known(n, &freq)))
        .collect();
    let mut step1: BTreeMap<&str, usize> = BTreeMap::new();
    for (c, &n) in uses.iter().enumerate().filter(|(_, n)| **n > 0) {
        *step1.entry(text[m1[c] as usize].as_str()).or_insert(0) += n as usize;
    }
    let fold = core_folds(&step1, extra);
    m1.par_iter()
        .map(|&c| fold.get(text[c as usize].as_str()).map_or(c, |f| id(f)))
        .collect()
}

/// Words that say what kind of object a name is, not which one: stripped from the end of a name
/// to find its core (恒通英语培训中心 → 恒通, 博远生猪养殖场 → 博远), in addition to the object
/// suffixes themselves.
pub(super) const TYPE_WORDS: &[&str] = &[
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
pub(super) fn core_of(name: &str, extra: &[String]) -> Option<String> {
    let a = strip_type_words(name, extra);
    (char_len(a) >= 2 && a != name).then(|| a.to_string())
}

/// A name that is only kind words (英语培训中心, 生猪养殖场, 建筑工程有限公司): no object.
/// Numbered lines (5路, K3路, 2号线) are objects.
pub(super) fn is_generic_name(name: &str, extra: &[String]) -> bool {
    let core = strip_type_words(name, extra);
    (char_len(core) < 2 && !core.chars().any(|c| c.is_ascii_digit())) || TYPE_WORDS.contains(&core)
}

pub(super) fn strip_type_words<'a>(name: &'a str, extra: &[String]) -> &'a str {
    // one object suffix (金湾村 → 金湾, not on to 金 through 湾), then any kind words
    let mut a = name;
    if let Some(t) = ending_in_last_char(a)
        .iter()
        .map(|(s, _, _)| *s)
        .chain(extra.iter().map(String::as_str))
        .filter(|t| a.ends_with(t) && char_len(a) > char_len(t))
        .max_by_key(|t| t.len())
    {
        a = &a[..a.len() - t.len()];
    }
    while let Some(t) = type_words_ending_like(a)
        .iter()
        .copied()
        .filter(|t| a.ends_with(t) && char_len(a) > char_len(t))
        .max_by_key(|t| t.len())
    {
        a = &a[..a.len() - t.len()];
    }
    a
}

/// The [`TYPE_WORDS`] that end in `w`'s last character: names are stripped of them one by one,
/// and most names end in none.
fn type_words_ending_like(w: &str) -> &'static [&'static str] {
    static BY_LAST: LazyLock<ByLastChar<&'static str>> =
        LazyLock::new(|| ByLastChar::new(TYPE_WORDS.iter().map(|&t| (t, t))));
    BY_LAST.ending_like(w)
}

/// Industries of the kind words, so 恒通教育 / 恒通培训 / 恒通英语培训中心 fold while 嘉禾物业 and
/// 嘉禾物流有限公司 (two companies sharing a trade name) do not.
pub(super) const INDUSTRIES: &[&[&str]] = &[
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

pub(super) fn industries(name: &str, core: &str) -> Vec<usize> {
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
/// `freq` is the petitions choosing each name.
pub(super) fn core_folds(
    freq: &BTreeMap<&str, usize>,
    extra: &[String],
) -> FastMap<String, String> {
    let mut by_core: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for name in freq.keys() {
        if let Some(c) = core_of(name, extra) {
            by_core.entry(c).or_default().push(name);
        }
    }
    let generic_estate = |n: &str| n.ends_with("小区") || n.ends_with("住宅");
    let is_estate = |n: &str| suffix_class(n, extra) == Some(0) && !generic_estate(n);
    let mut to: FastMap<String, String> = FastMap::default();
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
pub(super) fn common_kind<'a>(name: &'a str, extra: &[String]) -> Option<&'a str> {
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

/// The names a petition's mentions (and `chosen`, its own anchor) are counted under (`to`,
/// `None`: under none), each once, sorted.
pub(super) fn names_of(
    mentions: &[u32],
    to: impl Fn(u32) -> Option<u32>,
    chosen: Option<u32>,
) -> Vec<u32> {
    let mut v: Vec<u32> = mentions
        .iter()
        .filter_map(|&x| to(x))
        .chain(chosen)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Links an object to the one it is usually named with: a contractor to the estate it builds
/// (宏达建筑工程有限公司 → 北辰家园), a railway company to the estate whose parking it sells
/// (广铁集团 → 伊景园滨河苑). Petitions about a case name one or the other, or both; the case is
/// one. B links to A when ≥ 30% (and ≥ 2) of the petitions naming B also name A, A is named by
/// more petitions, and A links to nothing itself (one hop: no chains of estates through a shared
/// contractor). Within the linked object the grievance still decides the group, so different
/// problems at the estate stay apart.
///
/// `chosen` is each petition's name as resolved so far, `to` what each mention counts under;
/// returns the petitions' names linked, and the links.
pub(super) fn link_anchors(
    chosen: &[Option<u32>],
    named: &Named,
    to: &[Option<u32>],
) -> (Vec<Option<u32>>, FastMap<u32, u32>) {
    // each petition's set made where it is counted, twice, never held for all at once
    let set = |i: usize| names_of(named.mentions(i), |x| to[x as usize], chosen[i]);
    // counted in hash maps, on all cores (a second of one core at a million petitions): every
    // use below orders explicitly (or looks up)
    let (n, pair) = rayon::join(
        || count_par(chosen.len(), set),
        || {
            count_par(chosen.len(), |i| {
                let s = set(i);
                let mut pairs = Vec::with_capacity(s.len() * s.len().saturating_sub(1));
                for (k, &a) in s.iter().enumerate() {
                    for &b in &s[k + 1..] {
                        pairs.extend([(a, b), (b, a)]);
                    }
                }
                pairs
            })
        },
    );
    let text = |id: u32| named.text(id);
    let mut partners: FastMap<u32, Vec<(u32, u32)>> = FastMap::default();
    for ((a, b), c) in pair {
        partners.entry(a).or_default().push((b, c));
    }
    let mut order: Vec<(u32, u32)> = n.iter().map(|(a, c)| (*a, *c)).collect();
    order.sort_by(|x, y| y.1.cmp(&x.1).then(text(x.0).cmp(text(y.0))));
    let mut parent: FastMap<u32, u32> = FastMap::default();
    // the names some other name links to (the values of `parent`), for a constant-time check
    let mut roots: FastSet<u32> = FastSet::default();
    for (b, nb) in order {
        let best = partners.get(&b).and_then(|ps| {
            ps.iter()
                .filter(|(a, c)| {
                    *c >= 2 && c * 10 >= nb * 3 && n[a] > nb && !parent.contains_key(a)
                })
                .max_by(|x, y| {
                    x.1.cmp(&y.1)
                        .then(n[&x.0].cmp(&n[&y.0]))
                        .then(text(y.0).cmp(text(x.0)))
                })
                .map(|(a, _)| *a)
        });
        if let Some(a) = best {
            // a name that others already link to stays a root
            if !roots.contains(&b) {
                parent.insert(b, a);
                roots.insert(a);
            }
        }
    }
    let linked = chosen
        .par_iter()
        .map(|c| c.map(|c| *parent.get(&c).unwrap_or(&c)))
        .collect();
    (linked, parent)
}
