"""Everything about one task: every attempt, its definition, and why it is waiting.

The attempts table has a ``worker`` column when any attempt ran on a cluster worker (the Dask
executor records the worker's address as the attempt starts)."""

from __future__ import annotations

import time

import tomli_w
from formicary.model.durations import took
from formicary.model.records import TaskStatus
from formicary.model.specs import task_to_dict
from formicary.model.states import BROKEN_TASK_STATES, FINE_TASK_STATES
from formicary.tui.bridge import WatchedSession
from formicary.tui.glyphs import GLYPHS
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static


class TaskDetailScreen(Screen[None]):
    """The attempts, definition and waiting reason of one task of one session.

    | Key | Action |
    | :- | :- |
    | escape / q | Back to the dashboard. |
    """

    BINDINGS = [Binding("escape,q", "back", "Back", id="detail.back")]

    DEFAULT_CSS = """
    TaskDetailScreen VerticalScroll {
        padding: 0 1;
    }
    TaskDetailScreen .heading {
        text-style: bold;
        margin-top: 1;
        color: $accent;
    }
    TaskDetailScreen DataTable {
        height: auto;
        max-height: 14;
    }
    TaskDetailScreen #definition {
        background: $boost;
        padding: 0 1;
    }
    """

    def __init__(self, watched: WatchedSession, task: str) -> None:
        super().__init__()
        self.watched = watched
        self.task_name = task

    def compose(self) -> ComposeResult:
        view = self.watched.view
        row = view.tasks[self.task_name]
        spec = view.workflow.tasks[self.task_name]
        with VerticalScroll():
            title = Text()
            title.append(f"{GLYPHS[row.state]} {row.name}", style="bold")
            title.append(f" · {row.state.value} · session {view.session_id} · ")
            title.append(f"{view.project}:{view.workflow.name}")
            yield Static(title, id="title")
            if spec.description:
                yield Static(spec.description)
            yield Static("Why it is not running", classes="heading")
            yield Static(self._waiting(), id="waiting")
            yield Static("Attempts", classes="heading")
            table: DataTable[str] = DataTable(cursor_type="row", id="attempts")
            table.add_columns("try", "outcome", "exit", "started", "took", "reason", "log")
            yield table
            yield Static("Definition", classes="heading")
            definition = tomli_w.dumps({self.task_name: task_to_dict(spec)})
            yield Static(definition, id="definition", markup=False)
        yield Footer()

    async def on_mount(self) -> None:
        table = self.query_one("#attempts", DataTable)
        rows = await self._attempts()
        if any(row[-1] for row in rows):
            table.add_column("worker")
        else:
            rows = [row[:-1] for row in rows]
        for row in rows:
            table.add_row(*row)

    def _waiting(self) -> str:
        row = self.watched.view.tasks[self.task_name]
        if row.state is TaskStatus.RUNNING:
            return "It is running."
        if row.state in FINE_TASK_STATES:
            return f"State: {row.state.value}."
        if row.state in BROKEN_TASK_STATES:
            reason = f": {row.reason}" if row.reason else ""
            return f"State: {row.state.value}{reason}. Press r on the dashboard to retry it."
        return self.watched.waiting_on(self.task_name) or "It is about to start."

    async def _attempts(self) -> list[tuple[str, ...]]:
        """One row per attempt, oldest first, each ending with its worker ("" for none)."""
        handle = self.watched.handle
        rows: list[tuple[str, ...]] = []
        if handle is not None:
            results = handle.history(self.task_name)
            for result in results:
                rows.append(
                    (
                        str(result.attempt),
                        result.outcome.value if result.outcome else "-",
                        _text(result.exit_code),
                        _clock(result.started_at),
                        took(result.started_at, result.ended_at),
                        result.reason,
                        result.log_path or "",
                        result.worker or "",
                    )
                )
            current = self.watched.view.tasks[self.task_name]
            if current.state is TaskStatus.RUNNING:
                rows.append(
                    (
                        str(current.attempt),
                        TaskStatus.RUNNING.value,
                        "-",
                        _clock(current.started_at),
                        took(current.started_at, None),
                        "",
                        current.log_path or "",
                        current.worker or "",
                    )
                )
            return rows
        store = self.watched.store
        assert store is not None
        import asyncio

        session = int(self.watched.session_id)
        attempts = await asyncio.to_thread(store.attempts, session, self.task_name)
        for attempt in attempts:
            rows.append(
                (
                    str(attempt.number),
                    attempt.outcome or TaskStatus.RUNNING.value,
                    _text(attempt.exit_code),
                    _clock(attempt.started_at),
                    took(attempt.started_at, attempt.ended_at),
                    attempt.reason,
                    attempt.log_path or "",
                    attempt.worker or "",
                )
            )
        return rows

    def action_back(self) -> None:
        """Back to the dashboard."""
        self.dismiss(None)


def _text(value: object) -> str:
    return "-" if value is None else str(value)


def _clock(at: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at)) if at else "-"
