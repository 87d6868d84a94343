"""``daisy.roi.Roi`` is :class:`funlib.geometry.Roi` itself.

daisy 1.x re-exported funlib's class, and so does this package: user code mixes
``daisy.Roi`` and ``funlib.geometry.Roi`` freely (docs/semantics.md#geometry).
"""

from funlib.geometry import Roi

__all__ = ["Roi"]
