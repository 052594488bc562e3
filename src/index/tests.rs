use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::NaiveDateTime;

use super::*;
use crate::index::search::{find_marks, snippet};
use crate::schema::{Channel, Record};
use crate::tokenize::{fold, Options};

static TOK: LazyLock<Tokenizer> = LazyLock::new(|| Tokenizer::new(&Options::default()).unwrap());

fn rec(id: &str, day: &str, title: &str, content: &str) -> Record {
    Record {
        id: id.into(),
        received_at: NaiveDateTime::parse_from_str(&format!("{day} 10:00:00"), "%Y-%m-%d %H:%M:%S")
            .unwrap(),
        channel: Channel::MessageBoard,
        title: title.into(),
        content: content.into(),
        region: [Some("A市".into()), Some("A5区".into()), None],
        petitioner: Some("u1".into()),
        headcount: 1,
        category: Some("城乡建设".into()),
        responsible_unit: None,
        status: Some("已办结".into()),
        accepted_at: None,
        due_at: None,
        closed_at: None,
        satisfaction: None,
        replied_at: None,
        likes: Some(1),
        dislikes: None,
        bypass: None,
        cold: crate::schema::Cold {
            source: "t.csv:2".into(),
            ..Default::default()
        }
        .boxed(),
    }
}

fn corpus() -> Vec<Record> {
    let mut v = vec![
        rec(
            "1",
            "2019-03-04",
            "楼下饭店油烟机噪音大",
            "饭店的油烟机半夜还在响，严重扰民。",
        ),
        rec(
            "2",
            "2019-03-05",
            "房产证办不下来",
            "小区交房三年了房产证一直没有办下来。",
        ),
        rec(
            "3",
            "2019-03-12",
            "不动产权证办理",
            "请问不动产权证办理需要什么材料？",
        ),
        rec(
            "4",
            "2019-03-13",
            "物业管理混乱",
            "小区物业不作为，电梯经常坏。",
        ),
        rec(
            "5",
            "2019-03-20",
            "油烟扰民",
            "烧烤店油烟太大，窗户都不敢开。",
        ),
        rec(
            "6",
            "2019-03-21",
            "物业费太高",
            "物业收费不合理，小区 物业服务差。",
        ),
        rec(
            "7",
            "2019-04-02",
            "ＷｉＦｉ信号差",
            "学校附近的wifi太慢，ABC公司不管。",
        ),
        rec(
            "8",
            "2019-04-03",
            "噪音",
            "工地夜间施工噪音扰民，工地在小区旁边。",
        ),
    ];
    v[3].region = [
        Some("A市".into()),
        Some("A3区".into()),
        Some("洞井街道".into()),
    ];
    v[3].category = Some("劳动和社会保障".into());
    v[4].channel = Channel::Hotline;
    v[5].status = Some("办理中".into());
    v
}

fn build_corpus(dir: &Path) -> IndexSummary {
    build(dir, &corpus(), &TOK, &GroupOf::default()).unwrap()
}

fn ids(h: &IndexHandle, q: &str) -> Vec<String> {
    let mut req = SearchRequest::new(q);
    req.limit = 100;
    let mut v: Vec<String> = h
        .search(&req, &TOK)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect();
    v.sort();
    v
}

/// Brute force: ids whose title or content contains every query word (folded).
fn substring_ids(recs: &[Record], words: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = recs
        .iter()
        .filter(|r| {
            words
                .iter()
                .all(|w| fold(&r.title).contains(&fold(w)) || fold(&r.content).contains(&fold(w)))
        })
        .map(|r| r.id.to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn bigram_tokens_cover_every_char_at_its_position() {
    let mut t = BigramTokenizer;
    let text = "油烟机 ＡB，a";
    let mut s = t.token_stream(text);
    let mut got = Vec::new();
    while s.advance() {
        let k = s.token();
        got.push((
            k.text.clone(),
            k.position,
            text[k.offset_from..k.offset_to].to_string(),
        ));
    }
    assert_eq!(
        got,
        vec![
            ("油烟".into(), 0, "油烟".into()),
            ("烟机".into(), 1, "烟机".into()),
            ("机 ".into(), 2, "机 ".into()),
            (" a".into(), 3, " Ａ".into()),
            ("ab".into(), 4, "ＡB".into()),
            ("b,".into(), 5, "B，".into()),
            (",a".into(), 6, "，a".into()),
            ("a".into(), 7, "a".into()),
        ]
    );
}

#[test]
fn separated_words_tokens() {
    let mut t = SeparatedWords;
    let text = "油烟机\u{1F}\u{1F}abc\u{1F}扰民\u{1F}";
    let mut s = t.token_stream(text);
    let mut got = Vec::new();
    while s.advance() {
        let k = s.token();
        got.push((
            k.text.clone(),
            k.position,
            &text[k.offset_from..k.offset_to],
        ));
    }
    assert_eq!(
        got,
        vec![
            ("油烟机".to_string(), 0, "油烟机"),
            ("abc".to_string(), 1, "abc"),
            ("扰民".to_string(), 2, "扰民")
        ]
    );
}

#[test]
fn substring_recall_of_glued_words_and_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    build_corpus(dir.path());
    let h = IndexHandle::open(dir.path()).unwrap();
    let recs = corpus();
    // jieba glues 油烟机 / 不动产权证 / 物业费 / 噪音扰民 into longer words.
    for w in [
        "油烟",
        "油烟机",
        "房产证",
        "产权证",
        "物业",
        "噪音",
        "扰民",
        "小区",
        "证",
        "wifi",
        "ＷＩＦＩ",
        "abc公司",
    ] {
        assert_eq!(ids(&h, w), substring_ids(&recs, &[w]), "query {w}");
    }
    assert_eq!(ids(&h, "油烟"), vec!["1", "5"]);
    // 房产证 is not a substring of 不动产权证.
    assert_eq!(ids(&h, "房产证"), vec!["2"]);
    assert_eq!(ids(&h, "产权证"), vec!["3"]);
}

#[test]
fn phrase_precision() {
    let dir = tempfile::tempdir().unwrap();
    build_corpus(dir.path());
    let h = IndexHandle::open(dir.path()).unwrap();
    // 小区物业 adjacent only in 4; 6 has "小区 物业" with a blank, 2 has 小区 … 房产证.
    assert_eq!(ids(&h, "\"小区物业\""), vec!["4"]);
    assert_eq!(ids(&h, "\"小区 物业\""), vec!["6"]);
    assert_eq!(ids(&h, "\"物业小区\""), Vec::<String>::new());
    // Words in any order: both 4 and 6 (and any other with both words).
    assert_eq!(ids(&h, "物业 小区"), vec!["4", "6"]);
    assert_eq!(ids(&h, "\"夜间施工噪音扰民\""), vec!["8"]);
    assert_eq!(ids(&h, "\"施工夜间\""), Vec::<String>::new());
}

#[test]
fn boolean_operators_and_fields() {
    let dir = tempfile::tempdir().unwrap();
    build_corpus(dir.path());
    let h = IndexHandle::open(dir.path()).unwrap();
    assert_eq!(ids(&h, "油烟 OR 噪音"), vec!["1", "5", "8"]);
    assert_eq!(ids(&h, "油烟 OR 噪音 -工地"), vec!["1", "5"]);
    assert_eq!(ids(&h, "扰民 -\"油烟机\""), vec!["5", "8"]);
    assert_eq!(ids(&h, "小区 region:A3区"), vec!["4"]);
    assert_eq!(ids(&h, "小区 region:A市/A5区"), vec!["2", "6", "8"]);
    assert_eq!(ids(&h, "小区 -region:A市/A5区"), vec!["4"]);
    assert_eq!(ids(&h, "category:劳动和社会保障"), vec!["4"]);
    assert_eq!(ids(&h, "油烟 channel:来电"), vec!["5"]);
    assert_eq!(ids(&h, "物业 status:办理中 OR status:受理中"), vec!["6"]);
    assert!(matches!(
        h.search(&SearchRequest::new("物业 color:red"), &TOK),
        Err(Error::Query { .. })
    ));
    assert!(matches!(
        h.search(&SearchRequest::new("channel:pigeon"), &TOK),
        Err(Error::Query { .. })
    ));
    assert!(matches!(
        h.search(&SearchRequest::new("  "), &TOK),
        Err(Error::Query { .. })
    ));
}

#[test]
fn filters_facets_weeks_and_sorting() {
    let dir = tempfile::tempdir().unwrap();
    build_corpus(dir.path());
    let h = IndexHandle::open(dir.path()).unwrap();
    let mut req = SearchRequest::new("小区");
    req.facets = true;
    req.by_week = true;
    let r = h.search(&req, &TOK).unwrap();
    assert_eq!(r.total, 4);
    let f = r.facets.unwrap();
    assert_eq!(
        f.region,
        vec![("A市/A5区".to_string(), 3), ("A市/A3区".to_string(), 1)]
    );
    assert_eq!(
        f.status,
        vec![("已办结".to_string(), 3), ("办理中".to_string(), 1)]
    );
    let weeks = r.weeks.unwrap();
    // 2019-03-05 (W10), 03-13 (W11), 03-21 (W12), 04-03 (W14), W13 empty in between.
    let got: Vec<(String, u64)> = weeks.iter().map(|w| (w.week.clone(), w.count)).collect();
    assert_eq!(
        got,
        vec![
            ("2019-W10".into(), 1),
            ("2019-W11".into(), 1),
            ("2019-W12".into(), 1),
            ("2019-W13".into(), 0),
            ("2019-W14".into(), 1)
        ]
    );
    let mut req = SearchRequest::new("小区");
    req.from = Some(chrono::NaiveDate::from_ymd_opt(2019, 3, 13).unwrap());
    req.to = Some(chrono::NaiveDate::from_ymd_opt(2019, 3, 21).unwrap());
    req.sort = Sort::Date;
    let r = h.search(&req, &TOK).unwrap();
    let got: Vec<&str> = r.hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(got, vec!["6", "4"]);
    assert_eq!(r.total, 2);
    // Filters alone, paging.
    let mut req = SearchRequest::new("");
    req.region = Some("A市".into());
    req.sort = Sort::Date;
    req.limit = 2;
    req.offset = 1;
    let r = h.search(&req, &TOK).unwrap();
    assert_eq!(r.total, 8);
    let got: Vec<&str> = r.hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(got, vec!["7", "6"]);
    let mut req = SearchRequest::new("小区");
    req.limit = usize::MAX;
    req.offset = 3;
    let r = h.search(&req, &TOK).unwrap();
    assert_eq!((r.total, r.hits.len()), (4, 1));
    req.offset = 1_000_000;
    assert_eq!(h.search(&req, &TOK).unwrap().hits.len(), 0);
    let mut req = SearchRequest::new("物业");
    req.status = Some("已办结".into());
    assert_eq!(h.search(&req, &TOK).unwrap().total, 1);
    let mut req = SearchRequest::new("物业");
    req.channel = Some("message_board".into());
    req.category = Some("城乡建设".into());
    assert_eq!(h.search(&req, &TOK).unwrap().total, 1);
}

#[test]
fn relevance_prefers_title_and_whole_words() {
    let dir = tempfile::tempdir().unwrap();
    build_corpus(dir.path());
    let h = IndexHandle::open(dir.path()).unwrap();
    let r = h.search(&SearchRequest::new("噪音"), &TOK).unwrap();
    assert_eq!(r.hits[0].id, "8", "title is exactly 噪音");
    assert!(r.hits.iter().all(|h| h.score.unwrap() > 0.0));
}

#[test]
fn highlight_offsets_on_mixed_text() {
    let text = "ＡＢＣ公司在A5区的wifi油烟机，Abc说：油烟";
    let terms = vec!["abc".to_string(), "油烟".to_string(), "wifi油".to_string()];
    let marks = find_marks(text, &terms);
    let chars: Vec<char> = text.chars().collect();
    let pieces: Vec<String> = marks
        .iter()
        .map(|&(s, e)| chars[s..e].iter().collect())
        .collect();
    assert_eq!(pieces, vec!["ＡＢＣ", "wifi油烟", "Abc", "油烟"]);
    let h = snippet(text, &terms, 100);
    assert_eq!(h.text, text);
    assert_eq!(
        h.render("[", "]"),
        "[ＡＢＣ]公司在A5区的[wifi油烟]机，[Abc]说：[油烟]"
    );
    assert_eq!(
        Highlighted {
            text: "a<b>油烟".into(),
            marks: vec![(4, 6)]
        }
        .html(),
        "a&lt;b&gt;<mark>油烟</mark>"
    );
    // A long text: the window moves to the match, blanks collapse, offsets stay right.
    let long = format!(
        "\n\t\t开头{}中间 油烟  扰民{}结尾",
        "很长的内容".repeat(40),
        "后面".repeat(40)
    );
    let h = snippet(&long, &["油烟".into(), "扰民".into()], 40);
    assert!(
        h.text.starts_with('…') && h.text.ends_with('…'),
        "{}",
        h.text
    );
    let hc: Vec<char> = h.text.chars().collect();
    let got: Vec<String> = h
        .marks
        .iter()
        .map(|&(s, e)| hc[s..e].iter().collect())
        .collect();
    assert_eq!(got, vec!["油烟", "扰民"]);
    assert!(h.render("[", "]").contains("[油烟] [扰民]"));
    // Through the index: title and snippet marks.
    let dir = tempfile::tempdir().unwrap();
    build(
        dir.path(),
        &[rec("m", "2019-01-01", "ＷｉＦｉ和油烟", text)],
        &TOK,
        &GroupOf::default(),
    )
    .unwrap();
    let h = IndexHandle::open(dir.path()).unwrap();
    let r = h
        .search(&SearchRequest::new("wifi 油烟 OR abc"), &TOK)
        .unwrap();
    assert_eq!(r.total, 1);
    assert_eq!(r.hits[0].title.render("[", "]"), "[ＷｉＦｉ]和[油烟]");
    assert_eq!(
        r.hits[0].snippet.render("[", "]"),
        "[ＡＢＣ]公司在A5区的[wifi油烟]机，[Abc]说：[油烟]"
    );
}

#[test]
fn incremental_add_update_delete_noop() {
    let dir = tempfile::tempdir().unwrap();
    let mut recs = corpus();
    let s = build(dir.path(), &recs[..6], &TOK, &GroupOf::default()).unwrap();
    assert_eq!((s.docs, s.added, s.rebuilt), (6, 6, false));
    // A new week of rows.
    let s = build(dir.path(), &recs, &TOK, &GroupOf::default()).unwrap();
    assert_eq!((s.added, s.updated, s.deleted, s.unchanged), (2, 0, 0, 6));
    // No change: no commit.
    let opstamp = Index::open_in_dir(dir.path())
        .unwrap()
        .load_metas()
        .unwrap()
        .opstamp;
    let s = build(dir.path(), &recs, &TOK, &GroupOf::default()).unwrap();
    assert_eq!((s.added, s.updated, s.deleted, s.unchanged), (0, 0, 0, 8));
    assert_eq!(
        Index::open_in_dir(dir.path())
            .unwrap()
            .load_metas()
            .unwrap()
            .opstamp,
        opstamp
    );
    // An edit, a removal, and a group assignment.
    recs[0].content = "饭店已经搬走了".into();
    recs.remove(7);
    let groups: HashMap<&str, &str> = [("5", "G0001")].into();
    let s = build(dir.path(), &recs, &TOK, &groups.into()).unwrap();
    assert_eq!(
        (s.docs, s.added, s.updated, s.deleted, s.unchanged),
        (7, 0, 2, 1, 5)
    );
    let h = IndexHandle::open(dir.path()).unwrap();
    assert_eq!(h.num_docs(), 7);
    assert_eq!(ids(&h, "半夜"), Vec::<String>::new());
    assert_eq!(ids(&h, "搬走"), vec!["1"]);
    assert_eq!(ids(&h, "工地"), Vec::<String>::new());
    let r = h.search(&SearchRequest::new("烧烤"), &TOK).unwrap();
    assert_eq!(r.hits[0].group_id.as_deref(), Some("G0001"));
}

#[test]
fn tokenizer_change_rebuilds() {
    let dir = tempfile::tempdir().unwrap();
    build_corpus(dir.path());
    let extra = dir
        .path()
        .parent()
        .unwrap()
        .join(format!("extra-{}.dict", std::process::id()));
    std::fs::write(&extra, "饭店油烟 100 n\n").unwrap();
    let tok2 = Tokenizer::new(&Options {
        dicts: vec![extra.clone()],
        ..Options::default()
    })
    .unwrap();
    std::fs::remove_file(&extra).unwrap();
    assert_ne!(tok2.fingerprint(), TOK.fingerprint());
    let s = build(dir.path(), &corpus(), &tok2, &GroupOf::default()).unwrap();
    assert!(s.rebuilt);
    assert_eq!((s.docs, s.added), (8, 8));
    let h = IndexHandle::open(dir.path()).unwrap();
    assert_eq!(h.num_docs(), 8);
    assert!(h.same_tokenizer(&tok2));
    // Same again: no-op.
    let s = build(dir.path(), &corpus(), &tok2, &GroupOf::default()).unwrap();
    assert_eq!((s.rebuilt, s.unchanged), (false, 8));
}

#[test]
fn interrupted_indexing_leaves_previous_index_readable() {
    let dir = tempfile::tempdir().unwrap();
    build_corpus(dir.path());
    {
        let index = open_index(dir.path()).unwrap();
        let f = fields_of(&index.schema()).unwrap();
        let w: IndexWriter = index.writer_with_num_threads(1, 20_000_000).unwrap();
        w.delete_all_documents().unwrap();
        let r = rec("99", "2019-05-01", "新的", "新的油烟");
        w.add_document(to_doc(&f, &r, None, 1, &TOK)).unwrap();
        // Dropped without commit, as if the process died mid-run.
    }
    let h = IndexHandle::open(dir.path()).unwrap();
    assert_eq!(h.num_docs(), 8);
    assert_eq!(ids(&h, "油烟"), vec!["1", "5"]);
    // And the next build is a no-op on it.
    let s = build_corpus(dir.path());
    assert_eq!(s.unchanged, 8);
}

#[test]
fn similar_finds_earlier_petitions() {
    let dir = tempfile::tempdir().unwrap();
    let mut recs = corpus();
    recs.push(rec(
        "9",
        "2019-05-01",
        "饭店油烟机扰民",
        "楼下饭店油烟机很吵，油烟扰民严重。",
    ));
    build(dir.path(), &recs, &TOK, &GroupOf::default()).unwrap();
    let h = IndexHandle::open(dir.path()).unwrap();
    let hits = h.similar("9", 3, &TOK).unwrap();
    assert_eq!(hits[0].id, "1");
    assert!(hits.iter().all(|x| x.id != "9"));
    let s0 = hits[0].score.unwrap();
    assert!(s0 > 0.0 && s0 <= 1.5, "{s0}");
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    // The earliest petition has nothing earlier.
    assert!(h.similar("1", 3, &TOK).unwrap().is_empty());
    assert!(matches!(h.similar("nope", 3, &TOK), Err(Error::Usage(_))));
}

/// Runs one query against the small index: a typed error or results, never a panic.
fn query_survives(h: &IndexHandle, q: &str) {
    let mut req = SearchRequest::new(q);
    req.limit = 5;
    match h.search(&req, &TOK) {
        Ok(r) => assert!(r.hits.len() <= 5),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

#[test]
fn query_fuzz_corpus() {
    let dir = QUERY_INDEX.path();
    let corpus = include_str!("../../tests/fuzz/query.txt");
    let mut n = 0;
    for line in corpus.lines().filter(|l| !l.starts_with('#')) {
        let q = line
            .replace("\\n", "\n")
            .replace("\\t", "\t")
            .replace("\\r", "\r")
            .replace("\\u{0}", "\u{0}");
        let q2 = q.clone();
        within_limit(
            move || {
                let _ = crate::index::query::parse_query(&q2);
                query_survives(&IndexHandle::open(dir).unwrap(), &q2);
            },
            &q,
        );
        n += 1;
    }
    assert!(n > 30);
}

// Case counts are sized with the importer fuzzing (ingest/fuzz.rs) to about a minute of the test
// run in all; MINQING_FUZZ_CASES=N runs N cases per target for a long local run.
proptest::proptest! {
    // Parsing takes microseconds: many cases.
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
        crate::testutil::fuzz_cases(50_000)
    ))]

    #[test]
    fn query_parser_never_panics(q in proptest::prelude::any::<String>()) {
        let q2 = q.clone();
        within_limit(move || {
            let _ = crate::index::query::parse_query(&q2);
        }, &q);
    }
}

proptest::proptest! {
    // Each case also runs the query against an index.
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
        crate::testutil::fuzz_cases(30_000)
    ))]

    #[test]
    fn grammar_shaped_queries_never_panic(
        parts in proptest::collection::vec(
            proptest::sample::select(vec![
                "油烟", "房产证", "OR", "-", "\"", "“", "”", "region:", "unit:", "status:",
                "channel:", "category:", "(", ")", " ", "　", "A市/", "12345", "-物业", ":", "\\",
            ]),
            0..12,
        )
    ) {
        let q: String = parts.concat();
        let q2 = q.clone();
        within_limit(move || {
            let _ = crate::index::query::parse_query(&q2);
            let h = IndexHandle::open(QUERY_INDEX.path()).unwrap();
            query_survives(&h, &q2);
        }, &q);
    }
}

/// Runs `f` on its own thread and fails the test naming `query` if it takes longer than a
/// minute (an endless loop in the parser or the search); a panic propagates as it is.
fn within_limit(f: impl FnOnce() + Send + 'static, query: &str) {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(()) => h.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(h.join().unwrap_err())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("query {query:?} did not finish within a minute (endless loop?)")
        }
    }
}

/// One small index shared by the grammar-shaped fuzz cases.
static QUERY_INDEX: LazyLock<tempfile::TempDir> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    build_corpus(dir.path());
    dir
});

#[test]
fn ties_are_listed_by_id_whatever_segment_holds_them() {
    // Same text, same day: equal scores and dates. "z" is indexed first (the first segment),
    // "a" a week later (a second one); tantivy alone lists ties by segment.
    let dir = tempfile::tempdir().unwrap();
    let same = |id: &str| rec(id, "2019-03-04", "电梯故障", "电梯又坏了，困人。");
    let z = vec![same("z")];
    build(dir.path(), &z, &TOK, &GroupOf::default()).unwrap();
    build(
        dir.path(),
        &[same("z"), same("a")],
        &TOK,
        &GroupOf::default(),
    )
    .unwrap();
    let h = IndexHandle::open(dir.path()).unwrap();
    let ids = |sort: search::Sort, limit: usize| -> Vec<String> {
        let mut req = SearchRequest::new("电梯");
        req.sort = sort;
        req.limit = limit;
        let r = h.search(&req, &TOK).unwrap();
        r.hits.iter().map(|x| x.id.clone()).collect()
    };
    assert_eq!(ids(search::Sort::Relevance, 10), ["a", "z"]);
    // the cut at the limit keeps the smaller id too
    assert_eq!(ids(search::Sort::Relevance, 1), ["a"]);
    // newest first; on the same date the larger id (the later one) first
    assert_eq!(ids(search::Sort::Date, 10), ["z", "a"]);
}

#[test]
fn a_tie_wider_than_the_widening_is_still_listed_by_id() {
    // more equal hits than settle_ties widens to: the page comes from the id-keyed collector
    let dir = tempfile::tempdir().unwrap();
    let n = super::pages::TIE_WIDEN_MAX + 100;
    let recs: Vec<Record> = (0..n)
        .rev()
        .map(|i| rec(&format!("{i:05}"), "2019-03-04", "电梯故障", "电梯又坏了。"))
        .collect();
    build(dir.path(), &recs[..n / 2], &TOK, &GroupOf::default()).unwrap();
    build(dir.path(), &recs, &TOK, &GroupOf::default()).unwrap();
    let h = IndexHandle::open(dir.path()).unwrap();
    let mut req = SearchRequest::new("电梯");
    req.offset = 10;
    req.limit = 3;
    let r = h.search(&req, &TOK).unwrap();
    let ids: Vec<&str> = r.hits.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(ids, ["00010", "00011", "00012"]);
    assert_eq!(r.total, n as u64);
}

/// Petitions with repeated texts (equal scores across shards) and dates (equal dates), some in
/// case groups.
fn repetitive_corpus(n: usize) -> (Vec<Record>, HashMap<String, String>) {
    let base = corpus();
    let recs: Vec<Record> = (0..n)
        .map(|i| {
            let b = &base[i % base.len()];
            let mut r = rec(
                &format!("{:04}", (i * 37) % n),
                &format!("2019-03-{:02}", 1 + (i / 3) % 28),
                &b.title,
                &b.content,
            );
            r.region = b.region.clone();
            r.channel = b.channel;
            r.category = b.category.clone();
            r.status = b.status.clone();
            r
        })
        .collect();
    let groups = recs
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 4 == 0)
        .map(|(i, r)| (r.id.to_string(), format!("G{:04}", i % 3)))
        .collect();
    (recs, groups)
}

fn group_map(groups: &HashMap<String, String>) -> GroupOf<'_> {
    groups
        .iter()
        .map(|(i, g)| (i.as_str(), g.as_str()))
        .collect::<HashMap<_, _>>()
        .into()
}

/// Three shards of `recs` (thirds), built into `run/shards` and installed as `run/index`;
/// shards of the index there are kept where their rows did not change.
fn shard_into(
    run: &Path,
    recs: &[Record],
    groups: &HashMap<String, String>,
) -> (IndexSummary, Vec<Built>) {
    let group_of = group_map(groups);
    let staging = run.join("shards");
    let index_dir = run.join("index");
    let third = recs.len() / 3;
    let mut built = Vec::new();
    for (k, part) in [&recs[..third], &recs[third..2 * third], &recs[2 * third..]]
        .into_iter()
        .enumerate()
    {
        let dir = staging.join(shard_name(k));
        let (_, b) = build_shard(&dir, part, &TOK, &group_of, Some(&index_dir)).unwrap();
        built.push(b);
    }
    let s = install(&staging, &index_dir, &TOK, &group_of, recs.len() as u64).unwrap();
    assert_eq!((s.docs, s.shards), (recs.len() as u64, 3));
    assert!(!staging.exists(), "the staging folder is moved into place");
    (s, built)
}

/// The same petitions as one index and as three shards installed from a staging folder.
fn one_and_sharded(
    recs: &[Record],
    groups: &HashMap<String, String>,
) -> (tempfile::TempDir, tempfile::TempDir) {
    let one = tempfile::tempdir().unwrap();
    build(one.path(), recs, &TOK, &group_map(groups)).unwrap();
    let run = tempfile::tempdir().unwrap();
    let (s, built) = shard_into(run.path(), recs, groups);
    assert_eq!(s.kept_shards, 0);
    assert!(built.iter().all(|b| *b == Built::Indexed));
    (one, run)
}

/// Words, a phrase and an exclusion that the repetitive corpus's petitions hold.
const QUERIES: [&str; 6] = [
    "电梯",
    "油烟 扰民",
    "小区",
    "\"房产证\"",
    "物业 -收费",
    "噪音",
];

/// Every search of `a` and `b` gives the same JSON (hits, scores, snippets, totals, facets,
/// weeks; similar petitions).
fn same_answers(a: &IndexHandle, b: &IndexHandle, last: usize) {
    let as_json = |h: &IndexHandle, req: &SearchRequest| {
        serde_json::to_string(&h.search(req, &TOK).unwrap()).unwrap()
    };
    for q in QUERIES {
        for sort in [search::Sort::Relevance, search::Sort::Date] {
            for (offset, limit) in [(0, 3), (0, 20), (5, 7), (17, 40), (last - 10, 20)] {
                let mut req = SearchRequest::new(q);
                req.sort = sort;
                req.offset = offset;
                req.limit = limit;
                req.facets = true;
                req.by_week = true;
                assert_eq!(
                    as_json(a, &req),
                    as_json(b, &req),
                    "{q} {sort:?} {offset}+{limit}"
                );
            }
        }
    }
    // filters only: every hit ties
    let mut req = SearchRequest::new("");
    req.group = Some("G0001".into());
    req.limit = 9;
    req.offset = 4;
    assert_eq!(as_json(a, &req), as_json(b, &req));
    for id in ["0000", "0123", "0299"] {
        let sim = |h: &IndexHandle| serde_json::to_string(&h.similar(id, 15, &TOK).unwrap());
        assert_eq!(sim(a).unwrap(), sim(b).unwrap(), "similar to {id}");
    }
}

#[test]
fn a_sharded_index_answers_every_search_as_one_index() {
    let (recs, groups) = repetitive_corpus(300);
    let (one, run) = one_and_sharded(&recs, &groups);
    let (a, b) = (
        IndexHandle::open(one.path()).unwrap(),
        IndexHandle::open(&run.path().join("index")).unwrap(),
    );
    assert_eq!((a.shards(), b.shards()), (1, 3));
    assert_eq!(a.num_docs(), b.num_docs());
    assert!(b.same_tokenizer(&TOK));
    same_answers(&a, &b, 300);
}

#[test]
fn shards_of_the_last_index_are_kept_or_updated_in_place() {
    let (mut recs, mut groups) = repetitive_corpus(300);
    let run = tempfile::tempdir().unwrap();
    let (s, _) = shard_into(run.path(), &recs, &groups);
    assert_eq!((s.added, s.unchanged, s.rebuilt), (300, 0, false));
    // nothing changed: every shard is linked from the index it replaces, and answers alike
    let (s, built) = shard_into(run.path(), &recs, &groups);
    assert_eq!(s.kept_shards, 3);
    assert_eq!((s.added, s.unchanged, s.rebuilt), (0, 300, false));
    assert!(
        built.iter().all(|b| matches!(b, Built::Kept(_))),
        "{built:?}"
    );
    let (one, _) = one_and_sharded(&recs, &groups);
    let fresh = IndexHandle::open(one.path()).unwrap();
    same_answers(
        &fresh,
        &IndexHandle::open(&run.path().join("index")).unwrap(),
        300,
    );
    // a petition of the second third regrouped, one of the last third edited: the first
    // third's shard is kept, the others updated in place (only those petitions re-indexed)
    let regrouped = recs[150].id.to_string();
    groups.insert(regrouped.clone(), "G0002".into());
    recs[250].content = format!("{}桥洞积水严重。", recs[250].content).into();
    let (s, built) = shard_into(run.path(), &recs, &groups);
    assert_eq!(s.kept_shards, 1);
    // run.json counts what the shards' builds did, not every petition as added
    assert_eq!((s.added, s.updated, s.deleted, s.unchanged), (0, 2, 0, 298));
    assert!(matches!(built[0], Built::Kept(_)), "{built:?}");
    assert!(
        built[1..].iter().all(|b| matches!(b, Built::Updated(_))),
        "{built:?}"
    );
    // the same petitions are found as in an index built afresh (scores may differ: the
    // updated shards keep their replaced documents in the statistics until segments merge)
    let (one, _) = one_and_sharded(&recs, &groups);
    let (a, b) = (
        IndexHandle::open(one.path()).unwrap(),
        IndexHandle::open(&run.path().join("index")).unwrap(),
    );
    assert_eq!(b.num_docs(), 300);
    let found = |h: &IndexHandle, q: &str, group: Option<&str>| {
        let mut req = SearchRequest::new(q);
        req.limit = 1000;
        req.group = group.map(str::to_string);
        let r = h.search(&req, &TOK).unwrap();
        let mut ids: Vec<String> = r.hits.into_iter().map(|h| h.id).collect();
        ids.sort();
        (r.total, ids)
    };
    for q in QUERIES.into_iter().chain(["桥洞积水"]) {
        assert_eq!(found(&a, q, None), found(&b, q, None), "{q}");
    }
    assert_eq!(found(&b, "桥洞积水", None).1, [recs[250].id.to_string()]);
    assert!(found(&b, "", Some("G0002")).1.contains(&regrouped));
    assert_eq!(found(&a, "", Some("G0002")), found(&b, "", Some("G0002")));
    // and the updated shards now carry their new petitions: nothing to do next time
    let (s, _) = shard_into(run.path(), &recs, &groups);
    assert_eq!(s.kept_shards, 3);
    // a damaged shard of the last index (a segment file lost) is indexed afresh, the others
    // are still kept, and the index answers as one built afresh
    let damaged = run.path().join("index").join(shard_name(1));
    let lost = std::fs::read_dir(&damaged)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "idx"))
        .unwrap();
    std::fs::remove_file(lost).unwrap();
    let (s, built) = shard_into(run.path(), &recs, &groups);
    assert_eq!(built[1], Built::Indexed, "{built:?}");
    assert!(matches!(built[0], Built::Kept(_)), "{built:?}");
    assert_eq!(s.docs, 300);
    let b = IndexHandle::open(&run.path().join("index")).unwrap();
    for q in ["电梯", "桥洞积水", "小区"] {
        assert_eq!(found(&a, q, None), found(&b, q, None), "{q}");
    }
}

#[test]
fn shards_of_other_groups_or_missing_petitions_are_refused() {
    let (recs, groups) = repetitive_corpus(30);
    let group_of = group_map(&groups);
    let run = tempfile::tempdir().unwrap();
    let staging = run.path().join("shards");
    build_shard(
        &staging.join(shard_name(0)),
        &recs[..10],
        &TOK,
        &group_of,
        None,
    )
    .unwrap();
    // the second shard was indexed before a regrouping
    build_shard(
        &staging.join(shard_name(1)),
        &recs[10..],
        &TOK,
        &GroupOf::default(),
        None,
    )
    .unwrap();
    let index_dir = run.path().join("index");
    let err = install(&staging, &index_dir, &TOK, &group_of, 30).unwrap_err();
    assert!(err.to_string().contains("other case groups"), "{err}");
    build_shard(
        &staging.join(shard_name(1)),
        &recs[10..20],
        &TOK,
        &group_of,
        None,
    )
    .unwrap();
    let err = install(&staging, &index_dir, &TOK, &group_of, 30).unwrap_err();
    assert!(
        err.to_string().contains("hold 20 petitions, the store 30"),
        "{err}"
    );
    assert!(!exists(&index_dir), "nothing installed");
    build_shard(
        &staging.join(shard_name(2)),
        &recs[20..],
        &TOK,
        &group_of,
        None,
    )
    .unwrap();
    install(&staging, &index_dir, &TOK, &group_of, 30).unwrap();
    // a run on one machine replaces the sharded index by one index
    let s = build(&index_dir, &recs, &TOK, &group_of).unwrap();
    assert!(s.rebuilt);
    assert!(!index_dir.join(LAYOUT_FILE).exists());
    assert_eq!(IndexHandle::open(&index_dir).unwrap().shards(), 1);
}

proptest::proptest! {
    /// Looking up many ids at once (walking the sorted rows beside ids in order, searching
    /// afresh for an id out of order) finds what looking each up alone finds, and what a table
    /// of the pairs finds: for rows of a grouping and for (id, group) pairs alike.
    #[test]
    fn group_lookup_of_many_ids_agrees_with_one_at_a_time(
        rows in proptest::collection::btree_map(0u16..400, 0u8..4, 0..60),
        asked in proptest::collection::vec(0u16..420, 0..80),
        in_order in proptest::bool::ANY,
    ) {
        let id = |n: u16| format!("X{n:04}");
        let gid = |g: u8| if g == 0 { crate::cluster::UNCLUSTERED.to_string() } else { format!("G{g}") };
        let pairs: Vec<(String, String)> = rows.iter().map(|(&n, &g)| (id(n), gid(g))).collect();
        let groups = crate::cluster::Groups {
            members: pairs
                .iter()
                .map(|(i, g)| crate::cluster::Member {
                    id: i.as_str().into(),
                    group_id: g.as_str().into(),
                    similarity: 0.0,
                    is_repeat: false,
                })
                .collect(),
            ..Default::default()
        };
        let table: HashMap<&str, &str> = pairs
            .iter()
            .filter(|(_, g)| g != crate::cluster::UNCLUSTERED)
            .map(|(i, g)| (i.as_str(), g.as_str()))
            .collect();
        let mut asked: Vec<String> = asked.into_iter().map(id).collect();
        if in_order {
            asked.sort();
        }
        let want: Vec<Option<&str>> = asked.iter().map(|a| table.get(a.as_str()).copied()).collect();
        let of_groups = GroupOf::of_groups(&groups);
        proptest::prop_assert_eq!(&of_groups.get_all(asked.iter().map(String::as_str)), &want);
        let one: Vec<Option<&str>> = asked.iter().map(|a| of_groups.get(a)).collect();
        proptest::prop_assert_eq!(&one, &want);
        // pairs keep the unclustered marker as any other group id: the files hold none
        let grouped: Vec<(String, String)> = pairs
            .iter()
            .filter(|(_, g)| g != crate::cluster::UNCLUSTERED)
            .cloned()
            .collect();
        let of_pairs = GroupOf::of_pairs(&grouped);
        proptest::prop_assert_eq!(&of_pairs.get_all(asked.iter().map(String::as_str)), &want);
    }
}
