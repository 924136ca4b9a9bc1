"""Cost of running shell tasks: formicary against a bare asyncio subprocess loop.

Measured, side by side in one process: 1,000 independent ``true`` shell tasks

* through formicary: ``start_session`` (``monitor_interval=None``) of a workflow with
  ``max_parallel = 8``, to ``wait()`` returning;
* through a bare loop: ``asyncio.create_subprocess_exec("/bin/sh", "-c", "true",
  start_new_session=True, stdout=PIPE, stderr=STDOUT)``, output read to EOF and the process
  waited for, under ``asyncio.Semaphore(8)``.

The two alternate (which goes first flips each repeat); the figures are medians.

Bar: formicary's wall time <= 1.2 x the bare loop's.

``--persist`` adds, in the same run, formicary with ``persist=True`` (recorded in the
temporary workspace's ``.formicary/state.db``); the three then rotate (each goes first once
in three repeats). The same bar applies to the persisted run (``persist_ratio``), and
``persist_vs_memory`` (persisted / in-memory wall time) must stay <= 1.2 (persisting may
change the figures by under 20%). Wall times run to ``wait()`` returning; ``closed_s`` also
counts ``close()``, which for a persisted session waits until every event is committed.

Prints one JSON line on stdout; progress goes to stderr.

    python tests/bench/subprocess_bench.py [--quick] [--persist]
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
from pathlib import Path

from formicary.api.runtime import start_session
from formicary.model.records import SessionStatus
from formicary.model.specs import ProjectSpec, TaskSpec, WorkflowSpec

PARALLEL = 8
BAR_RATIO = 1.2
BAR_PERSIST_VS_MEMORY = 1.2


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _formicary(
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
    root: Path, n_tasks: int, persist: bool = False, closed: list[float] | None = None
) -> float:
    """Seconds for a formicary session of ``n_tasks`` independent ``true`` tasks, to
    ``wait()`` returning; the seconds to ``close()`` returning go to ``closed``."""
    tasks = {f"t{i}": TaskSpec(name=f"t{i}", run="true") for i in range(n_tasks)}
    workflow = WorkflowSpec(name="main", tasks=tasks, max_parallel=PARALLEL)
    project = ProjectSpec(name="bench", workflows={"main": workflow}, root=root)
    with tempfile.TemporaryDirectory(prefix="formicary-ws-", dir="/tmp") as workspace:
        elapsed, to_close = asyncio.run(_formicary(project, workflow, Path(workspace), persist))
    if closed is not None:
        closed.append(to_close)
    return elapsed


async def _bare(n_tasks: int) -> float:
    gate = asyncio.Semaphore(PARALLEL)

    async def one() -> int:
        async with gate:
            process = await asyncio.create_subprocess_exec(
                "/bin/sh",
                "-c",
                "true",
                start_new_session=True,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            assert process.stdout is not None
            await process.stdout.read()
            return await process.wait()

    started = time.perf_counter()
    codes = await asyncio.gather(*(one() for _ in range(n_tasks)))
    elapsed = time.perf_counter() - started
    if any(codes):
        raise RuntimeError("a bare `true` failed")
    return elapsed


def time_bare(n_tasks: int) -> float:
    """Seconds for the bare asyncio loop over ``n_tasks`` ``true`` processes."""
    return asyncio.run(_bare(n_tasks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200 tasks, one repeat")
    parser.add_argument("--tasks", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--persist", action="store_true", help="also run formicary persisted")
    args = parser.parse_args()
    n_tasks = args.tasks or (200 if args.quick else 1000)
    repeats = args.repeats or (1 if args.quick else 3)

    times: dict[str, list[float]] = {"formicary": [], "bare": []}
    closed: dict[str, list[float]] = {"formicary": []}
    with tempfile.TemporaryDirectory(prefix="formicary-bench-", dir="/tmp") as folder:
        root = Path(folder)
        runners = {
            "formicary": lambda: time_formicary(root, n_tasks, closed=closed["formicary"]),
            "bare": lambda: time_bare(n_tasks),
        }
        if args.persist:
            times["formicary_persist"] = []
            closed["formicary_persist"] = []
            runners["formicary_persist"] = lambda: time_formicary(
                root, n_tasks, persist=True, closed=closed["formicary_persist"]
            )
        progress("warm-up ...")
        time_formicary(root, 20)
        time_bare(20)
        if args.persist:
            time_formicary(root, 20, persist=True)
        labels = list(runners)
        for repeat in range(repeats):
            if args.persist:
                order = labels[repeat % 3 :] + labels[: repeat % 3]
            else:
                order = ["formicary", "bare"] if repeat % 2 == 0 else ["bare", "formicary"]
            progress(f"repeat {repeat + 1}/{repeats}: {order}")
            for label in order:
                gc.collect()
                seconds = runners[label]()
                times[label].append(seconds)
                progress(f"  {label}: {seconds:.3f} s ({seconds / n_tasks * 1e3:.2f} ms/task)")

    formicary = statistics.median(times["formicary"])
    bare = statistics.median(times["bare"])
    ratio = formicary / bare
    persisted: dict[str, object] = {}
    ok = ratio <= BAR_RATIO
    if args.persist:
        persist = statistics.median(times["formicary_persist"])
        persisted = {
            "formicary_persist_s": round(persist, 3),
            "formicary_persist_ms_per_task": round(persist / n_tasks * 1e3, 3),
            "persist_ratio": round(persist / bare, 3),
            "persist_vs_memory": round(persist / formicary, 3),
            "persist_vs_memory_closed": round(
                statistics.median(closed["formicary_persist"])
                / statistics.median(closed["formicary"]),
                3,
            ),
            "bar_persist_vs_memory": BAR_PERSIST_VS_MEMORY,
            "ok_ratio": ratio <= BAR_RATIO,
            "ok_persist_ratio": persist / bare <= BAR_RATIO,
            "ok_persist_vs_memory": persist / formicary <= BAR_PERSIST_VS_MEMORY,
        }
        ok = ok and persist / bare <= BAR_RATIO and persist / formicary <= BAR_PERSIST_VS_MEMORY
    print(
        json.dumps(
            {
                "bench": "subprocess",
                "quick": args.quick,
                "tasks": n_tasks,
                "max_parallel": PARALLEL,
                "repeats": repeats,
                "formicary_s": round(formicary, 3),
                "bare_s": round(bare, 3),
                "formicary_ms_per_task": round(formicary / n_tasks * 1e3, 3),
                "bare_ms_per_task": round(bare / n_tasks * 1e3, 3),
                "runs_s": {label: [round(t, 3) for t in runs] for label, runs in times.items()},
                "ratio": round(ratio, 3),
                "bar_ratio": BAR_RATIO,
                "persist": args.persist,
                "closed_s": {
                    label: round(statistics.median(runs), 3) for label, runs in closed.items()
                },
                **persisted,
                "ok": ok,
            }
        )
    )


if __name__ == "__main__":
    main()
