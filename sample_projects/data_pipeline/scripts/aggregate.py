"""Compute the totals of one region from the clean CSV: overall, per product, per month."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from rules import REGIONS


@dataclass
class Totals:
    """Running totals for a group of orders."""

    orders: int = 0
    units: int = 0
    revenue: float = 0.0

    def add(self, units: int, amount: float) -> None:
        self.orders += 1
        self.units += units
        self.revenue += amount

    def as_dict(self) -> dict[str, int | float]:
        return {"orders": self.orders, "units": self.units, "revenue": round(self.revenue, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, default=Path("out/clean.csv"))
    parser.add_argument("--region", required=True, choices=REGIONS)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)

    if not args.input.is_file():
        print(f"error: input file {args.input} does not exist (did `clean` run?)", file=sys.stderr)
        return 1
    print(f"aggregating region {args.region!r} from {args.input}")
    total = Totals()
    by_product: dict[str, Totals] = defaultdict(Totals)
    by_month: dict[str, float] = defaultdict(float)
    largest: dict[str, str] | None = None
    largest_amount = -1.0
    with args.input.open(newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            if rec["region"] != args.region:
                continue
            amount = float(rec["amount"])
            units = int(rec["quantity"])
            total.add(units, amount)
            by_product[rec["product"]].add(units, amount)
            by_month[rec["date"][:7]] += amount
            if amount > largest_amount:
                largest_amount, largest = amount, rec

    if total.orders == 0 or largest is None:
        print(f"error: no rows for region {args.region!r}", file=sys.stderr)
        return 1
    result = {
        "region": args.region,
        **total.as_dict(),
        "average_order": round(total.revenue / total.orders, 2),
        "largest_order": {
            "order_id": largest["order_id"],
            "date": largest["date"],
            "product": largest["product"],
            "amount": largest_amount,
        },
        "by_product": {name: t.as_dict() for name, t in sorted(by_product.items())},
        "by_month": {month: round(v, 2) for month, v in sorted(by_month.items())},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    best_name, best = max(by_product.items(), key=lambda kv: kv[1].revenue)
    print(
        f"{args.region}: {total.orders} orders, {total.units} units, revenue {total.revenue:,.2f}"
    )
    print(f"  best product: {best_name} ({best.revenue:,.2f})")
    print(f"  largest order: {largest['order_id']} ({largest_amount:,.2f})")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
