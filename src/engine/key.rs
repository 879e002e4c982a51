//! Key identity: when two key values name the same row, and in which order the server puts
//! them.
//!
//! The rule: **a key is what the servers say it is.** Ferry never decides key equality or key
//! order by comparing the bytes it holds; it makes the server do it, or it uses a rule that is
//! provably consistent with the server's.
//!
//! - **Order** (keyset chunks, split points, `verify`'s ranges) is the server's: every
//!   predicate on a key compares the *column* with a literal of the column's own kind, so the
//!   column's type and collation decide — an ENUM or SET by its index or bitmask (`ORDER BY`
//!   sorts them so; comparing with a string would compare labels and skip whole ranges), a
//!   DECIMAL by its exact decimal literal, a FLOAT by the exact value of its 32 bits written as
//!   a DOUBLE literal (a shorter literal would compare unequal), BIT as a number, binary data as
//!   `X'…'`, text as a string literal that the column's collation compares (case, accents,
//!   PAD SPACE). [`select_expr`] selects ENUM and SET as numbers so that the values Ferry reads
//!   back are the ones its predicates compare.
//! - **Equality on the apply path** (which lane a write takes): writes to keys the destination
//!   considers equal must keep their source order, so they must take the same lane. A key
//!   change of `'a'` to `'A'` under a `_ci` collation is a delete of one image and an upsert of
//!   the other: to the server they are one row. [`LaneKey`] hashes each key column by a form
//!   that equal keys share: exact values for numbers, temporal values, binary strings (BINARY(n)
//!   is padded back to n bytes by the decoder), ENUM index and SET bitmask; text under a binary
//!   collation without its trailing spaces when the collation pads (PAD SPACE); and text under
//!   any other collation is left out of the hash (Ferry does not re-implement collations, so
//!   such keys of one table share a lane — correct, and parallel across tables and across the
//!   key's other columns).
//! - **Merging** writes of one batch ([`super::sink::net_effect`]) stays by exact value: each
//!   exact key's last write, deletes before upserts. Within one lane that ends with the rows
//!   the source has even when two exact keys are one row to the server — a delete always names
//!   the stored image, so a row's other spellings end with their deletes — and an upsert
//!   rewrites the key columns too, so the destination row is byte-identical to the source row.
//! - **Where the server disagrees with itself**: a CHAR key under a NO PAD collation (MariaDB's
//!   `_nopad_` collations, MySQL 8's `_0900_` ones) is ordered in the index with its padding
//!   (InnoDB stores CHAR padded with spaces) but compared in expressions without it (a CHAR
//!   value is read back trimmed). `'\0'` and `''` are then two rows of a unique index, yet
//!   `k = ''` holds for both and `k > '\0'` for neither, so a keyset page after `'\0'` skips
//!   `''`, whichever plan the server picks. No predicate can be trusted on such a key:
//!   [`keyset_pages`] says so, and such a table is read in one key-order scan without bounds
//!   (and `verify` compares it as one range). Checked on MariaDB 10.11; for MySQL 8 an
//!   inference from its documentation (CHAR is stored padded, NO PAD compares trailing
//!   spaces), so it is treated the same.
//! - A destination whose key columns compare differently from the source's (another collation
//!   on an existing table) could merge two source rows into one: that is refused before
//!   anything is written ([`check_key_collations`]).

use std::hash::{Hash, Hasher};

use super::{
    event::{Row, Value},
    mysql_conn::{push_sql_literal, quote_ident},
    retry::{SyncError, SyncResult},
    schema::{Column, ColumnKind, TableSchema},
};

/// How a server compares two values of a text column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEquality {
    /// Byte for byte (`binary`, NO PAD binary collations).
    Exact,
    /// Byte for byte after trailing spaces (binary collations with PAD SPACE, e.g. `utf8mb4_bin`).
    PadSpace,
    /// By a collation's rules (case, accents, expansions): only the server knows.
    Collated,
}

/// How `collation` compares (a column without one is binary).
pub fn text_equality(collation: Option<&str>) -> TextEquality {
    match collation {
        None | Some("binary") => TextEquality::Exact,
        Some(c) if c.ends_with("_bin") => {
            // MySQL's 0900 collations and MariaDB's nopad ones do not pad.
            if c.contains("nopad") || c.contains("_0900_") {
                TextEquality::Exact
            } else {
                TextEquality::PadSpace
            }
        }
        Some(_) => TextEquality::Collated,
    }
}

/// Whether a keyset predicate on `column` selects what the index order says: false for CHAR
/// under a NO PAD collation, whose index order (padded) and comparisons (trimmed) differ.
pub fn predicates_follow_index(column: &Column) -> bool {
    let fixed = column.column_type.to_ascii_lowercase().starts_with("char");
    let no_pad = column
        .collation
        .as_deref()
        .is_some_and(|c| c.contains("nopad") || c.contains("_0900_"));
    !(matches!(column.kind, ColumnKind::Text { .. }) && fixed && no_pad)
}

/// Whether `table` can be read in keyset pages and cut into key ranges (every key column's
/// predicates follow the index order); otherwise it is read in one scan.
pub fn keyset_pages(table: &TableSchema) -> bool {
    table.key.iter().all(|&k| predicates_follow_index(&table.columns[k]))
}

/// The expression that selects `column` so that it decodes exactly: ENUM and SET as their
/// index and bitmask, every other column as itself.
pub fn select_expr(column: &Column) -> String {
    let name = quote_ident(&column.name);
    match column.kind {
        ColumnKind::Enum(_) | ColumnKind::Set(_) => format!("({name} + 0)"),
        _ => name,
    }
}

/// Appends the literal that the server compares with `column` the way it orders the column.
pub fn push_literal(out: &mut String, column: &Column, value: &Value) {
    use std::fmt::Write as _;
    match (value, &column.kind) {
        (Value::Enum(index, _), _) => {
            let _ = write!(out, "{index}");
        }
        (Value::Set(mask, _), _) => {
            let _ = write!(out, "{mask}");
        }
        // A DECIMAL literal (not a string, which would compare as a DOUBLE).
        (Value::Decimal(d), _) if is_decimal_text(d) => out.push_str(d),
        (Value::Bytes(b), ColumnKind::Bit { .. }) => {
            let n = b.iter().fold(0u64, |n, byte| (n << 8) | u64::from(*byte));
            let _ = write!(out, "{n}");
        }
        (value, _) => push_sql_literal(out, value),
    }
}

/// The literal of [`push_literal`].
pub fn literal(column: &Column, value: &Value) -> String {
    let mut out = String::new();
    push_literal(&mut out, column, value);
    out
}

fn is_decimal_text(d: &str) -> bool {
    let digits = d.strip_prefix('-').unwrap_or(d);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') && digits.bytes().filter(|&b| b == b'.').count() <= 1
}

/// `(k1, …, kn) op (v1, …, vn)` spelt out as `(k1 op v1) OR (k1 = v1 AND k2 op v2) …`, so every
/// server uses the key's range scan; `last` is the operator on the last column (`>` with `>`
/// is "after", `<` with `<=` is "up to and including").
///
/// Values of integer columns are bound (`?`, pushed to `params`): an integer binds exactly, and
/// a table keyed by integers then reads every chunk through one prepared statement. Every
/// other kind is a literal of its own kind ([`push_literal`]).
pub fn tuple_predicate(table: &TableSchema, key: &[Value], op: &str, last: &str, params: &mut Vec<mysql_async::Value>) -> String {
    let columns: Vec<&Column> = table.key.iter().map(|&i| &table.columns[i]).collect();
    let mut terms = Vec::with_capacity(columns.len());
    for i in 0..columns.len() {
        let mut term = String::from("(");
        for (j, column) in columns[..=i].iter().enumerate() {
            if j > 0 {
                term.push_str(" AND ");
            }
            let operator = if j < i {
                "="
            } else if i + 1 == columns.len() {
                last
            } else {
                op
            };
            term.push_str(&quote_ident(&column.name));
            term.push(' ');
            term.push_str(operator);
            term.push(' ');
            match (&column.kind, &key[j]) {
                (ColumnKind::Int { .. }, Value::Int(n)) => {
                    term.push('?');
                    params.push(mysql_async::Value::Int(*n));
                }
                (ColumnKind::Int { .. }, Value::UInt(n)) => {
                    term.push('?');
                    params.push(mysql_async::Value::UInt(*n));
                }
                (_, value) => push_literal(&mut term, column, value),
            }
        }
        term.push(')');
        terms.push(term);
    }
    format!("({})", terms.join(" OR "))
}

/// `k1 = v1 AND k2 = v2 …` for one key.
pub fn equals_predicate(table: &TableSchema, key: &[Value]) -> String {
    table
        .key
        .iter()
        .zip(key)
        .map(|(&i, v)| format!("{} = {}", quote_ident(&table.columns[i].name), literal(&table.columns[i], v)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Hashes a row's key so that keys the destination considers equal hash alike.
pub struct LaneKey<'a> {
    pub table: &'a TableSchema,
    pub row: &'a Row,
    /// The destination compares text keys by their collation (mysql); `false`: byte for byte
    /// (Lindorm, Cassandra).
    pub collated: bool,
}

impl Hash for LaneKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.table.target.hash(state);
        for &k in &self.table.key {
            let column = &self.table.columns[k];
            match (&self.row[k], self.collated) {
                (Value::Text(s), true) => match text_equality(column.collation.as_deref()) {
                    TextEquality::Exact => s.hash(state),
                    TextEquality::PadSpace => s.trim_end_matches(' ').hash(state),
                    TextEquality::Collated => {}
                },
                (value, _) => value.hash(state),
            }
        }
    }
}

/// Fails when an existing destination table's key columns (`existing`: destination column name
/// and collation) compare text differently from the source's: two source rows could then be
/// one destination row.
pub fn check_key_collations(table: &TableSchema, existing: &[(String, Option<String>)]) -> SyncResult<()> {
    let mut problems = Vec::new();
    for &k in &table.key {
        let column = &table.columns[k];
        if !matches!(column.kind, ColumnKind::Text { .. }) {
            continue;
        }
        let Some((_, theirs)) = existing.iter().find(|(n, _)| *n == column.target) else {
            continue;
        };
        if theirs.as_deref() != column.collation.as_deref() {
            problems.push(format!(
                "key column `{}` is {} in the source and {} in the destination",
                column.target,
                column.collation.as_deref().unwrap_or("binary"),
                theirs.as_deref().unwrap_or("binary")
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(SyncError::definite(
        format!(
            "destination table `{}` compares its key differently from the source: {}",
            table.target,
            problems.join("; ")
        ),
        "give the destination key columns the source's collation (ALTER TABLE … MODIFY … COLLATE …), or map the table to a new name (targetName) so Ferry creates it",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::TableId;

    fn column(name: &str, kind: ColumnKind, collation: Option<&str>) -> Column {
        Column {
            name: name.into(),
            target: name.into(),
            kind,
            column_type: String::new(),
            nullable: false,
            ordinal: 0,
            collation: collation.map(str::to_string),
        }
    }

    fn hash_of(key: &LaneKey<'_>) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        h.finish()
    }

    #[test]
    fn char_keys_under_no_pad_collations_are_not_paged() {
        let mut char_nopad = column(
            "k",
            ColumnKind::Text { charset: "utf8mb4".into() },
            Some("utf8mb4_unicode_nopad_ci"),
        );
        char_nopad.column_type = "char(10)".into();
        assert!(!predicates_follow_index(&char_nopad));
        let mut mysql8 = char_nopad.clone();
        mysql8.collation = Some("utf8mb4_0900_ai_ci".into());
        assert!(!predicates_follow_index(&mysql8));
        let mut varchar = char_nopad.clone();
        varchar.column_type = "varchar(10)".into();
        assert!(predicates_follow_index(&varchar));
        let mut padded = char_nopad.clone();
        padded.collation = Some("utf8mb4_unicode_ci".into());
        assert!(predicates_follow_index(&padded));
        let mut binary = column("k", ColumnKind::FixedBinary(4), None);
        binary.column_type = "binary(4)".into();
        assert!(predicates_follow_index(&binary));
    }

    #[test]
    fn collations_are_classified() {
        assert_eq!(text_equality(None), TextEquality::Exact);
        assert_eq!(text_equality(Some("utf8mb4_bin")), TextEquality::PadSpace);
        assert_eq!(text_equality(Some("utf8mb4_nopad_bin")), TextEquality::Exact);
        assert_eq!(text_equality(Some("utf8mb4_0900_bin")), TextEquality::Exact);
        assert_eq!(text_equality(Some("utf8mb4_general_ci")), TextEquality::Collated);
        assert_eq!(text_equality(Some("latin1_general_cs")), TextEquality::Collated);
    }

    #[test]
    fn keys_equal_to_the_destination_share_a_lane() {
        let table = TableSchema {
            source: TableId::new("d", "t"),
            target: TableId::new("d", "t"),
            columns: vec![
                column("id", ColumnKind::Int { unsigned: false, bytes: 4 }, None),
                column("ci", ColumnKind::Text { charset: "utf8mb4".into() }, Some("utf8mb4_general_ci")),
                column("bin", ColumnKind::Text { charset: "utf8mb4".into() }, Some("utf8mb4_bin")),
            ],
            key: vec![0, 1, 2],
            ..Default::default()
        };
        let row = |ci: &str, bin: &str| vec![Value::Int(1), Value::Text(ci.into()), Value::Text(bin.into())];
        let (a, b) = (row("a", "x"), row("A", "x  "));
        let lane = |r: &Row, collated| {
            hash_of(&LaneKey {
                table: &table,
                row: r,
                collated,
            })
        };
        assert_eq!(lane(&a, true), lane(&b, true));
        assert_ne!(lane(&a, false), lane(&b, false));
        assert_ne!(lane(&a, true), lane(&row("a", "y"), true));
    }

    #[test]
    fn literals_compare_as_the_server_orders() {
        let e = column("e", ColumnKind::Enum(vec!["zeta".into(), "alpha".into()]), None);
        assert_eq!(literal(&e, &Value::Enum(2, "alpha".into())), "2");
        let f = column("f", ColumnKind::Float, None);
        assert_eq!(literal(&f, &Value::Float(0.1)), "1.0000000149011612e-1");
        let d = column("d", ColumnKind::Decimal { precision: 30, scale: 20 }, None);
        assert_eq!(
            literal(&d, &Value::Decimal("-0.10000000000000000001".into())),
            "-0.10000000000000000001"
        );
        let b = column("b", ColumnKind::Bit { bits: 12 }, None);
        assert_eq!(literal(&b, &Value::Bytes(vec![0x01, 0x02])), "258");
        let table = TableSchema {
            columns: vec![e, column("id", ColumnKind::Int { unsigned: false, bytes: 4 }, None)],
            key: vec![0, 1],
            ..Default::default()
        };
        let mut params = Vec::new();
        assert_eq!(
            tuple_predicate(&table, &[Value::Enum(1, "zeta".into()), Value::Int(7)], ">", ">", &mut params),
            "((`e` > 1) OR (`e` = 1 AND `id` > ?))"
        );
        assert_eq!(params, [mysql_async::Value::Int(7)], "integers are bound");
    }
}
