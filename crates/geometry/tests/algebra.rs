//! Property tests of the algebra of `Coordinate` and `Roi`.

// Strategies and parsers are test helpers outside `#[test]` functions: a panic there is a test failure.
#![allow(clippy::unwrap_used)]

use daisy_geometry::{Coordinate, GeometryError, Roi, SnapMode};
use proptest::prelude::*;

/// A bounded coordinate of `dims` elements in `range`.
fn coordinate(dims: usize, range: std::ops::Range<i64>) -> impl Strategy<Value = Coordinate> {
    prop::collection::vec(range, dims).prop_map(|v| Coordinate::new(&v).unwrap())
}

/// A coordinate of `dims` elements in `range`, each possibly `None`.
fn option_coordinate(
    dims: usize,
    range: std::ops::Range<i64>,
) -> impl Strategy<Value = Coordinate> {
    prop::collection::vec(prop::option::weighted(0.8, range), dims)
        .prop_map(|v| Coordinate::from_options(&v).unwrap())
}

/// A bounded, non-empty ROI of `dims` dimensions.
fn bounded_roi(dims: usize) -> impl Strategy<Value = Roi> {
    (
        prop::collection::vec(-100i64..100, dims),
        prop::collection::vec(1i64..60, dims),
    )
        .prop_map(|(o, s)| Roi::from_values(&o, &s).unwrap())
}

/// A non-empty ROI of `dims` dimensions, some dimensions possibly unbounded.
fn roi(dims: usize) -> impl Strategy<Value = Roi> {
    (
        prop::collection::vec(-100i64..100, dims),
        prop::collection::vec(prop::option::weighted(0.8, 1i64..60), dims),
    )
        .prop_map(|(o, s)| {
            Roi::new(
                Coordinate::new(&o).unwrap(),
                Coordinate::from_options(&s).unwrap(),
            )
            .unwrap()
        })
}

/// Any ROI of `dims` dimensions: possibly empty (with or without offset) or unbounded.
fn any_roi(dims: usize) -> impl Strategy<Value = Roi> {
    prop_oneof![
        4 => roi(dims),
        1 => (prop::collection::vec(-100i64..100, dims), prop::collection::vec(-10i64..10, dims))
            .prop_map(|(o, s)| Roi::from_values(&o, &s).unwrap()),
        1 => Just(Roi::empty(dims).unwrap()),
    ]
}

/// Two ROIs of the same dimensions.
fn roi_pair() -> impl Strategy<Value = (Roi, Roi)> {
    (1usize..=4).prop_flat_map(|d| (roi(d), roi(d)))
}

/// Parses an optional integer as the ROI repr prints it ("" for None).
fn parse_bound(s: &str) -> Option<i64> {
    if s.is_empty() {
        None
    } else {
        Some(s.parse().unwrap())
    }
}

/// The elements of a coordinate as printed.
type Elements = Vec<Option<i64>>;

/// Parses the repr `[b:e, …] (s, …)` of a non-empty ROI into begin, end and shape.
fn parse_roi_repr(repr: &str) -> [Elements; 3] {
    let (slices, shape) = repr.split_once("] (").unwrap();
    let slices = slices.strip_prefix('[').unwrap();
    let shape = shape.strip_suffix(')').unwrap();
    let (mut begin, mut end) = (Vec::new(), Vec::new());
    for s in slices.split(", ") {
        let (b, e) = s.split_once(':').unwrap();
        begin.push(parse_bound(b));
        end.push(parse_bound(e));
    }
    let shape = shape
        .split(", ")
        .map(|s| {
            if s == "inf" {
                None
            } else {
                Some(s.parse().unwrap())
            }
        })
        .collect();
    [begin, end, shape]
}

/// Parses the tuple repr of a coordinate.
fn parse_coordinate_repr(repr: &str) -> Vec<Option<i64>> {
    let inner = repr.strip_prefix('(').unwrap().strip_suffix(')').unwrap();
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s == "None" {
                None
            } else {
                Some(s.parse().unwrap())
            }
        })
        .collect()
}

proptest! {
    #[test]
    fn intersect_is_commutative_and_contained_in_both((a, b) in roi_pair()) {
        let ab = a.intersect(&b)?;
        prop_assert_eq!(ab, b.intersect(&a)?);
        prop_assert_eq!(a.intersects(&b)?, b.intersects(&a)?);
        prop_assert_eq!(a.intersects(&b)?, !ab.is_empty());
        if ab.is_empty() {
            prop_assert_eq!(ab, Roi::empty(a.dims())?);
        } else {
            prop_assert!(a.contains(&ab), "{a} does not contain {ab}");
            prop_assert!(b.contains(&ab), "{b} does not contain {ab}");
        }
    }

    #[test]
    fn intersect_is_idempotent(a in (1usize..=4).prop_flat_map(any_roi)) {
        if a.is_empty() {
            prop_assert_eq!(a.intersect(&a)?, Roi::empty(a.dims())?);
        } else {
            prop_assert_eq!(a.intersect(&a)?, a);
        }
    }

    #[test]
    fn union_contains_both((a, b) in roi_pair()) {
        let u = a.union(&b)?;
        prop_assert_eq!(u, b.union(&a)?);
        prop_assert!(u.contains(&a), "{u} does not contain {a}");
        prop_assert!(u.contains(&b), "{u} does not contain {b}");
        prop_assert!(u.contains(&a.intersect(&b)?) || a.intersect(&b)?.is_empty());
    }

    #[test]
    fn union_with_an_empty_roi_is_the_other(
        (a, e) in (1usize..=4).prop_flat_map(|d| (any_roi(d), any_roi(d)))
    ) {
        if e.is_empty() {
            prop_assert_eq!(e.union(&a)?, a);
            prop_assert_eq!(a.union(&e)?, if a.is_empty() { e } else { a });
        }
    }

    #[test]
    fn contains_agrees_with_intersect((a, b) in roi_pair()) {
        prop_assert_eq!(a.contains(&b), a.intersect(&b)? == b, "{} and {}", a, b);
        prop_assert!(a.contains(&a));
    }

    #[test]
    fn grow_then_shrink_is_the_identity(
        (r, neg, pos) in (1usize..=4).prop_flat_map(|d| (any_roi(d), coordinate(d, -20..20), coordinate(d, -20..20)))
    ) {
        let grown = r.grow(&neg, &pos)?;
        prop_assert_eq!(grown.grow(&neg.neg()?, &pos.neg()?)?, r);
        // Growing by non-negative amounts gives a ROI that contains the original.
        let (n, p) = (neg.abs()?, pos.abs()?);
        if !r.is_empty() {
            prop_assert!(r.grow(&n, &p)?.contains(&r));
        }
    }

    #[test]
    fn grow_scalar_matches_grow((r, n, p) in (1usize..=4).prop_flat_map(|d| (any_roi(d), -20i64..20, -20i64..20))) {
        let d = r.dims();
        prop_assert_eq!(r.grow_scalar(n, p)?, r.grow(&Coordinate::filled(d, n)?, &Coordinate::filled(d, p)?)?);
    }

    #[test]
    fn shift_then_shift_back_is_the_identity(
        (r, by) in (1usize..=4).prop_flat_map(|d| (any_roi(d), coordinate(d, -1000..1000)))
    ) {
        prop_assert_eq!(r.shift(&by)?.shift(&by.neg()?)?, r);
        prop_assert_eq!(r.shift(&by)?.shape(), r.shape());
        if let Some(v) = by.get(0) {
            prop_assert_eq!(r.shift_scalar(v)?.shift_scalar(-v)?, r);
        }
    }

    #[test]
    fn snap_to_grid_aligns(
        (r, vs) in (1usize..=4).prop_flat_map(|d| (bounded_roi(d), coordinate(d, 1..17)))
    ) {
        let grown = r.snap_to_grid(&vs, SnapMode::Grow)?;
        prop_assert!(grown.contains(&r), "{grown} does not contain {r}");
        prop_assert!(grown.begin().is_multiple_of(&vs));
        prop_assert!(grown.shape().is_multiple_of(&vs));
        // Grow is the smallest such ROI: less than one voxel beyond the original on each side.
        for d in 0..r.dims() {
            let v = vs.get(d).unwrap();
            prop_assert!(grown.begin().get(d).unwrap() > r.begin().get(d).unwrap() - v);
            prop_assert!(grown.end().get(d).unwrap() < r.end().get(d).unwrap() + v);
        }
        let shrunk = r.snap_to_grid(&vs, SnapMode::Shrink)?;
        prop_assert!(shrunk.begin().is_multiple_of(&vs));
        prop_assert!(shrunk.shape().is_multiple_of(&vs));
        if !shrunk.is_empty() {
            prop_assert!(r.contains(&shrunk), "{r} does not contain {shrunk}");
            prop_assert!(grown.contains(&shrunk));
        }
        let closest = r.snap_to_grid(&vs, SnapMode::Closest)?;
        prop_assert!(closest.begin().is_multiple_of(&vs));
        prop_assert!(closest.shape().is_multiple_of(&vs));
        prop_assert!(grown.contains(&closest) || closest.is_empty());
        // Snapping an aligned ROI changes nothing.
        for mode in [SnapMode::Grow, SnapMode::Shrink, SnapMode::Closest] {
            prop_assert_eq!(grown.snap_to_grid(&vs, mode)?, grown);
        }
    }

    #[test]
    fn floor_division_and_modulo_identity(
        (a, b) in (0usize..=8).prop_flat_map(|d| (coordinate(d, -(1i64 << 40)..(1i64 << 40)), coordinate(d, -1000..1000)))
    ) {
        prop_assume!(b.iter().all(|v| v != Some(0)));
        let q = a.floor_div(&b)?;
        let r = a.rem(&b)?;
        prop_assert_eq!(q.mul(&b)?.add(&r)?, a);
        for (rv, bv) in r.iter().zip(b.iter()) {
            let (rv, bv) = (rv.unwrap(), bv.unwrap());
            prop_assert!(rv.abs() < bv.abs());
            prop_assert!(rv == 0 || (rv < 0) == (bv < 0));
        }
        // Truncating division rounds toward zero.
        let t = a.div(&b)?;
        for ((tv, av), bv) in t.iter().zip(a.iter()).zip(b.iter()) {
            let (tv, av, bv) = (tv.unwrap(), av.unwrap(), bv.unwrap());
            prop_assert!((tv * bv).abs() <= av.abs());
            prop_assert!(((tv.abs() + 1) * bv.abs()) > av.abs());
        }
    }

    #[test]
    fn scalar_ops_match_coordinate_ops(
        (a, v) in (0usize..=8).prop_flat_map(|d| (option_coordinate(d, -100_000..100_000), -1000i64..1000))
    ) {
        let f = Coordinate::filled(a.dims(), v)?;
        prop_assert_eq!(a.add_scalar(v)?, a.add(&f)?);
        prop_assert_eq!(a.sub_scalar(v)?, a.sub(&f)?);
        prop_assert_eq!(a.mul_scalar(v)?, a.mul(&f)?);
        prop_assert_eq!(a.div_scalar(v).ok(), a.div(&f).ok());
        prop_assert_eq!(a.floor_div_scalar(v).ok(), a.floor_div(&f).ok());
        prop_assert_eq!(a.rem_scalar(v).ok(), a.rem(&f).ok());
        prop_assert_eq!(a.ceil_division_scalar(v).ok(), a.ceil_division(&f).ok());
        prop_assert_eq!(a.round_division_scalar(v).ok(), a.round_division(&f).ok());
        prop_assert_eq!(a.add_scalar(v)?.sub_scalar(v)?, a);
        prop_assert_eq!(a.neg()?.neg()?, a);
    }

    #[test]
    fn rounding_divisions_are_ordered(
        (a, b) in (1usize..=8).prop_flat_map(|d| (coordinate(d, i64::MIN / 2..i64::MAX / 2), coordinate(d, 1..1_000_000)))
    ) {
        let floor = a.floor_division(&b)?;
        let round = a.round_division(&b)?;
        let ceil = a.ceil_division(&b)?;
        prop_assert!(floor <= round && round <= ceil);
        for d in 0..a.dims() {
            let (f, r, c) = (floor.get(d).unwrap(), round.get(d).unwrap(), ceil.get(d).unwrap());
            prop_assert!(f <= r && r <= c && c - f <= 1);
            // Exact bounds in i128: ceil is the mathematical ceiling for a positive divisor.
            let (av, bv) = (i128::from(a.get(d).unwrap()), i128::from(b.get(d).unwrap()));
            prop_assert!(i128::from(f) * bv <= av && av < (i128::from(f) + 1) * bv);
            prop_assert!(i128::from(c) * bv >= av && av > (i128::from(c) - 1) * bv);
            // Closest rounds to the nearest multiple, halves down.
            let dist = (av - i128::from(r) * bv).abs();
            prop_assert!(2 * dist <= bv);
        }
    }

    #[test]
    fn none_propagates_through_every_operator(
        (a, b) in (0usize..=8).prop_flat_map(|d| (option_coordinate(d, -1000..1000), option_coordinate(d, 1..1000)))
    ) {
        for result in [a.add(&b)?, a.sub(&b)?, a.mul(&b)?, a.div(&b)?, a.floor_div(&b)?, a.rem(&b)?,
                       a.ceil_division(&b)?, a.round_division(&b)?] {
            for d in 0..a.dims() {
                prop_assert_eq!(result.get(d).is_none(), a.get(d).is_none() || b.get(d).is_none());
            }
        }
    }

    #[test]
    fn mismatched_dimensions_are_errors(a in option_coordinate(2, -10..10), b in option_coordinate(3, 1..10)) {
        let is_mismatch = |r: Result<Coordinate, GeometryError>| {
            matches!(r, Err(GeometryError::DimensionMismatch { left: 2, right: 3, .. }))
        };
        prop_assert!(is_mismatch(a.add(&b)));
        prop_assert!(is_mismatch(a.rem(&b)));
        prop_assert!(is_mismatch(a.ceil_division(&b)));
    }

    #[test]
    fn ordering_matches_option_tuples(a in (0usize..=4).prop_flat_map(|d| option_coordinate(d, -3..3)),
                                      b in (0usize..=4).prop_flat_map(|d| option_coordinate(d, -3..3))) {
        prop_assert_eq!(a.cmp(&b), a.to_vec().cmp(&b.to_vec()));
        prop_assert_eq!(a == b, a.to_vec() == b.to_vec());
    }

    #[test]
    fn coordinate_display_round_trips(a in (0usize..=8).prop_flat_map(|d| option_coordinate(d, i64::MIN..i64::MAX))) {
        prop_assert_eq!(parse_coordinate_repr(&a.to_string()), a.to_vec());
    }

    #[test]
    fn roi_display_round_trips(r in (1usize..=4).prop_flat_map(any_roi)) {
        let repr = r.to_string();
        if r.is_empty() {
            prop_assert_eq!(repr, "[empty ROI]");
        } else {
            let [begin, end, shape] = parse_roi_repr(&repr);
            prop_assert_eq!(&begin, &r.begin().to_vec());
            prop_assert_eq!(&end, &r.end().to_vec());
            prop_assert_eq!(&shape, &r.shape().to_vec());
            let begin = Coordinate::from_options(&begin)?;
            let end = Coordinate::from_options(&end)?;
            prop_assert_eq!(Roi::from_begin_end(&begin, &end)?, r);
        }
    }

    #[test]
    fn squeeze_then_size(r in (2usize..=4).prop_flat_map(bounded_roi), dim in 0usize..4) {
        prop_assume!(dim < r.dims());
        let s = r.squeeze(dim)?;
        prop_assert_eq!(s.dims(), r.dims() - 1);
        let removed = i128::from(r.shape().get(dim).unwrap());
        prop_assert_eq!(s.size().unwrap() * removed, r.size().unwrap());
    }

    #[test]
    fn scaling_commutes_with_containment((a, b) in roi_pair(), k in 1i64..10) {
        let (sa, sb) = (a.mul_scalar(k)?, b.mul_scalar(k)?);
        prop_assert_eq!(sa.contains(&sb), a.contains(&b));
        prop_assert_eq!(sa.div_scalar(k)?, a);
        prop_assert_eq!(sa.floor_div_scalar(k)?, a);
    }
}

#[cfg(feature = "serde")]
mod serde_props {
    use super::*;

    proptest! {
        #[test]
        fn serde_round_trip(r in (1usize..=4).prop_flat_map(any_roi), c in (0usize..=8).prop_flat_map(|d| option_coordinate(d, i64::MIN..i64::MAX))) {
            let json = serde_json::to_string(&r).unwrap();
            prop_assert_eq!(serde_json::from_str::<Roi>(&json).unwrap(), r);
            let json = serde_json::to_string(&c).unwrap();
            prop_assert_eq!(serde_json::from_str::<Coordinate>(&json).unwrap(), c);
        }
    }
}
