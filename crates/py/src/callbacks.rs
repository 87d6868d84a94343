//! Python callables as engine callbacks: checks and init callbacks.
//!
//! Each closure takes the GIL when called (from the scheduler inline, or from the server's
//! check threads), calls the Python function, and turns its exceptions into what the engine
//! expects. Exceptions are logged through Python's `logging` with their traceback.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use daisy_core::{Block, BoxError};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use crate::block::PyBlock;

static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Set when a callback saw a KeyboardInterrupt (Ctrl-C while Python code of ours ran): the
/// engine cannot propagate it through its callbacks, so it is kept here for the caller.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static INTERRUPT: Mutex<Option<PyErr>> = Mutex::new(None);

/// Keeps a KeyboardInterrupt raised in a callback for [`take_interrupt`]; other exceptions are
/// given back.
pub(crate) fn keep_interrupt(py: Python<'_>, error: PyErr) -> Option<PyErr> {
    if !error.is_instance_of::<PyKeyboardInterrupt>(py) {
        return Some(error);
    }
    if let Ok(mut slot) = INTERRUPT.lock() {
        slot.get_or_insert(error);
    }
    INTERRUPTED.store(true, Ordering::SeqCst);
    None
}

/// The KeyboardInterrupt a callback saw since the last call, if any.
pub(crate) fn take_interrupt() -> Option<PyErr> {
    // The hot path (every Scheduler.acquire_block): one relaxed load.
    if !INTERRUPTED.load(Ordering::Relaxed) || !INTERRUPTED.swap(false, Ordering::SeqCst) {
        return None;
    }
    INTERRUPT.lock().ok().and_then(|mut slot| slot.take())
}

/// The `daisy` logger of Python's `logging`.
fn logger(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    LOGGER
        .get_or_try_init(py, || {
            py.import("logging")?
                .call_method1("getLogger", ("daisy",))
                .map(Bound::unbind)
        })
        .map(|l| l.bind(py))
}

/// Logs `message` at ERROR on the `daisy` logger with the exception's traceback; if logging
/// itself fails, prints both to stderr.
pub(crate) fn log_exception(py: Python<'_>, error: &PyErr, message: &str) {
    let logged = (|| -> PyResult<()> {
        let traceback = error
            .traceback(py)
            .map_or_else(|| py.None().into_bound(py), Bound::into_any);
        let exc_info = (error.get_type(py), error.value(py), traceback);
        let kwargs = PyDict::new(py);
        kwargs.set_item("exc_info", exc_info)?;
        logger(py)?.call_method("error", (message,), Some(&kwargs))?;
        Ok(())
    })();
    if let Err(logging_error) = logged {
        eprintln!("{message}");
        error.clone_ref(py).print(py);
        logging_error.print(py);
    }
}

/// A pre- or post-check: `check(block) -> bool` in Python. An exception is logged as
/// `"<name>() exception for block <id>"` with its traceback and counts as False (a pre-check:
/// not done; a post-check: failed).
pub(crate) fn check_function(
    callable: Py<PyAny>,
    name: &'static str,
) -> impl Fn(&Block) -> Result<bool, BoxError> + Send + Sync + 'static {
    move |block: &Block| {
        Ok(Python::attach(|py| {
            let result = Bound::new(py, PyBlock::from_core(block.clone()))
                .and_then(|b| callable.bind(py).call1((b,)))
                .and_then(|r| r.is_truthy());
            result.unwrap_or_else(|error| {
                if let Some(error) = keep_interrupt(py, error) {
                    log_exception(
                        py,
                        &error,
                        &format!("{name}() exception for block {}", block.block_id),
                    );
                }
                false
            })
        }))
    }
}

/// Where an init callback leaves the Python exception it raised, so `run` can re-raise it.
pub(crate) type ErrorSlot = Arc<Mutex<Option<PyErr>>>;

/// An init callback: `init_callback(daisy_context: str)` in Python. An exception is kept in
/// `slot` and fails the callback with its text, which aborts the run.
pub(crate) fn init_callback(
    callable: Py<PyAny>,
    slot: ErrorSlot,
) -> impl Fn(&str) -> Result<(), BoxError> + Send + Sync + 'static {
    move |context: &str| {
        Python::attach(|py| match callable.bind(py).call1((context,)) {
            Ok(_) => Ok(()),
            Err(error) => {
                let text = describe(py, &error);
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some(error);
                }
                Err(text.into())
            }
        })
    }
}

/// `repr(exception)`, as daisy prints exceptions in its summaries.
pub(crate) fn describe(py: Python<'_>, error: &PyErr) -> String {
    error
        .value(py)
        .repr()
        .map_or_else(|_| error.to_string(), |r| r.to_string())
}
