"""Write out/report.md from the inventory and the scores, flagging complex functions."""

import argparse
import json
import sys
from pathlib import Path


def load(name: str) -> list:
    """One earlier task's JSON output, or a clear error when it is missing."""
    path = Path("out") / name
    if not path.is_file():
        sys.exit(f"report: error: {path} not found; run inventory and complexity first")
    return json.loads(path.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-complexity", type=int, default=5)
    limit = parser.parse_args().max_complexity
    files, funcs = load("inventory.json"), load("functions.json")
    funcs.sort(key=lambda f: (-f["complexity"], f["file"], f["line"]))
    lines = [
        "# Code analysis",
        "",
        f"{len(files)} files, {sum(f['lines'] for f in files)} lines, {len(funcs)} functions.",
        "",
        "| Function | Where | Lines | Complexity | Docstring |",
        "|---|---|---:|---:|---|",
    ]
    for f in funcs:
        flag = " (!)" if f["complexity"] > limit else ""
        lines.append(
            f"| `{f['function']}` | {f['file']}:{f['line']} | {f['length']} "
            f"| {f['complexity']}{flag} | {'yes' if f['documented'] else 'no'} |"
        )
    over = [f["function"] for f in funcs if f["complexity"] > limit]
    lines += ["", f"Above complexity {limit}: {', '.join(over) or 'none'}.", ""]
    Path("out/report.md").write_text("\n".join(lines))
    print(f"report: wrote out/report.md; above complexity {limit}: {len(over)} of {len(funcs)}")


if __name__ == "__main__":
    main()
