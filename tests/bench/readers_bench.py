"""Readers beside the writer: does polling ``formicary status`` slow a persisted run down?

The run: ``formicary -w WS run wide --plain`` as a subprocess, 10,000 independent
``run = "true"`` tasks with ``max_parallel = 8`` (about 7 s alone on 2 cores, so the real
shell task is kept rather than a cheaper body), in a fresh workspace each time. Timed from
``Popen`` to exit. Three variants, their order rotated between repeats:

* ``alone``: the run by itself;
* ``readers``: the run with three reader threads, each running
  ``formicary -w WS status 1 --json`` once every ``--interval`` seconds (default 1.0, start
  to start, like ``watch -n 1``; a poll that takes longer is followed by the next at once;
  ``--interval 0`` polls back to back) until the run exits. A poller in real life polls at
  an interval: back to back, three busy Python processes on a 2-core machine slow the run
  about as much as the control below, whatever they read;
* ``control``: the same three reader loops, but against a finished 10,000-task session in
  another workspace. They cost the machine the same CPU without touching the live store, so
  ``readers / control`` isolates what sharing the store costs from what sharing two cores
  with three busy Python processes costs. A diagnostic, not part of the bar: run in the
  first ``--control`` repeats only (default 1).

Counted: polls, reader errors (a non-zero exit or unparsable JSON, except "no sessions
recorded" / "unknown session" before the run has created its session), and any "database
is locked" text in any stderr (the run's and every reader's); the largest ``-wal`` file seen.

Every formicary process runs with a bytecode cache of its own (``PYTHONPYCACHEPREFIX`` in
the temporary folder, ``PYTHONDONTWRITEBYTECODE`` unset), filled by the warm-up run and its
first polls, as an installed formicary has one (pip compiles at install): a machine that
forbids writing bytecode would otherwise make every poll compile the modules it imports.

Bar: median ``readers`` <= 1.2 x median ``alone``, and no "database is locked" anywhere
(reader errors must be zero too).

Prints one JSON line on stdout; progress goes to stderr.

    python tests/bench/readers_bench.py [--quick] [--repeats N] [--tasks N] [--interval S]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from formicary.store.database import db_path

FORMICARY = shutil.which("formicary") or str(Path(sys.executable).parent / "formicary")
BAR_RATIO = 1.2
READERS = 3
PARALLEL = 8
NOT_YET = ("no sessions recorded", "unknown session")
LOCKED = "database is locked"
VARIANTS = ("alone", "readers", "control")
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write_project(workspace: Path, n_tasks: int) -> None:
    """``wide``: ``n_tasks`` independent ``true`` tasks, ``max_parallel = 8``."""
    folder = workspace / "wide"
    folder.mkdir(parents=True)
    lines = [
        '[project]\nname = "wide"\n',
        f"[workflows.main]\nmax_parallel = {PARALLEL}\n",
        "[workflows.main.tasks]",
    ]
    lines += [f't{i:05d} = {{ run = "true" }}' for i in range(n_tasks)]
    (folder / "formicary.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass
class Readers:
    """What the reader loops saw."""

    polls: int = 0
    not_yet: int = 0
    errors: list[str] = field(default_factory=list)
    locked: int = 0
    max_wal_mb: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def loop(self, workspace: Path, done: threading.Event, interval: float) -> None:
        wal = db_path(workspace).with_name("state.db-wal")
        while not done.is_set():
            polled = time.monotonic()
            result = subprocess.run(
                [FORMICARY, "-w", str(workspace), "status", "1", "--json"],
                env=ENV,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            error = ""
            if result.returncode == 0:
                try:
                    document = json.loads(result.stdout)
                    if not document.get("tasks"):
                        error = "no tasks in the document"
                except json.JSONDecodeError as problem:
                    error = f"bad JSON: {problem}"
            elif not any(text in result.stderr for text in NOT_YET):
                error = f"exit {result.returncode}: {result.stderr.strip()[-300:]}"
            try:
                wal_mb = wal.stat().st_size / 1e6
            except FileNotFoundError:
                wal_mb = 0.0
            with self.lock:
                self.max_wal_mb = max(self.max_wal_mb, wal_mb)
                if LOCKED in result.stderr:
                    self.locked += 1
                if error:
                    self.errors.append(error)
                elif result.returncode == 0:
                    self.polls += 1
                else:
                    self.not_yet += 1
            # Event.wait: the loop ends as soon as the run does, not after a last sleep.
            left = interval - (time.monotonic() - polled)
            if left > 0:
                done.wait(left)


@dataclass
class Run:
    """One timed run."""

    seconds: float
    exit_code: int
    engine_locked: bool
    engine_stderr: str
    readers: Readers | None


def timed_run(
    folder: Path, n_tasks: int, read_from: Path | None, interval: float, label: str
) -> tuple[Run, Path]:
    """Run the workflow in a fresh workspace; readers poll ``read_from`` if given."""
    workspace = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=folder))
    write_project(workspace, n_tasks)
    readers = Readers() if read_from is not None else None
    done = threading.Event()
    threads: list[threading.Thread] = []
    with open(workspace / "engine.stderr", "w+", encoding="utf-8") as stderr:
        started = time.perf_counter()
        engine = subprocess.Popen(
            [FORMICARY, "-w", str(workspace), "run", "wide", "--plain"],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        if readers is not None and read_from is not None:
            target = workspace if read_from == Path("live") else read_from
            threads = [
                threading.Thread(target=readers.loop, args=(target, done, interval))
                for _ in range(READERS)
            ]
            for thread in threads:
                thread.start()
        code = engine.wait()
        seconds = time.perf_counter() - started
        done.set()
        for thread in threads:
            thread.join(timeout=120)
        stderr.seek(0)
        text = stderr.read()
    return Run(seconds, code, LOCKED in text, text[-300:], readers), workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2,000 tasks, one repeat")
    parser.add_argument("--tasks", type=int, default=None, help="default 10,000")
    parser.add_argument("--repeats", type=int, default=None, help="per variant; default 3")
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between poll starts (0: no pause)"
    )
    parser.add_argument("--control", type=int, default=1, help="repeats with a control run")
    args = parser.parse_args()
    n_tasks = args.tasks or (2000 if args.quick else 10_000)
    repeats = args.repeats or (1 if args.quick else 3)

    runs: dict[str, list[Run]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="formicary-readers-", dir="/tmp") as name:
        folder = Path(name)
        ENV["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        progress(f"warm-up: one {n_tasks}-task run, kept as the control readers' store ...")
        warm, control_ws = timed_run(folder, n_tasks, None, 0.0, "control-store")
        progress(f"  {warm.seconds:.2f} s, exit {warm.exit_code}")
        if warm.exit_code != 0:
            raise RuntimeError(f"the warm-up run failed: {warm.engine_stderr}")
        sources = {"alone": None, "readers": Path("live"), "control": control_ws}
        for repeat in range(repeats):
            variants = VARIANTS if repeat < args.control else VARIANTS[:2]
            shift = repeat % len(variants)
            order = list(variants[shift:] + variants[:shift])
            progress(f"repeat {repeat + 1}/{repeats}: {order}")
            for variant in order:
                run, workspace = timed_run(
                    folder, n_tasks, sources[variant], args.interval, variant
                )
                runs[variant].append(run)
                seen = run.readers
                detail = (
                    f", {seen.polls} polls, {len(seen.errors)} errors, {seen.locked} locked, "
                    f"wal <= {seen.max_wal_mb:.1f} MB"
                    if seen is not None
                    else ""
                )
                progress(f"  {variant}: {run.seconds:.2f} s, exit {run.exit_code}{detail}")
                shutil.rmtree(workspace)

    median = {v: statistics.median(r.seconds for r in runs[v]) for v in VARIANTS if runs[v]}
    control = median.get("control")
    polled = [r.readers for v in ("readers", "control") for r in runs[v] if r.readers]
    live = [r.readers for r in runs["readers"] if r.readers]
    errors = [e for seen in polled for e in seen.errors]
    locked = sum(seen.locked for seen in polled) + sum(
        1 for v in VARIANTS for r in runs[v] if r.engine_locked
    )
    failed_runs = [f"{v}: {r.engine_stderr}" for v in VARIANTS for r in runs[v] if r.exit_code]
    ratio = median["readers"] / median["alone"]
    ok = ratio <= BAR_RATIO and locked == 0 and not errors and not failed_runs
    print(
        json.dumps(
            {
                "bench": "readers",
                "quick": args.quick,
                "tasks": n_tasks,
                "task_body": "true",
                "max_parallel": PARALLEL,
                "readers": READERS,
                "poll_interval_s": args.interval,
                "repeats": repeats,
                "median_s": {v: round(s, 3) for v, s in median.items()},
                "runs_s": {v: [round(r.seconds, 3) for r in runs[v]] for v in VARIANTS},
                "readers_vs_alone": round(ratio, 3),
                "control_vs_alone": round(control / median["alone"], 3) if control else None,
                "readers_vs_control": round(median["readers"] / control, 3) if control else None,
                "polls_live": sum(seen.polls for seen in live),
                "polls_control": sum(seen.polls for seen in polled) - sum(s.polls for s in live),
                "reader_errors": len(errors),
                "reader_error_samples": errors[:3],
                "locked_errors": locked,
                "max_wal_mb_live": round(max((s.max_wal_mb for s in live), default=0.0), 1),
                "failed_runs": failed_runs[:3],
                "bar_ratio": BAR_RATIO,
                "ok_ratio": ratio <= BAR_RATIO,
                "ok_locked": locked == 0 and not errors,
                "ok": ok,
            }
        )
    )


if __name__ == "__main__":
    main()
