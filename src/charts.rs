//! charts stage: the brief's figures in `RUN_DIR/charts/`, as SVG always and PNG when a CJK font
//! is available.
//!
//! Each chart is laid out once, as a list of shapes (rectangles, lines, polylines, text), and
//! rendered twice:
//! - **SVG**, written directly: Chinese text is set by the viewer with the CJK font-family list
//!   below, the file is byte-for-byte deterministic and no font file is needed.
//! - **PNG**, drawn with plotters' bitmap backend, for pasting into Word or WeChat: it needs a
//!   CJK font file — `[charts] font = "…"` in the pipeline file, or the first one found in the
//!   system font folders (Noto/Source Han Sans CJK, WenQuanYi, Microsoft YaHei, SimHei, Droid
//!   Sans Fallback). Without one, no PNG is written and the run says so.
//!
//! Label widths are estimated (CJK = 1 em, ASCII = 0.6 em) and long labels are shortened with
//! `…`, so labels never overlap in either rendering.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Result;
use crate::fmt::{escape_html as esc, thousands};
use crate::fsutil::write_atomic;
use crate::mask::text_for_output;
use crate::schema::Channel;
use crate::trends::Trends;

/// `[charts]` in a pipeline file.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// CSS font-family list written into every SVG.
    pub font_family: String,
    /// Series colours, used in order (channels, categories…).
    pub palette: Vec<String>,
    /// Rows in ranking charts.
    pub max_rows: usize,
    /// CJK font file (.ttf/.otf/.ttc) for the PNG copies; empty = search the system font folders;
    /// `"none"` = SVG only.
    pub font: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            font_family: "Noto Sans CJK SC, Source Han Sans SC, WenQuanYi Micro Hei, Microsoft YaHei, SimHei, PingFang SC, sans-serif".into(),
            palette: ["#1f4e79", "#c0504d", "#4f8a3c", "#d9822b", "#7a5195", "#3b9ab2", "#8c8c8c"]
                .map(String::from)
                .to_vec(),
            max_rows: 12,
            font: String::new(),
        }
    }
}

/// One chart written.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// File stem, e.g. `weekly_channel`.
    pub name: String,
    pub title: String,
    pub svg_path: PathBuf,
    /// The SVG text, for inlining into the HTML brief.
    pub svg: String,
    /// PNG copy, when a CJK font was available (see the module note).
    pub png_path: Option<PathBuf>,
}

/// Estimated width in px of `s` at `size` px.
pub fn text_width(s: &str, size: f64) -> f64 {
    s.chars()
        .map(|c| if c.is_ascii() { 0.6 } else { 1.0 })
        .sum::<f64>()
        * size
}

/// Shortens `s` to fit `max` px at `size` px.
pub fn fit(s: &str, size: f64, max: f64) -> String {
    if text_width(s, size) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        if text_width(&out, size) + text_width(&c.to_string(), size) + size > max {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// One shape of a chart's layout, in SVG user units (px).
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        fill: String,
    },
    Line {
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        stroke: String,
    },
    Polyline {
        points: Vec<(f64, f64)>,
        stroke: String,
        width: u32,
    },
    /// `y` is the baseline; `anchor` is start / middle / end.
    Text {
        x: f64,
        y: f64,
        size: f64,
        bold: bool,
        anchor: String,
        fill: String,
        text: String,
    },
}

/// A chart laid out: its size and shapes, rendered to SVG and (with a font) PNG.
#[derive(Debug, Clone, PartialEq)]
struct Drawing {
    w: f64,
    h: f64,
    shapes: Vec<Shape>,
}

struct Svg {
    s: String,
    d: Drawing,
}

impl Svg {
    fn new(w: f64, h: f64, title: &str, font: &str) -> Svg {
        let mut s = String::new();
        let _ = write!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{}" role="img" aria-label="{}"><rect width="{w}" height="{h}" fill="#ffffff"/><text x="12" y="24" font-size="16" font-weight="bold" fill="#222">{}</text>"##,
            esc(font),
            esc(title),
            esc(title)
        );
        let shapes = vec![Shape::Text {
            x: 12.0,
            y: 24.0,
            size: 16.0,
            bold: true,
            anchor: "start".into(),
            fill: "#222".into(),
            text: title.to_string(),
        }];
        Svg {
            s,
            d: Drawing { w, h, shapes },
        }
    }
    fn text(&mut self, x: f64, y: f64, size: f64, anchor: &str, fill: &str, t: &str) {
        let _ = write!(
            self.s,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" text-anchor="{anchor}" fill="{fill}">{}</text>"#,
            esc(t)
        );
        self.d.shapes.push(Shape::Text {
            x,
            y,
            size,
            bold: false,
            anchor: anchor.into(),
            fill: fill.into(),
            text: t.into(),
        });
    }
    /// A row's label, right-aligned before the plot that starts at `label_w`, shortened to fit.
    fn row_label(&mut self, label_w: f64, y: f64, label: &str) {
        let text = fit(label, 12.0, label_w - 16.0);
        self.text(label_w - 8.0, y, 12.0, "end", "#333", &text);
    }
    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str) {
        let _ = write!(
            self.s,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}"/>"#
        );
        self.d.shapes.push(Shape::Rect {
            x,
            y,
            w,
            h,
            fill: fill.into(),
        });
    }
    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str) {
        let _ = write!(
            self.s,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{stroke}" stroke-width="1"/>"#
        );
        self.d.shapes.push(Shape::Line {
            x1,
            y1,
            x2,
            y2,
            stroke: stroke.into(),
        });
    }
    fn polyline(&mut self, points: &[(f64, f64)], stroke: &str, width: u32) {
        let pts: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = write!(
            self.s,
            r#"<polyline points="{}" fill="none" stroke="{stroke}" stroke-width="{width}"/>"#,
            pts.join(" ")
        );
        self.d.shapes.push(Shape::Polyline {
            points: points.to_vec(),
            stroke: stroke.into(),
            width,
        });
    }
    fn finish(mut self) -> (String, Drawing) {
        self.s.push_str("</svg>\n");
        (self.s, self.d)
    }
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * mag >= v {
            return m * mag;
        }
    }
    10.0 * mag
}

fn week_short(label: &str) -> String {
    // "2019-W33" → "W33"; ranges keep their start date.
    label
        .split_once("-W")
        .map(|(_, w)| format!("W{w}"))
        .unwrap_or_else(|| label.chars().take(10).collect())
}

/// Horizontal bars: (label, value, annotation).
fn hbars(
    fixed_max: Option<f64>,
    title: &str,
    unit: &str,
    rows: &[(String, f64, String)],
    o: &Options,
    color: &str,
) -> (String, Drawing) {
    let n = rows.len().max(1);
    let (w, row_h, top, label_w) = (760.0, 24.0, 48.0, 220.0);
    let h = top + n as f64 * row_h + 36.0;
    let mut s = Svg::new(w, h, title, &o.font_family);
    let max = fixed_max.unwrap_or_else(|| nice_max(rows.iter().map(|r| r.1).fold(0.0, f64::max)));
    let plot_w = w - label_w - 150.0;
    if rows.is_empty() {
        s.text(w / 2.0, top + 16.0, 13.0, "middle", "#666", "无数据");
    }
    for (i, (label, v, note)) in rows.iter().enumerate() {
        let y = top + i as f64 * row_h;
        s.row_label(label_w, y + 16.0, label);
        let bw = (v / max * plot_w).max(if *v > 0.0 { 1.0 } else { 0.0 });
        s.rect(label_w, y + 4.0, bw, row_h - 8.0, color);
        s.text(label_w + bw + 6.0, y + 16.0, 11.0, "start", "#333", note);
    }
    let axis_y = top + n as f64 * row_h + 4.0;
    s.line(label_w, top, label_w, axis_y, "#999");
    s.text(
        label_w + plot_w,
        axis_y + 18.0,
        11.0,
        "end",
        "#666",
        &format!("单位：{unit}"),
    );
    s.finish()
}

fn fmt_pct(p: Option<f64>) -> String {
    match p {
        Some(v) => format!("{}{:.1}%", if v > 0.0 { "+" } else { "" }, v),
        None => "—".into(),
    }
}

/// What the charts stage draws, and where.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub trends: &'a Trends,
    /// `RUN_DIR/charts/`.
    pub charts_dir: &'a Path,
    /// Leave group labels unmasked.
    pub show_personal_data: bool,
}

/// A chart laid out: file stem, title, SVG text and shapes.
type LaidOut = (&'static str, String, (String, Drawing));

/// Series colour `i` of the palette.
fn pal(o: &Options, i: usize) -> String {
    o.palette
        .get(i % o.palette.len().max(1))
        .cloned()
        .unwrap_or_else(|| "#1f4e79".into())
}

/// The charts stage: lays out the brief's six charts and writes each as SVG (and PNG when a CJK
/// font is available).
pub fn run(input: Input<'_>, opts: &Options) -> Result<Vec<Chart>> {
    let Input {
        trends,
        charts_dir,
        show_personal_data,
    } = input;
    let o = opts;
    // The periods the charts step through: weeks for a 周报, months for a 月报.
    let per = if trends.period.is_week() {
        "周"
    } else if trends.period.is_month() {
        "月"
    } else {
        "期"
    };
    let out = [
        weekly_channel(trends, per, o),
        category_share(trends, o),
        region_rank(trends, o),
        category_heat(trends, per, o),
        group_sparklines(trends, per, o, show_personal_data),
        unit_kpi(trends, o),
    ];
    let font = png_font(&o.font);
    let mut charts = Vec::new();
    for (name, title, (svg, drawing)) in out {
        let path = charts_dir.join(format!("{name}.svg"));
        write_atomic(&path, svg.as_bytes())?;
        let png_path = match font {
            Some(_) => {
                let p = charts_dir.join(format!("{name}.png"));
                render_png(&drawing, &p)?;
                Some(p)
            }
            None => None,
        };
        charts.push(Chart {
            name: name.to_string(),
            title,
            svg_path: path,
            svg,
            png_path,
        });
    }
    Ok(charts)
}

/// Weekly volume by channel, stacked.
fn weekly_channel(trends: &Trends, per: &str, o: &Options) -> LaidOut {
    let title = &format!("近期各{per}信访量（按渠道）");
    let used: Vec<usize> = (0..Channel::ALL.len())
        .filter(|c| trends.weekly_by_channel.iter().any(|w| w[*c] > 0))
        .collect();
    let (w, h, left, top, bottom) = (760.0, 320.0, 56.0, 56.0, 260.0);
    let mut s = Svg::new(w, h, title, &o.font_family);
    let n = trends.weeks.len().max(1);
    let max = (nice_max(
        trends
            .weekly_by_channel
            .iter()
            .map(|x| x.iter().sum::<u64>() as f64)
            .fold(0.0, f64::max),
    ) / 4.0)
        .ceil()
        * 4.0;
    let plot_w = w - left - 24.0;
    let slot = plot_w / n as f64;
    for t in 0..=4 {
        let v = max * t as f64 / 4.0;
        let y = bottom - (bottom - top) * t as f64 / 4.0;
        s.line(left, y, left + plot_w, y, "#e5e5e5");
        s.text(
            left - 6.0,
            y + 4.0,
            11.0,
            "end",
            "#666",
            &thousands(v.round() as u64),
        );
    }
    for (i, wk) in trends.weeks.iter().enumerate() {
        let x = left + i as f64 * slot + slot * 0.2;
        let mut y = bottom;
        for (k, c) in used.iter().enumerate() {
            let v = trends.weekly_by_channel[i][*c] as f64;
            let bh = v / max * (bottom - top);
            y -= bh;
            s.rect(x, y, slot * 0.6, bh, &pal(o, k));
        }
        let tot: u64 = trends.weekly_by_channel[i].iter().sum();
        s.text(
            x + slot * 0.3,
            y - 4.0,
            10.0,
            "middle",
            "#333",
            &thousands(tot),
        );
        s.text(
            x + slot * 0.3,
            bottom + 16.0,
            11.0,
            "middle",
            "#333",
            &week_short(&wk.label),
        );
    }
    s.line(left, bottom, left + plot_w, bottom, "#999");
    s.text(left - 6.0, top - 10.0, 11.0, "start", "#666", "件次");
    let mut lx = left;
    for (k, c) in used.iter().enumerate() {
        s.rect(lx, bottom + 32.0, 12.0, 12.0, &pal(o, k));
        let name = Channel::ALL[*c].zh();
        s.text(lx + 16.0, bottom + 42.0, 12.0, "start", "#333", name);
        lx += 16.0 + text_width(name, 12.0) + 18.0;
    }
    ("weekly_channel", title.to_string(), s.finish())
}

/// Category share with change.
fn category_share(trends: &Trends, o: &Options) -> LaidOut {
    let title = "本期问题分类分布（件次，括注占比与环比）";
    let total = trends.total.current.max(1) as f64;
    let rows: Vec<_> = trends
        .categories
        .iter()
        .filter(|c| c.count.current > 0)
        .take(o.max_rows)
        .map(|c| {
            let v = c.count.current as f64;
            (
                c.name.clone(),
                v,
                format!(
                    "{}（{:.1}%，环比{}）",
                    thousands(c.count.current),
                    v / total * 100.0,
                    fmt_pct(c.count.wow())
                ),
            )
        })
        .collect();
    (
        "category_share",
        title.to_string(),
        hbars(None, title, "件次", &rows, o, &pal(o, 0)),
    )
}

/// Region ranking (county level when present, else city).
fn region_rank(trends: &Trends, o: &Options) -> LaidOut {
    let lvl = if trends.regions[1].is_empty() { 0 } else { 1 };
    let title = if lvl == 1 {
        "本期区县信访量排名"
    } else {
        "本期地区信访量排名"
    };
    let rows: Vec<_> = trends.regions[lvl]
        .iter()
        .filter(|c| c.count.current > 0)
        .take(o.max_rows)
        .map(|c| {
            (
                c.name.clone(),
                c.count.current as f64,
                format!("{} 件次", thousands(c.count.current)),
            )
        })
        .collect();
    (
        "region_rank",
        title.to_string(),
        hbars(None, title, "件次", &rows, o, &pal(o, 1)),
    )
}

/// Category × week heat table.
fn category_heat(trends: &Trends, per: &str, o: &Options) -> LaidOut {
    let title = &format!("分类 × {per} 信访量热力表（件次）");
    let cats: Vec<_> = trends.categories.iter().take(o.max_rows).collect();
    let n = trends.weeks.len().max(1);
    let (label_w, cell_w, cell_h, top) = (200.0, 58.0, 24.0, 64.0);
    let w = label_w + cell_w * n as f64 + 16.0;
    let h = top + cell_h * cats.len().max(1) as f64 + 16.0;
    let mut s = Svg::new(w, h, title, &o.font_family);
    let max = cats
        .iter()
        .flat_map(|c| c.weekly.iter())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    for (i, wk) in trends.weeks.iter().enumerate() {
        s.text(
            label_w + (i as f64 + 0.5) * cell_w,
            top - 8.0,
            11.0,
            "middle",
            "#333",
            &week_short(&wk.label),
        );
    }
    if cats.is_empty() {
        s.text(w / 2.0, top + 16.0, 13.0, "middle", "#666", "无分类数据");
    }
    for (r, c) in cats.iter().enumerate() {
        let y = top + r as f64 * cell_h;
        s.row_label(label_w, y + 16.0, &c.name);
        for (i, v) in c.weekly.iter().enumerate() {
            let t = *v as f64 / max;
            // white → dark blue
            let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
            let fill = format!(
                "#{:02x}{:02x}{:02x}",
                mix(255.0, 31.0),
                mix(255.0, 78.0),
                mix(255.0, 121.0)
            );
            let x = label_w + i as f64 * cell_w;
            s.rect(x + 1.0, y + 1.0, cell_w - 2.0, cell_h - 2.0, &fill);
            let fg = if t > 0.55 { "#fff" } else { "#222" };
            s.text(
                x + cell_w / 2.0,
                y + 16.0,
                11.0,
                "middle",
                fg,
                &thousands(*v),
            );
        }
    }
    ("category_heat", title.to_string(), s.finish())
}

/// Top groups' weekly sparklines.
fn group_sparklines(trends: &Trends, per: &str, o: &Options, show_personal_data: bool) -> LaidOut {
    let title = &format!("主要同质化类案近期走势（件次/{per}）");
    let gs: Vec<_> = trends.groups.iter().take(o.max_rows.min(10)).collect();
    let (label_w, spark_w, row_h, top) = (300.0, 360.0, 30.0, 44.0);
    let w = label_w + spark_w + 120.0;
    let h = top + row_h * gs.len().max(1) as f64 + 12.0;
    let mut s = Svg::new(w, h, title, &o.font_family);
    if gs.is_empty() {
        s.text(
            w / 2.0,
            top + 16.0,
            13.0,
            "middle",
            "#666",
            "本期无类案数据",
        );
    }
    for (r, g) in gs.iter().enumerate() {
        let y = top + r as f64 * row_h;
        let label = format!("{} {}", g.id, text_for_output(&g.label, show_personal_data));
        s.text(
            label_w - 8.0,
            y + 19.0,
            12.0,
            "end",
            "#333",
            &fit(&label, 12.0, label_w - 16.0),
        );
        let max = g.weekly.iter().copied().max().unwrap_or(0).max(1) as f64;
        let n = g.weekly.len().max(2) - 1;
        let pts: Vec<(f64, f64)> = g
            .weekly
            .iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    label_w + spark_w * i as f64 / n as f64,
                    y + row_h - 6.0 - (row_h - 12.0) * *v as f64 / max,
                )
            })
            .collect();
        s.line(
            label_w,
            y + row_h - 6.0,
            label_w + spark_w,
            y + row_h - 6.0,
            "#e5e5e5",
        );
        let color = if g.rising || g.new {
            "#c0504d"
        } else {
            "#1f4e79"
        };
        s.polyline(&pts, color, 2);
        s.text(
            label_w + spark_w + 10.0,
            y + 19.0,
            12.0,
            "start",
            "#333",
            &format!("本期 {} 件", thousands(g.in_period)),
        );
    }
    ("group_sparklines", title.to_string(), s.finish())
}

/// KPI per unit: 按期办结率 (or 及时受理率).
fn unit_kpi(trends: &Trends, o: &Options) -> LaidOut {
    let title = "各责任单位按期办结率（%）";
    let rows: Vec<_> = trends
        .kpi_units
        .iter()
        .filter_map(|k| {
            k.on_time_close.map(|r| {
                (
                    k.name.clone(),
                    r.pct(),
                    format!("{:.1}%（{}/{}）", r.pct(), r.num, r.den),
                )
            })
        })
        .take(o.max_rows)
        .collect();
    (
        "unit_kpi",
        title.to_string(),
        hbars(Some(100.0), title, "%", &rows, o, &pal(o, 2)),
    )
}

/// The CJK font used for PNG copies this run, registered with plotters once per process:
/// `configured` (a path; `"none"` = no PNG), else the first CJK font found in the system font
/// folders (searched in sorted order, so the choice is stable). `None` = SVG only.
pub fn png_font(configured: &str) -> Option<PathBuf> {
    use std::sync::Mutex;
    static REGISTERED: Mutex<Option<PathBuf>> = Mutex::new(None);
    if configured.eq_ignore_ascii_case("none") {
        return None;
    }
    let wanted = if configured.is_empty() {
        find_cjk_font()?
    } else {
        PathBuf::from(configured)
    };
    let mut reg = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    if reg.as_ref() == Some(&wanted) {
        return Some(wanted);
    }
    let bytes = std::fs::read(&wanted).ok()?;
    // plotters keeps fonts for the life of the process; one font per distinct path
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font(PNG_FONT, plotters::style::FontStyle::Normal, bytes).ok()?;
    plotters::style::register_font(PNG_FONT, plotters::style::FontStyle::Bold, bytes).ok()?;
    *reg = Some(wanted.clone());
    Some(wanted)
}

/// Family name the PNG renderer registers its font under.
const PNG_FONT: &str = "minqing-cjk";

/// File-name patterns of common CJK fonts, best first.
const CJK_FONTS: &[&str] = &[
    "notosanscjk",
    "notosanssc",
    "sourcehansans",
    "wqy-microhei",
    "wqy-zenhei",
    "msyh",
    "simhei",
    "droidsansfallback",
    "notoserifcjk",
];

fn find_cjk_font() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = vec![
        "/usr/share/fonts".into(),
        "/usr/local/share/fonts".into(),
        "C:/Windows/Fonts".into(),
        "/System/Library/Fonts".into(),
        "/Library/Fonts".into(),
    ];
    if let Some(home) = std::env::var_os("HOME") {
        let home = PathBuf::from(home);
        dirs.push(home.join(".fonts"));
        dirs.push(home.join(".local/share/fonts"));
    }
    let mut files = Vec::new();
    for d in dirs {
        collect_fonts(&d, 0, &mut files);
    }
    files.sort();
    CJK_FONTS.iter().find_map(|pat| {
        files
            .iter()
            .find(|f| {
                let name = f
                    .file_name()
                    .map(|n| n.to_string_lossy().to_lowercase())
                    .unwrap_or_default();
                name.contains(pat) && !name.contains("bold") && !name.contains("mono")
            })
            .cloned()
    })
}

fn collect_fonts(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() && depth < 4 {
            collect_fonts(&p, depth + 1, out);
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| matches!(x.to_ascii_lowercase().as_str(), "ttf" | "otf" | "ttc"))
        {
            out.push(p);
        }
    }
}

fn rgb(hex: &str) -> plotters::style::RGBColor {
    let h = hex.trim_start_matches('#');
    let v = |i: usize| u8::from_str_radix(h.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
    if h.len() == 3 {
        let d = |i: usize| u8::from_str_radix(&h[i..i + 1].repeat(2), 16).unwrap_or(0);
        return plotters::style::RGBColor(d(0), d(1), d(2));
    }
    plotters::style::RGBColor(v(0), v(2), v(4))
}

/// Draws a laid-out chart with plotters' bitmap backend (at 2× for print) into `path`, via a
/// temporary file and a rename.
fn render_png(d: &Drawing, path: &Path) -> Result<()> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    const SCALE: f64 = 2.0;
    let px = |v: f64| (v * SCALE).round() as i32;
    // The image encoder picks the format from the extension, so the temporary name ends in
    // .png; its prefix lets the next run sweep it up if this one is killed mid-write. It is a
    // fresh random name created exclusively, never a fixed one: a link planted at a fixed name
    // would be followed and the chart written wherever it points.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp_file = tempfile::Builder::new()
        .prefix(".minqing-tmp-")
        .suffix(".png")
        .tempfile_in(dir)
        .map_err(crate::error::Error::io("create a temporary file in", dir))?
        .into_temp_path();
    let tmp: &Path = &tmp_file;
    let err = |e: String| crate::error::Error::Io {
        action: "draw",
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    };
    {
        let size = ((d.w * SCALE) as u32, (d.h * SCALE) as u32);
        let root = BitMapBackend::new(tmp, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        for sh in &d.shapes {
            let r = match sh {
                Shape::Rect { x, y, w, h, fill } => root.draw(&Rectangle::new(
                    [(px(*x), px(*y)), (px(x + w), px(y + h))],
                    rgb(fill).filled(),
                )),
                Shape::Line {
                    x1,
                    y1,
                    x2,
                    y2,
                    stroke,
                } => root.draw(&PathElement::new(
                    vec![(px(*x1), px(*y1)), (px(*x2), px(*y2))],
                    rgb(stroke).stroke_width(SCALE as u32),
                )),
                Shape::Polyline {
                    points,
                    stroke,
                    width,
                } => root.draw(&PathElement::new(
                    points
                        .iter()
                        .map(|(x, y)| (px(*x), px(*y)))
                        .collect::<Vec<_>>(),
                    rgb(stroke).stroke_width(width * SCALE as u32),
                )),
                Shape::Text {
                    x,
                    y,
                    size,
                    bold,
                    anchor,
                    fill,
                    text,
                } => {
                    let h = match anchor.as_str() {
                        "middle" => HPos::Center,
                        "end" => HPos::Right,
                        _ => HPos::Left,
                    };
                    let style = if *bold {
                        FontStyle::Bold
                    } else {
                        FontStyle::Normal
                    };
                    let font = FontDesc::new(FontFamily::Name(PNG_FONT), size * SCALE, style)
                        .color(&rgb(fill))
                        .pos(Pos::new(h, VPos::Bottom));
                    // the SVG y is the baseline; the bottom of the text box sits a little lower
                    root.draw(&Text::new(text.clone(), (px(*x), px(y + size * 0.2)), font))
                }
            };
            r.map_err(|e| err(e.to_string()))?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    tmp_file
        .persist(path)
        .map_err(|e| crate::error::Error::io("rename", path)(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse() {
        assert_eq!(rgb("#1f4e79"), plotters::style::RGBColor(0x1f, 0x4e, 0x79));
        assert_eq!(rgb("#222"), plotters::style::RGBColor(0x22, 0x22, 0x22));
    }

    #[test]
    fn svg_and_shapes_agree() {
        let mut s = Svg::new(100.0, 50.0, "标题", "sans-serif");
        s.rect(1.0, 2.0, 3.0, 4.0, "#fff");
        s.polyline(&[(0.0, 0.0), (10.0, 5.0)], "#000", 2);
        let (svg, d) = s.finish();
        assert!(svg.contains(r#"<polyline points="0.0,0.0 10.0,5.0""#));
        assert_eq!(d.shapes.len(), 3); // title, rect, polyline
        assert!(png_font("none").is_none());
    }

    #[test]
    fn png_is_drawn_with_a_cjk_font_and_is_deterministic() {
        let Some(_font) = png_font("") else {
            eprintln!("no CJK font on this machine: PNG rendering not tested");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let mut s = Svg::new(200.0, 80.0, "信访量（件次）", "sans-serif");
        s.rect(10.0, 40.0, 30.0, 20.0, "#c0504d");
        s.text(100.0, 60.0, 12.0, "middle", "#333", "海棠小区 房产证");
        let (_, d) = s.finish();
        let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
        render_png(&d, &a).unwrap();
        render_png(&d, &b).unwrap();
        let (x, y) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        assert!(x.starts_with(b"\x89PNG"));
        assert_eq!(x, y);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
