//! `ferry run` as a user meets it: metrics and health, a clean stop on Ctrl-C, fencing of a
//! second worker, and clear refusals of bad input — against real MariaDB servers.

mod support;

use std::{process::Command, time::Duration};

use support::{Ferry, MariaDb, assert_same_rows, checkpoint, eventually, free_port, task_file, wait_caught_up};

async fn app_pair(rows: u32) -> (MariaDb, MariaDb) {
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec(&format!(
        "CREATE DATABASE app; USE app; CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(50)); \
         INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_{rows}"
    ))
    .await;
    (src, dst)
}

fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    Some(body)
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// `/metrics` reports the rows copied and events applied, `/healthz` answers.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_health_are_served() {
    let (src, dst) = app_pair(5000).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = task_file(dir.path(), "metrics", &src, &dst, "[{database: app}]", "");
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("ferry.log")).expect("log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "run",
            "-f",
            &file.display().to_string(),
            "--plain",
            "--metrics-addr",
            &format!("127.0.0.1:{port}"),
        ])
        .stderr(log)
        .spawn()
        .expect("spawn");
    wait_caught_up(&src, &dst, "default/metrics", Duration::from_secs(60)).await;
    src.exec("UPDATE app.t SET v = 'x' WHERE id <= 10").await;
    wait_caught_up(&src, &dst, "default/metrics", Duration::from_secs(60)).await;
    let mut body = String::new();
    eventually(Duration::from_secs(10), "metrics to show the update", || {
        body = http_get(port, "/metrics").unwrap_or_default();
        let applied = metric(&body, "ferry_events_applied_total").unwrap_or(0.0);
        async move { applied >= 10.0 }
    })
    .await;
    assert_eq!(metric(&body, "ferry_rows_copied_total"), Some(5000.0), "{body}");
    assert_eq!(metric(&body, "ferry_tables_done"), Some(1.0), "{body}");
    assert!(body.contains("task=\"default/metrics\""), "{body}");
    assert!(!body.contains("ferry-pass"), "a secret leaked into metrics");
    assert!(http_get(port, "/healthz").unwrap_or_default().ends_with("ok"));
    let _ = child.kill();
    let _ = child.wait();
}

/// SIGINT stops the worker at a batch boundary: exit 0, checkpoint saved at the source's end.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_cleanly_with_the_checkpoint_saved() {
    let (src, dst) = app_pair(2000).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = task_file(dir.path(), "sigint", &src, &dst, "[{database: app}]", "");
    let mut ferry = Ferry::spawn(&file, &dir.path().join("ferry.log"));
    src.exec("DELETE FROM app.t WHERE id % 2 = 0").await;
    wait_caught_up(&src, &dst, "default/sigint", Duration::from_secs(60)).await;
    let pid = ferry.child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().expect("kill").success());
    let status = ferry.wait(Duration::from_secs(30)).expect("ferry stops within 30 s of SIGINT");
    assert!(status.success(), "exit {status:?}:\n{}", ferry.log_text());
    assert!(ferry.log_text().contains("saving the checkpoint"), "{}", ferry.log_text());
    let (file_now, pos_now) = src.binlog_end().await;
    let cp = checkpoint(&dst, "default/sigint").await.expect("checkpoint row");
    assert_eq!(cp.pointer("/position/file").and_then(|v| v.as_str()), Some(file_now.as_str()));
    assert_eq!(cp.pointer("/position/pos").and_then(|v| v.as_u64()), Some(pos_now));
    assert_same_rows(&src, &dst, "app", "t").await;
}

/// SIGTERM while a filter is evaluated on a long value still stops the worker, and the lag
/// grows meanwhile instead of showing its last value. The filter is a backtracking LIKE (`%`,
/// 3,000 `a`, `b`) and the value 4 MB of `a`: about 10^10 steps for Ferry's O(row x pattern)
/// matcher, far more than the wait below in any build; the evaluation asks whether to stop as
/// it goes. The 20 s deadline is the stop's promise (a Pod's grace period is 30 s), not a
/// performance figure; that the evaluation was still running is checked, not assumed.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_a_long_filter_evaluation() {
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    let matching = "CONCAT(REPEAT('a', 3000), 'b')";
    src.exec(&format!(
        "CREATE DATABASE app; USE app; CREATE TABLE t (id INT PRIMARY KEY, v LONGTEXT); \
         INSERT INTO t VALUES (1, 'ab'), (2, {matching})"
    ))
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let objects = format!(
        "[{{database: app, tables: [{{name: t, filter: \"v LIKE '%{}b'\"}}]}}]",
        "a".repeat(3000)
    );
    let file = task_file(dir.path(), "longlike", &src, &dst, &objects, "");
    let port = free_port();
    let mut ferry = Ferry::spawn_metrics(&file, &dir.path().join("ferry.log"), &format!("127.0.0.1:{port}"));
    wait_caught_up(&src, &dst, "default/longlike", Duration::from_secs(60)).await;
    let ids = "SELECT COALESCE(GROUP_CONCAT(id ORDER BY id), '') FROM app.t";
    let copied: String = dst.scalar(ids).await;
    assert_eq!(copied, "2", "the filter selects row 2 only");
    let before_long_row = src.binlog_end().await;
    src.exec("INSERT INTO app.t VALUES (10, REPEAT('a', 4000000))").await;
    src.exec(&format!("INSERT INTO app.t VALUES (11, {matching})")).await;
    eventually(Duration::from_secs(60), "the lag to grow while the long row is evaluated", || {
        let lag = http_get(port, "/metrics").and_then(|m| metric(&m, "ferry_lag_seconds"));
        async move { lag.is_some_and(|lag| lag >= 3.0) }
    })
    .await;
    let behind: String = dst.scalar(ids).await;
    assert_eq!(behind, "2", "the evaluation ended before the stop: this test proves nothing");
    let pid = ferry.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let status = ferry
        .wait(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("ferry did not stop within 20 s of SIGTERM:\n{}", ferry.log_text()));
    assert!(status.success(), "exit {status:?}:\n{}", ferry.log_text());
    // The checkpoint stays before the long row's transaction: it is read again next run.
    let cp = checkpoint(&dst, "default/longlike").await.expect("checkpoint row");
    let at = (
        cp.pointer("/position/file")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string(),
        cp.pointer("/position/pos").and_then(|v| v.as_u64()).unwrap_or_default(),
    );
    assert!(
        at <= before_long_row,
        "the checkpoint {at:?} moved past the long row's transaction (it began at {before_long_row:?})"
    );
}

/// A second worker on the same task takes over; the first one's next write is refused and it
/// stops with an error that says so. The data stays correct.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_worker_fences_the_first() {
    let (src, dst) = app_pair(1000).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = task_file(dir.path(), "fenced", &src, &dst, "[{database: app}]", "");
    let mut first = Ferry::spawn(&file, &dir.path().join("first.log"));
    wait_caught_up(&src, &dst, "default/fenced", Duration::from_secs(60)).await;
    let second = Ferry::spawn(&file, &dir.path().join("second.log"));
    eventually(Duration::from_secs(30), "the second worker to claim the task", || async {
        second.log_text().contains("claimed the task")
    })
    .await;
    src.exec("UPDATE app.t SET v = 'after takeover' WHERE id < 100").await;
    let status = first.wait(Duration::from_secs(30)).expect("the first worker stops");
    assert_eq!(status.code(), Some(1), "{}", first.log_text());
    assert!(first.log_text().contains("was claimed by another worker"), "{}", first.log_text());
    wait_caught_up(&src, &dst, "default/fenced", Duration::from_secs(60)).await;
    assert_same_rows(&src, &dst, "app", "t").await;
}

/// A task naming a Secret key that is neither in the file nor in the environment is refused
/// (exit 2) with the variable to set — and no secret value is printed.
#[test]
fn a_missing_secret_names_the_variable_to_set() {
    let stderr = run_refused(
        "apiVersion: ferry.dev/v1alpha1\nkind: SyncTask\nmetadata: {name: t}\nspec:\n  \
         source: {host: 127.0.0.1, credentialsSecret: {name: src-creds}}\n  \
         destination: {type: mysql, host: 127.0.0.1, credentialsSecret: {name: src-creds}}\n  objects: [{database: app}]\n\
         ---\napiVersion: v1\nkind: Secret\nmetadata: {name: src-creds}\nstringData: {username: u}\n",
    );
    assert!(stderr.contains("FERRY_SECRET_SRC_CREDS_PASSWORD"), "{stderr}");
}

/// An invalid spec is refused before anything connects, naming the field and the fix.
#[test]
fn an_invalid_spec_is_refused_with_the_field_named() {
    let stderr = run_refused(
        "apiVersion: ferry.dev/v1alpha1\nkind: SyncTask\nmetadata: {name: t}\nspec:\n  \
         source: {host: 127.0.0.1, credentialsSecret: {name: c}}\n  \
         destination: {type: mysql, host: 127.0.0.1, credentialsSecret: {name: c}}\n  objects: [{database: app}]\n  \
         retry: {connectionFailures: 5m, otherFailures: 2000m}\n",
    );
    assert!(
        stderr.contains("spec.retry.connectionFailures `5m` is outside 10m..1440m"),
        "{stderr}"
    );
    assert!(stderr.contains("spec.retry.otherFailures `2000m` is outside 1m..1440m"), "{stderr}");
}

/// Runs `ferry run` on a task file with `text`, asserts it is refused as invalid input (exit 2)
/// and returns what it printed.
fn run_refused(text: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("t.yaml");
    std::fs::write(&file, text).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["run", "-f", &file.display().to_string()])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    stderr
}

/// A table with neither a primary key nor a NOT NULL unique key stops the task at once
/// (exit 1) with the table named and the remedy.
#[tokio::test(flavor = "multi_thread")]
async fn a_table_without_a_key_is_refused_with_the_remedy() {
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec("CREATE DATABASE app; CREATE TABLE app.nokey (a INT, b INT NULL, UNIQUE KEY (b))")
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = task_file(dir.path(), "nokey", &src, &dst, "[{database: app}]", "");
    let mut ferry = Ferry::spawn(&file, &dir.path().join("ferry.log"));
    let status = ferry.wait(Duration::from_secs(30)).expect("fails fast");
    assert_eq!(status.code(), Some(1), "{}", ferry.log_text());
    let log = ferry.log_text();
    assert!(
        log.contains("table `app.nokey` has no PRIMARY KEY and no UNIQUE key over NOT NULL columns"),
        "{log}"
    );
    assert!(log.contains("add a primary key"), "{log}");
}

/// An existing destination table whose columns differ is refused with what differs; nothing
/// is written to it.
#[tokio::test(flavor = "multi_thread")]
async fn an_incompatible_destination_table_is_refused() {
    let (src, dst) = app_pair(10).await;
    dst.exec("CREATE DATABASE app; CREATE TABLE app.t (id BIGINT PRIMARY KEY, v VARCHAR(50))")
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = task_file(dir.path(), "conflict", &src, &dst, "[{database: app}]", "");
    let mut ferry = Ferry::spawn(&file, &dir.path().join("ferry.log"));
    let status = ferry.wait(Duration::from_secs(30)).expect("fails fast");
    assert_eq!(status.code(), Some(1), "{}", ferry.log_text());
    assert!(
        ferry.log_text().contains("column `id` is bigint(20), the source has int(11)"),
        "{}",
        ferry.log_text()
    );
    let rows: u64 = dst.scalar("SELECT COUNT(*) FROM app.t").await;
    assert_eq!(rows, 0);
}

/// `ferry precheck -f FILE` prints a readable report and tells pass / warnings / failure by its
/// exit code (0 / 1 / 2); `-o json` gives the same report as JSON.
#[tokio::test(flavor = "multi_thread")]
async fn precheck_reports_pass_warn_and_fail() {
    let (src, dst) = app_pair(10).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = task_file(dir.path(), "pre", &src, &dst, "[{database: app}]", "")
        .display()
        .to_string();
    let precheck = |json: bool| {
        let mut args = vec!["precheck", "-f", file.as_str()];
        if json {
            args.extend(["-o", "json"]);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(&args)
            .output()
            .expect("run ferry precheck");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(!stdout.contains("ferry-pass"), "a secret in the report");
        (out.status.code(), stdout)
    };
    let (code, table) = precheck(false);
    assert_eq!(code, Some(0), "{table}");
    assert!(table.starts_with("NAME"), "{table}");
    for name in [
        "sourceConnection",
        "binlogFormat",
        "binlogRowImage",
        "tables",
        "destinationConnection",
    ] {
        assert!(
            table.lines().any(|l| l.starts_with(name) && l.contains("Passed")),
            "{name}:\n{table}"
        );
    }

    src.exec("SET GLOBAL binlog_row_metadata = 'MINIMAL'").await;
    let (code, table) = precheck(false);
    assert_eq!(code, Some(1), "{table}");
    let line = table.lines().find(|l| l.starts_with("binlogRowMetadata")).unwrap_or_default();
    assert!(
        line.contains("Warning") && line.contains("Remedy: SET GLOBAL binlog_row_metadata = 'FULL'"),
        "{table}"
    );

    src.exec("SET GLOBAL binlog_row_metadata = 'FULL'; CREATE TABLE app.nokey (v INT)")
        .await;
    let (code, json) = precheck(true);
    assert_eq!(code, Some(2), "{json}");
    let report: serde_json::Value = serde_json::from_str(&json).expect("JSON report");
    assert_eq!(report["passed"], false);
    let failed: Vec<&serde_json::Value> = report["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["result"] == "Failed")
        .collect();
    assert_eq!(failed.len(), 1, "{json}");
    assert_eq!(failed[0]["name"], "tables");
    assert!(failed[0]["message"].as_str().unwrap_or_default().contains("app.nokey"), "{json}");
}
