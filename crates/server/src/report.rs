//! What a run returns: every task's final state, every failed block and every failed worker.

use std::fmt;
use std::path::PathBuf;

use daisy_core::{BlockId, TaskState};
use daisy_launch::WorkerExit;

/// One failed attempt of a block.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockFailure {
    /// The block.
    pub block_id: BlockId,
    /// The worker that held it, if known.
    pub worker_id: Option<u64>,
    /// What went wrong: the block function's error text, "lost: …" or "post-check failed".
    pub error: String,
    /// The worker's `.out` and `.err` files (in this order), if its output is redirected.
    pub log_files: Option<(PathBuf, PathBuf)>,
}

/// A worker that ended with a failure (a crash, a non-zero exit code, a spawn function that
/// raised) while the run went on (docs/semantics.md#worker-restarts).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerFailure {
    /// The worker.
    pub worker_id: u64,
    /// How it ended.
    pub exit: WorkerExit,
    /// The worker's `.out` and `.err` files (in this order), if its output is redirected.
    pub log_files: Option<(PathBuf, PathBuf)>,
}

/// The outcome of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskReport {
    /// The task.
    pub task_id: String,
    /// Its final counters.
    pub state: TaskState,
    /// Why it was abandoned, if it was.
    pub abandoned: Option<String>,
    /// Every failed attempt, in arrival order.
    pub failures: Vec<BlockFailure>,
    /// Every worker that failed, in the order they were found to have ended.
    pub worker_failures: Vec<WorkerFailure>,
    /// How many workers were started for it (replacements included).
    pub workers_started: u64,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunReport {
    /// Every task, upstream tasks included, in the order they started (then the others).
    pub tasks: Vec<TaskReport>,
    /// Whether the run was stopped (Ctrl-C) before it finished.
    pub interrupted: bool,
}

impl RunReport {
    /// Whether every block of every task succeeded or was skipped.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        !self.interrupted
            && self.tasks.iter().all(|t| {
                t.abandoned.is_none() && t.state.completed_count == t.state.total_block_count
            })
    }

    /// The report of one task.
    #[must_use]
    pub fn task(&self, task_id: &str) -> Option<&TaskReport> {
        self.tasks.iter().find(|t| t.task_id == task_id)
    }
}

/// daisy's Execution Summary (docs/semantics.md#progress-and-the-execution-summary), line for line as daisy prints it.
impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines: Vec<String> = vec![
            String::new(),
            "Execution Summary".into(),
            "-----------------".into(),
        ];
        if self.interrupted {
            lines.extend([
                String::new(),
                "  The run was interrupted before every block was processed.".into(),
            ]);
        }
        for task in &self.tasks {
            let s = &task.state;
            lines.extend([
                String::new(),
                format!("  Task {}:", task.task_id),
                String::new(),
            ]);
            lines.push(format!("    num blocks : {}", s.total_block_count));
            lines.push(format!(
                "    completed ✔: {} (skipped {})",
                s.completed_count, s.skipped_count
            ));
            lines.push(format!("    failed    ✗: {}", s.failed_count));
            lines.push(format!("    orphaned  ∅: {}", s.orphaned_count));
            if let Some(reason) = &task.abandoned {
                lines.push(format!("    abandoned  : {reason}"));
            }
            lines.push(String::new());
            if !task.failures.is_empty() {
                lines.extend(["    Failed Blocks:".into(), String::new()]);
                for failure in task.failures.iter().take(MAX_FAILURE_LINES) {
                    lines.push(format!(
                        "      block {} in {} with exception {}",
                        failure.block_id.spatial_id,
                        crate::error::worker_text(failure.worker_id),
                        failure.error
                    ));
                }
                if task.failures.len() > MAX_FAILURE_LINES {
                    lines.push(format!(
                        "      (and {} more)",
                        task.failures.len() - MAX_FAILURE_LINES
                    ));
                }
            }
            if !task.worker_failures.is_empty() {
                if !task.failures.is_empty() {
                    lines.push(String::new());
                }
                lines.extend(["    Failed Workers:".into(), String::new()]);
                for failure in task.worker_failures.iter().take(MAX_FAILURE_LINES) {
                    lines.push(format!(
                        "      worker {} {}",
                        failure.worker_id, failure.exit
                    ));
                }
                if task.worker_failures.len() > MAX_FAILURE_LINES {
                    lines.push(format!(
                        "      (and {} more)",
                        task.worker_failures.len() - MAX_FAILURE_LINES
                    ));
                }
            }
            let logs: Vec<_> = task
                .failures
                .iter()
                .filter_map(|x| x.log_files.as_ref())
                .chain(
                    task.worker_failures
                        .iter()
                        .filter_map(|x| x.log_files.as_ref()),
                )
                .collect();
            if !logs.is_empty() {
                lines.extend([
                    String::new(),
                    "    See worker logs for details:".into(),
                    String::new(),
                ]);
                for (_, err) in logs.iter().take(MAX_LOG_LINES) {
                    lines.push(format!("      {} / .out", err.display()));
                }
                if logs.len() > MAX_LOG_LINES {
                    lines.push("      ...".into());
                }
            }
            if s.completed_count == s.total_block_count {
                lines.push("    all blocks processed successfully".into());
            }
        }
        writeln!(f, "{}", lines.join("\n"))
    }
}

/// At most this many "Failed Blocks" lines per task, then `(and N more)`.
const MAX_FAILURE_LINES: usize = 100;
/// At most this many worker log lines per task, then `...`.
const MAX_LOG_LINES: usize = 10;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use daisy_launch::log_file_paths;

    use super::*;

    #[test]
    fn summary_in_daisy_format() {
        let failure = BlockFailure {
            block_id: BlockId {
                task_id: "A".into(),
                spatial_id: 3,
            },
            worker_id: Some(1),
            error: "RuntimeError('boom')".into(),
            log_files: Some(log_file_paths(Path::new("daisy_logs/A/worker_1"))),
        };
        let report = RunReport {
            tasks: vec![
                TaskReport {
                    task_id: "A".into(),
                    state: TaskState {
                        total_block_count: 9,
                        completed_count: 8,
                        failed_count: 1,
                        ..Default::default()
                    },
                    abandoned: None,
                    failures: vec![failure.clone(), failure],
                    worker_failures: vec![],
                    workers_started: 2,
                },
                TaskReport {
                    task_id: "B".into(),
                    state: TaskState {
                        total_block_count: 9,
                        completed_count: 8,
                        orphaned_count: 1,
                        ..Default::default()
                    },
                    abandoned: None,
                    failures: vec![],
                    worker_failures: vec![],
                    workers_started: 1,
                },
            ],
            interrupted: false,
        };
        // The files as the launchers name them; byte for byte the example of docs/semantics.md#progress-and-the-execution-summary (which ends with a blank line).
        let expected = "\nExecution Summary\n-----------------\n\n  Task A:\n\n    num blocks : 9\n    completed ✔: 8 (skipped 0)\n    failed    ✗: 1\n    orphaned  ∅: 0\n\n    Failed Blocks:\n\n      block 3 in worker 1 with exception RuntimeError('boom')\n      block 3 in worker 1 with exception RuntimeError('boom')\n\n    See worker logs for details:\n\n      daisy_logs/A/worker_1.err / .out\n      daisy_logs/A/worker_1.err / .out\n\n  Task B:\n\n    num blocks : 9\n    completed ✔: 8 (skipped 0)\n    failed    ✗: 0\n    orphaned  ∅: 1\n\n";
        assert_eq!(report.to_string(), expected);
        assert!(!report.succeeded());
    }

    #[test]
    fn failed_workers_and_interruptions_are_summarised() {
        let report = RunReport {
            tasks: vec![TaskReport {
                task_id: "S".into(),
                state: TaskState {
                    total_block_count: 4,
                    orphaned_count: 4,
                    ..Default::default()
                },
                abandoned: Some("no worker left".into()),
                failures: vec![],
                worker_failures: vec![
                    WorkerFailure {
                        worker_id: 7,
                        exit: WorkerExit::Failed {
                            code: Some(1),
                            signal: None,
                        },
                        log_files: Some(log_file_paths(Path::new("daisy_logs/S/worker_7"))),
                    },
                    WorkerFailure {
                        worker_id: 8,
                        exit: WorkerExit::Failed {
                            code: None,
                            signal: Some(9),
                        },
                        log_files: None,
                    },
                ],
                workers_started: 2,
            }],
            interrupted: true,
        };
        let expected = "\nExecution Summary\n-----------------\n\n  The run was interrupted before every block was processed.\n\n  Task S:\n\n    num blocks : 4\n    completed ✔: 0 (skipped 0)\n    failed    ✗: 0\n    orphaned  ∅: 4\n    abandoned  : no worker left\n\n    Failed Workers:\n\n      worker 7 failed with exit code 1\n      worker 8 killed by signal 9\n\n    See worker logs for details:\n\n      daisy_logs/S/worker_7.err / .out\n";
        assert_eq!(report.to_string(), expected);
        assert!(!report.succeeded());
    }
}
