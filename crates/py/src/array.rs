//! `ZarrArray`: one Zarr array on disk (the Rust [`daisy_array::Array`]), for `daisy.Array`.
//!
//! Voxels cross the boundary as flat numpy `uint8` arrays holding the elements in C order and
//! native byte order: Python allocates the output (`np.empty(shape, dtype)`) and passes a
//! `uint8` view of it, which the engine fills in place; writes pass a view of a contiguous
//! array. No copy is made at the boundary, and every read and write runs with the GIL
//! released. The handle belongs to the process that opened it: `daisy.Array` opens a new one
//! after a fork (see python/daisy/array.py).

use std::ops::Range;

use daisy_array::{
    Array, Compression, DEFAULT_CACHE_BYTES, DType, Mode, OpenOptions, PrepareRequest, ZarrFormat,
};
use numpy::{PyReadonlyArray1, PyReadwriteArray1};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::array_metadata::{
    PyArrayLayout, PyArrayMetadata, PyMetaDataFormat, array_error, attrs_from_json, overrides,
};

/// One Zarr array (v2 or v3) on a filesystem, read and written in voxels.
#[pyclass(name = "ZarrArray", module = "daisy._daisy", frozen)]
pub(crate) struct PyZarrArray {
    /// The array.
    array: Array,
}

/// A mode string as a [`Mode`] (`ValueError` naming it).
fn mode_arg(mode: &str) -> PyResult<Mode> {
    mode.parse::<Mode>().map_err(array_error)
}

/// A voxel region argument: one `(begin, end)` per dimension.
fn region_arg(region: Vec<(u64, u64)>) -> PyResult<Vec<Range<u64>>> {
    region
        .into_iter()
        .map(|(b, e)| {
            if b <= e {
                Ok(b..e)
            } else {
                Err(PyValueError::new_err(format!(
                    "voxel range ({b}, {e}) ends before it begins"
                )))
            }
        })
        .collect()
}

/// The compression of a new array from a numcodecs-style configuration (`{"id": "zstd",
/// "level": 3}`, `{"id": "gzip", "level": 5}`, `{"id": "blosc", "cname": "lz4", "clevel": 5,
/// "shuffle": 1}`; the JSON `null` for none), or the default (zstd level 0).
fn compression_arg(config: Option<&str>) -> PyResult<Compression> {
    let Some(config) = config else {
        return Ok(Compression::Default);
    };
    let value: serde_json::Value = serde_json::from_str(config)
        .map_err(|e| PyValueError::new_err(format!("compressor {config} is not JSON: {e}")))?;
    if value.is_null() {
        return Ok(Compression::None);
    }
    let int = |key: &str, default: i64| -> PyResult<i64> {
        match value.get(key) {
            None | Some(serde_json::Value::Null) => Ok(default),
            Some(v) => v.as_i64().ok_or_else(|| {
                PyValueError::new_err(format!("compressor {config}: {key} must be an integer"))
            }),
        }
    };
    let out_of_range =
        |key: &str| PyValueError::new_err(format!("compressor {config}: {key} is out of range"));
    match value.get("id").and_then(serde_json::Value::as_str) {
        Some("zstd") => Ok(Compression::Zstd {
            level: i32::try_from(int("level", 0)?).map_err(|_| out_of_range("level"))?,
        }),
        Some("gzip") => Ok(Compression::Gzip {
            level: u32::try_from(int("level", 1)?).map_err(|_| out_of_range("level"))?,
        }),
        Some("blosc") => Ok(Compression::Blosc {
            cname: value
                .get("cname")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("lz4")
                .to_owned(),
            clevel: u8::try_from(int("clevel", 5)?).map_err(|_| out_of_range("clevel"))?,
            shuffle: u8::try_from(int("shuffle", 1)?).map_err(|_| out_of_range("shuffle"))?,
        }),
        _ => Err(PyValueError::new_err(format!(
            "compressor {config} is not supported: use zstd, gzip, blosc or None"
        ))),
    }
}

#[pymethods]
impl PyZarrArray {
    /// Opens the array at `path`; the metadata arguments override what its attributes say.
    #[staticmethod]
    #[pyo3(signature = (path, mode="r", metadata_format=None, offset=None, voxel_size=None, axis_names=None, units=None, types=None, strict_metadata=false, cache_bytes=DEFAULT_CACHE_BYTES))]
    #[allow(clippy::too_many_arguments)]
    fn open(
        py: Python<'_>,
        path: std::path::PathBuf,
        mode: &str,
        metadata_format: Option<&PyMetaDataFormat>,
        offset: Option<Vec<i64>>,
        voxel_size: Option<Vec<i64>>,
        axis_names: Option<Vec<String>>,
        units: Option<Vec<String>>,
        types: Option<Vec<String>>,
        strict_metadata: bool,
        cache_bytes: usize,
    ) -> PyResult<Self> {
        let options = OpenOptions {
            mode: mode_arg(mode)?,
            format: metadata_format.map(|f| f.0.clone()).unwrap_or_default(),
            overrides: overrides(offset, voxel_size, axis_names, units, types)?,
            cache_bytes,
            strict_metadata,
        };
        let array = py
            .detach(|| Array::open(&path, &options).map_err(Box::new))
            .map_err(|e| array_error(*e))?;
        Ok(Self { array })
    }

    /// funlib.persistence's `prepare_ds`: creates the array, or opens, updates or recreates
    /// the one at `path` as `mode` and its compatibility decide.
    #[staticmethod]
    #[pyo3(signature = (path, shape, dtype, mode="a", offset=None, voxel_size=None, axis_names=None, units=None, types=None, chunk_shape=None, custom_metadata=None, metadata_format=None, zarr_format=3, compressor=None, cache_bytes=DEFAULT_CACHE_BYTES))]
    #[allow(clippy::too_many_arguments)]
    fn prepare(
        py: Python<'_>,
        path: std::path::PathBuf,
        shape: Vec<u64>,
        dtype: &str,
        mode: &str,
        offset: Option<Vec<i64>>,
        voxel_size: Option<Vec<i64>>,
        axis_names: Option<Vec<String>>,
        units: Option<Vec<String>>,
        types: Option<Vec<String>>,
        chunk_shape: Option<Vec<u64>>,
        custom_metadata: Option<&str>,
        metadata_format: Option<&PyMetaDataFormat>,
        zarr_format: u8,
        compressor: Option<&str>,
        cache_bytes: usize,
    ) -> PyResult<Self> {
        let dtype: DType = dtype.parse().map_err(array_error)?;
        let mut request = PrepareRequest::new(shape, dtype);
        request.chunk_shape = chunk_shape;
        request.metadata = overrides(offset, voxel_size, axis_names, units, types)?;
        if let Some(custom) = custom_metadata {
            request.custom_metadata = attrs_from_json(custom, "custom_metadata")?;
        }
        request.mode = mode_arg(mode)?;
        request.format = metadata_format.map(|f| f.0.clone()).unwrap_or_default();
        request.zarr_format = ZarrFormat::try_from(zarr_format).map_err(array_error)?;
        request.compression = compression_arg(compressor)?;
        request.cache_bytes = cache_bytes;
        let array = py
            .detach(|| Array::prepare(&path, &request).map_err(Box::new))
            .map_err(|e| array_error(*e))?;
        Ok(Self { array })
    }

    /// The array's path.
    #[getter]
    fn path(&self) -> String {
        self.array.path().to_string_lossy().into_owned()
    }

    /// Shape in voxels, every dimension.
    #[getter]
    fn shape(&self) -> Vec<u64> {
        self.array.shape().to_vec()
    }

    /// Chunk shape in voxels, every dimension.
    #[getter]
    fn chunk_shape(&self) -> Vec<u64> {
        self.array.chunk_shape().to_vec()
    }

    /// The numpy name of the element type (`"uint8"`, `"float32"`, ...).
    #[getter]
    fn dtype(&self) -> &'static str {
        self.array.dtype().name()
    }

    /// The metadata (attributes, overridden by the open arguments).
    #[getter]
    fn metadata(&self) -> PyArrayMetadata {
        PyArrayMetadata(self.array.metadata().clone())
    }

    /// The layout (the ROI and its rules).
    #[getter]
    fn layout(&self) -> PyArrayLayout {
        PyArrayLayout(self.array.layout().clone())
    }

    /// Whether the array was opened for writing.
    #[getter]
    fn is_writeable(&self) -> bool {
        self.array.is_writeable()
    }

    /// The stored attributes as a JSON object.
    fn attrs_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.array.attrs()).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Merges `attrs_json` (a JSON object) into the stored attributes (its keys replace
    /// stored values; other stored keys stay).
    fn set_attrs_json(&self, py: Python<'_>, attrs_json: &str) -> PyResult<()> {
        let attrs = attrs_from_json(attrs_json, "attrs")?;
        py.detach(|| self.array.set_attrs(&attrs).map_err(Box::new))
            .map_err(|e| array_error(*e))
    }

    /// Removes the stored attribute `key`; whether it was there.
    fn remove_attr(&self, py: Python<'_>, key: &str) -> PyResult<bool> {
        py.detach(|| self.array.remove_attr(key).map_err(Box::new))
            .map_err(|e| array_error(*e))
    }

    /// Reads the voxel `region` (one `(begin, end)` per dimension) into `out`, a flat uint8
    /// view of a C-contiguous array of the array's dtype and the region's shape.
    fn read_voxels(
        &self,
        py: Python<'_>,
        region: Vec<(u64, u64)>,
        mut out: PyReadwriteArray1<'_, u8>,
    ) -> PyResult<()> {
        let region = region_arg(region)?;
        let out = out
            .as_slice_mut()
            .map_err(|_| PyTypeError::new_err("out must be a contiguous uint8 array"))?;
        py.detach(|| self.array.read_voxels_into(&region, out).map_err(Box::new))
            .map_err(|e| array_error(*e))
    }

    /// Writes `data` (a flat uint8 view of a C-contiguous array of the array's dtype and the
    /// region's shape) to the voxel `region`.
    fn write_voxels(
        &self,
        py: Python<'_>,
        region: Vec<(u64, u64)>,
        data: PyReadonlyArray1<'_, u8>,
    ) -> PyResult<()> {
        let region = region_arg(region)?;
        let data = data
            .as_slice()
            .map_err(|_| PyTypeError::new_err("data must be a contiguous uint8 array"))?;
        py.detach(|| self.array.write_voxels(&region, data).map_err(Box::new))
            .map_err(|e| array_error(*e))
    }

    /// The I/O counters of this handle: reads, writes, chunks decoded, chunk cache hits,
    /// chunks missing (never written: fill value), chunks encoded, bytes read and written,
    /// bytes the cache holds.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.array.stats();
        let dict = PyDict::new(py);
        dict.set_item("reads", s.reads)?;
        dict.set_item("writes", s.writes)?;
        dict.set_item("chunks_decoded", s.chunks_decoded)?;
        dict.set_item("chunk_cache_hits", s.chunk_cache_hits)?;
        dict.set_item("chunks_missing", s.chunks_missing)?;
        dict.set_item("chunks_encoded", s.chunks_encoded)?;
        dict.set_item("cached_bytes", s.cached_bytes)?;
        dict.set_item("bytes_read", s.bytes_read)?;
        dict.set_item("bytes_written", s.bytes_written)?;
        Ok(dict)
    }

    fn __repr__(&self) -> String {
        format!(
            "ZarrArray({}, shape={:?}, dtype={})",
            self.array.path().display(),
            self.array.shape(),
            self.array.dtype().name()
        )
    }
}

/// Adds `ZarrArray` and the default cache size to the module.
pub(crate) fn add_to_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyZarrArray>()?;
    m.add("DEFAULT_CACHE_BYTES", DEFAULT_CACHE_BYTES)?;
    Ok(())
}
