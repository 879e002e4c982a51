//! `SyncTask.spec`: what to synchronise, from where, to where, and under which limits.

use k8s_openapi::api::core::v1::{ResourceRequirements, Toleration};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A reference to a Secret in the task's namespace holding the keys `username` and `password`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct SecretRef {
    /// Name of the Secret (in local mode: a Secret document in the same file, or the
    /// environment variables `FERRY_SECRET_<NAME>_<KEY>`).
    pub name: String,
}

/// How the connection is encrypted.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TlsSpec {
    /// `disabled` (plaintext), `required` (encrypt, do not verify the server),
    /// `verifyCa` (verify the chain against `caSecret`), `verifyIdentity` (also the host name).
    #[serde(default)]
    pub mode: TlsMode,
    /// Secret with key `ca.crt` (PEM) used by `verifyCa` and `verifyIdentity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret: Option<SecretRef>,
}

/// TLS mode of a connection.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum TlsMode {
    /// Plaintext.
    #[default]
    Disabled,
    /// Encrypted; the server certificate is not verified.
    Required,
    /// Encrypted; the certificate chain is verified against the CA.
    VerifyCa,
    /// Encrypted; chain and host name are verified.
    VerifyIdentity,
}

/// The source database.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceSpec {
    /// Source kind. Only `mysql` (PolarDB for MySQL, MySQL 5.7/8.x, MariaDB 10.5+).
    #[serde(rename = "type", default)]
    pub kind: SourceKind,
    /// Host name or address of the source (for PolarDB: the primary or cluster endpoint).
    pub host: String,
    /// TCP port. Default 3306.
    #[serde(default = "default_mysql_port")]
    pub port: u16,
    /// Secret with the replication account's `username` and `password`.
    pub credentials_secret: SecretRef,
    /// TLS to the source. Default: plaintext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,
    /// Replica server id Ferry registers with when reading the binlog; must be unique among the
    /// source's replicas. Default: derived from the task name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_id: Option<u32>,
}

/// Kind of source.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum SourceKind {
    /// MySQL protocol and binlog: PolarDB for MySQL, MySQL 5.7/8.x, MariaDB 10.5+.
    #[default]
    Mysql,
}

/// The destination store.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DestinationSpec {
    /// Destination kind: `mysql` (MySQL/MariaDB), `lindorm` (LindormTable 2.6+ over its MySQL
    /// protocol endpoint), `cassandra` (not yet implemented: refused by validation).
    #[serde(rename = "type")]
    pub kind: DestinationKind,
    /// Host name or address of the destination.
    pub host: String,
    /// TCP port. Default: 3306 for mysql, 33060 for lindorm, 9042 for cassandra.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Secret with the destination account's `username` and `password`.
    pub credentials_secret: SecretRef,
    /// TLS to the destination. Default: plaintext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,
    /// Database (namespace) in the destination that holds Ferry's `ferry_checkpoint` table.
    /// Default `ferry`. For lindorm, a namespace name: 4 to 16 characters.
    #[serde(default = "default_ferry_database")]
    pub checkpoint_database: String,
}

impl DestinationSpec {
    /// The port, or the destination kind's default.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(match self.kind {
            DestinationKind::Mysql => 3306,
            DestinationKind::Lindorm => 33060,
            DestinationKind::Cassandra => 9042,
        })
    }
}

/// Kind of destination.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum DestinationKind {
    /// MySQL or MariaDB.
    #[default]
    Mysql,
    /// Lindorm wide table engine over its MySQL-protocol SQL endpoint.
    Lindorm,
    /// Cassandra-compatible store over CQL.
    Cassandra,
}

/// Which phases run.
#[derive(Clone, Debug, Deserialize, Serialize, KubeSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.full || self.incremental").message("spec.syncTypes: enable full, incremental or both"))]
pub struct SyncTypes {
    /// Copy the existing rows first (consistent snapshot, primary-key chunks). Default true.
    #[serde(default = "yes")]
    pub full: bool,
    /// Then follow the binlog continuously. Default true.
    #[serde(default = "yes")]
    pub incremental: bool,
}

impl Default for SyncTypes {
    fn default() -> Self {
        Self {
            full: true,
            incremental: true,
        }
    }
}

/// Operations that can be synchronised per object.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum Operation {
    /// Row inserts.
    Insert,
    /// Row updates.
    Update,
    /// Row deletes.
    Delete,
    /// CREATE TABLE.
    CreateTable,
    /// DROP TABLE.
    DropTable,
    /// ALTER TABLE … ADD COLUMN.
    AddColumn,
}

/// One source database and (optionally) the tables of it to synchronise.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectSpec {
    /// Source database name.
    pub database: String,
    /// Destination database (Lindorm namespace) name, used as written. Default: the source
    /// name under `capitalization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_name: Option<String>,
    /// Operations to synchronise (insert, update, delete, createTable, dropTable, addColumn),
    /// inherited by the tables. Default: all. The full sync copies every selected row whatever
    /// the list; the list governs the binlog's changes and DDL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<Vec<Operation>>,
    /// Tables to synchronise. Omitted: every base table of the database, including tables
    /// created later (followed from their creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<TableSpec>>,
}

/// One source table.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TableSpec {
    /// Source table name.
    pub name: String,
    /// Destination table name, used as written. Default: the source name under
    /// `capitalization`. Renaming limits the task to 1,000 listed tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_name: Option<String>,
    /// Columns to synchronise (key columns are always included). Omitted: all columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// Column renames, source name → destination name, used as written. Renaming limits the
    /// task to 1,000 listed tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_mapping: Option<BTreeMap<String, String>>,
    /// SQL WHERE condition selecting the rows to synchronise, e.g.
    /// `status = 'paid' AND amount > 10`: comparisons, AND/OR/NOT/XOR, IN, BETWEEN, LIKE, IS [NOT] NULL, arithmetic and
    /// common string and date functions (docs/filters.md), over synchronised columns. Applied to
    /// the full sync and to every change; an update that moves a row out of it deletes the row
    /// in the destination, one that moves a row in inserts it. At most 4,096 bytes, nested at
    /// most 256 deep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub filter: Option<String>,
    /// Operations for this table, overriding the database's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<Vec<Operation>>,
}

/// How object names are written in the destination.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Capitalization {
    /// The destination's convention: as in the source for mysql and lindorm (both keep case).
    #[default]
    Default,
    /// Exactly as in the source.
    Source,
    /// Lower case (names not given explicitly by targetName or columnMapping).
    Lower,
    /// Upper case (names not given explicitly by targetName or columnMapping).
    Upper,
}

/// What happens when a destination table already exists.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum ConflictingTables {
    /// An existing destination table is used when its columns and key are compatible with the
    /// source; refused otherwise. (The precheck that reports this lands with the prechecks.)
    #[default]
    PrecheckError,
    /// Use an existing table as it is.
    Ignore,
}

/// Load limits: token buckets of one second each. A changed limit applies when the worker
/// restarts from its checkpoint (the operator restarts it on every spec change).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ThrottlingSpec {
    /// Limits during the full sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full: Option<FullThrottle>,
    /// Limits during the incremental sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<IncrementalThrottle>,
}

/// Full-sync limits.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FullThrottle {
    /// Source queries per second. Absent or 0: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_qps: Option<u32>,
    /// Rows per second. Absent or 0: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rps: Option<u32>,
    /// Megabytes per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mbps: Option<u32>,
}

/// Incremental-sync limits.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IncrementalThrottle {
    /// Row events per second. Absent or 0: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rps: Option<u32>,
    /// Megabytes per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mbps: Option<u32>,
}

/// How long failures are retried before the task fails.
#[derive(Clone, Debug, Deserialize, Serialize, KubeSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(
    "!(self.connectionFailures.matches('^[0-9]+[smh]$') && self.otherFailures.matches('^[0-9]+[smh]$')) \
     || duration(self.otherFailures) < duration(self.connectionFailures)"
).message("spec.retry.otherFailures must be less than spec.retry.connectionFailures"))]
pub struct RetrySpec {
    /// Window for connection failures (lost connections, timeouts, server restarts), as a
    /// duration such as `720m` or `12h`: 10m to 1440m. Default 720m.
    #[serde(default = "default_connection_window")]
    #[schemars(length(max = 12))]
    #[x_kube(validation = Rule::new(
        "self.matches('^[0-9]+[smh]$') && duration(self) >= duration('10m') && duration(self) <= duration('1440m')"
    ).message("spec.retry.connectionFailures must be a whole number of s, m or h (like 720m) from 10m to 1440m"))]
    pub connection_failures: String,
    /// Window for other failures (a statement the destination rejects): 1m to 1440m and less
    /// than `connectionFailures`. Default 10m.
    #[serde(default = "default_other_window")]
    #[schemars(length(max = 12))]
    #[x_kube(validation = Rule::new(
        "self.matches('^[0-9]+[smh]$') && duration(self) >= duration('1m') && duration(self) <= duration('1440m')"
    ).message("spec.retry.otherFailures must be a whole number of s, m or h (like 10m) from 1m to 1440m"))]
    pub other_failures: String,
}

impl Default for RetrySpec {
    fn default() -> Self {
        Self {
            connection_failures: default_connection_window(),
            other_failures: default_other_window(),
        }
    }
}

/// Heartbeat writes on the source: with `enabled`, the worker upserts one row per task into
/// `<database>.ferry_heartbeat` every `interval`, which keeps the binlog (and the checkpoint)
/// moving on an idle source and makes the reported lag current. Without it, lag comes from the
/// commit timestamps of the source's own transactions (and reads 0 once the reader is idle).
/// The source account needs CREATE and INSERT on `database`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, KubeSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatSpec {
    /// Write a heartbeat row on the source every `interval`.
    #[serde(default)]
    pub enabled: bool,
    /// Interval between heartbeats, e.g. `10s` (1s to 1h). Default 10s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 12))]
    #[x_kube(validation = Rule::new(
        "self.matches('^[0-9]+[smh]$') && duration(self) >= duration('1s') && duration(self) <= duration('1h')"
    ).message("spec.heartbeat.interval must be a whole number of s, m or h (like 10s) from 1s to 1h"))]
    pub interval: Option<String>,
    /// Source database of the `ferry_heartbeat` table. Default `ferry`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

/// Alerting thresholds.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AlertingSpec {
    /// Lag above which the `Lagging` condition is set, e.g. `60s`. Not yet implemented:
    /// accepted, the condition lands with the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_threshold: Option<String>,
}

/// Precheck options.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PrecheckSpec {
    /// Names of ignorable precheck items whose failure becomes a warning (`binlogRowMetadata`,
    /// `sourceVersion`, …; see `status.precheck.items`). Items that are not ignorable cannot be
    /// skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
}

/// Worker process settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkerSpec {
    /// Container image of the worker Pod (operator mode). Default: the operator's own image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Resources of the worker container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Node selector of the worker Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Tolerations of the worker Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Rows per snapshot chunk and per destination batch: 1 to 100,000. Default 2000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100_000))]
    pub batch_rows: Option<u32>,
    /// Parallel apply lanes: changes are spread over this many destination connections by a
    /// hash of table and primary key, so each row keeps source order while different rows are
    /// written in parallel. 1 to 64; default 4 for mysql, 8 for lindorm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub apply_lanes: Option<u32>,
    /// Parallel snapshot readers during full sync, each with its own consistent snapshot:
    /// several tables, and key ranges of a large table, are read at once. 1 to 32; default 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 32))]
    pub snapshot_readers: Option<u32>,
}

fn default_mysql_port() -> u16 {
    3306
}
fn default_ferry_database() -> String {
    "ferry".into()
}
fn default_connection_window() -> String {
    "720m".into()
}
fn default_other_window() -> String {
    "10m".into()
}
fn yes() -> bool {
    true
}
