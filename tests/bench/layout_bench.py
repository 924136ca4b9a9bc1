"""Time to lay out a 10,000-task workflow for the graph pane (bar: median under 0.5 s).

The workflow is ``layered_edges(100, 100, 2)``: 100 layers of 100 tasks, each depending on
two tasks of the layer above, which the graph pane draws as lanes with a capped gutter. Each
run lays out a fresh ``Dag`` (built outside the measured path, so nothing it caches carries
over from the run before), as the unit test used to time it; the bar holds on the median, and
every layout is checked to be the full one.
This bar used to be an assertion in ``tests/test_graph_layout.py``, where a busy machine
failed it; the unit test keeps only the layout's shape.

Prints one JSON line:

    python tests/bench/layout_bench.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from formicary.model.dag import Dag  # noqa: E402
from formicary.model.synthetic import layered_edges  # noqa: E402
from formicary.tui.graph_layout import build_layout  # noqa: E402

BAR_SECONDS = 0.5
LAYERS = WIDTH = 100


def time_layouts(edges: dict[str, list[str]], runs: int) -> list[float]:
    """Seconds per ``build_layout`` of a fresh ``Dag(edges)``, one figure per run; each layout
    is checked whole."""
    times = []
    for _ in range(runs):
        dag = Dag(edges)
        started = time.perf_counter()
        layout = build_layout(dag)
        times.append(time.perf_counter() - started)
        assert layout.mode == "lanes" and layout.height == LAYERS * WIDTH, layout.mode
    return times


def main() -> None:
    """Measure ``--runs`` layouts and print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    times = time_layouts(dict(layered_edges(LAYERS, WIDTH, 2)), args.runs)
    median = statistics.median(times)
    print(
        json.dumps(
            {
                "bench": "layout",
                "tasks": LAYERS * WIDTH,
                "median_s": round(median, 3),
                "runs_s": [round(t, 3) for t in times],
                "bar_s": BAR_SECONDS,
                "ok": median < BAR_SECONDS,
            }
        )
    )


if __name__ == "__main__":
    main()
