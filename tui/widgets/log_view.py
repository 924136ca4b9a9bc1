"""The log pane's text: Textual's ``Log`` taught to highlight search matches, wrap long lines,
show a time stamp per line and a marker row above its first line, while still drawing only
the rows that change when lines arrive."""

from __future__ import annotations

import logging
import re
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from itertools import accumulate
from typing import ClassVar, Self

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import var
from textual.scrollbar import ScrollTo, ScrollUp
from textual.strip import Strip
from textual.widgets import Log

log = logging.getLogger(__name__)

STAMP_FORMAT = "%H:%M:%S "
"""How a line's time stamp reads (local time), with the space before the text."""

STAMP_WIDTH = 9
"""Cells of the time stamp column (``HH:MM:SS`` and a space)."""

Match = tuple[int, int, int]
"""A search match: the line's absolute number (counting dropped lines), start and end."""


class LogView(Log, inherit_bindings=False):
    """Lines of text that can be searched, wrapped and time-stamped.

    A subclass of ``Log``, so ``query_one(Log)`` still finds it and ``auto_scroll`` still
    means "follow". It binds no keys of its own (not even ScrollView's): its owner binds
    them all, with ids, so one table documents them.

    Rows and lines: without wrapping row ``r`` shows line ``r``; with wrapping a line takes
    ``ceil(width / text width)`` rows, kept as running totals so a row finds its line by
    bisection. A marker (when set) takes the first row. Lines dropped from the top (past
    ``max_lines``) keep their absolute numbers, so cached strips and matches stay valid.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "log-view--match",
        "log-view--current",
        "log-view--stamp",
        "log-view--marker",
    }
    """
    | Class | Description |
    | :- | :- |
    | `log-view--match` | A search match. |
    | `log-view--current` | The current search match (the one `n` / `N` moved to). |
    | `log-view--stamp` | The time stamp column. |
    | `log-view--marker` | The row above the first line saying that earlier lines are not shown. |
    """

    DEFAULT_CSS = """
    LogView {
        &.-wrap { overflow-x: hidden; }
        & > .log-view--match { background: $warning 40%; }
        & > .log-view--current { background: $accent; color: $background; text-style: bold; }
        & > .log-view--stamp { color: $text-muted; }
        & > .log-view--marker { color: $text-muted; text-style: italic; }
    }
    """

    wrap: var[bool] = var(False, init=False)
    """Wrap long lines at the pane's width (off: scroll sideways)."""

    stamps: var[bool] = var(False, init=False)
    """Show the time each line was read (blank for lines of unknown time)."""

    class FollowStopped(Message):
        """The user scrolled back (mouse wheel or scroll bar): following stopped."""

        def __init__(self, log_view: LogView) -> None:
            super().__init__()
            self.log_view = log_view

        @property
        def control(self) -> LogView:
            """The log view."""
            return self.log_view

    def __init__(
        self,
        *,
        max_lines: int | None = None,
        auto_scroll: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(
            max_lines=max_lines,
            auto_scroll=auto_scroll,
            name=name,
            id=id,
            classes=classes,
            disabled=disabled,
        )
        self._times: list[float | None] = []
        """When each line was read (``None``: unknown), beside ``_lines``."""
        self._cells: list[int] = []
        """Each line's width in cells, beside ``_lines``."""
        self._widest = 0
        """The widest line's cells since the last clear."""
        self._dropped = 0
        """Lines dropped from the top since the last clear: line ``i`` is number
        ``_dropped + i``."""
        self._ends: list[int] = []
        """While wrapping: the running total of rows through each line (counting dropped
        lines' rows, which ``_row_base`` subtracts)."""
        self._row_base = 0
        self._wrapped = False
        """Whether the rows are laid out wrapped (``wrap`` asks; a relayout makes it so)."""
        self._text_width = 1
        """While wrapping: the cells of text per row."""
        self._strips: LRUCache[int, Strip] = LRUCache(1024)
        """Rendered text of lines (without stamp), by absolute line number."""
        self._pattern: re.Pattern[str] | None = None
        self._matches: list[Match] = []
        self._current = -1
        """Index in ``_matches`` of the current match (-1: none)."""
        self._marker: str | None = None

    # -- what it shows ----------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        """Lines dropped from the top (past ``max_lines``) since the last clear."""
        return self._dropped

    @property
    def marker(self) -> str | None:
        """The text of the row above the first line, if any."""
        return self._marker

    @property
    def match_position(self) -> tuple[int, int]:
        """The current match's number (from 1; 0 when none is current) and the matches."""
        return self._current + 1, len(self._matches)

    @property
    def current_match(self) -> tuple[int, int, int] | None:
        """The current match as (line index, start, end) in ``lines``, if any."""
        if self._current < 0:
            return None
        line, start, end = self._matches[self._current]
        return line - self._dropped, start, end

    @property
    def row_count(self) -> int:
        """Rows the lines take (and the marker row)."""
        head = self._marker is not None
        if not self._wrapped:
            return head + len(self._lines)
        return head + (self._ends[-1] - self._row_base if self._ends else 0)

    def set_marker(self, marker: str | None) -> None:
        """Show ``marker`` in a row above the first line (``None``: no such row)."""
        if marker == self._marker:
            return
        shifted = (marker is None) != (self._marker is None)
        self._marker = marker
        if shifted:
            self._update_virtual_size()
            self.refresh()
        else:
            self.refresh_lines(0)

    def write(self, data: str, scroll_end: bool | None = None) -> Self:
        """Write ``data`` as whole lines (this log keeps no partial last line)."""
        return self.write_lines(data.splitlines(), scroll_end)

    def write_lines(
        self,
        lines: Iterable[str],
        scroll_end: bool | None = None,
        *,
        at: float | None = None,
        times: Sequence[float | None] | None = None,
    ) -> Self:
        """Add lines at the end; only their rows are drawn (unless the view moves).

        Args:
            lines: The lines (a string with line breaks adds several).
            scroll_end: Scroll to the end, or ``None`` to follow ``auto_scroll``.
            at: When the lines were read (``None``: unknown).
            times: When each line was read, instead of ``at``.

        Returns:
            This log.
        """
        at_end = self.is_vertical_scroll_end
        follow = self.auto_scroll if scroll_end is None else scroll_end
        new: list[str] = []
        new_times: list[float | None] = []
        for index, line in enumerate(lines):
            parts = line.splitlines() or [""]
            new.extend(parts)
            new_times.extend([times[index] if times is not None else at] * len(parts))
        if not new:
            return self
        start = len(self._lines)
        start_row = self.row_count
        process = self._process_line
        cells = [cell_len(process(line)) for line in new]
        self._lines.extend(new)
        self._times.extend(new_times)
        self._cells.extend(cells)
        self._widest = max(self._widest, max(cells))
        if self._wrapped:
            total = self._ends[-1] if self._ends else self._row_base
            for width in cells:
                total += self._rows_of(width)
                self._ends.append(total)
        if self._pattern is not None:
            self._scan(start)
        removed_rows = self._prune()
        self._update_virtual_size()
        if follow and at_end and not self.is_vertical_scrollbar_grabbed:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif removed_rows:  # keep the same lines in view while the top is dropped
            self.scroll_to(
                y=max(0, self.scroll_y - removed_rows),
                animate=False,
                immediate=True,
            )
            self.refresh()
        else:
            self.refresh_lines(start_row, self.row_count - start_row)
        return self

    def clear(self) -> Self:
        """Remove every line and the marker (a search stays on, for the lines to come)."""
        super().clear()
        self._times.clear()
        self._cells.clear()
        self._ends.clear()
        self._dropped = self._row_base = self._widest = 0
        self._strips.clear()
        self._matches.clear()
        self._current = -1
        self._marker = None
        self.refresh()
        return self

    # -- search -----------------------------------------------------------------------------

    def search(self, text: str) -> int:
        """Highlight every case-insensitive occurrence of ``text`` (``""``: none).

        Returns:
            How many there are (none is current yet: see :meth:`select_match`).
        """
        self._pattern = re.compile(re.escape(text), re.IGNORECASE) if text else None
        self._matches = []
        self._current = -1
        if self._pattern is not None:
            self._scan(0)
        self._strips.clear()
        self.refresh()
        return len(self._matches)

    def clear_search(self) -> None:
        """Highlight nothing."""
        self.search("")

    def select_match(self, forward: bool, *, from_view: bool = False) -> bool | None:
        """Make the next (or previous) match current and scroll it into view.

        Args:
            forward: The next match (else the previous).
            from_view: Start from the top of the view (the first match at or after it, or the
                last before it), not from the current match.

        Returns:
            Whether it went round the end (or the start); ``None`` when there is no match.
        """
        count = len(self._matches)
        if not count:
            return None
        if from_view or self._current < 0:
            top = (self._dropped + self._line_at_top(),)
            index = bisect_left(self._matches, top) - (not forward)
        else:
            index = self._current + (1 if forward else -1)
        wrapped = not 0 <= index < count
        self._set_current(index % count)
        return wrapped

    # -- scrolling by the user --------------------------------------------------------------

    def scrolled_back(self) -> None:
        """The user scrolled up: stop following (and say so)."""
        if self.auto_scroll:
            self.auto_scroll = False
            self.post_message(self.FollowStopped(self))

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        if not (event.ctrl or event.shift) and self.scroll_y > 0:
            self.scrolled_back()

    def _on_scroll_to(self, message: ScrollTo) -> None:
        if message.y is not None and message.y < self.scroll_y:
            self.scrolled_back()

    def _on_scroll_up(self, event: ScrollUp) -> None:
        if self.scroll_y > 0:
            self.scrolled_back()

    # -- layout -----------------------------------------------------------------------------

    def watch_wrap(self, wrap: bool) -> None:
        """Lay the lines out again, keeping the top line (or the end, when following)."""
        self.set_class(wrap, "-wrap")
        self._relayout()

    def watch_stamps(self, _stamps: bool) -> None:
        """Make room for the stamps (wrapped lines take other rows)."""
        self._relayout()

    def on_resize(self, _event: events.Resize) -> None:
        """Wrapped lines take other rows at another width."""
        if self._wrapped and self._wrap_width() != self._text_width:
            self._relayout()

    def notify_style_update(self) -> None:
        """The theme changed: render every line again."""
        super().notify_style_update()
        self._strips.clear()

    def _relayout(self) -> None:
        top = self._line_at_top()  # in the layout about to go
        at_end = self.is_vertical_scroll_end
        self._wrapped = self.wrap
        if self._wrapped:
            self._text_width = self._wrap_width()
            self._ends = list(accumulate(self._rows_of(width) for width in self._cells))
            self._row_base = 0
        else:
            self._ends = []
        self._update_virtual_size()
        if self.auto_scroll and at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif self._lines:
            self.scroll_to(y=self._row_of(top), animate=False, immediate=True)
        self.refresh()

    def _wrap_width(self) -> int:
        stamps = STAMP_WIDTH if self.stamps else 0
        return max(1, self.scrollable_content_region.width - stamps)

    def _rows_of(self, cells: int) -> int:
        return max(1, -(-cells // self._text_width))

    def _update_virtual_size(self) -> None:
        if self._wrapped:
            self.virtual_size = Size(self.scrollable_content_region.width, self.row_count)
            return
        width = self._widest + (STAMP_WIDTH if self.stamps else 0)
        if self._marker is not None:
            width = max(width, cell_len(self._marker))
        self.virtual_size = Size(width, self.row_count)

    def _prune(self) -> int:
        """Drop lines past ``max_lines`` from the top; returns the rows they took."""
        excess = len(self._lines) - (self.max_lines or len(self._lines))
        if excess <= 0:
            return 0
        rows = excess
        if self._wrapped:
            rows = self._ends[excess - 1] - self._row_base
            self._row_base = self._ends[excess - 1]
            del self._ends[:excess]
        del self._lines[:excess], self._times[:excess], self._cells[:excess]
        self._dropped += excess
        if self._matches:
            gone = bisect_left(self._matches, (self._dropped,))
            del self._matches[:gone]
            self._current = self._current - gone if self._current >= gone else -1
        return rows

    def _row_of(self, line: int) -> int:
        """The first row of line ``line`` (an index in ``lines``)."""
        head = self._marker is not None
        if not self._wrapped:
            return head + line
        return head + (self._ends[line - 1] if line else self._row_base) - self._row_base

    def _locate(self, row: int) -> tuple[int, int] | None:
        """The line at ``row`` (marker row excluded) and which of its rows it is."""
        if row < 0:
            return None
        if not self._wrapped:
            return (row, 0) if row < len(self._lines) else None
        total = row + self._row_base
        line = bisect_right(self._ends, total)
        if line >= len(self._lines):
            return None
        start = self._ends[line - 1] if line else self._row_base
        return line, total - start

    def _line_at_top(self) -> int:
        located = self._locate(round(self.scroll_y) - (self._marker is not None))
        if located is None:
            return 0 if round(self.scroll_y) <= 0 else max(0, len(self._lines) - 1)
        return located[0]

    # -- search internals -------------------------------------------------------------------

    def _scan(self, start: int) -> None:
        """Find the matches in the lines from ``start`` on."""
        assert self._pattern is not None
        finditer, process, base = self._pattern.finditer, self._process_line, self._dropped
        matches = self._matches
        for index in range(start, len(self._lines)):
            for found in finditer(process(self._lines[index])):
                matches.append((base + index, found.start(), found.end()))

    def _set_current(self, index: int) -> None:
        previous = self.current_match
        self._current = index
        line, start, end = self._matches[index]
        for number in {line} | ({previous[0] + self._dropped} if previous else set()):
            self._strips.discard(number)
            local = number - self._dropped
            if 0 <= local < len(self._lines):
                rows = self._rows_of(self._cells[local]) if self._wrapped else 1
                self.refresh_lines(self._row_of(local), rows)
        self._scroll_to_match(line - self._dropped, start, end)

    def _scroll_to_match(self, line: int, start: int, end: int) -> None:
        """Bring the match into view (a third down the pane), unless it is already there."""
        text = self._process_line(self._lines[line])
        x0, x1 = cell_len(text[:start]), cell_len(text[:end])
        row = self._row_of(line)
        if self._wrapped:
            row += x0 // self._text_width
        region = self.scrollable_content_region
        if not self.scroll_y <= row < self.scroll_y + region.height:
            self.scroll_to(y=max(0, row - region.height // 3), animate=False, immediate=True)
        if not self._wrapped:
            visible = region.width - (STAMP_WIDTH if self.stamps else 0)
            if x0 < self.scroll_x or x1 > self.scroll_x + visible:
                self.scroll_to(x=max(0, x0 - visible // 3), animate=False, immediate=True)

    # -- rendering --------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """Render row ``y`` of the view."""
        scroll_x, scroll_y = self.scroll_offset
        return self._render_row(scroll_y + y, scroll_x, self.size.width)

    def _render_row(self, row: int, scroll_x: int, width: int) -> Strip:
        base = self.rich_style
        if self._marker is not None:
            if row == 0:
                style = base + self.get_component_rich_style("log-view--marker")
                marker = Strip([Segment(self._marker, style)])
                return marker.crop_extend(0, width, base)
            row -= 1
        located = self._locate(row)
        if located is None:
            return Strip.blank(width, base)
        line, part = located
        stamps = STAMP_WIDTH if self.stamps else 0
        text = self._text_strip(line, base)
        if self._wrapped:
            x = part * self._text_width
            strip = text.crop_extend(x, x + self._text_width, base)
        else:
            x = scroll_x
            strip = text.crop_extend(x, x + max(0, width - stamps), base)
        strip = strip.apply_offsets(x, line)
        if stamps:
            strip = Strip.join([self._stamp_strip(line if part == 0 else None, base), strip])
        return strip.crop_extend(0, width, base)

    def _stamp_strip(self, line: int | None, base: Style) -> Strip:
        at = self._times[line] if line is not None else None
        text = time.strftime(STAMP_FORMAT, time.localtime(at)) if at is not None else ""
        style = base + self.get_component_rich_style("log-view--stamp")
        return Strip([Segment(text.ljust(STAMP_WIDTH), style)], STAMP_WIDTH)

    def _text_strip(self, line: int, base: Style) -> Strip:
        """Line ``line``'s text with its matches highlighted (cached, unless selecting)."""
        number = self._dropped + line
        selection = self.text_selection
        if selection is None:
            cached = self._strips.get(number)
            if cached is not None:
                return cached
        plain = self._process_line(self._lines[line])
        text = Text(plain, no_wrap=True, end="")
        text.stylize(base)
        if self._pattern is not None:
            match_style = self.get_component_rich_style("log-view--match")
            current = self._matches[self._current] if self._current >= 0 else None
            for found in self._pattern.finditer(plain):
                start, end = found.span()
                if current == (number, start, end):
                    style = self.get_component_rich_style("log-view--current")
                    text.stylize(style, start, end)
                else:
                    text.stylize(match_style, start, end)
        if selection is not None:
            span = selection.get_span(line - self._clear_y)
            if span is not None:
                start, end = span
                style = self.screen.get_component_rich_style("screen--selection")
                text.stylize(style, start, len(text) if end == -1 else end)
        strip = Strip(text.render(self.app.console), self._cells[line])
        if selection is None:
            self._strips[number] = strip
        return strip
