"""The Python surface as users try it: values daisy 1.x accepts, graph iterators that 1.x
code iterates and 2.0 code takes len() of, engine log records under ``daisy.*``, the
progress bar's counts while workers are busy, and public names for every exception."""

import copy
import logging
import os
import pickle
import threading
import time

import pytest
from helpers import chain, line

import daisy
from daisy import Roi

TIMEOUT = 10

pytestmark = pytest.mark.timeout(120)

ROI = Roi((0,), (1,))


# --- Block: any task id, as daisy 1.x ------------------------------------------------------


def test_block_accepts_a_task_id_that_is_not_a_str():
    block = daisy.Block(ROI, ROI, ROI, block_id=1, task_id=1)
    assert block.task_id == 1
    assert block.block_id == (1, 1)
    assert repr(block) == f"1/1 with read ROI {ROI} and write ROI {ROI}"
    same = daisy.Block(ROI, ROI, ROI, block_id=1, task_id=1)
    assert block == same
    assert hash(block) == hash(same) == hash((1, 1))
    assert block != daisy.Block(ROI, ROI, ROI, block_id=1, task_id="1")
    assert block != daisy.Block(ROI, ROI, ROI, block_id=1)
    for copied in (pickle.loads(pickle.dumps(block)), block.copy(), copy.deepcopy(block)):
        assert copied.task_id == 1
        assert copied == block
    key = ["a", "list"]
    keyed = daisy.Block(ROI, ROI, ROI, block_id=2, task_id=key)
    assert keyed.task_id is key
    assert keyed.copy().task_id == key
    assert keyed.copy().task_id is not key  # deep copies, as daisy 1.x's copy()
    keyed.task_id = "t"
    assert keyed.block_id == ("t", 2)
    keyed.block_id = (3.5, 4)
    assert (keyed.task_id, keyed.block_id) == (3.5, (3.5, 4))


def test_block_with_a_task_id_that_is_not_a_str_is_refused_when_released_to_a_scheduler():
    scheduler = daisy.Scheduler([line(2)])
    block = scheduler.acquire_block("t")
    block.status = daisy.BlockStatus.SUCCESS
    block.task_id = 1
    with pytest.raises(daisy.TaskTypeError, match=r"task_id 1 \(int\).*str ids") as e:
        scheduler.release_block(block)
    assert isinstance(e.value, TypeError)
    # Nothing changed: the block is still out and can be returned under its task's id.
    assert scheduler.task_states["t"].processing_count == 1
    block.task_id = "t"
    scheduler.release_block(block)
    assert scheduler.task_states["t"].completed_count == 1
    a, b = chain()
    graph = daisy.DependencyGraph([b])
    tiling = graph.task_dependency_graphs["A"]
    block = next(tiling.level_blocks(1))
    foreign = block.copy()
    foreign.task_id = 7
    for upstream in (graph.upstream, tiling.upstream, tiling.downstream):
        with pytest.raises(daisy.TaskTypeError, match=r"task_id 7 \(int\)"):
            upstream(foreign)
    assert tiling.upstream(block) != []
    # None is not a task's id either (it said "unknown task ''").
    foreign.task_id = None
    with pytest.raises(daisy.TaskTypeError, match=r"task_id None \(NoneType\)"):
        graph.upstream(foreign)
    out = daisy.Scheduler([line(2)])
    block = out.acquire_block("t")
    block.task_id = None
    with pytest.raises(daisy.TaskTypeError, match="task_id None"):
        out.release_block(block)


# --- graph iterators: lazy, with a len() --------------------------------------------------


def test_graph_iterators_have_a_len_and_stay_lazy():
    graph = daisy.BlockwiseDependencyGraph(
        "t", Roi((0, 0), (3, 3)), Roi((1, 1), (1, 1)), True, "valid", Roi((0, 0), (6, 6))
    )
    deps = graph.enumerate_all_dependencies()
    assert len(deps) == graph.num_blocks == 16
    block, upstream = next(deps)  # daisy 1.x: a generator
    assert (block.block_id, upstream) == (("t", 12), [])
    assert len(deps) == 15
    assert len(list(deps)) == 15
    assert len(deps) == 0
    roots = graph.root_gen()
    assert len(roots) == graph.num_roots() == 4
    next(roots)
    assert len(roots) == 3
    assert [len(graph.level_blocks(level)) for level in range(graph.num_levels)] == [4] * 4
    assert len(graph.get_subgraph_blocks(Roi((1, 1), (2, 2)))) == 4

    a, b = chain()
    tasks = daisy.DependencyGraph([b])
    assert len(tasks.root_gen("A")) == tasks.num_roots("A") == 4
    num_roots, root_gen = tasks.roots()["A"]
    assert len(root_gen) == num_roots
    for task_id in ("A", "B"):
        task_graph = tasks.task_dependency_graphs[task_id]
        assert len(task_graph.enumerate_all_dependencies()) == tasks.num_blocks(task_id) == 16
    # An empty task: empty iterators.
    empty = daisy.BlockwiseDependencyGraph(
        "e", Roi((0,), (3,)), Roi((1,), (1,)), True, "valid", Roi((0,), (2,))
    )
    assert len(empty.enumerate_all_dependencies()) == 0 == len(list(empty.root_gen()))


# --- engine log records under daisy.* ------------------------------------------------------


def dying_worker_task(directory):
    """A task whose first worker dies (the engine warns that its block was lost)."""
    died = directory / "died"

    def process(block):
        if not died.exists():
            died.touch()
            os._exit(3)

    return line(2, process, task_id="dies", num_workers=1, max_retries=2)


def engine_records(records):
    """The records the Rust engine logged (their source file is a .rs file)."""
    return [r for r in records if r.pathname.endswith(".rs")]


def test_engine_log_records_are_in_the_daisy_logger_hierarchy(in_tmp_dir, caplog):
    caplog.set_level(logging.INFO)
    states = daisy.Server().run_blockwise([dying_worker_task(in_tmp_dir)])
    assert states["dies"].completed_count == 2
    records = engine_records(caplog.records)
    assert records
    assert all(r.name == "daisy" or r.name.startswith("daisy.") for r in records), {
        r.name for r in records
    }
    assert not [r.name for r in records if r.name.startswith(("daisy_", "_daisy"))]
    died = [r for r in records if r.levelno == logging.WARNING and "died" in r.getMessage()]
    assert died, [(r.name, r.getMessage()) for r in records]
    assert died[0].name == "daisy.server.supervision"


def test_setting_the_daisy_logger_to_error_silences_engine_warnings(in_tmp_dir, caplog):
    caplog.set_level(logging.DEBUG)  # the root logger: everything that is logged is seen
    daisy_logger = logging.getLogger("daisy")
    old = daisy_logger.level
    daisy_logger.setLevel(logging.ERROR)
    try:
        states = daisy.Server().run_blockwise([dying_worker_task(in_tmp_dir)])
    finally:
        daisy_logger.setLevel(old)
    assert states["dies"].completed_count == 2
    below_error = [
        (r.name, r.levelname, r.getMessage())
        for r in engine_records(caplog.records)
        if r.levelno < logging.ERROR
    ]
    assert below_error == []


# --- the progress bar while workers are busy -----------------------------------------------


def test_progress_bar_shows_both_blocks_two_workers_hold(in_tmp_dir):
    go = in_tmp_dir / "go"

    def process(block):
        (in_tmp_dir / f"started_{block.block_id[1]}").touch()
        deadline = time.monotonic() + TIMEOUT
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.005)

    server = daisy.Server(prefetch=1)
    monitor = daisy.cl_monitor.CLMonitor(server)
    shown = []

    def watch():
        deadline = time.monotonic() + TIMEOUT / 2
        try:
            while len(list(in_tmp_dir.glob("started_*"))) < 2 and time.monotonic() < deadline:
                time.sleep(0.005)
            # Both workers hold a block (and nothing else happens until `go`): the bar
            # must come to show both, not the count of the first acquire.
            while time.monotonic() < deadline:
                bar = monitor.progresses.get("t")
                if bar is not None and "▶=2" in bar.postfix:
                    shown.append(bar.postfix)
                    break
                time.sleep(0.005)
        finally:
            go.touch()

    watcher = threading.Thread(target=watch)
    watcher.start()
    states = server.run_blockwise([line(2, process, num_workers=2)])
    watcher.join()
    assert states["t"].completed_count == 2
    assert shown, "the bar never showed the two blocks in processing"


# --- exceptions users see have public names ------------------------------------------------


def roi_task(**kwargs):
    return daisy.Task(
        "t", Roi((0,), (10,)), Roi((0,), (2,)), Roi((0,), (1,)), lambda b: None, **kwargs
    )


BAD_INPUTS = {
    "read ROI not containing the write ROI": lambda: daisy.Task(
        "t", Roi((0,), (10,)), Roi((0,), (2,)), Roi((0,), (4,)), lambda b: None
    ),
    "unknown fit": lambda: roi_task(fit="bogus"),
    "count of the wrong type": lambda: roi_task(num_workers="two"),
    "count too large": lambda: roi_task(num_workers=2**64),
    "negative timeout": lambda: roi_task(timeout=-1),
    "duplicate task ids": lambda: daisy.Scheduler([roi_task(), roi_task()]),
    "unknown task": lambda: daisy.Scheduler([roi_task()]).acquire_block("nope"),
    "release of a block not handed out": lambda: daisy.Scheduler([roi_task()]).release_block(
        daisy.Block(Roi((0,), (10,)), Roi((0,), (2,)), Roi((0,), (1,)), task_id="t")
    ),
    "negative block id": lambda: daisy.Block(ROI, ROI, ROI, block_id=-1),
    "ROI that is not a ROI": lambda: daisy.Block(ROI, ROI, "[0:1]", block_id=1),
    "graph with an unknown fit": lambda: daisy.BlockwiseDependencyGraph(
        "t", ROI, ROI, True, "bogus"
    ),
    "graph of an unknown task": lambda: daisy.DependencyGraph([roi_task()]).num_blocks("nope"),
    "client without a context": lambda: daisy.Client(),
    "client of a server that is gone": lambda: daisy.Client(
        daisy.Context(hostname="127.0.0.1", port=1, task_id="t", worker_id=0, token="x")
    ),
    "daisy.tcp client without a token": lambda: daisy.tcp.TCPClient("127.0.0.1", 1),
}


def chained(exception):
    """The exception and those it was raised from or during."""
    seen = []
    while exception is not None and exception not in seen:
        seen.append(exception)
        exception = exception.__cause__ or exception.__context__
    return seen


def is_public(cls):
    module = cls.__module__
    return (
        not cls.__qualname__.startswith("_")
        and "._" not in f".{cls.__qualname__}"
        and not any(part.startswith("_") for part in module.split(".") if module != "builtins")
        and module != "pyo3_runtime"
    )


@pytest.mark.parametrize("what", sorted(BAD_INPUTS))
def test_exceptions_users_see_have_public_names(what, monkeypatch):
    monkeypatch.delenv("DAISY_CONTEXT", raising=False)
    monkeypatch.delenv(daisy.tcp.TOKEN_ENV, raising=False)
    with pytest.raises(Exception) as raised:
        BAD_INPUTS[what]()
    for exception in chained(raised.value):
        for cls in type(exception).__mro__:
            if cls is object or cls is BaseException:
                continue
            assert is_public(cls), f"{what}: {cls.__module__}.{cls.__qualname__}"


def test_every_exception_class_of_daisy_is_public():
    import daisy.errors
    import daisy.tcp.exceptions

    classes = [
        value
        for module in (daisy, daisy.errors, daisy.tcp, daisy.tcp.exceptions, daisy.messages)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseException)
    ]
    assert len(classes) > 15
    private = [f"{c.__module__}.{c.__qualname__}" for c in classes if not is_public(c)]
    assert private == []
