//! Runs every block in the calling thread, one after the other (docs/semantics.md#run_blockwise, `SerialServer`).

use std::sync::Arc;

use crate::{BlockStatus, CoreError, Scheduler, Task, TaskId, TaskState};

/// Runs the tasks (and their upstream tasks) block by block with their in-process block
/// functions, in dependency order, and returns every task's final counters in `task_states`
/// order.
///
/// Each round hands out a block of the first task (in `task_states` order) that has one. A
/// block function that returns `Ok` succeeds the block unless it set the status to FAILED
/// itself; a post-check may still fail it. As in daisy's `SerialServer`, an error from a block
/// function aborts the run: this mode is for debugging. Timeouts and worker options are ignored.
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
    let ids: Vec<TaskId> = scheduler.task_states().map(|(id, _)| id.clone()).collect();
    let mut functions = Vec::with_capacity(ids.len());
    for id in &ids {
        let task = scheduler.task(id).ok_or_else(|| CoreError::UnknownTask {
            task_id: id.to_string(),
        })?;
        let f = task
            .process_function()
            .ok_or_else(|| CoreError::NoBlockFunction {
                task_id: id.to_string(),
            })?;
        functions.push((Arc::clone(task), Arc::clone(f)));
    }
    'run: while !scheduler.all_done() {
        for (id, (task, function)) in ids.iter().zip(&functions) {
            let Some(mut block) = scheduler.acquire_block(id) else {
                continue;
            };
            block.status = BlockStatus::Processing;
            if let Err(error) = function(&mut block) {
                return Err(CoreError::BlockFunctionFailed {
                    task_id: id.to_string(),
                    spatial_id: block.spatial_id(),
                    message: error.to_string(),
                });
            }
            if block.status != BlockStatus::Failed {
                block.status = if task.post_check(&block) {
                    BlockStatus::Success
                } else {
                    BlockStatus::Failed
                };
            }
            scheduler.release_block(&block)?;
            continue 'run;
        }
        break; // no task has a block to hand out
    }
    Ok(scheduler
        .task_states()
        .map(|(id, state)| (id.clone(), *state))
        .collect())
}
