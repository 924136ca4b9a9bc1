"""Validate the raw CSV: count and classify bad rows, write a JSON summary.

Fails when the file is missing or empty, when the header is wrong, or when the share of bad
rows is above --max-bad-ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

from rules import COLUMNS, problem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, default=Path("out/raw.csv"))
    parser.add_argument("--summary", type=Path, default=Path("out/validation.json"))
    parser.add_argument("--max-bad-ratio", type=float, default=0.05)
    parser.add_argument("--examples", type=int, default=5, help="bad rows to keep as examples")
    args = parser.parse_args(argv)

    print(f"validating {args.input}")
    if not args.input.is_file():
        print(
            f"error: input file {args.input} does not exist (did `generate` run?)", file=sys.stderr
        )
        return 1
    if args.input.stat().st_size == 0:
        print(f"error: input file {args.input} is empty", file=sys.stderr)
        return 1

    reasons: Counter[str] = Counter()
    examples: list[dict[str, object]] = []
    total = 0
    with args.input.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header != COLUMNS:
            print(f"error: unexpected header {header!r}, expected {COLUMNS!r}", file=sys.stderr)
            return 1
        for line_no, row in enumerate(reader, start=2):
            total += 1
            why = problem(row)
            if why is not None:
                reasons[why] += 1
                if len(examples) < args.examples:
                    examples.append({"line": line_no, "reason": why, "row": row})

    if total == 0:
        print(f"error: {args.input} has a header but no data rows", file=sys.stderr)
        return 1
    bad = sum(reasons.values())
    ratio = bad / total
    summary = {
        "input": str(args.input),
        "rows": total,
        "good_rows": total - bad,
        "bad_rows": bad,
        "bad_ratio": round(ratio, 6),
        "max_bad_ratio": args.max_bad_ratio,
        "reasons": dict(sorted(reasons.items())),
        "examples": examples,
        "passed": ratio <= args.max_bad_ratio,
    }
    args.summary.parent.mkdir(parents=True, exist_ok=True)
    args.summary.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    print(f"rows: {total}, good: {total - bad}, bad: {bad} ({ratio:.2%})")
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"  {reason:<20} {count}")
    print(f"summary written to {args.summary}")
    if ratio > args.max_bad_ratio:
        print(
            f"error: bad-row ratio {ratio:.2%} is above the limit {args.max_bad_ratio:.2%}",
            file=sys.stderr,
        )
        return 1
    print("validation passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
