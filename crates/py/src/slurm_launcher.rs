//! `SlurmLauncher`: the engine's SLURM launcher ([`daisy_launch::SlurmLauncher`]) for a task
//! of a Python run: each worker a batch job running one command.

use std::sync::Arc;
use std::time::Duration;

use daisy_launch::{SlurmLauncher, SlurmOptions};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Workers as SLURM jobs, each running `program` with `args`; see the stub.
#[pyclass(name = "SlurmLauncher", module = "daisy._daisy", frozen)]
pub(crate) struct PySlurmLauncher {
    pub(crate) launcher: Arc<SlurmLauncher>,
}

#[pymethods]
impl PySlurmLauncher {
    #[new]
    #[pyo3(signature = (
        program, args, *, partition = None, time = None, mem = None, cpus_per_task = None,
        gpus = None, extra_args = Vec::new(), pending_limit = None
    ))]
    #[allow(clippy::too_many_arguments)] // keyword-only arguments of a Python constructor
    fn new(
        program: String,
        args: Vec<String>,
        partition: Option<String>,
        time: Option<String>,
        mem: Option<String>,
        cpus_per_task: Option<u32>,
        gpus: Option<u32>,
        extra_args: Vec<String>,
        pending_limit: Option<f64>,
    ) -> PyResult<Self> {
        let options = SlurmOptions {
            partition,
            time,
            mem,
            cpus_per_task,
            gpus,
            extra_args,
        };
        let mut launcher = SlurmLauncher::new(program, args, options);
        if let Some(seconds) = pending_limit {
            let limit = Duration::try_from_secs_f64(seconds)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "pending_limit must be a positive number of seconds, got {seconds}"
                    ))
                })?;
            launcher = launcher.pending_limit(limit);
        }
        Ok(Self {
            launcher: Arc::new(launcher),
        })
    }

    /// The command each job runs, as the job's shell sees it.
    #[getter]
    fn command_line(&self) -> String {
        self.launcher.command_line()
    }

    fn __repr__(&self) -> String {
        format!("SlurmLauncher({:?})", self.launcher.command_line())
    }
}
