"""A session's definition snapshot: the project as JSON, written fast and read back fast.

A persisted session stores the definitions it started with, so it can be resumed whatever
happened to the files since. The text is :func:`formicary.model.specs.project_to_dict` as JSON (any
reader may still validate it with :func:`formicary.model.definitions.parse_project`), but built with
a fast path for tasks that only say what to run and what they depend on, the common case:
the snapshot is written while a session starts, so its cost counts per task.

Reading it back trusts it: it was validated when the session started, so
:func:`load_snapshot` builds the specs directly (a third of the time of validating them
again, which counts when a large session is resumed), and validates only a document it
does not understand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from operator import attrgetter
from pathlib import Path
from typing import Any

from formicary.model.definitions import DEFINITION_FILE, parse_project
from formicary.model.records import ProjectType, TaskPriority
from formicary.model.specs import (
    Defaults,
    ProjectSpec,
    TaskSpec,
    WorkflowSpec,
    default_pools,
    project_to_dict,
    task_to_dict,
    workflow_settings,
)

_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
_SETTINGS = attrgetter(
    "description",
    "priority",
    "retries",
    "retry_delay",
    "retry_backoff",
    "retry_max_delay",
    "timeout",
)
_SETTING_KEYS = frozenset(
    {"retries", "retry_delay", "retry_backoff", "retry_max_delay", "timeout", "priority", "env"}
)


def snapshot_text(project: ProjectSpec) -> str:
    """``project_to_dict(project)`` as compact JSON."""
    document = project_to_dict(replace(project, workflows={}))
    defaults = project.defaults
    inherited = (
        "",
        defaults.priority,
        defaults.retries,
        defaults.retry_delay,
        defaults.retry_backoff,
        defaults.retry_max_delay,
        defaults.timeout,
    )
    workflows: dict[str, Any] = {}
    for name, workflow in project.workflows.items():
        table = workflow_settings(workflow)
        table["tasks"] = {
            task_name: _task_table(task, defaults, inherited)
            for task_name, task in workflow.tasks.items()
        }
        workflows[name] = table
    document["workflows"] = workflows
    return _encode(document)


def _task_table(task: TaskSpec, defaults: Defaults, inherited: tuple[Any, ...]) -> Any:
    if task.env or _SETTINGS(task) != inherited:
        return task_to_dict(task, defaults)
    table: dict[str, Any]
    if task.run is not None:
        table = {"run": task.run}
    else:
        table = {"call": task.call}
        if task.args:
            table["args"] = dict(task.args)
    if task.depends_on:
        table["depends_on"] = task.depends_on  # a tuple is a JSON array too
    if task.resources:
        table["resources"] = dict(task.resources)
    return table


def load_snapshot(text: str, root: Path) -> ProjectSpec:
    """The project a snapshot describes, rooted at ``root``.

    Raises:
        DefinitionError: The snapshot is not a valid definition.
    """
    document = json.loads(text)
    try:
        return _trusted(document, root)
    except (KeyError, TypeError, ValueError, AttributeError):
        return replace(parse_project(document, root / DEFINITION_FILE), root=root)


def _trusted(document: Mapping[str, Any], root: Path) -> ProjectSpec:
    meta = document["project"]
    pools = default_pools()
    pools.update(document.get("resources", {}))
    defaults = Defaults(**_settings(document.get("defaults", {}), Defaults()))
    base = _settings({}, defaults)
    workflows = {}
    for name, table in document["workflows"].items():
        tasks = {
            task_name: _task(task_name, body, defaults, base)
            for task_name, body in table["tasks"].items()
        }
        workflows[name] = WorkflowSpec(
            name=name,
            tasks=tasks,
            description=table.get("description", ""),
            max_parallel=table.get("max_parallel"),
            params=dict(table.get("params", {})),
            executor=table.get("executor", "local"),
        )
    return ProjectSpec(
        name=meta["name"],
        workflows=workflows,
        description=meta.get("description", ""),
        type=ProjectType(meta.get("type", ProjectType.CUSTOM.value)),
        version=meta.get("version", "0.1.0"),
        resources=pools,
        defaults=defaults,
        root=root,
        file=root / DEFINITION_FILE,
    )


def _task(
    name: str, table: Mapping[str, Any], defaults: Defaults, base: dict[str, Any]
) -> TaskSpec:
    get = table.get
    s = base if _SETTING_KEYS.isdisjoint(table) else _settings(table, defaults)
    # Positional, in TaskSpec's field order: a resumed session builds tens of thousands.
    return TaskSpec(
        name,
        get("run"),
        get("call"),
        dict(table["args"]) if "args" in table else {},
        tuple(table["depends_on"]) if "depends_on" in table else (),
        get("description", ""),
        s["priority"],
        s["retries"],
        s["retry_delay"],
        s["retry_backoff"],
        s["retry_max_delay"],
        s["timeout"],
        dict(table["resources"]) if "resources" in table else {},
        s["env"],
    )


def _settings(table: Mapping[str, Any], inherited: Defaults) -> dict[str, Any]:
    """What ``[defaults]`` or a task sets, over what it inherits (as the loader does)."""
    timeout = inherited.timeout
    if "timeout" in table:
        timeout = float(table["timeout"]) or None
    return {
        "retries": int(table.get("retries", inherited.retries)),
        "retry_delay": float(table.get("retry_delay", inherited.retry_delay)),
        "retry_backoff": float(table.get("retry_backoff", inherited.retry_backoff)),
        "retry_max_delay": float(table.get("retry_max_delay", inherited.retry_max_delay)),
        "timeout": timeout,
        "priority": TaskPriority(table["priority"]) if "priority" in table else inherited.priority,
        "env": {**inherited.env, **table["env"]} if "env" in table else inherited.env,
    }
