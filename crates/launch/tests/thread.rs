//! `ThreadLauncher`: results, panics, context, and what `kill` does to a thread.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use daisy_launch::conformance;
use daisy_launch::{Launcher, ThreadLauncher, WorkerExit};
use daisy_protocol::Context;

#[test]
fn ok_is_success() {
    let launcher = ThreadLauncher::new(|_| Ok(()));
    conformance::worker_that_succeeds_is_reaped(&launcher, &conformance::spec("A", 0, None));
    assert_eq!(launcher.name(), "threads");
}

#[test]
fn err_is_failure() {
    let launcher = ThreadLauncher::new(|_| Err("the block function failed".into()));
    conformance::worker_that_fails_is_reported(
        &launcher,
        &conformance::spec("A", 1, None),
        Some(1),
    );
}

#[test]
fn panic_is_failure_without_aborting_the_test() {
    let launcher = ThreadLauncher::new(|_| panic!("worker panicked on purpose"));
    conformance::worker_that_fails_is_reported(
        &launcher,
        &conformance::spec("A", 2, None),
        Some(1),
    );
}

/// A context and the name of the thread that received it.
type Seen = (Context, Option<String>);

#[test]
fn the_context_arrives_and_the_thread_is_named() {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let record = Arc::clone(&seen);
    let launcher = ThreadLauncher::new(move |context| {
        let name = std::thread::current().name().map(str::to_owned);
        record.lock().unwrap().push((context, name));
        Ok(())
    });
    let spec = conformance::spec("A", 3, None);
    let mut handle = launcher.launch(&spec).unwrap();
    assert_eq!(
        conformance::wait_for_exit(handle.as_mut(), conformance::EXIT_TIMEOUT),
        Some(WorkerExit::Success)
    );
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.as_slice(),
        &[(spec.context.clone(), Some("daisy-worker-3".to_owned()))]
    );
    assert_eq!(handle.pid(), None);
    assert_eq!(handle.log_files(), None);
}

#[test]
fn kill_abandons_a_running_thread() {
    let (release, wait) = mpsc::channel::<()>();
    let wait = Mutex::new(wait);
    let launcher = ThreadLauncher::new(move |_| {
        // Runs until the test lets it go (or gives up on it).
        let _ = wait.lock().unwrap().recv_timeout(Duration::from_secs(30));
        Ok(())
    });
    let exit =
        conformance::running_worker_can_be_killed(&launcher, &conformance::spec("A", 4, None));
    assert_eq!(
        exit,
        WorkerExit::Failed {
            code: None,
            signal: None
        }
    );
    release.send(()).unwrap();
}
