"""Cost of formicary's Dask executor against a bare ``client.submit`` loop, same cluster.

One ``LocalCluster(processes=True, n_workers=2)`` on 127.0.0.1 (no dashboard) serves both
sides, in one run. Measured, side by side: 1,000 independent no-op tasks,

* through formicary: ``start_session`` (``monitor_interval=None``) of a workflow of 1,000
  ``true`` shell tasks with ``max_parallel = 1000`` (as unbounded as the bare loop), run by
  a :class:`~formicary.run.executors.dask.DaskExecutor` connected to the cluster, to ``wait()``
  returning; every attempt has its own key, its start, output and end travel back as
  events, and it can be cancelled on its worker;
* through a bare loop: 1,000 ``client.submit(shell_true, pure=False)`` on a client of the
  same cluster, then ``client.gather``; ``shell_true`` does the same work on the worker:
  ``/bin/sh -c true`` in its own session, output read to EOF, the process waited for.

``--python`` adds the same comparison for a no-op Python callable (formicary: ``call =
"noop:noop"``; bare: ``client.submit(noop)``), reported beside it; the bar is on the shell
tasks. The two sides alternate (which goes first flips each repeat); the figures are
medians. Bar: formicary's wall time <= 1.3 x the bare loop's.

Prints one JSON line on stdout; progress goes to stderr.

    python tests/bench/dask_bench.py [--quick] [--python]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from distributed import Client, LocalCluster
from formicary.api.runtime import start_session
from formicary.model.records import SessionStatus
from formicary.model.specs import ProjectSpec, TaskSpec, WorkflowSpec
from formicary.run.executors.dask import DaskExecutor, loopback_cluster_options

BAR_RATIO = 1.3
NOOP_MODULE = "def noop():\n    return None\n"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def shell_true() -> int:
    """The bare side's task: what formicary's runner does for ``run = "true"``."""
    process = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        "true",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    await process.stdout.read()
    return await process.wait()


def noop() -> None:
    """The bare side's Python task."""


def _project(root: Path, n_tasks: int, kind: str) -> tuple[ProjectSpec, WorkflowSpec]:
    def task(i: int) -> TaskSpec:
        if kind == "shell":
            return TaskSpec(name=f"t{i}", run="true")
        return TaskSpec(name=f"t{i}", call="noop:noop")

    tasks = {f"t{i}": task(i) for i in range(n_tasks)}
    workflow = WorkflowSpec(name="main", tasks=tasks, max_parallel=n_tasks)
    return ProjectSpec(name="bench", workflows={"main": workflow}, root=root), workflow


async def time_formicary(address: str, root: Path, n_tasks: int, kind: str) -> float:
    """Seconds for a formicary session of ``n_tasks`` no-op tasks on the cluster."""
    project, workflow = _project(root, n_tasks, kind)
    executor = DaskExecutor(address)
    await executor.connect()
    with tempfile.TemporaryDirectory(prefix="formicary-ws-", dir="/tmp") as workspace:
        started = time.perf_counter()
        handle = start_session(
            project,
            workflow,
            workspace=Path(workspace),
            monitor_interval=None,
            executors={"shell": executor, "python": executor},
        )
        status = await handle.wait()
        elapsed = time.perf_counter() - started
        await handle.close()
    await executor.close()
    if status is not SessionStatus.COMPLETED:
        raise RuntimeError(f"formicary session ended {status.value}: {handle.counts()}")
    return elapsed


async def time_bare(client: Client, n_tasks: int, kind: str) -> float:
    """Seconds for ``n_tasks`` bare submissions of the same work, gathered."""
    function = shell_true if kind == "shell" else noop
    started = time.perf_counter()
    futures = [client.submit(function, pure=False) for _ in range(n_tasks)]
    results = await client.gather(futures)
    elapsed = time.perf_counter() - started
    del futures
    if kind == "shell" and any(results):
        raise RuntimeError("a bare `true` failed")
    return elapsed


async def measure(n_tasks: int, repeats: int, kinds: list[str]) -> dict[str, object]:
    logging.getLogger("distributed").setLevel(logging.WARNING)
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="formicary-bench-", dir="/tmp") as folder:
        root = Path(folder)
        (root / "noop.py").write_text(NOOP_MODULE)
        async with (
            LocalCluster(n_workers=2, asynchronous=True, **loopback_cluster_options()) as cluster,
            Client(cluster, asynchronous=True, set_as_default=False) as client,
        ):
            address = cluster.scheduler_address
            for kind in kinds:
                runners: dict[str, Callable[[], Awaitable[float]]] = {
                    f"formicary_{kind}": lambda k=kind: time_formicary(address, root, n_tasks, k),
                    f"bare_{kind}": lambda k=kind: time_bare(client, n_tasks, k),
                }
                progress(f"{kind}: warm-up ...")
                await time_formicary(address, root, 50, kind)
                await time_bare(client, 50, kind)
                labels = list(runners)
                for repeat in range(repeats):
                    order = labels if repeat % 2 == 0 else labels[::-1]
                    for label in order:
                        gc.collect()
                        seconds = await runners[label]()
                        times.setdefault(label, []).append(seconds)
                        progress(
                            f"  {label}: {seconds:.3f} s ({seconds / n_tasks * 1e3:.2f} ms/task)"
                        )
    result: dict[str, object] = {
        "bench": "dask",
        "tasks": n_tasks,
        "workers": 2,
        "repeats": repeats,
    }
    for kind in kinds:
        formicary = statistics.median(times[f"formicary_{kind}"])
        bare = statistics.median(times[f"bare_{kind}"])
        prefix = "" if kind == "shell" else "python_"
        result[f"{prefix}formicary_s"] = round(formicary, 3)
        result[f"{prefix}bare_s"] = round(bare, 3)
        result[f"{prefix}ratio"] = round(formicary / bare, 3)
    result["bar_ratio"] = BAR_RATIO
    result["ok"] = float(result["ratio"]) <= BAR_RATIO  # type: ignore[arg-type]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200 tasks, one repeat")
    parser.add_argument("--tasks", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--python", action="store_true", help="also no-op Python callables")
    args = parser.parse_args()
    n_tasks = args.tasks or (200 if args.quick else 1000)
    repeats = args.repeats or (1 if args.quick else 3)
    kinds = ["shell", "python"] if args.python else ["shell"]
    result = asyncio.run(measure(n_tasks, repeats, kinds))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
