//! `TaskSpec`: the engine's copy of a daisy.Task, validated on construction.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use daisy_core::{Fit, Task};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::callbacks::{ErrorSlot, check_function};
use crate::convert::{repr, roi_from_py, roi_to_py};
use crate::errors::core_error;

/// The engine's copy of a daisy.Task (see the stub for the arguments).
#[pyclass(module = "daisy._daisy", name = "TaskSpec", frozen)]
pub struct TaskSpec {
    pub(crate) task: Arc<Task>,
    /// The upstream specs, to find their init-callback errors.
    pub(crate) upstream: Vec<Py<TaskSpec>>,
    /// The exception the init callback raised, if it did.
    pub(crate) init_error: ErrorSlot,
}

impl TaskSpec {
    /// This spec and, recursively, its upstream specs.
    pub(crate) fn collect<'py>(slf: &Bound<'py, Self>, out: &mut Vec<Bound<'py, Self>>) {
        if out.iter().any(|s| s.is(slf)) {
            return;
        }
        out.push(slf.clone());
        for up in &slf.get().upstream {
            Self::collect(up.bind(slf.py()), out);
        }
    }
}

/// A callable argument, or None.
fn callable(value: Option<Bound<'_, PyAny>>, what: &str) -> PyResult<Option<Py<PyAny>>> {
    match value {
        Some(v) if !v.is_none() => {
            if v.is_callable() {
                Ok(Some(v.unbind()))
            } else {
                Err(PyTypeError::new_err(format!(
                    "{what} must be callable or None, got {}",
                    repr(&v)
                )))
            }
        }
        _ => Ok(None),
    }
}

/// A non-negative count argument.
fn count(value: i64, what: &str) -> PyResult<u32> {
    u32::try_from(value).map_err(|_| {
        PyValueError::new_err(format!(
            "{what} must be a non-negative int below 2**32, got {value}"
        ))
    })
}

#[pymethods]
impl TaskSpec {
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (
        task_id, total_roi, read_roi, write_roi, read_write_conflict, fit, num_workers,
        max_retries, timeout, upstream, pre_check, post_check, init_callback,
        max_worker_restarts, done_marker_path
    ))]
    fn new(
        task_id: &str,
        total_roi: &Bound<'_, PyAny>,
        read_roi: &Bound<'_, PyAny>,
        write_roi: &Bound<'_, PyAny>,
        read_write_conflict: bool,
        fit: &str,
        num_workers: i64,
        max_retries: i64,
        timeout: Option<f64>,
        upstream: Vec<Bound<'_, TaskSpec>>,
        pre_check: Option<Bound<'_, PyAny>>,
        post_check: Option<Bound<'_, PyAny>>,
        init_callback: Option<Bound<'_, PyAny>>,
        max_worker_restarts: i64,
        done_marker_path: Option<PathBuf>,
    ) -> PyResult<Self> {
        let fit: Fit = fit
            .parse()
            .map_err(|e| PyValueError::new_err(format!("fit: {e}")))?;
        let num_workers = usize::try_from(num_workers).map_err(|_| {
            PyValueError::new_err(format!(
                "num_workers must be a non-negative int, got {num_workers}"
            ))
        })?;
        let mut builder = Task::builder(
            task_id,
            roi_from_py(total_roi, "total_roi")?,
            roi_from_py(read_roi, "read_roi")?,
            roi_from_py(write_roi, "write_roi")?,
        )
        .read_write_conflict(read_write_conflict)
        .fit(fit)
        .num_workers(num_workers)
        .max_retries(count(max_retries, "max_retries")?)
        .max_worker_restarts(count(max_worker_restarts, "max_worker_restarts")?)
        .upstream_tasks(upstream.iter().map(|s| &s.get().task));
        if let Some(seconds) = timeout {
            let duration = Duration::try_from_secs_f64(seconds).map_err(|_| {
                PyValueError::new_err(format!(
                    "timeout must be a non-negative number of seconds or None, got {seconds}"
                ))
            })?;
            builder = builder.timeout(duration);
        }
        if let Some(check) = callable(pre_check, "pre_check")? {
            builder = builder.check_function(check_function(check, "pre_check"));
        }
        if let Some(check) = callable(post_check, "post_check")? {
            builder = builder.post_check_function(check_function(check, "post_check"));
        }
        let init_error: ErrorSlot = Arc::new(Mutex::new(None));
        if let Some(callback) = callable(init_callback, "init_callback")? {
            builder = builder.init_callback(crate::callbacks::init_callback(
                callback,
                Arc::clone(&init_error),
            ));
        }
        if let Some(path) = done_marker_path {
            builder = builder.done_marker(path);
        }
        Ok(Self {
            task: builder.build().map_err(core_error)?,
            upstream: upstream.into_iter().map(Bound::unbind).collect(),
            init_error,
        })
    }

    /// The task id.
    #[getter]
    fn task_id(&self) -> &str {
        self.task.task_id()
    }

    /// The total ROI shrunk by the context (funlib Roi).
    #[getter]
    fn total_write_roi<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        roi_to_py(py, &self.task.total_write_roi())
    }

    /// The number of blocks.
    #[getter]
    fn num_blocks(&self) -> u64 {
        self.task.tiling().map_or(0, |t| t.num_blocks())
    }

    fn __repr__(&self) -> String {
        format!("TaskSpec({:?})", self.task)
    }
}
