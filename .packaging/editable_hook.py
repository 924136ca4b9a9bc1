"""Hatchling build hook: an editable install maps the import package ``formicary`` onto the
source folders (``engine/`` is ``formicary``, ``tui/`` is ``formicary.tui``, ``tui/cli/`` is
``formicary.cli``), the same names a wheel installs.

A wheel gets this from ``[tool.hatch.build.targets.wheel.sources]``; hatchling's own editable
installs cannot rename a folder (only strip a prefix), so for them this hook writes a small
import finder and a ``.pth`` file that loads it. ``engine`` and ``tui`` are not importable by
those names in either install.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

FINDER = '''"""formicary, installed for development: the package names map onto the source folders."""

import importlib.abc
import importlib.util
import sys

_FOLDERS = {folders!r}


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        folder = _FOLDERS.get(name)
        if folder is None:
            return None
        return importlib.util.spec_from_file_location(
            name, folder + "/__init__.py", submodule_search_locations=[folder]
        )


sys.meta_path.insert(0, _Finder())
'''


class EditableHook(BuildHookInterface):  # type: ignore[type-arg]
    """Adds the finder to editable wheels; regular wheels are left to ``sources``."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version != "editable":
            return
        folders = {
            "formicary": os.path.join(self.root, "engine"),
            "formicary.tui": os.path.join(self.root, "tui"),
            "formicary.cli": os.path.join(self.root, "tui", "cli"),
        }
        staging = tempfile.mkdtemp(prefix="formicary-editable-")
        finder = os.path.join(staging, "_formicary_editable.py")
        with open(finder, "w", encoding="utf-8") as file:
            file.write(FINDER.format(folders=folders))
        pth = os.path.join(staging, "_formicary_editable.pth")
        with open(pth, "w", encoding="utf-8") as file:
            file.write("import _formicary_editable\n")
        build_data["force_include_editable"] = {
            finder: "_formicary_editable.py",
            pth: "_formicary_editable.pth",
        }
