//! The MySQL-family source: PolarDB for MySQL, MySQL 5.7/8.x, MariaDB 10.5+.

pub mod binlog;
pub mod decode;
pub mod heartbeat;
pub mod schema;
pub mod snapshot;
pub mod txn;

use mysql_async::prelude::Queryable;

use crate::engine::{
    event::{GtidState, Position},
    mysql_conn::{Endpoint, classify},
    retry::{SyncError, SyncResult},
};

/// Which binlog dialect the server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// MySQL 5.7/8.x and PolarDB for MySQL: GTID sets, `SHOW MASTER STATUS`.
    Mysql,
    /// MariaDB 10.5+: domain-server-sequence GTIDs, consistent-snapshot binlog status.
    MariaDb,
}

/// Connects once to learn the server's flavor and version.
pub async fn detect_flavor(endpoint: &Endpoint) -> SyncResult<(Flavor, String)> {
    let mut conn = endpoint.connect().await?;
    let version: Option<String> = conn
        .query_first("SELECT VERSION()")
        .await
        .map_err(|e| classify(&e).context(format!("read the version of {endpoint}")))?;
    let _ = conn.disconnect().await;
    let version = version.unwrap_or_default();
    let flavor = if version.to_ascii_lowercase().contains("mariadb") {
        Flavor::MariaDb
    } else {
        Flavor::Mysql
    };
    Ok((flavor, version))
}

/// How long the source keeps binary logs, in seconds; `None` when it does not purge by age.
pub async fn binlog_retention(conn: &mut mysql_async::Conn) -> Option<u64> {
    match conn.query_first::<u64, _>("SELECT @@GLOBAL.binlog_expire_logs_seconds").await {
        Ok(Some(s)) if s > 0 => Some(s),
        _ => match conn.query_first::<f64, _>("SELECT @@GLOBAL.expire_logs_days").await {
            Ok(Some(d)) if d > 0.0 => Some((d * 86_400.0) as u64),
            _ => None,
        },
    }
}

/// The binlog's current end, `(file, offset)`; `None` without a binary log.
pub async fn binlog_end(conn: &mut mysql_async::Conn) -> Result<Option<(String, u64)>, mysql_async::Error> {
    let row: Option<mysql_async::Row> = match conn.query_first("SHOW BINARY LOG STATUS").await {
        Ok(row) => row,
        Err(_) => conn.query_first("SHOW MASTER STATUS").await?,
    };
    Ok(row.map(|r| (r.get::<String, _>(0).unwrap_or_default(), r.get::<u64, _>(1).unwrap_or(0))))
}

/// The source's current binlog end, for a task that starts with incremental sync only.
pub async fn current_position(endpoint: &Endpoint, flavor: Flavor) -> SyncResult<Position> {
    let mut conn = endpoint.connect().await?;
    let ctx = |e: mysql_async::Error| classify(&e).context(format!("read the binlog position of {endpoint}"));
    let row: Option<mysql_async::Row> = match conn.query_first("SHOW BINARY LOG STATUS").await {
        Ok(row) => row,
        Err(_) => conn.query_first("SHOW MASTER STATUS").await.map_err(ctx)?,
    };
    let row = row.ok_or_else(|| SyncError::definite(format!("the source {endpoint} has no binary log"), "enable log_bin on the source"))?;
    let file: String = row.get(0).unwrap_or_default();
    let pos: u64 = row.get(1).unwrap_or(4);
    let gtid = match flavor {
        Flavor::MariaDb => {
            let g: Option<String> = conn
                .exec_first("SELECT BINLOG_GTID_POS(?, ?)", (file.as_str(), pos))
                .await
                .map_err(ctx)?;
            g.and_then(|g| GtidState::parse_mariadb(&g))
        }
        Flavor::Mysql => row
            .get::<Option<String>, _>(4)
            .flatten()
            .filter(|g| !g.is_empty())
            .and_then(|g| GtidState::parse_mysql(&g)),
    };
    let _ = conn.disconnect().await;
    Ok(Position { file, pos, gtid })
}

/// Fails (to be retried) while the source has prepared XA transactions: a task that starts now
/// could see neither their rows (no snapshot shows a prepared transaction) nor their XA PREPARE
/// (it is before the start position in the binlog), only their XA COMMIT. Run right after the
/// start position is taken; an XA transaction committed in between is caught by the binlog
/// reader, which stops at an XA COMMIT it cannot match, never silently.
pub async fn ensure_no_prepared_xa(conn: &mut mysql_async::Conn) -> SyncResult<()> {
    let prepared: Vec<mysql_async::Row> = match conn.query("XA RECOVER").await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list prepared XA transactions (XA RECOVER); assuming there are none");
            return Ok(());
        }
    };
    if prepared.is_empty() {
        return Ok(());
    }
    Err(SyncError::new(
        crate::engine::retry::ErrorClass::Connection,
        format!(
            "the source has {} prepared XA transaction(s) (XA RECOVER lists them): a task cannot start while their rows are \
             in no snapshot; waiting for them to be committed or rolled back",
            prepared.len()
        ),
    ))
}
