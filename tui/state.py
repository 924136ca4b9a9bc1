"""What the dashboard knows about one session, kept current from engine events.

A :class:`SessionView` is built once from a snapshot (the engine's, for a session this
process runs; the store's, for one run elsewhere) and then updated by batches of events.
Each batch returns :class:`Changes`, so every widget repaints only what changed.

A task's row follows its ``task_state`` events by the store's reference fold
(:func:`formicary.store.fold.fold_task` and :func:`~formicary.store.fold.fold_latest`), so
the dashboard shows what ``formicary status`` reports; states are
:class:`~formicary.model.states.TaskStatus` and
:class:`~formicary.model.states.SessionStatus` members.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from formicary.model.durations import active_span
from formicary.model.specs import WorkflowSpec
from formicary.model.states import (
    BLOCKABLE_TASK_STATES,
    FINAL_SESSION_STATES,
    SessionStatus,
    TaskStatus,
)
from formicary.run.event_data import ends_attempt
from formicary.run.events import Event, EventKind
from formicary.store.fold import fold_latest, fold_task
from formicary.store.records import AttemptRecord
from formicary.tui.glyphs import GLYPHS

SAMPLES_KEPT = 120

SHOWN_LABELS = {"stopped": "⏸ stopped", "unknown": "? unknown"}
"""Labels of what a task is shown as, when not its recorded state (see ``TaskRow.shown``)."""

ENGINE_STOPPED = "unknown (engine stopped)"


@dataclass(slots=True)
class TaskRow:
    """One task as the dashboard shows it."""

    name: str
    state: TaskStatus = TaskStatus.PENDING
    priority: str = "normal"
    attempt: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    reason: str = ""
    held: bool = False
    resources: Mapping[str, int] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    log_path: str | None = None
    worker: str | None = None
    cpu: float | None = None
    rss: int | None = None
    shown: str = ""
    """What the dashboard knows better than the task's last recorded state: ``"stopped"``
    (its processes are SIGSTOPped by a pause) or ``"unknown"`` (its engine died while it ran);
    "" shows the state."""

    @property
    def label(self) -> str:
        """The state as every pane shows it: glyph and word."""
        if self.shown:
            return SHOWN_LABELS[self.shown]
        return f"{GLYPHS[self.state]} {self.state.value}"

    @property
    def took(self) -> float | None:
        """Seconds of the latest attempt (so far, while it runs)."""
        if self.started_at is None:
            return None
        end = self.ended_at if self.ended_at is not None else time.time()
        return max(0.0, end - self.started_at)


@dataclass(slots=True)
class Sample:
    """One resource sample: measured use of running tasks and of the whole machine."""

    at: float
    cpu: float
    rss: int
    system_cpu: float
    system_memory: float


@dataclass(slots=True)
class Changes:
    """What one batch of events changed."""

    tasks: set[str] = field(default_factory=set)
    status: bool = False
    samples: bool = False
    failed: list[str] = field(default_factory=list)
    """Tasks that became failed in this batch (for notifications)."""
    ended: str = ""
    """The session's final status when this batch ended it ("" otherwise)."""
    output: list[tuple[str, int, list[str], float]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.tasks or self.status or self.samples or self.output)


class SessionView:
    """The dashboard's model of one session."""

    def __init__(
        self,
        session_id: str,
        project: str,
        workflow: WorkflowSpec,
        *,
        status: SessionStatus | str = SessionStatus.RUNNING,
        started_at: float | None = None,
        ended_at: float | None = None,
        capacity: Mapping[str, int] | None = None,
        embedded: bool = True,
    ) -> None:
        self.session_id = session_id
        self.project = project
        self.workflow = workflow
        self.status: SessionStatus | str = _session_status(status)
        """The session's status (a text only for what is no session yet: a preview's
        "not started")."""
        self.started_at = started_at
        self.ended_at = ended_at
        self.embedded = embedded
        self.capacity: dict[str, int] = dict(capacity or {})
        self.booked: dict[str, int] = dict.fromkeys(self.capacity, 0)
        self.tasks: dict[str, TaskRow] = {
            name: TaskRow(
                name,
                priority=spec.priority.value,
                resources=dict(spec.resources),
                depends_on=spec.depends_on,
            )
            for name, spec in workflow.tasks.items()
        }
        self.counts: Counter[TaskStatus] = Counter({TaskStatus.PENDING: len(self.tasks)})
        self.samples: deque[Sample] = deque(maxlen=SAMPLES_KEPT)
        self.last_seq = 0
        self.dropped = 0
        self._stopped = False
        """The session is paused with its processes stopped (SIGSTOP)."""
        self.active_before = 0.0
        """Seconds of earlier spans of activity (before a reopening or an adoption)."""
        self.active_since: float | None = None
        """When the current span of activity began (None: at ``started_at``)."""

    def active_seconds(self, now: float | None = None) -> float | None:
        """How long the session has been active (None before it started): the time an
        engine ran it, not the idle time before a reopening or an adoption."""
        return active_span(
            self.started_at, self.ended_at, self.active_before, self.active_since, now
        )

    @property
    def finished(self) -> bool:
        """True once the session has ended (it may be reopened by a retry)."""
        return self.status in FINAL_SESSION_STATES

    def set_task(self, name: str, **values: Any) -> None:
        """Set fields of a task from a snapshot, keeping the counts right."""
        row = self.tasks[name]
        state = values.get("state")
        if state is not None and state is not row.state:
            self.counts[row.state] -= 1
            self.counts[state] += 1
        for key, value in values.items():
            setattr(row, key, value)

    def apply(self, events: Iterable[Event]) -> Changes:
        """Update from events (in order); return what changed."""
        changes = Changes()
        for event in events:
            if event.seq:
                if event.seq <= self.last_seq:
                    continue
                self.last_seq = event.seq
            kind = event.kind
            if kind is EventKind.TASK_STATE:
                self._task_state(event, changes)
            elif kind is EventKind.OUTPUT:
                changes.output.append(
                    (event.task or "", event.attempt or 0, event.data["lines"], event.at)
                )
            elif kind is EventKind.RESOURCE_SAMPLE:
                self._sample(event, changes)
            elif kind in _SESSION_STATUS:
                self.status = _SESSION_STATUS[kind]
                if kind is EventKind.SESSION_STARTED and self.started_at is None:
                    self.started_at = event.at
                if kind is EventKind.SESSION_RESUMED:
                    if self.ended_at is not None:  # reopened or adopted: the gap is not time
                        self.active_before = self.active_seconds(self.ended_at) or 0.0
                        self.active_since = event.at
                    self.ended_at = None
                    self._stopped = False
                    self._show_running_as("", changes)
                elif kind is EventKind.SESSION_PAUSED and event.data.get("stop_processes"):
                    self._stopped = True
                    self._show_running_as("stopped", changes)
                changes.status = True
            elif kind is EventKind.SESSION_FINISHED:
                self.status = changes.ended = SessionStatus(event.data["status"])
                self.ended_at = event.at
                self.release_bookings()
                self._stopped = False
                self._show_running_as("", changes)
                changes.status = True
        return changes

    def mark_orphaned(self, since: float | None) -> Changes:
        """The session's engine died (``since``: its last heartbeat): its running tasks are
        of unknown state now, and no clock keeps counting."""
        changes = Changes(status=True)
        self.status = SessionStatus.ORPHANED
        self.ended_at = since or time.time()
        self.release_bookings()
        for row in self.tasks.values():
            if row.state is TaskStatus.RUNNING and row.shown != "unknown":
                row.shown = "unknown"
                row.reason = ENGINE_STOPPED
                if row.ended_at is None:
                    row.ended_at = self.ended_at
                row.cpu = row.rss = None
                changes.tasks.add(row.name)
        return changes

    def mark_alive(self, status: SessionStatus | str) -> Changes:
        """Undo :meth:`mark_orphaned`: the engine beats again, so its running tasks are
        running and their clocks go on."""
        changes = Changes(status=True)
        self.status = _session_status(status)
        self.ended_at = None
        for row in self.tasks.values():
            if row.shown == "unknown":
                row.shown = ""
                row.reason = ""
                row.ended_at = None
                changes.tasks.add(row.name)
        return changes

    def _show_running_as(self, shown: str, changes: Changes) -> None:
        """Show every running task as ``shown`` ("" for its state)."""
        for row in self.tasks.values():
            if row.state is TaskStatus.RUNNING and row.shown != shown:
                row.shown = shown
                changes.tasks.add(row.name)

    def release_bookings(self) -> None:
        """Book nothing in any pool: a session that ended, or whose engine died, holds no
        units (bookings arrive with the samples, and its last sample was taken mid-run)."""
        self.booked = dict.fromkeys(self.capacity, 0)

    def _task_state(self, event: Event, changes: Changes) -> None:
        """Fold one ``task_state`` event into its task's row, by the store's reference fold:
        the task's state, attempts, held and reason, and its latest attempt's start, end, exit
        code, log and worker."""
        row = self.tasks.get(event.task or "")
        if row is None:
            return
        task = fold_task((row.name, row.state, row.attempt, 0, row.held, row.reason), event)
        latest = fold_latest(
            AttemptRecord(
                row.name,
                row.attempt,
                None,
                row.started_at,
                row.ended_at,
                row.exit_code,
                "",
                row.worker,
                None,
                row.log_path,
            ),
            event,
        )
        state = _TASK_STATES[task.state]
        if row.shown and (state is not TaskStatus.RUNNING or row.shown == "unknown"):
            row.shown = ""
        elif state is TaskStatus.RUNNING and self.status == SessionStatus.PAUSED and self._stopped:
            row.shown = "stopped"
        if state is not row.state:
            self.counts[row.state] -= 1
            self.counts[state] += 1
            row.state = state
            if state is TaskStatus.FAILED:
                changes.failed.append(row.name)
        row.attempt, row.held, row.reason = task.attempts, task.held, task.reason
        row.started_at, row.ended_at = latest.started_at, latest.ended_at
        row.exit_code, row.log_path, row.worker = latest.exit_code, latest.log_path, latest.worker
        if ends_attempt(event.data):
            row.cpu = row.rss = None
        changes.tasks.add(row.name)
        changes.status = True

    def _sample(self, event: Event, changes: Changes) -> None:
        data = event.data
        self.samples.append(
            Sample(
                event.at,
                float(data.get("cpu") or 0.0),
                int(data.get("rss") or 0),
                float(data.get("system_cpu") or 0.0),
                float(data.get("system_memory") or 0.0),
            )
        )
        self.booked.update(data.get("booked", {}))
        self.capacity.update(data.get("capacity", {}))
        for key, figures in data.get("tasks", {}).items():
            name = key.rsplit(".", 1)[0]
            row = self.tasks.get(name)
            if row is not None:
                row.cpu = figures.get("cpu")
                row.rss = figures.get("rss")
                changes.tasks.add(name)
        changes.samples = True

    def count(self, state: TaskStatus) -> int:
        """Tasks in ``state``."""
        return self.counts.get(state, 0)

    def affected_by_cancel(self, task: str) -> list[str]:
        """The tasks a cancel of ``task`` changes: itself, then every unfinished task below it
        (they become blocked), in definition order."""
        below = self.workflow.dag.downstream(task)
        unfinished = {name for name in below if self.tasks[name].state in BLOCKABLE_TASK_STATES}
        return [task, *self.workflow.dag.sorted(unfinished)]


_SESSION_STATUS = {
    EventKind.SESSION_STARTED: SessionStatus.RUNNING,
    EventKind.SESSION_PAUSED: SessionStatus.PAUSED,
    EventKind.SESSION_RESUMED: SessionStatus.RUNNING,
}
_TASK_STATES = {state.value: state for state in TaskStatus}
_SESSION_STATES = {status.value: status for status in SessionStatus}


def _session_status(status: SessionStatus | str) -> SessionStatus | str:
    """``status`` as a :class:`SessionStatus` member; a text that names none (a preview's
    "not started") stays as it is."""
    return _SESSION_STATES.get(status, status)
