"""The bridge between the engine and the widgets.

It owns the workspace's definitions, the store, and every session on screen: sessions this
process runs (their events come straight from the engine's bus) and sessions another
process runs (their events are tailed from the store when it changes on disk). Events reach
the UI in frame-sized batches, at most 20 a second, as :class:`SessionUpdated` messages.
Nothing here polls while nothing happens: the bus wakes embedded pumps, and file-system
notifications (watchfiles) wake the store tails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from formicary.errors import FormicaryError
from formicary.model.definitions import DEFINITION_FILE, Workspace, load_workspace, parse_project
from formicary.model.diff import describe_changes
from formicary.model.records import SessionStatus, TaskStatus
from formicary.model.specs import ProjectSpec, WorkflowSpec
from formicary.model.states import FINE_TASK_STATES
from formicary.run.private_files import private_dir
from formicary.store.database import ORPHAN_AFTER, AttemptRecord, SessionRecord, Store
from formicary.store.schema import STATE_DIR, db_path, state_dir
from formicary.tui.state import SessionView
from textual.message import Message

if TYPE_CHECKING:
    # Running, attaching to and adopting sessions pull in the scheduler and executors
    # (~75 ms of imports): they are imported when first used, after the first paint.
    from formicary.api.control import SessionHandle
    from formicary.api.event_source import EventSource

log = logging.getLogger(__name__)

FRAME = 0.05
"""Seconds between two batches of the same session: at most 20 repaints a second."""

ANSWER_WITHIN = 5.0
"""Seconds a control call waits for another process's engine to apply it."""


class SessionUpdated(Message):
    """A batch of a session's events was applied to its view."""

    def __init__(self, session_id: str, changes: Any) -> None:
        self.session_id = session_id
        self.changes = changes
        super().__init__()


class StoreChanged(Message):
    """The store changed on disk (a session started, advanced or ended somewhere)."""


class DefinitionDrift(Message):
    """A control call is about to run tasks whose definition changed since the session ran:
    the stored definitions run (a session is reproducible), and the person is told."""

    def __init__(self, session_id: str, notes: list[str]) -> None:
        self.session_id = session_id
        self.notes = notes
        super().__init__()


class DefinitionsChanged(Message):
    """Definition files changed on disk and were loaded again.

    ``changes`` says what changed among the valid definitions; ``issues`` lists every problem
    of the files that are now invalid (their last good definitions are kept).
    """

    def __init__(self, changes: list[str], issues: list[str]) -> None:
        self.changes = changes
        self.issues = issues
        super().__init__()


@dataclass
class WatchedSession:
    """A session on screen: its view, and the handle that controls it."""

    view: SessionView
    handle: SessionHandle | None = None
    store: Store | None = None
    """The store it is read from, when another process runs it."""
    pump: asyncio.Task[None] | None = None

    @property
    def session_id(self) -> str:
        """The session's id."""
        return self.view.session_id

    @property
    def embedded(self) -> bool:
        """True when this process runs the session."""
        return self.handle is not None

    def waiting_on(self, task: str) -> str:
        """Why ``task`` is not running yet, in words."""
        if self.handle is not None:
            return self.handle.waiting_on(task)
        row = self.view.tasks[task]
        if row.held:
            return "held by the user"
        if self.view.status == SessionStatus.PAUSED:
            return "the session is paused"
        pending = [
            dep for dep in row.depends_on if self.view.tasks[dep].state not in FINE_TASK_STATES
        ]
        if pending:
            return "waiting for " + ", ".join(pending)
        return ""


class EngineBridge:
    """Definitions, store and sessions of one workspace, for the dashboard.

    Args:
        root: The workspace folder.
        post: Delivers messages to the app (``App.post_message``).
    """

    def __init__(self, root: Path, post: Callable[[Message], object]) -> None:
        self.root = root.resolve()
        self._post = post
        self._workspace: Workspace | None = None
        self._store: Store | None = None
        self.sessions: dict[str, WatchedSession] = {}
        self._tick = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._definitions_watcher: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    # -- definitions, first load -------------------------------------------------------

    @property
    def workspace(self) -> Workspace:
        """The workspace's definitions (read here, on the caller's thread, if :meth:`load`
        has not read them yet)."""
        if self._workspace is None:
            self._workspace = load_workspace(self.root)
        return self._workspace

    @workspace.setter
    def workspace(self, workspace: Workspace) -> None:
        self._workspace = workspace

    async def load(self) -> Workspace:
        """Read the definitions off the UI thread (once), so the first screen is painted
        while a big workspace is still being parsed."""
        if self._workspace is None:
            loaded = await asyncio.to_thread(load_workspace, self.root)
            if self._workspace is None:
                self._workspace = loaded
        return self._workspace

    # -- store ---------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The workspace's store (created on first use)."""
        if self._store is None:
            self._store = Store.for_workspace(self.root)
        return self._store

    def has_store(self) -> bool:
        """True once the workspace has a state.db."""
        return self._store is not None or db_path(self.root).exists()

    async def read(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run a store read off the UI thread."""
        return await asyncio.to_thread(function, *args)

    def start_watching(self) -> None:
        """Begin following changes of the store on disk (idempotent)."""
        if self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch_store())

    async def _watch_store(self) -> None:
        from watchfiles import awatch

        folder = state_dir(self.root)
        private_dir(folder)
        try:
            async for _ in awatch(
                folder,
                watch_filter=lambda _change, path: Path(path).name.startswith("state.db"),
                debounce=50,
                step=50,
                stop_event=self._stop,
                recursive=False,
            ):
                self._store_changed()
        except Exception:  # pragma: no cover - no inotify: fall back to a slow poll
            log.warning("watching %s failed; polling it instead", folder, exc_info=True)
            while not self._stop.is_set():
                await asyncio.sleep(0.5)
                self._store_changed()

    def _store_changed(self) -> None:
        """Wake every tail waiting for the store (each waits on the tick it saw last)."""
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()
        self._post(StoreChanged())

    # -- definitions ---------------------------------------------------------------------

    def watch_definitions(self) -> None:
        """Begin reloading definitions whenever a ``formicary.toml`` changes (idempotent)."""
        if self._definitions_watcher is None:
            self._definitions_watcher = asyncio.get_running_loop().create_task(
                self._watch_definitions()
            )

    async def _watch_definitions(self) -> None:
        from watchfiles import Change, awatch

        def relevant(change: object, path: str) -> bool:
            if f"{os.sep}{STATE_DIR}{os.sep}" in path:
                return False
            if Path(path).name == DEFINITION_FILE or path in self._project_roots():
                return True
            # A file written right after its folder was created can beat the watch on that
            # folder; the folder's own creation event makes sure the new project is seen.
            return change == Change.added and os.path.isdir(path)

        try:
            async for _ in awatch(
                self.root, watch_filter=relevant, debounce=50, step=20, stop_event=self._stop
            ):
                await self.reload_definitions()
        except Exception:  # pragma: no cover - no inotify here
            log.warning("cannot watch %s for definition changes", self.root, exc_info=True)

    def _project_roots(self) -> set[str]:
        return {str(project.root) for project in self.workspace.projects.values()}

    async def reload_definitions(self) -> None:
        """Load the workspace again (off the UI thread) and announce what changed.

        A file that became invalid keeps its last good definitions; running sessions keep
        the definitions they started with whatever happens to the files.
        """
        fresh = await asyncio.to_thread(load_workspace, self.root)
        previous = self.workspace
        kept = dict(fresh.projects)
        broken = {str(file.resolve()) for file in fresh.invalid_files}
        for name, project in previous.projects.items():
            if str(project.file.resolve()) in broken and name not in kept:
                kept[name] = project
        merged = Workspace(fresh.root, kept, fresh.issues, fresh.invalid_files)
        changes = describe_changes(previous.projects, merged.projects)
        issues = [str(issue) for issue in fresh.issues]
        if not changes and issues == [str(i) for i in previous.issues]:
            return
        self.workspace = merged
        self._post(DefinitionsChanged(changes, issues))

    # -- sessions ------------------------------------------------------------------------

    def latest(self, project: str, workflow: str) -> SessionRecord | None:
        """The most recent session of ``project:workflow`` in the store."""
        if not self.has_store():
            return None
        for record in self.store.sessions(limit=500):
            if record.project == project and record.workflow == workflow:
                return record
        return None

    def start(
        self,
        project: ProjectSpec,
        workflow: WorkflowSpec,
        params: dict[str, Any] | None = None,
        *,
        executor: str | None = None,
        scheduler: str | None = None,
        max_parallel: int | None = None,
    ) -> WatchedSession:
        """Run ``workflow`` in this process (persisted) and watch it; ``executor``
        (``local`` or ``dask``, with a ``scheduler`` address) overrides the workflow's."""
        from formicary.api.runtime import start_session

        handle = start_session(
            project,
            workflow,
            params or {},
            workspace=self.root,
            persist=True,
            executor=executor,
            scheduler=scheduler,
            max_parallel=max_parallel,
        )
        return self._embed(handle)

    async def control(
        self,
        watched: WatchedSession,
        action: str,
        task: str | None = None,
        *,
        adopt: bool = False,
        **args: Any,
    ) -> tuple[WatchedSession, str]:
        """Apply a control call to ``watched`` wherever it runs; the session that now shows
        it (a new one after adopting) and the outcome in words.

        Here: call it. Alive in another process: queue it for that engine and wait for its
        outcome. Ended, with nobody running it: only a retry is taken (it reopens the session
        here); anything else is refused and changes nothing. Engine died mid-run:
        :class:`~formicary.errors.AdoptionNeeded`, unless ``adopt`` says the user agreed to
        run it here.

        Raises:
            FormicaryError: The call is not allowed (unknown task, wrong state...).
        """
        from formicary.api.session_client import SessionClient

        await self._note_drift(watched.session_id, action, task, adopting=adopt)
        adopted: list[WatchedSession] = []

        async def adopt_here(record: SessionRecord) -> SessionHandle:
            adopted.append(self.adopt(str(record.id)))
            assert adopted[0].handle is not None
            return adopted[0].handle

        client = SessionClient(
            self.store,
            watched.session_id,
            here=watched.handle,
            adopter=adopt_here,
            ask_first=not adopt,
            answer_within=ANSWER_WITHIN,
            offload=True,
        )
        outcome = await client.control(action, task, **args)
        return (adopted[0] if adopted else watched), outcome.unwrap()

    async def _note_drift(
        self, session_id: str, action: str, task: str | None, *, adopting: bool
    ) -> None:
        """Post :class:`DefinitionDrift` when the call would run changed definitions."""
        from formicary.api.definition_drift import session_drift

        if action not in ("retry", "retry_failed", "resume") and not adopting:
            return
        try:
            record = await self.read(self.store.session, session_id)
            drift = await self.read(
                partial(
                    session_drift,
                    self.root,
                    self.store,
                    record,
                    action,
                    task,
                    adopting=adopting,
                    current=self._workspace,
                )
            )
        except FormicaryError:
            return  # the call itself says what is wrong
        if drift:
            self._post(DefinitionDrift(session_id, [item.describe() for item in drift]))

    def adopt(self, session_id: str | None) -> WatchedSession:
        """Take over an orphaned session and run it here."""
        from formicary.api.recovery import adopt, find_orphan

        record = find_orphan(self.store, session_id)
        store = Store.for_workspace(self.root)
        try:
            handle = adopt(self.root, record, store)
        except BaseException:
            # Not ours (another process claimed it first): the view keeps following it.
            store.close()
            raise
        existing = self.sessions.pop(str(record.id), None)
        if existing is not None and existing.pump is not None:
            existing.pump.cancel()
        return self._embed(handle)

    def _embed(self, handle: SessionHandle) -> WatchedSession:
        subscription = handle.subscribe(maxsize=50_000)
        view = SessionView(
            handle.session_id,
            handle.project,
            handle.workflow_spec,
            status=handle.status.value,
            started_at=handle.started_at,
            capacity=handle.capacity,
            embedded=True,
        )
        view.booked = handle.booked
        if handle.store is not None:  # adopted or reopened: earlier spans of activity count
            view.active_before, view.active_since = handle.store.activity(handle.session_id)
        for task in handle.tasks():
            last = task.last
            view.set_task(
                task.name,
                state=task.state,
                attempt=task.attempts,
                held=task.held,
                started_at=task.started_at or (last.started_at if last else None),
                ended_at=last.ended_at if last and task.started_at is None else None,
                exit_code=last.exit_code if last else None,
                reason=last.reason if last else "",
                log_path=last.log_path if last else None,
            )
        watched = WatchedSession(view, handle=handle)
        self.sessions[view.session_id] = watched
        watched.pump = asyncio.get_running_loop().create_task(
            self._pump_embedded(watched, subscription)
        )
        self.start_watching()
        return watched

    async def _pump_embedded(self, watched: WatchedSession, subscription: EventSource) -> None:
        view = watched.view
        try:
            while True:
                if watched.handle is not None and watched.handle.finished:
                    # Ended here: another process may reopen it (``formicary retry`` from a
                    # shell adopts it), and then only the store tells what happens to it.
                    waiting = asyncio.ensure_future(subscription.wait())
                    reopened = asyncio.ensure_future(self._reopened_elsewhere(watched))
                    try:
                        done, _ = await asyncio.wait(
                            (waiting, reopened), return_when=asyncio.FIRST_COMPLETED
                        )
                    finally:
                        for task in (waiting, reopened):
                            if not task.done():
                                task.cancel()
                        await asyncio.gather(waiting, reopened, return_exceptions=True)
                    if reopened in done and reopened.result():
                        await self._hand_over_to_store(watched)
                        return
                else:
                    await subscription.wait()
                events = subscription.drain()
                if not events and subscription.closed:
                    return
                view.dropped = subscription.dropped
                changes = view.apply(events)
                if changes:
                    self._post(SessionUpdated(view.session_id, changes))
                await asyncio.sleep(FRAME)
        finally:
            subscription.close()

    async def _reopened_elsewhere(self, watched: WatchedSession) -> bool:
        """Wait until the store shows ``watched`` (ended in this process) moving on in
        another one; True then. Woken by each change of the store on disk."""
        view = watched.view
        while True:
            tick = self._tick
            record = await self.read(self.store.session, view.session_id)
            if record.owner_pid != os.getpid():
                return True
            await tick.wait()

    async def _hand_over_to_store(self, watched: WatchedSession) -> None:
        """Follow ``watched`` through the store from now on, like a session this process
        never ran: its engine here has finished, and another process owns it now."""
        handle, watched.handle = watched.handle, None
        if handle is not None:
            with contextlib.suppress(Exception):
                await handle.close()
        watched.store = self.store
        watched.view.embedded = False
        self._post(SessionUpdated(watched.session_id, None))
        watched.pump = asyncio.get_running_loop().create_task(self._pump_attached(watched))

    async def watch(self, session_id: str) -> WatchedSession:
        """The session with this id, watched from now on (embedded or attached)."""
        existing = self.sessions.get(str(session_id))
        if existing is not None:
            return existing
        record = await self.read(self.store.session, session_id)
        workflow = await self.read(self._workflow_of, record)
        view = SessionView(
            str(record.id),
            record.project,
            workflow,
            status=record.shown_status,
            started_at=record.started_at,
            ended_at=record.ended_at,
            embedded=False,
        )
        view.last_seq = record.last_seq
        view.active_before, view.active_since = await self.read(self.store.activity, record.id)
        tasks = await self.read(self.store.tasks, record.id)
        attempts: list[AttemptRecord] = await self.read(self.store.attempts, record.id)
        latest = {attempt.task: attempt for attempt in attempts}
        for task in tasks:
            if task.name not in view.tasks:
                continue
            attempt = latest.get(task.name)
            view.set_task(
                task.name,
                state=TaskStatus(task.state),
                attempt=task.attempts,
                held=task.held,
                reason=task.reason,
                started_at=attempt.started_at if attempt else None,
                ended_at=attempt.ended_at if attempt else None,
                exit_code=attempt.exit_code if attempt else None,
                log_path=attempt.log_path if attempt else None,
                worker=attempt.worker if attempt else None,
            )
        samples = await self.read(self.store.samples, record.id, 120)
        if samples:
            last = samples[-1]
            view.capacity = dict(last.get("capacity", {}))
            view.booked = dict(last.get("booked", {}))
            if view.finished or not record.owner_alive:
                view.release_bookings()
        if record.shown_status == SessionStatus.ORPHANED.value:
            view.mark_orphaned(record.heartbeat)  # its engine died before we looked
        watched = WatchedSession(view, store=self.store)
        self.sessions[view.session_id] = watched
        self.start_watching()
        watched.pump = asyncio.get_running_loop().create_task(self._pump_attached(watched))
        return watched

    def _workflow_of(self, record: SessionRecord) -> WorkflowSpec:
        document = json.loads(self.store.definition(record.id))
        project = parse_project(document, Path(record.project_root) / DEFINITION_FILE)
        return project.workflows[record.workflow]

    async def _pump_attached(self, watched: WatchedSession) -> None:
        from formicary.api.event_source import StoreTail

        view = watched.view
        tail = StoreTail(
            self.store,
            view.session_id,
            view.last_seq,
            changes=lambda: self._tick,
            idle=ORPHAN_AFTER,
            until_final=False,  # an ended session can be retried, by anyone
            offload=True,
        )
        while True:
            await tail.wait()
            events = tail.drain()
            if events:
                changes = view.apply(events)
                if changes:
                    self._post(SessionUpdated(view.session_id, changes))
                await asyncio.sleep(FRAME)
                if view.status != SessionStatus.ORPHANED:
                    continue
                # Events again from a session shown as orphaned: its engine is back (the
                # tail may never come up empty while it samples every second), so look.
            record = await self.read(self.store.session, view.session_id)
            shown = record.shown_status
            if shown != view.status and shown == SessionStatus.ORPHANED:
                self._post(SessionUpdated(view.session_id, view.mark_orphaned(record.heartbeat)))
            elif view.status == SessionStatus.ORPHANED and record.owner_alive:
                # Its engine beats again (it was suspended, or only slow): back to what
                # the store says, with its clocks running.
                self._post(SessionUpdated(view.session_id, view.mark_alive(shown)))
            # A live owner writes a heartbeat every second; silence means it may have died,
            # which no file event announces, so the tail looks again after a while.
            final = record.status.is_final or shown == SessionStatus.ORPHANED
            tail.idle = None if final else ORPHAN_AFTER

    def forget(self, session_id: str) -> None:
        """Stop watching a session another process runs (embedded ones keep running)."""
        watched = self.sessions.get(session_id)
        if watched is not None and not watched.embedded:
            if watched.pump is not None:
                watched.pump.cancel()
                # The cancelled pump's traceback holds its frame, which holds ``watched``:
                # let go of the pump so no reference cycle keeps the view alive.
                watched.pump = None
            del self.sessions[session_id]

    def running_here(self) -> list[WatchedSession]:
        """Sessions this process runs that have not finished."""
        return [w for w in self.sessions.values() if w.handle is not None and not w.handle.finished]

    async def close(self, reason: str = "session cancelled") -> None:
        """Cancel the sessions this process runs, recording ``reason`` (waiting until their
        processes ended), and stop watching."""
        self._stop.set()
        for watched in list(self.sessions.values()):
            if watched.handle is not None:
                with contextlib.suppress(Exception):
                    await watched.handle.close(reason)
            if watched.pump is not None:
                watched.pump.cancel()
        for watcher in (self._watcher, self._definitions_watcher):
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await watcher
        if self._store is not None:
            self._store.close()
            self._store = None
