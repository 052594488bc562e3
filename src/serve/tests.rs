//! Handler tests: every page and every refusal, through the real router (no network, no
//! browser; `tests/it/serve.rs` drives the real binary in headless Chromium).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use tower::ServiceExt;

use super::app::{router, App, Shared};
use super::users::{Role, Users};
use crate::index::Scope;

/// The scoped reader's unit, and a petition of another unit that shares their petitioner.
const UNIT: &str = "凤城区城管局";
const OTHER_UNIT: &str = "高新区城管局";
const PHONE: &str = "13812345678";

struct Fixture {
    _dir: tempfile::TempDir,
    run: PathBuf,
}

/// A run over 400 generated petitions plus hostile and scoped ones of our own.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let gen = dir.path().join("gen.csv");
        crate::sample::write(
            &crate::sample::Options {
                rows: 400,
                seed: 3,
                ..Default::default()
            },
            &gen,
        )
        .unwrap();
        let own = dir.path().join("own.csv");
        let rows = [
            // id, date, title, content, region, petitioner, unit, reply
            (
                "T001",
                "2019-12-02 09:00:00",
                "<script>alert('x')</script>油烟扰民",
                &*format!(
                    "楼下宏泰饭店油烟很大<img src=x onerror=alert(1)>，我叫张三丰，电话{PHONE}。"
                ),
                "云川市/凤城区/茶园街道",
                "PX1",
                UNIT,
                "<b>已责令整改</b>",
            ),
            (
                "T002",
                "2019-12-03 10:00:00",
                "油烟又来了",
                "高新区宏泰饭店油烟直排，多次反映无果。",
                "江城市/高新区/三眼街道",
                "PX1",
                OTHER_UNIT,
                "已转交",
            ),
            (
                "T003",
                "2019-12-04 11:00:00",
                "=HYPERLINK(\"http://evil.example\",\"点我\")",
                "=1+1 宏泰饭店油烟问题。",
                "江城市/高新区/三眼街道",
                "PX2",
                OTHER_UNIT,
                "",
            ),
            (
                "T004",
                "2019-12-05 11:00:00",
                "凤城区油烟",
                "凤城区宏泰饭店分店油烟扰民。",
                "云川市/凤城区/茶园街道",
                "PX1",
                UNIT,
                "",
            ),
        ];
        let mut w = csv::Writer::from_path(&own).unwrap();
        w.write_record([
            "信访件编号",
            "登记日期",
            "信访形式",
            "标题",
            "诉求内容",
            "所属地区",
            "信访人",
            "人数",
            "问题分类",
            "责任单位",
            "办理状态",
            "答复意见",
        ])
        .unwrap();
        for (id, d, t, c, r, p, u, reply) in rows {
            w.write_record([
                id,
                d,
                "网上信访",
                t,
                c,
                r,
                p,
                "1",
                "城乡建设",
                u,
                "办理中",
                reply,
            ])
            .unwrap();
        }
        w.flush().unwrap();
        let run = dir.path().join("run");
        let cfg = crate::config::PipelineConfig::ad_hoc(&[gen, own]);
        let opts = crate::pipeline::RunOptions {
            out_dir: run.clone(),
            ..Default::default()
        };
        crate::pipeline::run(&cfg, &opts, &|_| {}).unwrap();
        let mut users = Users::default();
        let all = Scope::default();
        users
            .add("admin", Role::Admin, all.clone(), "admin-password")
            .unwrap();
        users
            .add("ana", Role::Analyst, all.clone(), "analyst-password")
            .unwrap();
        users
            .add("cw", Role::Caseworker, all, "caseworker-password")
            .unwrap();
        let unit = Scope {
            units: vec![UNIT.into()],
            regions: vec![],
        };
        users
            .add("fc", Role::Caseworker, unit.clone(), "scoped-password")
            .unwrap();
        users
            .add("fa", Role::Analyst, unit, "scoped-password")
            .unwrap();
        users.save(&super::default_state_dir(&run)).unwrap();
        Fixture { _dir: dir, run }
    })
}

/// A server over the fixture with its own sessions, limiter and state folder.
fn app() -> Shared {
    let f = fixture();
    let state = tempfile::tempdir().unwrap().keep();
    std::fs::copy(
        Users::path(&super::default_state_dir(&f.run)),
        Users::path(&state),
    )
    .unwrap();
    Arc::new(App::new(&f.run, &state).unwrap())
}

fn session(app: &Shared, user: &str) -> String {
    app.sessions.create(user)
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
    bytes: Vec<u8>,
}

async fn send(app: &Shared, req: Request<Body>) -> Reply {
    let res = router(app.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 26)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    }
}

/// A path as a browser sends it: anything but visible ASCII percent-encoded.
fn uri(path: &str) -> String {
    super::auth::safe_next(Some(path))
}

async fn get(app: &Shared, path: &str, user: Option<&str>) -> Reply {
    let mut b = Request::get(uri(path));
    if let Some(u) = user {
        b = b.header(header::COOKIE, format!("mq_session={}", session(app, u)));
    }
    send(app, b.body(Body::empty()).unwrap()).await
}

/// A POST as `user`'s session, with the session's own CSRF token unless `csrf` is given.
async fn post(
    app: &Shared,
    path: &str,
    user: Option<&str>,
    form: &[(&str, &str)],
    csrf: Option<&str>,
    origin: Option<&str>,
) -> Reply {
    let mut b =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    let mut fields: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Some(u) = user {
        let s = session(app, u);
        let token = app.sessions.csrf_of(&s).unwrap();
        b = b.header(header::COOKIE, format!("mq_session={s}"));
        fields.push(("csrf".into(), csrf.map_or(token, str::to_string)));
    }
    if let Some(o) = origin {
        b = b
            .header(header::ORIGIN, o)
            .header(header::HOST, "127.0.0.1:8080");
    }
    let body = serde_urlencoded::to_string(&fields).unwrap();
    send(app, b.body(Body::from(body)).unwrap()).await
}

fn audit_lines(app: &Shared) -> String {
    std::fs::read_to_string(app.audit.path()).unwrap()
}

fn assert_escaped(body: &str) {
    for bad in [
        "<script>alert",
        "<img src=x",
        "onerror=alert(1)>",
        "<b>已责令",
    ] {
        assert!(!body.contains(bad), "unescaped `{bad}` in page");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_send_the_signed_out_to_sign_in_and_refuse_posts() {
    let app = app();
    for path in [
        "/",
        "/?q=油烟",
        "/petition/T001",
        "/groups",
        "/briefs",
        "/status",
        "/export?q=油烟",
        "/admin/users",
    ] {
        let r = get(&app, path, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        let loc = r.headers[header::LOCATION].to_str().unwrap();
        assert!(loc.starts_with("/login?next=%2F"), "{path} → {loc}");
    }
    let r = post(&app, "/logout", None, &[("csrf", "x")], None, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post(
        &app,
        "/petition/T001/reveal",
        None,
        &[("csrf", "x")],
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("请先登录"), "{}", r.body);
    // A forged or expired session cookie is no session.
    let r = send(
        &app,
        Request::get("/")
            .header(header::COOKIE, "mq_session=forged")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

fn set_cookie(r: &Reply, name: &str) -> Option<String> {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

fn hidden(body: &str, name: &str) -> String {
    let at = body.find(&format!("name=\"{name}\" value=\"")).unwrap() + name.len() + 15;
    body[at..at + body[at..].find('"').unwrap()].to_string()
}

async fn sign_in(app: &Shared, name: &str, password: &str, next: &str) -> Reply {
    let form = get(
        app,
        &format!("/login?next={}", super::view::encode_component(next)),
        None,
    )
    .await;
    assert_eq!(form.status, StatusCode::OK);
    let pre = set_cookie(&form, "mq_login").unwrap();
    assert!(
        pre.contains("HttpOnly") && pre.contains("SameSite=Lax"),
        "{pre}"
    );
    let token = hidden(&form.body, "csrf");
    let body = serde_urlencoded::to_string([
        ("name", name),
        ("password", password),
        ("csrf", &token),
        ("next", next),
    ])
    .unwrap();
    send(
        app,
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, pre.split(';').next().unwrap())
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sets_an_http_only_session_and_goes_back() {
    let app = app();
    let r = sign_in(&app, "cw", "wrong-password", "/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("用户名或密码不正确"), "{}", r.body);
    let r = sign_in(&app, "nobody", "x", "/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = sign_in(&app, "cw", "caseworker-password", "/?q=油烟").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], "/?q=%E6%B2%B9%E7%83%9F");
    let c = set_cookie(&r, "mq_session").unwrap();
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/"),
        "{c}"
    );
    let s = c.split(';').next().unwrap().to_string();
    let page = send(
        &app,
        Request::get("/")
            .header(header::COOKIE, &s)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("cw · 经办人员"), "{}", page.body);
    // Signing out needs the token; then the cookie is dead.
    let token = hidden(&page.body, "csrf");
    let out = send(
        &app,
        Request::post("/logout")
            .header(header::COOKIE, &s)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={token}")))
            .unwrap(),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let again = send(
        &app,
        Request::get("/")
            .header(header::COOKIE, &s)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    let log = audit_lines(&app);
    assert!(
        log.contains("\"login_failed\"") && log.contains("\"login\"") && log.contains("\"logout\"")
    );
    // An off-site `next` never leaves the server.
    let r = sign_in(&app, "cw", "caseworker-password", "//evil.example/").await;
    assert_eq!(r.headers[header::LOCATION], "/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_without_the_form_token_is_refused() {
    let app = app();
    let body = "name=cw&password=caseworker-password&csrf=abc";
    let r = send(
        &app,
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, "mq_login=def")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(set_cookie(&r, "mq_session").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_lock_sign_in() {
    let app = app();
    for _ in 0..super::auth::MAX_FAILURES {
        assert_eq!(
            sign_in(&app, "ana", "nope", "/").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = sign_in(&app, "ana", "analyst-password", "/").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("分钟后再试"), "{}", r.body);
    assert!(set_cookie(&r, "mq_session").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_page_has_hits_facets_histogram_and_total() {
    let app = app();
    let r = get(&app, "/?q=宏泰饭店", Some("ana")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("共 <b>4</b> 件"), "{}", r.body);
    assert!(r.body.contains("<mark>宏泰饭店</mark>"));
    for facet in ["地区", "问题分类", "渠道", "办理状态", "责任单位", "类案"] {
        assert!(r.body.contains(&format!("<h3>{facet}</h3>")), "{facet}");
    }
    assert!(r.body.contains("<svg class=\"chart\""));
    assert!(
        r.body.contains("from=2019-12-02&amp;to=2019-12-08"),
        "week bar link"
    );
    assert!(
        r.body.contains("unit=%E5%87%A4%E5%9F%8E"),
        "facet link sets the unit"
    );
    assert_escaped(&r.body);
    assert!(
        r.body.contains("&lt;script&gt;alert"),
        "hostile title shown as text"
    );
    assert!(!r.body.contains(PHONE), "phone masked in snippets");
    let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(r.headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(r.headers[header::REFERRER_POLICY], "same-origin");
    // A filter narrows the total.
    let narrowed = get(
        &app,
        &format!("/?q=宏泰饭店&unit={}", super::view::encode_component(UNIT)),
        Some("ana"),
    )
    .await;
    assert!(
        narrowed.body.contains("共 <b>2</b> 件"),
        "{}",
        narrowed.body
    );
    let log = audit_lines(&app);
    assert!(log.contains("\"search\"") && log.contains("宏泰饭店"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_searches_get_a_clear_message_never_a_500() {
    let app = app();
    for (q, says) in [
        ("/?q=%22油烟", "引号"),
        ("/?q=foo:bar", "字段"),
        ("/?q=%E6%B2%B9%E7%83%9F+OR+OR", "OR"),
        ("/?q=x&from=2019-13-45", "不是日期"),
        ("/?q=x&from=2019-12-01&to=2019-11-01", "早于"),
        ("/?q=x&page=abc", "页码"),
        ("/?q=x&page=100000", "只能翻到"),
        ("/?q=x&channel=微信", "渠道"),
        ("/?q=x&page=1&page=2", "参数无法识别"),
    ] {
        let r = get(&app, q, Some("cw")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.body);
        assert!(r.body.contains(says), "{q}: {}", r.body);
    }
    let corpus = include_str!("../../tests/fuzz/query.txt");
    for line in corpus.lines().filter(|l| !l.starts_with('#')) {
        let q = line.replace("\\n", "\n");
        let path = format!("/?q={}", super::view::encode_component(&q));
        let r = get(&app, &path, Some("cw")).await;
        assert!(
            r.status == StatusCode::OK || r.status == StatusCode::BAD_REQUEST,
            "{q:?}: {}",
            r.status
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn petition_page_masks_escapes_and_links() {
    let app = app();
    let r = get(&app, "/petition/T001", Some("ana")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_escaped(&r.body);
    assert!(
        r.body.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains(PHONE) && !r.body.contains("张三丰"),
        "personal data masked"
    );
    assert!(
        r.body.contains("/petition/T002"),
        "same petitioner's other petition: {}",
        r.body
    );
    assert!(r.body.contains("相似的既往信访件"));
    assert!(
        !r.body.contains("id=\"reveal\""),
        "only administrators may reveal"
    );
    assert!(audit_lines(&app).contains("\"open\""));
    let r = get(&app, "/petition/NOPE", Some("ana")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("没有找到该信访件"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revealing_needs_an_administrator_a_token_and_is_audited() {
    let app = app();
    let r = get(&app, "/petition/T001", Some("admin")).await;
    assert!(r.body.contains("id=\"reveal\""));
    let r = post(&app, "/petition/T001/reveal", Some("ana"), &[], None, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post(
        &app,
        "/petition/T001/reveal",
        Some("admin"),
        &[],
        Some("forged"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("CSRF"));
    let r = post(
        &app,
        "/petition/T001/reveal",
        Some("admin"),
        &[],
        None,
        Some("http://evil.example"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "cross-site POST");
    assert!(!audit_lines(&app).contains("\"reveal\""));
    let r = post(
        &app,
        "/petition/T001/reveal",
        Some("admin"),
        &[],
        None,
        Some("http://127.0.0.1:8080"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains(PHONE) && r.body.contains("id=\"revealed\""));
    assert_escaped(&r.body);
    let log = audit_lines(&app);
    assert!(log.contains("\"reveal\"") && log.contains("T001"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_limit_the_pages() {
    let app = app();
    for path in [
        "/groups",
        "/groups/G0001",
        "/briefs",
        "/briefs/view",
        "/admin/users",
        "/admin/audit",
    ] {
        let r = get(&app, path, Some("cw")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(r.body.contains("权限"), "{path}");
    }
    for path in ["/admin/users", "/admin/audit"] {
        assert_eq!(
            get(&app, path, Some("ana")).await.status,
            StatusCode::FORBIDDEN
        );
    }
    let r = post(
        &app,
        "/admin/users",
        Some("ana"),
        &[("name", "cw"), ("action", "disable")],
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A case worker's search has no group links (the group pages are not theirs).
    let r = get(&app, "/?q=小区", Some("cw")).await;
    assert!(
        !r.body.contains("href=\"/groups/"),
        "caseworker sees group links"
    );
    assert!(!r.body.contains("href=\"/groups\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_reader_never_sees_another_units_petitions() {
    let app = app();
    let r = get(&app, "/?q=宏泰饭店", Some("fc")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("T001") && r.body.contains("T004"));
    assert!(
        !r.body.contains("T002") && !r.body.contains("T003"),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains(OTHER_UNIT),
        "another unit in hits or facets"
    );
    assert!(r.body.contains("共 <b>2</b> 件"), "{}", r.body);
    // Asking for the other unit explicitly finds nothing.
    let r = get(
        &app,
        &format!(
            "/?q=宏泰饭店&unit={}",
            super::view::encode_component(OTHER_UNIT)
        ),
        Some("fc"),
    )
    .await;
    assert!(r.body.contains("共 <b>0</b> 件"));
    // Its petition is "not found", word for word as a petition that does not exist.
    let other = get(&app, "/petition/T002", Some("fc")).await;
    let none = get(&app, "/petition/NOPE", Some("fc")).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.body, none.body);
    // Nor does it appear as the same petitioner's, as a precedent, or in an export.
    let r = get(&app, "/petition/T004", Some("fc")).await;
    assert!(
        r.body.contains("/petition/T001") && !r.body.contains("T002"),
        "{}",
        r.body
    );
    let r = get(&app, "/export?q=宏泰饭店&format=csv", Some("fc")).await;
    assert!(!r.body.contains("T002") && !r.body.contains("T003") && r.body.contains("T001"));
    // Groups: only in-scope members, counted over them.
    let snap = app.snapshot();
    let scope = Scope {
        units: vec![UNIT.into()],
        regions: vec![],
    };
    let visible = app.visible_groups(&snap, &scope);
    for g in &visible.groups {
        assert!(!g.members.is_empty());
        assert_eq!(g.size, g.members.len());
        for id in &g.members {
            assert_eq!(
                snap.record(id).unwrap().responsible_unit.as_deref(),
                Some(UNIT)
            );
        }
        assert!(g.units.iter().all(|(u, _)| u == UNIT));
    }
    let r = get(&app, "/groups", Some("fa")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains(OTHER_UNIT));
    assert!(
        !r.body.contains("<th class=\"num\">热度</th>"),
        "whole-group heat hidden"
    );
    if let Some(hidden_group) = snap
        .groups
        .groups
        .iter()
        .find(|g| !visible.groups.iter().any(|v| v.id == g.id))
    {
        let r = get(&app, &format!("/groups/{}", hidden_group.id), Some("fa")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    if let Some(g) = visible.groups.first() {
        let r = get(&app, &format!("/groups/{}", g.id), Some("fa")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(!r.body.contains(OTHER_UNIT));
        let r = get(
            &app,
            &format!("/groups/{}/export?format=csv", g.id),
            Some("fa"),
        )
        .await;
        let mut rows = csv::Reader::from_reader(r.bytes.as_slice());
        let unit_col = rows
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "责任单位")
            .unwrap();
        for row in rows.records() {
            assert_eq!(&row.unwrap()[unit_col], UNIT);
        }
    }
    let r = get(&app, "/status", Some("fc")).await;
    assert!(!r.body.contains("拒收与重复") && !r.body.contains("库中共有"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_are_masked_and_formula_safe() {
    let app = app();
    let r = get(&app, "/export?q=宏泰饭店&format=csv", Some("cw")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(r.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert!(r.bytes.starts_with("\u{feff}".as_bytes()), "BOM for Excel");
    assert!(!r.body.contains(PHONE) && !r.body.contains("张三丰"));
    assert!(
        r.body.contains("'=HYPERLINK") && !r.body.contains(",=HYPERLINK"),
        "{}",
        r.body
    );
    assert!(r.body.contains("'=1+1"), "{}", r.body);
    let r = get(&app, "/export?q=宏泰饭店&format=xlsx", Some("cw")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.bytes.starts_with(b"PK"), "xlsx is a zip");
    let r = get(&app, "/export?q=油烟&format=pdf", Some("cw")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = get(&app, "/export", Some("cw")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let log = audit_lines(&app);
    assert!(log.contains("\"export\"") && log.contains("\"rows\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_pages_list_sort_filter_and_export() {
    let app = app();
    let snap = app.snapshot();
    assert!(
        !snap.groups.groups.is_empty(),
        "the fixture has case groups"
    );
    for q in [
        "",
        "?sort=size",
        "?sort=growth",
        "?trend=growing",
        "?region=凤城区",
        "?page=1",
    ] {
        let r = get(&app, &format!("/groups{q}"), Some("ana")).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
    }
    for q in ["?sort=nope", "?trend=up", "?page=999"] {
        let r = get(&app, &format!("/groups{q}"), Some("ana")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
    }
    let g = &snap.groups.groups[0];
    let r = get(&app, &format!("/groups/{}", g.id), Some("ana")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains(&g.label) || r.body.contains(&g.id));
    assert!(r.body.contains("为什么归为一组") && r.body.contains("建议牵头单位"));
    assert!(r.body.contains("<svg class=\"chart\""));
    for id in g.members.iter().take(5) {
        assert!(
            r.body.contains(&format!("/petition/{id}")),
            "member {id}: {}",
            r.body
        );
    }
    let x = get(&app, &format!("/groups/{}/export", g.id), Some("ana")).await;
    assert_eq!(x.status, StatusCode::OK);
    assert!(x.bytes.starts_with(b"PK"));
    assert!(audit_lines(&app).contains("\"group_export\""));
    assert_eq!(
        get(&app, "/groups/G9999", Some("ana")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn briefs_render_like_the_cli_with_their_own_policy() {
    let app = app();
    // The server renders into a scratch folder, never over the run's own brief.
    let brief_mtime = || {
        app.run_dir
            .join("brief.html")
            .metadata()
            .unwrap()
            .modified()
            .unwrap()
    };
    let before = brief_mtime();
    let r = get(&app, "/briefs", Some("ana")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("2019-W52") && r.body.contains("2019-11"),
        "{}",
        r.body
    );
    let r = get(&app, "/briefs/view?week=2019-W49", Some("ana")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("信访形势"));
    assert_escaped(&r.body);
    let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("style-src 'unsafe-inline'") && !csp.contains("script"),
        "{csp}"
    );
    let latest = get(&app, "/briefs/view", Some("ana")).await;
    assert_eq!(latest.status, StatusCode::OK);
    let month = get(&app, "/briefs/view?month=2019-11", Some("ana")).await;
    assert_eq!(month.status, StatusCode::OK);
    let scoped = get(&app, "/briefs/view?week=2019-W49", Some("fa")).await;
    assert_eq!(scoped.status, StatusCode::OK);
    assert!(
        !scoped.body.contains(OTHER_UNIT),
        "a restricted brief counts only its scope"
    );
    assert_eq!(brief_mtime(), before);
    for bad in ["week=2019-W99", "week=../../etc/passwd", "month=2019-13"] {
        let r = get(&app, &format!("/briefs/view?{bad}"), Some("ana")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_shows_the_run() {
    let app = app();
    let r = get(&app, "/status", Some("ana")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("上次运行") && r.body.contains("拒收与重复"));
    assert!(r.body.contains("id=\"idle\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_and_ids_never_reach_files() {
    let app = app();
    assert_eq!(
        get(&app, "/assets/style.css", None).await.status,
        StatusCode::OK
    );
    for path in [
        "/assets/..%2F..%2FCargo.toml",
        "/assets/%2e%2e%2fmod.rs",
        "/assets/../../Cargo.toml",
        "/petition/..%2F..%2F..%2Fetc%2Fpasswd",
        "/petition/%2e%2e",
        "/groups/..%2Fgroups.json",
        "/groups/..%2F..%2Frun.json/export",
        "/store/petitions.parquet",
        "/run.json",
        "/index/meta.json",
        "/petition/%FF%FE",
    ] {
        let r = get(&app, path, Some("ana")).await;
        assert!(
            r.status == StatusCode::NOT_FOUND || r.status == StatusCode::SEE_OTHER,
            "{path}: {}",
            r.status
        );
        for leak in ["[package]", "root:x:", "\"counts\"", "PAR1", "segments"] {
            assert!(!r.body.contains(leak), "{path} leaks `{leak}`");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_manage_accounts() {
    let app = app();
    let r = get(&app, "/admin/users", Some("admin")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("fc") && r.body.contains(UNIT));
    let victim = session(&app, "cw");
    let r = post(
        &app,
        "/admin/users",
        Some("admin"),
        &[("name", "cw"), ("action", "disable")],
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = send(
        &app,
        Request::get("/")
            .header(header::COOKIE, format!("mq_session={victim}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "a disabled account's session ends"
    );
    assert!(app.users().get("cw").unwrap().disabled);
    let r = post(
        &app,
        "/admin/users",
        Some("admin"),
        &[("name", "admin"), ("action", "disable")],
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = post(
        &app,
        "/admin/users",
        Some("admin"),
        &[("name", "ana"), ("action", "reset")],
        None,
        None,
    )
    .await;
    assert!(r.body.contains("id=\"new-password\""));
    let pw = {
        let at = r.body.find("id=\"new-password\">").unwrap() + 18;
        r.body[at..at + 16].to_string()
    };
    assert!(super::users::verify_password(
        &pw,
        &app.users().get("ana").unwrap().password
    ));
    let r = post(
        &app,
        "/admin/users",
        Some("admin"),
        &[("name", "ghost"), ("action", "reset")],
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(&app, "/admin/audit", Some("admin")).await;
    assert!(r.body.contains("账户变更"), "{}", r.body);
    assert_eq!(
        super::audit::verify(app.audit.path()).unwrap().map(|_| ()),
        Ok(())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_run_switches_the_snapshot() {
    let app = app();
    let before = app.snapshot();
    let again = app.reload().unwrap();
    assert_eq!(again.generation, before.generation + 1);
    assert_eq!(again.records.len(), before.records.len());
    assert!(!super::snapshot::run_in_progress(&app.run_dir));
}

#[test]
fn templates_never_mark_text_safe() {
    for (name, src) in [
        ("base", include_str!("templates/base.html")),
        ("search", include_str!("templates/search.html")),
        ("petition", include_str!("templates/petition.html")),
        ("group", include_str!("templates/group.html")),
        ("groups", include_str!("templates/groups.html")),
        ("macros", include_str!("templates/macros.html")),
        ("status", include_str!("templates/status.html")),
        ("users", include_str!("templates/users.html")),
        ("audit", include_str!("templates/audit.html")),
        ("briefs", include_str!("templates/briefs.html")),
        ("login", include_str!("templates/login.html")),
        ("error", include_str!("templates/error.html")),
    ] {
        for bad in [
            "|safe",
            "| safe",
            "autoescape false",
            "style=",
            "<script>",
            "onclick",
            "onload",
        ] {
            assert!(!src.contains(bad), "{name}: `{bad}`");
        }
    }
}
