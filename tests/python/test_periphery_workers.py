"""daisy.worker, daisy.worker_pool and daisy.task_worker_pools with real forked processes (docs/semantics.md#workers-and-daisy_context)."""

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
import types

import pytest

import daisy.worker as worker_module
from daisy.context import Context
from daisy.messages import RemoteException
from daisy.server_observer import ServerObservee
from daisy.task_worker_pools import TaskWorkerPools
from daisy.worker import Worker, next_worker_id
from daisy.worker_pool import WorkerPool

TIMEOUT = 30


def wait_until(predicate, timeout=TIMEOUT, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def wait_for_exit(worker):
    worker.process.join(TIMEOUT)
    assert not worker.process.is_alive()


def get_error(pool):
    """The first error a worker of `pool` queued (waits for the queue's feeder)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            pool.check_for_errors()
        except Exception as e:  # that is what we wait for
            return e
        if time.monotonic() > deadline:
            raise AssertionError("no error arrived")
        time.sleep(0.02)


# spawn functions (run in forked children) ----------------------------------------------------


def print_context():
    print("DAISY_CONTEXT=" + os.environ["DAISY_CONTEXT"])
    subprocess.run(["sh", "-c", "echo from a subprocess; echo subprocess error >&2"], check=True)


def exit_zero():
    pass


def exit_three():
    sys.exit(3)


def raise_error():
    raise RuntimeError("spawn failed")


class Unpicklable(Exception):
    def __init__(self, a, b):
        super().__init__(a)


def raise_unpicklable():
    raise Unpicklable("x", "y")


def sleep_forever():
    while True:
        time.sleep(0.1)


def interrupt():
    raise KeyboardInterrupt


@pytest.fixture(autouse=True)
def log_basedir(tmp_path, monkeypatch):
    """Worker logs go to the test's directory, never to ./daisy_logs."""
    import daisy.logging as daisy_logging

    monkeypatch.setattr(daisy_logging, "LOG_BASEDIR", tmp_path)


@pytest.fixture
def context(tmp_path):
    return Context(hostname="127.0.0.1", port=1234, task_id="A", logdir=str(tmp_path))


# --- worker ids (docs/semantics.md#workers-and-daisy_context) --------------------------------------------------------------------------

ID_SCRIPT = textwrap.dedent(
    """
    from daisy.context import Context
    from daisy.worker import Worker, next_worker_id
    from daisy.worker_pool import WorkerPool
    import daisy.logging
    daisy.logging.set_log_basedir(None)

    def noop():
        pass

    pool_a = WorkerPool(noop, Context(task_id="A"))
    pool_a.set_num_workers(2)
    pool_b = WorkerPool(noop, Context(task_id="B"))
    pool_b.set_num_workers(1)
    ids = list(pool_a.workers) + list(pool_b.workers)
    w = Worker(noop)
    ids.append(w.worker_id)
    ids.append(next_worker_id())
    pool_a.stop(); pool_b.stop(); w.stop()
    print(ids)
    """
)


def test_worker_ids_start_at_zero_and_come_from_one_process_global_counter():
    result = subprocess.run(
        [sys.executable, "-c", ID_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[0, 1, 2, 3, 4]"


def test_next_worker_id_increments():
    a = next_worker_id()
    b = next_worker_id()
    assert b == a + 1


# --- Worker (docs/semantics.md#workers-and-daisy_context) ------------------------------------------------------------------------------


def test_worker_starts_immediately_with_context_env_and_redirected_logs(context, tmp_path):
    worker = Worker(print_context, context)
    assert worker.process is not None
    wait_for_exit(worker)
    assert worker.process.exitcode == 0

    worker_id = worker.worker_id
    assert worker.context["worker_id"] == str(worker_id)
    assert "worker_id" not in context  # the given context was copied
    expected_env = f"logdir={tmp_path}:hostname=127.0.0.1:port=1234:task_id=A:worker_id={worker_id}"
    assert worker.context.to_env() == expected_env
    assert repr(worker) == f"worker ({expected_env})"

    out = (tmp_path / "A" / f"worker_{worker_id}.out").read_text()
    err = (tmp_path / "A" / f"worker_{worker_id}.err").read_text()
    assert out == f"DAISY_CONTEXT={expected_env}\nfrom a subprocess\n"
    assert err == "subprocess error\n"
    worker.stop()
    assert worker.process is None


def test_worker_attributes(context):
    queue = object()
    worker = Worker(exit_zero, context, error_queue=queue)
    assert worker.spawn_function is exit_zero
    assert worker.error_queue is queue
    assert isinstance(worker.worker_id, int)
    wait_for_exit(worker)
    worker.stop()


def test_worker_without_context_uses_a_default_one(tmp_path, monkeypatch):
    import daisy.logging as daisy_logging

    monkeypatch.setattr(daisy_logging, "LOG_BASEDIR", tmp_path)
    worker = Worker(print_context)
    wait_for_exit(worker)
    assert worker.context.to_env() == f"logdir={tmp_path}:worker_id={worker.worker_id}"
    # no task id: logs directly in the base directory
    out = (tmp_path / f"worker_{worker.worker_id}.out").read_text()
    assert out.startswith(f"DAISY_CONTEXT=logdir={tmp_path}:worker_id={worker.worker_id}\n")
    worker.stop()


def test_worker_without_logdir_does_not_redirect(tmp_path, capfd):
    ctx = Context(task_id="A", logdir=None)
    worker = Worker(print_context, ctx)
    wait_for_exit(worker)
    assert worker.process.exitcode == 0
    out, err = capfd.readouterr()
    assert f"DAISY_CONTEXT=logdir=None:task_id=A:worker_id={worker.worker_id}" in out
    assert "subprocess error" in err
    worker.stop()


def test_worker_that_raises_reports_the_exception_and_exits_1(context, tmp_path):
    pool = WorkerPool(raise_error, context)
    pool.set_num_workers(1)
    (worker,) = pool.workers.values()
    wait_for_exit(worker)
    assert worker.process.exitcode == 1
    error = get_error(pool)
    assert type(error) is RuntimeError and error.args == ("spawn failed",)
    err = (tmp_path / "A" / f"worker_{worker.worker_id}.err").read_text()
    assert "Traceback" in err and "RuntimeError: spawn failed" in err
    pool.stop()


def test_worker_unpicklable_exception_arrives_as_stand_in(context):
    pool = WorkerPool(raise_unpicklable, context)
    pool.set_num_workers(1)
    error = get_error(pool)
    assert isinstance(error, RemoteException)
    assert repr(error) == repr(Unpicklable("x", "y"))
    pool.stop()


def test_worker_keyboard_interrupt_ends_quietly(context):
    pool = WorkerPool(interrupt, context)
    pool.set_num_workers(1)
    (worker,) = pool.workers.values()
    wait_for_exit(worker)
    assert worker.process.exitcode == 0
    # A process flushes its queues before it exits: an error it queued would be readable now.
    pool.check_for_errors()  # nothing queued
    pool.stop()


def test_worker_stop_start(context):
    worker = Worker(sleep_forever, context)
    process = worker.process
    worker.start()  # no-op while running
    assert worker.process is process
    assert process.is_alive()
    worker.stop()
    assert worker.process is None
    assert not process.is_alive()
    assert process.exitcode == -signal.SIGTERM
    worker.stop()  # no-op
    worker_id = worker.worker_id
    worker.start()  # restarts, same id
    assert worker.process is not None and worker.process.is_alive()
    assert worker.worker_id == worker_id
    worker.stop()


def test_worker_stop_kills_after_the_grace_period(context, monkeypatch):
    monkeypatch.setattr(worker_module, "STOP_GRACE", 0.5)
    ignoring = multiprocessing.get_context("fork").Event()

    def ignore_sigterm_and_say_so():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        ignoring.set()
        sleep_forever()

    worker = Worker(ignore_sigterm_and_say_so, context)
    assert ignoring.wait(TIMEOUT), "the worker did not install its handler"
    process = worker.process
    worker.stop()
    assert process.exitcode == -signal.SIGKILL


def test_worker_argument_errors(context):
    with pytest.raises(TypeError, match=r"Worker\(\): spawn_function must be callable, got 3"):
        Worker(3, context)
    with pytest.raises(TypeError, match=r"Worker\(\): context must be a daisy.Context or None"):
        Worker(exit_zero, {"task_id": "A"})


# --- WorkerPool (docs/semantics.md#workers-and-daisy_context) --------------------------------------------------------------------------


def test_worker_pool_attributes(context):
    pool = WorkerPool(exit_zero, context)
    assert pool.spawn_function is exit_zero
    assert pool.context is context
    assert pool.workers == {}
    assert pool.error_queue._maxsize == 100
    with pool.workers_lock:
        pass
    with pytest.raises(TypeError, match=r"WorkerPool\(\): spawn_worker_function must be callable"):
        WorkerPool(None)


def test_worker_pool_set_inc_and_stop(context):
    pool = WorkerPool(sleep_forever, context)
    pool.set_num_workers(3)
    ids = list(pool.workers)
    assert len(ids) == 3 and ids == sorted(ids)
    assert all(w.process.is_alive() for w in pool.workers.values())
    assert all(w.context["task_id"] == "A" for w in pool.workers.values())

    # shrinking stops the youngest entries
    youngest = [pool.workers[i] for i in ids[1:]]
    pool.set_num_workers(1)
    assert list(pool.workers) == ids[:1]
    assert all(w.process is None for w in youngest)

    pool.inc_num_workers(2)
    assert len(pool.workers) == 3
    new_ids = list(pool.workers)[1:]
    assert min(new_ids) > max(ids)

    pool.stop(new_ids[0])
    assert list(pool.workers) == [ids[0], new_ids[1]]
    with pytest.raises(KeyError, match=r"no worker with worker_id=12345 in this pool"):
        pool.stop(12345)

    pool.set_num_workers(2)  # same count: nothing happens
    assert list(pool.workers) == [ids[0], new_ids[1]]

    pool.stop()
    assert pool.workers == {}


def test_worker_pool_argument_errors(context):
    pool = WorkerPool(exit_zero, context)
    with pytest.raises(ValueError, match=r"set_num_workers\(\): num_workers must be >= 0, got -1"):
        pool.set_num_workers(-1)
    with pytest.raises(
        TypeError, match=r"inc_num_workers\(\): num_workers must be an int, got '2'"
    ):
        pool.inc_num_workers("2")
    assert pool.workers == {}


def test_reap_dead_workers_removes_crashed_and_keeps_normally_exited(context):
    spawned = iter([exit_zero, exit_three, raise_error, sleep_forever])
    pool = WorkerPool(lambda: None, context)
    # one pool, four different behaviours: start each worker with its own function
    for function in spawned:
        pool.spawn_function = function
        pool.inc_num_workers(1)
    zero, three, raised, alive = list(pool.workers.values())
    for w in (zero, three, raised):
        wait_for_exit(w)

    assert pool.reap_dead_workers() == 2
    assert list(pool.workers) == [zero.worker_id, alive.worker_id]
    assert zero.process is None  # kept, not respawned
    assert alive.process.is_alive()
    assert pool.reap_dead_workers() == 0

    # refilling counts the kept entry: only the two crashed ones come back
    pool.spawn_function = sleep_forever
    pool.set_num_workers(4)
    assert len(pool.workers) == 4
    assert zero.worker_id in pool.workers
    error = get_error(pool)
    assert type(error) is RuntimeError and str(error) == "spawn failed"
    pool.stop()


def test_reap_dead_workers_works_on_any_object_with_a_process(context, caplog):
    class FakeProcess:
        def __init__(self, alive, exitcode, pid):
            self.alive, self.exitcode, self.pid = alive, exitcode, pid

        def is_alive(self):
            return self.alive

    pool = WorkerPool(exit_zero, context)
    entries = {
        1: types.SimpleNamespace(process=FakeProcess(False, 0, 101)),
        2: types.SimpleNamespace(process=FakeProcess(False, -9, 102)),
        3: types.SimpleNamespace(process=FakeProcess(True, None, 103)),
        4: types.SimpleNamespace(process=None),
        5: types.SimpleNamespace(process=FakeProcess(False, 1, 105)),
    }
    pool.workers.update(entries)
    with caplog.at_level("INFO"):
        assert pool.reap_dead_workers() == 2
    assert list(pool.workers) == [1, 3, 4]
    assert entries[1].process is None
    assert entries[3].process is not None
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2
    assert "102" in warnings[0].getMessage() and "-9" in warnings[0].getMessage()
    assert "105" in warnings[1].getMessage()
    infos = [r for r in caplog.records if r.levelname == "INFO"]
    assert any("101" in r.getMessage() for r in infos)


def test_check_for_errors_without_errors_does_nothing(context):
    WorkerPool(exit_zero, context).check_for_errors()


# --- TaskWorkerPools ---------------------------------------------------------------------------


class FakeServer(ServerObservee):
    def __init__(self):
        super().__init__()
        self.hostname = "10.0.0.1"
        self.port = 4321


def make_task(task_id, function, num_workers=1, max_worker_restarts=10):
    return types.SimpleNamespace(
        task_id=task_id,
        spawn_worker_function=function,
        num_workers=num_workers,
        max_worker_restarts=max_worker_restarts,
    )


def test_task_worker_pools_create_one_pool_per_task_with_its_context(tmp_path, monkeypatch):
    import daisy.logging as daisy_logging

    monkeypatch.setattr(daisy_logging, "LOG_BASEDIR", tmp_path)
    server = FakeServer()
    a, b = make_task("A", sleep_forever, 2), make_task("B", sleep_forever, 1)
    pools = TaskWorkerPools([a, b], server)
    assert pools in server.observers
    assert list(pools.worker_pools) == ["A", "B"]
    assert pools.max_block_failures == 3
    assert (
        pools.worker_pools["A"].context.to_env()
        == f"logdir={tmp_path}:hostname=10.0.0.1:port=4321:task_id=A"
    )

    pools.recruit_workers({"A": a})
    assert len(pools.worker_pools["A"].workers) == 2
    assert pools.worker_pools["B"].workers == {}
    pools.recruit_workers({"A": a, "B": b})
    assert len(pools.worker_pools["A"].workers) == 2
    assert len(pools.worker_pools["B"].workers) == 1
    ids = list(pools.worker_pools["A"].workers) + list(pools.worker_pools["B"].workers)
    assert ids == sorted(ids)
    assert pools.restarts == {"A": 0, "B": 0}
    pools.stop()
    assert all(pool.workers == {} for pool in pools.worker_pools.values())


def test_task_worker_pools_replace_crashed_workers_within_the_budget(context):
    server = types.SimpleNamespace(hostname="h", port=1)  # not observable: fine
    task = make_task("A", exit_three, num_workers=2, max_worker_restarts=3)
    pools = TaskWorkerPools([task], server)
    pool = pools.worker_pools["A"]
    pools.recruit_workers({"A": task})
    started = 2
    for expected_restarts in (2, 3, 3):
        wait_until(lambda: all(not w.process.is_alive() for w in pool.workers.values()))
        crashed = len(pool.workers)
        assert pools.check_worker_health() == crashed
        assert pool.workers == {}
        pools.recruit_workers({"A": task})
        started = min(started + 2, 2 + 3)
        assert pools.restarts["A"] == expected_restarts
        assert pools.workers_started["A"] == started
    assert pools.restarts_left(task) == 0
    pools.stop()


def test_task_worker_pools_do_not_replace_workers_that_exit_zero():
    server = types.SimpleNamespace(hostname="h", port=1)
    task = make_task("A", exit_zero, num_workers=2)
    pools = TaskWorkerPools([task], server)
    pools.recruit_workers({"A": task})
    pool = pools.worker_pools["A"]
    wait_until(lambda: all(not w.process.is_alive() for w in pool.workers.values()))
    assert pools.check_worker_health() == 0
    pools.recruit_workers({"A": task})
    assert pools.workers_started["A"] == 2
    assert all(w.process is None for w in pool.workers.values())
    pools.stop()


def test_task_worker_pools_check_worker_health_reraises_spawn_errors():
    server = types.SimpleNamespace(hostname="h", port=1)
    task = make_task("A", raise_error)
    pools = TaskWorkerPools([task], server)
    pools.recruit_workers({"A": task})
    error = None
    deadline = time.monotonic() + TIMEOUT
    while error is None:
        try:
            pools.check_worker_health()
        except RuntimeError as e:
            error = e
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert str(error) == "spawn failed"
    pools.stop()


def test_task_worker_pools_replace_a_worker_after_too_many_block_failures():
    server = FakeServer()
    task = make_task("A", sleep_forever, num_workers=1, max_worker_restarts=1)
    pools = TaskWorkerPools([task], server, max_block_failures=2)
    pools.recruit_workers({"A": task})
    pool = pools.worker_pools["A"]
    (first,) = list(pool.workers)
    block = types.SimpleNamespace(block_id=("A", 0))
    context = Context(task_id="A", worker_id=first)
    for _ in range(2):
        server.notify_block_failure(block, RuntimeError("x"), context)
    assert list(pool.workers) == [first]
    server.notify_block_failure(block, RuntimeError("x"), context)  # the third: replaced
    assert first not in pool.workers and len(pool.workers) == 1
    assert pools.restarts["A"] == 1
    (second,) = list(pool.workers)
    context2 = Context(task_id="A", worker_id=second)
    for _ in range(5):  # budget used up: kept
        server.notify_block_failure(block, RuntimeError("x"), context2)
    assert list(pool.workers) == [second]
    assert pools.failure_counts == {"A": {first: 3, second: 5}}
    pools.stop()
