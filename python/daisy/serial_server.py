"""Running tasks in the calling process, one block at a time (docs/semantics.md#run_blockwise)."""

import logging

from .block import BlockStatus
from .context import Context
from .scheduler import Scheduler
from .server_observer import ServerObservee
from .task import _collect_tasks

logger = logging.getLogger(__name__)

__all__ = ["SerialServer"]


class SerialServer(ServerObservee):
    """Runs the blocks of tasks in the calling process, for debugging.

    No sockets and no processes: every block function is called directly, so a debugger
    or a breakpoint works, and an exception raised by a block function stops the run and
    propagates. ``init_callback_fn`` is not called and timeouts are not enforced. Tasks
    with a spawn function (no argument) cannot run this way.
    """

    def __init__(self):
        super().__init__()
        self.scheduler = None

    def run_blockwise(self, tasks, scheduler=None):
        """Runs the tasks, with their upstream tasks; returns ``{task_id: TaskState}``."""
        if scheduler is None:
            all_tasks = _collect_tasks(tasks)
        else:
            all_tasks = _collect_tasks(
                list(_as_list(tasks)) + list(scheduler.task_map.values())
            )
        for task in all_tasks:
            if getattr(task, "_is_spawn_function", False):
                raise ValueError(
                    f"task {task.task_id!r} cannot run serially: its process_function "
                    f"{task.process_function!r} takes no block argument (it is a spawn "
                    "function that starts workers); use multiprocessing=True"
                )
        if scheduler is None:
            scheduler = Scheduler(all_tasks)
        self.scheduler = scheduler
        try:
            self._run(scheduler)
        finally:
            self.notify_server_exit()
        return scheduler.task_states

    def _run(self, scheduler):
        states = scheduler.task_states
        task_map = scheduler.task_map
        started = set()
        done = set()

        def check_done(task_ids):
            for task_id in task_ids:
                if task_id not in done and states[task_id].is_done():
                    done.add(task_id)
                    self.notify_task_done(task_id, states[task_id])

        check_done(states)
        while len(done) < len(states):
            block = None
            for task in scheduler.get_ready_tasks():
                task_id = task.task_id
                if task_id not in started:
                    started.add(task_id)
                    self.notify_task_start(task_id, states[task_id])
                block = scheduler.acquire_block(task_id)
                if block is not None:
                    break
                # Every ready block was skipped by the pre-check.
                check_done(states)
            if block is None:
                break

            task_id = block.block_id[0]
            task = task_map[task_id]
            self.notify_acquire_block(task_id, states[task_id])

            task.process_function(block)
            if block.status != BlockStatus.FAILED:
                block.status = BlockStatus.SUCCESS

            post_check = _post_check(task)
            if post_check is not None and block.status == BlockStatus.SUCCESS:
                try:
                    ok = post_check(block)
                    error = None if ok else RuntimeError(
                        f"post_check() returned {ok!r} for block {block.block_id[1]}"
                    )
                except Exception as e:  # pylint: disable=broad-except
                    logger.exception("post_check() exception for block %s", block.block_id)
                    ok, error = False, e
                if not ok:
                    block.status = BlockStatus.FAILED
                    block_context = Context(
                        task_id=task_id, worker_id="serial", log_basename=None
                    )
                    self.notify_block_failure(block, error, block_context)

            failed = block.status == BlockStatus.FAILED
            scheduler.release_block(block)
            self.notify_release_block(task_id, states[task_id])
            # A success finishes at most the block's own task; a permanent failure may
            # orphan blocks of other tasks.
            check_done(states if failed else (task_id,))

        check_done(states)
        # Tasks that never became ready and are not done (e.g. upstream abandoned): the
        # loop ended because nothing can be acquired.


def _post_check(task):
    check = task.check_function
    if isinstance(check, (tuple, list)):
        return check[1]
    return None


def _as_list(tasks):
    from .task import Task  # pylint: disable=import-outside-toplevel

    return [tasks] if isinstance(tasks, Task) else tasks
