//! `RunReport`: the outcome of a run, [`daisy_server::RunReport`]
//! (docs/semantics.md#progress-and-the-execution-summary).
//!
//! The Execution Summary text and "the run succeeded" are the engine's; Python prints and
//! returns what this hands it.

use std::path::PathBuf;

use daisy_core::{BlockId, SerialReport, TaskState};
use daisy_server::{BlockFailure, RunReport, TaskReport};
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::task_state::Counters;

/// The basename of a worker's log files: the `.out` path without its suffix.
pub(crate) fn log_basename(log_files: Option<&(PathBuf, PathBuf)>) -> Option<String> {
    log_files.map(|(out, _)| {
        let out = out.to_string_lossy();
        out.strip_suffix(".out").unwrap_or(&out).to_owned()
    })
}

/// The `.out` and `.err` files of a log basename, in the launchers' order.
fn log_files(basename: &str) -> (PathBuf, PathBuf) {
    (
        PathBuf::from(format!("{basename}.out")),
        PathBuf::from(format!("{basename}.err")),
    )
}

/// The report of a serial run (no workers; interrupted if Ctrl-C stopped it).
pub(crate) fn serial_run_report(serial: SerialReport, interrupted: bool) -> RunReport {
    let mut tasks: Vec<TaskReport> = serial
        .states
        .into_iter()
        .map(|(task_id, state)| TaskReport {
            task_id: task_id.to_string(),
            state,
            abandoned: None,
            failures: Vec::new(),
            worker_failures: Vec::new(),
            workers_started: 0,
        })
        .collect();
    for failure in serial.failures {
        if let Some(task) = tasks
            .iter_mut()
            .find(|t| t.task_id == *failure.block_id.task_id)
        {
            task.failures.push(BlockFailure {
                block_id: failure.block_id,
                worker_id: None,
                error: failure.error,
                log_files: None,
            });
        }
    }
    for (task_id, reason) in serial.abandoned {
        if let Some(task) = tasks.iter_mut().find(|t| t.task_id == *task_id) {
            task.abandoned = Some(reason);
        }
    }
    RunReport { tasks, interrupted }
}

/// A failure given to the constructor: a dict with `task_id`, `spatial_id` and optionally
/// `worker_id`, `error`, `log_basename`.
fn failure_from_py(entry: &Bound<'_, PyDict>) -> PyResult<BlockFailure> {
    let required = |key: &str| {
        entry.get_item(key)?.ok_or_else(|| {
            PyKeyError::new_err(format!("a failure needs a '{key}' entry, got {entry}"))
        })
    };
    let optional = |key: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
        Ok(entry.get_item(key)?.filter(|v| !v.is_none()))
    };
    let task_id: String = required("task_id")?.extract()?;
    let spatial_id: u64 = required("spatial_id")?.extract()?;
    let worker_id: Option<u64> = optional("worker_id")?.map(|v| v.extract()).transpose()?;
    let error: String = optional("error")?
        .map(|v| v.extract())
        .transpose()?
        .unwrap_or_default();
    let basename: Option<String> = optional("log_basename")?.map(|v| v.extract()).transpose()?;
    Ok(BlockFailure {
        block_id: BlockId {
            task_id: task_id.as_str().into(),
            spatial_id,
        },
        worker_id,
        error,
        log_files: basename.as_deref().map(log_files),
    })
}

/// The outcome of a run: every task's final counters, every failed block, and the engine's
/// Execution Summary.
#[pyclass(module = "daisy._daisy", name = "RunReport", frozen)]
pub struct PyRunReport {
    /// The engine's report.
    pub(crate) report: RunReport,
}

impl From<RunReport> for PyRunReport {
    fn from(report: RunReport) -> Self {
        Self { report }
    }
}

#[pymethods]
impl PyRunReport {
    /// A report from its parts (see the stub); `failures` are dicts as `failures` returns.
    #[new]
    #[pyo3(signature = (counters, failures = None, abandoned = None, interrupted = false))]
    fn new(
        counters: &Bound<'_, PyDict>,
        failures: Option<Vec<Bound<'_, PyDict>>>,
        abandoned: Option<&Bound<'_, PyDict>>,
        interrupted: bool,
    ) -> PyResult<Self> {
        let mut tasks = Vec::with_capacity(counters.len());
        for (task_id, state) in counters.iter() {
            let task_id: String = task_id.extract()?;
            let state: TaskState = state.cast::<Counters>()?.get().state;
            tasks.push(TaskReport {
                task_id,
                state,
                abandoned: None,
                failures: Vec::new(),
                worker_failures: Vec::new(),
                workers_started: 0,
            });
        }
        for (task_id, reason) in abandoned.into_iter().flat_map(|d| d.iter()) {
            let task_id: String = task_id.extract()?;
            let task = tasks
                .iter_mut()
                .find(|t| t.task_id == task_id)
                .ok_or_else(|| {
                    PyValueError::new_err(format!("abandoned task '{task_id}' is not in counters"))
                })?;
            task.abandoned = Some(reason.extract()?);
        }
        for entry in failures.unwrap_or_default() {
            let failure = failure_from_py(&entry)?;
            let task = tasks
                .iter_mut()
                .find(|t| t.task_id == *failure.block_id.task_id)
                .ok_or_else(|| {
                    PyValueError::new_err(format!("the task of failure {entry} is not in counters"))
                })?;
            task.failures.push(failure);
        }
        Ok(Self {
            report: RunReport { tasks, interrupted },
        })
    }

    /// daisy's Execution Summary, as printed at the end of a run.
    #[getter]
    fn summary(&self) -> String {
        self.report.to_string()
    }

    /// Whether every block of every task succeeded or was skipped, no task was abandoned
    /// and the run was not interrupted.
    #[getter]
    fn succeeded(&self) -> bool {
        self.report.succeeded()
    }

    /// Whether the run was stopped (Ctrl-C, stop_event) before it finished.
    #[getter]
    fn interrupted(&self) -> bool {
        self.report.interrupted
    }

    /// `{task_id: Counters}`, in the report's task order.
    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for task in &self.report.tasks {
            dict.set_item(&task.task_id, Counters::from(&task.state))?;
        }
        Ok(dict)
    }

    /// Every failed attempt, as dicts with `task_id`, `spatial_id`, `worker_id` (int or
    /// None), `error` (str) and `log_basename` (str or None).
    #[getter]
    fn failures<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for task in &self.report.tasks {
            for failure in &task.failures {
                let entry = PyDict::new(py);
                entry.set_item("task_id", &*failure.block_id.task_id)?;
                entry.set_item("spatial_id", failure.block_id.spatial_id)?;
                entry.set_item("worker_id", failure.worker_id)?;
                entry.set_item("error", &failure.error)?;
                entry.set_item("log_basename", log_basename(failure.log_files.as_ref()))?;
                list.append(entry)?;
            }
        }
        Ok(list)
    }

    /// `{task_id: reason}` for the tasks that were given up.
    #[getter]
    fn abandoned<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for task in &self.report.tasks {
            if let Some(reason) = &task.abandoned {
                dict.set_item(&task.task_id, reason)?;
            }
        }
        Ok(dict)
    }

    /// The Execution Summary.
    fn __str__(&self) -> String {
        self.report.to_string()
    }

    fn __repr__(&self) -> String {
        let py_bool = |b: bool| if b { "True" } else { "False" };
        format!(
            "<RunReport of {} tasks: succeeded={}, interrupted={}>",
            self.report.tasks.len(),
            py_bool(self.report.succeeded()),
            py_bool(self.report.interrupted)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use daisy_core::SerialFailure;

    #[test]
    fn log_basenames_round_trip() {
        let files = log_files("daisy_logs/A/worker_1");
        assert_eq!(files.0, PathBuf::from("daisy_logs/A/worker_1.out"));
        assert_eq!(files.1, PathBuf::from("daisy_logs/A/worker_1.err"));
        assert_eq!(
            log_basename(Some(&files)).as_deref(),
            Some("daisy_logs/A/worker_1")
        );
        assert_eq!(log_basename(None), None);
    }

    #[test]
    fn serial_reports_keep_task_order_and_failures() {
        let state = TaskState {
            total_block_count: 2,
            completed_count: 1,
            failed_count: 1,
            ..TaskState::default()
        };
        let report = serial_run_report(
            SerialReport {
                states: vec![("A".into(), state), ("B".into(), TaskState::default())],
                failures: vec![SerialFailure {
                    block_id: BlockId {
                        task_id: "A".into(),
                        spatial_id: 1,
                    },
                    error: daisy_core::POST_CHECK_FAILED.into(),
                }],
                abandoned: vec![("A".into(), "gave up".into())],
            },
            false,
        );
        assert_eq!(report.tasks[0].abandoned.as_deref(), Some("gave up"));
        assert_eq!(report.tasks[1].abandoned, None);
        let ids: Vec<_> = report.tasks.iter().map(|t| t.task_id.as_str()).collect();
        assert_eq!(ids, ["A", "B"]);
        assert_eq!(report.tasks[0].failures.len(), 1);
        assert_eq!(report.tasks[0].failures[0].worker_id, None);
        assert!(report.tasks[1].failures.is_empty());
        assert!(!report.succeeded() && !report.interrupted);
    }
}
