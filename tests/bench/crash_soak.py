"""Crash soak: many kill -9 trials of a persisted session, each followed by ``formicary resume``.

Each trial is :func:`tests.crash_trial.run_trial` in a fresh temporary workspace: a 200-task
layered workflow (``max_parallel = 8``, every task appends its name to ``marker.txt``) is run
with ``formicary run``, SIGKILLed once a random number of marker lines (1..199) exist, and
resumed with ``formicary resume``. A trial passes when every task ends completed, no task
recorded as completed before the kill ran again, ``PRAGMA integrity_check`` says ok and the
event sequence has no gaps. Trial ``i`` uses ``random.Random(seed + i)``; the seeds are printed
so a failing trial can be replayed alone.

Reported: trials, passed, failed, the first few problems (with their seeds), the distribution
of marker lines at the kill (min / median / max), the median of tasks recorded completed at
the kill, tasks that ran twice (median per trial and total; a task running twice is allowed
when it was not yet recorded completed), and wall seconds.

Bar: every trial passes.

Prints one JSON line on stdout; progress goes to stderr.

    python tests/bench/crash_soak.py [--quick] [--trials N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.crash_trial import TASKS, TrialResult, fresh, run_trial  # noqa: E402

DEFAULT_TRIALS = 100
QUICK_TRIALS = 5
DEFAULT_SEED = 20_000
SHOWN_PROBLEMS = 5


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def spread(values: list[int]) -> dict[str, float]:
    """min / median / max of ``values`` (zeros when empty)."""
    if not values:
        return {"min": 0, "median": 0, "max": 0}
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_TRIALS} trials")
    parser.add_argument("--trials", type=int, default=None, help=f"default {DEFAULT_TRIALS}")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="trial i uses seed + i")
    args = parser.parse_args()
    trials = args.trials or (QUICK_TRIALS if args.quick else DEFAULT_TRIALS)

    results: list[tuple[int, TrialResult | None, float]] = []
    errors: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="formicary-soak-", dir="/tmp") as folder:
        for trial in range(trials):
            seed = args.seed + trial
            workspace = fresh(Path(folder) / f"ws{trial}")
            trial_started = time.perf_counter()
            try:
                result: TrialResult | None = run_trial(workspace, random.Random(seed))
            except Exception as error:  # a crashed trial is a failed trial, not a crashed soak
                result = None
                errors.append(f"seed {seed}: {type(error).__name__}: {error}")
            seconds = time.perf_counter() - trial_started
            results.append((seed, result, seconds))
            if result is None:
                verdict = "ERROR " + errors[-1]
            elif result.problems:
                verdict = "FAIL " + "; ".join(result.problems)
            else:
                verdict = "ok"
            detail = (
                f"killed after {result.killed_after_lines} lines, "
                f"{result.recorded_completed} recorded, {result.reran} reran"
                if result is not None
                else ""
            )
            progress(
                f"trial {trial + 1}/{trials} seed {seed}: {verdict} {detail} ({seconds:.1f} s)"
            )
            # Keep /tmp small: a passed trial's workspace is of no further interest.
            if result is not None and not result.problems:
                shutil.rmtree(workspace, ignore_errors=True)
    wall = time.perf_counter() - started

    done = [result for _, result, _ in results if result is not None]
    passed = sum(1 for result in done if not result.problems)
    problems = [
        f"seed {seed}: {problem}"
        for seed, result, _ in results
        if result is not None
        for problem in result.problems
    ]
    reran = [result.reran for result in done]
    print(
        json.dumps(
            {
                "bench": "crash_soak",
                "quick": args.quick,
                "trials": trials,
                "seeds": [args.seed, args.seed + trials - 1],
                "passed": passed,
                "failed": trials - passed,
                "problems": (errors + problems)[:SHOWN_PROBLEMS],
                "problem_count": len(errors) + len(problems),
                "killed_after_lines": spread([result.killed_after_lines for result in done]),
                "recorded_completed_median": (
                    statistics.median([result.recorded_completed for result in done]) if done else 0
                ),
                "all_lines_before_kill": sum(
                    1 for result in done if result.killed_after_lines >= TASKS
                ),
                "reran_median": statistics.median(reran) if reran else 0,
                "reran_total": sum(reran),
                "trial_s_median": round(statistics.median([s for _, _, s in results]), 2),
                "wall_s": round(wall, 1),
                "bar": "every trial passes",
                "ok": passed == trials,
            }
        )
    )


if __name__ == "__main__":
    main()
