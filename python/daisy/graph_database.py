"""Spatial graph databases with funlib.persistence 0.7's API: nodes with a position and edges
between them, written block by block by many workers and read back by ROI, in SQLite
(:class:`SQLiteGraphDataBase`) or PostgreSQL (:class:`PgSQLGraphDatabase`), in the layouts
funlib.persistence writes (either package reads what the other wrote).

::

    from daisy.persistence import SQLiteGraphDataBase, Vec

    db = SQLiteGraphDataBase("frags.db", position_attribute="position", mode="w",
                             node_attrs={"position": Vec(float, 3), "size": int},
                             edge_attrs={"score": float})
    db.write_graph(block_graph, roi=block.write_roi)      # nodes in the ROI, edges whose u is
    graph = db[roi]                                         # a networkx Graph (DiGraph if directed)

Graphs are networkx ``Graph`` / ``DiGraph``. Queries, the ROI rules (a write of a ROI takes
the nodes whose position lies in it and the edges whose ``u`` does; undirected edges are
stored as ``(min(u, v), max(u, v))``), type checks and the conversion of rows run in daisy's
Rust engine, in bulk and with the GIL released; many worker processes may write one database
at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from funlib.geometry import Roi

from . import _daisy

__all__ = [
    "AttributeType",
    "GraphDataBase",
    "PgSQLGraphDatabase",
    "SQLGraphDataBase",
    "SQLiteGraphDataBase",
    "Vec",
    "type_to_str",
]


@dataclass
class Vec:
    """The type of a fixed-size vector attribute: ``Vec(float, 3)`` for a 3-D position."""

    dtype: type | str
    size: int


#: An attribute's type: ``int``, ``float``, ``str``, ``bool`` (or their names), or a :class:`Vec`.
AttributeType = type | str | Vec

_SCALARS: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}


def type_to_str(type: AttributeType) -> str:
    """An attribute type's name as stored in the metadata (``"float"``, ``"Vec(float, 3)"``)."""
    dtype = getattr(type, "dtype", None)
    size = getattr(type, "size", None)
    if dtype is not None and size is not None:
        return f"Vec({type_to_str(dtype)}, {size})"
    if isinstance(type, str):
        return type
    return str(getattr(type, "__name__", type))


def _declared(attrs: Mapping[str, AttributeType] | None) -> list[tuple[str, str]] | None:
    if attrs is None:
        return None
    return [(name, type_to_str(t)) for name, t in attrs.items()]


def _options(
    position_attribute: str | None = None,
    directed: bool | None = None,
    total_roi: Roi | None = None,
    nodes_table: str | None = None,
    edges_table: str | None = None,
    endpoint_names: list[str] | None = None,
    node_attrs: Mapping[str, AttributeType] | None = None,
    edge_attrs: Mapping[str, AttributeType] | None = None,
) -> dict[str, Any]:
    """The options of an open, as the engine takes them."""
    return {
        "position_attribute": position_attribute,
        "directed": directed,
        "total_roi": total_roi,
        "nodes_table": nodes_table,
        "edges_table": edges_table,
        "endpoint_names": endpoint_names,
        "node_attrs": _declared(node_attrs),
        "edge_attrs": _declared(edge_attrs),
    }


def _attr_types(stored: list[tuple[str, str, int | None]]) -> dict[str, AttributeType]:
    return {
        name: (Vec(_SCALARS[scalar], size) if size is not None else _SCALARS[scalar])
        for name, scalar, size in stored
    }


def _networkx() -> Any:
    try:
        import networkx
    except ImportError as e:  # pragma: no cover - networkx is a dependency of the package
        raise ImportError("daisy's graph databases need networkx: pip install networkx") from e
    return networkx


def _node_dict(nodes: Any) -> dict[Any, Any]:
    """The ``{id: data}`` dictionary behind a networkx graph, NodeView or mapping."""
    inner = getattr(nodes, "_nodes", None)  # NodeView, NodeDataView
    if isinstance(inner, dict):
        return inner
    inner = getattr(nodes, "_node", None)  # Graph, DiGraph
    if isinstance(inner, dict):
        return inner
    if isinstance(nodes, dict):
        return nodes
    return dict(nodes.items())


def _edge_arg(edges: Any) -> Any:
    """What the engine takes for edges: a networkx adjacency with its directedness, or
    ``(u, v, data)`` triples."""
    adjacency = getattr(edges, "_adjdict", None)  # EdgeView, OutEdgeView
    if isinstance(adjacency, dict):
        return (adjacency, bool(edges._graph.is_directed()))
    adjacency = getattr(edges, "_adj", None)  # Graph, DiGraph
    if isinstance(adjacency, dict) and hasattr(edges, "is_directed"):
        return (adjacency, bool(edges.is_directed()))
    if isinstance(edges, Mapping):
        return [(u, v, data) for (u, v), data in edges.items()]
    return list(edges)


class GraphDataBase:
    """A spatial graph database: nodes with a position attribute, edges between them, read by
    ROI. ``db[roi]`` is ``db.read_graph(roi)``."""

    def __init__(self, store: _daisy.GraphStore) -> None:
        self._store = store
        meta = store.metadata()
        self.mode: str = store.mode
        self.position_attribute: str = meta["position_attribute"]
        self.directed: bool = meta["directed"]
        self.total_roi: Roi = Roi(*meta["total_roi"])
        self.nodes_table_name: str = meta["nodes_table_name"]
        self.edges_table_name: str = meta["edges_table_name"]
        self.endpoint_names: list[str] = list(meta["endpoint_names"])
        self.ndims: int = meta["ndims"]
        self._node_attrs = _attr_types(meta["node_attrs"])
        self._edge_attrs = _attr_types(meta["edge_attrs"])

    @property
    def node_attrs(self) -> dict[str, AttributeType]:
        """The node attributes and their types (the position among them)."""
        return dict(self._node_attrs)

    @property
    def edge_attrs(self) -> dict[str, AttributeType]:
        """The edge attributes and their types."""
        return dict(self._edge_attrs)

    def __getitem__(self, roi: Roi) -> Any:
        return self.read_graph(roi)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._store.describe()}, mode={self.mode!r})"

    def close(self) -> None:
        """Closes the database (later calls raise :class:`daisy.GraphStoreError`)."""
        self._store.close()

    def __enter__(self) -> GraphDataBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Reading.

    def read_graph(
        self,
        roi: Roi | None = None,
        read_edges: bool = True,
        node_attrs: list[str] | None = None,
        edge_attrs: list[str] | None = None,
        nodes_filter: dict[str, Any] | None = None,
        edges_filter: dict[str, Any] | None = None,
        fetch_on_v: bool = False,
    ) -> Any:
        """The graph in ``roi`` (everything without one): the nodes whose position lies in it
        (those with the values ``nodes_filter``) and, with ``read_edges``, the edges whose
        ``u`` is one of them (``fetch_on_v``: or whose ``v`` is); a networkx ``Graph``, or
        ``DiGraph`` if the database is directed. Endpoints outside ``roi`` are nodes without
        attributes."""
        nx = _networkx()
        graph = nx.DiGraph() if self.directed else nx.Graph()
        self._store.read_graph(
            graph,
            roi,
            read_edges,
            node_attrs,
            edge_attrs,
            nodes_filter,
            edges_filter,
            fetch_on_v,
        )
        return graph

    def read_nodes(
        self,
        roi: Roi | None = None,
        attr_filter: dict[str, Any] | None = None,
        read_attrs: list[str] | None = None,
        join_collection: str | None = None,
    ) -> list[dict[str, Any]]:
        """The nodes in ``roi`` with the values ``attr_filter``, as dicts with their ``id``
        and the attributes ``read_attrs`` (all without a list)."""
        if join_collection is not None:
            raise NotImplementedError(
                f"join_collection={join_collection!r}: an SQL graph database keeps every "
                "node attribute in its nodes table"
            )
        return self._store.read_nodes(roi, attr_filter, read_attrs)

    def read_edges(
        self,
        roi: Roi | None = None,
        nodes: Iterable[Any] | None = None,
        attr_filter: dict[str, Any] | None = None,
        read_attrs: list[str] | None = None,
        fetch_on_v: bool = False,
    ) -> list[dict[str, Any]]:
        """The edges whose ``u`` (``fetch_on_v``: or ``v``) is in ``roi``, or is one of
        ``nodes`` (node dicts as :meth:`read_nodes` returns, or ids), or all edges; with the
        values ``attr_filter`` and the attributes ``read_attrs``. ``roi`` and ``nodes``
        together are a ``ValueError``."""
        ids = None
        if nodes is not None:
            ids = [n["id"] if isinstance(n, Mapping) else n for n in nodes]
        return self._store.read_edges(roi, ids, attr_filter, read_attrs, fetch_on_v)

    def num_nodes(self, roi: Roi | None = None) -> int:
        """The number of nodes in ``roi``."""
        return self._store.num_nodes(roi)

    def has_edges(self, roi: Roi | None = None) -> bool:
        """Whether at least one edge has its ``u`` in ``roi``."""
        return self._store.has_edges(roi)

    # Writing.

    def write_graph(
        self,
        graph: Any,
        roi: Roi | None = None,
        write_nodes: bool = True,
        write_edges: bool = True,
        node_attrs: list[str] | None = None,
        edge_attrs: list[str] | None = None,
        fail_if_exists: bool = False,
        delete: bool = False,
    ) -> None:
        """Writes the nodes of ``graph`` whose position lies in ``roi`` and the edges whose
        ``u`` does (everything without a ROI), with the attributes ``node_attrs`` /
        ``edge_attrs`` (all declared ones without a list). Rows already stored are kept, or
        with ``fail_if_exists`` are an error."""
        _no_delete(delete)
        self._store.write(
            _node_dict(graph),
            _edge_arg(graph) if write_edges else None,
            roi,
            node_attrs,
            edge_attrs,
            write_nodes,
            fail_if_exists,
        )

    def write_nodes(
        self,
        nodes: Any,
        roi: Roi | None = None,
        attributes: list[str] | None = None,
        fail_if_exists: bool = False,
        delete: bool = False,
    ) -> None:
        """Writes the nodes (``graph.nodes``, or a ``{id: data}`` mapping) in ``roi``."""
        _no_delete(delete)
        self._store.write(_node_dict(nodes), None, roi, attributes, None, True, fail_if_exists)

    def write_edges(
        self,
        nodes: Any,
        edges: Any,
        roi: Roi | None = None,
        attributes: list[str] | None = None,
        fail_if_exists: bool = False,
        delete: bool = False,
    ) -> None:
        """Writes the edges (``graph.edges``) whose ``u`` lies in ``roi`` (``nodes`` gives
        the positions)."""
        _no_delete(delete)
        self._store.write(
            _node_dict(nodes), _edge_arg(edges), roi, None, attributes, False, fail_if_exists
        )

    def write_attrs(
        self,
        graph: Any,
        roi: Roi | None = None,
        node_attrs: list[str] | None = None,
        edge_attrs: list[str] | None = None,
    ) -> None:
        """Sets the attributes ``node_attrs`` and ``edge_attrs`` of the stored nodes and edges
        of ``graph`` in ``roi`` to the graph's values."""
        self._store.update(_node_dict(graph), _edge_arg(graph), roi, node_attrs, edge_attrs)

    def update_nodes(
        self, nodes: Any, roi: Roi | None = None, attributes: list[str] | None = None
    ) -> None:
        """Sets the attributes ``attributes`` of the stored nodes in ``roi``."""
        self._store.update(_node_dict(nodes), None, roi, attributes, None)

    def update_edges(
        self,
        nodes: Any,
        edges: Any,
        roi: Roi | None = None,
        attributes: list[str] | None = None,
    ) -> None:
        """Sets the attributes ``attributes`` of the stored edges whose ``u`` is in ``roi``."""
        self._store.update(_node_dict(nodes), _edge_arg(edges), roi, None, attributes)

    def bulk_write_graph(
        self,
        graph: Any,
        roi: Roi | None = None,
        write_nodes: bool = True,
        write_edges: bool = True,
        node_attrs: list[str] | None = None,
        edge_attrs: list[str] | None = None,
    ) -> None:
        """:meth:`write_graph` for use inside :meth:`bulk_write_mode` (rows already stored
        are kept)."""
        self.write_graph(graph, roi, write_nodes, write_edges, node_attrs, edge_attrs)

    def bulk_write_nodes(
        self, nodes: Any, roi: Roi | None = None, attributes: list[str] | None = None
    ) -> None:
        """:meth:`write_nodes` for use inside :meth:`bulk_write_mode`."""
        self.write_nodes(nodes, roi, attributes)

    def bulk_write_edges(
        self,
        nodes: Any,
        edges: Any,
        roi: Roi | None = None,
        attributes: list[str] | None = None,
    ) -> None:
        """:meth:`write_edges` for use inside :meth:`bulk_write_mode`."""
        self.write_edges(nodes, edges, roi, attributes)

    @contextlib.contextmanager
    def bulk_write_mode(
        self, worker: bool = False, node_writes: bool = True, edge_writes: bool = True
    ) -> Iterator[None]:
        """Many writes at once: the position index is dropped (unless ``worker``: the process
        that opened the mode rebuilds it) and durability relaxed until the block ends, when
        everything is durable and indexed again."""
        self._store.begin_bulk_write(worker)
        try:
            yield
        finally:
            self._store.end_bulk_write()


def _no_delete(delete: bool) -> None:
    if delete:
        raise NotImplementedError("Delete not implemented for SQL graph database")


class SQLGraphDataBase(GraphDataBase):
    """The graph databases in SQL (:class:`SQLiteGraphDataBase`, :class:`PgSQLGraphDatabase`)."""

    def print_summary(self) -> None:
        """Prints the database's tables, their (estimated) row counts and sizes
        (PostgreSQL; SQLite has no summary, as in funlib.persistence)."""
        summary = self._store.summary()
        if summary is None:
            raise ValueError("Not implemented for base SQLGraphDataBase")
        print(summary, end="")


class SQLiteGraphDataBase(SQLGraphDataBase):
    """A graph in an SQLite file, its metadata beside it in ``<stem>-meta.json``.

    ``mode`` ``"r"`` reads, ``"r+"`` (default) reads and writes, ``"w"`` creates (replacing
    what is there; ``node_attrs`` must declare the position attribute's type). Options given
    when opening an existing graph must equal what it recorded
    (:class:`daisy.GraphMetadataError` otherwise).
    """

    def __init__(
        self,
        db_file: str | Path,
        position_attribute: str | None = None,
        mode: str = "r+",
        directed: bool | None = None,
        total_roi: Roi | None = None,
        nodes_table: str | None = "nodes",
        edges_table: str | None = "edges",
        endpoint_names: list[str] | None = None,
        node_attrs: dict[str, AttributeType] | None = None,
        edge_attrs: dict[str, AttributeType] | None = None,
    ) -> None:
        self.db_file = Path(db_file)
        self.meta_collection = self.db_file.parent / f"{self.db_file.stem}-meta.json"
        super().__init__(
            _daisy.GraphStore.sqlite(
                str(self.db_file),
                mode,
                _options(
                    position_attribute,
                    directed,
                    total_roi,
                    nodes_table,
                    edges_table,
                    endpoint_names,
                    node_attrs,
                    edge_attrs,
                ),
            )
        )


class PgSQLGraphDatabase(SQLGraphDataBase):
    """A graph in a PostgreSQL database (created if missing), its metadata in the table
    ``metadata``. Connection settings not given come from ``PGHOST``, ``PGPORT``, ``PGUSER``
    and ``PGPASSWORD``. Modes and options as :class:`SQLiteGraphDataBase`."""

    def __init__(
        self,
        position_attribute: str | None,
        db_name: str,
        db_host: str | None = None,
        db_user: str | None = None,
        db_password: str | None = None,
        db_port: int | None = None,
        mode: str = "r+",
        directed: bool | None = None,
        total_roi: Roi | None = None,
        nodes_table: str | None = "nodes",
        edges_table: str | None = "edges",
        endpoint_names: list[str] | None = None,
        node_attrs: dict[str, AttributeType] | None = None,
        edge_attrs: dict[str, AttributeType] | None = None,
    ) -> None:
        self.db_host = db_host
        self.db_name = db_name
        self.db_user = db_user
        self.db_password = db_password
        self.db_port = db_port
        super().__init__(
            _daisy.GraphStore.postgres(
                db_name,
                mode,
                db_host,
                db_user,
                db_password,
                db_port,
                _options(
                    position_attribute,
                    directed,
                    total_roi,
                    nodes_table,
                    edges_table,
                    endpoint_names,
                    node_attrs,
                    edge_attrs,
                ),
            )
        )
