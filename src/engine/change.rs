//! A row change of a selected table, as the pipeline carries it from the source to the sink:
//! the change, the table it belongs to (names, columns, filter, operations) and when it was
//! committed — and how the table's filter and operations route it.

use std::sync::Arc;

use super::{
    event::{Row, RowChange, Value},
    filter::Interrupted,
    schema::TableSchema,
};

/// One row change of one selected table.
#[derive(Clone, Debug)]
pub struct ChangeEvent {
    /// The table, as selected and mapped (source and destination names, selected columns).
    pub table: Arc<TableSchema>,
    /// The change, rows in `table.columns` order.
    pub change: RowChange,
    /// Source commit time, seconds since the epoch (0 for snapshot rows).
    pub commit_ts: u32,
    /// Version in milliseconds, strictly increasing in source order; snapshot rows carry the
    /// task's base version, older than every binlog event. For a wide-column sink that can
    /// stamp both its writes and its deletes with it, so a replayed or late event never
    /// overwrites newer data. The Lindorm sink does not use it: Lindorm's DELETE takes no
    /// version, so its writes take the server's time (see `sink::lindorm`).
    pub version: i64,
}

impl ChangeEvent {
    /// Approximate size in bytes.
    pub fn approx_size(&self) -> usize {
        let row_size = |row: &Row| row.iter().map(Value::approx_size).sum::<usize>();
        match &self.change {
            RowChange::Insert { after } => row_size(after),
            RowChange::Update { before, after } => row_size(before) + row_size(after),
            RowChange::Delete { before } => row_size(before),
        }
    }
}

impl ChangeEvent {
    /// The change this event makes to the destination under its table's `filter` and
    /// `operations`, or `None` when it makes none. An update that moves a row out of the filter
    /// deletes it there; one that moves a row in inserts it — both count as updates, since
    /// that is what happened on the source. `interrupted` is asked during a long evaluation of
    /// the filter ([`evaluate`](super::filter::Filter::evaluate)); when it says to stop, the routing is given up.
    pub fn route(self, interrupted: &dyn Fn() -> bool) -> Result<Option<ChangeEvent>, Interrupted> {
        let (ops, filter) = (self.table.ops, self.table.filter.clone());
        let selected = |row: &Row| filter.as_ref().map_or(Ok(true), |f| f.evaluate(row, interrupted));
        let change = match self.change {
            RowChange::Insert { after } => (ops.insert && selected(&after)?).then_some(RowChange::Insert { after }),
            RowChange::Update { before, after } => {
                if !ops.update {
                    None
                } else {
                    match (selected(&before)?, selected(&after)?) {
                        (true, true) => Some(RowChange::Update { before, after }),
                        (true, false) => Some(RowChange::Delete { before }),
                        (false, true) => Some(RowChange::Insert { after }),
                        (false, false) => None,
                    }
                }
            }
            RowChange::Delete { before } => (ops.delete && selected(&before)?).then_some(RowChange::Delete { before }),
        };
        Ok(change.map(|change| ChangeEvent { change, ..self }))
    }
}
