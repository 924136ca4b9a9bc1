"""The queue pane: every task of the session on screen, one row each, updated cell by cell."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, Self

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.message import Message
from textual.theme import Theme
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

from engine.model import TaskPriority, TaskStatus
from tui.glyphs import GLYPHS
from tui.state import Changes, SessionView, TaskRow

log = logging.getLogger(__name__)

COLUMNS = ("task", "state", "prio", "try", "started", "took", "pool")
"""Column keys (also their labels), in display order."""

_FIXED_WIDTHS = {"state": 11, "try": 5, "started": 9, "took": 7}
_MEASURED_WIDTH = len("  cpu 100% 1023MB")
_MASS_REMOVAL = 64
"""Above this many rows leaving a state filter in one batch, rebuild instead of removing."""

_BY_SEVERITY = "failed running retrying blocked paused cancelled ready pending skipped completed"
SEVERITY: dict[TaskStatus, int] = {
    TaskStatus(state): rank for rank, state in enumerate(_BY_SEVERITY.split())
}
"""Order of states when sorting by state: what needs attention first."""

SORT_CYCLE: tuple[str | None, ...] = (None, "state", "took", "started", "prio", "try", "task")
"""The sort columns ``o`` steps through; ``None`` is definition order."""

_FAR = float("inf")
_SORT_KEYS: dict[str, Callable[[TaskRow], Any]] = {
    "task": lambda row: row.name,
    "state": lambda row: SEVERITY[row.state],
    "prio": lambda row: TaskPriority(row.priority).rank,
    "try": lambda row: -row.attempt,
    "started": lambda row: -(row.started_at or 0.0),
    "took": lambda row: -(row.took if row.started_at is not None else -_FAR),
    "pool": lambda row: _pool(row, measured=False),
}
"""Natural order of each column (reversed by clicking its header again)."""


def _took(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


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


class TaskQueue(DataTable[Any]):
    """The tasks of one session: state, priority, attempt, timing and pool use.

    Rows are keyed by task name. :meth:`apply` rewrites only the cells a batch of events
    changed; the order of rows stays put until the user sorts or filters again.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "cycle_sort", "Sort", id="queue.sort"),
        Binding("j", "cursor_down", "Down", show=False, id="queue.down"),
        Binding("k", "cursor_up", "Up", show=False, id="queue.up"),
        Binding("g", "scroll_top", "First", show=False, id="queue.first"),
        Binding("G", "scroll_bottom", "Last", show=False, id="queue.last"),
    ]
    """
    | Key(s) | Description |
    | :- | :- |
    | o | Sort by the next column (state, took, started, prio, try, task, none). |
    | j / k | Move the cursor down / up. |
    | g / G | Go to the first / last task. |
    | enter | Select the task (posts `TaskSelected`). |
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"task-queue--{state.value}" for state in TaskStatus}
    """
    | Class | Description |
    | :- | :- |
    | `task-queue--<state>` | The state cell of a task in that state (`task-queue--failed`). |
    """

    DEFAULT_CSS = """
    TaskQueue {
        height: 1fr;
        & > .task-queue--pending { color: $state-pending; }
        & > .task-queue--ready { color: $state-ready; }
        & > .task-queue--running { color: $state-running; text-style: bold; }
        & > .task-queue--completed { color: $state-completed; }
        & > .task-queue--failed { color: $state-failed; text-style: bold; }
        & > .task-queue--cancelled { color: $state-cancelled; }
        & > .task-queue--retrying { color: $state-retrying; }
        & > .task-queue--blocked { color: $state-blocked; }
        & > .task-queue--skipped { color: $state-skipped; }
        & > .task-queue--paused { color: $state-paused; }
    }
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
        self._batching = False  # read by refresh(), which DataTable's __init__ calls
        self._refresh_pending = False
        super().__init__(
            cursor_type="row",
            zebra_stripes=True,
            name=name,
            id=id,
            classes=classes,
            disabled=disabled,
        )
        self._view: SessionView | None = None
        self._rows: Mapping[str, TaskRow] = {}
        self._order: dict[str, int] = {}
        self._values: dict[str, list[Any]] = {}
        """What each shown row displays (plain values), to skip unchanged cells."""
        self._keys: dict[str, RowKey] = {}
        self._column_keys = [ColumnKey(key) for key in COLUMNS]
        self._live: set[str] = set()
        self._filter = ""
        self._sort_column: str | None = None
        self._reverse = False
        self._announced: str | None = None
        """The task the outside world was last told is highlighted."""
        self._state_cells: dict[TaskStatus, Text] = {}

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        """Mark the widget for repainting; inside a batch of cell updates, once at its end."""
        if self._batching and repaint and not (regions or layout or recompose):
            self._refresh_pending = True
            return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def on_mount(self) -> None:
        """Re-style the state cells whenever the theme changes."""
        self.app.theme_changed_signal.subscribe(self, self._restyle)

    # -- public API -------------------------------------------------------------------------

    @property
    def cursor_task(self) -> str | None:
        """The task under the cursor, or ``None`` when the table is empty."""
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key.value
        except CellDoesNotExist:
            return None

    @property
    def filter_text(self) -> str:
        """The current filter ("" when every task is shown)."""
        return self._filter

    @property
    def sort_column(self) -> str | None:
        """The column rows are sorted by (``None``: definition order)."""
        return self._sort_column

    def show(self, view: SessionView | None, tasks: Mapping[str, TaskRow] | None = None) -> None:
        """Show ``tasks`` (default: every task of ``view``), rebuilding every row.

        The cursor stays on the same task when it is still shown; no message is posted.
        """
        self._view = view
        self._rows = tasks if tasks is not None else (view.tasks if view is not None else {})
        self._order = {name: index for index, name in enumerate(self._rows)}
        self._live = {n for n, row in self._rows.items() if row.state is TaskStatus.RUNNING}
        keep = self._kept_task
        self.clear(columns=True)
        pools = max((len(_pool(row, measured=False)) for row in self._rows.values()), default=0)
        widths = {**_FIXED_WIDTHS, "pool": pools + _MEASURED_WIDTH}
        for key in COLUMNS:
            self.add_column(key, key=key, width=widths.get(key))
        self._label_headers()
        self._rebuild(keep, announce=False)
        self._announced = self.cursor_task

    def apply(self, view: SessionView, changes: Changes) -> None:
        """Rewrite the cells ``changes`` touched, and the "took" of running tasks.

        No timer ticks "took": while tasks run, resource samples arrive about once a second
        and each batch brings its :meth:`apply`.
        """
        if view is not self._view:
            self.show(view)
            return
        with self._batch():
            self._apply(changes.tasks, time.time())

    def _apply(self, changed: set[str], now: float) -> None:
        rows = self._rows
        added: list[str] = []
        removed: list[str] = []
        for name in changed:
            row = rows.get(name)
            if row is None:
                continue
            if row.state is TaskStatus.RUNNING:
                self._live.add(name)
            else:
                self._live.discard(name)
            shown = name in self._values
            if self._filter and self._matches(row) != shown:
                (removed if shown else added).append(name)
            elif shown:
                self._update_row(name, row, now)
        for name in self._live.difference(changed):  # their "took" grows
            if name in self._values:
                self._update_row(name, rows[name], now, only_took=True)
        if added or removed:
            self._change_membership(added, removed, now)

    def set_filter(self, text: str) -> None:
        """Show only tasks whose name contains ``text`` (any case) or whose state is ``text``.

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
        self._label_headers()
        keep = self._kept_task
        self._resort()
        self._keep_cursor(keep, announce=True)

    def select(self, task: str) -> bool:
        """Move the cursor to ``task`` without posting :class:`TaskHighlighted`.

        Returns:
            False when ``task`` is not shown (filtered out or unknown).
        """
        if task not in self._values:
            return False
        self._announced = task
        self.move_cursor(row=self.get_row_index(task))
        return True

    # -- actions and handlers ---------------------------------------------------------------

    def action_cycle_sort(self) -> None:
        """Sort by the next column of :data:`SORT_CYCLE`."""
        index = SORT_CYCLE.index(self._sort_column) if self._sort_column in SORT_CYCLE else 0
        self.sort_by(SORT_CYCLE[(index + 1) % len(SORT_CYCLE)])

    @on(DataTable.RowHighlighted)
    def _announce_highlight(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        task = event.row_key.value
        # Stale (the cursor moved on since) or already known (an echo of select()).
        if task is None or task != self.cursor_task or task == self._announced:
            return
        self._announced = task
        self.post_message(self.TaskHighlighted(self, task))

    @on(DataTable.RowSelected)
    def _announce_selection(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.TaskSelected(self, event.row_key.value))

    @on(DataTable.HeaderSelected)
    def _sort_by_header(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        column = event.column_key.value
        self.sort_by(column, reverse=not self._reverse if column == self._sort_column else False)

    # -- internals --------------------------------------------------------------------------

    @contextmanager
    def _batch(self) -> Iterator[None]:
        """Coalesce the repaint every ``update_cell`` asks for into one."""
        self._batching = True
        try:
            yield
        finally:
            self._batching = False
            if self._refresh_pending:
                self._refresh_pending = False
                self.refresh()

    @property
    def _kept_task(self) -> str | None:
        """The task the cursor should stay on (across a filter that showed nothing, too)."""
        return self.cursor_task or self._announced

    def _matches(self, row: TaskRow) -> bool:
        text = self._filter
        return not text or text in row.name.lower() or row.state.value == text

    def _sort_key(self) -> Callable[[TaskRow], Any]:
        order = self._order
        if self._sort_column is None:
            return lambda row: order[row.name]
        key = _SORT_KEYS[self._sort_column]
        return lambda row: (key(row), order[row.name])

    def _values_of(self, row: TaskRow, now: float) -> list[Any]:
        took = None if row.started_at is None else (row.ended_at or now) - row.started_at
        return [
            row.name,
            row.state,
            row.priority,
            str(row.attempt) if row.attempt else "",
            _started(row.started_at),
            _took(None if took is None else max(0.0, took)),
            _pool(row),
        ]

    def _cell(self, index: int, value: Any) -> Text:
        if index != 1:
            return Text(value, end="")
        cell = self._state_cells.get(value)
        if cell is None:
            style = self.get_component_rich_style(f"task-queue--{value.value}", partial=True)
            cell = self._state_cells[value] = Text(f"{GLYPHS[value]} {value.value}", style)
        return cell

    def _update_row(self, name: str, row: TaskRow, now: float, *, only_took: bool = False) -> None:
        old, key = self._values[name], self._keys[name]
        new = self._values_of(row, now)
        for index in (5,) if only_took else range(1, len(new)):
            if new[index] != old[index]:
                old[index] = new[index]
                self.update_cell(key, self._column_keys[index], self._cell(index, new[index]))

    def _rebuild(self, keep: str | None, *, announce: bool) -> None:
        if not self.columns:
            return
        self.clear()
        self._values, self._keys = {}, {}
        now, key = time.time(), self._sort_key()
        shown = sorted((row for row in self._rows.values() if self._matches(row)), key=key)
        for row in shown:
            self._add(row, now)
        self._keep_cursor(keep, announce=announce)

    def _add(self, row: TaskRow, now: float) -> None:
        values = self._values[row.name] = self._values_of(row, now)
        cells = (self._cell(index, value) for index, value in enumerate(values))
        self._keys[row.name] = self.add_row(*cells, key=row.name)

    def _change_membership(self, added: Iterable[str], removed: list[str], now: float) -> None:
        keep = self._kept_task
        if len(removed) > _MASS_REMOVAL:
            self._rebuild(keep, announce=True)
            return
        for name in removed:
            del self._values[name], self._keys[name]
            self.remove_row(name)
        for name in added:
            self._add(self._rows[name], now)
        if added:
            self._resort()
        self._keep_cursor(keep, announce=True)

    def _resort(self) -> None:
        rows, key = self._rows, self._sort_key()
        self.sort("task", key=lambda cell: key(rows[cell.plain]), reverse=self._reverse)

    def _keep_cursor(self, task: str | None, *, announce: bool) -> None:
        """Put the cursor back on ``task`` if shown; tell the world if another task is now
        under it (``announce``) or just note it. An empty table changes nobody's mind."""
        if task is not None and task in self._values:
            self.move_cursor(row=self.get_row_index(task))
        current = self.cursor_task
        if current is not None and current != self._announced:
            self._announced = current
            if announce:
                self.post_message(self.TaskHighlighted(self, current))

    def _label_headers(self) -> None:
        arrow = " ▲" if self._reverse else " ▼"
        for key in COLUMNS:
            column = self.columns.get(ColumnKey(key))
            if column is not None:
                column.label = Text(key + (arrow if key == self._sort_column else ""))
                column.content_width = max(column.content_width, column.label.cell_len)
        self.refresh()

    def _restyle(self, _theme: Theme) -> None:
        """Rebuild the state cells with the new theme's colours."""
        self._state_cells.clear()
        with self._batch():
            for name, values in self._values.items():
                self.update_cell(self._keys[name], self._column_keys[1], self._cell(1, values[1]))
