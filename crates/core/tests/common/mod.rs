//! ROIs shared by the integration tests of daisy-core: the worked examples of
//! docs/semantics.md#fit-modes and #levels-and-conflicts.

use daisy_geometry::Roi;

/// A bounded ROI.
pub fn roi(offset: &[i64], shape: &[i64]) -> Roi {
    Roi::from_values(offset, shape).unwrap()
}

/// The 1-D example (total, read, write): total `[0:12]`, read `[0:5]`, write `[1:4]`; blocks
/// write at 1, 4, 7 (fit valid) and also at 10 (overhang, shrink).
pub fn example_1d() -> (Roi, Roi, Roi) {
    (roi(&[0], &[12]), roi(&[0], &[5]), roi(&[1], &[3]))
}

/// The 2-D example (total, read, write): a 6×6 total, read 3×3, write 1×1 at (1, 1); 16
/// blocks in 4 levels.
pub fn example_2d() -> (Roi, Roi, Roi) {
    (
        roi(&[0, 0], &[6, 6]),
        roi(&[0, 0], &[3, 3]),
        roi(&[1, 1], &[1, 1]),
    )
}
