//! Chunked arrays addressed in world units: Zarr v2 and v3 arrays on a filesystem store (over
//! the `zarrs` crate), read and written by daisy's [`Roi`](daisy_geometry::Roi).

// Errors carry the ROIs they name by value (a `Roi` holds its coordinates inline), so
// `ArrayError` is large; it is only built on the error path.
#![allow(clippy::result_large_err)]

mod array;
mod chunk_cache;
mod chunk_io;
mod chunk_lock;
mod dtype;
mod error;
mod layout;
mod metadata;
mod metadata_format;
mod options;
mod pool;
mod prepare;
mod store;
mod subset;
mod zarr_node;

pub use array::Array;
pub use chunk_io::ArrayStats;
pub use dtype::{DType, Element};
pub use error::ArrayError;
pub use layout::{ArrayLayout, RegionCopy, ToNdarrayPlan};
pub use metadata::{
    ArrayMetadata, MetadataOverrides, TYPE_CHANNEL, TYPE_SPACE, TYPE_TIME, default_axis_names,
    is_physical_type, type_from_axis_name,
};
pub use metadata_format::{AttributeOrder, CONFIG_FILE_NAME, MetadataFormat, config_paths};
/// The ndarray version zarrs uses, so that users need not match versions.
pub use ndarray;
pub use options::{Compression, CreateOptions, DEFAULT_CACHE_BYTES, Mode, OpenOptions, ZarrFormat};
pub use pool::{io_threads, set_io_threads};
pub use prepare::{ExistingArray, PrepareDecision, PrepareRequest, decide, default_chunk_shape};
