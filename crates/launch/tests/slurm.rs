//! `SlurmLauncher` on a real SLURM cluster (scripts/slurm-local.sh, started by scripts/test.sh):
//! the launcher checks, jobs spread over the simulated nodes, and a job SLURM refuses. Runs
//! when `DAISY_TEST_SLURM=1` (and `SLURM_CONF` names the cluster); skips otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use daisy_launch::conformance::{self, scripts};
use daisy_launch::{LaunchError, Launcher, SlurmLauncher, SlurmOptions, WorkerExit};

fn enabled(test: &str) -> bool {
    let on = std::env::var("DAISY_TEST_SLURM").is_ok_and(|v| v == "1");
    if !on {
        println!(
            "skipping {test}: set DAISY_TEST_SLURM=1 and SLURM_CONF (eval \"$(scripts/slurm-local.sh start)\") to run it"
        );
    }
    on
}

fn sh(script: &str) -> SlurmLauncher {
    SlurmLauncher::new("sh", ["-c", script], SlurmOptions::default())
}

#[test]
fn the_launcher_checks() {
    if !enabled("the_launcher_checks") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("daisy_logs");
    conformance::worker_that_succeeds_is_reaped(
        &sh("exit 0"),
        &conformance::spec("A", 0, Some(&logs)),
    );
    conformance::context_reaches_worker_and_output_is_redirected(
        &sh(scripts::ECHO_CONTEXT),
        &conformance::spec("A", 1, Some(&logs)),
    );
    conformance::worker_that_fails_is_reported(
        &sh(scripts::EXIT_3),
        &conformance::spec("A", 2, Some(&logs)),
        Some(3),
    );
    let exit = conformance::running_worker_can_be_killed(
        &sh(scripts::SLEEP),
        &conformance::spec("A", 3, None),
    );
    assert!(matches!(exit, WorkerExit::Failed { .. }), "{exit:?}");
}

#[test]
fn jobs_run_on_several_nodes() {
    if !enabled("jobs_run_on_several_nodes") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("daisy_logs");
    // Each job holds its CPUs a while, so that the scheduler places the next ones elsewhere.
    let launcher = SlurmLauncher::new(
        "sh",
        ["-c", "printf '%s' \"$SLURMD_NODENAME\"; sleep 2"],
        SlurmOptions {
            cpus_per_task: Some(1),
            extra_args: vec!["--exclusive".into()],
            ..SlurmOptions::default()
        },
    );
    let mut handles: Vec<_> = (0..3)
        .map(|w| {
            let spec = conformance::spec("spread", w, Some(&logs));
            (launcher.launch(&spec).unwrap(), spec)
        })
        .collect();
    let mut nodes = BTreeSet::new();
    for (handle, _) in &mut handles {
        let exit = conformance::wait_for_exit(handle.as_mut(), Duration::from_secs(60));
        assert_eq!(exit, Some(WorkerExit::Success));
        let (out, _) = handle.log_files().unwrap();
        nodes.insert(std::fs::read_to_string(out).unwrap());
    }
    assert!(nodes.len() >= 2, "all jobs ran on {nodes:?}");
}

#[test]
fn a_job_slurm_refuses_is_an_error_with_slurms_reason() {
    if !enabled("a_job_slurm_refuses_is_an_error_with_slurms_reason") {
        return;
    }
    let launcher = SlurmLauncher::new(
        "true",
        Vec::<String>::new(),
        SlurmOptions {
            partition: Some("no-such-partition".into()),
            ..SlurmOptions::default()
        },
    );
    match launcher.launch(&conformance::spec("A", 0, None)) {
        Err(LaunchError::Refused { command, reason }) => {
            assert_eq!(command, "sbatch");
            assert!(reason.contains("invalid partition"), "{reason}");
        }
        Err(e) => panic!("expected Refused, got {e}"),
        Ok(_) => panic!("sbatch accepted a job for a partition that does not exist"),
    }
}

#[test]
fn a_job_pending_past_the_limit_is_cancelled_with_slurms_reason() {
    if !enabled("a_job_pending_past_the_limit_is_cancelled_with_slurms_reason") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("daisy_logs");
    // Held until an hour from now: pending with Reason=BeginTime.
    let launcher = SlurmLauncher::new(
        "true",
        Vec::<String>::new(),
        SlurmOptions {
            extra_args: vec!["--begin=now+1hour".into()],
            ..SlurmOptions::default()
        },
    )
    .pending_limit(Duration::from_secs(1));
    let spec = conformance::spec("pending", 0, Some(&logs));
    let mut handle = launcher.launch(&spec).unwrap();
    let exit = conformance::wait_for_exit(handle.as_mut(), Duration::from_secs(30));
    assert!(matches!(exit, Some(WorkerExit::Failed { .. })), "{exit:?}");
    let (_, err) = handle.log_files().unwrap();
    let said = std::fs::read_to_string(err).unwrap();
    assert!(
        said.contains("still pending") && said.contains("Reason=BeginTime"),
        "{said}"
    );
    let queued = std::process::Command::new("squeue")
        .args(["-h", "-n", "daisy-pending-0", "-o", "%i"])
        .output()
        .unwrap();
    assert!(queued.stdout.is_empty(), "the job is still queued");
}
