"""Cyclomatic complexity of every function: 1 + the number of branch points in its body.

Counted: if/elif, for, while, except, conditional expressions, assert, each extra operand of
`and`/`or`, each `for` and `if` of a comprehension, each `case` of a match. Nested functions
and classes are measured on their own, not added to the enclosing function.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from common import parsed_files, walk_functions, write_json

BRANCHES = (
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.ExceptHandler,
    ast.IfExp,
    ast.Assert,
    ast.match_case,
)
GRADES = ((5, "A"), (10, "B"), (20, "C"), (30, "D"), (40, "E"))


def complexity(func: ast.AST) -> int:
    score = 1
    stack = list(ast.iter_child_nodes(func))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue  # measured separately
        if isinstance(node, BRANCHES):
            score += 1
        elif isinstance(node, ast.BoolOp):
            score += len(node.values) - 1
        elif isinstance(node, ast.comprehension):
            score += 1 + len(node.ifs)
        stack.extend(ast.iter_child_nodes(node))
    return score


def grade(score: int) -> str:
    return next((letter for limit, letter in GRADES if score <= limit), "F")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inventory", type=Path, default=Path("out/inventory.json"))
    parser.add_argument("--out", type=Path, default=Path("out/complexity.json"))
    parser.add_argument(
        "--threshold", type=int, default=10, help="functions above this score are flagged"
    )
    args = parser.parse_args(argv)

    results = []
    for rel, _path, tree in parsed_files(args.inventory):
        scores = [
            {"name": q, "file": rel, "line": n.lineno, "complexity": complexity(n)}
            for q, n in walk_functions(tree)
        ]
        for s in scores:
            s["grade"] = grade(int(s["complexity"]))
        results += scores
        worst = max((int(s["complexity"]) for s in scores), default=0)
        print(f"  {rel:<32} {len(scores):>3} functions, max complexity {worst}")
    results.sort(key=lambda r: (-int(r["complexity"]), r["file"], r["line"]))
    flagged = [r for r in results if int(r["complexity"]) > args.threshold]
    average = sum(int(r["complexity"]) for r in results) / len(results) if results else 0.0
    write_json(
        args.out,
        {
            "threshold": args.threshold,
            "average": round(average, 2),
            "functions": results,
            "flagged": [r["name"] for r in flagged],
        },
    )
    print(f"average complexity {average:.2f} over {len(results)} functions")
    for r in flagged:
        print(
            f"  over {args.threshold}: {r['name']} ({r['file']}:{r['line']}) = "
            f"{r['complexity']} [{r['grade']}]"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
