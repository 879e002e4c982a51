//! Table schemas as the engine sees them: the selected columns of a source table, their types,
//! its key, and the destination names it maps to.

use super::{
    event::TableId,
    filter::{Binding, Filter},
};

/// How a column's values are represented. Derived from the source's column type; both the
/// snapshot and the binlog decode through it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ColumnKind {
    /// Integer of `bytes` width (1, 2, 3, 4, 8).
    Int {
        unsigned: bool,
        bytes: u8,
    },
    Float,
    Double,
    Decimal {
        precision: u32,
        scale: u32,
    },
    /// Character data in `charset` (MySQL charset name, e.g. `utf8mb4`, `latin1`).
    Text {
        charset: String,
    },
    /// Byte strings of varying length: VARBINARY, BLOB.
    #[default]
    Binary,
    /// BINARY(n): byte strings padded with 0x00 to `n` bytes.
    FixedBinary(u32),
    Bit {
        bits: u32,
    },
    Date,
    DateTime,
    Timestamp,
    Time,
    Year,
    Json,
    Enum(Vec<String>),
    Set(Vec<String>),
}

/// One column.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Column {
    /// Source column name.
    pub name: String,
    /// Destination column name (after `columnMapping` and `capitalization`).
    pub target: String,
    /// Value representation.
    pub kind: ColumnKind,
    /// The full source type as the server spells it, e.g. `decimal(65,30)`, `int(10) unsigned`.
    pub column_type: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// 0-based position of the column in the source table.
    pub ordinal: usize,
    /// Collation of character columns, e.g. `utf8mb4_general_ci`.
    pub collation: Option<String>,
}

impl Column {
    /// How a filter reads this column: text under a `_ci` collation compares case-insensitively,
    /// under a PAD SPACE one without trailing spaces.
    pub fn binding(&self) -> Binding<'_> {
        let collation = self.collation.as_deref().unwrap_or("");
        Binding {
            name: &self.name,
            case_insensitive: matches!(self.kind, ColumnKind::Text { .. } | ColumnKind::Enum(_) | ColumnKind::Set(_))
                && collation.ends_with("_ci"),
            pad_space: !collation.contains("nopad") && !collation.contains("_0900_"),
        }
    }
}

/// `filter` reading rows laid out as `columns`.
pub fn bind_filter(filter: &Filter, columns: &[Column]) -> Filter {
    filter.bind(&columns.iter().map(Column::binding).collect::<Vec<_>>())
}

/// A selected source table: its selected columns, its key and where it goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableSchema {
    /// Source name.
    pub source: TableId,
    /// Destination name.
    pub target: TableId,
    /// Selected columns, in source ordinal order.
    pub columns: Vec<Column>,
    /// Indices into `columns` of the key (PRIMARY KEY, else the first UNIQUE key over NOT NULL
    /// columns), in key order.
    pub key: Vec<usize>,
    /// Name of the source index the key comes from (`PRIMARY` or a UNIQUE index).
    pub key_name: String,
    /// Number of columns of the source table (selected or not), to tell a table map written
    /// before a column was added when the binlog gives no column names.
    pub source_width: usize,
    /// Rows to synchronise (`filter`); `None`: every row.
    pub filter: Option<std::sync::Arc<Filter>>,
    /// Operations synchronised for this table.
    pub ops: Operations,
    /// Whether the task lists this table's columns (`columns:`): a column added on the source
    /// is then not followed.
    pub fixed_columns: bool,
}

/// The operations synchronised for a table (`operations`, inherited from its database).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operations {
    pub insert: bool,
    pub update: bool,
    pub delete: bool,
    pub create_table: bool,
    pub drop_table: bool,
    pub add_column: bool,
}

impl Default for Operations {
    /// Every operation.
    fn default() -> Self {
        Self {
            insert: true,
            update: true,
            delete: true,
            create_table: true,
            drop_table: true,
            add_column: true,
        }
    }
}

impl TableSchema {
    /// The key values of `row`.
    pub fn key_of<'a>(&self, row: &'a [super::event::Value]) -> Vec<&'a super::event::Value> {
        self.key.iter().map(|&i| &row[i]).collect()
    }

    /// Index of the column named `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

impl TableSchema {
    /// The same table with only the columns `keep` accepts (in the same order), its key and
    /// filter re-bound to them. `None` when a key column is left out.
    pub fn with_columns(&self, keep: impl Fn(&Column) -> bool) -> Option<TableSchema> {
        let columns: Vec<Column> = self.columns.iter().filter(|c| keep(c)).cloned().collect();
        let key = self
            .key
            .iter()
            .map(|&k| columns.iter().position(|c| c.name == self.columns[k].name))
            .collect::<Option<Vec<_>>>()?;
        let filter = self.filter.as_ref().map(|f| std::sync::Arc::new(bind_filter(f, &columns)));
        Some(TableSchema {
            columns,
            key,
            filter,
            ..self.clone()
        })
    }
}

/// A change of the destination's tables, from source DDL.
#[derive(Clone, Debug)]
pub enum SchemaChange {
    /// A table created on the source that the task selects.
    Create(std::sync::Arc<TableSchema>),
    /// A synchronised table dropped on the source.
    Drop(std::sync::Arc<TableSchema>),
    /// Columns added: indices into the table's (new) columns, with the source's `DEFAULT` SQL.
    AddColumns {
        table: std::sync::Arc<TableSchema>,
        added: Vec<(usize, Option<String>)>,
    },
    /// Synchronised columns dropped (destination names); `table` is the table without them.
    DropColumns {
        table: std::sync::Arc<TableSchema>,
        columns: Vec<String>,
    },
    /// Every row deleted.
    Truncate(std::sync::Arc<TableSchema>),
    /// The table's rows changed in a way the binlog does not show row by row (a column added
    /// with values the destination cannot compute): it is copied again from a new snapshot.
    Recopy(std::sync::Arc<TableSchema>),
    /// Columns were added on the source that the task does not follow (`addColumn` off): the
    /// table keeps the columns of `0`, also after a restart. Nothing changes in the destination.
    KeepColumns(std::sync::Arc<TableSchema>),
}

impl SchemaChange {
    /// The table the change is about.
    pub fn table(&self) -> &TableSchema {
        match self {
            SchemaChange::Create(t)
            | SchemaChange::Drop(t)
            | SchemaChange::Truncate(t)
            | SchemaChange::Recopy(t)
            | SchemaChange::KeepColumns(t) => t,
            SchemaChange::AddColumns { table, .. } | SchemaChange::DropColumns { table, .. } => table,
        }
    }

    /// Short description for logs and events.
    pub fn describe(&self) -> String {
        match self {
            SchemaChange::Create(t) => format!("create table {}", t.target),
            SchemaChange::Drop(t) => format!("drop table {}", t.target),
            SchemaChange::AddColumns { table, added } => format!(
                "add column(s) {} to {}",
                added
                    .iter()
                    .map(|(i, _)| table.columns[*i].target.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                table.target
            ),
            SchemaChange::DropColumns { table, columns } => format!("drop column(s) {} of {}", columns.join(", "), table.target),
            SchemaChange::Truncate(t) => format!("truncate table {}", t.target),
            SchemaChange::Recopy(t) => format!("copy table {} again", t.target),
            SchemaChange::KeepColumns(t) => format!("keep the columns of {} (addColumn is off)", t.target),
        }
    }
}
