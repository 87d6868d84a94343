//! `run_serial`: a serial run (docs/semantics.md#run_blockwise) of a Scheduler's tasks with
//! Python block functions, over the engine's loop [`daisy_core::run_serial_with`].
//!
//! A Python exception from a block function or an observer hook stops the run and is raised
//! unchanged; so is a KeyboardInterrupt seen by a pre- or post-check. A KeyboardInterrupt
//! carries the report of the run until then as its `run_report` attribute (interrupted), so
//! that the summary can say so.

use std::collections::HashMap;
use std::sync::Arc;

use daisy_core::{Block, CoreError, SerialEvent, SerialHooks, SerialStop, Task, run_serial_with};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;

use crate::block::PyBlock;
use crate::callbacks::take_interrupt;
use crate::errors::{DaisyError, core_error};
use crate::run_report::{PyRunReport, serial_run_report};
use crate::scheduler::PyScheduler;
use crate::task_state::Counters;

/// What stops a serial run.
enum Stop {
    /// An engine error.
    Core(CoreError),
    /// A Python exception, raised unchanged.
    Python(PyErr),
}

impl From<CoreError> for Stop {
    fn from(error: CoreError) -> Self {
        Self::Core(error)
    }
}

impl From<PyErr> for Stop {
    fn from(error: PyErr) -> Self {
        Self::Python(error)
    }
}

/// Calls the Python block functions and the observer's hooks.
struct PyHooks<'py> {
    py: Python<'py>,
    /// The block function of each task.
    functions: HashMap<String, Bound<'py, PyAny>>,
    observer: Option<Bound<'py, PyAny>>,
}

impl PyHooks<'_> {
    /// Calls `observer.<hook>(task_id, counters)`.
    fn notify_task(
        &self,
        hook: &str,
        task_id: &str,
        state: &daisy_core::TaskState,
    ) -> PyResult<()> {
        if let Some(observer) = &self.observer {
            observer.call_method1(hook, (task_id, Counters::from(state)))?;
        }
        Ok(())
    }
}

impl SerialHooks for PyHooks<'_> {
    type Error = Stop;

    fn process(&mut self, task: &Arc<Task>, block: &mut Block) -> Result<(), Stop> {
        let function = self.functions.get(task.task_id().as_ref()).ok_or_else(|| {
            DaisyError::Run.new_err(format!(
                "run_serial(): no block function was given for task {}",
                task.task_id()
            ))
        })?;
        let py_block = Bound::new(self.py, PyBlock::from_core(block.clone()))?;
        function.call1((&py_block,))?;
        block.status = py_block.borrow().block.status;
        Ok(())
    }

    fn on_event(&mut self, event: SerialEvent<'_>) -> Result<(), Stop> {
        if let Some(interrupt) = take_interrupt() {
            return Err(Stop::Python(interrupt));
        }
        match event {
            SerialEvent::TaskStart { task_id, state } => {
                self.notify_task("on_task_start", task_id, state)?;
            }
            SerialEvent::Acquire { task_id, state } => {
                self.notify_task("on_acquire_block", task_id, state)?;
            }
            SerialEvent::Release { task_id, state } => {
                self.notify_task("on_release_block", task_id, state)?;
            }
            SerialEvent::TaskDone { task_id, state } => {
                self.notify_task("on_task_done", task_id, state)?;
            }
            SerialEvent::TaskAbandoned {
                task_id,
                state,
                reason,
            } => {
                if let Some(observer) = &self.observer {
                    observer.call_method1(
                        "on_task_abandoned",
                        (&**task_id, Counters::from(state), reason),
                    )?;
                }
            }
            SerialEvent::BlockFailure { block, error } => {
                if let Some(observer) = &self.observer {
                    let py_block = Bound::new(self.py, PyBlock::from_core(block.clone()))?;
                    observer.call_method1("on_block_failure", (py_block, error))?;
                }
            }
        }
        Ok(())
    }
}

/// Runs the scheduler's tasks in this thread, one block at a time; see the stub.
#[pyfunction]
#[pyo3(signature = (scheduler, process_functions, observer = None))]
pub(crate) fn run_serial<'py>(
    py: Python<'py>,
    scheduler: &Bound<'py, PyScheduler>,
    process_functions: HashMap<String, Bound<'py, PyAny>>,
    observer: Option<Bound<'py, PyAny>>,
) -> PyResult<PyRunReport> {
    let mut scheduler = scheduler.try_borrow_mut().map_err(|_| {
        DaisyError::Run.new_err("run_serial(): the scheduler is in use (a run is going on)")
    })?;
    let mut hooks = PyHooks {
        py,
        functions: process_functions,
        observer: observer.filter(|o| !o.is_none()),
    };
    match run_serial_with(&mut scheduler.scheduler, &mut hooks) {
        Ok(report) => Ok(serial_run_report(report, false).into()),
        Err(SerialStop {
            error: Stop::Python(error),
            report,
        }) => {
            if error.is_instance_of::<PyKeyboardInterrupt>(py) {
                let report = PyRunReport::from(serial_run_report(report, true));
                error.value(py).setattr("run_report", report)?;
            }
            Err(error)
        }
        Err(SerialStop {
            error: Stop::Core(error),
            ..
        }) => Err(core_error(error)),
    }
}
