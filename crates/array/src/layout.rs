//! [`ArrayLayout`]: where an array lies in world units, and the rules that turn world-unit ROIs
//! and coordinates into voxel regions.
//!
//! An array of shape `(c, z, y, x)` with one channel dimension, offset `(o_z, o_y, o_x)` and voxel
//! size `(v_z, v_y, v_x)` covers the ROI `offset + [0, shape · voxel_size)` of its spatial
//! dimensions. A world-unit ROI selects the voxels `(roi − offset) / voxel_size`:
//!
//! ```text
//!  world:  offset                                      offset + shape · voxel_size
//!            |-----|-----|-----|-----|-----|-----|-----|
//!  voxel:    0     1     2     3     4     5     6     7
//!                        [=====roi=======)
//!                        begin − offset = 2 · voxel_size  ->  voxels 2..5
//! ```
//!
//! Reading or writing a ROI (`array[roi]`) requires the array's ROI to contain it and its begin
//! and shape to lie on the voxel grid. [`ArrayLayout::to_ndarray_plan`] allows ROIs partly or
//! wholly outside the array: the part outside is filled by the caller.
//!
//! ```
//! use daisy_array::ArrayLayout;
//! use daisy_geometry::{Coordinate, Roi};
//!
//! let layout = ArrayLayout::new(&[3, 10, 10], 1, Coordinate::new(&[40, 20])?, Coordinate::new(&[4, 2])?)?;
//! assert_eq!(layout.roi().to_string(), "[40:80, 20:40] (40, 20)");
//! let region = layout.voxel_region(&Roi::from_values(&[48, 20], &[8, 4])?)?;
//! assert_eq!(region, vec![0..3, 2..4, 0..2]);
//! # Ok::<(), daisy_array::ArrayError>(())
//! ```

use std::ops::Range;

use daisy_geometry::{Coordinate, Roi};

use crate::error::ArrayError;
use crate::metadata::ArrayMetadata;

/// The shape of an array and where it lies in world units: the single authority for
/// containment, world-to-voxel conversion and the to_ndarray intersection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayLayout {
    /// Shape in voxels, every dimension.
    shape: Vec<u64>,
    /// Per dimension, whether it is physical (has a voxel size).
    physical: Vec<bool>,
    /// Offset in world units, physical dimensions.
    offset: Coordinate,
    /// Voxel size in world units, physical dimensions.
    voxel_size: Coordinate,
    /// `Roi(offset, voxel_size · physical shape)`.
    roi: Roi,
}

/// How to fill the result of `to_ndarray`: its shape, and which region of the array lands
/// where in it (none if the ROI does not intersect the array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToNdarrayPlan {
    /// Shape of the result, every dimension: the channel dimensions of the array, then
    /// `roi.shape / voxel_size`.
    pub output_shape: Vec<u64>,
    /// The part of the result that comes from the array; everything else is the fill value.
    pub copy: Option<RegionCopy>,
}

/// A region of the array (`source`) and where it lands in an output (`target`), each as one
/// voxel range per dimension (channel dimensions included); both have the same extent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionCopy {
    /// Voxel ranges in the array.
    pub source: Vec<Range<u64>>,
    /// Voxel ranges in the output.
    pub target: Vec<Range<u64>>,
}

impl ArrayLayout {
    /// The layout of an array of `shape` whose first `channel_dims` dimensions are channels.
    ///
    /// # Errors
    ///
    /// [`ArrayError::InvalidMetadata`] if `offset` and `voxel_size` do not have one element per
    /// spatial dimension, hold `None`, the voxel size is not positive, or the ROI overflows.
    pub fn new(
        shape: &[u64],
        channel_dims: usize,
        offset: Coordinate,
        voxel_size: Coordinate,
    ) -> Result<ArrayLayout, ArrayError> {
        if channel_dims > shape.len() {
            return Err(ArrayError::InvalidMetadata {
                reason: format!(
                    "{channel_dims} channel dimensions for an array of shape {shape:?}"
                ),
            });
        }
        let physical: Vec<bool> = (0..shape.len()).map(|d| d >= channel_dims).collect();
        Self::with_mask(shape, physical, offset, voxel_size)
    }

    /// The layout of an array of `shape` with `metadata` (whose types say which dimensions
    /// are physical).
    ///
    /// # Errors
    ///
    /// [`ArrayError::InvalidMetadata`] if the metadata does not describe an array of `shape`
    /// (see [`ArrayMetadata::validate`]) or the ROI overflows.
    pub fn from_metadata(
        shape: &[u64],
        metadata: &ArrayMetadata,
    ) -> Result<ArrayLayout, ArrayError> {
        metadata.validate(shape, false)?;
        Self::with_mask(
            shape,
            metadata.physical_mask(),
            metadata.offset,
            metadata.voxel_size,
        )
    }

    /// Builds the layout from a per-dimension physical mask.
    fn with_mask(
        shape: &[u64],
        physical: Vec<bool>,
        offset: Coordinate,
        voxel_size: Coordinate,
    ) -> Result<ArrayLayout, ArrayError> {
        let spatial = physical.iter().filter(|&&p| p).count();
        if offset.dims() != spatial || voxel_size.dims() != spatial {
            return Err(ArrayError::InvalidMetadata {
                reason: format!(
                    "offset {offset} and voxel size {voxel_size} must have {spatial} dimensions \
                     (the spatial dimensions of shape {shape:?})"
                ),
            });
        }
        if !offset.is_bounded()
            || !voxel_size
                .bounded_values()
                .is_some_and(|v| v.iter().all(|&v| v > 0))
        {
            return Err(ArrayError::InvalidMetadata {
                reason: format!(
                    "offset {offset} must be integers and voxel size {voxel_size} positive integers"
                ),
            });
        }
        let spatial_shape: Vec<i64> = shape
            .iter()
            .zip(&physical)
            .filter(|(_, p)| **p)
            .map(|(&s, _)| {
                i64::try_from(s).map_err(|_| ArrayError::InvalidMetadata {
                    reason: format!("shape {shape:?} is too large"),
                })
            })
            .collect::<Result<_, _>>()?;
        let roi = Roi::new(offset, Coordinate::new(&spatial_shape)?.mul(&voxel_size)?)?;
        Ok(ArrayLayout {
            shape: shape.to_vec(),
            physical,
            offset,
            voxel_size,
            roi,
        })
    }

    /// Shape in voxels, every dimension.
    pub fn shape(&self) -> &[u64] {
        &self.shape
    }

    /// Number of dimensions.
    pub fn dims(&self) -> usize {
        self.shape.len()
    }

    /// Number of channel (non-physical) dimensions.
    pub fn channel_dims(&self) -> usize {
        self.dims() - self.spatial_dims()
    }

    /// Number of spatial (physical) dimensions.
    pub fn spatial_dims(&self) -> usize {
        self.voxel_size.dims()
    }

    /// Whether dimension `dim` is spatial.
    pub fn is_spatial(&self, dim: usize) -> bool {
        self.physical.get(dim).copied().unwrap_or(false)
    }

    /// Offset in world units.
    pub fn offset(&self) -> Coordinate {
        self.offset
    }

    /// Voxel size in world units.
    pub fn voxel_size(&self) -> Coordinate {
        self.voxel_size
    }

    /// The ROI the array covers: `Roi(offset, voxel_size · spatial shape)`.
    pub fn roi(&self) -> Roi {
        self.roi
    }

    /// The shape of the spatial dimensions.
    pub fn spatial_shape(&self) -> Vec<u64> {
        self.shape
            .iter()
            .zip(&self.physical)
            .filter(|(_, p)| **p)
            .map(|(&s, _)| s)
            .collect()
    }

    /// The voxel region (every dimension, channel dimensions in full) that `roi` selects: what
    /// `array[roi]` reads or writes.
    ///
    /// # Errors
    ///
    /// [`ArrayError::SpatialDimsMismatch`] if `roi` does not have the array's spatial
    /// dimensions; [`ArrayError::RoiNotContained`] if the array's ROI does not contain it;
    /// [`ArrayError::RoiNotOnGrid`] if its begin (relative to the offset) or shape is not a
    /// multiple of the voxel size; [`ArrayError::UnboundedRoi`] for an unbounded empty ROI.
    pub fn voxel_region(&self, roi: &Roi) -> Result<Vec<Range<u64>>, ArrayError> {
        self.check_dims(roi)?;
        if !self.roi.contains(roi) {
            return Err(ArrayError::RoiNotContained {
                roi: *roi,
                array_roi: self.roi,
            });
        }
        let (begin, shape) = self.grid_voxels(roi)?;
        let spatial_shape = self.spatial_shape();
        Ok(self.full_region(|k| {
            // Contained, so begin >= 0 and, for a non-empty ROI, begin + shape <= the spatial
            // shape. An empty ROI is contained when its begin is (as in funlib.geometry) and
            // may reach past the end: clamped, as numpy slicing would.
            let b = begin[k].max(0) as u64;
            b..(b + shape[k].max(0) as u64).min(spatial_shape[k])
        }))
    }

    /// The voxel index (spatial dimensions) of the voxel containing `coordinate`: what
    /// `array[coordinate]` reads, with every channel.
    ///
    /// # Errors
    ///
    /// [`ArrayError::SpatialDimsMismatch`] or [`ArrayError::CoordinateNotContained`].
    pub fn coordinate_index(&self, coordinate: &Coordinate) -> Result<Vec<u64>, ArrayError> {
        if coordinate.dims() != self.spatial_dims() {
            return Err(ArrayError::SpatialDimsMismatch {
                what: format!("coordinate {coordinate}"),
                dims: coordinate.dims(),
                spatial_dims: self.spatial_dims(),
            });
        }
        if !self.roi.contains_coordinate(coordinate) {
            return Err(ArrayError::CoordinateNotContained {
                coordinate: *coordinate,
                array_roi: self.roi,
            });
        }
        let index = coordinate.sub(&self.offset)?.floor_div(&self.voxel_size)?;
        Ok(index.iter().map(|i| i.unwrap_or(0).max(0) as u64).collect())
    }

    /// The voxel region (every dimension; one voxel in each spatial dimension, channel
    /// dimensions in full) of the voxel containing `coordinate`.
    ///
    /// # Errors
    ///
    /// As [`ArrayLayout::coordinate_index`].
    pub fn coordinate_region(
        &self,
        coordinate: &Coordinate,
    ) -> Result<Vec<Range<u64>>, ArrayError> {
        let index = self.coordinate_index(coordinate)?;
        Ok(self.full_region(|k| index[k]..index[k] + 1))
    }

    /// How to compute `to_ndarray(roi, fill_value)`: the output shape (channel dimensions, then
    /// `roi.shape / voxel_size`) and the region of the array inside `roi`, if any, with where it
    /// lands in the output. `roi` may lie partly or wholly outside the array.
    ///
    /// # Errors
    ///
    /// [`ArrayError::SpatialDimsMismatch`]; [`ArrayError::UnboundedRoi`];
    /// [`ArrayError::RoiNotOnGrid`] if the ROI's begin minus the array's offset, or its shape,
    /// is not a multiple of the voxel size.
    pub fn to_ndarray_plan(&self, roi: &Roi) -> Result<ToNdarrayPlan, ArrayError> {
        self.check_dims(roi)?;
        let (_, shape) = self.grid_voxels(roi)?;
        let output_shape = self.full_shape(|k| shape[k].max(0) as u64);
        let shared = self.roi.intersect(roi)?;
        if shared.is_empty() {
            return Ok(ToNdarrayPlan {
                output_shape,
                copy: None,
            });
        }
        let source = self.voxel_region(&shared)?;
        let at = shared
            .begin()
            .sub(&roi.begin())?
            .floor_div(&self.voxel_size)?;
        let mut k = 0;
        let target = source
            .iter()
            .enumerate()
            .map(|(d, r)| {
                if self.physical[d] {
                    let t = at.get(k).unwrap_or(0).max(0) as u64;
                    k += 1;
                    t..t + (r.end - r.start)
                } else {
                    r.clone()
                }
            })
            .collect();
        Ok(ToNdarrayPlan {
            output_shape,
            copy: Some(RegionCopy { source, target }),
        })
    }

    /// Checks that `roi` has the array's spatial dimensions.
    fn check_dims(&self, roi: &Roi) -> Result<(), ArrayError> {
        if roi.dims() == self.spatial_dims() {
            Ok(())
        } else {
            Err(ArrayError::SpatialDimsMismatch {
                what: format!("roi {roi}"),
                dims: roi.dims(),
                spatial_dims: self.spatial_dims(),
            })
        }
    }

    /// `(roi.begin − offset) / voxel_size` and `roi.shape / voxel_size`, both exact.
    fn grid_voxels(&self, roi: &Roi) -> Result<(Vec<i64>, Vec<i64>), ArrayError> {
        let (Some(begin), Some(shape)) = (
            roi.begin().bounded_values().map(<[i64]>::to_vec),
            roi.shape().bounded_values().map(<[i64]>::to_vec),
        ) else {
            return Err(ArrayError::UnboundedRoi { roi: *roi });
        };
        let relative = Coordinate::new(&begin)?.sub(&self.offset)?;
        let shape = Coordinate::new(&shape)?;
        if !relative.is_multiple_of(&self.voxel_size) || !shape.is_multiple_of(&self.voxel_size) {
            return Err(ArrayError::RoiNotOnGrid {
                roi: *roi,
                array_roi: self.roi,
                voxel_size: self.voxel_size,
            });
        }
        let to_vec = |c: Coordinate| -> Vec<i64> { c.iter().map(|v| v.unwrap_or(0)).collect() };
        Ok((
            to_vec(relative.div(&self.voxel_size)?),
            to_vec(shape.div(&self.voxel_size)?),
        ))
    }

    /// One range per dimension: `spatial(k)` for the `k`-th spatial dimension, the full extent
    /// for channel dimensions.
    fn full_region(&self, mut spatial: impl FnMut(usize) -> Range<u64>) -> Vec<Range<u64>> {
        let mut k = 0;
        (0..self.dims())
            .map(|d| {
                if self.physical[d] {
                    k += 1;
                    spatial(k - 1)
                } else {
                    0..self.shape[d]
                }
            })
            .collect()
    }

    /// One extent per dimension: `spatial(k)` for the `k`-th spatial dimension, the array's
    /// extent for channel dimensions.
    fn full_shape(&self, mut spatial: impl FnMut(usize) -> u64) -> Vec<u64> {
        self.full_region(|k| 0..spatial(k))
            .into_iter()
            .map(|r| r.end)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(v: &[i64]) -> Coordinate {
        Coordinate::new(v).unwrap()
    }

    fn roi(offset: &[i64], shape: &[i64]) -> Roi {
        Roi::from_values(offset, shape).unwrap()
    }

    fn layout() -> Result<ArrayLayout, ArrayError> {
        // 2 channels, 10 x 20 voxels of 4 x 2 world units at offset (100, 10).
        ArrayLayout::new(&[2, 10, 20], 1, c(&[100, 10]), c(&[4, 2]))
    }

    #[test]
    fn roi_is_offset_plus_shape_times_voxel_size() -> Result<(), ArrayError> {
        let l = layout()?;
        assert_eq!(l.roi(), roi(&[100, 10], &[40, 40]));
        assert_eq!((l.channel_dims(), l.spatial_dims()), (1, 2));
        assert_eq!(l.spatial_shape(), vec![10, 20]);
        Ok(())
    }

    #[test]
    fn voxel_region_converts_world_to_voxels() -> Result<(), ArrayError> {
        let l = layout()?;
        assert_eq!(
            l.voxel_region(&roi(&[108, 14], &[8, 6]))?,
            vec![0..2, 2..4, 2..5]
        );
        assert_eq!(l.voxel_region(&l.roi())?, vec![0..2, 0..10, 0..20]);
        // Empty, begin inside, end past the bounds: clamped as numpy slices are.
        assert_eq!(
            l.voxel_region(&roi(&[108, 14], &[0, 80]))?,
            vec![0..2, 2..2, 2..20]
        );
        Ok(())
    }

    #[test]
    fn voxel_region_errors_name_the_rois() -> Result<(), ArrayError> {
        let l = layout()?;
        let outside = l.voxel_region(&roi(&[96, 10], &[8, 6]));
        assert!(
            matches!(outside, Err(ArrayError::RoiNotContained { .. })),
            "{outside:?}"
        );
        let off_grid = l.voxel_region(&roi(&[102, 10], &[8, 6]));
        let message = off_grid.as_ref().map_err(ToString::to_string).err();
        assert_eq!(
            message.as_deref(),
            Some(
                "roi [102:110, 10:16] (8, 6) is not on the voxel grid of the array's roi \
                 [100:140, 10:50] (40, 40): its begin minus the array's offset and its shape \
                 must be multiples of the voxel size (4, 2)"
            )
        );
        let bad_shape = l.voxel_region(&roi(&[100, 10], &[6, 6]));
        assert!(matches!(bad_shape, Err(ArrayError::RoiNotOnGrid { .. })));
        let dims = l.voxel_region(&roi(&[100], &[4]));
        assert!(
            matches!(
                dims,
                Err(ArrayError::SpatialDimsMismatch {
                    dims: 1,
                    spatial_dims: 2,
                    ..
                })
            ),
            "{dims:?}"
        );
        Ok(())
    }

    #[test]
    fn coordinate_index_picks_the_containing_voxel() -> Result<(), ArrayError> {
        let l = layout()?;
        assert_eq!(l.coordinate_index(&c(&[100, 10]))?, vec![0, 0]);
        assert_eq!(l.coordinate_index(&c(&[107, 13]))?, vec![1, 1]);
        assert_eq!(
            l.coordinate_region(&c(&[139, 49]))?,
            vec![0..2, 9..10, 19..20]
        );
        assert!(matches!(
            l.coordinate_index(&c(&[140, 10])),
            Err(ArrayError::CoordinateNotContained { .. })
        ));
        Ok(())
    }

    #[test]
    fn to_ndarray_plan_covers_partly_outside_rois() -> Result<(), ArrayError> {
        let l = layout()?;
        let plan = l.to_ndarray_plan(&roi(&[92, 46], &[16, 8]))?;
        assert_eq!(plan.output_shape, vec![2, 4, 4]);
        assert_eq!(
            plan.copy,
            Some(RegionCopy {
                source: vec![0..2, 0..2, 18..20],
                target: vec![0..2, 2..4, 0..2],
            })
        );
        let outside = l.to_ndarray_plan(&roi(&[0, 0], &[8, 8]))?;
        assert_eq!(outside.output_shape, vec![2, 2, 4]);
        assert_eq!(outside.copy, None);
        assert!(matches!(
            l.to_ndarray_plan(&roi(&[93, 46], &[16, 8])),
            Err(ArrayError::RoiNotOnGrid { .. })
        ));
        Ok(())
    }

    #[test]
    fn types_can_interleave_channels() -> Result<(), ArrayError> {
        let metadata = crate::metadata::MetadataOverrides {
            types: Some(vec!["space".into(), "channel".into(), "space".into()]),
            voxel_size: Some(c(&[2, 3])),
            ..Default::default()
        }
        .resolve(&[4, 3, 5], false)?;
        let l = ArrayLayout::from_metadata(&[4, 3, 5], &metadata)?;
        assert_eq!(l.roi(), roi(&[0, 0], &[8, 15]));
        assert_eq!(
            l.voxel_region(&roi(&[2, 3], &[4, 6]))?,
            vec![1..3, 0..3, 1..3]
        );
        Ok(())
    }
}
