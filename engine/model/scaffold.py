"""Write new projects from templates: names checked, never outside the workspace, never over
an existing folder, the definition written with tomli-w."""

from __future__ import annotations

import copy
from pathlib import Path

import tomli_w
from formicary.errors import DefinitionError, UsageError
from formicary.model.definitions import DEFINITION_FILE, PROJECT_NAME, load_project_file
from formicary.model.records import ProjectType
from formicary.model.templates import TEMPLATES


def parse_project_type(value: str) -> ProjectType:
    """The ProjectType named ``value`` (its value, case-insensitive, ``-`` read as ``_``).

    Raises:
        UsageError: No such type.
    """
    normalised = value.strip().lower().replace("-", "_")
    for kind in ProjectType:
        if kind.value == normalised:
            return kind
    choices = ", ".join(kind.value for kind in ProjectType)
    raise UsageError(f"--template {value}: unknown template (templates: {choices})")


def create_project(
    workspace: Path, name: str, kind: ProjectType, description: str | None = None
) -> Path:
    """Write a runnable project ``name`` of type ``kind`` into ``workspace``; return its folder.

    Raises:
        UsageError: The name is invalid, the folder exists, or the workspace is not a folder.
    """
    if not PROJECT_NAME.match(name):
        raise UsageError(
            f"{name!r} is not a valid project name: use lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    workspace = workspace.resolve()
    if not workspace.is_dir():
        raise UsageError(f"{workspace}: workspace folder does not exist")
    folder = (workspace / name).resolve()
    if folder.parent != workspace:
        raise UsageError(f"{name!r}: the project folder must be inside {workspace}")
    if folder.exists():
        raise UsageError(f"{folder}: already exists; choose another name or remove it")
    template = TEMPLATES[kind]
    definition = copy.deepcopy(dict(template.definition))
    project_table = dict(definition.get("project", {}))
    project_table["name"] = name
    if description is not None:
        project_table["description"] = description
    definition["project"] = {"name": name, **project_table}
    folder.mkdir()
    for relative, text in template.files.items():
        target = (folder / relative).resolve()
        if not target.is_relative_to(folder):
            raise UsageError(f"template file {relative!r} would land outside {folder}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    file = folder / DEFINITION_FILE
    file.write_text(tomli_w.dumps(definition), encoding="utf-8")
    _, issues = load_project_file(file)
    if issues:
        raise DefinitionError(issues)
    return folder
