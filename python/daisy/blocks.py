"""Grid helpers: align ROIs to the write grid of a task (docs/semantics.md#tiling).

A task tiles its total ROI with write blocks of ``write_roi.shape``. These helpers grow a
region of interest outwards until its boundaries lie on that grid, so that the result is
exactly covered by whole write blocks::

    >>> from funlib.geometry import Roi
    >>> expand_roi_to_grid(Roi((3,), (2,)), Roi((0,), (12,)), Roi((0,), (5,)), Roi((1,), (3,)))
    [1:7] (6)
    >>> expand_write_roi_to_grid(Roi((3,), (2,)), Roi((0,), (3,)))
    [3:6] (3)

The engine computes them (the tiling of a task is one piece of code, in Rust), in exact
64-bit integer arithmetic.
"""

from funlib.geometry import Roi

from . import _daisy

__all__ = ["expand_roi_to_grid", "expand_write_roi_to_grid", "expand_request_roi_to_grid"]


def expand_roi_to_grid(sub_roi: Roi, total_roi: Roi, read_roi: Roi, write_roi: Roi) -> Roi:
    """Grows ``sub_roi`` to the write grid of a task.

    The grid is the one a task with total ROI ``total_roi`` and block templates
    ``read_roi`` / ``write_roi`` tiles its writes with: write blocks begin at
    ``write_roi.begin + total_roi.begin - read_roi.begin`` plus multiples of
    ``write_roi.shape``. The begin of ``sub_roi`` is rounded down and its end rounded up
    to that grid.

    Example: ``sub_roi = [3:5]``, total ``[0:12]``, read ``[0:5]``, write ``[1:4]`` gives
    ``[1:7]``.

    Args:
        sub_roi: the region to expand (bounded).
        total_roi: the task's total (read) ROI.
        read_roi: the task's read ROI template.
        write_roi: the task's write ROI template; its shape must be positive.

    Returns:
        A new :class:`funlib.geometry.Roi` that contains ``sub_roi``.

    Raises:
        TypeError: an argument is not a ``Roi``.
        ValueError: a ROI is unbounded, the dimensions differ, or the write shape is not positive.
    """
    return _daisy.expand_roi_to_grid(sub_roi, total_roi, read_roi, write_roi)


def expand_request_roi_to_grid(req_roi: Roi, total_roi: Roi, read_roi: Roi, write_roi: Roi) -> Roi:
    """Like :func:`expand_roi_to_grid`, then grown by the read context of the blocks.

    The result is the region the blocks covering ``req_roi`` read: the write-grid aligned
    ROI grown by ``write_roi.begin - read_roi.begin`` at the lower end and by
    ``read_roi.end - write_roi.end`` at the upper end.

    Example: ``req_roi = [3:5]``, total ``[0:12]``, read ``[0:5]``, write ``[1:4]`` gives
    ``[1:7]`` grown by one voxel on each side: ``[0:8]``.

    Raises:
        TypeError: an argument is not a ``Roi``.
        ValueError: a ROI is unbounded, the dimensions differ, or the write shape is not positive.
    """
    return _daisy.expand_request_roi_to_grid(req_roi, total_roi, read_roi, write_roi)


def expand_write_roi_to_grid(roi: Roi, write_roi: Roi) -> Roi:
    """Grows ``roi`` to the grid of ``write_roi.shape`` anchored at 0.

    The begin is rounded down and the end rounded up to multiples of ``write_roi.shape``
    (only the shape of ``write_roi`` matters). Examples: ``[3:5]`` with a write shape of 3
    gives ``[3:6]``; ``[-1:2, 5:8]`` with a write shape of ``(4, 4)`` gives ``[-4:4, 4:8]``.

    Raises:
        TypeError: an argument is not a ``Roi``.
        ValueError: ``roi`` is unbounded, the dimensions differ, or the write shape is not
            positive.
    """
    return _daisy.expand_write_roi_to_grid(roi, write_roi)
