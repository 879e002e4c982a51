//! Discovery of the selected tables: their columns, types and key, from `information_schema`.

use std::collections::BTreeMap;

use mysql_async::{Conn, prelude::Queryable};

use crate::{
    api::ObjectSpec,
    engine::{
        event::TableId,
        mysql_conn::classify,
        retry::{SyncError, SyncResult},
        schema::{Column, ColumnKind, TableSchema},
    },
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

/// Discovers every table `objects` selects. Fails with a definite error naming the table when a
/// listed table or column does not exist, a table has no usable key, or a type is unsupported.
pub async fn discover(conn: &mut Conn, objects: &[ObjectSpec]) -> SyncResult<Vec<DiscoveredTable>> {
    let databases: Vec<&str> = objects.iter().map(|o| o.database.as_str()).collect();
    let placeholders = vec!["?"; databases.len()].join(",");
    let tables: Vec<(String, String, Option<u64>)> = conn
        .exec(
            format!(
                "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES \
                 WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN ({placeholders}) ORDER BY TABLE_SCHEMA, TABLE_NAME"
            ),
            databases.clone(),
        )
        .await
        .map_err(|e| classify(&e).context("list the source tables"))?;
    let columns: Vec<ColumnRow> = conn
        .exec(
            format!(
                "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, \
                 CHARACTER_SET_NAME, COLLATION_NAME, NUMERIC_PRECISION, NUMERIC_SCALE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA IN ({placeholders}) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
            ),
            databases.clone(),
        )
        .await
        .map_err(|e| classify(&e).context("read the source columns"))?;
    let indexes: Vec<IndexRow> = conn
        .exec(
            format!(
                "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART \
                 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN ({placeholders}) \
                 ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
            ),
            databases,
        )
        .await
        .map_err(|e| classify(&e).context("read the source indexes"))?;

    let mut columns_of: BTreeMap<(String, String), Vec<Column>> = BTreeMap::new();
    for (db, table, name, ordinal, data_type, column_type, nullable, charset, collation, precision, scale) in columns {
        // An unsupported type only matters if the column is selected; build_schema refuses it then.
        let (kind, column_type) = match column_kind(&data_type, &column_type, charset.as_deref(), precision, scale) {
            Ok(kind) => (kind, column_type),
            Err(why) => (ColumnKind::Binary, format!("unsupported: {why}")),
        };
        columns_of.entry((db.clone(), table.clone())).or_default().push(Column {
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

    let mut out = Vec::new();
    for object in objects {
        let all: Vec<&(String, String, Option<u64>)> = tables.iter().filter(|t| t.0 == object.database).collect();
        let wanted: Vec<(&str, Option<&crate::api::TableSpec>)> = match &object.tables {
            None => all.iter().map(|t| (t.1.as_str(), None)).collect(),
            Some(specs) => specs.iter().map(|s| (s.name.as_str(), Some(s))).collect(),
        };
        if object.tables.is_none() && all.is_empty() {
            return Err(SyncError::definite(
                format!("source database `{}` has no tables or does not exist", object.database),
                "check spec.objects[].database against the source",
            ));
        }
        for (name, spec) in wanted {
            let Some(row) = all.iter().find(|t| t.1 == name) else {
                return Err(SyncError::definite(
                    format!("source table `{}`.`{name}` does not exist", object.database),
                    "check spec.objects[].tables[].name against the source (names are case-sensitive)",
                ));
            };
            let key = (object.database.clone(), name.to_string());
            let all_columns = columns_of.remove(&key).unwrap_or_default();
            let indexes = indexes_of.remove(&key).unwrap_or_default();
            let schema = build_schema(object, spec, name, all_columns, &indexes)?;
            out.push(DiscoveredTable {
                schema,
                rows_estimated: row.2.unwrap_or(0),
            });
        }
    }
    Ok(out)
}

fn build_schema(
    object: &ObjectSpec,
    spec: Option<&crate::api::TableSpec>,
    name: &str,
    all_columns: Vec<Column>,
    indexes: &Indexes,
) -> SyncResult<TableSchema> {
    let source = TableId::new(&object.database, name);
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
    if let Some(wanted) = spec.and_then(|s| s.columns.as_ref()) {
        for w in wanted {
            if !all_columns.iter().any(|c| &c.name == w) {
                return Err(SyncError::definite(
                    format!("column `{w}` of table `{source}` does not exist"),
                    "check spec.objects[].tables[].columns against the source",
                ));
            }
        }
    }
    let selected: Vec<Column> = all_columns
        .into_iter()
        .filter(|c| {
            key_names.contains(&c.name.as_str()) || spec.and_then(|s| s.columns.as_ref()).is_none_or(|wanted| wanted.contains(&c.name))
        })
        .collect();
    if let Some(bad) = selected.iter().find(|c| c.column_type.starts_with("unsupported: ")) {
        return Err(SyncError::definite(
            format!(
                "column `{}` of table `{source}` has an unsupported type ({})",
                bad.name, bad.column_type
            ),
            "exclude the column with `columns:` or change its type",
        ));
    }
    let key = key_names
        .iter()
        .map(|k| selected.iter().position(|c| c.name == *k))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| SyncError::definite(format!("key of `{source}` refers to a missing column"), "report this as a bug"))?;
    let target = TableId::new(
        object.target_name.clone().unwrap_or_else(|| object.database.clone()),
        spec.and_then(|s| s.target_name.clone()).unwrap_or_else(|| name.to_string()),
    );
    Ok(TableSchema {
        source,
        target,
        columns: selected,
        key,
        key_name,
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
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => ColumnKind::Binary,
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
