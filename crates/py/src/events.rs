//! The events of a distributed run as Python objects, one class per [`RunEvent`] that Python
//! observers hear of (docs/semantics.md#progress-and-the-execution-summary).
//!
//! `run` calls its `on_event` callable with one of these; `daisy.Server` dispatches on the
//! class. Worker starts are not passed on (Python observers have no hook for them).

use daisy_server::RunEvent;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::block::PyBlock;
use crate::run_report::{PyRunReport, log_basename};
use crate::task_state::Counters;

/// A task got its first ready blocks; its workers are started next.
#[pyclass(module = "daisy._daisy", frozen, get_all)]
pub struct TaskStarted {
    /// The task.
    task_id: String,
    /// Its counters.
    counters: Counters,
}

/// Blocks of a task were handed out or came back (the engine reports both as one event).
#[pyclass(module = "daisy._daisy", frozen, get_all)]
pub struct BlockProgress {
    /// The task.
    task_id: String,
    /// Its counters.
    counters: Counters,
}

/// Every block of a task is completed, failed or orphaned.
#[pyclass(module = "daisy._daisy", frozen, get_all)]
pub struct TaskDone {
    /// The task.
    task_id: String,
    /// Its final counters.
    counters: Counters,
}

/// A block attempt failed (the block may still be retried).
#[pyclass(module = "daisy._daisy", frozen, get_all)]
pub struct BlockFailed {
    /// The block, by id: its ROIs are empty (the server reports failures by block id).
    block: Py<PyBlock>,
    /// What went wrong: the block function's error text, "lost: ..." or "post-check failed".
    error: String,
    /// The worker that held the block, if the server started it.
    worker_id: Option<u64>,
    /// The worker's log files without their suffix, if its output is redirected.
    log_basename: Option<String>,
}

/// A task was given up: no worker is left and its restart budget is used up.
#[pyclass(module = "daisy._daisy", frozen, get_all)]
pub struct TaskAbandoned {
    /// The task.
    task_id: String,
    /// Its counters after abandoning (its remaining blocks are orphaned).
    counters: Counters,
    /// Why.
    reason: String,
}

/// The run ended (done, interrupted, or aborted before `run` raises).
#[pyclass(module = "daisy._daisy", frozen, get_all)]
pub struct RunFinished {
    /// Whether Ctrl-C (or a stop request) ended the run early.
    interrupted: bool,
    /// `{task_id: reason}` for the tasks that were abandoned.
    abandoned: Py<PyDict>,
    /// The engine's report.
    report: Py<PyRunReport>,
}

macro_rules! task_event_repr {
    ($($class:ident),*) => {$(
        #[pymethods]
        impl $class {
            fn __repr__(&self) -> String {
                format!(
                    "{}(task_id='{}', counters={})",
                    stringify!($class),
                    self.task_id,
                    self.counters.state
                )
            }
        }
    )*};
}

task_event_repr!(TaskStarted, BlockProgress, TaskDone);

#[pymethods]
impl TaskAbandoned {
    fn __repr__(&self) -> String {
        format!(
            "TaskAbandoned(task_id='{}', counters={}, reason='{}')",
            self.task_id, self.counters.state, self.reason
        )
    }
}

#[pymethods]
impl BlockFailed {
    fn __repr__(&self, py: Python<'_>) -> String {
        let worker = self
            .worker_id
            .map_or_else(|| "None".to_owned(), |w| w.to_string());
        let block = self
            .block
            .bind(py)
            .repr()
            .map_or_else(|_| "?".to_owned(), |r| r.to_string());
        format!(
            "BlockFailed(block={block}, error='{}', worker_id={worker})",
            self.error
        )
    }
}

#[pymethods]
impl RunFinished {
    fn __repr__(&self) -> String {
        let py_bool = |b: bool| if b { "True" } else { "False" };
        format!("RunFinished(interrupted={})", py_bool(self.interrupted))
    }
}

/// The Python object for an event; `None` for events Python observers do not hear of.
pub(crate) fn to_python<'py>(
    py: Python<'py>,
    event: &RunEvent<'_>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let task = |task_id: &str| task_id.to_owned();
    let object = match *event {
        RunEvent::TaskStart { task_id, state } => Bound::new(
            py,
            TaskStarted {
                task_id: task(task_id),
                counters: Counters::from(state),
            },
        )?
        .into_any(),
        RunEvent::Progress { task_id, state } => Bound::new(
            py,
            BlockProgress {
                task_id: task(task_id),
                counters: Counters::from(state),
            },
        )?
        .into_any(),
        RunEvent::TaskDone { task_id, state } => Bound::new(
            py,
            TaskDone {
                task_id: task(task_id),
                counters: Counters::from(state),
            },
        )?
        .into_any(),
        RunEvent::TaskAbandoned {
            task_id,
            state,
            reason,
        } => Bound::new(
            py,
            TaskAbandoned {
                task_id: task(task_id),
                counters: Counters::from(state),
                reason: reason.to_owned(),
            },
        )?
        .into_any(),
        RunEvent::BlockFailure { failure } => Bound::new(
            py,
            BlockFailed {
                block: Py::new(py, PyBlock::without_rois(py, &failure.block_id)?)?,
                error: failure.error.clone(),
                worker_id: failure.worker_id,
                log_basename: log_basename(failure.log_files.as_ref()),
            },
        )?
        .into_any(),
        RunEvent::WorkerStarted { .. } => return Ok(None),
        RunEvent::Exit { report } => {
            let abandoned = PyDict::new(py);
            for task in &report.tasks {
                if let Some(reason) = &task.abandoned {
                    abandoned.set_item(&task.task_id, reason)?;
                }
            }
            Bound::new(
                py,
                RunFinished {
                    interrupted: report.interrupted,
                    abandoned: abandoned.unbind(),
                    report: Py::new(py, PyRunReport::from(report.clone()))?,
                },
            )?
            .into_any()
        }
    };
    Ok(Some(object))
}

/// Adds the event classes to the module.
pub(crate) fn add_classes(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TaskStarted>()?;
    m.add_class::<BlockProgress>()?;
    m.add_class::<TaskDone>()?;
    m.add_class::<BlockFailed>()?;
    m.add_class::<TaskAbandoned>()?;
    m.add_class::<RunFinished>()?;
    Ok(())
}
