"""Workers as SLURM jobs (daisy.SlurmLauncher) on a real cluster, and the checks that need none.

The cluster tests need the SLURM cluster scripts/test.sh starts (scripts/slurm-local.sh:
three simulated nodes on this machine) and DAISY_TEST_SLURM=1 with SLURM_CONF set.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import slurm_jobs

import daisy
from daisy.function_worker import load, target_of

SLURM = os.environ.get("DAISY_TEST_SLURM") == "1"
needs_slurm = pytest.mark.skipif(
    not SLURM,
    reason="needs a SLURM cluster: set DAISY_TEST_SLURM=1 and SLURM_CONF "
    "(scripts/test.sh starts one with scripts/slurm-local.sh)",
)
HERE = Path(__file__).resolve().parent
#: squeue's states of a job not yet ended.
LIVE = "PD,CF,R,S,CG"


def jobs(task_id: str, states: str = LIVE) -> list[str]:
    """The ids of the jobs of task ``task_id`` in ``states``."""
    out = subprocess.run(
        ["squeue", "-h", "-t", states, "-o", "%i %j"], capture_output=True, text=True, check=True
    ).stdout
    return [
        line.split()[0]
        for line in out.splitlines()
        if line.split()[1:] and line.split()[1].startswith(f"daisy-{task_id}-")
    ]


def records(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def line_task(task_id: str, blocks: int, function, **kwargs) -> daisy.Task:
    return daisy.Task(
        task_id,
        daisy.Roi((0,), (blocks * 10,)),
        daisy.Roi((0,), (10,)),
        daisy.Roi((0,), (10,)),
        function,
        **kwargs,
    )


# --- without a cluster -------------------------------------------------------------------


def test_a_function_jobs_cannot_import_is_an_error_naming_why():
    launcher = daisy.SlurmLauncher(partition="debug")

    def closure(block):
        pass

    cases = {
        "closure (defined inside test_a_function": closure,
        "lambda": lambda block: None,
        "not a plain function": launcher.__repr__,
    }
    for why, function in cases.items():
        with pytest.raises(
            daisy.TaskTypeError, match="task 't' runs its workers as SLURM jobs"
        ) as e:
            line_task("t", 2, function, launcher=launcher)
        assert why in str(e.value)
        assert "top level of a module" in str(e.value)
    with pytest.raises(daisy.TaskTypeError, match="daisy.SlurmLauncher or None"):
        line_task("t", 2, slurm_jobs.process, launcher="slurm")


def test_launcher_options_are_checked_when_made():
    with pytest.raises(daisy.TaskError, match="pending_limit must be a positive number"):
        daisy.SlurmLauncher(pending_limit=0)
    with pytest.raises(daisy.TaskTypeError, match="SlurmLauncher"):
        daisy.SlurmLauncher(cpus_per_task="two")  # type: ignore[arg-type]
    with pytest.raises(daisy.TaskTypeError, match="sequence of arguments"):
        daisy.SlurmLauncher(extra_args="--qos=short")
    launcher = daisy.SlurmLauncher(time="1:00", gpus=1, extra_args=["--qos=short"])
    assert repr(launcher) == "SlurmLauncher(time='1:00', gpus=1, extra_args=('--qos=short',))"


def test_jobs_run_this_interpreter_on_the_function_by_module_and_name():
    task = line_task("t", 2, slurm_jobs.process, launcher=daisy.SlurmLauncher())
    command = task.launcher._for_task(task).command_line
    assert command == f"{sys.executable} -m daisy.worker --path {HERE} slurm_jobs:process"
    assert target_of(slurm_jobs.process) == ("slurm_jobs:process", [str(HERE)])
    assert load("slurm_jobs:spawn", [str(HERE)]) is slurm_jobs.spawn
    # A script's function: loaded from the file as __mp_main__, its main part not run.
    script = load(f"{HERE / 'slurm_jobs.py'}:slow")
    assert script.__module__ == "__mp_main__" and script.__name__ == "slow"


def test_the_worker_program_says_what_it_lacks(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DAISY_CONTEXT"}
    worker = [sys.executable, "-m", "daisy.worker", "slurm_jobs:process"]
    done = subprocess.run(worker, capture_output=True, text=True, env=env, cwd=HERE)
    assert done.returncode == 2
    assert "DAISY_CONTEXT is not set" in done.stderr
    env["DAISY_CONTEXT"] = "hostname=127.0.0.1:port=9:task_id=t:worker_id=3"
    for target, said in [
        ("nowhere:process", "cannot import 'nowhere'"),
        ("slurm_jobs:missing", "has no function 'missing'"),
        ("process", "expected module:function"),
        (f"{tmp_path}/absent.py:f", "no script"),
    ]:
        done = subprocess.run(
            [*worker[:3], target], capture_output=True, text=True, env=env, cwd=HERE
        )
        assert done.returncode == 2, done.stderr
        assert "worker 3 of task t cannot start" in done.stderr and said in done.stderr


# --- on the cluster ----------------------------------------------------------------------


@needs_slurm
def test_block_and_spawn_functions_run_as_slurm_jobs_on_several_nodes(in_tmp_dir, monkeypatch):
    record = in_tmp_dir / "record.txt"
    monkeypatch.setenv("DAISY_TEST_RECORD", str(record))
    launcher = daisy.SlurmLauncher(time="5")
    first = line_task("slurm_py_a", 30, slurm_jobs.process, num_workers=3, launcher=launcher)
    second = line_task(
        "slurm_py_b", 30, slurm_jobs.spawn, num_workers=2, launcher=launcher, upstream_tasks=[first]
    )
    server = daisy.Server(stall_grace=1.0)
    server.run_blockwise([second])
    report = server.run_report
    assert report is not None and report.succeeded, report and report.summary
    seen = records(record)
    for kind in ("process", "spawn"):
        done = Counter(r[1] for r in seen if r[0] == kind)
        assert sorted(done) == sorted(str(i) for i in range(30)) and set(done.values()) == {1}
    assert len({r[2] for r in seen}) >= 2, f"one node ran every block: {seen}"
    assert len({r[3] for r in seen}) >= 3, "the workers were not separate jobs"
    logs = list((in_tmp_dir / "daisy_logs" / "slurm_py_a").glob("worker_*.err"))
    assert logs, "no worker logs in daisy_logs/slurm_py_a/"
    assert not jobs("slurm_py_a") and not jobs("slurm_py_b"), "jobs left after the run"


@needs_slurm
def test_jobs_that_never_start_are_reported_with_slurms_reason(in_tmp_dir):
    launcher = daisy.SlurmLauncher(extra_args=["--begin=now+1hour"], pending_limit=1)
    task = line_task(
        "slurm_py_pending", 3, slurm_jobs.process, launcher=launcher, max_worker_restarts=0
    )
    server = daisy.Server(stall_grace=0.5)
    start = time.monotonic()
    server.run_blockwise([task])
    assert time.monotonic() - start < 60
    report = server.run_report
    assert report is not None and not report.succeeded
    assert "still pending" in report.summary and "Reason=BeginTime" in report.summary, (
        report.summary
    )
    assert not jobs("slurm_py_pending"), "jobs left after the run"


@needs_slurm
def test_ctrl_c_cancels_every_job(tmp_path):
    task_id = "slurm_py_ctrl_c"
    env = dict(os.environ, DAISY_TEST_RECORD=str(tmp_path / "record.txt"))
    run = subprocess.Popen(
        [sys.executable, str(HERE / "slurm_jobs.py"), task_id],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(jobs(task_id, "R")) < 2 or not records(tmp_path / "record.txt"):
            assert run.poll() is None, run.communicate()[0]
            assert time.monotonic() < deadline, "the jobs did not start within 60 s"
            time.sleep(0.1)
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert "interrupted" in output.lower(), output
    assert not jobs(task_id), f"jobs left after Ctrl-C:\n{output}"
