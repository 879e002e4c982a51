//! Discovery of the selected tables: their columns, types and key, from `information_schema`.

use std::collections::BTreeMap;

use mysql_async::{Conn, prelude::Queryable};

use crate::engine::{
    event::TableId,
    mysql_conn::classify,
    retry::{SyncError, SyncResult},
    schema::{Column, ColumnKind, TableSchema, bind_filter},
    select::Selection,
};

/// A discovered table with the source's row estimate.
#[derive(Clone, Debug)]
pub struct DiscoveredTable {
    pub schema: TableSchema,
    pub rows_estimated: u64,
}

type ColumnRow = (
    String,
    String,
    String,
    u64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<u64>,
    Option<u64>,
);
type IndexRow = (String, String, String, i64, u64, String, Option<u64>);
/// Index name → (unique, [(column, whole column — not a prefix)]).
type Indexes = BTreeMap<String, (bool, Vec<(String, bool)>)>;

/// What `information_schema` says about some tables.
struct Catalog {
    /// Database, table, estimated rows, whether its engine supports transactions.
    tables: Vec<(String, String, Option<u64>)>,
    columns: BTreeMap<(String, String), Vec<Column>>,
    indexes: BTreeMap<(String, String), Indexes>,
}

type TableRow = (String, String, Option<u64>);
type CatalogRows = (Vec<TableRow>, Vec<ColumnRow>, Vec<IndexRow>);

/// Reads tables, columns and indexes of `databases` (of one table when `only` is given).
///
/// `information_schema` is read by three queries and is not transactional: a DDL statement
/// between them (say `CREATE OR REPLACE TABLE` while the worker starts) would pair the columns
/// of one table with the keys of another. The rows are read until two reads in a row agree
/// (row estimates aside), so a definition is always one the table had.
async fn catalog(conn: &mut Conn, databases: &[&str], only: Option<&str>) -> SyncResult<Catalog> {
    let mut last = catalog_rows(conn, databases, only).await?;
    for _ in 0..10 {
        let again = catalog_rows(conn, databases, only).await?;
        let shape = |rows: &CatalogRows| {
            let tables: Vec<_> = rows.0.iter().map(|(d, t, _)| (d.clone(), t.clone())).collect();
            (tables, rows.1.clone(), rows.2.clone())
        };
        if shape(&again) == shape(&last) {
            return Ok(build_catalog(again));
        }
        last = again;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Err(SyncError::new(
        crate::engine::retry::ErrorClass::Other,
        "the source tables' definitions kept changing while Ferry read them (DDL running)",
    ))
}

async fn catalog_rows(conn: &mut Conn, databases: &[&str], only: Option<&str>) -> SyncResult<CatalogRows> {
    let placeholders = vec!["?"; databases.len()].join(",");
    let mut params: Vec<mysql_async::Value> = databases.iter().map(|d| mysql_async::Value::from(*d)).collect();
    let table_filter = match only {
        Some(table) => {
            params.push(table.into());
            " AND TABLE_NAME = ?"
        }
        None => "",
    };
    let tables: Vec<TableRow> = conn
        .exec(
            format!(
                "SELECT t.TABLE_SCHEMA, t.TABLE_NAME, t.TABLE_ROWS FROM information_schema.TABLES t \
                 WHERE t.TABLE_TYPE = 'BASE TABLE' AND t.TABLE_SCHEMA IN ({placeholders}){} ORDER BY t.TABLE_SCHEMA, t.TABLE_NAME",
                table_filter.replace("TABLE_NAME", "t.TABLE_NAME")
            ),
            params.clone(),
        )
        .await
        .map_err(|e| classify(&e).context("list the source tables"))?;
    let columns: Vec<ColumnRow> = conn
        .exec(
            format!(
                "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, \
                 CHARACTER_SET_NAME, COLLATION_NAME, NUMERIC_PRECISION, NUMERIC_SCALE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA IN ({placeholders}){table_filter} ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
            ),
            params.clone(),
        )
        .await
        .map_err(|e| classify(&e).context("read the source columns"))?;
    let indexes: Vec<IndexRow> = conn
        .exec(
            format!(
                "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART \
                 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN ({placeholders}){table_filter} \
                 ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
            ),
            params,
        )
        .await
        .map_err(|e| classify(&e).context("read the source indexes"))?;
    Ok((tables, columns, indexes))
}

fn build_catalog((tables, columns, indexes): CatalogRows) -> Catalog {
    let mut columns_of: BTreeMap<(String, String), Vec<Column>> = BTreeMap::new();
    for (db, table, name, ordinal, data_type, column_type, nullable, charset, collation, precision, scale) in columns {
        // An unsupported type only matters if the column is selected; build_schema refuses it then.
        let (kind, column_type) = match column_kind(&data_type, &column_type, charset.as_deref(), precision, scale) {
            Ok(kind) => (kind, column_type),
            Err(why) => (ColumnKind::Binary, format!("unsupported: {why}")),
        };
        columns_of.entry((db.clone(), table.clone())).or_default().push(Column {
            target: name.clone(),
            name,
            kind,
            column_type,
            nullable: nullable == "YES",
            ordinal: ordinal as usize - 1,
            collation,
        });
    }
    let mut indexes_of: BTreeMap<(String, String), Indexes> = BTreeMap::new();
    for (db, table, index, non_unique, _, column, sub_part) in indexes {
        let entry = indexes_of
            .entry((db, table))
            .or_default()
            .entry(index)
            .or_insert((non_unique == 0, Vec::new()));
        entry.1.push((column, sub_part.is_none()));
    }
    Catalog {
        tables,
        columns: columns_of,
        indexes: indexes_of,
    }
}

/// What the source has of the tables the selection names.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    /// The selected tables the source has.
    pub tables: Vec<DiscoveredTable>,
    /// Tables `objects` lists by name that the source does not have.
    pub missing: Vec<TableId>,
    /// Databases selected whole that have no table (or do not exist).
    pub empty: Vec<String>,
}

impl Discovery {
    /// The tables, or a definite error naming the first listed table (or whole database)
    /// the source does not have.
    pub fn strict(self) -> SyncResult<Vec<DiscoveredTable>> {
        if let Some(database) = self.empty.first() {
            return Err(empty_database(database));
        }
        if let Some(table) = self.missing.first() {
            return Err(missing_table(table));
        }
        Ok(self.tables)
    }
}

/// The error for a database selected whole that has no table.
pub fn empty_database(database: &str) -> SyncError {
    SyncError::definite(
        format!("source database `{database}` has no tables or does not exist"),
        "check spec.objects[].database against the source",
    )
}

/// The error for a table `objects` lists that the source does not have.
pub fn missing_table(table: &TableId) -> SyncError {
    SyncError::definite(
        format!("source table `{}`.`{}` does not exist", table.database, table.table),
        "check spec.objects[].tables[].name against the source (names are case-sensitive)",
    )
}

/// Discovers every table the selection names. Fails with a definite error naming the table
/// when a listed table or column does not exist, a table has no usable key, a type is
/// unsupported, or a filter names a column that is not synchronised.
pub async fn discover(conn: &mut Conn, selection: &Selection) -> SyncResult<Vec<DiscoveredTable>> {
    discover_present(conn, selection).await?.strict()
}

/// Discovers the selected tables the source has, and names the listed ones it does not have
/// (a running task's table may have been dropped since); other errors are as [`discover`]'s.
pub async fn discover_present(conn: &mut Conn, selection: &Selection) -> SyncResult<Discovery> {
    let mut catalog = catalog(conn, &selection.databases(), None).await?;
    let mut out = Discovery::default();
    for database in selection.databases() {
        let object = selection
            .object(database)
            .ok_or_else(|| SyncError::definite("lost a database", "report this as a bug"))?;
        let all: Vec<&(String, String, Option<u64>)> = catalog.tables.iter().filter(|t| t.0 == database).collect();
        let wanted: Vec<&str> = match &object.tables {
            None => all.iter().map(|t| t.1.as_str()).collect(),
            Some(specs) => specs.iter().map(|s| s.name.as_str()).collect(),
        };
        if object.tables.is_none() && all.is_empty() {
            out.empty.push(database.to_string());
        }
        for name in wanted {
            let Some(row) = all.iter().find(|t| t.1 == name) else {
                out.missing.push(TableId::new(database, name));
                continue;
            };
            let key = (database.to_string(), name.to_string());
            let all_columns = catalog.columns.remove(&key).unwrap_or_default();
            let indexes = catalog.indexes.remove(&key).unwrap_or_default();
            let schema = build_schema(selection, database, name, all_columns, &indexes)?;
            out.tables.push(DiscoveredTable {
                schema,
                rows_estimated: row.2.unwrap_or(0),
            });
        }
    }
    Ok(out)
}

/// Discovers one table as it is now, if it exists and is selected.
pub async fn discover_table(conn: &mut Conn, selection: &Selection, database: &str, table: &str) -> SyncResult<Option<DiscoveredTable>> {
    if selection.table(database, table).is_none() {
        return Ok(None);
    }
    let mut catalog = catalog(conn, &[database], Some(table)).await?;
    let Some(row) = catalog.tables.first().cloned() else {
        return Ok(None);
    };
    let key = (database.to_string(), table.to_string());
    let all_columns = catalog.columns.remove(&key).unwrap_or_default();
    let indexes = catalog.indexes.remove(&key).unwrap_or_default();
    let schema = build_schema(selection, database, table, all_columns, &indexes)?;
    Ok(Some(DiscoveredTable {
        schema,
        rows_estimated: row.2.unwrap_or(0),
    }))
}

fn build_schema(selection: &Selection, database: &str, name: &str, all_columns: Vec<Column>, indexes: &Indexes) -> SyncResult<TableSchema> {
    let spec = selection.table(database, name).flatten();
    let source = TableId::new(database, name);
    let source_width = all_columns.len();
    let nullable = |c: &str| all_columns.iter().find(|col| col.name == c).is_none_or(|col| col.nullable);
    let (key_name, key_columns) = indexes
        .get("PRIMARY")
        .map(|(_, cols)| ("PRIMARY".to_string(), cols))
        .or_else(|| {
            indexes
                .iter()
                .find(|(_, (unique, cols))| *unique && cols.iter().all(|(c, whole)| *whole && !nullable(c)))
                .map(|(n, (_, cols))| (n.clone(), cols))
        })
        .ok_or_else(|| {
            SyncError::definite(
                format!("table `{source}` has no PRIMARY KEY and no UNIQUE key over NOT NULL columns"),
                "add a primary key to the table, or leave it out of spec.objects",
            )
        })?;
    let key_names: Vec<&str> = key_columns.iter().map(|(c, _)| c.as_str()).collect();
    let wanted = spec.and_then(|s| s.columns.as_ref());
    let mapping = spec.and_then(|s| s.column_mapping.as_ref());
    for w in wanted.into_iter().flatten().chain(mapping.into_iter().flat_map(|m| m.keys())) {
        if !all_columns.iter().any(|c| &c.name == w) {
            return Err(SyncError::definite(
                format!("column `{w}` of table `{source}` does not exist"),
                "check spec.objects[].tables[].columns and columnMapping against the source",
            ));
        }
    }
    let mut selected: Vec<Column> = all_columns
        .into_iter()
        .filter(|c| key_names.contains(&c.name.as_str()) || wanted.is_none_or(|wanted| wanted.contains(&c.name)))
        .collect();
    for column in &mut selected {
        column.target = selection.target_column(database, name, &column.name);
    }
    if let Some(bad) = selected.iter().find(|c| c.column_type.starts_with("unsupported: ")) {
        return Err(SyncError::definite(
            format!(
                "column `{}` of table `{source}` has an unsupported type ({})",
                bad.name, bad.column_type
            ),
            "exclude the column with `columns:` or change its type",
        ));
    }
    if selected.len() == key_names.len() {
        return Err(SyncError::definite(
            format!(
                "table `{source}` has no synchronised column outside its key ({})",
                key_names.join(", ")
            ),
            "select at least one non-key column, or leave the table out of spec.objects",
        ));
    }
    let mut targets: Vec<&str> = selected.iter().map(|c| c.target.as_str()).collect();
    targets.sort_unstable();
    if let Some(pair) = targets.windows(2).find(|w| w[0] == w[1]) {
        return Err(SyncError::definite(
            format!("two columns of `{source}` map to the destination column `{}`", pair[0]),
            "give each column its own destination name in columnMapping",
        ));
    }
    let key = key_names
        .iter()
        .map(|k| selected.iter().position(|c| c.name == *k))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| SyncError::definite(format!("key of `{source}` refers to a missing column"), "report this as a bug"))?;
    let filter = match selection.filter(database, name) {
        Some(filter) => {
            if let Some(missing) = filter.columns().into_iter().find(|c| !selected.iter().any(|s| &s.name == c)) {
                return Err(SyncError::definite(
                    format!("the filter of `{source}` reads column `{missing}`, which is not synchronised or does not exist"),
                    "add the column to spec.objects[].tables[].columns, or change the filter",
                ));
            }
            Some(std::sync::Arc::new(bind_filter(&filter, &selected)))
        }
        None => None,
    };
    let target = TableId::new(selection.target_database(database), selection.target_table(database, name));
    Ok(TableSchema {
        source,
        target,
        columns: selected,
        key,
        key_name,
        source_width,
        filter,
        ops: selection.operations(database, name),
        fixed_columns: wanted.is_some(),
    })
}

/// Maps a source column type to its value representation.
pub fn column_kind(
    data_type: &str,
    column_type: &str,
    charset: Option<&str>,
    precision: Option<u64>,
    scale: Option<u64>,
) -> Result<ColumnKind, String> {
    let unsigned = column_type.contains("unsigned");
    let text = || match charset {
        Some(cs) if cs != "binary" => ColumnKind::Text { charset: cs.to_string() },
        _ => ColumnKind::Binary,
    };
    let width = || {
        column_type
            .split_once('(')
            .and_then(|(_, rest)| rest.split(')').next())
            .and_then(|n| n.trim().parse::<u32>().ok())
    };
    Ok(match data_type {
        "tinyint" => ColumnKind::Int { unsigned, bytes: 1 },
        "smallint" => ColumnKind::Int { unsigned, bytes: 2 },
        "mediumint" => ColumnKind::Int { unsigned, bytes: 3 },
        "int" | "integer" => ColumnKind::Int { unsigned, bytes: 4 },
        "bigint" => ColumnKind::Int { unsigned, bytes: 8 },
        "float" => ColumnKind::Float,
        "double" | "real" => ColumnKind::Double,
        "decimal" | "numeric" => ColumnKind::Decimal {
            precision: precision.unwrap_or(10) as u32,
            scale: scale.unwrap_or(0) as u32,
        },
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => text(),
        "binary" => ColumnKind::FixedBinary(width().unwrap_or(1)),
        "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => ColumnKind::Binary,
        "bit" => ColumnKind::Bit {
            bits: precision.unwrap_or(1) as u32,
        },
        "date" => ColumnKind::Date,
        "datetime" => ColumnKind::DateTime,
        "timestamp" => ColumnKind::Timestamp,
        "time" => ColumnKind::Time,
        "year" => ColumnKind::Year,
        "json" => ColumnKind::Json,
        "enum" => ColumnKind::Enum(labels(column_type)),
        "set" => ColumnKind::Set(labels(column_type)),
        other => return Err(format!("type `{other}` is not supported")),
    })
}

/// The labels of `enum('a','b''c')` / `set(...)`, quotes undone.
fn labels(column_type: &str) -> Vec<String> {
    let inner = column_type
        .split_once('(')
        .and_then(|(_, rest)| rest.rsplit_once(')'))
        .map(|(inner, _)| inner)
        .unwrap_or("");
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = inner.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '\'') => quoted = true,
            (true, '\'') if chars.peek() == Some(&'\'') => {
                chars.next();
                current.push('\'');
            }
            (true, '\'') => {
                quoted = false;
                out.push(std::mem::take(&mut current));
            }
            (true, '\\') => {
                if let Some(n) = chars.next() {
                    current.push(n);
                }
            }
            (true, c) => current.push(c),
            (false, _) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_labels_with_quotes_and_commas() {
        assert_eq!(labels("enum('a','b''c','d,e')"), vec!["a", "b'c", "d,e"]);
        assert_eq!(labels("set('x','')"), vec!["x", ""]);
    }

    #[test]
    fn kinds_follow_the_source_type() {
        assert_eq!(
            column_kind("int", "int(10) unsigned", None, None, None),
            Ok(ColumnKind::Int { unsigned: true, bytes: 4 })
        );
        assert_eq!(
            column_kind("varchar", "varchar(10)", Some("latin1"), None, None),
            Ok(ColumnKind::Text { charset: "latin1".into() })
        );
        assert!(column_kind("geometry", "geometry", None, None, None).is_err());
    }
}
