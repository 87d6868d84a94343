"""daisy 1.x's module names of the stand-ins in daisy/legacy/ (docs/semantics.md#differences-from-daisy-1x-and-20).

``import daisy`` and a run import none of them; every 1.x name imports them on first use, as
the same module objects, with the module paths their classes had in 1.x.
"""

import importlib
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import daisy

pytestmark = pytest.mark.timeout(60)

STAND_INS = (
    "daisy.ready_surface",
    "daisy.processing_queue",
    "daisy.block_bookkeeper",
    "daisy.worker",
    "daisy.worker_pool",
    "daisy.task_worker_pools",
    "daisy.tcp",
    "daisy.messages",
)


def run_python(code, cwd):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("multiprocessing", [False, True])
def test_import_daisy_and_a_run_import_no_stand_in(tmp_path, multiprocessing):
    out = run_python(
        f"""
        import sys
        import daisy

        task = daisy.Task(
            "A",
            daisy.Roi((0,), (40,)),
            daisy.Roi((0,), (10,)),
            daisy.Roi((0,), (10,)),
            lambda block: None,
            num_workers=2,
        )
        assert daisy.run_blockwise([task], {multiprocessing}, progress=False)
        stand_ins = {STAND_INS!r}
        loaded = [m for m in sys.modules if m.startswith(stand_ins) or "legacy." in m]
        print("loaded:", *loaded)
        """,
        tmp_path,
    )
    assert out.splitlines()[-1] == "loaded:"


def test_every_1x_name_resolves_to_the_file_in_legacy():
    legacy = Path(daisy.__file__).parent / "legacy"
    for name in STAND_INS:
        module = importlib.import_module(name)
        assert Path(module.__file__).is_relative_to(legacy), module.__file__
        assert module.__name__ == name
        assert getattr(daisy, name.partition(".")[2]) is module
        assert importlib.import_module(name.replace("daisy.", "daisy.legacy.")) is module


def test_submodules_and_classes_keep_their_1x_paths():
    import daisy.legacy.tcp.tcp_server as aliased
    import daisy.messages.remote_exception
    import daisy.tcp.tcp_server
    from daisy.tcp import TCPServer
    from daisy.worker import Worker

    assert aliased is daisy.tcp.tcp_server
    assert TCPServer is daisy.tcp.tcp_server.TCPServer
    assert TCPServer.__module__ == "daisy.tcp.tcp_server"
    assert daisy.Worker is Worker and Worker.__module__ == "daisy.worker"
    assert daisy.WorkerPool is importlib.import_module("daisy.worker_pool").WorkerPool
    assert daisy.messages.AcquireBlock.__module__ == "daisy.messages.acquire_block"
    assert daisy.ready_surface.ReadySurface.__module__ == "daisy.ready_surface"
    assert daisy.tcp.tcp_server.__spec__.name == "daisy.tcp.tcp_server"
    assert "Worker" in dir(daisy) and "tcp" in dir(daisy)


def test_the_1x_remote_exception_is_the_live_one():
    from daisy.messages import RemoteException as from_messages
    from daisy.messages.remote_exception import RemoteException
    from daisy.remote_error import RemoteException as live

    assert RemoteException is live and from_messages is live


def test_pickles_name_the_1x_modules():
    from daisy.messages import AcquireBlock

    data = pickle.dumps(AcquireBlock("A"))
    assert b"daisy.messages.acquire_block" in data and b"legacy" not in data
    again = pickle.loads(data)
    assert type(again) is AcquireBlock and again.task_id == "A"


def test_unknown_attributes_still_raise():
    with pytest.raises(AttributeError, match="no attribute 'tcpp'"):
        _ = daisy.tcpp
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("daisy.legacy.nothing")
