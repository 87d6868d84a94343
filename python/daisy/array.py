"""``daisy.Array``: an nD array addressed in world units by :class:`Roi` and :class:`Coordinate`.

The class of funlib.persistence 0.7, over two kinds of data:

- a Zarr array (v2 or v3) opened by :func:`daisy.open_ds` or :func:`daisy.prepare_ds`: read and
  written by daisy's Rust engine (zarrs), with a per-array cache of decoded chunks, the GIL
  released while it decodes or encodes;
- any in-memory array-like given as ``data`` (numpy, a zarr-python array, a dask array ...),
  indexed with its own ``__getitem__``/``__setitem__``.

Both follow the same rules (the Rust ``ArrayLayout``): the array's ROI is
``Roi(offset, voxel_size * physical_shape)``; ``array[roi]`` needs a ROI that the array's ROI
contains, on the voxel grid (``IndexError`` otherwise); ``to_ndarray`` fills what lies outside.

::

    import numpy as np
    from daisy import Array, Roi

    a = Array(np.zeros((10, 10), np.uint8), offset=(4, 8), voxel_size=(2, 2))
    a.roi                                   # [4:24, 8:28] (20, 20)
    a[Roi((6, 8), (4, 4))] = 1              # voxels [1:3, 0:2]
    a.to_ndarray(Roi((0, 0), (8, 8)))       # 4x4, zeros outside the array

A Zarr-backed array opens its Rust handle in each process that uses it (it reopens after
``fork``) and pickles as its path and options, so it can be handed to worker processes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from funlib.geometry import Coordinate, Roi

from . import _daisy

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

__all__ = ["Array", "LazyOp"]

#: What :meth:`Array.lazy_op` accepts: basic slicing keys (slices, ints, tuples of them), a
#: :class:`Roi` (a window in world units) or a callable applied to the data read.
LazyOp = slice | int | tuple | Callable[[Any], Any] | Roi

#: A region in voxels: one ``(begin, end)`` pair per dimension.
Region = list[tuple[int, int]]

_PHYSICAL = ("space", "time")


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays in attributes become plain JSON values."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):  # Coordinate
        return list(value)
    raise TypeError(f"attribute value {value!r} is not JSON serializable")


def _to_json(attrs: Any) -> str:
    return json.dumps(attrs, default=_json_default)


class _ZarrSource:
    """One Zarr array's Rust handle for the current process, and how to open it again.

    The handle is opened again when ``os.getpid()`` changes (a forked worker) or after
    unpickling, never shared across processes; the options reproduce the metadata the array
    was opened with, whatever created it.
    """

    def __init__(self, handle: _daisy.ZarrArray | None, options: dict[str, Any]) -> None:
        self._handle = handle
        self._pid = os.getpid() if handle is not None else -1
        self.options = options

    @property
    def path(self) -> str:
        return str(self.options["path"])

    @property
    def handle(self) -> _daisy.ZarrArray:
        if self._handle is None or self._pid != os.getpid():
            self._handle = _daisy.ZarrArray.open(**self.options)
            self._pid = os.getpid()
        return self._handle

    def __getstate__(self) -> dict[str, Any]:
        return {"options": self.options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.options = state["options"]
        self._handle = None
        self._pid = -1


class _Attributes(MutableMapping[str, Any]):
    """The attributes of a Zarr array; assignments and deletions are written to the store at
    once."""

    def __init__(self, source: _ZarrSource) -> None:
        self._source = source

    def _read(self) -> dict[str, Any]:
        attrs: dict[str, Any] = json.loads(self._source.handle.attrs_json())
        return attrs

    def __getitem__(self, key: str) -> Any:
        return self._read()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._source.handle.set_attrs_json(_to_json({key: value}))

    def __delitem__(self, key: str) -> None:
        if not self._source.handle.remove_attr(key):
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())

    def asdict(self) -> dict[str, Any]:
        """A copy of all attributes."""
        return self._read()

    def put(self, attrs: dict[str, Any]) -> None:
        """Writes ``attrs`` over the stored attributes (zarr-python's ``attrs.put``; keys not
        in ``attrs`` stay)."""
        self._source.handle.set_attrs_json(_to_json(attrs))

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Writes ``dict(*args, **kwargs)`` over the stored attributes in one write."""
        self._source.handle.set_attrs_json(_to_json(dict(*args, **kwargs)))

    def __repr__(self) -> str:
        return repr(self._read())


def _basic_key(key: Any, shape: Sequence[int]) -> list[int | tuple[int, int, int]] | None:
    """A basic numpy key (ints, slices, ``...``, tuples of them) as one int or normalized
    ``(start, stop, step)`` per dimension; ``None`` for other keys (arrays, lists, None)."""
    items = key if isinstance(key, tuple) else (key,)
    if sum(1 for k in items if k is Ellipsis) > 1:
        return None
    if not all(
        k is Ellipsis or isinstance(k, slice) or isinstance(k, int | np.integer) for k in items
    ):
        return None
    if any(isinstance(k, bool | np.bool_) for k in items):
        return None
    explicit = sum(1 for k in items if k is not Ellipsis)
    if explicit > len(shape):
        raise IndexError(
            f"too many indices for array: array is {len(shape)}-dimensional, "
            f"but {explicit} were indexed"
        )
    expanded: list[Any] = []
    for k in items:
        if k is Ellipsis:
            expanded.extend([slice(None)] * (len(shape) - explicit))
        else:
            expanded.append(k)
    expanded.extend([slice(None)] * (len(shape) - len(expanded)))
    out: list[int | tuple[int, int, int]] = []
    for dim, (k, n) in enumerate(zip(expanded, shape, strict=True)):
        if isinstance(k, slice):
            out.append(k.indices(n))
        else:
            i = int(k)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for axis {dim} with size {n}")
            out.append(i % n)
    return out


def _span(start: int, stop: int, step: int) -> tuple[int, int, slice]:
    """The voxels ``range(start, stop, step)`` touches as ``(lo, hi)`` and the slice of
    ``[lo, hi)`` that picks them in order."""
    r = range(start, stop, step)
    if len(r) == 0:
        return start, start, slice(0, 0)
    lo, hi = min(r[0], r[-1]), max(r[0], r[-1]) + 1
    local_stop = stop - lo
    return lo, hi, slice(start - lo, local_stop if local_stop >= 0 else None, step)


class _ZarrVoxels:
    """``Array.data`` of a Zarr-backed array: the voxels, indexed like a numpy array
    (reads return numpy arrays; assignments are written to the store)."""

    def __init__(self, array: Array) -> None:
        self._array = array

    @property
    def shape(self) -> tuple[int, ...]:
        return self._array.shape

    @property
    def dtype(self) -> np.dtype:
        return self._array.dtype

    @property
    def ndim(self) -> int:
        return len(self._array.shape)

    @property
    def chunks(self) -> tuple[int, ...]:
        return tuple(self._array.chunk_shape)

    @property
    def chunksize(self) -> tuple[int, ...]:
        return tuple(self._array.chunk_shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        return self._array._read_key(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._array._write_key(key, value)

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        data = self._array._read_key(Ellipsis)
        return data if dtype is None else data.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"<voxels of {self._array!r}>"


class Array:
    """An nD array with an offset and a voxel size in world units, axis names, units and axis
    types (``"space"``, ``"time"`` or ``"channel"``; channel dimensions come first).

    Args:
        data: the array-like to wrap (numpy, zarr-python, dask, ...). Zarr arrays on disk are
            opened with :func:`daisy.open_ds` instead, which reads them with daisy's engine.
        offset: world units, one per physical dimension (default 0s).
        voxel_size: world units, one per physical dimension (default 1s).
        axis_names: one per dimension (default ``c0^, c1^, ...`` then ``d0, d1, ...``).
        units: one per physical dimension (default ``""``).
        types: one per dimension (default: ``"channel"`` for names ending in ``^``, else
            ``"space"``).
        chunks: the chunk shape reported by :attr:`chunk_shape` (an int, a tuple, or ``"auto"``:
            the data's own chunks, or its whole shape when it has none).
        lazy_op: a lazy operation to apply at once (see :meth:`lazy_op`).
        strict_metadata: require every metadata field.

    Raises:
        ValueError: metadata of inconsistent lengths, or an offset off the voxel grid.
    """

    def __init__(
        self,
        data: Any,
        offset: Sequence[int] | None = None,
        voxel_size: Sequence[int] | None = None,
        axis_names: Sequence[str] | None = None,
        units: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        chunks: int | Sequence[int] | str | None = "auto",
        lazy_op: LazyOp | None = None,
        strict_metadata: bool = False,
    ) -> None:
        shape = tuple(int(n) for n in data.shape)
        metadata = _daisy.ArrayMetadata.resolve(
            shape,
            offset=offset,
            voxel_size=voxel_size,
            axis_names=axis_names,
            units=units,
            types=types,
            strict=strict_metadata,
        )
        self._init(shape, metadata, chunks, data=data, source=None)
        if lazy_op is not None:
            self.lazy_op(lazy_op)
        self.validate(strict_metadata)

    @classmethod
    def _from_zarr(cls, source: _ZarrSource, chunks: int | Sequence[int] | str | None) -> Array:
        """The Array of an opened Zarr array (open_ds, prepare_ds)."""
        array = cls.__new__(cls)
        handle = source.handle
        array._init(tuple(handle.shape), handle.metadata, chunks, data=None, source=source)
        return array

    def _init(
        self,
        shape: tuple[int, ...],
        metadata: _daisy.ArrayMetadata,
        chunks: int | Sequence[int] | str | None,
        data: Any,
        source: _ZarrSource | None,
    ) -> None:
        self._data = data
        self._source = source
        self._base_shape = shape
        self._base_offset = tuple(metadata.offset)
        self._base_voxel_size = tuple(metadata.voxel_size)
        self._base_axis_names = list(metadata.axis_names)
        self._base_units = list(metadata.units)
        self._base_types = list(metadata.types)
        self._base_chunks = self._chunks_of(shape, chunks, data, source)
        # The view: a window of the stored voxels (begin, end) per dimension, the dimensions
        # an integer lazy op collapsed, the offset a Roi lazy op set, and callables.
        self._window: list[tuple[int, int]] = [(0, n) for n in shape]
        self._collapsed: list[bool] = [False] * len(shape)
        self._offset_override: tuple[int, ...] | None = None
        self._callables: list[Callable[[Any], Any]] = []
        self._attrs: dict[str, Any] = {}
        self.lazy_ops: list[LazyOp] = []
        self._layout: _daisy.ArrayLayout | None = None

    @staticmethod
    def _chunks_of(
        shape: tuple[int, ...],
        chunks: int | Sequence[int] | str | None,
        data: Any,
        source: _ZarrSource | None,
    ) -> tuple[int, ...]:
        if chunks is None or isinstance(chunks, str):
            if source is not None:
                return tuple(source.handle.chunk_shape)
            own = getattr(data, "chunksize", None) or getattr(data, "chunks", None)
            if isinstance(own, tuple) and all(isinstance(c, int) for c in own):
                return tuple(own)
            return shape
        if isinstance(chunks, int):
            return tuple(min(chunks, n) for n in shape)
        return tuple(int(c) for c in chunks)

    # --- pickling: a Zarr array as its path and options, the view as plain values ---------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_layout"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # --- metadata -------------------------------------------------------------------------

    def _physical_uncollapsed(self) -> list[bool]:
        return [
            not c for c, t in zip(self._collapsed, self._base_types, strict=True) if t in _PHYSICAL
        ]

    @property
    def offset(self) -> Coordinate:
        """The offset of the array in world units (physical dimensions)."""
        offset = self._offset_override or self._base_offset
        return Coordinate(
            [o for o, keep in zip(offset, self._physical_uncollapsed(), strict=True) if keep]
        )

    @property
    def voxel_size(self) -> Coordinate:
        """The size of a voxel in world units (physical dimensions)."""
        return Coordinate(
            [
                v
                for v, keep in zip(self._base_voxel_size, self._physical_uncollapsed(), strict=True)
                if keep
            ]
        )

    @property
    def units(self) -> list[str]:
        """The unit of each physical dimension."""
        return [
            u
            for u, keep in zip(self._base_units, self._physical_uncollapsed(), strict=True)
            if keep
        ]

    @property
    def axis_names(self) -> list[str]:
        """The name of each dimension."""
        return [n for n, c in zip(self._base_axis_names, self._collapsed, strict=True) if not c]

    @property
    def types(self) -> list[str]:
        """The type of each dimension: ``"space"``, ``"time"`` or ``"channel"``."""
        return [t for t, c in zip(self._base_types, self._collapsed, strict=True) if not c]

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape in voxels, channel dimensions included."""
        return tuple(
            e - b for (b, e), c in zip(self._window, self._collapsed, strict=True) if not c
        )

    @property
    def physical_shape(self) -> tuple[int, ...]:
        """The shape in voxels of the physical (space and time) dimensions."""
        return tuple(n for n, t in zip(self.shape, self.types, strict=True) if t in _PHYSICAL)

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of the data (after callable lazy ops)."""
        dtype = self._stored_dtype
        if self._callables:
            probe = np.zeros((0,) * len(self.shape), dtype)
            for op in self._callables:
                probe = np.asarray(op(probe))
            return probe.dtype
        return dtype

    @property
    def _stored_dtype(self) -> np.dtype:
        if self._source is not None:
            return np.dtype(self._source.handle.dtype)
        return np.dtype(self._data.dtype)

    @property
    def chunk_shape(self) -> Coordinate:
        """The chunk shape, channel dimensions included."""
        return Coordinate(
            [
                min(c, n)
                for c, n, col in zip(
                    self._base_chunks,
                    [e - b for b, e in self._window],
                    self._collapsed,
                    strict=True,
                )
                if not col
            ]
        )

    @property
    def dims(self) -> int:
        """The number of dimensions."""
        return len(self.shape)

    @property
    def spatial_dims(self) -> int:
        """The number of physical (space and time) dimensions."""
        return self.voxel_size.dims

    @property
    def channel_dims(self) -> int:
        """The number of channel dimensions."""
        return self.dims - self.spatial_dims

    @property
    def layout(self) -> _daisy.ArrayLayout:
        """The rules of this array's ROI (containment, world to voxel), shared with Rust."""
        if self._layout is None:
            self._layout = _daisy.ArrayLayout(self.shape, self._metadata())
        return self._layout

    def _metadata(self) -> _daisy.ArrayMetadata:
        """The metadata of the view (collapsed dimensions left out)."""
        return _daisy.ArrayMetadata(
            list(self.offset), list(self.voxel_size), self.axis_names, self.units, self.types
        )

    @property
    def roi(self) -> Roi:
        """``Roi(offset, voxel_size * physical_shape)``."""
        return self.layout.roi

    @property
    def attrs(self) -> MutableMapping[str, Any]:
        """The attributes: a Zarr array's stored attributes (assignments are written through),
        an in-memory array's own ``attrs`` if it has them, else a dict kept with this object."""
        if self._source is not None:
            return _Attributes(self._source)
        own = getattr(self._data, "attrs", None)
        if isinstance(own, MutableMapping):
            return own
        return self._attrs

    @property
    def is_writeable(self) -> bool:
        """False after a callable lazy op, or for a Zarr array opened read-only."""
        if self._callables:
            return False
        if self._source is not None:
            return bool(self._source.handle.is_writeable)
        return True

    @property
    def data(self) -> Any:
        """The voxels (with the lazy ops applied), indexed like a numpy array."""
        if self._source is not None:
            return _ZarrVoxels(self)
        if not self.lazy_ops:
            return self._data
        data = self._data[self._base_key(Ellipsis)[0]]
        for op in self._callables:
            data = op(data)
        return data

    @property
    def path(self) -> str | None:
        """The path of a Zarr array, None for in-memory data."""
        return self._source.path if self._source is not None else None

    def stats(self) -> dict[str, int] | None:
        """The I/O counters of a Zarr array in this process (``reads``, ``writes``,
        ``chunks_decoded``, ``chunk_cache_hits``, ``chunks_encoded``, ``bytes_read``,
        ``bytes_written``); None for in-memory data."""
        if self._source is None:
            return None
        return dict(self._source.handle.stats())

    def validate(self, strict: bool = False) -> None:
        """Checks the metadata against the data.

        Raises:
            ValueError: metadata of inconsistent lengths (or missing fields, if ``strict``).
        """
        _daisy.ArrayMetadata(
            list(self._offset_override or self._base_offset),
            list(self._base_voxel_size),
            self._base_axis_names,
            self._base_units,
            self._base_types,
        ).validate(list(self._base_shape), strict)
        if len(self.axis_names) != len(self.shape):
            raise ValueError(
                f"axis names {self.axis_names} must name every dimension of shape {self.shape}"
            )
        if self.chunk_shape.dims != len(self.shape):
            raise ValueError(
                f"chunk shape {self.chunk_shape} must have as many dimensions as shape {self.shape}"
            )

    def __repr__(self) -> str:
        where = self._source.path if self._source is not None else type(self._data).__name__
        return (
            f"Array({where}, roi={self.roi}, voxel_size={self.voxel_size}, "
            f"shape={self.shape}, dtype={self.dtype})"
        )

    # --- lazy ops -------------------------------------------------------------------------

    def lazy_op(self, lazy_op: LazyOp) -> None:
        """Applies a lazy operation: a basic slicing key (``np.s_[0, :, 2:8]``; an int
        collapses its dimension, the offset stays), a :class:`Roi` (the array becomes that
        window of itself) or a callable taking and returning an array (applied to the data of
        every read; the array is then read-only). Nothing is read."""
        self.apply_lazy_ops(lazy_op)
        self.lazy_ops.append(lazy_op)

    def apply_lazy_ops(self, lazy_op: LazyOp) -> None:
        """Applies ``lazy_op`` to the view without recording it in :attr:`lazy_ops`."""
        if isinstance(lazy_op, Roi):
            if self._callables:
                raise ValueError("a Roi lazy op must come before callable lazy ops")
            region = self.layout.voxel_region(lazy_op)
            self._narrow(region)
            offset = list(self._offset_override or self._base_offset)
            physical = [i for i, t in enumerate(self._base_types) if t in _PHYSICAL]
            visible = [j for j, i in enumerate(physical) if not self._collapsed[i]]
            for j, value in zip(visible, lazy_op.offset, strict=True):
                offset[j] = value
            self._offset_override = tuple(offset)
        elif callable(lazy_op):
            self._callables.append(lazy_op)
        else:
            key = _basic_key(lazy_op, self.shape)
            if key is None or any(not isinstance(k, int) and k[2] != 1 for k in key):
                raise ValueError(
                    f"lazy op {lazy_op!r} is not supported: use slices with step 1 and ints, "
                    "a Roi, or a callable"
                )
            if self._callables:
                raise ValueError("a slicing lazy op must come before callable lazy ops")
            self._narrow(key)
        self._layout = None

    def _narrow(self, key: Sequence[int | tuple[int, int] | tuple[int, int, int]]) -> None:
        """Narrows the window by a key over the visible dimensions: ints collapse, pairs or
        triples ``(begin, end[, 1])`` restrict."""
        visible = [i for i, c in enumerate(self._collapsed) if not c]
        for i, k in zip(visible, key, strict=True):
            begin = self._window[i][0]
            if isinstance(k, int):
                self._window[i] = (begin + k, begin + k + 1)
                self._collapsed[i] = True
            else:
                self._window[i] = (begin + k[0], begin + max(k[0], k[1]))

    # --- voxel regions of the view to keys of the stored data ------------------------------

    def _base_key(self, key: Any) -> tuple[tuple[Any, ...], Any]:
        """A basic key over the view as a key of the stored data (step-1 spans where
        possible) and the key that picks the result out of what that reads; for keys that are
        not basic, the whole window and the key itself."""
        basic = _basic_key(key, self.shape)
        visible = iter(basic) if basic is not None else None
        stored: list[Any] = []
        local: list[Any] = []
        for (begin, end), collapsed in zip(self._window, self._collapsed, strict=True):
            if collapsed:
                stored.append(begin)
                continue
            if visible is None:
                stored.append(slice(begin, end))
                continue
            k = next(visible)
            if isinstance(k, int):
                stored.append(begin + k)
            else:
                lo, hi, pick = _span(*k)
                stored.append(slice(begin + lo, begin + hi))
                local.append(pick)
        if basic is None:
            return tuple(stored), key
        return tuple(stored), tuple(local)

    def _region_key(self, region: Region) -> tuple[Any, ...]:
        """A region over the view (all visible dims) as a key of the stored data."""
        visible = iter(region)
        key: list[Any] = []
        for (begin, _), collapsed in zip(self._window, self._collapsed, strict=True):
            if collapsed:
                key.append(begin)
            else:
                b, e = next(visible)
                key.append(slice(begin + b, begin + e))
        return tuple(key)

    def _read_stored(self, key: tuple[Any, ...]) -> np.ndarray:
        """Reads a key of ints and step-1 slices of the stored data, as a numpy array of the
        shape the key selects (the ints' dimensions dropped)."""
        if self._source is None:
            data = self._data[key]
            if isinstance(self._data, np.ndarray):
                return np.array(data)
            return np.asarray(data)
        region = [(k, k + 1) if isinstance(k, int) else (k.start, k.stop) for k in key]
        out = np.empty([e - b for b, e in region], self._stored_dtype)
        self._source.handle.read_voxels(region, out.reshape(-1).view(np.uint8))
        return out[tuple(0 if isinstance(k, int) else slice(None) for k in key)]

    def _write_stored(self, key: tuple[Any, ...], value: Any) -> None:
        """Writes ``value`` (broadcast) to a key of ints and step-1 slices of the stored data."""
        if self._source is None:
            self._data[key] = value
            return
        region = [(k, k + 1) if isinstance(k, int) else (k.start, k.stop) for k in key]
        selected = [e - b for (b, e), k in zip(region, key, strict=True) if not isinstance(k, int)]
        data = np.broadcast_to(np.asarray(value, dtype=self._stored_dtype), selected)
        data = np.ascontiguousarray(data).reshape([e - b for b, e in region])
        self._source.handle.write_voxels(region, data.reshape(-1).view(np.uint8))

    def _apply_callables(self, data: Any) -> np.ndarray:
        for op in self._callables:
            data = op(data)
        return np.asarray(data)

    def _read_region(self, region: Region) -> np.ndarray:
        return self._apply_callables(self._read_stored(self._region_key(region)))

    def _read_key(self, key: Any) -> np.ndarray:
        stored, local = self._base_key(key)
        data = self._apply_callables(self._read_stored(stored))
        return data[local]

    def _write_key(self, key: Any, value: Any) -> None:
        self._check_writeable()
        stored, local = self._base_key(key)
        basic = _basic_key(key, self.shape)
        if basic is not None and all(isinstance(k, int) or k[2] == 1 for k in basic):
            self._write_stored(stored, value)
            return
        # Strided or advanced keys: read what they touch, assign, write it back.
        current = self._read_stored(stored)
        current[local] = value
        self._write_stored(stored, current)

    def _check_writeable(self) -> None:
        if self._callables:
            raise RuntimeError(
                "this array is not writeable: a callable lazy op was applied "
                f"({self._callables[0]!r}), and it may not be invertible"
            )

    # --- indexing -------------------------------------------------------------------------

    def __getitem__(self, key: Roi | Coordinate | Any) -> Any:
        """Reads a :class:`Roi` (world units, contained in :attr:`roi`: a numpy array of
        shape channel dims + roi.shape / voxel_size), a :class:`Coordinate` (the value there;
        channel values for arrays with channels), or any numpy key over the voxels.

        Raises:
            IndexError: the ROI or coordinate is not contained in the array's ROI.
        """
        if isinstance(key, Roi):
            return self._read_region(self.layout.voxel_region(key))
        if isinstance(key, Coordinate):
            index = self.layout.coordinate_index(key)
            return self._read_key((Ellipsis, *index))
        return self._read_key(key)

    def __setitem__(self, key: Roi | Any, value: Any) -> None:
        """Writes a numpy array or a scalar (broadcast) to a :class:`Roi` (world units,
        contained in :attr:`roi`) or to any numpy key over the voxels.

        Raises:
            IndexError: the ROI is not contained in the array's ROI.
            RuntimeError: a callable lazy op made the array read-only.
            ValueError: a Zarr array opened read-only (mode ``"r"``), as funlib.persistence
                raises; a value that does not broadcast to the region.
        """
        self._check_writeable()
        if isinstance(key, Roi):
            region = self.layout.voxel_region(key)
            self._write_stored(self._region_key(region), value)
            return
        self._write_key(key, value)

    def to_ndarray(self, roi: Roi, fill_value: Any = 0) -> np.ndarray:
        """The data of ``roi`` as a numpy array of shape channel dims + roi.shape /
        voxel_size, ``fill_value`` where ``roi`` lies outside the array.

        Raises:
            ValueError: ``roi`` is not on the voxel grid of the array.
        """
        shape, inside, placed = self.layout.to_ndarray_plan(roi)
        dtype = self.dtype
        if inside is not None and placed is not None and list(placed) == [(0, n) for n in shape]:
            return self._read_region(inside)
        out = np.full(shape, fill_value, dtype=dtype)
        if inside is not None and placed is not None:
            out[tuple(slice(b, e) for b, e in placed)] = self._read_region(inside)
        return out

    # --- world and voxel coordinates --------------------------------------------------------

    def to_pixel_space(
        self, world_loc: Roi | Coordinate | Sequence[int | float] | np.ndarray
    ) -> Roi | Coordinate | np.ndarray:
        """A ROI or point in world units as voxels of this array (relative to its offset);
        sequences of numbers give a numpy array (possibly fractional).

        Raises:
            ValueError: the location lies outside the array's ROI.
        """
        if not self.roi.contains(world_loc):  # type: ignore[arg-type]  # Roi/Coordinate/sequence
            raise ValueError(
                f"world location {world_loc} is not contained in the array's roi {self.roi}"
            )
        if isinstance(world_loc, Roi | Coordinate):
            return (world_loc - self.roi.offset) / self.voxel_size
        return (np.array(world_loc) - np.array(self.roi.offset)) / np.array(self.voxel_size)

    def to_world_space(
        self, pixel_loc: Roi | Coordinate | Sequence[int | float] | np.ndarray
    ) -> Roi | Coordinate | np.ndarray:
        """A ROI or point in voxels of this array as world units; sequences of numbers give a
        numpy array."""
        if isinstance(pixel_loc, Roi | Coordinate):
            return pixel_loc * self.voxel_size + self.roi.offset
        return np.array(pixel_loc) * np.array(self.voxel_size) + np.array(self.roi.offset)

    def uncollapsed_dims(self, physical: bool = False) -> list[bool]:
        """Per stored dimension (physical ones only if ``physical``): False where an integer
        lazy op collapsed it."""
        if physical:
            return self._physical_uncollapsed()
        return [not c for c in self._collapsed]
