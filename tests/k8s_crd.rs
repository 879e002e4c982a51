//! The SyncTask CRD on a real kube-apiserver (built from Go modules, see
//! `scripts/k8s-tools.sh`): `kubectl apply -f crds/` is accepted, and the API server itself
//! refuses invalid SyncTasks with a message that names the field and the rule.

mod support;

use support::k8s::ControlPlane;

const VALID: &str = "apiVersion: ferry.dev/v1alpha1
kind: SyncTask
metadata: {name: orders}
spec:
  source: {host: src.example, port: 3306, credentialsSecret: {name: src}}
  destination: {type: lindorm, host: ld.example, credentialsSecret: {name: dst}}
  objects: [{database: shop}]
";

fn task(name: &str, extra_spec: &str, with_source: bool) -> String {
    let source = if with_source {
        "  source: {host: src.example, port: 3306, credentialsSecret: {name: src}}\n"
    } else {
        ""
    };
    format!(
        "apiVersion: ferry.dev/v1alpha1\nkind: SyncTask\nmetadata: {{name: {name}}}\nspec:\n{source}  \
         destination: {{type: mysql, host: dst.example, credentialsSecret: {{name: dst}}}}\n  objects: [{{database: shop}}]\n{extra_spec}"
    )
}

#[test]
fn the_api_server_takes_the_crd_and_refuses_invalid_tasks() {
    let plane = ControlPlane::start();
    let crds = support::root().join("crds");
    let out = plane.kubectl(&["apply", "--server-side", "-f", &crds.display().to_string()]);
    assert!(
        out.status.success(),
        "kubectl apply -f crds/: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = plane.kubectl(&["wait", "--for=condition=Established", "crd/synctasks.ferry.dev", "--timeout=60s"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // A valid task is stored with its defaults applied by the API server.
    let out = plane.kubectl_stdin(&["apply", "-f", "-"], VALID);
    assert!(out.status.success(), "valid task refused: {}", String::from_utf8_lossy(&out.stderr));
    let out = plane.kubectl(&[
        "get",
        "st",
        "orders",
        "-o",
        "jsonpath={.spec.retry.connectionFailures} {.spec.retry.otherFailures}",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "720m 10m");

    let refused = |name: &str, yaml: String, expected: &[&str]| {
        let out = plane.kubectl_stdin(&["apply", "-f", "-"], &yaml);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "{name} was accepted");
        for e in expected {
            assert!(stderr.contains(e), "{name}: `{e}` not in: {stderr}");
        }
        let out = plane.kubectl(&["get", "st", name]);
        assert!(!out.status.success(), "{name} was stored");
    };
    refused(
        "short-window",
        task("short-window", "  retry: {connectionFailures: 5m}\n", true),
        &["spec.retry.connectionFailures", "from 10m to 1440m"],
    );
    refused(
        "long-window",
        task("long-window", "  retry: {connectionFailures: 2000m}\n", true),
        &["spec.retry.connectionFailures", "from 10m to 1440m"],
    );
    refused(
        "odd-unit",
        task("odd-unit", "  retry: {otherFailures: 1h30m}\n", true),
        &["spec.retry.otherFailures", "whole number of s, m or h"],
    );
    refused(
        "out-of-order",
        task("out-of-order", "  retry: {connectionFailures: 20m, otherFailures: 30m}\n", true),
        &["otherFailures must be less than spec.retry.connectionFailures"],
    );
    refused("no-source", task("no-source", "", false), &["spec.source", "Required value"]);
    // The task-file corpus: what `kubectl apply --validate=strict` (strict field validation,
    // the CRD's schema and CEL) does with each file is what the file says, and agrees with
    // `ferry validate` on all but the files whose `# note:` says why not.
    let mut wrong = Vec::new();
    for (path, ferry_valid, _, accepts) in support::corpus() {
        let file = path.display().to_string();
        let out = plane.kubectl(&["apply", "--validate=strict", "--dry-run=server", "-f", &file]);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if out.status.success() != accepts {
            wrong.push(format!("{file}: kubectl says: {text}"));
        }
        let noted = std::fs::read_to_string(&path).expect("read").contains("# note: the ");
        assert!(accepts == ferry_valid || noted, "{file}: ferry and kubectl disagree without a note");
    }
    assert!(
        wrong.is_empty(),
        "kubectl answers otherwise than the corpus says:\n{}",
        wrong.join("\n")
    );
    refused(
        "no-phase",
        task("no-phase", "  syncTypes: {full: false, incremental: false}\n", true),
        &["enable full, incremental or both"],
    );
}
