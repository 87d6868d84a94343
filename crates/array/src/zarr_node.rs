//! The zarr side of an array's directory: checking what a path holds, opening it with zarrs over
//! the counting store, and the `zarr.json` / `.zarray` of a new array (codecs, sharding, fill
//! value), written as JSON so that what lands on disk is what zarr-python writes.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use zarrs::array::{ArrayMetadata as ZarrMetadata, ArrayMetadataOptions};

use crate::dtype::DType;
use crate::error::ArrayError;
use crate::options::{Compression, CreateOptions, ZarrFormat};
use crate::store::CountingStore;

/// The zarrs array under an [`Array`](crate::Array).
pub(crate) type ZarrArray = zarrs::array::Array<CountingStore>;

/// Whether the path holds something zarrs should open, and what it is if not.
pub(crate) fn check_is_array(path: &Path) -> Result<(), ArrayError> {
    let not_an_array = |reason: &str| ArrayError::NotAnArray {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(ArrayError::NotFound {
                path: path.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(ArrayError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if !metadata.is_dir() {
        return Err(not_an_array("it is a file, not a directory"));
    }
    let zarr_json = path.join("zarr.json");
    if zarr_json.is_file() {
        let text = std::fs::read(&zarr_json).map_err(|source| ArrayError::Io {
            path: zarr_json.clone(),
            source,
        })?;
        let value: Value = serde_json::from_slice(&text)
            .map_err(|error| not_an_array(&format!("zarr.json is not valid JSON ({error})")))?;
        return match value.get("node_type").and_then(Value::as_str) {
            Some("array") => Ok(()),
            Some("group") => Err(not_an_array("it is a zarr group")),
            Some(other) => Err(not_an_array(&format!("zarr.json has node_type {other:?}"))),
            None => Err(not_an_array("zarr.json has no node_type")),
        };
    }
    if path.join(".zarray").is_file() {
        return Ok(());
    }
    if path.join(".zgroup").is_file() {
        return Err(not_an_array("it is a zarr v2 group"));
    }
    if path.join("attributes.json").is_file() {
        return Err(not_an_array(
            "it looks like an N5 dataset (attributes.json); N5 cannot be read, convert it to zarr",
        ));
    }
    Err(not_an_array("a directory without zarr.json or .zarray"))
}

/// How metadata is written: as given (no `_zarrs` attribute, no version conversion).
pub(crate) fn metadata_options() -> ArrayMetadataOptions {
    ArrayMetadataOptions::default().with_include_zarrs_metadata(false)
}

/// Opens the zarr array at `path` (checked with [`check_is_array`]) over a counting store.
pub(crate) fn open_zarr(path: &Path) -> Result<(ZarrArray, Arc<CountingStore>), ArrayError> {
    let store = Arc::new(CountingStore::new(path)?);
    let zarr =
        ZarrArray::open(Arc::clone(&store), "/").map_err(|error| ArrayError::NotAnArray {
            path: path.to_path_buf(),
            reason: format!("zarrs cannot open it: {error}"),
        })?;
    Ok((zarr, store))
}

/// Whether a zarr node (array or group, v2 or v3) exists at the path.
pub(crate) fn is_zarr_node(path: &Path) -> bool {
    ["zarr.json", ".zarray", ".zgroup"]
        .iter()
        .any(|name| path.join(name).is_file())
}

/// The v3 codec JSON of a compression.
fn v3_compressor(compression: &Compression, dtype: DType) -> Result<Option<Value>, ArrayError> {
    Ok(match compression.resolved() {
        Compression::None | Compression::Default => None,
        Compression::Zstd { level } => Some(json!({
            "name": "zstd", "configuration": {"level": level, "checksum": false}
        })),
        Compression::Gzip { level } => Some(json!({
            "name": "gzip", "configuration": {"level": level}
        })),
        Compression::Blosc {
            cname,
            clevel,
            shuffle,
        } => {
            let shuffle = match shuffle {
                0 => "noshuffle",
                1 => "shuffle",
                2 => "bitshuffle",
                other => {
                    return Err(ArrayError::InvalidOptions {
                        reason: format!("blosc shuffle {other} is not 0, 1 or 2"),
                    });
                }
            };
            Some(json!({
                "name": "blosc",
                "configuration": {
                    "cname": cname, "clevel": clevel, "shuffle": shuffle,
                    "typesize": dtype.size_of(), "blocksize": 0
                }
            }))
        }
    })
}

/// The v2 compressor JSON of a compression.
fn v2_compressor(compression: &Compression) -> Result<Value, ArrayError> {
    Ok(match compression.resolved() {
        Compression::None | Compression::Default => Value::Null,
        Compression::Zstd { level } => json!({"id": "zstd", "level": level}),
        Compression::Gzip { level } => json!({"id": "gzip", "level": level}),
        Compression::Blosc {
            cname,
            clevel,
            shuffle,
        } => {
            if shuffle > 2 {
                return Err(ArrayError::InvalidOptions {
                    reason: format!("blosc shuffle {shuffle} is not 0, 1 or 2"),
                });
            }
            json!({"id": "blosc", "cname": cname, "clevel": clevel, "shuffle": shuffle, "blocksize": 0})
        }
    })
}

/// The zarr metadata of a new array.
pub(crate) fn new_metadata(
    options: &CreateOptions,
    chunk_shape: &[u64],
    attributes: Map<String, Value>,
) -> Result<ZarrMetadata, ArrayError> {
    let invalid = |reason: String| ArrayError::InvalidOptions { reason };
    let fill_value = options
        .fill_value
        .clone()
        .unwrap_or_else(|| options.dtype.zero_json());
    match options.zarr_format {
        ZarrFormat::V3 => {
            let bytes = json!({"name": "bytes", "configuration": {"endian": "little"}});
            let mut codecs = vec![bytes.clone()];
            codecs.extend(v3_compressor(&options.compression, options.dtype)?);
            let (grid_chunks, codecs) = match &options.shard_shape {
                None => (chunk_shape.to_vec(), codecs),
                Some(shard_shape) => {
                    let fits = shard_shape.len() == chunk_shape.len()
                        && shard_shape
                            .iter()
                            .zip(chunk_shape)
                            .all(|(&shard, &chunk)| shard > 0 && shard % chunk == 0);
                    if !fits {
                        return Err(invalid(format!(
                            "shard shape {shard_shape:?} is not a multiple of the chunk shape {chunk_shape:?}"
                        )));
                    }
                    let sharding = json!({
                        "name": "sharding_indexed",
                        "configuration": {
                            "chunk_shape": chunk_shape,
                            "codecs": codecs,
                            "index_codecs": [bytes, {"name": "crc32c"}],
                            "index_location": "end"
                        }
                    });
                    (shard_shape.clone(), vec![sharding])
                }
            };
            let metadata = json!({
                "zarr_format": 3,
                "node_type": "array",
                "shape": options.shape,
                "data_type": options.dtype.name(),
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": grid_chunks}},
                "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
                "fill_value": fill_value,
                "codecs": codecs,
                "attributes": attributes,
            });
            serde_json::from_value(metadata)
                .map(ZarrMetadata::V3)
                .map_err(|error| invalid(format!("zarr v3 metadata: {error}")))
        }
        ZarrFormat::V2 => {
            if options.shard_shape.is_some() {
                return Err(invalid("zarr v2 has no sharding".to_string()));
            }
            let metadata = json!({
                "zarr_format": 2,
                "shape": options.shape,
                "chunks": chunk_shape,
                "dtype": options.dtype.typestr(),
                "compressor": v2_compressor(&options.compression)?,
                "fill_value": fill_value,
                "order": "C",
                "filters": null,
                "dimension_separator": ".",
                "attributes": attributes,
            });
            serde_json::from_value(metadata)
                .map(ZarrMetadata::V2)
                .map_err(|error| invalid(format!("zarr v2 metadata: {error}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressors_in_zarr_json() {
        assert_eq!(
            v3_compressor(&Compression::Default, DType::UInt8).unwrap(),
            Some(json!({"name": "zstd", "configuration": {"level": 0, "checksum": false}}))
        );
        assert_eq!(
            v3_compressor(&Compression::None, DType::UInt8).unwrap(),
            None
        );
        assert_eq!(
            v2_compressor(&Compression::Gzip { level: 5 }).unwrap(),
            json!({"id": "gzip", "level": 5})
        );
        let bad = Compression::Blosc {
            cname: "lz4".into(),
            clevel: 5,
            shuffle: 3,
        };
        assert!(v3_compressor(&bad, DType::UInt8).is_err());
        assert!(v2_compressor(&bad).is_err());
    }
}
