//! The canonical store: `DIR/store/petitions.parquet`, one row per petition, sorted by id.
//!
//! Written atomically (temp file + rename) so an interrupted run leaves the previous store
//! readable. Sorting by id makes the file byte-identical for the same set of records whatever
//! order the inputs listed them in.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime};
use polars::prelude::*;

use crate::error::{Error, Result};
use crate::schema::{Channel, Record, Satisfaction};

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
    let s = |f: &dyn Fn(&Record) -> Option<&str>| -> Vec<Option<&str>> {
        records.iter().map(f).collect()
    };
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
        Column::new("reply".into(), s(&|r| r.reply.as_deref())),
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
            records
                .iter()
                .map(|r| r.source.as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new("extra".into(), s(&|r| r.extra.as_deref())),
    ];
    Ok(DataFrame::new(records.len(), cols)?)
}

/// Reads records back from a store DataFrame.
pub fn from_frame(df: &DataFrame, path: &Path) -> Result<Vec<Record>> {
    let n = df.height();
    let strs = |name: &str| -> Result<Vec<Option<String>>> {
        let c = df.column(name)?;
        Ok(c.str()?.iter().map(|v| v.map(str::to_string)).collect())
    };
    let times = |name: &str| -> Result<Vec<Option<NaiveDateTime>>> {
        let c = df.column(name)?.cast(&DataType::Int64)?;
        Ok(c.i64()?.iter().map(|v| v.map(from_ms)).collect())
    };
    let u32s = |name: &str| -> Result<Vec<Option<u32>>> {
        let c = df.column(name)?.cast(&DataType::UInt32)?;
        Ok(c.u32()?.iter().collect())
    };
    let id = strs("id")?;
    let received = times("received_at")?;
    let channel = strs("channel")?;
    let title = strs("title")?;
    let content = strs("content")?;
    let r1 = strs("region1")?;
    let r2 = strs("region2")?;
    let r3 = strs("region3")?;
    let petitioner = strs("petitioner")?;
    let headcount = u32s("headcount")?;
    let category = strs("category")?;
    let unit = strs("responsible_unit")?;
    let status = strs("status")?;
    let accepted = times("accepted_at")?;
    let due = times("due_at")?;
    let closed = times("closed_at")?;
    let sat = strs("satisfaction")?;
    let reply = strs("reply")?;
    let replied = times("replied_at")?;
    let likes = u32s("likes")?;
    let dislikes = u32s("dislikes")?;
    let bypass: Vec<Option<bool>> = df.column("bypass")?.bool()?.iter().collect();
    let source = strs("source")?;
    let extra = strs("extra")?;
    let bad = |row: usize, column: &str| Error::BadCell {
        path: path.to_path_buf(),
        row: row as u64 + 1,
        column: column.to_string(),
        message: "corrupt store value".into(),
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(Record {
            id: id[i].clone().ok_or_else(|| bad(i, "id"))?,
            received_at: received[i].ok_or_else(|| bad(i, "received_at"))?,
            channel: channel[i]
                .as_deref()
                .and_then(Channel::parse)
                .ok_or_else(|| bad(i, "channel"))?,
            title: title[i].clone().unwrap_or_default(),
            content: content[i].clone().unwrap_or_default(),
            region: [r1[i].clone(), r2[i].clone(), r3[i].clone()],
            petitioner: petitioner[i].clone(),
            headcount: headcount[i].unwrap_or(1),
            category: category[i].clone(),
            responsible_unit: unit[i].clone(),
            status: status[i].clone(),
            accepted_at: accepted[i],
            due_at: due[i],
            closed_at: closed[i],
            satisfaction: sat[i].as_deref().and_then(Satisfaction::parse),
            reply: reply[i].clone(),
            replied_at: replied[i],
            likes: likes[i],
            dislikes: dislikes[i],
            bypass: bypass[i],
            source: source[i].clone().unwrap_or_default(),
            extra: extra[i].clone(),
        });
    }
    Ok(out)
}

/// Rows per Parquet row group: the store is written in slices of this size so only one slice
/// is ever held twice (as records and as columns).
const ROW_GROUP: usize = 100_000;

/// Writes the store for `out_dir`, sorted by id, atomically.
pub fn write(out_dir: &Path, records: &mut [Record]) -> Result<PathBuf> {
    records.sort_by(|a, b| a.id.cmp(&b.id));
    let p = path(out_dir);
    let schema = to_frame(&records[..0])?.schema().as_ref().clone();
    crate::fsutil::write_atomic_with(&p, |w| {
        let to_io = |e: PolarsError| std::io::Error::other(e.to_string());
        let mut writer = ParquetWriter::new(w)
            .with_compression(ParquetCompression::Snappy)
            .batched(&schema)
            .map_err(to_io)?;
        for chunk in records.chunks(ROW_GROUP) {
            let df = to_frame(chunk).map_err(|e| std::io::Error::other(e.to_string()))?;
            writer.write_batch(&df).map_err(to_io)?;
        }
        writer.finish().map_err(to_io)?;
        Ok(())
    })?;
    Ok(p)
}

/// Reads the store of a run folder; a missing store is an error naming the folder.
pub fn read(out_dir: &Path) -> Result<Vec<Record>> {
    let p = path(out_dir);
    if !p.exists() {
        return Err(Error::Usage(format!(
            "no store at `{}`: run `minqing run` or `minqing ingest --out {}` first",
            p.display(),
            out_dir.display()
        )));
    }
    read_file(&p)
}

/// Reads records from a store Parquet file.
pub fn read_file(p: &Path) -> Result<Vec<Record>> {
    let f = std::fs::File::open(p).map_err(Error::io("open", p))?;
    // polars' own message does not say which file; the store may be damaged or replaced.
    let df = ParquetReader::new(f)
        .finish()
        .map_err(|e| Error::BadInput {
            path: p.to_path_buf(),
            message: format!(
                "not a readable store: {e}; rerun with --fresh to rebuild it from the inputs"
            ),
        })?;
    from_frame(&df, p)
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
            reply: None,
            replied_at: None,
            likes: Some(3),
            dislikes: None,
            bypass: None,
            source: "a.csv:2".into(),
            extra: Some("{\"truth_group\":\"g1\"}".into()),
        }
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
}
