"""``daisy.persistence.arrays``: funlib.persistence.arrays' names (``Array``, ``open_ds``,
``prepare_ds``) and its submodules ``array``, ``datasets`` and ``metadata``."""

from . import array as array
from . import datasets as datasets
from . import metadata as metadata
from .array import Array
from .datasets import open_ds, prepare_ds

__all__ = ["Array", "array", "datasets", "metadata", "open_ds", "prepare_ds"]
