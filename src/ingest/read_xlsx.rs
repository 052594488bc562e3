//! Excel workbooks (`.xlsx` read cell by cell; `.xls` through calamine's range), fed to the
//! mapper as a spreadsheet shows them.

use std::path::Path;

use super::contain::{contain, one_line};
use super::{Cell, RowSink};
use crate::error::{Error, Result};
use crate::normalize;

/// Excel's last column (XFD): a cell beyond it exists only in a corrupt or hand-made file.
const EXCEL_MAX_COLUMNS: u32 = 16_384;

pub(super) fn read_workbook(
    path: &Path,
    sheet: Option<&str>,
    sink: &mut dyn RowSink,
) -> Result<()> {
    use calamine::Reader;
    let bytes = std::fs::read(path).map_err(Error::io("read", path))?;
    let bad = |message: String| Error::BadInput {
        path: path.to_path_buf(),
        message,
    };
    let pick = |names: Vec<String>| -> Result<String> {
        match sheet {
            Some(s) => names
                .iter()
                .find(|n| n.as_str() == s)
                .cloned()
                .ok_or_else(|| {
                    bad(format!(
                        "no worksheet `{}` (found: {})",
                        one_line(s),
                        one_line(names.join(", "))
                    ))
                }),
            None => names
                .first()
                .cloned()
                .ok_or_else(|| bad("the workbook has no worksheets".into())),
        }
    };
    if bytes.starts_with(b"PK\x03\x04") {
        // A zip is read as xlsx only, cell by cell (see `read_xlsx_cells`), and its own error is
        // reported: trying every zip-based format in turn would report only "Cannot detect file
        // format" and would reach readers (ods) that expand repeated rows into a dense range.
        let cells = contain(path, "the xlsx reader", || {
            let mut wb = calamine::Xlsx::new(std::io::Cursor::new(bytes))
                .map_err(|e| bad(format!("not a readable xlsx workbook: {}", one_line(e))))?;
            let name = pick(wb.sheet_names())?;
            read_xlsx_cells(&mut wb, &name).map_err(|e| bad(unreadable_sheet(&name, e)))
        })?;
        return emit_sparse(path, cells, sink);
    }
    let cells = contain(path, "the Excel reader", || {
        let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
            .map_err(|e| bad(format!("not a readable Excel workbook: {}", one_line(e))))?;
        let name = pick(wb.sheet_names())?;
        let range = wb
            .worksheet_range(&name)
            .map_err(|e| bad(unreadable_sheet(&name, e)))?;
        let (first_row, first_col) = range.start().unwrap_or((0, 0));
        Ok(range
            .cells()
            .filter(|(_, _, d)| !matches!(d, calamine::Data::Empty))
            .map(|(r, c, d)| (first_row + r as u32, first_col + c as u32, workbook_cell(d)))
            .collect())
    })?;
    emit_sparse(path, cells, sink)
}

/// The message of a worksheet that cannot be read, on one line (a damaged workbook's sheet
/// name may hold a line break).
fn unreadable_sheet(name: &str, e: impl std::fmt::Display) -> String {
    format!(
        "cannot read worksheet `{}`: {}",
        one_line(name),
        one_line(e)
    )
}

/// The non-empty cells of an xlsx worksheet as (row, column, cell), 0-based. Read one by one
/// rather than through `worksheet_range`, which allocates rows × columns of the cells' bounding
/// box: one cell at XFD1048576 — a valid workbook of 6 KB — asks for 512 GiB and aborts.
fn read_xlsx_cells(
    wb: &mut calamine::Xlsx<std::io::Cursor<Vec<u8>>>,
    name: &str,
) -> std::result::Result<Vec<(u32, u32, Cell)>, calamine::XlsxError> {
    let mut reader = match wb.worksheet_cells_reader(name) {
        Ok(r) => r,
        // A chart sheet: no cells (the caller then says there is no header row).
        Err(calamine::XlsxError::NotAWorksheet(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut cells = Vec::new();
    while let Some(c) = reader.next_cell()? {
        if matches!(c.get_value(), calamine::DataRef::Empty) {
            continue;
        }
        let (r, col) = c.get_position();
        let data: calamine::Data = c.get_value().clone().into();
        cells.push((r, col, workbook_cell(&data)));
    }
    Ok(cells)
}

fn workbook_cell(d: &calamine::Data) -> Cell {
    use calamine::Data;
    match d {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::Text(s.clone()),
        Data::Int(v) => Cell::Number(*v as f64),
        Data::Float(v) => Cell::Number(*v),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) => normalize::excel_serial(dt.as_f64())
            .map(Cell::DateTime)
            .unwrap_or(Cell::Number(dt.as_f64())),
        Data::DateTimeIso(s) => normalize::parse_datetime(s)
            .map(Cell::DateTime)
            .unwrap_or_else(|| Cell::Text(s.clone())),
        Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Text(format!("#ERROR {e:?}")),
    }
}

/// Feeds a worksheet's non-empty cells to `sink` row by row, as a spreadsheet shows them: the
/// first row holding a non-blank cell is the header, columns start at the leftmost cell, a row
/// the file repeats is the later one, and the empty rows between data rows are counted as blank
/// rows without being materialised (a sheet may skip a million of them).
fn emit_sparse(
    path: &Path,
    mut cells: Vec<(u32, u32, Cell)>,
    sink: &mut dyn RowSink,
) -> Result<()> {
    // Stable: of two cells at one position (a corrupt file), the later one wins, as in Excel.
    cells.sort_by_key(|(r, c, _)| (*r, *c));
    let first_col = cells.iter().map(|(_, c, _)| *c).min().unwrap_or(0);
    let mut header_width = 0usize;
    let mut header_done = false;
    let mut prev_row: Option<u32> = None;
    let mut it = cells.into_iter().peekable();
    while let Some(&(r, _, _)) = it.peek() {
        let mut this = Vec::new();
        while let Some(c) = it.next_if(|(rr, _, _)| *rr == r) {
            this.push((c.1 - first_col, c.2));
        }
        let row = u64::from(r) + 1;
        if let (true, Some(p)) = (header_done, prev_row) {
            sink.blank(u64::from(r - p - 1));
        }
        prev_row = Some(r);
        let last_col = this.last().map_or(0, |(c, _)| *c);
        if last_col >= EXCEL_MAX_COLUMNS {
            let reason = format!(
                "a cell at column {} is past Excel's last column (XFD): the workbook is corrupt",
                u64::from(last_col) + 1
            );
            if !header_done {
                return Err(Error::BadInput {
                    path: path.to_path_buf(),
                    message: format!("row {row}: {reason}"),
                });
            }
            sink.broken(row, reason);
            continue;
        }
        let width = (last_col as usize + 1).max(header_width);
        let mut row_cells = vec![Cell::Empty; width];
        for (c, cell) in this {
            row_cells[c as usize] = cell;
        }
        if !header_done {
            if row_cells.iter().all(Cell::is_blank) {
                continue;
            }
            header_width = row_cells.len();
            sink.header(row_cells.iter().map(Cell::text).collect())?;
            header_done = true;
            continue;
        }
        sink.row(row, row_cells);
    }
    Ok(())
}
