//! Golden-SQL tests of the Lindorm dialect. No Lindorm instance exists here: the expected
//! statements in `tests/golden/lindorm.sql` are written from Lindorm's documented grammar
//! (docs/lindorm.md lists the sources and what is inference) and pin every statement kind and
//! every mapped type's literal form. `UPDATE_GOLDEN=1 cargo test --test lindorm_golden`
//! rewrites the file; review the diff against the documentation before committing it.

use ferry::engine::{
    ddl::{self, DdlOp},
    event::{DateTime, TableId, Value},
    schema::{Column, ColumnKind, TableSchema},
    sink::{
        check_decimals,
        lindorm::dialect::{self, Dialect, Escapes},
    },
};

fn column(name: &str, kind: ColumnKind, column_type: &str, nullable: bool, ordinal: usize) -> Column {
    Column {
        name: name.into(),
        target: name.into(),
        kind,
        column_type: column_type.into(),
        nullable,
        ordinal,
        collation: None,
    }
}

fn dt(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8, micros: u32) -> DateTime {
    DateTime::new(year, month, day, hour, minute, second, micros)
}

/// A table with one column of every mappable kind.
fn every_type() -> TableSchema {
    let text = || ColumnKind::Text { charset: "utf8mb4".into() };
    let kinds: Vec<(&str, ColumnKind, &str)> = vec![
        ("id", ColumnKind::Int { unsigned: false, bytes: 8 }, "bigint(20)"),
        ("ti", ColumnKind::Int { unsigned: false, bytes: 1 }, "tinyint(4)"),
        ("tiu", ColumnKind::Int { unsigned: true, bytes: 1 }, "tinyint(3) unsigned"),
        ("si", ColumnKind::Int { unsigned: false, bytes: 2 }, "smallint(6)"),
        ("siu", ColumnKind::Int { unsigned: true, bytes: 2 }, "smallint(5) unsigned"),
        ("mi", ColumnKind::Int { unsigned: false, bytes: 3 }, "mediumint(9)"),
        ("miu", ColumnKind::Int { unsigned: true, bytes: 3 }, "mediumint(8) unsigned"),
        ("i", ColumnKind::Int { unsigned: false, bytes: 4 }, "int(11)"),
        ("iu", ColumnKind::Int { unsigned: true, bytes: 4 }, "int(10) unsigned"),
        ("biu", ColumnKind::Int { unsigned: true, bytes: 8 }, "bigint(20) unsigned"),
        ("f", ColumnKind::Float, "float"),
        ("d", ColumnKind::Double, "double"),
        ("dec", ColumnKind::Decimal { precision: 38, scale: 10 }, "decimal(38,10)"),
        ("vc", text(), "varchar(100)"),
        ("t", text(), "text"),
        ("vb", ColumnKind::Binary, "varbinary(20)"),
        ("dt", ColumnKind::Date, "date"),
        ("dtm", ColumnKind::DateTime, "datetime(6)"),
        ("ts", ColumnKind::Timestamp, "timestamp(6)"),
        ("tm", ColumnKind::Time, "time(6)"),
        ("y", ColumnKind::Year, "year(4)"),
        ("j", ColumnKind::Json, "json"),
        ("e", ColumnKind::Enum(vec!["a".into(), "b".into()]), "enum('a','b')"),
        ("s", ColumnKind::Set(vec!["x".into(), "y".into()]), "set('x','y')"),
    ];
    TableSchema {
        source: TableId::new("shop", "every_type"),
        target: TableId::new("shop_ns", "every_type"),
        columns: kinds
            .into_iter()
            .enumerate()
            .map(|(i, (n, k, t))| column(n, k, t, i != 0, i))
            .collect(),
        key: vec![0],
        key_name: "PRIMARY".into(),
        ..Default::default()
    }
}

fn edge_row() -> Vec<Value> {
    vec![
        Value::Int(i64::MIN),
        Value::Int(-128),
        Value::UInt(255),
        Value::Int(-32768),
        Value::UInt(65535),
        Value::Int(-8_388_608),
        Value::UInt(16_777_215),
        Value::Int(-2_147_483_648),
        Value::UInt(4_294_967_295),
        Value::UInt(u64::MAX),
        Value::Float(1.25e-7),
        Value::Double(1e308),
        Value::Decimal("-1234567890123456789012345678.0123456789".into()),
        Value::Text("it's a \\ back-slash, 日本語 😀".into()),
        Value::Text("line\nbreak".into()),
        Value::Bytes(vec![0x00, 0xDE, 0xAD, 0xBE, 0xEF]),
        Value::Date(dt(2024, 2, 29, 0, 0, 0, 0)),
        Value::DateTime(dt(9999, 12, 31, 23, 59, 59, 999_999)),
        Value::Timestamp(dt(1970, 1, 1, 0, 0, 1, 500_000)),
        Value::Time {
            negative: true,
            hours: 838,
            minutes: 59,
            seconds: 59,
            micros: 0,
        },
        Value::Year(2155),
        Value::Json("{\"k\": [1, \"two\"]}".into()),
        Value::Enum(2, "b".into()),
        Value::Set(3, "x,y".into()),
    ]
}

fn null_row() -> Vec<Value> {
    let mut row = vec![Value::Int(7)];
    row.extend(std::iter::repeat_n(Value::Null, 23));
    // Values Lindorm stores as NULL: empty VARBINARY, zero dates.
    row[15] = Value::Bytes(Vec::new());
    row[16] = Value::Date(dt(0, 0, 0, 0, 0, 0, 0));
    row[17] = Value::DateTime(dt(0, 0, 0, 0, 0, 0, 0));
    row[10] = Value::Float(-0.0);
    row[11] = Value::Double(2.2250738585072014e-308);
    row
}

fn composite() -> TableSchema {
    let text = ColumnKind::Text { charset: "utf8mb4".into() };
    TableSchema {
        source: TableId::new("shop", "lines"),
        target: TableId::new("shop_ns", "order`lines"),
        columns: vec![
            column(
                "order_id",
                ColumnKind::Int { unsigned: true, bytes: 8 },
                "bigint(20) unsigned",
                false,
                0,
            ),
            column("sku", text.clone(), "varchar(32)", false, 1),
            column("qty", ColumnKind::Int { unsigned: false, bytes: 4 }, "int(11)", true, 2),
        ],
        key: vec![0, 1],
        key_name: "PRIMARY".into(),
        ..Default::default()
    }
}

fn render() -> String {
    let quote_only = Dialect::default();
    let backslash = Dialect {
        escapes: Escapes::Backslash,
        ..Dialect::default()
    };
    let table = every_type();
    let lines = composite();
    let mut out = String::new();
    let mut push = |title: &str, sql: String| {
        out.push_str(&format!("-- {title}\n{sql};\n\n"));
    };
    push("namespace", dialect::create_database("shop_ns"));
    push(
        "create table: every mapped type",
        dialect::create_table(Dialect::default(), &table).expect("maps"),
    );
    push(
        "create table: composite key, quoted names",
        dialect::create_table(Dialect::default(), &lines).expect("maps"),
    );
    let edge = edge_row();
    let nulls = null_row();
    for sql in dialect::upsert(quote_only, &table, &[&edge, &nulls], 1_700_000_000_123).expect("literals") {
        push("upsert batch: every literal form (session without backslash escapes)", sql);
    }
    for sql in dialect::upsert(backslash, &table, &[&edge], 1_700_000_000_124).expect("literals") {
        push("upsert: same row, session with backslash escapes", sql);
    }
    let key = vec![Value::UInt(42), Value::Text("SKU-'1'".into()), Value::Int(3)];
    push(
        "delete: every key column by equality",
        dialect::delete(quote_only, &lines, &key, 1_700_000_000_125).expect("key"),
    );
    out
}

#[test]
fn statements_match_the_documented_grammar() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/lindorm.sql");
    let actual = render();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).expect("write golden file");
    }
    let expected = std::fs::read_to_string(&path).expect("tests/golden/lindorm.sql exists (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(
        actual, expected,
        "Lindorm SQL changed; if intended, run with UPDATE_GOLDEN=1 and review the diff"
    );
}

#[test]
fn upsert_batches_stay_within_lindorm_request_limits() {
    let table = composite();
    let rows: Vec<Vec<Value>> = (0..4500u64)
        .map(|i| vec![Value::UInt(i), Value::Text(format!("s{i}")), Value::Int(1)])
        .collect();
    let refs: Vec<&Vec<Value>> = rows.iter().collect();
    let statements = dialect::upsert(Dialect::default(), &table, &refs, 1).expect("literals");
    let counts: Vec<usize> = statements.iter().map(|s| s.matches("), (").count() + 1).collect();
    assert_eq!(counts, vec![2000, 2000, 500]);
    let big = "x".repeat(1 << 20);
    let rows: Vec<Vec<Value>> = (0..130u64)
        .map(|i| vec![Value::UInt(i), Value::Text(big.clone()), Value::Int(1)])
        .collect();
    let refs: Vec<&Vec<Value>> = rows.iter().collect();
    let statements = dialect::upsert(Dialect::default(), &table, &refs, 1).expect("literals");
    assert!(statements.len() >= 3, "130 MiB of rows must take at least three requests");
    assert!(
        statements.iter().all(|s| s.len() <= dialect::MAX_BYTES),
        "a request exceeds the byte limit"
    );
}

#[test]
fn bit_columns_and_oversized_decimals_are_refused_by_name() {
    let mut table = every_type();
    table.columns.push(column("flags", ColumnKind::Bit { bits: 8 }, "bit(8)", true, 24));
    table.columns.push(column(
        "big",
        ColumnKind::Decimal { precision: 65, scale: 30 },
        "decimal(65,30)",
        true,
        25,
    ));
    let err = dialect::create_table(Dialect::default(), &table).expect_err("refused");
    assert!(
        err.contains("column `flags` (bit(8)): BIT columns are not supported by Lindorm"),
        "{err}"
    );
    assert!(
        err.contains("column `big` (decimal(65,30)): DECIMAL precision 65 is above Lindorm's maximum of 38"),
        "{err}"
    );
}

#[test]
fn keys_lindorm_cannot_hold_are_refused() {
    let mut table = composite();
    table.columns[1].kind = ColumnKind::Binary;
    table.columns[1].column_type = "varbinary(16)".into();
    table.key = vec![1, 0];
    let err = dialect::create_table(Dialect::default(), &table).expect_err("binary key column not last");
    assert!(err.contains("VARBINARY only as the last key column"), "{err}");
    let mut all_key = composite();
    all_key.key = vec![0, 1, 2];
    let err = dialect::create_table(Dialect::default(), &all_key).expect_err("no non-key column");
    assert!(err.contains("at least one non-key column"), "{err}");
}

#[test]
fn timestamps_are_utc_epoch_milliseconds_and_doubles_read_back_exactly() {
    assert_eq!(dialect::epoch_millis(&dt(1970, 1, 1, 0, 0, 0, 0)), Some(0));
    assert_eq!(
        dialect::epoch_millis(&dt(2023, 11, 14, 22, 13, 20, 123_999)),
        Some(1_700_000_000_123)
    );
    assert_eq!(dialect::epoch_millis(&dt(0, 0, 0, 0, 0, 0, 0)), None);
    let d = column("d", ColumnKind::Double, "double", true, 0);
    for v in [0.1f64, -1.7976931348623157e308, 5e-324, 123456.789] {
        let text = dialect::literal(Dialect::default(), &d, &Value::Double(v)).expect("literal");
        assert!(text.contains('e'), "{text} is not scientific");
        assert_eq!(text.parse::<f64>().expect("parses"), v);
    }
}

/// `ALTER TABLE … ADD COLUMN col INT DEFAULT 0 AFTER v` from the binlog becomes Lindorm's
/// `ADD COLUMN` with the type only: DEFAULT (and NOT NULL, FIRST/AFTER) stripped, as DTS does.
#[test]
fn add_column_strips_default_and_position() {
    let ops = ddl::parse(
        "ALTER TABLE shop.lines ADD COLUMN col INT NOT NULL DEFAULT 0 AFTER sku, ADD COLUMN note VARCHAR(20) DEFAULT 'n/a' FIRST",
        "shop",
    );
    let [DdlOp::AddColumns { columns, .. }] = &ops[..] else {
        panic!("{ops:?}")
    };
    assert_eq!(columns[0].default.as_deref(), Some("0"), "the source DEFAULT is read");
    let mut table = composite();
    let ordinal = table.columns.len();
    table.columns.push(column(
        "col",
        ColumnKind::Int { unsigned: false, bytes: 4 },
        "int(11)",
        false,
        ordinal,
    ));
    table.columns.push(column(
        "note",
        ColumnKind::Text { charset: "utf8mb4".into() },
        "varchar(20)",
        true,
        ordinal + 1,
    ));
    let added = [ordinal, ordinal + 1];
    assert_eq!(
        dialect::add_columns(Dialect::default(), &table, &added).expect("maps"),
        "ALTER TABLE `shop_ns`.`order``lines` ADD COLUMN `col` INTEGER, ADD COLUMN `note` VARCHAR"
    );
    table
        .columns
        .push(column("flags", ColumnKind::Bit { bits: 3 }, "bit(3)", true, ordinal + 2));
    let err = dialect::add_columns(Dialect::default(), &table, &[ordinal + 2]).expect_err("BIT refused");
    assert!(err.contains("BIT columns are not supported by Lindorm"), "{err}");
}

/// An existing destination DECIMAL of another precision fails, naming column and precisions.
#[test]
fn decimal_mismatch_names_column_and_precisions() {
    let mut table = composite();
    table.columns.push(column(
        "price",
        ColumnKind::Decimal { precision: 12, scale: 2 },
        "decimal(12,2)",
        true,
        3,
    ));
    let existing = vec![("price".to_string(), "DECIMAL(10,2)".to_string())];
    let err = check_decimals(&table, &existing).expect_err("mismatch");
    assert_eq!(
        err.message,
        "DECIMAL precision mismatch in destination table `shop_ns.order`lines`: column `price` is DECIMAL(12,2) in the source and DECIMAL(10,2) in the destination"
    );
    assert!(err.remedy.as_deref().unwrap_or_default().contains("DECIMAL(precision,scale)"));
    assert!(check_decimals(&table, &[("price".into(), "decimal(12,2)".into())]).is_ok());
    // The answer of DESCRIBE is read whichever way its header names the columns.
    let described = dialect::described_columns(
        &["TABLE_NAME".into(), "COLUMN_NAME".into(), "TYPE_NAME".into()],
        &[vec!["t".into(), "price".into(), "DECIMAL(10,2)".into()]],
    );
    assert_eq!(described, existing);
}
