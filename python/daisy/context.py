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

    def __init__(self, **kwargs):
        self._items = {"logdir": daisy_logging.LOG_BASEDIR}
        self._items.update(kwargs)

    def copy(self):
        """Returns an independent copy."""
        return copy.deepcopy(self)

    def to_env(self):
        """Returns the ``DAISY_CONTEXT`` string: ``k=v`` pairs joined by ``:``."""
        return ":".join("%s=%s" % (k, v) for k, v in self._items.items())

    @staticmethod
    def from_env():
        """Builds a Context from the ``DAISY_CONTEXT`` environment variable.

        All values are strings afterwards (``port`` is ``'43125'``).

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
    def _parse(value):
        context = Context()
        for token in value.split(":"):
            parts = token.split("=")
            if len(parts) != 2:
                raise ValueError(
                    f"{Context.ENV_VARIABLE} must be a list of key=value items separated by ':', "
                    f"but item {token!r} of {value!r} is not of the form key=value"
                )
            context[parts[0]] = parts[1]
        return context

    def __setitem__(self, k, v):
        k = str(k)
        v = str(v)
        if "=" in k or ":" in k:
            raise RuntimeError("Context variables must not contain = or :.")
        if "=" in v or ":" in v:
            raise RuntimeError("Context values must not contain = or :.")
        self._items[k] = v

    def __getitem__(self, k):
        return self._items[k]

    def get(self, k, v=None):
        """Returns the value of ``k``, or ``v`` if there is none."""
        return self._items.get(k, v)

    def __contains__(self, k):
        return k in self._items

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)

    def keys(self):
        """The keys, in order."""
        return self._items.keys()

    def items(self):
        """The ``(key, value)`` pairs, in order."""
        return self._items.items()

    def __repr__(self):
        return self.to_env()


__all__ = ["Context"]
