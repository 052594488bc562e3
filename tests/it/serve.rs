//! `minqing serve` end to end: the real binary, accounts made with `minqing user`, plain HTTP,
//! and a real headless Chromium driven through WebDriver (Debian's `chromium` and
//! `chromium-driver`; the browser test says "skipped" without them).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{minqing, run, run_pipeline, sample, stderr, stdout};

const PHONE: &str = "13812345678";

/// A run folder: 400 generated petitions plus a hostile one (script and onerror in its text,
/// personal data) and a few more of our own.
fn run_folder(dir: &Path) -> PathBuf {
    let gen = dir.join("gen.csv");
    sample(&gen, "400", "3");
    let own = dir.join("own.csv");
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
    let hostile = format!(
        "楼下宏泰饭店油烟很大<img src=x onerror=\"document.title='pwned'\">，我叫张三丰，电话{PHONE}。"
    );
    for (id, d, t, c, u) in [
        (
            "T001",
            "2019-12-02 09:00:00",
            "<script>document.title='pwned'</script>宏泰饭店油烟",
            hostile.as_str(),
            "凤城区城管局",
        ),
        (
            "T002",
            "2019-12-03 10:00:00",
            "宏泰饭店油烟又来了",
            "高新区宏泰饭店油烟直排。",
            "高新区城管局",
        ),
    ] {
        w.write_record([
            id,
            d,
            "网上信访",
            t,
            c,
            "云川市/凤城区/茶园街道",
            "PX1",
            "1",
            "城乡建设",
            u,
            "办理中",
            "<b>已处理</b>",
        ])
        .unwrap();
    }
    w.flush().unwrap();
    let out = dir.join("run");
    let o = minqing()
        .args(["-q", "run", "--input"])
        .arg(&gen)
        .arg(&own)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

/// `minqing user add NAME --role ROLE --password-stdin --state STATE [extra…]`.
fn add_user(state: &Path, name: &str, role: &str, password: &str, extra: &[&str]) {
    let mut child = minqing()
        .args([
            "-q",
            "user",
            "add",
            name,
            "--role",
            role,
            "--password-stdin",
            "--state",
        ])
        .arg(state)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "a given password is not printed");
}

/// A running `minqing serve`, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(run_dir: &Path, state: &Path) -> Server {
    let mut child = minqing()
        .args(["serve", "--addr", "127.0.0.1:0", "--poll", "0.3", "--out"])
        .arg(run_dir)
        .arg("--state")
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("http://") => break l.trim_end_matches('/').to_string(),
            Some(Ok(_)) => continue,
            _ => panic!("minqing serve printed no address"),
        }
    };
    // The binary asks for 4 KiB pages before anything else (sys::use_small_pages); the kernel
    // shows the process's setting where it is new enough to have the line.
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
        if let Some(l) = status.lines().find(|l| l.starts_with("THP_enabled:")) {
            assert!(l.ends_with('0'), "minqing serve runs with huge pages: {l}");
        }
    }
    Server { child, url }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn cookie_of(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
}

/// Signs in over plain HTTP; returns the `mq_session=…` cookie.
async fn sign_in(c: &reqwest::Client, url: &str, name: &str, password: &str) -> String {
    let form = c.get(format!("{url}/login")).send().await.unwrap();
    let pre = cookie_of(&form, "mq_login").unwrap();
    let body = form.text().await.unwrap();
    let at = body.find("name=\"csrf\" value=\"").unwrap() + 19;
    let token = &body[at..at + 64];
    let res = c
        .post(format!("{url}/login"))
        .header("cookie", pre)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "name={name}&password={password}&csrf={token}&next=%2F"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "sign-in failed");
    cookie_of(&res, "mq_session").unwrap()
}

async fn total(c: &reqwest::Client, url: &str, session: &str, q: &str) -> u64 {
    let res = c
        .get(format!("{url}/?q={q}"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let at = body.find("共 <b>").expect("a total") + "共 <b>".len();
    body[at..at + body[at..].find('<').unwrap()]
        .parse()
        .unwrap()
}

#[test]
fn no_accounts_on_a_network_address_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("run")).unwrap();
    let o = run(&[
        "serve",
        "--out",
        dir.path().join("run").to_str().unwrap(),
        "--addr",
        "0.0.0.0:0",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("no accounts yet") && e.contains("minqing user add"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn user_commands_manage_accounts_and_check_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = state.to_str().unwrap();
    let o = run(&[
        "-q",
        "user",
        "add",
        "wang",
        "--role",
        "caseworker",
        "--unit",
        "凤城区城管局",
        "--state",
        s,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let printed = stdout(&o);
    let (name, pw) = printed.trim().split_once('\t').unwrap();
    assert_eq!(name, "wang");
    assert_eq!(pw.len(), 16);
    let raw = std::fs::read_to_string(state.join("users.json")).unwrap();
    assert!(
        raw.contains("$argon2id$") && !raw.contains(pw),
        "only the hash is stored"
    );
    let o = run(&["user", "add", "wang", "--role", "admin", "--state", s]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already exists"));
    let o = run(&["user", "add", "li", "--role", "boss", "--state", s]);
    assert!(stderr(&o).contains("unknown role"), "{}", stderr(&o));
    let o = run(&["-q", "user", "list", "--state", s]);
    assert_eq!(
        stdout(&o).trim(),
        "wang\tcaseworker\t凤城区城管局\t-\tenabled"
    );
    assert!(run(&["-q", "user", "disable", "wang", "--state", s])
        .status
        .success());
    assert!(stdout(&run(&["-q", "user", "list", "--state", s])).contains("disabled"));
    // A short password from stdin is refused.
    let mut child = minqing()
        .args(["user", "passwd", "wang", "--password-stdin", "--state", s])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "short").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(stderr(&o).contains("at least 10"), "{}", stderr(&o));
    // The audit log's chain: intact, then broken by an edit.
    let log = state.join("audit.jsonl");
    std::fs::write(&log, "").unwrap();
    let o = run(&["user", "audit-verify", "--state", s]);
    assert!(
        o.status.success() && stdout(&o).contains("0 events"),
        "{}",
        stderr(&o)
    );
}

/// The server keeps answering from the last complete run and switches when the next finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_switches_to_a_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("a.csv");
    sample(&input, "300", "5");
    let out = dir.path().join("run");
    let o = run_pipeline(&input, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let state = dir.path().join("state");
    add_user(&state, "ana", "analyst", "analyst-password", &[]);
    let server = serve(&out, &state);
    let c = client();
    let s = sign_in(&c, &server.url, "ana", "analyst-password").await;
    let before = total(&c, &server.url, &s, "%E5%B0%8F%E5%8C%BA").await;
    assert!(before > 0);
    let bigger = dir.path().join("b.csv");
    sample(&bigger, "900", "5");
    // The next run writes the folder while the pages are being read: every answer comes from
    // one complete run, the old one until the new one has finished.
    let mut next = minqing()
        .args(["-q", "run", "--input"])
        .arg(&bigger)
        .arg("--out")
        .arg(&out)
        .spawn()
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let after = loop {
        let now = total(&c, &server.url, &s, "%E5%B0%8F%E5%8C%BA").await;
        seen.insert(now);
        if now != before {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "still {now} hits two minutes after the run started"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    };
    assert!(next.wait().unwrap().success());
    assert!(after > before);
    let settled = total(&c, &server.url, &s, "%E5%B0%8F%E5%8C%BA").await;
    assert_eq!(settled, after);
    assert_eq!(seen.len(), 2, "an answer from neither run: {seen:?}");
    let status = c
        .get(format!("{}/status", server.url))
        .header("cookie", &s)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(status.contains("id=\"idle\""), "{status}");
    let log = std::fs::read_to_string(state.join("audit.jsonl")).unwrap();
    assert!(log.contains("\"search\""));
    let o = run(&["user", "audit-verify", "--state", state.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A run folder whose index is three shards (what the Spark job's index map and
/// `minqing worker shards` make): the CLI and the web pages search it as the same run's one index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_index_is_searched_like_one_index() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("a.csv");
    sample(&input, "300", "5");
    let one = dir.path().join("one");
    let o = run_pipeline(&input, &one, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sharded = dir.path().join("sharded");
    let o = run_pipeline(&input, &sharded, &["--no-index"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!sharded.join("index").exists(), "--no-index builds none");
    let records = minqing::store::read(&sharded).unwrap();
    let pairs = minqing::cluster::read_group_ids(&sharded.join("groups")).unwrap();
    let group_of = minqing::index::GroupOf::of_pairs(&pairs);
    let tok = minqing::tokenize::Tokenizer::new(&Default::default()).unwrap();
    let staging = sharded.join("shards");
    for (k, part) in records.chunks(records.len() / 3 + 1).enumerate() {
        let shard = staging.join(minqing::index::shard_name(k));
        minqing::index::build_shard(&shard, part, &tok, &group_of, None).unwrap();
    }
    let n = records.len() as u64;
    let s = minqing::index::install(&staging, &sharded.join("index"), &tok, &group_of, n).unwrap();
    assert_eq!(s.shards, 3);
    for args in [
        vec![
            "search",
            "小区",
            "--format",
            "json",
            "--facets",
            "--by-week",
        ],
        vec![
            "search", "噪音", "--sort", "date", "--limit", "7", "--offset", "3",
        ],
    ] {
        let search = |out: &Path| {
            let mut a = args.clone();
            a.extend(["--out", out.to_str().unwrap()]);
            let o = run(&a);
            assert!(o.status.success(), "{}", stderr(&o));
            stdout(&o)
        };
        assert_eq!(search(&one), search(&sharded), "{args:?}");
    }
    let state = dir.path().join("state");
    add_user(&state, "ana", "analyst", "analyst-password", &[]);
    let totals = |run_dir: PathBuf| {
        let state = state.clone();
        async move {
            let server = serve(&run_dir, &state);
            let c = client();
            let s = sign_in(&c, &server.url, "ana", "analyst-password").await;
            // 小区, 噪音
            let mut v = Vec::new();
            for q in ["%E5%B0%8F%E5%8C%BA", "%E5%99%AA%E9%9F%B3"] {
                v.push(total(&c, &server.url, &s, q).await);
            }
            v
        }
    };
    let (a, b) = (totals(one).await, totals(sharded).await);
    assert!(a[0] > 0, "{a:?}");
    assert_eq!(a, b);
}

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names
        .iter()
        .flat_map(|n| std::env::split_paths(&path).map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver, stopped when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sign in, search, click a facet and a histogram bar and see the URL and the total change,
/// open a petition and its group, export, sign out — in headless Chromium. The hostile
/// petition's `<script>` and `<img onerror>` must arrive as text. With
/// `MINQING_SCREENSHOTS=DIR` the search and group pages are saved there (the README's images).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_signs_in_searches_filters_opens_exports_and_signs_out() {
    use fantoccini::{ClientBuilder, Locator};

    let (Some(browser), Some(driver)) = (
        on_path(&["chromium", "chromium-browser", "google-chrome"]),
        on_path(&["chromedriver"]),
    ) else {
        eprintln!("skipped: needs chromium and chromedriver on PATH (apt-get install chromium chromium-driver)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = run_folder(dir.path());
    let state = dir.path().join("state");
    add_user(&state, "ana", "analyst", "analyst-password", &[]);
    let server = serve(&out, &state);
    let port = free_port();
    let _driver = Driver(
        Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let wd = format!("http://127.0.0.1:{port}");
    wait_for("chromedriver", || async {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    let profile = dir.path().join("profile");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": browser,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&wd)
        .await
        .expect("a WebDriver session with headless chromium");
    let url = server.url.clone();
    let shots = std::env::var_os("MINQING_SCREENSHOTS").map(PathBuf::from);
    let total = |b: fantoccini::Client| async move {
        let t = b
            .find(Locator::Css("#total b"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        t.replace(',', "").parse::<u64>().unwrap()
    };

    // Signing in, sent back to the page asked for.
    b.goto(&format!("{url}/?q=%E5%B0%8F%E5%8C%BA"))
        .await
        .unwrap();
    assert!(b.current_url().await.unwrap().path().starts_with("/login"));
    b.find(Locator::Id("name"))
        .await
        .unwrap()
        .send_keys("ana")
        .await
        .unwrap();
    b.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys("analyst-password")
        .await
        .unwrap();
    b.find(Locator::Id("signin"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the search page", || {
        let b = b.clone();
        async move { b.find(Locator::Css("#total b")).await.is_ok() }
    })
    .await;
    let all = total(b.clone()).await;
    assert!(all > 10, "{all} hits for 小区");

    // A facet: the URL gains the filter and the total shrinks.
    let facet = b
        .find(Locator::Css(".facets .facet:nth-of-type(2) li a"))
        .await
        .unwrap();
    facet.click().await.unwrap();
    wait_for("the facet's page", || {
        let b = b.clone();
        async move {
            b.current_url()
                .await
                .unwrap()
                .as_str()
                .contains("category=")
        }
    })
    .await;
    let by_category = total(b.clone()).await;
    assert!(
        by_category < all && by_category > 0,
        "{by_category} of {all}"
    );

    // A week of the histogram: dates in the URL, fewer hits.
    let bar = b.find(Locator::Css("svg.chart a.week")).await.unwrap();
    bar.click().await.unwrap();
    wait_for("the week's page", || {
        let b = b.clone();
        async move { b.current_url().await.unwrap().as_str().contains("from=") }
    })
    .await;
    let u = b.current_url().await.unwrap();
    assert!(
        u.as_str().contains("to=") && u.as_str().contains("category="),
        "{u}"
    );
    let in_week = total(b.clone()).await;
    assert!(in_week <= by_category, "{in_week} > {by_category}");

    // The hostile petition: found, and shown as text (no script ran, no image element).
    b.goto(&format!("{url}/?q=%E5%AE%8F%E6%B3%B0%E9%A5%AD%E5%BA%97"))
        .await
        .unwrap();
    if let Some(d) = &shots {
        std::fs::create_dir_all(d).unwrap();
    }
    assert_eq!(total(b.clone()).await, 2);
    let hostile = b
        .find(Locator::Css("#hits a[href='/petition/T001']"))
        .await
        .unwrap();
    let title = hostile.text().await.unwrap();
    assert!(title.contains("<script>"), "{title}");
    hostile.click().await.unwrap();
    wait_for("the petition page", || {
        let b = b.clone();
        async move { b.find(Locator::Id("content")).await.is_ok() }
    })
    .await;
    let content = b
        .find(Locator::Id("content"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(content.contains("<img src=x onerror="), "{content}");
    assert!(
        !content.contains(PHONE) && !content.contains("张三丰"),
        "{content}"
    );
    let images = b
        .execute(
            "return document.querySelectorAll('main img').length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(images, serde_json::json!(0));
    let doc_title = b.execute("return document.title;", vec![]).await.unwrap();
    assert_ne!(
        doc_title,
        serde_json::json!("pwned"),
        "a script in petition text ran"
    );
    assert!(b.get_alert_text().await.is_err(), "no dialog opened");

    // A group: from a grouped petition to its group and back to a member.
    b.goto(&format!("{url}/groups?sort=size")).await.unwrap();
    b.find(Locator::Css("#groups tbody a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("a group page", || {
        let b = b.clone();
        async move { b.find(Locator::Id("members")).await.is_ok() }
    })
    .await;
    let group_url = b.current_url().await.unwrap();
    if let Some(d) = &shots {
        b.goto(&format!("{url}/?q=%E5%B0%8F%E5%8C%BA+%E7%89%A9%E4%B8%9A"))
            .await
            .unwrap();
        std::fs::write(d.join("serve-search.png"), b.screenshot().await.unwrap()).unwrap();
        b.goto(group_url.as_str()).await.unwrap();
        std::fs::write(d.join("serve-group.png"), b.screenshot().await.unwrap()).unwrap();
    }
    b.find(Locator::Css("#members tbody a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("a member's page", || {
        let b = b.clone();
        async move { b.find(Locator::Id("group-link")).await.is_ok() }
    })
    .await;
    b.find(Locator::Id("group-link"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("back on the group", || {
        let b = b.clone();
        let g = group_url.clone();
        async move { b.current_url().await.unwrap() == g }
    })
    .await;

    // Export: the link the page offers, fetched with the browser's own session.
    b.goto(&format!("{url}/?q=%E5%AE%8F%E6%B3%B0%E9%A5%AD%E5%BA%97"))
        .await
        .unwrap();
    let href = b
        .find(Locator::Id("export-csv"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let cookie = b.get_named_cookie("mq_session").await.unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    let csv = client()
        .get(format!("{url}{href}"))
        .header("cookie", format!("mq_session={}", cookie.value()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("T001") && csv.contains("编号") && !csv.contains(PHONE),
        "{csv}"
    );

    // Sign out: back to the sign-in page, and the pages are closed again.
    b.find(Locator::Id("logout"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the sign-in page", || {
        let b = b.clone();
        async move { b.current_url().await.unwrap().path() == "/login" }
    })
    .await;
    b.goto(&format!("{url}/status")).await.unwrap();
    assert!(b.current_url().await.unwrap().path().starts_with("/login"));
    b.close().await.unwrap();
}
