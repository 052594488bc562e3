//! charts stage: the brief's figures as SVG files in `RUN_DIR/charts/`.
//!
//! The SVG is written directly (not through a rasterising backend) so Chinese text is laid out by
//! the viewer with the CJK font-family list below, output is byte-for-byte deterministic and no
//! font file is needed at build or run time. Label widths are estimated (CJK = 1 em, ASCII
//! = 0.6 em) and long labels are shortened with `…`, so labels never overlap.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Result;
use crate::fsutil::write_atomic;
use crate::mask::text_for_output;
use crate::schema::Channel;
use crate::trends::Trends;

/// `[charts]` in a pipeline file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// CSS font-family list written into every SVG.
    pub font_family: String,
    /// Series colours, used in order (channels, categories…).
    pub palette: Vec<String>,
    /// Rows in ranking charts.
    pub max_rows: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            font_family: "Noto Sans CJK SC, Source Han Sans SC, WenQuanYi Micro Hei, Microsoft YaHei, SimHei, PingFang SC, sans-serif".into(),
            palette: ["#1f4e79", "#c0504d", "#4f8a3c", "#d9822b", "#7a5195", "#3b9ab2", "#8c8c8c"]
                .map(String::from)
                .to_vec(),
            max_rows: 12,
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
    /// PNG copy (not produced by this build; see the module note).
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

/// XML-escapes text for SVG.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

struct Svg {
    s: String,
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
        Svg { s }
    }
    fn text(&mut self, x: f64, y: f64, size: f64, anchor: &str, fill: &str, t: &str) {
        let _ = write!(
            self.s,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" text-anchor="{anchor}" fill="{fill}">{}</text>"#,
            esc(t)
        );
    }
    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str) {
        let _ = write!(
            self.s,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}"/>"#
        );
    }
    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str) {
        let _ = write!(
            self.s,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{stroke}" stroke-width="1"/>"#
        );
    }
    fn finish(mut self) -> String {
        self.s.push_str("</svg>\n");
        self.s
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
) -> String {
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
        s.text(
            label_w - 8.0,
            y + 16.0,
            12.0,
            "end",
            "#333",
            &fit(label, 12.0, label_w - 16.0),
        );
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

/// Writes the charts; `show_personal_data` leaves group labels unmasked.
pub fn run(
    trends: &Trends,
    charts_dir: &Path,
    opts: &Options,
    show_personal_data: bool,
) -> Result<Vec<Chart>> {
    let o = opts;
    let pal = |i: usize| {
        o.palette
            .get(i % o.palette.len().max(1))
            .cloned()
            .unwrap_or_else(|| "#1f4e79".into())
    };
    let mut out = Vec::new();

    // 1. weekly volume by channel, stacked.
    {
        let title = "近期各周信访量（按渠道）";
        let used: Vec<usize> = (0..6)
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
                &group_digits(v.round() as u64),
            );
        }
        for (i, wk) in trends.weeks.iter().enumerate() {
            let x = left + i as f64 * slot + slot * 0.2;
            let mut y = bottom;
            for (k, c) in used.iter().enumerate() {
                let v = trends.weekly_by_channel[i][*c] as f64;
                let bh = v / max * (bottom - top);
                y -= bh;
                s.rect(x, y, slot * 0.6, bh, &pal(k));
            }
            let tot: u64 = trends.weekly_by_channel[i].iter().sum();
            s.text(
                x + slot * 0.3,
                y - 4.0,
                10.0,
                "middle",
                "#333",
                &group_digits(tot),
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
            s.rect(lx, bottom + 32.0, 12.0, 12.0, &pal(k));
            let name = Channel::ALL[*c].zh();
            s.text(lx + 16.0, bottom + 42.0, 12.0, "start", "#333", name);
            lx += 16.0 + text_width(name, 12.0) + 18.0;
        }
        out.push(("weekly_channel", title.to_string(), s.finish()));
    }

    // 2. category share with change.
    {
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
                        group_digits(c.count.current),
                        v / total * 100.0,
                        fmt_pct(c.count.wow())
                    ),
                )
            })
            .collect();
        out.push((
            "category_share",
            title.to_string(),
            hbars(None, title, "件次", &rows, o, &pal(0)),
        ));
    }

    // 3. region ranking (county level when present, else city).
    {
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
                    format!("{} 件次", group_digits(c.count.current)),
                )
            })
            .collect();
        out.push((
            "region_rank",
            title.to_string(),
            hbars(None, title, "件次", &rows, o, &pal(1)),
        ));
    }

    // 4. category × week heat table.
    {
        let title = "分类 × 周 信访量热力表（件次）";
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
            s.text(
                label_w - 8.0,
                y + 16.0,
                12.0,
                "end",
                "#333",
                &fit(&c.name, 12.0, label_w - 16.0),
            );
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
                    &group_digits(*v),
                );
            }
        }
        out.push(("category_heat", title.to_string(), s.finish()));
    }

    // 5. top groups' weekly sparklines.
    {
        let title = "主要同质化类案近期走势（件次/周）";
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
            let pts: Vec<String> = g
                .weekly
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    format!(
                        "{:.1},{:.1}",
                        label_w + spark_w * i as f64 / n as f64,
                        y + row_h - 6.0 - (row_h - 12.0) * *v as f64 / max
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
            let _ = write!(
                s.s,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
                pts.join(" ")
            );
            s.text(
                label_w + spark_w + 10.0,
                y + 19.0,
                12.0,
                "start",
                "#333",
                &format!("本期 {} 件", group_digits(g.in_period)),
            );
        }
        out.push(("group_sparklines", title.to_string(), s.finish()));
    }

    // 6. KPI per unit: 按期办结率 (or 及时受理率).
    {
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
        out.push((
            "unit_kpi",
            title.to_string(),
            hbars(Some(100.0), title, "%", &rows, o, &pal(2)),
        ));
    }

    let mut charts = Vec::new();
    for (name, title, svg) in out {
        let path = charts_dir.join(format!("{name}.svg"));
        write_atomic(&path, svg.as_bytes())?;
        charts.push(Chart {
            name: name.to_string(),
            title,
            svg_path: path,
            svg,
            png_path: None,
        });
    }
    Ok(charts)
}

/// 1234567 → "1,234,567".
pub fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
