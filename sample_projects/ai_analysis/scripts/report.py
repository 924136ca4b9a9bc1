"""Combine the inventory, functions, complexity and TODO analyses into out/analysis.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import read_json


def table(headers: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def findings(functions: list[dict], scores: dict[str, int], threshold: int) -> list[str]:
    """Plain-language suggestions, one per function that stands out."""
    notes = []
    for f in functions:
        reasons = []
        score = scores.get(f"{f['file']}:{f['name']}", 0)
        if score > threshold:
            reasons.append(
                f"complexity {score} (> {threshold}): split it into smaller steps or a lookup table"
            )
        if f["length"] > 40:
            reasons.append(f"{f['length']} lines long")
        if f["arg_count"] > 5:
            reasons.append(f"{f['arg_count']} arguments: consider a parameter object")
        if not f["annotated"] and not f["name"].split(".")[-1].startswith("_"):
            reasons.append("missing type hints")
        if reasons:
            notes.append(f"- `{f['name']}` ({f['file']}:{f['line']}): " + "; ".join(reasons))
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", type=Path, default=Path("out"))
    parser.add_argument("--threshold", type=int, default=10)
    args = parser.parse_args(argv)

    inventory = read_json(args.out_dir / "inventory.json")
    functions = read_json(args.out_dir / "functions.json")["functions"]
    complexity = read_json(args.out_dir / "complexity.json")
    todos = read_json(args.out_dir / "todos.json")
    print(f"combining analyses of {inventory['root']}")

    totals = inventory["totals"]
    scores = {f"{c['file']}:{c['name']}": c["complexity"] for c in complexity["functions"]}
    lines = [f"# Code analysis of `{inventory['src']}`", ""]
    lines += [
        f"- Files: **{totals['files']}**, lines: **{totals['lines']}** "
        f"({totals['code']} code, {totals['comment']} comment, {totals['blank']} blank)",
        f"- Functions and methods: **{len(functions)}**, "
        f"{sum(not f['docstring'] for f in functions)} without a docstring",
        f"- Average cyclomatic complexity: **{complexity['average']}**; "
        f"over {complexity['threshold']}: **{len(complexity['flagged'])}**",
        f"- TODO-style comments: **{todos['count']}**",
        "",
        "## Files",
        "",
    ]
    files = sorted(inventory["files"], key=lambda e: -e["lines"])
    lines += table(
        ["File", "Lines", "Code", "Functions", "Classes"],
        [
            [
                f"`{e['path']}`",
                e["lines"],
                e["code"],
                e.get("functions", "-"),
                e.get("classes", "-"),
            ]
            for e in files
        ],
    )
    broken = [e for e in files if e.get("syntax_error")]
    if broken:
        lines += [
            "",
            "Not analysed (syntax errors): " + ", ".join(f"`{e['path']}`" for e in broken),
        ]

    lines += ["", "## Most complex functions", ""]
    lines += table(
        ["Function", "Where", "Complexity", "Grade"],
        [
            [f"`{c['name']}`", f"{c['file']}:{c['line']}", c["complexity"], c["grade"]]
            for c in complexity["functions"][:10]
        ],
    )

    lines += ["", "## Longest functions", ""]
    lines += table(
        ["Function", "Where", "Lines", "Args"],
        [
            [f"`{f['name']}`", f"{f['file']}:{f['line']}", f["length"], f["arg_count"]]
            for f in sorted(functions, key=lambda f: -f["length"])[:10]
        ],
    )

    lines += ["", "## Findings", ""]
    lines += findings(functions, scores, args.threshold) or ["Nothing stands out."]

    lines += ["", "## TODO, FIXME and friends", ""]
    if todos["items"]:
        lines += [
            f"- **{t['tag']}** `{t['file']}:{t['line']}`"
            + (f" ({t['owner']})" if t["owner"] else "")
            + f": {t['text']}"
            for t in todos["items"]
        ]
    else:
        lines.append("None found.")
    lines.append("")

    target = args.out_dir / "analysis.md"
    target.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {target} ({len(lines)} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
