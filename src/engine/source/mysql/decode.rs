//! The one decoding path from MySQL wire values to [`Value`]. Snapshot rows (binary protocol,
//! results in the column's own character set, session time zone UTC) and binlog rows (row
//! images) both come through [`decode`]; the few encodings that differ between the two (SET
//! bitmasks, TIMESTAMP epochs, YEAR offsets) are told apart by [`Origin`] here, in one place.

use mysql_async::Value as Wire;

use crate::engine::{
    event::{DateTime, Value},
    schema::{Column, ColumnKind},
};

/// Where a wire value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Snapshot,
    Binlog,
}

/// Decodes one wire value of `column`. Errors name the column and say what was found.
pub fn decode(column: &Column, raw: Wire, origin: Origin) -> Result<Value, String> {
    let bad = |raw: &Wire| format!("column `{}` ({}): unexpected wire value {raw:?}", column.name, column.column_type);
    if raw == Wire::NULL {
        return Ok(Value::Null);
    }
    Ok(match (&column.kind, raw) {
        (ColumnKind::Int { unsigned: true, bytes }, Wire::Int(i)) => Value::UInt(unsigned_from(i, *bytes)),
        (ColumnKind::Int { unsigned: true, .. }, Wire::UInt(u)) => Value::UInt(u),
        (ColumnKind::Int { unsigned: false, bytes }, Wire::Int(i)) => Value::Int(signed_from(i, *bytes)),
        (ColumnKind::Int { unsigned: false, bytes }, Wire::UInt(u)) => Value::Int(signed_from(u as i64, *bytes)),
        (ColumnKind::Int { unsigned, .. }, Wire::Bytes(b)) => {
            let text = ascii(&b);
            if *unsigned {
                Value::UInt(text.parse().map_err(|_| bad(&Wire::Bytes(b.clone())))?)
            } else {
                Value::Int(text.parse().map_err(|_| bad(&Wire::Bytes(b.clone())))?)
            }
        }
        (ColumnKind::Float, Wire::Float(f)) => Value::Float(f),
        (ColumnKind::Float, Wire::Double(d)) => Value::Float(d as f32),
        (ColumnKind::Double, Wire::Double(d)) => Value::Double(d),
        (ColumnKind::Double, Wire::Float(f)) => Value::Double(f64::from(f)),
        (ColumnKind::Float, Wire::Bytes(b)) => Value::Float(ascii(&b).parse().map_err(|_| bad(&Wire::Bytes(b.clone())))?),
        (ColumnKind::Double, Wire::Bytes(b)) => Value::Double(ascii(&b).parse().map_err(|_| bad(&Wire::Bytes(b.clone())))?),
        (ColumnKind::Decimal { .. }, Wire::Bytes(b)) => Value::Decimal(ascii(&b)),
        (ColumnKind::Text { charset }, Wire::Bytes(b)) => Value::Text(decode_text(&column.name, charset, b)?),
        (ColumnKind::Json, Wire::Bytes(b)) => {
            Value::Json(String::from_utf8(b).map_err(|_| format!("column `{}`: JSON is not UTF-8", column.name))?)
        }
        (ColumnKind::Binary | ColumnKind::Bit { .. }, Wire::Bytes(b)) => Value::Bytes(b),
        (ColumnKind::Bit { bits }, Wire::UInt(u)) => Value::Bytes(u.to_be_bytes()[8 - bits.div_ceil(8) as usize..].to_vec()),
        (ColumnKind::Date, Wire::Date(y, m, d, ..)) => Value::Date(DateTime {
            year: y,
            month: m,
            day: d,
            hour: 0,
            minute: 0,
            second: 0,
            micros: 0,
        }),
        (ColumnKind::DateTime, Wire::Date(y, mo, d, h, mi, s, us)) => Value::DateTime(DateTime::new(y, mo, d, h, mi, s, us)),
        (ColumnKind::Timestamp, Wire::Date(y, mo, d, h, mi, s, us)) => Value::Timestamp(DateTime::new(y, mo, d, h, mi, s, us)),
        (ColumnKind::Timestamp, Wire::Bytes(b)) if origin == Origin::Binlog => {
            let text = ascii(&b);
            let (secs, micros) = text.split_once('.').unwrap_or((&text, "0"));
            let secs: i64 = secs.parse().map_err(|_| bad(&Wire::Bytes(b.clone())))?;
            let micros: u32 = micros.parse().map_err(|_| bad(&Wire::Bytes(b.clone())))?;
            Value::Timestamp(utc_from_epoch(secs, micros))
        }
        (ColumnKind::Timestamp, Wire::Int(secs)) if origin == Origin::Binlog => Value::Timestamp(utc_from_epoch(secs, 0)),
        (ColumnKind::Time, Wire::Time(negative, days, h, m, s, us)) => Value::Time {
            negative,
            hours: days * 24 + u32::from(h),
            minutes: m,
            seconds: s,
            micros: us,
        },
        (ColumnKind::Year, Wire::Int(y)) => Value::Year(y as u16),
        (ColumnKind::Year, Wire::UInt(y)) => Value::Year(y as u16),
        (ColumnKind::Year, Wire::Bytes(b)) => match ascii(&b).parse::<u16>() {
            // The binlog stores YEAR as an offset from 1900, with 0 for the zero year.
            Ok(1900) if origin == Origin::Binlog => Value::Year(0),
            Ok(y) => Value::Year(y),
            Err(_) => return Err(bad(&Wire::Bytes(b))),
        },
        // ENUM and SET arrive as their index / bitmask: the binlog stores them so, and the
        // snapshot selects `column + 0` (see `key::select_expr`), so both paths agree exactly —
        // also on the error value 0 and on a member spelt `''`.
        (ColumnKind::Enum(labels), Wire::Int(index)) => enum_value(labels, index as u64),
        (ColumnKind::Enum(labels), Wire::UInt(index)) => enum_value(labels, index),
        (ColumnKind::Enum(labels), Wire::Bytes(b)) => {
            let text = decode_text(&column.name, charset_of(column), b)?;
            let index = labels.iter().position(|l| *l == text).map_or(0, |i| i + 1);
            Value::Enum(index as u16, text)
        }
        (ColumnKind::Set(labels), Wire::Bytes(b)) if origin == Origin::Binlog => {
            let mut mask = 0u64;
            for (i, byte) in b.iter().enumerate().take(8) {
                mask |= u64::from(*byte) << (8 * i);
            }
            set_value(labels, mask)
        }
        (ColumnKind::Set(labels), Wire::Int(mask)) => set_value(labels, mask as u64),
        (ColumnKind::Set(labels), Wire::UInt(mask)) => set_value(labels, mask),
        (ColumnKind::Set(labels), Wire::Bytes(b)) => {
            let text = decode_text(&column.name, charset_of(column), b)?;
            let mask = text
                .split(',')
                .filter(|m| !m.is_empty())
                .filter_map(|m| labels.iter().position(|l| l == m))
                .fold(0u64, |mask, i| mask | (1 << i));
            Value::Set(mask, text)
        }
        // BINARY(n) is stored padded with 0x00 to n bytes; the binlog strips the trailing zeros.
        (ColumnKind::FixedBinary(len), Wire::Bytes(mut b)) => {
            if b.len() < *len as usize {
                b.resize(*len as usize, 0);
            }
            Value::Bytes(b)
        }
        (_, raw) => return Err(bad(&raw)),
    })
}

fn enum_value(labels: &[String], index: u64) -> Value {
    let label = (index as usize)
        .checked_sub(1)
        .and_then(|i| labels.get(i))
        .cloned()
        .unwrap_or_default();
    Value::Enum(index as u16, label)
}

fn set_value(labels: &[String], mask: u64) -> Value {
    let chosen: Vec<&str> = labels
        .iter()
        .enumerate()
        .filter(|(i, _)| *i < 64 && mask & (1 << i) != 0)
        .map(|(_, l)| l.as_str())
        .collect();
    Value::Set(mask, chosen.join(","))
}

fn charset_of(column: &Column) -> &str {
    column.collation.as_deref().and_then(|c| c.split('_').next()).unwrap_or("utf8mb4")
}

fn ascii(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Reinterprets a sign-extended integer of `bytes` width as unsigned.
fn unsigned_from(i: i64, bytes: u8) -> u64 {
    if i >= 0 || bytes >= 8 {
        i as u64
    } else {
        (i as u64) & ((1u64 << (8 * u32::from(bytes))) - 1)
    }
}

/// Sign-extends an integer of `bytes` width that arrived zero-extended.
fn signed_from(i: i64, bytes: u8) -> i64 {
    if bytes >= 8 {
        return i;
    }
    let bits = 8 * u32::from(bytes);
    let max = (1i64 << (bits - 1)) - 1;
    if i > max { i - (1i64 << bits) } else { i }
}

/// Decodes character data from the column's character set into UTF-8, exactly.
fn decode_text(column: &str, charset: &str, bytes: Vec<u8>) -> Result<String, String> {
    let label = match charset {
        "utf8mb4" | "utf8mb3" | "utf8" | "ascii" => {
            return String::from_utf8(bytes)
                .map_err(|e| format!("column `{column}`: invalid {charset} data at byte {}", e.utf8_error().valid_up_to()));
        }
        // MySQL's latin1 is cp1252 with the five unassigned bytes mapped to C1 controls, which
        // is exactly the WHATWG windows-1252 decoder.
        "latin1" => "windows-1252",
        "latin2" => "iso-8859-2",
        "cp1250" => "windows-1250",
        "cp1251" => "windows-1251",
        "cp1256" => "windows-1256",
        "cp1257" => "windows-1257",
        "greek" => "iso-8859-7",
        "hebrew" => "iso-8859-8",
        "koi8r" => "koi8-r",
        "koi8u" => "koi8-u",
        "gbk" => "gbk",
        "gb18030" => "gb18030",
        "big5" => "big5",
        "sjis" | "cp932" => "shift_jis",
        "ujis" | "eucjpms" => "euc-jp",
        "euckr" => "euc-kr",
        other => {
            return Err(format!(
                "column `{column}`: character set `{other}` is not supported; convert the column to utf8mb4"
            ));
        }
    };
    let encoding =
        encoding_rs::Encoding::for_label(label.as_bytes()).ok_or_else(|| format!("column `{column}`: no decoder for {charset}"))?;
    let (text, had_errors) = encoding.decode_without_bom_handling(&bytes);
    if had_errors {
        return Err(format!("column `{column}`: bytes that are not valid {charset}"));
    }
    Ok(text.into_owned())
}

/// Converts seconds since the epoch to UTC wall-clock time; 0 is the zero TIMESTAMP.
pub fn utc_from_epoch(secs: i64, micros: u32) -> DateTime {
    if secs == 0 && micros == 0 {
        return DateTime {
            year: 0,
            month: 0,
            day: 0,
            hour: 0,
            minute: 0,
            second: 0,
            micros: 0,
        };
    }
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
    DateTime {
        year,
        month,
        day,
        hour: (rem / 3600) as u8,
        minute: (rem % 3600 / 60) as u8,
        second: (rem % 60) as u8,
        micros,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(kind: ColumnKind) -> Column {
        Column {
            name: "c".into(),
            target: "c".into(),
            kind,
            column_type: "t".into(),
            nullable: true,
            ordinal: 0,
            collation: None,
        }
    }

    #[test]
    fn unsigned_integers_keep_their_full_range() {
        let c = col(ColumnKind::Int { unsigned: true, bytes: 1 });
        assert_eq!(decode(&c, Wire::Int(-1), Origin::Binlog), Ok(Value::UInt(255)));
        let c = col(ColumnKind::Int { unsigned: true, bytes: 8 });
        assert_eq!(decode(&c, Wire::Int(-1), Origin::Binlog), Ok(Value::UInt(u64::MAX)));
        let c = col(ColumnKind::Int { unsigned: true, bytes: 3 });
        assert_eq!(decode(&c, Wire::Int(-1), Origin::Binlog), Ok(Value::UInt(16_777_215)));
        // MEDIUMINT from the binlog arrives zero-extended.
        let c = col(ColumnKind::Int { unsigned: false, bytes: 3 });
        assert_eq!(decode(&c, Wire::Int(16_777_213), Origin::Binlog), Ok(Value::Int(-3)));
        assert_eq!(decode(&c, Wire::Int(8_388_607), Origin::Binlog), Ok(Value::Int(8_388_607)));
    }

    #[test]
    fn latin1_decodes_every_byte_reversibly() {
        let all: Vec<u8> = (0..=255).collect();
        let text = decode_text("c", "latin1", all).expect("every latin1 byte decodes");
        assert_eq!(text.chars().count(), 256);
        assert_eq!(text.chars().nth(0x81), Some('\u{81}'));
        assert_eq!(text.chars().nth(0x80), Some('€'));
    }

    #[test]
    fn epochs_become_utc_wall_time() {
        let t = utc_from_epoch(1_700_000_000, 123_456);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second, t.micros),
            (2023, 11, 14, 22, 13, 20, 123_456)
        );
        assert_eq!(utc_from_epoch(0, 0).year, 0);
        assert_eq!(utc_from_epoch(2_147_483_647, 0).year, 2038);
    }

    #[test]
    fn set_bitmask_and_enum_index_become_labels() {
        let labels = vec!["a".to_string(), "b".into(), "c".into()];
        let s = col(ColumnKind::Set(labels.clone()));
        assert_eq!(
            decode(&s, Wire::Bytes(vec![0b101]), Origin::Binlog),
            Ok(Value::Set(5, "a,c".into()))
        );
        assert_eq!(decode(&s, Wire::Int(5), Origin::Snapshot), Ok(Value::Set(5, "a,c".into())));
        assert_eq!(
            decode(&s, Wire::Bytes(b"a,c".to_vec()), Origin::Snapshot),
            Ok(Value::Set(5, "a,c".into()))
        );
        let e = col(ColumnKind::Enum(vec!["".into(), "b".into()]));
        assert_eq!(decode(&e, Wire::Int(2), Origin::Binlog), Ok(Value::Enum(2, "b".into())));
        assert_eq!(decode(&e, Wire::UInt(2), Origin::Snapshot), Ok(Value::Enum(2, "b".into())));
        // The error value and the member spelt '' read alike but are different values.
        assert_eq!(decode(&e, Wire::Int(0), Origin::Binlog), Ok(Value::Enum(0, String::new())));
        assert_eq!(decode(&e, Wire::Int(1), Origin::Binlog), Ok(Value::Enum(1, String::new())));
    }

    #[test]
    fn binary_n_is_padded_back_to_its_width() {
        let b = col(ColumnKind::FixedBinary(4));
        assert_eq!(decode(&b, Wire::Bytes(vec![1]), Origin::Binlog), Ok(Value::Bytes(vec![1, 0, 0, 0])));
        assert_eq!(decode(&b, Wire::Bytes(vec![]), Origin::Binlog), Ok(Value::Bytes(vec![0; 4])));
        assert_eq!(
            decode(&b, Wire::Bytes(vec![1, 0, 0, 2]), Origin::Snapshot),
            Ok(Value::Bytes(vec![1, 0, 0, 2]))
        );
    }

    #[test]
    fn binlog_year_zero_and_timestamp_zero() {
        assert_eq!(
            decode(&col(ColumnKind::Year), Wire::Bytes(b"1900".to_vec()), Origin::Binlog),
            Ok(Value::Year(0))
        );
        assert_eq!(
            decode(&col(ColumnKind::Year), Wire::Bytes(b"2155".to_vec()), Origin::Binlog),
            Ok(Value::Year(2155))
        );
        let ts = decode(&col(ColumnKind::Timestamp), Wire::Bytes(b"0".to_vec()), Origin::Binlog);
        assert_eq!(ts, Ok(Value::Timestamp(utc_from_epoch(0, 0))));
    }
}
