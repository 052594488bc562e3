//! `minqing search` and `minqing similar`.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use minqing::index::{
    FacetCounts, Hit, IndexHandle, SearchRequest, SearchResults, Sort, WeekCount,
};
use minqing::tokenize::{Options, Tokenizer};

use super::Term;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortArg {
    Relevance,
    Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "QUERY syntax: words are ANDed (each matches as a substring of title or content); \
`a OR b`; `-word` excludes; \"exact phrase\"; field:value with region: (level name or A市/A5区 path), \
category:, channel:, status:, unit:.  Example: 油烟 OR 噪音 -装修 region:A5区"
)]
pub struct SearchArgs {
    /// The query (see below).
    #[arg(allow_hyphen_values = true)]
    pub query: String,
    #[command(flatten)]
    pub at: IndexLocation,
    /// Received on or after this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub from: Option<NaiveDate>,
    /// Received on or before this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub to: Option<NaiveDate>,
    /// Region level name or path prefix (A5区, A市/A5区).
    #[arg(long, value_name = "PREFIX")]
    pub region: Option<String>,
    /// Channel code or name (letter/来信, visit/来访, hotline/12345, …).
    #[arg(long)]
    pub channel: Option<String>,
    #[arg(long)]
    pub category: Option<String>,
    #[arg(long)]
    pub status: Option<String>,
    /// Responsible unit (exact).
    #[arg(long)]
    pub unit: Option<String>,
    /// Case group id, e.g. G0007.
    #[arg(long)]
    pub group: Option<String>,
    #[arg(long, value_enum, default_value = "relevance")]
    pub sort: SortArg,
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Also count hits by region / category / channel / status.
    #[arg(long)]
    pub facets: bool,
    /// Also print the weekly (ISO week) histogram of the hits.
    #[arg(long)]
    pub by_week: bool,
}

/// Where the index is: a run folder or the index folder itself (shared by search and similar).
#[derive(Debug, clap::Args)]
pub struct IndexLocation {
    /// Run folder (its `index/` is searched).
    #[arg(
        long,
        value_name = "RUN_DIR",
        required_unless_present = "index",
        conflicts_with = "index"
    )]
    pub out: Option<PathBuf>,
    /// Index folder.
    #[arg(long, value_name = "DIR")]
    pub index: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct SimilarArgs {
    /// Petition id.
    pub id: String,
    #[command(flatten)]
    pub at: IndexLocation,
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// Opens the index of `--out RUN_DIR` or `--index DIR`, explaining how to build a missing one.
fn open(
    out: Option<&Path>,
    index: Option<&Path>,
    t: &Term,
) -> minqing::Result<(IndexHandle, Tokenizer)> {
    let dir = match (index, out) {
        (Some(i), _) => i.to_path_buf(),
        (None, Some(o)) => o.join("index"),
        (None, None) => {
            return Err(minqing::Error::Usage(
                "give --out RUN_DIR or --index DIR".into(),
            ))
        }
    };
    if !minqing::index::exists(&dir) {
        let msg = match out {
            Some(o) if minqing::store::path(o).exists() => format!(
                "`{}` has no search index yet, but its store `{}` exists: build the index with `minqing run --out {}`",
                dir.display(),
                minqing::store::path(o).display(),
                o.display()
            ),
            Some(o) => format!(
                "`{}` is not a minqing run folder (no index, no store): run `minqing run --out {}` first",
                o.display(),
                o.display()
            ),
            None => format!("no search index at `{}`", dir.display()),
        };
        return Err(minqing::Error::Usage(msg));
    }
    let handle = IndexHandle::open(&dir)?;
    let tok = Tokenizer::new(&Options::default())?;
    if !handle.same_tokenizer(&tok) {
        t.note(
            "note: the index was built with other dictionaries than the bundled ones; matching is \
             unaffected, ranking bonuses and `similar` use the bundled dictionary",
        );
    }
    Ok((handle, tok))
}

pub fn search(a: SearchArgs, t: &Term) -> minqing::Result<()> {
    let (handle, tok) = open(a.at.out.as_deref(), a.at.index.as_deref(), t)?;
    let req = SearchRequest {
        query: a.query.clone(),
        from: a.from,
        to: a.to,
        region: a.region,
        channel: a.channel,
        category: a.category,
        status: a.status,
        unit: a.unit,
        group: a.group,
        scope: None,
        sort: match a.sort {
            SortArg::Relevance => Sort::Relevance,
            SortArg::Date => Sort::Date,
        },
        limit: a.limit,
        offset: a.offset,
        facets: a.facets,
        by_week: a.by_week,
        snippet_chars: 100,
    };
    let res = handle.search(&req, &tok)?;
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    let io = |e| minqing::Error::io("write", "stdout")(e);
    match a.format {
        Format::Table => {
            let shown_to = a.offset + res.hits.len();
            writeln!(
                w,
                "{} hits for `{}`{}",
                res.total,
                a.query,
                if res.hits.is_empty() {
                    String::new()
                } else {
                    format!(" (showing {}–{})", a.offset + 1, shown_to)
                }
            )
            .map_err(io)?;
            write_table(&mut w, &res.hits, a.offset).map_err(io)?;
            if let Some(f) = &res.facets {
                write_facets(&mut w, f).map_err(io)?;
            }
            if let Some(weeks) = &res.weeks {
                write_weeks(&mut w, weeks).map_err(io)?;
            }
        }
        Format::Json => {
            let v = results_json(&a.query, &req, &res);
            serde_json::to_writer_pretty(&mut w, &v)?;
            writeln!(w).map_err(io)?;
        }
        Format::Csv => {
            write_csv(&mut w, &res.hits)?;
            // CSV stays one table: the total and any counts go to stderr.
            eprintln!("{} hits for `{}`", res.total, a.query);
            if let Some(f) = &res.facets {
                write_facets(&mut std::io::stderr(), f).map_err(io)?;
            }
            if let Some(weeks) = &res.weeks {
                write_weeks(&mut std::io::stderr(), weeks).map_err(io)?;
            }
        }
    }
    Ok(())
}

pub fn similar(a: SimilarArgs, t: &Term) -> minqing::Result<()> {
    let (handle, tok) = open(a.at.out.as_deref(), a.at.index.as_deref(), t)?;
    let hits = handle.similar(&a.id, a.limit, &tok)?;
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    let io = |e| minqing::Error::io("write", "stdout")(e);
    match a.format {
        Format::Table => {
            writeln!(w, "{} earlier petitions similar to `{}`", hits.len(), a.id).map_err(io)?;
            write_table(&mut w, &hits, 0).map_err(io)?;
        }
        Format::Json => {
            let v = serde_json::json!({
                "id": a.id,
                "similarity": "BM25 over the petition's top TF-IDF jieba words, relative to its own score",
                "hits": hits.iter().map(hit_json).collect::<Vec<_>>(),
            });
            serde_json::to_writer_pretty(&mut w, &v)?;
            writeln!(w).map_err(io)?;
        }
        Format::Csv => write_csv(&mut w, &hits)?,
    }
    Ok(())
}

fn dash(s: &Option<String>) -> &str {
    s.as_deref().filter(|s| !s.is_empty()).unwrap_or("-")
}

fn write_table(w: &mut dyn Write, hits: &[Hit], offset: usize) -> std::io::Result<()> {
    for (k, h) in hits.iter().enumerate() {
        let score = h
            .score
            .map(|s| format!("  score {s:.3}"))
            .unwrap_or_default();
        // a precedent in a case group leads to the group (`minqing group ID`)
        let group = h
            .group_id
            .as_deref()
            .filter(|g| !g.is_empty())
            .map(|g| format!("  类案 {g}"))
            .unwrap_or_default();
        writeln!(
            w,
            "\n{:>3}. {}  {}  {}  {}  {}{}{}",
            offset + k + 1,
            h.id,
            h.received_at.format("%Y-%m-%d"),
            if h.region.is_empty() { "-" } else { &h.region },
            dash(&h.category),
            dash(&h.status),
            group,
            score
        )?;
        if !h.title.text.is_empty() {
            writeln!(w, "     {}", h.title.render("[", "]"))?;
        }
        writeln!(w, "     {}", h.snippet.render("[", "]"))?;
    }
    Ok(())
}

fn write_facets(w: &mut dyn Write, f: &FacetCounts) -> std::io::Result<()> {
    for (name, counts) in [
        ("region", &f.region),
        ("category", &f.category),
        ("channel", &f.channel),
        ("status", &f.status),
        ("unit", &f.unit),
        ("group", &f.group),
    ] {
        writeln!(w, "\nby {name}:")?;
        for (v, n) in counts {
            writeln!(w, "  {n:>7}  {v}")?;
        }
    }
    Ok(())
}

fn write_weeks(w: &mut dyn Write, weeks: &[WeekCount]) -> std::io::Result<()> {
    writeln!(w, "\nby week:")?;
    let max = weeks.iter().map(|x| x.count).max().unwrap_or(0).max(1);
    for x in weeks {
        let bar = "█".repeat(((x.count * 40).div_ceil(max)) as usize);
        writeln!(w, "  {}  {}  {:>7}  {}", x.week, x.start, x.count, bar)?;
    }
    Ok(())
}

fn write_csv(w: &mut dyn Write, hits: &[Hit]) -> minqing::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record([
        "id",
        "received_at",
        "channel",
        "region",
        "category",
        "status",
        "score",
        "title",
        "snippet",
    ])?;
    for h in hits {
        c.write_record([
            h.id.as_str(),
            &h.received_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            &h.channel,
            &h.region,
            h.category.as_deref().unwrap_or(""),
            h.status.as_deref().unwrap_or(""),
            &h.score.map(|s| format!("{s:.4}")).unwrap_or_default(),
            &h.title.render("[", "]"),
            &h.snippet.render("[", "]"),
        ])?;
    }
    c.flush().map_err(minqing::Error::io("write", "stdout"))?;
    Ok(())
}

fn hit_json(h: &Hit) -> serde_json::Value {
    serde_json::json!({
        "id": h.id,
        "score": h.score,
        "received_at": h.received_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        "channel": h.channel,
        "region": h.region,
        "category": h.category,
        "status": h.status,
        "responsible_unit": h.responsible_unit,
        "group_id": h.group_id,
        "title": h.title.html(),
        "snippet": h.snippet.html(),
        "title_text": h.title.text,
        "title_marks": h.title.marks,
        "snippet_text": h.snippet.text,
        "snippet_marks": h.snippet.marks,
    })
}

fn results_json(query: &str, req: &SearchRequest, res: &SearchResults) -> serde_json::Value {
    let mut v = serde_json::json!({
        "query": query,
        "total": res.total,
        "offset": req.offset,
        "limit": req.limit,
        "hits": res.hits.iter().map(hit_json).collect::<Vec<_>>(),
    });
    if let Some(f) = &res.facets {
        v["facets"] = serde_json::to_value(f).unwrap_or_default();
    }
    if let Some(weeks) = &res.weeks {
        v["weeks"] = serde_json::to_value(weeks).unwrap_or_default();
    }
    v
}
