"""Aggregate orders, units and revenue per region into out/summary.json."""

import csv
import json
import sys
from collections import Counter
from pathlib import Path

source = Path("out/raw.csv")
if not source.is_file():
    sys.exit(f"transform: error: {source} not found; run the extract task first")
regions, products = {}, {}
with source.open(newline="") as handle:
    for line, row in enumerate(csv.DictReader(handle), start=2):
        try:
            units, price = int(row["units"]), float(row["unit_price"])
        except (KeyError, TypeError, ValueError):
            sys.exit(f"transform: error: {source}:{line}: bad row {row}")
        total = regions.setdefault(row["region"], {"orders": 0, "units": 0, "revenue": 0})
        total["orders"] += 1
        total["units"] += units
        total["revenue"] += units * price
        products.setdefault(row["region"], Counter())[row["product"]] += units
if not regions:
    sys.exit(f"transform: error: {source} has no rows")
for region, total in sorted(regions.items()):
    total["revenue"] = round(total["revenue"], 2)
    total["top_product"] = products[region].most_common(1)[0][0]
    print(f"transform: {region}: {total['orders']} orders, {total['revenue']:.2f} revenue")
Path("out/summary.json").write_text(json.dumps(regions, indent=2, sort_keys=True) + "\n")
print("transform: wrote out/summary.json")
