//! What observers hear of a run, and the final [`RunReport`]
//! (docs/semantics.md#progress-and-the-execution-summary).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::{Duration, Instant};

use daisy_core::{Scheduler, Task, TaskState};

use crate::report::error_kind;
use crate::supervision::Supervisor;
use crate::{BlockFailure, Observer, RunEvent, RunReport, TaskReport, WorkerFailure};

/// How often a repeated error is counted in the log while it keeps happening.
const REPEAT_INTERVAL: Duration = Duration::from_secs(10);

/// The observers of a run, and what the report will say.
pub(crate) struct Reporting {
    observers: Vec<Box<dyn Observer>>,
    /// Tasks in the order they started (or finished without starting): the report's order.
    order: Vec<usize>,
    /// Per task: whether its `TaskDone` was sent.
    done: Vec<bool>,
    /// Per task: every failed attempt, in arrival order.
    failures: Vec<Vec<BlockFailure>>,
    /// Per task: every failed worker, in the order they were reaped.
    worker_failures: Vec<Vec<WorkerFailure>>,
    /// Per task: the log lines of its failures, each error once with a count.
    failure_logs: Vec<FailureLog>,
    /// Per task: why the scheduler gave it up on its own, once it did.
    gave_up: Vec<Option<String>>,
    /// Per task: whether the scheduler may still give it up that way (no success seen yet).
    watch_limit: Vec<bool>,
}

/// Logs each distinct error of a task's blocks once, then how often it happened again
/// (every [`REPEAT_INTERVAL`] while it goes on, and at the end of the run).
#[derive(Default)]
struct FailureLog {
    /// [`error_kind`] to its index in `repeats`.
    errors: HashMap<String, usize>,
    /// The distinct errors, in the order they first happened.
    repeats: Vec<Repeats>,
}

/// One distinct error of a task.
struct Repeats {
    /// The first failure with it.
    first: String,
    /// Failures with it since it was last logged.
    unlogged: u64,
    /// The last block it failed.
    last_block: String,
    /// When it was last logged.
    logged_at: Instant,
}

impl FailureLog {
    /// A failure: the line to log if its error is new (or it has repeated for a while),
    /// else `None` (it is counted).
    fn record(&mut self, failure: &BlockFailure, now: Instant) -> Option<String> {
        let block = failure.block_id.to_string();
        match self.errors.entry(error_kind(&failure.error)) {
            Entry::Occupied(seen) => {
                let seen = &mut self.repeats[*seen.get()];
                seen.unlogged += 1;
                seen.last_block = block;
                (now.duration_since(seen.logged_at) >= REPEAT_INTERVAL)
                    .then(|| seen.repeats_line(now))
            }
            Entry::Vacant(new) => {
                let worker = crate::error::worker_text(failure.worker_id);
                let log = failure
                    .log_files
                    .as_ref()
                    .map_or_else(String::new, |(_, err)| {
                        format!(" (its log: {})", err.display())
                    });
                let line = format!(
                    "Block {block} failed in {worker} with {}{log}; the same error of other \
                     blocks is counted, not logged again",
                    failure.error
                );
                let first = format!("block {block} failed in {worker} with {}", failure.error);
                new.insert(self.repeats.len());
                self.repeats.push(Repeats {
                    first,
                    unlogged: 0,
                    last_block: block,
                    logged_at: now,
                });
                Some(line)
            }
        }
    }

    /// The counts not logged yet (at the end of the run).
    fn flush(&mut self, now: Instant) -> Vec<String> {
        self.repeats
            .iter_mut()
            .filter(|seen| seen.unlogged > 0)
            .map(|seen| seen.repeats_line(now))
            .collect()
    }
}

impl Repeats {
    /// How often the error happened since it was last logged; resets the count.
    fn repeats_line(&mut self, now: Instant) -> String {
        let times = if self.unlogged == 1 { "time" } else { "times" };
        let line = format!(
            "... the error of {} happened {} more {times}, last in block {}",
            self.first, self.unlogged, self.last_block
        );
        self.unlogged = 0;
        self.logged_at = now;
        line
    }
}

/// The counters of a task (zeros if the scheduler does not know it).
pub(crate) fn state(scheduler: &Scheduler, task: &Task) -> TaskState {
    scheduler
        .task_state(task.task_id())
        .copied()
        .unwrap_or_default()
}

impl Reporting {
    /// Reports to `observers`, for a run of `tasks` tasks.
    pub fn new(observers: Vec<Box<dyn Observer>>, tasks: usize) -> Self {
        Self {
            observers,
            order: Vec::new(),
            done: vec![false; tasks],
            failures: vec![Vec::new(); tasks],
            worker_failures: vec![Vec::new(); tasks],
            failure_logs: (0..tasks).map(|_| FailureLog::default()).collect(),
            gave_up: vec![None; tasks],
            watch_limit: vec![true; tasks],
        }
    }

    fn emit(&mut self, event: &RunEvent<'_>) {
        for o in &mut self.observers {
            o.on_event(event);
        }
    }

    /// Task `t` got its first ready blocks; its workers are started next.
    pub fn task_started(&mut self, t: usize, task: &Task, scheduler: &Scheduler) {
        self.order.push(t);
        let state = state(scheduler, task);
        self.emit(&RunEvent::TaskStart {
            task_id: task.task_id(),
            state: &state,
        });
    }

    /// Blocks of a task were handed out or came back.
    pub fn progress(&mut self, task: &Task, scheduler: &Scheduler) {
        if self.observers.is_empty() {
            return;
        }
        let state = state(scheduler, task);
        self.emit(&RunEvent::Progress {
            task_id: task.task_id(),
            state: &state,
        });
    }

    /// A worker of a task was started.
    pub fn worker_started(&mut self, task_id: &str, worker_id: u64) {
        self.emit(&RunEvent::WorkerStarted { task_id, worker_id });
    }

    /// A block attempt of task `t` failed: logged (each distinct error once, then counted),
    /// told to the observers and kept for the report.
    pub fn block_failed(&mut self, t: usize, failure: BlockFailure) {
        if let Some(line) = self.failure_logs[t].record(&failure, Instant::now()) {
            tracing::error!("{line}");
        }
        self.emit(&RunEvent::BlockFailure { failure: &failure });
        self.failures[t].push(failure);
    }

    /// A worker of task `t` ended with a failure while the run went on.
    pub fn worker_failed(&mut self, t: usize, failure: WorkerFailure) {
        self.worker_failures[t].push(failure);
    }

    /// A task was abandoned (docs/semantics.md#worker-restarts).
    pub fn task_abandoned(&mut self, task: &Task, scheduler: &Scheduler, reason: &str) {
        let state = state(scheduler, task);
        self.emit(&RunEvent::TaskAbandoned {
            task_id: task.task_id(),
            state: &state,
            reason,
        });
    }

    /// Reports task `t` done if it is and was not reported yet; whether it was reported now.
    ///
    /// Before that, reports it abandoned if the scheduler just gave it up because its first
    /// block attempts all failed (docs/semantics.md#when-blocks-fail).
    pub fn task_done(&mut self, t: usize, task: &Task, scheduler: &Scheduler) -> bool {
        let state = state(scheduler, task);
        // Cheap first: a task given up this way has a block failed for good, and once one of
        // its blocks succeeded without the limit reached, it never will be.
        if self.watch_limit[t] && state.failed_count > 0 {
            if let Some(limit) = scheduler.failure_limit(task.task_id()) {
                self.watch_limit[t] = false;
                let last = self.failures[t].last().map(|f| f.error.as_str());
                let reason = limit.reason(last);
                tracing::error!("abandoning task {}: {reason}", task.task_id());
                self.emit(&RunEvent::TaskAbandoned {
                    task_id: task.task_id(),
                    state: &state,
                    reason: &reason,
                });
                self.gave_up[t] = Some(reason);
            } else if state.completed_count > state.skipped_count {
                self.watch_limit[t] = false;
            }
        }
        if self.done[t] || !state.is_done() {
            return false;
        }
        self.done[t] = true;
        if !self.order.contains(&t) {
            self.order.push(t);
        }
        self.emit(&RunEvent::TaskDone {
            task_id: task.task_id(),
            state: &state,
        });
        true
    }

    /// The final report: every task, those that started first, in the order they started,
    /// then the others in the scheduler's order; observers get it as `Exit`.
    pub fn finish(
        &mut self,
        tasks: &[Arc<Task>],
        scheduler: &Scheduler,
        supervisor: &Supervisor,
        interrupted: bool,
    ) -> RunReport {
        let now = Instant::now();
        for log in &mut self.failure_logs {
            for line in log.flush(now) {
                tracing::error!("{line}");
            }
        }
        let mut order = std::mem::take(&mut self.order);
        for (id, _) in scheduler.task_states() {
            if let Some(t) = tasks.iter().position(|task| task.task_id() == id)
                && !order.contains(&t)
            {
                order.push(t);
            }
        }
        let report = RunReport {
            tasks: order
                .into_iter()
                .map(|t| TaskReport {
                    task_id: tasks[t].task_id().to_string(),
                    state: state(scheduler, &tasks[t]),
                    abandoned: supervisor
                        .abandoned(t)
                        .map(str::to_owned)
                        .or_else(|| self.gave_up[t].take()),
                    failures: std::mem::take(&mut self.failures[t]),
                    worker_failures: std::mem::take(&mut self.worker_failures[t]),
                    workers_started: supervisor.workers_started(t),
                })
                .collect(),
            interrupted,
        };
        self.emit(&RunEvent::Exit { report: &report });
        report
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;
    use std::time::Duration;

    use daisy_core::{BlockId, BlockStatus};
    use daisy_geometry::Roi;

    use super::*;
    use crate::supervision::WorkerPool;

    /// Writes down every event as text.
    struct Record(Arc<Mutex<Vec<String>>>);

    impl Observer for Record {
        fn on_event(&mut self, event: &RunEvent<'_>) {
            let line = match event {
                RunEvent::TaskStart { task_id, .. } => format!("start {task_id}"),
                RunEvent::Progress { task_id, state } => {
                    format!("progress {task_id} {}", state.completed_count)
                }
                RunEvent::TaskDone { task_id, .. } => format!("done {task_id}"),
                RunEvent::TaskAbandoned {
                    task_id, reason, ..
                } => format!("abandoned {task_id}: {reason}"),
                RunEvent::BlockFailure { failure } => format!("failure {}", failure.error),
                RunEvent::WorkerStarted { worker_id, .. } => format!("worker {worker_id}"),
                RunEvent::Exit { report } => format!("exit {}", report.tasks.len()),
            };
            self.0.lock().unwrap().push(line);
        }
    }

    fn task(id: &str, upstream: Option<&Arc<Task>>) -> Arc<Task> {
        let mut builder = Task::builder(
            id,
            Roi::from_values(&[0], &[1]).unwrap(),
            Roi::from_values(&[0], &[1]).unwrap(),
            Roi::from_values(&[0], &[1]).unwrap(),
        );
        if let Some(up) = upstream {
            builder = builder.upstream_task(up);
        }
        builder.build().unwrap()
    }

    #[test]
    fn events_in_order_and_a_report_in_start_order() {
        let a = task("A", None);
        let b = task("B", Some(&a));
        let mut scheduler = Scheduler::new(&[Arc::clone(&b)], true).unwrap();
        let tasks: Vec<Arc<Task>> = scheduler.dependency_graph().tasks().to_vec();
        let (ta, tb) = (
            tasks
                .iter()
                .position(|t| t.task_id().as_ref() == "A")
                .unwrap(),
            tasks
                .iter()
                .position(|t| t.task_id().as_ref() == "B")
                .unwrap(),
        );
        let events = Arc::new(Mutex::new(Vec::new()));
        let mut reporting = Reporting::new(vec![Box::new(Record(Arc::clone(&events)))], 2);
        reporting.task_started(ta, &tasks[ta], &scheduler);
        let mut block = scheduler.acquire_block_unchecked("A").unwrap().unwrap();
        block.status = BlockStatus::Success;
        scheduler.release_block(&block).unwrap();
        reporting.progress(&tasks[ta], &scheduler);
        assert!(reporting.task_done(ta, &tasks[ta], &scheduler));
        assert!(
            !reporting.task_done(ta, &tasks[ta], &scheduler),
            "done twice"
        );
        assert!(
            !reporting.task_done(tb, &tasks[tb], &scheduler),
            "B is not done"
        );
        reporting.block_failed(
            tb,
            BlockFailure {
                block_id: BlockId {
                    task_id: "B".into(),
                    spatial_id: 0,
                },
                worker_id: None,
                error: "lost: gone".into(),
                log_files: None,
            },
        );
        reporting.task_abandoned(&tasks[tb], &scheduler, "no worker left");
        let config = crate::test_values::pool_config("t");
        let launcher: Arc<dyn daisy_launch::Launcher> =
            Arc::new(daisy_launch::ThreadLauncher::new(|_| Ok(())));
        let pools = tasks
            .iter()
            .map(|t| WorkerPool::new(t, Arc::clone(&launcher)))
            .collect();
        let supervisor = Supervisor::new(pools, config, Duration::ZERO);
        let report = reporting.finish(&tasks, &scheduler, &supervisor, true);
        let ids: Vec<&str> = report.tasks.iter().map(|t| t.task_id.as_str()).collect();
        assert_eq!(ids, ["A", "B"]);
        assert_eq!(report.tasks[1].failures.len(), 1);
        assert!(report.interrupted && !report.succeeded());
        assert_eq!(
            *events.lock().unwrap(),
            [
                "start A",
                "progress A 1",
                "done A",
                "failure lost: gone",
                "abandoned B: no worker left",
                "exit 2"
            ]
        );
    }

    #[test]
    fn no_observer_no_progress_work() {
        let a = task("A", None);
        let scheduler = Scheduler::new(&[Arc::clone(&a)], true).unwrap();
        let mut reporting = Reporting::new(Vec::new(), 1);
        reporting.progress(&a, &scheduler);
        assert!(reporting.order.is_empty());
    }

    fn failure(spatial_id: u64, error: &str) -> BlockFailure {
        BlockFailure {
            block_id: BlockId {
                task_id: "A".into(),
                spatial_id,
            },
            worker_id: Some(0),
            error: error.into(),
            log_files: Some(daisy_launch::log_file_paths(std::path::Path::new(
                "daisy_logs/A/worker_0",
            ))),
        }
    }

    #[test]
    fn the_same_error_repeated_is_logged_once_with_a_count() {
        let mut log = FailureLog::default();
        let start = Instant::now();
        let mut lines = Vec::new();
        for b in 0..4096 {
            let error = format!("RuntimeError('no such file: data/{b}.npy')");
            lines.extend(log.record(&failure(b, &error), start));
        }
        lines.extend(log.record(&failure(7, "MemoryError()"), start));
        assert_eq!(
            lines,
            [
                "Block A/0 failed in worker 0 with RuntimeError('no such file: data/0.npy') \
                 (its log: daisy_logs/A/worker_0.err); the same error of other blocks is \
                 counted, not logged again",
                "Block A/7 failed in worker 0 with MemoryError() (its log: \
                 daisy_logs/A/worker_0.err); the same error of other blocks is counted, not \
                 logged again",
            ]
        );
        // While it goes on, a count every REPEAT_INTERVAL ...
        let later = start + REPEAT_INTERVAL;
        assert_eq!(
            log.record(
                &failure(5000, "RuntimeError('no such file: data/5000.npy')"),
                later
            )
            .as_deref(),
            Some(
                "... the error of block A/0 failed in worker 0 with RuntimeError('no such \
                 file: data/0.npy') happened 4096 more times, last in block A/5000"
            )
        );
        assert_eq!(
            log.record(&failure(5001, "RuntimeError('x 1')"), later),
            log_line_of_new()
        );
        // ... and what is left at the end.
        assert!(
            log.record(&failure(5002, "RuntimeError('x 2')"), later)
                .is_none()
        );
        assert_eq!(
            log.flush(later),
            [
                "... the error of block A/5001 failed in worker 0 with RuntimeError('x 1') \
              happened 1 more time, last in block A/5002"
            ]
        );
        assert!(log.flush(later).is_empty());
    }

    fn log_line_of_new() -> Option<String> {
        Some(
            "Block A/5001 failed in worker 0 with RuntimeError('x 1') (its log: \
             daisy_logs/A/worker_0.err); the same error of other blocks is counted, not logged \
             again"
                .to_owned(),
        )
    }

    #[test]
    fn a_task_the_scheduler_gives_up_is_reported_abandoned_with_the_last_error() {
        let a = Task::builder(
            "A",
            Roi::from_values(&[0], &[10]).unwrap(),
            Roi::from_values(&[0], &[1]).unwrap(),
            Roi::from_values(&[0], &[1]).unwrap(),
        )
        .max_retries(0)
        .max_failures_before_success(2)
        .build()
        .unwrap();
        let mut scheduler = Scheduler::new(&[Arc::clone(&a)], true).unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let mut reporting = Reporting::new(vec![Box::new(Record(Arc::clone(&events)))], 1);
        reporting.task_started(0, &a, &scheduler);
        for error in ["KeyError('x')", "OSError('disk full')"] {
            let mut block = scheduler.acquire_block_unchecked("A").unwrap().unwrap();
            block.status = BlockStatus::Failed;
            reporting.block_failed(0, failure(block.spatial_id(), error));
            scheduler.release_block(&block).unwrap();
            reporting.task_done(0, &a, &scheduler);
        }
        let reason = "the first 2 block attempts all failed and none succeeded \
                      (max_failures_before_success=2); the last error: OSError('disk full')";
        let events = events.lock().unwrap().clone();
        assert_eq!(
            events[events.len() - 2..],
            [format!("abandoned A: {reason}"), "done A".to_owned()]
        );
        let launcher: Arc<dyn daisy_launch::Launcher> =
            Arc::new(daisy_launch::ThreadLauncher::new(|_| Ok(())));
        let config = crate::test_values::pool_config("t");
        let supervisor =
            Supervisor::new(vec![WorkerPool::new(&a, launcher)], config, Duration::ZERO);
        let report = reporting.finish(&[a], &scheduler, &supervisor, false);
        assert_eq!(report.tasks[0].abandoned.as_deref(), Some(reason));
        assert!(
            report
                .to_string()
                .contains(&format!("    abandoned  : {reason}\n"))
        );
    }
}
