//! Pre- and post-checks, run on blocking threads off the event loop (docs/semantics.md#scheduling).
//!
//! A task with a pre-check (`check_function`) gets its blocks checked before they are handed
//! out: blocks are taken from the scheduler as parked requests ask for them, checked in
//! parallel, and handed out in the order they were taken; blocks the check says are done are
//! skipped. A post-check runs on every block a worker reports as done; the block stays
//! "processing" until it returns.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use daisy_core::{Block, Scheduler, Task};
use tokio::sync::mpsc;

/// A check that ran off the event loop.
pub(crate) enum CheckDone {
    /// A pre-check of block number `seq` of task `t`: `done` means skip the block.
    Pre {
        t: usize,
        seq: u64,
        block: Block,
        done: bool,
    },
    /// A post-check of a block a worker reported as done.
    Post {
        t: usize,
        block: Block,
        worker_id: Option<u64>,
        ok: bool,
    },
}

/// Pre-checks in flight for one task, handed out in acquisition order.
#[derive(Default)]
struct TaskChecks {
    /// The number the next block taken from the scheduler gets.
    next_seq: u64,
    /// The number of the next block to leave `results` for `checked`.
    ready_seq: u64,
    /// Finished checks that wait for an earlier one.
    results: BTreeMap<u64, (Block, bool)>,
    /// Checked blocks, not done yet, ready to hand out.
    checked: VecDeque<Block>,
}

impl TaskChecks {
    fn in_flight(&self) -> u64 {
        self.next_seq - self.ready_seq
    }
}

/// The checks of every task of a run.
pub(crate) struct Checks {
    tasks: Vec<TaskChecks>,
    done: mpsc::UnboundedSender<CheckDone>,
}

impl Checks {
    /// Checks for `tasks` tasks, and where their results arrive.
    pub fn new(tasks: usize) -> (Self, mpsc::UnboundedReceiver<CheckDone>) {
        let (done, results) = mpsc::unbounded_channel();
        let checks = Self {
            tasks: (0..tasks).map(|_| TaskChecks::default()).collect(),
            done,
        };
        (checks, results)
    }

    /// Takes blocks of task `t` from the scheduler and starts their pre-checks until the
    /// checks in flight and the checked blocks cover `demand`.
    pub fn start_pre_checks(
        &mut self,
        t: usize,
        task: &Arc<Task>,
        scheduler: &mut Scheduler,
        demand: u64,
    ) {
        let checks = &mut self.tasks[t];
        while checks.in_flight() + (checks.checked.len() as u64) < demand {
            // The task is the scheduler's own, so it is never unknown.
            let Ok(Some(block)) = scheduler.acquire_block_unchecked(task.task_id()) else {
                break;
            };
            let seq = checks.next_seq;
            checks.next_seq += 1;
            run_off_loop(&self.done, task, move |task| {
                let done = task.pre_check(&block);
                CheckDone::Pre {
                    t,
                    seq,
                    block,
                    done,
                }
            });
        }
    }

    /// Starts the post-check of a block of task `t` that a worker reported as done.
    pub fn start_post_check(
        &self,
        t: usize,
        task: &Arc<Task>,
        block: Block,
        worker_id: Option<u64>,
    ) {
        run_off_loop(&self.done, task, move |task| {
            let ok = task.post_check(&block);
            CheckDone::Post {
                t,
                block,
                worker_id,
                ok,
            }
        });
    }

    /// A pre-check returned: blocks whose turn it is are queued for handing out, or skipped
    /// in the scheduler if they are done already.
    pub fn pre_check_done(
        &mut self,
        t: usize,
        seq: u64,
        block: Block,
        done: bool,
        scheduler: &mut Scheduler,
    ) {
        let checks = &mut self.tasks[t];
        checks.results.insert(seq, (block, done));
        while let Some((mut block, done)) = checks.results.remove(&checks.ready_seq) {
            checks.ready_seq += 1;
            if !done {
                checks.checked.push_back(block);
            } else if let Err(e) = scheduler.skip_block(&mut block) {
                tracing::error!("cannot skip {}: {e}", block.block_id);
            }
        }
    }

    /// The next checked block of task `t`, in acquisition order.
    pub fn next_checked(&mut self, t: usize) -> Option<Block> {
        self.tasks[t].checked.pop_front()
    }

    /// Whether task `t` has checked blocks waiting to be handed out.
    pub fn has_checked(&self, t: usize) -> bool {
        !self.tasks[t].checked.is_empty()
    }

    /// Whether task `t` has no pre-check running and no checked block waiting.
    pub fn idle(&self, t: usize) -> bool {
        self.tasks[t].in_flight() == 0 && self.tasks[t].checked.is_empty()
    }
}

/// Runs `check` of `task` on a blocking thread and sends what it returns to `done`.
fn run_off_loop(
    done: &mpsc::UnboundedSender<CheckDone>,
    task: &Arc<Task>,
    check: impl FnOnce(&Task) -> CheckDone + Send + 'static,
) {
    let (tx, task) = (done.clone(), Arc::clone(task));
    tokio::task::spawn_blocking(move || {
        // Sending fails only once the receiver is dropped, when nobody needs the result.
        let _ = tx.send(check(&task));
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use daisy_core::BlockStatus;
    use daisy_geometry::Roi;

    use super::*;
    use crate::test_values::independent_blocks;

    /// A task of `n` independent blocks whose pre-check says even blocks are done.
    fn task(n: i64) -> Arc<Task> {
        independent_blocks(n)
            .check_function(|b| Ok(b.spatial_id() % 2 == 0))
            .post_check_function(|b| Ok(b.spatial_id() != 3))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn pre_checks_skip_done_blocks_and_keep_the_order() {
        let task = task(6);
        let mut scheduler = Scheduler::new(&[Arc::clone(&task)], true).unwrap();
        let (mut checks, mut results) = Checks::new(1);
        checks.start_pre_checks(0, &task, &mut scheduler, 4);
        assert!(!checks.idle(0));
        // Deliver the results in reverse to see that the order is kept.
        let mut arrived = Vec::new();
        for _ in 0..4 {
            arrived.push(results.recv().await.unwrap());
        }
        arrived.sort_by_key(|d| match d {
            CheckDone::Pre { seq, .. } => std::cmp::Reverse(*seq),
            CheckDone::Post { .. } => std::cmp::Reverse(0),
        });
        let mut taken = Vec::new();
        for done in arrived {
            let CheckDone::Pre {
                t,
                seq,
                block,
                done,
            } = done
            else {
                panic!("a post-check result");
            };
            taken.push((seq, block.spatial_id()));
            checks.pre_check_done(t, seq, block, done, &mut scheduler);
        }
        taken.sort_unstable();
        let expected: Vec<u64> = taken
            .iter()
            .map(|&(_, id)| id)
            .filter(|id| id % 2 == 1)
            .collect();
        let mut handed = Vec::new();
        while let Some(block) = checks.next_checked(0) {
            handed.push(block.spatial_id());
        }
        assert_eq!(handed, expected);
        assert!(checks.idle(0));
        let state = scheduler.task_state("t").unwrap();
        assert_eq!(state.skipped_count, 4 - expected.len() as u64);
    }

    #[tokio::test]
    async fn post_checks_report_their_verdict() {
        let task = task(6);
        let (checks, mut results) = Checks::new(1);
        for id in [3, 5] {
            let roi = Roi::from_values(&[id], &[1]).unwrap();
            let mut block = Block::new(task.task_id().clone(), id.unsigned_abs(), roi, roi);
            block.status = BlockStatus::Success;
            checks.start_post_check(0, &task, block, Some(9));
            let Some(CheckDone::Post {
                block,
                worker_id,
                ok,
                ..
            }) = results.recv().await
            else {
                panic!("no post-check result");
            };
            assert_eq!(
                (block.spatial_id(), worker_id, ok),
                (id.unsigned_abs(), Some(9), id != 3)
            );
        }
    }
}
