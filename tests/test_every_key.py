"""Every key of every screen, and a seeded random stream of keys: nothing crashes the app.

The help screen once stored its rows in Textual's own ``_bindings`` and the next key pressed
on it killed the dashboard. These tests press every binding that is active in each place a
user can be (the main screen with each pane focused, sessions, task detail, the start dialog,
help, a confirm dialog, the command palette), at 80x24 and 160x50, with a session this
dashboard runs and with one another process runs; then 1,000 random keys. After each key the
app must still run and nothing may have been logged at error level.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from formicary.store.database import Store
from formicary.tui.app import FormicaryApp
from formicary.tui.screens.confirm import ConfirmScreen
from formicary.tui.screens.help import HelpScreen
from formicary.tui.screens.main import MainScreen
from formicary.tui.screens.sessions import SessionsScreen
from formicary.tui.screens.start import StartScreen
from formicary.tui.screens.task_detail import TaskDetailScreen
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.screen import Screen

from tests.conftest import WriteProject
from tests.test_cli_foundation import FORMICARY
from tests.test_dashboard import main_screen, open_workflow, until

SIZES = [(80, 24), (160, 50)]

PROJECT = """
[project]
name = "keys"

[defaults]
retries = 0

[workflows.w]
params = { seconds = "30" }

[workflows.w.tasks.first]
run = "echo first; sleep 0.2"

[workflows.w.tasks.broken]
run = "echo broken >&2; exit 3"

[workflows.w.tasks.long]
run = "echo long; sleep {seconds}"
depends_on = ["first"]

[workflows.w.tasks.after]
run = "echo after"
depends_on = ["long"]

[workflows.other.tasks.one]
run = "echo one"
"""

QUIT_ACTIONS = frozenset({"quit_dashboard", "app.quit_dashboard", "quit", "app.quit"})

PANES = ("projects", "graph", "queue", "log")


class ErrorRecords(logging.Handler):
    """Every record logged at error level or above, anywhere, while installed."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def errors() -> Iterator[ErrorRecords]:
    handler = ErrorRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


@pytest.fixture
def workspace(write_project: WriteProject) -> Path:
    return write_project(PROJECT, "keys").parent.parent


@pytest.fixture
def other_process(workspace: Path) -> Iterator[subprocess.Popen[str]]:
    """A ``formicary run`` of keys:w in another process (the dashboard attaches to it)."""
    engine = subprocess.Popen(
        [FORMICARY, "-w", str(workspace), "run", "keys:w", "--plain"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _long_task_runs(workspace):
            assert engine.poll() is None and time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
        yield engine
    finally:
        if engine.poll() is None:
            engine.send_signal(signal.SIGINT)
        engine.wait(timeout=60)


def _long_task_runs(workspace: Path) -> bool:
    """True once the other process's session is recorded with its ``long`` task running."""
    if not (workspace / ".formicary" / "state.db").exists():
        return False
    store = Store.for_workspace(workspace, create=False)
    try:
        return any(
            task.name == "long" and task.state == "running"
            for record in store.sessions(limit=1)
            for task in store.tasks(record.id)
        )
    finally:
        store.close()


def alive(app: FormicaryApp, errors: ErrorRecords, key: str) -> None:
    assert app.is_running, f"the app stopped after {key!r}"
    assert app.return_code is None, f"the app ended ({app.return_code}) after {key!r}"
    assert not errors.records, f"{key!r} logged: {[r.getMessage() for r in errors.records]}"


async def back_to_main(pilot: Pilot[int]) -> MainScreen:
    """Close whatever a key opened, until the main screen is on top again."""
    app = pilot.app
    for _ in range(6):
        if isinstance(app.screen, MainScreen):
            break
        if isinstance(app.screen, CommandPalette):
            await pilot.press("escape")
        elif isinstance(app.screen, Screen) and len(app.screen_stack) > 2:
            app.pop_screen()
        await pilot.pause()
    assert isinstance(app.screen, MainScreen), f"stuck on {app.screen!r}"
    return app.screen


def active_keys(app: FormicaryApp, seen: set[tuple[str, int]]) -> list[str]:
    """Every key bound where the focus is now that this sweep has not pressed yet: a binding
    of the app or of the screen is pressed once, not again for each pane."""
    keys = []
    for key, active in sorted(app.active_bindings.items()):
        identity = (key, id(active.node))
        if identity not in seen:
            seen.add(identity)
            keys.append(key)
    return keys


def quits(app: FormicaryApp, key: str) -> bool:
    active = app.active_bindings.get(key)
    return active is not None and active.binding.action in QUIT_ACTIONS


async def sweep(pilot: Pilot[int], errors: ErrorRecords, *, quit_allowed: bool) -> int:
    """Every binding of every screen, each checked to leave the app alive; returns how many
    keys were pressed. ``quit_allowed`` is False when nothing runs in this dashboard: then
    ``q`` would end the app, as it should, and is left out."""
    app = pilot.app
    assert isinstance(app, FormicaryApp)
    main = main_screen(app)
    seen: set[tuple[str, int]] = set()
    pressed = 0

    async def press(key: str, where: str) -> None:
        nonlocal pressed
        await pilot.press(key)
        alive(app, errors, f"{where}: {key}")
        pressed += 1

    for pane in PANES:
        main.action_focus_pane(pane)
        await pilot.pause()
        for key in active_keys(app, seen):
            if quits(app, key) and not quit_allowed:
                continue
            await press(key, f"main/{pane}")
            if not isinstance(app.screen, MainScreen) or main.focused is None:
                await back_to_main(pilot)
            main.action_focus_pane(pane)

    async def inside(opener: Callable[[], object], kind: type, where: str) -> None:
        opener()
        await until(pilot, lambda: isinstance(app.screen, kind))
        for key in active_keys(app, seen):
            if quits(app, key) and not quit_allowed:
                continue
            if not isinstance(app.screen, kind):
                await back_to_main(pilot)
                opener()
                await until(pilot, lambda: isinstance(app.screen, kind))
            await press(key, where)
        await back_to_main(pilot)

    await inside(app.action_help, HelpScreen, "help")
    await inside(main.action_sessions, SessionsScreen, "sessions")
    await inside(main.action_details, TaskDetailScreen, "detail")
    await inside(main.action_start_options, StartScreen, "start")
    await inside(main.action_cancel_session, ConfirmScreen, "confirm")
    await inside(app.action_command_palette, CommandPalette, "palette")
    return pressed


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_key_with_a_session_run_here(
    workspace: Path, errors: ErrorRecords, size: tuple[int, int]
) -> None:
    app = FormicaryApp(workspace)
    async with app.run_test(size=size) as pilot:
        main = await open_workflow(pilot, "keys", "w")
        await pilot.press("s")
        await until(pilot, lambda: main.current is not None and main.current.embedded)
        view = main.current.view
        await until(pilot, lambda: view.tasks["long"].state.value == "running")
        pressed = await sweep(pilot, errors, quit_allowed=True)
        assert pressed > 60
        alive(app, errors, "the end")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_key_with_a_session_another_process_runs(
    workspace: Path,
    errors: ErrorRecords,
    other_process: subprocess.Popen[str],
    size: tuple[int, int],
) -> None:
    app = FormicaryApp(workspace)
    async with app.run_test(size=size) as pilot:
        main = await open_workflow(pilot, "keys", "w")
        await until(
            pilot,
            lambda: main.current is not None and main.view.tasks["long"].state.value == "running",
        )
        assert main.current is not None and not main.current.embedded
        pressed = await sweep(pilot, errors, quit_allowed=False)
        assert pressed > 60
        alive(app, errors, "the end")


RANDOM_KEYS = [
    *"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    *"!\"#$%&'()*+,-./:;<=>@[\\]^_`{|}~",
    "up",
    "down",
    "left",
    "right",
    "tab",
    "shift+tab",
    "enter",
    "escape",
    "ctrl+p",
    "question_mark",
    "space",
    "pageup",
    "pagedown",
    "home",
    "end",
]


async def test_a_thousand_random_keys(
    workspace: Path, errors: ErrorRecords, other_process: subprocess.Popen[str]
) -> None:
    """1,000 keys from a fixed seed. ``q`` may end the app the way a user quits it (no
    crash, exit code 0); the stream then goes on in a new one."""
    keys = random.Random(20261207).choices(RANDOM_KEYS, k=1_000)
    position, apps = 0, 0
    while position < len(keys):
        app = FormicaryApp(workspace)
        apps += 1
        async with app.run_test(size=(120, 36)) as pilot:
            await open_workflow(pilot, "keys", "w")
            while position < len(keys) and app.is_running:
                key = keys[position]
                position += 1
                await pilot.press(key)
                if not app.is_running or app.return_code is not None:
                    break
                alive(app, errors, f"key {position}: {key}")
        assert app.return_code in (None, 0), f"key {position} ended the app with an error"
        assert not errors.records
        await asyncio.sleep(0)
    assert apps < 30  # the stream mostly ran inside one app


def test_no_pane_key_hides_a_dashboard_key() -> None:
    """A pane's own key never takes a key the main screen or the app binds (the queue's
    ``o`` once hid "start with options", the graph's ``l`` hid "logs"), except where the pane
    does the same thing there (``enter``: details; ``f``: follow) or the key means the
    pane's own version of it (``/`` searches the focused log; ``escape`` closes its search)."""
    from formicary.tui.widgets.graph import DagGraph
    from formicary.tui.widgets.project_tree import ProjectTree
    from formicary.tui.widgets.queue import TaskQueue
    from formicary.tui.widgets.task_log import TaskLog
    from formicary.tui.widgets.welcome import Welcome
    from textual.binding import Binding

    def keys(*owners: type) -> set[str]:
        found = set()
        for owner in owners:
            for binding in owner.BINDINGS:
                if isinstance(binding, Binding):
                    found.update(key.strip() for key in binding.key.split(","))
        return found

    dashboard = keys(MainScreen, FormicaryApp)
    allowed = {"enter", "f", "slash", "escape"}
    for pane in (DagGraph, TaskQueue, ProjectTree, TaskLog, Welcome):
        assert keys(pane) & dashboard <= allowed, pane.__name__


async def test_the_footer_says_resume_while_paused(write_project: WriteProject) -> None:
    from textual.widgets import Footer

    workspace = write_project(PROJECT, "keys").parent.parent
    app = FormicaryApp(workspace)
    async with app.run_test(size=(160, 40)) as pilot:
        main = await open_workflow(pilot, "keys", "w")
        await pilot.press("s")
        await until(pilot, lambda: main.current is not None and main.view.status == "running")

        def footer() -> str:
            return " ".join(str(key.render()) for key in main.query_one(Footer).children)

        await until(pilot, lambda: "Pause" in footer() and "Resume" not in footer())
        await pilot.press("p")
        await until(pilot, lambda: main.view.status == "paused")
        await until(pilot, lambda: "Resume" in footer() and "Pause " not in footer())
        await pilot.press("p")
        await until(pilot, lambda: main.view.status == "running")
        await until(pilot, lambda: "Pause" in footer() and "Resume" not in footer())
        await pilot.press("X", "y")
        await until(pilot, lambda: main.view.finished)
