//! Stable group ids: a regrouping keeps last run's ids by member overlap; new groups are
//! numbered after every id ever issued, in order of their first petition.

use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;
use serde::Deserialize;

use super::{Groups, Id};
use crate::fxhash::FastMap;
use crate::schema::Record;

/// What the ids of a regrouping need of last run's grouping: each earlier group's id and
/// members, and the highest number issued. Read from `groups.json` without its per-petition
/// rows and figures ([`super::io::read_previous`]): at a million petitions the whole
/// [`Groups`] held 0.4 GB through the grouping for what is a tenth of that.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Previous {
    groups: Vec<Earlier>,
    #[serde(default)]
    last_id: u32,
}

#[derive(Debug, Clone, Deserialize)]
struct Earlier {
    id: String,
    members: Vec<Id>,
}

impl Previous {
    /// The part of a grouping in memory that the next one's ids need.
    pub fn of(groups: &Groups) -> Previous {
        Previous {
            groups: groups
                .groups
                .iter()
                .map(|g| Earlier {
                    id: g.id.clone(),
                    members: g.members.clone(),
                })
                .collect(),
            last_id: groups.last_id,
        }
    }
}

/// Each cluster's id (clusters as positions into `clusters`, members as indices into the
/// id-sorted records) and the highest number issued. A cluster inherits the previous id it
/// shares most members with, when the overlap is ≥ 30% of that earlier group or ≥ half of the
/// cluster; each earlier id goes to one cluster at most (the largest overlap first).
pub(super) fn stable(
    sorted: &[&Record],
    clusters: &[usize],
    members_of: &[Vec<usize>],
    previous: Option<&Previous>,
) -> (Vec<String>, u32) {
    // Fx, sized once (SipHash into a growing map before); with the overlaps below counted on
    // all cores, this step took 0.24 s instead of 0.60 s regrouping a million petitions
    let mut prev_of: FastMap<&str, &str> = FastMap::default();
    if let Some(p) = previous {
        prev_of.reserve(p.groups.iter().map(|g| g.members.len()).sum());
        prev_of.extend(
            p.groups
                .iter()
                .flat_map(|g| g.members.iter().map(|m| (m.as_str(), g.id.as_str()))),
        );
    }
    let prev_sizes: HashMap<&str, usize> = previous
        .map(|p| {
            p.groups
                .iter()
                .map(|g| (g.id.as_str(), g.members.len()))
                .collect()
        })
        .unwrap_or_default();
    // (overlap, cluster pos, prev id), counted per cluster on all cores; the sort below orders
    // them completely (a position names one cluster, an id appears once per cluster)
    let prev_sizes = &prev_sizes;
    let mut pairs: Vec<(usize, usize, String)> = if prev_of.is_empty() {
        Vec::new()
    } else {
        clusters
            .par_iter()
            .enumerate()
            .flat_map_iter(|(pos, &c)| {
                let mut ov: BTreeMap<&str, usize> = BTreeMap::new();
                for &i in &members_of[c] {
                    if let Some(g) = prev_of.get(sorted[i].id.as_str()) {
                        *ov.entry(g).or_insert(0) += 1;
                    }
                }
                let size = members_of[c].len();
                ov.into_iter().filter_map(move |(g, n)| {
                    let ps = prev_sizes.get(g).copied().unwrap_or(n).max(1);
                    (n * 10 >= ps * 3 || n * 2 >= size).then(|| (n, pos, g.to_string()))
                })
            })
            .collect()
    };
    pairs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut ids: Vec<Option<String>> = vec![None; clusters.len()];
    let mut used: HashSet<String> = HashSet::new();
    for (_, pos, g) in pairs {
        if ids[pos].is_none() && !used.contains(&g) {
            used.insert(g.clone());
            ids[pos] = Some(g);
        }
    }
    let mut last_id = previous
        .map(|p| {
            p.groups
                .iter()
                .filter_map(|g| GroupId::parse(&g.id).map(|n| n.0))
                .chain(std::iter::once(p.last_id))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    // new ids in order of first petition time, then smallest id
    let fresh: Vec<usize> = (0..clusters.len()).filter(|&p| ids[p].is_none()).collect();
    for p in first_seen_order(sorted, fresh, |p| &members_of[clusters[p]]) {
        last_id += 1;
        ids[p] = Some(GroupId(last_id).to_string());
    }
    (
        ids.into_iter().map(Option::unwrap_or_default).collect(),
        last_id,
    )
}

/// Cluster positions `ps` in the order new ids are handed out: by first petition time, then
/// smallest member index.
pub(super) fn first_seen_order<'m>(
    sorted: &[&Record],
    mut ps: Vec<usize>,
    members: impl Fn(usize) -> &'m Vec<usize>,
) -> Vec<usize> {
    // each key reads all of the cluster's members: computed once per cluster, not once per
    // comparison (1.4 s of one core at a million petitions)
    ps.sort_by_cached_key(|&p| {
        let m = members(p);
        let first = m.iter().map(|&i| sorted[i].received_at).min();
        (first, m.iter().min().copied())
    });
    ps
}

/// A case group's number as users see it: `G0007`. Numbers are never reused (see
/// [`Groups::last_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(pub u32);

impl GroupId {
    /// Reads `G0007` back (None for anything else, [`super::UNCLUSTERED`] included).
    pub fn parse(id: &str) -> Option<GroupId> {
        id.strip_prefix('G')?.parse().ok().map(GroupId)
    }
}

impl std::fmt::Display for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "G{:04}", self.0)
    }
}
