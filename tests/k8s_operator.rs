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

struct Operator(Child);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn operator(plane: &ControlPlane, log: &std::path::Path) -> Operator {
    Operator(
        Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["operator", "--worker-image", "ferry:test"])
            .env("KUBECONFIG", &plane.kubeconfig)
            .env("RUST_LOG", "info,kube=warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("log"))
            .spawn()
            .expect("spawn ferry operator"),
    )
}

fn get(plane: &ControlPlane, args: &[&str]) -> String {
    let out = plane.kubectl(args);
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn manifests(src: &MariaDb, dst: &MariaDb) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: src}}\nstringData: {{username: ferry, password: ferry-pass}}\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata: {{name: dst}}\nstringData: {{username: ferry, password: ferry-pass}}\n---\n\
         apiVersion: ferry.dev/v1alpha1\nkind: SyncTask\nmetadata: {{name: app}}\nspec:\n  \
         source: {{host: 127.0.0.1, port: {}, credentialsSecret: {{name: src}}}}\n  \
         destination: {{type: mysql, host: 127.0.0.1, port: {}, credentialsSecret: {{name: dst}}}}\n  \
         objects: [{{database: app}}]\n  retry: {{connectionFailures: 10m, otherFailures: 1m}}\n",
        src.port, dst.port
    )
}

/// `kubectl apply` a SyncTask and its Secrets → a worker Pod → the data converges →
/// `kubectl get st` shows Incremental, 100% and the lag → the worker is killed and relaunched
/// from the checkpoint, recorded in `status.retry` → `kubectl delete` removes the worker and the
/// finalizer.
#[tokio::test(flavor = "multi_thread")]
async fn e2e_apply_crash_and_delete() {
    let plane = ControlPlane::start();
    let out = plane.kubectl(&["apply", "--server-side", "-f", &support::root().join("crds").display().to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    plane.kubectl(&["wait", "--for=condition=Established", "crd/synctasks.ferry.dev", "--timeout=60s"]);
    // The worker service account, as the chart creates it.
    let out = plane.kubectl(&["create", "serviceaccount", "ferry-worker"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let runner = PodRunner::start(&plane, plane.kubeconfig.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let _operator = operator(&plane, &dir.path().join("operator.log"));
    let show = || {
        format!(
            "operator log:\n{}\nst:\n{}\nevents:\n{}",
            std::fs::read_to_string(dir.path().join("operator.log")).unwrap_or_default(),
            get(&plane, &["get", "st", "-o", "yaml"]),
            get(&plane, &["get", "events"])
        )
    };

    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec(
        "CREATE DATABASE app; USE app; CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(50)); \
         INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_20000",
    )
    .await;
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
