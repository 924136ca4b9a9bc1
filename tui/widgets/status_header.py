"""The top line: workspace, the session on screen, counts by state, elapsed time."""

from __future__ import annotations

from formicary.model.records import TaskStatus
from formicary.model.states import LIVE_SESSION_STATES
from formicary.tui.glyphs import GLYPHS, state_variable
from formicary.tui.state import SessionView
from rich.text import Text
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget

_SHOWN = (
    TaskStatus.RUNNING,
    TaskStatus.FAILED,
    TaskStatus.RETRYING,
    TaskStatus.BLOCKED,
    TaskStatus.PAUSED,
    TaskStatus.CANCELLED,
    TaskStatus.SKIPPED,
)


def _elapsed(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class StatusHeader(Widget):
    """One line of what matters now. It ticks once a second only while a session runs."""

    DEFAULT_CSS = """
    StatusHeader {
        dock: top;
        height: 1;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    """

    workspace: reactive[str] = reactive("")
    """The workspace's folder, as shown."""

    notice: reactive[str] = reactive("")
    """A short note shown after the counts (definition errors, say)."""

    def __init__(
        self,
        workspace: str = "",
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.workspace = workspace
        self._view: SessionView | None = None
        self._ticker: Timer | None = None

    def show(self, view: SessionView | None) -> None:
        """Describe ``view`` (None: no session selected)."""
        self._view = view
        running = view is not None and view.status in LIVE_SESSION_STATES
        if running and self._ticker is None:
            self._ticker = self.set_interval(1.0, self.refresh)
        elif not running and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self.refresh()

    def render(self) -> Text:
        text = Text()
        text.append("formicary", style="bold")
        text.append(f" · {self.workspace}")
        view = self._view
        if view is None:
            text.append(" · no session: select a workflow and press s", style="dim")
        else:
            text.append(f" · session {view.session_id} ")
            text.append(view.status, style="bold")
            active = view.active_seconds()
            if active is not None:
                text.append(f" {_elapsed(active)}")
            total = len(view.tasks)
            done = view.count(TaskStatus.COMPLETED)
            text.append(f" · {done}/{total} done")
            for state in _SHOWN:
                count = view.count(state)
                if count:
                    color = self.app.theme_variables.get(state_variable(state), "")
                    text.append(f" · {GLYPHS[state]} {count} {state.value}", style=color)
            if view.dropped:
                text.append(f" · {view.dropped} events skipped", style="dim")
        if self.notice:
            text.append(f" · {self.notice}", style="bold red")
        text.truncate(max(1, self.size.width - 2), overflow="ellipsis")
        return text
