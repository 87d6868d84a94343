//! The conflicts among the blocks of one task (docs/semantics.md#levels-and-conflicts).
//!
//! The blocks themselves, their ids, keys and levels are the task's [`Tiling`]; this graph adds
//! who waits for whom. With `read_write_conflict`, blocks are split into levels: block `g`
//! belongs to the level of `g mod k` (`k` the level stride of the tiling). Blocks of one level
//! never read what another block of the same level writes; level `L` runs after level `L − 1`,
//! block by block: a block waits only for the blocks of the previous level that it conflicts
//! with. Levels, conflicts and block counts are computed from `g mod k` on the fly, so the graph
//! stores nothing per level or per block.

use std::cmp::Ordering;
use std::ops::Deref;

use daisy_geometry::{Coordinate, Roi};

use crate::grid::{GridBox, Progression, Vector};
use crate::tiling::coordinate;
use crate::{Block, CoreError, Fit, TaskId, Tiling, TilingBuilder};

/// The tiling of one task with the conflicts among its blocks.
///
/// A graph is its [`Tiling`] plus the conflicts: it dereferences to the tiling for the blocks,
/// ids, levels and fit, and answers `upstream` / `downstream` itself.
///
/// ```
/// use daisy_core::BlockwiseDependencyGraph;
/// use daisy_geometry::Roi;
///
/// // docs/semantics.md#levels-and-conflicts: 16 blocks in 4 levels.
/// let graph = BlockwiseDependencyGraph::builder(
///     "t",
///     Roi::from_values(&[0, 0], &[3, 3]).unwrap(),
///     Roi::from_values(&[1, 1], &[1, 1]).unwrap(),
/// )
/// .total_read_roi(Roi::from_values(&[0, 0], &[6, 6]).unwrap())
/// .build()
/// .unwrap();
/// assert_eq!((graph.num_blocks(), graph.num_levels()), (16, 4));
/// let roots: Vec<u64> = graph.root_gen().map(|b| b.spatial_id()).collect();
/// assert_eq!(roots, [12, 23, 25, 40]);
/// ```
#[derive(Debug, Clone)]
pub struct BlockwiseDependencyGraph {
    tiling: Tiling,
}

/// Builds a [`BlockwiseDependencyGraph`] (see [`BlockwiseDependencyGraph::builder`]).
#[derive(Debug, Clone)]
#[must_use]
pub struct BlockwiseDependencyGraphBuilder {
    tiling: TilingBuilder,
}

impl BlockwiseDependencyGraphBuilder {
    /// Whether neighbouring blocks conflict (default `true`).
    pub fn read_write_conflict(mut self, conflict: bool) -> Self {
        self.tiling = self.tiling.read_write_conflict(conflict);
        self
    }
    /// The fit mode (default [`Fit::Valid`]).
    pub fn fit(mut self, fit: Fit) -> Self {
        self.tiling = self.tiling.fit(fit);
        self
    }
    /// The total ROI blocks read from (as tasks give it).
    pub fn total_read_roi(mut self, roi: Roi) -> Self {
        self.tiling = self.tiling.total_read_roi(roi);
        self
    }
    /// The total ROI blocks write to (used to derive the total read ROI if that is not given).
    pub fn total_write_roi(mut self, roi: Roi) -> Self {
        self.tiling = self.tiling.total_write_roi(roi);
        self
    }
    /// Tiles the total ROI.
    ///
    /// # Errors
    ///
    /// The errors of [`TilingBuilder::build`].
    pub fn build(self) -> Result<BlockwiseDependencyGraph, CoreError> {
        Ok(BlockwiseDependencyGraph {
            tiling: self.tiling.build()?,
        })
    }
}

impl From<Tiling> for BlockwiseDependencyGraph {
    fn from(tiling: Tiling) -> Self {
        Self { tiling }
    }
}

impl Deref for BlockwiseDependencyGraph {
    type Target = Tiling;

    fn deref(&self) -> &Tiling {
        &self.tiling
    }
}

impl BlockwiseDependencyGraph {
    /// Starts a graph from a task id and the block templates; give the total read ROI (as
    /// tasks do) or the total write ROI, and the options, then [`build`](BlockwiseDependencyGraphBuilder::build).
    pub fn builder(
        task_id: impl Into<TaskId>,
        block_read_roi: Roi,
        block_write_roi: Roi,
    ) -> BlockwiseDependencyGraphBuilder {
        BlockwiseDependencyGraphBuilder {
            tiling: Tiling::builder(task_id, block_read_roi, block_write_roi),
        }
    }

    /// The tiling: blocks, ids, keys, levels, fit.
    #[must_use]
    pub fn tiling(&self) -> &Tiling {
        &self.tiling
    }

    /// The offsets (world units) at which a block of `level` finds the blocks of the previous
    /// level it conflicts with (docs/semantics.md#levels-and-conflicts); empty for level 0 and without conflicts.
    #[must_use]
    pub fn level_conflicts(&self, level: u64) -> Vec<Coordinate> {
        let Some(lo) = self.tiling.level_residue(level) else {
            return Vec::new();
        };
        let mut b = GridBox::new(self.tiling.dims());
        if !self.upstream_deltas(&lo, &mut b) {
            return Vec::new();
        }
        let mut out = Vec::new();
        b.for_each(|c| {
            let o: Vec<i64> = (0..self.tiling.dims())
                .map(|d| c[d] * self.tiling.write_size()[d])
                .collect();
            out.push(coordinate(&o));
        });
        out
    }

    /// The blocks of this task that must succeed before `block` may run (docs/semantics.md#levels-and-conflicts), by spatial id.
    ///
    /// # Errors
    ///
    /// [`CoreError::NotOnGrid`] if the block is not one of this task's.
    pub fn upstream(&self, block: &Block) -> Result<Vec<Block>, CoreError> {
        let g = self.tiling.position_of(block)?;
        let mut b = GridBox::new(self.tiling.dims());
        self.intra_upstream(&g, &mut b);
        Ok(self.sorted_blocks(b))
    }

    /// The blocks of this task that wait for `block` (docs/semantics.md#levels-and-conflicts), by spatial id.
    ///
    /// # Errors
    ///
    /// [`CoreError::NotOnGrid`] if the block is not one of this task's.
    pub fn downstream(&self, block: &Block) -> Result<Vec<Block>, CoreError> {
        let g = self.tiling.position_of(block)?;
        let mut b = GridBox::new(self.tiling.dims());
        self.intra_downstream(&g, &mut b);
        Ok(self.sorted_blocks(b))
    }

    /// Every block with its upstream blocks, level by level, row-major within a level.
    pub fn enumerate_all_dependencies(&self) -> impl Iterator<Item = (Block, Vec<Block>)> + '_ {
        (0..self.tiling.num_levels()).flat_map(move |level| {
            self.tiling.level_blocks(level).map(move |block| {
                let g = self.tiling.grid_position(&block.write_roi);
                let mut b = GridBox::new(self.tiling.dims());
                self.intra_upstream(&g, &mut b);
                (block, self.sorted_blocks(b))
            })
        })
    }

    // ---- crate-internal conflict interface used by the dependency graph and the scheduler ----

    /// Fills `out` with the conflict offsets (grid units) of the level with residue `lo`
    /// towards its previous level; `false` for level 0 (and without conflicts).
    ///
    /// The previous level's residue is `lo + 1` in mixed radix `k` (last dimension fastest), so
    /// `op = prev − lo` is 0 before the last dimension `j` that can be incremented, 1 at `j`
    /// and `−lo` after it. Per dimension the candidates are `[op, op + k]` if `op < 0`, `[op]`
    /// if `op == 0` and `[op − k, op]` if `op > 0` (docs/semantics.md#levels-and-conflicts).
    #[inline]
    fn upstream_deltas(&self, lo: &Vector, out: &mut GridBox) -> bool {
        if !self.tiling.read_write_conflict() {
            return false;
        }
        let Some(j) = (0..self.tiling.dims())
            .rev()
            .find(|&d| lo[d] < self.tiling.stride()[d] - 1)
        else {
            return false; // level 0: all residues at their maximum
        };
        for d in 0..self.tiling.dims() {
            let op = match d.cmp(&j) {
                Ordering::Less => 0,
                Ordering::Equal => 1,
                Ordering::Greater => -lo[d],
            };
            out.axes[d] = candidates(op, self.tiling.stride()[d]);
        }
        true
    }

    /// As [`Self::upstream_deltas`] for the next level: its conflict offsets (towards this
    /// level); `false` for the last level. The next level's residue is `lo − 1` in mixed radix.
    #[inline]
    fn downstream_deltas(&self, lo: &Vector, out: &mut GridBox) -> bool {
        if !self.tiling.read_write_conflict() {
            return false;
        }
        let Some(j) = (0..self.tiling.dims()).rev().find(|&d| lo[d] > 0) else {
            return false; // last level: all residues 0
        };
        for d in 0..self.tiling.dims() {
            let op = match d.cmp(&j) {
                Ordering::Less => 0,
                Ordering::Equal => 1,
                Ordering::Greater => -(self.tiling.stride()[d] - 1),
            };
            out.axes[d] = candidates(op, self.tiling.stride()[d]);
        }
        true
    }

    /// The blocks of the previous level that block `g` conflicts with, as a box.
    #[inline]
    pub(crate) fn intra_upstream(&self, g: &Vector, out: &mut GridBox) {
        if !self.upstream_deltas(&self.tiling.residue(g), out) {
            out.axes[0].count = 0;
            return;
        }
        for d in 0..self.tiling.dims() {
            let a = out.axes[d];
            out.axes[d] =
                Progression::clipped(g[d] + a.start, a.step, a.count, self.tiling.grid()[d]);
        }
    }

    /// The blocks of the next level that conflict with block `g`, as a box.
    #[inline]
    pub(crate) fn intra_downstream(&self, g: &Vector, out: &mut GridBox) {
        if !self.downstream_deltas(&self.tiling.residue(g), out) {
            out.axes[0].count = 0;
            return;
        }
        for d in 0..self.tiling.dims() {
            // Negated offsets, ascending: −(start + (count−1)·step), …, −start.
            let a = out.axes[d];
            let first = g[d] - (a.start + (a.count - 1) * a.step);
            out.axes[d] = Progression::clipped(first, a.step, a.count, self.tiling.grid()[d]);
        }
    }

    /// The number of blocks of this task that block `g` waits for.
    #[inline]
    pub(crate) fn intra_upstream_count(&self, g: &Vector) -> u128 {
        let mut b = GridBox::new(self.tiling.dims());
        self.intra_upstream(g, &mut b);
        b.len()
    }

    /// The blocks of a box, sorted by spatial id.
    fn sorted_blocks(&self, b: GridBox) -> Vec<Block> {
        let mut out = Vec::new();
        b.for_each(|g| out.push(self.tiling.block_at(g)));
        out.sort_by_key(Block::spatial_id);
        out
    }
}

/// The conflict candidates of one dimension for offset `op` and stride `k` (docs/semantics.md#levels-and-conflicts).
#[inline]
fn candidates(op: i64, k: i64) -> Progression {
    match op.cmp(&0) {
        Ordering::Less => Progression {
            start: op,
            step: k,
            count: 2,
        },
        Ordering::Equal => Progression {
            start: 0,
            step: k,
            count: 1,
        },
        Ordering::Greater => Progression {
            start: op - k,
            step: k,
            count: 2,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_values::{example_1d, roi};

    #[test]
    fn builder_defaults_are_daisys() {
        let (total, read, write) = example_1d();
        let graph = BlockwiseDependencyGraph::builder("t", read, write)
            .total_read_roi(total)
            .build()
            .unwrap();
        assert!(graph.read_write_conflict());
        assert_eq!(graph.fit(), Fit::Valid);
        assert_eq!((graph.num_blocks(), graph.num_levels()), (3, 2));
        assert_eq!(graph.tiling().total_write_roi(), roi(&[1], &[10]));
    }

    #[test]
    fn builder_options_reach_the_tiling() {
        let graph = BlockwiseDependencyGraph::builder("t", roi(&[0], &[5]), roi(&[1], &[3]))
            .total_write_roi(roi(&[1], &[10]))
            .fit(Fit::Shrink)
            .read_write_conflict(false)
            .build()
            .unwrap();
        assert_eq!(graph.total_read_roi(), roi(&[0], &[12]));
        assert_eq!(
            (graph.fit(), graph.num_blocks(), graph.num_levels()),
            (Fit::Shrink, 4, 1)
        );
        let last = graph.level_blocks(0).last().unwrap();
        assert!(graph.upstream(&last).unwrap().is_empty());
        assert_eq!(last.write_roi, roi(&[10], &[1]));
    }

    #[test]
    fn builder_errors_are_the_tilings() {
        let err = BlockwiseDependencyGraph::builder("t", roi(&[0], &[5]), roi(&[1], &[3]))
            .build()
            .unwrap_err();
        assert_eq!(err, CoreError::MissingTotalRoi);
        let err = BlockwiseDependencyGraph::builder("t", roi(&[0], &[5]), roi(&[1], &[0]))
            .total_read_roi(roi(&[0], &[12]))
            .build()
            .unwrap_err();
        assert!(
            matches!(err, CoreError::NonPositiveWriteShape { .. }),
            "{err}"
        );
    }

    #[test]
    fn conflicts_of_the_1d_worked_example() {
        // Levels of stride 2: level 0 (the largest offsets) is block 1; 0 and 2 wait for it.
        let (total, read, write) = example_1d();
        let graph = BlockwiseDependencyGraph::builder("t", read, write)
            .total_read_roi(total)
            .build()
            .unwrap();
        let roots: Vec<u64> = graph.root_gen().map(|b| b.spatial_id()).collect();
        assert_eq!(roots, [1]);
        let ids = |blocks: Vec<Block>| blocks.iter().map(Block::spatial_id).collect::<Vec<_>>();
        let level1: Vec<Block> = graph.level_blocks(1).collect();
        assert_eq!(ids(level1.clone()), [0, 2]);
        for block in &level1 {
            assert_eq!(ids(graph.upstream(block).unwrap()), [1]);
            assert!(graph.downstream(block).unwrap().is_empty());
        }
        let root = graph.root_gen().next().unwrap();
        assert_eq!(ids(graph.downstream(&root).unwrap()), [0, 2]);
        assert_eq!(graph.level_conflicts(1).len(), 2);
        assert!(graph.level_conflicts(0).is_empty());
    }
}
