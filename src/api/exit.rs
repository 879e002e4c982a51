//! What `ferry run` and `ferry worker` say with their exit code: the contract between a worker
//! Pod and the operator that reads its exit code (`ferry precheck` and `ferry verify` have
//! their own, documented with each verb).

/// How a run or a worker ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Stopped when asked (the checkpoint saved), or finished.
    Stopped,
    /// The task failed for good; the message (and a worker's status) says why and the remedy.
    Failed,
    /// Bad input: a task file, spec or flag that cannot run, or a task that is not there.
    Invalid,
    /// A precheck failed on a task that never started; the report says which.
    PrecheckFailed,
    /// Temporary (EX_TEMPFAIL): an end unreachable or the task's Lease lost. The operator
    /// relaunches the worker within `retry.connectionFailures`.
    Temporary,
    /// Aborted by a second Ctrl-C or SIGTERM, without waiting for the batch.
    Aborted,
}

impl Exit {
    /// Every ending.
    pub const ALL: [Exit; 6] = [
        Exit::Stopped,
        Exit::Failed,
        Exit::Invalid,
        Exit::PrecheckFailed,
        Exit::Temporary,
        Exit::Aborted,
    ];

    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Stopped => 0,
            Exit::Failed => 1,
            Exit::Invalid => 2,
            Exit::PrecheckFailed => 3,
            Exit::Temporary => 75,
            Exit::Aborted => 130,
        }
    }

    /// The ending an exit code says, if it is one of these.
    pub fn from_code(code: i32) -> Option<Exit> {
        Exit::ALL.into_iter().find(|e| i32::from(e.code()) == code)
    }

    /// What it means, for a status message.
    pub const fn meaning(self) -> &'static str {
        match self {
            Exit::Stopped => "stopped",
            Exit::Failed => "the task failed",
            Exit::Invalid => "the task cannot run as written",
            Exit::PrecheckFailed => "a precheck failed",
            Exit::Temporary => "an end was unreachable or the task's Lease was lost",
            Exit::Aborted => "aborted",
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back() {
        for exit in Exit::ALL {
            assert_eq!(Exit::from_code(i32::from(exit.code())), Some(exit));
        }
        assert_eq!(Exit::from_code(137), None, "killed: not one of ours");
    }
}
