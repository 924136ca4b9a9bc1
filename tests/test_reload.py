"""Live reload: the dashboard follows edits of definition files, good and bad."""

from __future__ import annotations

import shutil
from pathlib import Path

from formicary.model.records import TaskStatus
from formicary.tui.app import FormicaryApp
from formicary.tui.widgets.error_pane import ErrorPane
from formicary.tui.widgets.graph import DagGraph
from formicary.tui.widgets.project_tree import ProjectTree
from formicary.tui.widgets.queue import TaskQueue

from tests.test_dashboard import main_screen, open_workflow, state, until

SIZE = (160, 50)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


async def test_added_task_appears_in_graph_and_queue(samples: Path) -> None:
    app = FormicaryApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "web-app", "ship")
        queue = main.query_one(TaskQueue)
        before = queue.row_count
        definition = samples / "web_application" / "formicary.toml"
        definition.write_text(
            definition.read_text()
            + '\n[workflows.ship.tasks.announce]\nrun = "echo shipped"\ndepends_on = ["deploy"]\n'
        )
        await until(pilot, lambda: queue.row_count == before + 1, timeout=20)
        graph = main.query_one(DagGraph)
        assert graph.graph_layout is not None and "announce" in graph.graph_layout.positions
        assert "announce" in main.view.tasks


async def test_broken_file_shows_errors_keeps_sessions_and_clears_when_fixed(
    samples: Path,
) -> None:
    app = FormicaryApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "chaos", "demo")
        await pilot.press("s")
        await until(
            pilot,
            lambda: main.current is not None and state(main, "long_job") is TaskStatus.RUNNING,
        )
        definition = samples / "chaos" / "formicary.toml"
        good = definition.read_text()
        edit(definition, 'depends_on = ["needs_fix"]', 'depends_on = ["needs_fixx"]')
        pane = main.query_one(ErrorPane)
        await until(pilot, lambda: bool(pane.issues), timeout=20)
        assert any(
            "formicary.toml:" in issue
            and 'unknown task "needs_fixx"' in issue
            and 'did you mean "needs_fix"' in issue
            for issue in pane.issues
        )
        assert "chaos" in main.bridge.workspace.projects  # the last good definition stays
        assert state(main, "long_job") is TaskStatus.RUNNING  # the session goes on
        definition.write_text("[project\nname = ")  # garbled while someone types
        await until(pilot, lambda: any("TOML syntax error" in i for i in pane.issues), timeout=20)
        definition.write_text(good)
        await until(pilot, lambda: not pane.issues, timeout=20)
        assert not pane.has_class("-shown")
        main.go_to_task("long_job")
        main.query_one(TaskQueue).focus()
        await pilot.press("x", "y")
        await until(pilot, lambda: main.view.finished)


async def test_project_folders_added_and_removed(samples: Path) -> None:
    app = FormicaryApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await open_workflow(pilot, "chaos", "demo")
        tree = main_screen(app).query_one(ProjectTree)
        extra = samples / "extra"
        extra.mkdir()
        (extra / "formicary.toml").write_text(
            '[project]\nname = "extra"\n[workflows.hello.tasks.say]\nrun = "echo hi"\n'
        )
        await until(pilot, lambda: ("extra", "hello") in tree.workflows, timeout=20)
        shutil.rmtree(samples / "ml_sweep")
        await until(pilot, lambda: ("ml-sweep", "sweep") not in tree.workflows, timeout=20)
        assert ("extra", "hello") in tree.workflows
