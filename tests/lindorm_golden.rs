//! Golden-SQL tests of the Lindorm dialect. No Lindorm instance exists here: the expected
//! statements in `tests/golden/lindorm.sql` are written from Lindorm's documented grammar
//! (docs/lindorm.md lists the sources and what is inference) and pin every statement kind the
//! sink writes (and the ones it reads tables with) and every mapped type's literal form, each
//! with the documentation page it follows. The checkpoint's SELECT/DELETE of its own rows and
//! the session probes (`SELECT VERSION()`, `SELECT 'a\\b'`) are plain SQL in the sink module. `UPDATE_GOLDEN=1 cargo test --test lindorm_golden`
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
        target: TableId::new("shop_ns", "order-lines.v2"),
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

/// Documentation pages the statements follow (docs/lindorm.md lists them with versions).
const CREATE_DATABASE: &str = "https://www.alibabacloud.com/help/en/doc-detail/342954.html";
const CREATE_TABLE: &str = "https://www.alibabacloud.com/help/en/lindorm/developer-reference/the-create-table";
const QUOTAS: &str = "https://www.alibabacloud.com/help/en/lindorm/product-overview/quotas-and-limits";
const DATA_TYPES: &str = "https://www.alibabacloud.com/help/en/lindorm/developer-reference/basic-data-types";
const UPSERT: &str = "https://www.alibabacloud.com/help/en/doc-detail/216804.html";
const DELETE: &str = "https://help.aliyun.com/en/lindorm/developer-reference/the-delete";
const LEXICAL: &str = "https://help.aliyun.com/en/lindorm/developer-reference/lexical-structure";
const ESCAPES: &str = "https://help.aliyun.com/document_detail/2593172.html";
const DYNAMIC_COLUMNS: &str = "https://help.aliyun.com/document_detail/409604.htm";
const TIME_ZONE: &str = "https://www.alibabacloud.com/help/en/lindorm/user-guide/how-to-set-the-time-zone-for-a-connection";
const JSON: &str = "https://help.aliyun.com/en/lindorm/developer-reference/json-data-type";
const DTS: &str =
    "https://www.alibabacloud.com/help/en/dts/user-guide/synchronize-data-from-a-polardb-for-mysql-cluster-to-a-lindorm-instance";
const ALTER_TABLE: &str = "https://help.aliyun.com/en/lindorm/developer-reference/the-alter-table";
const DROP_TABLE: &str = "https://alibabacloud.com/help/en/lindorm/latest/the-drop-table";
const TRUNCATE_TABLE: &str = "https://help.aliyun.com/en/lindorm/developer-reference/the-truncate-table";
const DESCRIBE: &str = "https://www.alibabacloud.com/help/en/lindorm/developer-reference/ddl-command-overview";
const SHOW_INDEX: &str = "https://www.alibabacloud.com/help/en/lindorm/latest/the-show-index";
const SHOW_VARIABLES: &str = "https://help.aliyun.com/document_detail/2636961.html";
const MUTABILITY: &str = "https://help.aliyun.com/document_detail/403313.html";

fn render() -> String {
    let quote_only = Dialect::default();
    let backslash = Dialect {
        escapes: Escapes::Backslash,
        ..Dialect::default()
    };
    let table = every_type();
    let lines = composite();
    let mut out = String::new();
    let mut push = |title: &str, sources: &[(&str, &str)], sql: String| {
        out.push_str(&format!("-- {title}\n"));
        for (what, page) in sources {
            out.push_str(&format!("--   {what}: {page}\n"));
        }
        out.push_str(&format!("{sql};\n\n"));
    };
    push(
        "namespace",
        &[
            ("CREATE DATABASE IF NOT EXISTS (LindormTable 2.2.16+)", CREATE_DATABASE),
            ("namespace names: 4-16 of A-Z a-z 0-9 _ -", QUOTAS),
            ("backtick-quoted identifiers", LEXICAL),
        ],
        dialect::create_database("shop_ns"),
    );
    push(
        "create table: every mapped type",
        &[
            ("CREATE TABLE IF NOT EXISTS … PRIMARY KEY(…)", CREATE_TABLE),
            (
                "types: TINYINT SMALLINT INTEGER BIGINT, BIGINT UNSIGNED (the one unsigned type), FLOAT DOUBLE DECIMAL(p<=38,s) VARCHAR VARBINARY DATE TIMESTAMP",
                DATA_TYPES,
            ),
            ("JSON (LindormTable 2.6.2+, not in a key)", JSON),
        ],
        dialect::create_table(Dialect::default(), &table).expect("maps"),
    );
    push(
        "create table: composite key; table names of A-Z a-z 0-9 _ - . (not first)",
        &[
            ("CREATE TABLE, `.` in a table name", CREATE_TABLE),
            ("table names, at most 5 key columns and 2 KB of key values", QUOTAS),
        ],
        dialect::create_table(Dialect::default(), &lines).expect("maps"),
    );
    let edge = edge_row();
    let nulls = null_row();
    let literals: &[(&str, &str)] = &[
        (
            "UPSERT INTO t (cols) VALUES (…), (…): at most 2,000 rows and 64 MB a request, no version hint",
            UPSERT,
        ),
        ("request limits", QUOTAS),
        ("integers; DECIMAL as digits; FLOAT and DOUBLE in scientific notation", DATA_TYPES),
        ("single-quoted strings", LEXICAL),
        ("VARBINARY as a hexadecimal string ('ef0011')", DYNAMIC_COLUMNS),
        (
            "DATE 'yyyy-mm-dd'; TIMESTAMP as epoch milliseconds (independent of the session's time zone)",
            TIME_ZONE,
        ),
        ("JSON as its text", JSON),
        ("empty VARBINARY written as NULL, as DTS does", DTS),
    ];
    let mut sources = literals.to_vec();
    sources.push((
        "a quote doubled: a session without backslash escapes whose probe read '' as one quote (inferred: the pages document only backslash escapes)",
        ESCAPES,
    ));
    for sql in dialect::upsert(quote_only, &table, &[&edge, &nulls]).expect("literals") {
        push(
            "upsert batch: every literal form (session without backslash escapes)",
            &sources,
            sql,
        );
    }
    let mut sources = literals.to_vec();
    sources.push(("\\' and \\\\ (Lindorm SQL 2.8.4.8+, unless NO_BACKSLASH_ESCAPES)", ESCAPES));
    for sql in dialect::upsert(backslash, &table, &[&edge]).expect("literals") {
        push("upsert: same row, session with backslash escapes", &sources, sql);
    }
    let key = vec![Value::UInt(42), Value::Text("SKU-'1'".into()), Value::Int(3)];
    push(
        "delete: every key column by equality, no hint (the grammar takes none; the tombstone has the server's time)",
        &[
            ("DELETE FROM t WHERE <every key column> = …", DELETE),
            (
                "a quote doubled: a session without backslash escapes whose probe read '' as one quote (inferred)",
                ESCAPES,
            ),
        ],
        dialect::delete(quote_only, &lines, &key).expect("key"),
    );
    let mut binary = composite();
    binary.target = TableId::new("shop_ns", "blobs");
    binary.columns[1].kind = ColumnKind::Binary;
    binary.columns[1].column_type = "varbinary(16)".into();
    push(
        "create table: a binary key column, last in the key",
        &[("CREATE TABLE", CREATE_TABLE), ("VARBINARY only as the last key column", QUOTAS)],
        dialect::create_table(Dialect::default(), &binary).expect("maps"),
    );
    push(
        "delete: a binary key column, as a hexadecimal string",
        &[
            ("DELETE", DELETE),
            (
                "VARBINARY as a hexadecimal string (documented for dynamic columns; inferred for declared columns and WHERE)",
                DYNAMIC_COLUMNS,
            ),
        ],
        dialect::delete(
            quote_only,
            &binary,
            &vec![Value::UInt(42), Value::Bytes(vec![0xef, 0x00, 0x11]), Value::Null],
        )
        .expect("key"),
    );
    push(
        "add column: type only (no DEFAULT, NOT NULL or FIRST/AFTER)",
        &[
            ("ALTER TABLE … ADD COLUMN c type", ALTER_TABLE),
            ("DEFAULT stripped as DTS does", DTS),
        ],
        {
            let mut t = composite();
            t.columns.push(column(
                "note",
                ColumnKind::Text { charset: "utf8mb4".into() },
                "varchar(20)",
                true,
                3,
            ));
            dialect::add_columns(Dialect::default(), &t, &[3]).expect("maps")
        },
    );
    push(
        "drop column (LindormTable 2.6.6+)",
        &[("ALTER TABLE … DROP COLUMN c", ALTER_TABLE)],
        dialect::drop_column(&lines, "qty"),
    );
    push("drop table", &[("DROP TABLE IF EXISTS", DROP_TABLE)], dialect::drop_table(&lines));
    push(
        "truncate table",
        &[("TRUNCATE TABLE", TRUNCATE_TABLE)],
        dialect::truncate_table(&lines),
    );
    push(
        "describe an existing table (its answer's column names are inferred; either spelling is read)",
        &[("DESCRIBE", DESCRIBE)],
        dialect::describe(&lines),
    );
    push(
        "index tables of an existing table (lindormIndexMutability precheck)",
        &[("SHOW INDEX FROM t: INDEX_TYPE SECONDARY or SEARCH", SHOW_INDEX)],
        dialect::show_index(&lines),
    );
    push(
        "mutability of an existing table (LindormTable 2.6.3+, SQL 2.6.6+; LIKE on this attribute inferred)",
        &[
            ("SHOW TABLE VARIABLES FROM t [LIKE 'pattern']", SHOW_VARIABLES),
            ("MUTABILITY", MUTABILITY),
        ],
        dialect::show_mutability(&lines),
    );
    push(
        "checkpoint table: strongly consistent, so reads see acknowledged writes and ON DUPLICATE KEY can claim",
        &[
            (
                "WITH (CONSISTENCY='strong') (inferred spelling of the documented table option)",
                CREATE_TABLE,
            ),
            ("CONSISTENCY and ON DUPLICATE KEY", UPSERT),
        ],
        dialect::create_checkpoint_table(Dialect::default(), "ferry"),
    );
    push(
        "checkpoint claim: a compare-and-set on (task, epoch)",
        &[(
            "INSERT … ON DUPLICATE KEY ERROR (LindormTable 2.7.8+, CONSISTENCY='strong' tables only)",
            UPSERT,
        )],
        dialect::claim_checkpoint(Dialect::default(), "ferry", ["default/t", "00ab", "{}"], 3, 1_700_000_000_000).expect("quotes"),
    );
    push(
        "checkpoint row: the claiming worker's own row",
        &[("UPSERT", UPSERT)],
        dialect::checkpoint_row(
            Dialect::default(),
            "ferry",
            ["default/t", "00ab", "{\"position\":null}"],
            3,
            1_700_000_000_001,
        )
        .expect("quotes"),
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
    let statements = dialect::upsert(Dialect::default(), &table, &refs).expect("literals");
    let counts: Vec<usize> = statements.iter().map(|s| s.matches("), (").count() + 1).collect();
    assert_eq!(counts, vec![2000, 2000, 500]);
    let big = "x".repeat(1 << 20);
    let mut wide = composite();
    wide.columns
        .push(column("doc", ColumnKind::Text { charset: "utf8mb4".into() }, "longtext", true, 3));
    let rows: Vec<Vec<Value>> = (0..130u64)
        .map(|i| {
            vec![
                Value::UInt(i),
                Value::Text(format!("s{i}")),
                Value::Int(1),
                Value::Text(big.clone()),
            ]
        })
        .collect();
    let refs: Vec<&Vec<Value>> = rows.iter().collect();
    let statements = dialect::upsert(Dialect::default(), &wide, &refs).expect("literals");
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

/// A name Lindorm cannot hold — a table of a whole-database selection with a backtick, a
/// column with one, a namespace of 3 characters — is refused at table creation, each named
/// with the setting that renames it; nothing is escaped.
#[test]
fn names_lindorm_cannot_hold_are_refused_by_name() {
    let mut table = composite();
    table.target = TableId::new("abc", "order`lines");
    table.columns[2].target = "q`ty".into();
    let err = dialect::create_table(Dialect::default(), &table).expect_err("refused");
    assert!(
        err.contains("namespace `abc` is not a valid Lindorm namespace (4 to 16 characters"),
        "{err}"
    );
    assert!(err.contains("set spec.objects[].targetName"), "{err}");
    assert!(
        err.contains("table name `order`lines` is not a valid Lindorm table name (1 to 255 characters from A-Z a-z 0-9 _ - ."),
        "{err}"
    );
    assert!(err.contains("spec.objects[].tables[].targetName"), "{err}");
    assert!(err.contains("column name `q`ty` is not a valid Lindorm column name"), "{err}");
    assert!(err.contains("columnMapping"), "{err}");
    for ok in ["order-lines.v2", "T_1", "a"] {
        assert!(dialect::is_table_name(ok), "{ok}");
    }
    for bad in [".x", "-x", "a b", "a`b", "ü", ""] {
        assert!(!dialect::is_table_name(bad), "{bad}");
    }
    assert!(!dialect::is_table_name(&"t".repeat(256)));
}

/// Key values above 2 KB and non-key values above 2 MB are refused before the statement is
/// built, naming the table's key and the columns; a declared key that can exceed 2 KB is
/// measured for the precheck.
#[test]
fn rows_over_lindorms_size_limits_are_refused_with_key_and_columns() {
    let mut table = composite();
    table.columns[1].column_type = "varchar(1000)".into();
    let long_key = vec![Value::UInt(1), Value::Text("é".repeat(1100)), Value::Int(1)];
    let err = dialect::upsert(Dialect::default(), &table, &[&long_key]).expect_err("key over 2 KB");
    assert!(err.contains("the key (order_id=UInt(1), sku=Text(\"éééé"), "{err}");
    assert!(
        err.contains(
            "is 2208 bytes; Lindorm allows at most 2048 bytes of primary key values (key columns `order_id` (8 bytes), `sku` (2200 bytes))"
        ),
        "{err}"
    );
    let err = dialect::delete(Dialect::default(), &table, &long_key).expect_err("key over 2 KB");
    assert!(err.contains("2208 bytes"), "{err}");
    let fits = vec![Value::UInt(1), Value::Text("é".repeat(1020)), Value::Int(1)];
    assert!(dialect::upsert(Dialect::default(), &table, &[&fits]).is_ok(), "2,048 bytes fit");

    let mut wide = composite();
    wide.columns
        .push(column("doc", ColumnKind::Text { charset: "utf8mb4".into() }, "longtext", true, 3));
    let big = vec![
        Value::UInt(7),
        Value::Text("k".into()),
        Value::Int(1),
        Value::Text("x".repeat((2 << 20) + 1)),
    ];
    let err = dialect::upsert(Dialect::default(), &wide, &[&big]).expect_err("values over 2 MB");
    assert!(
        err.contains("has 2097161 bytes of non-key values; Lindorm allows at most 2097152"),
        "{err}"
    );
    assert!(err.contains("`doc` (2097153 bytes)"), "{err}");

    assert_eq!(dialect::declared_key_bytes(&table), Some(8 + 4000));
    let mut short = composite();
    short.columns[1].column_type = "varchar(32)".into();
    assert_eq!(dialect::declared_key_bytes(&short), Some(8 + 128));
}

/// `SHOW INDEX` answers name Lindorm's index tables by INDEX_TYPE (SECONDARY, SEARCH); a
/// MariaDB stand-in's BTREE indexes are none of them. Immutable tables with index tables
/// cannot take Ferry's updates and deletes; MUTABLE_LATEST (the default) and MUTABLE_ALL can.
#[test]
fn index_tables_of_immutable_tables_are_reported() {
    let header: Vec<String> = ["TABLE_SCHEMA", "DATA_TABLE", "INDEX_NAME", "INDEX_STATE", "INDEX_TYPE"]
        .map(String::from)
        .to_vec();
    let rows = vec![
        vec!["ns".into(), "t".into(), "idx_v".into(), "ACTIVE".into(), "SECONDARY".into()],
        vec!["ns".into(), "t".into(), "s1".into(), "ACTIVE".into(), "SEARCH".into()],
    ];
    let indexes = dialect::lindorm_indexes(&header, &rows);
    assert_eq!(indexes, vec!["idx_v (SECONDARY)", "s1 (SEARCH)"]);
    let maria: Vec<String> = ["Table", "Non_unique", "Key_name", "Index_type"].map(String::from).to_vec();
    assert!(dialect::lindorm_indexes(&maria, &[vec!["t".into(), "0".into(), "PRIMARY".into(), "BTREE".into()]]).is_empty());
    let problem = dialect::mutability_problem(&indexes, Some("IMMUTABLE_ROWS")).expect("immutable");
    assert!(
        problem.contains("idx_v (SECONDARY), s1 (SEARCH)") && problem.contains("MUTABILITY IMMUTABLE_ROWS"),
        "{problem}"
    );
    assert!(dialect::mutability_problem(&indexes, Some("IMMUTABLE")).is_some());
    assert_eq!(dialect::mutability_problem(&indexes, Some("MUTABLE_LATEST")), None);
    assert_eq!(dialect::mutability_problem(&indexes, Some("mutable_all")), None);
    assert_eq!(dialect::mutability_problem(&[], Some("IMMUTABLE")), None, "no index tables");
    assert_eq!(
        dialect::show_mutability(&composite()),
        "SHOW TABLE VARIABLES FROM `shop_ns`.`order-lines.v2` LIKE 'MUTABILITY'"
    );
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
        "ALTER TABLE `shop_ns`.`order-lines.v2` ADD COLUMN `col` INTEGER, ADD COLUMN `note` VARCHAR"
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
        "DECIMAL precision mismatch in destination table `shop_ns.order-lines.v2`: column `price` is DECIMAL(12,2) in the source and DECIMAL(10,2) in the destination"
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
