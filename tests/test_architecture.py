"""The package's import graph points one way and has no circles.

``formicary``'s layers, lowest first: ``errors``; ``model`` (definitions); ``run`` (the
scheduler); ``store``; ``api``; ``mcp`` and ``docs`` beside each other; ``tui`` and ``cli`` on
top. A module may import its own layer and those below it, never one above (a function-level
import counts too: it is the same dependency, only later), and the modules' top-level imports
have no cycle. ``engine`` code never imports Textual.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import formicary
import formicary.cli
import formicary.tui

LAYERS = {
    "errors": 0,
    "model": 1,
    "run": 2,
    "store": 3,
    "api": 4,
    "mcp": 5,
    "docs": 5,
    "tui": 6,
    "cli": 6,
}
ROOTS = {
    "formicary": Path(formicary.__file__).parent,
    "formicary.tui": Path(formicary.tui.__file__).parent,
    "formicary.cli": Path(formicary.cli.__file__).parent,
}


def modules() -> Iterator[tuple[str, Path]]:
    """Every module of the package: its dotted name and its file."""
    for package, folder in ROOTS.items():
        for file in sorted(folder.rglob("*.py")):
            parts = file.relative_to(folder).with_suffix("").parts
            if package == "formicary" and parts[0] in ("tui", "cli"):
                continue
            if package == "formicary.tui" and parts[0] == "cli":
                continue  # tui/cli/ is formicary.cli
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join((package, *parts)), file


def layer(module: str) -> int | None:
    """The layer of a formicary module; None for the package root (the public API)."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    return LAYERS[parts[1]]


def imports(name: str, file: Path) -> Iterator[tuple[str, bool, int]]:
    """(module imported, at top level, line) for every formicary import of ``file``."""
    tree = ast.parse(file.read_text(encoding="utf-8"))
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (
                importlib.util.resolve_name("." * node.level + (node.module or ""), package)
                if node.level
                else node.module or ""
            )
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in KNOWN else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target == "formicary" or target.startswith("formicary."):
                yield target, id(node) in top, node.lineno


KNOWN = {name for name, _ in modules()}


def test_no_module_imports_a_layer_above_its_own() -> None:
    wrong = []
    for name, file in modules():
        own = layer(name)
        if own is None:
            continue
        for target, _top, line in imports(name, file):
            theirs = layer(target)
            if theirs is None or theirs > own:
                wrong.append(f"{file}:{line}: {name} imports {target}")
    assert wrong == []


def test_top_level_imports_have_no_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for name, file in modules():
        graph[name] = {target for target, top, _ in imports(name, file) if top and target in KNOWN}
    seen: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if seen.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt])
            elif nxt not in seen:
                visit(nxt, [*path, nxt])
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            visit(node, [node])
    assert cycles == []


def test_the_engine_never_imports_textual() -> None:
    wrong = []
    for name, file in modules():
        if name.startswith(("formicary.tui", "formicary.cli")):
            continue
        tree = ast.parse(file.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            wrong += [f"{name}: {n}" for n in names if n.split(".")[0] == "textual"]
    assert wrong == []


def test_every_module_starts_with_a_docstring_of_what_it_owns() -> None:
    missing = [
        name
        for name, file in modules()
        if ".templates." not in name and not ast.get_docstring(ast.parse(file.read_text()))
    ]
    assert not missing, missing
