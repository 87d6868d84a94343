"""``daisy.coordinate.Coordinate`` is :class:`funlib.geometry.Coordinate` itself.

daisy 1.x re-exported funlib's class, and so does this package: user code mixes
``daisy.Coordinate`` and ``funlib.geometry.Coordinate`` freely (docs/semantics.md#geometry).
"""

from funlib.geometry import Coordinate

__all__ = ["Coordinate"]
