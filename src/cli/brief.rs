//! `minqing brief`: renders the weekly brief for a chosen period from an existing run.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use minqing::cluster::Groups;
use minqing::trends::{self, Period};
use minqing::Error;

use super::Term;

#[derive(Debug, clap::Args)]
pub struct BriefArgs {
    /// The run folder (holds the store and groups/groups.json).
    #[arg(long)]
    pub out: PathBuf,
    /// ISO week, e.g. 2019-W33 (default: the latest complete week, or month when the run's
    /// `[report] period` is "month").
    #[arg(long, conflicts_with_all = ["from", "to", "month"])]
    pub week: Option<String>,
    /// Calendar month for a 月报, e.g. 2019-08: 环比 against the previous month, 同比 against the
    /// same month a year earlier.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub month: Option<String>,
    /// First day of a custom period (YYYY-MM-DD).
    #[arg(long, requires = "to")]
    pub from: Option<NaiveDate>,
    /// Last day (inclusive) of a custom period.
    #[arg(long, requires = "from")]
    pub to: Option<NaiveDate>,
    /// Show names, phone and id numbers unmasked (explicit opt-in).
    #[arg(long)]
    pub show_personal_data: bool,
}

fn read_groups(dir: &Path) -> minqing::Result<Groups> {
    let p = dir.join("groups").join("groups.json");
    if !p.exists() {
        return Ok(Groups::default());
    }
    let bytes = std::fs::read(&p).map_err(Error::io("read", &p))?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// The options and method note the run recorded in run.json (older runs: defaults).
fn setup(out: &Path, t: &Term) -> minqing::pipeline::BriefSetup {
    minqing::pipeline::BriefSetup::read(out).unwrap_or_else(|| {
        t.note("run.json has no brief setup (an older run): default options");
        minqing::pipeline::BriefSetup {
            method: Default::default(),
            trends: Default::default(),
            charts: Default::default(),
            report: Default::default(),
        }
    })
}

pub fn brief(a: BriefArgs, t: &Term) -> minqing::Result<()> {
    minqing::fsutil::check_run_folder(&a.out)?;
    let records = minqing::store::read(&a.out)?;
    let mut setup = setup(&a.out, t);
    if setup.method.rows_stored == 0 {
        setup.method.rows_stored = records.len() as u64;
        setup.method.rows_read = records.len() as u64;
    }
    let groups = read_groups(&a.out)?;
    if groups.members.is_empty() {
        t.note("no groups/groups.json in the run: the brief has no case groups");
    }
    let period = match (&a.week, a.from, a.to) {
        (Some(w), _, _) => trends::parse_week(w)
            .ok_or_else(|| Error::Usage(format!("`{w}` is not an ISO week like 2019-W33")))?,
        _ if a.month.is_some() => {
            let m = a.month.as_deref().unwrap_or_default();
            trends::parse_month(m)
                .ok_or_else(|| Error::Usage(format!("`{m}` is not a month like 2019-08")))?
        }
        (None, Some(f), Some(to)) => {
            if to < f {
                return Err(Error::Usage(format!("--to {to} is before --from {f}")));
            }
            Period::range(f, to)
        }
        _ => trends::latest_complete(&records, &setup.report.period)
            .ok_or_else(|| Error::Usage("the store holds no records".into()))?,
    };
    let b = minqing::pipeline::brief(
        &a.out,
        &records,
        &groups,
        &setup,
        &period,
        a.show_personal_data,
    )?;
    t.note(format!(
        "brief for {} ({} petitions in the period)",
        b.period.label, b.records_in_period
    ));
    for c in &b.charts {
        println!("{}", c.svg_path.display());
    }
    println!("{}", b.written.markdown.display());
    println!("{}", b.written.html.display());
    Ok(())
}
