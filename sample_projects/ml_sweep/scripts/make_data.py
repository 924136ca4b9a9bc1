"""Write a seeded synthetic two-class dataset (a few informative features, one noise feature)
split into training and validation sets: out/data.json."""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

# Class means per feature: the first three features separate the classes (on different
# scales), the last one is pure noise.
FEATURES = ("x_signal", "x_weak", "x_scaled", "x_noise")
MEANS = ((-1.0, -0.4, 20.0, 0.0), (1.0, 0.4, 26.0, 0.0))
SPREAD = (1.1, 1.0, 6.0, 1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--val-fraction", type=float, default=0.3)
    parser.add_argument("--flip", type=float, default=0.03, help="share of labels flipped")
    parser.add_argument("--out", type=Path, default=Path("out/data.json"))
    parser.add_argument(
        "--clear-trials",
        type=Path,
        metavar="DIR",
        help="delete old trial results here: they belong to the old dataset",
    )
    args = parser.parse_args(argv)
    if args.samples < 20 or not 0.05 <= args.val_fraction <= 0.5:
        print("error: need --samples >= 20 and 0.05 <= --val-fraction <= 0.5", file=sys.stderr)
        return 2

    if args.clear_trials is not None and args.clear_trials.is_dir():
        old = sorted(args.clear_trials.glob("*.json"))
        for path in old:
            path.unlink()
        print(f"removed {len(old)} old trial result(s) from {args.clear_trials}")

    rng = random.Random(args.seed)
    rows: list[tuple[list[float], int]] = []
    for _ in range(args.samples):
        label = rng.randrange(2)
        x = [round(rng.gauss(m, s), 4) for m, s in zip(MEANS[label], SPREAD, strict=True)]
        if rng.random() < args.flip:
            label = 1 - label
        rows.append((x, label))
    n_val = round(args.samples * args.val_fraction)
    val, train = rows[:n_val], rows[n_val:]
    data = {
        "features": list(FEATURES),
        "seed": args.seed,
        "train": {"X": [x for x, _ in train], "y": [y for _, y in train]},
        "val": {"X": [x for x, _ in val], "y": [y for _, y in val]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, separators=(",", ":"))
    args.out.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()
    positives = sum(y for _, y in rows)
    print(f"{args.samples} samples, {len(FEATURES)} features (seed {args.seed})")
    print(f"  train {len(train)}, validation {len(val)}, class balance {positives}/{args.samples}")
    print(f"written to {args.out} (sha256 {digest[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
