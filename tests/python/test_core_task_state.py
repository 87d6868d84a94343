"""daisy.TaskState and the engine's Counters (docs/semantics.md#scheduling): the counts live in
Python, everything derived from them (pending_count, is_done(), the text) is the engine's."""

import copy
import pickle

import pytest
from funlib.geometry import Roi

import daisy
from daisy import _daisy
from daisy.task_state import _FIELDS as FIELDS
from daisy.task_state import TaskState


def state_with(**counts):
    state = TaskState()
    for name, value in counts.items():
        setattr(state, name, value)
    return state


def test_counters_derive_pending_done_and_text():
    counters = _daisy.Counters(True, 10, 2, 1, 3, 1, 1, 1)
    assert counters.pending_count == 2
    assert not counters.is_done()
    text = (
        "Started: True\nTotal Blocks: 10\nReady: 2\nProcessing: 1\nPending: 2\n"
        "Completed: 3\nSkipped: 1\nFailed: 1\nOrphaned: 1\n"
    )
    assert str(counters) == repr(counters) == text
    assert _daisy.Counters(total_block_count=4, completed_count=3, orphaned_count=1).is_done()


def test_counters_pending_never_goes_negative():
    assert _daisy.Counters(total_block_count=2, ready_count=5).pending_count == 0


def test_counters_compare_and_pickle():
    counters = _daisy.Counters(True, 4, 1, 1, 2, 0, 0, 0)
    assert pickle.loads(pickle.dumps(counters)) == counters
    assert counters != _daisy.Counters(True, 4, 1, 1, 1, 0, 0, 0)
    with pytest.raises(AttributeError):
        counters.ready_count = 3  # read-only


def test_plain_task_state_is_settable_and_asks_the_engine():
    state = state_with(
        started=True,
        total_block_count=7,
        ready_count=1,
        processing_count=2,
        completed_count=1,
        failed_count=1,
    )
    engine = _daisy.Counters(*(getattr(state, name) for name in FIELDS))
    assert state.pending_count == engine.pending_count == 2
    assert state.is_done() is engine.is_done() is False
    assert str(state) == repr(state) == str(engine)
    state.completed_count = 6
    state.ready_count = state.processing_count = 0
    assert state.pending_count == 0 and state.is_done()
    assert str(state).startswith("Started: True\nTotal Blocks: 7\nReady: 0\n")


def test_plain_task_state_pickles_and_copies_with_its_values():
    state = state_with(started=True, total_block_count=3, completed_count=2, ready_count=1)
    for clone in (pickle.loads(pickle.dumps(state)), copy.copy(state), copy.deepcopy(state)):
        assert type(clone) is TaskState
        assert [getattr(clone, n) for n in FIELDS] == [getattr(state, n) for n in FIELDS]
        assert str(clone) == str(state)


def test_live_state_shows_the_engines_counters():
    task = daisy.Task("t", Roi((0,), (4,)), Roi((0,), (1,)), Roi((0,), (1,)), lambda b: None)
    scheduler = daisy.Scheduler([task])
    state = scheduler.task_states["t"]
    block = scheduler.acquire_block("t")
    engine = scheduler._scheduler.counters("t")
    assert str(state) == str(engine)
    assert state.processing_count == 1 and state.pending_count == engine.pending_count == 0
    block.status = daisy.BlockStatus.SUCCESS
    scheduler.release_block(block)
    assert state.completed_count == 1 and not state.is_done()
    assert str(state).startswith("Started: True\nTotal Blocks: 4\nReady: 3\nProcessing: 0\n")
