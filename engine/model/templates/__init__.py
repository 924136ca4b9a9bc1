"""Project templates for ``formicary new NAME --template TYPE``: one small runnable project each.

Every template is a folder next to this module, named after its
:class:`~formicary.model.records.ProjectType` value. ``template.toml`` in it holds the project
definition without ``project.name`` (the writer fills that in before dumping it with tomli-w); every
other file in the folder is a file of the new project, at the same relative path (``__pycache__``
folders and ``*.pyc`` files are skipped). Each project needs nothing but ``python3`` (standard
library) and ``sh``; its tasks run from the project folder, write under ``out/`` (git-ignored) and
can be run again and again.

The folders are read with :mod:`importlib.resources`, so they work from a source checkout and from
an installed wheel alike. They are plain data, not Python packages: no ``__init__.py`` of their own
(a template's ``app/__init__.py`` or ``tests/__init__.py`` is just a file of the generated project).

``TEMPLATES`` is built once, at import. Its templates are shared, so they cannot be changed through
it: ``files`` is a read-only mapping of immutable strings, and ``definition`` is a read-only mapping
that hands out a deep copy of a value on every lookup (``dict(definition)`` or
``copy.deepcopy(definition)`` gives a private, mutable copy).
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterator, Mapping
from importlib.resources import files
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Any

from formicary.model.records import ProjectTemplate, ProjectType

__all__ = ["TEMPLATES"]

DEFINITION = "template.toml"
SKIPPED_DIRS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = (".pyc",)

# Names shown by ``formicary new`` for each type; the description is ``project.description``.
NAMES: dict[ProjectType, str] = {
    ProjectType.DATA_PIPELINE: "Data pipeline",
    ProjectType.WEB_APPLICATION: "Web application",
    ProjectType.AI_ANALYSIS: "Code analysis",
    ProjectType.MACHINE_LEARNING: "Machine learning sweep",
    ProjectType.AUTOMATION: "Backup automation",
    ProjectType.RESEARCH: "Research experiment",
    ProjectType.CUSTOM: "Custom",
}


class FrozenDefinition(Mapping[str, Any]):
    """A read-only view of a parsed definition whose lookups return deep copies.

    Changing what a lookup returned never changes the template, so callers can't corrupt the
    definition that every ``formicary new`` starts from.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = copy.deepcopy(dict(data))

    def __getitem__(self, key: str) -> Any:
        return copy.deepcopy(self._data[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return copy.deepcopy(self._data, memo)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"


def _walk(folder: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    """Every file under ``folder`` as (relative POSIX path, file), in sorted order."""
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        relative = f"{prefix}{entry.name}"
        if entry.is_dir():
            if entry.name not in SKIPPED_DIRS:
                yield from _walk(entry, f"{relative}/")
        elif not entry.name.endswith(SKIPPED_SUFFIXES):
            yield relative, entry


def _load(kind: ProjectType, root: Traversable) -> ProjectTemplate:
    """The template of ``kind`` from its folder under ``root``.

    Raises:
        FileNotFoundError: The folder or its template.toml is missing (a broken install).
        tomllib.TOMLDecodeError: template.toml is not valid TOML.
    """
    folder = root / kind.value
    if not folder.is_dir():
        raise FileNotFoundError(f"template folder for {kind.value!r} is missing: {folder}")
    definition = tomllib.loads((folder / DEFINITION).read_text(encoding="utf-8"))
    texts = {
        relative: entry.read_text(encoding="utf-8")
        for relative, entry in _walk(folder)
        if relative != DEFINITION
    }
    description = definition.get("project", {}).get("description", "")
    return ProjectTemplate(
        name=NAMES[kind],
        type=kind,
        description=description,
        definition=FrozenDefinition(definition),
        files=MappingProxyType(texts),
    )


def load_templates() -> dict[ProjectType, ProjectTemplate]:
    """Read every template folder afresh: one template per ProjectType, in declaration order."""
    root = files(__name__)
    return {kind: _load(kind, root) for kind in ProjectType}


TEMPLATES: dict[ProjectType, ProjectTemplate] = load_templates()
