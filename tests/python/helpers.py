"""Builders the test modules share (pytest puts this directory on sys.path)."""

import daisy
from daisy import Roi


def line(n, process=lambda b: None, task_id="t", **kwargs):
    """A 1-D task of n one-voxel blocks."""
    return daisy.Task(task_id, Roi((0,), (n,)), Roi((0,), (1,)), Roi((0,), (1,)), process, **kwargs)
