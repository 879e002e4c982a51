//! The `lindorm` sink: LindormTable (the wide table engine) through Lindorm SQL over the MySQL
//! protocol. Statement text comes from [`dialect`]; this module owns the connections, the
//! session probe, the order and pace of writes and the checkpoint.
//!
//! **Versions.** Lindorm keeps a version (a millisecond timestamp) on every cell and reads the
//! newest. An UPSERT may choose its version (`_l_ts_`), but the DELETE grammar takes no hint:
//! a delete's tombstone has the server's time, and data written with a later version is not
//! removed by it (DELETE page). Versions chosen by Ferry would therefore have to agree with the
//! server's clock, which Ferry cannot read: source commit times run hours behind a lagging
//! task, minutes off a skewed source clock, and ahead of any clock above 1,000 events a second.
//! So no write carries a hint, and every cell and tombstone has the server's write time. What
//! keeps the result equal to the source is the order of writes in time:
//! - every key's writes go through one lane, in source order, and a batch is reduced to each
//!   key's net effect (one write per key: a full image, or a delete);
//! - a batch starts only after every write of the one before has been acknowledged, and at
//!   least [`WRITE_GAP`] later: the server's clock has then moved on by at least a
//!   millisecond, so a re-insert after a delete is newer than the tombstone, and a write before
//!   a delete is older than it — whichever way Lindorm treats a version equal to the delete's
//!   time, which it does not document;
//! - replaying batches after a restart writes them again, later, in the same order; like any
//!   ordered replay of full images and deletes by key, it ends where the source is.
//!
//! `tests/lindorm_model.rs` checks this against a model of the documented semantics.
//!
//! Lindorm has no multi-row transactions, so a batch cannot commit with its checkpoint: data is
//! written first, the checkpoint after every lane has finished; a crash in between replays the
//! batch.
//!
//! **Checkpoint and claims.** The checkpoint lives in a Lindorm table,
//! `<checkpointDatabase>.ferry_checkpoint`, created strongly consistent (`CONSISTENCY='strong'`),
//! keyed by (task, epoch). A worker claims the task by inserting the row of the next epoch with
//! a compare-and-set — `INSERT … ON DUPLICATE KEY ERROR` (LindormTable 2.7.8+, strong tables
//! only) fails when another worker took that epoch first — and only ever writes its own row
//! afterwards, so a stale worker cannot overwrite a newer worker's checkpoint. Where the
//! server cannot run the compare-and-set (an older server, a checkpoint table created before
//! Ferry made it strong), the claim is a plain write and a re-read, with a warning: two workers
//! claiming in the same instant could then both believe they won until the next batch's check.
//! Every batch starts by checking that this worker still owns the newest epoch. Between that
//! check and the batch's writes a newer worker may start; the operator's Lease (one writer per
//! task) closes that window.
//!
//! Connections are single `Conn`s, never pooled: Lindorm has no `COM_RESET_CONNECTION` (and no
//! `COM_CHANGE_USER`), so nothing may reset them; statements use the text protocol only.
//!
//! Why this file is long: the session probe, the write order and pacing, size limits and the
//! checkpoint all follow Lindorm's documented versioning, whose reasoning is kept next to the
//! code.

pub mod dialect;

use std::{sync::Arc, time::Duration};

use mysql_async::{Conn, prelude::Queryable};

use self::dialect::{Dialect, Escapes, Server};
use super::{Planned, Sink, Write, net_effect, spread, writes};
use crate::engine::retry::ErrorClass as Class;
use crate::engine::{
    change::ChangeEvent,
    checkpoint::Checkpoint,
    event::Row,
    mysql_conn::{Endpoint, classify},
    retry::{ErrorClass, SyncError, SyncResult},
    schema::{SchemaChange, TableSchema},
};

/// Largest statement Ferry sends, and so the client's packet limit (Lindorm's request limit).
const MAX_PACKET: usize = 64 << 20;

/// The least time between the acknowledgement of one batch's (or DDL's) last write and the
/// next batch's first write: enough for the server's millisecond clock to move on, with room
/// for a few milliseconds of difference between the servers a region may move between
/// (inferred: Lindorm documents server write times, not how closely its servers agree).
pub const WRITE_GAP: Duration = Duration::from_millis(5);

/// How long the sink waits before writing again after a connection failed with a statement in
/// flight: longer than Lindorm's operation timeout (`_l_operation_timeout_`, 120 s by default,
/// hints page), so a statement the server still ran cannot land after the retry's later
/// writes.
pub const IN_FLIGHT_GRACE: Duration = Duration::from_secs(130);

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
    /// When the last write was acknowledged: the next one waits until [`WRITE_GAP`] after it.
    last_write: Option<tokio::time::Instant>,
    /// What an UPSERT's NULL does, as probed at the claim.
    nulls: NullWrites,
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
            last_write: None,
            nulls: NullWrites::Overwrite,
        }
    }

    /// Waits until the server's clock has moved past every write acknowledged so far.
    async fn pace(&self) {
        if let Some(last) = self.last_write {
            tokio::time::sleep_until(last + WRITE_GAP).await;
        }
    }

    /// Notes that every write sent so far has been acknowledged (or failed: a failed statement
    /// ran, or not, before now).
    fn wrote(&mut self) {
        self.last_write = Some(tokio::time::Instant::now());
    }

    /// Notes that a connection failed with a write in flight, which the server may still run:
    /// the next write waits [`IN_FLIGHT_GRACE`].
    fn lost_in_flight(&mut self) {
        tracing::warn!(
            wait_s = IN_FLIGHT_GRACE.as_secs(),
            "a connection to Lindorm failed with a write in flight; the next write waits until the server has surely finished it"
        );
        self.last_write = Some(tokio::time::Instant::now() + IN_FLIGHT_GRACE);
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
        let state = json_without_quotes(state);
        let state = state.as_str();
        let sql = dialect::checkpoint_row(
            self.dialect(),
            &self.checkpoint_ns,
            [&self.task, &self.owner, state],
            self.epoch,
            now_millis(),
        )
        .map_err(|why| unwritable(&self.task, &why))?;
        self.conns[0]
            .query_drop(sql)
            .await
            .map_err(|e| classify(&e).context(format!("write the checkpoint of task {}", self.task)))
    }

    /// Claims `self.epoch` with a compare-and-set where the server has one (see the module
    /// documentation), else by a plain write; the caller re-reads to confirm.
    async fn claim_epoch(&mut self, state: &str) -> SyncResult<()> {
        let state = json_without_quotes(state);
        let state = state.as_str();
        let sql = dialect::claim_checkpoint(
            self.dialect(),
            &self.checkpoint_ns,
            [&self.task, &self.owner, state],
            self.epoch,
            now_millis(),
        )
        .map_err(|why| unwritable(&self.task, &why))?;
        let Err(e) = self.conns[0].query_drop(sql).await else {
            return Ok(());
        };
        let e = classify(&e);
        // Whoever holds the epoch now: this worker (its insert landed though the answer was
        // lost), another (the compare-and-set refused this one), or nobody.
        let holder = self
            .checkpoint_rows()
            .await?
            .into_iter()
            .find(|(epoch, _, _)| *epoch == self.epoch)
            .map(|(_, owner, _)| owner);
        match holder {
            Some(owner) if owner == self.owner => return Ok(()),
            Some(_) => return Err(fenced(&self.task, self.epoch)),
            None => {}
        }
        // Only a server that cannot run the statement gets the weaker claim; anything else
        // (a lost connection, a timeout, throttling) is retried with the compare-and-set.
        let text = e.message.to_ascii_lowercase();
        let unsupported = ["syntax", "not support", "unsupported", "consistency"]
            .iter()
            .any(|w| text.contains(w));
        if e.class == Class::Connection || !unsupported {
            return Err(e.context(format!("claim the checkpoint of task {}", self.task)));
        }
        tracing::warn!(
            error = %e.message,
            "the destination refused the checkpoint claim's compare-and-set (INSERT … ON DUPLICATE KEY ERROR needs LindormTable 2.7.8+ \
             and a checkpoint table with CONSISTENCY='strong'); claiming by a write and a re-read instead. To get the compare-and-set, \
             set the table's CONSISTENCY to strong in Lindorm's cluster management system (Table Alter Manager)"
        );
        self.write_checkpoint(state).await
    }

    /// Learns what an UPSERT's NULL does (Lindorm documents only that an UPSERT overwrites the
    /// columns it names) on a probe row of the checkpoint table: written with an owner, then
    /// upserted with a NULL owner, then read.
    async fn probe_nulls(&mut self) -> SyncResult<NullWrites> {
        let d = self.dialect();
        let table = self.checkpoint_table();
        let probe = format!("{}#null-probe", self.task);
        let key = quote_plain(d, &probe)?;
        let verb = dialect::write_verb(d);
        let statements = [
            format!("{verb} INTO {table} (`task`, `epoch`, `owner`, `state`, `updated_at`) VALUES ({key}, 0, 'x', '{{}}', 0)"),
            format!("{verb} INTO {table} (`task`, `epoch`, `owner`) VALUES ({key}, 0, NULL)"),
        ];
        for sql in statements {
            self.pace().await;
            self.conns[0]
                .query_drop(sql)
                .await
                .map_err(|e| classify(&e).context("probe how the destination writes NULL"))?;
            self.wrote();
        }
        let owner: Option<Option<String>> = self.conns[0]
            .query_first(format!("SELECT `owner` FROM {table} WHERE `task` = {key} AND `epoch` = 0"))
            .await
            .map_err(|e| classify(&e).context("probe how the destination writes NULL"))?;
        Ok(match owner {
            Some(Some(_)) => {
                tracing::warn!(
                    "the destination keeps a column's older value when an UPSERT writes NULL into it; rows with NULLs are \
                     deleted before they are written again (one more statement per such row)"
                );
                NullWrites::Keep
            }
            _ => NullWrites::Overwrite,
        })
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
            self.claim_epoch(&state).await?;
            self.wrote();
            self.check_fence().await?;
            self.nulls = self.probe_nulls().await?;
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
        // Planned before anything is written: a row Lindorm cannot hold stops the batch whole.
        let phases = plan_phases(self.dialect(), batch, self.lanes, self.nulls)?;
        for plans in phases {
            self.pace().await;
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
                if e.class == Class::Connection {
                    self.lost_in_flight();
                } else {
                    self.wrote();
                }
                return Err(e);
            }
            self.wrote();
        }
        let result = self.write_checkpoint(&checkpoint.to_json()).await;
        // The checkpoint row is rewritten by the next batch: that write, too, comes later.
        self.wrote();
        result
    }
}

/// Name of the checkpoint table in the checkpoint namespace.
pub const CHECKPOINT_TABLE: &str = "ferry_checkpoint";

/// The statements of a batch, per lane, in the order each lane sends them (each with its table
/// for error messages): the batch's net effect spread over `lanes` by key. What
/// [`LindormSink`]'s `apply` sends, between its fence check and its checkpoint, where an
/// UPSERT's NULL overwrites the column ([`NullWrites::Overwrite`]).
pub fn plan_batch(d: Dialect, batch: &[ChangeEvent], lanes: usize) -> SyncResult<LanePlans> {
    spread(net_effect(writes(batch)), lanes.max(1), false)
        .iter()
        .map(|lane| plan(d, lane))
        .collect()
}

/// Per lane, the statements it sends in order, each with its table (for error messages).
pub type LanePlans = Vec<Vec<(String, String)>>;

/// What an UPSERT does with a NULL value, as the claim's probe found (Lindorm's documentation
/// says only that an UPSERT "overwrites the columns it names").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NullWrites {
    /// The column reads NULL afterwards.
    Overwrite,
    /// The column keeps its older value: an upsert of a row with NULLs deletes the row first,
    /// in an earlier phase, paced like any delete before a write.
    Keep,
}

/// The phases of a batch, each a [`plan_batch`]-like plan per lane, written one after the
/// other with [`WRITE_GAP`] between them. One phase where NULLs overwrite; where they keep the
/// older value, first every delete — and a delete of each key whose new image has a NULL —
/// then every upsert.
pub fn plan_phases(d: Dialect, batch: &[ChangeEvent], lanes: usize, nulls: NullWrites) -> SyncResult<Vec<LanePlans>> {
    let net = net_effect(writes(batch));
    if nulls == NullWrites::Overwrite {
        return Ok(vec![
            spread(net, lanes.max(1), false)
                .iter()
                .map(|lane| plan(d, lane))
                .collect::<SyncResult<_>>()?,
        ]);
    }
    let mut first: Vec<Planned<'_>> = Vec::new();
    let mut second: Vec<Planned<'_>> = Vec::new();
    for (table, write, version) in net {
        match write {
            Write::Delete(row) => first.push((table, Write::Delete(row), version)),
            Write::Upsert(row) => {
                if row.iter().any(|v| matches!(v, crate::engine::event::Value::Null)) {
                    first.push((table, Write::Delete(row), version));
                }
                second.push((table, Write::Upsert(row), version));
            }
        }
    }
    [first, second]
        .into_iter()
        .filter(|w| !w.is_empty())
        .map(|w| spread(w, lanes.max(1), false).iter().map(|lane| plan(d, lane)).collect())
        .collect()
}

/// Statements of one lane, in order: a run of upserts to one table (distinct keys: `writes` is
/// a batch's net effect) becomes multi-row UPSERTs; every delete is its own statement.
fn plan(d: Dialect, writes: &[Planned<'_>]) -> SyncResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < writes.len() {
        let (table, first, _) = &writes[i];
        let named = table.target.to_string();
        if let Write::Delete(row) = first {
            out.push((dialect::delete(d, table, row).map_err(|e| refused(table, &e))?, named));
            i += 1;
            continue;
        }
        let mut j = i;
        let mut rows: Vec<&Row> = Vec::new();
        while let Some((t, Write::Upsert(row), _)) = writes.get(j)
            && Arc::ptr_eq(t, table)
        {
            rows.push(row);
            j += 1;
        }
        for sql in dialect::upsert(d, table, &rows).map_err(|e| refused(table, &e))? {
            out.push((sql, named.clone()));
        }
        i = j;
    }
    Ok(out)
}

fn refused(table: &TableSchema, why: &str) -> SyncError {
    SyncError::definite(
        format!(
            "a row of `{}` cannot be written to Lindorm (nothing of its batch was written): {why}",
            table.source
        ),
        "see docs/lindorm.md for what Lindorm can store: deselect the table or column, or change the row on the source",
    )
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.as_millis() as i64)
}

/// The error of a checkpoint row Ferry cannot write: the session reads no known escape for a
/// character of the task's name or state.
fn unwritable(task: &str, why: &str) -> SyncError {
    SyncError::definite(
        format!("cannot write the checkpoint of task `{task}` to Lindorm: {why}"),
        "the destination's string escaping could not be learned (see the warning at connection); check that it answers \
         `SELECT 'a\\\\b'`, or rename the task if its name holds a quote or backslash",
    )
}

/// A JSON text with every `'` written `\u0027` (the same JSON), so it needs no quote escaping.
fn json_without_quotes(json: &str) -> String {
    json.replace('\'', "\\u0027")
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
    // 'a\\b' reads back as three characters where backslash escapes apply, four where not;
    // then 'a''b' tells whether a doubled quote reads as one.
    let escapes = match conn.query_first::<Vec<u8>, _>("SELECT 'a\\\\b'").await {
        Ok(Some(v)) if v == b"a\\b" => Escapes::Backslash,
        Ok(Some(v)) if v == b"a\\\\b" => match conn.query_first::<Vec<u8>, _>("SELECT 'a''b'").await {
            Ok(Some(v)) if v == b"a'b" => Escapes::QuoteOnly,
            other => {
                tracing::warn!(
                    result = ?other.map_err(|e| e.to_string()),
                    "the destination reads neither backslash escapes nor a doubled quote; strings containing a single quote will be refused"
                );
                Escapes::Verbatim
            }
        },
        other => {
            tracing::warn!(
                result = ?other.map_err(|e| e.to_string()),
                "could not learn whether the destination reads backslash escapes; strings containing a quote or a backslash will be refused"
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

/// The rows of a `SHOW …` answer as text: (header, rows); `None` when the server refused it.
async fn show(conn: &mut Conn, sql: String) -> SyncResult<Option<(Vec<String>, Vec<Vec<String>>)>> {
    let rows: Vec<mysql_async::Row> = match conn.query(sql).await {
        Ok(rows) => rows,
        Err(e) => {
            let e = classify(&e);
            if e.class == Class::Connection {
                return Err(e);
            }
            return Ok(None);
        }
    };
    let header: Vec<String> = rows
        .first()
        .map(|r| r.columns_ref().iter().map(|c| c.name_str().into_owned()).collect())
        .unwrap_or_default();
    let values = rows
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
    Ok(Some((header, values)))
}

/// An existing destination table's Lindorm indexes (`name (SECONDARY|SEARCH)`) and its
/// MUTABILITY, `None` where the server does not say (before LindormTable 2.6.3, or a stand-in).
pub async fn index_mutability(conn: &mut Conn, table: &TableSchema) -> SyncResult<(Vec<String>, Option<String>)> {
    let indexes = show(conn, dialect::show_index(table))
        .await?
        .map(|(h, r)| dialect::lindorm_indexes(&h, &r))
        .unwrap_or_default();
    if indexes.is_empty() {
        return Ok((indexes, None));
    }
    let mutability = show(conn, dialect::show_mutability(table)).await?.and_then(|(header, rows)| {
        let value = header.iter().position(|h| h.eq_ignore_ascii_case("Value")).unwrap_or(1);
        rows.first().and_then(|r| r.get(value).cloned())
    });
    Ok((indexes, mutability))
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
        // A TRUNCATE or DROP is a delete too: the writes after it must be newer.
        self.pace().await;
        let result = self.apply_ddl_inner(change).await;
        self.wrote();
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

    async fn exists(&mut self, table: &TableSchema) -> SyncResult<bool> {
        let result = self.existing_columns(table).await;
        result.map(|c| c.is_some()).map_err(|e| self.on_error(e))
    }
}
