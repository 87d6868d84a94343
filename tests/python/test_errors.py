"""daisy's exception hierarchy (daisy.errors): each error path raises its documented class,
and every class is still the builtin daisy 1.x raised there."""

import errno
import os

import pytest

import daisy
from daisy import Roi, _daisy, errors

TOTAL = Roi((0,), (10,))
READ = Roi((0,), (4,))
WRITE = Roi((1,), (2,))


def make(task_id="t", **kwargs):
    args = dict(total_roi=TOTAL, read_roi=READ, write_roi=WRITE, process_function=lambda b: None)
    args.update(kwargs)
    return daisy.Task(task_id, **args)


def test_every_class_is_a_daisy_error_and_its_builtin():
    builtins = {
        errors.TaskError: ValueError,
        errors.RoiContainmentError: (ValueError, AssertionError),
        errors.TaskGraphError: ValueError,
        errors.TaskTypeError: TypeError,
        errors.BlockError: ValueError,
        errors.UnknownTaskError: KeyError,
        errors.BlockNotProcessingError: KeyError,
        errors.BlockStatusError: RuntimeError,
        errors.DoneMarkerError: OSError,
        errors.DoneMarkerMismatchError: ValueError,
        errors.RunError: RuntimeError,
        errors.ClientError: ConnectionError,
        errors.ContextError: ValueError,
        errors.MissingContextError: (ValueError, KeyError),
        errors.GraphError: ValueError,
        errors.GraphMetadataError: (ValueError, AssertionError),
        errors.MissingNodeError: (ValueError, KeyError),
        errors.GraphStoreError: RuntimeError,
    }
    assert set(builtins) == {getattr(errors, name) for name in errors.__all__} - {errors.DaisyError}
    for cls, builtin in builtins.items():
        assert issubclass(cls, errors.DaisyError), cls
        assert issubclass(cls, builtin), cls
        assert cls.__doc__, cls
        assert getattr(daisy, cls.__name__) is cls
    assert issubclass(errors.RoiContainmentError, errors.TaskError)
    assert issubclass(errors.TaskGraphError, errors.TaskError)


@pytest.mark.parametrize(
    "kwargs, cls, text",
    [
        (dict(task_id="a:b"), errors.TaskError, "invalid task id 'a:b'"),
        (dict(task_id=""), errors.TaskError, "invalid task id ''"),
        (dict(read_roi=Roi((0, 0), (4, 4))), errors.TaskError, "dimensions"),
        (dict(total_roi=Roi((0,), (None,))), errors.TaskError, "must be bounded"),
        (dict(write_roi=Roi((1,), (0,))), errors.TaskError, "write shape must be positive"),
        (dict(fit="exact"), errors.TaskError, "unknown fit 'exact'"),
        (dict(num_workers=-1), errors.TaskError, "num_workers"),
        (dict(max_retries=-3), errors.TaskError, "max_retries must be an int from 0 to"),
        (dict(max_worker_restarts=-1), errors.TaskError, "max_worker_restarts"),
        (dict(timeout=0), errors.TaskError, "timeout must be a positive, finite number"),
        (dict(timeout=float("inf")), errors.TaskError, "timeout"),
        (dict(check_function=(None,)), errors.TaskError, "check_function"),
        (dict(process_function=lambda a, b: None), errors.TaskError, "args"),
        (dict(task_id=3), errors.TaskTypeError, "task_id must be a str"),
        (dict(total_roi=(0, 10)), errors.TaskTypeError, "total_roi"),
        (dict(num_workers="2"), errors.TaskTypeError, "num_workers must be an int"),
        (dict(timeout="10"), errors.TaskTypeError, "timeout"),
        (dict(check_function=5), errors.TaskTypeError, "check_function"),
        (dict(check_function=(5, None)), errors.TaskTypeError, "pre_check"),
        (dict(init_callback_fn="x"), errors.TaskTypeError, "init_callback_fn"),
        (dict(upstream_tasks=[5]), errors.TaskTypeError, "upstream_tasks"),
        (dict(done_marker_path=5), errors.TaskTypeError, "done_marker_path"),
        (dict(process_function=5), errors.TaskTypeError, "process_function"),
    ],
)
def test_bad_tasks(kwargs, cls, text):
    with pytest.raises(cls, match=text) as e:
        make(**kwargs)
    assert isinstance(e.value, errors.DaisyError)


def test_bad_values_are_still_value_errors_and_bad_types_type_errors():
    with pytest.raises(ValueError):
        make(task_id="a=b")
    with pytest.raises(TypeError):
        make(task_id=None)


def test_read_roi_must_contain_write_roi():
    with pytest.raises(errors.RoiContainmentError) as e:
        make(write_roi=Roi((3,), (3,)))
    assert str(e.value).startswith("Read ROI must contain write ROI.")
    assert "[3:6] (3)" in str(e.value)  # the engine's text names the ROIs
    assert isinstance(e.value, AssertionError) and isinstance(e.value, ValueError)


def test_duplicate_task_ids():
    first, second = make("A"), make("A")
    down = make("B", upstream_tasks=[second])
    for build in (
        lambda: daisy.Scheduler([first, down]),
        lambda: daisy.DependencyGraph([first, down]),
        lambda: daisy.run_blockwise([first, down], multiprocessing=False, progress=False),
    ):
        with pytest.raises(errors.TaskGraphError, match="share the task id 'A'"):
            build()
        with pytest.raises(ValueError):  # as in daisy 1.x
            build()
    # One Task object reached twice is no duplicate.
    assert list(daisy.Scheduler([first, make("C", upstream_tasks=[first])]).task_states) == [
        "A",
        "C",
    ]


def test_cycles_name_their_tasks_in_order():
    a = make("a")
    b = make("b", upstream_tasks=[a])
    a.upstream_tasks.append(b)  # a reads from b, b from a
    expected = "the tasks form a cycle: 'a' -> 'b' -> 'a'"
    with pytest.raises(errors.TaskGraphError, match=expected):
        daisy.Scheduler([a])
    with pytest.raises(errors.TaskGraphError, match="'b' -> 'a' -> 'b'"):
        daisy.DependencyGraph([b])
    with pytest.raises(ValueError, match="cycle"):
        daisy.run_blockwise([a], multiprocessing=False, progress=False)
    selfish = make("s")
    selfish.upstream_tasks.append(selfish)
    with pytest.raises(errors.TaskGraphError, match="'s' -> 's'"):
        daisy.Scheduler(selfish)


def test_upstream_tasks_of_other_dimensions():
    up = daisy.Task(
        "up", Roi((0, 0), (4, 4)), Roi((0, 0), (2, 2)), Roi((0, 0), (2, 2)), lambda b: None
    )
    with pytest.raises(errors.TaskGraphError, match="upstream task"):
        daisy.Scheduler([make("down", upstream_tasks=[up])])


def test_link_tasks_rejects_unknown_positions():
    spec = make("a")._spec()
    with pytest.raises(errors.TaskGraphError, match="upstream task number 3"):
        _daisy.link_tasks([spec], [[3]])


def test_scheduler_errors():
    scheduler = daisy.Scheduler([make("t", write_roi=Roi((0,), (4,)))])
    block = scheduler.acquire_block("t")
    with pytest.raises(errors.BlockStatusError, match="Unexpected status for released block"):
        scheduler.release_block(block)
    with pytest.raises(RuntimeError):
        scheduler.release_block(block)
    block.status = daisy.BlockStatus.SUCCESS
    scheduler.release_block(block)
    with pytest.raises(errors.BlockNotProcessingError, match="not being processed") as e:
        scheduler.release_block(block)
    assert isinstance(e.value, KeyError)
    assert str(e.value).startswith("block t/")  # the plain message, not a KeyError repr
    with pytest.raises(errors.UnknownTaskError, match="unknown task 'nope'"):
        scheduler._scheduler.counters("nope")
    with pytest.raises(KeyError):
        scheduler._scheduler.abandon_task("nope")


def test_blocks_off_the_grid():
    graph = daisy.BlockwiseDependencyGraph("t", READ, WRITE, True, "valid", TOTAL)
    block = daisy.Block(TOTAL, Roi((1,), (4,)), Roi((2,), (2,)), task_id="t")
    with pytest.raises(errors.BlockError, match="not on the block grid"):
        graph.upstream(block)


def test_done_marker_errors(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(errors.DoneMarkerError) as e:
        daisy.Scheduler([make(done_marker_path=not_a_dir / "marker")])
    assert isinstance(e.value, OSError)
    assert e.value.errno == errno.ENOTDIR
    assert "marker" in str(e.value)

    path = tmp_path / "marker"
    daisy.Scheduler([make(done_marker_path=path)])
    assert os.path.isdir(path)
    other = make(write_roi=Roi((1,), (1,)), read_roi=Roi((0,), (3,)), done_marker_path=path)
    with pytest.raises(errors.DoneMarkerMismatchError, match="different task layout"):
        daisy.Scheduler([other])
    with pytest.raises(ValueError):
        daisy.Scheduler([other])


def test_client_errors():
    with pytest.raises(errors.ContextError) as e:
        _daisy.Client("hostname=127.0.0.1")  # no port
    assert isinstance(e.value, ValueError)
    with pytest.raises(errors.ClientError) as e:
        # a port nothing listens on (0 is never one)
        _daisy.Client("hostname=127.0.0.1:port=0:task_id=t:worker_id=0:token=x")
    assert isinstance(e.value, ConnectionError)


def test_ready_surface_is_not_available():
    scheduler = daisy.Scheduler([make()])
    with pytest.raises(AttributeError, match="ready_surface is not available"):
        _ = scheduler.ready_surface
