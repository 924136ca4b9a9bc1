"""The reference fold: how ``task_state`` events change a task's row, its attempts' rows and
its latest attempt. This is the one written rule; every other fold of these events calls it
or is pinned to it:

* the store's replay (:meth:`formicary.store.database.Store.tasks`, ``attempts``,
  ``compact``: the snapshot tables brought up to date) runs :func:`replay`;
* the stored summaries' replay (:func:`formicary.store.summaries.splice`) and the dashboard's
  :class:`formicary.tui.state.SessionView` call :func:`fold_task` and :func:`fold_latest`;
* the store writer's snapshot upserts (:mod:`formicary.store.session_writer`) apply the same
  rule with C-level maps and SQL, for speed; ``tests/test_event_fold.py`` checks, on random
  sessions, that they and everything above agree with this module.

The rule, by the keys of :class:`~formicary.run.event_data.TaskState`: a task takes the
event's ``state``, ``held`` and ``reason`` ("" when absent), its ``budget_from`` when present,
and the highest attempt number seen. An attempt's row takes its start (the event's time, or
``started_at``; ``pid``, ``log``, ``worker``) and its end (``outcome``, the event's time,
``exit_code``, ``attempt_reason``). A task's latest attempt is the one numbered as its
attempts: a higher number starts a blank one, an older attempt's event leaves it as it is.

Rows are :class:`~formicary.store.records.TaskRecord` and
:class:`~formicary.store.records.AttemptRecord` (the rows SQLite returns are plain tuples of
the same fields, and go in as they are). Imports only the standard library,
:mod:`formicary.run` and the store's codec and records; :mod:`formicary.store.database` uses it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from functools import partial
from operator import itemgetter
from typing import Any

from formicary.run.event_data import as_task_state
from formicary.run.events import Event, EventKind
from formicary.store.codec import decode_events
from formicary.store.records import AttemptRecord, TaskRecord

TASK_KEYS = TaskRecord._fields
ATTEMPT_KEYS = AttemptRecord._fields
EXIT_CODE = ATTEMPT_KEYS.index("exit_code")
# An attempt row's start, end and worker, as a task's row keeps its latest attempt's.
TIMING = itemgetter(*map(ATTEMPT_KEYS.index, ("started_at", "ended_at", "worker")))
NO_ATTEMPT = (None, None, None)
_TASK_STATE = EventKind.TASK_STATE
_new_task = partial(tuple.__new__, TaskRecord)
_new_attempt = partial(tuple.__new__, AttemptRecord)


def decoded(rows: Sequence[sqlite3.Row], session: str, after: int) -> list[Event]:
    """The events of stored chunks with ``seq > after``."""
    events = [event for row in rows for event in decode_events(row[0], session)]
    if events and events[0].seq <= after:
        events = [event for event in events if event.seq > after]
    return events


def fold_task(task: tuple[Any, ...], event: Event) -> TaskRecord:
    """A task's row after one of its ``task_state`` events.

    Args:
        task: The row before, with :class:`TaskRecord`'s fields in their order (a record or
            the plain tuple SQLite returns).
        event: A ``task_state`` event of that task.
    """
    data = as_task_state(event.data)
    number = event.attempt or 0
    budget = data.get("budget_from")
    return _new_task(
        (
            task[0],
            data["state"],
            number if number > task[2] else task[2],
            task[3] if budget is None else budget,
            bool(data.get("held")),
            data.get("reason") or "",
        )
    )


def blank_attempt(task: str, number: int) -> AttemptRecord:
    """An attempt's row before anything is known of it."""
    return _new_attempt((task, number, None, None, None, None, "", None, None, None))


def attempt_change(event: Event) -> bool:
    """True when ``event`` starts or ends an attempt (a ``task_state`` carrying its details)."""
    return event.kind is _TASK_STATE and ("outcome" in event.data or "log" in event.data)


def fold_attempt(record: tuple[Any, ...], event: Event) -> AttemptRecord:
    """An attempt's row after the ``task_state`` event that started or ended it.

    Args:
        record: The row before, with :class:`AttemptRecord`'s fields in their order.
        event: An event for which :func:`attempt_change` is true.
    """
    data = as_task_state(event.data)
    task, number, outcome, started_at, ended_at, exit_code, reason, worker, pid, log_path = record
    if "log" in data:
        started_at = data.get("started_at", event.at)
        pid = data.get("pid", pid)
        log_path = data.get("log", log_path)
        worker = data.get("worker", worker)
    if "outcome" in data:
        outcome = data["outcome"]
        ended_at = event.at
        exit_code = data.get("exit_code")
        reason = data.get("attempt_reason", "")
    return _new_attempt(
        (task, number, outcome, started_at, ended_at, exit_code, reason, worker, pid, log_path)
    )


def fold_latest(latest: AttemptRecord, event: Event) -> AttemptRecord:
    """A task's latest attempt after one of its ``task_state`` events: what a task's row and
    summary show of it (exit code, start, end, worker, log).

    The attempt's row as :func:`fold_attempt` keeps it, with one thing a row never needs: a
    start begins from a blank attempt. A store's row of a starting attempt is always new, but
    a view seeded from a running engine may hold the attempt's number with the one before's
    end (it is dispatched before its start is announced).

    Args:
        latest: The attempt numbered as the task's attempts before the event (a
            :func:`blank_attempt` when it has made none).
        event: A ``task_state`` event of the task.
    """
    number = event.attempt or 0
    if number < latest.number:
        return latest
    data = event.data
    if "log" in data:
        return fold_attempt(blank_attempt(latest.task, number), event)
    if number > latest.number:
        latest = blank_attempt(latest.task, number)
    if "outcome" in data:
        return fold_attempt(latest, event)
    return latest


def replay(
    events: Iterable[Event],
    tasks: dict[str, Any],
    attempts: dict[tuple[str, int], Any] | None,
) -> tuple[set[str], set[tuple[str, int]], bool]:
    """Fold ``events`` into the rows, in place: every ``task_state`` event into its task's
    row (a task not in ``tasks`` gets none) and, unless ``attempts`` is None, into the row
    of the attempt it starts or ends (created blank when missing).

    Args:
        events: A session's events, in order (other kinds are skipped).
        tasks: Task rows by name (records or plain tuples; changed ones become records).
        attempts: Attempt rows by task and number, or None to leave attempts out.

    Returns:
        The names of the tasks changed, the keys of the attempts changed, and whether an
        attempt row was added (``attempts`` is then no longer in key order).
    """
    changed_tasks: set[str] = set()
    changed_attempts: set[tuple[str, int]] = set()
    added = False
    for event in events:
        if event.kind is not _TASK_STATE:
            continue
        name = event.task or ""
        task = tasks.get(name)
        if task is not None:
            tasks[name] = fold_task(task, event)
            changed_tasks.add(name)
        if attempts is not None and ("outcome" in event.data or "log" in event.data):
            key = (name, event.attempt or 0)
            record = attempts.get(key)
            if record is None:
                record = blank_attempt(*key)
                added = True
            attempts[key] = fold_attempt(record, event)
            changed_attempts.add(key)
    return changed_tasks, changed_attempts, added


def pending_row(name: str) -> tuple[Any, ...]:
    """The row of a task that has not left ``pending`` (the store may have none for it)."""
    return (name, "pending", 0, 0, 0, "")


def attempt_record(row: tuple[Any, ...]) -> AttemptRecord:
    """An attempt's row as a record."""
    return row if type(row) is AttemptRecord else _new_attempt(row)


def task_record(task: tuple[Any, ...]) -> TaskRecord:
    """A task's row as a record (``held`` a bool: SQLite returns 0 or 1)."""
    if type(task) is TaskRecord:
        return task
    return TaskRecord(task[0], task[1], task[2], task[3], bool(task[4]), task[5])
