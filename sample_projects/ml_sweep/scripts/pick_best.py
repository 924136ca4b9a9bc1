"""Read every trial result, rank them and write the winner to out/best.json.

--metric val_loss (the default) ranks by validation log loss, lowest first, then accuracy;
--metric val_accuracy ranks by validation accuracy, highest first, then loss. Log loss is the
steadier choice on a small validation set, where several models tie on accuracy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials-dir", type=Path, default=Path("out/trials"))
    parser.add_argument("--data", type=Path, default=Path("out/data.json"))
    parser.add_argument("--expect", type=int, default=1, help="minimum number of trials")
    parser.add_argument("--metric", choices=("val_loss", "val_accuracy"), default="val_loss")
    parser.add_argument("--out", type=Path, default=Path("out/best.json"))
    args = parser.parse_args(argv)

    if not args.data.is_file():
        print(f"error: {args.data} is missing", file=sys.stderr)
        return 1
    data_sha = hashlib.sha256(args.data.read_bytes()).hexdigest()
    paths = sorted(args.trials_dir.glob("*.json"))
    trials = []
    stale = []
    for path in paths:
        trial = json.loads(path.read_text(encoding="utf-8"))
        if trial.get("data_sha256") != data_sha:
            stale.append(path.name)
            continue
        trials.append(trial)
    if stale:
        print(f"ignoring {len(stale)} trial(s) trained on other data: {', '.join(stale)}")
    if len(trials) < args.expect:
        print(
            f"error: found {len(trials)} trial results for the current data in "
            f"{args.trials_dir}, expected at least {args.expect}",
            file=sys.stderr,
        )
        return 1

    if args.metric == "val_loss":
        ranked = sorted(trials, key=lambda t: (t["val_loss"], -t["val_accuracy"], t["name"]))
    else:
        ranked = sorted(trials, key=lambda t: (-t["val_accuracy"], t["val_loss"], t["name"]))
    print(f"ranking {len(ranked)} trials by {args.metric}")
    print(
        f"{'rank':>4}  {'trial':<10} {'lr':>7} {'l2':>6}  {'val acc':>7}  {'val loss':>8}"
        f"  {'time':>6}"
    )
    for rank, t in enumerate(ranked, start=1):
        p = t["params"]
        print(
            f"{rank:>4}  {t['name']:<10} {p['lr']:>7g} {p['l2']:>6g}  "
            f"{t['val_accuracy']:>7.4f}  {t['val_loss']:>8.4f}  {t['seconds']:>5.2f}s"
        )
    best = ranked[0]
    summary = {
        "best": {
            k: best[k]
            for k in (
                "name",
                "params",
                "val_accuracy",
                "val_loss",
                "train_accuracy",
                "weights",
                "bias",
            )
        },
        "metric": args.metric,
        "trials": len(ranked),
        "leaderboard": [
            {
                "name": t["name"],
                **t["params"],
                "val_accuracy": t["val_accuracy"],
                "val_loss": t["val_loss"],
            }
            for t in ranked
        ],
        "data_sha256": data_sha,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(
        f"winner: {best['name']} (lr={best['params']['lr']}, l2={best['params']['l2']}) "
        f"with validation loss {best['val_loss']:.4f}, accuracy {best['val_accuracy']:.4f}"
    )
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
