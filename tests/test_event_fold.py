"""Property test: every fold of ``task_state`` events into task and attempt rows agrees with
the reference fold (:mod:`formicary.store.fold`).

Random but valid sessions of a few tasks are played as the scheduler plays them (attempts
starting and ending with random outcomes, exit codes, pids, workers and reasons; holds and
releases; the user's retries, which set ``budget_from``; blocks, cancels and skips; pauses,
output, samples and command outcomes between), every payload built by the real
constructors of :mod:`formicary.run.event_data` and published on a real
:class:`~formicary.run.events.EventBus`. The events then go through:

(a) the reference fold, :func:`formicary.store.fold.replay` from pending rows;
(b) the store writer's fast path: the bus's sink, the codec and the writer's messages into a
    real :class:`~formicary.store.writer.StoreWriter` (the code the writer process runs),
    committing random batches with snapshots at random points, read back as the tables it
    wrote (with the task rows' latest-attempt columns and the session's counts);
(c) the store's replay (:class:`~formicary.store.database.Store` reading the snapshot plus
    the events after it, mid-run; then from no snapshot at all, and after ``compact``);
(d) the stored summaries (``task_summaries``, timed and not: spliced mid-run, as SQLite
    stores them after the writer's last snapshot, and after ``compact``);
(e) the dashboard's :class:`~formicary.tui.state.SessionView`.

Each must give the same task rows and attempt rows (each as much as it keeps). Event times
come from a clock of exact binary fractions, so the floats survive SQLite's and JSON's text
unchanged and are compared exactly.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import types
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import formicary.run.events
import pytest
from formicary.model.records import ResourceUsage
from formicary.model.specs import TaskSpec, WorkflowSpec
from formicary.model.states import AttemptOutcome, SessionStatus, TaskStatus, final_session_status
from formicary.run import event_data
from formicary.run.events import Event, EventBus, EventKind
from formicary.run.resources import TreeSample
from formicary.store import fold
from formicary.store.codec import encode_fields
from formicary.store.database import Store, this_host
from formicary.store.records import AttemptRecord
from formicary.store.schema import connect
from formicary.store.writer import StoreWriter
from formicary.store.writer_protocol import Close, Events, Open, encode
from formicary.tui.state import SessionView
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

S = TaskStatus
TASKS = ("a", "b", "c", "d")
RETRIES = {"a": 1, "b": 0, "c": 1, "d": 0}
"""Each task's retries: failures then end in ``retrying`` or ``failed`` at once."""
T0 = 1_700_000_000.0
NOW = T0 + 10_000.0
"""The ``now`` summaries are read at (for a running attempt's duration)."""

OUTCOMES = (
    AttemptOutcome.FAILED,
    AttemptOutcome.SUCCEEDED,
    AttemptOutcome.TIMED_OUT,
    AttemptOutcome.CANCELLED,
    AttemptOutcome.LOST,
    "skip",
)
REASONS = ("", "exited with code 3", "timed out after 1s", "could not run: OSError: x")
NOISE = ("pause", "resume", "output", "sample", "command")

Step = tuple[int, int, Any, int | None, int | None, str | None, int, bool, int]
"""task index, choice among the actions its state allows, outcome, exit code, pid, worker,
reason index, started_at given, and what to do with the writer after the step (0: nothing,
1: cut a chunk, 2: cut and commit, 3: cut and commit with a snapshot)."""

step = st.tuples(
    st.integers(0, len(TASKS) - 1),
    st.integers(0, 11),
    st.sampled_from(OUTCOMES),
    st.one_of(st.none(), st.integers(-1, 3)),
    st.one_of(st.none(), st.integers(1, 99_999)),
    st.sampled_from((None, None, "tcp://w1", "tcp://w2")),
    st.integers(0, len(REASONS) - 1),
    st.booleans(),
    st.integers(0, 3),
)


@st.composite
def steps(draw: st.DrawFn) -> list[Step]:
    """A session's steps (their number drawn first: lists drawn step by step stay short)."""
    return [draw(step) for _ in range(draw(st.integers(1, 80)))]


@dataclass
class Sim:
    """One task as the scheduler keeps it (what decides the next event's payload)."""

    state: TaskStatus = S.PENDING
    attempts: int = 0
    running: bool = False
    held: bool = False
    budget_from: int = 0


@dataclass
class Session:
    """A session played on a real bus: its events, and the writer's batches as cut."""

    bus: EventBus
    sid: str
    events: list[Event] = field(default_factory=list)
    pending: list[Any] = field(default_factory=list)
    """The sink's fields, seven per event, as a persister gathers them."""
    tasks: dict[str, Sim] = field(default_factory=lambda: {name: Sim() for name in TASKS})
    paused: bool = False

    def state(self, name: str, state: TaskStatus, reason: str = "", **extra: Any) -> None:
        """What the scheduler's ``_set_state`` publishes (nothing when nothing changes)."""
        sim = self.tasks[name]
        ended = extra.get("ended")
        if sim.state is state and not ended:
            return
        previous, sim.state = sim.state, state
        data = event_data.task_state(
            state,
            previous,
            reason=reason,
            held=sim.held,
            budget_from=sim.budget_from if state is not S.RUNNING else 0,
            ended=ended,
        )
        attempt = extra.get("attempt")
        self.bus.publish(
            self.sid,
            EventKind.TASK_STATE,
            name,
            attempt if attempt is not None else (sim.attempts or None),
            data,
        )

    def make_ready(self, name: str, **extra: Any) -> None:
        if self.tasks[name].held:
            self.state(name, S.PAUSED, "held by the user", **extra)
        else:
            self.state(name, S.READY, **extra)


def allowed(sim: Sim) -> list[str]:
    """What may happen to a task in its state (as the scheduler and its control calls allow),
    and once in every list something else in the session."""
    if sim.running:
        found = ["end", "end", "release" if sim.held else "hold"]
    else:
        found = {
            S.PENDING: ["ready", "ready", "ready", "hold", "block", "cancel", "skip"],
            S.READY: ["start", "start", "start", "hold", "block", "cancel", "skip"],
            S.PAUSED: ["release", "release", "block", "cancel", "skip"],
            S.RETRYING: ["retry_due", "retry_due", "hold", "cancel", "skip"],
            S.FAILED: ["retry", "retry", "retry", "skip"],
            S.CANCELLED: ["retry", "retry", "retry", "skip"],
            S.BLOCKED: ["unblock", "retry", "cancel", "skip"],
        }.get(sim.state, [])
    return [*found, "noise"]


def play(session: Session, step: Step) -> None:
    """Apply one step: one of the things the task's state allows."""
    index, choice, outcome, code, pid, worker, reason_index, started, _ = step
    name = TASKS[index]
    sim = session.tasks[name]
    bus, sid = session.bus, session.sid
    reason = REASONS[reason_index]
    options = allowed(sim)
    action = options[choice % len(options)]
    if action == "ready":
        session.make_ready(name)
    elif action == "start":
        sim.attempts += 1
        sim.running = True
        previous, sim.state = sim.state, S.RUNNING
        data = event_data.attempt_started(
            previous,
            f"/logs/{sid}/{name}.{sim.attempts}.log",
            pid,
            worker=worker,
            held=sim.held,
            started_at=T0 - 0.5 * sim.attempts if started else None,
        )
        bus.publish(sid, EventKind.TASK_STATE, name, sim.attempts, data)
    elif action == "end":
        sim.running = False
        if outcome == "skip":
            ended = event_data.attempt_ended(AttemptOutcome.CANCELLED, None, "skipped")
            session.state(name, S.SKIPPED, "skipped by the user", ended=ended)
            return
        ended = event_data.attempt_ended(outcome, code, reason)
        number = sim.attempts
        if outcome is AttemptOutcome.SUCCEEDED:
            session.state(name, S.COMPLETED, attempt=number, ended=ended)
        elif outcome is AttemptOutcome.CANCELLED:
            session.state(name, S.CANCELLED, reason or "cancelled", attempt=number, ended=ended)
        elif sim.attempts - sim.budget_from <= RETRIES[name]:
            session.state(name, S.RETRYING, f"{reason}; retry in 0.1s", attempt=number, ended=ended)
        else:
            session.state(name, S.FAILED, reason, attempt=number, ended=ended)
    elif action == "hold":
        sim.held = True
        session.state(name, S.PAUSED, "held by the user")
    elif action == "release":
        sim.held = False
        if sim.running:
            session.state(name, S.RUNNING, "released by the user")
        elif reason_index % 2:
            session.make_ready(name)
        else:
            session.state(name, S.PENDING, "released by the user")
    elif action == "retry":
        sim.budget_from = sim.attempts
        if reason_index % 2:
            session.make_ready(name)
        else:
            session.state(name, S.PAUSED if sim.held else S.PENDING, "retried by the user")
    elif action == "block":
        session.state(name, S.BLOCKED, "upstream task x failed")
    elif action == "unblock":
        session.state(name, S.PAUSED if sim.held else S.PENDING, "upstream retried")
    elif action == "retry_due":
        session.make_ready(name)
    elif action == "cancel":
        session.state(name, S.CANCELLED, "cancelled by the user")
    elif action == "skip":
        session.state(name, S.SKIPPED, "skipped by the user")
    else:
        noise(session, NOISE[(choice + reason_index) % len(NOISE)], name, sim, code)


def noise(session: Session, kind: str, name: str, sim: Sim, code: int | None) -> None:
    """Publish an event of another kind (which no fold of task rows may take for one)."""
    bus, sid = session.bus, session.sid
    if kind == "pause" and not session.paused:
        session.paused = True
        data = event_data.session_paused(stop_processes=bool(code))
        bus.publish(sid, EventKind.SESSION_PAUSED, data=data)
    elif kind in ("pause", "resume") and session.paused:
        session.paused = False
        bus.publish(sid, EventKind.SESSION_RESUMED, data=event_data.session_resumed())
    elif kind == "output" and sim.attempts:
        bus.publish(sid, EventKind.OUTPUT, name, sim.attempts, event_data.output(["x"]))
    elif kind == "sample":
        samples = {(name, sim.attempts): TreeSample(12.5, 4096, 2)} if sim.running else {}
        totals = ResourceUsage(at=T0, booked={"cpu": 1}, capacity={"cpu": 2}, cpu_percent=3.0)
        bus.publish(
            sid, EventKind.RESOURCE_SAMPLE, data=event_data.resource_sample(samples, totals)
        )
    else:
        data = event_data.command_done(TASKS.index(name) + 1, "hold", "ok" if code else "no")
        bus.publish(sid, EventKind.COMMAND, name, data=data)


# -- what each fold gives, in one shape ------------------------------------------------------

TaskRows = dict[str, tuple[str, int, int, bool, str]]
AttemptRows = dict[tuple[str, int], tuple[Any, ...]]


def task_rows(rows: Any) -> TaskRows:
    """Task rows (records or tuples) by name, plain: state as text, held as a bool."""
    return {
        row[0]: (str(row[1]), int(row[2]), int(row[3]), bool(row[4]), str(row[5])) for row in rows
    }


def attempt_rows(rows: Any) -> AttemptRows:
    """Attempt rows by task and number."""
    return {(row[0], row[1]): tuple(row[2:]) for row in rows}


def latest_of(tasks: TaskRows, attempts: AttemptRows) -> dict[str, AttemptRecord]:
    """Each task's latest attempt as the store defines it: the row numbered as its attempts
    (blank when there is none)."""
    latest = {}
    for name, (_, number, _, _, _) in tasks.items():
        row = attempts.get((name, number))
        latest[name] = (
            fold.blank_attempt(name, number) if row is None else AttemptRecord(name, number, *row)
        )
    return latest


def summaries(tasks: TaskRows, attempts: AttemptRows, timing: bool) -> list[dict[str, Any]]:
    """The summaries ``task_summaries`` should give for these rows."""
    result = []
    for name, latest in latest_of(tasks, attempts).items():
        state, number, _, held, reason = tasks[name]
        summary: dict[str, Any] = {
            "name": name,
            "state": state,
            "attempts": number,
            "exit_code": latest.exit_code,
            "reason": reason,
            "held": held,
        }
        if timing:
            started, ended = latest.started_at, latest.ended_at
            end = NOW if ended is None else ended
            summary |= {
                "started_at": started,
                "ended_at": ended,
                "duration_s": None if started is None else round(end - started, 3),
                "worker": latest.worker,
            }
        result.append(summary)
    return result


def counts_of(tasks: TaskRows) -> dict[str, int]:
    return dict(Counter(state for state, *_ in tasks.values()))


def view_rows(view: SessionView) -> tuple[TaskRows, dict[str, tuple[Any, ...]]]:
    """What the dashboard keeps of each task (budget_from it does not: 0) and of its latest
    attempt."""
    tasks = {
        name: (row.state.value, row.attempt, 0, row.held, row.reason)
        for name, row in view.tasks.items()
    }
    latest = {
        name: (row.started_at, row.ended_at, row.exit_code, row.log_path, row.worker)
        for name, row in view.tasks.items()
    }
    return tasks, latest


def shown_latest(latest: dict[str, AttemptRecord]) -> dict[str, tuple[Any, ...]]:
    return {
        name: (a.started_at, a.ended_at, a.exit_code, a.log_path, a.worker)
        for name, a in latest.items()
    }


# -- the store -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    """One workspace for every example (each plays a session of its own)."""
    root = Path(tempfile.mkdtemp(prefix="formicary-fold-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


class Writer:
    """The store writer process's code, run in this process: a real
    :class:`~formicary.store.writer.StoreWriter` on its own connection, fed the messages a
    persister sends (its answers go to /dev/null)."""

    def __init__(self, path: Path, sid: int) -> None:
        self.sid = sid
        self.out = os.open(os.devnull, os.O_WRONLY)
        self.db = connect(path)
        self.writer = StoreWriter(self.db, self.out, os.getppid())
        self.outbox: list[Any] = []
        self.handle([encode(Open(sid, list(TASKS), ["pending"] * len(TASKS), os.getpid(), host()))])

    def handle(self, wires: list[Any], snapshot: bool | None = None) -> None:
        """Hand ``wires`` over as one read from the pipe; ``snapshot`` forces (True) or holds
        back (False) the snapshot of that commit (a session status event forces one anyway)."""
        session_writer = self.writer.writers.get(self.sid)
        if session_writer is not None and snapshot is not None:
            session_writer._next_snapshot = 0.0 if snapshot else math.inf
        self.writer.handle(wires)

    def cut(self, pending: list[Any]) -> None:
        """Send what the sink gathered as one chunk (as :meth:`Persister._send_batch`)."""
        if pending:
            self.outbox.append(encode(Events(self.sid, encode_fields(pending[:]))))
            pending.clear()

    def commit(self, snapshot: bool) -> bool:
        """Hand over the chunks cut so far as one read (a commit); False when there were
        none (nothing is committed then)."""
        wires, self.outbox = self.outbox, []
        self.handle(wires, snapshot)
        return bool(wires)

    def close(self) -> None:
        self.handle([encode(Close(self.sid))])
        self.db.close()
        os.close(self.out)


_host: list[str] = []


def host() -> str:
    if not _host:
        _host.append(this_host())
    return _host[0]


def stored_tables(store: Store, sid: int) -> tuple[TaskRows, AttemptRows, dict[str, Any]]:
    """The tables as the writer wrote them (no replay), pending tasks without a row as pending;
    and the task rows' latest-attempt columns (exit code, start, end, worker)."""
    with store.transaction() as db:
        tasks = db.execute(
            "SELECT name, state, attempts, budget_from, held, reason, exit_code, started_at, "
            "ended_at, worker FROM tasks WHERE session_id = ?",
            (sid,),
        ).fetchall()
        attempts = db.execute(
            "SELECT task, number, outcome, started_at, ended_at, exit_code, reason, worker, "
            "pid, log_path FROM attempts WHERE session_id = ?",
            (sid,),
        ).fetchall()
    rows = {name: fold.pending_row(name) for name in TASKS}
    rows.update({row[0]: tuple(row[:6]) for row in tasks})
    columns = {row[0]: tuple(row[6:]) for row in tasks}
    return task_rows(rows.values()), attempt_rows(attempts), columns


def reference(events: list[Event]) -> tuple[TaskRows, AttemptRows, dict[str, AttemptRecord]]:
    """(a) The reference fold of ``events`` from pending rows: the task rows, the attempt
    rows and each task's latest attempt."""
    tasks: dict[str, Any] = {name: fold.pending_row(name) for name in TASKS}
    attempts: dict[tuple[str, int], Any] = {}
    fold.replay(events, tasks, attempts)
    task_map, attempt_map = task_rows(tasks.values()), attempt_rows(attempts.values())
    return task_map, attempt_map, latest_of(task_map, attempt_map)


def check_written(store: Store, sid: int, expected: tuple[TaskRows, AttemptRows]) -> None:
    """(b) The writer's snapshot (no replay) is the reference fold: its task and attempt
    rows, the task rows' latest-attempt columns, and the session's counts by state."""
    tasks, attempts = expected
    written_tasks, written_attempts, columns = stored_tables(store, sid)
    assert written_tasks == tasks
    assert written_attempts == attempts
    latest = latest_of(tasks, attempts)
    for name, row in columns.items():
        attempt = latest[name]
        assert row == (attempt.exit_code, attempt.started_at, attempt.ended_at, attempt.worker)
    counts = store.session(sid).counts
    assert {state: n for state, n in counts.items() if n} == counts_of(tasks)


def clock() -> types.SimpleNamespace:
    """A stand-in for the bus's ``time`` module: every event an eighth of a second after the
    last (exact in binary, so every text of it reads back the same float)."""
    ticks = iter(range(1, 1_000_000))
    return types.SimpleNamespace(time=lambda: T0 + next(ticks) / 8)


# -- the property ----------------------------------------------------------------------------


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps(), st.booleans())
# Found by this test: the writer's snapshot lost a retry's budget_from when the task's last
# event before it (its ``running`` state) did not repeat it.
@example(
    played=[
        (0, 0, AttemptOutcome.SUCCEEDED, None, None, None, 0, False, 0),  # ready
        (0, 0, AttemptOutcome.SUCCEEDED, None, 5, None, 0, False, 0),  # start
        (0, 0, AttemptOutcome.CANCELLED, None, None, None, 0, False, 0),  # end: cancelled
        (0, 0, AttemptOutcome.CANCELLED, None, None, None, 1, False, 0),  # retry: ready
        (0, 0, AttemptOutcome.CANCELLED, None, 6, None, 1, False, 3),  # start, snapshot
    ],
    final_snapshot=True,
)
# The dashboard kept a task's last reason when a failed state came without one (it showed
# "held by the user" on a failed task, where the store says "").
@example(
    played=[
        (1, 0, AttemptOutcome.SUCCEEDED, None, None, None, 0, False, 0),  # ready
        (1, 0, AttemptOutcome.SUCCEEDED, None, 5, None, 0, False, 0),  # start
        (1, 2, AttemptOutcome.SUCCEEDED, None, None, None, 0, False, 0),  # hold
        (1, 0, AttemptOutcome.FAILED, 1, None, None, 0, False, 0),  # end: failed, no reason
    ],
    final_snapshot=False,
)
def test_every_fold_agrees_with_the_reference_fold(
    workspace: Path, played: list[Step], final_snapshot: bool
) -> None:
    store = Store.for_workspace(workspace)
    sid = store.create_session(
        project="p",
        workflow="w",
        params={},
        definition="{}",
        project_root=str(workspace),
        tasks=TASKS,
        max_parallel=None,
    )
    bus = EventBus()
    session = Session(bus, str(sid))
    bus.set_sink(session.sid, session.pending.extend)
    bus.add_listener(session.events.append)
    writer = Writer(store.path, sid)
    try:
        with mock.patch.object(formicary.run.events, "time", clock()):
            bus.publish(
                session.sid,
                EventKind.SESSION_STARTED,
                data=event_data.session_started("p", "w", {}, list(TASKS), 4),
            )
            for step in played:
                play(session, step)
                then = step[-1]
                if then:
                    writer.cut(session.pending)
                if then >= 2 and writer.commit(snapshot=then == 3) and then == 3:
                    # That commit's snapshot covers every event so far.
                    check_written(store, sid, reference(session.events)[:2])
            if all(sim.state.is_final for sim in session.tasks.values()):
                counts = Counter(sim.state for sim in session.tasks.values())
                status = final_session_status(counts)
                data = event_data.session_finished(status, counts)
                bus.publish(session.sid, EventKind.SESSION_FINISHED, data=data)
        writer.cut(session.pending)
        writer.commit(snapshot=final_snapshot)
        events = session.events

        # (a) the reference fold, from pending rows
        tasks, attempts, latest = reference(events)

        # (c) the store's replay: the writer's last snapshot and the events logged after it
        mid_tasks, mid_attempts = store.tasks_and_attempts(sid)
        assert task_rows(mid_tasks) == tasks
        assert attempt_rows(mid_attempts) == attempts
        assert task_rows(store.tasks(sid)) == tasks
        assert attempt_rows(store.attempts(sid)) == attempts
        # (d) the summaries, the snapshot's texts spliced with the replayed tasks'
        for timing in (False, True):
            assert store.task_summaries(sid, timing=timing, now=NOW) == summaries(
                tasks, attempts, timing
            )

        # (b) the writer's own fold: its last snapshot, at the close, covers every event
        writer.close()
        writer = None
        assert store.session(sid).last_seq == max(event.seq for event in events)
        check_written(store, sid, (tasks, attempts))
        # (d) the summaries SQLite stores beside the writer's rows
        for timing in (False, True):
            assert store.task_summaries(sid, timing=timing, now=NOW) == summaries(
                tasks, attempts, timing
            )

        # (c) the store's replay alone: no snapshot at all
        with store.transaction() as db:
            db.execute("DELETE FROM tasks WHERE session_id = ?", (sid,))
            db.execute("DELETE FROM attempts WHERE session_id = ?", (sid,))
            db.execute("UPDATE sessions SET snapshot_seq = 0 WHERE id = ?", (sid,))
        replayed_tasks, replayed_attempts = store.tasks_and_attempts(sid)
        assert task_rows(replayed_tasks) == tasks
        assert attempt_rows(replayed_attempts) == attempts
        # (d) every summary replayed from pending
        for timing in (False, True):
            assert store.task_summaries(sid, timing=timing, now=NOW) == summaries(
                tasks, attempts, timing
            )
        # compact writes the replay as the snapshot (what an adopter starts from)
        compacted_tasks, compacted_attempts = store.compact(sid)
        assert task_rows(compacted_tasks) == tasks
        assert attempt_rows(compacted_attempts) == attempts
        assert stored_tables(store, sid)[:2] == (tasks, attempts)
        for timing in (False, True):
            assert store.task_summaries(sid, timing=timing, now=NOW) == summaries(
                tasks, attempts, timing
            )

        # (e) the dashboard, fed the same events (output too) in batches
        specs = {name: TaskSpec(name=name, run="true") for name in TASKS}
        spec = WorkflowSpec(name="w", tasks=specs)
        view = SessionView(session.sid, "p", spec, status=SessionStatus.CREATED)
        for start in range(0, len(events), 5):
            view.apply(events[start : start + 5])
        shown_tasks, shown = view_rows(view)
        assert shown_tasks == {
            name: (state, number, 0, held, reason)
            for name, (state, number, _, held, reason) in tasks.items()
        }
        assert shown == shown_latest(latest)
        assert {state.value: n for state, n in view.counts.items() if n} == counts_of(tasks)
    finally:
        if writer is not None:
            writer.close()
        store.close()
