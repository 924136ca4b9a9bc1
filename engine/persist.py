"""Persisting a session: its events go to the store from a writer thread, in batches.

The engine's side costs one ``list.extend`` per event (the bus's sink for the session). The
writer thread commits every 50 ms, and sooner when events come faster than 500 per 50 ms
(it sizes its sleep to the rate, so a commit carries about 500), and derives every table
(events, tasks, attempts, samples, the session row) from the events alone. The same thread
beats the session's heartbeat every second and picks up control commands queued by other
processes (every 0.2 s), handing them to the event loop.

The writer shares the GIL with the engine, so its per-event work is what persisting costs:
events are pickled as plain tuples (:mod:`engine.event_codec`), and the bookkeeping for the
task and attempt snapshots is done with C-level ``map``/``zip`` over each batch and bound to
SQL upserts the same way, so no Python line runs per event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from itertools import compress, repeat
from operator import add, attrgetter, contains, itemgetter, methodcaller
from pathlib import Path
from typing import Any

from engine.event_codec import encode_fields
from engine.events import Event, EventBus, EventKind
from engine.schema import connect
from engine.store import HEARTBEAT_INTERVAL, Command

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.05
FLUSH_EVENTS = 500
MIN_SLEEP = 0.002
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
_TASK_STATE = EventKind.TASK_STATE
_FIELDS = len(Event._fields)
_new_event = partial(tuple.__new__, Event)
_KIND = attrgetter("kind")
_TASK = attrgetter("task")
_ATTEMPT = attrgetter("attempt")
_AT = attrgetter("at")
_DATA = attrgetter("data")
_STATE = itemgetter("state")
_PREVIOUS = itemgetter("previous")
_HELD = methodcaller("get", "held")
_REASON = methodcaller("get", "reason")
_BUDGET = methodcaller("get", "budget_from")
_STARTED = methodcaller("get", "started_at")
_PID = methodcaller("get", "pid")
_LOG = methodcaller("get", "log")
_WORKER = methodcaller("get", "worker")
_OUTCOME = methodcaller("get", "outcome")
_EXIT = methodcaller("get", "exit_code")
_ATTEMPT_REASON = methodcaller("get", "attempt_reason")

# The snapshot upserts mirror engine.store.apply_task_event / apply_attempt_event, which
# readers use to replay the events logged after a snapshot.
_UPSERT_TASKS = (
    "INSERT INTO tasks (session_id, name, state, attempts, held, reason, budget_from, "
    "updated_at, position) VALUES (?1, ?2, ?3, COALESCE(?4, 0), COALESCE(?5, 0), "
    "COALESCE(?6, ''), COALESCE(?7, 0), ?8, COALESCE(?9, 0)) "
    "ON CONFLICT (session_id, name) DO UPDATE SET state = excluded.state, "
    "attempts = MAX(attempts, excluded.attempts), held = excluded.held, "
    "reason = excluded.reason, budget_from = COALESCE(?7, budget_from), "
    "updated_at = excluded.updated_at"
)
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


class Persister:
    """Writes one session to the store and relays commands queued for it.

    Args:
        path: The state.db file.
        session_id: The session's id in the store.
        bus: The bus the session publishes on.
        tasks: The session's task states when persisting starts (name → state), in
            definition order.
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
        self._pending: list[Any] = []  # events' fields, seven per event
        self._positions = {name: index for index, name in enumerate(tasks)}
        # The snapshot's dirty rows, as the upserts below take them.
        self._latest: dict[str, tuple[Any, ...]] = {}
        self._starts: dict[tuple[str, int], tuple[Any, ...]] = {}
        self._ends: dict[tuple[str, int], tuple[Any, ...]] = {}
        self._next_snapshot = 0.0
        self._logged_seq = 0
        self._wake = threading.Event()
        self._stopping = False
        self._flushed = threading.Condition()
        self._written_seq = 0
        self._initial: Counter[str] = Counter(map(str, tasks.values()))
        self._entered: Counter[str] = Counter()
        self._left: Counter[str] = Counter()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name=f"formicary-store-{session_id}")
        self.errors = 0
        # The sink spreads each event's fields into the list (one C call): the event tuple
        # itself dies at once, as it does without persistence, and only its data waits for
        # the writer. Objects that wait long enough are promoted to the garbage collector's
        # oldest generation, and each full collection then sweeps the engine's whole heap.
        bus.set_sink(self._sid, self._pending.extend)
        self._thread.start()

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
        self._bus.set_sink(self._sid, None)
        self._stopping = True
        self._wake.set()
        await asyncio.to_thread(self._thread.join, 30)

    # -- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        db = connect(self.path)
        next_beat = 0.0
        next_commands = 0.0
        sleep = FLUSH_INTERVAL
        taken = time.monotonic()
        try:
            while True:
                self._wake.wait(sleep)
                self._wake.clear()
                pending = self._pending
                count = len(pending)
                flat = pending[:count]
                # The engine only appends, so the first `count` are exactly what was copied.
                del pending[:count]
                now_mono = time.monotonic()
                rate = count / _FIELDS / max(now_mono - taken, 1e-3)
                taken = now_mono
                sleep = max(MIN_SLEEP, min(FLUSH_INTERVAL, FLUSH_EVENTS / rate if rate else 1.0))
                now = time.time()
                beat = now >= next_beat
                closing = self._stopping and self._dirty
                if flat or beat or closing:
                    try:
                        self._write(db, flat, now if beat else None)
                    except Exception:
                        self.errors += 1
                        log.exception("could not persist %d events", count // _FIELDS)
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

    @property
    def _dirty(self) -> bool:
        return bool(self._latest or self._starts or self._ends)

    def _note_states(
        self, names: list[str], numbers: list[int | None], times: list[float], datas: list[Any]
    ) -> None:
        """Fold a batch's ``task_state`` events into the counts and the snapshot's rows
        (C-level iteration: this runs for every event of the session).

        The rows hold only plain values, not the events: tuples of plain values leave the
        garbage collector's books at its first look, while events kept for up to a second
        were promoted to its oldest generation and made it sweep the engine's whole heap.
        """
        sid = repeat(self.session_id)
        entered = list(map(str, map(_STATE, datas)))
        self._entered.update(entered)
        self._left.update(map(str, map(_PREVIOUS, datas)))
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
            map(_BUDGET, task_datas),
            task_times,
            map(self._positions.get, task_names),
            strict=False,  # `sid` repeats without end
        )
        self._latest.update(zip(task_names, rows, strict=False))
        for key, into in (("log", self._starts), ("outcome", self._ends)):
            flags = list(map(contains, datas, repeat(key)))
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
                    map(str, map(_OUTCOME, chosen)),
                    at,
                    map(_EXIT, chosen),
                    map(_ATTEMPT_REASON, chosen),
                    strict=False,
                )
            into.update(zip(zip(tasks, attempts, strict=True), rows, strict=True))

    def _write(self, db: Any, flat: list[Any], heartbeat: float | None) -> None:
        """Commit one batch (the events' fields, seven per event): the events as one chunk
        row, the session row, and, at most once a second, the task and attempt snapshots
        (readers replay the chunks logged after)."""
        sid = self.session_id
        samples = []
        commands = []
        status: str | None = None
        started_at = ended_at = None
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
            elif kind is EventKind.SESSION_FINISHED:
                status = event.data["status"]
                ended_at = event.at
        now = time.monotonic()
        snapshot = self._dirty and (
            now >= self._next_snapshot or status is not None or self._stopping
        )
        db.execute("BEGIN IMMEDIATE")
        try:
            if flat:
                db.execute(
                    "INSERT INTO events VALUES (?, ?, ?, ?)",
                    (sid, flat[0], flat[-_FIELDS], encode_fields(flat)),
                )
                self._logged_seq = flat[-_FIELDS]
            if snapshot:
                self._write_snapshot(db)
            if samples:
                db.executemany("INSERT INTO samples VALUES (?, ?, ?)", samples)
            if commands:
                db.executemany("UPDATE commands SET outcome = ? WHERE id = ?", commands)
            last_seq = flat[-_FIELDS] if flat else None
            self._write_session(db, last_seq, status, started_at, ended_at, heartbeat, snapshot)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if snapshot:
            self._latest, self._starts, self._ends = {}, {}, {}
            self._next_snapshot = now + SNAPSHOT_INTERVAL
        if flat:
            with self._flushed:
                self._written_seq = flat[-_FIELDS]
                self._flushed.notify_all()

    def _write_snapshot(self, db: Any) -> None:
        """Upsert the tasks and attempts changed since the last snapshot (sqlite3 binds the
        rows in C)."""
        if self._latest:
            db.executemany(_UPSERT_TASKS, self._latest.values())
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

    def _write_session(
        self,
        db: Any,
        last_seq: int | None,
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
