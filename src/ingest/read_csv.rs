//! CSV in UTF-8, UTF-8 with BOM, GBK or GB18030 (sniffed unless declared), comma, tab or
//! semicolon separated.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::detect::read_up_to;
use super::{Cell, Encoding, RowSink};
use crate::error::{Error, Result};

/// Decodes a byte stream from GB18030 (a superset of GBK) to UTF-8 as it is read.
struct DecodingReader<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    inbuf: Vec<u8>,
    in_start: usize,
    in_end: usize,
    eof: bool,
    /// The decoder has been flushed; it must not be called again.
    finished: bool,
    out: Vec<u8>,
    out_start: usize,
}

impl<R: Read> DecodingReader<R> {
    fn new(inner: R, enc: &'static encoding_rs::Encoding) -> Self {
        DecodingReader {
            inner,
            decoder: enc.new_decoder_without_bom_handling(),
            inbuf: vec![0; 64 * 1024],
            in_start: 0,
            in_end: 0,
            eof: false,
            finished: false,
            out: Vec::new(),
            out_start: 0,
        }
    }
}

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.out_start >= self.out.len() {
            if self.in_start == self.in_end && !self.eof {
                let n = self.inner.read(&mut self.inbuf)?;
                self.in_start = 0;
                self.in_end = n;
                self.eof = n == 0;
            }
            if self.eof && self.in_start == self.in_end {
                if self.finished {
                    return Ok(0);
                }
                self.finished = true;
                // Flush the decoder's state at the end of input.
                let mut tail = String::with_capacity(16);
                let _ = self.decoder.decode_to_string(&[], &mut tail, true);
                if tail.is_empty() {
                    return Ok(0);
                }
                self.out = tail.into_bytes();
                self.out_start = 0;
                break;
            }
            let input = &self.inbuf[self.in_start..self.in_end];
            let cap = self
                .decoder
                .max_utf8_buffer_length(input.len())
                .unwrap_or(input.len() * 4 + 16);
            let mut s = String::with_capacity(cap);
            let (_res, read, _replaced) = self.decoder.decode_to_string(input, &mut s, false);
            self.in_start += read;
            self.out = s.into_bytes();
            self.out_start = 0;
        }
        let n = buf.len().min(self.out.len() - self.out_start);
        buf[..n].copy_from_slice(&self.out[self.out_start..self.out_start + n]);
        self.out_start += n;
        Ok(n)
    }
}

/// Decides a CSV's encoding: declared, else BOM, else UTF-8 if the first 1 MiB is valid UTF-8,
/// else GB18030.
fn csv_encoding(
    path: &Path,
    declared: Option<Encoding>,
) -> Result<(&'static encoding_rs::Encoding, bool, &'static str)> {
    let mut f = File::open(path).map_err(Error::io("open", path))?;
    let mut head = vec![0u8; 1 << 20];
    let n = read_up_to(&mut f, &mut head).map_err(Error::io("read", path))?;
    head.truncate(n);
    let bom = head.starts_with(&[0xEF, 0xBB, 0xBF]);
    if let Some(d) = declared {
        let enc = match d {
            Encoding::Utf8 => encoding_rs::UTF_8,
            Encoding::Gb18030 => encoding_rs::GB18030,
        };
        return Ok((enc, bom, d.name()));
    }
    if bom {
        return Ok((encoding_rs::UTF_8, true, "utf-8-bom"));
    }
    let valid = match std::str::from_utf8(&head) {
        Ok(_) => true,
        // A multi-byte character cut by the 1 MiB sample is still UTF-8.
        Err(e) => e.error_len().is_none() && n == head.len() && e.valid_up_to() + 4 > n,
    };
    if valid {
        Ok((encoding_rs::UTF_8, false, "utf-8"))
    } else {
        Ok((encoding_rs::GB18030, false, "gb18030"))
    }
}

pub(super) fn read_csv(
    path: &Path,
    declared: Option<Encoding>,
    sink: &mut dyn RowSink,
) -> Result<String> {
    let (enc, bom, name) = csv_encoding(path, declared)?;
    let mut f = File::open(path).map_err(Error::io("open", path))?;
    if bom {
        let mut skip = [0u8; 3];
        f.read_exact(&mut skip).map_err(Error::io("read", path))?;
    }
    let reader: Box<dyn Read> = if enc == encoding_rs::UTF_8 {
        Box::new(BufReader::with_capacity(1 << 20, f))
    } else {
        Box::new(DecodingReader::new(
            BufReader::with_capacity(1 << 20, f),
            enc,
        ))
    };
    let sep = sniff_delimiter(path, enc, bom)?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sep)
        .from_reader(reader);
    let mut rec = csv::ByteRecord::new();
    let mut header_done = false;
    let mut row: u64 = 0;
    loop {
        let more = match rdr.read_byte_record(&mut rec) {
            Ok(m) => m,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(row + 1);
                if let csv::ErrorKind::Io(io) = e.kind() {
                    return Err(Error::Io {
                        action: "read",
                        path: path.to_path_buf(),
                        source: std::io::Error::new(io.kind(), io.to_string()),
                    });
                }
                row += 1;
                sink.broken(line, format!("unreadable CSV record: {e}"));
                continue;
            }
        };
        if !more {
            break;
        }
        // Row numbers as a spreadsheet shows them: records, not physical lines (a quoted cell
        // may span several lines).
        row += 1;
        if header_done {
            // The next record is read into a new one of this one's size, and this one goes to
            // the converters whole: two allocations a row on this thread instead of one a cell.
            let next = csv::ByteRecord::with_capacity(rec.as_slice().len(), rec.len());
            sink.csv_record(row, std::mem::replace(&mut rec, next), name);
            continue;
        }
        let (cells, bad) = csv_cells(&rec);
        if cells.iter().all(Cell::is_blank) {
            continue;
        }
        if let Some(i) = bad {
            return Err(Error::BadInput {
                path: path.to_path_buf(),
                message: format!(
                    "header column {} is not valid {name}; declare `encoding` on the source",
                    i + 1
                ),
            });
        }
        sink.header(cells.iter().map(Cell::text).collect())?;
        header_done = true;
    }
    Ok(name.to_string())
}

/// A CSV record's fields as cells, and the last field that is not valid UTF-8 (left empty).
pub(super) fn csv_cells(record: &csv::ByteRecord) -> (Vec<Cell>, Option<usize>) {
    let mut cells = Vec::with_capacity(record.len());
    let mut bad = None;
    for (i, field) in record.iter().enumerate() {
        match std::str::from_utf8(field) {
            Ok(s) => cells.push(if s.is_empty() {
                Cell::Empty
            } else {
                Cell::Text(s.to_string())
            }),
            Err(_) => {
                bad = Some(i);
                cells.push(Cell::Empty);
            }
        }
    }
    (cells, bad)
}

/// Comma unless the header line clearly uses tabs or semicolons.
fn sniff_delimiter(path: &Path, enc: &'static encoding_rs::Encoding, bom: bool) -> Result<u8> {
    let mut f = File::open(path).map_err(Error::io("open", path))?;
    let mut head = vec![0u8; 64 * 1024];
    let n = read_up_to(&mut f, &mut head).map_err(Error::io("read", path))?;
    head.truncate(n);
    let start = if bom { 3 } else { 0 };
    let (text, _, _) = enc.decode(&head[start.min(head.len())..]);
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let count = |c: char| first.matches(c).count();
    let (commas, tabs, semis) = (count(','), count('\t'), count(';'));
    Ok(if tabs > commas && tabs >= semis {
        b'\t'
    } else if semis > commas && semis > tabs {
        b';'
    } else {
        b','
    })
}
