//! The metadata rules of `daisy-array` for Python: `ArrayMetadata`, `MetaDataFormat` (the
//! attribute names, funlib.persistence's class of that name), `ArrayLayout` (containment and
//! world-to-voxel conversion), the configured default format, and the mapping of
//! [`ArrayError`] to Python exceptions.
//!
//! `daisy.Array` builds its in-memory arrays' metadata and layout here, so the rules are those
//! of the Rust `Array` (one authority).

use daisy_array::{ArrayError, ArrayLayout, ArrayMetadata, MetadataFormat, MetadataOverrides};
use daisy_geometry::Coordinate;
use pyo3::exceptions::{
    PyFileExistsError, PyFileNotFoundError, PyIndexError, PyOSError, PyPermissionError,
    PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::convert::{coordinate_to_py, roi_from_py, roi_to_py};

/// The Python exception for an array error: funlib.persistence's classes where it has one.
///
/// - ROI, coordinate or voxel region outside the array: `IndexError`;
/// - nothing at the path: `FileNotFoundError`; an array where mode `w-` wants none:
///   `FileExistsError`;
/// - something that is not a Zarr array at the path, an unsupported dtype: `TypeError`;
/// - an existing array `prepare_ds` may not replace or update: `PermissionError`;
/// - filesystem and codec failures: `OSError`;
/// - everything else (bad metadata, ROIs off the voxel grid, a write to a read-only array,
///   bad options): `ValueError`.
pub(crate) fn array_error(error: ArrayError) -> PyErr {
    let message = error.to_string();
    match error.innermost() {
        ArrayError::RoiNotContained { .. }
        | ArrayError::CoordinateNotContained { .. }
        | ArrayError::RegionOutOfBounds { .. } => PyIndexError::new_err(message),
        ArrayError::NotFound { .. } => PyFileNotFoundError::new_err(message),
        ArrayError::AlreadyExists { .. } => PyFileExistsError::new_err(message),
        ArrayError::NotAnArray { .. }
        | ArrayError::UnsupportedDType { .. }
        | ArrayError::UnsupportedZarrDataType { .. } => PyTypeError::new_err(message),
        ArrayError::IncompatibleData { .. } | ArrayError::IncompatibleMetadata { .. } => {
            PyPermissionError::new_err(message)
        }
        ArrayError::Io { .. } | ArrayError::Zarr { .. } | ArrayError::Storage { .. } => {
            PyOSError::new_err(message)
        }
        _ => PyValueError::new_err(message),
    }
}

/// A coordinate argument (a sequence of int), for argument `what`.
pub(crate) fn coordinate_arg(values: Vec<i64>, what: &str) -> PyResult<Coordinate> {
    Coordinate::new(&values)
        .map_err(|e| PyValueError::new_err(format!("{what} {values:?} is not a coordinate: {e}")))
}

/// An optional coordinate argument.
fn optional_coordinate(values: Option<Vec<i64>>, what: &str) -> PyResult<Option<Coordinate>> {
    values.map(|v| coordinate_arg(v, what)).transpose()
}

/// The metadata arguments of `open_ds`/`prepare_ds`/`Array` (all optional).
pub(crate) fn overrides(
    offset: Option<Vec<i64>>,
    voxel_size: Option<Vec<i64>>,
    axis_names: Option<Vec<String>>,
    units: Option<Vec<String>>,
    types: Option<Vec<String>>,
) -> PyResult<MetadataOverrides> {
    Ok(MetadataOverrides {
        offset: optional_coordinate(offset, "offset")?,
        voxel_size: optional_coordinate(voxel_size, "voxel_size")?,
        axis_names,
        units,
        types,
    })
}

/// Attributes given as a JSON text (the Python side serializes them).
pub(crate) fn attrs_from_json(
    json: &str,
    what: &str,
) -> PyResult<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_str(json) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(other) => Err(PyTypeError::new_err(format!(
            "{what} must be a dict, got {other}"
        ))),
        Err(e) => Err(PyValueError::new_err(format!(
            "{what} is not valid JSON: {e}"
        ))),
    }
}

/// The complete metadata of an array: offset, voxel size and units per physical dimension,
/// axis names and types per dimension.
#[pyclass(
    name = "ArrayMetadata",
    module = "daisy._daisy",
    frozen,
    eq,
    skip_from_py_object
)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyArrayMetadata(pub(crate) ArrayMetadata);

#[pymethods]
impl PyArrayMetadata {
    /// Metadata with every field given (not checked against a shape: see `validate`).
    #[new]
    fn new(
        offset: Vec<i64>,
        voxel_size: Vec<i64>,
        axis_names: Vec<String>,
        units: Vec<String>,
        types: Vec<String>,
    ) -> PyResult<Self> {
        Ok(Self(ArrayMetadata {
            offset: coordinate_arg(offset, "offset")?,
            voxel_size: coordinate_arg(voxel_size, "voxel_size")?,
            axis_names,
            units,
            types,
        }))
    }

    /// The metadata of an array of `shape` from the given fields and funlib.persistence's
    /// defaults for the others.
    #[staticmethod]
    #[pyo3(signature = (shape, offset=None, voxel_size=None, axis_names=None, units=None, types=None, strict=false))]
    fn resolve(
        shape: Vec<u64>,
        offset: Option<Vec<i64>>,
        voxel_size: Option<Vec<i64>>,
        axis_names: Option<Vec<String>>,
        units: Option<Vec<String>>,
        types: Option<Vec<String>>,
        strict: bool,
    ) -> PyResult<Self> {
        overrides(offset, voxel_size, axis_names, units, types)?
            .resolve(&shape, strict)
            .map(Self)
            .map_err(array_error)
    }

    /// Offset in world units (physical dimensions).
    #[getter]
    fn offset<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        coordinate_to_py(py, &self.0.offset)
    }

    /// Voxel size in world units (physical dimensions).
    #[getter]
    fn voxel_size<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        coordinate_to_py(py, &self.0.voxel_size)
    }

    /// One name per dimension.
    #[getter]
    fn axis_names(&self) -> Vec<String> {
        self.0.axis_names.clone()
    }

    /// One unit per physical dimension.
    #[getter]
    fn units(&self) -> Vec<String> {
        self.0.units.clone()
    }

    /// One type per dimension.
    #[getter]
    fn types(&self) -> Vec<String> {
        self.0.types.clone()
    }

    /// The number of channel dimensions.
    #[getter]
    fn channel_dims(&self) -> usize {
        self.0.channel_dims()
    }

    /// Checks the metadata against an array of `shape` (with `strict`, also that the offset
    /// is a multiple of the voxel size); `ValueError` naming what is wrong.
    #[pyo3(signature = (shape, strict=false))]
    fn validate(&self, shape: Vec<u64>, strict: bool) -> PyResult<()> {
        self.0.validate(&shape, strict).map_err(array_error)
    }

    fn __repr__(&self) -> String {
        let m = &self.0;
        format!(
            "ArrayMetadata(offset={}, voxel_size={}, axis_names={:?}, units={:?}, types={:?})",
            m.offset, m.voxel_size, m.axis_names, m.units, m.types
        )
    }
}

/// funlib.persistence's `MetaDataFormat`: the attribute names (or `a/b/c` paths into nested
/// attributes) of the five metadata fields.
#[pyclass(
    name = "MetaDataFormat",
    module = "daisy._daisy",
    frozen,
    eq,
    hash,
    skip_from_py_object
)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct PyMetaDataFormat(pub(crate) MetadataFormat);

#[pymethods]
impl PyMetaDataFormat {
    /// The attribute names (funlib.persistence's defaults where not given).
    #[new]
    #[pyo3(signature = (offset_attr="offset".to_owned(), voxel_size_attr="voxel_size".to_owned(), axis_names_attr="axis_names".to_owned(), units_attr="units".to_owned(), types_attr="types".to_owned()))]
    fn new(
        offset_attr: String,
        voxel_size_attr: String,
        axis_names_attr: String,
        units_attr: String,
        types_attr: String,
    ) -> Self {
        Self(MetadataFormat {
            offset_attr,
            voxel_size_attr,
            axis_names_attr,
            units_attr,
            types_attr,
        })
    }

    #[getter]
    fn offset_attr(&self) -> String {
        self.0.offset_attr.clone()
    }

    #[getter]
    fn voxel_size_attr(&self) -> String {
        self.0.voxel_size_attr.clone()
    }

    #[getter]
    fn axis_names_attr(&self) -> String {
        self.0.axis_names_attr.clone()
    }

    #[getter]
    fn units_attr(&self) -> String {
        self.0.units_attr.clone()
    }

    #[getter]
    fn types_attr(&self) -> String {
        self.0.types_attr.clone()
    }

    /// The metadata of an array of `shape` whose attributes are `attrs_json` (a JSON object):
    /// the arguments where given, else what is stored (older forms included), else the
    /// defaults.
    #[pyo3(signature = (shape, attrs_json, offset=None, voxel_size=None, axis_names=None, units=None, types=None, strict=false))]
    #[allow(clippy::too_many_arguments)]
    fn parse(
        &self,
        shape: Vec<u64>,
        attrs_json: &str,
        offset: Option<Vec<i64>>,
        voxel_size: Option<Vec<i64>>,
        axis_names: Option<Vec<String>>,
        units: Option<Vec<String>>,
        types: Option<Vec<String>>,
        strict: bool,
    ) -> PyResult<PyArrayMetadata> {
        let attrs = attrs_from_json(attrs_json, "attrs")?;
        let overrides = overrides(offset, voxel_size, axis_names, units, types)?;
        self.0
            .read(&attrs, &shape, &overrides, strict)
            .map(PyArrayMetadata)
            .map_err(array_error)
    }

    /// The metadata written as attributes under these names (a JSON object).
    fn write(&self, metadata: &PyArrayMetadata) -> PyResult<String> {
        let mut attrs = serde_json::Map::new();
        self.0.write(&metadata.0, &mut attrs);
        serde_json::to_string(&attrs).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The fields, as funlib.persistence's pydantic model dumps them.
    fn model_dump<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (key, value) in self.fields() {
            dict.set_item(key, value)?;
        }
        Ok(dict)
    }

    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let values: Vec<String> = slf.get().fields().into_iter().map(|(_, v)| v).collect();
        Ok((slf.get_type().into_any(), PyTuple::new(py, values)?))
    }

    fn __repr__(&self) -> String {
        let fields: Vec<String> = self
            .fields()
            .into_iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("MetaDataFormat({})", fields.join(", "))
    }
}

impl PyMetaDataFormat {
    /// `(name, value)` of the five fields, in constructor order.
    fn fields(&self) -> [(&'static str, String); 5] {
        let f = &self.0;
        [
            ("offset_attr", f.offset_attr.clone()),
            ("voxel_size_attr", f.voxel_size_attr.clone()),
            ("axis_names_attr", f.axis_names_attr.clone()),
            ("units_attr", f.units_attr.clone()),
            ("types_attr", f.types_attr.clone()),
        ]
    }
}

/// The attribute names funlib.persistence's configuration files set (`[tool.funlib_persistence]`
/// of ./pyproject.toml, ./funlib_persistence.toml, the user's and the system's file), as a
/// dict of the `MetaDataFormat` fields; `ValueError` for a file that cannot be parsed.
#[pyfunction]
pub(crate) fn read_metadata_config<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
    let format = MetadataFormat::configured().map_err(array_error)?;
    PyMetaDataFormat(format).model_dump(py)
}

/// Where an array lies in world units, and the rules that turn ROIs and coordinates into voxel
/// regions (the Rust `ArrayLayout`).
#[pyclass(name = "ArrayLayout", module = "daisy._daisy", frozen)]
pub(crate) struct PyArrayLayout(pub(crate) ArrayLayout);

/// A voxel region as a list of `(begin, end)`.
fn region_to_py<'py>(
    py: Python<'py>,
    region: &[std::ops::Range<u64>],
) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, region.iter().map(|r| (r.start, r.end)))
}

#[pymethods]
impl PyArrayLayout {
    /// The layout of an array of `shape` with `metadata`.
    #[new]
    fn new(shape: Vec<u64>, metadata: &PyArrayMetadata) -> PyResult<Self> {
        ArrayLayout::from_metadata(&shape, &metadata.0)
            .map(Self)
            .map_err(array_error)
    }

    /// `Roi(offset, voxel_size * physical shape)`.
    #[getter]
    fn roi<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        roi_to_py(py, &self.0.roi())
    }

    /// The voxel region (every dimension, channels in full) of `roi`: `IndexError` if the
    /// array's ROI does not contain it, `ValueError` if it is off the voxel grid.
    fn voxel_region<'py>(
        &self,
        py: Python<'py>,
        roi: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let roi = roi_from_py(roi, "roi")?;
        let region = self.0.voxel_region(&roi).map_err(array_error)?;
        region_to_py(py, &region)
    }

    /// The voxel index (physical dimensions) of the voxel containing `coordinate`:
    /// `IndexError` if the array's ROI does not contain it.
    fn coordinate_index(&self, coordinate: Vec<i64>) -> PyResult<Vec<u64>> {
        let coordinate = coordinate_arg(coordinate, "coordinate")?;
        self.0.coordinate_index(&coordinate).map_err(array_error)
    }

    /// `(output shape, region in the array, region in the output)` of `to_ndarray(roi)`; the
    /// regions are None when `roi` misses the array. `ValueError` off the voxel grid.
    #[allow(clippy::type_complexity)]
    fn to_ndarray_plan<'py>(
        &self,
        py: Python<'py>,
        roi: &Bound<'py, PyAny>,
    ) -> PyResult<(
        Vec<u64>,
        Option<Bound<'py, PyList>>,
        Option<Bound<'py, PyList>>,
    )> {
        let roi = roi_from_py(roi, "roi")?;
        let plan = self.0.to_ndarray_plan(&roi).map_err(array_error)?;
        let (source, target) = match &plan.copy {
            Some(copy) => (
                Some(region_to_py(py, &copy.source)?),
                Some(region_to_py(py, &copy.target)?),
            ),
            None => (None, None),
        };
        Ok((plan.output_shape, source, target))
    }
}

/// Adds the classes and functions of this file to the module.
pub(crate) fn add_to_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyArrayMetadata>()?;
    m.add_class::<PyMetaDataFormat>()?;
    m.add_class::<PyArrayLayout>()?;
    m.add_function(wrap_pyfunction!(read_metadata_config, m)?)?;
    Ok(())
}
