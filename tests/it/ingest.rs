//! `minqing ingest` / `schema` on broken and real exports: every row stored or rejected with a
//! reason, never a panic, never a silently lost row.

use std::path::Path;

use crate::common::*;

/// Ingests `files` into a fresh folder; returns (output, folder).
fn ingest(files: &[&Path], extra: &[&str]) -> (std::process::Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = vec!["--quiet".into(), "ingest".into(), "--input".into()];
    args.extend(files.iter().map(|p| p.display().to_string()));
    args.push("--out".into());
    args.push(dir.path().display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = minqing().args(&args).output().unwrap();
    (o, dir)
}

/// Asserts the run reconciled: read = stored + rejected + duplicates.
fn counts(out: &Path) -> (u64, u64, u64, u64) {
    let c = run_json(out).counts;
    assert!(c.reconciles(), "{c:?}");
    assert_eq!(c.read, c.stored_rows + c.rejected + c.duplicates, "{c:?}");
    (c.read, c.stored_rows, c.rejected, c.duplicates)
}

#[test]
fn gbk_csv_imports() {
    let (o, dir) = ingest(&[&fixture("ingest/gbk.csv")], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(counts(dir.path()), (2, 2, 0, 0));
    let j = run_json(dir.path());
    assert_eq!(j.inputs[0].encoding.as_deref(), Some("gb18030"));
    let recs = minqing::store::read(dir.path()).unwrap();
    assert!(recs[0].content.contains("噪音扰民"));
    assert_eq!(recs[1].headcount, 6);
    assert_eq!(recs[0].region_path(), "江城市/临湖区/洞井街道");
}

#[test]
fn bom_csv_imports() {
    let (o, dir) = ingest(&[&fixture("ingest/bom.csv")], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(counts(dir.path()), (1, 1, 0, 0));
    let recs = minqing::store::read(dir.path()).unwrap();
    assert_eq!(recs[0].id, "B1");
    assert_eq!(recs[0].channel, minqing::schema::Channel::Hotline);
}

#[test]
fn missing_column_is_a_clear_error() {
    let (o, _dir) = ingest(&[&fixture("ingest/missing_column.csv")], &[]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.starts_with("error: "), "{e}");
    assert!(
        e.contains("missing_column.csv")
            && e.contains("received_at")
            && e.contains("`编号`")
            && e.contains("留言时间"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "the chain is printed once: {e}");
}

#[test]
fn unparseable_date_is_rejected_with_row_and_column() {
    let (o, dir) = ingest(&[&fixture("ingest/bad_date.csv")], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(counts(dir.path()), (2, 1, 1, 0));
    let r = rejects(dir.path());
    assert_eq!(r[0][0], "bad_date.csv");
    assert_eq!(r[0][1], "2");
    assert_eq!(r[0][2], "登记日期");
    assert!(r[0][5].contains("`下周一` is not a date"), "{:?}", r[0]);
}

#[test]
fn empty_content_is_rejected() {
    let (o, dir) = ingest(&[&fixture("ingest/empty_content.csv")], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(counts(dir.path()), (2, 1, 1, 0));
    assert!(rejects(dir.path())[0][5].contains("content is empty"));
}

#[test]
fn duplicate_ids_are_counted_and_resolved() {
    let (o, dir) = ingest(&[&fixture("ingest/duplicate_ids.csv")], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(counts(dir.path()), (3, 2, 0, 1));
    let r = rejects(dir.path());
    assert_eq!(r[0][3], "duplicate");
    assert!(r[0][5].contains("identical content"), "{:?}", r[0]);
}

#[test]
fn ragged_rows_are_rejected() {
    let (o, dir) = ingest(&[&fixture("ingest/ragged.csv")], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(counts(dir.path()), (3, 1, 2, 0));
    let r = rejects(dir.path());
    assert!(
        r.iter()
            .any(|x| x[5].contains("9 fields but the header has 8")),
        "{r:?}"
    );
    assert!(r.iter().any(|x| x[5].contains("content is empty")), "{r:?}");
}

#[test]
fn control_characters_are_cleaned() {
    let (o, dir) = ingest(&[&fixture("ingest/control_chars.csv")], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let recs = minqing::store::read(dir.path()).unwrap();
    assert_eq!(recs[0].title, "停水");
    assert_eq!(recs[0].content, "小区停水[31m严重");
}

#[test]
fn text_named_xls_is_a_clear_error() {
    let (o, _dir) = ingest(&[&fixture("ingest/fake.xls")], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a xls file"), "{}", stderr(&o));
}

#[test]
fn xlsx_under_xls_name_is_read_as_xlsx() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("export .xls");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["留言编号", "留言时间", "留言详情"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_number(1, 0, 101.0).unwrap();
    // A real Excel datetime cell next to a text date in the same column.
    let dt = rust_xlsxwriter::ExcelDateTime::parse_from_str("2019-08-01 10:30:00").unwrap();
    let fmt = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    ws.write_datetime_with_format(1, 1, &dt, &fmt).unwrap();
    ws.write_string(1, 2, "搅拌站噪音").unwrap();
    ws.write_number(2, 0, 102.0).unwrap();
    ws.write_string(2, 1, "2019/2/28 11:25:05").unwrap();
    ws.write_string(2, 2, "停车位捆绑销售").unwrap();
    // Trailing formatted-but-empty rows, as real exports have.
    for r in 3..200 {
        ws.write_blank(r, 2, &rust_xlsxwriter::Format::new().set_bold())
            .unwrap();
    }
    wb.save(&p).unwrap();
    let (o, out) = ingest(&[&p], &["--id-prefix", "x-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(counts(out.path()), (2, 2, 0, 0));
    let recs = minqing::store::read(out.path()).unwrap();
    assert_eq!(recs[0].id, "x-101");
    assert_eq!(recs[0].received_at.to_string(), "2019-08-01 10:30:00");
    assert_eq!(recs[1].received_at.to_string(), "2019-02-28 11:25:05");
    assert_eq!(
        run_json(out.path()).inputs[0].format,
        Some(minqing::ingest::Format::Xlsx)
    );
}

#[test]
fn one_megabyte_cell_is_rejected_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.csv");
    let big = "很长的内容".repeat(70_000); // ≈ 1 MB
    std::fs::write(
        &p,
        format!("编号,日期,内容\nL1,2019-03-01,{big}\nL2,2019-03-01,小区停水\n"),
    )
    .unwrap();
    let (o, out) = ingest(&[&p], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(counts(out.path()), (2, 1, 1, 0));
    let r = rejects(out.path());
    assert_eq!((r[0][1].as_str(), r[0][2].as_str()), ("2", "内容"));
    assert!(r[0][5].contains("max_cell_bytes"), "{:?}", r[0]);
}

/// A 50 MB cell (a pasted attachment): a clear reject for that row, the rest imported, and the
/// memory stays a small multiple of the cell (the reader holds one record at a time).
#[test]
fn fifty_megabyte_cell_is_rejected_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.csv");
    let big = "很长的内容".repeat(50 * 1024 * 1024 / 15);
    std::fs::write(
        &p,
        format!("编号,日期,内容\nL1,2019-03-01,{big}\nL2,2019-03-01,小区停水\n"),
    )
    .unwrap();
    drop(big);
    let (o, out) = ingest(&[&p], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(counts(out.path()), (2, 1, 1, 0));
    let r = rejects(out.path());
    assert!(r[0][5].contains("max_cell_bytes"), "{:?}", r[0]);
    let peak = run_json(out.path()).peak_rss_mib.unwrap_or(0.0);
    assert!(peak < 400.0, "peak {peak} MiB for a 50 MB cell");
}

#[test]
fn jsonl_broken_line_is_rejected() {
    let (o, dir) = ingest(&[&fixture("ingest/jsonl.jsonl")], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(counts(dir.path()), (3, 2, 1, 0));
    let recs = minqing::store::read(dir.path()).unwrap();
    assert_eq!(recs[0].likes, Some(3));
}

#[test]
fn reingest_is_idempotent_and_next_week_upserts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let week1 = dir.path().join("w1.csv");
    let week2 = dir.path().join("w2.csv");
    std::fs::write(
        &week1,
        "编号,日期,内容,办理状态\n1,2019-03-01,小区停水,办理中\n2,2019-03-02,小区停电,办理中\n",
    )
    .unwrap();
    std::fs::write(
        &week2,
        "编号,日期,内容,办理状态\n2,2019-03-02,小区停电,已办结\n3,2019-03-09,道路破损,办理中\n",
    )
    .unwrap();
    let go = |f: &Path| {
        let o = run(&[
            "-q",
            "ingest",
            "--input",
            f.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::read(out.join("store/petitions.parquet")).unwrap()
    };
    let a = go(&week1);
    let b = go(&week1);
    assert_eq!(
        a, b,
        "re-running the same input gives a byte-identical store"
    );
    let c = run_json(&out).counts;
    assert_eq!((c.unchanged, c.new), (2, 0));
    go(&week2);
    let c = run_json(&out).counts;
    assert_eq!((c.new, c.updated, c.store_total), (1, 1, 3));
    let recs = minqing::store::read(&out).unwrap();
    assert_eq!(recs[1].status.as_deref(), Some("已办结"));
}

#[test]
fn row_order_does_not_change_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.csv");
    let b = dir.path().join("a2.csv");
    std::fs::write(
        &a,
        "编号,日期,内容\n1,2019-03-01,甲\n2,2019-03-02,乙\n2,2019-03-02,乙改\n",
    )
    .unwrap();
    std::fs::write(
        &b,
        "编号,日期,内容\n2,2019-03-02,乙改\n2,2019-03-02,乙\n1,2019-03-01,甲\n",
    )
    .unwrap();
    let (_, o1) = ingest(&[&a], &[]);
    let (_, o2) = ingest(&[&b], &[]);
    let s1 = minqing::store::read(o1.path()).unwrap();
    let s2 = minqing::store::read(o2.path()).unwrap();
    let strip = |v: Vec<minqing::Record>| {
        v.into_iter()
            .map(|mut r| {
                r.cold_mut().source = Default::default();
                r
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(s1), strip(s2));
}

#[test]
fn schema_lists_fields_and_aliases() {
    let o = run(&["schema"]);
    assert!(o.status.success());
    let s = stdout(&o);
    for needle in [
        "id *",
        "received_at *",
        "content *",
        "留言编号",
        "信访件编号",
        "一级标签",
        "点赞数",
        "反对数",
    ] {
        assert!(s.contains(needle), "missing {needle}");
    }
}

/// Every table of the real 泰迪杯 data imports with no hand editing and reconciled counts.
#[test]
fn real_data_tables_import() {
    let Some(dir) = realdata("tipdm2020") else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("csv" | "xlsx")))
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("attachment1")
        })
        .collect();
    for f in [
        "silver_hotspots/team_15625103741_hot_issue_messages.xls",
        "silver_hotspots/team_syucryingstar_hot_issue_messages.xlsx",
    ] {
        files.push(dir.join(f));
    }
    files.sort();
    assert!(files.len() >= 14, "{files:?}");
    for f in files {
        let (o, out) = ingest(&[&f], &[]);
        assert!(o.status.success(), "{}: {}", f.display(), stderr(&o));
        let (read, stored, rejected, dups) = counts(out.path());
        assert!(read > 0 && stored > 0, "{}", f.display());
        assert_eq!(rejected, 0, "{}: {:?}", f.display(), rejects(out.path()));
        eprintln!(
            "{}: read {read}, stored {stored}, duplicates {dups}",
            f.display()
        );
    }
}

#[test]
fn formula_cells_are_neutralised_in_rejects_but_kept_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.csv");
    std::fs::write(
        &p,
        "编号,日期,内容\n=HYPERLINK(\"http://x\"),坏日期,x\n@SUM,2019-01-01,=1+1\n",
    )
    .unwrap();
    let (o, out) = ingest(&[&p], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = rejects(out.path());
    assert!(r[0][4].starts_with("'="), "{:?}", r[0]);
    let recs = minqing::store::read(out.path()).unwrap();
    assert_eq!(recs[0].id, "@SUM");
    assert_eq!(recs[0].content, "=1+1");
}

/// `minqing ingest` streams: with no in-memory budget every row goes through part files on
/// disk, yet the store, the rejects and the counts are byte-identical to an in-memory import;
/// and the peak memory barely grows when the input triples (ids only, not rows, are held).
#[test]
fn large_import_streams_in_bounded_memory_with_identical_results() {
    let dir = tempfile::tempdir().unwrap();
    let gen = |rows: &str, seed: &str, name: &str| {
        let p = dir.path().join(name);
        sample(&p, rows, seed);
        p
    };
    // 300k rows span three store row groups; a second export of 5k rows repeats ids of the
    // first with other contents, so duplicates meet across files and parts.
    let big = gen("300000", "3", "big.csv");
    let small = gen("100000", "4", "small.csv");
    let dups = gen("5000", "3", "dups.csv");
    let (o, spilled) = ingest(&[&big, &dups], &["--spill-mb", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (o, in_memory) = ingest(&[&big, &dups], &["--spill-mb", "100000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (read, stored, _, duplicates) = counts(spilled.path());
    assert_eq!(read, 305_000);
    assert!(
        duplicates >= 5_000 && stored <= 300_000,
        "{duplicates} {stored}"
    );
    assert_eq!(
        run_json(spilled.path()).counts,
        run_json(in_memory.path()).counts
    );
    for f in ["store/petitions.parquet", "rejects.csv"] {
        assert!(
            std::fs::read(spilled.path().join(f)).unwrap()
                == std::fs::read(in_memory.path().join(f)).unwrap(),
            "{f} differs between the spilled and the in-memory import"
        );
    }
    // No temporary folder is left behind.
    for e in std::fs::read_dir(spilled.path()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with(".minqing-"), "left behind: {name}");
    }

    let (o, small_out) = ingest(&[&small], &["--spill-mb", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let peak = |p: &Path| run_json(p).peak_rss_mib.unwrap_or(0.0);
    let (p_small, p_big) = (peak(small_out.path()), peak(spilled.path()));
    // Held: the ids (≈ 60 bytes a row) plus one part and one row group of records; rows held
    // would triple the peak. Measured 2026-12-05 on 2 cores: 100k 485–542 MiB, 305k 639–644
    // MiB (+100–156 MiB, the small import's peak being the noisier one under a parallel test
    // run), hence a ratio rather than a fixed margin.
    assert!(
        p_big < p_small * 1.4,
        "peak {p_big} MiB for 305k rows vs {p_small} MiB for 100k: memory grows with the input"
    );
}
