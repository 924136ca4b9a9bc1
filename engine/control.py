"""The one control API of a session: what the dashboard, the CLI and the MCP tools call.

Every method returns at once; its effect shows up as events. Calls that the task's state
does not allow raise :class:`~engine.errors.TransitionError`.
"""

from __future__ import annotations

from pathlib import Path

from engine.events import EventKind, Subscription
from engine.executors import Executor
from engine.model import SessionStatus, TaskResult, TaskStatus
from engine.scheduler import Scheduler, TaskView


class SessionHandle:
    """Controls and observes one session running in this process."""

    def __init__(self, scheduler: Scheduler, *, close_executors: bool = True) -> None:
        self._scheduler = scheduler
        self._close_executors = close_executors

    @property
    def session_id(self) -> str:
        """The session's id."""
        return self._scheduler.session_id

    @property
    def project(self) -> str:
        """The project's name."""
        return self._scheduler.project.name

    @property
    def workflow(self) -> str:
        """The workflow's name."""
        return self._scheduler.workflow.name

    @property
    def status(self) -> SessionStatus:
        """The session's status now."""
        return self._scheduler.status

    @property
    def finished(self) -> bool:
        """True once nothing runs and every task is final."""
        return self._scheduler.finished

    @property
    def scheduler(self) -> Scheduler:
        """The scheduler behind this handle (for tests and in-process tools)."""
        return self._scheduler

    def subscribe(
        self, *, maxsize: int = 10_000, kinds: frozenset[EventKind] | None = None
    ) -> Subscription:
        """Events from now on (use before acting to see every effect)."""
        return self._scheduler.bus.subscribe(maxsize=maxsize, kinds=kinds)

    # -- control -----------------------------------------------------------------------

    def pause(self, stop_processes: bool = False) -> None:
        """Stop dispatching; optionally SIGSTOP running process groups."""
        self._scheduler.pause(stop_processes)

    def resume(self) -> None:
        """Dispatch again and continue stopped processes."""
        self._scheduler.resume()

    def hold(self, task: str) -> None:
        """Keep one task from running (a running shell task is stopped)."""
        self._scheduler.hold(task)

    def release(self, task: str) -> None:
        """Let a held task run again."""
        self._scheduler.release(task)

    def cancel(self, task: str | None = None) -> None:
        """Cancel one task (its downstream becomes blocked), or the whole session."""
        if task is None:
            self._scheduler.cancel_session()
        else:
            self._scheduler.cancel(task)

    def retry(self, task: str) -> None:
        """Run a failed, cancelled or blocked task again."""
        self._scheduler.retry(task)

    def retry_failed(self) -> list[str]:
        """Retry every failed task; returns their names."""
        return self._scheduler.retry_failed()

    def skip(self, task: str) -> None:
        """Skip a task; tasks after it may run."""
        self._scheduler.skip(task)

    # -- reading -----------------------------------------------------------------------

    def state(self, task: str) -> TaskStatus:
        """One task's state."""
        return self._scheduler.state(task)

    def tasks(self) -> list[TaskView]:
        """Every task as it is now."""
        return self._scheduler.snapshot()

    def history(self, task: str) -> list[TaskResult]:
        """Every finished attempt of ``task``."""
        return self._scheduler.history(task)

    def counts(self) -> dict[TaskStatus, int]:
        """Tasks per state."""
        return self._scheduler.counts()

    def log_path(self, task: str, attempt: int) -> Path:
        """The log file of one attempt."""
        return self._scheduler.log_path(task, attempt)

    def waiting_on(self, task: str) -> str:
        """Why a task is not running yet, in words."""
        return self._scheduler.waiting_on(task)

    async def wait(self) -> SessionStatus:
        """Wait for the session to finish."""
        return await self._scheduler.wait()

    async def close(self) -> None:
        """Cancel what still runs, wait until it has stopped, release the executors."""
        await self._scheduler.close()
        if self._close_executors:
            executors: dict[int, Executor] = {id(e): e for e in self._scheduler._executors.values()}
            for executor in executors.values():
                await executor.close()
