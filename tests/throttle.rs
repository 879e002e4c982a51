//! Load limits against real MariaDB servers: each limit of `spec.throttling` holds within ±10%
//! over a 20-second window, in both phases. Each limit runs as its own task (its own `ferry run`
//! process and metrics), all at once on one source and destination; rates are read from the
//! counters each process serves (`ferry_rows_copied_total`, `ferry_source_queries_total`,
//! `ferry_events_applied_total`, `ferry_bytes_read_total`).
//!
//! These assert that limits are honoured — a rate well under the limit or over it fails — not
//! how fast Ferry is (that is `make bench`).

mod support;

use std::time::{Duration, Instant};

use support::{Ferry, MariaDb, free_port, metric, task_file, wait_caught_up};

const WINDOW: Duration = Duration::from_secs(20);

struct Limited {
    name: &'static str,
    addr: String,
    counter: &'static str,
    limit: f64,
    _ferry: Ferry,
}

/// Starts one task per (name, table, throttling YAML, counter, limit per second).
fn start(dir: &std::path::Path, src: &MariaDb, dst: &MariaDb, specs: &[(&'static str, &str, &str, &'static str, f64)]) -> Vec<Limited> {
    specs
        .iter()
        .map(|&(name, table, throttling, counter, limit)| {
            let objects = format!("[{{database: app, targetName: {name}, tables: [{{name: {table}}}]}}]");
            let file = task_file(
                dir,
                name,
                src,
                dst,
                &objects,
                &format!("  throttling: {throttling}\n  worker: {{batchRows: 100}}\n"),
            );
            let addr = format!("127.0.0.1:{}", free_port());
            let ferry = Ferry::spawn_metrics(&file, &dir.join(format!("{name}.log")), &addr);
            Limited {
                name,
                addr,
                counter,
                limit,
                _ferry: ferry,
            }
        })
        .collect()
}

/// Waits until every task's counter moves, lets one more second pass (the bucket starts full),
/// then measures each over [`WINDOW`] and checks it is within ±10% of its limit.
async fn assert_rates(limited: &[Limited]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for l in limited {
        while metric(&l.addr, l.counter).unwrap_or(0.0) < l.limit {
            assert!(Instant::now() < deadline, "{}: {} never moved", l.name, l.counter);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before: Vec<f64> = limited.iter().map(|l| metric(&l.addr, l.counter).expect("metric")).collect();
    let started = Instant::now();
    tokio::time::sleep(WINDOW).await;
    let elapsed = started.elapsed().as_secs_f64();
    for (l, b) in limited.iter().zip(before) {
        let rate = (metric(&l.addr, l.counter).expect("metric") - b) / elapsed;
        println!("{}: {rate:.1}/s against a limit of {}/s", l.name, l.limit);
        assert!(
            (rate - l.limit).abs() <= 0.1 * l.limit,
            "{}: {rate:.1}/s is not within 10% of {}/s",
            l.name,
            l.limit
        );
    }
}

/// Full sync: rows per second, source queries per second, MB/s.
#[tokio::test(flavor = "multi_thread")]
async fn full_sync_limits_hold() {
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec(
        "CREATE DATABASE app; USE app; \
         CREATE TABLE rows_t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO rows_t SELECT seq, 'v' FROM seq_1_to_60000; \
         CREATE TABLE queries_t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO queries_t SELECT seq, 'v' FROM seq_1_to_60000; \
         CREATE TABLE bytes_t (id INT PRIMARY KEY, v VARCHAR(2000)); INSERT INTO bytes_t SELECT seq, REPEAT('b', 1000) FROM seq_1_to_40000",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let limited = start(
        dir.path(),
        &src,
        &dst,
        &[
            ("rps", "rows_t", "{full: {rps: 2000}}", "ferry_rows_copied_total", 2000.0),
            ("qps", "queries_t", "{full: {sourceQps: 15}}", "ferry_source_queries_total", 15.0),
            ("mbps", "bytes_t", "{full: {mbps: 1}}", "ferry_bytes_read_total", 1_048_576.0),
        ],
    );
    assert_rates(&limited).await;
}

/// Incremental sync: row events per second and MB/s, over a backlog made after the copy.
#[tokio::test(flavor = "multi_thread")]
async fn incremental_limits_hold() {
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec(
        "CREATE DATABASE app; USE app; \
         CREATE TABLE rows_t (id INT PRIMARY KEY, n INT); INSERT INTO rows_t SELECT seq, 0 FROM seq_1_to_40000; \
         CREATE TABLE bytes_t (id INT PRIMARY KEY, v VARCHAR(2000)); INSERT INTO bytes_t SELECT seq, REPEAT('a', 1000) FROM seq_1_to_20000",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let limited = start(
        dir.path(),
        &src,
        &dst,
        &[
            ("irps", "rows_t", "{incremental: {rps: 1000}}", "ferry_events_applied_total", 1000.0),
            (
                "imbps",
                "bytes_t",
                "{incremental: {mbps: 1}}",
                "ferry_bytes_read_total",
                1_048_576.0,
            ),
        ],
    );
    for l in &limited {
        wait_caught_up(&src, &dst, &format!("default/{}", l.name), Duration::from_secs(120)).await;
    }
    // The backlog: 40,000 row events, and 20,000 events of ~2 KB (before and after images).
    src.exec("UPDATE app.rows_t SET n = n + 1; UPDATE app.bytes_t SET v = REPEAT('c', 1000)")
        .await;
    assert_rates(&limited).await;
}
