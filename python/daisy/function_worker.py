"""A worker that imports its function by module and name, for workers started elsewhere
(docs/cluster.md): ``python -m daisy.worker [--path DIR]... TARGET``.

``TARGET`` is ``module:qualname`` (``lab.segment:process``) or ``path/to/script.py:qualname``
(a script is loaded as the module ``__mp_main__``, as :mod:`multiprocessing` does, so its
``if __name__ == "__main__":`` part does not run). A function of one argument is a block
function, called for every block the server hands out; a function of none is a spawn
function, called once. ``DAISY_CONTEXT`` (set by the server's launcher) says where the server
is. ``--path`` directories go first on ``sys.path``.

:func:`target_of` turns a function into its ``TARGET`` (and the directory it is imported
from), or says why it cannot be imported by name: a closure, a lambda, a bound method.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .client import _context_from_string
from .context import Context
from .errors import TaskTypeError
from .logging import set_log_basedir

__all__ = ["main", "target_of"]

_SCRIPT_MODULE = "__mp_main__"


def target_of(function: Any) -> tuple[str, list[str]]:
    """The ``TARGET`` that imports ``function`` in another process, and the directories
    that must be on ``sys.path`` for it.

    Raises :class:`daisy.TaskTypeError` saying why if ``function`` cannot be imported by
    module and name: not a function (a bound method, a ``functools.partial``, a callable
    instance), a lambda, a closure (defined inside another function), or defined where
    another process cannot find it (an interactive session, a module that no longer holds it).
    """
    how = (
        "a worker started elsewhere imports its function by module and name, so it must "
        "be a function defined at the top level of a module or script"
    )
    if not inspect.isfunction(function):
        raise TaskTypeError(f"{function!r} is not a plain function; {how}")
    qualname: str = function.__qualname__
    if function.__name__ == "<lambda>":
        raise TaskTypeError(f"{function!r} is a lambda; {how}")
    if "<locals>" in qualname:
        outer = qualname.split(".<locals>")[0]
        raise TaskTypeError(f"{function!r} is a closure (defined inside {outer}()); {how}")
    module_name: str = function.__module__
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if module is None or file is None:
        raise TaskTypeError(
            f"{function!r} is defined in {module_name!r}, which has no file (an interactive "
            f"session?); {how}"
        )
    if _lookup(module, qualname) is not function:
        raise TaskTypeError(f"{module_name}.{qualname} is no longer {function!r}; {how}")
    path = Path(file).resolve()
    if module_name in ("__main__", _SCRIPT_MODULE):
        return f"{path}:{qualname}", [str(path.parent)]
    root = path.parent
    depth = module_name.count(".") + (path.name == "__init__.py")
    for _ in range(depth):
        root = root.parent
    return f"{module_name}:{qualname}", [str(root)]


def _lookup(module: Any, qualname: str) -> Any:
    """The object ``qualname`` (dotted) names in ``module``, or None."""
    found = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found


def load(target: str, paths: Sequence[str] = ()) -> Callable[..., Any]:
    """The function ``target`` names (see the module's docs), ``paths`` first on sys.path.

    Raises :class:`daisy.TaskTypeError` naming the target if it cannot be loaded.
    """
    for path in reversed(paths):
        if path not in sys.path:
            sys.path.insert(0, path)
    where, sep, qualname = target.rpartition(":")
    if not sep or not where or not qualname:
        raise TaskTypeError(f"{target!r}: expected module:function or path/to/script.py:function")
    try:
        if where.endswith(".py") or os.sep in where:
            module = _load_script(where)
        else:
            module = importlib.import_module(where)
    except TaskTypeError:
        raise
    except Exception as e:
        raise TaskTypeError(f"{target!r}: cannot import {where!r}: {e!r}") from e
    function = _lookup(module, qualname)
    if not callable(function):
        raise TaskTypeError(f"{target!r}: {where!r} has no function {qualname!r}")
    return function


def _load_script(path: str) -> Any:
    """The script at ``path``, loaded as the module ``__mp_main__``."""
    if not Path(path).is_file():
        raise TaskTypeError(f"no script {path!r}")
    spec = importlib.util.spec_from_file_location(_SCRIPT_MODULE, path)
    if spec is None or spec.loader is None:
        raise TaskTypeError(f"cannot load the script {path!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_SCRIPT_MODULE] = module
    spec.loader.exec_module(module)
    return module


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m daisy.worker``: runs one worker; its exit code (2: it could not start)."""
    from .server import _run_worker_function
    from .task import _block_function_args, _block_loop

    parser = argparse.ArgumentParser(
        prog="python -m daisy.worker",
        description="Runs a daisy worker whose function is imported by module and name; "
        "the server to connect to is in DAISY_CONTEXT.",
    )
    parser.add_argument(
        "--path", action="append", default=[], help="a directory to put first on sys.path"
    )
    parser.add_argument("target", help="module:function or path/to/script.py:function")
    args = parser.parse_args(argv)
    daisy_context = os.environ.get(Context.ENV_VARIABLE)
    if not daisy_context:
        print(
            f"daisy worker: {Context.ENV_VARIABLE} is not set: this program is started by a "
            "daisy server's launcher (e.g. as a SLURM job), which sets it",
            file=sys.stderr,
        )
        return 2
    context = _context_from_string(daisy_context)
    what = f"worker {context.get('worker_id')} of task {context.get('task_id')}"
    try:
        function = load(args.target, args.path)
        block_function = _block_function_args(function) == 1
    except Exception as e:
        print(f"daisy: {what} cannot start: {e}", file=sys.stderr)
        return 2
    logdir = context.get("logdir")
    set_log_basedir(None if logdir in (None, "None") else logdir)
    body = functools.partial(_block_loop, function) if block_function else function
    outcome: dict[str, int] = {}
    _run_worker_function(body, what, outcome)
    return outcome.get("code", 1)
