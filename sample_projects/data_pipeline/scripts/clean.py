"""Drop the bad rows from the raw CSV and write the clean CSV."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

from rules import COLUMNS, problem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, default=Path("out/raw.csv"))
    parser.add_argument("--output", type=Path, default=Path("out/clean.csv"))
    args = parser.parse_args(argv)

    if not args.input.is_file():
        print(f"error: input file {args.input} does not exist", file=sys.stderr)
        return 1
    print(f"cleaning {args.input} -> {args.output}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(args.output.name + ".tmp")
    kept = dropped = 0
    with (
        args.input.open(newline="", encoding="utf-8") as src,
        tmp.open("w", newline="", encoding="utf-8") as dst,
    ):
        reader = csv.reader(src)
        writer = csv.writer(dst)
        header = next(reader, None)
        if header != COLUMNS:
            print(f"error: unexpected header {header!r}", file=sys.stderr)
            return 1
        writer.writerow(COLUMNS)
        for row in reader:
            if problem(row) is None:
                writer.writerow(row)
                kept += 1
            else:
                dropped += 1
    os.replace(tmp, args.output)
    if kept == 0:
        print("error: no good rows left after cleaning", file=sys.stderr)
        return 1
    print(f"kept {kept} rows, dropped {dropped} bad rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
