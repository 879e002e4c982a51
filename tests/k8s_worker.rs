//! `ferry worker --task NS/NAME` against a real kube-apiserver and real MariaDB servers: it
//! reads its SyncTask and Secrets from the API, moves the data, and reports progress in the
//! SyncTask's status — what `kubectl get st` shows. The worker runs as a local process here (the
//! operator's Pods come with the operator work); its API access is the production code path.

mod support;

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use support::{MariaDb, assert_same_rows, eventually, k8s::ControlPlane, wait_caught_up};

fn manifests(name: &str, src: &MariaDb, dst: &MariaDb, table: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: src}}\nstringData: {{username: ferry, password: ferry-pass}}\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata: {{name: dst}}\nstringData: {{username: ferry, password: ferry-pass}}\n---\n\
         apiVersion: ferry.dev/v1alpha1\nkind: SyncTask\nmetadata: {{name: {name}}}\nspec:\n  \
         source: {{host: 127.0.0.1, port: {}, credentialsSecret: {{name: src}}}}\n  \
         destination: {{type: mysql, host: 127.0.0.1, port: {}, credentialsSecret: {{name: dst}}}}\n  \
         objects: [{{database: app, tables: [{{name: {table}}}]}}]\n",
        src.port, dst.port
    )
}

fn worker(plane: &ControlPlane, task: &str, log: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["worker", "--task", task, "--metrics-addr", "off"])
        .env("KUBECONFIG", &plane.kubeconfig)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log"))
        .spawn()
        .expect("spawn ferry worker")
}

fn get(plane: &ControlPlane, args: &[&str]) -> String {
    let out = plane.kubectl(args);
    assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn worker_moves_the_data_and_reports_in_status() {
    let plane = ControlPlane::start();
    let out = plane.kubectl(&["apply", "--server-side", "-f", &support::root().join("crds").display().to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    plane.kubectl(&["wait", "--for=condition=Established", "crd/synctasks.ferry.dev", "--timeout=60s"]);
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec(
        "CREATE DATABASE app; USE app; CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(50)); \
         INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_20000; CREATE TABLE nokey (v INT)",
    )
    .await;
    let out = plane.kubectl_stdin(&["apply", "-f", "-"], &manifests("app", &src, &dst, "t"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = worker(&plane, "default/app", &dir.path().join("worker.log"));
    wait_caught_up(&src, &dst, "default/app", Duration::from_secs(120)).await;
    src.exec("UPDATE app.t SET v = 'changed' WHERE id <= 100").await;
    wait_caught_up(&src, &dst, "default/app", Duration::from_secs(60)).await;
    assert_same_rows(&src, &dst, "app", "t").await;

    let mut status = String::new();
    eventually(Duration::from_secs(20), "status to show the incremental sync", || {
        status = get(
            &plane,
            &[
                "get",
                "st",
                "app",
                "-o",
                "jsonpath={.status.phase} {.status.progress} {.status.fullSync.rowsCopied} {.status.incremental.eventsApplied}",
            ],
        );
        let done = status.starts_with("Incremental 100% 20000 ") && !status.ends_with(" 0");
        async move { done }
    })
    .await;
    let table = get(&plane, &["get", "st"]);
    assert!(
        table.contains("PHASE") && table.contains("PROGRESS") && table.contains("LAG"),
        "{table}"
    );
    assert!(table.contains("Incremental") && table.contains("100%"), "{table}");
    let managers = get(
        &plane,
        &[
            "get",
            "st",
            "app",
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ],
    );
    assert!(managers.contains("ferry-worker"), "{managers}");
    let everything = get(&plane, &["get", "st", "app", "-o", "yaml"]);
    assert!(!everything.contains("ferry-pass"), "a secret leaked into the SyncTask");

    // A second worker for the same task waits for the task's Lease and writes nothing.
    let second_log = dir.path().join("second.log");
    let mut second = worker(&plane, "default/app", &second_log);
    eventually(Duration::from_secs(20), "the second worker to wait for the Lease", || {
        let waiting = std::fs::read_to_string(&second_log)
            .unwrap_or_default()
            .contains("waiting for the task's Lease");
        async move { waiting }
    })
    .await;
    let epoch: i64 = dst
        .scalar("SELECT MAX(epoch) FROM ferry.ferry_checkpoint WHERE task = 'default/app'")
        .await;
    assert_eq!(epoch, 1, "the waiting worker claimed the task");

    // SIGTERM (a Pod being deleted): clean stop, exit 0; the waiting worker takes over.
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().expect("worker exit");
    let first_log = std::fs::read_to_string(dir.path().join("worker.log")).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{first_log}");
    src.exec("UPDATE app.t SET v = 'after handover' WHERE id <= 100").await;
    wait_caught_up(&src, &dst, "default/app", Duration::from_secs(90)).await;
    assert_same_rows(&src, &dst, "app", "t").await;
    let epoch: i64 = dst
        .scalar("SELECT MAX(epoch) FROM ferry.ferry_checkpoint WHERE task = 'default/app'")
        .await;
    assert_eq!(epoch, 2, "the second worker did not take over");
    let _ = Command::new("kill").args(["-TERM", &second.id().to_string()]).status();
    assert_eq!(second.wait().expect("second exit").code(), Some(0));

    // The prechecks ran and are in status.
    let precheck = get(
        &plane,
        &[
            "get",
            "st",
            "app",
            "-o",
            "jsonpath={.status.precheck.passed} {.status.precheck.items[*].name}",
        ],
    );
    assert!(
        precheck.starts_with("true ") && precheck.contains("binlogFormat") && precheck.contains("tables"),
        "{precheck}"
    );

    // A failed precheck: nothing starts, status says which check and the remedy, exit code 3.
    let out = plane.kubectl_stdin(&["apply", "-f", "-"], &manifests("nokey", &src, &dst, "nokey"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut child = worker(&plane, "default/nokey", &dir.path().join("nokey.log"));
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert_eq!(status.code(), Some(3));
    let failed = get(
        &plane,
        &[
            "get",
            "st",
            "nokey",
            "-o",
            "jsonpath={.status.phase}|{.status.precheck.items[?(@.result==\"Failed\")].message}",
        ],
    );
    assert!(failed.starts_with("PrecheckFailed|"), "{failed}");
    assert!(failed.contains("nokey") && failed.contains("Remedy:"), "{failed}");

    // A definite failure while running (source DDL Ferry cannot follow): written to the Ready
    // condition with the remedy, exit code 1.
    src.exec("CREATE TABLE app.bad (id INT PRIMARY KEY, v INT); INSERT INTO app.bad VALUES (1, 1)")
        .await;
    let out = plane.kubectl_stdin(&["apply", "-f", "-"], &manifests("bad", &src, &dst, "bad"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut child = worker(&plane, "default/bad", &dir.path().join("bad.log"));
    let following = || get(&plane, &["get", "st", "bad", "-o", "jsonpath={.status.phase}"]) == "Incremental";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !following() {
        assert!(std::time::Instant::now() < deadline, "the task never reached Incremental");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    src.exec("ALTER TABLE app.bad MODIFY v BIGINT").await;
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert_eq!(status.code(), Some(1));
    let failed = get(
        &plane,
        &[
            "get",
            "st",
            "bad",
            "-o",
            "jsonpath={.status.phase}|{.status.conditions[?(@.type==\"Ready\")].message}",
        ],
    );
    assert!(failed.starts_with("Failed|"), "{failed}");
    assert!(
        failed.contains("cannot follow") && failed.contains("MODIFY COLUMN") && failed.contains("Remedy:"),
        "{failed}"
    );
}
