//! Step 10 of the grouping: key terms and a label a leader can read (object + grievance),
//! unique across groups; personal data never reaches them.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use super::merge::SparseCentroid;
use super::objects::char_len;
use super::Group;

pub(super) static PII_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"@|[a-z0-9-]\.(?:com|cn|net|org|gov|edu|io)\b|[0-9]{5,}").unwrap()
});

pub(super) static REGIONISH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:[a-z][0-9]*[市区县]?|[a-z]+[0-9]*|[0-9a-z]+)$").unwrap());

/// Function-like words that say nothing about the grievance; never used in labels or key terms.
pub(super) const LABEL_SKIP: &[&str] = &[
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

pub(super) fn key_terms(
    c: &SparseCentroid,
    vocab: &[String],
    person: &[bool],
    anchor: Option<&str>,
    k: usize,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (t, _) in c.by_weight() {
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

/// Labels: anchor + top terms; more terms (then the id) until unique. `joins[g][k]`: group
/// `g`'s members write key term `k + 1` right after term `k`, so the two read as one phrase
/// (搅拌站噪音); other terms stay apart, so a label never shows a word nobody wrote.
pub(super) fn make_labels(groups: &mut [Group], joins: &[Vec<bool>], n: usize) {
    let base = |g: &Group, joins: &[bool], extra: usize| -> String {
        let want = n + extra + usize::from(g.anchor.is_none());
        let mut grievance = String::new();
        for (k, t) in g.key_terms.iter().take(want).enumerate() {
            let glued = k > 0 && joins.get(k - 1).copied().unwrap_or(false);
            if k > 0 && !glued {
                grievance.push(' ');
            }
            grievance.push_str(t);
        }
        match &g.anchor {
            Some(a) if grievance.is_empty() => a.clone(),
            Some(a) => format!("{a} {grievance}"),
            None if grievance.is_empty() => "未识别对象".to_string(),
            None => grievance,
        }
    };
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|&a, &b| groups[a].id.cmp(&groups[b].id));
    let mut taken: HashSet<String> = HashSet::new();
    for i in order {
        let j = joins.get(i).map_or(&[][..], Vec::as_slice);
        let mut extra = 0;
        let mut l = base(&groups[i], j, 0);
        while taken.contains(&l) && extra < 4 {
            extra += 1;
            l = base(&groups[i], j, extra);
        }
        if taken.contains(&l) {
            l = format!("{l}（{}）", groups[i].id);
        }
        taken.insert(l.clone());
        groups[i].label = l;
    }
}
