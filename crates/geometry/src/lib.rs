//! Exact integer geometry for daisy: [`Coordinate`] and [`Roi`].
//!
//! This crate is the native Rust form of `funlib.geometry` 0.3.0, the geometry that daisy's Python
//! API re-exports. A [`Coordinate`] is a small tuple of optional integers (`None` meaning unbounded)
//! with element-wise arithmetic; a [`Roi`] is an axis-aligned box given by an offset and a shape,
//! with intersection, union, growing, shifting and snapping to a voxel grid. The semantics, down to
//! the empty and unbounded forms and the printed format, are those of funlib; where Python raises an
//! exception this crate returns a [`GeometryError`] and never panics.
//!
//! All arithmetic is exact `i64` arithmetic: a result that does not fit is an error, not a wrapped
//! value. Both types are `Copy` and never allocate (at most [`MAX_DIMS`] dimensions).
//!
//! # Example
//!
//! ```
//! use daisy_geometry::{Coordinate, Roi, SnapMode};
//!
//! # fn main() -> Result<(), daisy_geometry::GeometryError> {
//! // A block's read ROI: its write ROI plus 8 voxels of context on each side.
//! let write = Roi::from_values(&[64, 0, 0], &[64, 64, 64])?;
//! let read = write.grow_scalar(8, 8)?;
//! assert_eq!(read.to_string(), "[56:136, -8:72, -8:72] (80, 80, 80)");
//!
//! // Clip it to the total ROI.
//! let total = Roi::from_values(&[0, 0, 0], &[512, 512, 512])?;
//! let clipped = read.intersect(&total)?;
//! assert_eq!(clipped.to_string(), "[56:136, 0:72, 0:72] (80, 72, 72)");
//! assert!(total.contains(&clipped));
//!
//! // Touching ROIs do not intersect.
//! let next = write.shift(&Coordinate::new(&[64, 0, 0])?)?;
//! assert!(!write.intersects(&next)?);
//!
//! // Snap to a voxel grid of 10 in world units.
//! let world = Roi::from_values(&[5, 11, 0], &[10, 10, 10])?;
//! let snapped = world.snap_to_grid(&Coordinate::filled(3, 10)?, SnapMode::Grow)?;
//! assert_eq!(snapped.to_string(), "[0:20, 10:30, 0:10] (20, 20, 10)");
//!
//! // Unbounded dimensions are None; the empty ROI has a form of its own.
//! let half = Roi::new(Coordinate::from_options(&[Some(0), None])?, Coordinate::from_options(&[Some(5), None])?)?;
//! assert_eq!(half.to_string(), "[0:5, :] (5, inf)");
//! let a = Roi::from_values(&[0], &[5])?;
//! let b = Roi::from_values(&[5], &[5])?;
//! assert_eq!(a.intersect(&b)?, Roi::empty(1)?);
//! assert_eq!(a.intersect(&b)?.to_string(), "[empty ROI]");
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! - `serde`: `Serialize`/`Deserialize` for [`Coordinate`] (a sequence of optional integers) and
//!   [`Roi`] (`{"offset": …, "shape": …}`, validated on deserialization).

mod arith;
mod coordinate;
mod error;
mod roi;
#[cfg(feature = "serde")]
mod serde_impl;
mod slice;
mod snap_mode;
#[cfg(test)]
mod test_values;

pub use coordinate::{Coordinate, MAX_DIMS};
pub use error::GeometryError;
pub use roi::Roi;
pub use slice::Slice;
pub use snap_mode::SnapMode;
