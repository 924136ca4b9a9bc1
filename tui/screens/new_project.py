"""The new-project dialog: a name and a template, written like ``formicary new``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from formicary.model.records import ProjectType
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static


@dataclass(frozen=True, slots=True)
class NewProject:
    """What the user chose."""

    name: str
    kind: ProjectType


class NewProjectScreen(ModalScreen[NewProject | None]):
    """Asks for a project's name and template and creates it; dismisses with what was
    created, or None.

    | Key | Action |
    | :- | :- |
    | enter | Create. |
    | escape | Back. |
    """

    BINDINGS = [Binding("escape", "back_out", "Back", id="new.escape")]

    DEFAULT_CSS = """
    NewProjectScreen {
        align: center middle;
    }
    NewProjectScreen > Vertical {
        width: 64;
        max-width: 95%;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 1 2;
    }
    NewProjectScreen #error {
        color: $error;
        height: auto;
    }
    NewProjectScreen Horizontal {
        height: auto;
        margin-top: 1;
    }
    """

    def __init__(self, create: Callable[[str, ProjectType], str | None]) -> None:
        """``create(name, kind)`` writes the project; it returns None, or why it could not
        (the dialog then stays open and shows it)."""
        super().__init__()
        self._create = create

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("New project", classes="title")
            yield Label("Name (lowercase letters, digits, - and _)")
            yield Input(placeholder="my-pipeline", id="name")
            yield Label("Template")
            yield Select(
                [(kind.value.replace("_", " "), kind) for kind in ProjectType],
                value=ProjectType.DATA_PIPELINE,
                allow_blank=False,
                id="template",
            )
            yield Static("", id="error")
            with Horizontal():
                yield Button("Create (enter)", variant="primary", id="create")
                yield Button("Back (esc)", id="back")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def show_error(self, message: str) -> None:
        """Say why the project could not be created (the dialog stays open)."""
        self.query_one("#error", Static).update(message)

    @on(Input.Submitted)
    @on(Button.Pressed, "#create")
    def create(self) -> None:
        """Dismiss with the name and template."""
        name = self.query_one("#name", Input).value.strip()
        kind = self.query_one("#template", Select).value
        if not name:
            self.show_error("Give the project a name.")
            return
        assert isinstance(kind, ProjectType)
        problem = self._create(name, kind)
        if problem is not None:
            self.show_error(problem)
            return
        self.dismiss(NewProject(name, kind))

    @on(Button.Pressed, "#back")
    def action_back_out(self) -> None:
        """Close without creating anything."""
        self.dismiss(None)
