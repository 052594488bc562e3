//! The server: shared state, the router, security headers, page errors, and the poll that
//! switches to a new run's snapshot when it has finished.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;

use super::audit::AuditLog;
use super::auth::{Limiter, Reader, Sessions};
use super::snapshot::{self, Snapshot, Stamps};
use super::users::Users;
use super::{admin, assets, briefs, groups, login, petition, search, status, view};
use crate::cluster::Groups;
use crate::error::{Error, Result};
use crate::index::Scope;
use crate::tokenize::Tokenizer;

/// Where and what to serve.
#[derive(Debug, Clone)]
pub struct Options {
    /// The run folder whose outputs the pages show.
    pub run_dir: PathBuf,
    /// Accounts and the audit log (default `RUN_DIR/serve/`).
    pub state_dir: PathBuf,
    pub addr: SocketAddr,
    /// How often the run folder is checked for a finished run.
    pub poll: Duration,
}

/// Everything a request handler reads.
pub struct App {
    pub run_dir: PathBuf,
    pub state_dir: PathBuf,
    snapshot: RwLock<Arc<Snapshot>>,
    generation: AtomicU64,
    /// A run is writing the folder (shown on every page).
    pub in_progress: AtomicBool,
    pub tok: Tokenizer,
    pub audit: AuditLog,
    users: Mutex<(Option<std::time::SystemTime>, Arc<Users>)>,
    pub sessions: Sessions,
    pub limiter: Limiter,
    pub templates: &'static minijinja::Environment<'static>,
    /// Case groups restricted to a scope, per snapshot generation and scope.
    scoped_groups: Mutex<HashMap<(u64, String), Arc<Groups>>>,
    /// Rendered briefs, per snapshot generation, scope and period.
    pub briefs: Mutex<HashMap<(u64, String, String), Arc<String>>>,
}

pub type Shared = Arc<App>;

impl App {
    /// Loads the run folder's snapshot, the accounts and the audit log.
    pub fn new(run_dir: &Path, state_dir: &Path) -> Result<App> {
        let tok = Tokenizer::new(&Default::default())?;
        let snap = Snapshot::load(run_dir, 1)?;
        let users = Users::load(state_dir)?;
        Ok(App {
            run_dir: run_dir.to_path_buf(),
            state_dir: state_dir.to_path_buf(),
            snapshot: RwLock::new(Arc::new(snap)),
            generation: AtomicU64::new(1),
            in_progress: AtomicBool::new(snapshot::run_in_progress(run_dir)),
            tok,
            audit: AuditLog::open(state_dir)?,
            users: Mutex::new((users_mtime(state_dir), Arc::new(users))),
            sessions: Sessions::default(),
            limiter: Limiter::default(),
            templates: view::templates(),
            scoped_groups: Mutex::new(HashMap::new()),
            briefs: Mutex::new(HashMap::new()),
        })
    }

    /// The snapshot requests read now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Loads the folder again and switches to it (the old snapshot lives on while requests
    /// still hold it).
    pub fn reload(&self) -> Result<Arc<Snapshot>> {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let snap = Arc::new(Snapshot::load(&self.run_dir, generation)?);
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = snap.clone();
        // Caches of older generations are dead weight now.
        self.scoped_groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| k.0 == generation);
        self.briefs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| k.0 == generation);
        Ok(snap)
    }

    /// The accounts, re-read when `minqing user …` changed the file.
    pub fn users(&self) -> Arc<Users> {
        let mut slot = self.users.lock().unwrap_or_else(|p| p.into_inner());
        let now = users_mtime(&self.state_dir);
        if now != slot.0 {
            match Users::load(&self.state_dir) {
                Ok(u) => *slot = (now, Arc::new(u)),
                // A damaged file locks everyone out rather than keeping stale rights.
                Err(e) => {
                    eprintln!("serve: {}", e.chain());
                    *slot = (now, Arc::new(Users::default()));
                }
            }
        }
        slot.1.clone()
    }

    /// Replaces the accounts file (the administrator's page).
    pub fn save_users(&self, users: Users) -> Result<()> {
        users.save(&self.state_dir)?;
        let mut slot = self.users.lock().unwrap_or_else(|p| p.into_inner());
        *slot = (users_mtime(&self.state_dir), Arc::new(users));
        Ok(())
    }

    /// The case groups a reader may see: whole for an unrestricted reader; for a restricted
    /// one, each group that has members in scope, with its counts over those members only.
    pub fn visible_groups(&self, snap: &Snapshot, scope: &Scope) -> Arc<Groups> {
        if scope.is_unrestricted() {
            return snap.groups.clone();
        }
        let key = (snap.generation, scope_key(scope));
        if let Some(g) = self
            .scoped_groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return g.clone();
        }
        let g = Arc::new(super::scope::restrict_groups(snap, scope));
        self.scoped_groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, g.clone());
        g
    }

    /// Renders a template with the page's context.
    pub fn render(
        &self,
        name: &str,
        ctx: impl Serialize,
    ) -> std::result::Result<String, PageError> {
        self.templates
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| PageError::Internal(format!("template {name}: {e:#}")))
    }

    /// Writes an audit event; a request whose event cannot be written is refused.
    pub fn audit(
        &self,
        reader: &Reader,
        action: &str,
        detail: serde_json::Value,
    ) -> std::result::Result<(), PageError> {
        self.audit
            .record(&reader.name, &reader.ip, action, detail)
            .map_err(|e| {
                eprintln!("serve: audit log: {}", e.chain());
                PageError::Unavailable(
                    "审计日志无法写入，为保证每次查阅都有记录，暂停服务。请联系管理员。".into(),
                )
            })
    }
}

/// A stable text form of a scope, for cache keys.
pub fn scope_key(scope: &Scope) -> String {
    serde_json::to_string(scope).unwrap_or_default()
}

fn users_mtime(state_dir: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(Users::path(state_dir))
        .and_then(|m| m.modified())
        .ok()
}

/// What a page answers instead of itself. Each becomes a page in Chinese with its status code;
/// nothing a reader can send becomes a 500 with a stack trace.
#[derive(Debug)]
pub enum PageError {
    BadRequest(String),
    Forbidden(String),
    NotFound(String),
    TooManyRequests(String),
    Unavailable(String),
    Internal(String),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, msg) = match self {
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            PageError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            PageError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            PageError::TooManyRequests(m) => (StatusCode::TOO_MANY_REQUESTS, m),
            PageError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
            PageError::Internal(m) => {
                // The detail is for the operator's terminal, not the page.
                eprintln!("serve: {m}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "服务器内部错误，已记录。请稍后再试或联系管理员。".to_string(),
                )
            }
        };
        (status, Html(view::error_page(status.as_u16(), &msg))).into_response()
    }
}

impl From<Error> for PageError {
    fn from(e: Error) -> PageError {
        match e {
            Error::Query { message, .. } => PageError::BadRequest(view::query_error_zh(&message)),
            e => PageError::Internal(e.chain()),
        }
    }
}

/// An id from the URL path (an undecodable one names nothing).
pub fn path_id(
    p: std::result::Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> std::result::Result<String, PageError> {
    p.map(|x| x.0)
        .map_err(|_| PageError::NotFound("网址中的编号无法识别。".into()))
}

/// A submitted form (anything else is refused in Chinese, not with the framework's message).
pub fn form<T>(
    f: std::result::Result<axum::Form<T>, axum::extract::rejection::FormRejection>,
) -> std::result::Result<T, PageError> {
    f.map(|x| x.0)
        .map_err(|_| PageError::BadRequest("提交的表单无法识别，请返回页面重试。".into()))
}

/// Runs blocking work (searching, rendering, hashing) off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, PageError> + Send + 'static,
) -> std::result::Result<T, PageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PageError::Internal(format!("worker: {e}")))?
}

/// The policy every page gets: scripts and styles only from this server, no inline script, no
/// outside resource, no framing, forms only to this server.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Security headers on every response (a response that set its own policy keeps it), and
/// cross-site POSTs refused before any handler runs.
async fn guard(req: Request, next: Next) -> Response {
    if req.method() == Method::POST && !same_origin(&req) {
        return PageError::Forbidden("跨站提交的请求已拒绝。".into()).into_response();
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Search URLs carry the query: never hand them to another site. (`no-referrer` would also
    // make the browser send `Origin: null` on this site's own forms.)
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

/// A POST whose `Origin` names another site is cross-site (browsers send `Origin` on every
/// POST; a request without one is not from a browser page and still needs the CSRF token).
fn same_origin(req: &Request) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    origin.to_str().is_ok_and(|o| {
        o.strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
            .is_some_and(|rest| rest == host)
    })
}

/// Every route.
pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/", get(search::page))
        .route("/export", get(search::export))
        .route("/login", get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/petition/{id}", get(petition::page))
        .route("/petition/{id}/reveal", post(petition::reveal))
        .route("/groups", get(groups::list))
        .route("/groups/{id}", get(groups::page))
        .route("/groups/{id}/export", get(groups::export))
        .route("/briefs", get(briefs::page))
        .route("/briefs/view", get(briefs::view))
        .route("/status", get(status::page))
        .route("/admin/users", get(admin::users).post(admin::change))
        .route("/admin/audit", get(admin::audit))
        .route("/assets/{name}", get(assets::asset))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(guard))
        .with_state(app)
}

async fn not_found(_: State<Shared>) -> PageError {
    PageError::NotFound("没有这个页面。".into())
}

/// Checks the run folder every `poll`; when its outputs changed and then stayed the same for
/// one more poll with no run writing, loads them and switches.
async fn watch(app: Shared, poll: Duration) {
    let mut last: Option<Stamps> = None;
    loop {
        tokio::time::sleep(poll).await;
        let dir = app.run_dir.clone();
        let Ok((now, busy)) = tokio::task::spawn_blocking(move || {
            (snapshot::stamps(&dir), snapshot::run_in_progress(&dir))
        })
        .await
        else {
            continue;
        };
        app.in_progress.store(busy, Ordering::Relaxed);
        let settled = last.as_ref() == Some(&now);
        last = Some(now.clone());
        if busy || !settled || now == app.snapshot().stamps {
            continue;
        }
        let a = app.clone();
        match tokio::task::spawn_blocking(move || a.reload()).await {
            Ok(Ok(s)) => eprintln!(
                "serve: switched to the finished run ({} petitions, {} case groups)",
                s.records.len(),
                s.groups.groups.len()
            ),
            Ok(Err(e)) => eprintln!(
                "serve: the run folder changed but could not be loaded, still serving the last one: {}",
                e.chain()
            ),
            Err(e) => eprintln!("serve: reload: {e}"),
        }
    }
}

/// Serves until Ctrl-C or SIGTERM. `ready` is told the bound address (port 0 picks one).
pub fn run(opts: &Options, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    let app = Arc::new(App::new(&opts.run_dir, &opts.state_dir)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::io("start the server runtime for", &opts.run_dir))?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(opts.addr)
            .await
            .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", opts.addr)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", opts.addr)))?;
        ready(addr);
        tokio::spawn(watch(app.clone(), opts.poll));
        axum::serve(
            listener,
            router(app).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| Error::Usage(format!("server stopped: {e}")))
    })
}

async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
}
