"""Acquire+release throughput of the engine's Scheduler driven from Python (daisy._daisy).

A 3-D task of 64³-voxel write blocks with 8 voxels of context (read blocks 80³), 47³ = 103,823
blocks; each block is acquired, marked SUCCESS and released at once, until the task is done.
Measured with and without read_write_conflict. Build the engine in release mode first:

    . .venv/bin/activate && maturin develop --release
    python bench/python_scheduler.py [--repeat 3] [--blocks-per-dim 47]

Prints one JSON object per case (median of the repeats) and a summary line.
"""

import argparse
import json
import statistics
import time

from funlib.geometry import Roi

from daisy import _daisy
from daisy.block import BlockStatus


def task_spec(conflict, blocks_per_dim):
    write, context = 64, 8
    total = blocks_per_dim * write + 2 * context
    return _daisy.TaskSpec(
        "bench",
        Roi((0, 0, 0), (total,) * 3),
        Roi((0, 0, 0), (write + 2 * context,) * 3),
        Roi((context,) * 3, (write,) * 3),
        read_write_conflict=conflict,
    )


def drive(conflict, blocks_per_dim):
    """Seconds to acquire and release every block, and the number of blocks."""
    scheduler = _daisy.Scheduler([task_spec(conflict, blocks_per_dim)])
    acquire = scheduler.acquire_block
    release = scheduler.release_block
    success = BlockStatus.SUCCESS
    n = 0
    start = time.perf_counter()
    while (block := acquire("bench")) is not None:
        block.status = success
        release(block)
        n += 1
    elapsed = time.perf_counter() - start
    state = scheduler.counters("bench")
    assert state.completed_count == state.total_block_count == n, (state, n)
    return elapsed, n


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--blocks-per-dim", type=int, default=47)
    args = parser.parse_args()
    results = []
    for conflict in (False, True):
        runs = [drive(conflict, args.blocks_per_dim) for _ in range(args.repeat)]
        seconds = statistics.median(t for t, _ in runs)
        blocks = runs[0][1]
        result = {
            "bench": "python_scheduler_acquire_release",
            "read_write_conflict": conflict,
            "blocks": blocks,
            "repeats": args.repeat,
            "median_seconds": round(seconds, 4),
            "blocks_per_second": round(blocks / seconds),
            "microseconds_per_block": round(seconds / blocks * 1e6, 3),
        }
        results.append(result)
        print(json.dumps(result))
    print(
        "summary: "
        + ", ".join(
            f"{'conflict' if r['read_write_conflict'] else 'no conflict'}: "
            f"{r['blocks_per_second'] / 1000:.0f}k blocks/s ({r['microseconds_per_block']} µs/block)"
            for r in results
        )
    )


if __name__ == "__main__":
    main()
