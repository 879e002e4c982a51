//! The `SyncTask` custom resource, `ferry.dev/v1alpha1`. Types only: serde + schemars, no I/O.

mod duration;
mod exit;
mod spec;
mod status;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use duration::parse_duration;
pub use exit::Exit;
pub use spec::*;
pub use status::*;

/// The environment variable that carries key `key` of the Secret `name`:
/// `FERRY_SECRET_<NAME>_<KEY>`, upper-cased, `-` and `.` as `_`. `ferry run` reads Secrets not
/// in its file from it; worker Pods get their credentials through it (`secretKeyRef`).
pub fn secret_env_var(name: &str, key: &str) -> String {
    format!(
        "FERRY_SECRET_{}_{}",
        name.to_ascii_uppercase().replace(['-', '.'], "_"),
        key.to_ascii_uppercase().replace(['-', '.'], "_")
    )
}

/// One synchronisation task: a MySQL-family source, a destination, the objects to move, and the
/// limits to move them under. Ferry copies the existing rows (full sync) and then follows the
/// binlog (incremental sync).
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "ferry.dev",
    version = "v1alpha1",
    kind = "SyncTask",
    namespaced,
    shortname = "st",
    category = "ferry",
    validation = Rule::new("size(self.metadata.name) <= 191").message(
        "metadata.name must be at most 191 characters: with its namespace it names the task's checkpoint row (255 characters)"
    ),
    status = "SyncTaskStatus",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Progress","type":"string","jsonPath":".status.progress"}"#,
    printcolumn = r#"{"name":"Lag (s)","type":"integer","jsonPath":".status.incremental.lagSeconds"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SyncTaskSpec {
    /// The source database.
    pub source: SourceSpec,
    /// The destination store.
    pub destination: DestinationSpec,
    /// Which phases run. Default: both.
    #[serde(default)]
    pub sync_types: SyncTypes,
    /// The databases, tables and columns to synchronise.
    pub objects: Vec<ObjectSpec>,
    /// How object names are written in the destination.
    #[serde(default)]
    pub capitalization: Capitalization,
    /// What to do when a destination table already exists.
    #[serde(default)]
    pub conflicting_tables: ConflictingTables,
    /// Load limits for both phases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling: Option<ThrottlingSpec>,
    /// Retry windows for connection and other failures.
    #[serde(default)]
    pub retry: RetrySpec,
    /// Heartbeat writes on the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<HeartbeatSpec>,
    /// Alerting thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerting: Option<AlertingSpec>,
    /// Precheck options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precheck: Option<PrecheckSpec>,
    /// Stop the worker and keep the checkpoint (operator mode; lands with the operator).
    #[serde(default)]
    pub suspend: bool,
    /// Worker process settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<WorkerSpec>,
}
