"""funlib.persistence.arrays.array's names: :class:`daisy.Array` and ``LazyOp``."""

from ...array import Array, LazyOp

__all__ = ["Array", "LazyOp"]
