"""The sessions an :class:`~formicary.api.orchestration.OrchestrationEngine` runs: each one's
handle and execution record, kept up to date from its events, and the event handlers of the
engine. Everything here runs on the engine's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from formicary.api.control import SessionHandle
from formicary.api.event_source import EventSource
from formicary.model.records import (
    OrchestrationSession,
    SessionStatus,
    TaskResult,
    TaskStatus,
    WorkflowExecution,
    WorkflowStatus,
)
from formicary.run.events import Event, EventKind

log = logging.getLogger(__name__)

EventHandler = Callable[[Event], None]

KEEP_FINISHED = 16
"""Finished sessions kept open in this process (for an in-process retry) before the oldest
is closed; a closed one is still retried through the store."""

WORKFLOW_STATUS = {
    SessionStatus.CREATED: WorkflowStatus.PENDING,
    SessionStatus.RUNNING: WorkflowStatus.RUNNING,
    SessionStatus.PAUSED: WorkflowStatus.PAUSED,
    SessionStatus.COMPLETED: WorkflowStatus.COMPLETED,
    SessionStatus.FAILED: WorkflowStatus.FAILED,
    SessionStatus.CANCELLED: WorkflowStatus.CANCELLED,
    SessionStatus.ORPHANED: WorkflowStatus.FAILED,
}
"""How a session's status reads as the seed's workflow status."""

_FINAL_WORKFLOW = frozenset(
    {WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.CANCELLED}
)


@dataclass(eq=False)
class LiveSession:
    """A session this engine runs; touched only on the engine's loop."""

    handle: SessionHandle
    execution: WorkflowExecution
    max_parallel: int | None
    finished: threading.Event = field(default_factory=threading.Event)
    pump: asyncio.Task[None] | None = None

    def record(self) -> OrchestrationSession:
        """The session as :class:`OrchestrationSession` (without its owner, which only the
        store knows)."""
        handle = self.handle
        return OrchestrationSession(
            id=handle.session_id,
            project=handle.project,
            workflow=handle.workflow,
            status=handle.status,
            params=handle.params,
            max_parallel=self.max_parallel,
            started_at=handle.started_at,
            ended_at=handle.ended_at,
            owner_pid=None,
            owner_host=None,
        )


class LiveSessions:
    """The registry of running sessions, and the handlers their events go to."""

    def __init__(self) -> None:
        self.sessions: dict[str, LiveSession] = {}
        self._handlers: list[tuple[EventHandler, frozenset[EventKind] | None]] = []
        self._lock = threading.Lock()

    def get(self, session_id: str) -> LiveSession | None:
        """The live session with this id (None when this engine does not run it)."""
        return self.sessions.get(session_id)

    def handles(self) -> list[SessionHandle]:
        """The handle of every session this engine holds."""
        return [live.handle for live in self.sessions.values()]

    # -- following -----------------------------------------------------------------------

    def track(self, handle: SessionHandle, max_parallel: int | None) -> WorkflowExecution:
        """Follow a session started (or adopted) on the loop: its execution record, the
        handlers, its end."""
        execution = WorkflowExecution(
            workflow=handle.workflow,
            session_id=handle.session_id,
            status=WORKFLOW_STATUS[handle.status],
            params=handle.params,
            started_at=handle.started_at,
        )
        live = LiveSession(handle, execution, max_parallel)
        for view in handle.tasks():
            execution.step_results[view.name] = task_result(handle, view.name)
        subscription = handle.subscribe(maxsize=100_000)
        live.pump = asyncio.get_running_loop().create_task(self._pump(live, subscription))
        self.sessions[handle.session_id] = live
        return execution

    async def _pump(self, live: LiveSession, subscription: EventSource) -> None:
        """Apply the session's events to its execution record and hand them to handlers."""
        handle, execution = live.handle, live.execution
        while True:
            waiter = asyncio.ensure_future(subscription.wait())
            ended = asyncio.ensure_future(handle.wait())
            await asyncio.wait({waiter, ended}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            ended.cancel()
            events = subscription.drain()
            with self._lock:
                handlers = list(self._handlers)
            for event in events:
                if event.kind is EventKind.TASK_STATE and event.task is not None:
                    execution.step_results[event.task] = task_result(handle, event.task)
                for handler, kinds in handlers:
                    if kinds is None or event.kind in kinds:
                        try:
                            handler(event)
                        except Exception:
                            log.exception("event handler %r failed", handler)
            status = WORKFLOW_STATUS[handle.status]
            execution.status = status
            if handle.finished and not events:
                execution.ended_at = execution.ended_at or time.time()
                live.finished.set()
                self._trim_finished()
                await _until_revived(handle)
                live.finished.clear()
                execution.ended_at = None
            elif status not in _FINAL_WORKFLOW:
                live.finished.clear()

    def _trim_finished(self) -> None:
        finished = [sid for sid, live in self.sessions.items() if live.finished.is_set()]
        for sid in finished[:-KEEP_FINISHED]:
            asyncio.get_running_loop().create_task(self.end(sid))

    # -- handlers ------------------------------------------------------------------------

    def add_handler(
        self, handler: EventHandler, kinds: frozenset[EventKind] | None
    ) -> Callable[[], None]:
        """Call ``handler(event)`` for every event (of ``kinds`` only, if given); returns a
        function that removes it (callable from any thread)."""
        entry = (handler, kinds)
        with self._lock:
            self._handlers.append(entry)

        def remove() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._handlers.remove(entry)

        return remove

    # -- ending --------------------------------------------------------------------------

    async def end(self, sid: str) -> None:
        """Release a session: wait until every process of it has ended, commit its events,
        and stop following it (a session still running is cancelled by its handle)."""
        live = self.sessions.pop(sid, None)
        if live is None:
            return
        await live.handle.close()
        live.execution.status = WORKFLOW_STATUS[live.handle.status]
        live.execution.ended_at = live.execution.ended_at or time.time()
        for name in list(live.execution.step_results):
            live.execution.step_results[name] = task_result(live.handle, name)
        if live.pump is not None:
            live.pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await live.pump
        live.finished.set()

    async def close_all(self) -> None:
        """Cancel every session still running and release them all."""
        for sid in list(self.sessions):
            live = self.sessions[sid]
            if not live.handle.finished:
                with contextlib.suppress(Exception):
                    live.handle.cancel()
            await self.end(sid)


async def _until_revived(handle: SessionHandle) -> None:
    """Return once a finished session runs again (a retry)."""
    while handle.finished:
        subscription = handle.subscribe(maxsize=1)
        try:
            await subscription.wait()
        finally:
            subscription.close()


def task_result(handle: SessionHandle, task: str) -> TaskResult:
    """A task's latest result as the execution record shows it (call on the engine's loop)."""
    view = handle.view(task)
    last = view.last
    if view.state is TaskStatus.RUNNING or last is None:
        return TaskResult(
            task=task, status=view.state, attempt=view.attempts, started_at=view.started_at
        )
    if last.status is view.state:
        return last
    return TaskResult(
        task=task,
        status=view.state,
        attempt=last.attempt,
        outcome=last.outcome,
        exit_code=last.exit_code,
        reason=last.reason,
        value=last.value,
        started_at=last.started_at,
        ended_at=last.ended_at,
        log_path=last.log_path,
    )


def live_tasks(handle: SessionHandle) -> list[dict[str, Any]]:
    """Every task of a running session as the API's ``tasks`` lists them."""
    return [
        {
            "name": view.name,
            "state": view.state.value,
            "attempts": view.attempts,
            "exit_code": view.last.exit_code if view.last else None,
            "reason": view.last.reason if view.last else "",
            "held": view.held,
        }
        for view in handle.tasks()
    ]
