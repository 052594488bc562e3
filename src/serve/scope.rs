//! The case groups as a reader limited to some units or regions sees them: only groups with a
//! member in scope, and each group's counts over those members alone, so no count, timeline or
//! unit list reveals a petition outside the scope. Measures of the whole group that cannot be
//! taken over a part (heat, batch score and its reasons, trend, open/closed) are not shown to
//! such a reader (the pages check [`Scope::is_unrestricted`]).

use std::collections::{BTreeMap, HashSet};

use chrono::{Datelike, NaiveDate};

use super::snapshot::Snapshot;
use crate::cluster::{Group, Groups, Id};
use crate::index::Scope;
use crate::schema::Record;

/// Groups restricted to `scope`, in the snapshot's order (heat), and the in-scope members.
pub fn restrict_groups(snap: &Snapshot, scope: &Scope) -> Groups {
    let groups = snap
        .groups
        .groups
        .iter()
        .filter_map(|g| {
            let recs: Vec<&Record> = g
                .members
                .iter()
                .filter_map(|id| snap.record(id))
                .filter(|r| scope.admits(r))
                .collect();
            (!recs.is_empty()).then(|| restrict(g, &recs))
        })
        .collect();
    let members = snap
        .groups
        .members
        .iter()
        .filter(|m| snap.record(&m.id).is_some_and(|r| scope.admits(r)))
        .cloned()
        .collect();
    Groups {
        groups,
        members,
        last_id: snap.groups.last_id,
    }
}

/// One group's counting figures over `recs` (its members in scope).
fn restrict(g: &Group, recs: &[&Record]) -> Group {
    let mut people: HashSet<&str> = HashSet::new();
    let mut anonymous = 0usize;
    let mut weekly: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    let mut units: BTreeMap<String, usize> = BTreeMap::new();
    let mut regions: BTreeMap<String, usize> = BTreeMap::new();
    for r in recs {
        match r.petitioner.as_deref().filter(|p| !p.trim().is_empty()) {
            Some(p) => {
                people.insert(p);
            }
            None => anonymous += 1,
        }
        let d = r.received_at.date();
        *weekly
            .entry(d - chrono::Duration::days(d.weekday().num_days_from_monday() as i64))
            .or_default() += 1;
        if let Some(u) = r.responsible_unit.as_deref().filter(|u| !u.is_empty()) {
            *units.entry(u.to_string()).or_default() += 1;
        }
        let path = r.region_path();
        if !path.is_empty() {
            *regions.entry(path).or_default() += 1;
        }
    }
    let desc = |m: BTreeMap<String, usize>| {
        let mut v: Vec<(String, usize)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    };
    let mut members: Vec<Id> = recs.iter().map(|r| r.id.as_str().into()).collect();
    members.sort();
    let representative = if members
        .binary_search_by(|m| m.as_str().cmp(&g.representative))
        .is_ok()
    {
        g.representative.clone()
    } else {
        members[0].to_string()
    };
    Group {
        size: recs.len(),
        distinct_petitioners: people.len() + anonymous,
        total_headcount: recs.iter().map(|r| r.headcount.max(1) as u64).sum(),
        first_seen: recs.iter().map(|r| r.received_at).min().unwrap_or_default(),
        last_seen: recs.iter().map(|r| r.received_at).max().unwrap_or_default(),
        weeks_active: weekly.len(),
        weekly: weekly.into_iter().collect(),
        units: desc(units),
        regions: desc(regions),
        members,
        representative,
        batch_reasons: Vec::new(),
        ..g.clone()
    }
}
