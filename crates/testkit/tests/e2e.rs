//! End to end: `run_blockwise` with real worker processes on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use daisy::{DependencyGraph, RunReport, run_blockwise};

mod common;
use common::{assert_each_once, grid, options, recorded, worker};

fn record_file(dir: &Path) -> PathBuf {
    dir.join("record.txt")
}

#[test]
fn worker_processes_run_every_block_once_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let record = record_file(dir.path());
    let task = grid("t", 6).num_workers(2).build().unwrap();
    let report = run_blockwise(
        &[task],
        options(dir.path(), worker(&format!("record={}", record.display()))),
    )
    .unwrap();
    assert!(report.succeeded(), "{report}");
    assert_each_once(&recorded(&record), 36);
    let t = report.task("t").unwrap();
    assert_eq!(t.workers_started, 2);
    let logs: Vec<_> = std::fs::read_dir(dir.path().join("daisy_logs/t"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        logs.len(),
        4,
        "worker_N.out and .err for two workers: {logs:?}"
    );
}

#[test]
fn sigkill_while_holding_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let (record, marker) = (record_file(dir.path()), dir.path().join("killed"));
    let directives = format!(
        "record={},kill_once=4@{},sleep_ms=20",
        record.display(),
        marker.display()
    );
    let task = grid("t", 6).num_workers(2).build().unwrap();
    let mut opts = options(dir.path(), worker(&directives));
    opts.server.prefetch = 4;
    let report = run_blockwise(&[task], opts).unwrap();
    assert!(marker.exists(), "the worker killed itself");
    assert!(report.succeeded(), "{report}");
    assert_each_once(&recorded(&record), 36);
    let t = report.task("t").unwrap();
    assert!(
        t.failures.iter().any(|f| f.error.starts_with("lost")),
        "{:?}",
        t.failures
    );
    assert_eq!(t.workers_started, 3, "the killed worker was replaced once");
}

#[test]
fn hung_block_times_out_and_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let (record, marker) = (record_file(dir.path()), dir.path().join("hung"));
    let directives = format!(
        "record={},hang_once=4@{}",
        record.display(),
        marker.display()
    );
    let task = grid("t", 4)
        .num_workers(2)
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let start = Instant::now();
    let report = run_blockwise(&[task], options(dir.path(), worker(&directives))).unwrap();
    assert!(marker.exists());
    assert!(report.succeeded(), "{report}");
    assert_each_once(&recorded(&record), 16);
    let t = report.task("t").unwrap();
    assert!(
        t.failures.iter().any(|f| f.error.contains("timed out")),
        "{:?}",
        t.failures
    );
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn always_crashing_workers_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let task = grid("t", 3)
        .num_workers(2)
        .max_worker_restarts(3)
        .build()
        .unwrap();
    let start = Instant::now();
    let report = run_blockwise(&[task], options(dir.path(), worker("exit=1"))).unwrap();
    assert!(!report.succeeded());
    let t = report.task("t").unwrap();
    assert!(
        t.abandoned
            .as_deref()
            .unwrap_or("")
            .contains("max_worker_restarts = 3"),
        "{:?}",
        t.abandoned
    );
    assert_eq!(t.workers_started, 5, "2 workers and 3 replacements");
    assert_eq!(t.state.orphaned_count, 9);
    assert!(report.to_string().contains("abandoned"));
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn failing_block_fails_for_good_and_orphans_downstream() {
    let dir = tempfile::tempdir().unwrap();
    let task = grid("t", 4).num_workers(2).max_retries(1).build().unwrap();
    let report = run_blockwise(&[task], options(dir.path(), worker("fail=4"))).unwrap();
    assert!(!report.succeeded());
    let t = report.task("t").unwrap();
    assert_eq!(t.state.failed_count, 1);
    assert!(t.state.orphaned_count > 0);
    assert_eq!(
        t.state.completed_count + t.state.failed_count + t.state.orphaned_count,
        16
    );
    assert_eq!(t.failures.len(), 2, "two attempts");
    assert!(
        t.failures
            .iter()
            .all(|f| f.error.contains("block 4 fails on purpose") && f.block_id.spatial_id == 4)
    );
    assert!(t.failures[0].log_files.is_some());
    let summary = report.to_string();
    assert!(summary.contains("block 4 in worker"), "{summary}");
    assert!(summary.contains("daisy_logs/t/worker_"), "{summary}");
}

#[test]
fn chained_tasks_with_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let record = record_file(dir.path());
    let a = grid("A", 5).num_workers(2).build().unwrap();
    let b = grid("B", 5)
        .num_workers(2)
        .upstream_task(&a)
        .build()
        .unwrap();
    let report = run_blockwise(
        &[Arc::clone(&b)],
        options(dir.path(), worker(&format!("record={}", record.display()))),
    )
    .unwrap();
    assert!(report.succeeded(), "{report}");
    let lines = recorded(&record);
    assert_each_once(&lines, 50);
    // Every block was recorded after all the blocks it depends on.
    let position: HashMap<&str, usize> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let graph = DependencyGraph::new([&b]).unwrap();
    for task_id in ["A", "B"] {
        let tiling = graph.task_dependency_graph(task_id).unwrap();
        for level in 0..tiling.num_levels() {
            for block in tiling.level_blocks(level) {
                for up in graph.upstream(&block).unwrap() {
                    let (u, d) = (
                        position[up.block_id.to_string().as_str()],
                        position[block.block_id.to_string().as_str()],
                    );
                    assert!(
                        u < d,
                        "{} ran before its upstream block {}",
                        block.block_id,
                        up.block_id
                    );
                }
            }
        }
    }
}

#[test]
fn client_exception_aborts_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let task = grid("t", 3).build().unwrap();
    let err = run_blockwise(&[task], options(dir.path(), worker("exception"))).unwrap_err();
    assert!(
        err.to_string().contains("the worker's own code failed"),
        "{err}"
    );
}

#[test]
fn report_lists_every_task() {
    let dir = tempfile::tempdir().unwrap();
    let a = grid("A", 2).build().unwrap();
    let b = grid("B", 2).upstream_task(&a).build().unwrap();
    let report: RunReport = run_blockwise(&[b], options(dir.path(), worker(""))).unwrap();
    let ids: Vec<&str> = report.tasks.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["A", "B"]);
    assert!(
        report
            .to_string()
            .contains("all blocks processed successfully")
    );
}

#[test]
fn workers_that_exit_early_are_replaced_only_when_none_is_left() {
    let dir = tempfile::tempdir().unwrap();
    // Exit 0 without working: the last-worker rule starts replacements until the budget is
    // used up, then the task is abandoned; the run ends.
    let task = grid("t", 2)
        .num_workers(2)
        .max_worker_restarts(2)
        .build()
        .unwrap();
    let report = run_blockwise(&[task], options(dir.path(), worker("exit=0"))).unwrap();
    let t = report.task("t").unwrap();
    assert_eq!(
        t.workers_started, 4,
        "2 workers, then one replacement at a time, twice"
    );
    assert!(t.abandoned.is_some());
    assert!(!report.succeeded());
}

#[test]
fn json_event_stream() {
    #[derive(Clone, Default)]
    struct Shared(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let a = grid("A", 3).build().unwrap();
    let b = grid("B", 3).upstream_task(&a).build().unwrap();
    let out = Shared::default();
    let mut opts = options(dir.path(), worker(""));
    opts.json_events = Some(Box::new(out.clone()));
    assert!(run_blockwise(&[b], opts).unwrap().succeeded());
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for task in ["A", "B"] {
        let kinds: Vec<&str> = events
            .iter()
            .filter(|e| e["task"] == task)
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(kinds.first(), Some(&"start"), "{task}: {kinds:?}");
        assert_eq!(kinds.iter().filter(|k| **k == "start").count(), 1);
        assert_eq!(kinds.iter().filter(|k| **k == "finish").count(), 1);
        let last = events.iter().rfind(|e| e["task"] == task).unwrap();
        assert_eq!(
            (
                last["event"].as_str(),
                last["completed"].as_u64(),
                last["total"].as_u64()
            ),
            (Some("finish"), Some(9), Some(9))
        );
        for key in [
            "t",
            "ready",
            "processing",
            "skipped",
            "failed",
            "orphaned",
            "workers",
            "failures",
        ] {
            assert!(last.get(key).is_some(), "{key} missing");
        }
    }
}
