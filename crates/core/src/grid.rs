//! Integer grid helpers: boxes of block positions and lazy cursors over them.
//!
//! A task's blocks sit on the grid of its [`crate::Tiling`], one integer per dimension (the
//! tiling says where a grid position writes and reads). Every set of blocks the scheduler needs
//! (a level, the conflicting neighbours of a block, the blocks of another task overlapping a
//! ROI) is a Cartesian product of one arithmetic progression per dimension: a [`GridBox`].
//! Nothing here allocates.

use daisy_geometry::MAX_DIMS;

/// A block position, one grid index per dimension (unused tail entries are 0).
pub(crate) type Vector = [i64; MAX_DIMS];

/// `start, start + step, …` (`count` terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Progression {
    pub start: i64,
    pub step: i64,
    pub count: i64,
}

impl Progression {
    /// The integers of `[lo, hi)` (empty if `hi <= lo`).
    pub fn range(lo: i64, hi: i64) -> Self {
        Self {
            start: lo,
            step: 1,
            count: (hi - lo).max(0),
        }
    }

    /// The terms of `start, start + step, …` below `end`, from the first that is ≥ 0.
    /// `start` may be negative; `step > 0`.
    pub fn clipped(start: i64, step: i64, count: i64, end: i64) -> Self {
        let skip = if start < 0 { ceil_div(-start, step) } else { 0 };
        let first = start + skip * step;
        let fit = if first < end {
            ceil_div(end - first, step)
        } else {
            0
        };
        Self {
            start: first,
            step,
            count: (count - skip).clamp(0, fit),
        }
    }
}

/// A Cartesian product of progressions, enumerated row-major (last dimension fastest).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GridBox {
    pub dims: usize,
    pub axes: [Progression; MAX_DIMS],
}

impl GridBox {
    /// The box with no dimensions set yet.
    pub fn new(dims: usize) -> Self {
        Self {
            dims,
            axes: [Progression::default(); MAX_DIMS],
        }
    }

    /// The number of positions in the box.
    pub fn len(&self) -> u128 {
        self.axes[..self.dims]
            .iter()
            .map(|a| a.count.max(0) as u128)
            .product()
    }

    /// Calls `f` for every position, row-major.
    #[inline]
    pub fn for_each(&self, mut f: impl FnMut(&Vector)) {
        let mut cursor = GridCursor::new(*self);
        while let Some(position) = cursor.next_position() {
            f(&position);
        }
    }
}

/// A lazy row-major walk through a [`GridBox`].
#[derive(Debug, Clone)]
pub(crate) struct GridCursor {
    grid_box: GridBox,
    counters: [i64; MAX_DIMS],
    remaining: u128,
}

impl GridCursor {
    /// A cursor at the first position of the box.
    pub fn new(grid_box: GridBox) -> Self {
        Self {
            remaining: grid_box.len(),
            grid_box,
            counters: [0; MAX_DIMS],
        }
    }

    /// How many positions are left.
    pub fn remaining(&self) -> u128 {
        self.remaining
    }

    /// Splits the walk in two: `self` keeps the next `keep` positions (all, if fewer remain),
    /// the cursor returned walks the rest.
    pub fn split_off(&mut self, keep: u128) -> Self {
        let keep = keep.min(self.remaining);
        let mut rest = self.clone();
        rest.remaining = self.remaining - keep;
        self.remaining = keep;
        rest.advance(keep);
        rest
    }

    /// Moves the odometer `n` positions on (a mixed-radix addition, last dimension fastest).
    fn advance(&mut self, n: u128) {
        let mut carry = n;
        for d in (0..self.grid_box.dims).rev() {
            if carry == 0 {
                break;
            }
            let count = self.grid_box.axes[d].count.max(1) as u128;
            let sum = self.counters[d] as u128 + carry;
            self.counters[d] = (sum % count) as i64;
            carry = sum / count;
        }
    }

    /// The next position, or `None` at the end.
    #[inline]
    pub fn next_position(&mut self) -> Option<Vector> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let dims = self.grid_box.dims;
        let mut position = [0; MAX_DIMS];
        for d in 0..dims {
            let axis = &self.grid_box.axes[d];
            position[d] = axis.start + self.counters[d] * axis.step;
        }
        // Advance the odometer, last dimension fastest.
        for d in (0..dims).rev() {
            self.counters[d] += 1;
            if self.counters[d] < self.grid_box.axes[d].count {
                break;
            }
            self.counters[d] = 0;
        }
        Some(position)
    }
}

/// Floor division (rounds toward −∞); `b > 0`.
#[inline]
pub(crate) fn floor_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b)
}

/// Ceiling division; `b > 0`.
#[inline]
pub(crate) fn ceil_div(a: i64, b: i64) -> i64 {
    -(-a).div_euclid(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(b: GridBox) -> Vec<Vec<i64>> {
        let mut out = Vec::new();
        b.for_each(|p| out.push(p[..b.dims].to_vec()));
        out
    }

    #[test]
    fn divisions() {
        assert_eq!(
            (
                floor_div(7, 2),
                floor_div(-7, 2),
                ceil_div(7, 2),
                ceil_div(-7, 2)
            ),
            (3, -4, 4, -3)
        );
        assert_eq!((floor_div(6, 3), ceil_div(6, 3), ceil_div(0, 3)), (2, 2, 0));
    }

    #[test]
    fn row_major_product() {
        let mut b = GridBox::new(2);
        b.axes[0] = Progression {
            start: 1,
            step: 2,
            count: 2,
        };
        b.axes[1] = Progression::range(0, 3);
        assert_eq!(b.len(), 6);
        assert_eq!(
            positions(b),
            [[1, 0], [1, 1], [1, 2], [3, 0], [3, 1], [3, 2]]
        );
    }

    #[test]
    fn a_split_walk_is_the_whole_walk() {
        let mut b = GridBox::new(3);
        b.axes[0] = Progression::range(0, 3);
        b.axes[1] = Progression {
            start: 1,
            step: 2,
            count: 2,
        };
        b.axes[2] = Progression::range(5, 9);
        let whole = positions(b);
        for taken in 0..whole.len() {
            for keep in 0..=whole.len() + 1 {
                let mut front = GridCursor::new(b);
                let mut walked = Vec::new();
                for _ in 0..taken {
                    walked.push(front.next_position().unwrap()[..3].to_vec());
                }
                let mut back = front.split_off(keep as u128);
                assert_eq!(front.remaining(), keep.min(whole.len() - taken) as u128);
                while let Some(p) = front.next_position() {
                    walked.push(p[..3].to_vec());
                }
                assert_eq!(walked.len(), (taken + keep).min(whole.len()));
                while let Some(p) = back.next_position() {
                    walked.push(p[..3].to_vec());
                }
                assert_eq!(walked, whole, "taken {taken}, keep {keep}");
            }
        }
    }

    #[test]
    fn empty_axis_means_empty_box() {
        let mut b = GridBox::new(2);
        b.axes[0] = Progression::range(0, 3);
        b.axes[1] = Progression::range(5, 2);
        assert_eq!(b.len(), 0);
        assert!(positions(b).is_empty());
    }

    #[test]
    fn clipped_progressions() {
        assert_eq!(
            Progression::clipped(-2, 2, 2, 5),
            Progression {
                start: 0,
                step: 2,
                count: 1
            }
        );
        assert_eq!(
            Progression::clipped(-1, 2, 2, 5),
            Progression {
                start: 1,
                step: 2,
                count: 1
            }
        );
        assert_eq!(
            Progression::clipped(3, 2, 2, 5),
            Progression {
                start: 3,
                step: 2,
                count: 1
            }
        );
        assert_eq!(
            Progression::clipped(3, 2, 2, 3),
            Progression {
                start: 3,
                step: 2,
                count: 0
            }
        );
        assert_eq!(Progression::clipped(-4, 2, 2, 5).count, 0);
        assert_eq!(
            Progression::clipped(0, 1, 1, 1),
            Progression {
                start: 0,
                step: 1,
                count: 1
            }
        );
    }
}
