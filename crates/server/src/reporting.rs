//! What observers hear of a run, and the final [`RunReport`]
//! (docs/semantics.md#progress-and-the-execution-summary).

use std::sync::Arc;

use daisy_core::{Scheduler, Task, TaskState};

use crate::supervision::Supervisor;
use crate::{BlockFailure, Observer, RunEvent, RunReport, TaskReport, WorkerFailure};

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

    /// A block attempt of task `t` failed.
    pub fn block_failed(&mut self, t: usize, failure: BlockFailure) {
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
    pub fn task_done(&mut self, t: usize, task: &Task, scheduler: &Scheduler) -> bool {
        let state = state(scheduler, task);
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
        let mut order = std::mem::take(&mut self.order);
        for (id, _) in scheduler.task_states() {
            if let Some(t) = tasks.iter().position(|task| task.task_id() == id) {
                if !order.contains(&t) {
                    order.push(t);
                }
            }
        }
        let report = RunReport {
            tasks: order
                .into_iter()
                .map(|t| TaskReport {
                    task_id: tasks[t].task_id().to_string(),
                    state: state(scheduler, &tasks[t]),
                    abandoned: supervisor.abandoned(t).map(str::to_owned),
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
    use crate::supervision::{PoolConfig, WorkerPool};

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
        let mut block = scheduler.acquire_block_unchecked("A").unwrap();
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
        let config = PoolConfig {
            hostname: "h".into(),
            port: 1,
            token: "t".into(),
            logdir: None,
            prefetch: 1,
        };
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
}
