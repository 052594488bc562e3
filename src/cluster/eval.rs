//! Scoring a grouping against a ground truth: the generator's `truth_group` column, or a
//! hand-labelled answer key (`留言编号,group_id`, one row per petition, a label used once =
//! a singleton).
//!
//! Two families of measures. Over all scored petitions: B-cubed, pairwise F1, ARI and NMI
//! (inflated by the many petitions that belong to no case). And the measures a task force
//! cares about, [`GroupScores`]: is each predicted group a real case, is each real case found
//! (a group of ≥ 2 matches another when their Jaccard overlap over the scored petitions is
//! ≥ [`MATCH_JACCARD`]); and B-cubed over the petitions grouped on either side only.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{Groups, UNCLUSTERED};
use crate::error::{Error, Result};
use crate::schema::Record;

/// Jaccard overlap at which a predicted group and a true group count as the same case.
pub const MATCH_JACCARD: f64 = 0.5;

/// Scores of a grouping against ground truth. Unclustered petitions count as singletons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalScores {
    /// Petitions with a truth value (the ones scored).
    pub n: usize,
    pub bcubed_precision: f64,
    pub bcubed_recall: f64,
    pub bcubed_f1: f64,
    pub pairwise_precision: f64,
    pub pairwise_recall: f64,
    pub pairwise_f1: f64,
    pub ari: f64,
    pub nmi: f64,
    /// Group-level precision/recall and B-cubed over grouped petitions.
    pub groups: GroupScores,
}

/// Scores `groups` against the truth column `truth_column` of the records' `extra`. Records
/// without a truth value are skipped; a truth value of `-` or empty is a singleton.
pub fn eval(records: &[Record], groups: &Groups, truth_column: &str) -> Result<EvalScores> {
    let pred: HashMap<&str, &str> = groups
        .members
        .iter()
        .map(|m| (m.id.as_str(), m.group_id.as_str()))
        .collect();
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut truth: Vec<String> = Vec::new();
    let mut predicted: Vec<String> = Vec::new();
    for r in sorted {
        let Some(t) = r.extra_value(truth_column) else {
            continue;
        };
        let t = if t.trim().is_empty() || t.trim() == UNCLUSTERED {
            format!("\u{0}single:{}", r.id)
        } else {
            t
        };
        let p = match pred.get(r.id.as_str()) {
            Some(g) if *g != UNCLUSTERED => g.to_string(),
            _ => format!("\u{0}single:{}", r.id),
        };
        truth.push(t);
        predicted.push(p);
    }
    if truth.is_empty() {
        return Err(Error::Usage(format!(
            "no record has a value in column `{truth_column}`"
        )));
    }
    Ok(scores(&truth, &predicted))
}

fn scores(truth: &[String], pred: &[String]) -> EvalScores {
    let n = truth.len();
    let ids = |v: &[String]| -> Vec<usize> {
        let mut m: BTreeMap<&str, usize> = BTreeMap::new();
        let mut out = Vec::with_capacity(v.len());
        for s in v {
            let l = m.len();
            out.push(*m.entry(s.as_str()).or_insert(l));
        }
        out
    };
    let t = ids(truth);
    let p = ids(pred);
    let mut cont: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    let mut ts: BTreeMap<usize, usize> = BTreeMap::new();
    let mut ps: BTreeMap<usize, usize> = BTreeMap::new();
    for i in 0..n {
        *cont.entry((t[i], p[i])).or_insert(0) += 1;
        *ts.entry(t[i]).or_insert(0) += 1;
        *ps.entry(p[i]).or_insert(0) += 1;
    }
    // B-cubed
    let (mut bp, mut br) = (0.0, 0.0);
    for (&(a, b), &c) in &cont {
        let c = c as f64;
        bp += c * c / ps[&b] as f64;
        br += c * c / ts[&a] as f64;
    }
    bp /= n as f64;
    br /= n as f64;
    let c2 = |x: usize| (x * x.saturating_sub(1) / 2) as f64;
    let same_both: f64 = cont.values().map(|&c| c2(c)).sum();
    let same_pred: f64 = ps.values().map(|&c| c2(c)).sum();
    let same_truth: f64 = ts.values().map(|&c| c2(c)).sum();
    let pp = if same_pred > 0.0 {
        same_both / same_pred
    } else {
        1.0
    };
    let pr = if same_truth > 0.0 {
        same_both / same_truth
    } else {
        1.0
    };
    let total = c2(n);
    let expected = if total > 0.0 {
        same_pred * same_truth / total
    } else {
        0.0
    };
    let max_idx = (same_pred + same_truth) / 2.0;
    let ari = if (max_idx - expected).abs() < 1e-12 {
        1.0
    } else {
        (same_both - expected) / (max_idx - expected)
    };
    let nf = n as f64;
    let h = |m: &BTreeMap<usize, usize>| -> f64 {
        m.values()
            .map(|&c| {
                let q = c as f64 / nf;
                -q * q.ln()
            })
            .sum()
    };
    let (ht, hp) = (h(&ts), h(&ps));
    let mi: f64 = cont
        .iter()
        .map(|(&(a, b), &c)| {
            let c = c as f64;
            c / nf * ((c * nf) / (ts[&a] as f64 * ps[&b] as f64)).ln()
        })
        .sum();
    let nmi = if ht + hp > 0.0 {
        2.0 * mi / (ht + hp)
    } else {
        1.0
    };
    EvalScores {
        n,
        bcubed_precision: bp,
        bcubed_recall: br,
        bcubed_f1: f1(bp, br),
        pairwise_precision: pp,
        pairwise_recall: pr,
        pairwise_f1: f1(pp, pr),
        ari,
        nmi,
        groups: group_scores(&t, &p).scores,
    }
}

/// The task force's measures: found cases, real groups, and B-cubed over grouped petitions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupScores {
    /// Groups of ≥ 2 in the truth, and how many some predicted group matches.
    pub true_groups: usize,
    pub found: usize,
    /// Groups of ≥ 2 in the prediction, and how many match some true group.
    pub predicted_groups: usize,
    pub real: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Petitions in a group of ≥ 2 on either side: the ones the B-cubed figures below count.
    pub grouped: usize,
    pub bcubed_precision: f64,
    pub bcubed_recall: f64,
    pub bcubed_f1: f64,
}

/// [`GroupScores`] and the groups behind its misses, as item indices (each list sorted, the
/// lists largest first).
#[derive(Debug, Clone, Default)]
pub struct GroupReport {
    pub scores: GroupScores,
    /// True groups no predicted group matches.
    pub missed: Vec<Vec<usize>>,
    /// Predicted groups that match no true group.
    pub false_groups: Vec<Vec<usize>>,
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    }
}

/// Groups of ≥ 2 items by label, each sorted, in order of their smallest item.
fn multi(labels: &[usize]) -> Vec<Vec<usize>> {
    let mut by: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &l) in labels.iter().enumerate() {
        by.entry(l).or_default().push(i);
    }
    let mut out: Vec<Vec<usize>> = by.into_values().filter(|m| m.len() >= 2).collect();
    out.sort();
    out
}

/// For every group of `from`, whether some group of `to` overlaps it with Jaccard ≥
/// [`MATCH_JACCARD`] (`to_of[i]` = the group of `to` holding item `i`).
fn matched(from: &[Vec<usize>], to: &[Vec<usize>], to_of: &HashMap<usize, usize>) -> Vec<bool> {
    from.iter()
        .map(|g| {
            let mut overlap: BTreeMap<usize, usize> = BTreeMap::new();
            for i in g {
                if let Some(&o) = to_of.get(i) {
                    *overlap.entry(o).or_insert(0) += 1;
                }
            }
            overlap.into_iter().any(|(o, n)| {
                let union = g.len() + to[o].len() - n;
                n as f64 >= MATCH_JACCARD * union as f64
            })
        })
        .collect()
}

/// Scores predicted labels `pred` against true labels `truth` (one per item; a label used by
/// one item only is a singleton).
pub fn group_scores(truth: &[usize], pred: &[usize]) -> GroupReport {
    let (t, p) = (multi(truth), multi(pred));
    let index = |gs: &[Vec<usize>]| -> HashMap<usize, usize> {
        gs.iter()
            .enumerate()
            .flat_map(|(g, m)| m.iter().map(move |&i| (i, g)))
            .collect()
    };
    let (t_of, p_of) = (index(&t), index(&p));
    let found = matched(&t, &p, &p_of);
    let real = matched(&p, &t, &t_of);
    let count = |v: &[bool]| v.iter().filter(|&&b| b).count();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(count(&real), p.len());
    let recall = ratio(count(&found), t.len());
    // B-cubed over the items grouped on either side
    let mut items: Vec<usize> = t_of.keys().chain(p_of.keys()).copied().collect();
    items.sort_unstable();
    items.dedup();
    let (mut bp, mut br) = (0.0, 0.0);
    for &i in &items {
        let tg = t_of.get(&i).map(|&g| t[g].as_slice());
        let pg = p_of.get(&i).map(|&g| p[g].as_slice());
        let (tn, pn) = (tg.map_or(1, <[usize]>::len), pg.map_or(1, <[usize]>::len));
        let both = match (tg, pg) {
            (Some(a), Some(b)) => a.iter().filter(|x| b.binary_search(x).is_ok()).count(),
            _ => 1,
        };
        bp += both as f64 / pn as f64;
        br += both as f64 / tn as f64;
    }
    let n = items.len().max(1) as f64;
    let (bp, br) = if items.is_empty() {
        (0.0, 0.0)
    } else {
        (bp / n, br / n)
    };
    let by_size = |gs: Vec<Vec<usize>>, ok: &[bool]| {
        let mut out: Vec<Vec<usize>> = gs
            .into_iter()
            .zip(ok)
            .filter(|(_, &ok)| !ok)
            .map(|(g, _)| g)
            .collect();
        out.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        out
    };
    GroupReport {
        scores: GroupScores {
            true_groups: t.len(),
            found: count(&found),
            predicted_groups: p.len(),
            real: count(&real),
            precision,
            recall,
            f1: f1(precision, recall),
            grouped: items.len(),
            bcubed_precision: bp,
            bcubed_recall: br,
            bcubed_f1: f1(bp, br),
        },
        missed: by_size(t, &found),
        false_groups: by_size(p, &real),
    }
}

/// One scored petition: (store id, true label, predicted group or `-`).
pub type KeyItem = (String, String, String);

/// A grouping scored against a hand-labelled key, with the petitions behind each miss.
#[derive(Debug, Clone)]
pub struct KeyEval {
    pub report: GroupReport,
    /// Key rows whose id is not in the store (not scored).
    pub unmatched: Vec<String>,
    /// The scored petitions, in key order.
    pub items: Vec<KeyItem>,
}

/// Scores `groups` against `key` (`(petition id, label)` rows) over the key's petitions only.
/// A key id matches the store id equal to it, or else the one store id that ends with
/// `-ID` (a store built with an id prefix).
pub fn eval_key(records: &[Record], groups: &Groups, key: &[(String, String)]) -> KeyEval {
    let pred: HashMap<&str, &str> = groups
        .members
        .iter()
        .map(|m| (m.id.as_str(), m.group_id.as_str()))
        .collect();
    let mut by_tail: HashMap<&str, Option<&str>> = HashMap::new();
    for r in records {
        if let Some((_, tail)) = r.id.rsplit_once('-') {
            by_tail
                .entry(tail)
                .and_modify(|v| *v = None)
                .or_insert(Some(r.id.as_str()));
        }
    }
    let ids: std::collections::HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    let mut unmatched = Vec::new();
    let mut items = Vec::new();
    for (id, label) in key {
        let store_id = if ids.contains(id.as_str()) {
            Some(id.as_str())
        } else {
            by_tail.get(id.as_str()).copied().flatten()
        };
        match store_id {
            Some(s) => items.push((
                s.to_string(),
                label.clone(),
                pred.get(s).copied().unwrap_or(UNCLUSTERED).to_string(),
            )),
            None => unmatched.push(id.clone()),
        }
    }
    let numbered = |f: &dyn Fn(&KeyItem) -> Option<&str>| -> Vec<usize> {
        let mut m: BTreeMap<&str, usize> = BTreeMap::new();
        items
            .iter()
            .enumerate()
            .map(|(i, it)| match f(it) {
                // a singleton gets a label of its own, beyond every real one
                None => items.len() + i,
                Some(l) => {
                    let n = m.len();
                    *m.entry(l).or_insert(n)
                }
            })
            .collect()
    };
    let truth = numbered(&|it| Some(it.1.as_str()));
    let pred = numbered(&|it| Some(it.2.as_str()).filter(|g| *g != UNCLUSTERED));
    KeyEval {
        report: group_scores(&truth, &pred),
        unmatched,
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_hand_computed() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        // truth {a,a,b,b}, pred {x,x,x,y}
        let sc = scores(&s(&["a", "a", "b", "b"]), &s(&["x", "x", "x", "y"]));
        // B3 precision: items 1,2: 2/3 each, item 3: 1/3, item 4: 1 → (2/3+2/3+1/3+1)/4 = 2/3
        assert!((sc.bcubed_precision - 2.0 / 3.0).abs() < 1e-9, "{sc:?}");
        // B3 recall: 1,1,1/2,1/2 → 3/4
        assert!((sc.bcubed_recall - 0.75).abs() < 1e-9);
        // pairs: pred pairs 3 (12,13,23), truth pairs 2 (12,34), both 1 → P 1/3, R 1/2, F 0.4
        assert!((sc.pairwise_f1 - 0.4).abs() < 1e-9);
        // ARI: index 1, expected 3*2/6=1, max 2.5 → 0
        assert!(sc.ari.abs() < 1e-9);
        let perfect = scores(&s(&["a", "a", "b"]), &s(&["x", "x", "y"]));
        assert!(
            (perfect.bcubed_f1 - 1.0).abs() < 1e-9
                && (perfect.ari - 1.0).abs() < 1e-9
                && (perfect.nmi - 1.0).abs() < 1e-9
        );
    }

    #[test]
    fn group_scores_hand_computed() {
        // truth: {0,1,2} {3,4} {5,6}; 7, 8, 9 alone
        let truth = [0, 0, 0, 1, 1, 2, 2, 3, 4, 5];
        // pred: {0,1} (Jaccard 2/3 with {0,1,2}: found), {3,7} (1/3 with {3,4}: no),
        // {8,9} (no true group: false), 2, 4, 5, 6 alone
        let pred = [0, 0, 10, 1, 11, 12, 13, 1, 2, 2];
        let r = group_scores(&truth, &pred);
        let s = &r.scores;
        assert_eq!(
            (s.true_groups, s.found, s.predicted_groups, s.real),
            (3, 1, 3, 1)
        );
        assert!((s.precision - 1.0 / 3.0).abs() < 1e-9 && (s.recall - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(r.missed, vec![vec![3, 4], vec![5, 6]]);
        assert_eq!(r.false_groups, vec![vec![3, 7], vec![8, 9]]);
        // grouped items: 0..=9 all (7, 8, 9 through the prediction): 10.
        // B3 precision per item: 0,1: 1; 2: 1; 3: 1/2; 4: 1; 5: 1; 6: 1; 7: 1/2; 8, 9: 1/2 each
        assert_eq!(s.grouped, 10);
        let bp = (1.0 + 1.0 + 1.0 + 0.5 + 1.0 + 1.0 + 1.0 + 0.5 + 0.5 + 0.5) / 10.0;
        assert!((s.bcubed_precision - bp).abs() < 1e-9, "{s:?}");
        // recall: 0,1: 2/3; 2: 1/3; 3: 1/2; 4: 1/2; 5, 6: 1/2; 7, 8, 9: 1
        let br = (2.0 / 3.0 * 2.0 + 1.0 / 3.0 + 0.5 * 4.0 + 3.0) / 10.0;
        assert!((s.bcubed_recall - br).abs() < 1e-9, "{s:?}");
        // all singletons scores 0
        let alone: Vec<usize> = (0..10).map(|i| 100 + i).collect();
        assert_eq!(group_scores(&truth, &alone).scores.f1, 0.0);
        let same = group_scores(&truth, &truth).scores;
        assert!((same.f1 - 1.0).abs() < 1e-9 && (same.bcubed_f1 - 1.0).abs() < 1e-9);
    }
}
