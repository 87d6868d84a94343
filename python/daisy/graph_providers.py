"""daisy 1.x's graph providers: :class:`MongoDbGraphProvider` and :class:`FileGraphProvider`,
with their sub-graph API, on daisy's Rust graph stores (the layouts daisy 1.x wrote, so its
databases and directories open here, and the other way round).

::

    provider = daisy.persistence.MongoDbGraphProvider("frags", host="localhost", mode="w")
    sub_graph = provider[block.write_roi]       # a networkx Graph that knows its ROI
    sub_graph.add_node(1, position=(5, 5, 5), size=10)
    sub_graph.write_nodes()                      # the nodes in its ROI
    sub_graph.write_edges()                      # the edges whose u is in its ROI

A write of a ROI takes the nodes whose position lies in it and the edges whose ``u`` does;
undirected edges are stored as ``(min(u, v), max(u, v))``; rows already stored are kept
(``fail_if_exists=True`` makes them an error).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx
from funlib.geometry import Roi

from . import _daisy
from .errors import GraphError
from .graph_database import AttributeType, _edge_arg, _options

__all__ = [
    "FileGraphProvider",
    "MongoDbGraphProvider",
    "SharedGraphProvider",
    "SharedSubDiGraph",
    "SharedSubGraph",
]


class _SubGraphMethods:
    """What daisy 1.x's sub-graphs add to networkx's graphs: writes back to the provider."""

    provider: SharedGraphProvider
    roi: Roi | None
    # networkx's, on the graphs this is mixed into
    _node: dict[Any, Any]
    nodes: Any
    edges: Any

    def _roi(self, roi: Roi | None) -> Roi | None:
        return roi if roi is not None else self.roi

    def write_nodes(
        self,
        roi: Roi | None = None,
        attributes: list[str] | None = None,
        fail_if_exists: bool = False,
        fail_if_not_exists: bool = False,
        delete: bool = False,
    ) -> None:
        """Writes the nodes in ``roi`` (default: the sub-graph's), with ``attributes`` (all
        without a list); with ``fail_if_not_exists``, only updates nodes already stored (an
        error if one is not)."""
        _no_delete(delete)
        store = self.provider._store
        roi = self._roi(roi)
        if fail_if_not_exists:
            names = attributes if attributes is not None else _attribute_names(self.nodes)
            updated, _ = store.update(self._node, None, roi, names, None)
            covered, _ = store.covered(self._node, None, roi)
            if updated != covered:
                raise GraphError(
                    f"fail_if_not_exists: {covered - updated} of the {covered} nodes of the "
                    f"sub-graph in {roi} are not stored"
                )
            return
        store.write(self._node, None, roi, attributes, None, True, fail_if_exists)

    def write_edges(
        self,
        roi: Roi | None = None,
        attributes: list[str] | None = None,
        fail_if_exists: bool = False,
        fail_if_not_exists: bool = False,
        delete: bool = False,
    ) -> None:
        """Writes the edges whose ``u`` lies in ``roi`` (default: the sub-graph's)."""
        _no_delete(delete)
        store = self.provider._store
        roi = self._roi(roi)
        if fail_if_not_exists:
            names = attributes if attributes is not None else _attribute_names_edges(self)
            _, updated = store.update(self._node, _edge_arg(self), roi, None, names)
            _, covered = store.covered(self._node, _edge_arg(self), roi)
            if updated != covered:
                raise GraphError(
                    f"fail_if_not_exists: {covered - updated} of the {covered} edges of the "
                    f"sub-graph in {roi} are not stored"
                )
            return
        store.write(self._node, _edge_arg(self), roi, None, attributes, False, fail_if_exists)

    def update_node_attrs(
        self, roi: Roi | None = None, attributes: list[str] | None = None
    ) -> None:
        """Sets the stored values of ``attributes`` (all the nodes have, without a list) of
        the nodes in ``roi`` (default: the sub-graph's) to the sub-graph's."""
        store = self.provider._store
        names = attributes if attributes is not None else _attribute_names(self.nodes)
        store.update(self._node, None, self._roi(roi), names, None)

    def update_edge_attrs(
        self, roi: Roi | None = None, attributes: list[str] | None = None
    ) -> None:
        """Sets the stored values of ``attributes`` of the edges whose ``u`` is in ``roi``."""
        store = self.provider._store
        names = attributes if attributes is not None else _attribute_names_edges(self)
        store.update(self._node, _edge_arg(self), self._roi(roi), None, names)

    def get_nodes_in_roi(self) -> dict[Any, dict[str, Any]]:
        """The nodes that have a position (not those only an edge brought in)."""
        position = self.provider.position_attribute
        return {n: d for n, d in self.nodes(data=True) if position in d}

    def get_connected_components(self) -> list[Any]:
        """The connected components (weakly, if directed) as sub-graphs of the same kind."""
        graph: Any = self
        parts = (
            nx.weakly_connected_components(graph)
            if graph.is_directed()
            else nx.connected_components(graph)
        )
        components = []
        for nodes in parts:
            component = graph.subgraph(nodes).copy()
            component.provider = self.provider
            component.roi = self.roi
            components.append(component)
        return components


def _attribute_names(nodes: Any) -> list[str]:
    names: dict[str, None] = {}
    for _, data in nodes(data=True):
        names.update(dict.fromkeys(data))
    return list(names)


def _attribute_names_edges(graph: Any) -> list[str]:
    names: dict[str, None] = {}
    for _, _, data in graph.edges(data=True):
        names.update(dict.fromkeys(data))
    return list(names)


def _no_delete(delete: bool) -> None:
    if delete:
        raise NotImplementedError("Delete not implemented")


class SharedSubGraph(_SubGraphMethods, nx.Graph):  # type: ignore[misc]
    """An undirected sub-graph read from a provider (``provider[roi]``)."""

    def __init__(
        self,
        incoming_graph_data: Any = None,
        provider: Any = None,
        roi: Roi | None = None,
        **attr: Any,
    ) -> None:
        nx.Graph.__init__(self, incoming_graph_data, **attr)
        self.provider = provider
        self.roi = roi


class SharedSubDiGraph(_SubGraphMethods, nx.DiGraph):  # type: ignore[misc]
    """A directed sub-graph read from a provider (``provider[roi]``)."""

    def __init__(
        self,
        incoming_graph_data: Any = None,
        provider: Any = None,
        roi: Roi | None = None,
        **attr: Any,
    ) -> None:
        nx.DiGraph.__init__(self, incoming_graph_data, **attr)
        self.provider = provider
        self.roi = roi


class SharedGraphProvider:
    """A graph shared by many workers: ``provider[roi]`` is the sub-graph in ``roi``."""

    _store: _daisy.GraphStore

    def _open(self, store: _daisy.GraphStore) -> None:
        self._store = store
        meta = store.metadata()
        self.mode: str = store.mode
        self.directed: bool = meta["directed"]
        self.total_roi: Roi = Roi(*meta["total_roi"])
        self.position_attribute: str = meta["position_attribute"]
        self.endpoint_names: list[str] = list(meta["endpoint_names"])

    def __getitem__(self, roi: Roi) -> Any:
        return self.get_graph(roi)

    def name(self) -> str:
        return type(self).__name__

    def get_graph(
        self,
        roi: Roi | None,
        nodes_filter: dict[str, Any] | None = None,
        edges_filter: dict[str, Any] | None = None,
        node_attrs: list[str] | None = None,
        edge_attrs: list[str] | None = None,
        join_collection: str | None = None,
    ) -> Any:
        """The sub-graph in ``roi``: its nodes (with the values ``nodes_filter``) and the edges
        whose ``u`` is one of them; endpoints outside ``roi`` are nodes without attributes."""
        graph = (SharedSubDiGraph if self.directed else SharedSubGraph)(provider=self, roi=roi)
        if join_collection is None:
            self._store.read_graph(
                graph, roi, True, node_attrs, edge_attrs, nodes_filter, edges_filter, False
            )
            return graph
        nodes = self.read_nodes(roi, nodes_filter, node_attrs, join_collection)
        graph.add_nodes_from((n.pop("id"), n) for n in nodes)
        u, v = self.endpoint_names
        for e in self.read_edges(roi, nodes=list(graph.nodes), attr_filter=edges_filter):
            graph.add_edge(e.pop(u), e.pop(v), **e)
        return graph

    def read_nodes(
        self,
        roi: Roi | None,
        attr_filter: dict[str, Any] | None = None,
        read_attrs: list[str] | None = None,
        join_collection: str | None = None,
    ) -> list[dict[str, Any]]:
        """The nodes in ``roi`` as dicts with their ``id``."""
        if join_collection is not None:
            return self._store.read_nodes_joined(join_collection, roi, attr_filter, read_attrs)
        return self._store.read_nodes(roi, attr_filter, read_attrs)

    def read_edges(
        self,
        roi: Roi | None,
        nodes: Iterable[Any] | None = None,
        attr_filter: dict[str, Any] | None = None,
        read_attrs: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The edges whose ``u`` is one of ``nodes`` (ids or node dicts), or in ``roi``."""
        if nodes is not None:
            ids = [n["id"] if isinstance(n, dict) else n for n in nodes]
            return self._store.read_edges(None, ids, attr_filter, read_attrs, False)
        return self._store.read_edges(roi, None, attr_filter, read_attrs, False)

    def num_nodes(self, roi: Roi | None) -> int:
        """The number of nodes in ``roi``."""
        return self._store.num_nodes(roi)

    def has_edges(self, roi: Roi | None) -> bool:
        """Whether an edge has its ``u`` in ``roi``."""
        return self._store.has_edges(roi)

    def close(self) -> None:
        """Closes the provider's connection or files."""
        self._store.close()

    def __enter__(self) -> SharedGraphProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MongoDbGraphProvider(SharedGraphProvider):
    """A graph in a MongoDB database in daisy 1.x's layout: node and edge collections, a
    meta document checked on open, ids as 64-bit integers, features in further collections
    (``read_nodes(..., join_collection=...)``, :meth:`write_node_features`).

    ``node_attrs`` / ``edge_attrs`` (not in daisy 1.x) declare attribute types, which are
    then checked; without them any attribute is stored as given.
    """

    def __init__(
        self,
        db_name: str,
        host: str | None = None,
        mode: str = "r+",
        directed: bool | None = None,
        total_roi: Roi | None = None,
        nodes_collection: str = "nodes",
        edges_collection: str = "edges",
        endpoint_names: list[str] | None = None,
        meta_collection: str = "meta",
        position_attribute: str = "position",
        node_attrs: dict[str, AttributeType] | None = None,
        edge_attrs: dict[str, AttributeType] | None = None,
    ) -> None:
        self.db_name = db_name
        self.host = host
        self.nodes_collection_name = nodes_collection
        self.edges_collection_name = edges_collection
        self.meta_collection_name = meta_collection
        self._open(
            _daisy.GraphStore.mongodb(
                db_name,
                mode,
                host,
                meta_collection,
                _options(
                    position_attribute,
                    directed,
                    total_roi,
                    nodes_collection,
                    edges_collection,
                    endpoint_names,
                    node_attrs,
                    edge_attrs,
                ),
            )
        )

    def write_node_features(self, collection: str, nodes: Any, fail_if_exists: bool = False) -> int:
        """Writes node features (``{id: {feature: value}}`` or a graph's nodes) to another
        collection, joined on ``id`` by ``read_nodes(..., join_collection=collection)``."""
        data = getattr(nodes, "_node", None) or getattr(nodes, "_nodes", None) or dict(nodes)
        return self._store.write_node_features(collection, data, fail_if_exists)


class FileGraphProvider(SharedGraphProvider):
    """A graph in a directory of files in daisy 1.x's layout, chunked in space by
    ``chunk_size``: ``<directory>/nodes/<i>/<j>/<k>/<attribute>.npz`` and the same for edges
    (in the chunk of their ``u``), so that workers of different blocks write different files.

    ``node_attrs`` / ``edge_attrs`` (not in daisy 1.x) declare attribute types; a new graph
    (mode ``"w"``) needs them.
    """

    def __init__(
        self,
        directory: str | Path,
        chunk_size: Any = None,
        mode: str = "r+",
        directed: bool | None = None,
        total_roi: Roi | None = None,
        nodes_collection: str = "nodes",
        edges_collection: str = "edges",
        position_attribute: str = "position",
        node_attrs: dict[str, AttributeType] | None = None,
        edge_attrs: dict[str, AttributeType] | None = None,
    ) -> None:
        self.directory = str(directory)
        self.chunk_size = tuple(chunk_size) if chunk_size is not None else None
        self._open(
            _daisy.GraphStore.file(
                self.directory,
                mode,
                list(chunk_size) if chunk_size is not None else None,
                _options(
                    position_attribute,
                    directed,
                    total_roi,
                    nodes_collection,
                    edges_collection,
                    None,
                    node_attrs,
                    edge_attrs,
                ),
            )
        )
