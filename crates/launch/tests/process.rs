//! `ProcessLauncher` with real processes: the process checks of the conformance suite, signals,
//! spawn and log-file errors, environment, process groups.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

use daisy_launch::conformance::{self, scripts};
use daisy_launch::{LaunchError, Launcher, ProcessLauncher, WorkerExit};

mod common;
use common::run_to_end;

fn script(script: &str) -> ProcessLauncher {
    ProcessLauncher::new("sh", ["-c", script])
}

fn with_pid_file(script: &str, pid_file: &Path) -> ProcessLauncher {
    ProcessLauncher::new("sh", ["-c", script]).env(scripts::PID_FILE_VARIABLE, pid_file)
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
    common::process_launcher_suite_passes(with_pid_file);
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
    let (text, _) = run_to_end(&launcher, &spec);
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

#[test]
fn launched_workers_hold_no_descriptor_of_the_server() {
    // What a server has open while it launches workers: an event loop (epoll, eventfd), a
    // listening socket and worker connections.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (listener, connection, accepted) = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let connection = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        (listener, connection, accepted)
    });
    let dir = tempfile::tempdir().unwrap();
    // Every descriptor of the worker's shell, as "fd target" lines.
    let launcher = script(r#"cd /proc/$$/fd && for f in *; do echo "$f $(readlink "$f")"; done"#);
    let (text, _) = run_to_end(&launcher, &conformance::spec("A", 11, Some(dir.path())));
    let held: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("socket:") || line.contains("anon_inode:"))
        .collect();
    assert!(held.is_empty(), "the worker holds {held:?}; all:\n{text}");
    // (Descriptors the test runner itself passes down inheritable may show as pipes.)
    drop((listener, connection, accepted));
}
