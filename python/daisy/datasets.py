"""``daisy.open_ds`` and ``daisy.prepare_ds``: Zarr arrays (v2 or v3) on a filesystem, with
funlib.persistence 0.7's signatures, metadata and rules, read and written by daisy's engine.

::

    import daisy

    raw = daisy.prepare_ds("data.zarr/raw", shape=(512, 512, 512), voxel_size=(4, 4, 4),
                           chunk_shape=(64, 64, 64), dtype="uint8")
    raw[daisy.Roi((0, 0, 0), (256, 256, 256))] = 1
    again = daisy.open_ds("data.zarr/raw")          # mode "r"
    again.voxel_size                                 # (4, 4, 4)

The metadata attribute names come from :class:`MetaDataFormat` (default ``offset``,
``voxel_size``, ``axis_names``, ``units``, ``types``), configured like funlib.persistence's
(``[tool.funlib_persistence]`` in ``pyproject.toml``, ``funlib_persistence.toml``, ...) or with
:func:`set_default_metadata_format`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from . import _daisy
from .array import Array, _to_json, _ZarrSource

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "MetaDataFormat",
    "configure_library",
    "get_default_metadata_format",
    "open_ds",
    "prepare_ds",
    "read_config",
    "set_default_metadata_format",
]

MetaDataFormat = _daisy.MetaDataFormat

#: Bytes of decoded chunks each opened Zarr array keeps (``cache_size=`` of open_ds and
#: prepare_ds overrides it; 0 turns the cache off).
DEFAULT_CACHE_SIZE: int = _daisy.DEFAULT_CACHE_BYTES

Mode = Literal["r", "r+", "a", "w", "w-"]

_default_metadata_format: MetaDataFormat | None = None


def read_config() -> dict[str, str]:
    """The metadata attribute names configured in funlib.persistence's files (the
    ``[tool.funlib_persistence]`` table of ./pyproject.toml, ./funlib_persistence.toml,
    ~/.config/funlib_persistence/funlib_persistence.toml, /etc/funlib_persistence/...; the
    nearer file wins)."""
    return dict(_daisy.read_metadata_config())


def configure_library() -> None:
    """Sets the default metadata format from :func:`read_config` (done at import)."""
    global _default_metadata_format
    _default_metadata_format = _daisy.MetaDataFormat(**read_config())


def set_default_metadata_format(metadata_format: MetaDataFormat) -> None:
    """The attribute names open_ds and prepare_ds use when none are given."""
    global _default_metadata_format
    if not isinstance(metadata_format, _daisy.MetaDataFormat):
        raise TypeError(f"metadata_format must be a daisy.MetaDataFormat, got {metadata_format!r}")
    _default_metadata_format = metadata_format


def get_default_metadata_format() -> MetaDataFormat:
    """The attribute names open_ds and prepare_ds use when none are given."""
    if _default_metadata_format is None:
        configure_library()
    assert _default_metadata_format is not None
    return _default_metadata_format


def _store_path(store: Any) -> str:
    """The filesystem path of ``store``: a str, an ``os.PathLike`` or a zarr-python
    ``LocalStore`` (its ``root``)."""
    if isinstance(store, str | os.PathLike):
        return os.fspath(store)
    root = getattr(store, "root", None)
    if type(store).__name__ == "LocalStore" and isinstance(root, str | os.PathLike):
        return os.fspath(root)
    raise TypeError(
        "store must be a path (str or os.PathLike) to a zarr array, or a zarr.storage.LocalStore; "
        f"got {type(store).__name__} {store!r}"
    )


def _cache_bytes(cache_size: int | None) -> int:
    if cache_size is None:
        return DEFAULT_CACHE_SIZE
    if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
        raise ValueError(f"cache_size must be a number of bytes >= 0, got {cache_size!r}")
    return cache_size


_SHUFFLES = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}


def _compressor_json(compressor: Any) -> str | None:
    """A compressor argument as the numcodecs-style JSON the engine reads (None: the default,
    zstd level 0)."""
    if isinstance(compressor, str) and compressor == "default":
        return None
    if compressor is None:
        return "null"
    if hasattr(compressor, "get_config"):  # numcodecs
        config = dict(compressor.get_config())
    elif hasattr(compressor, "to_dict"):  # zarr-python 3 codecs
        spec = compressor.to_dict()
        config = {"id": spec.get("name"), **spec.get("configuration", {})}
    elif isinstance(compressor, dict):
        config = dict(compressor)
        if "name" in config and "id" not in config:
            config = {"id": config["name"], **config.get("configuration", {})}
    else:
        raise TypeError(f"compressor {compressor!r} is not a codec, a dict or None")
    shuffle = config.get("shuffle")
    if isinstance(shuffle, str):
        config["shuffle"] = _SHUFFLES.get(shuffle, shuffle)
    if hasattr(config.get("cname"), "value"):
        config["cname"] = config["cname"].value
    return _to_json(config)


def _no_kwargs(function: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise TypeError(
            f"{function}() got keyword arguments daisy does not support: {sorted(kwargs)}"
        )


def _optional_list(values: Sequence[Any] | None) -> list[Any] | None:
    return None if values is None else list(values)


def _reopen_options(
    handle: _daisy.ZarrArray, path: str, metadata_format: MetaDataFormat, cache_bytes: int
) -> dict[str, Any]:
    """How another process opens the same array with the same metadata (read-only arrays
    stay read-only; writeable ones open with "r+", never recreated)."""
    metadata = handle.metadata
    return {
        "path": path,
        "mode": "r+" if handle.is_writeable else "r",
        "metadata_format": metadata_format,
        "offset": list(metadata.offset),
        "voxel_size": list(metadata.voxel_size),
        "axis_names": list(metadata.axis_names),
        "units": list(metadata.units),
        "types": list(metadata.types),
        "strict_metadata": False,
        "cache_bytes": cache_bytes,
    }


def open_ds(
    store: Any,
    mode: Mode = "r",
    metadata_format: MetaDataFormat | None = None,
    offset: Sequence[int] | None = None,
    voxel_size: Sequence[int] | None = None,
    axis_names: Sequence[str] | None = None,
    units: Sequence[str] | None = None,
    types: Sequence[str] | None = None,
    chunks: int | Sequence[int] | str | None = "strict",
    strict_metadata: bool = False,
    cache_size: int | None = None,
    **kwargs: Any,
) -> Array:
    """Opens the Zarr array at ``store`` (v2 or v3), its metadata read from its attributes
    (``metadata_format`` names them); the metadata arguments override what is stored.

    Args:
        store: the array's path (``"data.zarr/raw"`` for an array inside a group), or a
            ``zarr.storage.LocalStore``.
        mode: ``"r"`` (read-only), ``"r+"``, ``"a"`` (read-write).
        chunks: ``"strict"``: :attr:`Array.chunk_shape` is the stored chunk shape; otherwise
            what it reports.
        cache_size: bytes of decoded chunks kept (default :data:`DEFAULT_CACHE_SIZE`).

    Raises:
        FileNotFoundError: nothing at ``store``.
        TypeError: ``store`` is not a Zarr array (a group, a plain directory, ...), or an
            unsupported keyword argument.
        ValueError: metadata of inconsistent lengths.
    """
    _no_kwargs("open_ds", kwargs)
    path = _store_path(store)
    fmt = metadata_format if metadata_format is not None else get_default_metadata_format()
    cache_bytes = _cache_bytes(cache_size)
    handle = _daisy.ZarrArray.open(
        path=path,
        mode=mode,
        metadata_format=fmt,
        offset=_optional_list(offset),
        voxel_size=_optional_list(voxel_size),
        axis_names=_optional_list(axis_names),
        units=_optional_list(units),
        types=_optional_list(types),
        strict_metadata=strict_metadata,
        cache_bytes=cache_bytes,
    )
    source = _ZarrSource(handle, _reopen_options(handle, path, fmt, cache_bytes))
    return Array._from_zarr(source, None if chunks == "strict" else chunks)


def prepare_ds(
    store: Any,
    shape: Sequence[int],
    offset: Sequence[int] | None = None,
    voxel_size: Sequence[int] | None = None,
    axis_names: Sequence[str] | None = None,
    units: Sequence[str] | None = None,
    types: Sequence[str] | None = None,
    chunk_shape: Sequence[int] | None = None,
    dtype: Any = np.float32,
    mode: Mode = "a",
    custom_metadata: dict[str, Any] | None = None,
    cache_size: int | None = None,
    zarr_format: int = 3,
    compressor: Any = "default",
    **kwargs: Any,
) -> Array:
    """Creates a Zarr array at ``store``, or opens the one there if it is compatible.

    An existing array whose shape, dtype or (given) ``chunk_shape`` differ is recreated in
    mode ``"w"``, else ``PermissionError``; one whose voxel size, axis names, units or types
    differ gets the given metadata written (``PermissionError`` in mode ``"r"``); a compatible
    one is opened with its stored metadata (a differing ``offset`` is ignored), or recreated in
    mode ``"w"``. New arrays are Zarr v3 (``zarr_format=2`` for v2), zstd-compressed, with the
    metadata attributes and ``custom_metadata``.

    Args:
        shape: voxels, channel dimensions included.
        chunk_shape: voxels, channel dimensions included (default: funlib.persistence's).
        dtype: a numpy dtype (bool, [u]int8..64, float32/64).
        zarr_format: 3 (default) or 2.
        compressor: ``None`` (uncompressed), a numcodecs codec (``numcodecs.GZip(5)``,
            ``Zstd``, ``Blosc``), a zarr-python 3 codec (``zarr.codecs.GzipCodec`` ...) or its
            ``dict``; default zstd level 0, as funlib.persistence writes.
        cache_size: bytes of decoded chunks kept (default :data:`DEFAULT_CACHE_SIZE`).

    Raises:
        PermissionError: an incompatible array exists and ``mode`` does not allow replacing it.
        ValueError: inconsistent metadata, or ``custom_metadata`` keys that are metadata names.
        TypeError: an unsupported dtype or keyword argument.
    """
    _no_kwargs("prepare_ds", kwargs)
    path = _store_path(store)
    try:
        dtype_name = np.dtype(dtype).name
    except TypeError as e:
        raise TypeError(f"dtype {dtype!r} is not a numpy dtype: {e}") from None
    fmt = get_default_metadata_format()
    cache_bytes = _cache_bytes(cache_size)
    handle = _daisy.ZarrArray.prepare(
        path=path,
        shape=[int(n) for n in shape],
        mode=mode,
        offset=_optional_list(offset),
        voxel_size=_optional_list(voxel_size),
        axis_names=_optional_list(axis_names),
        units=_optional_list(units),
        types=_optional_list(types),
        chunk_shape=None if chunk_shape is None else [int(n) for n in chunk_shape],
        dtype=dtype_name,
        custom_metadata=None if custom_metadata is None else _to_json(custom_metadata),
        metadata_format=fmt,
        zarr_format=zarr_format,
        compressor=_compressor_json(compressor),
        cache_bytes=cache_bytes,
    )
    source = _ZarrSource(handle, _reopen_options(handle, path, fmt, cache_bytes))
    return Array._from_zarr(source, None)
