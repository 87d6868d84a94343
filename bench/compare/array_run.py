#!/usr/bin/env python3
"""The array benchmark side by side: smooth a 512^3 zarr volume with every implementation.

Runs array_job.py (see its docstring for the job) once per column and round, each
run in a fresh interpreter, the order of the columns rotated every round; the input
volume and the whole-volume result are written once beforehand, the output is
deleted before every run. Prints a Markdown table of median wall times and of how
many times faster this package's best column is than each other column.

Columns:

  ours-ds           this package, block function with daisy.open_ds / daisy.prepare_ds
  ours-ds-nocache   the same with the chunk cache off (cache_size=0)
  ours-zarr         this package, block function with zarr-python 3
  2.0.0             daisy 2.0.0, block function with zarr-python 3
  1.2.3             daisy 1.2.3 as shipped, zarr-python 3
  1.2.3+nodelay     daisy 1.2.3 with TCP_NODELAY on its connections (bench.py's patch)
  dask-threads      dask map_overlap + to_zarr, threaded scheduler, 2 threads
  dask-distributed  the same on a LocalCluster of 2 worker processes, 1 thread each
  numpy             whole volume: read all, filter, write all; one process

    python bench/compare/array_run.py                         # 512^3, 3 rounds
    python bench/compare/array_run.py --quick                 # 128^3, 1 round: a smoke test
    python bench/compare/array_run.py --runs 5 --raw /tmp/array.jsonl
    python bench/compare/array_run.py --from-raw /tmp/array.jsonl
    python bench/compare/array_run.py --phases --columns ours-ds,ours-zarr   # where the time goes

The reference environments are run.py's (bench/compare/.venvs/daisy-<version>),
with zarr-python 3 and scipy added on first use. This package, dask and numpy run
with --ours-python (default <repo>/.venv/bin/python; it needs zarr>=3, scipy, and
dask[distributed] for the dask columns; --dask-python to use another interpreter).
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run  # noqa: E402  (run.py's reference environments)

JOB = os.path.join(HERE, "array_job.py")

COLUMNS = [
    "ours-ds",
    "ours-ds-nocache",
    "ours-zarr",
    "2.0.0",
    "1.2.3",
    "1.2.3+nodelay",
    "dask-threads",
    "dask-distributed",
    "numpy",
]
OURS = ["ours-ds", "ours-ds-nocache", "ours-zarr"]
TITLES = {
    "ours-ds": "this package, daisy.open_ds/prepare_ds",
    "ours-ds-nocache": "this package, open_ds/prepare_ds, cache_size=0",
    "ours-zarr": "this package + zarr-python 3",
    "2.0.0": "daisy 2.0.0 + zarr-python 3",
    "1.2.3": "daisy 1.2.3 + zarr-python 3",
    "1.2.3+nodelay": "daisy 1.2.3 + TCP_NODELAY + zarr-python 3",
    "dask-threads": "dask map_overlap, threads (2)",
    "dask-distributed": "dask distributed, LocalCluster 2×1",
    "numpy": "whole volume, numpy (1 process)",
}
JOB_IMPL = {
    "ours-ds": "ours-ds",
    "ours-ds-nocache": "ours-ds",
    "ours-zarr": "ours-zarr",
    "2.0.0": "daisy-zarr",
    "1.2.3": "daisy-zarr",
    "1.2.3+nodelay": "daisy-zarr",
    "dask-threads": "dask-threads",
    "dask-distributed": "dask-distributed",
    "numpy": "numpy",
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def ensure_array_reference(version):
    """run.py's environment with daisy==version, plus zarr-python 3 and scipy."""
    python = run.ensure_reference(version)
    probe = "import zarr, scipy.ndimage; assert int(zarr.__version__.split('.')[0]) >= 3"
    if subprocess.run([python, "-c", probe], capture_output=True).returncode != 0:
        log(f"adding zarr>=3 and scipy to the daisy {version} environment ...")
        subprocess.run([python, "-m", "pip", "install", "-q", "zarr>=3,<4", "scipy"], check=True)
    return python


def pythons_for(columns, args):
    out = {}
    for column in columns:
        if column in ("2.0.0", "1.2.3", "1.2.3+nodelay"):
            out[column] = ensure_array_reference(column.split("+")[0])
        elif column.startswith("dask"):
            out[column] = args.dask_python or args.ours_python
        else:
            out[column] = args.ours_python
    return out


def job_cmd(column, python, args, directory, extra=()):
    cmd = [python, JOB, "--impl", JOB_IMPL[column], "--dir", directory]
    if column == "1.2.3+nodelay":
        cmd.append("--patch-1x-nodelay")
    if column.startswith("ours-ds"):
        for option in args.ds_option:
            cmd += ["--ds-option", option]
    if column == "ours-ds-nocache":
        cmd += ["--ds-option", "cache_size=0"]
    return cmd + list(extra)


def run_job(cmd, timeout, verbose):
    """Run one job in a fresh process (its own process group, a temporary working
    directory for daisy_logs/); returns its JSON record."""
    with tempfile.TemporaryDirectory(prefix="daisy-array-bench-") as cwd:
        out = None if verbose else subprocess.DEVNULL
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=out, text=True, start_new_session=True
        )
        try:
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return {"error": f"timeout after {timeout:.0f} s"}
        process_s = time.perf_counter() - t0
    record = None
    for line in stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
    if record is None:
        return {"error": f"exited with {proc.returncode}, no result"}
    record["process_s"] = round(process_s, 4)
    if proc.returncode != 0:
        record["error"] = f"exited with {proc.returncode}"
    return record


def _kill_group(proc):
    import signal

    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


# ---------------------------------------------------------------- the table


def medians(records):
    by = {}
    for r in records:
        if r.get("wall_s") is not None and not r.get("error") and r.get("equal", False):
            by.setdefault(r["column"], []).append(r)
    return by


def fmt_s(value):
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def table(records, columns):
    by = medians(records)
    failed = {}
    for r in records:
        if r.get("error") or not r.get("equal", False):
            failed.setdefault(r["column"], []).append(r)
    med = {c: statistics.median(x["wall_s"] for x in v) for c, v in by.items()}
    ours = [c for c in OURS if c in med]
    best_ours = min(ours, key=lambda c: med[c]) if ours else None
    head = ["implementation", "wall s (median)", "min–max", "of which imports s", "runs"]
    if best_ours:
        head.append(f"{best_ours} faster by")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for c in columns:
        if c not in med:
            why = "; ".join(sorted({r.get("error") or "result differs" for r in failed.get(c, [])}))
            lines.append(
                f"| {TITLES[c]} | - ({why or 'not run'}) | | | 0 |" + (" |" if best_ours else "")
            )
            continue
        walls = [x["wall_s"] for x in by[c]]
        imports = statistics.median(x["imports_s"] for x in by[c])
        row = [
            TITLES[c],
            fmt_s(med[c]),
            f"{fmt_s(min(walls))}–{fmt_s(max(walls))}",
            fmt_s(imports),
            str(len(walls)),
        ]
        if best_ours:
            row.append("—" if c == best_ours else f"{med[c] / med[best_ours]:.2f}×")
        lines.append("| " + " | ".join(row) + " |")
    summary = []
    if best_ours:
        others = [c for c in med if c not in OURS and c != "numpy"]
        if others:
            best_other = min(others, key=lambda c: med[c])
            summary.append(
                f"best of the others: {TITLES[best_other]} {fmt_s(med[best_other])} s; "
                f"{TITLES[best_ours]} is {med[best_other] / med[best_ours]:.2f}× faster (target ≥ 1.5×)"
            )
        if "numpy" in med:
            summary.append(
                f"{TITLES[best_ours]} / whole-volume numpy = {med[best_ours] / med['numpy']:.2f} "
                f"(target ≤ 1.2)"
            )
    return "\n".join(lines), summary


def print_table(records, columns, size):
    md, summary = table(records, columns)
    loads = [r["load_before"] for r in records if r.get("load_before") is not None]
    print()
    print(
        f"Smoothing a {size}³ uint8 zarr volume (64³ chunks, Zarr v3, zstd level 0) with a 3³ mean "
        f"filter, 64³ blocks with 8 voxels of context (80³ reads), 2 workers; wall seconds from the "
        f"first import to the last write, fresh process per run, median over rounds; "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
        + (
            f"; 1-min load average before the runs {min(loads):.1f}–{max(loads):.1f}"
            if loads
            else ""
        )
    )
    print()
    print(md)
    print()
    for line in summary:
        print(line)
    print(
        "Every run's output was compared voxel for voxel with the whole-volume result "
        "(runs whose output differed are left out and named). The dask graphs filter and write "
        f"the whole {size}³ volume, {(size / (size - 16)) ** 3:.2f}× the voxels of the others."
    )


def phase_table(directory_of_runs):
    """Per-process phase totals of one --phases round, as Markdown."""
    lines = [
        "| implementation | blocks | first block starts (s after run start) | read s | filter s | "
        "write s | busy s | run s | chunks decoded per block | cache hits per block |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for column, (record, phases, started) in directory_of_runs.items():
        if not phases:
            continue
        first = min(p["first_block_at"] for p in phases) - started
        blocks = sum(p["blocks"] for p in phases)
        read = sum(p["read_s"] for p in phases)
        filt = sum(p["filter_s"] for p in phases)
        write = sum(p["write_s"] for p in phases)
        decoded = hits = "-"
        if all("stats" in p for p in phases):
            decoded = f"{sum(p['stats']['raw']['chunks_decoded'] for p in phases) / blocks:.2f}"
            hits = f"{sum(p['stats']['raw']['chunk_cache_hits'] for p in phases) / blocks:.2f}"
        lines.append(
            f"| {TITLES[column]} | {blocks} | {first:.2f} | {read:.2f} | {filt:.2f} | {write:.2f} | "
            f"{read + filt + write:.2f} | {record.get('run_s', float('nan')):.2f} | {decoded} | {hits} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--size", type=int, default=512, help="edge of the volume (default 512)")
    parser.add_argument("--quick", action="store_true", help="128³, 1 round unless --runs is given")
    parser.add_argument(
        "--columns", default=",".join(COLUMNS), help="comma list of " + ", ".join(COLUMNS)
    )
    parser.add_argument(
        "--ours-python",
        default=os.path.join(run.ROOT, ".venv", "bin", "python"),
        help="interpreter with this package, zarr>=3, scipy (default <repo>/.venv)",
    )
    parser.add_argument("--dask-python", default=None, help="interpreter for the dask columns")
    parser.add_argument("--dir", default=None, help="work directory (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per run (default 600)")
    parser.add_argument(
        "--ds-option",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="passed to array_job.py for ours-ds (open_ds/prepare_ds keyword)",
    )
    parser.add_argument(
        "--phases",
        action="store_true",
        help="one extra untimed round of the daisy columns that records per-phase times",
    )
    parser.add_argument("--raw", default=None, help="also write every record to this JSONL file")
    parser.add_argument(
        "--from-raw", default=None, metavar="FILE", help="print the table of a --raw file"
    )
    parser.add_argument("--verbose", action="store_true", help="show the jobs' stderr")
    args = parser.parse_args()
    explicit_runs = "--runs" in sys.argv
    if args.quick:
        args.size = 128
        if not explicit_runs:
            args.runs = 1

    columns = [c.strip() for c in args.columns.split(",") if c.strip()]
    for c in columns:
        if c not in COLUMNS:
            parser.error(f"unknown column {c!r} (choose from {', '.join(COLUMNS)})")

    if args.from_raw:
        with open(args.from_raw) as f:
            records = [json.loads(line) for line in f if line.strip()]
        records = [r for r in records if "column" in r]
        present = [c for c in COLUMNS if any(r["column"] == c for r in records)]
        size = next((r["size"] for r in records if "size" in r), args.size)
        print_table(records, present, size)
        return 0

    pythons = pythons_for(columns, args)
    own_dir = args.dir is None
    directory = args.dir or tempfile.mkdtemp(prefix="daisy-array-bench-")
    raw = open(args.raw, "w") if args.raw else None
    records = []
    try:
        prep_python = args.ours_python
        t0 = time.perf_counter()
        prep = subprocess.run(
            [prep_python, JOB, "--prepare", "--dir", directory, "--size", str(args.size)],
            capture_output=True,
            text=True,
        )
        if prep.returncode != 0:
            raise SystemExit(f"preparing the volume failed: {prep.stderr.strip()[-1000:]}")
        log(
            f"input {args.size}³ and expected result written to {directory} in {time.perf_counter() - t0:.1f} s"
        )

        for rnd in range(args.runs):
            k = rnd % len(columns)
            for column in columns[k:] + columns[:k]:
                load = os.getloadavg()[0]
                record = run_job(
                    job_cmd(column, pythons[column], args, directory), args.timeout, args.verbose
                )
                record.update(column=column, round=rnd, size=args.size, load_before=round(load, 2))
                records.append(record)
                if raw:
                    raw.write(json.dumps(record) + "\n")
                    raw.flush()
                status = record.get("error") or (
                    "ok"
                    if record.get("equal")
                    else f"{record.get('differing_voxels')} voxels differ"
                )
                log(
                    f"round {rnd + 1}/{args.runs}: {TITLES[column]:<44} wall {record.get('wall_s', float('nan')):6.2f} s "
                    f"(imports {record.get('imports_s', float('nan')):.2f}) load {load:.1f}  {status}"
                )
        print_table(records, columns, args.size)

        if args.phases:
            runs = {}
            for column in [
                c
                for c in columns
                if c in ("ours-ds", "ours-zarr", "2.0.0", "1.2.3", "1.2.3+nodelay")
            ]:
                phases_dir = os.path.join(directory, "phases", column)
                shutil.rmtree(phases_dir, ignore_errors=True)
                started = time.time()
                record = run_job(
                    job_cmd(column, pythons[column], args, directory, ["--phases", phases_dir]),
                    args.timeout,
                    args.verbose,
                )
                # run_s is measured from after the imports: shift the start to match
                started += record.get("imports_s", 0.0)
                phases = []
                if os.path.isdir(phases_dir):
                    for name in os.listdir(phases_dir):
                        with open(os.path.join(phases_dir, name)) as f:
                            phases.append(json.load(f))
                runs[column] = (record, phases, started)
                if raw:
                    raw.write(
                        json.dumps({"phases_of": column, "record": record, "phases": phases}) + "\n"
                    )
            print()
            print(
                "Where the time goes (one run with per-block timing; seconds summed over the worker processes):"
            )
            print()
            print(phase_table(runs))
    finally:
        if raw:
            raw.close()
        if own_dir:
            shutil.rmtree(directory, ignore_errors=True)
    bad = [r for r in records if r.get("error") or not r.get("equal")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
