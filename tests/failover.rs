//! Source failover by GTID against real MariaDB servers: a primary, a replica (GTID
//! replication, `log_slave_updates`), and an endpoint (a TCP forwarder, as a DNS name or VIP
//! would be) that moves to the replica at a switchover. The worker reconnects and continues
//! from its GTID position on the new primary, whose binlog files and offsets differ; when the
//! endpoint reaches a server without the task's GTIDs it stops with the remedy.
//!
//! Checked against documentation only: MySQL's COM_BINLOG_DUMP_GTID (the same resume, with
//! GTID sets).

mod support;

use std::time::Duration;

use support::{Ferry, MariaDb, assert_same_rows, proxy::Proxy, task_file, wait_caught_up};

const WAIT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread")]
async fn switchover_continues_from_the_gtid_position() {
    let (primary, replica, dst, stranger) = tokio::join!(MariaDb::start(1), MariaDb::start(3), MariaDb::start(2), MariaDb::start(4));
    // The replica starts from an empty GTID history and follows the primary from its first
    // transaction.
    replica
        .exec(&format!(
            "RESET MASTER; SET GLOBAL gtid_slave_pos = ''; CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, \
             MASTER_USER = 'ferry', MASTER_PASSWORD = 'ferry-pass', MASTER_USE_GTID = slave_pos; START SLAVE",
            primary.port
        ))
        .await;
    primary
        .exec(
            "CREATE DATABASE app; USE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20)); \
             INSERT INTO app.t SELECT seq, 'first' FROM seq_1_to_5000",
        )
        .await;
    let endpoint = Proxy::start(primary.port).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = task_file(dir.path(), "fo", &primary, &dst, "[{database: app}]", "");
    let text = std::fs::read_to_string(&file).expect("read");
    let text = text.replacen(&format!("port: {}", primary.port), &format!("port: {}", endpoint.port), 1);
    std::fs::write(&file, text).expect("write");
    let mut ferry = Ferry::spawn(&file, &dir.path().join("ferry.log"));
    let _log = ferry.keep_log_on_panic();
    primary
        .exec("UPDATE app.t SET v = 'second' WHERE id <= 1000; DELETE FROM app.t WHERE id > 4900")
        .await;
    wait_caught_up(&primary, &dst, "default/fo", WAIT).await;

    // Switchover: the replica catches up, stops replicating, and takes the endpoint.
    let gtid: String = primary.scalar("SELECT @@GLOBAL.gtid_binlog_pos").await;
    let waited: i64 = replica.scalar(&format!("SELECT MASTER_GTID_WAIT('{gtid}', 60)")).await;
    assert_eq!(waited, 0, "the replica did not catch up with {gtid}");
    replica.exec("STOP SLAVE; RESET SLAVE ALL").await;
    primary.exec("SET GLOBAL read_only = ON").await;
    endpoint.switch(replica.port);
    replica
        .exec("UPDATE app.t SET v = 'after failover' WHERE id BETWEEN 500 AND 1500; INSERT INTO app.t VALUES (9000, 'new primary')")
        .await;
    support::wait_caught_up_gtid(&replica, &dst, "default/fo", WAIT).await;
    assert_same_rows(&replica, &dst, "app", "t").await;
    assert!(
        ferry.child.try_wait().expect("try_wait").is_none(),
        "ferry stopped:\n{}",
        ferry.log_text()
    );

    // A server that never had these transactions: a definite stop with the remedy.
    stranger
        .exec("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))")
        .await;
    endpoint.switch(stranger.port);
    stranger.exec("INSERT INTO app.t VALUES (1, 'elsewhere')").await;
    let status = ferry.wait(WAIT).expect("ferry stops");
    assert_eq!(status.code(), Some(1), "{}", ferry.log_text());
    let log = ferry.log_text();
    assert!(
        log.contains("lacks the task's GTIDs") && log.contains("full sync"),
        "no remedy in:\n{log}"
    );
}
