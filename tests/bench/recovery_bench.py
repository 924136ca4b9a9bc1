"""Time to adopt an orphaned session with 100,000+ recorded events, up to its first dispatch.

Built once, realistically: ``formicary -w WS run bench --plain`` runs a persisted workflow in
a subprocess, which is SIGKILLed once the store says at least 104,000 events are committed.
The workflow (``max_parallel = 64``): 21 layers of 1000 no-op Python callables (each depending
on 2 tasks of the layer before), 8 ``gate`` shell tasks (``sleep 3600``, ``retries = 1``)
and a tail layer of 1000 callables each depending on one gate and one task of the last
layer. The gates keep the session from finishing, so the kill always lands before the end
however far the store's writer lags behind the engine (it commits in bursts). What the kill
left (``state.db`` and its ``-wal`` file; not the ``-shm`` index) is the template: the owner
is dead, 21,000 tasks are completed, the gates' attempts were running (on adoption they are
recorded as lost and retried at once) and the tail is pending. The gates' leftover ``sleep``
processes are killed after the build, so every run sees the same processes.

Measured, per run, on a fresh copy of the template in a fresh workspace, in this process:
``Store(db_path(ws))`` and ``find_orphan(store, None)`` (reported as ``open_s``, not part of
the bar), then from just before ``adopt(ws, record, store, monitor_interval=None)`` to the
first ``task_state`` event with state ``running`` on the adopted handle's bus (a listener
added right after ``adopt`` returns, which is before the dispatch ``adopt`` schedules with
``call_soon``). ``adopt()``'s own share is reported too. Then the session is cancelled and
closed. Median over 5 runs (``--runs``).

Bar: adoption to first dispatch < 1 s (median), with >= 100,000 events in the store.

Prints one JSON line on stdout; progress goes to stderr. ``--profile`` prints a cProfile of
one extra adoption (top 15 by tottime) to stderr.

    python tests/bench/recovery_bench.py [--quick] [--runs N] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import json
import os
import pstats
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from formicary.api.recovery import adopt, find_orphan
from formicary.model.synthetic import layered_edges, task_name
from formicary.run.events import Event, EventKind
from formicary.store.database import Store, db_path

FORMICARY = shutil.which("formicary") or str(Path(sys.executable).parent / "formicary")
BAR_SECONDS = 1.0
WIDTH = 1000
LAYERS = 36  # about 37,000 tasks: 3 events a task puts the store past 100,000 events
FAN_IN = 2
GATES = 8
MAX_PARALLEL = 64
TARGET_EVENTS = 104_000
MIN_EVENTS = 100_000
BENCHMOD = "def noop(*args, **kwargs):\n    return None\n"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Template:
    """The killed session's files and what they hold."""

    db: Path
    wal: Path | None
    info: dict[str, Any]


def _last_seq(path: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.OperationalError:
        return 0
    try:
        row = db.execute("SELECT MAX(last_seq) FROM sessions").fetchone()
        return int(row[0] or 0)
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        db.close()


def write_gated_project(folder: Path, layers: int) -> int:
    """The layered callables, the gates and the tail; returns the number of tasks."""
    folder.mkdir(parents=True)
    (folder / "benchmod.py").write_text(BENCHMOD, encoding="utf-8")
    lines = [
        '[project]\nname = "bench"\n',
        f"[workflows.main]\nmax_parallel = {MAX_PARALLEL}\n",
        "[workflows.main.tasks]",
    ]
    for task, deps in layered_edges(layers, WIDTH, FAN_IN):
        listed = ", ".join(f'"{dep}"' for dep in deps)
        lines.append(f'{task} = {{ call = "benchmod:noop", depends_on = [{listed}] }}')
    lines += [f'gate{g} = {{ run = "sleep 3600", retries = 1 }}' for g in range(GATES)]
    last = layers - 1
    for index in range(WIDTH):
        deps = f'"gate{index % GATES}", "{task_name(last, index)}"'
        lines.append(f'T{index} = {{ call = "benchmod:noop", depends_on = [{deps}] }}')
    (folder / "formicary.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return layers * WIDTH + GATES + WIDTH


def build(folder: Path, layers: int, target_events: int) -> Template:
    """Run the workflow persisted in a subprocess and SIGKILL it at ``target_events``."""
    workspace = folder / "build"
    n_tasks = write_gated_project(workspace / "bench", layers)
    path = db_path(workspace)
    progress(f"building: {n_tasks} tasks, kill at >= {target_events} committed events")
    started = time.perf_counter()
    with open(folder / "build.stderr", "w+", encoding="utf-8") as stderr:
        engine = subprocess.Popen(
            [FORMICARY, "-w", str(workspace), "run", "bench", "--plain"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        seen = 0
        while engine.poll() is None:
            if path.exists():
                seen = _last_seq(path)
                if seen >= target_events:
                    break
            if time.perf_counter() - started > 180:
                break
            time.sleep(0.02)
        engine.send_signal(signal.SIGKILL)
        engine.wait()
        stderr.seek(0)
        errors = stderr.read()
    built_s = time.perf_counter() - started
    if engine.returncode != -signal.SIGKILL or seen < target_events:
        _end_gates(workspace)
        raise RuntimeError(
            f"the engine ended (exit {engine.returncode}) before the kill, at {seen} events. "
            f"stderr: {errors[-500:]}"
        )
    try:
        wal = path.with_name(path.name + "-wal")
        # Read the figures from a copy, so the template stays as the kill left it.
        probe = folder / "probe"
        probe.mkdir()
        shutil.copy2(path, probe / path.name)
        if wal.exists():
            shutil.copy2(wal, probe / wal.name)
        db = sqlite3.connect(probe / path.name)
        try:
            info: dict[str, Any] = {
                "events": db.execute("SELECT MAX(last_seq) FROM events").fetchone()[0],
                "tasks": db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0],
                "task_states": dict(
                    db.execute("SELECT state, COUNT(*) FROM tasks GROUP BY state ORDER BY 2 DESC")
                ),
                "attempts": db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0],
                "unfinished_attempts": db.execute(
                    "SELECT COUNT(*) FROM attempts WHERE outcome IS NULL"
                ).fetchone()[0],
            }
        finally:
            db.close()
        shutil.rmtree(probe)
    finally:
        _end_gates(workspace)  # whatever happened reading the figures
    info["db_mb"] = round(path.stat().st_size / 1e6, 1)
    info["wal_mb"] = round(wal.stat().st_size / 1e6, 1) if wal.exists() else 0.0
    info["build_s"] = round(built_s, 1)
    info["engine_stderr_locked"] = "locked" in errors
    progress(f"  killed after {built_s:.1f} s: {json.dumps(info)}")
    return Template(path, wal if wal.exists() else None, info)


def _end_gates(workspace: Path) -> None:
    """Kill the gates' ``sleep 3600`` left running by the killed engine (each attempt runs in
    its own process group; the store, replayed, says which attempts never ended)."""
    probe = workspace.parent / "gates-probe"
    probe.mkdir(exist_ok=True)
    path = db_path(workspace)
    for suffix in ("", "-wal"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            shutil.copy2(source, probe / source.name)
    store = Store(probe / path.name)
    try:
        pgids = [a.pid for a in store.attempts(1) if a.outcome is None and a.pid]
    finally:
        store.close()
        shutil.rmtree(probe)
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def workspace_from(template: Template, workspace: Path) -> Path:
    """A fresh workspace holding a copy of the killed session's store."""
    target = db_path(workspace)
    target.parent.mkdir(parents=True)
    shutil.copy2(template.db, target)
    if template.wal is not None:
        shutil.copy2(template.wal, target.with_name(template.wal.name))
    return workspace


async def adopt_once(workspace: Path, profiler: cProfile.Profile | None = None) -> dict[str, float]:
    """Adopt the orphan of ``workspace``; seconds of each stage up to the first dispatch."""
    loop = asyncio.get_running_loop()
    first: asyncio.Future[float] = loop.create_future()

    def listener(event: Event) -> None:
        if (
            event.kind is EventKind.TASK_STATE
            and event.data.get("state") == "running"
            and not first.done()
        ):
            first.set_result(time.perf_counter())

    opened = time.perf_counter()
    store = Store(db_path(workspace))
    record = find_orphan(store, None)
    if profiler is not None:
        profiler.enable()
    started = time.perf_counter()
    handle = adopt(workspace, record, store, monitor_interval=None)
    adopted = time.perf_counter()
    handle.scheduler.bus.add_listener(listener)
    try:
        dispatched = await asyncio.wait_for(first, timeout=60)
    finally:
        if profiler is not None:
            profiler.disable()
        handle.scheduler.bus.remove_listener(listener)
        handle.cancel()
        await handle.close()
    return {
        "open_s": started - opened,
        "adopt_call_s": adopted - started,
        "to_dispatch_s": dispatched - started,
        "close_s": time.perf_counter() - dispatched,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 runs (the store is the same)")
    parser.add_argument("--runs", type=int, default=None, help="default 5")
    parser.add_argument("--layers", type=int, default=LAYERS, help=f"default {LAYERS}")
    parser.add_argument("--events", type=int, default=TARGET_EVENTS, help="kill at this many")
    parser.add_argument("--profile", action="store_true", help="cProfile one more adoption")
    args = parser.parse_args()
    runs = args.runs or (2 if args.quick else 5)

    stages: dict[str, list[float]] = {}
    profile_text = ""
    with tempfile.TemporaryDirectory(prefix="formicary-recovery-", dir="/tmp") as folder:
        root = Path(folder)
        template = build(root, args.layers, args.events)
        for run in range(runs):
            workspace = workspace_from(template, root / f"run{run}")
            gc.collect()
            figures = asyncio.run(adopt_once(workspace))
            for stage, seconds in figures.items():
                stages.setdefault(stage, []).append(seconds)
            progress(
                f"run {run + 1}/{runs}: "
                + ", ".join(f"{stage} {seconds:.3f}" for stage, seconds in figures.items())
            )
            shutil.rmtree(workspace)
        if args.profile:
            workspace = workspace_from(template, root / "profiled")
            profiler = cProfile.Profile()
            asyncio.run(adopt_once(workspace, profiler))
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
            profile_text = out.getvalue()
            progress(profile_text)

    median = {stage: round(statistics.median(values), 4) for stage, values in stages.items()}
    to_dispatch = median["to_dispatch_s"]
    events = template.info["events"]
    print(
        json.dumps(
            {
                "bench": "recovery",
                "quick": args.quick,
                "runs": runs,
                "store": template.info,
                "enough_events": events >= MIN_EVENTS,
                "adopt_to_first_dispatch_s": to_dispatch,
                "adopt_call_s": median["adopt_call_s"],
                "open_s": median["open_s"],
                "close_s": median["close_s"],
                "runs_s": [round(s, 4) for s in stages["to_dispatch_s"]],
                "bar_s": BAR_SECONDS,
                "ok": to_dispatch < BAR_SECONDS and events >= MIN_EVENTS,
            }
        )
    )


if __name__ == "__main__":
    main()
