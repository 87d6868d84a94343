//! The error type of the crate.

/// An error from a geometry operation.
///
/// Every case where `funlib.geometry` raises an exception (an assertion error, `ZeroDivisionError`,
/// `RuntimeError`) maps to one of these variants; the crate never panics on bad input. Messages are
/// lowercase and carry the offending values.
///
/// The `op` fields hold a short phrase naming the operation, written so that it reads in the message,
/// e.g. `"add coordinates"` gives `cannot add coordinates of different dimensions: 2 and 3`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GeometryError {
    /// The operands of an element-wise operation have different numbers of dimensions.
    #[error("cannot {op} of different dimensions: {left} and {right}")]
    DimensionMismatch {
        /// The operation, e.g. `"add coordinates"`.
        op: &'static str,
        /// Dimensions of the left operand.
        left: usize,
        /// Dimensions of the right operand.
        right: usize,
    },

    /// More dimensions than [`MAX_DIMS`](crate::MAX_DIMS) were requested.
    #[error("too many dimensions: {dims} (at most {max} are supported)")]
    TooManyDimensions {
        /// The requested number of dimensions.
        dims: usize,
        /// The supported maximum, [`MAX_DIMS`](crate::MAX_DIMS).
        max: usize,
    },

    /// A division or modulo by a zero element (Python's `ZeroDivisionError`).
    #[error("division by zero: cannot {op} {left} and {right}")]
    DivisionByZero {
        /// The operation, e.g. `"divide coordinates"`.
        op: &'static str,
        /// The left operand, printed.
        left: String,
        /// The right operand, printed.
        right: String,
    },

    /// An exact result does not fit into an `i64`.
    #[error("integer overflow: cannot {op} {}", operands(.left, .right))]
    Overflow {
        /// The operation, e.g. `"multiply coordinates"`.
        op: &'static str,
        /// The left operand (the only one of a unary operation), printed.
        left: String,
        /// The right operand, printed; empty for a unary operation.
        right: String,
    },

    /// A negative exponent in [`Coordinate::pow`](crate::Coordinate::pow) (the result would not be an integer).
    #[error("negative exponent: cannot {op} {left} and {right}")]
    NegativeExponent {
        /// The operation, e.g. `"raise coordinates to a power"`.
        op: &'static str,
        /// The base, printed.
        left: String,
        /// The exponent, printed.
        right: String,
    },

    /// A snap mode other than `grow`, `shrink` or `closest`.
    #[error("unknown mode {mode} for snap_to_grid")]
    UnknownSnapMode {
        /// The mode that was given.
        mode: String,
    },

    /// A voxel size with a zero element was given to [`Roi::snap_to_grid`](crate::Roi::snap_to_grid).
    #[error("voxel size cannot contain zero: {voxel_size}")]
    ZeroVoxelSize {
        /// The voxel size, printed.
        voxel_size: String,
    },

    /// A dimension index is not below the number of dimensions.
    #[error("dimension {dim} is out of range for {dims} dimensions")]
    DimensionOutOfRange {
        /// The requested dimension.
        dim: usize,
        /// The number of dimensions.
        dims: usize,
    },

    /// A coordinate has a `None` element where a value is required.
    #[error("{what} must not contain None: {value}")]
    NoneElement {
        /// What was required to be bounded, e.g. `"coordinate"`.
        what: &'static str,
        /// The value, printed.
        value: String,
    },
}

/// Joins the printed operands of an operation: `"left and right"`, or `"left"` for a unary operation.
fn operands(left: &str, right: &str) -> String {
    if right.is_empty() {
        left.to_owned()
    } else {
        format!("{left} and {right}")
    }
}

/// A failure of one element-wise integer operation, before it is given its context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The exact result does not fit into an `i64`.
    Overflow,
    /// Division or modulo by zero.
    DivisionByZero,
    /// A negative exponent.
    NegativeExponent,
}

impl Fault {
    /// Turns the fault into a [`GeometryError`] naming the operation and its operands.
    #[cold]
    #[inline(never)]
    pub(crate) fn into_error(self, op: &'static str, left: String, right: String) -> GeometryError {
        match self {
            Fault::Overflow => GeometryError::Overflow { op, left, right },
            Fault::DivisionByZero => GeometryError::DivisionByZero { op, left, right },
            Fault::NegativeExponent => GeometryError::NegativeExponent { op, left, right },
        }
    }
}

/// Builds a [`GeometryError::DimensionMismatch`].
#[cold]
#[inline(never)]
pub(crate) fn dimension_mismatch(op: &'static str, left: usize, right: usize) -> GeometryError {
    GeometryError::DimensionMismatch { op, left, right }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_carry_the_values() {
        let e = GeometryError::DimensionMismatch {
            op: "add coordinates",
            left: 2,
            right: 3,
        };
        assert_eq!(
            e.to_string(),
            "cannot add coordinates of different dimensions: 2 and 3"
        );
        let e = GeometryError::TooManyDimensions { dims: 9, max: 8 };
        assert_eq!(
            e.to_string(),
            "too many dimensions: 9 (at most 8 are supported)"
        );
        let e = GeometryError::UnknownSnapMode {
            mode: "nearest".into(),
        };
        assert_eq!(e.to_string(), "unknown mode nearest for snap_to_grid");
        let e = GeometryError::ZeroVoxelSize {
            voxel_size: "(4, 0)".into(),
        };
        assert_eq!(e.to_string(), "voxel size cannot contain zero: (4, 0)");
        let e = GeometryError::DimensionOutOfRange { dim: 3, dims: 2 };
        assert_eq!(
            e.to_string(),
            "dimension 3 is out of range for 2 dimensions"
        );
        let e = GeometryError::NoneElement {
            what: "coordinate",
            value: "(1, None)".into(),
        };
        assert_eq!(e.to_string(), "coordinate must not contain None: (1, None)");
    }

    #[test]
    fn faults_become_errors() {
        let e =
            Fault::DivisionByZero.into_error("divide coordinates", "(1,)".into(), "(0,)".into());
        assert_eq!(
            e.to_string(),
            "division by zero: cannot divide coordinates (1,) and (0,)"
        );
        let e = Fault::Overflow.into_error(
            "negate coordinate",
            "(-9223372036854775808,)".into(),
            String::new(),
        );
        assert!(matches!(e, GeometryError::Overflow { .. }));
        assert_eq!(
            e.to_string(),
            "integer overflow: cannot negate coordinate (-9223372036854775808,)"
        );
        let e = Fault::Overflow.into_error(
            "add coordinates",
            "(9223372036854775807,)".into(),
            "(1,)".into(),
        );
        assert_eq!(
            e.to_string(),
            "integer overflow: cannot add coordinates (9223372036854775807,) and (1,)"
        );
        let e = Fault::NegativeExponent.into_error(
            "raise coordinates to a power",
            "(2,)".into(),
            "(-1,)".into(),
        );
        assert_eq!(
            e.to_string(),
            "negative exponent: cannot raise coordinates to a power (2,) and (-1,)"
        );
    }
}
