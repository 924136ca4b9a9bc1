"""``TaskOrchestrator``: single tasks submitted from code, with dependencies between them.

Each task runs as a one-task session on the shared engine (so it gets the scheduler's retries,
timeouts, real cancellation, logs and a place in the store and the dashboard). A task waits
until every task it depends on has completed; if one of them ends any other way, it is
``blocked`` and never runs. Its resources are booked from a
:class:`~formicary.api.resource_manager.ResourceManager` before it starts and released when it ends.

What a task ended with is always a :class:`TaskExecution` (``wait``, ``execute``,
``get_result``): the attempt's :class:`~formicary.model.records.TaskResult` plus the callable's
return value as ``result`` and the session the task ran in.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from dataclasses import dataclass, field, fields
from typing import Any

from formicary.api.orchestration import OrchestrationEngine, task_result
from formicary.api.resource_manager import ResourceManager
from formicary.api.workflow_manager import task_table
from formicary.errors import TransitionError, UnknownTaskError, UsageError
from formicary.model.definitions import parse_project
from formicary.model.records import ResourceAllocation, Task, TaskResult, TaskStatus
from formicary.model.specs import ProjectSpec, WorkflowSpec
from formicary.model.states import FINE_TASK_STATES

_ENDED = frozenset(
    {
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
        TaskStatus.BLOCKED,
        TaskStatus.SKIPPED,
    }
)


@dataclass(frozen=True, slots=True)
class TaskExecution(TaskResult):
    """How a task submitted through the API ended: everything its last attempt's
    :class:`~formicary.model.records.TaskResult` says, the session it ran in, and ``result``.

    It is a TaskResult (``value``, ``succeeded``, ``exit_code``, ``log_path``… all work), so
    code written against the results of earlier formicary versions keeps working.
    """

    session_id: str | None = None

    @property
    def result(self) -> Any:
        """What the task's callable returned (the seed library's name for it); None for a
        shell command, whose output is in the log at ``log_path``."""
        return self.value

    @classmethod
    def of(cls, result: TaskResult, session_id: str | None) -> TaskExecution:
        """``result`` with the session it was recorded in."""
        values = {item.name: getattr(result, item.name) for item in fields(TaskResult)}
        return cls(**values, session_id=session_id)


@dataclass(eq=False)
class _Entry:
    """One submitted task; its mutable fields change only on the engine's loop."""

    task: Task
    project: ProjectSpec
    workflow: WorkflowSpec
    status: TaskStatus = TaskStatus.PENDING
    result: TaskExecution | None = None
    session_id: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    runner: asyncio.Task[None] | None = None
    allocations: list[ResourceAllocation] = field(default_factory=list)


class TaskOrchestrator:
    """Submit, run, wait for and cancel tasks.

    Args:
        engine: The engine tasks run on (a new one on the current folder when omitted).
        resources: Where task resources are booked (a ResourceManager over the engine).
        project: The project name the tasks' sessions are recorded under.
    """

    def __init__(
        self,
        engine: OrchestrationEngine | None = None,
        *,
        resources: ResourceManager | None = None,
        project: str = "tasks",
    ) -> None:
        self.engine = engine or OrchestrationEngine()
        self.resources = resources or ResourceManager(engine=self.engine)
        self.project_name = project
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._released: asyncio.Event | None = None
        self.resources.on_release(self._wake_waiters)

    # -- submitting ----------------------------------------------------------------------

    def submit(self, task: Task) -> Task:
        """Queue ``task``; it starts once its dependencies have completed and its resources
        are free. Returns it as recorded (status ``pending``).

        Raises:
            DefinitionError: The task is invalid (no command or callable, bad values…).
            UnknownTaskError: A dependency was never submitted.
            UsageError: A task of that name was already submitted.
        """
        if not isinstance(task, Task):
            raise UsageError(f"submit() takes a Task, not {type(task).__name__}")
        project = self._project_for(task)
        with self._lock:
            if task.name in self._entries:
                raise UsageError(f"task {task.name!r} was already submitted")
            for dependency in task.dependencies:
                if dependency not in self._entries:
                    raise UnknownTaskError(dependency, self._entries)
            entry = _Entry(
                dataclasses.replace(task, status=TaskStatus.PENDING),
                project,
                project.workflows[task.name],
            )
            self._entries[task.name] = entry
        self.engine.thread.call(self._launch, entry)
        return entry.task

    def execute(self, task: Task, timeout: float | None = None) -> TaskExecution:
        """Submit ``task`` and wait until it has ended.

        Raises:
            TimeoutError: It has not ended after ``timeout`` seconds; it is cancelled (its
                processes ended) before this is raised.
        """
        self.submit(task)
        try:
            return self.wait(task.name, timeout)
        except TimeoutError:
            self.cancel(task.name)
            self.wait(task.name, 60.0)
            raise

    def wait(self, task: Task | str, timeout: float | None = None) -> TaskExecution:
        """Block until the task (a submitted Task, or its name) has ended; return how it
        ended. Always a :class:`TaskExecution`, whichever way the task ended (completed,
        failed, cancelled, blocked).

        Raises:
            UnknownTaskError: Never submitted.
            TimeoutError: Not ended after ``timeout`` seconds (it keeps running).
        """
        name = task.name if isinstance(task, Task) else task
        entry = self._entry(name)
        if not entry.done.wait(timeout):
            raise TimeoutError(f"task {name} still {entry.status.value} after {timeout} s")
        assert entry.result is not None
        return entry.result

    def cancel(self, name: str) -> None:
        """Cancel a task: a running one's processes are ended; a waiting one never runs;
        tasks that depend on it become blocked.

        Raises:
            UnknownTaskError: Never submitted.
            TransitionError: It has already ended.
        """
        entry = self._entry(name)
        self.engine.thread.call(self._cancel, entry)

    # -- reading -------------------------------------------------------------------------

    def get_task(self, name: str) -> Task:
        """The task with its current status."""
        entry = self._entry(name)
        return dataclasses.replace(entry.task, status=entry.status)

    def list_tasks(self) -> list[Task]:
        """Every submitted task with its current status, in submission order."""
        with self._lock:
            entries = list(self._entries.values())
        return [dataclasses.replace(e.task, status=e.status) for e in entries]

    def get_result(self, name: str) -> TaskExecution | None:
        """How the task ended, once it has (None before)."""
        return self._entry(name).result

    def session_of(self, name: str) -> str | None:
        """The id of the session the task runs (or ran) in, once it has started."""
        return self._entry(name).session_id

    def dependents(self, name: str) -> list[str]:
        """Tasks that depend on ``name`` directly."""
        self._entry(name)
        with self._lock:
            return [n for n, e in self._entries.items() if name in e.task.dependencies]

    # -- running (on the engine's loop) --------------------------------------------------

    def _launch(self, entry: _Entry) -> None:
        if self._released is None:
            self._released = asyncio.Event()
        entry.ended = asyncio.Event()
        entry.runner = asyncio.get_running_loop().create_task(self._run(entry))

    async def _run(self, entry: _Entry) -> None:
        name = entry.task.name
        try:
            for dependency in entry.task.dependencies:
                upstream = self._entries[dependency]
                await upstream.ended.wait()
                if upstream.status not in FINE_TASK_STATES:
                    reason = f"upstream task {dependency} is {upstream.status.value}"
                    self._end(entry, TaskStatus.BLOCKED, reason)
                    return
            await self._book(entry)
            entry.status = TaskStatus.RUNNING
            execution = await self.engine.begin(entry.project, entry.workflow)
            entry.session_id = execution.session_id
            handle = self.engine.handle(execution.session_id)
            assert handle is not None
            try:
                await handle.wait()
                entry.result = TaskExecution.of(task_result(handle, name), entry.session_id)
                entry.status = entry.result.status
            finally:
                await self.engine.end(execution.session_id)
        except asyncio.CancelledError:
            self._end(entry, TaskStatus.CANCELLED, "cancelled by the user")
        except Exception as error:
            self._end(entry, TaskStatus.FAILED, f"could not start: {error}")
        finally:
            self._unbook(entry)
            if entry.result is None:
                self._end(entry, entry.status, "")
            entry.ended.set()
            entry.done.set()

    async def _book(self, entry: _Entry) -> None:
        request = {r.pool: r.amount for r in entry.task.resources}
        if not request:
            return
        assert self._released is not None
        while True:
            booked = self.resources.try_allocate(request, owner=f"task {entry.task.name}")
            if booked is not None:
                entry.allocations = booked
                return
            self._released.clear()
            await self._released.wait()

    def _unbook(self, entry: _Entry) -> None:
        for allocation in entry.allocations:
            with contextlib.suppress(UsageError):
                self.resources.release(allocation)
        entry.allocations = []

    def _wake_waiters(self) -> None:
        released = self._released
        if released is not None:
            self.engine.thread.loop.call_soon_threadsafe(released.set)

    def _cancel(self, entry: _Entry) -> None:
        if entry.status in _ENDED:
            raise TransitionError(f"task {entry.task.name}", entry.status.value, "cancel")
        handle = self.engine.handle(entry.session_id) if entry.session_id else None
        if handle is not None:
            handle.cancel(entry.task.name)
        elif entry.runner is not None:
            entry.runner.cancel()

    def _end(self, entry: _Entry, status: TaskStatus, reason: str) -> None:
        entry.status = status
        entry.result = TaskExecution(
            task=entry.task.name,
            status=status,
            attempt=0,
            reason=reason,
            session_id=entry.session_id,
        )

    # -- helpers -------------------------------------------------------------------------

    def _entry(self, name: str) -> _Entry:
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                raise UnknownTaskError(name, self._entries)
            return entry

    def _project_for(self, task: Task) -> ProjectSpec:
        """The task as a one-task project, checked like a definition file."""
        table = task_table(
            command=task.command,
            module=task.module,
            action=task.action,
            params=task.params,
            description=task.description,
            priority=task.priority,
            retries=task.retries,
            timeout=task.timeout,
            resources={r.pool: r.amount for r in task.resources},
        )
        pools = self.resources.capacities()
        document = {
            "project": {"name": self.project_name},
            "resources": pools,
            "workflows": {task.name: {"tasks": {task.name: table}}},
        }
        return parse_project(document, self.engine.workspace / f"task {task.name}")
