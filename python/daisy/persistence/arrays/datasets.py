"""funlib.persistence.arrays.datasets' names: :func:`daisy.open_ds`, :func:`daisy.prepare_ds`."""

from ...datasets import open_ds, prepare_ds

__all__ = ["open_ds", "prepare_ds"]
