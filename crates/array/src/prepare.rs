//! The decisions of `prepare_ds`: given what exists at a path and what is requested, whether to
//! create, recreate, reopen or rewrite the metadata of an array, or refuse, following
//! funlib.persistence 0.7.
//!
//! | existing array | data (shape, chunk shape if given, dtype) | metadata (voxel size, types, axis names, units) | `r` | `r+` | `a` | `w` | `w-` |
//! |---|---|---|---|---|---|---|---|
//! | none | | | not found | not found | create | create | create |
//! | yes | differs | | refused | refused | refused | recreate | refused |
//! | yes | same | differs | refused | rewrite | rewrite | recreate | exists |
//! | yes | same | same | reopen | reopen | reopen | recreate | exists |
//!
//! "refused" is [`ArrayError::IncompatibleData`] / [`ArrayError::IncompatibleMetadata`]
//! (Python's `PermissionError`), "not found" [`ArrayError::NotFound`], "exists"
//! [`ArrayError::AlreadyExists`]. A requested offset that differs from the stored one is not an
//! incompatibility: the array is reopened with its stored metadata.
//!
//! Create, recreate and rewrite store the metadata the arguments give, falling back to the
//! existing array's attributes and then to the defaults, plus the custom metadata. A rewrite
//! replaces all the attributes, as funlib.persistence does.

use std::path::Path;

use serde_json::{Map, Value};

use crate::dtype::DType;
use crate::error::ArrayError;
use crate::metadata::{ArrayMetadata, MetadataOverrides};
use crate::metadata_format::MetadataFormat;
use crate::options::{Compression, CreateOptions, DEFAULT_CACHE_BYTES, Mode, ZarrFormat};

/// What `prepare` is asked for: funlib.persistence's `prepare_ds` arguments.
#[derive(Debug, Clone)]
pub struct PrepareRequest {
    /// Shape in voxels, every dimension (channel dimensions included).
    pub shape: Vec<u64>,
    /// Chunk shape, every dimension; `None`: any existing chunk shape is fine, and a new array
    /// gets [`default_chunk_shape`].
    pub chunk_shape: Option<Vec<u64>>,
    /// The element type.
    pub dtype: DType,
    /// Offset, voxel size, axis names, units, types as given (absent ones default).
    pub metadata: MetadataOverrides,
    /// Further attributes for a new array (keys must not collide with the metadata keys).
    pub custom_metadata: Map<String, Value>,
    /// The mode (default `a`).
    pub mode: Mode,
    /// Where the metadata lives in the attributes (the configured default format).
    pub format: MetadataFormat,
    /// Zarr format of a new array.
    pub zarr_format: ZarrFormat,
    /// Compression of a new array.
    pub compression: Compression,
    /// Fill value of a new array in zarr's JSON form; `None`: zero.
    pub fill_value: Option<Value>,
    /// Capacity of the array's cache of decoded chunks in bytes.
    pub cache_bytes: usize,
}

impl PrepareRequest {
    /// A request for an array of `shape` and `dtype` in mode `a`, everything else default.
    #[must_use]
    pub fn new(shape: Vec<u64>, dtype: DType) -> PrepareRequest {
        PrepareRequest {
            shape,
            chunk_shape: None,
            dtype,
            metadata: MetadataOverrides::default(),
            custom_metadata: Map::new(),
            mode: Mode::Append,
            format: MetadataFormat::default(),
            zarr_format: ZarrFormat::V3,
            compression: Compression::Default,
            fill_value: None,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

/// What exists at the path: the description of an array `prepare` compares with the request.
#[derive(Debug, Clone)]
pub struct ExistingArray {
    /// Shape in voxels, every dimension.
    pub shape: Vec<u64>,
    /// Chunk shape.
    pub chunk_shape: Vec<u64>,
    /// The element type.
    pub dtype: DType,
    /// The stored attributes.
    pub attrs: Map<String, Value>,
}

/// What `prepare` does.
#[derive(Debug, Clone)]
pub enum PrepareDecision {
    /// Nothing exists: create the array (with `options.overwrite == false`).
    Create(CreateOptions),
    /// Delete the existing array and create it anew (`options.overwrite == true`).
    Recreate(CreateOptions),
    /// Open the existing array in the request's mode, with its stored metadata.
    Reopen {
        /// The stored metadata.
        metadata: ArrayMetadata,
    },
    /// Open the existing array in the request's mode and replace all its attributes.
    RewriteMetadata {
        /// The metadata the new attributes hold.
        metadata: ArrayMetadata,
        /// The complete new attributes (metadata plus custom metadata).
        attributes: Map<String, Value>,
    },
}

impl PrepareDecision {
    /// The metadata the prepared array has.
    pub fn metadata(&self) -> Option<&ArrayMetadata> {
        match self {
            PrepareDecision::Create(o) | PrepareDecision::Recreate(o) => o.metadata.as_ref(),
            PrepareDecision::Reopen { metadata }
            | PrepareDecision::RewriteMetadata { metadata, .. } => Some(metadata),
        }
    }
}

/// Decides what `prepare` does at `path` (named in errors), given the array that exists there
/// (`None` if nothing does) and the request. Pure: no I/O.
///
/// # Errors
///
/// - [`ArrayError::NotFound`]: no array, and mode `r` or `r+`;
/// - [`ArrayError::IncompatibleData`]: shape, chunk shape (if requested) or dtype differ and the
///   mode is not `w`, naming the first differing field and both values;
/// - [`ArrayError::IncompatibleMetadata`]: voxel size, types, axis names or units differ and
///   the mode is `r`;
/// - [`ArrayError::AlreadyExists`]: an array exists and the mode is `w-`;
/// - [`ArrayError::CustomMetadataCollision`]: a custom metadata key is a metadata key;
/// - [`ArrayError::InvalidMetadata`] / [`ArrayError::InvalidAttribute`]: the requested or stored
///   metadata does not describe an array of the requested shape.
pub fn decide(
    path: &Path,
    existing: Option<&ExistingArray>,
    request: &PrepareRequest,
) -> Result<PrepareDecision, ArrayError> {
    let mode = request.mode;
    let given = request.metadata.resolve(&request.shape, false)?;
    let Some(existing) = existing else {
        return match mode {
            Mode::Read | Mode::ReadWrite => Err(ArrayError::NotFound {
                path: path.to_path_buf(),
            }),
            Mode::Append | Mode::Write | Mode::WriteNew => Ok(PrepareDecision::Create(
                create_options(request, given, false)?,
            )),
        };
    };

    if let Some((field, requested, stored)) = data_difference(existing, request) {
        if mode != Mode::Write {
            return Err(ArrayError::IncompatibleData {
                field,
                requested,
                existing: stored,
                mode: mode.as_str(),
            });
        }
        // The stored metadata may not fit the new shape; then only the arguments count.
        let combined = request
            .format
            .read(&existing.attrs, &request.shape, &request.metadata, false)
            .unwrap_or(given);
        return Ok(PrepareDecision::Recreate(create_options(
            request, combined, true,
        )?));
    }

    let stored = request.format.read(
        &existing.attrs,
        &request.shape,
        &MetadataOverrides::default(),
        false,
    )?;
    let metadata_difference = metadata_difference(&given, &stored);
    match (mode, metadata_difference) {
        (Mode::Write, _) => {
            let combined =
                request
                    .format
                    .read(&existing.attrs, &request.shape, &request.metadata, false)?;
            Ok(PrepareDecision::Recreate(create_options(
                request, combined, true,
            )?))
        }
        (Mode::WriteNew, _) => Err(ArrayError::AlreadyExists {
            path: path.to_path_buf(),
            mode: mode.as_str(),
        }),
        (Mode::Read, Some((field, requested, stored))) => Err(ArrayError::IncompatibleMetadata {
            field,
            requested,
            existing: stored,
        }),
        (Mode::ReadWrite | Mode::Append, Some(_)) => {
            let combined =
                request
                    .format
                    .read(&existing.attrs, &request.shape, &request.metadata, false)?;
            let attributes = attributes(request, &combined)?;
            Ok(PrepareDecision::RewriteMetadata {
                metadata: combined,
                attributes,
            })
        }
        (Mode::Read | Mode::ReadWrite | Mode::Append, None) => {
            Ok(PrepareDecision::Reopen { metadata: stored })
        }
    }
}

/// The chunk shape funlib.persistence 0.7's `prepare_ds` gets when none is given (zarr-python
/// 3's guess, adapted from h5py): halve the dimensions in turn, starting with the first, until
/// a chunk is below a target size that grows with the array (between 128 KiB and 64 MiB), or
/// within 50% of it.
pub fn default_chunk_shape(shape: &[u64], item_size: usize) -> Vec<u64> {
    const INCREMENT_BYTES: f64 = 256.0 * 1024.0;
    const MIN_BYTES: f64 = 128.0 * 1024.0;
    const MAX_BYTES: f64 = 64.0 * 1024.0 * 1024.0;
    if item_size == 0 || shape.is_empty() {
        return shape.to_vec();
    }
    let item_size = item_size as f64;
    let mut chunks: Vec<f64> = shape.iter().map(|&s| (s as f64).max(1.0)).collect();
    let product = |c: &[f64]| c.iter().product::<f64>();
    let dataset_bytes = product(&chunks) * item_size;
    let target = (INCREMENT_BYTES * 2f64.powf((dataset_bytes / (1024.0 * 1024.0)).log10()))
        .clamp(MIN_BYTES, MAX_BYTES);
    let mut index = 0;
    loop {
        let chunk_bytes = product(&chunks) * item_size;
        if (chunk_bytes < target || (chunk_bytes - target).abs() / target < 0.5)
            && chunk_bytes < MAX_BYTES
        {
            break;
        }
        if product(&chunks) == 1.0 {
            break;
        }
        let d = index % chunks.len();
        chunks[d] = (chunks[d] / 2.0).ceil();
        index += 1;
    }
    chunks.into_iter().map(|c| c as u64).collect()
}

/// The first of shape, chunk shape (if requested) and dtype that differs: its name, the
/// requested and the existing value.
fn data_difference(
    existing: &ExistingArray,
    request: &PrepareRequest,
) -> Option<(&'static str, String, String)> {
    if request.shape != existing.shape {
        return Some((
            "shape",
            format!("{:?}", request.shape),
            format!("{:?}", existing.shape),
        ));
    }
    if let Some(chunk_shape) = &request.chunk_shape
        && *chunk_shape != existing.chunk_shape
    {
        return Some((
            "chunk shape",
            format!("{chunk_shape:?}"),
            format!("{:?}", existing.chunk_shape),
        ));
    }
    if request.dtype != existing.dtype {
        return Some((
            "dtype",
            request.dtype.to_string(),
            existing.dtype.to_string(),
        ));
    }
    None
}

/// The first of voxel size, types, axis names and units that differs: its name, the requested
/// and the existing value.
fn metadata_difference(
    given: &ArrayMetadata,
    stored: &ArrayMetadata,
) -> Option<(&'static str, String, String)> {
    if given.voxel_size != stored.voxel_size {
        return Some((
            "voxel size",
            given.voxel_size.to_string(),
            stored.voxel_size.to_string(),
        ));
    }
    for (field, a, b) in [
        ("types", &given.types, &stored.types),
        ("axis names", &given.axis_names, &stored.axis_names),
        ("units", &given.units, &stored.units),
    ] {
        if a != b {
            return Some((field, format!("{a:?}"), format!("{b:?}")));
        }
    }
    None
}

/// The options that create the requested array with `metadata`.
fn create_options(
    request: &PrepareRequest,
    metadata: ArrayMetadata,
    overwrite: bool,
) -> Result<CreateOptions, ArrayError> {
    check_custom_metadata(request)?;
    let chunk_shape = request
        .chunk_shape
        .clone()
        .unwrap_or_else(|| default_chunk_shape(&request.shape, request.dtype.size_of()));
    let mut options = CreateOptions::new(request.shape.clone(), request.dtype);
    options.chunk_shape = Some(chunk_shape);
    options.metadata = Some(metadata);
    options.custom_attributes = request.custom_metadata.clone();
    options.format = request.format.clone();
    options.zarr_format = request.zarr_format;
    options.compression = request.compression.clone();
    options.fill_value = request.fill_value.clone();
    options.overwrite = overwrite;
    options.cache_bytes = request.cache_bytes;
    Ok(options)
}

/// The complete attributes of a prepared array: the metadata, then the custom metadata.
fn attributes(
    request: &PrepareRequest,
    metadata: &ArrayMetadata,
) -> Result<Map<String, Value>, ArrayError> {
    check_custom_metadata(request)?;
    let mut attributes = Map::new();
    request.format.write(metadata, &mut attributes);
    for (key, value) in &request.custom_metadata {
        attributes.insert(key.clone(), value.clone());
    }
    Ok(attributes)
}

/// Checks that no custom metadata key is (or is the top of the path of) a metadata key.
fn check_custom_metadata(request: &PrepareRequest) -> Result<(), ArrayError> {
    let keys = request.format.attribute_keys();
    for key in request.custom_metadata.keys() {
        let collides = keys
            .iter()
            .any(|k| k == key || k.split('/').next() == Some(key.as_str()));
        if collides {
            return Err(ArrayError::CustomMetadataCollision { key: key.clone() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_chunk_shape_matches_zarr_python() {
        // (shape, item size, chunk shape) as zarr-python 3.1.6 chooses them.
        let cases: [(&[u64], usize, &[u64]); 11] = [
            (&[100, 100, 100], 4, &[50, 50, 50]),
            (&[10], 1, &[10]),
            (&[512, 512, 512], 1, &[64, 128, 128]),
            (&[3, 1000, 1000], 4, &[1, 250, 500]),
            (&[0, 5], 8, &[1, 5]),
            (&[1], 8, &[1]),
            (&[2, 3, 4, 5, 6, 7], 2, &[2, 3, 4, 5, 6, 7]),
            (&[10000, 10000], 8, &[313, 625]),
            (&[7], 100_000_000, &[1]),
            (&[256, 256, 256], 8, &[32, 64, 64]),
            (&[1000, 1000, 1000], 2, &[63, 125, 125]),
        ];
        for (shape, item_size, expected) in cases {
            assert_eq!(default_chunk_shape(shape, item_size), expected, "{shape:?}");
        }
    }

    #[test]
    fn custom_metadata_must_not_collide() {
        let mut request = PrepareRequest::new(vec![4], DType::UInt8);
        request
            .custom_metadata
            .insert("voxel_size".into(), Value::from(1));
        let result = decide(Path::new("/x.zarr"), None, &request);
        assert!(matches!(
            result,
            Err(ArrayError::CustomMetadataCollision { .. })
        ));
    }
}
