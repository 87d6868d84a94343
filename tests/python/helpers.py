"""Builders the test modules share (pytest puts this directory on sys.path)."""

import signal
import subprocess
import sys
import time

import daisy
from daisy import Roi


def ids(blocks):
    """The spatial block ids of blocks."""
    return [b.block_id[1] for b in blocks]


def line(n, process=lambda b: None, task_id="t", **kwargs):
    """A 1-D task of n one-voxel blocks."""
    return daisy.Task(task_id, Roi((0,), (n,)), Roi((0,), (1,)), Roi((0,), (1,)), process, **kwargs)


def chain(process_a=lambda b: None, process_b=lambda b: None, **kwargs_a):
    """Tasks A and B, B downstream of A, each the 2-D grid of 16 blocks in 4 levels
    (docs/semantics.md#levels-and-conflicts)."""
    a = daisy.Task(
        "A",
        Roi((0, 0), (6, 6)),
        Roi((0, 0), (3, 3)),
        Roi((1, 1), (1, 1)),
        process_a,
        **kwargs_a,
    )
    b = daisy.Task(
        "B",
        Roi((0, 0), (6, 6)),
        Roi((0, 0), (3, 3)),
        Roi((1, 1), (1, 1)),
        process_b,
        upstream_tasks=[a],
    )
    return a, b


def interrupted_script(tmp_path, text, *args):
    """Runs the Python script ``text`` in ``tmp_path``, sends it SIGINT once a block function
    created the file ``started``, and returns its output (it must exit with code 0)."""
    script = tmp_path / "run.py"
    script.write_text(text)
    proc = subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "no block started"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out
