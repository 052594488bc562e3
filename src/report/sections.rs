//! The brief's nine sections, one builder each, from the trends of the period.

use super::{Block, MethodNote, Options, Section, UNAVAILABLE};
use crate::charts::Chart;
use crate::cluster::Trend;
use crate::fmt::thousands;
use crate::mask::text_for_output;
use crate::schema::{Record, COLLECTIVE_HEADCOUNT};
use crate::trends::{Change, GroupRow, Kpi, Ratio, Row, Trends};

/// What every section builder reads.
pub(super) struct Ctx<'a> {
    pub(super) t: &'a Trends,
    pub(super) records: &'a [Record],
    pub(super) charts: &'a [Chart],
    pub(super) method: &'a MethodNote,
    pub(super) opts: &'a Options,
    pub(super) show: bool,
    /// Message-board exports carry no handling state; then open/closed is unknown, not "all
    /// open".
    pub(super) has_state: bool,
}

impl Ctx<'_> {
    /// The chart block of `name`, when the charts stage drew it.
    fn chart(&self, name: &str) -> Option<Block> {
        self.charts
            .iter()
            .position(|c| c.name == name)
            .map(Block::Chart)
    }

    /// Petition text as the brief shows it (masked unless shown on request).
    fn txt(&self, s: &str) -> String {
        text_for_output(s, self.show)
    }
}

/// The sections in the brief's order.
pub(super) fn all(cx: &Ctx) -> Vec<Section> {
    vec![
        overview(cx),
        categories(cx),
        regions(cx),
        hot_issues(cx),
        case_groups(cx),
        repeat_collective_bypass(cx),
        handling(cx),
        risks(cx),
        appendix(cx),
    ]
}

/// Rate with one decimal, or 无数据.
pub fn rate(r: Option<Ratio>) -> String {
    match r {
        Some(r) => format!("{:.1}%", r.pct()),
        None => UNAVAILABLE.into(),
    }
}

fn rate_detail(r: Option<Ratio>) -> String {
    match r {
        Some(r) => format!(
            "{:.1}%（{}/{}）",
            r.pct(),
            thousands(r.num),
            thousands(r.den)
        ),
        None => UNAVAILABLE.into(),
    }
}

/// Signed change in percent with one decimal, or a dash where the base does not exist.
pub fn change_pct(p: Option<f64>) -> String {
    match p {
        Some(v) if v > 0.0 => format!("上升{v:.1}%"),
        Some(v) if v < 0.0 => format!("下降{:.1}%", -v),
        Some(_) => "持平".into(),
        None => "—".into(),
    }
}

fn p_text(p: f64) -> String {
    if p < 0.0001 {
        "p<0.0001".into()
    } else {
        format!("p={p:.4}")
    }
}

fn base(v: Option<u64>) -> String {
    v.map(thousands).unwrap_or_else(|| "—".into())
}

fn trend_zh(t: Trend) -> &'static str {
    match t {
        Trend::New => "新增",
        Trend::Growing => "上升",
        Trend::Steady => "平稳",
        Trend::Fading => "回落",
    }
}

fn ids_list(ids: &[String], max: usize) -> String {
    if ids.is_empty() {
        return "—".into();
    }
    let mut s = ids.iter().take(max).cloned().collect::<Vec<_>>().join("、");
    if ids.len() > max {
        s.push_str(&format!(" 等{}件", thousands(ids.len() as u64)));
    }
    s
}

/// The lists of case groups the brief names, each in the trends' order (most petitions in the
/// period first) and at most [`Options::max_rows`] long: at a million petitions a week held
/// thousands of groups with petitions, hundreds of them new, and a brief naming them all was
/// 9 MB of Word (71 MB at ten million) that no meeting reads. The rest are counted, and
/// `groups/` lists them.
#[derive(Clone, Copy)]
enum GroupList {
    /// 表4: every group with petitions in the period.
    InPeriod,
    /// 四: rising, not new.
    Rising,
    /// 四: new in the period.
    New,
    /// 八: rising, or new with the volume the rising test asks for (one new filing is no risk).
    Risky,
}

impl GroupList {
    const ALL: [GroupList; 4] = [
        GroupList::InPeriod,
        GroupList::Rising,
        GroupList::New,
        GroupList::Risky,
    ];

    fn holds(self, t: &Trends, g: &GroupRow) -> bool {
        match self {
            GroupList::InPeriod => g.in_period > 0,
            GroupList::Rising => g.rising && !g.new,
            GroupList::New => g.new,
            GroupList::Risky => g.rising || (g.new && g.in_period >= t.rising_min_count),
        }
    }

    /// The groups the brief names, and the others': how many and their petitions in the period.
    fn of(self, t: &Trends, max: usize) -> (Vec<&GroupRow>, u64, u64) {
        let mut named = Vec::new();
        let (mut more, mut more_petitions) = (0u64, 0u64);
        for g in t.groups.iter().filter(|g| self.holds(t, g)) {
            if named.len() < max {
                named.push(g);
            } else {
                more += 1;
                more_petitions += g.in_period;
            }
        }
        (named, more, more_petitions)
    }
}

/// The sentence for the groups of a list the brief does not name (none when it names them all).
fn more_groups(what: &str, more: u64, petitions: u64) -> Option<String> {
    not_listed(what, more, petitions, "类案清单（groups/groups.xlsx）")
}

/// The sentence for the `more` items of a list beyond what the brief names, with their
/// petitions in the period and where they are listed (none when it names them all).
fn not_listed(what: &str, more: u64, petitions: u64, listed_in: &str) -> Option<String> {
    (more > 0).then(|| {
        format!(
            "另有{}个{what}（本期共{}件次）未逐一列出，见{listed_in}。",
            thousands(more),
            thousands(petitions)
        )
    })
}

fn change_sentence(what: &str, c: &Change, unit: &str) -> String {
    let mut s = format!("{what}{}{unit}", thousands(c.current));
    match c.previous {
        Some(p) => s.push_str(&format!(
            "，环比{}（上期{}{unit}）",
            change_pct(c.wow()).replace("—", "无法计算"),
            thousands(p)
        )),
        None => s.push_str("，无上期数据，不计环比"),
    }
    match c.year_ago {
        Some(p) => s.push_str(&format!(
            "，同比{}（去年同期{}{unit}）",
            change_pct(c.yoy()).replace("—", "无法计算"),
            thousands(p)
        )),
        None => s.push_str("，无去年同期数据，不计同比"),
    }
    s
}

fn breakdown_table(caption: &str, first: &str, rows: &[Row], total: u64, max: usize) -> Block {
    let t = total.max(1) as f64;
    Block::Table(
        caption.into(),
        vec![
            first.into(),
            "件次".into(),
            "占比".into(),
            "人次".into(),
            "上期".into(),
            "环比".into(),
            "同比".into(),
        ],
        rows.iter()
            .filter(|r| r.count.current > 0)
            .take(max)
            .map(|r| {
                vec![
                    r.name.clone(),
                    thousands(r.count.current),
                    format!("{:.1}%", r.count.current as f64 / t * 100.0),
                    thousands(r.headcount),
                    base(r.count.previous),
                    change_pct(r.count.wow()),
                    change_pct(r.count.yoy()),
                ]
            })
            .collect(),
    )
}

fn kpi_row(k: &Kpi) -> Vec<String> {
    vec![
        k.name.clone(),
        thousands(k.petitions),
        rate_detail(k.timely_accept),
        rate_detail(k.on_time_close),
        rate_detail(k.satisfied),
        rate_detail(k.rated),
        k.avg_cycle_days
            .map(|d| format!("{d:.1}"))
            .unwrap_or_else(|| UNAVAILABLE.into()),
        k.overdue_open
            .map(thousands)
            .unwrap_or_else(|| UNAVAILABLE.into()),
    ]
}

/// 总体情况
fn overview(cx: &Ctx) -> Section {
    let t = cx.t;
    let chart = |name: &str| cx.chart(name);
    let mut b = vec![Block::Para(format!(
        "本期（{}，{}至{}）{}。{}。",
        t.period.label,
        t.period.from,
        t.period.to,
        change_sentence("共受理信访", &t.total, "件次"),
        {
            let mut s = change_sentence("涉及", &t.headcount, "人次");
            match t.distinct_petitioners {
                Some(p) => s.push_str(&format!("；涉及信访人{}人", thousands(p))),
                None => s.push_str("；信访人信息无数据"),
            }
            s
        }
    ))];
    b.push(Block::Table(
        "表1 本期各渠道信访量".into(),
        vec![
            "渠道".into(),
            "件次".into(),
            "上期".into(),
            "环比".into(),
            "去年同期".into(),
            "同比".into(),
        ],
        t.by_channel
            .iter()
            .map(|(c, ch)| {
                vec![
                    c.zh().into(),
                    thousands(ch.current),
                    base(ch.previous),
                    change_pct(ch.wow()),
                    base(ch.year_ago),
                    change_pct(ch.yoy()),
                ]
            })
            .chain(std::iter::once(vec![
                "合计".into(),
                thousands(t.total.current),
                base(t.total.previous),
                change_pct(t.total.wow()),
                base(t.total.year_ago),
                change_pct(t.total.yoy()),
            ]))
            .collect(),
    ));
    b.extend(chart("weekly_channel"));
    Section {
        title: "一、总体情况".into(),
        blocks: b,
    }
}

/// 分类分布
fn categories(cx: &Ctx) -> Section {
    let t = cx.t;
    let total = t.total.current;
    let chart = |name: &str| cx.chart(name);
    let opts = cx.opts;
    let mut b = Vec::new();
    if t.categories.iter().all(|c| c.count.current == 0) {
        b.push(Block::Para(format!("本期问题分类{UNAVAILABLE}。")));
    } else {
        let top: Vec<String> = t
            .categories
            .iter()
            // 待人工确认 is no category to rank.
            .filter(|c| c.count.current > 0 && c.name != crate::classify::NEEDS_REVIEW)
            .take(3)
            .map(|c| {
                format!(
                    "{}{}件次（占{:.1}%）",
                    c.name,
                    thousands(c.count.current),
                    c.count.current as f64 / total.max(1) as f64 * 100.0
                )
            })
            .collect();
        b.push(Block::Para(format!(
            "从问题类别看，排名前列的是{}。",
            top.join("、")
        )));
        if t.inferred_category + t.review_category > 0 {
            b.push(Block::Para(format!(
                "数据未标注类别的{}件次，类别为推断值：由本单位历史分类数据训练的模型推断，其中{}件次置信度不足，列为“{}”，请人工确认。",
                thousands(t.inferred_category + t.review_category),
                thousands(t.review_category),
                crate::classify::NEEDS_REVIEW
            )));
        }
        if t.missing_category > 0 {
            b.push(Block::Para(format!(
                "另有{}件次未标注类别。",
                thousands(t.missing_category)
            )));
        }
        b.push(breakdown_table(
            if t.inferred_category + t.review_category > 0 {
                "表2 本期问题分类（含推断）"
            } else {
                "表2 本期问题分类"
            },
            "类别",
            &t.categories,
            total,
            opts.max_rows,
        ));
        b.extend(chart("category_share"));
        b.extend(chart("category_heat"));
    }
    Section {
        title: "二、分类分布".into(),
        blocks: b,
    }
}

/// The region column's three levels, as the brief names them.
const REGION_LEVELS: [&str; 3] = ["市", "区县", "街道乡镇"];

/// 区域分布
fn regions(cx: &Ctx) -> Section {
    let t = cx.t;
    let total = t.total.current;
    let chart = |name: &str| cx.chart(name);
    let opts = cx.opts;
    let mut b = Vec::new();
    if t.regions[0].is_empty() {
        b.push(Block::Para(format!("本期信访事项属地{UNAVAILABLE}。")));
    } else {
        let marked = if t.inferred_region > 0 {
            b.push(Block::Para(format!(
                "数据未标注属地的{}件次，属地为推断值：按标题和内容中的地名推断，未能推断的不作猜测。",
                thousands(t.inferred_region)
            )));
            "（含推断）"
        } else {
            ""
        };
        for (lvl, name) in REGION_LEVELS.iter().enumerate() {
            if t.regions[lvl].iter().any(|r| r.count.current > 0) {
                b.push(breakdown_table(
                    &format!("表3-{} 本期{}分布{marked}", lvl + 1, name),
                    "地区",
                    &t.regions[lvl],
                    total,
                    opts.max_rows,
                ));
            }
        }
        if t.missing_region > 0 {
            b.push(Block::Para(format!(
                "另有{}件次未标注属地。",
                thousands(t.missing_region)
            )));
        }
        b.extend(chart("region_rank"));
    }
    Section {
        title: "三、区域分布".into(),
        blocks: b,
    }
}

/// 热点与新增问题
fn hot_issues(cx: &Ctx) -> Section {
    let t = cx.t;
    let txt = |s: &str| cx.txt(s);
    let mut items = Vec::new();
    let flag = |kind: &str, r: &Row| {
        format!(
            "{kind}“{}”本期{}件次，前{}期基线均值{:.1}件次/期（泊松检验 {}）",
            r.name,
            thousands(r.count.current),
            t.weeks.len().saturating_sub(1),
            r.baseline_mean,
            p_text(r.p_value)
        )
    };
    for r in t.categories.iter().filter(|r| r.rising) {
        items.push(flag("类别", r));
    }
    // A level's rising places beyond max_rows are counted, as the groups are (a city has
    // hundreds of streets); the appendix traces every place.
    let max = cx.opts.max_rows;
    for (lvl, level) in REGION_LEVELS.iter().enumerate() {
        let rising: Vec<&Row> = t.regions[lvl].iter().filter(|r| r.rising).collect();
        for r in rising.iter().take(max) {
            items.push(flag("地区", r));
        }
        let rest = rising.get(max..).unwrap_or_default();
        items.extend(not_listed(
            &format!("{level}明显上升"),
            rest.len() as u64,
            rest.iter().map(|r| r.count.current).sum(),
            "附表",
        ));
    }
    let (rising, more, more_petitions) = GroupList::Rising.of(t, max);
    for g in rising {
        items.push(format!(
            "类案{}“{}”本期{}件次，基线均值{:.1}件次/期（泊松检验 {}）",
            g.id,
            txt(&g.label),
            thousands(g.in_period),
            g.baseline_mean,
            p_text(g.p_value)
        ));
    }
    items.extend(more_groups("明显上升的类案", more, more_petitions));
    let (new, more, more_petitions) = GroupList::New.of(t, max);
    let mut news: Vec<String> = new
        .into_iter()
        .map(|g| {
            format!(
                "新增类案{}“{}”：本期{}件次、{}人次",
                g.id,
                txt(&g.label),
                thousands(g.in_period),
                thousands(g.headcount_in_period)
            )
        })
        .collect();
    news.extend(more_groups("新增类案", more, more_petitions));
    let mut b = vec![Block::Para(format!(
        "判定方法：本期件次不少于{}且在前{}期基线均值下的泊松上尾概率小于阈值的，列为明显上升；此前从未出现、本期首次出现的类案列为新增。",
        t.rising_min_count,
        t.weeks.len().saturating_sub(1)
    ))];
    if items.is_empty() && news.is_empty() {
        b.push(Block::Para("本期未发现明显上升或新增的问题。".into()));
    }
    if !items.is_empty() {
        b.push(Block::Bullets(items));
    }
    if !news.is_empty() {
        b.push(Block::Bullets(news));
    }
    Section {
        title: "四、热点与新增问题".into(),
        blocks: b,
    }
}

/// 办理状态's and 建议牵头单位's places in the case-group table.
const STATE_COLUMN: usize = 5;
const LEAD_COLUMN: usize = 6;

/// 同质化类案
fn case_groups(cx: &Ctx) -> Section {
    let t = cx.t;
    let txt = |s: &str| cx.txt(s);
    let chart = |name: &str| cx.chart(name);
    let opts = cx.opts;
    let has_state = cx.has_state;
    let (shown, more, more_petitions) = GroupList::InPeriod.of(t, opts.max_rows);
    let has_lead = shown.iter().any(|g| g.lead_unit.is_some());
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|g| {
            let mut row = vec![
                g.id.clone(),
                txt(&g.label),
                thousands(g.in_period),
                format!(
                    "{}件/{}人/{}人次",
                    thousands(g.size as u64),
                    thousands(g.people as u64),
                    thousands(g.total_headcount)
                ),
                format!("{}至{}", g.first_seen, g.last_seen),
                format!(
                    "未结{}/已结{}",
                    thousands(g.open as u64),
                    thousands(g.closed as u64)
                ),
                match &g.lead_unit {
                    Some(u) if g.lead_unit_suggested => format!("{u}（推荐）"),
                    Some(u) => u.clone(),
                    None => UNAVAILABLE.into(),
                },
                if g.new {
                    "新增".into()
                } else if g.rising {
                    "明显上升".into()
                } else {
                    trend_zh(g.trend).into()
                },
            ];
            // Without status data (or a unit for any group) the column would say 无数据 in
            // every row: a sentence says it once.
            if !has_lead {
                row.remove(LEAD_COLUMN);
            }
            if !has_state {
                row.remove(STATE_COLUMN);
            }
            row
        })
        .collect();
    let mut b = Vec::new();
    if rows.is_empty() {
        b.push(Block::Para("本期无归入同质化类案的信访件。".into()));
    } else {
        // The count is of every group with petitions in the period, not of the table's rows.
        let total = rows.len() as u64 + more;
        b.push(Block::Para(if more > 0 {
            format!(
                "本期信访件涉及同质化类案{}个，建议按类案统筹化解，明确牵头单位。表4列出本期件次最多的{}个；其余{}个（本期共{}件次）见类案清单（groups/groups.xlsx）。",
                thousands(total),
                thousands(rows.len() as u64),
                thousands(more),
                thousands(more_petitions)
            )
        } else {
            format!(
                "本期信访件涉及同质化类案{}个，建议按类案统筹化解，明确牵头单位。",
                thousands(total)
            )
        }));
        if !has_state {
            b.push(Block::Para(format!(
                "类案办理状态{UNAVAILABLE}（数据未载明办结情况），表中不列。"
            )));
        }
        if !has_lead {
            b.push(Block::Para(format!(
                "类案建议牵头单位{UNAVAILABLE}（数据未载明责任单位，也无问题类别可按分派表推荐），表中不列。"
            )));
        }
        if t.groups
            .iter()
            .any(|g| g.in_period > 0 && g.lead_unit_suggested)
        {
            b.push(Block::Para(
                "标注“（推荐）”的牵头单位，数据未载明责任单位，由类案多数信访件的问题类别和属地按分派表推荐，仅供参考。".into(),
            ));
        }
        let mut header: Vec<String> = [
            "编号",
            "类案",
            "本期件次",
            "累计（件/人/人次）",
            "时间跨度",
            "办理状态",
            "建议牵头单位",
            "走势",
        ]
        .map(String::from)
        .to_vec();
        if !has_lead {
            header.remove(LEAD_COLUMN);
        }
        if !has_state {
            header.remove(STATE_COLUMN);
        }
        b.push(Block::Table("表4 主要同质化类案".into(), header, rows));
        b.extend(chart("group_sparklines"));
    }
    Section {
        title: "五、同质化类案".into(),
        blocks: b,
    }
}

/// 重复访/集体访/越级访
fn repeat_collective_bypass(cx: &Ctx) -> Section {
    let t = cx.t;
    let rep = match &t.repeat {
        Some(v) => format!("{}件次", thousands(v.len() as u64)),
        None => UNAVAILABLE.into(),
    };
    let byp = match &t.bypass {
        Some(v) => format!("{}件次", thousands(v.len() as u64)),
        None => UNAVAILABLE.into(),
    };
    let b = vec![Block::Table(
        "表5 重复访、集体访、越级访".into(),
        vec!["类型".into(), "本期".into(), "口径".into()],
        vec![
            vec![
                "重复访".into(),
                rep,
                "同一信访人在同一类案中再次信访".into(),
            ],
            vec![
                "集体访".into(),
                if t.headcount_known {
                    format!(
                        "{}件次、{}人次",
                        thousands(t.collective.len() as u64),
                        thousands(t.collective_headcount)
                    )
                } else {
                    "无数据".into()
                },
                if t.headcount_known {
                    format!("单次人数{COLLECTIVE_HEADCOUNT}人及以上")
                } else {
                    format!("单次人数{COLLECTIVE_HEADCOUNT}人及以上（数据无人数，无法统计）")
                },
            ],
            vec!["越级访".into(), byp, "数据源标注为越级".into()],
        ],
    )];
    Section {
        title: "六、重复访、集体访、越级访".into(),
        blocks: b,
    }
}

/// 办理质效
fn handling(cx: &Ctx) -> Section {
    let t = cx.t;
    let txt = |s: &str| cx.txt(s);
    let chart = |name: &str| cx.chart(name);
    let opts = cx.opts;
    let header: Vec<String> = [
        "责任单位",
        "件次",
        "及时受理率",
        "按期办结率",
        "满意率",
        "参评率",
        "平均办理周期（天）",
        "超期未办结",
    ]
    .map(String::from)
    .to_vec();
    let mut rows: Vec<Vec<String>> = t
        .kpi_units
        .iter()
        .take(opts.max_rows)
        .map(kpi_row)
        .collect();
    rows.push(kpi_row(&t.kpi));
    let mut b = vec![Block::Para(format!(
        "本期及时受理率{}，按期办结率{}，满意率{}，参评率{}，平均办理周期{}，超期未办结{}。",
        rate(t.kpi.timely_accept),
        rate(t.kpi.on_time_close),
        rate(t.kpi.satisfied),
        rate(t.kpi.rated),
        t.kpi
            .avg_cycle_days
            .map(|d| format!("{d:.1}天"))
            .unwrap_or_else(|| UNAVAILABLE.into()),
        t.kpi
            .overdue_open
            .map(|v| format!("{}件", thousands(v)))
            .unwrap_or_else(|| UNAVAILABLE.into()),
    ))];
    if t.kpi_units.is_empty() {
        b.push(Block::Para(format!(
            "责任单位{UNAVAILABLE}，不分单位统计。"
        )));
    }
    b.push(Block::Table("表6 办理质效".into(), header, rows));
    if t.kpi_units.iter().any(|k| k.on_time_close.is_some()) {
        b.extend(chart("unit_kpi"));
    }
    if !t.overdue.is_empty() {
        b.push(Block::Table(
            "表7 超期未办结信访件".into(),
            ["编号", "责任单位", "办理期限", "超期天数", "标题"]
                .map(String::from)
                .to_vec(),
            t.overdue
                .iter()
                .take(opts.max_rows)
                .map(|o| {
                    vec![
                        o.id.clone(),
                        o.unit.clone().unwrap_or_else(|| UNAVAILABLE.into()),
                        o.due.to_string(),
                        thousands(o.days_over as u64),
                        txt(&o.title),
                    ]
                })
                .collect(),
        ));
    }
    Section {
        title: "七、办理质效".into(),
        blocks: b,
    }
}

/// 风险提示
fn risks(cx: &Ctx) -> Section {
    let t = cx.t;
    let txt = |s: &str| cx.txt(s);
    let mut items = Vec::new();
    let (risky, more, more_petitions) = GroupList::Risky.of(t, cx.opts.max_rows);
    for g in risky {
        items.push(format!(
            "类案{}“{}”本期{}件次、{}人次{}，牵头单位建议：{}。",
            g.id,
            txt(&g.label),
            thousands(g.in_period),
            thousands(g.headcount_in_period),
            if g.new {
                "，为本期新增"
            } else {
                "，明显高于前期水平"
            },
            match &g.lead_unit {
                Some(u) if g.lead_unit_suggested => format!("{u}（按分派表推荐）"),
                Some(u) => u.clone(),
                None => "待明确".into(),
            }
        ));
    }
    items.extend(more_groups("明显上升或新增的类案", more, more_petitions));
    if let Some(p) = t.headcount.previous {
        // A rise of at least the rising test's minimum count: 1 → 2 is no rise to report.
        let c = t.headcount.current;
        if c > p && p > 0 && (c - p) * 5 >= p && c - p >= t.rising_min_count {
            items.push(format!(
                "信访人次由上期{}增至{}，增幅{:.1}%。",
                thousands(p),
                thousands(t.headcount.current),
                t.headcount.wow().unwrap_or(0.0)
            ));
        }
    }
    if !t.collective.is_empty() {
        items.push(format!(
            "本期集体访{}件次、{}人次，需防范聚集风险。",
            thousands(t.collective.len() as u64),
            thousands(t.collective_headcount)
        ));
    }
    if let Some(o) = t.kpi.overdue_open.filter(|o| *o > 0) {
        items.push(format!(
            "超期未办结{}件，请相关责任单位加快办理。",
            thousands(o)
        ));
    }
    let b = if items.is_empty() {
        vec![Block::Para("本期未发现需要特别提示的风险。".into())]
    } else {
        vec![Block::Bullets(items)]
    };
    Section {
        title: "八、风险提示".into(),
        blocks: b,
    }
}

/// 附表 + 方法说明
fn appendix(cx: &Ctx) -> Section {
    let t = cx.t;
    let opts = cx.opts;
    let records = cx.records;
    let method = cx.method;
    let show = cx.show;
    let mut rows = Vec::new();
    let all_ids: Vec<String> = {
        let mut v: Vec<String> = records
            .iter()
            .filter(|r| {
                let d = r.received_at.date();
                d >= t.period.from && d <= t.period.to
            })
            .map(|r| r.id.to_string())
            .collect();
        v.sort();
        v
    };
    rows.push(vec![
        "本期合计".into(),
        thousands(all_ids.len() as u64),
        ids_list(&all_ids, opts.max_ids),
    ]);
    for c in t.categories.iter().filter(|c| c.count.current > 0) {
        rows.push(vec![
            format!("类别：{}", c.name),
            thousands(c.count.current),
            ids_list(&c.ids, opts.max_ids),
        ]);
    }
    for lvl in 0..3 {
        for c in t.regions[lvl].iter().filter(|c| c.count.current > 0) {
            rows.push(vec![
                format!("地区：{}", c.name),
                thousands(c.count.current),
                ids_list(&c.ids, opts.max_ids),
            ]);
        }
    }
    // The groups the brief names; the others' petitions are one row, traced by the groups'
    // member table (every petition's group).
    let named: std::collections::BTreeSet<&str> = GroupList::ALL
        .iter()
        .flat_map(|l| l.of(t, opts.max_rows).0)
        .map(|g| g.id.as_str())
        .collect();
    let (mut others, mut other_petitions) = (0u64, 0u64);
    for g in t.groups.iter().filter(|g| g.in_period > 0) {
        if !named.contains(g.id.as_str()) {
            others += 1;
            other_petitions += g.in_period;
            continue;
        }
        rows.push(vec![
            format!("类案：{}", g.id),
            thousands(g.in_period),
            ids_list(&g.ids, opts.max_ids),
        ]);
    }
    if others > 0 {
        rows.push(vec![
            format!("正文未列出的其余类案（{}个）", thousands(others)),
            thousands(other_petitions),
            "逐件见类案成员表（groups/members.csv）".into(),
        ]);
    }
    if let Some(v) = &t.repeat {
        rows.push(vec![
            "重复访".into(),
            thousands(v.len() as u64),
            ids_list(v, opts.max_ids),
        ]);
    }
    if t.headcount_known {
        rows.push(vec![
            "集体访".into(),
            thousands(t.collective.len() as u64),
            ids_list(&t.collective, opts.max_ids),
        ]);
    }
    if let Some(v) = &t.bypass {
        rows.push(vec![
            "越级访".into(),
            thousands(v.len() as u64),
            ids_list(v, opts.max_ids),
        ]);
    }
    let ov: Vec<String> = t.overdue.iter().map(|o| o.id.clone()).collect();
    if t.kpi.overdue_open.is_some() {
        rows.push(vec![
            "超期未办结".into(),
            thousands(ov.len() as u64),
            ids_list(&ov, opts.max_ids),
        ]);
    }
    let mut method_items = vec![
        format!(
            "数据范围：{}至{}；统计期：{}（{}至{}），基线为此前{}期。",
            t.data_from.map(|d| d.to_string()).unwrap_or_else(|| UNAVAILABLE.into()),
            t.data_to.map(|d| d.to_string()).unwrap_or_else(|| UNAVAILABLE.into()),
            t.period.label,
            t.period.from,
            t.period.to,
            t.weeks.len().saturating_sub(1)
        ),
        format!(
            "读入{}行，入库{}行，拒收{}行，去重{}行；本期使用{}件。",
            thousands(method.rows_read),
            thousands(method.rows_stored),
            thousands(method.rows_rejected),
            thousands(method.duplicates),
            thousands(t.records_in_period)
        ),
        "口径：件次为信访件数，人次为各件人数之和；环比对比上一统计期，同比对比上年同期（周报为52周前同一周，月报为上年同月），基数不存在时不计算；数据中缺失的指标记为“无数据”，不按零计。".into(),
        "及时受理率=受理日期距登记日期不超过规定工作日（周一至周五）的件数/有受理日期的件数；按期办结率=在办理期限前办结的件数/已办结件数（无办理期限的按登记日期加规定天数）；满意率=（满意+基本满意）/参评件数；参评率=参评件数/有满意度字段的件数；平均办理周期=登记至办结的平均天数；超期未办结=统计期末未办结且已过期限的件数。".into(),
    ];
    if !method.inputs.is_empty() {
        method_items.push(format!("输入文件：{}。", method.inputs.join("、")));
    }
    method_items.extend(method.settings.iter().cloned());
    method_items.extend(method.inferred.iter().cloned());
    method_items.extend(method.period.iter().cloned());
    if !show {
        method_items.push("个人信息已脱敏（姓名、电话、证件号等），信访人编号已缩写。".into());
    }
    Section {
        title: "九、附表及方法说明".into(),
        blocks: vec![
            Block::Table(
                "附表 各项数字对应的信访件编号".into(),
                vec!["项目".into(), "件次".into(), "信访件编号".into()],
                rows,
            ),
            Block::Bullets(method_items),
        ],
    }
}
