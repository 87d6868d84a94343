//! Block ids: the generalised Cantor number of a block index (docs/semantics.md#blocks-and-block-ids).

use crate::CoreError;

/// Returns the generalised Cantor number of a block index.
///
/// `cantor((x,)) = x` and `cantor(c) = P(n, c_0 + … + c_{n−1}) + cantor((c_0 … c_{n−2}))` with the
/// pyramid volume `P(d, s) = C(s + d − 1, d)`. The numbers are unique for non-negative indices
/// and not dense. Negative components are clamped to 0 (as daisy 2.0 does). All arithmetic is
/// exact, in 128-bit integers.
///
/// ```
/// use daisy_core::cantor_number;
/// assert_eq!(cantor_number(&[3, 4]).unwrap(), 31);
/// assert_eq!(cantor_number(&[2, 3, 4]).unwrap(), 182);
/// ```
///
/// # Errors
///
/// [`CoreError::BlockIdOverflow`] if the number does not fit into a `u64`.
#[inline]
pub fn cantor_number(index: &[i64]) -> Result<u64, CoreError> {
    // The closed forms are inlined into the per-block paths; the general case is not.
    match small_cantor(index) {
        Some(id) => Ok(id),
        None => exact_cantor_number(index),
    }
}

/// [`cantor_number`] in 128-bit arithmetic, for any index.
#[inline(never)]
fn exact_cantor_number(index: &[i64]) -> Result<u64, CoreError> {
    let overflow = || CoreError::BlockIdOverflow {
        index: index.to_vec(),
    };
    let mut id: u128 = 0;
    let mut sum: u128 = 0;
    for (k, &c) in index.iter().enumerate() {
        // `c as u128` is exact after the clamp (c ≥ 0).
        sum += c.max(0) as u128;
        let term = if k == 0 {
            sum
        } else {
            pyramid(k as u32 + 1, sum).ok_or_else(overflow)?
        };
        id = id.checked_add(term).ok_or_else(overflow)?;
    }
    u64::try_from(id).map_err(|_| overflow())
}

/// The closed forms for one to three dimensions in 64-bit arithmetic, for indices below 2^20
/// per component (ids below 2^62): no division instruction, no overflow. `None` otherwise.
#[inline]
fn small_cantor(index: &[i64]) -> Option<u64> {
    const LIMIT: u64 = 1 << 20;
    let c = |i: usize| index[i].max(0) as u64;
    match index.len() {
        1 => Some(c(0)),
        2 if c(0) < LIMIT && c(1) < LIMIT => {
            let t = c(0) + c(1);
            Some(triangle(t) + c(0))
        }
        3 if c(0) < LIMIT && c(1) < LIMIT && c(2) < LIMIT => {
            let t = c(0) + c(1);
            let s = t + c(2);
            Some(tetrahedron(s) + triangle(t) + c(0))
        }
        _ => None,
    }
}

/// `t(t+1)/2`, halving whichever factor is even.
#[inline]
fn triangle(t: u64) -> u64 {
    if t.is_multiple_of(2) {
        (t / 2) * (t + 1)
    } else {
        t * (t.div_ceil(2))
    }
}

/// `s(s+1)(s+2)/6`, dividing the factors divisible by 2 and by 3 first.
#[inline]
fn tetrahedron(s: u64) -> u64 {
    let mut f = [s, s + 1, s + 2];
    f[(s % 2) as usize] /= 2; // s or s+1 is even
    f[((3 - s % 3) % 3) as usize] /= 3; // exactly one of the three is a multiple of 3
    f[0] * f[1] * f[2]
}

/// `P(d, s) = s·(s+1)·…·(s+d−1) / d!`, exactly, or `None` on 128-bit overflow.
fn pyramid(d: u32, s: u128) -> Option<u128> {
    if s == 0 {
        return Some(0);
    }
    // v_i = C(s + i − 1, i) is integral at every step.
    let mut v: u128 = 1;
    for i in 0..d as u128 {
        v = v.checked_mul(s + i)? / (i + 1);
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(index: &[i64]) -> u64 {
        cantor_number(index).unwrap()
    }

    #[test]
    fn worked_examples() {
        assert_eq!(id(&[5]), 5);
        for (index, expected) in [
            ([0, 0], 0),
            ([0, 1], 1),
            ([1, 0], 2),
            ([0, 2], 3),
            ([1, 1], 4),
            ([2, 0], 5),
            ([2, 2], 12),
            ([3, 4], 31),
        ] {
            assert_eq!(id(&index), expected, "{index:?}");
        }
        for (index, expected) in [
            ([0, 0, 1], 1),
            ([0, 1, 0], 2),
            ([1, 0, 0], 3),
            ([1, 1, 1], 14),
            ([2, 3, 4], 182),
        ] {
            assert_eq!(id(&index), expected, "{index:?}");
        }
    }

    #[test]
    fn grid_from_one() {
        let grid = [
            [4, 7, 11, 16],
            [8, 12, 17, 23],
            [13, 18, 24, 31],
            [19, 25, 32, 40],
        ];
        for (i, row) in grid.iter().enumerate() {
            for (j, &expected) in row.iter().enumerate() {
                assert_eq!(id(&[i as i64 + 1, j as i64 + 1]), expected);
            }
        }
    }

    #[test]
    fn closed_forms() {
        for x in 0..20i64 {
            for y in 0..20i64 {
                assert_eq!(id(&[x, y]) as i64, (x + y) * (x + y + 1) / 2 + x);
                for z in 0..10i64 {
                    let (s, t) = (x + y + z, x + y);
                    assert_eq!(
                        id(&[x, y, z]) as i64,
                        s * (s + 1) * (s + 2) / 6 + t * (t + 1) / 2 + x
                    );
                }
            }
        }
    }

    #[test]
    fn unique_in_a_cube() {
        let mut seen = std::collections::HashSet::new();
        for x in 0..12 {
            for y in 0..12 {
                for z in 0..12 {
                    assert!(seen.insert(id(&[x, y, z])));
                }
            }
        }
    }

    #[test]
    fn negative_components_clamp_to_zero() {
        assert_eq!(id(&[-3]), 0);
        assert_eq!(id(&[-1, 2]), id(&[0, 2]));
    }

    #[test]
    fn exact_beyond_two_to_the_53() {
        // 1.x used floating point: wrong above 2^53. 3-D, s = 3·10^6: s(s+1)(s+2)/6 ≈ 4.5·10^18.
        let s: u128 = 3_000_000;
        let expected = s * (s + 1) * (s + 2) / 6 + 2_000_000 * 2_000_001 / 2 + 1_000_000;
        assert_eq!(id(&[1_000_000, 1_000_000, 1_000_000]) as u128, expected);
    }

    #[test]
    fn closed_forms_agree_with_the_general_product() {
        for s in 0..500u64 {
            assert_eq!(triangle(s) as u128, pyramid(2, s as u128).unwrap());
            assert_eq!(tetrahedron(s) as u128, pyramid(3, s as u128).unwrap());
        }
        let big = (1u64 << 20) - 1;
        assert_eq!(
            tetrahedron(3 * big) as u128,
            pyramid(3, 3 * big as u128).unwrap()
        );
        // Just past the fast path the general one takes over.
        let index = [1 << 20, 5, 7];
        let s = (1u128 << 20) + 12;
        let expected = pyramid(3, s).unwrap() + pyramid(2, (1 << 20) + 5).unwrap() + (1 << 20);
        assert_eq!(cantor_number(&index).unwrap() as u128, expected);
    }

    #[test]
    fn overflow_is_an_error() {
        let err = cantor_number(&[i64::MAX, i64::MAX, i64::MAX]).unwrap_err();
        assert!(matches!(err, CoreError::BlockIdOverflow { .. }));
        assert!(cantor_number(&[i64::MAX; 8]).is_err());
    }
}
