//! The header decides which column feeds which field ([`Plan`]); the [`Mapper`] then batches the
//! reader's rows for conversion on all cores and files each as a record or a reject, in order.

use std::collections::BTreeMap;
use std::path::Path;

use super::{display_name, Cell, Reject, RejectKind, RowSink, Source};
use crate::error::{Error, Result};
use crate::normalize::clean_label;
use crate::schema::{self, Channel, Field, Record};

/// Which column index feeds which field, decided once from the header.
pub(super) struct Plan {
    pub(super) fields: BTreeMap<Field, usize>,
    /// Unmapped columns (index, header), kept in `extra`.
    pub(super) extra: Vec<(usize, String)>,
    pub(super) headers: Vec<String>,
    pub(super) channel_default: Channel,
}

pub(super) struct Mapper<'a> {
    src: &'a Source,
    path: &'a Path,
    file: String,
    progress: &'a (dyn Fn(u64) + Sync),
    pub(super) plan: Option<std::sync::Arc<Plan>>,
    pub(super) records: Vec<Record>,
    pub(super) rejects: Vec<Reject>,
    pub(super) rows_read: u64,
    pub(super) blank_rows: u64,
    pub(super) mapping: Vec<(String, String)>,
    pub(super) notes: Vec<String>,
    /// Rows waiting to be converted in parallel.
    pending: RawBatch,
    /// Rows converted into records so far.
    pub(super) accepted: u64,
    /// Where converted batches go instead of `records`, when streaming: the thread that hands
    /// them to the caller's sink ([`super::read_source_with`]).
    filer: Option<std::sync::mpsc::SyncSender<Vec<Record>>>,
    /// The filer stopped (its sink failed, e.g. the disk is full): reading stops converting.
    filer_gone: bool,
    /// The channels to and from the converter thread.
    pipe: Pipe,
    /// Batches sent to the converter and not yet filed.
    inflight: usize,
}

/// One data row as its reader gave it.
pub(super) enum Raw {
    /// Cells the reader made (workbooks, JSON lines, Parquet).
    Cells(Vec<Cell>),
    /// A CSV record with the file's encoding (named when a field is not valid text). The
    /// converters make it cells: checking and copying every field on the reader's one thread
    /// was half of that thread's work, and the reader is the import's one sequential part.
    Csv(csv::ByteRecord, &'static str),
    /// A JSON line and the header's keys: parsed by the converters, for the same reason.
    Json(Vec<u8>, std::sync::Arc<[String]>),
}

/// What a row became.
pub(super) enum Converted {
    Record(Record),
    /// Rejected at `column` for `reason`; `id` is the row's raw id, shortened.
    Rejected {
        column: String,
        reason: String,
        id: String,
    },
    /// The row is not readable text (no column, no id).
    Broken(String),
    /// Every cell is blank: counted, not read.
    Blank,
}

/// A batch of raw rows as the reader produced them, with their row numbers.
pub(super) type RawBatch = Vec<(u64, Raw)>;

/// A batch on its way to the converter, with the plan to convert it by.
pub(super) type ToConvert = (RawBatch, std::sync::Arc<Plan>);

/// The two ends of the channel pair to the converter thread (`None` sent = stop).
pub(super) struct Pipe {
    pub(super) to: std::sync::mpsc::SyncSender<Option<ToConvert>>,
    pub(super) from: std::sync::mpsc::Receiver<Vec<(u64, Converted)>>,
}

/// Rows converted per parallel batch: large enough to keep both cores busy, small enough to keep
/// the raw cells of a batch cheap in memory.
const BATCH: usize = 8192;

impl<'a> Mapper<'a> {
    pub(super) fn new(
        src: &'a Source,
        path: &'a Path,
        progress: &'a (dyn Fn(u64) + Sync),
        filer: Option<std::sync::mpsc::SyncSender<Vec<Record>>>,
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
            filer,
            filer_gone: false,
            pipe,
            inflight: 0,
        }
    }

    fn push(&mut self, row: u64, raw: Raw) {
        self.pending.push((row, raw));
        if self.pending.len() >= BATCH {
            self.flush();
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
        if self.filer_gone {
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

    /// Files everything, stops the converter thread and lets the filer finish.
    pub(super) fn finish(&mut self) {
        self.drain();
        let _ = self.pipe.to.send(None);
        self.filer = None;
    }

    /// Files the next converted batch; false when the converter is gone.
    fn receive(&mut self) -> bool {
        match self.pipe.from.recv() {
            Ok(results) => {
                self.inflight -= 1;
                self.file_batch(results);
                true
            }
            Err(_) => {
                self.inflight = 0;
                false
            }
        }
    }

    /// Counts a row read (not blank), reporting progress every 10,000.
    fn count_read(&mut self) {
        self.rows_read += 1;
        if self.rows_read % 10_000 == 0 {
            (self.progress)(10_000);
        }
    }

    /// Files each converted row as a record or a reject, in row order.
    fn file_batch(&mut self, results: Vec<(u64, Converted)>) {
        let mut batch = Vec::with_capacity(results.len());
        for (row, result) in results {
            match result {
                Converted::Blank => self.blank_rows += 1,
                Converted::Record(r) => {
                    self.count_read();
                    batch.push(r);
                }
                Converted::Rejected { column, reason, id } => {
                    self.count_read();
                    self.reject(row, &column, &id, reason);
                }
                Converted::Broken(reason) => {
                    self.count_read();
                    self.reject(row, "", "", reason);
                }
            }
        }
        if self.filer_gone {
            return;
        }
        self.accepted += batch.len() as u64;
        match &self.filer {
            Some(filer) => {
                if filer.send(batch).is_err() {
                    self.filer_gone = true;
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
            kind: RejectKind::Reject,
            id: id.to_string(),
        });
    }
}

impl RowSink for Mapper<'_> {
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
        let channel_default = match self.src.channel {
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
        self.push(row, Raw::Cells(cells));
    }

    fn csv_record(&mut self, row: u64, record: csv::ByteRecord, encoding: &'static str) {
        self.push(row, Raw::Csv(record, encoding));
    }

    fn json_line(&mut self, line_number: u64, line: Vec<u8>, keys: std::sync::Arc<[String]>) {
        self.push(line_number, Raw::Json(line, keys));
    }

    fn blank(&mut self, n: u64) {
        self.blank_rows += n;
    }

    fn broken(&mut self, row: u64, reason: String) {
        // rejects stay in row order: everything before this row is filed first
        self.drain();
        self.count_read();
        self.reject(row, "", "", reason);
    }
}
