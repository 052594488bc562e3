//! `minqing cluster`, `groups`, `group`, `eval`. Data on stdout, messages on stderr.

use std::path::PathBuf;

use minqing::cluster::{self, Group, Groups};
use minqing::{grouplist, Error, Result};

use super::Term;

#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// Run folder (holds `store/`); groups are written to `OUT/groups/`.
    #[arg(long)]
    pub out: PathBuf,
    /// Pipeline file whose `[tokenize]` and `[cluster]` settings to use (default: built-in defaults).
    #[arg(long)]
    pub pipeline: Option<PathBuf>,
    /// Put personal data unmasked into the exports.
    #[arg(long)]
    pub show_personal_data: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SortBy {
    Heat,
    Size,
    Growth,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct GroupsArgs {
    /// Run folder.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "heat")]
    pub sort: SortBy,
    /// Only groups with at least this many petitions.
    #[arg(long, default_value_t = 1)]
    pub min_size: usize,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct GroupArgs {
    /// Group id, e.g. G0007.
    pub id: String,
    /// Run folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Show personal data unmasked.
    #[arg(long)]
    pub show_personal_data: bool,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Run folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Ground-truth column (kept in the records' extra columns), e.g. truth_group.
    #[arg(long, required_unless_present = "key", conflicts_with = "key")]
    pub truth: Option<String>,
    /// A hand-labelled answer key instead: a CSV whose first two columns are the petition id
    /// (`留言编号` or `id`) and its case label (a label used once = a singleton). Scored over
    /// the key's petitions only; the worst misses and false groups are listed with titles.
    #[arg(long, value_name = "CSV")]
    pub key: Option<PathBuf>,
    /// How many missed and how many false groups to list with `--key`.
    #[arg(long, default_value_t = 10)]
    pub show: usize,
    /// Score another tool's grouping instead of the run's: a CSV with `id,group_id`
    /// (`-` or empty = in no group), e.g. the peer benchmark's (bench/peer/run.sh).
    #[arg(long, value_name = "CSV")]
    pub members: Option<PathBuf>,
}

/// Reads an `id,group_id` CSV as a grouping (only the membership is used by `eval`).
pub(crate) fn members_csv(p: &std::path::Path) -> Result<cluster::Groups> {
    let bad = |message: String| minqing::Error::BadInput {
        path: p.to_path_buf(),
        message,
    };
    let mut rdr = csv::Reader::from_path(p).map_err(|e| bad(e.to_string()))?;
    let headers = rdr.headers().map_err(|e| bad(e.to_string()))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .ok_or_else(|| bad(format!("no `{name}` column")))
    };
    let (id, group) = (col("id")?, col("group_id")?);
    let mut members = Vec::new();
    for row in rdr.records() {
        let row = row.map_err(|e| bad(e.to_string()))?;
        let g = row.get(group).unwrap_or("").trim();
        members.push(cluster::Member {
            id: row.get(id).unwrap_or("").into(),
            group_id: if g.is_empty() {
                cluster::UNCLUSTERED.into()
            } else {
                g.into()
            },
            similarity: 0.0,
            is_repeat: false,
        });
    }
    Ok(cluster::Groups {
        members,
        ..Default::default()
    })
}

fn groups_dir(out: &std::path::Path) -> PathBuf {
    out.join("groups")
}

pub fn cluster(a: ClusterArgs, t: &Term) -> Result<()> {
    let cfg = super::settings_of(a.pipeline.as_deref())?;
    let t0 = std::time::Instant::now();
    let r = minqing::pipeline::regroup(&a.out, &cfg, a.show_personal_data, &|_| {})?;
    let unclustered = r.records - minqing::pipeline::grouped_petitions(&r.groups);
    t.note(format!(
        "{} petitions → {} groups, {} unclustered ({:.1}%), {:.1}s; written to {}",
        r.records,
        r.groups.groups.len(),
        unclustered,
        100.0 * unclustered as f64 / r.records.max(1) as f64,
        t0.elapsed().as_secs_f64(),
        r.groups_dir.display()
    ));
    if let Some(ix) = &r.index {
        t.note(format!(
            "search index updated: {} petitions changed group",
            ix.updated
        ));
    }
    Ok(())
}

pub fn groups(a: GroupsArgs, _t: &Term) -> Result<()> {
    let all = cluster::read(&groups_dir(&a.out))?;
    let filter = grouplist::Filter {
        min_size: a.min_size,
        ..Default::default()
    };
    let mut gs: Vec<&Group> = all.groups.iter().filter(|g| filter.admits(g)).collect();
    grouplist::sort(
        &mut gs,
        match a.sort {
            SortBy::Heat => grouplist::Sort::Heat,
            SortBy::Size => grouplist::Sort::Size,
            SortBy::Growth => grouplist::Sort::Growth,
        },
    );
    match a.format {
        Format::Json => {
            println!("{}", serde_json::to_string_pretty(&gs)?);
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout());
            w.write_record([
                "group_id",
                "label",
                "size",
                "distinct_petitioners",
                "heat",
                "batch_score",
                "trend",
                "first_seen",
                "last_seen",
                "lead_unit",
            ])?;
            for g in gs {
                w.write_record([
                    g.id.as_str(),
                    &g.label,
                    &g.size.to_string(),
                    &g.distinct_petitioners.to_string(),
                    &format!("{:.3}", g.heat),
                    &format!("{:.3}", g.batch_score),
                    g.trend.code(),
                    &g.first_seen.format("%Y-%m-%d").to_string(),
                    &g.last_seen.format("%Y-%m-%d").to_string(),
                    g.lead_unit().unwrap_or(""),
                ])?;
            }
            w.flush().map_err(Error::io("write", "stdout"))?;
        }
        Format::Table => {
            println!(
                "{:<6} {:>5} {:>5} {:>6} {:>5} {:<6} {:<10} 标签",
                "id", "件数", "人数", "热度", "批量", "趋势", "最近"
            );
            for g in gs {
                println!(
                    "{:<6} {:>5} {:>5} {:>6.2} {:>5.2} {:<6} {:<10} {}",
                    g.id,
                    g.size,
                    g.distinct_petitioners,
                    g.heat,
                    g.batch_score,
                    g.trend.zh(),
                    g.last_seen.format("%Y-%m-%d"),
                    g.label
                );
            }
        }
    }
    Ok(())
}

/// Why a group's members are one case, in words: the object they name, the grievance their
/// titles share, and how many are a petitioner's repeats on the same matter.
fn why_together(g: &Group, all: &Groups) -> String {
    let mut why = Vec::new();
    match &g.anchor {
        Some(a) => why.push(format!("同一对象「{a}」")),
        None => why.push("未识别出具体对象，按诉求文本相近归类".to_string()),
    }
    let grievance: Vec<&str> = g.key_terms.iter().take(3).map(String::as_str).collect();
    if !grievance.is_empty() {
        why.push(format!("诉求相近（{}）", grievance.join("、")));
    }
    let repeats = all
        .members
        .iter()
        .filter(|m| m.group_id == g.id && m.is_repeat)
        .count();
    if repeats > 0 {
        why.push(format!("其中 {repeats} 件为同一信访人就同一事项再次反映"));
    }
    why.push(format!(
        "{} 件来自 {} 名不同信访人",
        g.size, g.distinct_petitioners
    ));
    why.join("；")
}

pub fn group(a: GroupArgs, _t: &Term) -> Result<()> {
    let all: Groups = cluster::read(&groups_dir(&a.out))?;
    let g = all
        .groups
        .iter()
        .find(|g| g.id == a.id)
        .ok_or_else(|| Error::Usage(format!("no group `{}` in {}", a.id, a.out.display())))?;
    let records = minqing::store::read(&a.out)?;
    let by_id: std::collections::HashMap<&str, &minqing::Record> =
        records.iter().map(|r| (r.id.as_str(), r)).collect();
    let mem: std::collections::HashMap<&str, &cluster::Member> =
        all.members.iter().map(|m| (m.id.as_str(), m)).collect();
    println!("{}  {}", g.id, g.label);
    println!("对象: {}", g.anchor.as_deref().unwrap_or("（未识别）"));
    println!("关键词: {}", g.key_terms.join(" "));
    println!("归类依据: {}", why_together(g, &all));
    println!(
        "{} 件 / {} 名信访人 / {} 人次；{} 至 {}；活跃 {} 周；趋势 {}",
        g.size,
        g.distinct_petitioners,
        g.total_headcount,
        g.first_seen.format("%Y-%m-%d"),
        g.last_seen.format("%Y-%m-%d"),
        g.weeks_active,
        g.trend.zh()
    );
    println!(
        "热度 {:.2}；批量化解评分 {:.2}（{}）",
        g.heat,
        g.batch_score,
        g.batch_reasons.join("；")
    );
    println!(
        "建议牵头单位: {}",
        g.lead_unit().unwrap_or("（无承办单位数据）")
    );
    if !g.regions.is_empty() {
        let r: Vec<String> = g
            .regions
            .iter()
            .take(5)
            .map(|(r, n)| format!("{r}({n})"))
            .collect();
        println!("地区: {}", r.join("、"));
    }
    println!("\n周时间线:");
    let max = g.weekly.iter().map(|x| x.1).max().unwrap_or(1).max(1);
    for (w, n) in &g.weekly {
        println!("  {}  {:>4} {}", w, n, "█".repeat((n * 30).div_ceil(max)));
    }
    println!("\n成员（代表件 {}）:", g.representative);
    for id in &g.members {
        let Some(r) = by_id.get(id.as_str()) else {
            continue;
        };
        let m = mem.get(id.as_str());
        let text: String = r
            .text()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(80)
            .collect();
        let who = r
            .petitioner
            .as_deref()
            .map(|p| {
                if a.show_personal_data {
                    p.to_string()
                } else {
                    minqing::mask::mask_id(p)
                }
            })
            .unwrap_or_default();
        println!(
            "  {}  {}  {:<8} {:.2}{}  {}",
            r.id,
            r.received_at.format("%Y-%m-%d"),
            who,
            m.map_or(0.0, |m| m.similarity),
            if m.is_some_and(|m| m.is_repeat) {
                " 重复"
            } else {
                ""
            },
            minqing::mask::text_for_output(&text, a.show_personal_data)
        );
    }
    Ok(())
}

pub fn eval(a: EvalArgs, t: &Term) -> Result<()> {
    let all = match &a.members {
        Some(p) => members_csv(p)?,
        None => cluster::read(&groups_dir(&a.out))?,
    };
    let records = minqing::store::read(&a.out)?;
    if let Some(key) = &a.key {
        return eval_key(&records, &all, key, a.show, t);
    }
    let truth = a.truth.as_deref().unwrap_or_default();
    let s = cluster::eval(&records, &all, truth)?;
    println!("n\t{}", s.n);
    println!("bcubed_precision\t{:.4}", s.bcubed_precision);
    println!("bcubed_recall\t{:.4}", s.bcubed_recall);
    println!("bcubed_f1\t{:.4}", s.bcubed_f1);
    println!("pairwise_precision\t{:.4}", s.pairwise_precision);
    println!("pairwise_recall\t{:.4}", s.pairwise_recall);
    println!("pairwise_f1\t{:.4}", s.pairwise_f1);
    println!("ari\t{:.4}", s.ari);
    println!("nmi\t{:.4}", s.nmi);
    print_group_scores(&s.groups);
    Ok(())
}

fn print_group_scores(g: &cluster::GroupScores) {
    println!(
        "group_precision\t{:.4}\t({} of {} predicted groups are real cases)",
        g.precision, g.real, g.predicted_groups
    );
    println!(
        "group_recall\t{:.4}\t({} of {} true groups found)",
        g.recall, g.found, g.true_groups
    );
    println!("group_f1\t{:.4}", g.f1);
    println!("grouped_items\t{}", g.grouped);
    println!("bcubed_grouped_precision\t{:.4}", g.bcubed_precision);
    println!("bcubed_grouped_recall\t{:.4}", g.bcubed_recall);
    println!("bcubed_grouped_f1\t{:.4}", g.bcubed_f1);
}

/// Reads a key CSV: the first column is the petition id, the second its label.
fn read_key(p: &std::path::Path) -> Result<Vec<(String, String)>> {
    let bad = |message: String| Error::BadInput {
        path: p.to_path_buf(),
        message,
    };
    let mut rdr = csv::Reader::from_path(p).map_err(|e| bad(e.to_string()))?;
    if rdr.headers().map_err(|e| bad(e.to_string()))?.len() < 2 {
        return Err(bad(
            "a key needs two columns: petition id and group label".into()
        ));
    }
    let mut rows = Vec::new();
    for (n, row) in rdr.records().enumerate() {
        let row = row.map_err(|e| bad(e.to_string()))?;
        let (id, label) = (
            row.get(0).unwrap_or("").trim(),
            row.get(1).unwrap_or("").trim(),
        );
        if id.is_empty() || label.is_empty() {
            return Err(Error::BadCell {
                path: p.to_path_buf(),
                row: n as u64 + 2,
                column: if id.is_empty() { "id" } else { "group_id" }.to_string(),
                message: "empty".into(),
            });
        }
        rows.push((id.to_string(), label.to_string()));
    }
    Ok(rows)
}

fn eval_key(
    records: &[minqing::Record],
    all: &Groups,
    key: &std::path::Path,
    show: usize,
    t: &Term,
) -> Result<()> {
    let rows = read_key(key)?;
    let e = cluster::eval::eval_key(records, all, &rows);
    if !e.unmatched.is_empty() {
        t.note(format!(
            "{} of {} key ids are not in the store and were not scored (first: {})",
            e.unmatched.len(),
            rows.len(),
            e.unmatched[0]
        ));
    }
    if e.items.is_empty() {
        return Err(Error::BadInput {
            path: key.to_path_buf(),
            message: "no key id is in the run's store".into(),
        });
    }
    println!("scored\t{}", e.items.len());
    print_group_scores(&e.report.scores);
    let title: std::collections::HashMap<&str, &minqing::Record> =
        records.iter().map(|r| (r.id.as_str(), r)).collect();
    let list = |head: &str, groups: &[Vec<usize>]| {
        println!();
        println!(
            "{head} ({}; the largest {} shown)",
            groups.len(),
            groups.len().min(show)
        );
        for g in groups.iter().take(show) {
            println!("  {} petitions", g.len());
            for &i in g {
                let (id, truth, pred) = &e.items[i];
                let r = title.get(id.as_str());
                println!(
                    "    {id}  {}  key {truth}  ours {pred}  {}",
                    r.map_or(String::new(), |r| r
                        .received_at
                        .format("%Y-%m-%d")
                        .to_string()),
                    r.map_or(String::new(), |r| minqing::mask::text_for_output(
                        &r.title, false
                    ))
                );
            }
        }
    };
    list(
        "missed cases: true groups no group of ours matches",
        &e.report.missed,
    );
    list(
        "false groups: groups of ours that match no true case",
        &e.report.false_groups,
    );
    Ok(())
}
