"""``daisy.persistence.graphs``: funlib.persistence.graphs' graph databases and its submodules
``graph_database``, ``sql_graph_database``, ``sqlite_graph_database`` and
``pgsql_graph_database``."""

from . import graph_database as graph_database
from . import pgsql_graph_database as pgsql_graph_database
from . import sql_graph_database as sql_graph_database
from . import sqlite_graph_database as sqlite_graph_database
from .pgsql_graph_database import PgSQLGraphDatabase
from .sqlite_graph_database import SQLiteGraphDataBase

__all__ = [
    "PgSQLGraphDatabase",
    "SQLiteGraphDataBase",
    "graph_database",
    "pgsql_graph_database",
    "sql_graph_database",
    "sqlite_graph_database",
]
