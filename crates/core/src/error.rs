//! The error type of the core crate.

use std::fmt;
use std::io;
use std::sync::Arc;

use daisy_geometry::GeometryError;

/// Everything that can go wrong in tiling, dependency graphs and scheduling.
///
/// Messages are lowercase and carry the offending values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A geometry operation failed (dimension mismatch, overflow, ...).
    #[error(transparent)]
    Geometry(#[from] GeometryError),
    /// The ROIs of a task do not have the same number of dimensions.
    #[error("task {task_id}: {what} has {got} dimensions, expected {expected}")]
    DimensionMismatch {
        /// The task.
        task_id: String,
        /// Which ROI or block.
        what: &'static str,
        /// Its number of dimensions.
        got: usize,
        /// The number of dimensions of the task's total ROI.
        expected: usize,
    },
    /// A ROI that must be bounded has a `None` in its shape.
    #[error("task {task_id}: {what} must be bounded, got {roi}")]
    Unbounded {
        /// The task.
        task_id: String,
        /// Which ROI.
        what: &'static str,
        /// The ROI, in daisy's slice format.
        roi: String,
    },
    /// The write ROI template has a shape element that is not positive.
    #[error("task {task_id}: every element of the write shape must be positive, got {shape}")]
    NonPositiveWriteShape {
        /// The task.
        task_id: String,
        /// The write shape.
        shape: String,
    },
    /// With `read_write_conflict`, the read ROI must contain the write ROI.
    #[error("task {task_id}: read ROI must contain write ROI, got read {read} and write {write}")]
    ReadMustContainWrite {
        /// The task.
        task_id: String,
        /// The read template.
        read: String,
        /// The write template.
        write: String,
    },
    /// A coordinate is too large for exact scheduling arithmetic.
    #[error("task {task_id}: {what} {roi} has a coordinate beyond ±2^60")]
    CoordinateOutOfRange {
        /// The task.
        task_id: String,
        /// Which ROI.
        what: &'static str,
        /// The ROI.
        roi: String,
    },
    /// Two blocks of the task would get the same block id.
    #[error(
        "task {task_id}: the write ROI begins {ahead} before the read ROI in dimension {dim} \
         (write shape {write_size}); block ids, relative to the total read ROI, would collide"
    )]
    CollidingBlockIds {
        /// The task.
        task_id: String,
        /// The dimension.
        dim: usize,
        /// How far the write ROI begins before the read ROI.
        ahead: i64,
        /// The write shape in that dimension.
        write_size: i64,
    },
    /// The task id is not a single safe path component (it names the task's log directory)
    /// or contains a character that `DAISY_CONTEXT` cannot carry.
    #[error("invalid task id '{}': {reason}", .task_id.escape_debug())]
    InvalidTaskId {
        /// The task id.
        task_id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A ROI given to a task has a negative shape.
    #[error(
        "task {task_id}: the shape of the {what} must not be negative, got shape {shape} at offset {offset}"
    )]
    NegativeShape {
        /// The task.
        task_id: String,
        /// Which ROI.
        what: &'static str,
        /// The ROI's offset.
        offset: String,
        /// The ROI's shape.
        shape: String,
    },
    /// A count option of a task (e.g. `num_workers`) is out of its range.
    #[error("task {task_id}: {what} must be at least {min}, got {got}")]
    CountOutOfRange {
        /// The task.
        task_id: String,
        /// The option.
        what: &'static str,
        /// The smallest value allowed.
        min: u64,
        /// The value given.
        got: u64,
    },
    /// An unknown fit mode.
    #[error("unknown fit '{fit}': expected 'valid', 'overhang' or 'shrink'")]
    UnknownFit {
        /// What was given.
        fit: String,
    },
    /// The block grid has more positions than a 64-bit index can address.
    #[error("task {task_id}: the block grid ({}) has more than 2^64 positions", joined(.grid))]
    GridTooLarge {
        /// The task.
        task_id: String,
        /// Blocks per dimension.
        grid: Vec<i64>,
    },
    /// A generalised Cantor number does not fit into 64 bits.
    #[error("block id of index ({}) overflows 64 bits", joined(.index))]
    BlockIdOverflow {
        /// The block index.
        index: Vec<i64>,
    },
    /// A block id cannot be computed from a total ROI and a write ROI.
    #[error("cannot compute a block id from total ROI {total} and write ROI {write}: {reason}")]
    NoBlockId {
        /// The total ROI the grid is anchored at.
        total: String,
        /// The write ROI.
        write: String,
        /// What is wrong with them.
        reason: &'static str,
    },
    /// Neither a total read ROI nor a total write ROI was given to a dependency graph.
    #[error("either total_read_roi or total_write_roi must be provided")]
    MissingTotalRoi,
    /// The total read and write ROIs given to a dependency graph disagree with the block context.
    #[error("total read ROI {read} and total write ROI {write} do not differ by the block context")]
    InconsistentTotals {
        /// The total read ROI.
        read: String,
        /// The total write ROI.
        write: String,
    },
    /// A block does not lie on the block grid of its task.
    #[error("block with read ROI {read_roi} is not on the block grid of task {task_id}")]
    NotOnGrid {
        /// The task.
        task_id: String,
        /// The block's read ROI.
        read_roi: String,
    },
    /// A task id that the graph or scheduler does not know.
    #[error("unknown task '{task_id}'")]
    UnknownTask {
        /// The task id.
        task_id: String,
    },
    /// Two different task objects share one task id.
    #[error("two different tasks share the task id '{task_id}'; task ids must be unique")]
    DuplicateTaskId {
        /// The task id.
        task_id: String,
    },
    /// The upstream relation among tasks has a cycle.
    #[error(
        "the tasks form a cycle: {} (each task lists the next as an upstream task)",
        quoted_chain(.cycle)
    )]
    TaskCycle {
        /// The ids of the tasks on the cycle, each followed by one of its upstream tasks; the
        /// first task is repeated at the end.
        cycle: Vec<String>,
    },
    /// An upstream task given by position is not one of the tasks given.
    #[error("task {task_id}: upstream task number {index} is not one of the {len} tasks given")]
    UnknownUpstream {
        /// The task.
        task_id: String,
        /// The position given as its upstream task.
        index: usize,
        /// The number of tasks given.
        len: usize,
    },
    /// A task's timeout is not a positive, finite number of seconds.
    #[error("task {task_id}: timeout must be a positive, finite number of seconds, got {seconds}")]
    InvalidTimeout {
        /// The task.
        task_id: String,
        /// The timeout given, in seconds.
        seconds: String,
    },
    /// A released block is not being processed.
    #[error("block {task_id}/{spatial_id} is not being processed, it cannot be released")]
    NotProcessing {
        /// The block's task.
        task_id: String,
        /// The block's spatial id.
        spatial_id: u64,
    },
    /// A released block has a status other than SUCCESS or FAILED.
    #[error("unexpected status for released block {task_id}/{spatial_id}: {status}")]
    UnexpectedStatus {
        /// The block's task.
        task_id: String,
        /// The block's spatial id.
        spatial_id: u64,
        /// Its status.
        status: crate::BlockStatus,
    },
    /// A task of a serial run has no in-process block function.
    #[error("task {task_id} has no in-process block function, it cannot run serially")]
    NoBlockFunction {
        /// The task.
        task_id: String,
    },
    /// A block function failed in a serial run (which aborts by design).
    #[error("block {task_id}/{spatial_id} failed: {message}")]
    BlockFunctionFailed {
        /// The block's task.
        task_id: String,
        /// The block's spatial id.
        spatial_id: u64,
        /// The error text.
        message: String,
    },
    /// A done marker on disk was written for a task with another layout.
    #[error(
        "done marker {path} was written for a different task layout (hash {stored}), \
         this task's layout hashes to {expected}; delete it or call reset"
    )]
    DoneMarkerLayoutMismatch {
        /// The marker directory.
        path: String,
        /// The `daisy_task_hash` stored in the marker.
        stored: String,
        /// The layout hash of the task opening it.
        expected: String,
    },
    /// A done marker on disk has the task's layout hash but another number of entries.
    #[error("done marker {path} has shape [{stored}], this task needs [{expected}]")]
    DoneMarkerShapeMismatch {
        /// The marker directory.
        path: String,
        /// The stored shape.
        stored: u64,
        /// One more than the task's largest block id.
        expected: u64,
    },
    /// A done marker on disk belongs to another task: two tasks were given one path, or the
    /// task was renamed.
    #[error(
        "done marker {path} belongs to task '{owner}', not to task '{task_id}': every task needs \
         its own done marker (a renamed task too); give task '{task_id}' another path, or reset \
         the marker to run it from the start"
    )]
    DoneMarkerOwnedByAnotherTask {
        /// The marker directory.
        path: String,
        /// The task recorded in the marker (`daisy_task_id`).
        owner: String,
        /// The task opening it.
        task_id: String,
    },
    /// The chunk of a done marker holds something other than one byte 0 or 1 per entry.
    #[error(
        "done marker chunk {chunk} is corrupt: {reason}; reset the marker (delete its \
         directory) to run the task from the start"
    )]
    DoneMarkerCorrupt {
        /// The chunk file.
        chunk: String,
        /// What is wrong, with the offending value.
        reason: String,
    },
    /// A path given as a done marker holds something else, or its metadata is malformed.
    #[error("{path} is not a daisy done marker (a 1-d uint8 zarr v3 array): {reason}")]
    DoneMarkerInvalid {
        /// The marker directory.
        path: String,
        /// What is wrong, with the offending value.
        reason: String,
    },
    /// Reading or writing a done marker failed.
    #[error("done marker {path}: cannot {action}: {source}")]
    DoneMarkerIo {
        /// The file or directory.
        path: String,
        /// What was attempted.
        action: &'static str,
        /// The io error.
        #[source]
        source: SharedIoError,
    },
    /// A block id beyond the entries of a done marker was marked done.
    #[error("done marker {path}: block id {spatial_id} is beyond its {len} entries")]
    DoneMarkerIdOutOfRange {
        /// The marker directory.
        path: String,
        /// The block's spatial id.
        spatial_id: u64,
        /// The number of entries (one more than the largest block id of the task).
        len: u64,
    },
}

/// Numbers as `3, 4, 5`.
fn joined(values: &[i64]) -> String {
    values
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Task ids as `'a' -> 'b' -> 'a'`.
fn quoted_chain(ids: &[String]) -> String {
    ids.iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// An [`io::Error`] kept as the source of a [`CoreError`], shared so that the error stays
/// `Clone`; two are equal when their kinds and messages are.
#[derive(Debug, Clone)]
pub struct SharedIoError(Arc<io::Error>);

impl SharedIoError {
    /// The io error.
    #[must_use]
    pub fn io_error(&self) -> &io::Error {
        &self.0
    }
    /// Its kind.
    #[must_use]
    pub fn kind(&self) -> io::ErrorKind {
        self.0.kind()
    }
}

impl From<io::Error> for SharedIoError {
    fn from(error: io::Error) -> Self {
        Self(Arc::new(error))
    }
}

impl fmt::Display for SharedIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedIoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for SharedIoError {
    fn eq(&self, other: &Self) -> bool {
        self.0.kind() == other.0.kind() && self.0.to_string() == other.0.to_string()
    }
}

impl Eq for SharedIoError {}
