//! Destinations. A sink owns its dialect, its type mapping and the classification of its
//! errors; it knows the engine's vocabulary, never a source.

pub mod lindorm;
pub mod mysql;

use std::{future::Future, sync::Arc};

use super::{checkpoint::Checkpoint, event::ChangeEvent, retry::SyncResult, schema::TableSchema};

/// A destination that applies change events idempotently and keeps the task's checkpoint.
pub trait Sink: Send {
    /// Makes every destination table ready: creates what is missing from the source schema,
    /// checks that what exists is compatible (unless `use_existing_as_is`).
    fn prepare(&mut self, tables: &[Arc<TableSchema>], use_existing_as_is: bool) -> impl Future<Output = SyncResult<()>> + Send;

    /// Claims the task for this worker and returns its checkpoint. The first call takes a new
    /// fencing epoch; later calls (retries) keep it and fail definitely if another worker has
    /// claimed the task since.
    fn claim(&mut self, task: &str) -> impl Future<Output = SyncResult<Checkpoint>> + Send;

    /// Applies `batch` in order — upserts of full after-images, deletes by key — and stores
    /// `checkpoint`, atomically. Fails definitely when another worker has claimed the task.
    fn apply(&mut self, batch: &[ChangeEvent], checkpoint: &Checkpoint) -> impl Future<Output = SyncResult<()>> + Send;
}
