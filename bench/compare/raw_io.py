#!/usr/bin/env python3
"""Raw zarr I/O block by block: this package's daisy.open_ds vs zarr-python 3 vs tensorstore.

One process, one thread of user code, a whole S^3 uint8 Zarr v3 array (64^3 chunks):

  write       every 64^3 block, aligned to the chunks, into a fresh empty array
  read        every 64^3 block, aligned to the chunks
  read+ctx    80^3 regions (a 64^3 block with 8 voxels of context on each side) on the
              64-voxel grid, every one that fits in the array ((S/64 - 1)^3 of them)

for two codecs: zstd level 0 (zarr-python 3's default, what funlib.persistence 0.7
writes) and none (uncompressed). MB/s is decoded (uint8) megabytes delivered or
taken per second (1 MB = 10^6 bytes). Each implementation runs in a fresh process per
round, the order rotated every round; the table shows medians.

    python bench/compare/raw_io.py --python /tmp/venv/bin/python        # 512^3, 3 rounds
    python bench/compare/raw_io.py --quick                               # 128^3, 1 round

The interpreter (--python, default <repo>/.venv/bin/python) needs this package,
zarr>=3 and tensorstore. The arrays are created by zarr-python 3 (the written ones
empty, beforehand, outside the timings). The written arrays are read back and
compared with the source volume after the timings.
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
ROOT = os.path.dirname(os.path.dirname(HERE))
CHUNK = 64
CONTEXT = 8
IMPLS = ["daisy", "zarr", "tensorstore"]
TITLES = {
    "daisy": "this package, daisy.open_ds",
    "zarr": "zarr-python 3",
    "tensorstore": "tensorstore",
}
CODECS = ["zstd0", "none"]
OPS = ["write", "read", "read+ctx"]


def compressors(codec):
    import zarr.codecs

    return [zarr.codecs.ZstdCodec(level=0)] if codec == "zstd0" else None


def create(path, shape, codec):
    import zarr

    array = zarr.create_array(
        store=path,
        shape=shape,
        chunks=(CHUNK,) * 3,
        dtype="uint8",
        zarr_format=3,
        compressors=compressors(codec),
        overwrite=True,
    )
    array.attrs["offset"] = [0, 0, 0]
    array.attrs["voxel_size"] = [1, 1, 1]
    return array


def prepare(directory, size):
    sys.path.insert(0, HERE)
    import numpy as np
    from array_job import synthetic_volume

    volume = synthetic_volume(size, 1)
    np.save(os.path.join(directory, "volume.npy"), volume)
    for codec in CODECS:
        create(os.path.join(directory, f"in-{codec}.zarr"), volume.shape, codec)[...] = volume


def regions(size, context):
    """(begin, end) triples of the blocks (context 0) or of the context reads."""
    if context == 0:
        starts = range(0, size, CHUNK)
        edge = CHUNK
    else:
        edge = CHUNK + 2 * context
        starts = range(0, size - edge + 1, CHUNK)
    return [
        ((z, y, x), (z + edge, y + edge, x + edge)) for z in starts for y in starts for x in starts
    ]


# ---------------------------------------------------------------- one implementation


class Daisy:
    def __init__(self, options):
        import daisy

        self.daisy = daisy
        self.options = options

    def open(self, path, write):
        return self.daisy.open_ds(path, mode="r+" if write else "r", **self.options)

    def read(self, array, begin, end):
        roi = self.daisy.Roi(begin, tuple(e - b for b, e in zip(begin, end, strict=True)))
        return array[roi]

    def write(self, array, begin, end, data):
        roi = self.daisy.Roi(begin, tuple(e - b for b, e in zip(begin, end, strict=True)))
        array[roi] = data


class Zarr:
    def open(self, path, write):
        import zarr

        return zarr.open_array(path, mode="r+" if write else "r")

    def read(self, array, begin, end):
        return array[tuple(slice(b, e) for b, e in zip(begin, end, strict=True))]

    def write(self, array, begin, end, data):
        array[tuple(slice(b, e) for b, e in zip(begin, end, strict=True))] = data


class TensorStore:
    def open(self, path, write):
        import tensorstore as ts

        spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": path}}
        return ts.open(spec, read=True, write=write).result()

    def read(self, array, begin, end):
        return array[tuple(slice(b, e) for b, e in zip(begin, end, strict=True))].read().result()

    def write(self, array, begin, end, data):
        array[tuple(slice(b, e) for b, e in zip(begin, end, strict=True))].write(data).result()


def child(impl, directory, size, options):
    import numpy as np

    backend = {"daisy": lambda: Daisy(options), "zarr": Zarr, "tensorstore": TensorStore}[impl]()
    volume = np.load(os.path.join(directory, "volume.npy"))
    out = {}
    for codec in CODECS:
        # write: every aligned block into a fresh, empty array
        target = os.path.join(directory, f"out-{impl}-{codec}.zarr")
        shutil.rmtree(target, ignore_errors=True)
        create(target, volume.shape, codec)
        blocks = regions(size, 0)
        pieces = [
            np.ascontiguousarray(volume[b[0] : e[0], b[1] : e[1], b[2] : e[2]]) for b, e in blocks
        ]
        t0 = time.perf_counter()
        array = backend.open(target, True)
        for (b, e), piece in zip(blocks, pieces, strict=True):
            backend.write(array, b, e, piece)
        del array
        seconds = time.perf_counter() - t0
        out[f"{codec}/write"] = volume.nbytes / seconds / 1e6
        # reads
        source = os.path.join(directory, f"in-{codec}.zarr")
        for op, context in (("read", 0), ("read+ctx", CONTEXT)):
            reads = regions(size, context)
            t0 = time.perf_counter()
            array = backend.open(source, False)
            got = 0
            for b, e in reads:
                got += backend.read(array, b, e).nbytes
            seconds = time.perf_counter() - t0
            out[f"{codec}/{op}"] = got / seconds / 1e6
            stats = getattr(array, "stats", None)
            if stats is not None:
                out[f"{codec}/{op}/stats"] = str(stats() if callable(stats) else stats)
            del array
        # the check, untimed
        import zarr

        written = zarr.open_array(target, mode="r")[...]
        out[f"{codec}/write_ok"] = bool(np.array_equal(written, volume))
        shutil.rmtree(target, ignore_errors=True)
    return out


# ---------------------------------------------------------------- driver


def print_table(records, size):
    by = {}
    for r in records:
        for key, value in r["rates"].items():
            if isinstance(value, float):
                by.setdefault((r["impl"], key), []).append(value)
    impls = [i for i in IMPLS if any(k[0] == i for k in by)]
    head = ["codec", "operation"] + [TITLES[i] + " MB/s" for i in impls]
    if "daisy" in impls:
        head += [f"daisy / {TITLES[i]}" for i in impls if i != "daisy"]
    print()
    print(
        f"Raw I/O of a {size}³ uint8 Zarr v3 array, 64³ chunks, block by block in one process "
        f"(median of {max(len(v) for v in by.values())} runs, each implementation in a fresh process); "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    names = {
        "write": "write 64³ blocks",
        "read": "read 64³ blocks",
        "read+ctx": "read 80³ (64³ + 8 context)",
    }
    for codec in CODECS:
        for op in OPS:
            med = {
                i: statistics.median(by[(i, f"{codec}/{op}")])
                for i in impls
                if (i, f"{codec}/{op}") in by
            }
            row = [codec.replace("zstd0", "zstd level 0"), names[op]]
            row += [f"{med[i]:.0f}" if i in med else "-" for i in impls]
            if "daisy" in impls:
                row += [
                    f"{med['daisy'] / med[i]:.2f}×" if "daisy" in med and i in med else "-"
                    for i in impls
                    if i != "daisy"
                ]
            print("| " + " | ".join(row) + " |")
    bad = [
        f"{r['impl']} {k}"
        for r in records
        for k, v in r["rates"].items()
        if k.endswith("write_ok") and v is not True
    ]
    print()
    print(
        "Written arrays read back and compared with the volume: "
        + ("all equal." if not bad else "DIFFERENT: " + ", ".join(bad))
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--quick", action="store_true", help="128³, 1 round unless --runs given")
    parser.add_argument("--impls", default=",".join(IMPLS))
    parser.add_argument("--python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    parser.add_argument("--dir", default=None)
    parser.add_argument(
        "--ds-option",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="keyword for daisy.open_ds (repeatable), e.g. cache_size=0",
    )
    parser.add_argument("--raw", default=None, help="also write the records to this JSONL file")
    parser.add_argument("--from-raw", default=None, metavar="FILE")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    options = {}
    for item in args.ds_option:
        key, _, value = item.partition("=")
        options[key] = json.loads(value)

    if args.child:
        impl, directory, size = args.child
        print(json.dumps(child(impl, directory, int(size), options)), flush=True)
        return 0
    if args.from_raw:
        with open(args.from_raw) as f:
            records = [json.loads(line) for line in f if line.strip()]
        print_table(records, records[0]["size"])
        return 0
    if args.quick:
        args.size = 128
        if "--runs" not in sys.argv:
            args.runs = 1
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    own = args.dir is None
    directory = args.dir or tempfile.mkdtemp(prefix="daisy-raw-io-")
    records = []
    raw = open(args.raw, "w") if args.raw else None
    try:
        code = (
            f"import sys; sys.argv[0] = {__file__!r}; sys.path.insert(0, {HERE!r}); "
            f"import raw_io; raw_io.prepare({directory!r}, {args.size})"
        )
        subprocess.run([args.python, "-c", code], check=True)
        for rnd in range(args.runs):
            k = rnd % len(impls)
            for impl in impls[k:] + impls[:k]:
                cmd = [args.python, __file__, "--child", impl, directory, str(args.size)]
                for option in args.ds_option:
                    cmd += ["--ds-option", option]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    print(
                        f"{impl}: failed: {proc.stderr.strip()[-800:]}", file=sys.stderr, flush=True
                    )
                    continue
                rates = json.loads(proc.stdout.strip().splitlines()[-1])
                record = {"impl": impl, "round": rnd, "size": args.size, "rates": rates}
                records.append(record)
                if raw:
                    raw.write(json.dumps(record) + "\n")
                    raw.flush()
                print(
                    f"round {rnd + 1}/{args.runs}: {impl:<12} "
                    + " ".join(f"{k}={v:.0f}" for k, v in rates.items() if isinstance(v, float)),
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if raw:
            raw.close()
        if own:
            shutil.rmtree(directory, ignore_errors=True)
    if records:
        print_table(records, args.size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
