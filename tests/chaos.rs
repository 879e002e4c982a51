//! Faults, limits and the proof that nothing was lost, against real MariaDB servers: a worker
//! killed with SIGKILL, the source and the destination restarted, all under a write load;
//! load limits honoured; and `ferry verify`, which the other scenarios use as their proof.

mod support;

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use support::{Ferry, MariaDb, assert_same_rows, ferry_cli, free_port, load, metric, proxy::Proxy, task_file, wait_caught_up};

const WAIT: Duration = Duration::from_secs(300);
const SHOP_TABLES: [&str; 5] = ["all_types", "kv_varchar", "composite", "legacy_latin1", "unique_key_only"];

/// `ferry verify` says equal (exit 0) when the destination has caught up, also while rows are
/// still in flight when it starts; after the destination is tampered with it lists each
/// differing key — missing, extra, different — and exits 1. Filters and renames are honoured.
#[tokio::test(flavor = "multi_thread")]
async fn verify_finds_what_differs_and_tolerates_rows_in_flight() {
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec(
        "CREATE DATABASE app; USE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20), n INT); \
         INSERT INTO app.t SELECT seq, CONCAT('v', seq), seq % 10 FROM seq_1_to_12000",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let objects = "[{database: app, targetName: copy, tables: [{name: t, targetName: u, columnMapping: {v: w}, filter: \"n <> 3\"}]}]";
    let file = task_file(dir.path(), "v", &src, &dst, objects, "");
    let ferry = Ferry::spawn(&file, &dir.path().join("ferry.log"));
    let _log = ferry.keep_log_on_panic();
    wait_caught_up(&src, &dst, "default/v", WAIT).await;

    // Rows in flight: a burst of changes right before verify starts.
    src.exec("UPDATE app.t SET v = 'moving' WHERE id % 7 = 0; DELETE FROM app.t WHERE id > 11900")
        .await;
    let (code, out) = ferry_cli("verify", &file, &["--chunk", "1000", "--settle", "5s"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("app.t") && out.contains("copy.u") && out.contains("equal"), "{out}");

    drop(ferry);
    dst.exec(
        "DELETE FROM copy.u WHERE id = 5; UPDATE copy.u SET w = 'tampered' WHERE id = 6000; INSERT INTO copy.u VALUES (99999, 'x', 1)",
    )
    .await;
    let (code, out) = ferry_cli("verify", &file, &["-o", "json", "--chunk", "1000", "--settle", "1s"]);
    assert_eq!(code, Some(1), "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["equal"], false);
    let table = &report["tables"][0];
    assert_eq!(table["differing"], 3, "{out}");
    let kinds: Vec<(String, String)> = table["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or("").to_string(),
                d["key"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for want in [("missing", "id=5"), ("different", "id=6000"), ("extra", "id=99999")] {
        assert!(
            kinds.iter().any(|(k, key)| k == want.0 && key == want.1),
            "{want:?} not in {kinds:?}"
        );
    }
}

/// `throttling.full.rps` and `throttling.incremental.rps` hold the rates down (a token bucket
/// of one second: N rows above the rate take at least N / rate seconds), the time spent
/// waiting shows in `ferry_throttled_seconds_total`, and the rows arrive intact.
#[tokio::test(flavor = "multi_thread")]
async fn throttling_holds_full_and_incremental_rates() {
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec(
        "CREATE DATABASE app; USE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20)); \
         INSERT INTO app.t SELECT seq, 'v' FROM seq_1_to_3000",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = task_file(
        dir.path(),
        "slow",
        &src,
        &dst,
        "[{database: app}]",
        "  throttling: {full: {rps: 1000, sourceQps: 50}, incremental: {rps: 500}}\n  worker: {batchRows: 100}\n",
    );
    let addr = format!("127.0.0.1:{}", free_port());
    let started = Instant::now();
    let ferry = Ferry::spawn_metrics(&file, &dir.path().join("ferry.log"), &addr);
    let _log = ferry.keep_log_on_panic();
    wait_caught_up(&src, &dst, "default/slow", WAIT).await;
    // 3000 rows at 1000/s with a 1000-row bucket: at least 2 s.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the full sync took {:?}",
        started.elapsed()
    );
    let after_full = metric(&addr, "ferry_throttled_seconds_total").expect("metric");
    assert!(after_full >= 1.0, "throttled {after_full}s during the full sync");

    let started = Instant::now();
    src.exec("UPDATE app.t SET v = 'changed'").await;
    wait_caught_up(&src, &dst, "default/slow", WAIT).await;
    // 3000 row events at 500/s with a 500-row bucket: at least 5 s.
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "incremental took {:?}",
        started.elapsed()
    );
    let after_incremental = metric(&addr, "ferry_throttled_seconds_total").expect("metric");
    assert!(after_incremental - after_full >= 3.0, "throttled {after_incremental}s in all");
    assert_same_rows(&src, &dst, "app", "t").await;
}

/// Faults of the chaos schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    KillWorker,
    RestartPrimary,
    RestartDestination,
    KillDumpConnections,
    DestinationUnreachable,
    Switchover,
}

const FAULTS: [Fault; 6] = [
    Fault::KillWorker,
    Fault::RestartPrimary,
    Fault::RestartDestination,
    Fault::KillDumpConnections,
    Fault::DestinationUnreachable,
    Fault::Switchover,
];

/// Makes `replica` follow `primary` by GTID from its current position.
async fn follow(replica: &MariaDb, primary: &MariaDb) {
    replica
        .exec(&format!(
            "SET GLOBAL read_only = ON; STOP SLAVE; CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, \
             MASTER_USER = 'ferry', MASTER_PASSWORD = 'ferry-pass', MASTER_USE_GTID = current_pos, MASTER_CONNECT_RETRY = 1; \
             START SLAVE",
            primary.port
        ))
        .await;
}

/// A seeded schedule of faults during a mixed write load (inserts, updates including key
/// changes, deletes, multi-statement and large transactions, ADD COLUMN): SIGKILL of the
/// worker, a source (primary) restart, a destination restart, the binlog dump connections
/// killed on the server, the destination unreachable for 30 s, and primary/replica
/// switchovers behind a moving endpoint. Afterwards `ferry verify` and an independent
/// row-by-row comparison both find the destination equal to the current primary.
///
/// `FERRY_CHAOS_FAULTS` (default 20) sets the number of faults, `FERRY_CHAOS_OUTAGE_SECS`
/// (default 30) the outage, `FERRY_TEST_SEED` replays a schedule; `make chaos` runs a longer
/// soak.
#[tokio::test(flavor = "multi_thread")]
async fn chaos_schedule_loses_nothing() {
    let env = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let faults = env("FERRY_CHAOS_FAULTS", 20) as usize;
    let outage = Duration::from_secs(env("FERRY_CHAOS_OUTAGE_SECS", 30));
    let seed = env("FERRY_TEST_SEED", rand::random());
    println!("chaos_schedule_loses_nothing: {faults} faults, seed {seed} (set FERRY_TEST_SEED to replay)");
    let mut rng = StdRng::seed_from_u64(seed);

    let (a, b, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(3), MariaDb::start(2));
    b.exec("RESET MASTER; SET GLOBAL gtid_slave_pos = ''").await;
    follow(&b, &a).await;
    a.exec(include_str!("fixtures/shop.sql")).await;
    let servers = [&a, &b];
    let mut primary = 0usize;
    let source = Proxy::start(a.port).await;
    let destination = Proxy::start(dst.port).await;
    let writes = mysql_async::Pool::new(
        format!(
            "mysql://ferry:ferry-pass@127.0.0.1:{}/?prefer_socket=false&pool_min=0&pool_max=4",
            source.port
        )
        .as_str(),
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let file = task_file(
        dir.path(),
        "chaos",
        &a,
        &dst,
        "[{database: shop}]",
        "  worker: {applyLanes: 4}\n  heartbeat: {enabled: true, interval: 1s}\n",
    );
    let text = std::fs::read_to_string(&file).expect("read");
    let text = text
        .replacen(&format!("port: {}", a.port), &format!("port: {}", source.port), 1)
        .replacen(&format!("port: {}", dst.port), &format!("port: {}", destination.port), 1);
    std::fs::write(&file, text).expect("write");
    let log = dir.path().join("ferry.log");
    let mut ferry = Ferry::spawn(&file, &log);

    // Every fault at least once, the rest drawn from the seed; one outage of `outage`.
    let mut schedule: Vec<Fault> = FAULTS.to_vec();
    while schedule.len() < faults {
        let f = FAULTS[rng.random_range(0..FAULTS.len())];
        if f != Fault::DestinationUnreachable {
            schedule.push(f);
        }
    }
    schedule.shuffle(&mut rng);
    let mut done = 0usize;
    let mut columns = 0;
    for (i, fault) in schedule.iter().enumerate() {
        done += load::run_through_faults(&writes, seed.wrapping_add(i as u64), 150).await;
        if i == 3 {
            load::large_transaction(&writes).await;
        }
        if rng.random_range(0..4) == 0 {
            columns += 1;
            let mut conn = writes.get_conn().await.expect("connect");
            conn.query_drop(format!("ALTER TABLE shop.kv_varchar ADD COLUMN c{columns} INT DEFAULT {columns}"))
                .await
                .expect("add column");
        }
        println!("fault {i}: {fault:?}");
        match fault {
            Fault::KillWorker => {
                ferry.kill9();
                ferry = Ferry::spawn(&file, &log);
            }
            Fault::RestartPrimary => {
                servers[primary].stop();
                tokio::time::sleep(Duration::from_secs(1)).await;
                servers[primary].restart();
            }
            Fault::RestartDestination => {
                dst.stop();
                tokio::time::sleep(Duration::from_secs(1)).await;
                dst.restart();
            }
            Fault::KillDumpConnections => {
                let mut conn = servers[primary].pool.get_conn().await.expect("connect");
                let ids: Vec<u64> = conn
                    .query("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
                    .await
                    .expect("processlist");
                for id in ids {
                    let _ = conn.query_drop(format!("KILL {id}")).await;
                }
            }
            Fault::DestinationUnreachable => {
                destination.switch(free_port());
                done += load::run_through_faults(&writes, seed ^ 0xdead, 300).await;
                tokio::time::sleep(outage).await;
                destination.switch(dst.port);
            }
            Fault::Switchover => {
                let (old, new) = (servers[primary], servers[1 - primary]);
                // No writes reach anyone while roles change; then the old primary is read-only,
                // the replica has everything, and the endpoint moves.
                source.switch(free_port());
                old.exec("SET GLOBAL read_only = ON").await;
                let gtid: String = old.scalar("SELECT @@GLOBAL.gtid_binlog_pos").await;
                let waited: i64 = new.scalar(&format!("SELECT MASTER_GTID_WAIT('{gtid}', 120)")).await;
                assert_eq!(waited, 0, "the replica did not catch up with {gtid} (seed {seed})");
                new.exec("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF").await;
                follow(old, new).await;
                primary = 1 - primary;
                source.switch(servers[primary].port);
            }
        }
    }
    done += load::run_through_faults(&writes, seed ^ 0xfeed, 200).await;
    assert!(done > faults * 50, "the load barely ran ({done} operations)");
    let _log = ferry.keep_log_on_panic();

    let current = servers[primary];
    support::wait_caught_up_gtid(current, &dst, "default/chaos", WAIT).await;
    for table in SHOP_TABLES {
        assert_same_rows(current, &dst, "shop", table).await;
    }
    let (code, out) = ferry_cli("verify", &file, &["--settle", "2s"]);
    assert_eq!(code, Some(0), "seed {seed}: {out}");
    assert!(
        ferry.child.try_wait().expect("try_wait").is_none(),
        "ferry exited instead of riding out the faults (seed {seed}):\n{}",
        ferry.log_text()
    );
}

/// The binlog-retention guard: with the source keeping binlogs 40 s and the destination down
/// while the source writes, the task falls behind; once less than half the retention is left,
/// `ferry_binlog_purge_margin_seconds` says so and the worker warns with the remedy. When the
/// destination is back and the task catches up, the margin recovers. (The lag grows while the
/// task retries, rather than showing its last value.)
#[tokio::test(flavor = "multi_thread")]
async fn retention_guard_warns_before_the_binlog_is_purged() {
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec("SET GLOBAL binlog_expire_logs_seconds = 40; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT)")
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = task_file(
        dir.path(),
        "keep",
        &src,
        &dst,
        "[{database: app}]",
        "  precheck: {ignore: [binlogRetention]}\n",
    );
    let addr = format!("127.0.0.1:{}", free_port());
    let ferry = Ferry::spawn_metrics(&file, &dir.path().join("ferry.log"), &addr);
    let _log = ferry.keep_log_on_panic();
    wait_caught_up(&src, &dst, "default/keep", WAIT).await;
    assert_eq!(metric(&addr, "ferry_source_binlog_retention_seconds"), Some(40.0));

    dst.stop();
    src.exec("INSERT INTO app.t VALUES (1, 1)").await;
    support::eventually(Duration::from_secs(60), "the purge margin to fall below half the retention", || {
        let margin = metric(&addr, "ferry_binlog_purge_margin_seconds").unwrap_or(-1.0);
        async move { (0.0..20.0).contains(&margin) }
    })
    .await;
    let lag = metric(&addr, "ferry_lag_seconds").unwrap_or(0.0);
    assert!(lag >= 15.0, "the lag did not grow while the destination was down: {lag}");
    support::eventually(Duration::from_secs(10), "the warning", || {
        let warned = ferry.log_text().contains("the binlog from the checkpoint may be purged");
        async move { warned }
    })
    .await;

    dst.restart();
    wait_caught_up(&src, &dst, "default/keep", WAIT).await;
    support::eventually(Duration::from_secs(30), "the margin to recover", || {
        let margin = metric(&addr, "ferry_binlog_purge_margin_seconds").unwrap_or(0.0);
        async move { margin > 30.0 }
    })
    .await;
    assert_same_rows(&src, &dst, "app", "t").await;
}

/// A failure that is not a connection failure (the destination rejects a value) is retried with
/// backoff inside `retry.otherFailures` (1 minute here), the progress naming the cause and the
/// attempt; when the window closes, the task stops with a definite error that names the window,
/// the attempts and the last cause.
#[tokio::test(flavor = "multi_thread")]
async fn other_failures_stop_when_their_window_closes() {
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO app.t VALUES (1, 'much too long')")
        .await;
    dst.exec("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(3))")
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = task_file(
        dir.path(),
        "window",
        &src,
        &dst,
        "[{database: app}]",
        "  conflictingTables: ignore\n  retry: {connectionFailures: 10m, otherFailures: 1m}\n",
    );
    let started = Instant::now();
    let mut ferry = Ferry::spawn(&file, &dir.path().join("ferry.log"));
    let status = ferry.wait(Duration::from_secs(180)).expect("the window closes");
    assert_eq!(status.code(), Some(1), "{}", ferry.log_text());
    assert!(
        started.elapsed() >= Duration::from_secs(60),
        "gave up after {:?}",
        started.elapsed()
    );
    let log = ferry.log_text();
    assert!(
        log.contains("retrying: ") && log.contains("(attempt "),
        "no retry progress in:\n{log}"
    );
    assert!(
        log.contains("retry window spec.retry.otherFailures (60s) closed after") && log.contains("Data too long"),
        "{log}"
    );
}
