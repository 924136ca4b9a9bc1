"""The welcome pane: what an empty workspace shows instead of empty panes."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Static


class Welcome(Static, can_focus=True):
    """Says what a workspace is and offers to create a project from a template.

    | Key | Action |
    | :- | :- |
    | n | New project from a template. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new_project", "New project", id="welcome.new"),
    ]

    DEFAULT_CSS = """
    Welcome {
        width: 1fr;
        height: 1fr;
        padding: 1 2;
        border: round $accent;
        background: $surface;
    }
    """

    class NewProject(Message):
        """The user asked for a new project."""

    def __init__(
        self,
        workspace: str,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(
            self._text(workspace), name=name, id=id, classes=classes, disabled=disabled
        )

    @staticmethod
    def _text(workspace: str) -> Text:
        text = Text()
        text.append("Welcome to formicary\n\n", style="bold")
        text.append(f"{workspace} has no projects yet.\n\n")
        text.append(
            "A workspace is a folder. Every formicary.toml in it or below it is one project: "
            "its workflows are DAGs of tasks (shell commands and Python callables) with "
            "dependencies, retries, timeouts and resource pools. formicary runs them, records "
            "every run in .formicary/state.db, and shows them here live.\n\n"
        )
        text.append("Press ")
        text.append("n", style="bold")
        text.append(
            " to create a project from a template (the same ones as `formicary new`): it "
            "appears on the left at once, ready to start with s.\n"
        )
        text.append("\n? lists every key, ctrl+p or : every command, q quits.", style="dim")
        return text

    def action_new_project(self) -> None:
        """Ask for a new project."""
        self.post_message(self.NewProject())
