//! The canonical store: `DIR/store/petitions.parquet`, one row per petition, sorted by id.
//!
//! Written atomically (temp file + rename) so an interrupted run leaves the previous store
//! readable. Sorting by id makes the file byte-identical for the same set of records whatever
//! order the inputs listed them in.

mod dedup;

pub use dedup::dedup;

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime};
use polars::prelude::*;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::schema::{Channel, Cold, Id, Label, Labels, Record, Satisfaction, Text};

/// File name of the store inside `DIR/store/`.
pub const FILE: &str = "petitions.parquet";

/// Path of the store file for a run folder.
pub fn path(out_dir: &Path) -> PathBuf {
    out_dir.join("store").join(FILE)
}

fn ms(t: &Option<NaiveDateTime>) -> Option<i64> {
    t.map(|t| t.and_utc().timestamp_millis())
}

fn from_ms(v: i64) -> NaiveDateTime {
    DateTime::from_timestamp_millis(v)
        .map(|d| d.naive_utc())
        .unwrap_or_default()
}

fn dt_col(name: &str, v: Vec<Option<i64>>) -> Result<Column> {
    Ok(Series::new(name.into(), v)
        .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?
        .into())
}

/// Builds the store's DataFrame from records (in the order given).
pub fn to_frame(records: &[Record]) -> Result<DataFrame> {
    frame(records, None)
}

/// [`to_frame`], with the records' [`Cold`] fields from `cold` (one per record) where given.
fn frame(records: &[Record], cold: Option<&[Option<Box<Cold>>]>) -> Result<DataFrame> {
    let s = |f: &dyn Fn(&Record) -> Option<&str>| -> Vec<Option<&str>> {
        records.iter().map(f).collect()
    };
    if cold.is_some_and(|c| c.len() != records.len()) {
        return Err(Error::Internal(
            "a row group's records and their replies differ in number".into(),
        ));
    }
    let cols: Vec<Column> = vec![
        Column::new(
            "id".into(),
            records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ),
        dt_col(
            "received_at",
            records.iter().map(|r| ms(&Some(r.received_at))).collect(),
        )?,
        Column::new(
            "channel".into(),
            records.iter().map(|r| r.channel.code()).collect::<Vec<_>>(),
        ),
        Column::new(
            "title".into(),
            records.iter().map(|r| r.title.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "content".into(),
            records
                .iter()
                .map(|r| r.content.as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new("region1".into(), s(&|r| r.region[0].as_deref())),
        Column::new("region2".into(), s(&|r| r.region[1].as_deref())),
        Column::new("region3".into(), s(&|r| r.region[2].as_deref())),
        Column::new("petitioner".into(), s(&|r| r.petitioner.as_deref())),
        Column::new(
            "headcount".into(),
            records.iter().map(|r| r.headcount).collect::<Vec<u32>>(),
        ),
        Column::new("category".into(), s(&|r| r.category.as_deref())),
        Column::new(
            "responsible_unit".into(),
            s(&|r| r.responsible_unit.as_deref()),
        ),
        Column::new("status".into(), s(&|r| r.status.as_deref())),
        dt_col(
            "accepted_at",
            records.iter().map(|r| ms(&r.accepted_at)).collect(),
        )?,
        dt_col("due_at", records.iter().map(|r| ms(&r.due_at)).collect())?,
        dt_col(
            "closed_at",
            records.iter().map(|r| ms(&r.closed_at)).collect(),
        )?,
        Column::new(
            "satisfaction".into(),
            s(&|r| r.satisfaction.map(|x| x.code())),
        ),
        Column::new(
            "reply".into(),
            cold_column(records, cold, |c| c.and_then(|c| c.reply.as_deref())),
        ),
        dt_col(
            "replied_at",
            records.iter().map(|r| ms(&r.replied_at)).collect(),
        )?,
        Column::new(
            "likes".into(),
            records
                .iter()
                .map(|r| r.likes)
                .collect::<Vec<Option<u32>>>(),
        ),
        Column::new(
            "dislikes".into(),
            records
                .iter()
                .map(|r| r.dislikes)
                .collect::<Vec<Option<u32>>>(),
        ),
        Column::new(
            "bypass".into(),
            records
                .iter()
                .map(|r| r.bypass)
                .collect::<Vec<Option<bool>>>(),
        ),
        Column::new(
            "source".into(),
            cold_column(records, cold, |c| c.map_or("", |c| c.source.as_str())),
        ),
        Column::new(
            "extra".into(),
            cold_column(records, cold, |c| c.and_then(|c| c.extra.as_deref())),
        ),
    ];
    Ok(DataFrame::new(records.len(), cols)?)
}

/// One column of a [`Cold`] field: from `cold` where the writer holds them (the run's records
/// no longer do, [`Upserted::take_cold`]), else from the records.
fn cold_column<'a, T>(
    records: &'a [Record],
    cold: Option<&'a [Option<Box<Cold>>]>,
    field: impl Fn(Option<&'a Cold>) -> T,
) -> Vec<T> {
    match cold {
        Some(c) => c.iter().map(|c| field(c.as_deref())).collect(),
        None => records.iter().map(|r| field(r.cold.as_deref())).collect(),
    }
}

/// The store's columns of a record's [`Cold`] fields, which no analysis reads.
const COLD_COLUMNS: [&str; 3] = ["reply", "source", "extra"];

/// Reads records back from a store DataFrame whose first row is row `first_row` of `path`;
/// without `cold`, the frame has no [`COLD_COLUMNS`] and the records no [`Cold`] fields.
fn from_frame(df: &DataFrame, path: &Path, first_row: usize, cold: bool) -> Result<Vec<Record>> {
    let n = df.height();
    let strs = |name: &str| -> Result<Vec<Option<String>>> {
        let c = df.column(name)?;
        Ok(c.str()?.iter().map(|v| v.map(str::to_string)).collect())
    };
    let times = |name: &str| -> Result<Vec<Option<NaiveDateTime>>> {
        let c = df.column(name)?.cast(&DataType::Int64)?;
        Ok(c.i64()?.iter().map(|v| v.map(from_ms)).collect())
    };
    // One allocation per distinct region level, category, unit or status of the slice.
    let mut seen = Labels::default();
    let mut labels = |name: &str| -> Result<Vec<Option<Label>>> {
        let c = df.column(name)?;
        Ok(c.str()?.iter().map(|v| v.map(|s| seen.get(s))).collect())
    };
    let u32s = |name: &str| -> Result<Vec<Option<u32>>> {
        let c = df.column(name)?.cast(&DataType::UInt32)?;
        Ok(c.u32()?.iter().collect())
    };
    let mut id = strs("id")?;
    let received = times("received_at")?;
    let channel = strs("channel")?;
    // Each column's texts are one buffer, as an import's are (`schema::pack`).
    let texts = |name: &str| -> Result<Vec<Text>> {
        let c = df.column(name)?;
        Ok(Text::pack_all(c.str()?.iter().map(|v| v.unwrap_or(""))))
    };
    let mut title = texts("title")?.into_iter();
    let mut content = texts("content")?.into_iter();
    let mut r1 = labels("region1")?;
    let mut r2 = labels("region2")?;
    let mut r3 = labels("region3")?;
    let mut petitioner = strs("petitioner")?;
    let headcount = u32s("headcount")?;
    let mut category = labels("category")?;
    let mut unit = labels("responsible_unit")?;
    let mut status = labels("status")?;
    let accepted = times("accepted_at")?;
    let due = times("due_at")?;
    let closed = times("closed_at")?;
    let sat = strs("satisfaction")?;
    let cold_strs = |name: &str| if cold { strs(name) } else { Ok(vec![None; n]) };
    let mut reply = cold_strs("reply")?;
    let replied = times("replied_at")?;
    let likes = u32s("likes")?;
    let dislikes = u32s("dislikes")?;
    let bypass: Vec<Option<bool>> = df.column("bypass")?.bool()?.iter().collect();
    let mut source = cold_strs("source")?;
    let mut extra = cold_strs("extra")?;
    let bad = |row: usize, column: &str| Error::BadCell {
        path: path.to_path_buf(),
        row: (first_row + row) as u64 + 1,
        column: column.to_string(),
        message: "corrupt store value".into(),
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(Record {
            id: id[i].take().map(Id::from).ok_or_else(|| bad(i, "id"))?,
            received_at: received[i].ok_or_else(|| bad(i, "received_at"))?,
            channel: channel[i]
                .as_deref()
                .and_then(Channel::parse)
                .ok_or_else(|| bad(i, "channel"))?,
            title: title.next().unwrap_or_default(),
            content: content.next().unwrap_or_default(),
            region: [r1[i].take(), r2[i].take(), r3[i].take()],
            petitioner: petitioner[i].take().map(Into::into),
            headcount: headcount[i].unwrap_or(1),
            category: category[i].take(),
            responsible_unit: unit[i].take(),
            status: status[i].take(),
            accepted_at: accepted[i],
            due_at: due[i],
            closed_at: closed[i],
            satisfaction: sat[i].as_deref().and_then(Satisfaction::parse),
            replied_at: replied[i],
            likes: likes[i],
            dislikes: dislikes[i],
            bypass: bypass[i],
            cold: Cold {
                reply: reply[i].take().map(Text::from),
                source: source[i].take().unwrap_or_default().into(),
                extra: extra[i].take().map(Text::from),
            }
            .boxed(),
        });
    }
    Ok(out)
}

/// Rows per Parquet row group: the store is written in slices of this size so only one slice
/// is ever held twice (as records and as columns).
pub const ROW_GROUP: usize = 100_000;

/// Writes the store for `out_dir`, sorted by id, atomically.
pub fn write(out_dir: &Path, records: &mut [Record]) -> Result<PathBuf> {
    records.sort_by(|a, b| a.id.cmp(&b.id));
    write_batches(out_dir, |emit| {
        for chunk in records.chunks(ROW_GROUP) {
            emit(chunk, None)?;
        }
        Ok(())
    })
}

/// Writes the store atomically from batches that `produce` emits, each sorted by id and following
/// the previous one in id order; one Parquet row group per batch. Batches of [`ROW_GROUP`] rows
/// (the last one shorter) give the same bytes as [`write`] of the same records, however they
/// were produced.
pub fn write_batches(
    out_dir: &Path,
    produce: impl FnOnce(
        &mut dyn FnMut(&[Record], Option<&[Option<Box<Cold>>]>) -> Result<()>,
    ) -> Result<()>,
) -> Result<PathBuf> {
    let p = path(out_dir);
    let schema = to_frame(&[])?.schema().as_ref().clone();
    // The file callback speaks io::Error; the typed error of `produce` is kept aside and
    // returned as itself.
    let mut failed: Option<Error> = None;
    let written = crate::fsutil::write_atomic_with(&p, |w| {
        let to_io = |e: PolarsError| std::io::Error::other(e.to_string());
        let mut writer = ParquetWriter::new(w)
            .with_compression(ParquetCompression::Snappy)
            .batched(&schema)
            .map_err(to_io)?;
        let mut emit = |batch: &[Record], cold: Option<&[Option<Box<Cold>>]>| -> Result<()> {
            writer.write_batch(&frame(batch, cold)?)?;
            Ok(())
        };
        if let Err(e) = produce(&mut emit) {
            let msg = e.to_string();
            failed = Some(e);
            return Err(std::io::Error::other(msg));
        }
        writer.finish().map_err(to_io)?;
        Ok(())
    });
    if let Some(e) = failed {
        return Err(e);
    }
    written?;
    Ok(p)
}

/// The ids of a store file in file order (one column read; cheap next to the records).
pub fn read_ids(p: &Path) -> Result<Vec<String>> {
    read_id_column(p, None)
}

/// The ids of rows `offset .. offset + len` of a store file (e.g. one row group's, with the
/// offsets from [`row_group_rows`]), in file (id) order.
pub fn read_ids_slice(p: &Path, offset: usize, len: usize) -> Result<Vec<String>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    read_id_column(p, Some((offset, len)))
}

/// The id column of a store file, or of the rows `(offset, len)` of it.
fn read_id_column(p: &Path, slice: Option<(usize, usize)>) -> Result<Vec<String>> {
    let f = std::fs::File::open(p).map_err(Error::io("open", p))?;
    let df = ParquetReader::new(f)
        .with_columns(Some(vec!["id".to_string()]))
        .with_slice(slice)
        .finish()
        .map_err(unreadable(p))?;
    let ids = df.column("id")?.str()?;
    Ok(ids
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

/// Rows `offset .. offset + len` of a store file (only the row groups holding them are decoded).
pub fn read_slice(p: &Path, offset: usize, len: usize) -> Result<Vec<Record>> {
    read_rows(p, offset, len, true)
}

/// [`read_slice`], the [`Cold`] fields read only with `cold` (their columns not decoded).
fn read_rows(p: &Path, offset: usize, len: usize, cold: bool) -> Result<Vec<Record>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let f = std::fs::File::open(p).map_err(Error::io("open", p))?;
    let mut reader = ParquetReader::new(f);
    if !cold {
        let hot: Vec<String> = reader
            .schema()
            .map_err(unreadable(p))?
            .iter_names()
            .filter(|c| !COLD_COLUMNS.contains(&c.as_str()))
            .map(|c| c.to_string())
            .collect();
        reader = reader.with_columns(Some(hot));
    }
    let df = reader
        .with_slice(Some((offset, len)))
        .finish()
        .map_err(unreadable(p))?;
    from_frame(&df, p, offset, cold)
}

/// Rows in each Parquet row group of a store file, in file order.
pub fn row_group_rows(p: &Path) -> Result<Vec<usize>> {
    let f = std::fs::File::open(p).map_err(Error::io("open", p))?;
    let mut reader = ParquetReader::new(f);
    let meta = reader.get_metadata().map_err(unreadable(p))?;
    Ok(meta.row_groups.iter().map(|rg| rg.num_rows()).collect())
}

/// The records of row group `k` of a store file: one partition of the Spark job's index map.
pub fn read_row_group(p: &Path, k: usize) -> Result<Vec<Record>> {
    let rows = row_group_rows(p)?;
    if rows.is_empty() && k == 0 {
        // an empty store: its one shard is empty
        return Ok(Vec::new());
    }
    let Some(&len) = rows.get(k) else {
        return Err(Error::Usage(format!(
            "the store `{}` has {} row groups (0 to {}), not a row group {k}",
            p.display(),
            rows.len(),
            rows.len().saturating_sub(1)
        )));
    };
    read_slice(p, rows[..k].iter().sum(), len)
}

/// Writes records as they are (no sorting) to a Parquet file: the spill format of a large
/// import, read back with [`read_file`].
pub fn write_part(p: &Path, records: &[Record]) -> Result<()> {
    let mut df = to_frame(records)?;
    let f = std::fs::File::create(p).map_err(Error::io("create", p))?;
    let mut w = std::io::BufWriter::new(f);
    ParquetWriter::new(&mut w)
        .with_compression(ParquetCompression::Lz4Raw)
        .finish(&mut df)?;
    use std::io::Write;
    w.flush().map_err(Error::io("write", p))?;
    Ok(())
}

/// Reads the store of a run folder; a missing store is an error naming the folder.
pub fn read(out_dir: &Path) -> Result<Vec<Record>> {
    read_file_to(&existing(out_dir)?, TextsTo::Heap)
}

/// [`read`] for the commands that analyse a store they did not import (`minqing run
/// --from-store`, `minqing brief`): each row group's contents moved to `texts` as soon as it
/// is read ([`crate::schema::contents_in_order`]), so that the store's contents are never all
/// on the heap, and no [`Cold`] fields (replies, source rows, unmapped columns), which no
/// analysis reads (at ten million generated petitions the brief held 9.78 GiB with them on the
/// heap and `groups.json` read whole, 4.81 GiB without; docs/scale.md).
pub fn read_to(out_dir: &Path, texts: &crate::textfile::TextFile) -> Result<Vec<Record>> {
    read_file_to(&existing(out_dir)?, TextsTo::Analysis(texts))
}

/// [`read`] for `minqing serve`, whose pages show a petition's reply and source row: each row
/// group's contents and [`Cold`] fields moved to `texts` as soon as it is read, so that the
/// server does not hold them on the heap (at a million petitions it held 1.42 GiB with them
/// there, 0.73 GiB without; docs/scale.md).
pub fn read_whole_to(out_dir: &Path, texts: &crate::textfile::TextFile) -> Result<Vec<Record>> {
    read_file_to(&existing(out_dir)?, TextsTo::Whole(texts))
}

/// Where a store read puts the records' texts.
#[derive(Clone, Copy)]
enum TextsTo<'a> {
    /// Everything on the heap.
    Heap,
    /// The contents in the text file, no [`Cold`] fields ([`read_to`]).
    Analysis(&'a crate::textfile::TextFile),
    /// The contents and the [`Cold`] fields in the text file ([`read_whole_to`]).
    Whole(&'a crate::textfile::TextFile),
}

/// The store's path, or the error that says how to make one.
pub fn existing(out_dir: &Path) -> Result<PathBuf> {
    let p = path(out_dir);
    if !p.exists() {
        return Err(Error::Usage(format!(
            "no store at `{}`: run `minqing run` or `minqing ingest --out {}` first",
            p.display(),
            out_dir.display()
        )));
    }
    Ok(p)
}

/// Reads records from a store Parquet file, one [`ROW_GROUP`] slice at a time: the whole file
/// as columns beside the records it becomes held a million petitions twice (2.6 GiB, where
/// the records alone are 1.6 GiB).
pub fn read_file(p: &Path) -> Result<Vec<Record>> {
    read_file_to(p, TextsTo::Heap)
}

fn read_file_to(p: &Path, into: TextsTo) -> Result<Vec<Record>> {
    let f = std::fs::File::open(p).map_err(Error::io("open", p))?;
    let n = ParquetReader::new(f).num_rows().map_err(unreadable(p))?;
    let mut out = Vec::with_capacity(n);
    let cold = !matches!(into, TextsTo::Analysis(_));
    for offset in (0..n).step_by(ROW_GROUP) {
        let mut slice = read_rows(p, offset, ROW_GROUP.min(n - offset), cold)?;
        if let TextsTo::Analysis(texts) | TextsTo::Whole(texts) = into {
            crate::schema::contents_in_order(&mut slice, texts)?;
        }
        if let TextsTo::Whole(texts) = into {
            crate::schema::cold_to(&mut slice, texts)?;
        }
        out.extend(slice);
    }
    Ok(out)
}

/// polars' own message does not say which file; the store may be damaged or replaced.
fn unreadable(p: &Path) -> impl FnOnce(PolarsError) -> Error + '_ {
    move |e| Error::BadInput {
        path: p.to_path_buf(),
        message: format!(
            "not a readable store: {e}; rerun with --fresh to rebuild it from the inputs"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Streaming upsert: how an import of any size becomes the store in bounded memory.
//
// The rows of this run's inputs are buffered by a [`Spill`]: in memory up to a budget, then in
// Parquet part files inside a temporary folder of the run folder. The final store is sorted by
// id and written in row groups of [`ROW_GROUP`] ids, so the sorted list of all ids (this run's
// and the existing store's) cuts the store into ranges of exactly one row group each. Every
// spilled row is routed to its range's file once; then each range is loaded alone, its duplicate
// ids resolved ([`dedup`]: all versions of an id share a range), merged with the
// existing store's rows of that range (a contiguous slice of the sorted file) and written.
// Memory: the ids, the in-memory budget and one range, whatever the size of the input.

/// Rows of a part file before it is written (≈ 70 MB of Parquet for typical petitions).
const PART_ROWS: usize = 100_000;

/// Rough in-memory size of a record, for the spill budget.
fn approx_bytes(r: &Record) -> usize {
    // Measured: a record takes about twice its text in memory (allocations, capacity slack).
    512 + 2
        * (r.id.len()
            + r.title.len()
            + r.content.len()
            + r.reply().map_or(0, str::len)
            + r.extra().map_or(0, str::len)
            + r.source().len())
}

/// This run's incoming rows, held in memory up to a budget and on disk beyond it.
pub struct Spill {
    out_dir: PathBuf,
    budget: usize,
    held: usize,
    /// The rows held in memory, as the batches they came in: one vector of every row, grown by
    /// doubling, held up to twice the rows' size while it grew (part of the store step's peak
    /// at 3M rows).
    mem: Vec<Vec<Record>>,
    pending: Vec<Record>,
    tmp: Option<tempfile::TempDir>,
    files: Vec<PathBuf>,
    /// The ids of the rows taken (inline: a heap string each was ~150 MiB at ten million).
    ids: Vec<Id>,
    /// Where the rows' texts go instead of the heap ([`Spill::texts_in`]).
    texts: Option<std::sync::Arc<crate::textfile::TextFile>>,
}

impl Spill {
    /// A spill for `out_dir` keeping at most about `budget` bytes of rows in memory
    /// (`usize::MAX`: never spill).
    pub fn new(out_dir: &Path, budget: usize) -> Spill {
        Spill {
            out_dir: out_dir.to_path_buf(),
            budget,
            held: 0,
            mem: Vec::new(),
            pending: Vec::new(),
            tmp: None,
            files: Vec::new(),
            ids: Vec::new(),
            texts: None,
        }
    }

    /// Writes the contents of the rows it takes to `file` and has the rows read them from there
    /// ([`crate::textfile`]): for the rows `minqing run` holds.
    pub fn texts_in(mut self, file: std::sync::Arc<crate::textfile::TextFile>) -> Spill {
        self.texts = Some(file);
        self
    }

    /// Takes a batch of rows.
    pub fn push(&mut self, mut batch: Vec<Record>) -> Result<()> {
        crate::schema::pack_to(&mut batch, self.texts.as_deref())?;
        let mut kept = Vec::with_capacity(batch.len());
        for r in batch {
            self.ids.push(r.id.clone());
            let b = approx_bytes(&r);
            if self.held + b <= self.budget {
                self.held += b;
                kept.push(r);
            } else {
                self.pending.push(r);
                if self.pending.len() >= PART_ROWS {
                    self.seal()?;
                }
            }
        }
        if !kept.is_empty() {
            kept.shrink_to_fit();
            self.mem.push(kept);
        }
        Ok(())
    }

    /// Rows taken so far.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no row was taken.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether some rows went to disk.
    pub fn spilled(&self) -> bool {
        !self.files.is_empty() || !self.pending.is_empty()
    }

    fn tmp_dir(&mut self) -> Result<PathBuf> {
        if self.tmp.is_none() {
            std::fs::create_dir_all(&self.out_dir)
                .map_err(Error::io("create folder", &self.out_dir))?;
            // `.minqing-tmp-` names are removed by the next run if this one is killed.
            let t = tempfile::Builder::new()
                .prefix(".minqing-tmp-spill-")
                .tempdir_in(&self.out_dir)
                .map_err(Error::io("create a temporary folder in", &self.out_dir))?;
            self.tmp = Some(t);
        }
        Ok(self.tmp.as_ref().expect("just set").path().to_path_buf())
    }

    fn seal(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let dir = self.tmp_dir()?;
        let p = dir.join(format!("part-{:05}.parquet", self.files.len()));
        write_part(&p, &self.pending)?;
        self.pending = Vec::new();
        self.files.push(p);
        Ok(())
    }
}

/// What [`upsert`] did.
#[derive(Debug, Default)]
pub struct Upserted {
    /// The whole store after the upsert, sorted by id (empty unless asked for; then not yet
    /// written: [`write_kept`]).
    pub records: Vec<Record>,
    /// Where each row group of the kept records ends.
    pub batches: Vec<usize>,
    /// Losing versions of repeated ids.
    pub duplicates: Vec<crate::ingest::Reject>,
    /// Distinct ids among this run's rows, and of those: new, changed, identical to the store.
    pub stored_rows: u64,
    pub new: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Records in the store after the upsert.
    pub total: u64,
}

impl Upserted {
    /// Moves every record's [`Cold`] fields out (the records keep `cold: None`: no reply, source
    /// or extra), in record order, for [`write_kept`]. Only for records that no stage after the
    /// import reads those fields of: `minqing run`'s analysis (the grouping, the index, the
    /// brief; the web pages and `minqing eval` read the store). The reply is half as long as
    /// the petition on average: at a million generated petitions ~0.3 GB the grouping no
    /// longer has beside it.
    pub fn take_cold(&mut self) -> Vec<Option<Box<Cold>>> {
        self.records.iter_mut().map(|r| r.cold.take()).collect()
    }
}

/// The existing store's rows, as a sorted id list and a way to load a contiguous slice.
enum Existing {
    None,
    File(PathBuf),
    /// A store not sorted by id (written by something else): loaded whole and sorted.
    Memory(Vec<Record>),
}

/// Writes the store of `out_dir` from this run's rows in `spill` plus (unless `fresh`) the
/// existing store, resolving repeated ids; returns the whole store when `keep` is set.
pub fn upsert(out_dir: &Path, mut spill: Spill, fresh: bool, keep: bool) -> Result<Upserted> {
    spill.seal()?;
    let texts = spill.texts.clone();
    let p = path(out_dir);
    let (existing, existing_ids) = if fresh || !p.exists() {
        (Existing::None, Vec::new())
    } else {
        let ids = read_ids(&p)?;
        if ids.windows(2).all(|w| w[0] < w[1]) {
            (Existing::File(p.clone()), ids)
        } else {
            let mut all = read_file(&p)?;
            all.sort_by(|a, b| a.id.cmp(&b.id));
            all.dedup_by(|a, b| a.id == b.id);
            let ids = all.iter().map(|r| r.id.to_string()).collect();
            (Existing::Memory(all), ids)
        }
    };

    // Range starts: every ROW_GROUP-th id of the sorted union of incoming and existing ids.
    let mut incoming_ids = std::mem::take(&mut spill.ids);
    incoming_ids.sort_unstable();
    incoming_ids.dedup();
    let mut starts: Vec<String> = Vec::new();
    let mut total = 0u64;
    {
        let (mut i, mut j) = (0, 0);
        loop {
            let next = match (
                incoming_ids.get(i).map(Id::as_str),
                existing_ids.get(j).map(String::as_str),
            ) {
                (None, None) => break,
                (Some(a), None) => {
                    i += 1;
                    a
                }
                (None, Some(b)) => {
                    j += 1;
                    b
                }
                (Some(a), Some(b)) => match a.cmp(b) {
                    std::cmp::Ordering::Less => {
                        i += 1;
                        a
                    }
                    std::cmp::Ordering::Greater => {
                        j += 1;
                        b
                    }
                    std::cmp::Ordering::Equal => {
                        i += 1;
                        j += 1;
                        a
                    }
                },
            };
            if total % ROW_GROUP as u64 == 0 {
                starts.push(next.to_string());
            }
            total += 1;
        }
    }
    let stored_rows = incoming_ids.len() as u64;
    drop(incoming_ids);
    let ranges = starts.len();
    let range_of = |id: &str| {
        starts
            .partition_point(|s| s.as_str() <= id)
            .saturating_sub(1)
    };

    // Route every incoming row to its range: in memory for the rows held there, through one
    // file per (range, part) for the spilled ones.
    let mem = route(std::mem::take(&mut spill.mem), ranges, &range_of);
    let mut routed: Vec<Vec<PathBuf>> = vec![Vec::new(); ranges];
    let parts = std::mem::take(&mut spill.files);
    for (pi, part) in parts.iter().enumerate() {
        let by_range = route(vec![read_file(part)?], ranges, &range_of);
        let dir = spill.tmp_dir()?;
        for (k, rows) in by_range.into_iter().enumerate() {
            if !rows.is_empty() {
                let f = dir.join(format!("range-{k:05}-{pi:05}.parquet"));
                write_part(&f, &rows)?;
                routed[k].push(f);
            }
        }
        std::fs::remove_file(part).map_err(Error::io("remove", part))?;
    }

    let mut out = Upserted {
        stored_rows,
        total,
        ..Default::default()
    };
    let slice_bounds = |k: usize| -> (usize, usize) {
        let lo = existing_ids.partition_point(|id| id < &starts[k]);
        let hi = match starts.get(k + 1) {
            Some(s) => existing_ids.partition_point(|id| id < s),
            None => existing_ids.len(),
        };
        (lo, hi)
    };
    // With `keep`, the merged store comes back in memory and is written later by
    // [`write_kept`] (a run writes it while it groups and indexes); otherwise it is written
    // range by range as it is merged, so an import's memory stays bounded.
    // One range: its incoming rows deduplicated and merged into the stored ones (both sorted by
    // id), with the losing duplicates and (new, updated, unchanged) counts.
    type Merged = (Vec<Record>, Vec<crate::ingest::Reject>, [u64; 3]);
    let merge_range = |k: usize, mut incoming: Vec<Record>| -> Result<Merged> {
        for f in &routed[k] {
            incoming.extend(read_file(f)?);
        }
        let (winners, dups) = dedup(incoming);
        let (lo, hi) = slice_bounds(k);
        let old = match &existing {
            Existing::None => Vec::new(),
            Existing::File(f) => read_slice(f, lo, hi - lo)?,
            Existing::Memory(all) => all[lo..hi].to_vec(),
        };
        let mut counts = [0u64; 3];
        let mut merged = Vec::with_capacity(winners.len() + old.len());
        let mut old = old.into_iter().peekable();
        for r in winners {
            while let Some(o) = old.next_if(|o| o.id < r.id) {
                merged.push(o);
            }
            match old.next_if(|o| o.id == r.id) {
                None => counts[0] += 1,
                Some(o) if o == r => counts[2] += 1,
                Some(_) => counts[1] += 1,
            }
            merged.push(r);
        }
        merged.extend(old);
        Ok((merged, dups, counts))
    };
    let tally = |out: &mut Upserted, dups: Vec<crate::ingest::Reject>, c: [u64; 3]| {
        out.duplicates.extend(dups);
        out.new += c[0];
        out.updated += c[1];
        out.unchanged += c[2];
    };
    if keep {
        // Exactly the room the store needs (one record per id of the union), taken once: grown
        // by doubling, the vector of a million records (400 bytes each) was copied at each
        // doubling, the last time with the old and the new array both written beside the
        // merged ranges.
        out.records
            .reserve_exact(usize::try_from(total).unwrap_or(usize::MAX));
        // The ranges are merged on all cores, a few at a time and appended in order: merged
        // all at once, every range's rows were held twice (merged, then appended) — with the
        // routing, the import's peak at 3M rows (5.3 GiB of live memory against 4.9 GiB for
        // the grouping's).
        let wave = 2 * rayon::current_num_threads();
        let mut ranges = mem.into_iter().enumerate();
        loop {
            let next: Vec<(usize, Vec<Record>)> = ranges.by_ref().take(wave).collect();
            if next.is_empty() {
                break;
            }
            // Each range's contents read the run's text file forwards: written again in
            // the store's order when the input was not sorted by id or the rows came from
            // the store (`schema::contents_in_order`).
            let done: Vec<Result<Merged>> = next
                .into_par_iter()
                .map(|(k, incoming)| {
                    let (mut merged, dups, c) = merge_range(k, incoming)?;
                    if let Some(file) = &texts {
                        crate::schema::contents_in_order(&mut merged, file)?;
                    }
                    Ok((merged, dups, c))
                })
                .collect();
            for d in done {
                let (merged, dups, c) = d?;
                tally(&mut out, dups, c);
                out.records.extend(merged);
                out.batches.push(out.records.len());
            }
        }
    } else {
        write_batches(out_dir, |emit| {
            for (k, incoming) in mem.into_iter().enumerate() {
                let (merged, dups, c) = merge_range(k, incoming)?;
                tally(&mut out, dups, c);
                emit(&merged, None)?;
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// `batches`' rows dealt to their ranges (`range_of` an id's), in order. Each range's vector is
/// sized once from its count (grown by doubling, they held up to twice the rows beside the
/// batches they came from), and each batch is let go once dealt.
fn route(
    batches: Vec<Vec<Record>>,
    ranges: usize,
    range_of: &(dyn Fn(&str) -> usize + Sync),
) -> Vec<Vec<Record>> {
    let range_ids: Vec<Vec<u32>> = batches
        .par_iter()
        .map(|batch| batch.iter().map(|r| range_of(&r.id) as u32).collect())
        .collect();
    let mut sizes = vec![0usize; ranges];
    for &k in range_ids.iter().flatten() {
        sizes[k as usize] += 1;
    }
    let mut out: Vec<Vec<Record>> = sizes.into_iter().map(Vec::with_capacity).collect();
    for (batch, ks) in batches.into_iter().zip(range_ids) {
        for (r, k) in batch.into_iter().zip(ks) {
            out[k as usize].push(r);
        }
    }
    out
}

/// Writes the store that [`upsert`] with `keep` returned (one row group per merged range, the
/// same bytes a streaming upsert writes).
///
/// `cold` is what [`Upserted::take_cold`] took out of the records (empty when nothing was taken):
/// each row group's share is written with its records and then let go, so the replies are
/// held only until their row group is in the file.
pub fn write_kept(out_dir: &Path, up: &Upserted, cold: Vec<Option<Box<Cold>>>) -> Result<PathBuf> {
    let own = cold.is_empty();
    let mut cold = cold.into_iter();
    write_batches(out_dir, |emit| {
        let mut from = 0;
        for &to in &up.batches {
            if own {
                emit(&up.records[from..to], None)?;
            } else {
                let part: Vec<Option<Box<Cold>>> = cold.by_ref().take(to - from).collect();
                emit(&up.records[from..to], Some(&part))?;
            }
            from = to;
        }
        Ok(())
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn rec(id: &str) -> Record {
        Record {
            id: id.into(),
            received_at: NaiveDateTime::parse_from_str("2019-02-28 11:25:05", "%Y-%m-%d %H:%M:%S")
                .unwrap(),
            channel: Channel::MessageBoard,
            title: "标题".into(),
            content: "内容".into(),
            region: [Some("A市".into()), None, None],
            petitioner: None,
            headcount: 1,
            category: None,
            responsible_unit: None,
            status: None,
            accepted_at: None,
            due_at: None,
            closed_at: None,
            satisfaction: Some(Satisfaction::NotRated),
            replied_at: None,
            likes: Some(3),
            dislikes: None,
            bypass: None,
            cold: Cold {
                reply: None,
                source: "a.csv:2".into(),
                extra: Some("{\"truth_group\":\"g1\"}".into()),
            }
            .boxed(),
        }
    }

    #[test]
    fn a_store_of_several_row_groups_reads_back_whole_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let n = 2 * ROW_GROUP + 7;
        let mut a: Vec<Record> = (0..n)
            .map(|i| {
                let mut r = rec(&format!("{i:07}"));
                r.headcount = (i % 9) as u32 + 1;
                r
            })
            .collect();
        write(dir.path(), &mut a).unwrap();
        let back = read(dir.path()).unwrap();
        assert_eq!(back.len(), n);
        assert!(back == a, "the records read back differ from those written");
    }

    #[test]
    fn roundtrip_and_byte_identical() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = vec![rec("2"), rec("1")];
        write(dir.path(), &mut a).unwrap();
        let bytes1 = std::fs::read(path(dir.path())).unwrap();
        let back = read(dir.path()).unwrap();
        assert_eq!(back, a);
        let mut b = vec![rec("1"), rec("2")];
        write(dir.path(), &mut b).unwrap();
        assert_eq!(std::fs::read(path(dir.path())).unwrap(), bytes1);
    }

    #[test]
    fn a_store_written_from_records_without_their_replies_is_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let records: Vec<Record> = (0..5)
            .map(|i| {
                let mut r = rec(&format!("{i}"));
                r.cold = Cold {
                    reply: (i % 2 == 0).then(|| format!("答复{i}").into()),
                    source: format!("a.csv:{}", i + 2).into(),
                    extra: (i != 3).then(|| format!("{{\"x\":{i}}}").into()),
                }
                .boxed();
                r
            })
            .collect();
        let mut up = Upserted {
            records: records.clone(),
            batches: vec![2, 5],
            ..Default::default()
        };
        write_kept(dir.path(), &up, Vec::new()).unwrap();
        let whole = std::fs::read(path(dir.path())).unwrap();
        assert_eq!(read(dir.path()).unwrap(), records);

        let cold = up.take_cold();
        assert!(up
            .records
            .iter()
            .all(|r| r.cold.is_none() && r.source().is_empty()));
        write_kept(dir.path(), &up, cold).unwrap();
        assert_eq!(std::fs::read(path(dir.path())).unwrap(), whole);
        assert_eq!(read(dir.path()).unwrap(), records);

        // one reply too few: refused, not written askew
        let mut short = up.take_cold();
        short.pop();
        assert!(write_kept(dir.path(), &up, short).is_err());
        assert_eq!(std::fs::read(path(dir.path())).unwrap(), whole);
    }

    #[test]
    fn a_store_read_for_analysis_has_no_cold_fields_and_the_servers_has_them_in_the_text_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut records: Vec<Record> = (0..5)
            .map(|i| {
                let mut r = rec(&format!("{i}"));
                r.content = format!("内容{i}").into();
                r.cold = Cold {
                    reply: Some(format!("答复{i}").into()),
                    source: format!("a.csv:{}", i + 2).into(),
                    extra: None,
                }
                .boxed();
                r
            })
            .collect();
        write(dir.path(), &mut records).unwrap();
        let texts = crate::textfile::TextFile::create_in(dir.path()).unwrap();
        let hot = read_to(dir.path(), &texts).unwrap();
        // everything but the replies and source rows, which no analysis reads
        let without: Vec<Record> = records
            .iter()
            .cloned()
            .map(|mut r| {
                r.cold = None;
                r
            })
            .collect();
        assert_eq!(hot, without);
        assert!(hot.iter().all(|r| r.content.file_pos().is_some()));
        // the whole read still has them, on the heap or (for the server) in the text file
        assert_eq!(read(dir.path()).unwrap(), records);
        let whole = read_whole_to(dir.path(), &texts).unwrap();
        assert_eq!(whole, records);
        assert!(whole.iter().all(|r| r.content.file_pos().is_some()
            && r.cold.as_ref().is_some_and(|c| {
                c.reply.as_ref().is_some_and(|t| t.file_pos().is_some())
                    && c.source.file_pos().is_some()
            })));
    }

    #[test]
    fn a_kept_upsert_holds_its_records_without_spare_room() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(dir.path(), usize::MAX);
        // three row groups' worth, merged range by range
        let n = 2 * ROW_GROUP + 7;
        for k in 0..3 {
            spill
                .push((k..n).step_by(3).map(|i| rec(&format!("{i:07}"))).collect())
                .unwrap();
        }
        let up = upsert(dir.path(), spill, true, true).unwrap();
        assert_eq!(up.records.len(), n);
        assert_eq!(up.records.capacity(), up.records.len());
        assert!(up.records.windows(2).all(|w| w[0].id < w[1].id));
    }
}
