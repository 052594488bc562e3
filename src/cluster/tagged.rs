//! The grouping's per-petition work done elsewhere: step 1 and the token-level anchors of step 2
//! (see the module doc) tag each petition on its own, so a Spark job can run them as a map over
//! the store's partitions, each partition through `minqing worker tag` ([`tag_file`]), and
//! `minqing run --tagged DIR` ([`Taggings::read`]) groups from what the map wrote instead of
//! tagging again. What the map writes is exactly what [`super::vectors::tag_record`] returns,
//! so the groups are the same as a run that tags everything itself.
//!
//! A tagging file is Parquet with four string columns: `id`, `text_hash` (of the title and
//! content it was made from: a petition whose text changed since is tagged again), `tagging`
//! (the petition's words, anchors and names as JSON) and `settings` (what the tagging depends
//! on: minqing's version, the tokenizer's dictionaries, the grouping options it reads and the
//! data's region names). A folder of such files whose settings are not this run's is refused.

use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::fxhash::{FastMap, FastSet, FxHasher};
use crate::schema::Record;
use crate::tokenize::Tokenizer;

use super::objects::region_names_of;
use super::vectors::{tag_text, Pass};
use super::Options;

/// The columns of a tagging file, in order.
pub const COLUMNS: [&str; 4] = ["id", "text_hash", "tagging", "settings"];

/// One petition's tagging as stored: [`Pass`] with owned strings.
#[derive(Serialize, Deserialize)]
struct Stored {
    /// (word, weight) sorted by word.
    w: Vec<(String, f32)>,
    /// Title anchors, content anchors: (name, object class).
    t: Vec<(String, u8)>,
    c: Vec<(String, u8)>,
    /// Words tagged as names, as person names.
    n: Vec<String>,
    p: Vec<String>,
}

impl Stored {
    fn of(pass: Pass<'_>) -> Stored {
        let own = |v: Vec<Cow<str>>| v.into_iter().map(Cow::into_owned).collect();
        let (tf, t, c, n, p) = pass;
        Stored {
            w: tf.into_iter().map(|(w, x)| (w.into_owned(), x)).collect(),
            t,
            c,
            n: own(n),
            p: own(p),
        }
    }

    fn into_pass(self) -> Pass<'static> {
        let cow = |v: Vec<String>| v.into_iter().map(Cow::Owned).collect();
        (
            self.w
                .into_iter()
                .map(|(w, x)| (Cow::Owned(w), x))
                .collect(),
            self.t,
            self.c,
            cow(self.n),
            cow(self.p),
        )
    }
}

/// What a tagging depends on besides the text, as one string: a tagging made under other
/// settings would group differently, so it is refused rather than used.
fn settings(tok: &Tokenizer, opts: &Options, regions: &FastSet<String>) -> String {
    let mut regions: Vec<&str> = regions.iter().map(String::as_str).collect();
    regions.sort_unstable();
    crate::fsutil::sha256_bytes(
        format!(
            "minqing {}\n{}\n{} {} {:?}\n{}",
            env!("CARGO_PKG_VERSION"),
            tok.fingerprint(),
            opts.max_content_chars,
            opts.title_weight,
            opts.extra_suffixes,
            regions.join("\n")
        )
        .as_bytes(),
    )
}

fn text_hash(title: &str, content: &str) -> String {
    let mut h = FxHasher::default();
    h.write(title.as_bytes());
    h.write_u8(0xff);
    h.write(content.as_bytes());
    format!("{:016x}", h.finish())
}

/// What `minqing worker tag` did.
pub struct TagSummary {
    pub rows: usize,
}

/// `minqing worker tag`: tags every row of `input` (Parquet with string columns `id`, `title`
/// and `content`; other columns are ignored) and writes the tagging file `output`. `regions`
/// are the distinct values of the store's region columns, which the tagging keeps apart from
/// object names.
pub fn tag_file(
    input: &Path,
    output: &Path,
    regions: &[String],
    tok: &Tokenizer,
    opts: &Options,
) -> Result<TagSummary> {
    let f = std::fs::File::open(input).map_err(Error::io("open", input))?;
    let df = ParquetReader::new(f)
        .with_columns(Some(vec!["id".into(), "title".into(), "content".into()]))
        .finish()
        .map_err(|e| Error::BadInput {
            path: input.to_path_buf(),
            message: format!("not a Parquet file with string columns id, title, content: {e}"),
        })?;
    let strs = |name: &str| -> Result<Vec<Option<&str>>> {
        let c = df.column(name)?;
        Ok(c.str()?.iter().collect())
    };
    let (ids, titles, contents) = (strs("id")?, strs("title")?, strs("content")?);
    if let Some(row) = ids.iter().position(Option::is_none) {
        return Err(Error::BadCell {
            path: input.to_path_buf(),
            row: row as u64 + 1,
            column: "id".into(),
            message: "empty id".into(),
        });
    }
    let regions = region_names_of(regions.iter().map(String::as_str));
    let key = settings(tok, opts, &regions);
    let rows: Vec<(String, String)> = titles
        .par_iter()
        .zip(contents.par_iter())
        .map(|(t, c)| {
            let (t, c) = (t.unwrap_or(""), c.unwrap_or(""));
            let pass = tag_text(t, c, tok, opts, &regions);
            let json = serde_json::to_string(&Stored::of(pass))?;
            Ok((text_hash(t, c), json))
        })
        .collect::<Result<_>>()?;
    let n = rows.len();
    let (hashes, taggings): (Vec<String>, Vec<String>) = rows.into_iter().unzip();
    let mut out = DataFrame::new(
        n,
        vec![
            Column::new(COLUMNS[0].into(), ids),
            Column::new(COLUMNS[1].into(), hashes),
            Column::new(COLUMNS[2].into(), taggings),
            Column::new(COLUMNS[3].into(), vec![key.as_str(); n]),
        ],
    )?;
    crate::fsutil::write_atomic_with(output, |w| {
        ParquetWriter::new(w)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(&mut out)
            .map(|_| ())
            .map_err(std::io::Error::other)
    })?;
    Ok(TagSummary { rows: n })
}

/// Taggings read back from a folder of tagging files (a Spark job's output folder: its
/// `part-*.parquet` files; anything else there is ignored).
pub struct Taggings {
    dir: PathBuf,
    settings: Option<String>,
    /// id → (text hash, tagging JSON); parsed where it is used, on the grouping's threads, and
    /// let go of there: a million taggings held to the end put 0.8 GiB on the run's peak.
    by_id: FastMap<String, Mutex<Option<(String, String)>>>,
    /// How many taggings [`Taggings::get`] handed out.
    used: AtomicUsize,
}

impl Taggings {
    pub fn read(dir: &Path) -> Result<Taggings> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(Error::io("read", dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
                name.is_some_and(|n| n.ends_with(".parquet") && !n.starts_with(['.', '_']))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Error::Usage(format!(
                "no tagging files (*.parquet) in `{}`: run the Spark job (docs/spark.md) first",
                dir.display()
            )));
        }
        let per_file: Vec<(Option<String>, Rows)> = files
            .par_iter()
            .map(|p| read_one(p))
            .collect::<Result<_>>()?;
        let mut settings: Option<String> = None;
        let mut by_id = FastMap::default();
        for ((s, rows), p) in per_file.into_iter().zip(&files) {
            match (&settings, s) {
                (Some(a), Some(b)) if *a != b => {
                    return Err(Error::BadInput {
                        path: p.clone(),
                        message: "tagged with other settings than the folder's other files: \
                                  rerun the Spark job into an empty folder"
                            .into(),
                    })
                }
                (None, Some(b)) => settings = Some(b),
                _ => {}
            }
            by_id.extend(rows.into_iter().map(|(id, t)| (id, Mutex::new(Some(t)))));
        }
        Ok(Taggings {
            dir: dir.to_path_buf(),
            settings,
            by_id,
            used: AtomicUsize::new(0),
        })
    }

    /// Refuses a tagging made with other settings than this run's (another minqing version,
    /// other dictionaries or grouping options, or a store with other region names).
    pub fn check(&self, records: &[Record], tok: &Tokenizer, opts: &Options) -> Result<()> {
        let regions = region_names_of(
            records
                .iter()
                .flat_map(|r| r.region.iter().flatten().map(|l| &**l)),
        );
        let ours = settings(tok, opts, &regions);
        match &self.settings {
            Some(s) if *s != ours => Err(Error::Usage(format!(
                "the tagging in `{}` was made with other settings than this run's (minqing \
                 version, dictionaries, [cluster] options or the store's region names): rerun \
                 the Spark job on this run folder",
                self.dir.display()
            ))),
            _ => Ok(()),
        }
    }

    /// The stored tagging of `r`, when there is one made from its current text. Each is handed
    /// out once (a grouping tags a petition once) and its text freed.
    pub(super) fn get(&self, r: &Record) -> Option<Pass<'static>> {
        let (hash, json) = self.by_id.get(r.id.as_str())?.lock().ok()?.take()?;
        if hash != text_hash(&r.title, &r.content) {
            return None;
        }
        // written by `tag_file`; a file that does not parse is tagged again rather than trusted
        let pass = serde_json::from_str::<Stored>(&json).ok()?.into_pass();
        self.used.fetch_add(1, Ordering::Relaxed);
        Some(pass)
    }

    /// How many petitions the grouping took a stored tagging for.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

type Rows = Vec<(String, (String, String))>;

fn read_one(p: &Path) -> Result<(Option<String>, Rows)> {
    let f = std::fs::File::open(p).map_err(Error::io("open", p))?;
    let bad = |message: String| Error::BadInput {
        path: p.to_path_buf(),
        message,
    };
    let df = ParquetReader::new(f)
        .with_columns(Some(COLUMNS.iter().map(|c| (*c).into()).collect()))
        .finish()
        .map_err(|e| bad(format!("not a tagging file ({e})")))?;
    let col = |name: &str| -> Result<Vec<Option<String>>> {
        let c = df.column(name)?;
        let c = c
            .str()
            .map_err(|_| bad(format!("column `{name}` is not text")))?;
        Ok(c.iter().map(|v| v.map(str::to_string)).collect())
    };
    let (ids, hashes, taggings) = (col(COLUMNS[0])?, col(COLUMNS[1])?, col(COLUMNS[2])?);
    // one value in every row: compared in place, not copied per row
    let mut first: Option<&str> = None;
    let settings = df.column(COLUMNS[3])?;
    let settings = settings
        .str()
        .map_err(|_| bad(format!("column `{}` is not text", COLUMNS[3])))?;
    for s in settings.iter().flatten() {
        match first {
            None => first = Some(s),
            Some(f) if f != s => return Err(bad("rows tagged with different settings".into())),
            _ => {}
        }
    }
    let first = first.map(str::to_string);
    let rows = ids
        .into_iter()
        .zip(hashes)
        .zip(taggings)
        .filter_map(|((id, h), t)| Some((id?, (h?, t?))))
        .collect();
    Ok((first, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_tagging_is_the_tagging() {
        let tok = Tokenizer::new(&Default::default()).unwrap();
        let opts = Options::default();
        let regions = region_names_of(["西湖区"].into_iter());
        let title = "西湖区金桂苑小区电梯长期故障";
        let content = "金桂苑小区3栋电梯坏了两个月，物业不修，老人上下楼困难。";
        let pass = tag_text(title, content, &tok, &opts, &regions);
        let json =
            serde_json::to_string(&Stored::of(tag_text(title, content, &tok, &opts, &regions)))
                .unwrap();
        let back = serde_json::from_str::<Stored>(&json).unwrap().into_pass();
        assert_eq!(pass, back);
        assert!(!pass.0.is_empty() && !pass.1.is_empty());
    }

    #[test]
    fn a_file_round_trips_and_other_settings_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let tok = Tokenizer::new(&Default::default()).unwrap();
        let opts = Options::default();
        let mut df = df!(
            "id" => ["b", "a"],
            "title" => ["金桂苑小区电梯故障", "欠薪"],
            "content" => ["电梯坏了", "工资拖欠三个月"],
        )
        .unwrap();
        let input = dir.path().join("in.parquet");
        ParquetWriter::new(std::fs::File::create(&input).unwrap())
            .finish(&mut df)
            .unwrap();
        let out = dir.path().join("tagged");
        std::fs::create_dir(&out).unwrap();
        let s = tag_file(&input, &out.join("part-0.parquet"), &[], &tok, &opts).unwrap();
        assert_eq!(s.rows, 2);
        let tagged = Taggings::read(&out).unwrap();
        assert_eq!(tagged.by_id.len(), 2);
        let mut r = crate::store::tests::rec("a");
        r.region = [None, None, None];
        r.title = "欠薪".into();
        r.content = "工资拖欠三个月".into();
        tagged.check(std::slice::from_ref(&r), &tok, &opts).unwrap();
        // changed text: tagged again
        let mut changed = r.clone();
        changed.content = format!("{}！", changed.content).into();
        assert!(tagged.get(&changed).is_none());
        let mut b = crate::store::tests::rec("b");
        b.region = [None, None, None];
        b.title = "金桂苑小区电梯故障".into();
        b.content = "电梯坏了".into();
        assert_eq!(
            tagged.get(&b).unwrap(),
            tag_text(&b.title, &b.content, &tok, &opts, &FastSet::default())
        );
        // handed out once
        assert!(tagged.get(&b).is_none());
        assert_eq!(tagged.used(), 1);
        // a region name this run has and the tagging did not
        r.region[1] = Some("西湖区".into());
        let err = tagged.check(&[r], &tok, &opts).unwrap_err().to_string();
        assert!(err.contains("other settings"), "{err}");
    }
}
