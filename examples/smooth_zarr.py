#!/usr/bin/env python3
"""Smooth a 3-D Zarr volume block-wise with daisy, and check the result.

What it does:

1. writes a synthetic 3-D uint8 volume (default 256^3) into a Zarr v3 array
   `raw.zarr` in chunks of 64^3 (`daisy.prepare_ds`);
2. smooths it with a 3x3x3 mean filter, block by block, on 2 worker processes:
   each block reads its read ROI (its 64^3 write ROI plus 8 voxels of context on
   every side) from `raw.zarr` and writes its write ROI into `smoothed.zarr`,
   both addressed in world units (`array[roi]`);
3. computes the same filter on the whole volume at once (numpy, one process) and
   checks that both agree exactly on every voxel the task writes.

`smoothed.zarr` covers the task's total write ROI: the volume less 8 voxels of
context on each side; its offset is where that ROI begins. Its 64^3 chunks
coincide with the write blocks, so no two worker processes ever write into the
same chunk. At the end it says how many chunks of `raw.zarr` the workers decoded
per block (each read ROI overlaps 8 chunks; a worker's chunk cache saves some).

    python examples/smooth_zarr.py                  # 256^3, temporary directory
    python examples/smooth_zarr.py --size 512 --out /tmp/smooth --workers 2

Exit code 0 iff the block-wise result equals the whole-volume one and
`daisy.run_blockwise` returned True.

Needs only `daisy` and `numpy`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from typing import Any

import numpy as np

import daisy

CONTEXT = 8  # voxels of context on each side of a write block (the filter needs 1)


def mean3_valid(a: np.ndarray) -> np.ndarray:
    """3x3x3 mean of a uint8 array, 'valid' mode: the result is 2 voxels smaller
    along each axis. Exact integer arithmetic (sum of 27 values, rounded half up),
    so any block of the volume gives exactly the whole-volume result."""
    s = a.astype(np.uint16)  # 27 * 255 = 6885 fits
    for axis in range(s.ndim):
        n = s.shape[axis]
        lo = [slice(None)] * s.ndim
        mid = [slice(None)] * s.ndim
        hi = [slice(None)] * s.ndim
        lo[axis], mid[axis], hi[axis] = slice(0, n - 2), slice(1, n - 1), slice(2, n)
        s = s[tuple(lo)] + s[tuple(mid)] + s[tuple(hi)]
    return ((s + 13) // 27).astype(np.uint8)


class SmoothBlock:
    """The block function: read the block's read ROI from `raw`, filter, write the
    block's write ROI into `smoothed`.

    It runs in the worker processes, forked from this one. It opens the arrays
    once per process, on first use, and after each block records how many chunks
    of `raw` this process decoded so far (in `stats_dir`, one file per process)."""

    def __init__(self, raw_path: str, smoothed_path: str, stats_dir: str) -> None:
        self.raw_path = raw_path
        self.smoothed_path = smoothed_path
        self.stats_dir = stats_dir
        self._state: tuple[int, daisy.Array, daisy.Array, list[int]] | None = None

    def _open(self) -> tuple[daisy.Array, daisy.Array, list[int]]:
        pid = os.getpid()
        if self._state is None or self._state[0] != pid:
            raw = daisy.open_ds(self.raw_path, mode="r")
            smoothed = daisy.open_ds(self.smoothed_path, mode="r+")
            self._state = (pid, raw, smoothed, [0])
        return self._state[1], self._state[2], self._state[3]

    def __call__(self, block: daisy.Block) -> None:
        raw, smoothed, blocks = self._open()
        data = raw[block.read_roi]  # world units: the write ROI plus context
        filtered = mean3_valid(data)  # covers read_roi grown by -1 on each side
        begin = block.write_roi.begin - block.read_roi.begin - daisy.Coordinate((1, 1, 1))
        crop = tuple(slice(b, b + s) for b, s in zip(begin, block.write_roi.shape, strict=True))
        smoothed[block.write_roi] = filtered[crop]
        blocks[0] += 1
        record = {"blocks": blocks[0], **stats_counts(raw)}
        path = os.path.join(self.stats_dir, f"{os.getpid()}.json")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(path + ".tmp", path)


def stats_counts(array: daisy.Array) -> dict[str, int]:
    """Chunks decoded and chunk-cache hits of the Zarr array `array` in this process so far."""
    stats = array.stats()
    if stats is None:
        raise TypeError(f"{array!r} is not a Zarr array")
    return {"chunks_decoded": stats["chunks_decoded"], "cache_hits": stats["chunk_cache_hits"]}


def worker_totals(stats_dir: str) -> dict[str, Any]:
    """The workers' records summed: processes, blocks, chunks decoded, cache hits."""
    totals = {"processes": 0, "blocks": 0, "chunks_decoded": 0, "cache_hits": 0}
    for name in os.listdir(stats_dir):
        if name.endswith(".json"):
            with open(os.path.join(stats_dir, name), encoding="utf-8") as f:
                record = json.load(f)
            totals["processes"] += 1
            for key in ("blocks", "chunks_decoded", "cache_hits"):
                totals[key] += record[key]
    return totals


def synthetic_volume(size: int, seed: int) -> np.ndarray:
    """A reproducible uint8 volume: a few bright blobs on a gradient, plus noise."""
    rng = np.random.default_rng(seed)
    axis = np.arange(size, dtype=np.float32)
    volume = rng.normal(0.0, 25.0, (size, size, size)).astype(np.float32)
    volume += axis * np.float32(64.0 / size)  # gradient along x
    for _ in range(8):
        c = rng.uniform(0, size, 3).astype(np.float32)
        radius = np.float32(rng.uniform(size / 16, size / 5))
        # a separable Gaussian blob: the product of three 1-D profiles
        gz, gy, gx = (np.exp(-((axis - ci) ** 2) / (2 * radius**2)) for ci in c)
        volume += np.float32(120.0) * gz[:, None, None] * gy[None, :, None] * gx[None, None, :]
    return np.clip(volume, 0, 255).astype(np.uint8)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--size", type=int, default=256, help="edge of the cubic volume in voxels (default 256)"
    )
    parser.add_argument(
        "--block",
        type=int,
        default=64,
        help="edge of a write block and of a zarr chunk (default 64)",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--out",
        default=None,
        help="directory for raw.zarr and smoothed.zarr (default: a temporary one, removed)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic volume")
    args = parser.parse_args()
    if args.size < 2 * CONTEXT + 1:
        parser.error(f"--size must be at least {2 * CONTEXT + 1}, got {args.size}")
    if args.block < 1 or args.workers < 1:
        parser.error("--block and --workers must be positive")

    size, block = args.size, args.block
    out = args.out or tempfile.mkdtemp(prefix="daisy-smooth-")
    os.makedirs(out, exist_ok=True)
    raw_path = os.path.join(out, "raw.zarr")
    smoothed_path = os.path.join(out, "smoothed.zarr")
    stats_dir = os.path.join(out, "worker-stats")
    shutil.rmtree(stats_dir, ignore_errors=True)
    os.makedirs(stats_dir)

    try:
        # 1. The input volume, chunked like the blocks (a Zarr v3 array).
        volume = synthetic_volume(size, args.seed)
        t0 = time.perf_counter()
        raw = daisy.prepare_ds(
            raw_path, shape=volume.shape, chunk_shape=(block,) * 3, dtype=np.uint8, mode="w"
        )
        raw[raw.roi] = volume
        t_write = time.perf_counter() - t0

        # The task: read the whole volume, write it less the context.
        total_roi = daisy.Roi((0, 0, 0), (size, size, size))
        read_roi = daisy.Roi((0, 0, 0), (block + 2 * CONTEXT,) * 3)
        write_roi = daisy.Roi((CONTEXT,) * 3, (block,) * 3)
        total_write_roi = total_roi.grow(-CONTEXT, -CONTEXT)

        # The output covers the total write ROI, so its chunks start where write blocks start.
        daisy.prepare_ds(
            smoothed_path,
            shape=tuple(total_write_roi.shape),
            offset=total_write_roi.begin,
            chunk_shape=(block,) * 3,
            dtype=np.uint8,
            mode="w",
        )

        task = daisy.Task(
            "smooth",
            total_roi=total_roi,
            read_roi=read_roi,
            write_roi=write_roi,
            process_function=SmoothBlock(raw_path, smoothed_path, stats_dir),
            read_write_conflict=False,  # input and output are different arrays
            num_workers=args.workers,
            fit="shrink",
        )
        blocks = 1
        for s in total_write_roi.shape:
            blocks *= -(-s // block)
        print(
            f"smoothing {size}³ uint8 (Zarr v3 in {out}) with a 3³ mean filter: {blocks} blocks"
            f" of {block}³ with {CONTEXT} voxels of context, {args.workers} worker processes",
            flush=True,
        )

        # 2. Block-wise, with daisy.
        t0 = time.perf_counter()
        succeeded = daisy.run_blockwise([task])
        t_daisy = time.perf_counter() - t0
        sys.stdout.flush()
        workers = worker_totals(stats_dir)

        # 3. The whole volume at once, and the check.
        t0 = time.perf_counter()
        whole = mean3_valid(daisy.open_ds(raw_path, mode="r")[total_roi])  # covers [1:size-1]³
        inner = CONTEXT - 1
        expected = whole[
            inner : size - 2 - inner, inner : size - 2 - inner, inner : size - 2 - inner
        ]
        t_whole = time.perf_counter() - t0
        t0 = time.perf_counter()
        smoothed = daisy.open_ds(smoothed_path, mode="r")
        result = smoothed[total_write_roi]
        equal = result.shape == expected.shape and bool(np.array_equal(result, expected))
        differing = (
            int(np.count_nonzero(result != expected))
            if result.shape == expected.shape
            else result.size
        )
        t_check = time.perf_counter() - t0
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)

    ok = equal and succeeded is True and workers["blocks"] == blocks
    verdict = "OK" if ok else "FAILED"
    per_block = max(workers["blocks"], 1)
    details = (
        f"{verdict}: block-wise result {'equals' if equal else 'differs from'} the whole-volume one "
        f"on {total_write_roi.shape[0]}³ voxels"
        + ("" if equal else f" ({differing} voxels differ)")
        + f"; run_blockwise returned {succeeded}"
        + f" | daisy {t_daisy:.2f} s ({blocks / t_daisy:.0f} blocks/s), whole volume in one process {t_whole:.2f} s,"
        + f" writing the input {t_write:.2f} s, check {t_check:.2f} s"
        + f" | chunks decoded per block {workers['chunks_decoded'] / per_block:.2f}"
        + f" (cache hits per block {workers['cache_hits'] / per_block:.2f}),"
        + f" {workers['blocks']} blocks in {workers['processes']} worker processes"
    )
    print(details, flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
