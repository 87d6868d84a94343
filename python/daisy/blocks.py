"""Grid helpers: align ROIs to the write grid of a task (docs/semantics.md#tiling).

A task tiles its total ROI with write blocks of ``write_roi.shape``. These helpers grow a
region of interest outwards until its boundaries lie on that grid, so that the result is
exactly covered by whole write blocks::

    >>> from funlib.geometry import Roi
    >>> expand_roi_to_grid(Roi((3,), (2,)), Roi((0,), (12,)), Roi((0,), (5,)), Roi((1,), (3,)))
    [1:7] (6)
    >>> expand_write_roi_to_grid(Roi((3,), (2,)), Roi((0,), (3,)))
    [3:6] (3)

All arithmetic is exact integer arithmetic on :class:`funlib.geometry.Coordinate`.
"""

from funlib.geometry import Coordinate, Roi


def _check_roi(function, name, roi):
    """Raises a clear error unless ``roi`` is a bounded ``Roi``."""
    if not isinstance(roi, Roi):
        raise TypeError(
            f"{function}(): {name} must be a funlib.geometry.Roi (daisy.Roi), "
            f"got {roi!r} of type {type(roi).__name__}"
        )
    if roi.unbounded or None in roi.offset:
        raise ValueError(f"{function}(): {name} must be bounded, got {roi}")


def _check_dims(function, named_rois):
    dims = {name: roi.dims for name, roi in named_rois}
    if len(set(dims.values())) > 1:
        listed = ", ".join(f"{name} has {d}" for name, d in dims.items())
        raise ValueError(f"{function}(): all ROIs must have the same dimensions, but {listed}")


def _check_write_shape(function, write_roi):
    if any(s <= 0 for s in write_roi.shape):
        raise ValueError(
            f"{function}(): write_roi must have a positive shape in every dimension, "
            f"got {write_roi}"
        )


def _floor_to_grid(value, step):
    """The largest multiple of ``step`` that is <= ``value`` (per dimension)."""
    return (value // step) * step


def _ceil_to_grid(value, step):
    """The smallest multiple of ``step`` that is >= ``value`` (per dimension)."""
    return -((-value) // step) * step


def _expand(function, sub_roi, total_roi, read_roi, write_roi):
    for name, roi in (
        ("sub_roi", sub_roi),
        ("total_roi", total_roi),
        ("read_roi", read_roi),
        ("write_roi", write_roi),
    ):
        _check_roi(function, name, roi)
    _check_dims(
        function,
        [("sub_roi", sub_roi), ("total_roi", total_roi), ("read_roi", read_roi), ("write_roi", write_roi)],
    )
    _check_write_shape(function, write_roi)

    # The write grid of the task: write blocks start at `offset + k * write_roi.shape`.
    offset = write_roi.begin + total_roi.begin - read_roi.begin
    step = write_roi.shape
    begin = _floor_to_grid(sub_roi.begin - offset, step) + offset
    end = _ceil_to_grid(sub_roi.end - offset, step) + offset
    return Roi(begin, end - begin)


def expand_roi_to_grid(sub_roi, total_roi, read_roi, write_roi):
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
        read_roi, write_roi: the task's block templates; ``write_roi.shape`` must be positive.

    Returns:
        A new :class:`funlib.geometry.Roi` that contains ``sub_roi``.

    Raises:
        TypeError: an argument is not a ``Roi``.
        ValueError: a ROI is unbounded, the dimensions differ, or the write shape is not positive.
    """
    return _expand("expand_roi_to_grid", sub_roi, total_roi, read_roi, write_roi)


def expand_request_roi_to_grid(req_roi, total_roi, read_roi, write_roi):
    """Like :func:`expand_roi_to_grid`, then grown by the read context of the blocks.

    The result is the region the blocks covering ``req_roi`` read: the write-grid aligned
    ROI grown by ``write_roi.begin - read_roi.begin`` at the lower end and by
    ``read_roi.end - write_roi.end`` at the upper end.

    Example: ``req_roi = [3:5]``, total ``[0:12]``, read ``[0:5]``, write ``[1:4]`` gives
    ``[1:7]`` grown by one voxel on each side: ``[0:8]``.
    """
    expanded = _expand("expand_request_roi_to_grid", req_roi, total_roi, read_roi, write_roi)
    context_ul = write_roi.begin - read_roi.begin
    context_lr = read_roi.end - write_roi.end
    return expanded.grow(context_ul, context_lr)


def expand_write_roi_to_grid(roi, write_roi):
    """Grows ``roi`` to the grid of ``write_roi.shape`` anchored at 0.

    The begin is rounded down and the end rounded up to multiples of ``write_roi.shape``
    (only the shape of ``write_roi`` matters). Examples: ``[3:5]`` with a write shape of 3
    gives ``[3:6]``; ``[-1:2, 5:8]`` with a write shape of ``(4, 4)`` gives ``[-4:4, 4:8]``.

    Raises:
        TypeError: an argument is not a ``Roi``.
        ValueError: ``roi`` is unbounded, the dimensions differ, or the write shape is not
            positive.
    """
    function = "expand_write_roi_to_grid"
    _check_roi(function, "roi", roi)
    if not isinstance(write_roi, Roi):
        raise TypeError(
            f"{function}(): write_roi must be a funlib.geometry.Roi (daisy.Roi), "
            f"got {write_roi!r} of type {type(write_roi).__name__}"
        )
    _check_dims(function, [("roi", roi), ("write_roi", write_roi)])
    if None in write_roi.shape:
        raise ValueError(f"{function}(): write_roi must have a bounded shape, got {write_roi}")
    _check_write_shape(function, write_roi)
    step = Coordinate(write_roi.shape)
    begin = _floor_to_grid(roi.begin, step)
    end = _ceil_to_grid(roi.end, step)
    return Roi(begin, end - begin)


__all__ = ["expand_roi_to_grid", "expand_write_roi_to_grid", "expand_request_roi_to_grid"]
