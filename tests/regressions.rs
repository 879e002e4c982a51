//! The regression suite: one replayable script per bug found (by users, by review or by the
//! differential fuzzer), each run end to end on a fresh pair of real MariaDB servers through
//! `ferry run`, and checked by the oracle — the servers' own `mariadb` client comparing HEX of
//! every column of every table ([`support::oracle`]), never Ferry's code. The script format is
//! in [`support::script`]; a fuzzer failure is written in that format, reduced, ready to land
//! here as `tests/regressions/<name>.sql` with a test below.
//!
//! Checked against documentation only (no server of that kind here): the MySQL 8 forms of the
//! same statements (XA, savepoints and DDL are logged as the same Query events by MySQL; the
//! XA_PREPARE event and GTID flags are MariaDB's here).

mod support;

use support::script::run_file;

macro_rules! regression {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread")]
        async fn $name() {
            run_file(concat!("tests/regressions/", stringify!($name), ".sql")).await;
        }
    )*};
}

regression!(
    enum_key_chunks,
    binary_key_trailing_zeros,
    ci_key_case_change_lanes,
    create_or_replace,
    savepoint_mixed_engines,
    table_leaves_and_returns,
    alter_add_and_drop,
    maintenance_statements,
    xa_transactions,
    enum_error_value,
    negative_time_fraction,
    bit_key_delete,
    add_column_after_replayed,
    xa_prepared_before_copy,
    recopy_after_drop_column,
    replayed_add_column_default,
    replayed_drop_column_table_replaced,
    char_nopad_key_padding,
    replayed_rows_before_drop_column,
    add_column_during_interrupted_copy,
    listed_table_dropped,
    whole_database_emptied,
    add_column_during_interrupted_copy_ignore,
    add_column_default_backslash_quote,
    lane_lock_contention,
    timestamp_default_session_zone,
    created_table_before_checkpoint,
    savepoint_engine_changed_later,
);

/// Replays the script named by `FERRY_REPLAY_SCRIPT` (a fuzzer's reduced case, say) on fresh
/// servers, keeping the worker's log on failure: `FERRY_REPLAY_SCRIPT=target/fuzz/<seed>.sql
/// cargo test --test regressions replay -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a tool: replays FERRY_REPLAY_SCRIPT"]
async fn replay() {
    let path = std::env::var("FERRY_REPLAY_SCRIPT").expect("set FERRY_REPLAY_SCRIPT to a script's path");
    run_file(&path).await;
}
