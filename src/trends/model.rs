//! What the trends stage hands the charts and the report: counts with their 环比/同比 bases,
//! breakdown rows, handling KPIs, case groups and overdue petitions of one period.

use chrono::NaiveDate;
use serde::Serialize;

use crate::calendar::Period;
use crate::cluster::Trend;
use crate::schema::Channel;

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
    /// The lead unit is routed from the group's category and region, not the data's.
    pub lead_unit_suggested: bool,
    pub trend: Trend,
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
    pub weekly_by_channel: Vec<[u64; CHANNELS]>,
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
    /// Petitions of the period with no region in the data and none inferred.
    pub missing_region: u64,
    /// Petitions of the period counted under a predicted category (confident).
    pub inferred_category: u64,
    /// Petitions of the period whose prediction was below the threshold (待人工确认).
    pub review_category: u64,
    /// Petitions of the period counted under an inferred region.
    pub inferred_region: u64,
    /// The rising-issue test's minimum count ([`Options::min_count`]), for the brief's method
    /// note.
    pub rising_min_count: u64,
}

/// Channels in a per-channel array: `Channel::ALL`'s length.
pub const CHANNELS: usize = Channel::ALL.len();
