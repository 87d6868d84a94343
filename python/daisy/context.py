"""The connection data a worker needs, and its ``DAISY_CONTEXT`` form (docs/semantics.md#workers-and-daisy_context).

A worker finds its server through the environment variable ``DAISY_CONTEXT``::

    DAISY_CONTEXT=logdir=daisy_logs:hostname=10.1.2.3:port=43125:task_id=A:worker_id=3

:class:`Context` is that list of ``key=value`` items::

    >>> ctx = Context(hostname="h", port=1234, task_id="A", worker_id=3)
    >>> ctx.to_env()
    'logdir=daisy_logs:hostname=h:port=1234:task_id=A:worker_id=3'
    >>> os.environ[Context.ENV_VARIABLE] = ctx.to_env()
    >>> Context.from_env()["port"]          # parsed values are strings
    '1234'

Keys the engine adds after daisy's own (``token``, ``prefetch``) are carried through
unchanged and in order.
"""

import copy
import logging
import os
from collections.abc import ItemsView, Iterator, KeysView
from typing import Any

from . import _daisy
from . import logging as daisy_logging

logger = logging.getLogger(__name__)


class Context:
    """An ordered set of ``key=value`` items, starting with ``logdir``.

    ``Context(**kwargs)`` holds ``logdir`` (the current log base directory,
    :func:`daisy.logging.get_log_basedir`) followed by the given items in order; values
    given to the constructor keep their type. Items set with ``ctx[key] = value`` are
    converted to ``str``, and neither the key nor the value may contain ``=`` or ``:``.
    """

    ENV_VARIABLE = "DAISY_CONTEXT"

    def __init__(self, **kwargs: Any) -> None:
        self._items: dict[str, Any] = {"logdir": daisy_logging.LOG_BASEDIR}
        self._items.update(kwargs)

    def copy(self) -> "Context":
        """Returns an independent copy."""
        return copy.deepcopy(self)

    def to_env(self) -> str:
        """Returns the ``DAISY_CONTEXT`` string: ``k=v`` pairs joined by ``:``, by the engine's rule.

        An item whose key or value (as ``str``) holds ``:``, ``=`` or NUL is written
        ``k==v`` with ``%``, ``:``, ``=`` and NUL percent-encoded; every other item exactly
        as daisy 1.x writes it.
        """
        return _daisy.format_context([(str(k), str(v)) for k, v in self._items.items()])

    @staticmethod
    def from_env() -> "Context":
        """Builds a Context from the ``DAISY_CONTEXT`` environment variable.

        All values are strings afterwards (``port`` is ``'43125'``). The text is parsed by
        the engine's rule: see ``docs/semantics.md#workers-and-daisy_context``.

        Raises:
            KeyError: ``DAISY_CONTEXT`` is not set (also logged at ERROR).
            ValueError: an item of the variable is not of the form ``key=value``.
        """
        try:
            value = os.environ[Context.ENV_VARIABLE]
        except KeyError:
            logger.error("%s environment variable not found!", Context.ENV_VARIABLE)
            raise
        return Context._parse(value)

    @staticmethod
    def _parse(text: str) -> "Context":
        """Builds a Context from a ``DAISY_CONTEXT`` text, by the engine's rule.

        The text is split at every ``:`` into items; an item with exactly one ``=`` is
        ``key=value``, taken as it is (either may be empty); an item ``key==value`` has its
        key and value percent-decoded. Any key is kept, in order; a repeated key keeps its
        first position and its last value. All values are strings.

        Raises:
            ValueError: naming the first item that is not of the form ``key=value``.
        """
        context = Context()
        for key, value in _daisy.parse_context(text):
            context._items[key] = value
        return context

    def __setitem__(self, k: Any, v: Any) -> None:
        k = str(k)
        v = str(v)
        if "=" in k or ":" in k:
            raise RuntimeError("Context variables must not contain = or :.")
        if "=" in v or ":" in v:
            raise RuntimeError("Context values must not contain = or :.")
        self._items[k] = v

    def __getitem__(self, k: str) -> Any:
        return self._items[k]

    def get(self, k: str, v: Any = None) -> Any:
        """Returns the value of ``k``, or ``v`` if there is none."""
        return self._items.get(k, v)

    def __contains__(self, k: object) -> bool:
        return k in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> KeysView[str]:
        """The keys, in order."""
        return self._items.keys()

    def items(self) -> ItemsView[str, Any]:
        """The ``(key, value)`` pairs, in order."""
        return self._items.items()

    def __repr__(self) -> str:
        return self.to_env()


__all__ = ["Context"]
