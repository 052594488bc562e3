//! ingest: reads petition exports (CSV in UTF-8 / UTF-8+BOM / GBK / GB18030, Excel `.xlsx` and
//! `.xls`, JSONL, Parquet) and maps their columns onto the canonical [`Record`].
//!
//! Nothing is lost and nothing is silent: every data row becomes a record, a reject (with file,
//! row, column and a reason a person can act on) or a duplicate; fully blank rows (real exports
//! have tens of thousands after the data) are counted and skipped. The format is detected from
//! the bytes, not the file name: a `.xls` whose content is a zip is read as xlsx.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::config::SourceConfig;
use crate::error::{Error, Result};
use crate::normalize::{self, clean_label, clean_text};
use crate::schema::{self, Channel, Field, Record, Satisfaction};

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

/// Detected file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
    Xls,
    Jsonl,
    Parquet,
}

/// Why a row was not stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reject {
    pub file: String,
    /// Row as a spreadsheet shows it (the header is row 1); line number for JSONL.
    pub row: u64,
    pub column: String,
    pub reason: String,
    /// `reject` or `duplicate`.
    pub kind: String,
    pub id: String,
}

/// What one source gave.
#[derive(Debug, Clone, Default, Serialize)]
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

/// Everything an ingest produced.
#[derive(Debug, Default)]
pub struct Ingested {
    pub records: Vec<Record>,
    pub rejects: Vec<Reject>,
    pub sources: Vec<SourceSummary>,
}

/// Reads one source, calling `sink` with the header row once and then every data row.
trait RowSink {
    fn header(&mut self, header: Vec<String>) -> Result<()>;
    /// `row` = 1-based spreadsheet row (header is row 1) or JSONL line number.
    fn row(&mut self, row: u64, cells: Vec<Cell>);
    /// A row the reader itself could not decode.
    fn broken(&mut self, row: u64, reason: String);
    /// `n` fully empty rows a sparse format skipped without listing them.
    fn blank(&mut self, n: u64);
}

/// Detects the format of a file from its first bytes (and the extension only for text formats).
pub fn detect_format(path: &Path, declared: Option<&str>) -> Result<Format> {
    if let Some(d) = declared.filter(|d| *d != "auto") {
        return match d.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            "xls" => Ok(Format::Xls),
            "jsonl" | "ndjson" => Ok(Format::Jsonl),
            "parquet" => Ok(Format::Parquet),
            other => Err(Error::BadInput {
                path: path.to_path_buf(),
                message: format!("unknown format `{other}` (auto, csv, xlsx, jsonl, parquet)"),
            }),
        };
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

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Imports every source of a pipeline.
pub fn run(
    sources: &[SourceConfig],
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Ingested> {
    let mut out = Ingested::default();
    for src in sources {
        let (records, rejects, summary) = read_source(src, opts, progress)?;
        out.records.extend(records);
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
    src: &SourceConfig,
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Vec<Record>, Vec<Reject>, SourceSummary)> {
    read_source_with(src, opts, progress, None)
}

/// [`read_source`], handing the records to `sink` batch by batch when one is given (the returned
/// record list is then empty). The rejects are returned either way.
pub fn read_source_with(
    src: &SourceConfig,
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
    let format = detect_format(path, src.format.as_deref())?;
    let mut summary = SourceSummary {
        path: display_name(path),
        sha256: crate::fsutil::sha256_file(path)?,
        format: Some(format),
        ..Default::default()
    };
    let conv = Converter {
        src,
        opts,
        file: display_name(path),
    };
    // Reading (one thread: parsing is sequential) overlaps converting (all cores): the reader
    // hands batches to a converter thread and files what comes back, in order. The mapper lives
    // inside the scope, so even a panic while reading drops its end of the channel and lets the
    // converter thread stop.
    let (mut mapper, read) = std::thread::scope(|scope| {
        let (to, batches) = std::sync::mpsc::sync_channel::<Option<ToConvert>>(1);
        let (done, from) = std::sync::mpsc::sync_channel(2);
        let conv = &conv;
        scope.spawn(move || {
            use rayon::prelude::*;
            // `None` (or a hung-up reader) ends the thread
            while let Ok(Some((pending, plan))) = batches.recv() {
                let results: Vec<Converted> = pending
                    .par_iter()
                    .map(|(row, cells)| conv.check_and_convert(&plan, *row, cells))
                    .collect();
                if done.send((pending, plan, results)).is_err() {
                    break;
                }
            }
        });
        let mut mapper = Mapper::new(src, path, progress, sink, Pipe { to, from });
        let read = match format {
            Format::Csv => read_csv(path, src.encoding.as_deref(), &mut mapper).map(Some),
            Format::Xlsx | Format::Xls => {
                read_workbook(path, src.sheet.as_deref(), &mut mapper).map(|()| None)
            }
            Format::Jsonl => read_jsonl(path, &mut mapper).map(|()| None),
            Format::Parquet => read_parquet(path, &mut mapper).map(|()| None),
        };
        mapper.finish();
        (mapper, read)
    });
    if let Some(encoding) = read? {
        summary.encoding = Some(encoding);
    }
    if let Some(e) = mapper.sink_error.take() {
        return Err(e);
    }
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

// ---------------------------------------------------------------------------------------------
// Column mapping and row conversion

/// Which column index feeds which field, decided once from the header.
struct Plan {
    fields: BTreeMap<Field, usize>,
    /// Unmapped columns (index, header), kept in `extra`.
    extra: Vec<(usize, String)>,
    headers: Vec<String>,
    channel_default: Channel,
}

struct Mapper<'a, 's> {
    src: &'a SourceConfig,
    path: &'a Path,
    file: String,
    progress: &'a (dyn Fn(u64) + Sync),
    plan: Option<std::sync::Arc<Plan>>,
    records: Vec<Record>,
    rejects: Vec<Reject>,
    rows_read: u64,
    blank_rows: u64,
    mapping: Vec<(String, String)>,
    notes: Vec<String>,
    /// Rows waiting to be converted in parallel.
    pending: Vec<(u64, Vec<Cell>)>,
    /// Rows converted into records so far.
    accepted: u64,
    /// Where converted batches go instead of `records`, when streaming.
    sink: Option<BatchSink<'s>>,
    /// The first error the sink returned: reading stops converting after it.
    sink_error: Option<Error>,
    /// The channels to and from the converter thread.
    pipe: Pipe,
    /// Batches sent to the converter and not yet filed.
    inflight: usize,
}

/// A row converted, or why it is rejected (column, reason).
type Converted = std::result::Result<Record, (String, String)>;
/// A batch of raw rows as the reader produced them.
type RawBatch = Vec<(u64, Vec<Cell>)>;

/// A batch on its way to the converter, with the plan to convert it by.
type ToConvert = (RawBatch, std::sync::Arc<Plan>);

/// The two ends of the channel pair to the converter thread (`None` sent = stop).
struct Pipe {
    to: std::sync::mpsc::SyncSender<Option<ToConvert>>,
    from: std::sync::mpsc::Receiver<(RawBatch, std::sync::Arc<Plan>, Vec<Converted>)>,
}

/// Rows converted per parallel batch: large enough to keep both cores busy, small enough to keep
/// the raw cells of a batch cheap in memory.
const BATCH: usize = 8192;

impl<'a, 's> Mapper<'a, 's> {
    fn new(
        src: &'a SourceConfig,
        path: &'a Path,
        progress: &'a (dyn Fn(u64) + Sync),
        sink: Option<BatchSink<'s>>,
        pipe: Pipe,
    ) -> Self {
        Mapper {
            src,
            path,
            file: display_name(path),
            progress,
            plan: None,
            records: Vec::new(),
            rejects: Vec::new(),
            rows_read: 0,
            blank_rows: 0,
            mapping: Vec::new(),
            notes: Vec::new(),
            pending: Vec::new(),
            accepted: 0,
            sink,
            sink_error: None,
            pipe,
            inflight: 0,
        }
    }

    /// Hands the pending rows to the converter thread and files every batch that came back, in
    /// order. At most two batches are out at a time, so reading the next rows overlaps
    /// converting the last ones without holding many in memory.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let Some(plan) = self.plan.clone() else {
            return;
        };
        let pending = std::mem::take(&mut self.pending);
        if self.sink_error.is_some() {
            // The run is failing (e.g. the disk is full); converting more rows is wasted work.
            return;
        }
        // Sending only fails when the converter thread is gone (it panicked); the scope it runs
        // in surfaces that panic.
        if self.pipe.to.send(Some((pending, plan))).is_ok() {
            self.inflight += 1;
        }
        while self.inflight > 1 && self.receive() {}
    }

    /// Files every row read so far, the pending ones included.
    fn drain(&mut self) {
        self.flush();
        while self.inflight > 0 && self.receive() {}
    }

    /// Files everything and stops the converter thread.
    fn finish(&mut self) {
        self.drain();
        let _ = self.pipe.to.send(None);
    }

    /// Files the next converted batch; false when the converter is gone.
    fn receive(&mut self) -> bool {
        match self.pipe.from.recv() {
            Ok((pending, plan, results)) => {
                self.inflight -= 1;
                self.file_batch(&plan, pending, results);
                true
            }
            Err(_) => {
                self.inflight = 0;
                false
            }
        }
    }

    /// Files each converted row as a record or a reject, in row order.
    fn file_batch(&mut self, plan: &Plan, pending: Vec<(u64, Vec<Cell>)>, results: Vec<Converted>) {
        let mut batch = Vec::with_capacity(results.len());
        for ((row, cells), result) in pending.into_iter().zip(results) {
            match result {
                Ok(r) => batch.push(r),
                Err((column, reason)) => {
                    let id = plan
                        .fields
                        .get(&Field::Id)
                        .and_then(|&i| cells.get(i))
                        .map(|c| short(&c.text()))
                        .unwrap_or_default();
                    self.reject(row, &column, &id, reason);
                }
            }
        }
        if self.sink_error.is_some() {
            return;
        }
        self.accepted += batch.len() as u64;
        match self.sink.as_mut() {
            Some(sink) => {
                if let Err(e) = sink(batch) {
                    self.sink_error = Some(e);
                }
            }
            None => self.records.extend(batch),
        }
    }

    fn reject(&mut self, row: u64, column: &str, id: &str, reason: String) {
        self.rejects.push(Reject {
            file: self.file.clone(),
            row,
            column: column.to_string(),
            reason,
            kind: "reject".into(),
            id: id.to_string(),
        });
    }
}

/// The read-only half of the mapping: converts rows on the converter thread while the reader
/// goes on reading.
struct Converter<'a> {
    src: &'a SourceConfig,
    opts: &'a Options,
    file: String,
}

impl Converter<'_> {
    fn check_and_convert(
        &self,
        plan: &Plan,
        row: u64,
        cells: &[Cell],
    ) -> std::result::Result<Record, (String, String)> {
        let ncols = plan.headers.len();
        if cells.len() > ncols && cells[ncols..].iter().any(|c| !c.is_blank()) {
            return Err((
                format!("#{}", ncols + 1),
                format!(
                    "row has {} fields but the header has {}: a stray separator or an unclosed quote",
                    cells.len(),
                    ncols
                ),
            ));
        }
        self.convert(plan, row, cells)
    }

    fn convert(
        &self,
        plan: &Plan,
        row: u64,
        cells: &[Cell],
    ) -> std::result::Result<Record, (String, String)> {
        let get = |f: Field| -> Option<&Cell> { plan.fields.get(&f).and_then(|&i| cells.get(i)) };
        let col = |f: Field| -> String {
            plan.fields
                .get(&f)
                .map(|&i| plan.headers[i].clone())
                .unwrap_or_else(|| schema::spec(f).name.to_string())
        };
        let err = |f: Field, msg: String| (col(f), msg);
        let max = self.opts.max_cell_bytes;
        for (i, c) in cells.iter().enumerate() {
            if let Cell::Text(s) = c {
                if s.len() > max {
                    return Err((
                        plan.headers.get(i).cloned().unwrap_or_else(|| format!("#{}", i + 1)),
                        format!(
                            "cell is {} bytes, over the {}-byte limit (`[ingest] max_cell_bytes`); shorten it or raise the limit",
                            s.len(),
                            max
                        ),
                    ));
                }
            }
        }
        let text_of = |f: Field| -> Option<String> {
            get(f)
                .map(|c| clean_text(&c.text()))
                .filter(|s| !s.is_empty())
        };
        let label_of = |f: Field| -> Option<String> { get(f).and_then(|c| clean_label(&c.text())) };
        let date_of = |f: Field| -> std::result::Result<Option<NaiveDateTime>, (String, String)> {
            match get(f) {
                None | Some(Cell::Empty) => Ok(None),
                Some(Cell::DateTime(d)) => Ok(Some(*d)),
                Some(Cell::Number(v)) => normalize::excel_serial(*v)
                    .map(Some)
                    .ok_or_else(|| err(f, format!("`{v}` is not a date"))),
                Some(c) => {
                    let t = c.text();
                    if t.trim().is_empty() {
                        return Ok(None);
                    }
                    normalize::parse_datetime(&t).map(Some).ok_or_else(|| {
                        err(
                            f,
                            format!(
                                "`{}` is not a date (accepted: 2019-02-28, 2019/2/28 11:25:05, 2019年2月28日, Excel dates)",
                                short(&t)
                            ),
                        )
                    })
                }
            }
        };
        let count_of = |f: Field| -> std::result::Result<Option<u64>, (String, String)> {
            match get(f) {
                None => Ok(None),
                Some(c) if c.is_blank() => Ok(None),
                Some(c) => normalize::parse_count(&c.text()).map(Some).ok_or_else(|| {
                    err(
                        f,
                        format!("`{}` is not a whole number ≥ 0", short(&c.text())),
                    )
                }),
            }
        };

        let raw_id = label_of(Field::Id).ok_or_else(|| err(Field::Id, "id is empty".into()))?;
        let id = format!("{}{}", self.src.id_prefix.as_deref().unwrap_or(""), raw_id);
        let received_at = date_of(Field::ReceivedAt)?
            .ok_or_else(|| err(Field::ReceivedAt, "received date is empty".into()))?;
        let content = text_of(Field::Content)
            .ok_or_else(|| err(Field::Content, "content is empty after cleaning".into()))?;
        let title = text_of(Field::Title)
            .map(|t| t.replace('\n', " "))
            .unwrap_or_default();
        let channel = match label_of(Field::Channel) {
            Some(c) => Channel::parse(&c).ok_or_else(|| {
                err(
                    Field::Channel,
                    format!(
                        "unknown channel `{}` (来信, 来访, 网上信访, 来电/12345, 留言, 评论)",
                        short(&c)
                    ),
                )
            })?,
            None => plan.channel_default,
        };
        let mut region = [None, None, None];
        if let Some(r) = label_of(Field::Region) {
            region = normalize::parse_region(&r);
        }
        for (k, f) in [Field::Region1, Field::Region2, Field::Region3]
            .into_iter()
            .enumerate()
        {
            if let Some(v) = label_of(f) {
                region[k] = Some(v);
            }
        }
        let headcount = match count_of(Field::Headcount)? {
            None => 1,
            Some(0) => {
                return Err(err(
                    Field::Headcount,
                    "headcount is 0; a petition has at least one person".into(),
                ))
            }
            Some(n) => u32::try_from(n)
                .map_err(|_| err(Field::Headcount, format!("headcount {n} is too large")))?,
        };
        let to_u32 =
            |f: Field, v: Option<u64>| -> std::result::Result<Option<u32>, (String, String)> {
                v.map(|n| u32::try_from(n).map_err(|_| err(f, format!("{n} is too large"))))
                    .transpose()
            };
        let satisfaction = match label_of(Field::Satisfaction) {
            None => None,
            Some(s) => Some(Satisfaction::parse(&s).ok_or_else(|| {
                err(
                    Field::Satisfaction,
                    format!(
                        "unknown rating `{}` (满意, 基本满意, 不满意, 未评价)",
                        short(&s)
                    ),
                )
            })?),
        };
        let bypass = match label_of(Field::Bypass) {
            None => None,
            Some(s) => Some(
                normalize::parse_flag(&s)
                    .ok_or_else(|| err(Field::Bypass, format!("`{}` is not 是/否", short(&s))))?,
            ),
        };
        let extra = if plan.extra.is_empty() {
            None
        } else {
            let mut m = serde_json::Map::new();
            for (i, h) in &plan.extra {
                let v = cells
                    .get(*i)
                    .map(Cell::json)
                    .unwrap_or(serde_json::Value::Null);
                m.insert(h.clone(), v);
            }
            Some(serde_json::Value::Object(m).to_string())
        };
        Ok(Record {
            id,
            received_at,
            channel,
            title,
            content,
            region,
            petitioner: label_of(Field::Petitioner),
            headcount,
            category: label_of(Field::Category),
            responsible_unit: label_of(Field::ResponsibleUnit),
            status: label_of(Field::Status),
            accepted_at: date_of(Field::AcceptedAt)?,
            due_at: date_of(Field::DueAt)?,
            closed_at: date_of(Field::ClosedAt)?,
            satisfaction,
            reply: text_of(Field::Reply),
            replied_at: date_of(Field::RepliedAt)?,
            likes: to_u32(Field::Likes, count_of(Field::Likes)?)?,
            dislikes: to_u32(Field::Dislikes, count_of(Field::Dislikes)?)?,
            bypass,
            source: format!("{}:{}", self.file, row),
            extra,
        })
    }
}

fn short(s: &str) -> String {
    short_to(s, 40)
}

fn short_to(s: &str, max_chars: usize) -> String {
    let t: String = s.chars().take(max_chars).collect();
    if t.len() < s.len() {
        format!("{t}…")
    } else {
        t
    }
}

impl RowSink for Mapper<'_, '_> {
    fn header(&mut self, header: Vec<String>) -> Result<()> {
        let headers: Vec<String> = header
            .iter()
            .map(|h| clean_label(h).unwrap_or_default())
            .collect();
        let mut fields: BTreeMap<Field, usize> = BTreeMap::new();
        // Explicit overrides from the pipeline file win over aliases.
        for (name, header_name) in &self.src.columns {
            let f = schema::field_by_name(name).ok_or_else(|| Error::Config {
                path: self.path.to_path_buf(),
                message: format!("`columns.{name}` is not a canonical field"),
            })?;
            let idx = headers
                .iter()
                .position(|h| h == header_name.trim())
                .ok_or_else(|| Error::MissingColumn {
                    path: self.path.to_path_buf(),
                    field: name.clone(),
                    found: headers.join(", "),
                    accepted: format!("`{header_name}` (from the pipeline's `columns.{name}`)"),
                })?;
            fields.insert(f, idx);
        }
        let taken: Vec<usize> = fields.values().copied().collect();
        let mut extra = Vec::new();
        for (i, h) in headers.iter().enumerate() {
            if taken.contains(&i) {
                continue;
            }
            match schema::field_for_header(h) {
                Some(f) if !fields.contains_key(&f) => {
                    fields.insert(f, i);
                }
                _ => {
                    let name = if h.is_empty() {
                        format!("column_{}", i + 1)
                    } else {
                        h.clone()
                    };
                    extra.push((i, name));
                }
            }
        }
        for f in [Field::Id, Field::ReceivedAt, Field::Content] {
            if !fields.contains_key(&f) {
                let spec = schema::spec(f);
                return Err(Error::MissingColumn {
                    path: self.path.to_path_buf(),
                    field: spec.name.to_string(),
                    found: headers
                        .iter()
                        .map(|h| format!("`{h}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    accepted: spec
                        .aliases
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        let channel_default = match self.src.channel.as_deref().and_then(Channel::parse) {
            Some(c) => c,
            None if fields.contains_key(&Field::Channel) => Channel::Online,
            None if fields.contains_key(&Field::Likes) || fields.contains_key(&Field::Dislikes) => {
                self.notes.push("no channel column: rows counted as 网民留言 (message_board) because the file has like/dislike counts; set `channel` on the source to change".into());
                Channel::MessageBoard
            }
            None => {
                self.notes.push("no channel column: rows counted as 网上信访 (online); set `channel` on the source to change".into());
                Channel::Online
            }
        };
        let mut mapping: Vec<(usize, String, String)> = fields
            .iter()
            .map(|(f, &i)| (i, headers[i].clone(), schema::spec(*f).name.to_string()))
            .collect();
        mapping.extend(
            extra
                .iter()
                .map(|(i, h)| (*i, h.clone(), "extra".to_string())),
        );
        mapping.sort();
        self.mapping = mapping.into_iter().map(|(_, h, f)| (h, f)).collect();
        self.plan = Some(std::sync::Arc::new(Plan {
            fields,
            extra,
            headers,
            channel_default,
        }));
        Ok(())
    }

    fn row(&mut self, row: u64, cells: Vec<Cell>) {
        if cells.iter().all(Cell::is_blank) {
            self.blank_rows += 1;
            return;
        }
        self.rows_read += 1;
        if self.rows_read % 10_000 == 0 {
            (self.progress)(10_000);
        }
        self.pending.push((row, cells));
        if self.pending.len() >= BATCH {
            self.flush();
        }
    }

    fn blank(&mut self, n: u64) {
        self.blank_rows += n;
    }

    fn broken(&mut self, row: u64, reason: String) {
        // rejects stay in row order: everything before this row is filed first
        self.drain();
        self.rows_read += 1;
        self.reject(row, "", "", reason);
    }
}

// ---------------------------------------------------------------------------------------------
// Readers

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
    declared: Option<&str>,
) -> Result<(&'static encoding_rs::Encoding, bool, String)> {
    let mut f = File::open(path).map_err(Error::io("open", path))?;
    let mut head = vec![0u8; 1 << 20];
    let n = read_up_to(&mut f, &mut head).map_err(Error::io("read", path))?;
    head.truncate(n);
    let bom = head.starts_with(&[0xEF, 0xBB, 0xBF]);
    if let Some(d) = declared.filter(|d| *d != "auto") {
        let enc = match d.to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => encoding_rs::UTF_8,
            "gbk" | "gb2312" | "gb18030" | "cp936" => encoding_rs::GB18030,
            other => {
                return Err(Error::BadInput {
                    path: path.to_path_buf(),
                    message: format!("unknown encoding `{other}` (auto, utf-8, gbk, gb18030)"),
                })
            }
        };
        return Ok((enc, bom, d.to_ascii_lowercase()));
    }
    if bom {
        return Ok((encoding_rs::UTF_8, true, "utf-8-bom".into()));
    }
    let valid = match std::str::from_utf8(&head) {
        Ok(_) => true,
        // A multi-byte character cut by the 1 MiB sample is still UTF-8.
        Err(e) => e.error_len().is_none() && n == head.len() && e.valid_up_to() + 4 > n,
    };
    if valid {
        Ok((encoding_rs::UTF_8, false, "utf-8".into()))
    } else {
        Ok((encoding_rs::GB18030, false, "gb18030".into()))
    }
}

fn read_csv(path: &Path, declared: Option<&str>, sink: &mut dyn RowSink) -> Result<String> {
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
        let mut cells = Vec::with_capacity(rec.len());
        let mut bad = None;
        for (i, field) in rec.iter().enumerate() {
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
        if !header_done {
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
            continue;
        }
        if let Some(i) = bad {
            sink.broken(
                row,
                format!(
                    "column {} is not valid {name} text; re-export the file in one encoding",
                    i + 1
                ),
            );
            continue;
        }
        sink.row(row, cells);
    }
    Ok(name)
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

thread_local! {
    static CONTAINED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside a third-party parser whose panic [`contain`] turns into an
/// error; the binary's panic hook stays quiet then, so the user sees only that one error line.
pub fn panic_is_contained() -> bool {
    CONTAINED.get()
}

/// Runs a third-party parser (calamine, polars) over an untrusted file, turning a panic inside it
/// into an error naming the file: a corrupt export is that file's problem, not a crash of the
/// run. (calamine 0.31 indexes shared strings unchecked, so `<c t="s"><v>99</v></c>` in a
/// workbook with fewer strings panics.) Our own readers are not wrapped: the fuzz tests must see
/// their panics.
fn contain<T>(path: &Path, reader: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let outer = CONTAINED.replace(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CONTAINED.set(outer);
    result.unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown failure");
        Err(Error::BadInput {
            path: path.to_path_buf(),
            message: format!(
                "{reader} failed on this file ({}): it is corrupt; re-export it",
                one_line(why)
            ),
        })
    })
}

/// A third-party parser's message as one short line: they quote the offending input, which in a
/// corrupt file can be any length and hold line breaks, and an error is printed as one line.
fn one_line(msg: impl std::fmt::Display) -> String {
    let flat = msg
        .to_string()
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    short_to(&flat, 300)
}

/// Excel's last column (XFD): a cell beyond it exists only in a corrupt or hand-made file.
const EXCEL_MAX_COLUMNS: u32 = 16_384;

fn read_workbook(path: &Path, sheet: Option<&str>, sink: &mut dyn RowSink) -> Result<()> {
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
                .ok_or_else(|| bad(format!("no worksheet `{s}` (found: {})", names.join(", ")))),
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
            read_xlsx_cells(&mut wb, &name)
                .map_err(|e| bad(format!("cannot read worksheet `{name}`: {}", one_line(e))))
        })?;
        return emit_sparse(path, cells, sink);
    }
    let cells = contain(path, "the Excel reader", || {
        let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
            .map_err(|e| bad(format!("not a readable Excel workbook: {}", one_line(e))))?;
        let name = pick(wb.sheet_names())?;
        let range = wb
            .worksheet_range(&name)
            .map_err(|e| bad(format!("cannot read worksheet `{name}`: {}", one_line(e))))?;
        let (first_row, first_col) = range.start().unwrap_or((0, 0));
        Ok(range
            .cells()
            .filter(|(_, _, d)| !matches!(d, calamine::Data::Empty))
            .map(|(r, c, d)| (first_row + r as u32, first_col + c as u32, workbook_cell(d)))
            .collect())
    })?;
    emit_sparse(path, cells, sink)
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

fn read_jsonl(path: &Path, sink: &mut dyn RowSink) -> Result<()> {
    use std::io::BufRead;
    let f = File::open(path).map_err(Error::io("open", path))?;
    let mut reader = BufReader::with_capacity(1 << 20, f);
    // The header is the union of keys in first-seen order, which needs two passes; the first
    // pass only collects keys.
    let mut keys: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(Error::io("read", path))?;
        if n == 0 {
            break;
        }
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
    let mut lineno = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(Error::io("read", path))?;
        if n == 0 {
            break;
        }
        lineno += 1;
        let text = match std::str::from_utf8(&line) {
            Ok(t) => t.trim_start_matches('\u{feff}'),
            Err(_) => {
                sink.broken(lineno, "line is not valid UTF-8".into());
                continue;
            }
        };
        if text.trim().is_empty() {
            sink.row(lineno, vec![Cell::Empty]);
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(m)) => {
                let cells = keys
                    .iter()
                    .map(|k| match m.get(k) {
                        None | Some(serde_json::Value::Null) => Cell::Empty,
                        Some(serde_json::Value::String(s)) => Cell::Text(s.clone()),
                        Some(serde_json::Value::Number(v)) => {
                            Cell::Number(v.as_f64().unwrap_or(0.0))
                        }
                        Some(serde_json::Value::Bool(b)) => Cell::Bool(*b),
                        Some(v) => Cell::Text(v.to_string()),
                    })
                    .collect();
                sink.row(lineno, cells);
            }
            Ok(_) => sink.broken(lineno, "line is JSON but not an object".into()),
            Err(e) => sink.broken(lineno, format!("invalid JSON: {e}")),
        }
    }
    Ok(())
}

fn read_parquet(path: &Path, sink: &mut dyn RowSink) -> Result<()> {
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

/// Resolves duplicate ids deterministically, whatever order the rows came in: the most complete
/// version wins (most non-empty fields), then the latest reply/close/receive time, then the
/// greatest serialized form. The losers are reported as `duplicate` rejects naming the winner.
pub fn dedup(records: Vec<Record>) -> (Vec<Record>, Vec<Reject>) {
    let mut by_id: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for r in records {
        by_id.entry(r.id.clone()).or_default().push(r);
    }
    let mut kept = Vec::with_capacity(by_id.len());
    let mut dups = Vec::new();
    for (id, mut versions) in by_id {
        if versions.len() > 1 {
            versions.sort_by_cached_key(|r| std::cmp::Reverse(rank(r)));
        }
        let mut it = versions.into_iter();
        let winner = it.next().expect("at least one version");
        for loser in it {
            let (file, row) = split_source(&loser.source);
            let same = same_content(&loser, &winner);
            dups.push(Reject {
                file,
                row,
                column: "id".into(),
                reason: format!(
                    "duplicate id `{id}`: kept {} ({})",
                    winner.source,
                    if same {
                        "identical content"
                    } else {
                        "more complete or newer version"
                    }
                ),
                kind: "duplicate".into(),
                id: id.clone(),
            });
        }
        kept.push(winner);
    }
    (kept, dups)
}

fn same_content(a: &Record, b: &Record) -> bool {
    let mut a = a.clone();
    a.source = b.source.clone();
    &a == b
}

fn rank(
    r: &Record,
) -> (
    usize,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    NaiveDateTime,
    String,
) {
    let filled = [
        !r.title.is_empty(),
        r.region[0].is_some(),
        r.petitioner.is_some(),
        r.category.is_some(),
        r.responsible_unit.is_some(),
        r.status.is_some(),
        r.accepted_at.is_some(),
        r.due_at.is_some(),
        r.closed_at.is_some(),
        r.satisfaction.is_some(),
        r.reply.is_some(),
        r.replied_at.is_some(),
        r.likes.is_some(),
        r.dislikes.is_some(),
        r.bypass.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let mut key = r.clone();
    key.source.clear();
    (
        filled,
        r.closed_at.max(r.replied_at),
        r.accepted_at,
        r.received_at,
        serde_json::to_string(&key).unwrap_or_default() + &r.source,
    )
}

fn split_source(s: &str) -> (String, u64) {
    match s.rsplit_once(':') {
        Some((f, r)) => (f.to_string(), r.parse().unwrap_or(0)),
        None => (s.to_string(), 0),
    }
}

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
                r.kind.as_str(),
                crate::fsutil::csv_safe(&r.id).as_ref(),
                crate::fsutil::csv_safe(&r.reason).as_ref(),
            ])?;
        }
        w.flush().map_err(Error::io("write", path))?;
    }
    crate::fsutil::write_atomic(path, &buf)
}

/// The paths of every input, for error messages.
pub fn input_paths(sources: &[SourceConfig]) -> Vec<PathBuf> {
    sources.iter().map(|s| s.path.clone()).collect()
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    fn src(path: &Path) -> SourceConfig {
        SourceConfig {
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
        assert_eq!(recs[0].source, "bom.csv:2");
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

    #[test]
    fn dedup_is_order_independent() {
        let mk = |src: &str, status: Option<&str>| Record {
            status: status.map(str::to_string),
            source: src.into(),
            ..crate::store::tests::rec("1")
        };
        let a = vec![mk("a:2", None), mk("a:3", Some("已办结"))];
        let b = vec![mk("a:3", Some("已办结")), mk("a:2", None)];
        let (ka, da) = dedup(a);
        let (kb, db) = dedup(b);
        assert_eq!(ka, kb);
        assert_eq!(da, db);
        assert_eq!(ka[0].status.as_deref(), Some("已办结"));
    }
}
