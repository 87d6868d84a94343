//! [`Coordinate`]: a small tuple of optional integers with element-wise arithmetic.

use std::cmp::Ordering;
use std::fmt;

use crate::arith;
use crate::error::{GeometryError, dimension_mismatch};

/// The largest number of dimensions a [`Coordinate`] (and so a [`Roi`](crate::Roi)) can have.
pub const MAX_DIMS: usize = 8;

/// An integer tuple with element-wise arithmetic, the native form of `funlib.geometry.Coordinate`.
///
/// Each element is an `i64` or `None` (Python's `None`, meaning "unbounded" or "no value"). A
/// coordinate is `Copy` and never allocates: it holds up to [`MAX_DIMS`] values inline.
///
/// Element-wise operations require equal dimensions, propagate `None` (an element that is `None` in
/// either operand is `None` in the result) and are exact: a result that does not fit into an `i64`
/// is a [`GeometryError::Overflow`], never a wrapped value.
///
/// Equality, hashing and ordering are those of the Python tuple: ordering is lexicographic, a
/// shorter prefix sorts first, and `None` sorts before any value (as `Option` does).
///
/// ```
/// use daisy_geometry::Coordinate;
///
/// let shape = Coordinate::new(&[2, 3, 4])?;
/// let voxel_size = Coordinate::new(&[10, 5, 1])?;
/// let size = shape.mul(&voxel_size)?;
/// assert_eq!(size.to_string(), "(20, 15, 4)");
/// assert_eq!(size.mul_scalar(2)?.add_scalar(1)?, Coordinate::new(&[41, 31, 9])?);
/// assert_eq!(Coordinate::new(&[7, -7])?.floor_div_scalar(2)?.to_string(), "(3, -4)");
/// # Ok::<(), daisy_geometry::GeometryError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Coordinate {
    /// The values; slots at or beyond `dims` and slots of `None` elements hold 0.
    values: [i64; MAX_DIMS],
    /// The number of elements, at most [`MAX_DIMS`].
    dims: u8,
    /// Bit `d` is set iff element `d` is `None`; bits at or beyond `dims` are clear.
    none_mask: u8,
}

// Operation phrases used in error messages ("cannot <op> ...").
const OP_ADD: &str = "add coordinates";
const OP_SUB: &str = "subtract coordinates";
const OP_MUL: &str = "multiply coordinates";
const OP_DIV: &str = "divide coordinates";
const OP_FLOOR_DIV: &str = "floor-divide coordinates";
const OP_REM: &str = "take the modulo of coordinates";
const OP_POW: &str = "raise coordinates to a power";
const OP_CEIL_DIV: &str = "ceil-divide coordinates";
const OP_ROUND_DIV: &str = "round-divide coordinates";
const OP_ADD_SCALAR: &str = "add a scalar to coordinate";
const OP_SUB_SCALAR: &str = "subtract a scalar from coordinate";
const OP_MUL_SCALAR: &str = "multiply coordinate by a scalar";
const OP_DIV_SCALAR: &str = "divide coordinate by a scalar";
const OP_FLOOR_DIV_SCALAR: &str = "floor-divide coordinate by a scalar";
const OP_REM_SCALAR: &str = "take the modulo of coordinate by a scalar";
const OP_POW_SCALAR: &str = "raise coordinate to a scalar power";
const OP_CEIL_DIV_SCALAR: &str = "ceil-divide coordinate by a scalar";
const OP_ROUND_DIV_SCALAR: &str = "round-divide coordinate by a scalar";
const OP_NEG: &str = "negate coordinate";
const OP_ABS: &str = "take the absolute value of coordinate";

/// Returns [`GeometryError::TooManyDimensions`] unless `dims <= MAX_DIMS`.
#[inline]
fn check_dims(dims: usize) -> Result<u8, GeometryError> {
    if dims <= MAX_DIMS {
        // MAX_DIMS fits into a u8.
        Ok(dims as u8)
    } else {
        Err(too_many_dimensions(dims))
    }
}

/// Builds a [`GeometryError::TooManyDimensions`].
#[cold]
#[inline(never)]
fn too_many_dimensions(dims: usize) -> GeometryError {
    GeometryError::TooManyDimensions {
        dims,
        max: MAX_DIMS,
    }
}

impl Coordinate {
    /// Creates a bounded coordinate from its values.
    ///
    /// # Errors
    ///
    /// [`GeometryError::TooManyDimensions`] if there are more than [`MAX_DIMS`] values.
    #[inline]
    pub fn new(values: &[i64]) -> Result<Coordinate, GeometryError> {
        let dims = check_dims(values.len())?;
        let mut out = [0; MAX_DIMS];
        for (slot, &v) in out.iter_mut().zip(values) {
            *slot = v;
        }
        Ok(Coordinate {
            values: out,
            dims,
            none_mask: 0,
        })
    }

    /// Creates a coordinate whose elements may be `None`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::TooManyDimensions`] if there are more than [`MAX_DIMS`] values.
    #[inline]
    pub fn from_options(values: &[Option<i64>]) -> Result<Coordinate, GeometryError> {
        let dims = check_dims(values.len())?;
        let mut out = [0; MAX_DIMS];
        let mut none_mask = 0u8;
        for (d, (slot, v)) in out.iter_mut().zip(values).enumerate() {
            match v {
                Some(v) => *slot = *v,
                None => none_mask |= 1 << d,
            }
        }
        Ok(Coordinate {
            values: out,
            dims,
            none_mask,
        })
    }

    /// Creates a coordinate of `dims` elements, all equal to `value`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::TooManyDimensions`] if `dims > MAX_DIMS`.
    #[inline]
    pub fn filled(dims: usize, value: i64) -> Result<Coordinate, GeometryError> {
        let dims = check_dims(dims)?;
        let mut out = [0; MAX_DIMS];
        for slot in out.iter_mut().take(usize::from(dims)) {
            *slot = value;
        }
        Ok(Coordinate {
            values: out,
            dims,
            none_mask: 0,
        })
    }

    /// Creates a coordinate of `dims` elements, all `None`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::TooManyDimensions`] if `dims > MAX_DIMS`.
    #[inline]
    pub fn none(dims: usize) -> Result<Coordinate, GeometryError> {
        let dims = check_dims(dims)?;
        Ok(Coordinate {
            values: [0; MAX_DIMS],
            dims,
            none_mask: active_mask(dims),
        })
    }

    /// The coordinate with zero dimensions, `()`.
    #[inline]
    pub const fn empty() -> Coordinate {
        Coordinate {
            values: [0; MAX_DIMS],
            dims: 0,
            none_mask: 0,
        }
    }

    /// The number of elements.
    #[inline]
    pub fn dims(&self) -> usize {
        usize::from(self.dims)
    }

    /// Element `dim`, or `None` if that element is `None` or `dim >= dims`.
    #[inline]
    pub fn get(&self, dim: usize) -> Option<i64> {
        if dim < self.dims() && self.none_mask & (1 << dim) == 0 {
            self.values.get(dim).copied()
        } else {
            None
        }
    }

    /// Whether no element is `None`.
    #[inline]
    pub fn is_bounded(&self) -> bool {
        self.none_mask == 0
    }

    /// Whether element `dim` is `None` (false for `dim >= dims`).
    #[inline]
    pub fn is_none_at(&self, dim: usize) -> bool {
        dim < self.dims() && self.none_mask & (1 << dim) != 0
    }

    /// The values as a slice, if no element is `None`.
    #[inline]
    pub fn bounded_values(&self) -> Option<&[i64]> {
        if self.none_mask == 0 {
            self.values.get(..self.dims())
        } else {
            None
        }
    }

    /// The values as a slice.
    ///
    /// # Errors
    ///
    /// [`GeometryError::NoneElement`] if an element is `None`.
    #[inline]
    pub fn try_bounded_values(&self) -> Result<&[i64], GeometryError> {
        self.bounded_values()
            .ok_or_else(|| GeometryError::NoneElement {
                what: "coordinate",
                value: self.to_string(),
            })
    }

    /// Iterates over the elements.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = Option<i64>> + '_ {
        (0..self.dims()).map(move |d| self.get(d))
    }

    /// The elements as a vector.
    pub fn to_vec(&self) -> Vec<Option<i64>> {
        self.iter().collect()
    }

    /// The mask of the slots `0..dims`.
    #[inline]
    fn active(&self) -> u8 {
        active_mask(self.dims)
    }

    /// Applies `f` to each pair of non-`None` elements.
    #[inline]
    fn zip_with(
        &self,
        other: &Coordinate,
        op: &'static str,
        f: impl Fn(i64, i64) -> Result<i64, crate::error::Fault>,
    ) -> Result<Coordinate, GeometryError> {
        if self.dims != other.dims {
            return Err(dimension_mismatch(op, self.dims(), other.dims()));
        }
        let none_mask = self.none_mask | other.none_mask;
        let valid = self.active() & !none_mask;
        let mut values = [0; MAX_DIMS];
        for (d, (out, (&a, &b))) in values
            .iter_mut()
            .zip(self.values.iter().zip(other.values.iter()))
            .enumerate()
        {
            if valid & (1 << d) != 0 {
                match f(a, b) {
                    Ok(v) => *out = v,
                    Err(fault) => {
                        return Err(fault.into_error(op, self.to_string(), other.to_string()));
                    }
                }
            }
        }
        Ok(Coordinate {
            values,
            dims: self.dims,
            none_mask,
        })
    }

    /// Applies `f` to each non-`None` element and the scalar `v`.
    #[inline]
    fn map_scalar(
        &self,
        v: i64,
        op: &'static str,
        f: impl Fn(i64, i64) -> Result<i64, crate::error::Fault>,
    ) -> Result<Coordinate, GeometryError> {
        let valid = self.active() & !self.none_mask;
        let mut values = [0; MAX_DIMS];
        for (d, (out, &a)) in values.iter_mut().zip(self.values.iter()).enumerate() {
            if valid & (1 << d) != 0 {
                match f(a, v) {
                    Ok(r) => *out = r,
                    Err(fault) => {
                        return Err(fault.into_error(op, self.to_string(), v.to_string()));
                    }
                }
            }
        }
        Ok(Coordinate {
            values,
            dims: self.dims,
            none_mask: self.none_mask,
        })
    }

    /// Applies `f` to each non-`None` element.
    #[inline]
    fn map_unary(
        &self,
        op: &'static str,
        f: impl Fn(i64) -> Result<i64, crate::error::Fault>,
    ) -> Result<Coordinate, GeometryError> {
        self.map_scalar(0, op, |a, _| f(a)).map_err(|e| match e {
            GeometryError::Overflow { op, left, .. } => GeometryError::Overflow {
                op,
                left,
                right: String::new(),
            },
            other => other,
        })
    }

    /// Element-wise `self + other`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`] or [`GeometryError::Overflow`].
    #[inline]
    pub fn add(&self, other: &Coordinate) -> Result<Coordinate, GeometryError> {
        self.zip_with(other, OP_ADD, arith::add)
    }

    /// Element-wise `self - other`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`] or [`GeometryError::Overflow`].
    #[inline]
    pub fn sub(&self, other: &Coordinate) -> Result<Coordinate, GeometryError> {
        self.zip_with(other, OP_SUB, arith::sub)
    }

    /// Element-wise `self * other`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`] or [`GeometryError::Overflow`].
    #[inline]
    pub fn mul(&self, other: &Coordinate) -> Result<Coordinate, GeometryError> {
        self.zip_with(other, OP_MUL, arith::mul)
    }

    /// Element-wise truncating division, rounding toward zero (Python's `/` on a `Coordinate`).
    ///
    /// `(7, -7) / (2, 2) == (3, -3)`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`], [`GeometryError::DivisionByZero`] or
    /// [`GeometryError::Overflow`] (`i64::MIN / -1`).
    #[inline]
    pub fn div(&self, other: &Coordinate) -> Result<Coordinate, GeometryError> {
        self.zip_with(other, OP_DIV, arith::div)
    }

    /// Element-wise floor division, rounding toward negative infinity (Python's `//`).
    ///
    /// `(7, -7) // (2, 2) == (3, -4)`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`], [`GeometryError::DivisionByZero`] or
    /// [`GeometryError::Overflow`] (`i64::MIN // -1`).
    #[inline]
    pub fn floor_div(&self, other: &Coordinate) -> Result<Coordinate, GeometryError> {
        self.zip_with(other, OP_FLOOR_DIV, arith::floor_div)
    }

    /// Element-wise floor modulo, whose sign follows the divisor (Python's `%`).
    ///
    /// `(7, -7) % (3, 3) == (1, 2)`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`] or [`GeometryError::DivisionByZero`].
    #[inline]
    pub fn rem(&self, other: &Coordinate) -> Result<Coordinate, GeometryError> {
        self.zip_with(other, OP_REM, arith::rem)
    }

    /// Element-wise power `self ** other`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`], [`GeometryError::NegativeExponent`] (Python would
    /// compute a float) or [`GeometryError::Overflow`].
    #[inline]
    pub fn pow(&self, other: &Coordinate) -> Result<Coordinate, GeometryError> {
        self.zip_with(other, OP_POW, arith::pow)
    }

    /// Adds `v` to every element.
    ///
    /// # Errors
    ///
    /// [`GeometryError::Overflow`].
    #[inline]
    pub fn add_scalar(&self, v: i64) -> Result<Coordinate, GeometryError> {
        self.map_scalar(v, OP_ADD_SCALAR, arith::add)
    }

    /// Subtracts `v` from every element.
    ///
    /// # Errors
    ///
    /// [`GeometryError::Overflow`].
    #[inline]
    pub fn sub_scalar(&self, v: i64) -> Result<Coordinate, GeometryError> {
        self.map_scalar(v, OP_SUB_SCALAR, arith::sub)
    }

    /// Multiplies every element by `v`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::Overflow`].
    #[inline]
    pub fn mul_scalar(&self, v: i64) -> Result<Coordinate, GeometryError> {
        self.map_scalar(v, OP_MUL_SCALAR, arith::mul)
    }

    /// Divides every element by `v`, rounding toward zero.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DivisionByZero`] (if `v == 0` and some element is not `None`) or
    /// [`GeometryError::Overflow`].
    #[inline]
    pub fn div_scalar(&self, v: i64) -> Result<Coordinate, GeometryError> {
        self.map_scalar(v, OP_DIV_SCALAR, arith::div)
    }

    /// Floor-divides every element by `v`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DivisionByZero`] (if `v == 0` and some element is not `None`) or
    /// [`GeometryError::Overflow`].
    #[inline]
    pub fn floor_div_scalar(&self, v: i64) -> Result<Coordinate, GeometryError> {
        self.map_scalar(v, OP_FLOOR_DIV_SCALAR, arith::floor_div)
    }

    /// The floor modulo of every element by `v`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DivisionByZero`] (if `v == 0` and some element is not `None`).
    #[inline]
    pub fn rem_scalar(&self, v: i64) -> Result<Coordinate, GeometryError> {
        self.map_scalar(v, OP_REM_SCALAR, arith::rem)
    }

    /// Raises every element to the power `v`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::NegativeExponent`] or [`GeometryError::Overflow`].
    #[inline]
    pub fn pow_scalar(&self, v: i64) -> Result<Coordinate, GeometryError> {
        self.map_scalar(v, OP_POW_SCALAR, arith::pow)
    }

    /// `self // other` (funlib's `floor_division`).
    ///
    /// # Errors
    ///
    /// As [`Coordinate::floor_div`].
    #[inline]
    pub fn floor_division(&self, other: &Coordinate) -> Result<Coordinate, GeometryError> {
        self.floor_div(other)
    }

    /// `(self + other - 1) // other` (funlib's `ceil_division`), computed without intermediate overflow.
    ///
    /// `(5, 6).ceil_division((2, 4)) == (3, 2)`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`], [`GeometryError::DivisionByZero`] or
    /// [`GeometryError::Overflow`] (only if the result does not fit).
    #[inline]
    pub fn ceil_division(&self, other: &Coordinate) -> Result<Coordinate, GeometryError> {
        self.zip_with(other, OP_CEIL_DIV, arith::ceil_division)
    }

    /// `(self + (other - 1) // 2) // other` (funlib's `round_division`), which rounds halves down.
    ///
    /// `(5, 6).round_division((2, 4)) == (2, 1)`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`], [`GeometryError::DivisionByZero`] or
    /// [`GeometryError::Overflow`] (only if the result does not fit).
    #[inline]
    pub fn round_division(&self, other: &Coordinate) -> Result<Coordinate, GeometryError> {
        self.zip_with(other, OP_ROUND_DIV, arith::round_division)
    }

    /// `(self + v - 1) // v` for every element.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DivisionByZero`] or [`GeometryError::Overflow`].
    #[inline]
    pub fn ceil_division_scalar(&self, v: i64) -> Result<Coordinate, GeometryError> {
        self.map_scalar(v, OP_CEIL_DIV_SCALAR, arith::ceil_division)
    }

    /// `(self + (v - 1) // 2) // v` for every element.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DivisionByZero`] or [`GeometryError::Overflow`].
    #[inline]
    pub fn round_division_scalar(&self, v: i64) -> Result<Coordinate, GeometryError> {
        self.map_scalar(v, OP_ROUND_DIV_SCALAR, arith::round_division)
    }

    /// Element-wise negation; `None` elements stay `None`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::Overflow`] for an element `i64::MIN`.
    #[inline]
    pub fn neg(&self) -> Result<Coordinate, GeometryError> {
        self.map_unary(OP_NEG, arith::neg)
    }

    /// Element-wise absolute value; `None` elements stay `None`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::Overflow`] for an element `i64::MIN`.
    #[inline]
    pub fn abs(&self) -> Result<Coordinate, GeometryError> {
        self.map_unary(OP_ABS, arith::abs)
    }

    /// Whether every element is a multiple of the matching element of `other`.
    ///
    /// Elements are paired up to the shorter length (extra elements are ignored). A pair with a
    /// `None` or a zero divisor is not a multiple (Python would raise there).
    /// `(4, 6)` is a multiple of `(2, 3)`, `(4, 7)` is not.
    pub fn is_multiple_of(&self, other: &Coordinate) -> bool {
        self.iter().zip(other.iter()).all(|pair| match pair {
            (Some(a), Some(b)) => arith::is_multiple(a, b),
            _ => false,
        })
    }

    /// Removes dimension `dim`: `(1, 2, 3).squeeze(1) == (1, 3)`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionOutOfRange`] if `dim >= dims` (funlib silently returns the
    /// coordinate unchanged there).
    pub fn squeeze(&self, dim: usize) -> Result<Coordinate, GeometryError> {
        if dim >= self.dims() {
            return Err(GeometryError::DimensionOutOfRange {
                dim,
                dims: self.dims(),
            });
        }
        let mut values = [0; MAX_DIMS];
        let mut none_mask = 0u8;
        for (out, d) in (0..self.dims()).filter(|&d| d != dim).enumerate() {
            if let Some(slot) = values.get_mut(out) {
                match self.get(d) {
                    Some(v) => *slot = v,
                    None => none_mask |= 1 << out,
                }
            }
        }
        Ok(Coordinate {
            values,
            dims: self.dims - 1,
            none_mask,
        })
    }

    /// The number of elements as stored.
    #[inline]
    pub(crate) fn dims_u8(&self) -> u8 {
        self.dims
    }

    /// The raw value slots (0 for `None` elements and unused slots).
    #[inline]
    pub(crate) fn raw(&self) -> &[i64; MAX_DIMS] {
        &self.values
    }

    /// The bitmask of `None` elements.
    #[inline]
    pub(crate) fn none_mask(&self) -> u8 {
        self.none_mask
    }

    /// Builds a coordinate from raw parts; the caller guarantees the invariants
    /// (`dims <= MAX_DIMS`, zeroed `None` and unused slots, no mask bits at or beyond `dims`).
    #[inline]
    pub(crate) fn from_raw(values: [i64; MAX_DIMS], dims: u8, none_mask: u8) -> Coordinate {
        Coordinate {
            values,
            dims,
            none_mask,
        }
    }
}

/// The bitmask of the slots `0..dims` (`dims <= MAX_DIMS`).
#[inline]
pub(crate) fn active_mask(dims: u8) -> u8 {
    // dims <= 8, so the shift stays inside u16 and the result fits into u8.
    ((1u16 << dims) - 1) as u8
}

impl Default for Coordinate {
    /// The empty coordinate `()`.
    fn default() -> Self {
        Coordinate::empty()
    }
}

impl fmt::Display for Coordinate {
    /// Formats like a Python tuple: `(5, 7, 9)`, `(5,)`, `()`, with `None` for a `None` element.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (d, v) in self.iter().enumerate() {
            if d > 0 {
                f.write_str(", ")?;
            }
            match v {
                Some(v) => write!(f, "{v}")?,
                None => f.write_str("None")?,
            }
        }
        if self.dims == 1 {
            f.write_str(",")?;
        }
        f.write_str(")")
    }
}

impl fmt::Debug for Coordinate {
    /// Same as [`Display`](fmt::Display): the Python tuple repr.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl PartialOrd for Coordinate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Coordinate {
    /// Lexicographic, like a tuple of `Option<i64>`: a shorter prefix first, `None` before any value.
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

impl TryFrom<&[i64]> for Coordinate {
    type Error = GeometryError;

    fn try_from(values: &[i64]) -> Result<Self, Self::Error> {
        Coordinate::new(values)
    }
}

impl TryFrom<Vec<i64>> for Coordinate {
    type Error = GeometryError;

    fn try_from(values: Vec<i64>) -> Result<Self, Self::Error> {
        Coordinate::new(&values)
    }
}

impl TryFrom<&Vec<i64>> for Coordinate {
    type Error = GeometryError;

    fn try_from(values: &Vec<i64>) -> Result<Self, Self::Error> {
        Coordinate::new(values)
    }
}

impl<const N: usize> TryFrom<[i64; N]> for Coordinate {
    type Error = GeometryError;

    fn try_from(values: [i64; N]) -> Result<Self, Self::Error> {
        Coordinate::new(&values)
    }
}

impl TryFrom<&[Option<i64>]> for Coordinate {
    type Error = GeometryError;

    fn try_from(values: &[Option<i64>]) -> Result<Self, Self::Error> {
        Coordinate::from_options(values)
    }
}

impl TryFrom<Vec<Option<i64>>> for Coordinate {
    type Error = GeometryError;

    fn try_from(values: Vec<Option<i64>>) -> Result<Self, Self::Error> {
        Coordinate::from_options(&values)
    }
}

impl<const N: usize> TryFrom<[Option<i64>; N]> for Coordinate {
    type Error = GeometryError;

    fn try_from(values: [Option<i64>; N]) -> Result<Self, Self::Error> {
        Coordinate::from_options(&values)
    }
}

impl From<Coordinate> for Vec<Option<i64>> {
    fn from(c: Coordinate) -> Self {
        c.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::test_values::{TestResult, c, o};

    #[test]
    fn construction() -> TestResult {
        let a = Coordinate::new(&[1, 2, 3])?;
        assert_eq!(a.dims(), 3);
        assert_eq!(a.to_vec(), vec![Some(1), Some(2), Some(3)]);
        assert_eq!(Coordinate::try_from([1, 2, 3])?, a);
        assert_eq!(Coordinate::try_from(vec![1, 2, 3])?, a);
        assert_eq!(Coordinate::try_from(&[1i64, 2, 3][..])?, a);
        assert_eq!(Coordinate::try_from([Some(1), Some(2), Some(3)])?, a);
        assert_eq!(Coordinate::try_from(vec![Some(1), Some(2), Some(3)])?, a);
        assert_eq!(Coordinate::from_options(&[Some(1), Some(2), Some(3)])?, a);
        assert_eq!(Coordinate::filled(3, 7)?, c([7, 7, 7]));
        assert_eq!(Coordinate::none(2)?.to_vec(), vec![None, None]);
        assert_eq!(Coordinate::empty().dims(), 0);
        assert_eq!(Coordinate::default(), Coordinate::empty());
        assert_eq!(Coordinate::new(&[])?, Coordinate::empty());
        assert_eq!(Coordinate::new(&[0; MAX_DIMS])?.dims(), MAX_DIMS);
        Ok(())
    }

    #[test]
    fn too_many_dimensions() {
        let err = GeometryError::TooManyDimensions { dims: 9, max: 8 };
        assert_eq!(Coordinate::new(&[0; 9]), Err(err.clone()));
        assert_eq!(Coordinate::from_options(&[None; 9]), Err(err.clone()));
        assert_eq!(Coordinate::filled(9, 1), Err(err.clone()));
        assert_eq!(Coordinate::none(9), Err(err.clone()));
        assert_eq!(Coordinate::try_from([0i64; 9]), Err(err));
    }

    #[test]
    fn accessors() {
        let a = o([Some(1), None, Some(3)]);
        assert_eq!(a.get(0), Some(1));
        assert_eq!(a.get(1), None);
        assert_eq!(a.get(2), Some(3));
        assert_eq!(a.get(3), None);
        assert_eq!(a.get(100), None);
        assert!(!a.is_bounded());
        assert!(a.is_none_at(1));
        assert!(!a.is_none_at(0));
        assert!(!a.is_none_at(5));
        assert_eq!(a.bounded_values(), None);
        assert!(matches!(
            a.try_bounded_values(),
            Err(GeometryError::NoneElement { .. })
        ));
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![Some(1), None, Some(3)]);
        let b = c([4, 5]);
        assert!(b.is_bounded());
        assert_eq!(b.bounded_values(), Some(&[4, 5][..]));
        assert_eq!(b.try_bounded_values(), Ok(&[4, 5][..]));
        assert_eq!(Coordinate::empty().bounded_values(), Some(&[][..]));
        assert_eq!(Vec::from(b), vec![Some(4), Some(5)]);
    }

    #[test]
    fn equality_and_hash_ignore_unused_slots() -> TestResult {
        // A None element produced by arithmetic equals one constructed directly.
        let a = o([Some(5), None]).add(&c([1, 2]))?;
        assert_eq!(a, o([Some(6), None]));
        let squeezed = c([1, 2, 3]).squeeze(2)?;
        assert_eq!(squeezed, c([1, 2]));
        let set: HashSet<Coordinate> = [a, o([Some(6), None]), squeezed, c([1, 2])]
            .into_iter()
            .collect();
        assert_eq!(set.len(), 2);
        assert_ne!(c([1, 2]), c([1, 2, 0]));
        assert_ne!(o([None]), c([0]));
        Ok(())
    }

    #[test]
    fn ordering_is_lexicographic_like_a_tuple() {
        assert!(c([1, 2]) < c([1, 3]));
        assert!(c([1, 2]) < c([2, 0]));
        assert!(c([1, 2]) < c([1, 2, 0]));
        assert!(Coordinate::empty() < c([0]));
        assert!(o([None, Some(5)]) < c([0, 0]));
        assert!(o([Some(0), None]) < c([0, -100]));
        let mut v = vec![c([2, 1]), c([1, 2, 3]), c([1, 2]), c([-1, 9])];
        v.sort();
        assert_eq!(v, vec![c([-1, 9]), c([1, 2]), c([1, 2, 3]), c([2, 1])]);
    }

    #[test]
    fn repr_is_the_python_tuple_repr() {
        assert_eq!(c([5, 7, 9]).to_string(), "(5, 7, 9)");
        assert_eq!(c([5]).to_string(), "(5,)");
        assert_eq!(Coordinate::empty().to_string(), "()");
        assert_eq!(o([Some(-1), None]).to_string(), "(-1, None)");
        assert_eq!(o([None]).to_string(), "(None,)");
        assert_eq!(format!("{:?}", c([5, 7, 9])), "(5, 7, 9)");
    }

    #[test]
    fn squeeze_removes_one_dimension() -> TestResult {
        // docs/semantics.md#geometry: Coordinate(1,2,3).squeeze(1) == (1, 3)
        assert_eq!(c([1, 2, 3]).squeeze(1)?, c([1, 3]));
        assert_eq!(c([1, 2, 3]).squeeze(0)?, c([2, 3]));
        assert_eq!(o([None, Some(2), None]).squeeze(1)?, o([None, None]));
        assert_eq!(o([Some(1), None, Some(3)]).squeeze(0)?, o([None, Some(3)]));
        assert_eq!(c([1]).squeeze(0)?, Coordinate::empty());
        assert_eq!(
            c([1, 2]).squeeze(2),
            Err(GeometryError::DimensionOutOfRange { dim: 2, dims: 2 })
        );
        assert!(Coordinate::empty().squeeze(0).is_err());
        Ok(())
    }

    #[test]
    fn is_multiple_of_pairs_up_to_the_shorter_length() {
        // docs/semantics.md#geometry: (4,6) of (2,3) -> True, (4,7) -> False.
        assert!(c([4, 6]).is_multiple_of(&c([2, 3])));
        assert!(!c([4, 7]).is_multiple_of(&c([2, 3])));
        assert!(c([4, 6, 7]).is_multiple_of(&c([2, 3])));
        assert!(c([4]).is_multiple_of(&c([2, 3])));
        assert!(c([-4, 6]).is_multiple_of(&c([2, -3])));
        assert!(!o([None, Some(6)]).is_multiple_of(&c([2, 3])));
        assert!(!c([4, 6]).is_multiple_of(&o([Some(2), None])));
        assert!(!c([4, 6]).is_multiple_of(&c([0, 3])));
    }

    #[test]
    fn binary_operators() -> TestResult {
        let a = c([1, 2, 3]);
        let b = c([4, 5, 6]);
        assert_eq!(a.add(&b)?, c([5, 7, 9]));
        assert_eq!(a.sub(&b)?, c([-3, -3, -3]));
        assert_eq!(a.mul(&b)?, c([4, 10, 18]));
        assert_eq!(b.div(&a)?, c([4, 2, 2]));
        assert_eq!(b.floor_div(&a)?, c([4, 2, 2]));
        assert_eq!(b.rem(&a)?, c([0, 1, 0]));
        assert_eq!(a.pow(&c([3, 2, 0]))?, c([1, 4, 1]));
        // The class docstring example.
        let size = c([2, 3, 4]).mul(&c([10, 5, 1]))?;
        assert_eq!(size, c([20, 15, 4]));
        assert_eq!(size.mul_scalar(2)?.add_scalar(1)?, c([41, 31, 9]));
        Ok(())
    }

    #[test]
    fn division_semantics() -> TestResult {
        // docs/semantics.md#geometry: / truncates, // floors, % is the floor modulo.
        assert_eq!(c([7, -7]).div_scalar(2)?, c([3, -3]));
        assert_eq!(c([-6]).div(&c([4]))?, c([-1]));
        assert_eq!(c([7, -7]).floor_div_scalar(2)?, c([3, -4]));
        assert_eq!(c([7, -7]).rem_scalar(3)?, c([1, 2]));
        assert_eq!(c([7, -7]).rem_scalar(-3)?, c([-2, -1]));
        assert_eq!(c([7, -7]).floor_div(&c([2, 2]))?, c([3, -4]));
        assert_eq!(c([7, -7]).rem(&c([3, 3]))?, c([1, 2]));
        Ok(())
    }

    #[test]
    fn division_by_zero_is_an_error() {
        let a = c([1, 2]);
        for r in [
            a.div(&c([1, 0])),
            a.floor_div(&c([1, 0])),
            a.rem(&c([1, 0])),
            a.ceil_division(&c([1, 0])),
            a.round_division(&c([1, 0])),
            a.div_scalar(0),
            a.floor_div_scalar(0),
            a.rem_scalar(0),
            a.ceil_division_scalar(0),
            a.round_division_scalar(0),
        ] {
            assert!(
                matches!(r, Err(GeometryError::DivisionByZero { .. })),
                "{r:?}"
            );
        }
        assert_eq!(
            a.div(&c([1, 0])).map_err(|e| e.to_string()),
            Err("division by zero: cannot divide coordinates (1, 2) and (1, 0)".to_owned())
        );
        assert_eq!(
            a.div_scalar(0).map_err(|e| e.to_string()),
            Err("division by zero: cannot divide coordinate by a scalar (1, 2) and 0".to_owned())
        );
    }

    #[test]
    fn none_propagates() -> TestResult {
        let a = o([Some(1), None]);
        let b = o([None, Some(2)]);
        assert_eq!(a.add(&b)?, o([None, None]));
        assert_eq!(a.add(&c([1, 1]))?, o([Some(2), None]));
        assert_eq!(a.mul_scalar(3)?, o([Some(3), None]));
        // A None element is never divided, so it cannot divide by zero.
        assert_eq!(a.div(&c([1, 0]))?, o([Some(1), None]));
        assert_eq!(a.rem(&o([Some(2), Some(0)]))?, o([Some(1), None]));
        assert_eq!(o([None]).div_scalar(0)?, o([None]));
        assert_eq!(o([None]).pow_scalar(-1)?, o([None]));
        Ok(())
    }

    #[test]
    fn dimension_mismatch_is_an_error() {
        let a = c([1, 2]);
        let b = c([1, 2, 3]);
        let expected = GeometryError::DimensionMismatch {
            op: "add coordinates",
            left: 2,
            right: 3,
        };
        assert_eq!(a.add(&b), Err(expected.clone()));
        assert_eq!(
            expected.to_string(),
            "cannot add coordinates of different dimensions: 2 and 3"
        );
        for r in [
            a.sub(&b),
            a.mul(&b),
            a.div(&b),
            a.floor_div(&b),
            a.rem(&b),
            a.pow(&b),
            a.floor_division(&b),
            a.ceil_division(&b),
            a.round_division(&b),
        ] {
            assert!(
                matches!(
                    r,
                    Err(GeometryError::DimensionMismatch {
                        left: 2,
                        right: 3,
                        ..
                    })
                ),
                "{r:?}"
            );
        }
    }

    #[test]
    fn overflow_is_an_error() {
        let max = c([i64::MAX]);
        let min = c([i64::MIN]);
        assert!(matches!(
            max.add(&c([1])),
            Err(GeometryError::Overflow { .. })
        ));
        assert!(matches!(
            min.sub(&c([1])),
            Err(GeometryError::Overflow { .. })
        ));
        assert!(matches!(
            max.mul_scalar(2),
            Err(GeometryError::Overflow { .. })
        ));
        assert!(matches!(
            min.div_scalar(-1),
            Err(GeometryError::Overflow { .. })
        ));
        assert!(matches!(
            min.floor_div_scalar(-1),
            Err(GeometryError::Overflow { .. })
        ));
        assert!(matches!(
            c([2]).pow_scalar(64),
            Err(GeometryError::Overflow { .. })
        ));
        assert_eq!(min.rem_scalar(-1), Ok(c([0])));
        assert_eq!(
            min.neg().map_err(|e| e.to_string()),
            Err("integer overflow: cannot negate coordinate (-9223372036854775808,)".to_owned())
        );
        assert!(matches!(min.abs(), Err(GeometryError::Overflow { .. })));
        assert_eq!(
            max.add(&c([1])).map_err(|e| e.to_string()),
            Err(
                "integer overflow: cannot add coordinates (9223372036854775807,) and (1,)"
                    .to_owned()
            )
        );
        // ceil_division has no intermediate overflow: (MAX + 2 - 1) // 2 fits.
        assert_eq!(max.ceil_division_scalar(2), Ok(c([i64::MAX / 2 + 1])));
    }

    #[test]
    fn negative_exponent_is_an_error() {
        assert!(matches!(
            c([2]).pow(&c([-1])),
            Err(GeometryError::NegativeExponent { .. })
        ));
        assert!(matches!(
            c([2]).pow_scalar(-1),
            Err(GeometryError::NegativeExponent { .. })
        ));
    }

    #[test]
    fn rounding_divisions() -> TestResult {
        // docs/semantics.md#geometry: Coordinate(5,6).round_division(Coordinate(2,4)) == (2, 1); ceil_division (3, 2).
        let a = c([5, 6]);
        let b = c([2, 4]);
        assert_eq!(a.round_division(&b)?, c([2, 1]));
        assert_eq!(a.ceil_division(&b)?, c([3, 2]));
        assert_eq!(a.floor_division(&b)?, c([2, 1]));
        assert_eq!(a.ceil_division_scalar(4)?, c([2, 2]));
        assert_eq!(a.round_division_scalar(4)?, c([1, 1]));
        assert_eq!(c([-3, 3]).round_division_scalar(4)?, c([-1, 1]));
        assert_eq!(
            o([None, Some(3)]).ceil_division(&c([2, 2]))?,
            o([None, Some(2)])
        );
        Ok(())
    }

    #[test]
    fn unary_operators_keep_none() -> TestResult {
        // docs/semantics.md#geometry: -Coordinate(1,None) == (-1, None)
        assert_eq!(o([Some(1), None]).neg()?, o([Some(-1), None]));
        assert_eq!(o([Some(-1), None]).abs()?, o([Some(1), None]));
        assert_eq!(c([3, -4, 0]).abs()?, c([3, 4, 0]));
        Ok(())
    }
}
