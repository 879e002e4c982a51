//! The Helm chart on a real control plane: `helm lint`, `helm template` (and `deploy/` is what it
//! renders), `helm install`; then an operator and a worker running with exactly the chart's
//! RBAC — each acting as its service account through impersonation — reconcile a task end to end.
//! The operator image cannot run here (no kubelet); the chart's Deployment is installed and
//! checked, and the operator runs as a local process under the same identity.

mod support;

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use support::{
    MariaDb, assert_same_rows,
    k8s::{ControlPlane, PodRunner},
    wait_caught_up,
};

fn ok(out: std::process::Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn chart_installs_and_its_rbac_is_enough() {
    let plane = ControlPlane::start();
    let chart = support::root().join("charts/ferry").display().to_string();
    ok(plane.helm(&["lint", &chart]), "helm lint");
    let rendered = ok(
        plane.helm(&[
            "template",
            "ferry",
            &chart,
            "--namespace",
            "ferry",
            "--include-crds",
            "--set",
            "worker.namespaces={default}",
        ]),
        "helm template",
    );
    let deploy = std::fs::read_to_string(support::root().join("deploy/ferry.yaml")).expect("deploy/ferry.yaml");
    assert!(
        deploy.trim_end() == rendered.trim_end(),
        "deploy/ferry.yaml is not what the chart renders: run `make deploy` and commit"
    );
    let refused = plane.helm(&["template", "ferry", &chart, "--set", "operator.replicas=0"]);
    assert!(!refused.status.success(), "values.schema.json let replicas=0 through");

    ok(
        plane.helm(&[
            "install",
            "ferry",
            &chart,
            "--namespace",
            "ferry",
            "--create-namespace",
            "--set",
            "worker.namespaces={default}",
            "--wait=false",
        ]),
        "helm install",
    );
    ok(
        plane.kubectl(&["wait", "--for=condition=Established", "crd/synctasks.ferry.dev", "--timeout=60s"]),
        "CRD established",
    );
    let deployment = ok(
        plane.kubectl(&[
            "get",
            "deploy",
            "-n",
            "ferry",
            "ferry-operator",
            "-o",
            "jsonpath={.spec.replicas} {.spec.template.spec.serviceAccountName}",
        ]),
        "operator Deployment",
    );
    assert_eq!(deployment, "2 ferry-operator");

    // The operator and the worker, each with exactly its service account's permissions.
    let operator_config = plane.kubeconfig_as_service_account("ferry", "ferry-operator");
    let worker_config = plane.kubeconfig_as_service_account("default", "ferry-worker");
    let denied = plane.kubectl(&[&format!("--kubeconfig={}", operator_config.display()), "get", "secrets", "-A"]);
    assert!(!denied.status.success(), "the operator can read Secrets");
    let denied = plane.kubectl(&[&format!("--kubeconfig={}", worker_config.display()), "get", "secret", "src"]);
    assert!(!denied.status.success(), "the worker can read Secrets");
    let runner = PodRunner::start(&plane, worker_config).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut operator = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "operator",
            "--worker-image",
            "ferry:test",
            "--identity",
            "chart-operator",
            "--metrics-addr",
            "off",
        ])
        .env("KUBECONFIG", &operator_config)
        .env("POD_NAMESPACE", "ferry")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("operator.log")).expect("log"))
        .spawn()
        .expect("spawn operator");

    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    src.exec(
        "CREATE DATABASE app; USE app; CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(50)); \
         INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_2000",
    )
    .await;
    let manifests = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: src}}\nstringData: {{username: ferry, password: ferry-pass}}\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata: {{name: dst}}\nstringData: {{username: ferry, password: ferry-pass}}\n---\n\
         apiVersion: ferry.dev/v1alpha1\nkind: SyncTask\nmetadata: {{name: app}}\nspec:\n  \
         source: {{host: 127.0.0.1, port: {}, credentialsSecret: {{name: src}}}}\n  \
         destination: {{type: mysql, host: 127.0.0.1, port: {}, credentialsSecret: {{name: dst}}}}\n  objects: [{{database: app}}]\n",
        src.port, dst.port
    );
    ok(plane.kubectl_stdin(&["apply", "-f", "-"], &manifests), "apply the task");
    wait_caught_up(&src, &dst, "default/app", Duration::from_secs(120)).await;
    src.exec("UPDATE app.t SET v = 'x' WHERE id <= 10").await;
    wait_caught_up(&src, &dst, "default/app", Duration::from_secs(60)).await;
    assert_same_rows(&src, &dst, "app", "t").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let phase = ok(plane.kubectl(&["get", "st", "app", "-o", "jsonpath={.status.phase}"]), "phase");
        if phase == "Incremental" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "phase {phase}; operator log:\n{}",
            std::fs::read_to_string(dir.path().join("operator.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let lease = ok(
        plane.kubectl(&[
            "get",
            "lease",
            "-n",
            "ferry",
            "ferry-operator",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ]),
        "lease",
    );
    assert_eq!(lease, "chart-operator");
    ok(plane.kubectl(&["delete", "st", "app", "--timeout=60s"]), "delete the task");
    drop(runner);
    let _ = operator.kill();
    let _ = operator.wait();
}
