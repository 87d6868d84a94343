#!/usr/bin/env python3
"""One run of the array benchmark: smooth a zarr volume with one implementation.

The job (the same for every implementation): the input `raw.zarr` is an S^3 uint8
Zarr v3 array in 64^3 chunks, zstd level 0 (zarr-python 3's default codec, which is
also what funlib.persistence 0.7 writes). It is smoothed with a 3^3 mean filter
(`scipy.ndimage.uniform_filter(size=3)`) block by block: each block reads its 64^3
write region plus 8 voxels of context on every side (80^3), filters it, and writes
its write region into `smoothed.zarr`, a second Zarr v3 array in 64^3 chunks that
covers the volume less the 8 voxels of context on each side ((S-16)^3, world offset
8, so its chunks coincide with the write blocks; the blocks of the last row are
shrunk to fit). Two workers.

Implementations (`--impl`):

  ours-ds        this package; the block function reads and writes with
                 `daisy.open_ds` / `daisy.prepare_ds` arrays
  ours-zarr      this package; the block function uses zarr-python 3
  daisy-zarr     whichever daisy the interpreter has (2.0.0, 1.2.3) with zarr-python 3;
                 `--patch-1x-nodelay` sets TCP_NODELAY on daisy 1.x's connections
  dask-threads   `da.from_zarr(...).map_overlap(uniform_filter, depth=8)` + `to_zarr`,
                 threaded scheduler, 2 threads
  dask-distributed  the same graph on a `LocalCluster` of 2 worker processes, 1 thread each
  numpy          read the whole volume, filter it, write the result; one process

The dask graphs filter the whole volume (their natural `map_overlap` form: the
output has the input's shape and chunks; `boundary="none"`, so the volume's faces
get scipy's own border mode), i.e. (S/(S-16))^3 (1.10 at S=512) more voxels are
filtered and written than by the other implementations. Every result is compared
with the whole-volume result on the (S-16)^3 region they all write.

    python array_job.py --prepare --dir D --size 512     # raw.zarr + expected.npy, once
    python array_job.py --impl ours-ds --dir D           # one timed run; one JSON line

The timed part starts before the implementation's imports (numpy, scipy, zarr,
daisy or dask: `imports_s`) and ends when the last block is written (`run_s`:
creating the output array, starting the workers, all blocks); `wall_s` is their
sum. The check (reading the output back and comparing it voxel for voxel with
`expected.npy`) comes after, outside the timings. With `--phases DIR`, the block
functions of the daisy implementations also record per-process read/filter/write
seconds and when each process started its first block (one JSON file per process).
"""

import argparse
import json
import os
import shutil
import sys
import time

T_START = time.perf_counter()

WRITE = 64
CONTEXT = 8
READ = WRITE + 2 * CONTEXT

IMPLS = ["ours-ds", "ours-zarr", "daisy-zarr", "dask-threads", "dask-distributed", "numpy"]


def paths(directory):
    return (
        os.path.join(directory, "raw.zarr"),
        os.path.join(directory, "smoothed.zarr"),
        os.path.join(directory, "expected.npy"),
    )


# ---------------------------------------------------------------- block functions


class _Phases:
    """Per-process totals of read/filter/write seconds (only with --phases)."""

    def __init__(self, directory):
        self.directory = directory
        self.pid = None
        self.totals = None

    def add(self, read, filt, write, first_start, stats=None):
        pid = os.getpid()
        if self.pid != pid:
            self.pid = pid
            self.totals = {
                "pid": pid,
                "blocks": 0,
                "read_s": 0.0,
                "filter_s": 0.0,
                "write_s": 0.0,
                "first_block_at": first_start,
            }
        t = self.totals
        t["blocks"] += 1
        t["read_s"] += read
        t["filter_s"] += filt
        t["write_s"] += write
        t["last_block_done_at"] = time.time()
        if stats:
            t["stats"] = stats  # cumulative counters of this process
        with open(os.path.join(self.directory, f"{pid}.json"), "w") as f:
            json.dump(t, f)


def _crop(block):
    """Slices of the filtered read region that make up the block's write region."""
    begin = block.write_roi.begin - block.read_roi.begin
    return tuple(slice(b, b + s) for b, s in zip(begin, block.write_roi.shape, strict=True))


def _filter(data):
    from scipy.ndimage import uniform_filter

    return uniform_filter(data, size=3)


class SmoothWithZarr:
    """Block function with zarr-python 3: arrays opened once per process, on first use."""

    def __init__(self, raw_path, out_path, phases_dir=None):
        self.raw_path = raw_path
        self.out_path = out_path
        self.phases = _Phases(phases_dir) if phases_dir else None
        self._arrays = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_arrays"] = None
        return state

    def _open(self):
        pid = os.getpid()
        if self._arrays is None or self._arrays[0] != pid:
            import zarr

            self._arrays = (
                pid,
                zarr.open_array(self.raw_path, mode="r"),
                zarr.open_array(self.out_path, mode="r+"),
            )
        return self._arrays[1], self._arrays[2]

    def __call__(self, block):
        t0 = time.perf_counter()
        w0 = time.time()
        raw, out = self._open()
        data = raw[block.read_roi.to_slices()]
        t1 = time.perf_counter()
        filtered = _filter(data)[_crop(block)]
        t2 = time.perf_counter()
        target = block.write_roi - CONTEXT  # world -> smoothed.zarr voxels
        out[target.to_slices()] = filtered
        if self.phases:
            self.phases.add(t1 - t0, t2 - t1, time.perf_counter() - t2, w0)


class SmoothWithDs:
    """Block function with this package's arrays (opened in the parent; they reopen
    themselves in a forked worker)."""

    def __init__(self, raw, out, phases_dir=None):
        self.raw = raw
        self.out = out
        self.phases = _Phases(phases_dir) if phases_dir else None

    def __call__(self, block):
        t0 = time.perf_counter()
        w0 = time.time()
        data = self.raw[block.read_roi]
        t1 = time.perf_counter()
        filtered = _filter(data)[_crop(block)]
        t2 = time.perf_counter()
        self.out[block.write_roi] = filtered
        if self.phases:
            stats = {"raw": self.raw.stats(), "out": self.out.stats()}
            self.phases.add(t1 - t0, t2 - t1, time.perf_counter() - t2, w0, stats)


# ---------------------------------------------------------------- implementations


def make_task(daisy, size, function, workers):
    total = daisy.Roi((0, 0, 0), (size, size, size))
    return daisy.Task(
        "smooth",
        total_roi=total,
        read_roi=daisy.Roi((0, 0, 0), (READ, READ, READ)),
        write_roi=daisy.Roi((CONTEXT, CONTEXT, CONTEXT), (WRITE, WRITE, WRITE)),
        process_function=function,
        read_write_conflict=False,
        num_workers=workers,
        fit="shrink",
    )


def succeeded(result):
    if result is True:
        return True
    if isinstance(result, dict):
        return all(s.completed_count == s.total_block_count for s in result.values())
    return bool(result)


def create_output_zarr(out_path, size):
    import zarr

    out = zarr.create_array(
        store=out_path,
        shape=(size - 2 * CONTEXT,) * 3,
        chunks=(WRITE,) * 3,
        dtype="uint8",
        zarr_format=3,
        overwrite=True,
    )
    out.attrs["offset"] = [CONTEXT] * 3
    out.attrs["voxel_size"] = [1, 1, 1]
    return out


def run_daisy_zarr(args, raw_path, out_path, record):
    import numpy  # noqa: F401
    import scipy.ndimage  # noqa: F401
    import zarr

    import daisy

    if args.patch_1x_nodelay:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from bench import patch_1x_nodelay

        patch_1x_nodelay(daisy)
    record["imports_s"] = time.perf_counter() - T_START
    t0 = time.perf_counter()
    size = zarr.open_array(raw_path, mode="r").shape[0]
    create_output_zarr(out_path, size)
    function = SmoothWithZarr(raw_path, out_path, args.phases)
    record["ok"] = succeeded(daisy.run_blockwise([make_task(daisy, size, function, args.workers)]))
    return t0


def _open_options(args):
    """Keyword arguments for open_ds/prepare_ds given on the command line (--ds-option k=v)."""
    options = {}
    for item in args.ds_option:
        key, _, value = item.partition("=")
        options[key] = json.loads(value)
    return options


def run_ours_ds(args, raw_path, out_path, record):
    import numpy as np
    import scipy.ndimage  # noqa: F401

    import daisy

    record["imports_s"] = time.perf_counter() - T_START
    t0 = time.perf_counter()
    options = _open_options(args)
    raw = daisy.open_ds(raw_path, **options)
    size = raw.shape[0]
    out = daisy.prepare_ds(
        out_path,
        shape=(size - 2 * CONTEXT,) * 3,
        offset=(CONTEXT,) * 3,
        voxel_size=(1, 1, 1),
        chunk_shape=(WRITE,) * 3,
        dtype=np.uint8,
        mode="w",
        **options,
    )
    function = SmoothWithDs(raw, out, args.phases)
    record["ok"] = succeeded(daisy.run_blockwise([make_task(daisy, size, function, args.workers)]))
    return t0


def _dask_graph(raw_path):
    import dask.array as da
    from scipy.ndimage import uniform_filter

    raw = da.from_zarr(raw_path)
    return raw.map_overlap(uniform_filter, depth=CONTEXT, boundary="none", size=3, dtype=raw.dtype)


def run_dask_threads(args, raw_path, out_path, record):
    import dask
    import dask.array
    import scipy.ndimage  # noqa: F401
    import zarr  # noqa: F401

    record["imports_s"] = time.perf_counter() - T_START
    t0 = time.perf_counter()
    with dask.config.set(scheduler="threads", num_workers=args.workers):
        _dask_graph(raw_path).to_zarr(out_path, overwrite=True)
    record["ok"] = True
    return t0


def run_dask_distributed(args, raw_path, out_path, record):
    import dask.array  # noqa: F401
    import scipy.ndimage  # noqa: F401
    import zarr  # noqa: F401
    from distributed import Client, LocalCluster

    record["imports_s"] = time.perf_counter() - T_START
    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster),
    ):
        record["cluster_start_s"] = time.perf_counter() - t0
        _dask_graph(raw_path).to_zarr(out_path, overwrite=True)
    record["ok"] = True
    return t0


def run_numpy(args, raw_path, out_path, record):
    import scipy.ndimage  # noqa: F401
    import zarr

    record["imports_s"] = time.perf_counter() - T_START
    t0 = time.perf_counter()
    volume = zarr.open_array(raw_path, mode="r")[...]
    t1 = time.perf_counter()
    filtered = _filter(volume)
    t2 = time.perf_counter()
    size = volume.shape[0]
    out = create_output_zarr(out_path, size)
    out[...] = filtered[
        CONTEXT : size - CONTEXT, CONTEXT : size - CONTEXT, CONTEXT : size - CONTEXT
    ]
    record["read_s"] = t1 - t0
    record["filter_s"] = t2 - t1
    record["write_s"] = time.perf_counter() - t2
    record["ok"] = True
    return t0


RUNNERS = {
    "ours-ds": run_ours_ds,
    "ours-zarr": run_daisy_zarr,
    "daisy-zarr": run_daisy_zarr,
    "dask-threads": run_dask_threads,
    "dask-distributed": run_dask_distributed,
    "numpy": run_numpy,
}


# ---------------------------------------------------------------- prepare and check


def synthetic_volume(size, seed):
    """A reproducible uint8 volume: smooth blobs on a gradient, plus noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    axis = np.arange(size, dtype=np.float32)
    volume = rng.normal(0.0, 25.0, (size, size, size)).astype(np.float32)
    volume += axis * np.float32(64.0 / size)
    for _ in range(8):
        c = rng.uniform(0, size, 3).astype(np.float32)
        radius = np.float32(rng.uniform(size / 16, size / 5))
        gz, gy, gx = (np.exp(-((axis - ci) ** 2) / (2 * radius**2)) for ci in c)
        volume += np.float32(120.0) * gz[:, None, None] * gy[None, :, None] * gx[None, None, :]
    return np.clip(volume, 0, 255).astype(np.uint8)


def prepare(directory, size, seed):
    """Write raw.zarr (Zarr v3, 64^3 chunks, zarr-python 3's default codecs: zstd
    level 0) and expected.npy (the whole-volume result on the region every
    implementation writes)."""
    import numpy as np
    import zarr

    os.makedirs(directory, exist_ok=True)
    raw_path, out_path, expected_path = paths(directory)
    volume = synthetic_volume(size, seed)
    raw = zarr.create_array(
        store=raw_path,
        shape=volume.shape,
        chunks=(WRITE,) * 3,
        dtype="uint8",
        zarr_format=3,
        overwrite=True,
    )
    raw[...] = volume
    raw.attrs["offset"] = [0, 0, 0]
    raw.attrs["voxel_size"] = [1, 1, 1]
    inner = slice(CONTEXT, size - CONTEXT)
    np.save(expected_path, _filter(volume)[inner, inner, inner])
    codecs = [type(c).__name__ + str(getattr(c, "level", "")) for c in raw.compressors]
    return {"prepared": directory, "size": size, "compressors": codecs}


def check(raw_path, out_path, expected_path):
    """(equal, number of differing voxels) of the output against expected.npy."""
    import numpy as np
    import zarr

    expected = np.load(expected_path)
    result = zarr.open_array(out_path, mode="r")[...]
    n = expected.shape[0]
    if result.shape != expected.shape:  # the dask graphs write the whole volume
        offset = (result.shape[0] - n) // 2
        inner = slice(offset, offset + n)
        result = result[inner, inner, inner]
    if result.shape != expected.shape:
        return False, int(expected.size)
    differing = int(np.count_nonzero(result != expected))
    return differing == 0, differing


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", choices=IMPLS)
    parser.add_argument("--dir", required=True, help="directory of raw.zarr and expected.npy")
    parser.add_argument("--prepare", action="store_true", help="write raw.zarr and expected.npy")
    parser.add_argument("--size", type=int, default=512, help="--prepare: edge of the volume")
    parser.add_argument("--seed", type=int, default=1, help="--prepare: seed of the volume")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None, help="output array (default DIR/smoothed.zarr)")
    parser.add_argument("--patch-1x-nodelay", action="store_true")
    parser.add_argument("--phases", default=None, help="directory for per-process phase files")
    parser.add_argument(
        "--ds-option",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="ours-ds: keyword for open_ds/prepare_ds (repeatable), e.g. cache_size=0",
    )
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args()

    if args.prepare:
        print(json.dumps(prepare(args.dir, args.size, args.seed)), flush=True)
        return 0
    if not args.impl:
        parser.error("--impl is required (or --prepare)")
    raw_path, out_path, expected_path = paths(args.dir)
    if args.out:
        out_path = args.out
    shutil.rmtree(out_path, ignore_errors=True)
    if args.phases:
        os.makedirs(args.phases, exist_ok=True)

    record = {"impl": args.impl}
    t0 = RUNNERS[args.impl](args, raw_path, out_path, record)
    t_end = time.perf_counter()
    record["run_s"] = t_end - t0
    record["wall_s"] = t_end - T_START
    if not args.no_check:
        record["equal"], record["differing_voxels"] = check(raw_path, out_path, expected_path)
    try:
        import daisy

        record["daisy"] = getattr(daisy, "__version__", None)
        from importlib.metadata import version

        record["daisy"] = version("daisy")
    except Exception:
        pass
    for key, value in list(record.items()):
        if isinstance(value, float):
            record[key] = round(value, 4)
    print(json.dumps(record), flush=True)
    return 0 if record.get("ok") and record.get("equal", True) else 1


if __name__ == "__main__":
    # The block functions must belong to an importable module (daisy 2.0.0 pickles
    # them for its spawned workers), so run main() of `array_job`, not of __main__.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import array_job

    array_job.T_START = T_START
    sys.exit(array_job.main())
