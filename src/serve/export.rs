//! Spreadsheet downloads (search hits, a group's members): personal data masked, every cell
//! neutralised against formula injection ([`crate::fsutil::csv_safe`]), CSV with a byte-order
//! mark so Excel reads the Chinese as UTF-8.

use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::app::PageError;
use super::view::{channel_zh, day, masked, minute};
use crate::cluster::Group;
use crate::fsutil::csv_safe;
use crate::mask::mask_id;
use crate::schema::Record;

/// Rows a search export holds at most (the page says so).
pub const MAX_ROWS: usize = 10_000;

/// One sheet of a download.
pub struct Sheet {
    pub name: &'static str,
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// The columns of a petition row.
pub const PETITION_HEADER: [&str; 14] = [
    "编号",
    "登记时间",
    "渠道",
    "地区",
    "问题分类",
    "责任单位",
    "办理状态",
    "类案",
    "信访人",
    "人数",
    "标题",
    "诉求内容",
    "答复意见",
    "答复时间",
];

/// A petition as a row of [`PETITION_HEADER`], masked.
pub fn petition_row(r: &Record, group: Option<&Group>) -> Vec<String> {
    vec![
        r.id.to_string(),
        minute(&r.received_at),
        channel_zh(r.channel.code()),
        r.region_path(),
        r.category.as_deref().unwrap_or_default().to_string(),
        r.responsible_unit
            .as_deref()
            .unwrap_or_default()
            .to_string(),
        r.status.as_deref().unwrap_or_default().to_string(),
        group.map_or_else(String::new, |g| format!("{} {}", g.id, g.label)),
        r.petitioner.as_deref().map(mask_id).unwrap_or_default(),
        r.headcount.to_string(),
        masked(&r.title, false),
        masked(&r.content, false),
        masked(r.reply().unwrap_or_default(), false),
        r.replied_at.as_ref().map(day).unwrap_or_default(),
    ]
}

/// The format a download was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn parse(s: Option<&str>) -> Result<Format, PageError> {
        match s.unwrap_or("xlsx") {
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            other => Err(PageError::BadRequest(format!(
                "不支持导出为“{other}”，请选择 xlsx 或 csv。"
            ))),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// The download: the first sheet as CSV, or every sheet in one workbook.
pub fn download(sheets: &[Sheet], format: Format, file_stem: &str) -> Result<Response, PageError> {
    let (bytes, mime) = match format {
        Format::Csv => (csv(&sheets[0])?, "text/csv; charset=utf-8"),
        Format::Xlsx => (
            xlsx(sheets)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    };
    // An ASCII name for every browser, the Chinese one for those that read RFC 6266.
    let disposition = format!(
        "attachment; filename=\"{}.{}\"",
        file_stem.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
        format.code()
    );
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

fn csv(sheet: &Sheet) -> Result<Vec<u8>, PageError> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        let fail = |e: csv::Error| PageError::Internal(format!("csv export: {e}"));
        w.write_record(&sheet.header).map_err(fail)?;
        for r in &sheet.rows {
            w.write_record(r.iter().map(|c| csv_safe(c).into_owned()))
                .map_err(fail)?;
        }
        w.flush()
            .map_err(|e| PageError::Internal(format!("csv export: {e}")))?;
    }
    Ok(out)
}

fn xlsx(sheets: &[Sheet]) -> Result<Vec<u8>, PageError> {
    let fail = |e: rust_xlsxwriter::XlsxError| PageError::Internal(format!("xlsx export: {e}"));
    let mut wb = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for s in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(s.name).map_err(fail)?;
        for (c, h) in s.header.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)
                .map_err(fail)?;
            // Long text columns wide, the rest as wide as their heading needs.
            let width = match *h {
                "诉求内容" | "答复意见" | "标题" | "类案" | "内容摘要" => 40.0,
                _ => 14.0,
            };
            ws.set_column_width(c as u16, width).map_err(fail)?;
        }
        for (i, r) in s.rows.iter().enumerate() {
            for (c, v) in r.iter().enumerate() {
                ws.write_string(i as u32 + 1, c as u16, csv_safe(v).as_ref())
                    .map_err(fail)?;
            }
        }
    }
    wb.save_to_buffer().map_err(fail)
}
