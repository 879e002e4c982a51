//! `ferry worker --task NS/NAME`: the engine inside a worker Pod. Reads its SyncTask and the
//! Secrets it names from the API, runs [`super::run_task`], and reports progress to
//! `status` under its own field manager (`ferry-worker`) at a bounded rate. A definite failure
//! is written to status (phase `Failed`, condition `Ready=False` with reason and remedy) before
//! the process exits non-zero.

use std::{collections::BTreeMap, time::Duration};

use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};
use serde_json::json;
use tokio::sync::watch;

use super::{Connections, run_task};
use crate::{
    api::{
        Condition, FullSyncStatus, IncrementalStatus, Phase, PositionStatus, PrecheckStatus, SecretRef, SyncTask, SyncTaskStatus,
        secret_env_var,
    },
    engine::retry::SyncError,
    metrics::{Stage, TaskMetrics},
    precheck::Gate,
    task::{ValidatedTask, validate},
    task_file::Credentials,
};

/// Field manager of everything the worker writes.
pub const FIELD_MANAGER: &str = "ferry-worker";

/// Most status writes per second, whatever the progress.
const REPORT_EVERY: Duration = Duration::from_secs(2);

/// Why the worker could not run its task.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("`{0}` is not NAMESPACE/NAME")]
    TaskRef(String),
    #[error("failed to reach the Kubernetes API: {0}")]
    Client(#[source] kube::Error),
    #[error("failed to read SyncTask {key}: {source}")]
    ReadTask { key: String, source: kube::Error },
    #[error("SyncTask {key} is invalid: {message}")]
    Invalid { key: String, message: String },
    #[error("Secret {namespace}/{name}: {message}")]
    Secret { namespace: String, name: String, message: String },
    #[error("task {key} failed: {source}")]
    Failed { key: String, source: SyncError },
    #[error("the task's Lease: {0}")]
    Lease(String),
    #[error("lost the task's Lease; stopped without writing further")]
    LostLease,
    #[error("a precheck failed; see status.precheck")]
    PrecheckFailed,
    #[error("the source or the destination is unreachable (see status.precheck); the operator retries")]
    Unreachable,
}

/// Seconds the task's Lease lasts without renewal: a worker on a lost node is replaced only
/// after it, so two workers never write at once.
const LEASE_SECONDS: u64 = 30;

/// Runs the task named `task_ref` until `stop` turns true (Ok) or it fails for good.
/// `metrics_addr`: where to serve `/metrics` and `/healthz`, if anywhere.
pub async fn run(task_ref: &str, metrics_addr: Option<std::net::SocketAddr>, stop: watch::Receiver<bool>) -> Result<(), WorkerError> {
    let (namespace, name) = task_ref
        .split_once('/')
        .filter(|(ns, n)| !ns.is_empty() && !n.is_empty())
        .ok_or_else(|| WorkerError::TaskRef(task_ref.to_string()))?;
    let client = Client::try_default().await.map_err(WorkerError::Client)?;
    let tasks: Api<SyncTask> = Api::namespaced(client.clone(), namespace);
    let task = tasks.get(name).await.map_err(|source| WorkerError::ReadTask {
        key: task_ref.to_string(),
        source,
    })?;
    let generation = task.metadata.generation;
    let mut reporter = Reporter {
        tasks: tasks.clone(),
        name: name.to_string(),
        generation,
        precheck: None,
    };
    let validated = match validate(namespace, name, &task.spec) {
        Ok(v) => v,
        Err(e) => {
            let message = e.to_string();
            reporter.failed("Invalid", &message, "fix the SyncTask spec").await;
            return Err(WorkerError::Invalid {
                key: task_ref.to_string(),
                message,
            });
        }
    };
    let connections = match read_secrets(&client, namespace, &validated).await {
        Ok(c) => c,
        Err(e) => {
            reporter
                .failed("SecretUnreadable", &e.to_string(), "create the Secret with the keys named")
                .await;
            return Err(e);
        }
    };
    let metrics = TaskMetrics::new(&validated.key).map_err(|e| WorkerError::Invalid {
        key: task_ref.to_string(),
        message: format!("metrics: {e}"),
    })?;
    if let Some(addr) = metrics_addr {
        let m = metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::metrics::serve(addr, m).await {
                tracing::error!(%addr, error = %e, "failed to serve metrics");
            }
        });
    }
    // One writer per task: hold the task's Lease before touching anything, stop if it is lost.
    let identity = std::env::var("POD_NAME").unwrap_or_else(|_| format!("worker-{:08x}", rand::random::<u32>()));
    let lease = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), format!("ferry-task-{name}"))
        .with_namespace(namespace)
        .with_identity(identity.clone())
        .with_duration(LEASE_SECONDS)
        .with_grace(10)
        .build()
        .await
        .map_err(|e| WorkerError::Lease(e.to_string()))?;
    let (mut held, lease_task) = lease.watch().await;
    let mut waiting_stop = stop.clone();
    let mut announced = false;
    while !*held.borrow_and_update() {
        if !announced {
            tracing::info!(lease = %format!("{namespace}/ferry-task-{name}"), %identity, "waiting for the task's Lease: another worker holds it");
            announced = true;
        }
        tokio::select! {
            changed = held.changed() => if changed.is_err() { return Err(WorkerError::Lease("the Lease manager stopped".into())) },
            _ = waiting_stop.wait_for(|s| *s) => return Ok(()),
        }
    }
    tracing::info!(%identity, "holding the task's Lease");
    let (source, destination) = super::endpoints(&validated, &connections);
    let (report, gate) = crate::precheck::gate(&validated, &source, &destination).await;
    for item in &report.items {
        tracing::info!(check = %item.name, result = ?item.result, message = %item.message, "precheck");
    }
    reporter.precheck = Some(report);
    match gate {
        Gate::Start => {}
        // The source or the destination is down: a reason to retry (the operator relaunches
        // within retry.connectionFailures), not to give up on the task.
        Gate::Unreachable => return Err(WorkerError::Unreachable),
        Gate::Resume => tracing::warn!("a precheck failed, but the task has already started: resuming from its checkpoint"),
        Gate::Failed => {
            let message = "a precheck failed; see status.precheck for the item and its remedy";
            reporter
                .stopped(
                    Phase::PrecheckFailed,
                    "PrecheckFailed",
                    message,
                    "fix the cause, then change the spec to run the prechecks again",
                )
                .await;
            return Err(WorkerError::PrecheckFailed);
        }
    }
    let report_loop = {
        let (reporter, metrics) = (reporter.clone(), metrics.clone());
        tokio::spawn(async move {
            loop {
                reporter.progress(&metrics).await;
                tokio::time::sleep(REPORT_EVERY).await;
            }
        })
    };
    let (run_stop_tx, run_stop) = watch::channel(false);
    let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let guard = {
        let (mut stop, lost) = (stop.clone(), lost.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => {}
                _ = async { while held.changed().await.is_ok() && *held.borrow() {} } => {
                    tracing::error!("lost the task's Lease: stopping at the next batch boundary so that two workers never write");
                    lost.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
            let _ = run_stop_tx.send(true);
            // Keep the Lease until the run has stopped.
            std::future::pending::<()>().await;
        })
    };
    let result = run_task(validated, connections, metrics.clone(), run_stop).await;
    guard.abort();
    // The guard held the last receiver: the Lease manager now releases the Lease, so a
    // successor starts at once instead of waiting for it to expire.
    let _ = guard.await;
    if let Ok(Ok(Ok(manager))) = tokio::time::timeout(Duration::from_secs(5), lease_task).await {
        let _ = manager.release().await;
    }
    report_loop.abort();
    reporter.progress(&metrics).await;
    if lost.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(WorkerError::LostLease);
    }
    match result {
        Ok(()) => Ok(()),
        Err(source) => {
            let remedy = source.remedy.clone().unwrap_or_default();
            reporter.failed(source.class.label(), &source.message, &remedy).await;
            Err(WorkerError::Failed {
                key: task_ref.to_string(),
                source,
            })
        }
    }
}

/// Writes the worker's part of the status.
#[derive(Clone)]
struct Reporter {
    tasks: Api<SyncTask>,
    name: String,
    generation: Option<i64>,
    /// Carried in every write: a server-side apply drops what its manager leaves out.
    precheck: Option<PrecheckStatus>,
}

impl Reporter {
    async fn apply(&self, status: SyncTaskStatus) {
        let patch = json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "SyncTask",
            "status": status,
        });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        if let Err(e) = self.tasks.patch_status(&self.name, &params, &Patch::Apply(&patch)).await {
            tracing::warn!(error = %e, "failed to report progress to the SyncTask status");
        }
    }

    async fn progress(&self, metrics: &TaskMetrics) {
        let mut status = status_of(metrics, self.generation);
        status.precheck = self.precheck.clone();
        self.apply(status).await;
    }

    async fn failed(&self, reason: &str, message: &str, remedy: &str) {
        self.stopped(Phase::Failed, reason, message, remedy).await;
    }

    async fn stopped(&self, phase: Phase, reason: &str, message: &str, remedy: &str) {
        let status = SyncTaskStatus {
            precheck: self.precheck.clone(),
            phase: Some(phase),
            observed_generation: self.generation,
            conditions: vec![Condition {
                kind: "Ready".into(),
                status: "False".into(),
                reason: Some(reason.to_string()),
                message: Some(if remedy.is_empty() {
                    message.to_string()
                } else {
                    format!("{message}. Remedy: {remedy}")
                }),
                last_transition_time: Some(now_rfc3339()),
                observed_generation: self.generation,
            }],
            ..Default::default()
        };
        self.apply(status).await;
    }
}

/// The progress part of the status, from the worker's metrics (what `/metrics` shows too).
pub fn status_of(metrics: &TaskMetrics, generation: Option<i64>) -> SyncTaskStatus {
    let text = metrics.text();
    let phase = match text.stage {
        Stage::Starting | Stage::FullSync => Phase::FullSync,
        Stage::Incremental | Stage::Stopped => Phase::Incremental,
        Stage::Retrying => Phase::Retrying,
    };
    let (rows_copied, rows_estimated) = (metrics.rows_copied.get(), metrics.rows_estimated.get().max(0) as u64);
    let (tables_done, tables_total) = (metrics.tables_done.get().max(0) as u32, metrics.tables_total.get().max(0) as u32);
    let percent = if text.stage == Stage::Incremental || (tables_total > 0 && tables_done == tables_total) {
        100
    } else {
        (rows_copied * 100).checked_div(rows_estimated).unwrap_or(0).min(99)
    };
    let position = parse_position(&text.position);
    SyncTaskStatus {
        phase: Some(phase),
        progress: Some(format!("{percent}%")),
        observed_generation: generation,
        conditions: vec![
            Condition {
                kind: "Ready".into(),
                status: if phase == Phase::Retrying { "False" } else { "True" }.into(),
                reason: Some(format!("{phase:?}")),
                message: text.retry.clone(),
                last_transition_time: None,
                observed_generation: generation,
            },
            {
                let warning = metrics.retention_warning();
                Condition {
                    kind: "BinlogRetained".into(),
                    status: if warning.is_some() { "False" } else { "True" }.into(),
                    reason: Some(if warning.is_some() { "PurgeNear" } else { "WithinRetention" }.into()),
                    message: warning,
                    last_transition_time: None,
                    observed_generation: generation,
                }
            },
        ],
        full_sync: Some(FullSyncStatus {
            tables_done,
            tables_total,
            rows_copied,
            rows_estimated,
        }),
        incremental: (phase != Phase::FullSync).then(|| IncrementalStatus {
            position,
            last_event_time: None,
            lag_seconds: metrics.lag_seconds.get().max(0) as u64,
            events_applied: metrics.events_applied.get(),
        }),
        retry: text.retrying.as_ref().map(|r| {
            let at = |s: u64| {
                k8s_openapi::jiff::Timestamp::from_second(s as i64)
                    .map(|t| t.to_string())
                    .unwrap_or_default()
            };
            crate::api::RetryStatus {
                reason: r.reason.clone(),
                since: at(r.since),
                attempts: r.attempts,
                last_failure: at(r.last_failure),
                deadline: at(r.deadline),
            }
        }),
        precheck: None,
        throttled_seconds: Some(metrics.throttled_seconds.get() as u64),
    }
}

/// `file:pos [gtid]` as the metrics text shows it.
fn parse_position(text: &str) -> Option<PositionStatus> {
    let (head, gtid) = match text.split_once(" [") {
        Some((h, g)) => (h, Some(g.trim_end_matches(']').to_string())),
        None => (text, None),
    };
    let (file, pos) = head.rsplit_once(':')?;
    Some(PositionStatus {
        file: file.to_string(),
        pos: pos.parse().ok()?,
        gtid,
    })
}

fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

/// Credentials and CA bundles of the task: from `FERRY_SECRET_<NAME>_<KEY>` where the Pod has
/// them (the operator passes every credential as a `secretKeyRef`), else read from the API.
async fn read_secrets(client: &Client, namespace: &str, task: &ValidatedTask) -> Result<Connections, WorkerError> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let value = async |r: &SecretRef, key: &str| -> Result<String, WorkerError> {
        if let Ok(v) = std::env::var(secret_env_var(&r.name, key)) {
            return Ok(v);
        }
        let err = |message: String| WorkerError::Secret {
            namespace: namespace.to_string(),
            name: r.name.clone(),
            message,
        };
        let secret = secrets.get(&r.name).await.map_err(|e| err(format!("cannot be read: {e}")))?;
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone())
            .or_else(|| secret.string_data.as_ref().and_then(|d| d.get(key)).map(|s| s.clone().into_bytes()))
            .ok_or_else(|| err(format!("has no key `{key}`; add it")))?;
        String::from_utf8(bytes).map_err(|_| err(format!("key `{key}` is not UTF-8")))
    };
    let spec = &task.spec;
    let mut ca_bundles = BTreeMap::new();
    for tls in [spec.source.tls.as_ref(), spec.destination.tls.as_ref()].into_iter().flatten() {
        if let Some(ca) = &tls.ca_secret {
            ca_bundles.insert(ca.name.clone(), value(ca, "ca.crt").await?.into_bytes());
        }
    }
    let (src, dst) = (&spec.source.credentials_secret, &spec.destination.credentials_secret);
    Ok(Connections {
        source: Credentials {
            username: value(src, "username").await?,
            password: value(src, "password").await?,
        },
        destination: Credentials {
            username: value(dst, "username").await?,
            password: value(dst, "password").await?,
        },
        ca_bundles,
    })
}
