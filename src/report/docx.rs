//! Word rendering of the brief (`brief.docx`) in the layout of an official document (GB/T
//! 9704): A4, 3号仿宋 body with 28-point line spacing and a two-character first-line indent,
//! 黑体 section titles, a bold 2号 title, tables in 4号仿宋 and the charts as PNG pictures,
//! the page number centred in the footer (`- 1 -`). Built with the docx-rs crate.

use docx_rs::{
    AlignmentType, BreakType, Docx, FieldCharType, Footer, InstrPAGE, InstrText, LineSpacing,
    LineSpacingType, PageMargin, Paragraph, Pic, Run, RunFonts, SpecialIndentType, Table,
    TableCell, TableLayoutType, TableRow, WidthType,
};

use super::{Block, Doc};
use crate::charts::Chart;
use crate::error::{Error, Result};

/// Twips (1/20 pt) per millimetre.
const TWIPS_PER_MM: f64 = 56.7;
/// A4 in twips.
const A4: (u32, u32) = (11906, 16838);
/// GB/T 9704 margins in mm: top 37, bottom 35, left 28, right 26.
const MARGINS_MM: [f64; 4] = [37.0, 35.0, 28.0, 26.0];
/// Font sizes in half-points: 2号 22pt (title), 3号 16pt (body), 4号 14pt (tables, captions).
const TITLE: usize = 44;
const BODY: usize = 32;
const SMALL: usize = 28;
/// 5号 10.5 pt: the cells of a table too wide for 4号.
const TINY: usize = 21;
/// The body's fixed line spacing, 28 pt, in twips.
const LINE: i32 = 560;
/// English Metric Units per pixel at 96 dpi (pictures).
const EMU_PER_PX: u32 = 9525;

fn twips(mm: f64) -> i32 {
    (mm * TWIPS_PER_MM).round() as i32
}

fn fonts(east_asia: &str) -> RunFonts {
    RunFonts::new()
        .east_asia(east_asia)
        .ascii("Times New Roman")
        .hi_ansi("Times New Roman")
}

fn run(text: &str, font: &str, size: usize) -> Run {
    Run::new().add_text(text).fonts(fonts(font)).size(size)
}

/// A paragraph of the body's shape: indented by two characters, fixed line spacing.
fn indented(r: Run) -> Paragraph {
    Paragraph::new()
        .add_run(r)
        .indent(
            None,
            Some(SpecialIndentType::FirstLine(BODY as i32 * 20)),
            None,
            None,
        )
        .line_spacing(
            LineSpacing::new()
                .line_rule(LineSpacingType::Exact)
                .line(LINE),
        )
}

/// A body paragraph: 仿宋, justified.
fn body(text: &str) -> Paragraph {
    indented(run(text, "仿宋", BODY)).align(AlignmentType::Both)
}

fn centred(text: &str, font: &str, size: usize) -> Paragraph {
    Paragraph::new()
        .add_run(run(text, font, size))
        .align(AlignmentType::Center)
        .line_spacing(
            LineSpacing::new()
                .line_rule(LineSpacingType::Exact)
                .line(LINE),
        )
}

fn centred_bold(text: &str, font: &str, size: usize) -> Paragraph {
    Paragraph::new()
        .add_run(run(text, font, size).bold())
        .align(AlignmentType::Center)
}

/// `- N -` centred in the footer, in 4号宋体 as the standard has it.
fn page_number() -> Footer {
    let field = Run::new()
        .fonts(fonts("宋体"))
        .size(SMALL)
        .add_text("- ")
        .add_field_char(FieldCharType::Begin, false)
        .add_instr_text(InstrText::PAGE(InstrPAGE::new()))
        .add_field_char(FieldCharType::Separate, false)
        .add_text("1")
        .add_field_char(FieldCharType::End, false)
        .add_text(" -");
    Footer::new().add_paragraph(Paragraph::new().add_run(field).align(AlignmentType::Center))
}

/// Half the width of a CJK character of `size` half-points, in twips: the width of a digit.
fn half_em(size: usize) -> usize {
    size * 10 / 2
}

/// A cell's left and right padding in half-ems (LibreOffice wrapped `G0382` at two).
const PADDING: usize = 3;

/// Per column at font `size`, in twips: what it needs (its longest cell up to ten half-ems, so
/// ids, counts, percentages and short words never wrap, plus the cell padding) and what its
/// longest cell lacks beyond that.
fn needs(head: &[String], rows: &[Vec<String>], size: usize) -> (Vec<usize>, Vec<usize>) {
    let unit = half_em(size);
    let half_ems = |s: &str| -> usize { s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum() };
    (0..head.len())
        .map(|i| {
            let longest = std::iter::once(&head[i])
                .chain(rows.iter().filter_map(|r| r.get(i)))
                .map(|s| half_ems(s))
                .max()
                .unwrap_or(0)
                .min(80);
            (
                (longest.min(10) + PADDING) * unit,
                longest.saturating_sub(10) * unit,
            )
        })
        .unzip()
}

/// Column widths in twips summing to `width`: every column what it needs ([`needs`]), the room
/// left to the long columns in proportion to what they lack. `None` when the needs do not fit
/// at this font size.
fn column_widths(
    head: &[String],
    rows: &[Vec<String>],
    width: usize,
    size: usize,
) -> Option<Vec<usize>> {
    let (need, lack) = needs(head, rows, size);
    let (needed, lacking) = (need.iter().sum::<usize>(), lack.iter().sum::<usize>());
    if needed > width {
        return None;
    }
    if lacking == 0 {
        return Some(need.iter().map(|n| width * n / needed.max(1)).collect());
    }
    let room = (width - needed).min(lacking);
    let mut out: Vec<usize> = need
        .iter()
        .zip(&lack)
        .map(|(n, l)| n + room * l / lacking)
        .collect();
    // What rounding and an unneeded remainder leave goes to the last column: the table spans the
    // text width.
    let used: usize = out.iter().sum();
    if let Some(last) = out.last_mut() {
        *last += width - used;
    }
    Some(out)
}

/// A table spanning the text width, header row in 黑体, cells in 仿宋; a row is never split
/// across pages.
fn table(head: &[String], rows: &[Vec<String>], width: usize) -> Table {
    // 4号 where the columns fit, else 5号; a table wider still shares the width in proportion.
    let (size, widths) = [SMALL, TINY]
        .into_iter()
        .find_map(|size| column_widths(head, rows, width, size).map(|w| (size, w)))
        .unwrap_or_else(|| {
            let (need, _) = needs(head, rows, TINY);
            let needed = need.iter().sum::<usize>().max(1);
            (TINY, need.iter().map(|n| width * n / needed).collect())
        });
    // The header row keeps with the first row: never alone at the foot of a page.
    let cell = |text: &str, font: &str, w: usize, keep: bool| {
        TableCell::new()
            .add_paragraph(
                Paragraph::new()
                    .add_run(run(text, font, size))
                    .keep_next(keep),
            )
            .width(w, WidthType::Dxa)
    };
    let line = |cells: &[String], font: &str, keep: bool| {
        TableRow::new(
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| cell(c, font, *w, keep))
                .collect(),
        )
        .cant_split()
    };
    let mut out = vec![line(head, "黑体", true)];
    out.extend(rows.iter().map(|r| line(r, "仿宋", false)));
    // Fixed layout: Word, WPS and LibreOffice all keep these widths instead of fitting to content.
    Table::new(out)
        .set_grid(widths.clone())
        .layout(TableLayoutType::Fixed)
        .width(width, WidthType::Dxa)
}

/// A PNG's size in pixels, from its IHDR chunk (the first chunk after the 8-byte signature).
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 24 || &png[..8] != b"\x89PNG\r\n\x1a\n" || &png[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&png[16..20]), be(&png[20..24])))
}

/// A chart as a picture scaled to the text width (its title, drawn in the image, is its caption).
/// A chart without a PNG (no CJK font when the charts were drawn) is named instead.
fn chart(c: &Chart, text_width_twips: i32) -> Result<Paragraph> {
    let Some(path) = &c.png_path else {
        return Ok(body(&format!(
            "（图：{}，见 charts/{}.svg）",
            c.title, c.name
        )));
    };
    let png = std::fs::read(path).map_err(Error::io("reading a chart", path))?;
    let (w, h) = png_size(&png).ok_or_else(|| Error::Corrupt {
        path: path.clone(),
        message: "not a PNG".into(),
    })?;
    // Twips → EMU: 635 per twip.
    let max_w = text_width_twips as u32 * 635;
    let (mut ew, mut eh) = (w * EMU_PER_PX, h * EMU_PER_PX);
    if ew > max_w {
        eh = (eh as u64 * max_w as u64 / ew as u64) as u32;
        ew = max_w;
    }
    let pic = Pic::new_with_dimensions(png, w, h).size(ew, eh);
    Ok(Paragraph::new()
        .add_run(Run::new().add_image(pic))
        .align(AlignmentType::Center))
}

/// Renders `doc` as the bytes of a `.docx`.
pub fn render(doc: &Doc, charts: &[Chart]) -> Result<Vec<u8>> {
    let [top, bottom, left, right] = MARGINS_MM.map(twips);
    let text_width = A4.0 as i32 - left - right;
    let mut d = Docx::new()
        .page_size(A4.0, A4.1)
        .page_margin(
            PageMargin::new()
                .top(top)
                .bottom(bottom)
                .left(left)
                .right(right)
                .header(twips(15.0))
                .footer(twips(28.0) - twips(7.0)),
        )
        .default_fonts(fonts("仿宋"))
        .default_size(BODY)
        .footer(page_number())
        // 宋体 in bold for the title: 方正小标宋 is missing on most machines, and Word would
        // substitute an arbitrary font for it.
        .add_paragraph(centred_bold(&doc.title, "宋体", TITLE))
        .add_paragraph(centred(&doc.subtitle, "楷体", BODY))
        .add_paragraph(Paragraph::new());
    for s in &doc.sections {
        d = d.add_paragraph(indented(run(&s.title, "黑体", BODY)).keep_next(true));
        for b in &s.blocks {
            match b {
                Block::Para(p) => d = d.add_paragraph(body(p)),
                Block::Bullets(v) => {
                    for (i, item) in v.iter().enumerate() {
                        d = d.add_paragraph(body(&format!("{}. {item}", i + 1)));
                    }
                }
                Block::Table(cap, head, rows) => {
                    d = d
                        .add_paragraph(centred(cap, "黑体", SMALL).keep_next(true))
                        .add_table(table(head, rows, text_width as usize))
                        .add_paragraph(
                            Paragraph::new().add_run(Run::new().add_break(BreakType::TextWrapping)),
                        );
                }
                Block::Chart(i) => {
                    if let Some(c) = charts.get(*i) {
                        d = d.add_paragraph(chart(c, text_width)?);
                    }
                }
            }
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    d.build()
        .pack(&mut out)
        .map_err(|e| Error::Internal(format!("writing brief.docx: {e}")))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Section;

    #[test]
    fn short_columns_do_not_wrap_and_the_table_spans_the_text_width() {
        let head = ["编号", "类案", "走势"].map(String::from).to_vec();
        let rows = vec![vec![
            "G0382".into(),
            "伊景园滨河苑 捆绑销售车位".repeat(3),
            "上升".into(),
        ]];
        let w = column_widths(&head, &rows, 8845, SMALL).unwrap();
        assert_eq!(w.iter().sum::<usize>(), 8845);
        assert!(
            w[0] >= 8 * half_em(SMALL) && w[2] >= 7 * half_em(SMALL),
            "{w:?}"
        );
        // Too many columns for 4号: the caller takes 5号.
        let wide = vec!["类案名称".to_string(); 12];
        assert_eq!(column_widths(&wide, &[], 8845, SMALL), None);
        assert!(column_widths(&wide[..7], &[], 8845, TINY).is_some());
        assert!(w[1] > w[0] * 4, "{w:?}");
    }

    #[test]
    fn png_size_reads_the_header() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend(640u32.to_be_bytes());
        png.extend(480u32.to_be_bytes());
        assert_eq!(png_size(&png), Some((640, 480)));
        assert_eq!(png_size(b"GIF89a"), None);
    }

    #[test]
    fn the_brief_is_a_word_document_with_its_text_a4_and_a_page_number() {
        let doc = Doc {
            title: "信访形势周报（2019-W33）".into(),
            subtitle: "信访形势研判".into(),
            sections: vec![Section {
                title: "一、总体情况".into(),
                blocks: vec![
                    Block::Para("本期受理<信访>&件".into()),
                    Block::Table(
                        "表1".into(),
                        vec!["类别".into()],
                        vec![vec!["城乡建设".into()]],
                    ),
                ],
            }],
        };
        let bytes = render(&doc, &[]).unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("word/document.xml").unwrap(), &mut xml)
            .unwrap();
        // Escaped text, A4, the body font.
        assert!(xml.contains("本期受理&lt;信访&gt;&amp;件"), "{xml}");
        assert!(xml.contains(r#"w:w="11906""#) && xml.contains(r#"w:h="16838""#));
        assert!(xml.contains("城乡建设"));
        let names: Vec<String> = zip.file_names().map(String::from).collect();
        assert!(
            names.iter().any(|n| n.starts_with("word/footer")),
            "{names:?}"
        );
    }
}
