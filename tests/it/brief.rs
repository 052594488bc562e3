//! The weekly brief on a hand-made fixture: 30 petitions over 10 weeks (2019-W24 … W33), three
//! case groups. Every KPI is checked against the hand computation written next to it.

use std::path::Path;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use minqing::calendar::{self, Period, PeriodKind};
use minqing::cluster::{Group, Groups, Member, Trend};
use minqing::schema::{Channel, Record, Satisfaction};
use minqing::trends::{self, Trends};
use minqing::{charts, report};

fn at(d: NaiveDate) -> NaiveDateTime {
    d.and_hms_opt(9, 0, 0).unwrap()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn rec(
    id: &str,
    d: NaiveDate,
    cat: Option<&str>,
    region: Option<(&str, &str)>,
    unit: Option<&str>,
) -> Record {
    Record {
        id: id.into(),
        received_at: at(d),
        channel: Channel::Letter,
        title: format!("标题{id}").into(),
        content: "反映问题".into(),
        region: match region {
            Some((a, b)) => [Some(a.into()), Some(b.into()), None],
            None => [None, None, None],
        },
        petitioner: Some(format!("P{id}").into()),
        headcount: 1,
        category: cat.map(Into::into),
        responsible_unit: unit.map(Into::into),
        status: None,
        accepted_at: None,
        due_at: None,
        closed_at: None,
        satisfaction: None,
        replied_at: None,
        likes: None,
        dislikes: None,
        bypass: None,
        cold: minqing::schema::Cold {
            source: "fixture.csv:1".into(),
            ..Default::default()
        }
        .boxed(),
    }
}

const CJ: Option<&str> = Some("城乡建设");
const HB: Option<&str> = Some("环境保护");
const A1: Option<(&str, &str)> = Some(("A市", "A1区"));
const A2: Option<(&str, &str)> = Some(("A市", "A2区"));

/// 2019-W33 is 2019-08-12 … 08-18.
fn fixture() -> (Vec<Record>, Groups) {
    let mut v = Vec::new();
    // W24 (2019-06-10): four old petitions, group G0003.
    for i in 0..4 {
        let mut r = rec(
            &format!("B0{i}"),
            day("2019-06-10") + Duration::days(i),
            Some("劳动保障"),
            A1,
            Some("人社局"),
        );
        r.channel = Channel::Visit;
        v.push(r);
    }
    // W25 … W32: two 城乡建设 petitions a week (Monday and Wednesday).
    for w in 0..8 {
        for (k, off) in [(0, 0), (1, 2)] {
            let d = day("2019-06-17") + Duration::days(7 * w + off);
            let mut r = rec(&format!("C{w}{k}"), d, CJ, A1, Some("住建局"));
            r.channel = if k == 0 {
                Channel::Letter
            } else {
                Channel::Online
            };
            v.push(r);
        }
    }
    // The period, W33: ten petitions.
    let mon = day("2019-08-12");
    for i in 1..=6 {
        let mut r = rec(
            &format!("R0{i}"),
            mon + Duration::days((i % 3) as i64),
            HB,
            A2,
            Some("生态环境局"),
        );
        r.channel = Channel::Online;
        v.push(r);
    }
    v.push(rec("R07", mon, CJ, A1, Some("住建局")));
    v.push(rec("R08", mon + Duration::days(1), CJ, A1, Some("住建局")));
    let mut r9 = rec("R09", mon + Duration::days(2), None, None, None);
    r9.petitioner = None;
    r9.content = "<script>alert(1)</script>我叫张三丰，电话13812345678".into();
    v.push(r9);
    let mut r10 = rec("R10", mon + Duration::days(3), CJ, A1, Some("住建局"));
    r10.bypass = Some(true);
    r10.channel = Channel::Visit;
    v.push(r10);

    let get =
        |v: &mut Vec<Record>, id: &str| -> usize { v.iter().position(|r| r.id == id).unwrap() };
    // R01: collective (6 people); accepted next working day; closed after 10 days (due = +60); 满意.
    let i = get(&mut v, "R01");
    v[i].headcount = 6;
    v[i].accepted_at = Some(v[i].received_at + Duration::days(1));
    v[i].closed_at = Some(v[i].received_at + Duration::days(10));
    v[i].status = Some("已办结".into());
    v[i].satisfaction = Some(Satisfaction::Satisfied);
    // R02: accepted after 12 calendar days (> 5 working days); closed after 70 days (late); 不满意.
    let i = get(&mut v, "R02");
    v[i].accepted_at = Some(v[i].received_at + Duration::days(12));
    v[i].closed_at = Some(v[i].received_at + Duration::days(70));
    v[i].satisfaction = Some(Satisfaction::Dissatisfied);
    // R03: open, due 2019-08-15 → overdue at 08-18; not rated; PII and a script in the title.
    let i = get(&mut v, "R03");
    v[i].status = Some("办理中".into());
    v[i].due_at = Some(at(day("2019-08-15")));
    v[i].satisfaction = Some(Satisfaction::NotRated);
    v[i].title = "<script>alert(1)</script>我叫张三丰，电话13812345678".into();
    // R07: accepted the same day; due +3 days, closed +5 (late); 基本满意.
    let i = get(&mut v, "R07");
    v[i].accepted_at = Some(v[i].received_at);
    v[i].due_at = Some(v[i].received_at + Duration::days(3));
    v[i].closed_at = Some(v[i].received_at + Duration::days(5));
    v[i].satisfaction = Some(Satisfaction::BasicallySatisfied);
    // R07 is the same petitioner as C70 (W32), in the same group: a repeat.
    v[i].petitioner = Some("PC70".into());
    v.sort_by(|a, b| a.id.cmp(&b.id));

    let g = |id: &str, label: &str, members: Vec<&str>, trend: Trend, unit: &str| {
        let recs: Vec<&Record> = v
            .iter()
            .filter(|r| members.contains(&r.id.as_str()))
            .collect();
        Group {
            id: id.into(),
            label: label.into(),
            anchor: None,
            key_terms: vec![],
            size: recs.len(),
            distinct_petitioners: recs
                .iter()
                .filter_map(|r| r.petitioner.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            total_headcount: recs.iter().map(|r| r.headcount as u64).sum(),
            first_seen: recs.iter().map(|r| r.received_at).min().unwrap(),
            last_seen: recs.iter().map(|r| r.received_at).max().unwrap(),
            weeks_active: 1,
            trend,
            regions: vec![],
            units: vec![(unit.into(), recs.len())],
            open: 1,
            closed: recs.len() - 1,
            heat: 1.0,
            batch_score: 0.0,
            batch_reasons: vec![],
            representative: members[0].into(),
            members: members.iter().map(|&s| s.into()).collect(),
            weekly: Vec::new(),
        }
    };
    let g1 = g(
        "G0001",
        "丽景花园小区漏水维修",
        vec!["C60", "C61", "C70", "C71", "R07", "R08"],
        Trend::Steady,
        "住建局",
    );
    let g2 = g(
        "G0002",
        "某化工厂夜间排污异味",
        vec!["R01", "R02", "R03", "R04", "R05", "R06"],
        Trend::New,
        "生态环境局",
    );
    let g3 = g(
        "G0003",
        "某公司拖欠工资",
        vec!["B00", "B01", "B02", "B03"],
        Trend::Fading,
        "人社局",
    );
    let mut members = Vec::new();
    for r in &v {
        let gid = [&g1, &g2, &g3]
            .iter()
            .find(|g| g.members.contains(&r.id))
            .map(|g| g.id.as_str().into());
        members.push(Member {
            id: r.id.as_str().into(),
            group_id: gid.unwrap_or_else(|| "-".into()),
            similarity: 0.5,
            is_repeat: r.id == "R07",
        });
    }
    (
        v,
        Groups {
            groups: vec![g2, g1, g3],
            members,
            last_id: 0,
        },
    )
}

fn w33() -> Period {
    calendar::parse_week("2019-W33").unwrap()
}

/// The trends stage on `recs`.
fn trends_of(
    records: &[Record],
    groups: &Groups,
    period: &Period,
    opts: &trends::Options,
) -> minqing::Result<Trends> {
    let inferred = minqing::inferred::Inferred::default();
    let input = trends::Input {
        records,
        inferred: &inferred,
        groups,
        period,
    };
    trends::run(input, opts)
}

/// The charts stage into `dir/charts` with default options.
fn charts_of(t: &Trends, dir: &Path, show: bool) -> minqing::Result<Vec<charts::Chart>> {
    let input = charts::Input {
        trends: t,
        charts_dir: &dir.join("charts"),
        show_personal_data: show,
    };
    charts::run(input, &Default::default())
}

/// The report stage into `dir` with default options.
fn report_of(
    dir: &Path,
    records: &[Record],
    t: &Trends,
    charts: &[charts::Chart],
    method: &report::MethodNote,
    show: bool,
) -> minqing::Result<report::Written> {
    let input = report::Input {
        run_dir: dir,
        records,
        trends: t,
        charts,
        method,
        show_personal_data: show,
    };
    report::run(input, &Default::default())
}

#[test]
fn week_parsing() {
    let p = calendar::parse_week("2019-W33").unwrap();
    assert_eq!(
        (p.from, p.to, p.label.as_str()),
        (day("2019-08-12"), day("2019-08-18"), "2019-W33")
    );
    assert_eq!(
        calendar::parse_week("2019w1").unwrap().from,
        day("2018-12-31")
    );
    assert_eq!(
        calendar::parse_week("2020-W53").unwrap().to,
        day("2021-01-03")
    );
    assert!(calendar::parse_week("2019-W54").is_none());
    assert!(calendar::parse_week("2019-33").is_none());
    assert!(calendar::parse_week("xx").is_none());
    let (recs, _) = fixture();
    // Newest record is Thursday 2019-08-15 → W33 incomplete → W32.
    assert_eq!(
        calendar::latest_complete_week(&recs).unwrap().label,
        "2019-W32"
    );
    assert_eq!(calendar::latest_complete_week(&[]), None);
}

/// A 月报: the period is the calendar month, 上期 the previous calendar month, and the brief and
/// charts say 月 where a 周报 says 周.
#[test]
fn monthly_brief_counts_calendar_months() {
    let aug = calendar::parse_month("2019-08").unwrap();
    assert_eq!(
        (aug.from, aug.to, aug.label.as_str()),
        (day("2019-08-01"), day("2019-08-31"), "2019-08")
    );
    assert!(aug.is_month() && !aug.is_week());
    for s in ["2019-8", "201908", "2019年8月", "2019/08"] {
        assert_eq!(calendar::parse_month(s).as_ref(), Some(&aug), "{s}");
    }
    assert!(calendar::parse_month("2019-13").is_none() && calendar::parse_month("x").is_none());
    let (recs, groups) = fixture();
    // Newest record is 2019-08-15 → August incomplete → July.
    assert_eq!(
        calendar::latest_complete(&recs, PeriodKind::Month)
            .unwrap()
            .label,
        "2019-07"
    );
    let t = trends_of(&recs, &groups, &aug, &Default::default()).unwrap();
    // August: C70 (08-05), C71 (08-07) and the ten W33 petitions. July: weeks W27–W31 of the
    // twice-weekly 城乡建设 series (07-01 … 07-31) = 10. June is not fully covered (data starts
    // 06-10), so July is the only baseline month and June gives no 环比 base for July.
    assert_eq!(t.total.current, 12);
    assert_eq!(t.total.previous, Some(10));
    assert_eq!(t.total.year_ago, None);
    let labels: Vec<&str> = t.weeks.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(
        &labels[labels.len() - 3..],
        ["2019-06", "2019-07", "2019-08"]
    );
    let jul = trends_of(&recs, &groups, &aug.shifted(1), &Default::default()).unwrap();
    assert_eq!((jul.total.current, jul.total.previous), (10, None));

    let (md, _, dir) = render_period(
        &recs,
        &groups,
        &aug,
        &Default::default(),
        &Default::default(),
        false,
    );
    assert!(md.contains("信访形势月报（2019-08）"), "{md}");
    let svg = std::fs::read_to_string(dir.path().join("charts/weekly_channel.svg")).unwrap();
    assert!(svg.contains("近期各月"), "{svg}");
}

#[test]
fn numbers_match_hand_computation() {
    let (recs, groups) = fixture();
    assert_eq!(recs.len(), 30);
    let t = trends_of(&recs, &groups, &w33(), &Default::default()).unwrap();
    // 10 petitions in W33; W32 had C70, C71 → 2; no data a year earlier → 同比 absent.
    assert_eq!(t.total.current, 10);
    assert_eq!(t.total.previous, Some(2));
    assert_eq!(t.total.year_ago, None);
    assert_eq!(t.total.wow(), Some(400.0));
    // 人次: R01 has 6, the other nine 1 → 15. Distinct petitioners: nine named (R09 none).
    assert_eq!(t.headcount.current, 15);
    assert_eq!(t.distinct_petitioners, Some(9));
    assert_eq!(t.weeks.len(), 9);
    assert_eq!(t.weekly_by_channel.last().unwrap().iter().sum::<u64>(), 10);
    // Categories: 环境保护 6, 城乡建设 3 (R07, R08, R10), one missing.
    assert_eq!(t.categories[0].name, "环境保护");
    assert_eq!(t.categories[0].count.current, 6);
    assert_eq!(t.categories[1].count.current, 3);
    assert_eq!(t.missing_category, 1);
    // Rising: 环境保护 never seen before: λ floored to 0.5, P(X≥6) = 1.4e-5 < 0.01.
    assert!(t.categories[0].rising);
    assert!(
        t.categories[0].p_value < 2e-5 && t.categories[0].p_value > 1e-5,
        "{}",
        t.categories[0].p_value
    );
    // 城乡建设: 3 against a baseline of 2/week → P(X≥3|2) = 0.32, not rising.
    assert!(!t.categories[1].rising);
    assert!((t.categories[1].baseline_mean - 2.0).abs() < 1e-9);
    // KPIs (period): 及时受理 R01 (1 working day) and R07 (0) of R01, R02, R07 → 2/3.
    let k = &t.kpi;
    assert_eq!(k.timely_accept.map(|r| (r.num, r.den)), Some((2, 3)));
    // 按期办结: R01 closed day 10 of 60 (on time); R02 day 70 of 60 (late); R07 day 5 of 3 (late) → 1/3.
    assert_eq!(k.on_time_close.map(|r| (r.num, r.den)), Some((1, 3)));
    // 满意率: 满意 + 基本满意 = R01, R07 of rated R01, R02, R07 → 2/3; 参评率 3 of 4 (R03 未评价).
    assert_eq!(k.satisfied.map(|r| (r.num, r.den)), Some((2, 3)));
    assert_eq!(k.rated.map(|r| (r.num, r.den)), Some((3, 4)));
    // Cycle (10 + 70 + 5) / 3 days.
    assert!((k.avg_cycle_days.unwrap() - 85.0 / 3.0).abs() < 1e-9);
    // Overdue: R03 (open, due 08-15).
    assert_eq!(k.overdue_open, Some(1));
    assert_eq!(t.overdue[0].id, "R03");
    assert_eq!(t.overdue[0].days_over, 3);
    // Per unit: 生态环境局 has R01..R06.
    let eco = t.kpi_units.iter().find(|u| u.name == "生态环境局").unwrap();
    assert_eq!(eco.petitions, 6);
    assert_eq!(eco.on_time_close.map(|r| (r.num, r.den)), Some((1, 2)));
    // 人社局 has nothing in the period: no KPI row.
    assert!(t.kpi_units.iter().all(|u| u.name != "人社局"));
    // Repeat, collective, bypass.
    assert_eq!(t.repeat, Some(vec!["R07".to_string()]));
    assert_eq!(t.collective, vec!["R01".to_string()]);
    assert_eq!(t.collective_headcount, 6);
    assert_eq!(t.bypass, Some(vec!["R10".to_string()]));
    // Groups: G0002 new with 6; G0001 2 in period, not new.
    let g2 = t.groups.iter().find(|g| g.id == "G0002").unwrap();
    assert!(g2.new && g2.in_period == 6 && g2.headcount_in_period == 11);
    let g1 = t.groups.iter().find(|g| g.id == "G0001").unwrap();
    assert!(!g1.new && g1.in_period == 2);
    assert_eq!(g1.weekly.iter().sum::<u64>(), 6);
    assert_eq!(g1.ids, vec!["R07", "R08"]);
}

#[test]
fn missing_data_is_unavailable_not_zero() {
    // Message-board style: no units, status, satisfaction, petitioner or bypass.
    let (mut recs, _) = fixture();
    for r in &mut recs {
        r.responsible_unit = None;
        r.status = None;
        r.accepted_at = None;
        r.due_at = None;
        r.closed_at = None;
        r.satisfaction = None;
        r.bypass = None;
        r.petitioner = None;
    }
    let groups = Groups::default();
    let t = trends_of(&recs, &groups, &w33(), &Default::default()).unwrap();
    assert_eq!(t.kpi.timely_accept, None);
    assert_eq!(t.kpi.on_time_close, None);
    assert_eq!(t.kpi.satisfied, None);
    assert_eq!(t.kpi.rated, None);
    assert_eq!(t.kpi.avg_cycle_days, None);
    assert_eq!(t.kpi.overdue_open, None);
    assert_eq!(t.bypass, None);
    assert_eq!(t.repeat, None);
    assert_eq!(t.distinct_petitioners, None);
    let dir = tempfile::tempdir().unwrap();
    let method = report::MethodNote::default();
    let input = report::Input {
        run_dir: dir.path(),
        records: &recs,
        trends: &t,
        charts: &[],
        method: &method,
        show_personal_data: false,
    };
    let doc = report::build(&input, &Default::default());
    let w = report_of(dir.path(), &recs, &t, &[], &method, false).unwrap();
    let md = std::fs::read_to_string(&w.markdown).unwrap();
    assert!(md.contains("及时受理率无数据"), "{md}");
    assert!(md.contains("| 越级访 | 无数据 |"), "{md}");
    assert!(md.contains("| 重复访 | 无数据 |"), "{md}");
    assert!(md.contains("信访人信息无数据"), "{md}");
    assert!(
        !md.contains("（0/0）") && !md.contains("率0.0%"),
        "a missing rate shown as zero: {md}"
    );
    assert_eq!(doc.sections.len(), 9);
}

/// A column that would say 无数据 in every row of the case-group table (no status, no unit for
/// any group) is left out, and one sentence says so.
#[test]
fn case_group_columns_without_data_are_said_once() {
    let (mut recs, mut groups) = fixture();
    for r in &mut recs {
        r.responsible_unit = None;
        r.status = None;
        r.closed_at = None;
    }
    for g in &mut groups.groups {
        g.units.clear();
    }
    let t = trends_of(&recs, &groups, &w33(), &Default::default()).unwrap();
    assert!(t.groups.iter().any(|g| g.in_period > 0));
    assert!(t.groups.iter().all(|g| g.lead_unit.is_none()));
    let dir = tempfile::tempdir().unwrap();
    let method = report::MethodNote::default();
    let w = report_of(dir.path(), &recs, &t, &[], &method, false).unwrap();
    let md = std::fs::read_to_string(&w.markdown).unwrap();
    let section = &md[md.find("## 五、同质化类案").unwrap()..md.find("## 六、").unwrap()];
    assert_eq!(
        section.matches("类案办理状态无数据").count(),
        1,
        "{section}"
    );
    assert_eq!(
        section.matches("类案建议牵头单位无数据").count(),
        1,
        "{section}"
    );
    assert!(
        section.contains("| 编号 | 类案 | 本期件次 | 累计（件/人/人次） | 时间跨度 | 走势 |"),
        "{section}"
    );
    assert!(!section.contains("| 无数据 |"), "{section}");
}

fn render(show: bool) -> (String, String, tempfile::TempDir) {
    let (recs, groups) = fixture();
    let method = report::MethodNote {
        rows_read: 31,
        rows_stored: 30,
        rows_rejected: 1,
        duplicates: 0,
        inputs: vec!["fixture.csv".into()],
        settings: vec!["趋势参数：基线为此前8期。".into()],
        inferred: Vec::new(),
        period: None,
    };
    render_period(&recs, &groups, &w33(), &method, &Default::default(), show)
}

/// The brief of `period` over `recs` in a fresh folder: (brief.md, brief.html, folder).
fn render_period(
    recs: &[Record],
    groups: &Groups,
    period: &Period,
    method: &report::MethodNote,
    opts: &trends::Options,
    show: bool,
) -> (String, String, tempfile::TempDir) {
    let t = trends_of(recs, groups, period, opts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ch = charts_of(&t, dir.path(), show).unwrap();
    let w = report_of(dir.path(), recs, &t, &ch, method, show).unwrap();
    let md = std::fs::read_to_string(&w.markdown).unwrap();
    let html = std::fs::read_to_string(&w.html).unwrap();
    (md, html, dir)
}

/// The method note of the hot-issue section states the minimum count the pipeline set, not the
/// default.
#[test]
fn method_note_states_the_configured_minimum_count() {
    let (recs, groups) = fixture();
    let note = |min_count: u64| {
        let opts = trends::Options {
            min_count,
            ..Default::default()
        };
        let (md, _, _dir) =
            render_period(&recs, &groups, &w33(), &Default::default(), &opts, false);
        md
    };
    assert!(note(3).contains("本期件次不少于3且"));
    let five = note(5);
    assert!(five.contains("本期件次不少于5且"), "{five}");
    assert!(!five.contains("本期件次不少于3"));
}

/// The brief's document model of `t` with `max_rows` (no charts, the default method note).
fn doc_of(records: &[Record], t: &Trends, max_rows: usize) -> report::Doc {
    let method = report::MethodNote::default();
    let input = report::Input {
        run_dir: Path::new("."),
        records,
        trends: t,
        charts: &[],
        method: &method,
        show_personal_data: false,
    };
    let opts = report::Options {
        max_rows,
        ..Default::default()
    };
    report::build(&input, &opts)
}

/// Each list of case groups names at most `max_rows` of them (the most petitions in the period
/// first); the count of groups is of all of them, and the appendix traces the named ones and
/// the rest in one row.
#[test]
fn a_brief_names_at_most_max_rows_groups_and_counts_the_rest() {
    let (recs, groups) = fixture();
    let t = trends_of(&recs, &groups, &w33(), &Default::default()).unwrap();
    // (section 五's first paragraph, table 4's group ids, the appendix's first column)
    let brief = |max_rows: usize| {
        let doc = doc_of(&recs, &t, max_rows);
        let (mut said, mut table, mut appendix) = (String::new(), Vec::new(), Vec::new());
        for sec in &doc.sections {
            for b in &sec.blocks {
                match b {
                    report::Block::Para(p) if sec.title.starts_with("五") && said.is_empty() => {
                        said = p.clone()
                    }
                    report::Block::Table(caption, _, rows) if caption.starts_with("表4") => {
                        table = rows.iter().map(|r| r[0].clone()).collect()
                    }
                    report::Block::Table(caption, _, rows) if caption.starts_with("附表") => {
                        appendix = rows.iter().map(|r| (r[0].clone(), r[1].clone())).collect()
                    }
                    _ => {}
                }
            }
        }
        (said, table, appendix)
    };
    let in_appendix = |rows: &[(String, String)], what: &str| rows.iter().any(|r| r.0 == what);

    // G0002: 6 petitions in W33, new; G0001: 2; G0003: none.
    let (said, table, appendix) = brief(15);
    assert!(said.starts_with("本期信访件涉及同质化类案2个，"), "{said}");
    assert!(!said.contains("其余"), "{said}");
    assert_eq!(table, ["G0002", "G0001"]);
    assert!(in_appendix(&appendix, "类案：G0001") && in_appendix(&appendix, "类案：G0002"));
    assert!(!appendix.iter().any(|r| r.0.contains("其余类案")));

    let (said, table, appendix) = brief(1);
    assert!(said.starts_with("本期信访件涉及同质化类案2个，"), "{said}");
    assert!(
        said.contains("表4列出本期件次最多的1个；其余1个（本期共2件次）"),
        "{said}"
    );
    assert_eq!(table, ["G0002"]);
    assert!(in_appendix(&appendix, "类案：G0002"));
    assert!(!in_appendix(&appendix, "类案：G0001"));
    let rest = appendix.iter().find(|r| r.0.contains("其余类案"));
    assert_eq!(
        rest.map(|r| (r.0.as_str(), r.1.as_str())),
        Some(("正文未列出的其余类案（1个）", "2"))
    );
}

/// Section 四 lists at most `max_rows` rising places of each level and counts the rest.
#[test]
fn rising_places_beyond_max_rows_are_counted() {
    let (mut recs, groups) = fixture();
    // A3区: six petitions in W33 and none before, as A2区 has.
    for i in 0..6 {
        let d = day("2019-08-12") + Duration::days(i % 3);
        recs.push(rec(&format!("S0{i}"), d, HB, Some(("A市", "A3区")), None));
    }
    recs.sort_by(|a, b| a.id.cmp(&b.id));
    let t = trends_of(&recs, &groups, &w33(), &Default::default()).unwrap();
    let bullets = |max_rows: usize| -> Vec<String> {
        let doc = doc_of(&recs, &t, max_rows);
        let hot = doc.sections.iter().find(|s| s.title.starts_with("四"));
        let mut out = Vec::new();
        for b in &hot.unwrap().blocks {
            if let report::Block::Bullets(items) = b {
                out.extend(
                    items
                        .iter()
                        .filter(|i| i.contains("地区") || i.contains("区县"))
                        .cloned(),
                );
            }
        }
        out
    };
    let all = bullets(15);
    assert!(
        all.iter().any(|b| b.starts_with("地区“A市/A2区”")),
        "{all:?}"
    );
    assert!(
        all.iter().any(|b| b.starts_with("地区“A市/A3区”")),
        "{all:?}"
    );
    assert!(!all.iter().any(|b| b.starts_with("另有")), "{all:?}");
    let one = bullets(1);
    let districts = one.iter().filter(|b| b.starts_with("地区“A市/")).count();
    assert_eq!(districts, 1, "{one:?}");
    assert!(
        one.contains(&"另有1个区县明显上升（本期共6件次）未逐一列出，见附表。".to_string()),
        "{one:?}"
    );
}

#[test]
fn golden_markdown_and_determinism() {
    let (md, html, dir) = render(false);
    let golden =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/brief/brief_2019-W33.md");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &md).unwrap();
        std::fs::write(golden.with_extension("html"), &html).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap();
    assert_eq!(
        md, want,
        "brief.md differs from the golden file (UPDATE_GOLDEN=1 to refresh)"
    );
    let (md2, html2, _d) = render(false);
    assert_eq!((md, &html), (md2, &html2), "output not deterministic");
    for name in [
        "weekly_channel",
        "category_share",
        "region_rank",
        "category_heat",
        "group_sparklines",
        "unit_kpi",
    ] {
        let svg = std::fs::read_to_string(dir.path().join(format!("charts/{name}.svg"))).unwrap();
        assert!(svg.contains("Noto Sans CJK SC"), "{name}");
    }
    // Section order.
    let heads: Vec<&str> = html2.lines().filter(|l| l.starts_with("<h2>")).collect();
    assert_eq!(heads.len(), 9);
    assert!(heads[0].contains("一、总体情况") && heads[8].contains("九、附表"));
}

#[test]
fn masking_and_escaping() {
    let (md, html, _d) = render(false);
    for out in [&md, &html] {
        assert!(!out.contains("13812345678"));
        assert!(!out.contains("张三丰"));
        assert!(!out.contains("<script>"), "unescaped script");
    }
    assert!(html.contains("&lt;script&gt;"));
    assert!(html.contains("张某"));
    assert!(!html.contains("src=\"http"), "external resource");
    let (md, html, _d) = render(true);
    assert!(md.contains("13812345678") && html.contains("张三丰"));
    assert!(!html.contains("<script>"));
}

#[test]
fn poisson_tail() {
    assert!((trends::poisson_upper(0, 3.0) - 1.0).abs() < 1e-12);
    // P(X ≥ 1 | 1) = 1 - e^-1.
    assert!((trends::poisson_upper(1, 1.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
    // P(X ≥ 3 | 2) = 1 - e^-2 (1 + 2 + 2) = 0.3233.
    assert!((trends::poisson_upper(3, 2.0) - 0.323_323_583_8).abs() < 1e-9);
}

/// `cargo test --release --test it bench_1m -- --ignored --nocapture`: trends + charts + report on
/// 1,000,000 synthetic petitions (budget 10 s).
#[test]
#[ignore]
fn bench_1m() {
    let cats = [
        "城乡建设",
        "环境保护",
        "劳动保障",
        "交通运输",
        "教育文体",
        "卫生计生",
        "商贸旅游",
    ];
    let units = ["住建局", "生态环境局", "人社局", "交通局", "教育局"];
    let start = day("2018-01-01");
    let mut recs = Vec::with_capacity(1_000_000);
    let mut members = Vec::with_capacity(1_000_000);
    for i in 0..1_000_000u64 {
        let d = start + Duration::days((i % 600) as i64);
        let mut r = rec(
            &format!("X{i:07}"),
            d,
            Some(cats[(i % 7) as usize]),
            Some(("A市", ["A1区", "A2区", "A3区"][(i % 3) as usize])),
            Some(units[(i % 5) as usize]),
        );
        r.petitioner = Some(format!("P{}", i % 200_000).into());
        r.headcount = 1 + (i % 9 == 0) as u32 * 5;
        r.accepted_at = Some(r.received_at + Duration::days((i % 8) as i64));
        if i % 3 != 0 {
            r.closed_at = Some(r.received_at + Duration::days((i % 90) as i64));
            r.status = Some("已办结".into());
        } else {
            r.status = Some("办理中".into());
        }
        r.satisfaction = Some(
            [
                Satisfaction::Satisfied,
                Satisfaction::Dissatisfied,
                Satisfaction::NotRated,
            ][(i % 3) as usize],
        );
        members.push(Member {
            id: r.id.as_str().into(),
            group_id: format!("G{:04}", i % 50).into(),
            similarity: 0.5,
            is_repeat: i % 11 == 0,
        });
        recs.push(r);
    }
    let groups = Groups {
        groups: vec![],
        members,
        last_id: 0,
    };
    let p = calendar::parse_week("2019-W33").unwrap();
    let t0 = std::time::Instant::now();
    let t = trends_of(&recs, &groups, &p, &Default::default()).unwrap();
    let t1 = t0.elapsed();
    let dir = tempfile::tempdir().unwrap();
    let ch = charts_of(&t, dir.path(), false).unwrap();
    report_of(dir.path(), &recs, &t, &ch, &Default::default(), false).unwrap();
    let all = t0.elapsed();
    eprintln!(
        "trends {t1:?}, trends+charts+report {all:?}, {} in period",
        t.records_in_period
    );
    assert!(all.as_secs_f64() <= 10.0);
}

#[test]
fn cli_brief_renders_a_chosen_week() {
    let (mut recs, groups) = fixture();
    let dir = tempfile::tempdir().unwrap();
    minqing::store::write(dir.path(), &mut recs).unwrap();
    std::fs::create_dir_all(dir.path().join("groups")).unwrap();
    std::fs::write(
        dir.path().join("groups/groups.json"),
        serde_json::to_vec(&groups).unwrap(),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_minqing"))
        .args(["brief", "--out"])
        .arg(dir.path())
        .args(["--week", "2019-W33"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("brief.html") && stdout.contains("brief.md"),
        "{stdout}"
    );
    let md = std::fs::read_to_string(dir.path().join("brief.md")).unwrap();
    assert!(md.contains("新增类案G0002"), "{md}");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_minqing"))
        .args(["brief", "--out"])
        .arg(dir.path())
        .args(["--week", "2019-33"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

/// Real message-board data (tipdm2020 attachment 3), read directly with `csv` (no importer on
/// this branch): `cargo test --release --test it real_bursts -- --ignored --nocapture`.
#[test]
#[ignore]
fn real_bursts() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/realdata/tipdm2020/attachment3_hotspot_4326.csv");
    let Ok(mut rd) = csv::Reader::from_path(&p) else {
        return;
    };
    let re = regex::Regex::new(r"A\d+区").unwrap();
    let mut recs = Vec::new();
    for row in rd.records() {
        let row = row.unwrap();
        let Ok(t) = NaiveDateTime::parse_from_str(row[3].trim(), "%Y/%m/%d %H:%M:%S") else {
            continue;
        };
        let text = format!("{}{}", &row[2], &row[4]);
        let region = re.find(&text).map(|m| m.as_str().to_string());
        let mut r = rec(&row[0], t.date(), None, None, None);
        r.received_at = t;
        r.channel = Channel::MessageBoard;
        r.title = row[2].into();
        r.petitioner = Some(row[1].into());
        r.region = [
            region.as_ref().map(|_| "A市".into()),
            region.map(Into::into),
            None,
        ];
        recs.push(r);
    }
    for wk in ["2019-W33", "2019-W50"] {
        let t = trends_of(
            &recs,
            &Groups::default(),
            &calendar::parse_week(wk).unwrap(),
            &Default::default(),
        )
        .unwrap();
        let series: Vec<u64> = t.weekly_by_channel.iter().map(|w| w.iter().sum()).collect();
        eprintln!(
            "{wk}: {} ({:?}) weekly {series:?}",
            t.total.current,
            t.total.wow()
        );
        for r in t.regions[1].iter().filter(|r| r.rising) {
            eprintln!(
                "  rising {} {} base {:.1} p {:.2e}",
                r.name, r.count.current, r.baseline_mean, r.p_value
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let ch = charts_of(&t, dir.path(), false).unwrap();
        let w = report_of(dir.path(), &recs, &t, &ch, &Default::default(), false).unwrap();
        std::fs::copy(&w.html, format!("/tmp/real_{wk}.html")).unwrap();
    }
}

/// Message-board data has no head counts: its 集体访 is unknown (无数据), never 0.
#[test]
fn collective_visits_unknown_without_head_counts() {
    use crate::common::{run_pipeline, stderr};
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("留言编号,留言时间,留言主题,留言详情\n");
    for i in 0..30 {
        csv.push_str(&format!(
            "{i},2019-08-{:02} 09:00:00,小区噪音,晚上施工噪音扰民第{i}次\n",
            i % 20 + 1
        ));
    }
    let input = dir.path().join("board.csv");
    std::fs::write(&input, csv).unwrap();
    let out = dir.path().join("out");
    let r = run_pipeline(&input, &out, &[]);
    assert!(r.status.success(), "{}", stderr(&r));
    let md = std::fs::read_to_string(out.join("brief.md")).unwrap();
    let row = md
        .lines()
        .find(|l| l.starts_with("| 集体访 |"))
        .expect("集体访 row");
    assert!(row.contains("无数据"), "{row}");
}

/// `minqing brief` renders with the run's own options and full method note: for the run's week
/// it reproduces the run's brief byte for byte.
#[test]
fn brief_command_matches_the_run() {
    use crate::common::{run, stderr};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let sample = dir.path().join("s.csv");
    let s = sample.to_str().unwrap();
    assert!(
        run(&["-q", "sample", "--rows", "1500", "--seed", "3", "--out", s])
            .status
            .success()
    );
    let r = run(&["-q", "run", "--input", s, "--out", o]);
    assert!(r.status.success(), "{}", stderr(&r));
    let first = std::fs::read_to_string(out.join("brief.md")).unwrap();
    let r = run(&["-q", "brief", "--out", o]);
    assert!(r.status.success(), "{}", stderr(&r));
    let again = std::fs::read_to_string(out.join("brief.md")).unwrap();
    assert_eq!(first, again);
    assert!(
        again.contains("读入1,500行") || again.contains("读入1500行"),
        "{again}"
    );
}

/// The first of `names` on PATH.
fn first_on_path(names: &[&str]) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    names
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// The first Chromium-family browser on PATH.
fn chromium() -> Option<std::path::PathBuf> {
    first_on_path(&[
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ])
}

/// brief.docx as Word and WPS users get it (issue 17): a run on a small generated corpus, its
/// brief.docx converted to PDF by LibreOffice headless. The PDF must have pages, and (with
/// poppler's pdftotext) carry the brief's title, a section title and a table caption. Skips
/// (saying so) without LibreOffice: `.ci/run` installs it.
#[test]
fn brief_docx_converts_to_pdf_with_libreoffice() {
    use crate::common::{sample_run, stderr};
    use std::process::{Command, Stdio};

    let Some(soffice) = first_on_path(&["soffice", "libreoffice"]) else {
        eprintln!(
            "skipped: no LibreOffice (soffice) on PATH (apt-get install libreoffice-writer-nogui)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = sample_run(dir.path(), "600", "11");
    let docx = out.join("brief.docx");
    assert!(docx.is_file());
    let pdf_dir = dir.path().join("pdf");
    let o = Command::new(&soffice)
        // Own profile: parallel runs must not share LibreOffice's profile lock.
        .arg(format!(
            "-env:UserInstallation=file://{}",
            dir.path().join("profile").display()
        ))
        .args(["--headless", "--convert-to", "pdf", "--outdir"])
        .arg(&pdf_dir)
        .arg(&docx)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let pdf = pdf_dir.join("brief.pdf");
    assert!(o.status.success() && pdf.is_file(), "{}", stderr(&o));
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    let Some(pdftotext) = first_on_path(&["pdftotext"]) else {
        eprintln!("pdftotext absent (apt-get install poppler-utils): PDF text not checked");
        return;
    };
    let o = Command::new(pdftotext).arg(&pdf).arg("-").output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).replace([' ', '\n'], "");
    for want in [
        "信访形势周报",
        "一、总体情况",
        "五、同质化类案",
        "表2",
        "九、附表及方法说明",
    ] {
        assert!(text.contains(want), "{want} not in the PDF:\n{text}");
    }
    // Page numbers in the footer: `- 1 -` on the first page, `- 2 -` on the second.
    assert!(text.contains("-1-") && text.contains("-2-"), "{text}");
}

/// The HTML brief as a reader sees it (issue 5): a run on a small generated corpus, its
/// brief.html screenshotted by headless Chromium. The PNG must be the full window and far
/// bigger than a blank page. Skips (saying so) when no Chromium is on PATH or no CJK font is
/// installed: `.ci/run` installs both where it can.
#[test]
fn brief_html_renders_in_headless_chromium() {
    use crate::common::{run_pipeline, sample, stderr};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let Some(browser) = chromium() else {
        eprintln!("skipped: no chromium (chromium, chromium-browser, google-chrome) on PATH");
        return;
    };
    // Without a CJK font every label renders as boxes: that is the machine, not the brief.
    if let Ok(fc) = Command::new("fc-list")
        .args([":lang=zh", "family"])
        .output()
    {
        if !fc.status.success() || fc.stdout.is_empty() {
            eprintln!("skipped: chromium found but no CJK font (apt-get install fonts-noto-cjk)");
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("petitions.csv");
    sample(&input, "600", "11");
    let out = dir.path().join("out");
    let o = run_pipeline(&input, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = out.join("brief.html");
    assert!(html.is_file());

    let png = dir.path().join("brief.png");
    let log = dir.path().join("chromium.log");
    let mut child = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1000,2400",
        ])
        // Own profile: parallel runs must not share a profile lock.
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Never hang the suite on a browser that does not exit.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} did not finish within 120 s:\n{}",
                browser.display(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        status.success(),
        "{} failed: {status}\n{log}",
        browser.display()
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot ({e}):\n{log}"));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // IHDR: width and height, big-endian, right after the signature and chunk header.
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    assert_eq!((be(16), be(20)), (1000, 2400), "screenshot size");
    // A blank 1000×2400 page compresses to a few KB; the brief's text, tables and charts do not.
    assert!(
        bytes.len() > 60_000,
        "screenshot only {} bytes: the brief rendered (nearly) empty",
        bytes.len()
    );
}

/// The method note names the settings that shape the brief in Chinese sentences, never as Rust
/// debug output, in the brief a run writes and in one `minqing brief` renders later.
#[test]
fn method_note_states_the_settings_in_words() {
    use crate::common::{run, sample_run, stderr};
    let dir = tempfile::tempdir().unwrap();
    let out = sample_run(dir.path(), "300", "5");
    let check = |what: &str| {
        for name in ["brief.md", "brief.html"] {
            let text = std::fs::read_to_string(out.join(name)).unwrap();
            let note = &text[text.find("九、附表及方法说明").expect("method section")..];
            assert!(
                !note.contains('{') && !note.contains("Options"),
                "{what} {name}: {note}"
            );
            for words in [
                "类案参数：",
                "相似度（余弦）达到0.3",
                "同一信访人再次反映",
                "见于4个以上对象名称的字段",
                "未识别出对象的需达到0.8",
                "至少一件识别出对象",
                "趋势参数：",
                "基线为此前8期",
            ] {
                assert!(note.contains(words), "{what} {name} lacks {words}: {note}");
            }
        }
    };
    check("run");
    let o = run(&[
        "brief",
        "--out",
        out.to_str().unwrap(),
        "--week",
        "2019-W33",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    check("minqing brief");
}
