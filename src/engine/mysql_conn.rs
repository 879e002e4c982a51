//! The MySQL protocol as both ends use it: connection options from an endpoint and
//! credentials, and which server and driver errors are worth retrying.

use std::time::Duration;

use mysql_async::{Error, OptsBuilder, SslOpts};

use super::retry::{ErrorClass, SyncError};

/// Where and as whom to connect. `Debug` never shows the password.
#[derive(Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// `None`: plaintext.
    pub tls: Option<TlsSettings>,
}

/// TLS settings of an endpoint.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// PEM CA bundle; `None` accepts any certificate.
    pub ca_pem: Option<Vec<u8>>,
    /// Verify the host name too.
    pub verify_identity: bool,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}:{}", self.user, self.host, self.port)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl Endpoint {
    /// Connection options: TCP only, no connection reset on pool return (Lindorm has no
    /// COM_RESET_CONNECTION), bounded connect time.
    pub fn opts(&self) -> OptsBuilder {
        let mut builder = OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()))
            .prefer_socket(false)
            .stmt_cache_size(256)
            .wait_timeout(Some(28_800))
            .tcp_keepalive(Some(Duration::from_secs(30)));
        if let Some(tls) = &self.tls {
            let mut ssl = SslOpts::default()
                .with_danger_accept_invalid_certs(tls.ca_pem.is_none())
                .with_danger_skip_domain_validation(!tls.verify_identity);
            if let Some(ca) = &tls.ca_pem {
                ssl = ssl.with_root_certs(vec![ca.clone().into()]);
            }
            builder = builder.ssl_opts(Some(ssl));
        }
        builder
    }

    /// Opens one connection, within 30 s.
    pub async fn connect(&self) -> Result<mysql_async::Conn, SyncError> {
        self.connect_with(self.opts()).await
    }

    /// Opens one connection with `opts` (built from [`Endpoint::opts`]), within 30 s.
    pub async fn connect_with(&self, opts: OptsBuilder) -> Result<mysql_async::Conn, SyncError> {
        match tokio::time::timeout(Duration::from_secs(30), mysql_async::Conn::new(opts)).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(classify(&e).context(format!("connect to {self}"))),
            Err(_) => Err(SyncError::new(
                ErrorClass::Connection,
                format!("failed to connect to {self}: timed out after 30s"),
            )),
        }
    }
}

/// Classifies a driver or server error. The message never contains credentials.
pub fn classify(error: &Error) -> SyncError {
    let class = match error {
        Error::Io(_) => ErrorClass::Connection,
        Error::Driver(_) => ErrorClass::Connection,
        Error::Server(server) => match server.code {
            // Access denied: wrong credentials or missing privilege — not going to heal.
            1044 | 1045 | 1142 | 1143 | 1227 | 1370 => ErrorClass::Definite,
            // Binlog purged / unknown / replication protocol errors (ER_MASTER_FATAL_ERROR_READING_BINLOG).
            1236 => ErrorClass::Definite,
            // Too many connections, shutdown in progress, connection killed, query interrupted,
            // lock wait timeout, deadlock, server gone away, read-only during failover.
            1040 | 1053 | 1077 | 1152 | 1158..=1161 | 1205 | 1213 | 1317 | 1927 | 2006 | 2013 | 1290 | 1836 => ErrorClass::Connection,
            _ => ErrorClass::Other,
        },
        Error::Url(_) => ErrorClass::Definite,
        Error::Other(_) => ErrorClass::Other,
    };
    let mut err = SyncError::new(class, error.to_string());
    if let Error::Server(server) = error {
        err.remedy = match server.code {
            1045 => Some("check the username and password in the credentials Secret".into()),
            1044 | 1142 | 1143 | 1227 | 1370 => Some("grant the account the privileges listed in the README".into()),
            1236 => Some(
                "the binlog Ferry needs is not on this source: purged, or (after a failover) this server lacks the task's GTIDs. \
                 Point the endpoint at a server that has them; otherwise raise binlog retention and re-run the full sync \
                 (re-create the task, or delete its rows in the checkpoint table)"
                    .into(),
            ),
            _ => None,
        };
    }
    err
}

/// Quotes an identifier with backticks, doubling any backtick inside it.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `db`.`table`, quoted.
pub fn quote_table(id: &super::event::TableId) -> String {
    format!("{}.{}", quote_ident(&id.database), quote_ident(&id.table))
}

/// The wire value that writes `value` exactly into a MySQL column, assuming the session runs
/// with `time_zone = '+00:00'` and `NAMES utf8mb4`.
pub fn to_wire(value: &super::event::Value) -> mysql_async::Value {
    use super::event::Value as V;
    use mysql_async::Value as W;
    let date = |d: &super::event::DateTime| W::Date(d.year, d.month, d.day, d.hour, d.minute, d.second, d.micros);
    match value {
        V::Null => W::NULL,
        V::Int(i) => W::Int(*i),
        V::UInt(u) => W::UInt(*u),
        V::Float(f) => W::Float(*f),
        V::Double(d) => W::Double(*d),
        // The ENUM error value has no label to name it by: only its index writes it.
        V::Enum(0, _) => W::UInt(0),
        V::Decimal(s) | V::Text(s) | V::Json(s) | V::Enum(_, s) | V::Set(_, s) => W::Bytes(s.clone().into_bytes()),
        V::Bytes(b) => W::Bytes(b.clone()),
        V::Date(d) | V::DateTime(d) | V::Timestamp(d) => date(d),
        V::Time {
            negative,
            hours,
            minutes,
            seconds,
            micros,
        } => W::Time(*negative, hours / 24, (hours % 24) as u8, *minutes, *seconds, *micros),
        V::Year(y) => W::UInt(u64::from(*y)),
    }
}

/// The SQL literal that writes `value` exactly into a MySQL column, under the same session
/// settings as [`to_wire`] and without `NO_BACKSLASH_ESCAPES`.
pub fn sql_literal(value: &super::event::Value) -> String {
    let mut out = String::new();
    push_sql_literal(&mut out, value);
    out
}

/// Appends the literal of `value` to `out`: strings quoted with MySQL's escapes, binary data
/// as `X'…'`, dates and times quoted, FLOAT and DOUBLE in the shortest scientific form that
/// reads back to the same bits, DECIMAL as its exact text.
pub fn push_sql_literal(out: &mut String, value: &super::event::Value) {
    use std::fmt::Write as _;

    use super::event::Value as V;
    let date = |out: &mut String, d: &super::event::DateTime, with_time: bool| {
        let _ = write!(out, "'{:04}-{:02}-{:02}", d.year, d.month, d.day);
        if with_time {
            let _ = write!(out, " {:02}:{:02}:{:02}", d.hour, d.minute, d.second);
            if d.micros != 0 {
                let _ = write!(out, ".{:06}", d.micros);
            }
        }
        out.push('\'');
    };
    match value {
        V::Null => out.push_str("NULL"),
        V::Int(i) => {
            let _ = write!(out, "{i}");
        }
        V::UInt(u) => {
            let _ = write!(out, "{u}");
        }
        V::Year(y) => {
            let _ = write!(out, "{y}");
        }
        // The exact value of the 32 bits as a DOUBLE literal: the shortest decimal that reads
        // back as the same FLOAT can lie just outside FLOAT's range when read as a DOUBLE
        // (3.4028235e38 > FLT_MAX), which a strict session refuses.
        V::Float(f) if f.is_finite() => {
            let _ = write!(out, "{:e}", f64::from(*f));
        }
        V::Double(d) if d.is_finite() => {
            let _ = write!(out, "{d:e}");
        }
        // Not produced by MySQL; the server will refuse the text rather than store a guess.
        V::Float(_) | V::Double(_) => out.push_str(&to_wire(value).as_sql(false)),
        // The ENUM error value has no label to name it by: only its index writes it (which a
        // strict session refuses: see the mysql sink's `relaxed` statements).
        V::Enum(0, _) => out.push('0'),
        V::Decimal(s) | V::Text(s) | V::Json(s) | V::Enum(_, s) | V::Set(_, s) => push_quoted(out, s),
        V::Bytes(b) => {
            out.push_str("X'");
            for byte in b {
                let _ = write!(out, "{byte:02X}");
            }
            out.push('\'');
        }
        V::Date(d) => {
            let with_time = d.hour != 0 || d.minute != 0 || d.second != 0 || d.micros != 0;
            date(out, d, with_time)
        }
        V::DateTime(d) | V::Timestamp(d) => date(out, d, true),
        V::Time {
            negative,
            hours,
            minutes,
            seconds,
            micros,
        } => {
            let sign = if *negative { "-" } else { "" };
            let _ = write!(out, "'{sign}{hours:02}:{minutes:02}:{seconds:02}.{micros:06}'");
        }
    }
}

/// A single-quoted string with MySQL's backslash escapes. Every escaped character is ASCII,
/// so the text is copied in runs between them.
fn push_quoted(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('\'');
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            0 => "\\0",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\\' => "\\\\",
            b'\'' => "\\'",
            b'"' => "\\\"",
            0x1a => "\\Z",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        out.push_str(escape);
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('\'');
}
