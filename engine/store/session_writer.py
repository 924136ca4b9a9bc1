"""One session's writes to the store: its events as chunks, and the tables derived from them.

A :class:`SessionWriter` lives in the store writer process (:mod:`formicary.store.writer`),
away from the engine's interpreter lock, and commits what the engine sends it: each chunk of
events (pickled by :mod:`formicary.store.codec`) goes in as one row, and the task and attempt
snapshots, the session row, resource samples and command outcomes are derived from the
events alone. It also beats the session's heartbeat and takes the control commands queued
for the session by other processes.

Every transaction first checks that the session still belongs to the engine this writer
serves: once another process has adopted it (``formicary resume``), nothing more is written,
so a writer that outlives its engine by a moment can never write over the adopter.

The bookkeeping for the snapshots is done with C-level ``map``/``zip`` over each batch and
bound to SQL upserts the same way, so no Python line runs per event. That is the reference
fold (:mod:`formicary.store.fold`, what readers replay the later events with) written for
speed instead of calls; ``tests/test_event_fold.py`` pins the two together. The payloads'
keys are :class:`formicary.run.event_data.TaskState`'s.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import partial
from itertools import compress, repeat
from operator import add, contains, itemgetter, methodcaller, or_
from typing import Any

from formicary.run.events import Event, EventKind
from formicary.store.schema import HEARTBEAT_INTERVAL
from formicary.store.writer_protocol import CommandRow

SNAPSHOT_INTERVAL = 0.25
"""Seconds between task and attempt snapshots. Readers replay the events logged since the
last one, so this bounds what a ``status`` poll decodes; the writer's cost hardly depends on
it, as a task changed several times between two snapshots is written once either way."""


def _plain(value: object) -> object:
    """What JSON makes of values it does not know: mappings as objects, the rest as text."""
    return dict(value) if isinstance(value, Mapping) else str(value)


_encode = json.JSONEncoder(separators=(",", ":"), default=_plain).encode
_SESSION_STATUS = {
    EventKind.SESSION_STARTED: "running",
    EventKind.SESSION_PAUSED: "paused",
    EventKind.SESSION_RESUMED: "running",
}
_TASK_STATE = EventKind.TASK_STATE
_FIELDS = len(Event._fields)
_new_event = partial(tuple.__new__, Event)
_STATE = itemgetter("state")
_PREVIOUS = itemgetter("previous")
_HELD = methodcaller("get", "held")
_REASON = methodcaller("get", "reason")
_BUDGET = methodcaller("get", "budget_from")
_BUDGET_KEY = repeat("budget_from")
_STARTED = methodcaller("get", "started_at")
_PID = methodcaller("get", "pid")
_LOG = methodcaller("get", "log")
_WORKER = methodcaller("get", "worker")
_OUTCOME = methodcaller("get", "outcome")
_EXIT = methodcaller("get", "exit_code")
_ATTEMPT_REASON = methodcaller("get", "attempt_reason")

# The snapshot upserts apply formicary.store.fold's rule (fold_task, fold_attempt, and a task
# row's latest attempt as fold_latest keeps it), which readers replay the events logged after
# a snapshot with.
# ?10 is the exit code of the task's latest attempt when ?11 says an attempt started or ended
# since the last snapshot (one write per row: each one recomputes the stored summary).
# The row also copies its latest attempt's start, end and worker (schema version 7), looked
# up by primary key only when ?11 says an attempt changed (the attempts are upserted first,
# in the same transaction); a row whose attempt number rises without one gets none.
_NEW_ATTEMPT = "excluded.attempts > attempts OR (?11 AND excluded.attempts = attempts)"
_UPSERT_TASKS = (
    "INSERT INTO tasks (session_id, name, state, attempts, held, reason, budget_from, "
    "updated_at, position, exit_code, started_at, ended_at, worker) "
    "SELECT ?1, ?2, ?3, COALESCE(?4, 0), COALESCE(?5, 0), COALESCE(?6, ''), COALESCE(?7, 0), "
    "?8, COALESCE(?9, 0), ?10, a.started_at, a.ended_at, a.worker "
    "FROM (SELECT 1) LEFT JOIN attempts a ON ?11 AND a.session_id = ?1 AND a.task = ?2 "
    "AND a.number = COALESCE(?4, 0) WHERE true "
    "ON CONFLICT (session_id, name) DO UPDATE SET state = excluded.state, "
    "attempts = MAX(attempts, excluded.attempts), held = excluded.held, "
    "reason = excluded.reason, budget_from = COALESCE(?7, budget_from), "
    "updated_at = excluded.updated_at, "
    "exit_code = CASE WHEN ?11 THEN ?10 ELSE exit_code END, "
    f"started_at = CASE WHEN {_NEW_ATTEMPT} THEN excluded.started_at ELSE started_at END, "
    f"ended_at = CASE WHEN {_NEW_ATTEMPT} THEN excluded.ended_at ELSE ended_at END, "
    f"worker = CASE WHEN {_NEW_ATTEMPT} THEN excluded.worker ELSE worker END"
)
_NO_EXIT = (None, 0)
_UPSERT_STARTS = (
    "INSERT INTO attempts (session_id, task, number, started_at, pid, log_path, worker) "
    "VALUES (?1, ?2, COALESCE(?3, 0), COALESCE(?4, ?5), ?6, ?7, ?8) "
    "ON CONFLICT (session_id, task, number) DO UPDATE SET started_at = excluded.started_at, "
    "pid = excluded.pid, log_path = COALESCE(excluded.log_path, log_path), "
    "worker = COALESCE(excluded.worker, worker)"
)
_UPSERT_ATTEMPTS = (
    "INSERT INTO attempts (session_id, task, number, started_at, pid, log_path, worker, "
    "outcome, ended_at, exit_code, reason) VALUES (?1, ?2, COALESCE(?3, 0), "
    "COALESCE(?4, ?5), ?6, ?7, ?8, ?9, ?10, ?11, COALESCE(?12, '')) "
    "ON CONFLICT (session_id, task, number) DO UPDATE SET started_at = excluded.started_at, "
    "pid = excluded.pid, log_path = COALESCE(excluded.log_path, log_path), "
    "worker = COALESCE(excluded.worker, worker), outcome = excluded.outcome, "
    "ended_at = excluded.ended_at, exit_code = excluded.exit_code, reason = excluded.reason"
)
_END_TAIL = itemgetter(slice(3, None))
_UPSERT_ENDS = (
    "INSERT INTO attempts (session_id, task, number, outcome, ended_at, exit_code, reason) "
    "VALUES (?1, ?2, COALESCE(?3, 0), ?4, ?5, ?6, COALESCE(?7, '')) "
    "ON CONFLICT (session_id, task, number) DO UPDATE SET outcome = excluded.outcome, "
    "ended_at = excluded.ended_at, exit_code = excluded.exit_code, reason = excluded.reason"
)


class SessionWriter:
    """Commits one session's events and everything derived from them.

    Args:
        session_id: The session's id in the store.
        tasks: The session's task names in definition order, and their states when writing
            starts (a new session's are all ``pending``; an adopted one's are restored).
        owner: The pid and host of the engine that owns the session (the fence).
    """

    def __init__(
        self, session_id: int, tasks: Sequence[str], states: Sequence[str], owner: tuple[int, str]
    ) -> None:
        self.session_id = session_id
        self.owner = owner
        self._positions = {name: index for index, name in enumerate(tasks)}
        # The snapshot's dirty rows, as the upserts below take them.
        self._latest: dict[str, tuple[Any, ...]] = {}
        self._starts: dict[tuple[str, int | None], tuple[Any, ...]] = {}
        self._ends: dict[tuple[str, int | None], tuple[Any, ...]] = {}
        # A task's latest attempt's exit code, as the upsert's last two parameters.
        self._exits: dict[str, tuple[int | None, int]] = {}
        # The latest budget_from each task's events carried since the last snapshot: a row
        # is its last event's, which may not carry it (a ``running`` state never does).
        self._budgets: dict[str, int] = {}
        self.lost = False
        self._next_snapshot = 0.0
        self._next_beat = 0.0
        self._logged_seq = 0
        self._initial: Counter[str] = Counter(map(str, states))
        self._entered: Counter[str] = Counter()
        self._left: Counter[str] = Counter()

    def beat_due(self, now: float) -> bool:
        """True when the heartbeat should be written again."""
        return now >= self._next_beat

    def commit(
        self,
        db: Any,
        chunks: Sequence[tuple[bytes, list[Any]]],
        *,
        beat: bool = False,
        closing: bool = False,
    ) -> int | None:
        """Commit ``chunks`` (each as stored, with its decoded fields, seven per event) in one
        transaction, with the heartbeat when ``beat`` and a last snapshot when ``closing``;
        the sequence number of the last event committed, if any.

        Nothing is written once another process has adopted the session: :attr:`lost`
        says so.
        """
        if self.lost:
            return None
        now = time.time()
        beat = beat and now >= self._next_beat
        flat: list[Any] = []
        for _, fields in chunks:
            flat += fields
        if not (flat or beat or (closing and self._dirty)):
            return None
        rows = [
            (self.session_id, fields[0], fields[-_FIELDS], chunk)
            for chunk, fields in chunks
            if fields
        ]
        self._write(db, rows, flat, now if beat else None, closing)
        if self.lost:
            return None
        if beat:
            self._next_beat = now + HEARTBEAT_INTERVAL
        return flat[-_FIELDS] if flat else None

    def take_commands(self, db: Any) -> list[CommandRow]:
        """The commands queued for the session and not taken yet (id, session, action, task,
        arguments as JSON), marked as taken."""
        db.execute("BEGIN IMMEDIATE")
        try:
            if not self._owned(db):
                db.execute("ROLLBACK")
                return []
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
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return [(row[0], row[1], row[2], row[3], row[4]) for row in rows]

    def _owned(self, db: Any) -> bool:
        """True while the session is the engine's this writer serves (else :attr:`lost`
        turns True); called inside each transaction, so an adoption cannot come between."""
        row = db.execute(
            "SELECT owner_pid, owner_host FROM sessions WHERE id = ?", (self.session_id,)
        ).fetchone()
        self.lost = self.lost or row is None or (row[0], row[1]) != self.owner
        return not self.lost

    @property
    def _dirty(self) -> bool:
        return bool(self._latest or self._starts or self._ends or self._exits)

    def _note_states(
        self, names: list[str], numbers: list[int | None], times: list[float], datas: list[Any]
    ) -> None:
        """Fold a batch's ``task_state`` events into the counts and the snapshot's rows
        (C-level iteration: this runs for every event of the session).

        The rows hold only plain values, not the events, which keeps the writer's heap
        small between snapshots.
        """
        sid = repeat(self.session_id)
        budgets = self._budgets
        if any(map(contains, datas, _BUDGET_KEY)):  # only after the user's retries
            carry = list(map(contains, datas, _BUDGET_KEY))
            carried = map(_BUDGET, compress(datas, carry))
            budgets.update(zip(compress(names, carry), carried, strict=True))
        entered = list(map(_STATE, datas))
        self._entered.update(entered)
        self._left.update(map(_PREVIOUS, datas))
        # A task's row is its last event's: build rows for those only.
        last = dict(zip(names, range(len(names)), strict=True))
        if 1 < len(last) < len(names):
            pick = itemgetter(*last.values())
            columns = [list(last), pick(entered), pick(numbers), pick(datas), pick(times)]
        else:
            columns = [names, entered, numbers, datas, times]
        task_names, task_states, task_numbers, task_datas, task_times = columns
        rows = zip(
            sid,
            task_names,
            task_states,
            task_numbers,
            map(_HELD, task_datas),
            map(_REASON, task_datas),
            map(budgets.get, task_names),
            task_times,
            map(self._positions.get, task_names),
            strict=False,  # `sid` repeats without end
        )
        self._latest.update(zip(task_names, rows, strict=False))
        starts = list(map(contains, datas, repeat("log")))
        ends = list(map(contains, datas, repeat("outcome")))
        # A start clears the task's exit code and an end sets it (None from a start's data).
        either = list(map(or_, starts, ends))
        exits = map(_EXIT, compress(datas, either))
        self._exits.update(zip(compress(names, either), zip(exits, repeat(1)), strict=True))
        for key, into, flags in (("log", self._starts, starts), ("outcome", self._ends, ends)):
            if not any(flags):
                continue
            chosen = list(compress(datas, flags))
            tasks = list(compress(names, flags))
            attempts = list(compress(numbers, flags))
            at = compress(times, flags)
            if key == "log":
                rows = zip(
                    sid,
                    tasks,
                    attempts,
                    map(_STARTED, chosen),
                    at,
                    map(_PID, chosen),
                    map(_LOG, chosen),
                    map(_WORKER, chosen),
                    strict=False,
                )
            else:
                rows = zip(
                    sid,
                    tasks,
                    attempts,
                    map(_OUTCOME, chosen),
                    at,
                    map(_EXIT, chosen),
                    map(_ATTEMPT_REASON, chosen),
                    strict=False,
                )
            into.update(zip(zip(tasks, attempts, strict=True), rows, strict=True))

    def _write(
        self,
        db: Any,
        chunks: list[tuple[Any, ...]],
        flat: list[Any],
        heartbeat: float | None,
        closing: bool,
    ) -> None:
        """Commit one batch: the event chunks' rows, the session row, and, at most every
        :data:`SNAPSHOT_INTERVAL`, the task and attempt snapshots (readers replay the chunks
        logged after)."""
        sid = self.session_id
        samples = []
        commands = []
        status: str | None = None
        started_at = ended_at = None
        reopened: tuple[float, float | None] | None = None
        kinds = flat[3::_FIELDS]
        # task, attempt, time and data of each event
        columns: tuple[list[Any], ...] = (
            flat[4::_FIELDS],
            flat[5::_FIELDS],
            flat[1::_FIELDS],
            flat[6::_FIELDS],
        )
        others: list[Event] = []
        if kinds.count(_TASK_STATE) != len(kinds):
            flags = [kind is _TASK_STATE for kind in kinds]
            columns = tuple(list(compress(column, flags)) for column in columns)
            others = [
                _new_event(flat[index * _FIELDS : (index + 1) * _FIELDS])
                for index, chosen in enumerate(flags)
                if not chosen
            ]
        if columns[0]:
            self._note_states(*columns)
        for event in others:
            kind = event.kind
            if kind is EventKind.RESOURCE_SAMPLE:
                samples.append((sid, event.at, _encode(event.data)))
            elif kind is EventKind.COMMAND and "command_id" in event.data:
                commands.append((event.data.get("outcome", ""), event.data["command_id"]))
            elif kind in _SESSION_STATUS:
                status = _SESSION_STATUS[kind]
                if kind is EventKind.SESSION_STARTED:
                    started_at = event.at
                elif kind is EventKind.SESSION_RESUMED and event.data.get("reopened"):
                    # A retry reopened the ended session: its active span until it ended
                    # (maybe in this very batch) is kept, and a new one starts now.
                    reopened = (event.at, ended_at)
                    ended_at = None
            elif kind is EventKind.SESSION_FINISHED:
                status = event.data["status"]
                ended_at = event.at
        now = time.monotonic()
        snapshot = self._dirty and (now >= self._next_snapshot or status is not None or closing)
        db.execute("BEGIN IMMEDIATE")
        try:
            if not self._owned(db):
                db.execute("ROLLBACK")
                return
            if chunks:
                db.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", chunks)
                self._logged_seq = flat[-_FIELDS]
            if snapshot:
                self._write_snapshot(db)
            if samples:
                db.executemany("INSERT INTO samples VALUES (?, ?, ?)", samples)
            if commands:
                db.executemany("UPDATE commands SET outcome = ? WHERE id = ?", commands)
            last_seq = flat[-_FIELDS] if flat else None
            self._write_session(
                db, last_seq, status, started_at, ended_at, heartbeat, snapshot, reopened
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if snapshot:
            self._latest, self._starts, self._ends, self._exits = {}, {}, {}, {}
            self._budgets = {}
            self._next_snapshot = now + SNAPSHOT_INTERVAL

    def _write_snapshot(self, db: Any) -> None:
        """Upsert the tasks and attempts changed since the last snapshot (sqlite3 binds the
        rows in C): the attempts first, as a task's row copies its latest attempt's timing."""
        starts, ends = self._starts, self._ends
        both = list(starts.keys() & ends.keys())
        if both:
            # An attempt that started and ended since the last snapshot: one row, not two.
            db.executemany(
                _UPSERT_ATTEMPTS,
                map(add, map(starts.pop, both), map(_END_TAIL, map(ends.pop, both))),
            )
        if starts:
            db.executemany(_UPSERT_STARTS, starts.values())
        if ends:
            db.executemany(_UPSERT_ENDS, ends.values())
        # Every task with an exit code to write has a row here: the same event made both.
        latest = self._latest
        if latest:
            exits = map(self._exits.get, latest, repeat(_NO_EXIT))
            db.executemany(_UPSERT_TASKS, map(add, latest.values(), exits))

    def _write_session(
        self,
        db: Any,
        last_seq: int | None,
        status: str | None,
        started_at: float | None,
        ended_at: float | None,
        heartbeat: float | None,
        snapshot: bool,
        reopened: tuple[float, float | None] | None = None,
    ) -> None:
        assignments = []
        values: list[Any] = []
        if reopened is not None:
            # Before ``ended_at`` is cleared below: SQLite reads every old value first.
            at, ended_in_batch = reopened
            assignments += [
                "active_s = active_s + COALESCE(MAX(0.0, COALESCE(?, ended_at, ?) "
                "- COALESCE(active_since, started_at)), 0.0)",
                "active_since = ?",
            ]
            values += [ended_in_batch, at, at]
        if snapshot:
            assignments.append("snapshot_seq = ?")
            values.append(self._logged_seq)
        if last_seq is not None:
            assignments += ["last_seq = ?", "counts = ?"]
            entered, left = self._entered, self._left
            states = self._initial.keys() | entered.keys()
            counts = {
                state: self._initial[state] + entered[state] - left[state] for state in states
            }
            values += [last_seq, _encode({s: n for s, n in counts.items() if n})]
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
