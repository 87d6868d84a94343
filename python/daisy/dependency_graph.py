"""Block dependencies within a task and between tasks (docs/semantics.md#tiling, #tasks-that-depend-on-tasks).

Both classes wrap the engine's implementations, which compute everything from a block's
position on the grid: nothing enumerates all blocks of a task.

``level_blocks``, ``root_gen`` and ``enumerate_all_dependencies`` return lazy iterators, as
daisy 1.x's generators (``next()``, ``for``), which also have a ``len()``, as daisy 2.0's
lists: the number of items not yet yielded. Use ``list(...)`` to index or iterate twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from funlib.geometry import Coordinate, Roi

from . import _daisy
from .block import Block

if TYPE_CHECKING:
    from .task import Task

__all__ = ["BlockwiseDependencyGraph", "DependencyGraph"]


class BlockwiseDependencyGraph:
    """The blocks of one task and their dependencies (tiling and level scheme, docs/semantics.md#tiling).

    Args:

        task_id (``str``): the task the blocks belong to.
        block_read_roi (:class:`daisy.Roi`): the read ROI template of a block.
        block_write_roi (:class:`daisy.Roi`): the write ROI template of a block.
        read_write_conflict (``bool``): whether neighbouring blocks conflict (levels).
        fit (``str``): ``"valid"``, ``"overhang"`` or ``"shrink"``.
        total_read_roi (:class:`daisy.Roi`, optional): the total ROI blocks read from.
        total_write_roi (:class:`daisy.Roi`, optional): the total ROI blocks write to
            (used if ``total_read_roi`` is not given).

    Attributes: ``task_id``, ``block_read_roi``, ``block_write_roi``,
    ``read_write_context``, ``total_read_roi``, ``total_write_roi``, ``rounding_term``,
    ``fit``, ``read_write_conflict``, ``num_levels``, ``num_blocks``, ``level_stride``.
    """

    def __init__(
        self,
        task_id: str,
        block_read_roi: Roi,
        block_write_roi: Roi,
        read_write_conflict: bool = True,
        fit: str = "valid",
        total_read_roi: Roi | None = None,
        total_write_roi: Roi | None = None,
    ) -> None:
        self._graph = _daisy.BlockwiseDependencyGraph(
            task_id,
            block_read_roi,
            block_write_roi,
            read_write_conflict,
            fit,
            total_read_roi,
            total_write_roi,
        )
        self._init_attributes()

    @classmethod
    def _wrap(cls, graph: _daisy.BlockwiseDependencyGraph) -> BlockwiseDependencyGraph:
        self = cls.__new__(cls)
        self._graph = graph
        self._init_attributes()
        return self

    def _init_attributes(self) -> None:
        graph = self._graph
        self.task_id = graph.task_id
        self.block_read_roi = graph.block_read_roi
        self.block_write_roi = graph.block_write_roi
        self.read_write_context = graph.read_write_context
        self.total_read_roi = graph.total_read_roi
        self.total_write_roi = graph.total_write_roi
        self.rounding_term = graph.rounding_term
        self.fit = graph.fit
        self.read_write_conflict = graph.read_write_conflict
        # The engine's methods, bound once (these are called per block).
        self.upstream = graph.upstream
        self.downstream = graph.downstream
        self.inclusion_criteria = graph.inclusion_criteria
        self.fit_block = graph.fit_block
        self._level_offsets: list[Coordinate] | None = None

    # --- aliases of daisy 1.x -------------------------------------------------------

    @property
    def read_roi(self) -> Roi:
        """The read ROI template (``block_read_roi``)."""
        return self.block_read_roi

    @property
    def write_roi(self) -> Roi:
        """The write ROI template (``block_write_roi``)."""
        return self.block_write_roi

    # --- levels ---------------------------------------------------------------------

    @property
    def num_levels(self) -> int:
        """The number of levels (classes of mutually independent blocks)."""
        return self._graph.num_levels

    @property
    def num_blocks(self) -> int:
        """The number of blocks of the task."""
        return self._graph.num_blocks

    def num_roots(self) -> int:
        """The number of blocks of level 0."""
        return self._graph.num_roots()

    def level_offsets(self) -> list[Coordinate]:
        """The offset of every level relative to the total write ROI (docs/semantics.md#tiling)."""
        if self._level_offsets is None:
            self._level_offsets = list(self._graph.level_offsets())
        return list(self._level_offsets)

    def level_conflicts(self) -> list[list[Coordinate]]:
        """For every level, the offsets of the blocks of the previous level it waits for."""
        return self._graph.level_conflicts()

    @property
    def level_stride(self) -> Coordinate:
        """The distance between two blocks of one level (docs/semantics.md#levels-and-conflicts)."""
        return self._graph.level_stride

    def level_blocks(self, level: int) -> _daisy.BlockIterator:
        """The blocks of a level, lazily, in row-major order (``len()``: those not yet yielded)."""
        return self._graph.level_blocks(level)

    def root_gen(self) -> _daisy.BlockIterator:
        """The blocks of level 0, lazily (``len()``: those not yet yielded)."""
        return self._graph.root_gen()

    def enumerate_all_dependencies(self) -> _daisy.DependencyIterator:
        """Yields ``(block, upstream(block))`` for every block, level by level (``len()``:
        the pairs not yet yielded, at first :attr:`num_blocks`)."""
        return self._graph.enumerate_all_dependencies()

    def get_subgraph_blocks(self, sub_roi: Roi, read_roi: bool = False) -> list[Block]:
        """The blocks whose (clipped) write ROI, or with ``read_roi=True`` whose read ROI,
        intersects ``sub_roi``."""
        return self._graph.get_subgraph_blocks(sub_roi, read_roi)

    # --- fitting --------------------------------------------------------------------

    def shrink_possible(self, block: Block) -> bool:
        """Whether ``block`` exists under ``fit="shrink"``: its write ROI begins inside the
        total write ROI (``False`` for the other fit modes)."""
        return self._graph.shrink_possible(block)

    def shrink(self, block: Block) -> Block:
        """A copy of ``block`` with read and write ROIs cut to the total ROIs (the block ID
        and ``requested_write_roi`` are kept)."""
        return self._graph.shrink(block)

    def __getattr__(self, name: str) -> Any:
        # Anything else the engine's graph offers.
        if name == "_graph":
            raise AttributeError(name)
        return getattr(self._graph, name)

    def __repr__(self) -> str:
        return (
            f"BlockwiseDependencyGraph({self.task_id!r}, read {self.block_read_roi}, "
            f"write {self.block_write_roi}, total read {self.total_read_roi}, "
            f"fit {self.fit!r}, read_write_conflict={self.read_write_conflict})"
        )


class DependencyGraph:
    """The blocks of several tasks and their dependencies, within and across tasks (docs/semantics.md#tasks-that-depend-on-tasks).

    ``DependencyGraph(tasks)`` registers every given task and, recursively, the tasks they
    require. Two different Task objects with one ``task_id``, or a cycle among the tasks,
    raise ValueError.

    Attributes: ``task_map`` (task ID -> Task), ``task_ids`` (registration order),
    ``upstream_tasks`` and ``downstream_tasks`` (task ID -> set of task IDs),
    ``task_dependency_graphs`` (task ID -> :class:`BlockwiseDependencyGraph`).
    """

    def __init__(self, tasks: Iterable[Task]) -> None:
        from .task import _register_tasks, _specs

        task_map = _register_tasks(tasks)
        graph = _daisy.DependencyGraph(_specs(list(task_map.values())))
        self._init(graph, task_map)

    @classmethod
    def _wrap(cls, graph: _daisy.DependencyGraph, task_map: dict[str, Task]) -> DependencyGraph:
        self = cls.__new__(cls)
        self._init(graph, task_map)
        return self

    def _init(self, graph: _daisy.DependencyGraph, task_map: dict[str, Task]) -> None:
        self._graph = graph
        self.task_ids = list(graph.task_ids())
        self.task_map = {task_id: task_map[task_id] for task_id in self.task_ids}
        self.upstream_tasks = {
            task_id: set(graph.upstream_tasks(task_id)) for task_id in self.task_ids
        }
        self.downstream_tasks = {
            task_id: set(graph.downstream_tasks(task_id)) for task_id in self.task_ids
        }
        self.task_dependency_graphs = {
            task_id: BlockwiseDependencyGraph._wrap(graph.task_dependency_graph(task_id))
            for task_id in self.task_ids
        }
        self.upstream = graph.upstream
        self.downstream = graph.downstream

    def root_tasks(self) -> list[str]:
        """IDs of the tasks without upstream tasks, in registration order."""
        return list(self._graph.root_tasks())

    def roots(self) -> dict[str, tuple[int, _daisy.BlockIterator]]:
        """``{task_id: (num_roots, root_generator)}`` for the root tasks."""
        return {
            task_id: (self.num_roots(task_id), self.root_gen(task_id))
            for task_id in self.root_tasks()
        }

    def num_blocks(self, task_id: str) -> int:
        """The number of blocks of a task."""
        return self._graph.num_blocks(task_id)

    def num_roots(self, task_id: str) -> int:
        """The number of level-0 blocks of a task."""
        return self._graph.num_roots(task_id)

    def num_levels(self, task_id: str) -> int:
        """The number of levels of a task."""
        return self.task_dependency_graphs[task_id].num_levels

    def root_gen(self, task_id: str) -> _daisy.BlockIterator:
        """The level-0 blocks of a task, lazily (``len()``: those not yet yielded)."""
        return self._graph.root_gen(task_id)

    def __repr__(self) -> str:
        return f"DependencyGraph({self.task_ids!r})"
