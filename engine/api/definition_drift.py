"""Whether the task definitions stored with a session still match the workspace's files.

A session runs the definitions it started with (its snapshot, :mod:`formicary.model.snapshot`),
so a retry or a resume is reproducible whatever happened to the files since. That is right
for the person who ran it, but an MCP client must only run what the workspace defines *now*:
it refuses when the two differ, and the command line runs the stored one but says so.

This module owns that comparison (:func:`definition_drift`), which tasks a control call may
start (:func:`tasks_started_by`), both for a session read from the store
(:func:`session_drift`), and the error an MCP tool answers (:class:`DefinitionChangedError`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from formicary.errors import FormicaryError, UnknownTaskError
from formicary.model.definitions import Workspace, load_workspace
from formicary.model.records import TaskStatus
from formicary.model.snapshot import load_snapshot
from formicary.model.specs import ProjectSpec, TaskSpec, WorkflowSpec
from formicary.model.states import BROKEN_TASK_STATES, FINE_TASK_STATES, WAITING_TASK_STATES
from formicary.store.database import SessionRecord, Store

ADOPTING_ACTIONS = frozenset({"retry", "retry_failed", "cancel", "skip"})
"""Calls :meth:`formicary.api.orchestration.OrchestrationEngine.control` applies to a session
nobody runs by adopting it first (adopting one that had not ended continues it)."""

STARTING_ACTIONS = frozenset({"retry", "retry_failed", "resume", "skip", "release"})
"""Calls that may start a task of a session whatever its engine (see
:func:`tasks_started_by`)."""

_COMPARED = tuple(f.name for f in dataclasses.fields(TaskSpec) if f.name != "name")


@dataclass(frozen=True, slots=True)
class Drift:
    """One task whose stored definition is not the workspace's current one.

    Attributes:
        task: The task's name.
        stored: The command the session would run (see :func:`command_text`).
        current: The command the workspace defines now; None when it no longer defines the
            task (nor its workflow, nor a valid project of that name).
        changed: The settings that differ (``run``, ``env``, ``project folder``…); empty
            when ``current`` is None.
    """

    task: str
    stored: str
    current: str | None
    changed: tuple[str, ...] = ()

    def describe(self) -> str:
        """One phrase for an error message: the task, what differs, both commands."""
        if self.current is None:
            return f"task {self.task} is no longer defined (stored: {self.stored!r})"
        if self.stored == self.current:
            return f"task {self.task}: {', '.join(self.changed)} changed ({self.stored!r})"
        return (
            f"task {self.task}: {', '.join(self.changed)} changed "
            f"(stored: {self.stored!r}, current: {self.current!r})"
        )

    def as_dict(self) -> dict[str, Any]:
        """As JSON: ``{"task", "stored", "current", "changed"}``."""
        return {
            "task": self.task,
            "stored": self.stored,
            "current": self.current,
            "changed": list(self.changed),
        }


class DefinitionChangedError(FormicaryError):
    """A control call would run tasks whose stored definition is not the workspace's."""

    def __init__(self, session_id: str | int, drift: Sequence[Drift]) -> None:
        self.session_id = str(session_id)
        self.drift = tuple(drift)
        super().__init__(
            f"session {self.session_id} would run definitions the workspace no longer has, "
            f"so nothing was run: {'; '.join(d.describe() for d in self.drift)}; "
            "start_workflow runs the current ones"
        )

    @property
    def data(self) -> dict[str, Any]:
        """The details as JSON: the session and each changed task."""
        return {"session_id": self.session_id, "tasks": [d.as_dict() for d in self.drift]}


def command_text(task: TaskSpec) -> str:
    """What a task runs, as one line: its ``run`` template, or ``module:function(args)``."""
    if task.run is not None:
        return task.run
    args = ", ".join(f"{key}={value!r}" for key, value in task.args.items())
    return f"{task.call}({args})"


def definition_drift(
    workspace: Path,
    stored: ProjectSpec,
    workflow: str,
    tasks: Iterable[str],
    *,
    current: Workspace | None = None,
) -> list[Drift]:
    """The tasks among ``tasks`` (of ``workflow`` of the ``stored`` project) whose definition
    differs from what ``workspace`` defines now under the same project, workflow and task
    names.

    Every setting of the task counts (its command, arguments, environment, dependencies,
    retries, timeout, resources…), and so does the project's folder (a task runs there). A
    task, workflow or project that no longer exists, or whose file is now invalid, counts
    as changed.

    Args:
        current: The workspace as already loaded (it is loaded from ``workspace`` if not).
    """
    loaded = current if current is not None else load_workspace(workspace)
    project = loaded.projects.get(stored.name)
    now = project.workflows.get(workflow) if project is not None else None
    moved = project is not None and _folder(project.root) != _folder(stored.root)
    drift = []
    for name in tasks:
        before = stored.workflows[workflow].tasks[name]
        after = now.tasks.get(name) if now is not None else None
        if after is None:
            drift.append(Drift(name, command_text(before), None))
            continue
        changed = [key for key in _COMPARED if getattr(before, key) != getattr(after, key)]
        if moved:
            changed.append("project folder")
        if changed:
            drift.append(Drift(name, command_text(before), command_text(after), tuple(changed)))
    return drift


def tasks_started_by(
    workflow: WorkflowSpec,
    states: Mapping[str, str | TaskStatus],
    action: str,
    task: str | None = None,
    *,
    adopting: bool = False,
) -> list[str]:
    """The tasks that ``action`` (on ``task``) may start, in definition order.

    ``retry`` starts the task and the failed, cancelled or blocked ones above it;
    ``retry_failed`` every failed task; ``skip`` none itself; ``release`` the held task;
    ``resume``, and adopting a session that had not ended (``adopting``), whatever waits or
    ran. Each may then start every unfinished task below those. A call the task's state
    refuses starts nothing.

    Raises:
        UnknownTaskError: ``task`` is not one of ``states``.
    """
    if task is not None and task not in states:
        raise UnknownTaskError(task, list(states))
    state = {name: TaskStatus(value) for name, value in states.items()}
    dag = workflow.dag
    start: set[str] = set()
    below: set[str] = set()
    if action == "retry" and task is not None and state[task] in BROKEN_TASK_STATES:
        start = {task} | {name for name in dag.upstream(task) if state[name] in BROKEN_TASK_STATES}
    elif action == "retry_failed":
        start = {name for name, now in state.items() if now is TaskStatus.FAILED}
    elif action == "skip" and task is not None and state[task] not in FINE_TASK_STATES:
        below = {task}
    elif action == "release" and task is not None and state[task] is TaskStatus.PAUSED:
        start = {task}
    if adopting or action == "resume":
        start |= {
            name
            for name, now in state.items()
            if now in WAITING_TASK_STATES or now is TaskStatus.RUNNING
        }
    below |= start
    if below:
        start |= {name for name in dag.downstream(below) if state[name] not in FINE_TASK_STATES}
    return dag.sorted(start)


def session_drift(
    workspace: Path,
    store: Store,
    record: SessionRecord,
    action: str,
    task: str | None = None,
    *,
    adopting: bool = False,
    current: Workspace | None = None,
) -> list[Drift]:
    """:func:`definition_drift` of the tasks ``action`` may start in a session of the store
    (its stored definition, its tasks' states as the store has them).

    Raises:
        UnknownTaskError: ``task`` is not a task of the session.
    """
    stored = stored_project(store, record)
    states = {found.name: found.state for found in store.tasks(record.id)}
    names = tasks_started_by(
        stored.workflows[record.workflow], states, action, task, adopting=adopting
    )
    if not names:
        return []
    return definition_drift(workspace, stored, record.workflow, names, current=current)


def stored_project(store: Store, record: SessionRecord) -> ProjectSpec:
    """The project as the session stored it, rooted where it ran."""
    return load_snapshot(store.definition(record.id), Path(record.project_root))


def _folder(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()
