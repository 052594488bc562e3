//! The polars pipeline against the loop it replaced, on random small record sets.

use chrono::{Duration, NaiveDate};
use proptest::prelude::*;

use super::*;
use crate::cluster::{Group, Member, UNCLUSTERED};
use crate::schema::{Channel, Record, Satisfaction};

/// One generated record: (day offset, channel, category, region levels, unit, petitioner,
/// headcount, status, (accepted, due, closed) offsets in hours, satisfaction, bypass,
/// (group, repeat)).
type Spec = (
    (
        u16,
        usize,
        Option<u8>,
        [Option<u8>; 3],
        Option<u8>,
        Option<u8>,
    ),
    (u32, Option<u8>, [Option<u16>; 3], Option<u8>, Option<bool>),
    (Option<u8>, bool),
);

fn spec() -> impl Strategy<Value = Spec> {
    let opt = |n: u8| proptest::option::of(0..n);
    (
        (
            0u16..420,
            0usize..6,
            opt(4),
            [opt(2), opt(3), opt(2)],
            opt(3),
            opt(6),
        ),
        (
            prop_oneof![4 => Just(1u32), 1 => 1u32..9],
            opt(4),
            [
                proptest::option::of(0u16..400),
                proptest::option::of(0u16..3000),
                proptest::option::of(0u16..3000),
            ],
            opt(4),
            proptest::option::of(any::<bool>()),
        ),
        (opt(5), any::<bool>()),
    )
}

fn day0() -> NaiveDate {
    NaiveDate::from_ymd_opt(2018, 6, 4).unwrap()
}

fn build(specs: &[Spec], grouped: bool) -> (Vec<Record>, Groups) {
    let name = |prefix: &str, i: Option<u8>| i.map(|i| format!("{prefix}{i}"));
    let mut records = Vec::new();
    let mut members = Vec::new();
    for (i, ((day, ch, cat, reg, unit, pet), (head, status, hours, sat, bypass), (g, rep))) in
        specs.iter().enumerate()
    {
        let received = (day0() + Duration::days(*day as i64))
            .and_hms_opt(9, 30, 0)
            .unwrap();
        let at = |h: Option<u16>| h.map(|h| received + Duration::hours(h as i64));
        let id = format!("R{i:04}");
        records.push(Record {
            id: id.as_str().into(),
            received_at: received,
            channel: Channel::ALL[*ch],
            title: format!("标题{i}").into(),
            content: "内容".into(),
            region: [name("市", reg[0]), name("区", reg[1]), name("街", reg[2])]
                .map(|l| l.map(Into::into)),
            petitioner: name("P", *pet).map(Into::into),
            headcount: *head,
            category: name("类", *cat).map(Into::into),
            responsible_unit: name("单位", *unit).map(Into::into),
            status: status.map(|s| ["办理中", "已办结", "已答复", "待受理"][s as usize].into()),
            accepted_at: at(hours[0]),
            due_at: at(hours[1]),
            closed_at: at(hours[2]),
            satisfaction: sat.map(|s| {
                [
                    Satisfaction::Satisfied,
                    Satisfaction::BasicallySatisfied,
                    Satisfaction::Dissatisfied,
                    Satisfaction::NotRated,
                ][s as usize]
            }),
            replied_at: None,
            likes: None,
            dislikes: None,
            bypass: *bypass,
            cold: crate::schema::Cold {
                source: "t.csv:2".into(),
                ..Default::default()
            }
            .boxed(),
        });
        if grouped {
            members.push(Member {
                id: id.into(),
                group_id: g.map_or(UNCLUSTERED.into(), |g| format!("G{g}").into()),
                similarity: 0.5,
                is_repeat: *rep,
            });
        }
    }
    // G4 has members but no group entry: it must not show up.
    let groups = (0..4)
        .map(|g| Group {
            id: format!("G{g}"),
            label: format!("组{g}"),
            anchor: None,
            key_terms: vec![],
            size: 3 + g,
            distinct_petitioners: 2,
            total_headcount: 4,
            first_seen: (day0() + Duration::days(100 * g as i64))
                .and_hms_opt(0, 0, 0)
                .unwrap(),
            last_seen: (day0() + Duration::days(400)).and_hms_opt(0, 0, 0).unwrap(),
            weeks_active: 3,
            trend: Trend::Steady,
            regions: vec![],
            units: (g % 2 == 0)
                .then(|| ("单位1".to_string(), 2))
                .into_iter()
                .collect(),
            open: 1,
            closed: 2,
            heat: 1.0,
            batch_score: 0.0,
            batch_reasons: vec![],
            representative: String::new(),
            members: vec![],
            weekly: vec![],
        })
        .collect();
    (
        records,
        Groups {
            groups,
            members,
            last_id: 4,
        },
    )
}

/// Both implementations on the same input; the average cycle is compared to 1e-9 (the loop
/// summed fractional days in record order, polars sums whole seconds), the rest exactly.
fn check(records: &[Record], groups: &Groups, period: &Period, opts: &Options) {
    let want = reference::run(records, groups, period, opts).unwrap();
    let inferred = crate::inferred::Inferred::default();
    let input = Input {
        records,
        inferred: &inferred,
        groups,
        period,
    };
    let mut got = run(input, opts).unwrap();
    let kpis = |t: &Trends| -> Vec<Kpi> {
        std::iter::once(t.kpi.clone())
            .chain(t.kpi_units.iter().cloned())
            .collect()
    };
    let (wk, gk) = (kpis(&want), kpis(&got));
    assert_eq!(wk.len(), gk.len());
    for (w, g) in wk.iter().zip(&gk) {
        match (w.avg_cycle_days, g.avg_cycle_days) {
            (Some(a), Some(b)) => assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{a} {b}"),
            (a, b) => assert_eq!(a, b),
        }
    }
    got.kpi.avg_cycle_days = want.kpi.avg_cycle_days;
    for (g, w) in got.kpi_units.iter_mut().zip(&want.kpi_units) {
        g.avg_cycle_days = w.avg_cycle_days;
    }
    assert_eq!(got, want);
    // Every petition of the period is in exactly one category row or missing.
    let cats: u64 = got.categories.iter().map(|r| r.count.current).sum();
    assert_eq!(cats + got.missing_category, got.records_in_period);
    // Every other breakdown adds up to the records of the period, counted from the records.
    let in_period: Vec<&Record> = records
        .iter()
        .filter(|r| period.periods_back(r.received_at.date()) == Some(0))
        .collect();
    let n = in_period.len() as u64;
    assert_eq!(got.records_in_period, n);
    // The city rows count the petitions with a city; missing are those without any level.
    let regs: u64 = got.regions[0].iter().map(|r| r.count.current).sum();
    let count = |f: &dyn Fn(&&&Record) -> bool| in_period.iter().filter(f).count() as u64;
    assert_eq!(regs, count(&|r| r.region[0].is_some()));
    assert_eq!(
        got.missing_region,
        count(&|r| r.region.iter().all(Option::is_none))
    );
    assert_eq!(got.total.current, n);
    assert_eq!(got.by_channel.iter().map(|c| c.1.current).sum::<u64>(), n);
    assert_eq!(
        got.weekly_by_channel.last().map_or(0, |w| w.iter().sum()),
        n
    );
    assert_eq!(got.kpi.petitions, n);
    let heads: u64 = in_period.iter().map(|r| r.headcount as u64).sum();
    assert_eq!(got.headcount.current, heads);
    for lvl in 1..3 {
        let with_level = in_period.iter().filter(|r| r.region[lvl].is_some()).count() as u64;
        let rows: u64 = got.regions[lvl].iter().map(|r| r.count.current).sum();
        assert_eq!(rows, with_level, "region level {lvl}");
    }
    let with_unit = in_period
        .iter()
        .filter(|r| r.responsible_unit.is_some())
        .count() as u64;
    assert_eq!(
        got.units.iter().map(|r| r.count.current).sum::<u64>(),
        with_unit
    );
    assert_eq!(
        got.kpi_units.iter().map(|k| k.petitions).sum::<u64>(),
        with_unit
    );
    let grouped: u64 = got.groups.iter().map(|g| g.in_period).sum();
    assert!(grouped <= n);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn polars_matches_the_loop(
        specs in proptest::collection::vec(spec(), 0..120),
        grouped in any::<bool>(),
        week in 0i64..60,
        range_days in prop_oneof![Just(7i64), 1i64..20],
        baseline_weeks in prop_oneof![Just(8usize), 0usize..60],
        close_days in 1i64..90,
        accept_working_days in 0u32..8,
    ) {
        let (records, groups) = build(&specs, grouped);
        // A period somewhere in (or past) the data: an ISO week or an arbitrary range.
        let from = day0() + Duration::days(7 * week);
        let period = if range_days == 7 {
            Period::iso_week_of(from)
        } else {
            Period::range(from, from + Duration::days(range_days - 1))
        };
        let opts = Options {
            baseline_weeks,
            close_days,
            accept_working_days,
            min_count: 1,
            ..Default::default()
        };
        check(&records, &groups, &period, &opts);
    }
}

#[test]
fn empty_input() {
    let period = crate::calendar::parse_week("2019-W33").unwrap();
    check(&[], &Groups::default(), &period, &Options::default());
}

/// `cargo test --release --lib trends::differential::timing -- --ignored --nocapture`:
/// both implementations on 1,000,000 records (the shape of the brief's bench_1m).
#[test]
#[ignore]
fn timing() {
    let specs: Vec<Spec> = (0..1_000_000u32)
        .map(|i| {
            let o = |n: u32| Some((i % n) as u8);
            (
                (
                    (i % 420) as u16,
                    (i % 6) as usize,
                    o(7),
                    [o(1), o(3), None],
                    o(5),
                    o(200),
                ),
                (
                    1 + (i % 9 == 0) as u32 * 5,
                    Some((i % 3 == 0) as u8),
                    [
                        Some((i % 8 * 24) as u16),
                        None,
                        (i % 3 != 0).then_some((i % 90 * 24) as u16),
                    ],
                    o(4),
                    None,
                ),
                (o(4), i % 11 == 0),
            )
        })
        .collect();
    let (records, groups) = build(&specs, true);
    let period = Period::iso_week_of(day0() + Duration::days(400));
    let opts = Options::default();
    for _ in 0..2 {
        let t = std::time::Instant::now();
        let a = reference::run(&records, &groups, &period, &opts).unwrap();
        let t_loop = t.elapsed();
        let t = std::time::Instant::now();
        let inferred = crate::inferred::Inferred::default();
        let input = Input {
            records: &records,
            inferred: &inferred,
            groups: &groups,
            period: &period,
        };
        let b = run(input, &opts).unwrap();
        let t_polars = t.elapsed();
        eprintln!("loop {t_loop:?}, polars {t_polars:?}");
        assert_eq!(a.records_in_period, b.records_in_period);
    }
}
