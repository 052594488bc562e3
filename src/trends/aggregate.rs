//! The polars aggregations over the frames: counts per dimension and period bucket, and the
//! KPI sums overall and per unit.

use std::collections::BTreeMap;

use polars::prelude::*;

use super::frames::{ACCEPT, BUCKET, CLOSE, CYCLE, HEAD, RATED, ROW, SATISFIED, YEAR_AGO};
use super::model::{Kpi, Ratio};
use crate::error::Result;
use crate::schema::Record;

/// One breakdown row's counts as the aggregation returns them.
pub(super) struct Acc {
    /// Petitions per bucket: 0 = period, 1..=b = trailing periods.
    pub(super) buckets: Vec<u64>,
    pub(super) head_buckets: Vec<u64>,
    pub(super) year_ago: u64,
    pub(super) year_ago_head: u64,
    /// Petition ids in the period (unsorted).
    pub(super) ids: Vec<String>,
}

impl Acc {
    pub(super) fn new(nb: usize) -> Acc {
        Acc {
            buckets: vec![0; nb],
            head_buckets: vec![0; nb],
            year_ago: 0,
            year_ago_head: 0,
            ids: Vec::new(),
        }
    }
}

/// Rows in the period (`bucket == 0`; null buckets are not).
pub(super) fn in_period() -> Expr {
    col(BUCKET).eq_missing(lit(0u32))
}

/// A column of counts or sums as u64 (polars sums booleans to its index type).
pub(super) fn u64s(df: &DataFrame, name: &str) -> Result<Vec<u64>> {
    let c = df.column(name)?.cast(&DataType::UInt64)?;
    Ok(c.u64()?.iter().map(|v| v.unwrap_or(0)).collect())
}

/// Row indices (a `row` column, or a list of them) back to sorted petition ids.
pub(super) fn ids_of(rows: &Series, records: &[Record]) -> Result<Vec<String>> {
    let mut ids: Vec<String> = rows
        .u64()?
        .into_no_null_iter()
        .map(|i| records[i as usize].id.to_string())
        .collect();
    ids.sort();
    Ok(ids)
}

/// Petitions and head counts per `key` (None = one total) and bucket, plus the year-ago counts
/// and the period's ids: `group_by([key, bucket]).agg([len, sum(headcount), …])` over the rows
/// in the counted periods.
pub(super) fn tally(
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
pub(super) struct KpiSums {
    petitions: u64,
    /// 及时受理, 按期办结, 满意, 参评, as in `RATIOS`.
    ratios: [Ratio; 4],
    cycle_seconds: i64,
    cycle_n: u64,
    backlog: u64,
    overdue: u64,
}

impl KpiSums {
    /// Adds a unit's (or every unit's) backlog and overdue petitions.
    pub(super) fn add_backlog(&mut self, b: &super::frames::Backlog) {
        self.backlog += b.backlog;
        self.overdue += b.overdue;
    }

    /// The KPIs; a rate is None where its denominator is 0 (unavailable, never 0%).
    pub(super) fn finish(&self, name: String) -> Kpi {
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
pub(super) fn period_kpi_aggs() -> Vec<Expr> {
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

/// The key column of an aggregation result as strings ("" for every row when `key` is None).
pub(super) fn names(out: &DataFrame, key: Option<&str>) -> Result<Vec<String>> {
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
pub(super) fn add_period_sums(
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
