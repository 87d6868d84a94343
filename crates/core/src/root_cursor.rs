//! The blocks a task can start with: level-0 blocks that wait for no other block.

use intervals::Intervals;

use crate::grid::{GridBox, GridCursor, Progression, Vector, ceil_div};

/// A lazy walk through the blocks of a task that wait for nothing.
///
/// For a task without upstream tasks these are its level-0 blocks. For a task with upstream
/// tasks, a level-0 block waits for nothing only if its read ROI overlaps no upstream block
/// (e.g. where the task reaches past its upstream tasks' ROIs; daisy 1.x never ran these and
/// hung). The level-0 blocks that do overlap blocks of one upstream task form a box (*hole*),
/// so the walk goes row by row (all dimensions but the last) and yields, per row, the
/// last-dimension runs that no hole covers. Higher levels always wait for a block of the
/// previous level, so they never start a task.
#[derive(Debug, Clone)]
pub(crate) struct RootCursor {
    level0: GridBox,
    holes: Vec<GridBox>,
    /// Without holes: the level-0 walk itself.
    plain: GridCursor,
    rows: GridCursor,
    row: Vector,
    /// Free runs of the current row, as ranges of the last dimension's progression index.
    runs: Intervals,
    run: usize,
    next_index: i64,
    remaining: u128,
}

impl RootCursor {
    /// All blocks of `level0` outside every hole.
    pub fn new(level0: GridBox, holes: Vec<GridBox>) -> Self {
        let dims = level0.dims;
        let mut prefix = level0;
        prefix.axes[dims - 1] = Progression {
            start: 0,
            step: 1,
            count: 1,
        };
        let mut cursor = Self {
            level0,
            holes,
            plain: GridCursor::new(level0),
            rows: GridCursor::new(prefix),
            row: [0; daisy_geometry::MAX_DIMS],
            runs: Intervals::default(),
            run: 0,
            next_index: 0,
            remaining: 0,
        };
        cursor.remaining = if cursor.holes.is_empty() {
            level0.len()
        } else {
            cursor.count()
        };
        cursor
    }

    /// How many blocks are left.
    pub fn remaining(&self) -> u128 {
        self.remaining
    }

    /// Hands the back half of the blocks left to a new cursor, keeping the front half; `None`
    /// (and nothing changes) with fewer than two left, or with holes (those walks are not
    /// split: a cursor with holes gives its blocks one at a time).
    pub fn split_off(&mut self) -> Option<Self> {
        if !self.holes.is_empty() || self.remaining < 2 {
            return None;
        }
        let keep = self.remaining - self.remaining / 2;
        let plain = self.plain.split_off(keep);
        let rest = Self {
            level0: self.level0,
            holes: Vec::new(),
            plain,
            rows: self.rows.clone(),
            row: self.row,
            runs: Intervals::default(),
            run: 0,
            next_index: 0,
            remaining: self.remaining - keep,
        };
        self.remaining = keep;
        Some(rest)
    }

    fn count(&self) -> u128 {
        let mut rows = self.rows.clone();
        let mut runs = Intervals::default();
        let mut total = 0u128;
        while let Some(row) = rows.next_position() {
            self.free_runs(&row, &mut runs);
            total += runs.iter().map(|(a, b)| (b - a) as u128).sum::<u128>();
        }
        total
    }

    /// The free runs of a row: `[0, count)` of the last dimension minus the holes crossing it.
    fn free_runs(&self, row: &Vector, out: &mut Intervals) {
        let last = self.level0.dims - 1;
        let axis = self.level0.axes[last];
        out.clear();
        out.push(0, axis.count.max(0));
        for hole in &self.holes {
            let crosses = (0..last).all(|d| {
                let h = hole.axes[d];
                h.start <= row[d] && row[d] < h.start + h.count
            });
            if crosses {
                let h = hole.axes[last];
                // Grid positions [h.start, h.start + h.count) as progression indices.
                let a = ceil_div(h.start - axis.start, axis.step);
                let b = ceil_div(h.start + h.count - axis.start, axis.step);
                out.remove(a, b);
            }
        }
    }

    /// The next block position, or `None` at the end.
    #[inline]
    pub fn next_position(&mut self) -> Option<Vector> {
        if self.remaining == 0 {
            return None;
        }
        if self.holes.is_empty() {
            self.remaining -= 1;
            return self.plain.next_position();
        }
        let last = self.level0.dims - 1;
        loop {
            if let Some(&(a, b)) = self.runs.get(self.run) {
                let index = self.next_index.max(a);
                if index < b {
                    self.next_index = index + 1;
                    self.remaining -= 1;
                    let axis = self.level0.axes[last];
                    let mut g = self.row;
                    g[last] = axis.start + index * axis.step;
                    return Some(g);
                }
                self.run += 1;
                continue;
            }
            self.row = self.rows.next_position()?;
            let row = self.row;
            let mut runs = std::mem::take(&mut self.runs);
            self.free_runs(&row, &mut runs);
            self.runs = runs;
            self.run = 0;
            self.next_index = 0;
        }
    }
}

/// Sorted disjoint half-open integer intervals; tiny, so a sorted vector.
mod intervals {
    #[derive(Debug, Clone, Default)]
    pub(crate) struct Intervals(Vec<(i64, i64)>);

    impl Intervals {
        pub fn clear(&mut self) {
            self.0.clear();
        }
        pub fn push(&mut self, a: i64, b: i64) {
            if a < b {
                self.0.push((a, b));
            }
        }
        pub fn get(&self, i: usize) -> Option<&(i64, i64)> {
            self.0.get(i)
        }
        pub fn iter(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
            self.0.iter().copied()
        }
        /// Removes `[a, b)` from every interval.
        pub fn remove(&mut self, a: i64, b: i64) {
            if a >= b {
                return;
            }
            let mut out = Vec::with_capacity(self.0.len() + 1);
            for &(x, y) in &self.0 {
                if y <= a || x >= b {
                    out.push((x, y));
                } else {
                    if x < a {
                        out.push((x, a));
                    }
                    if b < y {
                        out.push((b, y));
                    }
                }
            }
            self.0 = out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(mut c: RootCursor) -> Vec<Vec<i64>> {
        let dims = c.level0.dims;
        let n = c.remaining();
        let mut out = Vec::new();
        while let Some(g) = c.next_position() {
            out.push(g[..dims].to_vec());
        }
        assert_eq!(out.len() as u128, n);
        out
    }

    fn boxed(axes: &[(i64, i64, i64)]) -> GridBox {
        let mut b = GridBox::new(axes.len());
        for (d, &(start, step, count)) in axes.iter().enumerate() {
            b.axes[d] = Progression { start, step, count };
        }
        b
    }

    #[test]
    fn without_holes_everything() {
        let level0 = boxed(&[(1, 2, 2), (0, 1, 3)]);
        assert_eq!(
            walk(RootCursor::new(level0, vec![])),
            [[1, 0], [1, 1], [1, 2], [3, 0], [3, 1], [3, 2]]
        );
    }

    #[test]
    fn holes_are_cut_out_row_major() {
        let level0 = boxed(&[(0, 1, 3), (1, 2, 4)]); // rows 0..3, columns 1, 3, 5, 7
        let holes = vec![
            boxed(&[(0, 1, 2), (2, 1, 4)]),
            boxed(&[(2, 1, 1), (0, 1, 8)]),
        ];
        assert_eq!(
            walk(RootCursor::new(level0, holes)),
            [[0, 1], [0, 7], [1, 1], [1, 7]]
        );
    }

    #[test]
    fn split_walks_cover_the_walk_once() {
        let level0 = boxed(&[(1, 2, 3), (0, 1, 5)]);
        let whole = walk(RootCursor::new(level0, vec![]));
        for taken in 0..whole.len() {
            let mut front = RootCursor::new(level0, vec![]);
            let mut walked = Vec::new();
            for _ in 0..taken {
                walked.push(front.next_position().unwrap()[..2].to_vec());
            }
            let left = whole.len() - taken;
            let Some(back) = front.split_off() else {
                assert!(left < 2, "{left} blocks left must split");
                continue;
            };
            assert_eq!(front.remaining() + back.remaining(), left as u128);
            assert!(front.remaining() >= back.remaining());
            walked.extend(walk(front));
            walked.extend(walk(back));
            assert_eq!(walked, whole);
        }
        let holes = vec![boxed(&[(0, 1, 1), (0, 1, 1)])];
        assert!(RootCursor::new(level0, holes).split_off().is_none());
    }

    #[test]
    fn one_dimension() {
        let level0 = boxed(&[(0, 1, 10)]);
        let holes = vec![boxed(&[(0, 1, 4)]), boxed(&[(6, 1, 2)])];
        assert_eq!(walk(RootCursor::new(level0, holes)), [[4], [5], [8], [9]]);
    }
}
