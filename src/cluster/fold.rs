//! Step 3 of the grouping: variants of one object's name folded onto one anchor — containment
//! (丽景花园小区二期 → 丽景花园), a common core within one trade, a generic name onto the
//! dominant estate of that core — and linking: an object usually named together with a more
//! frequent one (a contractor with the estate it builds) counts as that one, one hop.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use rayon::prelude::*;

use crate::fxhash::{count_par, FastMap, FastSet};

use super::objects::{
    char_len, contained_known, ending_in_last_char, suffix_class, ByLastChar, BUS_LINE,
    REGION_PREFIX,
};

/// The name every mention of an object is counted under: variants folded by containment
/// ([`contained_known`]) and by core ([`core_folds`]), over the petitions' chosen anchors
/// (their frequencies decide) and every other name mentioned.
pub(super) fn name_map(
    chosen: &[Option<String>],
    mentions: &[Vec<String>],
    extra: &[String],
) -> FastMap<String, String> {
    let freq: FastMap<&str, u32> = count_par(chosen, |a| a.as_deref());
    let mut names: Vec<&str> = chosen
        .iter()
        .flatten()
        .map(String::as_str)
        .chain(mentions.iter().flatten().map(String::as_str))
        .collect();
    // Each name is looked up on its own (every substring of it against the chosen names), so
    // the lookups run on all cores; only the maps are filled on one.
    names.par_sort_unstable();
    names.dedup();
    let m1: FastMap<&str, String> = names
        .par_iter()
        .map(|n| (*n, contained_known(n, &freq)))
        .collect();
    let step1: Vec<Option<String>> = chosen
        .par_iter()
        .map(|a| a.as_deref().map(|a| m1[a].clone()))
        .collect();
    let fold = core_folds(&step1, extra);
    names
        .par_iter()
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
pub(super) fn core_folds(anchors: &[Option<String>], extra: &[String]) -> FastMap<String, String> {
    // counted on all cores, then ordered (a million insertions into the ordered map were most
    // of this step)
    let freq: BTreeMap<&str, usize> = count_par(anchors, |a| a.as_deref())
        .into_iter()
        .map(|(a, n)| (a, n as usize))
        .collect();
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

/// The names a petition's mentions (and `chosen`, its own anchor) are counted under, each once,
/// sorted.
pub(super) fn names_of<'a>(
    mentions: &[String],
    names: &'a FastMap<String, String>,
    chosen: Option<&'a str>,
) -> Vec<&'a str> {
    let mut v: Vec<&str> = mentions
        .iter()
        .filter_map(|x| names.get(x).map(String::as_str))
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
pub(super) fn link_anchors(
    chosen: &[Option<String>],
    mentions: &[Vec<String>],
    names: &FastMap<String, String>,
) -> (Vec<Option<String>>, FastMap<String, String>) {
    let sets: Vec<Vec<&str>> = chosen
        .par_iter()
        .zip(mentions)
        .map(|(c, m)| names_of(m, names, c.as_deref()))
        .collect();
    // counted in hash maps, on all cores (a second of one core at a million petitions): every
    // use below orders explicitly (or looks up)
    let (n, pair) = rayon::join(
        || count_par(&sets, |set| set.iter().copied()),
        || {
            count_par(&sets, |set| {
                set.iter().enumerate().flat_map(move |(i, &a)| {
                    set[i + 1..].iter().flat_map(move |&b| [(a, b), (b, a)])
                })
            })
        },
    );
    // (the counts' keys borrow `names`: the per-petition lists go, at ten million petitions
    // ~0.7 GB, before the linked names are made)
    drop(sets);
    let mut partners: FastMap<&str, Vec<(&str, u32)>> = FastMap::default();
    for ((a, b), c) in pair {
        partners.entry(a).or_default().push((b, c));
    }
    let mut order: Vec<(&str, u32)> = n.iter().map(|(a, c)| (*a, *c)).collect();
    order.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
    let mut parent: FastMap<&str, &str> = FastMap::default();
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
        .par_iter()
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
