"""Definition errors, shown while any definition file is invalid and gone once it is fixed."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class ErrorPane(Static):
    """Every ``path:line: key.path: message`` of the invalid files; hidden when there are
    none. The last good definitions stay in use meanwhile."""

    DEFAULT_CSS = """
    ErrorPane {
        display: none;
        height: auto;
        max-height: 10;
        overflow-y: auto;
        border: round $error;
        border-title-color: $error;
        padding: 0 1;
        color: $text;
    }
    ErrorPane.-shown {
        display: block;
    }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__("", name=name, id=id, classes=classes, disabled=disabled)
        self.issues: list[str] = []

    def show_issues(self, issues: list[str]) -> None:
        """Show ``issues`` (an empty list hides the pane)."""
        self.issues = list(issues)
        self.set_class(bool(issues), "-shown")
        files = len({issue.split(":", 1)[0] for issue in issues})
        self.border_title = (
            f"{len(issues)} definition error(s) in {files} file(s): the last good definitions "
            "stay in use"
        )
        self.update(Text("\n".join(issues)))
