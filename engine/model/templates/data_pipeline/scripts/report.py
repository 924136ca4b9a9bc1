"""Render out/summary.json as a markdown table in out/report.md."""

import argparse
import json
import sys
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--title", default="Sales report")
title = parser.parse_args().title
source = Path("out/summary.json")
if not source.is_file():
    sys.exit(f"report: error: {source} not found; run the transform task first")
summary = json.loads(source.read_text())
lines = [
    f"# {title}",
    "",
    "| Region | Orders | Units | Revenue | Top product |",
    "|---|---:|---:|---:|---|",
]
for region, t in summary.items():
    lines.append(
        f"| {region} | {t['orders']} | {t['units']} | {t['revenue']:.2f} | {t['top_product']} |"
    )
total = sum(t["revenue"] for t in summary.values())
Path("out/report.md").write_text("\n".join([*lines, "", f"Total revenue: {total:.2f}", ""]))
print(f"report: wrote out/report.md ({len(summary)} regions, revenue {total:.2f})")
