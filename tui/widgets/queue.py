"""The queue pane: every task of the session on screen, one row each, repainted row by row.

Not a ``DataTable``, though it looks like one. With a 10,000-task session and the engine
publishing events as fast as it can (``tests/bench/tui_bench.py``), a DataTable measured every
cell on ``add_row`` and rebuilt its row offsets after every ``update_cell``: launching on the
workflow took 2.2 s, the dashboard used 83% of a core and a key took 288 ms (p95) to show.
This pane keeps its rows in a plain list and paints through Textual's line API only the rows
on screen, each again only when what it shows has changed; with nothing else changed, that
alone made it 0.8 s, 43% and 101 ms (p50 31 ms)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from formicary.model.durations import span
from formicary.model.records import TaskPriority, TaskStatus
from formicary.tui.glyphs import state_variable
from formicary.tui.matching import matches
from formicary.tui.state import Changes, SessionView, TaskRow
from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

COLUMNS = ("task", "state", "prio", "try", "started", "took", "pool")
"""Column keys (also their labels), in display order."""

_STATE = COLUMNS.index("state")
_FIXED_WIDTHS = {"state": 11, "try": 5, "started": 9, "took": 7}
_MEASURED_WIDTH = len("  cpu 100% 1023MB")
_ARROW = 2
"""Room kept beside every label for the sort arrow, so sorting never moves a column."""
_PADDING = 1
"""Blank cells either side of every cell."""

_BY_SEVERITY = "failed running retrying blocked paused cancelled ready pending skipped completed"
SEVERITY: dict[TaskStatus, int] = {
    TaskStatus(state): rank for rank, state in enumerate(_BY_SEVERITY.split())
}
"""Order of states when sorting by state: what needs attention first."""

SORT_CYCLE: tuple[str | None, ...] = (None, "state", "took", "started", "prio", "try", "task")
"""The sort columns ``o`` steps through; ``None`` is definition order."""

_FAR = float("inf")


def _longest_first(took: float | None) -> float:
    """The sort key of a "took": longest first, tasks not started last."""
    return -took if took is not None else _FAR


_SORT_KEYS: dict[str, Callable[[TaskRow], Any]] = {
    "task": lambda row: row.name,
    "state": lambda row: SEVERITY[row.state],
    "prio": lambda row: TaskPriority(row.priority).rank,
    "try": lambda row: -row.attempt,
    "started": lambda row: -(row.started_at or 0.0),
    "took": lambda row: _longest_first(row.took),
    "pool": lambda row: _pool(row, measured=False),
}
"""Natural order of each column (reversed by clicking its header again)."""

Values = tuple[str, ...]
"""What a row shows, one string per column."""


def _bytes(size: float) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f}{unit}"
        size /= 1024
    return f"{size:.1f}GB"


def _pool(row: TaskRow, *, measured: bool = True) -> str:
    booked = ", ".join(f"{pool} {amount}" for pool, amount in row.resources.items())
    if measured and row.state is TaskStatus.RUNNING and row.cpu is not None:
        figures = f"cpu {row.cpu:.0f}%" + (f" {_bytes(row.rss)}" if row.rss else "")
        return f"{booked}  {figures}" if booked else figures
    return booked


def _started(at: float | None) -> str:
    return "" if at is None else time.strftime("%H:%M:%S", time.localtime(at))


def _values_of(row: TaskRow, now: float) -> Values:
    took = None if row.started_at is None else (row.ended_at or now) - row.started_at
    return (
        row.name,
        row.label,
        row.priority,
        str(row.attempt) if row.attempt else "",
        _started(row.started_at),
        span(None if took is None else max(0.0, took), missing=""),
        _pool(row),
    )


def _state_rules() -> str:
    """A CSS rule per state: its component class takes the colour of its theme variable."""
    return "\n".join(
        f"    TaskQueue > .task-queue--{state.value} {{ color: ${state_variable(state)}; }}"
        for state in TaskStatus
    )


class _TaskMessage(Message):
    def __init__(self, queue: TaskQueue, task: str) -> None:
        self.queue = queue
        """The queue."""
        self.task = task
        """The task concerned."""
        super().__init__()

    @property
    def control(self) -> TaskQueue:
        """The queue."""
        return self.queue


class TaskQueue(ScrollView, can_focus=True):
    """The tasks of one session: state, priority, attempt, timing and pool use.

    :meth:`apply` repaints only the rows on screen whose text a batch of events changed; the
    order of rows stays put until the user sorts or filters again. The header stays on top
    while the rows scroll under it.
    """

    ALLOW_SELECT = False

    BINDINGS: ClassVar[list[BindingType]] = [
        # Not o: that is the dashboard's "start with options".
        Binding("O", "cycle_sort", "Sort", id="queue.sort"),
        Binding("down,j", "cursor_down", "Down", show=False, id="queue.down"),
        Binding("up,k", "cursor_up", "Up", show=False, id="queue.up"),
        Binding("home,g", "cursor_first", "First", show=False, id="queue.first"),
        Binding("end,G", "cursor_last", "Last", show=False, id="queue.last"),
        Binding("pagedown", "cursor_page_down", "Page down", show=False, id="queue.page_down"),
        Binding("pageup", "cursor_page_up", "Page up", show=False, id="queue.page_up"),
        Binding("enter", "select_cursor", "Details", show=False, id="queue.select"),
    ]
    """
    | Key(s) | Description |
    | :- | :- |
    | O | Sort by the next column (state, took, started, prio, try, task, none). |
    | down, j / up, k | Move the cursor down / up. |
    | home, g / end, G | Go to the first / last task. |
    | pagedown / pageup | Move the cursor a page down / up. |
    | enter | Select the task (posts `TaskSelected`). |
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "task-queue--header",
        "task-queue--cursor",
        "task-queue--hover",
        "task-queue--even-row",
        "task-queue--odd-row",
        *(f"task-queue--{state.value}" for state in TaskStatus),
    }
    """
    | Class | Description |
    | :- | :- |
    | `task-queue--header` | The column labels. |
    | `task-queue--cursor` | The row under the cursor. |
    | `task-queue--hover` | The row under the mouse. |
    | `task-queue--even-row` / `task-queue--odd-row` | Zebra stripes. |
    | `task-queue--<state>` | The state cell of a task in that state (`task-queue--failed`). |
    """

    DEFAULT_CSS = f"""
    TaskQueue {{
        height: 1fr;
        background: $surface;
        color: $foreground;
        &:focus {{
            background-tint: $foreground 5%;
            & > .task-queue--cursor {{
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }}
            & > .task-queue--header {{ background-tint: $foreground 5%; }}
        }}
        & > .task-queue--header {{ text-style: bold; background: $panel; color: $foreground; }}
        &:ansi > .task-queue--header {{ background: ansi_bright_blue; color: ansi_default; }}
        & > .task-queue--cursor {{
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }}
        & > .task-queue--hover {{ background: $block-hover-background; }}
        & > .task-queue--even-row {{ background: $surface-lighten-1 50%; }}
        &:dark > .task-queue--even-row {{ background: $surface-darken-1 40%; }}
        & > .task-queue--running, & > .task-queue--failed {{ text-style: bold; }}
    }}
{_state_rules()}
    """

    class TaskHighlighted(_TaskMessage):
        """The user moved the cursor onto ``task`` (not sent for :meth:`TaskQueue.select`)."""

    class TaskSelected(_TaskMessage):
        """The user pressed enter on ``task`` (or clicked it when highlighted)."""

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._view: SessionView | None = None
        self._rows: Mapping[str, TaskRow] = {}
        self._order: dict[str, int] = {}
        self._shown: list[str] = []
        """The tasks shown, top to bottom."""
        self._index: dict[str, int] | None = None
        """Each shown task's row (built when first needed after the rows changed)."""
        self._cursor = 0
        self._hover: int | None = None
        """The row under the mouse, if any."""
        self._live: set[str] = set()
        self._filter = ""
        self._sort_column: str | None = None
        self._reverse = False
        self._announced: str | None = None
        """The task the outside world was last told is highlighted."""
        self._widths: list[int] = [len(key) + _ARROW for key in COLUMNS]
        self._table_width = 0
        self._painted_width = 0
        """The width rows were painted at (the table's, or the pane's if wider)."""
        self._lines: LRUCache[int, tuple[Values, Strip]] = LRUCache(1024)
        """Painted rows by index, with what they show; dropped when that changes."""
        self._header: Strip | None = None
        self._styles: dict[str, Style] = {}
        self._measure()

    # -- public API -------------------------------------------------------------------------

    @property
    def cursor_task(self) -> str | None:
        """The task under the cursor, or ``None`` when no task is shown."""
        return self._shown[self._cursor] if self._shown else None

    @property
    def row_count(self) -> int:
        """How many tasks are shown."""
        return len(self._shown)

    @property
    def shown_tasks(self) -> list[str]:
        """The tasks shown, top to bottom."""
        return list(self._shown)

    @property
    def filter_text(self) -> str:
        """The current filter ("" when every task is shown)."""
        return self._filter

    @property
    def sort_column(self) -> str | None:
        """The column rows are sorted by (``None``: definition order)."""
        return self._sort_column

    def get_cell(self, task: str, column: str) -> Text:
        """What the row of ``task`` shows in ``column``, styled as painted (without the cursor).

        Raises:
            LookupError: ``task`` is not shown or ``column`` is not one of :data:`COLUMNS`.
        """
        if task not in self._index_of():
            raise LookupError(f"{task!r} is not shown")
        if column not in COLUMNS:
            raise LookupError(f"no column {column!r}; columns: {', '.join(COLUMNS)}")
        row = self._rows[task]
        value = _values_of(row, time.time())[COLUMNS.index(column)]
        if column != "state":
            return Text(value, end="")
        return Text(value, self._style(f"task-queue--{row.state.value}", partial=True), end="")

    def show(self, view: SessionView | None, tasks: Mapping[str, TaskRow] | None = None) -> None:
        """Show ``tasks`` (default: every task of ``view``), rebuilding every row.

        The cursor stays on the same task when it is still shown; no message is posted.
        """
        self._view = view
        self._rows = tasks if tasks is not None else (view.tasks if view is not None else {})
        self._order = {name: index for index, name in enumerate(self._rows)}
        self._live = {n for n, row in self._rows.items() if row.state is TaskStatus.RUNNING}
        keep = self._kept_task
        self._measure()
        self._rebuild(keep, announce=False)
        self._announced = self.cursor_task

    def apply(self, view: SessionView, changes: Changes) -> None:
        """Repaint the rows on screen whose text ``changes`` changed, and the "took" of
        running tasks; with a filter, add and remove the tasks entering and leaving it.

        No timer ticks "took": while tasks run, resource samples arrive about once a second
        and each batch brings its :meth:`apply`.
        """
        if view is not self._view:
            self.show(view)
            return
        now, rows, index = time.time(), self._rows, self._index_of()
        added: list[str] = []
        removed: list[str] = []
        for name in changes.tasks:
            row = rows.get(name)
            if row is None:
                continue
            if row.state is TaskStatus.RUNNING:
                self._live.add(name)
            else:
                self._live.discard(name)
            if self._filter and self._matches(row) != (name in index):
                (removed if name in index else added).append(name)
            else:
                self._repaint_if_changed(name, now)
        for name in self._live.difference(changes.tasks):  # their "took" grows
            self._repaint_if_changed(name, now)
        if added or removed:
            self._change_membership(added, removed)

    def set_filter(self, text: str) -> None:
        """Show only tasks whose name or state matches ``text`` (any case; by prefix, substring
        or subsequence: ``fail`` finds failed tasks, ``ldr`` finds ``load_rows``).

        "" shows every task. The cursor stays on its task while that task is shown; when it
        lands on another task, :class:`TaskHighlighted` is posted.
        """
        text = text.strip().lower()
        if text == self._filter:
            return
        self._filter = text
        self._rebuild(self._kept_task, announce=True)

    def sort_by(self, column: str | None, *, reverse: bool = False) -> None:
        """Sort rows by ``column`` (a key of :data:`COLUMNS`, or ``None``: definition order)."""
        if column is not None and column not in _SORT_KEYS:
            raise ValueError(f"cannot sort by {column!r}; columns: {', '.join(_SORT_KEYS)}")
        self._sort_column, self._reverse = column, reverse
        self._header = None
        self._rebuild(self._kept_task, announce=True)

    def select(self, task: str) -> bool:
        """Move the cursor to ``task`` without posting :class:`TaskHighlighted`.

        Returns:
            False when ``task`` is not shown (filtered out or unknown).
        """
        index = self._index_of().get(task)
        if index is None:
            return False
        self._announced = task
        self._move_to(index, post=False)
        return True

    # -- actions and handlers ---------------------------------------------------------------

    def action_cycle_sort(self) -> None:
        """Sort by the next column of :data:`SORT_CYCLE`."""
        index = SORT_CYCLE.index(self._sort_column) if self._sort_column in SORT_CYCLE else 0
        self.sort_by(SORT_CYCLE[(index + 1) % len(SORT_CYCLE)])

    def action_cursor_down(self) -> None:
        """Move the cursor to the next task."""
        self._move_to(self._cursor + 1, post=True)

    def action_cursor_up(self) -> None:
        """Move the cursor to the previous task."""
        self._move_to(self._cursor - 1, post=True)

    def action_cursor_first(self) -> None:
        """Move the cursor to the first task."""
        self._move_to(0, post=True)

    def action_cursor_last(self) -> None:
        """Move the cursor to the last task."""
        self._move_to(len(self._shown) - 1, post=True)

    def action_cursor_page_down(self) -> None:
        """Move the cursor a page down."""
        self._move_to(self._cursor + max(1, self._rows_on_screen()), post=True)

    def action_cursor_page_up(self) -> None:
        """Move the cursor a page up."""
        self._move_to(self._cursor - max(1, self._rows_on_screen()), post=True)

    def action_select_cursor(self) -> None:
        """Post :class:`TaskSelected` for the task under the cursor."""
        task = self.cursor_task
        if task is not None:
            self.post_message(self.TaskSelected(self, task))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """Highlight the row under the mouse."""
        offset = event.get_content_offset(self)
        index = None
        if offset is not None and offset.y > 0:
            index = round(self.scroll_y) + offset.y - 1
            if index >= len(self._shown):
                index = None
        self._set_hover(index)

    def on_leave(self, event: events.Leave) -> None:
        """The mouse left: no row is under it."""
        self._set_hover(None)

    def _set_hover(self, index: int | None) -> None:
        old, self._hover = self._hover, index
        if old != index:
            for row in (old, index):
                if row is not None:
                    self._repaint_row(row)

    def on_click(self, event: events.Click) -> None:
        """A click on a label sorts by its column (again: the other way round); a click on a
        task moves the cursor to it, and a click on the task under the cursor selects it."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        scroll_x, scroll_y = self.scroll_offset
        if offset.y == 0:
            column = self._column_at(offset.x + scroll_x)
            if column is not None:
                again = column == self._sort_column
                self.sort_by(column, reverse=not self._reverse if again else False)
            return
        index = scroll_y + offset.y - 1
        if index >= len(self._shown):
            return
        if index == self._cursor:
            self.action_select_cursor()
        else:
            self._move_to(index, post=True)

    # -- painting ---------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        """Drop painted rows: the theme (or focus) changed their colours."""
        super().notify_style_update()
        self._forget_painted()

    def render_line(self, y: int) -> Strip:
        """Paint line ``y`` of the pane: the header, or the row scrolled there."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        painted = max(width, self._table_width)
        if painted != self._painted_width:
            self._forget_painted()
            self._painted_width = painted
        if y == 0:
            if self._header is None:
                self._header = self._paint_header(painted)
            strip = self._header
        else:
            index = scroll_y + y - 1
            if index >= len(self._shown):
                return Strip.blank(width, self.rich_style)
            entry = self._lines.get(index)
            if entry is None:
                values = _values_of(self._rows[self._shown[index]], time.time())
                entry = self._lines[index] = (values, self._paint_row(index, values, painted))
            strip = entry[1]
        return strip.crop(scroll_x, scroll_x + width)

    def _paint_header(self, width: int) -> Strip:
        style = self._style("task-queue--header")
        arrow = " ▲" if self._reverse else " ▼"
        labels = [key + (arrow if key == self._sort_column else "") for key in COLUMNS]
        return self._strip(labels, [style] * len(COLUMNS), style, width)

    def _paint_row(self, index: int, values: Values, width: int) -> Strip:
        if index == self._cursor:
            style = self._style("task-queue--cursor")
            styles = [style] * len(COLUMNS)
        else:
            style = self._style("task-queue--even-row" if index % 2 == 0 else "task-queue--odd-row")
            if index == self._hover:
                style += self._style("task-queue--hover", partial=True)
            state = self._rows[self._shown[index]].state
            styles = [style] * len(COLUMNS)
            styles[_STATE] = style + self._style(f"task-queue--{state.value}", partial=True)
        return self._strip(values, styles, style, width)

    def _strip(
        self, texts: Values | list[str], styles: list[Style], fill: Style, width: int
    ) -> Strip:
        """One line of cells, padded out to ``width`` in the ``fill`` style."""
        pad = " " * _PADDING
        segments = [
            Segment(f"{pad}{set_cell_size(text, size)}{pad}", style)
            for text, size, style in zip(texts, self._widths, styles, strict=True)
        ]
        if width > self._table_width:
            segments.append(Segment(" " * (width - self._table_width), fill))
        return Strip(segments, max(width, self._table_width))

    def _style(self, component: str, *, partial: bool = False) -> Style:
        """A component's style, kept until the styles change (Textual forgets its own copy
        at every refresh)."""
        key = f"{component}/partial" if partial else component
        style = self._styles.get(key)
        if style is None:
            style = self._styles[key] = self.get_component_rich_style(component, partial=partial)
        return style

    def _forget_painted(self) -> None:
        self._lines.clear()
        self._header = None
        self._styles.clear()

    def _repaint_row(self, index: int) -> None:
        """Forget row ``index`` and, if it is on screen, paint it again."""
        self._lines.discard(index)
        if 0 <= index + 1 - round(self.scroll_y) < self.scrollable_content_region.height:
            self.refresh_line(index + 1)

    def _repaint_if_changed(self, task: str, now: float) -> None:
        """Repaint the row of ``task`` if it was painted and would now read differently."""
        index = self._index_of().get(task)
        if index is None:
            return
        entry = self._lines.get(index)
        if entry is not None and entry[0] != _values_of(self._rows[task], now):
            self._repaint_row(index)

    # -- rows and the cursor ----------------------------------------------------------------

    @property
    def _kept_task(self) -> str | None:
        """The task the cursor should stay on (across a filter that showed nothing, too)."""
        return self.cursor_task or self._announced

    def _index_of(self) -> dict[str, int]:
        if self._index is None:
            self._index = {name: index for index, name in enumerate(self._shown)}
        return self._index

    def _matches(self, row: TaskRow) -> bool:
        text = self._filter
        return matches(text, row.name, row.shown or row.state.value)

    def _sort_key(self) -> Callable[[TaskRow], Any]:
        order = self._order
        if self._sort_column is None:
            return lambda row: order[row.name]
        key = _SORT_KEYS[self._sort_column]
        return lambda row: (key(row), order[row.name])

    def _measure(self) -> None:
        """Column widths: the widest task name, priority and booking (with room for the
        figures measured while a task runs); fixed widths for the rest."""
        rows = self._rows.values()
        content = {
            "task": max((cell_len(row.name) for row in rows), default=0),
            "prio": max((len(row.priority) for row in rows), default=0),
            "pool": max((len(_pool(row, measured=False)) for row in rows), default=0)
            + _MEASURED_WIDTH,
            **_FIXED_WIDTHS,
        }
        self._widths = [max(content[key], len(key) + _ARROW) for key in COLUMNS]
        self._table_width = sum(width + 2 * _PADDING for width in self._widths)
        self._forget_painted()

    def _column_at(self, x: int) -> str | None:
        left = 0
        for key, width in zip(COLUMNS, self._widths, strict=True):
            left += width + 2 * _PADDING
            if x < left:
                return key
        return None

    def _rebuild(self, keep: str | None, *, announce: bool) -> None:
        """Filter and sort every row again, then put the cursor back on ``keep``."""
        rows = self._rows.values()
        shown = [row for row in rows if self._matches(row)] if self._filter else list(rows)
        if self._sort_column is not None or self._reverse:
            shown.sort(key=self._sort_key(), reverse=self._reverse)
        self._set_shown([row.name for row in shown], keep, announce=announce)

    def _change_membership(self, added: list[str], removed: list[str]) -> None:
        keep = self._kept_task
        gone = set(removed)
        shown = [name for name in self._shown if name not in gone] if gone else self._shown
        if added:
            rows, key = self._rows, self._sort_key()
            shown = sorted([*shown, *added], key=lambda n: key(rows[n]), reverse=self._reverse)
        self._set_shown(shown, keep, announce=True)

    def _set_shown(self, shown: list[str], keep: str | None, *, announce: bool) -> None:
        self._shown = shown
        self._index = None
        self._lines.clear()
        self.virtual_size = Size(self._table_width, len(shown) + 1)
        self.refresh()
        self._keep_cursor(keep, announce=announce)

    def _keep_cursor(self, task: str | None, *, announce: bool) -> None:
        """Put the cursor back on ``task`` if shown; tell the world if another task is now
        under it (``announce``) or just note it. An empty table changes nobody's mind."""
        index = self._index_of().get(task) if task is not None else None
        self._cursor = index if index is not None else min(self._cursor, len(self._shown) - 1)
        self._cursor = max(self._cursor, 0)
        self._scroll_to_cursor()
        current = self.cursor_task
        if current is not None and current != self._announced:
            self._announced = current
            if announce:
                self.post_message(self.TaskHighlighted(self, current))

    def _move_to(self, index: int, *, post: bool) -> None:
        """Put the cursor on row ``index`` (clamped), scroll to it, and (if ``post``) say so."""
        if not self._shown:
            return
        index = min(max(index, 0), len(self._shown) - 1)
        old, self._cursor = self._cursor, index
        if old != index:
            self._repaint_row(old)
            self._repaint_row(index)
        self._scroll_to_cursor()
        task = self._shown[index]
        if post and task != self._announced:
            self._announced = task
            self.post_message(self.TaskHighlighted(self, task))

    def _rows_on_screen(self) -> int:
        return self.scrollable_content_region.height - 1

    def _scroll_to_cursor(self) -> None:
        """Scroll the least needed to show the cursor's row below the header."""
        rows = self._rows_on_screen()
        if rows <= 0:  # not laid out yet
            self.call_after_refresh(self._scroll_to_cursor_once_laid_out)
            return
        top = round(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + rows:
            self.scroll_to(y=self._cursor - rows + 1, animate=False, immediate=True)

    def _scroll_to_cursor_once_laid_out(self) -> None:
        if self._rows_on_screen() > 0:
            self._scroll_to_cursor()
