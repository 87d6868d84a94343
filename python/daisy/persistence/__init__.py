"""``daisy.persistence``: funlib.persistence's array API, backed by daisy's engine.

Code written against funlib.persistence 0.7 needs only its import changed::

    from daisy.persistence import Array, open_ds, prepare_ds   # was: from funlib.persistence ...

The module paths are funlib's too (``daisy.persistence.arrays.metadata.MetaDataFormat``).
Zarr arrays on disk (v2 and v3) are read and written by daisy's Rust engine; in-memory data
(numpy, zarr-python, dask) is wrapped as funlib wraps it.
"""

from ..array import Array
from ..datasets import (
    DEFAULT_CACHE_SIZE,
    MetaDataFormat,
    configure_library,
    get_default_metadata_format,
    open_ds,
    prepare_ds,
    read_config,
    set_default_metadata_format,
)
from . import arrays as arrays

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "Array",
    "MetaDataFormat",
    "arrays",
    "configure_library",
    "get_default_metadata_format",
    "open_ds",
    "prepare_ds",
    "read_config",
    "set_default_metadata_format",
]
