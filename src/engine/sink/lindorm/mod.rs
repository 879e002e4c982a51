//! The `lindorm` sink: LindormTable (the wide table engine) through Lindorm SQL over the MySQL
//! protocol. Statement text comes from [`dialect`]; this module owns the connections, the
//! session probe, the order of writes and the checkpoint.
//!
//! Lindorm has no multi-row transactions, so a batch cannot commit with its checkpoint. Instead
//! every write is idempotent and versioned: an upsert or delete carries `_l_ts_` = the version
//! the engine derived from the event's source order, which is reproduced exactly when a batch
//! is replayed from the checkpoint. Data is written first, the checkpoint after every lane has
//! finished; a crash in between replays writes that land with the same versions and change
//! nothing.
//!
//! The checkpoint lives in a Lindorm table, `<checkpointDatabase>.ferry_checkpoint`, keyed by
//! (task, epoch): a worker claims the task by writing the row of the next epoch and only ever
//! writes its own row, so a stale worker cannot overwrite a newer worker's checkpoint. Without
//! compare-and-set, two workers claiming at the same instant could both take one epoch; the
//! `owner` column (a random id per worker) tells them apart on the re-read, and every batch
//! starts by checking that this worker still owns the newest epoch. Between that check and the
//! batch's writes a newer worker may start; because both write the same events with the same
//! versions, the overlap is harmless. The operator's Lease (one writer per task) removes even
//! that window.
//!
//! Connections are single `Conn`s, never pooled: Lindorm has no `COM_RESET_CONNECTION` (and no
//! `COM_CHANGE_USER`), so nothing may reset them; statements use the text protocol only.

pub mod dialect;

use std::sync::Arc;

use mysql_async::{Conn, prelude::Queryable};

use self::dialect::{Dialect, Escapes, Server};
use super::{Planned, Sink, Write, net_effect, spread, writes};
use crate::engine::{
    checkpoint::Checkpoint,
    event::{ChangeEvent, Row},
    mysql_conn::{Endpoint, classify},
    retry::{ErrorClass, SyncError, SyncResult},
    schema::{SchemaChange, TableSchema},
};

/// Largest statement Ferry sends, and so the client's packet limit (Lindorm's request limit).
const MAX_PACKET: usize = 64 << 20;

/// Connection options for a Lindorm endpoint: the packet limit is given, not read from the
/// server (`SELECT @@max_allowed_packet` is not documented for Lindorm).
pub fn lindorm_opts(endpoint: &Endpoint) -> mysql_async::OptsBuilder {
    endpoint.opts().max_allowed_packet(Some(MAX_PACKET))
}

/// LindormTable destination.
pub struct LindormSink {
    endpoint: Endpoint,
    lanes: usize,
    /// Lane connections; lane 0 also does schema and checkpoint work.
    conns: Vec<Conn>,
    dialect: Option<Dialect>,
    checkpoint_ns: String,
    task: String,
    epoch: i64,
    /// Random id of this worker, written with its claim.
    owner: String,
}

impl LindormSink {
    /// A sink writing to `endpoint` over `lanes` connections, keeping checkpoints in the
    /// namespace `checkpoint_ns`.
    pub fn new(endpoint: Endpoint, checkpoint_ns: String, lanes: usize) -> Self {
        Self {
            endpoint,
            lanes: lanes.max(1),
            conns: Vec::new(),
            dialect: None,
            checkpoint_ns,
            task: String::new(),
            epoch: 0,
            owner: format!("{:016x}", rand::random::<u64>()),
        }
    }

    /// Opens one connection and sets up its session: UTC where the server allows choosing
    /// (LindormTable 2.7.6+; TIMESTAMP values are written as epoch milliseconds, which do not
    /// depend on it, but string reads do).
    async fn open(&self) -> SyncResult<Conn> {
        let mut conn = self.endpoint.connect_with(lindorm_opts(&self.endpoint)).await?;
        if conn.query_drop("SET @@time_zone = 'UTC'").await.is_err() && conn.query_drop("SET @@time_zone = '+00:00'").await.is_err() {
            tracing::warn!(
                destination = %self.endpoint,
                "the destination does not accept SET @@time_zone (LindormTable before 2.7.6 reads TIMESTAMP strings as UTC+8); \
                 values are written as epoch milliseconds and stay exact"
            );
        }
        Ok(conn)
    }

    /// Connects the lanes that are not connected and learns the dialect on the first one.
    async fn connect(&mut self) -> SyncResult<()> {
        while self.conns.len() < self.lanes {
            let conn = self.open().await?;
            self.conns.push(conn);
        }
        if self.dialect.is_none() {
            let dialect = probe(&mut self.conns[0]).await?;
            tracing::info!(destination = %self.endpoint, ?dialect, "destination session");
            self.dialect = Some(dialect);
        }
        Ok(())
    }

    /// Drops the connections after a failure, so the next call reconnects.
    fn on_error(&mut self, e: SyncError) -> SyncError {
        if e.class != ErrorClass::Definite {
            self.conns.clear();
        }
        e
    }

    fn dialect(&self) -> Dialect {
        self.dialect.unwrap_or_default()
    }

    fn checkpoint_table(&self) -> String {
        format!("{}.{}", dialect::ident(&self.checkpoint_ns), dialect::ident(CHECKPOINT_TABLE))
    }

    /// The checkpoint rows of the task: (epoch, owner, state), newest epoch first.
    async fn checkpoint_rows(&mut self) -> SyncResult<Vec<(i64, String, String)>> {
        let sql = format!(
            "SELECT `epoch`, `owner`, `state` FROM {} WHERE `task` = {}",
            self.checkpoint_table(),
            quote_plain(self.dialect(), &self.task)?
        );
        let mut rows: Vec<(i64, Option<String>, Option<String>)> = self.conns[0]
            .query(sql)
            .await
            .map_err(|e| classify(&e).context(format!("read the checkpoint of task {}", self.task)))?;
        rows.sort_by_key(|r| std::cmp::Reverse(r.0));
        Ok(rows
            .into_iter()
            .map(|(e, o, s)| (e, o.unwrap_or_default(), s.unwrap_or_default()))
            .collect())
    }

    /// Fails definitely unless this worker owns the newest epoch of the task.
    async fn check_fence(&mut self) -> SyncResult<()> {
        let rows = self.checkpoint_rows().await?;
        match rows.first() {
            Some((epoch, owner, _)) if *epoch == self.epoch && *owner == self.owner => Ok(()),
            _ => Err(fenced(&self.task, self.epoch)),
        }
    }

    async fn write_checkpoint(&mut self, state: &str) -> SyncResult<()> {
        let d = self.dialect();
        let verb = dialect::write_verb(d);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |t| t.as_millis() as i64);
        let sql = format!(
            "{verb} INTO {} (`task`, `epoch`, `owner`, `state`, `updated_at`) VALUES ({}, {}, {}, {}, {now})",
            self.checkpoint_table(),
            quote_plain(d, &self.task)?,
            self.epoch,
            quote_plain(d, &self.owner)?,
            quote_plain(d, state)?,
        );
        self.conns[0]
            .query_drop(sql)
            .await
            .map_err(|e| classify(&e).context(format!("write the checkpoint of task {}", self.task)))
    }

    async fn claim_inner(&mut self, task: &str) -> SyncResult<Checkpoint> {
        self.connect().await?;
        let d = self.dialect();
        let ns = self.checkpoint_ns.clone();
        let ctx = |e: mysql_async::Error| classify(&e).context(format!("create the checkpoint table in namespace {ns}"));
        self.conns[0].query_drop(dialect::create_database(&ns)).await.map_err(ctx)?;
        self.conns[0]
            .query_drop(dialect::create_checkpoint_table(d, &ns))
            .await
            .map_err(ctx)?;
        // A retry keeps its epoch, so it cannot take the task from a newer worker.
        let retrying = self.epoch != 0 && self.task == task;
        self.task = task.to_string();
        let rows = self.checkpoint_rows().await?;
        let state = if retrying {
            match rows.first() {
                Some((epoch, owner, state)) if *epoch == self.epoch && *owner == self.owner => state.clone(),
                _ => return Err(fenced(task, self.epoch)),
            }
        } else {
            let (newest, state) = rows.first().map_or((0, "{}".to_string()), |(e, _, s)| (*e, s.clone()));
            self.epoch = newest + 1;
            self.write_checkpoint(&state).await?;
            // Two workers claiming at once may both have written this epoch: the last write wins.
            self.check_fence().await?;
            // Rows of epochs before the previous one are no longer read.
            for (epoch, _, _) in rows.iter().skip(1) {
                let sql = format!(
                    "DELETE FROM {} WHERE `task` = {} AND `epoch` = {epoch}",
                    self.checkpoint_table(),
                    quote_plain(d, task)?
                );
                if let Err(e) = self.conns[0].query_drop(sql).await {
                    tracing::debug!(error = %e, epoch, "could not delete an old checkpoint row");
                }
            }
            state
        };
        Checkpoint::from_json(&state).map_err(|e| {
            SyncError::definite(
                format!("the stored checkpoint of {task} cannot be read: {e}"),
                format!(
                    "delete the rows of task '{task}' from {}.{CHECKPOINT_TABLE} to start the task over",
                    self.checkpoint_ns
                ),
            )
        })
    }

    async fn apply_inner(&mut self, batch: &[ChangeEvent], checkpoint: &Checkpoint) -> SyncResult<()> {
        self.connect().await?;
        self.check_fence().await?;
        let d = self.dialect();
        let per_lane = spread(net_effect(writes(batch)), self.lanes, false);
        let mut plans = Vec::with_capacity(self.lanes);
        for lane in per_lane {
            plans.push(plan(d, &lane)?);
        }
        let results = futures::future::join_all(self.conns.iter_mut().zip(plans).filter(|(_, p)| !p.is_empty()).map(
            |(conn, statements)| async move {
                for (sql, table) in statements {
                    conn.query_drop(sql)
                        .await
                        .map_err(|e| classify(&e).context(format!("write to `{table}`")))?;
                }
                Ok::<(), SyncError>(())
            },
        ))
        .await;
        if let Some(e) = results.into_iter().find_map(Result::err) {
            return Err(e);
        }
        self.write_checkpoint(&checkpoint.to_json()).await
    }
}

/// Name of the checkpoint table in the checkpoint namespace.
pub const CHECKPOINT_TABLE: &str = "ferry_checkpoint";

/// Statements of one lane, in order, each with its table for error messages: a run of upserts
/// to one table (distinct keys: `writes` is a batch's net effect) becomes multi-row UPSERTs at
/// the run's newest version; every delete is its own statement at its own version.
fn plan(d: Dialect, writes: &[Planned<'_>]) -> SyncResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < writes.len() {
        let (table, first, version) = &writes[i];
        let named = table.target.to_string();
        if let Write::Delete(row) = first {
            out.push((dialect::delete(d, table, row, *version).map_err(|e| refused(table, &e))?, named));
            i += 1;
            continue;
        }
        let mut j = i;
        let mut newest = *version;
        let mut rows: Vec<&Row> = Vec::new();
        while let Some((t, Write::Upsert(row), v)) = writes.get(j)
            && Arc::ptr_eq(t, table)
        {
            rows.push(row);
            newest = newest.max(*v);
            j += 1;
        }
        for sql in dialect::upsert(d, table, &rows, newest).map_err(|e| refused(table, &e))? {
            out.push((sql, named.clone()));
        }
        i = j;
    }
    Ok(out)
}

fn refused(table: &TableSchema, why: &str) -> SyncError {
    SyncError::definite(
        format!("a row of `{}` cannot be written to Lindorm: {why}", table.source),
        "see docs/lindorm.md for what Lindorm can store; deselect the table or column",
    )
}

/// Asks the session how it reads string literals and what server it is.
async fn probe(conn: &mut Conn) -> SyncResult<Dialect> {
    let version: Option<String> = conn.query_first("SELECT VERSION()").await.ok().flatten();
    let server = if version.as_deref().is_some_and(|v| v.contains("MariaDB")) {
        tracing::warn!(
            version = version.as_deref().unwrap_or_default(),
            "the lindorm destination is a MariaDB server: writing as a stand-in (REPLACE, MariaDB types); use this for tests only"
        );
        Server::MariaDbStandIn
    } else {
        Server::Lindorm
    };
    // 'a\\b' reads back as three characters where backslash escapes apply, four where not.
    let escapes = match conn.query_first::<Vec<u8>, _>("SELECT 'a\\\\b'").await {
        Ok(Some(v)) if v == b"a\\b" => Escapes::Backslash,
        Ok(Some(v)) if v == b"a\\\\b" => Escapes::QuoteOnly,
        other => {
            tracing::warn!(
                result = ?other.map_err(|e| e.to_string()),
                "could not learn whether the destination reads backslash escapes; strings containing a backslash will be refused"
            );
            Escapes::Unknown
        }
    };
    Ok(Dialect { escapes, server })
}

/// A string literal of Ferry's own (task name, owner, checkpoint state).
fn quote_plain(d: Dialect, s: &str) -> SyncResult<String> {
    dialect::quote(d, s).map_err(|why| SyncError::definite(format!("cannot write `{s}` to Lindorm: {why}"), "rename the task"))
}

/// Columns (name, type) of the destination table as `DESCRIBE` gives them, `None` when it does
/// not exist (or the server does not describe it). Fails only on a lost connection.
pub async fn describe(conn: &mut Conn, table: &TableSchema) -> SyncResult<Option<Vec<(String, String)>>> {
    let rows: Vec<mysql_async::Row> = match conn.query(dialect::describe(table)).await {
        Ok(rows) => rows,
        Err(e) => {
            let e = classify(&e);
            if e.class == crate::engine::retry::ErrorClass::Connection {
                return Err(e);
            }
            return Ok(None);
        }
    };
    let Some(first) = rows.first() else { return Ok(None) };
    let header: Vec<String> = first.columns_ref().iter().map(|c| c.name_str().into_owned()).collect();
    let values: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| {
            mysql_async::Row::unwrap(row)
                .into_iter()
                .map(|v| match v {
                    mysql_async::Value::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
                    other => other.as_sql(true),
                })
                .collect()
        })
        .collect();
    Ok(Some(dialect::described_columns(&header, &values)))
}

/// The error of a worker whose epoch is no longer the task's.
fn fenced(task: &str, epoch: i64) -> SyncError {
    SyncError::definite(
        format!("task {task} was claimed by another worker (epoch {epoch} is stale); this worker stopped"),
        "run one worker per task; the newer worker carries on from the checkpoint",
    )
}

impl LindormSink {
    /// Columns (name, type) of the destination table, `None` when it does not exist (or the
    /// server does not describe it).
    async fn existing_columns(&mut self, table: &TableSchema) -> SyncResult<Option<Vec<(String, String)>>> {
        self.connect().await?;
        describe(&mut self.conns[0], table).await
    }

    async fn apply_ddl_inner(&mut self, change: &SchemaChange) -> SyncResult<()> {
        self.connect().await?;
        let sql = match change {
            SchemaChange::Create(table) => {
                return self
                    .prepare_tables(std::slice::from_ref(table), super::Existing::AsIs)
                    .await
                    .map(drop);
            }
            SchemaChange::Drop(table) => vec![dialect::drop_table(table)],
            SchemaChange::Truncate(table) => vec![dialect::truncate_table(table)],
            // The pipeline copies the table again; nothing to change in its shape.
            SchemaChange::KeepColumns(_) | SchemaChange::Recopy(_) => Vec::new(),
            SchemaChange::AddColumns { table, added } => {
                let existing = self.existing_columns(table).await?.unwrap_or_default();
                let missing: Vec<usize> = added
                    .iter()
                    .map(|(i, _)| *i)
                    .filter(|&i| !existing.iter().any(|(n, _)| *n == table.columns[i].target))
                    .collect();
                if missing.is_empty() {
                    return Ok(());
                }
                vec![dialect::add_columns(self.dialect(), table, &missing).map_err(|why| {
                    SyncError::definite(
                        format!("a column added to `{}` cannot be synchronized to Lindorm: {why}", table.source),
                        "list the table's columns (spec.objects[].tables[].columns) to leave the column out, or drop it on the source",
                    )
                })?]
            }
            SchemaChange::DropColumns { table, columns } => {
                let existing = self.existing_columns(table).await?.unwrap_or_default();
                columns
                    .iter()
                    .filter(|c| existing.iter().any(|(n, _)| n == *c))
                    .map(|c| dialect::drop_column(table, c))
                    .collect()
            }
        };
        for statement in sql {
            self.conns[0]
                .query_drop(&statement)
                .await
                .map_err(|e| classify(&e).context(format!("apply `{statement}` to Lindorm")))?;
        }
        Ok(())
    }

    async fn prepare_tables(
        &mut self,
        tables: &[Arc<TableSchema>],
        existing_tables: super::Existing,
    ) -> SyncResult<Vec<crate::engine::event::TableId>> {
        let mut created = Vec::new();
        {
            self.connect().await?;
            let d = self.dialect();
            let mut namespaces = std::collections::BTreeSet::new();
            for table in tables {
                let create = dialect::create_table(d, table).map_err(|why| {
                    SyncError::definite(
                        format!("table `{}` cannot be synchronized to Lindorm: {why}", table.source),
                        "deselect the table or the offending columns (see docs/lindorm.md)",
                    )
                })?;
                if namespaces.insert(table.target.database.clone()) {
                    self.conns[0]
                        .query_drop(dialect::create_database(&table.target.database))
                        .await
                        .map_err(|e| classify(&e).context(format!("create namespace `{}`", table.target.database)))?;
                }
                if let Some(existing) = self.existing_columns(table).await? {
                    // The task's own table may lag behind DDL the binlog has yet to replay.
                    if existing_tables != super::Existing::Owned {
                        super::check_decimals(table, &existing)?;
                    }
                    continue;
                }
                self.conns[0]
                    .query_drop(create)
                    .await
                    .map_err(|e| classify(&e).context(format!("create table `{}`", table.target)))?;
                created.push(table.source.clone());
            }
            Ok(created)
        }
    }
}

impl Sink for LindormSink {
    async fn prepare(&mut self, tables: &[Arc<TableSchema>], existing: super::Existing) -> SyncResult<Vec<crate::engine::event::TableId>> {
        let result = self.prepare_tables(tables, existing).await;
        result.map_err(|e| self.on_error(e))
    }

    async fn apply_ddl(&mut self, change: &SchemaChange) -> SyncResult<()> {
        let result = self.apply_ddl_inner(change).await;
        result.map_err(|e| self.on_error(e))
    }

    async fn claim(&mut self, task: &str) -> SyncResult<Checkpoint> {
        let result = self.claim_inner(task).await;
        result.map_err(|e| self.on_error(e))
    }

    async fn apply(&mut self, batch: &[ChangeEvent], checkpoint: &Checkpoint) -> SyncResult<()> {
        let result = self.apply_inner(batch, checkpoint).await;
        result.map_err(|e| self.on_error(e))
    }
}
