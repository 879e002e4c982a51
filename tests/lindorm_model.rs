//! The Lindorm sink's version and delete scheme, checked against a model of LindormTable's
//! *documented* versioning — a test oracle for documented semantics, not a stand-in for
//! Lindorm (no Lindorm instance exists here; docs/lindorm.md gives the page of each rule).
//! The model is driven by the statements the real sink emits for a batch
//! ([`lindorm::plan_batch`], the function its `apply` runs), at the pace the sink keeps
//! ([`lindorm::WRITE_GAP`]).
//!
//! Rules the model encodes:
//! 1. A row is addressed by its whole primary key; `UPSERT` writes every column it names as a
//!    cell, overwriting that column (UPSERT page; MySQL-compatibility page: "INSERT is UPSERT:
//!    it overwrites the columns the statement names").
//! 2. A cell's version is the `_l_ts_` hint where one is given, else the server's write time;
//!    versions are milliseconds and the newest version of a cell is what a read returns ("Use
//!    hints to implement data versioning"; search index limits page, document 403313, for the
//!    millisecond unit).
//! 3. `DELETE FROM t WHERE <every key column> = …` takes no hint (DELETE grammar) and removes
//!    the row's data up to the server's time; data written with a later version — "a future
//!    timestamp" — is not removed (DELETE page). Whether data whose version *equals* the
//!    delete's time is removed is not documented: every scenario runs under both readings.
//! 4. Not documented: what a NULL in an UPSERT does. Either it writes the column (rule 1's
//!    "overwrites"), hiding older values of that cell, or it leaves the older value; the sink
//!    probes which at its claim, and every scenario runs under both readings, each with the
//!    sink's plan for it ([`lindorm::plan_phases`]).
//! 5. Inferred, the sink's side of the contract: every statement of one phase of a batch in
//!    the same millisecond (the worst case), and between two phases or batches at least the
//!    sink's pause ([`lindorm::WRITE_GAP`]) minus one millisecond of rounding; a restart takes
//!    longer. That the sink keeps the pause is checked against the MariaDB stand-in's log in
//!    `tests/lindorm_client.rs`.
//! 6. Inferred: a row exists while any of its non-key cells is visible (a row is its cells).
//!
//! Not modelled: retention of several versions (`VERSIONS`), TTL, compaction, other writers.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use ferry::engine::{
    change::ChangeEvent,
    checkpoint::Checkpoint,
    event::{Row, RowChange, TableId, Value},
    schema::{Column, ColumnKind, TableSchema},
    sink::lindorm::{
        self, NullWrites,
        dialect::{self, Dialect, Escapes},
    },
};

/// A cell: (version, literal as written).
type Cell = (i64, String);

/// A row: its newest tombstone's time, and its cells by column.
type StoredRow = (Option<i64>, HashMap<String, Vec<Cell>>);

/// LindormTable's visible data under rules 1–4, for one table.
struct Model {
    table: Arc<TableSchema>,
    escapes: Escapes,
    /// Whether a delete at time T also removes data of version T (rule 3's open reading).
    delete_covers_equal: bool,
    /// Whether a NULL in an UPSERT writes the column (rule 4's open reading).
    nulls_overwrite: bool,
    /// key literals → (newest tombstone time, cells by column).
    rows: HashMap<Vec<String>, StoredRow>,
}

impl Model {
    fn new(table: Arc<TableSchema>, escapes: Escapes, delete_covers_equal: bool, nulls_overwrite: bool) -> Self {
        Self {
            table,
            escapes,
            delete_covers_equal,
            nulls_overwrite,
            rows: HashMap::new(),
        }
    }

    fn hidden(&self, tombstone: Option<i64>, version: i64) -> bool {
        tombstone.is_some_and(|t| version < t || (self.delete_covers_equal && version == t))
    }

    /// Runs one statement at server time `now`.
    fn execute(&mut self, sql: &str, now: i64) {
        let tokens = lex(sql, self.escapes);
        let words: Vec<&str> = tokens.iter().map(String::as_str).collect();
        let key_names: Vec<String> = self.table.key.iter().map(|&k| self.table.columns[k].target.clone()).collect();
        match words.first().copied() {
            Some("UPSERT") => {
                let (version, rest) = match words.get(1) {
                    Some(hint) if hint.starts_with("/*+") => (hint_version(hint), &words[2..]),
                    _ => (now, &words[1..]),
                };
                assert_eq!(rest[0], "INTO", "{sql}");
                let open = rest.iter().position(|w| *w == "(").expect("column list");
                let close = rest.iter().position(|w| *w == ")").expect("column list");
                let columns: Vec<String> = rest[open + 1..close]
                    .iter()
                    .filter(|w| **w != ",")
                    .map(|w| unquote_ident(w))
                    .collect();
                assert_eq!(rest[close + 1], "VALUES", "{sql}");
                let mut i = close + 2;
                while i < rest.len() {
                    assert_eq!(rest[i], "(", "{sql}");
                    let mut values = Vec::new();
                    i += 1;
                    while rest[i] != ")" {
                        if rest[i] != "," {
                            values.push(rest[i].to_string());
                        }
                        i += 1;
                    }
                    i += 1;
                    if rest.get(i) == Some(&",") {
                        i += 1;
                    }
                    let by_name: HashMap<&String, &String> = columns.iter().zip(&values).collect();
                    let key: Vec<String> = key_names.iter().map(|k| by_name[k].clone()).collect();
                    let row = self.rows.entry(key).or_default();
                    for (column, value) in columns.iter().zip(&values) {
                        if !self.nulls_overwrite && value == "NULL" {
                            continue;
                        }
                        if !key_names.contains(column) {
                            row.1.entry(column.clone()).or_default().push((version, value.clone()));
                        }
                    }
                }
            }
            Some("DELETE") => {
                assert_eq!(&words[1..5], ["FROM", "`app`", ".", "`kv`"], "no hint may follow DELETE: {sql}");
                let at = words.iter().position(|w| *w == "WHERE").expect("WHERE");
                let mut terms = HashMap::new();
                for term in words[at + 1..].split(|w| *w == "AND") {
                    assert_eq!(term.len(), 3, "{sql}");
                    assert_eq!(term[1], "=", "{sql}");
                    terms.insert(unquote_ident(term[0]), term[2].to_string());
                }
                assert_eq!(terms.len(), key_names.len(), "a delete names every key column: {sql}");
                let key: Vec<String> = key_names.iter().map(|k| terms[k].clone()).collect();
                let row = self.rows.entry(key).or_default();
                row.0 = Some(row.0.map_or(now, |t| t.max(now)));
            }
            _ => panic!("the model does not know {sql}"),
        }
    }

    /// The visible rows: key literals → every column's literal, NULL where no visible cell.
    fn visible(&self) -> BTreeMap<Vec<String>, Vec<String>> {
        let mut out = BTreeMap::new();
        for (key, (tombstone, cells)) in &self.rows {
            let mut any = false;
            let mut row = Vec::new();
            let mut k = 0;
            for (i, column) in self.table.columns.iter().enumerate() {
                if self.table.key.contains(&i) {
                    row.push(key[k].clone());
                    k += 1;
                    continue;
                }
                let newest = cells
                    .get(&column.target)
                    .into_iter()
                    .flatten()
                    .filter(|(v, _)| !self.hidden(*tombstone, *v))
                    .max_by_key(|(v, _)| *v);
                any |= newest.is_some();
                row.push(newest.map_or_else(|| "NULL".to_string(), |(_, value)| value.clone()));
            }
            if any {
                out.insert(key.clone(), row);
            }
        }
        out
    }
}

fn hint_version(hint: &str) -> i64 {
    let inner = hint
        .split("_l_ts_(")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .expect("an _l_ts_ hint");
    inner.parse().expect("a numeric version")
}

fn unquote_ident(w: &str) -> String {
    w.trim_matches('`').to_string()
}

/// Tokens of a statement: backtick names and string literals (kept as written), hints, words
/// and punctuation.
fn lex(sql: &str, escapes: Escapes) -> Vec<String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                while !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i += 2;
            }
            '`' => {
                i += 1;
                while chars[i] != '`' {
                    i += 1;
                }
                i += 1;
            }
            '\'' => {
                i += 1;
                loop {
                    match chars[i] {
                        '\\' if escapes == Escapes::Backslash => i += 2,
                        '\'' if escapes == Escapes::QuoteOnly && chars.get(i + 1) == Some(&'\'') => i += 2,
                        '\'' => break,
                        _ => i += 1,
                    }
                }
                i += 1;
            }
            '(' | ')' | ',' | '=' => i += 1,
            '.' if out.last().is_some_and(|t| t.ends_with('`')) => i += 1,
            _ => {
                while i < chars.len() && !chars[i].is_whitespace() && !"(),=".contains(chars[i]) {
                    i += 1;
                }
            }
        }
        out.push(chars[start..i].iter().collect());
    }
    out
}

fn table() -> Arc<TableSchema> {
    let column = |name: &str, kind: ColumnKind, ty: &str, nullable: bool, ordinal: usize| Column {
        name: name.into(),
        target: name.into(),
        kind,
        column_type: ty.into(),
        nullable,
        ordinal,
        collation: None,
    };
    Arc::new(TableSchema {
        source: TableId::new("app", "kv"),
        target: TableId::new("app", "kv"),
        columns: vec![
            column("id", ColumnKind::Int { unsigned: false, bytes: 8 }, "bigint(20)", false, 0),
            column("v", ColumnKind::Text { charset: "utf8mb4".into() }, "varchar(20)", true, 1),
            column("b", ColumnKind::Binary, "varbinary(8)", true, 2),
            column("n", ColumnKind::Int { unsigned: false, bytes: 4 }, "int(11)", true, 3),
        ],
        key: vec![0],
        key_name: "PRIMARY".into(),
        ..Default::default()
    })
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A source workload: row changes with their commit times, applied to the source's rows.
struct Workload {
    table: Arc<TableSchema>,
    source: BTreeMap<i64, Row>,
    events: Vec<ChangeEvent>,
    version: i64,
}

impl Workload {
    fn new() -> Self {
        Self {
            table: table(),
            source: BTreeMap::new(),
            events: Vec::new(),
            version: 0,
        }
    }

    fn row(&self, id: i64, rng: &mut Rng) -> Row {
        let pick = rng.below(4);
        vec![
            Value::Int(id),
            if pick == 0 {
                Value::Null
            } else {
                Value::Text(format!("v{}'s \\ {}", id, rng.below(1000)))
            },
            if pick == 1 {
                Value::Null
            } else {
                Value::Bytes(vec![0, (rng.below(256)) as u8, 0xff])
            },
            if pick == 2 {
                Value::Null
            } else {
                Value::Int(rng.below(100) as i64)
            },
        ]
    }

    fn push(&mut self, change: RowChange, commit_ts: u32) {
        self.version = Checkpoint::next_version(self.version, commit_ts);
        match &change {
            RowChange::Insert { after } => {
                self.source.insert(key(after), after.clone());
            }
            RowChange::Update { before, after } => {
                self.source.remove(&key(before));
                self.source.insert(key(after), after.clone());
            }
            RowChange::Delete { before } => {
                self.source.remove(&key(before));
            }
        }
        self.events.push(ChangeEvent {
            table: self.table.clone(),
            change,
            commit_ts,
            version: self.version,
        });
    }

    fn insert(&mut self, id: i64, rng: &mut Rng, commit_ts: u32) {
        let after = self.row(id, rng);
        match self.source.get(&id).cloned() {
            // The source would refuse a duplicate; REPLACE logs a delete and an insert.
            Some(before) => {
                self.push(RowChange::Delete { before }, commit_ts);
                self.push(RowChange::Insert { after }, commit_ts);
            }
            None => self.push(RowChange::Insert { after }, commit_ts),
        }
    }

    fn delete(&mut self, id: i64, commit_ts: u32) {
        if let Some(before) = self.source.get(&id).cloned() {
            self.push(RowChange::Delete { before }, commit_ts);
        }
    }

    /// Random inserts, updates (some changing the key), deletes and re-inserts over few keys.
    fn random(&mut self, rng: &mut Rng, events: usize, commit_ts: impl Fn(usize) -> u32) {
        for i in 0..events {
            let ts = commit_ts(i);
            let id = rng.below(12) as i64;
            match (rng.below(5), self.source.get(&id).cloned()) {
                (0 | 1, _) => self.insert(id, rng, ts),
                (2, Some(before)) => {
                    let after = self.row(id, rng);
                    self.push(RowChange::Update { before, after }, ts);
                }
                (3, Some(before)) => {
                    let to = rng.below(12) as i64;
                    if !self.source.contains_key(&to) {
                        let mut after = self.row(to, rng);
                        after[0] = Value::Int(to);
                        self.push(RowChange::Update { before, after }, ts);
                    }
                }
                _ => self.delete(id, ts),
            }
        }
    }

    /// The source's rows as the sink writes them: key literals → column literals.
    fn expected(&self, d: Dialect) -> BTreeMap<Vec<String>, Vec<String>> {
        self.source
            .values()
            .map(|row| {
                let literals: Vec<String> = self
                    .table
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| dialect::literal(d, c, v).expect("literal"))
                    .collect();
                (vec![literals[0].clone()], literals)
            })
            .collect()
    }

    /// The events cut into batches of 1 to 40, as the apply loop cuts a stream.
    fn batches(&self, rng: &mut Rng) -> Vec<Vec<ChangeEvent>> {
        let mut out = Vec::new();
        let mut rest = &self.events[..];
        while !rest.is_empty() {
            let n = (1 + rng.below(40) as usize).min(rest.len());
            out.push(rest[..n].to_vec());
            rest = &rest[n..];
        }
        out
    }
}

fn key(row: &Row) -> i64 {
    match row[0] {
        Value::Int(i) => i,
        _ => unreachable!(),
    }
}

/// Which statements drive the model: the sink's own, or the scheme it replaced (every upsert
/// stamped `_l_ts_` = the newest source-order version of its batch), the negative control.
#[derive(Clone, Copy, PartialEq)]
enum Scheme {
    Sink,
    CommitTimeVersions,
    /// The sink's plan for NULLs that overwrite, whatever the reading: the control for rule 4.
    OverwritePlanOnly,
}

/// A reading of the open points: the session's escaping, whether a delete at T removes version
/// T, what an UPSERT's NULL does.
type Reading = (Escapes, bool, NullWrites);

/// Server time in milliseconds, for the model: "now" of the scenario.
const NOW: i64 = 1_765_000_000_000;

struct Run {
    /// What the sink's probe found, and so how it plans.
    nulls: NullWrites,
    model: Model,
    clock: i64,
    dialect: Dialect,
    scheme: Scheme,
    /// Milliseconds the server's clock moves between batches.
    gap: i64,
}

impl Run {
    fn new(reading: Reading, scheme: Scheme) -> Self {
        let (escapes, delete_covers_equal, nulls) = reading;
        Self {
            nulls,
            model: Model::new(table(), escapes, delete_covers_equal, nulls == NullWrites::Overwrite),
            clock: NOW,
            dialect: Dialect {
                escapes,
                ..Dialect::default()
            },
            scheme,
            // Rule 5: the sink's pause, less a millisecond of rounding.
            gap: lindorm::WRITE_GAP.as_millis() as i64 - 1,
        }
    }

    /// Applies one batch the way the sink does: each phase's statements of every lane, then the
    /// pause.
    fn apply(&mut self, batch: &[ChangeEvent]) {
        let nulls = match self.scheme {
            Scheme::OverwritePlanOnly => NullWrites::Overwrite,
            _ => self.nulls,
        };
        let phases = lindorm::plan_phases(self.dialect, batch, 8, nulls).expect("the sink plans the batch");
        let newest = batch.iter().map(|e| e.version).max().unwrap_or(0);
        for lanes in phases {
            for (sql, _) in lanes.into_iter().flatten() {
                let sql = match self.scheme {
                    Scheme::CommitTimeVersions => sql.replacen("UPSERT INTO", &format!("UPSERT /*+ _l_ts_({newest}) */ INTO"), 1),
                    _ => sql,
                };
                self.model.execute(&sql, self.clock);
            }
            self.clock += self.gap;
        }
    }

    fn restart(&mut self) {
        self.clock += 3_000;
    }
}

/// Every reading and escaping the sink may meet.
fn readings() -> Vec<Reading> {
    let mut out = Vec::new();
    for escapes in [Escapes::Backslash, Escapes::QuoteOnly] {
        for covers in [true, false] {
            for nulls in [NullWrites::Overwrite, NullWrites::Keep] {
                out.push((escapes, covers, nulls));
            }
        }
    }
    out
}

/// Runs `scenario` (which applies the workload's batches to a run) under every reading; the
/// model's visible rows must equal the source's.
fn ends_equal(name: &str, build: impl Fn(&mut Rng) -> Workload, scenario: impl Fn(&mut Run, &[Vec<ChangeEvent>])) {
    for seed in 1..=20u64 {
        for reading in readings() {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let workload = build(&mut rng);
            let batches = workload.batches(&mut rng);
            let mut run = Run::new(reading, Scheme::Sink);
            scenario(&mut run, &batches);
            assert_eq!(
                run.model.visible(),
                workload.expected(run.dialect),
                "{name}: seed {seed}, reading (escapes, a delete at T removes version T, NULLs) {reading:?}"
            );
        }
    }
}

/// Whether the replaced scheme (or a sink without its pause) ends unequal in some seed and
/// reading: the model can tell the schemes apart, so its passing verdicts mean something.
fn some_run_diverges(build: impl Fn(&mut Rng) -> Workload, scheme: Scheme, gap: Option<i64>) -> bool {
    (1..=20u64).any(|seed| {
        readings().into_iter().any(|reading| {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let workload = build(&mut rng);
            let batches = workload.batches(&mut rng);
            let mut run = Run::new(reading, scheme);
            if let Some(gap) = gap {
                run.gap = gap;
            }
            for batch in &batches {
                run.apply(batch);
            }
            run.model.visible() != workload.expected(run.dialect)
        })
    })
}

fn apply_all(run: &mut Run, batches: &[Vec<ChangeEvent>]) {
    for batch in batches {
        run.apply(batch);
    }
}

fn now_seconds() -> u32 {
    (NOW / 1000) as u32
}

/// Commit times a second apart per 40 events, ending at the server's "now".
fn live(workload: &mut Workload, rng: &mut Rng, events: usize) {
    workload.random(rng, events, |i| now_seconds() - (events - i) as u32 / 40);
}

#[test]
fn delete_then_reinsert_of_one_key_in_one_batch() {
    ends_equal(
        "one batch",
        |rng| {
            let mut w = Workload::new();
            w.insert(1, rng, now_seconds());
            w.delete(1, now_seconds());
            w.insert(1, rng, now_seconds());
            w.insert(2, rng, now_seconds());
            w.delete(2, now_seconds());
            w
        },
        |run, batches| run.apply(&batches.concat()),
    );
}

#[test]
fn delete_then_reinsert_across_batches() {
    ends_equal(
        "across batches",
        |rng| {
            let mut w = Workload::new();
            live(&mut w, rng, 400);
            w
        },
        apply_all,
    );
}

#[test]
fn delete_then_reinsert_across_a_restart() {
    ends_equal(
        "across a restart",
        |rng| {
            let mut w = Workload::new();
            live(&mut w, rng, 400);
            w
        },
        |run, batches| {
            // The worker writes batch k but dies before its checkpoint; the next one replays
            // from batch k.
            let k = batches.len() / 2;
            for batch in &batches[..=k] {
                run.apply(batch);
            }
            run.restart();
            for batch in &batches[k..] {
                run.apply(batch);
            }
        },
    );
}

#[test]
fn replay_from_an_older_checkpoint() {
    ends_equal(
        "replay from an older checkpoint",
        |rng| {
            let mut w = Workload::new();
            live(&mut w, rng, 400);
            w
        },
        |run, batches| {
            apply_all(run, batches);
            // A checkpoint from a third of the way in (a restored backup, a retry after a
            // lost acknowledgement): everything after it is written again.
            run.restart();
            apply_all(run, &batches[batches.len() / 3..]);
        },
    );
}

/// Commit times three hours behind the server's clock.
fn lagging(rng: &mut Rng) -> Workload {
    let mut w = Workload::new();
    w.random(rng, 400, |i| now_seconds() - 3 * 3600 + i as u32 / 40);
    w
}

/// 5,000 row events committed within one second.
fn dense(rng: &mut Rng) -> Workload {
    let mut w = Workload::new();
    w.random(rng, 5000, |_| now_seconds());
    w
}

/// A source clock 10 minutes ahead, or behind.
fn skewed(ahead: bool) -> impl Fn(&mut Rng) -> Workload {
    move |rng| {
        let mut w = Workload::new();
        let base = if ahead { now_seconds() + 600 } else { now_seconds() - 600 };
        w.random(rng, 400, |i| base + i as u32 / 40);
        w
    }
}

#[test]
fn a_task_lagging_hours_behind() {
    ends_equal("lagging 3 h", lagging, apply_all);
}

#[test]
fn more_than_a_thousand_row_events_per_second() {
    ends_equal("5,000 events in a second", dense, apply_all);
}

#[test]
fn a_source_clock_skewed_ten_minutes() {
    ends_equal("source clock +10 min", skewed(true), apply_all);
    ends_equal("source clock -10 min", skewed(false), apply_all);
}

/// The negative controls: under the model, the scheme the sink replaced (upserts stamped with
/// source-order versions, deletes at the server's time) loses rows in each of these scenarios,
/// and so does the sink's own statements without its pause between batches.
#[test]
fn the_model_tells_the_replaced_scheme_and_a_missing_pause_apart() {
    assert!(some_run_diverges(lagging, Scheme::CommitTimeVersions, None), "lagging");
    assert!(some_run_diverges(dense, Scheme::CommitTimeVersions, None), "dense");
    assert!(some_run_diverges(skewed(true), Scheme::CommitTimeVersions, None), "ahead");
    assert!(some_run_diverges(skewed(false), Scheme::CommitTimeVersions, None), "behind");
    assert!(
        some_run_diverges(
            |rng| {
                let mut w = Workload::new();
                live(&mut w, rng, 400);
                w
            },
            Scheme::Sink,
            Some(0)
        ),
        "no pause"
    );
    assert!(
        some_run_diverges(
            |rng| {
                let mut w = Workload::new();
                live(&mut w, rng, 400);
                w
            },
            Scheme::OverwritePlanOnly,
            None
        ),
        "NULLs that keep the older value, written with the plan for NULLs that overwrite"
    );
}

/// What the sink sends, in the order it sends it, for a delete and re-insert across batches.
#[test]
fn statements_carry_no_version_hint() {
    let mut rng = Rng(7);
    let mut w = Workload::new();
    w.insert(1, &mut rng, now_seconds());
    let first = w.events.clone();
    w.delete(1, now_seconds());
    let lanes = lindorm::plan_batch(Dialect::default(), &first, 8).expect("plans");
    let upsert: Vec<&String> = lanes.iter().flatten().map(|(sql, _)| sql).collect();
    assert_eq!(upsert.len(), 1);
    assert!(
        upsert[0].starts_with("UPSERT INTO `app`.`kv` (`id`, `v`, `b`, `n`) VALUES (1, "),
        "{}",
        upsert[0]
    );
    let lanes = lindorm::plan_batch(Dialect::default(), &w.events[1..], 8).expect("plans");
    let delete: Vec<&String> = lanes.iter().flatten().map(|(sql, _)| sql).collect();
    assert_eq!(delete, vec!["DELETE FROM `app`.`kv` WHERE `id` = 1"]);
}
