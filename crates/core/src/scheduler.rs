//! Hands out the blocks of several tasks in dependency order (docs/semantics.md#scheduling).

use std::sync::Arc;

use crate::ready_surface::Ready;
use crate::{
    Block, BlockStatus, CoreError, DependencyGraph, DoneMarker, ProcessingQueue, ReadySurface,
    Task, TaskId, TaskState,
};

/// Hands out blocks whose upstream blocks have all succeeded, and takes them back.
///
/// ```
/// use daisy_core::{BlockStatus, Scheduler, Task};
/// use daisy_geometry::Roi;
///
/// // docs/semantics.md#scheduling: two blocks; with conflicts, block 2 (level 0) runs before block 1.
/// let task = Task::builder(
///     "t",
///     Roi::from_values(&[0], &[4]).unwrap(),
///     Roi::from_values(&[0], &[3]).unwrap(),
///     Roi::from_values(&[1], &[1]).unwrap(),
/// )
/// .build()
/// .unwrap();
/// let mut scheduler = Scheduler::new(&[task], true).unwrap();
/// let mut block = scheduler.acquire_block("t").unwrap().unwrap();
/// assert_eq!(block.spatial_id(), 2);
/// assert!(scheduler.acquire_block("t").unwrap().is_none());
/// block.status = BlockStatus::Success;
/// scheduler.release_block(&block).unwrap();
/// assert_eq!(scheduler.acquire_block("t").unwrap().unwrap().spatial_id(), 1);
/// // An unknown task is an error, not "nothing ready".
/// assert!(scheduler.acquire_block("nope").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Scheduler {
    graph: DependencyGraph,
    surface: ReadySurface,
    queues: Vec<ProcessingQueue>,
    states: Vec<TaskState>,
    /// Task indices in `task_states` order: root tasks first, then the others.
    order: Vec<usize>,
    abandoned: Vec<bool>,
    /// Per task: failed attempts while no block of it has succeeded (skips do not count).
    failures_before_success: Vec<u32>,
    /// Per task: set when the task was abandoned because its first attempts all failed.
    failure_limits: Vec<Option<FailureLimit>>,
    /// Done markers of the tasks that keep one.
    markers: Vec<Option<Arc<DoneMarker>>>,
    count_all_orphans: bool,
    /// Blocks ready or out across all tasks: when none are, no pending block can ever run.
    live: u64,
    /// Scratch space, reused from release to release.
    ready: Vec<Ready>,
    orphans: Vec<u64>,
    last_ready_tasks: Vec<usize>,
}

impl Scheduler {
    /// A scheduler for the tasks and, recursively, their upstream tasks.
    ///
    /// With `count_all_orphans = false` the orphans of a failed block are not walked at once;
    /// they are counted when nothing is left to run (docs/semantics.md#scheduling). Readiness is the same either way.
    ///
    /// Tasks with a done marker open it here; blocks it records are skipped (counted as
    /// skipped) before any pre-check, and every success is recorded.
    ///
    /// # Errors
    ///
    /// The errors of [`DependencyGraph::new`] and of [`DoneMarker::open`] (e.g. a marker written
    /// for another layout).
    pub fn new<'a>(
        tasks: impl IntoIterator<Item = &'a Arc<Task>>,
        count_all_orphans: bool,
    ) -> Result<Self, CoreError> {
        Self::from_graph(DependencyGraph::new(tasks)?, count_all_orphans)
    }

    /// A scheduler over an existing dependency graph.
    ///
    /// # Errors
    ///
    /// The errors of [`DoneMarker::open`].
    pub fn from_graph(graph: DependencyGraph, count_all_orphans: bool) -> Result<Self, CoreError> {
        let markers = graph
            .tasks()
            .iter()
            .map(|task| {
                task.done_marker()
                    .map(|path| DoneMarker::open(path, task).map(Arc::new))
                    .transpose()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let n = graph.tasks().len();
        let mut queues = Vec::with_capacity(n);
        let mut states = Vec::with_capacity(n);
        let mut live = 0;
        for t in 0..n {
            let tiling = graph.graph(t);
            let queue = ProcessingQueue::new(graph.roots(t));
            let ready_count = queue.num_ready();
            live += ready_count;
            states.push(TaskState {
                total_block_count: tiling.num_blocks(),
                ready_count,
                ..TaskState::default()
            });
            queues.push(queue);
        }
        let (roots, others): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&t| graph.is_root_task(t));
        Ok(Self {
            surface: ReadySurface::new(n),
            queues,
            states,
            order: roots.into_iter().chain(others).collect(),
            abandoned: vec![false; n],
            failures_before_success: vec![0; n],
            failure_limits: vec![None; n],
            count_all_orphans,
            live,
            ready: Vec::new(),
            orphans: vec![0; n],
            last_ready_tasks: Vec::new(),
            markers,
            graph,
        })
    }

    /// The done marker of a task, if it keeps one.
    #[must_use]
    pub fn done_marker(&self, task_id: &str) -> Option<&Arc<DoneMarker>> {
        self.graph
            .index_of(task_id)
            .and_then(|t| self.markers[t].as_ref())
    }

    /// Flushes every done marker to disk (call at the end of a run).
    ///
    /// # Errors
    ///
    /// The first error of [`DoneMarker::sync`].
    pub fn sync_done_markers(&self) -> Result<(), CoreError> {
        self.markers.iter().flatten().try_for_each(|m| m.sync())
    }

    /// The dependency graph.
    #[must_use]
    pub fn dependency_graph(&self) -> &DependencyGraph {
        &self.graph
    }
    /// The frontier of partly unblocked blocks.
    #[must_use]
    pub fn ready_surface(&self) -> &ReadySurface {
        &self.surface
    }
    /// Whether orphans are counted the moment a block fails for good.
    #[must_use]
    pub fn count_all_orphans(&self) -> bool {
        self.count_all_orphans
    }
    /// The task with this id.
    #[must_use]
    pub fn task(&self, task_id: &str) -> Option<&Arc<Task>> {
        self.graph.task(task_id)
    }
    /// The counters of a task.
    #[must_use]
    pub fn task_state(&self, task_id: &str) -> Option<&TaskState> {
        self.graph.index_of(task_id).map(|t| &self.states[t])
    }
    /// The ready and processing blocks of a task.
    #[must_use]
    pub fn task_queue(&self, task_id: &str) -> Option<&ProcessingQueue> {
        self.graph.index_of(task_id).map(|t| &self.queues[t])
    }
    /// Every task's counters: root tasks first, then the others, each in registration order.
    pub fn task_states(&self) -> impl Iterator<Item = (&TaskId, &TaskState)> {
        self.order
            .iter()
            .map(|&t| (self.graph.tasks()[t].task_id(), &self.states[t]))
    }
    /// The tasks with ready blocks, in `task_states` order.
    pub fn get_ready_tasks(&self) -> impl Iterator<Item = &Arc<Task>> {
        self.order
            .iter()
            .filter(|&&t| self.states[t].ready_count > 0)
            .map(|&t| &self.graph.tasks()[t])
    }
    /// The tasks that gained ready blocks in the last release.
    pub fn last_release_ready_tasks(&self) -> impl Iterator<Item = &TaskId> {
        self.last_ready_tasks
            .iter()
            .map(|&t| self.graph.tasks()[t].task_id())
    }
    /// Whether every task is done.
    #[must_use]
    pub fn all_done(&self) -> bool {
        self.states.iter().all(TaskState::is_done)
    }

    /// Hands out the next ready block of a task, skipping (and counting) blocks whose pre-check
    /// says they are done; `Ok(None)` if nothing is ready.
    ///
    /// # Errors
    ///
    /// [`CoreError::UnknownTask`] for a task id the scheduler does not know.
    #[inline]
    pub fn acquire_block(&mut self, task_id: &str) -> Result<Option<Block>, CoreError> {
        self.acquire_block_in(task_id, 0)
    }

    /// [`Scheduler::acquire_block`] for one of several workers: `lane` numbers the worker
    /// (small numbers, e.g. 0, 1, 2, … for the workers of a task).
    ///
    /// Each lane gets its own share of the task's roots and the blocks that its own releases
    /// make ready, so a worker's consecutive blocks are neighbours and re-use the chunks the
    /// worker read for the last one; a lane that runs dry takes from the others (half of the
    /// largest share of roots, else the oldest block of the longest queue). Every ready block
    /// is in exactly one lane, so readiness, conflicts, retries and counts are the same as
    /// with one lane; only which worker gets which ready block differs. Lane 0 alone is
    /// [`Scheduler::acquire_block`], daisy's order.
    ///
    /// # Errors
    ///
    /// [`CoreError::UnknownTask`] for a task id the scheduler does not know.
    #[inline]
    pub fn acquire_block_in(
        &mut self,
        task_id: &str,
        lane: u32,
    ) -> Result<Option<Block>, CoreError> {
        let t = self.index(task_id)?;
        if self.graph.tasks()[t].check_function().is_none() {
            // The common path hands the block straight through, built in the caller's slot.
            return Ok(self.take_next(t, lane));
        }
        loop {
            let Some(block) = self.take_next(t, lane) else {
                return Ok(None);
            };
            if !self.graph.tasks()[t].pre_check(&block) {
                return Ok(Some(block));
            }
            let Some((key, lane)) = self.queues[t].finish(block.spatial_id()) else {
                return Err(not_processing(&block));
            };
            self.states[t].skipped_count += 1;
            self.succeed(t, key, block.spatial_id(), lane);
        }
    }

    /// Hands out the next ready block of a task without running its pre-check; `Ok(None)` if
    /// nothing is ready.
    ///
    /// For servers that run checks off their event loop: release the block with
    /// [`Scheduler::skip_block`] if its pre-check says it is done.
    ///
    /// # Errors
    ///
    /// [`CoreError::UnknownTask`] for a task id the scheduler does not know.
    pub fn acquire_block_unchecked(&mut self, task_id: &str) -> Result<Option<Block>, CoreError> {
        self.acquire_block_unchecked_in(task_id, 0)
    }

    /// [`Scheduler::acquire_block_unchecked`] for one of several workers, numbered by `lane`
    /// as in [`Scheduler::acquire_block_in`].
    ///
    /// # Errors
    ///
    /// [`CoreError::UnknownTask`] for a task id the scheduler does not know.
    pub fn acquire_block_unchecked_in(
        &mut self,
        task_id: &str,
        lane: u32,
    ) -> Result<Option<Block>, CoreError> {
        let t = self.index(task_id)?;
        Ok(self.take_next(t, lane))
    }

    /// The index of a task, or [`CoreError::UnknownTask`].
    #[inline]
    fn index(&self, task_id: &str) -> Result<usize, CoreError> {
        self.graph
            .index_of(task_id)
            .ok_or_else(|| CoreError::UnknownTask {
                task_id: task_id.to_owned(),
            })
    }

    /// Whether the scheduler gave up a task on its own because its first block attempts all
    /// failed ([`Task::max_failures_before_success`]); `None` if it did not (or the task is
    /// unknown).
    #[must_use]
    pub fn failure_limit(&self, task_id: &str) -> Option<FailureLimit> {
        self.graph
            .index_of(task_id)
            .and_then(|t| self.failure_limits[t])
    }

    /// Releases an unchecked block whose pre-check said it is done: it counts as skipped.
    ///
    /// # Errors
    ///
    /// [`CoreError::UnknownTask`] if the block's task is not scheduled here,
    /// [`CoreError::NotProcessing`] if the block is not out; nothing changes then.
    pub fn skip_block(&mut self, block: &mut Block) -> Result<(), CoreError> {
        let t = self.task_of(block)?;
        self.queues[t]
            .processing_key(block.spatial_id())
            .ok_or_else(|| not_processing(block))?;
        block.status = BlockStatus::Success;
        self.states[t].skipped_count += 1;
        self.release_block(block)
    }

    /// The index of a block's task.
    fn task_of(&self, block: &Block) -> Result<usize, CoreError> {
        self.index(block.task_id())
    }

    /// The next ready block of task `t` for `lane`, now out; blocks its done marker records
    /// are skipped.
    #[inline]
    fn take_next(&mut self, t: usize, lane: u32) -> Option<Block> {
        loop {
            let tiling = self.graph.graph(t);
            let g = self.queues[t].get_next(tiling, lane)?;
            let spatial_id = tiling.spatial_id(&g);
            let key = tiling.key(&g);
            self.queues[t].start(spatial_id, key, lane);
            let state = &mut self.states[t];
            state.ready_count -= 1;
            state.processing_count += 1;
            if let Some(marker) = &self.markers[t] {
                let done = marker.is_done(spatial_id).unwrap_or_else(|e| {
                    tracing::error!("{e}");
                    false
                });
                if done {
                    self.queues[t].finish(spatial_id);
                    self.states[t].skipped_count += 1;
                    self.succeed(t, key, spatial_id, lane);
                    continue;
                }
            }
            self.states[t].started = true;
            // Built last, straight into the caller's slot: a block is large, skipped ones
            // are never built.
            return Some(self.graph.graph(t).block_with_id(&g, spatial_id));
        }
    }

    /// Takes a block back: SUCCESS releases its downstream blocks; FAILED re-queues it until
    /// its task's `max_retries` is used up, then fails it for good and orphans what depends on it.
    ///
    /// A task whose failed attempts reach its [`Task::max_failures_before_success`] before any
    /// of its blocks succeeded is abandoned ([`Scheduler::failure_limit`] says so): the block
    /// fails for good, and the task's other ready and pending blocks count as orphaned.
    ///
    /// # Errors
    ///
    /// [`CoreError::UnknownTask`] if the block's task is not scheduled here,
    /// [`CoreError::NotProcessing`] if the block is not out, [`CoreError::UnexpectedStatus`] if
    /// its status is neither SUCCESS nor FAILED; in all three cases nothing changes.
    #[inline]
    pub fn release_block(&mut self, block: &Block) -> Result<(), CoreError> {
        let t = self.task_of(block)?;
        if !matches!(block.status, BlockStatus::Success | BlockStatus::Failed) {
            // "Not out" is the more fundamental mistake: report it first.
            self.queues[t]
                .processing_key(block.spatial_id())
                .ok_or_else(|| not_processing(block))?;
            return Err(CoreError::UnexpectedStatus {
                task_id: block.task_id().to_owned(),
                spatial_id: block.spatial_id(),
                status: block.status,
            });
        }
        let (key, lane) = self.queues[t]
            .finish(block.spatial_id())
            .ok_or_else(|| not_processing(block))?;
        if block.status == BlockStatus::Success {
            self.succeed(t, key, block.spatial_id(), lane);
        } else {
            self.fail(t, key, lane);
        }
        Ok(())
    }

    /// Block `key` of task `t`, no longer out, succeeded: record it, queue what it unblocks
    /// in `lane` (the lane it went out in).
    #[inline]
    fn succeed(&mut self, t: usize, key: u64, spatial_id: u64, lane: u32) {
        if let Some(marker) = &self.markers[t]
            && let Err(e) = marker.mark_done(spatial_id)
        {
            tracing::error!("{e}");
        }
        self.states[t].processing_count -= 1;
        self.states[t].completed_count += 1;
        self.live -= 1;
        self.last_ready_tasks.clear();
        self.queues[t].forget_retries(key);
        if self.graph.has_downstream(t) {
            let g = self.graph.graph(t).position(key);
            self.surface
                .mark_success(&self.graph, t, &g, &mut self.ready);
            self.queue_ready(lane);
        }
        if self.live == 0 {
            self.orphan_stranded();
        }
    }

    /// Block `key` of task `t`, no longer out, failed: retry it (in `lane`, the lane it went
    /// out in), or fail it for good.
    fn fail(&mut self, t: usize, key: u64, lane: u32) {
        self.states[t].processing_count -= 1;
        self.live -= 1;
        self.last_ready_tasks.clear();
        let limit = self.count_failure(t);
        if limit.is_none()
            && !self.abandoned[t]
            && self.queues[t].retries(key) < self.graph.tasks()[t].max_retries()
        {
            self.queues[t].count_retry(key);
            self.queues[t].push_ready(key, lane);
            self.states[t].ready_count += 1;
            self.live += 1;
            self.last_ready_tasks.push(t);
        } else {
            self.queues[t].forget_retries(key);
            self.states[t].failed_count += 1;
            let g = self.graph.graph(t).position(key);
            self.surface.mark_failure(
                &self.graph,
                t,
                &g,
                self.count_all_orphans,
                &mut self.orphans,
            );
            for (task, n) in self.orphans.iter_mut().enumerate() {
                if !self.abandoned[task] {
                    self.states[task].orphaned_count += *n;
                }
                *n = 0;
            }
        }
        if let Some(limit) = limit {
            self.failure_limits[t] = Some(limit);
            self.abandon(t);
        }
        if self.live == 0 {
            self.orphan_stranded();
        }
    }

    /// Counts a failed attempt of task `t` if none of its blocks succeeded yet; the limit it
    /// reached, if this failure reaches it.
    fn count_failure(&mut self, t: usize) -> Option<FailureLimit> {
        let state = &self.states[t];
        if self.abandoned[t] || state.completed_count > state.skipped_count {
            return None;
        }
        let limit = self.graph.tasks()[t].max_failures_before_success()?;
        let failures = &mut self.failures_before_success[t];
        *failures = failures.saturating_add(1);
        (*failures >= limit).then_some(FailureLimit { failures: limit })
    }

    /// Queues the blocks in `self.ready` in their own tasks, in lane `lane` (in a downstream
    /// task the lane of the same number: its blocks near the released one).
    #[inline]
    fn queue_ready(&mut self, lane: u32) {
        for r in self.ready.drain(..) {
            if self.abandoned[r.task] {
                continue; // already counted as orphaned
            }
            self.queues[r.task].push_ready(r.key, lane);
            self.states[r.task].ready_count += 1;
            self.live += 1;
            if !self.last_ready_tasks.contains(&r.task) {
                self.last_ready_tasks.push(r.task);
            }
        }
    }

    /// Gives up on a task (its workers keep dying): its ready and pending blocks count as
    /// orphaned, and blocks of other tasks that wait for them are orphaned once nothing else can
    /// run. Blocks of the task that are out are still taken back normally.
    ///
    /// # Errors
    ///
    /// [`CoreError::UnknownTask`] for an unknown task id.
    pub fn abandon_task(&mut self, task_id: &str) -> Result<(), CoreError> {
        let t = self.index(task_id)?;
        self.abandon(t);
        Ok(())
    }

    /// Gives up on task `t` (see [`Scheduler::abandon_task`]).
    fn abandon(&mut self, t: usize) {
        if self.abandoned[t] {
            return;
        }
        self.abandoned[t] = true;
        let ready = self.queues[t].drain_ready();
        self.live -= ready;
        let state = &mut self.states[t];
        state.ready_count = 0;
        state.orphaned_count += state.pending_count();
        self.surface.clear_task(t);
        if self.live == 0 {
            self.orphan_stranded();
        }
    }

    /// Nothing is ready or out anywhere, so no pending block can ever become ready: each is an
    /// orphan whose walk was cut short (docs/semantics.md#scheduling), depends on an abandoned task, or (a block of a
    /// downstream task that no upstream block overlaps) has no way to start. Counting them as
    /// orphaned keeps the counts exact and lets the run end instead of hanging.
    fn orphan_stranded(&mut self) {
        for state in &mut self.states {
            state.orphaned_count += state.pending_count();
        }
    }
}

/// A task given up because its first block attempts all failed
/// ([`Task::max_failures_before_success`], docs/semantics.md#when-blocks-fail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimit {
    /// The number of failed attempts, none succeeded: the task's limit.
    pub failures: u32,
}

impl FailureLimit {
    /// Why the task was abandoned, as the Execution Summary says it, with the last error if
    /// it is known.
    #[must_use]
    pub fn reason(&self, last_error: Option<&str>) -> String {
        let mut reason = format!(
            "the first {} block attempts all failed and none succeeded \
             (max_failures_before_success={})",
            self.failures, self.failures
        );
        if let Some(error) = last_error {
            reason.push_str("; the last error: ");
            reason.push_str(error);
        }
        reason
    }
}

/// The error for a block that is not out.
fn not_processing(block: &Block) -> CoreError {
    CoreError::NotProcessing {
        task_id: block.task_id().to_owned(),
        spatial_id: block.spatial_id(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_values::roi;

    /// `blocks` independent blocks in 1-D.
    fn line(id: &str, blocks: i64) -> crate::TaskBuilder {
        Task::builder(id, roi(&[0], &[blocks]), roi(&[0], &[1]), roi(&[0], &[1]))
            .read_write_conflict(false)
    }

    /// Acquires and releases blocks of `task_id` one at a time with `status` until none is
    /// ready; the number of attempts.
    fn run(s: &mut Scheduler, task_id: &str, status: BlockStatus) -> u32 {
        let mut attempts = 0;
        while let Some(mut block) = s.acquire_block(task_id).unwrap() {
            block.status = status;
            s.release_block(&block).unwrap();
            attempts += 1;
        }
        attempts
    }

    /// The write offsets of the blocks that lanes 0 and 1 get, taking turns, each released at
    /// once: a 4×4 grid of 2×2 blocks.
    fn two_lanes(conflict: bool, context: i64) -> [Vec<Vec<i64>>; 2] {
        let task = Task::builder(
            "t",
            roi(&[-context, -context], &[8 + 2 * context, 8 + 2 * context]),
            roi(&[-context, -context], &[2 + 2 * context, 2 + 2 * context]),
            roi(&[0, 0], &[2, 2]),
        )
        .read_write_conflict(conflict)
        .build()
        .unwrap();
        let mut s = Scheduler::new(&[task], true).unwrap();
        let mut got = [Vec::new(), Vec::new()];
        let mut idle = 0;
        for turn in 0.. {
            let lane = turn % 2;
            match s.acquire_block_in("t", lane as u32).unwrap() {
                Some(mut block) => {
                    idle = 0;
                    got[lane].push(block.write_roi.offset().bounded_values().unwrap().to_vec());
                    block.status = BlockStatus::Success;
                    s.release_block(&block).unwrap();
                }
                None if idle == 1 => break,
                None => idle += 1,
            }
        }
        assert!(s.all_done());
        got
    }

    #[test]
    fn each_lane_walks_its_own_neighbours() {
        let [a, b] = two_lanes(false, 0);
        let rows = |r: &[i64]| -> Vec<Vec<i64>> {
            r.iter()
                .flat_map(|&y| (0..8).step_by(2).map(move |x| vec![y, x]))
                .collect()
        };
        // Lane 0 had taken one block when lane 1 came: lane 1 takes the back half of the rest,
        // and, done first, the last block left in lane 0.
        assert_eq!(a, rows(&[0, 2]));
        let mut back = rows(&[4, 6]);
        back.rotate_left(1);
        assert_eq!(b, back);
        // With conflicts, the blocks a lane's releases make ready stay in that lane.
        let [a, b] = two_lanes(true, 1);
        assert_eq!(a.len() + b.len(), 16);
        assert!(!a.is_empty() && !b.is_empty());
    }

    #[test]
    fn acquire_block_of_an_unknown_task_is_an_error() {
        let mut s = Scheduler::new(&[line("t", 2).build().unwrap()], true).unwrap();
        let unknown =
            |e: CoreError| matches!(e, CoreError::UnknownTask { task_id } if task_id == "nope");
        assert!(unknown(s.acquire_block("nope").unwrap_err()));
        assert!(unknown(s.acquire_block_unchecked("nope").unwrap_err()));
        assert!(unknown(s.abandon_task("nope").unwrap_err()));
        // A block of a task the scheduler does not know: an unknown task, not "not out".
        let mut block = s.acquire_block("t").unwrap().unwrap();
        block.block_id.task_id = "nope".into();
        block.status = BlockStatus::Success;
        assert!(unknown(s.release_block(&block).unwrap_err()));
        assert!(unknown(s.skip_block(&mut block).unwrap_err()));
        // Nothing changed: the real block is still out.
        assert_eq!(s.task_state("t").unwrap().processing_count, 1);
        assert_eq!(s.acquire_block("t").unwrap().unwrap().spatial_id(), 1);
        assert!(s.acquire_block("t").unwrap().is_none());
    }

    #[test]
    fn a_task_whose_first_attempts_all_fail_stops_early() {
        // The default limit: (max_retries + 1) × max(10, 2 × num_workers) = 3 × 10.
        let a = line("A", 1000).build().unwrap();
        assert_eq!(a.max_failures_before_success(), Some(30));
        let b = line("B", 1000).upstream_task(&a).build().unwrap();
        let mut s = Scheduler::new(&[b], true).unwrap();
        assert_eq!(run(&mut s, "A", BlockStatus::Failed), 30);
        assert_eq!(s.failure_limit("A"), Some(FailureLimit { failures: 30 }));
        assert_eq!(s.failure_limit("B"), None);
        let a = *s.task_state("A").unwrap();
        assert_eq!((a.failed_count, a.orphaned_count), (1, 999));
        assert!(s.all_done(), "the downstream task is orphaned too");
        assert_eq!(s.task_state("B").unwrap().orphaned_count, 1000);
        assert_eq!(
            FailureLimit { failures: 30 }.reason(Some("RuntimeError('boom')")),
            "the first 30 block attempts all failed and none succeeded \
             (max_failures_before_success=30); the last error: RuntimeError('boom')"
        );
    }

    #[test]
    fn blocks_out_when_the_limit_is_reached_still_come_back() {
        let t = line("t", 100)
            .max_retries(0)
            .max_failures_before_success(3)
            .build()
            .unwrap();
        let mut s = Scheduler::new(&[t], true).unwrap();
        let mut out: Vec<Block> = (0..5)
            .map(|_| s.acquire_block("t").unwrap().unwrap())
            .collect();
        for block in &mut out[..3] {
            block.status = BlockStatus::Failed;
            s.release_block(block).unwrap();
        }
        assert!(s.failure_limit("t").is_some());
        assert!(
            s.acquire_block("t").unwrap().is_none(),
            "nothing more is handed out"
        );
        out[3].status = BlockStatus::Success;
        out[4].status = BlockStatus::Failed;
        s.release_block(&out[3]).unwrap();
        s.release_block(&out[4]).unwrap();
        let state = *s.task_state("t").unwrap();
        assert_eq!(
            (
                state.completed_count,
                state.failed_count,
                state.orphaned_count
            ),
            (1, 4, 95)
        );
        assert!(state.is_done());
    }

    #[test]
    fn one_success_or_a_limit_of_zero_keeps_a_failing_task_going() {
        let t = line("t", 50).max_retries(1).build().unwrap();
        let mut s = Scheduler::new(&[t], true).unwrap();
        let mut first = s.acquire_block("t").unwrap().unwrap();
        first.status = BlockStatus::Success;
        s.release_block(&first).unwrap();
        assert_eq!(run(&mut s, "t", BlockStatus::Failed), 98);
        assert_eq!(s.failure_limit("t"), None);
        assert_eq!(s.task_state("t").unwrap().failed_count, 49);

        let t = line("t", 50)
            .max_retries(1)
            .max_failures_before_success(0)
            .build()
            .unwrap();
        assert_eq!(t.max_failures_before_success(), None);
        let mut s = Scheduler::new(&[t], true).unwrap();
        assert_eq!(run(&mut s, "t", BlockStatus::Failed), 100);
        assert_eq!(s.failure_limit("t"), None);
        assert_eq!(s.task_state("t").unwrap().failed_count, 50);
    }

    #[test]
    fn skipped_blocks_are_not_successes() {
        let t = line("t", 40)
            .max_retries(0)
            .check_function(|b: &Block| Ok(b.spatial_id() < 5))
            .build()
            .unwrap();
        let mut s = Scheduler::new(&[t], true).unwrap();
        assert_eq!(run(&mut s, "t", BlockStatus::Failed), 10);
        let state = *s.task_state("t").unwrap();
        assert_eq!((state.skipped_count, state.failed_count), (5, 10));
        assert_eq!(state.orphaned_count, 25);
        assert!(s.failure_limit("t").is_some());
    }

    #[test]
    fn the_default_limit_grows_with_workers_and_retries() {
        let t = line("t", 1).num_workers(8).max_retries(4).build().unwrap();
        assert_eq!(t.max_failures_before_success(), Some(5 * 16));
        let t = line("t", 1)
            .num_workers(usize::MAX)
            .max_retries(u32::MAX)
            .build()
            .unwrap();
        assert_eq!(t.max_failures_before_success(), Some(u32::MAX));
    }
}
