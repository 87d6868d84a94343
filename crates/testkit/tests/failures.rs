//! Failures users can read, with real worker processes on loopback: a task that cannot
//! succeed stops early, failures are grouped by error, the logs named are the launchers'.
//! Each test is named after the defect it guards against.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use daisy::run_blockwise;

mod common;
use common::{grid, options, worker};

#[test]
fn a_task_whose_blocks_all_fail_stops_early_instead_of_running_every_retry() {
    let dir = tempfile::tempdir().unwrap();
    // 1024 blocks, 2 workers, 2 retries: 3072 attempts without the rule, 30 with it.
    let task = grid("t", 32).num_workers(2).build().unwrap();
    assert_eq!(task.max_failures_before_success(), Some(30));
    let downstream = grid("d", 32).upstream_task(&task).build().unwrap();
    let start = Instant::now();
    let report = run_blockwise(&[downstream], options(dir.path(), worker("fail=all"))).unwrap();
    assert!(start.elapsed() < Duration::from_secs(30));
    assert!(!report.succeeded());
    let t = report.task("t").unwrap();
    assert_eq!(t.state.completed_count, 0);
    assert_eq!(t.state.failed_count + t.state.orphaned_count, 1024);
    // The limit, and what the two workers held (two each, prefetched) when it was reached.
    assert!(
        (30..=40).contains(&t.failures.len()),
        "{}",
        t.failures.len()
    );
    let reason = t.abandoned.as_deref().unwrap();
    assert!(
        reason.starts_with(
            "the first 30 block attempts all failed and none succeeded \
             (max_failures_before_success=30); the last error: block "
        ) && reason.ends_with(" fails on purpose"),
        "{reason}"
    );
    assert_eq!(report.task("d").unwrap().state.orphaned_count, 1024);
    // One entry for the one error (its text names the block), each worker's logs once.
    let summary = report.to_string();
    let entries = summary
        .lines()
        .filter(|l| l.starts_with("      block "))
        .count();
    assert_eq!(entries, 1, "{summary}");
    assert!(
        summary.contains(&format!(
            "more like it ({} in all, of blocks ",
            t.failures.len()
        )),
        "{summary}"
    );
    assert!(summary.contains(&format!("    abandoned  : {reason}\n")));
    assert!(summary.lines().count() < 40, "{summary}");
}

#[test]
fn max_failures_before_success_zero_runs_every_retry() {
    let dir = tempfile::tempdir().unwrap();
    let task = grid("t", 3)
        .read_write_conflict(false)
        .num_workers(2)
        .max_retries(1)
        .max_failures_before_success(0)
        .build()
        .unwrap();
    let report = run_blockwise(&[task], options(dir.path(), worker("fail=all"))).unwrap();
    let t = report.task("t").unwrap();
    assert_eq!(t.state.failed_count, 9);
    assert_eq!(t.failures.len(), 18, "every attempt of every block");
    assert_eq!(t.abandoned, None);
}

#[test]
fn a_failed_blocks_logs_are_named_err_then_out_as_the_launcher_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let task = grid("t", 2).max_retries(0).build().unwrap();
    let report = run_blockwise(&[task], options(dir.path(), worker("fail=0"))).unwrap();
    let failure = &report.task("t").unwrap().failures[0];
    let (out, err) = failure.log_files.clone().unwrap();
    assert_eq!(out.extension().unwrap(), "out");
    assert_eq!(err.extension().unwrap(), "err");
    assert!(out.is_file() && err.is_file());
    let summary = report.to_string();
    assert!(
        summary.contains(&format!("      {} / .out\n", err.display())),
        "{summary}"
    );
    assert!(!summary.contains(".out / .out"), "{summary}");
}
