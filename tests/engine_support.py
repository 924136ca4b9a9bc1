"""Helpers for engine tests: start sessions on specs built in code, wait on events."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from formicary.api.control import SessionHandle
from formicary.api.runtime import start_session
from formicary.model.records import TaskStatus
from formicary.run.events import Event, EventBus
from formicary.store.schema import MIGRATIONS

from tests.conftest import make_project

DEADLINE = 30.0


def start(root: Path, tasks: dict[str, dict[str, Any]], **options: Any) -> SessionHandle:
    """Start a session of a one-workflow project built from ``tasks`` (see make_project)."""
    workflow_options = {
        key: options.pop(key) for key in ("max_parallel", "params", "pools") if key in options
    }
    project = make_project(root, tasks, **workflow_options)
    workflow = project.workflows["main"]  # type: ignore[attr-defined]
    options.setdefault("monitor_interval", None)
    options.setdefault("seed", 1)
    return start_session(project, workflow, workspace=root, **options)  # type: ignore[arg-type]


class Recorder:
    """Records every event of a bus, and lets a test wait for a condition on them."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        bus.add_listener(self._record)

    def _record(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def until(self, condition: Callable[[], bool], timeout: float = DEADLINE) -> None:
        """Return once ``condition()`` holds; fail the test after ``timeout`` seconds."""

        async def poll() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(poll(), timeout)

    def states(self, task: str) -> list[str]:
        """Every state ``task`` went through, in order."""
        return [e.data["state"] for e in self.events if e.task == task and e.kind == "task_state"]


def record(handle: SessionHandle) -> Recorder:
    """A recorder on the handle's bus (attach before acting)."""
    return Recorder(handle.scheduler.bus)


async def wait_state(
    handle: SessionHandle, recorder: Recorder, task: str, state: TaskStatus
) -> None:
    """Wait until ``task`` is in ``state``."""
    await recorder.until(lambda: handle.state(task) is state)


def process_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def pid_of(handle: SessionHandle, task: str) -> int | None:
    """The process (group) id of ``task``'s running attempt, once it has one."""
    attempt = handle.scheduler._active.get(task)
    return attempt.pid if attempt is not None else None


async def eventually(condition: Callable[[], bool], timeout: float = DEADLINE) -> None:
    """For conditions no event announces (process states): check every 20 ms until true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition still false after the deadline")
        await asyncio.sleep(0.02)


def store_at_version(path: Path, version: int) -> sqlite3.Connection:
    """A new state.db at ``path`` as schema ``version`` left it (the first ``version``
    migrations applied), for tests of what a newer formicary makes of an older store."""
    old = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:version]:
        for statement in script.split(";"):
            if statement.strip():
                old.execute(statement)
    old.execute(f"PRAGMA user_version = {version}")
    return old
