//! The oracle: what the servers themselves say a table holds, read with MariaDB's own command-line
//! client (`mariadb -B -N`), never through Ferry's code. Every column is rendered by the server
//! in a canonical text form — `HEX()` of the stored bytes for strings, binary data, integers,
//! temporal values, BIT and JSON; the exact decimal text for DECIMAL; `CAST(… AS DOUBLE)` (FLOAT)
//! and `CONCAT()` (DOUBLE, the shortest text that reads back to the same bits) for floating
//! point; index and label for ENUM and SET — so two tables are equal exactly when the servers
//! hold the same values, byte for byte. Rows are compared as sorted sets of those lines.

use std::process::Command;

use super::MariaDb;

/// A column as `information_schema` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: String,
    pub column_type: String,
    pub nullable: bool,
    pub collation: String,
}

/// What a server holds in one table: its columns and its rows in canonical form, sorted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDump {
    pub columns: Vec<ColumnInfo>,
    pub rows: Vec<String>,
}

/// Runs `sql` with the `mariadb` client against `server` (UTC session) and returns its output
/// lines, tab-separated fields, no headers.
pub fn client(server: &MariaDb, sql: &str) -> Result<Vec<String>, String> {
    let out = Command::new("mariadb")
        .args([
            "--no-defaults",
            "--protocol=TCP",
            "-h127.0.0.1",
            &format!("-P{}", server.port),
            "-uferry",
            "-B",
            "-N",
            "--raw",
            "--default-character-set=utf8mb4",
            "-e",
            &format!("SET time_zone = '+00:00'; {sql}"),
        ])
        .env("MYSQL_PWD", "ferry-pass")
        .output()
        .map_err(|e| format!("run the mariadb client: {e}"))?;
    if !out.status.success() {
        return Err(format!("mariadb client: {sql}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect())
}

fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Tables of `db` on `server` (base tables only), sorted.
pub fn tables(server: &MariaDb, db: &str) -> Result<Vec<String>, String> {
    let mut t = client(
        server,
        &format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_TYPE = 'BASE TABLE'",
            quote_str(db)
        ),
    )?;
    t.sort();
    Ok(t)
}

/// Columns of `db.table` in order.
pub fn columns(server: &MariaDb, db: &str, table: &str) -> Result<Vec<ColumnInfo>, String> {
    let lines = client(
        server,
        &format!(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, IFNULL(COLLATION_NAME, '-') FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
            quote_str(db),
            quote_str(table)
        ),
    )?;
    Ok(lines
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            ColumnInfo {
                name: f.first().copied().unwrap_or_default().to_string(),
                data_type: f.get(1).copied().unwrap_or_default().to_string(),
                column_type: f.get(2).copied().unwrap_or_default().to_string(),
                nullable: f.get(3) == Some(&"YES"),
                collation: f.get(4).copied().unwrap_or_default().to_string(),
            }
        })
        .collect())
}

/// The server-side canonical text of one column.
pub fn canonical(column: &ColumnInfo) -> String {
    let c = quote_ident(&column.name);
    let expr = match column.data_type.as_str() {
        "float" => format!("CAST({c} AS DOUBLE)"),
        "double" | "real" => format!("CONCAT({c})"),
        "decimal" | "numeric" => format!("CAST({c} AS CHAR)"),
        "enum" | "set" => format!("CONCAT({c} + 0, ':', HEX({c}))"),
        _ => format!("HEX({c})"),
    };
    format!("IFNULL({expr}, 'NULL')")
}

/// What `server` holds in `db.table`, all columns.
pub fn dump(server: &MariaDb, db: &str, table: &str) -> Result<TableDump, String> {
    let columns = columns(server, db, table)?;
    if columns.is_empty() {
        return Err(format!("table {db}.{table} does not exist on port {}", server.port));
    }
    let exprs: Vec<String> = columns.iter().map(canonical).collect();
    let mut rows = client(
        server,
        &format!(
            "SELECT CONCAT_WS('|', {}) FROM {}.{}",
            exprs.join(", "),
            quote_ident(db),
            quote_ident(table)
        ),
    )?;
    rows.sort();
    Ok(TableDump { columns, rows })
}

/// Compares `db.table` on both servers (same names on both ends): columns (name, type,
/// nullability, collation) and rows. `Err` describes the first differences.
pub fn compare_table(src: &MariaDb, dst: &MariaDb, db: &str, table: &str) -> Result<usize, String> {
    let a = dump(src, db, table)?;
    let b = dump(dst, db, table)?;
    let strip = |cols: &[ColumnInfo]| {
        cols.iter()
            .map(|c| {
                format!(
                    "{} {} {} {}",
                    c.name,
                    normalize_type(&c.column_type),
                    if c.nullable { "NULL" } else { "NOT NULL" },
                    c.collation
                )
            })
            .collect::<Vec<_>>()
    };
    if strip(&a.columns) != strip(&b.columns) {
        return Err(format!(
            "{db}.{table}: columns differ\n  source:      {:?}\n  destination: {:?}",
            strip(&a.columns),
            strip(&b.columns)
        ));
    }
    if a.rows != b.rows {
        let only_src: Vec<&String> = a.rows.iter().filter(|r| b.rows.binary_search(r).is_err()).collect();
        let only_dst: Vec<&String> = b.rows.iter().filter(|r| a.rows.binary_search(r).is_err()).collect();
        let head = |v: &[&String]| v.iter().take(5).map(|s| format!("    {s}")).collect::<Vec<_>>().join("\n");
        return Err(format!(
            "{db}.{table}: rows differ — source {} rows, destination {} rows; {} only in the source, {} only in the destination\n  \
             columns: {}\n  only in the source:\n{}\n  only in the destination:\n{}",
            a.rows.len(),
            b.rows.len(),
            only_src.len(),
            only_dst.len(),
            a.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join("|"),
            head(&only_src),
            head(&only_dst)
        ));
    }
    Ok(a.rows.len())
}

/// Compares every table of `db`: the same tables on both servers, each equal.
pub fn compare_database(src: &MariaDb, dst: &MariaDb, db: &str) -> Result<usize, String> {
    let a = tables(src, db)?;
    let b = tables(dst, db)?;
    if a != b {
        return Err(format!("database {db}: tables differ\n  source:      {a:?}\n  destination: {b:?}"));
    }
    let mut rows = 0;
    let mut problems = Vec::new();
    for table in &a {
        match compare_table(src, dst, db, table) {
            Ok(n) => rows += n,
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() { Ok(rows) } else { Err(problems.join("\n")) }
}

/// Display widths of integer types mean nothing and differ between servers.
fn normalize_type(t: &str) -> String {
    let t = t.to_ascii_lowercase();
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
