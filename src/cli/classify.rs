//! `minqing classify train|eval`: category models from an office's labelled history.

use std::path::PathBuf;

use minqing::fmt::thousands;
use minqing::pipeline;

use super::Term;

#[derive(Debug, clap::Args)]
pub struct ClassifyArgs {
    #[command(subcommand)]
    pub command: ClassifyCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ClassifyCommand {
    /// Train a category model from exports with a category column (一级分类, 问题分类, …).
    Train(TrainArgs),
    /// Score the method: stratified k-fold cross-validation, or train on the inputs and test on
    /// `--test`; macro-F1, per-class precision/recall and the confusion table.
    Eval(EvalArgs),
}

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Labelled exports (csv, xlsx, jsonl, parquet); texts are deduplicated across them.
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// The office's classification scheme: CSV rows of category paths, top category first.
    #[arg(long)]
    pub taxonomy: Option<PathBuf>,
    /// Model folder; `model.json` is written into it (name it in a pipeline's `[classify] model`).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Labelled exports to cross-validate over (or to train on, with --test).
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Test on these files' texts that the inputs do not hold, instead of cross-validating.
    #[arg(long, num_args = 1..)]
    pub test: Vec<PathBuf>,
    /// The office's classification scheme (as for train).
    #[arg(long)]
    pub taxonomy: Option<PathBuf>,
    /// Folds of the cross-validation.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// `table` (for people) or `json`.
    #[arg(long, value_enum, default_value = "table")]
    pub format: super::analyse::Format,
}

pub fn classify(a: ClassifyArgs, t: &Term) -> minqing::Result<()> {
    match a.command {
        ClassifyCommand::Train(a) => train(a, t),
        ClassifyCommand::Eval(a) => eval(a),
    }
}

fn train(a: TrainArgs, t: &Term) -> minqing::Result<()> {
    let started = std::time::Instant::now();
    let trained = pipeline::classify_train(&a.input, a.taxonomy.as_deref(), &a.out)?;
    let on = &trained.model.trained_on;
    t.note(format!(
        "trained on {} distinct labelled texts in {} categories ({} duplicates and {} texts with two categories left out, {} rows without a category){}; cross-validated macro-F1 {:.3}; {:.1}s",
        thousands(on.documents as u64),
        on.per_class.len(),
        thousands(on.duplicates as u64),
        thousands(on.conflicting as u64),
        thousands(on.unlabelled as u64),
        if on.taxonomy_rows > 0 {
            format!(", plus {} taxonomy paths", on.taxonomy_rows)
        } else {
            String::new()
        },
        on.cv_macro_f1,
        started.elapsed().as_secs_f64()
    ));
    println!("{}", trained.path.display());
    Ok(())
}

fn eval(a: EvalArgs) -> minqing::Result<()> {
    let setup = pipeline::EvalSetup {
        inputs: &a.input,
        test: &a.test,
        taxonomy: a.taxonomy.as_deref(),
        folds: a.folds,
    };
    let (s, coverage) = pipeline::classify_eval(&setup)?;
    if matches!(a.format, super::analyse::Format::Json) {
        let v = serde_json::json!({
            "scores": s,
            "coverage": coverage.iter().map(|(t, share, acc)| serde_json::json!({
                "min_confidence": t, "share": share, "accuracy": acc
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("{}", s.how);
    println!(
        "macro-F1 {:.3}   accuracy {:.3}   ({} texts)\n",
        s.macro_f1, s.accuracy, s.documents
    );
    println!(
        "{:<12}\t{:>7}\t{:>9}\t{:>6}\t{:>6}",
        "class", "support", "precision", "recall", "F1"
    );
    for c in &s.per_class {
        println!(
            "{:<12}\t{:>7}\t{:>9.3}\t{:>6.3}\t{:>6.3}",
            c.class, c.support, c.precision, c.recall, c.f1
        );
    }
    println!("\nconfusion (rows = true, columns = predicted, in the order above)");
    for (c, row) in s.per_class.iter().zip(&s.confusion) {
        let cells: Vec<String> = row.iter().map(|n| format!("{n:>4}")).collect();
        println!("{:<12}\t{}", c.class, cells.join(""));
    }
    println!("\nmin_confidence\tshare kept\taccuracy of those kept");
    for (t, share, acc) in coverage {
        println!("{t:.1}\t{:.1}%\t{:.1}%", share * 100.0, acc * 100.0);
    }
    Ok(())
}
