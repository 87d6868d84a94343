//! Layout rules against a brute-force per-voxel model: for random arrays and ROIs,
//! `voxel_region`, `coordinate_index` and the `to_ndarray` plan agree with checking every voxel's
//! world position one by one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use daisy_array::{ArrayError, ArrayLayout};
use daisy_geometry::{Coordinate, Roi};
use proptest::prelude::*;

/// A random array: channel extents (0 or 1 channel dimension), then per spatial dimension
/// (shape, voxel size, offset).
#[derive(Debug, Clone)]
struct Case {
    channels: Vec<u64>,
    spatial: Vec<(u64, i64, i64)>,
}

impl Case {
    fn layout(&self) -> ArrayLayout {
        let shape: Vec<u64> = self
            .channels
            .iter()
            .copied()
            .chain(self.spatial.iter().map(|s| s.0))
            .collect();
        let voxel_size: Vec<i64> = self.spatial.iter().map(|s| s.1).collect();
        let offset: Vec<i64> = self.spatial.iter().map(|s| s.2).collect();
        ArrayLayout::new(
            &shape,
            self.channels.len(),
            Coordinate::new(&offset).unwrap(),
            Coordinate::new(&voxel_size).unwrap(),
        )
        .unwrap()
    }

    /// The voxel containing world position `w` in spatial dimension `k`, if inside the array.
    fn voxel_at(&self, k: usize, w: i64) -> Option<u64> {
        let (shape, voxel_size, offset) = self.spatial[k];
        let end = offset + shape as i64 * voxel_size;
        (offset..end)
            .contains(&w)
            .then(|| ((w - offset).div_euclid(voxel_size)) as u64)
    }
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(1u64..4, 0..=1),
        prop::collection::vec((1u64..7, 1i64..5, -20i64..20), 1..=3),
    )
        .prop_map(|(channels, spatial)| Case { channels, spatial })
}

/// A case with a ROI on its voxel grid: per spatial dimension (begin in voxels relative to the
/// offset, shape in voxels), plus a shift of the begin in world units (0: on the grid).
fn case_and_roi() -> impl Strategy<Value = (Case, Vec<(i64, i64)>, i64)> {
    case().prop_flat_map(|case| {
        let dims = case.spatial.len();
        (
            Just(case),
            prop::collection::vec((-8i64..10, 1i64..9), dims),
            prop_oneof![3 => Just(0i64), 1 => 1i64..4],
        )
    })
}

fn world_roi(case: &Case, voxels: &[(i64, i64)], shift: i64) -> Roi {
    let begin: Vec<i64> = case
        .spatial
        .iter()
        .zip(voxels)
        .enumerate()
        .map(|(k, (s, v))| s.2 + v.0 * s.1 + if k == 0 { shift } else { 0 })
        .collect();
    let shape: Vec<i64> = case
        .spatial
        .iter()
        .zip(voxels)
        .map(|(s, v)| v.1 * s.1)
        .collect();
    Roi::from_values(&begin, &shape).unwrap()
}

/// All index tuples of a box of `shape`.
fn indices(shape: &[u64]) -> Vec<Vec<u64>> {
    let mut all = vec![vec![]];
    for &n in shape {
        all = all
            .into_iter()
            .flat_map(|prefix| {
                (0..n).map(move |i| {
                    let mut next = prefix.clone();
                    next.push(i);
                    next
                })
            })
            .collect();
    }
    all
}

proptest! {
    #[test]
    fn voxel_region_agrees_with_the_voxel_model((case, voxels, shift) in case_and_roi()) {
        let layout = case.layout();
        let roi = world_roi(&case, &voxels, shift);
        let on_grid = shift % case.spatial[0].1 == 0;
        // Contained iff every world voxel of the ROI is inside the array.
        let contained = case.spatial.iter().enumerate().all(|(k, s)| {
            let b = roi.begin().get(k).unwrap();
            let e = b + roi.shape().get(k).unwrap();
            case.voxel_at(k, b).is_some() && case.voxel_at(k, e - 1).is_some()
                && s.0 > 0
        });
        match layout.voxel_region(&roi) {
            Ok(region) => {
                prop_assert!(contained && on_grid);
                prop_assert_eq!(region.len(), case.channels.len() + case.spatial.len());
                for (d, &c) in case.channels.iter().enumerate() {
                    prop_assert_eq!(region[d].clone(), 0..c);
                }
                for k in 0..case.spatial.len() {
                    let r = &region[case.channels.len() + k];
                    let b = roi.begin().get(k).unwrap();
                    let vs = case.spatial[k].1;
                    // Every voxel of the range is the one at its world position.
                    for (i, v) in r.clone().enumerate() {
                        prop_assert_eq!(case.voxel_at(k, b + i as i64 * vs), Some(v));
                    }
                    prop_assert_eq!((r.end - r.start) as i64 * vs, roi.shape().get(k).unwrap());
                }
            }
            Err(ArrayError::RoiNotContained { .. }) => prop_assert!(!contained),
            Err(ArrayError::RoiNotOnGrid { .. }) => prop_assert!(contained && !on_grid),
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }

    #[test]
    fn to_ndarray_plan_agrees_with_the_voxel_model((case, voxels, shift) in case_and_roi()) {
        let layout = case.layout();
        let roi = world_roi(&case, &voxels, shift);
        let on_grid = shift % case.spatial[0].1 == 0;
        let plan = match layout.to_ndarray_plan(&roi) {
            Ok(plan) => plan,
            Err(ArrayError::RoiNotOnGrid { .. }) => {
                prop_assert!(!on_grid);
                return Ok(());
            }
            Err(other) => return Err(TestCaseError::fail(other.to_string())),
        };
        prop_assert!(on_grid);
        let channels = case.channels.len();
        let expected_shape: Vec<u64> = case
            .channels
            .iter()
            .copied()
            .chain(voxels.iter().map(|v| v.1 as u64))
            .collect();
        prop_assert_eq!(&plan.output_shape, &expected_shape);
        // Each output voxel: inside the array (then which source voxel) or filled.
        for index in indices(&plan.output_shape) {
            let model: Option<Vec<u64>> = (0..case.spatial.len())
                .map(|k| {
                    let w = roi.begin().get(k).unwrap() + index[channels + k] as i64 * case.spatial[k].1;
                    case.voxel_at(k, w)
                })
                .collect::<Option<Vec<u64>>>()
                .map(|spatial| index[..channels].iter().copied().chain(spatial).collect());
            let planned = plan.copy.as_ref().and_then(|copy| {
                copy.target
                    .iter()
                    .zip(&index)
                    .all(|(t, i)| t.contains(i))
                    .then(|| {
                        copy.source
                            .iter()
                            .zip(&copy.target)
                            .zip(&index)
                            .map(|((s, t), i)| s.start + (i - t.start))
                            .collect::<Vec<u64>>()
                    })
            });
            prop_assert_eq!(planned, model, "output voxel {:?}", index);
        }
    }

    #[test]
    fn coordinate_index_agrees_with_the_voxel_model(
        (case, point) in case().prop_flat_map(|case| {
            let dims = case.spatial.len();
            (Just(case), prop::collection::vec(-40i64..60, dims))
        })
    ) {
        let layout = case.layout();
        let coordinate = Coordinate::new(&point).unwrap();
        let model: Option<Vec<u64>> =
            point.iter().enumerate().map(|(k, &w)| case.voxel_at(k, w)).collect();
        match layout.coordinate_index(&coordinate) {
            Ok(index) => prop_assert_eq!(Some(index), model),
            Err(ArrayError::CoordinateNotContained { .. }) => prop_assert_eq!(model, None),
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }
}

#[test]
fn empty_rois_select_nothing_where_the_array_contains_their_begin() {
    let layout = ArrayLayout::new(
        &[10],
        0,
        Coordinate::new(&[4]).unwrap(),
        Coordinate::new(&[2]).unwrap(),
    )
    .unwrap();
    let empty = Roi::from_values(&[8], &[0]).unwrap();
    assert_eq!(layout.voxel_region(&empty).unwrap(), vec![2..2]);
    let plan = layout.to_ndarray_plan(&empty).unwrap();
    assert_eq!((plan.output_shape, plan.copy), (vec![0], None));
    assert!(
        layout
            .voxel_region(&Roi::from_values(&[24], &[0]).unwrap())
            .is_err()
    );
}

#[test]
fn unbounded_rois_are_not_contained_and_have_no_ndarray_plan() {
    let layout = ArrayLayout::new(
        &[10],
        0,
        Coordinate::new(&[0]).unwrap(),
        Coordinate::new(&[1]).unwrap(),
    )
    .unwrap();
    let unbounded = Roi::unbounded(1).unwrap();
    assert!(matches!(
        layout.voxel_region(&unbounded),
        Err(ArrayError::RoiNotContained { .. })
    ));
    assert!(matches!(
        layout.to_ndarray_plan(&unbounded),
        Err(ArrayError::UnboundedRoi { .. })
    ));
}
