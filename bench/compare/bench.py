#!/usr/bin/env python3
"""Side-by-side benchmark of daisy implementations through the daisy 1.x API.

The same file runs unchanged against daisy 1.2.3, daisy 2.0.0 and this project's
`daisy` package: it only uses `daisy.Task`, `daisy.Scheduler`,
`daisy.run_blockwise`, `daisy.Roi` and `daisy.BlockStatus`, whichever `daisy` the
running interpreter imports.

Scenarios (one JSON line each on stdout):

  scheduler  in-process `daisy.Scheduler([task])`, acquire + release one block at a
             time until `acquire_block` returns None. Timed from the Scheduler's
             construction to the last release.
  e2e        `daisy.run_blockwise([task])` with `num_workers=2` worker processes and
             a no-op one-argument block function. Timed around the call (worker
             start-up included).

Both use a 3-D task with 64^3 write blocks and 8 voxels of context (80^3 read
blocks), `fit="valid"`, with and without `read_write_conflict`. The total ROI is
chosen so the task has exactly the requested number of blocks.

Every scenario runs in a child process of its own (a fresh interpreter, its own
process group, a temporary working directory for `daisy_logs/`) whose stdout and
stderr go to /dev/null unless `--verbose`: progress bars and the Execution Summary
cost time and would mix with the JSON. A scenario that exceeds `--timeout` seconds
is stopped and reported with `"timeout": true` (the scheduler scenario reports the
rate over the blocks it got through; the e2e scenario only an upper bound,
`blocks_per_s_max`). When the e2e scenario times out at some size, the larger sizes
of the same kind are skipped (`"skipped": true`).

    python bench.py                                 # all scenarios, default sizes
    python bench.py --scenarios e2e --e2e-blocks 10000 --timeout 60
    python bench.py --quick                         # small sizes, for a smoke test
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

WRITE = 64
CONTEXT = 8
READ = WRITE + 2 * CONTEXT


def grid_for(n):
    """Three factors (a, b, c) of n, a <= b <= c, as close to a cube as possible."""
    best = (1, 1, n)
    a = 1
    while a * a * a <= n:
        if n % a == 0:
            m = n // a
            b = a
            while b * b <= m:
                if m % b == 0:
                    c = m // b
                    if c / a < best[2] / best[0]:
                        best = (a, b, c)
                b += 1
        a += 1
    return best


def noop(block):
    pass


def make_task(daisy, task_id, blocks, conflict, num_workers):
    grid = grid_for(blocks)
    total = daisy.Roi((0, 0, 0), tuple(g * WRITE + 2 * CONTEXT for g in grid))
    read = daisy.Roi((0, 0, 0), (READ, READ, READ))
    write = daisy.Roi((CONTEXT, CONTEXT, CONTEXT), (WRITE, WRITE, WRITE))
    return daisy.Task(
        task_id,
        total_roi=total,
        read_roi=read,
        write_roi=write,
        process_function=noop,
        read_write_conflict=conflict,
        num_workers=num_workers,
        fit="valid",
    )


def max_rss_mb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child_scheduler(spec):
    import daisy

    deadline = spec["timeout"]
    task = make_task(daisy, "bench", spec["blocks"], spec["conflict"], 1)
    success = daisy.BlockStatus.SUCCESS
    done = 0
    timed_out = False
    start = time.perf_counter()
    scheduler = daisy.Scheduler([task])
    setup = time.perf_counter() - start
    acquire = scheduler.acquire_block
    release = scheduler.release_block
    while True:
        block = acquire("bench")
        if block is None:
            break
        block.status = success
        release(block)
        done += 1
        if done % 1000 == 0 and time.perf_counter() - start > deadline:
            timed_out = True
            break
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "setup_s": setup,
        "done": done,
        "ok": None if timed_out else done == spec["blocks"],
        "timeout": timed_out,
        "max_rss_mb": max_rss_mb(),
    }


def patch_1x_nodelay(daisy):
    """daisy 1.x only: set TCP_NODELAY on every connection (both ends).

    As shipped, daisy 1.x sends each message as two small writes that meet Nagle's
    algorithm and delayed ACKs (~40 ms per block). This measures 1.x with that one
    defect fixed. Forked worker processes inherit the patched class.
    """
    try:
        from daisy.tcp.tcp_stream import TCPStream
    except ImportError:
        raise SystemExit("--patch-1x-nodelay needs daisy 1.x (daisy.tcp.tcp_stream)") from None
    original = TCPStream.__init__

    def __init__(self, stream, address):
        original(self, stream, address)
        stream.set_nodelay(True)

    TCPStream.__init__ = __init__


def child_e2e(spec):
    import daisy

    if spec.get("patch_1x_nodelay"):
        patch_1x_nodelay(daisy)
    task = make_task(daisy, "bench", spec["blocks"], spec["conflict"], 2)
    start = time.perf_counter()
    result = daisy.run_blockwise([task])
    seconds = time.perf_counter() - start
    ok = result is True or (isinstance(result, dict) and _all_done(result))
    return {"seconds": seconds, "ok": bool(ok), "timeout": False, "max_rss_mb": max_rss_mb()}


def _all_done(states):
    return all(s.completed_count == s.total_block_count for s in states.values())


def run_child(spec_json, result_path):
    spec = json.loads(spec_json)
    if spec["scenario"] == "scheduler":
        result = child_scheduler(spec)
    else:
        result = child_e2e(spec)
    with open(result_path, "w") as f:
        json.dump(result, f)


def implementation():
    """Name and version of the daisy the benchmarked interpreter imports."""
    try:
        from importlib.metadata import version

        return version("daisy")
    except Exception:
        try:
            import daisy

            return getattr(daisy, "__version__", "unknown")
        except Exception:
            return "unknown"


def run_scenario(spec, verbose):
    """Run one scenario in a child interpreter; returns the JSON record."""
    record = {
        "scenario": spec["scenario"],
        "blocks": spec["blocks"],
        "conflict": spec["conflict"],
    }
    with tempfile.TemporaryDirectory(prefix="daisy-bench-") as tmp:
        result_path = os.path.join(tmp, "result.json")
        out = None if verbose else subprocess.DEVNULL
        cmd = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(spec), result_path]
        proc = subprocess.Popen(cmd, cwd=tmp, stdout=out, stderr=out, start_new_session=True)
        # The scheduler scenario stops itself at the deadline; give it slack to report.
        limit = spec["timeout"] + (30 if spec["scenario"] == "scheduler" else 0)
        killed = False
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            killed = True
            _kill_group(proc)
        if not killed and os.path.exists(result_path):
            with open(result_path) as f:
                result = json.load(f)
            done = result.pop("done", spec["blocks"])
            record["seconds"] = round(result["seconds"], 4)
            record["blocks_per_s"] = (
                round(done / result["seconds"], 1) if result["seconds"] > 0 else None
            )
            if result.get("timeout"):
                record["timeout"] = True
                record["blocks_done"] = done
            for key in ("ok", "setup_s", "max_rss_mb"):
                if result.get(key) is not None:
                    value = result[key]
                    record[key] = round(value, 4) if isinstance(value, float) else value
        elif killed:
            record.update(
                seconds=None,
                blocks_per_s=None,
                timeout=True,
                timeout_s=spec["timeout"],
                blocks_per_s_max=round(spec["blocks"] / spec["timeout"], 1),
            )
        else:
            record.update(
                seconds=None, blocks_per_s=None, error=f"child exited with {proc.returncode}"
            )
    return record


def _kill_group(proc):
    """Stop the child and everything it started (its own process group)."""
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


def parse_sizes(text):
    return [int(float(x)) for x in text.split(",") if x.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenarios", default="scheduler,e2e", help="comma list of: scheduler, e2e"
    )
    parser.add_argument(
        "--scheduler-blocks", default="1e5", help="block counts for 'scheduler' (comma list)"
    )
    parser.add_argument(
        "--e2e-blocks", default="1e4,1e5", help="block counts for 'e2e' (comma list)"
    )
    parser.add_argument(
        "--conflict",
        default="both",
        choices=["both", "yes", "no"],
        help="read_write_conflict values",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds per scenario before it is stopped"
    )
    parser.add_argument(
        "--skip", default="", help="comma list of scenario:blocks:conflict(0/1) to skip"
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (scheduler 1e4, e2e 1e3) for a smoke test"
    )
    parser.add_argument(
        "--label",
        default=None,
        help="implementation label put in every record (default: daisy's version)",
    )
    parser.add_argument(
        "--patch-1x-nodelay",
        action="store_true",
        help="daisy 1.x only: set TCP_NODELAY on its connections (e2e scenarios)",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="show the runs' own output (progress bars) on stderr"
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        run_child(*args.child)
        return 0

    if args.quick:
        args.scheduler_blocks, args.e2e_blocks = "1e4", "1e3"
    conflicts = {"both": [False, True], "yes": [True], "no": [False]}[args.conflict]
    skip = set(s for s in args.skip.split(",") if s)
    label = args.label or implementation()
    sizes = {"scheduler": parse_sizes(args.scheduler_blocks), "e2e": parse_sizes(args.e2e_blocks)}
    failed = False
    for scenario in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
        if scenario not in sizes:
            parser.error(f"unknown scenario {scenario!r}")
        for conflict in conflicts:
            too_slow = False
            for blocks in sorted(sizes[scenario]):
                key = f"{scenario}:{blocks}:{int(conflict)}"
                if too_slow or key in skip:
                    record = {
                        "scenario": scenario,
                        "blocks": blocks,
                        "conflict": conflict,
                        "seconds": None,
                        "blocks_per_s": None,
                        "skipped": True,
                    }
                else:
                    spec = {
                        "scenario": scenario,
                        "blocks": blocks,
                        "conflict": conflict,
                        "timeout": args.timeout,
                        "patch_1x_nodelay": args.patch_1x_nodelay,
                    }
                    record = run_scenario(spec, args.verbose)
                    if scenario == "e2e" and record.get("timeout"):
                        too_slow = True
                    if record.get("ok") is False or "error" in record:
                        failed = True
                record["impl"] = label
                print(json.dumps(record), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
