"""funlib.persistence.graphs.graph_database's names: the base class and attribute types."""

from ...graph_database import AttributeType, GraphDataBase

__all__ = ["AttributeType", "GraphDataBase"]
