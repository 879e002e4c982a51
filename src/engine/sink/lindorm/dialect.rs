//! Lindorm SQL for the wide table engine, from the documented grammar (see docs/lindorm.md for
//! the sources and what is inferred): type mapping, literals, `CREATE`, `UPSERT`, `DELETE`.
//!
//! Statements carry literals, not placeholders: whether LindormTable accepts `COM_STMT_*` is
//! not documented. Every literal is produced here, from a typed value: identifiers are
//! backtick-quoted (case-sensitive), strings single-quoted with `'` doubled, and backslashes
//! doubled only where the session interprets them ([`Escapes`]): Lindorm SQL reads backslash
//! escapes from 2.8.4.8 on, unless `NO_BACKSLASH_ESCAPES`; the sink asks the session which
//! applies instead of guessing from a version.

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

/// Whether the session reads backslash escapes in string literals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escapes {
    /// `\` starts an escape: backslashes are doubled.
    Backslash,
    /// Only `''` is special.
    QuoteOnly,
    /// The session did not answer the probe: strings with a backslash are refused.
    Unknown,
}

/// The server the statements are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// LindormTable: `UPSERT`, Lindorm types. What the golden tests pin.
    Lindorm,
    /// A MariaDB server standing in for Lindorm, so the client path (connection, TLS, batching,
    /// versions in hints, retries, checkpoints) runs against a real server in tests: `REPLACE`
    /// instead of `UPSERT` (the same effect for full-row writes), and each Lindorm type stored
    /// in the MariaDB type that holds the same literal (see [`LindormType::stand_in_sql`]).
    /// MariaDB reads the `/*+ … */` hints as comments.
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
    /// BIGINT UNSIGNED, widened so all of 0..2^64 fits whatever Lindorm's unsigned support.
    Decimal20,
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
            LindormType::Decimal20 => "DECIMAL(20,0)".into(),
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
        ColumnKind::Int { unsigned: true, .. } => LindormType::Decimal20,
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

/// Backtick-quoted identifier.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
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
pub fn create_checkpoint_table(dialect: Dialect, namespace: &str) -> String {
    let (text, key_text, int) = match dialect.server {
        Server::Lindorm => ("VARCHAR".to_string(), "VARCHAR".to_string(), "BIGINT"),
        Server::MariaDbStandIn => (
            LindormType::Varchar.stand_in_sql(false),
            LindormType::Varchar.stand_in_sql(true),
            "BIGINT",
        ),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {}.`ferry_checkpoint` (`task` {key_text} NOT NULL, `epoch` {int} NOT NULL, \
         `owner` {text}, `state` {text}, `updated_at` {int}, PRIMARY KEY(`task`, `epoch`))",
        ident(namespace)
    )
}

/// `CREATE TABLE IF NOT EXISTS` with the mapped columns and the source key as primary key.
/// Refuses what Lindorm cannot hold: unmappable types, more than five key columns, a JSON or
/// non-final VARBINARY key column, a table with no column outside the key.
pub fn create_table(dialect: Dialect, table: &TableSchema) -> Result<String, String> {
    let mut columns = Vec::with_capacity(table.columns.len());
    let mut problems = Vec::new();
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

/// One or more `UPSERT /*+ _l_ts_(version) */ INTO … VALUES …` statements writing `rows`, each
/// within Lindorm's request limits. All rows of one statement carry `version`; callers pass
/// rows of distinct keys.
pub fn upsert(dialect: Dialect, table: &TableSchema, rows: &[&Row], version: i64) -> Result<Vec<String>, String> {
    let verb = write_verb(dialect);
    let head = format!(
        "{verb} /*+ _l_ts_({version}) */ INTO {} ({}) VALUES ",
        table_name(&table.target),
        table.columns.iter().map(|c| ident(&c.target)).collect::<Vec<_>>().join(", ")
    );
    let mut statements = Vec::new();
    let mut sql = head.clone();
    let mut in_statement = 0;
    for row in rows {
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

/// `DELETE /*+ _l_ts_(version) */ FROM … WHERE k1 = … AND k2 = …`: every key column by equality,
/// one row, as Lindorm requires without batch delete.
pub fn delete(dialect: Dialect, table: &TableSchema, row: &Row, version: i64) -> Result<String, String> {
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
    Ok(format!(
        "DELETE /*+ _l_ts_({version}) */ FROM {} WHERE {}",
        table_name(&table.target),
        terms.join(" AND ")
    ))
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
        // Empty VARBINARY is NULL on Lindorm (as with DTS); bytes are written as a hex string.
        Value::Bytes(b) if b.is_empty() => "NULL".into(),
        Value::Bytes(b) => {
            let mut hex = String::with_capacity(2 * b.len() + 3);
            hex.push_str("x'");
            for byte in b {
                let _ = write!(hex, "{byte:02X}");
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

/// A string literal; refused when the session's escaping is unknown and `s` has a backslash,
/// since it could then not be written exactly.
pub fn quote(dialect: Dialect, s: &str) -> Result<String, String> {
    let escaped = s.replace('\'', "''");
    match dialect.escapes {
        Escapes::QuoteOnly => Ok(format!("'{escaped}'")),
        Escapes::Backslash => Ok(format!("'{}'", escaped.replace('\\', "\\\\"))),
        Escapes::Unknown if s.contains('\\') => Err(
            "the value contains a backslash and the destination did not say whether it reads backslash escapes \
             (the probe `SELECT 'a\\\\b'` failed)"
                .into(),
        ),
        Escapes::Unknown => Ok(format!("'{escaped}'")),
    }
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
