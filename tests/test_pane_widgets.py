"""Pilot tests of the queue, resources and log panes, fed by real engine events."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from formicary.model.records import TaskStatus
from formicary.model.specs import TaskSpec, WorkflowSpec
from formicary.run.events import Event, EventBus, EventKind
from formicary.tui.glyphs import STATE_COLORS, state_variable_defaults
from formicary.tui.state import SessionView
from formicary.tui.widgets.queue import TaskQueue
from formicary.tui.widgets.resources import ResourcePane
from formicary.tui.widgets.task_log import MAX_LINES, NO_OUTPUT, TaskLog
from rich.text import Text
from textual.app import App, ComposeResult
from textual.color import Color
from textual.pilot import Pilot
from textual.theme import Theme
from textual.widget import Widget
from textual.widgets import Log, Sparkline, Static

SESSION = "s1"
MB = 1024 * 1024


class PaneApp(App[None]):
    """One pane on a screen, with the dashboard's state colours, recording queue messages."""

    def __init__(self, pane: Widget) -> None:
        super().__init__()
        self.pane = pane
        self.messages: list[TaskQueue.TaskHighlighted | TaskQueue.TaskSelected] = []

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return state_variable_defaults()

    def compose(self) -> ComposeResult:
        yield self.pane

    def on_task_queue_task_highlighted(self, message: TaskQueue.TaskHighlighted) -> None:
        self.messages.append(message)

    def on_task_queue_task_selected(self, message: TaskQueue.TaskSelected) -> None:
        self.messages.append(message)


def workflow(names: Iterable[str] = ("extract", "transform", "load", "report")) -> WorkflowSpec:
    """A chain of shell tasks; ``extract`` books a cpu and the database."""
    tasks, previous = {}, ()
    for name in names:
        resources = {"cpu": 1, "db": 1} if name == "extract" else {"cpu": 1}
        tasks[name] = TaskSpec(name=name, run="true", depends_on=previous, resources=resources)
        previous = (name,)
    return WorkflowSpec(name="w", tasks=tasks)


class Feed:
    """Publishes engine events for one session and applies them to its view."""

    def __init__(self, view: SessionView) -> None:
        self.view = view
        self.bus = EventBus()

    def event(
        self, kind: EventKind, task: str | None = None, attempt: int | None = None, **data: Any
    ) -> Event:
        return self.bus.publish(SESSION, kind, task, attempt, data)

    def state(self, task: str, state: str, attempt: int | None = None) -> Event:
        previous = self.view.tasks[task].state.value
        return self.event(EventKind.TASK_STATE, task, attempt, state=state, previous=previous)

    def start(
        self, task: str, attempt: int, log: str, started_at: float | None = None
    ) -> list[Event]:
        previous = self.view.tasks[task].state.value
        return [
            self.event(
                EventKind.TASK_STATE,
                task,
                attempt,
                state="running",
                previous=previous,
                log=log,
                started_at=started_at or time.time(),
            ),
        ]

    def apply(self, *events: Event | list[Event]) -> Any:
        flat = [e for item in events for e in (item if isinstance(item, list) else [item])]
        return self.view.apply(flat)


def new_view(**kwargs: Any) -> SessionView:
    return SessionView(SESSION, "proj", kwargs.pop("flow", workflow()), **kwargs)


def plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def column(queue: TaskQueue, key: str) -> list[str]:
    return [plain(queue.get_cell(task, key)) for task in queue.shown_tasks]


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.02)


# -- queue ---------------------------------------------------------------------------------


async def test_queue_shows_a_row_per_task_with_coloured_states() -> None:
    view = new_view()
    queue = TaskQueue()
    async with PaneApp(queue).run_test(size=(120, 24)) as pilot:
        queue.show(None)
        await pilot.pause()  # painted empty first, as when the dashboard starts
        queue.show(view)
        header, first = queue.render_line(0).text, queue.render_line(1).text  # the next paint
        await pilot.pause()
        assert column(queue, "task") == ["extract", "transform", "load", "report"]
        assert header.split() == ["task", "state", "prio", "try", "started", "took", "pool"]
        for label, value in (("state", "○ pending"), ("prio", "normal"), ("pool", "cpu 1, db 1")):
            assert header.index(label) == first.index(value), label  # columns line up
        state = queue.get_cell("extract", "state")
        assert state.plain == "○ pending"
        assert (
            state.style.color == Color.parse(STATE_COLORS[view.tasks["extract"].state]).rich_color
        )
        assert plain(queue.get_cell("extract", "pool")) == "cpu 1, db 1"
        assert queue.cursor_task == "extract"
        # A theme's own state colour recolours the cells.
        pilot.app.register_theme(
            Theme(name="loud", primary="#0178d4", variables={"state-pending": "#ff0000"})
        )
        pilot.app.theme = "loud"
        red = Color.parse("#ff0000").rich_color
        await until(pilot, lambda: queue.get_cell("report", "state").style.color == red)
        queue.show(None)
        assert queue.row_count == 0 and queue.cursor_task is None


async def test_queue_apply_repaints_only_the_changed_rows(tmp_path: Path) -> None:
    view, queue = new_view(), TaskQueue()
    feed = Feed(view)
    async with PaneApp(queue).run_test() as pilot:
        queue.show(view)
        await pilot.pause()
        repainted: list[int] = []
        refresh_line = queue.refresh_line

        def spy(y: int) -> None:
            repainted.append(y)
            refresh_line(y)

        queue.refresh_line = spy  # type: ignore[method-assign]
        started = time.time() - 3.2
        queue.apply(view, feed.apply(feed.start("extract", 1, str(tmp_path / "x"), started)))
        assert repainted == [1]  # the header is line 0, extract line 1
        assert queue.get_cell("extract", "state").plain == "▶ running"
        assert plain(queue.get_cell("extract", "try")) == "1"
        assert plain(queue.get_cell("extract", "started")) == time.strftime(
            "%H:%M:%S", time.localtime(started)
        )
        assert plain(queue.get_cell("extract", "took")).startswith("3.")
        assert plain(queue.get_cell("transform", "state")) == "○ pending"
        await pilot.pause()

        repainted.clear()
        sample = feed.event(
            EventKind.RESOURCE_SAMPLE,
            cpu=93.0,
            rss=120 * MB,
            tasks={"extract.1": {"cpu": 93.0, "rss": 120 * MB, "processes": 1}},
        )
        queue.apply(view, feed.apply(sample))
        assert repainted == [1]
        assert plain(queue.get_cell("extract", "pool")) == "cpu 1, db 1  cpu 93% 120MB"
        await pilot.pause()

        # Events that change nothing a row shows repaint nothing.
        repainted.clear()
        queue.apply(view, feed.apply(feed.state("load", "pending")))
        assert repainted == [] or repainted == [1]  # extract's "took" may have ticked

        finished = feed.event(
            EventKind.TASK_STATE,
            "extract",
            1,
            state="completed",
            previous="running",
            outcome="succeeded",
            exit_code=0,
        )
        queue.apply(view, feed.apply(finished))
        assert queue.get_cell("extract", "state").plain == "✔ completed"
        assert plain(queue.get_cell("extract", "pool")) == "cpu 1, db 1"
        await pilot.pause()
        repainted.clear()
        queue.apply(view, feed.apply(feed.state("load", "pending")))
        assert repainted == []  # nothing runs: no "took" grows


async def test_queue_repaints_only_rows_on_screen() -> None:
    names = [f"task-{index:05d}" for index in range(10_000)]
    view, queue = new_view(flow=workflow(names)), TaskQueue()
    feed = Feed(view)
    async with PaneApp(queue).run_test(size=(100, 20)) as pilot:
        queue.show(view)
        await pilot.pause()
        repainted: list[int] = []
        refresh_line = queue.refresh_line

        def spy(y: int) -> None:
            repainted.append(y)
            refresh_line(y)

        queue.refresh_line = spy  # type: ignore[method-assign]
        queue.apply(view, feed.apply([feed.state(name, "ready") for name in names[100:600]]))
        assert repainted == []
        queue.apply(view, feed.apply([feed.state(name, "ready") for name in names[:600]]))
        assert sorted(repainted) == list(range(1, 20))  # the 19 rows under the header
        await pilot.pause()
        assert queue.get_cell("task-00003", "state").plain == "◌ ready"
        queue.select("task-09999")
        await pilot.pause()
        assert queue.scroll_y == queue.max_scroll_y
        repainted.clear()
        queue.apply(view, feed.apply(feed.state("task-09998", "ready")))
        assert repainted == [9999]


async def test_queue_filters_by_name_and_by_state_keeping_the_cursor(tmp_path: Path) -> None:
    view, queue = new_view(), TaskQueue()
    feed = Feed(view)
    async with PaneApp(queue).run_test() as pilot:
        queue.show(view)
        queue.select("load")
        queue.apply(view, feed.apply(feed.start("extract", 1, str(tmp_path / "x"))))
        queue.set_filter("LOA")
        assert column(queue, "task") == ["load"] and queue.filter_text == "loa"
        queue.set_filter("running")
        assert column(queue, "task") == ["extract"]
        # A task entering the filtered state appears; one leaving it goes.
        queue.apply(view, feed.apply(feed.start("transform", 1, str(tmp_path / "y"))))
        assert column(queue, "task") == ["extract", "transform"]
        queue.apply(view, feed.apply(feed.state("extract", "failed", 1)))
        assert column(queue, "task") == ["transform"]
        queue.set_filter("")
        assert queue.row_count == 4
        queue.select("load")
        queue.set_filter("o")  # transform, load, report: load is still shown
        assert queue.cursor_task == "load"
        queue.set_filter("zzz")
        assert queue.row_count == 0 and queue.cursor_task is None
        queue.set_filter("")
        assert queue.cursor_task == "load"
        await pilot.pause()


async def test_queue_sorts_by_severity_and_duration() -> None:
    view, queue = new_view(), TaskQueue()
    now = time.time()
    view.set_task("extract", state=TaskStatus.COMPLETED, started_at=now - 50, ended_at=now - 40)
    view.set_task("transform", state=TaskStatus.FAILED, started_at=now - 40, ended_at=now - 38)
    view.set_task("load", state=TaskStatus.RUNNING, started_at=now - 100)
    async with PaneApp(queue).run_test() as pilot:
        queue.show(view)
        queue.focus()
        await pilot.press("O")
        assert queue.sort_column == "state"
        assert column(queue, "task") == ["transform", "load", "report", "extract"]
        queue.sort_by("took")
        assert column(queue, "task") == ["load", "extract", "transform", "report"]
        await pilot.click(TaskQueue, offset=(2, 0))  # the "task" label
        assert queue.sort_column == "task"
        assert column(queue, "task") == ["extract", "load", "report", "transform"]
        await pilot.click(TaskQueue, offset=(2, 0))
        assert column(queue, "task") == ["transform", "report", "load", "extract"]
        queue.sort_by(None)
        assert column(queue, "task") == ["extract", "transform", "load", "report"]


async def test_queue_select_does_not_echo_but_user_moves_do() -> None:
    view, queue = new_view(), TaskQueue()
    async with PaneApp(queue).run_test() as pilot:
        app = pilot.app
        assert isinstance(app, PaneApp)
        queue.show(view)
        queue.focus()
        await pilot.pause()
        assert queue.select("load")
        await pilot.pause()
        assert queue.cursor_task == "load" and app.messages == []
        assert not queue.select("nope")
        await pilot.press("down")
        await pilot.pause()
        assert [(type(m), m.task) for m in app.messages] == [(TaskQueue.TaskHighlighted, "report")]
        await pilot.press("k", "enter")
        await pilot.pause()
        assert [(type(m), m.task) for m in app.messages[1:]] == [
            (TaskQueue.TaskHighlighted, "load"),
            (TaskQueue.TaskSelected, "load"),
        ]
        # A click moves the cursor to the task clicked; a click on the cursor's task selects.
        await pilot.click(TaskQueue, offset=(3, 1))
        await pilot.click(TaskQueue, offset=(3, 1))
        await pilot.pause()
        assert [(type(m), m.task) for m in app.messages[3:]] == [
            (TaskQueue.TaskHighlighted, "extract"),
            (TaskQueue.TaskSelected, "extract"),
        ]


async def test_queue_highlights_the_row_under_the_mouse() -> None:
    view, queue = new_view(), TaskQueue()
    async with PaneApp(queue).run_test() as pilot:
        queue.show(view)
        await pilot.pause()
        hover = queue.get_component_rich_style("task-queue--hover", partial=True).bgcolor

        def background(y: int) -> object:
            return next(iter(queue.render_line(y))).style.bgcolor

        assert hover is not None and background(2) != hover
        await pilot.hover(TaskQueue, offset=(3, 2))
        await until(pilot, lambda: background(2) == hover)
        assert background(3) != hover and background(1) != hover  # row 1 has the cursor
        await pilot.hover(TaskQueue, offset=(3, 3))
        await until(pilot, lambda: background(3) == hover and background(2) != hover)
        await pilot.hover(TaskQueue, offset=(3, 0))  # the header: no row
        await until(pilot, lambda: background(3) != hover)


async def test_queue_apply_on_ten_thousand_rows_is_fast(capsys: pytest.CaptureFixture[str]) -> None:
    names = [f"task-{index:05d}" for index in range(10_000)]
    view, queue = new_view(flow=workflow(names)), TaskQueue()
    feed = Feed(view)
    async with PaneApp(queue).run_test():
        queue.show(view)
        timings = []
        for batch in range(2):
            events = [
                event
                for name in names[batch * 500 : (batch + 1) * 500]
                for event in feed.start(name, 1, "/dev/null")
            ]
            changes = feed.apply(events)
            began = time.perf_counter()
            queue.apply(view, changes)
            timings.append((time.perf_counter() - began) * 1000)
        assert queue.get_cell("task-00999", "state").plain == "▶ running"
        queue.show(None)  # spare the test Textual's measuring of 10,000 new rows on idle
    with capsys.disabled():
        print(
            "\n10,000 rows, 500 changed tasks per apply:", ", ".join(f"{t:.1f} ms" for t in timings)
        )


# -- resources -------------------------------------------------------------------------------


def label(pane: ResourcePane, key: str) -> str:
    return str(pane.query_one(f"#{key}-label", Static).content)


async def test_resources_show_pools_and_latest_figures() -> None:
    view, pane = new_view(capacity={"cpu": 4, "db": 1}), ResourcePane()
    feed = Feed(view)
    async with PaneApp(pane).run_test(size=(60, 30)) as pilot:
        pane.show(view)
        await pilot.pause()
        pools = pane.query_one("#pools", Static).content
        assert plain(pools).splitlines() == ["cpu 0/4 ░░░░░░░░░░", "db  0/1 ░░░░░░░░░░"]
        assert label(pane, "tasks-cpu") == "tasks cpu —"
        sample = feed.event(
            EventKind.RESOURCE_SAMPLE,
            cpu=93.0,
            rss=120 * MB,
            system_cpu=41.0,
            system_memory=63.0,
            booked={"cpu": 2, "db": 1},
            capacity={"cpu": 4, "db": 1},
            tasks={},
        )
        pane.apply(view, feed.apply(sample))
        await pilot.pause()
        pools = pane.query_one("#pools", Static).content
        assert plain(pools).splitlines() == ["cpu 2/4 █████░░░░░", "db  1/1 ██████████"]
        assert [
            label(pane, key) for key in ("tasks-cpu", "tasks-mem", "system-cpu", "system-mem")
        ] == ["tasks cpu 93%", "tasks mem 120 MB", "system cpu 41%", "system mem 63%"]
        # One sample is no trend (Textual would draw it as a full-height bar).
        assert pane.query_one("#tasks-cpu", Sparkline).data == []
        second = feed.event(
            EventKind.RESOURCE_SAMPLE,
            cpu=50.0,
            rss=MB,
            system_cpu=10.0,
            system_memory=60.0,
            booked={"cpu": 1},
            tasks={},
        )
        pane.apply(view, feed.apply(second))
        assert pane.query_one("#tasks-cpu", Sparkline).data == [93.0, 50.0]
        assert label(pane, "tasks-mem") == "tasks mem 1 MB"
        # The last sample of a run was taken while it ran: its end books nothing.
        ended = feed.event(EventKind.SESSION_FINISHED, status="completed")
        pane.apply(view, feed.apply(ended))
        pools = pane.query_one("#pools", Static).content
        assert plain(pools).splitlines() == ["cpu 0/4 ░░░░░░░░░░", "db  0/1 ░░░░░░░░░░"]
        pane.show(None)
        assert label(pane, "system-mem") == "system mem —"


# -- log -------------------------------------------------------------------------------------


async def test_log_loads_the_file_then_appends_live_lines(tmp_path: Path) -> None:
    view, pane = new_view(), TaskLog()
    feed = Feed(view)
    log_file = tmp_path / "extract.1.log"
    log_file.write_text("one\n\nthree\n", encoding="utf-8")
    async with PaneApp(pane).run_test() as pilot:
        feed.apply(feed.start("extract", 1, str(log_file)))
        pane.show_task(view, "extract")
        pane.append("extract", 1, ["three", "four"])  # arrives while the file is read
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert pane.lines == ["one", " ", "three", "four"]
        title = pane.query_one("#title", Static).content
        assert plain(title).startswith("extract · attempt 1 · ▶ running")
        pane.append("transform", 1, ["not ours"])
        pane.append("extract", 1, ["five"])
        assert pane.lines[-1] == "five"

        feed.apply(
            feed.event(
                EventKind.TASK_STATE,
                "extract",
                1,
                state="failed",
                previous="running",
                outcome="failed",
                exit_code=3,
                reason="exit code 3",
            ),
        )
        pane.refresh_title(view)
        assert plain(pane.query_one("#title", Static).content).startswith(
            "extract · attempt 1 · ✘ failed · exit 3 · exit code 3"
        )
        pane.append("extract", 2, ["second try"])
        assert pane.lines == ["second try"] and pane.shown_attempt == 2

        pane.show_task(view, "transform")  # never ran
        assert pane.lines == [NO_OUTPUT]
        pane.toggle_follow()
        assert not pane.follow and not pane.query_one(Log).auto_scroll


async def test_log_keeps_the_last_lines_of_a_long_file(tmp_path: Path) -> None:
    view, pane = new_view(), TaskLog()
    feed = Feed(view)
    log_file = tmp_path / "extract.1.log"
    log_file.write_text("".join(f"line {n}\n" for n in range(6_000)), encoding="utf-8")
    async with PaneApp(pane).run_test() as pilot:
        feed.apply(feed.start("extract", 1, str(log_file)))
        pane.show_task(view, "extract")
        await pilot.app.workers.wait_for_complete()
        assert len(pane.lines) == MAX_LINES and pane.lines[0] == "line 1000"
        feed.apply(feed.start("transform", 1, str(tmp_path / "missing.log")))
        pane.show_task(view, "transform")
        await pilot.app.workers.wait_for_complete()
        assert pane.lines == [NO_OUTPUT]


async def test_log_tails_a_file_only_while_its_task_runs(tmp_path: Path) -> None:
    view, pane = new_view(), TaskLog()
    feed = Feed(view)
    log_file = tmp_path / "extract.1.log"
    log_file.write_text("first\npart", encoding="utf-8")
    async with PaneApp(pane).run_test() as pilot:
        feed.apply(feed.start("extract", 1, str(log_file)))
        pane.show_task(view, "extract", follow_file=True)
        await until(pilot, lambda: pane.lines == ["first"])
        with log_file.open("a", encoding="utf-8") as file:
            file.write("ial\nsecond\n")
        await until(pilot, lambda: pane.lines == ["first", "partial", "second"])
        assert pane._poller is not None
        with log_file.open("a", encoding="utf-8") as file:
            file.write("last words")
        feed.apply(feed.state("extract", "completed", 1))
        pane.refresh_title(view)
        assert pane._poller is None
        await until(pilot, lambda: pane.lines[-1:] == ["last words"])
