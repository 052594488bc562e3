//! JSON Lines: one object a line; the header is the union of the keys in first-seen order.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek};
use std::path::Path;

use super::{Cell, RowSink};
use crate::error::{Error, Result};

pub(super) fn read_jsonl(path: &Path, sink: &mut dyn RowSink) -> Result<()> {
    let f = File::open(path).map_err(Error::io("open", path))?;
    let mut reader = BufReader::with_capacity(1 << 20, f);
    // The header is the union of keys in first-seen order, which needs two passes; the first
    // pass only collects keys.
    let mut keys: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut line = Vec::new();
    while next_line(&mut reader, &mut line, path)? {
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice::<serde_json::Value>(&line)
        {
            for k in m.keys() {
                if seen.insert(k.clone()) {
                    keys.push(k.clone());
                }
            }
        }
    }
    if keys.is_empty() {
        return Err(Error::BadInput {
            path: path.to_path_buf(),
            message: "no JSON object found on any line".into(),
        });
    }
    sink.header(keys.clone())?;
    reader.rewind().map_err(Error::io("read", path))?;
    let keys: std::sync::Arc<[String]> = keys.into();
    let mut lineno = 0u64;
    while next_line(&mut reader, &mut line, path)? {
        lineno += 1;
        // parsed by the converters, on all cores ([`json_cells`])
        sink.json_line(lineno, std::mem::take(&mut line), keys.clone());
    }
    Ok(())
}

/// One line's cells in `keys`' order (blank line: one empty cell), or why it is not a row.
pub(super) fn json_cells(line: &[u8], keys: &[String]) -> std::result::Result<Vec<Cell>, String> {
    let text = match std::str::from_utf8(line) {
        Ok(t) => t.trim_start_matches('\u{feff}'),
        Err(_) => return Err("line is not valid UTF-8".into()),
    };
    if text.trim().is_empty() {
        return Ok(vec![Cell::Empty]);
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(m)) => Ok(keys
            .iter()
            .map(|k| match m.get(k) {
                None | Some(serde_json::Value::Null) => Cell::Empty,
                Some(serde_json::Value::String(s)) => Cell::Text(s.clone()),
                Some(serde_json::Value::Number(v)) => Cell::Number(v.as_f64().unwrap_or(0.0)),
                Some(serde_json::Value::Bool(b)) => Cell::Bool(*b),
                Some(v) => Cell::Text(v.to_string()),
            })
            .collect()),
        Ok(_) => Err("line is JSON but not an object".into()),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

/// Reads the next line (with its `\n`) into `line`; false at the end of the file.
fn next_line(reader: &mut impl BufRead, line: &mut Vec<u8>, path: &Path) -> Result<bool> {
    line.clear();
    let n = reader
        .read_until(b'\n', line)
        .map_err(Error::io("read", path))?;
    Ok(n > 0)
}
