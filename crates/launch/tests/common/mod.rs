//! What the launcher tests share.

use std::fs;

use daisy_launch::conformance;
use daisy_launch::{Launcher, WorkerExit, WorkerSpec};

/// Launches a worker, checks that it succeeds, and returns what it wrote to its `.out` and
/// `.err` log files. `spec.log_basename` must be set.
pub fn run_to_end(launcher: &dyn Launcher, spec: &WorkerSpec) -> (String, String) {
    let mut handle = launcher.launch(spec).unwrap();
    let exit = conformance::wait_for_exit(handle.as_mut(), conformance::EXIT_TIMEOUT);
    assert_eq!(exit, Some(WorkerExit::Success));
    let (out, err) = handle.log_files().unwrap();
    (
        fs::read_to_string(out).unwrap(),
        fs::read_to_string(err).unwrap(),
    )
}
