//! The full sync: every selected table copied through parallel snapshot readers over tables
//! and key ranges, each chunk written with the checkpoint of its range, so a stopped copy
//! resumes range by range.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{
    change::ChangeEvent,
    checkpoint::{Checkpoint, SliceProgress, TableProgress},
    event::{Row, RowChange, Value},
    key,
    mysql_conn::Endpoint,
    pipeline::{Pipeline, now_millis},
    retry::{ErrorClass, SyncError, SyncResult},
    schema::TableSchema,
    sink::Sink,
    source::mysql::{self as source, snapshot::Snapshot},
    throttle::{Phase as ThrottlePhase, Throttle},
};
use crate::metrics::Stage;

impl<S: Sink> Pipeline<S> {
    /// Copies every table through parallel snapshot readers; each chunk is applied with the
    /// checkpoint of its key range, so every range resumes where it stopped.
    pub(super) async fn full_sync(
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
