//! A reusable conformance suite for [`Launcher`] implementations (feature `tests`).
//!
//! Each function starts workers through the launcher it is given and panics, with a message
//! saying what was expected, if the launcher misbehaves. The launcher has to be built so that
//! its workers do what the check needs; for process-based launchers the [`scripts`] are `sh`
//! scripts for exactly that (they use no braces, so they also work as command templates):
//!
//! ```
//! use daisy_launch::conformance::{self, scripts};
//! use daisy_launch::ProcessLauncher;
//!
//! let dir = std::env::temp_dir().join(format!("daisy-launch-doc-{}", std::process::id()));
//! let launcher = ProcessLauncher::new("sh", ["-c", scripts::EXIT_3]);
//! conformance::worker_that_fails_is_reported(
//!     &launcher,
//!     &conformance::spec("A", 0, Some(&dir)),
//!     Some(3),
//! );
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use daisy_protocol::Context;

use crate::{Launcher, WorkerExit, WorkerHandle, WorkerSpec, log_basename, log_file_paths};

/// How long a worker that should end by itself may take.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// `sh` scripts for the checks of process-based launchers.
pub mod scripts {
    /// Writes `$DAISY_CONTEXT` (no newline) to stdout and `to stderr` to stderr; exits 0.
    pub const ECHO_CONTEXT: &str = r#"printf '%s' "$DAISY_CONTEXT"; printf 'to stderr' >&2"#;
    /// What [`ECHO_CONTEXT`] writes to stderr.
    pub const ECHO_CONTEXT_STDERR: &str = "to stderr";
    /// Exits with code 3.
    pub const EXIT_3: &str = "exit 3";
    /// Sleeps (in a child of the shell) until killed.
    pub const SLEEP: &str = "sleep 1000";
    /// The environment variable naming the file that [`SPAWN_GRANDCHILD`] and
    /// [`LEAVE_GRANDCHILD`] write their child's pid to.
    pub const PID_FILE_VARIABLE: &str = "DAISY_TEST_PID_FILE";
    /// Starts `sleep 1000 &`, writes its pid to `$DAISY_TEST_PID_FILE` (atomically), and waits.
    pub const SPAWN_GRANDCHILD: &str = r#"sleep 1000 & echo $! > "$DAISY_TEST_PID_FILE.tmp" && mv "$DAISY_TEST_PID_FILE.tmp" "$DAISY_TEST_PID_FILE"; wait"#;
    /// Like [`SPAWN_GRANDCHILD`], but exits 0 at once, leaving the `sleep` running.
    pub const LEAVE_GRANDCHILD: &str = r#"sleep 1000 & echo $! > "$DAISY_TEST_PID_FILE.tmp" && mv "$DAISY_TEST_PID_FILE.tmp" "$DAISY_TEST_PID_FILE"; exit 0"#;
}

/// A worker spec for `task_id` / `worker_id` with a loopback context; `log_dir` Some redirects
/// output to `log_dir/<task_id>/worker_<worker_id>.{out,err}`.
#[must_use]
pub fn spec(task_id: &str, worker_id: u64, log_dir: Option<&Path>) -> WorkerSpec {
    let logdir = log_dir.map(|d| d.to_string_lossy().into_owned());
    let context = Context::for_worker(
        logdir.as_deref(),
        "127.0.0.1",
        1,
        task_id,
        worker_id,
        "conformance-token",
    );
    WorkerSpec {
        task_id: task_id.to_owned(),
        worker_id,
        context,
        log_basename: log_dir.map(|d| log_basename(d, task_id, worker_id)),
    }
}

/// Polls `try_wait` until the worker ends or `timeout` passes.
///
/// # Panics
///
/// If `try_wait` fails.
pub fn wait_for_exit(handle: &mut dyn WorkerHandle, timeout: Duration) -> Option<WorkerExit> {
    let start = Instant::now();
    loop {
        if let Some(exit) = handle.try_wait().expect("try_wait failed") {
            return Some(exit);
        }
        if start.elapsed() > timeout {
            return None;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Whether process `pid` exists and is not a zombie (read from `/proc`).
#[must_use]
pub fn process_is_alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the parenthesised command name, which may itself contain ')'.
    let state = stat
        .rfind(')')
        .and_then(|at| stat[at + 1..].split_whitespace().next());
    !matches!(state, Some("Z" | "X" | "x") | None)
}

/// Waits until process `pid` is gone (or a zombie), at most `timeout`; whether it is gone.
#[must_use]
pub fn wait_until_dead(pid: u32, timeout: Duration) -> bool {
    let start = Instant::now();
    while process_is_alive(pid) {
        if start.elapsed() > timeout {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
    true
}

/// Reads the pid a [`scripts::SPAWN_GRANDCHILD`]-like worker wrote to `pid_file`, waiting for it.
///
/// # Panics
///
/// If the file does not appear within [`EXIT_TIMEOUT`] or holds no pid.
#[must_use]
pub fn read_pid_file(pid_file: &Path) -> u32 {
    let start = Instant::now();
    loop {
        if let Ok(text) = fs::read_to_string(pid_file) {
            return text.trim().parse().unwrap_or_else(|_| {
                panic!("pid file {} holds '{text}', not a pid", pid_file.display())
            });
        }
        assert!(
            start.elapsed() < EXIT_TIMEOUT,
            "the worker did not write its child's pid to {}",
            pid_file.display()
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// A worker that succeeds is reaped as [`WorkerExit::Success`]; asking again, or killing it,
/// gives the same exit. The launcher's workers must succeed quickly.
pub fn worker_that_succeeds_is_reaped(launcher: &dyn Launcher, spec: &WorkerSpec) {
    let mut handle = launcher.launch(spec).expect("launch failed");
    assert_eq!(
        handle.worker_id(),
        spec.worker_id,
        "{}: worker id",
        launcher.name()
    );
    let exit = wait_for_exit(handle.as_mut(), EXIT_TIMEOUT);
    assert_eq!(exit, Some(WorkerExit::Success), "{}: exit", launcher.name());
    assert_eq!(handle.try_wait().unwrap(), Some(WorkerExit::Success));
    assert_eq!(
        handle.kill().unwrap(),
        WorkerExit::Success,
        "{}: kill on an ended worker returns its exit",
        launcher.name()
    );
    assert_eq!(handle.kill().unwrap(), WorkerExit::Success);
}

/// A worker that fails is reaped as [`WorkerExit::Failed`] with exit code `code` (for process
/// launchers; pass `Some(1)` for threads). The launcher's workers must fail quickly.
pub fn worker_that_fails_is_reported(
    launcher: &dyn Launcher,
    spec: &WorkerSpec,
    code: Option<i32>,
) {
    let mut handle = launcher.launch(spec).expect("launch failed");
    let exit = wait_for_exit(handle.as_mut(), EXIT_TIMEOUT);
    let expected = WorkerExit::Failed { code, signal: None };
    assert_eq!(exit, Some(expected), "{}: exit", launcher.name());
    assert_eq!(
        handle.kill().unwrap(),
        expected,
        "{}: kill is idempotent",
        launcher.name()
    );
}

/// A worker that runs until killed: `try_wait` is None while it runs; `kill` ends it with a
/// failure, and asking again gives the same exit. Returns that exit, so the caller can check
/// its details (`signal: Some(9)` for processes).
pub fn running_worker_can_be_killed(launcher: &dyn Launcher, spec: &WorkerSpec) -> WorkerExit {
    let mut handle = launcher.launch(spec).expect("launch failed");
    for _ in 0..10 {
        assert_eq!(
            handle.try_wait().unwrap(),
            None,
            "{}: a running worker has no exit",
            launcher.name()
        );
        thread::sleep(Duration::from_millis(10));
    }
    let exit = handle.kill().expect("kill failed");
    assert!(
        !exit.is_success(),
        "{}: a killed worker failed",
        launcher.name()
    );
    assert_eq!(
        handle.kill().unwrap(),
        exit,
        "{}: kill is idempotent",
        launcher.name()
    );
    assert_eq!(handle.try_wait().unwrap(), Some(exit));
    exit
}

/// The worker (running [`scripts::ECHO_CONTEXT`]) gets its context in `DAISY_CONTEXT`, and its
/// stdout and stderr land in `<log_basename>.out` / `.err`. `spec.log_basename` must be set.
pub fn context_reaches_worker_and_output_is_redirected(launcher: &dyn Launcher, spec: &WorkerSpec) {
    let basename = spec
        .log_basename
        .as_deref()
        .expect("this check needs a log basename");
    let mut handle = launcher.launch(spec).expect("launch failed");
    let (out, err) = log_file_paths(basename);
    assert_eq!(handle.log_files(), Some((out.clone(), err.clone())));
    let exit = wait_for_exit(handle.as_mut(), EXIT_TIMEOUT);
    assert_eq!(exit, Some(WorkerExit::Success), "{}: exit", launcher.name());
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        spec.context.to_env(),
        "{}: stdout of the worker in {}",
        launcher.name(),
        out.display()
    );
    assert_eq!(
        fs::read_to_string(&err).unwrap(),
        scripts::ECHO_CONTEXT_STDERR,
        "{}: stderr of the worker in {}",
        launcher.name(),
        err.display()
    );
}

/// Killing a worker (running [`scripts::SPAWN_GRANDCHILD`] with `pid_file` in
/// [`scripts::PID_FILE_VARIABLE`]) also ends the process it started.
pub fn kill_ends_the_process_tree(launcher: &dyn Launcher, spec: &WorkerSpec, pid_file: &Path) {
    let mut handle = launcher.launch(spec).expect("launch failed");
    let grandchild = read_pid_file(pid_file);
    assert!(
        process_is_alive(grandchild),
        "the grandchild {grandchild} runs"
    );
    let pid = handle.pid().expect("a process worker has a pid");
    assert!(process_is_alive(pid));
    let exit = handle.kill().expect("kill failed");
    assert_eq!(
        exit,
        WorkerExit::Failed {
            code: None,
            signal: Some(9)
        }
    );
    assert!(
        wait_until_dead(grandchild, EXIT_TIMEOUT),
        "{}: the grandchild {grandchild} survived kill",
        launcher.name()
    );
}

/// Dropping the handle of a running worker (as for [`kill_ends_the_process_tree`]) ends it and
/// the process it started.
pub fn dropping_a_running_worker_kills_its_tree(
    launcher: &dyn Launcher,
    spec: &WorkerSpec,
    pid_file: &Path,
) {
    let handle = launcher.launch(spec).expect("launch failed");
    let grandchild = read_pid_file(pid_file);
    let pid = handle.pid().expect("a process worker has a pid");
    assert!(process_is_alive(pid) && process_is_alive(grandchild));
    drop(handle);
    assert!(
        !process_is_alive(pid),
        "{}: the worker {pid} survived drop",
        launcher.name()
    );
    assert!(
        wait_until_dead(grandchild, EXIT_TIMEOUT),
        "{}: the grandchild {grandchild} survived drop",
        launcher.name()
    );
}

/// A worker (running [`scripts::LEAVE_GRANDCHILD`]) that succeeded but left a process running
/// in its group: `kill` returns the worker's own exit (success) and ends the leftover process.
pub fn kill_after_exit_ends_leftovers(launcher: &dyn Launcher, spec: &WorkerSpec, pid_file: &Path) {
    let mut handle = launcher.launch(spec).expect("launch failed");
    let grandchild = read_pid_file(pid_file);
    let exit = wait_for_exit(handle.as_mut(), EXIT_TIMEOUT);
    assert_eq!(exit, Some(WorkerExit::Success), "{}: exit", launcher.name());
    assert!(
        process_is_alive(grandchild),
        "the leftover {grandchild} runs"
    );
    assert_eq!(handle.kill().unwrap(), WorkerExit::Success);
    assert!(
        wait_until_dead(grandchild, EXIT_TIMEOUT),
        "{}: the leftover {grandchild} survived kill",
        launcher.name()
    );
}

/// Every check for a process-based launcher, given a way to build it for a script (the script
/// runs with `sh -c`; `pid_file_env` is the value for [`scripts::PID_FILE_VARIABLE`]) and a
/// scratch directory for logs and pid files.
pub fn process_launcher_suite(make: &dyn Fn(&str, &Path) -> Box<dyn Launcher>, dir: &Path) {
    let logs = dir.join("logs");
    let pid_file = |name: &str| dir.join(format!("{name}.pid"));
    worker_that_succeeds_is_reaped(
        &*make("exit 0", &pid_file("none")),
        &spec("A", 0, Some(&logs)),
    );
    context_reaches_worker_and_output_is_redirected(
        &*make(scripts::ECHO_CONTEXT, &pid_file("none")),
        &spec("A", 1, Some(&logs)),
    );
    worker_that_fails_is_reported(
        &*make(scripts::EXIT_3, &pid_file("none")),
        &spec("A", 2, Some(&logs)),
        Some(3),
    );
    let exit = running_worker_can_be_killed(
        &*make(scripts::SLEEP, &pid_file("none")),
        &spec("A", 3, None),
    );
    assert_eq!(
        exit,
        WorkerExit::Failed {
            code: None,
            signal: Some(9)
        }
    );
    let tree = pid_file("tree");
    kill_ends_the_process_tree(
        &*make(scripts::SPAWN_GRANDCHILD, &tree),
        &spec("A", 4, None),
        &tree,
    );
    let dropped = pid_file("dropped");
    dropping_a_running_worker_kills_its_tree(
        &*make(scripts::SPAWN_GRANDCHILD, &dropped),
        &spec("A", 5, None),
        &dropped,
    );
    let leftover = pid_file("leftover");
    kill_after_exit_ends_leftovers(
        &*make(scripts::LEAVE_GRANDCHILD, &leftover),
        &spec("A", 6, None),
        &leftover,
    );
}
