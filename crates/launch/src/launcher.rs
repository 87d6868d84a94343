//! The `Launcher` trait, what it is given (`WorkerSpec`) and what it returns (`WorkerHandle`).

use std::ffi::OsString;
use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use crate::LaunchError;

/// Starts workers for tasks.
///
/// The server calls [`launch`](Launcher::launch) whenever a task's pool needs a worker
/// (docs/semantics.md#the-distributed-run, #worker-restarts) and watches the returned [`WorkerHandle`].
/// It calls it on a thread of the launch's own, never on its event loop, so `launch` may block
/// (e.g. to submit a cluster job); a task has one launch running at a time, and never more
/// workers than its `num_workers` or than blocks left.
pub trait Launcher: Send + Sync {
    /// Starts one worker. `spec.context` is the worker's context; it must reach the worker as
    /// the DAISY_CONTEXT environment variable (processes) or as an argument (threads).
    ///
    /// # Errors
    ///
    /// A [`LaunchError`] if the worker could not be started or its log files not created.
    fn launch(&self, spec: &WorkerSpec) -> Result<Box<dyn WorkerHandle>, LaunchError>;

    /// A name for logs, e.g. "threads", "processes", "command template".
    fn name(&self) -> &str;
}

/// Everything a [`Launcher`] needs to start one worker.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    /// The task the worker serves.
    pub task_id: String,
    /// The worker's id (docs/semantics.md#workers-and-daisy_context), also in `context` as `worker_id`.
    pub worker_id: u64,
    /// The worker's context: where the server is, the task, the worker id and the run token.
    pub context: daisy_protocol::Context,
    /// `<logdir>/<task_id>/worker_<worker_id>` (without extension), or None to not redirect.
    pub log_basename: Option<PathBuf>,
}

/// A started worker.
///
/// Dropping the handle of a process worker that is still running kills its process group, so
/// a server that goes away leaves no orphaned workers behind.
pub trait WorkerHandle: Send {
    /// The worker's id.
    fn worker_id(&self) -> u64;

    /// Non-blocking: `Some(exit)` once the worker has ended (reaped).
    ///
    /// # Errors
    ///
    /// [`LaunchError::Io`] if the operating system cannot tell the worker's state.
    fn try_wait(&mut self) -> Result<Option<WorkerExit>, LaunchError>;

    /// Ends the worker and everything it started (its process group), then reaps it.
    /// Idempotent: on an ended worker it returns the exit it had.
    ///
    /// # Errors
    ///
    /// [`LaunchError::Signal`] if the worker could not be signalled, [`LaunchError::Io`] if it
    /// could not be reaped.
    fn kill(&mut self) -> Result<WorkerExit, LaunchError>;

    /// The `.out` and `.err` files, if output is redirected.
    fn log_files(&self) -> Option<(PathBuf, PathBuf)>;

    /// The OS process id, if the worker is a process.
    fn pid(&self) -> Option<u32>;

    /// Why the worker failed, in the words of what ran it, once it has ended and if that
    /// says more than its exit (e.g. a cluster job that timed out, or never started).
    fn failure_reason(&self) -> Option<String> {
        None
    }
}

/// How a worker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerExit {
    /// Exit code 0 (or a thread whose function returned Ok).
    Success,
    /// Non-zero code, killed by a signal, or a thread that returned Err / panicked.
    Failed {
        /// The exit code, if the worker exited by itself.
        code: Option<i32>,
        /// The signal that ended the worker, if any.
        signal: Option<i32>,
    },
}

impl WorkerExit {
    /// Whether the worker ended with success (docs/semantics.md#worker-restarts: such a worker is not replaced
    /// while another worker of its task is alive).
    #[must_use]
    pub fn is_success(self) -> bool {
        self == Self::Success
    }
}

impl From<ExitStatus> for WorkerExit {
    /// Code 0 is success; any other code, or a signal, is a failure.
    fn from(status: ExitStatus) -> Self {
        match status.code() {
            Some(0) => Self::Success,
            Some(code) => Self::Failed {
                code: Some(code),
                signal: None,
            },
            None => Self::Failed {
                code: None,
                signal: status.signal(),
            },
        }
    }
}

impl fmt::Display for WorkerExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Success => f.write_str("success"),
            Self::Failed {
                code: Some(code), ..
            } => write!(f, "failed with exit code {code}"),
            Self::Failed {
                signal: Some(signal),
                ..
            } => write!(f, "killed by signal {signal}"),
            Self::Failed { .. } => f.write_str("failed"),
        }
    }
}

/// The log basename of a worker: `<logdir>/<task_id>/worker_<worker_id>` (docs/semantics.md#workers-and-daisy_context).
///
/// ```
/// use std::path::Path;
/// use daisy_launch::log_basename;
///
/// assert_eq!(log_basename(Path::new("daisy_logs"), "A", 3), Path::new("daisy_logs/A/worker_3"));
/// ```
#[must_use]
pub fn log_basename(logdir: &Path, task_id: &str, worker_id: u64) -> PathBuf {
    logdir.join(task_id).join(format!("worker_{worker_id}"))
}

/// The `.out` and `.err` files of a log basename: `<basename>.out`, `<basename>.err`.
///
/// The suffix is appended, never substituted, so a basename containing a dot keeps it.
///
/// ```
/// use std::path::Path;
/// use daisy_launch::log_file_paths;
///
/// let (out, err) = log_file_paths(Path::new("daisy_logs/A/worker_3"));
/// assert_eq!(out, Path::new("daisy_logs/A/worker_3.out"));
/// assert_eq!(err, Path::new("daisy_logs/A/worker_3.err"));
/// ```
#[must_use]
pub fn log_file_paths(basename: &Path) -> (PathBuf, PathBuf) {
    let with = |suffix: &str| {
        let mut path = OsString::from(basename.as_os_str());
        path.push(suffix);
        PathBuf::from(path)
    };
    (with(".out"), with(".err"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_paths() {
        let dir = Path::new("/tmp/logs");
        assert_eq!(
            log_basename(dir, "A", 3),
            PathBuf::from("/tmp/logs/A/worker_3")
        );
        let (out, err) = log_file_paths(Path::new("logs/task.v2/worker_0"));
        assert_eq!(out, PathBuf::from("logs/task.v2/worker_0.out"));
        assert_eq!(err, PathBuf::from("logs/task.v2/worker_0.err"));
    }

    #[test]
    fn exit_status_mapping() {
        assert_eq!(
            WorkerExit::from(ExitStatus::from_raw(0)),
            WorkerExit::Success
        );
        assert_eq!(
            WorkerExit::from(ExitStatus::from_raw(3 << 8)),
            WorkerExit::Failed {
                code: Some(3),
                signal: None
            }
        );
        assert_eq!(
            WorkerExit::from(ExitStatus::from_raw(9)),
            WorkerExit::Failed {
                code: None,
                signal: Some(9)
            }
        );
        assert!(WorkerExit::Success.is_success());
        assert_eq!(
            WorkerExit::Failed {
                code: Some(3),
                signal: None
            }
            .to_string(),
            "failed with exit code 3"
        );
        assert_eq!(
            WorkerExit::Failed {
                code: None,
                signal: Some(9)
            }
            .to_string(),
            "killed by signal 9"
        );
    }
}
