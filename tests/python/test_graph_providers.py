"""daisy 1.x's graph providers (``daisy.persistence.MongoDbGraphProvider``,
``FileGraphProvider``): the sub-graph API, the block-wise rules, daisy 1.x's layouts, bad
input, and the block-wise example from two worker processes into each.

The MongoDB tests need a server: scripts/test.sh starts one and sets DAISY_TEST_MONGODB=1 and
MONGODB_URI; without them they skip, saying so."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from funlib.geometry import Roi

import daisy
from daisy.persistence import FileGraphProvider, MongoDbGraphProvider, Vec

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)

MONGODB = os.environ.get("DAISY_TEST_MONGODB") == "1"
needs_mongodb = pytest.mark.skipif(
    not MONGODB,
    reason="needs a MongoDB server: set DAISY_TEST_MONGODB=1 and MONGODB_URI "
    "(scripts/test.sh starts one)",
)
_counter = itertools.count()
NODE_ATTRS = {"position": Vec(float, 3), "size": int}
EDGE_ATTRS = {"score": float}


def fresh_db() -> str:
    return f"daisy_providers_{os.getpid()}_{next(_counter)}"


def open_file(tmp_path, mode, **kw):
    kw.setdefault("chunk_size", (10, 10, 10))
    if mode == "w":
        kw.setdefault("node_attrs", NODE_ATTRS)
        kw.setdefault("edge_attrs", EDGE_ATTRS)
    return FileGraphProvider(tmp_path / "graph", mode=mode, **kw)


def open_mongo(tmp_path, mode, **kw):
    name = getattr(tmp_path, "_daisy_db", None)
    if name is None:
        name = fresh_db()
        tmp_path._daisy_db = name  # the same database for every open of one test
    return MongoDbGraphProvider(name, mode=mode, **kw)


PROVIDERS = [
    pytest.param(open_file, id="file"),
    pytest.param(open_mongo, id="mongodb", marks=needs_mongodb),
]


class Place:
    """A per-test location (a directory, and for MongoDB a database name)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __truediv__(self, other: str) -> Path:
        return self.path / other


def fill(sub_graph) -> None:
    sub_graph.add_node(1, position=(1.0, 1.0, 1.0), size=3)
    sub_graph.add_node(2, position=(15.0, 1.0, 1.0), size=4)
    sub_graph.add_node(3, position=(35.0, 1.0, 1.0), size=5)  # outside the sub-graph's ROI
    sub_graph.add_edge(2, 1, score=0.5)  # stored as (1, 2)
    sub_graph.add_edge(3, 2, score=0.25)  # u = 2 is inside: written too


@pytest.mark.parametrize("open_provider", PROVIDERS)
def test_sub_graphs_write_their_roi_and_read_back(open_provider, tmp_path):
    place = Place(tmp_path)
    provider = open_provider(place, "w")
    roi = Roi((0, 0, 0), (20, 20, 20))
    sub = provider[roi]
    assert isinstance(sub, nx.Graph) and sub.roi == roi and sub.number_of_nodes() == 0
    fill(sub)
    sub.write_nodes()
    sub.write_edges()
    provider.close()

    provider = open_provider(place, "r+")
    back = provider[roi]
    assert {n: d.get("size") for n, d in back.nodes(data=True)} == {1: 3, 2: 4, 3: None}
    assert sorted((min(u, v), max(u, v)) for u, v in back.edges) == [(1, 2), (2, 3)]
    assert provider.num_nodes(roi) == 2 and provider.has_edges(roi)
    assert provider.num_nodes(Roi((30, 0, 0), (10, 10, 10))) == 0
    assert [n["id"] for n in provider.read_nodes(roi, attr_filter={"size": 4})] == [2]
    edges = provider.read_edges(roi, nodes=[{"id": 1}])
    assert [(e["u"], e["v"]) for e in edges] == [(1, 2)]

    back.nodes[1]["size"] = 30
    back.update_node_attrs(attributes=["size"])
    back.edges[1, 2]["score"] = 0.75
    back.update_edge_attrs(attributes=["score"])
    again = provider[roi]
    assert again.nodes[1]["size"] == 30 and again.edges[1, 2]["score"] == 0.75
    assert sorted(sorted(c.nodes) for c in again.get_connected_components()) == [[1, 2, 3]]
    assert all(c.provider is provider for c in again.get_connected_components())
    assert set(again.get_nodes_in_roi()) == {1, 2}


@pytest.mark.parametrize("open_provider", PROVIDERS)
def test_fail_if_exists_and_fail_if_not_exists(open_provider, tmp_path):
    place = Place(tmp_path)
    provider = open_provider(place, "w")
    roi = Roi((0, 0, 0), (20, 20, 20))
    sub = provider[roi]
    fill(sub)
    sub.write_nodes()
    with pytest.raises(daisy.GraphError):
        sub.write_nodes(fail_if_exists=True)
    sub.nodes[1]["size"] = 9
    sub.write_nodes(attributes=["size"], fail_if_not_exists=True)
    assert provider[roi].nodes[1]["size"] == 9
    sub.add_node(7, position=(2.0, 2.0, 2.0), size=1)
    with pytest.raises(daisy.GraphError, match="1 of the 3 nodes"):
        sub.write_nodes(attributes=["size"], fail_if_not_exists=True)
    with pytest.raises(NotImplementedError):
        sub.write_nodes(delete=True)


@pytest.mark.parametrize("open_provider", PROVIDERS)
def test_directed_graphs_and_metadata_checks(open_provider, tmp_path):
    place = Place(tmp_path)
    provider = open_provider(place, "w", directed=True)
    sub = provider[Roi((0, 0, 0), (20, 20, 20))]
    assert isinstance(sub, nx.DiGraph)
    fill(sub)
    sub.write_nodes()
    sub.write_edges()
    back = provider[Roi((0, 0, 0), (20, 20, 20))]
    assert back.has_edge(2, 1) and not back.has_edge(1, 2)
    with pytest.raises(AssertionError, match="directed"):
        open_provider(place, "r", directed=False)
    with pytest.raises(daisy.GraphError, match="2 dimensions"):
        provider[Roi((0, 0), (5, 5))]


def test_file_provider_layout_is_daisys(tmp_path):
    provider = open_file(tmp_path, "w")
    sub = provider[Roi((0, 0, 0), (20, 20, 20))]
    fill(sub)
    sub.write_nodes()
    sub.write_edges()
    root = tmp_path / "graph"
    assert (root / ".meta.json").is_file()
    assert (root / "nodes" / "0" / "0" / "0" / "position.npz").is_file()
    assert (root / "nodes" / "1" / "0" / "0" / "id.npz").is_file()
    assert (root / "edges" / "0" / "0" / "0" / "u.npz").is_file()  # (1, 2): u = 1
    import numpy as np

    ids = np.load(root / "nodes" / "1" / "0" / "0" / "id.npz")["nodes"]
    assert ids.tolist() == [2]


def test_file_provider_needs_a_chunk_size_to_create(tmp_path):
    with pytest.raises(daisy.GraphError, match="chunk_size"):
        FileGraphProvider(tmp_path / "g", mode="w", node_attrs=NODE_ATTRS)


@needs_mongodb
def test_mongodb_features_in_another_collection(tmp_path):
    place = Place(tmp_path)
    provider = open_mongo(place, "w")
    roi = Roi((0, 0, 0), (20, 20, 20))
    sub = provider[roi]
    fill(sub)
    sub.write_nodes()
    provider.write_node_features("features", {1: {"label": 7}, 2: {"label": 8}})
    joined = provider.read_nodes(roi, attr_filter={"label": 8}, join_collection="features")
    assert [(n["id"], n["label"], n["size"]) for n in joined] == [(2, 8, 4)]
    graph = provider.get_graph(roi, join_collection="features")
    assert graph.nodes[1]["label"] == 7


@needs_mongodb
def test_mongodb_graphs_written_without_declared_types(tmp_path):
    """daisy 1.x declared no attribute types: any attribute is stored as given."""
    place = Place(tmp_path)
    provider = open_mongo(place, "w")
    sub = provider[Roi((0, 0, 0), (20, 20, 20))]
    sub.add_node(5, position=(1.0, 2.0, 3.0), anything="goes", count=2)
    sub.write_nodes()
    back = open_mongo(place, "r")[Roi((0, 0, 0), (20, 20, 20))]
    assert back.nodes[5]["anything"] == "goes" and back.nodes[5]["count"] == 2


def test_an_unreachable_mongodb_server_names_it():
    with pytest.raises(daisy.GraphStoreError, match="127.0.0.1:1"):
        MongoDbGraphProvider("nowhere", host="127.0.0.1:1", mode="r")


@pytest.mark.parametrize("backend", ["file", pytest.param("mongodb", marks=needs_mongodb)])
def test_block_wise_pipeline_writes_every_node_and_edge_once(backend, tmp_path):
    args = [sys.executable, str(ROOT / "examples/fragment_graph.py"), "--backend", backend]
    args += ["--blocks", "3", "--workers", "2", "--out", str(tmp_path), "--db", fresh_db()]
    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "every node once: ok" in done.stdout and "every edge once: ok" in done.stdout
