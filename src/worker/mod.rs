//! One task end to end, used by `ferry run` and `ferry worker` ([`cluster`]): builds the data path
//! from a validated task and its credentials, runs it, and retries failures within the task's
//! windows. Every retry is a new pipeline run from the stored checkpoint.

pub mod cluster;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::watch;

use crate::{
    api::{DestinationKind, TlsMode, TlsSpec},
    engine::{
        mysql_conn::{Endpoint, TlsSettings},
        pipeline::Pipeline,
        retry::{ErrorClass, SyncError, SyncResult, backoff},
        sink::{Sink, lindorm::LindormSink, mysql::MysqlSink},
    },
    metrics::{Stage, TaskMetrics},
    task::ValidatedTask,
    task_file::Credentials,
};

/// Resolved connection details of both ends.
pub struct Connections {
    pub source: Credentials,
    pub destination: Credentials,
    /// PEM CA bundles by Secret name, for TLS modes that verify.
    pub ca_bundles: std::collections::BTreeMap<String, Vec<u8>>,
}

fn endpoint(
    host: &str,
    port: u16,
    creds: &Credentials,
    tls: Option<&TlsSpec>,
    cas: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Endpoint {
    let tls = tls.filter(|t| t.mode != TlsMode::Disabled).map(|t| TlsSettings {
        ca_pem: t.ca_secret.as_ref().and_then(|s| cas.get(&s.name).cloned()),
        verify_identity: t.mode == TlsMode::VerifyIdentity,
    });
    Endpoint {
        host: host.to_string(),
        port,
        user: creds.username.clone(),
        password: creds.password.clone(),
        tls,
    }
}

/// The source and destination endpoints of `task`.
pub fn endpoints(task: &ValidatedTask, connections: &Connections) -> (Endpoint, Endpoint) {
    let spec = &task.spec;
    let source = endpoint(
        &spec.source.host,
        spec.source.port,
        &connections.source,
        spec.source.tls.as_ref(),
        &connections.ca_bundles,
    );
    let destination = endpoint(
        &spec.destination.host,
        spec.destination.port_or_default(),
        &connections.destination,
        spec.destination.tls.as_ref(),
        &connections.ca_bundles,
    );
    (source, destination)
}

/// Runs `task` until `stop` turns true (Ok) or a failure outlasts its retry window (Err).
pub async fn run_task(
    task: ValidatedTask,
    connections: Connections,
    metrics: Arc<TaskMetrics>,
    stop: watch::Receiver<bool>,
) -> SyncResult<()> {
    let spec = &task.spec;
    let (source, destination) = endpoints(&task, &connections);
    let checkpoint_db = spec.destination.checkpoint_database.clone();
    match spec.destination.kind {
        DestinationKind::Mysql => {
            let sink = MysqlSink::new(destination, checkpoint_db, task.apply_lanes);
            retry_loop(task, source, sink, metrics, stop).await
        }
        DestinationKind::Lindorm => {
            let sink = LindormSink::new(destination, checkpoint_db, task.apply_lanes);
            retry_loop(task, source, sink, metrics, stop).await
        }
        DestinationKind::Cassandra => Err(SyncError::definite(
            "destination type cassandra is not available",
            "use type: mysql or lindorm",
        )),
    }
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs the pipeline, retrying failures within the task's windows.
async fn retry_loop<S: Sink>(
    task: ValidatedTask,
    source: Endpoint,
    sink: S,
    metrics: Arc<TaskMetrics>,
    stop: watch::Receiver<bool>,
) -> SyncResult<()> {
    let mut pipeline = Pipeline {
        task: task.clone(),
        source,
        sink,
        metrics: metrics.clone(),
        stop: stop.clone(),
    };
    // Clock-driven figures (purge margin, lag while retrying) and the retention warning.
    let ticker = {
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut warned = false;
            loop {
                metrics.refresh();
                match metrics.retention_warning() {
                    Some(warning) if !warned => {
                        tracing::warn!("{warning}");
                        warned = true;
                    }
                    None => warned = false,
                    _ => {}
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        })
    };
    let _ticker = AbortOnDrop(ticker);
    let mut failing_since: Option<(Instant, ErrorClass)> = None;
    let mut attempts = 0u32;
    loop {
        let progress_before = metrics.rows_copied.get() + metrics.events_applied.get();
        let result = pipeline.run().await;
        if *stop.borrow() {
            metrics.set_stage(Stage::Stopped);
            return result;
        }
        let error = match result {
            Ok(()) => {
                metrics.set_stage(Stage::Stopped);
                return Ok(());
            }
            Err(e) => e,
        };
        metrics.errors.with_label_values(&[error.class.label()]).inc();
        if error.class == ErrorClass::Definite {
            tracing::error!(error = %error, "task failed");
            return Err(error);
        }
        // Progress since the last failure closes the old failure streak.
        if metrics.rows_copied.get() + metrics.events_applied.get() > progress_before {
            failing_since = None;
            attempts = 0;
        }
        let (since, _) = *failing_since.get_or_insert((Instant::now(), error.class));
        let window = if error.class == ErrorClass::Connection {
            task.connection_window
        } else {
            task.other_window
        };
        if since.elapsed() >= window {
            let which = if error.class == ErrorClass::Connection {
                "connectionFailures"
            } else {
                "otherFailures"
            };
            return Err(SyncError::definite(
                format!(
                    "retry window spec.retry.{which} ({}s) closed after {} attempts; last error: {}",
                    window.as_secs(),
                    attempts + 1,
                    error.message
                ),
                error
                    .remedy
                    .clone()
                    .unwrap_or_else(|| format!("fix the cause, or widen spec.retry.{which}, then restart the task")),
            ));
        }
        let delay = backoff(attempts).min(window.saturating_sub(since.elapsed()).max(Duration::from_secs(1)));
        attempts += 1;
        let started = std::time::SystemTime::now() - since.elapsed();
        metrics.set_retry(&error.message, attempts, delay, started, started + window);
        tracing::warn!(error = %error, attempt = attempts, retry_in_s = delay.as_secs(), "retrying from the checkpoint");
        let mut stop_wait = stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop_wait.wait_for(|s| *s) => { metrics.set_stage(Stage::Stopped); return Ok(()); }
        }
    }
}
