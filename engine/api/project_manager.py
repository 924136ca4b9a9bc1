"""``ProjectManager``: the workspace's projects as the API reports them, and new projects
written from templates."""

from __future__ import annotations

from pathlib import Path

from formicary.errors import DefinitionIssue, UnknownProjectError, UsageError
from formicary.model.definitions import load_workspace
from formicary.model.records import Project, ProjectStatus, ProjectTemplate, ProjectType
from formicary.model.scaffold import create_project as write_project
from formicary.model.scaffold import parse_project_type
from formicary.model.specs import ProjectSpec
from formicary.model.templates import TEMPLATES
from formicary.model.workspace_files import Workspace


class ProjectManager:
    """Lists, describes and creates the projects of one workspace.

    Args:
        workspace: The workspace folder (definitions are read afresh on every call, so
            edits on disk show at once).
    """

    def __init__(self, workspace: str | Path = ".") -> None:
        self.workspace = Path(workspace).resolve()

    def list_projects(self) -> list[Project]:
        """Every project: valid ones ``active``, ones whose file has errors ``invalid``."""
        loaded = load_workspace(self.workspace)
        projects = [_project(spec) for spec in loaded.projects.values()]
        for file in loaded.invalid_files:
            projects.append(
                Project(name=file.parent.name, path=file.parent, status=ProjectStatus.INVALID)
            )
        return sorted(projects, key=lambda project: project.name)

    def get_project(self, name: str) -> Project:
        """One project by name.

        Raises:
            UnknownProjectError: No project of that name.
        """
        for project in self.list_projects():
            if project.name == name:
                return project
        raise UnknownProjectError(name, load_workspace(self.workspace).projects)

    def validate(self) -> list[DefinitionIssue]:
        """Every problem of every definition file (empty when all are valid)."""
        return list(load_workspace(self.workspace).issues)

    def workspace_definitions(self) -> Workspace:
        """The loaded definitions themselves (specs of the valid projects)."""
        return load_workspace(self.workspace)

    def get_templates(self) -> list[ProjectTemplate]:
        """One template per project type."""
        return list(TEMPLATES.values())

    def create_project(
        self,
        name: str,
        description: str | None = None,
        template: ProjectType | ProjectTemplate | str | None = None,
    ) -> Project:
        """Write a runnable project ``name`` from ``template`` (a ProjectType, a template or
        its name; None: ``custom``) into the workspace. ``description`` replaces the
        template's when given.

        Raises:
            UsageError: Bad name or template, the folder exists, or it would land outside
                the workspace.
        """
        if template is None:
            kind = ProjectType.CUSTOM
        elif isinstance(template, ProjectTemplate):
            kind = template.type
        elif isinstance(template, ProjectType):
            kind = template
        elif isinstance(template, str):
            kind = parse_project_type(template)
        else:
            raise UsageError(f"template {template!r}: a ProjectType, ProjectTemplate or name")
        folder = write_project(self.workspace, name, kind, description)
        return self.get_project_at(folder)

    def get_project_at(self, folder: Path) -> Project:
        """The project defined in ``folder``."""
        loaded = load_workspace(folder)
        spec = next(iter(loaded.projects.values()))
        return _project(spec)


def _project(spec: ProjectSpec) -> Project:
    return Project(
        name=spec.name,
        path=spec.root,
        description=spec.description,
        type=spec.type,
        version=spec.version,
        status=ProjectStatus.ACTIVE,
        workflows=tuple(spec.workflows),
    )
