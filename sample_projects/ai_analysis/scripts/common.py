"""Helpers shared by the analysis scripts: reading the inventory, walking functions, JSON."""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def fail(message: str) -> None:
    """Print an error and exit with status 1."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(1)


def read_json(path: Path) -> Any:
    if not path.is_file():
        fail(f"{path} is missing (did the upstream task run?)")
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"written to {path}")


def parsed_files(inventory_path: Path) -> Iterator[tuple[str, Path, ast.Module]]:
    """(relative path, absolute path, syntax tree) of every parseable file in the inventory."""
    inventory = read_json(inventory_path)
    root = Path(inventory["root"])
    for entry in inventory["files"]:
        if entry.get("syntax_error"):
            print(f"  skipping {entry['path']}: {entry['syntax_error']}")
            continue
        path = root / entry["path"]
        yield entry["path"], path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def walk_functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, FunctionNode]]:
    """Every function in a tree with its qualified name (Class.method, outer.<locals>.inner)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.ClassDef):
            yield from walk_functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, FunctionNode):
            qualname = f"{prefix}{node.name}"
            yield qualname, node
            yield from walk_functions(node, f"{qualname}.<locals>.")
        else:
            yield from walk_functions(node, prefix)
