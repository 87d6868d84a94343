//! The error type of the crate.

use std::path::PathBuf;

use crate::dtype::DType;

/// An error from opening, creating, reading or writing an array, or from its metadata rules.
///
/// Messages are lowercase and carry the offending values: the ROI or voxel region, the array's
/// ROI or shape, the path, the dtype, the mode. An error raised while working on a particular array
/// on disk is wrapped in [`ArrayError::At`], which appends the array's path; use
/// [`ArrayError::innermost`] to see what went wrong independently of where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArrayError {
    /// An error about the array at `path` (the source says what is wrong).
    #[error("{source} of {path}")]
    At {
        /// The array's path.
        path: PathBuf,
        /// What went wrong.
        source: Box<ArrayError>,
    },

    /// A mode string that is not one of `r`, `r+`, `a`, `w`, `w-`.
    #[error("invalid mode {mode:?}: expected one of \"r\", \"r+\", \"a\", \"w\", \"w-\"")]
    InvalidMode {
        /// The string given.
        mode: String,
    },

    /// A dtype name or typestr that is not supported.
    #[error(
        "unsupported dtype {name:?}: expected one of bool, uint8, uint16, uint32, uint64, int8, int16, int32, int64, float32, float64 (or a typestr such as \"|u1\", \"<f4\")"
    )]
    UnsupportedDType {
        /// The name given.
        name: String,
    },

    /// The zarr data type of an existing array has no daisy dtype.
    #[error("unsupported zarr data type {data_type} of {path}")]
    UnsupportedZarrDataType {
        /// The zarr data type's name.
        data_type: String,
        /// The array's path.
        path: PathBuf,
    },

    /// Nothing exists at the path.
    #[error("no zarr array at {path}: the path does not exist")]
    NotFound {
        /// The path.
        path: PathBuf,
    },

    /// Something exists at the path, but it is not a zarr array.
    #[error("{path} is not a zarr array: {reason}")]
    NotAnArray {
        /// The path.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },

    /// An array exists at a path that [`Mode::WriteNew`](crate::Mode::WriteNew) or a create without
    /// overwrite must not replace.
    #[error("an array already exists at {path} (mode {mode:?} does not overwrite it)")]
    AlreadyExists {
        /// The path.
        path: PathBuf,
        /// The mode string.
        mode: &'static str,
    },

    /// A write to an array opened read-only.
    #[error("cannot write to {path}: it was opened in read-only mode {mode:?}")]
    ReadOnly {
        /// The path.
        path: PathBuf,
        /// The mode string.
        mode: &'static str,
    },

    /// An element type that differs from the array's dtype (e.g. `read::<u16>` of a uint8 array).
    #[error("dtype mismatch: requested {requested}, but {path} holds {actual}")]
    DTypeMismatch {
        /// The dtype asked for.
        requested: DType,
        /// The array's dtype.
        actual: DType,
        /// The array's path.
        path: PathBuf,
    },

    /// A byte buffer (or ndarray) of the wrong size for the region it reads or writes.
    #[error("wrong {what} length: expected {expected}, got {actual}")]
    BufferLength {
        /// What was measured, e.g. `"output buffer"`, `"data shape"`.
        what: &'static str,
        /// The expected length (bytes or elements, as `what` says).
        expected: String,
        /// The length given.
        actual: String,
    },

    /// A voxel region with the wrong number of dimensions or outside the array's shape.
    #[error("voxel region {region} is not inside the array's shape {shape:?}")]
    RegionOutOfBounds {
        /// The region, printed as `[a:b, ...]`.
        region: String,
        /// The array's shape.
        shape: Vec<u64>,
    },

    /// Options for creating an array that do not fit together (chunk shape, compression, fill value).
    #[error("invalid array options: {reason}")]
    InvalidOptions {
        /// What is wrong.
        reason: String,
    },

    /// A filesystem error outside zarrs (checking or removing a path).
    #[error("i/o error at {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },

    /// zarrs could not open or create the array.
    #[error("zarrs cannot open or create {path}: {source}")]
    ZarrCreate {
        /// The path.
        path: PathBuf,
        /// The zarrs error.
        source: Box<zarrs::array::ArrayCreateError>,
    },

    /// zarrs failed to read, decode, encode or write (a corrupt chunk, a storage error).
    #[error("zarrs failed to {operation} {path}: {source}")]
    Zarr {
        /// What was being done, e.g. `"read chunk [0, 1] of"`.
        operation: String,
        /// The path.
        path: PathBuf,
        /// The zarrs error.
        source: Box<zarrs::array::ArrayError>,
    },

    /// zarrs failed to store the array's metadata.
    #[error("cannot store the metadata of {path}: {source}")]
    Storage {
        /// The path.
        path: PathBuf,
        /// The zarrs storage error.
        source: Box<zarrs::storage::StorageError>,
    },

    /// A ROI or coordinate whose number of dimensions is not the array's number of spatial
    /// dimensions.
    #[error("{what} has {dims} dimensions, but the array has {spatial_dims} spatial dimensions")]
    SpatialDimsMismatch {
        /// The ROI or coordinate, printed, e.g. `roi [0:10] (10)`.
        what: String,
        /// Its number of dimensions.
        dims: usize,
        /// The array's number of spatial dimensions.
        spatial_dims: usize,
    },

    /// A ROI that the array's ROI does not contain (Python's `IndexError`).
    #[error("roi {roi} is not contained in the array's roi {array_roi}")]
    RoiNotContained {
        /// The requested ROI.
        roi: daisy_geometry::Roi,
        /// The array's ROI.
        array_roi: daisy_geometry::Roi,
    },

    /// A coordinate that the array's ROI does not contain (Python's `IndexError`).
    #[error("coordinate {coordinate} is not contained in the array's roi {array_roi}")]
    CoordinateNotContained {
        /// The requested coordinate.
        coordinate: daisy_geometry::Coordinate,
        /// The array's ROI.
        array_roi: daisy_geometry::Roi,
    },

    /// A ROI whose begin or shape is not on the array's voxel grid.
    #[error(
        "roi {roi} is not on the voxel grid of the array's roi {array_roi}: its begin minus the \
         array's offset and its shape must be multiples of the voxel size {voxel_size}"
    )]
    RoiNotOnGrid {
        /// The requested ROI.
        roi: daisy_geometry::Roi,
        /// The array's ROI.
        array_roi: daisy_geometry::Roi,
        /// The array's voxel size.
        voxel_size: daisy_geometry::Coordinate,
    },

    /// A ROI with an unbounded (`None`) begin or shape where a bounded one is needed.
    #[error("roi {roi} is unbounded: reading or writing needs a bounded roi")]
    UnboundedRoi {
        /// The requested ROI.
        roi: daisy_geometry::Roi,
    },

    /// Metadata (offset, voxel size, axis names, units, types) that does not describe the array.
    #[error("invalid metadata: {reason}")]
    InvalidMetadata {
        /// What is wrong, with the values.
        reason: String,
    },

    /// A metadata attribute whose stored value has the wrong form.
    #[error("invalid metadata attribute {key:?} = {value}: {reason}")]
    InvalidAttribute {
        /// The attribute's key or path (`a/b/c`).
        key: String,
        /// The stored value, as JSON.
        value: String,
        /// What is wrong.
        reason: String,
    },

    /// A metadata format (attribute names) or its configuration that cannot be used.
    #[error("invalid metadata format: {reason}")]
    InvalidMetadataFormat {
        /// What is wrong, naming the file or key.
        reason: String,
    },

    /// `prepare` found an array whose data (shape, chunk shape, dtype) differs from the request,
    /// and the mode is not `w` (Python's `PermissionError`).
    #[error(
        "the existing array is not compatible: its {field} is {existing}, but {requested} was \
         requested; mode {mode:?} does not allow recreating it (use mode \"w\")"
    )]
    IncompatibleData {
        /// `"shape"`, `"chunk shape"` or `"dtype"`.
        field: &'static str,
        /// The requested value.
        requested: String,
        /// The existing value.
        existing: String,
        /// The mode string.
        mode: &'static str,
    },

    /// `prepare` found an array whose metadata differs from the request, and the mode is `r`
    /// (Python's `PermissionError`).
    #[error(
        "the existing array's metadata is not compatible: its {field} is {existing}, but \
         {requested} was requested; mode \"r\" does not allow updating it"
    )]
    IncompatibleMetadata {
        /// `"voxel size"`, `"types"`, `"axis names"` or `"units"`.
        field: &'static str,
        /// The requested value.
        requested: String,
        /// The existing value.
        existing: String,
    },

    /// A custom metadata key of `prepare` that is also one of the metadata attribute names.
    #[error("custom metadata key {key:?} collides with the metadata attribute {key:?}")]
    CustomMetadataCollision {
        /// The key.
        key: String,
    },

    /// A geometry operation failed (dimension mismatch, overflow).
    #[error(transparent)]
    Geometry(#[from] daisy_geometry::GeometryError),
}

impl ArrayError {
    /// The error without the [`ArrayError::At`] wrappers naming where it happened.
    #[must_use]
    pub fn innermost(&self) -> &ArrayError {
        match self {
            ArrayError::At { source, .. } => source.innermost(),
            other => other,
        }
    }

    /// Wraps the error with the path of the array it concerns (unless it already names a path).
    pub(crate) fn at(self, path: &std::path::Path) -> ArrayError {
        match self {
            ArrayError::At { .. }
            | ArrayError::NotFound { .. }
            | ArrayError::NotAnArray { .. }
            | ArrayError::AlreadyExists { .. }
            | ArrayError::ReadOnly { .. }
            | ArrayError::DTypeMismatch { .. }
            | ArrayError::UnsupportedZarrDataType { .. }
            | ArrayError::Io { .. }
            | ArrayError::ZarrCreate { .. }
            | ArrayError::Zarr { .. }
            | ArrayError::Storage { .. } => self,
            other => ArrayError::At {
                path: path.to_path_buf(),
                source: Box::new(other),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_appends_the_path_once_and_innermost_unwraps_it() {
        let error = ArrayError::RegionOutOfBounds {
            region: "[0:10]".into(),
            shape: vec![5],
        }
        .at(std::path::Path::new("/data/a.zarr"));
        assert_eq!(
            error.to_string(),
            "voxel region [0:10] is not inside the array's shape [5] of /data/a.zarr"
        );
        let twice = error.at(std::path::Path::new("/other"));
        assert!(matches!(
            twice.innermost(),
            ArrayError::RegionOutOfBounds { .. }
        ));
        assert!(!twice.to_string().contains("/other"));
    }
}
