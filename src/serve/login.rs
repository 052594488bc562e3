//! Signing in and out.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::app::{blocking, form, PageError, Shared};
use super::auth::{
    cookie, safe_next, same_token, set_cookie, token, ClientIp, Reader, SignIn, LOGIN_COOKIE,
    SESSION_COOKIE,
};
use super::users::verify_password;

#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

fn form_page(app: &Shared, next: &str, message: Option<&str>, status: u16) -> Response {
    let t = token();
    let body = app.render(
        "login.html",
        minijinja::context! { next, message, csrf => t, no_accounts => app.users().users.is_empty() },
    );
    match body {
        Ok(html) => (
            axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK),
            [(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, &t, None))],
            Html(html),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The sign-in form (a signed-in reader goes straight on).
pub async fn page(
    State(app): State<Shared>,
    reader: Result<Reader, SignIn>,
    Query(q): Query<Next>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if reader.is_ok() {
        return Redirect::to(&next).into_response();
    }
    form_page(&app, &next, None, 200)
}

pub async fn submit(
    State(app): State<Shared>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    f: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let f = match form(f) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let next = safe_next(f.next.as_deref());
    // The form's token must match the cookie set with the form: a page on another site
    // cannot sign a browser into an account of its choosing.
    if !cookie(&headers, LOGIN_COOKIE).is_some_and(|c| same_token(&c, &f.csrf)) {
        return form_page(&app, &next, Some("登录表单已过期，请重新输入。"), 403);
    }
    let (ip_key, user_key) = (format!("ip:{ip}"), format!("user:{}", f.name));
    if let Some(wait) = app.limiter.wait(&ip_key).or(app.limiter.wait(&user_key)) {
        let _ = app.audit.record(
            &f.name,
            &ip,
            "login_refused",
            serde_json::json!({"reason": "rate limit"}),
        );
        let minutes = wait.as_secs().div_ceil(60).max(1);
        return form_page(
            &app,
            &next,
            Some(&format!("登录失败次数过多，请 {minutes} 分钟后再试。")),
            429,
        );
    }
    let account = app.users().get(&f.name).cloned();
    let password = f.password.clone();
    // Hash even for an unknown name, so timing does not tell which names exist.
    let ok = blocking(move || {
        Ok(match &account {
            Some(a) => verify_password(&password, &a.password) && !a.disabled,
            None => {
                let _ = verify_password(&password, &DUMMY_HASH);
                false
            }
        })
    })
    .await
    .unwrap_or(false);
    if !ok {
        app.limiter.fail(&ip_key);
        app.limiter.fail(&user_key);
        if let Err(e) = app
            .audit
            .record(&f.name, &ip, "login_failed", serde_json::json!({}))
        {
            eprintln!("serve: audit log: {}", e.chain());
        }
        return form_page(&app, &next, Some("用户名或密码不正确，或账户已停用。"), 401);
    }
    app.limiter.clear(&user_key);
    if let Err(e) = app
        .audit
        .record(&f.name, &ip, "login", serde_json::json!({}))
    {
        eprintln!("serve: audit log: {}", e.chain());
        return PageError::Unavailable("审计日志无法写入，暂停登录。请联系管理员。".into())
            .into_response();
    }
    let session = app.sessions.create(&f.name);
    let mut res = Redirect::to(&next).into_response();
    let h = res.headers_mut();
    for c in [
        set_cookie(SESSION_COOKIE, &session, None),
        set_cookie(LOGIN_COOKIE, "", Some(std::time::Duration::ZERO)),
    ] {
        if let Ok(v) = c.parse() {
            h.append(header::SET_COOKIE, v);
        }
    }
    res
}

/// An Argon2id hash of a random string: what an unknown name is checked against.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    super::users::random_password()
        .and_then(|p| super::users::hash_password(&p))
        .unwrap_or_default()
});

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(app): State<Shared>,
    reader: Reader,
    f: Result<Form<LogoutForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, PageError> {
    reader.check_csrf(&form(f)?.csrf)?;
    app.sessions.end(&reader.session);
    app.audit(&reader, "logout", serde_json::json!({}))?;
    let mut res = Redirect::to("/login").into_response();
    if let Ok(v) = set_cookie(SESSION_COOKIE, "", Some(std::time::Duration::ZERO)).parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}
