//! The Lindorm sink's client path against a real server: a MariaDB standing in for LindormTable.
//!
//! Checked here, for real: the connection without pool resets, TLS 1.2 (the destination server
//! accepts nothing else and refuses plaintext), the session probes (time zone, backslash
//! escapes), multi-row writes split at Lindorm's 2,000-row limit, writes without version hints
//! (every cell takes the server's time), per-lane ordering, the (task, epoch) checkpoint rows
//! claimed with a compare-and-set and fencing, names and key sizes Lindorm cannot hold refused
//! before anything is written, and retries across a destination outage — with
//! the destination's contents compared to the source through Lindorm's type mapping
//! (DATETIME → epoch milliseconds, MEDIUMINT UNSIGNED → INTEGER, empty VARBINARY → NULL).
//!
//! Checked against documentation only (no Lindorm here; see docs/lindorm.md): the `UPSERT`
//! keyword (MariaDB gets `REPLACE`, the same effect for full-row writes), Lindorm's own column
//! types (MariaDB gets the stand-in types of `LindormType::stand_in_sql`), binary values as
//! hexadecimal strings (MariaDB gets `x'…'`), the claim's `ON DUPLICATE KEY ERROR` (MariaDB
//! gets a plain INSERT, which also fails on a duplicate key), `CONSISTENCY='strong'`, Lindorm's
//! versioning (checked against a model of the documented semantics in `tests/lindorm_model.rs`),
//! and `SET @@time_zone = 'UTC'` (MariaDB takes the `'+00:00'` fallback). The statement text
//! itself is pinned by the golden tests in `tests/lindorm_golden.rs`.

mod support;

use std::{path::Path, time::Duration};

use mysql_async::prelude::Queryable;
use support::{Ferry, MariaDb, eventually, task_file_to, wait_caught_up};

const TABLE: &str = "CREATE DATABASE shop; CREATE TABLE shop.items (\
    id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, note TEXT, price DECIMAL(12,2), qty MEDIUMINT UNSIGNED, \
    ratio DOUBLE, created DATETIME(3), bin VARBINARY(16), d DATE)";

/// Source rows as Lindorm stores them, against the destination's rows (text protocol, UTC).
async fn contents(src: &MariaDb, dst: &MariaDb) -> (Vec<mysql_async::Row>, Vec<mysql_async::Row>) {
    let mut s = src.pool.get_conn().await.expect("source");
    s.query_drop("SET time_zone = '+00:00'").await.expect("tz");
    let expected: Vec<mysql_async::Row> = s
        .query(
            "SELECT id, name, note, price, qty, ratio, CAST(UNIX_TIMESTAMP(created) * 1000 AS SIGNED), NULLIF(bin, ''), d \
             FROM shop.items ORDER BY id",
        )
        .await
        .expect("source rows");
    let mut d = dst.pool.get_conn().await.expect("destination");
    let actual: Vec<mysql_async::Row> = d
        .query("SELECT id, name, note, price, qty, ratio, created, bin, d FROM shop.items ORDER BY id")
        .await
        .unwrap_or_default();
    (expected, actual)
}

async fn assert_converged(src: &MariaDb, dst: &MariaDb) {
    let (expected, actual) = contents(src, dst).await;
    assert_eq!(expected.len(), actual.len(), "row counts differ");
    for (e, a) in expected.into_iter().zip(actual) {
        let (e, a) = (e.unwrap(), a.unwrap());
        assert_eq!(e, a, "a row differs (source first)");
    }
}

fn lindorm_task(dir: &Path, name: &str, src: &MariaDb, dst: &MariaDb, extra: &str) -> std::path::PathBuf {
    task_file_to(
        dir,
        name,
        src,
        dst,
        "type: lindorm, tls: {mode: required}",
        "[{database: shop}]",
        extra,
    )
}

/// The writes to `shop`.`items` in the destination's general log, oldest first.
async fn logged_writes(dst: &MariaDb) -> Vec<String> {
    let mut conn = dst.pool.get_conn().await.expect("connect");
    let statements: Vec<String> = conn
        .query("SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log WHERE command_type = 'Query' ORDER BY event_time")
        .await
        .expect("general log");
    statements
        .into_iter()
        .filter(|s| (s.starts_with("REPLACE") || s.starts_with("DELETE")) && s.contains("`shop`.`items`"))
        .collect()
}

/// Full sync, then incremental inserts, updates (also of the key), deletes and a destination
/// outage; the destination ends equal to the source through the Lindorm type mapping.
#[tokio::test(flavor = "multi_thread")]
async fn lindorm_sink_converges_on_a_tls_stand_in() {
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start_tls(2));
    src.exec(TABLE).await;
    // 5,000 rows with awkward text (quotes, backslashes, non-ASCII), NULLs and empty binaries.
    src.exec(
        "USE shop; INSERT INTO shop.items SELECT seq, CONCAT('it''s \\\\ Zürich 東京 #', seq), IF(seq % 7 = 0, NULL, REPEAT('n', seq % 50)), \
         seq * 1.25, seq % 16777216, seq / 3, TIMESTAMPADD(SECOND, seq, '2024-02-29 23:59:59.123'), \
         IF(seq % 5 = 0, '', UNHEX(HEX(seq))), DATE_ADD('2000-01-01', INTERVAL seq DAY) FROM seq_1_to_5000",
    )
    .await;
    // Every statement the destination receives, to check what the writes look like.
    dst.exec("SET GLOBAL log_output = 'TABLE', GLOBAL general_log = 1").await;

    let dir = tempfile::tempdir().expect("tempdir");
    // One batch of 5,000 rows over two lanes: about 2,500 rows each, so more than one UPSERT per lane.
    let file = lindorm_task(dir.path(), "lindorm", &src, &dst, "  worker: {batchRows: 10000, applyLanes: 2}\n");
    let log = dir.path().join("ferry.log");
    let mut ferry = Ferry::spawn(&file, &log);
    let _keep = ferry.keep_log_on_panic();
    wait_caught_up(&src, &dst, "default/lindorm", Duration::from_secs(120)).await;
    assert_converged(&src, &dst).await;

    // The destination table was created with the primary key of the source.
    let key: String = dst
        .scalar("SELECT GROUP_CONCAT(COLUMN_NAME) FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'items'")
        .await;
    assert_eq!(key, "id");
    let ssl: String = dst
        .scalar(
            "SELECT GROUP_CONCAT(DISTINCT v.VARIABLE_VALUE) FROM information_schema.SESSION_STATUS v WHERE v.VARIABLE_NAME = 'Ssl_version'",
        )
        .await;
    assert_eq!(ssl, "TLSv1.2", "the test's own connection negotiates TLS 1.2 too");

    let snapshot_writes = logged_writes(&dst).await;
    assert!(
        snapshot_writes.iter().all(|s| s.starts_with("REPLACE")),
        "the snapshot only upserts"
    );
    let rows_per_upsert: Vec<usize> = snapshot_writes.iter().map(|s| s.matches("), (").count() + 1).collect();
    assert_eq!(rows_per_upsert.iter().sum::<usize>(), 5000, "every snapshot row written once");
    assert!(rows_per_upsert.iter().all(|&n| n <= 2000), "an UPSERT above Lindorm's 2,000 rows");
    assert!(rows_per_upsert.contains(&2000), "a lane's 2,500 rows were not split at 2,000");
    assert!(
        snapshot_writes.iter().all(|s| s.starts_with("REPLACE INTO `shop`.`items`")),
        "a write with a version hint"
    );
    // The claim was a compare-and-set (on the stand-in, a plain INSERT that fails on a duplicate).
    let mut conn = dst.pool.get_conn().await.expect("connect");
    let claims: Vec<String> = conn
        .query(
            "SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log WHERE command_type = 'Query' \
             AND argument LIKE 'INSERT INTO `ferry`.`ferry_checkpoint`%'",
        )
        .await
        .expect("general log");
    assert_eq!(claims.len(), 1, "one claim: {claims:?}");
    drop(conn);
    dst.exec("TRUNCATE mysql.general_log").await;

    // Incremental: inserts, updates, key changes, deletes — several to the same rows.
    src.exec(
        "INSERT INTO shop.items VALUES (6001, 'new', NULL, 1.00, 1, 1e300, '1970-01-01 00:00:00.001', '', '1999-12-31'); \
         UPDATE shop.items SET name = 'second', price = price + 1 WHERE id <= 300; \
         UPDATE shop.items SET name = 'third' WHERE id <= 100; \
         UPDATE shop.items SET id = id + 10000 WHERE id BETWEEN 301 AND 310; \
         DELETE FROM shop.items WHERE id BETWEEN 400 AND 499; \
         INSERT INTO shop.items (id, name) VALUES (450, 'reborn'); \
         UPDATE shop.items SET bin = '' WHERE id = 1",
    )
    .await;
    wait_caught_up(&src, &dst, "default/lindorm", Duration::from_secs(60)).await;
    assert_converged(&src, &dst).await;

    // No write carries a version hint: Lindorm's DELETE takes none, so all take the server's time.
    let writes = logged_writes(&dst).await;
    assert!(
        writes
            .iter()
            .all(|s| s.starts_with("REPLACE INTO `shop`.`items`") || s.starts_with("DELETE FROM `shop`.`items` WHERE")),
        "a write with a version hint: {writes:?}"
    );
    // The pause between batches, on the server's clock: every write that follows a checkpoint
    // write (the end of a batch) starts at least 5 ms after it.
    let mut conn = dst.pool.get_conn().await.expect("connect");
    let log: Vec<(i64, String)> = conn
        .query(
            "SELECT CAST(UNIX_TIMESTAMP(event_time) * 1000000 AS SIGNED), CONVERT(LEFT(argument, 60) USING utf8mb4) \
             FROM mysql.general_log WHERE command_type = 'Query' ORDER BY event_time",
        )
        .await
        .expect("general log");
    drop(conn);
    let mut gaps = Vec::new();
    let mut checkpointed: Option<i64> = None;
    for (t, sql) in &log {
        if sql.starts_with("REPLACE INTO `ferry`.`ferry_checkpoint`") {
            checkpointed = Some(*t);
        } else if (sql.starts_with("REPLACE INTO `shop`") || sql.starts_with("DELETE FROM `shop`"))
            && let Some(t0) = checkpointed.take()
        {
            gaps.push(t - t0);
        }
    }
    assert!(!gaps.is_empty(), "no batch followed a checkpoint write: {log:?}");
    let gap_us = ferry::engine::sink::lindorm::WRITE_GAP.as_micros() as i64;
    assert!(
        gaps.iter().all(|&g| g >= gap_us),
        "a batch started less than the pause after a checkpoint: {gaps:?}"
    );

    // One DELETE per row: 100 deletes and 10 key changes — less key 450's delete when its
    // re-insert fell into the same batch, whose net effect is then the upsert alone.
    let deletes = writes.iter().filter(|s| s.starts_with("DELETE")).count();
    assert!((109..=110).contains(&deletes), "{deletes} DELETE statements");
    dst.exec("SET GLOBAL general_log = 0").await;

    // A destination outage while the source keeps writing: retried, then converged.
    dst.stop();
    src.exec("UPDATE shop.items SET note = 'during the outage' WHERE id % 10 = 3; DELETE FROM shop.items WHERE id BETWEEN 900 AND 949")
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    dst.restart();
    wait_caught_up(&src, &dst, "default/lindorm", Duration::from_secs(120)).await;
    assert_converged(&src, &dst).await;
    assert!(
        ferry.child.try_wait().expect("try_wait").is_none(),
        "ferry exited during the outage"
    );
    assert!(!ferry.log_text().contains("ferry-pass"), "a secret leaked into the log");
}

/// A second worker claims the next epoch in its own checkpoint row; the first one stops at its
/// next batch, with a definite error, without touching the newer worker's row.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_lindorm_worker_fences_the_first() {
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start_tls(2));
    src.exec(TABLE).await;
    src.exec("USE shop; INSERT INTO shop.items (id, name) SELECT seq, 'x' FROM seq_1_to_100")
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = lindorm_task(dir.path(), "fence", &src, &dst, "");
    let mut first = Ferry::spawn(&file, &dir.path().join("first.log"));
    let _keep = first.keep_log_on_panic();
    wait_caught_up(&src, &dst, "default/fence", Duration::from_secs(60)).await;
    let second = Ferry::spawn(&file, &dir.path().join("second.log"));
    let _keep2 = second.keep_log_on_panic();
    eventually(Duration::from_secs(30), "the second worker's claim", || async {
        let mut conn = dst.pool.get_conn().await.expect("connect");
        let max: Option<i64> = conn
            .query_first("SELECT MAX(epoch) FROM ferry.ferry_checkpoint WHERE task = 'default/fence'")
            .await
            .ok()
            .flatten();
        max == Some(2)
    })
    .await;
    src.exec("UPDATE shop.items SET name = 'y' WHERE id = 1").await;
    let status = first.wait(Duration::from_secs(30)).expect("the first worker stopped");
    assert_eq!(status.code(), Some(1), "a fenced worker exits with a task failure");
    assert!(first.log_text().contains("claimed by another worker"), "{}", first.log_text());
    wait_caught_up(&src, &dst, "default/fence", Duration::from_secs(60)).await;
    let name: String = dst.scalar("SELECT name FROM shop.items WHERE id = 1").await;
    assert_eq!(name, "y", "the second worker carries on");
    let rows: i64 = dst
        .scalar("SELECT COUNT(*) FROM ferry.ferry_checkpoint WHERE task = 'default/fence'")
        .await;
    assert!(rows <= 2, "old checkpoint rows are cleaned up");
}

/// Names Lindorm cannot hold and keys above its 2 KB are refused before anything is written:
/// a table of a whole-database selection named with a backtick stops the task at table
/// creation, naming the table and `targetName`; a row whose key is 2,100 bytes stops it at its
/// batch, naming the table, the key column and the sizes, with none of the batch written.
#[tokio::test(flavor = "multi_thread")]
async fn names_and_keys_lindorm_cannot_hold_are_refused_before_writing() {
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start_tls(2));
    src.exec(
        "CREATE DATABASE shop; CREATE TABLE shop.`order``lines` (id INT PRIMARY KEY, v INT); INSERT INTO shop.`order``lines` VALUES (1, 1)",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = lindorm_task(dir.path(), "names", &src, &dst, "");
    let mut ferry = Ferry::spawn(&file, &dir.path().join("names.log"));
    let status = ferry.wait(Duration::from_secs(60)).expect("the task stopped");
    assert_eq!(status.code(), Some(1), "{}", ferry.log_text());
    let log = ferry.log_text();
    assert!(
        log.contains("table name `order`lines` is not a valid Lindorm table name") && log.contains("targetName"),
        "{log}"
    );
    let tables: i64 = dst
        .scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop'")
        .await;
    assert_eq!(tables, 0, "nothing was created for the refused table");

    src.exec(
        "DROP TABLE shop.`order``lines`; CREATE TABLE shop.blobs (k VARBINARY(3000) PRIMARY KEY, v INT); \
         INSERT INTO shop.blobs VALUES (REPEAT('k', 10), 1), (REPEAT('x', 2100), 2), (REPEAT('z', 10), 3)",
    )
    .await;
    // The precheck warns of the declared VARBINARY(3000) key; ignored here, to reach the write.
    let file = lindorm_task(dir.path(), "keys", &src, &dst, "  precheck: {ignore: [lindormKeySize]}\n");
    let mut ferry = Ferry::spawn(&file, &dir.path().join("keys.log"));
    let status = ferry.wait(Duration::from_secs(60)).expect("the task stopped");
    assert_eq!(status.code(), Some(1), "{}", ferry.log_text());
    let log = ferry.log_text();
    assert!(
        log.contains("a row of `shop.blobs` cannot be written to Lindorm (nothing of its batch was written)")
            && log.contains("is 2100 bytes; Lindorm allows at most 2048 bytes of primary key values (key columns `k` (2100 bytes))"),
        "{log}"
    );
    let rows: i64 = dst.scalar("SELECT COUNT(*) FROM shop.blobs").await;
    assert_eq!(rows, 0, "the batch with the oversized key wrote nothing");
}
