"""Scheduler conformance sequences (docs/semantics.md#scheduling), TaskState, ReadySurface, ProcessingQueue."""

import copy
import pickle

import pytest
from helpers import line

import daisy
from daisy import BlockStatus, Roi
from daisy.processing_queue import ProcessingQueue
from daisy.ready_surface import ReadySurface
from daisy.task_state import _FIELDS, TaskState

EMPTY_STATE = (
    "Started: False\nTotal Blocks: 0\nReady: 0\nProcessing: 0\nPending: 0\n"
    "Completed: 0\nSkipped: 0\nFailed: 0\nOrphaned: 0\n"
)


def task_1d(conflict, max_retries=2, check_function=None):
    return daisy.Task(
        "t",
        Roi((0,), (4,)),
        Roi((0,), (3,)),
        Roi((1,), (1,)),
        lambda b: None,
        read_write_conflict=conflict,
        max_retries=max_retries,
        check_function=check_function,
    )


def release(scheduler, block, status):
    block.status = status
    return scheduler.release_block(block)


def test_task_state_text_and_defaults():
    state = TaskState()
    assert str(state) == EMPTY_STATE
    assert repr(state) == EMPTY_STATE
    assert state.pending_count == 0
    assert state.is_done()
    for name, value in zip(_FIELDS, (True, 10, 2, 1, 3, 1, 1, 1), strict=True):
        setattr(state, name, value)
    assert state.pending_count == 2
    assert not state.is_done()
    assert str(state) == (
        "Started: True\nTotal Blocks: 10\nReady: 2\nProcessing: 1\nPending: 2\n"
        "Completed: 3\nSkipped: 1\nFailed: 1\nOrphaned: 1\n"
    )
    assert daisy.task_state.TaskState is TaskState


def test_9_8_no_conflict_order():
    scheduler = daisy.Scheduler([task_1d(False)])
    state = scheduler.task_states["t"]
    assert isinstance(state, TaskState)
    assert str(state) == (
        "Started: False\nTotal Blocks: 2\nReady: 2\nProcessing: 0\nPending: 0\n"
        "Completed: 0\nSkipped: 0\nFailed: 0\nOrphaned: 0\n"
    )
    assert type(state.total_block_count) is int
    b1 = scheduler.acquire_block("t")
    b2 = scheduler.acquire_block("t")
    assert (b1.block_id, b2.block_id) == (("t", 1), ("t", 2))
    assert b1.status == BlockStatus.CREATED
    assert scheduler.acquire_block("t") is None
    assert state.started and state.processing_count == 2 and state.ready_count == 0


def test_9_8_conflict_order():
    scheduler = daisy.Scheduler([task_1d(True)])
    b2 = scheduler.acquire_block("t")
    assert b2.block_id == ("t", 2)
    assert scheduler.acquire_block("t") is None
    state = scheduler.task_states["t"]
    assert (state.ready_count, state.pending_count) == (0, 1)
    gained = release(scheduler, b2, BlockStatus.SUCCESS)
    assert gained == {"t": state}
    assert scheduler.acquire_block("t").block_id == ("t", 1)


def test_9_8_retries_without_conflict():
    scheduler = daisy.Scheduler([task_1d(False, max_retries=2)])
    state = scheduler.task_states["t"]
    b1 = scheduler.acquire_block("t")
    b2 = scheduler.acquire_block("t")
    assert release(scheduler, b1, BlockStatus.FAILED) == {"t": state}
    again = scheduler.acquire_block("t")
    assert again.block_id == ("t", 1)
    release(scheduler, again, BlockStatus.SUCCESS)
    for attempt in range(3):
        result = release(scheduler, b2, BlockStatus.FAILED)
        if attempt < 2:
            assert result == {"t": state}
            b2 = scheduler.acquire_block("t")
            assert b2.block_id == ("t", 2)
        else:
            assert result == {}
    assert scheduler.acquire_block("t") is None
    assert (state.completed_count, state.failed_count) == (1, 1)
    assert state.is_done()


def test_9_8_retries_with_conflict_orphan():
    scheduler = daisy.Scheduler([task_1d(True, max_retries=2)])
    for _ in range(3):
        b2 = scheduler.acquire_block("t")
        assert b2.block_id == ("t", 2)
        release(scheduler, b2, BlockStatus.FAILED)
    state = scheduler.task_states["t"]
    assert (state.completed_count, state.failed_count, state.orphaned_count) == (0, 1, 1)
    assert state.is_done()
    assert scheduler.acquire_block("t") is None


@pytest.mark.parametrize("count_all_orphans", [True, False])
def test_9_8_fail_everything_2d(count_all_orphans):
    task = daisy.Task(
        "t",
        Roi((0, 0), (25, 25)),
        Roi((0, 0), (7, 7)),
        Roi((3, 3), (1, 1)),
        lambda b: None,
        max_retries=0,
        max_failures_before_success=0,  # daisy 1.x's rule: every block is tried
    )
    scheduler = daisy.Scheduler([task], count_all_orphans=count_all_orphans)
    assert scheduler.count_all_orphans is count_all_orphans
    graph = scheduler.dependency_graph.task_dependency_graphs["t"]
    assert (graph.num_blocks, graph.num_levels, graph.num_roots()) == (361, 16, 16)
    assert graph.level_stride == (4, 4)
    state = scheduler.task_states["t"]
    assert state.total_block_count == 361 and state.ready_count == 16
    failed = 0
    while (block := scheduler.acquire_block("t")) is not None:
        release(scheduler, block, BlockStatus.FAILED)
        failed += 1
    assert failed == 16
    assert (state.failed_count, state.orphaned_count) == (16, 345)
    assert state.failed_count + state.orphaned_count == state.total_block_count
    assert state.is_done()


def test_release_errors_change_nothing():
    scheduler = daisy.Scheduler([task_1d(False)])
    state = scheduler.task_states["t"]
    before = str(state)
    stranger = daisy.Block(Roi((0,), (4,)), Roi((0,), (3,)), Roi((1,), (1,)), task_id="t")
    stranger.status = BlockStatus.SUCCESS
    with pytest.raises(KeyError) as e:
        scheduler.release_block(stranger)
    assert "1" in str(e.value)
    assert str(state) == before
    block = scheduler.acquire_block("t")
    before = str(state)
    block.status = BlockStatus.PROCESSING
    with pytest.raises(RuntimeError, match="Unexpected status for released block"):
        scheduler.release_block(block)
    assert str(state) == before
    release(scheduler, block, BlockStatus.SUCCESS)
    assert state.completed_count == 1


def test_unknown_task_and_ready_tasks():
    task = task_1d(False)
    scheduler = daisy.Scheduler([task])
    with pytest.raises(daisy.UnknownTaskError, match="unknown task 'nope'"):
        scheduler.acquire_block("nope")
    assert scheduler.get_ready_tasks() == [task]
    assert scheduler.task_map == {"t": task}
    assert scheduler.task_queues["t"].num_ready == 2
    scheduler.acquire_block("t")
    scheduler.acquire_block("t")
    assert scheduler.get_ready_tasks() == []


def test_pre_check_skips_blocks():
    seen = []

    def pre_check(block):
        seen.append(block.block_id[1])
        return block.block_id[1] == 2

    scheduler = daisy.Scheduler([task_1d(True, check_function=pre_check)])
    # block 2 (level 0) is skipped, so block 1 is handed out at once
    block = scheduler.acquire_block("t")
    assert block.block_id == ("t", 1)
    state = scheduler.task_states["t"]
    assert (state.completed_count, state.skipped_count) == (1, 1)
    release(scheduler, block, BlockStatus.SUCCESS)
    assert seen == [2, 1]
    assert state.is_done() and state.completed_count == 2


def test_pre_check_exception_counts_as_not_done(caplog):
    def pre_check(block):
        raise RuntimeError("broken check")

    scheduler = daisy.Scheduler([task_1d(False, check_function=pre_check)])
    block = scheduler.acquire_block("t")
    assert block is not None
    assert scheduler.task_states["t"].skipped_count == 0


def test_tuple_check_function_pre_check_used_by_scheduler():
    scheduler = daisy.Scheduler([task_1d(False, check_function=(lambda b: True, None))])
    assert scheduler.acquire_block("t") is None
    state = scheduler.task_states["t"]
    assert (state.completed_count, state.skipped_count) == (2, 2)


def test_live_states_copy_and_pickle_as_plain_states():
    scheduler = daisy.Scheduler([task_1d(False)])
    state = scheduler.task_states["t"]
    scheduler.acquire_block("t")
    for clone in (copy.copy(state), pickle.loads(pickle.dumps(state))):
        assert type(clone) is TaskState
        assert str(clone) == str(state)
    with pytest.raises(AttributeError):
        state.ready_count = 5


def test_subclass_can_override_acquire_block():
    class Counting(daisy.Scheduler):
        calls = 0

        def acquire_block(self, task_id):
            Counting.calls += 1
            return super().acquire_block(task_id)

    scheduler = Counting([task_1d(False)])
    scheduler.acquire_block("t")
    assert Counting.calls == 1


def test_scheduler_accepts_single_task_and_upstream():
    a = line(10, task_id="A")
    b = line(10, task_id="B", upstream_tasks=[a])
    scheduler = daisy.Scheduler(b)
    assert list(scheduler.task_states) == ["A", "B"]
    assert scheduler.task_states["B"].ready_count == 0
    assert scheduler.task_states["B"].pending_count == 10
    graph = scheduler.dependency_graph
    assert graph.root_tasks() == ["A"]
    # The engine keeps no 1.x surface/boundary sets: asking says so, instead of handing out
    # sets that would always be empty.
    with pytest.raises(AttributeError, match="ready_surface is not available"):
        _ = scheduler.ready_surface
    assert not hasattr(scheduler, "ready_surface")


# --- ReadySurface and ProcessingQueue, the pure-Python public objects ---------------------


def make_surface(edges):
    """edges: list of (up, down)."""
    down = {}
    up = {}
    for u, d in edges:
        down.setdefault(u, []).append(d)
        up.setdefault(d, []).append(u)
    return ReadySurface(lambda n: down.get(n, []), lambda n: up.get(n, []))


def test_ready_surface_success_and_failure():
    # a -> c, b -> c, c -> d, b -> e
    surface = make_surface([("a", "c"), ("b", "c"), ("c", "d"), ("b", "e")])
    assert surface.mark_success("a") == []
    assert surface.surface == {"a"}
    assert surface.mark_success("b") == ["c", "e"]
    assert surface.mark_success("e") == []
    assert "e" not in surface.surface  # no downstream nodes
    assert surface.mark_failure("c") == {"d"}
    # a has all its downstream nodes finished and leaves the surface; b stays, as in
    # daisy 1.x, because e (finished, without downstream nodes) left the surface before
    assert surface.surface == {"b"}
    assert surface.boundary == {"c", "d"}


def test_ready_surface_orphans_reported_once():
    # a -> b -> d, a -> c -> d, d -> e
    surface = make_surface([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e")])
    assert surface.mark_success("a") == ["b", "c"]
    assert surface.mark_failure("b") == {"d", "e"}
    assert surface.mark_success("c") == []
    with pytest.raises(AssertionError):
        surface.mark_success("e")


def test_processing_queue_roots_first():
    queue = ProcessingQueue(2, iter(["r1", "r2"]))
    assert queue.num_ready == 2
    queue.ready_queue.append("x")
    assert queue.num_ready == 3
    assert [queue.get_next() for _ in range(4)] == ["r1", "r2", "x", None]
    assert queue.block_retries["anything"] == 0
    assert queue.processing_blocks == set()
