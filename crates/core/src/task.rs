//! A task: a total ROI tiled by block templates, with options (docs/semantics.md#tasks).

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use daisy_geometry::Roi;

use crate::{Block, CoreError, Fit, TaskId, Tiling};

/// The error a block or check function may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A check run on a block; `Ok(true)` means "done".
pub type CheckFunction = Arc<dyn Fn(&Block) -> Result<bool, BoxError> + Send + Sync>;

/// Called once per task when it first has ready blocks, before its workers start, with the
/// `DAISY_CONTEXT` string a worker would get (`worker_id=0`); an error aborts the run.
pub type InitCallback = Arc<dyn Fn(&str) -> Result<(), BoxError> + Send + Sync>;

/// An in-process block function.
pub type BlockFunction = Arc<dyn Fn(&mut Block) -> Result<(), BoxError> + Send + Sync>;

/// How many times crashed workers of a task are replaced unless the task says otherwise.
pub const DEFAULT_MAX_WORKER_RESTARTS: u32 = 10;

/// The fewest workers a task may have.
pub const MIN_NUM_WORKERS: usize = 1;

/// The longest per-block timeout: about 100 years. Longer timeouts are clamped to it (they mean
/// the same: no block waits that long), so a deadline never overflows the clock.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// The longest task id in bytes: task ids name directories (the task's worker logs), and file
/// systems allow 255 bytes per name.
pub const MAX_TASK_ID_BYTES: usize = 255;

/// A named unit of work: a total ROI tiled into blocks, a block function and options.
///
/// Built with [`Task::builder`]; immutable and shared as `Arc<Task>` once built.
///
/// ```
/// use daisy_core::{Fit, Task};
/// use daisy_geometry::Roi;
///
/// let task = Task::builder(
///     "smooth",
///     Roi::from_values(&[0, 0, 0], &[1024, 1024, 1024]).unwrap(),
///     Roi::from_values(&[0, 0, 0], &[80, 80, 80]).unwrap(),
///     Roi::from_values(&[8, 8, 8], &[64, 64, 64]).unwrap(),
/// )
/// .fit(Fit::Shrink)
/// .max_retries(3)
/// .build()
/// .unwrap();
/// assert_eq!(task.total_write_roi().to_string(), "[8:1016, 8:1016, 8:1016] (1008, 1008, 1008)");
/// ```
#[derive(Clone)]
pub struct Task {
    options: TaskOptions,
    /// The grid of blocks, computed and validated by [`TaskBuilder::build`].
    tiling: Tiling,
}

/// What a [`TaskBuilder`] collects: everything of a task but its tiling.
#[derive(Clone)]
struct TaskOptions {
    task_id: TaskId,
    total_roi: Roi,
    read_roi: Roi,
    write_roi: Roi,
    process_function: Option<BlockFunction>,
    check_function: Option<CheckFunction>,
    post_check_function: Option<CheckFunction>,
    init_callback: Option<InitCallback>,
    read_write_conflict: bool,
    num_workers: usize,
    max_retries: u32,
    fit: Fit,
    timeout: Option<Duration>,
    upstream_tasks: Vec<Arc<Task>>,
    max_worker_restarts: u32,
    done_marker: Option<PathBuf>,
    /// `None`: the default of [`Task::max_failures_before_success`]; `Some(0)`: off.
    max_failures_before_success: Option<u32>,
}

impl Task {
    /// Starts building a task from its id, total (read) ROI and block templates.
    pub fn builder(
        task_id: impl Into<TaskId>,
        total_roi: Roi,
        read_roi: Roi,
        write_roi: Roi,
    ) -> TaskBuilder {
        TaskBuilder {
            task: TaskOptions {
                task_id: task_id.into(),
                total_roi,
                read_roi,
                write_roi,
                process_function: None,
                check_function: None,
                post_check_function: None,
                init_callback: None,
                read_write_conflict: true,
                num_workers: 1,
                max_retries: 2,
                fit: Fit::Valid,
                timeout: None,
                upstream_tasks: Vec::new(),
                max_worker_restarts: DEFAULT_MAX_WORKER_RESTARTS,
                done_marker: None,
                max_failures_before_success: None,
            },
            timeout_secs: None,
        }
    }

    /// The task's unique name.
    #[must_use]
    pub fn task_id(&self) -> &TaskId {
        &self.options.task_id
    }
    /// The total read ROI.
    #[must_use]
    pub fn total_roi(&self) -> Roi {
        self.options.total_roi
    }
    /// The block-relative read ROI template.
    #[must_use]
    pub fn read_roi(&self) -> Roi {
        self.options.read_roi
    }
    /// The block-relative write ROI template.
    #[must_use]
    pub fn write_roi(&self) -> Roi {
        self.options.write_roi
    }
    /// The total ROI shrunk by the context: the region write ROIs tile.
    #[must_use]
    pub fn total_write_roi(&self) -> Roi {
        self.tiling.total_write_roi()
    }
    /// The in-process block function, if any.
    #[must_use]
    pub fn process_function(&self) -> Option<&BlockFunction> {
        self.options.process_function.as_ref()
    }
    /// The pre-check, if any.
    #[must_use]
    pub fn check_function(&self) -> Option<&CheckFunction> {
        self.options.check_function.as_ref()
    }
    /// The post-check, if any.
    #[must_use]
    pub fn post_check_function(&self) -> Option<&CheckFunction> {
        self.options.post_check_function.as_ref()
    }
    /// The init callback, if any.
    #[must_use]
    pub fn init_callback(&self) -> Option<&InitCallback> {
        self.options.init_callback.as_ref()
    }
    /// Whether blocks whose read ROI overlaps another's write ROI must not run together.
    #[must_use]
    pub fn read_write_conflict(&self) -> bool {
        self.options.read_write_conflict
    }
    /// The number of workers for this task.
    #[must_use]
    pub fn num_workers(&self) -> usize {
        self.options.num_workers
    }
    /// A block is attempted up to `max_retries + 1` times.
    #[must_use]
    pub fn max_retries(&self) -> u32 {
        self.options.max_retries
    }
    /// The fit mode.
    #[must_use]
    pub fn fit(&self) -> Fit {
        self.options.fit
    }
    /// How long a block may stay out before it is lost.
    #[must_use]
    pub fn timeout(&self) -> Option<Duration> {
        self.options.timeout
    }
    /// The tasks this task reads from.
    #[must_use]
    pub fn upstream_tasks(&self) -> &[Arc<Task>] {
        &self.options.upstream_tasks
    }
    /// Where the task records its finished blocks, if it does ([`crate::DoneMarker`]).
    #[must_use]
    pub fn done_marker(&self) -> Option<&Path> {
        self.options.done_marker.as_deref()
    }
    /// The task's grid of blocks: block ids, keys, levels, fit (docs/semantics.md#tiling).
    #[must_use]
    pub fn tiling(&self) -> &Tiling {
        &self.tiling
    }
    /// How many times crashed workers of this task are replaced.
    #[must_use]
    pub fn max_worker_restarts(&self) -> u32 {
        self.options.max_worker_restarts
    }
    /// After this many failed block attempts with no block processed successfully yet, the
    /// task is abandoned (`None`: never). By default
    /// `(max_retries + 1) × max(10, 2 × num_workers)` (docs/semantics.md#when-blocks-fail).
    #[must_use]
    pub fn max_failures_before_success(&self) -> Option<u32> {
        match self.options.max_failures_before_success {
            Some(0) => None,
            Some(n) => Some(n),
            None => {
                let blocks = u32::try_from(self.options.num_workers.saturating_mul(2))
                    .unwrap_or(u32::MAX)
                    .max(10);
                Some(blocks.saturating_mul(self.options.max_retries.saturating_add(1)))
            }
        }
    }

    /// This task with other upstream tasks, everything else shared: how tasks given with
    /// their upstream tasks by position are linked ([`crate::link_tasks`]).
    #[must_use]
    pub fn with_upstream_tasks(&self, upstream_tasks: Vec<Arc<Task>>) -> Arc<Task> {
        let mut task = self.clone();
        task.options.upstream_tasks = upstream_tasks;
        Arc::new(task)
    }

    /// Runs the pre-check on a block: `true` means it is already done and is skipped.
    ///
    /// A check that fails or panics is logged and counts as "not done".
    #[must_use]
    pub fn pre_check(&self, block: &Block) -> bool {
        run_check(self.options.check_function.as_ref(), block, "pre_check").unwrap_or(false)
    }

    /// Runs the post-check on a block a worker reported as done: `false` fails the block.
    ///
    /// Without a post-check the result is `true`; a check that fails or panics gives `false`.
    #[must_use]
    pub fn post_check(&self, block: &Block) -> bool {
        run_check(
            self.options.post_check_function.as_ref(),
            block,
            "post_check",
        )
        .unwrap_or(true)
    }
}

/// What is wrong with a task id, if anything.
///
/// A task id names a directory (`<logdir>/<task_id>/`, the task's worker logs), so it must be
/// one safe path component; it is also a value of `DAISY_CONTEXT`.
fn task_id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        Some("it must not be empty")
    } else if id == "." || id == ".." {
        Some("it must not be '.' or '..': task ids name directories (the task's worker logs)")
    } else if id.contains(['/', '\\']) {
        Some(
            "it must not contain '/' or '\\': task ids name directories (the task's worker \
             logs), one path component each",
        )
    } else if id.chars().any(char::is_control) {
        Some(
            "it must not contain NUL or other control characters: task ids name directories \
             (the task's worker logs)",
        )
    } else if id.len() > MAX_TASK_ID_BYTES {
        Some(
            "it must be at most 255 bytes long: task ids name directories (the task's worker \
             logs)",
        )
    } else if id.contains([':', '=']) {
        Some("it must not contain ':' or '='")
    } else {
        None
    }
}

/// Runs a check, catching errors and panics; `None` if there is no check.
fn run_check(check: Option<&CheckFunction>, block: &Block, name: &str) -> Option<bool> {
    let check = check?;
    Some(match catch_unwind(AssertUnwindSafe(|| check(block))) {
        Ok(Ok(done)) => done,
        Ok(Err(error)) => {
            tracing::error!("{name}() exception for block {}: {error}", block.block_id);
            false
        }
        Err(_) => {
            tracing::error!("{name}() panicked for block {}", block.block_id);
            false
        }
    })
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("task_id", &self.options.task_id)
            .field("total_roi", &self.options.total_roi)
            .field("read_roi", &self.options.read_roi)
            .field("write_roi", &self.options.write_roi)
            .field("read_write_conflict", &self.options.read_write_conflict)
            .field("fit", &self.options.fit)
            .field("num_workers", &self.options.num_workers)
            .field("max_retries", &self.options.max_retries)
            .field("timeout", &self.options.timeout)
            .field(
                "upstream_tasks",
                &self
                    .options
                    .upstream_tasks
                    .iter()
                    .map(|t| t.options.task_id.clone())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Builds a [`Task`], validating it in [`TaskBuilder::build`].
#[must_use]
pub struct TaskBuilder {
    task: TaskOptions,
    /// A timeout in seconds, checked by `build`.
    timeout_secs: Option<f64>,
}

impl TaskBuilder {
    /// The in-process block function (threads, serial runs).
    pub fn process_function(
        mut self,
        f: impl Fn(&mut Block) -> Result<(), BoxError> + Send + Sync + 'static,
    ) -> Self {
        self.task.process_function = Some(Arc::new(f));
        self
    }
    /// The pre-check: `Ok(true)` skips the block.
    pub fn check_function(
        mut self,
        f: impl Fn(&Block) -> Result<bool, BoxError> + Send + Sync + 'static,
    ) -> Self {
        self.task.check_function = Some(Arc::new(f));
        self
    }
    /// The post-check, run after a worker reports success: `Ok(false)` fails the block.
    pub fn post_check_function(
        mut self,
        f: impl Fn(&Block) -> Result<bool, BoxError> + Send + Sync + 'static,
    ) -> Self {
        self.task.post_check_function = Some(Arc::new(f));
        self
    }
    /// Called once when the task first has ready blocks, before its workers start, with the
    /// `DAISY_CONTEXT` string a worker would get; an error aborts the run (distributed runs only).
    pub fn init_callback(
        mut self,
        f: impl Fn(&str) -> Result<(), BoxError> + Send + Sync + 'static,
    ) -> Self {
        self.task.init_callback = Some(Arc::new(f));
        self
    }
    /// Whether neighbouring blocks conflict (default `true`).
    pub fn read_write_conflict(mut self, conflict: bool) -> Self {
        self.task.read_write_conflict = conflict;
        self
    }
    /// The number of workers (default 1, at least [`MIN_NUM_WORKERS`]).
    pub fn num_workers(mut self, n: usize) -> Self {
        self.task.num_workers = n;
        self
    }
    /// Retries per block (default 2).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.task.max_retries = n;
        self
    }
    /// The fit mode (default [`Fit::Valid`]).
    pub fn fit(mut self, fit: Fit) -> Self {
        self.task.fit = fit;
        self
    }
    /// The per-block timeout (default none); it must not be zero, and a timeout longer than
    /// [`MAX_TIMEOUT`] is clamped to it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.task.timeout = Some(timeout);
        self.timeout_secs = None;
        self
    }
    /// The per-block timeout in seconds (default none); it must be positive and finite, and a
    /// timeout longer than [`MAX_TIMEOUT`] is clamped to it.
    pub fn timeout_secs(mut self, seconds: f64) -> Self {
        self.timeout_secs = Some(seconds);
        self
    }
    /// Adds a task this task reads from.
    pub fn upstream_task(mut self, task: &Arc<Task>) -> Self {
        self.task.upstream_tasks.push(Arc::clone(task));
        self
    }
    /// Adds tasks this task reads from.
    pub fn upstream_tasks<'a>(mut self, tasks: impl IntoIterator<Item = &'a Arc<Task>>) -> Self {
        self.task.upstream_tasks.extend(tasks.into_iter().cloned());
        self
    }
    /// Records finished blocks in a done marker at `path` (a Zarr v3 array, one byte per block
    /// id), so that a re-run skips them without a check function.
    pub fn done_marker(mut self, path: impl Into<PathBuf>) -> Self {
        self.task.done_marker = Some(path.into());
        self
    }
    /// How many times crashed workers are replaced (default [`DEFAULT_MAX_WORKER_RESTARTS`]).
    pub fn max_worker_restarts(mut self, n: u32) -> Self {
        self.task.max_worker_restarts = n;
        self
    }
    /// Abandons the task after `n` failed block attempts with no success yet; 0 never does
    /// (default: see [`Task::max_failures_before_success`]).
    pub fn max_failures_before_success(mut self, n: u32) -> Self {
        self.task.max_failures_before_success = Some(n);
        self
    }

    /// Validates the task and returns it.
    ///
    /// # Errors
    ///
    /// - [`CoreError::InvalidTaskId`] for an id that is not a single safe path component (task
    ///   ids name the directories of worker logs): empty, `.`, `..`, longer than
    ///   [`MAX_TASK_ID_BYTES`], or containing `/`, `\\`, NUL or another control character; or
    ///   one containing `:` or `=`;
    /// - [`CoreError::CountOutOfRange`] for fewer than [`MIN_NUM_WORKERS`] workers;
    /// - [`CoreError::InvalidTimeout`] for a timeout of zero, or one in seconds that is not
    ///   positive and finite (longer ones are clamped to [`MAX_TIMEOUT`]);
    /// - [`CoreError::DimensionMismatch`] if the three ROIs differ in dimensions;
    /// - [`CoreError::Unbounded`] if a ROI is unbounded;
    /// - [`CoreError::NegativeShape`] if the total or read ROI has a negative shape (an empty
    ///   total ROI is fine: the task has no blocks);
    /// - [`CoreError::NonPositiveWriteShape`] if a write shape element is ≤ 0;
    /// - [`CoreError::ReadMustContainWrite`] with `read_write_conflict` and a read ROI that
    ///   does not contain the write ROI;
    /// - [`CoreError::CoordinateOutOfRange`] for coordinates beyond ±2^60;
    /// - [`CoreError::CollidingBlockIds`] if the write ROI begins before the read ROI (possible
    ///   only without `read_write_conflict`): block ids, relative to the total read ROI, would
    ///   repeat (daisy 1.x accepted this and then crashed releasing the second block).
    pub fn build(self) -> Result<Arc<Task>, CoreError> {
        let mut task = self.task;
        let id = task.task_id.to_string();
        if let Some(reason) = task_id_problem(&id) {
            return Err(CoreError::InvalidTaskId {
                task_id: id,
                reason,
            });
        }
        if task.num_workers < MIN_NUM_WORKERS {
            return Err(CoreError::CountOutOfRange {
                task_id: id,
                what: "num_workers",
                min: MIN_NUM_WORKERS as u64,
                got: task.num_workers as u64,
            });
        }
        if let Some(seconds) = self.timeout_secs {
            let invalid = || CoreError::InvalidTimeout {
                task_id: id.clone(),
                seconds: seconds.to_string(),
            };
            if !(seconds.is_finite() && seconds > 0.0) {
                return Err(invalid());
            }
            let timeout = Duration::try_from_secs_f64(seconds).unwrap_or(MAX_TIMEOUT);
            if timeout.is_zero() {
                return Err(invalid()); // below a nanosecond
            }
            task.timeout = Some(timeout);
        }
        if task.timeout == Some(Duration::ZERO) {
            return Err(CoreError::InvalidTimeout {
                task_id: id,
                seconds: "0".to_owned(),
            });
        }
        task.timeout = task.timeout.map(|t| t.min(MAX_TIMEOUT));
        let tiling = Tiling::builder(task.task_id.clone(), task.read_roi, task.write_roi)
            .read_write_conflict(task.read_write_conflict)
            .fit(task.fit)
            .total_read_roi(task.total_roi)
            .build()?;
        if task.read_write_conflict && !task.read_roi.contains(&task.write_roi) {
            return Err(CoreError::ReadMustContainWrite {
                task_id: id,
                read: task.read_roi.to_string(),
                write: task.write_roi.to_string(),
            });
        }
        Ok(Arc::new(Task {
            options: task,
            tiling,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_values::roi;

    #[test]
    fn total_write_roi_is_shrunk_by_the_context() {
        let task = Task::builder("t", roi(&[0], &[10]), roi(&[0], &[4]), roi(&[1], &[2]))
            .build()
            .unwrap();
        assert_eq!(task.total_write_roi(), roi(&[1], &[8]));
        assert_eq!(task.max_retries(), 2);
        assert_eq!(task.num_workers(), 1);
        assert!(task.read_write_conflict());
        assert_eq!(task.fit(), Fit::Valid);
        assert_eq!(task.timeout(), None);
    }

    #[test]
    fn bad_tasks_are_errors_that_name_the_values() {
        let r = roi(&[0, 0], &[4, 4]);
        let err = Task::builder("t", roi(&[0], &[10]), r, r)
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "task t: total ROI has 1 dimensions, expected 2"
        );
        let err = Task::builder("t", roi(&[0], &[10]), roi(&[0], &[4]), roi(&[2], &[4]))
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "task t: read ROI must contain write ROI, got read [0:4] (4) and write [2:6] (4)"
        );
        let err = Task::builder("t", roi(&[0], &[10]), roi(&[0], &[4]), roi(&[0], &[0]))
            .read_write_conflict(false)
            .build()
            .unwrap_err();
        assert!(
            matches!(err, CoreError::NonPositiveWriteShape { .. }),
            "{err}"
        );
        let err = Task::builder("a:b", roi(&[0], &[10]), roi(&[0], &[4]), roi(&[0], &[4]))
            .build()
            .unwrap_err();
        assert!(matches!(err, CoreError::InvalidTaskId { .. }));
        let unbounded = Roi::unbounded(1).unwrap();
        let err = Task::builder("t", unbounded, roi(&[0], &[4]), roi(&[0], &[4]))
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::Unbounded {
                    what: "total ROI",
                    ..
                }
            ),
            "{err}"
        );
        let err = Task::builder("t", roi(&[0], &[1 << 61]), roi(&[0], &[4]), roi(&[0], &[4]))
            .build()
            .unwrap_err();
        assert!(
            matches!(err, CoreError::CoordinateOutOfRange { .. }),
            "{err}"
        );
    }

    #[test]
    fn write_before_read_without_conflict() {
        // A read ROI beginning after the write ROI is fine ...
        let ok = Task::builder("t", roi(&[0], &[20]), roi(&[0], &[2]), roi(&[1], &[3]))
            .read_write_conflict(false)
            .build();
        assert!(ok.is_ok());
        // ... but not the other way round: blocks 0 and 1 would both get index trunc(-1/3) = trunc(2/3) = 0.
        let err = Task::builder("t", roi(&[0], &[20]), roi(&[1], &[2]), roi(&[0], &[3]))
            .read_write_conflict(false)
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::CollidingBlockIds {
                    dim: 0,
                    ahead: 1,
                    write_size: 3,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn timeouts_must_be_positive_and_finite() {
        let t = || Task::builder("t", roi(&[0], &[10]), roi(&[0], &[4]), roi(&[0], &[4]));
        let task = t().timeout_secs(1.5).build().unwrap();
        assert_eq!(task.timeout(), Some(Duration::from_millis(1500)));
        assert_eq!(task.max_worker_restarts(), DEFAULT_MAX_WORKER_RESTARTS);
        for seconds in [0.0, -1.0, f64::INFINITY, f64::NAN] {
            let err = t().timeout_secs(seconds).build().unwrap_err();
            assert!(matches!(err, CoreError::InvalidTimeout { .. }), "{err}");
        }
        let err = t().timeout(Duration::ZERO).build().unwrap_err();
        assert_eq!(
            err.to_string(),
            "task t: timeout must be a positive, finite number of seconds, got 0"
        );
    }

    #[test]
    fn a_huge_timeout_is_clamped_instead_of_overflowing_the_clock() {
        // Before: `Task(timeout=1e19)` and `.timeout(Duration::MAX)` were accepted as given,
        // and handing out a block panicked adding the timeout to the clock.
        let t = || Task::builder("t", roi(&[0], &[10]), roi(&[0], &[4]), roi(&[0], &[4]));
        for task in [
            t().timeout(Duration::MAX).build().unwrap(),
            t().timeout_secs(1e19).build().unwrap(),
            t().timeout_secs(f64::MAX).build().unwrap(),
        ] {
            assert_eq!(task.timeout(), Some(MAX_TIMEOUT));
            assert!(std::time::Instant::now().checked_add(MAX_TIMEOUT).is_some());
        }
        let task = t()
            .timeout(MAX_TIMEOUT - Duration::from_secs(1))
            .build()
            .unwrap();
        assert_eq!(task.timeout(), Some(MAX_TIMEOUT - Duration::from_secs(1)));
        // Below a nanosecond is zero: refused, naming the value given.
        let err = t().timeout_secs(1e-12).build().unwrap_err();
        assert_eq!(
            err.to_string(),
            "task t: timeout must be a positive, finite number of seconds, got 0.000000000001"
        );
    }

    #[test]
    fn zero_workers_are_an_error() {
        // Before: accepted; the run stalled, started a worker anyway and returned true.
        let t = || Task::builder("t", roi(&[0], &[10]), roi(&[0], &[4]), roi(&[0], &[4]));
        let err = t().num_workers(0).build().unwrap_err();
        assert_eq!(
            err,
            CoreError::CountOutOfRange {
                task_id: "t".to_owned(),
                what: "num_workers",
                min: 1,
                got: 0
            }
        );
        assert_eq!(
            err.to_string(),
            "task t: num_workers must be at least 1, got 0"
        );
        assert_eq!(
            t().num_workers(usize::MAX).build().unwrap().num_workers(),
            usize::MAX
        );
    }

    #[test]
    fn task_ids_that_are_not_one_safe_path_component_are_refused() {
        // Before: `task_id="../escaped"` wrote worker logs outside the log directory.
        let t = |id: &str| {
            Task::builder(id, roi(&[0], &[10]), roi(&[0], &[4]), roi(&[0], &[4])).build()
        };
        let long = "x".repeat(MAX_TASK_ID_BYTES + 1);
        for (id, why) in [
            ("", "it must not be empty"),
            ("..", "it must not be '.' or '..'"),
            (".", "it must not be '.' or '..'"),
            ("../escaped", "it must not contain '/' or '\\'"),
            ("a/b", "it must not contain '/' or '\\'"),
            ("/abs", "it must not contain '/' or '\\'"),
            ("a\\b", "it must not contain '/' or '\\'"),
            (
                "nul\0",
                "it must not contain NUL or other control characters",
            ),
            (
                "line\nbreak",
                "it must not contain NUL or other control characters",
            ),
            (
                "bell\u{7}",
                "it must not contain NUL or other control characters",
            ),
            (long.as_str(), "it must be at most 255 bytes long"),
            ("a:b", "it must not contain ':' or '='"),
            ("a=b", "it must not contain ':' or '='"),
        ] {
            let err = t(id).unwrap_err();
            assert!(
                matches!(err, CoreError::InvalidTaskId { .. }),
                "{id}: {err}"
            );
            let text = err.to_string();
            assert!(text.contains(why), "{id}: {text}");
            // Control characters are shown escaped, never raw.
            assert!(!text.chars().any(char::is_control), "{text}");
        }
        assert_eq!(
            t("../escaped").unwrap_err().to_string(),
            "invalid task id '../escaped': it must not contain '/' or '\\': task ids name \
             directories (the task's worker logs), one path component each"
        );
        assert_eq!(
            t("nul\0").unwrap_err().to_string(),
            "invalid task id 'nul\\0': it must not contain NUL or other control characters: \
             task ids name directories (the task's worker logs)"
        );
        for id in [
            "smooth",
            "a.b",
            "...",
            ".hidden",
            "größe",
            "with space",
            &"x".repeat(255),
        ] {
            assert!(t(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn negative_shapes_are_refused() {
        // Before: a negative total shape was accepted (zero blocks, the run "succeeded").
        let err = Task::builder("t", roi(&[0], &[-100]), roi(&[0], &[4]), roi(&[0], &[4]))
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "task t: the shape of the total ROI must not be negative, got shape (-100,) at offset (0,)"
        );
        let err = Task::builder("t", roi(&[0], &[100]), roi(&[0], &[-4]), roi(&[0], &[4]))
            .read_write_conflict(false)
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::NegativeShape {
                    what: "read ROI",
                    ..
                }
            ),
            "{err}"
        );
        // An empty total ROI, or one too small for a block, has no blocks.
        for total in [roi(&[0], &[0]), roi(&[5], &[3])] {
            let task = Task::builder("t", total, roi(&[0], &[4]), roi(&[0], &[4]))
                .build()
                .unwrap();
            assert_eq!(task.tiling().num_blocks(), 0);
        }
    }

    #[test]
    fn checks_catch_errors_and_panics() {
        let block = Block::new("t".into(), 0, roi(&[0], &[4]), roi(&[0], &[4]));
        let t = |pre: fn(&Block) -> Result<bool, BoxError>| {
            Task::builder("t", roi(&[0], &[10]), roi(&[0], &[4]), roi(&[0], &[4]))
                .check_function(pre)
                .post_check_function(pre)
                .build()
                .unwrap()
        };
        assert!(t(|_| Ok(true)).pre_check(&block));
        assert!(!t(|_| Err("boom".into())).pre_check(&block));
        assert!(!t(|_| panic!("boom")).pre_check(&block));
        assert!(!t(|_| panic!("boom")).post_check(&block));
        let plain = Task::builder("t", roi(&[0], &[10]), roi(&[0], &[4]), roi(&[0], &[4]))
            .build()
            .unwrap();
        assert!(!plain.pre_check(&block));
        assert!(plain.post_check(&block));
    }
}
