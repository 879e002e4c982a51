//! Table schemas as the engine sees them: the selected columns of a source table, their types,
//! its key, and the destination names it maps to.

use super::event::TableId;

/// How a column's values are represented. Derived from the source's column type; both the
/// snapshot and the binlog decode through it.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Byte strings: BINARY, VARBINARY, BLOB.
    Binary,
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Source column name.
    pub name: String,
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

/// A selected source table: its selected columns, its key and where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
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
