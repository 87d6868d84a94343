//! daisy's grid helpers (`daisy.blocks.expand_roi_to_grid` and friends): ROIs grown to the write
//! grid of a task, computed by the engine's [`Tiling`] (docs/semantics.md#tiling).
//!
//! The argument checks keep the messages of the Python helpers they replace: the function's
//! name, the argument's name and the value; a bad value is a `daisy.BlockError` (a
//! `ValueError`).

use daisy_core::Tiling;
use daisy_geometry::{Coordinate, Roi};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::convert::{repr, roi_from_py, roi_to_py, type_name};
use crate::errors::{DaisyError, core_error};

/// A bounded ROI argument `name` of `function`, with the helpers' messages.
fn bounded_roi(function: &str, name: &str, value: &Bound<'_, PyAny>) -> PyResult<Roi> {
    let roi = roi_argument(function, name, value)?;
    if roi.is_unbounded() || !roi.offset().is_bounded() {
        return Err(DaisyError::Block.new_err(format!(
            "{function}(): {name} must be bounded, got {}",
            value.str()?
        )));
    }
    Ok(roi)
}

/// A ROI argument: a `funlib.geometry.Roi`, else `TypeError`.
fn roi_argument(function: &str, name: &str, value: &Bound<'_, PyAny>) -> PyResult<Roi> {
    let class = value.py().import("funlib.geometry")?.getattr("Roi")?;
    if !value.is_instance(&class)? {
        return Err(PyTypeError::new_err(format!(
            "{function}(): {name} must be a funlib.geometry.Roi (daisy.Roi), got {} of type {}",
            repr(value),
            type_name(value)
        )));
    }
    roi_from_py(value, name)
}

/// `ValueError` unless all ROIs have the same number of dimensions.
fn same_dims(function: &str, rois: &[(&str, &Roi)]) -> PyResult<()> {
    let dims = rois[0].1.dims();
    if rois.iter().all(|(_, roi)| roi.dims() == dims) {
        return Ok(());
    }
    let listed: Vec<String> = rois
        .iter()
        .map(|(name, roi)| format!("{name} has {}", roi.dims()))
        .collect();
    Err(DaisyError::Block.new_err(format!(
        "{function}(): all ROIs must have the same dimensions, but {}",
        listed.join(", ")
    )))
}

/// The write shape, which must be positive in every dimension.
fn write_step(function: &str, write_roi: &Roi, value: &Bound<'_, PyAny>) -> PyResult<Coordinate> {
    let shape = write_roi.shape();
    if shape.iter().any(|s| s.is_some_and(|s| s <= 0)) {
        return Err(DaisyError::Block.new_err(format!(
            "{function}(): write_roi must have a positive shape in every dimension, got {}",
            value.str()?
        )));
    }
    Ok(shape)
}

/// The checked arguments of `expand_roi_to_grid` and `expand_request_roi_to_grid`.
fn task_grid_arguments(
    function: &str,
    sub_roi: &Bound<'_, PyAny>,
    total_roi: &Bound<'_, PyAny>,
    read_roi: &Bound<'_, PyAny>,
    write_roi: &Bound<'_, PyAny>,
) -> PyResult<(Roi, Roi, Roi, Roi)> {
    let sub = bounded_roi(function, "sub_roi", sub_roi)?;
    let total = bounded_roi(function, "total_roi", total_roi)?;
    let read = bounded_roi(function, "read_roi", read_roi)?;
    let write = bounded_roi(function, "write_roi", write_roi)?;
    same_dims(
        function,
        &[
            ("sub_roi", &sub),
            ("total_roi", &total),
            ("read_roi", &read),
            ("write_roi", &write),
        ],
    )?;
    write_step(function, &write, write_roi)?;
    Ok((sub, total, read, write))
}

/// `sub_roi` grown to the write grid of a task with these ROIs.
fn expand(sub: &Roi, total: &Roi, read: &Roi, write: &Roi) -> PyResult<Roi> {
    let origin = Tiling::grid_origin(total, read, write).map_err(core_error)?;
    Tiling::expand_to_grid_at(sub, &origin, &write.shape()).map_err(core_error)
}

/// `sub_roi` grown to the write grid of a task (see `daisy.blocks.expand_roi_to_grid`).
#[pyfunction]
pub(crate) fn expand_roi_to_grid<'py>(
    sub_roi: &Bound<'py, PyAny>,
    total_roi: &Bound<'py, PyAny>,
    read_roi: &Bound<'py, PyAny>,
    write_roi: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let (sub, total, read, write) = task_grid_arguments(
        "expand_roi_to_grid",
        sub_roi,
        total_roi,
        read_roi,
        write_roi,
    )?;
    roi_to_py(sub_roi.py(), &expand(&sub, &total, &read, &write)?)
}

/// `expand_roi_to_grid`, then grown by the read context of the blocks.
#[pyfunction]
pub(crate) fn expand_request_roi_to_grid<'py>(
    req_roi: &Bound<'py, PyAny>,
    total_roi: &Bound<'py, PyAny>,
    read_roi: &Bound<'py, PyAny>,
    write_roi: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let (sub, total, read, write) = task_grid_arguments(
        "expand_request_roi_to_grid",
        req_roi,
        total_roi,
        read_roi,
        write_roi,
    )?;
    let expanded = expand(&sub, &total, &read, &write)?;
    let (ul, lr) = Tiling::context_of(&read, &write).map_err(core_error)?;
    let grown = expanded.grow(&ul, &lr).map_err(|e| core_error(e.into()))?;
    roi_to_py(req_roi.py(), &grown)
}

/// `roi` grown to the grid of `write_roi.shape` anchored at 0.
#[pyfunction]
pub(crate) fn expand_write_roi_to_grid<'py>(
    roi: &Bound<'py, PyAny>,
    write_roi: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let function = "expand_write_roi_to_grid";
    let given = bounded_roi(function, "roi", roi)?;
    let write = roi_argument(function, "write_roi", write_roi)?;
    same_dims(function, &[("roi", &given), ("write_roi", &write)])?;
    if !write.shape().is_bounded() {
        return Err(DaisyError::Block.new_err(format!(
            "{function}(): write_roi must have a bounded shape, got {}",
            write_roi.str()?
        )));
    }
    let step = write_step(function, &write, write_roi)?;
    let origin = Coordinate::filled(given.dims(), 0).map_err(|e| core_error(e.into()))?;
    let grown = Tiling::expand_to_grid_at(&given, &origin, &step).map_err(core_error)?;
    roi_to_py(roi.py(), &grown)
}
