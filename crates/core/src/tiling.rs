//! The grid arithmetic of a task: where its blocks are, their ids and keys, their levels and how
//! the fit mode treats the boundary (docs/semantics.md#tiling).
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
//! A block exists while its write offset `o` (relative to the total write ROI) satisfies
//! `o ≤ E − r`, with `E` the total write shape and `r` the rounding term: the write shape with
//! `fit = valid`, 1 otherwise (docs/semantics.md#fit-modes). Its id is the Cantor number of its
//! index on the grid anchored at the total read ROI, `(write.begin − total_read.begin) / w`
//! (truncating, as daisy; docs/semantics.md#blocks-and-block-ids). With `read_write_conflict`,
//! block `g` belongs to the level of `g mod k`, where the level stride `k` (in blocks) is the
//! smallest number of write blocks that covers the context plus one block
//! (docs/semantics.md#levels-and-conflicts).
//!
//! Everything here is O(dims) per question and allocates nothing on the per-block paths.

use daisy_geometry::{Coordinate, MAX_DIMS, Roi, SnapMode};

use crate::grid::{GridBox, GridCursor, Progression, Vector, ceil_div, floor_div};
use crate::{Block, BlockId, BlockStatus, CoreError, Fit, TaskId, cantor_number};

/// Task coordinates are limited to ±2^60, so sums of a few of them never overflow `i64`.
const COORDINATE_LIMIT: i64 = 1 << 60;
/// Stands for an unbounded begin or end in interval arithmetic.
const INFINITY: i64 = 1 << 62;

/// The tiling of one task into blocks: grid, block ids, keys, levels and fit.
///
/// Built with [`Tiling::builder`] (a task builds its own: [`crate::Task::tiling`]).
///
/// ```
/// use daisy_core::{Fit, Tiling};
/// use daisy_geometry::Roi;
///
/// // docs/semantics.md#fit-modes: a 1-D total ROI [0:12], read [0:5], write [1:4].
/// let tiling = Tiling::builder(
///     "t",
///     Roi::from_values(&[0], &[5]).unwrap(),
///     Roi::from_values(&[1], &[3]).unwrap(),
/// )
/// .total_read_roi(Roi::from_values(&[0], &[12]).unwrap())
/// .fit(Fit::Overhang)
/// .build()
/// .unwrap();
/// assert_eq!(tiling.grid_shape().to_string(), "(4,)");
/// assert_eq!(tiling.num_blocks(), 4);
/// assert_eq!(tiling.largest_id(), Some(3));
/// let write = Roi::from_values(&[7], &[3]).unwrap();
/// assert_eq!(tiling.block_id(&write).unwrap(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Tiling {
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
    /// The id of the far corner; `None` without blocks.
    largest_id: Option<u64>,
}

/// Builds a [`Tiling`]: block templates plus a total ROI, options, validated in
/// [`TilingBuilder::build`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TilingBuilder {
    task_id: TaskId,
    block_read_roi: Roi,
    block_write_roi: Roi,
    read_write_conflict: bool,
    fit: Fit,
    total_read_roi: Option<Roi>,
    total_write_roi: Option<Roi>,
}

impl TilingBuilder {
    /// Whether neighbouring blocks conflict, which splits them into levels (default `true`).
    pub fn read_write_conflict(mut self, conflict: bool) -> Self {
        self.read_write_conflict = conflict;
        self
    }
    /// The fit mode (default [`Fit::Valid`]).
    pub fn fit(mut self, fit: Fit) -> Self {
        self.fit = fit;
        self
    }
    /// The total ROI blocks read from (as tasks give it).
    pub fn total_read_roi(mut self, roi: Roi) -> Self {
        self.total_read_roi = Some(roi);
        self
    }
    /// The total ROI blocks write to (used to derive the total read ROI if that is not given).
    pub fn total_write_roi(mut self, roi: Roi) -> Self {
        self.total_write_roi = Some(roi);
        self
    }

    /// Validates the templates and totals and computes the grid.
    ///
    /// # Errors
    ///
    /// [`CoreError::MissingTotalRoi`] if neither total is given, [`CoreError::InconsistentTotals`]
    /// if both are and they disagree with the context, [`CoreError::DimensionMismatch`],
    /// [`CoreError::Unbounded`], [`CoreError::CoordinateOutOfRange`],
    /// [`CoreError::NegativeShape`] (a read or given total ROI with a negative shape; an empty
    /// total is fine, it has no blocks), [`CoreError::NonPositiveWriteShape`] and
    /// [`CoreError::CollidingBlockIds`] for bad ROIs,
    /// plus [`CoreError::GridTooLarge`] and [`CoreError::BlockIdOverflow`] for grids whose keys
    /// or ids do not fit into 64 bits.
    pub fn build(self) -> Result<Tiling, CoreError> {
        Tiling::new(self)
    }
}

impl Tiling {
    /// Starts a tiling from a task id and the block templates.
    pub fn builder(
        task_id: impl Into<TaskId>,
        block_read_roi: Roi,
        block_write_roi: Roi,
    ) -> TilingBuilder {
        TilingBuilder {
            task_id: task_id.into(),
            block_read_roi,
            block_write_roi,
            read_write_conflict: true,
            fit: Fit::Valid,
            total_read_roi: None,
            total_write_roi: None,
        }
    }

    fn new(spec: TilingBuilder) -> Result<Self, CoreError> {
        let TilingBuilder {
            task_id,
            block_read_roi,
            block_write_roi,
            read_write_conflict,
            fit,
            total_read_roi,
            total_write_roi,
        } = spec;
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
                .any(|v| v.unsigned_abs() >= COORDINATE_LIMIT.unsigned_abs())
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
        // The ROIs given must not have negative shapes (the totals derived from them may: a
        // total too small for one block has no blocks).
        let not_negative = |what: &'static str, roi: Roi| -> Result<(), CoreError> {
            if roi.shape().iter().any(|s| s.is_some_and(|s| s < 0)) {
                return Err(CoreError::NegativeShape {
                    task_id: name(),
                    what,
                    offset: roi.offset().to_string(),
                    shape: roi.shape().to_string(),
                });
            }
            Ok(())
        };
        bounded("read ROI", block_read_roi)?;
        not_negative("read ROI", block_read_roi)?;
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
            not_negative("total ROI", total)?;
        }
        if let Some(total) = total_write_roi {
            bounded("total write ROI", total)?;
            not_negative("total write ROI", total)?;
        }
        let (context_ul, context_lr) = Self::context_of(&block_read_roi, &block_write_roi)?;
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
        let mut tiling = Self {
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
            largest_id: None,
            task_id,
        };
        tiling.layout()?;
        Ok(tiling)
    }

    /// Computes the grid, the level stride, the key layout, the counts and the largest id.
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
            // A block exists while its write offset o satisfies o ≤ E − r.
            let r = self.rounding(d);
            self.grid[d] = if e >= r { floor_div(e - r, w) + 1 } else { 0 };
            // The smallest multiple of w covering context plus one block, clamped to the grid.
            if self.read_write_conflict {
                let m = ul.max(self.context_lr.get(d).unwrap_or(0));
                self.stride[d] = ceil_div(m + w, w).max(1);
            }
        }
        if self.grid[..dims].contains(&0) {
            // No block fits; the task is done at once.
            self.stride = [1; MAX_DIMS];
            return Ok(());
        }
        let mut shift = 0u32;
        let mut blocks: u128 = 1;
        let mut levels: u128 = 1;
        for d in (0..dims).rev() {
            self.stride[d] = self.stride[d].min(self.grid[d]);
            self.key_bits[d] = 64 - ((self.grid[d] - 1) as u64).leading_zeros();
            self.key_shift[d] = shift;
            shift += self.key_bits[d];
            blocks *= self.grid[d] as u128;
            levels *= self.stride[d] as u128;
        }
        if shift > 64 {
            return Err(CoreError::GridTooLarge {
                task_id: self.task_id.to_string(),
                grid: self.grid[..dims].to_vec(),
            });
        }
        // Ids grow with every index component, so the far corner has the largest.
        self.largest_id = Some(cantor_number(&self.far_corner_index()[..dims])?);
        // Every grid position is one block (at most 2^64 by the key check); levels ≤ blocks.
        self.num_blocks = u64::try_from(blocks).unwrap_or(u64::MAX);
        self.num_levels = u64::try_from(levels).unwrap_or(u64::MAX);
        Ok(())
    }

    /// `r` of dimension `d`: the write shape for `valid`, 1 otherwise.
    #[inline]
    fn rounding(&self, d: usize) -> i64 {
        if self.fit == Fit::Valid {
            self.write_size[d]
        } else {
            1
        }
    }

    // ---- the task's geometry ----

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
    /// The total write ROI (the total read ROI shrunk by the context).
    #[must_use]
    pub fn total_write_roi(&self) -> Roi {
        self.total_write_roi
    }
    /// The context `(write.begin − read.begin, read.end − write.end)` of the templates.
    #[must_use]
    pub fn read_write_context(&self) -> (Coordinate, Coordinate) {
        (self.context_ul, self.context_lr)
    }
    /// Whether blocks conflict (and are split into levels).
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

    // ---- the grid ----

    /// Blocks per dimension (all zero in some dimension for a task without blocks).
    #[must_use]
    pub fn grid_shape(&self) -> Coordinate {
        coordinate(&self.grid[..self.dims])
    }
    /// The id shift: block `g` has the id of index `g + id_shift`, its index on the grid
    /// anchored at the total read ROI (`floor(context_ul / w)` per dimension).
    #[must_use]
    pub fn id_shift(&self) -> Coordinate {
        coordinate(&self.id_shift[..self.dims])
    }
    /// `r` of docs/semantics.md#tiling: the write shape for `valid`, ones otherwise.
    #[must_use]
    pub fn rounding_term(&self) -> Coordinate {
        let r: Vec<i64> = (0..self.dims).map(|d| self.rounding(d)).collect();
        coordinate(&r)
    }
    /// The level stride in world units: the distance between two blocks of one level.
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
        u64::try_from(self.level_box(0).len()).unwrap_or(u64::MAX)
    }
    /// The largest block id of the task (the far corner's: ids grow with every index
    /// component), `None` for a task without blocks. Done markers have one entry per id up to
    /// it.
    #[must_use]
    pub fn largest_id(&self) -> Option<u64> {
        self.largest_id
    }

    /// The index (on the grid anchored at the total read ROI) of the block with the largest
    /// id, the far corner: `grid − 1 + id_shift` per dimension (meaningless without blocks).
    pub(crate) fn far_corner_index(&self) -> Vector {
        let mut index = [0; MAX_DIMS];
        for d in 0..self.dims {
            index[d] = self.grid[d] - 1 + self.id_shift[d];
        }
        index
    }

    /// The block id of a write ROI of this task (fitted or not): the Cantor number of its index
    /// on the grid anchored at the total read ROI, `(write.begin − total_read.begin) / w` with
    /// `w` the write template's shape, truncating (docs/semantics.md#blocks-and-block-ids).
    ///
    /// # Errors
    ///
    /// [`CoreError::NoBlockId`] if the write ROI has other dimensions than the task or is
    /// unbounded, [`CoreError::BlockIdOverflow`] if the id does not fit 64 bits.
    pub fn block_id(&self, write_roi: &Roi) -> Result<u64, CoreError> {
        let bad = |reason: &'static str| CoreError::NoBlockId {
            total: self.total_read_roi.to_string(),
            write: write_roi.to_string(),
            reason,
        };
        if write_roi.dims() != self.dims {
            return Err(bad("their dimensions differ"));
        }
        let begin = write_roi.begin();
        let mut index = [0i64; MAX_DIMS];
        for d in 0..self.dims {
            let o = begin.get(d).ok_or_else(|| bad("they must be bounded"))?;
            let delta = o
                .checked_sub(self.read_begin[d])
                .ok_or_else(|| bad("coordinates overflow"))?;
            index[d] = delta / self.write_size[d]; // truncating, as daisy
        }
        cantor_number(&index[..self.dims])
    }

    /// The block id of a write ROI on the grid anchored at `total_roi`, stepping by the write
    /// ROI's shape: the Cantor number of `(write.begin − total.begin) / write.shape`, truncating
    /// as daisy (what `daisy.Block(total_roi, read_roi, write_roi)` computes).
    ///
    /// ```
    /// use daisy_core::Tiling;
    /// use daisy_geometry::Roi;
    ///
    /// let total = Roi::from_values(&[0, 0], &[10, 10]).unwrap();
    /// let write = Roi::from_values(&[6, 8], &[2, 2]).unwrap();
    /// assert_eq!(Tiling::block_id_of(&total, &write).unwrap(), 31); // index (3, 4)
    /// ```
    ///
    /// # Errors
    ///
    /// [`CoreError::NoBlockId`] if the ROIs differ in dimensions, are unbounded or the write
    /// shape is not positive, [`CoreError::BlockIdOverflow`] if the id does not fit 64 bits.
    pub fn block_id_of(total_roi: &Roi, write_roi: &Roi) -> Result<u64, CoreError> {
        let bad = |reason: &'static str| CoreError::NoBlockId {
            total: total_roi.to_string(),
            write: write_roi.to_string(),
            reason,
        };
        if total_roi.dims() != write_roi.dims() {
            return Err(bad("their dimensions differ"));
        }
        let (begin, offset, shape) = (total_roi.offset(), write_roi.offset(), write_roi.shape());
        let mut index = [0i64; MAX_DIMS];
        for (d, slot) in index.iter_mut().enumerate().take(write_roi.dims()) {
            let (Some(b), Some(o), Some(s)) = (begin.get(d), offset.get(d), shape.get(d)) else {
                return Err(bad("they must be bounded"));
            };
            if s <= 0 {
                return Err(bad("the write shape must be positive"));
            }
            let delta = o
                .checked_sub(b)
                .ok_or_else(|| bad("coordinates overflow"))?;
            *slot = delta / s; // truncating, as daisy
        }
        cantor_number(&index[..write_roi.dims()])
    }

    /// `roi` grown to the write grid of this tiling: its begin rounded down and its end rounded
    /// up to `total_write_roi.begin + k · write_shape`.
    ///
    /// # Errors
    ///
    /// As [`Tiling::expand_to_grid_at`].
    pub fn expand_to_grid(&self, roi: &Roi) -> Result<Roi, CoreError> {
        Self::expand_to_grid_at(
            roi,
            &self.total_write_roi.begin(),
            &self.block_write_roi.shape(),
        )
    }

    /// The context of block templates: how far the read ROI reaches beyond the write ROI,
    /// `(write.begin − read.begin, read.end − write.end)`.
    ///
    /// # Errors
    ///
    /// A geometry error for mismatched dimensions or overflow.
    pub fn context_of(
        read_roi: &Roi,
        write_roi: &Roi,
    ) -> Result<(Coordinate, Coordinate), CoreError> {
        Ok((
            write_roi.begin().sub(&read_roi.begin())?,
            read_roi.end().sub(&write_roi.end())?,
        ))
    }

    /// The origin of the write grid of a task with these ROIs, where block index 0 writes:
    /// `total_roi.begin + write_roi.begin − read_roi.begin`.
    ///
    /// # Errors
    ///
    /// A geometry error for mismatched dimensions or overflow.
    pub fn grid_origin(
        total_roi: &Roi,
        read_roi: &Roi,
        write_roi: &Roi,
    ) -> Result<Coordinate, CoreError> {
        let (context_ul, _) = Self::context_of(read_roi, write_roi)?;
        Ok(total_roi.begin().add(&context_ul)?)
    }

    /// `roi` grown to the grid `origin + k · step`: its begin rounded down, its end rounded up.
    ///
    /// ```
    /// use daisy_core::Tiling;
    /// use daisy_geometry::{Coordinate, Roi};
    ///
    /// let roi = Roi::from_values(&[3], &[2]).unwrap();
    /// let (origin, step) = (Coordinate::new(&[1]).unwrap(), Coordinate::new(&[3]).unwrap());
    /// assert_eq!(Tiling::expand_to_grid_at(&roi, &origin, &step).unwrap().to_string(), "[1:7] (6)");
    /// ```
    ///
    /// # Errors
    ///
    /// A geometry error for mismatched dimensions, a zero step or overflow.
    pub fn expand_to_grid_at(
        roi: &Roi,
        origin: &Coordinate,
        step: &Coordinate,
    ) -> Result<Roi, CoreError> {
        let back = origin.neg()?;
        Ok(roi
            .shift(&back)?
            .snap_to_grid(step, SnapMode::Grow)?
            .shift(origin)?)
    }

    // ---- levels ----

    /// The offset of a level relative to the total write ROI, in world units
    /// (docs/semantics.md#tiling).
    ///
    /// Level 0 has the largest offsets, the last level is all zeros.
    #[must_use]
    pub fn level_offset(&self, level: u64) -> Option<Coordinate> {
        let lo = self.level_residue(level)?;
        let o: Vec<i64> = (0..self.dims).map(|d| lo[d] * self.write_size[d]).collect();
        Some(coordinate(&o))
    }

    /// The blocks of a level, lazily, row-major.
    #[must_use]
    pub fn level_blocks(&self, level: u64) -> LevelBlocks<'_> {
        LevelBlocks {
            tiling: self,
            cursor: GridCursor::new(self.level_box(level)),
        }
    }

    /// The blocks of level 0, lazily.
    #[must_use]
    pub fn root_gen(&self) -> LevelBlocks<'_> {
        self.level_blocks(0)
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

    // ---- fit ----

    /// Whether a block with this write ROI exists under the fit mode
    /// (docs/semantics.md#fit-modes): with `valid` it lies inside the total write ROI, otherwise
    /// it begins inside.
    #[must_use]
    pub fn inclusion_criteria(&self, block: &Block) -> bool {
        match self.fit {
            Fit::Valid => self.total_write_roi.contains(&block.write_roi),
            Fit::Overhang | Fit::Shrink => self
                .total_write_roi
                .contains_coordinate(&block.write_roi.begin()),
        }
    }

    /// Whether a block can be shrunk to the totals: the fit mode is `shrink` and its write ROI
    /// begins inside the total write ROI (daisy 1.x's `shrink_possible`).
    #[must_use]
    pub fn shrink_possible(&self, block: &Block) -> bool {
        self.fit == Fit::Shrink
            && self
                .total_write_roi
                .contains_coordinate(&block.write_roi.begin())
    }

    /// Cuts a block's read and write ROIs to the totals, whatever the fit mode (its id and
    /// requested write ROI are kept).
    ///
    /// # Errors
    ///
    /// A geometry error if the block's dimensions differ from the task's.
    pub fn shrink(&self, block: &mut Block) -> Result<(), CoreError> {
        block.write_roi = self.total_write_roi.intersect(&block.write_roi)?;
        block.read_roi = self.total_read_roi.intersect(&block.read_roi)?;
        Ok(())
    }

    /// Applies the fit mode to a block: with `shrink`, cuts its ROIs to the totals.
    ///
    /// # Errors
    ///
    /// A geometry error if the block's dimensions differ from the task's.
    pub fn fit_block(&self, block: &mut Block) -> Result<(), CoreError> {
        if self.fit == Fit::Shrink {
            self.shrink(block)?;
        }
        Ok(())
    }

    // ---- crate-internal grid interface of the graphs and the scheduler ----

    /// The block at grid position `g` (fitted).
    #[inline]
    pub(crate) fn block_at(&self, g: &Vector) -> Block {
        self.block_with_id(g, self.spatial_id(g))
    }

    /// The block at grid position `g` (fitted), whose spatial id `spatial_id` the caller
    /// already knows ([`Self::spatial_id`] of `g`).
    #[inline]
    pub(crate) fn block_with_id(&self, g: &Vector, spatial_id: u64) -> Block {
        // A constant dimension count for the common cases lets the compiler build the ROIs in
        // registers instead of through copies of run-time length.
        let (mut read_roi, requested_write_roi) = match self.dims {
            1 => self.unfitted_rois(g, 1),
            2 => self.unfitted_rois(g, 2),
            3 => self.unfitted_rois(g, 3),
            4 => self.unfitted_rois(g, 4),
            dims => self.unfitted_rois(g, dims),
        };
        let mut write_roi = requested_write_roi;
        if self.fit == Fit::Shrink && self.needs_shrink(g) {
            // Same dimensions by construction: the intersections cannot fail.
            if let (Ok(w), Ok(r)) = (
                self.total_write_roi.intersect(&write_roi),
                self.total_read_roi.intersect(&read_roi),
            ) {
                write_roi = w;
                read_roi = r;
            }
        }
        // Built last, in the caller's slot: a block is large.
        Block {
            block_id: BlockId {
                task_id: self.task_id.clone(),
                spatial_id,
            },
            read_roi,
            write_roi,
            requested_write_roi,
            status: BlockStatus::Created,
            started_processing: None,
            stopped_processing: None,
        }
    }

    /// The read and write ROIs of block `g` before the fit mode cuts them; `dims` is the
    /// tiling's dimension count.
    #[inline(always)]
    fn unfitted_rois(&self, g: &Vector, dims: usize) -> (Roi, Roi) {
        let (mut read, mut write) = ([0; MAX_DIMS], [0; MAX_DIMS]);
        for d in 0..dims {
            let o = g[d] * self.write_size[d];
            read[d] = self.read_begin[d] + o;
            write[d] = self.write_begin[d] + o;
        }
        (
            roi(&read, &self.read_size, dims),
            roi(&write, &self.write_size, dims),
        )
    }

    /// The spatial id of the block at grid position `g`: the Cantor number of `g + id_shift`.
    #[inline]
    pub(crate) fn spatial_id(&self, g: &Vector) -> u64 {
        let mut index = [0; MAX_DIMS];
        for d in 0..self.dims {
            index[d] = g[d] + self.id_shift[d];
        }
        // The far corner's id fits (checked in `layout`), and ids grow with each component.
        cantor_number(&index[..self.dims]).unwrap_or(u64::MAX)
    }

    /// Whether block `g` reaches past a total (and is cut with `shrink`).
    #[inline]
    fn needs_shrink(&self, g: &Vector) -> bool {
        (0..self.dims).any(|d| {
            let o = g[d] * self.write_size[d];
            o + self.write_size[d] > self.write_total[d]
                || o + self.read_size[d] > self.read_total[d]
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
    pub(crate) fn grid_position(&self, write_roi: &Roi) -> Vector {
        let begin = write_roi.begin();
        let mut g = [0; MAX_DIMS];
        for d in 0..self.dims {
            g[d] = (begin.get(d).unwrap_or(0) - self.write_begin[d]) / self.write_size[d];
        }
        g
    }

    /// `g mod k`: which level a block belongs to, as a residue vector.
    #[inline]
    pub(crate) fn residue(&self, g: &Vector) -> Vector {
        let mut lo = [0; MAX_DIMS];
        for d in 0..self.dims {
            lo[d] = g[d] % self.stride[d];
        }
        lo
    }

    /// The residue vector of a level: level `L` is entry `num_levels − 1 − L` of the row-major
    /// enumeration of residues (docs/semantics.md#tiling reverses the list).
    pub(crate) fn level_residue(&self, level: u64) -> Option<Vector> {
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

    /// The blocks of a level (empty for a level that does not exist).
    pub(crate) fn level_box(&self, level: u64) -> GridBox {
        let mut b = GridBox::new(self.dims);
        if let Some(lo) = self.level_residue(level) {
            for d in 0..self.dims {
                b.axes[d] = Progression::clipped(lo[d], self.stride[d], i64::MAX, self.grid[d]);
            }
        }
        b
    }

    /// Blocks whose write ROI, cut to the total write ROI, intersects `[lo, hi)`
    /// (docs/semantics.md#tasks-that-depend-on-tasks).
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

    /// Blocks whose fitted read ROI intersects `[lo, hi)`
    /// (docs/semantics.md#tasks-that-depend-on-tasks).
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
    #[inline]
    pub(crate) fn grid(&self) -> &Vector {
        &self.grid
    }

    /// The level stride in blocks, per dimension.
    #[inline]
    pub(crate) fn stride(&self) -> &Vector {
        &self.stride
    }

    /// The write shape, per dimension.
    #[inline]
    pub(crate) fn write_size(&self) -> &Vector {
        &self.write_size
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

/// A coordinate from at most `MAX_DIMS` values (the tiling's dimensions were checked).
pub(crate) fn coordinate(v: &[i64]) -> Coordinate {
    Coordinate::new(v).unwrap_or(Coordinate::empty())
}

/// A block ROI from the tiling's arrays.
#[inline]
#[allow(clippy::expect_used)]
fn roi(offset: &Vector, shape: &Vector, dims: usize) -> Roi {
    // Invariant, not input: the tiling checked its dimensions (1..=MAX_DIMS) and that every
    // coordinate stays within ±2^60, so block ends cannot overflow.
    Roi::from_arrays(offset, shape, dims)
        .expect("block ROIs have the tiling's checked dimensions and bounds")
}

/// The blocks of one level, lazily, row-major. See [`Tiling::level_blocks`].
#[derive(Debug, Clone)]
pub struct LevelBlocks<'a> {
    tiling: &'a Tiling,
    cursor: GridCursor,
}

impl Iterator for LevelBlocks<'_> {
    type Item = Block;

    fn next(&mut self) -> Option<Block> {
        self.cursor
            .next_position()
            .map(|g| self.tiling.block_at(&g))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.cursor.remaining()).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::test_values::{example_1d, roi};

    fn tiling_1d(fit: Fit) -> Tiling {
        let (total, read, write) = example_1d();
        Tiling::builder("t", read, write)
            .total_read_roi(total)
            .fit(fit)
            .build()
            .unwrap()
    }

    /// Every block of a tiling, with its grid position.
    fn all_positions(t: &Tiling) -> Vec<Vector> {
        let mut out = Vec::new();
        for level in 0..t.num_levels() {
            t.level_box(level).for_each(|g| out.push(*g));
        }
        out
    }

    #[test]
    fn the_1d_worked_example() {
        // docs/semantics.md#fit-modes: writes at 1, 4, 7 (valid) and also 10 (overhang, shrink).
        let valid = tiling_1d(Fit::Valid);
        assert_eq!(valid.grid_shape().to_string(), "(3,)");
        assert_eq!(valid.id_shift().to_string(), "(0,)");
        assert_eq!(valid.rounding_term().to_string(), "(3,)");
        assert_eq!(valid.largest_id(), Some(2));
        assert_eq!(valid.level_stride().to_string(), "(6,)");
        assert_eq!((valid.num_blocks(), valid.num_levels()), (3, 2));
        let overhang = tiling_1d(Fit::Overhang);
        assert_eq!(overhang.grid_shape().to_string(), "(4,)");
        assert_eq!(overhang.rounding_term().to_string(), "(1,)");
        assert_eq!(overhang.largest_id(), Some(3));
        let shrink = tiling_1d(Fit::Shrink);
        let last = shrink.block_at(&[3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(last.write_roi, roi(&[10], &[1]));
        assert_eq!(last.requested_write_roi, roi(&[10], &[3]));
        assert_eq!(last.read_roi, roi(&[9], &[3]));
        assert!(shrink.shrink_possible(&last));
        assert!(!overhang.shrink_possible(&last));
    }

    #[test]
    fn block_ids_are_relative_to_the_total_read_roi() {
        // Context 4 ≥ w = 3: block 0 has index 1 on the grid anchored at the total read ROI.
        let t = Tiling::builder("t", roi(&[0], &[10]), roi(&[4], &[3]))
            .total_read_roi(roi(&[-2], &[30]))
            .build()
            .unwrap();
        assert_eq!(t.id_shift().to_string(), "(1,)");
        let first = t.block_at(&[0; MAX_DIMS]);
        assert_eq!(first.write_roi, roi(&[2], &[3]));
        assert_eq!(first.spatial_id(), 1);
        assert_eq!(t.block_id(&first.write_roi).unwrap(), 1);
        // Total write ROI [2:25]: 7 blocks; the far corner, grid index 6, has index 7.
        assert_eq!(
            (t.grid_shape().to_string(), t.largest_id()),
            ("(7,)".to_owned(), Some(7))
        );
    }

    #[test]
    fn no_blocks_no_largest_id() {
        let t = Tiling::builder("t", roi(&[0], &[5]), roi(&[1], &[3]))
            .total_read_roi(roi(&[0], &[4]))
            .build()
            .unwrap();
        assert_eq!(
            (t.num_blocks(), t.largest_id(), t.num_levels()),
            (0, None, 1)
        );
        assert_eq!(t.level_stride().to_string(), "(3,)");
        assert_eq!(t.root_gen().count(), 0);
    }

    #[test]
    fn block_id_of_truncates_as_daisy_and_names_bad_rois() {
        let total = roi(&[0, 0], &[10, 10]);
        assert_eq!(
            Tiling::block_id_of(&total, &roi(&[6, 8], &[2, 2])).unwrap(),
            31
        );
        // Truncating: -1 / 3 is 0, not -1 (and negative indices clamp to 0 anyway).
        assert_eq!(
            Tiling::block_id_of(&roi(&[1], &[9]), &roi(&[0], &[3])).unwrap(),
            0
        );
        let err = Tiling::block_id_of(&total, &roi(&[0], &[2])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot compute a block id from total ROI [0:10, 0:10] (10, 10) and write ROI \
             [0:2] (2): their dimensions differ"
        );
        let err = Tiling::block_id_of(&total, &roi(&[0, 0], &[2, 0])).unwrap_err();
        assert!(matches!(
            err,
            CoreError::NoBlockId {
                reason: "the write shape must be positive",
                ..
            }
        ));
    }

    #[test]
    fn expand_to_grid_rounds_outwards_from_the_origin() {
        let t = tiling_1d(Fit::Valid);
        assert_eq!(t.expand_to_grid(&roi(&[3], &[2])).unwrap(), roi(&[1], &[6]));
        let origin =
            Tiling::grid_origin(&roi(&[-10], &[30]), &roi(&[0], &[5]), &roi(&[1], &[3])).unwrap();
        assert_eq!(origin.to_string(), "(-9,)");
        let step = Coordinate::new(&[3]).unwrap();
        for (given, expected) in [
            (roi(&[-9], &[6]), roi(&[-9], &[6])),
            (roi(&[-8], &[1]), roi(&[-9], &[3])),
            (roi(&[-10], &[2]), roi(&[-12], &[6])),
        ] {
            assert_eq!(
                Tiling::expand_to_grid_at(&given, &origin, &step).unwrap(),
                expected
            );
        }
    }

    #[test]
    fn builder_checks_the_totals() {
        let (read, write) = (roi(&[0], &[5]), roi(&[1], &[3]));
        let err = Tiling::builder("t", read, write).build().unwrap_err();
        assert_eq!(err, CoreError::MissingTotalRoi);
        let from_write = Tiling::builder("t", read, write)
            .total_write_roi(roi(&[1], &[10]))
            .build()
            .unwrap();
        assert_eq!(from_write.total_read_roi(), roi(&[0], &[12]));
        let err = Tiling::builder("t", read, write)
            .total_read_roi(roi(&[0], &[12]))
            .total_write_roi(roi(&[0], &[12]))
            .build()
            .unwrap_err();
        assert!(matches!(err, CoreError::InconsistentTotals { .. }), "{err}");
        let both = Tiling::builder("t", read, write)
            .total_read_roi(roi(&[0], &[12]))
            .total_write_roi(roi(&[1], &[10]))
            .read_write_conflict(false)
            .build()
            .unwrap();
        assert_eq!(
            (both.num_levels(), both.level_stride().to_string()),
            (1, "(3,)".to_owned())
        );
    }

    /// A random tiling of up to three dimensions.
    fn arb_tiling() -> impl Strategy<Value = Tiling> {
        (1usize..=3)
            .prop_flat_map(|dims| {
                (
                    prop::collection::vec(-20i64..20, dims), // total offset
                    prop::collection::vec(0i64..24, dims),   // total shape
                    prop::collection::vec(0i64..4, dims),    // context below
                    prop::collection::vec(0i64..4, dims),    // context above
                    prop::collection::vec(1i64..6, dims),    // write shape
                    prop_oneof![Just(Fit::Valid), Just(Fit::Overhang), Just(Fit::Shrink)],
                    any::<bool>(),
                )
            })
            .prop_map(|(offset, shape, ul, lr, w, fit, conflict)| {
                let read_shape: Vec<i64> = (0..w.len()).map(|d| ul[d] + w[d] + lr[d]).collect();
                Tiling::builder("t", roi(&vec![0; w.len()], &read_shape), roi(&ul, &w))
                    .total_read_roi(roi(&offset, &shape))
                    .fit(fit)
                    .read_write_conflict(conflict)
                    .build()
                    .unwrap()
            })
    }

    proptest! {
        #[test]
        fn block_id_of_every_write_roi_is_the_graph_id(t in arb_tiling()) {
            for g in all_positions(&t) {
                let block = t.block_at(&g);
                prop_assert_eq!(t.block_id(&block.requested_write_roi).unwrap(), block.spatial_id());
                prop_assert_eq!(t.block_id(&block.write_roi).unwrap(), block.spatial_id());
                prop_assert_eq!(
                    Tiling::block_id_of(&t.total_read_roi(), &block.requested_write_roi).unwrap(),
                    block.spatial_id()
                );
            }
        }

        #[test]
        fn largest_id_bounds_every_id(t in arb_tiling()) {
            let positions = all_positions(&t);
            prop_assert_eq!(positions.len() as u64, t.num_blocks());
            match t.largest_id() {
                None => prop_assert!(positions.is_empty()),
                Some(largest) => {
                    let ids: Vec<u64> = positions.iter().map(|g| t.spatial_id(g)).collect();
                    prop_assert!(ids.iter().all(|&id| id <= largest));
                    prop_assert!(ids.contains(&largest));
                }
            }
        }

        #[test]
        fn keys_round_trip(t in arb_tiling()) {
            let mut keys = std::collections::HashSet::new();
            for g in all_positions(&t) {
                let key = t.key(&g);
                prop_assert_eq!(t.position(key), g);
                prop_assert!(keys.insert(key));
            }
        }

        #[test]
        fn blocks_exist_exactly_under_the_fit_mode(t in arb_tiling()) {
            for g in all_positions(&t) {
                let block = t.block_at(&g);
                prop_assert!(t.inclusion_criteria(&block));
                prop_assert_eq!(t.position_of(&block).unwrap(), g);
                prop_assert_eq!(t.grid_position(&block.write_roi), g);
                let grown = t.expand_to_grid(&block.requested_write_roi).unwrap();
                prop_assert_eq!(grown, block.requested_write_roi);
            }
        }
    }
}
