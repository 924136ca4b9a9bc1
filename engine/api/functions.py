"""The module-level functions of the public API, with the signatures of the library
formicary grew from, and its lazy, thread-safe singletons.

The seed's signatures, kept exactly (extra options are keyword-only)::

    create_task(name, module, action, **kwargs)      # shell: create_task(name, command=...)
    create_workflow_steps(name, steps)
    create_project(name, description, template)
    execute_workflow(name, **params)                 # name is positional-only
    execute_task(task)
    get_workflow_manager(), get_task_orchestrator(), get_project_manager(),
    get_resource_manager(), get_orchestration_engine()

The singletons share one :class:`~formicary.api.orchestration.OrchestrationEngine` on the workspace
named by ``FORMICARY_WORKSPACE`` (default: the current folder). At interpreter exit whatever
any engine still runs is cancelled and its processes ended (see ``formicary.api.orchestration``), so
a script never leaves orphans.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from formicary.api.orchestration import OrchestrationEngine
from formicary.api.project_manager import ProjectManager
from formicary.api.resource_manager import ResourceManager
from formicary.api.task_orchestrator import TaskExecution, TaskOrchestrator
from formicary.api.workflow_manager import WorkflowManager
from formicary.errors import UsageError
from formicary.model.records import (
    Project,
    ProjectTemplate,
    ProjectType,
    Task,
    TaskPriority,
    TaskResource,
    WorkflowExecution,
    WorkflowStep,
)
from formicary.model.specs import WorkflowSpec

_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_ACTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

_T = TypeVar("_T")
_lock = threading.RLock()
_singletons: dict[str, Any] = {}


def default_workspace() -> Path:
    """``$FORMICARY_WORKSPACE``, or the current folder."""
    return Path(os.environ.get("FORMICARY_WORKSPACE") or ".").resolve()


def _singleton(name: str, make: Callable[[], _T]) -> _T:
    found = _singletons.get(name)
    if found is None:
        with _lock:
            found = _singletons.get(name)
            if found is None:
                found = _singletons[name] = make()
    return cast(_T, found)


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
    module: str | None = None,
    action: str | None = None,
    *,
    command: str | None = None,
    params: Mapping[str, Any] | None = None,
    dependencies: Iterable[str] = (),
    priority: TaskPriority | str = TaskPriority.NORMAL,
    retries: int = 0,
    timeout: float | None = None,
    resources: Mapping[str, int] | None = None,
    description: str = "",
    **kwargs: Any,
) -> Task:
    """A Task, with the seed library's signature: ``create_task(name, module, action,
    **kwargs)`` calls ``module.action(**kwargs)``; ``create_task(name, command="...")`` runs a
    shell command.

    Every keyword that is not one of formicary's own becomes a parameter of the callable, so
    ``create_task("dump", "json", "dumps", obj=[1, 2])`` calls ``json.dumps(obj=[1, 2])``.
    formicary's own keywords are the named ones of this signature (``name``, ``module``,
    ``action``, ``command``, ``params``, ``dependencies``, ``priority``, ``retries``,
    ``timeout``, ``resources``, ``description``); a callable parameter of one of those
    names goes in ``params={...}``, which is merged with the other keywords.

    Raises:
        TypeError: ``module`` without ``action`` (or the reverse), most likely a shell
            command passed by position as before (``create_task("hello", "echo hi")``):
            the message says to write ``command="echo hi"``.
        UsageError: Neither or both kinds of work, parameters for a shell command, a
            parameter given twice, a module or action that is not a Python name, or an
            unknown priority.
    """
    if not isinstance(name, str):
        raise TypeError(f"create_task(): the name must be a string, not {type(name).__name__}")
    values = _task_params(name, params, kwargs)
    if command is not None:
        if module is not None or action is not None:
            raise UsageError(f"task {name!r}: give either command= or module + action, not both")
        if values:
            keys = ", ".join(sorted(values))
            raise UsageError(
                f"task {name!r}: only a callable takes parameters ({keys}); "
                "put values in the command"
            )
    elif module is None and action is None:
        raise UsageError(
            f"task {name!r}: give a callable, create_task(name, module, action, **params), "
            "or a shell command, create_task(name, command=...)"
        )
    else:
        _check_callable(name, module, action)
    try:
        chosen = TaskPriority(priority)
    except ValueError:
        choices = ", ".join(p.value for p in TaskPriority)
        raise UsageError(f"task {name!r}: priority {priority!r} is not one of {choices}") from None
    if isinstance(dependencies, str):
        dependencies = (dependencies,)
    return Task(
        name=name,
        description=description,
        command=command,
        module=module,
        action=action,
        params=values,
        dependencies=tuple(dependencies),
        priority=chosen,
        retries=retries,
        timeout=timeout,
        resources=tuple(TaskResource(pool, amount) for pool, amount in (resources or {}).items()),
    )


def _task_params(
    name: str, params: Mapping[str, Any] | None, kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """``params`` and the free keywords as one mapping; a name in both is refused rather
    than one value silently winning."""
    if params is not None and not isinstance(params, Mapping):
        raise UsageError(f"task {name!r}: params must be a mapping, not {type(params).__name__}")
    twice = sorted(set(params or {}) & set(kwargs))
    if twice:
        raise UsageError(f"task {name!r}: parameter {twice[0]!r} given twice (params= and keyword)")
    return {**(params or {}), **kwargs}


def _check_callable(name: str, module: object, action: object) -> None:
    """Refuse a half-named callable with a TypeError that says how to pass a shell command
    (the old positional form lands here), and a module or action that is no Python name."""
    if module is None or action is None:
        given = module if module is not None else action
        raise TypeError(
            f"create_task({name!r}, {given!r}): a callable needs both module and action, "
            f"as in create_task(name, module, action, **params); a shell command goes by "
            f"keyword: create_task({name!r}, command={given!r})"
        )
    if not isinstance(module, str) or not _MODULE.match(module):
        raise UsageError(
            f"task {name!r}: module {module!r} is not a Python module path "
            "(a shell command goes by keyword: command=...)"
        )
    if not isinstance(action, str) or not _ACTION.match(action):
        raise UsageError(f"task {name!r}: action {action!r} is not a Python function name")


def create_workflow_steps(
    name: str, steps: Sequence[WorkflowStep | Mapping[str, Any]]
) -> WorkflowSpec:
    """Create workflow ``name`` from ``steps`` on the shared workflow manager (the seed
    library's signature), ready for :func:`execute_workflow`; return it as checked.

    A step is a :class:`~formicary.model.records.WorkflowStep` or a mapping with its fields
    (``name``, ``command`` or ``module`` + ``action``, ``params``, ``depends_on``…); see
    :func:`~formicary.api.workflow_manager.workflow_steps`, which only converts.

    Raises:
        TypeError: ``name`` is not a string (the one-argument form of earlier versions,
            ``create_workflow_steps(steps)``, is now ``workflow_steps(steps)``).
        DefinitionError: Unknown dependencies, a cycle, bad values (checked like a file).
        UsageError: A malformed step, or a workflow of that name exists already.
    """
    if not isinstance(name, str):
        raise TypeError(
            f"create_workflow_steps(name, steps): name must be a string, not "
            f"{type(name).__name__} (to only convert mappings to steps, use workflow_steps)"
        )
    return get_workflow_manager().create_workflow(name, steps)


def create_project(
    name: str,
    description: str | None = None,
    template: ProjectType | ProjectTemplate | str | None = None,
    *,
    workspace: str | Path | None = None,
) -> Project:
    """Write a runnable project from ``template`` (None: ``custom``) into ``workspace``
    (default: the shared project manager's) and return it."""
    manager = get_project_manager() if workspace is None else ProjectManager(workspace)
    return manager.create_project(name, description, template)


def execute_workflow(name: str, /, **params: Any) -> WorkflowExecution:
    """Run a workflow (one made by :func:`create_workflow_steps`, or ``PROJECT:WORKFLOW`` of
    the workspace) with ``params`` to its end and return its execution record.

    ``name`` is positional-only, so every keyword, ``name=`` included, is a parameter.
    """
    manager = get_workflow_manager()
    return manager.wait(manager.execute_workflow(name, **params))


def execute_task(task: Task, *, timeout: float | None = None) -> TaskExecution:
    """Run one task on the shared task orchestrator to its end; ``.result`` is what its
    callable returned, ``.status`` how it ended.

    Raises:
        TimeoutError: Not ended after ``timeout`` seconds; it is cancelled first.
        UsageError: A task of that name was already submitted to the shared orchestrator.
    """
    return get_task_orchestrator().execute(task, timeout)
