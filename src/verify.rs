//! `ferry verify`: compares source and destination for a task's objects, computed by the
//! servers themselves.
//!
//! Independence is the point: a verify that reused the copy's queries or Ferry's decoder would
//! share their blind spots (a keyset that skips rows, a decoder that drops a byte would make
//! both sides agree). So nothing here goes through the snapshot reader, the decoder or the
//! sinks. Each server renders every column in a canonical text form of what it stores — `HEX`
//! of the bytes for strings (in UTF-8), binary data, integers and temporal values; the exact
//! decimal text; the exact double value of a FLOAT and the shortest round-trip text of a
//! DOUBLE; index and label of ENUM and SET — and hashes each row (`MD5` of the forms). Ranges
//! are cut by the source's own `ORDER BY` of the key (every `chunk`-th key, as literal text the
//! source prints for it; a table whose key no bound can cut, a CHAR under a NO PAD collation, is
//! one range), and each range's row count and XOR of row hashes are compared. A range
//! that differs is compared key by key (keys as the servers print them, so a key whose bytes
//! differ is a difference even where the collation calls it equal). Rows still in flight are
//! tolerated: differing keys are read again on both sides after `settle`, and only what still
//! differs is reported.
//!
//! Columns are compared too: a destination column the source does not have (a column dropped on
//! the source that stayed behind), or a selected column the destination lacks.
//!
//! Destinations: mysql. Lindorm and Cassandra store values in other forms and are refused with
//! that message (issue 14).

use std::{collections::BTreeMap, time::Duration};

use mysql_async::{Conn, prelude::Queryable};
use serde::Serialize;

use crate::{
    api::DestinationKind,
    engine::{
        event::TableId,
        key,
        mysql_conn::{Endpoint, classify, quote_ident, quote_table},
        retry::{SyncError, SyncResult},
        schema::TableSchema,
        source::mysql::schema::discover_present,
    },
    task::ValidatedTask,
};

/// Most differing keys listed per table.
const MAX_LISTED: usize = 20;

/// The result for one table.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TableReport {
    /// Source table.
    pub table: String,
    /// Destination table.
    pub destination: String,
    /// Rows selected in the source (after the filter).
    pub source_rows: u64,
    /// Rows in the destination table.
    pub destination_rows: u64,
    /// Key ranges compared.
    pub chunks: u64,
    /// Keys that still differ after the settle time (at most 20 listed; `differing` counts all).
    pub differences: Vec<Difference>,
    /// Number of differing keys.
    pub differing: u64,
    /// Destination columns the source does not have (or that the task does not synchronise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_columns: Vec<String>,
    /// Synchronised columns the destination lacks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_columns: Vec<String>,
    /// The destination table does not exist (the task has not created it yet).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub destination_missing: bool,
}

impl TableReport {
    /// Rows and columns the same on both ends.
    pub fn equal(&self) -> bool {
        !self.destination_missing && self.differing == 0 && self.extra_columns.is_empty() && self.missing_columns.is_empty()
    }
}

/// One differing key.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Difference {
    /// The key, `column=value` pairs.
    pub key: String,
    /// `missing` (in the destination), `extra` (only in the destination) or `different`.
    pub kind: String,
}

/// The whole report.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Every table equal.
    pub equal: bool,
    pub tables: Vec<TableReport>,
}

/// A column as one server stores it.
#[derive(Clone, Debug)]
struct StoredColumn {
    name: String,
    data_type: String,
}

/// One side of the comparison: how to read one table on one server.
struct Side {
    table: TableId,
    /// Columns compared, in the same order on both sides (source name / destination name).
    columns: Vec<StoredColumn>,
    /// Indices into `columns` of the key.
    key: Vec<usize>,
    /// Row condition (the task's filter on the source side).
    filter: Option<String>,
}

/// Compares every table of `task`, ranges of `chunk` source rows, re-checking differences after
/// `settle`.
pub async fn verify(task: &ValidatedTask, source: &Endpoint, destination: &Endpoint, chunk: usize, settle: Duration) -> SyncResult<Report> {
    if task.spec.destination.kind != DestinationKind::Mysql {
        return Err(SyncError::definite(
            "ferry verify compares mysql destinations only in this version",
            "compare a Lindorm destination with its own tools for now (docs/lindorm.md lists the type mapping)",
        ));
    }
    let mut src = session(source).await?;
    let mut dst = session(destination).await?;
    // A listed table the source dropped (and the task followed) is not compared.
    let discovery = discover_present(&mut src, &task.selection).await?;
    for table in &discovery.missing {
        tracing::warn!(%table, "the source does not have this listed table: not compared");
    }
    let tables = discovery.tables;
    let mut reports = Vec::new();
    for table in tables {
        let report = verify_table(&mut src, &mut dst, &table.schema, chunk.max(1), settle).await?;
        reports.push(report);
    }
    let _ = src.disconnect().await;
    let _ = dst.disconnect().await;
    Ok(Report {
        equal: reports.iter().all(TableReport::equal),
        tables: reports,
    })
}

async fn verify_table(src: &mut Conn, dst: &mut Conn, schema: &TableSchema, chunk: usize, settle: Duration) -> SyncResult<TableReport> {
    let mut report = TableReport {
        table: schema.source.to_string(),
        destination: schema.target.to_string(),
        source_rows: 0,
        destination_rows: 0,
        chunks: 0,
        differences: Vec::new(),
        differing: 0,
        extra_columns: Vec::new(),
        missing_columns: Vec::new(),
        destination_missing: false,
    };
    let source_stored = stored_columns(src, &schema.source).await?;
    let dest_stored = stored_columns(dst, &schema.target).await?;
    if dest_stored.is_empty() {
        // Not an error: a task that has not run (or not reached this table) has no table there.
        report.destination_missing = true;
        return Ok(report);
    }
    let mut source_columns = Vec::new();
    let mut dest_columns = Vec::new();
    for column in &schema.columns {
        let ours = source_stored.iter().find(|c| c.name == column.name);
        match (ours, dest_stored.iter().find(|c| c.name == column.target)) {
            (Some(ours), Some(theirs)) => {
                source_columns.push(ours.clone());
                dest_columns.push(theirs.clone());
            }
            _ => report.missing_columns.push(column.target.clone()),
        }
    }
    report.extra_columns = dest_stored
        .iter()
        .filter(|c| !schema.columns.iter().any(|s| s.target == c.name))
        .map(|c| c.name.clone())
        .collect();
    let key_of = |columns: &[StoredColumn]| -> Option<Vec<usize>> {
        schema
            .key
            .iter()
            .map(|&k| columns.iter().position(|c| c.name == schema.columns[k].name))
            .collect()
    };
    let filter = schema.filter.as_ref().map(|f| f.sql());
    let Some(key) = key_of(&source_columns) else {
        // No destination table, or not even its key: every source row is missing.
        let side = Side {
            table: schema.source.clone(),
            key: key_of(&source_stored).unwrap_or_default(),
            columns: source_stored,
            filter,
        };
        let (count, _) = side.summary(src, None, None).await?;
        report.source_rows = count;
        report.differing = count;
        for (key, _) in side.rows(src, None, None).await?.into_iter().take(MAX_LISTED) {
            report.differences.push(Difference {
                key: side.describe(&key),
                kind: "missing".into(),
            });
        }
        return Ok(report);
    };
    let ours = Side {
        table: schema.source.clone(),
        columns: source_columns,
        key: key.clone(),
        filter,
    };
    let theirs = Side {
        table: schema.target.clone(),
        columns: dest_columns,
        key,
        filter: None,
    };
    // A key whose predicates disagree with its index order (CHAR under a NO PAD collation)
    // cannot bound a range: such a table is compared as one.
    let chunk = key::keyset_pages(schema).then_some(chunk);
    compare_ranges((src, &ours), (dst, &theirs), &mut report, chunk, settle).await?;
    Ok(report)
}

async fn compare_ranges(
    (src, ours): (&mut Conn, &Side),
    (dst, theirs): (&mut Conn, &Side),
    report: &mut TableReport,
    chunk: Option<usize>,
    settle: Duration,
) -> SyncResult<()> {
    let mut suspects: Vec<Vec<String>> = Vec::new();
    let mut lower: Option<Vec<String>> = None;
    loop {
        let upper = match chunk {
            Some(chunk) => ours.boundary(src, lower.as_deref(), chunk).await?,
            None => None,
        };
        let (a, b) = (
            ours.summary(src, lower.as_deref(), upper.as_deref()).await?,
            theirs.summary(dst, lower.as_deref(), upper.as_deref()).await?,
        );
        report.chunks += 1;
        report.source_rows += a.0;
        report.destination_rows += b.0;
        if a != b {
            let mine: BTreeMap<Vec<String>, String> = ours.rows(src, lower.as_deref(), upper.as_deref()).await?.into_iter().collect();
            let other: BTreeMap<Vec<String>, String> = theirs.rows(dst, lower.as_deref(), upper.as_deref()).await?.into_iter().collect();
            for (key, hash) in &mine {
                if other.get(key) != Some(hash) {
                    suspects.push(key.clone());
                }
            }
            suspects.extend(other.keys().filter(|k| !mine.contains_key(*k)).cloned());
        }
        match upper {
            Some(upper) => lower = Some(upper),
            None => break,
        }
    }
    if suspects.is_empty() {
        return Ok(());
    }
    tracing::info!(table = %ours.table, keys = suspects.len(), settle_s = settle.as_secs(), "re-checking differing keys after the settle time");
    tokio::time::sleep(settle).await;
    for key in suspects {
        let kind = match (ours.row_hash(src, &key).await?, theirs.row_hash(dst, &key).await?) {
            (Some(a), Some(b)) if a == b => continue,
            (None, None) => continue,
            (Some(_), Some(_)) => "different",
            (Some(_), None) => "missing",
            (None, Some(_)) => "extra",
        };
        report.differing += 1;
        if report.differences.len() < MAX_LISTED {
            report.differences.push(Difference {
                key: ours.describe(&key),
                kind: kind.into(),
            });
        }
    }
    Ok(())
}

impl Side {
    fn from(&self) -> String {
        quote_table(&self.table)
    }

    fn order(&self) -> String {
        self.key
            .iter()
            .map(|&k| quote_ident(&self.columns[k].name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `lower < key <= upper` (either end open), plus the side's filter.
    fn condition(&self, lower: Option<&[String]>, upper: Option<&[String]>) -> String {
        let mut parts: Vec<String> = self.filter.iter().cloned().collect();
        if let Some(lower) = lower {
            parts.push(self.tuple(lower, ">", ">"));
        }
        if let Some(upper) = upper {
            parts.push(self.tuple(upper, "<", "<="));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", parts.join(" AND "))
        }
    }

    /// The spelt-out tuple comparison of the key with server-printed literals.
    fn tuple(&self, literals: &[String], op: &str, last: &str) -> String {
        let names: Vec<String> = self.key.iter().map(|&k| quote_ident(&self.columns[k].name)).collect();
        let mut terms = Vec::new();
        for i in 0..names.len() {
            let mut term: Vec<String> = (0..i).map(|j| format!("{} = {}", names[j], literals[j])).collect();
            term.push(format!(
                "{} {} {}",
                names[i],
                if i + 1 == names.len() { last } else { op },
                literals[i]
            ));
            terms.push(format!("({})", term.join(" AND ")));
        }
        format!("({})", terms.join(" OR "))
    }

    /// The row hash: MD5 of every column's canonical form, as an unsigned 64-bit number.
    fn row_hash_expr(&self) -> String {
        let forms: Vec<String> = self.columns.iter().map(canonical).collect();
        format!(
            "CAST(CONV(LEFT(MD5(CONCAT_WS('|', {})), 16), 16, 10) AS UNSIGNED)",
            forms.join(", ")
        )
    }

    /// The key columns as SQL literals printed by the server.
    fn key_literals_expr(&self) -> String {
        self.key
            .iter()
            .map(|&k| key_literal(&self.columns[k]))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The last key of the range of `chunk` rows after `lower`, in the server's order; `None`
    /// when fewer rows remain (the range runs to the end).
    async fn boundary(&self, conn: &mut Conn, lower: Option<&[String]>, chunk: usize) -> SyncResult<Option<Vec<String>>> {
        let sql = format!(
            "SELECT {} FROM {}{} ORDER BY {} LIMIT 1 OFFSET {}",
            self.key_literals_expr(),
            self.from(),
            self.condition(lower, None),
            self.order(),
            chunk - 1
        );
        let row: Option<mysql_async::Row> = conn
            .query_first(sql)
            .await
            .map_err(|e| classify(&e).context(format!("cut `{}` into key ranges", self.table)))?;
        Ok(row.map(|r| strings(r, self.key.len())))
    }

    /// Row count and XOR of row hashes in a range.
    async fn summary(&self, conn: &mut Conn, lower: Option<&[String]>, upper: Option<&[String]>) -> SyncResult<(u64, u64)> {
        let sql = format!(
            "SELECT COUNT(*), IFNULL(BIT_XOR({}), 0) FROM {}{}",
            self.row_hash_expr(),
            self.from(),
            self.condition(lower, upper)
        );
        let row: Option<(u64, u64)> = conn
            .query_first(sql)
            .await
            .map_err(|e| classify(&e).context(format!("checksum a range of `{}`", self.table)))?;
        Ok(row.unwrap_or((0, 0)))
    }

    /// Every row's key literals and hash in a range.
    async fn rows(&self, conn: &mut Conn, lower: Option<&[String]>, upper: Option<&[String]>) -> SyncResult<Vec<(Vec<String>, String)>> {
        let sql = format!(
            "SELECT {}, CAST({} AS CHAR) FROM {}{}",
            self.key_literals_expr(),
            self.row_hash_expr(),
            self.from(),
            self.condition(lower, upper)
        );
        let rows: Vec<mysql_async::Row> = conn
            .query(sql)
            .await
            .map_err(|e| classify(&e).context(format!("read the keys of a range of `{}`", self.table)))?;
        let n = self.key.len();
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut all = strings(r, n + 1);
                let hash = all.pop().unwrap_or_default();
                (all, hash)
            })
            .collect())
    }

    /// The hash of the row whose key is byte for byte `key`, if there is one (and it passes the
    /// filter).
    async fn row_hash(&self, conn: &mut Conn, key: &[String]) -> SyncResult<Option<String>> {
        let mut parts: Vec<String> = self.filter.iter().cloned().collect();
        for (&k, literal) in self.key.iter().zip(key) {
            parts.push(format!("{} = {literal}", quote_ident(&self.columns[k].name)));
        }
        let sql = format!(
            "SELECT CAST({} AS CHAR), {} FROM {} WHERE {}",
            self.row_hash_expr(),
            self.key_literals_expr(),
            self.from(),
            parts.join(" AND ")
        );
        let rows: Vec<mysql_async::Row> = conn
            .query(sql)
            .await
            .map_err(|e| classify(&e).context(format!("re-read a row of `{}`", self.table)))?;
        // `=` follows the collation; the key must also be byte-identical.
        for row in rows {
            let mut all = strings(row, self.key.len() + 1);
            let found = all.split_off(1);
            if found == key {
                return Ok(all.pop());
            }
        }
        Ok(None)
    }

    /// `column=value` pairs for a report.
    fn describe(&self, key: &[String]) -> String {
        self.key
            .iter()
            .zip(key)
            .map(|(&k, literal)| format!("{}={}", self.columns[k].name, readable(literal)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A server-printed key literal as a person reads it: text keys are printed as hex to keep the
/// bytes exact, and shown here decoded when they are UTF-8; ENUM and SET keys by their label.
fn readable(literal: &str) -> String {
    // An ENUM or SET: `2 /* alpha */`.
    if let Some((_, rest)) = literal.split_once(" /* ")
        && let Some(label) = rest.strip_suffix(" */")
    {
        return crate::engine::mysql_conn::sql_literal(&crate::engine::event::Value::Text(label.to_string()));
    }
    if let Some(hex) = literal.strip_prefix("_utf8mb4 X'").and_then(|r| r.strip_suffix('\''))
        && let Some(bytes) = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or(""), 16).ok())
            .collect::<Option<Vec<u8>>>()
        && let Ok(text) = String::from_utf8(bytes)
    {
        return crate::engine::mysql_conn::sql_literal(&crate::engine::event::Value::Text(text));
    }
    literal.to_string()
}

fn strings(mut row: mysql_async::Row, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match row.take::<mysql_async::Value, _>(i) {
            Some(mysql_async::Value::Bytes(b)) => String::from_utf8_lossy(&b).into_owned(),
            Some(mysql_async::Value::NULL) | None => "NULL".to_string(),
            Some(other) => other.as_sql(false),
        })
        .collect()
}

/// The canonical text of a column's stored value (see the module comment).
fn canonical(column: &StoredColumn) -> String {
    let c = quote_ident(&column.name);
    let form = match column.data_type.as_str() {
        "float" => format!("CAST({c} AS DOUBLE)"),
        "double" | "real" => format!("CONCAT({c})"),
        "decimal" | "numeric" => format!("CAST({c} AS CHAR)"),
        "enum" | "set" => format!("CONCAT({c} + 0, ':', HEX(CONVERT({c} USING utf8mb4)))"),
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => format!("HEX(CONVERT({c} USING utf8mb4))"),
        "json" => format!("HEX(CAST({c} AS CHAR))"),
        _ => format!("HEX({c})"),
    };
    format!("IFNULL({form}, 'NULL')")
}

/// The SQL literal of a key column's value, printed by the server: compared with the column on
/// either server, it selects the same value in the same order.
fn key_literal(column: &StoredColumn) -> String {
    let c = quote_ident(&column.name);
    match column.data_type.as_str() {
        // The index or bitmask compares as the server orders; the label rides along in a
        // comment, for the report.
        "enum" | "set" => format!("CONCAT({c} + 0, ' /* ', REPLACE(CONVERT({c} USING utf8mb4), '*/', '* /'), ' */')"),
        "bit" => format!("CONCAT({c} + 0)"),
        // A DOUBLE literal (an exponent makes it one): large and small values print with one
        // already (`1e300`), the others get `e0`.
        "float" | "double" | "real" => {
            let text = match column.data_type.as_str() {
                "float" => format!("CAST(CAST({c} AS DOUBLE) AS CHAR)"),
                _ => format!("CAST({c} AS CHAR)"),
            };
            format!("IF(LOCATE('e', {text}) > 0, {text}, CONCAT({text}, 'e0'))")
        }
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "year" | "decimal" | "numeric" => {
            format!("CAST({c} AS CHAR)")
        }
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => {
            format!("CONCAT('_utf8mb4 X''', HEX(CONVERT({c} USING utf8mb4)), '''')")
        }
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => format!("CONCAT('X''', HEX({c}), '''')"),
        _ => format!("QUOTE(CAST({c} AS CHAR))"),
    }
}

/// Columns of `table` as the server stores them; empty when the table does not exist.
async fn stored_columns(conn: &mut Conn, table: &TableId) -> SyncResult<Vec<StoredColumn>> {
    let rows: Vec<(String, String)> = conn
        .exec(
            "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (table.database.as_str(), table.table.as_str()),
        )
        .await
        .map_err(|e| classify(&e).context(format!("read the columns of `{table}`")))?;
    Ok(rows
        .into_iter()
        .map(|(name, data_type)| StoredColumn {
            name,
            data_type: data_type.to_ascii_lowercase(),
        })
        .collect())
}

/// A reading session: UTC (TIMESTAMP values print alike on both ends), UTF-8 results.
async fn session(endpoint: &Endpoint) -> SyncResult<Conn> {
    let mut conn = endpoint.connect().await?;
    conn.query_drop("SET SESSION time_zone = '+00:00', NAMES utf8mb4")
        .await
        .map_err(|e| classify(&e).context(format!("set up a session on {endpoint}")))?;
    Ok(conn)
}
