"""Time from saving a definition file to the dashboard showing the change (bar: p95 ≤ 300 ms).

Runs the dashboard headless (Textual's ``run_test``) on a copy of sample_projects, then 50
times adds or removes a task in the file of the workflow on screen and measures, with the
monotonic clock, the time until the queue shows the new number of rows. The file watcher,
the debounce, the reload off the UI thread and the repaint are all in the measured path.

    python tests/bench/reload_bench.py [--edits 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from formicary.tui.app import FormicaryApp
from formicary.tui.screens.main import MainScreen
from formicary.tui.widgets.project_tree import ProjectTree
from formicary.tui.widgets.queue import TaskQueue

SAMPLES = Path(__file__).resolve().parents[2] / "sample_projects"
BAR_P95_MS = 300.0
EXTRA = '\n[workflows.ship.tasks.announce_{n}]\nrun = "echo shipped"\ndepends_on = ["deploy"]\n'


async def measure(workspace: Path, edits: int) -> list[float]:
    app = FormicaryApp(workspace)
    timings: list[float] = []
    async with app.run_test(size=(160, 50)) as pilot:

        async def until(condition: Callable[[], bool], what: str) -> None:
            deadline = time.monotonic() + 30
            while not condition():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the dashboard never {what}")
                await pilot.pause(0.01)

        await until(lambda: any(isinstance(s, MainScreen) for s in app.screen_stack), "started")
        main = next(s for s in app.screen_stack if isinstance(s, MainScreen))
        tree = main.query_one(ProjectTree)
        # The definitions are read after the first paint: the tree fills a moment later.
        await until(lambda: ("web-app", "ship") in tree.workflows, "listed web-app:ship")
        tree.select_workflow("web-app", "ship")
        await until(
            lambda: main.view is not None and main.view.workflow.name == "ship", "showed ship"
        )
        await pilot.pause(0.5)  # let the file watcher settle
        queue = main.query_one(TaskQueue)
        definition = workspace / "web_application" / "formicary.toml"
        original = definition.read_text()
        for n in range(edits):
            expected = queue.row_count + (1 if n % 2 == 0 else -1)
            text = original + EXTRA.format(n=n) if n % 2 == 0 else original
            started = time.monotonic()
            definition.write_text(text)
            deadline = started + 5
            while queue.row_count != expected:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"edit {n} never showed up")
                await asyncio.sleep(0.002)
            timings.append((time.monotonic() - started) * 1000)
            print(f"edit {n}: {timings[-1]:.0f} ms", file=sys.stderr)
            await pilot.pause(0.05)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--edits", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="formicary-reload-") as folder:
        workspace = Path(folder) / "samples"
        shutil.copytree(SAMPLES, workspace, ignore=shutil.ignore_patterns("out", ".chaos"))
        timings = asyncio.run(measure(workspace, args.edits))
    ordered = sorted(timings)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(
        json.dumps(
            {
                "bench": "reload",
                "edits": len(timings),
                "median_ms": round(statistics.median(timings), 1),
                "p95_ms": round(p95, 1),
                "max_ms": round(max(timings), 1),
                "bar_p95_ms": BAR_P95_MS,
                "ok": p95 <= BAR_P95_MS,
            }
        )
    )


if __name__ == "__main__":
    main()
