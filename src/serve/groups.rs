//! The case groups (同质化类案): the list (sortable by heat, size and growth; filterable by
//! region, unit and trend), one group's page, and its members as a workbook for the task force.
//! Analysts and administrators only; a restricted reader sees only the in-scope part of each
//! group ([`super::scope`]).

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{Html, Response};
use serde::{Deserialize, Serialize};

use super::app::{blocking, path_id, PageError, Shared};
use super::auth::Reader;
use super::export::{self, Format, Sheet};
use super::users::Role;
use super::view::{bar_chart, chrome, day, group_href, petition_href, title_segments, Seg};
use crate::cluster::{Group, Member};
use crate::grouplist::{self, growth, Filter, Sort};
use crate::mask::mask_id;

/// Groups per list page.
const PAGE_SIZE: usize = 50;
/// Members per group page.
const MEMBERS_PAGE: usize = 100;

const NOT_FOUND: &str = "没有找到该类案，或它不在您的查看范围内。";

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trend: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<String>,
}

impl ListParams {
    fn clean(mut self) -> ListParams {
        for v in [
            &mut self.sort,
            &mut self.region,
            &mut self.unit,
            &mut self.trend,
            &mut self.page,
        ] {
            *v = v
                .take()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty());
        }
        self
    }

    fn href(&self) -> String {
        match serde_urlencoded::to_string(self) {
            Ok(q) if !q.is_empty() => format!("/groups?{q}"),
            _ => "/groups".to_string(),
        }
    }

    /// Every value by name, blank when unset (what the form shows).
    fn view(&self) -> std::collections::BTreeMap<&'static str, String> {
        [
            ("sort", &self.sort),
            ("region", &self.region),
            ("unit", &self.unit),
            ("trend", &self.trend),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.clone().unwrap_or_default()))
        .collect()
    }
}

#[derive(Debug, Serialize)]
struct GroupRow {
    id: String,
    href: String,
    label: String,
    size: usize,
    people: usize,
    headcount: u64,
    trend: &'static str,
    growth: i64,
    last: String,
    heat: String,
    lead: String,
}

fn group_row(g: &Group) -> GroupRow {
    GroupRow {
        id: g.id.clone(),
        href: group_href(&g.id),
        label: g.label.clone(),
        size: g.size,
        people: g.distinct_petitioners,
        headcount: g.total_headcount,
        trend: g.trend.zh(),
        growth: growth(g),
        last: day(&g.last_seen),
        heat: format!("{:.2}", g.heat),
        lead: g.lead_unit().unwrap_or_default().to_string(),
    }
}

pub async fn list(
    State(app): State<Shared>,
    reader: Reader,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Html<String>, PageError> {
    reader.require(Role::Analyst)?;
    let p = q
        .map_err(|_| PageError::BadRequest("网址中的参数无法识别。".into()))?
        .0
        .clean();
    blocking(move || {
        let snap = app.snapshot();
        let groups = app.visible_groups(&snap, &reader.scope);
        let sort = match p.sort.as_deref() {
            None => Sort::Heat,
            Some(s) => Sort::parse(s)
                .ok_or_else(|| PageError::BadRequest(format!("排序方式“{s}”无效。")))?,
        };
        let trend = match p.trend.as_deref() {
            None => None,
            Some(t) => Some(
                grouplist::parse_trend(t)
                    .ok_or_else(|| PageError::BadRequest(format!("趋势“{t}”无效。")))?,
            ),
        };
        let scoped = !reader.scope.is_unrestricted();
        let filter = Filter {
            min_size: 1,
            region: p.region.clone(),
            unit: p.unit.clone(),
            // A restricted reader's groups carry no trend of their own part.
            trend: if scoped { None } else { trend },
        };
        let mut gs: Vec<&Group> = groups.groups.iter().filter(|g| filter.admits(g)).collect();
        grouplist::sort(&mut gs, sort);
        let total = gs.len();
        let pages = total.div_ceil(PAGE_SIZE).max(1);
        let page: usize = p
            .page
            .as_deref()
            .map_or(Ok(1), |s| s.parse().map_err(|_| ()))
            .ok()
            .filter(|n| (1..=pages).contains(n))
            .ok_or_else(|| PageError::BadRequest("页码无效。".into()))?;
        let rows: Vec<GroupRow> = gs
            .iter()
            .skip((page - 1) * PAGE_SIZE)
            .take(PAGE_SIZE)
            .map(|g| group_row(g))
            .collect();
        app.audit(
            &reader,
            "groups",
            serde_json::to_value(&p).unwrap_or_default(),
        )?;
        let with = |f: &dyn Fn(&mut ListParams)| {
            let mut x = p.clone();
            f(&mut x);
            x.page = None;
            x.href()
        };
        let page_href = |n: usize| {
            let mut x = p.clone();
            x.page = (n > 1).then(|| n.to_string());
            x.href()
        };
        let sorts: Vec<(String, &str, bool)> = [(Sort::Heat, "热度"), (Sort::Size, "件数"), (Sort::Growth, "增长")]
            .into_iter()
            .map(|(s, name)| {
                (
                    with(&|x| x.sort = (s != Sort::Heat).then(|| s.code().to_string())),
                    name,
                    s == sort,
                )
            })
            .collect();
        let html = app.render(
            "groups.html",
            minijinja::context! {
                chrome => chrome(&app, &reader, "groups"),
                p => p.view(),
                scoped,
                total,
                rows,
                sorts,
                trends => [("", "全部"), ("new", "新出现"), ("growing", "上升"), ("steady", "平稳"), ("fading", "回落")],
                page,
                pages,
                prev => (page > 1).then(|| page_href(page - 1)),
                next => (page < pages).then(|| page_href(page + 1)),
                grouped => snap.groups.groups.len(),
                // Data without responsible units has no lead unit to suggest.
                has_units => groups.groups.iter().any(|g| !g.units.is_empty()),
            },
        )?;
        Ok(Html(html))
    })
    .await
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageParams {
    page: Option<String>,
    format: Option<String>,
}

#[derive(Debug, Serialize)]
struct MemberRow {
    id: String,
    href: String,
    date: String,
    region: String,
    unit: String,
    status: String,
    petitioner: String,
    similarity: String,
    repeat: bool,
    title: Vec<Seg>,
}

pub async fn page(
    State(app): State<Shared>,
    reader: Reader,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<PageParams>, QueryRejection>,
) -> Result<Html<String>, PageError> {
    reader.require(Role::Analyst)?;
    let id = path_id(id)?;
    let q = q.map(|x| x.0).unwrap_or_default();
    blocking(move || {
        let snap = app.snapshot();
        let groups = app.visible_groups(&snap, &reader.scope);
        let g = groups
            .groups
            .iter()
            .find(|g| g.id == id)
            .ok_or_else(|| PageError::NotFound(NOT_FOUND.into()))?;
        app.audit(&reader, "group", serde_json::json!({ "id": g.id }))?;
        let scoped = !reader.scope.is_unrestricted();
        let pages = g.members.len().div_ceil(MEMBERS_PAGE).max(1);
        let page: usize = q
            .page
            .as_deref()
            .and_then(|s| s.parse().ok())
            .filter(|n| (1..=pages).contains(n))
            .unwrap_or(1);
        let member_of = |mid: &str| -> Option<&Member> {
            snap.groups
                .members
                .binary_search_by(|m| m.id.as_str().cmp(mid))
                .ok()
                .map(|i| &snap.groups.members[i])
        };
        // Oldest first: how the group grew. A restricted reader's part of the group is sorted
        // here; the whole group's order was sorted when the snapshot loaded.
        let recs: Vec<&crate::schema::Record> = if scoped {
            let mut recs: Vec<&crate::schema::Record> =
                g.members.iter().filter_map(|m| snap.record(m)).collect();
            recs.sort_by(|a, b| a.received_at.cmp(&b.received_at).then(a.id.cmp(&b.id)));
            recs
        } else {
            snap.members_by_date(&g.id)
                .iter()
                .map(|&i| &snap.records[i as usize])
                .collect()
        };
        let members: Vec<MemberRow> = recs
            .iter()
            .skip((page - 1) * MEMBERS_PAGE)
            .take(MEMBERS_PAGE)
            .map(|r| {
                let m = member_of(&r.id);
                MemberRow {
                    id: r.id.to_string(),
                    href: petition_href(&r.id),
                    date: day(&r.received_at),
                    region: r.region_path(),
                    unit: r
                        .responsible_unit
                        .as_deref()
                        .unwrap_or_default()
                        .to_string(),
                    status: r.status.as_deref().unwrap_or_default().to_string(),
                    petitioner: r.petitioner.as_deref().map(mask_id).unwrap_or_default(),
                    similarity: m.map_or(String::new(), |m| format!("{:.2}", m.similarity)),
                    repeat: m.is_some_and(|m| m.is_repeat),
                    title: title_segments(&r.headline(), &g.key_terms),
                }
            })
            .collect();
        // Every week from the first to the last, quiet ones as zero: the axis is time.
        let counts: std::collections::HashMap<chrono::NaiveDate, usize> =
            g.weekly.iter().copied().collect();
        let mut weeks: Vec<(String, u64, Option<String>)> = Vec::new();
        if let (Some(first), Some(last)) = (g.weekly.first(), g.weekly.last()) {
            let mut d = first.0;
            while d <= last.0 {
                weeks.push((
                    d.format("%Y-%m-%d").to_string(),
                    counts.get(&d).copied().unwrap_or(0) as u64,
                    None,
                ));
                d += chrono::Duration::days(7);
            }
        }
        // Columns the data has (real exports often lack regions, units or statuses).
        let has = |f: &dyn Fn(&crate::schema::Record) -> bool| recs.iter().any(|r| f(r));
        let columns = minijinja::context! {
            region => has(&|r| r.region.iter().any(Option::is_some)),
            unit => has(&|r| r.responsible_unit.is_some()),
            status => has(&|r| r.status.is_some() || r.closed_at.is_some()),
        };
        let page_href = |n: usize| format!("{}?page={n}", group_href(&g.id));
        let html = app.render(
            "group.html",
            minijinja::context! {
                chrome => chrome(&app, &reader, "groups"),
                g => minijinja::context! {
                    id => g.id,
                    label => g.label,
                    anchor => g.anchor,
                    key_terms => g.key_terms,
                    size => g.size,
                    people => g.distinct_petitioners,
                    headcount => g.total_headcount,
                    first => day(&g.first_seen),
                    last => day(&g.last_seen),
                    weeks_active => g.weeks_active,
                    trend => g.trend.zh(),
                    open => g.open,
                    closed => g.closed,
                    heat => format!("{:.2}", g.heat),
                    batch => format!("{:.2}", g.batch_score),
                    reasons => g.batch_reasons,
                    lead => g.lead_unit(),
                    units => g.units.iter().take(8).collect::<Vec<_>>(),
                    regions => g.regions.iter().take(8).collect::<Vec<_>>(),
                    representative => g.representative,
                    representative_href => petition_href(&g.representative),
                },
                scoped,
                columns,
                chart => bar_chart(&weeks, 880.0, 160.0),
                members,
                page,
                pages,
                prev => (page > 1).then(|| page_href(page - 1)),
                next => (page < pages).then(|| page_href(page + 1)),
                export_href => format!("{}/export", group_href(&g.id)),
            },
        )?;
        Ok(Html(html))
    })
    .await
}

/// The group for the task force: its summary and every member (in scope), masked.
pub async fn export(
    State(app): State<Shared>,
    reader: Reader,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<PageParams>, QueryRejection>,
) -> Result<Response, PageError> {
    reader.require(Role::Analyst)?;
    let id = path_id(id)?;
    let format = Format::parse(q.ok().and_then(|x| x.0.format).as_deref())?;
    blocking(move || {
        let snap = app.snapshot();
        let groups = app.visible_groups(&snap, &reader.scope);
        let g = groups
            .groups
            .iter()
            .find(|g| g.id == id)
            .ok_or_else(|| PageError::NotFound(NOT_FOUND.into()))?;
        let scoped = !reader.scope.is_unrestricted();
        let recs: Vec<usize> = if scoped {
            let mut recs: Vec<usize> = g.members.iter().filter_map(|m| snap.position(m)).collect();
            recs.sort_by_key(|&i| (snap.records[i].received_at, i));
            recs
        } else {
            snap.members_by_date(&g.id)
                .iter()
                .map(|&i| i as usize)
                .collect()
        };
        let rows: Vec<Vec<String>> = recs
            .iter()
            .map(|&i| export::petition_row(&snap.records[i], snap.group_of(i)))
            .collect();
        let list = |v: &[(String, usize)]| {
            v.iter()
                .map(|(a, n)| format!("{a}({n})"))
                .collect::<Vec<_>>()
                .join("；")
        };
        let mut summary = vec![
            vec!["类案编号".to_string(), g.id.clone()],
            vec!["标签".into(), g.label.clone()],
            vec!["对象".into(), g.anchor.clone().unwrap_or_default()],
            vec!["关键词".into(), g.key_terms.join(" ")],
            vec!["件数".into(), g.size.to_string()],
            vec!["信访人数".into(), g.distinct_petitioners.to_string()],
            vec!["人次".into(), g.total_headcount.to_string()],
            vec!["首次".into(), day(&g.first_seen)],
            vec!["最近".into(), day(&g.last_seen)],
            vec![
                "建议牵头单位".into(),
                g.lead_unit().unwrap_or_default().into(),
            ],
            vec!["承办单位".into(), list(&g.units)],
            vec!["地区".into(), list(&g.regions)],
        ];
        if !scoped {
            summary.push(vec!["趋势".into(), g.trend.zh().into()]);
            summary.push(vec!["批量化解依据".into(), g.batch_reasons.join("；")]);
        }
        app.audit(
            &reader,
            "group_export",
            serde_json::json!({ "id": g.id, "format": format.code(), "rows": rows.len() }),
        )?;
        let members = Sheet {
            name: "成员",
            header: export::PETITION_HEADER.to_vec(),
            rows,
        };
        let summary = Sheet {
            name: "类案概况",
            header: vec!["项目", "内容"],
            rows: summary,
        };
        let sheets = match format {
            // A CSV holds one table: the members.
            Format::Csv => vec![members],
            Format::Xlsx => vec![summary, members],
        };
        export::download(&sheets, format, &format!("minqing-group-{}", g.id))
    })
    .await
}
