//! Parquet files, read whole with polars.

use std::fs::File;
use std::path::Path;

use super::contain::{contain, one_line};
use super::{Cell, RowSink};
use crate::error::{Error, Result};

pub(super) fn read_parquet(path: &Path, sink: &mut dyn RowSink) -> Result<()> {
    use polars::prelude::*;
    let f = File::open(path).map_err(Error::io("open", path))?;
    let df = contain(path, "the Parquet reader", || {
        ParquetReader::new(f).finish().map_err(|e| Error::BadInput {
            path: path.to_path_buf(),
            message: format!("not a readable Parquet file: {}", one_line(e)),
        })
    })?;
    let headers: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    sink.header(headers)?;
    let mut columns: Vec<Vec<Cell>> = Vec::with_capacity(df.width());
    for c in df.columns() {
        let cells: Vec<Cell> = match c.dtype() {
            DataType::Datetime(_, _) | DataType::Date => {
                let ms = c
                    .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?
                    .cast(&DataType::Int64)?;
                ms.i64()?
                    .iter()
                    .map(
                        |v| match v.and_then(chrono::DateTime::from_timestamp_millis) {
                            Some(d) => Cell::DateTime(d.naive_utc()),
                            None => Cell::Empty,
                        },
                    )
                    .collect()
            }
            DataType::Boolean => c
                .bool()?
                .iter()
                .map(|v| v.map_or(Cell::Empty, Cell::Bool))
                .collect(),
            dt if dt.is_primitive_numeric() => c
                .cast(&DataType::Float64)?
                .f64()?
                .iter()
                .map(|v| v.map_or(Cell::Empty, Cell::Number))
                .collect(),
            _ => c
                .cast(&DataType::String)?
                .str()?
                .iter()
                .map(|v| v.map_or(Cell::Empty, |s| Cell::Text(s.to_string())))
                .collect(),
        };
        columns.push(cells);
    }
    for i in 0..df.height() {
        let cells = columns.iter().map(|c| c[i].clone()).collect();
        sink.row(i as u64 + 2, cells);
    }
    Ok(())
}
