//! Voxel regions: checking them against an array's shape, converting them to and from zarrs'
//! [`ArraySubset`], intersecting them with chunks, and copying boxes between C-order buffers.
//!
//! A voxel region is one half-open range per dimension (all dimensions, channel dims first), as
//! [`ArrayLayout::voxel_region`](crate::ArrayLayout::voxel_region) produces from a `Roi`.

use std::ops::Range;

use zarrs::array::ArraySubset;

use crate::error::ArrayError;

/// The region printed as `[a:b, c:d, ...]`.
#[must_use]
pub(crate) fn format_region(region: &[Range<u64>]) -> String {
    let parts: Vec<String> = region
        .iter()
        .map(|range| format!("{}:{}", range.start, range.end))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// The shape of the region (`end - start` per dimension; 0 for an inverted range).
#[must_use]
pub(crate) fn region_shape(region: &[Range<u64>]) -> Vec<u64> {
    region
        .iter()
        .map(|range| range.end.saturating_sub(range.start))
        .collect()
}

/// The number of elements of the region, `None` on overflow.
#[must_use]
pub(crate) fn region_len(region: &[Range<u64>]) -> Option<u64> {
    region_shape(region)
        .into_iter()
        .try_fold(1u64, u64::checked_mul)
}

/// Checks that the region has one range per dimension of `shape`, each inside it.
///
/// # Errors
/// [`ArrayError::RegionOutOfBounds`] naming the region and the shape.
pub(crate) fn check_region(region: &[Range<u64>], shape: &[u64]) -> Result<(), ArrayError> {
    let inside = region.len() == shape.len()
        && region
            .iter()
            .zip(shape)
            .all(|(range, &size)| range.start <= range.end && range.end <= size);
    if inside {
        Ok(())
    } else {
        Err(ArrayError::RegionOutOfBounds {
            region: format_region(region),
            shape: shape.to_vec(),
        })
    }
}

/// The zarrs subset of a (checked) region.
#[must_use]
pub(crate) fn to_subset(region: &[Range<u64>]) -> ArraySubset {
    ArraySubset::new_with_ranges(region)
}

/// The intersection of two regions of equal dimensions, `None` if it is empty.
#[must_use]
pub(crate) fn intersect(a: &[Range<u64>], b: &[Range<u64>]) -> Option<Vec<Range<u64>>> {
    let ranges: Vec<Range<u64>> = a
        .iter()
        .zip(b)
        .map(|(a, b)| a.start.max(b.start)..a.end.min(b.end))
        .collect();
    ranges
        .iter()
        .all(|range| range.start < range.end)
        .then_some(ranges)
}

/// Whether `inner` covers all of `outer`.
#[must_use]
pub(crate) fn covers(inner: &[Range<u64>], outer: &[Range<u64>]) -> bool {
    inner
        .iter()
        .zip(outer)
        .all(|(inner, outer)| inner.start <= outer.start && inner.end >= outer.end)
}

/// The indices of the chunks of a regular grid with `chunk_shape` that the (non-empty) region
/// touches, in C order.
#[must_use]
pub(crate) fn chunks_touching(region: &[Range<u64>], chunk_shape: &[u64]) -> Vec<Vec<u64>> {
    let bounds: Vec<Range<u64>> = region
        .iter()
        .zip(chunk_shape)
        .map(|(range, &size)| {
            if range.start >= range.end {
                0..0
            } else {
                range.start / size..(range.end - 1) / size + 1
            }
        })
        .collect();
    let mut chunks = Vec::new();
    if bounds.iter().any(|range| range.start >= range.end) {
        return chunks;
    }
    let mut index: Vec<u64> = bounds.iter().map(|range| range.start).collect();
    loop {
        chunks.push(index.clone());
        let mut dim = index.len();
        loop {
            if dim == 0 {
                return chunks;
            }
            dim -= 1;
            index[dim] += 1;
            if index[dim] < bounds[dim].end {
                break;
            }
            index[dim] = bounds[dim].start;
        }
    }
}

/// A box of `shape` elements at `origin` inside a C-order buffer of `buffer_shape` elements.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placement<'a> {
    /// The shape of the whole buffer, in elements.
    pub buffer_shape: &'a [u64],
    /// Where the box starts in the buffer.
    pub origin: &'a [u64],
}

/// Copies a box of `shape` elements of `element_size` bytes from `src` to `dst` (both C order).
///
/// Contiguous runs are copied with one `copy_from_slice` each; trailing dimensions that span
/// both buffers completely are merged into one run.
pub(crate) fn copy_box(
    src: &[u8],
    src_at: Placement<'_>,
    dst: &mut [u8],
    dst_at: Placement<'_>,
    shape: &[u64],
    element_size: usize,
) {
    let dims = shape.len();
    if dims == 0 {
        dst[..element_size].copy_from_slice(&src[..element_size]);
        return;
    }
    if shape.contains(&0) {
        return;
    }
    // Strides in bytes.
    let strides = |buffer_shape: &[u64]| -> Vec<usize> {
        let mut strides = vec![element_size; dims];
        for d in (0..dims - 1).rev() {
            strides[d] = strides[d + 1] * buffer_shape[d + 1] as usize;
        }
        strides
    };
    let src_strides = strides(src_at.buffer_shape);
    let dst_strides = strides(dst_at.buffer_shape);
    // Merge trailing dimensions the box spans fully in both buffers.
    let mut run_dims = dims - 1;
    let mut run = shape[dims - 1] as usize * element_size;
    while run_dims > 0 {
        let d = run_dims;
        let full = shape[d] == src_at.buffer_shape[d]
            && shape[d] == dst_at.buffer_shape[d]
            && src_at.origin[d] == 0
            && dst_at.origin[d] == 0;
        if !full {
            break;
        }
        run_dims -= 1;
        run = shape[run_dims] as usize * src_strides[run_dims];
    }
    let offset = |origin: &[u64], strides: &[usize], index: &[u64]| -> usize {
        (0..dims)
            .map(|d| (origin[d] + index[d]) as usize * strides[d])
            .sum()
    };
    // Iterate over the dimensions before the run.
    let mut index = vec![0u64; dims];
    loop {
        let s = offset(src_at.origin, &src_strides, &index);
        let t = offset(dst_at.origin, &dst_strides, &index);
        dst[t..t + run].copy_from_slice(&src[s..s + run]);
        let mut d = run_dims;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_print_and_check() {
        let region = vec![0..10, 2..4];
        assert_eq!(format_region(&region), "[0:10, 2:4]");
        assert!(check_region(&region, &[10, 4]).is_ok());
        let error = check_region(&region, &[10, 3]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "voxel region [0:10, 2:4] is not inside the array's shape [10, 3]"
        );
        assert!(check_region(&region, &[10]).is_err());
        assert_eq!(region_len(&region), Some(20));
        assert_eq!(to_subset(&region).to_ranges(), region);
    }

    #[test]
    fn chunks_touching_a_region_in_c_order() {
        assert_eq!(
            chunks_touching(&[3..9, 0..4], &[4, 4]),
            vec![vec![0, 0], vec![1, 0], vec![2, 0]]
        );
        assert_eq!(
            chunks_touching(&[4..8, 3..5], &[4, 4]),
            vec![vec![1, 0], vec![1, 1]]
        );
        assert!(chunks_touching(&[4..4, 0..1], &[4, 4]).is_empty());
    }

    #[test]
    fn intersections_and_cover() {
        assert_eq!(
            intersect(&[0..5, 0..5], &[3..8, 4..9]),
            Some(vec![3..5, 4..5])
        );
        assert_eq!(intersect(&[0..5, 0..1], &[5..8, 0..1]), None);
        assert!(covers(&[0..8, 0..8], &[4..8, 0..4]));
        assert!(!covers(&[1..8, 0..8], &[0..8, 0..4]));
    }

    /// A per-element model of `copy_box`.
    fn model(
        src: &[u8],
        src_at: Placement<'_>,
        dst: &mut [u8],
        dst_at: Placement<'_>,
        shape: &[u64],
    ) {
        let len: u64 = shape.iter().product();
        for flat in 0..len {
            let mut rest = flat;
            let mut index = vec![0u64; shape.len()];
            for d in (0..shape.len()).rev() {
                index[d] = rest % shape[d];
                rest /= shape[d];
            }
            let linear = |at: Placement<'_>| {
                let mut offset = 0u64;
                for d in 0..shape.len() {
                    offset = offset * at.buffer_shape[d] + at.origin[d] + index[d];
                }
                offset as usize
            };
            dst[linear(dst_at)] = src[linear(src_at)];
        }
    }

    #[test]
    fn copy_box_matches_the_per_element_model() {
        let src_shape = [4u64, 5, 6];
        let src: Vec<u8> = (0..120).map(|v| v as u8).collect();
        for (origin, shape, dst_shape, dst_origin) in [
            ([0u64, 0, 0], [4u64, 5, 6], [4u64, 5, 6], [0u64, 0, 0]),
            ([1, 2, 3], [2, 3, 3], [3, 4, 5], [1, 0, 2]),
            ([1, 0, 0], [2, 5, 6], [3, 5, 6], [0, 0, 0]),
            ([0, 1, 0], [4, 2, 6], [4, 2, 6], [0, 0, 0]),
        ] {
            let len: u64 = dst_shape.iter().product();
            let mut fast = vec![0u8; len as usize];
            let mut slow = vec![0u8; len as usize];
            let src_at = Placement {
                buffer_shape: &src_shape,
                origin: &origin,
            };
            let dst_at = Placement {
                buffer_shape: &dst_shape,
                origin: &dst_origin,
            };
            copy_box(&src, src_at, &mut fast, dst_at, &shape, 1);
            model(&src, src_at, &mut slow, dst_at, &shape);
            assert_eq!(fast, slow, "{origin:?} {shape:?}");
        }
    }
}
