"""Persisting a session: its events go to the store from a writer thread, in batches.

The engine's side costs one ``list.append`` per event. The writer thread commits at least
every 50 ms or 500 events, whichever comes first, and derives every table (events, tasks,
attempts, samples, the session row) from the events alone. The same thread beats the
session's heartbeat every second and picks up control commands queued by other processes
(every 0.2 s), handing them to the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from engine.events import Event, EventBus, EventKind
from engine.schema import connect
from engine.store import HEARTBEAT_INTERVAL, Command, apply_attempt_event, blank_attempt

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.05
FLUSH_EVENTS = 500
COMMAND_INTERVAL = 0.2
SNAPSHOT_INTERVAL = 1.0


def _plain(value: object) -> object:
    """What JSON makes of values it does not know: mappings as objects, the rest as text."""
    return dict(value) if isinstance(value, Mapping) else str(value)


_encode = json.JSONEncoder(separators=(",", ":"), default=_plain).encode
_SESSION_STATUS = {
    EventKind.SESSION_STARTED: "running",
    EventKind.SESSION_PAUSED: "paused",
    EventKind.SESSION_RESUMED: "running",
}


class Persister:
    """Writes one session to the store and relays commands queued for it.

    Args:
        path: The state.db file.
        session_id: The session's id in the store.
        bus: The bus the session publishes on.
        tasks: The session's task states when persisting starts (name → state).
        on_command: Called on the event loop with every command taken from the queue.
    """

    def __init__(
        self,
        path: Path,
        session_id: int,
        bus: EventBus,
        tasks: Mapping[str, str],
        on_command: Callable[[Command], None],
    ) -> None:
        self.path = path
        self.session_id = session_id
        self._sid = str(session_id)
        self._bus = bus
        self._on_command = on_command
        self._pending: deque[Event] = deque()
        self._dirty_tasks: dict[str, Event] = {}
        self._dirty_attempts: dict[tuple[str, int], dict[str, Any]] = {}
        self._next_snapshot = 0.0
        self._logged_seq = 0
        self._wake = threading.Event()
        self._stopping = False
        self._flushed = threading.Condition()
        self._written_seq = 0
        self._states = dict(tasks)
        self._counts: Counter[str] = Counter(self._states.values())
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name=f"formicary-store-{session_id}")
        self.errors = 0
        bus.add_listener(self._on_event)
        self._thread.start()

    def _on_event(self, event: Event) -> None:
        if event.seq and event.session == self._sid:
            pending = self._pending
            pending.append(event)  # deque.append is atomic: no lock on the engine's path
            if len(pending) == FLUSH_EVENTS:
                self._wake.set()

    async def flush(self) -> None:
        """Wait until every event published so far is committed."""
        target = self._bus.last_seq(self._sid)
        self._wake.set()
        await asyncio.to_thread(self._wait_written, target)

    def _wait_written(self, target: int) -> None:
        with self._flushed:
            self._flushed.wait_for(
                lambda: self._written_seq >= target or not self._thread.is_alive(), timeout=30
            )

    async def close(self) -> None:
        """Commit what is pending with a last snapshot, stop the thread, stop listening."""
        self._bus.remove_listener(self._on_event)
        self._stopping = True
        self._wake.set()
        await asyncio.to_thread(self._thread.join, 30)

    # -- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        db = connect(self.path)
        next_beat = 0.0
        next_commands = 0.0
        try:
            while True:
                self._wake.wait(FLUSH_INTERVAL)
                self._wake.clear()
                pending = self._pending
                batch = [pending.popleft() for _ in range(len(pending))]
                now = time.time()
                beat = now >= next_beat
                closing = self._stopping and bool(self._dirty_tasks or self._dirty_attempts)
                if batch or beat or closing:
                    try:
                        self._write(db, batch, now if beat else None)
                    except Exception:
                        self.errors += 1
                        log.exception("could not persist %d events", len(batch))
                    if beat:
                        next_beat = now + HEARTBEAT_INTERVAL
                if now >= next_commands:
                    next_commands = now + COMMAND_INTERVAL
                    self._take_commands(db)
                if self._stopping and not self._pending:
                    return
        finally:
            db.close()
            with self._flushed:
                self._flushed.notify_all()

    def _write(self, db: Any, batch: list[Event], heartbeat: float | None) -> None:
        """Commit one batch: the events as one chunk row, the session row, and, at most once
        a second, the task and attempt snapshots (readers replay the chunks logged after)."""
        sid = self.session_id
        samples = []
        commands = []
        status: str | None = None
        started_at = ended_at = None
        tasks, attempts = self._dirty_tasks, self._dirty_attempts
        for event in batch:
            kind = event.kind
            if kind is EventKind.TASK_STATE:
                state = event.data["state"]
                previous = self._states.get(event.task or "")
                if previous is not None:
                    self._counts[previous] -= 1
                self._states[event.task or ""] = state
                self._counts[state] += 1
                tasks[event.task or ""] = event
                data = event.data
                if "outcome" in data or "log" in data:
                    key = (event.task or "", event.attempt or 0)
                    record = attempts.get(key)
                    if record is None:
                        record = attempts[key] = blank_attempt(*key)
                    apply_attempt_event(record, event)
            elif kind is EventKind.RESOURCE_SAMPLE:
                samples.append((sid, event.at, _encode(event.data)))
            elif kind is EventKind.COMMAND and "command_id" in event.data:
                commands.append((event.data.get("outcome", ""), event.data["command_id"]))
            elif kind in _SESSION_STATUS:
                status = _SESSION_STATUS[kind]
                if kind is EventKind.SESSION_STARTED:
                    started_at = event.at
            elif kind is EventKind.SESSION_FINISHED:
                status = event.data["status"]
                ended_at = event.at
        now = time.monotonic()
        snapshot = bool(tasks or attempts) and (
            now >= self._next_snapshot or status is not None or self._stopping
        )
        db.execute("BEGIN IMMEDIATE")
        try:
            if batch:
                db.execute(
                    "INSERT INTO events VALUES (?, ?, ?, ?)",
                    (sid, batch[0].seq, batch[-1].seq, _encode(batch)),
                )
                self._logged_seq = batch[-1].seq
            if snapshot:
                self._write_snapshot(db)
            if samples:
                db.executemany("INSERT INTO samples VALUES (?, ?, ?)", samples)
            if commands:
                db.executemany("UPDATE commands SET outcome = ? WHERE id = ?", commands)
            self._write_session(db, batch, status, started_at, ended_at, heartbeat, snapshot)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if snapshot:
            self._dirty_tasks, self._dirty_attempts = {}, {}
            self._next_snapshot = now + SNAPSHOT_INTERVAL
        if batch:
            with self._flushed:
                self._written_seq = batch[-1].seq
                self._flushed.notify_all()

    def _write_snapshot(self, db: Any) -> None:
        sid = self.session_id
        rows = []
        budgets = []
        for name, event in self._dirty_tasks.items():
            data = event.data
            rows.append(
                (
                    data["state"],
                    event.attempt or 0,
                    bool(data.get("held")),
                    data.get("reason", ""),
                    event.at,
                    sid,
                    name,
                )
            )
            if "budget_from" in data:
                budgets.append((data["budget_from"], sid, name))
        if rows:
            db.executemany(
                "UPDATE tasks SET state = ?, attempts = MAX(attempts, ?), held = ?, "
                "reason = ?, updated_at = ? WHERE session_id = ? AND name = ?",
                rows,
            )
        if budgets:
            db.executemany(
                "UPDATE tasks SET budget_from = ? WHERE session_id = ? AND name = ?", budgets
            )
        if self._dirty_attempts:
            db.executemany(
                "INSERT OR REPLACE INTO attempts VALUES "
                "(:sid, :task, :number, :outcome, :started_at, :ended_at, :exit_code, :reason, "
                ":worker, :pid, :log_path)",
                [{"sid": sid, **record} for record in self._dirty_attempts.values()],
            )

    def _write_session(
        self,
        db: Any,
        batch: list[Event],
        status: str | None,
        started_at: float | None,
        ended_at: float | None,
        heartbeat: float | None,
        snapshot: bool,
    ) -> None:
        assignments = []
        values: list[Any] = []
        if snapshot:
            assignments.append("snapshot_seq = ?")
            values.append(self._logged_seq)
        if batch:
            assignments += ["last_seq = ?", "counts = ?"]
            counts = {state: n for state, n in self._counts.items() if n}
            values += [batch[-1].seq, _encode(counts)]
        if status is not None:
            assignments.append("status = ?")
            values.append(status)
        if started_at is not None:
            assignments.append("started_at = COALESCE(started_at, ?)")
            values.append(started_at)
        if status is not None and ended_at is None and status in ("running", "paused"):
            assignments.append("ended_at = NULL")
        if ended_at is not None:
            assignments.append("ended_at = ?")
            values.append(ended_at)
        if heartbeat is not None:
            assignments.append("heartbeat = ?")
            values.append(heartbeat)
        if assignments:
            db.execute(
                f"UPDATE sessions SET {', '.join(assignments)} WHERE id = ?",
                (*values, self.session_id),
            )

    def _take_commands(self, db: Any) -> None:
        try:
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(
                "SELECT id, session_id, action, task, args FROM commands "
                "WHERE session_id = ? AND taken_at IS NULL ORDER BY id",
                (self.session_id,),
            ).fetchall()
            if rows:
                db.executemany(
                    "UPDATE commands SET taken_at = ? WHERE id = ?",
                    [(time.time(), row[0]) for row in rows],
                )
            db.execute("COMMIT")
        except Exception:
            db.execute("ROLLBACK")
            log.exception("could not read the command queue")
            return
        for row in rows:
            command = Command(row[0], row[1], row[2], row[3], json.loads(row[4]))
            try:
                self._loop.call_soon_threadsafe(self._on_command, command)
            except RuntimeError:
                return


def initial_states(names: Iterable[str], state: str = "pending") -> dict[str, str]:
    """Every task in ``state``: what a new session's persister starts from."""
    return dict.fromkeys(names, state)
