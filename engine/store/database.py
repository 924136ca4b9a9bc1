"""The durable store: one SQLite file per workspace, ``.formicary/state.db``, in WAL mode.

One process owns a session and writes it (through :class:`~formicary.store.persist.Persister`); any
number of processes read at the same time. Every table is keyed by session. The schema is
versioned with ``PRAGMA user_version`` and migrated forward on open.

The event log is append-only and gap-free, stored as one row per commit (a chunk of
consecutive events, pickled as plain tuples by :mod:`formicary.store.codec`): a row per event
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
from operator import itemgetter
from pathlib import Path
from typing import Any

from formicary.errors import UnknownSessionError, UnknownTaskError, UsageError
from formicary.model.durations import active_span
from formicary.model.states import SessionStatus
from formicary.run.events import Event, EventKind
from formicary.store import fold, summaries
from formicary.store.records import (
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
from formicary.store.schema import connect, db_path

__all__ = [
    "COMMAND_EXPIRED",
    "HEARTBEAT_INTERVAL",
    "ORPHAN_AFTER",
    "AttemptRecord",
    "Command",
    "SessionRecord",
    "Store",
    "TaskRecord",
    "db_path",
    "owner_gone",
    "pid_alive",
    "this_host",
]

_SESSION_COLUMNS = (
    "id, project, workflow, status, params, project_root, created_at, started_at, ended_at, "
    "owner_pid, owner_host, heartbeat, max_parallel, last_seq, counts, executor"
)


class Store:
    """Reads and small writes on a workspace's state.db (one connection, any thread).

    The owning engine's bulk writes go through :class:`~formicary.store.persist.Persister` to its
    store writer process (:mod:`formicary.store.writer`), which has its own connection.
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
        commit what it had received (see :mod:`formicary.store.writer`), and that must not make
        the claim fail. Whatever it commits after the claim is refused by its owner check.

        The claim also closes the session's span of activity (``active_s``, see
        :meth:`active_seconds`) and expires the commands still queued for the engine that
        stopped (:data:`COMMAND_EXPIRED`): the new owner never carries them out.
        """
        now = time.time()
        number = _session_number(session_id)
        with self.transaction() as db:
            # The span of activity that ended (when the session ended, or at the last beat
            # of the engine that died) is added to ``active_s``; a new one starts now, so
            # the idle time between is never counted as the session's.
            cursor = db.execute(
                "UPDATE sessions SET owner_pid = ?, owner_host = ?, heartbeat = ?, "
                f"active_s = {_FOLDED_ACTIVE.format(end='COALESCE(ended_at, heartbeat)')}, "
                "active_since = ? WHERE id = ? AND owner_pid IS ? AND owner_host IS ?",
                (os.getpid(), this_host(), now, now, number, *owner),
            )
            if cursor.rowcount != 1:
                return False
            # What was queued for the engine that stopped is not carried out by this one.
            db.execute(_EXPIRE_COMMANDS, (now, COMMAND_EXPIRED, number))
            return True

    def active_seconds(
        self, records: Iterable[SessionRecord], now: float | None = None
    ) -> dict[int, float | None]:
        """How long each session has been active, by id (None before it started).

        Only the time an engine ran it counts: a session reopened by a retry, or adopted
        after its engine died, does not count the idle time before (see :meth:`claim` and
        :mod:`formicary.store.session_writer`, which keep ``active_s`` and ``active_since``). An
        orphaned session's time stops at its engine's last heartbeat.
        """
        chosen = list(records)
        if not chosen:
            return {}
        rows = self._all(
            "SELECT id, active_s, active_since FROM sessions "
            "WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps([record.id for record in chosen]),),
        )
        spans = {row[0]: (row[1] or 0.0, row[2]) for row in rows}
        result: dict[int, float | None] = {}
        for record in chosen:
            before, since = spans.get(record.id, (0.0, None))
            end = record.ended_at
            if end is None and record.shown_status == SessionStatus.ORPHANED.value:
                end = record.heartbeat
            result[record.id] = active_span(record.started_at, end, before, since, now)
        return result

    def activity(self, session_id: int | str) -> tuple[float, float | None]:
        """A session's ``(active_s, active_since)``: the seconds of its earlier spans of
        activity, and when the current span began (None: at its start). See
        :func:`formicary.model.durations.active_span`."""
        row = self._one(
            "SELECT active_s, active_since FROM sessions WHERE id = ?",
            (_session_number(session_id),),
        )
        return (row[0] or 0.0, row[1]) if row is not None else (0.0, None)

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
        return fold.decoded(rows, str(number), after)

    def _task_table(self, number: int) -> dict[str, Any]:
        """Every task of the session by name, in definition order, as of its last snapshot
        (inside a read transaction), as tuples in :data:`fold.TASK_KEYS` order."""
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
            table.update(zip(names, map(fold.pending_row, names), strict=True))
        table.update(zip(map(itemgetter(0), rows), rows, strict=True))
        return table

    def _replayed(
        self, number: int, *, tasks: bool = True, attempts: bool = True
    ) -> tuple[dict[str, Any], dict[tuple[str, int], Any], set[str], set[tuple[str, int]], int]:
        """The task and attempt snapshots brought up to date by the events logged after them
        (read in one transaction) by the reference fold (:func:`fold.replay`), which rows the
        replay changed, and the last sequence.

        Rows stay the plain tuples SQLite returns (tens of thousands of them); a row the
        replay changes becomes a record, with the same fields in the same order. Attempts
        come by task and number."""
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
        changed_tasks, changed_attempts, added = fold.replay(
            later, task_map, attempt_map if attempts else None
        )
        if added:
            attempt_map = {key: attempt_map[key] for key in sorted(attempt_map)}
        last = later[-1].seq if later else snapshot
        return task_map, attempt_map, changed_tasks, changed_attempts, last

    def tasks(self, session_id: int | str) -> list[TaskRecord]:
        """Every task of the session in definition order, as of the latest logged event."""
        task_map, _, _, _, _ = self._replayed(_session_number(session_id), attempts=False)
        return [fold.task_record(task) for task in task_map.values()]

    def attempts(self, session_id: int | str, task: str | None = None) -> list[AttemptRecord]:
        """Attempts of the session (of one task, if given), by task and number, as of the
        latest logged event."""
        _, found, _, _, _ = self._replayed(_session_number(session_id), tasks=False)
        return [
            fold.attempt_record(row) for key, row in found.items() if task is None or key[0] == task
        ]

    def tasks_and_attempts(
        self, session_id: int | str
    ) -> tuple[list[TaskRecord], list[AttemptRecord]]:
        """:meth:`tasks` and :meth:`attempts` from one read and one replay of the log."""
        task_map, found, _, _, _ = self._replayed(_session_number(session_id))
        return (
            list(map(fold.task_record, task_map.values())),
            list(map(fold.attempt_record, found.values())),
        )

    def task_summaries(
        self, session_id: int | str, *, timing: bool = False, now: float | None = None
    ) -> list[dict[str, Any]]:
        """Every task as ``status --json`` and the MCP tools report it: name, state, attempts,
        the last attempt's exit code, reason, held; with ``timing``, also its latest
        attempt's ``started_at``, ``ended_at``, ``duration_s`` (up to ``now``, default the
        current time, while it has not ended; null when it never started) and ``worker``
        (the Dask worker it ran on, null for a local one)."""
        summaries: list[dict[str, Any]] = json.loads(
            self._summary_array(_session_number(session_id), timing, now)
        )
        return summaries

    def task_summaries_json(
        self, session_id: int | str, *, timing: bool = False, now: float | None = None
    ) -> str:
        """:meth:`task_summaries` as a compact JSON array, built mostly by SQLite: scripts
        poll ``status --json`` every second, beside the run they watch."""
        return self._summary_array(_session_number(session_id), timing, now)

    def _summary_array(self, number: int, timing: bool = False, now: float | None = None) -> str:
        """Each task's summary, in definition order, as a JSON array (with ``timing``, its
        latest attempt's times and worker as well, see :meth:`task_summaries`).

        The snapshot's rows carry their summary (a stored column, see
        :mod:`formicary.store.schema`), with the latest attempt's timing but for a running attempt's
        duration, which changes by the second: SQLite puts that in as it reads such a row. SQLite
        also lays the texts end to end in definition order (a pending task may have no row: its
        summary is made on the way), so a poll of a large session gets one text, not a row per
        task. Only the tasks named by the events logged since the snapshot are decoded and
        written again: SQLite leaves their names, between separators JSON never holds raw,
        where their texts go."""
        now = time.time() if now is None else now
        with self._reading():
            row = self._one("SELECT snapshot_seq, task_names FROM sessions WHERE id = ?", (number,))
            later = [
                event
                for event in self._logged_after(number, row[0] if row else 0)
                if event.kind is EventKind.TASK_STATE
            ]
            touched = json.dumps(list(dict.fromkeys(event.task for event in later)))
            texts: dict[str, str] = {}
            if row is not None and row[1] is not None:
                # Since version 3 a session lists its tasks, and pending ones have no row.
                if later:
                    sql = summaries.TIMED_MARKED if timing else summaries.MARKED
                    joined = self._all(sql, (number, now, touched), plain=True)[0][0] or ""
                    sql = summaries.TIMED_LATEST if timing else summaries.LATEST
                    texts = dict(self._all(sql, (number, now, touched), plain=True))
                else:
                    found = self._all(
                        summaries.TIMED_ARRAY if timing else summaries.ARRAY,
                        (number, now) if timing else (number,),
                        plain=True,
                    )
                    joined = found[0][0] or ""
            else:  # from before version 3: a row for every task
                if timing:
                    rows = self._all(summaries.TIMED_SUMMARIES_IN_ORDER, (number, now), plain=True)
                else:
                    rows = self._all(summaries.SUMMARIES_IN_ORDER, (number,), plain=True)
                texts = dict(rows)
                mark = texts.keys() & json.loads(touched)
                joined = ",".join(
                    f"{summaries.MARK}{name}{summaries.MARK}" if name in mark else text
                    for name, text in rows
                )
        return summaries.splice(joined, later, texts, timing, now)

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
        # A task's row keeps its latest attempt's exit code (attempts come in key order),
        # and the start, end and worker of the attempt numbered as its attempts.
        exits = {key[0]: row[fold.EXIT_CODE] for key, row in attempts.items()}
        with self.transaction() as db:
            positions = {name: index for index, name in enumerate(tasks)}
            rows = []
            for name in changed_tasks:
                t = fold.task_record(tasks[name])
                latest = attempts.get((name, t.attempts))
                timing = fold.NO_ATTEMPT if latest is None else fold.TIMING(latest)
                rows.append(
                    (
                        number,
                        name,
                        str(t.state),
                        t.attempts,
                        t.budget_from,
                        t.held,
                        t.reason,
                        now,
                        positions[name],
                        exits.get(name),
                        *timing,
                    )
                )
            db.executemany(
                "INSERT OR REPLACE INTO tasks (session_id, name, state, attempts, budget_from, "
                "held, reason, updated_at, position, exit_code, started_at, ended_at, worker) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.executemany(
                "INSERT OR REPLACE INTO attempts (session_id, task, number, outcome, "
                "started_at, ended_at, exit_code, reason, worker, pid, log_path) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(number, *attempts[key]) for key in changed_attempts],
            )
            db.execute("UPDATE sessions SET snapshot_seq = ? WHERE id = ?", (last, number))
        return list(tasks.values()), list(attempts.values())

    # -- events, samples ---------------------------------------------------------------

    def events(self, session_id: int | str, after: int = 0, limit: int = 10_000) -> list[Event]:
        """Events of the session with ``seq > after``, oldest first (about ``limit`` of them:
        whole chunks are returned)."""
        number = _session_number(session_id)
        rows = self._all(f"{_LOGGED_AFTER} LIMIT ?3", (number, after, max(1, limit // 100)))
        return fold.decoded(rows, str(number), after)

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

    def expire_if_owner_gone(self, command_id: int) -> str | None:
        """The command's outcome; if it has none and the engine that owns its session has
        stopped, it is first recorded as :data:`COMMAND_EXPIRED` (never to be applied by
        anyone: :meth:`claim` expires it too, and writers take only commands not taken).

        Only a dead owner expires a command: a session that has just ended while its
        engine still lives may yet record the outcome.
        """
        row = self._one(
            "SELECT c.outcome, c.session_id, s.owner_pid, s.owner_host, s.heartbeat "
            "FROM commands c LEFT JOIN sessions s ON s.id = c.session_id WHERE c.id = ?",
            (command_id,),
        )
        if row is None or row[0] is not None:
            return row[0] if row is not None else None
        if not owner_gone(row[2], row[3], row[4]):
            return None
        with self.transaction() as db:
            db.execute(
                _EXPIRE_COMMANDS + " AND id = ?", (time.time(), COMMAND_EXPIRED, row[1], command_id)
            )
        return self.command_outcome(command_id)[1]

    # -- housekeeping ------------------------------------------------------------------

    def prunable(self, keep: int) -> list[SessionRecord]:
        """The sessions :meth:`prune` would delete: all but the ``keep`` newest, of those
        that ended or whose engine stopped (newest first)."""
        return [
            record
            for record in self.sessions()[keep:]
            if record.status.is_final or not record.owner_alive
        ]

    def prune(self, keep: int) -> list[int]:
        """Delete every finished session but the ``keep`` newest sessions; their ids."""
        return self.delete_sessions(self.prunable(keep))

    def delete_sessions(self, records: Iterable[SessionRecord]) -> list[int]:
        """Delete the sessions of ``records`` and every row of theirs; the ids deleted.

        A session whose owner changed since ``records`` was read (someone adopted it) is
        kept. Session numbers are never handed out again (the table is ``AUTOINCREMENT``).
        """
        deleted = []
        with self.transaction() as db:
            for record in records:
                cursor = db.execute(
                    "DELETE FROM sessions WHERE id = ? AND owner_pid IS ? AND owner_host IS ?",
                    (record.id, record.owner_pid, record.owner_host),
                )
                if cursor.rowcount == 1:
                    deleted.append(record.id)
            for table in ("tasks", "attempts", "events", "samples", "commands"):
                db.executemany(f"DELETE FROM {table} WHERE session_id = ?", [(i,) for i in deleted])
        return deleted

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``'s answer (``ok`` when sound)."""
        row = self._one("PRAGMA integrity_check")
        return str(row[0]) if row is not None else "no answer"


COMMAND_EXPIRED = "expired: the session's engine stopped before applying it"
"""The outcome of a control call whose session's engine stopped before carrying it out."""
_EXPIRE_COMMANDS = (
    "UPDATE commands SET taken_at = COALESCE(taken_at, ?), outcome = ? "
    "WHERE session_id = ? AND outcome IS NULL"
)
# ``active_s`` with the span from ``active_since`` (or the start) to ``{end}`` added.
_FOLDED_ACTIVE = "active_s + COALESCE(MAX(0.0, {end} - COALESCE(active_since, started_at)), 0.0)"


def owner_gone(pid: int | None, host: str | None, heartbeat: float | None) -> bool:
    """True when the engine recorded as a session's owner has stopped: on this host its
    process is gone; elsewhere its heartbeat is older than :data:`ORPHAN_AFTER`."""
    if host == this_host():
        return not pid_alive(pid)
    return heartbeat is None or time.time() - heartbeat >= ORPHAN_AFTER


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
