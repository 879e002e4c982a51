//! The heartbeat (`spec.heartbeat`): the task's row in `ferry_heartbeat` on the source,
//! upserted every interval, so an idle source's binlog keeps moving and the lag stays current.

use crate::engine::{mysql_conn::Endpoint, retry::SyncResult};

/// Writes the task's heartbeat row on the source every `interval` until aborted. A failed
/// write is logged and retried at the next beat: the heartbeat never fails the task.
pub async fn beat(endpoint: Endpoint, database: String, task: String, interval: std::time::Duration) {
    use mysql_async::prelude::Queryable;
    let table = format!("{}.`ferry_heartbeat`", crate::engine::mysql_conn::quote_ident(&database));
    let mut conn: Option<mysql_async::Conn> = None;
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        let result: SyncResult<()> = async {
            if conn.is_none() {
                let mut c = endpoint.connect().await?;
                let setup = format!(
                    "CREATE DATABASE IF NOT EXISTS {}; CREATE TABLE IF NOT EXISTS {table} \
                     (task VARCHAR(255) NOT NULL PRIMARY KEY, beat DATETIME(6) NOT NULL)",
                    crate::engine::mysql_conn::quote_ident(&database)
                );
                c.query_drop(setup)
                    .await
                    .map_err(|e| crate::engine::mysql_conn::classify(&e).context("create the heartbeat table"))?;
                conn = Some(c);
            }
            let Some(c) = conn.as_mut() else { return Ok(()) };
            c.exec_drop(
                format!("INSERT INTO {table} (task, beat) VALUES (?, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE beat = VALUES(beat)"),
                (task.as_str(),),
            )
            .await
            .map_err(|e| crate::engine::mysql_conn::classify(&e).context("write the heartbeat"))
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "heartbeat write failed; retrying at the next beat");
            conn = None;
        }
    }
}
