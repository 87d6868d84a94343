//! `Scheduler` (docs/semantics.md#scheduling).

use std::sync::Arc;

use daisy_core::Scheduler;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::block::PyBlock;
use crate::callbacks::take_interrupt;
use crate::errors::core_error;
use crate::errors::unknown_task;
use crate::graph::PyDependencyGraph;
use crate::task::TaskSpec;
use crate::task_state::Counters;

/// The engine's scheduler; daisy.Scheduler wraps it.
#[pyclass(module = "daisy._daisy", name = "Scheduler")]
pub struct PyScheduler {
    pub(crate) scheduler: Scheduler,
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

    /// The next ready block of a task (its pre-check runs inline), or None; an unknown task
    /// raises `UnknownTaskError`.
    ///
    /// A KeyboardInterrupt raised in the pre-check is raised here (the block it interrupted
    /// stays out).
    fn acquire_block(&mut self, task_id: &str) -> PyResult<Option<PyBlock>> {
        let block = self.scheduler.acquire_block(task_id);
        if let Some(interrupt) = take_interrupt() {
            return Err(interrupt);
        }
        Ok(block.map_err(core_error)?.map(PyBlock::from_core))
    }

    /// Takes a block back; returns the ids of the tasks that gained ready blocks, in order.
    fn release_block<'py>(
        &mut self,
        py: Python<'py>,
        block: PyRef<'_, PyBlock>,
    ) -> PyResult<Bound<'py, PyList>> {
        self.scheduler
            .release_block(block.engine_block(py)?)
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
