//! The `ferry` binary: CLI verbs, wiring only.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use ferry::{
    api::{Exit, SyncTask},
    metrics::TaskMetrics,
    precheck::Gate,
    task::validate,
    task_file::TaskFile,
    worker::{Connections, run_task},
};
use kube::CustomResourceExt;
use tokio::sync::watch;

#[derive(Parser)]
#[command(
    name = "ferry",
    version,
    about = "Continuous sync from MySQL-family databases into Lindorm, Cassandra and MySQL"
)]
struct Cli {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand)]
enum Verb {
    /// Run one task in this process: full sync, then incremental sync, with live progress.
    Run {
        /// Task file: a SyncTask and the Secrets it names (multi-document YAML).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Address for /metrics and /healthz; `off` to disable.
        #[arg(long, default_value = "127.0.0.1:9187", env = "FERRY_METRICS_ADDR")]
        metrics_addr: String,
        /// Log lines instead of the live status line, even on a terminal.
        #[arg(long)]
        plain: bool,
    },
    /// Check a task file without connecting anywhere: YAML, fields, apiVersion and kind, every
    /// rule of the SyncTask, and the Secrets it names. Exit 0: valid, 2: invalid.
    Validate {
        /// Task file: a SyncTask and the Secrets it names (multi-document YAML).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Run the prechecks of a task file and print the report. Exit 0: all passed, 1: warnings
    /// only, 2: a check failed (or the file is invalid).
    Precheck {
        /// Task file: a SyncTask and the Secrets it names (multi-document YAML).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// `table` (readable) or `json`.
        #[arg(short = 'o', long = "output", default_value = "table", value_parser = ["table", "json"])]
        output: String,
    },
    /// Compare source and destination for the task's objects, chunk by chunk (counts and
    /// checksums over the mapped, filtered columns); differing keys are read again after
    /// `--settle` so rows still in flight do not count. Exit 0: equal, 1: differences, 2: error.
    Verify {
        /// Task file: a SyncTask and the Secrets it names (multi-document YAML).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// `table` (readable) or `json`.
        #[arg(short = 'o', long = "output", default_value = "table", value_parser = ["table", "json"])]
        output: String,
        /// Source rows per chunk: 1 to 1,000,000.
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        chunk: u32,
        /// Time to wait before re-reading differing keys (the task's lag), e.g. `10s`: 0s to 24h.
        #[arg(long, default_value = "10s")]
        settle: String,
    },
    /// Run the task of a SyncTask in the cluster (what a worker Pod runs): reads the SyncTask
    /// and its Secrets from the API and reports progress to its status.
    Worker {
        /// The SyncTask, as NAMESPACE/NAME.
        #[arg(long)]
        task: String,
        /// Address for /metrics and /healthz; `off` to disable.
        #[arg(long, default_value = "0.0.0.0:9187", env = "FERRY_METRICS_ADDR")]
        metrics_addr: String,
    },
    /// Run the operator: reconcile SyncTasks into worker Pods and report their state.
    Operator {
        /// Worker image for tasks that do not name one.
        #[arg(long, env = "FERRY_WORKER_IMAGE", default_value = "ghcr.io/ferry-dev/ferry:latest")]
        worker_image: String,
        /// Service account of worker Pods.
        #[arg(long, env = "FERRY_WORKER_SERVICE_ACCOUNT", default_value = "ferry-worker")]
        worker_service_account: String,
        /// Watch only this namespace (default: all).
        #[arg(long, env = "FERRY_NAMESPACE")]
        namespace: Option<String>,
        /// Namespace of the leader-election Lease: the operator's own.
        #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
        lease_namespace: String,
        /// This replica's identity in the Lease (default: the Pod name, else the host name).
        #[arg(long, env = "POD_NAME")]
        identity: Option<String>,
        /// Address for /metrics and /healthz; `off` to disable.
        #[arg(long, default_value = "0.0.0.0:9188", env = "FERRY_OPERATOR_METRICS_ADDR")]
        metrics_addr: String,
    },
    /// Print the SyncTask CustomResourceDefinition.
    Crd,
}

/// At least two runtime threads, also on a one-CPU Pod: a long evaluation on one (a filter on a
/// large value) must not keep the signal handler, the lag ticker or `/metrics` from running
/// on the other — the evaluation asks them whether to stop.
fn main() -> ExitCode {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run_main()),
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().verb {
        Verb::Crd => match serde_saphyr::to_string(&SyncTask::crd()) {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: failed to render the CRD: {e}");
                ExitCode::FAILURE
            }
        },
        Verb::Run { file, metrics_addr, plain } => run(file, metrics_addr, plain).await,
        Verb::Precheck { file, output } => precheck(file, &output).await,
        Verb::Validate { file } => match load(&file) {
            Ok((task, _)) => {
                println!("{}: valid (task {})", file.display(), task.key);
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Verb::Verify {
            file,
            output,
            chunk,
            settle,
        } => verify(file, &output, chunk, &settle).await,
        Verb::Worker { task, metrics_addr } => worker(task, metrics_addr).await,
        Verb::Operator {
            worker_image,
            worker_service_account,
            namespace,
            lease_namespace,
            identity,
            metrics_addr,
        } => {
            let Some(metrics_addr) = metrics_address(&metrics_addr) else {
                return ExitCode::from(2);
            };
            let identity = identity.unwrap_or_else(|| {
                let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
                format!("{}-{}", host.trim(), std::process::id())
            });
            let options = ferry::controller::Options {
                image: worker_image,
                worker_service_account,
                namespace,
                lease_namespace,
                identity,
                metrics_addr,
            };
            let client = match kube::Client::try_default().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: failed to reach the Kubernetes API: {e}");
                    return ExitCode::from(2);
                }
            };
            match ferry::controller::run(client, options).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}; is the CRD installed (kubectl apply -f crds/)?");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn run(file: PathBuf, metrics_addr: String, plain: bool) -> ExitCode {
    let (task, connections) = match load(&file) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let metrics = match TaskMetrics::new(&task.key) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: failed to register metrics: {e}");
            return Exit::Failed.into();
        }
    };
    let Some(addr) = metrics_address(&metrics_addr) else {
        return Exit::Invalid.into();
    };
    if let Some(addr) = addr {
        let m = metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = ferry::metrics::serve(addr, m).await {
                tracing::error!(%addr, error = %e, "failed to serve metrics; set --metrics-addr to a free address or `off`");
            }
        });
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping: finishing the current batch and saving the checkpoint (press Ctrl-C again to abort)");
        let _ = stop_tx.send(true);
        wait_for_signal().await;
        std::process::exit(i32::from(Exit::Aborted.code()));
    });
    // The prechecks first, as in a cluster; an end that is down is retried by the run itself.
    let (source, destination) = ferry::worker::endpoints(&task, &connections);
    let (report, gate) = ferry::precheck::gate(&task, &source, &destination).await;
    for item in report.items.iter().filter(|i| i.result != ferry::api::PrecheckResult::Passed) {
        tracing::warn!(check = %item.name, result = ?item.result, "precheck: {}", item.message);
    }
    match gate {
        Gate::Start | Gate::Unreachable => {}
        Gate::Resume => tracing::warn!("a precheck failed, but the task has already started: resuming from its checkpoint"),
        Gate::Failed => {
            eprintln!(
                "error: a precheck failed (`ferry precheck -f {}` shows the report); not starting",
                file.display()
            );
            return Exit::Failed.into();
        }
    }
    let display = ferry::progress::spawn(metrics.clone(), plain);
    let result = run_task(task, connections, metrics.clone(), stop_rx).await;
    display.abort();
    eprintln!("{}", ferry::progress::line(&metrics, 0.0));
    match result {
        Ok(()) => Exit::Stopped.into(),
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failed.into()
        }
    }
}

/// Loads, validates and resolves a task file; on failure says why and gives exit code 2.
fn load(file: &std::path::Path) -> Result<(ferry::task::ValidatedTask, Connections), ExitCode> {
    let fail = |message: String| {
        eprintln!("error: {message}");
        Exit::Invalid.into()
    };
    let loaded = TaskFile::load(file).map_err(|e| fail(e.to_string()))?;
    let meta = &loaded.task.metadata;
    let namespace = meta.namespace.clone().unwrap_or_else(|| "default".into());
    let name = meta.name.clone().unwrap_or_default();
    if name.is_empty() {
        return Err(fail(format!("the SyncTask in {} has no metadata.name", file.display())));
    }
    let task = validate(&namespace, &name, &loaded.task.spec).map_err(|e| fail(e.to_string()))?;
    let connections = resolve(&loaded, &task).map_err(|e| fail(e.to_string()))?;
    Ok((task, connections))
}

/// `ferry precheck`: the report as a table or JSON; the exit code says pass / warn / fail.
async fn precheck(file: PathBuf, output: &str) -> ExitCode {
    let (task, connections) = match load(&file) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let (source, destination) = ferry::worker::endpoints(&task, &connections);
    let report = ferry::precheck::run(&task, &source, &destination).await;
    if output == "json" {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        let width = report.items.iter().map(|i| i.name.len()).max().unwrap_or(4).max(4);
        println!("{:width$}  {:7}  {:9}  MESSAGE", "NAME", "RESULT", "IGNORABLE");
        for item in &report.items {
            let result = format!("{:?}", item.result);
            println!(
                "{:width$}  {result:7}  {:9}  {}",
                item.name,
                if item.ignorable { "yes" } else { "no" },
                item.message
            );
        }
    }
    use ferry::api::PrecheckResult;
    if !report.passed {
        ExitCode::from(2)
    } else if report.items.iter().any(|i| i.result == PrecheckResult::Warning) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `ferry verify`: the comparison as a table or JSON; exit 0 equal, 1 differences, 2 error.
async fn verify(file: PathBuf, output: &str, chunk: u32, settle: &str) -> ExitCode {
    let chunk = chunk as usize;
    let (task, connections) = match load(&file) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let settle = match ferry::api::parse_duration(settle) {
        Ok(d) if d.as_secs() <= 24 * 3600 => d,
        Ok(_) => {
            eprintln!("error: --settle `{settle}` is longer than 24h; the task's lag is the time to give it, like `10s`");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: --settle: {e}");
            return ExitCode::from(2);
        }
    };
    let (source, destination) = ferry::worker::endpoints(&task, &connections);
    let report = match ferry::verify::verify(&task, &source, &destination, chunk, settle).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if output == "json" {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        let w = |f: fn(&ferry::verify::TableReport) -> usize| report.tables.iter().map(f).max().unwrap_or(0);
        let (tw, dw) = (w(|t| t.table.len()).max(5), w(|t| t.destination.len()).max(11));
        println!(
            "{:tw$}  {:dw$}  {:>11}  {:>11}  RESULT",
            "TABLE", "DESTINATION", "SOURCE ROWS", "DEST ROWS"
        );
        for t in &report.tables {
            let mut result = Vec::new();
            if t.destination_missing {
                result.push("the destination table does not exist: the task has not created it (run it first)".to_string());
            }
            if !t.extra_columns.is_empty() {
                result.push(format!("destination columns the source lacks: {}", t.extra_columns.join(", ")));
            }
            if !t.missing_columns.is_empty() {
                result.push(format!("columns missing in the destination: {}", t.missing_columns.join(", ")));
            }
            if t.differing > 0 {
                let listed: Vec<String> = t.differences.iter().map(|d| format!("{} {}", d.kind, d.key)).collect();
                result.push(format!("{} differing: {}", t.differing, listed.join("; ")));
            }
            let result = if result.is_empty() {
                "equal".to_string()
            } else {
                result.join("; ")
            };
            println!(
                "{:tw$}  {:dw$}  {:>11}  {:>11}  {result}",
                t.table, t.destination, t.source_rows, t.destination_rows
            );
        }
    }
    if report.equal { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// `ferry worker`: exit 0 when stopped by a signal, 1 when the task failed (the reason is in
/// its status), 2 when the task cannot be read or is invalid.
async fn worker(task: String, metrics_addr: String) -> ExitCode {
    let Some(addr) = metrics_address(&metrics_addr) else {
        return Exit::Invalid.into();
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping: finishing the current batch and saving the checkpoint");
        let _ = stop_tx.send(true);
        wait_for_signal().await;
        std::process::exit(i32::from(Exit::Aborted.code()));
    });
    match ferry::worker::cluster::run(&task, addr, stop_rx).await {
        Ok(()) => Exit::Stopped.into(),
        Err(e @ ferry::worker::cluster::WorkerError::Failed { .. }) => {
            tracing::error!(error = %e, "task failed");
            Exit::Failed.into()
        }
        Err(e @ ferry::worker::cluster::WorkerError::PrecheckFailed) => {
            tracing::error!(error = %e, "not starting");
            Exit::PrecheckFailed.into()
        }
        // Temporary: the operator relaunches it (EX_TEMPFAIL).
        Err(
            e @ (ferry::worker::cluster::WorkerError::LostLease
            | ferry::worker::cluster::WorkerError::Lease(_)
            | ferry::worker::cluster::WorkerError::Unreachable),
        ) => {
            tracing::error!(error = %e, "stopping");
            Exit::Temporary.into()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot run the task");
            Exit::Invalid.into()
        }
    }
}

/// `--metrics-addr`: `Some(None)` for `off`, `None` (after saying why) when it is no address.
fn metrics_address(text: &str) -> Option<Option<SocketAddr>> {
    if text == "off" {
        return Some(None);
    }
    match text.parse::<SocketAddr>() {
        Ok(addr) => Some(Some(addr)),
        Err(_) => {
            eprintln!("error: --metrics-addr `{text}` is not an address like 0.0.0.0:9187 (or `off`)");
            None
        }
    }
}

fn resolve(file: &TaskFile, task: &ferry::task::ValidatedTask) -> Result<Connections, ferry::task_file::TaskFileError> {
    let mut ca_bundles = std::collections::BTreeMap::new();
    for tls in [task.spec.source.tls.as_ref(), task.spec.destination.tls.as_ref()]
        .into_iter()
        .flatten()
    {
        if let Some(ca) = &tls.ca_secret {
            ca_bundles.insert(ca.name.clone(), file.secret_value(&ca.name, "ca.crt")?.into_bytes());
        }
    }
    Ok(Connections {
        source: file.credentials(&task.spec.source.credentials_secret)?,
        destination: file.credentials(&task.spec.destination.credentials_secret)?,
        ca_bundles,
    })
}

async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
