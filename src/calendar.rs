//! The calendar every stage shares: ISO weeks (Monday to Sunday, labelled `2019-W33`), calendar
//! months, the reporting [`Period`] with its 环比/同比 neighbours, and working days. The group
//! timelines, the search histogram and the brief all count weeks with these functions, so a
//! petition falls in the same week everywhere.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::schema::Record;

/// The Monday of the ISO week holding `d`.
pub fn week_monday(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

/// The ISO week holding `d` as `2019-W33` (the ISO year, which differs from the calendar year
/// in the last days of December and the first of January).
pub fn week_label(d: NaiveDate) -> String {
    let w = d.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// The kind of period a brief covers (`[report] period` in a pipeline file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeriodKind {
    /// An ISO week: 周报.
    #[default]
    Week,
    /// A calendar month: 月报.
    Month,
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
        let from = week_monday(d);
        Period {
            from,
            to: from + Duration::days(6),
            label: week_label(d),
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

/// The latest complete period of the kind a brief uses.
pub fn latest_complete(records: &[Record], kind: PeriodKind) -> Option<Period> {
    match kind {
        PeriodKind::Week => latest_complete_week(records),
        PeriodKind::Month => latest_complete_month(records),
    }
}

/// A period counts as filled when it holds at least 1/`SPARSE_SHARE` of the median of the
/// `SPARSE_BASELINE` periods before it.
const SPARSE_SHARE: usize = 4;
const SPARSE_BASELINE: i64 = 8;
/// Fewer earlier periods than this: too little history to call a period thin.
const SPARSE_MIN_BASELINE: usize = 4;
/// Never step back further than this from the latest complete period.
const SPARSE_MAX_SKIP: i64 = 4;

/// The period a brief covers when none is asked for, with the periods it passed over.
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultPeriod {
    pub period: Period,
    /// Later complete periods left out as thin, newest first, with their petition counts.
    pub skipped: Vec<(Period, usize)>,
    /// The median count of the periods before the briefed one (0 when nothing was skipped).
    pub usual: usize,
}

impl DefaultPeriod {
    /// The method note's sentence on the periods passed over; None when none was.
    pub fn note(&self) -> Option<String> {
        if self.skipped.is_empty() {
            return None;
        }
        let thin: Vec<String> = self
            .skipped
            .iter()
            .rev()
            .map(|(p, n)| format!("{}（{}件）", p.label, n))
            .collect();
        Some(format!(
            "统计期：未指定统计期时取数据中最近一个件数正常的完整统计期{}；其后的{}件数不足此前{}期中位数（{}件）的{}分之一，按数据尚未录全处理，未作为本期；需要时可指定统计期。",
            self.period.label,
            thin.join("、"),
            SPARSE_BASELINE,
            self.usual,
            ["", "一", "二", "三", "四", "五"][SPARSE_SHARE.min(5)],
        ))
    }
}

/// The latest complete period of the data that is not thin. An export often ends with a week
/// or two that hold a handful of petitions (the rest not yet entered, or the export cut early):
/// a brief on 2 petitions when the usual week has 75 tells a meeting nothing, so such periods
/// at the end are passed over (at most [`SPARSE_MAX_SKIP`]) and named in the method note.
pub fn default_period(records: &[Record], kind: PeriodKind) -> Option<DefaultPeriod> {
    let last = latest_complete(records, kind)?;
    let mut by_day: std::collections::BTreeMap<NaiveDate, usize> = Default::default();
    for r in records {
        *by_day.entry(r.received_at.date()).or_default() += 1;
    }
    let first_day = *by_day.keys().next()?;
    let count = |p: &Period| -> usize { by_day.range(p.from..=p.to).map(|(_, n)| n).sum() };
    let usual = |p: &Period| -> Option<usize> {
        let mut before: Vec<usize> = (1..=SPARSE_BASELINE)
            .map(|k| p.shifted(k))
            .filter(|q| q.to >= first_day)
            .map(|q| count(&q))
            .collect();
        if before.len() < SPARSE_MIN_BASELINE {
            return None;
        }
        before.sort_unstable();
        Some(before[before.len() / 2])
    };
    let mut skipped = Vec::new();
    for k in 0..=SPARSE_MAX_SKIP {
        let p = last.shifted(k);
        let n = count(&p);
        match usual(&p) {
            Some(u) if n * SPARSE_SHARE < u && k < SPARSE_MAX_SKIP => skipped.push((p, n)),
            Some(u) if !skipped.is_empty() && n * SPARSE_SHARE >= u => {
                return Some(DefaultPeriod {
                    period: p,
                    skipped,
                    usual: u,
                })
            }
            _ => break,
        }
    }
    Some(DefaultPeriod {
        period: last,
        skipped: Vec::new(),
        usual: 0,
    })
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
/// Working days (Monday to Friday) after `a` up to and including `b`; 0 when `b` is not after
/// `a`. Public holidays are not known to minqing and count as working days.
pub fn working_days_between(a: NaiveDate, b: NaiveDate) -> i64 {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn on(day: &str, n: usize) -> Vec<Record> {
        let mut r = crate::store::tests::rec("x");
        r.received_at = d(day).and_hms_opt(10, 0, 0).unwrap();
        vec![r; n]
    }

    #[test]
    fn thin_periods_at_the_end_are_passed_over_and_named() {
        // ten weeks of 20 petitions (Mondays 2019-11-04 .. 2020-01-06), then 3 and 1
        let mut records: Vec<Record> = Vec::new();
        let mut day = d("2019-11-04");
        for _ in 0..10 {
            records.extend(on(&day.to_string(), 20));
            day += Duration::days(7);
        }
        records.extend(on("2020-01-13", 3));
        records.extend(on("2020-01-26", 1));
        let p = default_period(&records, PeriodKind::Week).unwrap();
        assert_eq!(p.period.label, "2020-W02");
        let skipped: Vec<(&str, usize)> = p
            .skipped
            .iter()
            .map(|(q, n)| (q.label.as_str(), *n))
            .collect();
        assert_eq!(skipped, [("2020-W04", 1), ("2020-W03", 3)]);
        assert_eq!(p.usual, 20);
        let note = p.note().unwrap();
        assert!(note.contains("2020-W03（3件）、2020-W04（1件）"), "{note}");
        // a full last week is briefed as it is, and says nothing
        records.extend(on("2020-01-20", 20));
        let p = default_period(&records, PeriodKind::Week).unwrap();
        assert_eq!((p.period.label.as_str(), p.note()), ("2020-W04", None));
        // too short a history to judge: the latest complete period
        let p = default_period(&on("2020-01-26", 1), PeriodKind::Week).unwrap();
        assert_eq!((p.period.label.as_str(), p.skipped.len()), ("2020-W04", 0));
    }

    #[test]
    fn months_step_by_calendar_month() {
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
    fn weeks_are_iso_weeks() {
        // Sunday 2019-12-29 is in 2019-W52; Monday 2019-12-30 opens 2020-W01.
        assert_eq!(week_monday(d("2019-12-29")), d("2019-12-23"));
        assert_eq!(week_label(d("2019-12-29")), "2019-W52");
        assert_eq!(week_monday(d("2019-12-30")), d("2019-12-30"));
        assert_eq!(week_label(d("2020-01-01")), "2020-W01");
        assert_eq!(Period::iso_week_of(d("2019-08-18")).label, "2019-W33");
        assert_eq!(Period::iso_week_of(d("2019-08-18")).from, d("2019-08-12"));
    }

    #[test]
    fn working_days_skip_weekends() {
        // Friday → next Monday: one working day.
        assert_eq!(working_days_between(d("2019-08-16"), d("2019-08-19")), 1);
        assert_eq!(working_days_between(d("2019-08-12"), d("2019-08-19")), 5);
        assert_eq!(working_days_between(d("2019-08-19"), d("2019-08-12")), 0);
    }
}
