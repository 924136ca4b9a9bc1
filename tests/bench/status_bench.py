"""What one ``formicary status`` costs on a 10,000-task session, live and finished.

A fresh workspace gets ``wide``: ``--tasks`` independent ``run = "true"`` tasks with
``max_parallel = 8``, run with ``formicary run`` as a subprocess. Measured:

* ``live_poll_cpu_ms``: ``formicary status 1 --json`` polled back to back (one at a time,
  10 ms apart) while the run goes on; the CPU (user + system, from ``wait4``) of each poll
  whose session had started; median and 90th percentile;
* ``finished_poll_cpu_ms``: the same poll, ``--repeats`` times, once the run has ended;
* ``table_s``: the wall time of ``formicary status 1`` (the table a person reads, on a pipe),
  ``--repeats`` times once the run has ended; median.

Every formicary process gets a bytecode cache of its own (``PYTHONPYCACHEPREFIX`` in the
temporary folder), filled by the run and the first polls, as an installed formicary has one.

Bar: ``table_s`` median <= 1.0 s (a Rich table took 3.8 s for these 10,000 rows). The poll
figures have no bar of their own: ``readers_bench.py`` holds the bar on what polls cost a run.

Prints one JSON line on stdout; progress goes to stderr.

    python tests/bench/status_bench.py [--quick] [--tasks N] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench.readers_bench import FORMICARY, write_project  # noqa: E402

BAR_TABLE_S = 1.0
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def poll_cpu_ms(command: list[str]) -> tuple[int, float]:
    """Run ``command`` to its end; its exit code and the CPU it used, in milliseconds."""
    process = subprocess.Popen(
        command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, 1e3 * (usage.ru_utime + usage.ru_stime)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2,000 tasks, 3 repeats")
    parser.add_argument("--tasks", type=int, default=None, help="default 10,000")
    parser.add_argument("--repeats", type=int, default=None, help="default 7")
    args = parser.parse_args()
    n_tasks = args.tasks or (2000 if args.quick else 10_000)
    repeats = args.repeats or (3 if args.quick else 7)

    with tempfile.TemporaryDirectory(prefix="formicary-status-", dir="/tmp") as name:
        folder = Path(name)
        ENV["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        workspace = folder / "ws"
        write_project(workspace, n_tasks)
        poll = [FORMICARY, "-w", str(workspace), "status", "1", "--json"]
        progress(f"running {n_tasks} tasks, polling status --json beside them ...")
        started = time.perf_counter()
        engine = subprocess.Popen(
            [FORMICARY, "-w", str(workspace), "run", "wide", "--plain"],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        live: list[float] = []
        while engine.poll() is None:
            code, cpu = poll_cpu_ms(poll)
            if code == 0 and engine.poll() is None:
                live.append(cpu)
            time.sleep(0.01)
        run_s = time.perf_counter() - started
        if engine.returncode != 0:
            raise RuntimeError(f"the run failed (exit {engine.returncode})")
        progress(f"  run {run_s:.2f} s, {len(live)} live polls")
        finished = []
        for _ in range(repeats):
            code, cpu = poll_cpu_ms(poll)
            if code != 0:
                raise RuntimeError(f"status --json exited {code}")
            finished.append(cpu)
        tables = []
        for _ in range(repeats):
            began = time.perf_counter()
            subprocess.run(
                [FORMICARY, "-w", str(workspace), "status", "1"],
                env=ENV,
                stdout=subprocess.DEVNULL,
                check=True,
            )
            tables.append(time.perf_counter() - began)
        progress(f"  finished polls {finished}, tables {tables}")

    table_s = statistics.median(tables)
    print(
        json.dumps(
            {
                "bench": "status",
                "quick": args.quick,
                "tasks": n_tasks,
                "repeats": repeats,
                "run_s": round(run_s, 2),
                "live_polls": len(live),
                "live_poll_cpu_ms": {
                    "median": round(statistics.median(live), 1) if live else None,
                    "p90": round(percentile(live, 0.9), 1) if live else None,
                },
                "finished_poll_cpu_ms": round(statistics.median(finished), 1),
                "table_s": round(table_s, 3),
                "tables_s": [round(t, 3) for t in tables],
                "bar_table_s": BAR_TABLE_S,
                "ok": table_s <= BAR_TABLE_S,
            }
        )
    )


if __name__ == "__main__":
    main()
