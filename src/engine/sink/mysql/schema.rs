//! Destination schema for the mysql sink: creating missing databases and tables from the
//! source schema, checking existing ones, and the checkpoint table.

use std::{collections::BTreeMap, sync::Arc};

use mysql_async::{Conn, TxOpts, prelude::Queryable};

use crate::engine::{
    checkpoint::Checkpoint,
    mysql_conn::{classify, quote_ident, quote_table, sql_literal},
    retry::{SyncError, SyncResult},
    schema::{ColumnKind, SchemaChange, TableSchema},
    sink::Existing,
};

/// Columns of `table`'s destination table that Ferry does not write (the source's columns as
/// Ferry knows them lack them) and that a row cannot leave out in strict mode: NOT NULL, no
/// default, not generated or AUTO_INCREMENT.
pub async fn unfillable_columns(conn: &mut Conn, table: &TableSchema) -> SyncResult<Vec<String>> {
    let required: Vec<String> = conn
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             AND IS_NULLABLE = 'NO' AND COLUMN_DEFAULT IS NULL AND EXTRA NOT LIKE '%auto_increment%' \
             AND EXTRA NOT LIKE '%GENERATED%' ORDER BY ORDINAL_POSITION",
            (table.target.database.as_str(), table.target.table.as_str()),
        )
        .await
        .map_err(|e| classify(&e).context(format!("inspect destination table `{}`", table.target)))?;
    Ok(required
        .into_iter()
        .filter(|name| !table.columns.iter().any(|c| c.target.eq_ignore_ascii_case(name)))
        .collect())
}

/// Creates missing destination tables and checks existing ones.
pub async fn prepare_tables(
    conn: &mut Conn,
    tables: &[Arc<TableSchema>],
    existing_tables: Existing,
) -> SyncResult<Vec<crate::engine::event::TableId>> {
    let mut created = Vec::new();
    // Tables Ferry creates get the same TIMESTAMP semantics as the source declares.
    let _ = conn.query_drop("SET SESSION explicit_defaults_for_timestamp = ON").await;
    for table in tables {
        let target = &table.target;
        let described: Vec<(String, String, String, Option<String>)> = conn
            .exec(
                "SELECT COLUMN_NAME, COLUMN_TYPE, COLUMN_KEY, COLLATION_NAME FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (target.database.as_str(), target.table.as_str()),
            )
            .await
            .map_err(|e| classify(&e).context(format!("inspect destination table `{target}`")))?;
        let existing: Vec<(String, String, String)> = described.iter().map(|(n, t, k, _)| (n.clone(), t.clone(), k.clone())).collect();
        if !existing.is_empty() && existing_tables != Existing::Owned {
            // Used as it is or not, a key compared otherwise could merge two source rows.
            let collations: Vec<(String, Option<String>)> = described.into_iter().map(|(n, _, _, c)| (n, c)).collect();
            crate::engine::key::check_key_collations(table, &collations)?;
        }
        if existing.is_empty() {
            conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS {}", quote_ident(&target.database)))
                .await
                .map_err(|e| classify(&e).context(format!("create destination database `{}`", target.database)))?;
            conn.query_drop(create_table_sql(table))
                .await
                .map_err(|e| classify(&e).context(format!("create destination table `{target}`")))?;
            tracing::info!(table = %target, "created destination table");
            created.push(table.source.clone());
        } else if existing_tables == Existing::Check {
            check_compatible(table, &existing)?;
        } else if existing_tables == Existing::Fresh {
            check_compatible(table, &existing)?;
            let stale: Vec<String> = existing
                .iter()
                .map(|(name, _, _)| name)
                .filter(|name| !table.columns.iter().any(|c| &c.target == *name))
                .cloned()
                .collect();
            for column in stale {
                let sql = format!("ALTER TABLE {} DROP COLUMN {}", quote_table(target), quote_ident(&column));
                conn.query_drop(&sql)
                    .await
                    .map_err(|e| classify(&e).context(format!("drop column `{column}` the source no longer has from `{target}`")))?;
                tracing::info!(table = %target, %column, "dropped a destination column the source no longer has");
            }
        } else if existing_tables == Existing::AsIs {
            // Used as it is, except that a DECIMAL of another precision would round or refuse
            // values: that always fails.
            let types: Vec<(String, String)> = existing.iter().map(|(n, t, _)| (n.clone(), t.clone())).collect();
            crate::engine::sink::check_decimals(table, &types)?;
        }
        // The task's own table is Ferry's creation: where it differs, it lags behind DDL the
        // binlog has yet to replay (the replay brings it level).
    }
    Ok(created)
}

/// `CREATE TABLE` for the destination: the selected columns with their source types, character
/// sets and nullability, and the source key as PRIMARY KEY. Defaults, secondary indexes and
/// other UNIQUE keys are left out on purpose: every write carries every column, and a UNIQUE
/// key could be transiently violated while the binlog replays over a snapshot.
pub fn create_table_sql(table: &TableSchema) -> String {
    let mut parts: Vec<String> = table.columns.iter().map(|c| column_def(c, None)).collect();
    let keys: Vec<String> = table.key.iter().map(|&i| quote_ident(&table.columns[i].target)).collect();
    parts.push(format!("PRIMARY KEY ({})", keys.join(", ")));
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n  {}\n)",
        quote_table(&table.target),
        parts.join(",\n  ")
    )
}

/// A column's definition: destination name, source type, character set, nullability, and a
/// DEFAULT: `default` (the source's, for a column added by DDL), or for a NOT NULL column the
/// type's zero value. Ferry writes every column of every row, with one exception — a row
/// replayed from the binlog after the source dropped one of its columns, while the destination
/// still has it (the DROP comes later in the replay): its value no longer matters, and the
/// zero default lets the write go through instead of failing on a column that will go. (TEXT,
/// BLOB and JSON get none: MySQL 5.7 allows none.)
fn column_def(c: &crate::engine::schema::Column, default: Option<&str>) -> String {
    let mut def = format!("{} {}", quote_ident(&c.target), c.column_type);
    if let (ColumnKind::Text { charset }, Some(collation)) = (&c.kind, &c.collation) {
        def.push_str(&format!(" CHARACTER SET {charset} COLLATE {collation}"));
    } else if let (ColumnKind::Enum(_) | ColumnKind::Set(_), Some(collation)) = (&c.kind, &c.collation) {
        let charset = collation.split('_').next().unwrap_or("utf8mb4");
        def.push_str(&format!(" CHARACTER SET {charset} COLLATE {collation}"));
    }
    def.push_str(if c.nullable { " NULL" } else { " NOT NULL" });
    match default {
        Some(default) => def.push_str(&format!(" DEFAULT {default}")),
        None if !c.nullable => {
            if let Some(zero) = zero_default(c) {
                def.push_str(&format!(" DEFAULT {zero}"));
            }
        }
        None => {}
    }
    def
}

/// The zero value of a column's type as a DEFAULT, where every MySQL-family server takes one.
fn zero_default(c: &crate::engine::schema::Column) -> Option<String> {
    let lob = ["text", "blob", "json", "geometry"]
        .iter()
        .any(|t| c.column_type.to_ascii_lowercase().contains(t));
    Some(match &c.kind {
        _ if lob => return None,
        ColumnKind::Int { .. }
        | ColumnKind::Float
        | ColumnKind::Double
        | ColumnKind::Decimal { .. }
        | ColumnKind::Year
        | ColumnKind::Bit { .. } => "0".into(),
        ColumnKind::Text { .. } | ColumnKind::Binary | ColumnKind::FixedBinary(_) | ColumnKind::Set(_) => "''".into(),
        ColumnKind::Enum(labels) => sql_literal(&crate::engine::event::Value::Text(labels.first().cloned().unwrap_or_default())),
        ColumnKind::Date => "'0000-00-00'".into(),
        ColumnKind::DateTime | ColumnKind::Timestamp => "'0000-00-00 00:00:00'".into(),
        ColumnKind::Time => "'00:00:00'".into(),
        ColumnKind::Json => return None,
    })
}

/// Destination column names of `target`.
pub async fn destination_columns(conn: &mut Conn, target: &crate::engine::event::TableId) -> SyncResult<Vec<String>> {
    conn.exec(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
        (target.database.as_str(), target.table.as_str()),
    )
    .await
    .map_err(|e| classify(&e).context(format!("inspect destination table `{target}`")))
}

/// Applies a table change from source DDL. Idempotent: creates only what is missing, drops
/// only what exists. Added columns keep the source's `DEFAULT` (rows that exist get it on both
/// ends) and its place among the synchronised columns.
pub async fn apply_ddl(conn: &mut Conn, change: &SchemaChange, conflicting: Existing) -> SyncResult<()> {
    let run = async |conn: &mut Conn, sql: String| {
        conn.query_drop(&sql)
            .await
            .map_err(|e| classify(&e).context(format!("apply `{}` to the destination", sql.chars().take(200).collect::<String>())))
    };
    match change {
        SchemaChange::Create(table) => prepare_tables(conn, std::slice::from_ref(table), conflicting).await.map(drop),
        SchemaChange::Drop(table) => run(conn, format!("DROP TABLE IF EXISTS {}", quote_table(&table.target))).await,
        SchemaChange::Truncate(table) => run(conn, format!("TRUNCATE TABLE {}", quote_table(&table.target))).await,
        // The pipeline copies the table again; nothing to change in its shape.
        SchemaChange::KeepColumns(_) | SchemaChange::Recopy(_) => Ok(()),
        SchemaChange::AddColumns { table, added } => {
            let mut existing = destination_columns(conn, &table.target).await?;
            let mut added = added.clone();
            added.sort_by_key(|(i, _)| *i);
            for (i, default) in added {
                let column = &table.columns[i];
                if existing.contains(&column.target) {
                    continue;
                }
                let mut sql = format!(
                    "ALTER TABLE {} ADD COLUMN {}",
                    quote_table(&table.target),
                    column_def(column, default.as_deref())
                );
                // After the nearest earlier column the destination has: the source's
                // neighbour may be one the destination does not (yet) hold — a later
                // statement of a replay added it, or the selection leaves it out.
                let place = match table.columns[..i].iter().rev().find(|c| existing.contains(&c.target)) {
                    Some(previous) => format!(" AFTER {}", quote_ident(&previous.target)),
                    None => " FIRST".to_string(),
                };
                sql.push_str(&place);
                match conn.query_drop(&sql).await {
                    // ER_INVALID_DEFAULT: the source took this DEFAULT for the column as the
                    // statement declared it; the column as the source has it now (the type the
                    // destination gets) differs — a statement replayed after a restart, with a
                    // later one that changed or replaced the column still to come. That later
                    // statement decides the column's content: add it without the DEFAULT.
                    Err(mysql_async::Error::Server(e)) if e.code == 1067 && default.is_some() => {
                        tracing::warn!(table = %table.target, column = %column.target, default = ?default,
                            "the DEFAULT of a replayed ADD COLUMN does not fit the column as the source has it now: added without it");
                        let sql = format!(
                            "ALTER TABLE {} ADD COLUMN {}{place}",
                            quote_table(&table.target),
                            column_def(column, None)
                        );
                        run(conn, sql).await?;
                    }
                    result => result.map_err(|e| {
                        classify(&e).context(format!("apply `{}` to the destination", sql.chars().take(200).collect::<String>()))
                    })?,
                }
                existing.push(column.target.clone());
            }
            Ok(())
        }
        SchemaChange::DropColumns { table, columns } => {
            let existing = destination_columns(conn, &table.target).await?;
            for column in columns.iter().filter(|c| existing.contains(c)) {
                run(
                    conn,
                    format!("ALTER TABLE {} DROP COLUMN {}", quote_table(&table.target), quote_ident(column)),
                )
                .await?;
            }
            Ok(())
        }
    }
}

/// An existing destination table is compatible when it has every selected column with the same
/// type and its primary key is the source key.
pub fn check_compatible(table: &TableSchema, existing: &[(String, String, String)]) -> SyncResult<()> {
    let by_name: BTreeMap<&str, (&str, &str)> = existing.iter().map(|(n, t, k)| (n.as_str(), (t.as_str(), k.as_str()))).collect();
    let mut problems = Vec::new();
    for column in &table.columns {
        match by_name.get(column.target.as_str()) {
            None => problems.push(format!("column `{}` is missing", column.target)),
            Some((ty, _)) if normalize(ty) != normalize(&column.column_type) => {
                problems.push(format!("column `{}` is {ty}, the source has {}", column.target, column.column_type))
            }
            _ => {}
        }
    }
    let dest_key: Vec<&str> = existing.iter().filter(|(_, _, k)| k == "PRI").map(|(n, _, _)| n.as_str()).collect();
    let mut source_key: Vec<&str> = table.key.iter().map(|&i| table.columns[i].target.as_str()).collect();
    let mut sorted_dest = dest_key.clone();
    sorted_dest.sort_unstable();
    source_key.sort_unstable();
    if sorted_dest != source_key {
        problems.push(format!(
            "primary key is ({}), the source key is ({})",
            dest_key.join(", "),
            source_key.join(", ")
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(SyncError::definite(
        format!(
            "destination table `{}` exists but is not compatible: {}",
            table.target,
            problems.join("; ")
        ),
        "drop or fix the destination table, map the source table to another name (targetName), or set conflictingTables: ignore",
    ))
}

/// Display widths of integer types differ between servers (`int(11)` vs `int`) and mean nothing.
fn normalize(column_type: &str) -> String {
    let t = column_type.to_ascii_lowercase();
    for int in ["tinyint", "smallint", "mediumint", "bigint", "int"] {
        if let Some(rest) = t.strip_prefix(int)
            && rest.starts_with('(')
            && let Some(close) = rest.find(')')
        {
            return format!("{int}{}", &rest[close + 1..]);
        }
    }
    t
}

/// Creates the checkpoint table if needed and returns the fencing epoch with the stored
/// checkpoint. With `held = None` it takes a new epoch (a worker starting); with
/// `held = Some(epoch)` it keeps that epoch (the same worker retrying) and fails definitely
/// when another worker has claimed the task since.
pub async fn claim(conn: &mut Conn, database: &str, task: &str, held: Option<i64>) -> SyncResult<(i64, Checkpoint)> {
    let table = format!("{}.ferry_checkpoint", quote_ident(database));
    let ctx = |e: mysql_async::Error| classify(&e).context(format!("claim task {task} in the destination checkpoint table"));
    conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS {}", quote_ident(database)))
        .await
        .map_err(ctx)?;
    conn.query_drop(format!(
        "CREATE TABLE IF NOT EXISTS {table} (\n  task VARCHAR(255) NOT NULL PRIMARY KEY,\n  epoch BIGINT NOT NULL,\n  \
         state LONGTEXT NOT NULL,\n  updated_at TIMESTAMP(6) NULL\n)"
    ))
    .await
    .map_err(ctx)?;
    let mut tx = conn.start_transaction(TxOpts::default()).await.map_err(ctx)?;
    if held.is_none() {
        tx.exec_drop(
            format!(
                "INSERT INTO {table} (task, epoch, state, updated_at) VALUES (?, 1, '{{}}', NOW(6)) ON DUPLICATE KEY UPDATE epoch = epoch + 1"
            ),
            (task,),
        )
        .await
        .map_err(ctx)?;
    }
    let row: Option<(i64, String)> = tx
        .exec_first(format!("SELECT epoch, state FROM {table} WHERE task = ? FOR UPDATE"), (task,))
        .await
        .map_err(ctx)?;
    tx.commit().await.map_err(ctx)?;
    let (epoch, state) = row.ok_or_else(|| {
        SyncError::definite(
            format!("the checkpoint row of task {task} was deleted while this worker ran"),
            "restart the task",
        )
    })?;
    if let Some(held) = held
        && held != epoch
    {
        return Err(fenced(task, held));
    }
    let checkpoint = Checkpoint::from_json(&state).map_err(|e| {
        SyncError::definite(
            format!("the stored checkpoint of {task} cannot be read: {e}"),
            format!("delete the row task='{task}' from {table} to start the task over"),
        )
    })?;
    Ok((epoch, checkpoint))
}

/// The error of a worker whose epoch is no longer the task's.
pub fn fenced(task: &str, epoch: i64) -> SyncError {
    SyncError::definite(
        format!("task {task} was claimed by another worker (epoch {epoch} is stale); this worker stopped without writing"),
        "run one worker per task; the newer worker carries on from the checkpoint",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_display_widths_do_not_matter() {
        assert_eq!(normalize("int(11)"), "int");
        assert_eq!(normalize("int(10) unsigned"), "int unsigned");
        assert_eq!(normalize("decimal(10,2)"), "decimal(10,2)");
        assert_ne!(normalize("bigint(20)"), normalize("int(11)"));
    }
}
