"""The dashboard driven with Pilot: one test per action a user takes."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import weakref
from collections.abc import Callable
from pathlib import Path

from formicary.model.records import TaskStatus
from formicary.tui.app import FormicaryApp
from formicary.tui.screens.main import MainScreen
from formicary.tui.screens.sessions import SessionsScreen
from formicary.tui.screens.start import StartScreen
from formicary.tui.widgets.graph import DagGraph
from formicary.tui.widgets.project_tree import ProjectTree
from formicary.tui.widgets.queue import TaskQueue
from formicary.tui.widgets.task_log import TaskLog
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tests.test_cli_foundation import FORMICARY

SIZE = (160, 50)


async def until(pilot: Pilot[int], condition: Callable[[], bool], timeout: float = 60) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "the dashboard never got there"
        await pilot.pause(0.05)


def main_screen(app: FormicaryApp) -> MainScreen:
    screen = next(s for s in app.screen_stack if isinstance(s, MainScreen))
    return screen


async def open_workflow(pilot: Pilot[int], project: str, workflow: str) -> MainScreen:
    app = pilot.app
    assert isinstance(app, FormicaryApp)
    await until(pilot, lambda: any(isinstance(s, MainScreen) for s in app.screen_stack))
    main = main_screen(app)
    tree = main.query_one(ProjectTree)
    # The definitions are read after the first paint: the tree fills in a moment later.
    await until(pilot, lambda: (project, workflow) in tree.workflows)
    tree.select_workflow(project, workflow)
    await until(
        pilot,
        lambda: (
            main.view is not None
            and (main.view.project, main.view.workflow.name) == (project, workflow)
        ),
    )
    return main


def state(main: MainScreen, task: str) -> TaskStatus:
    view = main.view
    assert view is not None
    return view.tasks[task].state


async def test_start_a_sample_workflow_and_see_it_complete(samples: Path) -> None:
    app = FormicaryApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "ai-analysis", "analyze")
        await pilot.press("s")
        await until(pilot, lambda: main.current is not None and main.view.status == "completed")
        view = main.view
        assert view is not None
        assert {row.state for row in view.tasks.values()} == {TaskStatus.COMPLETED}
        queue = main.query_one(TaskQueue)
        assert queue.row_count == len(view.tasks)


async def test_retry_after_fixing_makes_the_chaos_task_pass(samples: Path) -> None:
    app = FormicaryApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "chaos", "demo")
        await pilot.press("s")
        await until(
            pilot,
            lambda: main.current is not None and state(main, "needs_fix") is TaskStatus.FAILED,
        )
        (samples / "chaos" / ".chaos" / "fixed").touch()
        main.go_to_task("needs_fix")
        main.query_one(TaskQueue).focus()
        await pilot.press("r")
        await until(pilot, lambda: state(main, "needs_fix") is TaskStatus.COMPLETED)
        await until(pilot, lambda: state(main, "after_fix") is TaskStatus.COMPLETED)
        main.go_to_task("long_job")
        main.query_one(TaskQueue).focus()
        await pilot.press("x")
        await pilot.press("y")
        await until(pilot, lambda: main.view.finished)


async def test_start_with_options_uses_the_parameters_entered(samples: Path) -> None:
    app = FormicaryApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "chaos", "demo")
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, StartScreen))
        field = app.screen.query_one("#param-long_seconds", Input)
        assert field.value == "60"
        field.value = "soon"
        await pilot.press("enter")
        error = app.screen.query_one("#error", Static)
        await until(pilot, lambda: "long_seconds=soon: expected an integer" in str(error.render()))
        assert isinstance(app.screen, StartScreen) and main.current is None
        field.value = "1"
        app.screen.query_one("#max-parallel", Input).value = "2"
        await pilot.press("enter")
        await until(pilot, lambda: main.current is not None and main.view.finished)
        assert main.current.handle is not None
        scheduler = main.current.handle.scheduler
        assert scheduler.params["long_seconds"] == 1 and scheduler.max_parallel == 2
        assert state(main, "long_job") is TaskStatus.COMPLETED
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, StartScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_start_takes_the_workflow_under_the_tree_cursor_at_once(samples: Path) -> None:
    app = FormicaryApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "ai-analysis", "analyze")
        tree = main.query_one(ProjectTree)
        tree.focus()
        await pilot.pause()
        # The cursor moves now; the panes hear of it a moment later (a message): a key
        # typed in between must act on the workflow the cursor is on.
        tree.move_cursor(tree._leaves[("chaos", "demo")])
        main.action_start_options()
        await until(pilot, lambda: isinstance(app.screen, StartScreen))
        assert app.screen._project == "chaos" and app.screen._workflow.name == "demo"
        await pilot.press("escape")
        await until(pilot, lambda: main.view is not None and main.view.project == "chaos")
        # A highlight the panes hear of after the cursor moved on is not shown over it.
        tree.move_cursor(tree._leaves[("ml-sweep", "sweep")])
        await until(pilot, lambda: main.view is not None and main.view.project == "ml-sweep")
        tree.post_message(ProjectTree.WorkflowHighlighted(tree, "chaos", "demo"))
        await pilot.pause(0.3)
        assert main.view.project == "ml-sweep"


async def test_cancel_a_long_task_after_confirming(samples: Path) -> None:
    app = FormicaryApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "chaos", "demo")
        await pilot.press("s")
        await until(
            pilot,
            lambda: main.current is not None and state(main, "long_job") is TaskStatus.RUNNING,
        )
        main.go_to_task("long_job")
        main.query_one(TaskQueue).focus()
        await pilot.press("x")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen")
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "long_job" in text
        await pilot.press("y")
        await until(pilot, lambda: state(main, "long_job") is TaskStatus.CANCELLED)
        await until(pilot, lambda: main.view.finished)
        assert main.current is not None and main.current.handle is not None
        history = main.current.handle.history("long_job")
        assert history[-1].outcome == "cancelled"


async def test_pause_stops_dispatch_and_pause_again_resumes(samples: Path) -> None:
    app = FormicaryApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "ml-sweep", "sweep")
        await pilot.press("s")
        await until(pilot, lambda: main.current is not None)
        await pilot.press("p")
        await until(pilot, lambda: main.view.status == "paused")
        watched = main.current
        assert watched is not None and watched.handle is not None
        await until(pilot, lambda: watched.handle.counts().get(TaskStatus.RUNNING, 0) == 0)
        waiting = watched.handle.counts().get(TaskStatus.READY, 0) + watched.handle.counts().get(
            TaskStatus.PENDING, 0
        )
        assert waiting > 0
        started = sum(row.attempt for row in main.view.tasks.values())
        await pilot.pause(0.3)
        assert sum(row.attempt for row in main.view.tasks.values()) == started
        await pilot.press("p")
        await until(pilot, lambda: main.view.status in ("running", "completed"))
        await until(pilot, lambda: main.view.status == "completed", timeout=90)


async def test_a_start_right_after_a_move_keeps_the_panes_on_the_moved_to_task(
    samples: Path,
) -> None:
    app = FormicaryApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "ai-analysis", "analyze")
        queue, graph = main.query_one(TaskQueue), main.query_one(DagGraph)
        queue.focus()
        await pilot.pause()
        # G's TaskHighlighted is still queued when s shows the new session.
        app.simulate_key("G")
        app.simulate_key("s")
        await until(pilot, lambda: main.current is not None and main.view.status == "completed")
        await pilot.pause()
        last = list(main.view.tasks)[-1]
        assert queue.cursor_task == graph.cursor_task == last
        assert main.query_one(TaskLog).shown_task == last


async def test_a_session_run_elsewhere_is_let_go_when_the_user_moves_on(samples: Path) -> None:
    run = subprocess.run(
        [FORMICARY, "-w", str(samples), "run", "ai-analysis", "--plain"],
        capture_output=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout
    app = FormicaryApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "ai-analysis", "analyze")
        await until(pilot, lambda: main.current is not None and main.view.status == "completed")
        assert main.current is not None and not main.current.embedded
        session, view = main.current.session_id, weakref.ref(main.current.view)
        await open_workflow(pilot, "chaos", "demo")  # never run: a preview
        await pilot.pause()
        assert session not in main.bridge.sessions  # no longer followed
        # Nothing keeps the old view alive: the dashboard freezes what it shows out of the
        # cyclic collector's reach, so a reference cycle through it would never be freed.
        assert gc.get_freeze_count() > 0
        assert view() is None
    assert gc.get_freeze_count() == 0  # handed back when the screen went


async def test_slash_filters_the_queue(samples: Path) -> None:
    app = FormicaryApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "ml-sweep", "sweep")
        queue = main.query_one(TaskQueue)
        total = queue.row_count
        await pilot.press("3", "slash")
        await pilot.press(*"trial_1")
        await until(pilot, lambda: queue.row_count < total)
        shown = sorted(queue.shown_tasks)
        # By subsequence: trial_01 has t-r-i-a-l-_-1 in order too.
        assert shown == ["trial_01", "trial_10", "trial_11", "trial_12"]
        await pilot.press(*"0")  # trial_10
        await until(pilot, lambda: queue.row_count == 1)
        await pilot.press("ctrl+u", *"fail")  # by state: nothing failed yet
        await until(pilot, lambda: queue.row_count == 0)
        await pilot.press("escape")
        await until(pilot, lambda: queue.row_count == total)


async def test_sessions_screen_shows_and_retries_another_process_run(samples: Path) -> None:
    engine = subprocess.Popen(
        [FORMICARY, "-w", str(samples), "run", "chaos", "--plain"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        app = FormicaryApp(samples)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: any(isinstance(s, MainScreen) for s in app.screen_stack))
            await until(pilot, lambda: main_screen(app).bridge.has_store())
            await pilot.press("S")
            await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
            screen = app.screen
            assert isinstance(screen, SessionsScreen)
            store = main_screen(app).bridge.store

            def needs_fix() -> str:
                return {t.name: t.state for t in store.tasks(1)}.get("needs_fix", "")

            await until(pilot, lambda: "1" in screen._records)
            await until(pilot, lambda: needs_fix() == "failed")
            await until(pilot, lambda: screen._records["1"].shown_status == "running")
            (samples / "chaos" / ".chaos" / "fixed").touch()
            await pilot.press("r")
            await until(pilot, lambda: needs_fix() == "completed")
            await pilot.press("enter")
            main = main_screen(app)
            await until(pilot, lambda: main.current is not None and main.current.session_id == "1")
            assert not main.current.embedded
            await until(pilot, lambda: state(main, "needs_fix") is TaskStatus.COMPLETED)
            main.go_to_task("long_job")
            main.query_one(TaskQueue).focus()
            await pilot.press("x", "y")
            await until(pilot, lambda: state(main, "long_job") is TaskStatus.CANCELLED)
        assert engine.wait(timeout=60) == 1
    finally:
        if engine.poll() is None:
            engine.terminate()
            engine.wait(timeout=30)
