//! [`Roi`]: an axis-aligned box given by an offset and a shape.

use std::fmt;

use crate::arith;
use crate::coordinate::{Coordinate, MAX_DIMS};
use crate::error::{Fault, GeometryError, dimension_mismatch};
use crate::slice::Slice;
use crate::snap_mode::SnapMode;

/// A region of interest: an axis-aligned box `[offset, offset + shape)`, the native form of
/// `funlib.geometry.Roi` (0.3.0).
///
/// A `None` shape element makes the ROI unbounded in that dimension; the offset is then `None` there
/// too (*consolidation*, applied by every constructor). Special forms:
///
/// | form | offset | shape | printed |
/// |---|---|---|---|
/// | unbounded ([`Roi::unbounded`]) | `(None, …)` | `(None, …)` | `[:, :] (inf, inf)` |
/// | empty ([`Roi::empty`], a failed intersection) | `(None, …)` | `(0, …)` | `[empty ROI]` |
/// | empty with a kept offset | `(3,)` | `(0,)` | `[empty ROI]` |
/// | partially unbounded | `(None, 2)` | `(None, 3)` | `[:, 2:5] (inf, 3)` |
///
/// A ROI is empty if any shape element is `<= 0`. Equality compares offset and shape after
/// consolidation, so `Roi((None,),(0,)) != Roi((0,),(0,))`.
///
/// Invariant: in each dimension with an offset and a shape, `offset + shape` fits into an `i64`, so
/// [`Roi::end`] and [`Roi::center`] are exact and infallible. A construction that would break this
/// returns [`GeometryError::Overflow`].
///
/// ```
/// use daisy_geometry::{Coordinate, Roi, SnapMode};
///
/// let a = Roi::from_values(&[0, 0], &[5, 5])?;
/// let b = Roi::from_values(&[3, 3], &[5, 5])?;
/// assert_eq!(a.intersect(&b)?.to_string(), "[3:5, 3:5] (2, 2)");
/// assert_eq!(a.union(&b)?.to_string(), "[0:8, 0:8] (8, 8)");
/// assert_eq!(a.grow_scalar(1, 2)?.to_string(), "[-1:7, -1:7] (8, 8)");
///
/// let roi = Roi::from_values(&[5, 11], &[10, 10])?;
/// let snapped = roi.snap_to_grid(&Coordinate::new(&[4, 4])?, SnapMode::Grow)?;
/// assert_eq!(snapped.to_string(), "[4:16, 8:24] (12, 16)");
/// # Ok::<(), daisy_geometry::GeometryError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Roi {
    /// The offset, `None` wherever the shape is `None`.
    offset: Coordinate,
    /// The shape, of the same dimensions as the offset.
    shape: Coordinate,
}

// Operation phrases used in error messages ("cannot <op> ...").
const OP_NEW: &str = "create a ROI from offset and shape";
const OP_BEGIN_END: &str = "create a ROI from begin and end";
const OP_INTERSECT: &str = "intersect ROIs";
const OP_UNION: &str = "compute the union of ROIs";
const OP_SHIFT: &str = "shift a ROI by a coordinate";
const OP_GROW: &str = "grow a ROI by a coordinate";
const OP_SNAP: &str = "snap a ROI to a voxel size";
const OP_MUL: &str = "multiply a ROI by a coordinate";
const OP_DIV: &str = "divide a ROI by a coordinate";
const OP_FLOOR_DIV: &str = "floor-divide a ROI by a coordinate";
const OP_REM: &str = "take the modulo of a ROI by a coordinate";
const OP_SIZE: &str = "compute the size of a ROI with shape";

/// Builds the error for an offset and shape whose end does not fit into an `i64`.
#[cold]
#[inline(never)]
fn end_overflow(offset: &Coordinate, shape: &Coordinate) -> GeometryError {
    Fault::Overflow.into_error(OP_NEW, offset.to_string(), shape.to_string())
}

/// Whether a point element `p` lies in the axis interval `[b, e)`, with `None` bounds unbounded.
#[inline]
fn axis_contains(b: Option<i64>, e: Option<i64>, p: Option<i64>) -> bool {
    b.is_none_or(|b| p.is_some_and(|p| p >= b)) && e.is_none_or(|e| p.is_some_and(|p| p < e))
}

/// Per-dimension `(offset, shape)` pairs before consolidation, assembled into a [`Roi`].
struct Parts {
    offset: [Option<i64>; MAX_DIMS],
    shape: [Option<i64>; MAX_DIMS],
}

impl Parts {
    /// All `None`.
    fn new() -> Parts {
        Parts {
            offset: [None; MAX_DIMS],
            shape: [None; MAX_DIMS],
        }
    }

    /// Builds the ROI of the first `dims` slots (consolidating and checking the end).
    fn build(&self, dims: usize) -> Result<Roi, GeometryError> {
        let offset = Coordinate::from_options(self.offset.get(..dims).unwrap_or(&[]))?;
        let shape = Coordinate::from_options(self.shape.get(..dims).unwrap_or(&[]))?;
        Roi::new(offset, shape)
    }
}

impl Roi {
    /// Creates a ROI from its offset and shape, setting the offset to `None` wherever the shape is `None`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`] if the dimensions differ, [`GeometryError::Overflow`] if
    /// `offset + shape` does not fit into an `i64`.
    #[inline]
    pub fn new(offset: Coordinate, shape: Coordinate) -> Result<Roi, GeometryError> {
        if offset.dims() != shape.dims() {
            return Err(dimension_mismatch(OP_NEW, offset.dims(), shape.dims()));
        }
        let none_mask = offset.none_mask() | shape.none_mask();
        let mut values = *offset.raw();
        let mut fits = true;
        for (d, (o, &s)) in values.iter_mut().zip(shape.raw().iter()).enumerate() {
            if none_mask & (1 << d) != 0 {
                *o = 0;
            }
            // Unused and None slots hold 0 in `shape`, so only real pairs can overflow.
            fits &= o.checked_add(s).is_some();
        }
        if !fits {
            return Err(end_overflow(&offset, &shape));
        }
        // `values` keeps the offset's dims; None and unused slots are 0.
        let offset = Coordinate::from_raw(values, shape.dims_u8(), none_mask);
        Ok(Roi { offset, shape })
    }

    /// Creates a bounded ROI from fixed-size arrays, of which the first `dims` entries count.
    ///
    /// The cheap constructor for hot loops: no error value to build or move. `None` if `dims`
    /// exceeds [`MAX_DIMS`] or an end `offset + shape` overflows.
    #[inline]
    #[must_use]
    pub fn from_arrays(
        offset: &[i64; MAX_DIMS],
        shape: &[i64; MAX_DIMS],
        dims: usize,
    ) -> Option<Roi> {
        if dims > MAX_DIMS {
            return None;
        }
        let (mut o, mut s) = ([0; MAX_DIMS], [0; MAX_DIMS]);
        let mut fits = true;
        for d in 0..dims {
            o[d] = offset[d];
            s[d] = shape[d];
            fits &= offset[d].checked_add(shape[d]).is_some();
        }
        fits.then(|| Roi {
            offset: Coordinate::from_raw(o, dims as u8, 0),
            shape: Coordinate::from_raw(s, dims as u8, 0),
        })
    }

    /// Creates a bounded ROI from offset and shape values.
    ///
    /// # Errors
    ///
    /// As [`Roi::new`], plus [`GeometryError::TooManyDimensions`].
    #[inline]
    pub fn from_values(offset: &[i64], shape: &[i64]) -> Result<Roi, GeometryError> {
        Roi::new(Coordinate::new(offset)?, Coordinate::new(shape)?)
    }

    /// Creates the ROI `[begin, end)`, i.e. `Roi::new(begin, end - begin)`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`] or [`GeometryError::Overflow`].
    pub fn from_begin_end(begin: &Coordinate, end: &Coordinate) -> Result<Roi, GeometryError> {
        if begin.dims() != end.dims() {
            return Err(dimension_mismatch(OP_BEGIN_END, begin.dims(), end.dims()));
        }
        Roi::new(*begin, end.sub(begin)?)
    }

    /// The unbounded ROI of `dims` dimensions: offset and shape all `None`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::TooManyDimensions`].
    #[inline]
    pub fn unbounded(dims: usize) -> Result<Roi, GeometryError> {
        let none = Coordinate::none(dims)?;
        Ok(Roi {
            offset: none,
            shape: none,
        })
    }

    /// The empty ROI of `dims` dimensions: offset all `None`, shape all 0 (`[empty ROI]`).
    ///
    /// # Errors
    ///
    /// [`GeometryError::TooManyDimensions`].
    #[inline]
    pub fn empty(dims: usize) -> Result<Roi, GeometryError> {
        Ok(Roi {
            offset: Coordinate::none(dims)?,
            shape: Coordinate::filled(dims, 0)?,
        })
    }

    /// The offset (`None` where the ROI is unbounded or has no offset).
    #[inline]
    pub fn offset(&self) -> Coordinate {
        self.offset
    }

    /// The shape (`None` where the ROI is unbounded).
    #[inline]
    pub fn shape(&self) -> Coordinate {
        self.shape
    }

    /// The smallest coordinate inside the ROI: the offset.
    #[inline]
    pub fn begin(&self) -> Coordinate {
        self.offset
    }

    /// The smallest coordinate beyond the ROI in every dimension: `offset + shape`, `None` propagating.
    #[inline]
    pub fn end(&self) -> Coordinate {
        // Exact: `Roi::new` checked that the sum fits.
        self.offset_plus(|s| s)
    }

    /// The center `offset + shape / 2` (truncating division), `None` propagating.
    ///
    /// `Roi((1,2),(3,5)).center == (2, 4)`, `Roi((-1,),(3,)).center == (0,)`.
    #[inline]
    pub fn center(&self) -> Coordinate {
        // Exact: the result lies between offset and offset + shape.
        self.offset_plus(|s| s / 2)
    }

    /// `offset + part(shape)` in every bounded dimension, `None` propagating; `part` must keep
    /// the sum within `offset..=offset + shape` (the sum is not checked).
    #[inline]
    fn offset_plus(&self, part: impl Fn(i64) -> i64) -> Coordinate {
        // The offset is None wherever the shape is, so its mask is the mask of the sum.
        let none_mask = self.offset.none_mask();
        let mut values = [0; MAX_DIMS];
        for (d, (out, (&o, &s))) in values
            .iter_mut()
            .zip(self.offset.raw().iter().zip(self.shape.raw().iter()))
            .enumerate()
        {
            if none_mask & (1 << d) == 0 {
                *out = o.wrapping_add(part(s));
            }
        }
        Coordinate::from_raw(values, self.shape.dims_u8(), none_mask)
    }

    /// The number of dimensions.
    #[inline]
    pub fn dims(&self) -> usize {
        self.shape.dims()
    }

    /// The product of the shape, `None` if the ROI is unbounded (may be `<= 0` for an empty ROI).
    ///
    /// Saturates at `i128::MIN`/`i128::MAX` in the (only theoretical) case that the product does not
    /// fit; [`Roi::try_size`] reports that instead.
    pub fn size(&self) -> Option<i128> {
        let values = self.shape.bounded_values()?;
        Some(
            values
                .iter()
                .fold(1i128, |acc, &v| acc.saturating_mul(i128::from(v))),
        )
    }

    /// The product of the shape, `None` if the ROI is unbounded, computed exactly.
    ///
    /// # Errors
    ///
    /// [`GeometryError::Overflow`] if the product does not fit into an `i128`.
    pub fn try_size(&self) -> Result<Option<i128>, GeometryError> {
        let Some(values) = self.shape.bounded_values() else {
            return Ok(None);
        };
        let mut acc = 1i128;
        for &v in values {
            acc = acc.checked_mul(i128::from(v)).ok_or_else(|| {
                Fault::Overflow.into_error(OP_SIZE, self.shape.to_string(), String::new())
            })?;
        }
        Ok(Some(acc))
    }

    /// Whether the ROI is empty: some shape element is not `None` and `<= 0`.
    #[inline]
    pub fn is_empty(&self) -> bool {
        (0..self.dims()).any(|d| self.shape.get(d).is_some_and(|s| s <= 0))
    }

    /// Whether some shape element is `None`.
    #[inline]
    pub fn is_unbounded(&self) -> bool {
        !self.shape.is_bounded()
    }

    /// The ROI with a new offset (consolidated against the current shape; funlib's `set_offset`).
    ///
    /// # Errors
    ///
    /// As [`Roi::new`].
    #[inline]
    pub fn with_offset(&self, offset: Coordinate) -> Result<Roi, GeometryError> {
        Roi::new(offset, self.shape)
    }

    /// The ROI with a new shape (the current offset is kept and re-consolidated; funlib's `set_shape`).
    ///
    /// # Errors
    ///
    /// As [`Roi::new`].
    #[inline]
    pub fn with_shape(&self, shape: Coordinate) -> Result<Roi, GeometryError> {
        Roi::new(self.offset, shape)
    }

    /// Begin and end of dimension `d` (`None` for an unbounded dimension or a `None` offset).
    #[inline]
    fn bounds(&self, d: usize) -> (Option<i64>, Option<i64>) {
        match (self.offset.get(d), self.shape.get(d)) {
            // Exact: `Roi::new` checked that the sum fits.
            (Some(o), Some(s)) => (Some(o), Some(o.wrapping_add(s))),
            (o, _) => (o, None),
        }
    }

    /// Whether this ROI contains `other` (funlib's `contains` with a `Roi` argument).
    ///
    /// - `other` empty: true iff this ROI is empty or contains `other.begin()` as a point. So
    ///   `[0:10]` contains `Roi((5,),(0,))` but not `Roi((10,),(0,))`, and an empty ROI with a `None`
    ///   offset is contained in an unbounded ROI but not in a bounded one.
    /// - otherwise: true iff this ROI contains the points `other.begin()` and `other.end() - 1`.
    ///
    /// The point rules of [`Roi::contains_point`] apply, so dimensions are not required to match.
    pub fn contains(&self, other: &Roi) -> bool {
        if other.is_empty() {
            return self.is_empty() || self.contains_coordinate(&other.begin());
        }
        if other.dims() < self.dims() {
            return false;
        }
        (0..self.dims()).all(|d| {
            let (b, e) = self.bounds(d);
            let (ob, oe) = other.bounds(d);
            // `other` is not empty, so a bounded end is at least begin + 1: no wrap.
            axis_contains(b, e, ob) && axis_contains(b, e, oe.map(|oe| oe.wrapping_sub(1)))
        })
    }

    /// Whether this ROI contains a point (funlib's `contains` with an iterable argument).
    ///
    /// Per dimension: `(b is None or (p is not None and p >= b)) and (e is None or (p is not None and
    /// p < e))`. False if the point has fewer elements than [`Roi::dims`]; extra trailing elements are
    /// ignored. An unbounded dimension accepts any element, including `None`.
    pub fn contains_point(&self, point: &[Option<i64>]) -> bool {
        point.len() >= self.dims()
            && point.iter().enumerate().take(self.dims()).all(|(d, &p)| {
                let (b, e) = self.bounds(d);
                axis_contains(b, e, p)
            })
    }

    /// Whether this ROI contains the point `point`; see [`Roi::contains_point`].
    pub fn contains_coordinate(&self, point: &Coordinate) -> bool {
        point.dims() >= self.dims()
            && (0..self.dims()).all(|d| {
                let (b, e) = self.bounds(d);
                axis_contains(b, e, point.get(d))
            })
    }

    /// Whether the ROIs overlap. Touching ROIs (`[0:5]` and `[5:10]`) do not intersect; an empty ROI
    /// intersects nothing; a `None` bound never separates.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`].
    pub fn intersects(&self, other: &Roi) -> Result<bool, GeometryError> {
        if self.dims() != other.dims() {
            return Err(dimension_mismatch(OP_INTERSECT, self.dims(), other.dims()));
        }
        if self.is_empty() || other.is_empty() {
            return Ok(false);
        }
        let separated = (0..self.dims()).any(|d| match (self.bounds(d), other.bounds(d)) {
            ((Some(b1), Some(e1)), (Some(b2), Some(e2))) => b1 >= e2 || b2 >= e1,
            _ => false,
        });
        Ok(!separated)
    }

    /// The intersection: the empty form ([`Roi::empty`]) if the ROIs do not intersect, otherwise
    /// `[max(b1, b2), min(e1, e2))` with `None` counting as −∞ for begins and +∞ for ends.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`].
    pub fn intersect(&self, other: &Roi) -> Result<Roi, GeometryError> {
        if !self.intersects(other)? {
            return Roi::empty(self.dims());
        }
        let mut parts = Parts::new();
        for d in 0..self.dims() {
            let ((b1, e1), (b2, e2)) = (self.bounds(d), other.bounds(d));
            let begin = match (b1, b2) {
                (Some(x), Some(y)) => Some(x.max(y)),
                (x, None) => x,
                (None, y) => y,
            };
            let end = match (e1, e2) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, None) => x,
                (None, y) => y,
            };
            Self::set_begin_end(&mut parts, d, begin, end, OP_INTERSECT)?;
        }
        parts.build(self.dims())
    }

    /// The union as a bounding box: `[min(b1, b2), max(e1, e2))`, `None` if either is `None`. If one
    /// ROI is empty, the other is returned unchanged.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`] (funlib pairs dimensions up to the shorter length there), or
    /// [`GeometryError::Overflow`] if the bounding box is too large for an `i64` shape.
    pub fn union(&self, other: &Roi) -> Result<Roi, GeometryError> {
        if self.dims() != other.dims() {
            return Err(dimension_mismatch(OP_UNION, self.dims(), other.dims()));
        }
        if self.is_empty() {
            return Ok(*other);
        }
        if other.is_empty() {
            return Ok(*self);
        }
        let mut parts = Parts::new();
        for d in 0..self.dims() {
            let ((b1, e1), (b2, e2)) = (self.bounds(d), other.bounds(d));
            let begin = b1.zip(b2).map(|(x, y)| x.min(y));
            let end = e1.zip(e2).map(|(x, y)| x.max(y));
            Self::set_begin_end(&mut parts, d, begin, end, OP_UNION)?;
        }
        parts.build(self.dims())
    }

    /// Stores `Roi(begin, end - begin)` for dimension `d` into `parts`.
    fn set_begin_end(
        parts: &mut Parts,
        d: usize,
        begin: Option<i64>,
        end: Option<i64>,
        op: &'static str,
    ) -> Result<(), GeometryError> {
        let shape =
            match (begin, end) {
                (Some(b), Some(e)) => Some(arith::sub(e, b).map_err(|fault| {
                    fault.into_error(op, format!("begin {b}"), format!("end {e}"))
                })?),
                _ => None,
            };
        if let (Some(o), Some(s)) = (parts.offset.get_mut(d), parts.shape.get_mut(d)) {
            *o = begin;
            *s = shape;
        }
        Ok(())
    }

    /// The ROI moved by `by`: `Roi(offset + by, shape)`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`] or [`GeometryError::Overflow`].
    #[inline]
    pub fn shift(&self, by: &Coordinate) -> Result<Roi, GeometryError> {
        if self.dims() != by.dims() {
            return Err(dimension_mismatch(OP_SHIFT, self.dims(), by.dims()));
        }
        Roi::new(self.offset.add(by)?, self.shape)
    }

    /// The ROI moved by `by` in every dimension.
    ///
    /// # Errors
    ///
    /// [`GeometryError::Overflow`].
    #[inline]
    pub fn shift_scalar(&self, by: i64) -> Result<Roi, GeometryError> {
        Roi::new(self.offset.add_scalar(by)?, self.shape)
    }

    /// The ROI grown by `amount_neg` below and `amount_pos` above: `Roi(offset - neg, shape + neg + pos)`.
    ///
    /// Negative amounts shrink; a `None` amount makes that dimension unbounded; `None` dimensions
    /// stay `None`. `[0:10, 0:10].grow((1, 0), (0, 3)) == [-1:10, 0:13]`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`] or [`GeometryError::Overflow`].
    pub fn grow(
        &self,
        amount_neg: &Coordinate,
        amount_pos: &Coordinate,
    ) -> Result<Roi, GeometryError> {
        for amount in [amount_neg, amount_pos] {
            if self.dims() != amount.dims() {
                return Err(dimension_mismatch(OP_GROW, self.dims(), amount.dims()));
            }
        }
        let offset = self.offset.sub(amount_neg)?;
        let mut parts = Parts::new();
        for d in 0..self.dims() {
            let shape = match (self.shape.get(d), amount_neg.get(d), amount_pos.get(d)) {
                (Some(s), Some(n), Some(p)) => Some(arith::add3(s, n, p).map_err(|fault| {
                    fault.into_error(
                        OP_GROW,
                        self.to_string(),
                        format!("{amount_neg} and {amount_pos}"),
                    )
                })?),
                _ => None,
            };
            if let (Some(o), Some(s)) = (parts.offset.get_mut(d), parts.shape.get_mut(d)) {
                *o = offset.get(d);
                *s = shape;
            }
        }
        parts.build(self.dims())
    }

    /// The ROI grown by `amount_neg` below and `amount_pos` above in every dimension.
    ///
    /// `[0:10, 0:10].grow(1, 2) == [-1:12, -1:12]`; `.grow(-2, -2) == [2:8, 2:8]`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::Overflow`].
    pub fn grow_scalar(&self, amount_neg: i64, amount_pos: i64) -> Result<Roi, GeometryError> {
        let dims = self.dims();
        self.grow(
            &Coordinate::filled(dims, amount_neg)?,
            &Coordinate::filled(dims, amount_pos)?,
        )
    }

    /// Aligns the ROI with a grid of voxel size `voxel_size`; see [`SnapMode`].
    ///
    /// In voxel units the begin and end are rounded per mode, and the result is
    /// `Roi(b * voxel_size, (e - b) * voxel_size)`. With voxel size 4: `[-3:4]` grows to `[-4:4]`,
    /// shrinks to `[0:4]`; `[3:9]` snaps closest to `[4:8]`; `[1:3]` shrinks to offset `(4,)`, shape
    /// `(-4,)` (an empty ROI). A `None` voxel size element leaves that dimension `None`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`], [`GeometryError::ZeroVoxelSize`] if an element is 0,
    /// or [`GeometryError::Overflow`].
    pub fn snap_to_grid(
        &self,
        voxel_size: &Coordinate,
        mode: SnapMode,
    ) -> Result<Roi, GeometryError> {
        if self.dims() != voxel_size.dims() {
            return Err(dimension_mismatch(OP_SNAP, self.dims(), voxel_size.dims()));
        }
        if voxel_size.iter().any(|v| v == Some(0)) {
            return Err(GeometryError::ZeroVoxelSize {
                voxel_size: voxel_size.to_string(),
            });
        }
        let (begin, end) = (self.begin(), self.end());
        let (b, e) = match mode {
            SnapMode::Grow => (
                begin.floor_division(voxel_size)?,
                end.ceil_division(voxel_size)?,
            ),
            SnapMode::Shrink => (
                begin.ceil_division(voxel_size)?,
                end.floor_division(voxel_size)?,
            ),
            SnapMode::Closest => (
                begin.round_division(voxel_size)?,
                end.round_division(voxel_size)?,
            ),
        };
        Roi::new(b.mul(voxel_size)?, e.sub(&b)?.mul(voxel_size)?)
    }

    /// Checks that `by` has the ROI's dimensions.
    #[inline]
    fn check_dims(&self, by: &Coordinate, op: &'static str) -> Result<(), GeometryError> {
        if self.dims() == by.dims() {
            Ok(())
        } else {
            Err(dimension_mismatch(op, self.dims(), by.dims()))
        }
    }

    /// Multiplies offset and shape element-wise by `by`.
    ///
    /// `[1:11, 1:11, 1:11] * (10, 5, 1) == [10:110, 5:55, 1:11]`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`] or [`GeometryError::Overflow`].
    pub fn mul(&self, by: &Coordinate) -> Result<Roi, GeometryError> {
        self.check_dims(by, OP_MUL)?;
        Roi::new(self.offset.mul(by)?, self.shape.mul(by)?)
    }

    /// Divides offset and shape element-wise by `by`, rounding toward zero: `[-7:1] / 2 == [-3:1]`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`], [`GeometryError::DivisionByZero`] or
    /// [`GeometryError::Overflow`].
    pub fn div(&self, by: &Coordinate) -> Result<Roi, GeometryError> {
        self.check_dims(by, OP_DIV)?;
        Roi::new(self.offset.div(by)?, self.shape.div(by)?)
    }

    /// Floor-divides offset and shape element-wise by `by`: `[-7:1] // 2 == [-4:0]`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`], [`GeometryError::DivisionByZero`] or
    /// [`GeometryError::Overflow`].
    pub fn floor_div(&self, by: &Coordinate) -> Result<Roi, GeometryError> {
        self.check_dims(by, OP_FLOOR_DIV)?;
        Roi::new(self.offset.floor_div(by)?, self.shape.floor_div(by)?)
    }

    /// The floor modulo of offset and shape element-wise by `by`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionMismatch`] or [`GeometryError::DivisionByZero`].
    pub fn rem(&self, by: &Coordinate) -> Result<Roi, GeometryError> {
        self.check_dims(by, OP_REM)?;
        Roi::new(self.offset.rem(by)?, self.shape.rem(by)?)
    }

    /// Multiplies offset and shape by `by`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::Overflow`].
    pub fn mul_scalar(&self, by: i64) -> Result<Roi, GeometryError> {
        Roi::new(self.offset.mul_scalar(by)?, self.shape.mul_scalar(by)?)
    }

    /// Divides offset and shape by `by`, rounding toward zero: `[1:9] / 3 == [0:2]`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DivisionByZero`] or [`GeometryError::Overflow`].
    pub fn div_scalar(&self, by: i64) -> Result<Roi, GeometryError> {
        Roi::new(self.offset.div_scalar(by)?, self.shape.div_scalar(by)?)
    }

    /// Floor-divides offset and shape by `by`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DivisionByZero`] or [`GeometryError::Overflow`].
    pub fn floor_div_scalar(&self, by: i64) -> Result<Roi, GeometryError> {
        Roi::new(
            self.offset.floor_div_scalar(by)?,
            self.shape.floor_div_scalar(by)?,
        )
    }

    /// The floor modulo of offset and shape by `by`.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DivisionByZero`].
    pub fn rem_scalar(&self, by: i64) -> Result<Roi, GeometryError> {
        Roi::new(self.offset.rem_scalar(by)?, self.shape.rem_scalar(by)?)
    }

    /// The slices that select the ROI from an array.
    ///
    /// Per dimension: `slice(None, None)` if the shape is `None`, `slice(None, 0)` if it is 0, else
    /// `slice(offset, offset + shape)`. (For a `None` offset with a non-zero shape, where funlib raises
    /// `TypeError`, this gives `slice(None, None)`.)
    pub fn to_slices(&self) -> Vec<Slice> {
        (0..self.dims())
            .map(|d| match (self.offset.get(d), self.shape.get(d)) {
                (_, None) => Slice::full(),
                (_, Some(0)) => Slice::new(None, Some(0)),
                (Some(_), Some(_)) => {
                    let (b, e) = self.bounds(d);
                    Slice::new(b, e)
                }
                (None, Some(_)) => Slice::full(),
            })
            .collect()
    }

    /// Removes dimension `dim` from offset and shape.
    ///
    /// # Errors
    ///
    /// [`GeometryError::DimensionOutOfRange`] if `dim >= dims`.
    pub fn squeeze(&self, dim: usize) -> Result<Roi, GeometryError> {
        Roi::new(self.offset.squeeze(dim)?, self.shape.squeeze(dim)?)
    }
}

impl fmt::Display for Roi {
    /// The funlib.geometry 0.3.0 repr: `[0:10, 0:20] (10, 20)`, `[0:5, :] (5, inf)`, `[empty ROI]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("[empty ROI]");
        }
        f.write_str("[")?;
        for d in 0..self.dims() {
            if d > 0 {
                f.write_str(", ")?;
            }
            let (b, e) = self.bounds(d);
            if let Some(b) = b {
                write!(f, "{b}")?;
            }
            f.write_str(":")?;
            if let Some(e) = e {
                write!(f, "{e}")?;
            }
        }
        f.write_str("] (")?;
        for (d, s) in self.shape.iter().enumerate() {
            if d > 0 {
                f.write_str(", ")?;
            }
            match s {
                Some(s) => write!(f, "{s}")?,
                None => f.write_str("inf")?,
            }
        }
        f.write_str(")")
    }
}

impl fmt::Debug for Roi {
    /// Same as [`Display`](fmt::Display).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::test_values::{TestResult, c, o};

    fn r<const N: usize>(offset: [i64; N], shape: [i64; N]) -> Roi {
        Roi::from_values(&offset, &shape).unwrap()
    }

    fn ro<const N: usize>(offset: [Option<i64>; N], shape: [Option<i64>; N]) -> Roi {
        Roi::new(o(offset), o(shape)).unwrap()
    }

    /// `[begin:end]` in one dimension.
    fn r1(begin: i64, end: i64) -> Roi {
        r([begin], [end - begin])
    }

    #[test]
    fn from_arrays_takes_the_first_dims() {
        let mut o = [9; MAX_DIMS];
        let mut s = [9; MAX_DIMS];
        (o[0], o[1], s[0], s[1]) = (1, 2, 3, 4);
        let roi = Roi::from_arrays(&o, &s, 2).unwrap();
        assert_eq!(roi, Roi::from_values(&[1, 2], &[3, 4]).unwrap());
        assert!(Roi::from_arrays(&o, &s, MAX_DIMS + 1).is_none());
        o[0] = i64::MAX;
        assert!(Roi::from_arrays(&o, &s, 2).is_none());
    }

    #[test]
    fn construction_and_consolidation() -> TestResult {
        // docs/semantics.md#geometry special forms.
        let unbounded = Roi::unbounded(2)?;
        assert_eq!(unbounded.offset(), o([None, None]));
        assert_eq!(unbounded.shape(), o([None, None]));
        let empty = Roi::empty(2)?;
        assert_eq!(empty.offset(), o([None, None]));
        assert_eq!(empty.shape(), c([0, 0]));
        assert_eq!(r([3], [0]).offset(), c([3]));
        assert_eq!(r([3], [0]).shape(), c([0]));
        let partial = Roi::new(c([1, 2]), o([None, Some(3)]))?;
        assert_eq!(partial.offset(), o([None, Some(2)]));
        assert_eq!(partial.shape(), o([None, Some(3)]));
        // Roi(None, (1,)) is accepted: offset (None,), shape finite.
        let none_offset = Roi::new(o([None]), c([1]))?;
        assert_eq!(none_offset.offset(), o([None]));
        assert_eq!(none_offset.shape(), c([1]));
        assert_eq!(Roi::new(c([1, 2]), c([3, 4]))?, r([1, 2], [3, 4]));
        Ok(())
    }

    #[test]
    fn construction_errors() {
        assert_eq!(
            Roi::new(c([1, 2]), c([3])),
            Err(GeometryError::DimensionMismatch {
                op: OP_NEW,
                left: 2,
                right: 1
            })
        );
        assert_eq!(
            Roi::new(c([1, 2]), c([3])).map_err(|e| e.to_string()),
            Err(
                "cannot create a ROI from offset and shape of different dimensions: 2 and 1"
                    .to_owned()
            )
        );
        assert!(matches!(
            Roi::from_values(&[0; 9], &[1; 9]),
            Err(GeometryError::TooManyDimensions { .. })
        ));
        assert!(matches!(
            Roi::from_values(&[i64::MAX], &[1]),
            Err(GeometryError::Overflow { .. })
        ));
        assert!(matches!(
            Roi::from_values(&[i64::MIN], &[-1]),
            Err(GeometryError::Overflow { .. })
        ));
        // A None offset cannot overflow.
        assert!(Roi::new(o([None]), c([i64::MAX])).is_ok());
        assert!(matches!(
            Roi::unbounded(9),
            Err(GeometryError::TooManyDimensions { .. })
        ));
        assert!(matches!(
            Roi::empty(9),
            Err(GeometryError::TooManyDimensions { .. })
        ));
    }

    #[test]
    fn from_begin_end() -> TestResult {
        assert_eq!(
            Roi::from_begin_end(&c([1, 2]), &c([4, 6]))?,
            r([1, 2], [3, 4])
        );
        assert_eq!(
            Roi::from_begin_end(&o([None, Some(2)]), &o([None, Some(6)]))?,
            ro([None, Some(2)], [None, Some(4)])
        );
        assert!(matches!(
            Roi::from_begin_end(&c([1]), &c([1, 2])),
            Err(GeometryError::DimensionMismatch { .. })
        ));
        Ok(())
    }

    #[test]
    fn with_offset_and_shape_reconsolidate() -> TestResult {
        let roi = r([1, 2], [3, 4]);
        assert_eq!(roi.with_offset(c([5, 6]))?, r([5, 6], [3, 4]));
        let unbounded0 = roi.with_shape(o([None, Some(4)]))?;
        assert_eq!(unbounded0.offset(), o([None, Some(2)]));
        // Setting a finite shape again keeps the consolidated (None) offset, as funlib's set_shape.
        assert_eq!(
            unbounded0.with_shape(c([3, 4]))?.offset(),
            o([None, Some(2)])
        );
        assert!(matches!(
            roi.with_offset(c([1])),
            Err(GeometryError::DimensionMismatch { .. })
        ));
        Ok(())
    }

    #[test]
    fn derived_properties() {
        // docs/semantics.md#geometry
        assert_eq!(r([1, 2], [3, 4]).begin(), c([1, 2]));
        assert_eq!(r([1, 2], [3, 4]).end(), c([4, 6]));
        assert_eq!(r([1, 2], [3, 5]).center(), c([2, 4]));
        assert_eq!(r([-1], [3]).center(), c([0]));
        assert_eq!(r([0], [-3]).center(), c([-1]));
        assert_eq!(r([1, 2], [3, 4]).dims(), 2);
        assert_eq!(r([0, 0], [10, -5]).size(), Some(-50));
        assert_eq!(r([0, 0], [10, 5]).size(), Some(50));
        assert_eq!(Roi::unbounded(2).unwrap().size(), None);
        assert_eq!(ro([None, Some(0)], [None, Some(5)]).size(), None);
        assert!(r([0, 0], [0, 5]).is_empty());
        assert!(r([0, 0], [-1, 5]).is_empty());
        assert!(!r([0, 0], [1, 5]).is_empty());
        assert!(!Roi::unbounded(2).unwrap().is_empty());
        assert!(ro([None, Some(0)], [None, Some(0)]).is_empty());
        assert!(Roi::unbounded(1).unwrap().is_unbounded());
        assert!(!r([0], [1]).is_unbounded());
        let partial = ro([None, Some(2)], [None, Some(3)]);
        assert_eq!(partial.end(), o([None, Some(5)]));
        assert_eq!(partial.center(), o([None, Some(3)]));
        // Roi(None, (1,)): end and center are None.
        let none_offset = ro([None], [Some(1)]);
        assert_eq!(none_offset.end(), o([None]));
        assert_eq!(none_offset.center(), o([None]));
        // End is exact at the limit.
        assert_eq!(r([i64::MAX - 1], [1]).end(), c([i64::MAX]));
        assert_eq!(
            r([i64::MIN], [i64::MAX]).center(),
            c([i64::MIN + i64::MAX / 2])
        );
    }

    #[test]
    fn size_is_exact_and_checked() -> TestResult {
        let big = Roi::from_values(&[0; 3], &[i64::MAX; 3])?;
        assert_eq!(big.size(), Some(i128::MAX));
        assert!(matches!(
            big.try_size(),
            Err(GeometryError::Overflow { .. })
        ));
        let two = Roi::from_values(&[0; 2], &[i64::MAX; 2])?;
        assert_eq!(
            two.try_size()?,
            Some(i128::from(i64::MAX) * i128::from(i64::MAX))
        );
        assert_eq!(two.size(), two.try_size()?);
        assert_eq!(Roi::unbounded(2)?.try_size()?, None);
        Ok(())
    }

    #[test]
    fn to_slices() -> TestResult {
        // docs/semantics.md#geometry: Roi((0,None,2),(0,None,3)).to_slices() == (slice(None,0), slice(None,None), slice(2,5))
        let roi = ro([Some(0), None, Some(2)], [Some(0), None, Some(3)]);
        assert_eq!(
            roi.to_slices(),
            vec![
                Slice::new(None, Some(0)),
                Slice::full(),
                Slice::new(Some(2), Some(5))
            ]
        );
        assert_eq!(
            r([0, 1], [5, -2]).to_slices(),
            vec![Slice::new(Some(0), Some(5)), Slice::new(Some(1), Some(-1))]
        );
        assert_eq!(ro([None], [Some(1)]).to_slices(), vec![Slice::full()]);
        assert_eq!(Roi::empty(1)?.to_slices(), vec![Slice::new(None, Some(0))]);
        Ok(())
    }

    #[test]
    fn contains_roi() -> TestResult {
        // docs/semantics.md#geometry
        let roi = r([0], [10]);
        assert!(roi.contains(&r([5], [0])));
        assert!(!roi.contains(&r([10], [0])));
        assert!(!roi.contains(&Roi::empty(1)?));
        assert!(Roi::unbounded(1)?.contains(&Roi::empty(1)?));
        assert!(roi.contains(&r([0], [10])));
        assert!(roi.contains(&r([2], [3])));
        assert!(!roi.contains(&r([2], [9])));
        assert!(!roi.contains(&r([-1], [2])));
        assert!(!roi.contains(&Roi::unbounded(1)?));
        assert!(Roi::unbounded(1)?.contains(&roi));
        // An empty ROI contains every empty ROI.
        assert!(r([20], [0]).contains(&r([5], [-2])));
        assert!(r([20], [-3]).contains(&Roi::empty(1)?));
        // The empty form has a None begin and end, so it contains any ROI as funlib computes it.
        assert!(Roi::empty(1)?.contains(&roi));
        // Partially unbounded.
        let half = ro([None, Some(0)], [None, Some(10)]);
        assert!(half.contains(&r([-1000, 0], [5000, 10])));
        assert!(!half.contains(&r([-1000, 0], [5000, 11])));
        // Dimensions: fewer in `other` is never contained; extra ones are ignored.
        assert!(!r([0, 0], [10, 10]).contains(&r([1], [1])));
        assert!(r([0, 0], [10, 10]).contains(&r([1, 1, 99], [1, 1, 1])));
        Ok(())
    }

    #[test]
    fn contains_point() -> TestResult {
        // docs/semantics.md#geometry
        let roi = r([0], [10]);
        assert!(roi.contains_point(&[Some(9)]));
        assert!(!roi.contains_point(&[Some(10)]));
        assert!(!roi.contains_point(&[None]));
        assert!(!roi.contains_point(&[Some(-1)]));
        assert!(roi.contains_coordinate(&c([9])));
        assert!(!roi.contains_coordinate(&c([10])));
        assert!(!roi.contains_coordinate(&o([None])));
        let roi2 = r([0, 0], [10, 10]);
        assert!(!roi2.contains_point(&[Some(1)]));
        assert!(roi2.contains_point(&[Some(1), Some(1), Some(99)]));
        assert!(!roi2.contains_coordinate(&c([1])));
        assert!(roi2.contains_coordinate(&c([1, 1, 99])));
        // An unbounded axis accepts any value, including None.
        let half = ro([None, Some(0)], [None, Some(10)]);
        assert!(half.contains_point(&[None, Some(3)]));
        assert!(half.contains_point(&[Some(i64::MIN), Some(3)]));
        assert!(!half.contains_point(&[Some(0), None]));
        assert!(Roi::unbounded(0)?.contains_point(&[]));
        Ok(())
    }

    #[test]
    fn intersects() -> TestResult {
        // docs/semantics.md#geometry: touching ROIs do not intersect.
        assert!(!r1(0, 5).intersects(&r1(5, 10))?);
        assert!(!r1(5, 10).intersects(&r1(0, 5))?);
        assert!(r1(0, 5).intersects(&r1(4, 9))?);
        assert!(r1(0, 5).intersects(&Roi::unbounded(1)?)?);
        assert!(Roi::unbounded(1)?.intersects(&Roi::unbounded(1)?)?);
        assert!(!r1(0, 5).intersects(&r([2], [0]))?);
        assert!(!Roi::empty(1)?.intersects(&Roi::unbounded(1)?)?);
        assert!(!r([0, 0], [5, 5]).intersects(&r([0, 5], [5, 5]))?);
        assert_eq!(
            r1(0, 5).intersects(&r([0, 0], [1, 1])),
            Err(GeometryError::DimensionMismatch {
                op: OP_INTERSECT,
                left: 1,
                right: 2
            })
        );
        Ok(())
    }

    #[test]
    fn intersect() -> TestResult {
        // docs/semantics.md#geometry
        assert_eq!(
            r([0, 0], [5, 5]).intersect(&r([3, 3], [5, 5]))?.to_string(),
            "[3:5, 3:5] (2, 2)"
        );
        let half = ro([Some(0), None], [Some(5), None]);
        assert_eq!(
            half.intersect(&r([3, 3], [5, 5]))?.to_string(),
            "[3:5, 3:8] (2, 5)"
        );
        let disjoint = r1(0, 5).intersect(&r1(5, 10))?;
        assert_eq!(disjoint, Roi::empty(1)?);
        assert_eq!(disjoint.to_string(), "[empty ROI]");
        assert_eq!(disjoint.offset(), o([None]));
        assert_eq!(disjoint.shape(), c([0]));
        assert_eq!(
            Roi::unbounded(2)?.intersect(&Roi::unbounded(2)?)?,
            Roi::unbounded(2)?
        );
        assert_eq!(Roi::unbounded(1)?.intersect(&r1(2, 4))?, r1(2, 4));
        assert!(r1(0, 5).intersect(&r([0, 0], [1, 1])).is_err());
        Ok(())
    }

    #[test]
    fn union() -> TestResult {
        // docs/semantics.md#geometry
        assert_eq!(r1(0, 5).union(&r1(10, 15))?, r1(0, 15));
        assert_eq!(r1(0, 5).union(&r1(10, 15))?.to_string(), "[0:15] (15)");
        let half = ro([Some(0), None], [Some(5), None]);
        assert_eq!(
            half.union(&r([3, 3], [5, 5]))?.to_string(),
            "[0:8, :] (8, inf)"
        );
        // An empty operand returns the other unchanged (even a kept offset).
        assert_eq!(r1(3, 3).union(&r1(0, 5))?, r1(0, 5));
        assert_eq!(r1(0, 5).union(&Roi::empty(1)?)?, r1(0, 5));
        assert_eq!(r1(3, 3).union(&r([7], [-1]))?, r([7], [-1]));
        assert!(matches!(
            r1(0, 5).union(&r([0, 0], [1, 1])),
            Err(GeometryError::DimensionMismatch { .. })
        ));
        let huge = r1(i64::MIN, i64::MIN + 1).union(&r1(i64::MAX - 1, i64::MAX));
        assert!(matches!(huge, Err(GeometryError::Overflow { .. })));
        Ok(())
    }

    #[test]
    fn shift_and_arithmetic() -> TestResult {
        // docs/semantics.md#geometry
        assert_eq!(r([1, 2], [3, 4]).shift(&c([1, -1]))?, r([2, 1], [3, 4]));
        assert_eq!(r([1, 2], [3, 4]).shift_scalar(-2)?, r([-1, 0], [3, 4]));
        assert_eq!(Roi::empty(1)?.shift_scalar(5)?, Roi::empty(1)?);
        assert!(matches!(
            r([1], [1]).shift(&c([1, 1])),
            Err(GeometryError::DimensionMismatch { .. })
        ));
        assert!(matches!(
            r([i64::MAX - 1], [1]).shift_scalar(1),
            Err(GeometryError::Overflow { .. })
        ));
        assert_eq!(r([1], [8]).div_scalar(3)?.to_string(), "[0:2] (2)");
        assert_eq!(r([-7], [8]).div_scalar(2)?.to_string(), "[-3:1] (4)");
        assert_eq!(r([-7], [8]).floor_div_scalar(2)?.to_string(), "[-4:0] (4)");
        assert_eq!(r([-7], [8]).div(&c([2]))?.to_string(), "[-3:1] (4)");
        assert_eq!(r([-7], [8]).floor_div(&c([2]))?.to_string(), "[-4:0] (4)");
        let scaled = r([1, 1, 1], [10, 10, 10]).mul(&c([10, 5, 1]))?;
        assert_eq!(scaled.to_string(), "[10:110, 5:55, 1:11] (100, 50, 10)");
        assert_eq!(
            scaled.shift_scalar(1)?.to_string(),
            "[11:111, 6:56, 2:12] (100, 50, 10)"
        );
        assert_eq!(r([1], [8]).mul_scalar(3)?, r([3], [24]));
        assert_eq!(r([-7], [8]).rem_scalar(3)?, r([2], [2]));
        assert_eq!(r([-7], [8]).rem(&c([3]))?, r([2], [2]));
        assert!(matches!(
            r([1], [8]).div_scalar(0),
            Err(GeometryError::DivisionByZero { .. })
        ));
        assert!(matches!(
            r([1], [8]).rem(&c([0])),
            Err(GeometryError::DivisionByZero { .. })
        ));
        assert!(matches!(
            r([1], [8]).mul(&c([1, 1])),
            Err(GeometryError::DimensionMismatch { .. })
        ));
        assert!(matches!(
            r([1], [8]).div(&c([1, 1])),
            Err(GeometryError::DimensionMismatch { .. })
        ));
        // None dimensions are untouched by the operators.
        assert_eq!(Roi::unbounded(1)?.mul_scalar(3)?, Roi::unbounded(1)?);
        assert_eq!(Roi::empty(1)?.div_scalar(3)?, Roi::empty(1)?);
        Ok(())
    }

    #[test]
    fn snap_to_grid() -> TestResult {
        // docs/semantics.md#geometry, voxel size 4.
        let vs = c([4]);
        assert_eq!(r1(-3, 4).snap_to_grid(&vs, SnapMode::Grow)?, r1(-4, 4));
        assert_eq!(r1(-3, 4).snap_to_grid(&vs, SnapMode::Shrink)?, r1(0, 4));
        assert_eq!(r1(-3, 4).snap_to_grid(&vs, SnapMode::Closest)?, r1(-4, 4));
        assert_eq!(r1(2, 6).snap_to_grid(&vs, SnapMode::Closest)?, r1(0, 4));
        assert_eq!(r1(3, 9).snap_to_grid(&vs, SnapMode::Closest)?, r1(4, 8));
        // [1:3] shrink: begin 1, end 0 in voxels, so Roi((4,), (-4,)) in funlib 0.3.0 (empty).
        let shrunk = r1(1, 3).snap_to_grid(&vs, SnapMode::Shrink)?;
        assert!(shrunk.is_empty());
        assert_eq!(shrunk.offset(), c([4]));
        assert_eq!(shrunk.shape(), c([-4]));
        assert_eq!(shrunk.to_string(), "[empty ROI]");
        // 2-D
        let snapped = r([5, 11], [10, 10]).snap_to_grid(&c([4, 4]), SnapMode::Grow)?;
        assert_eq!(snapped.to_string(), "[4:16, 8:24] (12, 16)");
        // Mode from a string.
        assert_eq!(r1(-3, 4).snap_to_grid(&vs, "shrink".parse()?)?, r1(0, 4));
        // Unbounded dimensions and None voxel sizes stay None.
        let half = ro([None, Some(5)], [None, Some(10)]);
        assert_eq!(
            half.snap_to_grid(&c([4, 4]), SnapMode::Grow)?,
            ro([None, Some(4)], [None, Some(12)])
        );
        assert_eq!(
            r([5, 5], [10, 10]).snap_to_grid(&o([None, Some(4)]), SnapMode::Grow)?,
            ro([None, Some(4)], [None, Some(12)])
        );
        // The empty form has None begin and end, so funlib snaps it to the unbounded ROI.
        assert_eq!(
            Roi::empty(1)?.snap_to_grid(&vs, SnapMode::Grow)?,
            Roi::unbounded(1)?
        );
        Ok(())
    }

    #[test]
    fn snap_to_grid_errors() {
        assert_eq!(
            r([0, 0], [4, 4]).snap_to_grid(&c([4, 0]), SnapMode::Grow),
            Err(GeometryError::ZeroVoxelSize {
                voxel_size: "(4, 0)".to_owned()
            })
        );
        assert_eq!(
            r([0, 0], [4, 4]).snap_to_grid(&c([4]), SnapMode::Grow),
            Err(GeometryError::DimensionMismatch {
                op: OP_SNAP,
                left: 2,
                right: 1
            })
        );
        assert!(matches!(
            r1(i64::MAX - 2, i64::MAX).snap_to_grid(&c([4]), SnapMode::Grow),
            Err(GeometryError::Overflow { .. })
        ));
    }

    #[test]
    fn grow() -> TestResult {
        // docs/semantics.md#geometry
        let roi = r([0, 0], [10, 10]);
        assert_eq!(
            roi.grow_scalar(1, 2)?.to_string(),
            "[-1:12, -1:12] (13, 13)"
        );
        assert_eq!(
            roi.grow(&c([1, 0]), &c([0, 3]))?.to_string(),
            "[-1:10, 0:13] (11, 13)"
        );
        assert_eq!(roi.grow_scalar(-2, -2)?.to_string(), "[2:8, 2:8] (6, 6)");
        assert_eq!(roi.grow_scalar(0, 0)?, roi);
        // None dimensions stay None; a None amount makes the dimension unbounded.
        let half = ro([None, Some(0)], [None, Some(10)]);
        assert_eq!(
            half.grow_scalar(1, 1)?,
            ro([None, Some(-1)], [None, Some(12)])
        );
        assert_eq!(
            roi.grow(&o([None, Some(1)]), &c([0, 0]))?,
            ro([None, Some(-1)], [None, Some(11)])
        );
        assert_eq!(
            roi.grow(&c([0, 0]), &o([Some(1), None]))?,
            ro([Some(0), None], [Some(11), None])
        );
        // The empty form grows into a None-offset ROI, as in funlib.
        assert_eq!(Roi::empty(1)?.grow_scalar(1, 2)?, ro([None], [Some(3)]));
        // Shrinking past zero gives an empty ROI.
        assert!(roi.grow_scalar(-6, -6)?.is_empty());
        // No intermediate overflow: shape + neg exceeds i64 but the result fits.
        let wide = r([0], [i64::MAX]);
        assert_eq!(wide.grow_scalar(1, -1)?, r([-1], [i64::MAX]));
        assert!(matches!(
            wide.grow_scalar(1, 0),
            Err(GeometryError::Overflow { .. })
        ));
        assert!(matches!(
            roi.grow(&c([1]), &c([1, 1])),
            Err(GeometryError::DimensionMismatch { .. })
        ));
        assert!(matches!(
            roi.grow(&c([1, 1]), &c([1])),
            Err(GeometryError::DimensionMismatch { .. })
        ));
        Ok(())
    }

    #[test]
    fn equality_and_hashing() -> TestResult {
        // docs/semantics.md#geometry
        assert_ne!(Roi::new(o([None]), c([0]))?, r([0], [0]));
        assert_eq!(Roi::new(c([5]), o([None]))?, Roi::unbounded(1)?);
        let set: HashSet<Roi> = [
            r([0], [1]),
            r([0], [1]),
            Roi::new(c([5]), o([None]))?,
            Roi::unbounded(1)?,
        ]
        .into_iter()
        .collect();
        assert_eq!(set.len(), 2);
        // An intersection result equals the directly built ROI.
        assert_eq!(r1(0, 10).intersect(&r1(5, 20))?, r1(5, 10));
        Ok(())
    }

    #[test]
    fn squeeze() -> TestResult {
        let roi = r([1, 2, 3], [4, 5, 6]);
        assert_eq!(roi.squeeze(1)?, r([1, 3], [4, 6]));
        assert_eq!(roi.squeeze(0)?, r([2, 3], [5, 6]));
        assert_eq!(
            ro([None, Some(2)], [None, Some(3)]).squeeze(1)?,
            Roi::unbounded(1)?
        );
        assert!(matches!(
            roi.squeeze(3),
            Err(GeometryError::DimensionOutOfRange { dim: 3, dims: 3 })
        ));
        Ok(())
    }

    #[test]
    fn repr() -> TestResult {
        // docs/semantics.md#geometry
        assert_eq!(
            r([0, 0, 0], [10, 20, 30]).to_string(),
            "[0:10, 0:20, 0:30] (10, 20, 30)"
        );
        assert_eq!(
            ro([Some(0), None], [Some(5), None]).to_string(),
            "[0:5, :] (5, inf)"
        );
        assert_eq!(Roi::unbounded(2)?.to_string(), "[:, :] (inf, inf)");
        assert_eq!(
            ro([None, Some(2)], [None, Some(3)]).to_string(),
            "[:, 2:5] (inf, 3)"
        );
        assert_eq!(r([0], [5]).to_string(), "[0:5] (5)");
        assert_eq!(ro([None], [Some(1)]).to_string(), "[:] (1)");
        assert_eq!(Roi::empty(3)?.to_string(), "[empty ROI]");
        assert_eq!(r([0, 0], [10, -5]).to_string(), "[empty ROI]");
        assert_eq!(r([3], [0]).to_string(), "[empty ROI]");
        assert_eq!(r([-3, 2], [1, 2]).to_string(), "[-3:-2, 2:4] (1, 2)");
        assert_eq!(
            format!("{:?}", r([0, 0], [10, 20])),
            "[0:10, 0:20] (10, 20)"
        );
        assert_eq!(Roi::unbounded(0)?.to_string(), "[] ()");
        Ok(())
    }
}
