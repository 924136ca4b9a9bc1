"""``WorkflowManager``: workflows built in code from :class:`~formicary.model.records.WorkflowStep`
values (or plain mappings, see :func:`workflow_steps`), and the workspace's own, run on the same
engine as every other session.

A workflow built in code is turned into the same table a definition file holds and checked
by the same validator, so an unknown dependency or a cycle is refused with the same message
a file would get. Code-built workflows belong to one project (``api`` unless named), whose
tasks run from the workspace folder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from difflib import get_close_matches
from typing import Any

from formicary.api.orchestration import OrchestrationEngine
from formicary.errors import UnknownProjectError, UnknownWorkflowError, UsageError
from formicary.model.definitions import parse_project
from formicary.model.records import TaskPriority, WorkflowExecution, WorkflowStep
from formicary.model.specs import ProjectSpec, WorkflowSpec, default_pools
from formicary.model.targets import resolve_target, split_target

_STEP_FIELDS = {field.name for field in dataclasses.fields(WorkflowStep)}
_STEP_ALIASES = {"dependencies": "depends_on", "args": "params", "run": "command"}


class WorkflowManager:
    """Create, list and run workflows.

    Args:
        engine: The engine sessions run on (a new one on the current folder when omitted).
        project: The project code-built workflows belong to.
        pools: Resource pools of that project (default: ``cpu`` = the machine's cores).
    """

    def __init__(
        self,
        engine: OrchestrationEngine | None = None,
        *,
        project: str = "api",
        pools: Mapping[str, int] | None = None,
    ) -> None:
        self.engine = engine or OrchestrationEngine()
        self.project_name = project
        self._pools = dict(default_pools() if pools is None else pools)
        self._workflows: dict[str, WorkflowSpec] = {}

    def create_workflow(
        self,
        name: str,
        steps: Sequence[WorkflowStep | Mapping[str, Any]],
        *,
        description: str = "",
        max_parallel: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> WorkflowSpec:
        """Check ``steps`` (WorkflowStep values, or mappings as :func:`workflow_steps` reads
        them) as a definition file would be checked, and keep the workflow.

        Raises:
            DefinitionError: Unknown dependencies, a cycle, bad values… (every problem).
            UsageError: ``steps`` is not a list of steps, a step is malformed, or the name
                is taken.
        """
        if name in self._workflows:
            raise UsageError(f"workflow {name!r} already exists; delete_workflow() it first")
        if isinstance(steps, (str, bytes, Mapping)) or not isinstance(steps, Iterable):
            raise UsageError("steps: must be a list of WorkflowStep values or mappings")
        made = workflow_steps(steps)
        table: dict[str, Any] = {"tasks": {step.name: _step_table(step) for step in made}}
        if len(table["tasks"]) != len(made):
            raise UsageError(f"workflow {name!r}: two steps have the same name")
        if description:
            table["description"] = description
        if max_parallel is not None:
            table["max_parallel"] = max_parallel
        if params:
            table["params"] = dict(params)
        document = {
            "project": {"name": self.project_name},
            "resources": self._pools,
            "workflows": {name: table},
        }
        spec = parse_project(document, self.engine.workspace / f"workflow {name}")
        workflow = spec.workflows[name]
        self._workflows[name] = workflow
        return workflow

    def delete_workflow(self, name: str) -> None:
        """Forget a code-built workflow (its recorded runs stay in the store)."""
        self._code(name)
        del self._workflows[name]

    def get_workflow(self, name: str) -> WorkflowSpec:
        """A code-built workflow by name, or a workspace one as ``PROJECT:WORKFLOW``.

        Raises:
            UnknownWorkflowError, UnknownProjectError, DefinitionError.
        """
        return self._resolve(name)[1]

    def list_workflows(self) -> list[str]:
        """Code-built workflows by name, then the workspace's as ``PROJECT:WORKFLOW``."""
        names = list(self._workflows)
        for project in self.engine.load().projects.values():
            names.extend(f"{project.name}:{workflow}" for workflow in project.workflows)
        return names

    def execute_workflow(self, name: str, /, **params: Any) -> WorkflowExecution:
        """Start a workflow now; the returned record follows the run (see :meth:`wait`)."""
        project, workflow = self._resolve(name)
        return self.engine.start(project, workflow, params)

    def wait(self, execution: WorkflowExecution, timeout: float | None = None) -> WorkflowExecution:
        """Block until ``execution`` (what :meth:`execute_workflow` returned) has finished;
        return it, final status and step results filled in. Always that WorkflowExecution.

        Raises:
            TypeError: ``execution`` is not a WorkflowExecution (a session id is waited for
                with :meth:`OrchestrationEngine.wait`).
            TimeoutError: Still running after ``timeout`` seconds (it keeps running).
        """
        if not isinstance(execution, WorkflowExecution):
            raise TypeError(
                "WorkflowManager.wait() takes the WorkflowExecution that execute_workflow() "
                f"returned, not {type(execution).__name__}"
            )
        self.engine.wait(execution, timeout)
        return execution

    def _resolve(self, name: str) -> tuple[ProjectSpec, WorkflowSpec]:
        if name in self._workflows:
            return self._code_project(), self._workflows[name]
        if split_target(name)[1] is None:
            try:
                return resolve_target(self.engine.workspace, name)
            except UnknownProjectError:
                raise UnknownWorkflowError(self.project_name, name, self._workflows) from None
        return resolve_target(self.engine.workspace, name)

    def _code(self, name: str) -> WorkflowSpec:
        if name not in self._workflows:
            raise UnknownWorkflowError(self.project_name, name, self._workflows)
        return self._workflows[name]

    def _code_project(self) -> ProjectSpec:
        root = self.engine.workspace
        return ProjectSpec(
            name=self.project_name,
            workflows=dict(self._workflows),
            resources=dict(self._pools),
            root=root,
            file=root / f"workflows of {self.project_name}",
        )


def workflow_steps(steps: Iterable[Mapping[str, Any] | WorkflowStep]) -> list[WorkflowStep]:
    """WorkflowStep values from plain mappings (``name``, ``command`` or ``module`` +
    ``action``, ``params``, ``depends_on``, ``priority``, ``retries``, ``timeout``,
    ``resources``, ``description``); WorkflowStep values pass through.

    (This was ``create_workflow_steps(steps)`` before that name went back to the seed
    library's meaning, ``create_workflow_steps(name, steps)`` in :mod:`formicary.api.functions`.)

    Raises:
        UsageError: A key is unknown or a value has the wrong type.
    """
    made: list[WorkflowStep] = []
    for index, raw in enumerate(steps):
        if isinstance(raw, WorkflowStep):
            made.append(raw)
            continue
        if not isinstance(raw, Mapping):
            raise UsageError(f"steps[{index}]: must be a mapping, not {type(raw).__name__}")
        values: dict[str, Any] = {}
        for key, value in raw.items():
            field = _STEP_ALIASES.get(key, key)
            if field not in _STEP_FIELDS:
                close = get_close_matches(str(key), sorted(_STEP_FIELDS), n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                raise UsageError(f"steps[{index}]: unknown key {key!r}{hint}")
            values[field] = value
        if not isinstance(values.get("name"), str):
            raise UsageError(f"steps[{index}]: needs a name (a string)")
        if isinstance(values.get("depends_on"), str):
            values["depends_on"] = (values["depends_on"],)
        elif "depends_on" in values:
            values["depends_on"] = tuple(values["depends_on"])
        if "priority" in values:
            try:
                values["priority"] = TaskPriority(values["priority"])
            except ValueError:
                choices = ", ".join(p.value for p in TaskPriority)
                raise UsageError(
                    f"steps[{index}].priority {values['priority']!r}: one of {choices}"
                ) from None
        made.append(WorkflowStep(**values))
    return made


def _step_table(step: WorkflowStep) -> dict[str, Any]:
    """The step as the task table a definition file would hold."""
    return task_table(
        command=step.command,
        module=step.module,
        action=step.action,
        params=step.params,
        depends_on=step.depends_on,
        description=step.description,
        priority=step.priority,
        retries=step.retries,
        timeout=step.timeout,
        resources=step.resources,
    )


def task_table(
    *,
    command: str | None,
    module: str | None,
    action: str | None,
    params: Mapping[str, Any],
    depends_on: Sequence[str] = (),
    description: str = "",
    priority: TaskPriority | str = TaskPriority.NORMAL,
    retries: int = 0,
    timeout: float | None = None,
    resources: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """A task built in code as the table a definition file would hold, so the file's
    validator checks it (``run`` for a command, ``call`` for ``module:action``)."""
    table: dict[str, Any] = {}
    if command is not None:
        table["run"] = command
    if module is not None or action is not None:
        table["call"] = f"{module or ''}:{action or ''}"
    if params:
        table["args"] = dict(params)
    if depends_on:
        table["depends_on"] = list(depends_on)
    if description:
        table["description"] = description
    if priority != TaskPriority.NORMAL:
        table["priority"] = TaskPriority(priority).value
    if retries:
        table["retries"] = retries
    if timeout is not None:
        table["timeout"] = timeout
    if resources:
        table["resources"] = dict(resources)
    return table
