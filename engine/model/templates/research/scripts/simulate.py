"""Estimate pi by Monte Carlo for one seed; write out/runs/seed-N.json."""

import argparse
import json
import random
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--seed", type=int, required=True)
parser.add_argument("--samples", type=int, required=True)
args = parser.parse_args()
if args.samples < 1:
    parser.error(f"--samples must be at least 1, not {args.samples}")
rng = random.Random(args.seed)
inside = sum(rng.random() ** 2 + rng.random() ** 2 <= 1.0 for _ in range(args.samples))
result = {"seed": args.seed, "samples": args.samples, "estimate": 4 * inside / args.samples}
Path("out/runs").mkdir(parents=True, exist_ok=True)
Path(f"out/runs/seed-{args.seed}.json").write_text(json.dumps(result, indent=2) + "\n")
print(f"simulate: seed {args.seed}: pi ~ {result['estimate']:.5f} ({args.samples} samples)")
