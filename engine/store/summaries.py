"""The ``status --json`` task summaries: the SQL that reads them ready-made from the stored
column (schema v7, with the latest attempt's timing on the task row) and the Python twins that
write the same text for tasks whose events came after the last snapshot.

Imports only the standard library and :mod:`formicary.run.events`; :mod:`formicary.store.database`
uses it.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from formicary.run.events import Event

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
_quote = json.encoder.encode_basestring  # type: ignore[attr-defined]


def replay_timing(summary: dict[str, Any], event: Event) -> None:
    """Bring a timed summary's attempt fields up to date with one of the task's state
    events (called before the event raises the summary's ``attempts``): what
    :func:`apply_attempt_event` does to the row of the task's latest attempt."""
    number = event.attempt or 0
    if number < summary["attempts"]:
        return
    data = event.data
    if number > summary["attempts"]:  # a new attempt: the last one's times are not its own
        summary["started_at"] = summary["ended_at"] = summary["worker"] = None
    if "log" in data:
        summary["started_at"] = data.get("started_at", event.at)
        summary["worker"] = data.get("worker", summary["worker"])
    if "outcome" in data:
        summary["ended_at"] = event.at


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
    replayed: dict[str, dict[str, Any]] = {}
    for event in later:
        name = event.task
        if name not in texts:
            continue
        summary = replayed.get(name)
        if summary is None:
            summary = replayed[name] = json.loads(texts[name])
        data = event.data
        if timing:
            replay_timing(summary, event)
        summary["state"] = data["state"]
        summary["attempts"] = max(summary["attempts"], event.attempt or 0)
        if "log" in data:
            summary["exit_code"] = None
        if "outcome" in data:
            summary["exit_code"] = data.get("exit_code")
        summary["reason"] = data.get("reason") or ""
        summary["held"] = bool(data.get("held"))
    text = partial(timed_summary_text, now=now) if timing else summary_text
    parts = joined.split(MARK)
    parts[1::2] = [text(replayed[name]) for name in parts[1::2]]
    return "[" + "".join(parts) + "]"
