"""The product's data classes and enums: states, priorities, records of runs and resources.

Records are frozen; the scheduler keeps its mutable bookkeeping to itself and publishes new
records (or events) when something changes. The names are the ones users of the library
formicary grew from already know.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from formicary.model.states import AttemptOutcome as AttemptOutcome
from formicary.model.states import ProjectStatus as ProjectStatus
from formicary.model.states import ProjectType as ProjectType
from formicary.model.states import ResourceStatus as ResourceStatus
from formicary.model.states import ResourceType as ResourceType
from formicary.model.states import SessionStatus as SessionStatus
from formicary.model.states import TaskPriority as TaskPriority
from formicary.model.states import TaskStatus as TaskStatus
from formicary.model.states import WorkflowStatus as WorkflowStatus


def new_id() -> str:
    """A short random identifier for records created outside the store."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, slots=True)
class TaskResource:
    """A task's request of one counted pool."""

    pool: str
    amount: int


@dataclass(frozen=True, slots=True)
class Task:
    """A unit of work submitted through the public API: a shell command or a Python callable.

    Exactly one of ``command`` or ``module`` + ``action`` is set; ``params`` are the keyword
    arguments of the callable.
    """

    name: str
    description: str = ""
    command: str | None = None
    module: str | None = None
    action: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()
    priority: TaskPriority = TaskPriority.NORMAL
    retries: int = 0
    timeout: float | None = None
    resources: tuple[TaskResource, ...] = ()
    status: TaskStatus = TaskStatus.PENDING
    id: str = field(default_factory=new_id)
    created_at: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class TaskResult:
    """The outcome of one attempt of a task."""

    task: str
    status: TaskStatus
    attempt: int = 1
    outcome: AttemptOutcome | None = None
    exit_code: int | None = None
    reason: str = ""
    value: Any = None
    started_at: float | None = None
    ended_at: float | None = None
    log_path: str | None = None
    worker: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds the attempt ran, when it has both ends."""
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    @property
    def succeeded(self) -> bool:
        """True when the task completed."""
        return self.status is TaskStatus.COMPLETED


@dataclass(frozen=True, slots=True)
class WorkflowStep:
    """One step of a workflow built in code rather than read from a file."""

    name: str
    command: str | None = None
    module: str | None = None
    action: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    priority: TaskPriority = TaskPriority.NORMAL
    retries: int = 0
    timeout: float | None = None
    resources: Mapping[str, int] = field(default_factory=dict)
    description: str = ""


@dataclass(slots=True)
class WorkflowExecution:
    """A live view of one run of a workflow, updated by the engine as events arrive.

    It is the one mutable record: the engine owns it and writes it; callers read it.
    """

    workflow: str
    session_id: str
    status: WorkflowStatus = WorkflowStatus.PENDING
    params: Mapping[str, Any] = field(default_factory=dict)
    step_results: dict[str, TaskResult] = field(default_factory=dict)
    started_at: float | None = None
    ended_at: float | None = None
    id: str = field(default_factory=new_id)


@dataclass(frozen=True, slots=True)
class Project:
    """A project of the workspace as the API reports it."""

    name: str
    path: Path
    description: str = ""
    type: ProjectType = ProjectType.CUSTOM
    version: str = "0.1.0"
    status: ProjectStatus = ProjectStatus.ACTIVE
    workflows: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProjectTemplate:
    """A starting point for ``formicary new``: the files of a runnable project.

    ``files`` maps paths relative to the new project folder to their text; the definition
    itself is kept as data (``definition``) and written with tomli-w.
    """

    name: str
    type: ProjectType
    description: str
    definition: Mapping[str, Any]
    files: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resource:
    """A counted pool and how much of it is booked."""

    name: str
    capacity: int
    booked: int = 0
    type: ResourceType = ResourceType.CUSTOM

    @property
    def available(self) -> int:
        """Units not booked by any running task."""
        return self.capacity - self.booked

    @property
    def status(self) -> ResourceStatus:
        """Available, in use or exhausted."""
        if self.booked <= 0:
            return ResourceStatus.AVAILABLE
        if self.booked >= self.capacity:
            return ResourceStatus.EXHAUSTED
        return ResourceStatus.IN_USE


@dataclass(frozen=True, slots=True)
class ResourceAllocation:
    """Units of one pool booked for one owner (usually a task attempt)."""

    pool: str
    amount: int
    owner: str
    id: str = field(default_factory=new_id)
    allocated_at: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class ResourceUsage:
    """Booked and measured use at one moment.

    ``booked`` maps each pool to the units held; ``cpu_percent`` and ``rss_bytes`` are measured
    from the running process trees (``None`` where nothing was measured).
    """

    at: float
    booked: Mapping[str, int] = field(default_factory=dict)
    capacity: Mapping[str, int] = field(default_factory=dict)
    cpu_percent: float | None = None
    rss_bytes: int | None = None
    system_cpu_percent: float | None = None
    system_memory_percent: float | None = None


@dataclass(frozen=True, slots=True)
class OrchestrationSession:
    """One run of one workflow of one project, as recorded in the store."""

    id: str
    project: str
    workflow: str
    status: SessionStatus = SessionStatus.CREATED
    params: Mapping[str, Any] = field(default_factory=dict)
    max_parallel: int | None = None
    started_at: float | None = None
    ended_at: float | None = None
    owner_pid: int | None = None
    owner_host: str | None = None


OrchestrationContext = OrchestrationSession
