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
//!   ([`ProcessLauncher`], [`CommandLauncher`]); workers use [`Client`];
//! - chunked arrays ([`array`], cargo feature `array`, on by default): a Zarr v2 or v3 array
//!   ([`array::Array`]) addressed in world units by [`Roi`], so a block function reads
//!   `block.read_roi` and writes `block.write_roi` as they are;
//! - spatial graphs ([`graph`], cargo feature `graph`, on by default): nodes with positions and
//!   edges, written block by block and read back by [`Roi`] in SQLite, PostgreSQL, MongoDB or
//!   files ([`graph::GraphStore`]).
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
//!
//! With arrays: each block reads its read ROI (its write ROI plus 8 voxels of context) from one
//! Zarr array and writes its write ROI into another, both in world units. An [`array::Array`]
//! is `Send + Sync` (share it with an `Arc`); a worker process opens its own with
//! [`array::Array::open`] (the `smooth_zarr` example runs worker processes):
//!
//! ```
//! # #[cfg(feature = "array")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use daisy::array::ndarray::{Ix3, s};
//! use daisy::array::{Array, CreateOptions, DType};
//! use daisy::{run_blockwise, ProgressMode, Roi, RunOptions, Task};
//!
//! let dir = tempfile::tempdir()?;
//! let total = Roi::from_values(&[0, 0, 0], &[144, 144, 144])?;
//! let mut options = CreateOptions::new(vec![144, 144, 144], DType::UInt8);
//! options.chunk_shape = Some(vec![64, 64, 64]);
//! let raw = Arc::new(Array::create(dir.path().join("raw.zarr"), &options)?);
//! raw.fill(&total, 7u8)?;
//! let inverted = Arc::new(Array::create(dir.path().join("inverted.zarr"), &options)?);
//!
//! let (input, output) = (Arc::clone(&raw), Arc::clone(&inverted));
//! let task = Task::builder(
//!     "invert",
//!     total,
//!     Roi::from_values(&[0, 0, 0], &[80, 80, 80])?,
//!     Roi::from_values(&[8, 8, 8], &[64, 64, 64])?,
//! )
//! .num_workers(2)
//! .read_write_conflict(false) // different arrays
//! .process_function(move |block| {
//!     let data = input.read::<u8>(&block.read_roi)?.into_dimensionality::<Ix3>()?;
//!     let inner = data.slice(s![8..72, 8..72, 8..72]); // the write ROI within the read ROI
//!     output.write(&block.write_roi, inner.mapv(|v| 255 - v).view().into_dyn())?;
//!     Ok(())
//! })
//! .build()?;
//! let report = run_blockwise(&[task], RunOptions { progress: ProgressMode::Off, ..Default::default() })?;
//! assert!(report.succeeded());
//! let written = Roi::from_values(&[8, 8, 8], &[128, 128, 128])?;
//! assert!(inverted.read::<u8>(&written)?.iter().all(|&v| v == 248));
//! println!("{} chunks decoded", raw.stats().chunks_decoded);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "array"))]
//! # fn main() {}
//! ```

mod address;
mod run_blockwise;

pub use address::{Listen, default_route_address};
/// Chunked arrays: Zarr v2 and v3 arrays read and written by [`Roi`] (the `daisy-array` crate,
/// cargo feature `array`).
#[cfg(feature = "array")]
pub use daisy_array as array;
pub use daisy_client::{BlockGuard, Client, ClientError};
pub use daisy_core::*;
pub use daisy_geometry::{Coordinate, GeometryError, MAX_DIMS, Roi, SnapMode};
/// Spatial graph stores: nodes with positions and edges, written and read by [`Roi`] (the
/// `daisy-graph` crate, cargo feature `graph`).
#[cfg(feature = "graph")]
pub use daisy_graph as graph;
pub use daisy_launch::{
    CommandLauncher, LaunchError, Launcher, ProcessLauncher, SlurmLauncher, SlurmOptions,
    ThreadLauncher, WorkerExit, WorkerHandle, WorkerSpec,
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

/// The arrays page's Rust examples, compiled and run as doc tests.
#[cfg(all(doctest, feature = "array"))]
#[doc = include_str!("../../../docs/arrays.md")]
pub struct ArraysDoctests;

/// The cluster page's Rust examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/cluster.md")]
pub struct ClusterDoctests;

/// The graphs page's Rust examples, compiled and run as doc tests.
#[cfg(all(doctest, feature = "graph"))]
#[doc = include_str!("../../../docs/graphs.md")]
pub struct GraphsDoctests;
