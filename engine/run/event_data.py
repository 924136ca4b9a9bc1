"""What each kind of event carries: one :class:`~typing.TypedDict` per kind of
:class:`~formicary.run.events.Event`, the functions that build them, and the readers that
tell what a ``task_state`` event says about its attempt.

This module owns the keys of ``Event.data``. Producers (the scheduler, its control calls, the
API's command outcome) build every payload with the functions here, so each key is written
in one place and mypy checks each one against its kind (see
:meth:`~formicary.run.events.EventBus.publish`); readers (the store's fold and summaries, the
writer's snapshots, the dashboard) look at the same names.

Payloads stay plain dicts at run time: a ``TypedDict`` is a type for mypy and a ``dict`` to
Python, so the store's codec pickles them as it always did, the stored format does not
change, and building one costs no more than the dict literal it replaces plus a call. Their
values are plain too: states and outcomes as their text, never enum members (events read
back from the store hold text, and a dict of plain values is not tracked by the garbage
collector, which matters while a persisted session keeps each event until its batch goes).

Imports only the standard library and :mod:`formicary.model` (the run layer's rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from formicary.model.states import AttemptOutcome, SessionStatus, TaskStatus

if TYPE_CHECKING:
    from formicary.model.records import ResourceUsage
    from formicary.run.resources import TreeSample

PLAIN: dict[TaskStatus | AttemptOutcome, str] = {
    member: member.value for kind in (TaskStatus, AttemptOutcome) for member in kind
}
"""Each task state and attempt outcome as its text (a dict lookup: cheaper than ``.value``,
a property, on the scheduler's path)."""


# -- task_state ----------------------------------------------------------------------------


class AttemptEnd(TypedDict):
    """How an attempt ended: rides on the ``task_state`` event of the state that follows it
    (whose time is the attempt's end)."""

    outcome: str
    """An :class:`~formicary.model.states.AttemptOutcome`'s text."""
    exit_code: int | None
    attempt_reason: NotRequired[str]
    """Why it ended so (absent when there is nothing to say)."""


class TaskState(TypedDict):
    """The payload of a ``task_state`` event: a task changed state (or stayed in it while
    its attempt changed).

    The state's event also carries what the change is about, so an attempt costs no event of
    its own: its start (``log``, ``pid``, maybe ``worker``) on the ``running`` state, whose
    time is the attempt's start, and its end (:class:`AttemptEnd`'s keys) on the state that
    follows. See :func:`starts_attempt` and :func:`ends_attempt`.
    """

    state: str
    """The :class:`~formicary.model.states.TaskStatus`'s text the task is now in."""
    previous: str
    """The state it left (the same one when only its attempt changed)."""
    reason: NotRequired[str]
    """Why the task is in this state; absent when there is nothing to say (readers take
    that as "")."""
    held: NotRequired[bool]
    """Present (and True) while the user holds the task."""
    budget_from: NotRequired[int]
    """Attempts made before the user's last retry (its retry budget counts from there);
    present once that is not 0, except on a ``running`` state."""
    log: NotRequired[str]
    """Start of an attempt: its log file."""
    pid: NotRequired[int | None]
    """Start of an attempt: its process (None for work without one of its own)."""
    worker: NotRequired[str]
    """Start of an attempt: the Dask worker it runs on (absent for a local one)."""
    started_at: NotRequired[float]
    """Start of an attempt, when not the event's time. Written by earlier versions on every
    start (their logs are still replayed); :func:`attempt_started` writes it only if given."""
    outcome: NotRequired[str]
    """End of an attempt: see :class:`AttemptEnd`."""
    exit_code: NotRequired[int | None]
    """End of an attempt: see :class:`AttemptEnd`."""
    attempt_reason: NotRequired[str]
    """End of an attempt: see :class:`AttemptEnd`."""


def task_state(
    state: TaskStatus,
    previous: TaskStatus,
    *,
    reason: str = "",
    held: bool = False,
    budget_from: int = 0,
    ended: AttemptEnd | None = None,
) -> TaskState:
    """A ``task_state`` payload.

    Args:
        state: The state the task is now in.
        previous: The state it left.
        reason: Why (nothing is written for "").
        held: Whether the user holds the task.
        budget_from: Attempts made before the user's last retry (nothing is written for 0).
        ended: The attempt that ended with this change (see :func:`attempt_ended`).

    Returns:
        The payload; keys in the order events have always had them.
    """
    data: TaskState = {"state": PLAIN[state], "previous": PLAIN[previous]}
    if reason:
        data["reason"] = reason
    if ended:
        data["outcome"] = ended["outcome"]
        data["exit_code"] = ended["exit_code"]
        if "attempt_reason" in ended:
            data["attempt_reason"] = ended["attempt_reason"]
    if held:
        data["held"] = True
    if budget_from:
        data["budget_from"] = budget_from
    return data


def attempt_started(
    previous: TaskStatus,
    log: str,
    pid: int | None,
    *,
    worker: str | None = None,
    held: bool = False,
    started_at: float | None = None,
) -> TaskState:
    """The ``task_state`` payload of an attempt's start: the task is ``running``.

    Args:
        previous: The state the task left (``ready``, as a rule).
        log: The attempt's log file.
        pid: Its process, if it has one of its own.
        worker: The Dask worker it runs on (None: a local one, and nothing is written).
        held: Whether the user holds the task.
        started_at: When it started, if not at the event's time (None: nothing is written).
    """
    data: TaskState = {"state": "running", "previous": PLAIN[previous], "log": log, "pid": pid}
    if worker is not None:
        data["worker"] = worker
    if started_at is not None:
        data["started_at"] = started_at
    if held:
        data["held"] = True
    return data


def attempt_ended(outcome: AttemptOutcome, exit_code: int | None, reason: str = "") -> AttemptEnd:
    """How an attempt ended, to ride on the next ``task_state`` (``task_state(...,
    ended=...)``).

    Args:
        outcome: How it ended.
        exit_code: Its process's exit code, if it has one.
        reason: Why it ended so (nothing is written for "").
    """
    data: AttemptEnd = {"outcome": PLAIN[outcome], "exit_code": exit_code}
    if reason:
        data["attempt_reason"] = reason
    return data


def starts_attempt(data: Mapping[str, Any]) -> bool:
    """True when a ``task_state`` payload starts an attempt (its ``running`` state)."""
    return "log" in data


def ends_attempt(data: Mapping[str, Any]) -> bool:
    """True when a ``task_state`` payload ends an attempt."""
    return "outcome" in data


def changes_attempt(data: Mapping[str, Any]) -> bool:
    """True when a ``task_state`` payload starts or ends an attempt."""
    return "log" in data or "outcome" in data


# -- the other kinds -----------------------------------------------------------------------


class Output(TypedDict):
    """The payload of an ``output`` event: lines an attempt wrote (its log has them too)."""

    lines: list[str]


def output(lines: list[str]) -> Output:
    """An ``output`` payload."""
    return {"lines": lines}


class TaskSample(TypedDict):
    """Measured use of one attempt's process tree."""

    cpu: float
    rss: int
    processes: int


class ResourceSample(TypedDict):
    """The payload of a ``resource_sample`` event: use by attempt and in total."""

    tasks: dict[str, TaskSample]
    """By attempt, as ``"task.number"``."""
    cpu: float
    rss: int | None
    system_cpu: float | None
    system_memory: float | None
    booked: Mapping[str, int]
    capacity: Mapping[str, int]


def resource_sample(
    samples: Mapping[tuple[str, int], TreeSample], totals: ResourceUsage
) -> ResourceSample:
    """A ``resource_sample`` payload from the samples of the running attempts (by task and
    number) and the totals."""
    return {
        "tasks": {
            f"{name}.{number}": {
                "cpu": round(sample.cpu_percent, 1),
                "rss": sample.rss_bytes,
                "processes": sample.processes,
            }
            for (name, number), sample in samples.items()
        },
        "cpu": round(totals.cpu_percent or 0.0, 1),
        "rss": totals.rss_bytes,
        "system_cpu": totals.system_cpu_percent,
        "system_memory": totals.system_memory_percent,
        "booked": totals.booked,
        "capacity": totals.capacity,
    }


class CommandDone(TypedDict):
    """The payload of a ``command`` event: the outcome of a control call another process
    queued (the store's writer records it on the queued row)."""

    command_id: int
    action: str
    outcome: str
    """``"ok"`` or ``"error: ..."``."""


def command_done(command_id: int, action: str, outcome: str) -> CommandDone:
    """A ``command`` payload."""
    return {"command_id": command_id, "action": action, "outcome": outcome}


class SessionStarted(TypedDict):
    """The payload of ``session_started``."""

    project: str
    workflow: str
    params: dict[str, Any]
    tasks: list[str]
    max_parallel: int


def session_started(
    project: str, workflow: str, params: Mapping[str, Any], tasks: list[str], max_parallel: int
) -> SessionStarted:
    """A ``session_started`` payload."""
    return {
        "project": project,
        "workflow": workflow,
        "params": dict(params),
        "tasks": tasks,
        "max_parallel": max_parallel,
    }


class SessionPaused(TypedDict):
    """The payload of ``session_paused``: one key or the other."""

    stop_processes: NotRequired[bool]
    """A pause by the user: whether running processes were stopped (SIGSTOP)."""
    adopted: NotRequired[bool]
    """An adopted session that was paused is paused again."""


def session_paused(*, stop_processes: bool = False, adopted: bool = False) -> SessionPaused:
    """A ``session_paused`` payload: the user's pause (``stop_processes``), or an adopted
    session's (``adopted``)."""
    if adopted:
        return {"adopted": True}
    return {"stop_processes": stop_processes}


class SessionResumed(TypedDict):
    """The payload of ``session_resumed``: empty for the user's resume."""

    adopted: NotRequired[bool]
    """Another process took the session over (with its ``pid``)."""
    pid: NotRequired[int]
    reopened: NotRequired[bool]
    """A manual action on an ended session started it again."""


def session_resumed(*, adopted_by: int | None = None, reopened: bool = False) -> SessionResumed:
    """A ``session_resumed`` payload: the user's resume (no argument), an adoption by the
    process ``adopted_by``, or a reopening of an ended session (``reopened``)."""
    if adopted_by is not None:
        return {"adopted": True, "pid": adopted_by}
    if reopened:
        return {"reopened": True}
    return {}


class SessionFinished(TypedDict):
    """The payload of ``session_finished``."""

    status: str
    """The final :class:`~formicary.model.states.SessionStatus`'s text."""
    counts: dict[str, int]
    """Tasks by state (the states' text)."""
    reason: NotRequired[str]
    """Why, when the session was cancelled."""


def session_finished(
    status: SessionStatus, counts: Mapping[TaskStatus, int], reason: str | None = None
) -> SessionFinished:
    """A ``session_finished`` payload (``reason``: None writes none)."""
    data: SessionFinished = {
        "status": status.value,
        "counts": {state.value: count for state, count in counts.items()},
    }
    if reason is not None:
        data["reason"] = reason
    return data


EventData = (
    TaskState
    | Output
    | ResourceSample
    | CommandDone
    | SessionStarted
    | SessionPaused
    | SessionResumed
    | SessionFinished
)
"""Every payload an event may carry (which one goes with which kind:
:meth:`~formicary.run.events.EventBus.publish`)."""


def as_task_state(data: Mapping[str, Any]) -> TaskState:
    """A ``task_state`` event's data, typed as what it is (no check at run time: the caller
    has looked at the event's kind)."""
    return data  # type: ignore[return-value]
