//! `ferry verify` against real MariaDB servers, where the copy's own view would be blind: it
//! computes counts and row hashes on each server over the stored bytes and cuts ranges by the
//! server's `ORDER BY`, so rows a broken copy skipped — the 'alpha' rows of an ENUM key that
//! keyset chunks compared as strings (issue 12, finding 1) — show as missing, and a column the
//! source no longer has shows as stale. The old verify paged the same way as the copy and
//! reported such a destination equal.

mod support;

use std::time::Duration;

use support::{Ferry, MariaDb, ferry_cli, task_file};

/// Copies database `app` once (full sync only) with `ferry run`, and returns the task file.
fn copy_once(dir: &std::path::Path, name: &str, src: &MariaDb, dst: &MariaDb) -> std::path::PathBuf {
    let file = task_file(
        dir,
        name,
        src,
        dst,
        "[{database: app}]",
        "  syncTypes: {full: true, incremental: false}\n",
    );
    let mut ferry = Ferry::spawn(&file, &dir.join("ferry.log"));
    let _log = ferry.keep_log_on_panic();
    assert!(ferry.wait(Duration::from_secs(300)).expect("the copy ends").success());
    file
}

/// The number of differing keys of `table` in a JSON report, and the listed ones (`kind key`).
fn differences(out: &str, table: &str) -> (u64, Vec<String>) {
    let report: serde_json::Value = serde_json::from_str(out).expect("JSON");
    let t = report["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["table"].as_str().is_some_and(|n| n.ends_with(table)))
        .expect(table)
        .clone();
    let kinds = t["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .map(|d| {
            format!(
                "{} {}",
                d["kind"].as_str().unwrap_or_default(),
                d["key"].as_str().unwrap_or_default()
            )
        })
        .collect();
    (t["differing"].as_u64().unwrap_or_default(), kinds)
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_reports_rows_the_enum_chunking_skipped_and_a_stale_column() {
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec(
        "CREATE DATABASE app; USE app; \
         CREATE TABLE app.t (kind ENUM('zeta','alpha') NOT NULL, id INT NOT NULL, v VARCHAR(10), PRIMARY KEY (kind, id)); \
         INSERT INTO app.t SELECT ELT(1 + seq % 2, 'zeta', 'alpha'), seq, CONCAT('v', seq) FROM seq_1_to_40000",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = copy_once(dir.path(), "enumkey", &src, &dst);

    let (code, out) = ferry_cli("verify", &file, &["-o", "json", "--chunk", "1000", "--settle", "0s"]);
    assert_eq!(code, Some(0), "a correct copy is equal: {out}");

    // The destination the old copy path built: the 'alpha' rows past its first ranges missing
    // (10,000 of 40,000), and a column the source does not have.
    dst.exec("DELETE FROM app.t WHERE kind = 'alpha' AND id > 20000; ALTER TABLE app.t ADD COLUMN stale INT; UPDATE app.t SET v = 'x' WHERE kind = 'zeta' AND id = 4")
        .await;
    let (code, out) = ferry_cli("verify", &file, &["-o", "json", "--chunk", "1000", "--settle", "1s"]);
    assert_eq!(code, Some(1), "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let table = &report["tables"][0];
    assert_eq!(table["sourceRows"], 40000, "{out}");
    assert_eq!(table["destinationRows"], 30000, "{out}");
    assert_eq!(table["differing"], 10001, "{out}");
    assert_eq!(table["extraColumns"], serde_json::json!(["stale"]), "{out}");
    let differences = table["differences"].as_array().expect("differences");
    assert_eq!(differences.len(), 20, "at most 20 listed: {out}");
    assert!(
        differences
            .iter()
            .any(|d| d["kind"] == "different" && d["key"] == "kind='zeta', id=4"),
        "the changed row is listed: {out}"
    );
    let missing: Vec<&serde_json::Value> = differences.iter().filter(|d| d["kind"] == "missing").collect();
    assert!(
        missing
            .iter()
            .all(|d| d["key"].as_str().is_some_and(|k| k.starts_with("kind='alpha', id="))),
        "the missing rows are the 'alpha' ones: {out}"
    );

    // The readable form says the same.
    let (code, text) = ferry_cli("verify", &file, &["--chunk", "5000", "--settle", "0s"]);
    assert_eq!(code, Some(1));
    assert!(
        text.contains("destination columns the source lacks: stale") && text.contains("10001 differing"),
        "{text}"
    );
}

/// Fuzzer finding: ranges cut at a DOUBLE or FLOAT key printed with an exponent (`1e300`) were
/// sent as `1e300e0` and the checksum query failed. Every range boundary here is such a value.
#[tokio::test(flavor = "multi_thread")]
async fn verify_cuts_ranges_at_float_keys_of_every_magnitude() {
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec(
        "CREATE DATABASE app; USE app; \
         CREATE TABLE app.d (k DOUBLE NOT NULL PRIMARY KEY, v INT); \
         CREATE TABLE app.f (k FLOAT NOT NULL PRIMARY KEY, v INT); \
         INSERT INTO app.d VALUES (-1.7976931348623157e308, 1), (-1e-300, 2), (0, 3), (1.5, 4), (2.5e-7, 5), (1e21, 6), (1e300, 7), (1.7976931348623157e308, 8); \
         INSERT INTO app.f SELECT k, v FROM app.d WHERE ABS(k) < 3e38 AND (k = 0 OR ABS(k) > 1e-30)",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = copy_once(dir.path(), "floatkey", &src, &dst);

    let (code, out) = ferry_cli("verify", &file, &["-o", "json", "--chunk", "1", "--settle", "0s"]);
    assert_eq!(code, Some(0), "a correct copy is equal: {out}");

    dst.exec("DELETE FROM app.d WHERE k = 1e300; UPDATE app.f SET v = 0 WHERE k > 1e20")
        .await;
    let (code, out) = ferry_cli("verify", &file, &["-o", "json", "--chunk", "1", "--settle", "0s"]);
    assert_eq!(code, Some(1), "{out}");
    let (d, f) = (differences(&out, ".d"), differences(&out, ".f"));
    assert!(d.0 == 1 && d.1[0].starts_with("missing"), "{out}");
    assert!(f.0 == 1 && f.1[0].starts_with("different"), "{out}");
}

/// Fuzzer finding: a CHAR key under a NO PAD collation is ordered padded in the index but
/// compared trimmed, so `'\0'` and `''` are two rows that no range bound separates (`k > '\0'`
/// holds for neither). Verify compares such a table as one range: a row the destination lacks
/// is missing, whichever neighbour it has.
#[tokio::test(flavor = "multi_thread")]
async fn verify_finds_rows_between_char_keys_a_no_pad_collation_pads() {
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec(
        "CREATE DATABASE app; USE app; \
         CREATE TABLE app.t (k CHAR(6) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_nopad_ci NOT NULL PRIMARY KEY, v INT); \
         INSERT INTO app.t VALUES ('\\0\\0', 1), ('\\0', 2), ('', 3), ('a\\0', 4), ('a', 5), ('b', 6)",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = copy_once(dir.path(), "charkey", &src, &dst);
    let (code, out) = ferry_cli("verify", &file, &["-o", "json", "--chunk", "1", "--settle", "0s"]);
    assert_eq!(code, Some(0), "a correct copy is equal: {out}");

    dst.exec("DELETE FROM app.t WHERE v IN (3, 5)").await;
    let (code, out) = ferry_cli("verify", &file, &["-o", "json", "--chunk", "1", "--settle", "0s"]);
    assert_eq!(code, Some(1), "{out}");
    let (differing, mut kinds) = differences(&out, ".t");
    kinds.sort();
    assert_eq!(differing, 2, "{out}");
    assert_eq!(kinds, ["missing k=''", "missing k='a'"], "{out}");
}

/// `ferry verify` of a task that has not run: each table is reported as missing in the
/// destination (exit 1), not as a raw "Table … doesn't exist" error.
#[tokio::test(flavor = "multi_thread")]
async fn verify_of_a_task_not_run_reports_missing_tables() {
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT); INSERT INTO app.t VALUES (1, 1)")
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = task_file(dir.path(), "notrun", &src, &dst, "[{database: app}]", "");
    let (code, out) = ferry_cli("verify", &file, &["--settle", "0s"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("the destination table does not exist: the task has not created it"),
        "{out}"
    );
    let (code, out) = ferry_cli("verify", &file, &["-o", "json", "--settle", "0s"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("\"destinationMissing\": true"), "{out}");
}
