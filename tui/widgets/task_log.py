"""The log pane: one task's output, loaded from its log file off the UI thread, then followed
from live output events (or, for a session another process runs, by tailing the file)."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.theme import Theme
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Log, Static

from engine.model import TaskStatus
from tui.glyphs import GLYPHS
from tui.state import SessionView, TaskRow

log = logging.getLogger(__name__)

MAX_LINES = 5_000
"""Lines kept in the pane (older ones are dropped)."""

MAX_LOAD_BYTES = 8 * 1024 * 1024
"""At most this much of the end of a log file is read when a task is shown."""

POLL_INTERVAL = 0.25
"""Seconds between looks at a tailed file (only while its task runs)."""

NO_OUTPUT = "(no output yet)"

_BLOCK = 64 * 1024


def read_tail(path: str, max_lines: int, *, keep_partial: bool) -> tuple[list[str], int, bytes]:
    """The last ``max_lines`` lines of the file at ``path``, reading backwards from its end.

    Args:
        path: The file.
        max_lines: How many lines at most.
        keep_partial: Hold back a last line without a newline (it may still be written).

    Returns:
        The lines, the file's size when read, and the held-back partial line.

    Raises:
        OSError: When the file cannot be read (``FileNotFoundError`` when it is missing).
    """
    with open(path, "rb") as file:
        size = file.seek(0, os.SEEK_END)
        data, start = b"", size
        while start > 0 and data.count(b"\n") <= max_lines and len(data) < MAX_LOAD_BYTES:
            step = min(_BLOCK, start)
            start -= step
            file.seek(start)
            data = file.read(step) + data
    if start > 0:  # the first line read is cut: drop it
        data = data[data.find(b"\n") + 1 :] if b"\n" in data else b""
    partial = b""
    if keep_partial and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        data, partial = data[:cut], data[cut:]
    return data.decode("utf-8", "replace").splitlines()[-max_lines:], size, partial


def read_from(path: str, offset: int) -> tuple[bytes, int]:
    """The bytes of ``path`` from ``offset`` to its end, and its size (``b"", -1`` if missing)."""
    try:
        with open(path, "rb") as file:
            size = file.seek(0, os.SEEK_END)
            if size <= offset:
                return b"", size
            file.seek(offset)
            return file.read(size - offset), size
    except FileNotFoundError:
        return b"", -1


def _overlap(shown: list[str], arrived: list[str]) -> int:
    """How many of the first ``arrived`` lines are already the last of ``shown``."""
    for count in range(min(len(shown), len(arrived)), 0, -1):
        if shown[len(shown) - count :] == arrived[:count]:
            return count
    return 0


class TaskLog(Widget):
    """A title line (task · attempt · state · exit · reason) over the task's output."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"task-log--{state.value}" for state in TaskStatus}
    """
    | Class | Description |
    | :- | :- |
    | `task-log--<state>` | The state in the title of a task in that state (`task-log--failed`). |
    """

    DEFAULT_CSS = """
    TaskLog {
        height: 1fr;
        & > #title { height: 1; padding: 0 1; background: $panel; color: $foreground; }
        & > Log { height: 1fr; }
        & > .task-log--pending { color: $state-pending; }
        & > .task-log--ready { color: $state-ready; }
        & > .task-log--running { color: $state-running; text-style: bold; }
        & > .task-log--completed { color: $state-completed; }
        & > .task-log--failed { color: $state-failed; text-style: bold; }
        & > .task-log--cancelled { color: $state-cancelled; }
        & > .task-log--retrying { color: $state-retrying; }
        & > .task-log--blocked { color: $state-blocked; }
        & > .task-log--skipped { color: $state-skipped; }
        & > .task-log--paused { color: $state-paused; }
    }
    """

    follow: reactive[bool] = reactive(True, init=False)
    """Scroll to new output as it arrives."""

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
        self._shown_task: str | None = None
        self._attempt = 0
        self._path: str | None = None
        self._follow_file = False
        self._generation = 0
        """Bumped whenever the pane switches; late file reads for older contents are dropped."""
        self._loading = False
        self._pending: list[str] = []
        """Live lines that arrived while the file was being read."""
        self._placeholder = False
        self._offset = 0
        self._partial = b""
        self._poller: Timer | None = None
        self._read_lock = asyncio.Lock()
        self._title: Text | None = None

    def compose(self) -> ComposeResult:
        """The title, then the output."""
        yield Static("", id="title")
        yield Log(max_lines=MAX_LINES, auto_scroll=self.follow)

    def on_mount(self) -> None:
        """Recolour the title whenever the theme changes."""
        self.app.theme_changed_signal.subscribe(self, self._restyle)

    @property
    def shown_task(self) -> str | None:
        """The task shown, if any."""
        return self._shown_task

    @property
    def shown_attempt(self) -> int:
        """The attempt shown (0 before the task first ran)."""
        return self._attempt

    @property
    def lines(self) -> list[str]:
        """The lines in the pane."""
        return list(self.query_one(Log).lines)

    def show_task(self, view: SessionView, task: str, *, follow_file: bool = False) -> None:
        """Show ``task``'s latest attempt: its title, then its log file, read in a worker.

        Args:
            view: The session.
            task: The task's name.
            follow_file: Tail the file while the task runs (a session run by another process,
                from which no output events arrive).
        """
        row = view.tasks[task]
        self._view, self._shown_task, self._attempt = view, task, row.attempt
        self._path, self._follow_file = row.log_path, follow_file
        self._switch()
        if self._path is None:
            self._show_placeholder()
        else:
            self._loading = True
            self.run_worker(self._load(self._generation, self._path), group="task-log-load")
        self._render_title(row)

    def append(self, task: str, attempt: int, lines: list[str]) -> None:
        """Add live output of ``task``'s ``attempt``; a later attempt replaces what is shown."""
        if task != self._shown_task or attempt < self._attempt:
            return
        if attempt > self._attempt:
            self._attempt = attempt
            self._switch()
            if self._view is not None:
                self._render_title(self._view.tasks[task])
        if self._loading:
            self._pending.extend(lines)
        else:
            self._write(lines)

    def refresh_title(self, view: SessionView) -> None:
        """Re-read the shown task's row (its state changed); a new attempt of a tailed task
        switches to the new log file, and tailing starts or stops with the task running."""
        if self._shown_task is None or self._shown_task not in view.tasks:
            return
        row = view.tasks[self._shown_task]
        self._view = view
        if self._follow_file and (row.attempt > self._attempt or row.log_path != self._path):
            self.show_task(view, self._shown_task, follow_file=True)
            return
        if row.attempt > self._attempt:
            self._attempt = row.attempt
            self._switch()
        self._render_title(row)
        self._update_poller()

    def clear(self) -> None:
        """Show nothing."""
        self._view = self._shown_task = self._path = None
        self._attempt = 0
        self._switch()
        self._set_title(Text())

    def toggle_follow(self) -> None:
        """Turn following new output on or off."""
        self.follow = not self.follow

    def action_toggle_follow(self) -> None:
        """Turn following new output on or off."""
        self.toggle_follow()

    def watch_follow(self, follow: bool) -> None:
        """Scroll to the end when following starts."""
        if not self.is_mounted:
            return
        output = self.query_one(Log)
        output.auto_scroll = follow
        if follow:
            output.scroll_end(animate=False, x_axis=False)
        if self._view is not None and self._shown_task is not None:
            self._render_title(self._view.tasks[self._shown_task])

    # -- internals --------------------------------------------------------------------------

    def _switch(self) -> None:
        """Forget what is shown: clear the output, stop reading and tailing.

        The placeholder stays while nothing replaces it: moving the cursor over tasks that
        have no output yet then changes nothing but the title (no layout, no repaint).
        """
        self._generation += 1
        self._loading = False
        self._pending = []
        self._offset, self._partial = 0, b""
        self._stop_poller()
        if not self._placeholder:
            self.query_one(Log).clear()

    def _show_placeholder(self) -> None:
        if not self._placeholder:
            self.query_one(Log).write_line(NO_OUTPUT)
            self._placeholder = True

    def _write(self, lines: list[str]) -> None:
        if not lines:
            return
        output = self.query_one(Log)
        if self._placeholder:
            output.clear()
            self._placeholder = False
        # Log.write_lines drops "" (it splits each line), so keep blank lines visible.
        output.write_lines([line or " " for line in lines])

    async def _load(self, generation: int, path: str) -> None:
        try:
            result = await asyncio.to_thread(
                read_tail, path, MAX_LINES, keep_partial=self._follow_file
            )
        except FileNotFoundError:
            lines, size, partial = [], 0, b""
        except OSError as error:
            log.warning("cannot read %s: %s", path, error)
            lines, size, partial = [f"(cannot read {path}: {error.strerror})"], 0, b""
        else:
            lines, size, partial = result
        if generation != self._generation:
            return
        pending, self._pending, self._loading = self._pending, [], False
        self._offset, self._partial = size, partial
        arrived = pending[_overlap(lines, pending) :]
        if lines or arrived:
            self._write(lines + arrived)
        else:
            self._show_placeholder()
        self._update_poller()

    def _task_running(self) -> bool:
        if self._view is None or self._shown_task is None:
            return False
        return self._view.tasks[self._shown_task].state is TaskStatus.RUNNING

    def _update_poller(self) -> None:
        """Tail the file only while a tailed task runs; one last read when it stops."""
        tail = self._follow_file and self._path is not None and not self._loading
        if tail and self._task_running():
            if self._poller is None:
                self._poller = self.set_interval(POLL_INTERVAL, self._poll)
        elif self._poller is not None:
            self._stop_poller()
            self.run_worker(self._poll(final=True), group="task-log-tail")

    def _stop_poller(self) -> None:
        if self._poller is not None:
            self._poller.stop()
            self._poller = None

    async def _poll(self, *, final: bool = False) -> None:
        """Read what was added to the tailed file since the last look."""
        async with self._read_lock:  # a final read waits for a tick's read in flight
            if self._path is None:
                return
            generation = self._generation
            data, size = await asyncio.to_thread(read_from, self._path, self._offset)
            if generation == self._generation:
                self._take(data, size, final=final)

    def _take(self, data: bytes, size: int, *, final: bool) -> None:
        """Show the bytes a tail read found (the file shrank: reload it)."""
        if 0 <= size < self._offset and self._view is not None and self._shown_task is not None:
            self.show_task(self._view, self._shown_task, follow_file=True)  # truncated: start over
            return
        self._offset += len(data)
        buffer = self._partial + data
        cut = len(buffer) if final else buffer.rfind(b"\n") + 1
        self._partial = buffer[cut:]
        self._write(buffer[:cut].decode("utf-8", "replace").splitlines())

    def _render_title(self, row: TaskRow) -> None:
        state = self.get_component_rich_style(f"task-log--{row.state.value}", partial=True)
        title = Text(row.name, style="bold", no_wrap=True, overflow="ellipsis")
        title.append(f" · attempt {self._attempt}" if self._attempt else " · not started")
        title.append(" · ")
        title.append(f"{GLYPHS[row.state]} {row.state.value}", state)
        if row.exit_code is not None:
            title.append(f" · exit {row.exit_code}")
        if row.reason:
            title.append(f" · {row.reason}")
        if self.follow:
            title.append(" · following", "dim")
        self._set_title(title)

    def _set_title(self, title: Text) -> None:
        """Write the title if it changed; its one line never needs a new layout."""
        if title != self._title:
            self._title = title
            self.query_one("#title", Static).update(title, layout=False)

    def _restyle(self, _theme: Theme) -> None:
        if self._view is not None and self._shown_task is not None:
            self._render_title(self._view.tasks[self._shown_task])
