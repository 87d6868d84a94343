//! `ProcessLauncher` with real processes: context, logs, exits, killing process trees.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

use daisy_launch::conformance::{self, scripts};
use daisy_launch::{LaunchError, Launcher, ProcessLauncher, WorkerExit, log_basename};

fn script(script: &str) -> ProcessLauncher {
    ProcessLauncher::new("sh", ["-c", script])
}

fn with_pid_file(script: &str, pid_file: &Path) -> ProcessLauncher {
    ProcessLauncher::new("sh", ["-c", script]).env(scripts::PID_FILE_VARIABLE, pid_file)
}

#[test]
fn context_reaches_the_worker_and_output_is_redirected() {
    let dir = tempfile::tempdir().unwrap();
    let spec = conformance::spec("A", 1, Some(dir.path()));
    conformance::context_reaches_worker_and_output_is_redirected(
        &script(scripts::ECHO_CONTEXT),
        &spec,
    );
    let (out, _) = daisy_launch::log_file_paths(&log_basename(dir.path(), "A", 1));
    assert_eq!(fs::read_to_string(out).unwrap(), spec.context.to_env());
}

#[test]
fn exit_zero_is_success() {
    conformance::worker_that_succeeds_is_reaped(
        &script("exit 0"),
        &conformance::spec("A", 0, None),
    );
}

#[test]
fn exit_three_is_failure_with_code() {
    let dir = tempfile::tempdir().unwrap();
    conformance::worker_that_fails_is_reported(
        &script(scripts::EXIT_3),
        &conformance::spec("A", 2, Some(dir.path())),
        Some(3),
    );
}

#[test]
fn killed_worker_failed_with_signal_nine() {
    let exit = conformance::running_worker_can_be_killed(
        &script(scripts::SLEEP),
        &conformance::spec("A", 3, None),
    );
    assert_eq!(
        exit,
        WorkerExit::Failed {
            code: None,
            signal: Some(9)
        }
    );
}

#[test]
fn kill_ends_the_process_tree() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    conformance::kill_ends_the_process_tree(
        &with_pid_file(scripts::SPAWN_GRANDCHILD, &pid_file),
        &conformance::spec("A", 4, None),
        &pid_file,
    );
}

#[test]
fn drop_ends_the_process_tree() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    conformance::dropping_a_running_worker_kills_its_tree(
        &with_pid_file(scripts::SPAWN_GRANDCHILD, &pid_file),
        &conformance::spec("A", 5, None),
        &pid_file,
    );
}

#[test]
fn kill_after_exit_ends_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("leftover.pid");
    conformance::kill_after_exit_ends_leftovers(
        &with_pid_file(scripts::LEAVE_GRANDCHILD, &pid_file),
        &conformance::spec("A", 6, None),
        &pid_file,
    );
}

#[test]
fn a_worker_ended_by_another_signal_reports_it() {
    let mut handle = script("kill -TERM $$")
        .launch(&conformance::spec("A", 7, None))
        .unwrap();
    let exit = conformance::wait_for_exit(handle.as_mut(), conformance::EXIT_TIMEOUT);
    assert_eq!(
        exit,
        Some(WorkerExit::Failed {
            code: None,
            signal: Some(15)
        })
    );
}

#[test]
fn the_whole_suite_passes() {
    let dir = tempfile::tempdir().unwrap();
    conformance::process_launcher_suite(
        &|script, pid_file| Box::new(with_pid_file(script, pid_file)),
        dir.path(),
    );
}

#[test]
fn missing_program_is_an_error_naming_it() {
    let launcher = ProcessLauncher::new("/no/such/daisy-worker-program", ["x"]);
    let err = launcher
        .launch(&conformance::spec("A", 0, None))
        .err()
        .unwrap();
    match &err {
        LaunchError::Spawn { program, .. } => assert_eq!(program, "/no/such/daisy-worker-program"),
        other => panic!("unexpected error {other}"),
    }
    assert!(
        err.to_string().contains("/no/such/daisy-worker-program"),
        "{err}"
    );
}

#[test]
fn log_directory_under_a_file_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    fs::write(&file, "x").unwrap();
    let err = script("exit 0")
        .launch(&conformance::spec("A", 0, Some(&file)))
        .err()
        .unwrap();
    match &err {
        LaunchError::LogFile { path, .. } => assert_eq!(path, &file.join("A")),
        other => panic!("unexpected error {other}"),
    }
    assert!(err.to_string().contains("not-a-directory"), "{err}");
}

#[test]
fn env_and_current_dir_reach_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    let launcher = script(r#"printf '%s %s' "$GREETING" "$(pwd)""#)
        .env("GREETING", "hello")
        .env("DAISY_CONTEXT", "overridden")
        .current_dir(&work);
    let spec = conformance::spec("A", 8, Some(dir.path()));
    let mut handle = launcher.launch(&spec).unwrap();
    let exit = conformance::wait_for_exit(handle.as_mut(), conformance::EXIT_TIMEOUT);
    assert_eq!(exit, Some(WorkerExit::Success));
    let (out, _) = handle.log_files().unwrap();
    let text = fs::read_to_string(out).unwrap();
    assert_eq!(
        text,
        format!("hello {}", work.canonicalize().unwrap().display())
    );
    assert_eq!(launcher.name(), "processes");
}

#[test]
fn log_files_are_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let spec = conformance::spec("A", 9, Some(dir.path()));
    let (out, _) = daisy_launch::log_file_paths(spec.log_basename.as_deref().unwrap());
    fs::create_dir_all(out.parent().unwrap()).unwrap();
    fs::write(&out, "old content that is longer").unwrap();
    let mut handle = script("printf new").launch(&spec).unwrap();
    conformance::wait_for_exit(handle.as_mut(), conformance::EXIT_TIMEOUT).unwrap();
    assert_eq!(fs::read_to_string(out).unwrap(), "new");
}

#[test]
fn worker_has_its_own_process_group() {
    let dir = tempfile::tempdir().unwrap();
    // Field 5 of /proc/self/stat is the process group.
    let launcher = script(r#"cut -d' ' -f5 /proc/$$/stat"#);
    let mut handle = launcher
        .launch(&conformance::spec("A", 10, Some(dir.path())))
        .unwrap();
    let pid = handle.pid().unwrap();
    conformance::wait_for_exit(handle.as_mut(), conformance::EXIT_TIMEOUT).unwrap();
    let (out, _) = handle.log_files().unwrap();
    assert_eq!(fs::read_to_string(out).unwrap().trim(), pid.to_string());
}
