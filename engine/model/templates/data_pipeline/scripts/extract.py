"""Write seeded sales rows to out/raw.csv."""

import argparse
import csv
import random
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--rows", type=int, required=True)
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()
if args.rows < 1:
    parser.error(f"--rows must be at least 1, not {args.rows}")
rng = random.Random(args.seed)
out = Path("out/raw.csv")
out.parent.mkdir(exist_ok=True)
with out.open("w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["day", "region", "product", "units", "unit_price"])
    for _ in range(args.rows):
        writer.writerow(
            [
                f"2026-01-{rng.randint(1, 28):02d}",
                rng.choice(["north", "south", "east", "west"]),
                rng.choice(["widget", "gadget", "gizmo", "sprocket"]),
                rng.randint(1, 20),
                f"{rng.uniform(2, 50):.2f}",
            ]
        )
print(f"extract: wrote {args.rows} rows to {out} (seed {args.seed})")
