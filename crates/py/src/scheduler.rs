//! `Scheduler` (docs/semantics.md#scheduling) and `Counters` (a task's TaskState).

use std::sync::Arc;

use daisy_core::{Scheduler, TaskState};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyType};

use crate::block::PyBlock;
use crate::callbacks::take_interrupt;
use crate::errors::core_error;
use crate::graph::{PyDependencyGraph, unknown_task};
use crate::task::TaskSpec;

/// A task's counters; daisy.TaskState is built from these in Python.
#[pyclass(
    module = "daisy._daisy",
    name = "Counters",
    frozen,
    get_all,
    eq,
    skip_from_py_object
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    started: bool,
    total_block_count: u64,
    ready_count: u64,
    processing_count: u64,
    completed_count: u64,
    skipped_count: u64,
    failed_count: u64,
    orphaned_count: u64,
}

impl From<&TaskState> for Counters {
    fn from(s: &TaskState) -> Self {
        Self {
            started: s.started,
            total_block_count: s.total_block_count,
            ready_count: s.ready_count,
            processing_count: s.processing_count,
            completed_count: s.completed_count,
            skipped_count: s.skipped_count,
            failed_count: s.failed_count,
            orphaned_count: s.orphaned_count,
        }
    }
}

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
            started,
            total_block_count,
            ready_count,
            processing_count,
            completed_count,
            skipped_count,
            failed_count,
            orphaned_count,
        }
    }

    /// Pickles as `Counters(*fields)`.
    #[allow(clippy::type_complexity)]
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> (
        Bound<'py, PyType>,
        (bool, u64, u64, u64, u64, u64, u64, u64),
    ) {
        let c = slf.get();
        (
            slf.get_type(),
            (
                c.started,
                c.total_block_count,
                c.ready_count,
                c.processing_count,
                c.completed_count,
                c.skipped_count,
                c.failed_count,
                c.orphaned_count,
            ),
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "Counters(started={}, total_block_count={}, ready_count={}, processing_count={}, \
             completed_count={}, skipped_count={}, failed_count={}, orphaned_count={})",
            if self.started { "True" } else { "False" },
            self.total_block_count,
            self.ready_count,
            self.processing_count,
            self.completed_count,
            self.skipped_count,
            self.failed_count,
            self.orphaned_count
        )
    }
}

/// The engine's scheduler; daisy.Scheduler wraps it.
#[pyclass(module = "daisy._daisy", name = "Scheduler")]
pub struct PyScheduler {
    scheduler: Scheduler,
    /// The dependency graph as a Python object, made on first request.
    graph: Option<Py<PyDependencyGraph>>,
}

#[pymethods]
impl PyScheduler {
    #[new]
    #[pyo3(signature = (tasks, count_all_orphans = true))]
    fn new(tasks: Vec<Bound<'_, TaskSpec>>, count_all_orphans: bool) -> PyResult<Self> {
        let scheduler = Scheduler::new(tasks.iter().map(|t| &t.get().task), count_all_orphans)
            .map_err(core_error)?;
        Ok(Self {
            scheduler,
            graph: None,
        })
    }

    /// The next ready block of a task (its pre-check runs inline), or None.
    ///
    /// A KeyboardInterrupt raised in the pre-check is raised here (the block it interrupted
    /// stays out).
    fn acquire_block(&mut self, task_id: &str) -> PyResult<Option<PyBlock>> {
        let block = self.scheduler.acquire_block(task_id);
        if let Some(interrupt) = take_interrupt() {
            return Err(interrupt);
        }
        Ok(block.map(PyBlock::from_core))
    }

    /// Takes a block back; returns the ids of the tasks that gained ready blocks, in order.
    fn release_block<'py>(
        &mut self,
        py: Python<'py>,
        block: PyRef<'_, PyBlock>,
    ) -> PyResult<Bound<'py, PyList>> {
        self.scheduler
            .release_block(&block.block)
            .map_err(core_error)?;
        PyList::new(py, self.scheduler.last_release_ready_tasks().map(|t| &**t))
    }

    /// A task's counters.
    fn counters(&self, task_id: &str) -> PyResult<Counters> {
        self.scheduler
            .task_state(task_id)
            .map(Counters::from)
            .ok_or_else(|| unknown_task(task_id))
    }

    /// The task ids in task_states order: root tasks first, then the others.
    fn task_ids(&self) -> Vec<String> {
        self.scheduler
            .task_states()
            .map(|(t, _)| t.to_string())
            .collect()
    }

    /// The ids of the tasks with ready blocks, in task_states order.
    fn ready_task_ids(&self) -> Vec<String> {
        self.scheduler
            .get_ready_tasks()
            .map(|t| t.task_id().to_string())
            .collect()
    }

    /// The dependency graph (the same object every time).
    fn dependency_graph(&mut self, py: Python<'_>) -> PyResult<Py<PyDependencyGraph>> {
        if let Some(graph) = &self.graph {
            return Ok(graph.clone_ref(py));
        }
        let graph = Py::new(
            py,
            PyDependencyGraph {
                graph: Arc::new(self.scheduler.dependency_graph().clone()),
            },
        )?;
        self.graph = Some(graph.clone_ref(py));
        Ok(graph)
    }

    /// Gives up on a task: its ready and pending blocks count as orphaned.
    fn abandon_task(&mut self, task_id: &str) -> PyResult<()> {
        self.scheduler.abandon_task(task_id).map_err(core_error)
    }
}
