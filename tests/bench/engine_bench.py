"""Scheduling overhead per task: formicary against Dask's threaded scheduler and a bare loop.

Measured, side by side in one process, on a layered DAG of no-op Python callables (100 layers
of 100 tasks, each depending on 2 tasks of the layer before):

* formicary: ``start_session`` (``monitor_interval=None``) to ``wait()`` returning, the
  workflow built fresh each run, tasks as ``call = "benchmod:noop"``; at two ``max_parallel``
  values;
* Dask: ``dask.threaded.get`` on the equivalent dict graph (``noop(*args) -> None``);
* floor: a bare ``graphlib.TopologicalSorter`` loop calling ``noop`` in-process.

Each figure is the median over repeated runs, in microseconds per task, with the order of the
contestants rotated between repeats. formicary is then run once on 100,000 tasks (1000 layers
of 100) to check that the cost per task stays flat.

Bars: formicary per task <= 0.5 x Dask's per task at 10,000 tasks (best ``max_parallel``), and
formicary per task at 100,000 <= 1.3 x its figure at 10,000.

``--persist`` adds, in the same run and the same rotation, formicary with ``persist=True``
(the session recorded in ``<workspace>/.formicary/state.db`` of a temporary workspace) at
each ``max_parallel`` (``formicary_persist_p*``), and a persisted 100,000-task run. The
same two bars apply to the persisted figures, and ``persist_vs_memory`` (persisted per task /
in-memory per task at ``max_parallel_used``) must stay <= 1.2 (persisting may change the
figures by under 20%). Every formicary figure is timed to ``wait()`` returning, as above;
``closed_per_task_us`` also counts ``close()``, which for a persisted session waits until the
store's writer has committed every event (``persist_vs_memory_closed`` compares those).

Prints one JSON line on stdout; progress goes to stderr.

    python tests/bench/engine_bench.py [--quick] [--persist]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import dask.threaded
from formicary.api.runtime import start_session
from formicary.model.records import SessionStatus
from formicary.model.specs import ProjectSpec, TaskSpec, WorkflowSpec
from formicary.model.synthetic import layered_edges

WIDTH = 100
FAN_IN = 2
BAR_VS_DASK = 0.5
BAR_SCALING = 1.3
BAR_PERSIST_VS_MEMORY = 1.2
BENCHMOD = "def noop(*args, **kwargs):\n    return None\n"

Edges = list[tuple[str, list[str]]]


def noop(*args: Any) -> None:
    """The task body of the Dask and graphlib contestants."""
    return None


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_tasks(edges: Edges) -> dict[str, TaskSpec]:
    """One ``call`` task per node of ``edges``."""
    return {
        name: TaskSpec(name=name, call="benchmod:noop", depends_on=tuple(deps))
        for name, deps in edges
    }


async def _run_session(
    project: ProjectSpec, workflow: WorkflowSpec, workspace: Path, persist: bool = False
) -> tuple[float, float]:
    started = time.perf_counter()
    handle = start_session(
        project, workflow, workspace=workspace, monitor_interval=None, persist=persist
    )
    status = await handle.wait()
    elapsed = time.perf_counter() - started
    await handle.close()
    closed = time.perf_counter() - started
    if status is not SessionStatus.COMPLETED:
        raise RuntimeError(f"formicary session ended {status.value}: {handle.counts()}")
    return elapsed, closed


def time_formicary(
    root: Path,
    tasks: dict[str, TaskSpec],
    max_parallel: int,
    persist: bool = False,
    closed: list[float] | None = None,
) -> float:
    """Seconds for one formicary session over ``tasks`` (a fresh workflow, so a fresh DAG),
    to ``wait()`` returning; the seconds to ``close()`` returning go to ``closed``."""
    workflow = WorkflowSpec(name="main", tasks=tasks, max_parallel=max_parallel)
    project = ProjectSpec(name="bench", workflows={"main": workflow}, root=root)
    with tempfile.TemporaryDirectory(prefix="formicary-ws-", dir="/tmp") as workspace:
        elapsed, to_close = asyncio.run(_run_session(project, workflow, Path(workspace), persist))
    if closed is not None:
        closed.append(to_close)
    return elapsed


def time_dask(edges: Edges) -> float:
    """Seconds for ``dask.threaded.get`` over the equivalent graph, asking for every key."""
    dsk: dict[str, Any] = {name: (noop, *deps) for name, deps in edges}
    keys = [name for name, _ in edges]
    started = time.perf_counter()
    dask.threaded.get(dsk, keys)
    return time.perf_counter() - started


def time_graphlib(edges: Edges) -> float:
    """Seconds for a bare TopologicalSorter loop calling ``noop`` per task (the floor)."""
    started = time.perf_counter()
    sorter = TopologicalSorter({name: deps for name, deps in edges})
    sorter.prepare()
    while sorter.is_active():
        for node in sorter.get_ready():
            noop()
            sorter.done(node)
    return time.perf_counter() - started


def measure(
    label: str, run: Callable[[], float], n_tasks: int, times: dict[str, list[float]]
) -> None:
    gc.collect()
    seconds = run()
    times.setdefault(label, []).append(seconds)
    progress(f"  {label}: {seconds:.3f} s ({seconds / n_tasks * 1e6:.1f} us/task)")


def per_task_us(seconds: list[float], n_tasks: int) -> float:
    return round(statistics.median(seconds) / n_tasks * 1e6, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller big run")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--parallel", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--big-layers", type=int, default=None)
    parser.add_argument("--persist", action="store_true", help="also run formicary persisted")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    big_layers = args.big_layers or (200 if args.quick else 1000)
    small_layers = 20 if args.quick else 100

    small_edges = list(layered_edges(small_layers, WIDTH, FAN_IN))
    n_small = len(small_edges)
    small_tasks = build_tasks(small_edges)

    with tempfile.TemporaryDirectory(prefix="formicary-bench-", dir="/tmp") as folder:
        root = Path(folder)
        (root / "benchmod.py").write_text(BENCHMOD, encoding="utf-8")

        closed: dict[str, list[float]] = {}
        contestants: dict[str, Callable[[], float]] = {
            f"formicary_p{p}": (
                lambda p=p: time_formicary(
                    root, small_tasks, p, closed=closed.setdefault(f"formicary_p{p}", [])
                )
            )
            for p in args.parallel
        }
        if args.persist:
            for p in args.parallel:
                label = f"formicary_persist_p{p}"
                contestants[label] = lambda p=p, label=label: time_formicary(
                    root, small_tasks, p, persist=True, closed=closed.setdefault(label, [])
                )
        contestants["dask"] = lambda: time_dask(small_edges)
        contestants["graphlib"] = lambda: time_graphlib(small_edges)

        progress(f"warm-up ({n_small} tasks) ...")
        time_formicary(root, build_tasks(list(layered_edges(2, WIDTH, FAN_IN))), 8)
        if args.persist:
            time_formicary(root, build_tasks(list(layered_edges(2, WIDTH, FAN_IN))), 8, True)
        time_dask(list(layered_edges(2, WIDTH, FAN_IN)))

        times: dict[str, list[float]] = {}
        labels = list(contestants)
        for repeat in range(repeats):
            order = labels[repeat % len(labels) :] + labels[: repeat % len(labels)]
            progress(f"repeat {repeat + 1}/{repeats} at {n_small} tasks: {order}")
            for label in order:
                measure(label, contestants[label], n_small, times)

        small_us = {label: per_task_us(times[label], n_small) for label in labels}
        formicary_labels = [f"formicary_p{p}" for p in args.parallel]
        best_label = min(formicary_labels, key=small_us.__getitem__)
        best_parallel = int(best_label.removeprefix("formicary_p"))
        ratio_vs_dask = small_us[best_label] / small_us["dask"]

        big_edges = list(layered_edges(big_layers, WIDTH, FAN_IN))
        n_big = len(big_edges)
        big_tasks = build_tasks(big_edges)
        del big_edges
        progress(f"big run: {n_big} tasks at max_parallel={best_parallel} ...")
        gc.collect()
        big_seconds = time_formicary(root, big_tasks, best_parallel)
        big_us = big_seconds / n_big * 1e6
        progress(f"  formicary: {big_seconds:.2f} s ({big_us:.1f} us/task)")
        scaling = big_us / small_us[best_label]

        persisted: dict[str, Any] = {}
        if args.persist:
            persist_labels = [f"formicary_persist_p{p}" for p in args.parallel]
            best_persist = min(persist_labels, key=small_us.__getitem__)
            persist_parallel = int(best_persist.removeprefix("formicary_persist_p"))
            progress(f"big persisted run: {n_big} tasks at max_parallel={persist_parallel} ...")
            gc.collect()
            big_closed: list[float] = []
            big_persist_seconds = time_formicary(
                root, big_tasks, persist_parallel, persist=True, closed=big_closed
            )
            big_persist_us = big_persist_seconds / n_big * 1e6
            progress(
                f"  formicary persisted: {big_persist_seconds:.2f} s ({big_persist_us:.1f} "
                f"us/task), {big_closed[0]:.2f} s to close"
            )
            same_p = f"formicary_persist_p{best_parallel}"
            persisted = {
                "persist_vs_dask": round(small_us[best_persist] / small_us["dask"], 3),
                "persist_max_parallel_used": persist_parallel,
                "persist_vs_memory": round(small_us[same_p] / small_us[best_label], 3),
                "persist_vs_memory_closed": round(
                    statistics.median(closed[same_p]) / statistics.median(closed[best_label]), 3
                ),
                "big_per_task_us_persist": round(big_persist_us, 2),
                "big_closed_per_task_us_persist": round(big_closed[0] / n_big * 1e6, 2),
                "big_vs_small_persist": round(big_persist_us / small_us[best_persist], 3),
                "big_persist_vs_memory": round(big_persist_us / big_us, 3),
            }
            small_us["formicary_persist"] = small_us[best_persist]
            persisted["ok_persist_vs_dask"] = persisted["persist_vs_dask"] <= BAR_VS_DASK
            persisted["ok_persist_scaling"] = persisted["big_vs_small_persist"] <= BAR_SCALING
            persisted["ok_persist_vs_memory"] = (
                persisted["persist_vs_memory"] <= BAR_PERSIST_VS_MEMORY
            )
            persisted["bar_persist_vs_memory"] = BAR_PERSIST_VS_MEMORY

    ok = ratio_vs_dask <= BAR_VS_DASK and scaling <= BAR_SCALING
    ok = ok and all(value for key, value in persisted.items() if key.startswith("ok_"))
    closed_us = {label: per_task_us(seconds, n_small) for label, seconds in closed.items()}
    print(
        json.dumps(
            {
                "bench": "engine",
                "quick": args.quick,
                "tasks": n_small,
                "repeats": repeats,
                "per_task_us": small_us,
                "runs_s": {label: [round(t, 3) for t in times[label]] for label in labels},
                "max_parallel_tried": args.parallel,
                "max_parallel_used": best_parallel,
                "formicary_vs_dask": round(ratio_vs_dask, 3),
                "bar_vs_dask": BAR_VS_DASK,
                "big_tasks": n_big,
                "big_runs": 1,
                "big_per_task_us": round(big_us, 2),
                "big_vs_small": round(scaling, 3),
                "bar_big_vs_small": BAR_SCALING,
                "ok_vs_dask": ratio_vs_dask <= BAR_VS_DASK,
                "ok_scaling": scaling <= BAR_SCALING,
                "persist": args.persist,
                "closed_per_task_us": closed_us,
                **persisted,
                "ok": ok,
            }
        )
    )


if __name__ == "__main__":
    main()
