"""The dashboard shows what the store says, whoever runs the session: a session reopened by
another process, an engine that died, a stopped process, a refused call and a session's
final status are shown as they are, driven with Pilot against real engines.

Each test failed on the code before these features (checked by reverting them).
"""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from formicary.api.outcome import Outcome
from formicary.api.session_client import wait_for_outcome
from formicary.model.records import TaskStatus
from formicary.store.database import COMMAND_EXPIRED, Store
from formicary.store.schema import db_path
from formicary.tui.app import FormicaryApp
from formicary.tui.screens.confirm import ConfirmScreen
from formicary.tui.screens.main import MainScreen
from formicary.tui.screens.sessions import SessionsScreen
from formicary.tui.state import ENGINE_STOPPED
from formicary.tui.widgets.queue import TaskQueue
from formicary.tui.widgets.status_header import StatusHeader
from textual.widgets import DataTable, Label

from tests.conftest import WriteProject
from tests.test_cli_foundation import FORMICARY
from tests.test_dashboard import main_screen, open_workflow, state, until

SIZE = (160, 50)
DEADLINE = 60.0
TABLES = ("sessions", "tasks", "attempts", "events", "commands", "samples")

PROJECT = """
[project]
name = "truth"

[defaults]
retries = 0

[workflows.fix.tasks.fix_me]
run = "test -f fixed"

[workflows.fix.tasks.after]
run = "true"
depends_on = ["fix_me"]

[workflows.long.tasks.long]
run = "sleep 60"
retries = 1
retry_delay = 0.1

[workflows.mixed.tasks.bad]
run = "exit 1"

[workflows.mixed.tasks.child]
run = "true"
depends_on = ["bad"]

[workflows.mixed.tasks.bad_done]
run = "true"

[workflows.mixed.tasks.long]
run = "sleep 60"
depends_on = ["bad_done"]
"""


# -- helpers -----------------------------------------------------------------------------


@pytest.fixture
def folder(write_project: WriteProject) -> Path:
    """The project folder (its workspace is its parent)."""
    return write_project(PROJECT, "truth").parent


async def cli(workspace: Path, *args: str) -> tuple[int, str]:
    """Run the command line in a process of its own while the dashboard goes on running:
    exit code and output."""
    process = await asyncio.create_subprocess_exec(
        FORMICARY,
        "-w",
        str(workspace),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), 120)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return process.returncode or 0, out.decode()


def rows(workspace: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the store, in a stable order (read-only)."""
    db = sqlite3.connect(f"file:{db_path(workspace)}?mode=ro", uri=True)
    try:
        return {
            table: sorted(map(tuple, db.execute(f"SELECT * FROM {table}")), key=repr)
            for table in TABLES
        }
    finally:
        db.close()


def read_store(workspace: Path, read: Any) -> Any:
    """``read(store)`` on a store opened for the call."""
    store = Store.for_workspace(workspace, create=False)
    try:
        return read(store)
    finally:
        store.close()


def task_processes(folder: Path) -> list[psutil.Process]:
    """Processes started for tasks of the project in ``folder`` that still exist."""
    found = []
    for process in psutil.process_iter():
        try:
            if (
                process.environ().get("FORMICARY_PROJECT_DIR") == str(folder)
                and process.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def header_text(main: MainScreen) -> str:
    return main.query_one(StatusHeader).render().plain


def notifications(app: FormicaryApp) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


@dataclass
class Engine:
    """A ``formicary run truth:long`` in another process, its task ``long`` running."""

    workspace: Path
    folder: Path
    process: subprocess.Popen[bytes]
    session: str

    def kill(self) -> None:
        """kill -9 the engine; return once its store writer stopped too (the task's
        ``sleep`` keeps running, as after a real crash)."""
        writers = [
            child
            for child in psutil.Process(self.process.pid).children()
            if "formicary.store.writer" in " ".join(child.cmdline())
        ]
        assert writers, "the engine has no store writer"
        self.process.kill()
        self.process.wait(timeout=DEADLINE)
        _, alive = psutil.wait_procs(writers, timeout=DEADLINE)
        assert not alive, "the dead engine's store writer did not stop"


@pytest.fixture
def engine(folder: Path) -> Iterator[Engine]:
    """``truth:long`` run by another process, until its ``long`` task's process runs. At the
    end, whatever is left of it (the engine, the task's processes after a kill -9) ends."""
    workspace = folder.parent
    process = subprocess.Popen(
        [FORMICARY, "-w", str(workspace), "run", "truth:long", "--plain"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def running() -> str | None:
            if not db_path(workspace).exists():
                return None
            store = Store.for_workspace(workspace, create=False)
            try:
                for record in store.sessions(limit=1):
                    if any(a.task == "long" and a.pid for a in store.attempts(record.id)):
                        return str(record.id)
                return None
            except LookupError:
                return None
            finally:
                store.close()

        limit = time.monotonic() + DEADLINE
        while (session := running()) is None:
            assert process.poll() is None, "the engine ended before its task ran"
            assert time.monotonic() < limit, "the engine's task never ran"
            time.sleep(0.05)
        yield Engine(workspace, folder, process, session)
    finally:
        if process.poll() is None:  # a test that failed midway: let it end its tasks
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=DEADLINE)
        left = task_processes(folder)
        for leftover in left:
            leftover.kill()
        psutil.wait_procs(left, timeout=DEADLINE)


async def watch_orphan(pilot: Any, engine: Engine) -> MainScreen:
    """Open ``truth:long`` (the dashboard watches the engine's session), kill -9 the engine
    once its task shows running, and wait until the dashboard shows the session orphaned."""
    main = await open_workflow(pilot, "truth", "long")
    await until(
        pilot,
        lambda: (
            main.current is not None
            and main.current.session_id == engine.session
            and state(main, "long") is TaskStatus.RUNNING
        ),
    )
    assert main.current is not None and not main.current.embedded
    engine.kill()
    await until(pilot, lambda: main.view is not None and main.view.status == "orphaned")
    return main


# -- 1. a session this dashboard ran, reopened by another process ------------------------


async def test_a_session_ended_here_and_reopened_elsewhere_updates_live(folder: Path) -> None:
    workspace = folder.parent
    app = FormicaryApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "truth", "fix")
        await pilot.press("s")
        await until(pilot, lambda: main.current is not None and main.view.status == "failed")
        watched = main.current
        assert watched is not None and watched.embedded
        assert state(main, "fix_me") is TaskStatus.FAILED
        # The session's end is in the store before anyone else may take it over.
        await until(
            pilot,
            lambda: (
                read_store(workspace, lambda s: s.session(watched.session_id).status.value)
                == "failed"
            ),
        )
        (folder / "fixed").touch()
        retry = asyncio.ensure_future(
            cli(workspace, "retry", watched.session_id, "fix_me", "--plain")
        )
        try:
            await until(pilot, lambda: state(main, "fix_me") is TaskStatus.COMPLETED)
            await until(pilot, lambda: state(main, "after") is TaskStatus.COMPLETED)
            await until(pilot, lambda: main.view.status == "completed")
        finally:
            code, out = await retry
        assert code == 0, out
        assert main.current is watched  # the same session, still on screen
        assert not watched.embedded and not watched.view.embedded
        assert f"session {watched.session_id} completed" in header_text(main)
        assert main.query_one(TaskQueue).get_cell("fix_me", "state").plain == "✔ completed"


# -- 2. an orphaned session: unknown tasks, no running clocks ---------------------------


async def test_an_orphaned_session_shows_unknown_tasks_and_stopped_clocks(engine: Engine) -> None:
    app = FormicaryApp(engine.workspace)
    async with app.run_test(size=SIZE) as pilot:
        main = await watch_orphan(pilot, engine)
        view = main.view
        assert view is not None
        row = view.tasks["long"]
        await until(pilot, lambda: row.label == "? unknown")
        assert row.state is TaskStatus.RUNNING  # the last state recorded; shown as unknown
        assert row.reason == ENGINE_STOPPED == "unknown (engine stopped)"
        queue = main.query_one(TaskQueue)
        assert queue.get_cell("long", "state").plain == "? unknown"
        assert f"session {engine.session} orphaned" in header_text(main)
        before = (row.took, view.active_seconds(), queue.get_cell("long", "took").plain)
        header_before = header_text(main)
        assert before[0] is not None and before[1] is not None
        # The span over which nothing may grow (not a synchronisation): more than the header's
        # one-second resolution.
        await pilot.pause(1.5)
        after = (row.took, view.active_seconds(), queue.get_cell("long", "took").plain)
        assert after == before
        assert header_text(main) == header_before
        # The task's process outlives its engine: the fixture ends it.
        assert task_processes(engine.folder)


async def test_a_session_orphaned_before_the_dashboard_opened_shows_unknown(
    engine: Engine,
) -> None:
    """The engine died before anyone looked: the first view already says so."""
    engine.kill()
    workspace = engine.workspace
    deadline = time.monotonic() + 60
    session = engine.session
    while read_store(workspace, lambda store: store.session(session).shown_status) != "orphaned":
        assert time.monotonic() < deadline, "the store never showed the session orphaned"
        time.sleep(0.1)
    app = FormicaryApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "truth", "long")
        await until(pilot, lambda: main.current is not None)
        view = main.view
        assert view is not None and view.status == "orphaned"
        assert view.tasks["long"].label == "? unknown"
        before = (view.tasks["long"].took, view.active_seconds())
        await pilot.pause(1.5)
        assert (view.tasks["long"].took, view.active_seconds()) == before


async def test_an_orphan_whose_engine_beats_again_runs_again(engine: Engine) -> None:
    """An engine that was only stopped (suspended, or very slow) is alive again: its
    session leaves orphaned and its clocks go on."""
    app = FormicaryApp(engine.workspace)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "truth", "long")
        await until(
            pilot,
            lambda: main.current is not None and state(main, "long") is TaskStatus.RUNNING,
        )
        # The engine and its store writer (which beats the heartbeat) both stand still.
        frozen = [psutil.Process(engine.process.pid)]
        frozen += frozen[0].children()
        for process in frozen:
            process.send_signal(signal.SIGSTOP)
        try:
            await until(pilot, lambda: main.view is not None and main.view.status == "orphaned")
        finally:
            for process in frozen:
                process.send_signal(signal.SIGCONT)
        await until(pilot, lambda: main.view.status == "running")
        row = main.view.tasks["long"]
        assert row.label == "▶ running" and row.ended_at is None and row.reason == ""


# -- 3. a control key on an orphaned session offers adoption ------------------------------


async def test_a_control_key_on_an_orphaned_session_offers_adoption(engine: Engine) -> None:
    app = FormicaryApp(engine.workspace)
    async with app.run_test(size=SIZE) as pilot:
        main = await watch_orphan(pilot, engine)
        main.go_to_task("long")
        main.query_one(TaskQueue).focus()
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        title = f"Session {engine.session} has no engine: adopt it, then cancel long?"
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, ConfirmScreen)
                and str(app.screen.query_one("#title", Label).render()) == title
            ),
        )
        # Nothing was queued for the dead engine, nor adopted, before the user answers.
        stored = rows(engine.workspace)
        assert stored["commands"] == []
        assert read_store(engine.workspace, lambda s: s.session(engine.session).shown_status) == (
            "orphaned"
        )
        await pilot.press("y")
        await until(
            pilot,
            lambda: (
                main.current is not None
                and main.current.session_id == engine.session
                and main.current.embedded
            ),
        )
        await until(pilot, lambda: state(main, "long") is TaskStatus.CANCELLED)
        await until(pilot, lambda: main.view.finished)

        def cancelled_in_store(store: Store) -> bool:
            tasks = {task.name: task.state for task in store.tasks(engine.session)}
            return tasks["long"] == "cancelled" and store.session(engine.session).status.is_final

        await until(pilot, lambda: read_store(engine.workspace, cancelled_in_store))
        assert not task_processes(engine.folder)  # adopting ended the dead engine's sleep
        assert any("adopted" in message for message in notifications(app))


# -- 4. a queued command for a dead owner expires visibly -------------------------------


async def test_a_command_queued_for_a_dead_engine_expires_visibly(engine: Engine) -> None:
    app = FormicaryApp(engine.workspace)
    async with app.run_test(size=SIZE) as pilot:
        main = await watch_orphan(pilot, engine)
        store = Store.for_workspace(engine.workspace, create=False)
        try:
            command = store.enqueue(engine.session, "hold", "long")
            assert store.command_outcome(command) == (None, None)
            assert store.expire_if_owner_gone(command) == COMMAND_EXPIRED
            taken_at, outcome = store.command_outcome(command)
            assert taken_at is not None and outcome == COMMAND_EXPIRED
            watched = main.current
            assert watched is not None and not watched.embedded
            # A call queued for an engine that died before taking it comes back refused,
            # with the expiry, not "queued".
            later = store.enqueue(engine.session, "cancel", "long")
            text = await wait_for_outcome(store, later, 10.0)
            assert text == COMMAND_EXPIRED
            assert not Outcome.from_stored(text, engine.session, "cancel").ok
            assert {outcome for *_, outcome in _commands(engine.workspace)} == {COMMAND_EXPIRED}
        finally:
            store.close()
        assert state(main, "long") is TaskStatus.RUNNING  # nothing was carried out
        assert main.view.tasks["long"].label == "? unknown"


def _commands(workspace: Path) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(f"file:{db_path(workspace)}?mode=ro", uri=True)
    try:
        return list(db.execute("SELECT id, action, task, outcome FROM commands"))
    finally:
        db.close()


# -- 5. stopped tasks show stopped -------------------------------------------------------


async def test_stopped_tasks_show_stopped_and_running_again_after_resume(engine: Engine) -> None:
    app = FormicaryApp(engine.workspace)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "truth", "long")
        await until(
            pilot,
            lambda: (
                main.current is not None
                and main.current.session_id == engine.session
                and state(main, "long") is TaskStatus.RUNNING
            ),
        )
        row = main.view.tasks["long"]
        queue = main.query_one(TaskQueue)
        assert row.label == "▶ running"
        code, out = await cli(engine.workspace, "pause", engine.session, "--stop")
        assert code == 0, out
        await until(pilot, lambda: row.label == "⏸ stopped")
        assert main.view.status == "paused"
        assert queue.get_cell("long", "state").plain == "⏸ stopped"
        # What it shows is true: the task's processes are stopped.
        stopped = task_processes(engine.folder)
        assert stopped and all(p.status() == psutil.STATUS_STOPPED for p in stopped)
        code, out = await cli(engine.workspace, "resume", engine.session)
        assert code == 0, out
        await until(pilot, lambda: row.label == "▶ running")
        assert main.view.status == "running"
        assert queue.get_cell("long", "state").plain == "▶ running"
        code, out = await cli(engine.workspace, "cancel", engine.session)
        assert code == 0, out
        await until(pilot, lambda: main.view.status == "cancelled")
        assert row.label == "⊘ cancelled"
    assert engine.process.wait(timeout=DEADLINE) != 0


# -- 6. cancel on an ended session is refused and changes nothing -----------------------


async def test_cancel_on_an_ended_session_is_refused_and_changes_nothing(folder: Path) -> None:
    workspace = folder.parent
    run = subprocess.run(
        [FORMICARY, "-w", str(workspace), "run", "truth:fix", "--plain"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1, run.stdout
    before = rows(workspace)
    app = FormicaryApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "truth", "fix")
        await until(pilot, lambda: main.current is not None and main.view.status == "failed")
        assert not main.current.embedded
        main.query_one(TaskQueue).focus()
        await pilot.press("X")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        refused = "session 1 already ended: failed"
        await until(pilot, lambda: any(refused in message for message in notifications(app)))
        assert isinstance(app.screen, MainScreen)  # no offer to adopt it either
        assert main.view.status == "failed" and not main.current.embedded
        assert rows(workspace) == before
        # Nor can the sessions screen's "a" take it over: only an orphan is adopted.
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.press("a")
        refused = "session 1 is failed: only a session whose engine died can be adopted"
        await until(pilot, lambda: any(refused in message for message in notifications(app)))
        assert isinstance(app.screen, SessionsScreen)
        assert rows(workspace) == before


# -- 7. "took" of a reopened session counts active time ---------------------------------


def _move_back(workspace: Path, seconds: float) -> None:
    """As if the session had ended ``seconds`` ago: waiting that long is what a user does."""
    db = sqlite3.connect(db_path(workspace))
    try:
        db.execute(
            "UPDATE sessions SET started_at = started_at - ?, ended_at = ended_at - ?",
            (seconds, seconds),
        )
        db.commit()
    finally:
        db.close()


def _elapsed(main: MainScreen, session: str, status: str) -> int:
    """The header's elapsed time of the session, in seconds."""
    found = re.search(rf"session {session} {status} (?:(\d+):)?(\d+):(\d+)", header_text(main))
    assert found, header_text(main)
    hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return hours * 3600 + minutes * 60 + seconds


@pytest.mark.parametrize("reopened_by", ["dashboard", "shell"])
async def test_took_of_a_reopened_session_counts_active_time(
    folder: Path, reopened_by: str
) -> None:
    """The dashboard's ``r`` reopens the ended session here (adopting it); a ``formicary
    retry`` reopens it in another process while the dashboard watches."""
    workspace = folder.parent
    run = subprocess.run(
        [FORMICARY, "-w", str(workspace), "run", "truth:fix", "--plain"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1, run.stdout
    _move_back(workspace, 1000)
    (folder / "fixed").touch()
    app = FormicaryApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "truth", "fix")
        await until(pilot, lambda: main.current is not None and main.view.status == "failed")
        active = main.view.active_seconds()
        assert active is not None and active < 100
        assert _elapsed(main, "1", "failed") < 100
        if reopened_by == "dashboard":
            main.go_to_task("fix_me")
            main.query_one(TaskQueue).focus()
            await pilot.press("r")
            await until(pilot, lambda: main.current is not None and main.current.embedded)
            await until(pilot, lambda: main.view.status == "completed")
        else:
            code, out = await cli(workspace, "retry", "1", "fix_me", "--plain")
            assert code == 0, out
            await until(pilot, lambda: main.view.status == "completed")
            assert main.current is not None and not main.current.embedded
        assert state(main, "after") is TaskStatus.COMPLETED
        active = main.view.active_seconds()
        assert active is not None and active < 100
        assert _elapsed(main, "1", "completed") < 100

        def stored_active(store: Store) -> float | None:
            record = store.session(1)
            if record.status.value != "completed":
                return None
            return store.active_seconds([record])[1]

        await until(pilot, lambda: read_store(workspace, stored_active) is not None)
        stored = read_store(workspace, stored_active)
        assert stored is not None and stored < 100


# -- 8. the final status rule, in the dashboard -----------------------------------------


async def test_failed_blocked_and_cancelled_shows_failed_with_one_failure(folder: Path) -> None:
    app = FormicaryApp(folder.parent)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "truth", "mixed")
        await pilot.press("s")
        await until(
            pilot,
            lambda: (
                main.current is not None
                and state(main, "bad") is TaskStatus.FAILED
                and state(main, "child") is TaskStatus.BLOCKED
                and state(main, "long") is TaskStatus.RUNNING
            ),
        )
        session = main.current.session_id
        main.query_one(TaskQueue).focus()
        await pilot.press("X")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: main.view.finished)
        assert state(main, "long") is TaskStatus.CANCELLED
        assert main.view.status == "failed"
        assert f"session {session} failed" in header_text(main)
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        table = app.screen.query_one(DataTable)

        def cells() -> list[str]:
            if session not in app.screen._records:
                return []
            return [cell.plain for cell in table.get_row(session)]

        # The store's row is final once the engine's writer committed the end.
        await until(pilot, lambda: cells()[3:4] == ["failed"])
        # bad_done done, bad failed; child blocked and long cancelled are "other".
        await until(pilot, lambda: cells()[6] == "1/1/2/4")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert main_screen(app) is main
