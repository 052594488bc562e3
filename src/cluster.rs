//! cluster stage: homogeneous-case groups (同质化类案). Algorithm being written; the output
//! model below is the contract the trends, charts and report stages read.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// `[cluster]` in a pipeline file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {}

/// The id of the bucket of petitions in no group.
pub const UNCLUSTERED: &str = "-";

/// Trend of a group over the recent weeks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    New,
    Growing,
    Steady,
    Fading,
}

/// One homogeneous-case group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Stable across weekly runs, e.g. `G0007`.
    pub id: String,
    /// Object + grievance in readable Chinese, unique across groups.
    pub label: String,
    /// The concrete object (estate, company, school, road…) when one was found.
    pub anchor: Option<String>,
    pub key_terms: Vec<String>,
    pub size: usize,
    pub distinct_petitioners: usize,
    pub total_headcount: u64,
    pub first_seen: NaiveDateTime,
    pub last_seen: NaiveDateTime,
    pub weeks_active: usize,
    pub trend: Trend,
    /// Region paths with counts, most frequent first.
    pub regions: Vec<(String, usize)>,
    /// Responsible units with counts, most frequent first.
    pub units: Vec<(String, usize)>,
    pub open: usize,
    pub closed: usize,
    pub heat: f64,
    pub batch_score: f64,
    pub batch_reasons: Vec<String>,
    /// Id of the most central petition.
    pub representative: String,
    /// Member petition ids, sorted.
    pub members: Vec<String>,
}

impl Group {
    /// The unit that handles most of the group's petitions: the suggested lead unit.
    pub fn lead_unit(&self) -> Option<&str> {
        self.units.first().map(|(u, _)| u.as_str())
    }
}

/// One petition's place in the grouping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    /// A group id or [`UNCLUSTERED`].
    pub group_id: String,
    /// Similarity to the group's centroid (0 for unclustered).
    pub similarity: f64,
    /// The same petitioner already filed in this group earlier.
    pub is_repeat: bool,
}

/// The whole grouping of a store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Groups {
    /// Sorted by heat, descending, then id.
    pub groups: Vec<Group>,
    /// One per stored petition, sorted by id.
    pub members: Vec<Member>,
}
