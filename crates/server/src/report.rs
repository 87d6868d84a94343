//! What a run returns: every task's final state, every failed block and every failed worker.

use std::collections::HashSet;
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
    /// Why it failed, in the words of what ran it, if that says more than `exit` (e.g.
    /// `SLURM job 7 ended TIMEOUT`, or a job still pending when its wait ran out).
    pub reason: Option<String>,
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
                let groups = group_failures(&task.failures);
                for group in groups.iter().take(MAX_FAILURE_LINES) {
                    group.write(&task.failures, &mut lines);
                }
                if groups.len() > MAX_FAILURE_LINES {
                    let rest = &groups[MAX_FAILURE_LINES..];
                    let failures: usize = rest.iter().map(|g| g.members.len()).sum();
                    lines.push(format!(
                        "      (and {} more errors, {failures} failures)",
                        rest.len()
                    ));
                }
            }
            if !task.worker_failures.is_empty() {
                if !task.failures.is_empty() {
                    lines.push(String::new());
                }
                lines.extend(["    Failed Workers:".into(), String::new()]);
                for failure in task.worker_failures.iter().take(MAX_FAILURE_LINES) {
                    let reason = failure.reason.as_deref().unwrap_or_default();
                    let sep = if reason.is_empty() { "" } else { ": " };
                    lines.push(format!(
                        "      worker {} {}{sep}{reason}",
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
            // Each worker's files once, in the order their failures came.
            let mut seen = HashSet::new();
            let logs: Vec<_> = task
                .failures
                .iter()
                .filter_map(|x| x.log_files.as_ref())
                .chain(
                    task.worker_failures
                        .iter()
                        .filter_map(|x| x.log_files.as_ref()),
                )
                .filter(|files| seen.insert(*files))
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

/// At most this many distinct errors under "Failed Blocks" per task, then `(and N more ...)`.
const MAX_FAILURE_LINES: usize = 100;
/// At most this many block ids named per error.
const MAX_BLOCK_IDS: usize = 5;

/// What makes two errors "the same error": the text with every run of digits (and of hex
/// digits around them, e.g. addresses) read as one placeholder, so that errors naming their
/// block, a file per block or an object address group together
/// (docs/semantics.md#progress-and-the-execution-summary).
#[must_use]
pub(crate) fn error_kind(error: &str) -> String {
    let mut kind = String::with_capacity(error.len());
    let mut run = String::new();
    let flush = |run: &mut String, kind: &mut String| {
        if run.bytes().any(|b| b.is_ascii_digit()) {
            kind.push('#');
        } else {
            kind.push_str(run);
        }
        run.clear();
    };
    for c in error.chars() {
        if c.is_ascii_hexdigit() {
            run.push(c);
        } else {
            flush(&mut run, &mut kind);
            kind.push(c);
        }
    }
    flush(&mut run, &mut kind);
    kind
}

/// The failures of one task with the same [`error_kind`], in arrival order.
struct FailureGroup {
    /// Indices into the task's failures; the first is shown in full.
    members: Vec<usize>,
}

/// The failures grouped by [`error_kind`], groups in the order of their first failure.
fn group_failures(failures: &[BlockFailure]) -> Vec<FailureGroup> {
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut groups: Vec<FailureGroup> = Vec::new();
    for (i, failure) in failures.iter().enumerate() {
        let g = *index.entry(error_kind(&failure.error)).or_insert_with(|| {
            groups.push(FailureGroup {
                members: Vec::new(),
            });
            groups.len() - 1
        });
        groups[g].members.push(i);
    }
    groups
}

impl FailureGroup {
    /// daisy's line for the first failure, then, if more failures are like it, how many
    /// and of which blocks.
    fn write(&self, failures: &[BlockFailure], lines: &mut Vec<String>) {
        let first = &failures[self.members[0]];
        lines.push(format!(
            "      block {} in {} with exception {}",
            first.block_id.spatial_id,
            crate::error::worker_text(first.worker_id),
            first.error
        ));
        let more = self.members.len() - 1;
        if more == 0 {
            return;
        }
        let mut seen = HashSet::new();
        let blocks: Vec<u64> = self
            .members
            .iter()
            .map(|&i| failures[i].block_id.spatial_id)
            .filter(|id| seen.insert(*id))
            .collect();
        let mut named: Vec<String> = blocks
            .iter()
            .take(MAX_BLOCK_IDS)
            .map(u64::to_string)
            .collect();
        if blocks.len() > MAX_BLOCK_IDS {
            named.push(format!("{} others", blocks.len() - MAX_BLOCK_IDS));
        }
        let (noun, ids) = match named.as_slice() {
            [one] => ("block", one.clone()),
            [init @ .., last] => ("blocks", format!("{} and {last}", init.join(", "))),
            [] => ("blocks", String::new()),
        };
        lines.push(format!(
            "        and {more} more like it ({} in all, of {noun} {ids})",
            self.members.len()
        ));
    }
}
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
        let expected = "\nExecution Summary\n-----------------\n\n  Task A:\n\n    num blocks : 9\n    completed ✔: 8 (skipped 0)\n    failed    ✗: 1\n    orphaned  ∅: 0\n\n    Failed Blocks:\n\n      block 3 in worker 1 with exception RuntimeError('boom')\n        and 1 more like it (2 in all, of block 3)\n\n    See worker logs for details:\n\n      daisy_logs/A/worker_1.err / .out\n\n  Task B:\n\n    num blocks : 9\n    completed ✔: 8 (skipped 0)\n    failed    ✗: 0\n    orphaned  ∅: 1\n\n";
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
                        reason: None,
                    },
                    WorkerFailure {
                        worker_id: 8,
                        exit: WorkerExit::Failed {
                            code: None,
                            signal: Some(9),
                        },
                        log_files: None,
                        reason: Some("SLURM job 12 ended TIMEOUT".into()),
                    },
                ],
                workers_started: 2,
            }],
            interrupted: true,
        };
        let expected = "\nExecution Summary\n-----------------\n\n  The run was interrupted before every block was processed.\n\n  Task S:\n\n    num blocks : 4\n    completed ✔: 0 (skipped 0)\n    failed    ✗: 0\n    orphaned  ∅: 4\n    abandoned  : no worker left\n\n    Failed Workers:\n\n      worker 7 failed with exit code 1\n      worker 8 killed by signal 9: SLURM job 12 ended TIMEOUT\n\n    See worker logs for details:\n\n      daisy_logs/S/worker_7.err / .out\n";
        assert_eq!(report.to_string(), expected);
        assert!(!report.succeeded());
    }

    fn failure(spatial_id: u64, worker_id: u64, error: &str) -> BlockFailure {
        BlockFailure {
            block_id: BlockId {
                task_id: "A".into(),
                spatial_id,
            },
            worker_id: Some(worker_id),
            error: error.into(),
            log_files: Some(log_file_paths(Path::new(&format!(
                "daisy_logs/A/worker_{worker_id}"
            )))),
        }
    }

    fn one_task(state: TaskState, failures: Vec<BlockFailure>) -> RunReport {
        RunReport {
            tasks: vec![TaskReport {
                task_id: "A".into(),
                state,
                abandoned: None,
                failures,
                worker_failures: vec![],
                workers_started: 2,
            }],
            interrupted: false,
        }
    }

    #[test]
    fn summary_names_the_err_log_then_the_out_log() {
        // The pair as the launchers make it: (.out, .err).
        let (out, err) = log_file_paths(Path::new("daisy_logs/A/worker_0"));
        assert_eq!(out, Path::new("daisy_logs/A/worker_0.out"));
        assert_eq!(err, Path::new("daisy_logs/A/worker_0.err"));
        let text = one_task(TaskState::default(), vec![failure(0, 0, "boom")]).to_string();
        assert!(
            text.contains("      daisy_logs/A/worker_0.err / .out\n"),
            "{text}"
        );
        assert!(!text.contains(".out / .out"), "{text}");
    }

    #[test]
    fn summary_groups_failures_by_error() {
        // 4096 blocks failing three times each on two workers, with the block in the text,
        // and a second error.
        let mut failures: Vec<BlockFailure> = (0..3)
            .flat_map(|_| 0..4096)
            .map(|b| failure(b, b % 2, &format!("FileNotFoundError('data/{b}.npy')")))
            .collect();
        failures.insert(5, failure(7, 1, "MemoryError()"));
        let state = TaskState {
            total_block_count: 4096,
            failed_count: 4096,
            ..Default::default()
        };
        let text = one_task(state, failures).to_string();
        let listed: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.contains("Failed Blocks:"))
            .skip(2)
            .take_while(|l| !l.is_empty())
            .collect();
        assert_eq!(
            listed,
            [
                "      block 0 in worker 0 with exception FileNotFoundError('data/0.npy')",
                "        and 12287 more like it (12288 in all, of blocks 0, 1, 2, 3, 4 and 4091 others)",
                "      block 7 in worker 1 with exception MemoryError()",
            ]
        );
        // Each worker's log once.
        assert_eq!(text.matches(" / .out").count(), 2, "{text}");
        assert!(text.lines().count() < 30, "{text}");
    }

    #[test]
    fn errors_differing_in_numbers_are_one_kind() {
        assert_eq!(
            error_kind("RuntimeError('no such file: data/12.npy')"),
            error_kind("RuntimeError('no such file: data/3407.npy')")
        );
        assert_eq!(
            error_kind("<Thing object at 0x7f3a9c0e1d50> failed"),
            error_kind("<Thing object at 0x7f3a9c0e2f10> failed")
        );
        assert_eq!(error_kind("block 3 failed"), "block # failed");
        assert_ne!(error_kind("KeyError('a')"), error_kind("KeyError('b')"));
        assert_ne!(error_kind("ValueError()"), error_kind("TypeError()"));
        assert_eq!(error_kind("deadbeef café"), "deadbeef café");
    }
}
