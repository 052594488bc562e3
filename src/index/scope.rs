//! Whose petitions a reader may see: a user limited to some responsible units or regions. One
//! rule, in two forms: a tantivy filter for searches and a predicate on records for everything
//! read from the store (groups, a petitioner's other petitions, briefs).

use serde::{Deserialize, Serialize};
use tantivy::query::{BooleanQuery, Occur, Query};

use super::query::{exact, region_query};
use super::Fields;
use crate::schema::Record;

/// The responsible units and regions a reader is limited to. An empty list does not restrict;
/// when both lists are given a petition must match both (a unit's petitions within a district).
/// A region is a level name (`A5区`, any level) or a path prefix (`A市/A5区`), as in `region:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    #[serde(default)]
    pub units: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
}

impl Scope {
    /// Sees every petition.
    pub fn is_unrestricted(&self) -> bool {
        self.units.is_empty() && self.regions.is_empty()
    }

    /// Whether a petition is inside the scope (the same rule as [`Scope::query`]).
    pub fn admits(&self, r: &Record) -> bool {
        let unit_ok = self.units.is_empty()
            || r.responsible_unit
                .as_deref()
                .is_some_and(|u| self.units.iter().any(|s| s == u));
        unit_ok && (self.regions.is_empty() || self.regions.iter().any(|s| region_admits(s, r)))
    }

    /// The filter a search adds (`None` when unrestricted).
    pub(crate) fn query(&self, f: &Fields) -> Option<Box<dyn Query>> {
        let any_of = |qs: Vec<Box<dyn Query>>| -> Box<dyn Query> {
            Box::new(BooleanQuery::new(
                qs.into_iter().map(|q| (Occur::Should, q)).collect(),
            ))
        };
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if !self.units.is_empty() {
            must.push((
                Occur::Must,
                any_of(self.units.iter().map(|u| exact(f.unit, u)).collect()),
            ));
        }
        if !self.regions.is_empty() {
            must.push((
                Occur::Must,
                any_of(self.regions.iter().map(|r| region_query(f, r)).collect()),
            ));
        }
        (!must.is_empty()).then(|| Box::new(BooleanQuery::new(must)) as Box<dyn Query>)
    }
}

/// `region:` on a record: a path prefix of its levels, or one of its levels.
fn region_admits(value: &str, r: &Record) -> bool {
    let levels: Vec<&str> = r.region.iter().flatten().map(|l| &**l).collect();
    region_levels_match(value, &levels)
}

/// `region:` on a `/`-joined region path (`A市/A5区/洞井街道`).
pub fn region_path_matches(value: &str, path: &str) -> bool {
    let levels: Vec<&str> = path.split('/').filter(|l| !l.is_empty()).collect();
    region_levels_match(value, &levels)
}

fn region_levels_match(value: &str, levels: &[&str]) -> bool {
    let value = value.trim().trim_matches('/');
    if value.contains('/') {
        let parts: Vec<&str> = value
            .split('/')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        levels.len() >= parts.len() && levels[..parts.len()] == parts[..]
    } else {
        levels.contains(&value)
    }
}
