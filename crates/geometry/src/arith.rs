//! Exact element-wise integer arithmetic with Python semantics.
//!
//! Each function computes what Python computes on arbitrary-precision integers and reports a
//! [`Fault`] where Python raises (`ZeroDivisionError`) or where the exact result does not fit into
//! an `i64`. Nothing here panics.

use crate::error::Fault;

/// `a + b`.
#[inline]
pub(crate) fn add(a: i64, b: i64) -> Result<i64, Fault> {
    a.checked_add(b).ok_or(Fault::Overflow)
}

/// `a - b`.
#[inline]
pub(crate) fn sub(a: i64, b: i64) -> Result<i64, Fault> {
    a.checked_sub(b).ok_or(Fault::Overflow)
}

/// `a * b`.
#[inline]
pub(crate) fn mul(a: i64, b: i64) -> Result<i64, Fault> {
    a.checked_mul(b).ok_or(Fault::Overflow)
}

/// Truncating division, rounding toward zero (`int(a / b)` in Python, computed exactly).
#[inline]
pub(crate) fn div(a: i64, b: i64) -> Result<i64, Fault> {
    if b == 0 {
        return Err(Fault::DivisionByZero);
    }
    a.checked_div(b).ok_or(Fault::Overflow)
}

/// Floor division, rounding toward negative infinity (Python's `a // b`).
#[inline]
pub(crate) fn floor_div(a: i64, b: i64) -> Result<i64, Fault> {
    if b == 0 {
        return Err(Fault::DivisionByZero);
    }
    let q = a.checked_div(b).ok_or(Fault::Overflow)?;
    if a.wrapping_rem(b) != 0 && ((a < 0) != (b < 0)) {
        q.checked_sub(1).ok_or(Fault::Overflow)
    } else {
        Ok(q)
    }
}

/// Floor modulo `a - b * floor(a / b)`, whose sign follows the divisor (Python's `a % b`).
#[inline]
pub(crate) fn rem(a: i64, b: i64) -> Result<i64, Fault> {
    if b == 0 {
        return Err(Fault::DivisionByZero);
    }
    // `checked_rem` only fails (besides b == 0) for i64::MIN % -1, whose remainder is 0.
    let r = a.checked_rem(b).unwrap_or(0);
    if r != 0 && ((r < 0) != (b < 0)) {
        // r and b have opposite signs, so the sum cannot overflow.
        r.checked_add(b).ok_or(Fault::Overflow)
    } else {
        Ok(r)
    }
}

/// `a ** b` for a non-negative exponent (Python gives a float for a negative one: an error here).
#[inline]
pub(crate) fn pow(a: i64, b: i64) -> Result<i64, Fault> {
    if b < 0 {
        return Err(Fault::NegativeExponent);
    }
    match u32::try_from(b) {
        Ok(exp) => a.checked_pow(exp).ok_or(Fault::Overflow),
        // Huge exponents only have a representable result for these bases.
        Err(_) => match a {
            0 => Ok(0),
            1 => Ok(1),
            -1 => Ok(if b % 2 == 0 { 1 } else { -1 }),
            _ => Err(Fault::Overflow),
        },
    }
}

/// `-a`.
#[inline]
pub(crate) fn neg(a: i64) -> Result<i64, Fault> {
    a.checked_neg().ok_or(Fault::Overflow)
}

/// `abs(a)`.
#[inline]
pub(crate) fn abs(a: i64) -> Result<i64, Fault> {
    a.checked_abs().ok_or(Fault::Overflow)
}

/// Floor division on `i128`, for operands that cannot overflow it (both come from `i64` sums).
#[inline]
fn floor_div_i128(a: i128, b: i128) -> i128 {
    // b != 0 and |a| < 2^66 are guaranteed by the callers, so neither `/` nor `%` can overflow.
    let q = a / b;
    if a % b != 0 && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    }
}

/// Narrows an exact `i128` result to `i64`.
#[inline]
fn narrow(v: i128) -> Result<i64, Fault> {
    i64::try_from(v).map_err(|_| Fault::Overflow)
}

/// `(a + b - 1) // b`: funlib's `ceil_division`, computed exactly (for a negative `b` this is not
/// the mathematical ceiling, exactly as in funlib).
#[inline]
pub(crate) fn ceil_division(a: i64, b: i64) -> Result<i64, Fault> {
    if b == 0 {
        return Err(Fault::DivisionByZero);
    }
    let (a, b) = (i128::from(a), i128::from(b));
    narrow(floor_div_i128(a + b - 1, b))
}

/// `(a + (b - 1) // 2) // b`: funlib's `round_division`, which rounds halves down.
#[inline]
pub(crate) fn round_division(a: i64, b: i64) -> Result<i64, Fault> {
    if b == 0 {
        return Err(Fault::DivisionByZero);
    }
    let (a, b) = (i128::from(a), i128::from(b));
    narrow(floor_div_i128(a + floor_div_i128(b - 1, 2), b))
}

/// `a % b == 0` for `is_multiple_of`; a zero divisor is never a divisor.
#[inline]
pub(crate) fn is_multiple(a: i64, b: i64) -> bool {
    b != 0 && a.checked_rem(b).unwrap_or(0) == 0
}

/// `a + b + c` computed exactly (an intermediate overflow is no error if the result fits).
#[inline]
pub(crate) fn add3(a: i64, b: i64, c: i64) -> Result<i64, Fault> {
    narrow(i128::from(a) + i128::from(b) + i128::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = i64::MIN;
    const MAX: i64 = i64::MAX;

    #[test]
    fn truncating_division_rounds_toward_zero() {
        assert_eq!(div(7, 2), Ok(3));
        assert_eq!(div(-7, 2), Ok(-3));
        assert_eq!(div(-6, 4), Ok(-1));
        assert_eq!(div(7, -2), Ok(-3));
        assert_eq!(div(1, 0), Err(Fault::DivisionByZero));
        assert_eq!(div(MIN, -1), Err(Fault::Overflow));
        assert_eq!(div(MIN, 1), Ok(MIN));
    }

    #[test]
    fn floor_division_rounds_down() {
        assert_eq!(floor_div(7, 2), Ok(3));
        assert_eq!(floor_div(-7, 2), Ok(-4));
        assert_eq!(floor_div(7, -2), Ok(-4));
        assert_eq!(floor_div(-7, -2), Ok(3));
        assert_eq!(floor_div(-8, 2), Ok(-4));
        assert_eq!(floor_div(0, -3), Ok(0));
        assert_eq!(floor_div(1, 0), Err(Fault::DivisionByZero));
        assert_eq!(floor_div(MIN, -1), Err(Fault::Overflow));
        assert_eq!(floor_div(MIN, 2), Ok(MIN / 2));
        assert_eq!(floor_div(MIN, MAX), Ok(-2));
    }

    #[test]
    fn modulo_follows_the_divisor() {
        assert_eq!(rem(7, 3), Ok(1));
        assert_eq!(rem(-7, 3), Ok(2));
        assert_eq!(rem(7, -3), Ok(-2));
        assert_eq!(rem(-7, -3), Ok(-1));
        assert_eq!(rem(6, 3), Ok(0));
        assert_eq!(rem(1, 0), Err(Fault::DivisionByZero));
        assert_eq!(rem(MIN, -1), Ok(0));
        assert_eq!(rem(MIN, MAX), Ok(MAX - 1));
    }

    #[test]
    fn power() {
        assert_eq!(pow(2, 10), Ok(1024));
        assert_eq!(pow(0, 0), Ok(1));
        assert_eq!(pow(-3, 3), Ok(-27));
        assert_eq!(pow(2, 63), Err(Fault::Overflow));
        assert_eq!(pow(2, -1), Err(Fault::NegativeExponent));
        assert_eq!(pow(1, MAX), Ok(1));
        assert_eq!(pow(-1, MAX), Ok(-1));
        assert_eq!(pow(-1, MAX - 1), Ok(1));
        assert_eq!(pow(0, MAX), Ok(0));
        assert_eq!(pow(2, MAX), Err(Fault::Overflow));
    }

    #[test]
    fn unary() {
        assert_eq!(neg(5), Ok(-5));
        assert_eq!(neg(MIN), Err(Fault::Overflow));
        assert_eq!(abs(-5), Ok(5));
        assert_eq!(abs(MIN), Err(Fault::Overflow));
    }

    #[test]
    fn ceil_and_round_division() {
        // docs/semantics.md#geometry: Coordinate(5,6).round_division(Coordinate(2,4)) == (2, 1); ceil_division gives (3, 2).
        assert_eq!(round_division(5, 2), Ok(2));
        assert_eq!(round_division(6, 4), Ok(1));
        assert_eq!(ceil_division(5, 2), Ok(3));
        assert_eq!(ceil_division(6, 4), Ok(2));
        assert_eq!(ceil_division(-3, 4), Ok(0));
        assert_eq!(round_division(-3, 4), Ok(-1));
        assert_eq!(ceil_division(MAX, 1), Ok(MAX));
        assert_eq!(ceil_division(MAX, 2), Ok(MAX / 2 + 1));
        assert_eq!(round_division(MIN, 1), Ok(MIN));
        assert_eq!(ceil_division(MIN, -1), Err(Fault::Overflow));
        assert_eq!(ceil_division(1, 0), Err(Fault::DivisionByZero));
        assert_eq!(round_division(1, 0), Err(Fault::DivisionByZero));
        // funlib's formula with a negative divisor: (5 + -2 - 1) // -2 == -1.
        assert_eq!(ceil_division(5, -2), Ok(-1));
    }

    #[test]
    fn multiples_and_sums() {
        assert!(is_multiple(4, 2));
        assert!(!is_multiple(7, 3));
        assert!(!is_multiple(0, 0));
        assert!(is_multiple(MIN, -1));
        assert_eq!(add3(MAX, 1, -1), Ok(MAX));
        assert_eq!(add3(MAX, 1, 0), Err(Fault::Overflow));
        assert_eq!(add(MAX, 1), Err(Fault::Overflow));
        assert_eq!(sub(MIN, 1), Err(Fault::Overflow));
        assert_eq!(mul(MAX, 2), Err(Fault::Overflow));
    }
}
