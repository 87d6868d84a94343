"""funlib.persistence.graphs.sqlite_graph_database's graph database in an SQLite file."""

from ...graph_database import SQLiteGraphDataBase

__all__ = ["SQLiteGraphDataBase"]
