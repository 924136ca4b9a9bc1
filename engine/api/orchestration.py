"""``OrchestrationEngine``: sessions started, watched and controlled from plain (non-async) code.

It is the face the public API, the MCP tools and scripts share. Sessions run on one
:class:`~formicary.run.engine_thread.EngineThread`, persisted in the workspace's store by default,
so the dashboard and ``formicary sessions`` see them like any ``formicary run``. Sessions owned by
other processes are read from the store and controlled through its command queue.
"""

from __future__ import annotations

import asyncio
import concurrent.futures.thread  # noqa: F401 (see _shutdown_open_engines)
import contextlib
import dataclasses
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from formicary.api.control import SessionHandle, attach, run_command
from formicary.api.reports import EngineReports
from formicary.api.runtime import start_session
from formicary.errors import UnknownSessionError, UsageError
from formicary.model.definitions import Workspace, load_workspace
from formicary.model.records import (
    OrchestrationSession,
    SessionStatus,
    TaskResult,
    TaskStatus,
    WorkflowExecution,
    WorkflowStatus,
)
from formicary.model.specs import ProjectSpec, WorkflowSpec
from formicary.model.targets import resolve_target
from formicary.run.engine_thread import EngineThread
from formicary.run.events import Event, EventKind
from formicary.run.resources import TreeMeter
from formicary.store.database import SessionRecord, Store
from formicary.store.schema import db_path

log = logging.getLogger(__name__)

EventHandler = Callable[[Event], None]

KEEP_FINISHED = 16
"""Finished sessions kept open in this process (for an in-process retry) before the oldest
is closed; a closed one is still retried through the store."""

_WORKFLOW_STATUS = {
    SessionStatus.CREATED: WorkflowStatus.PENDING,
    SessionStatus.RUNNING: WorkflowStatus.RUNNING,
    SessionStatus.PAUSED: WorkflowStatus.PAUSED,
    SessionStatus.COMPLETED: WorkflowStatus.COMPLETED,
    SessionStatus.FAILED: WorkflowStatus.FAILED,
    SessionStatus.CANCELLED: WorkflowStatus.CANCELLED,
    SessionStatus.ORPHANED: WorkflowStatus.FAILED,
}
_OPEN: weakref.WeakSet[OrchestrationEngine] = weakref.WeakSet()
"""Engines not shut down yet: at interpreter exit each is, so no task process outlives it."""


def _shutdown_open_engines() -> None:
    for engine in list(_OPEN):
        with contextlib.suppress(Exception):
            engine.shutdown()


# Ending sessions needs thread pools, which concurrent.futures.thread closes in a threading
# exit hook, before atexit runs. Those hooks run last-registered first, so this one is
# registered after that module is imported (it registers its hook on import).
threading._register_atexit(_shutdown_open_engines)  # type: ignore[attr-defined]


_FINAL_WORKFLOW = frozenset(
    {WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.CANCELLED}
)


@dataclass(eq=False)
class _Live:
    """A session this engine runs; touched only on the engine's loop."""

    handle: SessionHandle
    execution: WorkflowExecution
    max_parallel: int | None
    finished: threading.Event = field(default_factory=threading.Event)
    pump: asyncio.Task[None] | None = None


class OrchestrationEngine(EngineReports):
    """Starts, watches and controls sessions of one workspace.

    Args:
        workspace: The workspace folder (definitions, ``.formicary/state.db``, logs).
        persist: Record sessions in the store (the default), so other processes see them.
        thread: The engine thread to run on (a new one, owned and stopped by
            :meth:`shutdown`, when omitted).
    """

    def __init__(
        self,
        workspace: str | Path = ".",
        *,
        persist: bool = True,
        thread: EngineThread | None = None,
    ) -> None:
        self.workspace = Path(workspace).resolve()
        self.persist = persist
        self._thread = thread or EngineThread()
        self._owns_thread = thread is None
        self._live: dict[str, _Live] = {}
        self._handlers: list[tuple[EventHandler, frozenset[EventKind] | None]] = []
        self._lock = threading.Lock()
        self._meters: dict[int, TreeMeter] = {}
        self._closed = False
        _OPEN.add(self)

    @property
    def thread(self) -> EngineThread:
        """The thread every session of this engine runs on."""
        return self._thread

    # -- definitions ---------------------------------------------------------------------

    def load(self) -> Workspace:
        """The workspace's definitions as they are on disk now."""
        return load_workspace(self.workspace)

    # -- starting ------------------------------------------------------------------------

    def execute_workflow(
        self,
        target: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_parallel: int | None = None,
    ) -> WorkflowExecution:
        """Start ``PROJECT[:WORKFLOW]`` of the workspace; the returned record follows the run.

        Raises:
            UnknownProjectError, UnknownWorkflowError, DefinitionError, UsageError.
        """
        project, workflow = resolve_target(self.workspace, target)
        return self.start(project, workflow, params, max_parallel=max_parallel)

    def create_session(
        self,
        project: str,
        workflow: str | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        max_parallel: int | None = None,
    ) -> OrchestrationSession:
        """Start a session of ``project``'s ``workflow`` with at most ``max_parallel`` tasks
        running at once; return its record."""
        target = project if workflow is None else f"{project}:{workflow}"
        execution = self.execute_workflow(target, params, max_parallel=max_parallel)
        return self.get_session(execution.session_id)

    def start(
        self,
        project: ProjectSpec,
        workflow: WorkflowSpec,
        params: Mapping[str, Any] | None = None,
        *,
        max_parallel: int | None = None,
    ) -> WorkflowExecution:
        """Start ``workflow`` of an already loaded (or built in code) ``project``."""
        if self._closed:
            raise UsageError("this OrchestrationEngine has been shut down")
        if max_parallel is not None and max_parallel < 1:
            raise UsageError(f"max_parallel={max_parallel}: must be at least 1")

        return self._thread.run(self.begin(project, workflow, params, max_parallel=max_parallel))

    async def begin(
        self,
        project: ProjectSpec,
        workflow: WorkflowSpec,
        params: Mapping[str, Any] | None = None,
        *,
        max_parallel: int | None = None,
    ) -> WorkflowExecution:
        """:meth:`start`, for code already running on the engine's loop."""
        handle = start_session(
            project,
            workflow,
            params,
            workspace=self.workspace,
            persist=self.persist,
            max_parallel=max_parallel,
        )
        return self._track(handle, max_parallel)

    def _track(self, handle: SessionHandle, max_parallel: int | None) -> WorkflowExecution:
        """Follow a session started on the loop: its execution record, handlers, its end."""
        scheduler = handle.scheduler
        execution = WorkflowExecution(
            workflow=handle.workflow,
            session_id=handle.session_id,
            status=_WORKFLOW_STATUS[handle.status],
            params=dict(scheduler.params),
            started_at=scheduler.started_at,
        )
        live = _Live(handle, execution, max_parallel)
        for view in handle.tasks():
            execution.step_results[view.name] = task_result(handle, view.name)
        subscription = handle.subscribe(maxsize=100_000)
        live.pump = asyncio.get_running_loop().create_task(self._pump(live, subscription))
        self._live[handle.session_id] = live
        return execution

    async def _pump(self, live: _Live, subscription: Any) -> None:
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
            status = _WORKFLOW_STATUS[handle.status]
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
        finished = [sid for sid, live in self._live.items() if live.finished.is_set()]
        for sid in finished[:-KEEP_FINISHED]:
            asyncio.get_running_loop().create_task(self.end(sid))

    # -- reading -------------------------------------------------------------------------

    def wait(self, execution: WorkflowExecution | str, timeout: float | None = None) -> None:
        """Block until the session has finished (all its tasks final).

        Raises:
            TimeoutError: Still running after ``timeout`` seconds (it keeps running).
        """
        sid = execution if isinstance(execution, str) else execution.session_id
        live = self._thread.call(self._live.get, sid)
        if live is None:
            record = self._record(sid)
            if record.status.is_final or not record.owner_alive:
                return
            raise UsageError(f"session {sid} runs in process {record.owner_pid}, not here")
        if not live.finished.wait(timeout):
            raise TimeoutError(f"session {sid} still running after {timeout} s")

    def get_session(self, session_id: str | int) -> OrchestrationSession:
        """One session, live or recorded.

        Raises:
            UnknownSessionError: No such session.
        """
        sid = str(session_id)
        live = self._thread.call(self._live.get, sid)
        if live is not None:
            session = self._thread.call(_session_of, live)
            if not self.persist:
                return session
            record = self._record(sid)
            return dataclasses.replace(
                session, owner_pid=record.owner_pid, owner_host=record.owner_host
            )
        return _as_session(self._record(sid))

    def list_sessions(self, limit: int | None = None) -> list[OrchestrationSession]:
        """Sessions newest first: every one in the store (with the live state of those this
        engine runs, which the store shows a moment later) and any unpersisted live one."""
        live = self._thread.call(lambda: {sid: _session_of(v) for sid, v in self._live.items()})
        listed = [_as_session(record) for record in self._records(limit)]
        listed = [
            dataclasses.replace(s, status=live[s.id].status, ended_at=live[s.id].ended_at)
            if s.id in live
            else s
            for s in listed
        ]
        if not self.persist:
            listed[:0] = live.values()
        return listed

    def execution(self, session_id: str | int) -> WorkflowExecution | None:
        """The live execution record of a session this engine runs (None otherwise)."""
        live = self._thread.call(self._live.get, str(session_id))
        return None if live is None else live.execution

    def handle(self, session_id: str | int) -> SessionHandle | None:
        """The control handle of a session running in this process (None otherwise)."""
        live = self._thread.call(self._live.get, str(session_id))
        return None if live is None else live.handle

    def tasks(self, session_id: str | int) -> list[dict[str, Any]]:
        """Every task of a session: name, state, attempts, exit code, reason, held."""
        live = self._thread.call(self._live.get, str(session_id))
        if live is not None:
            return self._thread.call(_live_tasks, live.handle)
        store = self._store()
        try:
            return store.task_summaries(store.session(session_id).id)
        finally:
            store.close()

    def log_tail(
        self, session_id: str | int, task: str, *, attempt: int | None = None, lines: int = 50
    ) -> tuple[int, list[str]]:
        """The last ``lines`` lines of one attempt's log (the latest attempt by default).

        Returns the attempt number and the lines (``(0, [])`` when it has not run yet).

        Raises:
            UnknownSessionError, UnknownTaskError, UsageError: no such attempt.
        """
        store = self._store()
        try:
            record = store.session(session_id)
            store.require_task(record.id, task)
            attempts = store.attempts(record.id, task)
        finally:
            store.close()
        live = self._thread.call(self._live.get, str(record.id))
        if live is not None:
            count = self._thread.call(lambda: live.handle.scheduler.view(task).attempts)
            paths = {n: live.handle.log_path(task, n) for n in range(1, count + 1)}
        else:
            paths = {a.number: Path(a.log_path) for a in attempts if a.log_path}
        if not paths:
            return 0, []
        number = max(paths) if attempt is None else attempt
        if number not in paths:
            known = ", ".join(str(n) for n in sorted(paths))
            raise UsageError(f"attempt {number}: task {task} has attempts {known}")
        return number, _tail(paths[number], lines)

    # -- control -------------------------------------------------------------------------

    def control(
        self, session_id: str | int, action: str, task: str | None = None, **args: Any
    ) -> str:
        """Apply ``pause``, ``resume``, ``hold``, ``release``, ``cancel``, ``retry``,
        ``retry_failed`` or ``skip`` to a session, wherever it runs.

        A session of this engine is controlled directly; one whose engine runs elsewhere
        through the store's command queue (applied there within half a second); one nobody
        runs any more is adopted by this engine first (``retry``, ``cancel``, ``skip``).

        Raises:
            UnknownSessionError, UnknownTaskError, TransitionError, UsageError.
        """
        sid = str(session_id)
        live = self._thread.call(self._live.get, sid)
        if live is not None:
            return self._thread.call(run_command, live.handle, action, task, args)
        if not self.persist:
            raise UnknownSessionError(sid)
        attached = attach(self.workspace, sid)
        try:
            record = attached.record
            if task is not None:
                attached.store.require_task(record.id, task)
            if record.owner_alive:
                return attached.request(action, task, **args)
            if action in ("pause", "resume", "hold", "release"):
                raise UsageError(f"session {sid} has no running engine: {action} needs one")
        finally:
            attached.store.close()
        self.adopt(sid)
        return self.control(sid, action, task, **args)

    def adopt(self, session_id: str | int) -> WorkflowExecution:
        """Continue a session whose engine stopped (or that finished) in this engine."""
        from formicary.api.recovery import adopt, find_orphan

        async def take_over() -> WorkflowExecution:
            store = Store.for_workspace(self.workspace, create=False)
            record = find_orphan(store, session_id)
            handle = adopt(self.workspace, record, store)
            return self._track(handle, record.max_parallel)

        return self._thread.run(take_over())

    def close_session(self, session_id: str | int, timeout: float = 30.0) -> OrchestrationSession:
        """Cancel what still runs of a session of this engine, wait until every process of it
        has ended, and release it; return its final record."""
        sid = str(session_id)
        live = self._thread.call(self._live.get, sid)
        if live is None:
            return self.get_session(sid)
        record = self._thread.call(_session_of, live)
        self._thread.run(self.end(sid), timeout)
        return self.get_session(sid) if self.persist else record

    async def end(self, sid: str) -> None:
        """:meth:`close_session` on the engine's loop (without the cancel)."""
        live = self._live.pop(sid, None)
        if live is None:
            return
        await live.handle.close()
        live.execution.status = _WORKFLOW_STATUS[live.handle.status]
        live.execution.ended_at = live.execution.ended_at or time.time()
        for name in list(live.execution.step_results):
            live.execution.step_results[name] = task_result(live.handle, name)
        if live.pump is not None:
            live.pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await live.pump
        live.finished.set()

    # -- events --------------------------------------------------------------------------

    def add_event_handler(
        self, handler: EventHandler, kinds: Iterable[EventKind | str] | None = None
    ) -> Callable[[], None]:
        """Call ``handler(event)`` on the engine thread for every event of this engine's
        sessions (of ``kinds`` only, if given); returns a function that removes it.
        A handler that raises is logged and kept."""
        wanted = None if kinds is None else frozenset(EventKind(kind) for kind in kinds)
        entry = (handler, wanted)
        with self._lock:
            self._handlers.append(entry)

        def remove() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._handlers.remove(entry)

        return remove

    # -- shutdown ------------------------------------------------------------------------

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel every session this engine runs, wait until their processes have ended,
        and stop the engine thread if this engine started it."""
        if self._closed:
            return
        self._closed = True
        if self._thread.alive:

            async def close_all() -> None:
                for sid in list(self._live):
                    live = self._live[sid]
                    if not live.handle.finished:
                        with contextlib.suppress(Exception):
                            live.handle.cancel()
                    await self.end(sid)

            self._thread.run(close_all(), timeout)
        if self._owns_thread:
            self._thread.stop()

    # -- store ---------------------------------------------------------------------------

    def _store(self) -> Store:
        try:
            return Store.for_workspace(self.workspace, create=False)
        except UsageError:
            raise UnknownSessionError("(no sessions recorded in this workspace yet)") from None

    def _record(self, session_id: str | int) -> SessionRecord:
        store = self._store()
        try:
            return store.session(session_id)
        finally:
            store.close()

    def _records(self, limit: int | None) -> list[SessionRecord]:
        if not db_path(self.workspace).exists():
            return []
        store = self._store()
        try:
            return store.sessions(limit=limit)
        finally:
            store.close()


async def _until_revived(handle: SessionHandle) -> None:
    """Return once a finished session runs again (a retry)."""
    scheduler = handle.scheduler
    while scheduler.finished:
        subscription = handle.subscribe(maxsize=1)
        try:
            await subscription.wait()
        finally:
            subscription.close()


def task_result(handle: SessionHandle, task: str) -> TaskResult:
    """A task's latest result as the execution record shows it (call on the engine's loop)."""
    view = handle.scheduler.view(task)
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


def _live_tasks(handle: SessionHandle) -> list[dict[str, Any]]:
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


def _session_of(live: _Live) -> OrchestrationSession:
    scheduler = live.handle.scheduler
    return OrchestrationSession(
        id=live.handle.session_id,
        project=live.handle.project,
        workflow=live.handle.workflow,
        status=live.handle.status,
        params=dict(scheduler.params),
        max_parallel=live.max_parallel,
        started_at=scheduler.started_at,
        ended_at=scheduler.ended_at,
        owner_pid=None,
        owner_host=None,
    )


def _as_session(record: SessionRecord) -> OrchestrationSession:
    return OrchestrationSession(
        id=str(record.id),
        project=record.project,
        workflow=record.workflow,
        status=SessionStatus(record.shown_status),
        params=dict(record.params),
        max_parallel=record.max_parallel,
        started_at=record.started_at,
        ended_at=record.ended_at,
        owner_pid=record.owner_pid,
        owner_host=record.owner_host,
    )


def _tail(path: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of a text file (empty when it does not exist yet)."""
    try:
        with path.open("rb") as file:
            file.seek(0, 2)
            size = file.tell()
            block = min(size, max(4096, lines * 200))
            file.seek(size - block)
            text = file.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:] if lines > 0 else []
