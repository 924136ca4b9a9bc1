"""Write seeded two-feature points with a noisy label to out/data/ (train, test)."""

import argparse
import csv
import random
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--samples", type=int, required=True)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
if args.samples < 10:
    parser.error(f"--samples must be at least 10, not {args.samples}")
rng, rows = random.Random(args.seed), []
for _ in range(args.samples):
    x1, x2 = rng.uniform(-1, 1), rng.uniform(-1, 1)
    rows.append((round(x1, 4), round(x2, 4), int(2 * x1 - x2 + rng.gauss(0, 0.3) > 0.8)))
cut = int(len(rows) * 0.8)
Path("out/data").mkdir(parents=True, exist_ok=True)
for name, part in (("train", rows[:cut]), ("test", rows[cut:])):
    with open(f"out/data/{name}.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("x1", "x2", "label"), *part])
    print(f"make_data: wrote out/data/{name}.csv ({len(part)} rows)")
