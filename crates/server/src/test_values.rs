//! Tasks for the unit tests of this crate.

use daisy_core::{Task, TaskBuilder};
use daisy_geometry::Roi;

/// Task `t` of `n` independent blocks of one element each (`[0:n]`, read and write `[0:1]`).
pub(crate) fn independent_blocks(n: i64) -> TaskBuilder {
    Task::builder(
        "t",
        Roi::from_values(&[0], &[n]).unwrap(),
        Roi::from_values(&[0], &[1]).unwrap(),
        Roi::from_values(&[0], &[1]).unwrap(),
    )
}
