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
//! The stages live in their own modules: the full sync in [`super::full_sync`], the binlog
//! path in [`super::incremental`] (with [`super::batcher`]), the heartbeat with the source.

use std::sync::Arc;

use tokio::sync::watch;

use super::{
    batcher::Flush,
    checkpoint::{Checkpoint, TableProgress},
    event::{Position, TableId},
    mysql_conn::Endpoint,
    retry::{ErrorClass, SyncError, SyncResult},
    schema::{SchemaChange, TableSchema},
    sink::{Existing, Sink},
    source::mysql as source,
};
use crate::{api::ConflictingTables, metrics::TaskMetrics, task::ValidatedTask};

/// Most bytes of row data in one destination batch.
pub(super) const MAX_BATCH_BYTES: usize = 16 << 20;

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
pub(super) enum Flow {
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
    pub(super) async fn ensure_unchanged_since_discovery(&self, tables: &[Arc<TableSchema>], checkpoint: &Checkpoint) -> SyncResult<()> {
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

    pub(super) fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Writes what the batcher handed out (if anything), moving the checkpoint to its commit.
    pub(super) async fn flush(&mut self, flush: Option<Flush>, checkpoint: &mut Checkpoint) -> SyncResult<()> {
        let Some(flush) = flush else { return Ok(()) };
        if let Some(commit) = &flush.commit {
            checkpoint.position = Some(commit.position.clone());
            checkpoint.version = commit.version;
        }
        self.sink.apply(&flush.rows, checkpoint).await?;
        self.applied(flush.rows.len(), flush.commit_ts(), checkpoint);
        Ok(())
    }

    pub(super) fn applied(&self, rows: usize, commit_ts: u32, checkpoint: &Checkpoint) {
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

    pub(super) fn show_position(&self, position: Option<&Position>) {
        if let Some(p) = position {
            self.metrics.set_position(&p.file, p.pos, p.to_string());
        }
    }
}

/// Milliseconds since the epoch.
pub(super) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
