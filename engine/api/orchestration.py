"""``OrchestrationEngine``: sessions started, watched and controlled from plain (non-async) code.

It is the face the public API, the MCP tools and scripts share, and a thin one: the sessions
it runs are a :class:`~formicary.api.live_sessions.LiveSessions` registry on one
:class:`~formicary.run.engine_thread.EngineThread`; the sessions of other processes are read
through :class:`~formicary.api.recorded.RecordedSessions`; control calls go through a
:class:`~formicary.api.session_client.SessionClient` (the one routing rule); status and
health come from an :class:`~formicary.api.reports.EngineReporter`. Sessions are persisted in
the workspace's store by default, so the dashboard and ``formicary sessions`` see them like
any ``formicary run``.
"""

from __future__ import annotations

import concurrent.futures.thread  # noqa: F401 (see _shutdown_open_engines)
import contextlib
import dataclasses
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from formicary.api.control import SessionHandle
from formicary.api.live_sessions import (
    KEEP_FINISHED,
    WORKFLOW_STATUS,
    EventHandler,
    LiveSessions,
    live_tasks,
    task_result,
)
from formicary.api.recorded import RecordedSessions
from formicary.api.reports import EngineReporter
from formicary.api.runtime import start_session
from formicary.api.session_client import SessionClient
from formicary.errors import UsageError
from formicary.model.definitions import Workspace, load_workspace
from formicary.model.records import (
    OrchestrationSession,
    SessionStatus,
    WorkflowExecution,
)
from formicary.model.specs import ProjectSpec, WorkflowSpec
from formicary.model.targets import resolve_target
from formicary.run.engine_thread import EngineThread
from formicary.run.events import EventKind
from formicary.store.database import SessionRecord, Store

__all__ = ["KEEP_FINISHED", "WORKFLOW_STATUS", "OrchestrationEngine", "task_result"]

_OPEN: weakref.WeakSet[OrchestrationEngine] = weakref.WeakSet()
"""Engines not shut down yet: at interpreter exit each is, so no task process outlives it."""


def _shutdown_open_engines() -> None:
    for engine in list(_OPEN):
        with contextlib.suppress(Exception):
            engine.shutdown()


# Ending sessions needs thread pools, which concurrent.futures closes in its own threading
# exit hook; ``atexit`` callbacks run only after those hooks, too late. No public hook runs
# earlier, so this uses threading's (private) one. The hooks run last-registered first, so
# this one is registered after concurrent.futures.thread is imported (it registers on import).
threading._register_atexit(_shutdown_open_engines)  # type: ignore[attr-defined]


class OrchestrationEngine:
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
        self.recorded = RecordedSessions(self.workspace)
        self._thread = thread or EngineThread()
        self._owns_thread = thread is None
        self._live = LiveSessions()
        self._reporter = EngineReporter(self)
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
        return self._live.track(handle, max_parallel)

    # -- reading -------------------------------------------------------------------------

    def wait(self, execution: WorkflowExecution | str, timeout: float | None = None) -> None:
        """Block until the session has finished (all its tasks final).

        Raises:
            TimeoutError: Still running after ``timeout`` seconds (it keeps running).
        """
        sid = execution if isinstance(execution, str) else execution.session_id
        live = self._thread.call(self._live.get, sid)
        if live is None:
            record = self.recorded.record(sid)
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
            session = self._thread.call(live.record)
            if not self.persist:
                return session
            record = self.recorded.record(sid)
            return dataclasses.replace(
                session, owner_pid=record.owner_pid, owner_host=record.owner_host
            )
        return _as_session(self.recorded.record(sid))

    def list_sessions(self, limit: int | None = None) -> list[OrchestrationSession]:
        """Sessions newest first: every one in the store (with the live state of those this
        engine runs, which the store shows a moment later) and any unpersisted live one."""
        live = self._thread.call(
            lambda: {sid: v.record() for sid, v in self._live.sessions.items()}
        )
        listed = [_as_session(record) for record in self.recorded.records(limit)]
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

    def running_handles(self) -> list[SessionHandle]:
        """The handles of the sessions this engine holds (call on the engine's loop)."""
        return self._live.handles()

    def tasks(self, session_id: str | int) -> list[dict[str, Any]]:
        """Every task of a session: name, state, attempts, exit code, reason, held."""
        live = self._thread.call(self._live.get, str(session_id))
        if live is not None:
            return self._thread.call(live_tasks, live.handle)
        return self.recorded.task_summaries(session_id)

    def log_tail(
        self, session_id: str | int, task: str, *, attempt: int | None = None, lines: int = 50
    ) -> tuple[int, list[str]]:
        """The last ``lines`` lines of one attempt's log (the latest attempt by default).

        Returns the attempt number and the lines (``(0, [])`` when it has not run yet).

        Raises:
            UnknownSessionError, UnknownTaskError, UsageError: no such attempt.
        """
        record, attempts = self.recorded.attempts(session_id, task)
        live = self._thread.call(self._live.get, str(record.id))
        if live is not None:
            handle = live.handle
            count = self._thread.call(lambda: handle.view(task).attempts)
            paths = {n: handle.log_path(task, n) for n in range(1, count + 1)}
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
        ``retry_failed`` or ``skip`` to a session, wherever it runs; what it came to.

        A session of this engine is controlled directly; one whose engine runs elsewhere
        through the store's command queue (applied there within half a second); one nobody
        runs any more is adopted by this engine first (see
        :class:`~formicary.api.session_client.SessionClient`).

        Raises:
            UnknownSessionError, UnknownTaskError, TransitionError, UsageError.
        """
        sid = str(session_id)

        async def route() -> str:
            live = self._live.get(sid)
            store = None
            if live is None and self.persist and self.recorded.exists:
                store = Store.for_workspace(self.workspace, create=False)
            try:
                client = SessionClient(
                    store,
                    sid,
                    here=None if live is None else live.handle,
                    adopter=self._adopt_record,
                )
                outcome = await client.control(action, task, **args)
            finally:
                if store is not None:
                    store.close()
            return outcome.unwrap()

        return self._thread.run(route())

    def adopt(self, session_id: str | int) -> WorkflowExecution:
        """Continue a session whose engine stopped (or that finished) in this engine."""
        from formicary.api.recovery import find_orphan

        async def take_over() -> WorkflowExecution:
            store = Store.for_workspace(self.workspace, create=False)
            record = find_orphan(store, session_id)
            await self._adopt_record(record, store)
            return self._live.sessions[str(record.id)].execution

        return self._thread.run(take_over())

    async def _adopt_record(
        self, record: SessionRecord, store: Store | None = None
    ) -> SessionHandle:
        """Take over ``record`` on the engine's loop and follow it (the adopted session
        keeps a store connection of its own)."""
        from formicary.api.recovery import adopt

        own = store or Store.for_workspace(self.workspace, create=False)
        handle = adopt(self.workspace, record, own)
        self._live.track(handle, record.max_parallel)
        return handle

    def close_session(self, session_id: str | int, timeout: float = 30.0) -> OrchestrationSession:
        """Cancel what still runs of a session of this engine, wait until every process of it
        has ended, and release it; return its final record."""
        sid = str(session_id)
        live = self._thread.call(self._live.get, sid)
        if live is None:
            return self.get_session(sid)
        record = self._thread.call(live.record)
        self._thread.run(self.end(sid), timeout)
        return self.get_session(sid) if self.persist else record

    async def end(self, sid: str) -> None:
        """:meth:`close_session` on the engine's loop (without the cancel)."""
        await self._live.end(sid)

    # -- events --------------------------------------------------------------------------

    def add_event_handler(
        self, handler: EventHandler, kinds: Iterable[EventKind | str] | None = None
    ) -> Callable[[], None]:
        """Call ``handler(event)`` on the engine thread for every event of this engine's
        sessions (of ``kinds`` only, if given); returns a function that removes it.
        A handler that raises is logged and kept."""
        wanted = None if kinds is None else frozenset(EventKind(kind) for kind in kinds)
        return self._live.add_handler(handler, wanted)

    # -- reports -------------------------------------------------------------------------

    def get_system_status(self) -> dict[str, Any]:
        """What runs now (see :meth:`EngineReporter.system_status`)."""
        return self._reporter.system_status()

    def get_metrics(self) -> dict[str, Any]:
        """Totals over the store (see :meth:`EngineReporter.metrics`)."""
        return self._reporter.metrics()

    def health_check(self) -> dict[str, Any]:
        """Whether this engine can work (see :meth:`EngineReporter.health`)."""
        return self._reporter.health()

    # -- shutdown ------------------------------------------------------------------------

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel every session this engine runs, wait until their processes have ended,
        and stop the engine thread if this engine started it."""
        if self._closed:
            return
        self._closed = True
        if self._thread.alive:
            self._thread.run(self._live.close_all(), timeout)
        if self._owns_thread:
            self._thread.stop()


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
