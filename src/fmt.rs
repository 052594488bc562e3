//! How numbers and text are written into outputs: thousands separators for counts (the terminal,
//! the charts, the brief) and escaping for HTML and SVG. One definition each, so a count reads
//! the same in a chart and in the table beside it, and no output escapes less than another.

/// `1234567` → `1,234,567` (千分位).
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Escapes text for HTML and SVG, in element content and in quoted attributes alike (`'` too,
/// so an attribute may be quoted either way).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(s, &mut out);
    out
}

/// [`escape_html`] appended to `out`.
pub fn push_escaped(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn every_markup_character_is_escaped() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>A&B</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;A&amp;B&lt;/a&gt;"
        );
        assert_eq!(escape_html("海棠小区"), "海棠小区");
    }
}
