"""The live graph of the selected workflow: each task's glyph and name in its state's colour.

:class:`DagGraph` paints a :class:`~formicary.tui.graph_layout.GraphLayout` through Textual's line
API, one row at a time, so a 10,000-task lane list costs only the rows on screen. State changes
repaint single rows and never lay the graph out again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar

from formicary.model.dag import Dag
from formicary.model.records import TaskStatus
from formicary.model.specs import WorkflowSpec
from formicary.tui.glyphs import GLYPHS, state_variable
from formicary.tui.graph_layout import (
    LANE_THRESHOLD,
    GraphLayout,
    Mode,
    NodeRef,
    build_layout,
    label,
)
from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip


def _state_rules() -> str:
    """A CSS rule per state: its component class takes the colour of its theme variable."""
    return "\n".join(
        f"    DagGraph > .dag-graph--{state.value} {{ color: ${state_variable(state)}; }}"
        for state in TaskStatus
    )


class DagGraph(ScrollView, can_focus=True):
    """The selected workflow as a DAG, coloured and glyphed by task state.

    Up to ``lane_threshold`` tasks it is a left-to-right drawing; above, a lane list. The
    cursor sits on one task; moving it posts :class:`TaskHighlighted`, ``enter`` posts
    :class:`TaskSelected`, and :meth:`select` moves it quietly for panes keeping in step.
    """

    ALLOW_SELECT = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, id="dag-graph.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="dag-graph.down"),
        # Not h/l: l is the dashboard's "logs", and a pane's key must not hide a global one.
        Binding("left,less_than_sign", "cursor_left", "Upstream", show=False, id="dag-graph.left"),
        Binding(
            "right,greater_than_sign",
            "cursor_right",
            "Downstream",
            show=False,
            id="dag-graph.right",
        ),
        Binding("home,g", "cursor_first", "First", show=False, id="dag-graph.first"),
        Binding("pageup", "cursor_page(-1)", "Page up", show=False, id="dag-graph.page_up"),
        Binding("pagedown", "cursor_page(1)", "Page down", show=False, id="dag-graph.page_down"),
        Binding("end,G", "cursor_last", "Last", show=False, id="dag-graph.last"),
        Binding("enter", "select_cursor", "Details", show=False, id="dag-graph.select"),
    ]
    """
    | Key(s) | Description |
    | :- | :- |
    | up, k | Previous task in the column (lane list: previous row). |
    | down, j | Next task in the column (lane list: next row). |
    | left, < | Nearest task in the previous column (lane list: a dependency). |
    | right, > | Nearest task in the next column (lane list: a dependent). |
    | pageup / pagedown | A screenful up / down. |
    | home, g | First task. |
    | end, G | Last task. |
    | enter | Select the task under the cursor. |
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *(f"dag-graph--{state.value}" for state in TaskStatus),
        "dag-graph--edge",
        "dag-graph--cursor",
    }
    """
    | Class | Description |
    | :- | :- |
    | `dag-graph--<state>` | A task in that state (`dag-graph--running`, ...). |
    | `dag-graph--edge` | Edges and lanes. |
    | `dag-graph--cursor` | The task under the cursor (added to its state's style). |
    """

    DEFAULT_CSS = f"""
    DagGraph {{
        background: $surface;
    }}
    DagGraph > .dag-graph--edge {{ color: $text-muted; }}
    DagGraph > .dag-graph--cursor {{ text-style: reverse; }}
    DagGraph:focus > .dag-graph--cursor {{ text-style: bold reverse; }}
{_state_rules()}
    """

    lane_threshold: var[int] = var(LANE_THRESHOLD, init=False)
    """Workflows with more tasks than this are shown as a lane list instead of a drawing."""

    class TaskHighlighted(Message):
        """The user moved the cursor to ``task`` (keys or mouse; never :meth:`select`)."""

        def __init__(self, graph: DagGraph, task: str) -> None:
            self.graph = graph
            """The graph the cursor moved in."""
            self.task = task
            """The task now under the cursor."""
            super().__init__()

        @property
        def control(self) -> DagGraph:
            """Alias for :attr:`graph`."""
            return self.graph

    class TaskSelected(Message):
        """The user chose ``task`` with ``enter``."""

        def __init__(self, graph: DagGraph, task: str) -> None:
            self.graph = graph
            """The graph the task was chosen in."""
            self.task = task
            """The chosen task."""
            super().__init__()

        @property
        def control(self) -> DagGraph:
            """Alias for :attr:`graph`."""
            return self.graph

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        """An empty graph; :meth:`show` gives it a workflow."""
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._dag: Dag | None = None
        self._layout: GraphLayout | None = None
        self._states: dict[str, TaskStatus] = {}
        self._cursor: str | None = None
        self._rank: dict[str, int] = {}
        """Each task's index in the layout's ``order``."""
        self._slot: dict[str, tuple[int, int]] = {}
        """Each task's column and its index in that column."""
        self._strips: LRUCache[int, Strip] = LRUCache(1024)
        """Painted rows (uncropped), by row; dropped when a row's look changes."""

    # -- public API ------------------------------------------------------------------------

    @property
    def cursor_task(self) -> str | None:
        """The task under the cursor, or None when no workflow (or an empty one) is shown."""
        return self._cursor

    @property
    def mode(self) -> Mode:
        """``"layers"`` (a drawing) or ``"lanes"`` (a list, for big workflows)."""
        return self._layout.mode if self._layout is not None else "layers"

    @property
    def graph_layout(self) -> GraphLayout | None:
        """The graph layout being shown (not ``Widget.layout``, Textual's CSS layout)."""
        return self._layout

    def show(self, workflow: WorkflowSpec, states: Mapping[str, TaskStatus]) -> None:
        """Show ``workflow`` with ``states`` (tasks missing from it are pending).

        The cursor stays on the same task name if the workflow still has it, else goes to the
        first task. Showing the same workflow again only takes the new states.
        """
        self._states = dict(states)
        if workflow.dag is not self._dag or self._layout is None:
            self._dag = workflow.dag
            self._lay_out()
        else:
            self._repaint()

    def update_states(self, states: Mapping[str, TaskStatus], changed: Iterable[str]) -> None:
        """Take the new state of each task in ``changed`` from ``states`` and repaint its row.

        ``states`` may hold every task or only the changed ones. Nothing moves: glyphs are all
        one cell wide, so only the changed rows are painted again.
        """
        layout = self._layout
        top, height = round(self.scroll_y), self.scrollable_content_region.height
        for task in changed:
            if task in states:
                self._states[task] = states[task]
            if layout is not None and task in layout.positions:
                y = layout.positions[task][1]
                self._strips.discard(y)
                if 0 <= y - top < height:  # a busy session changes rows mostly scrolled away
                    self.refresh_line(y)

    def select(self, task: str) -> None:
        """Put the cursor on ``task`` and scroll it into view, posting nothing.

        For panes that keep in step with this one; a task not shown is ignored.
        """
        self._move(task, post=False)

    # -- layout and painting -----------------------------------------------------------------

    def watch_lane_threshold(self) -> None:
        """Lay the shown workflow out again: it may cross the threshold the other way."""
        if self._dag is not None:
            self._lay_out()

    def _lay_out(self) -> None:
        """Build the layout of the current graph and repaint everything."""
        assert self._dag is not None
        layout = self._layout = build_layout(self._dag, lane_threshold=self.lane_threshold)
        self._rank = {task: i for i, task in enumerate(layout.order)}
        self._slot = {
            task: (k, i) for k, column in enumerate(layout.columns) for i, task in enumerate(column)
        }
        if self._cursor not in layout.positions:
            self._cursor = layout.order[0] if layout.order else None
        self.virtual_size = Size(layout.width, layout.height)
        self._repaint()
        self.call_after_refresh(self._scroll_to_cursor)

    def _repaint(self) -> None:
        """Forget every painted row and paint the viewport again."""
        self._strips.clear()
        self.refresh()

    def _repaint_row(self, y: int) -> None:
        """Forget layout row ``y`` and paint it again if it is on screen."""
        self._strips.discard(y)
        if 0 <= y - round(self.scroll_y) < self.scrollable_content_region.height:
            self.refresh_line(y)

    def notify_style_update(self) -> None:
        """Drop painted rows: the theme (or focus) changed their colours."""
        super().notify_style_update()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        """Paint row ``y`` of the viewport."""
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if self._layout is None or not 0 <= row < self._layout.height:
            return Strip.blank(width, base)
        strip = self._strips.get(row)
        if strip is None:
            strip = self._strips[row] = self._paint_row(row, base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _paint_row(self, row: int, base: Style) -> Strip:
        """Row ``row`` of the layout, in colour, uncropped."""
        assert self._layout is not None
        style_of = self.get_component_rich_style
        edge = style_of("dag-graph--edge")
        segments = []
        for text, kind in self._layout.rows[row]:
            if isinstance(kind, NodeRef):
                state = TaskStatus(self._states.get(kind.task, TaskStatus.PENDING))
                style = base + style_of(f"dag-graph--{state.value}", partial=True)
                if kind.task == self._cursor and not kind.marker:
                    style += style_of("dag-graph--cursor", partial=True)
                segments.append(Segment(GLYPHS[state] + text[1:], style))
            else:
                segments.append(Segment(text, edge if kind == "edge" else base))
        return Strip(segments)

    # -- the cursor -----------------------------------------------------------------------------

    def _move(self, task: str | None, *, post: bool) -> None:
        """Put the cursor on ``task``, scroll it into view, and (if ``post``) say so."""
        layout = self._layout
        if layout is None or task is None or task not in layout.positions:
            return
        old, self._cursor = self._cursor, task
        if old != task:
            if old in layout.positions:
                self._repaint_row(layout.positions[old][1])
            self._repaint_row(layout.positions[task][1])
        self._scroll_to_cursor()
        if post and old != task:
            self.post_message(self.TaskHighlighted(self, task))

    def _scroll_to_cursor(self) -> None:
        """Scroll the least needed to show the cursor's label (in lane mode, with its lanes)."""
        layout, task = self._layout, self._cursor
        if layout is None or task is None or task not in layout.positions:
            return
        x, y = layout.positions[task]
        width = cell_len(label(task))
        if layout.mode == "lanes":
            x, width = 0, x + width
        self.scroll_to_region(Region(x, y, width, 1), animate=False, immediate=True)

    def _vertical(self, step: int) -> str | None:
        """The task ``step`` rows away in the cursor's column (lane list: in the list)."""
        layout, task = self._layout, self._cursor
        if layout is None or task is None:
            return None
        if layout.mode == "lanes":
            index = min(max(self._rank[task] + step, 0), len(layout.order) - 1)
            return layout.order[index]
        column, index = self._slot[task]
        cells = layout.columns[column]
        return cells[min(max(index + step, 0), len(cells) - 1)]

    def _sideways(self, step: int) -> str | None:
        """The nearest task in the column ``step`` away (lane list: a dependency or dependent)."""
        layout, task, dag = self._layout, self._cursor, self._dag
        if layout is None or task is None or dag is None:
            return None
        if layout.mode == "lanes":
            near = dag.dependencies(task) if step < 0 else dag.dependents(task)
            rank = self._rank[task]
            return min(near, key=lambda n: (abs(self._rank[n] - rank), self._rank[n]), default=None)
        column = self._slot[task][0] + step
        if not 0 <= column < len(layout.columns):
            return None
        y = layout.positions[task][1]
        return min(
            layout.columns[column],
            key=lambda n: (abs(layout.positions[n][1] - y), layout.positions[n][1]),
        )

    def action_cursor_up(self) -> None:
        """Move to the previous task in the column."""
        self._move(self._vertical(-1), post=True)

    def action_cursor_down(self) -> None:
        """Move to the next task in the column."""
        self._move(self._vertical(1), post=True)

    def action_cursor_left(self) -> None:
        """Move to the nearest task in the previous column."""
        self._move(self._sideways(-1), post=True)

    def action_cursor_right(self) -> None:
        """Move to the nearest task in the next column."""
        self._move(self._sideways(1), post=True)

    def action_cursor_page(self, direction: int) -> None:
        """Move a screenful of tasks up (-1) or down (1) in the column (lane list: the list)."""
        rows = max(1, self.scrollable_content_region.height - 1)
        if self._layout is not None and self._layout.mode == "layers":
            rows = max(1, rows // 2)  # a drawing spaces its tasks two rows apart
        self._move(self._vertical(direction * rows), post=True)

    def action_cursor_first(self) -> None:
        """Move to the first task."""
        if self._layout is not None and self._layout.order:
            self._move(self._layout.order[0], post=True)

    def action_cursor_last(self) -> None:
        """Move to the last task."""
        if self._layout is not None and self._layout.order:
            self._move(self._layout.order[-1], post=True)

    def action_select_cursor(self) -> None:
        """Post :class:`TaskSelected` for the task under the cursor."""
        if self._cursor is not None:
            self.post_message(self.TaskSelected(self, self._cursor))

    def on_click(self, event: events.Click) -> None:
        """Clicking a task moves the cursor to it."""
        offset = event.get_content_offset(self)
        if offset is None or self._layout is None:
            return
        scroll_x, scroll_y = self.scroll_offset
        task = self._layout.node_at(offset.x + scroll_x, offset.y + scroll_y)
        if task is not None:
            self._move(task, post=True)
