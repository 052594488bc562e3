//! normalize: pure cleaning and parsing functions that turn raw cells into canonical values.
//!
//! Cleaning keeps the text verbatim except for what exports and scrapers add: the `\n\t\t\t…`
//! padding, control and zero-width characters, full-width ASCII letters, digits and symbols
//! (turned half-width; the full-width punctuation of ordinary Chinese prose — `，！？：；（）` —
//! is kept as written), and runs of white space (collapsed). Cleaning is idempotent.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

/// Cleans one text cell (see the module docs).
///
/// Runs of characters that stay as they are (nearly all of a petition's text) are copied a
/// slice at a time rather than pushed a character at a time: the import cleans every text cell
/// of every row, and the per-character pushes were its largest CPU cost after allocation.
pub fn clean_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // Pending white space: None, Some(false) = spaces only, Some(true) = contains a line break.
    let mut pending: Option<bool> = None;
    // Start of the run of unchanged characters not yet copied to `out`. While a run is open no
    // white space is pending (white space ends a run).
    let mut run: Option<usize> = None;
    for (i, c) in s.char_indices() {
        if stays(c) {
            if run.is_none() {
                flush_space(&mut pending, &mut out);
                run = Some(i);
            }
            continue;
        }
        if let Some(start) = run.take() {
            out.push_str(&s[start..i]);
        }
        clean_char(c, &mut pending, &mut out);
    }
    if let Some(start) = run {
        out.push_str(&s[start..]);
    }
    out
}

/// One character of [`clean_text`]: white space becomes pending, controls and invisible
/// characters go, anything else is pushed (full-width forms narrowed) after the pending space.
fn clean_char(c: char, pending: &mut Option<bool>, out: &mut String) {
    let c = half_width(c);
    if c == '\n' || c == '\r' || c == '\u{2028}' || c == '\u{2029}' {
        *pending = Some(true);
    } else if c.is_whitespace() {
        *pending = Some(pending.unwrap_or(false));
    } else if !(c.is_control() || is_invisible(c)) {
        flush_space(pending, out);
        out.push(c);
    }
}

/// The pending white space as one space or line break, unless nothing came before it.
fn flush_space(pending: &mut Option<bool>, out: &mut String) {
    if let Some(nl) = pending.take() {
        if !out.is_empty() {
            out.push(if nl { '\n' } else { ' ' });
        }
    }
}

/// A character [`clean_text`] keeps unchanged: not white space, a control, an invisible
/// character or a full-width form it narrows.
fn stays(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_graphic();
    }
    // the common CJK block first: most of a petition
    ('\u{4E00}'..='\u{9FFF}').contains(&c)
        || !(c.is_whitespace() || c.is_control() || is_invisible(c) || half_width(c) != c)
}

/// Zero-width and formatting characters that carry no text.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// Full-width ASCII → ASCII, except the punctuation Chinese prose uses as its own.
fn half_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '，' | '！' | '？' | '：' | '；' | '（' | '）' => c,
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Cleans a short label cell (category, unit, status, …): cleaned and single-line; empty → None.
pub fn clean_label(s: &str) -> Option<String> {
    let mut t = clean_text(s);
    if t.contains('\n') {
        t = t.replace('\n', " ");
    }
    // cleaned text has no white space at either end, so it is already trimmed
    (!t.is_empty()).then_some(t)
}

/// Excel's day 0 for the 1900 date system (accounts for its fictional 1900-02-29).
fn excel_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(1899, 12, 30)
        .unwrap()
        .and_time(NaiveTime::MIN)
}

/// Converts an Excel serial date (days since 1899-12-30, fraction = time of day).
pub fn excel_serial(v: f64) -> Option<NaiveDateTime> {
    // 1 = 1900-01-01; 2958465 = 9999-12-31. Outside that it is not a date.
    if !(1.0..2_958_466.0).contains(&v) {
        return None;
    }
    let ms = (v * 86_400_000.0).round() as i64;
    Some(excel_epoch() + Duration::milliseconds(ms))
}

const DATETIME_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S%.f",
    "%Y/%m/%d %H:%M",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日%H:%M:%S",
    "%Y年%m月%d日%H:%M",
    "%Y年%m月%d日%H时%M分%S秒",
    "%Y年%m月%d日%H时%M分",
    "%Y年%m月%d日 %H时%M分",
];

const DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y年%m月%d日",
    "%Y年%m月%d号",
    "%Y%m%d",
];

/// Parses a date or datetime in any form the exports use: `2019/2/28 11:25:05`, `2019-02-28`,
/// `2019年2月28日`, ISO `T`, fractional seconds, a trailing `Z`, and Excel serial numbers.
pub fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    let t = clean_text(s);
    let t = t.trim().trim_end_matches('Z');
    if t.is_empty() {
        return None;
    }
    // Most cells are one of a few numeric shapes; read those directly (chrono re-parses each
    // format string per call, and a `/` date only matched the sixth format tried).
    if let Some(d) = numeric_datetime(t) {
        return plausible(d);
    }
    by_formats(t)
}

/// [`parse_datetime`]'s full list of formats, tried in order (on cleaned, trimmed text).
fn by_formats(t: &str) -> Option<NaiveDateTime> {
    for f in DATETIME_FORMATS {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, f) {
            return plausible(d);
        }
    }
    for f in DATE_FORMATS {
        if let Ok(d) = NaiveDate::parse_from_str(t, f) {
            return plausible(d.and_time(NaiveTime::MIN));
        }
    }
    // A bare number: an Excel serial date exported as text (8-digit yyyymmdd handled above).
    if let Ok(v) = t.parse::<f64>() {
        if (10_000.0..200_000.0).contains(&v) {
            return excel_serial(v);
        }
    }
    None
}

/// The common shapes of [`DATETIME_FORMATS`] / [`DATE_FORMATS`], read without chrono's format
/// machinery: a 4-digit year, then `-M-D`, `/M/D`, `.M.D` or `年M月D日`, optionally followed by
/// ` H:M` or ` H:M:S` (`T` only before `H:M:S` of a `-` date; no separator or a space after 日),
/// with 1–2 digit fields. `None` when the text has any other shape or is not a valid date and
/// time; then the format list decides (a property test checks both always agree).
fn numeric_datetime(t: &str) -> Option<NaiveDateTime> {
    let b = t.as_bytes();
    let mut at = 0usize;
    let digits = |at: &mut usize, min: usize, max: usize| -> Option<u32> {
        let start = *at;
        while *at < b.len() && *at - start < max && b[*at].is_ascii_digit() {
            *at += 1;
        }
        if *at - start < min {
            return None;
        }
        t[start..*at].parse().ok()
    };
    let year = digits(&mut at, 4, 4)?;
    if b.get(at).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let eat = |at: &mut usize, s: &str| -> bool {
        if t[*at..].starts_with(s) {
            *at += s.len();
            true
        } else {
            false
        }
    };
    let (month, day, sep) = if eat(&mut at, "年") {
        let m = digits(&mut at, 1, 2)?;
        if !eat(&mut at, "月") {
            return None;
        }
        let d = digits(&mut at, 1, 2)?;
        if !eat(&mut at, "日") {
            return None;
        }
        (m, d, '年')
    } else {
        let sep = *b.get(at)?;
        if !matches!(sep, b'-' | b'/' | b'.') {
            return None;
        }
        at += 1;
        let m = digits(&mut at, 1, 2)?;
        if b.get(at) != Some(&sep) {
            return None;
        }
        at += 1;
        let d = digits(&mut at, 1, 2)?;
        (m, d, sep as char)
    };
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    if at == b.len() {
        return Some(date.and_time(NaiveTime::MIN));
    }
    // the separator before the time
    let t_sep = match b[at] {
        b' ' => {
            at += 1;
            ' '
        }
        b'T' if sep == '-' => {
            at += 1;
            'T'
        }
        _ if sep == '年' => '\0',
        _ => return None,
    };
    let h = digits(&mut at, 1, 2)?;
    if b.get(at) != Some(&b':') {
        return None;
    }
    at += 1;
    let mi = digits(&mut at, 1, 2)?;
    let sec = if b.get(at) == Some(&b':') {
        at += 1;
        Some(digits(&mut at, 1, 2)?)
    } else {
        None
    };
    if at != b.len() || (t_sep == 'T' && sec.is_none()) {
        return None;
    }
    let time = NaiveTime::from_hms_opt(h, mi, sec.unwrap_or(0))?;
    Some(date.and_time(time))
}

/// Dates before 1949 or after 2200 are typos, not petitions.
fn plausible(d: NaiveDateTime) -> Option<NaiveDateTime> {
    let y = chrono::Datelike::year(&d);
    (1949..=2200).contains(&y).then_some(d)
}

/// Splits a region cell into up to three levels. Accepts `/`, `／`, `>`, `|`, `-` and spaces as
/// separators, or an unseparated `A市A5区洞井街道` split after 市/州/区/县/旗. Levels beyond the
/// third are joined into the third.
pub fn parse_region(s: &str) -> [Option<String>; 3] {
    let t = clean_text(s);
    let mut parts: Vec<String> = t
        .split(|c: char| {
            matches!(c, '/' | '／' | '>' | '|' | '\\' | '-' | '—') || c.is_whitespace()
        })
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if parts.len() == 1 {
        parts = split_admin(&parts[0]);
    }
    // A leading province (…省/自治区) is above the three levels the office works with.
    if parts.len() > 3 && (parts[0].ends_with('省') || parts[0].ends_with("自治区")) {
        parts.remove(0);
    }
    if parts.len() > 3 {
        let rest = parts.split_off(2).join("/");
        parts.push(rest);
    }
    let mut out: [Option<String>; 3] = [None, None, None];
    for (i, p) in parts.into_iter().enumerate() {
        out[i] = Some(p);
    }
    out
}

/// `A市A5区洞井街道` → [`A市`, `A5区`, `洞井街道`]: cut after an administrative suffix.
fn split_admin(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..chars.len() {
        if out.len() == 2 {
            break;
        }
        let c = chars[i];
        let is_cut = matches!(c, '省' | '市' | '州' | '区' | '县' | '旗' | '盟');
        // Need at least one char before the suffix and something after it.
        if is_cut && i > start && i + 1 < chars.len() {
            // Avoid cutting "市场", "区域", "县城"-like words: the next char must not continue a word.
            let next = chars[i + 1];
            if matches!(
                next,
                '场' | '域' | '民' | '政' | '城' | '委' | '长' | '级' | '里' | '内'
            ) {
                continue;
            }
            out.push(chars[start..=i].iter().collect::<String>());
            start = i + 1;
        }
    }
    out.push(chars[start..].iter().collect::<String>());
    out.retain(|p| !p.is_empty());
    out
}

/// Parses a non-negative count: `12`, `12.0`, ` 12 `, `12人`; anything else is None.
pub fn parse_count(s: &str) -> Option<u64> {
    let t = clean_text(s);
    let t = t
        .trim()
        .trim_end_matches(['人', '次', '个'])
        .trim()
        .replace(',', "");
    if t.is_empty() {
        return None;
    }
    if let Ok(v) = t.parse::<u64>() {
        return Some(v);
    }
    match t.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.fract() == 0.0 && v < 4.0e9 => Some(v as u64),
        _ => None,
    }
}

/// Parses a yes/no flag (是/否, true/false, 1/0, Y/N).
pub fn parse_flag(s: &str) -> Option<bool> {
    match clean_text(s).trim().to_lowercase().as_str() {
        "是" | "true" | "1" | "y" | "yes" | "越级" => Some(true),
        "否" | "false" | "0" | "n" | "no" | "不越级" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// [`clean_text`] one character at a time: the definition its run copying is checked
    /// against.
    fn clean_text_by_chars(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut pending = None;
        for c in s.chars() {
            clean_char(c, &mut pending, &mut out);
        }
        out
    }

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn cleans_scraper_padding_and_full_width() {
        assert_eq!(
            clean_text(
                "\n\t\t\t\t\t\n\t\t\t\t\t我家  住在ＡＢＣ小区１２栋\u{200b}\n\t\t\t\t\t\n\t\t\t\t"
            ),
            "我家 住在ABC小区12栋"
        );
        assert_eq!(
            clean_text("第一段。\r\n\r\n第二段，好！"),
            "第一段。\n第二段，好！"
        );
        assert_eq!(clean_text("a\u{0007}b\u{3000}c"), "ab c");
    }

    #[test]
    fn parses_every_export_date_form() {
        assert_eq!(
            parse_datetime("2019/2/28 11:25:05"),
            Some(dt("2019-02-28 11:25:05"))
        );
        assert_eq!(
            parse_datetime("2019-02-28"),
            Some(dt("2019-02-28 00:00:00"))
        );
        assert_eq!(
            parse_datetime("2019年2月28日"),
            Some(dt("2019-02-28 00:00:00"))
        );
        assert_eq!(
            parse_datetime("2019-08-01 00:00:00"),
            Some(dt("2019-08-01 00:00:00"))
        );
        assert_eq!(
            parse_datetime("2019-02-28T11:25:05.000Z"),
            Some(dt("2019-02-28 11:25:05"))
        );
        assert_eq!(parse_datetime("43524"), Some(dt("2019-02-28 00:00:00")));
        assert_eq!(parse_datetime("43524.5"), Some(dt("2019-02-28 12:00:00")));
        assert_eq!(parse_datetime("2018/4/24"), Some(dt("2018-04-24 00:00:00")));
        assert_eq!(parse_datetime("明天"), None);
        assert_eq!(parse_datetime("2019-13-01"), None);
        assert_eq!(parse_datetime("1"), None);
    }

    #[test]
    fn regions_split() {
        let r = |a: &str, b: &str, c: &str| {
            [
                Some(a.to_string()),
                Some(b.to_string()),
                Some(c.to_string()),
            ]
        };
        assert_eq!(
            parse_region("A市/A5区/洞井街道"),
            r("A市", "A5区", "洞井街道")
        );
        assert_eq!(
            parse_region("A市A5区洞井街道"),
            r("A市", "A5区", "洞井街道")
        );
        assert_eq!(
            parse_region("西地省 A市 A5区 洞井街道"),
            r("A市", "A5区", "洞井街道")
        );
        assert_eq!(parse_region("江城市"), [Some("江城市".into()), None, None]);
        assert_eq!(parse_region(""), [None, None, None]);
    }

    #[test]
    fn counts_and_flags() {
        assert_eq!(parse_count("12"), Some(12));
        assert_eq!(parse_count("12.0"), Some(12));
        assert_eq!(parse_count("5人"), Some(5));
        assert_eq!(parse_count("-1"), None);
        assert_eq!(parse_count("abc"), None);
        assert_eq!(parse_flag("是"), Some(true));
        assert_eq!(parse_flag("否"), Some(false));
    }

    proptest! {
        /// The numeric fast path reads exactly what the format list reads, on date-like text
        /// (valid and invalid fields, every separator, with and without time and seconds).
        #[test]
        fn numeric_dates_agree_with_the_formats(
            t in "[0-9]{3,5}(-|/|\\.|年)[0-9]{1,3}(-|/|\\.|月)[0-9]{1,3}(日|号)?( |T|)?([0-9]{1,3}:[0-9]{1,3}(:[0-9]{1,3})?(\\.[0-9]{1,3})?)?"
        ) {
            // (both sides with the plausible-year check the format list applies on its first match)
            if let Some(d) = numeric_datetime(&t) {
                prop_assert_eq!(plausible(d), by_formats(&t), "{}", t);
            }
        }

        /// ... and it takes the common forms (else it would be dead weight).
        #[test]
        fn numeric_fast_path_takes_the_export_forms(
            y in 1990u32..2100, m in 1u32..=12, d in 1u32..=28, h in 0u32..24, mi in 0u32..60, s in 0u32..60
        ) {
            for t in [
                format!("{y}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}"),
                format!("{y}/{m}/{d} {h}:{mi:02}:{s:02}"),
                format!("{y}年{m}月{d}日"),
                format!("{y}.{m}.{d} {h}:{mi}"),
                format!("{y}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}"),
            ] {
                let fast = numeric_datetime(&t);
                prop_assert!(fast.is_some(), "{}", t);
                prop_assert_eq!(fast.and_then(plausible), by_formats(&t), "{}", t);
            }
        }

        /// The run-copying [`clean_text`] gives what cleaning one character at a time gives.
        #[test]
        fn cleaning_by_runs_agrees_with_one_char_at_a_time(
            s in "([a-zA-Z0-9 小区物业，。！？：；（）\t\r\n\u{3000}\u{00A0}\u{2028}\u{200B}\u{FEFF}\u{00AD}\u{0007}\u{0085}ＡＢ１２＃～\u{FF0C}\u{FF01}]|\\PC){0,40}"
        ) {
            prop_assert_eq!(clean_text(&s), clean_text_by_chars(&s));
        }

        #[test]
        fn cleaning_by_runs_agrees_on_any_chars(s in any::<String>()) {
            prop_assert_eq!(clean_text(&s), clean_text_by_chars(&s));
            // a label is the cleaned text on one line, trimmed
            let line = clean_text_by_chars(&s).replace('\n', " ");
            let line = line.trim();
            prop_assert_eq!(clean_label(&s), (!line.is_empty()).then(|| line.to_string()));
        }

        #[test]
        fn cleaning_is_idempotent(s in "\\PC*") {
            let once = clean_text(&s);
            prop_assert_eq!(clean_text(&once), once);
        }

        #[test]
        fn cleaning_is_idempotent_on_any_chars(s in any::<String>()) {
            let once = clean_text(&s);
            prop_assert_eq!(clean_text(&once), once.clone());
            prop_assert!(!once.starts_with(char::is_whitespace) && !once.ends_with(char::is_whitespace));
        }

        #[test]
        fn date_parser_never_panics(s in any::<String>()) {
            let _ = parse_datetime(&s);
            let _ = parse_region(&s);
            let _ = parse_count(&s);
        }
    }
}
