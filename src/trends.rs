//! trends stage: weekly counts, period-on-period changes, handling KPIs and rising issues.
//!
//! One pass over the records: every record is bucketed by its offset from the period start
//! (bucket 0 = the period, 1..=baseline = the trailing periods, plus the same period a year
//! earlier), so the cost is linear in the records whatever the number of weeks.
//!
//! Rising-issue test: for a category, region or group with `k` petitions in the period and a
//! trailing baseline mean `λ` over the previous `baseline_weeks` periods (λ floored at
//! `min_lambda`), the issue is flagged when `k ≥ min_count` and the Poisson upper tail
//! `P(X ≥ k | λ) < p_threshold`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::cluster::{Groups, UNCLUSTERED};
use crate::error::Result;
use crate::schema::{Channel, Record, Satisfaction};

/// `[trends]` in a pipeline file.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// 及时受理: accepted within this many working days (Mon–Fri) of receipt.
    pub accept_working_days: u32,
    /// 按期办结 when the data has no due date: received + this many days.
    pub close_days: i64,
    /// Trailing periods forming the baseline of the rising-issue test.
    pub baseline_weeks: usize,
    /// Poisson upper-tail probability below which an issue is flagged.
    pub p_threshold: f64,
    /// Minimum count in the period before an issue can be flagged.
    pub min_count: u64,
    /// Floor for the baseline mean (a thing never seen before is not infinitely surprising).
    pub min_lambda: f64,
    /// Top groups carried into the brief.
    pub top_groups: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            accept_working_days: 5,
            close_days: 60,
            baseline_weeks: 8,
            p_threshold: 0.01,
            min_count: 3,
            min_lambda: 0.5,
            top_groups: 10,
        }
    }
}

/// The reporting period, both ends inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub label: String,
}

impl Period {
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }
    /// The ISO week containing `d`.
    pub fn iso_week_of(d: NaiveDate) -> Period {
        let w = d.iso_week();
        let from =
            NaiveDate::from_isoywd_opt(w.year(), w.week(), Weekday::Mon).expect("valid week");
        Period {
            from,
            to: from + Duration::days(6),
            label: format!("{}-W{:02}", w.year(), w.week()),
        }
    }
    /// An arbitrary range.
    pub fn range(from: NaiveDate, to: NaiveDate) -> Period {
        Period {
            from,
            to,
            label: format!("{from}至{to}"),
        }
    }
    /// The period `n` lengths earlier.
    pub fn shifted(&self, n: i64) -> Period {
        let d = Duration::days(self.days() * n);
        let (from, to) = (self.from - d, self.to - d);
        if self.from.weekday() == Weekday::Mon && self.days() == 7 {
            Period::iso_week_of(from)
        } else {
            Period::range(from, to)
        }
    }
}

/// The last ISO week fully covered by the data (the week of the newest record, unless that
/// record falls on a Sunday, is taken as incomplete).
pub fn latest_complete_week(records: &[Record]) -> Option<Period> {
    let max = records.iter().map(|r| r.received_at.date()).max()?;
    let wk = Period::iso_week_of(max);
    if max == wk.to {
        Some(wk)
    } else {
        Some(wk.shifted(1))
    }
}

/// Parses `2019-W33` (also `2019W33`, `2019-w3`).
pub fn parse_week(s: &str) -> Option<Period> {
    let t = s.trim().to_ascii_uppercase();
    let (y, w) = t.split_once('W')?;
    let y: i32 = y.trim_end_matches('-').parse().ok()?;
    let w: u32 = w.parse().ok()?;
    let from = NaiveDate::from_isoywd_opt(y, w, Weekday::Mon)?;
    Some(Period::iso_week_of(from))
}

/// A count now, with the base it is compared to (None = no base in the data).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Change {
    pub current: u64,
    pub previous: Option<u64>,
    pub year_ago: Option<u64>,
}

impl Change {
    /// 环比 in percent, only where the base exists and is non-zero.
    pub fn wow(&self) -> Option<f64> {
        pct(self.current, self.previous?)
    }
    /// 同比 in percent.
    pub fn yoy(&self) -> Option<f64> {
        pct(self.current, self.year_ago?)
    }
}

fn pct(cur: u64, base: u64) -> Option<f64> {
    (base > 0).then(|| (cur as f64 - base as f64) / base as f64 * 100.0)
}

/// One row of a breakdown (category, region, unit…).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub name: String,
    pub count: Change,
    pub headcount: u64,
    /// Trailing-baseline mean per period.
    pub baseline_mean: f64,
    /// Poisson upper tail P(X ≥ count | baseline).
    pub p_value: f64,
    pub rising: bool,
    /// Counts per week, oldest first, aligned with `Trends::weeks`.
    pub weekly: Vec<u64>,
    /// Petition ids in the period, sorted.
    pub ids: Vec<String>,
}

/// Handling KPIs; every rate is None when the data has nothing to compute it from.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Kpi {
    pub name: String,
    pub petitions: u64,
    /// 及时受理率: accepted within N working days / petitions with an acceptance date.
    pub timely_accept: Option<Ratio>,
    /// 按期办结率: closed by the due date / closed petitions.
    pub on_time_close: Option<Ratio>,
    /// 满意率: (满意 + 基本满意) / rated.
    pub satisfied: Option<Ratio>,
    /// 参评率: rated / petitions with a satisfaction column value.
    pub rated: Option<Ratio>,
    /// Average days received → closed over closed petitions.
    pub avg_cycle_days: Option<f64>,
    /// Open petitions past their due date at the period end (None when no status/closure data).
    pub overdue_open: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Ratio {
    pub num: u64,
    pub den: u64,
}

impl Ratio {
    pub fn pct(&self) -> f64 {
        if self.den == 0 {
            0.0
        } else {
            self.num as f64 / self.den as f64 * 100.0
        }
    }
}

/// A group as the brief shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    pub id: String,
    pub label: String,
    pub size: usize,
    pub in_period: u64,
    pub headcount_in_period: u64,
    pub people: usize,
    pub total_headcount: u64,
    pub first_seen: NaiveDate,
    pub last_seen: NaiveDate,
    pub open: usize,
    pub closed: usize,
    pub lead_unit: Option<String>,
    pub trend: crate::cluster::Trend,
    /// Counts per week, oldest first, aligned with `Trends::weeks`.
    pub weekly: Vec<u64>,
    pub baseline_mean: f64,
    pub p_value: f64,
    pub rising: bool,
    /// No member before the period.
    pub new: bool,
    pub ids: Vec<String>,
}

/// An overdue open petition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overdue {
    pub id: String,
    pub unit: Option<String>,
    pub due: NaiveDate,
    pub days_over: i64,
    pub title: String,
}

/// Everything the charts and the report read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trends {
    pub period: Period,
    /// Trailing periods then the period, oldest first.
    pub weeks: Vec<Period>,
    /// Counts per channel per week, aligned with `weeks`, channels in `Channel::ALL` order.
    pub weekly_by_channel: Vec<[u64; 6]>,
    pub total: Change,
    pub headcount: Change,
    /// None when no record names a petitioner.
    pub distinct_petitioners: Option<u64>,
    pub by_channel: Vec<(Channel, Change)>,
    pub categories: Vec<Row>,
    /// Per region level (市, 区县, 街镇).
    pub regions: [Vec<Row>; 3],
    pub units: Vec<Row>,
    pub kpi: Kpi,
    pub kpi_units: Vec<Kpi>,
    pub overdue: Vec<Overdue>,
    /// None when the data has no grouping.
    pub repeat: Option<Vec<String>>,
    pub collective: Vec<String>,
    pub collective_headcount: u64,
    /// Whether the data has head counts at all: some record in the store counts more than one
    /// person. Message-board data has none, and its 集体访 is unknown, not zero.
    pub headcount_known: bool,
    /// None when no record says whether it bypassed a level.
    pub bypass: Option<Vec<String>>,
    pub groups: Vec<GroupRow>,
    pub data_from: Option<NaiveDate>,
    pub data_to: Option<NaiveDate>,
    pub records_in_period: u64,
    pub missing_category: u64,
    pub missing_region: u64,
}

/// A group's trend as of the briefed period (not the data's last week): new when first seen in
/// the period; growing when its last 4 periods have ≥ 1.5× the 4 before (and ≥ 2 more
/// petitions); fading at ≤ 0.5×; steady otherwise. `buckets[k]` = petitions k periods back.
pub fn trend_in_period(
    buckets: &[u64],
    first_seen: NaiveDate,
    period: &Period,
) -> crate::cluster::Trend {
    use crate::cluster::Trend;
    if first_seen >= period.from && first_seen <= period.to {
        return Trend::New;
    }
    let sum = |r: std::ops::Range<usize>| -> u64 { r.filter_map(|k| buckets.get(k)).sum() };
    Trend::of_counts(sum(0..4), sum(4..8))
}

/// Poisson upper tail P(X ≥ k) for mean `lambda`.
pub fn poisson_upper(k: u64, lambda: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    // 1 - P(X ≤ k-1), summed in log space-safe form.
    let mut term = (-lambda).exp();
    let mut cdf = term;
    for i in 1..k {
        term *= lambda / i as f64;
        cdf += term;
    }
    (1.0 - cdf).max(0.0)
}

#[derive(Default)]
struct Acc {
    buckets: Vec<u64>, // 0 = period, 1..=b = trailing
    head_buckets: Vec<u64>,
    year_ago: u64,
    year_ago_head: u64,
    headcount: u64,
    ids: Vec<String>,
}

impl Acc {
    fn add(&mut self, nb: usize, bucket: Option<usize>, yago: bool, r: &Record) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; nb];
            self.head_buckets = vec![0; nb];
        }
        if let Some(b) = bucket {
            self.buckets[b] += 1;
            self.head_buckets[b] += r.headcount as u64;
            if b == 0 {
                self.headcount += r.headcount as u64;
                self.ids.push(r.id.clone());
            }
        }
        if yago {
            self.year_ago += 1;
            self.year_ago_head += r.headcount as u64;
        }
    }
}

fn working_days_between(a: NaiveDate, b: NaiveDate) -> i64 {
    // Mon–Fri days after `a` up to and including `b`.
    let mut n = 0;
    let mut d = a;
    while d < b {
        d += Duration::days(1);
        if d.weekday().num_days_from_monday() < 5 {
            n += 1;
        }
    }
    n
}

#[derive(Default)]
struct KpiAcc {
    n: u64,
    acc: Ratio,
    close: Ratio,
    sat: Ratio,
    rated: Ratio,
    cycle_sum: f64,
    cycle_n: u64,
    any_status: bool,
    overdue: u64,
}

impl KpiAcc {
    fn finish(self, name: String) -> Kpi {
        Kpi {
            name,
            petitions: self.n,
            timely_accept: (self.acc.den > 0).then_some(self.acc),
            on_time_close: (self.close.den > 0).then_some(self.close),
            satisfied: (self.sat.den > 0).then_some(self.sat),
            rated: (self.rated.den > 0).then_some(self.rated),
            avg_cycle_days: (self.cycle_n > 0).then(|| self.cycle_sum / self.cycle_n as f64),
            overdue_open: self.any_status.then_some(self.overdue),
        }
    }
}

fn is_closed_status(s: &str) -> bool {
    s.contains("办结")
        || s.contains("结案")
        || s.contains("已答复")
        || s.contains("已回复")
        || s.contains("不予受理")
}

/// Computes the trends of `period`.
pub fn run(records: &[Record], groups: &Groups, period: &Period, opts: &Options) -> Result<Trends> {
    let b = opts.baseline_weeks.max(1);
    let nb = b + 1;
    let len = period.days();
    let yago = Period::range(
        period.from - Duration::days(364),
        period.to - Duration::days(364),
    );
    let data_from = records.iter().map(|r| r.received_at.date()).min();
    let data_to = records.iter().map(|r| r.received_at.date()).max();
    let has_prev = data_from.is_some_and(|d| d <= period.from - Duration::days(len));
    let has_yago = data_from.is_some_and(|d| d <= yago.from);

    let group_of: HashMap<&str, (&str, bool)> = groups
        .members
        .iter()
        .map(|m| (m.id.as_str(), (m.group_id.as_str(), m.is_repeat)))
        .collect();

    let mut weekly = vec![[0u64; 6]; nb];
    let mut year_ago_ch = [0u64; 6];
    let mut head = Acc::default();
    let mut total = Acc::default();
    let mut cats: BTreeMap<String, Acc> = BTreeMap::new();
    let mut regs: [BTreeMap<String, Acc>; 3] = Default::default();
    let mut units: BTreeMap<String, Acc> = BTreeMap::new();
    let mut grp: HashMap<String, Acc> = HashMap::new();
    let mut grp_before: HashMap<String, bool> = HashMap::new();
    let mut petitioners = BTreeSet::new();
    let mut any_petitioner = false;
    let mut kpi = KpiAcc::default();
    let mut kpi_units: BTreeMap<String, KpiAcc> = BTreeMap::new();
    let mut overdue = Vec::new();
    let mut repeat = Vec::new();
    let mut collective = Vec::new();
    let mut collective_headcount = 0;
    let mut bypass = Vec::new();
    let mut any_bypass = false;
    let (mut miss_cat, mut miss_reg) = (0, 0);
    let end = period.to.and_hms_opt(23, 59, 59).expect("valid time");

    for r in records {
        let d = r.received_at.date();
        let bucket = if d > period.to {
            None
        } else if d >= period.from {
            Some(0)
        } else {
            let k = ((period.from - d).num_days() - 1) / len + 1;
            (k as usize <= b).then_some(k as usize)
        };
        let in_yago = d >= yago.from && d <= yago.to;
        if let Some((g, _)) = group_of.get(r.id.as_str()) {
            if *g != UNCLUSTERED && d < period.from {
                grp_before.insert(g.to_string(), true);
            }
        }
        // Overdue open petitions: the whole backlog received up to the period end, not only
        // this period's intake.
        if d <= period.to && (r.status.is_some() || r.closed_at.is_some()) {
            let due = r
                .due_at
                .unwrap_or(r.received_at + Duration::days(opts.close_days));
            let closed = r.closed_at.is_some_and(|c| c <= end)
                || r.status.as_deref().is_some_and(is_closed_status);
            let is_over = !closed && due < end;
            let mut ks = vec![&mut kpi];
            if let Some(u) = &r.responsible_unit {
                // Units with backlog only still get a KPI row (petitions = 0 this period).
                ks.push(kpi_units.entry(u.clone()).or_default());
            }
            for k in ks {
                k.any_status = true;
                k.overdue += is_over as u64;
            }
            if is_over {
                overdue.push(Overdue {
                    id: r.id.clone(),
                    unit: r.responsible_unit.clone(),
                    due: due.date(),
                    days_over: (end.date() - due.date()).num_days(),
                    title: r.title.clone(),
                });
            }
        }
        if bucket.is_none() && !in_yago {
            continue;
        }
        let ch = Channel::ALL
            .iter()
            .position(|c| *c == r.channel)
            .unwrap_or(0);
        if let Some(k) = bucket {
            weekly[nb - 1 - k][ch] += 1;
        }
        if in_yago {
            year_ago_ch[ch] += 1;
        }
        total.add(nb, bucket, in_yago, r);
        head.add(nb, bucket, in_yago, r);
        if let Some(c) = &r.category {
            cats.entry(c.clone())
                .or_default()
                .add(nb, bucket, in_yago, r);
        }
        let mut path = String::new();
        for (lvl, part) in r.region.iter().enumerate() {
            if let Some(p) = part {
                if !path.is_empty() {
                    path.push('/');
                }
                path.push_str(p);
                regs[lvl]
                    .entry(path.clone())
                    .or_default()
                    .add(nb, bucket, in_yago, r);
            }
        }
        if let Some(u) = &r.responsible_unit {
            units
                .entry(u.clone())
                .or_default()
                .add(nb, bucket, in_yago, r);
        }
        if let Some((g, _)) = group_of.get(r.id.as_str()) {
            if *g != UNCLUSTERED {
                grp.entry(g.to_string())
                    .or_default()
                    .add(nb, bucket, in_yago, r);
            }
        }
        if bucket != Some(0) {
            continue;
        }
        // ---- in the period ----
        if r.category.is_none() {
            miss_cat += 1;
        }
        if r.region[0].is_none() {
            miss_reg += 1;
        }
        if let Some(p) = &r.petitioner {
            any_petitioner = true;
            petitioners.insert(p.as_str());
        }
        if let Some((_, rep)) = group_of.get(r.id.as_str()) {
            if *rep {
                repeat.push(r.id.clone());
            }
        }
        if r.is_collective() {
            collective.push(r.id.clone());
            collective_headcount += r.headcount as u64;
        }
        if let Some(bp) = r.bypass {
            any_bypass = true;
            if bp {
                bypass.push(r.id.clone());
            }
        }
        let ku = r
            .responsible_unit
            .as_ref()
            .map(|u| kpi_units.entry(u.clone()).or_default());
        let mut one = KpiAcc {
            n: 1,
            ..Default::default()
        };
        if let Some(a) = r.accepted_at {
            one.acc.den = 1;
            if working_days_between(d, a.date()) <= opts.accept_working_days as i64 {
                one.acc.num = 1;
            }
        }
        let due = r
            .due_at
            .unwrap_or(r.received_at + Duration::days(opts.close_days));
        if let Some(c) = r.closed_at {
            one.close.den = 1;
            if c <= due {
                one.close.num = 1;
            }
            one.cycle_sum = (c - r.received_at).num_seconds() as f64 / 86400.0;
            one.cycle_n = 1;
        }
        if let Some(s) = r.satisfaction {
            one.rated.den = 1;
            if s != Satisfaction::NotRated {
                one.rated.num = 1;
                one.sat.den = 1;
                if matches!(
                    s,
                    Satisfaction::Satisfied | Satisfaction::BasicallySatisfied
                ) {
                    one.sat.num = 1;
                }
            }
        }
        for k in std::iter::once(&mut kpi).chain(ku) {
            k.n += one.n;
            k.acc.num += one.acc.num;
            k.acc.den += one.acc.den;
            k.close.num += one.close.num;
            k.close.den += one.close.den;
            k.sat.num += one.sat.num;
            k.sat.den += one.sat.den;
            k.rated.num += one.rated.num;
            k.rated.den += one.rated.den;
            k.cycle_sum += one.cycle_sum;
            k.cycle_n += one.cycle_n;
        }
    }

    let change = |a: &Acc| -> Change {
        let bk = |i: usize| a.buckets.get(i).copied().unwrap_or(0);
        Change {
            current: bk(0),
            previous: has_prev.then(|| bk(1)),
            year_ago: has_yago.then_some(a.year_ago),
        }
    };
    let baseline = |a: &Acc| -> (f64, f64, bool) {
        let cur = a.buckets.first().copied().unwrap_or(0);
        // Only trailing periods the data covers count towards the baseline.
        let covered = (1..=b)
            .filter(|k| {
                data_from.is_some_and(|d| d <= period.from - Duration::days(len * *k as i64))
            })
            .count();
        let sum: u64 = (1..=covered)
            .map(|k| a.buckets.get(k).copied().unwrap_or(0))
            .sum();
        let mean = if covered == 0 {
            0.0
        } else {
            sum as f64 / covered as f64
        };
        let p = poisson_upper(cur, mean.max(opts.min_lambda));
        (
            mean,
            p,
            covered > 0 && cur >= opts.min_count && p < opts.p_threshold,
        )
    };
    let rows = |m: BTreeMap<String, Acc>| -> Vec<Row> {
        let mut v: Vec<Row> = m
            .into_iter()
            .filter(|(_, a)| {
                a.buckets.first().copied().unwrap_or(0) > 0 || a.buckets.iter().any(|x| *x > 0)
            })
            .map(|(name, mut a)| {
                let (baseline_mean, p_value, rising) = baseline(&a);
                a.ids.sort();
                let weekly = (0..nb)
                    .rev()
                    .map(|k| a.buckets.get(k).copied().unwrap_or(0))
                    .collect();
                Row {
                    name,
                    count: change(&a),
                    headcount: a.headcount,
                    baseline_mean,
                    p_value,
                    rising,
                    weekly,
                    ids: a.ids,
                }
            })
            .collect();
        v.sort_by(|x, y| {
            y.count
                .current
                .cmp(&x.count.current)
                .then_with(|| x.name.cmp(&y.name))
        });
        v
    };
    let cats = rows(cats);
    let weeks: Vec<Period> = (0..nb).rev().map(|k| period.shifted(k as i64)).collect();
    let [r1, r2, r3] = regs;
    let units_rows = rows(units);

    let mut group_rows = Vec::new();
    let mut grp_acc = grp;
    for g in &groups.groups {
        let Some(mut a) = grp_acc.remove(&g.id) else {
            continue;
        };
        let (baseline_mean, p_value, rising) = baseline(&a);
        a.ids.sort();
        let cur = a.buckets.first().copied().unwrap_or(0);
        group_rows.push(GroupRow {
            id: g.id.clone(),
            label: g.label.clone(),
            size: g.size,
            in_period: cur,
            headcount_in_period: a.headcount,
            people: g.distinct_petitioners,
            total_headcount: g.total_headcount,
            first_seen: g.first_seen.date(),
            last_seen: g.last_seen.date(),
            open: g.open,
            closed: g.closed,
            lead_unit: g.lead_unit().map(str::to_string),
            trend: trend_in_period(&a.buckets, g.first_seen.date(), period),
            weekly: (0..nb)
                .rev()
                .map(|k| a.buckets.get(k).copied().unwrap_or(0))
                .collect(),
            baseline_mean,
            p_value,
            rising,
            new: cur > 0 && !grp_before.contains_key(&g.id),
            ids: a.ids,
        });
    }
    group_rows.retain(|g| g.in_period > 0 || g.weekly.iter().any(|x| *x > 0));
    group_rows.sort_by(|x, y| {
        y.in_period
            .cmp(&x.in_period)
            .then_with(|| y.size.cmp(&x.size))
            .then_with(|| x.id.cmp(&y.id))
    });

    overdue.sort_by(|a, b| b.days_over.cmp(&a.days_over).then_with(|| a.id.cmp(&b.id)));
    repeat.sort();
    collective.sort();
    bypass.sort();
    let mut kpi_units: Vec<Kpi> = kpi_units.into_iter().map(|(n, k)| k.finish(n)).collect();
    kpi_units.sort_by(|a, b| {
        b.petitions
            .cmp(&a.petitions)
            .then_with(|| a.name.cmp(&b.name))
    });

    let by_channel = Channel::ALL
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                *c,
                Change {
                    current: weekly[nb - 1][i],
                    previous: has_prev.then(|| weekly[nb - 2][i]),
                    year_ago: has_yago.then_some(year_ago_ch[i]),
                },
            )
        })
        .filter(|(_, ch)| {
            ch.current > 0 || ch.previous.unwrap_or(0) > 0 || ch.year_ago.unwrap_or(0) > 0
        })
        .collect();

    let headcount = Change {
        current: head.headcount,
        previous: has_prev.then(|| head.head_buckets.get(1).copied().unwrap_or(0)),
        year_ago: has_yago.then_some(head.year_ago_head),
    };

    let records_in_period = total.buckets.first().copied().unwrap_or(0);
    Ok(Trends {
        period: period.clone(),
        weeks,
        weekly_by_channel: weekly,
        total: change(&total),
        headcount,
        distinct_petitioners: any_petitioner.then_some(petitioners.len() as u64),
        by_channel,
        categories: cats,
        regions: [rows(r1), rows(r2), rows(r3)],
        units: units_rows,
        kpi: kpi.finish("合计".into()),
        kpi_units,
        overdue,
        repeat: (!groups.members.is_empty()).then_some(repeat),
        collective,
        collective_headcount,
        headcount_known: records.iter().any(|r| r.headcount > 1),
        bypass: any_bypass.then_some(bypass),
        groups: group_rows,
        data_from,
        data_to,
        records_in_period,
        missing_category: miss_cat,
        missing_region: miss_reg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_trend_is_relative_to_the_briefed_period() {
        use crate::cluster::Trend;
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let w33 = parse_week("2019-W33").unwrap();
        // first seen inside the period
        assert_eq!(trend_in_period(&[3], d("2019-08-13"), &w33), Trend::New);
        // 6 in the last 4 periods, none in the 4 before
        let growing = [2, 4, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            trend_in_period(&growing, d("2019-08-01"), &w33),
            Trend::Growing
        );
        // quiet lately
        let fading = [0, 1, 0, 0, 3, 3, 2, 2];
        assert_eq!(
            trend_in_period(&fading, d("2019-01-01"), &w33),
            Trend::Fading
        );
        assert_eq!(
            trend_in_period(&[1; 8], d("2019-01-01"), &w33),
            Trend::Steady
        );
    }
}
