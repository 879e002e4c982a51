//! Prometheus metrics of a worker and the `/metrics` + `/healthz` endpoint.
//!
//! [`TaskMetrics`] is also the progress the terminal display and the status reports read, so
//! what a user sees and what Prometheus scrapes are the same numbers.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, Ordering},
    },
};

use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// Phase of the data path, as shown to the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Starting,
    FullSync,
    Incremental,
    Retrying,
    Stopped,
}

impl Stage {
    fn label(self) -> &'static str {
        match self {
            Stage::Starting => "Starting",
            Stage::FullSync => "FullSync",
            Stage::Incremental => "Incremental",
            Stage::Retrying => "Retrying",
            Stage::Stopped => "Stopped",
        }
    }
}

/// What is not a number: the stage, the position text, the retry reason.
#[derive(Clone, Debug)]
pub struct TextState {
    pub stage: Stage,
    pub position: String,
    pub retry: Option<String>,
    /// The failure being retried.
    pub retrying: Option<Retrying>,
}

/// A failure being retried; times in Unix seconds.
#[derive(Clone, Debug)]
pub struct Retrying {
    pub reason: String,
    pub since: u64,
    pub attempts: u32,
    pub last_failure: u64,
    pub deadline: u64,
}

/// Metrics and progress of one task.
pub struct TaskMetrics {
    pub registry: Registry,
    pub rows_copied: IntCounter,
    pub rows_estimated: IntGauge,
    pub tables_done: IntGauge,
    pub tables_total: IntGauge,
    pub events_applied: IntCounter,
    pub batches: IntCounter,
    pub errors: IntCounterVec,
    pub lag_seconds: IntGauge,
    pub checkpoint_file_number: IntGauge,
    pub checkpoint_offset: IntGauge,
    pub ddl_skipped: IntCounter,
    pub ddl_applied: IntCounter,
    pub events_filtered: IntCounter,
    pub throttled_seconds: prometheus::Counter,
    pub source_queries: IntCounter,
    pub bytes_read: IntCounter,
    pub checkpoint_source_time: IntGauge,
    pub binlog_retention_seconds: IntGauge,
    pub binlog_purge_margin_seconds: IntGauge,
    /// Source commit time of the oldest change read and not yet applied, 0 when there is none:
    /// while one change holds the apply loop (a slow sink, a long filter evaluation), the lag
    /// grows from it instead of showing the last value.
    pub pending_since: AtomicI64,
    pub text: Mutex<TextState>,
}

impl TaskMetrics {
    /// Registers the metrics of `task` (the label value every series carries).
    pub fn new(task: &str) -> Result<Arc<TaskMetrics>, prometheus::Error> {
        let registry = Registry::new();
        let opts = |name: &str, help: &str| Opts::new(name, help).const_label("task", task);
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::with_opts(opts(name, help))?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
            let g = IntGauge::with_opts(opts(name, help))?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let errors = IntCounterVec::new(
            opts("ferry_errors_total", "Errors by class (connection, other, definite)"),
            &["class"],
        )?;
        registry.register(Box::new(errors.clone()))?;
        Ok(Arc::new(TaskMetrics {
            rows_copied: counter("ferry_rows_copied_total", "Rows copied by the full sync")?,
            rows_estimated: gauge("ferry_rows_estimated", "Rows the full sync expects to copy (source statistics)")?,
            tables_done: gauge("ferry_tables_done", "Tables whose full sync finished")?,
            tables_total: gauge("ferry_tables_total", "Tables in the task")?,
            events_applied: counter("ferry_events_applied_total", "Binlog row events applied to the destination")?,
            batches: counter("ferry_batches_total", "Destination batches committed")?,
            lag_seconds: gauge(
                "ferry_lag_seconds",
                "Seconds between the source commit of the last applied event and now (of the oldest event read and not yet applied, when that is older)",
            )?,
            checkpoint_file_number: gauge("ferry_checkpoint_binlog_file_number", "Number of the binlog file of the checkpoint")?,
            checkpoint_offset: gauge(
                "ferry_checkpoint_binlog_offset_bytes",
                "Offset in the binlog file of the checkpoint",
            )?,
            ddl_skipped: counter(
                "ferry_ddl_skipped_total",
                "DDL statements on selected databases with no effect on the destination (index changes, table options, unselected objects)",
            )?,
            ddl_applied: counter(
                "ferry_ddl_applied_total",
                "DDL statements applied to the destination (CREATE/DROP TABLE, ADD/DROP COLUMN, TRUNCATE)",
            )?,
            events_filtered: counter(
                "ferry_events_filtered_total",
                "Binlog row events left out by a table's filter or operations",
            )?,
            throttled_seconds: {
                let c = prometheus::Counter::with_opts(opts(
                    "ferry_throttled_seconds_total",
                    "Seconds spent waiting for spec.throttling limits",
                ))?;
                registry.register(Box::new(c.clone()))?;
                c
            },
            source_queries: counter(
                "ferry_source_queries_total",
                "Queries the full sync ran on the source (one per chunk)",
            )?,
            bytes_read: counter(
                "ferry_bytes_read_total",
                "Bytes of row data read from the source (snapshot rows and binlog row images), as the MB/s limits count them",
            )?,
            checkpoint_source_time: gauge(
                "ferry_checkpoint_source_timestamp_seconds",
                "Source time the checkpoint reflects: commit time of the last applied transaction (now when caught up), snapshot start during the full sync",
            )?,
            binlog_retention_seconds: gauge(
                "ferry_source_binlog_retention_seconds",
                "The source's binlog retention (binlog_expire_logs_seconds / expire_logs_days); 0 when binlogs are not purged by age",
            )?,
            binlog_purge_margin_seconds: gauge(
                "ferry_binlog_purge_margin_seconds",
                "Seconds left before the binlog the task still needs may be purged (retention minus the checkpoint's age); -1 when binlogs are not purged by age",
            )?,
            errors,
            registry,
            pending_since: AtomicI64::new(0),
            text: Mutex::new(TextState {
                stage: Stage::Starting,
                position: String::new(),
                retry: None,
                retrying: None,
            }),
        }))
    }

    /// Updates what depends on the clock: the purge margin, and the lag while the task cannot
    /// apply (retrying) — it grows with time instead of showing the last value.
    pub fn refresh(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let pending = self.pending_since.load(Ordering::Relaxed);
        if pending > 0 && now - pending > self.lag_seconds.get() {
            self.lag_seconds.set(now - pending);
        }
        let at = self.checkpoint_source_time.get();
        let retention = self.binlog_retention_seconds.get();
        if at <= 0 {
            // Nothing read yet: the whole retention is left.
            self.binlog_purge_margin_seconds.set(if retention > 0 { retention } else { -1 });
            return;
        }
        let age = (now - at).max(0);
        self.binlog_purge_margin_seconds
            .set(if retention > 0 { retention - age } else { -1 });
        if self.text().stage == Stage::Retrying {
            self.lag_seconds.set(age.max(self.lag_seconds.get()));
        }
    }

    /// A change committed on the source at `commit_ts` was read (see `pending_since`).
    pub fn read_change(&self, commit_ts: u32) {
        if commit_ts > 0 {
            let _ = self
                .pending_since
                .compare_exchange(0, i64::from(commit_ts), Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    /// Every change read so far was applied (or had nothing to apply).
    pub fn nothing_pending(&self) {
        self.pending_since.store(0, Ordering::Relaxed);
    }

    /// When the binlog the task needs is at risk of being purged (less than half the retention
    /// left): the warning, with the remedy.
    pub fn retention_warning(&self) -> Option<String> {
        let (retention, margin) = (self.binlog_retention_seconds.get(), self.binlog_purge_margin_seconds.get());
        (retention > 0 && margin >= -retention && margin < retention / 2).then(|| {
            format!(
                "the binlog from the checkpoint may be purged in about {}m (the source keeps binlogs {}m, the task is {}m behind): \
                 raise binlog_expire_logs_seconds on the source, or fix what holds the task back; once purged, the task needs a new full sync",
                margin.max(0) / 60,
                retention / 60,
                (retention - margin) / 60
            )
        })
    }

    /// Sets the stage.
    pub fn set_stage(&self, stage: Stage) {
        if let Ok(mut t) = self.text.lock() {
            t.stage = stage;
            if stage != Stage::Retrying {
                t.retry = None;
                t.retrying = None;
            }
        }
    }

    /// Records the checkpoint position.
    pub fn set_position(&self, file: &str, pos: u64, text: String) {
        let number = file.rsplit('.').next().and_then(|n| n.parse::<i64>().ok()).unwrap_or(0);
        self.checkpoint_file_number.set(number);
        self.checkpoint_offset.set(pos as i64);
        if let Ok(mut t) = self.text.lock() {
            t.position = text;
        }
    }

    /// Records a retry in progress: what failed, the attempt, when the next one is and when
    /// the failure started and its retry window closes.
    pub fn set_retry(
        &self,
        reason: &str,
        attempts: u32,
        next_in: std::time::Duration,
        since: std::time::SystemTime,
        deadline: std::time::SystemTime,
    ) {
        let secs = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        if let Ok(mut t) = self.text.lock() {
            t.stage = Stage::Retrying;
            t.retry = Some(format!("{reason} (attempt {attempts}, next in {}s)", next_in.as_secs()));
            t.retrying = Some(Retrying {
                reason: reason.to_string(),
                since: secs(since),
                attempts,
                last_failure: secs(std::time::SystemTime::now()),
                deadline: secs(deadline),
            });
        }
    }

    /// A copy of the text state.
    pub fn text(&self) -> TextState {
        self.text.lock().map(|t| t.clone()).unwrap_or(TextState {
            stage: Stage::Starting,
            position: String::new(),
            retry: None,
            retrying: None,
        })
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    /// Stage label for display.
    pub fn stage_label(&self) -> &'static str {
        self.text().stage.label()
    }
}

/// Serves `/metrics` and `/healthz` on `addr` until the process ends.
pub async fn serve(addr: SocketAddr, metrics: Arc<TaskMetrics>) -> std::io::Result<()> {
    serve_registry(addr, metrics.registry.clone()).await
}

/// Serves `registry` as `/metrics`, and `/healthz`, on `addr` until the process ends.
pub async fn serve_registry(addr: SocketAddr, registry: Registry) -> std::io::Result<()> {
    use axum::{Router, routing::get};
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move {
                    let mut buf = Vec::new();
                    let _ = TextEncoder::new().encode(&registry.gather(), &mut buf);
                    String::from_utf8(buf).unwrap_or_default()
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /metrics and /healthz");
    axum::serve(listener, app).await
}

/// Metrics of the operator: reconciles, errors by category, tasks by phase.
pub struct OperatorMetrics {
    pub registry: Registry,
    pub reconciles: IntCounter,
    pub errors: IntCounterVec,
    pub tasks: prometheus::IntGaugeVec,
}

impl OperatorMetrics {
    /// Registers the operator's metrics.
    pub fn new() -> Result<OperatorMetrics, prometheus::Error> {
        let registry = Registry::new();
        let reconciles = IntCounter::new("ferry_operator_reconciles_total", "SyncTask reconciles run")?;
        let errors = IntCounterVec::new(
            Opts::new("ferry_operator_reconcile_errors_total", "Failed reconciles by category"),
            &["category"],
        )?;
        let tasks = prometheus::IntGaugeVec::new(Opts::new("ferry_operator_tasks", "SyncTasks by phase"), &["phase"])?;
        registry.register(Box::new(reconciles.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(tasks.clone()))?;
        Ok(OperatorMetrics {
            registry,
            reconciles,
            errors,
            tasks,
        })
    }
}
