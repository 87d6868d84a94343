"""daisy 1.x's module names for the stand-ins in ``daisy/legacy/``, imported only on demand.

In daisy 1.x, ``daisy.tcp``, ``daisy.messages``, ``daisy.worker``, ... were modules of the
package itself. Their stand-ins live in the directory ``daisy/legacy/`` but keep those names:
importing ``daisy.tcp`` (or ``daisy.tcp.tcp_server``, ``from daisy.worker import Worker``, ...)
loads ``daisy/legacy/tcp/`` *as* ``daisy.tcp``, so their classes, loggers and pickles carry
the module paths they had in 1.x. ``daisy.legacy.tcp`` is the same module object under a
second name.

:func:`install` puts the finder that does this first on :data:`sys.meta_path`. Importing
this module calls it (``import daisy`` does, first of the package's modules); it imports none
of the stand-ins.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

#: The stand-ins, by their daisy 1.x name relative to the package (``tcp`` is ``daisy.tcp``).
NAMES = frozenset(
    {
        "block_bookkeeper",
        "messages",
        "processing_queue",
        "ready_surface",
        "task_worker_pools",
        "tcp",
        "worker",
        "worker_pool",
    }
)

_PACKAGE = __name__.rpartition(".")[0]
_LEGACY = "legacy"
_DIRECTORY = Path(__file__).resolve().parent / _LEGACY


class _LegacyNamesFinder(importlib.abc.MetaPathFinder):
    """Finds ``daisy.<name>`` in ``daisy/legacy/`` and ``daisy.legacy.<name>...`` as aliases."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        package, _, rest = fullname.partition(".")
        if package != _PACKAGE:
            return None
        if rest in NAMES:
            location = _DIRECTORY / rest
            if location.is_dir():
                return importlib.util.spec_from_file_location(
                    fullname, location / "__init__.py", submodule_search_locations=[str(location)]
                )
            return importlib.util.spec_from_file_location(fullname, _DIRECTORY / f"{rest}.py")
        prefix, _, name = rest.partition(".")
        if prefix == _LEGACY and name.partition(".")[0] in NAMES:
            return importlib.util.spec_from_loader(fullname, _Alias(f"{_PACKAGE}.{name}"))
        return None


class _Alias(importlib.abc.Loader):
    """Loads a module that is already known under another name: the same object, not a copy."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.spec: ModuleSpec | None = None

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.name)
        self.spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # Loading set the alias's spec on the module; it keeps its own.
        module.__spec__ = self.spec


def install() -> None:
    """Puts the finder first on :data:`sys.meta_path` (once): before the finder that would
    load a second copy of ``daisy/legacy/tcp/tcp_server.py`` under another name."""
    if not any(isinstance(finder, _LegacyNamesFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LegacyNamesFinder())


install()
