//! DTS-parity behaviour against real MariaDB servers (source with binlog ROW / FULL image /
//! FULL metadata, a second server as destination), one behaviour per scenario: selection and
//! renames, row filters, operation choice, and DDL followed from the binlog.
//!
//! Checked against documentation only: MySQL 8's DDL binlog (the same Query events; parsed by
//! the same code) and the Lindorm forms of the DDL (pinned by `tests/lindorm_golden.rs`).

mod support;

use std::time::Duration;

use support::{Ferry, MariaDb, assert_same_rows, columns_of, query_rows, task_file, wait_caught_up};

const WAIT: Duration = Duration::from_secs(120);

async fn pair() -> (MariaDb, MariaDb) {
    tokio::join!(MariaDb::start(1), MariaDb::start(2))
}

/// A column subset, a renamed database, table and column, and `capitalization: lower` for the
/// names not given explicitly: the destination has exactly the names and contents specified,
/// for copied rows and for changes that follow.
#[tokio::test(flavor = "multi_thread")]
async fn column_subset_renames_and_capitalization() {
    let (src, dst) = pair().await;
    src.exec(
        "CREATE DATABASE Shop; USE Shop; CREATE TABLE Shop.Orders (Id INT PRIMARY KEY, Customer VARCHAR(20), Amount DECIMAL(12,2), \
         Secret VARCHAR(20), Note TEXT); CREATE TABLE Shop.Items (Sku VARCHAR(10) PRIMARY KEY, Title VARCHAR(30)); \
         INSERT INTO Shop.Orders SELECT seq, CONCAT('c', seq), seq * 1.25, 'hidden', IF(seq % 3 = 0, NULL, 'n') FROM seq_1_to_500; \
         INSERT INTO Shop.Items VALUES ('A1', 'apple'), ('B2', 'bread')",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let objects = "[{database: Shop, targetName: mall, tables: [\
        {name: Orders, targetName: Purchases, columns: [Customer, Amount, Note], columnMapping: {Customer: Buyer}}, \
        {name: Items}]}]";
    let file = task_file(dir.path(), "rename", &src, &dst, objects, "  capitalization: lower\n");
    let ferry = Ferry::spawn(&file, &dir.path().join("ferry.log"));
    let _log = ferry.keep_log_on_panic();
    src.exec(
        "UPDATE Shop.Orders SET Customer = 'changed', Secret = 'x' WHERE Id <= 10; DELETE FROM Shop.Orders WHERE Id > 490; \
         INSERT INTO Shop.Orders VALUES (1000, 'new', 9.99, 's', 'late'); UPDATE Shop.Items SET Title = 'apples' WHERE Sku = 'A1'",
    )
    .await;
    wait_caught_up(&src, &dst, "default/rename", WAIT).await;

    assert_eq!(columns_of(&dst, "mall", "Purchases").await, vec!["id", "Buyer", "amount", "note"]);
    assert_eq!(columns_of(&dst, "mall", "items").await, vec!["sku", "title"]);
    let want = query_rows(&src, "SELECT Id, Customer, Amount, Note FROM Shop.Orders ORDER BY Id").await;
    let got = query_rows(&dst, "SELECT id, Buyer, amount, note FROM mall.Purchases ORDER BY id").await;
    assert_eq!(want.len(), 491);
    assert_eq!(want, got);
    let want = query_rows(&src, "SELECT Sku, Title FROM Shop.Items ORDER BY Sku").await;
    assert_eq!(want, query_rows(&dst, "SELECT sku, title FROM mall.items ORDER BY sku").await);
}

const FILTER: &str = "(v BETWEEN 10 AND 60 OR v IS NULL) AND name NOT LIKE 'x%' AND price * 2 >= 3";

/// A filter is pushed into the snapshot and evaluated on binlog rows with the same result:
/// a task that copied early and then followed changes — rows moving into and out of the filter,
/// NULLs, deletes — ends with exactly the rows a fresh full sync selects, which are exactly
/// the source rows the filter selects.
#[tokio::test(flavor = "multi_thread")]
async fn filter_full_and_incremental_agree() {
    let (src, dst) = pair().await;
    src.exec(
        "CREATE DATABASE app; USE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT NULL, name VARCHAR(20) NULL, price DECIMAL(8,2) NULL); \
         INSERT INTO app.t SELECT seq, IF(seq % 7 = 0, NULL, seq % 100), ELT(1 + seq % 4, 'alpha', 'xray', 'Beta', NULL), \
         IF(seq % 11 = 0, NULL, (seq % 5) * 0.75) FROM seq_1_to_2000",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let objects = |target: &str| format!("[{{database: app, targetName: {target}, tables: [{{name: t, filter: \"{FILTER}\"}}]}}]");
    let follow = task_file(dir.path(), "follow", &src, &dst, &objects("followed"), "");
    let ferry = Ferry::spawn(&follow, &dir.path().join("follow.log"));
    let _log = ferry.keep_log_on_panic();
    wait_caught_up(&src, &dst, "default/follow", WAIT).await;
    src.exec(
        "UPDATE app.t SET v = v + 50 WHERE id % 3 = 0; \
         UPDATE app.t SET v = NULL WHERE id % 13 = 0; \
         UPDATE app.t SET name = 'xeno' WHERE id % 17 = 0; \
         UPDATE app.t SET name = 'alpha', v = 20, price = 10 WHERE id % 19 = 0; \
         UPDATE app.t SET price = NULL WHERE id % 23 = 0; \
         UPDATE app.t SET id = id + 10000 WHERE id % 29 = 0; \
         DELETE FROM app.t WHERE id % 31 = 0; \
         INSERT INTO app.t VALUES (20001, NULL, 'yes', 2), (20002, 15, NULL, 2), (20003, 15, 'ok', NULL), (20004, 61, 'ok', 5)",
    )
    .await;
    wait_caught_up(&src, &dst, "default/follow", WAIT).await;
    drop(ferry);

    let fresh = task_file(
        dir.path(),
        "fresh",
        &src,
        &dst,
        &objects("fresh"),
        "  syncTypes: {full: true, incremental: false}\n",
    );
    let mut once = Ferry::spawn(&fresh, &dir.path().join("fresh.log"));
    assert!(once.wait(WAIT).expect("full sync ends").success(), "{}", once.log_text());

    let want = query_rows(&src, &format!("SELECT * FROM app.t WHERE {FILTER} ORDER BY id")).await;
    let followed = query_rows(&dst, "SELECT * FROM followed.t ORDER BY id").await;
    let copied = query_rows(&dst, "SELECT * FROM fresh.t ORDER BY id").await;
    assert!(
        want.len() > 300 && want.len() < 1500,
        "a filter that selects {} rows proves little",
        want.len()
    );
    assert_eq!(copied, want, "the fresh full sync differs from the source's own filter");
    assert_eq!(followed, want, "full + incremental differs from the source's own filter");
}

/// With `delete` left out, deletes are not applied (inserts and updates are); with
/// `addColumn` left out, a new source column is not added and rows keep applying, also after
/// a restart.
#[tokio::test(flavor = "multi_thread")]
async fn operation_choice_is_honoured() {
    let (src, dst) = pair().await;
    src.exec(
        "CREATE DATABASE app; USE app; CREATE TABLE app.keep (id INT PRIMARY KEY, v INT); CREATE TABLE app.fixed (id INT PRIMARY KEY, v INT); \
         INSERT INTO app.keep SELECT seq, seq FROM seq_1_to_100; INSERT INTO app.fixed SELECT seq, seq FROM seq_1_to_100",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let objects = "[{database: app, operations: [insert, update, delete, createTable, dropTable], tables: [\
        {name: keep, operations: [insert, update]}, {name: fixed}]}]";
    let file = task_file(dir.path(), "ops", &src, &dst, objects, "");
    let log = dir.path().join("ferry.log");
    let mut ferry = Ferry::spawn(&file, &log);
    let _log = ferry.keep_log_on_panic();
    wait_caught_up(&src, &dst, "default/ops", WAIT).await;
    src.exec(
        "DELETE FROM app.keep WHERE id <= 50; UPDATE app.keep SET v = -v WHERE id > 90; INSERT INTO app.keep VALUES (500, 5); \
         ALTER TABLE app.fixed ADD COLUMN extra INT DEFAULT 3 AFTER id; \
         UPDATE app.fixed SET v = v * 10, extra = 9 WHERE id <= 20; INSERT INTO app.fixed VALUES (500, 1, 2); DELETE FROM app.fixed WHERE id > 95",
    )
    .await;
    wait_caught_up(&src, &dst, "default/ops", WAIT).await;
    // The choice survives a restart (the table is rediscovered with the new column).
    ferry.kill9();
    src.exec("INSERT INTO app.fixed VALUES (600, 6, 6); UPDATE app.fixed SET v = 0 WHERE id = 1")
        .await;
    let _restarted = Ferry::spawn(&file, &log);
    wait_caught_up(&src, &dst, "default/ops", WAIT).await;

    let kept: u64 = dst.scalar("SELECT COUNT(*) FROM app.keep").await;
    assert_eq!(kept, 101, "deletes were applied although `delete` is off");
    let flipped: i64 = dst.scalar("SELECT SUM(v) FROM app.keep WHERE id BETWEEN 91 AND 100").await;
    assert_eq!(flipped, -955, "updates were not applied");
    assert_eq!(
        columns_of(&dst, "app", "fixed").await,
        vec!["id", "v"],
        "the column was added although `addColumn` is off"
    );
    let want = query_rows(&src, "SELECT id, v FROM app.fixed ORDER BY id").await;
    assert_eq!(want, query_rows(&dst, "SELECT id, v FROM app.fixed ORDER BY id").await);
}

/// `ALTER TABLE … ADD COLUMN … AFTER` in the middle of a table, with DML before and after it,
/// followed live; then the worker is killed, more DML, a second ADD COLUMN (two columns, one
/// FIRST) and more DML happen while it is down, and the restarted worker replays across that
/// DDL, decoding the older events with the table as it was then. Source and destination are
/// equal on every column, in the source's column order.
#[tokio::test(flavor = "multi_thread")]
async fn ddl_add_column_mid_table() {
    let (src, dst) = pair().await;
    src.exec(
        "CREATE DATABASE app; USE app; CREATE TABLE app.t (id INT PRIMARY KEY, a VARCHAR(20), b INT); \
         INSERT INTO app.t SELECT seq, CONCAT('a', seq), seq FROM seq_1_to_1000",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = task_file(dir.path(), "ddl", &src, &dst, "[{database: app}]", "");
    let log = dir.path().join("ferry.log");
    let mut ferry = Ferry::spawn(&file, &log);
    let _log = ferry.keep_log_on_panic();
    wait_caught_up(&src, &dst, "default/ddl", WAIT).await;
    src.exec(
        "UPDATE app.t SET b = b + 1 WHERE id <= 100; \
         ALTER TABLE app.t ADD COLUMN c INT NOT NULL DEFAULT 7 AFTER a; \
         UPDATE app.t SET c = id, b = 0 WHERE id BETWEEN 50 AND 150; INSERT INTO app.t (id, a, c, b) VALUES (2000, 'new', 1, 1)",
    )
    .await;
    wait_caught_up(&src, &dst, "default/ddl", WAIT).await;
    assert_same_rows(&src, &dst, "app", "t").await;

    ferry.kill9();
    src.exec(
        "UPDATE app.t SET a = 'before' WHERE id BETWEEN 300 AND 320; INSERT INTO app.t (id, a, c, b) VALUES (3000, 'pre', 2, 2); \
         ALTER TABLE app.t ADD COLUMN d VARCHAR(10) DEFAULT 'dd', ADD COLUMN z DATE NULL FIRST; \
         UPDATE app.t SET d = 'after', z = '2024-02-29' WHERE id BETWEEN 310 AND 330; DELETE FROM app.t WHERE id = 3000; \
         INSERT INTO app.t (id, a, c, b, d) VALUES (4000, 'post', 3, 3, NULL)",
    )
    .await;
    let restarted = Ferry::spawn(&file, &log);
    wait_caught_up(&src, &dst, "default/ddl", WAIT).await;
    assert_eq!(columns_of(&dst, "app", "t").await, vec!["z", "id", "a", "c", "b", "d"]);
    let rows = assert_same_rows(&src, &dst, "app", "t").await;
    assert_eq!(rows, 1002);
    drop(restarted);
}

/// A table created on the source that the selection matches is created in the destination and
/// followed from its creation; TRUNCATE and DROP COLUMN are applied, an index change is
/// skipped, DROP TABLE drops it; and a change Ferry cannot follow (MODIFY COLUMN) stops the
/// task naming the statement and its binlog position, after everything before it was applied.
#[tokio::test(flavor = "multi_thread")]
async fn create_dml_drop_table_followed_and_unsupported_ddl_stops() {
    let (src, dst) = pair().await;
    src.exec("CREATE DATABASE app; CREATE TABLE app.base (id INT PRIMARY KEY, v INT); INSERT INTO app.base VALUES (1, 1)")
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = task_file(dir.path(), "life", &src, &dst, "[{database: app}]", "");
    let mut ferry = Ferry::spawn(&file, &dir.path().join("ferry.log"));
    let _log = ferry.keep_log_on_panic();
    wait_caught_up(&src, &dst, "default/life", WAIT).await;

    src.exec(
        "USE app; CREATE TABLE app.born (id INT PRIMARY KEY, v VARCHAR(10), w INT); \
         INSERT INTO app.born SELECT seq, CONCAT('v', seq), seq FROM seq_1_to_300; UPDATE app.born SET v = 'u' WHERE id < 10; \
         DELETE FROM app.born WHERE id > 290; CREATE INDEX by_w ON app.born (w)",
    )
    .await;
    wait_caught_up(&src, &dst, "default/life", WAIT).await;
    assert_same_rows(&src, &dst, "app", "born").await;

    src.exec("ALTER TABLE app.born DROP COLUMN w; TRUNCATE TABLE app.born; INSERT INTO app.born VALUES (7, 'again')")
        .await;
    wait_caught_up(&src, &dst, "default/life", WAIT).await;
    assert_eq!(columns_of(&dst, "app", "born").await, vec!["id", "v"]);
    assert_eq!(assert_same_rows(&src, &dst, "app", "born").await, 1);

    src.exec("DROP TABLE app.born").await;
    wait_caught_up(&src, &dst, "default/life", WAIT).await;
    let left: u64 = dst
        .scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'born'")
        .await;
    assert_eq!(left, 0, "the dropped table is still in the destination");

    src.exec("INSERT INTO app.base VALUES (2, 2); ALTER TABLE app.base MODIFY v BIGINT; INSERT INTO app.base VALUES (3, 3)")
        .await;
    let status = ferry.wait(WAIT).expect("the task stops");
    assert_eq!(status.code(), Some(1), "{}", ferry.log_text());
    let log = ferry.log_text();
    assert!(
        log.contains("MODIFY COLUMN") && log.contains("ALTER TABLE app.base MODIFY v BIGINT"),
        "{log}"
    );
    assert!(log.contains("binlog.000"), "the position is not named: {log}");
    let applied: u64 = dst.scalar("SELECT COUNT(*) FROM app.base").await;
    assert_eq!(applied, 2, "the insert before the DDL was not applied");
}

/// With `heartbeat` on, an idle source keeps moving: the worker writes its row in
/// `ferry.ferry_heartbeat` every interval, and the checkpoint follows the binlog it creates.
#[tokio::test(flavor = "multi_thread")]
async fn heartbeat_keeps_an_idle_source_moving() {
    let (src, dst) = pair().await;
    src.exec("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT); INSERT INTO app.t VALUES (1, 1)")
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = task_file(
        dir.path(),
        "hb",
        &src,
        &dst,
        "[{database: app}]",
        "  heartbeat: {enabled: true, interval: 1s}\n",
    );
    let ferry = Ferry::spawn(&file, &dir.path().join("ferry.log"));
    let _log = ferry.keep_log_on_panic();
    wait_caught_up(&src, &dst, "default/hb", WAIT).await;
    let before = support::checkpoint(&dst, "default/hb").await.expect("checkpoint");
    support::eventually(Duration::from_secs(30), "the checkpoint to move with the heartbeat", || async {
        let now = support::checkpoint(&dst, "default/hb").await.expect("checkpoint");
        now.pointer("/position/pos") != before.pointer("/position/pos")
    })
    .await;
    let age: i64 = src
        .scalar("SELECT TIMESTAMPDIFF(SECOND, beat, UTC_TIMESTAMP(6)) FROM ferry.ferry_heartbeat WHERE task = 'default/hb'")
        .await;
    assert!(age <= 5, "the heartbeat is {age}s old");
    assert_same_rows(&src, &dst, "app", "t").await;
}
