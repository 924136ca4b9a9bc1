"""An empty workspace: a welcome pane that says what a workspace is, and ``n`` creates a
project from a template that then appears in the tree, ready to start."""

from __future__ import annotations

from pathlib import Path

import pytest
from formicary.model.records import ProjectType
from formicary.tui.app import FormicaryApp
from formicary.tui.screens.main import MainScreen
from formicary.tui.screens.new_project import NewProjectScreen
from formicary.tui.widgets.project_tree import ProjectTree
from formicary.tui.widgets.welcome import Welcome
from textual.widgets import Input, Select, Static

from tests.test_dashboard import main_screen, until


async def test_the_welcome_pane_creates_a_project(tmp_path: Path) -> None:
    app = FormicaryApp(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: any(isinstance(s, MainScreen) for s in app.screen_stack))
        main = main_screen(app)
        welcome = main.query_one(Welcome)
        await until(pilot, lambda: welcome.display and main.has_class("-empty"))
        assert "has no projects yet" in str(welcome.render())
        assert app.focused is welcome
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewProjectScreen))
        dialog = app.screen
        await pilot.press(*"Bad Name", "enter")
        error = dialog.query_one("#error", Static)
        await until(pilot, lambda: "not a valid project name" in str(error.render()))
        dialog.query_one("#name", Input).value = "nightly-etl"
        dialog.query_one("#template", Select).value = ProjectType.DATA_PIPELINE
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        tree = main.query_one(ProjectTree)
        await until(pilot, lambda: any(key[0] == "nightly-etl" for key in tree.workflows))
        assert (tmp_path / "nightly-etl" / "formicary.toml").is_file()
        await until(pilot, lambda: not main.has_class("-empty") and not welcome.display)
        await until(pilot, lambda: main.view is not None and main.view.project == "nightly-etl")
        await pilot.press("s")
        await until(pilot, lambda: main.current is not None and main.view.finished)
        assert main.view.status == "completed"


async def test_a_workspace_that_cannot_be_written_is_said_in_the_dialog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only workspace (root ignores modes, so the refusal is simulated): the dialog
    says why and stays; the app does not crash."""
    import formicary.model.scaffold

    def refuse(*_args: object, **_kwargs: object) -> Path:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(formicary.model.scaffold, "create_project", refuse)
    app = FormicaryApp(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: any(isinstance(s, MainScreen) for s in app.screen_stack))
        main = main_screen(app)
        await until(pilot, lambda: main.has_class("-empty"))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewProjectScreen))
        dialog = app.screen
        await pilot.press(*"fine-name", "enter")
        error = dialog.query_one("#error", Static)
        await until(pilot, lambda: "cannot write the project" in str(error.render()))
        assert app.is_running and app.screen is dialog
