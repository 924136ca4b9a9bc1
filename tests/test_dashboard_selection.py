"""A valid reload keeps what the user was looking at: the selected workflow and its session,
the task under the cursor, the focused pane and the scroll of the queue."""

from __future__ import annotations

from pathlib import Path

from formicary.tui.app import FormicaryApp
from formicary.tui.widgets.project_tree import ProjectTree
from formicary.tui.widgets.queue import TaskQueue

from tests.test_dashboard import SIZE, open_workflow, until


async def test_editing_another_project_keeps_selection_focus_and_scroll(samples: Path) -> None:
    app = FormicaryApp(samples)
    async with app.run_test(size=(120, 30)) as pilot:
        first = await open_workflow(pilot, "ai-analysis", "analyze")
        await pilot.press("s")
        await until(pilot, lambda: first.current is not None and first.view.finished)
        main = await open_workflow(pilot, "ml-sweep", "sweep")
        await pilot.press("s")
        await until(pilot, lambda: main.current is not None and main.view.finished)
        session = main.current
        queue = main.query_one(TaskQueue)
        main.action_focus_pane("queue")
        await pilot.press("G")  # the last task: the queue scrolls down to it
        await until(pilot, lambda: queue.scroll_y > 0)
        await pilot.press("k", "k")
        task, scroll = queue.cursor_task, queue.scroll_y
        tree = main.query_one(ProjectTree)
        assert tree.cursor_node is not None and tree.cursor_node.data == ("ml-sweep", "sweep")
        notices = len(app._notifications)

        file = samples / "ai_analysis" / "formicary.toml"
        file.write_text(file.read_text().replace('description = "', 'description = "Edited: ', 1))
        await until(pilot, lambda: len(app._notifications) > notices)  # "definitions reloaded"
        await pilot.pause(0.3)

        assert main.current is session
        assert main.view is not None and (main.view.project, main.view.workflow.name) == (
            "ml-sweep",
            "sweep",
        )
        assert tree.cursor_node is not None and tree.cursor_node.data == ("ml-sweep", "sweep")
        assert queue.cursor_task == task
        assert queue.scroll_y == scroll
        assert app.focused is queue


async def test_editing_a_description_keeps_the_tree_cursor_and_the_session(
    samples: Path,
) -> None:
    """As a user does it: move down the tree with j, start with s, then edit another
    project's description (the header jumped to the first workflow, the cursor to the top)."""
    app = FormicaryApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "ai-analysis", "analyze")
        tree = main.query_one(ProjectTree)
        main.action_focus_pane("projects")
        await pilot.pause()
        while tree.cursor_node is None or tree.cursor_node.data != ("chaos", "demo"):
            await pilot.press("j")
        await pilot.press("s")  # chaos keeps running in this dashboard meanwhile
        await until(pilot, lambda: main.current is not None and main.view.project == "chaos")
        while tree.cursor_node is None or tree.cursor_node.data != ("data-pipeline", "nightly"):
            await pilot.press("j")
        await pilot.press("s")
        await until(
            pilot,
            lambda: (
                main.current is not None
                and main.view.project == "data-pipeline"
                and main.view.finished
            ),
        )
        await pilot.press("j")  # onto the next project's own line: the panes stay
        assert tree.cursor_node is not None and tree.cursor_node.data is None
        session, line = main.current, tree.cursor_line
        notices = len(app._notifications)
        file = samples / "ai_analysis" / "formicary.toml"
        text = file.read_text().replace('description = "', 'description = "New: ', 1)
        file.write_text(text)
        await until(pilot, lambda: len(app._notifications) > notices)
        await pilot.pause(0.3)
        assert main.current is session
        assert tree.cursor_line == line
        assert tree.cursor_node is not None and str(tree.cursor_node.label) == "ml-sweep"
        assert app.focused is tree
