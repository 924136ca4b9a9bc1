"""Every key binding of the dashboard, with its id (for remapping) and what it does."""

from __future__ import annotations

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
    """

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

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
        self._bindings = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(
                "formicary runs workflows of tasks as DAGs. Select a workflow on the left, "
                "press s to start it, then watch, retry and cancel its tasks. Every task "
                "state has a glyph: ○ pending ◌ ready ▶ running ✔ completed ✘ failed "
                "⊘ cancelled ↻ retrying ⊗ blocked » skipped ⏸ paused.",
                id="intro",
            )
            table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_columns("key", "action", "id")
            table.add_rows(self._bindings)
            yield table

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
    }.get(key.strip(), key.strip())
