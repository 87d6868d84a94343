//! `SlurmLauncher`: each worker is a SLURM batch job, submitted with `sbatch`, watched with
//! `scontrol show job` and cancelled with `scancel`.

use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use crate::launcher::log_file_paths;
use crate::process_handle::create_log_file;
use crate::template::shell_quote;
use crate::{LaunchError, Launcher, WorkerExit, WorkerHandle, WorkerSpec};

/// How often a handle asks SLURM for its job's state at most.
const POLL_EVERY: Duration = Duration::from_millis(250);
/// How long [`WorkerHandle::kill`] waits for a cancelled job to end.
const CANCEL_WAIT: Duration = Duration::from_secs(60);

/// The `sbatch` options of a task's jobs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time` (SLURM's formats: `MM`, `HH:MM:SS`, `D-HH`, ...).
    pub time: Option<String>,
    /// `--mem` (e.g. `4G`).
    pub mem: Option<String>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<u32>,
    /// `--gpus`.
    pub gpus: Option<u32>,
    /// Further `sbatch` arguments, as given (e.g. `--account=lab`, `--qos=short`).
    pub extra_args: Vec<String>,
}

impl SlurmOptions {
    /// The `sbatch` arguments for these options.
    fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        let mut push = |flag: &str, value: Option<String>| {
            if let Some(value) = value {
                args.push(format!("--{flag}={value}"));
            }
        };
        push("partition", self.partition.clone());
        push("time", self.time.clone());
        push("mem", self.mem.clone());
        push("cpus-per-task", self.cpus_per_task.map(|c| c.to_string()));
        push("gpus", self.gpus.map(|g| g.to_string()));
        args.extend(self.extra_args.iter().cloned());
        args
    }
}

/// Starts each worker as a SLURM batch job running `program` with `args`.
///
/// Every job gets `DAISY_CONTEXT` (through `sbatch`'s environment, which SLURM hands to the
/// job), the job name `daisy-<task>-<worker>`, and its stdout / stderr in
/// `<log_basename>.out` / `.err` on the submitting machine's paths (the directory is created
/// before submitting: SLURM ends a job whose output directory is missing without a trace);
/// without a log basename they go to `/dev/null`. A submission `sbatch` refuses is a
/// [`LaunchError::Refused`] with SLURM's own message. A job SLURM ends (time limit,
/// preemption, node failure, `scancel`) is a failed worker; killing or dropping the handle of
/// a queued or running job cancels it. The server's address in the context must be reachable
/// from the compute nodes.
#[derive(Debug, Clone)]
pub struct SlurmLauncher {
    program: OsString,
    args: Vec<OsString>,
    options: SlurmOptions,
    pending_limit: Option<Duration>,
}

impl SlurmLauncher {
    /// A launcher whose jobs run `program` (looked up in the job's `PATH` if it has no `/`)
    /// with `args`, submitted with `options`.
    pub fn new<I, S>(program: impl Into<OsString>, args: I, options: SlurmOptions) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            options,
            pending_limit: None,
        }
    }

    /// Cancels a job still queued `limit` after its submission, as a failed worker (which
    /// counts against the task's worker restarts), writing SLURM's reason for the wait (e.g.
    /// `Resources`, `Priority`, `ReqNodeNotAvail`) to the worker's `.err` log and the run's
    /// log. Without a limit a job may wait in the queue for as long as SLURM keeps it.
    #[must_use]
    pub fn pending_limit(mut self, limit: Duration) -> Self {
        self.pending_limit = Some(limit);
        self
    }

    /// The job's shell command: the program and its arguments, each quoted.
    pub fn command_line(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Launcher for SlurmLauncher {
    /// Submits the job of the worker of `spec`.
    ///
    /// # Errors
    ///
    /// [`LaunchError::LogFile`] if the log directory cannot be created,
    /// [`LaunchError::Spawn`] if `sbatch` cannot be run, [`LaunchError::Refused`] if it
    /// refuses the job.
    fn launch(&self, spec: &WorkerSpec) -> Result<Box<dyn WorkerHandle>, LaunchError> {
        let logs = spec.log_basename.as_deref().map(log_file_paths);
        // Made here, before the job exists: SLURM ends a job whose output directory is
        // missing without a trace.
        if let Some((out, err)) = &logs {
            create_log_file(out)?;
            create_log_file(err)?;
        }
        let null = || PathBuf::from("/dev/null");
        let (out, err) = logs.clone().unwrap_or_else(|| (null(), null()));
        let mut command = Command::new("sbatch");
        command
            .arg("--parsable")
            .arg(format!(
                "--job-name=daisy-{}-{}",
                spec.task_id, spec.worker_id
            ))
            .arg(format!("--output={}", out.display()))
            .arg(format!("--error={}", err.display()))
            .args(self.options.args())
            .arg(format!("--wrap=exec {}", self.command_line()))
            .env(daisy_protocol::ENV_VARIABLE, spec.context.to_env());
        let output = run("sbatch", &mut command)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(LaunchError::Refused {
                command: "sbatch".into(),
                reason: slurm_message(&output),
            });
        }
        // `--parsable` prints `<job id>` or `<job id>;<cluster>`.
        let job_id = stdout
            .trim()
            .split(';')
            .next()
            .and_then(|id| id.parse::<u64>().ok())
            .ok_or_else(|| LaunchError::Refused {
                command: "sbatch".into(),
                reason: format!("printed no job id: {:?}", stdout.trim()),
            })?;
        tracing::debug!(job_id, worker_id = spec.worker_id, task = %spec.task_id, "submitted");
        Ok(Box::new(SlurmHandle {
            job_id,
            worker_id: spec.worker_id,
            logs,
            exit: None,
            last_poll: None,
            submitted: Instant::now(),
            pending_limit: self.pending_limit,
            failure: None,
        }))
    }

    fn name(&self) -> &str {
        "slurm"
    }
}

/// Runs a SLURM command and collects its output.
fn run(program: &str, command: &mut Command) -> Result<Output, LaunchError> {
    command.output().map_err(|e| LaunchError::Spawn {
        program: program.into(),
        source: Box::new(e),
    })
}

/// What a failed SLURM command said (stderr, else stdout), without its `sbatch: error: `
/// prefixes.
fn slurm_message(output: &Output) -> String {
    let text = if output.stderr.is_empty() {
        &output.stdout
    } else {
        &output.stderr
    };
    let text = String::from_utf8_lossy(text);
    let lines: Vec<&str> = text
        .lines()
        .map(|l| {
            l.trim_start_matches("sbatch: error: ")
                .trim_start_matches("error: ")
        })
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        format!("exited with {}", output.status)
    } else {
        lines.join("; ")
    }
}

/// A job as `scontrol show job` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JobState {
    /// `JobState`, e.g. `PENDING`, `RUNNING`, `COMPLETED`, `CANCELLED`.
    state: String,
    /// `Reason`: why a job waits (or `None`).
    reason: String,
    /// `ExitCode`'s code and signal.
    exit: (i32, i32),
}

impl JobState {
    /// Parses one line of `scontrol show job -o`.
    fn parse(line: &str) -> Option<JobState> {
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        };
        let state = field("JobState")?.to_owned();
        let reason = field("Reason").unwrap_or("None").to_owned();
        let (code, signal) = field("ExitCode")?.split_once(':')?;
        Some(JobState {
            state,
            reason,
            exit: (code.parse().ok()?, signal.parse().ok()?),
        })
    }

    /// How job `job_id` ended, in SLURM's words: `SLURM job 7 ended TIMEOUT (Reason=...)`.
    fn describe(&self, job_id: u64) -> String {
        if self.state == "UNKNOWN" {
            return format!("SLURM job {job_id} ended unrecorded (SLURM no longer knows it)");
        }
        let reason = match self.reason.as_str() {
            "None" => String::new(),
            reason => format!(" (Reason={reason})"),
        };
        format!("SLURM job {job_id} ended {}{reason}", self.state)
    }

    /// The worker's exit once the job has ended, `None` while it is queued or runs.
    fn exit(&self) -> Option<WorkerExit> {
        match self.state.as_str() {
            "PENDING" | "CONFIGURING" | "RUNNING" | "COMPLETING" | "SUSPENDED" | "REQUEUED"
            | "RESIZING" | "SIGNALING" | "STAGE_OUT" => None,
            "COMPLETED" if self.exit == (0, 0) => Some(WorkerExit::Success),
            state => {
                // A job SLURM cancelled or timed out may report no signal of its own.
                let killed = matches!(state, "CANCELLED" | "TIMEOUT");
                Some(WorkerExit::Failed {
                    code: Some(self.exit.0).filter(|&c| c != 0),
                    signal: Some(self.exit.1)
                        .filter(|&s| s != 0)
                        .or(killed.then_some(9)),
                })
            }
        }
    }
}

/// A submitted job.
struct SlurmHandle {
    job_id: u64,
    worker_id: u64,
    logs: Option<(PathBuf, PathBuf)>,
    exit: Option<WorkerExit>,
    last_poll: Option<Instant>,
    submitted: Instant,
    pending_limit: Option<Duration>,
    /// Why the job failed, in SLURM's terms (see [`WorkerHandle::failure_reason`]).
    failure: Option<String>,
}

impl SlurmHandle {
    /// Cancels the job that waited too long for `reason`, and notes why in the `.err` log.
    fn give_up_waiting(&mut self, reason: &str) -> Result<WorkerExit, LaunchError> {
        let waited = self.submitted.elapsed().as_secs_f64();
        let message = format!(
            "daisy: SLURM job {} was still pending after {waited:.0} s (Reason={reason}); \
             cancelled, the worker counts as failed",
            self.job_id
        );
        tracing::warn!(worker_id = self.worker_id, "{message}");
        if let Some((_, err)) = &self.logs {
            let _ = fs::write(err, format!("{message}\n"));
        }
        self.failure = Some(format!(
            "SLURM job {} still pending after {waited:.0} s (Reason={reason})",
            self.job_id
        ));
        self.kill()
    }

    /// The job's state now; a job SLURM no longer knows has ended (failed, if it never
    /// reported success).
    fn query(&self) -> Result<JobState, LaunchError> {
        let job = self.job_id.to_string();
        let output = run(
            "scontrol",
            Command::new("scontrol").args(["show", "job", "-o", &job]),
        )?;
        let text = String::from_utf8_lossy(&output.stdout);
        if let Some(state) = text.lines().find_map(JobState::parse) {
            return Ok(state);
        }
        if slurm_message(&output).contains("Invalid job id") {
            return Ok(JobState {
                state: "UNKNOWN".into(),
                reason: "None".into(),
                exit: (0, 0),
            });
        }
        Err(LaunchError::Io {
            action: "asking SLURM about",
            worker_id: self.worker_id,
            source: std::io::Error::other(format!(
                "scontrol show job {job}: {}",
                slurm_message(&output)
            )),
        })
    }
}

impl WorkerHandle for SlurmHandle {
    fn worker_id(&self) -> u64 {
        self.worker_id
    }

    fn try_wait(&mut self) -> Result<Option<WorkerExit>, LaunchError> {
        if self.exit.is_some() {
            return Ok(self.exit);
        }
        if self.last_poll.is_some_and(|t| t.elapsed() < POLL_EVERY) {
            return Ok(None);
        }
        self.last_poll = Some(Instant::now());
        let state = self.query()?;
        if state.state == "PENDING"
            && self
                .pending_limit
                .is_some_and(|limit| self.submitted.elapsed() > limit)
        {
            return self.give_up_waiting(&state.reason).map(Some);
        }
        self.exit = state.exit();
        if self.exit.is_some_and(|e| !e.is_success()) {
            self.failure = Some(state.describe(self.job_id));
        }
        Ok(self.exit)
    }

    fn kill(&mut self) -> Result<WorkerExit, LaunchError> {
        if let Some(exit) = self.exit {
            return Ok(exit);
        }
        let job = self.job_id.to_string();
        let output = run("scancel", Command::new("scancel").arg(&job))?;
        if !output.status.success() {
            return Err(LaunchError::Refused {
                command: format!("scancel {job}"),
                reason: slurm_message(&output),
            });
        }
        let start = Instant::now();
        loop {
            if let Some(exit) = self.query()?.exit() {
                self.exit = Some(exit);
                return Ok(exit);
            }
            if start.elapsed() > CANCEL_WAIT {
                return Err(LaunchError::Io {
                    action: "cancelling",
                    worker_id: self.worker_id,
                    source: std::io::Error::other(format!(
                        "job {job} still runs {} s after scancel",
                        CANCEL_WAIT.as_secs()
                    )),
                });
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_files(&self) -> Option<(PathBuf, PathBuf)> {
        self.logs.clone()
    }

    fn pid(&self) -> Option<u32> {
        None
    }

    fn failure_reason(&self) -> Option<String> {
        self.failure.clone()
    }
}

impl Drop for SlurmHandle {
    /// Cancels a job that may still be queued or running (without waiting for it to end).
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = Command::new("scancel")
                .arg(self.job_id.to_string())
                .output();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_sbatch_flags() {
        let options = SlurmOptions {
            partition: Some("gpu".into()),
            time: Some("1:00:00".into()),
            mem: Some("4G".into()),
            cpus_per_task: Some(2),
            gpus: Some(1),
            extra_args: vec!["--account=lab".into()],
        };
        assert_eq!(
            options.args(),
            [
                "--partition=gpu",
                "--time=1:00:00",
                "--mem=4G",
                "--cpus-per-task=2",
                "--gpus=1",
                "--account=lab"
            ]
        );
        assert!(SlurmOptions::default().args().is_empty());
    }

    #[test]
    fn the_command_is_quoted_for_the_job_shell() {
        let l = SlurmLauncher::new("sh", ["-c", "echo 'a b'"], SlurmOptions::default());
        assert_eq!(l.command_line(), r#"sh -c 'echo '\''a b'\'''"#);
    }

    #[test]
    fn job_states_become_exits() {
        let parse = |s: &str| JobState::parse(s).unwrap();
        let line = |state: &str, exit: &str| {
            format!(
                "JobId=7 JobName=x UserId=root(0) JobState={state} Reason=None ExitCode={exit} RunTime=00:00:01"
            )
        };
        assert_eq!(parse(&line("RUNNING", "0:0")).exit(), None);
        assert_eq!(parse(&line("PENDING", "0:0")).exit(), None);
        assert_eq!(
            parse(&line("COMPLETED", "0:0")).exit(),
            Some(WorkerExit::Success)
        );
        assert_eq!(
            parse(&line("FAILED", "3:0")).exit(),
            Some(WorkerExit::Failed {
                code: Some(3),
                signal: None
            })
        );
        assert_eq!(
            parse(&line("CANCELLED", "0:15")).exit(),
            Some(WorkerExit::Failed {
                code: None,
                signal: Some(15)
            })
        );
        assert_eq!(
            parse(&line("TIMEOUT", "0:0")).exit(),
            Some(WorkerExit::Failed {
                code: None,
                signal: Some(9)
            })
        );
        assert_eq!(
            parse(&line("NODE_FAIL", "0:0")).exit(),
            Some(WorkerExit::Failed {
                code: None,
                signal: None
            })
        );
        assert_eq!(
            parse(&line("TIMEOUT", "0:0")).describe(7),
            "SLURM job 7 ended TIMEOUT"
        );
        let node_fail = "JobId=7 JobState=NODE_FAIL Reason=NodeDown ExitCode=0:0";
        assert_eq!(
            parse(node_fail).describe(7),
            "SLURM job 7 ended NODE_FAIL (Reason=NodeDown)"
        );
        assert_eq!(JobState::parse("garbage"), None);
        assert_eq!(JobState::parse("JobState=RUNNING ExitCode=x:y"), None);
    }
}
