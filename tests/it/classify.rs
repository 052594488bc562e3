//! Categories, regions and lead units the data lacks (issue 17): `minqing classify train/eval`,
//! a run whose pipeline names a model, and the brief that counts the inferred values marked
//! as inferred. The real-data scores skip cleanly without ../shared.

use std::path::Path;

use crate::common::{realdata, run, sample, stderr, stdout};

/// Copies the generated CSV at `from` to `to` without the columns named in `drop`.
fn without_columns(from: &Path, to: &Path, drop: &[&str]) {
    let mut rd = csv::Reader::from_path(from).unwrap();
    let header = rd.headers().unwrap().clone();
    let keep: Vec<usize> = (0..header.len())
        .filter(|i| !drop.contains(&&header[*i]))
        .collect();
    assert_eq!(keep.len() + drop.len(), header.len(), "{header:?}");
    let mut wr = csv::Writer::from_path(to).unwrap();
    wr.write_record(keep.iter().map(|i| &header[*i])).unwrap();
    for row in rd.records() {
        let row = row.unwrap();
        wr.write_record(keep.iter().map(|i| &row[*i])).unwrap();
    }
    wr.flush().unwrap();
}

/// Trained on labelled history, a pipeline's `[classify] model` fills the category of an export
/// without one: inferred.csv holds the predictions apart from the store, the brief's category
/// section counts them marked 推断, and every case group gets a suggested lead unit.
#[test]
fn a_model_trained_on_history_fills_the_categories_an_export_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.csv");
    sample(&history, "1500", "3");
    let model = dir.path().join("model");
    let o = run(&[
        "-q",
        "classify",
        "train",
        "--input",
        history.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(model.join("model.json").is_file(), "{}", stdout(&o));

    // This week's export: new petitions with no category and no unit.
    let fresh = dir.path().join("fresh.csv");
    sample(&fresh, "600", "4");
    let export = dir.path().join("export.csv");
    without_columns(&fresh, &export, &["问题分类", "责任单位"]);
    let pipeline = dir.path().join("p.toml");
    std::fs::write(
        &pipeline,
        "name = \"t\"\n[[source]]\npath = \"export.csv\"\n[classify]\nmodel = \"model\"\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = run(&[
        "-q",
        "run",
        pipeline.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    let mut rd = csv::Reader::from_path(out.join("inferred.csv")).unwrap();
    let header = rd.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (cat, unit) = (col("category"), col("unit"));
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    let predicted = rows.iter().filter(|r| !r[cat].is_empty()).count();
    assert_eq!(
        predicted, 600,
        "every petition without a category gets a prediction"
    );
    assert!(rows.iter().filter(|r| !r[unit].is_empty()).count() > 300);

    let md = std::fs::read_to_string(out.join("brief.md")).unwrap();
    assert!(md.contains("表2 本期问题分类（含推断）"), "{md}");
    assert!(!md.contains("本期问题分类无数据"), "{md}");
    assert!(
        md.contains("问题分类（推断）"),
        "the method note says how: {md}"
    );
    assert!(
        md.contains("（推荐）"),
        "suggested lead units are marked: {md}"
    );
}

/// `classify eval` scores exactly what `classify train` builds; with a --test file it trains on
/// the inputs and tests on the texts they do not hold.
#[test]
fn classify_eval_reports_macro_f1_per_class_and_the_confusion_table() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.csv");
    sample(&history, "800", "5");
    let o = run(&[
        "classify",
        "eval",
        "--input",
        history.to_str().unwrap(),
        "--folds",
        "3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.contains("macro-F1") && s.contains("confusion"), "{s}");
    let bad = run(&["classify", "eval", "--input", "/nonexistent.csv"]);
    assert!(!bad.status.success());
}

/// Measured 0.876 and 0.775 from the messages alone, 0.882 and 0.831 with the office's
/// classification scheme (附件1) as `--taxonomy` (README): the floors leave room for
/// floating-point order only. The goals are 0.90 and 0.80: the hold-out one is reached
/// with the scheme, the cross-validated one is not.
const CV_FLOOR: f64 = 0.87;
const HOLDOUT_FLOOR: f64 = 0.77;
const CV_TAXONOMY_FLOOR: f64 = 0.875;
const HOLDOUT_TAXONOMY_FLOOR: f64 = 0.80;

/// The scores on the public labelled messages (附件2: the 921-row hold-out and the 495-row
/// sample, 1,377 distinct texts, 7 classes) as README reports them, with a little room for
/// floating-point order; skips without ../shared.
#[test]
fn real_messages_classify_scores() {
    let (Some(held), Some(smp), Some(tax)) = (
        realdata("tipdm2020/attachment2_heldout_921_labeled.csv"),
        realdata("tipdm2020/attachment2_sample_495.csv"),
        realdata("tipdm2020/attachment1_label_taxonomy.csv"),
    ) else {
        return;
    };
    let score = |args: &[&str]| -> f64 {
        let mut all = vec!["classify", "eval", "--format", "json", "--input"];
        all.extend_from_slice(args);
        let o = run(&all);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["scores"]["macro_f1"].as_f64().unwrap()
    };
    let (h, s) = (held.to_str().unwrap(), smp.to_str().unwrap());
    let cv = score(&[h, s]);
    let holdout = score(&[h, "--test", s]);
    eprintln!("5-fold CV macro-F1 {cv:.3}; trained on the 921, tested on the rest {holdout:.3}");
    assert!(cv >= CV_FLOOR, "{cv}");
    assert!(holdout >= HOLDOUT_FLOOR, "{holdout}");
    // The office's scheme: each category path is one more short example of its top category.
    let t = tax.to_str().unwrap();
    let cv = score(&[h, s, "--taxonomy", t]);
    let holdout = score(&[h, "--test", s, "--taxonomy", t]);
    eprintln!("with the scheme: CV {cv:.3}; 921 → rest {holdout:.3}");
    assert!(cv >= CV_TAXONOMY_FLOOR, "{cv}");
    assert!(holdout >= HOLDOUT_TAXONOMY_FLOOR, "{holdout}");
}
