"""A toast and the terminal bell when a task fails and when a session ends; both can be
switched off, and the choice is remembered in the settings file."""

from __future__ import annotations

import tomllib

import pytest
from formicary.tui.app import FormicaryApp
from formicary.tui.themes import settings_path

from tests.conftest import WriteProject
from tests.test_dashboard import open_workflow, until

PROJECT = """
[project]
name = "noisy"

[defaults]
retries = 0

[workflows.w.tasks.ok]
run = "echo fine"

[workflows.w.tasks.bad]
run = "echo oops >&2; exit 4"
"""


def messages(app: FormicaryApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


async def test_a_failure_and_the_end_are_told_with_a_toast_and_the_bell(
    write_project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = write_project(PROJECT, "noisy").parent.parent
    app = FormicaryApp(workspace)
    bells: list[None] = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(None))
    async with app.run_test(size=(120, 36)) as pilot:
        main = await open_workflow(pilot, "noisy", "w")
        await pilot.press("s")
        await until(pilot, lambda: main.current is not None and main.view.finished)
        await until(pilot, lambda: any("session failed" in m for m in messages(app)))
        shown = messages(app)
        assert any("session 1 · noisy:w: bad failed: exited with code 4" in m for m in shown)
        assert any("session 1 · noisy:w: session failed" in m for m in shown)
        assert bells  # once per batch: a failure and the end in one moment ring once


async def test_toasts_and_bell_can_be_switched_off_and_stay_off(
    write_project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = write_project(PROJECT, "noisy").parent.parent
    app = FormicaryApp(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        main = await open_workflow(pilot, "noisy", "w")
        await main.run_action("app.toggle_notifications('toasts')")
        await main.run_action("app.toggle_notifications('bell')")
    saved = tomllib.loads(settings_path().read_text())
    assert saved["notifications"] == {"toasts": False, "bell": False}

    again = FormicaryApp(workspace)
    bells: list[None] = []
    monkeypatch.setattr(again, "bell", lambda: bells.append(None))
    async with again.run_test(size=(120, 36)) as pilot:
        main = await open_workflow(pilot, "noisy", "w")
        await pilot.press("s")
        await until(pilot, lambda: main.current is not None and main.view.finished)
        await pilot.pause(0.2)
        assert not any("failed" in m for m in messages(again))
        assert bells == []
