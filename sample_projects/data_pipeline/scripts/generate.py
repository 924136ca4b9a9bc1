"""Generate seeded raw sales rows as CSV, including a few deliberately bad rows."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import sys
from pathlib import Path

from rules import COLUMNS, PRODUCTS, REGIONS

# Unit prices per product and how busy each region is.
PRICES = {
    "widget": 4.5,
    "gadget": 19.9,
    "gizmo": 7.25,
    "sprocket": 2.1,
    "doohickey": 12.0,
    "flange": 31.5,
}
REGION_WEIGHTS = (0.35, 0.2, 0.3, 0.15)
# Seasonality: relative sales volume of each month (a slow summer, a busy end of year).
MONTH_WEIGHTS = (0.8, 0.75, 0.9, 0.95, 1.0, 0.85, 0.7, 0.75, 1.0, 1.1, 1.4, 1.8)
BAD_KINDS = (
    "missing_amount",
    "non_numeric_amount",
    "negative_amount",
    "bad_date",
    "unknown_region",
    "wrong_column_count",
)


def good_row(rng: random.Random, order_id: int, year: int) -> list[str]:
    """One valid sale."""
    month = rng.choices(range(1, 13), weights=MONTH_WEIGHTS)[0]
    day = dt.date(year, month, rng.randint(1, 28))
    region = rng.choices(REGIONS, weights=REGION_WEIGHTS)[0]
    product = rng.choice(PRODUCTS)
    quantity = rng.randint(1, 12)
    amount = quantity * PRICES[product] * rng.uniform(0.85, 1.1)
    return [f"SO-{order_id:07d}", day.isoformat(), region, product, str(quantity), f"{amount:.2f}"]


def spoil(rng: random.Random, row: list[str]) -> list[str]:
    """Turn a good row into a bad one of a random kind."""
    kind = rng.choice(BAD_KINDS)
    row = list(row)
    if kind == "missing_amount":
        row[5] = ""
    elif kind == "non_numeric_amount":
        row[5] = rng.choice(["N/A", "twelve", "1O.50", "#REF!"])
    elif kind == "negative_amount":
        row[5] = f"-{row[5]}"
    elif kind == "bad_date":
        row[1] = rng.choice(["2025-13-01", "2025-02-30", "yesterday", "01/02/2025"])
    elif kind == "unknown_region":
        row[2] = rng.choice(["central", "nowhere", "NORTH", ""])
    else:
        row = row[:4]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20000, help="number of data rows")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--bad-ratio", type=float, default=0.006, help="share of rows that are deliberately bad"
    )
    parser.add_argument("--out", type=Path, default=Path("out/raw.csv"))
    args = parser.parse_args(argv)
    if args.rows <= 0:
        print(f"error: --rows must be positive, got {args.rows}", file=sys.stderr)
        return 2

    rng = random.Random(args.seed)
    year = 2025
    print(f"generating {args.rows} rows (seed {args.seed}) -> {args.out}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    bad = 0
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for i in range(1, args.rows + 1):
            row = good_row(rng, i, year)
            if rng.random() < args.bad_ratio:
                row = spoil(rng, row)
                bad += 1
            writer.writerow(row)
            if i % 5000 == 0:
                print(f"  {i}/{args.rows} rows written")
    os.replace(tmp, args.out)
    size_kb = args.out.stat().st_size / 1024
    print(f"done: {args.rows} rows ({bad} deliberately bad), {size_kb:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
