//! The blocks of one task and the conflicts among them (docs/semantics.md#tiling).
//!
//! Write blocks tile the total write ROI on a grid; block `g` (one grid index per dimension)
//! writes at `total_write_roi.begin + g · w` and reads at `total_read_roi.begin + g · w`:
//!
//! ```text
//!    |---------------------------|      total read ROI
//!       |---------------------|         total write ROI (total read ROI shrunk by the context)
//!    |-----|                            read ROI of block 0
//!       |--|                            write ROI of block 0
//!          |--|                         write ROI of block 1 (its read ROI reaches back into 0's)
//! ```
//!
//! With `read_write_conflict`, blocks are split into levels: block `g` belongs to the level of
//! `g mod k`, where the level stride `k` (in blocks) is the smallest number of write blocks that
//! covers the context plus one block. Blocks of one level never read what another block of the
//! same level writes; level `L` runs after level `L − 1`, block by block: a block waits only for
//! the blocks of the previous level that it conflicts with. Levels, conflicts and block counts are
//! computed from `g mod k` on the fly, so the graph stores nothing per level or per block.

use std::cmp::Ordering;

use daisy_geometry::{Coordinate, MAX_DIMS, Roi};

use crate::grid::{GridBox, GridCursor, Progression, Vector, ceil_div, floor_div};
use crate::{Block, BlockId, BlockStatus, CoreError, Fit, TaskId, cantor_number};

/// Task coordinates are limited to ±2^60, so sums of a few of them never overflow `i64`.
const COORDINATE_LIMIT: i64 = 1 << 60;
/// Stands for an unbounded begin or end in interval arithmetic.
const INFINITY: i64 = 1 << 62;

/// The tiling of one task into blocks, its levels and the conflicts among its blocks.
///
/// ```
/// use daisy_core::{BlockwiseDependencyGraph, Fit};
/// use daisy_geometry::Roi;
///
/// // docs/semantics.md#levels-and-conflicts: 16 blocks in 4 levels.
/// let graph = BlockwiseDependencyGraph::new(
///     "t",
///     Roi::from_values(&[0, 0], &[3, 3]).unwrap(),
///     Roi::from_values(&[1, 1], &[1, 1]).unwrap(),
///     true,
///     Fit::Valid,
///     Some(Roi::from_values(&[0, 0], &[6, 6]).unwrap()),
///     None,
/// )
/// .unwrap();
/// assert_eq!((graph.num_blocks(), graph.num_levels()), (16, 4));
/// let roots: Vec<u64> = graph.root_gen().map(|b| b.spatial_id()).collect();
/// assert_eq!(roots, [12, 23, 25, 40]);
/// ```
#[derive(Debug, Clone)]
pub struct BlockwiseDependencyGraph {
    task_id: TaskId,
    dims: usize,
    fit: Fit,
    read_write_conflict: bool,
    block_read_roi: Roi,
    block_write_roi: Roi,
    total_read_roi: Roi,
    total_write_roi: Roi,
    context_ul: Coordinate,
    context_lr: Coordinate,
    /// `total_read_roi.begin` and `.shape`.
    read_begin: Vector,
    read_total: Vector,
    /// `total_write_roi.begin` and `.shape` (E).
    write_begin: Vector,
    write_total: Vector,
    /// Template shapes.
    read_size: Vector,
    write_size: Vector,
    /// Block index for the id = `g + id_shift` (the index is relative to the total read ROI).
    id_shift: Vector,
    /// Blocks per dimension.
    grid: Vector,
    /// Level stride in blocks.
    stride: Vector,
    /// Bit layout of block keys: dimension `d` at `key_shift[d]`, `key_bits[d]` wide.
    key_shift: [u32; MAX_DIMS],
    key_bits: [u32; MAX_DIMS],
    num_blocks: u64,
    num_levels: u64,
}

impl BlockwiseDependencyGraph {
    /// Tiles a total ROI with block templates.
    ///
    /// Give the total read ROI (as tasks do) or the total write ROI; the other is derived with
    /// the block context.
    ///
    /// # Errors
    ///
    /// [`CoreError::MissingTotalRoi`] if neither total is given, [`CoreError::InconsistentTotals`]
    /// if both are and they disagree with the context, and the validation errors of
    /// [`crate::TaskBuilder::build`] (dimensions, bounds, write shape, colliding ids), plus
    /// [`CoreError::GridTooLarge`] and [`CoreError::BlockIdOverflow`] for grids whose keys or ids
    /// do not fit into 64 bits.
    pub fn new(
        task_id: impl Into<TaskId>,
        block_read_roi: Roi,
        block_write_roi: Roi,
        read_write_conflict: bool,
        fit: Fit,
        total_read_roi: Option<Roi>,
        total_write_roi: Option<Roi>,
    ) -> Result<Self, CoreError> {
        let task_id: TaskId = task_id.into();
        let name = || task_id.to_string();
        let dims = block_read_roi.dims();
        if dims == 0 {
            return Err(CoreError::DimensionMismatch {
                task_id: name(),
                what: "read ROI",
                got: 0,
                expected: 1,
            });
        }
        let bounded = |what: &'static str, roi: Roi| -> Result<Vector, CoreError> {
            if roi.dims() != dims {
                return Err(CoreError::DimensionMismatch {
                    task_id: name(),
                    what,
                    got: roi.dims(),
                    expected: dims,
                });
            }
            let (offset, shape) = (roi.offset(), roi.shape());
            let (Some(offset), Some(shape)) = (offset.bounded_values(), shape.bounded_values())
            else {
                return Err(CoreError::Unbounded {
                    task_id: name(),
                    what,
                    roi: roi.to_string(),
                });
            };
            if offset
                .iter()
                .chain(shape)
                .any(|v| v.abs() >= COORDINATE_LIMIT)
            {
                return Err(CoreError::CoordinateOutOfRange {
                    task_id: name(),
                    what,
                    roi: roi.to_string(),
                });
            }
            let mut v = [0; MAX_DIMS];
            v[..dims].copy_from_slice(offset);
            Ok(v)
        };
        bounded("read ROI", block_read_roi)?;
        bounded("write ROI", block_write_roi)?;
        let write_shape = block_write_roi.shape();
        if write_shape.iter().any(|w| w.is_none_or(|w| w <= 0)) {
            return Err(CoreError::NonPositiveWriteShape {
                task_id: name(),
                shape: write_shape.to_string(),
            });
        }
        if let Some(total) = total_read_roi {
            bounded("total ROI", total)?;
        }
        if let Some(total) = total_write_roi {
            bounded("total write ROI", total)?;
        }
        let context_ul = block_write_roi.begin().sub(&block_read_roi.begin())?;
        let context_lr = block_read_roi.end().sub(&block_write_roi.end())?;
        let (total_read_roi, total_write_roi) = match (total_read_roi, total_write_roi) {
            (Some(read), None) => (read, read.grow(&context_ul.neg()?, &context_lr.neg()?)?),
            (None, Some(write)) => (write.grow(&context_ul, &context_lr)?, write),
            (Some(read), Some(write)) => {
                if read.grow(&context_ul.neg()?, &context_lr.neg()?)? != write {
                    return Err(CoreError::InconsistentTotals {
                        read: read.to_string(),
                        write: write.to_string(),
                    });
                }
                (read, write)
            }
            (None, None) => return Err(CoreError::MissingTotalRoi),
        };
        let read_begin = bounded("total ROI", total_read_roi)?;
        let write_begin = bounded("total write ROI", total_write_roi)?;
        let mut graph = Self {
            dims,
            fit,
            read_write_conflict,
            block_read_roi,
            block_write_roi,
            total_read_roi,
            total_write_roi,
            context_ul,
            context_lr,
            read_begin,
            read_total: values(&total_read_roi.shape()),
            write_begin,
            write_total: values(&total_write_roi.shape()),
            read_size: values(&block_read_roi.shape()),
            write_size: values(&write_shape),
            id_shift: [0; MAX_DIMS],
            grid: [0; MAX_DIMS],
            stride: [1; MAX_DIMS],
            key_shift: [0; MAX_DIMS],
            key_bits: [0; MAX_DIMS],
            num_blocks: 0,
            num_levels: 1,
            task_id,
        };
        graph.layout()?;
        Ok(graph)
    }

    /// Computes the grid, the level stride, the key layout and the counts.
    fn layout(&mut self) -> Result<(), CoreError> {
        let dims = self.dims;
        for d in 0..dims {
            let (w, e) = (self.write_size[d], self.write_total[d]);
            let ul = self.context_ul.get(d).unwrap_or(0);
            if ul < 0 {
                return Err(CoreError::CollidingBlockIds {
                    task_id: self.task_id.to_string(),
                    dim: d,
                    ahead: -ul,
                    write_size: w,
                });
            }
            self.id_shift[d] = ul / w;
            // docs/semantics.md#tiling: a block exists while its write offset o satisfies o ≤ E − r.
            let r = if self.fit == Fit::Valid { w } else { 1 };
            self.grid[d] = if e >= r { floor_div(e - r, w) + 1 } else { 0 };
            // docs/semantics.md#levels-and-conflicts: the smallest multiple of w covering context plus one block, clamped to the grid.
            if self.read_write_conflict {
                let m = ul.max(self.context_lr.get(d).unwrap_or(0));
                self.stride[d] = ceil_div(m + w, w).max(1);
            }
        }
        if self.grid[..dims].contains(&0) {
            // docs/semantics.md#levels-and-conflicts: no block fits; the task is done at once.
            self.stride = [1; MAX_DIMS];
            return Ok(());
        }
        let mut shift = 0u32;
        let mut blocks: u128 = 1;
        let mut levels: u128 = 1;
        let mut max_index = [0i64; MAX_DIMS];
        for d in (0..dims).rev() {
            self.stride[d] = self.stride[d].min(self.grid[d]);
            self.key_bits[d] = 64 - ((self.grid[d] - 1) as u64).leading_zeros();
            self.key_shift[d] = shift;
            shift += self.key_bits[d];
            blocks *= self.grid[d] as u128;
            levels *= self.stride[d] as u128;
            max_index[d] = self.grid[d] - 1 + self.id_shift[d];
        }
        if shift > 64 {
            return Err(CoreError::GridTooLarge {
                task_id: self.task_id.to_string(),
                grid: self.grid[..dims].to_vec(),
            });
        }
        // Ids grow with every index component, so the far corner has the largest.
        cantor_number(&max_index[..dims])?;
        // Every grid position is one block; levels ≤ blocks.
        self.num_blocks = blocks as u64;
        self.num_levels = levels as u64;
        Ok(())
    }

    /// The task these blocks belong to.
    #[must_use]
    pub fn task_id(&self) -> &TaskId {
        &self.task_id
    }
    /// The read ROI template.
    #[must_use]
    pub fn block_read_roi(&self) -> Roi {
        self.block_read_roi
    }
    /// The write ROI template.
    #[must_use]
    pub fn block_write_roi(&self) -> Roi {
        self.block_write_roi
    }
    /// The total read ROI.
    #[must_use]
    pub fn total_read_roi(&self) -> Roi {
        self.total_read_roi
    }
    /// The total write ROI.
    #[must_use]
    pub fn total_write_roi(&self) -> Roi {
        self.total_write_roi
    }
    /// The context `(write.begin − read.begin, read.end − write.end)` of the templates.
    #[must_use]
    pub fn read_write_context(&self) -> (Coordinate, Coordinate) {
        (self.context_ul, self.context_lr)
    }
    /// Whether blocks conflict.
    #[must_use]
    pub fn read_write_conflict(&self) -> bool {
        self.read_write_conflict
    }
    /// The fit mode.
    #[must_use]
    pub fn fit(&self) -> Fit {
        self.fit
    }
    /// The number of dimensions.
    #[must_use]
    pub fn dims(&self) -> usize {
        self.dims
    }
    /// `r` of docs/semantics.md#tiling: the write shape for `valid`, ones otherwise.
    #[must_use]
    pub fn rounding_term(&self) -> Coordinate {
        let r: Vec<i64> = (0..self.dims)
            .map(|d| {
                if self.fit == Fit::Valid {
                    self.write_size[d]
                } else {
                    1
                }
            })
            .collect();
        coordinate(&r)
    }
    /// The level stride in world units.
    #[must_use]
    pub fn level_stride(&self) -> Coordinate {
        let s: Vec<i64> = (0..self.dims)
            .map(|d| self.stride[d] * self.write_size[d])
            .collect();
        coordinate(&s)
    }
    /// The number of blocks.
    #[must_use]
    pub fn num_blocks(&self) -> u64 {
        self.num_blocks
    }
    /// The number of levels.
    #[must_use]
    pub fn num_levels(&self) -> u64 {
        self.num_levels
    }
    /// The number of blocks in level 0.
    #[must_use]
    pub fn num_roots(&self) -> u64 {
        self.level_box(0).len() as u64
    }

    /// The offset of a level relative to the total write ROI, in world units (docs/semantics.md#tiling).
    ///
    /// Level 0 has the largest offsets, the last level is all zeros.
    #[must_use]
    pub fn level_offset(&self, level: u64) -> Option<Coordinate> {
        let lo = self.level_residue(level)?;
        let o: Vec<i64> = (0..self.dims).map(|d| lo[d] * self.write_size[d]).collect();
        Some(coordinate(&o))
    }

    /// The offsets (world units) at which a block of `level` finds the blocks of the previous
    /// level it conflicts with (docs/semantics.md#levels-and-conflicts); empty for level 0 and without conflicts.
    #[must_use]
    pub fn level_conflicts(&self, level: u64) -> Vec<Coordinate> {
        let Some(lo) = self.level_residue(level) else {
            return Vec::new();
        };
        let mut b = GridBox::new(self.dims);
        if !self.upstream_deltas(&lo, &mut b) {
            return Vec::new();
        }
        let mut out = Vec::new();
        b.for_each(|c| {
            let o: Vec<i64> = (0..self.dims).map(|d| c[d] * self.write_size[d]).collect();
            out.push(coordinate(&o));
        });
        out
    }

    /// The blocks of a level, lazily, row-major.
    #[must_use]
    pub fn level_blocks(&self, level: u64) -> LevelBlocks<'_> {
        let grid_box = match self.level_residue(level) {
            Some(lo) => self.residue_box(&lo),
            None => GridBox::new(self.dims),
        };
        LevelBlocks {
            graph: self,
            cursor: GridCursor::new(grid_box),
        }
    }

    /// The blocks of level 0, lazily.
    #[must_use]
    pub fn root_gen(&self) -> LevelBlocks<'_> {
        self.level_blocks(0)
    }

    /// Whether a block with this write ROI exists under the fit mode (docs/semantics.md#fit-modes).
    #[must_use]
    pub fn inclusion_criteria(&self, block: &Block) -> bool {
        match self.fit {
            Fit::Valid => self.total_write_roi.contains(&block.write_roi),
            Fit::Overhang | Fit::Shrink => self
                .total_write_roi
                .contains_coordinate(&block.write_roi.begin()),
        }
    }

    /// Applies the fit mode to a block: with `shrink`, cuts its ROIs to the totals.
    ///
    /// # Errors
    ///
    /// A geometry error if the block's dimensions differ from the task's.
    pub fn fit_block(&self, block: &mut Block) -> Result<(), CoreError> {
        if self.fit == Fit::Shrink {
            block.write_roi = self.total_write_roi.intersect(&block.write_roi)?;
            block.read_roi = self.total_read_roi.intersect(&block.read_roi)?;
        }
        Ok(())
    }

    /// The blocks of this task that must succeed before `block` may run (docs/semantics.md#levels-and-conflicts), by spatial id.
    ///
    /// # Errors
    ///
    /// [`CoreError::NotOnGrid`] if the block is not one of this task's.
    pub fn upstream(&self, block: &Block) -> Result<Vec<Block>, CoreError> {
        let g = self.position_of(block)?;
        let mut b = GridBox::new(self.dims);
        self.intra_upstream(&g, &mut b);
        Ok(self.sorted_blocks(b))
    }

    /// The blocks of this task that wait for `block` (docs/semantics.md#levels-and-conflicts), by spatial id.
    ///
    /// # Errors
    ///
    /// [`CoreError::NotOnGrid`] if the block is not one of this task's.
    pub fn downstream(&self, block: &Block) -> Result<Vec<Block>, CoreError> {
        let g = self.position_of(block)?;
        let mut b = GridBox::new(self.dims);
        self.intra_downstream(&g, &mut b);
        Ok(self.sorted_blocks(b))
    }

    /// Every block with its upstream blocks, level by level, row-major within a level.
    pub fn enumerate_all_dependencies(&self) -> impl Iterator<Item = (Block, Vec<Block>)> + '_ {
        (0..self.num_levels).flat_map(move |level| {
            self.level_blocks(level).map(move |block| {
                let g = self.grid_position(&block.write_roi);
                let mut b = GridBox::new(self.dims);
                self.intra_upstream(&g, &mut b);
                (block, self.sorted_blocks(b))
            })
        })
    }

    /// The blocks relating to `sub_roi` (docs/semantics.md#tasks-that-depend-on-tasks), row-major: with `read_roi = false` those whose
    /// write ROI, cut to the total write ROI, intersects it; with `read_roi = true` those whose
    /// (fitted) read ROI intersects it.
    ///
    /// # Errors
    ///
    /// A dimension mismatch between `sub_roi` and the task.
    pub fn get_subgraph_blocks(
        &self,
        sub_roi: &Roi,
        read_roi: bool,
    ) -> Result<Vec<Block>, CoreError> {
        if sub_roi.dims() != self.dims {
            return Err(CoreError::DimensionMismatch {
                task_id: self.task_id.to_string(),
                what: "sub ROI",
                got: sub_roi.dims(),
                expected: self.dims,
            });
        }
        let (mut lo, mut hi) = ([0; MAX_DIMS], [0; MAX_DIMS]);
        if sub_roi.is_empty() {
            return Ok(Vec::new());
        }
        let (begin, end) = (sub_roi.begin(), sub_roi.end());
        for d in 0..self.dims {
            lo[d] = begin.get(d).unwrap_or(-INFINITY);
            hi[d] = end.get(d).unwrap_or(INFINITY);
        }
        let mut b = GridBox::new(self.dims);
        if read_roi {
            self.read_overlap(&lo, &hi, &mut b)
        } else {
            self.write_overlap(&lo, &hi, &mut b)
        }
        let mut out = Vec::with_capacity(b.len().min(1 << 20) as usize);
        b.for_each(|g| out.push(self.block_at(g)));
        Ok(out)
    }

    // ---- crate-internal grid interface used by the dependency graph and the scheduler ----

    /// The block at grid position `g` (fitted).
    #[inline]
    pub(crate) fn block_at(&self, g: &Vector) -> Block {
        let (mut read, mut write, mut index) = ([0; MAX_DIMS], [0; MAX_DIMS], [0; MAX_DIMS]);
        for d in 0..self.dims {
            let o = g[d] * self.write_size[d];
            read[d] = self.read_begin[d] + o;
            write[d] = self.write_begin[d] + o;
            index[d] = g[d] + self.id_shift[d];
        }
        let write_roi = roi(&write, &self.write_size, self.dims);
        let mut block = Block {
            block_id: BlockId {
                task_id: self.task_id.clone(),
                spatial_id: self.spatial_id_of_index(&index),
            },
            read_roi: roi(&read, &self.read_size, self.dims),
            write_roi,
            requested_write_roi: write_roi,
            status: BlockStatus::Created,
            started_processing: None,
            stopped_processing: None,
        };
        if self.fit == Fit::Shrink && self.needs_shrink(g) {
            // Same dimensions by construction: the intersections cannot fail.
            if let (Ok(w), Ok(r)) = (
                self.total_write_roi.intersect(&block.write_roi),
                self.total_read_roi.intersect(&block.read_roi),
            ) {
                block.write_roi = w;
                block.read_roi = r;
            }
        }
        block
    }

    /// The spatial id of the block at grid position `g`.
    pub(crate) fn spatial_id(&self, g: &Vector) -> u64 {
        let mut index = [0; MAX_DIMS];
        for d in 0..self.dims {
            index[d] = g[d] + self.id_shift[d];
        }
        self.spatial_id_of_index(&index)
    }

    #[inline]
    fn spatial_id_of_index(&self, index: &Vector) -> u64 {
        // The far corner's id fits (checked in `layout`), and ids grow with each component.
        cantor_number(&index[..self.dims]).unwrap_or(u64::MAX)
    }

    fn needs_shrink(&self, g: &Vector) -> bool {
        (0..self.dims).any(|d| {
            let o = g[d] * self.write_size[d];
            o + self.write_size[d] > self.write_total[d]
                || self.read_begin[d] + o + self.read_size[d]
                    > self.read_begin[d] + self.read_total[d]
        })
    }

    /// Packs a grid position into a 64-bit key.
    #[inline]
    pub(crate) fn key(&self, g: &Vector) -> u64 {
        let mut key = 0u64;
        for d in 0..self.dims {
            key |= (g[d] as u64) << self.key_shift[d];
        }
        key
    }

    /// Unpacks a key into a grid position.
    #[inline]
    pub(crate) fn position(&self, key: u64) -> Vector {
        let mut g = [0; MAX_DIMS];
        for d in 0..self.dims {
            let mask = if self.key_bits[d] == 64 {
                u64::MAX
            } else {
                (1u64 << self.key_bits[d]) - 1
            };
            g[d] = ((key >> self.key_shift[d]) & mask) as i64;
        }
        g
    }

    /// The grid position of a block of this task, from its write ROI's begin.
    ///
    /// # Errors
    ///
    /// [`CoreError::NotOnGrid`] if the block is not at a grid position of this task.
    pub(crate) fn position_of(&self, block: &Block) -> Result<Vector, CoreError> {
        let not_on_grid = || CoreError::NotOnGrid {
            task_id: self.task_id.to_string(),
            read_roi: block.read_roi.to_string(),
        };
        let begin = block.write_roi.begin();
        if block.write_roi.dims() != self.dims || block.task_id() != &*self.task_id {
            return Err(not_on_grid());
        }
        let mut g = [0; MAX_DIMS];
        for d in 0..self.dims {
            let rel = begin.get(d).ok_or_else(not_on_grid)? - self.write_begin[d];
            if rel < 0 || rel % self.write_size[d] != 0 || rel / self.write_size[d] >= self.grid[d]
            {
                return Err(not_on_grid());
            }
            g[d] = rel / self.write_size[d];
        }
        Ok(g)
    }

    /// The grid position of a write ROI known to be on the grid.
    fn grid_position(&self, write_roi: &Roi) -> Vector {
        let begin = write_roi.begin();
        let mut g = [0; MAX_DIMS];
        for d in 0..self.dims {
            g[d] = (begin.get(d).unwrap_or(0) - self.write_begin[d]) / self.write_size[d];
        }
        g
    }

    /// `g mod k`: which level a block belongs to, as a residue vector.
    #[inline]
    fn residue(&self, g: &Vector) -> Vector {
        let mut lo = [0; MAX_DIMS];
        for d in 0..self.dims {
            lo[d] = g[d] % self.stride[d];
        }
        lo
    }

    /// The residue vector of a level: level `L` is entry `num_levels − 1 − L` of the row-major
    /// enumeration of residues (docs/semantics.md#tiling reverses the list).
    fn level_residue(&self, level: u64) -> Option<Vector> {
        if level >= self.num_levels {
            return None;
        }
        let mut f = self.num_levels - 1 - level;
        let mut lo = [0; MAX_DIMS];
        for d in (0..self.dims).rev() {
            let k = self.stride[d] as u64;
            lo[d] = (f % k) as i64;
            f /= k;
        }
        Some(lo)
    }

    /// The blocks of the level with residue `lo`.
    fn residue_box(&self, lo: &Vector) -> GridBox {
        let mut b = GridBox::new(self.dims);
        for d in 0..self.dims {
            b.axes[d] = Progression::clipped(lo[d], self.stride[d], i64::MAX, self.grid[d]);
        }
        b
    }

    /// The blocks of a level.
    pub(crate) fn level_box(&self, level: u64) -> GridBox {
        match self.level_residue(level) {
            Some(lo) => self.residue_box(&lo),
            None => GridBox::new(self.dims),
        }
    }

    /// Fills `out` with the conflict offsets (grid units) of the level with residue `lo`
    /// towards its previous level; `false` for level 0 (and without conflicts).
    ///
    /// The previous level's residue is `lo + 1` in mixed radix `k` (last dimension fastest), so
    /// `op = prev − lo` is 0 before the last dimension `j` that can be incremented, 1 at `j`
    /// and `−lo` after it. Per dimension the candidates are `[op, op + k]` if `op < 0`, `[op]`
    /// if `op == 0` and `[op − k, op]` if `op > 0` (docs/semantics.md#levels-and-conflicts).
    #[inline]
    fn upstream_deltas(&self, lo: &Vector, out: &mut GridBox) -> bool {
        if !self.read_write_conflict {
            return false;
        }
        let Some(j) = (0..self.dims).rev().find(|&d| lo[d] < self.stride[d] - 1) else {
            return false; // level 0: all residues at their maximum
        };
        for d in 0..self.dims {
            let op = match d.cmp(&j) {
                Ordering::Less => 0,
                Ordering::Equal => 1,
                Ordering::Greater => -lo[d],
            };
            out.axes[d] = candidates(op, self.stride[d]);
        }
        true
    }

    /// As [`Self::upstream_deltas`] for the next level: its conflict offsets (towards this
    /// level); `false` for the last level. The next level's residue is `lo − 1` in mixed radix.
    #[inline]
    fn downstream_deltas(&self, lo: &Vector, out: &mut GridBox) -> bool {
        if !self.read_write_conflict {
            return false;
        }
        let Some(j) = (0..self.dims).rev().find(|&d| lo[d] > 0) else {
            return false; // last level: all residues 0
        };
        for d in 0..self.dims {
            let op = match d.cmp(&j) {
                Ordering::Less => 0,
                Ordering::Equal => 1,
                Ordering::Greater => -(self.stride[d] - 1),
            };
            out.axes[d] = candidates(op, self.stride[d]);
        }
        true
    }

    /// The blocks of the previous level that block `g` conflicts with, as a box.
    #[inline]
    pub(crate) fn intra_upstream(&self, g: &Vector, out: &mut GridBox) {
        if !self.upstream_deltas(&self.residue(g), out) {
            out.axes[0].count = 0;
            return;
        }
        for d in 0..self.dims {
            let a = out.axes[d];
            out.axes[d] = Progression::clipped(g[d] + a.start, a.step, a.count, self.grid[d]);
        }
    }

    /// The blocks of the next level that conflict with block `g`, as a box.
    #[inline]
    pub(crate) fn intra_downstream(&self, g: &Vector, out: &mut GridBox) {
        if !self.downstream_deltas(&self.residue(g), out) {
            out.axes[0].count = 0;
            return;
        }
        for d in 0..self.dims {
            // Negated offsets, ascending: −(start + (count−1)·step), …, −start.
            let a = out.axes[d];
            let first = g[d] - (a.start + (a.count - 1) * a.step);
            out.axes[d] = Progression::clipped(first, a.step, a.count, self.grid[d]);
        }
    }

    /// The number of blocks of this task that block `g` waits for.
    #[inline]
    pub(crate) fn intra_upstream_count(&self, g: &Vector) -> u128 {
        let mut b = GridBox::new(self.dims);
        self.intra_upstream(g, &mut b);
        b.len()
    }

    /// Blocks whose write ROI, cut to the total write ROI, intersects `[lo, hi)` (docs/semantics.md#tasks-that-depend-on-tasks).
    pub(crate) fn write_overlap(&self, lo: &Vector, hi: &Vector, out: &mut GridBox) {
        out.dims = self.dims;
        for d in 0..self.dims {
            out.axes[d] = self.write_overlap_axis(d, lo[d], hi[d]);
        }
    }

    /// [`Self::write_overlap`] in one dimension.
    #[inline]
    pub(crate) fn write_overlap_axis(&self, d: usize, lo: i64, hi: i64) -> Progression {
        let (b, w, e) = (self.write_begin[d], self.write_size[d], self.write_total[d]);
        // [b + g·w, min(b + (g+1)·w, b + e)) overlaps [lo, hi) ⟺ b + g·w < hi, b + (g+1)·w > lo, b + e > lo.
        if hi > lo && b + e > lo {
            Progression::range(
                floor_div(lo - b, w).max(0),
                ceil_div(hi - b, w).min(self.grid[d]),
            )
        } else {
            Progression::default()
        }
    }

    /// Blocks whose fitted read ROI intersects `[lo, hi)` (docs/semantics.md#tasks-that-depend-on-tasks).
    pub(crate) fn read_overlap(&self, lo: &Vector, hi: &Vector, out: &mut GridBox) {
        out.dims = self.dims;
        let shrink = self.fit == Fit::Shrink;
        for d in 0..self.dims {
            let (b, w, s, t) = (
                self.read_begin[d],
                self.write_size[d],
                self.read_size[d],
                self.read_total[d],
            );
            // Read [b + g·w, b + g·w + s), cut to [b, b + t) with shrink, overlaps [lo, hi).
            let mut end = ceil_div(hi[d] - b, w).min(self.grid[d]);
            if shrink {
                end = end.min(ceil_div(t, w)); // a non-empty cut read ROI begins before b + t
            }
            let possible = hi[d] > lo[d] && s > 0 && (!shrink || b + t > lo[d]);
            out.axes[d] = if possible {
                Progression::range((floor_div(lo[d] - b - s, w) + 1).max(0), end)
            } else {
                Progression::default()
            };
        }
    }

    /// The write ROI of block `g`, cut to the total write ROI, as `[lo, hi)`.
    pub(crate) fn clipped_write(&self, g: &Vector) -> (Vector, Vector) {
        let (mut lo, mut hi) = ([0; MAX_DIMS], [0; MAX_DIMS]);
        for d in 0..self.dims {
            lo[d] = self.write_begin[d] + g[d] * self.write_size[d];
            hi[d] = (lo[d] + self.write_size[d]).min(self.write_begin[d] + self.write_total[d]);
        }
        (lo, hi)
    }

    /// The fitted read ROI of block `g` as `[lo, hi)` (empty in some dimension if cut away).
    pub(crate) fn fitted_read(&self, g: &Vector) -> (Vector, Vector) {
        let (mut lo, mut hi) = ([0; MAX_DIMS], [0; MAX_DIMS]);
        for d in 0..self.dims {
            (lo[d], hi[d]) = self.fitted_read_axis(d, g[d]);
        }
        (lo, hi)
    }

    /// [`Self::fitted_read`] in one dimension.
    #[inline]
    pub(crate) fn fitted_read_axis(&self, d: usize, g: i64) -> (i64, i64) {
        let lo = self.read_begin[d] + g * self.write_size[d];
        let mut hi = lo + self.read_size[d];
        if self.fit == Fit::Shrink {
            hi = hi.min(self.read_begin[d] + self.read_total[d]);
        }
        (lo, hi)
    }

    /// Blocks per dimension.
    pub(crate) fn grid(&self) -> &Vector {
        &self.grid
    }

    /// The blocks of a box, sorted by spatial id.
    fn sorted_blocks(&self, b: GridBox) -> Vec<Block> {
        let mut out = Vec::new();
        b.for_each(|g| out.push(self.block_at(g)));
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

/// The values of a bounded coordinate, zero-padded.
fn values(c: &Coordinate) -> Vector {
    let mut v = [0; MAX_DIMS];
    for (d, x) in c.iter().enumerate() {
        v[d] = x.unwrap_or(0);
    }
    v
}

/// A coordinate from at most `MAX_DIMS` values (the graph's dimensions were checked).
fn coordinate(v: &[i64]) -> Coordinate {
    Coordinate::new(v).unwrap_or(Coordinate::empty())
}

/// A block ROI from the graph's arrays.
#[inline]
#[allow(clippy::expect_used)]
fn roi(offset: &Vector, shape: &Vector, dims: usize) -> Roi {
    // Invariant, not input: the graph checked its dimensions (1..=MAX_DIMS) and that every
    // coordinate stays within ±2^60, so block ends cannot overflow.
    Roi::from_arrays(offset, shape, dims)
        .expect("block ROIs have the graph's checked dimensions and bounds")
}

/// The blocks of one level, lazily, row-major. See [`BlockwiseDependencyGraph::level_blocks`].
#[derive(Debug, Clone)]
pub struct LevelBlocks<'a> {
    graph: &'a BlockwiseDependencyGraph,
    cursor: GridCursor,
}

impl Iterator for LevelBlocks<'_> {
    type Item = Block;

    fn next(&mut self) -> Option<Block> {
        self.cursor.next_position().map(|g| self.graph.block_at(&g))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.cursor.remaining()).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}
