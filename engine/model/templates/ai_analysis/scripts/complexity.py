"""Score every function of a folder with ast (branches, length) into out/functions.json."""

import ast
import json
import sys
from pathlib import Path

BRANCHES = (
    ast.If,
    ast.For,
    ast.While,
    ast.IfExp,
    ast.ExceptHandler,
    ast.With,
    ast.Assert,
    ast.comprehension,
)


def complexity(node: ast.AST) -> int:
    """McCabe-style score: 1 + branches + extra operands of and/or."""
    score = 1
    for child in ast.walk(node):
        if isinstance(child, BRANCHES):
            score += 1
        elif isinstance(child, ast.BoolOp):
            score += len(child.values) - 1
    return score


def functions(path: Path) -> list:
    """Every function of one file with its size, score and whether it is documented."""
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except SyntaxError as error:
        sys.exit(f"complexity: error: {path}:{error.lineno}: {error.msg}")
    return [
        {
            "file": path.as_posix(),
            "function": node.name,
            "line": node.lineno,
            "length": node.end_lineno - node.lineno + 1,
            "complexity": complexity(node),
            "documented": ast.get_docstring(node) is not None,
        }
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    found = []
    for path in sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts):
        found += functions(path)
        print(f"complexity: scanned {path} ({len(found)} functions so far)")
    if not found:
        sys.exit(f"complexity: error: no Python functions under {root}")
    Path("out").mkdir(exist_ok=True)
    Path("out/functions.json").write_text(json.dumps(found, indent=2) + "\n")
    print(f"complexity: wrote out/functions.json ({len(found)} functions)")


if __name__ == "__main__":
    main()
