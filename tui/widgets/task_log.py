"""The log pane: one task's output, loaded from its log file off the UI thread, then followed
from live output events (or, for a session another process runs, by tailing the file); it can
be searched, wrapped, time-stamped and opened whole in a pager."""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import BinaryIO, ClassVar, NamedTuple

from formicary.model.records import TaskStatus
from formicary.tui.state import SessionView, TaskRow
from formicary.tui.widgets.log_view import LogView
from rich.text import Text
from textual import on
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.theme import Theme
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Static

log = logging.getLogger(__name__)

MAX_LINES = 5_000
"""Lines kept in the pane (older ones are dropped)."""

MAX_LOAD_BYTES = 8 * 1024 * 1024
"""At most this much of the end of a log file is read when a task is shown."""

POLL_INTERVAL = 0.25
"""Seconds between looks at a tailed file (only while its task runs)."""

NO_OUTPUT = "(no output yet)"

DEFAULT_PAGER = "less -R"
"""The pager ``e`` runs when ``$PAGER`` is not set."""

_BLOCK = 64 * 1024


class Tail(NamedTuple):
    """The end of a log file, as :func:`read_tail` found it."""

    lines: list[str]
    """The last lines."""
    size: int
    """The file's size when read."""
    partial: bytes
    """A last line without a newline, held back (it may still be written)."""
    skipped: int | None
    """Lines before ``lines`` (``None``: unknown, more than ``MAX_LOAD_BYTES`` went unread)."""


def read_tail(path: str, max_lines: int, *, keep_partial: bool) -> Tail:
    """The last ``max_lines`` lines of the file at ``path``, reading backwards from its end.

    The lines before them are counted when they take at most ``MAX_LOAD_BYTES`` (so the pane
    can say "the last 5,000 of 12,345 lines").

    Args:
        path: The file.
        max_lines: How many lines at most.
        keep_partial: Hold back a last line without a newline (it may still be written).

    Returns:
        The lines, the file's size when read, the held-back partial line and how many lines
        came before.

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
        skipped: int | None = 0
        if start > MAX_LOAD_BYTES:
            skipped = None
        elif start > 0:  # the lines before, and the first line read, cut by the block
            file.seek(0)
            skipped = 1 + sum(block.count(b"\n") for block in _blocks(file, start))
    if start > 0:  # the first line read is cut: drop it
        data = data[data.find(b"\n") + 1 :] if b"\n" in data else b""
    partial = b""
    if keep_partial and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        data, partial = data[:cut], data[cut:]
    lines = data.decode("utf-8", "replace").splitlines()
    if skipped is not None:
        skipped += max(0, len(lines) - max_lines)
    return Tail(lines[-max_lines:], size, partial, skipped)


def _blocks(file: BinaryIO, length: int) -> Iterator[bytes]:
    """The next ``length`` bytes of ``file``, a megabyte at a time."""
    while length > 0 and (block := file.read(min(length, 1024 * 1024))):
        length -= len(block)
        yield block


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
    """A title line (task · attempt · state · exit · search · reason) over the task's output.

    Live lines carry the time the engine read them, and lines read by tailing a file the time
    they were read; lines loaded from the file when a task is shown have no known time, so
    ``T`` shows a blank stamp column of the same width beside them. When more lines were
    written than the pane keeps (``MAX_LINES``, or more than ``MAX_LOAD_BYTES`` unread), a row
    above the first line says how many are shown (and of how many, when known).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", id="log.search"),
        Binding("n", "next_match", "Next match", show=False, id="log.next"),
        Binding("N", "previous_match", "Previous match", show=False, id="log.previous"),
        Binding("escape", "close_search", "Close the search", show=False, id="log.close_search"),
        Binding("w", "toggle_wrap", "Wrap", id="log.wrap"),
        Binding("T", "toggle_stamps", "Times", id="log.times"),
        Binding("e", "pager", "Pager", id="log.pager"),
        Binding("f", "toggle_follow", "Follow", show=False, id="log.follow"),
        Binding("k,up", "log_up", "Line up", show=False, id="log.up"),
        Binding("j,down", "log_down", "Line down", show=False, id="log.down"),
        Binding("pageup", "log_page_up", "Page up", show=False, id="log.page_up"),
        Binding("pagedown", "log_page_down", "Page down", show=False, id="log.page_down"),
        Binding("g,home", "log_top", "Top", show=False, id="log.top"),
        Binding("G,end", "log_end", "Bottom and follow", show=False, id="log.end"),
        Binding("left", "log_left", "Scroll left", show=False, id="log.left"),
        Binding("right", "log_right", "Scroll right", show=False, id="log.right"),
    ]
    """
    | Key | Action |
    | :- | :- |
    | / | Search (a box opens; enter finds, case-insensitive). |
    | n / N | Next / previous match (wrapping round, with a notice). |
    | escape | Close the search box and clear the highlight. |
    | w | Wrap long lines, or not. |
    | T | Show the time each line was read, or not. |
    | e | Open the whole log file in `$PAGER` (default `less -R`). |
    | f | Follow new output, or not. |
    | j / k, down / up | Scroll a line (up stops following). |
    | pagedown / pageup | Scroll a page (up stops following). |
    | g, home | The first line (stops following). |
    | G, end | The last line, and follow. |
    | left / right | Scroll sideways (long lines, not wrapped). |
    """

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
        & > LogView { height: 1fr; }
        & > #search {
            display: none;
            height: 1;
            border: none;
            padding: 0 1;
            background: $boost;
        }
        &.-searching > #search { display: block; }
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
        self._pending_times: list[float | None] = []
        """When each pending line was read."""
        self._placeholder = False
        self._offset = 0
        self._partial = b""
        self._poller: Timer | None = None
        self._read_lock = asyncio.Lock()
        self._title: Text | None = None
        self._skipped: int | None = 0
        """Lines of the file before those loaded (``None``: unknown)."""
        self._search_text = ""
        """What the search looks for (``""``: no search)."""
        self._output = LogView(max_lines=MAX_LINES, auto_scroll=self.follow)

    def compose(self) -> ComposeResult:
        """The title, the output, then the search box (hidden until ``/``)."""
        yield Static("", id="title")
        yield self._output
        yield Input(placeholder="search: enter finds, esc closes", id="search")

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
        return list(self._output.lines)

    @property
    def output(self) -> LogView:
        """The widget showing the lines."""
        return self._output

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

    def append(self, task: str, attempt: int, lines: list[str], at: float | None = None) -> None:
        """Add live output of ``task``'s ``attempt``; a later attempt replaces what is shown.

        Args:
            task: The task.
            attempt: Its attempt.
            lines: The lines.
            at: When the engine read them (``None``: unknown, no time stamp).
        """
        if task != self._shown_task or attempt < self._attempt:
            return
        if attempt > self._attempt:
            self._attempt = attempt
            self._switch()
            if self._view is not None:
                self._render_title(self._view.tasks[task])
        if self._loading:
            self._pending.extend(lines)
            self._pending_times.extend([at] * len(lines))
        else:
            self._write(lines, at=at)

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

    def watch_follow(self, follow: bool) -> None:
        """Scroll to the end when following starts."""
        if not self.is_mounted:
            return
        self._output.auto_scroll = follow
        if follow:
            self._output.scroll_end(animate=False, immediate=True, x_axis=False)
        self._rerender_title()

    @on(LogView.FollowStopped)
    def scrolled_back(self, event: LogView.FollowStopped) -> None:
        """The user scrolled back with the mouse: stop following."""
        event.stop()
        self.follow = False

    # -- search -----------------------------------------------------------------------------

    def search(self, text: str) -> None:
        """Highlight ``text`` (case-insensitive) and go to its first match at or after the top
        of the view (``""``: search nothing)."""
        self._search_text = text
        self._output.search(text)
        if text:
            self._go_to_match(forward=True, from_view=True)
        self._rerender_title()

    def action_search(self) -> None:
        """Open the search box (or go back to it)."""
        box = self.query_one("#search", Input)
        self.add_class("-searching")
        box.focus()
        box.select_all()

    @on(Input.Submitted, "#search")
    def search_submitted(self, event: Input.Submitted) -> None:
        """Search for what was typed (nothing: close the box) and give the keys back to the
        log, for ``n`` / ``N``."""
        event.stop()
        if not event.value:
            self.action_close_search()
            return
        self.search(event.value)
        self._output.focus()

    @on(Input.Changed, "#search")
    def search_edited(self, event: Input.Changed) -> None:
        """Keep the search box's edits to the pane (the screen filters its queue on its own
        box's changes)."""
        event.stop()

    def action_next_match(self) -> None:
        """Go to the next match."""
        self._step(forward=True)

    def action_previous_match(self) -> None:
        """Go to the previous match."""
        self._step(forward=False)

    def action_close_search(self) -> None:
        """Close the search box and clear the highlight."""
        box = self.query_one("#search", Input)
        had_focus = box.has_focus
        self.remove_class("-searching")
        box.value = ""
        self.search("")
        if had_focus:
            self._output.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape closes the search only while there is one (else it is the screen's)."""
        if action == "close_search":
            return self.has_class("-searching") or bool(self._search_text)
        return True

    # -- view -------------------------------------------------------------------------------

    def action_toggle_wrap(self) -> None:
        """Wrap long lines, or not."""
        self._output.wrap = not self._output.wrap

    def action_toggle_stamps(self) -> None:
        """Show each line's time, or not."""
        self._output.stamps = not self._output.stamps

    def action_toggle_follow(self) -> None:
        """Turn following new output on or off."""
        self.toggle_follow()

    def action_log_up(self) -> None:
        """Scroll up a line."""
        self._scroll_back()
        self._output.scroll_up(animate=False, immediate=True)

    def action_log_down(self) -> None:
        """Scroll down a line."""
        self._output.scroll_down(animate=False, immediate=True)

    def action_log_page_up(self) -> None:
        """Scroll up a page."""
        self._scroll_back()
        self._output.scroll_page_up(animate=False)

    def action_log_page_down(self) -> None:
        """Scroll down a page."""
        self._output.scroll_page_down(animate=False)

    def action_log_top(self) -> None:
        """Go to the first line."""
        self._scroll_back()
        self._output.scroll_home(animate=False, immediate=True)

    def action_log_end(self) -> None:
        """Go to the last line and follow."""
        if self.follow:
            self._output.scroll_end(animate=False, immediate=True, x_axis=False)
        self.follow = True

    def action_log_left(self) -> None:
        """Scroll left."""
        self._output.scroll_left(animate=False, immediate=True)

    def action_log_right(self) -> None:
        """Scroll right."""
        self._output.scroll_right(animate=False, immediate=True)

    def action_pager(self) -> None:
        """Open the whole log file in ``$PAGER`` (``less -R`` by default), the dashboard
        suspended until it exits."""
        path = self._path
        if path is None or not os.path.isfile(path):
            self.notify("no log file yet", severity="warning")
            return
        command = shlex.split(os.environ.get("PAGER") or DEFAULT_PAGER)
        if not command or shutil.which(command[0]) is None:
            missing = command[0] if command else "(empty $PAGER)"
            self.notify(f"pager not found: {missing} (set $PAGER)", severity="error")
            return
        try:
            with self.app.suspend():
                subprocess.run([*command, path], check=False)
        except SuspendNotSupported:
            self.notify(
                "cannot open a pager here: this terminal cannot be suspended", severity="warning"
            )
        except OSError as error:
            self.notify(f"cannot run {command[0]}: {error.strerror}", severity="error")

    # -- internals --------------------------------------------------------------------------

    def _scroll_back(self) -> None:
        """Scrolling up stops following (when there is anything above)."""
        if self._output.scroll_y > 0:
            self.follow = False

    def _step(self, *, forward: bool) -> None:
        if not self._search_text:
            self.notify("nothing to search for: press / first", timeout=2)
            return
        self._go_to_match(forward=forward, from_view=False)
        self._rerender_title()

    def _go_to_match(self, *, forward: bool, from_view: bool) -> None:
        wrapped = self._output.select_match(forward, from_view=from_view)
        if wrapped is None:
            return
        self.follow = False  # new output would carry the match away
        if wrapped:
            self.notify("search wrapped", timeout=2)

    def _switch(self) -> None:
        """Forget what is shown: clear the output, stop reading and tailing.

        The placeholder stays while nothing replaces it: moving the cursor over tasks that
        have no output yet then changes nothing but the title (no layout, no repaint).
        """
        self._generation += 1
        self._loading = False
        self._pending, self._pending_times = [], []
        self._offset, self._partial = 0, b""
        self._skipped = 0
        self._stop_poller()
        if not self._placeholder:
            self._output.clear()

    def _show_placeholder(self) -> None:
        if not self._placeholder:
            self._output.write_line(NO_OUTPUT)
            self._placeholder = True

    def _write(
        self,
        lines: list[str],
        *,
        at: float | None = None,
        times: list[float | None] | None = None,
    ) -> None:
        if not lines:
            return
        output = self._output
        if self._placeholder:
            output.clear()
            self._placeholder = False
        # Blank lines stay blank-looking but visible (Log used to drop "").
        output.write_lines([line or " " for line in lines], at=at, times=times)
        self._mark_truncation()
        if self._search_text:
            self._rerender_title()

    def _mark_truncation(self) -> None:
        """Say above the first line when earlier lines are not shown."""
        output = self._output
        if not output.dropped and self._skipped == 0:
            output.set_marker(None)
            return
        shown = len(output.lines)
        if self._skipped is None:
            text = f"showing the last {shown:,} lines — e opens the whole log"
        else:
            total = shown + output.dropped + self._skipped
            text = f"showing the last {shown:,} of {total:,} lines — e opens the whole log"
        output.set_marker(text)

    async def _load(self, generation: int, path: str) -> None:
        try:
            tail = await asyncio.to_thread(
                read_tail, path, MAX_LINES, keep_partial=self._follow_file
            )
        except FileNotFoundError:
            tail = Tail([], 0, b"", 0)
        except OSError as error:
            log.warning("cannot read %s: %s", path, error)
            tail = Tail([f"(cannot read {path}: {error.strerror})"], 0, b"", 0)
        if generation != self._generation:
            return
        pending, times = self._pending, self._pending_times
        self._pending, self._pending_times, self._loading = [], [], False
        self._offset, self._partial, self._skipped = tail.size, tail.partial, tail.skipped
        overlap = _overlap(tail.lines, pending)
        arrived, arrived_times = pending[overlap:], times[overlap:]
        if tail.lines or arrived:
            unknown: list[float | None] = [None] * len(tail.lines)  # read from the file
            self._write(tail.lines + arrived, times=unknown + arrived_times)
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
        self._write(buffer[:cut].decode("utf-8", "replace").splitlines(), at=time.time())

    def _rerender_title(self) -> None:
        if self._view is not None and self._shown_task is not None:
            self._render_title(self._view.tasks[self._shown_task])

    def _render_title(self, row: TaskRow) -> None:
        state = self.get_component_rich_style(f"task-log--{row.state.value}", partial=True)
        title = Text(row.name, style="bold", no_wrap=True, overflow="ellipsis")
        title.append(f" · attempt {self._attempt}" if self._attempt else " · not started")
        title.append(" · ")
        title.append(row.label, state)
        if row.exit_code is not None:
            title.append(f" · exit {row.exit_code}")
        if self._search_text:
            current, total = self._output.match_position
            if not total:
                title.append(f' · no match for "{self._search_text}"', "bold")
            elif current:
                title.append(f" · match {current}/{total}", "bold")
            else:
                title.append(f" · {total} matches", "bold")
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
        self._rerender_title()
