//! What the end-to-end tests share.

use daisy::{Roi, Task, TaskBuilder};

/// An n×n grid of 10×10 write blocks with one voxel of context.
pub fn grid(id: &str, n: i64) -> TaskBuilder {
    Task::builder(
        id,
        Roi::from_values(&[0, 0], &[n * 10 + 2, n * 10 + 2]).unwrap(),
        Roi::from_values(&[0, 0], &[12, 12]).unwrap(),
        Roi::from_values(&[1, 1], &[10, 10]).unwrap(),
    )
}
