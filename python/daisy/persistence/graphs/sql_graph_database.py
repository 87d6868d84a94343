"""funlib.persistence.graphs.sql_graph_database's base class of the SQL graph databases."""

from ...graph_database import SQLGraphDataBase

__all__ = ["SQLGraphDataBase"]
