//! Destinations. A sink owns its dialect, its type mapping and the classification of its
//! errors; it knows the engine's vocabulary, never a source.

pub mod lindorm;
pub mod mysql;

use std::{future::Future, sync::Arc};

use super::{
    change::ChangeEvent,
    checkpoint::Checkpoint,
    event::{Row, RowChange},
    retry::SyncResult,
    schema::{SchemaChange, TableSchema},
};

/// A destination that applies change events idempotently and keeps the task's checkpoint.
pub trait Sink: Send {
    /// Makes every destination table ready: creates what is missing from the source schema and
    /// treats what exists as `existing` says. Returns the (source names of the) tables it
    /// created.
    fn prepare(
        &mut self,
        tables: &[Arc<TableSchema>],
        existing: Existing,
    ) -> impl Future<Output = SyncResult<Vec<crate::engine::event::TableId>>> + Send;

    /// Claims the task for this worker and returns its checkpoint. The first call takes a new
    /// fencing epoch; later calls (retries) keep it and fail definitely if another worker has
    /// claimed the task since.
    fn claim(&mut self, task: &str) -> impl Future<Output = SyncResult<Checkpoint>> + Send;

    /// Applies `batch` in order — upserts of full after-images, deletes by key — and stores
    /// `checkpoint`, atomically. Fails definitely when another worker has claimed the task.
    fn apply(&mut self, batch: &[ChangeEvent], checkpoint: &Checkpoint) -> impl Future<Output = SyncResult<()>> + Send;

    /// Applies a table change from source DDL, idempotently (it is replayed after a crash
    /// between the change and the next checkpoint).
    fn apply_ddl(&mut self, change: &SchemaChange) -> impl Future<Output = SyncResult<()>> + Send;

    /// Whether the destination table of `table` exists.
    fn exists(&mut self, table: &TableSchema) -> impl Future<Output = SyncResult<bool>> + Send;
}

/// How [`Sink::prepare`] treats a destination table that already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// New to the task: it must fit the source table (`conflictingTables: precheckError`).
    Check,
    /// New to the task, used as it is (`conflictingTables: ignore`) — except what would lose or
    /// merge rows: a DECIMAL of another precision, key columns compared by another collation.
    AsIs,
    /// The task's own: it may lag behind the source's DDL until the binlog replays it (the
    /// worker was down while the source changed), so it is used as it is.
    Owned,
    /// The task's own, about to be emptied and copied again from a new snapshot (a table back
    /// in `objects`, or one whose rows changed without row events): it must fit the source
    /// table as [`Existing::Check`] says, and destination columns the source no longer has
    /// are dropped — the DDL that dropped them precedes the snapshot and is not replayed.
    Fresh,
}

/// What one change does to the destination, in order.
pub(crate) enum Write<'a> {
    Upsert(&'a Row),
    Delete(&'a Row),
}

impl<'a> Write<'a> {
    /// The row written or deleted.
    pub(crate) fn row(&self) -> &'a Row {
        match self {
            Write::Upsert(r) | Write::Delete(r) => r,
        }
    }
}

/// One planned write: its destination table, what it does, and the version of its event.
pub(crate) type Planned<'a> = (&'a Arc<TableSchema>, Write<'a>, i64);

/// What a batch does to the destination, in order: a key change becomes a delete of the old
/// key and an upsert of the new one (both with the event's version).
pub(crate) fn writes(batch: &[ChangeEvent]) -> Vec<Planned<'_>> {
    let mut writes: Vec<Planned<'_>> = Vec::with_capacity(batch.len());
    for event in batch {
        let (table, version) = (&event.table, event.version);
        match &event.change {
            RowChange::Insert { after } => writes.push((table, Write::Upsert(after), version)),
            RowChange::Update { before, after } => {
                if table.key_of(before) != table.key_of(after) {
                    writes.push((table, Write::Delete(before), version));
                }
                writes.push((table, Write::Upsert(after), version));
            }
            RowChange::Delete { before } => writes.push((table, Write::Delete(before), version)),
        }
    }
    writes
}

/// The net effect of `writes` on the destination: for every (table, exact key), only its last
/// write — an upsert of its final image or a delete — then all deletes before all upserts,
/// grouped by table so that each group becomes one multi-row statement. Because every write is
/// a full image or a delete by key, the result leaves the same rows as applying `writes` one by
/// one (a key change is a delete of the old key and an upsert of the new one, two different
/// keys). That holds also where two exact keys are one row to the destination (`'a'` and `'A'`
/// under a `_ci` collation; see [`super::key`]): a delete names the stored image, so every
/// spelling of a row other than its final one ends with a delete, and deleting first then
/// upserting the final image leaves that image. Deleting first also keeps a destination UNIQUE
/// key (on tables Ferry did not create) from seeing a value held by a row this batch deletes.
pub(crate) fn net_effect(writes: Vec<Planned<'_>>) -> Vec<Planned<'_>> {
    use std::collections::HashMap;
    /// A row's key; `Eq` is sound because key values are never NaN.
    #[derive(PartialEq, Hash)]
    struct Key<'a>(&'a super::event::TableId, Vec<&'a crate::engine::event::Value>);
    impl Eq for Key<'_> {}
    let mut last: HashMap<Key<'_>, usize> = HashMap::with_capacity(writes.len());
    let mut slots: Vec<Option<Planned<'_>>> = Vec::with_capacity(writes.len());
    for planned in writes {
        // By destination table, not schema object: rows logged before and after an ADD COLUMN
        // carry different schemas of the same table.
        let key = Key(&planned.0.target, planned.0.key_of(planned.1.row()));
        match last.get(&key) {
            Some(&at) => slots[at] = Some(planned),
            None => {
                last.insert(key, slots.len());
                slots.push(Some(planned));
            }
        }
    }
    let mut net: Vec<Planned<'_>> = slots.into_iter().flatten().collect();
    // Stable: keys keep their first-seen order inside each group.
    net.sort_by_key(|(table, write, _)| (matches!(write, Write::Upsert(_)), Arc::as_ptr(*table) as usize));
    net
}

/// Splits `writes` over `lanes` by [`lane_of`], keeping their order within each lane.
/// `collated`: the destination compares text keys by their collation (see [`super::key`]).
pub(crate) fn spread<'a>(writes: Vec<Planned<'a>>, lanes: usize, collated: bool) -> Vec<Vec<Planned<'a>>> {
    let mut per_lane: Vec<Vec<Planned<'a>>> = (0..lanes).map(|_| Vec::new()).collect();
    for planned in writes {
        per_lane[lane_of(planned.0, planned.1.row(), lanes, collated)].push(planned);
    }
    per_lane
}

/// The lane of a write: a hash of the destination table and the row's key, alike for keys the
/// destination considers equal ([`super::key::LaneKey`]), so their writes keep their order.
pub(crate) fn lane_of(table: &TableSchema, row: &Row, lanes: usize, collated: bool) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    super::key::LaneKey { table, row, collated }.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

/// Fails when a DECIMAL column of `table` has another precision or scale in the existing
/// destination table (`existing`: destination column name and type as the destination spells
/// it), naming each column and both precisions.
pub fn check_decimals(table: &TableSchema, existing: &[(String, String)]) -> SyncResult<()> {
    let mut problems = Vec::new();
    for column in &table.columns {
        let super::schema::ColumnKind::Decimal { precision, scale } = column.kind else {
            continue;
        };
        let Some((_, ty)) = existing.iter().find(|(n, _)| *n == column.target) else {
            continue;
        };
        let lower = ty.to_ascii_lowercase();
        let Some(args) = lower.strip_prefix("decimal(").and_then(|r| r.split(')').next()) else {
            continue;
        };
        let mut parts = args.split(',').map(|p| p.trim().parse::<u32>().ok());
        let (p, s) = (parts.next().flatten(), parts.next().flatten().unwrap_or(0));
        if p != Some(precision) || s != scale {
            problems.push(format!(
                "column `{}` is DECIMAL({precision},{scale}) in the source and {} in the destination",
                column.target,
                ty.to_ascii_uppercase()
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(super::retry::SyncError::definite(
        format!(
            "DECIMAL precision mismatch in destination table `{}`: {}",
            table.target,
            problems.join("; ")
        ),
        "alter the destination column to the source's DECIMAL(precision,scale), or map the table to a new name (targetName)",
    ))
}
