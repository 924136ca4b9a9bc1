"""Inventory a source tree: every .py file with its size and line counts -> JSON."""

from __future__ import annotations

import argparse
import ast
import io
import sys
import tokenize
from pathlib import Path
from typing import Any

from common import PROJECT_DIR, fail, write_json

SKIP_DIRS = {"__pycache__", ".git", ".venv", "venv", "node_modules", "out"}


def count_lines(text: str) -> dict[str, int]:
    """Total, blank, comment-only and code lines."""
    lines = text.splitlines()
    blank = sum(1 for line in lines if not line.strip())
    comment = sum(1 for line in lines if line.strip().startswith("#"))
    return {
        "lines": len(lines),
        "blank": blank,
        "comment": comment,
        "code": len(lines) - blank - comment,
    }


def describe(path: Path, root: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8", errors="replace")
    entry: dict[str, Any] = {
        "path": path.relative_to(root).as_posix(),
        "bytes": path.stat().st_size,
        **count_lines(text),
    }
    try:
        tree = ast.parse(text, str(path))
        list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (SyntaxError, tokenize.TokenError) as exc:
        entry["syntax_error"] = f"{type(exc).__name__}: {exc}"
        return entry
    entry["classes"] = sum(isinstance(n, ast.ClassDef) for n in ast.walk(tree))
    entry["functions"] = sum(
        isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) for n in ast.walk(tree)
    )
    entry["imports"] = sorted(
        {
            alias.name.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.Import)
            for alias in n.names
        }
        | {
            n.module.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module and not n.level
        }
    )
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--src",
        type=Path,
        default=Path("sample_src"),
        help="source tree (relative to the project folder, or absolute)",
    )
    parser.add_argument("--out", type=Path, default=Path("out/inventory.json"))
    args = parser.parse_args(argv)

    root = (args.src if args.src.is_absolute() else PROJECT_DIR / args.src).resolve()
    if not root.is_dir():
        fail(f"source tree {root} does not exist")
    print(f"inventory of {root}")
    files = sorted(
        p for p in root.rglob("*.py") if not SKIP_DIRS.intersection(p.relative_to(root).parts)
    )
    if not files:
        fail(f"no .py files under {root}")
    entries: list[dict[str, Any]] = []
    for path in files:
        entry = describe(path, root)
        entries.append(entry)
        note = f"  SYNTAX ERROR: {entry['syntax_error']}" if "syntax_error" in entry else ""
        print(f"  {entry['path']:<32} {entry['lines']:>5} lines {entry['bytes']:>7} bytes{note}")
    totals = {
        key: sum(e[key] for e in entries) for key in ("bytes", "lines", "code", "blank", "comment")
    }
    write_json(
        args.out,
        {
            "root": str(root),
            "src": str(args.src),
            "files": entries,
            "totals": {"files": len(entries), **totals},
        },
    )
    broken = sum("syntax_error" in e for e in entries)
    print(
        f"{len(entries)} files, {totals['lines']} lines ({totals['code']} code), "
        f"{broken} with syntax errors"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
