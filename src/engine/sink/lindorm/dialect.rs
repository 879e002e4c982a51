//! Lindorm SQL for the wide table engine, from the documented grammar (docs/lindorm.md gives
//! the page and version of every rule, and marks what is inferred): type mapping, names,
//! literals, size limits, `CREATE`, `UPSERT`, `DELETE`.
//!
//! Statements carry literals, not placeholders: whether LindormTable accepts `COM_STMT_*` is
//! not documented. Every literal is produced here, from a typed value:
//! - identifiers are backtick-quoted (case-sensitive, lexical structure page); names Lindorm
//!   cannot hold (a backtick, a table name outside `A-Z a-z 0-9 _ - .`, more than 255 bytes)
//!   are refused, never escaped ([`check_names`]);
//! - strings are single-quoted; a quote or backslash inside is written the way the session
//!   reads it ([`Escapes`]): `\'` and `\\` where backslash escapes apply (documented from
//!   Lindorm SQL 2.8.4.8, unless `NO_BACKSLASH_ESCAPES`), `''` where the session's probe showed
//!   it reads a doubled quote, and refused otherwise;
//! - binary values are hexadecimal strings (`'ef0011'`, the documented form; `x'…'` is not);
//! - no write carries a version hint: Lindorm's DELETE takes none, so every write is stamped
//!   with the server's own time, and the sink orders writes in time (see the sink module).
//!
//! Why this file is long: one function per documented rule of Lindorm SQL (types, names,
//! literals, limits, each statement), each citing its page, and the golden checks of each.

use std::fmt::Write as _;

use crate::engine::{
    event::{DateTime, Row, TableId, Value},
    schema::{Column, ColumnKind, TableSchema},
};

/// Most rows in one UPSERT request.
pub const MAX_ROWS: usize = 2000;
/// Most bytes in one write request (64 MB, with room for the statement around the values).
pub const MAX_BYTES: usize = 60 << 20;
/// Largest DECIMAL precision Lindorm stores.
pub const MAX_DECIMAL_PRECISION: u32 = 38;
/// Most primary-key columns.
pub const MAX_KEY_COLUMNS: usize = 5;
/// Most bytes of all primary-key values of a row (quotas and limits page: 2 KB).
pub const MAX_KEY_BYTES: usize = 2 << 10;
/// Most bytes of all non-key values of a row (quotas and limits page: 2 MB).
pub const MAX_VALUE_BYTES: usize = 2 << 20;
/// Longest table or column name, in bytes (quotas and limits page).
pub const MAX_NAME_BYTES: usize = 255;

/// How the session reads a quote or a backslash inside a string literal, as its probe showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escapes {
    /// `\` starts an escape (Lindorm SQL 2.8.4.8+): a quote is written `\'`, a backslash `\\`.
    Backslash,
    /// No backslash escapes (`NO_BACKSLASH_ESCAPES`, or before 2.8.4.8), and a doubled quote
    /// reads as one: a quote is written `''`, a backslash as itself.
    QuoteOnly,
    /// No backslash escapes, and a doubled quote did not read as one: strings with a quote are
    /// refused (no documented way to write them).
    Verbatim,
    /// The probe failed: strings with a quote or a backslash are refused.
    Unknown,
}

/// The server the statements are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// LindormTable: `UPSERT`, Lindorm types. What the golden tests pin.
    Lindorm,
    /// A MariaDB server standing in for Lindorm, so the client path (connection, TLS, batching,
    /// pacing, retries, claims, checkpoints) runs against a real server in tests: `REPLACE`
    /// instead of `UPSERT` (the same effect for full-row writes), `x'…'` for binary values, a
    /// plain `INSERT` for the claim, and each Lindorm type stored in the MariaDB type that holds
    /// the same literal (see [`LindormType::stand_in_sql`]).
    MariaDbStandIn,
}

/// Session facts that shape statement text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dialect {
    pub escapes: Escapes,
    pub server: Server,
}

impl Default for Dialect {
    fn default() -> Self {
        Self {
            escapes: Escapes::QuoteOnly,
            server: Server::Lindorm,
        }
    }
}

/// How a MySQL column is stored in Lindorm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LindormType {
    TinyInt,
    SmallInt,
    Integer,
    BigInt,
    /// BIGINT UNSIGNED: the one unsigned type Lindorm has (basic data types page).
    BigIntUnsigned,
    Decimal {
        precision: u32,
        scale: u32,
    },
    Float,
    Double,
    Varchar,
    Varbinary,
    Date,
    /// DATETIME and TIMESTAMP: milliseconds since the epoch, UTC.
    Timestamp,
    Json,
}

impl LindormType {
    /// The type as written in `CREATE TABLE`.
    pub fn sql(self) -> String {
        match self {
            LindormType::TinyInt => "TINYINT".into(),
            LindormType::SmallInt => "SMALLINT".into(),
            LindormType::Integer => "INTEGER".into(),
            LindormType::BigInt => "BIGINT".into(),
            LindormType::BigIntUnsigned => "BIGINT UNSIGNED".into(),
            LindormType::Decimal { precision, scale } => format!("DECIMAL({precision},{scale})"),
            LindormType::Float => "FLOAT".into(),
            LindormType::Double => "DOUBLE".into(),
            LindormType::Varchar => "VARCHAR".into(),
            LindormType::Varbinary => "VARBINARY".into(),
            LindormType::Date => "DATE".into(),
            LindormType::Timestamp => "TIMESTAMP".into(),
            LindormType::Json => "JSON".into(),
        }
    }

    /// The MariaDB type that stores this type's literals when MariaDB stands in for Lindorm:
    /// TIMESTAMP as BIGINT epoch milliseconds (the literal Ferry writes), VARCHAR as binary-
    /// collated text (Lindorm compares strings case-sensitively), lengths where MariaDB needs them.
    pub fn stand_in_sql(self, in_key: bool) -> String {
        match self {
            LindormType::Varchar if in_key => "VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin".into(),
            LindormType::Varchar | LindormType::Json => "LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin".into(),
            LindormType::Varbinary if in_key => "VARBINARY(3072)".into(),
            LindormType::Varbinary => "LONGBLOB".into(),
            LindormType::Timestamp => "BIGINT".into(),
            other => other.sql(),
        }
    }
}

/// Maps a source column, or says why it cannot be stored exactly.
pub fn map_type(column: &Column) -> Result<LindormType, String> {
    Ok(match &column.kind {
        ColumnKind::Int { unsigned: false, bytes: 1 } => LindormType::TinyInt,
        ColumnKind::Int { unsigned: false, bytes: 2 } | ColumnKind::Int { unsigned: true, bytes: 1 } => LindormType::SmallInt,
        // MEDIUMINT does not exist in Lindorm; signed and unsigned both fit INTEGER.
        ColumnKind::Int {
            unsigned: false,
            bytes: 3 | 4,
        }
        | ColumnKind::Int {
            unsigned: true,
            bytes: 2 | 3,
        } => LindormType::Integer,
        ColumnKind::Int { unsigned: false, .. } | ColumnKind::Int { unsigned: true, bytes: 4 } => LindormType::BigInt,
        ColumnKind::Int { unsigned: true, .. } => LindormType::BigIntUnsigned,
        ColumnKind::Float => LindormType::Float,
        ColumnKind::Double => LindormType::Double,
        ColumnKind::Decimal { precision, scale } if *precision <= MAX_DECIMAL_PRECISION => LindormType::Decimal {
            precision: *precision,
            scale: *scale,
        },
        ColumnKind::Decimal { precision, .. } => {
            return Err(format!(
                "DECIMAL precision {precision} is above Lindorm's maximum of {MAX_DECIMAL_PRECISION}; values would not be stored exactly"
            ));
        }
        ColumnKind::Text { .. } | ColumnKind::Enum(_) | ColumnKind::Set(_) => LindormType::Varchar,
        // TIME can be negative and above 24 h in MySQL; Lindorm's TIME cannot. Its exact text is kept.
        ColumnKind::Time => LindormType::Varchar,
        ColumnKind::Binary | ColumnKind::FixedBinary(_) => LindormType::Varbinary,
        ColumnKind::Bit { .. } => return Err("BIT columns are not supported by Lindorm".into()),
        ColumnKind::Date => LindormType::Date,
        ColumnKind::DateTime | ColumnKind::Timestamp => LindormType::Timestamp,
        ColumnKind::Year => LindormType::SmallInt,
        ColumnKind::Json => LindormType::Json,
    })
}

/// Backtick-quoted identifier. Names are checked before any statement uses them
/// ([`check_names`]); a backtick, which Lindorm documents no way to quote, never gets here.
pub fn ident(name: &str) -> String {
    format!("`{name}`")
}

/// Lindorm's table-name rule (quotas and limits page; `.` from the CREATE TABLE page, not first).
pub const TABLE_NAME_RULE: &str = "1 to 255 characters from A-Z a-z 0-9 _ - ., not starting with . or -";

/// Whether Lindorm can hold a table named `name`.
pub fn is_table_name(name: &str) -> bool {
    (1..=MAX_NAME_BYTES).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        && !name.starts_with(['.', '-'])
}

/// Lindorm's column-name rule: 1 to 255 bytes (quotas and limits page); a quoted identifier
/// may hold any character (lexical structure page) except the backtick, whose quoting is not
/// documented.
pub const COLUMN_NAME_RULE: &str = "1 to 255 bytes, without a backtick";

/// Whether Lindorm can hold a column named `name`.
pub fn is_column_name(name: &str) -> bool {
    (1..=MAX_NAME_BYTES).contains(&name.len()) && !name.contains('`')
}

/// Lindorm's namespace rule (quotas and limits page).
pub const NAMESPACE_RULE: &str = "4 to 16 characters from A-Z a-z 0-9 _ -, not `lindorm`, `default` or `global`";

/// Whether Ferry can create and use a namespace named `name` (`default` exists but is
/// reserved, like `lindorm` and `global`).
pub fn is_namespace(name: &str) -> bool {
    (4..=16).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !["lindorm", "default", "global"].contains(&name.to_ascii_lowercase().as_str())
}

/// Refuses destination names Lindorm cannot hold, naming each with the setting that renames
/// it: the namespace (`targetName` of the database), the table (`targetName` of the table) and
/// every column (`columnMapping`).
pub fn check_names(table: &TableSchema) -> Result<(), String> {
    let mut problems = Vec::new();
    if !is_namespace(&table.target.database) {
        problems.push(format!(
            "namespace `{}` is not a valid Lindorm namespace ({NAMESPACE_RULE}): set spec.objects[].targetName",
            table.target.database
        ));
    }
    if !is_table_name(&table.target.table) {
        problems.push(format!(
            "table name `{}` is not a valid Lindorm table name ({TABLE_NAME_RULE}): set spec.objects[].tables[].targetName",
            table.target.table
        ));
    }
    for column in &table.columns {
        if !is_column_name(&column.target) {
            problems.push(format!(
                "column name `{}` is not a valid Lindorm column name ({COLUMN_NAME_RULE}): map it with spec.objects[].tables[].columnMapping",
                column.target
            ));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

/// `ns`.`table`.
pub fn table_name(id: &TableId) -> String {
    format!("{}.{}", ident(&id.database), ident(&id.table))
}

/// `CREATE DATABASE IF NOT EXISTS` for a namespace.
pub fn create_database(name: &str) -> String {
    format!("CREATE DATABASE IF NOT EXISTS {}", ident(name))
}

/// The checkpoint table: one row per (task, epoch), see the sink's module documentation.
/// Strongly consistent (`CONSISTENCY='strong'`, CREATE TABLE page): reads see every
/// acknowledged write, and `ON DUPLICATE KEY` (which needs it) can claim an epoch.
pub fn create_checkpoint_table(dialect: Dialect, namespace: &str) -> String {
    let (text, key_text, int, options) = match dialect.server {
        Server::Lindorm => (
            "VARCHAR".to_string(),
            "VARCHAR".to_string(),
            "BIGINT",
            " WITH (CONSISTENCY='strong')",
        ),
        Server::MariaDbStandIn => (
            LindormType::Varchar.stand_in_sql(false),
            LindormType::Varchar.stand_in_sql(true),
            "BIGINT",
            "",
        ),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {}.`ferry_checkpoint` (`task` {key_text} NOT NULL, `epoch` {int} NOT NULL, \
         `owner` {text}, `state` {text}, `updated_at` {int}, PRIMARY KEY(`task`, `epoch`)){options}",
        ident(namespace)
    )
}

/// The columns of a checkpoint row, in [`checkpoint_row`]'s order.
const CHECKPOINT_COLUMNS: &str = "(`task`, `epoch`, `owner`, `state`, `updated_at`)";

/// Writes this worker's own checkpoint row (task, epoch): a plain `UPSERT`.
pub fn checkpoint_row(dialect: Dialect, namespace: &str, row: [&str; 3], epoch: i64, now: i64) -> Result<String, String> {
    let [task, owner, state] = row;
    Ok(format!(
        "{} INTO {}.`ferry_checkpoint` {CHECKPOINT_COLUMNS} VALUES ({}, {epoch}, {}, {}, {now})",
        write_verb(dialect),
        ident(namespace),
        quote(dialect, task)?,
        quote(dialect, owner)?,
        quote(dialect, state)?
    ))
}

/// Claims epoch `epoch` of `task` with a compare-and-set: the row is written only if no row of
/// that (task, epoch) exists, and the statement fails otherwise. Lindorm: `INSERT … ON
/// DUPLICATE KEY ERROR` (UPSERT page, LindormTable 2.7.8+, strongly consistent tables only);
/// `ON DUPLICATE KEY IGNORE` is not used, because an older page describes it as skipping the
/// existence check. The MariaDB stand-in: a plain `INSERT`, which fails on a duplicate key.
pub fn claim_checkpoint(dialect: Dialect, namespace: &str, row: [&str; 3], epoch: i64, now: i64) -> Result<String, String> {
    let [task, owner, state] = row;
    let on_duplicate = match dialect.server {
        Server::Lindorm => " ON DUPLICATE KEY ERROR",
        Server::MariaDbStandIn => "",
    };
    Ok(format!(
        "INSERT INTO {}.`ferry_checkpoint` {CHECKPOINT_COLUMNS} VALUES ({}, {epoch}, {}, {}, {now}){on_duplicate}",
        ident(namespace),
        quote(dialect, task)?,
        quote(dialect, owner)?,
        quote(dialect, state)?
    ))
}

/// `CREATE TABLE IF NOT EXISTS` with the mapped columns and the source key as primary key.
/// Refuses what Lindorm cannot hold: unmappable types, more than five key columns, a JSON or
/// non-final VARBINARY key column, a table with no column outside the key.
pub fn create_table(dialect: Dialect, table: &TableSchema) -> Result<String, String> {
    let mut columns = Vec::with_capacity(table.columns.len());
    let mut problems = Vec::new();
    if let Err(names) = check_names(table) {
        problems.push(names);
    }
    for column in &table.columns {
        match map_type(column) {
            Ok(ty) => columns.push((column, ty)),
            Err(why) => problems.push(format!("column `{}` ({}): {why}", column.name, column.column_type)),
        }
    }
    if table.key.len() > MAX_KEY_COLUMNS {
        problems.push(format!(
            "the key has {} columns; Lindorm allows at most {MAX_KEY_COLUMNS}",
            table.key.len()
        ));
    }
    if table.key.len() == table.columns.len() {
        problems.push("every column is in the key; Lindorm needs at least one non-key column".into());
    }
    for (position, &k) in table.key.iter().enumerate() {
        let column = &table.columns[k];
        match map_type(column) {
            Ok(LindormType::Json) => problems.push(format!("key column `{}` is JSON, which Lindorm cannot index", column.name)),
            Ok(LindormType::Varbinary) if position + 1 != table.key.len() => problems.push(format!(
                "key column `{}` is binary; Lindorm allows VARBINARY only as the last key column",
                column.name
            )),
            // Lindorm's TIMESTAMP keeps milliseconds: keys that differ below one would be one row.
            Ok(LindormType::Timestamp) if fraction_digits(&column.column_type) > 3 => problems.push(format!(
                "key column `{}` is {}; Lindorm keeps milliseconds, so keys that differ below the millisecond would be one row",
                column.name, column.column_type
            )),
            _ => {}
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let mut sql = format!("CREATE TABLE IF NOT EXISTS {} (", table_name(&table.target));
    for (column, ty) in &columns {
        let in_key = table.key.iter().any(|&k| table.columns[k].target == column.target);
        let ty = match dialect.server {
            Server::Lindorm => ty.sql(),
            Server::MariaDbStandIn => ty.stand_in_sql(in_key),
        };
        let _ = write!(sql, "{} {ty}", ident(&column.target));
        if !column.nullable || in_key {
            sql.push_str(" NOT NULL");
        }
        sql.push_str(", ");
    }
    let keys: Vec<String> = table.key.iter().map(|&k| ident(&table.columns[k].target)).collect();
    let _ = write!(sql, "PRIMARY KEY({}))", keys.join(", "));
    Ok(sql)
}

/// The fractional-second digits of a `datetime(n)` / `timestamp(n)` column type.
fn fraction_digits(column_type: &str) -> u32 {
    column_type
        .split_once('(')
        .and_then(|(_, r)| r.split(')').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// `ALTER TABLE … ADD COLUMN c TYPE[, ADD COLUMN …]` for the columns at `added`. Lindorm takes
/// no `DEFAULT`, no `NOT NULL` and no `FIRST`/`AFTER` here: the source's attributes are left
/// out (as DTS does) and the columns go at the end.
pub fn add_columns(dialect: Dialect, table: &TableSchema, added: &[usize]) -> Result<String, String> {
    let mut parts = Vec::with_capacity(added.len());
    for &i in added {
        let column = &table.columns[i];
        let ty = map_type(column).map_err(|why| format!("column `{}` ({}): {why}", column.name, column.column_type))?;
        let ty = match dialect.server {
            Server::Lindorm => ty.sql(),
            Server::MariaDbStandIn => ty.stand_in_sql(false),
        };
        parts.push(format!("ADD COLUMN {} {ty}", ident(&column.target)));
    }
    Ok(format!("ALTER TABLE {} {}", table_name(&table.target), parts.join(", ")))
}

/// `ALTER TABLE … DROP COLUMN c`.
pub fn drop_column(table: &TableSchema, column: &str) -> String {
    format!("ALTER TABLE {} DROP COLUMN {}", table_name(&table.target), ident(column))
}

/// `DROP TABLE IF EXISTS …`.
pub fn drop_table(table: &TableSchema) -> String {
    format!("DROP TABLE IF EXISTS {}", table_name(&table.target))
}

/// `TRUNCATE TABLE …`.
pub fn truncate_table(table: &TableSchema) -> String {
    format!("TRUNCATE TABLE {}", table_name(&table.target))
}

/// `DESCRIBE …`: one row per column. Inference (docs/lindorm.md): Lindorm's answer names its
/// columns differently from MySQL's (`Field`/`Type`); [`described_columns`] reads either.
pub fn describe(table: &TableSchema) -> String {
    format!("DESCRIBE {}", table_name(&table.target))
}

/// (name, type) of each column in a `DESCRIBE` answer whose header is `header`: the name from
/// `Field`/`COLUMN_NAME`, the type from `Type`/`TYPE_NAME`/`DATA_TYPE`/`TYPE`.
pub fn described_columns(header: &[String], rows: &[Vec<String>]) -> Vec<(String, String)> {
    let find = |names: &[&str]| header.iter().position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)));
    let (Some(name), Some(ty)) = (
        find(&["Field", "COLUMN_NAME"]),
        find(&["Type", "TYPE_NAME", "DATA_TYPE", "COLUMN_TYPE"]),
    ) else {
        return Vec::new();
    };
    rows.iter()
        .filter_map(|r| Some((r.get(name)?.clone(), r.get(ty)?.clone())))
        .collect()
}

/// The keyword of a full-row write: `UPSERT`, or `REPLACE` on a MariaDB stand-in.
pub fn write_verb(dialect: Dialect) -> &'static str {
    match dialect.server {
        Server::Lindorm => "UPSERT",
        Server::MariaDbStandIn => "REPLACE",
    }
}

/// One or more `UPSERT INTO … VALUES …` statements writing `rows`, each within Lindorm's
/// request limits (UPSERT page; quotas and limits page), every row within the key and value
/// size limits. Callers pass rows of distinct keys. No `_l_ts_` hint: cells take the server's
/// write time, as the DELETE that may follow does (see the sink module).
pub fn upsert(dialect: Dialect, table: &TableSchema, rows: &[&Row]) -> Result<Vec<String>, String> {
    let verb = write_verb(dialect);
    let head = format!(
        "{verb} INTO {} ({}) VALUES ",
        table_name(&table.target),
        table.columns.iter().map(|c| ident(&c.target)).collect::<Vec<_>>().join(", ")
    );
    let mut statements = Vec::new();
    let mut sql = head.clone();
    let mut in_statement = 0;
    for row in rows {
        check_sizes(table, row)?;
        let mut tuple = String::from("(");
        for (i, (column, value)) in table.columns.iter().zip(row.iter()).enumerate() {
            if i > 0 {
                tuple.push_str(", ");
            }
            tuple.push_str(&literal(dialect, column, value)?);
        }
        tuple.push(')');
        if in_statement > 0 && (in_statement == MAX_ROWS || sql.len() + tuple.len() + 2 > MAX_BYTES) {
            statements.push(std::mem::replace(&mut sql, head.clone()));
            in_statement = 0;
        }
        if in_statement > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&tuple);
        in_statement += 1;
    }
    if in_statement > 0 {
        statements.push(sql);
    }
    Ok(statements)
}

/// `DELETE FROM … WHERE k1 = … AND k2 = …`: every key column by equality, one row, as Lindorm
/// requires without batch delete (DELETE page). The grammar takes no hint: the tombstone has
/// the server's time.
pub fn delete(dialect: Dialect, table: &TableSchema, row: &Row) -> Result<String, String> {
    check_key_size(table, row)?;
    let mut terms = Vec::with_capacity(table.key.len());
    for &k in &table.key {
        let column = &table.columns[k];
        let value = literal(dialect, column, &row[k])?;
        if value == "NULL" {
            return Err(format!(
                "key column `{}` is NULL or empty; Lindorm cannot address the row",
                column.name
            ));
        }
        terms.push(format!("{} = {value}", ident(&column.target)));
    }
    Ok(format!("DELETE FROM {} WHERE {}", table_name(&table.target), terms.join(" AND ")))
}

/// The literal that writes `value` into the Lindorm column mapped from `column`.
pub fn literal(dialect: Dialect, column: &Column, value: &Value) -> Result<String, String> {
    let ty = map_type(column)?;
    let mismatch = || format!("column `{}`: value {value:?} does not fit {}", column.name, ty.sql());
    Ok(match value {
        Value::Null => "NULL".into(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Year(y) => y.to_string(),
        // DOUBLE (and FLOAT) in SQL text must be in scientific notation; `{:e}` writes the
        // shortest form that reads back to the same bits.
        Value::Float(f) => format!("{f:e}"),
        Value::Double(d) => format!("{d:e}"),
        Value::Decimal(d) => {
            if d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') {
                return Err(mismatch());
            }
            d.clone()
        }
        Value::Text(s) | Value::Enum(_, s) | Value::Set(_, s) | Value::Json(s) => quote(dialect, s)?,
        // Empty VARBINARY is NULL on Lindorm (as with DTS). Bytes are a hexadecimal string, as
        // Lindorm's examples write VARBINARY (`'ef0011'`); MariaDB standing in reads that as
        // text, so it gets its own hex literal.
        Value::Bytes(b) if b.is_empty() => "NULL".into(),
        Value::Bytes(b) => {
            let mut hex = String::with_capacity(2 * b.len() + 3);
            hex.push_str(match dialect.server {
                Server::Lindorm => "'",
                Server::MariaDbStandIn => "x'",
            });
            for byte in b {
                let _ = write!(hex, "{byte:02x}");
            }
            hex.push('\'');
            hex
        }
        Value::Date(d) if d.year == 0 || d.month == 0 || d.day == 0 => "NULL".into(),
        Value::Date(d) => format!("'{:04}-{:02}-{:02}'", d.year, d.month, d.day),
        Value::DateTime(d) | Value::Timestamp(d) => match epoch_millis(d) {
            Some(ms) => ms.to_string(),
            None => "NULL".into(),
        },
        Value::Time {
            negative,
            hours,
            minutes,
            seconds,
            micros,
        } => quote(
            dialect,
            &format!(
                "{}{hours:02}:{minutes:02}:{seconds:02}.{micros:06}",
                if *negative { "-" } else { "" }
            ),
        )?,
    })
}

/// A string literal, written the way the session reads quotes and backslashes ([`Escapes`]);
/// refused when the session has no known way to read `s` exactly.
pub fn quote(dialect: Dialect, s: &str) -> Result<String, String> {
    match dialect.escapes {
        Escapes::Backslash => Ok(format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))),
        Escapes::QuoteOnly => Ok(format!("'{}'", s.replace('\'', "''"))),
        Escapes::Verbatim if s.contains('\'') => Err(
            "the value contains a single quote, and the destination reads neither `\\'` nor `''` as one \
             (its probes `SELECT 'a\\\\b'` and `SELECT 'a''b'` showed neither)"
                .into(),
        ),
        Escapes::Unknown if s.contains(['\'', '\\']) => Err(
            "the value contains a quote or a backslash, and the destination did not say how it reads them \
             (the probe `SELECT 'a\\\\b'` failed)"
                .into(),
        ),
        Escapes::Verbatim | Escapes::Unknown => Ok(format!("'{s}'")),
    }
}

/// The bytes a value takes in Lindorm, as the quotas count them ("the total length of all
/// primary key values"). Inferred (docs/lindorm.md): text as UTF-8, binary as its bytes,
/// numbers and times at their type's width, DECIMAL at its digits.
fn stored_len(value: &Value) -> usize {
    match value {
        Value::Null => 0,
        Value::Int(_) | Value::UInt(_) | Value::Double(_) | Value::DateTime(_) | Value::Timestamp(_) => 8,
        Value::Float(_) | Value::Date(_) => 4,
        Value::Year(_) => 2,
        Value::Decimal(d) => d.len(),
        Value::Text(s) | Value::Enum(_, s) | Value::Set(_, s) | Value::Json(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::Time { .. } => 16,
    }
}

/// The key of `row` for an error message: each value's first characters.
fn key_text(table: &TableSchema, row: &Row) -> String {
    let parts: Vec<String> = table
        .key
        .iter()
        .map(|&k| {
            let shown = format!("{:?}", row[k]);
            let short: String = shown.chars().take(40).collect();
            let more = if short.len() < shown.len() { "…" } else { "" };
            format!("{}={short}{more}", table.columns[k].name)
        })
        .collect();
    format!("({})", parts.join(", "))
}

/// Refuses a row whose key values exceed Lindorm's 2 KB, naming table, key and columns.
fn check_key_size(table: &TableSchema, row: &Row) -> Result<(), String> {
    let key: usize = table.key.iter().map(|&k| stored_len(&row[k])).sum();
    if key <= MAX_KEY_BYTES {
        return Ok(());
    }
    let columns: Vec<String> = table
        .key
        .iter()
        .map(|&k| format!("`{}` ({} bytes)", table.columns[k].name, stored_len(&row[k])))
        .collect();
    Err(format!(
        "the key {} of a row is {key} bytes; Lindorm allows at most {MAX_KEY_BYTES} bytes of primary key values \
         (key columns {})",
        key_text(table, row),
        columns.join(", ")
    ))
}

/// Refuses a row whose key exceeds 2 KB or whose non-key values exceed 2 MB, naming the table,
/// the key and the columns.
fn check_sizes(table: &TableSchema, row: &Row) -> Result<(), String> {
    check_key_size(table, row)?;
    let values: usize = (0..table.columns.len())
        .filter(|i| !table.key.contains(i))
        .map(|i| row.get(i).map_or(0, stored_len))
        .sum();
    if values <= MAX_VALUE_BYTES {
        return Ok(());
    }
    let mut largest: Vec<(usize, &str)> = (0..table.columns.len())
        .filter(|i| !table.key.contains(i))
        .map(|i| (row.get(i).map_or(0, stored_len), table.columns[i].name.as_str()))
        .collect();
    largest.sort_by_key(|c| std::cmp::Reverse(c.0));
    let named: Vec<String> = largest.iter().take(3).map(|(n, c)| format!("`{c}` ({n} bytes)")).collect();
    Err(format!(
        "the row with key {} has {values} bytes of non-key values; Lindorm allows at most {MAX_VALUE_BYTES} \
         (largest columns {})",
        key_text(table, row),
        named.join(", ")
    ))
}

/// The most bytes the key of `table` can take, from the declared column types (`None` when a
/// key column's type gives no bound): what the precheck compares with Lindorm's 2 KB.
pub fn declared_key_bytes(table: &TableSchema) -> Option<usize> {
    let mut total = 0;
    for &k in &table.key {
        let column = &table.columns[k];
        let length = || -> Option<usize> {
            let ty = column.column_type.to_ascii_lowercase();
            ty.split_once('(')?.1.split(')').next()?.trim().parse().ok()
        };
        total += match &column.kind {
            ColumnKind::Int { .. } | ColumnKind::Double | ColumnKind::DateTime | ColumnKind::Timestamp => 8,
            ColumnKind::Float | ColumnKind::Date => 4,
            ColumnKind::Year => 2,
            ColumnKind::Time => 16,
            ColumnKind::Decimal { precision, .. } => *precision as usize + 2,
            ColumnKind::Bit { .. } => 8,
            // UTF-8 takes up to 4 bytes a character (text in other charsets is decoded first).
            ColumnKind::Text { .. } => 4 * length()?,
            ColumnKind::Enum(labels) | ColumnKind::Set(labels) => labels.iter().map(String::len).sum::<usize>() + labels.len(),
            ColumnKind::FixedBinary(n) => *n as usize,
            ColumnKind::Binary => length()?,
            ColumnKind::Json => return None,
        };
    }
    Some(total)
}

/// Milliseconds since the epoch of a UTC wall-clock time; `None` for zero dates. Microseconds
/// below the millisecond are dropped: Lindorm's TIMESTAMP has millisecond precision.
pub fn epoch_millis(d: &DateTime) -> Option<i64> {
    if d.year == 0 || d.month == 0 || d.day == 0 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let (y, m) = (i64::from(d.year) - i64::from(d.month <= 2), i64::from(d.month));
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d.day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + i64::from(d.hour) * 3600 + i64::from(d.minute) * 60 + i64::from(d.second);
    Some(secs * 1000 + i64::from(d.micros / 1000))
}

/// `SHOW INDEX FROM …`: the table's index tables (SHOW INDEX page).
pub fn show_index(table: &TableSchema) -> String {
    format!("SHOW INDEX FROM {}", table_name(&table.target))
}

/// `SHOW TABLE VARIABLES FROM … LIKE 'MUTABILITY'` (LindormTable 2.6.3+, SQL 2.6.6+; the
/// `LIKE` pattern on this attribute is inferred from the documented `DYNAMIC_COLUMNS` example).
pub fn show_mutability(table: &TableSchema) -> String {
    format!("SHOW TABLE VARIABLES FROM {} LIKE 'MUTABILITY'", table_name(&table.target))
}

/// The Lindorm indexes in a `SHOW INDEX` answer whose header is `header`: `name (TYPE)` for
/// each row whose `INDEX_TYPE` is `SECONDARY` or `SEARCH` (a MariaDB stand-in's `BTREE`
/// indexes are none of them).
pub fn lindorm_indexes(header: &[String], rows: &[Vec<String>]) -> Vec<String> {
    let find = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let Some(kind) = find("INDEX_TYPE") else {
        return Vec::new();
    };
    let name = find("INDEX_NAME");
    let mut out: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let k = r.get(kind)?.to_ascii_uppercase();
            matches!(k.as_str(), "SECONDARY" | "SEARCH").then(|| {
                let n = name.and_then(|i| r.get(i)).map_or("?", String::as_str);
                format!("{n} ({k})")
            })
        })
        .collect();
    out.dedup();
    out
}

/// Why a table with `indexes` and `mutability` cannot take Ferry's writes, if it cannot:
/// Ferry updates and deletes rows, which an `IMMUTABLE` or `IMMUTABLE_ROWS` table's indexes do
/// not follow (index mutability, table change management page; data write FAQ). Ferry writes
/// no custom timestamps, so `MUTABLE_LATEST` (the default) suffices; `MUTABLE_ALL` is needed
/// only for `_l_ts_` writes (document 403313).
pub fn mutability_problem(indexes: &[String], mutability: Option<&str>) -> Option<String> {
    if indexes.is_empty() {
        return None;
    }
    let m = mutability?.to_ascii_uppercase();
    matches!(m.as_str(), "IMMUTABLE" | "IMMUTABLE_ROWS").then(|| {
        format!(
            "has index tables ({}) and MUTABILITY {m}, whose indexes do not follow the updates and deletes Ferry writes",
            indexes.join(", ")
        )
    })
}
