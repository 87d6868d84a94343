//! Runs every block in the calling thread, one after the other (docs/semantics.md#run_blockwise, `SerialServer`).
//!
//! [`run_serial_with`] is the loop; [`SerialHooks`] supply the block functions and watch the
//! run ([`SerialEvent`]). [`run_serial`] runs tasks with their own in-process block functions.

use std::sync::Arc;

use crate::{Block, BlockId, BlockStatus, CoreError, Scheduler, Task, TaskId, TaskState};

/// The failure text of a block whose block function left its status FAILED without an error
/// (the text the server records for a block a worker released as FAILED).
pub const RELEASED_AS_FAILED: &str = "block released as FAILED";

/// The failure text of a block whose post-check said it was not done.
pub const POST_CHECK_FAILED: &str = "post-check failed";

/// What happens during a serial run, in the order it happens.
#[derive(Debug, Clone, Copy)]
pub enum SerialEvent<'a> {
    /// A task has ready blocks for the first time; its first block is acquired next.
    TaskStart {
        /// The task.
        task_id: &'a TaskId,
        /// Its counters.
        state: &'a TaskState,
    },
    /// A block of the task was handed out; its block function runs next.
    Acquire {
        /// The task.
        task_id: &'a TaskId,
        /// Its counters.
        state: &'a TaskState,
    },
    /// A block failed (its status was left FAILED, or its post-check failed); it is released
    /// next.
    BlockFailure {
        /// The block.
        block: &'a Block,
        /// Why: [`RELEASED_AS_FAILED`] or [`POST_CHECK_FAILED`].
        error: &'a str,
    },
    /// The scheduler gave the task up: its first block attempts all failed
    /// ([`crate::FailureLimit`]); its remaining blocks are orphaned. Sent once, after the
    /// `Release` of the failure that reached the limit.
    TaskAbandoned {
        /// The task.
        task_id: &'a TaskId,
        /// Its counters.
        state: &'a TaskState,
        /// Why, with the last error.
        reason: &'a str,
    },
    /// A block of the task was released to the scheduler.
    Release {
        /// The task.
        task_id: &'a TaskId,
        /// Its counters.
        state: &'a TaskState,
    },
    /// Every block of the task is completed, failed or orphaned (sent once per task).
    TaskDone {
        /// The task.
        task_id: &'a TaskId,
        /// Its final counters.
        state: &'a TaskState,
    },
}

/// One failed attempt of a block in a serial run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialFailure {
    /// The block.
    pub block_id: BlockId,
    /// Why: [`RELEASED_AS_FAILED`] or [`POST_CHECK_FAILED`].
    pub error: String,
}

/// The outcome of a serial run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialReport {
    /// Every task's final counters, in `task_states` order.
    pub states: Vec<(TaskId, TaskState)>,
    /// Every failed attempt, in order.
    pub failures: Vec<SerialFailure>,
    /// The tasks the scheduler gave up, with the reason, in the order it did.
    pub abandoned: Vec<(TaskId, String)>,
}

/// A serial run stopped by an error (of a hook, or of the engine).
#[derive(Debug)]
pub struct SerialStop<E> {
    /// What stopped it.
    pub error: E,
    /// What ran until then: the counters at the stop, the failures and abandoned tasks so far.
    pub report: SerialReport,
}

/// What a serial run calls: the block functions, and an observer of its events.
pub trait SerialHooks {
    /// What stops the run; engine errors are converted into it.
    type Error: From<CoreError>;

    /// Runs the block function of `task` on `block` (status as acquired: CREATED).
    ///
    /// Leaving the status FAILED fails the block; any other status succeeds it, unless the
    /// task's post-check fails it.
    ///
    /// # Errors
    ///
    /// Any error stops the run at once and is returned by [`run_serial_with`].
    fn process(&mut self, task: &Arc<Task>, block: &mut Block) -> Result<(), Self::Error>;

    /// Sees one event of the run; the default does nothing.
    ///
    /// # Errors
    ///
    /// Any error stops the run at once and is returned by [`run_serial_with`].
    fn on_event(&mut self, event: SerialEvent<'_>) -> Result<(), Self::Error> {
        let _ = event;
        Ok(())
    }
}

/// Runs the blocks of a scheduler's tasks one at a time in the calling thread, in dependency
/// order, until no block can be handed out.
///
/// Each round hands out a block of the first task (in `task_states` order) that has a ready
/// one, announcing the task with [`SerialEvent::TaskStart`] the first time. The block
/// function runs ([`SerialHooks::process`]); a block left FAILED, or one whose post-check
/// fails, is a failure ([`SerialEvent::BlockFailure`], recorded in the report) and is retried
/// or given up by the scheduler as usual; a task whose first attempts all fail is abandoned
/// ([`SerialEvent::TaskAbandoned`], docs/semantics.md#when-blocks-fail). Timeouts and
/// worker options do not apply.
///
/// # Errors
///
/// The first error of a hook, or an engine error (as `H::Error`), stops the run; the
/// [`SerialStop`] carries it with the report of what ran until then (e.g. to print the
/// summary of a run stopped by Ctrl-C).
pub fn run_serial_with<H: SerialHooks>(
    scheduler: &mut Scheduler,
    hooks: &mut H,
) -> Result<SerialReport, SerialStop<H::Error>> {
    let mut failures = Vec::new();
    let mut abandoned = Vec::new();
    let outcome = serial_loop(scheduler, hooks, &mut failures, &mut abandoned);
    let report = SerialReport {
        states: scheduler
            .task_states()
            .map(|(id, state)| (id.clone(), *state))
            .collect(),
        failures,
        abandoned,
    };
    match outcome {
        Ok(()) => Ok(report),
        Err(error) => Err(SerialStop { error, report }),
    }
}

/// The loop of [`run_serial_with`], recording failures and abandoned tasks as it goes.
fn serial_loop<H: SerialHooks>(
    scheduler: &mut Scheduler,
    hooks: &mut H,
    failures: &mut Vec<SerialFailure>,
    abandoned: &mut Vec<(TaskId, String)>,
) -> Result<(), H::Error> {
    let ids: Vec<TaskId> = scheduler.task_states().map(|(id, _)| id.clone()).collect();
    let mut tasks = Vec::with_capacity(ids.len());
    for id in &ids {
        let task = scheduler.task(id).ok_or_else(|| CoreError::UnknownTask {
            task_id: id.to_string(),
        })?;
        tasks.push(Arc::clone(task));
    }
    let mut started = vec![false; ids.len()];
    let mut done = vec![false; ids.len()];
    let all = 0..ids.len();
    notify_done(scheduler, &ids, all.clone(), &mut done, hooks)?;
    loop {
        let mut acquired = None;
        for (t, id) in ids.iter().enumerate() {
            let state = state_of(scheduler, id)?;
            if state.ready_count == 0 {
                continue;
            }
            if !started[t] {
                started[t] = true;
                hooks.on_event(SerialEvent::TaskStart { task_id: id, state })?;
            }
            if let Some(block) = scheduler.acquire_block(id)? {
                acquired = Some((t, block));
                break;
            }
            // The pre-check skipped every ready block.
            notify_done(scheduler, &ids, all.clone(), &mut done, hooks)?;
        }
        let Some((t, mut block)) = acquired else {
            break;
        };
        let id = &ids[t];
        hooks.on_event(SerialEvent::Acquire {
            task_id: id,
            state: state_of(scheduler, id)?,
        })?;
        hooks.process(&tasks[t], &mut block)?;
        let error = if block.status == BlockStatus::Failed {
            Some(RELEASED_AS_FAILED)
        } else if tasks[t].post_check(&block) {
            None
        } else {
            Some(POST_CHECK_FAILED)
        };
        block.status = if error.is_some() {
            BlockStatus::Failed
        } else {
            BlockStatus::Success
        };
        if let Some(error) = error {
            hooks.on_event(SerialEvent::BlockFailure {
                block: &block,
                error,
            })?;
            failures.push(SerialFailure {
                block_id: block.block_id.clone(),
                error: error.to_owned(),
            });
        }
        scheduler.release_block(&block)?;
        hooks.on_event(SerialEvent::Release {
            task_id: id,
            state: state_of(scheduler, id)?,
        })?;
        if let Some(limit) = error.and_then(|_| scheduler.failure_limit(id))
            && !abandoned.iter().any(|(task, _)| task == id)
        {
            let reason = limit.reason(error);
            tracing::error!("abandoning task {id}: {reason}");
            hooks.on_event(SerialEvent::TaskAbandoned {
                task_id: id,
                state: state_of(scheduler, id)?,
                reason: &reason,
            })?;
            abandoned.push((id.clone(), reason));
        }
        // A success finishes at most its own task; a permanent failure may orphan blocks of
        // other tasks.
        if error.is_some() {
            notify_done(scheduler, &ids, all.clone(), &mut done, hooks)?;
        } else {
            notify_done(scheduler, &ids, t..=t, &mut done, hooks)?;
        }
    }
    notify_done(scheduler, &ids, all, &mut done, hooks)
}

/// The counters of a task of the scheduler.
fn state_of<'s>(scheduler: &'s Scheduler, task_id: &TaskId) -> Result<&'s TaskState, CoreError> {
    scheduler
        .task_state(task_id)
        .ok_or_else(|| CoreError::UnknownTask {
            task_id: task_id.to_string(),
        })
}

/// Sends [`SerialEvent::TaskDone`] for the tasks among `which` that became done.
fn notify_done<H: SerialHooks>(
    scheduler: &Scheduler,
    ids: &[TaskId],
    which: impl Iterator<Item = usize>,
    done: &mut [bool],
    hooks: &mut H,
) -> Result<(), H::Error> {
    for t in which {
        let state = state_of(scheduler, &ids[t])?;
        if !done[t] && state.is_done() {
            done[t] = true;
            hooks.on_event(SerialEvent::TaskDone {
                task_id: &ids[t],
                state,
            })?;
        }
    }
    Ok(())
}

/// Runs tasks with their own in-process block functions (status PROCESSING while they run).
struct TaskFunctions;

impl SerialHooks for TaskFunctions {
    type Error = CoreError;

    fn process(&mut self, task: &Arc<Task>, block: &mut Block) -> Result<(), CoreError> {
        let function = task
            .process_function()
            .ok_or_else(|| CoreError::NoBlockFunction {
                task_id: task.task_id().to_string(),
            })?;
        block.status = BlockStatus::Processing;
        function(block).map_err(|error| CoreError::BlockFunctionFailed {
            task_id: task.task_id().to_string(),
            spatial_id: block.spatial_id(),
            message: error.to_string(),
        })
    }
}

/// Runs the tasks (and their upstream tasks) block by block with their in-process block
/// functions, in dependency order, and returns every task's final counters in `task_states`
/// order.
///
/// See [`run_serial_with`] for the loop. A block function that returns `Ok` succeeds the
/// block unless it set the status to FAILED itself; a post-check may still fail it. As in
/// daisy's `SerialServer`, an error from a block function aborts the run: this mode is for
/// debugging.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use daisy_core::{run_serial, Task};
/// use daisy_geometry::Roi;
///
/// let voxels = Arc::new(AtomicU64::new(0));
/// let seen = Arc::clone(&voxels);
/// let task = Task::builder(
///     "count",
///     Roi::from_values(&[0, 0], &[100, 100]).unwrap(),
///     Roi::from_values(&[0, 0], &[12, 12]).unwrap(),
///     Roi::from_values(&[1, 1], &[10, 10]).unwrap(),
/// )
/// .process_function(move |block| {
///     seen.fetch_add(block.write_roi.size().unwrap_or(0) as u64, Ordering::Relaxed);
///     Ok(())
/// })
/// .build()
/// .unwrap();
/// let states = run_serial(&[task]).unwrap();
/// assert_eq!(states[0].1.completed_count, 81);
/// assert_eq!(voxels.load(Ordering::Relaxed), 8100);
/// ```
///
/// # Errors
///
/// [`CoreError::NoBlockFunction`] (before anything runs) if a task has no block function,
/// [`CoreError::BlockFunctionFailed`] if one returns an error, and the errors of
/// [`Scheduler::new`].
pub fn run_serial(tasks: &[Arc<Task>]) -> Result<Vec<(TaskId, TaskState)>, CoreError> {
    let mut scheduler = Scheduler::new(tasks, true)?;
    for (id, _) in scheduler.task_states() {
        let task = scheduler.task(id).ok_or_else(|| CoreError::UnknownTask {
            task_id: id.to_string(),
        })?;
        if task.process_function().is_none() {
            return Err(CoreError::NoBlockFunction {
                task_id: id.to_string(),
            });
        }
    }
    run_serial_with(&mut scheduler, &mut TaskFunctions)
        .map(|report| report.states)
        .map_err(|stop| stop.error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use daisy_geometry::Roi;

    fn roi(offset: i64, shape: i64) -> Roi {
        Roi::from_values(&[offset], &[shape]).unwrap()
    }

    /// Records the events as text and fails the blocks listed in `fail`.
    #[derive(Default)]
    struct Recorder {
        events: Vec<String>,
        fail: Vec<u64>,
    }

    impl SerialHooks for Recorder {
        type Error = CoreError;

        fn process(&mut self, _task: &Arc<Task>, block: &mut Block) -> Result<(), CoreError> {
            assert_eq!(block.status, BlockStatus::Created);
            if self.fail.contains(&block.spatial_id()) {
                block.status = BlockStatus::Failed;
            }
            Ok(())
        }

        fn on_event(&mut self, event: SerialEvent<'_>) -> Result<(), CoreError> {
            self.events.push(match event {
                SerialEvent::TaskStart { task_id, .. } => format!("start {task_id}"),
                SerialEvent::Acquire { task_id, .. } => format!("acquire {task_id}"),
                SerialEvent::BlockFailure { block, error } => {
                    format!("failure {} {error}", block.block_id)
                }
                SerialEvent::Release { task_id, .. } => format!("release {task_id}"),
                SerialEvent::TaskAbandoned {
                    task_id, reason, ..
                } => format!("abandoned {task_id}: {reason}"),
                SerialEvent::TaskDone { task_id, state } => {
                    format!("done {task_id} {}", state.completed_count)
                }
            });
            Ok(())
        }
    }

    fn chain(post_check_fails: Option<u64>) -> (Arc<Task>, Arc<Task>) {
        let mut a = Task::builder("A", roi(0, 4), roi(0, 1), roi(0, 1));
        if let Some(bad) = post_check_fails {
            a = a.post_check_function(move |b: &Block| Ok(b.spatial_id() != bad));
        }
        let a = a.max_retries(0).build().unwrap();
        let b = Task::builder("B", roi(0, 4), roi(0, 1), roi(0, 1))
            .upstream_tasks([&a])
            .build()
            .unwrap();
        (a, b)
    }

    #[test]
    fn events_in_order() {
        let (_, b) = chain(None);
        let mut scheduler = Scheduler::new(&[b], true).unwrap();
        let mut hooks = Recorder::default();
        let report = run_serial_with(&mut scheduler, &mut hooks).unwrap();
        assert!(report.failures.is_empty());
        assert_eq!(hooks.events[..3], ["start A", "acquire A", "release A"]);
        let done_a = hooks.events.iter().position(|e| e == "done A 4").unwrap();
        let start_b = hooks.events.iter().position(|e| e == "start B").unwrap();
        assert!(done_a < start_b);
        assert_eq!(hooks.events.last().unwrap(), "done B 4");
        assert_eq!(hooks.events.iter().filter(|e| *e == "acquire B").count(), 4);
    }

    #[test]
    fn failures_are_recorded_and_orphan_downstream() {
        let (_, b) = chain(Some(2));
        let mut scheduler = Scheduler::new(&[b], true).unwrap();
        let mut hooks = Recorder {
            fail: vec![1],
            ..Recorder::default()
        };
        let report = run_serial_with(&mut scheduler, &mut hooks).unwrap();
        let errors: Vec<_> = report
            .failures
            .iter()
            .map(|f| (f.block_id.spatial_id, f.error.as_str()))
            .collect();
        assert_eq!(errors, [(1, RELEASED_AS_FAILED), (2, POST_CHECK_FAILED)]);
        assert!(
            hooks
                .events
                .contains(&format!("failure A/1 {RELEASED_AS_FAILED}"))
        );
        let (a_state, b_state) = (report.states[0].1, report.states[1].1);
        assert_eq!((a_state.completed_count, a_state.failed_count), (2, 2));
        assert_eq!(b_state.orphaned_count, 2);
        assert!(hooks.events.contains(&"done A 2".to_owned()));
        assert!(hooks.events.contains(&"done B 2".to_owned()));
    }

    #[test]
    fn a_hook_error_stops_the_run() {
        struct Stop(u32);
        impl SerialHooks for Stop {
            type Error = CoreError;
            fn process(&mut self, task: &Arc<Task>, block: &mut Block) -> Result<(), CoreError> {
                self.0 += 1;
                Err(CoreError::BlockFunctionFailed {
                    task_id: task.task_id().to_string(),
                    spatial_id: block.spatial_id(),
                    message: "stop".into(),
                })
            }
        }
        let (a, _) = chain(None);
        let mut scheduler = Scheduler::new(&[a], true).unwrap();
        let mut hooks = Stop(0);
        let stop = run_serial_with(&mut scheduler, &mut hooks).unwrap_err();
        assert_eq!(stop.error.to_string(), "block A/0 failed: stop");
        assert_eq!(hooks.0, 1);
        // The report of what ran: the block that stopped the run is still out.
        assert_eq!(stop.report.states[0].1.processing_count, 1);
        assert!(stop.report.failures.is_empty());
    }

    #[test]
    fn a_serial_task_whose_first_attempts_all_fail_is_abandoned() {
        let a = Task::builder("A", roi(0, 100), roi(0, 1), roi(0, 1))
            .read_write_conflict(false)
            .max_retries(1)
            .max_failures_before_success(4)
            .build()
            .unwrap();
        let b = Task::builder("B", roi(0, 100), roi(0, 1), roi(0, 1))
            .upstream_tasks([&a])
            .build()
            .unwrap();
        let mut scheduler = Scheduler::new(&[b], true).unwrap();
        let mut hooks = Recorder {
            fail: (0..100).collect(),
            ..Recorder::default()
        };
        let report = run_serial_with(&mut scheduler, &mut hooks).unwrap();
        assert_eq!(report.failures.len(), 4, "stopped after 4 attempts");
        let reason = format!(
            "the first 4 block attempts all failed and none succeeded \
             (max_failures_before_success=4); the last error: {RELEASED_AS_FAILED}"
        );
        assert_eq!(report.abandoned, [("A".into(), reason.clone())]);
        assert_eq!(
            hooks
                .events
                .iter()
                .filter(|e| e.starts_with("abandoned"))
                .collect::<Vec<_>>(),
            [&format!("abandoned A: {reason}")]
        );
        let (a_state, b_state) = (report.states[0].1, report.states[1].1);
        assert_eq!((a_state.failed_count, a_state.orphaned_count), (1, 99));
        assert_eq!(b_state.orphaned_count, 100);
        assert!(hooks.events.contains(&"done B 0".to_owned()));
    }

    #[test]
    fn tasks_without_block_function_are_refused() {
        let (a, _) = chain(None);
        assert!(matches!(
            run_serial(&[a]),
            Err(CoreError::NoBlockFunction { task_id }) if task_id == "A"
        ));
    }
}
