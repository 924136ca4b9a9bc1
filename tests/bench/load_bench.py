"""Time to load and validate a 100,000-task workspace (bar: under 3 s on 2 cores).

Prints one JSON line: the median of several loads, each a fresh parse and full validation,
with a 10,000-task figure measured in the same run for scale.

    python tests/bench/load_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from formicary.model.definitions import load_workspace
from formicary.model.synthetic import write_workspace

BAR_SECONDS = 3.0


def time_loads(root: Path, runs: int) -> list[float]:
    """Seconds per full load of the workspace at ``root``."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        workspace = load_workspace(root)
        times.append(time.perf_counter() - started)
        assert workspace.ok, workspace.issues[:3]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="formicary-load-") as folder:
        small, big = Path(folder) / "10k", Path(folder) / "100k"
        write_workspace(small, tasks=10_000)
        write_workspace(big, tasks=100_000)
        size = sum(file.stat().st_size for file in big.rglob("formicary.toml"))
        small_times = time_loads(small, args.runs)
        big_times = time_loads(big, args.runs)
    median = statistics.median(big_times)
    print(
        json.dumps(
            {
                "bench": "load",
                "tasks": 100_000,
                "file_mb": round(size / 1e6, 2),
                "median_s": round(median, 3),
                "runs_s": [round(t, 3) for t in big_times],
                "median_10k_s": round(statistics.median(small_times), 3),
                "bar_s": BAR_SECONDS,
                "ok": median < BAR_SECONDS,
            }
        )
    )


if __name__ == "__main__":
    main()
