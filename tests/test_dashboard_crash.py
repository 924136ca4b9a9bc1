"""When the dashboard crashes: a crash log with the traceback, one line naming it, a non-zero
exit, and its sessions recorded as ended by the crash (never as a normal quit)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from formicary.cli import dash
from formicary.store.database import Store
from formicary.tui.app import FormicaryApp
from formicary.tui.crash import CRASH_REASON, EXIT_CRASHED, QUIT_REASON
from formicary.tui.screens.main import MainScreen

from tests.conftest import WriteProject
from tests.test_dashboard import open_workflow, until

PROJECT = """
[project]
name = "crashy"

[workflows.w.tasks.long]
run = "sleep 60"

[workflows.w.tasks.after]
run = "echo after"
depends_on = ["long"]
"""


class Boom(RuntimeError):
    """The bug this test puts in the dashboard."""


def _crash(self: MainScreen) -> None:
    raise Boom("a bug in an action")


def _reasons(workspace: Path) -> tuple[str, dict[str, str]]:
    store = Store.for_workspace(workspace, create=False)
    try:
        record = store.sessions(limit=1)[0]
        return record.status.value, {task.name: task.reason for task in store.tasks(record.id)}
    finally:
        store.close()


async def test_a_crash_records_its_sessions_as_ended_by_the_crash_and_writes_a_log(
    write_project: WriteProject,
) -> None:
    workspace = write_project(PROJECT, "crashy").parent.parent
    app = FormicaryApp(workspace)
    with pytest.raises(Boom):
        async with app.run_test(size=(120, 36)) as pilot:
            main = await open_workflow(pilot, "crashy", "w")
            await pilot.press("s")
            await until(
                pilot,
                lambda: main.view is not None and main.view.tasks["long"].state.value == "running",
            )
            main.call_later(_crash, main)  # a bug in a handler, inside the app's loop
            await pilot.pause()
    assert app.return_code not in (None, 0)
    assert app.crash_log is not None
    assert app.crash_log.parent == workspace / ".formicary" / "logs"
    assert app.crash_log.name.startswith("dashboard-crash-")
    text = app.crash_log.read_text()
    assert "Traceback" in text and "Boom: a bug in an action" in text
    status, reasons = _reasons(workspace)
    assert status == "cancelled"
    assert reasons == {"long": CRASH_REASON, "after": CRASH_REASON}


async def test_a_normal_quit_is_recorded_as_a_quit(write_project: WriteProject) -> None:
    workspace = write_project(PROJECT, "crashy").parent.parent
    app = FormicaryApp(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        main = await open_workflow(pilot, "crashy", "w")
        await pilot.press("s")
        await until(
            pilot,
            lambda: main.view is not None and main.view.tasks["long"].state.value == "running",
        )
        await pilot.press("q", "y")
    assert app.return_code == 0 and app.crash_log is None
    status, reasons = _reasons(workspace)
    assert status == "cancelled"
    assert reasons == {"long": QUIT_REASON, "after": QUIT_REASON}


def test_formicary_dash_exits_non_zero_with_one_line_naming_the_log(
    write_project: WriteProject,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    workspace = write_project(PROJECT, "crashy").parent.parent
    real_run = FormicaryApp.run

    def headless_run(self: FormicaryApp) -> int | None:
        return real_run(self, headless=True, size=(100, 30))

    def mount_then_crash(self: MainScreen) -> None:
        self.call_after_refresh(_crash, self)

    monkeypatch.setattr(FormicaryApp, "run", headless_run)
    monkeypatch.setattr(MainScreen, "on_mount", mount_then_crash)
    code = dash.run(argparse.Namespace(path=str(workspace), workspace=None))
    assert code == EXIT_CRASHED
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("formicary: error: the dashboard crashed; the traceback is in ")
    log = Path(lines[0].rsplit(" ", 1)[1])
    assert log.is_file() and "Boom" in log.read_text()
