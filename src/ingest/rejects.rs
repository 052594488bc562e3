//! `rejects.csv`: every row that was not stored, with the file, row, column and reason.

use std::path::Path;

use super::Reject;
use crate::error::{Error, Result};

/// Writes `rejects.csv` (sorted by file, row) atomically.
pub fn write_rejects(path: &Path, rejects: &[Reject]) -> Result<()> {
    let mut sorted: Vec<&Reject> = rejects.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.file, a.row, &a.kind, &a.column).cmp(&(&b.file, b.row, &b.kind, &b.column))
    });
    let mut buf = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut buf);
        w.write_record(["file", "row", "column", "kind", "id", "reason"])?;
        for r in sorted {
            let row = r.row.to_string();
            w.write_record([
                crate::fsutil::csv_safe(&r.file).as_ref(),
                row.as_str(),
                crate::fsutil::csv_safe(&r.column).as_ref(),
                r.kind.code(),
                crate::fsutil::csv_safe(&r.id).as_ref(),
                crate::fsutil::csv_safe(&r.reason).as_ref(),
            ])?;
        }
        w.flush().map_err(Error::io("write", path))?;
    }
    crate::fsutil::write_atomic(path, &buf)
}
