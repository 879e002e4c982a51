//! Test harness: private MariaDB servers (through `scripts/mariadb.sh`, the same flags `make
//! demo` uses), task files, `ferry` processes, and row-by-row comparison of two servers.

#![allow(dead_code)]

pub mod k8s;

pub mod load;

pub mod proxy;

pub mod oracle;

pub mod script;

pub mod fuzz;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use mysql_async::{Pool, Row, Value, prelude::Queryable};

/// Repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// A private MariaDB server in a temp dir, stopped and removed on drop.
pub struct MariaDb {
    pub port: u16,
    pub server_id: u32,
    dir: tempfile::TempDir,
    pub pool: Pool,
    tls: bool,
    args: String,
}

impl MariaDb {
    /// Starts a server with binlog ROW / FULL / FULL metadata and GTID strict mode.
    pub async fn start(server_id: u32) -> MariaDb {
        Self::start_with(server_id, false)
    }

    /// Like [`MariaDb::start`], taking TLS 1.2 connections only (as Lindorm does).
    pub async fn start_tls(server_id: u32) -> MariaDb {
        Self::start_with(server_id, true)
    }

    /// Like [`MariaDb::start`], with extra server options (`--skip-log-bin`).
    pub async fn start_args(server_id: u32, args: &str) -> MariaDb {
        Self::start_inner(server_id, false, args)
    }

    fn start_with(server_id: u32, tls: bool) -> MariaDb {
        Self::start_inner(server_id, tls, "")
    }

    fn start_inner(server_id: u32, tls: bool, args: &str) -> MariaDb {
        let dir = tempfile::Builder::new().prefix("ferry-mariadb-").tempdir().expect("temp dir");
        let port = free_port();
        let mut url = format!("mysql://ferry:ferry-pass@127.0.0.1:{port}/?prefer_socket=false&pool_min=0&pool_max=20");
        if tls {
            url.push_str("&require_ssl=true&verify_ca=false&verify_identity=false");
        }
        let db = MariaDb {
            port,
            server_id,
            pool: Pool::new(url.as_str()),
            dir,
            tls,
            args: args.to_string(),
        };
        db.start_process();
        db
    }

    fn start_process(&self) {
        let status = Command::new(root().join("scripts/mariadb.sh"))
            .env("MARIADB_TLS", if self.tls { "1" } else { "0" })
            .env("MARIADB_EXTRA_ARGS", &self.args)
            .args([
                "start",
                &self.dir.path().display().to_string(),
                &self.port.to_string(),
                &self.server_id.to_string(),
            ])
            .status()
            .expect("run scripts/mariadb.sh");
        assert!(status.success(), "MariaDB did not start (see scripts/mariadb.sh output above)");
    }

    /// Stops the server (clean shutdown).
    pub fn stop(&self) {
        let _ = Command::new(root().join("scripts/mariadb.sh"))
            .args(["stop", &self.dir.path().display().to_string()])
            .status();
    }

    /// Starts the stopped server again, same data, same port.
    pub fn restart(&self) {
        self.start_process();
    }

    /// Runs statements (text protocol).
    pub async fn exec(&self, sql: &str) {
        let mut conn = self.pool.get_conn().await.expect("connect");
        conn.query_drop(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// First column of the first row.
    pub async fn scalar<T: mysql_async::prelude::FromValue + Send + 'static>(&self, sql: &str) -> T {
        let mut conn = self.pool.get_conn().await.expect("connect");
        conn.query_first(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")).expect("a row")
    }

    /// `(file, position)` of the binlog end.
    pub async fn binlog_end(&self) -> (String, u64) {
        let mut conn = self.pool.get_conn().await.expect("connect");
        let row: Row = conn
            .query_first("SHOW MASTER STATUS")
            .await
            .expect("master status")
            .expect("binlog on");
        (row.get(0).expect("file"), row.get(1).expect("pos"))
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Writes a task file for `objects` (YAML flow list) from `src` to `dst`; `extra` is appended
/// to the spec (YAML lines indented by two spaces).
pub fn task_file(dir: &Path, name: &str, src: &MariaDb, dst: &MariaDb, objects: &str, extra: &str) -> PathBuf {
    task_file_to(dir, name, src, dst, "type: mysql", objects, extra)
}

/// Like [`task_file`], with the destination's `type` and further settings given as YAML flow
/// entries (`type: lindorm, tls: {mode: required}`).
pub fn task_file_to(dir: &Path, name: &str, src: &MariaDb, dst: &MariaDb, destination: &str, objects: &str, extra: &str) -> PathBuf {
    let text = format!(
        "apiVersion: ferry.dev/v1alpha1\nkind: SyncTask\nmetadata: {{name: {name}}}\nspec:\n  \
         source: {{host: 127.0.0.1, port: {}, credentialsSecret: {{name: src}}}}\n  \
         destination: {{{destination}, host: 127.0.0.1, port: {}, credentialsSecret: {{name: dst}}}}\n  \
         objects: {objects}\n{extra}---\napiVersion: v1\nkind: Secret\nmetadata: {{name: src}}\n\
         stringData: {{username: ferry, password: ferry-pass}}\n---\napiVersion: v1\nkind: Secret\n\
         metadata: {{name: dst}}\nstringData: {{username: ferry, password: ferry-pass}}\n",
        src.port, dst.port
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).expect("write task file");
    path
}

/// A `ferry run` process; killed on drop.
pub struct Ferry {
    pub child: Child,
    pub log: PathBuf,
}

impl Ferry {
    /// Starts `ferry run -f file`, logging to `log` (appended).
    pub fn spawn(file: &Path, log: &Path) -> Ferry {
        Self::spawn_metrics(file, log, "off")
    }

    /// Like [`Ferry::spawn`], serving `/metrics` on `metrics_addr`.
    pub fn spawn_metrics(file: &Path, log: &Path, metrics_addr: &str) -> Ferry {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("open log");
        let child = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["run", "-f", &file.display().to_string(), "--plain", "--metrics-addr", metrics_addr])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("spawn ferry");
        Ferry {
            child,
            log: log.to_path_buf(),
        }
    }

    /// SIGKILL, no chance to save anything.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for exit, at most `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// Peak resident set size so far, from /proc.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// A guard that prints this worker's log if the test panics while it is alive.
    pub fn keep_log_on_panic(&self) -> LogOnPanic {
        LogOnPanic(self.log.clone())
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Prints a worker log when dropped during a panic.
pub struct LogOnPanic(PathBuf);

impl Drop for LogOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- ferry log {} ----\n{}",
                self.0.display(),
                std::fs::read_to_string(&self.0).unwrap_or_default()
            );
        }
    }
}

impl Drop for Ferry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The stored checkpoint state of `task` in `dst`, if any.
pub async fn checkpoint(dst: &MariaDb, task: &str) -> Option<serde_json::Value> {
    let mut conn = dst.pool.get_conn().await.ok()?;
    let state: Option<String> = conn
        .exec_first(
            "SELECT state FROM ferry.ferry_checkpoint WHERE task = ? ORDER BY epoch DESC LIMIT 1",
            (task,),
        )
        .await
        .ok()?;
    state.and_then(|s| serde_json::from_str(&s).ok())
}

/// Waits until the checkpoint of `task` has reached the source's binlog end.
pub async fn wait_caught_up(src: &MariaDb, dst: &MariaDb, task: &str, timeout: Duration) {
    let (file, pos) = src.binlog_end().await;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(cp) = checkpoint(dst, task).await {
            let cp_file = cp
                .pointer("/position/file")
                .and_then(|f| f.as_str())
                .unwrap_or_default()
                .to_string();
            let cp_pos = cp.pointer("/position/pos").and_then(|p| p.as_u64()).unwrap_or(0);
            if cp.get("fullDone").and_then(|d| d.as_bool()) == Some(true) && (cp_file > file || (cp_file == file && cp_pos >= pos)) {
                return;
            }
        }
        if Instant::now() >= deadline {
            let cp = checkpoint(dst, task).await;
            panic!("task {task} did not catch up with {file}:{pos} within {timeout:?}; its checkpoint: {cp:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Rows of `db.table` ordered by its primary key, all columns, binary protocol, UTC session.
async fn rows(server: &MariaDb, db: &str, table: &str) -> (Vec<String>, Vec<Vec<Value>>) {
    let mut conn = server.pool.get_conn().await.expect("connect");
    conn.query_drop("SET time_zone = '+00:00'").await.expect("tz");
    let key: Vec<String> = conn
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 \
             AND INDEX_NAME = (SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 \
             ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME LIMIT 1) \
             ORDER BY SEQ_IN_INDEX",
            (db, table, db, table),
        )
        .await
        .expect("key");
    let columns: Vec<String> = conn
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (db, table),
        )
        .await
        .expect("columns");
    let q = |s: &str| format!("`{}`", s.replace('`', "``"));
    let order: Vec<String> = key.iter().map(|k| q(k)).collect();
    let select: Vec<String> = columns.iter().map(|c| q(c)).collect();
    let sql = format!(
        "SELECT {} FROM {}.{} ORDER BY {}",
        select.join(", "),
        q(db),
        q(table),
        order.join(", ")
    );
    let rows: Vec<Row> = conn.exec(sql, ()).await.expect("select rows");
    (columns, rows.into_iter().map(Row::unwrap).collect())
}

/// Asserts that `db.table` holds exactly the same rows, on every column, on both servers.
pub async fn assert_same_rows(src: &MariaDb, dst: &MariaDb, db: &str, table: &str) -> usize {
    let (src_cols, src_rows) = rows(src, db, table).await;
    let (dst_cols, dst_rows) = rows(dst, db, table).await;
    assert_eq!(src_cols, dst_cols, "columns of {db}.{table} differ");
    for (i, (a, b)) in src_rows.iter().zip(&dst_rows).enumerate() {
        assert_eq!(a, b, "{db}.{table}: row {i} differs (source first)");
    }
    assert_eq!(src_rows.len(), dst_rows.len(), "{db}.{table}: row counts differ");
    src_rows.len()
}

/// Runs `f` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !f().await {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every row of `sql` (binary protocol, UTC session).
pub async fn query_rows(server: &MariaDb, sql: &str) -> Vec<Vec<Value>> {
    let mut conn = server.pool.get_conn().await.expect("connect");
    conn.query_drop("SET time_zone = '+00:00'").await.expect("tz");
    let rows: Vec<Row> = conn.exec(sql, ()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter().map(Row::unwrap).collect()
}

/// Column names of `db.table`, in order.
pub async fn columns_of(server: &MariaDb, db: &str, table: &str) -> Vec<String> {
    let mut conn = server.pool.get_conn().await.expect("connect");
    conn.exec(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
        (db, table),
    )
    .await
    .expect("columns")
}

/// The value of the metric series `name` (first match) from `/metrics` at `addr`.
pub fn metric(addr: &str, name: &str) -> Option<f64> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Runs `ferry <verb> -f file args…`: (exit code, stdout); stderr is printed.
pub fn ferry_cli(verb: &str, file: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([verb, "-f", &file.display().to_string()])
        .args(args)
        .output()
        .expect("run ferry");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string())
}

/// Waits until the checkpoint of `task` holds every GTID `primary` has logged (per domain, a
/// sequence number at least the primary's): the way to wait across a switchover, where binlog
/// file names and offsets belong to different servers.
pub async fn wait_caught_up_gtid(primary: &MariaDb, dst: &MariaDb, task: &str, timeout: Duration) {
    let want: String = primary.scalar("SELECT @@GLOBAL.gtid_binlog_pos").await;
    let want: Vec<(String, u64)> = want
        .split(',')
        .filter_map(|g| {
            let mut p = g.trim().split('-');
            let domain = p.next()?.to_string();
            let seq = p.nth(1)?.parse().ok()?;
            Some((domain, seq))
        })
        .collect();
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(cp) = checkpoint(dst, task).await {
            let done = cp.get("fullDone").and_then(|d| d.as_bool()) == Some(true)
                && want.iter().all(|(domain, seq)| {
                    cp.pointer(&format!("/position/gtid/mariaDb/{domain}/1"))
                        .and_then(|s| s.as_u64())
                        .is_some_and(|s| s >= *seq)
                });
            if done {
                return;
            }
        }
        if Instant::now() >= deadline {
            let cp = checkpoint(dst, task).await;
            panic!("task {task} did not reach GTID {want:?} within {timeout:?}; its checkpoint: {cp:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The task-file corpus of `tests/task_files/` (see `tests/task_files.rs`): (path, expect
/// valid, message fragment, kubectl accepts).
pub fn corpus() -> Vec<(PathBuf, bool, String, bool)> {
    let dir = root().join("tests/task_files");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/task_files")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read");
            let field = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(&format!("# {name}: ")))
                    .unwrap_or_else(|| panic!("{}: no `# {name}:` line", path.display()))
                    .to_string()
            };
            let valid = field("expect") == "valid";
            let kubectl = field("kubectl") == "accepts";
            let fragment = field("fragment");
            (path, valid, fragment, kubectl)
        })
        .collect()
}
