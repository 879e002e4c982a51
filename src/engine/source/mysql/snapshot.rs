//! Consistent snapshot reads.
//!
//! Guarantee: every chunk read through one [`Snapshot`] reflects the source exactly as of
//! [`Snapshot::position`] — the binlog position of the snapshot's consistent read view.
//! MariaDB gives both atomically (`START TRANSACTION WITH CONSISTENT SNAPSHOT` and the
//! `binlog_snapshot_file/position` status); MySQL needs a short global read lock around
//! the snapshot start to read `SHOW MASTER STATUS` at the same instant (no lock is held while
//! rows are read). Incremental sync starts at the *earliest* snapshot position of the task, so
//! every change after a chunk's read view is replayed over it; because every write is an
//! idempotent full-image upsert or delete by key, replaying changes the chunk already contains
//! converges to the same rows.
//!
//! Chunks are keyset pages (`WHERE key > last [AND key <= upper] ORDER BY key LIMIT n`): memory
//! is bounded by the chunk size whatever the table size, and a chunk boundary is a resumable
//! cursor. Large tables are cut into key ranges ([`Snapshot::split_points`]) that parallel
//! readers copy independently, each through its own snapshot. A table whose key the index
//! orders differently from how predicates compare it ([`key::keyset_pages`]: CHAR under a NO
//! PAD collation) is read in one scan without key bounds instead ([`Snapshot::scan`]): every
//! row exactly once whatever the order, but no key ranges and no resumable cursor.

use mysql_async::{Conn, prelude::Queryable};

use super::{
    Flavor,
    decode::{Origin, decode},
};
use crate::engine::{
    event::{GtidState, Position, Row, Value},
    key,
    mysql_conn::{Endpoint, classify, quote_ident, quote_table},
    retry::{SyncError, SyncResult},
    schema::TableSchema,
};

/// An open consistent read view on the source.
pub struct Snapshot {
    conn: Conn,
    /// Binlog position of the read view.
    pub position: Position,
}

impl Snapshot {
    /// Opens a read view and reads its binlog position.
    pub async fn open(endpoint: &Endpoint, flavor: Flavor) -> SyncResult<Snapshot> {
        let mut conn = endpoint.connect().await?;
        let ctx = |e: mysql_async::Error| classify(&e).context(format!("open a consistent snapshot on {endpoint}"));
        conn.query_drop("SET SESSION time_zone = '+00:00'").await.map_err(ctx)?;
        conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .await
            .map_err(ctx)?;
        let position = match flavor {
            Flavor::MariaDb => {
                conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                    .await
                    .map_err(ctx)?;
                let status: Vec<(String, String)> = conn.query("SHOW STATUS LIKE 'binlog_snapshot_%'").await.map_err(ctx)?;
                let get = |name: &str| status.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
                let file = get("binlog_snapshot_file").filter(|f| !f.is_empty()).ok_or_else(|| {
                    SyncError::definite(
                        format!("the source {endpoint} has no binary log"),
                        "enable log_bin on the source and restart it",
                    )
                })?;
                let pos: u64 = get("binlog_snapshot_position").and_then(|p| p.parse().ok()).unwrap_or(4);
                let gtid: Option<String> = conn
                    .exec_first("SELECT BINLOG_GTID_POS(?, ?)", (file.as_str(), pos))
                    .await
                    .map_err(ctx)?
                    .flatten();
                Position {
                    file,
                    pos,
                    gtid: gtid.and_then(|g| GtidState::parse_mariadb(&g)),
                }
            }
            Flavor::Mysql => {
                // A short global read lock so the binlog position and the read view coincide.
                conn.query_drop("FLUSH TABLES WITH READ LOCK").await.map_err(ctx)?;
                let result = async {
                    conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY").await?;
                    let row: Option<mysql_async::Row> = match conn.query_first("SHOW BINARY LOG STATUS").await {
                        Ok(row) => row,
                        Err(_) => conn.query_first("SHOW MASTER STATUS").await?,
                    };
                    Ok::<_, mysql_async::Error>(row)
                }
                .await;
                conn.query_drop("UNLOCK TABLES").await.map_err(ctx)?;
                let row = result.map_err(ctx)?.ok_or_else(|| {
                    SyncError::definite(format!("the source {endpoint} has no binary log"), "enable log_bin on the source")
                })?;
                let file: String = row.get(0).unwrap_or_default();
                let pos: u64 = row.get(1).unwrap_or(4);
                let gtid: Option<String> = row.get(4);
                Position {
                    file,
                    pos,
                    gtid: gtid.filter(|g| !g.is_empty()).and_then(|g| GtidState::parse_mysql(&g)),
                }
            }
        };
        // From here on, character data arrives in each column's own character set, exactly as
        // the binlog carries it, so both paths decode it the same way.
        conn.query_drop("SET character_set_results = binary").await.map_err(ctx)?;
        Ok(Snapshot { conn, position })
    }

    /// Reads up to `limit` rows of `table` whose key is greater than `after` and at most
    /// `upper`, in key order.
    pub async fn read_chunk(
        &mut self,
        table: &TableSchema,
        after: Option<&[Value]>,
        upper: Option<&[Value]>,
        limit: usize,
    ) -> SyncResult<Vec<Row>> {
        read_range(&mut self.conn, table, after, upper, limit).await
    }

    /// Starts reading every row of `table` (its filter applied) in one statement without key
    /// bounds, for tables that cannot be paged by key ([`key::keyset_pages`]). The server
    /// waits for Ferry while the destination is slow: its write timeout is lifted for the scan.
    pub async fn scan<'a>(&'a mut self, table: &'a TableSchema) -> SyncResult<Scan<'a>> {
        let ctx = |e: mysql_async::Error| classify(&e).context(format!("read `{}`", table.source));
        self.conn.query_drop("SET SESSION net_write_timeout = 86400").await.map_err(ctx)?;
        let (sql, params) = chunk_query(table, None, None, None);
        let result = self.conn.exec_iter(sql, params).await.map_err(ctx)?;
        Ok(Scan { table, result })
    }

    /// Keys that cut `table` into at most `slices` ranges of about `rows_estimated / slices`
    /// rows each, in key order, read from the index (`ORDER BY key LIMIT 1 OFFSET n`). Fewer
    /// when the table is smaller than estimated.
    pub async fn split_points(&mut self, table: &TableSchema, rows_estimated: u64, slices: usize) -> SyncResult<Vec<Row>> {
        let keys: Vec<String> = table.key.iter().map(|&i| quote_ident(&table.columns[i].name)).collect();
        let selected: Vec<String> = table.key.iter().map(|&i| key::select_expr(&table.columns[i])).collect();
        let step = rows_estimated / slices.max(1) as u64;
        let mut points: Vec<Row> = Vec::new();
        for k in 1..slices as u64 {
            let sql = format!(
                "SELECT {} FROM {} ORDER BY {} LIMIT 1 OFFSET {}",
                selected.join(", "),
                quote_table(&table.source),
                keys.join(", "),
                k * step
            );
            // The binary protocol, as for chunks: both decode alike.
            let row: Option<mysql_async::Row> = self
                .conn
                .exec_first(sql, ())
                .await
                .map_err(|e| classify(&e).context(format!("split `{}` into key ranges", table.source)))?;
            let Some(mut row) = row else { break };
            let point = table
                .key
                .iter()
                .enumerate()
                .map(|(j, &i)| decode(&table.columns[i], row.take(j).unwrap_or(mysql_async::Value::NULL), Origin::Snapshot))
                .collect::<Result<Row, String>>()
                .map_err(|why| {
                    SyncError::definite(
                        format!("failed to decode a key of `{}`: {why}", table.source),
                        "report this as a bug",
                    )
                })?;
            if points.last() != Some(&point) {
                points.push(point);
            }
        }
        Ok(points)
    }

    /// Fails (to be retried) while the source has prepared XA transactions; for the snapshot
    /// whose position starts the task ([`super::ensure_no_prepared_xa`]).
    pub async fn ensure_no_prepared_xa(&mut self) -> SyncResult<()> {
        super::ensure_no_prepared_xa(&mut self.conn).await
    }

    /// Ends the read view.
    pub async fn close(mut self) {
        let _ = self.conn.query_drop("ROLLBACK").await;
        let _ = self.conn.disconnect().await;
    }
}

/// An unbounded read of one table ([`Snapshot::scan`]), taken in chunks.
pub struct Scan<'a> {
    table: &'a TableSchema,
    result: mysql_async::QueryResult<'a, 'static, mysql_async::BinaryProtocol>,
}

impl Scan<'_> {
    /// The next up to `limit` rows (fewer at the end).
    pub async fn next_chunk(&mut self, limit: usize) -> SyncResult<Vec<Row>> {
        let mut rows = Vec::with_capacity(limit.min(4096));
        while rows.len() < limit {
            let row = self
                .result
                .next()
                .await
                .map_err(|e| classify(&e).context(format!("read `{}`", self.table.source)))?;
            let Some(row) = row else { break };
            rows.push(decode_row(self.table, row)?);
        }
        Ok(rows)
    }
}

/// Reads up to `limit` rows of `table` (its `source` name and column `name`s, its filter)
/// whose key is greater than `after` and at most `upper`, in key order, on any connection whose
/// session returns character data as binary (as [`Snapshot`] sets it up).
pub async fn read_range(
    conn: &mut Conn,
    table: &TableSchema,
    after: Option<&[Value]>,
    upper: Option<&[Value]>,
    limit: usize,
) -> SyncResult<Vec<Row>> {
    let (sql, params) = chunk_query(table, after, upper, Some(limit));
    // The key bounds are bound integers or literals of each column's own kind (`key`), which
    // the server compares as it orders the column; a table keyed by integers reads every chunk
    // through one prepared statement. The binary protocol, so values decode exactly as typed.
    let rows: Vec<mysql_async::Row> = conn
        .exec(sql, params)
        .await
        .map_err(|e| classify(&e).context(format!("read a chunk of `{}`", table.source)))?;
    rows.into_iter().map(|row| decode_row(table, row)).collect()
}

fn decode_row(table: &TableSchema, mut row: mysql_async::Row) -> SyncResult<Row> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| decode(column, row.take(i).unwrap_or(mysql_async::Value::NULL), Origin::Snapshot))
        .collect::<Result<Row, String>>()
        .map_err(|why| {
            SyncError::definite(
                format!("failed to decode a row of `{}`: {why}", table.source),
                "report this as a bug with the column's type",
            )
        })
}

/// `SELECT cols FROM t [WHERE filter AND key > after [AND key <= upper]] ORDER BY key [LIMIT n]`.
fn chunk_query(
    table: &TableSchema,
    after: Option<&[Value]>,
    upper: Option<&[Value]>,
    limit: Option<usize>,
) -> (String, Vec<mysql_async::Value>) {
    let mut params = Vec::new();
    let cols: Vec<String> = table.columns.iter().map(key::select_expr).collect();
    let keys: Vec<String> = table.key.iter().map(|&i| quote_ident(&table.columns[i].name)).collect();
    let mut sql = format!("SELECT {} FROM {}", cols.join(", "), quote_table(&table.source));
    let mut conditions = Vec::new();
    // The task's row filter, rendered from the same tree that selects binlog rows.
    if let Some(filter) = &table.filter {
        conditions.push(filter.sql());
    }
    if let Some(after) = after {
        conditions.push(key::tuple_predicate(table, after, ">", ">", &mut params));
    }
    if let Some(upper) = upper {
        conditions.push(key::tuple_predicate(table, upper, "<", "<=", &mut params));
    }
    if !conditions.is_empty() {
        sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
    }
    sql.push_str(&format!(" ORDER BY {}", keys.join(", ")));
    if let Some(limit) = limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    (sql, params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{
        event::TableId,
        schema::{Column, ColumnKind},
    };

    #[test]
    fn composite_keyset_predicate_is_spelt_out() {
        let col = |n: &str| Column {
            name: n.into(),
            target: n.into(),
            kind: ColumnKind::Int { unsigned: false, bytes: 4 },
            column_type: "int".into(),
            nullable: false,
            ordinal: 0,
            collation: None,
        };
        let table = TableSchema {
            source: TableId::new("d", "t"),
            target: TableId::new("d", "t"),
            columns: vec![col("a"), col("b"), col("v")],
            key: vec![0, 1],
            key_name: "PRIMARY".into(),
            ..Default::default()
        };
        let (one, two) = ([Value::Int(1), Value::Int(2)], [Value::Int(3), Value::Int(4)]);
        use mysql_async::Value::Int;
        assert_eq!(
            chunk_query(&table, Some(&one), None, Some(10)),
            (
                "SELECT `a`, `b`, `v` FROM `d`.`t` WHERE ((`a` > ?) OR (`a` = ? AND `b` > ?)) ORDER BY `a`, `b` LIMIT 10".into(),
                vec![Int(1), Int(1), Int(2)]
            )
        );
        assert_eq!(
            chunk_query(&table, Some(&one), Some(&two), Some(10)),
            (
                "SELECT `a`, `b`, `v` FROM `d`.`t` WHERE ((`a` > ?) OR (`a` = ? AND `b` > ?)) \
                 AND ((`a` < ?) OR (`a` = ? AND `b` <= ?)) ORDER BY `a`, `b` LIMIT 10"
                    .into(),
                vec![Int(1), Int(1), Int(2), Int(3), Int(3), Int(4)]
            )
        );
    }
}
