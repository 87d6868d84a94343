//! `BlockwiseDependencyGraph` and `DependencyGraph` (docs/semantics.md#tiling, #tasks-that-depend-on-tasks), and the lazy block
//! iterators they return.
//!
//! The iterators own an `Arc` of the graph together with the engine's borrowing iterator over
//! it (a self-referential pair, built with `self_cell`), so Python can walk a level of 10^9
//! blocks one block at a time. They are lazy like daisy 1.x's generators and have a `len()`
//! (the blocks not yet yielded) like daisy 2.0's lists.

use std::sync::Arc;

use daisy_core::{Block, BlockwiseDependencyGraph, CoreError, DependencyGraph, Fit, LevelBlocks};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::block::PyBlock;
use crate::convert::{coordinate_to_py, optional_roi_from_py, roi_from_py, roi_to_py};
use crate::errors::core_error;
use crate::task::TaskSpec;

/// Every block with its upstream blocks, boxed so the pair can name its type.
type Dependencies<'a> = Box<dyn Iterator<Item = (Block, Vec<Block>)> + Send + Sync + 'a>;

self_cell::self_cell!(
    /// A graph and an iterator over the blocks of one of its levels.
    struct LevelCell {
        owner: Arc<BlockwiseDependencyGraph>,
        #[covariant]
        dependent: LevelBlocks,
    }
);

self_cell::self_cell!(
    /// A graph and an iterator over all its blocks with their upstream blocks.
    struct DependencyCell {
        owner: Arc<BlockwiseDependencyGraph>,
        #[covariant]
        dependent: Dependencies,
    }
);

/// A list of engine blocks as a Python list of Blocks.
pub(crate) fn block_list<'py>(py: Python<'py>, blocks: Vec<Block>) -> PyResult<Bound<'py, PyList>> {
    let objects = blocks
        .into_iter()
        .map(|b| Bound::new(py, PyBlock::from_core(b)))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, objects)
}

/// The engine's copy of a Block argument.
fn core_block(block: &Bound<'_, PyBlock>) -> PyResult<Block> {
    block.borrow().to_core(block.py())
}

/// The engine's copy of a Block argument whose task the graph checks or looks up.
///
/// # Errors
///
/// `TaskTypeError` for a task id that is not a str (see [`PyBlock::engine_block`]).
fn task_block(block: &Bound<'_, PyBlock>) -> PyResult<Block> {
    block.borrow().engine_block(block.py())?;
    core_block(block)
}

/// What `related` (the upstream or downstream blocks of a graph) gives for a Block argument,
/// as a Python list of Blocks.
fn related_blocks<'py>(
    block: &Bound<'py, PyBlock>,
    related: impl FnOnce(&Block) -> Result<Vec<Block>, CoreError>,
) -> PyResult<Bound<'py, PyList>> {
    let blocks = related(&task_block(block)?).map_err(core_error)?;
    block_list(block.py(), blocks)
}

/// A copy of a Block argument, changed by `change` (a fit of the graph).
fn changed_copy(
    block: &Bound<'_, PyBlock>,
    change: impl FnOnce(&mut Block) -> Result<(), CoreError>,
) -> PyResult<PyBlock> {
    let mut core = core_block(block)?;
    change(&mut core).map_err(core_error)?;
    Ok(block.borrow().with_core(block.py(), core))
}

/// A lazy iterator over blocks (`level_blocks`, `root_gen`).
#[pyclass(module = "daisy._daisy", name = "BlockIterator")]
pub struct BlockIterator {
    cell: LevelCell,
}

impl BlockIterator {
    fn new(graph: Arc<BlockwiseDependencyGraph>, level: u64) -> Self {
        Self {
            cell: LevelCell::new(graph, |g| g.level_blocks(level)),
        }
    }
}

#[pymethods]
impl BlockIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self) -> Option<PyBlock> {
        self.cell
            .with_dependent_mut(|_, blocks| blocks.next())
            .map(PyBlock::from_core)
    }

    /// The number of blocks not yet yielded.
    fn __len__(&self) -> usize {
        self.cell.borrow_dependent().size_hint().0
    }

    fn __length_hint__(&self) -> usize {
        self.__len__()
    }
}

/// A lazy iterator over `(block, upstream blocks)` pairs (`enumerate_all_dependencies`).
#[pyclass(module = "daisy._daisy", name = "DependencyIterator")]
pub struct DependencyIterator {
    cell: DependencyCell,
    /// The pairs not yet yielded (one per block of the graph).
    remaining: u64,
}

#[pymethods]
impl DependencyIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<Option<(PyBlock, Bound<'py, PyList>)>> {
        match self.cell.with_dependent_mut(|_, deps| deps.next()) {
            Some((block, upstream)) => {
                self.remaining = self.remaining.saturating_sub(1);
                Ok(Some((PyBlock::from_core(block), block_list(py, upstream)?)))
            }
            None => {
                self.remaining = 0;
                Ok(None)
            }
        }
    }

    /// The number of pairs not yet yielded.
    fn __len__(&self) -> usize {
        usize::try_from(self.remaining).unwrap_or(usize::MAX)
    }

    fn __length_hint__(&self) -> usize {
        self.__len__()
    }
}

/// daisy.BlockwiseDependencyGraph: the tiling of one task into levels of blocks (docs/semantics.md#tiling).
#[pyclass(module = "daisy._daisy", name = "BlockwiseDependencyGraph", frozen)]
pub struct PyBlockwiseDependencyGraph {
    pub(crate) graph: Arc<BlockwiseDependencyGraph>,
}

#[pymethods]
impl PyBlockwiseDependencyGraph {
    #[new]
    #[pyo3(signature = (
        task_id, block_read_roi, block_write_roi, read_write_conflict = true, fit = "valid",
        total_read_roi = None, total_write_roi = None
    ))]
    fn new(
        task_id: &str,
        block_read_roi: &Bound<'_, PyAny>,
        block_write_roi: &Bound<'_, PyAny>,
        read_write_conflict: bool,
        fit: &str,
        total_read_roi: Option<&Bound<'_, PyAny>>,
        total_write_roi: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let fit: Fit = fit.parse().map_err(core_error)?;
        let mut builder = BlockwiseDependencyGraph::builder(
            task_id,
            roi_from_py(block_read_roi, "block_read_roi")?,
            roi_from_py(block_write_roi, "block_write_roi")?,
        )
        .read_write_conflict(read_write_conflict)
        .fit(fit);
        if let Some(total) = optional_roi_from_py(total_read_roi, "total_read_roi")? {
            builder = builder.total_read_roi(total);
        }
        if let Some(total) = optional_roi_from_py(total_write_roi, "total_write_roi")? {
            builder = builder.total_write_roi(total);
        }
        let graph = builder.build().map_err(core_error)?;
        Ok(Self {
            graph: Arc::new(graph),
        })
    }

    #[getter]
    fn task_id(&self) -> &str {
        self.graph.task_id()
    }

    #[getter]
    fn block_read_roi<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        roi_to_py(py, &self.graph.block_read_roi())
    }

    #[getter]
    fn block_write_roi<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        roi_to_py(py, &self.graph.block_write_roi())
    }

    #[getter]
    fn total_read_roi<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        roi_to_py(py, &self.graph.total_read_roi())
    }

    #[getter]
    fn total_write_roi<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        roi_to_py(py, &self.graph.total_write_roi())
    }

    /// `(ctx_ul, ctx_lr)` as two Coordinates.
    #[getter]
    fn read_write_context<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let (ul, lr) = self.graph.read_write_context();
        Ok((coordinate_to_py(py, &ul)?, coordinate_to_py(py, &lr)?))
    }

    #[getter]
    fn rounding_term<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        coordinate_to_py(py, &self.graph.rounding_term())
    }

    /// The distance between two blocks of one level (a Coordinate, world units).
    #[getter]
    fn level_stride<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        coordinate_to_py(py, &self.graph.level_stride())
    }

    /// Blocks per dimension (a Coordinate).
    #[getter]
    fn grid_shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        coordinate_to_py(py, &self.graph.grid_shape())
    }

    /// The largest block id, or None for a task without blocks.
    #[getter]
    fn largest_id(&self) -> Option<u64> {
        self.graph.largest_id()
    }

    /// The block id of a write ROI of this task (fitted or not).
    fn block_id(&self, write_roi: &Bound<'_, PyAny>) -> PyResult<u64> {
        let write = roi_from_py(write_roi, "write_roi")?;
        self.graph.block_id(&write).map_err(core_error)
    }

    #[getter]
    fn fit(&self) -> String {
        self.graph.fit().to_string()
    }

    #[getter]
    fn read_write_conflict(&self) -> bool {
        self.graph.read_write_conflict()
    }

    #[getter]
    fn num_levels(&self) -> u64 {
        self.graph.num_levels()
    }

    #[getter]
    fn num_blocks(&self) -> u64 {
        self.graph.num_blocks()
    }

    fn num_roots(&self) -> u64 {
        self.graph.num_roots()
    }

    /// The offset of each level (Coordinates, relative to the total write ROI).
    fn level_offsets<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        (0..self.graph.num_levels())
            .filter_map(|level| self.graph.level_offset(level))
            .map(|c| coordinate_to_py(py, &c))
            .collect()
    }

    /// The conflict offsets of each level (lists of Coordinates).
    fn level_conflicts<'py>(&self, py: Python<'py>) -> PyResult<Vec<Vec<Bound<'py, PyAny>>>> {
        (0..self.graph.num_levels())
            .map(|level| {
                self.graph
                    .level_conflicts(level)
                    .iter()
                    .map(|c| coordinate_to_py(py, c))
                    .collect()
            })
            .collect()
    }

    /// The blocks of a level, lazily, row-major.
    fn level_blocks(&self, level: u64) -> BlockIterator {
        BlockIterator::new(Arc::clone(&self.graph), level)
    }

    /// The blocks of level 0, lazily.
    fn root_gen(&self) -> BlockIterator {
        BlockIterator::new(Arc::clone(&self.graph), 0)
    }

    fn upstream<'py>(&self, block: &Bound<'py, PyBlock>) -> PyResult<Bound<'py, PyList>> {
        related_blocks(block, |b| self.graph.upstream(b))
    }

    fn downstream<'py>(&self, block: &Bound<'py, PyBlock>) -> PyResult<Bound<'py, PyList>> {
        related_blocks(block, |b| self.graph.downstream(b))
    }

    /// Every block with its upstream blocks, lazily, level by level.
    fn enumerate_all_dependencies(&self) -> DependencyIterator {
        DependencyIterator {
            cell: DependencyCell::new(Arc::clone(&self.graph), |g| {
                Box::new(g.enumerate_all_dependencies())
            }),
            remaining: self.graph.num_blocks(),
        }
    }

    #[pyo3(signature = (sub_roi, read_roi = false))]
    fn get_subgraph_blocks<'py>(
        &self,
        sub_roi: &Bound<'py, PyAny>,
        read_roi: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = sub_roi.py();
        let sub_roi = roi_from_py(sub_roi, "sub_roi")?;
        let blocks = self
            .graph
            .get_subgraph_blocks(&sub_roi, read_roi)
            .map_err(core_error)?;
        block_list(py, blocks)
    }

    fn inclusion_criteria(&self, block: &Bound<'_, PyBlock>) -> PyResult<bool> {
        Ok(self.graph.inclusion_criteria(&core_block(block)?))
    }

    /// A copy of the block with the fit mode applied.
    fn fit_block(&self, block: &Bound<'_, PyBlock>) -> PyResult<PyBlock> {
        changed_copy(block, |b| self.graph.fit_block(b))
    }

    /// Whether the block can be shrunk: fit `shrink` and its write ROI begins inside.
    fn shrink_possible(&self, block: &Bound<'_, PyBlock>) -> PyResult<bool> {
        Ok(self.graph.shrink_possible(&core_block(block)?))
    }

    /// A copy of the block with its ROIs cut to the totals, whatever the fit mode.
    fn shrink(&self, block: &Bound<'_, PyBlock>) -> PyResult<PyBlock> {
        changed_copy(block, |b| self.graph.shrink(b))
    }
}

/// daisy.DependencyGraph: the tasks, their upstream/downstream relations and the blocks across
/// tasks (docs/semantics.md#tasks-that-depend-on-tasks).
#[pyclass(module = "daisy._daisy", name = "DependencyGraph", frozen)]
pub struct PyDependencyGraph {
    pub(crate) graph: Arc<DependencyGraph>,
}

impl PyDependencyGraph {
    fn task_graph(&self, task_id: &str) -> PyResult<&BlockwiseDependencyGraph> {
        self.graph
            .task_dependency_graph(task_id)
            .ok_or_else(|| unknown_task(task_id))
    }
}

/// The error for an unknown task id.
pub(crate) fn unknown_task(task_id: &str) -> PyErr {
    crate::errors::unknown_task(task_id)
}

#[pymethods]
impl PyDependencyGraph {
    #[new]
    fn new(tasks: Vec<Bound<'_, TaskSpec>>) -> PyResult<Self> {
        let graph =
            DependencyGraph::new(tasks.iter().map(|t| &t.get().task)).map_err(core_error)?;
        Ok(Self {
            graph: Arc::new(graph),
        })
    }

    /// The task ids in registration order.
    fn task_ids(&self) -> Vec<String> {
        self.graph.task_ids().map(|t| t.to_string()).collect()
    }

    fn upstream_tasks(&self, task_id: &str) -> PyResult<Vec<String>> {
        Ok(self
            .graph
            .upstream_tasks(task_id)
            .map_err(core_error)?
            .map(|t| t.to_string())
            .collect())
    }

    fn downstream_tasks(&self, task_id: &str) -> PyResult<Vec<String>> {
        Ok(self
            .graph
            .downstream_tasks(task_id)
            .map_err(core_error)?
            .map(|t| t.to_string())
            .collect())
    }

    fn root_tasks(&self) -> Vec<String> {
        self.graph.root_tasks().map(|t| t.to_string()).collect()
    }

    fn num_blocks(&self, task_id: &str) -> PyResult<u64> {
        Ok(self.task_graph(task_id)?.num_blocks())
    }

    fn num_roots(&self, task_id: &str) -> PyResult<u64> {
        Ok(self.task_graph(task_id)?.num_roots())
    }

    /// The level-0 blocks of a task, lazily.
    fn root_gen(&self, task_id: &str) -> PyResult<BlockIterator> {
        let graph = Arc::new(self.task_graph(task_id)?.clone());
        Ok(BlockIterator::new(graph, 0))
    }

    /// The tiling of one task.
    fn task_dependency_graph(&self, task_id: &str) -> PyResult<PyBlockwiseDependencyGraph> {
        Ok(PyBlockwiseDependencyGraph {
            graph: Arc::new(self.task_graph(task_id)?.clone()),
        })
    }

    fn upstream<'py>(&self, block: &Bound<'py, PyBlock>) -> PyResult<Bound<'py, PyList>> {
        related_blocks(block, |b| self.graph.upstream(b))
    }

    fn downstream<'py>(&self, block: &Bound<'py, PyBlock>) -> PyResult<Bound<'py, PyList>> {
        related_blocks(block, |b| self.graph.downstream(b))
    }
}
