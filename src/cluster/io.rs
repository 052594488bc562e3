//! The grouping's files: `groups.csv`, `groups.xlsx` (for task forces), `members.csv` (every
//! petition once) and `groups.json` (read back next week for stable ids).

use std::path::Path;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fxhash::FastMap;
use crate::schema::Record;

use super::ids::Previous;
use super::{Group, Groups};

/// Each group's representative text as `groups.csv` shows it (its first 300 characters, spaces
/// folded, masked unless `show_personal_data`), by group. The records are read in their order,
/// a chunk at a time on all cores: their contents may be in a mapped file (`textfile`), where a
/// read in the groups' order would map nearly every page of it.
fn representative_texts(groups: &Groups, records: &[Record], show: bool) -> Vec<String> {
    let mut of_id: FastMap<&str, Vec<usize>> = FastMap::default();
    for (k, g) in groups.groups.iter().enumerate() {
        of_id.entry(g.representative.as_str()).or_default().push(k);
    }
    let found: Vec<(usize, String)> = records
        .par_chunks(4096)
        .flat_map_iter(|chunk| {
            chunk.iter().flat_map(|r| {
                let ks = of_id.get(r.id.as_str()).map_or(&[][..], Vec::as_slice);
                let text = (!ks.is_empty()).then(|| {
                    let t: String = r.text().chars().take(300).collect();
                    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
                    crate::mask::text_for_output(&t, show)
                });
                ks.iter()
                    .map(move |&k| (k, text.clone().unwrap_or_default()))
            })
        })
        .collect();
    let mut texts = vec![String::new(); groups.groups.len()];
    for (k, t) in found {
        texts[k] = t;
    }
    texts
}

/// Writes `groups.csv`, `groups.xlsx`, `members.csv` and `groups.json` into `groups_dir`.
/// The representative petition's text is masked unless `show_personal_data`.
pub fn write(
    groups_dir: &Path,
    groups: &Groups,
    records: &[Record],
    show_personal_data: bool,
) -> Result<()> {
    let reps = representative_texts(groups, records, show_personal_data);
    let header = [
        "group_id",
        "label",
        "anchor",
        "key_terms",
        "size",
        "distinct_petitioners",
        "total_headcount",
        "first_seen",
        "last_seen",
        "weeks_active",
        "trend",
        "regions",
        "responsible_units",
        "lead_unit",
        "open",
        "closed",
        "heat",
        "batch_score",
        "batch_reasons",
        "representative_id",
        "representative_text",
    ];
    let row_of = |(k, g): (usize, &Group)| -> Vec<String> {
        let rep = reps[k].clone();
        let list = |v: &[(String, usize)]| {
            v.iter()
                .map(|(a, n)| format!("{a}({n})"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        vec![
            g.id.clone(),
            g.label.clone(),
            g.anchor.clone().unwrap_or_default(),
            g.key_terms.join(" "),
            g.size.to_string(),
            g.distinct_petitioners.to_string(),
            g.total_headcount.to_string(),
            g.first_seen.format("%Y-%m-%d %H:%M:%S").to_string(),
            g.last_seen.format("%Y-%m-%d %H:%M:%S").to_string(),
            g.weeks_active.to_string(),
            g.trend.code().to_string(),
            list(&g.regions),
            list(&g.units),
            g.lead_unit().unwrap_or_default().to_string(),
            g.open.to_string(),
            g.closed.to_string(),
            format!("{:.3}", g.heat),
            format!("{:.3}", g.batch_score),
            g.batch_reasons.join("; "),
            g.representative.clone(),
            rep,
        ]
    };

    // The workbook's temporary file goes in the folder before any file is written there.
    std::fs::create_dir_all(groups_dir).map_err(Error::io("create folder", groups_dir))?;
    // The three files are independent: written side by side (each is one core's work —
    // masking and deflating the tables, formatting the member rows, serialising the json).
    let tables = || -> Result<()> {
        let mut wb = rust_xlsxwriter::Workbook::new();
        // A fixed creation time: the workbook must be byte-identical across reruns.
        let created = rust_xlsxwriter::ExcelDateTime::from_ymd(2020, 1, 1)?.and_hms(0, 0, 0)?;
        wb.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created));
        // "Constant memory": each finished row goes to a temporary file, kept in the run folder
        // (an unnamed file, gone when closed) so that petition text stays where the run keeps it.
        wb.set_tempdir(groups_dir)?;
        // Level 3, not the default 6: deflating the sheet was the last 2.5 s of the grouping at
        // a million petitions, on one core, with the other writers done. The sheet's 188 MB of
        // XML at 1M: level 6 35.4 MB, 3 40.1 MB in about half the time, 1 44.8 MB (zlib;
        // zlib-rs's level 1 is a quicker method that gave 54 MB).
        wb.set_zip_compression_level(3);
        let ws = wb.add_worksheet_with_constant_memory()?;
        ws.set_name("同质化类案")?;
        for (c, h) in header.iter().enumerate() {
            ws.write_string(0, c as u16, *h)?;
        }
        // Each row is made once and written to both tables as it is made: at a million petitions
        // the rows held as strings and again as workbook cells took 0.8 GB, the run's peak. The
        // workbook's first error is kept and said after the CSV is closed.
        let mut sheet_failed: Option<rust_xlsxwriter::XlsxError> = None;
        // The rows are made (masked, formatted) on all cores a block at a time, and written
        // in order: made one by one, the masking of the representative texts ran on one core
        // beside writers that had finished.
        write_csv(&groups_dir.join("groups.csv"), |w| {
            w.write_record(header)?;
            let mut ri = 0u32;
            for (b, block) in groups.groups.chunks(ROW_BLOCK).enumerate() {
                let from = b * ROW_BLOCK;
                let rows: Vec<Vec<String>> = block
                    .par_iter()
                    .enumerate()
                    .map(|(k, g)| row_of((from + k, g)))
                    .collect();
                for row in rows {
                    ri += 1;
                    w.write_record(&row)?;
                    if sheet_failed.is_none() {
                        sheet_failed = sheet_row(ws, ri, &row).err();
                    }
                }
            }
            Ok(())
        })?;
        if let Some(e) = sheet_failed {
            return Err(e.into());
        }
        let xbytes = wb.save_to_buffer()?;
        crate::fsutil::write_atomic(&groups_dir.join("groups.xlsx"), &xbytes)
    };
    let members = || -> Result<()> {
        write_csv(&groups_dir.join("members.csv"), |w| {
            w.write_record(["id", "group_id", "similarity", "is_repeat"])?;
            for m in &groups.members {
                w.write_record([
                    m.id.as_str(),
                    m.group_id.as_str(),
                    &format!("{:.4}", m.similarity),
                    if m.is_repeat { "true" } else { "false" },
                ])?;
            }
            Ok(())
        })
    };
    let json = || -> Result<()> {
        // Compact and streamed: at a million petitions the member list alone is 100+ MB, which
        // indentation would double (the file is for programs; groups.csv is for people).
        crate::fsutil::write_atomic_with(&groups_dir.join("groups.json"), |w| {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, w);
            serde_json::to_writer(&mut w, groups).map_err(std::io::Error::other)?;
            std::io::Write::flush(&mut w)
        })
    };
    let ((t, m), j) = rayon::join(|| rayon::join(tables, members), json);
    t.and(m).and(j)
}

/// Groups whose table rows are made at once (a few MB of strings).
const ROW_BLOCK: usize = 4096;

/// One row of the workbook: the counts, days and scores as numbers, the rest as text.
fn sheet_row(
    ws: &mut rust_xlsxwriter::Worksheet,
    row: u32,
    cells: &[String],
) -> std::result::Result<(), rust_xlsxwriter::XlsxError> {
    const NUMERIC: [usize; 8] = [4, 5, 6, 9, 14, 15, 16, 17];
    for (c, v) in cells.iter().enumerate() {
        match (NUMERIC.contains(&c), v.parse::<f64>()) {
            (true, Ok(x)) => ws.write_number(row, c as u16, x)?,
            _ => ws.write_string(row, c as u16, v.as_str())?,
        };
    }
    Ok(())
}

/// Writes a CSV file atomically, streamed through `fill`.
fn write_csv(
    path: &Path,
    fill: impl FnOnce(&mut csv::Writer<&mut dyn std::io::Write>) -> csv::Result<()>,
) -> Result<()> {
    crate::fsutil::write_atomic_with(path, |w| {
        let mut w = csv::Writer::from_writer(w);
        fill(&mut w).map_err(std::io::Error::other)?;
        w.flush()
    })
}

/// Reads of `groups.json` only what the next regrouping's ids need (see [`Previous`]).
pub(super) fn read_previous(groups_dir: &Path) -> Result<Previous> {
    read_json(groups_dir)
}

/// The group id of every grouped petition, from `members.csv`'s first two columns: what an
/// index shard needs, where parsing `groups.json` (its ten tasks at a million petitions each
/// read all 189 MB of it) cost more than indexing the shard's petitions.
pub fn read_group_ids(groups_dir: &Path) -> Result<Vec<(String, String)>> {
    read_group_id_file(&grouping_file(groups_dir, "members.csv")?)
}

/// The (id, group id) pairs of a CSV file whose first two columns are the id and the group id
/// (`members.csv`, or one row group's part of it, [`write_group_id_file`]); petitions in no
/// group are left out.
pub fn read_group_id_file(p: &Path) -> Result<Vec<(String, String)>> {
    let mut r = csv::Reader::from_path(p)?;
    let mut out = Vec::new();
    let mut row = csv::StringRecord::new();
    while r.read_record(&mut row)? {
        match (row.get(0), row.get(1)) {
            (Some(id), Some(g)) if g != super::UNCLUSTERED => out.push((id.into(), g.into())),
            _ => {}
        }
    }
    Ok(out)
}

/// Writes (id, group id) pairs as a CSV file [`read_group_id_file`] reads: the group ids of one
/// row group of the store, for the Spark job's index task of that row group.
pub fn write_group_id_file<'a>(
    p: &Path,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<()> {
    write_csv(p, |w| {
        w.write_record(["id", "group_id"])?;
        for (id, g) in pairs {
            w.write_record([id, g])?;
        }
        Ok(())
    })
}

/// `groups_dir/name`, which a grouping wrote; a missing one says how to make it.
fn grouping_file(groups_dir: &Path, name: &str) -> Result<std::path::PathBuf> {
    let p = groups_dir.join(name);
    if !p.exists() {
        return Err(Error::Usage(format!(
            "no groups at `{}`: run `minqing cluster` first",
            p.display()
        )));
    }
    Ok(p)
}

/// Reads `groups.json` back.
pub fn read(groups_dir: &Path) -> Result<Groups> {
    read_json(groups_dir)
}

/// `groups.json` as `T`: the whole grouping, or the part of it `T` names. Parsed from a
/// buffered reader, not from the file read whole: the file is ~145 bytes a petition (1.4 GB
/// at ten million), held beside all it parses into.
fn read_json<T: serde::de::DeserializeOwned>(groups_dir: &Path) -> Result<T> {
    let p = grouping_file(groups_dir, "groups.json")?;
    let f = std::fs::File::open(&p).map_err(Error::io("read", &p))?;
    Ok(serde_json::from_reader(std::io::BufReader::with_capacity(
        1 << 20,
        f,
    ))?)
}
