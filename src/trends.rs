//! trends stage: weekly counts, period-on-period changes, handling KPIs and rising issues.
//!
//! polars does the aggregation. One pass over the records builds two frames of per-record
//! columns (see `Frames`): every record with its backlog and overdue flags, and the records of
//! the counted periods with their bucket (0 = the period, 1..=baseline = the trailing periods,
//! null = only the same period a year earlier), region path at each level, case group and KPI
//! indicators. Each breakdown (channel, category, region level, unit, group, total) is then a
//! lazy `group_by([dimension, bucket]).agg([len, sum(headcount), …])`, the KPIs are sums and
//! non-null counts of the indicator columns (overall and per unit), and distinct petitioners an
//! `n_unique`, so the cost is linear in the records whatever the number of weeks. polars' group
//! order is not stable: rows are assembled into ordered maps and every list is sorted, so the
//! output is deterministic.
//!
//! Rising-issue test: for a category, region or group with `k` petitions in the period and a
//! trailing baseline mean `λ` over the previous `baseline_weeks` periods (λ floored at
//! `min_lambda`), the issue is flagged when `k ≥ min_count` and the Poisson upper tail
//! `P(X ≥ k | λ) < p_threshold`.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cluster::{Groups, Member, UNCLUSTERED};
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
    /// The calendar month containing `d` (a 月报's period).
    pub fn month_of(d: NaiveDate) -> Period {
        let from = NaiveDate::from_ymd_opt(d.year(), d.month(), 1).expect("valid month");
        let next = from
            .checked_add_months(chrono::Months::new(1))
            .expect("valid month");
        Period {
            from,
            to: next - Duration::days(1),
            label: format!("{}-{:02}", d.year(), d.month()),
        }
    }
    /// Whether the period is an ISO week (Monday to Sunday).
    pub fn is_week(&self) -> bool {
        self.from.weekday() == Weekday::Mon && self.days() == 7
    }
    /// Whether the period is one whole calendar month: its neighbours are then calendar months
    /// too (上月 is the previous month, 同比 the same month a year earlier), not equal day counts.
    pub fn is_month(&self) -> bool {
        self.from.day() == 1 && self.to == Period::month_of(self.from).to
    }
    /// The period `n` periods earlier: weeks and calendar months step as such, other ranges by
    /// their length in days.
    pub fn shifted(&self, n: i64) -> Period {
        if self.is_month() {
            let from = if n >= 0 {
                self.from.checked_sub_months(chrono::Months::new(n as u32))
            } else {
                self.from
                    .checked_add_months(chrono::Months::new((-n) as u32))
            };
            return Period::month_of(from.expect("month in range"));
        }
        let d = Duration::days(self.days() * n);
        let (from, to) = (self.from - d, self.to - d);
        if self.is_week() {
            Period::iso_week_of(from)
        } else {
            Period::range(from, to)
        }
    }
    /// How many periods before this one `d` falls: 0 inside it, None after it.
    pub fn periods_back(&self, d: NaiveDate) -> Option<i64> {
        if d > self.to {
            None
        } else if d >= self.from {
            Some(0)
        } else if self.is_month() {
            let m = |x: NaiveDate| x.year() as i64 * 12 + x.month0() as i64;
            Some(m(self.from) - m(d))
        } else {
            Some(((self.from - d).num_days() - 1) / self.days() + 1)
        }
    }
    /// The period a year earlier for 同比: the same month for a month, else 52 weeks earlier
    /// (same weekdays).
    pub fn year_ago(&self) -> Period {
        if self.is_month() {
            let from = self
                .from
                .checked_sub_months(chrono::Months::new(12))
                .expect("month in range");
            return Period::month_of(from);
        }
        Period::range(
            self.from - Duration::days(364),
            self.to - Duration::days(364),
        )
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

/// The latest complete period of the kind a brief uses: `month` → calendar month, anything
/// else → ISO week.
pub fn latest_complete(records: &[Record], kind: &str) -> Option<Period> {
    if kind == "month" {
        latest_complete_month(records)
    } else {
        latest_complete_week(records)
    }
}

/// The last calendar month fully covered by the data (the newest record's month unless that
/// record falls on the month's last day is taken as incomplete).
pub fn latest_complete_month(records: &[Record]) -> Option<Period> {
    let max = records.iter().map(|r| r.received_at.date()).max()?;
    let m = Period::month_of(max);
    if max == m.to {
        Some(m)
    } else {
        Some(m.shifted(1))
    }
}

/// Parses `2019-08` (also `2019-8`, `201908`, `2019年8月`).
pub fn parse_month(s: &str) -> Option<Period> {
    let t = s.trim().trim_end_matches('月');
    let (y, m) = match t.split_once(['-', '/', '年', '.']) {
        Some((y, m)) => (y.parse::<i32>().ok()?, m.parse::<u32>().ok()?),
        None if t.len() == 6 && t.is_ascii() => (t[..4].parse().ok()?, t[4..].parse().ok()?),
        None => return None,
    };
    Some(Period::month_of(NaiveDate::from_ymd_opt(y, m, 1)?))
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
    /// The rising-issue test's minimum count ([`Options::min_count`]), for the brief's method
    /// note.
    pub rising_min_count: u64,
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

fn is_closed_status(s: &str) -> bool {
    s.contains("办结")
        || s.contains("结案")
        || s.contains("已答复")
        || s.contains("已回复")
        || s.contains("不予受理")
}

/// Each channel's count in the period with its bases (`weekly` oldest first, the period last);
/// channels with nothing in the period or its bases are left out.
fn channel_changes(
    weekly: &[[u64; 6]],
    year_ago: &[u64; 6],
    has_prev: bool,
    has_yago: bool,
) -> Vec<(Channel, Change)> {
    let nb = weekly.len();
    Channel::ALL
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ch = Change {
                current: weekly[nb - 1][i],
                previous: (has_prev && nb > 1).then(|| weekly[nb - 2][i]),
                year_ago: has_yago.then_some(year_ago[i]),
            };
            (*c, ch)
        })
        .filter(|(_, ch)| {
            ch.current > 0 || ch.previous.unwrap_or(0) > 0 || ch.year_ago.unwrap_or(0) > 0
        })
        .collect()
}

/// Trailing periods the data fully covers: only they form a baseline.
fn covered_periods(period: &Period, data_from: Option<NaiveDate>, b: usize) -> usize {
    (1..=b)
        .filter(|k| data_from.is_some_and(|d| d <= period.shifted(*k as i64).from))
        .count()
}

/// The period's count (`buckets[0]`) with its 环比 and 同比 bases where the data has them.
fn change_of(buckets: &[u64], year_ago: u64, has_prev: bool, has_yago: bool) -> Change {
    let bk = |i: usize| buckets.get(i).copied().unwrap_or(0);
    Change {
        current: bk(0),
        previous: has_prev.then(|| bk(1)),
        year_ago: has_yago.then_some(year_ago),
    }
}

/// The rising-issue test (module docs): the mean over the `covered` trailing periods, the
/// Poisson upper tail of the period's count under it, and whether that flags the issue.
fn rising_test(buckets: &[u64], covered: usize, opts: &Options) -> (f64, f64, bool) {
    let cur = buckets.first().copied().unwrap_or(0);
    let sum: u64 = (1..=covered)
        .map(|k| buckets.get(k).copied().unwrap_or(0))
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
}

/// The due date: the data's, else received + `close_days`.
fn due_of(r: &Record, opts: &Options) -> NaiveDateTime {
    r.due_at
        .unwrap_or(r.received_at + Duration::days(opts.close_days))
}

/// One breakdown row's counts as the aggregation returns them.
struct Acc {
    /// Petitions per bucket: 0 = period, 1..=b = trailing periods.
    buckets: Vec<u64>,
    head_buckets: Vec<u64>,
    year_ago: u64,
    year_ago_head: u64,
    /// Petition ids in the period (unsorted).
    ids: Vec<String>,
}

impl Acc {
    fn new(nb: usize) -> Acc {
        Acc {
            buckets: vec![0; nb],
            head_buckets: vec![0; nb],
            year_ago: 0,
            year_ago_head: 0,
            ids: Vec::new(),
        }
    }
}

// Column names of the per-record frames.
const ROW: &str = "row";
const BUCKET: &str = "bucket";
const YEAR_AGO: &str = "year_ago";
const BEFORE: &str = "before";
const CHANNEL: &str = "channel";
const HEAD: &str = "headcount";
const CATEGORY: &str = "category";
const REGION: [&str; 3] = ["region1", "region2", "region3"];
const UNIT: &str = "unit";
const GROUP: &str = "group";
const PETITIONER: &str = "petitioner";
const REPEAT: &str = "repeat";
const BYPASS: &str = "bypass";
const BACKLOG: &str = "backlog";
const OVERDUE: &str = "overdue";
const ACCEPT: &str = "timely_accept";
const CLOSE: &str = "on_time_close";
const RATED: &str = "rated";
const SATISFIED: &str = "satisfied";
const CYCLE: &str = "cycle_seconds";

/// The frames the aggregations read. What polars could only derive with extra crate features
/// (period buckets, working days, region paths, group membership, status words) is computed in
/// one pass over the records. `row` is the index into `records`, so ids and titles are looked
/// up instead of copied.
struct Frames {
    /// One row per record, with what every record matters for: `row`, `before` (received
    /// before the period), `headcount`, `unit`, `group` (its case group; unclustered = null),
    /// `backlog` (received by the period end and carrying status or closure data) and
    /// `overdue` (of those, still open past its due date at the period end).
    all: DataFrame,
    /// One row per record in the counted periods (the period, the trailing baseline, the same
    /// period a year earlier) with what the breakdowns read: `row`; `bucket` (0 = the period,
    /// k = k periods earlier, null = only a year ago); `year_ago`; `channel` (index into
    /// `Channel::ALL`); `headcount`; `category`; `region1..3` (the region path at each level:
    /// `A市`, `A市/A1区`, …; null where the level is missing); `unit`; `group`; `petitioner`;
    /// `repeat`; `bypass`; and the KPI indicators, set for the period's petitions only and null
    /// where the data cannot say: `timely_accept`, `on_time_close`, `rated`, `satisfied` (among
    /// the rated) and `cycle_seconds` (received → closed, whole seconds so the average does not
    /// depend on the order polars sums in).
    win: DataFrame,
}

/// Builds [`Frames`] for `period`.
fn frames(records: &[Record], groups: &Groups, period: &Period, opts: &Options) -> Result<Frames> {
    let b = opts.baseline_weeks.max(1) as i64;
    let yago = period.year_ago();
    let end = period.to.and_hms_opt(23, 59, 59).expect("valid time");
    let membership = Membership::new(&groups.members);
    let n = records.len();
    let strings = |name: &str, cap: usize| StringChunkedBuilder::new(name.into(), cap);

    // All records.
    let mut before = Vec::with_capacity(n);
    let mut head: Vec<u64> = Vec::with_capacity(n);
    let mut unit = strings(UNIT, n);
    let mut group = strings(GROUP, n);
    let mut backlog = Vec::with_capacity(n);
    let mut overdue = Vec::with_capacity(n);
    // Records in the counted periods.
    let mut w_row: Vec<u64> = Vec::new();
    let mut w_bucket: Vec<Option<u32>> = Vec::new();
    let mut w_yago = Vec::new();
    let mut w_channel: Vec<u32> = Vec::new();
    let mut w_head: Vec<u64> = Vec::new();
    let mut w_category = strings(CATEGORY, 0);
    let mut w_region = REGION.map(|c| strings(c, 0));
    let mut w_unit = strings(UNIT, 0);
    let mut w_group = strings(GROUP, 0);
    let mut w_petitioner = strings(PETITIONER, 0);
    let mut w_repeat = Vec::new();
    let mut w_bypass: Vec<Option<bool>> = Vec::new();
    let mut w_accept: Vec<Option<bool>> = Vec::new();
    let mut w_close: Vec<Option<bool>> = Vec::new();
    let mut w_rated: Vec<Option<bool>> = Vec::new();
    let mut w_satisfied: Vec<Option<bool>> = Vec::new();
    let mut w_cycle: Vec<Option<i64>> = Vec::new();
    let mut path = String::new();
    // One pass, every column appended while the record is in cache.
    for (i, r) in records.iter().enumerate() {
        let d = r.received_at.date();
        let member = membership.get(i, &r.id);
        let grp = member
            .map(|m| m.group_id.as_str())
            .filter(|g| *g != UNCLUSTERED);
        let due = due_of(r, opts);
        before.push(d < period.from);
        head.push(r.headcount as u64);
        unit.append_option(r.responsible_unit.as_deref());
        group.append_option(grp);
        // Overdue open petitions: the whole backlog received up to the period end, not only
        // this period's intake.
        let bl = d <= period.to && (r.status.is_some() || r.closed_at.is_some());
        let closed = r.closed_at.is_some_and(|c| c <= end)
            || r.status.as_deref().is_some_and(is_closed_status);
        backlog.push(bl);
        overdue.push(bl && !closed && due < end);

        let bucket = period.periods_back(d).filter(|k| *k <= b).map(|k| k as u32);
        let in_yago = d >= yago.from && d <= yago.to;
        if bucket.is_none() && !in_yago {
            continue;
        }
        w_row.push(i as u64);
        w_bucket.push(bucket);
        w_yago.push(in_yago);
        w_channel.push(
            Channel::ALL
                .iter()
                .position(|c| *c == r.channel)
                .unwrap_or(0) as u32,
        );
        w_head.push(r.headcount as u64);
        w_category.append_option(r.category.as_deref());
        path.clear();
        for (part, col) in r.region.iter().zip(&mut w_region) {
            match part {
                Some(p) => {
                    if !path.is_empty() {
                        path.push('/');
                    }
                    path.push_str(p);
                    col.append_value(&path);
                }
                None => col.append_null(),
            }
        }
        w_unit.append_option(r.responsible_unit.as_deref());
        w_group.append_option(grp);
        w_petitioner.append_option(r.petitioner.as_deref());
        w_repeat.push(member.is_some_and(|m| m.is_repeat));
        w_bypass.push(r.bypass);
        // The KPI indicators rate the period's intake only.
        let kpi = bucket == Some(0);
        w_accept.push(
            r.accepted_at
                .filter(|_| kpi)
                .map(|a| working_days_between(d, a.date()) <= opts.accept_working_days as i64),
        );
        let closed_at = r.closed_at.filter(|_| kpi);
        w_close.push(closed_at.map(|c| c <= due));
        w_cycle.push(closed_at.map(|c| (c - r.received_at).num_seconds()));
        let sat = r.satisfaction.filter(|_| kpi);
        w_rated.push(sat.map(|s| s != Satisfaction::NotRated));
        w_satisfied.push(sat.filter(|s| *s != Satisfaction::NotRated).map(|s| {
            matches!(
                s,
                Satisfaction::Satisfied | Satisfaction::BasicallySatisfied
            )
        }));
    }
    let all = DataFrame::new(
        n,
        vec![
            Column::new(ROW.into(), (0..n as u64).collect::<Vec<u64>>()),
            Column::new(BEFORE.into(), before),
            Column::new(HEAD.into(), head),
            unit.finish().into_column(),
            group.finish().into_column(),
            Column::new(BACKLOG.into(), backlog),
            Column::new(OVERDUE.into(), overdue),
        ],
    )?;
    let [region1, region2, region3] = w_region.map(|b| b.finish().into_column());
    let win = DataFrame::new(
        w_row.len(),
        vec![
            Column::new(ROW.into(), w_row),
            Column::new(BUCKET.into(), w_bucket),
            Column::new(YEAR_AGO.into(), w_yago),
            Column::new(CHANNEL.into(), w_channel),
            Column::new(HEAD.into(), w_head),
            w_category.finish().into_column(),
            region1,
            region2,
            region3,
            w_unit.finish().into_column(),
            w_group.finish().into_column(),
            w_petitioner.finish().into_column(),
            Column::new(REPEAT.into(), w_repeat),
            Column::new(BYPASS.into(), w_bypass),
            Column::new(ACCEPT.into(), w_accept),
            Column::new(CLOSE.into(), w_close),
            Column::new(RATED.into(), w_rated),
            Column::new(SATISFIED.into(), w_satisfied),
            Column::new(CYCLE.into(), w_cycle),
        ],
    )?;
    Ok(Frames { all, win })
}

/// A record's place in `groups.members`. The members are one per stored petition sorted by id,
/// and the pipeline's records come from the store sorted by id too, so the member at the
/// record's own position is tried first; a map by id is built only if that ever misses.
struct Membership<'a> {
    members: &'a [Member],
    by_id: std::cell::OnceCell<HashMap<&'a str, &'a Member>>,
}

impl<'a> Membership<'a> {
    fn new(members: &'a [Member]) -> Self {
        Membership {
            members,
            by_id: Default::default(),
        }
    }

    fn get(&self, i: usize, id: &str) -> Option<&'a Member> {
        if let Some(m) = self.members.get(i).filter(|m| m.id == id) {
            return Some(m);
        }
        self.by_id
            .get_or_init(|| self.members.iter().map(|m| (m.id.as_str(), m)).collect())
            .get(id)
            .copied()
    }
}

/// Rows in the period (`bucket == 0`; null buckets are not).
fn in_period() -> Expr {
    col(BUCKET).eq_missing(lit(0u32))
}

/// A column of counts or sums as u64 (polars sums booleans to its index type).
fn u64s(df: &DataFrame, name: &str) -> Result<Vec<u64>> {
    let c = df.column(name)?.cast(&DataType::UInt64)?;
    Ok(c.u64()?.iter().map(|v| v.unwrap_or(0)).collect())
}

/// Row indices (a `row` column, or a list of them) back to sorted petition ids.
fn ids_of(rows: &Series, records: &[Record]) -> Result<Vec<String>> {
    let mut ids: Vec<String> = rows
        .u64()?
        .into_no_null_iter()
        .map(|i| records[i as usize].id.clone())
        .collect();
    ids.sort();
    Ok(ids)
}

/// Petitions and head counts per `key` (None = one total) and bucket, plus the year-ago counts
/// and the period's ids: `group_by([key, bucket]).agg([len, sum(headcount), …])` over the rows
/// in the counted periods.
fn tally(
    win: &DataFrame,
    key: Option<&str>,
    nb: usize,
    records: &[Record],
) -> Result<BTreeMap<String, Acc>> {
    let mut lf = win.clone().lazy();
    let mut by = vec![col(BUCKET)];
    if let Some(k) = key {
        lf = lf.filter(col(k).is_not_null());
        by.insert(0, col(k));
    }
    let out = lf
        .group_by(by)
        .agg([
            len().alias("n"),
            col(HEAD).sum().alias("head"),
            col(YEAR_AGO).sum().alias("n_year_ago"),
            col(HEAD).filter(col(YEAR_AGO)).sum().alias("head_year_ago"),
            col(ROW).filter(in_period()).alias("rows"),
        ])
        .collect()?;
    let names = names(&out, key)?;
    let bucket = out.column(BUCKET)?.cast(&DataType::UInt32)?;
    let bucket = bucket.u32()?;
    let (n, head) = (u64s(&out, "n")?, u64s(&out, "head")?);
    let (n_yago, head_yago) = (u64s(&out, "n_year_ago")?, u64s(&out, "head_year_ago")?);
    let rows = out.column("rows")?.list()?.clone();
    let mut m: BTreeMap<String, Acc> = BTreeMap::new();
    for (i, name) in names.into_iter().enumerate() {
        let a = m.entry(name).or_insert_with(|| Acc::new(nb));
        if let Some(k) = bucket.get(i) {
            a.buckets[k as usize] += n[i];
            a.head_buckets[k as usize] += head[i];
        }
        a.year_ago += n_yago[i];
        a.year_ago_head += head_yago[i];
        if let Some(s) = rows.get_as_series(i) {
            a.ids.extend(ids_of(&s, records)?);
        }
    }
    Ok(m)
}

/// The rated share columns, in `KpiSums::ratios` order.
const RATIOS: [&str; 4] = [ACCEPT, CLOSE, SATISFIED, RATED];

/// KPI sums of one unit (or of all petitions) as the aggregations return them.
#[derive(Default)]
struct KpiSums {
    petitions: u64,
    /// 及时受理, 按期办结, 满意, 参评, as in `RATIOS`.
    ratios: [Ratio; 4],
    cycle_seconds: i64,
    cycle_n: u64,
    backlog: u64,
    overdue: u64,
}

impl KpiSums {
    /// The KPIs; a rate is None where its denominator is 0 (unavailable, never 0%).
    fn finish(&self, name: String) -> Kpi {
        let ratio = |k: usize| (self.ratios[k].den > 0).then_some(self.ratios[k]);
        Kpi {
            name,
            petitions: self.petitions,
            timely_accept: ratio(0),
            on_time_close: ratio(1),
            satisfied: ratio(2),
            rated: ratio(3),
            avg_cycle_days: (self.cycle_n > 0)
                .then(|| self.cycle_seconds as f64 / 86400.0 / self.cycle_n as f64),
            overdue_open: (self.backlog > 0).then_some(self.overdue),
        }
    }
}

/// The period's KPI sums (over the period's rows): petitions, each rate's numerator (`sum`)
/// and denominator (`count` of non-null), the handling cycle.
fn period_kpi_aggs() -> Vec<Expr> {
    let mut v = vec![
        len().alias("petitions"),
        col(CYCLE).sum().alias("cycle_sum"),
        col(CYCLE).count().alias("cycle_n"),
    ];
    for c in RATIOS {
        v.push(col(c).sum().alias(c));
        v.push(col(c).count().alias(format!("{c}_den")));
    }
    v
}

/// The backlog sums (over the backlog rows): records with status data, overdue ones.
fn backlog_kpi_aggs() -> Vec<Expr> {
    vec![len().alias(BACKLOG), col(OVERDUE).sum().alias(OVERDUE)]
}

/// The key column of an aggregation result as strings ("" for every row when `key` is None).
fn names(out: &DataFrame, key: Option<&str>) -> Result<Vec<String>> {
    Ok(match key {
        Some(k) => out
            .column(k)?
            .str()?
            .iter()
            .map(|s| s.unwrap_or_default().to_string())
            .collect(),
        None => vec![String::new(); out.height()],
    })
}

/// Adds a `period_kpi_aggs` result (per `key`, or one total row) into `into`.
fn add_period_sums(
    out: &DataFrame,
    key: Option<&str>,
    into: &mut BTreeMap<String, KpiSums>,
) -> Result<()> {
    let cycle = out.column("cycle_sum")?.cast(&DataType::Int64)?;
    let cycle = cycle.i64()?;
    let (n, cycle_n) = (u64s(out, "petitions")?, u64s(out, "cycle_n")?);
    let mut ratios = Vec::new();
    for c in RATIOS {
        ratios.push((u64s(out, c)?, u64s(out, &format!("{c}_den"))?));
    }
    for (i, name) in names(out, key)?.into_iter().enumerate() {
        let k = into.entry(name).or_default();
        k.petitions += n[i];
        k.cycle_seconds += cycle.get(i).unwrap_or(0);
        k.cycle_n += cycle_n[i];
        for (r, (num, den)) in k.ratios.iter_mut().zip(&ratios) {
            r.num += num[i];
            r.den += den[i];
        }
    }
    Ok(())
}

/// Adds a `backlog_kpi_aggs` result (per `key`, or one total row) into `into`.
fn add_backlog_sums(
    out: &DataFrame,
    key: Option<&str>,
    into: &mut BTreeMap<String, KpiSums>,
) -> Result<()> {
    let (backlog, overdue) = (u64s(out, BACKLOG)?, u64s(out, OVERDUE)?);
    for (i, name) in names(out, key)?.into_iter().enumerate() {
        let k = into.entry(name).or_default();
        k.backlog += backlog[i];
        k.overdue += overdue[i];
    }
    Ok(())
}

/// Computes the trends of `period`.
pub fn run(records: &[Record], groups: &Groups, period: &Period, opts: &Options) -> Result<Trends> {
    let b = opts.baseline_weeks.max(1);
    let nb = b + 1;
    let yago = period.year_ago();
    let data_from = records.iter().map(|r| r.received_at.date()).min();
    let data_to = records.iter().map(|r| r.received_at.date()).max();
    let has_prev = data_from.is_some_and(|d| d <= period.shifted(1).from);
    let has_yago = data_from.is_some_and(|d| d <= yago.from);

    let Frames { all, win } = frames(records, groups, period, opts)?;
    // The period's rows.
    let per = win.clone().lazy().filter(in_period()).collect()?;

    let total = tally(&win, None, nb, records)?
        .remove("")
        .unwrap_or_else(|| Acc::new(nb));
    let cats = tally(&win, Some(CATEGORY), nb, records)?;
    let regs = REGION.map(|c| tally(&win, Some(c), nb, records));
    let units = tally(&win, Some(UNIT), nb, records)?;
    let mut grp = tally(&win, Some(GROUP), nb, records)?;
    let grp_before: HashSet<String> = {
        let out = all
            .clone()
            .lazy()
            .filter(col(BEFORE).and(col(GROUP).is_not_null()))
            .select([col(GROUP).unique()])
            .collect()?;
        let s = out.column(GROUP)?.str()?;
        s.iter().flatten().map(str::to_string).collect()
    };

    // Channel × bucket, and year-ago per channel.
    let mut weekly = vec![[0u64; 6]; nb];
    let mut year_ago_ch = [0u64; 6];
    {
        let out = win
            .clone()
            .lazy()
            .group_by([col(CHANNEL), col(BUCKET)])
            .agg([len().alias("n"), col(YEAR_AGO).sum().alias("n_year_ago")])
            .collect()?;
        let ch = u64s(&out, CHANNEL)?;
        let bucket = out.column(BUCKET)?.cast(&DataType::UInt32)?;
        let bucket = bucket.u32()?;
        let (n, n_yago) = (u64s(&out, "n")?, u64s(&out, "n_year_ago")?);
        for i in 0..out.height() {
            let c = ch[i] as usize;
            if let Some(k) = bucket.get(i) {
                weekly[nb - 1 - k as usize][c] += n[i];
            }
            year_ago_ch[c] += n_yago[i];
        }
    }

    // In the period: distinct petitioners, missing dimensions, repeat/collective/bypass.
    let (petitioner_rows, distinct, miss_cat, miss_reg) = {
        let out = per
            .clone()
            .lazy()
            .select([
                col(PETITIONER).count().alias("named"),
                col(PETITIONER).drop_nulls().n_unique().alias("distinct"),
                col(CATEGORY).null_count().alias("miss_cat"),
                col(REGION[0]).null_count().alias("miss_reg"),
            ])
            .collect()?;
        let g = |c: &str| -> Result<u64> { Ok(u64s(&out, c)?.first().copied().unwrap_or(0)) };
        (g("named")?, g("distinct")?, g("miss_cat")?, g("miss_reg")?)
    };
    let ids_where = |pred: Expr| -> Result<Vec<String>> {
        let out = per
            .clone()
            .lazy()
            .filter(pred)
            .select([col(ROW)])
            .collect()?;
        ids_of(out.column(ROW)?.as_materialized_series(), records)
    };
    let repeat = ids_where(col(REPEAT))?;
    let is_collective = || col(HEAD).gt_eq(lit(5u64));
    let collective = ids_where(is_collective())?;
    let collective_headcount = {
        let out = per
            .clone()
            .lazy()
            .filter(is_collective())
            .select([col(HEAD).sum()])
            .collect()?;
        u64s(&out, HEAD)?.first().copied().unwrap_or(0)
    };
    let any_bypass = {
        let out = per.clone().lazy().select([col(BYPASS).count()]).collect()?;
        u64s(&out, BYPASS)?.first().is_some_and(|n| *n > 0)
    };
    let bypass = ids_where(col(BYPASS))?;
    let headcount_known = {
        let out = all.clone().lazy().select([col(HEAD).max()]).collect()?;
        u64s(&out, HEAD)?.first().is_some_and(|h| *h > 1)
    };

    // KPIs: the period's petitions plus the backlog (overdue), overall and per unit. Units with
    // backlog only still get a row (petitions = 0 this period).
    let backlog = all.clone().lazy().filter(col(BACKLOG));
    let mut sums = BTreeMap::new();
    add_period_sums(
        &per.clone().lazy().select(period_kpi_aggs()).collect()?,
        None,
        &mut sums,
    )?;
    add_backlog_sums(
        &backlog.clone().select(backlog_kpi_aggs()).collect()?,
        None,
        &mut sums,
    )?;
    let kpi = sums.remove("").unwrap_or_default().finish("合计".into());
    let with_unit = |lf: LazyFrame, aggs: Vec<Expr>| {
        lf.filter(col(UNIT).is_not_null())
            .group_by([col(UNIT)])
            .agg(aggs)
            .collect()
    };
    add_period_sums(
        &with_unit(per.clone().lazy(), period_kpi_aggs())?,
        Some(UNIT),
        &mut sums,
    )?;
    add_backlog_sums(
        &with_unit(backlog, backlog_kpi_aggs())?,
        Some(UNIT),
        &mut sums,
    )?;
    let mut kpi_units: Vec<Kpi> = sums.into_iter().map(|(u, k)| k.finish(u)).collect();
    kpi_units.sort_by(|a, b| {
        b.petitions
            .cmp(&a.petitions)
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut overdue: Vec<Overdue> = {
        let out = all
            .clone()
            .lazy()
            .filter(col(OVERDUE))
            .select([col(ROW)])
            .collect()?;
        let end = period.to;
        out.column(ROW)?
            .u64()?
            .into_no_null_iter()
            .map(|i| {
                let r = &records[i as usize];
                let due = due_of(r, opts).date();
                Overdue {
                    id: r.id.clone(),
                    unit: r.responsible_unit.clone(),
                    due,
                    days_over: (end - due).num_days(),
                    title: r.headline(),
                }
            })
            .collect()
    };
    overdue.sort_by(|a, b| b.days_over.cmp(&a.days_over).then_with(|| a.id.cmp(&b.id)));

    let covered = covered_periods(period, data_from, b);
    let change = |a: &Acc| change_of(&a.buckets, a.year_ago, has_prev, has_yago);
    let baseline = |a: &Acc| rising_test(&a.buckets, covered, opts);
    let weekly_of = |a: &Acc| -> Vec<u64> { a.buckets.iter().rev().copied().collect() };
    // Rows with no petition in the period or the baseline (year-ago only) are dropped.
    let rows = |m: BTreeMap<String, Acc>| -> Vec<Row> {
        let mut v: Vec<Row> = m
            .into_iter()
            .filter(|(_, a)| a.buckets.iter().any(|x| *x > 0))
            .map(|(name, mut a)| {
                let (baseline_mean, p_value, rising) = baseline(&a);
                a.ids.sort();
                Row {
                    name,
                    count: change(&a),
                    headcount: a.head_buckets[0],
                    baseline_mean,
                    p_value,
                    rising,
                    weekly: weekly_of(&a),
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
    let weeks: Vec<Period> = (0..nb).rev().map(|k| period.shifted(k as i64)).collect();
    let [r1, r2, r3] = regs;

    let mut group_rows = Vec::new();
    for g in &groups.groups {
        let Some(mut a) = grp.remove(&g.id) else {
            continue;
        };
        let (baseline_mean, p_value, rising) = baseline(&a);
        a.ids.sort();
        let cur = a.buckets[0];
        group_rows.push(GroupRow {
            id: g.id.clone(),
            label: g.label.clone(),
            size: g.size,
            in_period: cur,
            headcount_in_period: a.head_buckets[0],
            people: g.distinct_petitioners,
            total_headcount: g.total_headcount,
            first_seen: g.first_seen.date(),
            last_seen: g.last_seen.date(),
            open: g.open,
            closed: g.closed,
            lead_unit: g.lead_unit().map(str::to_string),
            trend: trend_in_period(&a.buckets, g.first_seen.date(), period),
            weekly: weekly_of(&a),
            baseline_mean,
            p_value,
            rising,
            new: cur > 0 && !grp_before.contains(&g.id),
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

    let by_channel = channel_changes(&weekly, &year_ago_ch, has_prev, has_yago);

    let headcount = Change {
        current: total.head_buckets[0],
        previous: has_prev.then(|| total.head_buckets[1]),
        year_ago: has_yago.then_some(total.year_ago_head),
    };

    Ok(Trends {
        period: period.clone(),
        weeks,
        weekly_by_channel: weekly,
        total: change(&total),
        headcount,
        distinct_petitioners: (petitioner_rows > 0).then_some(distinct),
        by_channel,
        categories: rows(cats),
        regions: [rows(r1?), rows(r2?), rows(r3?)],
        units: rows(units),
        kpi,
        kpi_units,
        overdue,
        repeat: (!groups.members.is_empty()).then_some(repeat),
        collective,
        collective_headcount,
        headcount_known,
        bypass: any_bypass.then_some(bypass),
        groups: group_rows,
        data_from,
        data_to,
        records_in_period: total.buckets[0],
        missing_category: miss_cat,
        missing_region: miss_reg,
        rising_min_count: opts.min_count,
    })
}

/// The hand-written single-loop implementation `run` replaced, kept as the oracle of the
/// differential test below (same inputs must give the same `Trends`).
#[cfg(test)]
mod reference {
    use super::*;
    use std::collections::BTreeSet;

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

    /// Computes the trends of `period`.
    pub fn run(
        records: &[Record],
        groups: &Groups,
        period: &Period,
        opts: &Options,
    ) -> Result<Trends> {
        let b = opts.baseline_weeks.max(1);
        let nb = b + 1;
        let yago = period.year_ago();
        let data_from = records.iter().map(|r| r.received_at.date()).min();
        let data_to = records.iter().map(|r| r.received_at.date()).max();
        let has_prev = data_from.is_some_and(|d| d <= period.shifted(1).from);
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
            let bucket = period
                .periods_back(d)
                .filter(|k| *k as usize <= b)
                .map(|k| k as usize);
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
                        title: r.headline(),
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

        let covered = covered_periods(period, data_from, b);
        let change = |a: &Acc| change_of(&a.buckets, a.year_ago, has_prev, has_yago);
        let baseline = |a: &Acc| rising_test(&a.buckets, covered, opts);
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

        let by_channel = channel_changes(&weekly, &year_ago_ch, has_prev, has_yago);

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
            rising_min_count: opts.min_count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_step_by_calendar_month() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let jan = parse_month("2020-01").unwrap();
        assert_eq!(jan.shifted(1).label, "2019-12");
        assert_eq!(jan.shifted(1).to, d("2019-12-31"));
        assert_eq!(
            parse_month("2020-03").unwrap().shifted(1).to,
            d("2020-02-29")
        );
        assert_eq!(jan.shifted(-1).label, "2020-02");
        assert_eq!(jan.year_ago().label, "2019-01");
        assert_eq!(jan.periods_back(d("2020-01-31")), Some(0));
        assert_eq!(jan.periods_back(d("2019-12-01")), Some(1));
        assert_eq!(jan.periods_back(d("2019-02-28")), Some(11));
        assert_eq!(jan.periods_back(d("2020-02-01")), None);
        // a 31-day range that is not a calendar month steps by 31 days
        let r = Period::range(d("2020-01-05"), d("2020-02-04"));
        assert!(!r.is_month());
        assert_eq!(r.shifted(1).from, d("2019-12-05"));
        assert_eq!(r.periods_back(d("2020-01-04")), Some(1));
        // weeks keep 52-week 同比 (same weekdays)
        let w = parse_week("2019-W33").unwrap();
        assert_eq!(w.year_ago().from, d("2018-08-13"));
    }

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

/// The polars pipeline against the loop it replaced, on random small record sets.
#[cfg(test)]
mod differential {
    use super::*;
    use crate::cluster::{Group, Member, Trend};
    use proptest::prelude::*;

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
                id: id.clone(),
                received_at: received,
                channel: Channel::ALL[*ch],
                title: format!("标题{i}"),
                content: "内容".into(),
                region: [name("市", reg[0]), name("区", reg[1]), name("街", reg[2])],
                petitioner: name("P", *pet),
                headcount: *head,
                category: name("类", *cat),
                responsible_unit: name("单位", *unit),
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
                reply: None,
                replied_at: None,
                likes: None,
                dislikes: None,
                bypass: *bypass,
                source: "t.csv:2".into(),
                extra: None,
            });
            if grouped {
                members.push(Member {
                    id,
                    group_id: g.map_or(UNCLUSTERED.to_string(), |g| format!("G{g}")),
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
        let mut got = run(records, groups, period, opts).unwrap();
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
        let regs: u64 = got.regions[0].iter().map(|r| r.count.current).sum();
        assert_eq!(regs + got.missing_region, got.records_in_period);
        // Every other breakdown adds up to the records of the period, counted from the records.
        let in_period: Vec<&Record> = records
            .iter()
            .filter(|r| period.periods_back(r.received_at.date()) == Some(0))
            .collect();
        let n = in_period.len() as u64;
        assert_eq!(got.records_in_period, n);
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
        let period = parse_week("2019-W33").unwrap();
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
            let b = run(&records, &groups, &period, &opts).unwrap();
            let t_polars = t.elapsed();
            eprintln!("loop {t_loop:?}, polars {t_polars:?}");
            assert_eq!(a.records_in_period, b.records_in_period);
        }
    }
}
