//! Personal data never reaches anything meant for a meeting room — the brief, the charts, the
//! group exports and the group commands — unless `--show-personal-data` is given.

use std::path::Path;

use calamine::Reader;

use crate::common::{run, stderr, stdout};

/// Personal data as petitioners write it, in titles and contents.
const PII: &[(&str, &str)] = &[
    ("我叫张三丰，电话13812345678", "13812345678"),
    (
        "本人李四海，身份证号110101199003077777",
        "110101199003077777",
    ),
    ("联系人：王五，座机0731-88889999", "88889999"),
    ("邮箱 zhangsan@example.com", "zhangsan@example.com"),
    ("银行卡6222021234567890123", "6222021234567890123"),
    ("手机+86 139 1234 5678", "139 1234 5678"),
    ("手机 139-1234-5678", "139-1234-5678"),
    ("15位身份证110101900307777", "110101900307777"),
];
const NAMES: &[&str] = &["张三丰", "李四海", "王五"];

fn fixture(dir: &Path) -> std::path::PathBuf {
    let mut csv = String::from("信访件编号,登记日期,信访形式,标题,诉求内容,所属地区,信访人,人数,问题分类,责任单位,办理状态\n");
    for i in 0..48 {
        let (p, _) = PII[i % PII.len()];
        let title = if i % 3 == 0 {
            format!("海棠小区房产证办不下来 {p}")
        } else {
            "海棠小区房产证办不下来".to_string()
        };
        csv.push_str(&format!(
            "P{i:03},2019-08-{:02} 10:00:00,来信,{title},海棠小区二期房产证至今没办，{p}。请尽快解决海棠小区的房产证问题。,江城市/凤城区/茶园街道,P{:03},1,城乡建设,凤城区住建局,办理中\n",
            i % 14 + 1,
            i % 6
        ));
    }
    let path = dir.join("pii.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

fn leaks(text: &str) -> Vec<&'static str> {
    PII.iter()
        .map(|(_, v)| *v)
        .chain(NAMES.iter().copied())
        .filter(|v| text.contains(v))
        .collect()
}

fn xlsx_text(p: &Path) -> String {
    let mut wb = calamine::open_workbook_auto(p).unwrap();
    let mut out = String::new();
    for name in wb.sheet_names() {
        if let Ok(range) = wb.worksheet_range(&name) {
            for row in range.rows() {
                for c in row {
                    out.push_str(&c.to_string());
                    out.push('\t');
                }
            }
        }
    }
    out
}

#[test]
fn personal_data_stays_out_of_meeting_room_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture(dir.path());
    let out = dir.path().join("out");
    let (i, o) = (input.to_str().unwrap(), out.to_str().unwrap());
    let r = run(&["-q", "run", "--input", i, "--out", o]);
    assert!(r.status.success(), "{}", stderr(&r));

    let mut files = vec![
        out.join("brief.html"),
        out.join("brief.md"),
        out.join("groups/groups.csv"),
        out.join("groups/groups.json"),
        out.join("groups/members.csv"),
    ];
    for e in std::fs::read_dir(out.join("charts")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "svg") {
            files.push(e.path());
        }
    }
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            leaks(&text).is_empty(),
            "{}: {:?}",
            f.display(),
            leaks(&text)
        );
    }
    let x = xlsx_text(&out.join("groups/groups.xlsx"));
    assert!(leaks(&x).is_empty(), "groups.xlsx: {:?}", leaks(&x));

    let groups = stdout(&run(&["groups", "--out", o]));
    assert!(leaks(&groups).is_empty(), "groups: {:?}", leaks(&groups));
    let gid = groups
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("one group")
        .to_string();
    let one = stdout(&run(&["group", &gid, "--out", o]));
    assert!(one.contains("海棠小区"), "{one}");
    assert!(leaks(&one).is_empty(), "group: {:?}", leaks(&one));

    // the brief carries ids, not petition text; the explicit opt-in shows the members' own
    // words in the group view
    let shown = stdout(&run(&["group", &gid, "--out", o, "--show-personal-data"]));
    assert!(!leaks(&shown).is_empty(), "opted in, but nothing shown");
}
