"""funlib.persistence.types' attribute types: :class:`Vec` and :func:`type_to_str`."""

from ..graph_database import Vec, type_to_str

__all__ = ["Vec", "type_to_str"]
