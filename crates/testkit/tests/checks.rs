//! Check functions in a distributed run: they run off the server's event loop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use daisy::{ProgressMode, RunOptions, ServerOptions, TaskBuilder, run_blockwise};

/// A grid task (see [`common::grid`]) with two workers.
mod common;

fn grid(id: &str, n: i64) -> TaskBuilder {
    common::grid(id, n).num_workers(2)
}

fn options() -> RunOptions {
    RunOptions {
        server: ServerOptions {
            logdir: None,
            ..ServerOptions::default()
        },
        progress: ProgressMode::Off,
        handle_ctrl_c: false,
        ..RunOptions::default()
    }
}

#[test]
fn pre_checks_skip_blocks() {
    let processed = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&processed);
    let task = grid("t", 5)
        .check_function(|b| Ok(b.spatial_id() % 2 == 0))
        .process_function(move |b| {
            assert!(b.spatial_id() % 2 == 1, "a skipped block was processed");
            seen.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .build()
        .unwrap();
    let total = task.tiling().num_blocks();
    let even = (0..task.tiling().num_levels())
        .flat_map(|l| task.tiling().level_blocks(l).collect::<Vec<_>>())
        .filter(|b| b.spatial_id() % 2 == 0)
        .count() as u64;
    let report = run_blockwise(&[task], options()).unwrap();
    assert!(report.succeeded(), "{report}");
    let state = report.task("t").unwrap().state;
    assert_eq!((state.skipped_count, state.completed_count), (even, total));
    assert_eq!(processed.load(Ordering::Relaxed), total - even);
}

#[test]
fn a_slow_pre_check_does_not_stall_other_tasks() {
    // Task "slow" checks each block for 200 ms; task "fast" has no check and must finish long
    // before "slow" while both run.
    let fast_done = Arc::new(std::sync::Mutex::new(None));
    let mark = Arc::clone(&fast_done);
    let start = Instant::now();
    let counter = Arc::new(AtomicU64::new(0));
    let fast_total = 25;
    let count = Arc::clone(&counter);
    let slow = grid("slow", 3)
        .read_write_conflict(false)
        .check_function(|_| {
            std::thread::sleep(Duration::from_millis(200));
            Ok(false)
        })
        .process_function(|_| Ok(()))
        .build()
        .unwrap();
    let fast = grid("fast", 5)
        .read_write_conflict(false)
        .process_function(move |_| {
            if count.fetch_add(1, Ordering::Relaxed) + 1 == fast_total {
                *mark.lock().unwrap() = Some(start.elapsed());
            }
            Ok(())
        })
        .build()
        .unwrap();
    let report = run_blockwise(&[slow, fast], options()).unwrap();
    assert!(report.succeeded(), "{report}");
    let fast_elapsed = fast_done.lock().unwrap().unwrap();
    let total = start.elapsed();
    assert!(
        fast_elapsed < total / 2,
        "fast took {fast_elapsed:?} of {total:?}"
    );
}

#[test]
fn post_checks_fail_blocks() {
    let task = grid("t", 4)
        .max_retries(1)
        .read_write_conflict(false)
        .post_check_function(|b| Ok(b.spatial_id() != 4))
        .process_function(|_| Ok(()))
        .build()
        .unwrap();
    let report = run_blockwise(&[task], options()).unwrap();
    let t = report.task("t").unwrap();
    assert_eq!((t.state.failed_count, t.state.completed_count), (1, 15));
    assert_eq!(t.failures.len(), 2, "two attempts");
    assert!(
        t.failures
            .iter()
            .all(|f| f.error == "post-check failed" && f.block_id.spatial_id == 4)
    );
}

#[test]
fn init_callbacks_run_once_per_task_before_its_workers() {
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (seen, started) = (Arc::clone(&calls), Arc::new(AtomicU64::new(0)));
    let processed = Arc::clone(&started);
    let task = grid("t", 3)
        .init_callback(move |context| {
            assert_eq!(
                processed.load(Ordering::Relaxed),
                0,
                "a block ran before the init callback"
            );
            seen.lock().unwrap().push(context.to_owned());
            Ok(())
        })
        .process_function(move |_| {
            started.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .build()
        .unwrap();
    assert!(run_blockwise(&[task], options()).unwrap().succeeded());
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 1);
    let context = daisy::Context::from_env_str(&calls[0]).unwrap();
    assert_eq!(
        (context.task_id().unwrap(), context.worker_id().unwrap()),
        ("t", Some(0))
    );
    assert!(context.port().unwrap() > 0);
}

#[test]
fn a_failing_init_callback_aborts_the_run() {
    let task = grid("t", 3)
        .init_callback(|_| Err("no database".into()))
        .process_function(|_| Ok(()))
        .build()
        .unwrap();
    let err = run_blockwise(&[task], options()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the init callback of task t failed: no database"
    );
}
