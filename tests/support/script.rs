//! Replayable scenario scripts: SQL run on the source, interleaved with what happens to the
//! Ferry worker, checked by the oracle ([`super::oracle`]). The regression suite
//! (`tests/regressions/*.sql`) and the differential fuzzer (`tests/fuzz_diff.rs`) both run
//! them, and the fuzzer writes a failing case out in this form, reduced.
//!
//! One statement or directive per line; `--` starts a comment line.
//!
//! | line | meaning |
//! |---|---|
//! | any SQL | run on the source, on one session (errors are recorded, not fatal: the source decides what a statement does) |
//! | `@objects <YAML flow list>` | the task's `objects` from the next `@start` on (default `[{database: fz}]`) |
//! | `@spec <YAML line>` | a line added to the task's spec, e.g. `worker: {batchRows: 3, applyLanes: 8}` |
//! | `@start` | start `ferry run` (a new process from the stored checkpoint) |
//! | `@kill` | SIGKILL the worker |
//! | `@stop` | SIGTERM the worker and wait for it to exit |
//! | `@wait` | wait until the worker's checkpoint reaches the source's binlog end (fails if the worker exited) |
//! | `@compare [db …]` | compare the databases (default `fz`) on both servers with the oracle |
//! | `@expect-failure <text>` | wait for the worker to stop with an error whose log contains `text` |
//! | `@sleep <ms>` | wait |
//! | `@session <n>` | run the next SQL lines on source session `n` (1 at the start; opened on first use) |
//! | `@disconnect` | close the current session (a prepared XA transaction then outlives it) and go back to session 1 |
//! | `@destination <SQL>` | run one statement on the destination (a fault there, e.g. a trigger that fails a write) |
//!
//! A script that does not end in `@expect-failure` ends with an implicit `@wait` and `@compare`.
//! `@lenient` (anywhere) says the source may refuse some statements (a fuzzer's case); a
//! regression script without it fails when the source refuses one, as a mistake in the script.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use mysql_async::prelude::Queryable;

use super::{Ferry, MariaDb, checkpoint, oracle, task_file};

/// One step of a script.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Sql(String),
    Objects(String),
    Spec(String),
    Start,
    Kill,
    Stop,
    Wait,
    Compare(Vec<String>),
    ExpectFailure(String),
    Sleep(u64),
    Session(u32),
    Disconnect,
    /// SQL run on the destination (to set up a fault there, such as a failing trigger).
    Destination(String),
}

impl Step {
    /// The line that writes this step.
    pub fn line(&self) -> String {
        match self {
            Step::Sql(s) => s.clone(),
            Step::Objects(o) => format!("@objects {o}"),
            Step::Spec(s) => format!("@spec {s}"),
            Step::Start => "@start".into(),
            Step::Kill => "@kill".into(),
            Step::Stop => "@stop".into(),
            Step::Wait => "@wait".into(),
            Step::Compare(dbs) if dbs.is_empty() => "@compare".into(),
            Step::Compare(dbs) => format!("@compare {}", dbs.join(" ")),
            Step::ExpectFailure(t) => format!("@expect-failure {t}"),
            Step::Sleep(ms) => format!("@sleep {ms}"),
            Step::Session(n) => format!("@session {n}"),
            Step::Disconnect => "@disconnect".into(),
            Step::Destination(sql) => format!("@destination {sql}"),
        }
    }
}

/// A whole script.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Script {
    pub steps: Vec<Step>,
    /// The source may refuse statements (`@lenient`).
    pub lenient: bool,
}

impl Script {
    /// Parses the text form.
    pub fn parse(text: &str) -> Script {
        let mut steps = Vec::new();
        let mut lenient = false;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with("--") {
                continue;
            }
            let (word, rest) = line.split_once(' ').map_or((line, ""), |(w, r)| (w, r.trim()));
            let step = match word {
                "@objects" => Step::Objects(rest.into()),
                "@spec" => Step::Spec(rest.into()),
                "@start" => Step::Start,
                "@kill" => Step::Kill,
                "@stop" => Step::Stop,
                "@wait" => Step::Wait,
                "@compare" => Step::Compare(rest.split_whitespace().map(str::to_string).collect()),
                "@expect-failure" => Step::ExpectFailure(rest.into()),
                "@sleep" => Step::Sleep(rest.parse().unwrap_or(100)),
                "@session" => Step::Session(rest.parse().unwrap_or(1)),
                "@disconnect" => Step::Disconnect,
                "@destination" => Step::Destination(rest.into()),
                "@lenient" => {
                    lenient = true;
                    continue;
                }
                w if w.starts_with('@') => panic!("unknown directive {w}"),
                _ => Step::Sql(line.trim_end_matches(';').to_string()),
            };
            steps.push(step);
        }
        Script { steps, lenient }
    }

    /// The text form.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.lenient {
            out.push_str("@lenient\n");
        }
        for step in &self.steps {
            out.push_str(&step.line());
            if matches!(step, Step::Sql(_)) {
                out.push(';');
            }
            out.push('\n');
        }
        out
    }
}

/// How a script run ended when it did not pass.
#[derive(Clone, Debug)]
pub struct Failure {
    /// What the oracle or the harness found.
    pub what: String,
    /// The tail of the worker's log.
    pub log_tail: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n---- worker log (tail) ----\n{}", self.what, self.log_tail)
    }
}

/// Statistics of a run that passed.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// SQL statements run.
    pub statements: usize,
    /// Of those, statements the source refused (duplicate keys, lock conflicts, …).
    pub refused: usize,
    /// Rows compared at the last `@compare`.
    pub rows_compared: usize,
    /// The first statements the source refused, with its error.
    pub refusals: Vec<String>,
}

/// How long a `@wait` or `@expect-failure` may take.
const WAIT: Duration = Duration::from_secs(90);

/// Runs `script` against `src` and `dst` as task `name`, with its files in `dir`. The databases
/// the script uses must not exist yet (see [`reset`]).
pub async fn run(src: &MariaDb, dst: &MariaDb, dir: &Path, name: &str, script: &Script) -> Result<Outcome, Failure> {
    let log = dir.join(format!("{name}.log"));
    let _ = std::fs::remove_file(&log);
    let mut state = State {
        src,
        dst,
        dir: dir.to_path_buf(),
        name: name.to_string(),
        objects: "[{database: fz}]".into(),
        spec: Vec::new(),
        ferry: None,
        log,
        started_at: 0,
        outcome: Outcome::default(),
        sessions: std::collections::BTreeMap::new(),
        current: 1,
    };
    let mut steps = script.steps.clone();
    if !matches!(steps.last(), Some(Step::ExpectFailure(_))) {
        if !steps.contains(&Step::Start) {
            steps.push(Step::Start);
        }
        steps.push(Step::Wait);
        steps.push(Step::Compare(Vec::new()));
    }
    let result = async {
        for step in &steps {
            state.step(step).await?;
        }
        Ok::<_, Failure>(())
    }
    .await;
    if let Some(mut f) = state.ferry.take() {
        f.kill9();
    }
    for (_, conn) in std::mem::take(&mut state.sessions) {
        let _ = conn.disconnect().await;
    }
    result.map(|_| state.outcome.clone())
}

struct State<'a> {
    src: &'a MariaDb,
    dst: &'a MariaDb,
    dir: PathBuf,
    name: String,
    objects: String,
    spec: Vec<String>,
    ferry: Option<Ferry>,
    log: PathBuf,
    /// Length of the log when the running worker started.
    started_at: u64,
    outcome: Outcome,
    sessions: std::collections::BTreeMap<u32, mysql_async::Conn>,
    current: u32,
}

impl State<'_> {
    fn failure(&self, what: String) -> Failure {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        // The whole log outlives the temp dir, for whoever looks into the failure.
        let kept = super::root().join("target/fuzz/logs");
        if std::fs::create_dir_all(&kept).is_ok() {
            let _ = std::fs::write(kept.join(format!("{}.log", self.name)), &log);
        }
        let lines: Vec<&str> = log.lines().collect();
        // The end of the log, and every warning or error before it (the reason a worker exited
        // is often further up than its last lines).
        let mut tail: Vec<&str> = lines[..lines.len().saturating_sub(30)]
            .iter()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
            .copied()
            .collect();
        tail.truncate(20);
        tail.extend(&lines[lines.len().saturating_sub(30)..]);
        let tail = tail.join("\n");
        Failure { what, log_tail: tail }
    }

    async fn step(&mut self, step: &Step) -> Result<(), Failure> {
        match step {
            Step::Sql(sql) => {
                self.outcome.statements += 1;
                if !self.sessions.contains_key(&self.current) {
                    let mut conn = self
                        .src
                        .pool
                        .get_conn()
                        .await
                        .map_err(|e| self.failure(format!("connect to the source: {e}")))?;
                    // A statement that waits for a lock a prepared XA transaction holds gives
                    // up soon: the script goes on (the source refused it).
                    conn.query_drop("SET SESSION innodb_lock_wait_timeout = 2, lock_wait_timeout = 5")
                        .await
                        .map_err(|e| self.failure(format!("set up a source session: {e}")))?;
                    self.sessions.insert(self.current, conn);
                }
                let Some(conn) = self.sessions.get_mut(&self.current) else {
                    unreachable!()
                };
                if let Err(e) = conn.query_drop(sql.as_str()).await {
                    self.outcome.refused += 1;
                    if self.outcome.refusals.len() < 10 {
                        self.outcome.refusals.push(format!("{sql}: {e}"));
                    }
                    if matches!(e, mysql_async::Error::Io(_) | mysql_async::Error::Driver(_)) {
                        self.sessions.remove(&self.current);
                    }
                }
            }
            Step::Session(n) => self.current = *n,
            Step::Disconnect => {
                if let Some(conn) = self.sessions.remove(&self.current) {
                    let id = conn.id();
                    let _ = conn.disconnect().await;
                    // Until the server has ended the session, its prepared XA transaction is
                    // still attached to it, and an XA COMMIT from another session fails.
                    let mut admin = self.src.pool.get_conn().await.map_err(|e| self.failure(format!("connect: {e}")))?;
                    for _ in 0..200 {
                        let alive: Option<u64> = admin
                            .exec_first("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", (id,))
                            .await
                            .unwrap_or(None);
                        if alive == Some(0) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(25)).await;
                    }
                }
                self.current = 1;
            }
            Step::Objects(o) => self.objects = o.clone(),
            Step::Spec(s) => self.spec.push(s.clone()),
            Step::Start => {
                if self.ferry.is_none() {
                    let extra: String = self.spec.iter().map(|s| format!("  {s}\n")).collect();
                    let file = task_file(&self.dir, &self.name, self.src, self.dst, &self.objects, &extra);
                    // `@wait` reads this run's log from here: the stored checkpoint is the
                    // last run's until this one has claimed the task and started.
                    self.started_at = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
                    self.ferry = Some(Ferry::spawn(&file, &self.log));
                }
            }
            Step::Kill => {
                if let Some(mut f) = self.ferry.take() {
                    f.kill9();
                }
            }
            Step::Stop => {
                if let Some(mut f) = self.ferry.take() {
                    let _ = std::process::Command::new("kill")
                        .args(["-TERM", &f.child.id().to_string()])
                        .status();
                    if f.wait(Duration::from_secs(60)).is_none() {
                        return Err(self.failure("the worker did not stop within 60 s of SIGTERM".into()));
                    }
                }
            }
            Step::Wait => self.wait().await?,
            Step::Compare(dbs) => {
                let dbs = if dbs.is_empty() { vec!["fz".to_string()] } else { dbs.clone() };
                let mut rows = 0;
                for db in dbs {
                    rows += oracle::compare_database(self.src, self.dst, &db).map_err(|e| self.failure(e))?;
                }
                self.outcome.rows_compared = rows;
            }
            Step::ExpectFailure(text) => {
                let Some(ferry) = self.ferry.as_mut() else {
                    return Err(self.failure("@expect-failure without a running worker".into()));
                };
                let status = ferry.wait(WAIT);
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                match status {
                    None => return Err(self.failure(format!("the worker did not stop; expected a failure with `{text}`"))),
                    Some(s) if s.success() => return Err(self.failure(format!("the worker exited 0; expected a failure with `{text}`"))),
                    Some(_) if !log.contains(text.as_str()) => {
                        return Err(self.failure(format!("the worker failed, but its log lacks `{text}`")));
                    }
                    Some(_) => {}
                }
                self.ferry = None;
            }
            Step::Sleep(ms) => tokio::time::sleep(Duration::from_millis(*ms)).await,
            Step::Destination(sql) => {
                let mut conn = self
                    .dst
                    .pool
                    .get_conn()
                    .await
                    .map_err(|e| self.failure(format!("destination: {e}")))?;
                conn.query_drop(sql.as_str())
                    .await
                    .map_err(|e| self.failure(format!("on the destination, `{sql}`: {e}")))?;
            }
        }
        Ok(())
    }

    /// Whether the running worker has finished copying and follows the binlog (its log says
    /// so since it started).
    fn following(&self) -> bool {
        let log = std::fs::read(&self.log).unwrap_or_default();
        let since = log.get(self.started_at as usize..).unwrap_or_default();
        String::from_utf8_lossy(since).contains("following the binlog")
    }

    /// Waits until the checkpoint has reached the binlog end; fails when the worker exits.
    async fn wait(&mut self) -> Result<(), Failure> {
        if self.ferry.is_none() {
            return Err(self.failure("@wait without a running worker".into()));
        }
        let (file, pos) = self.src.binlog_end().await;
        let task = format!("default/{}", self.name);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(f) = self.ferry.as_mut()
                && let Ok(Some(status)) = f.child.try_wait()
            {
                self.ferry = None;
                return Err(self.failure(format!("the worker exited ({status}) before catching up")));
            }
            if let Some(cp) = checkpoint(self.dst, &task).await {
                let cp_file = cp
                    .pointer("/position/file")
                    .and_then(|f| f.as_str())
                    .unwrap_or_default()
                    .to_string();
                let cp_pos = cp.pointer("/position/pos").and_then(|p| p.as_u64()).unwrap_or(0);
                let done = cp.get("fullDone").and_then(|d| d.as_bool()) == Some(true);
                if done && (cp_file > file || (cp_file == file && cp_pos >= pos)) && self.following() {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(self.failure(format!("the worker did not catch up with {file}:{pos} within {WAIT:?}")));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Drops the databases a script uses (and resolves XA transactions a script left prepared) on
/// both servers, so the next script starts clean.
pub async fn reset(src: &MariaDb, dst: &MariaDb, databases: &[&str]) {
    for server in [src, dst] {
        let mut conn = server.pool.get_conn().await.expect("connect");
        // A prepared XA transaction stays attached to its session until the server has
        // processed the session's disconnect: retry until none is left, or the next task
        // waits for it forever.
        for attempt in 0.. {
            let prepared: Vec<mysql_async::Row> = conn.query("XA RECOVER FORMAT='SQL'").await.unwrap_or_default();
            if prepared.is_empty() {
                break;
            }
            assert!(attempt < 100, "XA transactions stay prepared: {prepared:?}");
            for row in prepared {
                if let Some(xid) = row.get::<String, _>(3) {
                    let _ = conn.query_drop(format!("XA ROLLBACK {xid}")).await;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        for db in databases {
            let drop = format!("DROP DATABASE IF EXISTS `{db}`");
            let mut attempt = 0;
            while let Err(e) = conn.query_drop(&drop).await {
                // A session of the last script (a statement still waiting on a lock when it
                // was closed) can hold the database: end the sessions with a transaction open.
                attempt += 1;
                assert!(attempt < 5, "drop database {db}: {e}");
                let holders: Vec<u64> = conn
                    .query(
                        "SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id <> CONNECTION_ID() \
                         UNION SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO IS NOT NULL \
                         AND COMMAND = 'Query'",
                    )
                    .await
                    .unwrap_or_default();
                for id in holders {
                    let _ = conn.query_drop(format!("KILL {id}")).await;
                }
            }
        }
    }
}

/// Runs the script in `path` on a fresh pair of servers; panics with the failure.
pub async fn run_file(path: &str) {
    let full = super::root().join(path);
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {}: {e}", full.display()));
    let script = Script::parse(&text);
    let (src, dst) = tokio::join!(MariaDb::start(1), MariaDb::start(2));
    let dir = tempfile::tempdir().expect("tempdir");
    // A task name (a DNS label): the file's name, which may be a bare number (a fuzzer seed).
    let name = format!(
        "s-{}",
        full.file_stem().and_then(|s| s.to_str()).unwrap_or("script").replace('_', "-")
    );
    match run(&src, &dst, dir.path(), &name, &script).await {
        // A regression script states what the source does: a statement it refuses is a
        // mistake in the script, which would test less than it says.
        Ok(outcome) if outcome.refused > 0 && !script.lenient => {
            panic!("{path}: the source refused statements:\n{}", outcome.refusals.join("\n"))
        }
        Ok(outcome) => eprintln!("{path}: {} statements, {} rows compared", outcome.statements, outcome.rows_compared),
        Err(failure) => panic!("{path} failed:\n{failure}"),
    }
}
