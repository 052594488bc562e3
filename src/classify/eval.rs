//! How well the classifier does: stratified k-fold cross-validation over a labelled history, or
//! a model trained on one history and tested on another; macro-F1, per-class precision and
//! recall, and the confusion table.

use serde::Serialize;

use super::{argmax, fit, softmax, term_blocks, History, Labelled};
use crate::error::{Error, Result};
use crate::tokenize::Tokenizer;

/// Out-of-sample predictions: for each tested document its true class and decision values.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub classes: Vec<String>,
    /// (true class index, decision value per class).
    pub tested: Vec<(usize, Vec<f64>)>,
    /// How it was measured, in words.
    pub how: String,
}

/// Scores of one class.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClassScore {
    pub class: String,
    pub support: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// The scores of an [`Outcome`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Scores {
    pub how: String,
    pub documents: usize,
    pub macro_f1: f64,
    pub accuracy: f64,
    pub per_class: Vec<ClassScore>,
    /// Rows = true class, columns = predicted, in `per_class` order.
    pub confusion: Vec<Vec<usize>>,
}

impl Outcome {
    pub fn scores(&self) -> Scores {
        let k = self.classes.len();
        let mut confusion = vec![vec![0usize; k]; k];
        for (t, s) in &self.tested {
            confusion[*t][argmax(s)] += 1;
        }
        let n = self.tested.len();
        let correct: usize = (0..k).map(|i| confusion[i][i]).sum();
        let per_class: Vec<ClassScore> = (0..k)
            .map(|i| {
                let tp = confusion[i][i] as f64;
                let support: usize = confusion[i].iter().sum();
                let predicted: usize = confusion.iter().map(|row| row[i]).sum();
                let precision = if predicted > 0 {
                    tp / predicted as f64
                } else {
                    0.0
                };
                let recall = if support > 0 {
                    tp / support as f64
                } else {
                    0.0
                };
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                ClassScore {
                    class: self.classes[i].clone(),
                    support,
                    precision,
                    recall,
                    f1,
                }
            })
            .collect();
        // Classes absent from the tested documents have no F1 to average.
        let present: Vec<&ClassScore> = per_class.iter().filter(|c| c.support > 0).collect();
        Scores {
            how: self.how.clone(),
            documents: n,
            macro_f1: present.iter().map(|c| c.f1).sum::<f64>() / present.len().max(1) as f64,
            accuracy: correct as f64 / n.max(1) as f64,
            per_class,
            confusion,
        }
    }

    /// The softmax temperature that makes the decision values the best probabilities (least
    /// log-loss) over these out-of-sample predictions.
    pub fn fit_scale(&self) -> f64 {
        let loss = |scale: f64| -> f64 {
            self.tested
                .iter()
                .map(|(t, s)| -softmax(s, scale)[*t].max(1e-12).ln())
                .sum()
        };
        (1..=60)
            .map(|i| i as f64 * 0.5)
            .min_by(|a, b| loss(*a).total_cmp(&loss(*b)))
            .unwrap_or(1.0)
    }

    /// Share of the tested documents whose confidence reaches `threshold`, and the accuracy on
    /// them: what `[classify] min_confidence` trades.
    pub fn coverage(&self, scale: f64, threshold: f64) -> (f64, f64) {
        let mut kept = 0usize;
        let mut right = 0usize;
        for (t, s) in &self.tested {
            let p = softmax(s, scale);
            let best = argmax(&p);
            if p[best] >= threshold {
                kept += 1;
                right += usize::from(best == *t);
            }
        }
        (
            kept as f64 / self.tested.len().max(1) as f64,
            right as f64 / kept.max(1) as f64,
        )
    }
}

/// Stratified k-fold cross-validation: each class's documents are dealt to the folds in turn
/// (in a fixed-seed shuffled order), each fold is predicted by a model trained on the others
/// (the taxonomy's examples are always training data, never tested).
pub fn cross_validate(
    history: &History,
    taxonomy: &[Labelled],
    tok: &Tokenizer,
    folds: usize,
    c: f64,
) -> Result<Outcome> {
    let per_class = history.per_class();
    let classes: Vec<String> = per_class.keys().cloned().collect();
    if folds < 2 || per_class.values().any(|n| *n < folds) {
        return Err(Error::Usage(format!(
            "{folds}-fold cross-validation needs at least {folds} texts of every category; the history has {}",
            per_class
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let fold_of = stratified_folds(&history.docs, folds);
    let all: Vec<&Labelled> = history.docs.iter().collect();
    let blocks = term_blocks(tok, &all);
    let tax: Vec<&Labelled> = taxonomy.iter().collect();
    let tax_blocks = term_blocks(tok, &tax);
    let mut tested = vec![None; history.docs.len()];
    for f in 0..folds {
        let (mut docs, mut b) = (Vec::new(), Vec::new());
        for (i, d) in all.iter().enumerate() {
            if fold_of[i] != f {
                docs.push(*d);
                b.push(blocks[i].clone());
            }
        }
        docs.extend(tax.iter().copied());
        b.extend(tax_blocks.iter().cloned());
        let model = fit(&docs, &b, c);
        for (i, d) in all.iter().enumerate() {
            if fold_of[i] == f {
                let scores = class_scores(&model, &classes, &blocks[i]);
                let t = classes.iter().position(|c| *c == d.category).unwrap_or(0);
                tested[i] = Some((t, scores));
            }
        }
    }
    Ok(Outcome {
        classes,
        tested: tested.into_iter().flatten().collect(),
        how: format!(
            "stratified {folds}-fold cross-validation over {} distinct labelled texts{}",
            history.docs.len(),
            taxonomy_note(taxonomy)
        ),
    })
}

/// Trained on `train`, tested on the texts of `test` that `train` does not hold.
pub fn holdout(
    train: &History,
    test: &History,
    taxonomy: &[Labelled],
    tok: &Tokenizer,
    c: f64,
) -> Result<Outcome> {
    let seen: std::collections::HashSet<String> = train.docs.iter().map(|d| d.key()).collect();
    let tested_docs: Vec<&Labelled> = test
        .docs
        .iter()
        .filter(|d| !seen.contains(&d.key()))
        .collect();
    let docs: Vec<&Labelled> = train.docs.iter().chain(taxonomy).collect();
    let blocks = term_blocks(tok, &docs);
    let model = fit(&docs, &blocks, c);
    let mut classes = model.classes.clone();
    for d in &tested_docs {
        if !classes.contains(&d.category) {
            classes.push(d.category.clone());
        }
    }
    let test_blocks = term_blocks(tok, &tested_docs);
    let tested = tested_docs
        .iter()
        .zip(&test_blocks)
        .map(|(d, b)| {
            let t = classes.iter().position(|c| *c == d.category).unwrap_or(0);
            (t, class_scores(&model, &classes, b))
        })
        .collect();
    Ok(Outcome {
        classes,
        tested,
        how: format!(
            "trained on {} distinct labelled texts{}, tested on the {} texts of the test files it does not hold",
            train.docs.len(),
            taxonomy_note(taxonomy),
            tested_docs.len()
        ),
    })
}

fn taxonomy_note(taxonomy: &[Labelled]) -> String {
    if taxonomy.is_empty() {
        String::new()
    } else {
        format!(" (plus {} category paths of the taxonomy)", taxonomy.len())
    }
}

/// Decision values in `classes` order (a class the model never saw scores −∞).
fn class_scores(model: &super::Fitted, classes: &[String], blocks: &[Vec<String>; 3]) -> Vec<f64> {
    let s = model.scores(&model.vocabulary.vector(blocks));
    classes
        .iter()
        .map(|c| {
            model
                .classes
                .iter()
                .position(|m| m == c)
                .map_or(f64::NEG_INFINITY, |i| s[i])
        })
        .collect()
}

/// The fold of each document: per class, in a fixed-seed shuffled order, dealt in turn.
fn stratified_folds(docs: &[Labelled], folds: usize) -> Vec<usize> {
    let mut out = vec![0; docs.len()];
    let mut by_class: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, d) in docs.iter().enumerate() {
        by_class.entry(&d.category).or_default().push(i);
    }
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = 0usize;
    for (_, mut idx) in by_class {
        for i in (1..idx.len()).rev() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            idx.swap(i, (rng % (i as u64 + 1)) as usize);
        }
        // Continue the dealing across classes so small classes do not all start at fold 0.
        for i in idx {
            out[i] = next % folds;
            next += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_stratified() {
        let docs: Vec<Labelled> = (0..23)
            .map(|i| Labelled {
                category: if i < 15 { "a" } else { "b" }.into(),
                title: format!("t{i}"),
                content: String::new(),
            })
            .collect();
        let f = stratified_folds(&docs, 5);
        for fold in 0..5 {
            let a = (0..15).filter(|i| f[*i] == fold).count();
            let b = (15..23).filter(|i| f[*i] == fold).count();
            assert_eq!(a, 3);
            assert!((1..=2).contains(&b), "{b}");
        }
    }

    #[test]
    fn scores_count_the_confusion() {
        let o = Outcome {
            classes: vec!["a".into(), "b".into()],
            tested: vec![
                (0, vec![1.0, 0.0]),
                (0, vec![0.0, 1.0]),
                (1, vec![0.0, 1.0]),
                (1, vec![0.0, 1.0]),
            ],
            how: String::new(),
        };
        let s = o.scores();
        assert_eq!(s.confusion, vec![vec![1, 1], vec![0, 2]]);
        assert_eq!(s.accuracy, 0.75);
        // a: p 1, r .5, f1 2/3; b: p 2/3, r 1, f1 .8.
        assert!((s.macro_f1 - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-9);
    }
}
