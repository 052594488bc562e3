//! cluster stage: grouping behaviour on synthetic fixtures and the real TIPDM 2020 data.

use chrono::NaiveDateTime;
use minqing::cluster::{self, Groups, Options, UNCLUSTERED};
use minqing::schema::{Channel, Record};
use minqing::tokenize::{self, Tokenizer};
use std::collections::BTreeMap;
use std::sync::LazyLock;

static TOK: LazyLock<Tokenizer> =
    LazyLock::new(|| Tokenizer::new(&tokenize::Options::default()).unwrap());

fn rec(id: &str, day: u32, who: &str, title: &str, content: &str) -> Record {
    let t = NaiveDateTime::parse_from_str("2024-01-01 09:00:00", "%Y-%m-%d %H:%M:%S").unwrap()
        + chrono::Duration::days(day as i64);
    Record {
        id: id.into(),
        received_at: t,
        channel: Channel::Online,
        title: title.into(),
        content: content.into(),
        region: [Some("A市".into()), None, None],
        petitioner: Some(who.into()),
        headcount: 1,
        category: None,
        responsible_unit: Some("住建局".into()),
        status: None,
        accepted_at: None,
        due_at: None,
        closed_at: None,
        satisfaction: None,
        replied_at: None,
        likes: None,
        dislikes: None,
        bypass: None,
        cold: minqing::schema::Cold {
            source: "t.csv:2".into(),
            ..Default::default()
        }
        .boxed(),
    }
}

/// Three estates with identical 房产证 wording (hard negatives), one estate with three different
/// problems, a repeat petitioner, short texts and noise.
fn fixture() -> Vec<Record> {
    let mut v = Vec::new();
    let mut n = 0;
    let mut push = |v: &mut Vec<Record>, day: u32, who: String, title: String, content: String| {
        n += 1;
        v.push(rec(&format!("R{n:04}"), day, &who, &title, &content));
    };
    for (ei, estate) in ["丽景花园", "金域蓝湾", "阳光新城"].iter().enumerate() {
        for k in 0..6 {
            push(&mut v, (k * 3 + ei) as u32, format!("P{ei}{k}"),
                format!("{estate}小区房产证迟迟办不下来"),
                format!("我们是{estate}的业主，2019年交房至今已经五年，开发商一直没有给业主办理房产证，不动产权证办不下来影响孩子上学，请相关部门督促开发商尽快办证。"));
        }
    }
    // one estate, three different problems
    for k in 0..5 {
        push(&mut v, 20 + k, format!("Q{k}"), "翠湖苑物业费上涨不合理".into(),
            "翠湖苑物业公司未经业主大会同意擅自上涨物业费，服务质量却越来越差，请求价格主管部门查处。".into());
        push(&mut v, 21 + k, format!("S{k}"), "翠湖苑旁边工地夜间施工噪音扰民".into(),
            "翠湖苑旁边的建筑工地每天晚上十一点以后还在施工，噪音太大严重影响居民休息，请城管执法部门处理。".into());
        push(&mut v, 22 + k, format!("T{k}"), "翠湖苑电梯经常故障困人".into(),
            "翠湖苑3栋电梯经常故障，上周又困人半小时，维保单位敷衍了事，请市场监管部门检查电梯安全。".into());
    }
    // repeat petitioner: same person files 3 times about 翠湖苑 电梯
    for k in 0..2 {
        push(
            &mut v,
            30 + k,
            "T0".into(),
            "再次反映翠湖苑电梯故障困人".into(),
            "翠湖苑电梯故障困人问题仍未解决，维保单位不作为，请市场监管部门检查电梯安全。".into(),
        );
    }
    // short texts
    for k in 0..4 {
        push(
            &mut v,
            40 + k,
            format!("U{k}"),
            String::new(),
            "星河小学门口交通拥堵".into(),
        );
    }
    // noise
    push(
        &mut v,
        5,
        "Z1".into(),
        "咨询社保转移".into(),
        "请问外地社保如何转移到本地，需要哪些材料？".into(),
    );
    push(
        &mut v,
        6,
        "Z2".into(),
        "建议增加公交班次".into(),
        "早高峰公交车太挤，建议增加班次。".into(),
    );
    v
}

fn group_of(g: &Groups) -> BTreeMap<String, String> {
    g.members
        .iter()
        .map(|m| (m.id.to_string(), m.group_id.to_string()))
        .collect()
}

fn same(g: &BTreeMap<String, String>, a: &str, b: &str) -> bool {
    g[a] != UNCLUSTERED && g[a] == g[b]
}

#[test]
fn hard_negatives_and_problems_separate() {
    let recs = fixture();
    let g = cluster::run(&recs, &TOK, &Options::default(), None).unwrap();
    for gr in &g.groups {
        eprintln!(
            "{} {} size={} people={} anchor={:?}",
            gr.id, gr.label, gr.size, gr.distinct_petitioners, gr.anchor
        );
    }
    let m = group_of(&g);
    // members partition the input
    assert_eq!(g.members.len(), recs.len());
    let total: usize = g.groups.iter().map(|x| x.size).sum::<usize>()
        + g.members
            .iter()
            .filter(|x| x.group_id == UNCLUSTERED)
            .count();
    assert_eq!(total, recs.len());
    // each estate's 房产证 petitions together, estates apart
    for e in 0..3 {
        let first = format!("R{:04}", e * 6 + 1);
        for k in 1..6 {
            assert!(
                same(&m, &first, &format!("R{:04}", e * 6 + 1 + k)),
                "estate {e} split"
            );
        }
    }
    assert!(
        !same(&m, "R0001", "R0007") && !same(&m, "R0001", "R0013") && !same(&m, "R0007", "R0013")
    );
    // 翠湖苑: three problems, three groups
    assert!(same(&m, "R0019", "R0022"));
    assert!(same(&m, "R0020", "R0023"));
    assert!(same(&m, "R0021", "R0024"));
    assert!(
        !same(&m, "R0019", "R0020") && !same(&m, "R0020", "R0021") && !same(&m, "R0019", "R0021")
    );
    // repeat petitioner counts once
    assert!(same(&m, "R0021", "R0034") && same(&m, "R0021", "R0035"));
    let lift = g
        .groups
        .iter()
        .find(|x| x.members.iter().any(|m| m == "R0034"))
        .unwrap();
    assert_eq!(lift.size, 7);
    assert_eq!(lift.distinct_petitioners, 5);
    assert_eq!(g.members.iter().filter(|x| x.is_repeat).count(), 2);
    // short texts group
    assert!(same(&m, "R0036", "R0039"));
    // noise unclustered
    assert_eq!(m["R0040"], UNCLUSTERED);
    // labels unique and carry the object
    let mut labels: Vec<&str> = g.groups.iter().map(|x| x.label.as_str()).collect();
    labels.sort();
    labels.dedup();
    assert_eq!(labels.len(), g.groups.len());
    assert!(g.groups.iter().any(|x| x.label.starts_with("丽景花园")));
}

/// Two grievances at one village, every letter naming the street the village is in: the
/// street is where the letters come from, not what they are about, so it does not make the
/// village's accounts and its land compensation one case (names invented).
#[test]
fn a_village_s_two_grievances_stay_apart_despite_the_street_they_share() {
    let place = |mut r: Record| {
        r.region = [
            Some("云岭市".into()),
            Some("青川区".into()),
            Some("石门街道".into()),
        ];
        r
    };
    let accounts = [
        "石门街道石门街道东坪村多年不公开账目，石门街道东坪村村民要求查账",
        "石门街道东坪村账目不公开，石门街道的村民要求公开村务",
        "请石门街道督促东坪村公开账目，石门街道东坪村村务混乱",
        "东坪村村委会账目从不公开，石门街道石门街道不管",
    ];
    let land = [
        "石门街道东坪村征地补偿款至今没有发放，石门街道石门街道不管",
        "石门街道东坪村拆迁补偿标准太低，石门街道东坪村村民不满",
        "东坪村征地补偿款被拖欠，请石门街道督促发放补偿",
        "石门街道东坪村被征收土地的补偿款一直没有到位，石门街道",
    ];
    let mut recs = Vec::new();
    for (tag, title, texts) in [
        ("A", "东坪村账目问题", accounts),
        ("L", "东坪村补偿问题", land),
    ] {
        for (k, text) in texts.iter().enumerate() {
            let (id, who) = (format!("{tag}{k}"), format!("P{tag}{k}"));
            recs.push(place(rec(&id, k as u32, &who, title, text)));
        }
    }
    let g = cluster::run(&recs, &TOK, &Options::default(), None).unwrap();
    let m = group_of(&g);
    for k in 1..4 {
        assert!(same(&m, "A0", &format!("A{k}")), "accounts split: {m:?}");
        assert!(
            same(&m, "L0", &format!("L{k}")),
            "compensation split: {m:?}"
        );
    }
    assert!(!same(&m, "A0", "L0"), "two grievances merged: {m:?}");
}

/// One letter sent about several hospitals of one kind (a template, each writer's own hospital
/// named in it) is several cases: the fragments every …妇幼保健院 shares name the kind, not one
/// hospital, so the copies do not join across hospitals; two letters about one hospital do
/// (names invented).
#[test]
fn one_letter_about_hospitals_of_one_kind_stays_one_case_per_hospital() {
    let places = ["岚溪", "珂岭", "棠坪", "芷湾", "蔺塘"];
    let letter = |p: &str| {
        format!(
            "我母亲在{p}妇幼保健院做了一个小手术，术后感染，医院不承认是医疗事故，病历被医院改过。\
             请卫生部门调查{p}妇幼保健院，要求{p}妇幼保健院赔礼道歉。"
        )
    };
    let mut recs = Vec::new();
    for (k, p) in places.iter().enumerate() {
        let title = format!("投诉{p}妇幼保健院医生态度");
        recs.push(rec(
            &format!("H{k}"),
            k as u32,
            &format!("P{k}"),
            &title,
            &letter(p),
        ));
    }
    // a second writer about the first hospital
    let title = format!("{}妇幼保健院医疗事故", places[0]);
    recs.push(rec("H9", 9, "P9", &title, &letter(places[0])));
    let g = cluster::run(&recs, &TOK, &Options::default(), None).unwrap();
    let m = group_of(&g);
    assert!(
        same(&m, "H0", "H9"),
        "one hospital's two letters apart: {m:?}"
    );
    for a in 0..places.len() {
        for b in a + 1..places.len() {
            let (x, y) = (format!("H{a}"), format!("H{b}"));
            assert!(
                !same(&m, &x, &y),
                "{} and {} joined: {m:?}",
                places[a],
                places[b]
            );
        }
    }
}

/// Different people asking about their own situations on one broad theme with no object (each
/// about their own unemployment benefit) are no case, however rare the title phrase they share:
/// the guidelines keep broad themes apart. A writer's second letter on the matter still joins
/// the first, and letters naming one estate still join on their shared name (texts invented).
#[test]
fn a_broad_theme_without_an_object_stays_apart_across_writers() {
    let letters = [
        (
            "咨询失业金领取条件",
            "我在一家公司干了三年，上个月合同到期没有续签，想问能不能领，需要准备什么材料。",
        ),
        (
            "失业金领取问题",
            "我是灵活就业人员，自己交了五年社保，现在没有工作了，请问能领几个月，每个月多少钱。",
        ),
        (
            "关于失业金领取的求助",
            "本人离职后去窗口申请，被告知原单位没有办理减员手续，系统里查不到我的离职记录。",
        ),
        (
            "失业金领取太难",
            "我老公生病住院，我辞职照顾他，现在家里没有收入，窗口说主动辞职的不符合条件。",
        ),
        (
            "失业金领取为何要等",
            "我三月份提交的申请，到现在还显示审核中，打电话问了几次都说再等等，家里等着用钱。",
        ),
    ];
    let mut recs: Vec<Record> = letters
        .iter()
        .enumerate()
        .map(|(k, (t, c))| rec(&format!("U{k}"), 10 * k as u32, &format!("P{k}"), t, c))
        .collect();
    // the first writer again, two weeks later, on the same matter
    recs.push(rec(
        "U9",
        14,
        "P0",
        "再问失业金领取条件",
        "上次问的合同到期没有续签能不能领的事，还没有答复，材料我都准备好了。",
    ));
    // two residents of one estate naming it (a rare fragment with an object)
    recs.push(rec(
        "E1",
        3,
        "Q1",
        "岚溪雅筑地下车库渗水",
        "岚溪雅筑地下车库顶板渗水，车上全是泥水，物业说找开发商，开发商不管。",
    ));
    recs.push(rec(
        "E2",
        20,
        "Q2",
        "岚溪雅筑车库漏水没人管",
        "岚溪雅筑小区车库一下雨就漏水，墙面发霉，停在下面的车都被泡过。",
    ));
    let g = cluster::run(&recs, &TOK, &Options::default(), None).unwrap();
    let m = group_of(&g);
    for a in 0..letters.len() {
        for b in a + 1..letters.len() {
            let (x, y) = (format!("U{a}"), format!("U{b}"));
            assert!(!same(&m, &x, &y), "{x} and {y} joined: {m:?}");
        }
    }
    assert!(same(&m, "U0", "U9"), "a writer's repeat apart: {m:?}");
    assert!(same(&m, "E1", "E2"), "one estate's letters apart: {m:?}");
}

/// A label is the object and the grievance its members' titles share, in the order a title
/// says it, in dictionary words (the unit test beside `grievance_first` checks a guessed
/// fragment never leads).
#[test]
fn labels_say_object_and_grievance_in_words() {
    let titles = [
        "梧桐苑枫泾塘路灯太暗",
        "梧桐苑枫泾塘一带路灯太暗影响出行",
        "梧桐苑枫泾塘路灯太暗存在安全隐患",
        "反映梧桐苑枫泾塘路灯太暗的问题",
    ];
    let bodies = [
        "小区门口道路晚上路灯太暗，老人小孩出行不便，请尽快更换。",
        "晚上路灯太暗，行人和车辆看不清，存在安全隐患，希望提质改造。",
        "路灯只有单侧，而且瓦数低，晚上很暗，建议增加路灯。",
        "路灯太暗问题反映多次，至今没有改善，请相关部门处理。",
    ];
    let recs: Vec<Record> = titles
        .iter()
        .zip(bodies)
        .enumerate()
        .map(|(i, (t, b))| rec(&format!("L{i:04}"), i as u32 * 3, &format!("P{i}"), t, b))
        .collect();
    let g = cluster::run(&recs, &TOK, &Options::default(), None).unwrap();
    assert_eq!(g.groups.len(), 1, "{:?}", g.groups);
    let x = &g.groups[0];
    assert!(x.label.starts_with("梧桐苑 "), "{}", x.label);
    let said: Vec<&String> = x.key_terms.iter().take(2).collect();
    assert!(said.iter().any(|t| t.as_str() == "路灯"), "{said:?}");
    for t in &said {
        assert!(TOK.jieba().has_word(t), "{t} is no word ({})", x.label);
        assert!(x.label.contains(t.as_str()), "{t} not in {}", x.label);
    }
}

#[test]
fn order_independent_and_deterministic() {
    let recs = fixture();
    let a = cluster::run(&recs, &TOK, &Options::default(), None).unwrap();
    let mut shuffled = recs.clone();
    shuffled.reverse();
    shuffled.swap(3, 17);
    let b = cluster::run(&shuffled, &TOK, &Options::default(), None).unwrap();
    assert_eq!(a, b);
    let dir = tempfile::tempdir().unwrap();
    cluster::write(dir.path(), &a, &recs, false).unwrap();
    let back = cluster::read(dir.path()).unwrap();
    assert_eq!(back, a);
    for f in ["groups.csv", "groups.xlsx", "members.csv", "groups.json"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
}

/// The task forces' workbook holds groups.csv's table, cell for cell (numbers as numbers).
#[test]
fn groups_xlsx_holds_the_table_of_groups_csv() {
    let recs = fixture();
    let g = cluster::run(&recs, &TOK, &Options::default(), None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    cluster::write(dir.path(), &g, &recs, false).unwrap();
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(dir.path().join("groups.csv"))
        .unwrap();
    let csv: Vec<Vec<String>> = csv
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    use calamine::Reader;
    let mut wb = calamine::open_workbook_auto(dir.path().join("groups.xlsx")).unwrap();
    let sheet = wb.worksheet_range("同质化类案").unwrap();
    let xlsx: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    calamine::Data::Float(x) => format!("{x}"),
                    c => c.to_string(),
                })
                .collect()
        })
        .collect();
    assert_eq!(csv.len(), g.groups.len() + 1);
    assert_eq!(xlsx.len(), csv.len());
    for (x, c) in xlsx.iter().zip(&csv) {
        assert_eq!(x.len(), c.len());
        for (a, b) in x.iter().zip(c) {
            let same_number =
                matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(p), Ok(q)) if p == q);
            assert!(a == b || same_number, "{a} ≠ {b}");
        }
    }
}

#[test]
fn ids_stable_across_appended_week() {
    let recs = fixture();
    let week1: Vec<Record> = recs
        .iter()
        .filter(|r| r.received_at.format("%d").to_string().as_str() < "20")
        .cloned()
        .collect();
    let g1 = cluster::run(&week1, &TOK, &Options::default(), None).unwrap();
    let g2 = cluster::run(&recs, &TOK, &Options::default(), Some(&g1)).unwrap();
    let m1 = group_of(&g1);
    let m2 = group_of(&g2);
    for (id, gid) in &m1 {
        if gid != UNCLUSTERED {
            assert_eq!(&m2[id], gid, "{id} changed group id");
        }
    }
    // new groups get fresh ids above all old ones
    let old_max = g1.last_id;
    for g in &g2.groups {
        if !g1.groups.iter().any(|x| x.id == g.id) {
            assert!(g.id[1..].parse::<u32>().unwrap() > old_max);
        }
    }
    // a regroup of a run folder reads last run's ids from its groups.json, to the same effect
    let dir = tempfile::tempdir().unwrap();
    cluster::write(dir.path(), &g1, &week1, false).unwrap();
    let opts = Options::default();
    let again = cluster::update(
        &recs,
        &TOK,
        &opts,
        dir.path(),
        cluster::Regroup::Always,
        Default::default(),
        None,
    )
    .unwrap();
    assert_eq!(again.groups, g2);
}

#[test]
fn empty_input() {
    let g = cluster::run(&[], &TOK, &Options::default(), None).unwrap();
    assert!(g.groups.is_empty() && g.members.is_empty());
}

#[test]
fn eval_perfect_on_own_output() {
    let mut recs = fixture();
    let g = cluster::run(&recs, &TOK, &Options::default(), None).unwrap();
    let m = group_of(&g);
    for r in &mut recs {
        r.cold_mut().extra = Some(format!("{{\"truth_group\":\"{}\"}}", m[r.id.as_str()]).into());
    }
    let s = cluster::eval(&recs, &g, "truth_group").unwrap();
    assert!((s.bcubed_f1 - 1.0).abs() < 1e-9, "{s:?}");
}

fn load_tipdm() -> Option<Vec<Record>> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/realdata/tipdm2020/attachment3_hotspot_4326.csv");
    if !p.exists() {
        return None;
    }
    let mut rd = csv::Reader::from_path(&p).unwrap();
    let mut out = Vec::new();
    for (i, row) in rd.records().enumerate() {
        let row = row.unwrap();
        let t = row[3].trim();
        let at = NaiveDateTime::parse_from_str(t, "%Y/%m/%d %H:%M:%S")
            .or_else(|_| {
                NaiveDateTime::parse_from_str(&format!("{t} 00:00:00"), "%Y/%m/%d %H:%M:%S")
            })
            .unwrap_or_default();
        let mut r = rec(
            &row[0],
            0,
            &row[1],
            row[2].trim(),
            &row[4].split_whitespace().collect::<Vec<_>>().join(" "),
        );
        r.received_at = at;
        r.responsible_unit = None;
        r.likes = row[6].trim().parse().ok();
        r.cold_mut().source = format!("attachment3:{}", i + 2).into();
        out.push(r);
    }
    Some(out)
}

#[test]
fn tipdm_real_top_groups() {
    let Some(recs) = load_tipdm() else { return };
    let t0 = std::time::Instant::now();
    let g = cluster::run(&recs, &TOK, &Options::default(), None).unwrap();
    let el = t0.elapsed();
    let unc = g
        .members
        .iter()
        .filter(|m| m.group_id == UNCLUSTERED)
        .count();
    eprintln!(
        "{} records, {} groups, {} unclustered, {:?}",
        recs.len(),
        g.groups.len(),
        unc,
        el
    );
    let mut by_size = g.groups.clone();
    by_size.sort_by(|a, b| b.size.cmp(&a.size).then(a.id.cmp(&b.id)));
    for x in by_size.iter().take(25) {
        eprintln!(
            "SIZE {:>4} people {:>4} heat {:>6.2} | {} | {:?}",
            x.size, x.distinct_petitioners, x.heat, x.label, x.key_terms
        );
    }
    for x in g
        .groups
        .iter()
        .filter(|x| x.label.contains("人才") || x.label.contains("补贴"))
    {
        eprintln!(
            "TALENT {:>4} people {:>4} | {} | {:?}",
            x.size, x.distinct_petitioners, x.label, x.key_terms
        );
    }
    for x in g.groups.iter().take(15) {
        eprintln!(
            "HEAT {:>4} people {:>4} heat {:>6.2} | {}",
            x.size, x.distinct_petitioners, x.heat, x.label
        );
    }
}

/// Scaling check: `MINQING_SCALE=N cargo test --release --test it cluster::scale -- --ignored --nocapture`
/// replicates attachment3 N times (distinct ids and petitioners) and times the stage.
#[test]
#[ignore]
fn scale() {
    let Some(base) = load_tipdm() else { return };
    let n: usize = std::env::var("MINQING_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let mut recs = Vec::with_capacity(base.len() * n);
    for k in 0..n {
        for r in &base {
            let mut r = r.clone();
            r.id = format!("{k:03}-{}", r.id).into();
            r.petitioner = r.petitioner.map(|p| format!("{k}-{p}").into());
            recs.push(r);
        }
    }
    let t0 = std::time::Instant::now();
    let g = cluster::run(&recs, &TOK, &Options::default(), None).unwrap();
    eprintln!(
        "{} records → {} groups in {:?}",
        recs.len(),
        g.groups.len(),
        t0.elapsed()
    );
}

#[test]
fn cli_cluster_groups_group_eval() {
    let dir = tempfile::tempdir().unwrap();
    let mut recs = fixture();
    for r in &mut recs {
        let n: u32 = r.id[1..].parse().unwrap();
        r.cold_mut().extra = Some(format!("{{\"truth_group\":\"t{}\"}}", (n - 1) / 6).into());
    }
    minqing::store::write(dir.path(), &mut recs).unwrap();
    let bin = env!("CARGO_BIN_EXE_minqing");
    let out = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let o = std::process::Command::new(bin).args(args).output().unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    run(&["cluster", "--out", out]);
    let table = run(&["groups", "--out", out, "--sort", "size", "--min-size", "5"]);
    assert!(table.contains("丽景花园"), "{table}");
    let csv = run(&["groups", "--out", out, "--format", "csv"]);
    assert!(csv.starts_with("group_id,label"));
    let g = run(&["group", "G0001", "--out", out]);
    assert!(g.contains("建议牵头单位: 住建局"), "{g}");
    let e = run(&["eval", "--out", out, "--truth", "truth_group"]);
    assert!(e.contains("bcubed_f1"), "{e}");
    // another tool's grouping, scored the same way: our own members.csv scores identically
    let members = format!("{out}/groups/members.csv");
    let m = run(&[
        "eval",
        "--out",
        out,
        "--truth",
        "truth_group",
        "--members",
        &members,
    ]);
    assert_eq!(e, m);
    // second run keeps ids
    run(&["cluster", "--out", out]);
    assert_eq!(
        run(&["groups", "--out", out, "--format", "json"]),
        run(&["groups", "--out", out, "--format", "json"])
    );
}

/// Grouping quality on the generator's ground truth, over several seeds, through the real CLI
/// (sample → ingest → cluster → eval). A guard against regressions. The truth scores every
/// petition (singletons too) and has the real failure modes (several cases at one object,
/// prolific posters, repeats, variant names, broad questions without an object), so today's
/// grouping scores low on it: on these 4,000-row seeds 11/12/13, B-cubed F1 0.908/0.910/0.921
/// (mean 0.913) and group F1 0.593/0.596/0.591 (mean 0.594); before rare title fragments
/// needed an object, 0.899/0.900/0.903 and 0.586/0.566/0.568. The floors sit just below
/// today's; raise them as the grouping improves.
#[test]
fn generated_truth_scores_over_seeds() {
    use crate::common::{run, stderr, stdout};
    let dir = tempfile::tempdir().unwrap();
    let (mut f1s, mut group_f1s) = (Vec::new(), Vec::new());
    for seed in ["11", "12", "13"] {
        let csv = dir.path().join(format!("s{seed}.csv"));
        let out = dir.path().join(format!("o{seed}"));
        let (csv_s, out_s) = (csv.to_str().unwrap(), out.to_str().unwrap());
        let o = run(&[
            "-q", "sample", "--rows", "4000", "--seed", seed, "--out", csv_s,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = run(&["-q", "ingest", "--input", csv_s, "--out", out_s]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = run(&["-q", "cluster", "--out", out_s]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = run(&["eval", "--out", out_s, "--truth", "truth_group"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let figure = |name: &str| -> f64 {
            stdout(&o)
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix('\t'))
                .and_then(|v| v.split('\t').next()?.trim().parse().ok())
                .unwrap_or_else(|| panic!("{name} line"))
        };
        f1s.push(figure("bcubed_f1"));
        group_f1s.push(figure("group_f1"));
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        f1s.iter().all(|f| *f >= 0.90) && mean(&f1s) >= 0.905,
        "B-cubed F1 per seed {f1s:?}, mean {:.3}",
        mean(&f1s)
    );
    assert!(
        group_f1s.iter().all(|f| *f >= 0.58) && mean(&group_f1s) >= 0.585,
        "group F1 per seed {group_f1s:?}, mean {:.3}",
        mean(&group_f1s)
    );
}

// ---- incremental grouping (`cluster::update` onto `groups/state.bin`)

/// The fixture's first weeks (estates and noise) and the whole fixture.
fn weeks() -> (Vec<Record>, Vec<Record>) {
    // (the fixture's second half is larger than its first: `grow()` lets it be added)
    let recs = fixture();
    let week1 = recs
        .iter()
        .filter(|r| r.received_at.format("%d").to_string().as_str() < "20")
        .cloned()
        .collect();
    (week1, recs)
}

/// Default options, but a second week may be as large as the first (the fixture's is).
fn grow() -> Options {
    Options {
        regroup_after: 1.0,
        ..Default::default()
    }
}

/// Groups `recs` into `dir` the way `minqing run` does, keeping the state for the next run.
fn update_in(dir: &std::path::Path, recs: &[Record], opts: &Options) -> cluster::Grouped {
    let g = cluster::update(
        recs,
        &TOK,
        opts,
        dir,
        cluster::Regroup::IfDue,
        Default::default(),
        None,
    )
    .unwrap();
    cluster::write(dir, &g.groups, recs, false).unwrap();
    // (a full grouping wrote its state into `dir` itself, before its tables)
    if let Some(state) = &g.state {
        state.write(dir).unwrap();
    }
    g
}

/// Which of `ids` share a group (unclustered ones share nothing).
fn pairs_among(g: &Groups, ids: &[String]) -> Vec<(String, String)> {
    let m = group_of(g);
    let mut out = Vec::new();
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            if same(&m, a, b) {
                out.push((a.clone(), b.clone()));
            }
        }
    }
    out
}

/// A second week is grouped onto the first: earlier petitions keep their groups, ids and
/// similarities, and the new petitions fall into the same groups among themselves as a full
/// grouping of everything puts them (three problems at one new estate apart, the repeat
/// petitioner's follow-ups with his group).
#[test]
fn a_new_week_is_grouped_onto_the_last_grouping() {
    let (week1, all) = weeks();
    let dir = tempfile::tempdir().unwrap();
    let g1 = update_in(dir.path(), &week1, &Options::default());
    assert!(
        matches!(&g1.mode, cluster::Mode::Full(why) if why.contains("no earlier grouping")),
        "{:?}",
        g1.mode
    );
    let g2 = update_in(dir.path(), &all, &grow());
    let new = all.len() - week1.len();
    assert_eq!(g2.mode, cluster::Mode::Incremental { new });
    assert_eq!(g2.groups.members.len(), all.len());
    let before: BTreeMap<&str, &cluster::Member> = g1
        .groups
        .members
        .iter()
        .map(|m| (m.id.as_str(), m))
        .collect();
    let after = group_of(&g2.groups);
    let is_new = |id: &str| !before.contains_key(id);
    for m in &g2.groups.members {
        let Some(b) = before.get(m.id.as_str()) else {
            continue;
        };
        if b.group_id == UNCLUSTERED && m.group_id != UNCLUSTERED {
            // an earlier lone petition joins a case only beside a new petition that links it
            // (the repeat petitioner's follow-ups)
            assert!(
                after.iter().any(|(id, g)| is_new(id) && *g == m.group_id),
                "{} joined {} without a new petition",
                m.id,
                m.group_id
            );
            continue;
        }
        assert_eq!(
            (&m.group_id, m.similarity),
            (&b.group_id, b.similarity),
            "{}",
            m.id
        );
    }
    let new_ids: Vec<String> = all
        .iter()
        .filter(|r| !before.contains_key(r.id.as_str()))
        .map(|r| r.id.to_string())
        .collect();
    let full = cluster::run(&all, &TOK, &Options::default(), None).unwrap();
    let incremental_pairs = pairs_among(&g2.groups, &new_ids);
    assert!(!incremental_pairs.is_empty());
    assert_eq!(incremental_pairs, pairs_among(&full, &new_ids));
    // new groups are numbered after every earlier id, and figures cover every member
    for g in &g2.groups.groups {
        if !g1.groups.groups.iter().any(|x| x.id == g.id) {
            assert!(
                g.id[1..].parse::<u32>().unwrap() > g1.groups.last_id,
                "{}",
                g.id
            );
        }
        assert_eq!(g.size, g.members.len());
    }
    // the repeat petitioner's follow-up in his group is a repeat, his first petition is not
    let t0: Vec<&cluster::Member> = g2
        .groups
        .members
        .iter()
        .filter(|x| {
            x.group_id != UNCLUSTERED
                && all
                    .iter()
                    .any(|r| r.id == x.id && r.petitioner.as_deref() == Some("T0"))
        })
        .collect();
    assert!(t0.len() >= 2, "{t0:?}");
    assert!(
        !t0[0].is_repeat && t0[1..].iter().all(|x| x.is_repeat),
        "{t0:?}"
    );
}

/// A run that brings nothing new reproduces the full grouping exactly, and the same week in
/// any row order gives byte-identical groups and state.
#[test]
fn incremental_runs_are_deterministic() {
    let (week1, all) = weeks();
    let a = tempfile::tempdir().unwrap();
    let full = update_in(a.path(), &all, &Options::default());
    let state = std::fs::read(a.path().join(cluster::STATE_FILE)).unwrap();
    let again = update_in(a.path(), &all, &Options::default());
    assert_eq!(again.mode, cluster::Mode::Incremental { new: 0 });
    assert_eq!(again.groups, full.groups);
    assert!(state == std::fs::read(a.path().join(cluster::STATE_FILE)).unwrap());

    let (c, d) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    update_in(c.path(), &week1, &Options::default());
    update_in(d.path(), &week1, &Options::default());
    let mut shuffled = all.clone();
    shuffled.reverse();
    shuffled.swap(0, 7);
    update_in(c.path(), &all, &grow());
    let g = update_in(d.path(), &shuffled, &grow());
    assert!(matches!(g.mode, cluster::Mode::Incremental { .. }));
    for f in [
        "groups.json",
        "members.csv",
        "groups.csv",
        cluster::STATE_FILE,
    ] {
        let x = std::fs::read(c.path().join(f)).unwrap();
        assert!(x == std::fs::read(d.path().join(f)).unwrap(), "{f} differs");
    }
}

/// Whatever cannot be grouped incrementally is regrouped in full, and says why: a changed
/// text, changed settings, too much growth, a damaged or foreign state file.
#[test]
fn full_regroup_when_the_state_cannot_be_used() {
    let (week1, all) = weeks();
    let why = |recs: &[Record], opts: &Options, damage: &dyn Fn(&std::path::Path)| {
        let dir = tempfile::tempdir().unwrap();
        update_in(dir.path(), &week1, &Options::default());
        damage(dir.path());
        match update_in(dir.path(), recs, opts).mode {
            cluster::Mode::Full(why) => why,
            m => panic!("{m:?}"),
        }
    };
    let none = |_: &std::path::Path| {};
    let mut edited = all.clone();
    edited[0].content = format!("{}补充：问题仍未解决。", edited[0].content).into();
    let w = why(&edited, &grow(), &none);
    assert!(
        w.contains(edited[0].id.as_str()) && w.contains("changed"),
        "{w}"
    );
    let w = why(
        &all,
        &Options {
            anchored_threshold: Options::default().anchored_threshold + 0.1,
            ..grow()
        },
        &none,
    );
    assert!(w.contains("settings"), "{w}");
    let w = why(
        &all,
        &Options {
            regroup_after: 0.1,
            ..Default::default()
        },
        &none,
    );
    assert!(w.contains("regroup_after"), "{w}");
    let w = why(&week1[1..], &grow(), &none);
    assert!(w.contains("no longer in the store"), "{w}");
    let state = |d: &std::path::Path| d.join(cluster::STATE_FILE);
    let w = why(&all, &grow(), &|d| {
        std::fs::write(state(d), b"not a state").unwrap()
    });
    assert!(w.contains("state"), "{w}");
    let w = why(&all, &grow(), &|d| {
        let b = std::fs::read(state(d)).unwrap();
        std::fs::write(state(d), &b[..b.len() / 2]).unwrap();
    });
    assert!(w.contains("truncated"), "{w}");
    // a forced regroup
    let dir = tempfile::tempdir().unwrap();
    update_in(dir.path(), &week1, &Options::default());
    let g = cluster::update(
        &all,
        &TOK,
        &grow(),
        dir.path(),
        cluster::Regroup::Always,
        Default::default(),
        None,
    )
    .unwrap();
    assert!(matches!(g.mode, cluster::Mode::Full(_)));
    // it keeps the earlier ids; a fresh start (`--fresh`) numbers from G0001
    let week1_ids = update_in(tempfile::tempdir().unwrap().path(), &week1, &grow()).groups;
    let fresh = cluster::update(
        &all,
        &TOK,
        &grow(),
        dir.path(),
        cluster::Regroup::FromScratch,
        Default::default(),
        None,
    )
    .unwrap();
    assert!(matches!(&fresh.mode, cluster::Mode::Full(w) if w.contains("--fresh")));
    assert_eq!(fresh.groups.last_id as usize, fresh.groups.groups.len());
    assert_eq!(
        fresh.groups,
        cluster::run(&all, &TOK, &grow(), None).unwrap()
    );
    assert!(g.groups.last_id >= week1_ids.last_id);
}

/// Every cut of a state file is refused cleanly: no panic, no huge allocation, a full regroup.
#[test]
fn every_truncated_state_is_refused() {
    let (week1, _) = weeks();
    let dir = tempfile::tempdir().unwrap();
    update_in(dir.path(), &week1, &Options::default());
    let p = dir.path().join(cluster::STATE_FILE);
    let bytes = std::fs::read(&p).unwrap();
    for cut in (0..bytes.len()).step_by(7) {
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let g = cluster::update(
            &week1,
            &TOK,
            &Options::default(),
            dir.path(),
            cluster::Regroup::IfDue,
            Default::default(),
            None,
        )
        .unwrap();
        assert!(matches!(g.mode, cluster::Mode::Full(_)), "cut at {cut}");
    }
}

/// The grouping on real messages, scored against the hand-labelled dev key of
/// `../shared/realdata/tipdm2020/dev_groups/` (two annotators, adjudicated, following its
/// GUIDELINES.md) through the real CLI: `minqing run` on the whole message table, then
/// `minqing eval --key`. The only test that reads the key; it skips when `../shared` is absent.
/// Measured at this commit: group F1 0.921 (precision 0.981, recall 0.868), B-cubed over grouped
/// petitions 0.925; the floors sit just below, so a change that loses real cases or makes
/// false ones fails here.
#[test]
fn dev_key_scores_on_real_messages() {
    use crate::common::{realdata, run, run_pipeline, stderr, stdout};
    let (Some(input), Some(key)) = (
        realdata("tipdm2020/attachment3_hotspot_4326.csv"),
        realdata("tipdm2020/dev_groups/labels.csv"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = run_pipeline(&input, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        "eval",
        "--out",
        out.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let figure = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}\t")))
            .and_then(|v| v.split('\t').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    };
    let (f1, p, r, b3) = (
        figure("group_f1"),
        figure("group_precision"),
        figure("group_recall"),
        figure("bcubed_grouped_f1"),
    );
    assert!(
        f1 >= 0.91 && p >= 0.97 && r >= 0.85 && b3 >= 0.915,
        "dev key: group F1 {f1:.3} (P {p:.3} / R {r:.3}), B-cubed grouped {b3:.3}\n{text}"
    );
}
