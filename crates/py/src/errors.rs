//! Engine errors as Python exceptions (the stub's conventions).
//!
//! - bad arguments: `ValueError` (or `TypeError` for a wrong type), naming the argument and the
//!   value; the engine's messages already carry the bad values;
//! - a block that is not being processed: `KeyError` (daisy 1.x), naming the block;
//! - an unknown task id: `KeyError`, as the dicts of daisy 1.x raised;
//! - everything else: `RuntimeError`.

use daisy_client::ClientError;
use daisy_core::CoreError;
use daisy_geometry::GeometryError;
use daisy_server::ServerError;
use pyo3::PyErr;
use pyo3::exceptions::{PyConnectionError, PyKeyError, PyRuntimeError, PyValueError};

/// daisy 1.x's assertion text, kept at the start of the message for code that matches it.
pub(crate) const READ_MUST_CONTAIN_WRITE: &str = "Read ROI must contain write ROI.";

/// A [`CoreError`] as the Python exception the stub documents.
pub(crate) fn core_error(error: CoreError) -> PyErr {
    match &error {
        CoreError::NotProcessing { .. } | CoreError::UnknownTask { .. } => {
            PyKeyError::new_err(error.to_string())
        }
        CoreError::UnexpectedStatus {
            task_id,
            spatial_id,
            status,
        } => PyRuntimeError::new_err(format!(
            "Unexpected status for released block: {task_id}/{spatial_id} has status {status}"
        )),
        CoreError::ReadMustContainWrite { .. } => {
            PyValueError::new_err(format!("{READ_MUST_CONTAIN_WRITE} ({error})"))
        }
        CoreError::BlockFunctionFailed { .. }
        | CoreError::DoneMarkerIo { .. }
        | CoreError::DoneMarkerIdOutOfRange { .. } => PyRuntimeError::new_err(error.to_string()),
        _ => PyValueError::new_err(error.to_string()),
    }
}

/// A [`GeometryError`] met while converting the argument `what`.
pub(crate) fn geometry_error(what: &str, error: GeometryError) -> PyErr {
    PyValueError::new_err(format!("{what}: {error}"))
}

/// A [`ClientError`]: connection problems are `ConnectionError`, a bad context is `ValueError`.
pub(crate) fn client_error(error: ClientError) -> PyErr {
    match &error {
        ClientError::Connect { .. }
        | ClientError::Refused { .. }
        | ClientError::ConnectionClosed { .. } => PyConnectionError::new_err(error.to_string()),
        ClientError::Context(_) => PyValueError::new_err(error.to_string()),
        _ => PyRuntimeError::new_err(error.to_string()),
    }
}

/// A [`ServerError`] that ended a run.
pub(crate) fn server_error(error: ServerError) -> PyErr {
    match error {
        ServerError::Core(e) => core_error(e),
        other => PyRuntimeError::new_err(other.to_string()),
    }
}
