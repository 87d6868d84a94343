//! End to end on a real SLURM cluster (scripts/slurm-local.sh, started by scripts/test.sh):
//! `run_blockwise` whose workers are SLURM jobs on several simulated nodes, and a worker job
//! cancelled with `scancel` in the middle of a run, and jobs that never start. Runs when
//! `DAISY_TEST_SLURM=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use daisy::{SlurmLauncher, SlurmOptions, run_blockwise};

mod common;
use common::{assert_each_once, grid, options, recorded};

fn enabled(test: &str) -> bool {
    let on = std::env::var("DAISY_TEST_SLURM").is_ok_and(|v| v == "1");
    if !on {
        println!("skipping {test}: set DAISY_TEST_SLURM=1 and SLURM_CONF to run it");
    }
    on
}

/// Jobs that append their node's name to `nodes`, then run the testkit's worker with
/// `directives`.
fn slurm_workers(directives: &str, nodes: &Path, options: SlurmOptions) -> Arc<SlurmLauncher> {
    let script = format!(
        "echo \"$SLURMD_NODENAME\" >> '{}'; DAISY_TEST_WORKER='{directives}' exec '{}'",
        nodes.display(),
        env!("CARGO_BIN_EXE_daisy-test-worker")
    );
    Arc::new(SlurmLauncher::new("sh", ["-c", &script], options))
}

/// The job states of a job not yet ended: queued, starting, running, suspended or ending.
const LIVE: &str = "PD,CF,R,S,CG";

/// The ids of the jobs named `daisy-<task>-*` in `states` (`squeue -t`): running ones
/// (`"R"`) or all not yet ended ([`LIVE`]).
fn jobs(task: &str, states: &str) -> Vec<String> {
    let out = Command::new("squeue")
        .args(["-h", "-t", states, "-o", "%i %j"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, name)| name.starts_with(&format!("daisy-{task}-")))
        .map(|(id, _)| id.to_owned())
        .collect()
}

#[test]
fn workers_as_slurm_jobs_on_several_nodes_run_every_block_once() {
    if !enabled("workers_as_slurm_jobs_on_several_nodes_run_every_block_once") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (record, nodes) = (dir.path().join("record.txt"), dir.path().join("nodes.txt"));
    let task = grid("slurm_e2e", 6).num_workers(3).build().unwrap();
    // A whole node per job, so three jobs run on three nodes.
    let launcher = slurm_workers(
        &format!("record={},sleep_ms=20", record.display()),
        &nodes,
        SlurmOptions {
            extra_args: vec!["--exclusive".into()],
            ..SlurmOptions::default()
        },
    );
    let report = run_blockwise(&[task], options(dir.path(), launcher)).unwrap();
    assert!(report.succeeded(), "{report}");
    assert_each_once(&recorded(&record), 36);
    let used: BTreeSet<String> = recorded(&nodes).into_iter().collect();
    assert!(used.len() >= 2, "every job ran on {used:?}");
    // The jobs' output is in the run's log directory, as for local workers.
    let logs = std::fs::read_dir(dir.path().join("daisy_logs/slurm_e2e"))
        .unwrap()
        .count();
    assert!(logs >= 6, "{logs} log files");
    assert!(
        jobs("slurm_e2e", LIVE).is_empty(),
        "jobs queued or running after the run"
    );
}

#[test]
fn a_worker_job_cancelled_mid_run_has_its_blocks_retried() {
    if !enabled("a_worker_job_cancelled_mid_run_has_its_blocks_retried") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (record, nodes) = (dir.path().join("record.txt"), dir.path().join("nodes.txt"));
    let task = grid("slurm_cancel", 5).num_workers(2).build().unwrap();
    let launcher = slurm_workers(
        &format!("record={},sleep_ms=150", record.display()),
        &nodes,
        SlurmOptions::default(),
    );
    let canceller = {
        let record = record.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(60) {
                let jobs = jobs("slurm_cancel", "R");
                if recorded(&record).len() >= 3 && !jobs.is_empty() {
                    let status = Command::new("scancel").arg(&jobs[0]).status().unwrap();
                    assert!(status.success());
                    return jobs[0].clone();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            panic!("no worker job ran blocks within 60 s");
        })
    };
    let report = run_blockwise(&[task], options(dir.path(), launcher)).unwrap();
    let cancelled = canceller.join().unwrap();
    assert!(report.succeeded(), "{report}");
    assert_each_once(&recorded(&record), 25);
    let t = report.task("slurm_cancel").unwrap();
    assert!(
        t.workers_started >= 3,
        "job {cancelled} was replaced: {} workers started",
        t.workers_started
    );
    assert!(
        jobs("slurm_cancel", LIVE).is_empty(),
        "jobs queued or running after the run"
    );
}

#[test]
fn jobs_that_never_start_are_reported_with_slurms_reason_and_the_run_ends() {
    if !enabled("jobs_that_never_start_are_reported_with_slurms_reason_and_the_run_ends") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let task = grid("slurm_pending", 2)
        .num_workers(1)
        .max_worker_restarts(1)
        .build()
        .unwrap();
    // Held until an hour from now: pending with Reason=BeginTime, past the limit of 1 s.
    let launcher = SlurmLauncher::new(
        "true",
        Vec::<String>::new(),
        SlurmOptions {
            extra_args: vec!["--begin=now+1hour".into()],
            ..SlurmOptions::default()
        },
    )
    .pending_limit(Duration::from_secs(1));
    let start = Instant::now();
    let report = run_blockwise(&[task], options(dir.path(), Arc::new(launcher))).unwrap();
    assert!(start.elapsed() < Duration::from_secs(60), "{report}");
    assert!(!report.succeeded());
    let t = report.task("slurm_pending").unwrap();
    assert!(t.abandoned.is_some(), "{report}");
    assert_eq!(t.workers_started, 2, "the first job and one restart");
    for failure in &t.worker_failures {
        let reason = failure.reason.as_deref().unwrap_or_default();
        assert!(
            reason.contains("still pending") && reason.contains("Reason=BeginTime"),
            "{reason}"
        );
    }
    assert!(report.to_string().contains("Reason=BeginTime"), "{report}");
    assert!(
        jobs("slurm_pending", LIVE).is_empty(),
        "jobs queued or running after the run"
    );
}
