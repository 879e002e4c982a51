//! The differential fuzzer: seeded random schemas, workloads, DDL and worker faults
//! ([`support::fuzz`]) run through `ferry run` from a real MariaDB source to a real MariaDB
//! destination, compared by the oracle — the servers' own `mariadb` client printing HEX of every
//! column ([`support::oracle`]) — never by Ferry's code.
//!
//! `cargo test --test fuzz_diff` runs a bounded number of cases (CI); `make fuzz` runs many
//! (`FERRY_FUZZ_CASES`, default 300 of 700 statements over up to 10 tables, or
//! `FERRY_FUZZ_MINUTES`). `FERRY_FUZZ_SEED` replays a
//! run; each case prints its own seed, and `FERRY_FUZZ_CASE_SEED` replays one case alone. A
//! failing case is reduced to a short script (`target/fuzz/<seed>.sql`, printed too) that
//! `tests/regressions.rs` can replay as a regression test.
//!
//! Checked against documentation only: MySQL 8 sources (no server here); the generator's space
//! is MariaDB's.

mod support;

use std::time::{Duration, Instant};

use support::{
    MariaDb,
    fuzz::{self, Limits},
    script::{self, Script},
};

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn differential_fuzz() {
    let base: u64 = env("FERRY_FUZZ_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1)
    });
    let cases: usize = env("FERRY_FUZZ_CASES").unwrap_or(8);
    let minutes: Option<u64> = env("FERRY_FUZZ_MINUTES");
    let limits = Limits {
        statements: env("FERRY_FUZZ_STATEMENTS").unwrap_or(250),
        tables: env("FERRY_FUZZ_TABLES").unwrap_or(7),
    };
    let only: Option<u64> = env("FERRY_FUZZ_CASE_SEED");
    eprintln!("fuzz: FERRY_FUZZ_SEED={base}, {cases} cases, {limits:?}");
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let (mut tables, mut statements, mut refused, mut rows) = (0, 0, 0, 0);
    let seeds: Vec<u64> = match only {
        Some(seed) => vec![seed],
        None => (0..cases as u64)
            .map(|i| base.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i))
            .collect(),
    };
    for (n, seed) in seeds.into_iter().enumerate() {
        if minutes.is_some_and(|m| started.elapsed() >= Duration::from_secs(m * 60)) {
            break;
        }
        let (script, created) = fuzz::case(seed, limits);
        let case_started = Instant::now();
        script::reset(&src, &dst, &["fz"]).await;
        let name = format!("fz-{n}");
        match script::run(&src, &dst, dir.path(), &name, &script).await {
            Ok(outcome) => {
                tables += created;
                statements += outcome.statements;
                refused += outcome.refused;
                rows += outcome.rows_compared;
                eprintln!(
                    "fuzz case {n} (FERRY_FUZZ_CASE_SEED={seed}): {created} tables, {} statements ({} refused by the source), {} rows equal, {:.1}s",
                    outcome.statements,
                    outcome.refused,
                    outcome.rows_compared,
                    case_started.elapsed().as_secs_f64()
                );
                if n == 0 && !outcome.refusals.is_empty() {
                    eprintln!("  refusals, for the record:\n  {}", outcome.refusals.join("\n  "));
                }
                // `ferry verify` must agree with the oracle (every third case: it reads both
                // ends in full).
                if seed % 3 == 0 {
                    let file = dir.path().join(format!("{name}.yaml"));
                    let (code, out) = support::ferry_cli("verify", &file, &["-o", "json", "--chunk", "13", "--settle", "0s"]);
                    assert_eq!(
                        code,
                        Some(0),
                        "fuzz case {n} (FERRY_FUZZ_CASE_SEED={seed}): the oracle says equal, ferry verify does not:\n{out}"
                    );
                }
                let _ = std::fs::remove_file(dir.path().join(format!("{name}.log")));
            }
            Err(failure) => {
                eprintln!("fuzz case {n} FAILED (FERRY_FUZZ_CASE_SEED={seed}):\n{failure}\nreducing…");
                let reduced = reduce(&src, &dst, dir.path(), &script, &failure).await;
                let out = support::root().join("target/fuzz");
                let _ = std::fs::create_dir_all(&out);
                let path = out.join(format!("{seed}.sql"));
                let text = format!("-- reduced from fuzz case FERRY_FUZZ_CASE_SEED={seed}\n{}", reduced.text());
                let _ = std::fs::write(&path, &text);
                panic!(
                    "fuzz case {n} failed (FERRY_FUZZ_CASE_SEED={seed}): {}\nreduced script ({}):\n{text}",
                    failure.what,
                    path.display()
                );
            }
        }
    }
    eprintln!(
        "fuzz: {tables} random tables, {statements} statements ({refused} refused by the source), {rows} rows compared equal, in {:.0}s",
        started.elapsed().as_secs_f64()
    );
}

/// What kind of failure a run ended in: the oracle's finding without its counts (`fz.t7: rows
/// differ`), or the harness's finding with the worker's last error line. A reduction keeps only
/// candidates that fail the same way, so it cannot drift to an unrelated failure (a script
/// without tables fails the precheck, say).
fn signature(failure: &script::Failure) -> String {
    let first = failure.what.lines().next().unwrap_or_default();
    let what = first.split(" — ").next().unwrap_or(first);
    let error = failure
        .log_tail
        .lines()
        .rev()
        .find(|l| l.starts_with("error:") || l.contains(" ERROR "))
        .map(|l| l.split_once("error").map_or(l, |(_, e)| e))
        .unwrap_or_default();
    format!("{what} / {error}").chars().filter(|c| !c.is_ascii_digit()).collect()
}

/// Reduces a failing script, each candidate run on fresh databases (within a budget of runs),
/// keeping candidates that fail the way the original did.
async fn reduce(src: &MariaDb, dst: &MariaDb, dir: &std::path::Path, script: &Script, original: &script::Failure) -> Script {
    let wanted = signature(original);
    let budget: usize = env("FERRY_FUZZ_REDUCE_RUNS").unwrap_or(60);
    let deadline = Instant::now() + Duration::from_secs(60 * env::<u64>("FERRY_FUZZ_REDUCE_MINUTES").unwrap_or(15));
    let mut attempt = 0usize;
    fuzz::reduce(script, budget, |candidate| {
        attempt += 1;
        let name = format!("reduce-{attempt}");
        let wanted = wanted.clone();
        async move {
            // Out of time: the candidate counts as passing, so the reduction keeps what it has.
            if Instant::now() >= deadline {
                return false;
            }
            script::reset(src, dst, &["fz"]).await;
            let failed = match script::run(src, dst, dir, &name, &candidate).await {
                Ok(_) => false,
                Err(f) => signature(&f) == wanted,
            };
            let _ = std::fs::remove_file(dir.join(format!("{name}.log")));
            failed
        }
    })
    .await
}
