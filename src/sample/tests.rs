use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::NaiveDate;

use super::cases::WAGE_SPIKE;
use super::kinds::{kind, ObjKind, GROUP_KINDS};
use super::phrases;
use super::plan::{Origin, Sample, COPY, HUB, NO_GROUP, REPEAT, VARIANT};
use super::render::CHANNEL_NAMES;
use super::rng::Rng;
use super::{
    end_date, generate, write, Options, SampleRow, DAY, HEADERS, SINGLETON, SPAN_DAYS, TRUTH_COLUMN,
};

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
        assert!(!r.truth_group.is_empty(), "{} has no truth", r.id);
        if r.truth_group != SINGLETON {
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
    for r in rows.iter().filter(|r| r.truth_group != SINGLETON) {
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
    let cats: BTreeSet<&str> = rows.iter().map(|r| r.category.as_str()).collect();
    assert!(cats.len() >= 12, "{cats:?}");
    let districts: BTreeSet<&str> = rows
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

/// The large cases are written in many words (small ones may be copies: see
/// `sample_copies_are_near_verbatim`).
#[test]
fn sample_group_wording_varies() {
    let s = Sample::new(&opts(5000, 42));
    let rows: Vec<SampleRow> = s.iter().collect();
    let campaign: BTreeSet<String> = s
        .groups()
        .into_iter()
        .filter(|g| g.origin == "campaign")
        .map(|g| g.key)
        .collect();
    let mut texts: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows.iter().filter(|r| campaign.contains(&r.truth_group)) {
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
                "{} {} {} {} {} {}",
                g.key, g.kind, g.origin, g.category, g.anchor, g.size
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
            .filter(|r| r.extra_value(TRUTH_COLUMN).is_some_and(|v| v != SINGLETON))
            .count();
        assert!(records
            .iter()
            .all(|r| r.extra_value(TRUTH_COLUMN).is_some()));
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
    for r in rows5k().iter().filter(|r| r.truth_group == SINGLETON) {
        let text = format!("{} {}", r.title, r.content);
        let names: BTreeSet<&str> = re.find_iter(&text).map(|m| m.as_str()).collect();
        for n in names {
            *seen.entry((r.category.clone(), n.to_string())).or_default() += 1;
        }
    }
    assert!(seen.len() > 50);
    let repeated: Vec<_> = seen.iter().filter(|(_, &n)| n > 1).collect();
    assert!(repeated.len() <= 2, "{repeated:?}");
}

// ---- the phenomena of real petition data

/// Rows with their plan entries, rendered.
fn planned(s: &Sample) -> Vec<(super::plan::PlanRow, SampleRow)> {
    (0..s.len()).map(|i| (s.rows[i], s.row(i))).collect()
}

#[test]
fn sample_singletons_are_two_thirds_and_grouped_share_is_kept() {
    for (share, lo, hi) in [(0.35, 0.30, 0.40), (0.2, 0.16, 0.24)] {
        let s = Sample::new(&Options {
            rows: 5000,
            seed: 9,
            grouped_share: share,
        });
        let grouped = s.rows.iter().filter(|r| r.group != NO_GROUP).count() as f64 / 5000.0;
        assert!((lo..=hi).contains(&grouped), "share {share}: {grouped}");
    }
    // most cases are small, as in a hand-labelled key; a few dozen are large
    let info = Sample::new(&opts(5000, 9)).groups();
    let small = info.iter().filter(|g| g.size <= 3).count();
    let large = info.iter().filter(|g| g.size >= 20).count();
    assert!(small * 10 >= info.len() * 7, "{small} of {}", info.len());
    assert!(large >= 10, "{large} large cases");
}

#[test]
fn sample_cases_never_share_object_and_kind() {
    let s = Sample::new(&opts(5000, 42));
    let mut seen = BTreeSet::new();
    for g in &s.groups {
        let names: BTreeSet<&String> = [&g.obj.full, &g.obj.short].into_iter().collect();
        for name in names {
            assert!(
                seen.insert((g.kind, name.clone())),
                "{} names {name} under {}",
                g.key,
                GROUP_KINDS[g.kind].key
            );
        }
    }
    // and a singleton of a case's kind never names one of that kind's objects
    let mut checked = 0;
    for pr in s
        .rows
        .iter()
        .filter(|r| r.group == NO_GROUP && r.flags & HUB == 0)
    {
        let k = kind(pr.kind);
        if (pr.kind as usize) < GROUP_KINDS.len() && k.obj != ObjKind::None {
            let o = s.one_off(pr.kind, k, pr.obj as usize, &mut Rng::new(1));
            assert!(!s.is_taken(pr.kind, &o, k.obj), "{}", o.full);
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn sample_one_object_carries_several_cases() {
    let s = Sample::new(&opts(5000, 42));
    let rows = planned(&s);
    let mut cases: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for g in &s.groups {
        cases
            .entry(g.obj.short.as_str())
            .or_default()
            .insert(GROUP_KINDS[g.kind].key);
    }
    let multi: Vec<(&str, usize)> = cases
        .iter()
        .filter(|(_, k)| k.len() >= 2)
        .map(|(o, k)| (*o, k.len()))
        .collect();
    assert!(multi.len() >= 8, "{multi:?}");
    assert!(multi.iter().any(|m| m.1 >= 3), "{multi:?}");
    // beyond estates: schools and employers carry several cases too
    let types: BTreeSet<&str> = s
        .groups
        .iter()
        .filter(|g| cases[g.obj.short.as_str()].len() >= 2)
        .map(|g| match GROUP_KINDS[g.kind].obj {
            ObjKind::Estate => "estate",
            ObjKind::Village => "village",
            ObjKind::School => "school",
            ObjKind::Employer => "employer",
            _ => "other",
        })
        .collect();
    assert!(types.len() >= 3, "{types:?}");
    // and singletons about yet other problems name the same objects
    let hub_singles: Vec<&SampleRow> = rows
        .iter()
        .filter(|(p, _)| p.flags & HUB != 0)
        .map(|(_, r)| r)
        .collect();
    assert!(hub_singles.len() >= 20, "{}", hub_singles.len());
    assert!(hub_singles.iter().all(|r| r.truth_group == SINGLETON));
    let naming = hub_singles
        .iter()
        .filter(|r| {
            multi
                .iter()
                .any(|(o, _)| r.title.contains(o) || r.content.contains(o))
        })
        .count();
    assert!(naming >= 5, "{naming}");
}

#[test]
fn sample_prolific_posters_span_unrelated_matters() {
    let s = Sample::new(&opts(5000, 42));
    let rows = planned(&s);
    assert!(s.prolific.len() >= 5, "{:?}", s.prolific);
    let (mut total, mut total_singles) = (0, 0);
    for pet in s.prolific.clone() {
        let mine: Vec<&(super::plan::PlanRow, SampleRow)> =
            rows.iter().filter(|(p, _)| p.pet == pet).collect();
        assert!(mine.len() >= 4, "poster {pet}: {} petitions", mine.len());
        // unrelated matters: mostly singletons, never two petitions in one case
        let labels: Vec<&str> = mine.iter().map(|(_, r)| r.truth_group.as_str()).collect();
        let cases: BTreeSet<&str> = labels.iter().copied().filter(|l| *l != SINGLETON).collect();
        let singles = labels.iter().filter(|l| **l == SINGLETON).count();
        assert_eq!(cases.len() + singles, labels.len(), "{labels:?}");
        total += labels.len();
        total_singles += singles;
        // one petitioner, one habitual opening
        let names: BTreeSet<&str> = mine.iter().map(|(_, r)| r.petitioner.as_str()).collect();
        assert_eq!(names.len(), 1);
        let habit = s.style(pet).opener;
        let habit = habit.split('{').next().unwrap_or_default();
        let habit: String = habit.chars().take(4).collect();
        let with = mine
            .iter()
            .filter(|(_, r)| r.content.contains(&habit))
            .count();
        assert!(
            with * 10 >= mine.len() * 8,
            "{habit}: {with} of {}",
            mine.len()
        );
    }
    // mostly singletons, some in several cases
    assert!(
        total_singles * 10 >= total * 6,
        "{total_singles} of {total}"
    );
    let in_cases = rows
        .iter()
        .filter(|(p, r)| s.prolific.contains(&p.pet) && r.truth_group != SINGLETON)
        .count();
    assert!(in_cases >= 3, "{in_cases}");
}

#[test]
fn sample_repeats_share_case_and_petitioner() {
    let s = Sample::new(&opts(5000, 42));
    let rows = planned(&s);
    let mut first: BTreeMap<(u32, u32), usize> = BTreeMap::new();
    let mut repeats = 0;
    let mut marked = 0;
    let mut reworded = 0;
    for (i, (p, r)) in rows.iter().enumerate() {
        if p.group == NO_GROUP {
            assert_eq!(p.flags & REPEAT, 0);
            continue;
        }
        match first.get(&(p.group, p.pet)) {
            None => {
                assert_eq!(p.flags & REPEAT, 0, "{}", r.id);
                first.insert((p.group, p.pet), i);
            }
            Some(&f) => {
                assert_ne!(p.flags & REPEAT, 0, "{}", r.id);
                let orig = &rows[f].1;
                assert_eq!(orig.truth_group, r.truth_group);
                assert_eq!(orig.petitioner, r.petitioner);
                repeats += 1;
                let says = phrases::REPEAT_TITLE_PRE
                    .iter()
                    .any(|m| r.title.starts_with(m))
                    || phrases::REPEAT_TITLE_POST
                        .iter()
                        .any(|m| r.title.ends_with(m))
                    || phrases::REPEAT_LINES
                        .iter()
                        .chain(phrases::REPEAT_LINES_RECORDED)
                        .any(|m| r.content.starts_with(m));
                marked += says as usize;
                reworded += (!r.title.is_empty() && r.title != orig.title) as usize;
            }
        }
    }
    assert!(repeats >= 150, "{repeats}");
    assert!(
        marked * 2 >= repeats,
        "{marked} of {repeats} say they are repeats"
    );
    assert!(reworded * 2 >= repeats, "{reworded} of {repeats} reworded");
    // the small cases of one petitioner filing again: one petitioner, days or weeks apart
    for g in s.groups.iter().filter(|g| g.origin == Origin::Repeat) {
        let key = g.key.as_str();
        let members: Vec<&(super::plan::PlanRow, SampleRow)> =
            rows.iter().filter(|(_, r)| r.truth_group == key).collect();
        let pets: BTreeSet<u32> = members.iter().map(|(p, _)| p.pet).collect();
        assert_eq!(pets.len(), 1, "{key}");
    }
}

/// Dice coefficient of two texts' character bigrams.
fn dice(a: &str, b: &str) -> f64 {
    let grams = |s: &str| -> BTreeMap<(char, char), usize> {
        let c: Vec<char> = s.chars().collect();
        let mut m = BTreeMap::new();
        for w in c.windows(2) {
            *m.entry((w[0], w[1])).or_default() += 1;
        }
        m
    };
    let (ga, gb) = (grams(a), grams(b));
    let common: usize = ga
        .iter()
        .map(|(k, n)| (*n).min(gb.get(k).copied().unwrap_or(0)))
        .sum();
    let total: usize = ga.values().sum::<usize>() + gb.values().sum::<usize>();
    2.0 * common as f64 / total.max(1) as f64
}

/// A text without the line a repeat or a copy puts in front.
fn without_lead(content: &str) -> &str {
    let lead = phrases::REPEAT_LINES
        .iter()
        .chain(phrases::REPEAT_LINES_RECORDED)
        .chain(phrases::COPY_LEADS)
        .filter(|l| !l.is_empty())
        .find(|l| content.starts_with(**l));
    &content[lead.map_or(0, |l| l.len())..]
}

#[test]
fn sample_copies_are_near_verbatim() {
    let s = Sample::new(&opts(5000, 42));
    let rows = planned(&s);
    let mut copies = 0;
    let mut by_other = 0;
    for (p, r) in rows.iter().filter(|(p, _)| p.flags & COPY != 0) {
        // the copied row: same case, same text number, not itself a copy
        let (op, orig) = rows
            .iter()
            .find(|(o, _)| o.group == p.group && o.text == p.text && o.flags & COPY == 0)
            .expect("the copied row");
        assert_eq!(op.channel, p.channel);
        // what a copy or a repeat adds in front is not the copied text
        let d = dice(without_lead(&orig.content), without_lead(&r.content));
        assert!(d >= 0.6, "{d:.2}\n{}\n{}", orig.content, r.content);
        copies += 1;
        by_other += (op.pet != p.pet) as usize;
    }
    assert!(copies >= 60, "{copies}");
    assert!(by_other >= 30, "{by_other}");
}

#[test]
fn sample_variant_names_are_one_edit_or_a_marketing_name() {
    let s = Sample::new(&opts(5000, 42));
    let rows = planned(&s);
    let shorts: BTreeSet<&str> = s.groups.iter().map(|g| g.obj.short.as_str()).collect();
    let mut one_edit = 0;
    let mut market = 0;
    for g in &s.groups {
        let Some(v) = &g.variant else { continue };
        assert_ne!(v.short, g.obj.short);
        assert!(
            !shorts.contains(v.short.as_str()),
            "{} is another case's",
            v.short
        );
        if v.short.contains('·') {
            market += 1;
        } else {
            assert_eq!(
                strsim::osa_distance(&g.obj.short, &v.short),
                1,
                "{} / {}",
                g.obj.short,
                v.short
            );
            one_edit += 1;
        }
        // the members that write the variant write it, and nothing else changes the case
        let members: Vec<&(super::plan::PlanRow, SampleRow)> = rows
            .iter()
            .filter(|(p, _)| p.group != NO_GROUP && s.groups[p.group as usize].key == g.key)
            .collect();
        assert!(members.iter().all(|(_, r)| r.truth_group == g.key));
    }
    assert!(one_edit >= 20, "{one_edit}");
    assert!(market >= 2, "{market}");
    let written = rows
        .iter()
        .filter(|(p, r)| {
            p.flags & VARIANT != 0 && {
                let v = s.groups[p.group as usize]
                    .variant
                    .as_ref()
                    .expect("variant");
                format!("{}{}", r.title, r.content).contains(&v.short)
                    || format!("{}{}", r.title, r.content).contains(&v.full)
            }
        })
        .count();
    assert!(written >= 40, "{written}");
}

#[test]
fn sample_policy_questions_stay_singletons_beside_policy_cases() {
    let s = Sample::new(&opts(5000, 42));
    let rows = planned(&s);
    // broad themes asked in one's own situation: many, all singletons, no object
    let themes = ["pension", "hukou", "socins", "gjjq", "talentq", "citysug"];
    let theme_rows: Vec<&SampleRow> = rows
        .iter()
        .filter(|(p, _)| p.group == NO_GROUP && themes.contains(&kind(p.kind).key))
        .map(|(_, r)| r)
        .collect();
    assert!(
        (60..=400).contains(&theme_rows.len()),
        "{}",
        theme_rows.len()
    );
    let distinct: BTreeSet<&str> = theme_rows.iter().map(|r| r.content.as_str()).collect();
    assert!(distinct.len() * 10 >= theme_rows.len() * 9);
    // a few cases about one named policy decision: several petitioners, one change wanted
    let policy: Vec<&super::plan::Group> = s
        .groups
        .iter()
        .filter(|g| g.origin == Origin::Policy)
        .collect();
    assert!(policy.len() >= 5, "{}", policy.len());
    for g in policy {
        assert!(GROUP_KINDS[g.kind].obj.is_policy());
        let pets: BTreeSet<u32> = rows
            .iter()
            .filter(|(_, r)| r.truth_group == g.key)
            .map(|(p, _)| p.pet)
            .collect();
        assert!(pets.len() >= 2 || rows.iter().filter(|(_, r)| r.truth_group == g.key).count() < 2);
    }
}

#[test]
fn sample_is_identical_across_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    pool(1).install(|| write(&opts(20_000, 4), &a)).unwrap();
    pool(4).install(|| write(&opts(20_000, 4), &b)).unwrap();
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap());
    // and rows render the same in any order
    let s = Sample::new(&opts(3000, 4));
    let forward: Vec<SampleRow> = s.iter().collect();
    let backward: Vec<SampleRow> = (0..s.len()).rev().map(|i| s.row(i)).collect();
    assert!(forward.iter().eq(backward.iter().rev()));
}
