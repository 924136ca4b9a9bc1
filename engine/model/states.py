"""The product's states and kinds: task and session states, priorities, outcomes, project and
resource types.

Plain enums in a module of their own, so what only reads the store (``formicary status``,
polled by scripts every second) imports no more than it needs; :mod:`formicary.model.records`
re-exports every enum.

This is also the one place for the vocabulary over those states: which task states are final,
fine, broken, waiting or past cancelling (the ``*_TASK_STATES`` sets), which session states
are final or under way (``*_SESSION_STATES``), and the rule a session's final status follows
(:func:`final_session_status`). Everything else imports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, StrEnum


class TaskStatus(StrEnum):
    """Where a task is in its life.

    ``pending → ready → running → completed | failed | cancelled``, plus ``retrying`` (waiting
    out a backoff), ``blocked`` (an upstream task failed or was cancelled), ``skipped`` (by the
    user) and ``paused`` (held by the user; not dispatched until released).
    """

    PENDING = "pending"
    READY = "ready"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETRYING = "retrying"
    BLOCKED = "blocked"
    SKIPPED = "skipped"
    PAUSED = "paused"

    @property
    def is_final(self) -> bool:
        """True when the task will not change again without a manual action."""
        return self in FINAL_TASK_STATES


FINAL_TASK_STATES = frozenset(
    {
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
        TaskStatus.BLOCKED,
        TaskStatus.SKIPPED,
    }
)
"""States a task leaves only by a user's action (a retry, say)."""


FINE_TASK_STATES = frozenset({TaskStatus.COMPLETED, TaskStatus.SKIPPED})
"""Final states that count as fine for the session (and let dependent tasks run)."""

BROKEN_TASK_STATES = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.BLOCKED})
"""Final states a retry applies to; they block the tasks below them."""

UNCANCELLABLE_TASK_STATES = FINAL_TASK_STATES - {TaskStatus.BLOCKED}
"""States a cancel does not apply to: every final one but ``blocked`` (a task that never ran
may still be cancelled)."""

BLOCKABLE_TASK_STATES = frozenset({TaskStatus.PENDING, TaskStatus.READY, TaskStatus.PAUSED})
"""States of a task that has not started and becomes ``blocked`` when a task it depends on
fails or is cancelled."""

WAITING_TASK_STATES = frozenset(
    {TaskStatus.PENDING, TaskStatus.READY, TaskStatus.PAUSED, TaskStatus.RETRYING}
)
"""States of tasks that have not run to an end and are not running."""


class TaskPriority(StrEnum):
    """Dispatch order among ready tasks: lower rank goes first."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"
    BACKGROUND = "background"

    @property
    def rank(self) -> int:
        """0 for critical up to 4 for background."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {priority: rank for rank, priority in enumerate(TaskPriority)}


class AttemptOutcome(StrEnum):
    """How one attempt of a task ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    LOST = "lost"


class WorkflowStatus(StrEnum):
    """State of one run of a workflow."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SessionStatus(StrEnum):
    """State of an orchestration session (one run of one workflow, persisted in the store)."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ORPHANED = "orphaned"

    @property
    def is_final(self) -> bool:
        """True once the session has ended for good."""
        return self in FINAL_SESSION_STATES


FINAL_SESSION_STATES = frozenset(
    {SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.CANCELLED}
)
"""States a session ends in (a retry may reopen it); the ones :func:`final_session_status`
picks from."""

LIVE_SESSION_STATES = frozenset({SessionStatus.RUNNING, SessionStatus.PAUSED})
"""States of a session under way: dispatching tasks, or paused by the user."""


def final_session_status(counts: Mapping[TaskStatus, int] | Mapping[str, int]) -> SessionStatus:
    """The status a session ends with, from how many of its tasks are in each state.

    The one rule every view and the engine follow: **failed** if any task failed;
    **cancelled** if none failed but a task was cancelled (a ``blocked`` task follows from
    a failed or cancelled upstream, so one without a failed task counts with the cancelled,
    as does anything left unfinished); **completed** when every task completed or was
    skipped. ``counts`` may be keyed by :class:`TaskStatus` or by the states' text (the
    store's ``counts`` column).
    """
    failed = cancelled = 0
    for state, count in counts.items():
        if count <= 0:
            continue
        if state == TaskStatus.FAILED:
            failed += count
        elif state not in FINE_TASK_STATES:
            cancelled += count
    if failed:
        return SessionStatus.FAILED
    if cancelled:
        return SessionStatus.CANCELLED
    return SessionStatus.COMPLETED


def task_tally(counts: Mapping[TaskStatus | str, int]) -> tuple[int, int, int, int]:
    """``(done, failed, other, total)`` as the session lists show them: ``done`` is the
    completed tasks, ``failed`` the failed ones only (not those blocked or cancelled),
    ``other`` every other task (blocked, cancelled, skipped, or not finished yet)."""
    total = sum(count for count in counts.values() if count > 0)
    done = max(0, counts.get(TaskStatus.COMPLETED.value, 0))
    failed = max(0, counts.get(TaskStatus.FAILED.value, 0))
    return done, failed, total - done - failed, total


class ProjectType(StrEnum):
    """What a project is for; picks the template ``formicary new`` writes."""

    DATA_PIPELINE = "data_pipeline"
    WEB_APPLICATION = "web_application"
    AI_ANALYSIS = "ai_analysis"
    MACHINE_LEARNING = "machine_learning"
    AUTOMATION = "automation"
    RESEARCH = "research"
    CUSTOM = "custom"


class ProjectStatus(StrEnum):
    """Whether a project's definition is usable."""

    ACTIVE = "active"
    INVALID = "invalid"


class ResourceType(Enum):
    """The kind of a resource pool, derived from its name."""

    CPU = "cpu"
    MEMORY = "memory"
    GPU = "gpu"
    CUSTOM = "custom"

    @classmethod
    def for_pool(cls, pool: str) -> ResourceType:
        """Classify a pool by name: ``cpu``, ``memory``/``memory_mb``, ``gpu``, else custom."""
        lowered = pool.lower()
        if lowered == "cpu":
            return cls.CPU
        if lowered.startswith("mem"):
            return cls.MEMORY
        if lowered.startswith("gpu"):
            return cls.GPU
        return cls.CUSTOM


class ResourceStatus(StrEnum):
    """How booked a pool is."""

    AVAILABLE = "available"
    IN_USE = "in_use"
    EXHAUSTED = "exhausted"
