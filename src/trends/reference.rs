//! The hand-written single-loop implementation `run` replaced, kept as the oracle of the
//! differential test (same inputs must give the same `Trends`).

use std::collections::{BTreeSet, HashMap};

use chrono::Duration;

use super::*;
use crate::calendar::working_days_between;
use crate::cluster::UNCLUSTERED;
use crate::schema::{Channel, Record, Satisfaction};

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
                self.ids.push(r.id.to_string());
            }
        }
        if yago {
            self.year_ago += 1;
            self.year_ago_head += r.headcount as u64;
        }
    }
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
            let closed = r.is_closed_at(end);
            let is_over = !closed && due < end;
            let mut ks = vec![&mut kpi];
            if let Some(u) = &r.responsible_unit {
                // Units with backlog only still get a KPI row (petitions = 0 this period).
                ks.push(kpi_units.entry(u.to_string()).or_default());
            }
            for k in ks {
                k.any_status = true;
                k.overdue += is_over as u64;
            }
            if is_over {
                overdue.push(Overdue {
                    id: r.id.to_string(),
                    unit: r.responsible_unit.as_deref().map(str::to_string),
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
            cats.entry(c.to_string())
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
                .entry(u.to_string())
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
        if r.region.iter().all(Option::is_none) {
            miss_reg += 1;
        }
        if let Some(p) = &r.petitioner {
            any_petitioner = true;
            petitioners.insert(p.as_str());
        }
        if let Some((_, rep)) = group_of.get(r.id.as_str()) {
            if *rep {
                repeat.push(r.id.to_string());
            }
        }
        if r.is_collective() {
            collective.push(r.id.to_string());
            collective_headcount += r.headcount as u64;
        }
        if let Some(bp) = r.bypass {
            any_bypass = true;
            if bp {
                bypass.push(r.id.to_string());
            }
        }
        let ku = r
            .responsible_unit
            .as_ref()
            .map(|u| kpi_units.entry(u.to_string()).or_default());
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
            lead_unit_suggested: false,
            trend: group_trend(&a.buckets, g.first_seen.date(), period, opts),
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
        inferred_category: 0,
        review_category: 0,
        inferred_region: 0,
        rising_min_count: opts.min_count,
    })
}
