"""Combine the per-region totals into one summary (fan-in of the aggregate tasks)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--regions", nargs="+", required=True)
    parser.add_argument("--input-dir", type=Path, default=Path("out/regions"))
    parser.add_argument("--output", type=Path, default=Path("out/summary.json"))
    args = parser.parse_args(argv)

    regions: list[dict] = []
    missing = []
    for name in args.regions:
        path = args.input_dir / f"{name}.json"
        if not path.is_file():
            missing.append(str(path))
            continue
        regions.append(json.loads(path.read_text(encoding="utf-8")))
        print(f"read {path}")
    if missing:
        print(f"error: missing region results: {', '.join(missing)}", file=sys.stderr)
        return 1

    revenue = sum(r["revenue"] for r in regions)
    orders = sum(r["orders"] for r in regions)
    units = sum(r["units"] for r in regions)
    products: dict[str, dict[str, float]] = defaultdict(
        lambda: {"orders": 0, "units": 0, "revenue": 0.0}
    )
    months: dict[str, float] = defaultdict(float)
    for r in regions:
        for name, p in r["by_product"].items():
            for key in ("orders", "units", "revenue"):
                products[name][key] += p[key]
        for month, value in r["by_month"].items():
            months[month] += value

    ranking = sorted(regions, key=lambda r: r["revenue"], reverse=True)
    summary = {
        "orders": orders,
        "units": units,
        "revenue": round(revenue, 2),
        "average_order": round(revenue / orders, 2) if orders else 0.0,
        "regions": [
            {
                "region": r["region"],
                "orders": r["orders"],
                "units": r["units"],
                "revenue": r["revenue"],
                "share": round(r["revenue"] / revenue, 4) if revenue else 0,
                "average_order": r["average_order"],
                "largest_order": r["largest_order"],
            }
            for r in ranking
        ],
        "products": sorted(
            (
                {
                    "product": name,
                    "orders": int(p["orders"]),
                    "units": int(p["units"]),
                    "revenue": round(p["revenue"], 2),
                }
                for name, p in products.items()
            ),
            key=lambda p: p["revenue"],
            reverse=True,
        ),
        "months": {m: round(v, 2) for m, v in sorted(months.items())},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"combined {len(regions)} regions: {orders} orders, revenue {revenue:,.2f}")
    for r in summary["regions"]:
        print(f"  {r['region']:<6} {r['revenue']:>14,.2f}  ({r['share']:.1%})")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
