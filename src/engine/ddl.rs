//! DDL from the binlog: what a statement does to tables.
//!
//! Every statement is reduced to [`DdlOp`]s; the binlog reader decides per op whether it
//! concerns a synchronised table and what follows from it. The whole table of statements and
//! behaviours is in `docs/ddl.md`; in short:
//!
//! | Statement | Effect on a synchronised table |
//! |---|---|
//! | `CREATE TABLE` matching the selection (also `… LIKE`, `… SELECT`) | created in the destination and followed from its creation (`createTable`); the rows of `… SELECT` follow as row events |
//! | `CREATE OR REPLACE TABLE` | the old table dropped, the new one created and followed |
//! | `DROP TABLE` | dropped in the destination (`dropTable`), no longer followed |
//! | `ALTER TABLE … ADD COLUMN` (several, `FIRST`/`AFTER`, with other alterations) | added in the destination (`addColumn`); Lindorm without `DEFAULT` and at the end; a column whose values for existing rows the destination cannot compute itself (`DEFAULT CURRENT_TIMESTAMP` or another expression, `AUTO_INCREMENT`, generated) makes the table be copied again |
//! | `ALTER TABLE … DROP COLUMN` | dropped in the destination when synchronised — also when replayed after a restart, when the table no longer has it |
//! | `TRUNCATE TABLE` | truncated in the destination (needs `delete`) |
//! | `OPTIMIZE`, `ANALYZE`, `REPAIR`, `CHECK TABLE`; `ALTER TABLE` with table options only (`ENGINE`, `FORCE`, `COMMENT`, `ROW_FORMAT`, `AUTO_INCREMENT`, `ALGORITHM`, `LOCK`, default character set, …); index, key and constraint changes; `ALTER … SET/DROP DEFAULT`; partition changes that keep rows | no effect on rows: skipped |
//! | `RENAME TABLE`, `ALTER … RENAME`, `MODIFY`/`CHANGE`/`RENAME COLUMN` of a synchronised column, primary key changes, `CONVERT TO CHARACTER SET`, partition changes that remove or move rows (`DROP`/`TRUNCATE`/`EXCHANGE PARTITION`), `IMPORT TABLESPACE`, system versioning, a foreign key with cascading actions, anything not understood | the task stops before anything is written, naming the statement, its binlog position and the remedy |
//!
//! Statements on other objects (databases, views, routines, users, unselected tables,
//! temporary tables) are skipped.
//!
//! Why this file is long: one reduction per kind of statement the source can log, and a unit
//! test per statement (a fifth of the file).

use sqlparser::{
    ast::{self, AlterTableOperation, ColumnOption, Expr, ObjectName, ObjectType, Statement},
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
    /// The values the source gives existing rows are not a constant the destination can give
    /// them too: a `DEFAULT` expression (`CURRENT_TIMESTAMP`, `UUID()`, …), `AUTO_INCREMENT`,
    /// a generated column.
    pub computed: bool,
}

/// What one part of a DDL statement does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DdlOp {
    /// `CREATE [OR REPLACE] TABLE`; `replace`: an existing table of that name is dropped first.
    /// `columns`: the columns the statement defines, when it spells them all out (not with
    /// `LIKE` or `SELECT`) — the table as it was created, where the source may have altered it
    /// since.
    CreateTable {
        table: TableId,
        replace: bool,
        columns: Option<Vec<String>>,
    },
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
    let tokens = tokens(statement);
    let words = Words::of(&tokens);
    // CREATE TABLE, ALTER TABLE and the maintenance statements are read from their tokens:
    // what matters is the table name and each alteration's first words, which no dialect
    // detail of the rest (column types, options sqlparser does not know) can hide.
    match (words.upper(0).as_str(), words.upper(1).as_str()) {
        ("CREATE", _) if words.find("TABLE").is_some_and(|t| t <= 4) => {
            if let Some(op) = create_table(&words, default_db) {
                return vec![op];
            }
        }
        ("ALTER", _) if words.find("TABLE").is_some_and(|t| t <= 3) => return alter_table(statement, &words, default_db),
        ("OPTIMIZE" | "ANALYZE" | "REPAIR" | "CHECK", _) => return maintenance(&words, default_db),
        _ => {}
    }
    let dialect = MySqlDialect {};
    match Parser::parse_sql(&dialect, statement) {
        Ok(statements) => statements.iter().flat_map(|s| ops_of(s, default_db)).collect(),
        Err(_) => fallback(statement, default_db),
    }
}

/// The statement's tokens (whitespace and comments included), or none.
fn tokens(statement: &str) -> Vec<Token> {
    Tokenizer::new(&MySqlDialect {}, statement).tokenize().unwrap_or_default()
}

/// The words of a token list (identifiers and keywords, quoted or not, and `.`), with their
/// token index.
struct Words {
    /// (value, quoted, index of the token)
    list: Vec<(String, bool, usize)>,
}

impl Words {
    fn of(tokens: &[Token]) -> Words {
        let list = tokens
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match t {
                Token::Word(w) => Some((w.value.clone(), w.quote_style.is_some(), i)),
                Token::Period => Some((".".into(), false, i)),
                Token::LParen => Some(("(".into(), false, i)),
                Token::RParen => Some((")".into(), false, i)),
                Token::Comma => Some((",".into(), false, i)),
                Token::Eq => Some(("=".into(), false, i)),
                _ => None,
            })
            .collect();
        Words { list }
    }

    /// The word at `i`, upper-cased; empty for a quoted identifier or past the end.
    fn upper(&self, i: usize) -> String {
        match self.list.get(i) {
            Some((w, false, _)) => w.to_ascii_uppercase(),
            _ => String::new(),
        }
    }

    /// Index of the first unquoted `word`.
    fn find(&self, word: &str) -> Option<usize> {
        (0..self.list.len()).find(|&i| self.upper(i) == word)
    }

    /// The table name at `i` (`db.t` or `t`), and the index after it.
    fn table_at(&self, i: usize, db: &str) -> Option<(TableId, usize)> {
        let (first, _, _) = self.list.get(i)?;
        if first == "(" || first == "," {
            return None;
        }
        if self.list.get(i + 1).is_some_and(|w| w.0 == ".") {
            let (second, _, _) = self.list.get(i + 2)?;
            Some((TableId::new(first, second), i + 3))
        } else {
            Some((TableId::new(db, first), i + 1))
        }
    }

    /// Skips `IF [NOT] EXISTS` at `i`.
    fn skip_if_exists(&self, mut i: usize) -> usize {
        if self.upper(i) == "IF" {
            i += 1;
            if self.upper(i) == "NOT" {
                i += 1;
            }
            if self.upper(i) == "EXISTS" {
                i += 1;
            }
        }
        i
    }
}

/// `CREATE [OR REPLACE] [TEMPORARY] TABLE [IF NOT EXISTS] name …`.
fn create_table(words: &Words, db: &str) -> Option<DdlOp> {
    let at = words.find("TABLE")?;
    let head: Vec<String> = (1..at).map(|i| words.upper(i)).collect();
    if head.iter().any(|w| w == "TEMPORARY") {
        return Some(DdlOp::Unrelated);
    }
    if !head.iter().all(|w| matches!(w.as_str(), "OR" | "REPLACE")) {
        return None;
    }
    let (table, after_name) = words.table_at(words.skip_if_exists(at + 1), db)?;
    let all: Vec<usize> = (0..words.list.len()).collect();
    if words.find("REFERENCES").is_some() && cascades(&all, words) {
        return Some(DdlOp::Unsupported {
            table,
            columns: Vec::new(),
            what: "a foreign key with cascading actions (rows changed by ON DELETE/ON UPDATE CASCADE or SET NULL are not in the binlog)"
                .into(),
        });
    }
    Some(DdlOp::CreateTable {
        table,
        replace: head.iter().any(|w| w == "REPLACE"),
        columns: defined_columns(words, after_name),
    })
}

/// The column names of a `CREATE TABLE name (…)` whose list starts at word `at`: each element
/// that is not a key, index or constraint. `None` when the columns come from elsewhere too
/// (`LIKE`, `SELECT`) or the list is not there.
fn defined_columns(words: &Words, at: usize) -> Option<Vec<String>> {
    if words.list.get(at).is_none_or(|w| w.0 != "(" || w.1) {
        return None;
    }
    let mut names = Vec::new();
    let mut depth = 0usize;
    let mut first = true;
    let mut end = None;
    for i in at..words.list.len() {
        let (word, quoted, _) = &words.list[i];
        match (word.as_str(), *quoted) {
            ("(", false) => {
                depth += 1;
                if depth == 1 {
                    first = true;
                }
                continue;
            }
            (")", false) => {
                depth -= 1;
                if depth == 0 {
                    end = Some(i);
                    break;
                }
                continue;
            }
            (",", false) if depth == 1 => {
                first = true;
                continue;
            }
            _ => {}
        }
        if depth == 1 && first {
            first = false;
            let keyword = !*quoted
                && matches!(
                    words.upper(i).as_str(),
                    "PRIMARY"
                        | "KEY"
                        | "INDEX"
                        | "UNIQUE"
                        | "CONSTRAINT"
                        | "FOREIGN"
                        | "FULLTEXT"
                        | "SPATIAL"
                        | "CHECK"
                        | "PERIOD"
                        | "LIKE"
                );
            if !keyword {
                names.push(word.clone());
            }
        }
    }
    let end = end?;
    // Columns of a SELECT (or a LIKE) join those of the list.
    if (end + 1..words.list.len()).any(|i| matches!(words.upper(i).as_str(), "SELECT" | "LIKE")) || names.is_empty() {
        return None;
    }
    Some(names)
}

/// `OPTIMIZE|ANALYZE|REPAIR|CHECK [NO_WRITE_TO_BINLOG|LOCAL] TABLE t1, t2 …`: no effect on rows.
fn maintenance(words: &Words, db: &str) -> Vec<DdlOp> {
    let verb = words.upper(0);
    let Some(at) = (1..3).find(|&i| matches!(words.upper(i).as_str(), "TABLE" | "TABLES")) else {
        return vec![DdlOp::Unrelated];
    };
    let mut out = Vec::new();
    let mut i = at + 1;
    while let Some((table, next)) = words.table_at(i, db) {
        out.push(DdlOp::NoEffect {
            table,
            what: format!("{verb} TABLE"),
        });
        if words.list.get(next).is_some_and(|w| w.0 == ",") {
            i = next + 1;
        } else {
            break;
        }
    }
    out
}

/// `ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS] name spec, spec …`: each alteration by its
/// first words; added and dropped columns through sqlparser, one alteration at a time.
fn alter_table(statement: &str, words: &Words, db: &str) -> Vec<DdlOp> {
    let Some(at) = words.find("TABLE") else {
        return vec![DdlOp::Unrelated];
    };
    let Some((table, after_name)) = words.table_at(words.skip_if_exists(at + 1), db) else {
        return vec![DdlOp::Unrelated];
    };
    let unsupported = |columns: Vec<String>, what: &str| DdlOp::Unsupported {
        table: table.clone(),
        columns,
        what: what.to_string(),
    };
    let no_effect = |what: &str| DdlOp::NoEffect {
        table: table.clone(),
        what: what.to_string(),
    };
    // The alterations: the text after the name, cut at commas outside parentheses and quotes.
    let rest = match words.list.get(after_name) {
        Some(&(_, _, token)) => match byte_offset(statement, token) {
            Some(offset) => &statement[offset..],
            None => return vec![unsupported(Vec::new(), "an alteration Ferry cannot parse")],
        },
        None => "",
    };
    let mut out = Vec::new();
    let mut added = Vec::new();
    for text in split_top_level(rest) {
        let spec_tokens = tokens(&text);
        let spec_words = Words::of(&spec_tokens);
        let spec: Vec<usize> = (0..spec_words.list.len()).collect();
        let words = &spec_words;
        let text = || text.clone();
        let w = |k: usize| words.upper(k);
        let name = |k: usize| words.list.get(k).map(|w| w.0.clone()).unwrap_or_default();
        let has = |word: &str| spec.iter().any(|&i| words.upper(i) == word);
        match (w(0).as_str(), w(1).as_str()) {
            ("ADD", "PRIMARY") => out.push(unsupported(Vec::new(), "ADD PRIMARY KEY")),
            ("ADD", "CONSTRAINT") if has("PRIMARY") => out.push(unsupported(Vec::new(), "ADD PRIMARY KEY")),
            ("ADD", "FOREIGN" | "CONSTRAINT") if has("FOREIGN") && cascades(&spec, words) => out.push(unsupported(
                Vec::new(),
                "a foreign key with cascading actions (rows changed by ON DELETE/ON UPDATE CASCADE or SET NULL are not in the binlog)",
            )),
            ("ADD", "INDEX" | "KEY" | "UNIQUE" | "FULLTEXT" | "SPATIAL" | "CONSTRAINT" | "FOREIGN" | "CHECK" | "PERIOD") => {
                out.push(no_effect("ADD INDEX/CONSTRAINT"))
            }
            ("ADD", "PARTITION") => out.push(no_effect("ADD PARTITION")),
            ("ADD", "SYSTEM") => out.push(unsupported(Vec::new(), "ADD SYSTEM VERSIONING")),
            ("ADD", _) => match added_columns(&text(), words) {
                Some(columns) => added.extend(columns),
                None => out.push(unsupported(Vec::new(), "an ADD COLUMN Ferry cannot parse")),
            },
            ("DROP", "PRIMARY") => out.push(unsupported(Vec::new(), "DROP PRIMARY KEY")),
            ("DROP", "INDEX" | "KEY" | "FOREIGN" | "CONSTRAINT" | "CHECK" | "PERIOD") => out.push(no_effect("DROP INDEX/CONSTRAINT")),
            ("DROP", "PARTITION") => out.push(unsupported(Vec::new(), "DROP PARTITION (its rows are removed without row events)")),
            ("DROP", "SYSTEM") => out.push(unsupported(Vec::new(), "DROP SYSTEM VERSIONING")),
            ("DROP", _) => {
                let mut k = if w(1) == "COLUMN" { 2 } else { 1 };
                if w(k) == "IF" {
                    k += 2;
                }
                out.push(DdlOp::DropColumns {
                    table: table.clone(),
                    columns: vec![name(k)],
                });
            }
            ("MODIFY" | "CHANGE", _) => {
                let mut k = if w(1) == "COLUMN" { 2 } else { 1 };
                if w(k) == "IF" {
                    k += 2;
                }
                out.push(unsupported(vec![name(k)], &format!("{} COLUMN", w(0))));
            }
            ("RENAME", "COLUMN") => out.push(unsupported(vec![name(2)], "RENAME COLUMN")),
            ("RENAME", "INDEX" | "KEY") => out.push(no_effect("RENAME INDEX")),
            ("RENAME", _) => out.push(unsupported(Vec::new(), "RENAME TO")),
            ("ALTER", "INDEX" | "KEY") => out.push(no_effect("ALTER INDEX")),
            ("ALTER", _) => {
                let k = if w(1) == "COLUMN" { 2 } else { 1 };
                let rest: Vec<String> = (k + 1..spec.len()).map(w).collect();
                match rest.first().map(String::as_str) {
                    Some("SET") if rest.get(1).map(String::as_str) == Some("DEFAULT") => out.push(no_effect("ALTER COLUMN SET DEFAULT")),
                    Some("DROP") if rest.get(1).map(String::as_str) == Some("DEFAULT") => out.push(no_effect("ALTER COLUMN DROP DEFAULT")),
                    _ => out.push(unsupported(vec![name(k)], "ALTER COLUMN")),
                }
            }
            ("CONVERT", _) => out.push(unsupported(Vec::new(), "CONVERT TO CHARACTER SET (it changes the columns' types)")),
            ("TRUNCATE" | "EXCHANGE", "PARTITION") => out.push(unsupported(
                Vec::new(),
                &format!("{} PARTITION (its rows change without row events)", w(0)),
            )),
            ("IMPORT" | "DISCARD", _) => out.push(unsupported(Vec::new(), &format!("{} TABLESPACE", w(0)))),
            ("WITH", "SYSTEM") => out.push(unsupported(Vec::new(), "WITH SYSTEM VERSIONING")),
            ("COALESCE" | "REORGANIZE" | "REBUILD" | "OPTIMIZE" | "ANALYZE" | "CHECK" | "REPAIR", "PARTITION")
            | ("REMOVE", "PARTITIONING")
            | ("PARTITION", "BY")
            | ("ORDER", "BY")
            | ("ENABLE" | "DISABLE", "KEYS")
            | ("WITHOUT", "VALIDATION") => out.push(no_effect(&format!("{} {}", w(0), w(1)))),
            (first, _) if is_table_option(first) => {
                // Several options may follow one another without commas; a PARTITION clause may
                // end them. Options change no rows. Not even ENGINE: which rows a transaction's
                // group holds does not depend on what Ferry knows of engines (source/mysql/txn.rs).
                out.push(no_effect(if has("ENGINE") { "ENGINE" } else { "table options" }));
            }
            _ => out.push(unsupported(Vec::new(), "an alteration Ferry cannot parse")),
        }
    }
    if !added.is_empty() {
        out.insert(0, DdlOp::AddColumns { table, columns: added });
    }
    out
}

/// Table options of `ALTER TABLE` (and `ALGORITHM`/`LOCK`), which change no rows.
fn is_table_option(word: &str) -> bool {
    matches!(
        word,
        "ENGINE"
            | "FORCE"
            | "ALGORITHM"
            | "LOCK"
            | "NOWAIT"
            | "WAIT"
            | "COMMENT"
            | "ROW_FORMAT"
            | "AUTO_INCREMENT"
            | "KEY_BLOCK_SIZE"
            | "STATS_AUTO_RECALC"
            | "STATS_PERSISTENT"
            | "STATS_SAMPLE_PAGES"
            | "PACK_KEYS"
            | "CHECKSUM"
            | "TABLE_CHECKSUM"
            | "PAGE_CHECKSUM"
            | "DELAY_KEY_WRITE"
            | "AVG_ROW_LENGTH"
            | "MAX_ROWS"
            | "MIN_ROWS"
            | "INSERT_METHOD"
            | "DATA"
            | "INDEX"
            | "TRANSACTIONAL"
            | "ENCRYPTED"
            | "ENCRYPTION"
            | "ENCRYPTION_KEY_ID"
            | "IETF_QUOTES"
            | "PAGE_COMPRESSED"
            | "PAGE_COMPRESSION_LEVEL"
            | "COMPRESSION"
            | "CONNECTION"
            | "PASSWORD"
            | "TABLESPACE"
            | "UNION"
            | "DEFAULT"
            | "CHARACTER"
            | "CHARSET"
            | "COLLATE"
            | "SEQUENCE"
    )
}

/// Whether a FOREIGN KEY definition has a cascading action (`CASCADE`, `SET NULL`, `SET DEFAULT`).
fn cascades(spec: &[usize], words: &Words) -> bool {
    let up: Vec<String> = spec.iter().map(|&i| words.upper(i)).collect();
    up.iter().any(|w| w == "CASCADE") || up.windows(2).any(|p| p[0] == "SET" && (p[1] == "NULL" || p[1] == "DEFAULT"))
}

/// The columns of one `ADD [COLUMN] [IF NOT EXISTS] …` alteration (`ADD COLUMN (a INT, b INT)`
/// too), read by sqlparser.
fn added_columns(text: &str, words: &Words) -> Option<Vec<AddedColumn>> {
    let parenthesised =
        words.list.get(1).is_some_and(|w| w.0 == "(") || (words.upper(1) == "COLUMN" && words.list.get(2).is_some_and(|w| w.0 == "("));
    let definitions: Vec<String> = if parenthesised {
        let open = text.find('(')?;
        let close = text.rfind(')')?;
        split_top_level(&text[open + 1..close])
            .into_iter()
            .map(|d| format!("ADD COLUMN {d}"))
            .collect()
    } else {
        vec![text.to_string()]
    };
    let mut out = Vec::new();
    for definition in definitions {
        let statement = format!("ALTER TABLE t {definition}");
        let parsed = Parser::parse_sql(&MySqlDialect {}, &statement).ok()?;
        let Some(Statement::AlterTable(alter)) = parsed.first() else {
            return None;
        };
        for op in &alter.operations {
            let AlterTableOperation::AddColumn {
                column_def,
                column_position,
                ..
            } = op
            else {
                return None;
            };
            let default = column_def.options.iter().find_map(|o| match &o.option {
                ColumnOption::Default(expr) => Some(expr),
                _ => None,
            });
            let upper = definition.to_ascii_uppercase();
            let generated = column_def
                .options
                .iter()
                .any(|o| matches!(o.option, ColumnOption::Generated { .. }))
                || upper.contains(" GENERATED ")
                || upper.contains(" AS (");
            let computed = generated || upper.contains("AUTO_INCREMENT") || default.is_some_and(|e| !is_constant(e));
            out.push(AddedColumn {
                name: column_def.name.value.clone(),
                default: default.map(default_sql),
                position: match column_position {
                    None => ColumnPosition::Last,
                    Some(ast::MySQLColumnPosition::First) => ColumnPosition::First,
                    Some(ast::MySQLColumnPosition::After(c)) => ColumnPosition::After(c.value.clone()),
                },
                computed,
            });
        }
    }
    Some(out)
}

/// The byte offset in `statement` of its token number `index` (as [`tokens`] counts them).
fn byte_offset(statement: &str, index: usize) -> Option<usize> {
    let located = Tokenizer::new(&MySqlDialect {}, statement).tokenize_with_location().ok()?;
    let start = located.get(index)?.span.start;
    // Lines and columns count from 1, columns in characters.
    let mut line_start = 0;
    for _ in 1..start.line {
        line_start += statement[line_start..].find('\n')? + 1;
    }
    let column = statement[line_start..]
        .char_indices()
        .nth(start.column.saturating_sub(1) as usize)?
        .0;
    Some(line_start + column)
}

/// A literal (possibly negated or parenthesised): the same value for every row.
fn is_constant(expr: &Expr) -> bool {
    match expr {
        Expr::Value(_) => true,
        Expr::Nested(inner) => is_constant(inner),
        Expr::UnaryOp { expr, .. } => is_constant(expr),
        _ => false,
    }
}

/// `a INT, b DECIMAL(5,2)` → `["a INT", "b DECIMAL(5,2)"]`: cut at commas outside parentheses
/// and quotes.
fn split_top_level(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    // Inside '…' and "…" a backslash escapes the next character (`'it\'s'`), as the server
    // reads statements without NO_BACKSLASH_ESCAPES.
    let mut escaped = false;
    for c in list.chars() {
        match (quote, c) {
            (Some(_), _) if escaped => escaped = false,
            (Some('\'' | '"'), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            (None, ',') if depth == 0 => {
                out.push(std::mem::take(&mut current).trim().to_string());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
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
        Statement::CreateTable(create) if create.temporary => vec![DdlOp::Unrelated],
        Statement::CreateTable(create) => vec![DdlOp::CreateTable {
            table: table_id(&create.name, db),
            replace: create.or_replace,
            columns: None,
        }],
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
    if !["CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE"].contains(&verb.as_str()) {
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
                        position: ColumnPosition::After("id".into()),
                        computed: false,
                    },
                    AddedColumn {
                        name: "b".into(),
                        default: Some("'x\\'y'".into()),
                        position: ColumnPosition::First,
                        computed: false,
                    },
                    AddedColumn {
                        name: "c".into(),
                        default: None,
                        position: ColumnPosition::Last,
                        computed: false,
                    },
                ]
            }]
        );
    }

    /// Fuzzer finding: a backslash-escaped quote in a DEFAULT ended the string early when the
    /// alterations were cut at commas, so `ADD …, DROP …` read as one unparsable ADD.
    #[test]
    fn backslash_escaped_quotes_do_not_end_a_string() {
        let ops = parse(
            r"ALTER TABLE d.t ADD COLUMN c VARCHAR(9) NOT NULL DEFAULT 'a\', b\\' AFTER k, DROP COLUMN e",
            "d",
        );
        let t = TableId::new("d", "t");
        assert_eq!(
            ops,
            vec![
                DdlOp::AddColumns {
                    table: t.clone(),
                    columns: vec![AddedColumn {
                        name: "c".into(),
                        default: Some(r"'a\', b\\'".into()),
                        position: ColumnPosition::After("k".into()),
                        computed: false,
                    }],
                },
                DdlOp::DropColumns {
                    table: t,
                    columns: vec!["e".into()],
                },
            ]
        );
    }
    #[test]
    fn classifies_the_rest() {
        let t = TableId::new("d", "t");
        assert_eq!(
            parse("CREATE TABLE t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB", "d"),
            vec![DdlOp::CreateTable {
                table: t.clone(),
                replace: false,
                columns: Some(vec!["id".into(), "v".into()])
            }]
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
        assert_eq!(
            parse("CREATE OR REPLACE TABLE `t` (id INET6 PRIMARY KEY) PAGE_COMPRESSED=1", "d"),
            vec![DdlOp::CreateTable {
                table: t.clone(),
                replace: true,
                columns: Some(vec!["id".into()])
            }]
        );
        assert_eq!(parse("CREATE TEMPORARY TABLE t (a INT)", "d"), vec![DdlOp::Unrelated]);
        let columns = |sql: &str| match &parse(sql, "d")[..] {
            [DdlOp::CreateTable { columns, .. }] => columns.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            columns(
                "CREATE TABLE t (`a b` INT, c DECIMAL(5,2) DEFAULT (1 + 2), PRIMARY KEY (`a b`), KEY k (c), CONSTRAINT x CHECK (c > 0))"
            ),
            Some(vec!["a b".to_string(), "c".to_string()])
        );
        assert_eq!(columns("CREATE TABLE t (id INT PRIMARY KEY) SELECT 7 AS id, 'x' AS w"), None);
        assert_eq!(columns("CREATE TABLE t LIKE u"), None);

        assert_eq!(parse("DROP VIEW v", "d"), vec![DdlOp::Unrelated]);
        assert!(
            matches!(&parse("ALTER TABLE t ENGINE = Aria, FROBNICATE", "d")[..], [DdlOp::NoEffect { .. }, DdlOp::Unsupported { table, .. }] if table == &t)
        );
    }

    #[test]
    fn maintenance_and_table_options_change_no_rows() {
        for sql in [
            "OPTIMIZE TABLE t",
            "OPTIMIZE NO_WRITE_TO_BINLOG TABLE d.t",
            "ANALYZE TABLE t",
            "REPAIR TABLE t",
            "CHECK TABLE t",
            "ALTER TABLE t FORCE",
            "ALTER TABLE t COMMENT 'x', ROW_FORMAT=DYNAMIC",
            "ALTER TABLE t AUTO_INCREMENT = 100",
            "ALTER ONLINE TABLE t ADD INDEX i (v), ALGORITHM=INPLACE, LOCK=NONE",
            "ALTER TABLE t DEFAULT CHARSET = latin1",
            "ALTER TABLE t DROP FOREIGN KEY fk, DROP INDEX i",
            "ALTER TABLE t ALTER COLUMN v SET DEFAULT 3",
            "ALTER TABLE t ADD PARTITION (PARTITION p9 VALUES LESS THAN (9))",
        ] {
            let ops = parse(sql, "d");
            assert!(
                !ops.is_empty() && ops.iter().all(|o| matches!(o, DdlOp::NoEffect { .. })),
                "{sql}: {ops:?}"
            );
        }
        assert!(matches!(&parse("ALTER TABLE t ENGINE=InnoDB", "d")[..], [DdlOp::NoEffect { .. }]));
        assert_eq!(parse("OPTIMIZE TABLE a, d.b", "x").len(), 2);
    }

    #[test]
    fn alterations_that_change_rows_are_refused() {
        for sql in [
            "ALTER TABLE t TRUNCATE PARTITION p1",
            "ALTER TABLE t DROP PARTITION p1",
            "ALTER TABLE t EXCHANGE PARTITION p1 WITH TABLE u",
            "ALTER TABLE t CONVERT TO CHARACTER SET latin1",
            "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (p) REFERENCES p (id) ON DELETE CASCADE",
            "ALTER TABLE t ADD FOREIGN KEY (p) REFERENCES p (id) ON UPDATE SET NULL",
            "ALTER TABLE t IMPORT TABLESPACE",
            "ALTER TABLE t ADD SYSTEM VERSIONING",
        ] {
            assert!(
                matches!(&parse(sql, "d")[..], [DdlOp::Unsupported { .. }]),
                "{sql}: {:?}",
                parse(sql, "d")
            );
        }
        assert!(matches!(
            &parse("ALTER TABLE t ADD FOREIGN KEY (p) REFERENCES p (id) ON DELETE RESTRICT", "d")[..],
            [DdlOp::NoEffect { .. }]
        ));
    }

    #[test]
    fn one_alter_adds_and_drops() {
        let ops = parse(
            "ALTER TABLE t ADD COLUMN c INT, DROP COLUMN d, ADD COLUMN (e DATE, f DECIMAL(5,2) DEFAULT 1.5), DROP IF EXISTS g",
            "db",
        );
        let table = TableId::new("db", "t");
        assert_eq!(ops.len(), 3, "{ops:?}");
        let DdlOp::AddColumns { columns, .. } = &ops[0] else {
            panic!("{ops:?}")
        };
        assert_eq!(columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["c", "e", "f"]);
        assert_eq!(columns[2].default.as_deref(), Some("1.5"));
        assert_eq!(
            ops[1..],
            [
                DdlOp::DropColumns {
                    table: table.clone(),
                    columns: vec!["d".into()]
                },
                DdlOp::DropColumns {
                    table,
                    columns: vec!["g".into()]
                }
            ]
        );
    }

    #[test]
    fn added_columns_with_values_the_destination_cannot_compute() {
        let computed = |sql: &str| match &parse(sql, "d")[..] {
            [DdlOp::AddColumns { columns, .. }] => columns[0].computed,
            other => panic!("{sql}: {other:?}"),
        };
        assert!(!computed("ALTER TABLE t ADD COLUMN c INT NOT NULL DEFAULT -1"));
        assert!(!computed("ALTER TABLE t ADD COLUMN c VARCHAR(5) DEFAULT 'x'"));
        assert!(!computed("ALTER TABLE t ADD COLUMN c INT"));
        assert!(computed("ALTER TABLE t ADD COLUMN c DATETIME DEFAULT CURRENT_TIMESTAMP"));
        assert!(computed("ALTER TABLE t ADD COLUMN c CHAR(36) DEFAULT (UUID())"));
        assert!(computed("ALTER TABLE t ADD COLUMN c INT AS (id * 2) STORED"));
    }
}
