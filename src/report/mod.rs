//! report stage: the weekly situation brief (信访形势周报) as `brief.html`, `brief.md` and
//! `brief.docx`.
//!
//! The brief is first built as a small document model ([`Doc`]: headed sections of paragraphs,
//! tables and chart references), then rendered twice, so both files carry the same numbers.
//! Every piece of petition text goes through [`crate::mask::text_for_output`] and the HTML
//! renderer escapes all text. No timestamps are written (they belong in run.json).

mod docx;
mod html;
mod markdown;
mod sections;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::calendar::PeriodKind;
use crate::charts::Chart;
use crate::error::Result;
use crate::fsutil::write_atomic;
use crate::schema::Record;
use crate::trends::Trends;

/// `[report]` in a pipeline file.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Issuing body shown under the title.
    pub issuer: String,
    /// Rows in ranking tables.
    pub max_rows: usize,
    /// Petition ids listed per appendix row before "等 N 件".
    pub max_ids: usize,
    /// The period `minqing run` briefs: `week` (the latest complete ISO week, 周报) or `month`
    /// (the latest complete calendar month, 月报).
    pub period: PeriodKind,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            issuer: "信访形势研判".into(),
            max_rows: 15,
            max_ids: 200,
            period: PeriodKind::Week,
        }
    }
}

/// What the method note says about the run.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct MethodNote {
    pub rows_read: u64,
    pub rows_stored: u64,
    pub rows_rejected: u64,
    pub duplicates: u64,
    pub inputs: Vec<String>,
    /// The settings that shape the brief's figures, as sentences ([`MethodNote::settings`]).
    pub settings: Vec<String>,
    /// How categories, regions and units the data lacks were inferred, as sentences.
    pub inferred: Vec<String>,
    /// Why the brief covers an earlier period than the data's latest (thin periods at the end).
    pub period: Option<String>,
}

impl MethodNote {
    /// The grouping and trend settings a reader of the brief needs, in Chinese with their units:
    /// what makes a case group, what counts as rising, what the KPIs count as on time.
    pub fn settings(
        cluster: &crate::cluster::Options,
        trends: &crate::trends::Options,
    ) -> Vec<String> {
        let c = cluster;
        let t = trends;
        vec![
            format!(
                "类案参数：同一对象的信访件与类案中心的文本相似度（余弦）达到{}即归入该类案，未识别出对象的需达到{}；两个类案中心的相似度达到{}时合并（同一对象且主要类别和责任单位相同的达到{}）；同一信访人再次反映且两件相似度达到{}的，标题含有相同罕见名称（至多见于{}条标题）、所指对象一致、至少一件识别出对象且相似度达到{}的，以及正文开头大部分相同且所指对象一致的，也归入同一类案（两个对象名称仅共有见于{}个以上对象名称的字段，如各“妇幼保健院”共有的“保健院”，不算同一对象）；类案至少{}件；热度和类案走势中的“近期”为数据最后{}周。",
                c.anchored_threshold,
                c.unanchored_threshold,
                c.merge_threshold,
                c.merge_threshold_same_office,
                c.repeat_threshold,
                c.rare_name_max_df,
                c.rare_name_threshold,
                c.name_fragment_max_names + 1,
                c.min_size.max(1),
                c.recent_weeks.max(1),
            ),
            format!(
                "趋势参数：基线为此前{}期；本期件次不少于{}且泊松上尾概率小于{}的列为明显上升（基线均值不足{}件次/期的按{}计）；类案走势比较最近{}期与此前{}期；及时受理为受理日期在登记后{}个工作日内，无办理期限的按登记后{}天计算按期办结。",
                t.baseline_weeks.max(1),
                t.min_count,
                t.p_threshold,
                t.min_lambda,
                t.min_lambda,
                t.trend_periods,
                t.trend_periods,
                t.accept_working_days,
                t.close_days,
            ),
        ]
    }
}

/// Files the report stage wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub html: PathBuf,
    pub markdown: PathBuf,
    pub docx: PathBuf,
}

/// A block of the brief.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Para(String),
    Bullets(Vec<String>),
    /// Caption, header, rows.
    Table(String, Vec<String>, Vec<Vec<String>>),
    /// Index into the charts slice.
    Chart(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub title: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub title: String,
    pub subtitle: String,
    pub sections: Vec<Section>,
}

/// What the brief says where the data has nothing to compute a figure from (never a zero).
pub const UNAVAILABLE: &str = "无数据";

/// What the report stage renders, and where.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The run folder: `brief.html` and `brief.md` go here.
    pub run_dir: &'a Path,
    /// The store's records (the appendix lists the period's ids from them).
    pub records: &'a [Record],
    pub trends: &'a Trends,
    pub charts: &'a [Chart],
    pub method: &'a MethodNote,
    /// Leave personal data unmasked (explicit opt-in).
    pub show_personal_data: bool,
}

/// Builds the brief's document model: nine sections, one builder each
/// ([`sections`](self::sections)).
pub fn build(input: &Input<'_>, opts: &Options) -> Doc {
    let cx = sections::Ctx {
        t: input.trends,
        records: input.records,
        charts: input.charts,
        method: input.method,
        opts,
        show: input.show_personal_data,
        has_state: input
            .records
            .iter()
            .any(|r| r.status.is_some() || r.closed_at.is_some()),
    };
    let t = input.trends;
    let sections = sections::all(&cx);
    Doc {
        title: format!(
            "信访形势{}（{}）",
            if t.period.is_week() {
                "周报"
            } else if t.period.is_month() {
                "月报"
            } else {
                "分析"
            },
            t.period.label
        ),
        subtitle: format!(
            "{} · 统计期 {}至{}",
            opts.issuer, t.period.from, t.period.to
        ),
        sections,
    }
}

/// The report stage: writes `RUN_DIR/brief.html`, `RUN_DIR/brief.md` and `RUN_DIR/brief.docx`.
pub fn run(input: Input<'_>, opts: &Options) -> Result<Written> {
    let doc = build(&input, opts);
    let html_path = input.run_dir.join("brief.html");
    let md_path = input.run_dir.join("brief.md");
    write_atomic(&md_path, markdown::render(&doc, input.charts).as_bytes())?;
    write_atomic(&html_path, html::render(&doc, input.charts).as_bytes())?;
    let docx_path = input.run_dir.join("brief.docx");
    write_atomic(&docx_path, &docx::render(&doc, input.charts)?)?;
    Ok(Written {
        html: html_path,
        markdown: md_path,
        docx: docx_path,
    })
}
