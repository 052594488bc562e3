//! The library's one error type. Variants a user can fix carry the file, row and column to fix;
//! wrapped library errors stay transparent so the cause chain is printed once by the binary.

use std::path::PathBuf;

/// Everything that can go wrong in a minqing run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("cannot {action} `{path}`")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An input table lacks a required canonical column.
    #[error("`{path}` has no column for `{field}` (found: {found}; accepted: {accepted})")]
    MissingColumn {
        path: PathBuf,
        field: String,
        found: String,
        accepted: String,
    },
    /// The input file is not in a format minqing reads, or is malformed as a whole.
    #[error("`{path}`: {message}")]
    BadInput { path: PathBuf, message: String },
    /// A single cell is unusable and the whole run must stop (most bad cells are rejects instead).
    #[error("`{path}` row {row}, column `{column}`: {message}")]
    BadCell {
        path: PathBuf,
        row: u64,
        column: String,
        message: String,
    },
    /// The pipeline file is not valid TOML, has unknown keys or bad values.
    #[error("invalid pipeline file `{path}`: {message}")]
    Config { path: PathBuf, message: String },
    /// A search query could not be parsed.
    #[error("invalid query `{query}`: {message}")]
    Query { query: String, message: String },
    /// A user-facing precondition failed (missing run folder, unknown id, …).
    #[error("{0}")]
    Usage(String),
    /// A file minqing wrote earlier cannot be read back as it wrote it (damaged, or edited by
    /// hand): rerun the step that writes it.
    #[error("`{path}` is damaged ({message}); rerun the step that writes it")]
    Corrupt { path: PathBuf, message: String },
    /// A fault of minqing itself, not of the input or the machine (a worker thread died).
    #[error("internal error: {0}")]
    Internal(String),
    #[error(transparent)]
    Polars(#[from] polars::prelude::PolarsError),
    #[error(transparent)]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("xlsx writer: {0}")]
    XlsxWrite(#[from] rust_xlsxwriter::XlsxError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The error and its causes on one line, each cause once (line breaks inside a message — a
    /// quoted header, a file name — become spaces, so an error is always one line).
    pub fn chain(&self) -> String {
        use std::error::Error as _;
        let mut out = self.to_string();
        let mut src = self.source();
        while let Some(s) = src {
            let s_text = s.to_string();
            if !out.contains(&s_text) {
                out.push_str(": ");
                out.push_str(&s_text);
            }
            src = s.source();
        }
        out.replace(['\r', '\n'], " ")
    }

    /// Wraps an I/O error with what was being done and to which path.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}
