//! The server's event loop never waits on user code (init callbacks, checks, launches), and
//! worker launches are bounded: real worker processes on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use daisy::{
    LaunchError, Launcher, Launchers, Roi, TaskBuilder, WorkerHandle, WorkerSpec, run_blockwise,
};

mod common;
use common::{options_with as options, worker};

/// Blocks of the fast task ("B"), which runs while the slow task's user code waits.
const FAST_BLOCKS: usize = 16;

/// How long slow user code waits at most for the fast task to finish.
const PATIENCE: Duration = Duration::from_secs(10);

/// A 4×4 grid task (16 blocks) with two workers.
fn grid(id: &str) -> TaskBuilder {
    common::grid(id, 4)
        .num_workers(2)
        .read_write_conflict(false)
}

/// The blocks of task `task_id` recorded in `record`.
fn recorded(record: &Path, task_id: &str) -> usize {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with(&format!("{task_id}/")))
        .count()
}

/// Stands for slow user code: waits until task B's blocks are all recorded (or `PATIENCE`
/// passed) and returns how many were.
fn wait_for_fast_task(record: &Path) -> usize {
    let start = Instant::now();
    while recorded(record, "B") < FAST_BLOCKS && start.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(10));
    }
    recorded(record, "B")
}

fn record_file(dir: &Path) -> PathBuf {
    dir.join("record.txt")
}

/// Runs task A (made slow by the caller) next to task B, with workers recording their blocks;
/// returns how many blocks of B the slow code saw done while it waited.
fn run_next_to_fast_task(
    dir: &Path,
    a: TaskBuilder,
    launcher_a: Option<Arc<dyn Launcher>>,
) -> usize {
    let record = record_file(dir);
    // B's blocks take a little while, so that A's slow code starts before B is done.
    let fast = worker(&format!("record={},sleep_ms=30", record.display()));
    let mut launchers =
        Launchers::all(worker(&format!("record={}", record.display()))).with_task("B", fast);
    if let Some(launcher) = launcher_a {
        launchers = launchers.with_task("A", launcher);
    }
    // A first: the old server ran its user code before it even looked at B.
    let tasks = [a.build().unwrap(), grid("B").build().unwrap()];
    let report = run_blockwise(&tasks, options(dir, launchers)).unwrap();
    assert!(report.succeeded(), "{report}");
    assert_eq!(recorded(&record, "B"), FAST_BLOCKS);
    assert_eq!(recorded(&record, "A"), FAST_BLOCKS);
    report.task("A").unwrap().workers_started as usize
}

#[test]
fn init_callback_does_not_stall_other_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let record = record_file(dir.path());
    let seen = Arc::new(Mutex::new(None));
    let during = Arc::clone(&seen);
    let a = grid("A").init_callback(move |_| {
        *during.lock().unwrap() = Some(wait_for_fast_task(&record));
        Ok(())
    });
    run_next_to_fast_task(dir.path(), a, None);
    assert_eq!(
        *seen.lock().unwrap(),
        Some(FAST_BLOCKS),
        "blocks of B completed while A's init callback ran"
    );
}

#[test]
fn slow_post_check_does_not_stall_other_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let record = record_file(dir.path());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let during = Arc::clone(&seen);
    let a = grid("A").post_check_function(move |_| {
        during.lock().unwrap().push(wait_for_fast_task(&record));
        Ok(true)
    });
    run_next_to_fast_task(dir.path(), a, None);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), FAST_BLOCKS, "a post-check per block of A");
    assert_eq!(
        seen[0], FAST_BLOCKS,
        "blocks of B completed while A's first post-check ran"
    );
}

/// Starts workers with `inner` after `delay` (which may wait for something), counting the
/// launches and when they started.
struct Slow<F> {
    inner: Arc<dyn Launcher>,
    delay: F,
    launches: Arc<Mutex<Vec<Instant>>>,
}

impl<F: Fn() + Send + Sync> Launcher for Slow<F> {
    fn launch(&self, spec: &WorkerSpec) -> Result<Box<dyn WorkerHandle>, LaunchError> {
        self.launches.lock().unwrap().push(Instant::now());
        (self.delay)();
        self.inner.launch(spec)
    }

    fn name(&self) -> &str {
        "slow"
    }
}

#[test]
fn slow_launch_does_not_stall_other_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let record = record_file(dir.path());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let during = Arc::clone(&seen);
    let waiting = record.clone();
    let launcher = Slow {
        inner: worker(&format!("record={}", record.display())),
        delay: move || during.lock().unwrap().push(wait_for_fast_task(&waiting)),
        launches: Arc::default(),
    };
    let started = run_next_to_fast_task(dir.path(), grid("A"), Some(Arc::new(launcher)));
    assert_eq!(started, 2);
    assert_eq!(
        seen.lock().unwrap()[0],
        FAST_BLOCKS,
        "blocks of B completed while A's first worker was being launched"
    );
}

#[test]
fn huge_num_workers_on_small_task_starts_few_workers() {
    let dir = tempfile::tempdir().unwrap();
    let launches = Arc::new(Mutex::new(Vec::new()));
    let launcher = Slow {
        inner: worker(""),
        delay: || {},
        launches: Arc::clone(&launches),
    };
    let task = daisy::Task::builder(
        "t",
        Roi::from_values(&[0], &[20]).unwrap(),
        Roi::from_values(&[0], &[10]).unwrap(),
        Roi::from_values(&[0], &[10]).unwrap(),
    )
    .num_workers(1_000_000)
    .build()
    .unwrap();
    assert_eq!(task.tiling().num_blocks(), 2);
    let start = Instant::now();
    let report = run_blockwise(
        &[task],
        options(dir.path(), Launchers::all(Arc::new(launcher))),
    )
    .unwrap();
    assert!(report.succeeded(), "{report}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    let launched = launches.lock().unwrap().len();
    assert!(launched <= 2, "{launched} workers launched for 2 blocks");
    assert_eq!(report.task("t").unwrap().workers_started, launched as u64);
}

#[test]
fn crashing_workers_are_restarted_with_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let launches = Arc::new(Mutex::new(Vec::new()));
    let launcher = Slow {
        inner: worker("exit=3"),
        delay: || {},
        launches: Arc::clone(&launches),
    };
    let task = grid("t")
        .num_workers(1)
        .max_worker_restarts(4)
        .build()
        .unwrap();
    let report = run_blockwise(
        &[task],
        options(dir.path(), Launchers::all(Arc::new(launcher))),
    )
    .unwrap();
    let t = report.task("t").unwrap();
    assert!(t.abandoned.is_some(), "{report}");
    let launches = launches.lock().unwrap();
    assert_eq!(launches.len(), 5, "a worker and 4 replacements");
    let gaps: Vec<Duration> = launches.windows(2).map(|w| w[1] - w[0]).collect();
    // Replacements wait 100, 200, 400 and 800 ms (after the crash is noticed).
    for (gap, backoff) in gaps.iter().zip([100, 200, 400, 800]) {
        assert!(
            *gap >= Duration::from_millis(backoff),
            "replacement gaps {gaps:?}: one under {backoff} ms"
        );
    }
}
