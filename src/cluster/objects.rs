//! Step 2 of the grouping: the concrete object a petition is about (its *anchor*), from the
//! words ending in an object suffix (小区/花园/苑/公司/店/学校/路/线/村/厂/站/所…) extended backwards
//! over the name, region prefixes stripped, kinds (英语培训中心) and everyday names (人民医院)
//! refused; and the corpus's known names found again where jieba cut them apart.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::fxhash::{FastMap, FastSet};
use crate::schema::Record;
use crate::tokenize::{is_han, Tokenizer};

use super::fold::{is_generic_name, strip_type_words, TYPE_WORDS};

/// Built-in object suffixes with their priority class (lower wins when a title names several).
pub(super) const SUFFIXES: &[(&str, u8)] = &[
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
    ("名都", 0),
    ("山庄", 0),
    ("雅居", 0),
    ("国际", 0),
    ("公司", 1),
    // shops and eateries: a trade name before them (永伟手机店, 荣隆大排档, 汇卓超市)
    ("店", 1),
    ("餐馆", 1),
    ("超市", 1),
    ("大排档", 1),
    ("棋牌室", 1),
    ("KTV", 1),
    ("网吧", 1),
    ("酒吧", 1),
    // offices of a town or street (三眼社保所, 白沙派出所): with the place, one office
    ("所", 1),
    ("集团", 1),
    ("学校", 1),
    ("学院", 1),
    ("大学", 1),
    ("小学", 1),
    ("中学", 1),
    ("幼儿园", 1),
    ("医院", 1),
    // health and care homes, named by their place (凤城区妇幼保健院, 南湖镇卫生院)
    ("卫生院", 1),
    ("保健院", 1),
    ("养老院", 1),
    ("敬老院", 1),
    ("福利院", 1),
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
pub(super) const GENERIC: &[&str] = &[
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
    "卫生院",
    "保健院",
    "养老院",
    "敬老院",
    "福利院",
    "银行",
    "酒店",
    "店",
    "超市",
    "餐馆",
    "大排档",
    "棋牌室",
    "KTV",
    "网吧",
    "酒吧",
    "所",
    "场所",
    "厕所",
    "住所",
    "处所",
    "会所",
    "居所",
    "寓所",
    "门店",
    "小店",
    "该店",
    "本店",
    "此店",
    "网店",
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
pub(super) const WEAK_SUFFIXES: &[&str] = &["教育", "培训", "中心", "物业", "置业", "投资"];

/// One-character suffixes that jieba sometimes glues to the next word when it does not know the
/// name (沙坪 / 村征 / 地): such an unknown token is split after its first character.
pub(super) const GLUED_SUFFIX_CHARS: &[char] = &[
    '村', '路', '站', '厂', '城', '苑', '园', '街', '线', '矿', '场', '府', '湾', '庭', '居',
];

pub(super) fn proper_tag(tag: &str) -> bool {
    matches!(
        tag,
        "ns" | "nt" | "nz" | "nr" | "nrt" | "nrfg" | "x" | "eng" | "j" | "m"
    )
}

/// Names of the data's own regions (from the region column: cities, districts, counties,
/// streets, towns), with and without their level word (江城市 and 江城). They are where a petition
/// comes from, never the object it is about.
pub(crate) fn region_names(records: &[&Record]) -> FastSet<String> {
    region_names_of(
        records
            .iter()
            .flat_map(|r| r.region.iter().flatten().map(|l| &**l)),
    )
}

/// [`region_names`] of the region column values themselves (a Spark job sends a tagging
/// worker the distinct values, not the records).
pub(crate) fn region_names_of<'a>(values: impl Iterator<Item = &'a str>) -> FastSet<String> {
    let mut out = FastSet::default();
    for name in values {
        for level in ["街道", "市", "区", "县", "州", "盟", "旗", "镇", "乡"] {
            if let Some(bare) = name.strip_suffix(level) {
                out.insert(name.to_string());
                if char_len(bare) >= 2 {
                    out.insert(bare.to_string());
                }
                break;
            }
        }
    }
    out
}

pub(super) fn nounish(tag: &str) -> bool {
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

pub(super) static REGION_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[A-Za-z][0-9]*[省市区县]|[\p{Han}]{2,3}?[省市]|[A-Za-z0-9\p{Han}]{1,3}?[区县])+",
    )
    .unwrap()
});
pub(super) static TRAILING_PHASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:[一二三四五六七八九十0-9]+期|[0-9A-Za-z]+栋|小区|项目)+$").unwrap()
});

pub(super) fn suffix_class(word: &str, extra: &[String]) -> Option<u8> {
    if extra.iter().any(|s| word.ends_with(s.as_str())) {
        return Some(1);
    }
    ending_in_last_char(word)
        .iter()
        .filter(|(s, _, _)| word.ends_with(s))
        .map(|(_, c, _)| *c)
        .min()
}

/// The built-in suffixes that end in `w`'s last character, as (suffix, class, characters).
/// Every token of every petition is asked whether it ends in a suffix: looking only at the
/// few that share its last character keeps that from being 60 string compares each time.
pub(super) fn ending_in_last_char(w: &str) -> &'static [Suffix] {
    SUFFIX_BY_LAST.ending_like(w)
}

/// Entries keyed by the last character of their word, for questions of the kind "which of
/// these does `w` end in" asked of every token: only the few sharing its last character are
/// compared.
pub(super) struct ByLastChar<T>(FastMap<char, Vec<T>>);

impl<T> ByLastChar<T> {
    pub(super) fn new(items: impl IntoIterator<Item = (&'static str, T)>) -> Self {
        let mut m: FastMap<char, Vec<T>> = FastMap::default();
        for (word, item) in items {
            if let Some(last) = word.chars().next_back() {
                m.entry(last).or_default().push(item);
            }
        }
        ByLastChar(m)
    }

    /// The entries whose word ends in `w`'s last character (not necessarily in `w`).
    pub(super) fn ending_like(&self, w: &str) -> &[T] {
        w.chars()
            .next_back()
            .and_then(|c| self.0.get(&c))
            .map_or(&[], Vec::as_slice)
    }
}

/// Whether `w` is a built-in suffix on its own (村, 小区).
fn is_bare_suffix(w: &str) -> bool {
    ending_in_last_char(w).iter().any(|(s, _, _)| *s == w)
}

/// Characters that, before a one-character suffix, make a verb and its object (修路, 铺路,
/// 进村, 接线): a deed, not the end of a name. 上 and 下 stay out: 上村 and 下村 are villages.
const VERB_HEADS: &[char] = &[
    '修', '铺', '挖', '封', '堵', '拦', '让', '带', '走', '开', '进', '出', '回', '到', '过', '接',
    '拉', '布', '划', '画', '连',
];

/// Whether a word is a verb with a one-character suffix as its object (修路 tagged as a noun
/// would otherwise make 冲竹村修路 a road).
pub(super) fn verb_and_object(w: &str) -> bool {
    let mut cs = w.chars();
    match (cs.next(), cs.next(), cs.next()) {
        (Some(v), Some(o), None) => {
            VERB_HEADS.contains(&v)
                && SUFFIXES
                    .iter()
                    .any(|(s, _)| s.chars().eq(std::iter::once(o)))
        }
        _ => false,
    }
}

/// How many characters of `w` its object suffix takes (the longest that fits).
fn suffix_len(w: &str, extra: &[String]) -> usize {
    let built_in = ending_in_last_char(w)
        .iter()
        .filter(|(s, _, _)| w.ends_with(s))
        .map(|(_, _, n)| *n);
    let extra = extra
        .iter()
        .filter(|s| w.ends_with(s.as_str()))
        .map(|s| char_len(s));
    built_in.chain(extra).max().unwrap_or(0).min(char_len(w))
}

/// Characters that are grammar, pronouns or everyday verbs of a petition's sentence, never the
/// first character of a name jieba cut into single characters (在 + 竹村, 到 + 超市).
const FUNCTION_CHARS: &str = "的了着过在是有和与及或被把给对向从于为也都就还又很太最更才只已再要会能可请将这那哪该本其各每某此由以因而但则若如即便并且却之所去来到住找问说让叫没不无等个号年月日时分元里上下内外前后中旁边我你他她它们家市省县区镇乡期栋楼层室座幢";

/// A single character that may begin a name jieba did not know and cut apart (冲 + 竹村, 鸿 + 汇 +
/// 餐馆): a Han character that is no grammar word.
fn name_char(w: &str) -> bool {
    let mut cs = w.chars();
    matches!((cs.next(), cs.next()), (Some(c), None) if is_han(c) && !FUNCTION_CHARS.contains(c))
}

/// A two-character word jieba made up from its model rather than found in its dictionary (西才
/// of 西才村): a name as likely as any proper noun. Longer made-up words run over grammar
/// (楚雅路上), shorter ones are single characters (see [`name_char`]).
fn unknown_name(w: &str, tok: &Tokenizer) -> bool {
    char_len(w) == 2
        && w.chars().all(|c| is_han(c) && !FUNCTION_CHARS.contains(c))
        && !tok.jieba().has_word(w)
}

/// The trade between a firm's name and its kind (通旺 装修 公司, 同永 夜宵 店): a two-character
/// verb or noun of time after a proper or unknown name.
fn trade_word(w: &str, tag: &str, before: Option<(&str, &str)>, tok: &Tokenizer) -> bool {
    char_len(w) == 2
        && matches!(tag, "v" | "vn" | "t")
        && before.is_some_and(|(b, t)| proper_tag(t) && !quantity(b, t) || unknown_name(b, tok))
}

/// A road before an estate's own name is its address (桂湖路 金桂苑小区): it ends the name. An
/// estate named after its road alone (中山路小区) keeps it, as nothing else names it.
fn is_road_word(w: &str) -> bool {
    char_len(w) >= 2 && ["路", "街", "大道"].iter().any(|r| w.ends_with(r)) && !is_kind_word(w)
}

/// Numbers of things (好几个, 十几, 一些, 一排 tagged m) say how many, never which: they end a
/// name. Ordinals (第一中学) do name.
fn quantity(w: &str, tag: &str) -> bool {
    const COUNT: &str = "一二两三四五六七八九十百千万几多好个些每各半数";
    w.chars().all(|c| COUNT.contains(c))
        || tag == "m" && char_len(w) >= 2 && w.starts_with(|c| COUNT.contains(c))
}

/// A word a name never runs back over: a count, a person, a place relative to the writer.
fn ends_name(w: &str, tag: &str) -> bool {
    quantity(w, tag) || ROLE_WORDS.contains(&w) || LOCATIVES.contains(&w)
}

/// People a petition speaks of or to (村民, 领导): a name never runs back over them
/// (尊敬的领导民长村 is the village 民长村).
const ROLE_WORDS: &[&str] = &[
    "村民",
    "居民",
    "市民",
    "业主",
    "领导",
    "群众",
    "网友",
    "家长",
    "学生",
    "老师",
    "员工",
    "工人",
    "农民",
    "百姓",
    "老百姓",
    "住户",
    "商户",
    "租户",
    "来电人",
    "来访人",
    "人称",
];

/// Where something is from where the writer stands (楼下, 门口): 楼下广场 is the square below
/// the writer's flat, not a plaza of that name.
const LOCATIVES: &[&str] = &[
    "楼下", "楼上", "门口", "门前", "对面", "附近", "旁边", "周边", "周围", "后面", "前面", "里面",
    "外面", "隔壁", "背后", "底下",
];

/// A built-in suffix: (suffix, class, characters).
pub(super) type Suffix = (&'static str, u8, usize);

/// The built-in suffixes by their last character, as (suffix, class, characters); see
/// [`ending_in_last_char`].
static SUFFIX_BY_LAST: LazyLock<ByLastChar<Suffix>> =
    LazyLock::new(|| ByLastChar::new(SUFFIXES.iter().map(|&(s, c)| (s, (s, c, char_len(s))))));

/// Two-character suffixes as (first, second, suffix).
pub(super) static TWO_CHAR_SUFFIXES: LazyLock<Vec<(char, char, &'static str)>> =
    LazyLock::new(|| {
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

/// First characters of the two-character suffixes, sorted.
static TWO_CHAR_FIRST: LazyLock<Vec<char>> = LazyLock::new(|| {
    let mut v: Vec<char> = TWO_CHAR_SUFFIXES.iter().map(|(a, _, _)| *a).collect();
    v.sort_unstable();
    v.dedup();
    v
});

pub(super) static KIND_WORDS: LazyLock<FastSet<&'static str>> =
    LazyLock::new(|| GENERIC.iter().copied().collect());

/// Whether `w` is one of the [`GENERIC`] kind words.
pub(super) fn is_kind_word(w: &str) -> bool {
    KIND_WORDS.contains(w)
}

pub(super) fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Anchors found in tagged text, each with its priority class, in text order.
pub(super) fn anchors_in<S: AsRef<str>>(
    tags: &[(S, S)],
    extra: &[String],
    regions: &FastSet<String>,
    tok: &Tokenizer,
) -> Vec<(String, u8)> {
    let tags: Vec<(&str, &str)> = tags.iter().map(|(w, t)| (w.as_ref(), t.as_ref())).collect();
    let tags = &tags[..];
    // a suffix of three characters or more that jieba cut before its last one (妇幼保健 / 院)
    // is one word again
    let glued_back: Vec<(String, &str)>;
    let glued_view: Vec<(&str, &str)>;
    let tags = if (1..tags.len()).any(|i| long_suffix_cut(tags[i - 1].0, tags[i].0)) {
        let mut out: Vec<(String, &str)> = Vec::with_capacity(tags.len());
        let mut i = 0;
        while i < tags.len() {
            let (w, t) = tags[i];
            match tags.get(i + 1) {
                Some((next, _)) if long_suffix_cut(w, next) => {
                    out.push((format!("{w}{next}"), t));
                    i += 2;
                }
                _ => {
                    out.push((w.to_string(), t));
                    i += 1;
                }
            }
        }
        glued_back = out;
        glued_view = glued_back.iter().map(|(w, t)| (w.as_str(), *t)).collect();
        &glued_view[..]
    } else {
        tags
    };
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
        if verb_and_object(w) {
            continue;
        }
        let bare_suffix = is_bare_suffix(w);
        // a kind word longer than the suffix (农村, 车站, 城市) heads no name: 农业农村局 is a bureau
        if is_kind_word(w) && !bare_suffix {
            continue;
        }
        // a bare suffix token (村 tagged zg) is fine whatever its tag
        if !bare_suffix && !nounish(t) && !matches!(t, "ng" | "vn" | "l" | "i") {
            continue;
        }
        let mut start = i;
        let mut len = char_len(w);
        // characters of the name before its suffix (竹 of 竹村, none of 超市)
        let mut specific = len - suffix_len(w, extra);
        while start > 0 && i - start < 4 {
            let (pw, pt) = tags[start - 1];
            if len + char_len(pw) > 14
                || ends_name(pw, pt)
                || class == 0 && specific >= 2 && is_road_word(pw)
            {
                break;
            }
            let before = start.checked_sub(2).map(|k| tags[k]);
            // a name with 之 inside (星河 之 城 小区): 之 ties a short head (城, 窗, 都) to the
            // name before it, which then continues the name as any proper part would
            let name_before_of = before.filter(|&(bw, bt)| {
                pw == "之"
                    && specific <= 2
                    && (nounish(bt) || unknown_name(bw, tok))
                    && !is_kind_word(bw)
                    && !ends_name(bw, bt)
                    && len + 1 + char_len(bw) <= 14
            });
            if let Some((bw, _)) = name_before_of {
                start -= 2;
                len += 1 + char_len(bw);
                specific += 1 + char_len(bw);
                continue;
            }
            if !(nounish(pt)
                || unknown_name(pw, tok)
                || specific < 2 && name_char(pw)
                || class == 1 && specific == 0 && trade_word(pw, pt, before, tok))
            {
                break;
            }
            // generic words stop the extension unless they are themselves object heads (花园, 新城)
            if is_kind_word(pw) && suffix_class(pw, extra).is_none() {
                break;
            }
            start -= 1;
            len += char_len(pw);
            specific += char_len(pw);
        }
        // drop leading generic parts; require one specific part
        while start < i && is_kind_word(tags[start].0) {
            start += 1;
        }
        if (start..=i).all(|k| is_kind_word(tags[k].0)) {
            continue;
        }
        // a lone dictionary common noun naming a kind of site (搅拌站, 污水处理厂) is no object;
        // a word jieba made up (冲竹村) is a name
        if start == i
            && class >= 2
            && matches!(t, "n" | "vn" | "ng" | "l")
            && tok.jieba().has_word(w)
        {
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
            // a road right before an estate is its address, not part of its name
            let address = last.2 == 2 && s.2 == 0 && s.0 == last.1 + 1;
            if s.0 <= last.1 + 1 && !address {
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

/// Whether a one-character word `b` ends a suffix of three or more characters that begins in
/// `a` (妇幼保健 + 院 → …保健院).
fn long_suffix_cut(a: &str, b: &str) -> bool {
    let mut bs = b.chars();
    if bs.next().is_none() || bs.next().is_some() {
        return false;
    }
    ending_in_last_char(b)
        .iter()
        .any(|(s, _, n)| *n >= 3 && a.ends_with(&s[..s.len() - b.len()]))
}

/// The two-character suffix that `a` and `b` split between them (a ends with its first
/// character, b starts with its second).
pub(super) fn split_suffix(a: &str, b: &str) -> Option<&'static str> {
    // asked of every pair of neighbouring tokens: most end in no suffix's first character
    let last = a.chars().next_back()?;
    if TWO_CHAR_FIRST.binary_search(&last).is_err() {
        return None;
    }
    let first = b.chars().next()?;
    TWO_CHAR_SUFFIXES
        .iter()
        .find(|(a, b, _)| *a == last && *b == first)
        .map(|(_, _, s)| *s)
}

/// A road, line or site that is one everyday dictionary word (公交线路, 火车站, 高速公路) names a
/// kind, not one place; named ones are tagged as places (中山路 ns, 解放路 nz).
pub(super) fn common_word(name: &str, tok: &Tokenizer) -> bool {
    let tags = tok.tag_ref(name);
    tags.len() == 1 && matches!(tags[0].1, "n" | "vn" | "l" | "ng") && tok.jieba().has_word(name)
}

pub(super) fn glued(w: &str, tok: &Tokenizer) -> bool {
    let mut cs = w.chars();
    matches!(cs.next(), Some(c) if GLUED_SUFFIX_CHARS.contains(&c))
        && cs.next().is_some_and(|c| c > '\u{2e80}')
        && !tok.jieba().has_word(w)
}

/// Strips region prefixes and rejects generic names; `None` when nothing specific is left.
/// Words that say where something is (地处银杉路 → 银杉路): jieba tags some as nouns of place, so
/// the backward extension takes them into a name they are not part of.
const LOCATIVE_LEADS: &[&str] = &[
    "地处",
    "位于",
    "坐落于",
    "坐落在",
    "坐落",
    "毗邻",
    "紧邻",
    "临近",
    "靠近",
    "距离",
    "地址",
];

pub(super) fn clean_anchor(raw: &str, regions: &FastSet<String>) -> Option<String> {
    let mut a = raw.trim().to_string();
    if let Some(rest) = LOCATIVE_LEADS.iter().find_map(|l| a.strip_prefix(l)) {
        a = rest.to_string();
    }
    // leading names of the data's regions (江城鹅塘职业技术学院 → 鹅塘职业技术学院), longest first
    'strip: loop {
        let idx: Vec<usize> = a.char_indices().map(|(i, _)| i).skip(2).take(8).collect();
        for &e in idx.iter().rev() {
            if !regions.contains(&a[..e]) {
                continue;
            }
            // 望江 + 路小学 is the road 望江路, not the region 望江
            let glued_on = a[e..].starts_with(GLUED_SUFFIX_CHARS)
                || SUFFIXES.iter().any(|(x, _)| a[e..].starts_with(x));
            // 凤城 + 区人民医院: the bare name of 凤城区, whose level word must go with it
            let level_follows = a[e..].starts_with(['区', '县', '市', '镇', '乡', '省']);
            if char_len(&a[e..]) >= 3 && !glued_on && !level_follows && !kind_only(&a[e..]) {
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
        // a region and a bare weak kind word (A市教育 of A市教育局) is an office's name cut
        // short, not an organisation
        if WEAK_SUFFIXES.contains(&rest) {
            return None;
        }
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
    if a.ends_with('市') && !a.ends_with("超市")
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
pub(super) const QUALIFIERS: &[&str] = &[
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
    "社保",
    "司法",
    "派出",
    "工商",
    "民政",
    "供电",
];

/// A name that is only its kind (see [`QUALIFIERS`]); a region prefix in front of it stays.
pub(super) fn kind_only(name: &str) -> bool {
    let core = strip_type_words(name, &[]);
    char_len(core) < 2 || TYPE_WORDS.contains(&core) || QUALIFIERS.contains(&core)
}

/// Numbered bus and metro lines (5路, K3路, 2号线): short, but objects.
pub(super) static BUS_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z]?[0-9]+(?:路|号线|线)$").unwrap());

/// Normal form: trailing phase/building/小区 removed when something specific remains.
pub(super) fn normalise_anchor(a: &str) -> String {
    let t = TRAILING_PHASE.replace(a, "").to_string();
    if char_len(&t) >= 3 {
        t
    } else {
        a.to_string()
    }
}

/// Known anchor names that occur in `text`: at every object suffix, the longest known name
/// ending there.
pub(super) fn lookup_known(
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
pub(super) fn pick_anchor(
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
pub(super) fn contained_known(a: &str, freq: &FastMap<&str, u32>) -> String {
    let idx: Vec<usize> = a
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(a.len()))
        .collect();
    let mut best: Option<(bool, u32, usize, &str)> = None;
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
