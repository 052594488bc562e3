//! Briefs: the latest, or any week or month on request, rendered by the same
//! [`crate::pipeline::brief_of`] as `minqing brief` and served as the printable page it writes.
//! A restricted reader's brief counts only the petitions in scope (and has no case-group
//! section: a group's figures are those of all its members).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::app::{blocking, scope_key, PageError, Shared};
use super::auth::Reader;
use super::users::Role;
use super::view::chrome;
use crate::calendar::{self, Period};
use crate::cluster::Groups;

/// Weeks and months offered on the page.
const RECENT: usize = 12;
/// Rendered briefs kept in memory.
const CACHE: usize = 32;

/// The brief page's own policy: its styles are inline (the file is self-contained for e-mail
/// and print), so inline styles are allowed; scripts and outside resources are not.
const BRIEF_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct BriefParams {
    week: Option<String>,
    month: Option<String>,
}

/// The choice of periods.
pub async fn page(State(app): State<Shared>, reader: Reader) -> Result<Html<String>, PageError> {
    reader.require(Role::Analyst)?;
    blocking(move || {
        let snap = app.snapshot();
        let (weeks, months) = match snap.span {
            Some((_, last)) => recent_periods(last),
            None => (Vec::new(), Vec::new()),
        };
        let monthly = snap
            .setup
            .as_ref()
            .is_some_and(|s| s.report.period == calendar::PeriodKind::Month);
        let html = app.render(
            "briefs.html",
            minijinja::context! {
                chrome => chrome(&app, &reader, "briefs"),
                weeks,
                months,
                monthly,
                scoped => !reader.scope.is_unrestricted(),
                empty => snap.records.is_empty(),
            },
        )?;
        Ok(Html(html))
    })
    .await
}

/// A period to choose: (value in the URL, label).
type Choice = (String, String);

/// Complete ISO weeks and calendar months before `last` (newest first).
fn recent_periods(last: NaiveDate) -> (Vec<Choice>, Vec<Choice>) {
    let mut weeks = Vec::new();
    // The week holding `last` is complete only when `last` is its Sunday.
    let mut sunday = last - Duration::days(last.weekday().num_days_from_sunday() as i64);
    for _ in 0..RECENT {
        let monday = sunday - Duration::days(6);
        let w = monday.iso_week();
        weeks.push((
            calendar::week_label(monday),
            format!("{}年第{}周（{} 至 {}）", w.year(), w.week(), monday, sunday),
        ));
        sunday -= Duration::days(7);
    }
    let mut months = Vec::new();
    let mut first = NaiveDate::from_ymd_opt(last.year(), last.month(), 1).unwrap_or(last);
    // The month of `last` is complete only on its last day.
    if (last + Duration::days(1)).month() == last.month() {
        first = (first - Duration::days(1)).with_day(1).unwrap_or(first);
    }
    for _ in 0..RECENT {
        months.push((
            first.format("%Y-%m").to_string(),
            format!("{}年{}月", first.year(), first.month()),
        ));
        first = (first - Duration::days(1)).with_day(1).unwrap_or(first);
    }
    (weeks, months)
}

/// The brief itself (`?week=2019-W33`, `?month=2019-08`, or neither: the latest complete
/// period, as `minqing run` briefs it).
pub async fn view(
    State(app): State<Shared>,
    reader: Reader,
    q: Result<Query<BriefParams>, QueryRejection>,
) -> Result<Response, PageError> {
    reader.require(Role::Analyst)?;
    let q = q
        .map_err(|_| PageError::BadRequest("网址中的参数无法识别。".into()))?
        .0;
    blocking(move || {
        let snap = app.snapshot();
        let mut setup = snap.setup.clone().ok_or_else(|| {
            PageError::NotFound(
                "该运行目录没有周报设置（run.json 缺失或来自旧版本）：请先运行 minqing run。"
                    .into(),
            )
        })?;
        let scoped = !reader.scope.is_unrestricted();
        let records: Vec<crate::schema::Record> = if scoped {
            snap.records
                .iter()
                .filter(|r| reader.scope.admits(r))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let records: &[crate::schema::Record] = if scoped { &records } else { &snap.records };
        let asked: Option<Period> = match (q.week.as_deref(), q.month.as_deref()) {
            (Some(w), _) if !w.is_empty() => {
                Some(calendar::parse_week(w).ok_or_else(|| {
                    PageError::BadRequest(format!("“{w}”不是 2019-W33 这样的周。"))
                })?)
            }
            (_, Some(m)) if !m.is_empty() => {
                Some(calendar::parse_month(m).ok_or_else(|| {
                    PageError::BadRequest(format!("“{m}”不是 2019-08 这样的月份。"))
                })?)
            }
            _ => None,
        };
        let period = setup
            .period(records, asked)
            .ok_or_else(|| PageError::NotFound("没有可以统计的信访件。".into()))?;
        app.audit(
            &reader,
            "brief",
            serde_json::json!({ "period": period.label }),
        )?;
        let key = (
            snap.generation,
            scope_key(&reader.scope),
            // the default page carries the note on passed-over periods, `?week=` of the same
            // period does not
            format!(
                "{}{}",
                period.label,
                if setup.method.period.is_some() {
                    "+"
                } else {
                    ""
                }
            ),
        );
        let cached = app
            .briefs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let html = match cached {
            Some(h) => h,
            None => {
                let groups: Arc<Groups> = if scoped {
                    // Membership in scope (repeat petitions), no group figures.
                    let g = app.visible_groups(&snap, &reader.scope);
                    Arc::new(Groups {
                        groups: Vec::new(),
                        members: g.members.clone(),
                        last_id: g.last_id,
                    })
                } else {
                    snap.groups.clone()
                };
                // The run's inferred categories, regions and units, matched to these records by id.
                let inferred = crate::inferred::Inferred::read(&app.run_dir, records)?;
                let h = Arc::new(render(records, &inferred, &groups, setup, &period)?);
                let mut cache = app.briefs.lock().unwrap_or_else(|p| p.into_inner());
                if cache.len() >= CACHE {
                    cache.clear();
                }
                cache.insert(key, h.clone());
                h
            }
        };
        Ok((
            [(header::CONTENT_SECURITY_POLICY, BRIEF_CSP)],
            Html(html.as_str().to_string()),
        )
            .into_response())
    })
    .await
}

/// Renders into a scratch folder (never the run folder, which a run may be writing) and reads
/// the HTML back. Charts stay SVG: the page needs no PNG copies.
fn render(
    records: &[crate::schema::Record],
    inferred: &crate::inferred::Inferred,
    groups: &Groups,
    mut setup: crate::pipeline::BriefSetup,
    period: &Period,
) -> Result<String, PageError> {
    setup.charts.font = "none".into();
    let dir = tempfile::tempdir()
        .map_err(|e| PageError::Internal(format!("scratch folder for a brief: {e}")))?;
    let what = crate::pipeline::Briefed {
        run_dir: dir.path(),
        records,
        inferred,
        groups,
        period,
        setup: &setup,
        show_personal_data: false,
    };
    let b = crate::pipeline::brief_of(&what, &|_| {})?;
    std::fs::read_to_string(&b.written.html)
        .map_err(|e| PageError::Internal(format!("reading the rendered brief: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_periods_are_complete_ones() {
        // 2019-08-21 is a Wednesday: the last complete week ends Sunday 2019-08-18 (W33).
        let (w, m) = recent_periods(NaiveDate::from_ymd_opt(2019, 8, 21).unwrap());
        assert_eq!(w[0].0, "2019-W33");
        assert_eq!(w[1].0, "2019-W32");
        assert_eq!(m[0].0, "2019-07");
        assert_eq!(w.len(), RECENT);
        let (w, m) = recent_periods(NaiveDate::from_ymd_opt(2019, 8, 25).unwrap());
        assert_eq!(w[0].0, "2019-W34");
        assert_eq!(m[0].0, "2019-07");
        let (_, m) = recent_periods(NaiveDate::from_ymd_opt(2019, 8, 31).unwrap());
        assert_eq!(m[0].0, "2019-08");
    }
}
