"""Every key binding of the dashboard, with its id (for remapping) and what it does."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static


class HelpScreen(ModalScreen[None]):
    """Lists the bindings of the screen below it and of the app.

    | Key | Action |
    | :- | :- |
    | escape / q / ? | Close. |
    | j / k / g / G | Move in the list. |
    """

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
        Binding("j", "move(1)", "Down", show=False, id="help.down"),
        Binding("k", "move(-1)", "Up", show=False, id="help.up"),
        Binding("g", "move_to(0)", "First", show=False, id="help.first"),
        Binding("G", "move_to(-1)", "Last", show=False, id="help.last"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 84;
        max-width: 95%;
        height: 90%;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen #intro {
        margin: 1 0;
        color: $text-muted;
    }
    HelpScreen DataTable {
        height: auto;
    }
    """

    def __init__(self, bindings: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self._rows = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(
                "formicary runs workflows of tasks as DAGs. Select a workflow on the left, "
                "press s to start it, then watch, retry and cancel its tasks. Every task "
                "state has a glyph: ○ pending ◌ ready ▶ running ✔ completed ✘ failed "
                "⊘ cancelled ↻ retrying ⊗ blocked » skipped ⏸ paused; ⏸ stopped (SIGSTOP) and "
                "? unknown (its engine died) are what a task shows between states.",
                id="intro",
            )
            table: DataTable[str | Text] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_columns("key", "description", "id")
            table.add_rows(
                (keys, description, Text(binding_id, style="dim"))
                for keys, description, binding_id in self._rows
            )
            yield table

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()

    def action_move(self, step: int) -> None:
        """Move the cursor ``step`` rows."""
        table = self.query_one(DataTable)
        table.move_cursor(row=table.cursor_row + step)

    def action_move_to(self, row: int) -> None:
        """Put the cursor on row ``row`` (-1: the last)."""
        table = self.query_one(DataTable)
        table.move_cursor(row=row if row >= 0 else table.row_count - 1)

    def action_dismiss(self) -> None:  # type: ignore[override]
        """Close the help."""
        self.dismiss(None)


def describe_bindings(*sources: object) -> list[tuple[str, str, str]]:
    """``(keys, description, id)`` of every binding of ``sources`` (apps, screens, widgets)."""
    rows: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for source in sources:
        for binding in getattr(source, "BINDINGS", []):
            if not isinstance(binding, Binding):
                continue
            identity = binding.id or binding.action
            if identity in seen:
                continue
            seen.add(identity)
            keys = ", ".join(_key_name(key) for key in binding.key.split(","))
            rows.append((keys, binding.description or binding.action, binding.id or ""))
    return rows


def _key_name(key: str) -> str:
    return {
        "question_mark": "?",
        "slash": "/",
        "enter": "enter",
        "escape": "esc",
        "colon": ":",
        "less_than_sign": "<",
        "greater_than_sign": ">",
        "pageup": "PgUp",
        "pagedown": "PgDn",
    }.get(key.strip(), key.strip())
