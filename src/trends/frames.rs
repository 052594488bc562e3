//! The per-record frames the aggregations read, built in one pass over the records.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};
use polars::prelude::*;

use super::Options;
use crate::calendar::{working_days_between, Period};
use crate::cluster::{Groups, Member, UNCLUSTERED};
use crate::error::Result;
use crate::inferred::Inferred;
use crate::schema::{Channel, Record, Satisfaction};

// Column names of the per-record frames.
pub(super) const ROW: &str = "row";
pub(super) const BUCKET: &str = "bucket";
pub(super) const YEAR_AGO: &str = "year_ago";
pub(super) const CHANNEL: &str = "channel";
pub(super) const HEAD: &str = "headcount";
pub(super) const CATEGORY: &str = "category";
pub(super) const REGION: [&str; 3] = ["region1", "region2", "region3"];
pub(super) const UNIT: &str = "unit";
pub(super) const GROUP: &str = "group";
pub(super) const PETITIONER: &str = "petitioner";
pub(super) const REPEAT: &str = "repeat";
pub(super) const BYPASS: &str = "bypass";
pub(super) const ACCEPT: &str = "timely_accept";
pub(super) const CLOSE: &str = "on_time_close";
pub(super) const RATED: &str = "rated";
pub(super) const SATISFIED: &str = "satisfied";
pub(super) const CYCLE: &str = "cycle_seconds";

/// The due date: the data's, else received + `close_days`.
pub(super) fn due_of(r: &Record, opts: &Options) -> NaiveDateTime {
    r.due_at
        .unwrap_or(r.received_at + Duration::days(opts.close_days))
}

/// What the aggregations read. What polars could only derive with extra crate features
/// (period buckets, working days, region paths, group membership, status words) is computed in
/// one pass over the records. `row` is the index into `records`, so ids and titles are looked
/// up instead of copied.
pub(super) struct Frames<'a> {
    /// What every record of the store matters for, tallied in the pass: a frame of one row per
    /// record was the trends stage's whole cost in memory at scale (~1.2 GB at ten million
    /// generated petitions, for a few counts and a set).
    pub(super) whole: Whole<'a>,
    /// One row per record in the counted periods (the period, the trailing baseline, the same
    /// period a year earlier) with what the breakdowns read: `row`; `bucket` (0 = the period,
    /// k = k periods earlier, null = only a year ago); `year_ago`; `channel` (index into
    /// `Channel::ALL`); `headcount`; `category`; `region1..3` (the region path at each level:
    /// `A市`, `A市/A1区`, …; null where the level is missing); `unit`; `group`; `petitioner`;
    /// `repeat`; `bypass`; and the KPI indicators, set for the period's petitions only and null
    /// where the data cannot say: `timely_accept`, `on_time_close`, `rated`, `satisfied` (among
    /// the rated) and `cycle_seconds` (received → closed, whole seconds so the average does not
    /// depend on the order polars sums in).
    pub(super) win: DataFrame,
}

/// What the whole store (not only the counted periods) tells the brief.
#[derive(Debug, Default)]
pub(super) struct Whole<'a> {
    /// The case groups with a petition received before the period (the others are new).
    pub(super) groups_before: HashSet<&'a str>,
    /// Some record counts more than one person.
    pub(super) headcount_known: bool,
    /// The backlog (received by the period end and carrying status or closure data) and, of it,
    /// the overdue (still open past its due date at the period end), per responsible unit (None:
    /// the data names none).
    pub(super) backlog: BTreeMap<Option<&'a str>, Backlog>,
    /// The overdue petitions, as indices into `records`, in the records' order.
    pub(super) overdue_rows: Vec<usize>,
}

/// Backlog and overdue petitions of one unit.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Backlog {
    pub(super) backlog: u64,
    pub(super) overdue: u64,
}

/// Builds [`Frames`] for `period`.
pub(super) fn frames<'a>(
    records: &'a [Record],
    inferred: &Inferred,
    groups: &'a Groups,
    period: &Period,
    opts: &Options,
) -> Result<Frames<'a>> {
    let b = opts.baseline_weeks.max(1) as i64;
    let yago = period.year_ago();
    let end = period.to.and_hms_opt(23, 59, 59).expect("valid time");
    let membership = Membership::new(&groups.members);
    let strings = |name: &str, cap: usize| StringChunkedBuilder::new(name.into(), cap);

    let mut whole = Whole::default();
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
        if let Some(g) = grp.filter(|_| d < period.from) {
            whole.groups_before.insert(g);
        }
        whole.headcount_known |= r.headcount > 1;
        // Overdue open petitions: the whole backlog received up to the period end, not only
        // this period's intake.
        if d <= period.to && (r.status.is_some() || r.closed_at.is_some()) {
            let overdue = !r.is_closed_at(end) && due < end;
            let unit = whole
                .backlog
                .entry(r.responsible_unit.as_deref())
                .or_default();
            unit.backlog += 1;
            unit.overdue += u64::from(overdue);
            if overdue {
                whole.overdue_rows.push(i);
            }
        }

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
        w_category.append_option(inferred.category(i, r));
        path.clear();
        let region = inferred.region(i, r);
        for (part, col) in region.iter().zip(&mut w_region) {
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
    Ok(Frames { whole, win })
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
