//! Markdown rendering of the brief.

use super::{Block, Doc};
use crate::charts::Chart;

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace(['\n', '\r'], " ")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders `doc`; charts are linked by their relative path `charts/NAME.svg`.
pub fn render(doc: &Doc, charts: &[Chart]) -> String {
    let mut o = format!("# {}\n\n{}\n", line(&doc.title), line(&doc.subtitle));
    for s in &doc.sections {
        o.push_str(&format!("\n## {}\n", line(&s.title)));
        for b in &s.blocks {
            o.push('\n');
            match b {
                Block::Para(p) => o.push_str(&format!("{}\n", line(p))),
                Block::Bullets(v) => {
                    for i in v {
                        o.push_str(&format!("- {}\n", line(i)));
                    }
                }
                Block::Table(cap, head, rows) => {
                    o.push_str(&format!("**{}**\n\n", line(cap)));
                    o.push_str(&format!(
                        "| {} |\n",
                        head.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | ")
                    ));
                    o.push_str(&format!("|{}\n", "---|".repeat(head.len())));
                    for r in rows {
                        o.push_str(&format!(
                            "| {} |\n",
                            r.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | ")
                        ));
                    }
                }
                Block::Chart(i) => {
                    let c = &charts[*i];
                    o.push_str(&format!("![{}](charts/{}.svg)\n", line(&c.title), c.name));
                }
            }
        }
    }
    o
}
