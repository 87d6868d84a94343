"""funlib.persistence.graphs.pgsql_graph_database's graph database in PostgreSQL."""

from ...graph_database import PgSQLGraphDatabase

__all__ = ["PgSQLGraphDatabase"]
