//! The shared vocabulary of the data path: values, rows, row changes and positions (a change
//! of a selected table, with its table, is `change::ChangeEvent`).
//! Sources produce these, sinks consume them; neither knows the other.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};

/// A database-qualified table name.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TableId {
    /// Database (Lindorm: namespace).
    pub database: String,
    /// Table.
    pub table: String,
}

impl TableId {
    /// `database`.`table`.
    pub fn new(database: impl Into<String>, table: impl Into<String>) -> Self {
        Self {
            database: database.into(),
            table: table.into(),
        }
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.database, self.table)
    }
}

/// A calendar date and wall-clock time with microseconds. Zero dates (`0000-00-00`) are kept
/// as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub micros: u32,
}

impl DateTime {
    /// A date and wall-clock time from its parts.
    pub fn new(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8, micros: u32) -> Self {
        Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
            micros,
        }
    }
}

/// One column value, decoded exactly: nothing is rounded, re-encoded or guessed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    /// TINYINT..BIGINT, signed.
    Int(i64),
    /// TINYINT..BIGINT UNSIGNED.
    UInt(u64),
    /// FLOAT, bit-exact.
    Float(f32),
    /// DOUBLE, bit-exact.
    Double(f64),
    /// DECIMAL as its exact decimal text.
    Decimal(String),
    /// CHAR/VARCHAR/TEXT, decoded from the column's character set.
    Text(String),
    /// BINARY/VARBINARY/BLOB and BIT.
    Bytes(Vec<u8>),
    /// DATE (time part zero).
    Date(DateTime),
    /// DATETIME: wall-clock, no time zone.
    DateTime(DateTime),
    /// TIMESTAMP, as UTC wall-clock time (both ends run their sessions in UTC).
    Timestamp(DateTime),
    /// TIME: signed duration, hours may exceed 24.
    Time {
        negative: bool,
        hours: u32,
        minutes: u8,
        seconds: u8,
        micros: u32,
    },
    /// YEAR (0 for the zero year).
    Year(u16),
    /// JSON document as text.
    Json(String),
    /// ENUM: its index (1-based in the definition; 0 is the error value `''` a non-strict
    /// session can store) and its label. The index is what the server orders and compares
    /// keys by; the label is what the value reads as.
    Enum(u16, String),
    /// SET: its bitmask (bit i for the i-th member) and its members joined with `,`.
    Set(u64, String),
}

/// Consistent with the derived `PartialEq`: `0.0` and `-0.0` hash alike. (NaN, never equal to
/// itself, does not occur in MySQL data.)
impl std::hash::Hash for Value {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Value::Null => {}
            Value::Int(i) => i.hash(state),
            Value::UInt(u) => u.hash(state),
            Value::Float(f) => (if *f == 0.0 { 0 } else { f.to_bits() }).hash(state),
            Value::Double(d) => (if *d == 0.0 { 0 } else { d.to_bits() }).hash(state),
            Value::Decimal(s) | Value::Text(s) | Value::Json(s) => s.hash(state),
            Value::Enum(index, _) => index.hash(state),
            Value::Set(mask, _) => mask.hash(state),
            Value::Bytes(b) => b.hash(state),
            Value::Date(d) | Value::DateTime(d) | Value::Timestamp(d) => d.hash(state),
            Value::Time {
                negative,
                hours,
                minutes,
                seconds,
                micros,
            } => (negative, hours, minutes, seconds, micros).hash(state),
            Value::Year(y) => y.hash(state),
        }
    }
}

impl Value {
    /// Approximate size in bytes, for batch and throughput accounting.
    pub fn approx_size(&self) -> usize {
        match self {
            Value::Decimal(s) | Value::Text(s) | Value::Json(s) | Value::Enum(_, s) | Value::Set(_, s) => s.len(),
            Value::Bytes(b) => b.len(),
            _ => 8,
        }
    }
}

/// Values of one row, in the order of the table's selected columns.
pub type Row = Vec<Value>;

/// A position in the source's binlog: file and offset, plus the GTID state where the server
/// keeps one. Every event before it has been applied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub file: String,
    pub pos: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<GtidState>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)?;
        if let Some(gtid) = &self.gtid {
            write!(f, " [{gtid}]")?;
        }
        Ok(())
    }
}

/// GTID state of a source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GtidState {
    /// MariaDB: the last GTID per replication domain, `domain → (server_id, sequence)`.
    MariaDb(BTreeMap<u32, (u32, u64)>),
    /// MySQL: the executed GTID set, `uuid → sorted, disjoint [start, end] intervals`.
    Mysql(BTreeMap<String, Vec<(u64, u64)>>),
}

impl GtidState {
    /// Parses MariaDB's `@@gtid_binlog_pos` form, `0-1-100,1-2-7`.
    pub fn parse_mariadb(text: &str) -> Option<GtidState> {
        let mut domains = BTreeMap::new();
        for gtid in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let mut parts = gtid.split('-');
            let domain = parts.next()?.parse().ok()?;
            let server = parts.next()?.parse().ok()?;
            let seq = parts.next()?.parse().ok()?;
            domains.insert(domain, (server, seq));
        }
        Some(GtidState::MariaDb(domains))
    }

    /// Parses MySQL's `@@gtid_executed` form, `uuid:1-5:7,uuid2:1-3`.
    pub fn parse_mysql(text: &str) -> Option<GtidState> {
        let mut sets = BTreeMap::new();
        for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let mut pieces = part.split(':');
            let uuid = pieces.next()?.to_ascii_lowercase();
            let mut intervals = Vec::new();
            for range in pieces {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                intervals.push((a.parse().ok()?, b.parse().ok()?));
            }
            sets.insert(uuid, intervals);
        }
        Some(GtidState::Mysql(sets))
    }

    /// Records one committed MySQL GTID `uuid:gno`.
    pub fn add_mysql(sets: &mut BTreeMap<String, Vec<(u64, u64)>>, uuid: &str, gno: u64) {
        let intervals = sets.entry(uuid.to_ascii_lowercase()).or_default();
        intervals.push((gno, gno));
        intervals.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(intervals.len());
        for &(a, b) in intervals.iter() {
            match merged.last_mut() {
                Some(last) if a <= last.1 + 1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        *intervals = merged;
    }
}

impl fmt::Display for GtidState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GtidState::MariaDb(domains) => {
                let parts: Vec<String> = domains.iter().map(|(d, (s, n))| format!("{d}-{s}-{n}")).collect();
                f.write_str(&parts.join(","))
            }
            GtidState::Mysql(sets) => {
                let parts: Vec<String> = sets
                    .iter()
                    .map(|(uuid, ivs)| {
                        let ranges: Vec<String> = ivs
                            .iter()
                            .map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") })
                            .collect();
                        format!("{uuid}:{}", ranges.join(":"))
                    })
                    .collect();
                f.write_str(&parts.join(","))
            }
        }
    }
}

/// What happened to a row.
#[derive(Clone, Debug, PartialEq)]
pub enum RowChange {
    /// A new row, or a row read by the snapshot.
    Insert { after: Row },
    /// A changed row; `before` carries the old key when the key changed.
    Update { before: Row, after: Row },
    /// A removed row.
    Delete { before: Row },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtid_states_round_trip_and_merge() {
        let maria = GtidState::parse_mariadb("0-1-100,2-5-7").expect("parses");
        assert_eq!(maria.to_string(), "0-1-100,2-5-7");
        let Some(GtidState::Mysql(mut sets)) = GtidState::parse_mysql("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7") else {
            panic!("parses")
        };
        GtidState::add_mysql(&mut sets, "3e11fa47-71ca-11e1-9e33-c80aa9429562", 6);
        GtidState::add_mysql(&mut sets, "3e11fa47-71ca-11e1-9e33-c80aa9429562", 9);
        assert_eq!(GtidState::Mysql(sets).to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7:9");
    }
}
