//! The transaction batcher of the incremental sync: which rows go to the sink next, and where
//! the checkpoint goes with them. Pure: no I/O; the pipeline writes what it hands out.
//!
//! Rows arrive in binlog order; a `Commit` marks the end of a source transaction. The rows up
//! to the last commit are *complete*: written together with that commit's position, the
//! checkpoint never names a position inside a transaction. The rows after it belong to the
//! transaction still open and wait — unless the batch grows past its limits, when everything
//! is written and the checkpoint stays at the last complete transaction (a restart reads the
//! open one again; writes are idempotent).

use super::{change::ChangeEvent, event::Position};

/// Where a source transaction ended: the checkpoint's position after it, its commit time and
/// the version of its last row.
#[derive(Clone, Debug, PartialEq)]
pub struct Commit {
    pub position: Position,
    pub commit_ts: u32,
    pub version: i64,
}

/// Rows to write, and the commit the checkpoint moves to with them (`None`: it stays).
#[derive(Debug)]
pub struct Flush {
    pub rows: Vec<ChangeEvent>,
    pub commit: Option<Commit>,
}

impl Flush {
    /// The source commit time the write reflects (for the lag): the commit's, else the last
    /// row's.
    pub fn commit_ts(&self) -> u32 {
        self.commit
            .as_ref()
            .map(|c| c.commit_ts)
            .unwrap_or_else(|| self.rows.last().map_or(0, |e| e.commit_ts))
    }
}

/// Rows read and not yet written.
#[derive(Debug, Default)]
pub struct Batcher {
    rows: Vec<ChangeEvent>,
    bytes: usize,
    /// `rows[..complete]` are of complete transactions.
    complete: usize,
    /// The last commit read, not yet handed out.
    commit: Option<Commit>,
}

impl Batcher {
    /// A row of the transaction being read.
    pub fn push(&mut self, change: ChangeEvent) {
        self.bytes += change.approx_size();
        self.rows.push(change);
    }

    /// The transaction being read ended at `commit`.
    pub fn commit(&mut self, commit: Commit) {
        self.complete = self.rows.len();
        self.commit = Some(commit);
    }

    /// No row waits (of a complete transaction or an open one).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Whether the rows waiting reach `rows` rows or `bytes` bytes.
    pub fn full(&self, rows: usize, bytes: usize) -> bool {
        self.rows.len() >= rows || self.bytes >= bytes
    }

    /// The complete transactions and their last commit, when a commit was read since the last
    /// hand-out (with no rows, when its transactions had none to write: the checkpoint still
    /// moves past them). The open transaction's rows stay.
    pub fn complete(&mut self) -> Option<Flush> {
        let commit = self.commit.take()?;
        let open = self.rows.split_off(self.complete);
        let rows = std::mem::replace(&mut self.rows, open);
        self.complete = 0;
        self.bytes = self.rows.iter().map(ChangeEvent::approx_size).sum();
        Some(Flush {
            rows,
            commit: Some(commit),
        })
    }

    /// Every row, the open transaction's included, with the last commit read (if any): the
    /// checkpoint moves only as far as the last complete transaction.
    pub fn all(&mut self) -> Flush {
        self.complete = 0;
        self.bytes = 0;
        Flush {
            rows: std::mem::take(&mut self.rows),
            commit: self.commit.take(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::{
        event::{RowChange, Value},
        schema::TableSchema,
    };

    fn row(id: i64, commit_ts: u32) -> ChangeEvent {
        ChangeEvent {
            table: Arc::new(TableSchema::default()),
            change: RowChange::Insert {
                after: vec![Value::Int(id)],
            },
            commit_ts,
            version: 0,
        }
    }

    fn at(pos: u64, commit_ts: u32) -> Commit {
        Commit {
            position: Position {
                file: "bin.000001".into(),
                pos,
                gtid: None,
            },
            commit_ts,
            version: pos as i64,
        }
    }

    fn ids(rows: &[ChangeEvent]) -> Vec<i64> {
        rows.iter()
            .map(|e| match &e.change {
                RowChange::Insert { after } => match after[0] {
                    Value::Int(i) => i,
                    _ => unreachable!(),
                },
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn complete_transactions_go_with_their_commit_and_the_open_one_waits() {
        let mut b = Batcher::default();
        assert!(b.complete().is_none(), "nothing committed: nothing to write");
        b.push(row(1, 10));
        b.push(row(2, 10));
        assert!(b.complete().is_none(), "an open transaction is not written");
        b.commit(at(100, 10));
        b.push(row(3, 11));
        let flush = b.complete().expect("a commit was read");
        assert_eq!(ids(&flush.rows), vec![1, 2]);
        assert_eq!(flush.commit, Some(at(100, 10)));
        assert_eq!(flush.commit_ts(), 10);
        assert!(!b.is_empty(), "row 3 waits for its commit");
        assert!(b.complete().is_none(), "the commit was handed out once");
        b.commit(at(200, 11));
        let flush = b.complete().expect("second transaction");
        assert_eq!(ids(&flush.rows), vec![3]);
        assert_eq!(flush.commit, Some(at(200, 11)));
        assert!(b.is_empty());
    }

    /// A transaction with no row to write (all filtered out) still moves the checkpoint.
    #[test]
    fn a_commit_without_rows_moves_the_checkpoint() {
        let mut b = Batcher::default();
        b.commit(at(300, 12));
        let flush = b.complete().expect("the commit");
        assert!(flush.rows.is_empty());
        assert_eq!(flush.commit, Some(at(300, 12)));
    }

    /// A batch past its limits is written whole; the checkpoint stays at the last complete
    /// transaction, and the open one's later rows and commit follow.
    #[test]
    fn a_full_batch_is_written_whole_with_the_last_complete_commit() {
        let mut b = Batcher::default();
        b.push(row(1, 10));
        b.commit(at(100, 10));
        b.push(row(2, 11));
        b.push(row(3, 11));
        assert!(b.full(3, usize::MAX));
        assert!(!b.full(4, usize::MAX));
        assert!(b.full(usize::MAX, 1), "bytes count too");
        let flush = b.all();
        assert_eq!(ids(&flush.rows), vec![1, 2, 3]);
        assert_eq!(flush.commit, Some(at(100, 10)));
        assert!(b.is_empty() && !b.full(1, 1));
        // Without a commit the checkpoint stays; the lag is the last row's.
        b.push(row(4, 11));
        let flush = b.all();
        assert_eq!(flush.commit, None);
        assert_eq!(flush.commit_ts(), 11);
        b.push(row(5, 11));
        b.commit(at(200, 11));
        let flush = b.complete().expect("the rest of the transaction");
        assert_eq!(ids(&flush.rows), vec![5]);
        assert_eq!(flush.commit, Some(at(200, 11)));
    }
}
