//! A worker that is an OS process in its own process group; shared by the process-based
//! launchers.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::sys::wait::{self, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::{LaunchError, WorkerExit, WorkerHandle, WorkerSpec, log_file_paths};

/// Starts `command` as the worker described by `spec`.
///
/// Sets `DAISY_CONTEXT`, puts the process in a new process group, gives it a null stdin and
/// redirects its stdout / stderr to the log files (file-descriptor level, so everything the
/// worker starts writes there too), or lets it inherit them when `spec.log_basename` is None.
/// `program` names the program in errors.
pub(crate) fn spawn_worker(
    mut command: Command,
    program: &str,
    spec: &WorkerSpec,
) -> Result<ProcessHandle, LaunchError> {
    command
        .env(daisy_protocol::ENV_VARIABLE, spec.context.to_env())
        .stdin(Stdio::null())
        .process_group(0);
    let log_files = match &spec.log_basename {
        Some(basename) => {
            let (out, err) = log_file_paths(basename);
            command.stdout(create_log_file(&out)?);
            command.stderr(create_log_file(&err)?);
            Some((out, err))
        }
        None => {
            command.stdout(Stdio::inherit()).stderr(Stdio::inherit());
            None
        }
    };
    let child = command.spawn().map_err(|e| LaunchError::Spawn {
        program: program.to_owned(),
        error: e.to_string(),
    })?;
    tracing::debug!(
        task_id = %spec.task_id,
        worker_id = spec.worker_id,
        pid = child.id(),
        program,
        "started worker process"
    );
    Ok(ProcessHandle {
        worker_id: spec.worker_id,
        child,
        log_files,
        exit: None,
        reaped: false,
    })
}

/// Creates (truncating) a log file and its parent directories.
fn create_log_file(path: &Path) -> Result<File, LaunchError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| LaunchError::LogFile {
            path: parent.to_path_buf(),
            error: e.to_string(),
        })?;
    }
    File::create(path).map_err(|e| LaunchError::LogFile {
        path: path.to_path_buf(),
        error: e.to_string(),
    })
}

/// A worker process, leader of its own process group.
///
/// The group id is the leader's pid. The leader is reaped only by [`kill`](WorkerHandle::kill)
/// (or drop): [`try_wait`](WorkerHandle::try_wait) looks at its exit without reaping it
/// (`waitid` with `WNOWAIT`), so an ended leader stays a zombie that keeps its pid, and with it
/// the group id, from being handed to another process. Signalling the group therefore reaches
/// only what this worker started, however long the handle is kept.
#[derive(Debug)]
pub(crate) struct ProcessHandle {
    worker_id: u64,
    child: Child,
    log_files: Option<(PathBuf, PathBuf)>,
    /// Set once the leader is known to have ended.
    exit: Option<WorkerExit>,
    /// Set once the leader has been reaped (after its group was sent SIGKILL).
    reaped: bool,
}

impl ProcessHandle {
    fn nix_pid(&self) -> Result<Pid, LaunchError> {
        let pid = i32::try_from(self.child.id()).map_err(|_| LaunchError::Io {
            action: "looking up",
            worker_id: self.worker_id,
            error: format!("process id {} out of range", self.child.id()),
        })?;
        Ok(Pid::from_raw(pid))
    }

    fn io_error(&self, action: &'static str, error: impl ToString) -> LaunchError {
        LaunchError::Io {
            action,
            worker_id: self.worker_id,
            error: error.to_string(),
        }
    }

    /// Looks at the leader's state without reaping it.
    fn peek(&self) -> Result<Option<WorkerExit>, LaunchError> {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        let pid = self.nix_pid()?;
        let status = loop {
            match wait::waitid(Id::Pid(pid), flags) {
                Err(Errno::EINTR) => {}
                Ok(status) => break status,
                Err(errno) => return Err(self.io_error("checking on", errno.desc())),
            }
        };
        Ok(match status {
            WaitStatus::Exited(_, 0) => Some(WorkerExit::Success),
            WaitStatus::Exited(_, code) => Some(WorkerExit::Failed {
                code: Some(code),
                signal: None,
            }),
            WaitStatus::Signaled(_, signal, _) => Some(WorkerExit::Failed {
                code: None,
                signal: Some(signal as i32),
            }),
            _ => None,
        })
    }

    /// Sends SIGKILL to the process group, then to the leader (in case it left its group);
    /// a receiver that is already gone is fine. Only called before the leader is reaped.
    fn kill_group(&self) -> Result<(), LaunchError> {
        let pid = self.nix_pid()?;
        let signal_error = |target: String, errno: Errno| LaunchError::Signal {
            signal: "SIGKILL".into(),
            target,
            worker_id: self.worker_id,
            error: errno.desc().to_owned(),
        };
        match signal::killpg(pid, Signal::SIGKILL) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(errno) => return Err(signal_error(format!("process group {pid}"), errno)),
        }
        match signal::kill(pid, Signal::SIGKILL) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(errno) => Err(signal_error(format!("process {pid}"), errno)),
        }
    }
}

impl WorkerHandle for ProcessHandle {
    fn worker_id(&self) -> u64 {
        self.worker_id
    }

    fn try_wait(&mut self) -> Result<Option<WorkerExit>, LaunchError> {
        if self.exit.is_none() {
            self.exit = self.peek()?;
            if let Some(exit) = self.exit {
                tracing::debug!(worker_id = self.worker_id, %exit, "worker process ended");
            }
        }
        Ok(self.exit)
    }

    /// Sends SIGKILL to the worker's process group and reaps the worker.
    ///
    /// On a worker that has already ended, the group is still sent SIGKILL (once), which ends
    /// whatever the worker left running in it (e.g. `sleep 1000 &`); the exit returned is the
    /// worker's own.
    fn kill(&mut self) -> Result<WorkerExit, LaunchError> {
        if !self.reaped {
            self.kill_group()?;
            let status = self
                .child
                .wait()
                .map_err(|e| self.io_error("waiting for", e))?;
            self.reaped = true;
            if self.exit.is_none() {
                let exit = WorkerExit::from(status);
                tracing::debug!(worker_id = self.worker_id, %exit, "worker process killed");
                self.exit = Some(exit);
            }
        }
        self.exit
            .ok_or_else(|| self.io_error("waiting for", "no exit status after reaping"))
    }

    fn log_files(&self) -> Option<(PathBuf, PathBuf)> {
        self.log_files.clone()
    }

    fn pid(&self) -> Option<u32> {
        Some(self.child.id())
    }
}

impl Drop for ProcessHandle {
    /// Kills the worker's process group and reaps the worker, unless that was done already.
    fn drop(&mut self) {
        if !self.reaped {
            if let Err(error) = self.kill() {
                tracing::warn!(worker_id = self.worker_id, %error, "could not kill worker on drop");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_file_under_a_file_names_the_directory() {
        let dir = std::env::temp_dir().join(format!("daisy-launch-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plain");
        fs::write(&file, "x").unwrap();
        let err = create_log_file(&file.join("sub").join("worker_0.out")).unwrap_err();
        match err {
            LaunchError::LogFile { path, .. } => assert_eq!(path, file.join("sub")),
            other => panic!("unexpected error {other}"),
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
