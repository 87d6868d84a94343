//! `run`: a distributed run of the Rust server, driven from Python.
//!
//! The server's event loop runs on a current-thread tokio runtime on the calling thread, with
//! the GIL released, and never waits on Python code: workers are started by the Python callable
//! `launch_worker`, called with the GIL on a thread of the launch's own (the server's
//! supervision starts one per launch), which forks and returns the child's pid; [`PidHandle`]
//! watches it. Events go to the Python callable `on_event`, as the event classes of
//! [`crate::events`], on a delivery thread of their own ([`ObserverThread`]), in order; the last
//! one (`RunFinished`) is delivered before `run` returns. A launch does not fork while
//! `on_event` runs (unless it runs longer than 100 ms), so the child gets no lock the observer
//! held. Ctrl-C is noticed by polling Python's
//! signal handlers every 50 ms on the calling thread.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::{Duration, Instant};

use daisy::{Listen, RunError};
use daisy_core::Scheduler;
use daisy_launch::{LaunchError, Launcher, PidHandle, WorkerHandle, WorkerSpec, log_file_paths};
use daisy_server::{
    Launchers, Observer, ObserverThread, RunEvent, Server, ServerError, ServerOptions,
};
use pyo3::exceptions::{PyKeyboardInterrupt, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::callbacks::{describe, keep_interrupt, log_exception, take_interrupt};
use crate::convert::repr;
use crate::errors::{DaisyError, core_error, server_error};
use crate::events;
use crate::run_report::PyRunReport;
use crate::slurm_launcher::PySlurmLauncher;
use crate::task::TaskSpec;

/// How often the run looks at Python's signal handlers (Ctrl-C).
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Held while `launch_worker` or `on_event` runs: a worker is not forked while the observer
/// is inside Python code, which may hold locks (a stream's, a progress bar's) the child would
/// inherit held.
static PYTHON_CALLBACK: Mutex<()> = Mutex::new(());

/// Launches waiting for [`PYTHON_CALLBACK`]: the observer lets them go first.
static LAUNCHES_WAITING: AtomicUsize = AtomicUsize::new(0);

/// How long a launch waits for the observer to return from Python before it goes ahead
/// anyway: a slow observer delays a worker's start by this much at most.
const OBSERVER_WAIT: Duration = Duration::from_millis(100);

/// Runs the launch `f` holding [`PYTHON_CALLBACK`] if the observer returns within
/// [`OBSERVER_WAIT`]. The lock is taken before the GIL, so nobody waits for it with the GIL held.
fn as_launch<T>(f: impl FnOnce() -> T) -> T {
    LAUNCHES_WAITING.fetch_add(1, Ordering::SeqCst);
    let until = Instant::now() + OBSERVER_WAIT;
    let guard = loop {
        match PYTHON_CALLBACK.try_lock() {
            Ok(guard) => break Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => break Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) if Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(TryLockError::WouldBlock) => break None,
        }
    };
    LAUNCHES_WAITING.fetch_sub(1, Ordering::SeqCst);
    let result = f();
    drop(guard);
    result
}

/// Runs the observer call `f` holding [`PYTHON_CALLBACK`], after any launch that waits.
fn as_observer<T>(f: impl FnOnce() -> T) -> T {
    while LAUNCHES_WAITING.load(Ordering::SeqCst) > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let _guard = PYTHON_CALLBACK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f()
}

/// Starts workers by calling `launch_worker(task_id, worker_id, daisy_context, log_basename)`,
/// which returns the pid of a child process in its own process group.
struct PyLauncher {
    launch_worker: Py<PyAny>,
    /// The process running the server.
    server_pid: u32,
}

impl PyLauncher {
    fn call(&self, spec: &WorkerSpec) -> Result<u32, String> {
        let result = as_launch(|| self.call_python(spec));
        if std::process::id() != self.server_pid {
            // A forked worker returned from launch_worker into the engine: its copy of the
            // server must not run. (The stub tells the child to end with os._exit.)
            eprintln!(
                "daisy: worker {} of task {} returned from launch_worker in the worker process; \
                 it must end with os._exit()",
                spec.worker_id, spec.task_id
            );
            std::process::exit(1);
        }
        result
    }

    fn call_python(&self, spec: &WorkerSpec) -> Result<u32, String> {
        Python::attach(|py| {
            let basename = spec
                .log_basename
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned());
            let result = self.launch_worker.bind(py).call1((
                spec.task_id.as_str(),
                spec.worker_id,
                spec.context.to_env(),
                basename,
            ));
            match result {
                Ok(pid) => pid.extract::<u32>().map_err(|_| {
                    format!(
                        "launch_worker must return the pid of the worker process, got {}",
                        repr(&pid)
                    )
                }),
                Err(error) => {
                    let text = describe(py, &error);
                    if let Some(error) = keep_interrupt(py, error) {
                        log_exception(
                            py,
                            &error,
                            &format!(
                                "launch_worker() exception for worker {} of task {}",
                                spec.worker_id, spec.task_id
                            ),
                        );
                    }
                    Err(text)
                }
            }
        })
    }
}

impl Launcher for PyLauncher {
    fn launch(&self, spec: &WorkerSpec) -> Result<Box<dyn WorkerHandle>, LaunchError> {
        let pid = self.call(spec).map_err(|error| LaunchError::Spawn {
            program: "launch_worker".into(),
            source: error.into(),
        })?;
        let log_files = spec.log_basename.as_deref().map(log_file_paths);
        Ok(Box::new(PidHandle::new(spec.worker_id, pid, log_files)?))
    }

    fn name(&self) -> &str {
        "Python launch_worker"
    }
}

/// Passes run events to `on_event(event)`, as the classes of [`crate::events`].
struct PyObserver {
    on_event: Py<PyAny>,
}

impl Observer for PyObserver {
    fn on_event(&mut self, event: &RunEvent<'_>) {
        as_observer(|| self.deliver(event));
    }
}

impl PyObserver {
    fn deliver(&self, event: &RunEvent<'_>) {
        Python::attach(|py| {
            let result = events::to_python(py, event).and_then(|object| match object {
                Some(object) => self.on_event.bind(py).call1((object,)).map(drop),
                None => Ok(()),
            });
            if let Err(error) = result
                && let Some(error) = keep_interrupt(py, error)
            {
                log_exception(py, &error, "on_event() exception");
            }
        });
    }
}

/// Resolves when Ctrl-C was pressed (or a signal handler raised): polls Python's signal
/// handlers, and the interrupts our callbacks saw. A signal handler's exception other than
/// KeyboardInterrupt is kept in `raised` for `run` to raise after cleanup.
async fn interrupted(raised: Arc<Mutex<Option<PyErr>>>) {
    loop {
        tokio::time::sleep(SIGNAL_POLL).await;
        let stop = Python::attach(|py| {
            let error = take_interrupt().or_else(|| py.check_signals().err());
            let Some(error) = error else {
                return false;
            };
            if !error.is_instance_of::<PyKeyboardInterrupt>(py)
                && let Ok(mut slot) = raised.lock()
            {
                *slot = Some(error);
            }
            true
        });
        if stop {
            tracing::warn!("interrupted: stopping the workers");
            return;
        }
    }
}

/// Where to listen: loopback for `None`, all interfaces advertising `host` otherwise (`""`:
/// the default-route address).
fn listen(host: Option<&str>) -> Listen {
    match host {
        None => Listen::Loopback,
        Some("") => Listen::Network { host: None },
        Some(host) => Listen::Network {
            host: Some(host.to_owned()),
        },
    }
}

/// The Python exception for a run that failed.
fn run_error(py: Python<'_>, error: RunError, specs: &[Bound<'_, TaskSpec>]) -> PyErr {
    match error {
        RunError::Server(ServerError::InitCallback { task_id, source }) => {
            // Re-raise the init callback's own exception if we have it.
            let raised = specs
                .iter()
                .filter(|s| s.get().task.task_id().as_ref() == task_id.as_str())
                .find_map(|s| s.get().init_error.lock().ok().and_then(|mut e| e.take()));
            raised.unwrap_or_else(|| server_error(ServerError::InitCallback { task_id, source }))
        }
        RunError::Server(error) => server_error(error),
        RunError::Core(error) => core_error(error),
        other => {
            let _ = py;
            DaisyError::Run.new_err(other.to_string())
        }
    }
}

/// Runs the tasks (upstream tasks included) with the Rust server, GIL released; see the stub.
#[pyfunction]
#[pyo3(signature = (
    tasks, *, launch_worker, on_event = None, host = None, logdir = None, prefetch = 32,
    stall_grace = 5.0, count_all_orphans = true, tls = None, launchers = HashMap::new()
))]
#[allow(clippy::too_many_arguments)] // keyword-only arguments of a Python function
pub(crate) fn run<'py>(
    py: Python<'py>,
    tasks: Vec<Bound<'py, TaskSpec>>,
    launch_worker: Bound<'py, PyAny>,
    on_event: Option<Bound<'py, PyAny>>,
    host: Option<String>,
    logdir: Option<PathBuf>,
    prefetch: u32,
    stall_grace: f64,
    count_all_orphans: bool,
    tls: Option<bool>,
    launchers: HashMap<String, Bound<'py, PySlurmLauncher>>,
) -> PyResult<PyRunReport> {
    if !launch_worker.is_callable() {
        return Err(PyTypeError::new_err(format!(
            "launch_worker must be callable, got {}",
            repr(&launch_worker)
        )));
    }
    let on_event = on_event.filter(|f| !f.is_none());
    if let Some(f) = on_event.as_ref().filter(|f| !f.is_callable()) {
        return Err(PyTypeError::new_err(format!(
            "on_event must be callable or None, got {}",
            repr(f)
        )));
    }
    let stall_grace = Duration::try_from_secs_f64(stall_grace).map_err(|_| {
        PyValueError::new_err(format!(
            "stall_grace must be a non-negative number of seconds, got {stall_grace}"
        ))
    })?;
    let scheduler = Scheduler::new(tasks.iter().map(|t| &t.get().task), count_all_orphans)
        .map_err(core_error)?;
    let mut specs = Vec::new();
    for task in &tasks {
        TaskSpec::collect(task, &mut specs);
    }
    for spec in &specs {
        if let Ok(mut slot) = spec.get().init_error.lock() {
            *slot = None;
        }
    }
    let mut by_task = Launchers::all(Arc::new(PyLauncher {
        launch_worker: launch_worker.unbind(),
        server_pid: std::process::id(),
    }));
    for (task_id, launcher) in launchers {
        if !specs
            .iter()
            .any(|s| s.get().task.task_id().as_ref() == task_id.as_str())
        {
            return Err(PyValueError::new_err(format!(
                "launchers names the task {task_id:?}, which is not in the run"
            )));
        }
        by_task = by_task.with_task(&task_id, Arc::clone(&launcher.get().launcher) as _);
    }
    let options = ServerOptions {
        logdir,
        prefetch,
        stall_grace,
        tls,
        ..ServerOptions::default()
    };
    let observer = match on_event {
        Some(f) => {
            let observer = Box::new(PyObserver {
                on_event: f.unbind(),
            });
            // A slow `on_event` must not stall the run: it gets the events on its own thread.
            Some(Box::new(ObserverThread::spawn(observer)?) as Box<dyn Observer>)
        }
        None => None,
    };
    let server = Server::new(scheduler, by_task, options).observers(observer);
    let raised = Arc::new(Mutex::new(None));
    let result = {
        let raised = Arc::clone(&raised);
        let listen = listen(host.as_deref());
        py.detach(move || daisy::serve_on_this_thread(server, &listen, interrupted(raised)))
    };
    if let Some(error) = raised.lock().ok().and_then(|mut e| e.take()) {
        return Err(error);
    }
    let report = result.map_err(|e| run_error(py, e, &specs))?;
    Ok(PyRunReport::from(report))
}
