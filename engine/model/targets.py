"""Resolve what a user names on the command line (``PROJECT[:WORKFLOW]``) to specs."""

from __future__ import annotations

from pathlib import Path

from formicary.errors import DefinitionError, UnknownProjectError, UnknownWorkflowError
from formicary.model.definitions import (
    DEFINITION_FILE,
    Workspace,
    load_project_file,
    load_workspace,
)
from formicary.model.specs import ProjectSpec, WorkflowSpec


def split_target(target: str) -> tuple[str, str | None]:
    """``"proj:wf"`` → ``("proj", "wf")``; ``"proj"`` → ``("proj", None)``."""
    project, sep, workflow = target.rpartition(":")
    if not sep or not project or "/" in workflow:
        return target, None
    return project, workflow or None


def resolve_project(workspace: Path | Workspace, name: str) -> ProjectSpec:
    """The project called ``name`` in the workspace, or at the path ``name``.

    Raises:
        DefinitionError: The project's file is invalid.
        UnknownProjectError: Nothing matches.
    """
    path = Path(name)
    if path.name == DEFINITION_FILE or (path.is_dir() and (path / DEFINITION_FILE).is_file()):
        file = path if path.name == DEFINITION_FILE else path / DEFINITION_FILE
        if file.is_file():
            spec, issues = load_project_file(file)
            if spec is None:
                raise DefinitionError(issues)
            return spec
    loaded = workspace if isinstance(workspace, Workspace) else load_workspace(workspace)
    if name in loaded.projects:
        return loaded.projects[name]
    broken = [
        issue for issue in loaded.issues if Path(issue.file).parent.name == name.replace("-", "_")
    ]
    if broken:
        raise DefinitionError(broken)
    raise UnknownProjectError(name, loaded.projects)


def resolve_workflow(project: ProjectSpec, name: str | None) -> WorkflowSpec:
    """The named workflow, or the only one when ``name`` is None.

    Raises:
        UnknownWorkflowError: No such workflow, or several and none named.
    """
    if name is None:
        if len(project.workflows) == 1:
            return next(iter(project.workflows.values()))
        raise UnknownWorkflowError(project.name, None, project.workflows)
    try:
        return project.workflows[name]
    except KeyError:
        raise UnknownWorkflowError(project.name, name, project.workflows) from None


def resolve_target(workspace: Path | Workspace, target: str) -> tuple[ProjectSpec, WorkflowSpec]:
    """Resolve ``PROJECT[:WORKFLOW]`` against the workspace."""
    project_name, workflow_name = split_target(target)
    project = resolve_project(workspace, project_name)
    return project, resolve_workflow(project, workflow_name)
