//! The checkpoint: how far a task has got, stored in the destination.
//!
//! Guarantee: the checkpoint is written in the same destination transaction as the rows it
//! covers, so after any crash the destination holds exactly the rows of some checkpoint plus,
//! possibly, rows of the batch after it — never a checkpoint ahead of its rows. Restarting
//! from it re-applies at most one batch, which the idempotent writes make harmless.
//!
//! `position` is where the binlog resumes: during full sync it is the position of the task's
//! *first* snapshot, so the binlog replays every change made after any chunk was read (later
//! snapshots — parallel readers, restarts — only start later). Each table's key ranges record
//! their finished chunks by last key, so a restart continues every range where it stopped.
//!
//! Fencing: a worker claims the task by incrementing its epoch; every later write is
//! conditional on that epoch, so a stale worker's writes roll back instead of landing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::event::{Position, Row};

/// Progress of a task as stored in the destination.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// Where incremental sync resumes. Set when the task first starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// Full-sync progress per source table (`db.table`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<String, TableProgress>,
    /// Whether the full sync has finished.
    #[serde(default)]
    pub full_done: bool,
    /// Version (ms) of the last event before `position`; the next event's version is larger.
    /// Set to the first snapshot's start time, which is also every snapshot row's version.
    #[serde(default)]
    pub version: i64,
    /// Version of every snapshot row.
    #[serde(default)]
    pub base_version: i64,
    /// XA transactions prepared before `position` and not yet committed or rolled back: xid →
    /// where their event group starts. The binlog reader reads those groups again when it
    /// starts, so their rows are applied at their XA COMMIT even across a restart.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending_xa: BTreeMap<String, Position>,
    /// Tables the task synchronised and that left its `objects` since: when one comes back, its
    /// destination table is emptied and copied again (changes made while it was out never
    /// reached the destination). A table whose rows changed without row events (a computed
    /// ADD COLUMN) is put here too, and copied again the same way at the next run.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub left: std::collections::BTreeSet<String>,
    /// Tables `objects` names that the task followed until the source dropped them (a DROP
    /// TABLE, a CREATE OR REPLACE that failed): the source not having one is expected, and a
    /// later CREATE of it is followed. A listed table the task never knew and the source does
    /// not have stays an error (a misspelt name).
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub dropped: std::collections::BTreeSet<String>,
}

impl Checkpoint {
    /// The version of an event committed at `commit_ts` (seconds) that follows `last`:
    /// its commit time in milliseconds, or `last + 1` where that is not larger (several events
    /// in one millisecond, or commit times that go back), so versions follow source order.
    pub fn next_version(last: i64, commit_ts: u32) -> i64 {
        (i64::from(commit_ts) * 1000).max(last + 1)
    }

    /// Serialised form stored in the destination.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// Parses the stored form; an empty or `{}` state is a fresh task.
    pub fn from_json(text: &str) -> Result<Checkpoint, serde_json::Error> {
        if text.trim().is_empty() {
            return Ok(Checkpoint::default());
        }
        serde_json::from_str(text)
    }
}

/// Full-sync progress of one table: its key ranges ("slices"), copied independently and in
/// parallel. A table is one slice unless it is large enough to be split; the split is stored
/// before any of its rows are copied, so a restart resumes the same slices.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableProgress {
    /// The table's key ranges in key order; empty until the table is first visited.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<SliceProgress>,
    /// Rows copied.
    pub rows: u64,
    /// Every slice copied.
    pub done: bool,
    /// The source columns the task keeps for this table when the source added columns it does
    /// not follow (`addColumn` off); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// The source columns the copy of this table reads, while it is being copied (cleared when
    /// done): a copy resumed after the source added or dropped a column starts over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copy_columns: Vec<String>,
    /// Where the snapshot the table's copy started from stands in the binlog, when that is
    /// after the task's resume position (a table added to the task later, one that came back,
    /// one copied again): the copy already holds every change of the table logged before it,
    /// so the binlog reader skips those — rows in the shape the table had then, and DDL the
    /// copy already reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copied_from: Option<Position>,
}

/// Progress of one key range of a table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SliceProgress {
    /// Key of the last row copied (the range's exclusive lower bound before any row is);
    /// `None`: from the table's first row. The next chunk starts after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_key: Option<Row>,
    /// Last key of the range, inclusive; `None`: to the table's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper: Option<Row>,
    /// Rows copied.
    pub rows: u64,
    /// Every chunk copied.
    pub done: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::{GtidState, Value};

    #[test]
    fn round_trips_through_json() {
        let mut cp = Checkpoint {
            position: Some(Position {
                file: "bin.000002".into(),
                pos: 1234,
                gtid: GtidState::parse_mariadb("0-1-9"),
            }),
            ..Default::default()
        };
        cp.tables.insert(
            "shop.orders".into(),
            TableProgress {
                slices: vec![
                    SliceProgress {
                        last_key: Some(vec![Value::Text("k".into()), Value::UInt(u64::MAX)]),
                        upper: Some(vec![Value::Text("m".into()), Value::UInt(0)]),
                        rows: 10,
                        done: false,
                    },
                    SliceProgress {
                        last_key: Some(vec![Value::Text("m".into()), Value::UInt(0)]),
                        ..Default::default()
                    },
                ],
                rows: 10,
                done: false,
                columns: Some(vec!["id".into(), "v".into()]),
                copy_columns: vec!["id".into(), "v".into()],
                copied_from: None,
            },
        );
        assert_eq!(Checkpoint::from_json(&cp.to_json()).expect("parses"), cp);
        assert_eq!(Checkpoint::from_json("{}").expect("parses"), Checkpoint::default());
    }

    #[test]
    fn versions_follow_source_order_even_when_commit_times_do_not() {
        let v1 = Checkpoint::next_version(0, 1_700_000_000);
        assert_eq!(v1, 1_700_000_000_000);
        let v2 = Checkpoint::next_version(v1, 1_700_000_000);
        assert_eq!(v2, v1 + 1);
        let v3 = Checkpoint::next_version(v2, 1_699_999_999);
        assert_eq!(v3, v2 + 1);
        assert_eq!(Checkpoint::next_version(v3, 1_700_000_005), 1_700_000_005_000);
    }
}
