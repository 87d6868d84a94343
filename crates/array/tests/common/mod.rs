//! Helpers shared by the array integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use daisy_array::{Array, CreateOptions, DType};
use daisy_geometry::Roi;

/// A temporary directory and a path inside it for an array.
pub fn array_path(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    (dir, path)
}

/// Options for an array of `shape` in chunks of `chunk_shape`.
pub fn options(shape: &[u64], chunk_shape: &[u64], dtype: DType) -> CreateOptions {
    let mut options = CreateOptions::new(shape.to_vec(), dtype);
    options.chunk_shape = Some(chunk_shape.to_vec());
    options
}

/// A ROI from offset and shape.
pub fn roi(offset: &[i64], shape: &[i64]) -> Roi {
    Roi::from_values(offset, shape).expect("valid roi")
}

/// Creates an array.
pub fn create(path: &std::path::Path, options: &CreateOptions) -> Array {
    Array::create(path, options).expect("create array")
}
