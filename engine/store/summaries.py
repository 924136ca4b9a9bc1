"""The ``status --json`` task summaries: the SQL that reads them ready-made from the stored
column (schema v7, with the latest attempt's timing on the task row) and the Python twins that
write the same text for tasks whose events came after the last snapshot, brought up to date
by the reference fold (:func:`formicary.store.fold.fold_task` and
:func:`~formicary.store.fold.fold_latest`).

Imports only the standard library, :mod:`formicary.run.events` and the store's fold and
records; :mod:`formicary.store.database` uses it.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from formicary.run.events import Event
from formicary.store.fold import fold_latest, fold_task
from formicary.store.records import AttemptRecord, TaskRecord

# A task's summary as stored (schema version 7): with its latest attempt's timing, all but
# a running attempt's (started, not ended) duration, stored as ``"duration_s":null``: its
# duration up to ?2 ("now") goes in there, as SQLite would have written it. Few tasks run at
# once, so a poll of a finished session only reads texts.
_TIMED_SUMMARY = (
    "CASE WHEN t.ended_at IS NULL AND t.started_at IS NOT NULL THEN replace(t.summary, "
    "'\"duration_s\":null', '\"duration_s\":' || json_quote(round(?2 - t.started_at, 3))) "
    "ELSE t.summary END"
)
# Without the timing, which starts at ``,"started_at":`` (a key's quotes are never inside a
# JSON string, which escapes them).
_SUMMARY_ONLY = "substr(t.summary, 1, instr(t.summary, ',\"started_at\":') - 1) || '}'"
_PENDING = (
    "json_object('name', j.value, 'state', 'pending', 'attempts', 0, 'exit_code', NULL, "
    "'reason', '', 'held', json('false'){timing})"
)
_PENDING_TIMING = ", 'started_at', NULL, 'ended_at', NULL, 'duration_s', NULL, 'worker', NULL"
# Every listed task's summary in definition order, joined by commas: the tasks come from
# the session's list (json_each, in its order) and each one's row by its primary key, so
# the texts are concatenated in that order (nothing here sorts or groups).
_FROM_LIST = (
    "FROM sessions s, json_each(s.task_names) j LEFT JOIN tasks t ON t.session_id = ?1 "
    "AND t.name = j.value WHERE s.id = ?1"
)
_ARRAY_OF = "SELECT group_concat(COALESCE({summary}, {pending}), ',') " + _FROM_LIST
# The same, but a task named in ?3 (a JSON array) stands as its name between two _MARKs,
# and each of those tasks' summaries.
_MARKED_OF = (
    "SELECT group_concat(CASE WHEN j.value IN (SELECT value FROM json_each(?3)) "
    "THEN char(1) || j.value || char(1) ELSE COALESCE({summary}, {pending}) END, ',') " + _FROM_LIST
)
_LATEST_OF = (
    "SELECT j.value, COALESCE({summary}, {pending}) FROM json_each(?3) j LEFT JOIN tasks t "
    "ON t.session_id = ?1 AND t.name = j.value"
)
MARK = "\x01"
_TIMED_PARTS = {"summary": _TIMED_SUMMARY, "pending": _PENDING.format(timing=_PENDING_TIMING)}
_PARTS = {"summary": _SUMMARY_ONLY, "pending": _PENDING.format(timing="")}
TIMED_ARRAY = _ARRAY_OF.format(**_TIMED_PARTS)
ARRAY = _ARRAY_OF.format(**_PARTS)
TIMED_MARKED = _MARKED_OF.format(**_TIMED_PARTS)
MARKED = _MARKED_OF.format(**_PARTS)
TIMED_LATEST = _LATEST_OF.format(**_TIMED_PARTS)
LATEST = _LATEST_OF.format(**_PARTS)
# Sessions from before version 3 have a row for every task.
TIMED_SUMMARIES_IN_ORDER = (
    f"SELECT t.name, {_TIMED_SUMMARY} FROM tasks t WHERE t.session_id = ?1 ORDER BY t.position"
)
SUMMARIES_IN_ORDER = (
    f"SELECT t.name, {_SUMMARY_ONLY} FROM tasks t WHERE t.session_id = ?1 ORDER BY t.position"
)
_SUMMARY = '{{"name":{},"state":{},"attempts":{},"exit_code":{},"reason":{},"held":{}}}'
_quote = json.encoder.encode_basestring


def replayed_summary(summary: dict[str, Any], events: list[Event], timing: bool) -> None:
    """Bring a summary (as :func:`summary_text` or :func:`timed_summary_text` read it)
    up to date with its task's later ``task_state`` events, by the reference fold: the task's
    fields by :func:`~formicary.store.fold.fold_task`, the exit code (and with ``timing`` the
    start, end and worker) of its latest attempt by :func:`~formicary.store.fold.fold_latest`.
    """
    name, attempts = summary["name"], summary["attempts"]
    task = TaskRecord(name, summary["state"], attempts, 0, summary["held"], summary["reason"])
    latest = AttemptRecord(
        name,
        attempts,
        None,
        summary.get("started_at"),
        summary.get("ended_at"),
        summary["exit_code"],
        "",
        summary.get("worker"),
        None,
        None,
    )
    for event in events:
        task = fold_task(task, event)
        latest = fold_latest(latest, event)
    summary["state"] = task.state
    summary["attempts"] = task.attempts
    summary["exit_code"] = latest.exit_code
    summary["reason"] = task.reason
    summary["held"] = task.held
    if timing:
        summary["started_at"] = latest.started_at
        summary["ended_at"] = latest.ended_at
        summary["worker"] = latest.worker


def timed_summary_text(summary: dict[str, Any], now: float) -> str:
    """A timed summary as SQLite writes it (see :data:`_TIMED_SUMMARY`)."""
    started, ended, worker = summary["started_at"], summary["ended_at"], summary["worker"]
    duration = None if started is None else round((now if ended is None else ended) - started, 3)
    return summary_text(summary)[:-1] + (
        f',"started_at":{json.dumps(started)},"ended_at":{json.dumps(ended)},'
        f'"duration_s":{json.dumps(duration)},"worker":{json.dumps(worker)}}}'
    )


def summary_text(summary: dict[str, Any]) -> str:
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


def splice(joined: str, later: list[Event], texts: dict[str, str], timing: bool, now: float) -> str:
    """The JSON array of summaries: ``joined`` (SQLite's texts, with the names of the tasks
    that have events after the snapshot between two :data:`MARK`) with those tasks' summaries
    replayed from ``texts`` through the ``later`` events and written in their places."""
    if not later:
        return f"[{joined}]"
    by_task: dict[str, list[Event]] = {}
    for event in later:
        name = event.task
        if name is not None and name in texts:
            by_task.setdefault(name, []).append(event)
    replayed: dict[str, dict[str, Any]] = {}
    for name, events in by_task.items():
        summary = replayed[name] = json.loads(texts[name])
        replayed_summary(summary, events, timing)
    text = partial(timed_summary_text, now=now) if timing else summary_text
    parts = joined.split(MARK)
    parts[1::2] = [text(replayed[name]) for name in parts[1::2]]
    return "[" + "".join(parts) + "]"
