//! What minqing inferred for the petitions whose data lacks it — a category ([`crate::classify`]),
//! a region ([`crate::region`]) and a suggested unit ([`crate::route`]) — kept apart from the
//! office's own values, which it never overwrites: the run folder's `inferred.csv`, one row per
//! petition with anything inferred, sorted by id. `minqing brief` reads it back, so a brief of
//! any period shows the same inferred values as the run's own.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::classify::{Classified, NEEDS_REVIEW};
use crate::error::{Error, Result};
use crate::region::{Located, Path3};
use crate::schema::Record;

/// The file name in a run folder.
pub const FILE: &str = "inferred.csv";

/// One petition's inferred values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Guess {
    pub id: String,
    /// The predicted category (also when below the confidence threshold).
    pub category: Option<String>,
    pub confidence: Option<f64>,
    /// Whether the confidence reaches `[classify] min_confidence` (else 待人工确认).
    pub confident: bool,
    /// The terms that weighed most, `、`-separated.
    pub terms: String,
    /// The inferred region path (`A市/A2区/洞井街道`, missing levels empty: `/A2区/`).
    pub region: Option<String>,
    /// The suggested lead unit (the data gives none).
    pub unit: Option<String>,
}

impl Guess {
    fn is_empty(&self) -> bool {
        self.category.is_none() && self.region.is_none() && self.unit.is_none()
    }
}

/// Inferred values aligned with the store's records (sorted by id).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inferred {
    /// One per record, in the records' order; None where nothing was inferred (most records
    /// of an export that has its categories, regions and units: a million empty guesses took
    /// 0.15 GB of a run's memory).
    pub guesses: Vec<Option<Box<Guess>>>,
    /// The method, for the brief's method note (empty when nothing was inferred).
    pub notes: Vec<String>,
}

/// The record's own region levels, when it names any.
fn data_region(r: &Record) -> Option<Path3> {
    r.region.iter().any(Option::is_some).then(|| {
        r.region
            .each_ref()
            .map(|l| l.as_deref().map(str::to_string))
    })
}

/// A region path as one cell: levels joined with `/`, a missing level empty.
fn path_cell(p: &Path3) -> String {
    p.iter()
        .map(|l| l.as_deref().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("/")
}

fn parse_path(s: &str) -> Path3 {
    let mut out: Path3 = [None, None, None];
    for (i, part) in s.split('/').take(3).enumerate() {
        out[i] = (!part.is_empty()).then(|| part.to_string());
    }
    out
}

impl Inferred {
    /// Combines the stages' outputs; the unit is routed from the petition's category (its own,
    /// else a confident prediction) and region (its own, else the inferred one).
    pub fn build(
        records: &[Record],
        classified: &Classified,
        located: &Located,
        route: &crate::route::Options,
    ) -> Inferred {
        let guesses = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let pred = classified.predictions.get(i).cloned().flatten();
                let place = located.places.get(i).cloned().flatten();
                let confident = pred
                    .as_ref()
                    .is_some_and(|p| p.confidence >= classified.min_confidence);
                let mut g = Guess {
                    id: r.id.to_string(),
                    category: pred.as_ref().map(|p| p.category.clone()),
                    confidence: pred
                        .as_ref()
                        .map(|p| (p.confidence * 1000.0).round() / 1000.0),
                    confident,
                    terms: pred.map(|p| p.terms.join("、")).unwrap_or_default(),
                    region: place.as_ref().map(path_cell),
                    unit: None,
                };
                if r.responsible_unit.is_none() {
                    let region = data_region(r).unwrap_or_else(|| place.unwrap_or_default());
                    let cat = r
                        .category
                        .as_deref()
                        .map(str::to_string)
                        .or_else(|| g.category.clone().filter(|_| confident));
                    g.unit = cat.and_then(|c| route.unit(&c, &region));
                }
                (!g.is_empty()).then(|| Box::new(g))
            })
            .collect();
        Inferred {
            guesses,
            notes: Vec::new(),
        }
    }

    /// The category the brief counts for record `i`: the data's, else the confident prediction,
    /// else 待人工确认 when a prediction was made.
    pub fn category<'a>(&'a self, i: usize, r: &'a Record) -> Option<&'a str> {
        if let Some(c) = r.category.as_deref() {
            return Some(c);
        }
        let g = self.guess(i)?;
        g.category
            .as_deref()
            .map(|c| if g.confident { c } else { NEEDS_REVIEW })
    }

    /// The region the brief counts for record `i`: the data's, else the inferred one.
    pub fn region(&self, i: usize, r: &Record) -> Path3 {
        if let Some(data) = data_region(r) {
            return data;
        }
        self.guess(i)
            .and_then(|g| g.region.as_deref())
            .map(parse_path)
            .unwrap_or_default()
    }

    /// The suggested unit of record `i` (None where the data names one).
    pub fn unit(&self, i: usize) -> Option<&str> {
        self.guess(i)?.unit.as_deref()
    }

    fn guess(&self, i: usize) -> Option<&Guess> {
        self.guesses.get(i)?.as_deref()
    }

    /// Whether record `i`'s category / region are inferred rather than the data's.
    pub fn is_inferred(&self, i: usize, r: &Record) -> (bool, bool) {
        let g = self.guess(i);
        (
            r.category.is_none() && g.is_some_and(|g| g.category.is_some()),
            r.region.iter().all(Option::is_none) && g.is_some_and(|g| g.region.is_some()),
        )
    }

    /// Writes `RUN_DIR/inferred.csv` (rows with something inferred, in id order).
    pub fn write(&self, run_dir: &Path) -> Result<()> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "id",
            "category",
            "confidence",
            "confident",
            "terms",
            "region",
            "unit",
        ])?;
        for g in self.guesses.iter().flatten() {
            let conf = g.confidence.map(|c| format!("{c:.3}")).unwrap_or_default();
            w.write_record([
                crate::fsutil::csv_safe(&g.id).as_ref(),
                g.category.as_deref().unwrap_or(""),
                &conf,
                if g.confident { "1" } else { "0" },
                crate::fsutil::csv_safe(&g.terms).as_ref(),
                g.region.as_deref().unwrap_or(""),
                g.unit.as_deref().unwrap_or(""),
            ])?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| Error::Internal(format!("csv buffer: {e}")))?;
        crate::fsutil::write_atomic(&run_dir.join(FILE), &bytes)
    }

    /// Reads `RUN_DIR/inferred.csv` back, aligned with `records` (none inferred when the file
    /// is absent: a run folder of an older minqing).
    pub fn read(run_dir: &Path, records: &[Record]) -> Result<Inferred> {
        let p = run_dir.join(FILE);
        if !p.exists() {
            return Ok(Inferred::default());
        }
        let corrupt = |message: String| Error::Corrupt {
            path: p.clone(),
            message,
        };
        let mut rdr = csv::Reader::from_path(&p).map_err(|e| corrupt(e.to_string()))?;
        let mut by_id: HashMap<String, Guess> = HashMap::new();
        for row in rdr.records() {
            let row = row.map_err(|e| corrupt(e.to_string()))?;
            let cell = |i: usize| row.get(i).unwrap_or("").to_string();
            let opt = |i: usize| Some(cell(i)).filter(|s| !s.is_empty());
            // csv_safe prefixed `'` to a cell that starts like a formula.
            let id = cell(0);
            let id = match id.strip_prefix('\'') {
                Some(rest) if crate::fsutil::csv_safe(rest) != rest => rest.to_string(),
                _ => id,
            };
            by_id.insert(
                id.clone(),
                Guess {
                    id,
                    category: opt(1),
                    confidence: opt(2).and_then(|c| c.parse().ok()),
                    confident: cell(3) == "1",
                    terms: cell(4),
                    region: opt(5),
                    unit: opt(6),
                },
            );
        }
        Ok(Inferred {
            guesses: records
                .iter()
                .map(|r| by_id.remove(r.id.as_str()).map(Box::new))
                .collect(),
            notes: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Prediction;

    #[test]
    fn written_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let mut records = vec![
            crate::store::tests::rec("a"),
            crate::store::tests::rec("=b"),
        ];
        records[0].category = None;
        records[1].category = None;
        records[0].region = [None, None, None];
        records[1].region = [None, None, None];
        records[0].responsible_unit = None;
        records[1].responsible_unit = None;
        // the data says all there is to say: nothing inferred, nothing kept
        records.push(crate::store::tests::rec("c"));
        let classified = Classified {
            predictions: vec![
                Some(Prediction {
                    category: "城乡建设".into(),
                    confidence: 0.9,
                    terms: vec!["物业".into(), "小区".into()],
                }),
                Some(Prediction {
                    category: "教育文体".into(),
                    confidence: 0.3,
                    terms: vec![],
                }),
            ],
            model: None,
            min_confidence: 0.5,
        };
        let located = Located {
            places: vec![Some([None, Some("A2区".into()), None]), None],
        };
        let inf = Inferred::build(&records, &classified, &located, &Default::default());
        assert_eq!(inf.category(0, &records[0]), Some("城乡建设"));
        assert_eq!(inf.category(1, &records[1]), Some(NEEDS_REVIEW));
        assert_eq!(inf.unit(0), Some("A2区住房和城乡建设局"));
        assert_eq!(inf.unit(1), None);
        assert_eq!(inf.region(0, &records[0])[1].as_deref(), Some("A2区"));
        assert!(inf.guesses[2].is_none());
        assert_eq!(inf.category(2, &records[2]), records[2].category.as_deref());
        inf.write(dir.path()).unwrap();
        let back = Inferred::read(dir.path(), &records).unwrap();
        assert_eq!(back.guesses, inf.guesses);
    }
}
