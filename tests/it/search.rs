//! `minqing search` / `minqing similar` through the real binary, and the substring-count check on
//! the real message-board export.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use chrono::NaiveDateTime;
use minqing::index::{self, IndexHandle, SearchRequest};
use minqing::schema::{Channel, Record};
use minqing::tokenize::{fold, Options, Tokenizer};

use crate::common::*;

fn rec(id: &str, at: &str, title: &str, content: &str, region: &[&str]) -> Record {
    Record {
        id: id.into(),
        received_at: NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S").unwrap(),
        channel: Channel::MessageBoard,
        title: title.into(),
        content: content.into(),
        region: [0, 1, 2].map(|i| region.get(i).map(|s| (*s).into())),
        petitioner: Some("u".into()),
        headcount: 1,
        category: Some("城乡建设".into()),
        responsible_unit: Some("区住建局".into()),
        status: Some("已办结".into()),
        accepted_at: None,
        due_at: None,
        closed_at: None,
        satisfaction: None,
        replied_at: None,
        likes: Some(0),
        dislikes: Some(0),
        bypass: None,
        cold: minqing::schema::Cold {
            source: "t.csv:2".into(),
            ..Default::default()
        }
        .boxed(),
    }
}

/// A run folder with a store and (optionally) its index.
fn run_dir(with_index: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut recs = vec![
        rec(
            "P1",
            "2019-03-04 09:00:00",
            "楼下饭店油烟机噪音大",
            "饭店的油烟机半夜还在响，严重扰民。ABC餐饮公司不管。",
            &["A市", "A5区"],
        ),
        rec(
            "P2",
            "2019-03-05 10:00:00",
            "房产证办不下来",
            "小区交房三年了，房产证一直没有办下来。",
            &["A市", "A3区"],
        ),
        rec(
            "P3",
            "2019-03-12 11:00:00",
            "不动产权证办理",
            "请问不动产权证办理需要什么材料？",
            &["A市", "A3区"],
        ),
        rec(
            "P4",
            "2019-03-20 12:00:00",
            "油烟扰民",
            "烧烤店油烟太大，窗户都不敢开。",
            &["A市", "A5区", "洞井街道"],
        ),
        rec(
            "P5",
            "2019-04-01 08:00:00",
            "饭店油烟机扰民",
            "楼下饭店油烟机很吵，油烟扰民严重，请处理。",
            &["A市", "A5区"],
        ),
    ];
    recs[3].channel = Channel::Hotline;
    minqing::store::write(dir.path(), &mut recs).unwrap();
    if with_index {
        let stored = minqing::store::read(dir.path()).unwrap();
        let tok = Tokenizer::new(&Options::default()).unwrap();
        index::build(
            &dir.path().join("index"),
            &stored,
            &tok,
            &index::GroupOf::default(),
        )
        .unwrap();
    }
    dir
}

fn search(out: &Path, args: &[&str]) -> std::process::Output {
    let mut a = vec!["search"];
    a.extend_from_slice(args);
    let out = out.display().to_string();
    a.extend_from_slice(&["--out", &out]);
    run(&a)
}

#[test]
fn table_json_csv_with_highlights_facets_and_weeks() {
    let dir = run_dir(true);
    let o = search(dir.path(), &["油烟"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.starts_with("3 hits for `油烟`"), "{s}");
    assert!(s.contains("[油烟]机"), "{s}");
    assert!(!s.contains("P2"), "{s}");

    let o = search(dir.path(), &["油烟 abc", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["total"], 1);
    let hit = &j["hits"][0];
    assert_eq!(hit["id"], "P1");
    assert!(
        hit["snippet"]
            .as_str()
            .unwrap()
            .contains("<mark>ABC</mark>"),
        "{hit}"
    );
    assert!(
        hit["title"].as_str().unwrap().contains("<mark>油烟</mark>"),
        "{hit}"
    );
    // Offsets are character offsets into the plain snippet.
    let text: Vec<char> = hit["snippet_text"].as_str().unwrap().chars().collect();
    for m in hit["snippet_marks"].as_array().unwrap() {
        let (a, b) = (
            m[0].as_u64().unwrap() as usize,
            m[1].as_u64().unwrap() as usize,
        );
        let piece: String = text[a..b].iter().collect();
        assert!(["油烟", "abc"].contains(&fold(&piece).as_str()), "{piece}");
    }

    let o = search(dir.path(), &["扰民", "--format", "csv", "--sort", "date"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut r = csv::Reader::from_reader(&o.stdout[..]);
    let ids: Vec<String> = r.records().map(|x| x.unwrap()[0].to_string()).collect();
    assert_eq!(ids, vec!["P5", "P4", "P1"]);
    assert!(stderr(&o).contains("3 hits"));

    let o = search(
        dir.path(),
        &["油烟", "--facets", "--by-week", "--limit", "1"],
    );
    let s = stdout(&o);
    assert!(s.contains("by region:") && s.contains("3  A市/A5区"), "{s}");
    assert!(s.contains("by channel:") && s.contains("1  hotline"), "{s}");
    assert!(s.contains("2019-W10") && s.contains("2019-W14"), "{s}");
    assert!(s.contains("(showing 1–1)"), "{s}");

    let o = search(
        dir.path(),
        &[
            "办理 OR 办不",
            "--region",
            "A3区",
            "--from",
            "2019-03-06",
            "--format",
            "json",
        ],
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["total"], 1, "{j}");
    assert_eq!(j["hits"][0]["id"], "P3");
}

#[test]
fn query_starting_with_minus_and_field_terms() {
    let dir = run_dir(true);
    let o = search(dir.path(), &["-油烟", "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut r = csv::Reader::from_reader(&o.stdout[..]);
    let mut ids: Vec<String> = r.records().map(|x| x.unwrap()[0].to_string()).collect();
    ids.sort();
    assert_eq!(ids, vec!["P2", "P3"]);
    let o = search(
        dir.path(),
        &["油烟 channel:hotline region:洞井街道", "--format", "json"],
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["total"], 1);
    assert_eq!(j["hits"][0]["id"], "P4");
}

#[test]
fn malformed_query_is_a_clear_error() {
    let dir = run_dir(true);
    for (q, needle) in [
        ("油烟 \"扰民", "unbalanced quote"),
        ("油烟 OR", "dangling `OR`"),
        ("colour:red", "unknown field `colour`"),
    ] {
        let o = search(dir.path(), &[q]);
        assert!(!o.status.success());
        let e = stderr(&o);
        assert!(
            e.contains("invalid query") && e.contains(needle),
            "{q}: {e}"
        );
        assert!(!e.contains("panicked"), "{e}");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn missing_index_says_how_to_build_it() {
    let dir = run_dir(false);
    let o = search(dir.path(), &["油烟"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("no search index yet") && e.contains("minqing run"),
        "{e}"
    );
    let empty = tempfile::tempdir().unwrap();
    let o = search(empty.path(), &["油烟"]);
    assert!(
        stderr(&o).contains("not a minqing run folder"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn similar_lists_earlier_petitions_with_scores() {
    let dir = run_dir(true);
    let out = dir.path().display().to_string();
    let o = run(&[
        "similar", "P5", "--out", &out, "--limit", "2", "--format", "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let hits = j["hits"].as_array().unwrap();
    assert_eq!(hits[0]["id"], "P1", "{j}");
    assert!(hits[0]["score"].as_f64().unwrap() > 0.0);
    assert!(hits
        .iter()
        .all(|h| h["id"] != "P5" && h["received_at"].as_str().unwrap() < "2019-04-01"));
    let o = run(&["similar", "P5", "--out", &out]);
    assert!(
        stdout(&o).contains("earlier petitions similar to `P5`"),
        "{}",
        stdout(&o)
    );
    let o = run(&["similar", "nope", "--out", &out]);
    assert!(!o.status.success() && stderr(&o).contains("no petition with id `nope`"));
}

/// The real 4,326-message export: for everyday petition words, the hit count equals the number
/// of messages whose title or content contains the word; every phrase hit contains the phrase.
#[test]
fn real_data_hit_counts_equal_substring_counts() {
    let Some(path) = realdata("tipdm2020/attachment3_hotspot_4326.csv") else {
        return;
    };
    let mut rdr = csv::Reader::from_path(&path).unwrap();
    let mut recs = Vec::new();
    for (i, row) in rdr.records().enumerate() {
        let row = row.unwrap();
        let t = row[3].trim();
        let at = NaiveDateTime::parse_from_str(t, "%Y/%m/%d %H:%M:%S")
            .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S"))
            .unwrap_or_else(|e| panic!("{t}: {e}"));
        let mut r = rec(&row[0], "2019-01-01 00:00:00", &row[2], &row[4], &[]);
        r.received_at = at;
        r.petitioner = Some(row[1].into());
        r.likes = row[6].trim().parse().ok();
        r.cold_mut().source = format!("attachment3:{}", i + 2).into();
        recs.push(r);
    }
    assert_eq!(recs.len(), 4326);
    let dir = tempfile::tempdir().unwrap();
    let tok = Tokenizer::new(&Options::default()).unwrap();
    let t0 = Instant::now();
    index::build(dir.path(), &recs, &tok, &index::GroupOf::default()).unwrap();
    eprintln!("indexed {} messages in {:?}", recs.len(), t0.elapsed());
    let h = IndexHandle::open(dir.path()).unwrap();
    let words = [
        "小区",
        "物业",
        "噪音",
        "拆迁",
        "房产证",
        "公交",
        "学校",
        "工资",
        "停车",
        "油烟",
        "扰民",
        "补贴",
        "业主",
        "开发商",
        "施工",
        "垃圾",
        "幼儿园",
        "学位",
        "公积金",
        "农民工",
        "社保",
        "物业费",
        "违建",
        "搅拌站",
        "12345",
        "楼",
        "A市",
        "wifi",
    ];
    let mut latencies = Vec::new();
    eprintln!("{:<8} {:>6} {:>9} {:>9}", "word", "hits", "substr", "raw");
    for w in words {
        let mut req = SearchRequest::new(w);
        req.limit = 10;
        let t = Instant::now();
        let total = h.search(&req, &tok).unwrap().total;
        latencies.push(t.elapsed());
        let fw = fold(w);
        let folded = recs
            .iter()
            .filter(|r| fold(&r.title).contains(&fw) || fold(&r.content).contains(&fw))
            .count() as u64;
        let raw = recs
            .iter()
            .filter(|r| r.title.contains(w) || r.content.contains(w))
            .count() as u64;
        eprintln!("{w:<8} {total:>6} {folded:>9} {raw:>9}");
        assert_eq!(total, folded, "hit count of `{w}` ≠ messages containing it");
    }
    for p in ["小区物业", "噪音扰民", "房产证办理", "A市 A5区", "拖欠工资"] {
        let q = format!("\"{p}\"");
        let mut req = SearchRequest::new(&q);
        req.limit = 5000;
        let res = h.search(&req, &tok).unwrap();
        let want = p.split(' ').collect::<Vec<_>>().join(" ");
        for hit in &res.hits {
            let r = recs.iter().find(|r| r.id == hit.id).unwrap();
            assert!(
                fold(&r.title).contains(&fold(&want)) || fold(&r.content).contains(&fold(&want)),
                "phrase {q} hit {} lacks it",
                hit.id
            );
        }
        let substr = recs
            .iter()
            .filter(|r| {
                fold(&r.title).contains(&fold(&want)) || fold(&r.content).contains(&fold(&want))
            })
            .count();
        eprintln!(
            "phrase {q}: {} hits, {} contain it verbatim",
            res.total, substr
        );
        assert_eq!(res.total as usize, substr, "{q}");
    }
    latencies.sort();
    eprintln!(
        "query latency over {} words: p50 {:?}, max {:?}",
        latencies.len(),
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
}

/// Benchmark (ignored; run by hand):
/// `MINQING_BENCH_DOCS=1000000 cargo test --release --test it bench_index_and_query -- --ignored --nocapture`
/// Builds a corpus of N messages by cycling the real export (ids and dates made unique), then
/// reports: a bare jieba-rs pass (`cut`, HMM on, title + content, rayon on all cores) vs
/// `index::build` on the same cores, index size, a no-op rebuild, and query latency over 60 queries.
#[test]
#[ignore]
fn bench_index_and_query() {
    use rayon::prelude::*;
    let Some(path) = realdata("tipdm2020/attachment3_hotspot_4326.csv") else {
        return;
    };
    let n: usize = std::env::var("MINQING_BENCH_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let mut rdr = csv::Reader::from_path(&path).unwrap();
    let base: Vec<(String, String)> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[2].to_string(), r[4].trim().to_string())
        })
        .collect();
    let regions = [
        ["A市", "A1区"],
        ["A市", "A2区"],
        ["A市", "A3区"],
        ["A市", "A5区"],
        ["B市", "B1县"],
    ];
    let statuses = ["已办结", "办理中", "受理中"];
    let start = NaiveDateTime::parse_from_str("2019-01-01 00:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
    let recs: Vec<Record> = (0..n)
        .map(|i| {
            let (t, c) = &base[i % base.len()];
            let mut r = rec(
                &format!("B{i:08}"),
                "2019-01-01 00:00:00",
                t,
                c,
                &regions[i % 5],
            );
            r.received_at = start + chrono::Duration::seconds((i as i64) * 97);
            r.status = Some(statuses[i % 3].into());
            r
        })
        .collect();
    let bytes: usize = recs.iter().map(|r| r.title.len() + r.content.len()).sum();
    let tok = Tokenizer::new(&Options::default()).unwrap();
    let t = Instant::now();
    let words: usize = recs
        .par_iter()
        .map(|r| {
            tok.jieba().cut(&r.title, tok.hmm()).len()
                + tok.jieba().cut(&r.content, tok.hmm()).len()
        })
        .sum();
    let jieba = t.elapsed();
    let t = Instant::now();
    let w2: usize = recs
        .par_iter()
        .map(|r| tok.words(&r.title).len() + tok.words(&r.content).len())
        .sum();
    eprintln!("Tokenizer::words pass {:?} ({w2} words)", t.elapsed());
    let dir = tempfile::tempdir().unwrap();
    let ix = dir.path().join("index");
    let t = Instant::now();
    let s = index::build(&ix, &recs, &tok, &index::GroupOf::default()).unwrap();
    let build = t.elapsed();
    assert_eq!(s.docs, n as u64);
    let size: u64 = std::fs::read_dir(&ix)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let t = Instant::now();
    let s = index::build(&ix, &recs, &tok, &index::GroupOf::default()).unwrap();
    let noop = t.elapsed();
    assert_eq!(s.unchanged, n as u64);
    eprintln!(
        "docs {n}, text {:.0} MB, {words} jieba words, {} cores",
        bytes as f64 / 1e6,
        std::thread::available_parallelism().map_or(1, |c| c.get())
    );
    eprintln!(
        "bare jieba cut {:.1}s; index::build {:.1}s; ratio {:.2}x; index {:.0} MB; no-op rebuild {:.1}s",
        jieba.as_secs_f64(),
        build.as_secs_f64(),
        build.as_secs_f64() / jieba.as_secs_f64(),
        size as f64 / 1e6,
        noop.as_secs_f64()
    );
    let h = IndexHandle::open(&ix).unwrap();
    let queries: Vec<&str> = include_str!("../../bench/queries.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    let mut lat = Vec::new();
    for round in 0..3 {
        for q in &queries {
            let mut req = SearchRequest::new(*q);
            req.limit = 20;
            let t = Instant::now();
            let r = h.search(&req, &tok).unwrap();
            if round > 0 {
                lat.push(t.elapsed());
            }
            std::hint::black_box(r.total);
        }
    }
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    eprintln!(
        "query latency over {} queries x2 (limit 20 + snippets + total): p50 {:?}, p99 {:?}, max {:?}",
        queries.len(),
        pct(0.5),
        pct(0.99),
        lat[lat.len() - 1]
    );
    let mut req = SearchRequest::new("小区");
    req.facets = true;
    req.by_week = true;
    let t = Instant::now();
    let r = h.search(&req, &tok).unwrap();
    eprintln!(
        "`小区` with --facets --by-week: {} hits in {:?}",
        r.total,
        t.elapsed()
    );
    let t = Instant::now();
    let sim = h.similar(&format!("B{:08}", n - 1), 10, &tok).unwrap();
    eprintln!("similar: {} hits in {:?}", sim.len(), t.elapsed());
}

/// A hit that belongs to a case group names it, so a precedent leads to its group.
#[test]
fn table_names_the_case_group_of_a_hit() {
    let dir = tempfile::tempdir().unwrap();
    let out = sample_run(dir.path(), "300", "5");
    let group_of = members(&out);
    let o = search(&out, &["小区", "--limit", "50"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    let mut named = 0;
    for line in s
        .lines()
        .filter(|l| l.contains(". ") && l.contains("score"))
    {
        let id = line.split_whitespace().nth(1).unwrap();
        match group_of[id].as_str() {
            "-" => assert!(!line.contains("类案"), "{line}"),
            g => {
                assert!(line.contains(&format!("类案 {g}")), "{line}");
                named += 1;
            }
        }
    }
    assert!(named > 0, "{s}");
}

/// `id → group_id` of a run folder's `groups/members.csv`.
fn members(out: &Path) -> HashMap<String, String> {
    csv::Reader::from_path(out.join("groups/members.csv"))
        .unwrap()
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string())
        })
        .collect()
}

/// The hits of `query` as (id, group id or `-`), from `minqing search --format json`.
fn hit_groups(out: &Path, query: &str) -> Vec<(String, String)> {
    let o = search(out, &[query, "--limit", "100", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let g = h["group_id"].as_str().unwrap_or("-").to_string();
            (h["id"].as_str().unwrap().to_string(), g)
        })
        .collect()
}

/// `minqing cluster` with other settings regroups a run folder and re-indexes it: search then
/// shows each petition in the group `members.csv` lists it in, never in a group that is gone.
#[test]
fn regrouping_reindexes_so_search_shows_the_current_groups() {
    let dir = tempfile::tempdir().unwrap();
    let out = sample_run(dir.path(), "300", "5");
    let before = hit_groups(&out, "小区");
    assert!(before.iter().any(|(_, g)| g != "-"), "{before:?}");
    // Groups need more petitions than the corpus has: every group dissolves.
    let pipeline = dir.path().join("no-groups.toml");
    std::fs::write(&pipeline, "name = \"x\"\n[cluster]\nmin_size = 100000\n").unwrap();
    let o = run(&[
        "cluster",
        "--out",
        out.to_str().unwrap(),
        "--pipeline",
        pipeline.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let now = members(&out);
    assert!(now.values().all(|g| g == "-"));
    let after = hit_groups(&out, "小区");
    assert_eq!(after.len(), before.len());
    for (id, g) in &after {
        assert_eq!(g, &now[id], "search shows {id} in {g}");
    }
    // and back: the default settings group them again, and search follows
    let o = run(&["cluster", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let now = members(&out);
    let again = hit_groups(&out, "小区");
    assert!(again.iter().any(|(_, g)| g != "-"), "{again:?}");
    for (id, g) in &again {
        assert_eq!(g, &now[id], "search shows {id} in {g}");
    }
}
