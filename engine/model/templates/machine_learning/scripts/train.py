"""Train logistic regression by plain SGD at one learning rate; score it on the test set."""

import argparse
import csv
import json
import math
import random
import sys
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--name", required=True)
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--epochs", type=int, default=20)
args = parser.parse_args()
data = {}


def predict(w, x1, x2):
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, w[0] + w[1] * x1 + w[2] * x2))))


def accuracy(w, rows):
    return sum((predict(w, x1, x2) > 0.5) == bool(y) for x1, x2, y in rows) / len(rows)


for part in ("train", "test"):
    path = Path(f"out/data/{part}.csv")
    if not path.is_file():
        sys.exit(f"train: error: {path} not found; run the make_data task first")
    with path.open(newline="") as handle:
        data[part] = [
            (float(r["x1"]), float(r["x2"]), int(r["label"])) for r in csv.DictReader(handle)
        ]
rng, w, lr = random.Random(0), [0.0, 0.0, 0.0], args.lr
for epoch in range(1, args.epochs + 1):
    rng.shuffle(data["train"])
    for x1, x2, y in data["train"]:
        err = predict(w, x1, x2) - y
        w = [w[0] - lr * err, w[1] - lr * err * x1, w[2] - lr * err * x2]
    if epoch % 5 == 0 or epoch == args.epochs:
        print(f"train[{args.name}]: epoch {epoch}: accuracy {accuracy(w, data['train']):.3f}")
result = {
    "name": args.name,
    "lr": lr,
    "epochs": args.epochs,
    "weights": w,
    "train_accuracy": accuracy(w, data["train"]),
    "test_accuracy": accuracy(w, data["test"]),
}
Path("out/trials").mkdir(exist_ok=True)
Path(f"out/trials/{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
print(f"train[{args.name}]: test accuracy {result['test_accuracy']:.3f}")
