//! What the launcher tests share.

use std::fs;
use std::path::Path;

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

/// Runs the conformance suite for process launchers on `make` (a launcher for a script, with
/// the given pid file in its environment), in a scratch directory.
pub fn process_launcher_suite_passes<L: Launcher + 'static>(make: fn(&str, &Path) -> L) {
    let dir = tempfile::tempdir().unwrap();
    conformance::process_launcher_suite(
        &|script, pid_file| Box::new(make(script, pid_file)),
        dir.path(),
    );
}
