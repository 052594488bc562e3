//! Tests of the grouping steps (the integration tests drive the CLI).

use crate::fxhash::FastSet;
use crate::schema::Record;
use crate::tokenize::Tokenizer;

use super::fold::{core_of, is_generic_name, link_anchors, name_map, Named};
use super::leader::{leader, LEADER_BLOCK_FROM};
use super::objects::{
    anchors_in, clean_anchor, kind_only, normalise_anchor, split_suffix, verb_and_object,
};
use super::vectors::{Doc, SYNONYMS};
use super::{run, Options, UNCLUSTERED};

#[test]
fn block_leader_is_independent_of_cores() {
    // enough petitions without an anchor for the block-parallel path
    let mut x: u64 = 7;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as u32
    };
    let docs: Vec<Doc> = (0..LEADER_BLOCK_FROM + 500)
        .map(|_| {
            let topic = next() % 40;
            let mut vec: Vec<(u32, f32)> = (0..4)
                .map(|j| (topic * 10 + j, 1.0))
                .chain((0..3).map(|_| (1000 + next() % 5000, 0.5)))
                .collect();
            vec.sort_unstable_by_key(|v| v.0);
            vec.dedup_by_key(|v| v.0);
            let n = vec.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
            vec.iter_mut().for_each(|v| v.1 /= n);
            let top = vec.iter().take(6).map(|v| v.0).collect();
            Doc {
                key: None,
                vec: vec.into(),
                top,
            }
        })
        .collect();
    let run = |threads: usize| -> (Vec<(usize, Vec<u32>)>, Vec<u32>) {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let (cents, hints) = pool.install(|| leader(&docs, &Options::default()));
        let cents = cents.iter().map(|c| (c.size, c.top_terms(4))).collect();
        (cents, hints)
    };
    let (one, hints) = run(1);
    assert_eq!((one.clone(), hints.clone()), run(3));
    // each petition's hint is the cluster it went to, and the clusters' sizes count them
    let mut counted = vec![0usize; one.len()];
    for &h in &hints {
        counted[h as usize] += 1;
    }
    assert_eq!(counted, one.iter().map(|c| c.0).collect::<Vec<_>>());
    // the 40 topics come out as groups, not as thousands of singletons
    assert!(
        one.iter().filter(|c| c.0 >= 100).count() >= 30,
        "{}",
        one.len()
    );
}

#[test]
fn anchors_survive_jieba_cuts() {
    let tok = Tokenizer::new(&Default::default()).unwrap();
    let none = FastSet::default();
    let found = |text: &str| -> Vec<String> {
        anchors_in(&tok.tag(text), &[], &none, &tok)
            .into_iter()
            .map(|(a, _)| a)
            .collect()
    };
    // 金 / 域名 / 都: the suffix 名都 is cut across two words
    assert_eq!(found("金域名都B区电梯坏了没人修"), vec!["金域名都"]);
    // 秀峰 / 村 (tagged zg)
    assert!(found("我们是秀峰村的村民").contains(&"秀峰村".to_string()));
    // a bureau is no village
    assert!(found("转到了东岸区农业农村局").is_empty());
    // a named policy programme is an object; the bare kind is not
    assert!(found("我申请的人才购房补贴一直没有发放")
        .iter()
        .any(|a| a.ends_with("购房补贴")));
    assert!(found("补贴什么时候发").is_empty());
    assert!(found("A市公交线路太少").is_empty());
    assert!(found("保利香槟国际二期交房")
        .iter()
        .any(|x| x.contains("香槟国际")));
    assert_eq!(found("中山路晚上施工太吵"), vec!["中山路"]);
    // a name with 之 inside, after its road: the road is the address, 之 part of the name
    assert_eq!(found("星河之城小区油烟扰民"), vec!["星河之城小区"]);
    let after_road = found("A5区桂湖东路星河之城小区底层餐馆油烟扰民");
    assert!(
        after_road.contains(&"星河之城小区".to_string()),
        "{after_road:?}"
    );
    assert!(
        !after_road.iter().any(|a| a.contains("路星河")),
        "{after_road:?}"
    );
    assert_eq!(found("A3区绿洲之窗小区楼下噪音"), vec!["绿洲之窗小区"]);
    let both = found("桂湖路金桂苑小区停水");
    assert!(both.contains(&"金桂苑小区".to_string()), "{both:?}");
    assert!(!both.iter().any(|a| a.contains("路金桂")), "{both:?}");
    // an estate named after its road alone keeps it
    assert_eq!(found("中山路小区停水"), vec!["中山路小区"]);
    // names jieba does not know, cut into single characters or made up whole: a shop's trade
    // name, a village; counts (好几个小区), locatives (楼下广场) and people (村民) are no part
    // of a name
    assert_eq!(found("请处理汇卓超市退货问题"), vec!["汇卓超市"]);
    assert_eq!(found("通旺装修公司欺骗消费者"), vec!["通旺装修公司"]);
    assert_eq!(found("荣隆大排档噪音扰民"), vec!["荣隆大排档"]);
    // health and care homes; 妇幼保健 / 院 cut before the suffix's last character
    assert_eq!(found("要求青禾妇幼保健院赔礼道歉"), vec!["青禾妇幼保健院"]);
    assert_eq!(found("红星养老院伙食太差"), vec!["红星养老院"]);
    assert!(found("去了妇幼保健院").is_empty());
    assert_eq!(found("梅溪街道冲竹村土地纠纷"), vec!["冲竹村"]);
    assert!(found("路两边新建了好几个小区").is_empty());
    assert!(found("每天晚上楼下广场跳舞").is_empty());
    assert!(found("到超市买的东西坏了").is_empty());
    assert!(found("公共场所禁止吸烟").is_empty());
    assert_eq!(split_suffix("域名", "都是"), Some("名都"));
    assert_eq!(split_suffix("域名", "是"), None);
}

#[test]
fn synonyms_name_one_thing() {
    assert_eq!(SYNONYMS.get("房本"), Some(&"房产证"));
    assert_eq!(SYNONYMS.get("物管费"), Some(&"物业费"));
    assert_eq!(SYNONYMS.get("房产证"), None); // the head word stays itself
}

#[test]
fn cores_and_kinds() {
    assert_eq!(core_of("恒通英语培训中心", &[]).as_deref(), Some("恒通"));
    assert_eq!(core_of("金湾村", &[]).as_deref(), Some("金湾"));
    assert_eq!(core_of("博远生猪养殖场", &[]).as_deref(), Some("博远"));
    assert!(is_generic_name("英语培训中心", &[]));
    assert!(is_generic_name("建筑工程有限公司", &[]));
    assert!(!is_generic_name("5路", &[]));
    assert!(kind_only("职业技术学院"));
    // an office of a town is one with its place, none without
    assert!(kind_only("社保所"));
    assert!(!kind_only("三眼社保所"));
    assert!(!kind_only("鹅塘职业技术学院"));
    let none = FastSet::default();
    assert_eq!(
        clean_anchor("A市职业技术学院", &none).as_deref(),
        Some("A市职业技术学院")
    );
    assert_eq!(clean_anchor("5路", &none).as_deref(), Some("5路"));
}

/// The names table of petitions choosing `chosen` and mentioning `mentions` (none where
/// `mentions` is shorter).
fn named(chosen: &[Option<&str>], mentions: &[&[&str]]) -> Named {
    let mut n = Named::default();
    for (i, c) in chosen.iter().enumerate() {
        let m: Vec<String> = mentions
            .get(i)
            .map_or(Vec::new(), |m| m.iter().map(|x| x.to_string()).collect());
        n.push(*c, &m);
    }
    n
}

#[test]
fn linking_is_one_hop_and_needs_company() {
    // 宏达 is named with 北辰家园 in 3 of its 4 petitions; 北辰家园 is named more often
    let chosen = [
        "北辰家园",
        "北辰家园",
        "北辰家园",
        "北辰家园",
        "北辰家园",
        "宏达公司",
        "宏达公司",
        "宏达公司",
        "宏达公司",
        "海棠小区",
    ]
    .map(Some);
    let mentions: [&[&str]; 10] = [
        &["北辰家园"],
        &["北辰家园"],
        &["北辰家园"],
        &["北辰家园"],
        &["北辰家园"],
        &["宏达公司", "北辰家园"],
        &["宏达公司", "北辰家园"],
        &["宏达公司", "北辰家园"],
        &["宏达公司"],
        &["海棠小区", "宏达公司"],
    ];
    let n = named(&chosen, &mentions);
    // every name counts as itself
    let to: Vec<Option<u32>> = (0..n.names.len() as u32).map(Some).collect();
    let linked = link_anchors(&n.chosen, &n, &to).0;
    let text = |i: usize| linked[i].map(|c| n.text(c));
    assert_eq!(text(6), Some("北辰家园"));
    // 海棠小区 is named with 宏达 once only: it stays itself
    assert_eq!(text(9), Some("海棠小区"));
}

#[test]
fn anchor_normalisation() {
    assert_eq!(normalise_anchor("丽景花园小区二期"), "丽景花园");
    // what each chosen name folds onto
    let folds = |chosen: &[Option<&str>]| {
        let n = named(chosen, &[]);
        let m = name_map(&n.uses(), &n.names, &[]);
        move |name: &str| n.text(m[n.names.index[name] as usize]).to_string()
    };
    let m = folds(&[Some("丽景花园"), Some("丽景花园东区"), None]);
    assert_eq!(m("丽景花园东区"), "丽景花园");
    // generic references fold onto the dominant estate of that name; organisations of one
    // trade fold together, other trades of the same name do not
    let m = folds(
        &[
            "花语苑",
            "花语苑",
            "花语苑",
            "花语苑",
            "花语苑",
            "花语小区",
            "恒通教育",
            "恒通教育",
            "恒通培训",
            "嘉禾物业",
            "嘉禾物业",
            "嘉禾物流有限公司",
        ]
        .map(Some),
    );
    assert_eq!(m("花语小区"), "花语苑");
    assert_eq!(m("恒通培训"), "恒通教育");
    assert_eq!(m("嘉禾物流有限公司"), "嘉禾物流有限公司");
    let none = FastSet::default();
    // a kind of school keeps its city: A市经济学院 is one college, 经济学院 none
    assert_eq!(
        clean_anchor("A市经济学院", &none).as_deref(),
        Some("A市经济学院")
    );
    assert_eq!(
        clean_anchor("A市鹅塘学院", &none).as_deref(),
        Some("鹅塘学院")
    );
    assert_eq!(
        clean_anchor("A3区丽发新城", &none).as_deref(),
        Some("丽发新城")
    );
    assert_eq!(clean_anchor("小区", &none), None);
    // a word saying where a thing is, is not part of its name
    assert_eq!(clean_anchor("位于鹅塘路", &none).as_deref(), Some("鹅塘路"));
    assert_eq!(clean_anchor("靠近小区", &none), None);
    // a region and a bare weak kind word is an office's name cut short (A市教育局)
    assert_eq!(clean_anchor("A市教育", &none), None);
    assert!(clean_anchor("A市A1区苑物业", &none).is_some());
    // a verb and its object is no name's end
    assert!(verb_and_object("修路") && verb_and_object("进村"));
    assert!(!verb_and_object("马路") && !verb_and_object("上村") && !verb_and_object("修路队"));
    let regions: FastSet<String> = ["江城市", "江城"].map(String::from).into_iter().collect();
    assert_eq!(
        clean_anchor("江城鹅塘职业技术学院", &regions).as_deref(),
        Some("鹅塘职业技术学院")
    );
    assert_eq!(clean_anchor("投资人江城", &regions), None);
    let regions: FastSet<String> = ["凤城区", "凤城"].map(String::from).into_iter().collect();
    assert_eq!(
        clean_anchor("凤城区人民医院", &regions).as_deref(),
        Some("凤城区人民医院")
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    /// Group members partition the store: every petition is listed once, in a group or as
    /// unclustered, every group's size is its member count, and neither the input order nor
    /// where the vectors are kept (the heap, a run's text file) changes the grouping.
    #[test]
    fn members_partition_the_store(
        picks in proptest::collection::vec((0usize..6, 0usize..5, 0usize..4), 1..40),
        rotate in 0usize..40,
    ) {
        use std::sync::LazyLock;
        static TOK: LazyLock<Tokenizer> =
            LazyLock::new(|| Tokenizer::new(&Default::default()).unwrap());
        let objects = ["丽景花园", "海棠小区", "宏达建筑公司", "中山路", "人才购房补贴", ""];
        let problems = ["房产证办不下来", "物业费乱收", "拖欠农民工工资", "晚上施工噪音扰民", "停水三天"];
        let records: Vec<Record> = picks
            .iter()
            .enumerate()
            .map(|(i, &(o, p, who))| {
                let mut r = crate::store::tests::rec(&format!("R{i:03}"));
                r.title = format!("{}{}", objects[o], problems[p]).into();
                r.content = format!("反映{}的问题：{}，请尽快处理", objects[o], problems[p]).into();
                r.petitioner = Some(format!("P{who}").into());
                r
            })
            .collect();
        let g = run(&records, &TOK, &Options::default(), None).unwrap();
        let mut ids: Vec<&str> = g.members.iter().map(|m| m.id.as_str()).collect();
        ids.dedup();
        proptest::prop_assert_eq!(ids.len(), records.len());
        proptest::prop_assert_eq!(g.members.len(), records.len());
        for grp in &g.groups {
            let n = g.members.iter().filter(|m| m.group_id == grp.id).count();
            proptest::prop_assert_eq!(n, grp.size);
        }
        let grouped: usize = g.groups.iter().map(|x| x.size).sum();
        let unclustered = g.members.iter().filter(|m| m.group_id == UNCLUSTERED).count();
        proptest::prop_assert_eq!(grouped + unclustered, records.len());
        // the vectors kept in a run's text file (and read back after a trim) group the same
        let dir = tempfile::tempdir().unwrap();
        let file = crate::textfile::TextFile::create_in(dir.path()).unwrap();
        // and the state written straight from the grouping's tables is the state made whole
        // and then written, byte for byte
        let written = dir.path().join("written");
        let (in_file, none) = file.keep_trimmed(|| {
            super::run_full(&records, &TOK, &Options::default(), None, Default::default(), Some(&file), Some(&written))
        }).unwrap();
        proptest::prop_assert!(none.is_none());
        proptest::prop_assert!(!file.is_empty(), "the word lists went to the file");
        file.trim();
        proptest::prop_assert_eq!(&in_file, &g);
        let (_, made) =
            super::run_full(&records, &TOK, &Options::default(), None, Default::default(), None, None).unwrap();
        let made_dir = dir.path().join("made");
        std::fs::create_dir_all(&made_dir).unwrap();
        made.unwrap().write(&made_dir).unwrap();
        let bytes = |d: &std::path::Path| std::fs::read(d.join(super::STATE_FILE)).unwrap();
        proptest::prop_assert!(bytes(&written) == bytes(&made_dir), "the two states differ");
        let mut shuffled = records.clone();
        let k = rotate % shuffled.len();
        shuffled.rotate_left(k);
        let again = run(&shuffled, &TOK, &Options::default(), None).unwrap();
        proptest::prop_assert_eq!(
            serde_json::to_string(&again).unwrap(),
            serde_json::to_string(&g).unwrap()
        );
    }
}

#[test]
fn labels_join_only_terms_the_members_write_together() {
    let d = chrono::NaiveDate::from_ymd_opt(2019, 1, 7)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let group = |id: &str, terms: &[&str]| super::Group {
        id: id.into(),
        label: String::new(),
        anchor: Some("丽发新城".into()),
        key_terms: terms.iter().map(|t| t.to_string()).collect(),
        size: 2,
        distinct_petitioners: 2,
        total_headcount: 2,
        first_seen: d,
        last_seen: d,
        weeks_active: 1,
        trend: super::Trend::Steady,
        regions: vec![],
        units: vec![],
        open: 2,
        closed: 0,
        heat: 1.0,
        batch_score: 0.0,
        batch_reasons: vec![],
        representative: String::new(),
        members: vec![],
        weekly: vec![],
    };
    let mut groups = vec![
        group("G0001", &["搅拌站", "噪音", "粉尘"]),
        group("G0002", &["三角洲", "公立", "收费"]),
        // the same first terms as G0001: one more term makes it unique, joined the same way
        group("G0003", &["搅拌站", "噪音", "夜间"]),
    ];
    let joins = vec![vec![true, true], vec![false, false], vec![true, false]];
    super::labels::make_labels(&mut groups, &joins, 2);
    let labels: Vec<&str> = groups.iter().map(|g| g.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "丽发新城 搅拌站噪音",
            "丽发新城 三角洲 公立",
            "丽发新城 搅拌站噪音 夜间"
        ]
    );
}
