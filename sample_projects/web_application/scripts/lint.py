"""Lint the project's Python files: byte-compile each with py_compile, then check the style.

Errors (exit 1): syntax errors, lines longer than --max-line, tab indentation, trailing spaces.
"""

from __future__ import annotations

import argparse
import py_compile
import sys
import tempfile
from pathlib import Path


def style_problems(path: Path, max_line: int) -> list[str]:
    """Line-level problems in one file, as 'path:line: message'."""
    problems = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if len(line) > max_line:
            problems.append(f"{path}:{no}: line too long ({len(line)} > {max_line})")
        if line.startswith("\t"):
            problems.append(f"{path}:{no}: indented with a tab")
        if line != line.rstrip():
            problems.append(f"{path}:{no}: trailing whitespace")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", nargs="+", type=Path, help="files or folders to lint")
    parser.add_argument("--max-line", type=int, default=100)
    args = parser.parse_args(argv)

    files: list[Path] = []
    for p in args.paths:
        if p.is_dir():
            files += sorted(f for f in p.rglob("*.py") if "__pycache__" not in f.parts)
        elif p.is_file():
            files.append(p)
        else:
            print(f"error: {p} does not exist", file=sys.stderr)
            return 1
    if not files:
        print("error: no Python files found", file=sys.stderr)
        return 1

    problems: list[str] = []
    # Compile into a scratch folder so linting leaves no __pycache__ behind.
    with tempfile.TemporaryDirectory(prefix="lint-") as scratch:
        for i, f in enumerate(files):
            try:
                py_compile.compile(str(f), cfile=str(Path(scratch) / f"{i}.pyc"), doraise=True)
            except py_compile.PyCompileError as exc:
                problems.append(f"{f}: syntax error: {exc.msg.strip()}")
                print(f"  FAIL {f}")
                continue
            found = style_problems(f, args.max_line)
            problems += found
            print(f"  {'FAIL' if found else 'ok  '} {f}")

    print(f"checked {len(files)} files")
    if problems:
        print(f"{len(problems)} problem(s):", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    print("lint passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
