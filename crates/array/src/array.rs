//! [`Array`]: one Zarr array (v2 or v3) on a filesystem store with daisy metadata, read and
//! written by ROIs in world units.

use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use daisy_geometry::Roi;
use serde_json::{Map, Value};
use zarrs::array::{ArrayBytes, ArrayMetadata as ZarrMetadata, ArrayShardedExt};

use crate::chunk_cache::ChunkCache;
use crate::chunk_io::{ArrayStats, ChunkIo, Counters};
use crate::dtype::{DType, Element};
use crate::error::ArrayError;
use crate::layout::{ArrayLayout, ToNdarrayPlan};
use crate::metadata::ArrayMetadata;
use crate::metadata_format::MetadataFormat;
use crate::options::{CreateOptions, Mode, OpenOptions, ZarrFormat};
use crate::prepare::{self, ExistingArray, PrepareDecision, PrepareRequest};
use crate::store::CountingStore;
use crate::subset::{self, Placement};
use crate::zarr_node::{
    ZarrArray, check_is_array, is_zarr_node, metadata_options, new_metadata, open_zarr,
};

/// One Zarr array on disk, with daisy metadata, addressed by [`Roi`]s in world units.
///
/// Opened with [`Array::open`], made with [`Array::create`] or [`Array::prepare`]. Reads and
/// writes go chunk by chunk: each call touches every chunk it needs once, decodes or encodes the
/// chunks in parallel on a per-process thread pool (safe across `fork`), and keeps recently decoded
/// chunks in a bounded cache ([`OpenOptions::cache_bytes`]). A write that covers whole chunks
/// never reads them.
///
/// Element access comes in two flavours: typed ([`Array::read`], [`Array::write`] with an
/// [`Element`] type that must match the array's dtype) and bytes ([`Array::read_into`],
/// [`Array::write_bytes`]: any dtype, C order, native byte order, lengths checked).
///
/// ```
/// use daisy_array::{Array, CreateOptions, DType};
/// use daisy_geometry::Roi;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("a.zarr");
/// let mut options = CreateOptions::new(vec![20, 20], DType::UInt8);
/// options.chunk_shape = Some(vec![8, 8]);
/// let array = Array::create(&path, &options).unwrap();
/// let roi = Roi::from_values(&[4, 4], &[6, 10]).unwrap();
/// array.fill(&roi, 7u8).unwrap();
/// let data = array.read::<u8>(&roi).unwrap();
/// assert_eq!(data.shape(), &[6, 10]);
/// assert!(data.iter().all(|&v| v == 7));
/// ```
pub struct Array {
    /// The zarrs array and its chunk I/O (path, store, dtype, cache, counters).
    io: ChunkIo,
    /// How it was opened.
    mode: Mode,
    /// The chunk shape as users see it (the inner chunk of a sharded array).
    chunk_shape: Vec<u64>,
    /// The shard shape of a sharded array.
    shard_shape: Option<Vec<u64>>,
    /// Shape, channel dims, offset, voxel size.
    layout: ArrayLayout,
    /// The daisy metadata.
    metadata: ArrayMetadata,
    /// Where the metadata lives in the attributes.
    format: MetadataFormat,
    /// The attributes as last stored.
    attrs: Mutex<Map<String, Value>>,
}

impl std::fmt::Debug for Array {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Array")
            .field("path", &self.io.path)
            .field("mode", &self.mode)
            .field("dtype", &self.io.dtype)
            .field("shape", &self.shape())
            .field("chunk_shape", &self.chunk_shape)
            .field("roi", &self.layout.roi())
            .finish_non_exhaustive()
    }
}

impl Array {
    /// Opens the Zarr array (v2 or v3) at `path`.
    ///
    /// The daisy metadata is read from the attributes (where `options.format` says), with
    /// `options.overrides` taking precedence. Every mode opens an existing array; `r` opens it
    /// read-only.
    ///
    /// # Errors
    /// [`ArrayError::NotFound`] if nothing is at `path`; [`ArrayError::NotAnArray`] for a file, a
    /// group, a plain directory, an N5 dataset or unreadable zarr metadata;
    /// [`ArrayError::UnsupportedZarrDataType`]; the metadata errors of
    /// [`MetadataFormat::read`] (wrapped in [`ArrayError::At`]).
    pub fn open(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Array, ArrayError> {
        let path = path.as_ref();
        check_is_array(path)?;
        let (zarr, store) = open_zarr(path)?;
        Array::from_zarr(
            path,
            options.mode,
            zarr,
            store,
            &options.format,
            |attrs, shape| {
                options
                    .format
                    .read(attrs, shape, &options.overrides, options.strict_metadata)
            },
            options.cache_bytes,
        )
    }

    /// Creates a new array at `path` (a directory; parents are created).
    ///
    /// Chunk shape defaults as funlib.persistence's `prepare_ds` chooses it; compression defaults
    /// to zstd level 0; the metadata is written into the attributes where `options.format` says,
    /// with `options.custom_attributes` beside it. The array is returned open in mode `r+`.
    ///
    /// # Errors
    /// [`ArrayError::AlreadyExists`] if something is at `path` and `options.overwrite` is false;
    /// [`ArrayError::NotAnArray`] if `overwrite` is set but `path` holds something that is not a
    /// zarr node (it is not deleted); [`ArrayError::InvalidOptions`] for a chunk shape, shard
    /// shape, compression or fill value that does not fit; metadata errors.
    pub fn create(path: impl AsRef<Path>, options: &CreateOptions) -> Result<Array, ArrayError> {
        let path = path.as_ref();
        let at = |error: ArrayError| error.at(path);
        if path.exists() {
            if !options.overwrite {
                return Err(ArrayError::AlreadyExists {
                    path: path.to_path_buf(),
                    mode: "w-",
                });
            }
            let empty_dir = path
                .read_dir()
                .map(|mut entries| entries.next().is_none())
                .unwrap_or(false);
            if !is_zarr_node(path) && !empty_dir {
                return Err(ArrayError::NotAnArray {
                    path: path.to_path_buf(),
                    reason: "refusing to overwrite something that is not a zarr array or group"
                        .to_string(),
                });
            }
            std::fs::remove_dir_all(path).map_err(|source| ArrayError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let dims = options.shape.len();
        let chunk_shape = match &options.chunk_shape {
            Some(chunk_shape) => chunk_shape.clone(),
            None => crate::prepare::default_chunk_shape(&options.shape, options.dtype.size_of()),
        };
        if chunk_shape.len() != dims || chunk_shape.contains(&0) {
            return Err(at(ArrayError::InvalidOptions {
                reason: format!(
                    "chunk shape {chunk_shape:?} does not fit shape {:?} (one positive size per dimension)",
                    options.shape
                ),
            }));
        }
        let metadata = match &options.metadata {
            Some(metadata) => metadata.clone(),
            None => ArrayMetadata::default_for(&options.shape).map_err(at)?,
        };
        let layout = ArrayLayout::from_metadata(&options.shape, &metadata).map_err(at)?;
        let mut attributes = Map::new();
        options.format.write(&metadata, &mut attributes);
        for (key, value) in &options.custom_attributes {
            if attributes.contains_key(key) {
                return Err(at(ArrayError::InvalidOptions {
                    reason: format!("custom attribute {key:?} collides with a metadata attribute"),
                }));
            }
            attributes.insert(key.clone(), value.clone());
        }
        let zarr_metadata = new_metadata(options, &chunk_shape, attributes)?;
        std::fs::create_dir_all(path).map_err(|source| ArrayError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let store = Arc::new(CountingStore::new(path)?);
        let zarr = ZarrArray::new_with_metadata(Arc::clone(&store), "/", zarr_metadata).map_err(
            |source| ArrayError::ZarrCreate {
                path: path.to_path_buf(),
                source: Box::new(source),
            },
        )?;
        zarr.store_metadata_opt(&metadata_options())
            .map_err(|source| ArrayError::Storage {
                path: path.to_path_buf(),
                source: Box::new(source),
            })?;
        let _ = layout;
        Array::from_zarr(
            path,
            Mode::ReadWrite,
            zarr,
            store,
            &options.format,
            |_, _| Ok(metadata.clone()),
            options.cache_bytes,
        )
    }

    /// Creates, recreates or reopens the array at `path` as funlib.persistence's `prepare_ds`
    /// does (the decision is [`prepare::decide`]'s): a new array if none exists (modes `a`, `w`,
    /// `w-`); the existing one reopened with its stored metadata when shape, chunk shape (if
    /// requested), dtype and metadata agree (a differing offset is ignored); its attributes
    /// rewritten when only the metadata differs (modes `r+`, `a`); recreated in mode `w`.
    ///
    /// The array is returned open in `request.mode`.
    ///
    /// # Errors
    /// The errors of [`prepare::decide`] (incompatible data or metadata, an array that exists
    /// in mode `w-`, none in modes `r`/`r+`, colliding custom metadata), wrapped with the path;
    /// [`ArrayError::NotAnArray`] if something other than an array is at `path`; the errors
    /// of [`Array::create`] and [`Array::open`].
    pub fn prepare(path: impl AsRef<Path>, request: &PrepareRequest) -> Result<Array, ArrayError> {
        let path = path.as_ref();
        let existing = match check_is_array(path) {
            Ok(()) => {
                let (zarr, store) = open_zarr(path)?;
                let array = Array::from_zarr(
                    path,
                    Mode::Read,
                    zarr,
                    store,
                    &request.format,
                    |attrs, shape| {
                        request
                            .format
                            .read(attrs, shape, &crate::MetadataOverrides::default(), false)
                            .or_else(|_| ArrayMetadata::default_for(shape))
                    },
                    0,
                )?;
                Some(ExistingArray {
                    shape: array.shape().to_vec(),
                    chunk_shape: array.chunk_shape().to_vec(),
                    dtype: array.dtype(),
                    attrs: array.attrs(),
                })
            }
            Err(ArrayError::NotFound { .. }) => None,
            Err(error) => return Err(error),
        };
        let decision =
            prepare::decide(path, existing.as_ref(), request).map_err(|error| error.at(path))?;
        match decision {
            PrepareDecision::Create(options) | PrepareDecision::Recreate(options) => {
                let mut array = Array::create(path, &options)?;
                array.mode = request.mode;
                Ok(array)
            }
            PrepareDecision::Reopen { metadata } => {
                let (zarr, store) = open_zarr(path)?;
                Array::from_zarr(
                    path,
                    request.mode,
                    zarr,
                    store,
                    &request.format,
                    |_, _| Ok(metadata),
                    request.cache_bytes,
                )
            }
            PrepareDecision::RewriteMetadata {
                metadata,
                attributes,
            } => {
                let (zarr, store) = open_zarr(path)?;
                let array = Array::from_zarr(
                    path,
                    request.mode,
                    zarr,
                    store,
                    &request.format,
                    |_, _| Ok(metadata),
                    request.cache_bytes,
                )?;
                array.store_attrs(attributes)?;
                Ok(array)
            }
        }
    }

    /// Builds the array from an open zarrs array.
    fn from_zarr(
        path: &Path,
        mode: Mode,
        zarr: ZarrArray,
        store: Arc<CountingStore>,
        format: &MetadataFormat,
        read_metadata: impl FnOnce(&Map<String, Value>, &[u64]) -> Result<ArrayMetadata, ArrayError>,
        cache_bytes: usize,
    ) -> Result<Array, ArrayError> {
        let dtype = DType::from_zarrs(zarr.data_type()).ok_or_else(|| {
            ArrayError::UnsupportedZarrDataType {
                data_type: zarr.data_type().to_string(),
                path: path.to_path_buf(),
            }
        })?;
        if let ZarrMetadata::V3(metadata) = zarr.metadata()
            && metadata.chunk_grid.name() != "regular"
        {
            return Err(ArrayError::NotAnArray {
                path: path.to_path_buf(),
                reason: format!(
                    "chunk grid {:?} is not supported (only \"regular\")",
                    metadata.chunk_grid.name()
                ),
            });
        }
        let shape = zarr.shape().to_vec();
        let origin = vec![0; shape.len()];
        let grid_shape: Vec<u64> = zarr
            .chunk_shape(&origin)
            .map_err(|source| ArrayError::Zarr {
                operation: "find the chunk shape of".to_string(),
                path: path.to_path_buf(),
                source: Box::new(source),
            })?
            .iter()
            .map(|size| size.get())
            .collect();
        let (chunk_shape, shard_shape) = match zarr.subchunk_shape() {
            Some(inner) if zarr.is_sharded() => (
                inner.iter().map(|size| size.get()).collect(),
                Some(grid_shape.clone()),
            ),
            _ => (grid_shape.clone(), None),
        };
        let attrs = zarr.attributes().clone();
        let metadata = read_metadata(&attrs, &shape).map_err(|error| error.at(path))?;
        let layout =
            ArrayLayout::from_metadata(&shape, &metadata).map_err(|error| error.at(path))?;
        let fill_value = zarr.fill_value().as_ne_bytes().to_vec();
        Ok(Array {
            io: ChunkIo {
                path: path.to_path_buf(),
                zarr,
                store,
                dtype,
                grid_shape,
                fill_value,
                cache: ChunkCache::new(cache_bytes),
                counters: Counters::default(),
            },
            mode,
            chunk_shape,
            shard_shape,
            layout,
            metadata,
            format: format.clone(),
            attrs: Mutex::new(attrs),
        })
    }

    /// The layout: shape, channel dims, offset, voxel size, ROI (containment rules).
    #[must_use]
    pub fn layout(&self) -> &ArrayLayout {
        &self.layout
    }

    /// The array's ROI in world units: `Roi(offset, voxel_size · spatial shape)`.
    #[must_use]
    pub fn roi(&self) -> Roi {
        self.layout.roi()
    }

    /// The daisy metadata (offset, voxel size, axis names, units, types) as opened.
    #[must_use]
    pub fn metadata(&self) -> &ArrayMetadata {
        &self.metadata
    }

    /// Where the metadata lives in the attributes.
    #[must_use]
    pub fn metadata_format(&self) -> &MetadataFormat {
        &self.format
    }

    /// The shape in voxels, every dimension.
    #[must_use]
    pub fn shape(&self) -> &[u64] {
        self.io.zarr.shape()
    }

    /// The chunk shape (the inner chunk shape of a sharded array).
    #[must_use]
    pub fn chunk_shape(&self) -> &[u64] {
        &self.chunk_shape
    }

    /// The shard shape of a sharded array, `None` if it is not sharded.
    #[must_use]
    pub fn shard_shape(&self) -> Option<&[u64]> {
        self.shard_shape.as_deref()
    }

    /// The element type.
    #[must_use]
    pub fn dtype(&self) -> DType {
        self.io.dtype
    }

    /// The Zarr format version: 2 or 3.
    #[must_use]
    pub fn zarr_format(&self) -> ZarrFormat {
        match self.io.zarr.metadata() {
            ZarrMetadata::V2(_) => ZarrFormat::V2,
            ZarrMetadata::V3(_) => ZarrFormat::V3,
        }
    }

    /// The fill value: one element's bytes in native byte order.
    #[must_use]
    pub fn fill_value(&self) -> &[u8] {
        &self.io.fill_value
    }

    /// The stored attributes (the metadata attributes included).
    #[must_use]
    pub fn attrs(&self) -> Map<String, Value> {
        self.attrs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the array was opened in a writeable mode.
    #[must_use]
    pub fn is_writeable(&self) -> bool {
        self.mode.is_writeable()
    }

    /// The mode the array was opened in.
    #[must_use]
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The array's directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.io.path
    }

    /// The capacity of the chunk cache in bytes.
    #[must_use]
    pub fn cache_bytes(&self) -> usize {
        self.io.cache.capacity()
    }

    /// Counters of the work done since the array was opened.
    #[must_use]
    pub fn stats(&self) -> ArrayStats {
        self.io.stats()
    }

    /// Drops every chunk from the chunk cache.
    pub fn clear_cache(&self) {
        self.io.cache.clear();
    }

    /// Merges `attrs` into the stored attributes (keys given replace old values) and writes the
    /// array's metadata file.
    ///
    /// The [`metadata`](Array::metadata) and [`layout`](Array::layout) stay as opened; open the
    /// array again to see rewritten metadata attributes take effect.
    ///
    /// # Errors
    /// [`ArrayError::ReadOnly`] in mode `r`; [`ArrayError::Storage`] if the file cannot be written.
    pub fn set_attrs(&self, attrs: &Map<String, Value>) -> Result<(), ArrayError> {
        self.check_writeable()?;
        let mut merged = self.attrs();
        for (key, value) in attrs {
            merged.insert(key.clone(), value.clone());
        }
        self.store_attrs(merged)
    }

    /// Removes the attribute `key` and writes the metadata file; whether it was there (nothing
    /// is written if not).
    ///
    /// # Errors
    /// As [`Array::set_attrs`].
    pub fn remove_attr(&self, key: &str) -> Result<bool, ArrayError> {
        self.check_writeable()?;
        let mut attrs = self.attrs();
        if attrs.remove(key).is_none() {
            return Ok(false);
        }
        self.store_attrs(attrs)?;
        Ok(true)
    }

    /// Replaces all the stored attributes and writes the metadata file.
    fn store_attrs(&self, attributes: Map<String, Value>) -> Result<(), ArrayError> {
        let mut stored = self.attrs.lock().unwrap_or_else(PoisonError::into_inner);
        let mut metadata = self.io.zarr.metadata().clone();
        match &mut metadata {
            ZarrMetadata::V2(metadata) => metadata.attributes = attributes.clone(),
            ZarrMetadata::V3(metadata) => metadata.attributes = attributes.clone(),
        }
        let writer = ZarrArray::new_with_metadata(Arc::clone(&self.io.store), "/", metadata)
            .map_err(|source| ArrayError::ZarrCreate {
                path: self.io.path.clone(),
                source: Box::new(source),
            })?;
        writer
            .store_metadata_opt(&metadata_options())
            .map_err(|source| ArrayError::Storage {
                path: self.io.path.clone(),
                source: Box::new(source),
            })?;
        *stored = attributes;
        Ok(())
    }

    fn check_writeable(&self) -> Result<(), ArrayError> {
        if self.mode.is_writeable() {
            Ok(())
        } else {
            Err(ArrayError::ReadOnly {
                path: self.io.path.clone(),
                mode: self.mode.as_str(),
            })
        }
    }

    fn check_dtype<T: Element>(&self) -> Result<(), ArrayError> {
        if T::DTYPE == self.io.dtype {
            Ok(())
        } else {
            Err(ArrayError::DTypeMismatch {
                requested: T::DTYPE,
                actual: self.io.dtype,
                path: self.io.path.clone(),
            })
        }
    }

    fn region_of(&self, roi: &Roi) -> Result<Vec<Range<u64>>, ArrayError> {
        self.layout
            .voxel_region(roi)
            .map_err(|error| error.at(&self.io.path))
    }

    fn region_bytes(&self, region: &[Range<u64>]) -> Result<usize, ArrayError> {
        subset::region_len(region)
            .and_then(|len| usize::try_from(len).ok())
            .and_then(|len| len.checked_mul(self.io.dtype.size_of()))
            .ok_or_else(|| {
                ArrayError::RegionOutOfBounds {
                    region: subset::format_region(region),
                    shape: self.shape().to_vec(),
                }
                .at(&self.io.path)
            })
    }

    fn check_len(
        &self,
        what: &'static str,
        expected: usize,
        actual: usize,
    ) -> Result<(), ArrayError> {
        if expected == actual {
            Ok(())
        } else {
            Err(ArrayError::BufferLength {
                what,
                expected: format!("{expected} bytes"),
                actual: format!("{actual} bytes"),
            }
            .at(&self.io.path))
        }
    }

    /// Reads the data inside `roi` (which the array's ROI must contain) as an ndarray of shape
    /// channel dims + `roi.shape / voxel_size`.
    ///
    /// # Errors
    /// [`ArrayError::DTypeMismatch`] if `T` is not the array's dtype; the containment and grid
    /// errors of [`ArrayLayout::voxel_region`]; [`ArrayError::Zarr`] for a chunk that cannot be
    /// read or decoded.
    pub fn read<T: Element>(&self, roi: &Roi) -> Result<ndarray::ArrayD<T>, ArrayError> {
        self.check_dtype::<T>()?;
        let region = self.region_of(roi)?;
        self.read_typed(&region)
    }

    fn read_typed<T: Element>(
        &self,
        region: &[Range<u64>],
    ) -> Result<ndarray::ArrayD<T>, ArrayError> {
        let mut bytes = vec![0u8; self.region_bytes(region)?];
        self.io.read_region(region, &mut bytes)?;
        self.bytes_to_ndarray(subset::region_shape(region), bytes)
    }

    fn bytes_to_ndarray<T: Element>(
        &self,
        shape: Vec<u64>,
        bytes: Vec<u8>,
    ) -> Result<ndarray::ArrayD<T>, ArrayError> {
        let elements = T::from_array_bytes(&self.io.dtype.to_zarrs(), ArrayBytes::new_flen(bytes))
            .map_err(|error| {
                ArrayError::InvalidOptions {
                    reason: format!("cannot convert the data to {}: {error}", T::DTYPE),
                }
                .at(&self.io.path)
            })?;
        let shape: Vec<usize> = shape.iter().map(|&size| size as usize).collect();
        ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape), elements).map_err(|error| {
            ArrayError::BufferLength {
                what: "ndarray",
                expected: format!("shape {shape:?}"),
                actual: error.to_string(),
            }
            .at(&self.io.path)
        })
    }

    /// Writes `data` (shape channel dims + `roi.shape / voxel_size`) into `roi`.
    ///
    /// # Errors
    /// [`ArrayError::ReadOnly`] in mode `r`; [`ArrayError::DTypeMismatch`];
    /// [`ArrayError::BufferLength`] if `data`'s shape is not the ROI's; containment errors;
    /// [`ArrayError::Zarr`] for a chunk that cannot be written.
    pub fn write<T: Element>(
        &self,
        roi: &Roi,
        data: ndarray::ArrayViewD<'_, T>,
    ) -> Result<(), ArrayError> {
        self.check_writeable()?;
        self.check_dtype::<T>()?;
        let region = self.region_of(roi)?;
        let expected = subset::region_shape(&region);
        let actual: Vec<u64> = data.shape().iter().map(|&size| size as u64).collect();
        if expected != actual {
            return Err(ArrayError::BufferLength {
                what: "data shape",
                expected: format!("{expected:?} for roi {roi}"),
                actual: format!("{actual:?}"),
            }
            .at(&self.io.path));
        }
        let standard = data.as_standard_layout();
        let elements = standard.as_slice().ok_or_else(|| {
            ArrayError::BufferLength {
                what: "data layout",
                expected: "a contiguous array".to_string(),
                actual: "a strided one".to_string(),
            }
            .at(&self.io.path)
        })?;
        let bytes = T::to_array_bytes(&self.io.dtype.to_zarrs(), elements)
            .ok()
            .and_then(|bytes| bytes.into_fixed().ok())
            .ok_or_else(|| {
                ArrayError::InvalidOptions {
                    reason: format!("cannot convert the data to {}", self.io.dtype),
                }
                .at(&self.io.path)
            })?;
        self.io.write_region(&region, &bytes)
    }

    /// Sets every voxel inside `roi` to `value` (`array[roi] = value`).
    ///
    /// # Errors
    /// As [`Array::write`].
    pub fn fill<T: Element>(&self, roi: &Roi, value: T) -> Result<(), ArrayError> {
        self.check_writeable()?;
        self.check_dtype::<T>()?;
        let region = self.region_of(roi)?;
        let len = self.region_bytes(&region)? / self.io.dtype.size_of();
        let bytes = value.to_ne_bytes_vec().repeat(len);
        self.io.write_region(&region, &bytes)
    }

    /// The data inside `roi` with `fill_value` where `roi` lies outside the array (any ROI on
    /// the voxel grid), shape channel dims + `roi.shape / voxel_size`.
    ///
    /// # Errors
    /// [`ArrayError::DTypeMismatch`]; the grid errors of [`ArrayLayout::to_ndarray_plan`].
    pub fn to_ndarray<T: Element>(
        &self,
        roi: &Roi,
        fill_value: T,
    ) -> Result<ndarray::ArrayD<T>, ArrayError> {
        self.check_dtype::<T>()?;
        let (plan, len) = self.to_ndarray_plan(roi)?;
        let mut out = fill_value
            .to_ne_bytes_vec()
            .repeat(len / self.io.dtype.size_of());
        self.fill_from_plan(&plan, &mut out)?;
        self.bytes_to_ndarray(plan.output_shape, out)
    }

    /// The plan of `to_ndarray(roi)` and the byte length of its output.
    fn to_ndarray_plan(&self, roi: &Roi) -> Result<(ToNdarrayPlan, usize), ArrayError> {
        let plan = self
            .layout
            .to_ndarray_plan(roi)
            .map_err(|error| error.at(&self.io.path))?;
        let whole: Vec<Range<u64>> = plan.output_shape.iter().map(|&size| 0..size).collect();
        let len = self.region_bytes(&whole)?;
        Ok((plan, len))
    }

    fn fill_from_plan(&self, plan: &ToNdarrayPlan, out: &mut [u8]) -> Result<(), ArrayError> {
        let Some(copy) = &plan.copy else {
            self.io.count_empty_read();
            return Ok(());
        };
        let covers_output = copy
            .target
            .iter()
            .zip(&plan.output_shape)
            .all(|(range, &size)| range.start == 0 && range.end == size);
        if covers_output {
            // The ROI lies inside the array: read straight into the output.
            return self.io.read_region(&copy.source, out);
        }
        let mut inside = vec![0u8; self.region_bytes(&copy.source)?];
        self.io.read_region(&copy.source, &mut inside)?;
        let target_origin: Vec<u64> = copy.target.iter().map(|range| range.start).collect();
        let source_shape = subset::region_shape(&copy.source);
        subset::copy_box(
            &inside,
            Placement {
                buffer_shape: &source_shape,
                origin: &vec![0; source_shape.len()],
            },
            out,
            Placement {
                buffer_shape: &plan.output_shape,
                origin: &target_origin,
            },
            &source_shape,
            self.io.dtype.size_of(),
        );
        Ok(())
    }

    /// Reads the data inside `roi` into `out` (C order, native byte order, any dtype).
    ///
    /// # Errors
    /// [`ArrayError::BufferLength`] if `out` is not exactly the region's size in bytes;
    /// containment errors; [`ArrayError::Zarr`].
    pub fn read_into(&self, roi: &Roi, out: &mut [u8]) -> Result<(), ArrayError> {
        let region = self.region_of(roi)?;
        self.read_voxels_checked(&region, out)
    }

    /// Writes `data` (C order, native byte order, the region's exact size) into `roi`.
    ///
    /// # Errors
    /// [`ArrayError::ReadOnly`]; [`ArrayError::BufferLength`]; containment errors;
    /// [`ArrayError::Zarr`].
    pub fn write_bytes(&self, roi: &Roi, data: &[u8]) -> Result<(), ArrayError> {
        self.check_writeable()?;
        let region = self.region_of(roi)?;
        self.write_voxels_checked(&region, data)
    }

    /// As [`Array::to_ndarray`] into a byte buffer; `fill_value` is one element's bytes.
    ///
    /// # Errors
    /// [`ArrayError::BufferLength`] if `fill_value` is not one element or `out` is not the
    /// output's size; the grid errors of [`ArrayLayout::to_ndarray_plan`].
    pub fn to_ndarray_into(
        &self,
        roi: &Roi,
        fill_value: &[u8],
        out: &mut [u8],
    ) -> Result<(), ArrayError> {
        self.check_len("fill value", self.io.dtype.size_of(), fill_value.len())?;
        let (plan, len) = self.to_ndarray_plan(roi)?;
        self.check_len("output buffer", len, out.len())?;
        for element in out.chunks_exact_mut(fill_value.len()) {
            element.copy_from_slice(fill_value);
        }
        self.fill_from_plan(&plan, out)
    }

    /// Reads a voxel region (one range per dimension, channel dims included) into `out`.
    ///
    /// # Errors
    /// [`ArrayError::RegionOutOfBounds`] if the region is not inside the shape;
    /// [`ArrayError::BufferLength`]; [`ArrayError::Zarr`].
    pub fn read_voxels_into(
        &self,
        region: &[Range<u64>],
        out: &mut [u8],
    ) -> Result<(), ArrayError> {
        subset::check_region(region, self.shape()).map_err(|error| error.at(&self.io.path))?;
        self.read_voxels_checked(region, out)
    }

    fn read_voxels_checked(&self, region: &[Range<u64>], out: &mut [u8]) -> Result<(), ArrayError> {
        self.check_len("output buffer", self.region_bytes(region)?, out.len())?;
        self.io.read_region(region, out)
    }

    /// Writes `data` into a voxel region (one range per dimension, channel dims included).
    ///
    /// # Errors
    /// [`ArrayError::ReadOnly`]; [`ArrayError::RegionOutOfBounds`];
    /// [`ArrayError::BufferLength`]; [`ArrayError::Zarr`].
    pub fn write_voxels(&self, region: &[Range<u64>], data: &[u8]) -> Result<(), ArrayError> {
        self.check_writeable()?;
        subset::check_region(region, self.shape()).map_err(|error| error.at(&self.io.path))?;
        self.write_voxels_checked(region, data)
    }

    fn write_voxels_checked(&self, region: &[Range<u64>], data: &[u8]) -> Result<(), ArrayError> {
        self.check_len("data", self.region_bytes(region)?, data.len())?;
        self.io.write_region(region, data)
    }

    /// Reads a voxel region as an ndarray.
    ///
    /// # Errors
    /// As [`Array::read_voxels_into`], and [`ArrayError::DTypeMismatch`].
    pub fn read_voxels<T: Element>(
        &self,
        region: &[Range<u64>],
    ) -> Result<ndarray::ArrayD<T>, ArrayError> {
        self.check_dtype::<T>()?;
        subset::check_region(region, self.shape()).map_err(|error| error.at(&self.io.path))?;
        self.read_typed(region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn arrays_are_send_and_sync() {
        assert_send_sync::<Array>();
    }
}
