//! Chunked arrays addressed in world units: Zarr v2 and v3 arrays on a filesystem store (over
//! the `zarrs` crate), read and written by daisy's [`Roi`](daisy_geometry::Roi).

mod array;
mod chunk_cache;
mod dtype;
mod error;
mod layout;
mod metadata;
mod metadata_format;
mod prepare;
mod subset;

pub use dtype::{DType, Element};
pub use error::ArrayError;
/// The ndarray version zarrs uses, so that users need not match versions.
pub use ndarray;
