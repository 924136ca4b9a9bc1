"""Saying so when something happens: a toast and the terminal bell when a task fails and when
a session ends, each switchable and remembered in the settings file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from formicary.model.states import SessionStatus
from formicary.tui.state import Changes, SessionView
from formicary.tui.themes import load_settings, remember_settings
from textual.app import App
from textual.notifications import SeverityLevel

SHOWN_FAILURES = 3
"""Failures named in one toast; more in the same moment are counted."""


@dataclass
class Notifier:
    """Tells the user about failures and ends of the sessions on screen or run here."""

    toasts: bool = True
    """Show a toast."""
    bell: bool = True
    """Ring the terminal bell."""

    @classmethod
    def from_settings(cls) -> Notifier:
        """The choices saved in ``settings.toml`` (``[notifications]``: ``toasts``, ``bell``)."""
        settings, _problem = load_settings()
        table = settings.get("notifications")
        chosen = table if isinstance(table, dict) else {}
        return cls(
            toasts=chosen.get("toasts", True) is not False,
            bell=chosen.get("bell", True) is not False,
        )

    def toggle(self, which: str) -> tuple[bool, str | None]:
        """Switch ``toasts`` or ``bell``; the new value, and a warning if it was not saved."""
        value = not getattr(self, which)
        setattr(self, which, value)
        problem = remember_settings({"notifications": {"toasts": self.toasts, "bell": self.bell}})
        return value, problem

    def announce(self, app: App[Any], view: SessionView, changes: Changes) -> None:
        """Tell about what ``changes`` brought: tasks that failed, the session's end."""
        if not (changes.failed or changes.ended) or not (self.toasts or self.bell):
            return
        where = f"session {view.session_id} · {view.project}:{view.workflow.name}"
        if self.toasts:
            if changes.failed:
                names = changes.failed[:SHOWN_FAILURES]
                more = len(changes.failed) - len(names)
                text = ", ".join(names) + (f" and {more} more" if more else "")
                reason = view.tasks[names[0]].reason if len(changes.failed) == 1 else ""
                app.notify(
                    f"{text} failed" + (f": {reason}" if reason else ""),
                    title=where,
                    severity="error",
                    timeout=8,
                )
            if changes.ended:
                severity: SeverityLevel = "error"
                if changes.ended == SessionStatus.COMPLETED:
                    severity = "information"
                elif changes.ended == SessionStatus.CANCELLED:
                    severity = "warning"
                app.notify(f"session {changes.ended}", title=where, severity=severity, timeout=6)
        if self.bell:
            app.bell()
