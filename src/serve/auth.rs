//! Sessions, CSRF tokens, the login rate limit, and [`Reader`]: the signed-in account a handler
//! acts for.
//!
//! A session is a random 256-bit token in an HttpOnly, SameSite=Lax cookie, kept in memory
//! (a restart signs everyone out); it ends after [`IDLE`] without a request or [`MAX_AGE`] in
//! all. The account is looked up on every request, so disabling it or changing its role or
//! scope with `minqing user …` takes effect at once. Every POST carries the session's CSRF token
//! in the form; the sign-in form carries a token bound to a pre-session cookie.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};

use super::app::{PageError, Shared};
use super::users::{fill_random, Role};
use crate::index::Scope;

/// Session cookie name.
pub const SESSION_COOKIE: &str = "mq_session";
/// Cookie of the sign-in form's CSRF token (before there is a session).
pub const LOGIN_COOKIE: &str = "mq_login";
/// A session ends after this long without a request …
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// … or this long after signing in.
pub const MAX_AGE: Duration = Duration::from_secs(12 * 3600);

/// A random token, hex.
pub fn token() -> String {
    let mut b = [0u8; 32];
    // The OS random source failing is not something a page can recover from; a constant token
    // would be worse than refusing to sign anyone in.
    fill_random(&mut b).expect("the operating system's random source works");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares two tokens in time independent of where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

struct Session {
    user: String,
    csrf: String,
    created: Instant,
    last: Instant,
}

/// Signed-in sessions.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Starts a session; returns its token.
    pub fn create(&self, user: &str) -> String {
        let t = token();
        let now = Instant::now();
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, s| alive(s, now));
        m.insert(
            t.clone(),
            Session {
                user: user.to_string(),
                csrf: token(),
                created: now,
                last: now,
            },
        );
        t
    }

    /// The user and CSRF token of a live session, refreshing its idle clock.
    fn touch(&self, token: &str) -> Option<(String, String)> {
        let now = Instant::now();
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match m.get_mut(token) {
            Some(s) if alive(s, now) => {
                s.last = now;
                Some((s.user.clone(), s.csrf.clone()))
            }
            Some(_) => {
                m.remove(token);
                None
            }
            None => None,
        }
    }

    /// The CSRF token of a live session (tests and tools that post forms).
    pub fn csrf_of(&self, token: &str) -> Option<String> {
        self.touch(token).map(|(_, csrf)| csrf)
    }

    pub fn end(&self, token: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }

    /// Ends every session of `user` (account disabled or password reset).
    pub fn end_user(&self, user: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, s| s.user != user);
    }
}

fn alive(s: &Session, now: Instant) -> bool {
    now.duration_since(s.last) < IDLE && now.duration_since(s.created) < MAX_AGE
}

/// Failed sign-ins allowed per address and per account name within [`WINDOW`].
pub const MAX_FAILURES: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Counts failed sign-ins by key (`ip:…`, `user:…`).
#[derive(Default)]
pub struct Limiter {
    fails: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Limiter {
    /// How long until `key` may try again (None: now).
    pub fn wait(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        let mut m = self.fails.lock().unwrap_or_else(|p| p.into_inner());
        let q = m.get_mut(key)?;
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        if q.len() < MAX_FAILURES {
            return None;
        }
        q.front().map(|t| WINDOW - now.duration_since(*t))
    }

    pub fn fail(&self, key: &str) {
        let now = Instant::now();
        let mut m = self.fails.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() > 100_000 {
            // Bounded memory under a flood of names: forget what has expired.
            m.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        m.entry(key.to_string()).or_default().push_back(now);
    }

    pub fn clear(&self, key: &str) {
        self.fails
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// A cookie's value from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .flatten()
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, the whole site; `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: Option<Duration>) -> String {
    let mut c = Cookie::build((name.to_string(), value.to_string()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/");
    if let Some(age) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(age.as_secs() as i64));
    }
    c.build().to_string()
}

/// The client's address, for the audit log and the sign-in limit.
pub fn client_ip(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "-".to_string(), |c| c.0.ip().to_string())
}

/// The client's address as an extractor (never fails: `-` when unknown).
pub struct ClientIp(pub String);

impl FromRequestParts<Shared> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &Shared,
    ) -> Result<ClientIp, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

/// The signed-in account a request acts for.
#[derive(Debug, Clone)]
pub struct Reader {
    pub name: String,
    pub role: Role,
    pub scope: Scope,
    /// The session's CSRF token, put into every form.
    pub csrf: String,
    /// The session cookie's value.
    pub session: String,
    pub ip: String,
}

impl Reader {
    /// Refuses readers below `role`.
    pub fn require(&self, role: Role) -> Result<(), PageError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(PageError::Forbidden(format!(
                "此页面需要“{}”及以上权限，您的账户是“{}”。",
                role.zh(),
                self.role.zh()
            )))
        }
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), PageError> {
        if same_token(token, &self.csrf) {
            Ok(())
        } else {
            Err(PageError::Forbidden(
                "表单已过期或不是从本系统页面提交的（CSRF 校验失败），请返回刷新后重试。".into(),
            ))
        }
    }
}

/// No live session: pages send the browser to sign in (and back afterwards); anything else is
/// refused.
pub struct SignIn {
    next: Option<String>,
}

impl IntoResponse for SignIn {
    fn into_response(self) -> Response {
        match self.next {
            Some(next) => Redirect::to(&format!(
                "/login?next={}",
                super::view::encode_component(&next)
            ))
            .into_response(),
            None => PageError::Forbidden("请先登录。".into()).into_response(),
        }
    }
}

impl FromRequestParts<Shared> for Reader {
    type Rejection = SignIn;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Reader, SignIn> {
        let refuse = || SignIn {
            next: (parts.method == Method::GET).then(|| {
                parts
                    .uri
                    .path_and_query()
                    .map_or("/".to_string(), |p| p.as_str().to_string())
            }),
        };
        let Some(session) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(refuse());
        };
        let Some((user, csrf)) = app.sessions.touch(&session) else {
            return Err(refuse());
        };
        let users = app.users();
        let Some(acc) = users.get(&user).filter(|a| !a.disabled) else {
            app.sessions.end(&session);
            return Err(refuse());
        };
        Ok(Reader {
            name: acc.name.clone(),
            role: acc.role,
            scope: acc.scope.clone(),
            csrf,
            session,
            ip: client_ip(parts),
        })
    }
}

/// A `next` target after signing in: a path on this server only (never `//host` or a URL),
/// with anything but visible ASCII percent-encoded so it is a valid `Location`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => {
            let mut out = String::with_capacity(n.len());
            for c in n.chars() {
                if c.is_ascii_graphic() {
                    out.push(c);
                } else {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("%{b:02X}"));
                    }
                }
            }
            out
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_and_limits_apply() {
        let t = token();
        assert_eq!(t.len(), 64);
        assert!(same_token(&t, &t.clone()));
        assert!(!same_token(&t, &token()));
        assert!(!same_token("", ""));
        let l = Limiter::default();
        for _ in 0..MAX_FAILURES - 1 {
            l.fail("ip:x");
        }
        assert!(l.wait("ip:x").is_none());
        l.fail("ip:x");
        assert!(l.wait("ip:x").is_some_and(|d| d <= WINDOW));
        l.clear("ip:x");
        assert!(l.wait("ip:x").is_none());
    }

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(safe_next(Some("/?q=油烟")), "/?q=%E6%B2%B9%E7%83%9F");
        assert_eq!(safe_next(Some("/?q=a b")), "/?q=a%20b");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn sessions_end() {
        let s = Sessions::default();
        let t = s.create("a");
        assert_eq!(s.touch(&t).map(|x| x.0), Some("a".into()));
        s.end_user("a");
        assert!(s.touch(&t).is_none());
    }
}
