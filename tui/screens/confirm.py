"""A yes/no modal that says exactly what will happen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """Asks before something that cannot be undone; dismisses with True to go ahead.

    | Key | Action |
    | :- | :- |
    | y / enter | Confirm. |
    | n / escape | Keep everything as it is. |
    """

    BINDINGS = [
        Binding("y", "confirm", "Yes", id="confirm.yes"),
        Binding("n,escape", "refuse", "No", id="confirm.no"),
    ]

    DEFAULT_CSS = """
    ConfirmScreen {
        align: center middle;
    }
    ConfirmScreen > Vertical {
        width: 64;
        max-width: 90%;
        height: auto;
        max-height: 80%;
        border: thick $error;
        background: $surface;
        padding: 1 2;
    }
    ConfirmScreen #title {
        width: 100%;
        text-style: bold;
        margin-bottom: 1;
    }
    ConfirmScreen #items {
        height: auto;
        max-height: 16;
        overflow-y: auto;
        color: $text-muted;
    }
    ConfirmScreen Horizontal {
        height: auto;
        align-horizontal: right;
        margin-top: 1;
    }
    ConfirmScreen Button {
        margin-left: 2;
    }
    """

    def __init__(self, title: str, items: list[str], confirm_label: str = "Cancel them") -> None:
        super().__init__()
        self._title = title
        self._items = items
        self._confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, id="title")
            yield Static("\n".join(self._items), id="items")
            with Horizontal():
                yield Button("Keep (n)", id="no")
                yield Button(f"{self._confirm_label} (y)", variant="error", id="yes")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_confirm(self) -> None:
        """Go ahead."""
        self.dismiss(True)

    def action_refuse(self) -> None:
        """Change nothing."""
        self.dismiss(False)
