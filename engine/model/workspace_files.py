"""Find and load a workspace's definition files, keeping out the ones that lead outside it.

A workspace is a folder; every ``formicary.toml`` in it or below it is one project. Links
are not followed into the walk (as ``os.walk`` does not by default), and a definition file
or project folder whose real path lies outside the workspace is refused with an issue
naming the link: a workspace handed to formicary (or to an agent driving it over MCP) must
not run commands defined somewhere nobody looked. A linked folder whose real path lies
inside the workspace is skipped silently, as before: following it would load the project
it points to a second time.

:mod:`formicary.model.definitions` re-exports these names; import them from there.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from formicary.errors import DefinitionError, DefinitionIssue, UsageError
from formicary.model.specs import ProjectSpec

DEFINITION_FILE = "formicary.toml"
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "venv"})


@dataclass(frozen=True)
class Workspace:
    """Every project found under ``root``, and every problem found on the way.

    ``projects`` holds only the valid projects; ``issues`` lists the problems of the others,
    and ``invalid_files`` the files they came from.
    """

    root: Path
    projects: Mapping[str, ProjectSpec] = field(default_factory=dict)
    issues: tuple[DefinitionIssue, ...] = ()
    invalid_files: tuple[Path, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every definition file is valid."""
        return not self.issues

    def raise_for_issues(self) -> None:
        """Raise :class:`DefinitionError` when any file is invalid."""
        if self.issues:
            raise DefinitionError(self.issues)


def load_workspace(root: str | os.PathLike[str]) -> Workspace:
    """Load and validate every project of the workspace at ``root``.

    ``root`` may also be a single project folder or a ``formicary.toml`` file; the folder
    given (the file's folder) is then the workspace. A definition file or project folder
    whose real path lies outside the workspace is an issue, and no project of the
    workspace, not even an invalid one (it is not in ``invalid_files``): it is not read.

    Raises:
        UsageError: ``root`` does not exist.
    """
    from formicary.model.definitions import issue_at, load_project_file  # it imports this module

    path = Path(root)
    issues: list[DefinitionIssue] = []
    if path.is_file():
        files, base = [path], path.parent
    elif path.is_dir():
        (files, issues), base = scan_workspace(path), path
    else:
        raise UsageError(f"{root}: no such file or folder")
    workspace = base.resolve()
    projects: dict[str, ProjectSpec] = {}
    invalid: list[Path] = []
    for file in files:
        outside = outside_issue(file, workspace)
        if outside is not None:
            issues.append(outside)
            continue
        with _gc_paused():
            spec, file_issues = load_project_file(file, workspace)
        if spec is not None and spec.name in projects:
            other = display_path(projects[spec.name].file)
            file_issues = [
                issue_at(
                    file,
                    ("project", "name"),
                    f'project name "{spec.name}" is already used by {other}',
                )
            ]
            spec = None
        if spec is None:
            issues.extend(file_issues)
            invalid.append(file)
        else:
            projects[spec.name] = spec
    return Workspace(workspace, projects, tuple(issues), tuple(invalid))


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic structures.

    Parsing a 100,000-task file allocates millions of dicts and tuples, and the collector's
    repeated full passes over them doubled the load time (measured: 1.7 s → 3.1 s).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def scan_workspace(root: Path) -> tuple[list[Path], list[DefinitionIssue]]:
    """Every ``formicary.toml`` in ``root`` or below it (hidden and vendored folders
    skipped, links not followed), and, for each linked folder that holds one and leads
    outside the workspace, an issue naming it (its file is not read)."""
    workspace = root.resolve()
    found: list[Path] = []
    refused: list[DefinitionIssue] = []
    for folder, dirs, files in os.walk(root):
        kept = []
        for name in sorted(dirs):
            if name.startswith(".") or name in SKIPPED_DIRS:
                continue
            path = Path(folder) / name
            if not path.is_symlink():
                kept.append(name)
            elif not _inside(path, workspace) and (path / DEFINITION_FILE).is_file():
                shown = display_link(path)
                message = f"{shown} is a link to {os.path.realpath(path)}, outside the workspace"
                refused.append(
                    DefinitionIssue(os.path.join(shown, DEFINITION_FILE), 0, "", message)
                )
        dirs[:] = kept
        if DEFINITION_FILE in files:
            found.append(Path(folder) / DEFINITION_FILE)
    return found, refused


def find_definition_files(root: Path) -> list[Path]:
    """Every ``formicary.toml`` in ``root`` or below it, skipping hidden and vendored folders
    and not following links (see :func:`scan_workspace`)."""
    return scan_workspace(root)[0]


def outside_issue(file: Path, workspace: Path) -> DefinitionIssue | None:
    """The issue of a definition file whose real path lies outside ``workspace`` (a
    resolved folder), or None when it lies inside."""
    if _inside(file, workspace):
        return None
    real = os.path.realpath(file)
    return DefinitionIssue(display_link(file), 0, "", f"is a link to {real}, outside the workspace")


def _inside(path: Path, workspace: Path) -> bool:
    """True when the real path of ``path`` lies in ``workspace`` (a resolved folder)."""
    return Path(os.path.realpath(path)).is_relative_to(workspace)


def display_path(path: Path) -> str:
    """``path`` relative to the current folder when it lies below it, else as absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path.resolve())


def display_link(path: Path) -> str:
    """``path`` as :func:`display_path` shows it, but with its last part as written: a link
    is named by where it is, not by where it leads."""
    return os.path.join(display_path(path.parent), path.name)
