//! The scheduler is killed mid-run and restarted: with a done marker, only unfinished blocks
//! run again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use daisy::{DoneMarker, Roi, Task};

#[test]
fn killed_scheduler_resumes_from_its_done_marker() {
    let dir = tempfile::tempdir().unwrap();
    let (record1, record2) = (dir.path().join("first.txt"), dir.path().join("second.txt"));
    let run = |record: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_daisy-test-run"))
            .arg(dir.path())
            .arg("8")
            .arg(env!("CARGO_BIN_EXE_daisy-test-worker"))
            .arg(format!("record={},sleep_ms=15", record.display()))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };

    // First run: kill the scheduler (SIGKILL, no cleanup) once some blocks are done.
    let mut first = run(&record1);
    let start = Instant::now();
    while std::fs::read_to_string(&record1).map_or(0, |s| s.lines().count()) < 20 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first run made no progress"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    first.kill().unwrap();
    first.wait().unwrap();

    // What the marker says is done now (its workers may still finish a block or two, but they
    // cannot report them any more: the scheduler is gone).
    let task = Task::builder(
        "t",
        Roi::from_values(&[0, 0], &[82, 82]).unwrap(),
        Roi::from_values(&[0, 0], &[12, 12]).unwrap(),
        Roi::from_values(&[1, 1], &[10, 10]).unwrap(),
    )
    .build()
    .unwrap();
    let marker = DoneMarker::open(&dir.path().join("t.done"), &task).unwrap();
    let tiling = task.tiling();
    let all: Vec<u64> = (0..tiling.num_levels())
        .flat_map(|l| {
            tiling
                .level_blocks(l)
                .map(|b| b.spatial_id())
                .collect::<Vec<_>>()
        })
        .collect();
    let done: HashSet<u64> = all
        .iter()
        .copied()
        .filter(|&id| marker.is_done(id).unwrap())
        .collect();
    assert!(done.len() >= 15, "{} blocks marked", done.len());
    assert!(done.len() < 64);

    // Second run: only the unfinished blocks run.
    let output = run(&record2).wait_with_output().unwrap();
    let report = String::from_utf8(output.stdout).unwrap();
    assert!(report.contains("\"succeeded\": true"), "{report}");
    assert!(
        report.contains(&format!("\"skipped\": {}", done.len())),
        "{report}"
    );
    let second: Vec<u64> = std::fs::read_to_string(&record2)
        .unwrap()
        .lines()
        .map(|l| l.rsplit('/').next().unwrap().parse().unwrap())
        .collect();
    assert!(
        second.iter().all(|id| !done.contains(id)),
        "a finished block ran again"
    );
    let covered: HashSet<u64> = done.iter().chain(&second).copied().collect();
    assert_eq!(covered.len(), 64);
    assert_eq!(
        second.len(),
        64 - done.len(),
        "each unfinished block ran once"
    );
}

#[test]
fn ctrl_c_stops_the_run_and_prints_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record.txt");
    let child = Command::new(env!("CARGO_BIN_EXE_daisy-test-run"))
        .arg(dir.path())
        .arg("8")
        .arg(env!("CARGO_BIN_EXE_daisy-test-worker"))
        .arg(format!("record={},sleep_ms=50", record.display()))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::fs::read_to_string(&record).map_or(0, |s| s.lines().count()) < 4 {
        assert!(start.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let stopped = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "the run did not stop promptly"
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("Execution Summary"), "{stdout}");
    assert!(stdout.contains("\"succeeded\": false"), "{stdout}");
    // Its workers are gone too (each names the record file in its environment), and none of
    // them recorded a block after the run ended.
    let n = std::fs::read_to_string(&record).unwrap().lines().count();
    let needle = record.display().to_string();
    let start = Instant::now();
    while let Some(pid) = live_process_with_env(&needle) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "worker {pid} of the stopped run is still alive"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(std::fs::read_to_string(&record).unwrap().lines().count(), n);
    assert!(n < 64);
}

/// A live process (zombies have no environment) with `needle` in one of its environment
/// variables, if there is one.
fn live_process_with_env(needle: &str) -> Option<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .find_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            // A process may end while it is looked at: what cannot be read is gone.
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            environ
                .split(|&b| b == 0)
                .any(|var| String::from_utf8_lossy(var).contains(needle))
                .then_some(pid)
        })
}
