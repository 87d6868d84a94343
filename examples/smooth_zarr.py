#!/usr/bin/env python3
"""Smooth a 3-D zarr volume block-wise with daisy, and check the result.

What it does:

1. writes a synthetic 3-D uint8 volume (default 256^3) to a zarr array `raw.zarr`
   in chunks of 64^3;
2. smooths it with a 3x3x3 mean filter, block by block, on 2 worker processes:
   each block reads an 80^3 region (its 64^3 write region plus 8 voxels of context
   on every side), filters it, and writes its 64^3 region into `smoothed.zarr`;
3. computes the same filter on the whole volume at once (numpy, one process) and
   checks that both agree exactly on every voxel the task writes.

`smoothed.zarr` covers the task's total write ROI: the volume less 8 voxels of
context on each side; its attribute "offset" says where it starts in the volume.
Its 64^3 chunks coincide with the write blocks, so no two worker processes ever
write into the same chunk.

    python examples/smooth_zarr.py                  # 256^3, temporary directory
    python examples/smooth_zarr.py --size 512 --out /tmp/smooth --workers 2

Exit code 0 iff the block-wise result equals the whole-volume one and
`daisy.run_blockwise` returned True.

Needs `daisy`, `numpy` and `zarr` (2.x or 3.x).
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import zarr

import daisy

CONTEXT = 8  # voxels of context on each side of a write block (the filter needs 1)


def mean3_valid(a):
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

    It runs in the worker processes. The arrays are opened once per process, on
    first use, so this works whether workers are forked or started afresh."""

    def __init__(self, raw_path, smoothed_path, smoothed_offset):
        self.raw_path = raw_path
        self.smoothed_path = smoothed_path
        self.smoothed_offset = daisy.Coordinate(smoothed_offset)
        self._arrays = None

    def _open(self):
        pid = os.getpid()
        if self._arrays is None or self._arrays[0] != pid:
            raw = zarr.open_array(self.raw_path, mode="r")
            smoothed = zarr.open_array(self.smoothed_path, mode="r+")
            self._arrays = (pid, raw, smoothed)
        return self._arrays[1], self._arrays[2]

    def __call__(self, block):
        raw, smoothed = self._open()
        data = raw[block.read_roi.to_slices()]
        filtered = mean3_valid(data)  # covers read_roi grown by -1 on each side
        begin = block.write_roi.begin - block.read_roi.begin - daisy.Coordinate((1, 1, 1))
        crop = tuple(slice(b, b + s) for b, s in zip(begin, block.write_roi.shape, strict=True))
        target = block.write_roi - self.smoothed_offset  # world -> smoothed.zarr index
        smoothed[target.to_slices()] = filtered[crop]


def synthetic_volume(size, seed):
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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

    try:
        # 1. The input volume, chunked like the blocks.
        volume = synthetic_volume(size, args.seed)
        t0 = time.perf_counter()
        raw = zarr.create(
            shape=volume.shape, chunks=(block,) * 3, dtype="uint8", store=raw_path, overwrite=True
        )
        raw[...] = volume
        t_write = time.perf_counter() - t0

        # The task: read the whole volume, write it less the context.
        total_roi = daisy.Roi((0, 0, 0), (size, size, size))
        read_roi = daisy.Roi((0, 0, 0), (block + 2 * CONTEXT,) * 3)
        write_roi = daisy.Roi((CONTEXT,) * 3, (block,) * 3)
        total_write_roi = total_roi.grow(-CONTEXT, -CONTEXT)

        # The output covers the total write ROI, so its chunks start where write blocks start.
        smoothed = zarr.create(
            shape=tuple(total_write_roi.shape),
            chunks=(block,) * 3,
            dtype="uint8",
            store=smoothed_path,
            overwrite=True,
        )
        smoothed.attrs["offset"] = list(total_write_roi.begin)

        task = daisy.Task(
            "smooth",
            total_roi=total_roi,
            read_roi=read_roi,
            write_roi=write_roi,
            process_function=SmoothBlock(raw_path, smoothed_path, total_write_roi.begin),
            read_write_conflict=False,  # input and output are different arrays
            num_workers=args.workers,
            fit="shrink",
        )
        blocks = 1
        for s in total_write_roi.shape:
            blocks *= -(-s // block)
        print(
            f"smoothing {size}³ uint8 (zarr in {out}) with a 3³ mean filter: {blocks} blocks of {block}³ "
            f"with {CONTEXT} voxels of context, {args.workers} worker processes",
            flush=True,
        )

        # 2. Block-wise, with daisy.
        t0 = time.perf_counter()
        succeeded = daisy.run_blockwise([task])
        t_daisy = time.perf_counter() - t0
        sys.stdout.flush()

        # 3. The whole volume at once, and the check.
        t0 = time.perf_counter()
        whole = mean3_valid(zarr.open_array(raw_path, mode="r")[...])  # covers [1:size-1]³
        inner = CONTEXT - 1
        expected = whole[
            inner : size - 2 - inner, inner : size - 2 - inner, inner : size - 2 - inner
        ]
        t_whole = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = zarr.open_array(smoothed_path, mode="r")[...]
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

    ok = equal and succeeded is True
    verdict = "OK" if ok else "FAILED"
    details = (
        f"{verdict}: block-wise result {'equals' if equal else 'differs from'} the whole-volume one "
        f"on {total_write_roi.shape[0]}³ voxels"
        + ("" if equal else f" ({differing} voxels differ)")
        + f"; run_blockwise returned {succeeded}"
        + f" | daisy {t_daisy:.2f} s ({blocks / t_daisy:.0f} blocks/s), whole volume in one process {t_whole:.2f} s,"
        + f" writing the input {t_write:.2f} s, check {t_check:.2f} s"
    )
    print(details, flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
