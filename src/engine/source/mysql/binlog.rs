//! The binlog reader: a replica connection that turns row events of the selected tables into
//! [`SourceEvent`]s.
//!
//! Guarantee: events are passed on in binlog order, and a [`SourceEvent::Commit`] is emitted
//! only at a transaction boundary, carrying the position *after* that transaction (the resume
//! point) and the GTID state including it. Nothing is dropped silently: an event type this
//! reader does not know, a compressed MariaDB event, a partial JSON update, a statement-format
//! DML or an incident fails the stream with a definite error that names it and the position.
//!
//! MariaDB's GTID (162) and GTID list (163) events are parsed here; MySQL's GTID and
//! transaction payload events by `mysql_common` (the driver decompresses payloads).
//!
//! Why this file is long: the reader is one state machine (event groups, table maps, GTIDs, DDL
//! following) over one struct's state; splitting it into reader, GTID, row events and DDL
//! following is on issue 13's list.

use std::{collections::HashMap, sync::Arc};

use futures::StreamExt;
use mysql_async::{BinlogStream, BinlogStreamRequest, prelude::Queryable};
use mysql_common::binlog::events::{EventData, RowsEventData, TableMapEvent};

use super::schema::discover_table;
use super::{
    Flavor,
    decode::{Origin, decode},
    txn::{Control, Transactions, xa_prepare_body},
};
use crate::engine::{
    change::ChangeEvent,
    ddl::{self, DdlOp},
    event::{GtidState, Position, Row, RowChange, TableId},
    mysql_conn::{Endpoint, classify},
    retry::{ErrorClass, SyncError, SyncResult},
    schema::{SchemaChange, TableSchema},
    select::Selection,
};

fn key_of(table: &TableId) -> (String, String) {
    (table.database.clone(), table.table.clone())
}

/// What the binlog reader passes on.
#[derive(Debug)]
pub enum SourceEvent {
    /// A row change of a selected table.
    Row(ChangeEvent),
    /// A DDL statement about a synchronised table with no effect on the destination (or one
    /// the task's operations leave out): logged and counted.
    Ddl {
        database: String,
        statement: String,
        position: Position,
        why: String,
    },
    /// A DDL statement that changes the destination's tables; the reader already decodes
    /// later events with the new schema.
    Schema {
        change: SchemaChange,
        statement: String,
        position: Position,
    },
    /// An XA transaction was prepared: its rows wait for its XA COMMIT. The checkpoint must
    /// remember `start` (where its event group is) until then.
    XaPrepared { xid: String, start: Position },
    /// A prepared XA transaction was committed (its rows came just before) or rolled back.
    XaResolved { xid: String },
    /// A transaction ended; everything before `position` has been passed on.
    Commit { position: Position, commit_ts: u32 },
    /// The source is idle (heartbeat); nothing is pending.
    Idle,
}

/// A table id's table name, column count and binding (`None`: not selected).
type BoundTable = ((String, String), u64, Option<Binding>);

/// Maps a binlog table id to its selected table and column positions.
struct Binding {
    schema: Arc<TableSchema>,
    /// For each table-map column: the index of the selected column, if selected.
    columns: Vec<Option<usize>>,
    /// Why the table map does not fit the table as it is now (a column of the same name with
    /// another type): rows logged by an earlier incarnation of the table.
    stale: Option<String>,
}

/// A binlog stream positioned at a resume point.
pub struct BinlogReader {
    stream: BinlogStream,
    endpoint: Endpoint,
    selection: Selection,
    /// Connection for rediscovering tables after DDL, opened on first use.
    side: Option<mysql_async::Conn>,
    tables: HashMap<(String, String), Arc<TableSchema>>,
    /// Table id → (database, table), column count, and the binding (`None`: not selected).
    bindings: HashMap<u64, BoundTable>,
    file: String,
    gtid: Option<GtidState>,
    /// GTID of the transaction in progress, applied to `gtid` at its commit.
    pending_gtid: Option<PendingGtid>,
    /// End of the MySQL transaction payload being unpacked (inner events carry no position).
    payload_end: Option<u64>,
    /// The transaction being read, prepared XA transactions ([`super::txn`]).
    txn: Transactions,
    flavor: Flavor,
    /// The binlog's end when this reader started: events before it are replayed.
    replay_until: Option<(String, u64)>,
    /// The binlog's end when a table was last discovered again (after a DDL).
    discovered_at: HashMap<(String, String), (String, u64)>,
    /// Tables (`db.table`) copied from a snapshot later than the resume position, and where
    /// that snapshot stands: their events before it are in the copy, and skipped.
    copied_from: HashMap<String, Position>,
}

enum PendingGtid {
    MariaDb {
        domain: u32,
        server: u32,
        seq: u64,
        standalone: bool,
    },
    Mysql {
        uuid: String,
        gno: u64,
    },
}

const MARIADB_ANNOTATE_ROWS: u8 = 160;
const MARIADB_BINLOG_CHECKPOINT: u8 = 161;
const MARIADB_GTID: u8 = 162;
const MARIADB_GTID_LIST: u8 = 163;
const MARIADB_START_ENCRYPTION: u8 = 164;
const MARIADB_COMPRESSED_FIRST: u8 = 165;
const MARIADB_COMPRESSED_LAST: u8 = 171;
/// MariaDB GTID event flags: a standalone statement (DDL), a group that can be rolled back
/// safely (only transactional tables changed).
const FL_STANDALONE: u8 = 1;
const FL_TRANSACTIONAL: u8 = 4;
/// The group is an XA transaction's `XA START … XA PREPARE` part (no `XA START` statement is
/// logged: the GTID event stands for it).
const FL_PREPARED_XA: u8 = 64;

impl BinlogReader {
    /// Registers as replica `server_id` and starts reading at `from`. `prepared` are the XA
    /// transactions prepared before `from` and not yet resolved (xid → the position of their
    /// event group): their groups are read again first, so their rows are there at XA COMMIT.
    pub async fn open(
        endpoint: &Endpoint,
        flavor: Flavor,
        server_id: u32,
        from: &Position,
        tables: &[Arc<TableSchema>],
        selection: &Selection,
        prepared: &std::collections::BTreeMap<String, Position>,
    ) -> SyncResult<BinlogReader> {
        let mut restored = Vec::new();
        for (xid, start) in prepared {
            let rows = Self::read_prepared(endpoint, flavor, server_id, start, tables, selection, xid).await?;
            tracing::info!(%xid, at = %start, rows = rows.len(), "read a prepared XA transaction again; its rows wait for its XA COMMIT");
            restored.push((xid.clone(), rows));
        }
        let mut reader = Self::open_at(endpoint, flavor, server_id, from, tables, selection).await?;
        for (xid, rows) in restored {
            reader.txn.restore_prepared(&xid, rows);
        }
        Ok(reader)
    }

    /// Tables copied from a snapshot later than where reading starts (table → the snapshot's
    /// position): their events before it are in the copy already and are skipped.
    pub fn skip_copied(mut self, copied_from: HashMap<String, Position>) -> Self {
        self.copied_from = copied_from;
        self
    }

    /// Reads the event group of prepared XA transaction `xid` at `start` again: its rows.
    #[allow(clippy::too_many_arguments)]
    async fn read_prepared(
        endpoint: &Endpoint,
        flavor: Flavor,
        server_id: u32,
        start: &Position,
        tables: &[Arc<TableSchema>],
        selection: &Selection,
        xid: &str,
    ) -> SyncResult<Vec<ChangeEvent>> {
        let at = Position {
            gtid: None,
            ..start.clone()
        };
        let mut reader = Self::open_at(endpoint, flavor, server_id, &at, tables, selection).await?;
        // Its group starts at `start`; a few events at most, bounded all the same.
        for _ in 0..1_000_000 {
            let Some(events) = Box::pin(reader.next()).await? else { break };
            for event in events {
                match event {
                    SourceEvent::XaPrepared { xid: found, .. } if found == xid => {
                        return reader
                            .txn
                            .take_prepared(xid)
                            .ok_or_else(|| SyncError::definite(format!("lost the rows of XA transaction {xid}"), "report this as a bug"));
                    }
                    SourceEvent::Commit { .. } | SourceEvent::XaPrepared { .. } => {
                        return Err(SyncError::definite(
                            format!("the checkpoint says XA transaction {xid} was prepared at {start}, but that is not its event group"),
                            "re-run the full sync (remove the task's checkpoint row)",
                        ));
                    }
                    _ => {}
                }
            }
        }
        Err(SyncError::definite(
            format!("XA transaction {xid}, prepared at {start}, was not found there"),
            "re-run the full sync (remove the task's checkpoint row)",
        ))
    }

    async fn open_at(
        endpoint: &Endpoint,
        flavor: Flavor,
        server_id: u32,
        from: &Position,
        tables: &[Arc<TableSchema>],
        selection: &Selection,
    ) -> SyncResult<BinlogReader> {
        let mut conn = endpoint.connect().await?;
        let ctx = |e: mysql_async::Error| classify(&e).context(format!("start reading the binlog of {endpoint} at {from}"));
        if flavor == Flavor::MariaDb {
            // Capability 4 (GTID): the server sends GTID events instead of turning them into BEGIN.
            conn.query_drop("SET @mariadb_slave_capability = 4").await.map_err(ctx)?;
        }
        // Heartbeats every 5 s while the source is idle, so a dead connection is noticed.
        conn.query_drop("SET @master_heartbeat_period = 5000000000, @source_heartbeat_period = 5000000000")
            .await
            .map_err(ctx)?;
        // With a GTID state the server finds the position itself, so the task continues on
        // whichever server the endpoint reaches now — a promoted replica after a switchover —
        // as long as that server has the transactions. Without one, file and offset.
        let mut request = BinlogStreamRequest::new(server_id);
        let mut sids = Vec::new();
        match (&from.gtid, flavor) {
            (Some(gtid @ GtidState::MariaDb(_)), Flavor::MariaDb) => {
                conn.exec_drop(
                    "SET @slave_connect_state = ?, @slave_gtid_strict_mode = 1, @slave_gtid_ignore_duplicates = 0",
                    (gtid.to_string(),),
                )
                .await
                .map_err(ctx)?;
                request = request.with_filename(b"".as_slice()).with_pos(4u64);
            }
            // Checked against documentation only (no MySQL server here): COM_BINLOG_DUMP_GTID.
            (Some(gtid @ GtidState::Mysql(_)), Flavor::Mysql) => {
                for part in gtid.to_string().split(',').filter(|p| !p.trim().is_empty()) {
                    let sid: mysql_common::packets::Sid<'static> = part.trim().parse().map_err(|e| {
                        SyncError::definite(
                            format!("the checkpoint's GTID set `{part}` does not parse: {e:?}"),
                            "report this as a bug",
                        )
                    })?;
                    sids.push(sid);
                }
                request = request.with_gtid().with_filename(b"".as_slice()).with_pos(4u64);
            }
            _ => request = request.with_filename(from.file.as_bytes()).with_pos(from.pos),
        }
        if !sids.is_empty() {
            request = request.with_gtid_set(sids);
        }
        let replay_until = super::binlog_end(&mut conn).await.map_err(ctx)?;
        let stream = conn.get_binlog_stream(request).await.map_err(ctx)?;
        Ok(BinlogReader {
            stream,
            endpoint: endpoint.clone(),
            selection: selection.clone(),
            side: None,
            tables: tables
                .iter()
                .map(|t| ((t.source.database.clone(), t.source.table.clone()), t.clone()))
                .collect(),
            bindings: HashMap::new(),
            file: from.file.clone(),
            gtid: from.gtid.clone(),
            pending_gtid: None,
            payload_end: None,
            txn: Transactions::default(),
            flavor,
            replay_until,
            discovered_at: HashMap::new(),
            copied_from: HashMap::new(),
        })
    }

    /// The next events (one binlog event can carry many rows). `None` when the server ended
    /// the stream.
    pub async fn next(&mut self) -> SyncResult<Option<Vec<SourceEvent>>> {
        let Some(event) = self.stream.next().await else {
            return Ok(None);
        };
        let event = event.map_err(|e| classify(&e).context(format!("read the binlog at {}", self.file)))?;
        let header = event.header();
        let type_code = header.event_type_raw();
        let log_pos = u64::from(header.log_pos());
        let here = || format!("{}:{}", self.file, log_pos);
        let end_pos = if log_pos == 0 { self.payload_end.unwrap_or(0) } else { log_pos };
        // Where this event starts: an XA transaction's group is read again from there.
        let start = Position {
            file: self.file.clone(),
            pos: end_pos.saturating_sub(u64::from(header.event_size())),
            gtid: None,
        };
        let mut out = Vec::new();

        match type_code {
            MARIADB_GTID => {
                let data = event.data();
                let (seq, domain, flags) = parse_mariadb_gtid(data).ok_or_else(|| malformed("MariaDB GTID", &here()))?;
                self.pending_gtid = Some(PendingGtid::MariaDb {
                    domain,
                    server: header.server_id(),
                    seq,
                    standalone: flags & FL_STANDALONE != 0,
                });
                // A group the server does not mark as safely rollbackable is a transaction that
                // also changed a non-transactional table (whose rows are groups of their own):
                // it may end in ROLLBACK [TO SAVEPOINT], so hold it.
                // An XA transaction's rows wait for its XA COMMIT.
                let hold = flags & (FL_TRANSACTIONAL | FL_STANDALONE) == 0;
                self.txn.begin(hold, start);
                if flags & FL_PREPARED_XA != 0 {
                    self.txn.mark_xa();
                }
                return Ok(Some(out));
            }
            MARIADB_GTID_LIST => {
                let list = parse_mariadb_gtid_list(event.data()).ok_or_else(|| malformed("MariaDB GTID list", &here()))?;
                let mut domains = match self.gtid.take() {
                    Some(GtidState::MariaDb(d)) => d,
                    _ => Default::default(),
                };
                for (domain, server, seq) in list {
                    let e = domains.entry(domain).or_insert((server, seq));
                    if seq >= e.1 {
                        *e = (server, seq);
                    }
                }
                self.gtid = Some(GtidState::MariaDb(domains));
                return Ok(Some(out));
            }
            MARIADB_ANNOTATE_ROWS | MARIADB_BINLOG_CHECKPOINT | MARIADB_START_ENCRYPTION => return Ok(Some(out)),
            MARIADB_COMPRESSED_FIRST..=MARIADB_COMPRESSED_LAST => {
                return Err(SyncError::definite(
                    format!(
                        "failed to read the binlog at {}: compressed MariaDB event (type {type_code})",
                        here()
                    ),
                    "set log_bin_compress=OFF on the source; events already compressed cannot be read, so re-run the full sync after that",
                ));
            }
            _ => {}
        }

        let data = event.read_data().map_err(|e| {
            SyncError::new(
                ErrorClass::Connection,
                format!("failed to parse binlog event type {type_code} at {}: {e}", here()),
            )
        })?;
        let Some(data) = data else {
            return Err(SyncError::definite(
                format!(
                    "failed to read the binlog at {}: event type {type_code} is unknown to Ferry",
                    here()
                ),
                "report the source version and this event type; Ferry does not skip events it cannot read",
            ));
        };
        match data {
            EventData::RotateEvent(_) => {
                self.file = rotate_file_name(&header, event.data());
                self.bindings.clear();
            }
            EventData::FormatDescriptionEvent(_)
            | EventData::HeartbeatEvent
            | EventData::RowsQueryEvent(_)
            | EventData::AnonymousGtidEvent(_)
            | EventData::StopEvent
            | EventData::IgnorableEvent(_) => {
                if matches!(data, EventData::HeartbeatEvent) && !self.txn.is_open() {
                    out.push(SourceEvent::Idle);
                }
            }
            EventData::PreviousGtidsEvent(prev) => {
                let mut sets = std::collections::BTreeMap::new();
                for sid in prev.sids() {
                    let uuid = format_uuid(&sid.uuid());
                    let intervals = sid.intervals().iter().map(|iv| (iv.start(), iv.end() - 1)).collect();
                    sets.insert(uuid, intervals);
                }
                if !matches!(self.gtid, Some(GtidState::Mysql(_))) {
                    self.gtid = Some(GtidState::Mysql(sets));
                }
            }
            EventData::GtidEvent(gtid) => {
                self.pending_gtid = Some(PendingGtid::Mysql {
                    uuid: format_uuid(&gtid.sid()),
                    gno: gtid.gno(),
                });
                self.txn.begin(false, start);
            }
            EventData::TransactionPayloadEvent(_) => {
                self.payload_end = Some(log_pos);
            }
            EventData::QueryEvent(query) => {
                let sql = query.query();
                let refused =
                    |why: String, remedy: &str| SyncError::definite(format!("failed to follow a transaction at {}: {why}", here()), remedy);
                let remedy = "re-run the full sync of the tables concerned (remove them from spec.objects and add them back); \
                              docs/ddl.md explains which transactions Ferry holds back";
                match super::txn::control(&sql) {
                    Some(Control::Begin) => self.txn.begin_statement(start),
                    Some(Control::Commit) => {
                        let mut rows = Vec::new();
                        self.txn.commit(&mut rows);
                        out.extend(rows.into_iter().map(SourceEvent::Row));
                        out.push(self.commit(end_pos, header.timestamp()));
                    }
                    Some(Control::Rollback) => {
                        self.txn.rollback().map_err(|why| refused(why, remedy))?;
                        out.push(self.commit(end_pos, header.timestamp()));
                    }
                    Some(Control::Savepoint(name)) => self.txn.savepoint(&name, self.flavor == Flavor::Mysql),
                    Some(Control::RollbackTo(name)) => self.txn.rollback_to(&name).map_err(|why| refused(why, remedy))?,
                    Some(Control::Release(name)) => self.txn.release(&name),
                    Some(Control::XaStart(_)) => self.txn.xa_start(start),
                    Some(Control::XaEnd) => {}
                    Some(Control::XaCommit(xid)) => {
                        let mut rows = Vec::new();
                        self.txn.xa_commit(&xid, &mut rows).map_err(|why| {
                            refused(
                                why,
                                "commit or roll back prepared XA transactions (XA RECOVER lists them) before a task starts, \
                                 then re-run the full sync of the tables concerned",
                            )
                        })?;
                        // The rows take effect here: a copy from a snapshot after this point
                        // holds them.
                        self.drop_copied(&mut rows, end_pos);
                        out.extend(rows.into_iter().map(SourceEvent::Row));
                        out.push(SourceEvent::XaResolved { xid });
                        out.push(self.commit(end_pos, header.timestamp()));
                    }
                    Some(Control::XaRollback(xid)) => {
                        self.txn.xa_rollback(&xid);
                        out.push(SourceEvent::XaResolved { xid });
                        out.push(self.commit(end_pos, header.timestamp()));
                    }
                    None => {
                        let trimmed = sql.trim_start().to_ascii_uppercase();
                        let schema = query.schema().into_owned();
                        if is_dml(&trimmed) && self.tables.keys().any(|(db, _)| *db == schema) {
                            return Err(SyncError::definite(
                                format!(
                                    "failed to read the binlog at {}: statement-format DML in `{schema}`: {}",
                                    here(),
                                    truncate(&sql, 200)
                                ),
                                "set binlog_format=ROW on the source (and in every session that writes), then re-run the full sync",
                            ));
                        }
                        if !is_dml(&trimmed) {
                            let position = Position {
                                file: self.file.clone(),
                                pos: end_pos,
                                gtid: self.gtid.clone(),
                            };
                            let at = here();
                            let sql = sql.into_owned();
                            // The session's time zone, where it was not the server's: a TIMESTAMP
                            // DEFAULT in the statement is a time in it.
                            let zone = query
                                .status_vars()
                                .get_status_var(mysql_common::binlog::consts::StatusVarKey::TimeZone)
                                .and_then(|v| match v.get_value() {
                                    Ok(mysql_common::binlog::events::StatusVarVal::TimeZone(z)) => {
                                        Some(String::from_utf8_lossy(z.as_bytes()).into_owned())
                                    }
                                    _ => None,
                                });
                            out.extend(self.on_ddl(&sql, &schema, position, &at, zone.as_deref()).await?);
                        }
                        // DDL is its own transaction (MariaDB marks it standalone; MySQL commits
                        // it implicitly): its end is a resume point. CREATE … SELECT is not: its
                        // rows follow in the same group, up to its COMMIT.
                        let standalone = !self.txn.is_open()
                            || matches!(self.pending_gtid, Some(PendingGtid::MariaDb { standalone: true, .. }))
                            || matches!(self.pending_gtid, Some(PendingGtid::Mysql { .. }));
                        if standalone {
                            self.txn.end();
                            out.push(self.commit(end_pos, header.timestamp()));
                        }
                    }
                }
            }
            EventData::XaPrepareLogEvent(body) => {
                let (one_phase, xid) = xa_prepare_body(&body).ok_or_else(|| malformed("XA prepare event", &here()))?;
                let mut rows = Vec::new();
                let prepared = self.txn.xa_prepare(&xid, one_phase, &mut rows);
                self.drop_copied(&mut rows, end_pos);
                out.extend(rows.into_iter().map(SourceEvent::Row));
                if let Some(start) = prepared {
                    out.push(SourceEvent::XaPrepared { xid, start });
                }
                out.push(self.commit(end_pos, header.timestamp()));
            }
            EventData::XidEvent(_) => {
                let mut rows = Vec::new();
                self.txn.commit(&mut rows);
                out.extend(rows.into_iter().map(SourceEvent::Row));
                out.push(self.commit(end_pos, header.timestamp()));
            }
            EventData::TableMapEvent(tme) => {
                // Within one server's life a table id names one version of one table's
                // definition: bind it once. Ids restart with the server, so a binding is reused
                // only for the same table and column count (and all are dropped at each rotate).
                let same = matches!(self.bindings.get(&tme.table_id()), Some((name, count, _))
                    if *count == tme.columns_count() && name.0 == tme.database_name() && name.1 == tme.table_name());
                if !same {
                    let binding = self.bind(&tme)?;
                    let name = (tme.database_name().into_owned(), tme.table_name().into_owned());
                    self.bindings.insert(tme.table_id(), (name, tme.columns_count(), binding));
                }
            }
            EventData::RowsEvent(rows) => {
                if matches!(rows, RowsEventData::PartialUpdateRowsEvent(_)) {
                    return Err(SyncError::definite(
                        format!("failed to read the binlog at {}: partial JSON update", here()),
                        "set binlog_row_value_options='' on the source so JSON updates carry whole documents",
                    ));
                }
                let mut changes = Vec::new();
                self.rows(&rows, header.timestamp(), end_pos, &here(), &mut changes)?;
                let mut passed = Vec::with_capacity(changes.len());
                for change in changes {
                    self.txn.row(change, &mut passed).map_err(|why| {
                        SyncError::definite(
                            format!("failed to follow a transaction at {}: {why}", here()),
                            "commit such transactions in smaller parts, or re-run the full sync of the tables concerned",
                        )
                    })?;
                }
                out.extend(passed.into_iter().map(SourceEvent::Row));
            }
            EventData::IncidentEvent(incident) => {
                return Err(SyncError::definite(
                    format!("the source logged an incident at {}: {:?}", here(), incident.message()),
                    "the binlog has a gap; re-run the full sync",
                ));
            }
            EventData::IntvarEvent(_) | EventData::RandEvent(_) | EventData::UserVarEvent(_) => {
                // Context of statement-format queries; the query itself is checked above.
            }
            other => {
                return Err(SyncError::definite(
                    format!("failed to read the binlog at {}: unsupported event {}", here(), event_name(&other)),
                    "report the source version and this event; Ferry does not skip events it cannot read",
                ));
            }
        }
        Ok(Some(out))
    }

    fn commit(&mut self, pos: u64, ts: u32) -> SourceEvent {
        match self.pending_gtid.take() {
            Some(PendingGtid::MariaDb { domain, server, seq, .. }) => {
                let mut domains = match self.gtid.take() {
                    Some(GtidState::MariaDb(d)) => d,
                    _ => Default::default(),
                };
                domains.insert(domain, (server, seq));
                self.gtid = Some(GtidState::MariaDb(domains));
            }
            Some(PendingGtid::Mysql { uuid, gno }) => {
                let mut sets = match self.gtid.take() {
                    Some(GtidState::Mysql(s)) => s,
                    _ => Default::default(),
                };
                GtidState::add_mysql(&mut sets, &uuid, gno);
                self.gtid = Some(GtidState::Mysql(sets));
            }
            None => {}
        }
        self.txn.end();
        self.payload_end = None;
        SourceEvent::Commit {
            position: Position {
                file: self.file.clone(),
                pos,
                gtid: self.gtid.clone(),
            },
            commit_ts: ts,
        }
    }

    /// Follows a DDL statement: updates the tables this reader decodes and says what the
    /// destination has to do. Fails definitely on a change to a synchronised table that Ferry
    /// cannot follow, naming the statement and its position.
    async fn on_ddl(
        &mut self,
        sql: &str,
        default_db: &str,
        position: Position,
        here: &str,
        zone: Option<&str>,
    ) -> SyncResult<Vec<SourceEvent>> {
        let mut out = Vec::new();
        let short = truncate(sql, 300);
        let skip = |out: &mut Vec<SourceEvent>, why: String| {
            out.push(SourceEvent::Ddl {
                database: default_db.to_string(),
                statement: short.clone(),
                position: position.clone(),
                why,
            })
        };
        let cannot = |table: &TableId, what: &str| {
            SyncError::definite(
                format!("the source ran DDL Ferry cannot follow on synchronised table `{table}` ({what}) at {here}: {short}"),
                "docs/ddl.md lists what Ferry follows. To go on, copy the table again: remove it from spec.objects (the task \
                 then skips this statement), and once the task runs, add it back — its destination table is emptied and \
                 copied anew. Or leave the table out of spec.objects",
            )
        };
        let changed = |change: SchemaChange| SourceEvent::Schema {
            change,
            statement: short.clone(),
            position: position.clone(),
        };
        for op in ddl::parse(sql, default_db) {
            // A table copied from a snapshot later than this statement already has its effect.
            let op = match op {
                DdlOp::DropTables(tables) => DdlOp::DropTables(tables.into_iter().filter(|t| !self.in_copy(t, position.pos)).collect()),
                DdlOp::Truncate(tables) => DdlOp::Truncate(tables.into_iter().filter(|t| !self.in_copy(t, position.pos)).collect()),
                DdlOp::CreateTable { ref table, .. }
                | DdlOp::AddColumns { ref table, .. }
                | DdlOp::DropColumns { ref table, .. }
                | DdlOp::Unsupported { ref table, .. }
                | DdlOp::NoEffect { ref table, .. }
                    if self.in_copy(table, position.pos) =>
                {
                    skip(&mut out, format!("the copy of `{table}` was taken after this statement"));
                    continue;
                }
                op => op,
            };
            match op {
                DdlOp::Unrelated => {}
                DdlOp::NoEffect { table, what } => {
                    if self.tables.contains_key(&key_of(&table)) {
                        skip(&mut out, format!("{what} does not change rows"));
                    }
                }
                DdlOp::CreateTable { table, replace, columns } => {
                    if self.selection.table(&table.database, &table.table).is_none() {
                        continue;
                    }
                    // CREATE OR REPLACE: the old table and its rows are gone first.
                    if replace && let Some(old) = self.tables.remove(&key_of(&table)) {
                        if !old.ops.drop_table {
                            return Err(cannot(&table, "CREATE OR REPLACE of a table whose dropTable operation is off"));
                        }
                        out.push(changed(SchemaChange::Drop(old)));
                    }
                    if !self.selection.operations(&table.database, &table.table).create_table {
                        skip(&mut out, format!("createTable is off for `{table}`: the new table is not followed"));
                        continue;
                    }
                    match self.rediscover(&table, here).await? {
                        Some(schema) => {
                            // The table as the statement made it: the source may have added
                            // columns since (they follow when the binlog gets to their ALTER),
                            // and rows logged until then lack them.
                            let schema = match &columns {
                                Some(defined) => schema.with_columns(|c| defined.contains(&c.name)).unwrap_or(schema),
                                None => schema,
                            };
                            let schema = Arc::new(schema);
                            self.tables.insert(key_of(&table), schema.clone());
                            out.push(changed(SchemaChange::Create(schema)));
                        }
                        None => skip(&mut out, format!("`{table}` no longer exists on the source")),
                    }
                }
                DdlOp::DropTables(tables) => {
                    for table in tables {
                        let Some(schema) = self.tables.remove(&key_of(&table)) else {
                            continue;
                        };
                        if schema.ops.drop_table {
                            out.push(changed(SchemaChange::Drop(schema)));
                        } else {
                            skip(&mut out, format!("dropTable is off for `{table}`: the destination table is kept"));
                        }
                    }
                }
                DdlOp::AddColumns { table, columns } => {
                    let Some(old) = self.tables.get(&key_of(&table)).cloned() else {
                        continue;
                    };
                    let Some(now) = self.rediscover(&table, here).await? else {
                        continue;
                    };
                    let follow = old.ops.add_column && !old.fixed_columns;
                    // Also the ones `old` has: replaying after a restart, the table was discovered
                    // with them, and the destination may not have them yet (the sink adds only
                    // what is missing).
                    let added: Vec<&str> = columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .filter(|n| now.column_index(n).is_some())
                        .collect();
                    // Not followed: keep the columns it had, at their new positions.
                    let now = if follow {
                        now
                    } else {
                        now.with_columns(|c| old.column_index(&c.name).is_some())
                            .ok_or_else(|| cannot(&table, "its key changed"))?
                    };
                    let now = Arc::new(now);
                    self.tables.insert(key_of(&table), now.clone());
                    if !follow && old.fixed_columns {
                        skip(
                            &mut out,
                            format!("the task lists the columns of `{table}`: new column(s) are not followed"),
                        );
                    } else if !follow {
                        out.push(changed(SchemaChange::KeepColumns(now)));
                    } else if !added.is_empty() {
                        // Existing rows got values on the source that the destination cannot
                        // compute itself (an expression, AUTO_INCREMENT, a generated column):
                        // the table is copied again after the column is added.
                        let mut computed = columns.iter().any(|c| c.computed && added.contains(&c.name.as_str()));
                        let mut with_defaults = Vec::with_capacity(added.len());
                        for n in &added {
                            let Some(i) = now.column_index(n) else { continue };
                            let mut default = columns
                                .iter()
                                .find(|c| c.name == *n)
                                .filter(|c| !c.computed)
                                .and_then(|c| c.default.clone());
                            // A TIMESTAMP DEFAULT is a time in the session's zone (fuzzer case
                            // 18369415848651189196): the source converts it to UTC, the zone the
                            // destination's sessions use. One it cannot convert is copied again.
                            if let Some(literal) = default.as_deref()
                                && matches!(now.columns[i].kind, crate::engine::schema::ColumnKind::Timestamp)
                                && !literal.eq_ignore_ascii_case("NULL")
                            {
                                default = self.timestamp_default_in_utc(literal, zone, here).await?;
                                computed |= default.is_none();
                            }
                            with_defaults.push((i, default));
                        }
                        let added = with_defaults;
                        out.push(changed(SchemaChange::AddColumns { table: now.clone(), added }));
                        if computed {
                            out.push(changed(SchemaChange::Recopy(now)));
                        }
                    }
                }
                DdlOp::DropColumns { table, columns } => {
                    let Some(old) = self.tables.get(&key_of(&table)).cloned() else {
                        continue;
                    };
                    let dropped: Vec<usize> = columns.iter().filter_map(|c| old.column_index(c)).collect();
                    if dropped.iter().any(|i| old.key.contains(i)) {
                        return Err(cannot(&table, "DROP COLUMN of a key column"));
                    }
                    if let Some(filter) = &old.filter
                        && filter.columns().iter().any(|c| columns.contains(c))
                    {
                        return Err(cannot(&table, "DROP COLUMN of a column its filter reads"));
                    }
                    // Columns the table no longer has: dropped by an earlier alteration of the
                    // same statement, or before a restart (discovery then shows the table
                    // without them while the binlog replays their DROP). The destination may
                    // still have them: drop them there by their mapped name (the sink drops only
                    // what exists). A table whose columns the task lists never had others.
                    let gone: Vec<String> = if old.fixed_columns {
                        Vec::new()
                    } else {
                        columns
                            .iter()
                            .filter(|c| old.column_index(c).is_none())
                            .map(|c| self.selection.target_column(&table.database, &table.table, c))
                            .collect()
                    };
                    if dropped.is_empty() && gone.is_empty() {
                        skip(&mut out, format!("the dropped column(s) of `{table}` are not synchronised"));
                        continue;
                    }
                    // This statement drops no key column: when the table as the source has it
                    // now has another key, a later statement changed or replaced it (a replay
                    // after a restart). Until that statement, the table is the one before it,
                    // less the dropped columns; that statement is followed or refused itself.
                    let before = || old.with_columns(|c| !columns.contains(&c.name));
                    let now = match self.rediscover(&table, here).await? {
                        Some(now) => now.with_columns(|c| old.column_index(&c.name).is_some()).or_else(before),
                        None => before(),
                    }
                    .ok_or_else(|| cannot(&table, "its key changed"))?;
                    let now = Arc::new(now);
                    self.tables.insert(key_of(&table), now.clone());
                    let mut targets: Vec<String> = dropped.iter().map(|&i| old.columns[i].target.clone()).collect();
                    targets.extend(gone);
                    out.push(changed(SchemaChange::DropColumns {
                        table: now,
                        columns: targets,
                    }));
                }
                DdlOp::Truncate(tables) => {
                    for table in tables {
                        let Some(schema) = self.tables.get(&key_of(&table)).cloned() else {
                            continue;
                        };
                        if schema.ops.delete {
                            out.push(changed(SchemaChange::Truncate(schema)));
                        } else {
                            skip(&mut out, format!("delete is off for `{table}`: TRUNCATE is not applied"));
                        }
                    }
                }
                DdlOp::Unsupported { table, columns, what } => {
                    let schema = self.tables.get(&key_of(&table)).cloned();
                    let selected = self.selection.table(&table.database, &table.table).is_some();
                    match schema {
                        Some(schema) if !columns.is_empty() && columns.iter().all(|c| schema.column_index(c).is_none()) => {
                            skip(&mut out, format!("{what} of a column `{table}` does not synchronise"));
                        }
                        Some(_) => return Err(cannot(&table, &what)),
                        None if selected && columns.is_empty() => return Err(cannot(&table, &what)),
                        None => {}
                    }
                }
            }
        }
        // Table ids of changed tables are not reused by the server, but bindings are cheap to
        // rebuild: start afresh after any DDL that concerned a synchronised table.
        if !out.is_empty() {
            self.bindings.clear();
        }
        Ok(out)
    }

    /// The side connection to the source (for catalog reads while the binlog streams), opened
    /// on first use.
    async fn side_conn(&mut self) -> SyncResult<&mut mysql_async::Conn> {
        if self.side.is_none() {
            self.side = Some(self.endpoint.connect().await?);
        }
        self.side
            .as_mut()
            .ok_or_else(|| SyncError::new(ErrorClass::Connection, "no side connection"))
    }

    /// A TIMESTAMP DEFAULT written in time zone `zone` (the server's default zone when `None`),
    /// as a UTC literal, converted by the source itself; `None` when it cannot convert it.
    async fn timestamp_default_in_utc(&mut self, literal: &str, zone: Option<&str>, here: &str) -> SyncResult<Option<String>> {
        let conn = self.side_conn().await?;
        let zone = zone.map_or_else(
            || "@@global.time_zone".to_string(),
            |z| crate::engine::mysql_conn::sql_literal(&crate::engine::event::Value::Text(z.to_string())),
        );
        let sql = format!("SELECT CAST(CONVERT_TZ({literal}, {zone}, '+00:00') AS CHAR)");
        match conn.query_first::<Option<String>, _>(sql).await {
            Ok(utc) => Ok(utc
                .flatten()
                .map(|t| crate::engine::mysql_conn::sql_literal(&crate::engine::event::Value::Text(t)))),
            Err(e) => {
                let e = classify(&e);
                if e.class == ErrorClass::Connection {
                    self.side = None;
                    return Err(e.context(format!("follow DDL at {here}")));
                }
                Ok(None)
            }
        }
    }

    /// The table as the source has it now, as the task selects it; `None` when it is gone.
    async fn rediscover(&mut self, table: &TableId, here: &str) -> SyncResult<Option<TableSchema>> {
        // Opened first; borrowed beside `self.selection` below.
        self.side_conn().await?;
        let Some(conn) = self.side.as_mut() else {
            return Err(SyncError::new(ErrorClass::Connection, "no side connection"));
        };
        match discover_table(conn, &self.selection, &table.database, &table.table).await {
            Ok(found) => {
                // The table as it is *now*, which may be further on than this statement: rows
                // logged before now that do not fit it belong to an earlier shape.
                let end = super::binlog_end(conn)
                    .await
                    .map_err(|e| classify(&e).context(format!("follow DDL at {here}")))?;
                if let Some(end) = end {
                    self.discovered_at.insert(key_of(table), end);
                }
                Ok(found.map(|d| d.schema))
            }
            Err(e) if e.class != ErrorClass::Definite => {
                self.side = None;
                Err(e)
            }
            Err(e) => Err(e.context(format!("follow DDL at {here}"))),
        }
    }

    fn bind(&self, tme: &TableMapEvent<'_>) -> SyncResult<Option<Binding>> {
        let key = (tme.database_name().into_owned(), tme.table_name().into_owned());
        let Some(schema) = self.tables.get(&key) else {
            return Ok(None);
        };
        let names: Vec<String> = tme
            .iter_optional_meta()
            .filter_map(Result::ok)
            .find_map(|field| match field {
                mysql_common::binlog::events::OptionalMetadataField::ColumnName(names) => {
                    Some(names.iter_names().filter_map(Result::ok).map(|n| n.name().into_owned()).collect())
                }
                _ => None,
            })
            .unwrap_or_default();
        let count = tme.columns_count() as usize;
        let (schema, columns): (Arc<TableSchema>, Vec<Option<usize>>) = if names.len() == count {
            // Column names in the table map: the row is decoded as the table was when it was
            // logged, also when a later ALTER added columns that are in `schema` now.
            if schema.columns.iter().all(|c| names.contains(&c.name)) {
                (schema.clone(), names.iter().map(|n| schema.column_index(n)).collect())
            } else {
                let Some(view) = schema.with_columns(|c| names.contains(&c.name)) else {
                    return Ok(Some(Binding {
                        schema: schema.clone(),
                        columns: vec![None; count],
                        stale: Some(format!("the binlog's table map of `{}` lacks a key column", schema.source)),
                    }));
                };
                let columns = names.iter().map(|n| view.column_index(n)).collect();
                (Arc::new(view), columns)
            }
        } else {
            // binlog_row_metadata MINIMAL: match by position in the source table, which only
            // works while the table has the shape Ferry knows.
            if count != schema.source_width {
                return Err(SyncError::definite(
                    format!(
                        "the binlog has `{}` with {count} columns, the table has {} now, and without column names \
                         (binlog_row_metadata=MINIMAL) Ferry cannot tell which column is which",
                        schema.source, schema.source_width
                    ),
                    "SET GLOBAL binlog_row_metadata = 'FULL' on the source (and in its config); the events already \
                     logged without names need a new full sync of the table",
                ));
            }
            (
                schema.clone(),
                (0..count).map(|i| schema.columns.iter().position(|c| c.ordinal == i)).collect(),
            )
        };
        if let Some(&k) = schema.key.iter().find(|k| !columns.contains(&Some(**k))) {
            let stale = Some(format!(
                "the binlog's table map of `{}` lacks key column `{}`",
                schema.source, schema.columns[k].name
            ));
            return Ok(Some(Binding { schema, columns, stale }));
        }
        // A column of the same name with another type: the row was logged by an earlier
        // incarnation of the table (before a CREATE OR REPLACE, a DROP and CREATE, a MODIFY).
        let stale = columns.iter().enumerate().find_map(|(i, target)| {
            let column = &schema.columns[(*target)?];
            let ty = tme.get_column_type(i).ok().flatten()?;
            let meta = tme.get_column_metadata(i).unwrap_or_default();
            (!fits(column, ty, meta)).then(|| format!("column `{}` is {} now, the binlog has {ty:?}", column.name, column.column_type))
        });
        Ok(Some(Binding { schema, columns, stale }))
    }

    /// Whether the transaction being read (its event ending at `pos`) was logged before the
    /// snapshot that `table`'s copy started from, so the copy holds its changes of the table.
    fn in_copy(&self, table: &TableId, pos: u64) -> bool {
        let Some(from) = self.copied_from.get(&table.to_string()) else {
            return false;
        };
        // By GTID where both have one (it holds across a switchover); by file and offset else.
        match (&self.pending_gtid, &from.gtid) {
            (Some(PendingGtid::MariaDb { domain, seq, .. }), Some(GtidState::MariaDb(state))) => {
                state.get(domain).is_some_and(|(_, upto)| seq <= upto)
            }
            (Some(PendingGtid::Mysql { uuid, gno }), Some(GtidState::Mysql(sets))) => sets
                .get(uuid)
                .is_some_and(|intervals| intervals.iter().any(|(a, b)| (*a..=*b).contains(gno))),
            _ => (self.file.as_str(), pos) <= (from.file.as_str(), from.pos),
        }
    }

    /// Drops the rows of tables whose copy holds them: rows of an XA transaction committed at
    /// `pos` (its event), before the snapshot the table was copied from.
    fn drop_copied(&self, rows: &mut Vec<ChangeEvent>, pos: u64) {
        rows.retain(|row| !self.in_copy(&row.table.source, pos));
    }

    /// Whether the event of `table` ending at `pos` was logged before Ferry last looked at the
    /// table (when this reader started, or at its last DDL): the table may have changed since.
    fn before_discovery(&self, table: &TableId, pos: u64) -> bool {
        self.discovered_at
            .get(&key_of(table))
            .or(self.replay_until.as_ref())
            .is_some_and(|(file, end)| (self.file.as_str(), pos) < (file.as_str(), *end))
    }

    fn rows(&self, rows: &RowsEventData<'_>, ts: u32, pos: u64, here: &str, out: &mut Vec<ChangeEvent>) -> SyncResult<()> {
        let Some((_, _, Some(binding))) = self.bindings.get(&rows.table_id()) else {
            return Ok(());
        };
        // An XA transaction's rows take effect at its XA COMMIT, later: a snapshot between
        // the two does not hold them. They are checked there ([`Self::drop_copied`]).
        if !self.txn.in_xa() && self.in_copy(&binding.schema.source, pos) {
            return Ok(());
        }
        if let Some(why) = &binding.stale {
            // Logged before Ferry last looked at the table (replaying from the checkpoint after
            // the table was replaced while the worker was away, or a second DDL after the one
            // being followed): the rows of an earlier incarnation are overtaken by DDL further
            // on in the binlog (a DROP or CREATE OR REPLACE removes them; a change of a
            // column's type stops the task there). Rows logged after that must fit.
            if self.before_discovery(&binding.schema.source, pos) {
                tracing::debug!(table = %binding.schema.source, at = here, "{why}: rows of an earlier incarnation of the table, replayed, skipped");
                return Ok(());
            }
            return Err(SyncError::definite(
                format!("failed to decode rows of `{}` at {here}: {why}", binding.schema.source),
                "the table changed on the source in a way Ferry did not see; copy it again (remove it from spec.objects, then add it back)",
            ));
        }
        let tme = self
            .stream
            .get_tme(rows.table_id())
            .ok_or_else(|| malformed("rows event without a table map", here))?;
        let full = |image: Option<mysql_common::binlog::row::BinlogRow>| -> SyncResult<Option<Row>> {
            let Some(mut image) = image else { return Ok(None) };
            if image.len() != binding.columns.len() {
                return Err(SyncError::definite(
                    format!(
                        "row image of `{}` at {here} has {} of {} columns",
                        binding.schema.source,
                        image.len(),
                        binding.columns.len()
                    ),
                    "set binlog_row_image=FULL on the source, then re-run the full sync",
                ));
            }
            let mut row: Row = vec![crate::engine::event::Value::Null; binding.schema.columns.len()];
            for (i, target) in binding.columns.iter().enumerate() {
                let (Some(target), Some(value)) = (*target, image.take(i)) else {
                    continue;
                };
                let column = &binding.schema.columns[target];
                let wire = mysql_async::Value::try_from(value).map_err(|e| {
                    SyncError::definite(
                        format!("failed to decode `{}`.`{}` at {here}: {e}", binding.schema.source, column.name),
                        "report this as a bug",
                    )
                })?;
                row[target] = decode(column, wire, Origin::Binlog).map_err(|why| {
                    SyncError::definite(
                        format!("failed to decode a row of `{}` at {here}: {why}", binding.schema.source),
                        "report this as a bug with the column's type",
                    )
                })?;
            }
            Ok(Some(row))
        };
        for pair in rows.rows(tme) {
            let (before, after) = pair.map_err(|e| malformed(&format!("row data ({e})"), here))?;
            let change = match (full(before)?, full(after)?) {
                (None, Some(after)) => RowChange::Insert { after },
                (Some(before), Some(after)) => RowChange::Update { before, after },
                (Some(before), None) => RowChange::Delete { before },
                (None, None) => continue,
            };
            out.push(ChangeEvent {
                table: binding.schema.clone(),
                change,
                commit_ts: ts,
                version: 0,
            });
        }
        Ok(())
    }
}

/// The file name of a ROTATE event. The server's first (fake) rotate arrives before the format
/// description that announces checksums, so the driver leaves its CRC32 on the body; it is
/// recognised by checking it, and cut off.
fn rotate_file_name(header: &mysql_common::binlog::events::BinlogEventHeader, data: &[u8]) -> String {
    let name = data.get(8..).unwrap_or_default();
    let whole = header.event_size() as usize == 19 + data.len();
    if whole && name.len() > 4 {
        let (body, crc) = data.split_at(data.len() - 4);
        let mut head = Vec::with_capacity(19);
        head.extend(header.timestamp().to_le_bytes());
        head.push(header.event_type_raw());
        head.extend(header.server_id().to_le_bytes());
        head.extend(header.event_size().to_le_bytes());
        head.extend(header.log_pos().to_le_bytes());
        head.extend(header.flags_raw().to_le_bytes());
        let mut hasher = flate2::Crc::new();
        hasher.update(&head);
        hasher.update(body);
        if hasher.sum().to_le_bytes() == crc {
            return String::from_utf8_lossy(&name[..name.len() - 4]).into_owned();
        }
    }
    String::from_utf8_lossy(name).into_owned()
}

/// Whether a table map column of type `ty` (with its metadata) can be the column `column` as
/// the table is now.
fn fits(column: &crate::engine::schema::Column, ty: mysql_common::constants::ColumnType, meta: &[u8]) -> bool {
    use mysql_common::constants::ColumnType as T;

    use crate::engine::schema::ColumnKind as K;
    let string = matches!(
        ty,
        T::MYSQL_TYPE_STRING
            | T::MYSQL_TYPE_VARCHAR
            | T::MYSQL_TYPE_VAR_STRING
            | T::MYSQL_TYPE_BLOB
            | T::MYSQL_TYPE_TINY_BLOB
            | T::MYSQL_TYPE_MEDIUM_BLOB
            | T::MYSQL_TYPE_LONG_BLOB
    );
    match &column.kind {
        K::Int { bytes, .. } => matches!(
            (bytes, ty),
            (1, T::MYSQL_TYPE_TINY)
                | (2, T::MYSQL_TYPE_SHORT)
                | (3, T::MYSQL_TYPE_INT24)
                | (4, T::MYSQL_TYPE_LONG)
                | (8, T::MYSQL_TYPE_LONGLONG)
        ),
        K::Float => ty == T::MYSQL_TYPE_FLOAT,
        K::Double => ty == T::MYSQL_TYPE_DOUBLE,
        K::Decimal { precision, scale } => {
            ty == T::MYSQL_TYPE_NEWDECIMAL
                && meta.first().map(|&p| u32::from(p)) == Some(*precision)
                && meta.get(1).map(|&s| u32::from(s)) == Some(*scale)
        }
        K::Text { .. } | K::Binary | K::FixedBinary(_) => string && string_fits(column, ty, meta),
        K::Json => string || ty == T::MYSQL_TYPE_JSON,
        K::Bit { .. } => ty == T::MYSQL_TYPE_BIT,
        K::Date => matches!(ty, T::MYSQL_TYPE_DATE | T::MYSQL_TYPE_NEWDATE),
        K::DateTime => matches!(ty, T::MYSQL_TYPE_DATETIME | T::MYSQL_TYPE_DATETIME2),
        K::Timestamp => matches!(ty, T::MYSQL_TYPE_TIMESTAMP | T::MYSQL_TYPE_TIMESTAMP2),
        K::Time => matches!(ty, T::MYSQL_TYPE_TIME | T::MYSQL_TYPE_TIME2),
        K::Year => ty == T::MYSQL_TYPE_YEAR,
        K::Enum(_) => ty == T::MYSQL_TYPE_ENUM,
        K::Set(_) => ty == T::MYSQL_TYPE_SET,
    }
}

/// Whether a string column's storage in the binlog (CHAR, VARCHAR or BLOB, and its width in
/// bytes) is the column's as the source has it now. Only what is certain is compared: an
/// unknown character set leaves the width unchecked.
fn string_fits(column: &crate::engine::schema::Column, ty: mysql_common::constants::ColumnType, meta: &[u8]) -> bool {
    use mysql_common::constants::ColumnType as T;
    let declared = column.column_type.to_ascii_lowercase();
    let width = |prefix: &str| -> Option<u64> {
        let rest = declared.strip_prefix(prefix)?;
        rest[..rest.find(')')?].parse().ok()
    };
    // Bytes per character of the column's character set (binary strings: 1).
    let maxlen = || -> Option<u64> {
        let Some(collation) = column.collation.as_deref() else {
            return Some(1);
        };
        let charset = collation.split('_').next()?;
        Some(match charset {
            "utf8mb4" | "utf16" | "utf16le" | "utf32" | "gb18030" => 4,
            "utf8mb3" | "utf8" | "ujis" | "eucjpms" => 3,
            "ucs2" | "big5" | "gbk" | "gb2312" | "sjis" | "cp932" | "euckr" => 2,
            "latin1" | "latin2" | "latin5" | "latin7" | "ascii" | "binary" | "greek" | "hebrew" | "cp1250" | "cp1251" | "cp1256"
            | "cp1257" | "cp850" | "cp852" | "cp866" | "koi8r" | "koi8u" | "tis620" | "armscii8" | "geostd8" | "keybcs2" | "macce"
            | "macroman" | "swe7" | "dec8" | "hp8" => 1,
            _ => return None,
        })
    };
    let fixed = width("char(").or_else(|| width("binary("));
    let varying = width("varchar(").or_else(|| width("varbinary("));
    match ty {
        // CHAR/BINARY: real type and width packed in two bytes (widths over 255 borrow bits
        // of the first).
        T::MYSQL_TYPE_STRING => {
            let Some(chars) = fixed else { return false };
            let (Some(&b0), Some(&b1)) = (meta.first(), meta.get(1)) else {
                return true;
            };
            let bytes = u64::from(b1) | ((u64::from(b0 & 0x30) ^ 0x30) << 4);
            maxlen().is_none_or(|m| bytes == chars * m)
        }
        T::MYSQL_TYPE_VARCHAR | T::MYSQL_TYPE_VAR_STRING => {
            let Some(chars) = varying else { return false };
            let (Some(&lo), Some(&hi)) = (meta.first(), meta.get(1)) else {
                return true;
            };
            maxlen().is_none_or(|m| u64::from(u16::from_le_bytes([lo, hi])) == chars * m)
        }
        // TEXT and BLOB (MariaDB's JSON is a LONGTEXT).
        _ => fixed.is_none() && varying.is_none(),
    }
}

fn malformed(what: &str, at: &str) -> SyncError {
    SyncError::new(ErrorClass::Connection, format!("failed to parse {what} at {at}"))
}

fn is_dml(upper: &str) -> bool {
    ["INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD DATA"]
        .iter()
        .any(|k| upper.starts_with(k))
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn format_uuid(b: &[u8; 16]) -> String {
    let h: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    )
}

fn event_name(data: &EventData<'_>) -> String {
    let debug = format!("{data:?}");
    debug.split(['(', ' ', '{']).next().unwrap_or("event").to_string()
}

/// MariaDB GTID event body: seq_no u64, domain_id u32, flags u8, … → (seq, domain, flags).
fn parse_mariadb_gtid(data: &[u8]) -> Option<(u64, u32, u8)> {
    let seq = u64::from_le_bytes(data.get(0..8)?.try_into().ok()?);
    let domain = u32::from_le_bytes(data.get(8..12)?.try_into().ok()?);
    let flags = *data.get(12)?;
    Some((seq, domain, flags))
}

/// MariaDB GTID list body: count u32 (low 28 bits), then (domain u32, server u32, seq u64)*.
fn parse_mariadb_gtid_list(data: &[u8]) -> Option<Vec<(u32, u32, u64)>> {
    let count = u32::from_le_bytes(data.get(0..4)?.try_into().ok()?) & 0x0fff_ffff;
    (0..count as usize)
        .map(|i| {
            let at = 4 + i * 16;
            let e = data.get(at..at + 16)?;
            Some((
                u32::from_le_bytes(e[0..4].try_into().ok()?),
                u32::from_le_bytes(e[4..8].try_into().ok()?),
                u64::from_le_bytes(e[8..16].try_into().ok()?),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_storage_of_an_earlier_incarnation_does_not_fit() {
        use mysql_common::constants::ColumnType as T;
        let column = |ty: &str, collation: Option<&str>| crate::engine::schema::Column {
            name: "c".into(),
            target: "c".into(),
            kind: crate::engine::schema::ColumnKind::Binary,
            column_type: ty.into(),
            nullable: true,
            ordinal: 0,
            collation: collation.map(Into::into),
        };
        let utf8 = Some("utf8mb4_general_ci");
        // VARCHAR(3) utf8mb4 is logged as VARCHAR of 12 bytes; CHAR(1) as STRING of 4 bytes.
        assert!(string_fits(&column("varchar(3)", utf8), T::MYSQL_TYPE_VARCHAR, &[12, 0]));
        assert!(!string_fits(&column("char(1)", utf8), T::MYSQL_TYPE_VARCHAR, &[12, 0]));
        assert!(!string_fits(&column("varchar(2)", utf8), T::MYSQL_TYPE_VARCHAR, &[12, 0]));
        assert!(string_fits(&column("char(1)", utf8), T::MYSQL_TYPE_STRING, &[0xfe, 4]));
        // CHAR(100) utf8mb4: 400 bytes, the high bits in the first byte.
        assert!(string_fits(&column("char(100)", utf8), T::MYSQL_TYPE_STRING, &[0xfe ^ 0x10, 0x90]));
        assert!(string_fits(&column("binary(16)", None), T::MYSQL_TYPE_STRING, &[0xfe, 16]));
        assert!(string_fits(&column("text", utf8), T::MYSQL_TYPE_BLOB, &[2]));
        assert!(!string_fits(&column("varchar(3)", utf8), T::MYSQL_TYPE_BLOB, &[2]));
        // An unknown character set: the width is not compared.
        assert!(string_fits(
            &column("varchar(3)", Some("newcs_bin")),
            T::MYSQL_TYPE_VARCHAR,
            &[99, 0]
        ));
    }

    #[test]
    fn parses_mariadb_gtid_and_gtid_list_bodies() {
        let mut gtid = 42u64.to_le_bytes().to_vec();
        gtid.extend(7u32.to_le_bytes());
        gtid.push(1);
        assert_eq!(parse_mariadb_gtid(&gtid), Some((42, 7, 1)));
        let mut list = 2u32.to_le_bytes().to_vec();
        for (d, s, q) in [(0u32, 1u32, 10u64), (3, 2, 5)] {
            list.extend(d.to_le_bytes());
            list.extend(s.to_le_bytes());
            list.extend(q.to_le_bytes());
        }
        assert_eq!(parse_mariadb_gtid_list(&list), Some(vec![(0, 1, 10), (3, 2, 5)]));
        assert_eq!(parse_mariadb_gtid_list(&list[..10]), None);
    }

    #[test]
    fn uuid_formatting() {
        let b = [
            0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62,
        ];
        assert_eq!(format_uuid(&b), "3e11fa47-71ca-11e1-9e33-c80aa9429562");
    }
}
