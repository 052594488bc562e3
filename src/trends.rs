//! trends stage (being written; see the issue tracker).

use serde::Deserialize;

/// `[trends]` in a pipeline file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {}
