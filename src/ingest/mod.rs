//! ingest: reads petition exports (CSV in UTF-8 / UTF-8+BOM / GBK / GB18030, Excel `.xlsx` and
//! `.xls`, JSONL, Parquet) and maps their columns onto the canonical [`Record`].
//!
//! Nothing is lost and nothing is silent: every data row becomes a record, a reject (with file,
//! row, column and a reason a person can act on) or a duplicate; fully blank rows (real exports
//! have tens of thousands after the data) are counted and skipped. The format is detected from
//! the bytes, not the file name: a `.xls` whose content is a zip is read as xlsx.
//!
//! Layout: [`detect`](detect_format) picks the reader; one reader per format (`read_csv`,
//! `read_xlsx`, `read_jsonl`, `read_parquet`) feeds rows to a [`RowSink`]; the mapping decides
//! from the header which column feeds which field and converts rows on all cores (`convert`: a
//! CSV record's or a JSON line's fields become cells there too, so the reader's one thread only
//! splits the file into rows, and a filer thread hands the records on); third-party parsers run inside `contain`, so a corrupt file is that file's error, not a crash.
//! Duplicate ids are the store's to resolve ([`crate::store::dedup`]).

mod contain;
mod convert;
mod detect;
mod mapping;
mod read_csv;
mod read_jsonl;
mod read_parquet;
mod read_xlsx;
mod rejects;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::de::IntoDeserializer;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};
use crate::schema::{Channel, Record};
pub use contain::panic_is_contained;
use convert::Converter;
pub use detect::detect_format;
use mapping::{Converted, Mapper, Pipe, ToConvert};
use read_csv::read_csv;
use read_jsonl::read_jsonl;
use read_parquet::read_parquet;
use read_xlsx::read_workbook;
pub use rejects::write_rejects;

/// `[ingest]` in a pipeline file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// A cell longer than this (in bytes) is rejected instead of stored: such cells are pasted
    /// attachments or corrupt exports, and would bloat the index and the brief.
    pub max_cell_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_cell_bytes: 256 * 1024,
        }
    }
}

/// One raw cell as the file format gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    DateTime(NaiveDateTime),
    Bool(bool),
}

impl Cell {
    fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// The cell as text, borrowed when it is text (the import reads every text cell once: a
    /// copy of each was as much work as cleaning it).
    pub fn str(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Cell::Text(s) => std::borrow::Cow::Borrowed(s),
            other => std::borrow::Cow::Owned(other.text()),
        }
    }

    /// The cell as text (numbers without a spurious `.0`).
    pub fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Number(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", *v as i64),
            Cell::Number(v) => v.to_string(),
            Cell::DateTime(d) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
            Cell::Bool(b) => b.to_string(),
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Cell::Empty => serde_json::Value::Null,
            Cell::Number(v) if v.fract() == 0.0 && v.abs() < 1e15 => (*v as i64).into(),
            Cell::Number(v) => (*v).into(),
            Cell::Bool(b) => (*b).into(),
            other => other.text().into(),
        }
    }
}

/// An input file's format (`format` of a source in a pipeline file; absent or `auto` = detect it
/// from the content).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
    Xls,
    #[serde(alias = "ndjson")]
    Jsonl,
    Parquet,
}

/// A CSV's text encoding (`encoding` of a source; absent or `auto` = UTF-8 with or without BOM
/// when the file is valid UTF-8, else GB18030).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encoding {
    #[serde(rename = "utf-8", alias = "utf8")]
    Utf8,
    /// GB18030, a superset of GBK and GB2312 (which are read as it).
    #[serde(rename = "gb18030", alias = "gbk", alias = "gb2312", alias = "cp936")]
    Gb18030,
}

impl Encoding {
    /// The name `run.json` and messages use.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Gb18030 => "gb18030",
        }
    }
}

/// One input file and how to read it (`[[source]]` in a pipeline file).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub path: PathBuf,
    /// `auto` (by content), `csv`, `xlsx`, `xls`, `jsonl` or `parquet`.
    #[serde(default, deserialize_with = "auto_or")]
    pub format: Option<Format>,
    /// For CSV: `auto`, `utf-8`, `gbk` or `gb18030`.
    #[serde(default, deserialize_with = "auto_or")]
    pub encoding: Option<Encoding>,
    /// Prepended to every id from this source (ids are often unique only within one export).
    #[serde(default)]
    pub id_prefix: Option<String>,
    /// Channel for rows without a channel column (e.g. `message_board` for a 留言板 export): a
    /// code or a Chinese name.
    #[serde(default, deserialize_with = "channel_name")]
    pub channel: Option<Channel>,
    /// Worksheet to read from an xlsx (default: the first).
    #[serde(default)]
    pub sheet: Option<String>,
    /// Overrides: canonical field name → header in this file, e.g. `content = "投诉详情"`.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
}

/// `auto` (any case) → None; otherwise the value, case-insensitively, or serde's message naming
/// the values accepted.
fn auto_or<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let s = String::deserialize(d)?.trim().to_ascii_lowercase();
    if s == "auto" {
        return Ok(None);
    }
    T::deserialize(s.into_deserializer())
        .map(Some)
        .map_err(|e: serde::de::value::Error| serde::de::Error::custom(e))
}

/// A channel code or Chinese name ([`Channel::parse`]).
fn channel_name<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Channel>, D::Error> {
    let s = String::deserialize(d)?;
    Channel::parse_named(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// Why a row was not stored. The order is the order of `rejects.csv` rows that share a file,
/// row and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RejectKind {
    /// Another row with the same id was kept ([`crate::store::dedup`]).
    Duplicate,
    /// The row itself is unusable.
    Reject,
}

impl RejectKind {
    /// The `kind` column of `rejects.csv`.
    pub fn code(self) -> &'static str {
        match self {
            RejectKind::Duplicate => "duplicate",
            RejectKind::Reject => "reject",
        }
    }
}

/// A row that was not stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reject {
    pub file: String,
    /// Row as a spreadsheet shows it (the header is row 1); line number for JSONL.
    pub row: u64,
    pub column: String,
    pub reason: String,
    pub kind: RejectKind,
    pub id: String,
}

/// What one source gave.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SourceSummary {
    pub path: String,
    pub sha256: String,
    pub format: Option<Format>,
    pub encoding: Option<String>,
    /// Data rows read (blank rows excluded).
    pub rows_read: u64,
    pub blank_rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Column → canonical field used, in file order; unmapped columns go to `extra`.
    pub mapping: Vec<(String, String)>,
    pub notes: Vec<String>,
}

/// Reads one source, calling `sink` with the header row once and then every data row.
trait RowSink {
    fn header(&mut self, header: Vec<String>) -> Result<()>;
    /// `row` = 1-based spreadsheet row (header is row 1) or JSONL line number.
    fn row(&mut self, row: u64, cells: Vec<Cell>);
    /// A CSV data row (after the header), its fields not yet checked as text.
    fn csv_record(&mut self, row: u64, record: csv::ByteRecord, encoding: &'static str);
    /// A JSON line (1-based line number), not yet parsed; `keys` are the header's, in order.
    fn json_line(&mut self, line_number: u64, line: Vec<u8>, keys: std::sync::Arc<[String]>);
    /// A row the reader itself could not decode.
    fn broken(&mut self, row: u64, reason: String);
    /// `n` fully empty rows a sparse format skipped without listing them.
    fn blank(&mut self, n: u64);
}

/// What the ingest stage reads: the sources, in order.
pub struct Input<'a> {
    pub sources: &'a [Source],
    /// Called with the number of rows read since the last call.
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Where the records go, batch by batch, in file order.
    pub sink: &'a mut (dyn FnMut(Vec<Record>) -> Result<()> + Send + Sync),
}

/// What the ingest stage gives besides the records it hands to the sink.
#[derive(Debug, Default)]
pub struct Ingested {
    pub rejects: Vec<Reject>,
    pub sources: Vec<SourceSummary>,
}

impl Ingested {
    /// Data rows read from every source (blank rows excluded).
    pub fn rows_read(&self) -> u64 {
        self.sources.iter().map(|s| s.rows_read).sum()
    }

    /// Fully blank rows skipped.
    pub fn blank_rows(&self) -> u64 {
        self.sources.iter().map(|s| s.blank_rows).sum()
    }
}

/// The ingest stage: reads every source into the sink, keeping the rejects and what each source
/// gave.
pub fn run(input: Input<'_>, opts: &Options) -> Result<Ingested> {
    let Input {
        sources,
        progress,
        sink,
    } = input;
    let mut out = Ingested::default();
    for src in sources {
        let mut batches = |batch: Vec<Record>| sink(batch);
        let (_, rejects, summary) = read_source_with(src, opts, progress, Some(&mut batches))?;
        out.rejects.extend(rejects);
        out.sources.push(summary);
    }
    Ok(out)
}

/// Display name of a source file in `source` fields and rejects: the file name, so outputs do
/// not depend on where the inputs were on the machine that ran them.
fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Receives the records of a source in batches, in file order, as they are converted. Streaming
/// imports hand each batch on (to disk when the input is large) instead of holding the file.
pub type BatchSink<'s> = &'s mut (dyn FnMut(Vec<Record>) -> Result<()> + Send + Sync);

/// Reads one source into records and rejects.
pub fn read_source(
    src: &Source,
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Vec<Record>, Vec<Reject>, SourceSummary)> {
    read_source_with(src, opts, progress, None)
}

/// [`read_source`], handing the records to `sink` batch by batch when one is given (the returned
/// record list is then empty). The rejects are returned either way.
pub fn read_source_with(
    src: &Source,
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
    sink: Option<BatchSink>,
) -> Result<(Vec<Record>, Vec<Reject>, SourceSummary)> {
    let path = &src.path;
    if !path.exists() {
        return Err(Error::Usage(format!(
            "input `{}` does not exist",
            path.display()
        )));
    }
    let format = detect_format(path, src.format)?;
    let mut summary = SourceSummary {
        path: display_name(path),
        format: Some(format),
        ..Default::default()
    };
    let conv = Converter {
        src,
        opts,
        file: display_name(path),
    };
    // Three things overlap: reading (one thread: parsing is sequential), converting (all
    // cores) and filing (the caller's sink, which packs and keeps the records: one thread, in
    // file order). The reader hands batches to a converter thread and the converted records to
    // a filer thread, and keeps only the rejects' bookkeeping, in order. The mapper lives inside
    // the scope, so even a panic while reading drops its ends of the channels and lets the
    // other threads stop.
    let (mapper, read, sha256, filed) = std::thread::scope(|scope| {
        // The file's fingerprint is taken beside the parse, not before it: hashing an 800 MB
        // export is two seconds of one core, which the reader and converters leave free.
        let sha256 = scope.spawn(|| crate::fsutil::sha256_file(path));
        let (to, batches) = std::sync::mpsc::sync_channel::<Option<ToConvert>>(1);
        let (done, from) = std::sync::mpsc::sync_channel(2);
        let conv = &conv;
        scope.spawn(move || {
            use rayon::prelude::*;
            // `None` (or a hung-up reader) ends the thread
            while let Ok(Some((pending, plan))) = batches.recv() {
                let results: Vec<(u64, Converted)> = pending
                    .into_par_iter()
                    .map(|(row, raw)| (row, conv.convert_row(&plan, row, raw)))
                    .collect();
                if done.send(results).is_err() {
                    break;
                }
            }
        });
        let (filer, filer_thread) = match sink {
            Some(sink) => {
                let (filer, batches) = std::sync::mpsc::sync_channel::<Vec<Record>>(1);
                // A failing sink ends the thread, which hangs up: the mapper stops converting.
                let thread = scope.spawn(move || batches.iter().try_for_each(&mut *sink));
                (Some(filer), Some(thread))
            }
            None => (None, None),
        };
        let mut mapper = Mapper::new(src, path, progress, filer, Pipe { to, from });
        let read = match format {
            Format::Csv => read_csv(path, src.encoding, &mut mapper).map(Some),
            Format::Xlsx | Format::Xls => {
                read_workbook(path, src.sheet.as_deref(), &mut mapper).map(|()| None)
            }
            Format::Jsonl => read_jsonl(path, &mut mapper).map(|()| None),
            Format::Parquet => read_parquet(path, &mut mapper).map(|()| None),
        };
        mapper.finish();
        let filed = filer_thread.map_or(Ok(()), |t| {
            t.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        let sha256 = sha256
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("the hashing thread died".into())));
        (mapper, read, sha256, filed)
    });
    if let Some(encoding) = read? {
        summary.encoding = Some(encoding);
    }
    summary.sha256 = sha256?;
    filed?;
    if mapper.plan.is_none() {
        return Err(Error::BadInput {
            path: path.clone(),
            message: "the file is empty: no header row found".into(),
        });
    }
    summary.rows_read = mapper.rows_read;
    summary.blank_rows = mapper.blank_rows;
    summary.accepted = mapper.accepted;
    summary.rejected = mapper.rejects.len() as u64;
    summary.mapping = mapper.mapping.clone();
    summary.notes = mapper.notes.clone();
    Ok((mapper.records, mapper.rejects, summary))
}

/// The paths of every input, for error messages.
pub fn input_paths(sources: &[Source]) -> Vec<PathBuf> {
    sources.iter().map(|s| s.path.clone()).collect()
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    fn src(path: &Path) -> Source {
        Source {
            path: path.to_path_buf(),
            ..Default::default()
        }
    }

    fn ingest(path: &Path) -> (Vec<Record>, Vec<Reject>, SourceSummary) {
        read_source(&src(path), &Options::default(), &|_| {}).unwrap()
    }

    #[test]
    fn gbk_csv_is_detected_and_decoded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gbk.csv");
        let text = "编号,留言时间,留言详情\n1,2019/2/28 11:25:05,小区噪音扰民严重\n";
        let (bytes, _, _) = encoding_rs::GBK.encode(text);
        std::fs::write(&p, &bytes).unwrap();
        let (recs, rej, sum) = ingest(&p);
        assert!(rej.is_empty(), "{rej:?}");
        assert_eq!(sum.encoding.as_deref(), Some("gb18030"));
        assert_eq!(recs[0].content, "小区噪音扰民严重");
    }

    #[test]
    fn bom_and_padding() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bom.csv");
        std::fs::write(
            &p,
            "\u{feff}留言编号,留言时间,留言详情,点赞数\n7,2019-02-28,\"\n\t\t\t内容\n\t\t\t\",3\n",
        )
        .unwrap();
        let (recs, rej, sum) = ingest(&p);
        assert!(rej.is_empty(), "{rej:?}");
        assert_eq!(sum.encoding.as_deref(), Some("utf-8-bom"));
        assert_eq!(recs[0].content, "内容");
        assert_eq!(recs[0].likes, Some(3));
        assert_eq!(recs[0].channel, Channel::MessageBoard);
        assert_eq!(recs[0].source(), "bom.csv:2");
    }

    #[test]
    fn bad_rows_are_rejected_with_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.csv");
        std::fs::write(
            &p,
            "编号,日期,内容,人数\n1,2019-01-01,ok,\n2,someday,text,\n3,2019-01-02,   ,\n4,2019-01-02,x,0\n5,2019-01-02,x,2,extra\n,,,\n",
        )
        .unwrap();
        let (recs, rej, sum) = ingest(&p);
        assert_eq!(recs.len(), 1);
        assert_eq!(rej.len(), 4);
        assert_eq!(sum.blank_rows, 1);
        assert_eq!(sum.rows_read, 5);
        assert_eq!(rej[0].row, 3);
        assert_eq!(rej[0].column, "日期");
        assert!(rej[0].reason.contains("not a date"), "{}", rej[0].reason);
        assert!(rej[1].reason.contains("content is empty"));
        assert!(rej[2].reason.contains("headcount is 0"));
        assert!(rej[3].reason.contains("5 fields"));
    }

    #[test]
    fn missing_required_column_names_file_and_aliases() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.csv");
        std::fs::write(&p, "编号,标题\n1,x\n").unwrap();
        let err = read_source(&src(&p), &Options::default(), &|_| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m.csv") && err.contains("received_at") && err.contains("留言时间"),
            "{err}"
        );
    }

    #[test]
    fn fake_xls_and_fake_xlsx() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fake.xlsx");
        std::fs::write(&p, "编号,日期,内容\n").unwrap();
        let err = detect_format(&p, None).unwrap_err().to_string();
        assert!(err.contains("not a xlsx"), "{err}");
    }

    /// 20,000 CSV rows (three batches) with rows of invalid UTF-8 and blank rows among them,
    /// declared UTF-8 (sniffed, the invalid bytes would make the file GB18030).
    fn mixed_csv(dir: &Path) -> Source {
        let p = dir.join("many.csv");
        let mut bytes = b"id,received_at,content\n".to_vec();
        for i in 0..20_000u32 {
            match i % 1000 {
                7 => {
                    bytes.extend_from_slice(format!("{i},2019-01-01,bad").as_bytes());
                    bytes.extend_from_slice(b"\xff\n");
                }
                8 => bytes.extend_from_slice(b",,\n"),
                _ => bytes.extend_from_slice(format!("{i},2019-01-01,text {i}\n").as_bytes()),
            }
        }
        std::fs::write(&p, bytes).unwrap();
        Source {
            encoding: Some(Encoding::Utf8),
            ..src(&p)
        }
    }

    #[test]
    fn a_sink_gets_every_record_in_file_order_and_rejects_stay_in_row_order() {
        let dir = tempfile::tempdir().unwrap();
        let source = mixed_csv(dir.path());
        let seen = std::sync::Mutex::new(Vec::new());
        let batches = std::sync::atomic::AtomicUsize::new(0);
        let mut sink = |batch: Vec<Record>| -> Result<()> {
            batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            seen.lock()
                .unwrap()
                .extend(batch.into_iter().map(|r| r.id.to_string()));
            Ok(())
        };
        let progressed = std::sync::atomic::AtomicU64::new(0);
        let progress = |n: u64| {
            progressed.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        };
        let (held, rej, sum) =
            read_source_with(&source, &Options::default(), &progress, Some(&mut sink)).unwrap();
        assert!(held.is_empty());
        let seen = seen.into_inner().unwrap();
        let expected: Vec<String> = (0..20_000u32)
            .filter(|i| !matches!(i % 1000, 7 | 8))
            .map(|i| i.to_string())
            .collect();
        assert!(
            seen == expected,
            "{} records arrived, {} expected",
            seen.len(),
            expected.len()
        );
        assert!(batches.into_inner() >= 3);
        assert_eq!(
            (sum.rows_read, sum.blank_rows, sum.accepted),
            (19_980, 20, 19_960)
        );
        assert_eq!(rej.len(), 20);
        // row 1 is the header: data row i is row i + 2
        let rows: Vec<u64> = rej.iter().map(|r| r.row).collect();
        assert_eq!(rows, (0..20).map(|k| k * 1000 + 9).collect::<Vec<u64>>());
        assert!(
            rej[0].reason.contains("column 3 is not valid utf-8"),
            "{:?}",
            rej[0]
        );
        assert_eq!((rej[0].column.as_str(), rej[0].id.as_str()), ("", ""));
        assert_eq!(progressed.into_inner(), 10_000);
    }

    #[test]
    fn a_failing_sink_fails_the_read_with_its_own_error() {
        let dir = tempfile::tempdir().unwrap();
        let source = mixed_csv(dir.path());
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let mut sink = |_batch: Vec<Record>| -> Result<()> {
            if calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 1 {
                return Err(Error::Usage("the disk is full".into()));
            }
            Ok(())
        };
        let err =
            read_source_with(&source, &Options::default(), &|_| {}, Some(&mut sink)).unwrap_err();
        assert_eq!(
            err.to_string(),
            Error::Usage("the disk is full".into()).to_string()
        );
        // the filer stopped at the failure: no batch after it reached the sink
        assert_eq!(calls.into_inner(), 2);
    }

    #[test]
    fn jsonl_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        std::fs::write(&p, "{\"id\":1,\"received_at\":\"2019-01-01\",\"content\":\"a\",\"truth_group\":\"g\"}\nnot json\n\n{\"id\":2,\"received_at\":\"2019-01-01\",\"content\":\"b\"}\n").unwrap();
        let (recs, rej, sum) = ingest(&p);
        assert_eq!(recs.len(), 2);
        assert_eq!(rej.len(), 1);
        assert_eq!(sum.blank_rows, 1);
        assert_eq!(recs[0].extra_value("truth_group").as_deref(), Some("g"));
    }
}
