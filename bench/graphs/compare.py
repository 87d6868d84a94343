#!/usr/bin/env python3
"""Side-by-side benchmark of the graph databases: daisy.persistence against funlib.persistence.

Both packages have the same API (funlib.persistence 0.7's): `SQLiteGraphDataBase`,
`PgSQLGraphDatabase` and `Vec`. One graph is generated once (`--nodes` nodes with a
`Vec(float, 3)` position, uniform in a 1000^3 volume; about `--edges-per-node` undirected edges
per node with one float attribute, between nodes close in space), the volume is split into
`--blocks`^3 ROI blocks, and for every package and backend (SQLite file in a temp dir,
PostgreSQL from the PG* environment variables, a fresh database per run) two phases are timed:

  write  create the database (mode "w"), then `db.write_graph(block_graph, roi=block_roi)` for
         every block; a block's graph (built before the clock starts) holds the block's nodes,
         every edge touching them and those edges' other endpoints with their positions, as a
         block-wise job that extracted the block would hold it.
  read   `db.read_graph(block_roi)` (nodes and edges) for every block; the nodes in the ROI and
         the edges are counted after the clock stops and must sum to the graph's totals, for
         both packages.

Every (package, backend, repeat) runs in a child process of its own (a fresh interpreter that
loads the generated arrays and builds the block graphs untimed), so its peak RSS is its own;
within a repeat the packages alternate (and swap order every repeat) so both see the same
machine state. Medians over `--repeats` and the ratio funlib/daisy per phase and backend are
printed as a Markdown table.

    python bench/graphs/compare.py                           # 10^6 nodes, 3*10^6 edges, 4^3 blocks
    python bench/graphs/compare.py --nodes 20000 --blocks 2 --repeats 1    # a quick check
    python bench/graphs/compare.py --backends sqlite --json /tmp/graphs.json
    python bench/graphs/compare.py --child ...               # internal: one run, one JSON line
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

SIDE = 1000.0
PACKAGES = ("daisy", "funlib")
BACKENDS = ("sqlite", "pgsql")


# The graph.


def generate(path, nodes, edges_per_node, seed):
    """Node positions and edges as arrays in `path` (.npz): edges join nodes that are close in
    the order of 50^3 cells (mostly the same cell, else the next one), `edges_per_node`
    distinct partners per node among its next 16 in that order."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pos = rng.uniform(0.0, SIDE, size=(nodes, 3))
    cell = np.floor(pos / 50.0).astype(np.int64)
    order = np.lexsort((cell[:, 2], cell[:, 1], cell[:, 0]))  # ids in cell order
    window = 16
    k = min(edges_per_node, window)
    offsets = np.argsort(rng.random((nodes, window)), axis=1)[:, :k] + 1
    src = np.repeat(np.arange(nodes), k)
    dst = src + offsets.ravel()
    keep = dst < nodes
    u = order[src[keep]]
    v = order[dst[keep]]
    score = rng.random(u.shape[0])
    np.savez(path, pos=pos, u=u, v=v, score=score)
    return nodes, int(u.shape[0])


def block_rois(blocks):
    from funlib.geometry import Roi

    size = SIDE / blocks
    return [
        Roi((i * size, j * size, k * size), (size, size, size))
        for i in range(blocks)
        for j in range(blocks)
        for k in range(blocks)
    ]


def block_graphs(path, blocks):
    """One networkx Graph per block: its nodes, all edges touching them, and the edges' other
    endpoints (with positions)."""
    import networkx as nx
    import numpy as np

    data = np.load(path)
    pos, u, v, score = data["pos"], data["u"], data["v"], data["score"]
    size = SIDE / blocks
    cell = np.minimum(np.floor(pos / size).astype(np.int64), blocks - 1)
    block_of = (cell[:, 0] * blocks + cell[:, 1]) * blocks + cell[:, 2]
    nblocks = blocks**3
    positions = pos.tolist()
    graphs = [nx.Graph() for _ in range(nblocks)]
    for n, b in enumerate(block_of.tolist()):
        graphs[b].add_node(n, position=positions[n])
    bu = block_of[u].tolist()
    bv = block_of[v].tolist()
    for a, b, ba, bb, s in zip(u.tolist(), v.tolist(), bu, bv, score.tolist(), strict=True):
        graphs[ba].add_edge(a, b, score=s)
        if bb != ba:
            graphs[bb].add_edge(a, b, score=s)
    for g in graphs:  # the other endpoints' positions
        for n, d in g.nodes(data=True):
            if not d:
                d["position"] = positions[n]
    return graphs


# One run (child process).


def classes(package):
    """The package's (SQLiteGraphDataBase, PgSQLGraphDatabase, Vec)."""
    if package == "daisy":
        from daisy.persistence import PgSQLGraphDatabase, SQLiteGraphDataBase, Vec
    else:
        from funlib.persistence.graphs import PgSQLGraphDatabase, SQLiteGraphDataBase
        from funlib.persistence.types import Vec
    return SQLiteGraphDataBase, PgSQLGraphDatabase, Vec


def open_db(package, backend, workdir, db_name, mode):
    SQLiteGraphDataBase, PgSQLGraphDatabase, Vec = classes(package)
    kwargs = dict(
        position_attribute="position",
        mode=mode,
        directed=False,
        node_attrs={"position": Vec(float, 3)},
        edge_attrs={"score": float},
    )
    if backend == "sqlite":
        from pathlib import Path

        return SQLiteGraphDataBase(db_file=Path(workdir) / f"{db_name}.db", **kwargs)
    return PgSQLGraphDatabase(
        db_name=db_name,
        db_host=os.environ.get("PGHOST", "localhost"),
        db_user=os.environ.get("PGUSER"),
        db_password=os.environ.get("PGPASSWORD"),
        db_port=int(os.environ["PGPORT"]) if "PGPORT" in os.environ else None,
        **kwargs,
    )


def drop_pg_database(db_name):
    import psycopg2

    con = psycopg2.connect(dbname="postgres")
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
    con.close()


def close_db(db):
    close = getattr(db, "close", None)
    if close is not None:
        close()
    else:  # funlib.persistence 0.7 has no close: its connection goes with the object
        con = getattr(db, "connection", None) or getattr(db, "con", None)
        if con is not None:
            con.close()


def child(args):
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rois = block_rois(args.blocks)
    classes(args.package)  # imported before the clock starts
    t = time.perf_counter()
    graphs = block_graphs(args.data, args.blocks)
    build_s = time.perf_counter() - t
    rss_graphs = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    db_name = f"gbench_{args.package}_{os.getpid()}"
    if args.backend == "pgsql":
        drop_pg_database(db_name)
    result = {"package": args.package, "backend": args.backend, "build_s": build_s}
    try:
        t = time.perf_counter()
        db = open_db(args.package, args.backend, args.workdir, db_name, "w")
        for g, roi in zip(graphs, rois, strict=True):
            db.write_graph(g, roi=roi)
        result["write_s"] = time.perf_counter() - t
        close_db(db)
        del db
        del graphs

        t = time.perf_counter()
        db = open_db(args.package, args.backend, args.workdir, db_name, "r")
        nodes = edges = 0
        read_s = 0.0
        for roi in rois:
            t = time.perf_counter()
            g = db.read_graph(roi)
            read_s += time.perf_counter() - t
            nodes += sum(1 for _, d in g.nodes(data=True) if "position" in d)
            edges += g.number_of_edges()
            del g
        result["read_s"] = read_s
        result["nodes"] = nodes
        result["edges"] = edges
        close_db(db)
        del db
    finally:
        if args.backend == "pgsql":
            drop_pg_database(db_name)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["rss_graphs_mb"] = rss_graphs / 1024
    result["rss_peak_mb"] = rss / 1024
    result["rss_start_mb"] = rss_before / 1024
    print(json.dumps(result), flush=True)


# The parent.


def run_child(args, data, workdir, package, backend):
    cmd = [
        args.python or sys.executable,
        os.path.abspath(__file__),
        "--child",
        "--package",
        package,
        "--backend",
        backend,
        "--data",
        data,
        "--workdir",
        workdir,
        "--blocks",
        str(args.blocks),
    ]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def fmt_s(x):
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def header(nodes, edges, blocks, records):
    repeats = len({r["repeat"] for r in records})
    return f"{nodes} nodes, {edges} edges, {blocks} blocks, {repeats} repeat(s)\n"


def save(path, nodes, edges, blocks, records):
    with open(path, "w") as f:
        json.dump(
            {
                "nodes": nodes,
                "edges": edges,
                "blocks": blocks,
                "records": records,
                "medians": table(records)[1],
            },
            f,
            indent=1,
        )


def table(records):
    rows = [
        "| backend | phase | daisy (s) | funlib (s) | funlib/daisy | runs |",
        "|---|---|---:|---:|---:|---:|",
    ]
    summary = {}
    for backend in BACKENDS:
        for phase in ("write_s", "read_s"):
            med = {}
            for package in PACKAGES:
                xs = [
                    r[phase] for r in records if r["package"] == package and r["backend"] == backend
                ]
                if xs:
                    med[package] = statistics.median(xs)
            if len(med) < 2:
                continue
            ratio = med["funlib"] / med["daisy"]
            summary[f"{backend}/{phase[:-2]}"] = {**med, "ratio": ratio}
            n = min(
                sum(1 for r in records if r["package"] == p and r["backend"] == backend)
                for p in PACKAGES
            )
            rows.append(
                f"| {backend} | {phase[:-2]} | {fmt_s(med['daisy'])} | {fmt_s(med['funlib'])} "
                f"| {ratio:.1f}x | {n} |"
            )
    rows.append("")
    rows.append("| backend | package | peak RSS (MB) | after imports + block graphs (MB) |")
    rows.append("|---|---|---:|---:|")
    for backend in BACKENDS:
        for package in PACKAGES:
            rs = [r for r in records if r["package"] == package and r["backend"] == backend]
            if rs:
                peak = statistics.median(r["rss_peak_mb"] for r in rs)
                graphs = statistics.median(r["rss_graphs_mb"] for r in rs)
                rows.append(f"| {backend} | {package} | {peak:.0f} | {graphs:.0f} |")
    return "\n".join(rows), summary


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--nodes", type=int, default=1_000_000)
    p.add_argument("--edges-per-node", type=int, default=3)
    p.add_argument("--blocks", type=int, default=4, help="blocks per axis (default 4: 64 blocks)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--backends", default="sqlite,pgsql", help="comma-separated: sqlite,pgsql")
    p.add_argument("--packages", default="daisy,funlib", help="comma-separated: daisy,funlib")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", help="write the records and medians here (after every run)")
    p.add_argument("--from-json", help="print the table of a saved --json file and exit")
    p.add_argument("--python", help="the interpreter for the runs (default: this one)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--package", help=argparse.SUPPRESS)
    p.add_argument("--backend", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        print(header(saved["nodes"], saved["edges"], saved["blocks"], saved["records"]))
        print(table(saved["records"])[0])
        return

    backends = [b for b in args.backends.split(",") if b]
    packages = [p for p in args.packages.split(",") if p]
    if "pgsql" in backends and "PGHOST" not in os.environ:
        sys.exit("pgsql needs a server in PGHOST/PGPORT/PGUSER (or --backends sqlite)")
    with tempfile.TemporaryDirectory(prefix="gbench-") as workdir:
        data = os.path.join(workdir, "graph.npz")
        t = time.perf_counter()
        nodes, edges = generate(data, args.nodes, args.edges_per_node, args.seed)
        print(
            f"graph: {nodes} nodes, {edges} edges, {args.blocks**3} blocks "
            f"({time.perf_counter() - t:.1f} s to generate)",
            file=sys.stderr,
        )
        records = []
        for rep in range(args.repeats):
            for backend in backends:
                order = packages if rep % 2 == 0 else packages[::-1]
                for package in order:
                    r = run_child(args, data, workdir, package, backend)
                    r["repeat"] = rep
                    records.append(r)
                    print(
                        f"repeat {rep} {backend} {package}: write {r['write_s']:.2f} s, "
                        f"read {r['read_s']:.2f} s, {r['nodes']} nodes, {r['edges']} edges, "
                        f"peak RSS {r['rss_peak_mb']:.0f} MB (block graphs built in "
                        f"{r['build_s']:.1f} s)",
                        file=sys.stderr,
                        flush=True,
                    )
                    assert (r["nodes"], r["edges"]) == (nodes, edges), (r, nodes, edges)
                    if args.json:
                        save(args.json, nodes, edges, args.blocks**3, records)
    print(header(nodes, edges, args.blocks**3, records))
    print(table(records)[0])


if __name__ == "__main__":
    main()
