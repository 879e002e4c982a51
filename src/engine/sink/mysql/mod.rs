//! The `mysql` sink: MySQL or MariaDB as the destination.
//!
//! Writes are idempotent: an insert or update becomes `INSERT … ON DUPLICATE KEY UPDATE` of
//! the full after-image, a delete is a delete by key, and an update that changes the key
//! deletes the old key and upserts the new one. A batch is reduced to its net effect first
//! (each key's last write; see [`super::net_effect`]), and then each table's deletes and each
//! table's upserts go out as one multi-row statement each.
//!
//! With one lane, each batch and its checkpoint commit in one transaction. With N lanes, the
//! batch's writes are spread over N connections by a hash of (table, key) — every write of a
//! key lands in the same lane, in source order; a key change deletes the old key in the old
//! key's lane and writes the new one in the new key's lane — and the checkpoint is written
//! only after every lane has committed. A crash in between leaves the checkpoint behind the
//! data, and the replay from it is harmless because every write is idempotent. Each lane
//! checks the task's fencing epoch under a shared lock inside its transaction, so a claim by
//! a newer worker waits for running lanes and then stops this worker's next ones.
//!
//! Why this file is long: the statements of every write shape (upsert, delete, key change, the
//! relaxed forms for values a strict session refuses) with the checkpoint in the same
//! transaction, and their unit tests (a quarter of the file).

mod schema;
pub use schema::check_compatible;

use std::{collections::HashSet, sync::Arc};

use mysql_async::{Conn, TxOpts, prelude::Queryable};

use super::{Existing, Planned, Sink, Write, net_effect, spread, writes};
use crate::engine::{
    change::ChangeEvent,
    checkpoint::Checkpoint,
    event::{Row, TableId, Value},
    key,
    mysql_conn::{Endpoint, classify, push_sql_literal, quote_ident, quote_table},
    retry::{ErrorClass, SyncError, SyncResult},
    schema::{SchemaChange, TableSchema},
};

/// MySQL/MariaDB destination.
pub struct MysqlSink {
    endpoint: Endpoint,
    conn: Option<Conn>,
    lanes: usize,
    /// Connections of lanes 1..N (lane 0 is `conn`'s sibling too: all N lanes use these).
    lane_conns: Vec<Conn>,
    checkpoint_db: String,
    task: String,
    epoch: i64,
    /// How tables new to the task are treated (`conflictingTables`), remembered for tables
    /// created by DDL later.
    conflicting: Existing,
    /// How to run one statement in a non-strict session on this destination (learnt at the
    /// first connection).
    relaxed: Relaxed,
    /// Destination tables with a NOT NULL column without a default that the source's columns
    /// (as Ferry knows them now) lack: a column the source dropped further on in the binlog than
    /// a replay has come, which the replayed rows cannot fill. Rows go to them without strict
    /// mode (the column gets its type's implicit default) until the DDL that removes the column
    /// is replayed.
    lenient: HashSet<TableId>,
}

/// How the destination runs a single statement without strict mode: the ENUM error value (index
/// 0, which a non-strict source session can store) is refused by a strict session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Relaxed {
    /// MariaDB: `SET STATEMENT sql_mode = … FOR <statement>`.
    #[default]
    SetStatement,
    /// MySQL 8.0+: the `SET_VAR` optimizer hint (checked against documentation only).
    SetVarHint,
}

/// The destination session's `sql_mode` without strict mode, for [`Relaxed`] statements.
const RELAXED_SQL_MODE: &str = "NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION,ALLOW_INVALID_DATES";

impl Relaxed {
    /// `sql` (an `INSERT …`) run without strict mode.
    fn wrap(self, sql: &str) -> String {
        match self {
            Relaxed::SetStatement => format!("SET STATEMENT sql_mode = '{RELAXED_SQL_MODE}' FOR {sql}"),
            Relaxed::SetVarHint => match sql.strip_prefix("INSERT ") {
                Some(rest) => format!("INSERT /*+ SET_VAR(sql_mode = '{RELAXED_SQL_MODE}') */ {rest}"),
                None => sql.to_string(),
            },
        }
    }
}

impl MysqlSink {
    /// A sink writing to `endpoint`, keeping checkpoints in `checkpoint_db`.
    pub fn new(endpoint: Endpoint, checkpoint_db: String, lanes: usize) -> Self {
        Self {
            endpoint,
            conn: None,
            lanes: lanes.max(1),
            lane_conns: Vec::new(),
            checkpoint_db,
            task: String::new(),
            epoch: 0,
            conflicting: Existing::Check,
            relaxed: Relaxed::default(),
            lenient: HashSet::new(),
        }
    }

    /// Learns whether `tables` need lenient writes ([`MysqlSink::lenient`]).
    async fn learn_lenient(&mut self, tables: &[&TableSchema]) -> SyncResult<()> {
        for &table in tables {
            let conn = self.conn().await?;
            let unfillable = schema::unfillable_columns(conn, table).await?;
            if unfillable.is_empty() {
                self.lenient.remove(&table.target);
            } else {
                tracing::info!(table = %table.target, columns = %unfillable.join(", "), "destination columns the source no longer has and rows cannot fill (NOT NULL without a default): written with their implicit default until the DDL that drops them is replayed");
                self.lenient.insert(table.target.clone());
            }
        }
        Ok(())
    }

    async fn conn(&mut self) -> SyncResult<&mut Conn> {
        if self.conn.is_none() {
            let mut conn = self.endpoint.connect().await?;
            // UTC so TIMESTAMP values land exactly; zero dates and invalid-but-stored dates
            // allowed, strict otherwise so nothing is truncated silently; 0 in an
            // AUTO_INCREMENT column stays 0.
            conn.query_drop(SESSION_SETUP)
                .await
                .map_err(|e| classify(&e).context(format!("set up the session on {}", self.endpoint)))?;
            let version: Option<String> = conn
                .query_first("SELECT VERSION()")
                .await
                .map_err(|e| classify(&e).context(format!("read the version of {}", self.endpoint)))?;
            self.relaxed = if version.unwrap_or_default().to_ascii_lowercase().contains("mariadb") {
                Relaxed::SetStatement
            } else {
                Relaxed::SetVarHint
            };
            self.conn = Some(conn);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| SyncError::new(ErrorClass::Connection, "no destination connection"))
    }

    /// Drops the connection after a failure, so the next call reconnects.
    fn on_error(&mut self, e: SyncError) -> SyncError {
        if e.class != ErrorClass::Definite {
            self.conn = None;
            self.lane_conns.clear();
        }
        e
    }

    async fn apply_inner(&mut self, batch: &[ChangeEvent], checkpoint: &Checkpoint) -> SyncResult<()> {
        let statements = if self.lanes > 1 && batch.len() > 1 {
            match self.apply_lanes(batch).await {
                Ok(()) => Vec::new(),
                // Lanes are transactions of their own on the same tables; InnoDB's gap and
                // next-key locks can deadlock them (a delete of an absent key against an insert
                // next to it), and a replay would meet the same locks again. This batch is then
                // written in one transaction with its checkpoint: what some lanes committed is
                // written again, idempotently, and nothing can contend.
                Err(LaneFailure::Contended(e)) => {
                    tracing::info!(error = %e.message, events = batch.len(), "lanes contended for locks; writing the batch in one transaction");
                    self.lane_conns.clear();
                    statements(&net_effect(writes(batch)), self.relaxed, &self.lenient)
                }
                Err(LaneFailure::Failed(e)) => return Err(e),
            }
        } else {
            statements(&net_effect(writes(batch)), self.relaxed, &self.lenient)
        };
        let task = self.task.clone();
        let epoch = self.epoch;
        let checkpoint_table = format!("{}.ferry_checkpoint", quote_ident(&self.checkpoint_db));
        let conn = self.conn().await?;
        let mut tx = conn
            .start_transaction(TxOpts::default())
            .await
            .map_err(|e| classify(&e).context("begin a destination transaction"))?;
        for sql in statements {
            tx.query_drop(&sql)
                .await
                .map_err(|e| classify(&e).context(format!("apply `{}`", first_words(&sql))))?;
        }
        tx.exec_drop(
            format!("UPDATE {checkpoint_table} SET state = ?, updated_at = NOW(6) WHERE task = ? AND epoch = ?"),
            (checkpoint.to_json(), task.as_str(), epoch),
        )
        .await
        .map_err(|e| classify(&e).context("write the checkpoint"))?;
        if tx.affected_rows() == 0 {
            let _ = tx.rollback().await;
            return Err(schema::fenced(&task, epoch));
        }
        tx.commit()
            .await
            .map_err(|e| classify(&e).context("commit a destination transaction"))?;
        Ok(())
    }
}

impl MysqlSink {
    /// Writes `batch` over the lanes, each in its own transaction, all committed on return.
    async fn apply_lanes(&mut self, batch: &[ChangeEvent]) -> Result<(), LaneFailure> {
        // Text keys compare by their collation here: keys the destination holds as one row
        // take one lane (see `key`).
        let per_lane = spread(net_effect(writes(batch)), self.lanes, true);
        while self.lane_conns.len() < self.lanes {
            let mut conn = self.endpoint.connect().await?;
            conn.query_drop(SESSION_SETUP)
                .await
                .map_err(|e| classify(&e).context(format!("set up a lane session on {}", self.endpoint)))?;
            self.lane_conns.push(conn);
        }
        let checkpoint_table = format!("{}.ferry_checkpoint", quote_ident(&self.checkpoint_db));
        let (task, epoch) = (self.task.as_str(), self.epoch);
        let relaxed = self.relaxed;
        let lenient = &self.lenient;
        let lanes = self.lane_conns.iter_mut().zip(per_lane).filter(|(_, w)| !w.is_empty());
        let results = futures::future::join_all(lanes.map(|(conn, w)| {
            let sql = statements(&w, relaxed, lenient);
            let checkpoint_table = checkpoint_table.clone();
            async move {
                let mut tx = conn
                    .start_transaction(TxOpts::default())
                    .await
                    .map_err(|e| classify(&e).context("begin a lane transaction"))?;
                let current: Option<i64> = tx
                    .exec_first(
                        format!("SELECT epoch FROM {checkpoint_table} WHERE task = ? LOCK IN SHARE MODE"),
                        (task,),
                    )
                    .await
                    .map_err(|e| classify(&e).context("check the fencing epoch"))?;
                if current != Some(epoch) {
                    let _ = tx.rollback().await;
                    return Err(schema::fenced(task, epoch).into());
                }
                for sql in sql {
                    if let Err(e) = tx.query_drop(&sql).await {
                        let lock = lock_conflict(&e);
                        let e = classify(&e).context(format!("apply `{}`", first_words(&sql)));
                        return Err(if lock { LaneFailure::Contended(e) } else { LaneFailure::Failed(e) });
                    }
                }
                tx.commit().await.map_err(|e| {
                    let lock = lock_conflict(&e);
                    let e = classify(&e).context("commit a lane transaction");
                    if lock { LaneFailure::Contended(e) } else { LaneFailure::Failed(e) }
                })
            }
        }))
        .await;
        // A definite error wins over a retryable one: a fenced worker must stop, not retry;
        // any other failure wins over contention, which only asks for the batch again.
        let rank = |f: &LaneFailure| match f {
            LaneFailure::Failed(e) if e.class == ErrorClass::Definite => 2,
            LaneFailure::Failed(_) => 1,
            LaneFailure::Contended(_) => 0,
        };
        let mut failure: Option<LaneFailure> = None;
        for e in results.into_iter().filter_map(Result::err) {
            if failure.as_ref().is_none_or(|f| rank(&e) > rank(f)) {
                failure = Some(e);
            }
        }
        failure.map_or(Ok(()), Err)
    }
}

/// Why writing a batch over the lanes failed.
enum LaneFailure {
    /// A lane met a deadlock or a lock wait timeout: the batch can be written in one transaction.
    Contended(SyncError),
    Failed(SyncError),
}

impl From<SyncError> for LaneFailure {
    fn from(e: SyncError) -> Self {
        LaneFailure::Failed(e)
    }
}

/// A deadlock (1213) or lock wait timeout (1205).
fn lock_conflict(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(s) if s.code == 1213 || s.code == 1205)
}

/// Session settings of every destination connection: UTC so TIMESTAMP values land exactly;
/// zero dates and invalid-but-stored dates allowed, strict otherwise so nothing is truncated
/// silently; 0 in an AUTO_INCREMENT column stays 0.
const SESSION_SETUP: &str = "SET NAMES utf8mb4, time_zone = '+00:00', foreign_key_checks = 0, \
     sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION,ALLOW_INVALID_DATES'";

impl Sink for MysqlSink {
    async fn prepare(&mut self, tables: &[Arc<TableSchema>], existing: Existing) -> SyncResult<Vec<crate::engine::event::TableId>> {
        // What a table created by DDL later meets in the destination: the task's setting.
        if matches!(existing, Existing::Check | Existing::AsIs) {
            self.conflicting = existing;
        }
        let result = async {
            let conn = self.conn().await?;
            let created = schema::prepare_tables(conn, tables, existing).await?;
            let tables: Vec<&TableSchema> = tables.iter().map(Arc::as_ref).collect();
            self.learn_lenient(&tables).await?;
            Ok(created)
        }
        .await;
        result.map_err(|e| self.on_error(e))
    }

    async fn apply_ddl(&mut self, change: &SchemaChange) -> SyncResult<()> {
        let conflicting = self.conflicting;
        let result = async {
            let conn = self.conn().await?;
            schema::apply_ddl(conn, change, conflicting).await?;
            match change {
                SchemaChange::Drop(table) => {
                    self.lenient.remove(&table.target);
                }
                other if self.lenient.contains(&other.table().target) || matches!(other, SchemaChange::Create(_)) => {
                    self.learn_lenient(&[other.table()]).await?;
                }
                _ => {}
            }
            Ok(())
        }
        .await;
        result.map_err(|e| self.on_error(e))
    }

    async fn claim(&mut self, task: &str) -> SyncResult<Checkpoint> {
        let db = self.checkpoint_db.clone();
        // Once per worker: a retry keeps the epoch, so it cannot take the task from a newer worker.
        let held = (self.epoch != 0 && self.task == task).then_some(self.epoch);
        let conn = self.conn().await?;
        let result = schema::claim(conn, &db, task, held).await;
        match result {
            Ok((epoch, checkpoint)) => {
                self.task = task.to_string();
                self.epoch = epoch;
                Ok(checkpoint)
            }
            Err(e) => Err(self.on_error(e)),
        }
    }

    async fn apply(&mut self, batch: &[ChangeEvent], checkpoint: &Checkpoint) -> SyncResult<()> {
        let result = self.apply_inner(batch, checkpoint).await;
        result.map_err(|e| self.on_error(e))
    }

    async fn exists(&mut self, table: &TableSchema) -> SyncResult<bool> {
        let result = async {
            let conn = self.conn().await?;
            Ok(!schema::destination_columns(conn, &table.target).await?.is_empty())
        }
        .await;
        result.map_err(|e| self.on_error(e))
    }
}

/// One statement to run, values inline as literals ([`sql_literal`]). Multi-row writes go
/// over the text protocol: no prepare round trip, and no server-side statement of thousands
/// of parameters to cache per connection (which cost hundreds of MB when row counts vary).
type Statement = String;

/// Statements for `writes`, merging runs of the same kind on the same table, each at most
/// [`MAX_STATEMENT_BYTES`] long.
fn statements(writes: &[Planned<'_>], relaxed: Relaxed, lenient: &HashSet<TableId>) -> Vec<Statement> {
    let mut statements = Vec::new();
    let mut i = 0;
    while i < writes.len() {
        let (table, first, _) = &writes[i];
        let is_upsert = matches!(first, Write::Upsert(_));
        let mut j = i;
        let mut rows = Vec::new();
        while j < writes.len() {
            let (t, w, _) = &writes[j];
            match w {
                Write::Upsert(r) if is_upsert && Arc::ptr_eq(t, table) => rows.push(*r),
                Write::Delete(r) if !is_upsert && Arc::ptr_eq(t, table) => rows.push(*r),
                _ => break,
            }
            j += 1;
        }
        if is_upsert {
            // Rows holding the ENUM error value go in statements of their own, run without
            // strict mode; every other row keeps the strict session's protection.
            let (odd, plain): (Vec<&Row>, Vec<&Row>) = if lenient.contains(&table.target) {
                (rows, Vec::new())
            } else {
                rows.iter().partition(|r| r.iter().any(|v| matches!(v, Value::Enum(0, _))))
            };
            upsert(table, &plain, &mut statements);
            let at = statements.len();
            upsert(table, &odd, &mut statements);
            for sql in &mut statements[at..] {
                *sql = relaxed.wrap(sql);
            }
        } else {
            delete(table, &rows, &mut statements);
        }
        i = j;
    }
    statements
}

/// Longest statement text; far below every server's default `max_allowed_packet` (16 MB).
const MAX_STATEMENT_BYTES: usize = 4 << 20;

/// Appends `head` + comma-separated `items` + `tail` statements, each within the size limit.
fn pack(head: &str, items: impl Iterator<Item = String>, separator: &str, tail: &str, out: &mut Vec<Statement>) {
    let mut sql = String::new();
    for item in items {
        if !sql.is_empty() && sql.len() + item.len() + tail.len() > MAX_STATEMENT_BYTES {
            sql.push_str(tail);
            out.push(std::mem::take(&mut sql));
        }
        if sql.is_empty() {
            sql.push_str(head);
        } else {
            sql.push_str(separator);
        }
        sql.push_str(&item);
    }
    if !sql.is_empty() {
        sql.push_str(tail);
        out.push(sql);
    }
}

fn upsert(table: &TableSchema, rows: &[&Row], out: &mut Vec<Statement>) {
    if rows.is_empty() {
        return;
    }
    let cols: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.target)).collect();
    // Every column, the key's too: where the destination holds the row under a key it
    // considers equal but spelt otherwise (`'a'` for `'A'` under a `_ci` collation, `'a '` for
    // `'a'` under PAD SPACE), the row ends byte-identical to the source's.
    let updates: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("{0} = VALUES({0})", quote_ident(&c.target)))
        .collect();
    let head = format!("INSERT INTO {} ({}) VALUES ", quote_table(&table.target), cols.join(", "));
    let tail = format!(" ON DUPLICATE KEY UPDATE {}", updates.join(", "));
    let tuples = rows.iter().map(|r| {
        let mut tuple = String::with_capacity(16 * r.len());
        tuple.push('(');
        for (i, value) in r.iter().enumerate() {
            if i > 0 {
                tuple.push(',');
            }
            push_sql_literal(&mut tuple, value);
        }
        tuple.push(')');
        tuple
    });
    pack(&head, tuples, ", ", &tail, out);
}

/// Deletes by key, each key value written as a literal the server compares with the column
/// the way it orders it (`key::literal`): a BIT key as a number (`bit = X'F9'` matches nothing),
/// a DECIMAL unquoted (a string would compare as a DOUBLE), an ENUM by its index.
fn delete(table: &TableSchema, rows: &[&Row], out: &mut Vec<Statement>) {
    let keys: Vec<String> = table.key.iter().map(|&i| quote_ident(&table.columns[i].target)).collect();
    if keys.len() == 1 {
        let head = format!("DELETE FROM {} WHERE {} IN (", quote_table(&table.target), keys[0]);
        let column = &table.columns[table.key[0]];
        let values = rows.iter().map(|r| key::literal(column, &r[table.key[0]]));
        pack(&head, values, ",", ")", out);
    } else {
        let head = format!("DELETE FROM {} WHERE ", quote_table(&table.target));
        let terms = rows.iter().map(|r| {
            let parts: Vec<String> = keys
                .iter()
                .zip(&table.key)
                .map(|(k, &i)| format!("{k} = {}", key::literal(&table.columns[i], &r[i])))
                .collect();
            format!("({})", parts.join(" AND "))
        });
        pack(&head, terms, " OR ", "", out);
    }
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{
        event::{RowChange, TableId, Value},
        mysql_conn::sql_literal,
        schema::{Column, ColumnKind},
    };

    fn table() -> Arc<TableSchema> {
        let col = |n: &str, o| Column {
            name: n.into(),
            target: n.into(),
            kind: ColumnKind::Int { unsigned: false, bytes: 4 },
            column_type: "int".into(),
            nullable: false,
            ordinal: o,
            collation: None,
        };
        Arc::new(TableSchema {
            source: TableId::new("s", "t"),
            target: TableId::new("d", "t`x"),
            columns: vec![col("id", 0), col("v", 1)],
            key: vec![0],
            key_name: "PRIMARY".into(),
            ..Default::default()
        })
    }

    fn ev(t: &Arc<TableSchema>, change: RowChange) -> ChangeEvent {
        ChangeEvent {
            table: t.clone(),
            change,
            commit_ts: 0,
            version: 0,
        }
    }

    #[test]
    fn a_batch_reduces_to_each_keys_last_write_deletes_first() {
        let t = table();
        let row = |id, v| vec![Value::Int(id), Value::Int(v)];
        let batch = vec![
            ev(&t, RowChange::Insert { after: row(1, 10) }),
            ev(&t, RowChange::Insert { after: row(2, 20) }),
            ev(
                &t,
                RowChange::Update {
                    before: row(1, 10),
                    after: row(1, 11),
                },
            ),
            // Key change 2 -> 3, then 3 -> 2 again: 3 ends deleted, 2 upserted with 22.
            ev(
                &t,
                RowChange::Update {
                    before: row(2, 20),
                    after: row(3, 21),
                },
            ),
            ev(
                &t,
                RowChange::Update {
                    before: row(3, 21),
                    after: row(2, 22),
                },
            ),
            ev(&t, RowChange::Delete { before: row(1, 11) }),
            ev(&t, RowChange::Insert { after: row(1, 12) }),
        ];
        let sqls = statements(&net_effect(writes(&batch)), Relaxed::SetStatement, &HashSet::new());
        assert_eq!(
            sqls,
            vec![
                "DELETE FROM `d`.`t``x` WHERE `id` IN (3)".to_string(),
                "INSERT INTO `d`.`t``x` (`id`, `v`) VALUES (1,12), (2,22) ON DUPLICATE KEY UPDATE `id` = VALUES(`id`), `v` = VALUES(`v`)"
                    .to_string(),
            ]
        );
    }

    #[test]
    fn the_enum_error_value_is_written_by_index_without_strict_mode() {
        let mut t = (*table()).clone();
        t.columns[1].kind = ColumnKind::Enum(vec!["a".into()]);
        let t = Arc::new(t);
        let batch = vec![
            ev(
                &t,
                RowChange::Insert {
                    after: vec![Value::Int(1), Value::Enum(1, "a".into())],
                },
            ),
            ev(
                &t,
                RowChange::Insert {
                    after: vec![Value::Int(2), Value::Enum(0, String::new())],
                },
            ),
        ];
        let sqls = statements(&net_effect(writes(&batch)), Relaxed::SetStatement, &HashSet::new());
        assert_eq!(sqls.len(), 2, "{sqls:?}");
        assert!(
            sqls[0].starts_with("INSERT INTO `d`.`t``x` (`id`, `v`) VALUES (1,'a')"),
            "{}",
            sqls[0]
        );
        assert!(
            sqls[1].starts_with("SET STATEMENT sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION,ALLOW_INVALID_DATES' FOR INSERT INTO `d`.`t``x` (`id`, `v`) VALUES (2,0)"),
            "{}",
            sqls[1]
        );
        let hinted = Relaxed::SetVarHint.wrap("INSERT INTO t VALUES (0)");
        assert_eq!(
            hinted,
            "INSERT /*+ SET_VAR(sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION,ALLOW_INVALID_DATES') */ INTO t VALUES (0)"
        );
    }

    #[test]
    fn literals_are_quoted_escaped_and_exact() {
        use crate::engine::event::DateTime;
        assert_eq!(
            sql_literal(&Value::Text("it's a \\ \"q\"\n".into())),
            "'it\\'s a \\\\ \\\"q\\\"\\n'"
        );
        assert_eq!(sql_literal(&Value::Bytes(vec![0xff, 0x00])), "X'FF00'");
        assert_eq!(sql_literal(&Value::Bytes(vec![])), "X''");
        assert_eq!(sql_literal(&Value::Null), "NULL");
        assert_eq!(sql_literal(&Value::Double(f64::MIN_POSITIVE / 4.0)), "5.562684646268003e-309");
        assert_eq!(sql_literal(&Value::Float(0.1)), "1.0000000149011612e-1");
        assert_eq!(sql_literal(&Value::Float(f32::MAX)), "3.4028234663852886e38");
        assert_eq!(sql_literal(&Value::Decimal("-12.50".into())), "'-12.50'");
        assert_eq!(
            sql_literal(&Value::DateTime(DateTime::new(2024, 2, 29, 23, 59, 59, 5))),
            "'2024-02-29 23:59:59.000005'"
        );
    }

    #[test]
    fn runs_merge_and_key_changes_delete_first() {
        let t = table();
        let batch = vec![
            ev(
                &t,
                RowChange::Insert {
                    after: vec![Value::Int(1), Value::Int(10)],
                },
            ),
            ev(
                &t,
                RowChange::Insert {
                    after: vec![Value::Int(2), Value::Int(20)],
                },
            ),
            ev(
                &t,
                RowChange::Update {
                    before: vec![Value::Int(2), Value::Int(20)],
                    after: vec![Value::Int(3), Value::Int(20)],
                },
            ),
            ev(
                &t,
                RowChange::Delete {
                    before: vec![Value::Int(1), Value::Int(10)],
                },
            ),
        ];
        let sqls = statements(&writes(&batch), Relaxed::SetStatement, &HashSet::new());
        assert_eq!(sqls.len(), 4, "{sqls:?}");
        assert!(
            sqls[0].starts_with(
                "INSERT INTO `d`.`t``x` (`id`, `v`) VALUES (1,10), (2,20) ON DUPLICATE KEY UPDATE `id` = VALUES(`id`), `v` = VALUES(`v`)"
            ),
            "{}",
            sqls[0]
        );
        assert_eq!(sqls[1], "DELETE FROM `d`.`t``x` WHERE `id` IN (2)");
        assert!(sqls[2].starts_with("INSERT INTO"));
        assert_eq!(sqls[3], "DELETE FROM `d`.`t``x` WHERE `id` IN (1)");
    }
}
