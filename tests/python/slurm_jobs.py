"""Functions that SLURM jobs import by module and name (test_slurm.py), and a script that
runs a task whose workers are SLURM jobs until it is interrupted.

``python slurm_jobs.py TASK_ID``: a run of 20 blocks of 2 s each on 2 SLURM workers.
"""

from __future__ import annotations

import os
import sys
import time

import daisy


def _record(what: str) -> None:
    line = (
        f"{what} {os.environ.get('SLURMD_NODENAME', '?')} {os.environ.get('SLURM_JOB_ID', '?')}\n"
    )
    with open(os.environ["DAISY_TEST_RECORD"], "a") as f:
        f.write(line)


def process(block: daisy.Block) -> None:
    """A block function: records the block, the node and the job."""
    time.sleep(0.05)
    _record(f"process {block.block_id[1]}")


def spawn() -> None:
    """A spawn function: a client loop of its own."""
    client = daisy.Client()
    while True:
        with client.acquire_block() as block:
            if block is None:
                return
            _record(f"spawn {block.block_id[1]}")


def slow(block: daisy.Block) -> None:
    """A block function that takes 2 s."""
    _record(f"slow {block.block_id[1]}")
    time.sleep(2)


if __name__ == "__main__":
    task_id = sys.argv[1]
    roi = daisy.Roi((0,), (200,))
    task = daisy.Task(
        task_id,
        roi,
        daisy.Roi((0,), (10,)),
        daisy.Roi((0,), (10,)),
        slow,
        num_workers=2,
        launcher=daisy.SlurmLauncher(),
    )
    print("running", flush=True)
    daisy.run_blockwise([task], progress=False)
