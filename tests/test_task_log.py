"""Pilot tests of the log pane's reading tools: search, wrap, time stamps, the truncation
marker, the pager and following (the loading and tailing are in ``test_pane_widgets.py``)."""

from __future__ import annotations

import contextlib
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import formicary.tui.widgets.task_log
import pytest
from formicary.model.records import TaskStatus
from formicary.model.specs import TaskSpec, WorkflowSpec
from formicary.run.events import EventBus, EventKind
from formicary.tui.glyphs import state_variable_defaults
from formicary.tui.state import SessionView
from formicary.tui.widgets.log_view import STAMP_WIDTH, LogView
from formicary.tui.widgets.task_log import MAX_LINES, TaskLog, read_tail
from rich.style import Style
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.pilot import Pilot
from textual.strip import Strip
from textual.widgets import Input, Static

SESSION = "s1"
STAMP = re.compile(r"^\d\d:\d\d:\d\d $")


class LogApp(App[None]):
    """The log pane alone, under the screen's ``/`` (the queue filter) and ``escape`` (which
    clears it) as the main screen has them."""

    BINDINGS = [Binding("slash", "filter", "Filter"), Binding("escape", "unfilter", "Unfilter")]

    def __init__(self, pane: TaskLog) -> None:
        super().__init__()
        self.pane = pane
        self.filtered = self.unfiltered = 0

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return state_variable_defaults()

    def compose(self) -> ComposeResult:
        yield self.pane

    def action_filter(self) -> None:
        self.filtered += 1

    def action_unfilter(self) -> None:
        self.unfiltered += 1


def new_view(log_path: Path | None = None, state: TaskStatus = TaskStatus.RUNNING) -> SessionView:
    """A session of one task, ``build``, in ``state`` with its log at ``log_path``."""
    spec = TaskSpec(name="build", run="true")
    view = SessionView(SESSION, "proj", WorkflowSpec(name="w", tasks={"build": spec}))
    if log_path is not None:
        view.set_task("build", state=state, attempt=1, log_path=str(log_path))
    return view


def title(pane: TaskLog) -> str:
    content = pane.query_one("#title", Static).content
    return content.plain if hasattr(content, "plain") else str(content)


def notices(app: App[Any]) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


def row_text(output: LogView, y: int) -> str:
    """What row ``y`` of the view shows."""
    return output.render_line(y).text


def styles_of(strip: Strip, text: str) -> list[Style]:
    """The styles of the segments of ``strip`` that read ``text``."""
    return [segment.style for segment in strip if segment.text == text and segment.style]


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until ``condition()`` holds; fail after a generous ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.02)


async def shown(pilot: Pilot[None], pane: TaskLog, view: SessionView, **kwargs: Any) -> None:
    """Show ``build`` and wait until its file is read."""
    pane.show_task(view, "build", **kwargs)
    await pilot.app.workers.wait_for_complete()
    await until(pilot, lambda: not pane._loading)
    await pilot.pause()


NEEDLES = {40: "a needle here", 90: "NEEDLE in caps", 150: "two: needle, Needle"}
"""The lines of :func:`haystack` that match "needle" (four matches)."""


def haystack(path: Path) -> Path:
    path.write_text(
        "".join(f"{NEEDLES.get(n, f'line {n}')}\n" for n in range(200)), encoding="utf-8"
    )
    return path


# -- search ----------------------------------------------------------------------------------


async def test_slash_opens_the_search_and_enter_goes_to_the_first_match_below_the_top(
    tmp_path: Path,
) -> None:
    pane = TaskLog()
    view = new_view(haystack(tmp_path / "build.1.log"))
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        await shown(pilot, pane, view)
        output = pane.output
        output.focus()
        output.scroll_to(y=60, animate=False, immediate=True)  # top of view: line 60
        await pilot.press("slash")
        box = pane.query_one("#search", Input)
        assert box.has_focus and box.display and pilot.app.filtered == 0
        await pilot.press(*"needle", "enter")
        assert output.has_focus
        assert output.current_match == (90, 0, 6)  # the first at or after line 60
        assert title(pane).startswith("build · attempt 1 · ▶ running · match 2/4")
        assert output.scroll_y <= 90 < output.scroll_y + output.scrollable_content_region.height
        assert not pane.follow  # new output would carry the match away
        await pilot.press("n")
        assert output.current_match == (150, 5, 11) and "match 3/4" in title(pane)
        await pilot.press("n")
        assert output.current_match == (150, 13, 19) and "match 4/4" in title(pane)
        assert "search wrapped" not in notices(pilot.app)
        await pilot.press("n")
        assert output.current_match == (40, 2, 8) and "match 1/4" in title(pane)
        assert notices(pilot.app).count("search wrapped") == 1
        assert output.scroll_y <= 40 < output.scroll_y + output.scrollable_content_region.height
        await pilot.press("N")
        assert output.current_match == (150, 13, 19) and "match 4/4" in title(pane)
        assert notices(pilot.app).count("search wrapped") == 2
        await pilot.press("N")
        assert output.current_match == (150, 5, 11)

        await pilot.press("slash", *"haystack", "enter")  # replaces the text
        assert output.current_match is None
        assert 'no match for "haystack"' in title(pane)
        await pilot.press("escape")
        assert not box.display and output.has_focus
        assert output.match_position == (0, 0) and "match" not in title(pane)
        assert pilot.app.unfiltered == 0
        await pilot.press("escape")  # no search left: the key is the screen's again
        assert pilot.app.filtered == 0 and pilot.app.unfiltered == 1

        await pilot.press("slash", *"needle")
        assert box.has_focus and box.value == "needle"
        await pilot.press("escape")  # from the box itself
        assert not box.display and output.has_focus and output.match_position == (0, 0)
        assert pilot.app.unfiltered == 1


async def test_matches_on_screen_are_highlighted_and_the_current_one_differently(
    tmp_path: Path,
) -> None:
    pane = TaskLog()
    view = new_view(haystack(tmp_path / "build.1.log"))
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        await shown(pilot, pane, view)
        pane.output.focus()
        await pilot.press("g", "slash", *"NeEdLe", "enter", "n", "n", "n")
        output = pane.output
        assert output.current_match == (150, 13, 19)
        row = 150 - int(output.scroll_y)
        strip = output.render_line(row)
        assert strip.text.startswith("two: needle, Needle")
        (other,) = styles_of(strip, "needle")
        (current,) = styles_of(strip, "Needle")
        match = output.get_component_rich_style("log-view--match")
        chosen = output.get_component_rich_style("log-view--current")
        assert other.bgcolor == match.bgcolor and current.bgcolor == chosen.bgcolor
        assert match.bgcolor != chosen.bgcolor
        plain = output.render_line(row - 1)  # line 149: nothing to highlight
        assert all(
            segment.style is None or segment.style.bgcolor != match.bgcolor for segment in plain
        )
        await pilot.press("escape")
        assert styles_of(output.render_line(row), "needle") == []


async def test_live_lines_are_searched_as_they_arrive(tmp_path: Path) -> None:
    pane = TaskLog()
    view = new_view(haystack(tmp_path / "build.1.log"))
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        await shown(pilot, pane, view)
        pane.output.focus()
        await pilot.press("slash", *"needle", "enter")
        assert "match 1/4" in title(pane)  # from the top of the view at the end: wrapped
        pane.append("build", 1, ["another needle", "hay"], time.time())
        assert "match 1/5" in title(pane)
        await pilot.press("N")
        assert pane.output.current_match == (200, 8, 14)


# -- wrap and time stamps ------------------------------------------------------------------------


async def test_w_wraps_long_lines_at_the_pane_width(tmp_path: Path) -> None:
    log_file = tmp_path / "build.1.log"
    long = "".join(f"{n:03d}:" + "x" * 6 for n in range(40))  # 400 characters
    log_file.write_text(f"short\n{long}\nend\n", encoding="utf-8")
    pane = TaskLog()
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        await shown(pilot, pane, new_view(log_file))
        output = pane.output
        output.focus()
        assert output.virtual_size.height == 3 and row_text(output, 1) == long[: output.size.width]
        await pilot.press("w")
        await pilot.pause()
        width = output.scrollable_content_region.width
        rows = -(-len(long) // width)
        assert output.virtual_size.height == 2 + rows
        assert [row_text(output, 1 + n).rstrip() for n in range(rows)] == [
            long[n * width : (n + 1) * width] for n in range(rows)
        ]
        assert row_text(output, 1 + rows).rstrip() == "end"
        pane.append("build", 1, ["y" * (width + 1)])  # one more wrapped line, live
        assert output.virtual_size.height == 2 + rows + 2
        await pilot.press("w")
        await pilot.pause()
        assert output.virtual_size.height == 4 and row_text(output, 2).rstrip() == "end"


async def test_T_shows_when_each_line_was_read_and_blanks_for_lines_from_the_file(
    tmp_path: Path,
) -> None:
    log_file = tmp_path / "build.1.log"
    log_file.write_text("from the file\n", encoding="utf-8")
    pane = TaskLog()
    at = time.mktime((2024, 5, 6, 7, 8, 9, 0, 0, -1))
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        await shown(pilot, pane, new_view(log_file))
        pane.append("build", 1, ["live"], at)
        output = pane.output
        output.focus()
        assert row_text(output, 1).startswith("live")
        await pilot.press("T")
        await pilot.pause()
        assert row_text(output, 0).startswith(" " * STAMP_WIDTH + "from the file")
        assert row_text(output, 1).startswith("07:08:09 live")
        await pilot.press("T")
        await pilot.pause()
        assert row_text(output, 1).startswith("live")


async def test_tailed_lines_are_stamped_when_read(tmp_path: Path) -> None:
    log_file = tmp_path / "build.1.log"
    log_file.write_text("old\n", encoding="utf-8")
    pane = TaskLog()
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        await shown(pilot, pane, new_view(log_file), follow_file=True)
        pane.output.stamps = True
        before = time.time()
        with log_file.open("a", encoding="utf-8") as file:
            file.write("new\n")
        await until(pilot, lambda: pane.lines == ["old", "new"])
        assert row_text(pane.output, 0)[:STAMP_WIDTH] == " " * STAMP_WIDTH
        stamp = row_text(pane.output, 1)[:STAMP_WIDTH]
        assert STAMP.match(stamp)
        read = time.mktime(
            time.strptime(time.strftime("%Y-%m-%d ") + stamp.strip(), "%Y-%m-%d %H:%M:%S")
        )
        assert abs(read - before) < 60


def test_output_events_carry_the_time_the_engine_read_them() -> None:
    view = new_view()
    event = EventBus().publish(SESSION, EventKind.OUTPUT, "build", 1, {"lines": ["hi"]})
    changes = view.apply([event])
    assert changes.output == [("build", 1, ["hi"], event.at)]


# -- truncation ------------------------------------------------------------------------------


async def test_a_marker_says_how_many_lines_are_not_shown(tmp_path: Path) -> None:
    log_file = tmp_path / "build.1.log"
    log_file.write_text("".join(f"line {n}\n" for n in range(6_000)), encoding="utf-8")
    pane = TaskLog()
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        await shown(pilot, pane, new_view(log_file))
        output = pane.output
        assert len(pane.lines) == MAX_LINES and pane.lines[0] == "line 1000"
        marker = "showing the last 5,000 of 6,000 lines — e opens the whole log"
        assert output.marker == marker
        output.focus()
        await pilot.press("g")
        assert row_text(output, 0).rstrip() == marker
        assert row_text(output, 1).rstrip() == "line 1000"
        pane.append("build", 1, ["more", "and more"])
        assert output.marker == "showing the last 5,000 of 6,002 lines — e opens the whole log"

        short = tmp_path / "short.log"
        short.write_text("one\ntwo\n", encoding="utf-8")
        await shown(pilot, pane, new_view(short))
        assert output.marker is None and row_text(output, 0).rstrip() == "one"


async def test_the_marker_counts_lines_dropped_while_following(tmp_path: Path) -> None:
    pane = TaskLog()
    log_file = tmp_path / "build.1.log"
    log_file.write_text("", encoding="utf-8")
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        await shown(pilot, pane, new_view(log_file))
        assert pane.output.marker is None
        pane.append("build", 1, [f"n{n}" for n in range(MAX_LINES + 10)], time.time())
        assert len(pane.lines) == MAX_LINES
        assert pane.output.marker == (
            f"showing the last 5,000 of {MAX_LINES + 10:,} lines — e opens the whole log"
        )


async def test_the_marker_cannot_count_a_file_read_only_from_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(formicary.tui.widgets.task_log, "MAX_LOAD_BYTES", 64 * 1024)
    log_file = tmp_path / "build.1.log"
    log_file.write_text("".join(f"{n:04d} " + "x" * 95 + "\n" for n in range(3_000)))
    pane = TaskLog()
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        await shown(pilot, pane, new_view(log_file))
        shown_lines = len(pane.lines)
        assert shown_lines < 3_000 and pane.lines[-1].startswith("2999 ")
        assert pane.output.marker == (
            f"showing the last {shown_lines:,} lines — e opens the whole log"
        )


@pytest.mark.parametrize("width", [100, 128])  # 128: a read block starts at a line's start
@pytest.mark.parametrize("lines", [0, 3, 10, 11, 25, 200, 3_000])
def test_read_tail_counts_the_lines_it_skips(tmp_path: Path, lines: int, width: int) -> None:
    log_file = tmp_path / "log"
    text = [f"line {n} ".ljust(width - 1, "x") for n in range(lines)]
    log_file.write_text("".join(f"{line}\n" for line in text), encoding="utf-8")
    tail = read_tail(str(log_file), 10, keep_partial=False)
    assert tail.lines == text[-10:]
    assert tail.skipped == max(0, lines - 10)


# -- pager -----------------------------------------------------------------------------------


@contextlib.contextmanager
def no_suspend() -> Iterator[None]:
    """What ``App.suspend`` does in a terminal, for the headless driver (which cannot)."""
    yield


async def test_e_opens_the_whole_log_in_the_pager(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_file = tmp_path / "build.1.log"
    log_file.write_text("".join(f"line {n}\n" for n in range(6_000)), encoding="utf-8")
    got = tmp_path / "pager-got"
    copy = f"import shutil, sys; shutil.copy(sys.argv[1], {str(got)!r})"
    monkeypatch.setenv("PAGER", f"{shlex.quote(sys.executable)} -c {shlex.quote(copy)}")
    pane = TaskLog()
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        await shown(pilot, pane, new_view(log_file))
        pane.output.focus()
        monkeypatch.setattr(pilot.app, "suspend", no_suspend)
        await pilot.press("e")
        assert got.read_text(encoding="utf-8") == log_file.read_text(encoding="utf-8")
        assert notices(pilot.app) == []


async def test_e_says_why_no_pager_opens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log_file = tmp_path / "build.1.log"
    log_file.write_text("one\n", encoding="utf-8")
    monkeypatch.setenv("PAGER", "cat")
    pane = TaskLog()
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        await shown(pilot, pane, new_view(log_file))
        pane.output.focus()
        await pilot.press("e")  # the headless driver cannot give the terminal away
        assert notices(pilot.app) == ["cannot open a pager here: this terminal cannot be suspended"]
        monkeypatch.setenv("PAGER", "no-such-pager-here -R")
        await pilot.press("e")
        assert notices(pilot.app)[-1] == "pager not found: no-such-pager-here (set $PAGER)"
        monkeypatch.delenv("PAGER")
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        await pilot.press("e")
        assert notices(pilot.app)[-1] == "pager not found: less (set $PAGER)"
        await shown(pilot, pane, new_view(tmp_path / "missing.log"))
        await pilot.press("e")
        assert notices(pilot.app)[-1] == "no log file yet"
        pane.show_task(new_view(), "build")  # never ran: no log path
        await pilot.press("e")
        assert notices(pilot.app)[-2:] == ["no log file yet"] * 2


# -- following and moving ------------------------------------------------------------------------


async def test_scrolling_up_stops_following_and_f_or_end_follow_again(tmp_path: Path) -> None:
    pane = TaskLog()
    view = new_view(haystack(tmp_path / "build.1.log"))
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        await shown(pilot, pane, view)
        output = pane.output
        output.focus()
        bottom = output.max_scroll_y
        assert pane.follow and output.scroll_y == bottom and "following" in title(pane)

        output.post_message(events.MouseScrollUp(output, 1, 1, 0, -1, 0, False, False, False))
        await until(pilot, lambda: not pane.follow)
        assert "following" not in title(pane) and not output.auto_scroll
        pane.append("build", 1, ["new"])
        await pilot.pause()
        assert output.scroll_y < output.max_scroll_y  # it stayed where the user went
        await pilot.press("end")
        assert pane.follow and output.scroll_y == output.max_scroll_y

        await pilot.press("k")
        assert not pane.follow and output.scroll_y == output.max_scroll_y - 1
        await pilot.press("f")
        assert pane.follow and output.scroll_y == output.max_scroll_y
        pane.append("build", 1, ["newer"])
        await pilot.pause()
        assert output.scroll_y == output.max_scroll_y and pane.lines[-1] == "newer"

        await pilot.press("pageup")
        assert not pane.follow
        await pilot.press("G")
        assert pane.follow and output.scroll_y == output.max_scroll_y
        await pilot.press("g")
        assert not pane.follow and output.scroll_y == 0


async def test_j_k_and_pages_move_the_view(tmp_path: Path) -> None:
    pane = TaskLog()
    view = new_view(haystack(tmp_path / "build.1.log"))
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        await shown(pilot, pane, view)
        output = pane.output
        output.focus()
        await pilot.press("g", "j", "j")
        assert output.scroll_y == 2
        await pilot.press("k")
        assert output.scroll_y == 1
        page = output.scrollable_content_region.height
        await pilot.press("pagedown")
        assert output.scroll_y == 1 + page
        await pilot.press("pageup")
        assert output.scroll_y == 1
        assert row_text(output, 0).rstrip() == "line 1"
