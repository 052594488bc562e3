//! Which reader a file needs, decided from its first bytes (the name only for text formats).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::Format;
use crate::error::{Error, Result};

/// Detects the format of a file from its first bytes (and the extension only for text formats).
pub fn detect_format(path: &Path, declared: Option<Format>) -> Result<Format> {
    if let Some(d) = declared {
        return Ok(d);
    }
    let mut head = [0u8; 8];
    let mut f = File::open(path).map_err(Error::io("open", path))?;
    let n = read_up_to(&mut f, &mut head).map_err(Error::io("read", path))?;
    let head = &head[..n];
    if head.starts_with(b"PK\x03\x04") {
        return Ok(Format::Xlsx);
    }
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Ok(Format::Xls);
    }
    if head.starts_with(b"PAR1") {
        return Ok(Format::Parquet);
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "jsonl" | "ndjson" => Ok(Format::Jsonl),
        "xlsx" | "xls" | "parquet" => Err(Error::BadInput {
            path: path.to_path_buf(),
            message: format!(
                "named `.{ext}` but its content is not a {ext} file (first bytes {:02X?}); if it is text, rename it to .csv",
                head
            ),
        }),
        _ => {
            // A JSON object on the first line means JSONL whatever the name says.
            let skip_bom = if head.starts_with(&[0xEF, 0xBB, 0xBF]) { 3 } else { 0 };
            if head.get(skip_bom) == Some(&b'{') {
                Ok(Format::Jsonl)
            } else {
                Ok(Format::Csv)
            }
        }
    }
}

pub(super) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
