//! `ferry operator` end to end on a real control plane (etcd, kube-apiserver, kube-controller-
//! manager built from Go modules) with real MariaDB servers. No kubelet exists here: the test's
//! pod runner (tests/support/k8s.rs) runs the worker Pods the operator creates as local `ferry`
//! processes and reports their status; the operator and the worker are the production code.

mod support;

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use support::{
    MariaDb, assert_same_rows, eventually,
    k8s::{ControlPlane, PodRunner},
    wait_caught_up,
};

/// An operator process and the port of its /metrics.
struct Operator(Child, u16);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn operator(plane: &ControlPlane, log: &std::path::Path, identity: &str) -> Operator {
    let port = support::free_port();
    Operator(
        Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["operator", "--worker-image", "ferry:test", "--identity", identity])
            .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
            .env("KUBECONFIG", &plane.kubeconfig)
            .env("RUST_LOG", "info,kube=warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("log"))
            .spawn()
            .expect("spawn ferry operator"),
        port,
    )
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut body = String::new();
    if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
        let _ = write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
        let _ = stream.read_to_string(&mut body);
    }
    body
}

fn get(plane: &ControlPlane, args: &[&str]) -> String {
    let out = plane.kubectl(args);
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn manifests(src: &MariaDb, dst: &MariaDb) -> String {
    manifests_with(src, dst, "[{database: app}]", "")
}

/// The Secrets and the SyncTask `app` for `objects`, with `extra` spec lines.
fn manifests_with(src: &MariaDb, dst: &MariaDb, objects: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: src}}\nstringData: {{username: ferry, password: ferry-pass}}\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata: {{name: dst}}\nstringData: {{username: ferry, password: ferry-pass}}\n---\n\
         apiVersion: ferry.dev/v1alpha1\nkind: SyncTask\nmetadata: {{name: app}}\nspec:\n  \
         source: {{host: 127.0.0.1, port: {}, credentialsSecret: {{name: src}}}}\n  \
         destination: {{type: mysql, host: 127.0.0.1, port: {}, credentialsSecret: {{name: dst}}}}\n  \
         objects: {objects}\n  retry: {{connectionFailures: 10m, otherFailures: 1m}}\n{extra}",
        src.port, dst.port
    )
}

/// `app.t` on the source with `rows` rows.
async fn seed(src: &MariaDb, rows: u32) {
    src.exec(&format!(
        "CREATE DATABASE app; USE app; CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(50)); \
         INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_{rows}"
    ))
    .await;
}

/// A control plane with the CRD, the worker service account, a pod runner and an operator.
async fn cluster(dir: &std::path::Path) -> (ControlPlane, PodRunner, Operator) {
    let plane = ControlPlane::start();
    let out = plane.kubectl(&["apply", "--server-side", "-f", &support::root().join("crds").display().to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    plane.kubectl(&["wait", "--for=condition=Established", "crd/synctasks.ferry.dev", "--timeout=60s"]);
    let out = plane.kubectl(&["create", "serviceaccount", "ferry-worker"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let runner = PodRunner::start(&plane, plane.kubeconfig.clone()).await;
    let operator = operator(&plane, &dir.join("operator.log"), "operator-a");
    (plane, runner, operator)
}

/// Polls `f` until true, or fails with the operator's log and the task.
async fn until(plane: &ControlPlane, dir: &std::path::Path, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}\noperator log:\n{}\ntask:\n{}",
            std::fs::read_to_string(dir.join("operator.log")).unwrap_or_default(),
            get(plane, &["get", "st", "-o", "yaml"])
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// `spec.suspend: true` stops the worker and keeps the checkpoint; `false` resumes from it
/// without copying again.
#[tokio::test(flavor = "multi_thread")]
async fn e2e_suspend_resume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (plane, runner, _operator) = cluster(dir.path()).await;
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    seed(&src, 5000).await;
    let out = plane.kubectl_stdin(&["apply", "-f", "-"], &manifests(&src, &dst));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_caught_up(&src, &dst, "default/app", Duration::from_secs(120)).await;

    let out = plane.kubectl(&["patch", "st", "app", "--type=merge", "-p", r#"{"spec":{"suspend":true}}"#]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    until(&plane, dir.path(), "the worker to stop", || {
        !runner.processes().contains_key("default/app-worker")
            && get(&plane, &["get", "pod", "app-worker", "-o", "name", "--ignore-not-found"]).is_empty()
    })
    .await;
    until(&plane, dir.path(), "phase Suspended", || {
        get(&plane, &["get", "st", "app", "-o", "jsonpath={.status.phase}"]) == "Suspended"
    })
    .await;
    src.exec("UPDATE app.t SET v = 'while suspended' WHERE id <= 100; DELETE FROM app.t WHERE id > 4900")
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stale: i64 = dst.scalar("SELECT COUNT(*) FROM app.t WHERE v = 'while suspended'").await;
    assert_eq!(stale, 0, "a suspended task wrote");

    let out = plane.kubectl(&["patch", "st", "app", "--type=merge", "-p", r#"{"spec":{"suspend":false}}"#]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_caught_up(&src, &dst, "default/app", Duration::from_secs(120)).await;
    assert_same_rows(&src, &dst, "app", "t").await;
    // Resumed from the checkpoint: the worker's log shows no second copy.
    let log = std::fs::read_to_string(runner.log_dir.join("default_app-worker.log")).unwrap_or_default();
    assert_eq!(log.matches("full sync finished").count(), 1, "{log}");
}

/// A table added to `objects` is copied, then followed; the worker restarts with the new spec.
#[tokio::test(flavor = "multi_thread")]
async fn e2e_spec_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (plane, runner, _operator) = cluster(dir.path()).await;
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec(
        "CREATE DATABASE app; USE app; CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(50)); \
         CREATE TABLE u (id INT PRIMARY KEY, w VARCHAR(50)); \
         INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_3000; INSERT INTO u SELECT seq, 'u' FROM seq_1_to_7000",
    )
    .await;
    let only_t = manifests_with(&src, &dst, "[{database: app, tables: [{name: t}]}]", "");
    let out = plane.kubectl_stdin(&["apply", "-f", "-"], &only_t);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_caught_up(&src, &dst, "default/app", Duration::from_secs(120)).await;
    let first = runner.processes().get("default/app-worker").copied();
    let u_rows: i64 = dst
        .scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'u'")
        .await;
    assert_eq!(u_rows, 0, "u was copied before it was selected");

    let both = manifests_with(&src, &dst, "[{database: app, tables: [{name: t}, {name: u}]}]", "");
    let out = plane.kubectl_stdin(&["apply", "-f", "-"], &both);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    until(&plane, dir.path(), "a worker with the new spec", || {
        runner.processes().get("default/app-worker").is_some_and(|p| Some(*p) != first)
            && get(
                &plane,
                &[
                    "get",
                    "pod",
                    "app-worker",
                    "-o",
                    "jsonpath={.metadata.annotations.ferry\\.dev/generation}",
                ],
            ) == "2"
    })
    .await;
    src.exec("UPDATE app.u SET w = 'followed' WHERE id <= 10; UPDATE app.t SET v = 'still' WHERE id <= 10")
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let followed: i64 = dst
            .scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'u'")
            .await;
        if followed == 1 {
            let n: i64 = dst.scalar("SELECT COUNT(*) FROM app.u WHERE w = 'followed'").await;
            if n == 10 {
                break;
            }
        }
        assert!(std::time::Instant::now() < deadline, "u was not copied and followed");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    wait_caught_up(&src, &dst, "default/app", Duration::from_secs(120)).await;
    assert_same_rows(&src, &dst, "app", "t").await;
    assert_same_rows(&src, &dst, "app", "u").await;
}

/// `kubectl apply` a SyncTask and its Secrets → a worker Pod → the data converges →
/// `kubectl get st` shows Incremental, 100% and the lag → the worker is killed and relaunched
/// from the checkpoint, recorded in `status.retry` → `kubectl delete` removes the worker and the
/// finalizer.
#[tokio::test(flavor = "multi_thread")]
async fn e2e_apply_crash_and_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (plane, runner, operator) = cluster(dir.path()).await;
    let show = || {
        format!(
            "operator log:\n{}\nst:\n{}\nevents:\n{}",
            std::fs::read_to_string(dir.path().join("operator.log")).unwrap_or_default(),
            get(&plane, &["get", "st", "-o", "yaml"]),
            get(&plane, &["get", "events"])
        )
    };

    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    seed(&src, 20000).await;
    let out = plane.kubectl_stdin(&["apply", "-f", "-"], &manifests(&src, &dst));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // A worker Pod with the restricted security context, owned by the task.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while get(&plane, &["get", "pod", "app-worker", "-o", "name", "--ignore-not-found"]).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no worker Pod within 60s\n{}", show());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let security = get(
        &plane,
        &[
            "get",
            "pod",
            "app-worker",
            "-o",
            "jsonpath={.spec.containers[0].securityContext.readOnlyRootFilesystem} {.spec.containers[0].securityContext.allowPrivilegeEscalation} {.spec.securityContext.runAsNonRoot} {.spec.containers[0].securityContext.capabilities.drop[0]} {.metadata.ownerReferences[0].kind}",
        ],
    );
    assert_eq!(security, "true false true ALL SyncTask", "{}", show());
    // Credentials reach the worker as Secret references, never as values in the Pod.
    let env = get(
        &plane,
        &[
            "get",
            "pod",
            "app-worker",
            "-o",
            "jsonpath={.spec.containers[0].env[*].valueFrom.secretKeyRef.name}",
        ],
    );
    assert!(env.contains("src") && env.contains("dst"), "{env}");
    let pod = get(&plane, &["get", "pod", "app-worker", "-o", "yaml"]);
    assert!(!pod.contains("ferry-pass"), "a secret value is in the Pod");
    wait_caught_up(&src, &dst, "default/app", Duration::from_secs(120)).await;
    src.exec("UPDATE app.t SET v = 'one' WHERE id <= 50").await;
    wait_caught_up(&src, &dst, "default/app", Duration::from_secs(60)).await;
    assert_same_rows(&src, &dst, "app", "t").await;
    let mut row = String::new();
    eventually(Duration::from_secs(30), "kubectl get st to show Incremental 100%", || {
        row = get(&plane, &["get", "st", "app", "--no-headers"]);
        let ok = row.contains("Incremental") && row.contains("100%");
        async move { ok }
    })
    .await;
    let events = get(&plane, &["get", "events", "--field-selector", "involvedObject.name=app"]);
    assert!(events.contains("WorkerCreated"), "{events}");
    let precheck = get(&plane, &["get", "st", "app", "-o", "jsonpath={.status.precheck.passed}"]);
    assert_eq!(precheck, "true", "{}", show());
    // The operator's own metrics.
    let metrics = http_get(operator.1, "/metrics");
    assert!(metrics.contains("ferry_operator_reconciles_total"), "{metrics}");
    assert!(!metrics.contains("ferry_operator_reconciles_total 0\n"), "{metrics}");

    // The worker dies (SIGKILL): relaunched from the checkpoint, recorded in status.retry.
    let pid = *runner
        .processes()
        .get("default/app-worker")
        .unwrap_or_else(|| panic!("no worker process\n{}", show()));
    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    src.exec("UPDATE app.t SET v = 'two' WHERE id <= 500").await;
    eventually(Duration::from_secs(60), "a relaunched worker", || {
        let relaunched = runner.processes().get("default/app-worker").is_some_and(|p| *p != pid);
        async move { relaunched }
    })
    .await;
    let attempts = get(
        &plane,
        &["get", "st", "app", "-o", "jsonpath={.status.retry.attempts} {.status.retry.reason}"],
    );
    assert!(attempts.starts_with("1 the worker exited with code 137"), "{attempts}\n{}", show());
    wait_caught_up(&src, &dst, "default/app", Duration::from_secs(120)).await;
    assert_same_rows(&src, &dst, "app", "t").await;
    let events = get(&plane, &["get", "events", "--field-selector", "involvedObject.name=app"]);
    assert!(events.contains("WorkerCrashed") && events.contains("WorkerRelaunched"), "{events}");

    // Delete: the worker goes, then the task (finalizer removed).
    let out = plane.kubectl(&["delete", "st", "app", "--timeout=60s"]);
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stderr), show());
    eventually(Duration::from_secs(60), "the worker Pod to go", || {
        let gone = get(&plane, &["get", "pod", "app-worker", "-o", "name", "--ignore-not-found"]).is_empty()
            && !runner.processes().contains_key("default/app-worker");
        async move { gone }
    })
    .await;
    assert!(get(&plane, &["get", "st", "app", "-o", "name", "--ignore-not-found"]).is_empty());
}

/// Two operator replicas: one leads (holds the Lease), the other waits. The leader is killed;
/// the other takes over once the Lease expires and carries on reconciling. There is never more
/// than one worker Pod for the task.
#[tokio::test(flavor = "multi_thread")]
async fn e2e_operator_failover() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (plane, runner, first) = cluster(dir.path()).await;
    let second = operator(&plane, &dir.path().join("operator-b.log"), "operator-b");
    let mut operators = std::collections::BTreeMap::from([("operator-a", first), ("operator-b", second)]);
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    seed(&src, 3000).await;
    let out = plane.kubectl_stdin(&["apply", "-f", "-"], &manifests(&src, &dst));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_caught_up(&src, &dst, "default/app", Duration::from_secs(120)).await;
    let holder = get(&plane, &["get", "lease", "ferry-operator", "-o", "jsonpath={.spec.holderIdentity}"]);
    let successor = match holder.as_str() {
        "operator-a" => "operator-b",
        "operator-b" => "operator-a",
        other => panic!("the Lease is held by `{other}`"),
    };
    let pods = || {
        get(&plane, &["get", "pods", "-l", "ferry.dev/task=app", "-o", "name"])
            .lines()
            .count()
    };
    assert_eq!(pods(), 1);

    // The leader dies without releasing the Lease.
    drop(operators.remove(holder.as_str()));
    until(&plane, dir.path(), "the other operator to take the Lease", || {
        assert!(pods() <= 1, "two worker Pods for one task");
        get(&plane, &["get", "lease", "ferry-operator", "-o", "jsonpath={.spec.holderIdentity}"]) == successor
    })
    .await;
    // The new leader reconciles: suspending the task stops its worker.
    let out = plane.kubectl(&["patch", "st", "app", "--type=merge", "-p", r#"{"spec":{"suspend":true}}"#]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    until(&plane, dir.path(), "the new leader to stop the worker", || {
        assert!(pods() <= 1, "two worker Pods for one task");
        !runner.processes().contains_key("default/app-worker")
            && get(&plane, &["get", "st", "app", "-o", "jsonpath={.status.phase}"]) == "Suspended"
    })
    .await;
    let log_file = if successor == "operator-a" {
        "operator.log"
    } else {
        "operator-b.log"
    };
    let log = std::fs::read_to_string(dir.path().join(log_file)).unwrap_or_default();
    assert!(log.contains("leading"), "{log}");
}

/// A worker that keeps dying is relaunched with backoff until `retry.otherFailures` (1m here)
/// is spent; then the task is Failed with the reason and the remedy, and no worker runs.
#[tokio::test(flavor = "multi_thread")]
async fn e2e_worker_crash_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (plane, runner, _operator) = cluster(dir.path()).await;
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT)")
        .await;
    let out = plane.kubectl_stdin(&["apply", "-f", "-"], &manifests(&src, &dst));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut kills = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    loop {
        if let Some(pid) = runner.processes().get("default/app-worker") {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            kills += 1;
        }
        if get(&plane, &["get", "st", "app", "-o", "jsonpath={.status.phase}"]) == "Failed" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not Failed after {kills} kills; operator log:\n{}",
            std::fs::read_to_string(dir.path().join("operator.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(kills >= 3, "only {kills} kills before Failed");
    let ready = get(
        &plane,
        &[
            "get",
            "st",
            "app",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}|{.status.conditions[?(@.type==\"Ready\")].message}",
        ],
    );
    assert!(ready.starts_with("RetryWindowSpent|"), "{ready}");
    assert!(
        ready.contains("spec.retry.otherFailures (1m) is spent") && ready.contains("Remedy:"),
        "{ready}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !runner.processes().contains_key("default/app-worker"),
        "a worker runs after the task Failed"
    );
    assert!(get(&plane, &["get", "pod", "app-worker", "-o", "name", "--ignore-not-found"]).is_empty());
}

/// No Secret value reaches any output: a task with a distinctive password that works and one
/// with a distinctive password the source refuses run under the operator; the SyncTasks (status
/// included), every Event, the Pods, Leases and ConfigMaps, the operator's log and /metrics, the
/// worker Pods' logs and the checkpoint table hold neither password, in clear or in base64.
#[tokio::test(flavor = "multi_thread")]
async fn e2e_no_secret_reaches_any_output() {
    use base64::Engine as _;
    const GOOD: &str = "Canary-Pw-7Q1zK4";
    const WRONG: &str = "Canary-Wrong-9XmL2";
    let dir = tempfile::tempdir().expect("tempdir");
    let (plane, runner, operator) = cluster(dir.path()).await;
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    seed(&src, 2000).await;
    for db in [&src, &dst] {
        db.exec(&format!(
            "CREATE USER canary@'%' IDENTIFIED BY '{GOOD}'; GRANT ALL PRIVILEGES ON *.* TO canary@'%'"
        ))
        .await;
    }
    let task = |name: &str, password: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}-src}}\nstringData: {{username: canary, password: {password}}}\n---\n\
             apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}-dst}}\nstringData: {{username: canary, password: {GOOD}}}\n---\n\
             apiVersion: ferry.dev/v1alpha1\nkind: SyncTask\nmetadata: {{name: {name}}}\nspec:\n  \
             source: {{host: 127.0.0.1, port: {}, credentialsSecret: {{name: {name}-src}}}}\n  \
             destination: {{type: mysql, host: 127.0.0.1, port: {}, credentialsSecret: {{name: {name}-dst}}}}\n  \
             objects: [{{database: app}}]\n",
            src.port, dst.port
        )
    };
    let out = plane.kubectl_stdin(
        &["apply", "-f", "-"],
        &format!("{}---\n{}", task("good", GOOD), task("wrong", WRONG)),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_caught_up(&src, &dst, "default/good", Duration::from_secs(120)).await;
    src.exec("UPDATE app.t SET v = 'changed' WHERE id <= 10").await;
    wait_caught_up(&src, &dst, "default/good", Duration::from_secs(60)).await;
    // The refused password: the worker says so (the account, not the password) in status.
    until(&plane, dir.path(), "the wrong password to be reported", || {
        get(&plane, &["get", "st", "wrong", "-o", "yaml"]).contains("Access denied")
    })
    .await;

    let mut outputs = vec![
        ("SyncTasks".to_string(), get(&plane, &["get", "st", "-A", "-o", "yaml"])),
        ("Events".to_string(), get(&plane, &["get", "events", "-A", "-o", "yaml"])),
        ("Pods".to_string(), get(&plane, &["get", "pods", "-A", "-o", "yaml"])),
        ("Leases".to_string(), get(&plane, &["get", "leases", "-A", "-o", "yaml"])),
        ("ConfigMaps".to_string(), get(&plane, &["get", "configmaps", "-A", "-o", "yaml"])),
        (
            "operator log".to_string(),
            std::fs::read_to_string(dir.path().join("operator.log")).unwrap_or_default(),
        ),
        ("operator /metrics".to_string(), http_get(operator.1, "/metrics")),
    ];
    let events = &outputs[1].1;
    assert!(events.contains("WorkerCreated"), "the Events were not read: {events}");
    for entry in std::fs::read_dir(&runner.log_dir).expect("pod logs") {
        let path = entry.expect("entry").path();
        outputs.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap_or_default()));
    }
    assert!(
        outputs.iter().any(|(name, _)| name.ends_with("default_wrong-worker.log")),
        "no log of the refused worker"
    );
    let mut conn = dst.pool.get_conn().await.expect("connect");
    let checkpoint: Vec<mysql_async::Row> = mysql_async::prelude::Queryable::query(&mut conn, "SELECT * FROM ferry.ferry_checkpoint")
        .await
        .expect("checkpoint");
    outputs.push(("checkpoint".to_string(), format!("{checkpoint:?}")));
    for secret in [GOOD, WRONG] {
        let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
        for (name, text) in &outputs {
            assert!(!text.is_empty() || name == "ConfigMaps", "{name} is empty: the test read nothing");
            assert!(
                !text.contains(secret) && !text.contains(&encoded),
                "a password is in the {name}:\n{text}"
            );
        }
    }
}
