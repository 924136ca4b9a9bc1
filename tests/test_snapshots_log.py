"""Snapshots of the log pane alone (pytest-textual-snapshot), searched: the search box open
with its text, the title counting matches, every match on screen highlighted and the current
one distinctly, at 80x24 and 160x50.

The pane shows a fixed log of a failed task (written to a temporary file, whose path is never
shown); time stamps are off, and the search starts from the top so no "search wrapped" notice
is on screen. Update after an intended change of the look, then look at the SVGs:

    pytest tests/test_snapshots_log.py --snapshot-update
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from formicary.model.records import TaskStatus
from formicary.model.specs import TaskSpec, WorkflowSpec
from formicary.tui.glyphs import state_variable_defaults
from formicary.tui.state import SessionView
from formicary.tui.widgets.task_log import TaskLog
from textual.app import App, ComposeResult
from textual.pilot import Pilot

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 50), id="160x50")]

TASK = "compile"

LOG = [
    "compile: building 14 modules with -O2",
    *(
        f"[{n:2d}/14] cc -O2 -Wall -c src/module_{n:02d}.c -o build/module_{n:02d}.o"
        for n in range(1, 6)
    ),
    "src/module_05.c:118:9: warning: unused variable 'scratch' [-Wunused-variable]",
    *(
        f"[{n:2d}/14] cc -O2 -Wall -c src/module_{n:02d}.c -o build/module_{n:02d}.o"
        for n in range(6, 9)
    ),
    "src/module_08.c:42:17: error: 'struct queue' has no member named 'tail'; did you mean 'head'? "
    "(the queue was reworked in 2.3: see docs/queue.md for the new fields and their meaning)",
    "   42 |     q->tail = node;",
    "      |        ^~~~",
    "src/module_08.c:57:5: error: implicit declaration of function 'queue_push_back'",
    *(
        f"[{n:2d}/14] cc -O2 -Wall -c src/module_{n:02d}.c -o build/module_{n:02d}.o"
        for n in range(9, 15)
    ),
    "make: *** [Makefile:31: build/module_08.o] Error 1",
    "make: *** Waiting for unfinished jobs....",
    *(f"note: module {n:02d} compiled cleanly" for n in range(1, 25)),
    "compile: 2 errors, 1 warning; giving up",
]
"""A failed build: three lines match "error" before the notes, one after them."""


class LogApp(App[None]):
    """The log pane filling the screen, with the dashboard's state colours."""

    def __init__(self, log_file: Path) -> None:
        super().__init__()
        self.log_file = log_file

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return state_variable_defaults()

    def compose(self) -> ComposeResult:
        yield TaskLog()

    def on_mount(self) -> None:
        spec = TaskSpec(name=TASK, run="make")
        view = SessionView("1", "proj", WorkflowSpec(name="w", tasks={TASK: spec}))
        view.set_task(
            TASK,
            state=TaskStatus.FAILED,
            attempt=2,
            exit_code=2,
            reason="exited with code 2",
            log_path=str(self.log_file),
        )
        self.query_one(TaskLog).show_task(view, TASK)


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "the pane never got there"
        await pilot.pause(0.01)


async def search_error(pilot: Pilot[Any]) -> None:
    """Wait for the log, focus it, go to the top, search "error" and step to the second
    match."""
    pane = pilot.app.query_one(TaskLog)
    await until(pilot, lambda: len(pane.lines) == len(LOG))
    pane.output.focus()
    await pilot.press("g", "slash", *"error", "enter", "n")
    await until(pilot, lambda: pane.output.match_position == (2, 4))
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_log_pane_searched(
    snap_compare: Callable[..., bool], size: tuple[int, int], tmp_path: Path
) -> None:
    """The second of four matches of "error" current, the others highlighted."""
    log_file = tmp_path / f"{TASK}.2.log"
    log_file.write_text("".join(f"{line}\n" for line in LOG), encoding="utf-8")
    assert snap_compare(LogApp(log_file), terminal_size=size, run_before=search_error)
