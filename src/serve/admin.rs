//! The administrator's pages: accounts (disable, enable, reset a password; accounts are created
//! with `minqing user add`) and the audit log.

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::response::Html;
use axum::Form;
use serde::Deserialize;

use super::app::{blocking, form, PageError, Shared};
use super::auth::Reader;
use super::users::{random_password, Role};
use super::view::chrome;

/// Audit events shown.
const AUDIT_SHOWN: usize = 300;

fn users_page(
    app: &Shared,
    reader: &Reader,
    notice: Option<String>,
    password: Option<(String, String)>,
) -> Result<String, PageError> {
    let users = app.users();
    let rows: Vec<_> = users
        .users
        .iter()
        .map(|u| {
            minijinja::context! {
                name => u.name,
                role => u.role.zh(),
                units => u.scope.units.join("、"),
                regions => u.scope.regions.join("、"),
                disabled => u.disabled,
                created => u.created,
                me => u.name == reader.name,
            }
        })
        .collect();
    app.render(
        "users.html",
        minijinja::context! {
            chrome => chrome(app, reader, "users"),
            rows,
            notice,
            password,
            state_dir => app.state_dir.display().to_string(),
        },
    )
}

pub async fn users(State(app): State<Shared>, reader: Reader) -> Result<Html<String>, PageError> {
    reader.require(Role::Admin)?;
    users_page(&app, &reader, None, None).map(Html)
}

#[derive(Debug, Deserialize)]
pub struct Change {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    action: String,
}

/// Disable, enable or reset one account.
pub async fn change(
    State(app): State<Shared>,
    reader: Reader,
    f: Result<Form<Change>, FormRejection>,
) -> Result<Html<String>, PageError> {
    let f = form(f)?;
    reader.check_csrf(&f.csrf)?;
    reader.require(Role::Admin)?;
    blocking(move || {
        let mut users = (*app.users()).clone();
        let Some(acc) = users.get(&f.name).cloned() else {
            return Err(PageError::NotFound(format!("没有账户“{}”。", f.name)));
        };
        let mut password = None;
        let notice = match f.action.as_str() {
            "disable" => {
                if acc.name == reader.name {
                    return Err(PageError::BadRequest("不能停用自己的账户。".into()));
                }
                if acc.role.is_admin() && users.admins_enabled() <= 1 {
                    return Err(PageError::BadRequest("不能停用最后一个管理员账户。".into()));
                }
                users.set_disabled(&acc.name, true)?;
                app.sessions.end_user(&acc.name);
                format!("已停用账户“{}”，其登录已失效。", acc.name)
            }
            "enable" => {
                users.set_disabled(&acc.name, false)?;
                format!("已启用账户“{}”。", acc.name)
            }
            "reset" => {
                let pw = random_password()?;
                users.set_password(&acc.name, &pw)?;
                app.sessions.end_user(&acc.name);
                password = Some((acc.name.clone(), pw));
                format!(
                    "已为“{}”设置新密码（只显示这一次），其原有登录已失效。",
                    acc.name
                )
            }
            other => return Err(PageError::BadRequest(format!("未知操作“{other}”。"))),
        };
        app.audit(
            &reader,
            "account",
            serde_json::json!({ "name": acc.name, "action": f.action }),
        )?;
        app.save_users(users)?;
        users_page(&app, &reader, Some(notice), password).map(Html)
    })
    .await
}

pub async fn audit(State(app): State<Shared>, reader: Reader) -> Result<Html<String>, PageError> {
    reader.require(Role::Admin)?;
    blocking(move || {
        let events = app.audit.recent(AUDIT_SHOWN)?;
        let rows: Vec<_> = events
            .iter()
            .map(|e| {
                minijinja::context! {
                    at => e.at.get(..19).unwrap_or(&e.at).replace('T', " "),
                    user => e.user,
                    ip => e.ip,
                    action => action_zh(&e.action),
                    detail => detail_text(&e.detail),
                }
            })
            .collect();
        let html = app.render(
            "audit.html",
            minijinja::context! {
                chrome => chrome(&app, &reader, "audit"),
                rows,
                path => app.audit.path().display().to_string(),
                shown => AUDIT_SHOWN,
            },
        )?;
        Ok(Html(html))
    })
    .await
}

fn action_zh(a: &str) -> &str {
    match a {
        "login" => "登录",
        "login_failed" => "登录失败",
        "login_refused" => "登录被限制",
        "logout" => "退出",
        "search" => "检索",
        "export" => "导出检索结果",
        "open" => "查看信访件",
        "reveal" => "查看未遮蔽个人信息",
        "groups" => "查看类案列表",
        "group" => "查看类案",
        "group_export" => "导出类案",
        "brief" => "查看周报",
        "account" => "账户变更",
        other => other,
    }
}

/// `key=value` pairs of an event's detail, in one line.
fn detail_text(v: &serde_json::Value) -> String {
    match v.as_object() {
        Some(m) => m
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                v => format!("{k}={v}"),
            })
            .collect::<Vec<_>>()
            .join("  "),
        None => v.to_string(),
    }
}
