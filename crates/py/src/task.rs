//! `TaskSpec`: the engine's copy of a daisy.Task, validated on construction, and
//! `link_tasks`, which links specs to their upstream specs given by position.
//!
//! Every rule about a task is the engine's (`daisy_core::TaskBuilder::build` for a task,
//! `daisy_core::link_tasks` for the relation among tasks); this file only converts Python
//! values to the engine's types and names the argument when a value has the wrong type.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use daisy_core::{DEFAULT_MAX_WORKER_RESTARTS, Fit, MIN_NUM_WORKERS, Task};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDelta, PyInt, PyString, PyTuple};

use crate::callbacks::{self, ErrorSlot};
use crate::convert::{int_of, repr, roi_from_py, roi_to_py, type_name};
use crate::errors::{core_error, task_type_error, task_value_error};

/// The engine's copy of a daisy.Task (see the stub for the arguments).
#[pyclass(module = "daisy._daisy", name = "TaskSpec", frozen)]
pub struct TaskSpec {
    pub(crate) task: Arc<Task>,
    /// The upstream specs (set by `link_tasks`), to find their init-callback errors.
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

/// A task argument: the engine's type and value errors for a task are `TaskTypeError` and
/// `TaskError` (the conversion helpers raise the builtins).
fn task_arg<T>(py: Python<'_>, result: PyResult<T>) -> PyResult<T> {
    result.map_err(|error| {
        let message = error.value(py).to_string();
        if error.is_instance_of::<PyTypeError>(py) {
            task_type_error(message)
        } else if error.is_instance_of::<PyValueError>(py) {
            task_value_error(message)
        } else {
            error
        }
    })
}

/// A callable argument, or None.
fn callable(value: Option<Bound<'_, PyAny>>, what: &str) -> PyResult<Option<Py<PyAny>>> {
    match value {
        Some(v) if !v.is_none() => {
            if v.is_callable() {
                Ok(Some(v.unbind()))
            } else {
                Err(task_type_error(format!(
                    "{what} must be callable or None, got {}",
                    repr(&v)
                )))
            }
        }
        _ => Ok(None),
    }
}

/// daisy.Task's `check_function`: a pre-check, a tuple `(pre_check, post_check)` or None.
#[allow(clippy::type_complexity)]
fn checks(value: Option<Bound<'_, PyAny>>) -> PyResult<(Option<Py<PyAny>>, Option<Py<PyAny>>)> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok((None, None));
    };
    if value.is_callable() {
        return Ok((Some(value.unbind()), None));
    }
    let pair: Option<Vec<Bound<'_, PyAny>>> = (value.is_instance_of::<PyTuple>()
        || value.is_instance_of::<pyo3::types::PyList>())
    .then(|| value.try_iter().and_then(Iterator::collect))
    .transpose()?;
    match pair {
        Some(pair) if pair.len() == 2 => {
            let mut pair = pair.into_iter();
            let pre = callable(pair.next(), "check_function: pre_check")?;
            let post = callable(pair.next(), "check_function: post_check")?;
            Ok((pre, post))
        }
        Some(pair) => Err(task_value_error(format!(
            "check_function must be a callable or a tuple (pre_check, post_check), got a {} of \
             {} elements",
            type_name(&value),
            pair.len()
        ))),
        None => Err(task_type_error(format!(
            "check_function must be a callable, a tuple (pre_check, post_check) or None, got {}",
            repr(&value)
        ))),
    }
}

/// A count argument in `min..=u32::MAX` (the engine's types), naming itself and the range
/// when out of it.
fn count(py: Python<'_>, value: &Bound<'_, PyAny>, what: &str, min: u32) -> PyResult<u32> {
    task_arg(py, int_of(value, what, min, u32::MAX))
}

/// The `num_workers` argument: at least the engine's [`MIN_NUM_WORKERS`].
fn num_workers_arg(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
    let min = u64::try_from(MIN_NUM_WORKERS).unwrap_or(1);
    let max = u64::try_from(usize::MAX).unwrap_or(u64::MAX);
    let n = task_arg(py, int_of(value, "num_workers", min, max))?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// A timeout argument in seconds: a number or a `datetime.timedelta` (the engine checks that
/// it is positive and finite).
fn timeout_secs(value: &Bound<'_, PyAny>) -> PyResult<f64> {
    if let Ok(delta) = value.cast::<PyDelta>() {
        return delta
            .call_method0(intern!(value.py(), "total_seconds"))?
            .extract();
    }
    if !value.is_instance_of::<PyBool>() && !value.is_instance_of::<PyString>() {
        if let Ok(seconds) = value.extract::<f64>() {
            return Ok(seconds);
        }
        if value.is_instance_of::<PyInt>() {
            // An int beyond a float: finite and huge, clamped by the engine (MAX_TIMEOUT) if
            // positive.
            let positive = value.gt(0)?;
            return Ok(if positive { f64::MAX } else { f64::MIN });
        }
    }
    Err(task_type_error(format!(
        "timeout must be a number of seconds, a datetime.timedelta or None, got {}",
        repr(value)
    )))
}

#[pymethods]
impl TaskSpec {
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (
        task_id, total_roi, read_roi, write_roi, *, read_write_conflict = None, fit = None,
        num_workers = None, max_retries = None, timeout = None, check_function = None,
        init_callback_fn = None, max_worker_restarts = None, done_marker_path = None,
        max_failures_before_success = None
    ))]
    fn new(
        py: Python<'_>,
        task_id: &Bound<'_, PyAny>,
        total_roi: &Bound<'_, PyAny>,
        read_roi: &Bound<'_, PyAny>,
        write_roi: &Bound<'_, PyAny>,
        read_write_conflict: Option<&Bound<'_, PyAny>>,
        fit: Option<&Bound<'_, PyAny>>,
        num_workers: Option<&Bound<'_, PyAny>>,
        max_retries: Option<&Bound<'_, PyAny>>,
        timeout: Option<&Bound<'_, PyAny>>,
        check_function: Option<Bound<'_, PyAny>>,
        init_callback_fn: Option<Bound<'_, PyAny>>,
        max_worker_restarts: Option<&Bound<'_, PyAny>>,
        done_marker_path: Option<&Bound<'_, PyAny>>,
        max_failures_before_success: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let task_id = task_id.cast::<PyString>().map_err(|_| {
            task_type_error(format!(
                "task_id must be a str, got {} of type {}",
                repr(task_id),
                type_name(task_id)
            ))
        })?;
        let mut builder = Task::builder(
            task_id.to_str()?,
            task_arg(py, roi_from_py(total_roi, "total_roi"))?,
            task_arg(py, roi_from_py(read_roi, "read_roi"))?,
            task_arg(py, roi_from_py(write_roi, "write_roi"))?,
        );
        if let Some(fit) = fit.filter(|v| !v.is_none()) {
            let fit: Fit = fit
                .cast::<PyString>()
                .map_err(|_| task_type_error(format!("fit must be a str, got {}", repr(fit))))?
                .to_str()?
                .parse()
                .map_err(core_error)?;
            builder = builder.fit(fit);
        }
        if let Some(conflict) = read_write_conflict.filter(|v| !v.is_none()) {
            builder = builder.read_write_conflict(conflict.is_truthy()?);
        }
        if let Some(n) = num_workers.filter(|v| !v.is_none()) {
            builder = builder.num_workers(num_workers_arg(py, n)?);
        }
        if let Some(n) = max_retries.filter(|v| !v.is_none()) {
            builder = builder.max_retries(count(py, n, "max_retries", 0)?);
        }
        if let Some(n) = max_worker_restarts.filter(|v| !v.is_none()) {
            builder = builder.max_worker_restarts(count(py, n, "max_worker_restarts", 0)?);
        }
        if let Some(n) = max_failures_before_success.filter(|v| !v.is_none()) {
            builder = builder.max_failures_before_success(count(
                py,
                n,
                "max_failures_before_success",
                0,
            )?);
        }
        if let Some(timeout) = timeout.filter(|v| !v.is_none()) {
            builder = builder.timeout_secs(timeout_secs(timeout)?);
        }
        let (pre_check, post_check) = checks(check_function)?;
        if let Some(check) = pre_check {
            builder = builder.check_function(callbacks::check_function(check, "pre_check"));
        }
        if let Some(check) = post_check {
            builder = builder.post_check_function(callbacks::check_function(check, "post_check"));
        }
        let init_error: ErrorSlot = Arc::new(Mutex::new(None));
        if let Some(callback) = callable(init_callback_fn, "init_callback_fn")? {
            builder =
                builder.init_callback(callbacks::init_callback(callback, Arc::clone(&init_error)));
        }
        if let Some(path) = done_marker_path.filter(|v| !v.is_none()) {
            let path: PathBuf = path.extract().map_err(|_| {
                task_type_error(format!(
                    "done_marker_path must be a str, a path or None, got {}",
                    repr(path)
                ))
            })?;
            builder = builder.done_marker(path);
        }
        Ok(Self {
            task: builder.build().map_err(core_error)?,
            upstream: Vec::new(),
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
        self.task.tiling().num_blocks()
    }

    /// The number of workers.
    #[getter]
    fn num_workers(&self) -> usize {
        self.task.num_workers()
    }

    /// Retries per block.
    #[getter]
    fn max_retries(&self) -> u32 {
        self.task.max_retries()
    }

    /// How many times crashed workers are replaced.
    #[getter]
    fn max_worker_restarts(&self) -> u32 {
        self.task.max_worker_restarts()
    }

    /// Failed block attempts, none succeeded, after which the task is abandoned; 0: never.
    #[getter]
    fn max_failures_before_success(&self) -> u32 {
        self.task.max_failures_before_success().unwrap_or(0)
    }

    /// The per-block timeout in seconds, or None.
    #[getter]
    fn timeout(&self) -> Option<f64> {
        self.task.timeout().map(|t| t.as_secs_f64())
    }

    /// The ids of the upstream tasks (set by `link_tasks`).
    #[getter]
    fn upstream_task_ids(&self) -> Vec<String> {
        self.task
            .upstream_tasks()
            .iter()
            .map(|t| t.task_id().to_string())
            .collect()
    }

    fn __repr__(&self) -> String {
        format!("TaskSpec('{}')", self.task.task_id())
    }
}

/// The specs linked to their upstream specs, given by position (`upstream[i]`: the positions
/// of the specs task `i` reads from); see the stub.
#[pyfunction]
pub(crate) fn link_tasks(
    py: Python<'_>,
    tasks: Vec<Bound<'_, TaskSpec>>,
    upstream: Vec<Vec<usize>>,
) -> PyResult<Vec<Py<TaskSpec>>> {
    let cores: Vec<Arc<Task>> = tasks.iter().map(|t| Arc::clone(&t.get().task)).collect();
    let linked = daisy_core::link_tasks(&cores, &upstream).map_err(core_error)?;
    let order = daisy_core::upstream_first(&cores, &upstream).map_err(core_error)?;
    let mut specs: Vec<Option<Py<TaskSpec>>> = (0..tasks.len()).map(|_| None).collect();
    for i in order {
        let ups = upstream
            .get(i)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(|&u| specs[u].as_ref().map(|s| s.clone_ref(py)))
            .collect();
        specs[i] = Some(Py::new(
            py,
            TaskSpec {
                task: Arc::clone(&linked[i]),
                upstream: ups,
                init_error: Arc::clone(&tasks[i].get().init_error),
            },
        )?);
    }
    Ok(specs.into_iter().flatten().collect())
}

/// Adds `TaskSpec`, `link_tasks` and `DEFAULT_MAX_WORKER_RESTARTS` to the module.
pub(crate) fn add_to_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TaskSpec>()?;
    m.add_function(wrap_pyfunction!(link_tasks, m)?)?;
    m.add("DEFAULT_MAX_WORKER_RESTARTS", DEFAULT_MAX_WORKER_RESTARTS)?;
    Ok(())
}
