"""The one control API of a session: what the dashboard, the CLI and the MCP tools call.

Every method returns at once; its effect shows up as events. Calls that the task's state
does not allow raise :class:`~formicary.errors.TransitionError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from formicary.api.event_source import StoreTail
from formicary.api.outcome import Outcome
from formicary.errors import FormicaryError, UsageError
from formicary.model.records import SessionStatus, TaskResult, TaskStatus
from formicary.model.specs import ProjectSpec, WorkflowSpec
from formicary.run import event_data
from formicary.run.events import Event, EventKind, Subscription
from formicary.run.executors import Executor
from formicary.run.scheduler import Scheduler
from formicary.run.task_runs import TaskView
from formicary.store.database import Command, SessionRecord, Store

if TYPE_CHECKING:
    from formicary.store.persist import Persister

ACTIONS = ("pause", "resume", "hold", "release", "cancel", "retry", "retry_failed", "skip")
"""Control calls another process may queue for a session's owner."""


class Controls(Protocol):
    """The control methods shared by in-process and attached handles."""

    def pause(self, stop_processes: bool = False) -> None: ...
    def resume(self) -> None: ...
    def hold(self, task: str) -> None: ...
    def release(self, task: str) -> None: ...
    def cancel(self, task: str | None = None) -> None: ...
    def retry(self, task: str) -> None: ...
    def retry_failed(self) -> list[str]: ...
    def skip(self, task: str) -> None: ...


def run_command(target: Controls, action: str, task: str | None, args: dict[str, Any] | Any) -> str:
    """Call ``action`` on ``target``; returns "ok" or what it reported.

    Raises:
        UsageError: Unknown action, or a task-level action without a task.
    """
    if action not in ACTIONS:
        raise UsageError(f"unknown action {action!r} (actions: {', '.join(ACTIONS)})")
    if action == "pause":
        target.pause(bool(args.get("stop_processes", False)))
    elif action == "resume":
        target.resume()
    elif action == "cancel":
        target.cancel(task)
    elif action == "retry_failed":
        return "retried: " + (", ".join(target.retry_failed()) or "nothing had failed")
    else:
        if task is None:
            raise UsageError(f"{action} needs a task")
        getattr(target, action)(task)
    return "ok"


class SessionHandle:
    """Controls and observes one session running in this process."""

    def __init__(
        self, scheduler: Scheduler, *, close_executors: bool = True, store: Store | None = None
    ) -> None:
        self._scheduler = scheduler
        self._close_executors = close_executors
        self.store = store
        self.persister: Persister | None = None

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
        """The scheduler behind this handle (for tests; the product uses the handle)."""
        return self._scheduler

    @property
    def project_spec(self) -> ProjectSpec:
        """The project definition the session runs (the one it stored when it started)."""
        return self._scheduler.project

    @property
    def workflow_spec(self) -> WorkflowSpec:
        """The workflow definition the session runs."""
        return self._scheduler.workflow

    @property
    def params(self) -> dict[str, Any]:
        """The session's parameters (a copy)."""
        return dict(self._scheduler.params)

    @property
    def started_at(self) -> float | None:
        """When the session started (None before)."""
        return self._scheduler.started_at

    @property
    def ended_at(self) -> float | None:
        """When the session ended (None while it runs)."""
        return self._scheduler.ended_at

    @property
    def max_parallel(self) -> int:
        """The most tasks it runs at once."""
        return self._scheduler.max_parallel

    @property
    def capacity(self) -> dict[str, int]:
        """Each resource pool's capacity (a copy)."""
        return dict(self._scheduler.pools.capacity)

    @property
    def booked(self) -> dict[str, int]:
        """What running tasks hold of each pool now (a copy)."""
        return dict(self._scheduler.pools.booked)

    def running_pids(self) -> dict[tuple[str, int], int]:
        """The process id of each running attempt, by ``(task, attempt)``."""
        return self._scheduler.running_pids()

    def view(self, task: str) -> TaskView:
        """One task as it is now."""
        return self._scheduler.view(task)

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

    def apply_command(self, command: Command) -> None:
        """Carry out a control call queued by another process; record the outcome as an
        event (``command``, with ``outcome`` "ok" or the error)."""
        try:
            result = Outcome.done(run_command(self, command.action, command.task, command.args))
        except FormicaryError as error:
            result = Outcome.refused(error)
        except (ValueError, LookupError) as error:
            result = Outcome.refused(UsageError(str(error)))
        outcome = result.stored
        self._scheduler.bus.publish(
            self.session_id,
            EventKind.COMMAND,
            command.task,
            data=event_data.command_done(command.id, command.action, outcome),
        )

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

    async def close(self, reason: str = "session cancelled") -> None:
        """Cancel what still runs (recording ``reason``), wait until it has stopped, commit
        every event, and release the executors and the store."""
        await self._scheduler.close(reason)
        if self.persister is not None:
            await self.persister.close()
            self.persister = None
        if self.store is not None:
            self.store.close()
            self.store = None
        if self._close_executors:
            executors: dict[int, Executor] = {id(e): e for e in self._scheduler._executors.values()}
            for executor in executors.values():
                await executor.close()


class AttachedSession:
    """A session owned by another process, watched and controlled through the store.

    Control calls queue a command that the owner applies within half a second; each returns
    the command's id at once (:class:`~formicary.api.session_client.SessionClient` waits for
    what happened). ``events`` tails the
    session's event log from any sequence number.
    """

    def __init__(self, store: Store, session_id: int) -> None:
        self.store = store
        self.id = session_id
        self.session_id = str(session_id)

    @property
    def record(self) -> SessionRecord:
        """The session as the store has it now."""
        return self.store.session(self.id)

    def _queue(self, action: str, task: str | None = None, **args: Any) -> int:
        if task is not None:
            self.store.require_task(self.id, task)
        return self.store.enqueue(self.id, action, task, args)

    def pause(self, stop_processes: bool = False) -> int:
        """Queue a pause."""
        return self._queue("pause", stop_processes=stop_processes)

    def resume(self) -> int:
        """Queue a resume."""
        return self._queue("resume")

    def hold(self, task: str) -> int:
        """Queue a hold of ``task``."""
        return self._queue("hold", task)

    def release(self, task: str) -> int:
        """Queue a release of ``task``."""
        return self._queue("release", task)

    def cancel(self, task: str | None = None) -> int:
        """Queue a cancel of ``task`` (of the whole session when None)."""
        return self._queue("cancel", task)

    def retry(self, task: str) -> int:
        """Queue a retry of ``task``."""
        return self._queue("retry", task)

    def retry_failed(self) -> int:
        """Queue a retry of every failed task."""
        return self._queue("retry_failed")

    def skip(self, task: str) -> int:
        """Queue a skip of ``task``."""
        return self._queue("skip", task)

    async def events(self, after: int = 0) -> AsyncIterator[Event]:
        """Every event with ``seq > after``, then new ones as they are committed; ends after
        the session has finished and its last event was delivered."""
        async for event in StoreTail(self.store, self.id, after):
            yield event


def attach(workspace: Path, session_id: int | str) -> AttachedSession:
    """Watch and control a session recorded in ``workspace``'s store, whoever owns it.

    Raises:
        UnknownSessionError: No such session.
    """
    store = Store.for_workspace(Path(workspace), create=False)
    record = store.session(session_id)
    return AttachedSession(store, record.id)
