//! trends stage: weekly counts, period-on-period changes, handling KPIs and rising issues.
//!
//! In: the store's records, the case groups and the period to brief ([`Input`]). Out:
//! [`Trends`], in memory (the charts and the report read it; nothing is written).
//!
//! polars does the aggregation. One pass over the records tallies what the whole store tells
//! (the backlog and overdue petitions per unit, the groups seen before the period) and builds a
//! frame of per-record columns (see `Frames`) of the records of the counted periods, with their
//! bucket (0 = the period, 1..=baseline = the trailing periods, null = only the same period a
//! year earlier), region path at each level, case group and KPI indicators. Each breakdown
//! (channel, category, region level, unit, group, total) is then a lazy
//! `group_by([dimension, bucket]).agg([len, sum(headcount), …])`, the KPIs are sums and non-null
//! counts of the indicator columns (overall and per unit, with the pass's backlog), and distinct
//! petitioners an `n_unique`, so the cost is linear in the records whatever the number of weeks.
//! polars' group order is not stable: rows are assembled into ordered maps and every list is
//! sorted, so the output is deterministic.
//!
//! Rising-issue test: for a category, region or group with `k` petitions in the period and a
//! trailing baseline mean `λ` over the previous `baseline_weeks` periods (λ floored at
//! `min_lambda`), the issue is flagged when `k ≥ min_count` and the Poisson upper tail
//! `P(X ≥ k | λ) < p_threshold`.

mod aggregate;
mod frames;
mod model;
mod stats;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Deserialize;

use crate::calendar::Period;
use crate::cluster::{Groups, Trend};
use crate::error::Result;
use crate::inferred::Inferred;
use crate::schema::{Record, COLLECTIVE_HEADCOUNT};
use aggregate::{add_period_sums, ids_of, in_period, period_kpi_aggs, tally, u64s, Acc};
use frames::{
    due_of, frames, Frames, Whole, BUCKET, BYPASS, CATEGORY, CHANNEL, GROUP, HEAD, PETITIONER,
    REGION, REPEAT, ROW, UNIT, YEAR_AGO,
};
pub use model::{Change, GroupRow, Kpi, Overdue, Ratio, Row, Trends, CHANNELS};
pub use stats::poisson_upper;
use stats::{change_of, channel_changes, covered_periods, rising_test};

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
    /// A group's trend in the brief compares its last this many periods with the as many
    /// before ([`Trend::of_buckets`]; `[cluster] recent_weeks` is the same window for the group
    /// tables, in weeks). Both windows lie within the counted periods: at most
    /// (`baseline_weeks` + 1) / 2.
    pub trend_periods: usize,
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
            trend_periods: 4,
        }
    }
}

/// What the trends of one period are computed from.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The store's records (any order).
    pub records: &'a [Record],
    /// What was inferred for them (aligned with `records`; [`Inferred::default`] for nothing):
    /// the breakdowns count a petition without a category or region by its inferred one, and a
    /// group without a unit in the data gets the unit routed for most of its members.
    pub inferred: &'a Inferred,
    /// The case groups of those records ([`Groups::default`] when there are none).
    pub groups: &'a Groups,
    /// The period to brief.
    pub period: &'a Period,
}

/// A group's trend as of the briefed period (not the data's last period): new when first seen
/// in the period, else [`Trend::of_buckets`] over [`Options::trend_periods`]. `buckets[k]` =
/// the group's petitions k periods back.
pub fn group_trend(
    buckets: &[u64],
    first_seen: NaiveDate,
    period: &Period,
    opts: &Options,
) -> Trend {
    // A group first seen after the period has none of its petitions in the counted periods and
    // is left out of the brief; any value would do.
    let first_back = period.periods_back(first_seen).unwrap_or(-1);
    Trend::of_buckets(buckets, first_back, NEW_PERIODS, opts.trend_periods)
}

/// A group is new in a brief when its first petition is in the briefed period itself.
const NEW_PERIODS: i64 = 1;

/// Computes the trends of `period`.
pub fn run(input: Input<'_>, opts: &Options) -> Result<Trends> {
    let Input {
        records,
        inferred,
        groups,
        period,
    } = input;
    let b = opts.baseline_weeks.max(1);
    let nb = b + 1;
    let yago = period.year_ago();
    let data_from = records.iter().map(|r| r.received_at.date()).min();
    let data_to = records.iter().map(|r| r.received_at.date()).max();
    let has_prev = data_from.is_some_and(|d| d <= period.shifted(1).from);
    let has_yago = data_from.is_some_and(|d| d <= yago.from);

    let Frames { whole, win } = frames(records, inferred, groups, period, opts)?;
    // The period's rows.
    let per = win.clone().lazy().filter(in_period()).collect()?;

    let total = tally(&win, None, nb, records)?
        .remove("")
        .unwrap_or_else(|| Acc::new(nb));
    let cats = tally(&win, Some(CATEGORY), nb, records)?;
    let regs = REGION.map(|c| tally(&win, Some(c), nb, records));
    let units = tally(&win, Some(UNIT), nb, records)?;
    let mut grp = tally(&win, Some(GROUP), nb, records)?;

    // Channel × bucket, and year-ago per channel.
    let (weekly, year_ago_ch) = channel_weeks(&win, nb)?;

    // In the period: distinct petitioners, missing dimensions, repeat/collective/bypass.
    let (petitioner_rows, distinct, miss_cat, _) = {
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
    let inf = inferred_counts(records, inferred, period);
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
    let is_collective = || col(HEAD).gt_eq(lit(COLLECTIVE_HEADCOUNT as u64));
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
    let headcount_known = whole.headcount_known;

    let (kpi, kpi_units) = kpis(&per, &whole)?;
    let overdue = overdue(&whole, records, period, opts);

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

    let suggested = suggested_units(records, inferred, groups);
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
            lead_unit: g
                .lead_unit()
                .map(str::to_string)
                .or_else(|| suggested.get(g.id.as_str()).cloned()),
            lead_unit_suggested: g.lead_unit().is_none() && suggested.contains_key(g.id.as_str()),
            trend: group_trend(&a.buckets, g.first_seen.date(), period, opts),
            weekly: weekly_of(&a),
            baseline_mean,
            p_value,
            rising,
            new: cur > 0 && !whole.groups_before.contains(g.id.as_str()),
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
        missing_region: inf.missing_region,
        inferred_category: inf.category,
        review_category: inf.review,
        inferred_region: inf.region,
        rising_min_count: opts.min_count,
    })
}

/// The period's petitions counted by an inferred value.
struct InferredCounts {
    category: u64,
    review: u64,
    region: u64,
    missing_region: u64,
}

fn inferred_counts(records: &[Record], inferred: &Inferred, period: &Period) -> InferredCounts {
    let mut c = InferredCounts {
        category: 0,
        review: 0,
        region: 0,
        missing_region: 0,
    };
    for (i, r) in records.iter().enumerate() {
        let d = r.received_at.date();
        if d < period.from || d > period.to {
            continue;
        }
        let (cat, reg) = inferred.is_inferred(i, r);
        if cat {
            if inferred.category(i, r) == Some(crate::classify::NEEDS_REVIEW) {
                c.review += 1;
            } else {
                c.category += 1;
            }
        }
        c.region += u64::from(reg);
        c.missing_region += u64::from(inferred.region(i, r).iter().all(Option::is_none));
    }
    c
}

/// Per group: the suggested unit most of its members were routed to (first by name on a tie),
/// for groups whose data names no unit.
fn suggested_units(
    records: &[Record],
    inferred: &Inferred,
    groups: &Groups,
) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    let unled: Vec<&crate::cluster::Group> = groups
        .groups
        .iter()
        .filter(|g| g.lead_unit().is_none())
        .collect();
    // the id → row map (a million entries at a million petitions) only where a group needs it
    if unled.is_empty() {
        return out;
    }
    let row: crate::fxhash::FastMap<&str, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    for g in unled {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in &g.members {
            if let Some(u) = row.get(m.as_str()).and_then(|i| inferred.unit(*i)) {
                *votes.entry(u).or_default() += 1;
            }
        }
        if let Some((u, _)) = votes
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        {
            out.insert(g.id.clone(), u.to_string());
        }
    }
    out
}

/// Petitions per channel and period bucket (oldest first, the period last), and per channel a
/// year earlier.
fn channel_weeks(win: &DataFrame, nb: usize) -> Result<(Vec<[u64; CHANNELS]>, [u64; CHANNELS])> {
    let mut weekly = vec![[0u64; CHANNELS]; nb];
    let mut year_ago_ch = [0u64; CHANNELS];
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
    Ok((weekly, year_ago_ch))
}

/// The KPIs: the period's petitions plus the backlog (overdue), overall and per unit. Units
/// with backlog only still get a row (petitions = 0 this period).
fn kpis(per: &DataFrame, whole: &Whole) -> Result<(Kpi, Vec<Kpi>)> {
    let mut sums = BTreeMap::new();
    add_period_sums(
        &per.clone().lazy().select(period_kpi_aggs()).collect()?,
        None,
        &mut sums,
    )?;
    let total = sums.entry(String::new()).or_default();
    whole.backlog.values().for_each(|b| total.add_backlog(b));
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
    for (unit, b) in &whole.backlog {
        if let Some(unit) = unit {
            sums.entry(unit.to_string()).or_default().add_backlog(b);
        }
    }
    let mut kpi_units: Vec<Kpi> = sums.into_iter().map(|(u, k)| k.finish(u)).collect();
    kpi_units.sort_by(|a, b| {
        b.petitions
            .cmp(&a.petitions)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok((kpi, kpi_units))
}

/// Open petitions past their due date at the period end, most overdue first.
fn overdue(whole: &Whole, records: &[Record], period: &Period, opts: &Options) -> Vec<Overdue> {
    let end = period.to;
    let mut overdue: Vec<Overdue> = whole
        .overdue_rows
        .iter()
        .map(|&i| {
            let r = &records[i];
            let due = due_of(r, opts).date();
            Overdue {
                id: r.id.to_string(),
                unit: r.responsible_unit.as_deref().map(str::to_string),
                due,
                days_over: (end - due).num_days(),
                title: r.headline(),
            }
        })
        .collect();
    overdue.sort_by(|a, b| b.days_over.cmp(&a.days_over).then_with(|| a.id.cmp(&b.id)));
    overdue
}

#[cfg(test)]
mod reference;

#[cfg(test)]
mod differential;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_trend_is_relative_to_the_briefed_period() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let w33 = crate::calendar::parse_week("2019-W33").unwrap();
        let o = Options::default();
        let trend_in_period =
            |b: &[u64], first: NaiveDate, p: &Period| group_trend(b, first, p, &o);
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

        // the windows come from the options: 4 in the last 2 periods against 2 in the 2
        // before is growing; over 4 periods (6 against 6) it is steady
        let two = Options {
            trend_periods: 2,
            ..Default::default()
        };
        let buckets = [2, 2, 1, 1, 3, 3, 0, 0];
        let old = d("2019-01-01");
        assert_eq!(group_trend(&buckets, old, &w33, &two), Trend::Growing);
        assert_eq!(group_trend(&buckets, old, &w33, &o), Trend::Steady);
    }
}
