//! Every precheck item against real MariaDB servers: for each, a passing case and a failing
//! (or warning) case made the way users get there — a server started without a binlog, a
//! session-settable variable set wrong, an account without a grant, a table without a key, a
//! destination table that does not fit. Run through `ferry precheck -f FILE -o json`.
//!
//! Checked against documentation only: MySQL 8's `binlog_row_value_options` (MariaDB has no
//! such variable: the item passes as "not a MySQL 8 server") and the source-version floor (no
//! older server here; the item's passing case is real).

mod support;

use std::{collections::BTreeMap, path::Path, process::Command};

use support::{MariaDb, task_file, task_file_to};

/// (exit code, item name → (result, message)).
fn precheck(file: &Path) -> (Option<i32>, BTreeMap<String, (String, String)>) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["precheck", "-o", "json", "-f", &file.display().to_string()])
        .output()
        .expect("run ferry precheck");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        !stdout.contains("ferry-pass") && !stdout.contains("weak-pass"),
        "a secret in the report"
    );
    let report: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    let items = report["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap_or_default().to_string(),
                (
                    i["result"].as_str().unwrap_or_default().to_string(),
                    i["message"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect();
    (out.status.code(), items)
}

#[track_caller]
fn expect(report: &(Option<i32>, BTreeMap<String, (String, String)>), name: &str, result: &str, needle: &str) {
    let (result_got, message) = report.1.get(name).unwrap_or_else(|| panic!("no item {name}: {:?}", report.1));
    assert_eq!(result_got, result, "{name}: {message}\nall: {:?}", report.1);
    assert!(message.contains(needle), "{name}: `{needle}` not in `{message}`");
}

/// Uses `user`/`password` for the source (`src`) or destination (`dst`) Secret of a task file.
fn with_account(file: &Path, secret: &str, user: &str, password: &str) {
    let text = std::fs::read_to_string(file).expect("read task");
    let marker = format!("metadata: {{name: {secret}}}\nstringData: {{username: ferry, password: ferry-pass}}");
    assert!(text.contains(&marker), "{text}");
    let text = text.replace(
        &marker,
        &format!("metadata: {{name: {secret}}}\nstringData: {{username: {user}, password: {password}}}"),
    );
    std::fs::write(file, text).expect("write task");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_item_fails_and_passes_against_a_real_server() {
    let (src, dst, nobin) = tokio::join!(MariaDb::start(1), MariaDb::start(2), MariaDb::start_args(3, "--skip-log-bin"));
    src.exec(
        "CREATE DATABASE app; USE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20), price DECIMAL(12,2)); \
         INSERT INTO app.t SELECT seq, 'x', seq FROM seq_1_to_100; \
         CREATE USER weak IDENTIFIED BY 'weak-pass'; GRANT SELECT ON *.* TO weak; \
         SET GLOBAL binlog_expire_logs_seconds = 0",
    )
    .await;
    dst.exec("CREATE USER reader IDENTIFIED BY 'weak-pass'; GRANT SELECT ON *.* TO reader")
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let good = task_file(dir.path(), "good", &src, &dst, "[{database: app}]", "");

    // Everything in order.
    let report = precheck(&good);
    assert_eq!(report.0, Some(0), "{:?}", report.1);
    for name in [
        "sourceConnection",
        "sourceVersion",
        "binlogEnabled",
        "binlogFormat",
        "binlogRowImage",
        "binlogRowMetadata",
        "binlogCompression",
        "binlogRowValueOptions",
        "serverId",
        "tables",
        "tableCount",
        "sourcePrivileges",
        "binlogRetention",
        "foreignKeyCascades",
        "binlogFilters",
        "onlineDdlTables",
        "destinationConnection",
        "destinationPrivileges",
        "decimalCompatibility",
        "conflictingTables",
    ] {
        expect(&report, name, "Passed", "");
    }

    // Connections and authentication.
    let bad_src = task_file(dir.path(), "badsrc", &src, &dst, "[{database: app}]", "");
    with_account(&bad_src, "src", "ferry", "wrong");
    let report = precheck(&bad_src);
    assert_eq!(report.0, Some(2));
    expect(&report, "sourceConnection", "Failed", "Remedy");
    let bad_dst = task_file(dir.path(), "baddst", &src, &dst, "[{database: app}]", "");
    with_account(&bad_dst, "dst", "ferry", "wrong");
    expect(&precheck(&bad_dst), "destinationConnection", "Failed", "Remedy");

    // log_bin OFF: a server started without a binary log.
    nobin
        .exec("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT)")
        .await;
    let no_binlog = task_file(dir.path(), "nobin", &nobin, &dst, "[{database: app}]", "");
    expect(&precheck(&no_binlog), "binlogEnabled", "Failed", "start the source with log_bin");

    // Variables set wrong, one at a time.
    for (set, reset, name, needle) in [
        (
            "binlog_format = 'STATEMENT'",
            "binlog_format = 'ROW'",
            "binlogFormat",
            "binlog_format is STATEMENT",
        ),
        (
            "binlog_row_image = 'MINIMAL'",
            "binlog_row_image = 'FULL'",
            "binlogRowImage",
            "binlog_row_image is MINIMAL",
        ),
        (
            "log_bin_compress = ON",
            "log_bin_compress = OFF",
            "binlogCompression",
            "SET GLOBAL log_bin_compress = OFF",
        ),
    ] {
        src.exec(&format!("SET GLOBAL {set}")).await;
        let report = precheck(&good);
        src.exec(&format!("SET GLOBAL {reset}")).await;
        assert_eq!(report.0, Some(2), "{name}");
        expect(&report, name, "Failed", needle);
    }
    src.exec("SET GLOBAL binlog_row_metadata = 'MINIMAL'").await;
    let report = precheck(&good);
    src.exec("SET GLOBAL binlog_row_metadata = 'FULL'").await;
    assert_eq!(report.0, Some(1));
    expect(&report, "binlogRowMetadata", "Warning", "binlog_row_metadata = 'FULL'");

    // Retention shorter than a day: a warning.
    src.exec("SET GLOBAL binlog_expire_logs_seconds = 3600").await;
    let report = precheck(&good);
    src.exec("SET GLOBAL binlog_expire_logs_seconds = 0").await;
    assert_eq!(report.0, Some(1));
    expect(&report, "binlogRetention", "Warning", "binlog_expire_logs_seconds");

    // Ferry's replica id equal to the source's own server_id.
    let same_id = task_file(dir.path(), "sameid", &src, &dst, "[{database: app}]", "");
    let text = std::fs::read_to_string(&same_id)
        .expect("read")
        .replace("credentialsSecret: {name: src}}", "credentialsSecret: {name: src}, serverId: 1}");
    std::fs::write(&same_id, text).expect("write");
    expect(&precheck(&same_id), "serverId", "Failed", "spec.source.serverId");

    // A source account without REPLICATION SLAVE / REPLICATION CLIENT; ignorable.
    let weak = task_file(dir.path(), "weak", &src, &dst, "[{database: app}]", "");
    with_account(&weak, "src", "weak", "weak-pass");
    let report = precheck(&weak);
    assert_eq!(report.0, Some(2));
    expect(&report, "sourcePrivileges", "Failed", "REPLICATION SLAVE");
    let ignored = task_file(
        dir.path(),
        "weakignored",
        &src,
        &dst,
        "[{database: app}]",
        "  precheck: {ignore: [sourcePrivileges, binlogFormat]}\n",
    );
    with_account(&ignored, "src", "weak", "weak-pass");
    let report = precheck(&ignored);
    assert_eq!(report.0, Some(1), "{:?}", report.1);
    expect(&report, "sourcePrivileges", "Warning", "ignored by spec.precheck.ignore");

    // A source account with no privilege at all: the tables are hidden from it, which the
    // `tables` item says as a privilege problem, and every item is still in the report.
    src.exec("CREATE USER nobody IDENTIFIED BY 'weak-pass'").await;
    let nobody = task_file(dir.path(), "nobody", &src, &dst, "[{database: app}]", "");
    with_account(&nobody, "src", "nobody", "weak-pass");
    let report = precheck(&nobody);
    assert_eq!(report.0, Some(2));
    expect(&report, "tables", "Failed", "the source account has no SELECT on `app`");
    expect(&report, "sourcePrivileges", "Failed", "SELECT on `app`");
    expect(&report, "binlogRetention", "Passed", "");
    expect(&report, "foreignKeyCascades", "Warning", "not checked");

    // A destination account that may only read.
    let reader = task_file(dir.path(), "reader", &src, &dst, "[{database: app}]", "");
    with_account(&reader, "dst", "reader", "weak-pass");
    expect(&precheck(&reader), "destinationPrivileges", "Failed", "INSERT on `app`");

    // A table with only key columns; a table without a usable key.
    src.exec("CREATE TABLE app.keys_only (a INT, b INT, PRIMARY KEY (a, b))").await;
    let report = precheck(&good);
    expect(&report, "tables", "Failed", "no synchronised column outside its key");
    src.exec("DROP TABLE app.keys_only; CREATE TABLE app.nokey (v INT)").await;
    expect(
        &precheck(&good),
        "tables",
        "Failed",
        "no PRIMARY KEY and no UNIQUE key over NOT NULL columns",
    );
    src.exec("DROP TABLE app.nokey").await;

    // Online schema change leftovers: a warning.
    src.exec("CREATE TABLE app._t_gho (id INT PRIMARY KEY, v VARCHAR(20), price DECIMAL(12,2))")
        .await;
    let listed = task_file(dir.path(), "listed", &src, &dst, "[{database: app, tables: [{name: t}]}]", "");
    let report = precheck(&listed);
    src.exec("DROP TABLE app._t_gho").await;
    assert_eq!(report.0, Some(1));
    expect(&report, "onlineDdlTables", "Warning", "app`.`_t_gho");

    // BIT columns to Lindorm (the destination here only answers the connection).
    src.exec("CREATE TABLE app.flags (id INT PRIMARY KEY, f BIT(3))").await;
    let lindorm = task_file_to(
        dir.path(),
        "lin",
        &src,
        &dst,
        "type: lindorm",
        "[{database: app, targetName: appns}]",
        "",
    );
    expect(&precheck(&lindorm), "bitColumns", "Failed", "`app.flags`.`f`");
    let lindorm_ok = task_file_to(
        dir.path(),
        "linok",
        &src,
        &dst,
        "type: lindorm",
        "[{database: app, targetName: appns, tables: [{name: t}]}]",
        "",
    );
    expect(&precheck(&lindorm_ok), "bitColumns", "Passed", "no BIT");
    expect(&precheck(&lindorm_ok), "lindormKeySize", "Passed", "every key fits");
    expect(&precheck(&lindorm_ok), "lindormNames", "Passed", "naming rules");
    src.exec("DROP TABLE app.flags").await;

    // Lindorm's names and key size: a table name with a backtick, a key that can exceed 2 KB.
    src.exec("CREATE TABLE app.`we``ird` (id INT PRIMARY KEY, v INT); CREATE TABLE app.wide (k VARCHAR(600) PRIMARY KEY, v INT)")
        .await;
    let report = precheck(&lindorm);
    expect(
        &report,
        "lindormNames",
        "Failed",
        "table name `we`ird` is not a valid Lindorm table name",
    );
    expect(&report, "lindormKeySize", "Failed", "`app.wide` (key k: up to 2400 bytes)");
    src.exec("DROP TABLE app.`we``ird`, app.wide").await;

    // An existing destination table: a DECIMAL of another precision always fails; other
    // differences fail under conflictingTables: precheckError only.
    dst.exec("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20), price DECIMAL(10,2))")
        .await;
    let report = precheck(&good);
    expect(
        &report,
        "decimalCompatibility",
        "Failed",
        "DECIMAL(12,2) in the source and DECIMAL(10,2) in the destination",
    );
    expect(&report, "conflictingTables", "Failed", "column `price` is decimal(10,2)");
    let as_is = task_file(dir.path(), "asis", &src, &dst, "[{database: app}]", "  conflictingTables: ignore\n");
    let report = precheck(&as_is);
    expect(&report, "decimalCompatibility", "Failed", "DECIMAL(12,2)");
    expect(&report, "conflictingTables", "Passed", "ignore");
    dst.exec("ALTER TABLE app.t MODIFY price DECIMAL(12,2)").await;
    expect(&precheck(&good), "decimalCompatibility", "Passed", "");
    expect(&precheck(&good), "conflictingTables", "Passed", "");

    // More than 1,000 listed tables with a rename: refused before any check.
    let tables: Vec<String> = (0..1001).map(|i| format!("{{name: t{i}}}")).collect();
    let many = task_file(
        dir.path(),
        "many",
        &src,
        &dst,
        &format!("[{{database: app, tables: [{{name: t, targetName: u}}, {}]}}]", tables.join(", ")),
        "",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["precheck", "-f", &many.display().to_string()])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("at most 1000 tables per task when renaming"), "{text}");
}

/// Rows changed by cascading foreign key actions never reach the binary log: a selected child
/// table with `ON DELETE CASCADE` fails `foreignKeyCascades` (ignorable: then a warning), and a
/// database the server's `binlog_ignore_db` leaves out of the binlog fails `binlogFilters`.
#[tokio::test(flavor = "multi_thread")]
async fn cascading_foreign_keys_and_binlog_filters_are_refused() {
    let (src, dst, filtered) = tokio::join!(
        MariaDb::start(1),
        MariaDb::start(2),
        MariaDb::start_args(3, "--binlog-ignore-db=app")
    );
    src.exec(
        "CREATE DATABASE app; CREATE TABLE app.p (id INT PRIMARY KEY, v INT); \
         CREATE TABLE app.c (id INT PRIMARY KEY, pid INT, FOREIGN KEY fk_p (pid) REFERENCES app.p (id) ON DELETE CASCADE)",
    )
    .await;
    filtered
        .exec("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT)")
        .await;
    let dir = tempfile::tempdir().expect("tempdir");

    let file = task_file(dir.path(), "fk", &src, &dst, "[{database: app}]", "");
    let report = precheck(&file);
    assert_eq!(report.0, Some(2), "{:?}", report.1);
    expect(
        &report,
        "foreignKeyCascades",
        "Failed",
        "`app.c` (foreign key `fk_p` to `p`: ON UPDATE RESTRICT, ON DELETE CASCADE)",
    );
    expect(&report, "binlogFilters", "Passed", "");
    // The parent alone is fine: only children lose rows.
    let parent = task_file(dir.path(), "parent", &src, &dst, "[{database: app, tables: [{name: p}]}]", "");
    expect(&precheck(&parent), "foreignKeyCascades", "Passed", "");
    let ignored = task_file(
        dir.path(),
        "fkignored",
        &src,
        &dst,
        "[{database: app}]",
        "  precheck: {ignore: [foreignKeyCascades]}\n",
    );
    let report = precheck(&ignored);
    assert_eq!(report.0, Some(1), "{:?}", report.1);
    expect(&report, "foreignKeyCascades", "Warning", "ignored by spec.precheck.ignore");

    let file = task_file(dir.path(), "filtered", &filtered, &dst, "[{database: app}]", "");
    let report = precheck(&file);
    assert_eq!(report.0, Some(2), "{:?}", report.1);
    expect(&report, "binlogFilters", "Failed", "leave database(s) app out of the binary log");
}
