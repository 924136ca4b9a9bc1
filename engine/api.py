"""The module-level functions of the public API and its lazy, thread-safe singletons.

The singletons share one :class:`~engine.orchestration.OrchestrationEngine` on the workspace
named by ``FORMICARY_WORKSPACE`` (default: the current folder). At interpreter exit whatever
any engine still runs is cancelled and its processes ended (see ``engine.orchestration``), so
a script never leaves orphans.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.model import (
    Project,
    ProjectTemplate,
    ProjectType,
    Task,
    TaskPriority,
    TaskResource,
    TaskResult,
    WorkflowExecution,
)
from engine.orchestration import OrchestrationEngine
from engine.project_manager import ProjectManager
from engine.resource_manager import ResourceManager
from engine.task_orchestrator import TaskOrchestrator
from engine.workflow_manager import WorkflowManager

_lock = threading.RLock()
_singletons: dict[str, Any] = {}


def default_workspace() -> Path:
    """``$FORMICARY_WORKSPACE``, or the current folder."""
    return Path(os.environ.get("FORMICARY_WORKSPACE") or ".").resolve()


def _singleton(name: str, make: Any) -> Any:
    found = _singletons.get(name)
    if found is None:
        with _lock:
            found = _singletons.get(name)
            if found is None:
                found = _singletons[name] = make()
    return found


def get_orchestration_engine() -> OrchestrationEngine:
    """The shared engine (created on first use)."""
    return _singleton("engine", lambda: OrchestrationEngine(default_workspace()))


def get_resource_manager() -> ResourceManager:
    """The shared resource pools, measured through the shared engine."""
    return _singleton("resources", lambda: ResourceManager(engine=get_orchestration_engine()))


def get_workflow_manager() -> WorkflowManager:
    """The shared workflow manager."""
    return _singleton("workflows", lambda: WorkflowManager(get_orchestration_engine()))


def get_task_orchestrator() -> TaskOrchestrator:
    """The shared task orchestrator, booking from the shared resource pools."""
    return _singleton(
        "tasks",
        lambda: TaskOrchestrator(get_orchestration_engine(), resources=get_resource_manager()),
    )


def get_project_manager() -> ProjectManager:
    """The shared project manager of the default workspace."""
    return _singleton("projects", lambda: ProjectManager(get_orchestration_engine().workspace))


def shutdown_singletons() -> None:
    """Cancel what the shared engine runs, end its processes, and forget every singleton
    (the next ``get_*`` call starts afresh)."""
    with _lock:
        engine = _singletons.pop("engine", None)
        _singletons.clear()
    if engine is not None:
        engine.shutdown()


def create_task(
    name: str,
    command: str | None = None,
    *,
    module: str | None = None,
    action: str | None = None,
    params: Mapping[str, Any] | None = None,
    dependencies: tuple[str, ...] | list[str] = (),
    priority: TaskPriority | str = TaskPriority.NORMAL,
    retries: int = 0,
    timeout: float | None = None,
    resources: Mapping[str, int] | None = None,
    description: str = "",
) -> Task:
    """A Task: a shell ``command``, or the Python callable ``module``.``action`` called with
    ``params`` as keyword arguments.

    Raises:
        UsageError: Neither or both kinds of work are given, or a priority is unknown.
    """
    callable_given = module is not None or action is not None
    if (command is None) == (not callable_given):
        raise UsageError(f"task {name!r}: give either command or module + action")
    if callable_given and not (module and action):
        raise UsageError(f"task {name!r}: a callable needs both module and action")
    try:
        chosen = TaskPriority(priority)
    except ValueError:
        choices = ", ".join(p.value for p in TaskPriority)
        raise UsageError(f"task {name!r}: priority {priority!r} is not one of {choices}") from None
    return Task(
        name=name,
        description=description,
        command=command,
        module=module,
        action=action,
        params=dict(params or {}),
        dependencies=tuple(dependencies),
        priority=chosen,
        retries=retries,
        timeout=timeout,
        resources=tuple(TaskResource(pool, amount) for pool, amount in (resources or {}).items()),
    )


def create_project(
    name: str,
    description: str | None = None,
    template: ProjectType | ProjectTemplate | str = ProjectType.CUSTOM,
    *,
    workspace: str | Path | None = None,
) -> Project:
    """Write a runnable project from a template into ``workspace`` (default: the shared
    project manager's)."""
    manager = get_project_manager() if workspace is None else ProjectManager(workspace)
    return manager.create_project(name, description, template)


def execute_workflow(name: str, /, **params: Any) -> WorkflowExecution:
    """Run a workflow (code-built, or ``PROJECT:WORKFLOW`` of the workspace) to its end and
    return its execution record."""
    manager = get_workflow_manager()
    return manager.wait(manager.execute_workflow(name, **params))


def execute_task(task: Task, timeout: float | None = None) -> TaskResult:
    """Run one task to its end and return its result (cancelled on ``timeout``)."""
    return get_task_orchestrator().execute(task, timeout)
