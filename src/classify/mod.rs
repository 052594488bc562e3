//! classify stage: categories learned from the office's own labelled history.
//!
//! Message-board and hotline exports carry no category; offices keep years of categorised
//! petitions. `minqing classify train` learns a model from any export with a category column
//! (the usual aliases: 一级分类, 问题分类, …), `minqing classify eval` scores the method under
//! stratified k-fold cross-validation, and a pipeline that names a model (`[classify] model`)
//! has its run predict a category for every petition the data leaves without one.
//!
//! The prediction is kept apart from the office's value and never overwrites it (the run folder's
//! `inferred.csv`); below `[classify] min_confidence` the brief counts the petition as
//! 待人工确认 instead of guessing.
//!
//! Method: TF-IDF over words, character n-grams and the title ([`features`]) with a one-vs-rest
//! linear SVM ([`svm`]), class costs balanced by class size (small categories are not drowned by
//! the large ones). A confidence is the softmax of the decision values, with its temperature
//! fitted on cross-validated decision values at training (so 0.8 means right about 8 times in
//! 10 on the training history). A prediction is explained by the terms that weighed most for it.
//! No pretrained weights: everything is learned from the history given, in seconds on 2 cores.
//!
//! An office's classification scheme (分类体系: one row per category path, the top category
//! first) can be given as `--taxonomy`: each path becomes a short labelled example, which helps
//! the categories the history holds few petitions of.

pub mod eval;
mod features;
mod svm;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schema::Record;
use crate::tokenize::Tokenizer;
pub use features::Vocabulary;

/// What the brief shows for a prediction below `min_confidence`.
pub const NEEDS_REVIEW: &str = "待人工确认";

/// The model file inside a model folder.
pub const MODEL_FILE: &str = "model.json";

/// `[classify]` in a pipeline file.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// The model folder (or its `model.json`) `minqing classify train` wrote; none = no
    /// categories are predicted.
    pub model: Option<PathBuf>,
    /// Predictions below this confidence are left 待人工确认 (default 0.5).
    pub min_confidence: Option<f64>,
}

impl Options {
    pub const DEFAULT_MIN_CONFIDENCE: f64 = 0.5;

    pub fn min_confidence(&self) -> f64 {
        self.min_confidence.unwrap_or(Self::DEFAULT_MIN_CONFIDENCE)
    }

    pub(crate) fn resolve_paths(&mut self, base: &Path) {
        if let Some(m) = &mut self.model {
            *m = base.join(&*m);
        }
    }
}

/// One labelled example.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Labelled {
    pub category: String,
    pub title: String,
    pub content: String,
}

impl Labelled {
    /// The text that identifies a message across exports: title and content without white
    /// space (re-exports differ in padding only).
    pub fn key(&self) -> String {
        self.title
            .chars()
            .chain(self.content.chars())
            .filter(|c| !c.is_whitespace())
            .collect()
    }
}

/// The labelled history, deduplicated by text.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Sorted, one per distinct text.
    pub docs: Vec<Labelled>,
    /// Rows whose text another row already had with the same category.
    pub duplicates: usize,
    /// Texts labelled with two different categories: left out of training (label noise).
    pub conflicting: usize,
    /// Rows without a category: nothing to learn from.
    pub unlabelled: usize,
}

impl History {
    /// Deduplicates labelled records by text (title + content without white space); a text
    /// that carries two categories is dropped.
    pub fn from_records(records: &[Record]) -> History {
        let mut by_key: BTreeMap<String, Vec<Labelled>> = BTreeMap::new();
        let mut unlabelled = 0;
        for r in records {
            match r
                .category
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
            {
                Some(c) => {
                    let l = Labelled {
                        category: c.to_string(),
                        title: r.title.to_string(),
                        content: r.content.to_string(),
                    };
                    by_key.entry(l.key()).or_default().push(l);
                }
                None => unlabelled += 1,
            }
        }
        let mut h = History {
            unlabelled,
            ..History::default()
        };
        for (_, mut v) in by_key {
            v.sort();
            let cats: BTreeSet<&str> = v.iter().map(|l| l.category.as_str()).collect();
            if cats.len() > 1 {
                h.conflicting += 1;
                continue;
            }
            h.duplicates += v.len() - 1;
            h.docs.push(v.swap_remove(0));
        }
        h.docs.sort();
        h
    }

    /// Documents per category.
    pub fn per_class(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for d in &self.docs {
            *m.entry(d.category.clone()).or_default() += 1;
        }
        m
    }
}

/// Reads a classification scheme: CSV (or any export minqing reads as CSV) whose rows are
/// category paths, the top category in the first column. Each row becomes one example of its
/// top category, its lower levels as the text.
pub fn read_taxonomy(path: &Path) -> Result<Vec<Labelled>> {
    let bytes = std::fs::read(path).map_err(Error::io("read taxonomy", path))?;
    // UTF-8 (with or without BOM), else GB18030 (which covers GBK): what offices' CSVs are.
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t.trim_start_matches('\u{feff}').to_string(),
        Err(_) => encoding_rs::GB18030.decode(&bytes).0.into_owned(),
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| Error::BadInput {
            path: path.to_path_buf(),
            message: format!("row {}: {e}", i + 2),
        })?;
        let cells: Vec<&str> = rec
            .iter()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        if let [top, rest @ ..] = cells.as_slice() {
            if !rest.is_empty() {
                out.push(Labelled {
                    category: top.to_string(),
                    title: rest.join(" "),
                    content: String::new(),
                });
            }
        }
    }
    if out.is_empty() {
        return Err(Error::BadInput {
            path: path.to_path_buf(),
            message: "no category paths (expected rows like `城乡建设,住房保障,…` under a header)"
                .into(),
        });
    }
    Ok(out)
}

/// Training settings (fixed; `classify eval` scores exactly what `classify train` builds).
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    pub c: f64,
    /// Folds of the cross-validation that fits the confidence scale.
    pub calibration_folds: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            c: 1.0,
            calibration_folds: 5,
        }
    }
}

/// A trained category model (`model.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    /// File format version.
    pub format: u32,
    pub classes: Vec<String>,
    pub vocabulary: Vocabulary,
    /// Per class: weights over the vocabulary, the bias last.
    pub weights: Vec<Vec<f32>>,
    /// Softmax temperature of the confidences.
    pub scale: f32,
    /// What it was trained on.
    pub trained_on: TrainedOn,
}

/// The history behind a model, for the method note and `classify train`'s summary.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TrainedOn {
    pub documents: usize,
    pub per_class: BTreeMap<String, usize>,
    pub taxonomy_rows: usize,
    pub duplicates: usize,
    pub conflicting: usize,
    pub unlabelled: usize,
    /// Input file names.
    pub sources: Vec<String>,
    /// Macro-F1 of the calibration cross-validation.
    pub cv_macro_f1: f64,
}

const FORMAT: u32 = 1;

/// A predicted category.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub category: String,
    /// Calibrated probability of the category, 0..1.
    pub confidence: f64,
    /// The terms that weighed most for it, strongest first.
    pub terms: Vec<String>,
}

/// A trained set of per-class weights with its vocabulary (no calibration yet).
struct Fitted {
    classes: Vec<String>,
    vocabulary: Vocabulary,
    weights: Vec<Vec<f32>>,
}

impl Fitted {
    fn scores(&self, x: &svm::Sparse) -> Vec<f64> {
        self.weights.iter().map(|w| svm::score(w, x)).collect()
    }
}

/// The features of a labelled set, in order.
fn term_blocks(tok: &Tokenizer, docs: &[&Labelled]) -> Vec<[Vec<String>; 3]> {
    docs.par_iter()
        .map(|d| features::terms(tok, &d.title, &d.content))
        .collect()
}

/// Fits one-vs-rest SVMs on `train` (with their term blocks), class costs balanced.
fn fit(docs: &[&Labelled], blocks: &[[Vec<String>; 3]], c: f64) -> Fitted {
    let vocabulary = Vocabulary::build(blocks, 1);
    let x: Vec<svm::Sparse> = blocks.par_iter().map(|b| vocabulary.vector(b)).collect();
    let classes: Vec<String> = docs
        .iter()
        .map(|d| d.category.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let n = docs.len() as f64;
    let k = classes.len() as f64;
    let params = svm::Params::default();
    let dim = vocabulary.len();
    let weights = classes
        .par_iter()
        .map(|cls| {
            let y: Vec<bool> = docs.iter().map(|d| &d.category == cls).collect();
            let size = y.iter().filter(|b| **b).count().max(1) as f64;
            // "Balanced" class weight n / (k · n_c) on the positive side, as liblinear does.
            let w = svm::train_binary(&x, &y, dim, c * n / (k * size), c, &params);
            w.into_iter().map(|v| v as f32).collect()
        })
        .collect();
    Fitted {
        classes,
        vocabulary,
        weights,
    }
}

fn softmax(scores: &[f64], scale: f64) -> Vec<f64> {
    let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = scores.iter().map(|s| ((s - m) * scale).exp()).collect();
    let z: f64 = e.iter().sum();
    e.into_iter().map(|v| v / z).collect()
}

/// Index of the largest score (the first on a tie).
fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// Trains on the history (plus the taxonomy's examples): fits the confidence scale on
/// cross-validated decision values first, then the model on everything.
pub fn train(
    history: &History,
    taxonomy: &[Labelled],
    sources: Vec<String>,
    tok: &Tokenizer,
    opts: &TrainOptions,
) -> Result<Model> {
    let classes = history.per_class();
    if classes.len() < 2 {
        return Err(Error::Usage(format!(
            "the history has {} categor{} ({} labelled texts): a model needs at least two categories",
            classes.len(),
            if classes.len() == 1 { "y" } else { "ies" },
            history.docs.len()
        )));
    }
    let cv = eval::cross_validate(history, taxonomy, tok, opts.calibration_folds, opts.c)?;
    let scale = cv.fit_scale();
    let docs: Vec<&Labelled> = history.docs.iter().chain(taxonomy).collect();
    let blocks = term_blocks(tok, &docs);
    let f = fit(&docs, &blocks, opts.c);
    Ok(Model {
        format: FORMAT,
        classes: f.classes,
        vocabulary: f.vocabulary,
        weights: f.weights,
        scale: scale as f32,
        trained_on: TrainedOn {
            documents: history.docs.len(),
            per_class: classes,
            taxonomy_rows: taxonomy.len(),
            duplicates: history.duplicates,
            conflicting: history.conflicting,
            unlabelled: history.unlabelled,
            sources,
            cv_macro_f1: cv.scores().macro_f1,
        },
    })
}

impl Model {
    /// Predicts the category of one petition, with its confidence and the terms behind it.
    pub fn predict(&self, tok: &Tokenizer, title: &str, content: &str) -> Prediction {
        let x = self
            .vocabulary
            .vector(&features::terms(tok, title, content));
        let scores: Vec<f64> = self.weights.iter().map(|w| svm::score(w, &x)).collect();
        let p = softmax(&scores, self.scale as f64);
        let best = argmax(&p);
        Prediction {
            category: self.classes[best].clone(),
            confidence: p[best],
            terms: self.explain(&x, best, 5),
        }
    }

    /// The `n` readable terms (two characters or more) that added most to class `c`'s score.
    fn explain(&self, x: &svm::Sparse, c: usize, n: usize) -> Vec<String> {
        let names: BTreeMap<u32, &str> = self
            .vocabulary
            .terms
            .iter()
            .filter(|(_, (i, _))| x.binary_search_by_key(i, |(j, _)| *j).is_ok())
            .map(|(t, (i, _))| (*i, t.as_str()))
            .collect();
        let w = &self.weights[c];
        let mut contrib: Vec<(f64, &str)> = x
            .iter()
            .filter_map(|&(j, v)| {
                let term = names.get(&j)?;
                let shown = term.split_once(':').map_or(*term, |(_, t)| t);
                (shown.chars().count() >= 2).then(|| (w[j as usize] as f64 * v as f64, shown))
            })
            .filter(|(s, _)| *s > 0.0)
            .collect();
        contrib.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let mut out: Vec<String> = Vec::new();
        for (_, t) in contrib {
            // A triple already shown covers its pairs.
            if !out.iter().any(|o| o.contains(t) || t.contains(o.as_str())) {
                out.push(t.to_string());
            }
            if out.len() == n {
                break;
            }
        }
        out
    }

    /// Writes `DIR/model.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
        let p = dir.join(MODEL_FILE);
        crate::fsutil::write_atomic(&p, &serde_json::to_vec(self)?)?;
        Ok(p)
    }

    /// Reads a model folder (or its `model.json`).
    pub fn load(path: &Path) -> Result<Model> {
        let p = if path.is_dir() {
            path.join(MODEL_FILE)
        } else {
            path.to_path_buf()
        };
        if !p.exists() {
            return Err(Error::Usage(format!(
                "no category model at `{}`: train one with `minqing classify train --input HISTORY.xlsx --out {}`",
                p.display(),
                path.display()
            )));
        }
        let bytes = std::fs::read(&p).map_err(Error::io("read", &p))?;
        let m: Model = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: p.clone(),
            message: e.to_string(),
        })?;
        if m.format != FORMAT || m.weights.len() != m.classes.len() {
            return Err(Error::Corrupt {
                path: p,
                message: format!("not a category model of format {FORMAT}"),
            });
        }
        Ok(m)
    }
}

/// The tokenizer a model is trained and applied with: the bundled dictionaries only (a
/// pipeline's own dictionaries may change week to week; a model must segment as it was trained).
pub fn tokenizer() -> Result<Tokenizer> {
    Tokenizer::new(&Default::default())
}

/// What the classify stage reads. (The stage makes the model's [`tokenizer`] itself, and only
/// when a model is named: building jieba's dictionary is 0.3 s of one core.)
pub struct Input<'a> {
    pub records: &'a [Record],
}

/// Per record (aligned with the records): the prediction for a petition the data gives no
/// category, None where the data has one or no model is named.
#[derive(Debug, Clone, Default)]
pub struct Classified {
    pub predictions: Vec<Option<Prediction>>,
    /// The model's classes and training summary, when a model was used.
    pub model: Option<TrainedOn>,
    pub min_confidence: f64,
}

impl Classified {
    /// Petitions given a category (confident), and left 待人工确认.
    pub fn counts(&self) -> (usize, usize) {
        let confident = self
            .predictions
            .iter()
            .flatten()
            .filter(|p| p.confidence >= self.min_confidence)
            .count();
        let all = self.predictions.iter().flatten().count();
        (confident, all - confident)
    }
}

/// The classify stage: predicts a category for every record without one, on all cores.
pub fn run(input: Input<'_>, opts: &Options) -> Result<Classified> {
    let Some(path) = &opts.model else {
        return Ok(Classified {
            predictions: vec![None; input.records.len()],
            model: None,
            min_confidence: opts.min_confidence(),
        });
    };
    let model = Model::load(path)?;
    let tokenizer = tokenizer()?;
    let predictions = input
        .records
        .par_iter()
        .map(|r| {
            r.category
                .as_deref()
                .is_none_or(|c| c.trim().is_empty())
                .then(|| model.predict(&tokenizer, &r.title, &r.content))
        })
        .collect();
    Ok(Classified {
        predictions,
        model: Some(model.trained_on),
        min_confidence: opts.min_confidence(),
    })
}
