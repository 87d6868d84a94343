"""A mixin that forbids adding attributes once an object is frozen (docs/semantics.md#geometry, #blocks-and-block-ids).

Example::

    class Point(Freezable):
        def __init__(self, x):
            self.x = x
            self.freeze()

    p = Point(1)
    p.x = 2   # fine: the attribute exists
    p.y = 3   # TypeError: <repr> is frozen, you can't add attributes to it
"""

from __future__ import annotations

from typing import Any


class Freezable:
    """Base class whose instances, once :meth:`freeze` was called, reject new attributes.

    Assigning an attribute that already exists (on the instance or its class) keeps
    working; assigning a new one raises
    ``TypeError("<repr> is frozen, you can't add attributes to it")``. :meth:`thaw`
    lifts the restriction again.
    """

    __isfrozen = False

    def __setattr__(self, key: str, value: Any) -> None:
        if self.__isfrozen and not hasattr(self, key):
            raise TypeError(f"{self!r} is frozen, you can't add attributes to it")
        object.__setattr__(self, key, value)

    def freeze(self) -> None:
        """Forbid adding new attributes from now on."""
        self.__isfrozen = True

    def thaw(self) -> None:
        """Allow adding new attributes again."""
        self.__isfrozen = False


__all__ = ["Freezable"]
