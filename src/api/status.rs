//! `SyncTask.status`: where the task stands.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a SyncTask.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SyncTaskStatus {
    /// Where the task is in its life.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Progress of the task as a percentage (`42%`): rows copied of the estimate during the full
    /// sync, `100%` once it is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// Ready, Prechecked, FullSyncComplete, Lagging, …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Full-sync progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_sync: Option<FullSyncStatus>,
    /// Incremental-sync progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<IncrementalStatus>,
    /// The failure being retried, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryStatus>,
    /// Results of the prechecks the worker ran before starting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precheck: Option<PrecheckStatus>,
    /// Seconds this worker has waited for `spec.throttling` limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttled_seconds: Option<u64>,
}

/// Precheck results.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PrecheckStatus {
    /// No item failed (warnings and ignored items allowed).
    pub passed: bool,
    /// Every check, in the order run.
    pub items: Vec<PrecheckItem>,
}

/// One precheck.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PrecheckItem {
    /// Stable name, usable in `spec.precheck.ignore` when ignorable.
    pub name: String,
    /// Passed, Warning or Failed.
    pub result: PrecheckResult,
    /// Whether `spec.precheck.ignore` may skip it.
    pub ignorable: bool,
    /// What was found, and the remedy when it did not pass.
    pub message: String,
}

/// Outcome of one precheck.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum PrecheckResult {
    Passed,
    Warning,
    Failed,
}

/// Phase of a SyncTask.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum Phase {
    /// Accepted, not started.
    Pending,
    /// Prechecks running.
    Prechecking,
    /// A blocking precheck failed; waits for a spec change.
    PrecheckFailed,
    /// Copying existing rows.
    FullSync,
    /// Following the binlog.
    Incremental,
    /// A failure is being retried within its window.
    Retrying,
    /// Stopped by `spec.suspend`; the checkpoint is kept.
    Suspended,
    /// Stopped for good; see the conditions and the last Event for cause and remedy.
    Failed,
}

/// A status condition (`type` is unique in the list).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type, e.g. `Ready`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// One-word reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// RFC 3339 time of the last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// Generation the condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Full-sync progress.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FullSyncStatus {
    /// Tables completely copied.
    pub tables_done: u32,
    /// Tables to copy.
    pub tables_total: u32,
    /// Rows copied so far.
    pub rows_copied: u64,
    /// Rows estimated from the source's statistics.
    pub rows_estimated: u64,
}

/// A binlog position.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PositionStatus {
    /// Binlog file name.
    pub file: String,
    /// Offset in the file.
    pub pos: u64,
    /// GTID state (MySQL set or MariaDB domain-server-seq list), when the source has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<String>,
}

/// Incremental-sync progress.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IncrementalStatus {
    /// The checkpointed position: everything before it is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<PositionStatus>,
    /// RFC 3339 commit time of the last applied event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_time: Option<String>,
    /// Seconds between the source commit of the last applied event and its application.
    pub lag_seconds: u64,
    /// Row events applied.
    pub events_applied: u64,
}

/// The failure being retried.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RetryStatus {
    /// What failed.
    pub reason: String,
    /// RFC 3339 time the failure started.
    pub since: String,
    /// Attempts so far.
    pub attempts: u32,
    /// RFC 3339 time of the latest failure; the next attempt waits its backoff from it.
    #[serde(default)]
    pub last_failure: String,
    /// RFC 3339 time the window closes.
    pub deadline: String,
}
