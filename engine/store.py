"""The durable store: one SQLite file per workspace, ``.formicary/state.db``, in WAL mode.

One process owns a session and writes it (through :class:`~engine.persist.Persister`); any
number of processes read at the same time. Every table is keyed by session. The schema is
versioned with ``PRAGMA user_version`` and migrated forward on open.

The event log is append-only and gap-free, stored as one row per commit (a chunk of
consecutive events, pickled as plain tuples by :mod:`engine.event_codec`): a row per event
cost more than the engine itself. The ``tasks`` and ``attempts`` tables are snapshots,
current as of the session's ``snapshot_seq`` and refreshed four times a second; readers
bring them up to date by replaying the events logged after it, so what they return is as
fresh as the log. A task still ``pending`` may have no row: the session row lists every
task (``task_names``).

Readers use short read transactions and never block the writer (WAL); every connection
waits up to ``busy_timeout`` for a lock instead of failing with "database is locked".
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any

from engine.errors import UnknownSessionError, UnknownTaskError, UsageError
from engine.event_codec import decode_events
from engine.events import Event, EventKind
from engine.schema import connect, db_path
from engine.states import SessionStatus
from engine.store_records import (
    HEARTBEAT_INTERVAL,
    ORPHAN_AFTER,
    AttemptRecord,
    Command,
    SessionRecord,
    TaskRecord,
    pid_alive,
    session_from_row,
    this_host,
)

__all__ = [
    "HEARTBEAT_INTERVAL",
    "ORPHAN_AFTER",
    "AttemptRecord",
    "Command",
    "SessionRecord",
    "Store",
    "TaskRecord",
    "apply_attempt_event",
    "apply_task_event",
    "attempt_change",
    "blank_attempt",
    "db_path",
    "pid_alive",
    "this_host",
]

_SESSION_COLUMNS = (
    "id, project, workflow, status, params, project_root, created_at, started_at, ended_at, "
    "owner_pid, owner_host, heartbeat, max_parallel, last_seq, counts, executor"
)


class Store:
    """Reads and small writes on a workspace's state.db (one connection, any thread).

    The owning engine's bulk writes go through :class:`~engine.persist.Persister` to its
    store writer process (:mod:`engine.store_writer`), which has its own connection.
    """

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self._connection = connect(path, readonly=readonly)
        # Checkpoints are the owning engine's writer's job (it commits all the time): a
        # control call or an adoption's claim should not stop to copy the log into the file.
        self._connection.execute("PRAGMA wal_autocheckpoint = 0")
        self._lock = threading.RLock()

    @classmethod
    def for_workspace(cls, workspace: Path, *, create: bool = True) -> Store:
        """The store of ``workspace`` (created on first use unless ``create`` is False).

        Raises:
            UsageError: ``create`` is False and the workspace has no store yet.
        """
        path = db_path(workspace)
        if not create and not path.exists():
            raise UsageError(f"{workspace}: no sessions recorded here yet")
        return cls(path)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._connection.close()

    def _all(self, sql: str, params: Sequence[Any] = (), *, plain: bool = False) -> list[Any]:
        """Every row of a query (``sqlite3.Row``, or tuples when ``plain``: a third cheaper
        for the tens of thousands of task rows a large session has). The cursor is always
        run to its end and closed: a statement left half-read keeps a read transaction open,
        and the connection would go on seeing an old snapshot of a database other processes
        are writing."""
        with self._lock:
            cursor = self._connection.cursor()
            if plain:
                cursor.row_factory = None
            try:
                cursor.execute(sql, params)
                return cursor.fetchall()
            finally:
                cursor.close()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE … COMMIT)."""
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    # -- sessions ----------------------------------------------------------------------

    def create_session(
        self,
        *,
        project: str,
        workflow: str,
        params: Mapping[str, Any],
        definition: str,
        project_root: str,
        tasks: Sequence[str],
        max_parallel: int | None,
        executor: str = "local",
    ) -> int:
        """Record a new session owned by this process, with every task pending; its id.

        The tasks are listed in the session row; a task gets a row of its own in ``tasks``
        once it leaves ``pending`` (written by the session's persister), so starting a large
        session costs one row, not one per task.
        """
        now = time.time()
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO sessions (project, workflow, params, definition, project_root, "
                "status, created_at, owner_pid, owner_host, heartbeat, max_parallel, counts, "
                "executor, task_names) VALUES (?, ?, ?, ?, ?, 'created', ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    project,
                    workflow,
                    json.dumps(dict(params)),
                    definition,
                    project_root,
                    now,
                    os.getpid(),
                    this_host(),
                    now,
                    max_parallel,
                    json.dumps({"pending": len(tasks)}),
                    executor,
                    json.dumps(list(tasks), separators=(",", ":")),
                ),
            )
            return int(cursor.lastrowid or 0)

    def session(self, session_id: int | str) -> SessionRecord:
        """One session.

        Raises:
            UnknownSessionError: No such session.
        """
        number = _session_number(session_id)
        row = self._one(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = ?", (number,))
        if row is None:
            raise UnknownSessionError(session_id)
        return session_from_row(row)

    def sessions(self, limit: int | None = None) -> list[SessionRecord]:
        """Sessions, newest first."""
        query = f"SELECT {_SESSION_COLUMNS} FROM sessions ORDER BY id DESC"
        if limit:
            query += f" LIMIT {int(limit)}"
        return [session_from_row(row) for row in self._all(query)]

    def definition(self, session_id: int | str) -> str:
        """The definition snapshot the session was started with (JSON)."""
        row = self._one(
            "SELECT definition FROM sessions WHERE id = ?", (_session_number(session_id),)
        )
        if row is None:
            raise UnknownSessionError(session_id)
        return str(row[0])

    def claim(self, session_id: int | str, owner: tuple[int | None, str | None]) -> bool:
        """Make this process the owner, if ``owner`` (pid, host), whom the caller found
        gone, still owns it; True on success.

        The comparison is on the owner, not the heartbeat: a dead engine's writer may still
        commit what it had received (see :mod:`engine.store_writer`), and that must not make
        the claim fail. Whatever it commits after the claim is refused by its owner check.
        """
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE sessions SET owner_pid = ?, owner_host = ?, heartbeat = ? "
                "WHERE id = ? AND owner_pid IS ? AND owner_host IS ?",
                (
                    os.getpid(),
                    this_host(),
                    time.time(),
                    _session_number(session_id),
                    *owner,
                ),
            )
            return cursor.rowcount == 1

    def latest_orphan(self) -> SessionRecord | None:
        """The most recent unfinished session whose owner stopped."""
        for record in self.sessions(limit=200):
            if record.shown_status == SessionStatus.ORPHANED.value:
                return record
        return None

    # -- tasks and attempts ------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """One read transaction: every query inside sees the same committed state."""
        with self._lock:
            self._connection.execute("BEGIN")
            try:
                yield
            finally:
                self._connection.execute("COMMIT")

    def _logged_after(self, number: int, after: int) -> list[Event]:
        rows = self._all(_LOGGED_AFTER, (number, after))
        return _decoded(rows, str(number), after)

    def _task_table(self, number: int) -> dict[str, Any]:
        """Every task of the session by name, in definition order, as of its last snapshot
        (inside a read transaction), as tuples in :data:`_TASK_KEYS` order."""
        row = self._one("SELECT task_names FROM sessions WHERE id = ?", (number,))
        rows = self._all(
            "SELECT name, state, attempts, budget_from, held, reason FROM tasks "
            "WHERE session_id = ? ORDER BY position",
            (number,),
            plain=True,
        )
        table: dict[str, Any] = {}
        if row is not None and row[0] is not None:  # since version 3: pending tasks have none
            names = json.loads(row[0])
            table.update(zip(names, map(_pending_row, names), strict=True))
        table.update(zip(map(itemgetter(0), rows), rows, strict=True))
        return table

    def _replayed(
        self, number: int, *, tasks: bool = True, attempts: bool = True
    ) -> tuple[dict[str, Any], dict[tuple[str, int], Any], set[str], set[tuple[str, int]], int]:
        """The task and attempt snapshots brought up to date by the events logged after them
        (read in one transaction), which rows the replay changed, and the last sequence.

        Rows stay tuples as read (tens of thousands of them); only a row the replay changes
        becomes a dict. Attempts come by task and number."""
        with self._reading():
            snapshot_row = self._one("SELECT snapshot_seq FROM sessions WHERE id = ?", (number,))
            snapshot = snapshot_row[0] if snapshot_row else 0
            task_map = self._task_table(number) if tasks else {}
            attempt_rows = (
                self._all(
                    "SELECT task, number, outcome, started_at, ended_at, exit_code, reason, "
                    "worker, pid, log_path FROM attempts WHERE session_id = ? "
                    "ORDER BY task, number",
                    (number,),
                    plain=True,
                )
                if attempts
                else []
            )
            later = self._logged_after(number, snapshot)
        attempt_map: dict[tuple[str, int], Any] = dict(
            zip(map(_KEY, attempt_rows), attempt_rows, strict=True)
        )
        added = False
        changed_tasks: set[str] = set()
        changed_attempts: set[tuple[str, int]] = set()
        for event in later:
            if event.kind is not EventKind.TASK_STATE:
                continue
            data = event.data
            name = event.task or ""
            task = task_map.get(name)
            if task is not None:
                if type(task) is tuple:
                    task = task_map[name] = dict(zip(_TASK_KEYS, task, strict=True))
                apply_task_event(task, event)
                changed_tasks.add(name)
            if attempts and ("outcome" in data or "log" in data):
                key = (name, event.attempt or 0)
                record = attempt_map.get(key)
                if record is None:
                    record = attempt_map[key] = blank_attempt(*key)
                    added = True
                elif type(record) is tuple:
                    record = attempt_map[key] = dict(zip(_ATTEMPT_KEYS, record, strict=True))
                apply_attempt_event(record, event)
                changed_attempts.add(key)
        if added:
            attempt_map = {key: attempt_map[key] for key in sorted(attempt_map)}
        last = later[-1].seq if later else snapshot
        return task_map, attempt_map, changed_tasks, changed_attempts, last

    def tasks(self, session_id: int | str) -> list[TaskRecord]:
        """Every task of the session in definition order, as of the latest logged event."""
        task_map, _, _, _, _ = self._replayed(_session_number(session_id), attempts=False)
        return [_task_record(task) for task in task_map.values()]

    def attempts(self, session_id: int | str, task: str | None = None) -> list[AttemptRecord]:
        """Attempts of the session (of one task, if given), by task and number, as of the
        latest logged event."""
        _, found, _, _, _ = self._replayed(_session_number(session_id), tasks=False)
        return [
            _attempt_record(row) for key, row in found.items() if task is None or key[0] == task
        ]

    def tasks_and_attempts(
        self, session_id: int | str
    ) -> tuple[list[TaskRecord], list[AttemptRecord]]:
        """:meth:`tasks` and :meth:`attempts` from one read and one replay of the log."""
        task_map, found, _, _, _ = self._replayed(_session_number(session_id))
        return (
            list(map(_task_record, task_map.values())),
            list(map(_attempt_record, found.values())),
        )

    def task_summaries(self, session_id: int | str) -> list[dict[str, Any]]:
        """Every task as ``status --json`` and the MCP tools report it: name, state, attempts,
        the last attempt's exit code, reason, held."""
        return list(map(json.loads, self._summary_texts(_session_number(session_id))))

    def task_summaries_json(self, session_id: int | str) -> str:
        """:meth:`task_summaries` as a compact JSON array, built mostly by SQLite: scripts
        poll ``status --json`` every second, beside the run they watch."""
        return "[" + ",".join(self._summary_texts(_session_number(session_id))) + "]"

    def _summary_texts(self, number: int) -> Iterable[str]:
        """Each task's summary as JSON text, in definition order.

        The snapshot's rows carry their summary (a stored column, see
        :mod:`engine.schema`), and only the tasks named by the events logged since the
        snapshot are decoded and written again."""
        with self._reading():
            row = self._one("SELECT snapshot_seq, task_names FROM sessions WHERE id = ?", (number,))
            # Since version 3 a session lists its tasks, and pending ones have no row.
            names = json.loads(row[1]) if row is not None and row[1] is not None else None
            rows = self._all(_SUMMARIES if names else _SUMMARIES_IN_ORDER, (number,), plain=True)
            later = self._logged_after(number, row[0] if row else 0)
        texts: dict[str, str] = dict(rows)
        if names:
            found = texts.get
            texts = {name: found(name) or _pending_summary(name) for name in names}
        replayed: dict[str, dict[str, Any]] = {}
        for event in later:
            if event.kind is not EventKind.TASK_STATE or event.task not in texts:
                continue
            name = event.task
            summary = replayed.get(name)
            if summary is None:
                summary = replayed[name] = json.loads(texts[name])
            data = event.data
            summary["state"] = data["state"]
            summary["attempts"] = max(summary["attempts"], event.attempt or 0)
            if "log" in data:
                summary["exit_code"] = None
            if "outcome" in data:
                summary["exit_code"] = data.get("exit_code")
            summary["reason"] = data.get("reason") or ""
            summary["held"] = bool(data.get("held"))
        texts.update(zip(replayed, map(_summary_text, replayed.values()), strict=True))
        return texts.values()

    def require_task(self, session_id: int | str, task: str) -> None:
        """Raise :class:`UnknownTaskError` unless the session has ``task``."""
        number = _session_number(session_id)
        with self._reading():
            names = self._task_table(number)
        if task not in names:
            raise UnknownTaskError(task, list(names))

    def compact(self, session_id: int | str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Fold the events logged since the last snapshot into the task and attempt tables;
        return every task and attempt as they now stand, as tuples of the fields of
        :class:`TaskRecord` and :class:`AttemptRecord` in their order (tasks in definition
        order, attempts by task and number: a resumed session has tens of thousands, and
        records of them would only be taken apart again).

        Done before a session changes owner: the new owner's snapshots only cover what it
        changes itself, so what the old owner logged after its last snapshot must be in the
        tables first. Only the rows the log changed are written.
        """
        number = _session_number(session_id)
        tasks, attempts, changed_tasks, changed_attempts, last = self._replayed(number)
        now = time.time()
        # A task's row keeps its latest attempt's exit code (attempts come in key order).
        exits = {key[0]: _as_tuple(row, _ATTEMPT_KEYS)[_EXIT_CODE] for key, row in attempts.items()}
        with self.transaction() as db:
            positions = {name: index for index, name in enumerate(tasks)}
            db.executemany(
                "INSERT OR REPLACE INTO tasks (session_id, name, state, attempts, budget_from, "
                "held, reason, updated_at, position, exit_code) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        number,
                        name,
                        str(t["state"]),
                        t["attempts"],
                        t["budget_from"],
                        bool(t["held"]),
                        t["reason"],
                        now,
                        positions[name],
                        exits.get(name),
                    )
                    for name, t in ((name, tasks[name]) for name in changed_tasks)
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO attempts VALUES (:sid, :task, :number, :outcome, "
                ":started_at, :ended_at, :exit_code, :reason, :worker, :pid, :log_path)",
                [{"sid": number, **attempts[key]} for key in changed_attempts],
            )
            db.execute("UPDATE sessions SET snapshot_seq = ? WHERE id = ?", (last, number))
        return (
            [_as_tuple(task, _TASK_KEYS) for task in tasks.values()],
            [_as_tuple(attempt, _ATTEMPT_KEYS) for attempt in attempts.values()],
        )

    # -- events, samples ---------------------------------------------------------------

    def events(self, session_id: int | str, after: int = 0, limit: int = 10_000) -> list[Event]:
        """Events of the session with ``seq > after``, oldest first (about ``limit`` of them:
        whole chunks are returned)."""
        number = _session_number(session_id)
        rows = self._all(f"{_LOGGED_AFTER} LIMIT ?3", (number, after, max(1, limit // 100)))
        return _decoded(rows, str(number), after)

    def last_seq(self, session_id: int | str) -> int:
        """The highest event sequence number recorded for the session."""
        row = self._one(
            "SELECT MAX(last_seq) FROM events WHERE session_id = ?",
            (_session_number(session_id),),
        )
        return int(row[0] or 0) if row else 0

    def samples(self, session_id: int | str, limit: int = 120) -> list[dict[str, Any]]:
        """The latest resource samples of the session, oldest first."""
        rows = self._all(
            "SELECT data FROM samples WHERE session_id = ? ORDER BY at DESC LIMIT ?",
            (_session_number(session_id), limit),
        )
        return [json.loads(row[0]) for row in reversed(rows)]

    # -- commands ----------------------------------------------------------------------

    def enqueue(
        self,
        session_id: int | str,
        action: str,
        task: str | None = None,
        args: Mapping[str, Any] | None = None,
    ) -> int:
        """Queue a control call for the session's owner; returns the command id."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO commands (session_id, action, task, args, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    _session_number(session_id),
                    action,
                    task,
                    json.dumps(dict(args or {})),
                    time.time(),
                ),
            )
            return int(cursor.lastrowid or 0)

    def command_outcome(self, command_id: int) -> tuple[float | None, str | None]:
        """``(taken_at, outcome)`` of a queued command."""
        row = self._one("SELECT taken_at, outcome FROM commands WHERE id = ?", (command_id,))
        return (row[0], row[1]) if row else (None, None)

    # -- housekeeping ------------------------------------------------------------------

    def prune(self, keep: int) -> list[int]:
        """Delete every finished session but the ``keep`` newest sessions; their ids."""
        ids = [
            record.id
            for record in self.sessions()[keep:]
            if record.status.is_final or not record.owner_alive
        ]
        with self.transaction() as db:
            for table in ("tasks", "attempts", "events", "samples", "commands"):
                db.executemany(f"DELETE FROM {table} WHERE session_id = ?", [(i,) for i in ids])
            db.executemany("DELETE FROM sessions WHERE id = ?", [(i,) for i in ids])
        return ids

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``'s answer (``ok`` when sound)."""
        return str(self._one("PRAGMA integrity_check")[0])


def _session_number(session_id: int | str) -> int:
    try:
        return int(session_id)
    except (TypeError, ValueError):
        raise UnknownSessionError(session_id) from None


_KEY = itemgetter(0, 1)
# Chunks hold consecutive events: the first one wanted is the last to start at or before
# ``after + 1``, found by the primary key instead of a scan of the session's chunks.
_LOGGED_AFTER = (
    "SELECT events FROM events WHERE session_id = ?1 AND first_seq >= COALESCE(("
    "SELECT MAX(first_seq) FROM events WHERE session_id = ?1 AND first_seq <= ?2 + 1), 0) "
    "AND last_seq > ?2 ORDER BY first_seq"
)
_SUMMARIES = "SELECT name, summary FROM tasks WHERE session_id = ?"
_SUMMARIES_IN_ORDER = _SUMMARIES + " ORDER BY position"
_SUMMARY = '{{"name":{},"state":{},"attempts":{},"exit_code":{},"reason":{},"held":{}}}'
_quote = json.encoder.encode_basestring  # type: ignore[attr-defined]


def _pending_summary(name: str) -> str:
    return _SUMMARY.format(_quote(name), '"pending"', 0, "null", '""', "false")


def _summary_text(summary: dict[str, Any]) -> str:
    """A summary as the stored column writes it (compact JSON, keys in the same order)."""
    code = summary["exit_code"]
    return _SUMMARY.format(
        _quote(summary["name"]),
        _quote(summary["state"]),
        int(summary["attempts"]),
        "null" if code is None else int(code),
        _quote(summary["reason"]),
        "true" if summary["held"] else "false",
    )


_TASK_KEYS = ("name", "state", "attempts", "budget_from", "held", "reason")
_ATTEMPT_KEYS = (
    "task",
    "number",
    "outcome",
    "started_at",
    "ended_at",
    "exit_code",
    "reason",
    "worker",
    "pid",
    "log_path",
)
_EXIT_CODE = _ATTEMPT_KEYS.index("exit_code")


def _decoded(rows: Sequence[sqlite3.Row], session: str, after: int) -> list[Event]:
    """The events of stored chunks with ``seq > after``."""
    events = [event for row in rows for event in decode_events(row[0], session)]
    if events and events[0].seq <= after:
        events = [event for event in events if event.seq > after]
    return events


def apply_task_event(task: dict[str, Any], event: Event) -> None:
    """Update a task row (a dict of TaskRecord fields) from one of its ``task_state`` events
    (what the persister's snapshot upsert does in SQL)."""
    data = event.data
    task["state"] = data["state"]
    task["attempts"] = max(task["attempts"], event.attempt or 0)
    task["held"] = bool(data.get("held"))
    task["reason"] = data.get("reason") or ""
    budget = data.get("budget_from")
    if budget is not None:
        task["budget_from"] = budget


def blank_attempt(task: str, number: int) -> dict[str, Any]:
    return {
        "task": task,
        "number": number,
        "outcome": None,
        "started_at": None,
        "ended_at": None,
        "exit_code": None,
        "reason": "",
        "worker": None,
        "pid": None,
        "log_path": None,
    }


def attempt_change(event: Event) -> bool:
    """True when ``event`` starts or ends an attempt (a ``task_state`` carrying its details)."""
    return event.kind is EventKind.TASK_STATE and ("outcome" in event.data or "log" in event.data)


def apply_attempt_event(record: dict[str, Any], event: Event) -> None:
    """Update an attempt row (a dict of AttemptRecord fields) from the state event that
    started or ended it."""
    data = event.data
    if "log" in data:
        record["started_at"] = data.get("started_at", event.at)
        record["pid"] = data.get("pid", record["pid"])
        record["log_path"] = data.get("log", record["log_path"])
        record["worker"] = data.get("worker", record["worker"])
    if "outcome" in data:
        record["outcome"] = data["outcome"]
        record["ended_at"] = event.at
        record["exit_code"] = data.get("exit_code")
        record["reason"] = data.get("attempt_reason", "")


def _pending_row(name: str) -> tuple[Any, ...]:
    return (name, "pending", 0, 0, 0, "")


def _as_tuple(row: Any, keys: tuple[str, ...]) -> tuple[Any, ...]:
    if type(row) is tuple:
        return row  # type: ignore[no-any-return]
    return tuple(map(row.__getitem__, keys))


_new_attempt = partial(tuple.__new__, AttemptRecord)


def _attempt_record(row: Any) -> AttemptRecord:
    return _new_attempt(row) if type(row) is tuple else AttemptRecord(**row)


def _task_record(task: Any) -> TaskRecord:
    if type(task) is tuple:
        return TaskRecord(task[0], task[1], task[2], task[3], bool(task[4]), task[5])
    return TaskRecord(
        task["name"],
        task["state"],
        task["attempts"],
        task["budget_from"],
        bool(task["held"]),
        task["reason"],
    )
