//! Transaction boundaries exactly as the server commits them.
//!
//! Guarantee: a row change reaches the destination only if the source committed it, once, at
//! the point in the binlog where it became visible on the source.
//!
//! What the binlog holds that is not committed, and what is done about it:
//! - **Where rows of non-transactional tables go.** In row format (the only one Ferry reads)
//!   the server writes each statement's rows of a non-transactional table (MyISAM, Aria,
//!   MEMORY) to the statement cache, flushed at the statement's end as an event group of its
//!   own, even inside a transaction; only rows of transactional tables go to the transaction's
//!   cache (`use_trans_cache` in MariaDB's and MySQL's `sql/log.cc` / `binlog.cc`: in row format
//!   the cache is chosen by the table's engine alone). So a transaction's own group holds rows
//!   of transactional tables only, whatever Ferry knows of the tables' engines now (fuzzer
//!   case 7874703291829923465: a table made MyISAM later in the binlog kept rows the server had
//!   rolled back).
//! - **Savepoints.** A transaction that only touched transactional tables and rolled back to a
//!   savepoint is logged without the rolled-back rows. One that also changed a
//!   non-transactional table is logged whole: the rolled-back rows, then a `ROLLBACK TO`
//!   statement. Those rows are *held* here until the transaction ends, and a `ROLLBACK TO`
//!   drops the held rows logged after its savepoint. (MariaDB 10.11, seen here: a `ROLLBACK TO`
//!   a savepoint set before any row is logged as the rows so far, then `ROLLBACK`, ending the
//!   group; the rows after it come as a new group.)
//! - **Rollback of such a transaction**: logged whole with `ROLLBACK` at its end; its held rows
//!   are dropped.
//! - **Which transactions are held**: MariaDB marks every event group that can be rolled back
//!   safely (its GTID event's `FL_TRANSACTIONAL` flag); a group without it is held. MySQL has
//!   no such flag: a transaction is held from its first `SAVEPOINT` on (documentation only: no
//!   MySQL server here). A `ROLLBACK TO` or `ROLLBACK` in a transaction whose rows were already
//!   passed on cannot be honoured and stops the task, naming the position, never silently.
//! - **XA**: `XA START … XA END; XA PREPARE` is logged at prepare time as an event group of its
//!   own; `XA COMMIT xid` or `XA ROLLBACK xid` comes later as another group, with other
//!   transactions between. The prepared rows are held under their xid and passed on at the
//!   `XA COMMIT` (discarded at `XA ROLLBACK`). The reader's caller records each prepared xid
//!   with the position of its group in the checkpoint, so a worker restarted between PREPARE and
//!   COMMIT reads that group again ([`super::binlog::BinlogReader::open`]) instead of losing it;
//!   since rows are applied only at the COMMIT, a replay never applies them twice.
//!   `XA COMMIT … ONE PHASE` commits at once (MariaDB logs it as a plain transaction; MySQL as
//!   an XA prepare event with its one-phase flag).

use std::collections::HashMap;

use crate::engine::{change::ChangeEvent, event::Position};

/// Most rows held for one transaction before the task stops rather than grow without bound.
pub const MAX_HELD_ROWS: usize = 2_000_000;

/// A statement of transaction control, as the binlog's Query events carry them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    Begin,
    Commit,
    Rollback,
    Savepoint(String),
    RollbackTo(String),
    Release(String),
    XaStart(String),
    XaEnd,
    XaCommit(String),
    XaRollback(String),
}

/// The transaction-control meaning of `sql`, if it has one.
pub fn control(sql: &str) -> Option<Control> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let upper: Vec<String> = words.iter().take(4).map(|w| w.to_ascii_uppercase()).collect();
    let at = |i: usize| upper.get(i).map(String::as_str);
    let name = |from: usize| words.get(from).map(|n| unquote(n)).unwrap_or_default();
    // The xid, without a trailing ONE PHASE, in canonical form.
    let xid = |from: usize| {
        let rest = words.get(from..).map(|w| w.join(" ")).unwrap_or_default();
        let rest = rest.trim_end_matches(';').trim();
        let upper = rest.to_ascii_uppercase();
        let rest = upper.find(" ONE PHASE").map_or(rest, |i| &rest[..i]);
        canonical_xid(rest)
    };
    Some(match (at(0)?, at(1), at(2)) {
        ("BEGIN", None, _) | ("BEGIN", Some("WORK"), None) => Control::Begin,
        ("START", Some("TRANSACTION"), _) => Control::Begin,
        ("COMMIT", ..) => Control::Commit,
        ("SAVEPOINT", ..) => Control::Savepoint(name(1)),
        ("ROLLBACK", Some("TO"), Some("SAVEPOINT")) => Control::RollbackTo(name(3)),
        ("ROLLBACK", Some("TO"), _) => Control::RollbackTo(name(2)),
        ("ROLLBACK", Some("WORK"), Some("TO")) if at(3) == Some("SAVEPOINT") => Control::RollbackTo(name(4)),
        ("ROLLBACK", Some("WORK"), Some("TO")) => Control::RollbackTo(name(3)),
        ("ROLLBACK", ..) => Control::Rollback,
        ("RELEASE", Some("SAVEPOINT"), _) => Control::Release(name(2)),
        ("XA", Some("START" | "BEGIN"), _) => Control::XaStart(xid(2)),
        ("XA", Some("END"), _) => Control::XaEnd,
        ("XA", Some("COMMIT"), _) => Control::XaCommit(xid(2)),
        ("XA", Some("ROLLBACK"), _) => Control::XaRollback(xid(2)),
        _ => return None,
    })
}

fn unquote(name: &str) -> String {
    let name = name.trim_end_matches(';');
    name.strip_prefix('`')
        .and_then(|n| n.strip_suffix('`'))
        .map_or_else(|| name.to_string(), |n| n.replace("``", "`"))
        .to_lowercase()
}

/// An xid as the canonical `X'GTRID',X'BQUAL',format` (hex upper-case): servers print hex in
/// either case (`XA COMMIT X'667a7834',X'',1`, the prepare event's bytes), and a statement may
/// spell parts as strings (`'x1'`) or leave out the qualifier and format.
pub fn canonical_xid(text: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (None, ',') => parts.push(std::mem::take(&mut current)),
            (None, c) if !c.is_whitespace() => current.push(c),
            _ => {}
        }
    }
    parts.push(current);
    let bytes = |part: Option<&String>| -> Vec<u8> {
        let Some(part) = part else { return Vec::new() };
        let unquote = |p: &str| p.get(1..p.len().saturating_sub(1)).unwrap_or_default().to_string();
        if let Some(hex) = part.strip_prefix(['X', 'x']).filter(|r| r.starts_with('\'')) {
            let hex = unquote(hex);
            (0..hex.len() / 2)
                .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                .collect()
        } else if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (0..hex.len() / 2)
                .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                .collect()
        } else if part.starts_with(['\'', '"']) {
            unquote(part).into_bytes()
        } else {
            part.clone().into_bytes()
        }
    };
    let hex = |b: Vec<u8>| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
    let format = parts.get(2).and_then(|f| f.parse::<u64>().ok()).unwrap_or(1);
    format!("X'{}',X'{}',{format}", hex(bytes(parts.first())), hex(bytes(parts.get(1))))
}

/// The xid of an XA_PREPARE event body (`one_phase u8, formatID u32, gtrid_length u32,
/// bqual_length u32, data`), in the form the server prints in `XA COMMIT`: `X'…',X'…',n`.
pub fn xa_prepare_body(data: &[u8]) -> Option<(bool, String)> {
    let one_phase = *data.first()? != 0;
    let format = u32::from_le_bytes(data.get(1..5)?.try_into().ok()?);
    let gtrid = u32::from_le_bytes(data.get(5..9)?.try_into().ok()?) as usize;
    let bqual = u32::from_le_bytes(data.get(9..13)?.try_into().ok()?) as usize;
    let bytes = data.get(13..13 + gtrid + bqual)?;
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
    Some((
        one_phase,
        format!("X'{}',X'{}',{format}", hex(&bytes[..gtrid]), hex(&bytes[gtrid..])),
    ))
}

/// The transaction being read.
#[derive(Debug, Default)]
struct Open {
    /// Rows are held until the end (they may still be rolled back).
    hold: bool,
    held: Vec<ChangeEvent>,
    /// Savepoints (lower-cased names) and how many rows were held when each was set.
    savepoints: Vec<(String, usize)>,
    /// Rows passed on while not holding.
    passed: usize,
    /// An XA transaction's `XA START … XA PREPARE` group: its rows become visible at its
    /// `XA COMMIT`, later in the binlog.
    xa: bool,
    /// Position of the transaction's first event (where an XA group is read again).
    start: Position,
}

/// Rows of a prepared XA transaction.
#[derive(Debug)]
struct Prepared {
    rows: Vec<ChangeEvent>,
}

/// Transaction state of one binlog reader.
#[derive(Debug, Default)]
pub struct Transactions {
    open: Option<Open>,
    prepared: HashMap<String, Prepared>,
}

/// A transaction boundary that cannot be honoured: the explanation.
pub type Refusal = String;

impl Transactions {
    /// Whether a transaction is being read.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Whether the transaction being read is an XA transaction's prepared part (its rows take
    /// effect at its `XA COMMIT`, not here).
    pub fn in_xa(&self) -> bool {
        self.open.as_ref().is_some_and(|open| open.xa)
    }

    /// The transaction being read is an XA transaction's prepared part (MariaDB marks its
    /// GTID event; MySQL logs `XA START`).
    pub fn mark_xa(&mut self) {
        if let Some(open) = &mut self.open {
            open.hold = true;
            open.xa = true;
        }
    }

    /// A transaction starts at `start`; `hold`: its rows may still be rolled back.
    pub fn begin(&mut self, hold: bool, start: Position) {
        self.open = Some(Open {
            hold,
            start,
            ..Default::default()
        });
    }

    /// A `BEGIN` statement: starts a transaction unless its GTID event already did.
    pub fn begin_statement(&mut self, start: Position) {
        if self.open.is_none() {
            self.begin(false, start);
        }
    }

    /// A row change of a selected table: held, or passed on into `out`.
    pub fn row(&mut self, event: ChangeEvent, out: &mut Vec<ChangeEvent>) -> Result<(), Refusal> {
        match &mut self.open {
            Some(open) if open.hold => {
                if open.held.len() >= MAX_HELD_ROWS {
                    return Err(format!(
                        "a transaction Ferry must hold until it ends (XA, or one that changed a non-transactional table) has more \
                         than {MAX_HELD_ROWS} rows"
                    ));
                }
                open.held.push(event);
            }
            Some(open) => {
                open.passed += 1;
                out.push(event);
            }
            None => out.push(event),
        }
        Ok(())
    }

    /// `SAVEPOINT name`. `start_holding`: the server does not say whether the transaction can
    /// be rolled back safely (MySQL), so hold from here on.
    pub fn savepoint(&mut self, name: &str, start_holding: bool) {
        let Some(open) = &mut self.open else { return };
        if start_holding {
            open.hold = true;
        }
        if open.hold {
            open.savepoints.retain(|(n, _)| n != name);
            open.savepoints.push((name.to_string(), open.held.len()));
        }
    }

    /// `ROLLBACK TO SAVEPOINT name`: drops the rows held since (all of transactional tables:
    /// see the module's documentation).
    pub fn rollback_to(&mut self, name: &str) -> Result<(), Refusal> {
        let Some(open) = &mut self.open else { return Ok(()) };
        let Some(at) = open.savepoints.iter().rposition(|(n, _)| n == name) else {
            return Err(format!(
                "ROLLBACK TO SAVEPOINT `{name}` in a transaction whose rows Ferry did not hold back"
            ));
        };
        let mark = open.savepoints[at].1;
        open.savepoints.truncate(at + 1);
        open.held.truncate(mark);
        Ok(())
    }

    /// `RELEASE SAVEPOINT name`.
    pub fn release(&mut self, name: &str) {
        if let Some(open) = &mut self.open
            && let Some(at) = open.savepoints.iter().rposition(|(n, _)| n == name)
        {
            open.savepoints.truncate(at);
        }
    }

    /// The transaction committed: its held rows go out.
    pub fn commit(&mut self, out: &mut Vec<ChangeEvent>) {
        if let Some(open) = self.open.take() {
            out.extend(open.held);
        }
    }

    /// The transaction was rolled back (it changed a non-transactional table, or the server
    /// would not have logged it): its held rows, all of transactional tables, are dropped.
    pub fn rollback(&mut self) -> Result<(), Refusal> {
        let Some(open) = self.open.take() else { return Ok(()) };
        if open.passed > 0 {
            return Err(format!(
                "a transaction was rolled back after Ferry had passed on {} of its rows",
                open.passed
            ));
        }
        Ok(())
    }

    /// `XA START xid`: the rows are held until its XA COMMIT.
    pub fn xa_start(&mut self, start: Position) {
        if self.open.is_none() {
            self.begin(true, start);
        }
        self.mark_xa();
    }

    /// The XA transaction's prepare event. With `one_phase` it commits now (its rows go to
    /// `out`); otherwise its rows wait under `xid`, and the position of its group is returned
    /// for the checkpoint.
    pub fn xa_prepare(&mut self, xid: &str, one_phase: bool, out: &mut Vec<ChangeEvent>) -> Option<Position> {
        let open = self.open.take()?;
        if one_phase {
            out.extend(open.held);
            return None;
        }
        self.prepared.insert(xid.to_string(), Prepared { rows: open.held });
        Some(open.start)
    }

    /// `XA COMMIT xid`: the prepared rows go to `out`.
    pub fn xa_commit(&mut self, xid: &str, out: &mut Vec<ChangeEvent>) -> Result<(), Refusal> {
        self.open = None;
        match self.prepared.remove(xid) {
            Some(prepared) => {
                out.extend(prepared.rows);
                Ok(())
            }
            None => Err(format!(
                "XA COMMIT of transaction {xid}, whose XA PREPARE is not in the part of the binlog Ferry has read (it was \
                 prepared before the task's start position)"
            )),
        }
    }

    /// `XA ROLLBACK xid`: the prepared rows are discarded.
    pub fn xa_rollback(&mut self, xid: &str) {
        self.open = None;
        self.prepared.remove(xid);
    }

    /// Takes the rows prepared under `xid` (a reader that read the group again hands them to
    /// the reader that goes on).
    pub fn take_prepared(&mut self, xid: &str) -> Option<Vec<ChangeEvent>> {
        self.prepared.remove(xid).map(|p| p.rows)
    }

    /// Puts back rows prepared under `xid`.
    pub fn restore_prepared(&mut self, xid: &str, rows: Vec<ChangeEvent>) {
        self.prepared.insert(xid.to_string(), Prepared { rows });
    }

    /// The transaction ended without rows of its own to release (a DDL, an empty group).
    pub fn end(&mut self) {
        self.open = None;
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

    fn row(id: i64) -> ChangeEvent {
        ChangeEvent {
            table: Arc::new(TableSchema::default()),
            change: RowChange::Insert {
                after: vec![Value::Int(id)],
            },
            commit_ts: 0,
            version: 0,
        }
    }

    fn ids(events: &[ChangeEvent]) -> Vec<i64> {
        events
            .iter()
            .map(|e| match &e.change {
                RowChange::Insert { after } => match after[0] {
                    Value::Int(i) => i,
                    _ => -1,
                },
                _ => -1,
            })
            .collect()
    }

    #[test]
    fn statements_are_recognised() {
        assert_eq!(control("BEGIN"), Some(Control::Begin));
        assert_eq!(control("START TRANSACTION"), Some(Control::Begin));
        assert_eq!(control("COMMIT"), Some(Control::Commit));
        assert_eq!(control("ROLLBACK"), Some(Control::Rollback));
        assert_eq!(control("SAVEPOINT `S1`"), Some(Control::Savepoint("s1".into())));
        assert_eq!(control("ROLLBACK TO `s1`"), Some(Control::RollbackTo("s1".into())));
        assert_eq!(control("ROLLBACK TO SAVEPOINT s1"), Some(Control::RollbackTo("s1".into())));
        assert_eq!(control("ROLLBACK WORK TO SAVEPOINT s1"), Some(Control::RollbackTo("s1".into())));
        assert_eq!(control("RELEASE SAVEPOINT `a`"), Some(Control::Release("a".into())));
        assert_eq!(control("XA START X'7831',X'',1"), Some(Control::XaStart("X'7831',X'',1".into())));
        assert_eq!(control("XA END X'7831',X'',1"), Some(Control::XaEnd));
        assert_eq!(control("XA COMMIT X'7831',X'',1"), Some(Control::XaCommit("X'7831',X'',1".into())));
        assert_eq!(
            control("XA COMMIT X'7831',X'',1 ONE PHASE"),
            Some(Control::XaCommit("X'7831',X'',1".into()))
        );
        assert_eq!(
            control("XA ROLLBACK X'7832',X'',1"),
            Some(Control::XaRollback("X'7832',X'',1".into()))
        );
        assert_eq!(control("CREATE TABLE t (a INT)"), None);
        assert_eq!(control("BEGIN NOT ATOMIC SELECT 1; END"), None);
    }

    #[test]
    fn xa_prepare_body_names_the_xid_as_the_server_prints_it() {
        let mut body = vec![0u8];
        body.extend(1u32.to_le_bytes());
        body.extend(2u32.to_le_bytes());
        body.extend(0u32.to_le_bytes());
        body.extend(b"x1");
        assert_eq!(xa_prepare_body(&body), Some((false, "X'7831',X'',1".into())));
    }

    #[test]
    fn rollback_to_savepoint_drops_the_rows_held_since() {
        let mut t = Transactions::default();
        let mut out = Vec::new();
        t.begin(true, Position::default());
        t.row(row(1), &mut out).expect("held");
        t.savepoint("s1", false);
        t.row(row(2), &mut out).expect("held");
        t.row(row(3), &mut out).expect("held");
        t.savepoint("s2", false);
        t.row(row(4), &mut out).expect("held");
        t.rollback_to("s1").expect("known savepoint");
        // s2 is gone with the rollback to s1.
        assert!(t.rollback_to("s2").is_err());
        t.row(row(5), &mut out).expect("held");
        assert!(out.is_empty(), "nothing passes before the commit");
        t.commit(&mut out);
        assert_eq!(ids(&out), vec![1, 5]);
    }

    #[test]
    fn a_rolled_back_transaction_passes_nothing_on() {
        let mut t = Transactions::default();
        let mut out = Vec::new();
        t.begin(true, Position::default());
        t.row(row(1), &mut out).expect("held");
        t.row(row(2), &mut out).expect("held");
        t.rollback().expect("held rows can be rolled back");
        assert!(out.is_empty());
        // Rows already passed on cannot be taken back: refused, not ignored.
        let mut t = Transactions::default();
        let mut out = Vec::new();
        t.begin(false, Position::default());
        t.row(row(1), &mut out).expect("passed");
        t.savepoint("s", false);
        assert!(t.rollback_to("s").is_err());
        assert!(t.rollback().is_err());
    }

    #[test]
    fn mysql_transactions_hold_from_their_first_savepoint() {
        let mut t = Transactions::default();
        let mut out = Vec::new();
        t.begin(false, Position::default());
        t.row(row(1), &mut out).expect("passed");
        t.savepoint("a", true);
        t.row(row(2), &mut out).expect("held");
        t.rollback_to("a").expect("known");
        t.commit(&mut out);
        assert_eq!(ids(&out), vec![1]);
    }

    #[test]
    fn xa_rows_wait_for_their_commit() {
        let mut t = Transactions::default();
        let mut out = Vec::new();
        let start = Position {
            file: "b.1".into(),
            pos: 42,
            gtid: None,
        };
        t.xa_start(start.clone());
        t.row(row(1), &mut out).expect("held");
        assert_eq!(t.xa_prepare("X'31',X'',1", false, &mut out), Some(start));
        assert!(out.is_empty());
        // Another transaction commits in between.
        t.begin(false, Position::default());
        t.row(row(9), &mut out).expect("passed");
        t.commit(&mut out);
        t.xa_commit("X'31',X'',1", &mut out).expect("prepared");
        assert_eq!(ids(&out), vec![9, 1]);
        assert!(
            t.xa_commit("X'31',X'',1", &mut out).is_err(),
            "a second commit has nothing to apply"
        );
        t.xa_start(Position::default());
        t.row(row(2), &mut out).expect("held");
        t.xa_prepare("X'32',X'',1", false, &mut out);
        t.xa_rollback("X'32',X'',1");
        assert_eq!(ids(&out), vec![9, 1]);
        t.xa_start(Position::default());
        t.row(row(3), &mut out).expect("held");
        assert_eq!(t.xa_prepare("X'33',X'',1", true, &mut out), None);
        assert_eq!(ids(&out), vec![9, 1, 3]);
    }
}
