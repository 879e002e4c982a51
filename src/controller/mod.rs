//! `ferry operator`: a kube-runtime Controller on SyncTask that owns one worker Pod per task.
//!
//! Reconcile runs dereference → validate → build → apply → status: read the task and its
//! worker Pod, validate the spec (the API server's CEL rules catch most mistakes first), build
//! the desired Pod, make the cluster match (create it; replace it when the spec's generation
//! changed; delete it when suspended; relaunch it with backoff when it crashed, within the
//! retry window), and write what it did to the status under the field manager
//! `ferry-operator`, with an Event on every transition. The worker reports its own progress
//! under `ferry-worker`. A finalizer removes the worker before the task goes.

pub mod pod;

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams},
    runtime::{
        Controller,
        controller::Action,
        events::{Event, EventType, Recorder, Reporter},
        finalizer::{Event as Finalized, finalizer},
        watcher,
    },
};
use serde_json::json;

use crate::{
    api::{Condition, Exit, Phase, RetryStatus, SyncTask, SyncTaskStatus},
    metrics::OperatorMetrics,
    task::validate,
};

/// Field manager of everything the operator writes.
pub const FIELD_MANAGER: &str = "ferry-operator";
/// Finalizer that removes the worker before the task is deleted.
pub const FINALIZER: &str = "ferry.dev/worker";

/// How the operator launches workers.
#[derive(Clone, Debug)]
pub struct Options {
    /// Worker image when the task does not name one.
    pub image: String,
    /// Service account of worker Pods.
    pub worker_service_account: String,
    /// Only watch this namespace; `None`: all namespaces.
    pub namespace: Option<String>,
    /// Namespace of the leader-election Lease (the operator's own).
    pub lease_namespace: String,
    /// This replica's identity in the Lease (the Pod name).
    pub identity: String,
    /// Where to serve `/metrics` and `/healthz`, if anywhere.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// Name of the leader-election Lease.
pub const LEASE: &str = "ferry-operator";
/// Seconds a leader's Lease lasts without renewal; another replica takes over after it.
const LEASE_SECONDS: u64 = 15;

/// Why a reconcile failed; retried by the controller with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    #[error("leader election: {0}")]
    Lease(#[from] kube_lease_manager::LeaseManagerError),
    #[error("lost the leader Lease {0}; exiting so that a fresh start competes again")]
    LostLeadership(String),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

struct Ctx {
    client: Client,
    options: Options,
    recorder: Recorder,
    metrics: Arc<OperatorMetrics>,
}

impl Error {
    /// Category label of the error metric.
    fn category(&self) -> &'static str {
        match self {
            Error::Kube(_) => "api",
            Error::Finalizer(_) => "finalizer",
            Error::Lease(_) | Error::LostLeadership(_) => "lease",
            Error::Metrics(_) => "metrics",
        }
    }
}

/// Runs the controller until the process ends.
pub async fn run(client: Client, options: Options) -> Result<(), Error> {
    let (tasks, pods): (Api<SyncTask>, Api<Pod>) = match &options.namespace {
        Some(ns) => (Api::namespaced(client.clone(), ns), Api::namespaced(client.clone(), ns)),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let metrics = Arc::new(OperatorMetrics::new()?);
    if let Some(addr) = options.metrics_addr {
        let registry = metrics.registry.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::metrics::serve_registry(addr, registry).await {
                tracing::error!(%addr, error = %e, "failed to serve metrics");
            }
        });
    }
    // Fail early and clearly when the CRD is missing.
    tasks.list(&kube::api::ListParams::default().limit(1)).await?;
    // One active replica: the holder of the Lease. The others wait to take over.
    let lease = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), LEASE)
        .with_namespace(options.lease_namespace.clone())
        .with_identity(options.identity.clone())
        .with_duration(LEASE_SECONDS)
        .with_grace(5)
        .build()
        .await?;
    let (mut leader, _lease_task) = lease.watch().await;
    tracing::info!(identity = %options.identity, lease = %format!("{}/{LEASE}", options.lease_namespace), "waiting to lead");
    while !*leader.borrow_and_update() {
        if leader.changed().await.is_err() {
            return Err(Error::LostLeadership(LEASE.into()));
        }
    }
    tracing::info!(identity = %options.identity, "leading");
    let reporter = Reporter {
        controller: FIELD_MANAGER.into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let lease_name = format!("{}/{LEASE}", options.lease_namespace);
    let ctx = Arc::new(Ctx {
        recorder: Recorder::new(client.clone(), reporter),
        client,
        options,
        metrics: metrics.clone(),
    });
    let controller = Controller::new(tasks, watcher::Config::default());
    // Tasks by phase, from the controller's cache.
    let store = controller.store();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            metrics.tasks.reset();
            for task in store.state() {
                let phase = task
                    .status
                    .as_ref()
                    .and_then(|s| s.phase)
                    .map_or("None".to_string(), |p| format!("{p:?}"));
                metrics.tasks.with_label_values(&[phase.as_str()]).inc();
            }
        }
    });
    let controller = controller
        .owns(
            pods,
            watcher::Config::default().labels(&format!("{}={}", pod::COMPONENT.0, pod::COMPONENT.1)),
        )
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile failed");
            }
        });
    tokio::select! {
        () = controller => Ok(()),
        () = async { while leader.changed().await.is_ok() && *leader.borrow() {} } => {
            Err(Error::LostLeadership(lease_name))
        }
    }
}

fn error_policy(_task: Arc<SyncTask>, error: &Error, ctx: Arc<Ctx>) -> Action {
    ctx.metrics.errors.with_label_values(&[error.category()]).inc();
    tracing::warn!(%error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile(task: Arc<SyncTask>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    ctx.metrics.reconciles.inc();
    let ns = task.namespace().unwrap_or_else(|| "default".into());
    let tasks: Api<SyncTask> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer(&tasks, FINALIZER, task, |event| async {
        match event {
            Finalized::Apply(task) => apply(&task, &ctx).await,
            Finalized::Cleanup(task) => cleanup(&task, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

/// Makes the cluster match one task.
async fn apply(task: &SyncTask, ctx: &Ctx) -> Result<Action, Error> {
    let name = task.name_any();
    let ns = task.namespace().unwrap_or_else(|| "default".into());
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let generation = task.metadata.generation;
    let status = task.status.clone().unwrap_or_default();
    let pod_name = pod::pod_name(&name);
    let existing = pods.get_opt(&pod_name).await?.filter(|p| pod::owned_by(p, task));

    // Validate: the CEL rules catch most mistakes; the rest are caught here, before any Pod.
    let validated = match validate(&ns, &name, &task.spec) {
        Ok(v) => v,
        Err(e) => {
            if existing.is_some() {
                pods.delete(&pod_name, &DeleteParams::default()).await?;
            }
            transition(ctx, task, Phase::Failed, "Invalid", &e.to_string(), None).await?;
            return Ok(Action::await_change());
        }
    };

    if task.spec.suspend {
        if existing.is_some() {
            pods.delete(&pod_name, &DeleteParams::default()).await?;
        }
        if status.phase != Some(Phase::Suspended) {
            let message = "spec.suspend is true: the worker is stopped, the checkpoint is kept";
            transition(ctx, task, Phase::Suspended, "Suspended", message, None).await?;
        }
        return Ok(Action::await_change());
    }

    let Some(current) = existing else {
        // A task that failed for good stays so until its spec changes.
        if matches!(status.phase, Some(Phase::Failed | Phase::PrecheckFailed)) && status.observed_generation == generation {
            return Ok(Action::await_change());
        }
        // No worker: launch one, unless a crash relaunch is waiting out its backoff.
        if let Some(retry) = &status.retry
            && let Some(wait) = backoff_left(retry)
        {
            return Ok(Action::requeue(wait));
        }
        let desired = pod::build(task, &ctx.options.image, &ctx.options.worker_service_account);
        if let Err(e) = pods.create(&PostParams::default(), &desired).await {
            // Say why in the task's Events (a missing service account, a quota…); retried.
            let message = format!("cannot create worker Pod {pod_name}: {e}");
            event(ctx, task, EventType::Warning, "WorkerNotCreated", &message).await;
            return Err(e.into());
        }
        let (phase, reason) = if status.retry.is_some() {
            (Phase::Retrying, "WorkerRelaunched")
        } else {
            (Phase::Pending, "WorkerCreated")
        };
        transition(
            ctx,
            task,
            phase,
            reason,
            &format!("started worker Pod {pod_name}"),
            status.retry.clone(),
        )
        .await?;
        return Ok(Action::requeue(Duration::from_secs(60)));
    };

    if pod::generation_of(&current) != generation {
        // The spec changed: the worker restarts with it, from the checkpoint.
        pods.delete(&pod_name, &DeleteParams::default()).await?;
        let message = format!("spec generation {} applied: restarting the worker", generation.unwrap_or(0));
        transition(ctx, task, Phase::Pending, "SpecChanged", &message, None).await?;
        return Ok(Action::requeue(Duration::from_secs(1)));
    }

    let pod_phase = current.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
    match (pod_phase.as_str(), pod::exit_code(&current)) {
        // The task failed for good, could not start, or a precheck failed: the worker wrote
        // why. Nothing to retry until the spec changes.
        ("Failed", Some(code)) if matches!(Exit::from_code(code), Some(Exit::Failed | Exit::Invalid | Exit::PrecheckFailed)) => {
            if status.phase != Some(Phase::Failed) {
                let meaning = Exit::from_code(code).map_or("", Exit::meaning);
                let message = format!("the worker exited with code {code} ({meaning}); see the Ready condition for the reason");
                event(ctx, task, EventType::Warning, "WorkerFailed", &message).await;
            }
            Ok(Action::await_change())
        }
        // Anything else ending the process is relaunched from the checkpoint, with backoff, within
        // a retry window: spec.retry.connectionFailures when the worker lost its Lease or could
        // not reach an end (`Exit::Temporary`), spec.retry.otherFailures for a crash it could not
        // report (killed, out of memory, a panic). A worker that ran for two minutes or more
        // before failing starts a new streak.
        ("Failed", code) => {
            let now = k8s_openapi::jiff::Timestamp::now();
            let ran = current
                .metadata
                .creation_timestamp
                .as_ref()
                .map_or(0, |t| now.duration_since(t.0).as_secs());
            let streak = status.retry.as_ref().filter(|_| ran < 120);
            let attempts = streak.map_or(0, |r| r.attempts) + 1;
            let since = streak.map_or_else(|| now.to_string(), |r| r.since.clone());
            let (window, which, configured) = if code.and_then(Exit::from_code) == Some(Exit::Temporary) {
                (
                    validated.connection_window,
                    "connectionFailures",
                    &task.spec.retry.connection_failures,
                )
            } else {
                (validated.other_window, "otherFailures", &task.spec.retry.other_failures)
            };
            let deadline = since
                .parse::<k8s_openapi::jiff::Timestamp>()
                .ok()
                .and_then(|s| {
                    s.checked_add(k8s_openapi::jiff::SignedDuration::from_secs(window.as_secs() as i64))
                        .ok()
                })
                .unwrap_or(now);
            let reason = match (code, code.and_then(Exit::from_code)) {
                (Some(c), Some(exit)) => format!("the worker exited with code {c} ({})", exit.meaning()),
                (Some(c), None) => format!("the worker exited with code {c}"),
                (None, _) => "the worker Pod failed".to_string(),
            };
            pods.delete(&pod_name, &DeleteParams::default()).await?;
            if now >= deadline {
                let message = format!(
                    "{reason}, {attempts} times since {since}: spec.retry.{which} ({configured}) is spent. \
                     Remedy: read the worker's log, fix the cause, then change the spec to start again"
                );
                transition(ctx, task, Phase::Failed, "RetryWindowSpent", &message, None).await?;
                return Ok(Action::await_change());
            }
            let retry = RetryStatus {
                reason: reason.clone(),
                since,
                last_failure: now.to_string(),
                attempts,
                deadline: deadline.to_string(),
            };
            let message = format!("{reason}; relaunching from the checkpoint (attempt {attempts})");
            transition(ctx, task, Phase::Retrying, "WorkerCrashed", &message, Some(retry.clone())).await?;
            Ok(Action::requeue(backoff_left(&retry).unwrap_or(Duration::from_secs(1))))
        }
        _ => Ok(Action::requeue(Duration::from_secs(60))),
    }
}

/// Time left before a relaunch: 1 s doubling per attempt, at most 60 s.
fn backoff_left(retry: &RetryStatus) -> Option<Duration> {
    let delay = Duration::from_secs(1u64 << retry.attempts.min(6)).min(Duration::from_secs(60));
    let since = retry.last_failure.parse::<k8s_openapi::jiff::Timestamp>().ok()?;
    let elapsed = k8s_openapi::jiff::Timestamp::now().duration_since(since).unsigned_abs();
    delay.checked_sub(elapsed).filter(|d| !d.is_zero())
}

/// Deletes the worker before the task goes.
async fn cleanup(task: &SyncTask, ctx: &Ctx) -> Result<Action, Error> {
    let ns = task.namespace().unwrap_or_else(|| "default".into());
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let pod_name = pod::pod_name(&task.name_any());
    if pods.get_opt(&pod_name).await?.is_some() {
        pods.delete(&pod_name, &DeleteParams::default()).await?;
        event(
            ctx,
            task,
            EventType::Normal,
            "WorkerDeleted",
            &format!("deleted worker Pod {pod_name}"),
        )
        .await;
    }
    Ok(Action::await_change())
}

/// Writes the operator's part of the status and records an Event.
async fn transition(
    ctx: &Ctx,
    task: &SyncTask,
    phase: Phase,
    reason: &str,
    message: &str,
    retry: Option<RetryStatus>,
) -> Result<(), Error> {
    let ns = task.namespace().unwrap_or_else(|| "default".into());
    let tasks: Api<SyncTask> = Api::namespaced(ctx.client.clone(), &ns);
    let ready = matches!(phase, Phase::Pending | Phase::FullSync | Phase::Incremental);
    let status = SyncTaskStatus {
        phase: Some(phase),
        observed_generation: task.metadata.generation,
        conditions: vec![Condition {
            kind: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            reason: Some(reason.to_string()),
            message: Some(message.to_string()),
            last_transition_time: Some(k8s_openapi::jiff::Timestamp::now().to_string()),
            observed_generation: task.metadata.generation,
        }],
        retry,
        ..Default::default()
    };
    let patch = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "SyncTask", "status": status});
    tasks
        .patch_status(&task.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch))
        .await?;
    let kind = if ready || phase == Phase::Suspended {
        EventType::Normal
    } else {
        EventType::Warning
    };
    event(ctx, task, kind, reason, message).await;
    tracing::info!(task = %format!("{ns}/{}", task.name_any()), ?phase, reason, message, "transition");
    Ok(())
}

async fn event(ctx: &Ctx, task: &SyncTask, type_: EventType, reason: &str, message: &str) {
    let ev = Event {
        type_,
        reason: reason.to_string(),
        note: Some(message.chars().take(1000).collect()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&ev, &task.object_ref(&())).await {
        tracing::warn!(error = %e, "failed to record an Event");
    }
}
