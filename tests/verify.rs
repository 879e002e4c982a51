//! `ferry verify` against real MariaDB servers, where the copy's own view would be blind: it
//! computes counts and row hashes on each server over the stored bytes and cuts ranges by the
//! server's `ORDER BY`, so rows a broken copy skipped — the 'alpha' rows of an ENUM key that
//! keyset chunks compared as strings (issue 12, finding 1) — show as missing, and a column the
//! source no longer has shows as stale. The old verify paged the same way as the copy and
//! reported such a destination equal.

mod support;

use std::time::Duration;

use support::{Ferry, MariaDb, ferry_cli, task_file};

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
    let file = task_file(
        dir.path(),
        "enumkey",
        &src,
        &dst,
        "[{database: app}]",
        "  syncTypes: {full: true, incremental: false}\n",
    );
    let mut ferry = Ferry::spawn(&file, &dir.path().join("ferry.log"));
    let _log = ferry.keep_log_on_panic();
    assert!(ferry.wait(Duration::from_secs(300)).expect("the copy ends").success());

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
    let file = task_file(
        dir.path(),
        "floatkey",
        &src,
        &dst,
        "[{database: app}]",
        "  syncTypes: {full: true, incremental: false}\n",
    );
    let mut ferry = Ferry::spawn(&file, &dir.path().join("ferry.log"));
    let _log = ferry.keep_log_on_panic();
    assert!(ferry.wait(Duration::from_secs(300)).expect("the copy ends").success());

    let (code, out) = ferry_cli("verify", &file, &["-o", "json", "--chunk", "1", "--settle", "0s"]);
    assert_eq!(code, Some(0), "a correct copy is equal: {out}");

    dst.exec("DELETE FROM app.d WHERE k = 1e300; UPDATE app.f SET v = 0 WHERE k > 1e20")
        .await;
    let (code, out) = ferry_cli("verify", &file, &["-o", "json", "--chunk", "1", "--settle", "0s"]);
    assert_eq!(code, Some(1), "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let tables = report["tables"].as_array().expect("tables");
    let of = |name: &str| {
        tables
            .iter()
            .find(|t| t["table"].as_str().is_some_and(|t| t.ends_with(name)))
            .expect(name)
    };
    assert_eq!(of(".d")["differing"], 1, "{out}");
    assert_eq!(of(".d")["differences"][0]["kind"], "missing", "{out}");
    assert_eq!(of(".f")["differing"], 1, "{out}");
    assert_eq!(of(".f")["differences"][0]["kind"], "different", "{out}");
}
