//! Duplicate ids: one version of each id is kept, whatever order the rows came in.

use chrono::NaiveDateTime;

use crate::ingest::{Reject, RejectKind};
use crate::schema::{Channel, Record, Satisfaction};

/// Resolves duplicate ids deterministically, whatever order the rows came in: the most complete
/// version wins (most non-empty fields), then the latest reply/close/receive time, then the
/// greatest serialized form. The losers are reported as `duplicate` rejects naming the winner.
pub fn dedup(mut records: Vec<Record>) -> (Vec<Record>, Vec<Reject>) {
    // Sorted by id in place (stable: the versions of an id keep the order they came in) and
    // resolved run by run, instead of a map from each id to a vector of its versions: that was
    // one small allocation per row, let go again at once, for every row of an import.
    records.sort_by(|a, b| a.id.cmp(&b.id));
    let mut dups = Vec::new();
    for versions in records.chunk_by_mut(|a, b| a.id == b.id) {
        if versions.len() < 2 {
            continue;
        }
        versions.sort_by_cached_key(|r| std::cmp::Reverse(rank(r)));
        let (winner, losers) = versions.split_first().expect("at least two versions");
        for loser in losers {
            let (file, row) = split_source(loser.source());
            let same = same_content(loser, winner);
            dups.push(Reject {
                file,
                row,
                column: "id".into(),
                reason: format!(
                    "duplicate id `{}`: kept {} ({})",
                    winner.id,
                    winner.source(),
                    if same {
                        "identical content"
                    } else {
                        "more complete or newer version"
                    }
                ),
                kind: RejectKind::Duplicate,
                id: winner.id.to_string(),
            });
        }
    }
    // the winner leads each run of one id
    records.dedup_by(|later, first| later.id == first.id);
    (records, dups)
}

/// Equal in every field but the source row.
fn same_content(a: &Record, b: &Record) -> bool {
    Serialized::of(a) == Serialized::of(b)
}

fn rank(
    r: &Record,
) -> (
    usize,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    NaiveDateTime,
    String,
) {
    let filled = [
        !r.title.is_empty(),
        r.region[0].is_some(),
        r.petitioner.is_some(),
        r.category.is_some(),
        r.responsible_unit.is_some(),
        r.status.is_some(),
        r.accepted_at.is_some(),
        r.due_at.is_some(),
        r.closed_at.is_some(),
        r.satisfaction.is_some(),
        r.reply().is_some(),
        r.replied_at.is_some(),
        r.likes.is_some(),
        r.dislikes.is_some(),
        r.bypass.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    (
        filled,
        r.closed_at.max(r.replied_at),
        r.accepted_at,
        r.received_at,
        serde_json::to_string(&Serialized::of(r)).unwrap_or_default() + r.source(),
    )
}

/// A record's fields with an empty source: compared for [`same_content`], and as JSON the last
/// tie-break of [`rank`] — its fields in the order the record had them when it was serialized
/// whole (the reply among them), so the same version of an id wins as before its reply, source
/// and unmapped columns moved to [`crate::schema::Cold`].
#[derive(serde::Serialize, PartialEq)]
struct Serialized<'a> {
    id: &'a str,
    received_at: NaiveDateTime,
    channel: Channel,
    title: &'a str,
    content: &'a str,
    region: [Option<&'a str>; 3],
    petitioner: Option<&'a str>,
    headcount: u32,
    category: Option<&'a str>,
    responsible_unit: Option<&'a str>,
    status: Option<&'a str>,
    accepted_at: Option<NaiveDateTime>,
    due_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    satisfaction: Option<Satisfaction>,
    reply: Option<&'a str>,
    replied_at: Option<NaiveDateTime>,
    likes: Option<u32>,
    dislikes: Option<u32>,
    bypass: Option<bool>,
    source: &'a str,
    extra: Option<&'a str>,
}

impl<'a> Serialized<'a> {
    fn of(r: &'a Record) -> Self {
        Serialized {
            id: &r.id,
            received_at: r.received_at,
            channel: r.channel,
            title: &r.title,
            content: &r.content,
            region: [0, 1, 2].map(|k| r.region[k].as_deref()),
            petitioner: r.petitioner.as_deref(),
            headcount: r.headcount,
            category: r.category.as_deref(),
            responsible_unit: r.responsible_unit.as_deref(),
            status: r.status.as_deref(),
            accepted_at: r.accepted_at,
            due_at: r.due_at,
            closed_at: r.closed_at,
            satisfaction: r.satisfaction,
            reply: r.reply(),
            replied_at: r.replied_at,
            likes: r.likes,
            dislikes: r.dislikes,
            bypass: r.bypass,
            source: "",
            extra: r.extra(),
        }
    }
}

fn split_source(s: &str) -> (String, u64) {
    match s.rsplit_once(':') {
        Some((f, r)) => (f.to_string(), r.parse().unwrap_or(0)),
        None => (s.to_string(), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Cold;

    #[test]
    fn dedup_is_order_independent() {
        let mk = |src: &str, status: Option<&str>| Record {
            status: status.map(Into::into),
            cold: Cold {
                source: src.into(),
                ..Cold::default()
            }
            .boxed(),
            ..crate::store::tests::rec("1")
        };
        let a = vec![mk("a:2", None), mk("a:3", Some("已办结"))];
        let b = vec![mk("a:3", Some("已办结")), mk("a:2", None)];
        let (ka, da) = dedup(a);
        let (kb, db) = dedup(b);
        assert_eq!(ka, kb);
        assert_eq!(da, db);
        assert_eq!(ka[0].status.as_deref(), Some("已办结"));
        assert_eq!(da[0].kind, RejectKind::Duplicate);
    }

    /// The first form of [`dedup`] (a map from each id to its versions, in the order they came),
    /// kept as the oracle of the in-place one.
    fn dedup_by_map(records: Vec<Record>) -> (Vec<Record>, Vec<Reject>) {
        let mut by_id: std::collections::BTreeMap<String, Vec<Record>> = Default::default();
        for r in records {
            by_id.entry(r.id.to_string()).or_default().push(r);
        }
        let mut kept = Vec::new();
        let mut dups = Vec::new();
        for (id, mut versions) in by_id {
            versions.sort_by_cached_key(|r| std::cmp::Reverse(rank(r)));
            let winner = versions.remove(0);
            for loser in versions {
                let (file, row) = split_source(loser.source());
                let same = if same_content(&loser, &winner) {
                    "identical content"
                } else {
                    "more complete or newer version"
                };
                dups.push(Reject {
                    file,
                    row,
                    column: "id".into(),
                    reason: format!("duplicate id `{id}`: kept {} ({same})", winner.source()),
                    kind: RejectKind::Duplicate,
                    id: id.clone(),
                });
            }
            kept.push(winner);
        }
        (kept, dups)
    }

    proptest::proptest! {
        /// Rows of a few ids, some repeated with other fields (and some identical but for their
        /// source row), in any order: the same winners, losers and reasons as the map.
        #[test]
        fn in_place_dedup_matches_the_map(
            rows in proptest::collection::vec((0u8..6, 0u8..3, proptest::bool::ANY), 0..40)
        ) {
            let records: Vec<Record> = rows
                .iter()
                .enumerate()
                .map(|(n, &(id, status, titled))| Record {
                    status: (status > 0).then(|| format!("状态{status}").into()),
                    title: if titled { "标题".into() } else { Default::default() },
                    cold: Cold {
                        source: format!("a.csv:{}", n + 2).into(),
                        ..Cold::default()
                    }
                    .boxed(),
                    ..crate::store::tests::rec(&format!("id{id}"))
                })
                .collect();
            proptest::prop_assert_eq!(dedup(records.clone()), dedup_by_map(records));
        }
    }
}
