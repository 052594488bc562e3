//! Pipeline files (`pipelines/*.toml`): which inputs to read and each stage's options.
//!
//! Relative paths inside a pipeline file are resolved against the folder that holds the file, so
//! a pipeline runs the same from any working directory.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

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
    pub sources: Vec<SourceConfig>,
    #[serde(default)]
    pub ingest: crate::ingest::Options,
    #[serde(default)]
    pub tokenize: crate::tokenize::Options,
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

/// One input file and how to read it.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub path: PathBuf,
    /// `auto` (by content), `csv`, `xlsx`, `jsonl` or `parquet`.
    #[serde(default)]
    pub format: Option<String>,
    /// For CSV: `auto` (UTF-8, UTF-8 with BOM, else GB18030), `utf-8`, `gbk` or `gb18030`.
    #[serde(default)]
    pub encoding: Option<String>,
    /// Prepended to every id from this source (ids are often unique only within one export).
    #[serde(default)]
    pub id_prefix: Option<String>,
    /// Channel for rows without a channel column (e.g. `message_board` for a 留言板 export).
    #[serde(default)]
    pub channel: Option<String>,
    /// Worksheet to read from an xlsx (default: the first).
    #[serde(default)]
    pub sheet: Option<String>,
    /// Overrides: canonical field name → header in this file, e.g. `content = "投诉详情"`.
    #[serde(default)]
    pub columns: std::collections::BTreeMap<String, String>,
}

impl PipelineConfig {
    /// Reads and validates a pipeline file.
    pub fn load(path: &Path) -> Result<PipelineConfig> {
        let text = std::fs::read_to_string(path).map_err(Error::io("read pipeline file", path))?;
        let mut cfg: PipelineConfig = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
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
                .map(|p| SourceConfig {
                    path: p.clone(),
                    ..SourceConfig::default()
                })
                .collect(),
            ingest: Default::default(),
            tokenize: Default::default(),
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
        if !matches!(self.report.period.as_str(), "week" | "month") {
            return Err(bad(format!(
                "`[report] period` must be \"week\" (周报) or \"month\" (月报), got `{}`",
                self.report.period
            )));
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
            if let Some(c) = &s.channel {
                if crate::schema::Channel::parse(c).is_none() {
                    return Err(bad(format!(
                        "source `{}`: unknown channel `{c}` (letter, visit, online, hotline, message_board, comment)",
                        s.path.display()
                    )));
                }
            }
        }
        Ok(())
    }
}
