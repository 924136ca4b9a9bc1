"""Snapshots of the dashboard (pytest-textual-snapshot): the main screen, the task detail
screen and the help screen, each at 80x24 and 160x50.

The data is deterministic: the app loads the fixture workspace in
``tests/fixtures/snapshot-workspace`` (so the header always shows
``…/fixtures/snapshot-workspace``), and the session on screen is a :class:`SessionView` built
here with fixed times, shown through ``MainScreen.show_session``. A session that is still
running shows a growing "took" and elapsed time, so the clock of every module that displays
time is frozen at :data:`NOW`, ``TZ`` is UTC so the HH:MM:SS cells do not depend on the
machine, and ``XDG_CONFIG_HOME`` is empty so no saved theme applies. The detail screen
reads attempts from ``WatchedSession.store.attempts``; a small fake store answers with fixed
records.

Update after an intended change of the look, then look at the SVGs before committing them:

    pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import formicary.model.durations
import formicary.tui.screens.task_detail
import formicary.tui.state
import formicary.tui.widgets.queue
import pytest
from formicary.model.records import TaskStatus
from formicary.store.database import AttemptRecord, Store
from formicary.tui.app import FormicaryApp
from formicary.tui.bridge import WatchedSession
from formicary.tui.screens.confirm import ConfirmScreen
from formicary.tui.screens.help import HelpScreen
from formicary.tui.screens.main import MainScreen
from formicary.tui.screens.start import StartScreen
from formicary.tui.screens.task_detail import TaskDetailScreen
from formicary.tui.state import Sample, SessionView
from formicary.tui.widgets.queue import TaskQueue
from formicary.tui.widgets.task_log import NO_OUTPUT, TaskLog
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "snapshot-workspace"
"""The workspace the app loads (two projects; nothing in it is ever run)."""

LOG_OF_FAILED = FIXTURE / "logs" / "transform_customers.2.log"

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 50), id="160x50")]

T0 = 1_700_000_000.0
"""When the session started: 2023-11-14 22:13:20 UTC."""

NOW = T0 + 95.0
"""The frozen clock: 1 min 35 s into the session."""

SESSION = "7"
FOCUSED_TASK = "transform_customers"
"""The failed task the queue cursor is on (its log is shown; the detail screen opens it)."""

CLOCK_MODULES: tuple[ModuleType, ...] = (
    formicary.tui.state,
    formicary.tui.widgets.queue,
    formicary.model.durations,
    formicary.tui.screens.task_detail,
)
"""Modules that read ``time.time()`` to show durations; each gets the frozen clock."""

OLD_LOG = "/srv/etl/.formicary/logs/7"
"""How an attempt's log path looks in the store (shown, never opened, by the detail screen)."""

S = TaskStatus
TASKS: dict[str, dict[str, Any]] = {
    "fetch_orders": {
        "state": S.COMPLETED,
        "attempt": 1,
        "started_at": T0 + 0.2,
        "ended_at": T0 + 12.6,
        "exit_code": 0,
    },
    "fetch_customers": {
        "state": S.COMPLETED,
        "attempt": 1,
        "started_at": T0 + 0.2,
        "ended_at": T0 + 7.9,
        "exit_code": 0,
    },
    "validate": {
        "state": S.COMPLETED,
        "attempt": 1,
        "started_at": T0 + 12.7,
        "ended_at": T0 + 21.0,
        "exit_code": 0,
    },
    "transform_orders": {
        "state": S.RUNNING,
        "attempt": 1,
        "started_at": T0 + 21.1,
        "cpu": 87.0,
        "rss": 256 * 1024 * 1024,
    },
    FOCUSED_TASK: {
        "state": S.FAILED,
        "attempt": 2,
        "started_at": T0 + 26.4,
        "ended_at": T0 + 31.2,
        "exit_code": 1,
        "reason": "exited with code 1",
        "log_path": str(LOG_OF_FAILED),
    },
    "enrich": {
        "state": S.RETRYING,
        "attempt": 1,
        "started_at": T0 + 21.1,
        "ended_at": T0 + 51.1,
        "reason": "timed out after 30s; retry in 1.0s",
    },
    "load_warehouse": {"state": S.PENDING},
    "report": {"state": S.BLOCKED, "reason": f"upstream task {FOCUSED_TASK} failed"},
    "notify": {"state": S.BLOCKED, "reason": "upstream task report blocked"},
    "archive_raw": {
        "state": S.CANCELLED,
        "attempt": 1,
        "started_at": T0 + 12.7,
        "ended_at": T0 + 14.0,
        "reason": "cancelled by the user",
    },
    "lint_schema": {"state": S.SKIPPED, "reason": "skipped by the user"},
}
"""Every task of ``etl:nightly`` in the session on screen: one of each state but ready and
paused, after a fan-out (validate → three transforms) and before a fan-in (report)."""

ATTEMPTS = [
    AttemptRecord(
        FOCUSED_TASK,
        1,
        "failed",
        T0 + 21.1,
        T0 + 25.3,
        1,
        "exited with code 1",
        "local",
        4242,
        f"{OLD_LOG}/{FOCUSED_TASK}.1.log",
    ),
    AttemptRecord(
        FOCUSED_TASK,
        2,
        "failed",
        T0 + 26.4,
        T0 + 31.2,
        1,
        "exited with code 1",
        "local",
        4251,
        f"{OLD_LOG}/{FOCUSED_TASK}.2.log",
    ),
]
"""What the store holds about the focused task's attempts."""


class FrozenClock:
    """Stands in for the ``time`` module: ``time()`` is fixed, the rest is the real module."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        """The frozen wall-clock time."""
        return self.now

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@dataclass
class FakeAttemptStore:
    """The one store call the detail screen makes for a session watched from the store."""

    records: list[AttemptRecord] = field(default_factory=lambda: list(ATTEMPTS))

    def attempts(self, session_id: int | str, task: str | None = None) -> list[AttemptRecord]:
        """Attempts of the session (of one task, if given)."""
        assert str(session_id) == SESSION
        return [r for r in self.records if task is None or r.task == task]


@pytest.fixture(autouse=True)
def deterministic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """UTC, a clock stopped at :data:`NOW` in every module that shows durations, and no
    user settings (a theme saved in ``$XDG_CONFIG_HOME/formicary`` would recolour it all)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("FORMICARY_THEMES", raising=False)
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    clock = FrozenClock(NOW)
    for module in CLOCK_MODULES:
        monkeypatch.setattr(module, "time", clock)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous
        time.tzset()


def build_view(main: MainScreen) -> SessionView:
    """The running session of ``etl:nightly`` the snapshots show, with fixed times."""
    workflow = main.bridge.workspace.projects["etl"].workflows["nightly"]
    view = SessionView(
        SESSION,
        "etl",
        workflow,
        status="running",
        started_at=T0,
        capacity={"cpu": 4, "db": 1},
        embedded=False,
    )
    for name, fields in TASKS.items():
        view.set_task(name, **fields)
    view.booked = {"cpu": 2, "db": 0}
    for i in range(60):
        view.samples.append(
            Sample(
                at=T0 + i,
                cpu=round(60 + 40 * math.sin(i / 5), 1),
                rss=(180 + 2 * i) * 1024 * 1024,
                system_cpu=round(35 + 15 * math.sin(i / 7), 1),
                system_memory=41.0 + i / 20,
            )
        )
    view.last_seq = 123
    return view


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "the dashboard never got there"
        await pilot.pause(0.01)


async def show_session(pilot: Pilot[Any]) -> MainScreen:
    """Put the fixed session on the main screen, the queue focused on the failed task, and
    wait until that task's log is read."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, MainScreen))
    main = cast(MainScreen, app.screen)
    # The workflow first highlighted is previewed by a worker: let it finish first, or it
    # would replace the session shown below.
    await until(pilot, lambda: main.view is not None)
    await app.workers.wait_for_complete()
    store = cast(Store, FakeAttemptStore())
    main.show_session(WatchedSession(build_view(main), store=store))
    main.go_to_task(FOCUSED_TASK)
    main.query_one(TaskQueue).focus()
    log = main.query_one(TaskLog)
    await until(pilot, lambda: bool(log.lines) and log.lines != [NO_OUTPUT])
    await pilot.pause()
    return main


async def open_detail(pilot: Pilot[Any]) -> None:
    """The main screen as above, then ``enter`` on the failed task."""
    await show_session(pilot)
    await pilot.press("enter")
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, TaskDetailScreen))
    table = app.screen.query_one("#attempts", DataTable)
    await until(pilot, lambda: table.row_count == len(ATTEMPTS))
    await pilot.pause()


async def open_help(pilot: Pilot[Any]) -> None:
    """The main screen as above, then ``?``."""
    await show_session(pilot)
    await pilot.press("question_mark")
    await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
    await pilot.pause()


QUIT_TITLE = "Quit? These sessions run in this dashboard and will be cancelled."


async def over_main_screen(pilot: Pilot[Any], make: Callable[[MainScreen], Screen[Any]]) -> None:
    """The main screen as above, with the screen ``make`` builds for it pushed over it."""
    screen = make(await show_session(pilot))
    await pilot.app.push_screen(screen)
    await until(pilot, lambda: pilot.app.screen is screen)
    await pilot.pause()


async def open_quit_dialog(pilot: Pilot[Any]) -> None:
    """The dialog ``q`` shows while sessions run here (its title is longer than the dialog
    is wide: it wraps)."""
    items = [f"session {SESSION}: etl:nightly"]
    await over_main_screen(pilot, lambda _: ConfirmScreen(QUIT_TITLE, items, confirm_label="Quit"))


def start_dialog(main: MainScreen) -> StartScreen:
    """The start dialog (``o``) of the shown workflow given three parameters: at 80x24 its
    fields scroll and its buttons stay in sight."""
    assert main.view is not None
    params = {"day": "2023-11-14", "region": "eu", "limit": 500}
    return StartScreen("etl", dataclasses.replace(main.view.workflow, params=params))


async def open_start_dialog(pilot: Pilot[Any]) -> None:
    """The start dialog over the main screen."""
    await over_main_screen(pilot, start_dialog)


SnapCompare = Callable[..., bool]
RunBefore = Callable[[Pilot[Any]], Awaitable[None]]


def check_snapshot(snap_compare: SnapCompare, size: tuple[int, int], run_before: RunBefore) -> None:
    """Compare the dashboard on the fixture workspace after ``run_before`` at ``size``."""
    app = FormicaryApp(FIXTURE)
    assert snap_compare(app, terminal_size=size, run_before=run_before)
    assert not (FIXTURE / ".formicary").exists(), "the dashboard wrote into the fixture"


@pytest.mark.parametrize("size", SIZES)
def test_main_screen(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """Projects, graph, queue (cursor on the failed task), resources, its log, the header."""
    check_snapshot(snap_compare, size, show_session)


@pytest.mark.parametrize("size", SIZES)
def test_task_detail_screen(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """The failed task: why it is not running, its two attempts, its definition."""
    check_snapshot(snap_compare, size, open_detail)


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """Every binding of the main screen, the focused queue and the app, with ids."""
    check_snapshot(snap_compare, size, open_help)


@pytest.mark.parametrize("size", SIZES)
def test_quit_dialog(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """The quit dialog over the main screen: its whole title, wrapped, and what it ends."""
    check_snapshot(snap_compare, size, open_quit_dialog)


@pytest.mark.parametrize("size", SIZES)
def test_start_dialog(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """The start dialog: parameters with their defaults, executor, tasks at once, buttons."""
    check_snapshot(snap_compare, size, open_start_dialog)


EMPTY = Path(__file__).resolve().parent / "fixtures" / "empty-workspace"
"""A workspace with no project: the dashboard shows its welcome pane."""


async def wait_for_welcome(pilot: Pilot[Any]) -> None:
    """The welcome pane of an empty workspace, once its definitions were read."""
    await until(
        pilot,
        lambda: any(
            s.has_class("-empty") for s in pilot.app.screen_stack if isinstance(s, MainScreen)
        ),
    )
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_welcome_pane(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """An empty workspace: what a workspace is, and n to create a project."""
    app = FormicaryApp(EMPTY)
    assert snap_compare(app, terminal_size=size, run_before=wait_for_welcome)
    assert not (EMPTY / ".formicary").exists(), "the dashboard wrote into the fixture"
