"""Peak memory of a 100,000-task session.

Measured: the peak resident set size (``ru_maxrss`` of the child, read by the parent through
``resource.getrusage(RUSAGE_CHILDREN)``) of a fresh Python process that builds a layered DAG
of no-op Python callables (1000 layers of 100 tasks, each depending on 2 tasks of the layer
before) as specs and runs it to completion with ``start_session`` (``monitor_interval=None``).
The child also reports its RSS after imports, after building the specs and at the end, so a
failure shows which stage holds the memory.

Bar: peak RSS <= 300 MB. ``--persist`` runs the session persisted (``persist=True``, the
store in the temporary workspace); the store writer process's peak (sampled every 20 ms)
is then added to the engine's, and the bar holds for the sum (``peak_total_mb``).

Prints one JSON line on stdout; progress goes to stderr.

    python tests/bench/rss_bench.py [--quick] [--persist]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

WIDTH = 100
FAN_IN = 2
BAR_MB = 300.0
BENCHMOD = "def noop(*args, **kwargs):\n    return None\n"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def child(layers: int, max_parallel: int, persist: bool = False) -> None:
    """The workload: build and run the DAG, then print stage RSS figures as JSON."""
    import asyncio
    import contextlib
    import tempfile
    import threading

    import psutil
    from formicary.api.runtime import start_session
    from formicary.model.records import SessionStatus
    from formicary.model.specs import ProjectSpec, TaskSpec, WorkflowSpec
    from formicary.model.synthetic import layered_edges

    me = psutil.Process()

    def rss_mb() -> float:
        return round(me.memory_info().rss / 1e6, 1)

    stages = {"imported": rss_mb()}
    with tempfile.TemporaryDirectory(prefix="formicary-rss-", dir="/tmp") as folder:
        root = Path(folder)
        (root / "benchmod.py").write_text(BENCHMOD, encoding="utf-8")
        tasks = {
            name: TaskSpec(name=name, call="benchmod:noop", depends_on=tuple(deps))
            for name, deps in layered_edges(layers, WIDTH, FAN_IN)
        }
        workflow = WorkflowSpec(name="main", tasks=tasks, max_parallel=max_parallel)
        project = ProjectSpec(name="bench", workflows={"main": workflow}, root=root)
        stages["specs_built"] = rss_mb()

        writer_peak = [0]
        done = threading.Event()

        def watch_writer() -> None:
            # The store writer is this process's child. Sampled, as its ru_maxrss would be
            # this process's own at the moment it was started (vfork borrows our memory).
            while not done.wait(0.02):
                for process in me.children():
                    with contextlib.suppress(psutil.Error):
                        writer_peak[0] = max(writer_peak[0], process.memory_info().rss)

        async def run() -> tuple[str, float]:
            started = time.perf_counter()
            handle = start_session(
                project, workflow, workspace=root / "ws", monitor_interval=None, persist=persist
            )
            watcher = threading.Thread(target=watch_writer, daemon=True)
            watcher.start()
            status = await handle.wait()
            elapsed = time.perf_counter() - started
            stages["finished"] = rss_mb()
            await handle.close()
            done.set()
            watcher.join()
            return status.value, elapsed

        status, elapsed = asyncio.run(run())
    if persist:
        stages["writer_peak"] = round(writer_peak[0] / 1e6, 1)
    if status != SessionStatus.COMPLETED.value:
        raise SystemExit(f"session ended {status}")
    print(json.dumps({"tasks": len(tasks), "run_s": round(elapsed, 2), "stages_mb": stages}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 tasks instead of 100,000")
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--max-parallel", type=int, default=16)
    parser.add_argument("--persist", action="store_true", help="run the session persisted")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    layers = args.layers or (200 if args.quick else 1000)
    if args.child:
        child(layers, args.max_parallel, args.persist)
        return

    progress(f"child run: {layers * WIDTH} tasks at max_parallel={args.max_parallel} ...")
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--layers",
        str(layers),
        "--max-parallel",
        str(args.max_parallel),
        *(["--persist"] if args.persist else []),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if before and before >= peak_kb:
        raise RuntimeError("an earlier child's peak hides this one's")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    ru_maxrss_mb = peak_kb * 1024 / 1e6  # Linux reports ru_maxrss in KiB
    # The kernel's high-water mark can lag a sample taken just before exit by a page or two.
    stages = dict(report["stages_mb"])
    writer_mb = stages.pop("writer_peak", 0.0)
    peak_mb = max(ru_maxrss_mb, *stages.values())
    # Persisted, the store writer process is part of the run: the bar holds for both.
    total_mb = peak_mb + writer_mb
    progress(f"  peak {peak_mb:.1f} MB, stages {report['stages_mb']}, run {report['run_s']} s")
    print(
        json.dumps(
            {
                "bench": "rss",
                "quick": args.quick,
                "tasks": report["tasks"],
                "max_parallel": args.max_parallel,
                "persist": args.persist,
                "runs": 1,
                "peak_rss_mb": round(peak_mb, 1),
                "writer_peak_rss_mb": writer_mb,
                "peak_total_mb": round(total_mb, 1),
                "ru_maxrss_mb": round(ru_maxrss_mb, 1),
                "stages_mb": report["stages_mb"],
                "run_s": report["run_s"],
                "bar_mb": BAR_MB,
                "ok": total_mb <= BAR_MB,
            }
        )
    )


if __name__ == "__main__":
    main()
