"""Where workers write their output (docs/semantics.md#workers-and-daisy_context).

Every worker process sends its stdout and stderr to
``<LOG_BASEDIR>/<task_id>/worker_<worker_id>.out`` and ``.err``. The base directory
defaults to ``./daisy_logs`` and can be changed (or redirection switched off) with
:func:`set_log_basedir`::

    import daisy.logging
    daisy.logging.set_log_basedir("/scratch/my_run/logs")
    daisy.logging.get_worker_log_basename(3, "predict")   # PosixPath('/scratch/my_run/logs/predict/worker_3')

The redirection happens at the level of file descriptors 1 and 2, so programs started by
a worker (``subprocess.run([...])``) write into the same files.

Log records of daisy, from its Python modules and from the Rust engine alike, go to
Python's :mod:`logging` under the ``daisy`` logger: the engine's module
``daisy_server::run`` logs as ``daisy.server.run``, ``daisy_launch::pid`` as
``daisy.launch.pid``, and libraries the engine uses under ``daisy.engine.*``. So
``logging.getLogger("daisy").setLevel(logging.ERROR)`` silences all of daisy's warnings.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO, Literal

LOG_BASEDIR: Path | None = Path("./daisy_logs")
"""The base directory of worker logs, or ``None`` if output is not redirected."""


def set_log_basedir(path: str | os.PathLike[str] | None) -> None:
    """Sets the base directory of worker logs.

    Args:
        path: a directory (``str`` or path-like). ``None``, the empty string or the string
            ``"None"`` (how ``DAISY_CONTEXT`` writes a missing log directory, docs/semantics.md#workers-and-daisy_context)
            switch redirection off.
    """
    global LOG_BASEDIR
    if path is None or path == "" or path == "None":
        LOG_BASEDIR = None
    else:
        try:
            LOG_BASEDIR = Path(path)
        except TypeError:
            raise TypeError(
                f"set_log_basedir(): path must be a str, a path-like object or None, "
                f"got {path!r} of type {type(path).__name__}"
            ) from None


def get_log_basedir() -> Path | None:
    """Returns the base directory of worker logs (a ``Path``), or ``None``."""
    return LOG_BASEDIR


def get_worker_log_basename(worker_id: int | str, task_id: str | None = None) -> Path | None:
    """Returns the path of a worker's log files without the ``.out``/``.err`` suffix.

    ``LOG_BASEDIR / task_id / f"worker_{worker_id}"``; without the task part if
    ``task_id`` is None, and ``None`` if the base directory is ``None``.
    """
    if LOG_BASEDIR is None:
        return None
    basename = LOG_BASEDIR
    if task_id is not None:
        basename = basename / str(task_id)
    return basename / f"worker_{worker_id}"


def _with_suffix(basename: Path, suffix: str) -> Path:
    # Not Path.with_suffix(): it would replace a dot-part of the name ("worker_1.5").
    return basename.parent / (basename.name + suffix)


def _redirect_fd(path: Path, mode: str, fd: int, errors: str) -> IO[str]:
    """Points file descriptor ``fd`` at ``path`` and returns a line-buffered file object for it."""
    new_file = open(path, mode, buffering=1, encoding="utf-8", errors=errors)
    # dup2 makes `fd` share the open file description (and so the offset) with new_file:
    # output written through either of them, or by a child process inheriting `fd`, lands
    # in order in the same file.
    os.dup2(new_file.fileno(), fd)
    return new_file


def redirect_stdouterr(
    basename: str | os.PathLike[str] | None, mode: Literal["w", "a"] = "w"
) -> None:
    """Redirects this process's stdout and stderr into ``<basename>.out`` and ``<basename>.err``.

    Creates the parent directory if needed. File descriptors 1 and 2 are redirected
    (``os.dup2``), so subprocesses started afterwards write into the same files, and
    ``sys.stdout`` / ``sys.stderr`` are replaced by new line-buffered file objects on those
    files. Nothing happens if ``basename`` is None.

    Args:
        basename: the log path without suffix (see :func:`get_worker_log_basename`), or None.
        mode: ``"w"`` truncates the files, ``"a"`` appends to them.
    """
    if basename is None:
        return
    if mode not in ("w", "a"):
        raise ValueError(f"redirect_stdouterr(): mode must be 'w' or 'a', got {mode!r}")
    basename = Path(basename)
    basename.parent.mkdir(parents=True, exist_ok=True)

    # Whatever is still buffered belongs to the old destinations.
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass

    sys.stdout = _redirect_fd(_with_suffix(basename, ".out"), mode, 1, "strict")
    sys.stderr = _redirect_fd(_with_suffix(basename, ".err"), mode, 2, "backslashreplace")


__all__ = [
    "LOG_BASEDIR",
    "set_log_basedir",
    "get_log_basedir",
    "get_worker_log_basename",
    "redirect_stdouterr",
]
