//! The error type of the launch crate.

use std::path::PathBuf;

/// Everything that can go wrong while starting, watching or ending a worker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchError {
    /// The worker's program (or thread) could not be started.
    #[error("could not start worker program '{program}': {error}")]
    Spawn {
        /// The program (for threads: the thread's name).
        program: String,
        /// What the operating system said.
        error: String,
    },
    /// A log file, or the directory it goes in, could not be created.
    #[error("could not create log file {}: {error}", path.display())]
    LogFile {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        error: String,
    },
    /// A command template is malformed or names an unknown placeholder.
    #[error("bad command template '{template}': {problem}")]
    Template {
        /// The template as given.
        template: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Waiting for or inspecting a worker failed.
    #[error("i/o error while {action} worker {worker_id}: {error}")]
    Io {
        /// What was being done, e.g. "waiting for".
        action: &'static str,
        /// The worker.
        worker_id: u64,
        /// What the operating system said.
        error: String,
    },
    /// A signal could not be sent to a worker's process or process group.
    #[error("could not send {signal} to {target} of worker {worker_id}: {error}")]
    Signal {
        /// The signal, e.g. "SIGKILL".
        signal: String,
        /// The receiver, e.g. "process group 1234".
        target: String,
        /// The worker.
        worker_id: u64,
        /// What the operating system said.
        error: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_bad_values() {
        let spawn = LaunchError::Spawn {
            program: "no-such-program".into(),
            error: "No such file or directory (os error 2)".into(),
        };
        assert_eq!(
            spawn.to_string(),
            "could not start worker program 'no-such-program': No such file or directory (os error 2)"
        );
        let template = LaunchError::Template {
            template: "run {nope}".into(),
            problem: "unknown placeholder {nope}".into(),
        };
        assert_eq!(
            template.to_string(),
            "bad command template 'run {nope}': unknown placeholder {nope}"
        );
        let log = LaunchError::LogFile {
            path: PathBuf::from("/x/y"),
            error: "denied".into(),
        };
        assert_eq!(log.to_string(), "could not create log file /x/y: denied");
    }
}
