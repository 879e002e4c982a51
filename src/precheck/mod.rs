//! Prechecks: small `ensure_*` checks run before a task starts, each giving a name, a result
//! (passed / warning / failed), whether `spec.precheck.ignore` may skip it, and a message that
//! says what was found and how to fix it. The report goes to `status.precheck`; a failure that
//! is not ignored stops the task before it writes anything.
//!
//! Why this file is long: every item of both ends is here, with the gate; splitting it into
//! source and destination items behind the sink boundary is on issue 13's list.

use mysql_async::{Conn, prelude::Queryable};

use crate::{
    api::{ConflictingTables, DestinationKind, PrecheckItem, PrecheckResult, PrecheckStatus},
    engine::{
        checkpoint::Checkpoint,
        event::Value,
        mysql_conn::{Endpoint, quote_ident, quote_table, sql_literal},
        retry::{ErrorClass, SyncError},
        schema::ColumnKind,
        sink::{check_decimals, lindorm as lindorm_sink, lindorm::lindorm_opts, mysql as mysql_sink},
        source::mysql::schema::{DiscoveredTable, discover},
    },
    task::ValidatedTask,
};

/// What the prechecks decide about starting a run (`ferry run` and the worker alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// No item failed: start.
    Start,
    /// Only the connection to an end failed, for a reason that may pass by itself (the server
    /// is down, the network is): retry within `retry.connectionFailures`.
    Unreachable,
    /// An item failed, but the task has started before: resume from its checkpoint. A
    /// flaky check must not stop a running task; the engine stops on a real problem with its
    /// own error.
    Resume,
    /// An item failed on a task that never started — a refused login included: stop before
    /// anything is written, with the report.
    Failed,
}

/// Runs the prechecks of `task` and decides: the report, for the user, and the [`Gate`].
pub async fn gate(task: &ValidatedTask, source: &Endpoint, destination: &Endpoint) -> (PrecheckStatus, Gate) {
    let (report, passing) = check(task, source, destination).await;
    let gate = if report.passed {
        Gate::Start
    } else if passing {
        Gate::Unreachable
    } else {
        match has_started(task, destination).await {
            Ok(true) => Gate::Resume,
            Ok(false) => Gate::Failed,
            // Whether the task ran before cannot be asked while the destination is down: it
            // may have, so it is not stopped for good; the retry window bounds the wait.
            Err(ErrorClass::Connection) => Gate::Unreachable,
            Err(_) => Gate::Failed,
        }
    };
    (report, gate)
}

/// Runs every precheck of `task` against its two ends.
pub async fn run(task: &ValidatedTask, source: &Endpoint, destination: &Endpoint) -> PrecheckStatus {
    check(task, source, destination).await.0
}

/// [`run`], and whether its failures may pass by themselves: every failed item is a
/// connection to an end that failed for a connection reason (I/O, TLS, timeout — not a
/// refused login).
async fn check(task: &ValidatedTask, source: &Endpoint, destination: &Endpoint) -> (PrecheckStatus, bool) {
    let mut connections_only = true;
    let mut items = Vec::new();
    let mut tables: Option<Vec<DiscoveredTable>> = None;
    match source.connect().await {
        Ok(mut conn) => {
            items.push(passed("sourceConnection", false, format!("connected to {source}")));
            items.push(ensure_source_version(&mut conn).await);
            items.extend(ensure_binlog_settings(&mut conn).await);
            items.push(ensure_server_id(&mut conn, task).await);
            let (tables_item, found) = ensure_tables(&mut conn, task).await;
            items.push(tables_item);
            items.push(ensure_table_count(task));
            // Every item is in the report, also when the tables could not be read: the ones
            // that need them say so.
            let listed = found.as_deref().unwrap_or_default();
            items.push(ensure_source_privileges(&mut conn, task, found.as_deref()).await);
            items.push(ensure_binlog_retention(&mut conn, listed).await);
            items.push(ensure_binlog_not_filtered(&mut conn, task).await);
            let lindorm = task.spec.destination.kind == DestinationKind::Lindorm;
            if let Some(found) = &found {
                items.push(ensure_no_cascading_foreign_keys(&mut conn, found).await);
                if lindorm {
                    items.push(ensure_no_bit_columns(found));
                    items.push(ensure_lindorm_names(found));
                    items.push(ensure_lindorm_key_size(found));
                }
            } else {
                let mut unchecked = vec![("foreignKeyCascades", true)];
                if lindorm {
                    unchecked.extend([("bitColumns", false), ("lindormNames", false), ("lindormKeySize", true)]);
                }
                for (name, ignorable) in unchecked {
                    items.push(item(
                        name,
                        PrecheckResult::Warning,
                        ignorable,
                        "not checked: the selected tables could not be read (see the `tables` item)".into(),
                    ));
                }
            }
            items.push(ensure_no_online_ddl_tables(&mut conn, task).await);
            tables = found;
            let _ = conn.disconnect().await;
        }
        Err(e) => {
            connections_only &= e.class == ErrorClass::Connection;
            items.push(connection_failed("sourceConnection", &e));
        }
    }
    match destination.connect_with(lindorm_opts(destination)).await {
        Ok(conn) => items.extend(ensure_destination(task, conn, destination, tables.as_deref()).await),
        Err(e) => {
            connections_only &= e.class == ErrorClass::Connection;
            items.push(connection_failed("destinationConnection", &e));
        }
    }
    let ignore = task.spec.precheck.as_ref().map(|p| p.ignore.clone()).unwrap_or_default();
    for item in &mut items {
        if item.result == PrecheckResult::Failed && item.ignorable && ignore.contains(&item.name) {
            item.result = PrecheckResult::Warning;
            item.message = format!("{} (ignored by spec.precheck.ignore)", item.message);
        }
    }
    let passed = items.iter().all(|i| i.result != PrecheckResult::Failed);
    let passing = !passed
        && connections_only
        && items
            .iter()
            .filter(|i| i.result == PrecheckResult::Failed)
            .all(|i| i.name == "sourceConnection" || i.name == "destinationConnection");
    (PrecheckStatus { passed, items }, passing)
}

/// The item of a connection to an end that failed: the error and its remedy.
fn connection_failed(name: &str, e: &SyncError) -> PrecheckItem {
    failed(
        name,
        false,
        format!(
            "{}. Remedy: {}",
            e.message,
            e.remedy
                .clone()
                .unwrap_or_else(|| "check host, port, TLS and the credentials Secret".into())
        ),
    )
}

fn item(name: &str, result: PrecheckResult, ignorable: bool, message: String) -> PrecheckItem {
    PrecheckItem {
        name: name.to_string(),
        result,
        ignorable,
        message,
    }
}

fn passed(name: &str, ignorable: bool, message: String) -> PrecheckItem {
    item(name, PrecheckResult::Passed, ignorable, message)
}

fn failed(name: &str, ignorable: bool, message: String) -> PrecheckItem {
    item(name, PrecheckResult::Failed, ignorable, message)
}

/// MariaDB 10.5+ or MySQL 5.7+ (PolarDB for MySQL reports a MySQL version).
async fn ensure_source_version(conn: &mut Conn) -> PrecheckItem {
    let version: String = conn.query_first("SELECT VERSION()").await.ok().flatten().unwrap_or_default();
    let numbers: Vec<u32> = version
        .split(|c: char| !c.is_ascii_digit())
        .take(2)
        .filter_map(|n| n.parse().ok())
        .collect();
    let (major, minor) = (numbers.first().copied().unwrap_or(0), numbers.get(1).copied().unwrap_or(0));
    let supported = if version.to_ascii_lowercase().contains("mariadb") {
        (major, minor) >= (10, 5)
    } else {
        (major, minor) >= (5, 7)
    };
    if supported {
        passed("sourceVersion", true, format!("{version} is supported"))
    } else {
        failed(
            "sourceVersion",
            true,
            format!("{version} is not a supported source (MariaDB 10.5+, MySQL 5.7+, PolarDB for MySQL). Remedy: upgrade the source"),
        )
    }
}

/// Binary log on, ROW format, FULL row images, full row metadata, no compressed events, whole
/// JSON documents (MySQL 8's `binlog_row_value_options`).
async fn ensure_binlog_settings(conn: &mut Conn) -> Vec<PrecheckItem> {
    let var = |name: &'static str| format!("SELECT @@GLOBAL.{name}");
    let mut out = Vec::new();
    let mut get = async |name: &'static str| -> Option<String> { conn.query_first::<String, _>(var(name)).await.ok().flatten() };
    let log_bin = get("log_bin").await;
    let format = get("binlog_format").await;
    let image = get("binlog_row_image").await;
    let metadata = get("binlog_row_metadata").await;
    let compress = get("log_bin_compress").await;
    let on = |v: &Option<String>| v.as_deref().is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("ON"));
    out.push(if on(&log_bin) {
        passed("binlogEnabled", false, "log_bin is ON".into())
    } else {
        failed(
            "binlogEnabled",
            false,
            "log_bin is OFF. Remedy: start the source with log_bin (and a server_id) and restart it".into(),
        )
    });
    let is = |v: &Option<String>, want: &str| v.as_deref().is_some_and(|v| v.eq_ignore_ascii_case(want));
    out.push(if is(&format, "ROW") {
        passed("binlogFormat", false, "binlog_format is ROW".into())
    } else {
        failed(
            "binlogFormat",
            false,
            format!(
                "binlog_format is {}. Remedy: SET GLOBAL binlog_format = 'ROW' (and in the server config)",
                format.unwrap_or_default()
            ),
        )
    });
    out.push(if is(&image, "FULL") {
        passed("binlogRowImage", false, "binlog_row_image is FULL".into())
    } else {
        failed(
            "binlogRowImage",
            false,
            format!(
                "binlog_row_image is {}: updates would not carry every column. Remedy: SET GLOBAL binlog_row_image = 'FULL'",
                image.unwrap_or_default()
            ),
        )
    });
    out.push(match metadata {
        Some(m) if m.eq_ignore_ascii_case("FULL") => passed("binlogRowMetadata", true, "binlog_row_metadata is FULL".into()),
        Some(m) => item(
            "binlogRowMetadata",
            PrecheckResult::Warning,
            true,
            format!(
                "binlog_row_metadata is {m}: column names are matched by position, which breaks if a column is added in \
                 the middle. Remedy: SET GLOBAL binlog_row_metadata = 'FULL'"
            ),
        ),
        None => item(
            "binlogRowMetadata",
            PrecheckResult::Warning,
            true,
            "the server has no binlog_row_metadata (MySQL before 8.0.1): columns are matched by position".into(),
        ),
    });
    out.push(if on(&compress) {
        failed(
            "binlogCompression",
            false,
            "log_bin_compress is ON: compressed row events cannot be decoded. Remedy: SET GLOBAL log_bin_compress = OFF".into(),
        )
    } else {
        passed("binlogCompression", false, "binlog events are not compressed".into())
    });
    // MySQL 8 only (checked against documentation: no MySQL server here).
    let value_options = get("binlog_row_value_options").await;
    out.push(match value_options {
        Some(v) if !v.is_empty() => failed(
            "binlogRowValueOptions",
            false,
            format!(
                "binlog_row_value_options is {v}: JSON updates would be logged as partial diffs. Remedy: SET GLOBAL binlog_row_value_options = ''"
            ),
        ),
        Some(_) => passed("binlogRowValueOptions", false, "binlog_row_value_options is empty".into()),
        None => passed("binlogRowValueOptions", false, "not a MySQL 8 server: JSON values are always logged whole".into()),
    });
    out
}

/// Every selected table exists, has a usable key (PRIMARY KEY, or UNIQUE over NOT NULL
/// columns), at least one synchronised column outside it, and only supported types; every
/// listed column and every filter column exists.
async fn ensure_tables(conn: &mut Conn, task: &ValidatedTask) -> (PrecheckItem, Option<Vec<DiscoveredTable>>) {
    let discovered = discover(conn, &task.selection).await;
    // The servers hide from an account what it may not use: a table it cannot read looks absent.
    let hidden: Vec<String> = if discovered.is_err() {
        let grants = grants(conn).await;
        task.selection
            .databases()
            .into_iter()
            .filter(|d| !granted(&grants, d, "SELECT"))
            .map(|d| format!("`{d}`"))
            .collect()
    } else {
        Vec::new()
    };
    if !hidden.is_empty() {
        return (
            failed(
                "tables",
                false,
                format!(
                    "the source account has no SELECT on {}, so the server does not show it their tables (they may exist). \
                     Remedy: GRANT SELECT ON <database>.* TO the account (see the sourcePrivileges item)",
                    hidden.join(", ")
                ),
            ),
            None,
        );
    }
    match discovered {
        Ok(tables) => (
            passed(
                "tables",
                false,
                format!("{} tables selected, each with a usable key and a non-key column", tables.len()),
            ),
            Some(tables),
        ),
        Err(e) => (
            failed(
                "tables",
                false,
                format!(
                    "{}. Remedy: {}",
                    e.message,
                    e.remedy.unwrap_or_else(|| "fix the table or the selection".into())
                ),
            ),
            None,
        ),
    }
}

/// At most 1,000 listed tables when tables or columns are renamed (validation refuses more;
/// the item shows where the task stands).
fn ensure_table_count(task: &ValidatedTask) -> PrecheckItem {
    let (listed, renames) = crate::task::listed_tables(&task.spec);
    let limit = crate::task::MAX_RENAMED_TABLES;
    if renames && listed > limit {
        failed(
            "tableCount",
            false,
            format!("{listed} tables listed with renames; at most {limit}. Remedy: split the task"),
        )
    } else {
        passed(
            "tableCount",
            false,
            format!(
                "{listed} tables listed{}",
                if renames {
                    format!(", with renames (at most {limit})")
                } else {
                    String::new()
                }
            ),
        )
    }
}

/// A server id: the source needs one to log, and Ferry's replica id must differ from it.
async fn ensure_server_id(conn: &mut Conn, task: &ValidatedTask) -> PrecheckItem {
    let id: u32 = conn.query_first("SELECT @@GLOBAL.server_id").await.ok().flatten().unwrap_or(0);
    if id == 0 {
        failed(
            "serverId",
            false,
            "the source's server_id is 0, so it serves no replicas. Remedy: set server_id (any value > 0) in the source's configuration"
                .into(),
        )
    } else if id == task.server_id {
        failed(
            "serverId",
            false,
            format!(
                "Ferry's replica server id {} is the source's own server_id. Remedy: set spec.source.serverId to an id no server or replica of this source uses",
                task.server_id
            ),
        )
    } else {
        passed(
            "serverId",
            false,
            format!("source server_id {id}; Ferry reads the binlog as replica {}", task.server_id),
        )
    }
}

/// The grants of the current user: (scope such as `*.*` or `` `db`.* ``, privileges).
async fn grants(conn: &mut Conn) -> Vec<(String, String)> {
    let lines: Vec<String> = conn.query("SHOW GRANTS").await.unwrap_or_default();
    lines
        .iter()
        .filter_map(|line| {
            let rest = line.strip_prefix("GRANT ")?;
            let (privileges, rest) = rest.split_once(" ON ")?;
            let (scope, _) = rest.split_once(" TO ")?;
            Some((scope.trim().replace('`', ""), privileges.to_ascii_uppercase()))
        })
        .collect()
}

/// Whether `grants` give `privilege` on `database` (globally or on the database).
fn granted(grants: &[(String, String)], database: &str, privilege: &str) -> bool {
    grants.iter().any(|(scope, privileges)| {
        (scope == "*.*" || *scope == format!("{database}.*"))
            && (privileges.contains("ALL PRIVILEGES") || privileges.split(", ").any(|p| p == privilege))
    })
}

/// SELECT on every selected table, REPLICATION SLAVE, and REPLICATION CLIENT / BINLOG MONITOR.
async fn ensure_source_privileges(conn: &mut Conn, task: &ValidatedTask, tables: Option<&[DiscoveredTable]>) -> PrecheckItem {
    let mut missing = Vec::new();
    for t in tables.unwrap_or_default() {
        let sql = format!("SELECT 1 FROM {} LIMIT 0", quote_table(&t.schema.source));
        if conn.query_drop(sql).await.is_err() {
            missing.push(format!("SELECT on `{}`", t.schema.source));
        }
    }
    let grants = grants(conn).await;
    // The tables could not be read: whether that is for want of SELECT on their databases.
    if tables.is_none() {
        for database in task.selection.databases() {
            if !granted(&grants, database, "SELECT") {
                missing.push(format!("SELECT on `{database}`"));
            }
        }
    }
    if !granted(&grants, "*", "REPLICATION SLAVE") {
        missing.push("REPLICATION SLAVE".into());
    }
    let status_ok = match conn.query_drop("SHOW BINLOG STATUS").await {
        Ok(()) => true,
        Err(_) => conn.query_drop("SHOW MASTER STATUS").await.is_ok(),
    };
    if !status_ok {
        missing.push("REPLICATION CLIENT (MariaDB: BINLOG MONITOR)".into());
    }
    if missing.is_empty() {
        passed(
            "sourcePrivileges",
            true,
            "SELECT on the selected tables, REPLICATION SLAVE, REPLICATION CLIENT".into(),
        )
    } else {
        failed(
            "sourcePrivileges",
            true,
            format!(
                "the source account lacks {}. Remedy: GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO the account                  (MariaDB 10.5+: BINLOG MONITOR instead of REPLICATION CLIENT). Privileges through roles are not seen: if you                  use roles, add sourcePrivileges to spec.precheck.ignore",
                missing.join(", ")
            ),
        )
    }
}

/// The binlog is kept long enough for the full sync to finish and the binlog to be read.
async fn ensure_binlog_retention(conn: &mut Conn, tables: &[DiscoveredTable]) -> PrecheckItem {
    let seconds = crate::engine::source::mysql::binlog_retention(conn).await;
    let rows: u64 = tables.iter().map(|t| t.rows_estimated).sum();
    // A deliberately low rate: a loaded source, throttling, a slow destination.
    let estimate = rows / FULL_SYNC_ROWS_PER_SECOND;
    let needed = (2 * estimate).max(86_400);
    match seconds {
        None => passed("binlogRetention", true, "binary logs are not purged by age".into()),
        Some(s) if s >= needed => passed(
            "binlogRetention",
            true,
            format!(
                "binary logs are kept {}h; the full sync of ~{rows} rows needs about {}m",
                s / 3600,
                estimate.div_ceil(60)
            ),
        ),
        Some(s) => item(
            "binlogRetention",
            PrecheckResult::Warning,
            true,
            format!(
                "binary logs are kept only {}m; the full sync of ~{rows} rows may take {}m and the binlog from its start must still                  be there when it ends (and through any outage). Remedy: SET GLOBAL binlog_expire_logs_seconds = {} or more                  (DTS asks for 7 days)",
                s / 60,
                estimate.div_ceil(60),
                needed
            ),
        ),
    }
}

/// Rows per second assumed for the retention estimate.
const FULL_SYNC_ROWS_PER_SECOND: u64 = 5_000;

/// Lindorm has no BIT type.
fn ensure_no_bit_columns(tables: &[DiscoveredTable]) -> PrecheckItem {
    let bits: Vec<String> = tables
        .iter()
        .flat_map(|t| {
            t.schema
                .columns
                .iter()
                .filter(|c| matches!(c.kind, ColumnKind::Bit { .. }))
                .map(move |c| format!("`{}`.`{}`", t.schema.source, c.name))
        })
        .collect();
    if bits.is_empty() {
        passed("bitColumns", false, "no BIT columns selected".into())
    } else {
        failed(
            "bitColumns",
            false,
            format!(
                "Lindorm has no BIT type: {}. Remedy: leave these columns out with spec.objects[].tables[].columns, or change their type on the source",
                bits.join(", ")
            ),
        )
    }
}

/// Every destination name fits Lindorm's rules (namespaces, tables, columns).
fn ensure_lindorm_names(tables: &[DiscoveredTable]) -> PrecheckItem {
    let problems: Vec<String> = tables
        .iter()
        .filter_map(|t| {
            lindorm_sink::dialect::check_names(&t.schema)
                .err()
                .map(|e| format!("`{}`: {e}", t.schema.source))
        })
        .collect();
    if problems.is_empty() {
        passed("lindormNames", false, "every destination name fits Lindorm's naming rules".into())
    } else {
        failed("lindormNames", false, problems.join("; "))
    }
}

/// Keys whose declared types can exceed Lindorm's 2 KB of primary-key values. Ignorable: the
/// values may stay short; a row whose key does exceed it stops the task before it is written.
fn ensure_lindorm_key_size(tables: &[DiscoveredTable]) -> PrecheckItem {
    let limit = lindorm_sink::dialect::MAX_KEY_BYTES;
    let large: Vec<String> = tables
        .iter()
        .filter_map(|t| {
            let bytes = lindorm_sink::dialect::declared_key_bytes(&t.schema);
            bytes.is_none_or(|b| b > limit).then(|| {
                let columns: Vec<&str> = t.schema.key.iter().map(|&k| t.schema.columns[k].name.as_str()).collect();
                let size = bytes.map_or_else(|| "no declared bound".to_string(), |b| format!("up to {b} bytes"));
                format!("`{}` (key {}: {size})", t.schema.source, columns.join(", "))
            })
        })
        .collect();
    if large.is_empty() {
        passed(
            "lindormKeySize",
            true,
            format!("every key fits Lindorm's {limit} bytes of primary-key values"),
        )
    } else {
        failed(
            "lindormKeySize",
            true,
            format!(
                "keys whose declared types can exceed Lindorm's {limit} bytes of primary-key values: {}. A row whose key does \
                 exceed it stops the task before anything of its batch is written. Remedy: shorten the key columns on the source, \
                 or add lindormKeySize to spec.precheck.ignore if the stored values stay short",
                large.join(", ")
            ),
        )
    }
}

/// Helper tables of online schema change tools: a migration in flight ends with a RENAME swap,
/// which stops a task that synchronises the table.
/// No selected table is the child of a foreign key with a cascading action: the rows such an
/// action changes (`ON DELETE CASCADE`, `ON UPDATE CASCADE`, `SET NULL`, `SET DEFAULT`) are
/// changed inside the storage engine and are not written to the binary log (MariaDB,
/// "Replication and Foreign Keys"; MySQL "InnoDB and MySQL Replication"), so they would never
/// reach the destination. Ignorable, for tasks whose parents' keys never change or go.
async fn ensure_no_cascading_foreign_keys(conn: &mut Conn, tables: &[DiscoveredTable]) -> PrecheckItem {
    let mut found = Vec::new();
    for t in tables {
        let rows: Vec<(String, String, String, String)> = conn
            .exec(
                "SELECT CONSTRAINT_NAME, REFERENCED_TABLE_NAME, UPDATE_RULE, DELETE_RULE FROM information_schema.REFERENTIAL_CONSTRAINTS \
                 WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ? AND (UPDATE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT') \
                 OR DELETE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT'))",
                (t.schema.source.database.as_str(), t.schema.source.table.as_str()),
            )
            .await
            .unwrap_or_default();
        for (name, parent, on_update, on_delete) in rows {
            found.push(format!(
                "`{}` (foreign key `{name}` to `{parent}`: ON UPDATE {on_update}, ON DELETE {on_delete})",
                t.schema.source
            ));
        }
    }
    if found.is_empty() {
        passed(
            "foreignKeyCascades",
            true,
            "no selected table has a foreign key with a cascading action".into(),
        )
    } else {
        failed(
            "foreignKeyCascades",
            true,
            format!(
                "rows changed by cascading foreign key actions are not in the binary log, so Ferry cannot follow them: {}. Remedy: \
                 change the actions to RESTRICT / NO ACTION and delete or update child rows explicitly, or leave those tables out \
                 of spec.objects; if the parents' keys never change or go, add foreignKeyCascades to spec.precheck.ignore",
                found.join("; ")
            ),
        )
    }
}

/// The source writes every selected database's changes to its binary log: no
/// `binlog_do_db` / `binlog_ignore_db` filter leaves one out.
async fn ensure_binlog_not_filtered(conn: &mut Conn, task: &ValidatedTask) -> PrecheckItem {
    let row: Option<mysql_async::Row> = match conn.query_first("SHOW BINARY LOG STATUS").await {
        Ok(row) => row,
        Err(_) => conn.query_first("SHOW MASTER STATUS").await.ok().flatten(),
    };
    let field = |row: &Option<mysql_async::Row>, i: usize| -> Vec<String> {
        row.as_ref()
            .and_then(|r| r.get::<Option<String>, _>(i).flatten())
            .map(|v| v.split(',').map(|d| d.trim().to_string()).filter(|d| !d.is_empty()).collect())
            .unwrap_or_default()
    };
    let (only, ignored) = (field(&row, 2), field(&row, 3));
    let left_out: Vec<&str> = task
        .selection
        .databases()
        .into_iter()
        .filter(|db| (!only.is_empty() && !only.iter().any(|d| d == db)) || ignored.iter().any(|d| d == db))
        .collect();
    if left_out.is_empty() {
        passed("binlogFilters", false, "the binary log has every selected database".into())
    } else {
        failed(
            "binlogFilters",
            false,
            format!(
                "the source's binlog_do_db / binlog_ignore_db leave database(s) {} out of the binary log. Remedy: remove them from \
                 the filter in the source's configuration and restart it, then run the full sync",
                left_out.join(", ")
            ),
        )
    }
}

async fn ensure_no_online_ddl_tables(conn: &mut Conn, task: &ValidatedTask) -> PrecheckItem {
    let databases = task.selection.databases();
    let placeholders = vec!["?"; databases.len()].join(",");
    let names: Vec<(String, String)> = conn
        .exec(
            format!("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ({placeholders})"),
            databases,
        )
        .await
        .unwrap_or_default();
    let helpers: Vec<String> = names
        .into_iter()
        .filter(|(_, t)| t.starts_with('_') && [("_gho"), ("_ghc"), ("_new"), ("_old"), ("_del")].iter().any(|s| t.ends_with(s)))
        .map(|(d, t)| format!("`{d}`.`{t}`"))
        .collect();
    if helpers.is_empty() {
        passed("onlineDdlTables", true, "no online schema change in progress".into())
    } else {
        item(
            "onlineDdlTables",
            PrecheckResult::Warning,
            true,
            format!(
                "online schema change helper tables exist ({}): when the tool swaps tables with RENAME TABLE, a task that synchronises                  the table stops. Remedy: let the migration finish (or drop the leftovers) before starting the task",
                helpers.join(", ")
            ),
        )
    }
}

/// The destination accepted the connection `conn`: the account may write, and existing tables
/// fit.
async fn ensure_destination(
    task: &ValidatedTask,
    mut conn: Conn,
    destination: &Endpoint,
    tables: Option<&[DiscoveredTable]>,
) -> Vec<PrecheckItem> {
    let mut items = vec![passed("destinationConnection", false, format!("connected to {destination}"))];
    let lindorm = task.spec.destination.kind == DestinationKind::Lindorm;
    if lindorm {
        items.push(passed(
            "destinationPrivileges",
            true,
            "Lindorm has no SHOW GRANTS: write privileges are checked by the first write".into(),
        ));
    } else {
        items.push(ensure_destination_privileges(&mut conn, task).await);
    }
    if let Some(tables) = tables {
        let owned = owned_tables(&mut conn, task).await;
        items.extend(ensure_destination_tables(&mut conn, task, tables, lindorm, &owned).await);
    }
    let _ = conn.disconnect().await;
    items
}

/// Source names of the tables this task already synchronises (its stored checkpoint), so that
/// a restarted task does not find its own tables "conflicting".
async fn owned_tables(conn: &mut Conn, task: &ValidatedTask) -> Vec<String> {
    let sql = format!(
        "SELECT epoch, state FROM {}.`ferry_checkpoint` WHERE task = {}",
        quote_ident(&task.spec.destination.checkpoint_database),
        sql_literal(&Value::Text(task.key.clone()))
    );
    let rows: Vec<(i64, Option<String>)> = conn.query(sql).await.unwrap_or_default();
    rows.into_iter()
        .max_by_key(|(epoch, _)| *epoch)
        .and_then(|(_, state)| Checkpoint::from_json(&state.unwrap_or_default()).ok())
        .map(|c| c.tables.into_keys().collect())
        .unwrap_or_default()
}

/// Whether the task has already started (its checkpoint exists in the destination). A task
/// that resumes is not held back by a failing precheck — a flaky connection during the checks
/// must not stop a running task; the engine stops on a real problem with its own error.
/// The class of the error when the destination cannot be asked.
async fn has_started(task: &ValidatedTask, destination: &Endpoint) -> Result<bool, ErrorClass> {
    let mut conn = destination.connect_with(lindorm_opts(destination)).await.map_err(|e| e.class)?;
    let sql = format!(
        "SELECT epoch FROM {}.`ferry_checkpoint` WHERE task = {}",
        quote_ident(&task.spec.destination.checkpoint_database),
        sql_literal(&Value::Text(task.key.clone()))
    );
    let rows: Vec<i64> = conn.query(sql).await.unwrap_or_default();
    let _ = conn.disconnect().await;
    Ok(!rows.is_empty())
}

/// CREATE, SELECT, INSERT, UPDATE, DELETE on every destination database and the checkpoint
/// database, and ALTER / DROP where DDL is followed.
async fn ensure_destination_privileges(conn: &mut Conn, task: &ValidatedTask) -> PrecheckItem {
    let grants = grants(conn).await;
    let mut missing = Vec::new();
    let mut check = |database: &str, privilege: &str| {
        if !granted(&grants, database, privilege) {
            missing.push(format!("{privilege} on `{database}`"));
        }
    };
    for p in ["CREATE", "SELECT", "INSERT", "UPDATE", "DELETE"] {
        check(&task.spec.destination.checkpoint_database, p);
    }
    for database in task.selection.databases() {
        let target = task.selection.target_database(database);
        let ops = task.selection.operations(database, "");
        for p in ["CREATE", "SELECT", "INSERT", "UPDATE", "DELETE"] {
            check(&target, p);
        }
        if ops.add_column {
            check(&target, "ALTER");
        }
        if ops.drop_table || ops.delete {
            check(&target, "DROP");
        }
    }
    if missing.is_empty() {
        passed(
            "destinationPrivileges",
            true,
            "the destination account may create and write the tables".into(),
        )
    } else {
        failed(
            "destinationPrivileges",
            true,
            format!(
                "the destination account lacks {}. Remedy: GRANT CREATE, SELECT, INSERT, UPDATE, DELETE, ALTER, DROP ON the                  destination databases and the checkpoint database TO the account (privileges through roles are not seen:                  add destinationPrivileges to spec.precheck.ignore if you use roles)",
                missing.join(", ")
            ),
        )
    }
}

/// Existing destination tables: DECIMAL columns must match (always), and under
/// `conflictingTables: precheckError` the table must have every column with the source type
/// and the source key.
async fn ensure_destination_tables(
    conn: &mut Conn,
    task: &ValidatedTask,
    tables: &[DiscoveredTable],
    lindorm: bool,
    owned: &[String],
) -> Vec<PrecheckItem> {
    let as_is = task.spec.conflicting_tables == ConflictingTables::Ignore;
    let mut decimals = Vec::new();
    let mut conflicts = Vec::new();
    let mut immutable = Vec::new();
    let mut unread = Vec::new();
    for t in tables {
        let schema = &t.schema;
        if lindorm && let Ok((indexes, mutability)) = lindorm_sink::index_mutability(conn, schema).await {
            if let Some(problem) = lindorm_sink::dialect::mutability_problem(&indexes, mutability.as_deref()) {
                immutable.push(format!("`{}` {problem}", schema.target));
            } else if !indexes.is_empty() && mutability.is_none() {
                unread.push(schema.target.to_string());
            }
        }
        let existing: Vec<(String, String, String)> = if lindorm {
            lindorm_sink::describe(conn, schema)
                .await
                .ok()
                .flatten()
                .unwrap_or_default()
                .into_iter()
                .map(|(n, t)| (n, t, String::new()))
                .collect()
        } else {
            conn.exec(
                "SELECT COLUMN_NAME, COLUMN_TYPE, COLUMN_KEY FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (schema.target.database.as_str(), schema.target.table.as_str()),
            )
            .await
            .unwrap_or_default()
        };
        if existing.is_empty() {
            continue;
        }
        let types: Vec<(String, String)> = existing.iter().map(|(n, t, _)| (n.clone(), t.clone())).collect();
        if let Err(e) = check_decimals(schema, &types) {
            decimals.push(e.message);
        }
        // A table the task already synchronises may lag the source's DDL until the binlog
        // replays it, and is Ferry's own: only DECIMALs are compared.
        if !as_is
            && !lindorm
            && !owned.contains(&schema.source.to_string())
            && let Err(e) = mysql_sink::check_compatible(schema, &existing)
        {
            conflicts.push(e.message);
        }
    }
    let mut items = vec![if decimals.is_empty() {
        passed(
            "decimalCompatibility",
            false,
            "no existing destination DECIMAL column differs from the source".into(),
        )
    } else {
        failed(
            "decimalCompatibility",
            false,
            format!(
                "{}. Remedy: alter the destination columns to the source's DECIMAL(precision,scale), or map the tables to new names",
                decimals.join("; ")
            ),
        )
    }];
    if lindorm {
        items.push(if !immutable.is_empty() {
            failed(
                "lindormIndexMutability",
                true,
                format!(
                    "{}. Remedy: ALTER TABLE <table> SET 'MUTABILITY' = 'MUTABLE_LATEST' on each, or add lindormIndexMutability to \
                     spec.precheck.ignore if the task only inserts (spec.objects[].operations)",
                    immutable.join("; ")
                ),
            )
        } else if !unread.is_empty() {
            item(
                "lindormIndexMutability",
                PrecheckResult::Warning,
                true,
                format!(
                    "tables with index tables whose MUTABILITY the destination did not report (SHOW TABLE VARIABLES needs \
                     LindormTable 2.6.3+): {}. They must not be IMMUTABLE or IMMUTABLE_ROWS, since Ferry updates and deletes rows",
                    unread.join(", ")
                ),
            )
        } else {
            passed(
                "lindormIndexMutability",
                true,
                "no existing destination table has index tables that ignore updates and deletes".into(),
            )
        });
    }
    items.push(if conflicts.is_empty() {
        passed(
            "conflictingTables",
            false,
            if as_is {
                "conflictingTables: ignore — existing destination tables are used as they are".into()
            } else {
                "no existing destination table conflicts with the source".into()
            },
        )
    } else {
        failed(
            "conflictingTables",
            false,
            format!(
                "{}. Remedy: drop or fix the destination tables, map the tables to other names (targetName), or set                  spec.conflictingTables: ignore",
                conflicts.join("; ")
            ),
        )
    });
    items
}
