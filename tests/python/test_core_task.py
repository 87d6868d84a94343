"""daisy.Task: attributes, process-function classification, argument checks (docs/semantics.md#tasks)."""

import datetime
import functools
import os

import pytest

import daisy
from daisy import Roi

TOTAL = Roi((0,), (10,))
READ = Roi((0,), (4,))
WRITE = Roi((1,), (2,))


def make(process_function=lambda b: None, **kwargs):
    args = dict(
        task_id="t",
        total_roi=TOTAL,
        read_roi=READ,
        write_roi=WRITE,
        process_function=process_function,
    )
    args.update(kwargs)
    return daisy.Task(**args)


def test_attributes_and_defaults():
    fn = lambda b: None  # noqa: E731
    task = daisy.Task("t", TOTAL, READ, WRITE, fn)
    assert task.task_id == "t"
    assert task.total_roi == TOTAL and task.orig_total_roi == TOTAL
    assert task.read_roi == READ and task.write_roi == WRITE
    assert task.total_write_roi == Roi((1,), (8,))
    assert task.process_function is fn
    assert task.check_function is None
    assert task.init_callback_fn("anything") is None  # a no-op
    assert task.read_write_conflict is True
    assert task.num_workers == 1 and task.max_workers == 1
    assert task.max_retries == 2
    assert task.fit == "valid"
    assert task.timeout is None
    assert task.upstream_tasks == [] and task.requires() == []
    assert task.max_worker_restarts == daisy._daisy.DEFAULT_MAX_WORKER_RESTARTS == 10
    assert "default, 10 " in " ".join(daisy.Task.__doc__.split())
    assert task.done_marker_path is None
    assert task.spawn_worker_function == task._process_blocks
    assert daisy.task.Task is daisy.Task


def test_positional_signature_of_1x():
    up = make()
    pre = lambda b: False  # noqa: E731
    init = lambda c: None  # noqa: E731
    task = daisy.Task(
        "d", TOTAL, READ, WRITE, lambda b: None, pre, init, False, 3, 5, "shrink", 7, [up]
    )
    assert task.check_function is pre
    assert task.init_callback_fn is init
    assert task.read_write_conflict is False
    assert (task.num_workers, task.max_retries, task.fit, task.timeout) == (3, 5, "shrink", 7)
    assert task.upstream_tasks == [up] and task.requires() == [up]


def block_fn(block):
    pass


def spawn_fn():
    pass


class Worker:
    def process(self, block):
        pass

    def spawn(self):
        pass

    def __call__(self, block):
        pass

    @classmethod
    def from_class(cls, block):
        pass

    @staticmethod
    def static(block):
        pass


class Spawner:
    def __call__(self):
        pass


class OddSelf:
    def __call__(this, block):
        pass


def two_args(a, b):
    pass


def make_closure():
    captured = []

    def process(block):
        captured.append(block)

    return process


@pytest.mark.parametrize(
    "fn",
    [
        block_fn,
        lambda b: None,
        lambda b=1: None,
        lambda b, *args, **kwargs: None,
        make_closure(),
        Worker().process,
        Worker(),
        Worker.from_class,
        Worker.static,
        OddSelf(),
        functools.partial(two_args, 1),
        functools.partial(two_args, b=1),
    ],
)
def test_block_functions(fn):
    task = make(fn)
    assert task.spawn_worker_function == task._process_blocks
    assert not task._is_spawn_function


@pytest.mark.parametrize(
    "fn",
    [
        spawn_fn,
        lambda: None,
        lambda *args: None,
        Worker().spawn,
        Spawner(),
        functools.partial(block_fn, 1),
    ],
)
def test_spawn_functions(fn):
    task = make(fn)
    assert task.spawn_worker_function is fn
    assert task._is_spawn_function


def test_two_arguments_rejected():
    with pytest.raises(ValueError) as e:
        make(two_args)
    assert str(e.value) == "daisy does not know what to pass into args: ['a', 'b']"
    with pytest.raises(ValueError, match=r"\['a', 'b'\]"):
        make(lambda a, b: None)


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        (dict(task_id=3), TypeError, "task_id"),
        (dict(task_id="a:b"), ValueError, "invalid task id 'a:b'"),
        (dict(total_roi=(0, 10)), TypeError, "total_roi"),
        (dict(read_roi=Roi((0, 0), (4, 4))), ValueError, "dimensions"),
        (dict(total_roi=Roi((None,), (None,))), ValueError, "total ROI must be bounded"),
        (dict(write_roi=Roi((1,), (0,))), ValueError, "write shape must be positive"),
        (dict(write_roi=Roi((1,), (5,))), ValueError, "Read ROI must contain write ROI."),
        (dict(fit="exact"), ValueError, "'exact'"),
        (dict(num_workers=-1), ValueError, "num_workers"),
        (dict(num_workers="2"), TypeError, "num_workers"),
        (dict(max_retries=-1), ValueError, "max_retries"),
        (dict(timeout="10"), TypeError, "timeout"),
        (dict(timeout=-1), ValueError, "timeout"),
        (dict(timeout=0), ValueError, "timeout"),
        (dict(process_function=5), TypeError, "process_function"),
        (dict(check_function=5), TypeError, "check_function"),
        (dict(check_function=(None, None, None)), ValueError, "check_function"),
        (dict(init_callback_fn="x"), TypeError, "init_callback_fn"),
        (dict(upstream_tasks=[5]), TypeError, "upstream_tasks"),
        (dict(upstream_tasks=5), TypeError, "upstream_tasks"),
        (dict(max_worker_restarts=-2), ValueError, "max_worker_restarts"),
        (dict(num_workers=2, max_workers=3), ValueError, "max_workers"),
    ],
)
def test_bad_arguments(kwargs, error, text):
    with pytest.raises(error) as e:
        make(**kwargs)
    assert text in str(e.value)


def test_read_roi_must_contain_write_roi_is_also_an_assertion_error():
    with pytest.raises(AssertionError, match="Read ROI must contain write ROI."):
        make(write_roi=Roi((3,), (3,)))
    # without conflicts the read ROI need not contain the write ROI
    make(write_roi=Roi((3,), (3,)), read_write_conflict=False)


def test_timeouts_and_aliases():
    assert make(timeout=1.5).timeout == 1.5
    task = make(timeout=datetime.timedelta(minutes=2))
    assert task.timeout == datetime.timedelta(minutes=2)
    assert task._spec().timeout == 120.0  # what the engine enforces
    assert make(max_workers=4).num_workers == 4
    assert make(num_workers=4).max_workers == 4
    task = make()
    task.max_workers = 3
    assert task.num_workers == 3
    assert make(done_marker_path=False).done_marker_path is None
    assert make(done_marker_path=os.path.join("x", "y")).done_marker_path == "x/y"


def test_check_function_forms():
    pre = lambda b: True  # noqa: E731
    post = lambda b: True  # noqa: E731
    assert make(check_function=pre).check_function is pre
    assert make(check_function=(pre, post)).check_function == (pre, post)
    assert make(check_function=(None, post)).check_function == (None, post)


def test_total_write_roi_2d_asymmetric():
    task = daisy.Task(
        "t", Roi((0, 0), (20, 30)), Roi((0, 0), (10, 10)), Roi((1, 2), (5, 5)), lambda b: None
    )
    assert task.total_write_roi == Roi((1, 2), (15, 25))


def test_zero_blocks_when_too_small():
    task = daisy.Task("t", Roi((0,), (3,)), Roi((0,), (5,)), Roi((1,), (3,)), lambda b: None)
    scheduler = daisy.Scheduler([task])
    assert scheduler.task_states["t"].total_block_count == 0
    assert scheduler.task_states["t"].is_done()
    assert scheduler.acquire_block("t") is None


def test_client_outside_worker_raises_key_error(monkeypatch):
    monkeypatch.delenv("DAISY_CONTEXT", raising=False)
    with pytest.raises(KeyError) as e:
        daisy.Client()
    assert "DAISY_CONTEXT" in str(e.value)


def test_module_surface():
    # Every public name resolves (the 1.x Worker and WorkerPool, loaded on first use,
    # included) and star-imports.
    assert len(set(daisy.__all__)) == len(daisy.__all__)
    assert {"Worker", "WorkerPool"} <= set(daisy.__all__)
    for name in daisy.__all__:
        assert hasattr(daisy, name), name
    namespace: dict = {}
    exec("from daisy import *", namespace)
    assert set(daisy.__all__) <= set(namespace)
    import funlib.geometry

    assert daisy.Roi is funlib.geometry.Roi
    assert daisy.Coordinate is funlib.geometry.Coordinate
    for module in [
        "coordinate",
        "roi",
        "block",
        "blocks",
        "task",
        "task_state",
        "dependency_graph",
        "ready_surface",
        "processing_queue",
        "scheduler",
        "server",
        "serial_server",
        "convenience",
        "server_observer",
        "cl_monitor",
        "client",
        "context",
        "worker",
        "worker_pool",
        "task_worker_pools",
        "block_bookkeeper",
        "logging",
        "freezable",
        "tcp",
        "messages",
    ]:
        assert hasattr(daisy, module), module
    assert daisy.block.BlockStatus is daisy.BlockStatus
    assert daisy.block.Block is daisy.Block
    assert daisy.scheduler.Scheduler is daisy.Scheduler
    assert daisy.server.Server is daisy.Server
    assert daisy.serial_server.SerialServer is daisy.SerialServer
    assert daisy.convenience.run_blockwise is daisy.run_blockwise
    assert daisy.client.Client is daisy.Client
    assert daisy.BlockStatus(2) is daisy.BlockStatus.SUCCESS
    assert daisy.BlockStatus.SUCCESS != 2
    assert isinstance(daisy.__version__, str)


def test_server_construction_is_cheap():
    import threading

    before = threading.active_count()
    server = daisy.Server()
    assert threading.active_count() == before
    assert server.hostname == "127.0.0.1" and server.port is None
    assert not server.stop_event.is_set()
    assert server.observers == []
