"""Observers of a run: progress bars, summaries, custom monitoring (docs/semantics.md#progress-and-the-execution-summary).

Subclass :class:`ServerObserver` and override the hooks you need::

    class PrintDone(daisy.server_observer.ServerObserver):
        def on_task_done(self, task_id, task_state):
            print(task_id, "done:", task_state.completed_count, "blocks")

    server = daisy.Server()
    PrintDone(server)            # registers itself
    server.run_blockwise(tasks)

``Server`` and ``SerialServer`` are :class:`ServerObservee` objects and call the hooks of
every registered observer, in registration order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .block import Block
    from .context import Context
    from .task_state import TaskState


class ServerObserver:
    """Base class of run observers; registers itself with ``server`` on construction.

    Every hook is a no-op here. ``task_state`` arguments are :class:`~daisy.TaskState`
    objects; ``context`` is the failing worker's :class:`~daisy.Context` (``context["worker_id"]``).
    """

    def __init__(self, server: Any) -> None:
        register = getattr(server, "register_observer", None)
        if register is None:
            raise TypeError(
                f"{type(self).__name__}(server): server must be observable (a daisy Server, "
                f"SerialServer or other ServerObservee), got {server!r} of type "
                f"{type(server).__name__}"
            )
        register(self)

    def on_task_start(self, task_id: str, task_state: TaskState) -> None:
        """A task's workers are about to start (its first blocks are ready)."""

    def on_acquire_block(self, task_id: str, task_state: TaskState) -> None:
        """A block of the task was handed out."""

    def on_release_block(self, task_id: str, task_state: TaskState) -> None:
        """A block of the task came back (succeeded, failed or lost)."""

    def on_block_failure(self, block: Block, exception: BaseException, context: Context) -> None:
        """A block failed: ``exception`` is what the worker reported."""

    def on_task_done(self, task_id: str, task_state: TaskState) -> None:
        """Every block of the task is completed, failed or orphaned."""

    def on_task_abandoned(self, task_id: str, task_state: TaskState, reason: str) -> None:
        """The task was given up (no worker could be kept alive, docs/semantics.md#worker-restarts)."""

    def on_server_exit(self) -> None:
        """The run is over (also after errors and Ctrl-C)."""


class ServerObservee:
    """Something observers can watch: keeps ``observers`` and calls their hooks."""

    def __init__(self) -> None:
        self.observers: list[ServerObserver] = []

    def __observers(self) -> list[ServerObserver]:
        # Subclasses that forgot to call ServerObservee.__init__ still work.
        observers: list[ServerObserver] | None = self.__dict__.get("observers")
        if observers is None:
            observers = self.__dict__["observers"] = []
        return observers

    def register_observer(self, observer: ServerObserver) -> None:
        """Adds ``observer``; its hooks are called from now on."""
        self.__observers().append(observer)

    def unregister_observer(self, observer: ServerObserver) -> None:
        """Removes ``observer``.

        Raises:
            ValueError: ``observer`` is not registered.
        """
        observers = self.__observers()
        if observer not in observers:
            raise ValueError(f"unregister_observer(): {observer!r} is not registered")
        observers.remove(observer)

    def __notify_observers(self, hook: str, *args: Any) -> None:
        for observer in list(self.__observers()):
            method = getattr(observer, hook, None)
            if method is not None:
                method(*args)

    def notify_task_start(self, task_id: str, task_state: TaskState) -> None:
        """Calls every observer's ``on_task_start``."""
        self.__notify_observers("on_task_start", task_id, task_state)

    def notify_acquire_block(self, task_id: str, task_state: TaskState) -> None:
        """Calls every observer's ``on_acquire_block``."""
        self.__notify_observers("on_acquire_block", task_id, task_state)

    def notify_release_block(self, task_id: str, task_state: TaskState) -> None:
        """Calls every observer's ``on_release_block``."""
        self.__notify_observers("on_release_block", task_id, task_state)

    def notify_block_failure(
        self, block: Block, exception: BaseException, context: Context
    ) -> None:
        """Calls every observer's ``on_block_failure``."""
        self.__notify_observers("on_block_failure", block, exception, context)

    def notify_task_done(self, task_id: str, task_state: TaskState) -> None:
        """Calls every observer's ``on_task_done``."""
        self.__notify_observers("on_task_done", task_id, task_state)

    def notify_task_abandoned(self, task_id: str, task_state: TaskState, reason: str) -> None:
        """Calls every observer's ``on_task_abandoned``."""
        self.__notify_observers("on_task_abandoned", task_id, task_state, reason)

    def notify_server_exit(self) -> None:
        """Calls every observer's ``on_server_exit``."""
        self.__notify_observers("on_server_exit")


__all__ = ["ServerObserver", "ServerObservee"]
