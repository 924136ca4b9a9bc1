"""Render the Markdown report from out/summary.json and out/validation.json.

Called by formicary as `scripts.report:main` with keyword arguments from the task's `args`.
It runs with whatever working directory the engine has, so every path is resolved from this
file's location. It can also be run by hand: `python3 scripts/report.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
OUT = PROJECT_DIR / "out"


def _load(name: str) -> dict:
    path = OUT / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run the upstream tasks first")
    return json.loads(path.read_text(encoding="utf-8"))


def _table(headers: list[str], rows: list[list[str]], align: str = "") -> list[str]:
    """A Markdown table; `align` has an "l" or "r" per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    marks = ["---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render(summary: dict, validation: dict, title: str, top_products: int) -> str:
    """Build the report text."""
    lines = [f"# {title}", ""]
    lines += [
        f"- Orders: **{summary['orders']:,}** ({summary['units']:,} units)",
        f"- Revenue: **{summary['revenue']:,.2f}**",
        f"- Average order: {summary['average_order']:,.2f}",
        f"- Rows checked: {validation['rows']:,}; dropped as bad: {validation['bad_rows']:,} "
        f"({validation['bad_ratio']:.2%})",
        "",
        "## Regions",
        "",
    ]
    lines += _table(
        ["Region", "Orders", "Revenue", "Share", "Avg order", "Largest order"],
        [
            [
                r["region"],
                f"{r['orders']:,}",
                f"{r['revenue']:,.2f}",
                f"{r['share']:.1%}",
                f"{r['average_order']:,.2f}",
                f"{r['largest_order']['order_id']} ({r['largest_order']['amount']:,.2f})",
            ]
            for r in summary["regions"]
        ],
        align="lrrrrl",
    )
    lines += ["", f"## Top {top_products} products", ""]
    lines += _table(
        ["Product", "Orders", "Units", "Revenue"],
        [
            [p["product"], f"{p['orders']:,}", f"{p['units']:,}", f"{p['revenue']:,.2f}"]
            for p in summary["products"][:top_products]
        ],
    )
    lines += ["", "## Revenue by month", ""]
    peak = max(summary["months"].values(), default=0.0) or 1.0
    lines += _table(
        ["Month", "Revenue", "Trend"],
        [
            [m, f"{v:,.2f}", "`" + "#" * round(20 * v / peak) + "`"]
            for m, v in summary["months"].items()
        ],
        align="lrl",
    )
    lines += ["", "## Data quality", ""]
    if validation["reasons"]:
        lines += _table(
            ["Problem", "Rows"],
            [[k, str(v)] for k, v in sorted(validation["reasons"].items(), key=lambda kv: -kv[1])],
        )
    else:
        lines.append("No bad rows.")
    lines.append("")
    return "\n".join(lines)


def main(title: str = "Nightly sales report", top_products: int = 5) -> str:
    """Write out/report.md and return its path."""
    print(f"rendering report from {OUT}")
    summary = _load("summary.json")
    validation = _load("validation.json")
    text = render(summary, validation, title, int(top_products))
    target = OUT / "report.md"
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target} ({len(text.splitlines())} lines)")
    print(f"total revenue {summary['revenue']:,.2f} across {len(summary['regions'])} regions")
    return str(target)


if __name__ == "__main__":
    main()
