//! Pipeline files (`pipelines/*.toml`): which inputs to read and each stage's options.
//!
//! Relative paths inside a pipeline file are resolved against the folder that holds the file, so
//! a pipeline runs the same from any working directory.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::ingest::Source;

/// A whole pipeline: inputs and every stage's options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Names the run; the default output folder is `reports/<name>/`.
    pub name: String,
    /// Output folder (relative to the pipeline file). `--out` overrides it.
    #[serde(default)]
    pub out: Option<PathBuf>,
    #[serde(default, rename = "source")]
    pub sources: Vec<Source>,
    #[serde(default)]
    pub ingest: crate::ingest::Options,
    #[serde(default)]
    pub tokenize: crate::tokenize::Options,
    #[serde(default)]
    pub classify: crate::classify::Options,
    #[serde(default)]
    pub route: crate::route::Options,
    #[serde(default)]
    pub cluster: crate::cluster::Options,
    #[serde(default)]
    pub trends: crate::trends::Options,
    #[serde(default)]
    pub charts: crate::charts::Options,
    #[serde(default)]
    pub report: crate::report::Options,
    /// Folder the pipeline file lives in; relative paths are resolved against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// A TOML error as one line: the line number, the line as written (it names the key) and what
/// is wrong with it.
fn toml_message(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or_default().trim();
            format!("line {line_no} `{line}`: {}", e.message().trim())
        }
        None => e.message().trim().to_string(),
    }
}

impl PipelineConfig {
    /// Reads and validates a pipeline file.
    pub fn load(path: &Path) -> Result<PipelineConfig> {
        let text = std::fs::read_to_string(path).map_err(Error::io("read pipeline file", path))?;
        let mut cfg: PipelineConfig = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: toml_message(&text, &e),
        })?;
        cfg.base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        for s in &mut cfg.sources {
            s.path = cfg.base_dir.join(&s.path);
        }
        cfg.tokenize.resolve_paths(&cfg.base_dir);
        cfg.classify.resolve_paths(&cfg.base_dir);
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// The default pipeline for ad-hoc `--input` files: bundled dictionaries, default options.
    pub fn ad_hoc(inputs: &[PathBuf]) -> PipelineConfig {
        PipelineConfig {
            name: "adhoc".into(),
            out: None,
            sources: inputs
                .iter()
                .map(|p| Source {
                    path: p.clone(),
                    ..Source::default()
                })
                .collect(),
            ingest: Default::default(),
            tokenize: Default::default(),
            classify: Default::default(),
            route: Default::default(),
            cluster: Default::default(),
            trends: Default::default(),
            charts: Default::default(),
            report: Default::default(),
            base_dir: PathBuf::from("."),
        }
    }

    /// Output folder: `--out` if given, else `out` from the file, else `reports/<name>`.
    pub fn out_dir(&self, cli_out: Option<&Path>) -> PathBuf {
        if let Some(o) = cli_out {
            return o.to_path_buf();
        }
        match &self.out {
            Some(o) => self.base_dir.join(o),
            None => PathBuf::from("reports").join(&self.name),
        }
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        if self.name.trim().is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad(format!(
                "`name` must be letters, digits, `-` or `_` (it names the output folder), got `{}`",
                self.name
            )));
        }
        let most = self.trends.baseline_weeks.max(1).div_ceil(2);
        if self.trends.trend_periods == 0 || self.trends.trend_periods > most {
            return Err(bad(format!(
                "`[trends] trend_periods` must be 1 to {most} (two windows within `baseline_weeks` + 1 periods), got {}",
                self.trends.trend_periods
            )));
        }
        // A table of no rows would say every count is in it and name none (a brief with an
        // empty 表4 and "no group has petitions" beside a count of thousands).
        for (key, rows) in [
            ("[report] max_rows", self.report.max_rows),
            ("[report] max_ids", self.report.max_ids),
            ("[charts] max_rows", self.charts.max_rows),
        ] {
            if rows == 0 {
                return Err(bad(format!("`{key}` must be at least 1, got 0")));
            }
        }
        for s in &self.sources {
            for field in s.columns.keys() {
                if crate::schema::field_by_name(field).is_none() {
                    return Err(bad(format!(
                        "source `{}`: `columns.{field}` is not a canonical field (see `minqing schema`)",
                        s.path.display()
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mistyped value fails at load, naming the file, the line with its key, and the values
    /// accepted.
    #[test]
    fn a_typo_names_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "[[source]]\npath = \"a.csv\"\nformat = \"xslx\"\n",
                "format = \"xslx\"",
                "`xlsx`",
            ),
            (
                "[[source]]\npath = \"a.csv\"\nencoding = \"big5\"\n",
                "encoding = \"big5\"",
                "`gbk`",
            ),
            (
                "[[source]]\npath = \"a.csv\"\nchannel = \"lettr\"\n",
                "channel = \"lettr\"",
                "letter, visit",
            ),
            (
                "[report]\nperiod = \"weak\"\n",
                "period = \"weak\"",
                "`week` or `month`",
            ),
            ("[cluster]\nmin_sise = 3\n", "min_sise = 3", "min_size"),
        ];
        for (body, key, accepted) in cases {
            let p = dir.path().join("typo.toml");
            std::fs::write(&p, format!("name = \"t\"\n\n{body}")).unwrap();
            let err = PipelineConfig::load(&p).unwrap_err().to_string();
            assert!(
                err.contains("typo.toml") && err.contains(key) && err.contains(accepted),
                "{err}"
            );
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn trend_windows_must_fit_the_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(&p, "name = \"t\"\n[trends]\ntrend_periods = 5\n").unwrap();
        let err = PipelineConfig::load(&p).unwrap_err().to_string();
        assert!(
            err.contains("trend_periods") && err.contains("1 to 4"),
            "{err}"
        );
        std::fs::write(
            &p,
            "name = \"t\"\n[trends]\ntrend_periods = 5\nbaseline_weeks = 9\n",
        )
        .unwrap();
        assert_eq!(PipelineConfig::load(&p).unwrap().trends.trend_periods, 5);
    }

    #[test]
    fn tables_of_no_rows_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        for (body, key) in [
            ("[report]\nmax_rows = 0\n", "[report] max_rows"),
            ("[report]\nmax_ids = 0\n", "[report] max_ids"),
            ("[charts]\nmax_rows = 0\n", "[charts] max_rows"),
        ] {
            std::fs::write(&p, format!("name = \"t\"\n{body}")).unwrap();
            let err = PipelineConfig::load(&p).unwrap_err().to_string();
            assert!(err.contains("p.toml") && err.contains(key), "{err}");
        }
        std::fs::write(&p, "name = \"t\"\n[report]\nmax_rows = 1\n").unwrap();
        assert_eq!(PipelineConfig::load(&p).unwrap().report.max_rows, 1);
    }
}
