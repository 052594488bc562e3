//! Deterministic sample data: a fictional petition office's export with ground-truth
//! homogeneous-case groups (`truth_group`), used as bundled demo data and as the yardstick for
//! the grouping.
//!
//! Its truth follows the definition of a case in a hand-labelled real key (same concrete
//! object AND same grievance) and shows what makes real petitions hard to group: one object
//! with several different grievances, prolific posters with unrelated messages, repeats with
//! reworded titles, near-copies and variant names of one object, broad policy questions with no
//! object beside a few cases about one named policy decision, and a majority of singletons.
//!
//! Generation has two phases. A cheap sequential *plan* ([`plan`]) decides the world (cities,
//! districts, estates, companies … in [`world`]), the cases and how each came about, and per
//! row its case or singleton kind, object, petitioner, channel and registration time; rows are
//! sorted by time. Each row is then *rendered* ([`render`]) from its own PRNG, and its text from
//! the PRNG of its text number (a copy shares the copied row's), so rows render in parallel and
//! output is byte-identical for a given `(rows, seed)`. Nothing depends on the wall clock or
//! on hash-map order.

mod cases;
mod kinds;
mod phrases;
mod plan;
mod render;
mod rng;
mod singles;
mod world;
mod write;

use chrono::{Datelike, NaiveDate};

pub use plan::Sample;
pub use write::write;

/// The exported columns, in order (all but `truth_group` are aliases of the canonical schema).
pub const HEADERS: [&str; 21] = [
    "信访件编号",
    "登记日期",
    "信访形式",
    "标题",
    "诉求内容",
    "所属地区",
    "信访人",
    "人数",
    "问题分类",
    "责任单位",
    "办理状态",
    "受理日期",
    "办理期限",
    "办结日期",
    "满意度",
    "答复意见",
    "答复时间",
    "点赞数",
    "反对数",
    "是否越级",
    "truth_group",
];

/// The ground-truth column (not part of the canonical schema; ingest keeps it in `extra`).
pub const TRUTH_COLUMN: &str = "truth_group";
/// The ground truth of a petition that belongs to no case. Written out (not left empty) so
/// that scoring counts every petition, as a hand-labelled key does: a group made of such
/// petitions is a false case, not an invisible one.
pub const SINGLETON: &str = "-";

/// First day of the data (a Monday).
pub fn start_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2018, 6, 4).expect("valid date")
}
/// Last day of the data (a Sunday, so the last week is complete).
pub fn end_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2019, 12, 29).expect("valid date")
}
const SPAN_DAYS: u32 = 574; // 82 whole weeks
const EXTRA_DAYS: u32 = 400; // calendar beyond the end for deadlines
const DAY: u32 = 86_400;

/// (year, month, day) of every day from the start, deadlines included.
fn calendar() -> Vec<(u16, u8, u8)> {
    let s = start_date();
    (0..(SPAN_DAYS + EXTRA_DAYS) as u64)
        .map(|i| {
            let d = s + chrono::Days::new(i);
            (d.year() as u16, d.month() as u8, d.day() as u8)
        })
        .collect()
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub rows: usize,
    pub seed: u64,
    /// Share of rows that belong to a case (the rest are singletons); clamped to 0.05..=0.49.
    /// About a third in the hand-labelled real key; 40% of the grouped rows are in small
    /// cases of two to seven petitions, the rest in a few dozen large ones.
    pub grouped_share: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rows: 5000,
            seed: 20191229,
            grouped_share: 0.35,
        }
    }
}

/// One ground-truth group.
#[derive(Debug, Clone)]
pub struct GroupInfo {
    pub key: String,
    pub kind: &'static str,
    pub label: &'static str,
    pub category: &'static str,
    pub anchor: String,
    /// How the case came about: campaign, repeat, copy, variant, policy or neighbours.
    pub origin: &'static str,
    pub size: usize,
}

/// What [`write`] produced.
#[derive(Debug, Clone)]
pub struct Summary {
    pub rows: usize,
    pub groups: usize,
    pub grouped_rows: usize,
    pub first_date: NaiveDate,
    pub last_date: NaiveDate,
    pub group_info: Vec<GroupInfo>,
}

/// One generated row; `cells()` gives the values in [`HEADERS`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRow {
    pub id: String,
    pub received: String,
    pub channel: String,
    pub title: String,
    pub content: String,
    pub region: String,
    pub petitioner: String,
    pub headcount: u32,
    pub category: String,
    pub unit: String,
    pub status: String,
    pub accepted: String,
    pub due: String,
    pub closed: String,
    pub satisfaction: String,
    pub reply: String,
    pub replied: String,
    pub likes: Option<u32>,
    pub dislikes: Option<u32>,
    pub bypass: String,
    pub truth_group: String,
}

impl SampleRow {
    pub fn cells(&self) -> [std::borrow::Cow<'_, str>; 21] {
        use std::borrow::Cow::{Borrowed as B, Owned as O};
        let num = |v: Option<u32>| v.map(|n| O(n.to_string())).unwrap_or(B(""));
        [
            B(&self.id),
            B(&self.received),
            B(&self.channel),
            B(&self.title),
            B(&self.content),
            B(&self.region),
            B(&self.petitioner),
            O(self.headcount.to_string()),
            B(&self.category),
            B(&self.unit),
            B(&self.status),
            B(&self.accepted),
            B(&self.due),
            B(&self.closed),
            B(&self.satisfaction),
            B(&self.reply),
            B(&self.replied),
            num(self.likes),
            num(self.dislikes),
            B(&self.bypass),
            B(&self.truth_group),
        ]
    }
}

/// All rows of a sample, in order (renders lazily).
pub fn generate(opts: &Options) -> impl Iterator<Item = SampleRow> {
    let s = Sample::new(opts);
    (0..s.len()).map(move |i| s.row(i))
}

#[cfg(test)]
mod tests;
