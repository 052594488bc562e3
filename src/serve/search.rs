//! The front page: search with filters, facet counts, the weekly histogram, highlighted hits,
//! paging, and the export of the current hits. Every state lives in the URL.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::app::{blocking, PageError, Shared};
use super::auth::Reader;
use super::export::{self, Format, Sheet, PETITION_HEADER};
use super::snapshot::Snapshot;
use super::view::{
    bar_chart, channel_zh, chrome, day, group_href, petition_href, query_error_zh,
    snippet_segments, title_segments, week_label, Seg,
};
use crate::error::Error;
use crate::index::{marked_terms, parse_query, SearchRequest, SearchResults, Sort, NONE_LABEL};
use crate::schema::Channel;

/// Hits per page.
pub const PAGE_SIZE: usize = 20;
/// The last page a reader can turn to (deeper pages cost the index more than they help).
pub const MAX_PAGE: usize = 500;
/// Values listed per facet.
const FACET_VALUES: usize = 12;

/// The search as the URL carries it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Params {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub q: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// Exports only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// The filters a URL can carry: key, name on the page.
const FILTERS: [(&str, &str); 6] = [
    ("region", "地区"),
    ("category", "问题分类"),
    ("channel", "渠道"),
    ("status", "办理状态"),
    ("unit", "责任单位"),
    ("group", "类案"),
];

impl Params {
    /// Blank values are no value.
    fn clean(mut self) -> Params {
        self.q = self.q.trim().to_string();
        for v in [
            &mut self.from,
            &mut self.to,
            &mut self.region,
            &mut self.category,
            &mut self.channel,
            &mut self.status,
            &mut self.unit,
            &mut self.group,
            &mut self.sort,
            &mut self.page,
            &mut self.format,
        ] {
            *v = v
                .take()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty());
        }
        if self.sort.as_deref() != Some("date") {
            self.sort = None;
        }
        if self.page.as_deref() == Some("1") {
            self.page = None;
        }
        self
    }

    fn filter(&self, key: &str) -> Option<&String> {
        match key {
            "region" => self.region.as_ref(),
            "category" => self.category.as_ref(),
            "channel" => self.channel.as_ref(),
            "status" => self.status.as_ref(),
            "unit" => self.unit.as_ref(),
            "group" => self.group.as_ref(),
            _ => None,
        }
    }

    fn filter_mut(&mut self, key: &str) -> Option<&mut Option<String>> {
        match key {
            "region" => Some(&mut self.region),
            "category" => Some(&mut self.category),
            "channel" => Some(&mut self.channel),
            "status" => Some(&mut self.status),
            "unit" => Some(&mut self.unit),
            "group" => Some(&mut self.group),
            _ => None,
        }
    }

    /// Nothing asked yet: the empty front page.
    fn is_empty(&self) -> bool {
        self.q.is_empty()
            && self.from.is_none()
            && self.to.is_none()
            && FILTERS.iter().all(|(k, _)| self.filter(k).is_none())
    }

    /// The same search with one filter set (or cleared), from its first page.
    fn with(&self, key: &str, value: Option<&str>) -> Params {
        let mut p = self.clone();
        if let Some(slot) = p.filter_mut(key) {
            *slot = value.map(str::to_string);
        }
        p.page = None;
        p
    }

    fn with_dates(&self, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Params {
        let mut p = self.clone();
        p.from = from.map(|d| d.to_string());
        p.to = to.map(|d| d.to_string());
        p.page = None;
        p
    }

    fn href(&self, path: &str) -> String {
        let mut p = self.clone();
        p.format = None;
        match serde_urlencoded::to_string(&p) {
            Ok(q) if !q.is_empty() => format!("{path}?{q}"),
            _ => path.to_string(),
        }
    }

    fn page_no(&self) -> Result<usize, PageError> {
        match self.page.as_deref() {
            None => Ok(1),
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
                Ok(n) if n > MAX_PAGE => Err(PageError::BadRequest(format!(
                    "只能翻到第 {MAX_PAGE} 页（前 {} 条），请增加检索词或筛选条件缩小范围。",
                    MAX_PAGE * PAGE_SIZE
                ))),
                _ => Err(PageError::BadRequest(format!("页码“{s}”无效。"))),
            },
        }
    }

    /// The library's request for this search, limited to what `reader` may see.
    fn request(&self, reader: &Reader) -> Result<SearchRequest, String> {
        let date = |s: &Option<String>, name: &str| -> Result<Option<NaiveDate>, String> {
            s.as_deref()
                .map(|v| {
                    NaiveDate::parse_from_str(v, "%Y-%m-%d")
                        .map_err(|_| format!("{name}“{v}”不是日期，请写作 2019-08-01。"))
                })
                .transpose()
        };
        let from = date(&self.from, "起始日期")?;
        let to = date(&self.to, "截止日期")?;
        if let (Some(f), Some(t)) = (from, to) {
            if t < f {
                return Err(format!("截止日期 {t} 早于起始日期 {f}。"));
            }
        }
        if let Some(c) = self.channel.as_deref() {
            if Channel::parse(c).is_none() {
                return Err(query_error_zh(&format!("unknown channel `{c}`")));
            }
        }
        let mut req = SearchRequest::new(self.q.clone());
        req.from = from;
        req.to = to;
        req.region = self.region.clone();
        req.category = self.category.clone();
        req.channel = self.channel.clone();
        req.status = self.status.clone();
        req.unit = self.unit.clone();
        req.group = self.group.clone();
        req.scope = (!reader.scope.is_unrestricted()).then(|| reader.scope.clone());
        // Without words there is no relevance: newest first.
        req.sort = if self.sort.as_deref() == Some("date") || self.q.is_empty() {
            Sort::Date
        } else {
            Sort::Relevance
        };
        Ok(req)
    }

    /// Every value by name, blank when unset (what the form shows).
    fn view(&self) -> std::collections::BTreeMap<&'static str, String> {
        let mut m: std::collections::BTreeMap<&'static str, String> = FILTERS
            .iter()
            .map(|(k, _)| (*k, self.filter(k).cloned().unwrap_or_default()))
            .collect();
        m.insert("q", self.q.clone());
        m.insert("from", self.from.clone().unwrap_or_default());
        m.insert("to", self.to.clone().unwrap_or_default());
        m
    }

    /// What the audit log records of a search.
    fn audit_detail(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

fn bad_params(_: QueryRejection) -> PageError {
    PageError::BadRequest("网址中的检索参数无法识别，请从检索页重新检索。".into())
}

#[derive(Debug, Serialize)]
struct GroupLink {
    id: String,
    label: String,
    href: Option<String>,
}

#[derive(Debug, Serialize)]
struct HitView {
    id: String,
    href: String,
    date: String,
    channel: String,
    region: String,
    category: String,
    status: String,
    unit: String,
    group: Option<GroupLink>,
    title: Vec<Seg>,
    snippet: Vec<Seg>,
}

#[derive(Debug, Serialize)]
struct FacetValue {
    label: String,
    count: u64,
    href: Option<String>,
    active: bool,
}

#[derive(Debug, Serialize)]
struct Facet {
    name: &'static str,
    values: Vec<FacetValue>,
}

#[derive(Debug, Serialize)]
struct Chip {
    name: &'static str,
    value: String,
    remove: String,
}

fn group_label(snap: &Snapshot, id: &str) -> String {
    snap.group(id)
        .map_or_else(|| id.to_string(), |g| format!("{} {}", g.id, g.label))
}

fn hit_views(
    snap: &Snapshot,
    res: &SearchResults,
    terms: &[String],
    reader: &Reader,
) -> Vec<HitView> {
    res.hits
        .iter()
        .map(|h| {
            let rec = snap.record(&h.id);
            let (title, snippet) = match rec {
                Some(r) => (
                    title_segments(&r.title, terms),
                    snippet_segments(&r.content, terms, 120),
                ),
                // A hit the loaded store does not hold (an index newer than it): its own text.
                None => (
                    title_segments(&h.title.text, terms),
                    snippet_segments(&h.snippet.text, terms, 120),
                ),
            };
            let group = h
                .group_id
                .as_deref()
                .filter(|g| !g.is_empty())
                .map(|g| GroupLink {
                    id: g.to_string(),
                    label: snap.group(g).map(|x| x.label.clone()).unwrap_or_default(),
                    href: reader.role.sees_analysis().then(|| group_href(g)),
                });
            HitView {
                id: h.id.clone(),
                href: petition_href(&h.id),
                date: day(&h.received_at),
                channel: channel_zh(&h.channel),
                region: h.region.clone(),
                category: h.category.clone().unwrap_or_default(),
                status: h.status.clone().unwrap_or_default(),
                unit: h.responsible_unit.clone().unwrap_or_default(),
                group,
                title,
                snippet,
            }
        })
        .collect()
}

fn facets(snap: &Snapshot, p: &Params, res: &SearchResults) -> Vec<Facet> {
    let Some(f) = &res.facets else {
        return Vec::new();
    };
    let lists = [
        &f.region,
        &f.category,
        &f.channel,
        &f.status,
        &f.unit,
        &f.group,
    ];
    FILTERS
        .iter()
        .zip(lists)
        .map(|(&(key, name), counts)| {
            let active = p.filter(key).cloned();
            let values = counts
                .iter()
                .take(FACET_VALUES)
                .map(|(v, n)| {
                    let none = v == NONE_LABEL;
                    let is_active = active.as_deref() == Some(v.as_str());
                    let label = match (key, none) {
                        ("group", true) => "未归入类案".to_string(),
                        (_, true) => "（未填写）".to_string(),
                        ("channel", _) => channel_zh(v),
                        ("group", _) => group_label(snap, v),
                        _ => v.clone(),
                    };
                    FacetValue {
                        label,
                        count: *n,
                        // Clicking the chosen value again clears it; "none" cannot be chosen.
                        href: (!none)
                            .then(|| p.with(key, (!is_active).then_some(v.as_str())).href("/")),
                        active: is_active,
                    }
                })
                .collect();
            Facet { name, values }
        })
        // A field the data does not have (every hit "not filled in") tells the reader nothing.
        .filter(|f| f.values.iter().any(|v| v.href.is_some() || v.active))
        .collect()
}

fn chips(snap: &Snapshot, p: &Params) -> Vec<Chip> {
    let mut out: Vec<Chip> = FILTERS
        .iter()
        .filter_map(|&(key, name)| {
            p.filter(key).map(|v| Chip {
                name,
                value: match key {
                    "channel" => channel_zh(v),
                    "group" => group_label(snap, v),
                    _ => v.clone(),
                },
                remove: p.with(key, None).href("/"),
            })
        })
        .collect();
    if p.from.is_some() || p.to.is_some() {
        out.push(Chip {
            name: "日期",
            value: format!(
                "{} 至 {}",
                p.from.as_deref().unwrap_or("最早"),
                p.to.as_deref().unwrap_or("最近")
            ),
            remove: p.with_dates(None, None).href("/"),
        });
    }
    out
}

/// The search page.
pub async fn page(
    State(app): State<Shared>,
    reader: Reader,
    q: Result<Query<Params>, QueryRejection>,
) -> Result<Response, PageError> {
    let p = q.map_err(bad_params)?.0.clean();
    blocking(move || {
        let snap = app.snapshot();
        let chrome = chrome(&app, &reader, "search");
        let base = minijinja::context! {
            chrome,
            p => p.view(),
            sort_date => p.sort.is_some(),
            syntax => SYNTAX,
        };
        if p.is_empty() {
            // Browsing without words: the latest week and month of the data.
            let recent: Vec<(String, String)> = snap
                .span
                .map(|(_, last)| {
                    [("最近一周", 6), ("最近四周", 27), ("最近一年", 364)]
                        .iter()
                        .map(|(name, days)| {
                            let from = last - Duration::days(*days);
                            (
                                name.to_string(),
                                Params::default().with_dates(Some(from), Some(last)).href("/"),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let html = app.render(
                "search.html",
                minijinja::context! { asked => false, error => None::<String>, recent, ..base.clone() },
            )?;
            return Ok(Html(html).into_response());
        }
        let Some(index) = &snap.index else {
            let html = app.render(
                "search.html",
                minijinja::context! { asked => false, error => Some("该运行目录还没有检索索引：请先运行 minqing run。"), recent => Vec::<(String, String)>::new(), ..base.clone() },
            )?;
            return Ok(Html(html).into_response());
        };
        let failed = |msg: String| -> Result<Response, PageError> {
            let html = app.render(
                "search.html",
                minijinja::context! { asked => false, error => Some(msg), recent => Vec::<(String, String)>::new(), ..base.clone() },
            )?;
            Ok((StatusCode::BAD_REQUEST, Html(html)).into_response())
        };
        let page_no = match p.page_no() {
            Ok(n) => n,
            Err(PageError::BadRequest(m)) => return failed(m),
            Err(e) => return Err(e),
        };
        let mut req = match p.request(&reader) {
            Ok(r) => r,
            Err(m) => return failed(m),
        };
        req.facets = true;
        req.by_week = true;
        req.limit = PAGE_SIZE;
        req.offset = (page_no - 1) * PAGE_SIZE;
        let res = match index.search(&req, &app.tok) {
            Ok(r) => r,
            Err(Error::Query { message, .. }) => return failed(query_error_zh(&message)),
            Err(e) => return Err(e.into()),
        };
        let mut detail = p.audit_detail();
        detail["total"] = res.total.into();
        app.audit(&reader, "search", detail)?;
        let terms = parse_query(&p.q)
            .map(|c| marked_terms(&c))
            .unwrap_or_default();
        let pages = (res.total as usize).div_ceil(PAGE_SIZE).clamp(1, MAX_PAGE);
        let weeks: Vec<(String, u64, Option<String>)> = res
            .weeks
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|w| {
                (
                    week_label(w.start),
                    w.count,
                    Some(
                        p.with_dates(Some(w.start), Some(w.start + Duration::days(6)))
                            .href("/"),
                    ),
                )
            })
            .collect();
        let page_href = |n: usize| {
            let mut x = p.clone();
            x.page = (n > 1).then(|| n.to_string());
            x.href("/")
        };
        let html = app.render(
            "search.html",
            minijinja::context! {
                asked => true,
                error => None::<String>,
                total => res.total,
                hits => hit_views(&snap, &res, &terms, &reader),
                facets => facets(&snap, &p, &res),
                chips => chips(&snap, &p),
                chart => (!weeks.is_empty()).then(|| bar_chart(&weeks, 880.0, 140.0)),
                page => page_no,
                pages,
                prev => (page_no > 1).then(|| page_href(page_no - 1)),
                next => (page_no < pages).then(|| page_href(page_no + 1)),
                first_shown => req.offset + 1,
                last_shown => req.offset + res.hits.len(),
                relevance_href => { let mut x = p.clone(); x.sort = None; x.page = None; x.href("/") },
                date_href => { let mut x = p.clone(); x.sort = Some("date".into()); x.page = None; x.href("/") },
                export_csv => export_href(&p, Format::Csv),
                export_xlsx => export_href(&p, Format::Xlsx),
                export_max => export::MAX_ROWS,
                ..base
            },
        )?;
        Ok(Html(html).into_response())
    })
    .await
}

fn export_href(p: &Params, f: Format) -> String {
    let mut x = p.clone();
    x.page = None;
    x.format = Some(f.code().to_string());
    match serde_urlencoded::to_string(&x) {
        Ok(q) => format!("/export?{q}"),
        Err(_) => "/export".to_string(),
    }
}

/// The current hits as a spreadsheet (at most [`export::MAX_ROWS`], in the page's order).
pub async fn export(
    State(app): State<Shared>,
    reader: Reader,
    q: Result<Query<Params>, QueryRejection>,
) -> Result<Response, PageError> {
    let p = q.map_err(bad_params)?.0.clean();
    let format = Format::parse(p.format.as_deref())?;
    blocking(move || {
        let snap = app.snapshot();
        let index = snap.index.as_ref().ok_or_else(|| {
            PageError::NotFound("该运行目录还没有检索索引：请先运行 minqing run。".into())
        })?;
        if p.is_empty() {
            return Err(PageError::BadRequest("请先检索，再导出结果。".into()));
        }
        let mut req = p.request(&reader).map_err(PageError::BadRequest)?;
        req.limit = export::MAX_ROWS;
        req.snippet_chars = 10;
        let res = index.search(&req, &app.tok)?;
        let rows: Vec<Vec<String>> = res
            .hits
            .iter()
            .filter_map(|h| {
                let pos = snap.position(&h.id)?;
                Some(export::petition_row(&snap.records[pos], snap.group_of(pos)))
            })
            .collect();
        let mut detail = p.audit_detail();
        detail["format"] = format.code().into();
        detail["rows"] = rows.len().into();
        detail["total"] = res.total.into();
        app.audit(&reader, "export", detail)?;
        export::download(
            &[Sheet {
                name: "检索结果",
                header: PETITION_HEADER.to_vec(),
                rows,
            }],
            format,
            &format!(
                "minqing-search-{}",
                chrono::Local::now().format("%Y%m%d-%H%M")
            ),
        )
    })
    .await
}

/// The query syntax, as the page explains it.
const SYNTAX: &[(&str, &str)] = &[
    ("油烟 噪音", "同时包含两个词"),
    ("油烟 OR 噪音", "包含其中任一个"),
    ("油烟 -装修", "包含“油烟”但不含“装修”"),
    ("\"房产证\"", "引号内的字必须相连、按顺序出现"),
    (
        "region:凤城区",
        "字段：region 地区、category 分类、channel 渠道、status 状态、unit 单位",
    ),
];
