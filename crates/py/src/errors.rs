//! Engine errors as Python exceptions: the one place that maps them.
//!
//! The classes are daisy's exception hierarchy, defined once in `daisy.errors` (a `DaisyError`
//! base; each class also derives from the builtin daisy 1.x raised, e.g. `TaskError` is a
//! `ValueError`), and imported from there on first use. Per error:
//!
//! - a task that is not valid (id, ROIs, shapes, fit, counts, timeout): `TaskError`
//!   (`ValueError`); read ROI not containing the write ROI: `RoiContainmentError` (also an
//!   `AssertionError`, with daisy 1.x's text first); duplicate ids, cycles: `TaskGraphError`;
//! - an argument of the wrong type: `TaskTypeError` (`TypeError`);
//! - a block or ROI the engine cannot place: `BlockError` (`ValueError`);
//! - an unknown task id: `UnknownTaskError`; a released block that is not out:
//!   `BlockNotProcessingError` (both `KeyError`); any other status: `BlockStatusError`
//!   (`RuntimeError`);
//! - done markers: I/O `DoneMarkerError` (`OSError`, with `errno` when the OS gave one), a
//!   marker of another task or layout, or a corrupt one, `DoneMarkerMismatchError` (`ValueError`);
//! - a run that could not start or had to stop: `RunError` (`RuntimeError`);
//! - the worker client: `ClientError` (`ConnectionError`), a malformed context `ContextError`
//!   (`ValueError`);
//! - graph stores: bad input (a ROI of other dimensions, an unknown attribute, a value of the
//!   wrong type, an id out of range) `GraphError` (`ValueError`); metadata or a schema that
//!   differs from what was asked for `GraphMetadataError` (also an `AssertionError`, as
//!   funlib.persistence asserted); an edge whose node is missing `MissingNodeError` (also a
//!   `KeyError`); a read-only store, one without a graph, or a server or file that failed
//!   `GraphStoreError` (`RuntimeError`).

use daisy_client::ClientError;
use daisy_core::{CoreError, SharedIoError};
use daisy_geometry::GeometryError;
use daisy_server::ServerError;
use pyo3::PyErr;
use pyo3::PyErrArguments;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use std::io;

/// daisy 1.x's assertion text, kept at the start of the message for code that matches it.
pub(crate) const READ_MUST_CONTAIN_WRITE: &str = "Read ROI must contain write ROI.";

/// A class of `daisy.errors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DaisyError {
    /// `TaskError(DaisyError, ValueError)`.
    Task,
    /// `RoiContainmentError(TaskError, AssertionError)`.
    RoiContainment,
    /// `TaskGraphError(TaskError)`.
    TaskGraph,
    /// `TaskTypeError(DaisyError, TypeError)`.
    TaskType,
    /// `BlockError(DaisyError, ValueError)`.
    Block,
    /// `UnknownTaskError(DaisyError, KeyError)`.
    UnknownTask,
    /// `BlockNotProcessingError(DaisyError, KeyError)`.
    BlockNotProcessing,
    /// `BlockStatusError(DaisyError, RuntimeError)`.
    BlockStatus,
    /// `DoneMarkerError(DaisyError, OSError)`.
    DoneMarker,
    /// `DoneMarkerMismatchError(DaisyError, ValueError)`.
    DoneMarkerMismatch,
    /// `RunError(DaisyError, RuntimeError)`.
    Run,
    /// `ClientError(DaisyError, ConnectionError)`.
    Client,
    /// `ContextError(DaisyError, ValueError)`.
    Context,
    /// `GraphError(DaisyError, ValueError)`.
    Graph,
    /// `GraphMetadataError(GraphError, AssertionError)`.
    GraphMetadataMismatch,
    /// `MissingNodeError(GraphError, KeyError)`.
    GraphMissingNode,
    /// `GraphStoreError(DaisyError, RuntimeError)`.
    GraphStore,
}

/// The number of classes, for the cache.
const CLASSES: usize = 17;

/// The classes, imported on first use.
static CLASS_CACHE: [PyOnceLock<Py<PyType>>; CLASSES] = [const { PyOnceLock::new() }; CLASSES];

impl DaisyError {
    /// The class name in `daisy.errors`.
    fn name(self) -> &'static str {
        match self {
            Self::Task => "TaskError",
            Self::RoiContainment => "RoiContainmentError",
            Self::TaskGraph => "TaskGraphError",
            Self::TaskType => "TaskTypeError",
            Self::Block => "BlockError",
            Self::UnknownTask => "UnknownTaskError",
            Self::BlockNotProcessing => "BlockNotProcessingError",
            Self::BlockStatus => "BlockStatusError",
            Self::DoneMarker => "DoneMarkerError",
            Self::DoneMarkerMismatch => "DoneMarkerMismatchError",
            Self::Run => "RunError",
            Self::Client => "ClientError",
            Self::Context => "ContextError",
            Self::Graph => "GraphError",
            Self::GraphMetadataMismatch => "GraphMetadataError",
            Self::GraphMissingNode => "MissingNodeError",
            Self::GraphStore => "GraphStoreError",
        }
    }

    /// The exception of this class with these constructor arguments.
    pub(crate) fn with_args<A: PyErrArguments + Send + Sync + 'static>(self, args: A) -> PyErr {
        Python::attach(|py| {
            match CLASS_CACHE[self as usize].import(py, "daisy.errors", self.name()) {
                Ok(class) => PyErr::from_type(class.clone(), args),
                // Only if daisy.errors cannot be imported: that error says why.
                Err(error) => error,
            }
        })
    }

    /// The exception of this class with a message.
    pub(crate) fn new_err(self, message: impl Into<String>) -> PyErr {
        self.with_args((message.into(),))
    }
}

/// The class of a [`CoreError`].
fn core_class(error: &CoreError) -> DaisyError {
    match error {
        CoreError::ReadMustContainWrite { .. } => DaisyError::RoiContainment,
        CoreError::DuplicateTaskId { .. } | CoreError::TaskCycle { .. } => DaisyError::TaskGraph,
        CoreError::DimensionMismatch { what, .. } if *what == "upstream task" => {
            DaisyError::TaskGraph
        }
        CoreError::UnknownUpstream { .. } => DaisyError::TaskGraph,
        CoreError::Geometry(_)
        | CoreError::NotOnGrid { .. }
        | CoreError::BlockIdOverflow { .. }
        | CoreError::NoBlockId { .. } => DaisyError::Block,
        CoreError::UnknownTask { .. } => DaisyError::UnknownTask,
        CoreError::NotProcessing { .. } => DaisyError::BlockNotProcessing,
        CoreError::UnexpectedStatus { .. } => DaisyError::BlockStatus,
        CoreError::DoneMarkerIo { .. } => DaisyError::DoneMarker,
        CoreError::DoneMarkerLayoutMismatch { .. }
        | CoreError::DoneMarkerShapeMismatch { .. }
        | CoreError::DoneMarkerOwnedByAnotherTask { .. }
        | CoreError::DoneMarkerCorrupt { .. }
        | CoreError::DoneMarkerInvalid { .. } => DaisyError::DoneMarkerMismatch,
        CoreError::BlockFunctionFailed { .. } | CoreError::DoneMarkerIdOutOfRange { .. } => {
            DaisyError::Run
        }
        // The task's definition: ids, ROIs, shapes, fit, grid size, totals, timeouts, and any
        // variant added later.
        _ => DaisyError::Task,
    }
}

/// The io error an error was caused by, if any.
fn io_source<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io);
        }
        if let Some(io) = e.downcast_ref::<SharedIoError>() {
            return Some(io.io_error());
        }
        current = e.source();
    }
    None
}

/// A [`CoreError`] as the `daisy.errors` exception it is documented to be.
pub(crate) fn core_error(error: CoreError) -> PyErr {
    let class = core_class(&error);
    match class {
        DaisyError::RoiContainment => class.new_err(format!("{READ_MUST_CONTAIN_WRITE} ({error})")),
        DaisyError::BlockStatus => {
            if let CoreError::UnexpectedStatus {
                task_id,
                spatial_id,
                status,
            } = &error
            {
                // daisy 1.x's text.
                return class.new_err(format!(
                    "Unexpected status for released block: {task_id}/{spatial_id} has status \
                     {status}"
                ));
            }
            class.new_err(error.to_string())
        }
        DaisyError::DoneMarker => {
            match io_source(&error).and_then(io::Error::raw_os_error) {
                // OSError(errno, strerror): `errno` and `strerror` are set.
                Some(errno) => class.with_args((errno, error.to_string())),
                None => class.new_err(error.to_string()),
            }
        }
        _ => class.new_err(error.to_string()),
    }
}

/// A [`GeometryError`] met while converting the argument `what`.
pub(crate) fn geometry_error(what: &str, error: GeometryError) -> PyErr {
    DaisyError::Block.new_err(format!("{what}: {error}"))
}

/// A bad value for the task argument `what` (the message names it and the value).
pub(crate) fn task_value_error(message: impl Into<String>) -> PyErr {
    DaisyError::Task.new_err(message)
}

/// A task argument of the wrong type (the message names it and the value).
pub(crate) fn task_type_error(message: impl Into<String>) -> PyErr {
    DaisyError::TaskType.new_err(message)
}

/// A task id that the scheduler or graph does not know.
pub(crate) fn unknown_task(task_id: &str) -> PyErr {
    core_error(CoreError::UnknownTask {
        task_id: task_id.to_owned(),
    })
}

/// A [`ClientError`]: a malformed context is `ContextError`, using the client inside an async
/// runtime `RunError`, everything else about the connection `ClientError`.
pub(crate) fn client_error(error: ClientError) -> PyErr {
    match &error {
        ClientError::Context(_) => DaisyError::Context.new_err(error.to_string()),
        ClientError::InsideRuntime => DaisyError::Run.new_err(error.to_string()),
        _ => DaisyError::Client.new_err(error.to_string()),
    }
}

/// A [`ServerError`] that ended a run: the scheduler's own errors as [`core_error`], the rest
/// `RunError`.
pub(crate) fn server_error(error: ServerError) -> PyErr {
    match error {
        ServerError::Core(e) => core_error(e),
        other => DaisyError::Run.new_err(other.to_string()),
    }
}
