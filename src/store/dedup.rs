//! Duplicate ids: one version of each id is kept, whatever order the rows came in.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use crate::ingest::{Reject, RejectKind};
use crate::schema::Record;

/// Resolves duplicate ids deterministically, whatever order the rows came in: the most complete
/// version wins (most non-empty fields), then the latest reply/close/receive time, then the
/// greatest serialized form. The losers are reported as `duplicate` rejects naming the winner.
pub fn dedup(records: Vec<Record>) -> (Vec<Record>, Vec<Reject>) {
    let mut by_id: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for r in records {
        by_id.entry(r.id.clone()).or_default().push(r);
    }
    let mut kept = Vec::with_capacity(by_id.len());
    let mut dups = Vec::new();
    for (id, mut versions) in by_id {
        if versions.len() > 1 {
            versions.sort_by_cached_key(|r| std::cmp::Reverse(rank(r)));
        }
        let mut it = versions.into_iter();
        let winner = it.next().expect("at least one version");
        for loser in it {
            let (file, row) = split_source(&loser.source);
            let same = same_content(&loser, &winner);
            dups.push(Reject {
                file,
                row,
                column: "id".into(),
                reason: format!(
                    "duplicate id `{id}`: kept {} ({})",
                    winner.source,
                    if same {
                        "identical content"
                    } else {
                        "more complete or newer version"
                    }
                ),
                kind: RejectKind::Duplicate,
                id: id.clone(),
            });
        }
        kept.push(winner);
    }
    (kept, dups)
}

fn same_content(a: &Record, b: &Record) -> bool {
    let mut a = a.clone();
    a.source = b.source.clone();
    &a == b
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
        r.reply.is_some(),
        r.replied_at.is_some(),
        r.likes.is_some(),
        r.dislikes.is_some(),
        r.bypass.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let mut key = r.clone();
    key.source.clear();
    (
        filled,
        r.closed_at.max(r.replied_at),
        r.accepted_at,
        r.received_at,
        serde_json::to_string(&key).unwrap_or_default() + &r.source,
    )
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

    #[test]
    fn dedup_is_order_independent() {
        let mk = |src: &str, status: Option<&str>| Record {
            status: status.map(str::to_string),
            source: src.into(),
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
}
