"""The reference fold of task and attempt events into the rows the store keeps: what the
store's replay applies to the events logged after the last snapshot (the writer's snapshot
upserts in :mod:`formicary.store.session_writer` mirror it).

Imports only the standard library, :mod:`formicary.store.codec`, :mod:`formicary.run.events` and
:mod:`formicary.store.records`; :mod:`formicary.store.database` uses it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import partial
from operator import itemgetter
from typing import Any

from formicary.run.events import Event, EventKind
from formicary.store.codec import decode_events
from formicary.store.records import AttemptRecord, TaskRecord

TASK_KEYS = ("name", "state", "attempts", "budget_from", "held", "reason")
ATTEMPT_KEYS = (
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
EXIT_CODE = ATTEMPT_KEYS.index("exit_code")
# An attempt row's start, end and worker, as a task's row keeps its latest attempt's.
TIMING = itemgetter(*map(ATTEMPT_KEYS.index, ("started_at", "ended_at", "worker")))
NO_ATTEMPT = (None, None, None)


def decoded(rows: Sequence[sqlite3.Row], session: str, after: int) -> list[Event]:
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


def pending_row(name: str) -> tuple[Any, ...]:
    return (name, "pending", 0, 0, 0, "")


def as_tuple(row: Any, keys: tuple[str, ...]) -> tuple[Any, ...]:
    if type(row) is tuple:
        return row  # type: ignore[no-any-return]
    return tuple(map(row.__getitem__, keys))


_new_attempt = partial(tuple.__new__, AttemptRecord)


def attempt_record(row: Any) -> AttemptRecord:
    return _new_attempt(row) if type(row) is tuple else AttemptRecord(**row)


def task_record(task: Any) -> TaskRecord:
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
