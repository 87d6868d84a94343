//! Short constructors of ROIs and tasks for the unit tests of this crate.

use std::sync::Arc;

use daisy_geometry::Roi;

use crate::{Fit, Task};

/// A bounded ROI.
pub(crate) fn roi(offset: &[i64], shape: &[i64]) -> Roi {
    Roi::from_values(offset, shape).unwrap()
}

/// Task `t` with these ROIs and fit mode, everything else the default.
pub(crate) fn task(total: Roi, read: Roi, write: Roi, fit: Fit) -> Arc<Task> {
    Task::builder("t", total, read, write)
        .fit(fit)
        .build()
        .unwrap()
}

/// The 1-D example of docs/semantics.md#fit-modes (total, read, write): total `[0:12]`, read
/// `[0:5]`, write `[1:4]`.
pub(crate) fn example_1d() -> (Roi, Roi, Roi) {
    (roi(&[0], &[12]), roi(&[0], &[5]), roi(&[1], &[3]))
}
