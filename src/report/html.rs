//! Self-contained HTML rendering of the brief: CSS and SVG charts inline, no external resources,
//! A4 print layout.

use super::{Block, Doc};
use crate::charts::Chart;
use crate::fmt::escape_html as esc;

const CSS: &str = r#"
:root{--ink:#222;--muted:#666;--rule:#d0d7de;--accent:#1f4e79;--flag:#c0504d}
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:var(--ink);font-family:"Noto Serif CJK SC","Source Han Serif SC","SimSun","Songti SC",serif;font-size:15px;line-height:1.75}
main{max-width:1000px;margin:24px auto;background:#fff;padding:40px 56px;box-shadow:0 1px 4px rgba(0,0,0,.08)}
header{text-align:center;border-bottom:3px double var(--flag);padding-bottom:12px;margin-bottom:20px}
h1{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","SimHei",sans-serif;color:var(--flag);font-size:28px;letter-spacing:2px;margin:0 0 6px}
.sub{color:var(--muted);font-size:14px}
h2{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","SimHei",sans-serif;font-size:19px;color:var(--accent);border-left:5px solid var(--accent);padding-left:10px;margin:28px 0 10px}
p{margin:8px 0;text-indent:2em}
ul{margin:6px 0 6px 1.2em;padding-left:1em}
table{border-collapse:collapse;width:100%;margin:8px 0 14px;font-size:13px;font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif}
caption{caption-side:top;text-align:left;font-weight:bold;padding:4px 0;color:var(--ink)}
th,td{border:1px solid var(--rule);padding:4px 6px;vertical-align:top;overflow-wrap:anywhere}
th{background:#eef2f7;font-weight:bold;white-space:nowrap}
td:first-child{white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
figure{margin:10px 0 16px;text-align:center;page-break-inside:avoid;break-inside:avoid}
figure svg{max-width:100%;height:auto}
figcaption{font-size:13px;color:var(--muted)}
@page{size:A4;margin:16mm 14mm}
@media print{body{background:#fff;font-size:12pt}main{max-width:none;margin:0;padding:0;box-shadow:none}
h2{page-break-after:avoid;break-after:avoid}tr,li{page-break-inside:avoid;break-inside:avoid}thead{display:table-header-group}}
"#;

fn is_num(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+')
        && s.chars()
            .all(|c| c.is_ascii_digit() || ",.%+-（）/".contains(c))
}

/// Renders `doc` with the charts' SVG inline.
pub fn render(doc: &Doc, charts: &[Chart]) -> String {
    let mut o = String::new();
    o.push_str("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n");
    o.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n");
    o.push_str(&format!(
        "<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n",
        esc(&doc.title),
        CSS
    ));
    o.push_str(&format!(
        "<header><h1>{}</h1><div class=\"sub\">{}</div></header>\n",
        esc(&doc.title),
        esc(&doc.subtitle)
    ));
    for s in &doc.sections {
        o.push_str(&format!("<section>\n<h2>{}</h2>\n", esc(&s.title)));
        for b in &s.blocks {
            match b {
                Block::Para(p) => o.push_str(&format!("<p>{}</p>\n", esc(p))),
                Block::Bullets(v) => {
                    o.push_str("<ul>\n");
                    for i in v {
                        o.push_str(&format!("<li>{}</li>\n", esc(i)));
                    }
                    o.push_str("</ul>\n");
                }
                Block::Table(cap, head, rows) => {
                    o.push_str(&format!(
                        "<table>\n<caption>{}</caption>\n<thead><tr>",
                        esc(cap)
                    ));
                    for h in head {
                        o.push_str(&format!("<th>{}</th>", esc(h)));
                    }
                    o.push_str("</tr></thead>\n<tbody>\n");
                    for r in rows {
                        o.push_str("<tr>");
                        for c in r {
                            // 无数据 stands where a number would: aligned with the numbers.
                            if is_num(c) || c == super::UNAVAILABLE {
                                o.push_str(&format!("<td class=\"num\">{}</td>", esc(c)));
                            } else {
                                o.push_str(&format!("<td>{}</td>", esc(c)));
                            }
                        }
                        o.push_str("</tr>\n");
                    }
                    o.push_str("</tbody>\n</table>\n");
                }
                Block::Chart(i) => {
                    let c = &charts[*i];
                    o.push_str(&format!(
                        "<figure>{}<figcaption>{}</figcaption></figure>\n",
                        c.svg.trim_end(),
                        esc(&c.title)
                    ));
                }
            }
        }
        o.push_str("</section>\n");
    }
    o.push_str("</main>\n</body>\n</html>\n");
    o
}
