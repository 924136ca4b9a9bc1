"""Mean, stddev and error of the runs vs math.pi into out/summary.json and .md."""

import json
import math
import statistics
import sys
from pathlib import Path

if len(sys.argv) < 3:
    sys.exit("summarize: error: name at least two seeds")
estimates = []
for seed in sys.argv[1:]:
    path = Path(f"out/runs/seed-{seed}.json")
    if not path.is_file():
        sys.exit(f"summarize: error: {path} not found; did run_{seed} run?")
    estimates.append(json.loads(path.read_text())["estimate"])
mean, stdev = statistics.fmean(estimates), statistics.stdev(estimates)
error = abs(mean - math.pi)
summary = {"runs": len(estimates), "mean": mean, "stdev": stdev, "error": error}
Path("out/summary.json").write_text(json.dumps(summary, indent=2) + "\n")
Path("out/summary.md").write_text(
    f"# Monte Carlo estimate of pi\n\n{len(estimates)} runs: "
    f"mean {mean:.5f}, stddev {stdev:.5f}, error {error:.5f}\n"
)
print(f"summarize: mean {mean:.5f} +/- {stdev:.5f} (error {error:.5f}); wrote out/summary.*")
