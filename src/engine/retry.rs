//! Errors of the data path and how they are retried.
//!
//! Every error carries a class decided by the code that raised it: a `Connection` failure
//! (lost connection, timeout, server restart) is retried within `retry.connectionFailures`,
//! an `Other` failure (a statement the destination rejects, a deadlock) within
//! `retry.otherFailures`, and a `Definite` one (purged binlog, unsupported type, a table
//! without a key, a fenced worker) stops the task at once with its remedy.

use std::time::Duration;

use rand::Rng;

/// How an error is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Retried within the connection-failure window.
    Connection,
    /// Retried within the other-failure window.
    Other,
    /// Not retried: the task fails with the remedy.
    Definite,
}

impl ErrorClass {
    /// Stable label for metrics and events.
    pub fn label(self) -> &'static str {
        match self {
            ErrorClass::Connection => "connection",
            ErrorClass::Other => "other",
            ErrorClass::Definite => "definite",
        }
    }
}

/// An error of the data path: what failed, on what, why, and what to do about it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}{}", remedy.as_ref().map(|r| format!(" — {r}")).unwrap_or_default())]
pub struct SyncError {
    pub class: ErrorClass,
    /// "failed to <do what> on <which object>: <cause>".
    pub message: String,
    /// What the user can do, for definite errors.
    pub remedy: Option<String>,
}

impl SyncError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
            remedy: None,
        }
    }

    /// A definite error with its remedy.
    pub fn definite(message: impl Into<String>, remedy: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::Definite,
            message: message.into(),
            remedy: Some(remedy.into()),
        }
    }

    /// Prefixes the message with what was being done: "failed to {what}: {message}".
    pub fn context(mut self, what: impl std::fmt::Display) -> Self {
        self.message = format!("failed to {what}: {}", self.message);
        self
    }
}

pub type SyncResult<T> = Result<T, SyncError>;

/// Capped exponential backoff with full jitter: 1 s, 2 s, 4 s … at most 60 s.
pub fn backoff(attempt: u32) -> Duration {
    let cap = 60_000u64;
    let ceiling = 1000u64.saturating_mul(1 << attempt.min(16)).min(cap);
    let millis = rand::rng().random_range(ceiling / 2..=ceiling);
    Duration::from_millis(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0) <= Duration::from_secs(1));
        assert!(backoff(3) >= Duration::from_secs(4));
        assert!(backoff(30) <= Duration::from_secs(60));
    }
}
