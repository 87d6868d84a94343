"""daisy.context (docs/semantics.md#workers-and-daisy_context) and daisy.logging (docs/semantics.md#workers-and-daisy_context)."""

import copy
import logging
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import daisy.logging as daisy_logging
from daisy import _daisy
from daisy.client import _context_from_string
from daisy.context import Context
from daisy.errors import ContextError


@pytest.fixture(autouse=True)
def restore_log_basedir():
    saved = daisy_logging.LOG_BASEDIR
    yield
    daisy_logging.LOG_BASEDIR = saved


# --- Context ------------------------------------------------------------------------------


def test_context_to_env_worked_example():
    ctx = Context(hostname="h", port=1234, task_id="A", worker_id=3)
    assert ctx.to_env() == "logdir=daisy_logs:hostname=h:port=1234:task_id=A:worker_id=3"
    assert repr(ctx) == ctx.to_env()
    assert Context.ENV_VARIABLE == "DAISY_CONTEXT"


def test_context_constructor_values_keep_their_type_and_logdir_comes_first():
    ctx = Context(hostname="h", port=1234, worker_id=3)
    assert ctx["port"] == 1234
    assert ctx["worker_id"] == 3
    assert ctx["logdir"] == Path("daisy_logs")
    assert list(ctx.keys()) == ["logdir", "hostname", "port", "worker_id"]


def test_context_logdir_follows_the_current_log_basedir():
    daisy_logging.set_log_basedir(None)
    assert Context(hostname="h").to_env() == "logdir=None:hostname=h"
    daisy_logging.set_log_basedir("/tmp/logs")
    assert Context(hostname="h").to_env() == "logdir=/tmp/logs:hostname=h"
    # a given logdir replaces the default in first position
    assert Context(hostname="h", logdir="x").to_env() == "logdir=x:hostname=h"


def test_context_from_env_parses_strings_in_order(monkeypatch):
    env = "logdir=daisy_logs:hostname=10.1.2.3:port=43125:task_id=A:worker_id=3"
    monkeypatch.setenv("DAISY_CONTEXT", env)
    ctx = Context.from_env()
    assert ctx["port"] == "43125"
    assert ctx["worker_id"] == "3"
    assert ctx["logdir"] == "daisy_logs"
    assert ctx["hostname"] == "10.1.2.3"
    assert ctx.to_env() == env
    assert all(isinstance(v, str) for _, v in ctx.items())


def test_context_carries_unknown_keys_through_in_order(monkeypatch):
    env = (
        "logdir=None:hostname=127.0.0.1:port=5:task_id=B:worker_id=0"
        ":token=0123456789abcdef0123456789abcdef:prefetch=4"
    )
    monkeypatch.setenv("DAISY_CONTEXT", env)
    ctx = Context.from_env()
    assert list(ctx) == ["logdir", "hostname", "port", "task_id", "worker_id", "token", "prefetch"]
    assert ctx["token"] == "0123456789abcdef0123456789abcdef"
    assert ctx["prefetch"] == "4"
    assert ctx.to_env() == env
    assert ctx.copy().to_env() == env


def test_context_from_env_without_the_variable_logs_and_raises_key_error(monkeypatch, caplog):
    monkeypatch.delenv("DAISY_CONTEXT", raising=False)
    with caplog.at_level(logging.ERROR):
        with pytest.raises(KeyError) as e:
            Context.from_env()
    assert e.value.args == ("DAISY_CONTEXT",)
    assert repr(e.value) == "KeyError('DAISY_CONTEXT')"
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.ERROR, "DAISY_CONTEXT environment variable not found!")
    ]


@pytest.mark.parametrize("value", ["hostname", "a=b=c", "logdir=x:", ""])
def test_context_from_env_rejects_malformed_items(monkeypatch, value):
    monkeypatch.setenv("DAISY_CONTEXT", value)
    with pytest.raises(ValueError, match="is not of the form key=value"):
        Context.from_env()


@pytest.mark.parametrize(
    "value, item, position",
    [("hostname", "hostname", 1), ("a=1:b=2=3", "b=2=3", 2), ("a=1:", "", 2), ("", "", 1)],
)
def test_context_errors_name_the_bad_item(monkeypatch, value, item, position):
    monkeypatch.setenv("DAISY_CONTEXT", value)
    expected = f"DAISY_CONTEXT item {position} '{item}' is not of the form key=value"
    for parse in (Context.from_env, lambda: _context_from_string(value, typed=True)):
        with pytest.raises(ContextError) as e:
            parse()
        assert isinstance(e.value, ValueError)
        assert str(e.value).startswith(expected)


def test_one_rule_for_any_key():
    # the engine's parser: any key (an empty one too), empty values, a repeated key keeps
    # its first position and its last value
    text = "hostname=h:my.key=1:empty=:=v:hostname=g"
    assert _daisy.parse_context(text) == [
        ("hostname", "g"),
        ("my.key", "1"),
        ("empty", ""),
        ("", "v"),
    ]
    ctx = Context._parse(text)
    assert list(ctx.items())[1:] == [("hostname", "g"), ("my.key", "1"), ("empty", ""), ("", "v")]
    assert list(_context_from_string(text).items()) == list(ctx.items())


def test_typed_context_converts_port_and_worker_id_only():
    text = "logdir=None:hostname=h:port=43125:task_id=A:worker_id=3:token=00ff:prefetch=4"
    typed = _context_from_string(text, typed=True)
    assert (typed["port"], typed["worker_id"]) == (43125, 3)
    assert (typed["token"], typed["prefetch"], typed["logdir"]) == ("00ff", "4", "None")
    assert typed.to_env() == text
    assert _context_from_string(text)["port"] == "43125"
    # a value that is not a number stays as it is
    assert _context_from_string("port=http", typed=True)["port"] == "http"


def test_context_setitem_converts_to_str_and_appends():
    ctx = Context(hostname="h")
    ctx[5] = 6
    ctx["port"] = 1234
    assert ctx["5"] == "6"
    assert ctx["port"] == "1234"
    assert ctx.to_env() == "logdir=daisy_logs:hostname=h:5=6:port=1234"
    ctx["hostname"] = "other"  # existing keys keep their position
    assert ctx.to_env() == "logdir=daisy_logs:hostname=other:5=6:port=1234"


@pytest.mark.parametrize("key", ["a=b", "a:b", "=", ":"])
def test_context_rejects_keys_with_separators(key):
    ctx = Context()
    with pytest.raises(RuntimeError) as e:
        ctx[key] = "v"
    assert str(e.value) == "Context variables must not contain = or :."
    assert key not in ctx


@pytest.mark.parametrize("value", ["a=b", "C:\\data", "x:y"])
def test_context_rejects_values_with_separators(value):
    ctx = Context()
    with pytest.raises(RuntimeError) as e:
        ctx["k"] = value
    assert str(e.value) == "Context values must not contain = or :."
    assert "k" not in ctx


def test_context_getitem_get_and_copy():
    ctx = Context(hostname="h")
    with pytest.raises(KeyError):
        ctx["missing"]
    assert ctx.get("missing") is None
    assert ctx.get("missing", 7) == 7
    assert ctx.get("hostname") == "h"
    other = ctx.copy()
    other["hostname"] = "changed"
    other["new"] = "x"
    assert ctx["hostname"] == "h"
    assert "new" not in ctx
    assert copy.deepcopy(ctx).to_env() == ctx.to_env()


def test_context_pickles():
    ctx = Context(hostname="h", port=1, task_id="A", worker_id=2)
    again = pickle.loads(pickle.dumps(ctx))
    assert again.to_env() == ctx.to_env()
    assert again["port"] == 1


# --- logging: base directory and basenames ----------------------------------------------


def test_log_basedir_default():
    # the module default, independent of what other tests set since
    import importlib

    fresh = importlib.util.module_from_spec(importlib.util.find_spec("daisy.logging"))
    fresh.__spec__.loader.exec_module(fresh)
    assert fresh.LOG_BASEDIR == Path("./daisy_logs")
    assert str(fresh.LOG_BASEDIR) == "daisy_logs"


def test_set_and_get_log_basedir():
    daisy_logging.set_log_basedir("/tmp/some/where")
    assert daisy_logging.get_log_basedir() == Path("/tmp/some/where")
    assert daisy_logging.LOG_BASEDIR == Path("/tmp/some/where")
    daisy_logging.set_log_basedir(Path("rel"))
    assert daisy_logging.get_log_basedir() == Path("rel")
    for off in (None, "", "None"):
        daisy_logging.set_log_basedir("x")
        daisy_logging.set_log_basedir(off)
        assert daisy_logging.get_log_basedir() is None
    with pytest.raises(TypeError, match=r"set_log_basedir\(\): path must be a str"):
        daisy_logging.set_log_basedir(3)


def test_get_worker_log_basename():
    daisy_logging.set_log_basedir("daisy_logs")
    assert daisy_logging.get_worker_log_basename(3, "A") == Path("daisy_logs/A/worker_3")
    assert str(daisy_logging.get_worker_log_basename(3, "A")) == "daisy_logs/A/worker_3"
    assert daisy_logging.get_worker_log_basename(7) == Path("daisy_logs/worker_7")
    daisy_logging.set_log_basedir(None)
    assert daisy_logging.get_worker_log_basename(3, "A") is None


def test_redirect_stdouterr_with_none_does_nothing():
    out, err = sys.stdout, sys.stderr
    daisy_logging.redirect_stdouterr(None)
    assert sys.stdout is out and sys.stderr is err


def test_redirect_stdouterr_rejects_unknown_modes(tmp_path):
    with pytest.raises(ValueError, match=r"mode must be 'w' or 'a', got 'r'"):
        daisy_logging.redirect_stdouterr(tmp_path / "w", mode="r")


# --- logging: descriptor-level redirection, in a child process -----------------------------

CHILD = textwrap.dedent(
    """
    import os, subprocess, sys
    from pathlib import Path
    import daisy.logging as dl

    print("before")                      # still to the parent's pipe
    sys.stdout.flush()
    basename = Path(sys.argv[1])
    old_out = sys.stdout
    dl.redirect_stdouterr(basename, mode=sys.argv[2])
    assert sys.stdout is not old_out
    assert sys.stdout.line_buffering and sys.stderr.line_buffering
    print("python out")
    print("python err", file=sys.stderr)
    os.write(1, b"fd out\\n")
    os.write(2, b"fd err\\n")
    subprocess.run(["sh", "-c", "echo subprocess out; echo subprocess err >&2"], check=True)
    print("after")
    print("ünïcode")
    """
)


def run_child(basename, mode="w"):
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(basename), mode],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


def test_redirect_stdouterr_redirects_descriptors_for_python_and_subprocesses(tmp_path):
    basename = tmp_path / "logs" / "A" / "worker_0"  # parent directories are created
    result = run_child(basename)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "before\n"
    assert result.stderr == ""
    out = Path(str(basename) + ".out").read_text(encoding="utf-8")
    err = Path(str(basename) + ".err").read_text(encoding="utf-8")
    assert out == "python out\nfd out\nsubprocess out\nafter\nünïcode\n"
    assert err == "python err\nfd err\nsubprocess err\n"


def test_redirect_stdouterr_mode_w_truncates_and_mode_a_appends(tmp_path):
    basename = tmp_path / "worker_1"
    assert run_child(basename).returncode == 0
    assert run_child(basename, "a").returncode == 0
    out = (tmp_path / "worker_1.out").read_text(encoding="utf-8")
    assert out == "python out\nfd out\nsubprocess out\nafter\nünïcode\n" * 2
    assert run_child(basename, "w").returncode == 0
    out = (tmp_path / "worker_1.out").read_text(encoding="utf-8")
    assert out == "python out\nfd out\nsubprocess out\nafter\nünïcode\n"


def test_redirect_stdouterr_keeps_dots_in_the_basename(tmp_path):
    basename = tmp_path / "task.v2" / "worker_1.5"
    assert run_child(basename).returncode == 0
    assert (tmp_path / "task.v2" / "worker_1.5.out").exists()
    assert (tmp_path / "task.v2" / "worker_1.5.err").exists()
