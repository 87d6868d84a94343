"""``daisy.persistence``: funlib.persistence's array and graph API, backed by daisy's engine.

Code written against funlib.persistence 0.7 needs only its import changed::

    from daisy.persistence import Array, open_ds, prepare_ds   # was: from funlib.persistence ...
    from daisy.persistence import SQLiteGraphDataBase, PgSQLGraphDatabase, Vec

The module paths are funlib's too (``daisy.persistence.arrays.metadata.MetaDataFormat``,
``daisy.persistence.graphs.sqlite_graph_database.SQLiteGraphDataBase``,
``daisy.persistence.types.Vec``). Zarr arrays on disk (v2 and v3) and graph databases (SQLite,
PostgreSQL, in funlib's layouts) are read and written by daisy's Rust engine; in-memory array
data (numpy, zarr-python, dask) is wrapped as funlib wraps it.
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
from ..graph_database import PgSQLGraphDatabase, SQLiteGraphDataBase, Vec
from ..graph_providers import (
    FileGraphProvider,
    MongoDbGraphProvider,
    SharedGraphProvider,
    SharedSubDiGraph,
    SharedSubGraph,
)
from . import arrays as arrays
from . import graphs as graphs
from . import types as types

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "Array",
    "FileGraphProvider",
    "MetaDataFormat",
    "MongoDbGraphProvider",
    "PgSQLGraphDatabase",
    "SQLiteGraphDataBase",
    "SharedGraphProvider",
    "SharedSubDiGraph",
    "SharedSubGraph",
    "Vec",
    "arrays",
    "configure_library",
    "get_default_metadata_format",
    "graphs",
    "open_ds",
    "prepare_ds",
    "read_config",
    "set_default_metadata_format",
    "types",
]
