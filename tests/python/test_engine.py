"""The Rust engine module `daisy._daisy` itself (the contract in python/daisy/_daisy.pyi).

These tests use the engine directly, below the daisy 1.x API that python/daisy/*.py builds on it.
"""

import copy
import logging
import os
import pickle
import select
import signal
import sys
import threading
import time
import traceback

import pytest
from funlib.geometry import Coordinate, Roi
from helpers import ids

from daisy import _daisy
from daisy.block import BlockStatus

# ---------------------------------------------------------------------------------------------
# helpers


def spec(
    task_id,
    total,
    read,
    write,
    conflict=True,
    fit="valid",
    num_workers=1,
    max_retries=2,
    timeout=None,
    upstream=(),
    pre_check=None,
    post_check=None,
    init_callback=None,
    max_worker_restarts=10,
    done_marker_path=None,
):
    task = _daisy.TaskSpec(
        task_id,
        total,
        read,
        write,
        read_write_conflict=conflict,
        fit=fit,
        num_workers=num_workers,
        max_retries=max_retries,
        timeout=timeout,
        check_function=(pre_check, post_check),
        init_callback_fn=init_callback,
        max_worker_restarts=max_worker_restarts,
        done_marker_path=done_marker_path,
    )
    if not upstream:
        return task
    # The engine links tasks to their upstream tasks given by position.
    upstream = list(upstream)
    return _daisy.link_tasks(
        [task, *upstream], [list(range(1, len(upstream) + 1))] + [[] for _ in upstream]
    )[0]


def grid_2d(task_id="t", conflict=True, **kwargs):
    """docs/semantics.md#levels-and-conflicts: 16 blocks in 4 levels."""
    return spec(
        task_id, Roi((0, 0), (6, 6)), Roi((0, 0), (3, 3)), Roi((1, 1), (1, 1)), conflict, **kwargs
    )


def line_1d(conflict, **kwargs):
    """docs/semantics.md#scheduling: 2 blocks, ids 1 and 2."""
    return spec("t", Roi((0,), (4,)), Roi((0,), (3,)), Roi((1,), (1,)), conflict, **kwargs)


def release(scheduler, block, status=BlockStatus.SUCCESS):
    block.status = status
    return scheduler.release_block(block)


def acquire_all(scheduler, task_id):
    blocks = []
    while (block := scheduler.acquire_block(task_id)) is not None:
        blocks.append(block)
    return blocks


def counters(scheduler, task_id):
    c = scheduler.counters(task_id)
    return (
        c.started,
        c.total_block_count,
        c.ready_count,
        c.processing_count,
        c.completed_count,
        c.skipped_count,
        c.failed_count,
        c.orphaned_count,
    )


# ---------------------------------------------------------------------------------------------
# Block (docs/semantics.md#blocks-and-block-ids)


def test_block_ids_are_computed_from_the_total_roi():
    block = _daisy.Block(Roi((0, 0), (6, 6)), Roi((1, 1), (3, 3)), Roi((2, 2), (1, 1)), task_id="t")
    assert block.block_id == ("t", 12)  # index (2, 2)
    assert block.task_id == "t"


def test_block_ids_follow_the_write_offset():
    total = Roi((0, 0), (20, 20))
    # index (2, 2) → 12; index (3, 4) → 31 (docs/semantics.md#blocks-and-block-ids)
    assert _daisy.Block(total, Roi((4, 4), (3, 3)), Roi((4, 4), (2, 2))).block_id == (None, 12)
    assert _daisy.Block(total, Roi((6, 8), (2, 2)), Roi((6, 8), (2, 2))).block_id == (None, 31)
    # The index truncates, relative to the total ROI's begin; negative components clamp to 0.
    assert _daisy.Block(Roi((1,), (10,)), Roi((0,), (5,)), Roi((1,), (3,))).block_id[1] == 0
    assert _daisy.Block(Roi((10,), (10,)), Roi((0,), (3,)), Roi((0,), (3,))).block_id[1] == 0
    # docs/semantics.md#blocks-and-block-ids: read [0,5), write [1,4) → index trunc(1/3) = 0; the next write [4:7] → 1.
    total = Roi((0,), (12,))
    assert _daisy.Block(total, Roi((0,), (5,)), Roi((1,), (3,))).block_id[1] == 0
    assert _daisy.Block(total, Roi((3,), (5,)), Roi((4,), (3,))).block_id[1] == 1


def test_block_id_given_explicitly():
    read, write = Roi((0,), (3,)), Roi((1,), (1,))
    block = _daisy.Block(None, read, write, block_id=2**64 - 1, task_id="x")
    assert block.block_id == ("x", 2**64 - 1)
    assert _daisy.Block(read, read, write, 7).block_id == (None, 7)
    for bad in (-1, 2**64, 10**30):
        with pytest.raises(ValueError, match="block_id"):
            _daisy.Block(read, read, write, block_id=bad)
    with pytest.raises(TypeError, match="block_id"):
        _daisy.Block(read, read, write, block_id="3")
    # Any task id, as in daisy 1.x (a scheduler refuses one that is not a str).
    assert _daisy.Block(read, read, write, block_id=3, task_id=5).block_id == (5, 3)
    with pytest.raises(TypeError, match="read_roi"):
        _daisy.Block(read, (0, 3), write, block_id=3)


def test_block_defaults():
    write = Roi((2, 2), (1, 1))
    block = _daisy.Block(Roi((0, 0), (6, 6)), Roi((1, 1), (3, 3)), write, task_id="t")
    assert block.status is BlockStatus.CREATED
    assert block.started_processing is None
    assert block.stopped_processing is None
    assert block.requested_write_roi == write


def test_block_equality_and_hash_use_the_id_only():
    total = Roi((0,), (10,))
    a = _daisy.Block(total, Roi((0,), (2,)), Roi((0,), (2,)), block_id=3, task_id="t")
    b = _daisy.Block(total, Roi((4,), (2,)), Roi((4,), (2,)), block_id=3, task_id="t")
    b.status = BlockStatus.FAILED
    assert a == b and not (a != b)
    assert hash(a) == hash(b) == hash(("t", 3))
    assert a != _daisy.Block(total, Roi((0,), (2,)), Roi((0,), (2,)), block_id=3, task_id="u")
    assert a != _daisy.Block(total, Roi((0,), (2,)), Roi((0,), (2,)), block_id=4, task_id="t")
    assert a != _daisy.Block(total, Roi((0,), (2,)), Roi((0,), (2,)), block_id=3)
    for other in (None, 3, ("t", 3), "t/3", object()):
        assert not (a == other)
        assert a != other
    assert len({a, b}) == 1
    assert {a: 1}[b] == 1
    none_id = _daisy.Block(total, Roi((0,), (2,)), Roi((0,), (2,)), block_id=0)
    assert hash(none_id) == hash((None, 0))


def test_block_repr():
    block = _daisy.Block(Roi((0, 0), (6, 6)), Roi((1, 1), (3, 3)), Roi((2, 2), (1, 1)), 12, "t")
    text = "t/12 with read ROI [1:4, 1:4] (3, 3) and write ROI [2:3, 2:3] (1, 1)"
    assert repr(block) == text
    assert str(block) == text
    scheduled = _daisy.Scheduler([grid_2d()]).acquire_block("t")
    # Rust-made ROIs print as funlib prints them, before any funlib object exists.
    assert repr(scheduled) == text
    assert repr(scheduled) == (
        f"t/12 with read ROI {scheduled.read_roi!r} and write ROI {scheduled.write_roi!r}"
    )
    no_task = _daisy.Block(None, Roi((0,), (5,)), Roi((1,), (3,)), block_id=0)
    assert repr(no_task) == "None/0 with read ROI [0:5] (5) and write ROI [1:4] (3)"


@pytest.mark.parametrize(
    "roi",
    [
        Roi((0, 0, 0), (10, 20, 30)),
        Roi((0, None), (5, None)),
        Roi((None, None), (None, None)),
        Roi((None, 2), (None, 3)),
        Roi((-4,), (1,)),
        Roi((None,), (0,)),
        Roi((3, 3), (0, 2)),
    ],
)
def test_engine_rois_print_like_funlib(roi):
    block = _daisy.Block(None, roi, roi, block_id=1, task_id="t")
    # Unpickled ROIs live in Rust until Python asks for them.
    engine = pickle.loads(pickle.dumps(block))
    assert repr(engine) == f"t/1 with read ROI {roi!r} and write ROI {roi!r}"
    assert engine.read_roi == roi


def test_block_is_frozen_but_its_attributes_can_be_assigned():
    block = _daisy.Block(Roi((0,), (4,)), Roi((0,), (3,)), Roi((1,), (1,)), task_id="t")
    with pytest.raises(TypeError) as error:
        block.state = BlockStatus.FAILED
    assert str(error.value) == (
        "t/1 with read ROI [0:3] (3) and write ROI [1:2] (1) is frozen, "
        "you can't add attributes to it"
    )
    with pytest.raises(TypeError, match="is frozen"):
        block.anything = 1
    block.status = BlockStatus.FAILED
    assert block.status is BlockStatus.FAILED
    block.status = 2
    assert block.status is BlockStatus.SUCCESS
    with pytest.raises(TypeError, match="status"):
        block.status = "SUCCESS"
    with pytest.raises(ValueError, match="status"):
        block.status = 7
    assert block.status is BlockStatus.SUCCESS
    block.started_processing = 1.5
    block.stopped_processing = 2
    assert (block.started_processing, block.stopped_processing) == (1.5, 2.0)
    with pytest.raises(TypeError, match="started_processing"):
        block.started_processing = "now"
    shrunk = Roi((1,), (0,))
    block.write_roi = shrunk
    assert block.write_roi is shrunk
    assert block.requested_write_roi == Roi((1,), (1,))
    block.task_id = "u"
    assert block.block_id == ("u", 1)
    block.block_id = ("v", 9)
    assert (block.task_id, block.block_id) == ("v", ("v", 9))


def test_block_rois_are_lazy_funlib_objects():
    scheduler = _daisy.Scheduler([grid_2d()])
    block = scheduler.acquire_block("t")
    roi = block.read_roi
    assert type(roi) is Roi
    assert roi == Roi((1, 1), (3, 3))
    assert block.read_roi is roi  # cached
    assert block.write_roi == Roi((2, 2), (1, 1))
    assert block.requested_write_roi == Roi((2, 2), (1, 1))
    given = Roi((1, 1), (3, 3))
    made = _daisy.Block(Roi((0, 0), (6, 6)), given, Roi((2, 2), (1, 1)))
    assert made.read_roi is given


def test_block_pickle_and_copy_keep_every_attribute():
    block = _daisy.Block(Roi((0, 0), (6, 6)), Roi((1, 1), (3, 3)), Roi((2, 2), (1, 1)), task_id="t")
    block.write_roi = Roi((2, 2), (1, 0))
    block.status = BlockStatus.FAILED
    block.started_processing = 10.0
    block.stopped_processing = 11.5
    for clone in (
        pickle.loads(pickle.dumps(block)),
        pickle.loads(pickle.dumps(block, protocol=2)),
        block.copy(),
        copy.copy(block),
        copy.deepcopy(block),
    ):
        assert clone is not block
        assert clone == block
        assert clone.block_id == ("t", 12)
        assert clone.read_roi == Roi((1, 1), (3, 3))
        assert clone.write_roi == Roi((2, 2), (1, 0))
        assert clone.requested_write_roi == Roi((2, 2), (1, 1))
        assert clone.status is BlockStatus.FAILED
        assert (clone.started_processing, clone.stopped_processing) == (10.0, 11.5)
        assert clone.write_roi is not block.write_roi
        clone.status = BlockStatus.SUCCESS
        assert block.status is BlockStatus.FAILED
    odd = _daisy.Block(None, Roi((0,), (1,)), Roi((0,), (1,)), block_id=5)
    odd.read_roi = None
    again = pickle.loads(pickle.dumps(odd))
    assert again.read_roi is None
    assert again.block_id == (None, 5)


def test_cantor_numbers_of_the_worked_examples():
    assert _daisy.cantor_number([5]) == 5
    examples = {
        (0, 0): 0, (0, 1): 1, (1, 0): 2, (0, 2): 3, (1, 1): 4, (2, 0): 5, (2, 2): 12, (3, 4): 31,
        (0, 0, 1): 1, (0, 1, 0): 2, (1, 0, 0): 3, (1, 1, 1): 14, (2, 3, 4): 182,
    }  # fmt: skip
    for index, expected in examples.items():
        assert _daisy.cantor_number(index) == expected, index
    grid = [[4, 7, 11, 16], [8, 12, 17, 23], [13, 18, 24, 31], [19, 25, 32, 40]]
    for i, row in enumerate(grid):
        for j, expected in enumerate(row):
            assert _daisy.cantor_number([i + 1, j + 1]) == expected
    assert _daisy.cantor_number([-3, 2]) == _daisy.cantor_number([0, 2])
    s = 3_000_000
    exact = s * (s + 1) * (s + 2) // 6 + 2_000_000 * 2_000_001 // 2 + 1_000_000
    assert _daisy.cantor_number([10**6] * 3) == exact  # beyond 2**53
    with pytest.raises(ValueError, match="overflows"):
        _daisy.cantor_number([2**62] * 3)


# ---------------------------------------------------------------------------------------------
# TaskSpec (docs/semantics.md#tasks)


def test_task_spec_properties():
    task = spec("t", Roi((0,), (10,)), Roi((0,), (4,)), Roi((1,), (2,)))
    assert task.task_id == "t"
    assert task.total_write_roi == Roi((1,), (8,))
    assert type(task.total_write_roi) is Roi
    assert task.num_blocks == 4
    assert grid_2d().num_blocks == 16


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(fit="tight"), ValueError, "fit.*tight"),
        (dict(write=Roi((2,), (4,))), ValueError, r"Read ROI must contain write ROI\."),
        (dict(read=Roi((0, 0), (4, 4))), ValueError, "dimensions"),
        (dict(total=Roi((0,), (None,))), ValueError, "bounded"),
        (dict(write=Roi((1,), (0,)), conflict=False), ValueError, "positive"),
        (dict(task_id="a:b"), ValueError, "invalid task id"),
        (dict(task_id=""), ValueError, "invalid task id"),
        (dict(num_workers=-1), ValueError, "num_workers.*-1"),
        (dict(max_retries=-2), ValueError, "max_retries.*-2"),
        (dict(max_worker_restarts=-1), ValueError, "max_worker_restarts"),
        (dict(timeout=-1.0), ValueError, "timeout"),
        (dict(pre_check=5), TypeError, "pre_check"),
        (dict(post_check="no"), TypeError, "post_check"),
        (dict(init_callback=1), TypeError, "init_callback"),
        (dict(total=(0, 10)), TypeError, "total_roi"),
    ],
)
def test_task_spec_validation(kwargs, error, pattern):
    args = dict(task_id="t", total=Roi((0,), (10,)), read=Roi((0,), (4,)), write=Roi((1,), (2,)))
    args.update(kwargs)
    with pytest.raises(error, match=pattern):
        spec(args.pop("task_id"), args.pop("total"), args.pop("read"), args.pop("write"), **args)


def test_task_spec_without_conflict_allows_a_write_roi_outside_the_read_roi():
    task = spec("t", Roi((0,), (10,)), Roi((0,), (4,)), Roi((2,), (4,)), conflict=False)
    assert task.num_blocks > 0


# ---------------------------------------------------------------------------------------------
# Scheduler (docs/semantics.md#levels-and-conflicts, #scheduling)


def test_scheduler_hands_out_the_levels_of_the_worked_example_in_order():
    scheduler = _daisy.Scheduler([grid_2d()])
    assert scheduler.task_ids() == ["t"]
    assert counters(scheduler, "t") == (False, 16, 4, 0, 0, 0, 0, 0)
    levels = []
    for _ in range(4):
        level = acquire_all(scheduler, "t")
        assert scheduler.acquire_block("t") is None
        levels.append(ids(level))
        for block in level:
            assert block.status is BlockStatus.CREATED
            release(scheduler, block)
    assert levels == [[12, 23, 25, 40], [8, 17, 19, 32], [7, 16, 18, 31], [4, 11, 13, 24]]
    assert counters(scheduler, "t") == (True, 16, 0, 0, 16, 0, 0, 0)
    assert scheduler.acquire_block("t") is None
    with pytest.raises(KeyError, match="unknown task 'unknown'"):  # daisy.UnknownTaskError
        scheduler.acquire_block("unknown")


def test_scheduler_without_conflicts_hands_out_every_root_row_major():
    scheduler = _daisy.Scheduler([grid_2d(conflict=False)])
    assert ids(acquire_all(scheduler, "t")) == [
        4, 7, 11, 16, 8, 12, 17, 23, 13, 18, 24, 31, 19, 25, 32, 40,
    ]  # fmt: skip


def test_release_returns_the_tasks_that_gained_ready_blocks():
    scheduler = _daisy.Scheduler([grid_2d()])
    level = acquire_all(scheduler, "t")
    assert release(scheduler, level[0]) == ["t"]  # 12 readies 8
    assert scheduler.ready_task_ids() == ["t"]
    retried = release(scheduler, level[1], BlockStatus.FAILED)
    assert retried == ["t"]  # re-queued


def test_sequences_1d():
    # No conflict: 1, 2, None.
    scheduler = _daisy.Scheduler([line_1d(False)])
    assert ids(acquire_all(scheduler, "t")) == [1, 2]
    # Conflict: 2 first, then nothing until 2 succeeded.
    scheduler = _daisy.Scheduler([line_1d(True)])
    first = scheduler.acquire_block("t")
    assert first.block_id == ("t", 2)
    assert scheduler.acquire_block("t") is None
    release(scheduler, first)
    assert scheduler.acquire_block("t").block_id == ("t", 1)


def test_sequences_retries():
    scheduler = _daisy.Scheduler([line_1d(False, max_retries=2)])
    one, two = acquire_all(scheduler, "t")
    release(scheduler, one, BlockStatus.FAILED)
    again = scheduler.acquire_block("t")
    assert again.block_id == ("t", 1)
    release(scheduler, again)
    for attempt in range(3):
        release(scheduler, two, BlockStatus.FAILED)
        if attempt < 2:
            two = scheduler.acquire_block("t")
            assert two.block_id == ("t", 2)
    assert scheduler.acquire_block("t") is None
    assert counters(scheduler, "t") == (True, 2, 0, 0, 1, 0, 1, 0)


def chained():
    a = grid_2d("A")
    b = grid_2d("B", upstream=[a])
    return a, b


def test_sequences_chained_tasks():
    a, b = chained()
    scheduler = _daisy.Scheduler([b], count_all_orphans=True)
    assert scheduler.task_ids() == ["A", "B"]  # root tasks first
    order = {"A": [], "B": []}
    cycles = 0
    while scheduler.ready_task_ids():
        task_id = scheduler.ready_task_ids()[0]
        block = scheduler.acquire_block(task_id)
        order[task_id].append(block.block_id[1])
        release(scheduler, block)
        cycles += 1
    assert cycles == 32
    expected = [12, 23, 25, 40, 8, 17, 19, 32, 7, 16, 18, 31, 4, 11, 13, 24]
    assert order == {"A": expected, "B": expected}


def test_release_errors_change_nothing():
    scheduler = _daisy.Scheduler([grid_2d()])
    block = scheduler.acquire_block("t")
    before = counters(scheduler, "t")
    never = _daisy.Block(None, Roi((0, 0), (3, 3)), Roi((1, 1), (1, 1)), block_id=4, task_id="t")
    never.status = BlockStatus.SUCCESS
    with pytest.raises(KeyError, match=r"t/4.*not being processed"):
        scheduler.release_block(never)
    with pytest.raises(RuntimeError, match="Unexpected status for released block: t/12"):
        scheduler.release_block(block)  # still CREATED
    block.status = BlockStatus.PROCESSING
    with pytest.raises(RuntimeError, match="Unexpected status for released block"):
        scheduler.release_block(block)
    assert counters(scheduler, "t") == before
    release(scheduler, block)
    with pytest.raises(KeyError, match="not being processed"):
        scheduler.release_block(block)  # twice
    other = _daisy.Block(None, Roi((0, 0), (3, 3)), Roi((1, 1), (1, 1)), block_id=4, task_id="x")
    other.status = BlockStatus.SUCCESS
    with pytest.raises(KeyError):
        scheduler.release_block(other)
    with pytest.raises(KeyError):
        scheduler.counters("x")


def test_pre_check_skips_blocks_and_its_exceptions_count_as_not_done(caplog):
    def pre_check(block):
        if block.block_id[1] == 23:
            raise RuntimeError("check broke")
        return block.block_id[1] in (12, 25)

    scheduler = _daisy.Scheduler([grid_2d(pre_check=pre_check)])
    with caplog.at_level(logging.ERROR):
        level = acquire_all(scheduler, "t")
    # 12 and 25 are skipped, which readies 8 and 19; 23 counts as not done.
    assert ids(level) == [23, 40, 8, 19]
    c = scheduler.counters("t")
    assert (c.skipped_count, c.completed_count, c.processing_count) == (2, 2, 4)
    messages = [r.getMessage() for r in caplog.records]
    assert any("pre_check() exception for block t/23" in m for m in messages)
    assert any("check broke" in r.exc_text for r in caplog.records if r.exc_text)


def test_pre_check_sees_the_block():
    seen = []
    scheduler = _daisy.Scheduler([line_1d(True, pre_check=lambda b: seen.append(b) or False)])
    block = scheduler.acquire_block("t")
    assert seen == [block]
    assert seen[0].write_roi == Roi((2,), (1,))


def test_abandon_task_orphans_what_is_left():
    scheduler = _daisy.Scheduler([grid_2d()])
    block = scheduler.acquire_block("t")
    scheduler.abandon_task("t")
    release(scheduler, block)
    c = scheduler.counters("t")
    assert c.completed_count + c.orphaned_count == 16
    with pytest.raises(KeyError):
        scheduler.abandon_task("nope")


def test_counters_are_values():
    c = _daisy.Scheduler([grid_2d()]).counters("t")
    assert pickle.loads(pickle.dumps(c)) == c
    assert c == _daisy.Counters(total_block_count=16, ready_count=4)
    with pytest.raises(AttributeError):
        c.ready_count = 3


# ---------------------------------------------------------------------------------------------
# graphs (docs/semantics.md#tiling, #tasks-that-depend-on-tasks)

WORKED_EXAMPLE = {
    # id: (upstream, downstream), docs/semantics.md#levels-and-conflicts
    12: ([], [8, 17]), 23: ([], [17]), 25: ([], [19, 32]), 40: ([], [32]),
    8: ([12], [7, 18]), 17: ([12, 23], [7, 16, 18, 31]), 19: ([25], [18]), 32: ([25, 40], [18, 31]),
    7: ([8, 17], [4, 11]), 16: ([17], [11]), 18: ([8, 17, 19, 32], [13, 24]), 31: ([17, 32], [24]),
    4: ([7], []), 11: ([7, 16], []), 13: ([18], []), 24: ([18, 31], []),
}  # fmt: skip


def blockwise_2d(**kwargs):
    return _daisy.BlockwiseDependencyGraph(
        "t", Roi((0, 0), (3, 3)), Roi((1, 1), (1, 1)), total_read_roi=Roi((0, 0), (6, 6)), **kwargs
    )


def test_blockwise_graph_worked_example():
    graph = blockwise_2d()
    assert (graph.num_levels, graph.num_blocks, graph.num_roots()) == (4, 16, 4)
    assert graph.task_id == "t"
    assert graph.total_write_roi == Roi((1, 1), (4, 4))
    assert graph.total_read_roi == Roi((0, 0), (6, 6))
    assert graph.block_read_roi == Roi((0, 0), (3, 3))
    assert graph.block_write_roi == Roi((1, 1), (1, 1))
    assert graph.read_write_context == (Coordinate((1, 1)), Coordinate((1, 1)))
    assert type(graph.read_write_context[0]) is Coordinate
    assert graph.rounding_term == Coordinate((1, 1))
    assert (graph.fit, graph.read_write_conflict) == ("valid", True)
    assert graph.level_offsets() == [(1, 1), (1, 0), (0, 1), (0, 0)]
    assert graph.level_conflicts() == [
        [],
        [(0, -1), (0, 1)],
        [(-1, -1), (-1, 1), (1, -1), (1, 1)],
        [(0, -1), (0, 1)],
    ]
    levels = [ids(graph.level_blocks(level)) for level in range(4)]
    assert levels == [[12, 23, 25, 40], [8, 17, 19, 32], [7, 16, 18, 31], [4, 11, 13, 24]]
    assert ids(graph.root_gen()) == [12, 23, 25, 40]
    for level in range(4):
        for block in graph.level_blocks(level):
            up, down = WORKED_EXAMPLE[block.block_id[1]]
            assert ids(graph.upstream(block)) == up
            assert ids(graph.downstream(block)) == down
    pairs = list(graph.enumerate_all_dependencies())
    assert [(b.block_id[1], ids(up)) for b, up in pairs] == [
        (i, WORKED_EXAMPLE[i][0]) for level in levels for i in level
    ]


def test_level_blocks_are_lazy():
    huge = _daisy.BlockwiseDependencyGraph(
        "huge",
        Roi((0, 0, 0), (1, 1, 1)),
        Roi((0, 0, 0), (1, 1, 1)),
        read_write_conflict=False,
        total_read_roi=Roi((0, 0, 0), (2000, 2000, 2000)),
    )
    assert huge.num_blocks == 8 * 10**9
    blocks = huge.level_blocks(0)
    start = time.perf_counter()
    first = [next(blocks) for _ in range(3)]
    assert time.perf_counter() - start < 1.0
    assert [b.write_roi for b in first] == [
        Roi((0, 0, 0), (1, 1, 1)), Roi((0, 0, 1), (1, 1, 1)), Roi((0, 0, 2), (1, 1, 1)),
    ]  # fmt: skip
    assert iter(blocks) is blocks
    # The iterator keeps its graph alive.
    del huge
    assert next(blocks).write_roi == Roi((0, 0, 3), (1, 1, 1))


def test_fits_of_the_1d_example():
    def graph(fit):
        return _daisy.BlockwiseDependencyGraph(
            "t", Roi((0,), (5,)), Roi((1,), (3,)), True, fit, Roi((0,), (12,))
        )

    assert [graph(f).num_blocks for f in ("valid", "overhang", "shrink")] == [3, 4, 4]
    shrink = graph("shrink")
    last = [b for b in shrink.level_blocks(0) if b.block_id[1] == 3][0]
    assert (last.write_roi, last.read_roi) == (Roi((10,), (1,)), Roi((9,), (3,)))
    assert last.requested_write_roi == Roi((10,), (3,))
    overhang = graph("overhang")
    full = [b for b in overhang.level_blocks(0) if b.block_id[1] == 3][0]
    assert full.write_roi == Roi((10,), (3,))
    assert not graph("valid").inclusion_criteria(full)
    assert overhang.inclusion_criteria(full)
    fitted = shrink.fit_block(full)
    assert fitted.write_roi == Roi((10,), (1,))
    assert full.write_roi == Roi((10,), (3,))  # a copy
    assert ids(shrink.upstream(_daisy.Block(None, Roi((6,), (5,)), Roi((7,), (3,)), 2, "t"))) == [
        1, 3,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="fit"):
        graph("tight")


def test_graph_needs_a_total():
    with pytest.raises(ValueError, match="total_read_roi or total_write_roi"):
        _daisy.BlockwiseDependencyGraph("t", Roi((0,), (5,)), Roi((1,), (3,)))
    graph = _daisy.BlockwiseDependencyGraph(
        "t", Roi((0,), (5,)), Roi((1,), (3,)), total_write_roi=Roi((1,), (9,))
    )
    assert graph.total_read_roi == Roi((0,), (11,))


def test_get_subgraph_blocks():
    graph = _daisy.BlockwiseDependencyGraph(
        "t", Roi((0, 0), (4, 4)), Roi((1, 1), (2, 2)), total_read_roi=Roi((0, 0), (16, 16))
    )
    sub = Roi((6, 6), (3, 3))
    writes = graph.get_subgraph_blocks(sub)
    assert ids(writes) == [12, 17, 18, 24]
    assert [b.write_roi for b in writes] == [
        Roi((5, 5), (2, 2)), Roi((5, 7), (2, 2)), Roi((7, 5), (2, 2)), Roi((7, 7), (2, 2)),
    ]  # fmt: skip
    assert sorted(ids(graph.get_subgraph_blocks(sub, read_roi=True))) == [
        12, 17, 18, 23, 24, 25, 31, 32, 40,
    ]  # fmt: skip
    assert graph.get_subgraph_blocks(Roi((100, 100), (5, 5))) == []


def test_dependency_graph_worked_example():
    a, b = chained()
    graph = _daisy.DependencyGraph([b])
    assert graph.task_ids() == ["B", "A"]
    assert graph.root_tasks() == ["A"]
    assert graph.upstream_tasks("B") == ["A"]
    assert graph.downstream_tasks("A") == ["B"]
    assert (graph.num_blocks("B"), graph.num_roots("A")) == (16, 4)
    assert ids(graph.root_gen("A")) == [12, 23, 25, 40]
    assert graph.task_dependency_graph("A").num_levels == 4

    def block(task_id, spatial_id):
        tiling = graph.task_dependency_graph(task_id)
        for level in range(tiling.num_levels):
            for candidate in tiling.level_blocks(level):
                if candidate.block_id[1] == spatial_id:
                    return candidate
        raise AssertionError(spatial_id)

    # B/12 is in B's level 0: its upstream blocks are all in A.
    assert [b.block_id for b in graph.upstream(block("B", 12))] == [
        ("A", i) for i in (4, 7, 8, 11, 12, 13, 17, 18, 24)
    ]
    assert [b.block_id for b in graph.downstream(block("A", 4))] == [
        ("B", 4), ("B", 7), ("B", 8), ("B", 12),
    ]  # fmt: skip
    assert [b.block_id for b in graph.downstream(block("A", 12))] == [
        ("B", 4), ("B", 7), ("A", 8), ("B", 8), ("B", 11), ("B", 12), ("B", 13),
        ("A", 17), ("B", 17), ("B", 18), ("B", 24),
    ]  # fmt: skip
    with pytest.raises(KeyError):
        graph.num_blocks("C")
    scheduler = _daisy.Scheduler([b])
    assert scheduler.dependency_graph() is scheduler.dependency_graph()
    assert scheduler.dependency_graph().task_ids() == ["B", "A"]


def test_asymmetric_context_across_tasks():
    u = spec("U", Roi((0,), (20,)), Roi((0,), (1,)), Roi((0,), (1,)), conflict=False)
    d = spec("D", Roi((0,), (20,)), Roi((0,), (5,)), Roi((1,), (1,)), conflict=False, upstream=[u])
    graph = _daisy.DependencyGraph([d])
    d1 = _daisy.Block(None, Roi((0,), (5,)), Roi((1,), (1,)), block_id=1, task_id="D")
    assert ids(graph.upstream(d1)) == [0, 1, 2, 3, 4]
    u3 = _daisy.Block(None, Roi((3,), (1,)), Roi((3,), (1,)), block_id=3, task_id="U")
    assert ids(graph.downstream(u3)) == [1, 2, 3, 4]


def test_two_tasks_with_one_id_are_rejected():
    first = grid_2d("A")
    second = grid_2d("A")
    with pytest.raises(ValueError, match="share the task id"):
        _daisy.DependencyGraph([first, grid_2d("B", upstream=[second])])
    with pytest.raises(ValueError):
        _daisy.Scheduler([first, second])


# ---------------------------------------------------------------------------------------------
# the distributed run (docs/semantics.md#the-distributed-run, #workers-and-daisy_context) with forked workers and the engine's Client


def fork_worker(body):
    """A launch_worker that forks a worker running `body(client, task_id)` on a new thread."""

    def launch_worker(task_id, worker_id, context, log_basename):
        pid = os.fork()
        if pid != 0:
            return pid
        code = 0
        try:
            os.setpgid(0, 0)
            signal.signal(signal.SIGINT, signal.default_int_handler)

            def work():
                nonlocal code
                client = None
                try:
                    client = _daisy.Client(context)
                    body(client, task_id)
                    client.disconnect()
                except BaseException as e:  # the worker reports everything
                    traceback.print_exc()
                    code = 1
                    if client is not None:
                        try:
                            client.client_exception(repr(e))
                        except BaseException:  # the report is best effort
                            pass

            thread = threading.Thread(target=work)
            thread.start()
            thread.join()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    return launch_worker


def succeed_all(client, task_id):
    while (block := client.acquire()) is not None:
        assert block.status is BlockStatus.PROCESSING
        assert block.task_id == task_id
        block.status = BlockStatus.SUCCESS
        client.release(block)


def run(tasks, body=succeed_all, events=None, **kwargs):
    args = dict(prefetch=1, stall_grace=1.0)
    args.update(kwargs)
    on_event = None if events is None else events.append
    return _daisy.run(tasks, launch_worker=fork_worker(body), on_event=on_event, **args)


def test_run_processes_every_block_with_forked_workers():
    events = []
    a, b = chained()
    report = run([b], events=events, prefetch=2)
    assert isinstance(report, _daisy.RunReport)
    assert list(report.counters) == ["A", "B"]
    for state in report.counters.values():
        assert (state.total_block_count, state.completed_count, state.failed_count) == (16, 16, 0)
    assert report.failures == []
    assert report.succeeded and not report.interrupted
    assert "Execution Summary" in report.summary
    assert isinstance(events[0], _daisy.TaskStarted)
    assert isinstance(events[-1], _daisy.RunFinished)
    kinds = {type(e) for e in events}
    assert {_daisy.TaskStarted, _daisy.BlockProgress, _daisy.TaskDone} <= kinds
    assert [e.task_id for e in events if isinstance(e, _daisy.TaskDone)] == ["A", "B"]
    assert events[-1].interrupted is False
    assert events[-1].abandoned == {}
    assert events[-1].report.summary == report.summary
    progress = next(e for e in events if isinstance(e, _daisy.BlockProgress))
    assert progress.counters.total_block_count == 16
    assert repr(progress).startswith("BlockProgress(task_id='")


def test_run_reports_failed_blocks():
    events = []

    def fail_block_3(client, task_id):
        while (block := client.acquire()) is not None:
            if block.block_id[1] == 3:
                client.fail(block, "RuntimeError('boom')")
            else:
                block.status = BlockStatus.SUCCESS
                client.release(block)

    task = spec("A", Roi((0,), (9,)), Roi((0,), (1,)), Roi((0,), (1,)), max_retries=1)
    report = run([task], fail_block_3, events=events)
    state = report.counters["A"]
    assert (state.completed_count, state.failed_count) == (8, 1)
    assert not report.succeeded
    failures = report.failures
    assert [(f["task_id"], f["spatial_id"], f["error"]) for f in failures] == [
        ("A", 3, "RuntimeError('boom')")
    ] * 2
    assert all(isinstance(f["worker_id"], int) for f in failures)
    assert all(f["log_basename"] is None for f in failures)
    reported = [e for e in events if isinstance(e, _daisy.BlockFailed)]
    assert len(reported) == 2
    assert reported[0].error == "RuntimeError('boom')"
    assert reported[0].block.block_id == ("A", 3)
    assert isinstance(reported[0].worker_id, int)
    assert reported[0].log_basename is None
    assert "block 3 in worker " in report.summary


def test_run_passes_the_log_basename(tmp_path):
    seen = []

    def launch_worker(task_id, worker_id, context, log_basename):
        seen.append((task_id, worker_id, context, log_basename))
        return fork_worker(succeed_all)(task_id, worker_id, context, log_basename)

    task = spec("A", Roi((0,), (4,)), Roi((0,), (1,)), Roi((0,), (1,)))
    report = _daisy.run(
        [task], launch_worker=launch_worker, logdir=str(tmp_path), prefetch=1, stall_grace=1.0
    )
    assert report.counters["A"].completed_count == 4
    ((task_id, worker_id, context, basename),) = seen
    assert task_id == "A"
    assert basename == str(tmp_path / "A" / f"worker_{worker_id}")
    assert f"task_id=A:worker_id={worker_id}" in context
    assert context.startswith(f"logdir={tmp_path}:hostname=127.0.0.1:port=")


class InitFailed(Exception):
    pass


def test_a_failing_init_callback_is_raised():
    contexts = []

    def init_callback(context):
        contexts.append(context)
        raise InitFailed("no")

    task = spec("A", Roi((0,), (4,)), Roi((0,), (1,)), Roi((0,), (1,)), init_callback=init_callback)
    with pytest.raises(InitFailed, match="no"):
        run([task])
    assert "worker_id=0" in contexts[0]


def test_a_client_exception_aborts_the_run():
    def crash(client, task_id):
        client.acquire()
        raise ValueError("worker code broke")

    task = spec("A", Roi((0,), (4,)), Roi((0,), (1,)), Roi((0,), (1,)))
    with pytest.raises(RuntimeError, match=r"worker \d+ of task A failed: .*worker code broke"):
        run([task], crash)


def test_ctrl_c_stops_the_run_and_returns():
    working_r, working_w = os.pipe()

    def slow(client, task_id):
        while (block := client.acquire()) is not None:
            os.write(working_w, b"x")  # a worker has a block: press Ctrl-C now
            time.sleep(30)
            client.release(block)

    events = []
    ended = threading.Event()

    def press_ctrl_c():
        while not ended.is_set():
            if select.select([working_r], [], [], 0.05)[0]:
                os.kill(os.getpid(), signal.SIGINT)
                return

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    task = spec("A", Roi((0,), (4,)), Roi((0,), (1,)), Roi((0,), (1,)))
    start = time.monotonic()
    try:
        report = _daisy.run(
            [task],
            launch_worker=fork_worker(slow),
            on_event=events.append,
            prefetch=1,
            stall_grace=1.0,
        )
    finally:
        ended.set()
        presser.join()
        os.close(working_r)
        os.close(working_w)
    assert time.monotonic() - start < 10
    assert report.counters["A"].completed_count == 0
    assert report.interrupted and not report.succeeded
    assert isinstance(events[-1], _daisy.RunFinished)
    assert events[-1].interrupted is True


def test_a_worker_that_returns_into_the_engine_is_stopped_and_the_task_abandoned():
    events = []

    def launch_worker(task_id, worker_id, context, log_basename):
        return os.fork()  # wrong: the child returns 0 into the engine, which ends it

    task = spec("A", Roi((0,), (4,)), Roi((0,), (1,)), Roi((0,), (1,)), max_worker_restarts=1)
    report = _daisy.run(
        [task], launch_worker=launch_worker, on_event=events.append, prefetch=1, stall_grace=0.2
    )
    counters = report.counters["A"]
    assert (counters.completed_count, counters.orphaned_count) == (0, 4)
    assert report.failures == []
    (abandoned,) = [e for e in events if isinstance(e, _daisy.TaskAbandoned)]
    assert abandoned.task_id == "A"
    assert "max_worker_restarts = 1" in abandoned.reason
    assert abandoned.counters.orphaned_count == 4
    assert "max_worker_restarts = 1" in events[-1].abandoned["A"]
    assert report.abandoned == events[-1].abandoned


def test_client_errors():
    with pytest.raises(ValueError, match="daisy_context"):
        _daisy.Client("not a context")
    with pytest.raises(ConnectionError):
        _daisy.Client("logdir=None:hostname=127.0.0.1:port=1:task_id=A:worker_id=0")


def test_run_argument_errors():
    task = spec("A", Roi((0,), (4,)), Roi((0,), (1,)), Roi((0,), (1,)))
    with pytest.raises(TypeError, match="launch_worker"):
        _daisy.run([task], launch_worker=5)
    with pytest.raises(TypeError, match="on_event"):
        _daisy.run([task], launch_worker=fork_worker(succeed_all), on_event=5)
    with pytest.raises(ValueError, match="stall_grace"):
        _daisy.run([task], launch_worker=fork_worker(succeed_all), stall_grace=-1.0)
    with pytest.raises(TypeError):
        _daisy.run([task], fork_worker(succeed_all))  # keyword arguments only


# ---------------------------------------------------------------------------------------------
# the stub


def test_the_stub_and_the_module_agree():
    """Every name of python/daisy/_daisy.pyi exists in the module, and vice versa."""
    import ast
    import pathlib

    import daisy

    stub = pathlib.Path(daisy.__file__).with_name("_daisy.pyi")
    tree = ast.parse(stub.read_text())
    documentation_only = {"RunEvents"}
    declared = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            declared.add(node.name)
            if node.name in documentation_only:
                continue
            cls = getattr(_daisy, node.name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    name = item.name
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    name = item.target.id
                else:
                    continue
                assert hasattr(cls, name), f"{node.name}.{name} is in the stub, not the module"
        elif isinstance(node, ast.FunctionDef):
            declared.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            declared.add(node.target.id)
    missing = {name for name in declared - documentation_only if not hasattr(_daisy, name)}
    assert not missing, f"in the stub, not the module: {missing}"
    public = {n for n in dir(_daisy) if not n.startswith("_")} | {"__version__"}
    assert public <= declared, f"in the module, not the stub: {public - declared}"
