"""Zarr-backed daisy arrays across processes and threads: forked block workers (daisy's own
workers, and ``os.fork`` directly) after the parent used the array, pickling as path and
options, and the GIL released while the engine reads."""

import os
import pickle
import sys
import threading
import time

import dill
import numpy as np
import pytest
from funlib.geometry import Roi

import daisy

pytestmark = pytest.mark.timeout(120)


def prepared(tmp_path, name="raw.zarr", shape=(64, 64), chunks=(16, 16)):
    a = daisy.prepare_ds(tmp_path / name, shape, chunk_shape=chunks, dtype="int32")
    a[a.roi] = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    return a


def test_run_blockwise_workers_read_and_write_an_array_the_parent_used(tmp_path, in_tmp_dir):
    raw = prepared(tmp_path)
    out = daisy.prepare_ds(tmp_path / "out.zarr", (64, 64), chunk_shape=(16, 16), dtype="int32")
    # The parent reads both (any engine thread pool and cache exist before the fork).
    expected = raw[raw.roi] * 2
    assert out[out.roi].sum() == 0
    parent = os.getpid()

    def process(block):
        assert os.getpid() != parent
        out[block.write_roi] = raw[block.read_roi] * 2

    task = daisy.Task(
        "double",
        total_roi=raw.roi,
        read_roi=Roi((0, 0), (16, 16)),
        write_roi=Roi((0, 0), (16, 16)),
        process_function=process,
        num_workers=2,
    )
    assert daisy.run_blockwise([task]) is True
    np.testing.assert_array_equal(daisy.open_ds(tmp_path / "out.zarr")[out.roi], expected)
    # and the parent's own handle still works after its workers used theirs
    np.testing.assert_array_equal(out[out.roi], expected)


def test_os_fork_child_reads_and_writes(tmp_path):
    a = prepared(tmp_path)
    before = a[a.roi].copy()
    pid = os.fork()
    if pid == 0:  # the child: exit code 0 if it read and wrote correctly
        code = 1
        try:
            ok = np.array_equal(a[a.roi], before)
            a[Roi((0, 0), (16, 16))] = -1
            ok = ok and int(a[Roi((0, 0), (16, 16))].sum()) == -256
            code = 0 if ok else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # the parent sees the child's write (the store is shared; the cache was invalidated by
    # reading it anew: open it again)
    again = daisy.open_ds(tmp_path / "raw.zarr")
    assert int(again[Roi((0, 0), (16, 16))].sum()) == -256


def test_blocks_writing_parts_of_one_chunk_at_once_all_land(tmp_path, in_tmp_dir):
    """8×8 write blocks in 32×32 chunks, no conflicts, 2 worker processes: four blocks share
    each chunk, and each of their writes reads, changes and stores the whole chunk."""
    out = daisy.prepare_ds(tmp_path / "out.zarr", (64, 64), chunk_shape=(32, 32), dtype="int32")

    def process(block):
        for _ in range(5):  # rewrite, so that writes to one chunk overlap in time
            out[block.write_roi] = block.block_id[1] + 1

    task = daisy.Task(
        "fill",
        total_roi=out.roi,
        read_roi=Roi((0, 0), (8, 8)),
        write_roi=Roi((0, 0), (8, 8)),
        process_function=process,
        num_workers=2,
        read_write_conflict=False,
    )
    assert daisy.run_blockwise([task]) is True
    data = daisy.open_ds(tmp_path / "out.zarr")[out.roi]
    blocks = {
        (z, y): data[z * 8 : z * 8 + 8, y * 8 : y * 8 + 8] for z in range(8) for y in range(8)
    }
    assert all(b.min() > 0 and b.min() == b.max() for b in blocks.values()), "a write was lost"
    assert len({int(b[0, 0]) for b in blocks.values()}) == 64


@pytest.mark.parametrize("pickler", [pickle, dill])
def test_pickles_as_path_and_options(tmp_path, pickler):
    a = daisy.open_ds(prepared(tmp_path).path, mode="r+", voxel_size=(2, 2), offset=(4, 4))
    a.lazy_op(Roi((8, 8), (20, 20)))
    data = pickler.dumps(a)
    assert len(data) < 4096  # no voxels, no handle
    b = pickler.loads(data)
    assert b.roi == a.roi == Roi((8, 8), (20, 20))
    assert b.voxel_size == (2, 2)
    assert b.path == a.path
    np.testing.assert_array_equal(b[b.roi], a[a.roi])
    b[Roi((8, 8), (2, 2))] = 5
    again = daisy.open_ds(a.path, voxel_size=(2, 2), offset=(4, 4))
    np.testing.assert_array_equal(again[Roi((8, 8), (2, 2))], 5)


def test_pickled_read_only_array_stays_read_only(tmp_path):
    prepared(tmp_path)
    a = pickle.loads(pickle.dumps(daisy.open_ds(tmp_path / "raw.zarr")))
    assert not a.is_writeable
    with pytest.raises(ValueError):
        a[a.roi] = 0


def test_prepared_with_mode_w_is_not_recreated_by_a_worker(tmp_path):
    a = daisy.prepare_ds(tmp_path / "a.zarr", (8, 8), dtype="uint8", mode="w")
    a[a.roi] = 3
    b = pickle.loads(pickle.dumps(a))
    assert b[b.roi].sum() == 3 * 64


def test_the_gil_is_released_during_a_read(tmp_path):
    a = daisy.prepare_ds(tmp_path / "big.zarr", (256, 256, 256), chunk_shape=(64, 64, 64),
                         dtype="float32", cache_size=0)  # fmt: skip
    a[a.roi] = np.random.default_rng(0).random((256, 256, 256), dtype=np.float32)
    b = daisy.open_ds(tmp_path / "big.zarr", cache_size=0)
    ticks = []
    reading = threading.Event()
    stop = threading.Event()

    def tick():
        reading.wait()
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.0005)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1.0)  # without a released GIL, the ticker would wait up to 1 s
    thread = threading.Thread(target=tick)
    thread.start()
    try:
        reading.set()
        start = time.perf_counter()
        for _ in range(3):
            b[b.roi]
        end = time.perf_counter()
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(old)
    during = [t for t in ticks if start <= t <= end]
    # the reads take a while (64 chunks of 1 MiB decoded, three times) and the ticker ran
    # throughout: the largest gap between its ticks is far below the reads' duration
    assert end - start > 0.05
    gaps = np.diff([start, *during, end])
    assert len(during) > 10
    assert gaps.max() < (end - start) / 2
