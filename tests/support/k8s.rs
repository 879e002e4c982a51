//! A real Kubernetes control plane for tests: etcd, kube-apiserver (client-certificate auth,
//! RBAC, service-account token signing) and kube-controller-manager (garbage collector,
//! namespace and service-account controllers), built from Go modules by
//! `scripts/k8s-tools.sh` (`make k8s-tools`). There is no kubelet.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use super::{free_port, root};

/// A running control plane; stopped on drop.
pub struct ControlPlane {
    pub dir: tempfile::TempDir,
    pub bin: PathBuf,
    /// Admin kubeconfig (group system:masters).
    pub kubeconfig: PathBuf,
    pub apiserver_port: u16,
    children: Vec<(String, Child)>,
}

/// Directory of the control-plane binaries, built (or found in the cache) by the project script.
pub fn tools() -> PathBuf {
    let out = Command::new(root().join("scripts/k8s-tools.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/k8s-tools.sh");
    assert!(
        out.status.success(),
        "scripts/k8s-tools.sh failed: run `make k8s-tools` and read its output"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(text.lines().last().expect("the script prints the bin directory").trim())
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A key and a certificate signed by the test CA.
fn issue(dir: &Path, name: &str, subject: &str, extensions: &str) {
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(&ext, extensions).expect("write extensions");
    openssl(dir, &["genrsa", "-out", &format!("{name}.key"), "2048"]);
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &format!("{name}.key"),
            "-subj",
            subject,
            "-out",
            &format!("{name}.csr"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

/// Writes a kubeconfig for the client certificate `name`.
pub fn kubeconfig(dir: &Path, name: &str, port: u16) -> PathBuf {
    write_kubeconfig(dir, name, name, port, None)
}

/// Writes a kubeconfig `file` for the client certificate `cert`, impersonating `user` if given.
fn write_kubeconfig(dir: &Path, file: &str, cert: &str, port: u16, user: Option<&str>) -> PathBuf {
    let path = dir.join(format!("{file}.kubeconfig"));
    let impersonate = user.map(|u| format!("    as: {u}\n")).unwrap_or_default();
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: https://127.0.0.1:{port}\n    \
         certificate-authority: {dir}/ca.crt\nusers:\n- name: {cert}\n  user:\n    client-certificate: {dir}/{cert}.crt\n    \
         client-key: {dir}/{cert}.key\n{impersonate}contexts:\n- name: test\n  context:\n    cluster: test\n    user: {cert}\n    \
         namespace: default\ncurrent-context: test\n",
        dir = dir.display()
    );
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}

impl ControlPlane {
    /// Starts etcd, kube-apiserver and kube-controller-manager and waits until the API is ready.
    pub fn start() -> ControlPlane {
        let bin = tools();
        let dir = tempfile::Builder::new().prefix("ferry-k8s-").tempdir().expect("temp dir");
        let d = dir.path();
        // PKI: a CA, the API server's serving certificate, client certificates, SA keys.
        openssl(d, &["genrsa", "-out", "ca.key", "2048"]);
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "ca.key",
                "-subj",
                "/CN=ferry-test-ca",
                "-days",
                "2",
                "-out",
                "ca.crt",
            ],
        );
        issue(
            d,
            "apiserver",
            "/CN=kube-apiserver",
            "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n",
        );
        issue(d, "admin", "/O=system:masters/CN=admin", "extendedKeyUsage=clientAuth\n");
        issue(
            d,
            "controller-manager",
            "/CN=system:kube-controller-manager",
            "extendedKeyUsage=clientAuth\n",
        );
        openssl(d, &["genrsa", "-out", "sa.key", "2048"]);
        openssl(d, &["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);

        let (etcd_port, peer_port, api_port) = (free_port(), free_port(), free_port());
        let mut plane = ControlPlane {
            kubeconfig: kubeconfig(d, "admin", api_port),
            apiserver_port: api_port,
            bin: bin.clone(),
            children: Vec::new(),
            dir,
        };
        let d = plane.dir.path().to_path_buf();
        plane.spawn(
            "etcd",
            &[
                "--name=test".into(),
                format!("--data-dir={}/etcd", d.display()),
                format!("--listen-client-urls=http://127.0.0.1:{etcd_port}"),
                format!("--advertise-client-urls=http://127.0.0.1:{etcd_port}"),
                format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"),
                format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"),
                format!("--initial-cluster=test=http://127.0.0.1:{peer_port}"),
                "--unsafe-no-fsync".into(),
                "--log-level=warn".into(),
            ],
        );
        let p = |f: &str| format!("{}/{f}", d.display());
        plane.spawn(
            "kube-apiserver",
            &[
                format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
                format!("--secure-port={api_port}"),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                format!("--cert-dir={}", p("apiserver-certs")),
                format!("--tls-cert-file={}", p("apiserver.crt")),
                format!("--tls-private-key-file={}", p("apiserver.key")),
                format!("--client-ca-file={}", p("ca.crt")),
                "--authorization-mode=RBAC".into(),
                "--service-account-issuer=https://kubernetes.default.svc".into(),
                format!("--service-account-key-file={}", p("sa.pub")),
                format!("--service-account-signing-key-file={}", p("sa.key")),
                "--service-cluster-ip-range=10.96.0.0/24".into(),
                "--enable-priority-and-fairness=false".into(),
                "--v=0".into(),
            ],
        );
        plane.wait_ready();
        let kcm = kubeconfig(&d, "controller-manager", api_port);
        plane.spawn(
            "kube-controller-manager",
            &[
                format!("--kubeconfig={}", kcm.display()),
                format!("--authentication-kubeconfig={}", kcm.display()),
                format!("--authorization-kubeconfig={}", kcm.display()),
                "--controllers=garbage-collector-controller,namespace-controller,serviceaccount-controller".into(),
                format!("--service-account-private-key-file={}", p("sa.key")),
                format!("--root-ca-file={}", p("ca.crt")),
                "--leader-elect=false".into(),
                format!("--secure-port={}", free_port()),
                "--bind-address=127.0.0.1".into(),
                "--v=0".into(),
            ],
        );
        plane
    }

    fn spawn(&mut self, name: &str, args: &[String]) {
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.log"))).expect("log file");
        let child = Command::new(self.bin.join(name))
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        self.children.push((name.to_string(), child));
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let out = self.kubectl(&["get", "--raw", "/readyz"]);
            if out.status.success() {
                return;
            }
            let exited = self
                .children
                .iter_mut()
                .find_map(|(name, child)| child.try_wait().ok().flatten().map(|status| (name.clone(), status)));
            if let Some((name, status)) = exited {
                panic!("{name} exited ({status}) while starting:\n{}", self.log_tail(&name));
            }
            assert!(
                Instant::now() < deadline,
                "the API server was not ready within 120s:\n{}",
                self.log_tail("kube-apiserver")
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// A kubeconfig that acts as the service account `namespace/name` (the admin impersonating
    /// it), so a process runs with exactly that account's RBAC.
    pub fn kubeconfig_as_service_account(&self, namespace: &str, name: &str) -> PathBuf {
        let user = format!("system:serviceaccount:{namespace}:{name}");
        write_kubeconfig(
            self.dir.path(),
            &format!("sa-{namespace}-{name}"),
            "admin",
            self.apiserver_port,
            Some(&user),
        )
    }

    /// Runs helm as the admin.
    pub fn helm(&self, args: &[&str]) -> std::process::Output {
        Command::new(self.bin.join("helm"))
            .arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .args(args)
            .env("HELM_CACHE_HOME", self.dir.path().join("helm/cache"))
            .env("HELM_CONFIG_HOME", self.dir.path().join("helm/config"))
            .env("HELM_DATA_HOME", self.dir.path().join("helm/data"))
            .output()
            .expect("run helm")
    }

    /// The last lines of a component's log.
    pub fn log_tail(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Runs kubectl as the admin.
    pub fn kubectl(&self, args: &[&str]) -> std::process::Output {
        Command::new(self.bin.join("kubectl"))
            .arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .args(args)
            .output()
            .expect("run kubectl")
    }

    /// Runs kubectl with `stdin` as its input.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> std::process::Output {
        use std::io::Write;
        let mut child = Command::new(self.bin.join("kubectl"))
            .arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
        child.wait_with_output().expect("kubectl output")
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A kube client for the kubeconfig at `path`.
pub async fn client(path: &Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(path).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .expect("kubeconfig");
    kube::Client::try_from(config).expect("client")
}

/// Stands in for the kubelet, and only for it: binds the worker Pods the operator creates to a
/// test node, runs each Pod's `ferry` command as a local process with the Pod's environment
/// (Secret references resolved from the API) plus `KUBECONFIG`, writes the Pod's status
/// (Running, then Succeeded/Failed with the exit code), and stops the process when the Pod is
/// deleted.
pub struct PodRunner {
    task: tokio::task::JoinHandle<()>,
    procs: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, u32>>>,
    pub log_dir: PathBuf,
}

impl PodRunner {
    /// Starts the runner; worker processes use `kubeconfig` to reach the API.
    pub async fn start(plane: &ControlPlane, kubeconfig: PathBuf) -> PodRunner {
        use k8s_openapi::api::core::v1::Pod;
        let client = client(&plane.kubeconfig).await;
        let log_dir = plane.dir.path().join("pods");
        std::fs::create_dir_all(&log_dir).expect("pod log dir");
        let procs = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::new()));
        let (dir, shared) = (log_dir.clone(), procs.clone());
        let task = tokio::spawn(async move {
            let pods: kube::Api<Pod> = kube::Api::all(client.clone());
            let mut running: std::collections::BTreeMap<String, (String, String, std::process::Child)> = Default::default();
            loop {
                let listed = pods
                    .list(&kube::api::ListParams::default().labels("app.kubernetes.io/component=worker"))
                    .await;
                if let Ok(list) = listed {
                    let mut seen = std::collections::BTreeSet::new();
                    for pod in list.items {
                        let (ns, name) = (
                            pod.metadata.namespace.clone().unwrap_or_default(),
                            pod.metadata.name.clone().unwrap_or_default(),
                        );
                        let uid = pod.metadata.uid.clone().unwrap_or_default();
                        seen.insert(uid.clone());
                        let api: kube::Api<Pod> = kube::Api::namespaced(client.clone(), &ns);
                        if pod.metadata.deletion_timestamp.is_some() {
                            if let Some((_, _, mut child)) = running.remove(&uid) {
                                stop(&mut child);
                            }
                            let _ = api.delete(&name, &kube::api::DeleteParams::default().grace_period(0)).await;
                            continue;
                        }
                        if running.contains_key(&uid) {
                            continue;
                        }
                        let phase = pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
                        if phase == "Succeeded" || phase == "Failed" {
                            continue;
                        }
                        match launch(&client, &pod, &kubeconfig, &dir).await {
                            Ok(child) => {
                                set_status(&api, &name, "Running", None).await;
                                running.insert(uid, (ns, name, child));
                            }
                            Err(e) => eprintln!("pod runner: cannot run {ns}/{name}: {e}"),
                        }
                    }
                    // Pods gone from the API: stop their processes.
                    let gone: Vec<String> = running.keys().filter(|u| !seen.contains(*u)).cloned().collect();
                    for uid in gone {
                        if let Some((_, _, mut child)) = running.remove(&uid) {
                            stop(&mut child);
                        }
                    }
                }
                // Exited processes: the Pod's final status.
                let mut exited = Vec::new();
                for (uid, (_, _, child)) in running.iter_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        use std::os::unix::process::ExitStatusExt;
                        exited.push((uid.clone(), status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))));
                    }
                }
                for (uid, code) in exited {
                    if let Some((ns, name, _)) = running.remove(&uid) {
                        let api: kube::Api<Pod> = kube::Api::namespaced(client.clone(), &ns);
                        set_status(&api, &name, if code == 0 { "Succeeded" } else { "Failed" }, Some(code)).await;
                    }
                }
                if let Ok(mut p) = shared.lock() {
                    *p = running
                        .values()
                        .map(|(ns, name, child)| (format!("{ns}/{name}"), child.id()))
                        .collect();
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        PodRunner { task, procs, log_dir }
    }

    /// Process ids of running worker Pods, by `namespace/name`.
    pub fn processes(&self) -> std::collections::BTreeMap<String, u32> {
        self.procs.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

impl Drop for PodRunner {
    fn drop(&mut self) {
        self.task.abort();
        for pid in self.processes().values() {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    }
}

fn stop(child: &mut std::process::Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

async fn launch(
    client: &kube::Client,
    pod: &k8s_openapi::api::core::v1::Pod,
    kubeconfig: &Path,
    dir: &Path,
) -> Result<std::process::Child, String> {
    use k8s_openapi::api::core::v1::{Binding, ObjectReference, Secret};
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let spec = pod.spec.as_ref().ok_or("no spec")?;
    let container = spec.containers.first().ok_or("no container")?;
    // Bind to the test node, as the scheduler would.
    if spec.node_name.is_none() {
        let binding = Binding {
            metadata: kube::api::ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            target: ObjectReference {
                kind: Some("Node".into()),
                name: Some("ferry-test-node".into()),
                ..Default::default()
            },
        };
        let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(client.clone(), &ns);
        pods.create_subresource::<Binding, serde_json::Value>("binding", &name, &kube::api::PostParams::default(), &binding)
            .await
            .map_err(|e| format!("bind: {e}"))?;
    }
    let mut command = container.command.clone().unwrap_or_default();
    command.extend(container.args.clone().unwrap_or_default());
    if command.first().map(String::as_str) != Some("ferry") {
        return Err(format!("unexpected command {command:?}"));
    }
    let mut process = Command::new(env!("CARGO_BIN_EXE_ferry"));
    process
        .args(&command[1..])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    let secrets: kube::Api<Secret> = kube::Api::namespaced(client.clone(), &ns);
    for var in container.env.clone().unwrap_or_default() {
        let value = match (&var.value, var.value_from.as_ref().and_then(|f| f.secret_key_ref.as_ref())) {
            (Some(v), _) => v.clone(),
            (None, Some(r)) => {
                let secret = secrets.get(&r.name).await.map_err(|e| format!("secret {}: {e}", r.name))?;
                let bytes = secret
                    .data
                    .and_then(|d| d.get(&r.key).cloned())
                    .ok_or(format!("secret {} has no {}", r.name, r.key))?;
                String::from_utf8(bytes.0).map_err(|e| e.to_string())?
            }
            _ => continue,
        };
        process.env(var.name, value);
    }
    process.env("KUBECONFIG", kubeconfig).env("FERRY_METRICS_ADDR", "off");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{ns}_{name}.log")))
        .map_err(|e| e.to_string())?;
    process.stdout(Stdio::null()).stderr(log);
    process.spawn().map_err(|e| e.to_string())
}

async fn set_status(api: &kube::Api<k8s_openapi::api::core::v1::Pod>, name: &str, phase: &str, exit_code: Option<i32>) {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let state = match exit_code {
        None => serde_json::json!({"running": {"startedAt": now}}),
        Some(code) => {
            serde_json::json!({"terminated": {"exitCode": code, "finishedAt": now, "reason": if code == 0 { "Completed" } else { "Error" }}})
        }
    };
    let patch = serde_json::json!({"status": {
        "phase": phase,
        "containerStatuses": [{"name": "worker", "ready": exit_code.is_none(), "restartCount": 0, "image": "ferry", "imageID": "", "state": state}],
    }});
    if let Err(e) = api
        .patch_status(name, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch))
        .await
    {
        eprintln!("pod runner: status of {name}: {e}");
    }
}
