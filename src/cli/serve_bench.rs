//! `minqing bench --serve`: the web pages under load. A `minqing serve` child process over the
//! bench corpus's run folder; N concurrent signed-in sessions, each searching the fixed query
//! set as the front page does (facets, weekly histogram, 20 highlighted hits), opening the
//! petition of a hit (record, same petitioner's, similar earlier ones), and every fifth round the
//! case-group list and a group, pausing between pages as a reader does (`--think-ms`; 0 =
//! back to back, which measures the most the server can answer). Reported per page: requests,
//! throughput, p50/p99/max latency; and the server's memory. A measurement, not a test: nothing
//! here fails on a slow machine.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use minqing::fmt::thousands;
use minqing::serve::{Role, Users};
use minqing::Error;

use super::Term;

/// The query set of the search-latency benchmark.
const QUERIES: &str = include_str!("../../bench/queries.txt");

/// How the load is shaped.
pub struct Load<'a> {
    pub work: &'a Path,
    pub rows: &'a [usize],
    pub seed: u64,
    pub sessions: usize,
    pub seconds: f64,
    /// Mean pause between a session's requests (a person reading the page), in ms; each pause
    /// is drawn between half and one and a half times it. 0 = back to back (saturation).
    pub think_ms: u64,
    pub json: bool,
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Resident and peak resident memory of a process, in MiB (Linux).
fn memory_mib(pid: u32) -> (Option<f64>, Option<f64>) {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return (None, None);
    };
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| (kb / 1024.0 * 10.0).round() / 10.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The corpus's run folder, generated and run when missing.
fn run_folder(load: &Load, n: usize, term: &Term) -> minqing::Result<PathBuf> {
    let (corpus, generated) = super::bench::corpus(load.work, n, load.seed, term)?;
    let out = load.work.join(format!("run-{n}"));
    if generated.is_some() {
        // a corpus written just now (a new generator) is run again from nothing
        if out.join("run.json").is_file() {
            super::bench::clear_run_folder(&out)?;
        }
    } else if out.join("run.json").is_file() && out.join("index/meta.json").is_file() {
        return Ok(out);
    }
    term.note("running the pipeline on it …");
    super::bench::child(&[
        "-q",
        "run",
        "--input",
        &corpus.to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
    ])?;
    Ok(out)
}

/// Latencies (ms) per page.
type Samples = Arc<Mutex<BTreeMap<&'static str, Vec<f64>>>>;

pub fn bench(load: Load, term: &Term) -> minqing::Result<()> {
    std::fs::create_dir_all(load.work).map_err(Error::io("create", load.work))?;
    let mut results = Vec::new();
    for &n in load.rows {
        let out = run_folder(&load, n, term)?;
        let state = tempfile::Builder::new()
            .prefix("serve-bench-")
            .tempdir_in(load.work)
            .map_err(Error::io("create a folder in", load.work))?;
        let password = minqing::serve::users::random_password()?;
        let mut users = Users::default();
        users.add("bench", Role::Analyst, Default::default(), &password)?;
        users.save(state.path())?;
        term.note(format!(
            "{} rows: starting `minqing serve` …",
            thousands(n as u64)
        ));
        let t0 = Instant::now();
        let exe = std::env::current_exe().map_err(Error::io("locate", "minqing"))?;
        let mut server = Server(
            Command::new(&exe)
                .args([
                    "-q",
                    "serve",
                    "--addr",
                    "127.0.0.1:0",
                    "--poll",
                    "3600",
                    "--out",
                ])
                .arg(&out)
                .arg("--state")
                .arg(state.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(Error::io("run", &exe))?,
        );
        let stdout = server
            .0
            .stdout
            .take()
            .ok_or_else(|| Error::Usage("no stdout".into()))?;
        let url = BufReader::new(stdout)
            .lines()
            .map_while(|l| l.ok())
            .find(|l| l.starts_with("http://"))
            .ok_or_else(|| Error::Usage("`minqing serve` printed no address".into()))?
            .trim_end_matches('/')
            .to_string();
        let startup = t0.elapsed().as_secs_f64();
        let (rss_idle, _) = memory_mib(server.0.id());
        term.note(format!(
            "serving after {startup:.1} s; {} sessions for {} s …",
            load.sessions, load.seconds
        ));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(Error::io("start a runtime for", load.work))?;
        let samples: Samples = Arc::default();
        let (errors, wall) = rt.block_on(drive(&url, &password, &load, samples.clone()))?;
        let (rss, hwm) = memory_mib(server.0.id());
        drop(server);
        let samples = samples.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let pages: BTreeMap<&str, serde_json::Value> = samples
            .iter()
            .map(|(page, ms)| {
                let mut ms = ms.clone();
                ms.sort_by(f64::total_cmp);
                let pct = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
                (
                    *page,
                    serde_json::json!({
                        "requests": ms.len(),
                        "per_second": ms.len() as f64 / wall,
                        "p50_ms": pct(0.5),
                        "p99_ms": pct(0.99),
                        "max_ms": ms[ms.len() - 1],
                    }),
                )
            })
            .collect();
        let total: usize = samples.values().map(Vec::len).sum();
        results.push(serde_json::json!({
            "rows": n,
            "sessions": load.sessions,
            "think_ms": load.think_ms,
            "seconds": wall,
            "requests": total,
            "per_second": total as f64 / wall,
            "errors": errors,
            "startup_seconds": startup,
            "server_rss_mib_idle": rss_idle,
            "server_rss_mib_end": rss,
            "server_peak_rss_mib": hwm,
            "cores": std::thread::available_parallelism().map_or(1, |c| c.get()),
            "pages": pages,
        }));
    }
    if load.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
        return Ok(());
    }
    for r in &results {
        println!(
            "minqing serve, {} rows, {} sessions (pause {} ms) for {:.0} s on {} cores: {} requests ({:.1}/s), {} errors; started in {:.1} s; server memory {} MiB idle, {} MiB at the end, {} MiB peak",
            thousands(r["rows"].as_u64().unwrap_or(0)),
            r["sessions"],
            r["think_ms"],
            r["seconds"].as_f64().unwrap_or(0.0),
            r["cores"],
            r["requests"],
            r["per_second"].as_f64().unwrap_or(0.0),
            r["errors"],
            r["startup_seconds"].as_f64().unwrap_or(0.0),
            r["server_rss_mib_idle"],
            r["server_rss_mib_end"],
            r["server_peak_rss_mib"],
        );
        println!(
            "  {:<10} {:>8} {:>8} {:>9} {:>9} {:>9}",
            "page", "requests", "per s", "p50 ms", "p99 ms", "max ms"
        );
        if let Some(pages) = r["pages"].as_object() {
            for (name, p) in pages {
                println!(
                    "  {:<10} {:>8} {:>8.1} {:>9.1} {:>9.1} {:>9.1}",
                    name,
                    p["requests"],
                    p["per_second"].as_f64().unwrap_or(0.0),
                    p["p50_ms"].as_f64().unwrap_or(0.0),
                    p["p99_ms"].as_f64().unwrap_or(0.0),
                    p["max_ms"].as_f64().unwrap_or(0.0),
                );
            }
        }
    }
    Ok(())
}

/// Signs every session in, warms each page once, then lets the sessions run for the time asked.
/// Returns failed requests and the seconds measured.
async fn drive(
    url: &str,
    password: &str,
    load: &Load<'_>,
    samples: Samples,
) -> minqing::Result<(usize, f64)> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(load.sessions)
        .build()
        .map_err(|e| Error::Usage(format!("http client: {e}")))?;
    let queries: Arc<Vec<String>> = Arc::new(
        QUERIES
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|q| minqing::serve::auth::safe_next(Some(&format!("/?q={}", encode(q)))))
            .collect(),
    );
    let mut cookies = Vec::new();
    for _ in 0..load.sessions {
        cookies.push(sign_in(&client, url, password).await?);
    }
    let deadline = Instant::now() + Duration::from_secs_f64(load.seconds);
    let start = Instant::now();
    let errors = Arc::new(Mutex::new(0usize));
    let mut tasks = Vec::new();
    for (k, cookie) in cookies.into_iter().enumerate() {
        let think = load.think_ms;
        let (client, url, queries, samples, errors) = (
            client.clone(),
            url.to_string(),
            queries.clone(),
            samples.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut round = 0usize;
            // Each session starts at its own place in the query list.
            let mut i = k * 7;
            // A small xorshift per session: pauses differ between sessions, the same every run.
            let mut rng =
                0x9e37_79b9_7f4a_7c15u64 ^ (k as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            let mut pause = move || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                Duration::from_millis(think / 2 + rng % (think + 1))
            };
            // Reading the page before the next one (and, first, arriving spread out rather than
            // all in the same millisecond).
            let mut read = move || {
                let d = pause();
                async move {
                    if think > 0 {
                        tokio::time::sleep(d).await;
                    }
                }
            };
            read().await;
            while Instant::now() < deadline {
                let q = &queries[i % queries.len()];
                i += 1;
                round += 1;
                let page = timed(&client, &url, q, &cookie, "search", &samples, &errors).await;
                read().await;
                if let Some(id) = page.as_deref().and_then(|b| first_link(b, "/petition/")) {
                    timed(&client, &url, &id, &cookie, "petition", &samples, &errors).await;
                    read().await;
                }
                if round % 5 == 0 {
                    let list = timed(
                        &client,
                        &url,
                        "/groups?sort=size",
                        &cookie,
                        "groups",
                        &samples,
                        &errors,
                    )
                    .await;
                    read().await;
                    if let Some(g) = list.as_deref().and_then(|b| first_link(b, "/groups/")) {
                        timed(&client, &url, &g, &cookie, "group", &samples, &errors).await;
                        read().await;
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let errors = *errors.lock().unwrap_or_else(|p| p.into_inner());
    Ok((errors, start.elapsed().as_secs_f64()))
}

fn encode(q: &str) -> String {
    q.replace('%', "%25")
        .replace('&', "%26")
        .replace('+', "%2B")
        .replace('#', "%23")
        .replace(' ', "+")
        .replace('"', "%22")
}

/// The first `href="PREFIX…"` of a page (entities as the templates write them).
fn first_link(body: &str, prefix: &str) -> Option<String> {
    let at = body.find(&format!("href=\"{prefix}"))? + 6;
    let end = body[at..].find('"')?;
    Some(body[at..at + end].replace("&amp;", "&"))
}

/// GETs a page as a session, recording its latency; returns the body (None on failure).
async fn timed(
    client: &reqwest::Client,
    url: &str,
    path: &str,
    cookie: &str,
    page: &'static str,
    samples: &Samples,
    errors: &Arc<Mutex<usize>>,
) -> Option<String> {
    let t = Instant::now();
    let res = client
        .get(format!("{url}{path}"))
        .header("cookie", cookie)
        .send()
        .await;
    let body = match res {
        Ok(r) if r.status().is_success() => r.text().await.ok(),
        _ => None,
    };
    let ms = t.elapsed().as_secs_f64() * 1e3;
    match &body {
        Some(_) => samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(page)
            .or_default()
            .push(ms),
        None => *errors.lock().unwrap_or_else(|p| p.into_inner()) += 1,
    }
    body
}

async fn sign_in(client: &reqwest::Client, url: &str, password: &str) -> minqing::Result<String> {
    let fail = |e: reqwest::Error| Error::Usage(format!("signing in to {url}: {e}"));
    let form = client
        .get(format!("{url}/login"))
        .send()
        .await
        .map_err(fail)?;
    let pre = cookie(&form, "mq_login")?;
    let body = form.text().await.map_err(fail)?;
    let at = body
        .find("name=\"csrf\" value=\"")
        .ok_or_else(|| Error::Usage("no sign-in form".into()))?
        + 19;
    let token = body.get(at..at + 64).unwrap_or_default().to_string();
    let res = client
        .post(format!("{url}/login"))
        .header("cookie", pre)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "name=bench&password={password}&csrf={token}&next=%2F"
        ))
        .send()
        .await
        .map_err(fail)?;
    cookie(&res, "mq_session")
}

fn cookie(res: &reqwest::Response, name: &str) -> minqing::Result<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
        .ok_or_else(|| Error::Usage(format!("the server set no `{name}` cookie")))
}
