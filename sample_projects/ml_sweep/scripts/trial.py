"""Train one logistic-regression model by batch gradient descent (pure Python) and record its
validation accuracy: out/trials/<name>.json."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def standardize(train: list[list[float]], *others: list[list[float]]) -> list[list[list[float]]]:
    """Scale every feature to mean 0 and variance 1 using the training statistics."""
    n, d = len(train), len(train[0])
    means = [sum(row[j] for row in train) / n for j in range(d)]
    stds = [math.sqrt(sum((row[j] - means[j]) ** 2 for row in train) / n) or 1.0 for j in range(d)]
    return [
        [[(v - m) / s for v, m, s in zip(row, means, stds, strict=True)] for row in rows]
        for rows in (train, *others)
    ]


def evaluate(w: list[float], b: float, X: list[list[float]], y: list[int]) -> tuple[float, float]:
    """(log loss, accuracy)."""
    loss = 0.0
    correct = 0
    for x, t in zip(X, y, strict=True):
        p = sigmoid(b + sum(wj * xj for wj, xj in zip(w, x, strict=True)))
        p = min(max(p, 1e-12), 1 - 1e-12)
        loss -= t * math.log(p) + (1 - t) * math.log(1 - p)
        correct += (p >= 0.5) == (t == 1)
    return loss / len(y), correct / len(y)


def train(
    X: list[list[float]], y: list[int], lr: float, l2: float, epochs: int, report_every: int
) -> tuple[list[float], float, list[dict[str, float]]]:
    """Full-batch gradient descent on the L2-regularised log loss."""
    n, d = len(X), len(X[0])
    w = [0.0] * d
    b = 0.0
    curve = []
    for epoch in range(1, epochs + 1):
        grad_w = [0.0] * d
        grad_b = 0.0
        for x, t in zip(X, y, strict=True):
            err = sigmoid(b + sum(wj * xj for wj, xj in zip(w, x, strict=True))) - t
            grad_b += err
            for j in range(d):
                grad_w[j] += err * x[j]
        w = [wj - lr * (g / n + l2 * wj) for wj, g in zip(w, grad_w, strict=True)]
        b -= lr * grad_b / n
        if epoch % report_every == 0 or epoch == epochs:
            loss, acc = evaluate(w, b, X, y)
            curve.append(
                {"epoch": epoch, "train_loss": round(loss, 5), "train_accuracy": round(acc, 4)}
            )
            print(
                f"  epoch {epoch:>4}/{epochs}: train loss {loss:.4f}, accuracy {acc:.3f}",
                flush=True,
            )
    return w, b, curve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--lr", type=float, required=True, help="learning rate")
    parser.add_argument("--l2", type=float, default=0.0, help="L2 penalty")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--data", type=Path, default=Path("out/data.json"))
    parser.add_argument("--out-dir", type=Path, default=Path("out/trials"))
    args = parser.parse_args(argv)
    if args.lr <= 0 or args.l2 < 0 or args.epochs < 1:
        print("error: need --lr > 0, --l2 >= 0 and --epochs >= 1", file=sys.stderr)
        return 2
    if not args.data.is_file():
        print(f"error: {args.data} is missing (did `make_data` run?)", file=sys.stderr)
        return 1

    raw = args.data.read_bytes()
    data = json.loads(raw)
    X_train, X_val = standardize(data["train"]["X"], data["val"]["X"])
    y_train, y_val = data["train"]["y"], data["val"]["y"]
    print(
        f"{args.name}: lr={args.lr} l2={args.l2} epochs={args.epochs} "
        f"on {len(y_train)} training samples",
        flush=True,
    )
    started = time.perf_counter()
    w, b, curve = train(
        X_train, y_train, args.lr, args.l2, args.epochs, report_every=max(1, args.epochs // 5)
    )
    seconds = time.perf_counter() - started
    if not all(math.isfinite(v) for v in (*w, b)):
        print(f"error: training diverged (weights {w}, bias {b})", file=sys.stderr)
        return 1
    val_loss, val_acc = evaluate(w, b, X_val, y_val)
    train_loss, train_acc = evaluate(w, b, X_train, y_train)
    result = {
        "name": args.name,
        "params": {"lr": args.lr, "l2": args.l2, "epochs": args.epochs},
        "train_loss": round(train_loss, 5),
        "train_accuracy": round(train_acc, 4),
        "val_loss": round(val_loss, 5),
        "val_accuracy": round(val_acc, 4),
        "weights": dict(zip(data["features"], (round(v, 5) for v in w), strict=True)),
        "bias": round(b, 5),
        "curve": curve,
        "seconds": round(seconds, 3),
        "data_sha256": hashlib.sha256(raw).hexdigest(),
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    target = args.out_dir / f"{args.name}.json"
    target.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"validation accuracy {val_acc:.4f}, loss {val_loss:.4f} ({seconds:.2f} s)")
    print(f"written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
