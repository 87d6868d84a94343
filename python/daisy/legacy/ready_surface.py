"""The frontier of a block graph (docs/semantics.md#scheduling).

A pure-Python implementation of daisy 1.x's ``ReadySurface``, for users who drive their own
graphs. The :class:`daisy.Scheduler` does not use it: the engine keeps its own frontier.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

__all__ = ["ReadySurface"]

Node = TypeVar("Node", bound=Hashable)


class ReadySurface(Generic[Node]):
    """The ready surface of a graph whose nodes are processed in dependency order.

    It keeps two sets and never the whole graph:

    - ``surface``: nodes that succeeded and still have unfinished downstream nodes;
    - ``boundary``: nodes that failed or were orphaned and still have surface parents.

    Args:

        get_downstream_nodes (callable): ``node -> list`` of the nodes depending on ``node``.
        get_upstream_nodes (callable): ``node -> list`` of the nodes ``node`` depends on.
    """

    def __init__(
        self,
        get_downstream_nodes: Callable[[Node], list[Node]],
        get_upstream_nodes: Callable[[Node], list[Node]],
    ) -> None:
        self.downstream = get_downstream_nodes
        self.upstream = get_upstream_nodes

        self.surface: set[Node] = set()
        self.boundary: set[Node] = set()

    def mark_success(self, node: Node) -> list[Node]:
        """Marks ``node`` as succeeded; returns the list of nodes that became ready."""
        upstream_nodes = self.upstream(node)
        assert all(up in self.surface for up in upstream_nodes), (
            f"Not all upstream nodes of {node} succeeded"
        )

        self.surface.add(node)

        downstream_nodes = self.downstream(node)
        new_ready_nodes: list[Node] = []
        for down in downstream_nodes:
            if not self._add_to_boundary(down):
                if all(up in self.surface for up in self.upstream(down)):
                    new_ready_nodes.append(down)

        self._clean_up(upstream_nodes)

        if len(downstream_nodes) == 0:
            self.surface.discard(node)

        return new_ready_nodes

    def mark_failure(self, node: Node, count_all_orphans: bool = False) -> set[Node]:
        """Marks ``node`` as failed; returns the set of nodes that became orphans.

        Every node that transitively depends on ``node`` and was not orphaned before is
        reported once. (``count_all_orphans`` is accepted for compatibility; the walk is
        always complete here.)
        """
        upstream_nodes = self.upstream(node)
        assert all(up in self.surface for up in upstream_nodes), (
            f"Not all upstream nodes of {node} succeeded"
        )

        self.boundary.add(node)

        orphans: set[Node] = set()
        queue = deque([node])
        while queue:
            current = queue.popleft()
            for down in self.downstream(current):
                if self._add_to_boundary(down):
                    orphans.add(down)
                    queue.append(down)

        self._clean_up(upstream_nodes)

        if len(upstream_nodes) == 0:
            self.boundary.discard(node)

        return orphans

    def _add_to_boundary(self, node: Node) -> bool:
        """Adds ``node`` to the boundary if it is not there yet and one of its upstream
        nodes is; returns whether it was added."""
        if node in self.boundary:
            return False
        if any(up in self.boundary for up in self.upstream(node)):
            self.boundary.add(node)
            return True
        return False

    def _clean_up(self, upstream_nodes: Iterable[Node]) -> None:
        """Drops surface nodes whose downstream nodes are all finished, and boundary nodes
        that no longer have a surface parent."""
        for up in upstream_nodes:
            downstream_of_up = self.downstream(up)
            if all(d in self.surface or d in self.boundary for d in downstream_of_up):
                self.surface.discard(up)
                for d in downstream_of_up:
                    if d in self.boundary and not any(u in self.surface for u in self.upstream(d)):
                        self.boundary.discard(d)
