//! ROIs and coordinates across the boundary: `funlib.geometry.Roi` / `Coordinate` on the Python
//! side, `daisy_geometry::Roi` / `Coordinate` on the Rust side.
//!
//! Python ROIs are read through their `offset` and `shape` attributes (tuples of int or None), so
//! any object shaped like a funlib Roi is accepted. Rust ROIs become funlib objects only when
//! Python asks for them.

use daisy_geometry::{Coordinate, MAX_DIMS, Roi};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt, PyTuple, PyType};

use crate::errors::{DaisyError, geometry_error};

static ROI_CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static COORDINATE_CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `funlib.geometry.Roi`.
fn roi_class(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    ROI_CLASS.import(py, "funlib.geometry", "Roi")
}

/// `funlib.geometry.Coordinate`.
fn coordinate_class(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    COORDINATE_CLASS.import(py, "funlib.geometry", "Coordinate")
}

/// The elements of a Python coordinate (an iterable of int or None), for argument `what`;
/// a value that is not such a coordinate is a `daisy.BlockError` (a `ValueError`) naming it.
fn coordinate_from_py(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Coordinate> {
    let mut values = [None; MAX_DIMS];
    let mut dims = 0;
    let mut push = |item: Bound<'_, PyAny>| -> PyResult<()> {
        let slot = values.get_mut(dims).ok_or_else(|| {
            DaisyError::Block.new_err(format!(
                "{what} has more than {MAX_DIMS} dimensions: {}",
                repr(value)
            ))
        })?;
        if !item.is_none() {
            let v = match item.extract::<i64>() {
                Ok(v) => v,
                Err(_) if item.is_instance_of::<PyInt>() => {
                    return Err(DaisyError::Block.new_err(format!(
                        "{what} must hold integers from {} to {} or None, got {}",
                        i64::MIN,
                        i64::MAX,
                        repr(value)
                    )));
                }
                Err(_) => {
                    return Err(DaisyError::Block.new_err(format!(
                        "{what} must hold integers or None, got {}",
                        repr(value)
                    )));
                }
            };
            *slot = Some(v);
        }
        dims += 1;
        Ok(())
    };
    if let Ok(tuple) = value.cast::<PyTuple>() {
        // funlib's Coordinate is a tuple: the fast path.
        for item in tuple.iter() {
            push(item)?;
        }
    } else {
        let iter = value.try_iter().map_err(|_| {
            PyTypeError::new_err(format!(
                "{what} must be a sequence of int or None, got {}",
                repr(value)
            ))
        })?;
        for item in iter {
            push(item?)?;
        }
    }
    Coordinate::from_options(&values[..dims]).map_err(|e| geometry_error(what, e))
}

/// A Rust ROI from a funlib Roi (anything with `offset` and `shape`), for argument `what`.
///
/// # Errors
///
/// `TypeError` if the object has no `offset`/`shape`, `ValueError` if they are not
/// coordinates of matching dimensions or the ROI's end overflows.
pub(crate) fn roi_from_py(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Roi> {
    let py = value.py();
    let not_a_roi = || {
        PyTypeError::new_err(format!(
            "{what} must be a Roi (funlib.geometry.Roi), got {}",
            repr(value)
        ))
    };
    if value.is_none() {
        return Err(not_a_roi());
    }
    let offset = value
        .getattr(intern!(py, "offset"))
        .map_err(|_| not_a_roi())?;
    let shape = value
        .getattr(intern!(py, "shape"))
        .map_err(|_| not_a_roi())?;
    let offset = coordinate_from_py(&offset, what)?;
    let shape = coordinate_from_py(&shape, what)?;
    Roi::new(offset, shape).map_err(|e| geometry_error(what, e))
}

/// An optional ROI argument: `None` stays `None`.
pub(crate) fn optional_roi_from_py(
    value: Option<&Bound<'_, PyAny>>,
    what: &str,
) -> PyResult<Option<Roi>> {
    match value {
        Some(v) if !v.is_none() => roi_from_py(v, what).map(Some),
        _ => Ok(None),
    }
}

/// The elements of a coordinate as a Python tuple of int or None.
fn tuple_of<'py>(py: Python<'py>, coordinate: &Coordinate) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, coordinate.to_vec())
}

/// A funlib `Roi` for a Rust ROI.
pub(crate) fn roi_to_py<'py>(py: Python<'py>, roi: &Roi) -> PyResult<Bound<'py, PyAny>> {
    let offset = tuple_of(py, &roi.offset())?;
    let shape = tuple_of(py, &roi.shape())?;
    roi_class(py)?.call1((offset, shape))
}

/// A funlib `Coordinate` for a Rust coordinate.
pub(crate) fn coordinate_to_py<'py>(
    py: Python<'py>,
    coordinate: &Coordinate,
) -> PyResult<Bound<'py, PyAny>> {
    coordinate_class(py)?.call1((tuple_of(py, coordinate)?,))
}

/// A ROI as `(offset, shape)` tuples, the form blocks are pickled in.
pub(crate) fn roi_to_tuples<'py>(py: Python<'py>, roi: &Roi) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        [tuple_of(py, &roi.offset())?, tuple_of(py, &roi.shape())?],
    )
}

/// The inverse of [`roi_to_tuples`].
pub(crate) fn roi_from_tuples(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Roi> {
    let (offset, shape): (Bound<'_, PyAny>, Bound<'_, PyAny>) = value.extract()?;
    let offset = coordinate_from_py(&offset, what)?;
    let shape = coordinate_from_py(&shape, what)?;
    Roi::new(offset, shape).map_err(|e| geometry_error(what, e))
}

/// An integer argument in `min..=max`, for argument `what`: a Python int (a bool or an object
/// with `__index__` too), or a float with an integral value, as daisy 1.x accepted.
///
/// The one rule for the integer arguments of the constructors: the message names the argument,
/// and the range when the value is out of it.
///
/// # Errors
///
/// `TypeError` naming `what` for a value that is not an integer, `ValueError` naming `what`
/// and the range for an integer outside `min..=max`.
pub(crate) fn int_in_range(
    value: &Bound<'_, PyAny>,
    what: &str,
    min: i128,
    max: i128,
) -> PyResult<i128> {
    let out_of_range = || {
        PyValueError::new_err(format!(
            "{what} must be an int from {min} to {max}, got {}",
            repr(value)
        ))
    };
    let n = if let Ok(n) = value.extract::<i64>() {
        i128::from(n)
    } else if let Ok(n) = value.extract::<i128>() {
        n
    } else if value.is_instance_of::<PyInt>() {
        return Err(out_of_range()); // beyond 128 bits
    } else if let Some(x) = value
        .cast::<PyFloat>()
        .ok()
        .map(|f| f.value())
        .filter(|x| x.is_finite() && x.fract() == 0.0)
    {
        if x < min as f64 || x > max as f64 {
            return Err(out_of_range());
        }
        #[allow(clippy::cast_possible_truncation)]
        let n = x as i128;
        n
    } else {
        return Err(PyTypeError::new_err(format!(
            "{what} must be an int, got {} of type {}",
            repr(value),
            type_name(value)
        )));
    };
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(out_of_range())
    }
}

/// [`int_in_range`] converted to `T`, for `min..=max` within `T`.
///
/// # Errors
///
/// Those of [`int_in_range`].
pub(crate) fn int_of<T>(value: &Bound<'_, PyAny>, what: &str, min: T, max: T) -> PyResult<T>
where
    T: TryFrom<i128> + Into<i128>,
{
    let n = int_in_range(value, what, min.into(), max.into())?;
    // In range by construction.
    T::try_from(n).map_err(|_| PyValueError::new_err(format!("{what}: {n} is out of range")))
}

/// `repr(value)`, or a placeholder if that fails; for error messages.
pub(crate) fn repr(value: &Bound<'_, PyAny>) -> String {
    value.repr().map_or_else(
        |_| format!("<{} object>", type_name(value)),
        |r| r.to_string(),
    )
}

/// The name of a value's type; for error messages.
pub(crate) fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// Whether `value` is a Python `int` (not a bool).
pub(crate) fn is_int(value: &Bound<'_, PyAny>) -> bool {
    value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>()
}
