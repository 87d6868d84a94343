#!/usr/bin/env python3
"""Build a fragment graph block-wise with daisy: nodes from one task, edges from a second.

What it does:

1. task ``fragments``: each block of a 3-D volume (default 8x8x8 blocks of 32^3) puts a few
   fragments (nodes with a 3-D position and a size) at random places inside its write ROI
   and writes them into a graph database (``db.write_nodes(..., roi=block.write_roi)``);
2. task ``edges`` (downstream of ``fragments``): each block reads the fragments in its read
   ROI (its write ROI plus the largest edge length on every side) back from the database,
   connects every two closer than ``--distance`` and writes the edges whose ``u`` lies in
   its write ROI (undirected edges are stored as ``(min(u, v), max(u, v))``, so each edge
   has exactly one block that writes it);
3. reads the whole graph back and checks it against the graph computed at once in one
   process: every node and every edge exactly once (the workers write with
   ``fail_if_exists=True``, so a second write of any row would fail its block).

Both tasks run on ``--workers`` worker processes (default 2), which open the database
themselves. Backends (``--backend``), through funlib.persistence's API: ``sqlite`` (default:
a file in ``--out`` or a temporary directory) and ``postgres`` (the server in the ``PG*``
variables, database ``--db``); through daisy 1.x's graph providers (``provider[roi]`` and the
sub-graph's ``write_nodes`` / ``write_edges``): ``mongodb`` (the server in ``MONGODB_URI``,
database ``--db``) and ``file`` (a directory in ``--out``, chunked by the block size).

    python examples/fragment_graph.py
    python examples/fragment_graph.py --backend postgres --db fragments --blocks 16
    python examples/fragment_graph.py --backend mongodb --db fragments

Exit code 0 iff both tasks succeeded and the graph read back is the expected one.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from typing import Any

import networkx as nx
import numpy as np
from funlib.geometry import Coordinate, Roi

import daisy
from daisy.persistence import (
    FileGraphProvider,
    MongoDbGraphProvider,
    PgSQLGraphDatabase,
    SQLiteGraphDataBase,
    Vec,
)

NODE_ATTRS = {"position": Vec(float, 3), "size": int}
EDGE_ATTRS = {"distance": float}


PROVIDERS = ("mongodb", "file")


def open_db(args: argparse.Namespace, mode: str) -> Any:
    """The graph database the job writes (``mode="w"`` creates it)."""
    options: dict[str, Any] = {"mode": mode}
    if mode == "w":
        options.update(node_attrs=NODE_ATTRS, edge_attrs=EDGE_ATTRS)
    if args.backend == "sqlite":
        return SQLiteGraphDataBase(os.path.join(args.out, "fragments.db"), "position", **options)
    if args.backend == "postgres":
        return PgSQLGraphDatabase("position", args.db, **options)
    if args.backend == "mongodb":
        return MongoDbGraphProvider(args.db, **options)
    if args.backend == "file":
        chunks = (args.block_size,) * 3
        return FileGraphProvider(os.path.join(args.out, "fragments"), chunks, **options)
    raise SystemExit(f"unknown backend {args.backend!r}")


def write_nodes(args: argparse.Namespace, db: Any, nodes: list[tuple[int, Any]], roi: Roi) -> None:
    """Writes the nodes in ``roi`` (a second write of any would fail)."""
    if args.backend in PROVIDERS:
        sub_graph = db[roi]
        sub_graph.add_nodes_from(nodes)
        sub_graph.write_nodes(fail_if_exists=True)
    else:
        graph = nx.Graph()
        graph.add_nodes_from(nodes)
        db.write_nodes(graph.nodes, roi=roi, fail_if_exists=True)


def write_edges(args: argparse.Namespace, db: Any, read_roi: Roi, write_roi: Roi) -> None:
    """Reads the nodes in ``read_roi``, connects them and writes the edges whose ``u`` lies
    in ``write_roi``."""
    if args.backend in PROVIDERS:
        graph = db[read_roi]
        connect(graph, args.distance)
        graph.write_edges(roi=write_roi, fail_if_exists=True)
    else:
        graph = db.read_graph(read_roi, read_edges=False)
        connect(graph, args.distance)
        db.write_edges(graph.nodes, graph.edges, roi=write_roi, fail_if_exists=True)


def fragments_of(block_roi: Roi, per_block: int, block_size: int) -> list[tuple[int, Any]]:
    """The fragments a block puts in its write ROI: ``(id, attrs)``, the same on every call
    (seeded by the block's position; ids unique over the volume)."""
    index = tuple(int(o) // block_size for o in block_roi.offset)
    rng = np.random.default_rng(index)
    linear = (index[0] * 1_000 + index[1]) * 1_000 + index[2]
    out = []
    for i in range(per_block):
        position = tuple(float(o + rng.uniform(0, block_size)) for o in block_roi.offset)
        out.append((linear * per_block + i + 1, {"position": position, "size": int(i + 1)}))
    return out


def connect(graph: nx.Graph, max_distance: float) -> None:
    """Adds an edge between every two nodes of ``graph`` closer than ``max_distance`` (nodes
    bucketed in cells of that size: only neighbouring cells are compared). Nodes without a
    position (the far ends of edges read with a sub-graph) are left out."""
    cells: dict[tuple[int, ...], list[Any]] = {}
    for n, data in graph.nodes(data=True):
        if "position" not in data:
            continue
        cell = tuple(int(np.floor(c / max_distance)) for c in data["position"])
        cells.setdefault(cell, []).append(n)
    for cell, members in cells.items():
        for step in itertools.product((-1, 0, 1), repeat=3):
            other = tuple(c + s for c, s in zip(cell, step, strict=True))
            for u in members:
                for v in cells.get(other, ()):
                    if u < v:
                        pu = np.asarray(graph.nodes[u]["position"])
                        distance = float(
                            np.linalg.norm(pu - np.asarray(graph.nodes[v]["position"]))
                        )
                        if distance < max_distance:
                            graph.add_edge(u, v, distance=distance)


def run(args: argparse.Namespace) -> bool:
    size = args.block_size
    total = Roi((0, 0, 0), (args.blocks * size,) * 3)
    context = Coordinate((int(np.ceil(args.distance)),) * 3)
    block = Roi((0, 0, 0), (size,) * 3)
    open_db(args, "w").close()

    def fragments_task(b: daisy.Block) -> None:
        with open_db(args, "r+") as db:
            write_nodes(args, db, fragments_of(b.write_roi, args.per_block, size), b.write_roi)

    def edges_task(b: daisy.Block) -> None:
        with open_db(args, "r+") as db:
            write_edges(args, db, b.read_roi, b.write_roi)

    fragments = daisy.Task(
        "fragments",
        total_roi=total,
        read_roi=block,
        write_roi=block,
        process_function=fragments_task,
        num_workers=args.workers,
        read_write_conflict=False,
    )
    edges = daisy.Task(
        "edges",
        total_roi=total.grow(context, context),
        read_roi=block.grow(context, context),
        write_roi=block,
        process_function=edges_task,
        num_workers=args.workers,
        read_write_conflict=False,
        upstream_tasks=[fragments],
    )
    start = time.perf_counter()
    ok = daisy.run_blockwise([fragments, edges])
    took = time.perf_counter() - start

    expected = nx.Graph()
    for offset in itertools.product(range(0, total.shape[0], size), repeat=3):
        expected.add_nodes_from(fragments_of(Roi(offset, block.shape), args.per_block, size))
    connect(expected, args.distance)

    with open_db(args, "r") as db:
        nodes = db.read_nodes(None)
        stored_edges = db.read_edges(None)
        graph = db[None] if args.backend in PROVIDERS else db.read_graph()
    node_ids = [n["id"] for n in nodes]
    edge_pairs = [(e["u"], e["v"]) for e in stored_edges]
    want_edges = {(min(u, v), max(u, v)) for u, v in expected.edges}
    checks = {
        "every node once": sorted(node_ids) == sorted(expected.nodes),
        "every edge once": len(edge_pairs) == len(set(edge_pairs)) == len(want_edges)
        and set(edge_pairs) == want_edges,
        "edges stored as (min, max)": all(u < v for u, v in edge_pairs),
        "attributes": all(
            graph.nodes[n]["size"] == expected.nodes[n]["size"]
            and np.allclose(graph.nodes[n]["position"], expected.nodes[n]["position"], atol=1e-3)
            for n in expected.nodes
        ),
    }
    print(
        f"{args.backend}: {len(node_ids)} nodes, {len(edge_pairs)} edges written by "
        f"{args.blocks**3} + {args.blocks**3} blocks on {args.workers} workers in {took:.2f} s"
    )
    for name, passed in checks.items():
        print(f"  {name}: {'ok' if passed else 'FAILED'}")
    return ok and all(checks.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    backends = ["sqlite", "postgres", *PROVIDERS]
    parser.add_argument("--backend", choices=backends, default="sqlite")
    parser.add_argument(
        "--out", help="directory of the SQLite file or file graph (default: temporary)"
    )
    parser.add_argument("--db", default="daisy_fragments", help="PostgreSQL or MongoDB database")
    parser.add_argument("--blocks", type=int, default=8, help="blocks per axis")
    parser.add_argument("--block-size", type=int, default=32)
    parser.add_argument("--per-block", type=int, default=6, help="fragments per block")
    parser.add_argument("--distance", type=float, default=12.0, help="longest edge")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.out is None:
        with tempfile.TemporaryDirectory() as out:
            args.out = out
            return 0 if run(args) else 1
    os.makedirs(args.out, exist_ok=True)
    return 0 if run(args) else 1


if __name__ == "__main__":
    sys.exit(main())
