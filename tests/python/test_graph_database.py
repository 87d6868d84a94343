"""``daisy.persistence``'s graph databases against the real funlib.persistence 0.7: the same
API and results, each reading the other's SQLite files and PostgreSQL databases, clear errors
for bad input, and the block-wise example writing from worker processes into each backend.

The PostgreSQL tests need a server: scripts/test.sh starts one and sets DAISY_TEST_POSTGRES=1
and the PG* variables; without them they skip, saying so."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import funlib.persistence.graphs as fgraphs
import funlib.persistence.types as ftypes
import networkx as nx
import pytest
from funlib.geometry import Roi

import daisy
from daisy.persistence import PgSQLGraphDatabase, SQLiteGraphDataBase, Vec

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)

POSTGRES = os.environ.get("DAISY_TEST_POSTGRES") == "1"
needs_postgres = pytest.mark.skipif(
    not POSTGRES,
    reason="needs a PostgreSQL server: set DAISY_TEST_POSTGRES=1 and PGHOST/PGPORT/PGUSER "
    "(scripts/test.sh starts one)",
)
_db_counter = itertools.count()


def fresh_db_name() -> str:
    return f"daisy_py_{os.getpid()}_{next(_db_counter)}"


def sample_graph(directed: bool = False) -> nx.Graph:
    g = nx.DiGraph() if directed else nx.Graph()
    for i in range(20):
        g.add_node(
            i + 1,
            position=(float(i * 5), float(i % 3), 1.5),
            size=i,
            label=f"n{i}",
            seen=bool(i % 2),
        )
    for i in range(1, 20):
        g.add_edge(i + 1, i, score=i / 10)  # undirected: stored as (i, i + 1)
    g.add_edge(3, 17, score=2.0)
    return g


NODE_ATTRS_OURS = {"position": Vec(float, 3), "size": int, "label": str, "seen": bool}
EDGE_ATTRS = {"score": float}


def funlib_node_attrs():
    return {"position": ftypes.Vec(float, 3), "size": int, "label": str, "seen": bool}


def as_sets(graph):
    nodes = {
        n: tuple(sorted((k, _plain(v)) for k, v in d.items())) for n, d in graph.nodes(data=True)
    }
    edges = {
        (min(u, v), max(u, v)) if not graph.is_directed() else (u, v): _plain(d.get("score"))
        for u, v, d in graph.edges(data=True)
    }
    return nodes, edges


def _plain(v):
    if isinstance(v, (list, tuple)):
        return tuple(round(float(x), 4) for x in v)
    if isinstance(v, float):
        return round(v, 4)
    return v


# The two SQL backends, each opened through daisy and through funlib.


def ours_sqlite(path, mode, **kw):
    return SQLiteGraphDataBase(path, "position", mode=mode, **kw)


def funlib_sqlite(path, mode, **kw):
    return fgraphs.SQLiteGraphDataBase(Path(path), "position", mode=mode, **kw)


def ours_pg(name, mode, **kw):
    return PgSQLGraphDatabase("position", name, mode=mode, **kw)


def funlib_pg(name, mode, **kw):
    return fgraphs.PgSQLGraphDatabase(
        "position",
        name,
        db_host=os.environ.get("PGHOST", "localhost"),
        db_user=os.environ.get("PGUSER"),
        db_port=int(os.environ["PGPORT"]) if "PGPORT" in os.environ else None,
        mode=mode,
        **kw,
    )


BACKENDS = [
    pytest.param((ours_sqlite, funlib_sqlite, "sqlite"), id="sqlite"),
    pytest.param((ours_pg, funlib_pg, "postgres"), id="postgres", marks=needs_postgres),
]


def location(kind, tmp_path):
    return str(tmp_path / "graph.db") if kind == "sqlite" else fresh_db_name()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("writer", ["ours", "funlib"])
def test_each_reads_what_the_other_wrote(backend, writer, tmp_path):
    ours, theirs, kind = backend
    where = location(kind, tmp_path)
    graph = sample_graph()
    write_open, read_open = (ours, theirs) if writer == "ours" else (theirs, ours)
    attrs = NODE_ATTRS_OURS if writer == "ours" else funlib_node_attrs()
    db = write_open(where, "w", node_attrs=attrs, edge_attrs=EDGE_ATTRS)
    left, right = Roi((0, None, None), (50, None, None)), Roi((50, None, None), (None, None, None))
    db.write_graph(graph, left)
    db.write_graph(graph, right)
    db.close() if hasattr(db, "close") else None

    reader = read_open(where, "r")
    assert list(reader.node_attrs) == list(attrs)  # in declaration order
    everything = reader.read_graph()
    assert as_sets(everything) == as_sets(graph)
    # by ROI, with a filter and an attribute selection, as funlib answers them
    roi = Roi((10, 0, 0), (40, 10, 10))
    writer_db = write_open(where, "r")
    for a, b in [(reader, writer_db)]:
        assert as_sets(a[roi]) == as_sets(b[roi])
        assert sorted(n["id"] for n in a.read_nodes(roi, attr_filter={"seen": True})) == sorted(
            n["id"] for n in b.read_nodes(roi, attr_filter={"seen": True})
        )
        assert sorted(a.read_nodes(roi, read_attrs=["size"]), key=lambda n: n["id"]) == sorted(
            b.read_nodes(roi, read_attrs=["size"]), key=lambda n: n["id"]
        )
        assert a.num_nodes(roi) == b.num_nodes(roi) == 8
        assert a.has_edges(roi) and b.has_edges(roi)
        assert a.node_attrs.keys() == b.node_attrs.keys()
        assert a.directed is False and b.directed is False


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_same_answers_as_funlib(backend, tmp_path):
    """The same calls on two databases, one written by each package: the same results."""
    ours, theirs, kind = backend
    dbs = []
    for open_db, attrs in [(ours, NODE_ATTRS_OURS), (theirs, funlib_node_attrs())]:
        (tmp_path / open_db.__name__).mkdir()
        where = location(kind, tmp_path / open_db.__name__)
        dbs.append(open_db(where, "w", node_attrs=attrs, edge_attrs=EDGE_ATTRS))
    for db in dbs:
        db.write_graph(sample_graph())
        g = sample_graph()
        for _, d in g.nodes(data=True):
            d["size"] += 100
        for _, _, d in g.edges(data=True):
            d["score"] = 9.0
        db.update_nodes(g.nodes, roi=Roi((0, 0, 0), (30, 10, 10)), attributes=["size"])
        db.update_edges(g.nodes, g.edges, roi=Roi((0, 0, 0), (30, 10, 10)), attributes=["score"])
    a, b = dbs
    assert as_sets(a.read_graph()) == as_sets(b.read_graph())
    roi = Roi((0, 0, 0), (20, 10, 10))
    key = lambda e: (e["u"], e["v"])  # noqa: E731
    for kwargs in [{}, {"fetch_on_v": True}]:
        assert sorted(map(_edge, a.read_edges(roi, **kwargs)), key=key) == sorted(
            map(_edge, b.read_edges(roi, **kwargs)), key=key
        )
    nodes = a.read_nodes(roi)
    assert sorted(map(_edge, a.read_edges(nodes=nodes)), key=key) == sorted(
        map(_edge, b.read_edges(nodes=b.read_nodes(roi))), key=key
    )
    filtered_a = a.read_graph(roi, nodes_filter={"seen": False}, edges_filter={"score": 9.0})
    filtered_b = b.read_graph(roi, nodes_filter={"seen": False}, edges_filter={"score": 9.0})
    assert as_sets(filtered_a) == as_sets(filtered_b)
    with pytest.raises(ValueError, match="both roi and nodes"):
        a.read_edges(roi, nodes=nodes)


def _edge(e):
    return {k: _plain(v) for k, v in e.items()}


def test_vec_values_come_back_as_each_driver_returns_them(tmp_path):
    db = ours_sqlite(tmp_path / "g.db", "w", node_attrs=NODE_ATTRS_OURS)
    db.write_graph(sample_graph())
    node = db.read_nodes(Roi((0, 0, 0), (1, 10, 10)))[0]
    assert node == {"id": 1, "position": (0.0, 0.0, 1.5), "size": 0, "label": "n0", "seen": False}
    f = funlib_sqlite(tmp_path / "g.db", "r")
    assert f.read_nodes(Roi((0, 0, 0), (1, 10, 10)))[0] == node


def test_directed_graphs_keep_direction_and_come_back_as_digraphs(tmp_path):
    db = ours_sqlite(
        tmp_path / "d.db", "w", directed=True, node_attrs=NODE_ATTRS_OURS, edge_attrs=EDGE_ATTRS
    )
    db.write_graph(sample_graph(directed=True))
    g = db.read_graph()
    assert isinstance(g, nx.DiGraph)
    assert g.has_edge(2, 1) and not g.has_edge(1, 2)
    theirs = funlib_sqlite(tmp_path / "d.db", "r").read_graph()
    assert set(theirs.edges) == set(g.edges)


def test_numpy_values_and_extra_attributes(tmp_path):
    import numpy as np

    db = ours_sqlite(tmp_path / "n.db", "w", node_attrs=NODE_ATTRS_OURS, edge_attrs=EDGE_ATTRS)
    g = nx.Graph()
    g.add_node(
        np.uint64(7),
        position=np.array([1.0, 2.0, 3.0], dtype=np.float32),
        size=np.int64(3),
        other=object(),
    )
    g.add_node(8, position=[4, 5, 6], seen=np.bool_(True))
    g.add_edge(7, 8, score=np.float32(0.5), unrelated="kept out")
    db.write_graph(g)
    back = db.read_graph()
    assert back.nodes[7] == {"position": (1.0, 2.0, 3.0), "size": 3, "label": None, "seen": None}
    assert back.nodes[8]["position"] == (4.0, 5.0, 6.0) and back.nodes[8]["seen"] is True
    assert back.edges[7, 8] == {"score": 0.5}


def test_reads_leave_the_garbage_collector_as_they_found_it(tmp_path):
    import gc

    db = ours_sqlite(tmp_path / "gc.db", "w", node_attrs=NODE_ATTRS_OURS, edge_attrs=EDGE_ATTRS)
    db.write_graph(sample_graph())
    reads = (db.read_graph, db.read_nodes, db.read_edges)
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            for read in reads:
                assert read(), read
                assert gc.isenabled() is enabled, (read, enabled)
        gc.enable()
        with pytest.raises(ValueError):
            db.read_graph(Roi((0, 0), (1, 1)))
        assert gc.isenabled()
    finally:
        gc.enable()


def test_bulk_write_mode_and_bulk_writes(tmp_path):
    db = ours_sqlite(tmp_path / "b.db", "w", node_attrs=NODE_ATTRS_OURS, edge_attrs=EDGE_ATTRS)
    with db.bulk_write_mode():
        db.bulk_write_graph(sample_graph(), roi=Roi((0, 0, 0), (50, 10, 10)))
        db.bulk_write_graph(sample_graph(), roi=Roi((50, 0, 0), (50, 10, 10)))
    assert as_sets(db.read_graph()) == as_sets(sample_graph())
    assert funlib_sqlite(tmp_path / "b.db", "r").num_nodes(Roi((0, 0, 0), (100, 10, 10))) == 20


# Bad input: each a clear error naming what differs, nothing half-written.


def test_wrong_roi_dimensions(tmp_path):
    db = ours_sqlite(tmp_path / "e.db", "w", node_attrs=NODE_ATTRS_OURS)
    with pytest.raises(daisy.GraphError, match="2 dimensions.*positions of the graph have 3"):
        db.write_graph(sample_graph(), Roi((0, 0), (10, 10)))
    with pytest.raises(ValueError, match="2 dimensions"):
        db.read_graph(Roi((0, 0), (10, 10)))
    assert db.num_nodes() == 0


def test_missing_and_unknown_attributes(tmp_path):
    db = ours_sqlite(tmp_path / "e.db", "w", node_attrs=NODE_ATTRS_OURS, edge_attrs=EDGE_ATTRS)
    with pytest.raises(daisy.GraphError, match="weight"):
        db.write_graph(sample_graph(), node_attrs=["weight"])
    with pytest.raises(daisy.GraphError, match="colour"):
        db.read_nodes(read_attrs=["colour"])
    with pytest.raises(daisy.GraphError, match="colour"):
        db.read_nodes(attr_filter={"colour": 1})
    g = sample_graph()
    g.nodes[3]["size"] = "big"
    with pytest.raises(daisy.GraphError, match=r"node 3.*size.*int.*big"):
        db.write_graph(g)
    assert db.num_nodes() == 0 and not db.has_edges()
    g = nx.Graph()
    g.add_node(1, position=(1.0, 1.0, 1.0))
    g.nodes[1]["size"] = object()
    with pytest.raises(TypeError, match=r'attribute "size" of node 1 is a object'):
        db.write_graph(g)


def test_an_edge_to_a_node_the_graph_lacks(tmp_path):
    db = ours_sqlite(tmp_path / "e.db", "w", node_attrs=NODE_ATTRS_OURS, edge_attrs=EDGE_ATTRS)
    edges = nx.Graph()
    edges.add_edge(1, 2, score=1.0)
    with pytest.raises(KeyError, match="1"):
        db.write_edges(
            {2: {"position": (1.0, 1.0, 1.0)}}, edges.edges, roi=Roi((0, 0, 0), (5, 5, 5))
        )
    assert not db.has_edges()


def test_metadata_mismatch_on_open(tmp_path):
    ours_sqlite(tmp_path / "m.db", "w", node_attrs=NODE_ATTRS_OURS).close()
    with pytest.raises(daisy.GraphMetadataError, match="directed was given as true.*records false"):
        ours_sqlite(tmp_path / "m.db", "r", directed=True)
    with pytest.raises(AssertionError, match="position_attribute"):
        SQLiteGraphDataBase(tmp_path / "m.db", "center", mode="r")
    with pytest.raises(daisy.GraphMetadataError, match="node_attrs"):
        ours_sqlite(tmp_path / "m.db", "r+", node_attrs={"position": Vec(float, 2)})
    with pytest.raises(daisy.GraphStoreError, match="holds no graph metadata"):
        ours_sqlite(tmp_path / "none.db", "r")


def test_a_table_with_another_schema(tmp_path):
    import sqlite3

    path = tmp_path / "s.db"
    ours_sqlite(path, "w", node_attrs=NODE_ATTRS_OURS).close()
    con = sqlite3.connect(path)
    con.execute("DROP TABLE nodes")
    con.execute("CREATE TABLE nodes (id INTEGER PRIMARY KEY, colour TEXT)")
    con.commit()
    con.close()
    with pytest.raises(daisy.GraphMetadataError, match=r"nodes.*colour"):
        ours_sqlite(path, "r+")


def test_read_only_and_closed(tmp_path):
    ours_sqlite(tmp_path / "r.db", "w", node_attrs=NODE_ATTRS_OURS).close()
    db = ours_sqlite(tmp_path / "r.db", "r")
    with pytest.raises(RuntimeError, match="read-only"):
        db.write_graph(sample_graph())
    db.close()
    with pytest.raises(daisy.GraphStoreError, match="closed"):
        db.num_nodes()
    with pytest.raises(NotImplementedError):
        ours_sqlite(tmp_path / "r.db", "r+").write_graph(sample_graph(), delete=True)


def test_an_unreachable_server_names_host_and_port():
    with pytest.raises(daisy.GraphStoreError, match="127.0.0.1:1"):
        PgSQLGraphDatabase("position", "nowhere", db_host="127.0.0.1", db_port=1, mode="r")


@needs_postgres
def test_postgres_print_summary(capsys):
    db = ours_pg(fresh_db_name(), "w", node_attrs=NODE_ATTRS_OURS, edge_attrs=EDGE_ATTRS)
    db.write_graph(sample_graph())
    db.print_summary()
    out = capsys.readouterr().out
    assert "nodes" in out and "edges" in out


# Block-wise: the example's two-task pipeline from two worker processes into each backend.


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=needs_postgres)])
def test_block_wise_pipeline_writes_every_node_and_edge_once(backend, tmp_path):
    args = [sys.executable, str(ROOT / "examples/fragment_graph.py"), "--backend", backend]
    args += ["--blocks", "4", "--workers", "2", "--out", str(tmp_path)]
    if backend == "postgres":
        args += ["--db", fresh_db_name()]
    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "every node once: ok" in done.stdout and "every edge once: ok" in done.stdout
