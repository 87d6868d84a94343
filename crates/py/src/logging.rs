//! The engine's log records in Python's `logging`, under `daisy.*` logger names.
//!
//! The engine logs through `tracing`; without a subscriber its events go to the `log` facade,
//! and from there through [`EngineLogger`] to pyo3-log, which hands them to Python's `logging`
//! (it caches the Python logger objects and looks their levels up live, so
//! `logging.getLogger("daisy").setLevel(...)` takes effect at once). A record's target (the Rust
//! module that logged it) becomes its logger name:
//!
//! - `daisy_<crate>::<module>` (every engine crate): `daisy.<crate>.<module>`, e.g.
//!   `daisy_server::run` logs as `daisy.server.run`, `daisy_launch::pid` as `daisy.launch.pid`;
//! - `daisy::<module>` (the facade crate) stays `daisy.<module>`;
//! - `_daisy::<module>` (this extension module, the crate `daisy-py`): `daisy.py.<module>`;
//! - anything else (a dependency such as `tokio`): `daisy.engine.<target>`.
//!
//! So every record of the engine is under the `daisy` logger.

use std::borrow::Cow;

use log::{LevelFilter, Log, Metadata, Record};
use pyo3::prelude::*;

use crate::callbacks::keep_interrupt;

/// The `log` logger of the extension module: pyo3-log with targets renamed into `daisy.*`.
struct EngineLogger {
    /// The logger that forwards to Python.
    inner: pyo3_log::Logger,
}

/// The `log` target under which a record of `target` reaches pyo3-log (`::` becomes `.` there).
fn python_target(target: &str) -> Cow<'_, str> {
    let (head, rest) = match target.split_once("::") {
        Some((head, rest)) => (head, Some(rest)),
        None => (target, None),
    };
    let join = |base: &str| match rest {
        Some(rest) => Cow::Owned(format!("{base}::{rest}")),
        None => Cow::Owned(base.to_owned()),
    };
    if head == "daisy" {
        return Cow::Borrowed(target);
    }
    if head == "_daisy" {
        return join("daisy::py");
    }
    match head.strip_prefix("daisy_") {
        Some(name) if !name.is_empty() => join(&format!("daisy::{name}")),
        _ => Cow::Owned(format!("daisy::engine::{target}")),
    }
}

impl Log for EngineLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let target = python_target(metadata.target());
        self.inner.enabled(
            &Metadata::builder()
                .level(metadata.level())
                .target(&target)
                .build(),
        )
    }

    fn log(&self, record: &Record<'_>) {
        let target = python_target(record.target());
        let record = Record::builder()
            .level(record.level())
            .target(&target)
            .args(*record.args())
            .module_path(record.module_path())
            .file(record.file())
            .line(record.line())
            .build();
        if !self.inner.enabled(record.metadata()) {
            return;
        }
        Python::attach(|py| {
            // Python code runs here, on whichever thread logged: on the main thread, Python
            // runs its signal handlers in it, so Ctrl-C can raise KeyboardInterrupt inside
            // `logging`. pyo3-log leaves such an exception set; it is kept for the run (which
            // polls `take_interrupt`) instead of being lost, and an exception that was set
            // before the record is set again afterwards.
            let earlier = PyErr::take(py);
            self.inner.log(&record);
            if let Some(error) = PyErr::take(py) {
                // Any other exception of `logging` itself is dropped, as pyo3-log would.
                let _ = keep_interrupt(py, error);
            }
            if let Some(earlier) = earlier {
                earlier.restore(py);
            }
        });
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Installs the engine's logger (records up to DEBUG; Python's levels decide the rest).
///
/// Does nothing if a `log` logger is already installed (e.g. by a second interpreter: that
/// one is kept) or if Python's `logging` cannot be imported.
pub(crate) fn install(py: Python<'_>) {
    let Ok(logger) = pyo3_log::Logger::new(py, pyo3_log::Caching::Loggers) else {
        return;
    };
    let logger = EngineLogger {
        inner: logger.filter(LevelFilter::Debug),
    };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(LevelFilter::Debug);
    }
}
