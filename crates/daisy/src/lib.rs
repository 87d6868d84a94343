//! daisy: block-wise task scheduling for volumes too large for one machine.
//!
//! Cut a volume into blocks, run a function on each block with the context it needs around it,
//! across many workers, so that no block runs while a block it reads from is still being
//! written; retry failures, resume after a crash, and chain tasks block by block.
//!
//! - geometry: [`Roi`], [`Coordinate`];
//! - tasks and scheduling: [`Task`], [`Scheduler`], [`BlockwiseDependencyGraph`],
//!   [`DependencyGraph`], [`run_serial`];
//! - the distributed run: [`run_blockwise`] with worker threads, local processes or cluster jobs
//!   ([`ProcessLauncher`], [`CommandLauncher`]); workers use [`Client`].
//!
//! ```
//! use daisy::{run_blockwise, ProgressMode, Roi, RunOptions, Task};
//!
//! let task = Task::builder(
//!     "smooth",
//!     Roi::from_values(&[0, 0, 0], &[144, 144, 144]).unwrap(),
//!     Roi::from_values(&[0, 0, 0], &[80, 80, 80]).unwrap(),
//!     Roi::from_values(&[8, 8, 8], &[64, 64, 64]).unwrap(),
//! )
//! .num_workers(2)
//! .process_function(|block| {
//!     // read block.read_roi, write block.write_roi
//!     Ok(())
//! })
//! .build()
//! .unwrap();
//! let report = run_blockwise(&[task], RunOptions { progress: ProgressMode::Off, ..Default::default() }).unwrap();
//! assert!(report.succeeded());
//! ```

mod address;
mod run_blockwise;

pub use address::{Listen, default_route_address};
pub use daisy_client::{BlockGuard, Client, ClientError};
pub use daisy_core::*;
pub use daisy_geometry::{Coordinate, GeometryError, MAX_DIMS, Roi, SnapMode};
pub use daisy_launch::{
    CommandLauncher, LaunchError, Launcher, ProcessLauncher, ThreadLauncher, WorkerExit,
    WorkerHandle, WorkerSpec,
};
pub use daisy_protocol::{Context, ENV_VARIABLE};
pub use daisy_server::{
    BlockFailure, JsonEvents, Launchers, Observer, ObserverThread, Progress, RunEvent, RunReport,
    Server, ServerError, ServerOptions, TaskReport,
};
pub use run_blockwise::{ProgressMode, RunError, RunOptions, run_blockwise, serve_on_this_thread};

/// The README's Rust examples, compiled (and run, unless marked `no_run`) as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// The user guide's Rust examples, compiled (and run, unless marked `no_run`) as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/guide.md")]
pub struct GuideDoctests;
