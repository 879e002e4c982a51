//! The incremental sync: the binlog from the checkpoint, read by a task of its own, routed
//! through each table's filter and operations, throttled, batched by whole transactions
//! ([`super::batcher`]) and written with the position of the last complete one; DDL followed
//! in order.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{
    batcher::{Batcher, Commit},
    checkpoint::{Checkpoint, TableProgress},
    filter::Interrupted,
    pipeline::{Flow, MAX_BATCH_BYTES, Pipeline, now_millis},
    retry::{ErrorClass, SyncError, SyncResult},
    schema::{SchemaChange, TableSchema},
    sink::{Existing, Sink},
    source::mysql::{
        self as source,
        binlog::{BinlogReader, SourceEvent},
    },
    throttle::{Phase as ThrottlePhase, Throttle},
};
use crate::metrics::Stage;

impl<S: Sink> Pipeline<S> {
    pub(super) async fn incremental(
        &mut self,
        tables: &[Arc<TableSchema>],
        mut checkpoint: Checkpoint,
        flavor: source::Flavor,
    ) -> SyncResult<Flow> {
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
        let heartbeat = self.task.heartbeat.clone().map(|(interval, database)| {
            tokio::spawn(source::heartbeat::beat(
                self.source.clone(),
                database,
                self.task.key.clone(),
                interval,
            ))
        });
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
}
