//! One petition at a stable URL: the whole record (personal data masked), the reply, its case
//! group, the same petitioner's other petitions and the most similar earlier ones with their
//! replies. An administrator may reveal the personal data of this one petition, which the audit
//! log records.

use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, State};
use axum::response::Html;
use axum::Form;
use serde::{Deserialize, Serialize};

use super::app::{blocking, form, path_id, PageError, Shared};
use super::auth::Reader;
use super::snapshot::Snapshot;
use super::users::Role;
use super::view::{
    channel_zh, chrome, day, group_href, masked, minute, opt_day, petition_href, title_segments,
    Seg,
};
use crate::mask::mask_id;
use crate::schema::Record;

/// Similar earlier petitions listed.
const SIMILAR: usize = 8;
/// Below this (relative to the petition's own score) an earlier petition shares a few common
/// words at most: on the real 泰迪杯 messages, neighbours in the same case group score 0.15–0.5
/// and unrelated ones 0.03–0.05.
pub const MIN_SIMILARITY: f32 = 0.1;
/// The same petitioner's other petitions listed.
const SAME_PETITIONER: usize = 50;

/// The one message for a petition that does not exist and one outside the reader's scope, so a
/// restricted reader cannot probe which ids exist.
const NOT_FOUND: &str = "没有找到该信访件，或它不在您的查看范围内。";

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    href: String,
    date: String,
    title: Vec<Seg>,
    status: String,
    unit: String,
}

#[derive(Debug, Serialize)]
struct Precedent {
    id: String,
    href: String,
    title: Vec<Seg>,
    /// Date, unit, status and similarity: what is known.
    meta: String,
    reply: String,
    replied: String,
}

fn row(r: &Record) -> Row {
    Row {
        id: r.id.to_string(),
        href: petition_href(&r.id),
        date: day(&r.received_at),
        title: title_segments(&r.headline(), &[]),
        status: r.status.as_deref().unwrap_or_default().to_string(),
        unit: r
            .responsible_unit
            .as_deref()
            .unwrap_or_default()
            .to_string(),
    }
}

/// Renders the page; `reveal` shows personal data unmasked.
fn render(
    app: &Shared,
    reader: &Reader,
    snap: &Snapshot,
    id: &str,
    reveal: bool,
) -> Result<String, PageError> {
    let pos = snap
        .position(id)
        .filter(|&i| reader.scope.admits(&snap.records[i]))
        .ok_or_else(|| PageError::NotFound(NOT_FOUND.into()))?;
    let r = &snap.records[pos];
    app.audit(
        reader,
        if reveal { "reveal" } else { "open" },
        serde_json::json!({ "id": r.id }),
    )?;
    let others: Vec<Row> = r
        .petitioner
        .as_deref()
        .map(|p| snap.by_petitioner(p))
        .unwrap_or_default()
        .iter()
        .map(|&i| &snap.records[i as usize])
        .filter(|o| o.id != r.id && reader.scope.admits(o))
        .take(SAME_PETITIONER)
        .map(row)
        .collect();
    let scope = (!reader.scope.is_unrestricted()).then_some(&reader.scope);
    let similar = match &snap.index {
        Some(ix) => ix
            .similar_in(&r.id, SIMILAR, &app.tok, scope)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let precedents: Vec<Precedent> = similar
        .iter()
        .filter(|h| h.score.is_some_and(|s| s >= MIN_SIMILARITY))
        .filter_map(|h| {
            let o = snap.record(&h.id)?;
            let meta = [
                day(&o.received_at),
                o.responsible_unit
                    .as_deref()
                    .unwrap_or_default()
                    .to_string(),
                o.status.as_deref().unwrap_or_default().to_string(),
                h.score
                    .map(|s| format!("相似度 {s:.2}"))
                    .unwrap_or_default(),
            ]
            .into_iter()
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
            .join(" · ");
            Some(Precedent {
                id: o.id.to_string(),
                href: petition_href(&o.id),
                title: title_segments(&o.headline(), &[]),
                meta,
                reply: masked(o.reply().unwrap_or_default(), false),
                replied: opt_day(&o.replied_at),
            })
        })
        .collect();
    let group = snap.group_of(pos).map(|g| {
        minijinja::context! {
            id => g.id,
            label => g.label,
            size => g.size,
            href => reader.role.sees_analysis().then(|| group_href(&g.id)),
        }
    });
    let fields: Vec<(&str, String)> = vec![
        ("编号", r.id.to_string()),
        ("登记时间", minute(&r.received_at)),
        ("渠道", channel_zh(r.channel.code())),
        ("地区", r.region_path()),
        (
            "信访人",
            r.petitioner
                .as_deref()
                .map(|p| if reveal { p.to_string() } else { mask_id(p) })
                .unwrap_or_default(),
        ),
        ("人数", r.headcount.to_string()),
        (
            "问题分类",
            r.category.as_deref().unwrap_or_default().to_string(),
        ),
        (
            "责任单位",
            r.responsible_unit
                .as_deref()
                .unwrap_or_default()
                .to_string(),
        ),
        (
            "办理状态",
            r.status.as_deref().unwrap_or_default().to_string(),
        ),
        ("受理日期", opt_day(&r.accepted_at)),
        ("办理期限", opt_day(&r.due_at)),
        ("办结日期", opt_day(&r.closed_at)),
        (
            "满意度",
            r.satisfaction
                .map(|s| s.zh().to_string())
                .unwrap_or_default(),
        ),
        (
            "越级",
            r.bypass
                .map(|b| if b { "是" } else { "否" }.to_string())
                .unwrap_or_default(),
        ),
        (
            "点赞 / 反对",
            match (r.likes, r.dislikes) {
                (None, None) => String::new(),
                (l, d) => format!("{} / {}", l.unwrap_or(0), d.unwrap_or(0)),
            },
        ),
    ];
    app.render(
        "petition.html",
        minijinja::context! {
            chrome => chrome(app, reader, "petition"),
            id => r.id,
            reveal_href => format!("{}/reveal", petition_href(&r.id)),
            title => masked(&r.title, reveal),
            content => masked(&r.content, reveal),
            reply => masked(r.reply().unwrap_or_default(), reveal),
            replied => opt_day(&r.replied_at),
            fields => fields.into_iter().filter(|(_, v)| !v.is_empty()).collect::<Vec<_>>(),
            source => reader.role.is_admin().then(|| r.source().to_string()),
            group,
            others,
            precedents,
            revealed => reveal,
            can_reveal => reader.role.is_admin() && !reveal,
            min_similarity => format!("{MIN_SIMILARITY:.2}"),
        },
    )
}

pub async fn page(
    State(app): State<Shared>,
    reader: Reader,
    id: Result<Path<String>, PathRejection>,
) -> Result<Html<String>, PageError> {
    let id = path_id(id)?;
    blocking(move || {
        let snap = app.snapshot();
        render(&app, &reader, &snap, &id, false).map(Html)
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct RevealForm {
    #[serde(default)]
    csrf: String,
}

/// The same page with personal data shown: administrators only, CSRF-checked, audited.
pub async fn reveal(
    State(app): State<Shared>,
    reader: Reader,
    id: Result<Path<String>, PathRejection>,
    f: Result<Form<RevealForm>, FormRejection>,
) -> Result<Html<String>, PageError> {
    let id = path_id(id)?;
    reader.check_csrf(&form(f)?.csrf)?;
    reader.require(Role::Admin)?;
    blocking(move || {
        let snap = app.snapshot();
        render(&app, &reader, &snap, &id, true).map(Html)
    })
    .await
}
