use std::collections::BTreeMap;

use super::*;

fn opts(rows: usize, seed: u64) -> Options {
    Options {
        rows,
        seed,
        ..Options::default()
    }
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn sample_csv_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.csv"),
        dir.path().join("b.csv"),
        dir.path().join("c.csv"),
    );
    let sa = write(&opts(3000, 7), &a).unwrap();
    write(&opts(3000, 7), &b).unwrap();
    write(&opts(3000, 8), &c).unwrap();
    let (ba, bb, bc) = (
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        std::fs::read(&c).unwrap(),
    );
    assert_eq!(ba, bb);
    assert_ne!(ba, bc);
    assert_eq!(sa.rows, 3000);
    assert_eq!(read_csv(&a).len(), 3000);
}

#[test]
fn sample_headers_map_to_schema() {
    for h in HEADERS {
        if h == TRUTH_COLUMN {
            assert_eq!(crate::schema::field_for_header(h), None);
        } else {
            assert!(crate::schema::field_for_header(h).is_some(), "{h} unmapped");
        }
    }
}

fn rows5k() -> Vec<SampleRow> {
    generate(&opts(5000, 42)).collect()
}

#[test]
fn sample_groups_and_singletons() {
    let rows = rows5k();
    assert_eq!(rows.len(), 5000);
    let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &rows {
        if !r.truth_group.is_empty() {
            *sizes.entry(&r.truth_group).or_default() += 1;
        }
    }
    let big = sizes.values().filter(|&&n| n >= 3).count();
    assert!(big >= 40, "only {big} groups of size >= 3");
    let max = *sizes.values().max().unwrap();
    assert!((100..=400).contains(&max), "largest group {max}");
    let grouped: usize = sizes.values().sum();
    assert!(
        grouped * 2 < rows.len(),
        "singletons must be a majority ({grouped} grouped)"
    );
    // ids unique
    let mut ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), rows.len());
    // repeat petitioners inside groups, collective visits
    let mut per: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for r in rows.iter().filter(|r| !r.truth_group.is_empty()) {
        *per.entry((&r.truth_group, &r.petitioner)).or_default() += 1;
    }
    assert!(per.values().any(|&n| n >= 3));
    assert!(rows.iter().any(|r| r.headcount >= 5 && r.channel == "来访"));
}

#[test]
fn sample_hard_negatives_exist() {
    let s = Sample::new(&opts(5000, 42));
    let info = s.groups();
    // same problem kind, different anchors
    let mut by_kind: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for g in &info {
        by_kind.entry(g.kind).or_default().push(&g.anchor);
    }
    assert!(by_kind["cert"].len() >= 3);
    let mut anchors = by_kind["cert"].clone();
    anchors.dedup();
    assert_eq!(anchors.len(), by_kind["cert"].len());
    // same object, different problems
    let mut by_estate: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for g in s
        .groups
        .iter()
        .filter(|g| GROUP_KINDS[g.kind].obj == ObjKind::Estate)
    {
        by_estate
            .entry(g.obj.short.clone())
            .or_default()
            .push(GROUP_KINDS[g.kind].key);
    }
    assert!(by_estate.values().any(|v| v.len() >= 2), "{by_estate:?}");
}

#[test]
fn sample_fields_are_realistic() {
    let rows = rows5k();
    for ch in CHANNEL_NAMES {
        assert!(rows.iter().any(|r| r.channel == ch), "no {ch}");
    }
    let cats: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.category.as_str()).collect();
    assert!(cats.len() >= 12, "{cats:?}");
    let districts: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r.region.split('/').nth(1).unwrap())
        .collect();
    assert!(districts.len() >= 10);
    // dates: parse the registration date in any of the three styles
    let parse = |s: &str| -> NaiveDate {
        let d = s.split(' ').next().unwrap();
        NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(d, "%Y/%m/%d"))
            .or_else(|_| NaiveDate::parse_from_str(d, "%Y年%m月%d日"))
            .unwrap_or_else(|_| panic!("bad date {s}"))
    };
    let dates: Vec<NaiveDate> = rows.iter().map(|r| parse(&r.received)).collect();
    let (lo, hi) = (*dates.iter().min().unwrap(), *dates.iter().max().unwrap());
    assert!((hi - lo).num_days() >= 540, "{lo}..{hi}");
    assert!(hi <= end_date());
    assert!(rows.iter().any(|r| r.received.contains('/')));
    assert!(rows.iter().any(|r| r.received.contains('年')));
    // statuses, satisfaction only when closed
    for st in ["已办结", "办理中", "不予受理"] {
        assert!(rows.iter().any(|r| r.status == st), "no {st}");
    }
    assert!(rows
        .iter()
        .all(|r| r.status == "已办结" || r.satisfaction.is_empty()));
    assert!(
        rows.iter()
            .any(|r| r.closed > r.due && !r.closed.is_empty()),
        "no overdue"
    );
    // likes only for online comment channels
    assert!(rows
        .iter()
        .all(|r| r.likes.is_some() == (r.channel == "网民留言" || r.channel == "评论")));
    // varied lengths and some personal data
    assert!(rows.iter().any(|r| r.content.chars().count() <= 20));
    assert!(rows.iter().any(|r| r.content.chars().count() >= 300));
    assert!(rows.iter().any(|r| r.content.contains("身份证号")));
    assert!(rows.iter().all(|r| !r.content.contains('{')));
    assert!(rows.iter().all(|r| !r.content.trim().is_empty()));
}

#[test]
fn sample_group_wording_varies() {
    let rows = rows5k();
    let mut texts: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows.iter().filter(|r| !r.truth_group.is_empty()) {
        texts.entry(&r.truth_group).or_default().insert(&r.content);
        *counts.entry(&r.truth_group).or_default() += 1;
    }
    for (g, n) in counts {
        let distinct = texts[g].len();
        assert!(
            distinct * 10 >= n * 7,
            "group {g}: {distinct} distinct of {n}"
        );
    }
}

#[test]
fn sample_xlsx_is_written_and_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.xlsx"), dir.path().join("b.xlsx"));
    write(&opts(400, 3), &a).unwrap();
    write(&opts(400, 3), &b).unwrap();
    let ba = std::fs::read(&a).unwrap();
    assert_eq!(&ba[..2], b"PK");
    assert_eq!(ba, std::fs::read(&b).unwrap());
    assert!(write(&opts(10, 3), &dir.path().join("x.txt")).is_err());
}

#[test]
fn sample_small_sizes_work() {
    for n in [0, 1, 7, 50] {
        let rows: Vec<_> = generate(&opts(n, 1)).collect();
        assert_eq!(rows.len(), n);
    }
}

#[test]
#[ignore = "timing; run with --ignored"]
fn sample_million_rows_csv_timing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.csv");
    let t = std::time::Instant::now();
    let s = write(&opts(1_000_000, 1), &p).unwrap();
    let el = t.elapsed();
    let size = std::fs::metadata(&p).unwrap().len();
    eprintln!(
        "1M rows: {:?}, {} MB, {} groups (largest {}), {} grouped rows",
        el,
        size / 1_000_000,
        s.groups,
        s.group_info.iter().map(|g| g.size).max().unwrap_or(0),
        s.grouped_rows
    );
    assert!(el.as_secs() < 60);
}

#[test]
#[ignore = "writes MINQING_SAMPLE_OUT for inspection"]
fn sample_dump() {
    if let Ok(p) = std::env::var("MINQING_SAMPLE_OUT") {
        let s = write(&opts(5000, 42), Path::new(&p)).unwrap();
        for g in &s.group_info {
            eprintln!(
                "{} {} {} {} {}",
                g.key, g.kind, g.category, g.anchor, g.size
            );
        }
    }
}

#[test]
fn sample_round_trips_through_ingest() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["s.csv", "s.xlsx"] {
        let path = dir.path().join(name);
        let summary = write(&opts(2000, 5), &path).unwrap();
        let src = crate::ingest::Source {
            path: path.clone(),
            format: None,
            encoding: None,
            id_prefix: None,
            channel: None,
            sheet: None,
            columns: Default::default(),
        };
        let (records, rejects, _) =
            crate::ingest::read_source(&src, &crate::ingest::Options::default(), &|_| {}).unwrap();
        assert!(
            rejects.is_empty(),
            "{name}: {} rejects, first {:?}",
            rejects.len(),
            rejects.first()
        );
        assert_eq!(records.len(), 2000, "{name}");
        let grouped = records
            .iter()
            .filter(|r| r.extra_value(TRUTH_COLUMN).is_some_and(|v| !v.is_empty()))
            .count();
        assert_eq!(grouped, summary.grouped_rows, "{name}");
        assert!(records.iter().any(|r| r.is_collective()));
        assert!(records.iter().any(|r| r.likes.is_some_and(|l| l > 0)));
    }
}

#[test]
fn sample_temporal_shapes() {
    let s = Sample::new(&opts(5000, 42));
    let last_weeks = (SPAN_DAYS - 28) * DAY;
    let mut late = vec![0usize; s.groups.len()];
    let mut total = vec![0usize; s.groups.len()];
    let mut wage_spike = 0usize;
    let mut wage_other = 0usize;
    for (i, pr) in s.rows.iter().enumerate() {
        if pr.group != NO_GROUP {
            total[pr.group as usize] += 1;
            if pr.secs >= last_weeks {
                late[pr.group as usize] += 1;
            }
        }
        let day = pr.secs / DAY;
        if s.row(i).category == "劳动和社会保障" {
            if (WAGE_SPIKE.0..=WAGE_SPIKE.1).contains(&day) {
                wage_spike += 1;
            } else {
                wage_other += 1;
            }
        }
    }
    // groups emerging in the last four weeks
    let emerging = (0..total.len())
        .filter(|&g| total[g] >= 8 && late[g] * 10 >= total[g] * 8)
        .count();
    assert!(emerging >= 2, "{emerging} emerging groups");
    // 年关讨薪: the three spike weeks carry far more than 3/82 of the wage petitions
    let per_week_spike = wage_spike as f64 / 3.0;
    let per_week_other = wage_other as f64 / 79.0;
    assert!(
        per_week_spike > 2.0 * per_week_other,
        "{per_week_spike} vs {per_week_other}"
    );
}

#[test]
fn sample_one_off_objects_do_not_repeat() {
    // singletons about a named company must not accidentally form unlabelled groups
    let re = regex::Regex::new(
        r"[\p{Han}]{2,6}(?:建筑工程有限公司|健身会所|投资管理有限公司|教育培训学校|混凝土搅拌站|生猪养殖场)",
    )
    .unwrap();
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in rows5k().iter().filter(|r| r.truth_group.is_empty()) {
        let text = format!("{} {}", r.title, r.content);
        let names: std::collections::BTreeSet<&str> =
            re.find_iter(&text).map(|m| m.as_str()).collect();
        for n in names {
            *seen.entry((r.category.clone(), n.to_string())).or_default() += 1;
        }
    }
    assert!(seen.len() > 50);
    let repeated: Vec<_> = seen.iter().filter(|(_, &n)| n > 1).collect();
    assert!(repeated.len() <= 2, "{repeated:?}");
}
