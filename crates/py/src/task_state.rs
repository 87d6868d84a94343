//! `Counters`: a task's block counters, [`daisy_core::TaskState`] (docs/semantics.md#scheduling).
//!
//! daisy.TaskState asks these for everything derived from the counts: `pending_count`,
//! `is_done()` and daisy's text.

use daisy_core::TaskState;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// A task's counters; daisy.TaskState reads its derived values from these.
#[pyclass(
    module = "daisy._daisy",
    name = "Counters",
    frozen,
    eq,
    skip_from_py_object
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// The engine's counters.
    pub(crate) state: TaskState,
}

impl From<&TaskState> for Counters {
    fn from(state: &TaskState) -> Self {
        Self { state: *state }
    }
}

/// The fields of a `Counters`, in constructor order.
type Fields = (bool, u64, u64, u64, u64, u64, u64, u64);

#[pymethods]
impl Counters {
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (
        started = false, total_block_count = 0, ready_count = 0, processing_count = 0,
        completed_count = 0, skipped_count = 0, failed_count = 0, orphaned_count = 0
    ))]
    fn new(
        started: bool,
        total_block_count: u64,
        ready_count: u64,
        processing_count: u64,
        completed_count: u64,
        skipped_count: u64,
        failed_count: u64,
        orphaned_count: u64,
    ) -> Self {
        Self {
            state: TaskState {
                started,
                total_block_count,
                ready_count,
                processing_count,
                completed_count,
                skipped_count,
                failed_count,
                orphaned_count,
            },
        }
    }

    /// Whether a block was handed to a worker.
    #[getter]
    fn started(&self) -> bool {
        self.state.started
    }

    /// The number of blocks of the task.
    #[getter]
    fn total_block_count(&self) -> u64 {
        self.state.total_block_count
    }

    /// Blocks waiting to be handed out.
    #[getter]
    fn ready_count(&self) -> u64 {
        self.state.ready_count
    }

    /// Blocks handed out and not yet returned.
    #[getter]
    fn processing_count(&self) -> u64 {
        self.state.processing_count
    }

    /// Blocks done, skipped ones included.
    #[getter]
    fn completed_count(&self) -> u64 {
        self.state.completed_count
    }

    /// Blocks skipped because their pre-check said they were done.
    #[getter]
    fn skipped_count(&self) -> u64 {
        self.state.skipped_count
    }

    /// Blocks that failed permanently.
    #[getter]
    fn failed_count(&self) -> u64 {
        self.state.failed_count
    }

    /// Blocks that can never run because a block they depend on failed.
    #[getter]
    fn orphaned_count(&self) -> u64 {
        self.state.orphaned_count
    }

    /// Blocks waiting for upstream blocks: everything not otherwise counted.
    #[getter]
    fn pending_count(&self) -> u64 {
        self.state.pending_count()
    }

    /// Whether every block has completed, failed or been orphaned.
    fn is_done(&self) -> bool {
        self.state.is_done()
    }

    /// Pickles as `Counters(*fields)`.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyType>, Fields) {
        let s = slf.get().state;
        (
            slf.get_type(),
            (
                s.started,
                s.total_block_count,
                s.ready_count,
                s.processing_count,
                s.completed_count,
                s.skipped_count,
                s.failed_count,
                s.orphaned_count,
            ),
        )
    }

    /// daisy's text: one `Name: value` line per counter (`Started: True`, `Total Blocks: 4`, ...).
    fn __str__(&self) -> String {
        self.state.to_string()
    }

    /// The same text as `str()`, as daisy's TaskState shows it.
    fn __repr__(&self) -> String {
        self.state.to_string()
    }
}
