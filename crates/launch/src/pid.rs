//! A worker that some other code started as a child process of this one, known by its pid.
//!
//! The Python package starts workers with `os.fork()` (a launcher callback written in Python)
//! and hands the engine the child's pid; [`PidHandle`] then watches and ends that child as
//! [`crate::ProcessLauncher`]'s handles do for the processes they spawn.

use std::path::PathBuf;

use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::sys::wait::{self, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::{LaunchError, WorkerExit, WorkerHandle};

/// A worker process given by its pid: a child of this process, leader of its own process group.
///
/// Like the handles of [`crate::ProcessLauncher`], [`try_wait`](WorkerHandle::try_wait) looks
/// at the child's exit without reaping it (`waitid` with `WNOWAIT`), so the ended child stays a
/// zombie that keeps its pid, and with it the group id, from being reused; only
/// [`kill`](WorkerHandle::kill) (or dropping the handle) sends SIGKILL to the group and reaps
/// the child. If someone else reaped the child first (`ECHILD`), the handle reports it ended
/// with an unknown status and never signals that pid again.
///
/// ```
/// use std::os::unix::process::CommandExt;
/// use daisy_launch::{PidHandle, WorkerExit, WorkerHandle};
///
/// let child = std::process::Command::new("sleep").arg("100").process_group(0).spawn()?;
/// let mut worker = PidHandle::new(7, child.id(), None)?;
/// assert_eq!(worker.try_wait()?, None);
/// let exit = worker.kill()?;
/// assert_eq!(exit, WorkerExit::Failed { code: None, signal: Some(9) });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PidHandle {
    worker_id: u64,
    pid: Pid,
    log_files: Option<(PathBuf, PathBuf)>,
    /// Set once the child is known to have ended.
    exit: Option<WorkerExit>,
    /// Set once the child has been reaped (by us, or by someone else: `ECHILD`).
    reaped: bool,
}

impl PidHandle {
    /// Watches the child process `pid` as worker `worker_id`, whose output goes to `log_files`
    /// (`.out`, `.err`) if given.
    ///
    /// # Errors
    ///
    /// [`LaunchError::Io`] if `pid` is 0 or beyond the range of process ids.
    pub fn new(
        worker_id: u64,
        pid: u32,
        log_files: Option<(PathBuf, PathBuf)>,
    ) -> Result<Self, LaunchError> {
        let raw = i32::try_from(pid)
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| LaunchError::Io {
                action: "watching",
                worker_id,
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{pid} is not a process id"),
                ),
            })?;
        Ok(Self {
            worker_id,
            pid: Pid::from_raw(raw),
            log_files,
            exit: None,
            reaped: false,
        })
    }

    fn io_error(&self, action: &'static str, source: std::io::Error) -> LaunchError {
        LaunchError::Io {
            action,
            worker_id: self.worker_id,
            source,
        }
    }

    /// Someone else reaped the child: it ended, how is unknown.
    fn lost(&mut self) -> WorkerExit {
        tracing::debug!(
            worker_id = self.worker_id,
            pid = self.pid.as_raw(),
            "worker process was reaped elsewhere"
        );
        self.reaped = true;
        *self.exit.get_or_insert(WorkerExit::Failed {
            code: None,
            signal: None,
        })
    }

    /// Looks at the child's state without reaping it.
    fn peek(&mut self) -> Result<Option<WorkerExit>, LaunchError> {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        let status = loop {
            match wait::waitid(Id::Pid(self.pid), flags) {
                Err(Errno::EINTR) => {}
                Ok(status) => break status,
                Err(Errno::ECHILD) => return Ok(Some(self.lost())),
                Err(errno) => return Err(self.io_error("checking on", errno.into())),
            }
        };
        Ok(exit_of(status))
    }

    /// Sends SIGKILL to the process group, then to the child (in case it left its group, or
    /// has not made its group yet); a receiver that is already gone is fine.
    fn kill_group(&self) -> Result<(), LaunchError> {
        let signal_error = |target: String, errno: Errno| LaunchError::Signal {
            signal: "SIGKILL".into(),
            target,
            worker_id: self.worker_id,
            source: errno,
        };
        match signal::killpg(self.pid, Signal::SIGKILL) {
            // EPERM: the child has not made its own group yet and the pid names a group of
            // processes we may not signal; the child itself is signalled below.
            Ok(()) | Err(Errno::ESRCH | Errno::EPERM) => {}
            Err(errno) => return Err(signal_error(format!("process group {}", self.pid), errno)),
        }
        match signal::kill(self.pid, Signal::SIGKILL) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(errno) => Err(signal_error(format!("process {}", self.pid), errno)),
        }
    }

    /// Waits for the child and reaps it.
    fn reap(&mut self) -> Result<WorkerExit, LaunchError> {
        loop {
            match wait::waitpid(self.pid, None) {
                Err(Errno::EINTR) => {}
                Err(Errno::ECHILD) => return Ok(self.lost()),
                Err(errno) => return Err(self.io_error("waiting for", errno.into())),
                Ok(status) => {
                    if let Some(exit) = exit_of(status) {
                        self.reaped = true;
                        return Ok(*self.exit.get_or_insert(exit));
                    }
                    // Stopped or continued: not an end, wait on.
                }
            }
        }
    }
}

/// The exit a wait status tells, if it tells one.
fn exit_of(status: WaitStatus) -> Option<WorkerExit> {
    match status {
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
    }
}

impl WorkerHandle for PidHandle {
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

    /// Sends SIGKILL to the worker's process group and reaps the worker; idempotent.
    fn kill(&mut self) -> Result<WorkerExit, LaunchError> {
        if !self.reaped {
            self.kill_group()?;
            let exit = self.reap()?;
            tracing::debug!(worker_id = self.worker_id, %exit, "worker process killed");
        }
        self.exit.ok_or_else(|| {
            self.io_error(
                "waiting for",
                std::io::Error::other("no exit status after reaping"),
            )
        })
    }

    fn log_files(&self) -> Option<(PathBuf, PathBuf)> {
        self.log_files.clone()
    }

    fn pid(&self) -> Option<u32> {
        u32::try_from(self.pid.as_raw()).ok()
    }
}

impl Drop for PidHandle {
    /// Kills the worker's process group and reaps the worker, unless that was done already.
    fn drop(&mut self) {
        if !self.reaped
            && let Err(error) = self.kill()
        {
            tracing::warn!(worker_id = self.worker_id, %error, "could not kill worker on drop");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::Command;
    use std::time::{Duration, Instant};

    use super::*;

    fn spawn(script: &str) -> u32 {
        Command::new("sh")
            .args(["-c", script])
            .process_group(0)
            .spawn()
            .unwrap()
            .id()
    }

    /// Polls `f` every 5 ms until it gives a value; fails with `what` after 10 s.
    fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(value) = f() {
                return value;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "{what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn wait_for_exit(handle: &mut PidHandle) -> WorkerExit {
        poll("worker did not end", || handle.try_wait().unwrap())
    }

    #[test]
    fn exit_codes_are_reported_and_the_child_stays_unreaped_until_killed() {
        let mut ok = PidHandle::new(1, spawn("exit 0"), None).unwrap();
        assert_eq!(wait_for_exit(&mut ok), WorkerExit::Success);
        // Still a zombie: the pid (and group id) is not free for reuse yet.
        assert!(!ok.reaped);
        assert_eq!(ok.kill().unwrap(), WorkerExit::Success);
        assert!(ok.reaped);
        let mut failed = PidHandle::new(2, spawn("exit 3"), None).unwrap();
        assert_eq!(
            wait_for_exit(&mut failed),
            WorkerExit::Failed {
                code: Some(3),
                signal: None
            }
        );
        assert_eq!(failed.worker_id(), 2);
    }

    /// Whether process `pid` runs (it exists and is not a zombie waiting to be reaped).
    fn running(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next());
            state != Some("Z")
        })
    }

    #[test]
    fn kill_ends_the_group_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("grandchild");
        // The worker starts a grandchild in its group and writes the grandchild's pid.
        let script = format!(
            "sleep 100 & echo $! > {0}.tmp && mv {0}.tmp {0}; sleep 100",
            pid_file.display()
        );
        let pid = spawn(&script);
        let mut handle = PidHandle::new(3, pid, None).unwrap();
        assert_eq!(handle.pid(), Some(pid));
        let grandchild: u32 = poll("no grandchild", || {
            std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|text| text.trim().parse().ok())
        });
        assert!(running(grandchild));
        assert_eq!(handle.try_wait().unwrap(), None);
        let killed = WorkerExit::Failed {
            code: None,
            signal: Some(9),
        };
        assert_eq!(handle.kill().unwrap(), killed);
        assert_eq!(handle.kill().unwrap(), killed);
        assert_eq!(handle.try_wait().unwrap(), Some(killed));
        poll("the worker's process group survived", || {
            (!running(grandchild)).then_some(())
        });
    }

    #[test]
    fn a_child_reaped_elsewhere_counts_as_ended() {
        let mut child = Command::new("true").spawn().unwrap();
        let mut handle = PidHandle::new(4, child.id(), None).unwrap();
        child.wait().unwrap();
        let unknown = WorkerExit::Failed {
            code: None,
            signal: None,
        };
        assert_eq!(handle.try_wait().unwrap(), Some(unknown));
        assert_eq!(handle.kill().unwrap(), unknown);
    }

    #[test]
    fn bad_pids_are_errors() {
        assert!(PidHandle::new(5, 0, None).is_err());
        assert!(PidHandle::new(5, u32::MAX, None).is_err());
    }

    #[test]
    fn log_files_are_kept() {
        let files = (PathBuf::from("l/w.out"), PathBuf::from("l/w.err"));
        let mut handle = PidHandle::new(6, spawn("exit 0"), Some(files.clone())).unwrap();
        assert_eq!(handle.log_files(), Some(files));
        handle.kill().unwrap();
    }
}
