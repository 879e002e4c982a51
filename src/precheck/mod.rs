//! Prechecks: small `ensure_*` checks run before a task starts, each giving a name, a result
//! (passed / warning / failed), whether `spec.precheck.ignore` may skip it, and a message that
//! says what was found and how to fix it. The report goes to `status.precheck`; a failure that
//! is not ignored stops the task before it writes anything.

use mysql_async::{Conn, prelude::Queryable};

use crate::{
    api::{PrecheckItem, PrecheckResult, PrecheckStatus, ValidatedTask},
    engine::{mysql_conn::Endpoint, sink::lindorm::lindorm_opts, source::mysql::schema::discover},
};

/// Runs every precheck of `task` against its two ends.
pub async fn run(task: &ValidatedTask, source: &Endpoint, destination: &Endpoint) -> PrecheckStatus {
    let mut items = Vec::new();
    match source.connect().await {
        Ok(mut conn) => {
            items.push(passed("sourceConnection", false, format!("connected to {source}")));
            items.push(ensure_source_version(&mut conn).await);
            items.extend(ensure_binlog_settings(&mut conn).await);
            items.push(ensure_tables(&mut conn, task).await);
            let _ = conn.disconnect().await;
        }
        Err(e) => items.push(failed(
            "sourceConnection",
            false,
            format!(
                "{e}. Remedy: {}",
                e.remedy
                    .clone()
                    .unwrap_or_else(|| "check host, port, TLS and the credentials Secret".into())
            ),
        )),
    }
    items.push(ensure_destination(destination).await);
    let ignore = task.spec.precheck.as_ref().map(|p| p.ignore.clone()).unwrap_or_default();
    for item in &mut items {
        if item.result == PrecheckResult::Failed && item.ignorable && ignore.contains(&item.name) {
            item.result = PrecheckResult::Warning;
            item.message = format!("{} (ignored by spec.precheck.ignore)", item.message);
        }
    }
    let passed = items.iter().all(|i| i.result != PrecheckResult::Failed);
    PrecheckStatus { passed, items }
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

/// Binary log on, ROW format, FULL row images, full row metadata, no compressed events.
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
    if on(&compress) {
        out.push(failed(
            "binlogCompression",
            false,
            "log_bin_compress is ON: compressed row events cannot be decoded. Remedy: SET GLOBAL log_bin_compress = OFF".into(),
        ));
    }
    out
}

/// Every selected table exists, has a usable key and only supported types.
async fn ensure_tables(conn: &mut Conn, task: &ValidatedTask) -> PrecheckItem {
    match discover(conn, &task.selection).await {
        Ok(tables) => passed("tables", false, format!("{} tables selected, each with a usable key", tables.len())),
        Err(e) => failed(
            "tables",
            false,
            format!(
                "{}. Remedy: {}",
                e.message,
                e.remedy.unwrap_or_else(|| "fix the table or the selection".into())
            ),
        ),
    }
}

/// The destination accepts a connection with the task's credentials.
async fn ensure_destination(destination: &Endpoint) -> PrecheckItem {
    // Lindorm's options also suit MySQL: the packet limit is given rather than asked for.
    match destination.connect_with(lindorm_opts(destination)).await {
        Ok(conn) => {
            let _ = conn.disconnect().await;
            passed("destinationConnection", false, format!("connected to {destination}"))
        }
        Err(e) => failed(
            "destinationConnection",
            false,
            format!(
                "{}. Remedy: {}",
                e.message,
                e.remedy
                    .unwrap_or_else(|| "check host, port, TLS and the credentials Secret".into())
            ),
        ),
    }
}
