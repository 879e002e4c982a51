//! DDL from the binlog: what a statement does to tables, parsed with sqlparser.
//!
//! Every statement is reduced to [`DdlOp`]s; the binlog reader decides per op whether it
//! concerns a synchronised table and what follows from it (see `docs/ddl.md`):
//!
//! | Statement | Effect on a synchronised table |
//! |---|---|
//! | `CREATE TABLE` matching the selection | created in the destination and followed from its creation (`createTable`) |
//! | `DROP TABLE` | dropped in the destination (`dropTable`), no longer followed |
//! | `ALTER TABLE … ADD COLUMN` (several, `FIRST`/`AFTER`) | added in the destination (`addColumn`); Lindorm without `DEFAULT` and at the end |
//! | `ALTER TABLE … DROP COLUMN` | dropped in the destination when synchronised |
//! | `TRUNCATE TABLE` | truncated in the destination (needs `delete`) |
//! | index changes, `ALTER … SET/DROP DEFAULT`, table options, `ALGORITHM`/`LOCK` | no effect on rows: skipped |
//! | `RENAME TABLE`, `ALTER … RENAME`, `MODIFY`/`CHANGE`/`RENAME COLUMN` of a synchronised column, primary key changes, partition changes, anything not understood | the task fails, naming the statement and its binlog position |
//!
//! Statements on other objects (databases, views, routines, users, unselected tables) are
//! skipped.

use sqlparser::{
    ast::{self, AlterTableOperation, ColumnOption, Expr, ObjectName, ObjectType, Statement, TableConstraint},
    dialect::MySqlDialect,
    parser::Parser,
    tokenizer::{Token, Tokenizer},
};

use super::{event::TableId, event::Value, mysql_conn::sql_literal};

/// Where an added column goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnPosition {
    Last,
    First,
    After(String),
}

/// A column added by `ALTER TABLE … ADD COLUMN`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedColumn {
    pub name: String,
    /// The `DEFAULT` as SQL (literals re-quoted), if any.
    pub default: Option<String>,
    pub position: ColumnPosition,
}

/// What one part of a DDL statement does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DdlOp {
    CreateTable(TableId),
    DropTables(Vec<TableId>),
    AddColumns {
        table: TableId,
        columns: Vec<AddedColumn>,
    },
    DropColumns {
        table: TableId,
        columns: Vec<String>,
    },
    Truncate(Vec<TableId>),
    /// Changes `columns` (or, when empty, the whole table) in a way the destination cannot
    /// follow: fails the task when it touches what is synchronised.
    Unsupported {
        table: TableId,
        columns: Vec<String>,
        what: String,
    },
    /// No effect on the rows of `table`.
    NoEffect {
        table: TableId,
        what: String,
    },
    /// Not about tables.
    Unrelated,
}

/// The ops of `statement`, run with `default_db` as the current database.
pub fn parse(statement: &str, default_db: &str) -> Vec<DdlOp> {
    let dialect = MySqlDialect {};
    match Parser::parse_sql(&dialect, statement) {
        Ok(statements) => statements.iter().flat_map(|s| ops_of(s, default_db)).collect(),
        Err(_) => fallback(statement, default_db),
    }
}

fn table_id(name: &ObjectName, default_db: &str) -> TableId {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p {
            ast::ObjectNamePart::Identifier(i) => i.value.clone(),
            other => other.to_string(),
        })
        .collect();
    match parts.as_slice() {
        [db, table] => TableId::new(db, table),
        [.., table] => TableId::new(default_db, table),
        [] => TableId::new(default_db, ""),
    }
}

fn ops_of(statement: &Statement, db: &str) -> Vec<DdlOp> {
    let unsupported = |table: TableId, columns: Vec<String>, what: &str| DdlOp::Unsupported {
        table,
        columns,
        what: what.to_string(),
    };
    match statement {
        Statement::CreateTable(create) => vec![DdlOp::CreateTable(table_id(&create.name, db))],
        Statement::Drop {
            object_type: ObjectType::Table,
            names,
            temporary: false,
            ..
        } => vec![DdlOp::DropTables(names.iter().map(|n| table_id(n, db)).collect())],
        Statement::Drop {
            object_type: ObjectType::Index,
            table: Some(table),
            ..
        } => vec![DdlOp::NoEffect {
            table: table_id(table, db),
            what: "DROP INDEX".into(),
        }],
        Statement::CreateIndex(index) => vec![DdlOp::NoEffect {
            table: table_id(&index.table_name, db),
            what: "CREATE INDEX".into(),
        }],
        Statement::Truncate(truncate) => vec![DdlOp::Truncate(
            truncate.table_names.iter().map(|t| table_id(&t.name, db)).collect(),
        )],
        Statement::RenameTable(renames) => renames
            .iter()
            .flat_map(|r| {
                let what = format!("RENAME TABLE to `{}`", r.new_name);
                // Both names: renaming a table away stops it, renaming one onto a selected
                // name replaces it.
                [
                    unsupported(table_id(&r.old_name, db), Vec::new(), &what),
                    unsupported(table_id(&r.new_name, db), Vec::new(), &what),
                ]
            })
            .collect(),
        Statement::AlterTable(alter) => {
            let table = table_id(&alter.name, db);
            let mut out = Vec::new();
            let mut added = Vec::new();
            for op in &alter.operations {
                match op {
                    AlterTableOperation::AddColumn {
                        column_def,
                        column_position,
                        ..
                    } => {
                        let default = column_def.options.iter().find_map(|o| match &o.option {
                            ColumnOption::Default(expr) => Some(default_sql(expr)),
                            _ => None,
                        });
                        added.push(AddedColumn {
                            name: column_def.name.value.clone(),
                            default,
                            position: match column_position {
                                None => ColumnPosition::Last,
                                Some(ast::MySQLColumnPosition::First) => ColumnPosition::First,
                                Some(ast::MySQLColumnPosition::After(c)) => ColumnPosition::After(c.value.clone()),
                            },
                        });
                    }
                    AlterTableOperation::DropColumn { column_names, .. } => out.push(DdlOp::DropColumns {
                        table: table.clone(),
                        columns: column_names.iter().map(|c| c.value.clone()).collect(),
                    }),
                    AlterTableOperation::AddConstraint { constraint, .. } => match constraint {
                        TableConstraint::PrimaryKey(_) => out.push(unsupported(table.clone(), Vec::new(), "ADD PRIMARY KEY")),
                        _ => out.push(DdlOp::NoEffect {
                            table: table.clone(),
                            what: "ADD INDEX/CONSTRAINT".into(),
                        }),
                    },
                    AlterTableOperation::DropPrimaryKey { .. } => out.push(unsupported(table.clone(), Vec::new(), "DROP PRIMARY KEY")),
                    AlterTableOperation::DropIndex { .. }
                    | AlterTableOperation::DropConstraint { .. }
                    | AlterTableOperation::DropForeignKey { .. }
                    | AlterTableOperation::RenameConstraint { .. }
                    | AlterTableOperation::Algorithm { .. }
                    | AlterTableOperation::Lock { .. }
                    | AlterTableOperation::AutoIncrement { .. }
                    | AlterTableOperation::AlterColumn {
                        op: ast::AlterColumnOperation::SetDefault { .. } | ast::AlterColumnOperation::DropDefault,
                        ..
                    } => out.push(DdlOp::NoEffect {
                        table: table.clone(),
                        what: first_words(&op.to_string()),
                    }),
                    AlterTableOperation::RenameColumn { old_column_name, .. } => {
                        out.push(unsupported(table.clone(), vec![old_column_name.value.clone()], "RENAME COLUMN"))
                    }
                    AlterTableOperation::ChangeColumn { old_name, .. } => {
                        out.push(unsupported(table.clone(), vec![old_name.value.clone()], "CHANGE COLUMN"))
                    }
                    AlterTableOperation::ModifyColumn { col_name, .. } => {
                        out.push(unsupported(table.clone(), vec![col_name.value.clone()], "MODIFY COLUMN"))
                    }
                    AlterTableOperation::AlterColumn { column_name, .. } => {
                        out.push(unsupported(table.clone(), vec![column_name.value.clone()], "ALTER COLUMN"))
                    }
                    AlterTableOperation::RenameTable { .. } => out.push(unsupported(table.clone(), Vec::new(), "RENAME TO")),
                    other => out.push(unsupported(table.clone(), Vec::new(), &first_words(&other.to_string()))),
                }
            }
            if !added.is_empty() {
                out.insert(0, DdlOp::AddColumns { table, columns: added });
            }
            out
        }
        Statement::CreateView { .. }
        | Statement::CreateDatabase { .. }
        | Statement::CreateSchema { .. }
        | Statement::CreateFunction { .. }
        | Statement::CreateProcedure { .. }
        | Statement::CreateTrigger { .. }
        | Statement::CreateUser { .. }
        | Statement::CreateRole { .. }
        | Statement::Grant { .. }
        | Statement::Revoke { .. }
        | Statement::AlterView { .. }
        | Statement::AlterRole { .. }
        | Statement::AlterUser { .. }
        | Statement::Set { .. }
        | Statement::Flush { .. }
        | Statement::Analyze { .. } => vec![DdlOp::Unrelated],
        Statement::Drop { object_type, .. } if *object_type != ObjectType::Table => vec![DdlOp::Unrelated],
        // DROP TEMPORARY TABLE: session tables are never synchronised.
        Statement::Drop { temporary: true, .. } => vec![DdlOp::Unrelated],
        other => fallback(&other.to_string(), db),
    }
}

/// A statement sqlparser does not take: if it is about a table, name the table and treat the
/// statement as unsupported (so a synchronised table fails loudly); otherwise it is unrelated.
fn fallback(statement: &str, db: &str) -> Vec<DdlOp> {
    let dialect = MySqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, statement).tokenize() else {
        return vec![DdlOp::Unrelated];
    };
    let words: Vec<(String, bool)> = tokens
        .iter()
        .filter_map(|t| match t {
            Token::Word(w) => Some((w.value.clone(), w.quote_style.is_some())),
            Token::Period => Some((".".into(), false)),
            _ => None,
        })
        .collect();
    let upper = |i: usize| words.get(i).map(|(w, q)| if *q { String::new() } else { w.to_ascii_uppercase() });
    let verb = upper(0).unwrap_or_default();
    if !["CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE", "OPTIMIZE", "REPAIR"].contains(&verb.as_str()) {
        return vec![DdlOp::Unrelated];
    }
    let Some(at) = (0..words.len()).find(|&i| upper(i).as_deref() == Some("TABLE")) else {
        return vec![DdlOp::Unrelated];
    };
    let mut i = at + 1;
    while matches!(upper(i).as_deref(), Some("IF" | "NOT" | "EXISTS")) {
        i += 1;
    }
    let Some((first, _)) = words.get(i) else {
        return vec![DdlOp::Unrelated];
    };
    let table = if words.get(i + 1).is_some_and(|w| w.0 == ".") {
        TableId::new(first, words.get(i + 2).map(|w| w.0.clone()).unwrap_or_default())
    } else {
        TableId::new(db, first)
    };
    vec![DdlOp::Unsupported {
        table,
        columns: Vec::new(),
        what: "a statement Ferry cannot parse".into(),
    }]
}

/// A DEFAULT expression as SQL; string literals are re-quoted by Ferry's own quoting.
fn default_sql(expr: &Expr) -> String {
    match expr {
        Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => sql_literal(&Value::Text(s.clone())),
            other => other.to_string(),
        },
        Expr::Nested(inner) => default_sql(inner),
        other => other.to_string(),
    }
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_columns_with_defaults_and_positions() {
        let ops = parse(
            "ALTER TABLE `shop`.t ADD COLUMN a INT NOT NULL DEFAULT 0 AFTER id, ADD COLUMN b VARCHAR(10) DEFAULT 'x''y' FIRST, ADD c DATE",
            "other",
        );
        assert_eq!(
            ops,
            vec![DdlOp::AddColumns {
                table: TableId::new("shop", "t"),
                columns: vec![
                    AddedColumn {
                        name: "a".into(),
                        default: Some("0".into()),
                        position: ColumnPosition::After("id".into())
                    },
                    AddedColumn {
                        name: "b".into(),
                        default: Some("'x\\'y'".into()),
                        position: ColumnPosition::First
                    },
                    AddedColumn {
                        name: "c".into(),
                        default: None,
                        position: ColumnPosition::Last
                    },
                ]
            }]
        );
    }

    #[test]
    fn classifies_the_rest() {
        let t = TableId::new("d", "t");
        assert_eq!(
            parse("CREATE TABLE t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB", "d"),
            vec![DdlOp::CreateTable(t.clone())]
        );
        assert_eq!(
            parse("DROP TABLE IF EXISTS `t`, d.u /* generated by server */", "d"),
            vec![DdlOp::DropTables(vec![t.clone(), TableId::new("d", "u")])]
        );
        assert_eq!(parse("TRUNCATE TABLE t", "d"), vec![DdlOp::Truncate(vec![t.clone()])]);
        assert!(matches!(&parse("CREATE INDEX i ON t (v)", "d")[..], [DdlOp::NoEffect { .. }]));
        assert!(matches!(&parse("ALTER TABLE t ADD INDEX i (v)", "d")[..], [DdlOp::NoEffect { .. }]));
        assert!(matches!(&parse("ALTER TABLE t MODIFY v BIGINT", "d")[..], [DdlOp::Unsupported { columns, .. }] if columns == &["v"]));
        assert!(matches!(
            &parse("RENAME TABLE t TO u", "d")[..],
            [DdlOp::Unsupported { .. }, DdlOp::Unsupported { .. }]
        ));
        assert!(matches!(
            &parse("ALTER TABLE t DROP PRIMARY KEY", "d")[..],
            [DdlOp::Unsupported { .. }]
        ));
        assert_eq!(parse("CREATE DATABASE x", "d"), vec![DdlOp::Unrelated]);
        assert_eq!(parse("DROP VIEW v", "d"), vec![DdlOp::Unrelated]);
        assert!(matches!(&parse("ALTER TABLE t ENGINE = Aria, FROBNICATE", "d")[..], [DdlOp::Unsupported { table, .. }] if table == &t));
    }
}
