//! How to open and create arrays: [`Mode`], [`OpenOptions`], [`CreateOptions`], [`Compression`],
//! [`ZarrFormat`].

use std::fmt;
use std::str::FromStr;

use crate::dtype::DType;
use crate::error::ArrayError;
use crate::metadata::{ArrayMetadata, MetadataOverrides};
use crate::metadata_format::MetadataFormat;

/// The default size of an array's cache of decoded chunks: 64 MiB.
///
/// Enough for the 27 chunks of 64³ (float32: 27 MiB) that an 80³ read with context touches, with
/// room for the next block's; see the crate docs for the measurement behind it.
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

/// How an array is opened, as zarr's mode strings say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// `"r"`: read only; the array must exist.
    #[default]
    Read,
    /// `"r+"`: read and write; the array must exist.
    ReadWrite,
    /// `"a"`: read and write; `prepare` creates the array if it does not exist.
    Append,
    /// `"w"`: read and write; `prepare` (re)creates the array.
    Write,
    /// `"w-"`: read and write; creating fails if the array exists.
    WriteNew,
}

impl Mode {
    /// The zarr mode string, e.g. `"r+"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Read => "r",
            Mode::ReadWrite => "r+",
            Mode::Append => "a",
            Mode::Write => "w",
            Mode::WriteNew => "w-",
        }
    }

    /// Whether arrays opened in this mode can be written.
    #[must_use]
    pub fn is_writeable(self) -> bool {
        self != Mode::Read
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = ArrayError;

    fn from_str(mode: &str) -> Result<Mode, ArrayError> {
        match mode {
            "r" => Ok(Mode::Read),
            "r+" => Ok(Mode::ReadWrite),
            "a" => Ok(Mode::Append),
            "w" => Ok(Mode::Write),
            "w-" => Ok(Mode::WriteNew),
            _ => Err(ArrayError::InvalidMode {
                mode: mode.to_string(),
            }),
        }
    }
}

impl TryFrom<&str> for Mode {
    type Error = ArrayError;

    fn try_from(mode: &str) -> Result<Mode, ArrayError> {
        mode.parse()
    }
}

/// How to open an existing array.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The mode: [`Mode::Read`] (default) or a writeable one (`r+`, `a`, `w`, `w-` all open an
    /// existing array for writing).
    pub mode: Mode,
    /// Where the metadata lives in the attributes.
    pub format: MetadataFormat,
    /// Metadata that overrides what the attributes say.
    pub overrides: MetadataOverrides,
    /// Capacity of the array's cache of decoded chunks in bytes (0: no cache).
    pub cache_bytes: usize,
    /// Require complete, consistent metadata (funlib's `strict_metadata`).
    pub strict_metadata: bool,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions {
            mode: Mode::Read,
            format: MetadataFormat::default(),
            overrides: MetadataOverrides::default(),
            cache_bytes: DEFAULT_CACHE_BYTES,
            strict_metadata: false,
        }
    }
}

impl OpenOptions {
    /// Default options with `mode`.
    #[must_use]
    pub fn with_mode(mode: Mode) -> OpenOptions {
        OpenOptions {
            mode,
            ..OpenOptions::default()
        }
    }
}

/// The Zarr format version of a new array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ZarrFormat {
    /// Zarr v2 (`.zarray`, `.zattrs`).
    V2,
    /// Zarr v3 (`zarr.json`), the default.
    #[default]
    V3,
}

impl TryFrom<u8> for ZarrFormat {
    type Error = ArrayError;

    fn try_from(version: u8) -> Result<ZarrFormat, ArrayError> {
        match version {
            2 => Ok(ZarrFormat::V2),
            3 => Ok(ZarrFormat::V3),
            _ => Err(ArrayError::InvalidOptions {
                reason: format!("zarr format {version} is not 2 or 3"),
            }),
        }
    }
}

/// The compression of a new array's chunks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Compression {
    /// No compression.
    None,
    /// zstd at a level (funlib.persistence 0.7 and zarr-python 3 write level 0 by default).
    Zstd {
        /// Compression level (-131072..=22; 0 is zstd's default, 3).
        level: i32,
    },
    /// gzip at a level (0..=9).
    Gzip {
        /// Compression level.
        level: u32,
    },
    /// blosc with a compressor, level and shuffle, as numcodecs' `Blosc`.
    Blosc {
        /// The compressor: `"blosclz"`, `"lz4"`, `"lz4hc"`, `"zlib"` or `"zstd"`.
        cname: String,
        /// Compression level (0..=9).
        clevel: u8,
        /// 0: no shuffle, 1: byte shuffle, 2: bit shuffle.
        shuffle: u8,
    },
    /// The default: zstd level 0.
    #[default]
    Default,
}

impl Compression {
    /// The compression with defaults resolved (`Default` becomes zstd level 0).
    #[must_use]
    pub fn resolved(&self) -> Compression {
        match self {
            Compression::Default => Compression::Zstd { level: 0 },
            other => other.clone(),
        }
    }
}

/// How to create an array: shape, chunks, dtype, metadata, compression.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Shape in voxels, every dimension (channel dimensions first).
    pub shape: Vec<u64>,
    /// Chunk shape; `None` chooses it as funlib.persistence's `prepare_ds` does.
    pub chunk_shape: Option<Vec<u64>>,
    /// With sharding: the shape of one shard (a multiple of the chunk shape), written as one file.
    pub shard_shape: Option<Vec<u64>>,
    /// The element type.
    pub dtype: DType,
    /// The daisy metadata (offset, voxel size, ...); `None`: the defaults for `shape`.
    pub metadata: Option<ArrayMetadata>,
    /// Further attributes (keys must not collide with the metadata's).
    pub custom_attributes: serde_json::Map<String, serde_json::Value>,
    /// Where the metadata is written in the attributes.
    pub format: MetadataFormat,
    /// Zarr v3 (default) or v2.
    pub zarr_format: ZarrFormat,
    /// The chunks' compression (default: zstd level 0).
    pub compression: Compression,
    /// The fill value in zarr's JSON form (`0`, `1.5`, `"NaN"`, `true`); `None`: zero.
    pub fill_value: Option<serde_json::Value>,
    /// Replace an existing array at the path (otherwise creating over one is an error).
    pub overwrite: bool,
    /// Capacity of the new array's cache of decoded chunks in bytes.
    pub cache_bytes: usize,
}

impl CreateOptions {
    /// Options for an array of `shape` and `dtype`, everything else default.
    #[must_use]
    pub fn new(shape: Vec<u64>, dtype: DType) -> CreateOptions {
        CreateOptions {
            shape,
            chunk_shape: None,
            shard_shape: None,
            dtype,
            metadata: None,
            custom_attributes: serde_json::Map::new(),
            format: MetadataFormat::default(),
            zarr_format: ZarrFormat::V3,
            compression: Compression::Default,
            fill_value: None,
            overwrite: false,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_from_zarr_strings() {
        for mode in [
            Mode::Read,
            Mode::ReadWrite,
            Mode::Append,
            Mode::Write,
            Mode::WriteNew,
        ] {
            assert_eq!(mode.as_str().parse::<Mode>().unwrap(), mode);
        }
        let error = Mode::try_from("rw").unwrap_err();
        assert!(error.to_string().contains("\"rw\""), "{error}");
        assert!(!Mode::Read.is_writeable());
        assert!(Mode::Append.is_writeable());
    }

    #[test]
    fn defaults() {
        assert_eq!(
            Compression::Default.resolved(),
            Compression::Zstd { level: 0 }
        );
        assert_eq!(ZarrFormat::try_from(2).unwrap(), ZarrFormat::V2);
        assert!(ZarrFormat::try_from(4).is_err());
        let options = CreateOptions::new(vec![4], DType::UInt8);
        assert_eq!(options.zarr_format, ZarrFormat::V3);
        assert_eq!(OpenOptions::default().mode, Mode::Read);
    }
}
