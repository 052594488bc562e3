//! What every page shares: the templates (built into the binary, HTML auto-escaped — no
//! template marks anything safe, so petition text can only ever appear as text), the page
//! chrome, masked and highlighted text, URLs, bar charts drawn as inline SVG, and the query
//! parser's messages in Chinese.

use std::sync::LazyLock;

use chrono::{NaiveDate, NaiveDateTime};
use minijinja::{Environment, UndefinedBehavior};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use regex::Regex;
use serde::Serialize;

use super::app::App;
use super::auth::Reader;
use crate::index::{find_marks, snippet, Highlighted};
use crate::mask::mask_text;
use crate::schema::Channel;

/// Every template, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("error.html", include_str!("templates/error.html")),
    ("login.html", include_str!("templates/login.html")),
    ("search.html", include_str!("templates/search.html")),
    ("petition.html", include_str!("templates/petition.html")),
    ("groups.html", include_str!("templates/groups.html")),
    ("group.html", include_str!("templates/group.html")),
    ("briefs.html", include_str!("templates/briefs.html")),
    ("status.html", include_str!("templates/status.html")),
    ("users.html", include_str!("templates/users.html")),
    ("audit.html", include_str!("templates/audit.html")),
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // A missing value is a bug in a page, found by its tests, not an empty cell.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // HTML escaping of the five characters that matter; minijinja's own also writes `/` as
    // `&#x2f;`, which is valid but makes every link in the page source unreadable.
    env.set_formatter(|out, state, value| match value.as_str() {
        Some(s) if state.auto_escape() == minijinja::AutoEscape::Html && !value.is_safe() => {
            let mut buf = String::with_capacity(s.len() + 8);
            for c in s.chars() {
                match c {
                    '&' => buf.push_str("&amp;"),
                    '<' => buf.push_str("&lt;"),
                    '>' => buf.push_str("&gt;"),
                    '"' => buf.push_str("&quot;"),
                    '\'' => buf.push_str("&#x27;"),
                    c => buf.push(c),
                }
            }
            out.write_str(&buf).map_err(minijinja::Error::from)
        }
        _ => minijinja::escape_formatter(out, state, value),
    });
    for (name, src) in TEMPLATES {
        if let Err(e) = env.add_template(name, src) {
            panic!("built-in template {name} does not parse: {e:#}");
        }
    }
    env
});

/// The templates (parsed once).
pub fn templates() -> &'static Environment<'static> {
    &ENV
}

/// The page of a refusal or failure.
pub fn error_page(status: u16, message: &str) -> String {
    ENV.get_template("error.html")
        .and_then(|t| t.render(minijinja::context! { status, message }))
        .unwrap_or_else(|_| format!("{status}"))
}

/// What the top of every page shows.
#[derive(Debug, Serialize)]
pub struct Chrome {
    pub page: &'static str,
    pub user: String,
    pub role: &'static str,
    pub analyst: bool,
    pub admin: bool,
    pub scoped: bool,
    /// `单位：…；地区：…`.
    pub scope: String,
    pub csrf: String,
    pub in_progress: bool,
}

pub fn chrome(app: &App, r: &Reader, page: &'static str) -> Chrome {
    let mut scope = Vec::new();
    if !r.scope.units.is_empty() {
        scope.push(format!("单位：{}", r.scope.units.join("、")));
    }
    if !r.scope.regions.is_empty() {
        scope.push(format!("地区：{}", r.scope.regions.join("、")));
    }
    Chrome {
        page,
        user: r.name.clone(),
        role: r.role.zh(),
        analyst: r.role.sees_analysis(),
        admin: r.role.is_admin(),
        scoped: !r.scope.is_unrestricted(),
        scope: scope.join("；"),
        csrf: r.csrf.clone(),
        in_progress: app.in_progress.load(std::sync::atomic::Ordering::Relaxed),
    }
}

/// A piece of text, highlighted or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Seg {
    pub t: String,
    pub m: bool,
}

/// Text with marks as pieces (the template wraps the marked ones in `<mark>`).
pub fn segments(h: &Highlighted) -> Vec<Seg> {
    let chars: Vec<char> = h.text.chars().collect();
    let mut out = Vec::new();
    let mut at = 0;
    let piece = |a: usize, b: usize| chars[a..b].iter().collect::<String>();
    for &(s, e) in &h.marks {
        let (s, e) = (s.clamp(at, chars.len()), e.min(chars.len()));
        if s >= e {
            continue;
        }
        if s > at {
            out.push(Seg {
                t: piece(at, s),
                m: false,
            });
        }
        out.push(Seg {
            t: piece(s, e),
            m: true,
        });
        at = e;
    }
    if at < chars.len() {
        out.push(Seg {
            t: piece(at, chars.len()),
            m: false,
        });
    }
    out
}

/// Personal data masked unless `show` (an administrator's audited reveal).
pub fn masked(text: &str, show: bool) -> String {
    crate::mask::text_for_output(text, show)
}

/// A title, masked, with the query's terms marked.
pub fn title_segments(title: &str, terms: &[String]) -> Vec<Seg> {
    let text = mask_text(title);
    let marks = find_marks(&text, terms);
    segments(&Highlighted { text, marks })
}

/// The passage of a content holding most of the query's terms, cut from the masked text (so a
/// name's cue outside the window still masks it).
pub fn snippet_segments(content: &str, terms: &[String], width: usize) -> Vec<Seg> {
    segments(&snippet(&mask_text(content), terms, width))
}

pub fn day(d: &NaiveDateTime) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub fn minute(d: &NaiveDateTime) -> String {
    d.format("%Y-%m-%d %H:%M").to_string()
}

pub fn opt_day(d: &Option<NaiveDateTime>) -> String {
    d.as_ref().map(day).unwrap_or_default()
}

/// 来信 / 来访 / … for a stored channel code.
pub fn channel_zh(code: &str) -> String {
    Channel::parse(code).map_or_else(|| code.to_string(), |c| c.zh().to_string())
}

/// Everything but letters, digits and `-._~` is escaped (ids in paths, values in queries).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

pub fn petition_href(id: &str) -> String {
    format!("/petition/{}", encode_component(id))
}

pub fn group_href(id: &str) -> String {
    format!("/groups/{}", encode_component(id))
}

/// One bar of a chart.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub label: String,
    pub count: u64,
    pub href: Option<String>,
}

/// A bar chart as inline SVG numbers (geometry in attributes: the page policy allows no inline
/// styles).
#[derive(Debug, Clone, Serialize)]
pub struct BarChart {
    pub w: f64,
    pub h: f64,
    /// Top of the plot, bottom of the plot (the baseline).
    pub top: f64,
    pub base: f64,
    pub max: u64,
    pub bars: Vec<Bar>,
    /// Labels under the axis: x, text.
    pub ticks: Vec<(f64, String)>,
}

/// Bars of `(label, count, link)` over a fixed width.
pub fn bar_chart(items: &[(String, u64, Option<String>)], w: f64, h: f64) -> BarChart {
    let (left, right, top, bottom) = (36.0, 8.0, 10.0, 22.0);
    let plot_w = w - left - right;
    let base = h - bottom;
    let max = items.iter().map(|x| x.1).max().unwrap_or(0).max(1);
    let n = items.len().max(1) as f64;
    let slot = plot_w / n;
    let gap = if slot > 4.0 { slot * 0.15 } else { 0.0 };
    let bars: Vec<Bar> = items
        .iter()
        .enumerate()
        .map(|(i, (label, count, href))| {
            let bh = (base - top) * (*count as f64) / max as f64;
            Bar {
                x: round1(left + i as f64 * slot + gap / 2.0),
                y: round1(base - bh),
                w: round1((slot - gap).max(0.5)),
                h: round1(bh),
                label: label.clone(),
                count: *count,
                href: href.clone(),
            }
        })
        .collect();
    // First, last and a few between, never crowded; the first starts at its bar's left edge and
    // the last ends at its bar's right edge, so neither runs off the chart.
    let every = (items.len() as f64 / 6.0).ceil().max(1.0) as usize;
    let last = items.len().saturating_sub(1);
    let ticks = items
        .iter()
        .enumerate()
        .filter(|(i, _)| (i % every == 0 && last - i >= every) || *i == last)
        .map(|(i, (label, _, _))| {
            let x = match i {
                0 if last > 0 => left + gap / 2.0,
                i if i == last && last > 0 => left + (i as f64 + 1.0) * slot - gap / 2.0,
                i => left + (i as f64 + 0.5) * slot,
            };
            (round1(x), label.clone())
        })
        .collect();
    BarChart {
        w,
        h,
        top,
        base,
        max,
        bars,
        ticks,
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// `2019-08-05` for a Monday, as the histogram labels weeks.
pub fn week_label(monday: NaiveDate) -> String {
    monday.format("%Y-%m-%d").to_string()
}

/// The query parser's messages (English, with a character position) as a reader reads them.
pub fn query_error_zh(message: &str) -> String {
    static RULES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
        [
            (r"^empty query", "请输入检索词，或至少选择一个筛选条件。"),
            (
                r"^`-` at character (\d+) is not followed by a term",
                "第 $1 个字符处的“-”后面缺少要排除的词（写作 -词语）。",
            ),
            (
                r"^unbalanced quote: the (.) at character (\d+) is never closed",
                "第 $2 个字符处的引号 $1 没有配对的结束引号。",
            ),
            (r"^empty phrase at character (\d+)", "第 $1 个字符处的引号中间没有内容。"),
            (
                r"^missing space after the closing quote at character (\d+)",
                "第 $1 个字符处的结束引号后面需要一个空格。",
            ),
            (
                r"^unknown field `([^`]*)` at character (\d+)",
                "第 $2 个字符处的字段“$1”无法识别（可用字段：region 地区、category 分类、channel 渠道、status 状态、unit 单位；如要按原文检索，请加引号）。",
            ),
            (
                r"^`([^`]*):` at character (\d+) has no value",
                "第 $2 个字符处的“$1:”后面缺少取值。",
            ),
            (
                r"^a quote at character (\d+) starts inside a word",
                "第 $1 个字符处的引号在词语中间，请在引号前加一个空格。",
            ),
            (
                r"^`OR` at character (\d+) follows another `OR`",
                "第 $1 个字符处连续出现了两个 OR。",
            ),
            (
                r"^dangling `OR` at character (\d+)",
                "第 $1 个字符处的 OR 两边都需要检索词。",
            ),
            (
                r"^`OR` at character (\d+) follows an excluded",
                "第 $1 个字符处：排除词（-）不能与 OR 连用。",
            ),
            (
                r"^excluded term at character (\d+) after `OR`",
                "第 $1 个字符处：排除词（-）不能与 OR 连用。",
            ),
            (
                r"^unknown channel `([^`]*)`",
                "渠道“$1”无法识别（可用：来信、来访、网上信访、来电、网民留言、评论）。",
            ),
        ]
        .into_iter()
        .map(|(re, zh)| (Regex::new(re).expect("valid pattern"), zh))
        .collect()
    });
    for (re, zh) in RULES.iter() {
        if let Some(c) = re.captures(message) {
            let mut out = String::new();
            c.expand(zh, &mut out);
            return format!("检索式有误：{out}");
        }
    }
    format!("检索式有误：{message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_the_text() {
        let h = Highlighted {
            text: "小区油烟扰民".into(),
            marks: vec![(2, 4)],
        };
        let s = segments(&h);
        assert_eq!(s.iter().map(|x| x.t.as_str()).collect::<String>(), h.text);
        assert_eq!(
            s,
            vec![
                Seg {
                    t: "小区".into(),
                    m: false
                },
                Seg {
                    t: "油烟".into(),
                    m: true
                },
                Seg {
                    t: "扰民".into(),
                    m: false
                },
            ]
        );
    }

    #[test]
    fn snippets_are_masked_before_they_are_cut() {
        let content = format!(
            "{}我叫张三丰，电话13812345678，楼下油烟很大",
            "前".repeat(5)
        );
        let s: String = snippet_segments(&content, &["油烟".into()], 12)
            .iter()
            .map(|x| x.t.clone())
            .collect();
        assert!(!s.contains("13812345678") && !s.contains("张三丰"), "{s}");
    }

    #[test]
    fn every_parser_message_reads_in_chinese() {
        let mut messages: Vec<String> = [
            "\"油烟",
            "- 油烟",
            "foo:bar",
            "油烟 OR OR 噪音",
            "OR 油烟",
            "\"\"",
            "region:",
            "a\"b\"",
            "\"a\"b",
            "油烟 OR -噪音",
            "-油烟 OR 噪音",
        ]
        .iter()
        .map(|q| match crate::index::parse_query(q) {
            Err(crate::Error::Query { message, .. }) => message,
            other => panic!("`{q}` parses: {other:?}"),
        })
        .collect();
        messages.push("unknown channel `微信` (one of: letter/来信)".into());
        messages.push("empty query (give words to search for, or at least one filter)".into());
        for m in messages {
            let zh = query_error_zh(&m);
            assert_ne!(zh, format!("检索式有误：{m}"), "no Chinese for: {m}");
        }
    }

    #[test]
    fn charts_scale_to_the_highest_bar() {
        let c = bar_chart(
            &[
                ("a".into(), 2, None),
                ("b".into(), 4, Some("/x".into())),
                ("c".into(), 0, None),
            ],
            300.0,
            100.0,
        );
        assert_eq!(c.bars[1].y, c.top);
        assert_eq!(c.bars[2].h, 0.0);
        assert!(c.bars[0].h > 0.0 && c.bars[0].h < c.bars[1].h);
        assert_eq!(c.ticks.first().map(|t| t.1.as_str()), Some("a"));
        assert_eq!(c.ticks.last().map(|t| t.1.as_str()), Some("c"));
    }
}
