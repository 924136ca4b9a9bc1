"""DagGraph under Pilot: keys, mouse, messages, live states, theme colours, lane mode."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from formicary.model.records import TaskStatus
from formicary.model.specs import TaskSpec, WorkflowSpec
from formicary.tui.glyphs import GLYPHS, STATE_COLORS, state_variable_defaults
from formicary.tui.widgets.graph import DagGraph
from textual import on
from textual.app import App, ComposeResult
from textual.message import Message

NIGHTLY = {
    "extract": [],
    "clean": ["extract"],
    "north": ["clean"],
    "south": ["clean"],
    "combine": ["north", "south"],
    "report": ["combine"],
}


def workflow(graph: Mapping[str, Sequence[str]], name: str = "w") -> WorkflowSpec:
    """A workflow of ``true`` shell tasks shaped like ``graph`` (task -> dependencies)."""
    tasks = {n: TaskSpec(name=n, run="true", depends_on=tuple(deps)) for n, deps in graph.items()}
    return WorkflowSpec(name=name, tasks=tasks)


class GraphApp(App[None]):
    """One DagGraph, the dashboard's state colours, and a record of what the graph posts."""

    def __init__(self) -> None:
        super().__init__()
        self.posted: list[tuple[str, str]] = []

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **state_variable_defaults()}

    def compose(self) -> ComposeResult:
        yield DagGraph(id="graph")

    @on(DagGraph.TaskHighlighted)
    @on(DagGraph.TaskSelected)
    def record(self, event: DagGraph.TaskHighlighted | DagGraph.TaskSelected) -> None:
        assert event.control is self.query_one(DagGraph)
        self.posted.append((type(event).__name__, event.task))


def line_of(graph: DagGraph, task: str) -> str:
    """The text of the viewport row showing ``task``."""
    assert graph.graph_layout is not None
    y = graph.graph_layout.positions[task][1] - graph.scroll_offset.y
    return graph.render_line(y).text


async def test_keys_mouse_select_and_live_states() -> None:
    app = GraphApp()
    async with app.run_test(size=(100, 30)) as pilot:
        graph = app.query_one(DagGraph)
        graph.show(workflow(NIGHTLY), {"extract": TaskStatus.COMPLETED})
        graph.focus()
        await pilot.pause()
        assert graph.cursor_task == "extract" and graph.mode == "layers"
        moves = [
            ("right", "clean"),
            ("right", "north"),
            ("j", "south"),
            ("down", "south"),  # already at the bottom of the column: stays, posts nothing
            ("k", "north"),
            ("right", "combine"),
            ("left", "north"),  # nearest in the previous column, the upper one on a tie
            ("G", "report"),
            ("g", "extract"),
        ]
        expected = []
        for key, task in moves:
            await pilot.press(key)
            assert graph.cursor_task == task, key
            if expected[-1:] != [("TaskHighlighted", task)]:
                expected.append(("TaskHighlighted", task))
        await pilot.press("enter")
        assert app.posted == [*expected, ("TaskSelected", "extract")]
        app.posted.clear()

        graph.select("south")  # quietly: panes keeping in step must not echo
        graph.select("nowhere")
        assert graph.cursor_task == "south"
        layout = graph.graph_layout
        assert layout is not None
        assert line_of(graph, "extract").startswith("✔ extract ─── ○ clean")
        graph.update_states({"clean": TaskStatus.RUNNING}, ["clean"])
        assert graph.graph_layout is layout  # recoloured in place, not laid out again
        assert line_of(graph, "clean").startswith("✔ extract ─── ▶ clean")
        strip = graph.render_line(layout.positions["clean"][1])
        style = next(segment.style for segment in strip if "clean" in segment.text)
        assert style is not None and style.color is not None and style.color.triplet is not None
        assert style.color.triplet.hex == STATE_COLORS[TaskStatus.RUNNING]

        x, y = layout.positions["combine"]
        await pilot.click(DagGraph, offset=(x + 3, y))
        assert graph.cursor_task == "combine"
        assert app.posted == [("TaskHighlighted", "combine")]

        smaller = {name: deps for name, deps in NIGHTLY.items() if name != "combine"}
        smaller["report"] = ["north"]
        graph.show(workflow(smaller, "v2"), {})
        assert graph.cursor_task == "extract"  # combine is gone: back to the first task
        graph.select("north")
        graph.show(workflow(NIGHTLY, "v3"), {})
        assert graph.cursor_task == "north"  # still there: the cursor stays on it
        assert line_of(graph, "extract").startswith(f"{GLYPHS[TaskStatus.PENDING]} extract")
        assert len(app.posted) == 1


async def test_big_workflow_lists_lanes_and_scrolls_to_the_cursor() -> None:
    graph_spec = {
        f"t{i:03}": [f"t{i - 1:03}"] + ([f"t{i - 7:03}"] if i >= 7 else []) for i in range(300)
    }
    graph_spec["t000"] = []
    app = GraphApp()
    async with app.run_test(size=(100, 30)) as pilot:
        graph = app.query_one(DagGraph)
        graph.show(workflow(graph_spec), {"t150": TaskStatus.FAILED})
        graph.focus()
        await pilot.pause()
        assert graph.mode == "lanes"
        assert graph.virtual_size.height == 300
        await pilot.press("j")
        assert graph.cursor_task == "t001"
        await pilot.press("right")  # to the nearest dependent
        assert graph.cursor_task == "t002"
        await pilot.press("left")  # back to a dependency
        assert graph.cursor_task == "t001"
        await pilot.press("end")
        assert graph.cursor_task == "t299"
        assert graph.scroll_offset.y > 250  # the last row is on screen
        assert "t299" in line_of(graph, "t299")
        graph.select("t150")
        row = line_of(graph, "t150")
        assert row.index("✘ t150") > 0 and "✘" in row[: row.index("✘ t150")]  # glyph in its lane
        assert row[0] in "│├╰○✘"
        await pilot.press("home")
        assert graph.cursor_task == "t000" and graph.scroll_offset.y == 0
        assert app.posted == [
            ("TaskHighlighted", "t001"),
            ("TaskHighlighted", "t002"),
            ("TaskHighlighted", "t001"),
            ("TaskHighlighted", "t299"),
            ("TaskHighlighted", "t000"),
        ]


async def test_state_changes_repaint_only_rows_on_screen() -> None:
    graph_spec = {f"t{i:04}": [f"t{i - 1:04}"] if i else [] for i in range(2000)}
    app = GraphApp()
    async with app.run_test(size=(100, 30)) as pilot:
        graph = app.query_one(DagGraph)
        graph.show(workflow(graph_spec), {})
        await pilot.pause()
        repainted: list[int] = []
        refresh_line = graph.refresh_line

        def spy(y: int) -> None:
            repainted.append(y)
            refresh_line(y)

        graph.refresh_line = spy  # type: ignore[method-assign]
        far = [f"t{i:04}" for i in range(1000, 1500)]
        graph.update_states(dict.fromkeys(far, TaskStatus.COMPLETED), far)
        assert repainted == []  # all scrolled away
        graph.update_states({"t0003": TaskStatus.RUNNING}, ["t0003"])
        assert repainted == [graph.graph_layout.positions["t0003"][1]]  # type: ignore[union-attr]
        graph.select("t1200")  # scrolled to: painted with its new state
        await pilot.pause()
        assert "✔ t1200" in line_of(graph, "t1200")


def test_messages_expose_control() -> None:
    graph = DagGraph()
    for message in (DagGraph.TaskHighlighted(graph, "a"), DagGraph.TaskSelected(graph, "a")):
        assert isinstance(message, Message)
        assert message.control is graph and message.task == "a"
