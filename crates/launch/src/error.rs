//! The error type of the launch crate.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while starting, watching or ending a worker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchError {
    /// The worker's program (or thread) could not be started.
    #[error("could not start worker program '{program}': {source}")]
    Spawn {
        /// The program (for threads: the thread's name).
        program: String,
        /// Why: what the operating system said, or the launch function's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A log file, or the directory it goes in, could not be created.
    #[error("could not create log file {}: {source}", path.display())]
    LogFile {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A cluster scheduler refused a command (e.g. `sbatch` a job it cannot place).
    #[error("{command} refused: {reason}")]
    Refused {
        /// The command, e.g. "sbatch" or "scancel 42".
        command: String,
        /// What the scheduler said.
        reason: String,
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
    #[error("i/o error while {action} worker {worker_id}: {source}")]
    Io {
        /// What was being done, e.g. "waiting for".
        action: &'static str,
        /// The worker.
        worker_id: u64,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A signal could not be sent to a worker's process or process group.
    #[error("could not send {signal} to {target} of worker {worker_id}: {}", source.desc())]
    Signal {
        /// The signal, e.g. "SIGKILL".
        signal: String,
        /// The receiver, e.g. "process group 1234".
        target: String,
        /// The worker.
        worker_id: u64,
        /// What the operating system said.
        #[source]
        source: nix::errno::Errno,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_bad_values() {
        let spawn = LaunchError::Spawn {
            program: "no-such-program".into(),
            source: io::Error::from_raw_os_error(2).into(),
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
            source: io::Error::new(io::ErrorKind::PermissionDenied, "denied"),
        };
        assert_eq!(log.to_string(), "could not create log file /x/y: denied");
        let source = std::error::Error::source(&log).and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(
            source.map(io::Error::kind),
            Some(io::ErrorKind::PermissionDenied)
        );
        let signal = LaunchError::Signal {
            signal: "SIGKILL".into(),
            target: "process group 7".into(),
            worker_id: 3,
            source: nix::errno::Errno::EPERM,
        };
        assert_eq!(
            signal.to_string(),
            "could not send SIGKILL to process group 7 of worker 3: Operation not permitted"
        );
    }
}
