//! Short constructors of coordinates for the unit tests of this crate.

use crate::{Coordinate, GeometryError};

/// What a fallible unit test returns.
pub(crate) type TestResult = Result<(), GeometryError>;

/// A bounded coordinate.
pub(crate) fn c<const N: usize>(v: [i64; N]) -> Coordinate {
    Coordinate::new(&v).unwrap()
}

/// A coordinate with `None` entries.
pub(crate) fn o<const N: usize>(v: [Option<i64>; N]) -> Coordinate {
    Coordinate::from_options(&v).unwrap()
}
