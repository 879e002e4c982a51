//! One run of a task's data path: discover → prepare the destination → claim the checkpoint →
//! full sync (parallel snapshot readers over tables and key ranges, each chunk committed with
//! its range's checkpoint)
//! → incremental sync (binlog from the checkpoint, batches committed with the position of the
//! last complete source transaction).
//!
//! A run ends when asked to stop (Ok, checkpoint saved), when a non-incremental task finishes
//! (Ok), or with an error whose class tells the worker whether to retry. Every retry starts a
//! new run from the stored checkpoint; that is the only recovery path, so it is the one the
//! tests exercise.
//!
//! Why this file is long: one run's stages (discovery, full-sync planning and readers,
//! transaction batching, DDL bookkeeping, heartbeat) still live here; issue 13 makes it a short
//! orchestrator over named parts.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::{
    batcher::{Batcher, Commit, Flush},
    change::ChangeEvent,
    checkpoint::{Checkpoint, SliceProgress, TableProgress},
    event::{Position, Row, RowChange, TableId, Value},
    filter::Interrupted,
    key,
    mysql_conn::Endpoint,
    retry::{ErrorClass, SyncError, SyncResult},
    schema::{SchemaChange, TableSchema},
    sink::{Existing, Sink},
    source::mysql::{
        self as source,
        binlog::{BinlogReader, SourceEvent},
        snapshot::Snapshot,
    },
    throttle::{Phase as ThrottlePhase, Throttle},
};
use crate::{
    api::ConflictingTables,
    metrics::{Stage, TaskMetrics},
    task::ValidatedTask,
};

/// Most bytes of row data in one destination batch.
const MAX_BATCH_BYTES: usize = 16 << 20;

/// Everything a run needs.
pub struct Pipeline<S: Sink> {
    pub task: ValidatedTask,
    pub source: Endpoint,
    pub sink: S,
    pub metrics: Arc<TaskMetrics>,
    /// Becomes true when the run should stop at the next batch boundary.
    pub stop: watch::Receiver<bool>,
}

/// How a run of the data path ended without an error.
enum Flow {
    /// Stopped when asked, or finished (a task without incremental sync).
    Done,
    /// A table must be copied again (its rows changed in a way the binlog does not show row by
    /// row): the checkpoint says so, and a new run starts at once.
    Again,
}

impl<S: Sink> Pipeline<S> {
    /// Runs until stopped, finished, or failed.
    pub async fn run(&mut self) -> SyncResult<()> {
        loop {
            match self.run_once().await? {
                Flow::Done => return Ok(()),
                Flow::Again if self.stopping() => return Ok(()),
                Flow::Again => tracing::info!("starting over from the checkpoint to copy a table again"),
            }
        }
    }

    async fn run_once(&mut self) -> SyncResult<Flow> {
        let (flavor, version) = source::detect_flavor(&self.source).await?;
        tracing::info!(source = %self.source, %version, ?flavor, "connected to the source");
        let mut conn = self.source.connect().await?;
        let source::schema::Discovery {
            tables: discovered,
            missing,
            empty,
        } = source::schema::discover_present(&mut conn, &self.task.selection).await?;
        let retention = source::binlog_retention(&mut conn).await;
        self.metrics.binlog_retention_seconds.set(retention.unwrap_or(0) as i64);
        let _ = conn.disconnect().await;
        let tables: Vec<Arc<TableSchema>> = discovered.iter().map(|d| Arc::new(d.schema.clone())).collect();
        self.metrics.tables_total.set(tables.len() as i64);
        self.metrics
            .rows_estimated
            .set(discovered.iter().map(|d| d.rows_estimated as i64).sum());

        let mut checkpoint = self.sink.claim(&self.task.key).await?;
        // A table `objects` names that the source does not have is a mistake in the spec,
        // unless the task knows it: one it followed until the source dropped it (a DROP
        // TABLE, a CREATE OR REPLACE that failed), maybe while the worker was down. Such a
        // table is followed again when the source creates it.
        let known =
            |name: &str| checkpoint.tables.contains_key(name) || checkpoint.dropped.contains(name) || checkpoint.left.contains(name);
        if let Some(table) = missing.iter().find(|t| !known(&t.to_string())) {
            return Err(source::schema::missing_table(table));
        }
        // A database selected whole that has no table: a mistake before the task starts; once
        // it runs, its tables may all have been dropped, and the ones created are followed.
        for database in &empty {
            if checkpoint.position.is_none() {
                return Err(source::schema::empty_database(database));
            }
            tracing::warn!(%database, "the source database has no tables (or does not exist): tables created in it are followed");
        }
        for table in &missing {
            if checkpoint.dropped.contains(&table.to_string()) {
                tracing::info!(table = %table, "the table is not on the source (dropped): it is followed again when created");
            }
        }
        // Tables whose source columns grew without the task following (addColumn off) keep the
        // columns they had.
        let tables: Vec<Arc<TableSchema>> = tables
            .into_iter()
            .map(
                |t| match checkpoint.tables.get(&t.source.to_string()).and_then(|p| p.columns.as_ref()) {
                    Some(kept) => t.with_columns(|c| kept.contains(&c.name)).map_or(t, Arc::new),
                    None => t,
                },
            )
            .collect();
        // Tables this task already synchronises may lag behind the source's DDL until the
        // binlog replays it (a column added while the worker was down): they are used as they
        // are. Only tables new to the task are checked against `conflictingTables`.
        let conflicting = if self.task.spec.conflicting_tables == ConflictingTables::Ignore {
            Existing::AsIs
        } else {
            Existing::Check
        };
        // A table whose copy was interrupted while the source changed its columns (ADD COLUMN
        // during the full sync, then a restart) is copied again from a new snapshot, into its
        // emptied destination table, as a table that comes back to `objects`: the rows already
        // copied lack the new columns, and rows deleted on the source since are only in the
        // binlog before that snapshot, which is not replayed for a table copied from it.
        for table in &tables {
            let name = table.source.to_string();
            let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
            let Some(progress) = checkpoint.tables.get(&name) else {
                continue;
            };
            if !self.task.spec.sync_types.full || progress.done || progress.slices.is_empty() || progress.copy_columns == columns {
                continue;
            }
            tracing::info!(table = %name, "the table's columns changed during its copy: copying it again");
            checkpoint.tables.remove(&name);
            checkpoint.left.insert(name);
        }
        // Selection changes: a table that left `objects` loses its progress (remembered as left);
        // one that comes back is copied again, into its emptied destination table — changes
        // made while it was out never reached the destination.
        let selected: std::collections::BTreeSet<String> = tables.iter().map(|t| t.source.to_string()).collect();
        let leaving: Vec<String> = checkpoint.tables.keys().filter(|k| !selected.contains(*k)).cloned().collect();
        for name in &leaving {
            let still_selected = name
                .split_once('.')
                .is_some_and(|(database, table)| self.task.selection.table(database, table).is_some());
            if still_selected {
                tracing::info!(table = %name, "the table is no longer on the source (dropped while the worker was down): its progress is dropped");
            } else {
                tracing::info!(table = %name, "the table left the task's objects: its progress is dropped");
            }
            checkpoint.tables.remove(name);
            checkpoint.left.insert(name.clone());
        }
        // Without a full sync nothing is copied again: a table that comes back is followed from
        // here, as it is (what changed while it was out stays as it was in the destination).
        let full = self.task.spec.sync_types.full;
        let (returning, tables_rest): (Vec<Arc<TableSchema>>, Vec<Arc<TableSchema>>) = tables
            .iter()
            .cloned()
            .partition(|t| full && checkpoint.left.contains(&t.source.to_string()));
        if !full {
            for table in &tables {
                let name = table.source.to_string();
                if checkpoint.left.remove(&name) {
                    tracing::warn!(table = %name, "the table came back to the task's objects; without a full sync it is not copied again: changes made while it was out are not in the destination");
                    checkpoint.tables.entry(name).or_default().done = true;
                }
            }
        }
        let (known, new): (Vec<Arc<TableSchema>>, Vec<Arc<TableSchema>>) = tables_rest
            .into_iter()
            .partition(|t| checkpoint.tables.contains_key(&t.source.to_string()));
        // Tables whose destination table Ferry created, with no row copied yet (their key
        // ranges are stored before any row): an earlier run made them from the source's shape
        // then, the copy will be of its shape now, and DDL in between is not replayed. (Without
        // a full sync there is no copy: the binlog brings such a table level, it is owned.)
        let (owned, unstarted): (Vec<Arc<TableSchema>>, Vec<Arc<TableSchema>>) = known.into_iter().partition(|t| {
            !full
                || checkpoint
                    .tables
                    .get(&t.source.to_string())
                    .is_some_and(|p| p.done || !p.slices.is_empty())
        });
        // Tables Ferry is about to create are the task's own before they exist (fuzzer case
        // 4453746060154666282): a run that stops after creating one and before the checkpoint
        // below finds it its own and not copied yet — made anew if the source's shape changed
        // meanwhile — not a table new to the task whose destination lags behind the source.
        let mut to_create = Vec::new();
        for table in &new {
            if !self.sink.exists(table).await? {
                to_create.push(table.source.to_string());
            }
        }
        if !to_create.is_empty() {
            for name in to_create {
                checkpoint.tables.entry(name).or_default().done = !full;
            }
            self.sink.apply(&[], &checkpoint).await?;
        }
        let created = self.sink.prepare(&new, conflicting).await?;
        if !created.is_empty() {
            // Remembered before any row: they are the task's own from now on.
            for table in created {
                // Without a full sync there is nothing to copy: followed from here, done.
                checkpoint.tables.entry(table.to_string()).or_default().done = !full;
            }
            self.sink.apply(&[], &checkpoint).await?;
        }
        self.sink.prepare(&owned, Existing::Owned).await?;
        for table in &unstarted {
            if let Err(e) = self.sink.prepare(std::slice::from_ref(table), Existing::Fresh).await {
                if e.class != ErrorClass::Definite {
                    return Err(e);
                }
                tracing::info!(table = %table.target, reason = %e, "re-creating the destination table Ferry created for a table not copied yet");
                self.sink.apply_ddl(&SchemaChange::Drop(table.clone())).await?;
                self.sink.prepare(std::slice::from_ref(table), conflicting).await?;
            }
        }
        // Used as they are with `conflictingTables: ignore`; else brought to the source's shape.
        let fresh = if conflicting == Existing::AsIs {
            Existing::AsIs
        } else {
            Existing::Fresh
        };
        for table in &returning {
            // The destination table is this task's own: emptied, or made anew when its shape
            // no longer fits the source's.
            match self.sink.prepare(std::slice::from_ref(table), fresh).await {
                Ok(_) => {
                    self.sink.apply_ddl(&SchemaChange::Truncate(table.clone())).await?;
                    // A destination used as it is (Lindorm, `conflictingTables: ignore`) may
                    // lack columns the source added while the table was out or its copy was
                    // interrupted: the copy writes every column. Only missing ones are added.
                    self.sink
                        .apply_ddl(&SchemaChange::AddColumns {
                            table: table.clone(),
                            added: (0..table.columns.len()).map(|i| (i, None)).collect(),
                        })
                        .await?;
                }
                Err(e) if e.class == ErrorClass::Definite => {
                    tracing::info!(table = %table.target, reason = %e, "re-creating the destination table of a table that came back");
                    self.sink.apply_ddl(&SchemaChange::Drop(table.clone())).await?;
                    self.sink.prepare(std::slice::from_ref(table), conflicting).await?;
                }
                Err(e) => return Err(e),
            }
            tracing::info!(table = %table.source, "copying the table again, into its emptied destination table");
            // The task's own again, not copied yet: a run that stops before its copy starts
            // (a DDL between discovery and the snapshot, say) finds it unstarted, not new.
            checkpoint.left.remove(&table.source.to_string());
            checkpoint.tables.insert(table.source.to_string(), TableProgress::default());
        }
        // A table the selection covers again but the source no longer has was dropped while it
        // was out: its destination table goes too (with dropTable).
        let mut gone = Vec::new();
        for name in &checkpoint.left {
            let Some((database, table)) = name.split_once('.') else { continue };
            if self.task.selection.table(database, table).is_none() || selected.contains(name) {
                continue;
            }
            if self.task.selection.operations(database, table).drop_table {
                let dropped = TableSchema {
                    source: TableId::new(database, table),
                    target: TableId::new(
                        self.task.selection.target_database(database),
                        self.task.selection.target_table(database, table),
                    ),
                    ..Default::default()
                };
                tracing::info!(table = %name, "the table was dropped on the source while it was out of the task or the worker was down: dropping it in the destination");
                self.sink.apply_ddl(&SchemaChange::Drop(Arc::new(dropped))).await?;
            }
            gone.push(name.clone());
        }
        for name in &gone {
            checkpoint.left.remove(name);
            if name
                .split_once('.')
                .is_some_and(|(database, table)| self.task.selection.table(database, table).flatten().is_some())
            {
                checkpoint.dropped.insert(name.clone());
            }
        }
        // A dropped table the source has again was created while the worker was down: it is
        // a table new to the task (copied), and no longer expected to be missing.
        let recreated: Vec<String> = selected.iter().filter(|n| checkpoint.dropped.contains(*n)).cloned().collect();
        for name in &recreated {
            checkpoint.dropped.remove(name);
        }
        if !leaving.is_empty() || !returning.is_empty() || !gone.is_empty() || !recreated.is_empty() {
            self.sink.apply(&[], &checkpoint).await?;
        }
        tracing::info!(task = %self.task.key, position = ?checkpoint.position.as_ref().map(ToString::to_string), full_done = checkpoint.full_done, "claimed the task");

        let sync_types = self.task.spec.sync_types.clone();
        // Tables not copied yet: all of them at first, later the ones added to the spec (they
        // are copied from a new snapshot while the binlog still resumes from the checkpoint,
        // which is earlier, so every change to them is replayed over their copy).
        let uncopied = tables
            .iter()
            .any(|t| !checkpoint.tables.get(&t.source.to_string()).is_some_and(|p| p.done));
        if sync_types.full && (!checkpoint.full_done || uncopied) {
            if checkpoint.full_done {
                tracing::info!("tables were added to the task: copying them before following the binlog again");
                // Durable at once: the stored state (status, `ferry status`) says a copy runs.
                checkpoint.full_done = false;
                self.sink.apply(&[], &checkpoint).await?;
            }
            let estimates: Vec<u64> = discovered.iter().map(|d| d.rows_estimated).collect();
            self.full_sync(&tables, &estimates, &mut checkpoint, flavor).await?;
            if self.stopping() {
                return Ok(Flow::Done);
            }
        } else {
            self.metrics.tables_done.set(tables.len() as i64);
            let copied: u64 = checkpoint.tables.values().map(|t| t.rows).sum();
            self.metrics
                .rows_copied
                .inc_by(copied.saturating_sub(self.metrics.rows_copied.get()));
        }
        if checkpoint.position.is_none() {
            checkpoint.position = Some(source::current_position(&self.source, flavor).await?);
            let mut conn = self.source.connect().await?;
            let ready = source::ensure_no_prepared_xa(&mut conn).await;
            let _ = conn.disconnect().await;
            ready?;
            checkpoint.base_version = now_millis();
            checkpoint.version = checkpoint.base_version;
            self.sink.apply(&[], &checkpoint).await?;
        }
        if !sync_types.incremental {
            tracing::info!("full sync finished; incremental sync is off for this task");
            return Ok(Flow::Done);
        }
        self.incremental(&tables, checkpoint, flavor).await
    }

    /// The tables were discovered before the copy's first snapshot opened: a DDL in between
    /// is in neither the copy's column list nor the binlog that follows it (it precedes the
    /// snapshot), so the copy would lack an added column or a created table for good. Looked
    /// at again now, the tables must be as discovered; else the run starts over (a DDL after
    /// the snapshot can look like one before it: that only costs a restart).
    async fn ensure_unchanged_since_discovery(&self, tables: &[Arc<TableSchema>], checkpoint: &Checkpoint) -> SyncResult<()> {
        let mut conn = self.source.connect().await?;
        // Listed tables the source does not have were accepted at discovery; one dropped
        // since is missing from `again` and counts as a change.
        let again = source::schema::discover_present(&mut conn, &self.task.selection).await;
        let _ = conn.disconnect().await;
        let again = again?.tables;
        let shape = |t: &TableSchema| -> (Vec<(String, String, bool)>, Vec<usize>) {
            (
                t.columns
                    .iter()
                    .map(|c| (c.name.clone(), c.column_type.clone(), c.nullable))
                    .collect(),
                t.key.clone(),
            )
        };
        let changed = again.len() != tables.len()
            || tables.iter().any(|t| {
                let name = t.source.to_string();
                let Some(now) = again.iter().find(|d| d.schema.source == t.source) else {
                    return true;
                };
                // Tables that keep the columns they had (addColumn off) compare those.
                let now = match checkpoint.tables.get(&name).and_then(|p| p.columns.as_ref()) {
                    Some(kept) => now.schema.with_columns(|c| kept.contains(&c.name)),
                    None => Some(now.schema.clone()),
                };
                now.is_none_or(|now| shape(&now) != shape(t))
            });
        if changed {
            return Err(SyncError::new(
                ErrorClass::Other,
                "the source's tables changed while the copy started (DDL between discovery and the snapshot): starting again",
            ));
        }
        Ok(())
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Copies every table through parallel snapshot readers; each chunk is applied with the
    /// checkpoint of its key range, so every range resumes where it stopped.
    async fn full_sync(
        &mut self,
        tables: &[Arc<TableSchema>],
        estimates: &[u64],
        checkpoint: &mut Checkpoint,
        flavor: source::Flavor,
    ) -> SyncResult<()> {
        self.metrics.set_stage(Stage::FullSync);
        let mut first = Snapshot::open(&self.source, flavor).await?;
        self.ensure_unchanged_since_discovery(tables, checkpoint).await?;
        if checkpoint.position.is_none() {
            first.ensure_no_prepared_xa().await?;
            // The first snapshot's position is where the binlog will resume — every later
            // snapshot (other readers, restarts) starts after it — and its start time the
            // version of every snapshot row: durable before any row.
            checkpoint.position = Some(first.position.clone());
            checkpoint.base_version = now_millis();
            checkpoint.version = checkpoint.base_version;
            self.sink.apply(&[], checkpoint).await?;
        }
        self.show_position(checkpoint.position.as_ref());
        // The binlog from the snapshot's start is needed until the copy ends.
        self.metrics.checkpoint_source_time.set(checkpoint.base_version / 1000);
        let done_before: u64 = checkpoint.tables.values().map(|t| t.rows).sum();
        self.metrics
            .rows_copied
            .inc_by(done_before.saturating_sub(self.metrics.rows_copied.get()));
        let limit = self.task.batch_rows;
        let readers = self.task.snapshot_readers;

        let mut sliced = false;
        // Tables visited for the first time get their key ranges, stored before any row.
        for (table, &estimate) in tables.iter().zip(estimates) {
            let name = table.source.to_string();
            if checkpoint.tables.get(&name).is_some_and(|p| p.done || !p.slices.is_empty()) {
                continue;
            }
            let want = (estimate / (4 * limit as u64)).clamp(1, readers as u64) as usize;
            let points = if want > 1 && key::keyset_pages(table) {
                first.split_points(table, estimate, want).await?
            } else {
                Vec::new()
            };
            let mut slices = Vec::with_capacity(points.len() + 1);
            let mut lower = None;
            for point in points {
                slices.push(SliceProgress {
                    last_key: lower.replace(point.clone()),
                    upper: Some(point),
                    ..Default::default()
                });
            }
            slices.push(SliceProgress {
                last_key: lower,
                ..Default::default()
            });
            if slices.len() > 1 {
                tracing::info!(table = %name, ranges = slices.len(), "split the table into key ranges");
            }
            checkpoint.tables.insert(
                name,
                TableProgress {
                    slices,
                    copy_columns: table.columns.iter().map(|c| c.name.clone()).collect(),
                    // Every snapshot of this run starts at or after the first.
                    copied_from: (checkpoint.position.as_ref() != Some(&first.position)).then(|| first.position.clone()),
                    ..Default::default()
                },
            );
            sliced = true;
        }
        if sliced {
            self.sink.apply(&[], checkpoint).await?;
        }
        self.metrics
            .tables_done
            .set(checkpoint.tables.values().filter(|t| t.done).count() as i64);

        // Every unfinished range, ranges of the largest tables first.
        let mut order: Vec<usize> = (0..tables.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(estimates.get(i).copied().unwrap_or(0)));
        let mut work = std::collections::VecDeque::new();
        for i in order {
            let Some(progress) = checkpoint.tables.get(&tables[i].source.to_string()) else {
                continue;
            };
            for (s, slice) in progress.slices.iter().enumerate().filter(|(_, s)| !s.done) {
                work.push_back(SliceWork {
                    table: i,
                    slice: s,
                    after: slice.last_key.clone(),
                    upper: slice.upper.clone(),
                });
            }
        }
        if !work.is_empty() {
            let readers = readers.min(work.len());
            tracing::info!(ranges = work.len(), readers, "copying tables");
            let queue = Arc::new(std::sync::Mutex::new(work));
            let (tx, mut rx) = mpsc::channel::<SyncResult<Chunk>>(readers);
            let mut set = tokio::task::JoinSet::new();
            let shared: Arc<[Arc<TableSchema>]> = tables.into();
            let throttle = Throttle::new(self.task.spec.throttling.as_ref(), ThrottlePhase::Full, self.metrics.clone());
            let mut first = Some(first);
            for _ in 0..readers {
                let snapshot = first.take();
                let (endpoint, queue, tx, tables) = (self.source.clone(), queue.clone(), tx.clone(), shared.clone());
                let reader = Reader {
                    endpoint,
                    flavor,
                    tables,
                    queue,
                    tx,
                    limit,
                    throttle: throttle.clone(),
                };
                set.spawn(reader.run(snapshot));
            }
            drop(tx);
            let result = self.apply_chunks(tables, &mut rx, checkpoint).await;
            // Readers stop at their next send once the receiver is gone; abort is for the ones
            // blocked on the source.
            drop(rx);
            set.abort_all();
            result?;
            if self.stopping() {
                return Ok(());
            }
        } else {
            first.close().await;
        }
        let unfinished = tables
            .iter()
            .map(|t| t.source.to_string())
            .find(|name| !checkpoint.tables.get(name).is_some_and(|p| p.done));
        if let Some(name) = unfinished {
            return Err(SyncError::new(
                ErrorClass::Other,
                format!("the full sync ended with table {name} unfinished"),
            ));
        }
        checkpoint.full_done = true;
        self.sink.apply(&[], checkpoint).await?;
        tracing::info!(rows = self.metrics.rows_copied.get(), "full sync finished");
        Ok(())
    }

    /// Applies chunks from the snapshot readers until they are all done, or a stop is asked.
    async fn apply_chunks(
        &mut self,
        tables: &[Arc<TableSchema>],
        rx: &mut mpsc::Receiver<SyncResult<Chunk>>,
        checkpoint: &mut Checkpoint,
    ) -> SyncResult<()> {
        let mut stop = self.stop.clone();
        loop {
            if self.stopping() {
                return Ok(());
            }
            let first = tokio::select! {
                biased;
                _ = stop.changed() => return Ok(()),
                item = rx.recv() => match item {
                    None => return Ok(()),
                    Some(chunk) => chunk?,
                },
            };
            // Chunks that are already waiting go out with it: one destination batch and one
            // checkpoint write for several readers' chunks.
            let mut chunks = vec![first];
            while chunks.len() < self.task.snapshot_readers {
                match rx.try_recv() {
                    Ok(chunk) => chunks.push(chunk?),
                    Err(_) => break,
                }
            }
            let mut batch: Vec<ChangeEvent> = Vec::with_capacity(chunks.iter().map(|c| c.rows.len()).sum());
            let mut finished = Vec::new();
            for chunk in chunks {
                let table = &tables[chunk.table];
                let n = chunk.rows.len() as u64;
                let progress = checkpoint.tables.entry(table.source.to_string()).or_default();
                if let Some(slice) = progress.slices.get_mut(chunk.slice) {
                    if chunk.last_key.is_some() {
                        slice.last_key = chunk.last_key;
                    }
                    slice.rows += n;
                    slice.done = chunk.done;
                }
                progress.rows += n;
                if !progress.done && progress.slices.iter().all(|s| s.done) {
                    progress.done = true;
                    progress.copy_columns.clear();
                    finished.push(table);
                }
                batch.extend(chunk.rows.into_iter().map(|after| ChangeEvent {
                    table: table.clone(),
                    change: RowChange::Insert { after },
                    commit_ts: 0,
                    version: checkpoint.base_version,
                }));
            }
            self.sink.apply(&batch, checkpoint).await?;
            self.metrics.rows_copied.inc_by(batch.len() as u64);
            self.metrics.batches.inc();
            for table in finished {
                self.metrics.tables_done.inc();
                tracing::info!(table = %table.source, rows = progress_rows(checkpoint, table), "table copied");
            }
        }
    }

    async fn incremental(&mut self, tables: &[Arc<TableSchema>], mut checkpoint: Checkpoint, flavor: source::Flavor) -> SyncResult<Flow> {
        self.metrics.set_stage(Stage::Incremental);
        let from = checkpoint
            .position
            .clone()
            .ok_or_else(|| SyncError::definite("no start position", "report this as a bug"))?;
        self.show_position(Some(&from));
        tracing::info!(from = %from, "following the binlog");
        let copied_from = checkpoint
            .tables
            .iter()
            .filter_map(|(name, p)| Some((name.clone(), p.copied_from.clone()?)))
            .collect();
        let mut reader = BinlogReader::open(
            &self.source,
            flavor,
            self.task.server_id,
            &from,
            tables,
            &self.task.selection,
            &checkpoint.pending_xa,
        )
        .await?
        .skip_copied(copied_from);
        // The reader runs ahead of the applier through a bounded channel: reading and writing
        // overlap, and a slow destination slows the reader instead of filling memory.
        let (tx, mut rx) = mpsc::channel::<SyncResult<Vec<SourceEvent>>>(1024);
        let reader_task = tokio::spawn(async move {
            loop {
                let next = reader.next().await;
                let end = matches!(next, Ok(None) | Err(_));
                let item = match next {
                    Ok(Some(events)) if events.is_empty() => continue,
                    Ok(Some(events)) => Ok(events),
                    Ok(None) => Err(SyncError::new(ErrorClass::Connection, "the source ended the binlog stream")),
                    Err(e) => Err(e),
                };
                if tx.send(item).await.is_err() || end {
                    return;
                }
            }
        });
        let heartbeat = self
            .task
            .heartbeat
            .clone()
            .map(|(interval, database)| tokio::spawn(heartbeat(self.source.clone(), database, self.task.key.clone(), interval)));
        let result = self.apply_loop(&mut rx, &mut checkpoint).await;
        reader_task.abort();
        if let Some(h) = heartbeat {
            h.abort();
        }
        result
    }

    async fn apply_loop(&mut self, rx: &mut mpsc::Receiver<SyncResult<Vec<SourceEvent>>>, checkpoint: &mut Checkpoint) -> SyncResult<Flow> {
        let limit = self.task.batch_rows;
        // Rows of complete transactions not yet written, and rows of the open transaction.
        let mut batch = Batcher::default();
        // Version of the last event read; the checkpoint takes it only at commit boundaries.
        let mut version = checkpoint.version;
        let mut stop = self.stop.clone();
        let throttle = Throttle::new(self.task.spec.throttling.as_ref(), ThrottlePhase::Incremental, self.metrics.clone());
        // Tables to copy again once the transaction of the DDL that asked for it commits.
        let mut recopy: Vec<Arc<TableSchema>> = Vec::new();
        loop {
            let item = tokio::select! {
                biased;
                _ = stop.changed() => None,
                item = rx.recv() => Some(item),
            };
            let events = match item {
                // Stop requested: write what is complete, leave the open transaction.
                None => {
                    self.flush(batch.complete(), checkpoint).await?;
                    return Ok(Flow::Done);
                }
                Some(None) => return Err(SyncError::new(ErrorClass::Connection, "the binlog reader stopped")),
                Some(Some(events)) => events?,
            };
            let (rows, bytes) = events.iter().fold((0u64, 0u64), |(r, b), e| match e {
                SourceEvent::Row(change) => (r + 1, b + change.approx_size() as u64),
                _ => (r, b),
            });
            throttle.acquire(0, rows, bytes).await;
            for event in events {
                match event {
                    SourceEvent::Row(change) => {
                        version = Checkpoint::next_version(version, change.commit_ts);
                        self.metrics.read_change(change.commit_ts);
                        let routed = match change.route(&|| *stop.borrow()) {
                            Ok(routed) => routed,
                            // Stop requested during a long filter evaluation: as above. The
                            // row and the rest of its transaction are read again next run.
                            Err(Interrupted) => {
                                self.flush(batch.complete(), checkpoint).await?;
                                return Ok(Flow::Done);
                            }
                        };
                        let Some(mut change) = routed else {
                            self.metrics.events_filtered.inc();
                            continue;
                        };
                        change.version = version;
                        batch.push(change);
                    }
                    // Remembered with the transaction's commit below, so the checkpoint that
                    // moves past a prepared XA group also names it.
                    SourceEvent::XaPrepared { xid, start } => {
                        tracing::info!(%xid, at = %start, "XA transaction prepared: its rows wait for its XA COMMIT");
                        checkpoint.pending_xa.insert(xid, start);
                    }
                    SourceEvent::XaResolved { xid } => {
                        tracing::info!(%xid, "XA transaction resolved");
                        checkpoint.pending_xa.remove(&xid);
                    }
                    SourceEvent::Commit { position, commit_ts } => {
                        batch.commit(Commit {
                            position,
                            commit_ts,
                            version,
                        });
                        if !recopy.is_empty() {
                            // The checkpoint moves past the DDL (its GTID included, so it is not
                            // replayed) with the tables marked uncopied; the next run copies
                            // them from a new snapshot and follows the binlog from here.
                            for table in recopy.drain(..) {
                                tracing::info!(table = %table.source, "the table's rows changed without row events: copying it again");
                                // As a table that comes back to `objects`: emptied, fitted
                                // to the source's shape at the new snapshot, copied.
                                checkpoint.tables.remove(&table.source.to_string());
                                checkpoint.left.insert(table.source.to_string());
                            }
                            checkpoint.full_done = false;
                            self.flush(batch.complete(), checkpoint).await?;
                            return Ok(Flow::Again);
                        }
                    }
                    SourceEvent::Ddl {
                        database,
                        statement,
                        position,
                        why,
                    } => {
                        self.metrics.ddl_skipped.inc();
                        tracing::info!(%database, %position, %statement, "DDL not applied to the destination: {why}");
                    }
                    SourceEvent::Schema {
                        change,
                        statement,
                        position,
                    } => {
                        // Everything before the DDL goes first (a DDL ends the transaction before it).
                        self.flush(batch.complete(), checkpoint).await?;
                        if !batch.is_empty() {
                            self.flush(Some(batch.all()), checkpoint).await?;
                        }
                        if let SchemaChange::Recopy(table) = change {
                            if !self.task.spec.sync_types.full {
                                return Err(SyncError::definite(
                                    format!(
                                        "the rows of `{}` changed at {position} without row events ({statement}), and this task \
                                         has no full sync to copy them again",
                                        table.source
                                    ),
                                    "enable syncTypes.full so Ferry can copy the table again, or leave the table out of spec.objects",
                                ));
                            }
                            recopy.push(table);
                            continue;
                        }
                        // A CREATE replayed after a restart, the table recorded as the
                        // task's own before it was made: the destination table has the shape
                        // this statement gave it, which a later incarnation on the source (the
                        // catalog Ferry reads now) need not have. It is used as it is; the DDL
                        // further on in the binlog brings it level, and rows of the earlier
                        // incarnation are skipped (`binlog`).
                        let replayed_create =
                            matches!(&change, SchemaChange::Create(t) if checkpoint.tables.contains_key(&t.source.to_string()));
                        if let SchemaChange::Create(table) = &change {
                            // The table is the task's own before it exists: a worker that stops
                            // after creating it and before the next checkpoint finds it its own
                            // (and replays the CREATE from the position before it), not a table
                            // new to the task that lags behind the source's shape.
                            // Followed from its creation: nothing to copy after a restart,
                            // and nothing kept from an earlier table of that name.
                            checkpoint.dropped.remove(&table.source.to_string());
                            checkpoint.tables.insert(
                                table.source.to_string(),
                                TableProgress {
                                    done: true,
                                    ..Default::default()
                                },
                            );
                            self.sink.apply(&[], checkpoint).await?;
                        }
                        match &change {
                            SchemaChange::Create(table) if replayed_create => {
                                self.sink.prepare(std::slice::from_ref(table), Existing::Owned).await?;
                            }
                            _ => self.sink.apply_ddl(&change).await?,
                        }
                        self.metrics.ddl_applied.inc();
                        let name = change.table().source.to_string();
                        match &change {
                            SchemaChange::Drop(_) => {
                                checkpoint.tables.remove(&name);
                                // A table `objects` names is not on the source from here on:
                                // a restart expects that.
                                let source = &change.table().source;
                                if self.task.selection.table(&source.database, &source.table).flatten().is_some() {
                                    checkpoint.dropped.insert(name);
                                }
                            }
                            SchemaChange::KeepColumns(table) => {
                                checkpoint.tables.entry(name).or_default().columns =
                                    Some(table.columns.iter().map(|c| c.name.clone()).collect());
                            }
                            _ => {}
                        }
                        tracing::info!(%position, %statement, "applied DDL: {}", change.describe());
                    }
                    SourceEvent::Idle => {
                        if batch.is_empty() {
                            // Caught up: nothing older than now is needed.
                            self.metrics.nothing_pending();
                            self.metrics.lag_seconds.set(0);
                            self.metrics.checkpoint_source_time.set(now_millis() / 1000);
                        }
                    }
                }
            }
            if batch.full(limit, MAX_BATCH_BYTES) {
                // Large transactions are written in parts; the checkpoint stays at the last
                // complete transaction until the whole of this one is written.
                self.flush(Some(batch.all()), checkpoint).await?;
            } else if rx.is_empty() {
                // Caught up with the reader: write what is complete now. Under load the channel
                // is rarely empty, so batches grow; when idle, latency stays low.
                self.flush(batch.complete(), checkpoint).await?;
            }
        }
    }

    /// Writes what the batcher handed out (if anything), moving the checkpoint to its commit.
    async fn flush(&mut self, flush: Option<Flush>, checkpoint: &mut Checkpoint) -> SyncResult<()> {
        let Some(flush) = flush else { return Ok(()) };
        if let Some(commit) = &flush.commit {
            checkpoint.position = Some(commit.position.clone());
            checkpoint.version = commit.version;
        }
        self.sink.apply(&flush.rows, checkpoint).await?;
        self.applied(flush.rows.len(), flush.commit_ts(), checkpoint);
        Ok(())
    }

    fn applied(&self, rows: usize, commit_ts: u32, checkpoint: &Checkpoint) {
        self.metrics.nothing_pending();
        self.metrics.events_applied.inc_by(rows as u64);
        self.metrics.batches.inc();
        if commit_ts > 0 {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            self.metrics.lag_seconds.set(now.saturating_sub(u64::from(commit_ts)) as i64);
            self.metrics.checkpoint_source_time.set(i64::from(commit_ts));
        }
        self.show_position(checkpoint.position.as_ref());
    }

    fn show_position(&self, position: Option<&Position>) {
        if let Some(p) = position {
            self.metrics.set_position(&p.file, p.pos, p.to_string());
        }
    }
}

/// Rows copied of `table` so far.
fn progress_rows(checkpoint: &Checkpoint, table: &TableSchema) -> u64 {
    checkpoint.tables.get(&table.source.to_string()).map_or(0, |p| p.rows)
}

/// A key range still to copy.
struct SliceWork {
    table: usize,
    slice: usize,
    after: Option<Row>,
    upper: Option<Row>,
}

/// Rows of one key range read by a snapshot reader, with the range's new cursor.
struct Chunk {
    table: usize,
    slice: usize,
    rows: Vec<Row>,
    last_key: Option<Row>,
    done: bool,
}

/// One snapshot reader: takes key ranges from `queue` and sends their chunks, in key order,
/// until the queue is empty or the receiver is gone, within the full sync's load limits.
struct Reader {
    endpoint: Endpoint,
    flavor: source::Flavor,
    tables: Arc<[Arc<TableSchema>]>,
    queue: Arc<std::sync::Mutex<std::collections::VecDeque<SliceWork>>>,
    tx: mpsc::Sender<SyncResult<Chunk>>,
    limit: usize,
    throttle: Arc<Throttle>,
}

impl Reader {
    /// Reads until done; opens its own snapshot unless given one.
    async fn run(self, snapshot: Option<Snapshot>) {
        let Reader {
            endpoint,
            flavor,
            tables,
            queue,
            tx,
            limit,
            throttle,
        } = self;
        let mut snapshot = match snapshot {
            Some(s) => s,
            None => match Snapshot::open(&endpoint, flavor).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            },
        };
        loop {
            let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
            let Some(work) = next else { break };
            let table = &tables[work.table];
            if !key::keyset_pages(table) {
                // One scan without key bounds (no cursor to resume from: a restart reads the
                // table again from its start).
                let mut scan = match snapshot.scan(table).await {
                    Ok(scan) => scan,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                loop {
                    throttle.acquire(1, 0, 0).await;
                    let rows = match scan.next_chunk(limit).await {
                        Ok(rows) => rows,
                        Err(e) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                    };
                    let bytes: usize = rows.iter().flatten().map(Value::approx_size).sum();
                    throttle.acquire(0, rows.len() as u64, bytes as u64).await;
                    let done = rows.len() < limit;
                    let chunk = Chunk {
                        table: work.table,
                        slice: work.slice,
                        rows,
                        last_key: None,
                        done,
                    };
                    if tx.send(Ok(chunk)).await.is_err() {
                        return;
                    }
                    if done {
                        break;
                    }
                }
                continue;
            }
            let mut after = work.after;
            loop {
                throttle.acquire(1, 0, 0).await;
                let rows = match snapshot.read_chunk(table, after.as_deref(), work.upper.as_deref(), limit).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                let bytes: usize = rows.iter().flatten().map(Value::approx_size).sum();
                throttle.acquire(0, rows.len() as u64, bytes as u64).await;
                let done = rows.len() < limit;
                if let Some(last) = rows.last() {
                    after = Some(table.key.iter().map(|&i| last[i].clone()).collect());
                }
                let chunk = Chunk {
                    table: work.table,
                    slice: work.slice,
                    rows,
                    last_key: after.clone(),
                    done,
                };
                if tx.send(Ok(chunk)).await.is_err() {
                    snapshot.close().await;
                    return;
                }
                if done {
                    break;
                }
            }
        }
        snapshot.close().await;
    }
}

/// Writes the task's heartbeat row on the source every `interval` until aborted. A failed
/// write is logged and retried at the next beat: the heartbeat never fails the task.
async fn heartbeat(endpoint: Endpoint, database: String, task: String, interval: std::time::Duration) {
    use mysql_async::prelude::Queryable;
    let table = format!("{}.`ferry_heartbeat`", super::mysql_conn::quote_ident(&database));
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
                    super::mysql_conn::quote_ident(&database)
                );
                c.query_drop(setup)
                    .await
                    .map_err(|e| super::mysql_conn::classify(&e).context("create the heartbeat table"))?;
                conn = Some(c);
            }
            let Some(c) = conn.as_mut() else { return Ok(()) };
            c.exec_drop(
                format!("INSERT INTO {table} (task, beat) VALUES (?, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE beat = VALUES(beat)"),
                (task.as_str(),),
            )
            .await
            .map_err(|e| super::mysql_conn::classify(&e).context("write the heartbeat"))
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "heartbeat write failed; retrying at the next beat");
            conn = None;
        }
    }
}

/// Milliseconds since the epoch.
fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
