"""Frozen specifications of projects, workflows and tasks, as loaded from definition files.

Specs are what the scheduler plans from. They are plain values: equal when they say the same
thing, wherever they were read from, and they turn back into TOML with :func:`dump_project`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import tomli_w
from formicary.model.dag import Dag
from formicary.model.records import ProjectType, TaskPriority

ParamValue = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Defaults:
    """Task settings a project gives every task that does not say otherwise."""

    retries: int = 0
    retry_delay: float = 1.0
    retry_backoff: float = 2.0
    retry_max_delay: float = 60.0
    timeout: float | None = None
    priority: TaskPriority = TaskPriority.NORMAL
    env: Mapping[str, str] = field(default_factory=dict)


BUILTIN_DEFAULTS = Defaults()


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One task of a workflow, with every inherited default already applied.

    Exactly one of ``run`` (a shell command template) and ``call`` (``module:function``) is set.
    """

    name: str
    run: str | None = None
    call: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    description: str = ""
    priority: TaskPriority = TaskPriority.NORMAL
    retries: int = 0
    retry_delay: float = 1.0
    retry_backoff: float = 2.0
    retry_max_delay: float = 60.0
    timeout: float | None = None
    resources: Mapping[str, int] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``"shell"`` or ``"python"``."""
        return "shell" if self.run is not None else "python"

    @property
    def target(self) -> str:
        """The command template or the callable, whichever the task has."""
        return self.run if self.run is not None else (self.call or "")


@dataclass(frozen=True)
class WorkflowSpec:
    """A named DAG of tasks with its parameters and parallelism limit."""

    name: str
    tasks: Mapping[str, TaskSpec]
    description: str = ""
    max_parallel: int | None = None
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    executor: str = "local"

    @cached_property
    def dag(self) -> Dag:
        """The dependency graph of the tasks (built once, on first use)."""
        return Dag({name: task.depends_on for name, task in self.tasks.items()})


def default_pools() -> dict[str, int]:
    """Pools every project has unless it says otherwise: ``cpu`` = the machine's cores."""
    return {"cpu": os.cpu_count() or 1}


@dataclass(frozen=True)
class ProjectSpec:
    """A project: its identity, resource pools, task defaults and workflows.

    ``root`` and ``file`` say where it was read from and take no part in equality.
    """

    name: str
    workflows: Mapping[str, WorkflowSpec]
    description: str = ""
    type: ProjectType = ProjectType.CUSTOM
    version: str = "0.1.0"
    resources: Mapping[str, int] = field(default_factory=default_pools)
    defaults: Defaults = BUILTIN_DEFAULTS
    root: Path = field(default=Path("."), compare=False)
    file: Path = field(default=Path("formicary.toml"), compare=False)

    @property
    def task_count(self) -> int:
        """Tasks across every workflow."""
        return sum(len(workflow.tasks) for workflow in self.workflows.values())


_TASK_FIELDS = (
    "description",
    "priority",
    "retries",
    "retry_delay",
    "retry_backoff",
    "retry_max_delay",
    "timeout",
)


def project_to_dict(spec: ProjectSpec) -> dict[str, Any]:
    """The project as a TOML-ready dict; tasks state only what differs from the defaults."""
    defaults = spec.defaults
    project: dict[str, Any] = {"name": spec.name, "type": spec.type.value, "version": spec.version}
    if spec.description:
        project["description"] = spec.description
    document: dict[str, Any] = {"project": project, "resources": dict(spec.resources)}
    defaults_table = _defaults_to_dict(defaults)
    if defaults_table:
        document["defaults"] = defaults_table
    document["workflows"] = {
        name: _workflow_to_dict(workflow, defaults) for name, workflow in spec.workflows.items()
    }
    return document


def dump_project(spec: ProjectSpec) -> str:
    """The project as TOML text (through tomli-w); loading it gives back an equal spec."""
    return tomli_w.dumps(project_to_dict(spec))


def _defaults_to_dict(defaults: Defaults) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for name in ("retries", "retry_delay", "retry_backoff", "retry_max_delay", "timeout"):
        value = getattr(defaults, name)
        if value != getattr(BUILTIN_DEFAULTS, name):
            table[name] = _toml_value(value)
    if defaults.priority is not BUILTIN_DEFAULTS.priority:
        table["priority"] = defaults.priority.value
    if defaults.env:
        table["env"] = dict(defaults.env)
    return table


def _workflow_to_dict(workflow: WorkflowSpec, defaults: Defaults) -> dict[str, Any]:
    table = workflow_settings(workflow)
    table["tasks"] = {name: task_to_dict(task, defaults) for name, task in workflow.tasks.items()}
    return table


def workflow_settings(workflow: WorkflowSpec) -> dict[str, Any]:
    """A workflow's own table, without its tasks: only what differs from the defaults."""
    table: dict[str, Any] = {}
    if workflow.description:
        table["description"] = workflow.description
    if workflow.max_parallel is not None:
        table["max_parallel"] = workflow.max_parallel
    if workflow.params:
        table["params"] = dict(workflow.params)
    if workflow.executor != "local":
        table["executor"] = workflow.executor
    return table


def task_to_dict(task: TaskSpec, defaults: Defaults = BUILTIN_DEFAULTS) -> dict[str, Any]:
    """The task as a TOML-ready table: what differs from ``defaults``."""
    table: dict[str, Any] = {}
    if task.run is not None:
        table["run"] = task.run
    else:
        table["call"] = task.call
        if task.args:
            table["args"] = dict(task.args)
    if task.depends_on:
        table["depends_on"] = list(task.depends_on)
    for name in _TASK_FIELDS:
        value = getattr(task, name)
        inherited = getattr(defaults, name, "")
        if value != inherited:
            table[name] = _toml_value(value)
    if task.resources:
        table["resources"] = dict(task.resources)
    env = {k: v for k, v in task.env.items() if defaults.env.get(k) != v}
    if env:
        table["env"] = env
    return table


def _toml_value(value: Any) -> Any:
    """TOML has no null: a missing timeout is written as 0, which the loader reads as none."""
    if value is None:
        return 0
    if isinstance(value, TaskPriority):
        return value.value
    return value
