//! `minqing brief`: renders the weekly brief for a chosen period from an existing run.

use std::path::PathBuf;

use chrono::NaiveDate;
use minqing::calendar::{self, Period};
use minqing::{pipeline, Error};

use super::Term;

#[derive(Debug, clap::Args)]
pub struct BriefArgs {
    /// The run folder (holds the store and groups/groups.json).
    #[arg(long)]
    pub out: PathBuf,
    /// ISO week, e.g. 2019-W33 (default: the latest complete week that is not thin, or month
    /// when the run's `[report] period` is "month").
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

pub fn brief(a: BriefArgs, t: &Term) -> minqing::Result<()> {
    let period = match (&a.week, a.from, a.to) {
        (Some(w), _, _) => Some(
            calendar::parse_week(w)
                .ok_or_else(|| Error::Usage(format!("`{w}` is not an ISO week like 2019-W33")))?,
        ),
        _ if a.month.is_some() => {
            let m = a.month.as_deref().unwrap_or_default();
            Some(
                calendar::parse_month(m)
                    .ok_or_else(|| Error::Usage(format!("`{m}` is not a month like 2019-08")))?,
            )
        }
        (None, Some(f), Some(to)) => {
            if to < f {
                return Err(Error::Usage(format!("--to {to} is before --from {f}")));
            }
            Some(Period::range(f, to))
        }
        _ => None,
    };
    let opts = pipeline::BriefOptions {
        show_personal_data: a.show_personal_data,
    };
    let b = pipeline::brief(&a.out, period, &opts, &|_| {})?;
    for n in &b.notes {
        t.note(n);
    }
    t.note(format!(
        "brief for {} ({} petitions in the period)",
        b.period.label, b.records_in_period
    ));
    for c in &b.charts {
        println!("{}", c.svg_path.display());
    }
    println!("{}", b.written.markdown.display());
    println!("{}", b.written.html.display());
    println!("{}", b.written.docx.display());
    Ok(())
}
