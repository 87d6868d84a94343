//! The block-wise scheduling core of daisy.
//!
//! A [`Task`] tiles a total ROI into blocks: a write ROI plus the context its function reads
//! around it. The [`Scheduler`] hands out blocks so that no block runs while a block it reads
//! from is still being written, retries failures and counts what can never run. Everything is
//! lazy: nothing enumerates the blocks of a task, memory grows with the blocks in flight and the
//! ready frontier, and the first block of a 10^9-block task is handed out at once.
//!
//! This crate is synchronous and deterministic: no threads, no network. Its only I/O is the
//! optional [`DoneMarker`] of a task, which records finished blocks so a re-run skips them.
//! The distributed run (server, workers) drives the same [`Scheduler`].
//!
//! ```
//! use daisy_core::{BlockStatus, Scheduler, Task};
//! use daisy_geometry::Roi;
//!
//! let task = Task::builder(
//!     "smooth",
//!     Roi::from_values(&[0, 0, 0], &[528, 528, 528]).unwrap(), // total read ROI
//!     Roi::from_values(&[0, 0, 0], &[80, 80, 80]).unwrap(),    // read ROI of one block
//!     Roi::from_values(&[8, 8, 8], &[64, 64, 64]).unwrap(),    // write ROI of one block
//! )
//! .build()
//! .unwrap();
//! let mut scheduler = Scheduler::new(&[task], true).unwrap();
//! let mut processed = 0;
//! while let Some(mut block) = scheduler.acquire_block("smooth").unwrap() {
//!     // ... read block.read_roi, write block.write_roi ...
//!     block.status = BlockStatus::Success;
//!     scheduler.release_block(&block).unwrap();
//!     processed += 1;
//! }
//! assert_eq!(processed, 512);
//! assert!(scheduler.task_state("smooth").unwrap().is_done());
//! ```

mod block;
mod blockwise_dependency_graph;
mod cantor;
mod dependency_graph;
mod done_marker;
mod error;
mod fit;
mod grid;
mod processing_queue;
mod ready_surface;
mod root_cursor;
mod scheduler;
mod serial;
mod task;
mod task_state;
#[cfg(test)]
mod test_values;
mod tiling;

pub use block::{Block, BlockId, BlockStatus, TaskId};
pub use blockwise_dependency_graph::{BlockwiseDependencyGraph, BlockwiseDependencyGraphBuilder};
pub use cantor::cantor_number;
pub use dependency_graph::{DependencyGraph, link_tasks, upstream_first};
pub use done_marker::DoneMarker;
pub use error::{CoreError, SharedIoError};
pub use fit::Fit;
pub use processing_queue::ProcessingQueue;
pub use ready_surface::ReadySurface;
pub use scheduler::{FailureLimit, Scheduler};
pub use serial::{
    POST_CHECK_FAILED, RELEASED_AS_FAILED, SerialEvent, SerialFailure, SerialHooks, SerialReport,
    SerialStop, run_serial, run_serial_with,
};
pub use task::{
    BlockFunction, BoxError, CheckFunction, DEFAULT_MAX_WORKER_RESTARTS, InitCallback,
    MAX_TASK_ID_BYTES, MAX_TIMEOUT, MIN_NUM_WORKERS, Task, TaskBuilder,
};
pub use task_state::TaskState;
pub use tiling::{LevelBlocks, Tiling, TilingBuilder};
