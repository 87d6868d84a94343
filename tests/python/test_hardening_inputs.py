"""Hardening against what users (and hostile input) give daisy: done markers that cannot make a
run skip work it did not do, and constructor arguments that end in a daisy error naming
them, never in a panic of the engine, an overflow or a hang (docs/semantics.md#resume,
docs/semantics.md#tasks).

The fuzz tests (hypothesis) feed the constructors generated values, from plausible ones to
the limits of 64-bit integers, and accept only a result, a :class:`daisy.DaisyError` or a
plain ``TypeError`` for a value of the wrong type; a ``pyo3_runtime.PanicException`` (a
``BaseException``) or any other error fails them. They are
bounded (a few hundred examples each) to stay fast.
"""

import datetime
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import daisy
from daisy import Roi, errors

# --- done markers ------------------------------------------------------------------------


def line_task(task_id, marker, n=100, process=lambda b: None, **kwargs):
    """A 1-D task of n one-voxel blocks recording its finished blocks in ``marker``."""
    return daisy.Task(
        task_id,
        Roi((0,), (n,)),
        Roi((0,), (1,)),
        Roi((0,), (1,)),
        process,
        done_marker_path=marker,
        **kwargs,
    )


def test_two_tasks_with_one_done_marker_path_do_not_share_it(tmp_path):
    # Before: the second task skipped every block the first had recorded (one task ran 62 of
    # 100 blocks and both reported success).
    marker = tmp_path / "marker"
    ran = []
    assert daisy.run_blockwise(
        [line_task("first", marker, process=lambda b: ran.append(b))], multiprocessing=False
    )
    assert len(ran) == 100
    second = line_task("second", marker)
    with pytest.raises(errors.DoneMarkerMismatchError) as e:
        daisy.run_blockwise([second], multiprocessing=False)
    message = str(e.value)
    assert "belongs to task 'first', not to task 'second'" in message
    assert str(marker) in message
    assert isinstance(e.value, ValueError)
    # In one run, too.
    with pytest.raises(errors.DoneMarkerMismatchError, match="belongs to task 'first'"):
        daisy.Scheduler([line_task("first", marker), second])


def test_a_renamed_task_does_not_inherit_its_done_marker(tmp_path):
    marker = tmp_path / "marker"
    assert daisy.run_blockwise([line_task("smooth", marker, n=10)], multiprocessing=False)
    with pytest.raises(errors.DoneMarkerMismatchError) as e:
        daisy.Scheduler([line_task("smooth_v2", marker, n=10)])
    assert "belongs to task 'smooth', not to task 'smooth_v2'" in str(e.value)
    assert "reset the marker" in str(e.value)
    # The marker records its task next to the layout hash.
    attributes = json.loads((marker / "zarr.json").read_text())["attributes"]
    assert attributes["daisy_task_id"] == "smooth"
    assert len(attributes["daisy_task_hash"]) == 64


def test_a_corrupt_done_marker_chunk_is_an_error_not_all_done(tmp_path):
    # Before: any non-zero byte counted as done, so random bytes skipped (nearly) everything.
    marker = tmp_path / "marker"
    assert daisy.run_blockwise([line_task("t", marker, n=10)], multiprocessing=False)
    chunk = marker / "c" / "0"
    chunk.write_bytes(bytes([0, 1, 7, 200, 1, 0, 0, 0, 0, 0]))
    ran = []
    with pytest.raises(errors.DoneMarkerMismatchError) as e:
        daisy.run_blockwise(
            [line_task("t", marker, n=10, process=lambda b: ran.append(b))],
            multiprocessing=False,
        )
    message = str(e.value)
    assert f"done marker chunk {chunk} is corrupt" in message
    assert "byte 2 (block id 2) is 7, expected 0 (not done) or 1 (done)" in message
    assert ran == []
    # Truncated: the wrong length, named.
    chunk.write_bytes(bytes([1, 1, 1]))
    with pytest.raises(errors.DoneMarkerMismatchError, match="it has 3 bytes"):
        daisy.Scheduler([line_task("t", marker, n=10)])


# --- timeouts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timeout",
    [1e19, 1.8e19, 1e300, 10**400, datetime.timedelta.max],
    ids=["1e19", "1.8e19", "1e300", "10**400", "timedelta.max"],
)
def test_a_huge_timeout_does_not_overflow_the_clock(in_tmp_dir, timeout):
    # Before: Task(timeout=1e19) raised "PanicException: overflow when adding duration to
    # instant" when the server handed out the first block. Now it is clamped (about 100 years).
    task = daisy.Task(
        "t", Roi((0,), (4,)), Roi((0,), (1,)), Roi((0,), (1,)), lambda b: None, timeout=timeout
    )
    assert 3e9 < task._flat_spec().timeout < 3.2e9
    assert daisy.run_blockwise([task])


@pytest.mark.parametrize("timeout", [0, -1, -1e19, float("inf"), float("nan"), 1e-12])
def test_a_timeout_must_be_positive_and_finite(timeout):
    with pytest.raises(errors.TaskError, match="timeout must be a positive, finite number"):
        daisy.Task(
            "t", Roi((0,), (4,)), Roi((0,), (1,)), Roi((0,), (1,)), lambda b: None, timeout=timeout
        )


# --- integer arguments -------------------------------------------------------------------


def make(**kwargs):
    args = dict(
        task_id="t",
        total_roi=Roi((0,), (10,)),
        read_roi=Roi((0,), (1,)),
        write_roi=Roi((0,), (1,)),
        process_function=lambda b: None,
    )
    args.update(kwargs)
    return daisy.Task(**args)


U32 = "0 to 4294967295"
WORKERS = "1 to 18446744073709551615"


@pytest.mark.parametrize(
    "kwargs, text",
    [
        (dict(num_workers=2**64), f"num_workers must be an int from {WORKERS}, got {2**64}"),
        (dict(num_workers=-1), f"num_workers must be an int from {WORKERS}, got -1"),
        (dict(num_workers=10**100), f"num_workers must be an int from {WORKERS}, got 1"),
        (dict(max_workers=2**64), f"num_workers must be an int from {WORKERS}"),
        (dict(num_workers=1e30), f"num_workers must be an int from {WORKERS}, got 1e+30"),
        (dict(max_retries=2**32), f"max_retries must be an int from {U32}, got 4294967296"),
        (dict(max_retries=-3), f"max_retries must be an int from {U32}, got -3"),
        (dict(max_worker_restarts=-1), f"max_worker_restarts must be an int from {U32}"),
        (dict(max_worker_restarts=2**200), f"max_worker_restarts must be an int from {U32}"),
    ],
    ids=repr,
)
def test_integer_arguments_name_themselves_and_their_range(kwargs, text):
    # Before: num_workers=2**64 raised an OverflowError (or a TypeError) not naming it.
    with pytest.raises(errors.TaskError) as e:
        make(**kwargs)
    assert str(e.value).startswith(text), str(e.value)
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("kwargs", [dict(num_workers=0), dict(max_workers=0)], ids=repr)
def test_zero_workers_is_a_value_error(kwargs):
    # Before: accepted; the run stalled for 5 s, started a worker anyway and returned True.
    with pytest.raises(errors.TaskError, match="num_workers must be an int from 1 to"):
        make(**kwargs)


def test_integer_arguments_at_their_limits_are_accepted():
    task = make(num_workers=2**64 - 1, max_retries=2**32 - 1, max_worker_restarts=0)
    assert (task.num_workers, task.max_retries, task.max_worker_restarts) == (
        2**64 - 1,
        2**32 - 1,
        0,
    )
    assert make(num_workers=3.0).num_workers == 3


def test_coordinates_beyond_64_bits_name_the_roi_and_the_range():
    with pytest.raises(errors.TaskError) as e:
        make(total_roi=Roi((0,), (2**64,)))
    assert "total_roi must hold integers from -9223372036854775808 to 9223372036854775807" in str(
        e.value
    )


# --- ROIs ----------------------------------------------------------------------------------


def test_a_negative_total_roi_shape_is_refused():
    # Before: accepted; zero blocks, and the run returned True.
    with pytest.raises(errors.TaskError) as e:
        make(total_roi=Roi((0,), (-100,)))
    assert str(e.value) == (
        "task t: the shape of the total ROI must not be negative, got shape (-100,) at offset (0,)"
    )
    with pytest.raises(errors.TaskError, match="the shape of the read ROI must not be negative"):
        make(read_roi=Roi((0,), (-4,)), read_write_conflict=False)
    with pytest.raises(errors.TaskError, match="the shape of the total write ROI"):
        daisy.BlockwiseDependencyGraph(
            "g", Roi((0,), (1,)), Roi((0,), (1,)), total_write_roi=Roi((0,), (-3,))
        )


def test_an_empty_total_roi_has_no_blocks_and_is_done_at_once():
    # daisy 1.x accepts it too (a graph of zero blocks; its serial run crashes with an
    # IndexError); here the task is done at once, as one too small for a block.
    task = make(total_roi=Roi((0,), (0,)))
    assert task._flat_spec().num_blocks == 0
    assert daisy.run_blockwise([task], multiprocessing=False)


# --- task ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "task_id, why",
    [
        ("../escaped", "must not contain '/' or '\\'"),
        ("a/b", "must not contain '/' or '\\'"),
        ("/tmp/abs", "must not contain '/' or '\\'"),
        ("a\\b", "must not contain '/' or '\\'"),
        ("..", "must not be '.' or '..'"),
        (".", "must not be '.' or '..'"),
        ("", "must not be empty"),
        ("nul\0byte", "must not contain NUL or other control characters"),
        ("new\nline", "must not contain NUL or other control characters"),
        ("x" * 256, "must be at most 255 bytes long"),
    ],
    ids=repr,
)
def test_a_task_id_that_is_not_one_safe_path_component_is_refused(task_id, why):
    # Before: task_id="../escaped" wrote its worker logs outside daisy_logs.
    with pytest.raises(errors.TaskError) as e:
        make(task_id=task_id)
    assert str(e.value).startswith("invalid task id '"), str(e.value)
    assert why in str(e.value)


def test_worker_logs_stay_inside_the_log_directory(in_tmp_dir):
    for task_id in ["..", "../escaped"]:
        with pytest.raises(errors.TaskError, match="task ids name directories"):
            make(task_id=task_id)
    assert daisy.run_blockwise([make(task_id="...")])
    logs = in_tmp_dir / "daisy_logs"
    assert os.listdir(logs) == ["..."]
    assert not (in_tmp_dir / "escaped").exists()


# --- fuzzing the constructors ---------------------------------------------------------------

LIMITS = [0, 1, -1, 2**31, 2**32, 2**60, 2**63 - 1, 2**63, -(2**63), 2**64 - 1, 2**64, 10**30]

ints = st.one_of(
    st.integers(-8, 12), st.sampled_from(LIMITS), st.sampled_from([-x for x in LIMITS])
)
dims = st.integers(1, 3)


@st.composite
def rois(draw, ndims=None):
    """A funlib Roi, mostly of ``ndims`` dimensions, with entries from small to huge (or None)."""
    n = draw(dims) if ndims is None or draw(st.integers(0, 9)) == 0 else ndims
    entry = st.one_of(ints, st.none()) if draw(st.integers(0, 5)) == 0 else ints
    offset = tuple(draw(entry) for _ in range(n))
    shape = tuple(draw(entry) for _ in range(n))
    return Roi(offset, shape)


anything = st.one_of(
    ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.none(),
    st.booleans(),
    st.tuples(ints, ints),
    st.just(datetime.timedelta(seconds=3)),
)

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)


def only_daisy_errors(call):
    """Runs call(); a result or a daisy error is fine, and so is a ``TypeError`` for an
    argument of the wrong type (Python's convention, as daisy 1.x); anything else fails: a
    panic of the engine, an ``OverflowError``, a builtin ``ValueError``, ..."""
    try:
        return call()
    except errors.DaisyError:
        return None
    except TypeError as e:
        if type(e) is not TypeError:
            pytest.fail(f"{type(e).__module__}.{type(e).__name__}: {e}")
        return None
    except BaseException as e:  # PanicException is a BaseException
        pytest.fail(f"{type(e).__module__}.{type(e).__name__}: {e}")


def run_small(task):
    """Runs a task of at most 50 blocks through daisy.Scheduler, failing every third block."""
    if task._flat_spec().num_blocks > 50:
        return
    scheduler = daisy.Scheduler([task])
    for _ in range(400):
        block = scheduler.acquire_block(task.task_id)
        if block is None:
            return
        block.status = (
            daisy.BlockStatus.FAILED if block.block_id[1] % 3 == 0 else daisy.BlockStatus.SUCCESS
        )
        scheduler.release_block(block)
    pytest.fail("the scheduler did not end")


@FUZZ
@given(
    ndims=dims,
    data=st.data(),
    task_id=st.one_of(st.text(max_size=6), st.sampled_from(["t", "..", "a/b", "a:b", ""])),
    num_workers=st.one_of(ints, anything),
    max_retries=st.one_of(ints, anything),
    timeout=anything,
    fit=st.one_of(st.sampled_from(["valid", "overhang", "shrink"]), anything),
    conflict=st.booleans(),
)
def test_fuzz_task_never_panics(
    ndims, data, task_id, num_workers, max_retries, timeout, fit, conflict
):
    total = data.draw(rois(ndims))
    read = data.draw(rois(ndims))
    write = data.draw(rois(ndims))

    def build():
        task = daisy.Task(
            task_id,
            total,
            read,
            write,
            lambda b: None,
            num_workers=num_workers,
            max_retries=max_retries,
            timeout=timeout,
            fit=fit,
            read_write_conflict=conflict,
        )
        run_small(task)

    only_daisy_errors(build)


@FUZZ
@given(
    ndims=dims,
    data=st.data(),
    fit=st.sampled_from(["valid", "overhang", "shrink"]),
    conflict=st.booleans(),
)
def test_fuzz_small_tasks_run_to_the_end(ndims, data, fit, conflict):
    # Plausible shapes, so that most tasks are valid and run.
    small = st.tuples(*[st.integers(-2, 6)] * ndims)
    total = Roi(data.draw(small), data.draw(st.tuples(*[st.integers(0, 12)] * ndims)))
    read = Roi(data.draw(small), data.draw(st.tuples(*[st.integers(0, 5)] * ndims)))
    write = Roi(data.draw(small), data.draw(st.tuples(*[st.integers(1, 4)] * ndims)))
    only_daisy_errors(
        lambda: run_small(
            daisy.Task(
                "t", total, read, write, lambda b: None, fit=fit, read_write_conflict=conflict
            )
        )
    )


@FUZZ
@given(
    ndims=dims,
    data=st.data(),
    block_id=st.one_of(ints, anything),
    task_id=anything,
)
def test_fuzz_block_never_panics(ndims, data, block_id, task_id):
    total, read, write = (data.draw(rois(ndims)) for _ in range(3))

    def build():
        block = daisy.Block(total, read, write, block_id=block_id, task_id=task_id)
        repr(block)
        return block

    only_daisy_errors(build)
    only_daisy_errors(lambda: daisy.Block(total, read, write))


@FUZZ
@given(
    ndims=dims,
    data=st.data(),
    fit=st.one_of(st.sampled_from(["valid", "overhang", "shrink"]), st.text(max_size=3)),
    conflict=st.booleans(),
    which=st.sampled_from(["read", "write", "both"]),
)
def test_fuzz_dependency_graph_never_panics(ndims, data, fit, conflict, which):
    read, write, total, probe = (data.draw(rois(ndims)) for _ in range(4))
    totals = {
        "read": dict(total_read_roi=total),
        "write": dict(total_write_roi=total),
        "both": dict(total_read_roi=total, total_write_roi=data.draw(rois(ndims))),
    }[which]

    def build():
        graph = daisy.BlockwiseDependencyGraph("g", read, write, conflict, fit, **totals)
        for level in range(min(graph.num_levels, 3)):
            for _, block in zip(range(5), graph.level_blocks(level), strict=False):
                graph.upstream(block)
                graph.downstream(block)
                graph.shrink(block)
        if graph.num_blocks <= 50:
            graph.get_subgraph_blocks(probe)
            graph.get_subgraph_blocks(probe, read_roi=True)
            list(graph.enumerate_all_dependencies())
        daisy.expand_roi_to_grid(probe, total, read, write)

    only_daisy_errors(build)
