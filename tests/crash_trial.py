"""One kill -9 trial: run a 200-task workflow, SIGKILL its engine at a random moment, resume.

Each task appends its name to ``marker.txt``. After ``formicary resume`` every task must be
completed, tasks recorded as completed before the kill must not have run again (one marker
line each), ``PRAGMA integrity_check`` must say ok, and event numbers must have no gaps.
Shared by the test suite (10 trials) and ``tests/bench/crash_soak.py`` (100).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from formicary.errors import UnknownSessionError
from formicary.model.synthetic import layered_edges
from formicary.store.database import Store, db_path

FORMICARY = shutil.which("formicary") or str(Path(sys.executable).parent / "formicary")
TASKS = 200


def write_project(workspace: Path) -> None:
    """A 200-task layered project (20 layers of 10) whose tasks append to marker.txt."""
    folder = workspace / "crash"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        '[project]\nname = "crash"\n',
        "[defaults]\nretries = 2\nretry_delay = 0.05\n",
        "[workflows.main]\nmax_parallel = 8\n",
        "[workflows.main.tasks]",
    ]
    for task, deps in layered_edges(TASKS // 10, 10, 2):
        listed = ", ".join(f'"{dep}"' for dep in deps)
        lines.append(f'{task} = {{ run = "echo {task} >> marker.txt", depends_on = [{listed}] }}')
    (folder / "formicary.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass
class TrialResult:
    """What one trial saw; ``problems`` is empty when everything held."""

    killed_after_lines: int
    recorded_completed: int
    reran: int
    problems: list[str] = field(default_factory=list)


def _marker_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").split()
    except FileNotFoundError:
        return []


def run_trial(workspace: Path, rng: random.Random, deadline: float = 60.0) -> TrialResult:
    """Run one trial in a fresh ``workspace``."""
    write_project(workspace)
    marker = workspace / "crash" / "marker.txt"
    kill_at = rng.randint(1, TASKS - 1)
    engine = subprocess.Popen(
        [FORMICARY, "-w", str(workspace), "run", "crash", "--plain"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.monotonic()
    while len(_marker_lines(marker)) < kill_at and engine.poll() is None:
        if time.monotonic() - started > deadline:
            break
        time.sleep(0.002)
    writers = _store_writers(engine.pid)
    engine.send_signal(signal.SIGKILL)
    engine.wait()
    lines_at_kill = len(_marker_lines(marker))
    # The engine's store writer commits what it was sent, then ends: only then does the
    # store say all the engine recorded (a kill that lands after the session finished, while
    # the engine shuts down, leaves a completed session with nothing to resume).
    problems = [f"store writer {p.pid} still alive" for p in _wait_ended(writers, deadline)]
    store = Store(db_path(workspace))
    try:
        recorded = {task.name for task in store.tasks(1) if task.state == "completed"}
        finished = store.session(1).status.is_final
    except UnknownSessionError:
        return TrialResult(lines_at_kill, 0, 0, [*problems, "no session was recorded"])
    finally:
        store.close()
    resume = subprocess.run(
        [FORMICARY, "-w", str(workspace), "resume", "--plain"],
        capture_output=True,
        text=True,
        timeout=deadline,
        check=False,
    )
    result = TrialResult(lines_at_kill, len(recorded), 0, problems)
    if engine.returncode != -signal.SIGKILL or finished:
        # The run finished before the kill landed: nothing was orphaned to resume.
        if resume.returncode != 2 or "no orphaned session" not in resume.stderr:
            result.problems.append(f"resume of a finished run: {resume.stderr.strip()}")
    elif resume.returncode != 0:
        result.problems.append(f"resume exited {resume.returncode}: {resume.stderr.strip()}")
    counts = Counter(_marker_lines(marker))
    result.reran = sum(1 for count in counts.values() if count > 1)
    for name in recorded:
        if counts[name] != 1:
            result.problems.append(f"{name} was recorded completed but ran {counts[name]} times")
    store = Store(db_path(workspace))
    states = {task.name: task.state for task in store.tasks(1)}
    integrity = store.integrity_check()
    seqs = [event.seq for event in store.events(1, 0, limit=10_000_000)]
    store.close()
    not_done = [name for name, state in states.items() if state != "completed"]
    if len(states) != TASKS or not_done:
        result.problems.append(f"not completed after resume: {not_done[:5]}")
    missing = [name for name in states if counts[name] < 1]
    if missing:
        result.problems.append(f"never ran: {missing[:5]}")
    if integrity != "ok":
        result.problems.append(f"integrity_check: {integrity}")
    if seqs != list(range(1, len(seqs) + 1)):
        result.problems.append("event sequence numbers have gaps")
    return result


def _store_writers(pid: int) -> list[psutil.Process]:
    """The store writer processes started by the engine ``pid``."""
    try:
        children = psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if "formicary.store.writer" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _wait_ended(processes: list[psutil.Process], deadline: float) -> list[psutil.Process]:
    """Wait until each of ``processes`` has exited (a zombie counts: whoever adopted the
    orphan reaps it in its own time); those still alive after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    alive = []
    for process in processes:
        while True:
            try:
                if process.status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.NoSuchProcess:
                break
            if time.monotonic() >= end:
                alive.append(process)
                break
            time.sleep(0.005)
    return alive


def fresh(workspace: Path) -> Path:
    """Empty ``workspace`` (create it if needed)."""
    if workspace.exists():
        shutil.rmtree(workspace)
    workspace.mkdir(parents=True)
    os.sync()
    return workspace
