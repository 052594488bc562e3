//! Writing a sample: CSV (rows rendered in parallel, chunk by chunk, written in order) or XLSX,
//! atomically.

use std::path::Path;

use rayon::prelude::*;

use super::{end_date, start_date, Options, Sample, Summary, HEADERS};
use crate::error::{Error, Result};

fn summary(s: &Sample) -> Summary {
    let info = s.groups();
    Summary {
        rows: s.len(),
        groups: info.iter().filter(|g| g.size > 0).count(),
        grouped_rows: info.iter().map(|g| g.size).sum(),
        first_date: start_date(),
        last_date: end_date(),
        group_info: info,
    }
}

/// Writes the sample as CSV (UTF-8, header row) or XLSX, by the extension of `path`. Atomic.
pub fn write(opts: &Options, path: &Path) -> Result<Summary> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    let s = Sample::new(opts);
    match ext.as_str() {
        "csv" => write_csv(&s, path)?,
        "xlsx" => write_xlsx(&s, path)?,
        _ => {
            return Err(Error::Usage(format!(
                "`{}`: the sample is written as .csv or .xlsx",
                path.display()
            )))
        }
    }
    Ok(summary(&s))
}

fn csv_chunk(s: &Sample, from: usize, to: usize) -> std::io::Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity((to - from) * 700));
    for i in from..to {
        let r = s.row(i);
        w.write_record(r.cells().iter().map(|c| c.as_bytes()))?;
    }
    w.into_inner().map_err(|e| e.into_error())
}

fn write_csv(s: &Sample, path: &Path) -> Result<()> {
    const CHUNK: usize = 4096;
    let n = s.len();
    let chunks = n.div_ceil(CHUNK);
    let batch = rayon::current_num_threads().max(1) * 4;
    crate::fsutil::write_atomic_with(path, |out| {
        let mut head = csv::WriterBuilder::new().from_writer(Vec::new());
        head.write_record(HEADERS)?;
        out.write_all(&head.into_inner().map_err(|e| e.into_error())?)?;
        let mut c = 0;
        while c < chunks {
            let hi = (c + batch).min(chunks);
            let bufs: Vec<std::io::Result<Vec<u8>>> = (c..hi)
                .into_par_iter()
                .map(|k| csv_chunk(s, k * CHUNK, ((k + 1) * CHUNK).min(n)))
                .collect();
            for b in bufs {
                out.write_all(&b?)?;
            }
            c = hi;
        }
        Ok(())
    })
}

fn write_xlsx(s: &Sample, path: &Path) -> Result<()> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Workbook};
    if s.len() >= 1_048_576 {
        return Err(Error::Usage(format!(
            "an .xlsx sheet holds at most 1,048,575 data rows; write {} rows as .csv",
            s.len()
        )));
    }
    let mut wb = Workbook::new();
    let created = ExcelDateTime::from_ymd(2020, 1, 1)?.and_hms(0, 0, 0)?;
    wb.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let ws = wb.add_worksheet();
    ws.set_name("信访件")?;
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string(0, c as u16, *h)?;
    }
    for i in 0..s.len() {
        let r = s.row(i);
        let row = (i + 1) as u32;
        for (c, v) in r.cells().iter().enumerate() {
            if v.is_empty() {
                continue;
            }
            if matches!(c, 7 | 17 | 18) {
                ws.write_number(row, c as u16, v.parse::<f64>().unwrap_or(0.0))?;
            } else {
                ws.write_string(row, c as u16, v.as_ref())?;
            }
        }
    }
    let bytes = wb.save_to_buffer()?;
    crate::fsutil::write_atomic(path, &bytes)
}
