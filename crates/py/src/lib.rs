//! `daisy._daisy`: the Rust engine of daisy as a Python extension module (PyO3).
//!
//! Conversions and wrappers, no logic: every class here wraps a type of the engine crates
//! (`daisy-core`, `daisy-server`, `daisy-client`, `daisy-launch`) and converts at the boundary:
//! ROIs to and from `funlib.geometry.Roi`, block statuses to and from `daisy.block.BlockStatus`,
//! engine errors to Python exceptions ([`errors`]). Python callables (checks, init callbacks, the
//! worker launcher, run observers) are wrapped in Rust closures that take the GIL when called.
//! Nothing panics across the boundary.
//!
//! The contract is the hand-written stub `python/daisy/_daisy.pyi`; users import `daisy`, whose
//! Python modules build on this one.
//!
//! ```python
//! from funlib.geometry import Roi
//! from daisy import _daisy
//!
//! spec = _daisy.TaskSpec("t", Roi((0,), (4,)), Roi((0,), (3,)), Roi((1,), (1,)), max_retries=2)
//! scheduler = _daisy.Scheduler([spec])
//! block = scheduler.acquire_block("t")      # block 2 (level 0)
//! ```

mod array;
mod array_metadata;
mod block;
mod callbacks;
mod client;
mod convert;
mod errors;
mod events;
mod graph;
mod graph_store;
mod grid;
mod logging;
mod run;
mod run_report;
mod scheduler;
mod serial;
mod slurm_launcher;
mod task;
mod task_state;
mod worker_process;

use pyo3::prelude::*;

/// The module `daisy._daisy`.
#[pymodule(name = "_daisy")]
fn daisy_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // The engine's log records go to Python's `logging` under `daisy.*` names.
    logging::install(m.py());
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<block::PyBlock>()?;
    task::add_to_module(m)?;
    m.add_class::<task_state::Counters>()?;
    m.add_class::<graph::PyBlockwiseDependencyGraph>()?;
    m.add_class::<graph::PyDependencyGraph>()?;
    m.add_class::<graph::BlockIterator>()?;
    m.add_class::<graph::DependencyIterator>()?;
    m.add_class::<scheduler::PyScheduler>()?;
    m.add_class::<client::PyClient>()?;
    m.add_function(wrap_pyfunction!(block::cantor_number, m)?)?;
    m.add_function(wrap_pyfunction!(grid::expand_roi_to_grid, m)?)?;
    m.add_function(wrap_pyfunction!(grid::expand_request_roi_to_grid, m)?)?;
    m.add_function(wrap_pyfunction!(grid::expand_write_roi_to_grid, m)?)?;
    m.add_function(wrap_pyfunction!(run::run, m)?)?;
    m.add_class::<slurm_launcher::PySlurmLauncher>()?;
    events::add_classes(m)?;
    m.add_class::<run_report::PyRunReport>()?;
    m.add_function(wrap_pyfunction!(serial::run_serial, m)?)?;
    m.add_function(wrap_pyfunction!(client::parse_context, m)?)?;
    m.add_function(wrap_pyfunction!(worker_process::become_worker, m)?)?;
    m.add_function(wrap_pyfunction!(client::format_context, m)?)?;
    array_metadata::add_to_module(m)?;
    array::add_to_module(m)?;
    graph_store::add_to_module(m)?;
    Ok(())
}
